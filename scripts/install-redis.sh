#!/usr/bin/env bash
# Installs redis-server (Debian package) for the discovery tests and the Redis bench.
# Idempotent: a fast no-op when redis-server is already on PATH.
set -euo pipefail
if command -v redis-server >/dev/null 2>&1; then
  echo "install-redis: $(redis-server --version | head -c 80) already installed"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-redis: installing redis-server from apt…"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends redis-server >/dev/null
# the Debian package may start a system instance on :6379; tests start their own, so stop it
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet redis-server 2>/dev/null; then
  $SUDO systemctl stop redis-server || true
fi
echo "install-redis: $(redis-server --version | head -c 80)"
