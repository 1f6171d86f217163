#!/usr/bin/env bash
# Makes the @tensorflow/tfjs-node native binding loadable, or says clearly that it could not.
#
# Why a script: npm 11 blocks dependency install scripts by default, so `npm install` only unpacks
# tfjs-node's JavaScript (it is an optionalDependency, and deliberately not in package.json
# `allowScripts`: approving it would make every offline `npm install` try a download, fail, and
# drop the package; denying it would also stop the explicit `npm rebuild` below). Run this script
# after `npm install` (and after any npm command that reinstalls tfjs-node). It builds the binding:
#   1. already loads            -> nothing to do (fast no-op)
#   2. the package's own path   -> `npm rebuild` runs tfjs-node's install script, which downloads
#                                  libtensorflow (works on machines with internet)
#   3. offline                  -> libtensorflow from the `tensorflow-cpu` wheel of the configured
#                                  pip index, staged as deps/{lib,include}, then node-gyp builds
# If every path fails the edge server still runs: it falls back to @tensorflow/tfjs on the wasm
# backend and says so in its log and /healthz, so a failure here only warns (exit 0) unless
# TFJS_NODE_REQUIRED=1, which makes it exit 1.
#
# Options (env): TFJS_NODE_OFFLINE=1 skips step 2; TFJS_NODE_DOWNLOAD_TIMEOUT (s, default 120);
#                TENSORFLOW_CPU_VERSION (default 2.21.0, the libtensorflow the binding was tested with).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
PKG="$ROOT/node_modules/@tensorflow/tfjs-node"
TFJS_NODE_VERSION=4.22.0
TF_VERSION=${TENSORFLOW_CPU_VERSION:-2.21.0}

say() { echo "[install-tfjs-node] $*"; }
give_up() {
  say "$*"
  say "WARNING: no native tfjs-node binding; the edge server will use the wasm backend"
  [ "${TFJS_NODE_REQUIRED:-0}" = "1" ] && exit 1
  exit 0
}

binding_loads() {
  node -e "const tf = require('@tensorflow/tfjs-node'); if (tf.getBackend() !== 'tensorflow') process.exit(1)" >/dev/null 2>&1
}

if [ ! -d "$PKG" ]; then
  say "@tensorflow/tfjs-node is not in node_modules; installing its JavaScript (scripts off)"
  npm install --no-save --ignore-scripts "@tensorflow/tfjs-node@$TFJS_NODE_VERSION"
fi

if binding_loads; then
  say "binding loads (backend 'tensorflow'): nothing to do"
  exit 0
fi

if [ "${TFJS_NODE_OFFLINE:-0}" != "1" ] && [ ! -e "$PKG/deps/lib/libtensorflow.so.2.9.1" ]; then
  say "trying the package's own install (downloads libtensorflow; needs internet)"
  if timeout "${TFJS_NODE_DOWNLOAD_TIMEOUT:-120}" npm rebuild @tensorflow/tfjs-node --foreground-scripts >/tmp/tfjs-node-rebuild.log 2>&1 && binding_loads; then
    say "binding built by the package's own install"
    exit 0
  fi
  say "the package's own install failed (log: /tmp/tfjs-node-rebuild.log); going offline"
fi

if [ ! -e "$PKG/deps/lib/libtensorflow_cc.so.2" ] || [ ! -e "$PKG/deps/include/tensorflow/c/c_api.h" ]; then
  WHEELS=$(mktemp -d)
  trap 'rm -rf "$WHEELS"' EXIT
  say "downloading tensorflow-cpu==$TF_VERSION from the configured pip index"
  if ! python3 -m pip download --quiet --retries 1 --timeout 20 --no-deps --only-binary=:all: -d "$WHEELS" "tensorflow-cpu==$TF_VERSION"; then
    give_up "could not get the tensorflow-cpu wheel; set TENSORFLOW_CPU_VERSION or configure a pip index"
  fi
  WHEEL=$(ls "$WHEELS"/tensorflow_cpu-*.whl | head -n 1)
  say "extracting libtensorflow and the C API headers from $(basename "$WHEEL")"
  # python's zipfile rather than unzip: pip's python is here by construction, unzip may not be
  python3 - "$WHEEL" "$WHEELS/x" <<'PY'
import fnmatch, sys, zipfile
wanted = ['tensorflow/libtensorflow_cc.so.2', 'tensorflow/libtensorflow_framework.so.2',
          'tensorflow/include/tensorflow/c/*', 'tensorflow/include/tensorflow/core/platform/ctstring*',
          'tensorflow/include/tsl/platform/ctstring*', 'tensorflow/include/xla/tsl/c/*']
with zipfile.ZipFile(sys.argv[1]) as wheel:
    members = [n for n in wheel.namelist() if any(fnmatch.fnmatch(n, p) for p in wanted)]
    wheel.extractall(sys.argv[2], members)
PY
  rm -rf "$PKG/deps"
  mkdir -p "$PKG/deps/lib" "$PKG/deps/include"
  mv "$WHEELS/x/tensorflow/libtensorflow_cc.so.2" "$WHEELS/x/tensorflow/libtensorflow_framework.so.2" "$PKG/deps/lib/"
  cp -r "$WHEELS/x/tensorflow/include/." "$PKG/deps/include/"
fi

# The binding links -ltensorflow and tfjs-node's install script looks for libtensorflow.so.2.9.1
# (the version it would download) to decide that libtensorflow is already staged.
ln -sf libtensorflow_cc.so.2 "$PKG/deps/lib/libtensorflow.so"
ln -sf libtensorflow_cc.so.2 "$PKG/deps/lib/libtensorflow.so.2.9.1"
ln -sf libtensorflow_framework.so.2 "$PKG/deps/lib/libtensorflow_framework.so"

say "building the binding with node-gyp (about a minute)"
if ! npm rebuild @tensorflow/tfjs-node --foreground-scripts >/tmp/tfjs-node-rebuild.log 2>&1; then
  tail -n 30 /tmp/tfjs-node-rebuild.log
  give_up "build failed (full log: /tmp/tfjs-node-rebuild.log)"
fi

if binding_loads; then
  say "binding loads (backend 'tensorflow', libtensorflow $TF_VERSION)"
else
  give_up "built, but the binding does not load (try: node -e \"require('@tensorflow/tfjs-node')\")"
fi
