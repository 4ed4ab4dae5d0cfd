#!/usr/bin/env bash
# run-all.sh [SUITE...] — `npm test` (and `npm test -- e2e`, `npm test unit corpus`, ...).
# Builds, then runs the suites in this order (default: all):
#   unit     node --test dist/test/unit/**/*.test.js       (core, plain Node)
#   corpus   node --test dist/test/corpus/**/*.test.js     (test/models + libonnx-testdata [+ BIG_SHRINK_SHARED])
#   fuzz     node --test dist/test/fuzz/**/*.test.js
#   big      node --test dist/test/big/**/*.test.js: a ~2.8 GB generated model in bounded memory (about 8-12
#            minutes, ~3 GB of disk in the temp folder)
#   exthost  Mocha suite dist/test/suite/index.js in code-server's extension host (run-ext-tests.js)
#   package  scripts/package.sh linux-x64: the VSIX the next two install
#   e2e      every dist/test/e2e/*.e2e.js in Chromium against code-server (test/e2e/CONTRACT.md)
#   start    the main job: scripts/start.sh serves the sample model in the editor, Ctrl+C stops it
# Each suite prints "suite NAME: N passed, N failed, N skipped" (skipped includes todo); the last line is
# the sum "N passed, N failed, N skipped". A suite that printed no counts or ran no test counts as failed
# (test/runAllCounts.sh). A suite whose compiled files do not exist yet is reported "not present" and
# counted as failed only when BIG_SHRINK_REQUIRE_ALL=1 (.ci/run sets it), which also counts every skipped
# test as failed. Exit status 1 when anything failed.
# Needs what scripts/setup.sh installs; code-server is installed on first use (~/.cache/vscode-e2e).
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 2
LIB=$ROOT/test/e2e/lib
ALL=(unit corpus fuzz big exthost package e2e start)
KNOWN=(unit corpus fuzz big exthost package e2e start)
SUITES=("$@")
[ ${#SUITES[@]} -gt 0 ] || SUITES=("${ALL[@]}")
for s in "${SUITES[@]}"; do
  [[ " ${KNOWN[*]} " == *" $s "* ]] || { echo "run-all.sh: unknown suite '$s' (known: ${KNOWN[*]})" >&2; exit 2; }
done
# The tests read the project's own models (test/models); BIG_SHRINK_SHARED, when set, only adds an
# extra corpus (its models/ folder) to the corpus suite.
LOGS=$ROOT/test-results/logs
mkdir -p "$LOGS"
# Every test's temporary files go below one private folder; what is left there at the end is a failure
# (suite "tmp"), and the folder is removed either way, so a run leaves the system temp folder as it was.
SYSTEM_TMP=${TMPDIR:-/tmp}
TEST_TMP=$(mktemp -d "$SYSTEM_TMP/big-shrink-test.XXXXXX")
export TMPDIR=$TEST_TMP
trap 'rm -rf "$TEST_TMP"' EXIT

# shellcheck source=test/runAllCounts.sh
source "$ROOT/test/runAllCounts.sh" # passed failed skipped summary, record, tap_counts, line_counts
now() { date +%s.%N; }
absent() {
  if [ "${BIG_SHRINK_REQUIRE_ALL:-0}" = 1 ]; then record "$1" 0 1 0 "$(now)" "not present: $2"
  else record "$1" 0 0 0 "$(now)" "not present: $2"; fi
}
needs_setup() { echo "run-all.sh: $1 — run  bash scripts/setup.sh  (as root) first" >&2; }
files() { [ -d "$1" ] && find "$1" -name "$2" -type f | sort; }
want() { [[ " ${SUITES[*]} " == *" $1 "* ]]; }
has_extension() { [ -f dist/extension.js ]; }

# ---- build ------------------------------------------------------------------------------------------
t=$(now)
[ -d node_modules ] || { needs_setup "node_modules is missing"; exit 1; }
if node esbuild.js > "$LOGS/build.log" 2>&1; then record build 1 0 0 "$t"
else cat "$LOGS/build.log"; record build 0 1 0 "$t" "node esbuild.js failed"; fi

# ---- node:test suites -------------------------------------------------------------------------------
node_suite() { # NAME DIR
  local t; t=$(now)
  mapfile -t tests < <(files "dist/test/$2" '*.test.js')
  if [ ${#tests[@]} -eq 0 ]; then absent "$1" "no dist/test/$2/*.test.js (test/$2/*.test.ts)"; return; fi
  echo "---- $1: node --test ${#tests[@]} files"
  local tap=$LOGS/$1.tap
  node --test --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=tap --test-reporter-destination="$tap" "${tests[@]}"
  record_counts "$1" "$t" "$(tap_counts "$tap")"
}
want unit && node_suite unit unit
want corpus && node_suite corpus corpus
want fuzz && node_suite fuzz fuzz
want big && node_suite big big

# ---- what the VS Code suites need -------------------------------------------------------------------
CS=
code_server() {
  [ -n "$CS" ] && return 0
  CS=$(bash "$LIB/install-code-server.sh" | tail -n 1) && [ -f "$CS/out/node/entry.js" ] && return 0
  needs_setup "code-server could not be installed"; CS=; return 1
}
chromium_ok() {
  command -v "${CHROMIUM_PATH:-/usr/bin/chromium}" > /dev/null && return 0
  if [ "$(id -u)" = 0 ]; then
    echo "run-all.sh: apt-get install chromium"
    { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium; } > "$LOGS/apt-chromium.log" 2>&1 && return 0
  fi
  needs_setup "chromium is missing"; return 1
}

# ---- extension host (Mocha inside code-server) ------------------------------------------------------
if want exthost; then
  t=$(now)
  if [ ! -f dist/test/suite/index.js ] || ! has_extension; then absent exthost "dist/test/suite/index.js or dist/extension.js"
  elif ! code_server || ! chromium_ok; then record exthost 0 1 0 "$t" "code-server or chromium missing"
  else
    echo "---- exthost: Mocha in code-server's extension host"
    ws=$(mktemp -d "${TMPDIR:-/tmp}/big-shrink-exthost.XXXXXX")
    node "$LIB/make-workspace.js" "$ws"
    node "$LIB/run-ext-tests.js" --code-server "$CS" --extension "$ROOT" --tests "$ROOT/dist/test/suite/index" \
      --workspace "$ws" --timeout "${BIG_SHRINK_EXTHOST_TIMEOUT:-900}" \
      --env "BIG_SHRINK_TEST_WORKSPACE=$ws" 2>&1 | tee "$LOGS/exthost.log"
    rc=${PIPESTATUS[0]}
    rm -rf "$ws"
    record_counts exthost "$t" "$(line_counts "$LOGS/exthost.log" "$rc")"
  fi
fi

# ---- package ----------------------------------------------------------------------------------------
VSIX=$ROOT/big-shrink-linux-x64.vsix
packaged=0
if want package || want e2e || want start; then
  t=$(now)
  if ! has_extension; then absent package "dist/extension.js (src/extension/extension.ts)"
  else
    echo "---- package: scripts/package.sh linux-x64"
    if out=$(bash scripts/package.sh linux-x64 2>&1); then
      echo "$out"; packaged=1; record package 1 0 0 "$t" "$(echo "$out" | tail -n 1)"
    else echo "$out"; record package 0 1 0 "$t" "scripts/package.sh failed"; fi
  fi
fi

# ---- e2e (Playwright + Chromium against code-server with the VSIX) ---------------------------------
if want e2e; then
  t=$(now)
  if [ -z "$(files dist/test/e2e '*.e2e.js')" ]; then absent e2e "no dist/test/e2e/*.e2e.js (test/e2e/*.e2e.ts)"
  elif [ $packaged = 0 ]; then absent e2e "no VSIX (see package)"
  elif ! code_server || ! chromium_ok; then record e2e 0 1 0 "$t" "code-server or chromium missing"
  else
    echo "---- e2e: $(files dist/test/e2e '*.e2e.js' | xargs -n1 basename | tr '\n' ' ')"
    node "$LIB/run-e2e.js" --vsix "$VSIX" --code-server "$CS" 2>&1 | tee "$LOGS/e2e.log"
    rc=${PIPESTATUS[0]}
    record_counts e2e "$t" "$(line_counts "$LOGS/e2e.log" "$rc" 'e2e: ')"
  fi
fi

# ---- start: the README's main job ----------------------------------------------------------------------
if want start; then
  t=$(now)
  if [ $packaged = 0 ]; then absent start "no VSIX (see package)"
  elif ! code_server || ! chromium_ok; then record start 0 1 0 "$t" "code-server or chromium missing"
  else
    echo "---- start: scripts/start.sh, the URL in Chromium, Ctrl+C"
    node "$LIB/check-start.js" --skip-build 2>&1 | tee "$LOGS/start.log"
    rc=${PIPESTATUS[0]}
    record_counts start "$t" "$(line_counts "$LOGS/start.log" "$rc" 'main-job: ')"
  fi
fi

# ---- tmp: nothing left behind --------------------------------------------------------------------------
# code-server leaves its IPC sockets (vscode-ipc-*.sock) and the built-in TypeScript extension's folder
# (vscode-typescript*) when its process group is stopped: they are VS Code's, not the tests', and go with it.
rm -rf "$TEST_TMP"/vscode-ipc-*.sock "$TEST_TMP"/vscode-typescript*
t=$(now)
left=$(find "$TEST_TMP" -mindepth 1 -maxdepth 1 -printf '%f\n' | sort)
if [ -z "$left" ]; then record tmp 1 0 0 "$t"
else
  echo "run-all.sh: the tests left these in the temp folder:"; echo "$left" | sed 's/^/  /'
  record tmp 0 1 0 "$t" "left behind: $(echo "$left" | head -n 5 | tr '\n' ' ')"
fi

echo
echo "==== summary (logs in test-results/)"
printf '%s\n' "${summary[@]}"
total_line
[ "$failed" = 0 ]
