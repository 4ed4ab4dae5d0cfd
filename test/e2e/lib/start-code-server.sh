#!/usr/bin/env bash
# start-code-server.sh — start code-server for tests, bound to 127.0.0.1 only.
#
# usage: start-code-server.sh CODE_SERVER_DIR RUN_DIR WORKSPACE [extra code-server args...]
#   CODE_SERVER_DIR  what install-code-server.sh printed (holds out/node/entry.js)
#   RUN_DIR          scratch folder for this instance; everything it writes goes there:
#                    ud/ (user data: settings, logs, workspace storage), ext/ (extensions),
#                    xdg-*/ (code-server's own config/logs, VS Code's device id), code-server.log
#   WORKSPACE        folder that the workbench opens by default
# Prints "url=http://127.0.0.1:PORT/ pid=PID ready_in=SECONDS" and writes RUN_DIR/{url,port,pid}.
# PID leads its own process group (setsid): stop with  stop-code-server.sh RUN_DIR
#
# Environment given to code-server is passed on to its extension host, so variables for the
# extension under test (e.g. E2E_RESULTS_FILE) can be set on this command.
#   E2E_PORT=N        listen on this port instead of a free one (Big Shrink: added)
#   E2E_NET_GUARD=0   do not preload net-guard.cjs (default: preload it; it refuses and logs
#                     DNS lookups of non-loopback names into RUN_DIR/net-guard.log)
#
# Defaults chosen here:
#   --auth none, --bind-addr 127.0.0.1:<free port>, --disable-telemetry, --disable-update-check
#   (otherwise code-server polls GitHub for releases), --disable-workspace-trust,
#   --disable-getting-started-override, --ignore-last-opened, --config RUN_DIR/config.yaml
#   (otherwise it writes ~/.config/code-server/config.yaml with a password).
#   EXTENSIONS_GALLERY='{}'  no marketplace (code-server's default is open-vsx.org).
#   RUN_DIR/ud/User/settings.json (written only if absent): telemetry off (without it the
#   built-in git/github extensions' telemetry and the experiment service try
#   mobile.events.data.microsoft.com and default.exp-tas.com), no welcome page, no update or
#   extension-update checks, workspace trust off, git off.
#
# Copied from the team's shared recipe ../shared/e2e/ (proven by its selftest.sh) so that users
# and CI of Big Shrink do not depend on ../shared; changes from the original are marked "Big Shrink:".
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[ $# -ge 3 ] || { echo "usage: $0 CODE_SERVER_DIR RUN_DIR WORKSPACE [code-server args...]" >&2; exit 2; }
CS=$(readlink -f "$1"); RUN=$2; WS=$(readlink -f "$3"); shift 3
[ -f "$CS/out/node/entry.js" ] || { echo "no code-server in $CS" >&2; exit 1; }
mkdir -p "$RUN"; RUN=$(readlink -f "$RUN")
mkdir -p "$RUN"/{ud/User,ext,xdg-config,xdg-data,xdg-cache}
: > "$RUN/config.yaml"   # empty config file: all settings come from the command line

[ -f "$RUN/ud/User/settings.json" ] || cat > "$RUN/ud/User/settings.json" <<'JSON'
{
  "telemetry.telemetryLevel": "off",
  "workbench.enableExperiments": false,
  "workbench.startupEditor": "none",
  "workbench.tips.enabled": false,
  "workbench.welcomePage.walkthroughs.openOnInstall": false,
  "extensions.autoCheckUpdates": false,
  "extensions.autoUpdate": false,
  "extensions.ignoreRecommendations": true,
  "update.mode": "none",
  "security.workspace.trust.enabled": false,
  "git.enabled": false,
  "github.gitAuthentication": false,
  "npm.fetchOnlinePackageInfo": false,
  "json.schemaDownload.enable": false,
  "typescript.disableAutomaticTypeAcquisition": true
}
JSON

# Big Shrink: E2E_PORT picks the port (npm start's BIG_SHRINK_PORT); default a free one.
PORT=${E2E_PORT:-$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')}
NODE_OPTS=${NODE_OPTIONS:-}
if [ "${E2E_NET_GUARD:-1}" != 0 ]; then
  NODE_OPTS="$NODE_OPTS --require $HERE/net-guard.cjs"  # Big Shrink: net-guard.cjs sits beside this script
  : > "$RUN/net-guard.log"
fi

start=$(date +%s.%N)
# setsid: code-server, its extension hosts, file watcher and language servers share one
# process group that stop-code-server.sh can end as a whole.
# shellcheck disable=SC2016  # Big Shrink: $$ and "$@" belong to the inner bash, as intended
XDG_CONFIG_HOME="$RUN/xdg-config" XDG_DATA_HOME="$RUN/xdg-data" XDG_CACHE_HOME="$RUN/xdg-cache" \
EXTENSIONS_GALLERY='{}' NODE_OPTIONS="$NODE_OPTS" E2E_NET_GUARD_LOG="$RUN/net-guard.log" \
setsid bash -c 'echo $$ > "$0/pid"; shift; exec node "$@"' "$RUN" -- \
  "$CS/out/node/entry.js" --config "$RUN/config.yaml" --bind-addr "127.0.0.1:$PORT" --auth none \
  --user-data-dir "$RUN/ud" --extensions-dir "$RUN/ext" \
  --disable-telemetry --disable-update-check --disable-workspace-trust \
  --disable-getting-started-override --ignore-last-opened \
  "$@" "$WS" > "$RUN/code-server.log" 2>&1 < /dev/null &

URL="http://127.0.0.1:$PORT/"
if ! node -e '
  const url = process.argv[1] + "healthz", end = Date.now() + 60000;
  (async () => { for (;;) { try { if ((await fetch(url)).ok) process.exit(0); } catch {}
    if (Date.now() > end) process.exit(1); await new Promise(r => setTimeout(r, 100)); } })();' "$URL"; then
  echo "code-server did not answer on $URL; log:" >&2; cat "$RUN/code-server.log" >&2; exit 1
fi
end=$(date +%s.%N)
echo "$URL" > "$RUN/url"; echo "$PORT" > "$RUN/port"
echo "url=$URL pid=$(cat "$RUN/pid") ready_in=$(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.2f", b-a}')"
