#!/usr/bin/env bash
# Debian's Chromium, for the browser test of the client SDK (test/browser.test.ts).
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-chromium: Chromium is missing; run as root: apt-get install -y chromium" >&2
  exit 1
fi
echo "install-chromium: installing Debian's chromium (about a minute)…"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
echo "install-chromium: $(chromium --version)"
