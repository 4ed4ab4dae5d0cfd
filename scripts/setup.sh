#!/usr/bin/env bash
# setup.sh — the README's first command, for a fresh Debian machine with Node 20 (run as root, or
# with sudo available for apt-get): Debian packages, `npm ci`, build, then the main job
# (scripts/start.sh: code-server with the extension and the sample model; Ctrl+C stops it).
#   BIG_SHRINK_SETUP_ONLY=1  stop after the build (what .ci/run and test/run-all.sh need)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
say() { echo "[setup] $*"; }
t=$(date +%s)
took() { echo "[setup] $1 took $(( $(date +%s) - t ))s"; t=$(date +%s); }

# Debian packages: libonnx-testdata (corpus), python3-onnx + python3-numpy (the statistics oracle),
# python3-pil (the image-decoding oracle), espeak-ng + sox (speech WAVs for the audio tests), time
# (/usr/bin/time: peak memory of the big suite),
# chromium (end-to-end tests), build-essential + libkrb5-dev + ripgrep (code-server's install).
PKGS=(libonnx-testdata python3-onnx python3-numpy python3-pil espeak-ng sox time chromium build-essential libkrb5-dev ripgrep)
SUDO=()
[ "$(id -u)" = 0 ] || SUDO=(sudo)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "apt-get install ${missing[*]}"
  "${SUDO[@]}" apt-get update -q
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  took "apt-get"
else
  say "Debian packages already installed"
fi

[ "$(node -p 'process.versions.node.split(".")[0]')" = 20 ] || {
  echo "[setup] Node 20 is needed (code-server 4.100 refuses other majors); found $(node -v)" >&2; exit 1; }
say "npm ci"
# onnxruntime-node's install script must not download anything: its CPU binaries ship in the package.
# (npm 11 does not run dependencies' install scripts unless approved; the variable covers older npm.)
export ONNXRUNTIME_NODE_INSTALL=skip
npm ci --no-audit --no-fund
took "npm ci"
node esbuild.js
took "build (node esbuild.js)"
[ "${BIG_SHRINK_SETUP_ONLY:-0}" = 1 ] && { say "done (BIG_SHRINK_SETUP_ONLY=1)"; exit 0; }
exec bash scripts/start.sh
