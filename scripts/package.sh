#!/usr/bin/env bash
# package.sh [TARGET] — `npm run package`: build the VSIX for one platform, big-shrink-TARGET.vsix.
#   TARGET: linux-x64 (default), linux-arm64, darwin-arm64, win32-x64, win32-arm64
#   (onnxruntime-node 1.30.0 ships no darwin-x64 binary, so there is no darwin-x64 VSIX).
# The VSIX holds package.json, README.md, LICENSE, media/, the production bundles in dist/ (no tests,
# no source maps) and onnxruntime-node's JS with only TARGET's native binaries: .vscodeignore lets in
# the run-time files, and this script adds the one platform folder of onnxruntime-node/bin.
# vsce runs `vscode:prepublish` (a minified build); afterwards the development build is restored so
# dist/ stays as the tests expect it (source maps, test bundles).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
TARGET=${1:-linux-x64}
BIN=node_modules/onnxruntime-node/bin/napi-v6
case "$TARGET" in
  linux-x64) keep=("$BIN/linux/x64/**") ;;
  linux-arm64) keep=("$BIN/linux/arm64/**") ;;
  darwin-arm64) keep=("$BIN/darwin/arm64/onnxruntime_binding.node" "$BIN/darwin/arm64/libonnxruntime.1.dylib") ;;
  win32-x64) keep=("$BIN/win32/x64/**") ;;
  win32-arm64) keep=("$BIN/win32/arm64/**") ;;
  darwin-x64) echo "package.sh: onnxruntime-node $(node -p 'require("onnxruntime-node/package.json").version') ships no darwin/x64 binary" >&2; exit 2 ;;
  *) echo "usage: package.sh [linux-x64|linux-arm64|darwin-arm64|win32-x64|win32-arm64]" >&2; exit 2 ;;
esac
for k in "${keep[@]}"; do
  [ -e "${k%\*\*}" ] || { echo "package.sh: $k is missing: run npm ci" >&2; exit 1; }
done
# sharp's binaries for TARGET: npm ci installs the machine's own; another platform's need
# `npm install --no-save --os=OS --cpu=ARCH sharp` first, else images cannot be decoded there.

for p in "node_modules/@img/sharp-$TARGET" "node_modules/@img/sharp-libvips-$TARGET"; do
  if [ -d "$p" ]; then keep+=("$p/**")
  else echo "package.sh: warning: $p is missing: the $TARGET VSIX will not decode images (--data)" >&2; fi
done
[ -f dist/extension.js ] || node esbuild.js
[ -f dist/extension.js ] || { echo "package.sh: dist/extension.js was not built (is src/extension/extension.ts there?)" >&2; exit 1; }

OUT=big-shrink-$TARGET.vsix
IGNORE=$(mktemp "${TMPDIR:-/tmp}/big-shrink-vscodeignore.XXXXXX")
trap 'rm -f "$IGNORE"; node esbuild.js' EXIT
{ cat .vscodeignore; echo "# $TARGET (scripts/package.sh)"; printf '!%s\n' "${keep[@]}"; } > "$IGNORE"

rm -f "$OUT"
npx --no-install vsce package --target "$TARGET" --ignoreFile "$IGNORE" --out "$OUT" > "$IGNORE.log" 2>&1 || {
  cat "$IGNORE.log" >&2; rm -f "$IGNORE.log"; echo "package.sh: vsce package failed" >&2; exit 1; }
rm -f "$IGNORE.log"

# Check what went in: the target's binding, nothing of the sources, tests or other platforms.
python3 - "$OUT" "$TARGET" <<'PY'
import sys, zipfile
vsix, target = sys.argv[1], sys.argv[2]
names = zipfile.ZipFile(vsix).namelist()
osname, arch = target.split('-')
binding = f'extension/node_modules/onnxruntime-node/bin/napi-v6/{osname}/{arch}/onnxruntime_binding.node'
problems = []
if binding not in names: problems.append(f'missing {binding}')
for need in ('extension/node_modules/sharp/lib/index.js', 'extension/node_modules/@img/colour/index.cjs',
             'extension/package.json', 'extension/dist/extension.js', 'extension/LICENSE.txt', 'extension/readme.md',
             'extension/node_modules/onnxruntime-common/dist/cjs/index.js', 'extension/node_modules/onnxruntime-node/dist/index.js'):
    if need not in names: problems.append(f'missing {need}')
for n in names:
    if n.startswith(('extension/src/', 'extension/test/', 'extension/webview/', 'extension/dist/test/', 'extension/scripts/')) \
       or n.endswith(('.map', '.ts')) \
       or ('/bin/napi-v6/' in n and f'/bin/napi-v6/{osname}/{arch}/' not in n):
        problems.append(f'should not be packed: {n}')
if problems:
    print('package.sh: bad VSIX contents:\n  ' + '\n  '.join(problems[:20]), file=sys.stderr); sys.exit(1)
print(f'{len(names)} files', end='')
PY
echo " in $OUT: $(du -h "$OUT" | cut -f1) ($(stat -c %s "$OUT") bytes)"
