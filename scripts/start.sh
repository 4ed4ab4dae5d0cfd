#!/usr/bin/env bash
# start.sh — `npm start` on a set-up checkout (scripts/setup.sh does the set-up, then runs this):
# build, package the VSIX, install it into a fresh code-server on 127.0.0.1, generate the sample
# model into a workspace, run the CLI on it, print the URL that opens the model in the Big Shrink
# model editor, and serve until Ctrl+C (then code-server is stopped with its whole process group).
#
# env: BIG_SHRINK_HOME  state folder (default ~/.cache/big-shrink): run/ (code-server state, fresh on
#                       every start) and workspace/ (kept; sample-mlp.onnx is rewritten each start)
#      BIG_SHRINK_PORT  port to listen on (default: a free one)
#      BIG_SHRINK_SKIP_BUILD=1  reuse dist/ and big-shrink-linux-x64.vsix as they are
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
LIB=$ROOT/test/e2e/lib
STATE=${BIG_SHRINK_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/big-shrink}
RUN=$STATE/run
WS=$STATE/workspace
VSIX=$ROOT/big-shrink-linux-x64.vsix
say() { echo "[start] $*"; }
t0=$(date +%s)

[ -d node_modules/@vscode/vsce ] || { echo "node_modules is not set up: run  bash scripts/setup.sh" >&2; exit 1; }
if [ "${BIG_SHRINK_SKIP_BUILD:-0}" != 1 ] || [ ! -f "$VSIX" ]; then
  say "build + package (scripts/package.sh linux-x64) ..."
  node esbuild.js
  bash scripts/package.sh linux-x64 | sed 's/^/[start] /'
fi

say "code-server (installed once into ~/.cache/vscode-e2e; a first install takes ~2 minutes) ..."
CS=$(bash "$LIB/install-code-server.sh" | tail -n 1)

# A fresh run dir each start: the freshly built VSIX is what runs, with no state from before.
[ -f "$RUN/pid" ] && bash "$LIB/stop-code-server.sh" "$RUN"
rm -rf "$RUN"
# scripts/open-sample: a 10-line helper extension that opens the sample once the workbench knows the
# model editor (see its extension.js). A folder in the extensions dir counts only if it is there
# before the first install writes ext/extensions.json.
mkdir -p "$RUN/ext"
cp -r scripts/open-sample "$RUN/ext/big-shrink.open-sample-0.0.1"
log=$(bash "$LIB/install-extension.sh" "$CS" "$RUN" "$VSIX" 2>&1) || { echo "$log" >&2; exit 1; }

mkdir -p "$WS"
say "$(node scripts/make-sample-model.js "$WS/sample-mlp.onnx" --check)"

# shellcheck disable=SC2317  # called through the EXIT trap
stop() {
  trap - INT TERM EXIT
  echo
  say "stopping code-server ..."
  bash "$LIB/stop-code-server.sh" "$RUN"
  if [ -s "$RUN/net-guard.log" ]; then say "lookups of other hosts were refused: $(sort -u "$RUN/net-guard.log" | head -3)"; fi
  say "stopped"
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

BIG_SHRINK_OPEN=$WS/sample-mlp.onnx E2E_PORT=${BIG_SHRINK_PORT:-} bash "$LIB/start-code-server.sh" "$CS" "$RUN" "$WS" > /dev/null
BASE=$(cat "$RUN/url")
PORT=$(cat "$RUN/port")

if [ -f dist/cli.js ]; then
  say "node dist/cli.js inspect $WS/sample-mlp.onnx"
  node dist/cli.js inspect "$WS/sample-mlp.onnx" || say "(the CLI exited $?)"
fi

URL="$BASE?folder=$WS"
echo "$URL" > "$RUN/open-url"
cat <<EOF

  Big Shrink is running in code-server (VS Code $(node -p "require('$CS/lib/vscode/package.json').version") in the browser), ready in $(( $(date +%s) - t0 ))s.
  Open this URL to see the sample model in the Big Shrink model editor:

    $URL

  (any .onnx you put in $WS opens the same way: click it in the explorer)
  From another machine: ssh -L $PORT:127.0.0.1:$PORT this-host, then open the URL there.
  Press Ctrl+C to stop.

EOF
PID=$(cat "$RUN/pid")
while kill -0 "$PID" 2>/dev/null; do sleep 1; done
say "code-server exited; log: $RUN/code-server.log"
exit 1
