#!/usr/bin/env bash
# Installs what the tests and benches need beyond `npm install`: each scripts/install-*.sh handles
# one dependency (Debian packages, offline native rebuilds) and is a fast no-op when it is
# already in place. Runs before `npm test` (pretest) and from .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
shopt -s nullglob
for script in scripts/install-*.sh; do
  bash "$script"
done
