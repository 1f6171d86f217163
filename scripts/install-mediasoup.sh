#!/usr/bin/env bash
# Gives the edge a mediasoup worker binary (WebRTC media/data), or says clearly that it could not.
#
# mediasoup is an optionalDependency of the edge (a headset-only install never needs it). Offline,
# its postinstall (a prebuilt worker download) fails and npm drops the package; this script puts its
# JavaScript back (scripts off). The C++ worker comes from, in order:
#   1. $MEDIASOUP_WORKER_BIN, or the cache below     -> nothing to do (fast no-op)
#   2. the package's own install (`npm rebuild`)     -> downloads a prebuilt worker or builds one
#                                                       with wraps from the internet
#   3. offline                                       -> builds against Debian's libuv, libsrtp2,
#      libusrsctp, libssl and abseil, with the meson stand-in subprojects in
#      scripts/mediasoup-subprojects/ (each declares the dependency mediasoup's meson.build expects
#      from a Debian pkg-config package). mediasoup >= 3.13 needs a libsrtp fork and flatbuffers
#      that Debian lacks, hence the pinned 3.12.16.
# The built worker is cached OUTSIDE the clone, at
#   ${XDG_CACHE_HOME:-~/.cache}/edge-offload/mediasoup-worker-<version>-<key>
# where <key> hashes the mediasoup version, the CPU and the Debian library versions it links, so a
# fresh clone (CI) reuses it and a library upgrade rebuilds it. edge-server/webrtc/workerBin.ts
# computes the same path at run time (`--print-path` prints it; a test checks they agree).
#
# A failure only warns (exit 0): the edge still serves ws. MEDIASOUP_REQUIRED=1 makes it exit 1.
# Options (env): MEDIASOUP_OFFLINE=1 skips step 2; MEDIASOUP_DOWNLOAD_TIMEOUT (s, default 300) bounds
# step 2; MEDIASOUP_BUILD_TIMEOUT (s, default 1800) bounds step 3 (~6-10 min on 2 cores).
# The build saturates every core: run it under a lock if the machine is shared.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
VERSION=3.12.16
PKG="$ROOT/node_modules/mediasoup"
# The -dev packages track the versions of the libraries the worker links.
DEB_LIBS="libuv1-dev libabsl-dev libsrtp2-dev libusrsctp-dev libssl-dev nlohmann-json3-dev"
APT_PACKAGES="$DEB_LIBS pkg-config build-essential python3-pip"

say() { echo "[install-mediasoup] $*"; }
give_up() {
  say "$*"
  say "WARNING: no mediasoup worker; the edge will serve ws only (WebRTC disabled)"
  [ "${MEDIASOUP_REQUIRED:-0}" = "1" ] && exit 1
  exit 0
}

# Must match cacheKeyInput() in edge-server/webrtc/workerBin.ts line for line.
key_input() {
  echo "mediasoup=$VERSION"
  echo "arch=$(uname -m)"
  dpkg-query -W -f='${Package}=${Version}\n' $DEB_LIBS 2>/dev/null | LC_ALL=C sort || true
}
cache_path() {
  local key
  key=$(key_input | sha256sum | cut -c1-16)
  echo "${XDG_CACHE_HOME:-$HOME/.cache}/edge-offload/mediasoup-worker-$VERSION-$key"
}
# The worker refuses to start unless spawned by mediasoup's Node side, with exit code 41; reaching
# that check proves the binary and every shared library it links load.
worker_runs() {
  [ -x "$1" ] || return 1
  local rc=0
  env -u MEDIASOUP_VERSION "$1" >/dev/null 2>&1 || rc=$?
  [ "$rc" -eq 41 ]
}

if [ "${1:-}" = "--print-path" ]; then cache_path; exit 0; fi

# The JavaScript first, whatever worker is used: offline, npm drops the optional package when its
# postinstall (a prebuilt worker download) fails, and a cached worker alone cannot be imported.
if [ ! -f "$PKG/package.json" ] || [ "$(node -p "require('$PKG/package.json').version")" != "$VERSION" ]; then
  say "mediasoup@$VERSION is not in node_modules; installing its JavaScript (scripts off)"
  npm install --no-save --ignore-scripts --no-audit --no-fund "mediasoup@$VERSION" || give_up "npm install mediasoup@$VERSION failed"
fi

if [ -n "${MEDIASOUP_WORKER_BIN:-}" ]; then
  worker_runs "$MEDIASOUP_WORKER_BIN" || give_up "MEDIASOUP_WORKER_BIN=$MEDIASOUP_WORKER_BIN does not run"
  say "MEDIASOUP_WORKER_BIN=$MEDIASOUP_WORKER_BIN runs: nothing to do"
  exit 0
fi

missing_debs() {
  local p
  for p in $APT_PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
  done
}
MISSING=$(missing_debs)
if [ -n "$MISSING" ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  say "installing Debian packages: $MISSING"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq || true
  # shellcheck disable=SC2086
  $SUDO apt-get install -y -qq --no-install-recommends $MISSING >/dev/null || give_up "apt-get install $MISSING failed"
fi

CACHED=$(cache_path)
if worker_runs "$CACHED"; then
  say "cached worker runs ($CACHED): nothing to do"
  exit 0
fi

# One build at a time per cache (two checkouts sharing node_modules would clobber each other's
# build); whoever waited finds the worker the other built.
mkdir -p "$(dirname "$CACHED")"
exec 9>"$(dirname "$CACHED")/.install-mediasoup.lock"
flock 9
if worker_runs "$CACHED"; then
  say "worker built meanwhile by another install ($CACHED): nothing to do"
  exit 0
fi


BUILT="$PKG/worker/out/Release/mediasoup-worker"
store() {
  cp "$BUILT" "$CACHED.tmp.$$" && mv "$CACHED.tmp.$$" "$CACHED"   # atomic for concurrent readers
  say "worker cached at $CACHED"
}

if worker_runs "$BUILT"; then
  say "node_modules already holds a built worker; caching it"
  store
  exit 0
fi

if [ "${MEDIASOUP_OFFLINE:-0}" != "1" ]; then
  say "trying the package's own install (prebuilt download or build with downloaded wraps)"
  if timeout "${MEDIASOUP_DOWNLOAD_TIMEOUT:-300}" npm rebuild mediasoup --foreground-scripts >/tmp/mediasoup-rebuild.log 2>&1 && worker_runs "$BUILT"; then
    say "worker from the package's own install"
    store
    exit 0
  fi
  say "the package's own install failed (log: /tmp/mediasoup-rebuild.log); building offline"
fi

# mediasoup's build deletes worker/subprojects/ afterwards, so copy the stand-ins before every try.
rm -rf "$PKG/worker/out"
mkdir -p "$PKG/worker/subprojects"
cp -r "$ROOT/scripts/mediasoup-subprojects/." "$PKG/worker/subprojects/"
say "building the worker against Debian's libraries (~6-10 min on 2 cores; log: /tmp/mediasoup-build.log)"
START=$(date +%s)
if ! MEDIASOUP_SKIP_WORKER_PREBUILT_DOWNLOAD=1 MESON_ARGS=--wrap-mode=nodownload \
  MESON_VERSION=1.12.1 NINJA_VERSION=1.13.2 \
  timeout "${MEDIASOUP_BUILD_TIMEOUT:-1800}" npm rebuild mediasoup --foreground-scripts >/tmp/mediasoup-build.log 2>&1; then
  tail -n 30 /tmp/mediasoup-build.log
  give_up "build failed (full log: /tmp/mediasoup-build.log)"
fi
worker_runs "$BUILT" || give_up "built, but $BUILT does not run (log: /tmp/mediasoup-build.log)"
say "worker built in $(($(date +%s) - START)) s"
store
