#!/usr/bin/env bash
# Installs what the edge renderer (edge-server/render/) needs on a machine without a GPU:
# Dawn's OpenGL ES backend runs on Mesa llvmpipe through EGL (surfaceless), so the EGL/GLES
# loaders and Mesa's drivers must be present. Idempotent: a fast no-op when all are installed.
# The npm side (webgpu@0.6.2 with its prebuilt dawn.node, sharp with its prebuilt @img/* packages)
# needs no install scripts; this script checks they load.
set -euo pipefail

PACKAGES=(libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri)
missing=()
for pkg in "${PACKAGES[@]}"; do
  if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    echo "[render-deps] $pkg: installed"
  else
    missing+=("$pkg")
  fi
done

if ((${#missing[@]})); then
  echo "[render-deps] installing: ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
  echo "[render-deps] apt packages installed"
fi

# Check the npm side when the project's node_modules are there (run from the repository root).
cd "$(dirname "$0")/.."
if [ -d node_modules/webgpu ] && [ -d node_modules/sharp ]; then
  node --input-type=module -e "
    const sharp = (await import('sharp')).default;
    console.log('[render-deps] sharp', sharp.versions.sharp, 'libvips', sharp.versions.vips);
    const { create } = await import('webgpu');
    process.env.EGL_PLATFORM ??= 'surfaceless';
    const adapter = await create(['backend=opengles']).requestAdapter({ featureLevel: 'compatibility' });
    if (!adapter) { console.error('[render-deps] Dawn OpenGL ES backend gives no adapter: check the Mesa/EGL packages'); process.exit(1); }
    console.log('[render-deps] Dawn OpenGL ES adapter:', adapter.info.vendor || '?', adapter.info.device || adapter.info.description || '');
    process.exit(0);
  " 2> >(grep -v -e 'artificially reduced' -e 'libvulkan' -e 'BackendVk' -e '^$' >&2)
else
  echo "[render-deps] node_modules not installed yet: run npm install, then this script again to check"
fi
echo "[render-deps] done"
