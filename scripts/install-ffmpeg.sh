#!/usr/bin/env bash
# Installs ffmpeg with libx264 (Debian package) for the edge's H.264 video path (WebRTC issue #11:
# libx264 ultrafast + zerolatency → RTP → mediasoup PlainTransport). Idempotent: a fast no-op
# when an ffmpeg with the libx264 encoder is already on PATH.
set -euo pipefail
# the encoder list is read whole first: `grep -q` closing the pipe early would SIGPIPE ffmpeg
# and, under pipefail, read as "no libx264"
has_x264() {
  command -v ffmpeg >/dev/null 2>&1 || return 1
  local encoders
  encoders="$(ffmpeg -hide_banner -encoders 2>/dev/null)" || return 1
  grep -q ' libx264 ' <<<"$encoders"
}
if has_x264; then
  echo "install-ffmpeg: $(ffmpeg -hide_banner -version | head -n1 | cut -c1-80) with libx264 already installed"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-ffmpeg: installing ffmpeg from apt…"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends ffmpeg >/dev/null
if ! has_x264; then
  echo "install-ffmpeg: ffmpeg is installed but has no libx264 encoder; install a build with libx264" >&2
  exit 1
fi
echo "install-ffmpeg: $(ffmpeg -hide_banner -version | head -n1 | cut -c1-80) with libx264"
