#!/usr/bin/env bash
# run-all.sh [SUITE...] — `npm test` (and `npm test -- e2e`, `npm test unit corpus`, ...).
# Builds, then runs the suites in this order (default: all):
#   unit     node --test dist/test/unit/**/*.test.js       (core, plain Node)
#   corpus   node --test dist/test/corpus/**/*.test.js     (../shared/models + libonnx-testdata)
#   fuzz     node --test dist/test/fuzz/**/*.test.js
#   big      node --test dist/test/big/**/*.test.js: a ~2.8 GB generated model in bounded memory (minutes)
#   exthost  Mocha suite dist/test/suite/index.js in code-server's extension host (run-ext-tests.js)
#   package  scripts/package.sh linux-x64: the VSIX the next two install
#   e2e      every dist/test/e2e/*.e2e.js in Chromium against code-server (test/e2e/CONTRACT.md)
#   start    the main job: scripts/start.sh serves the sample model in the editor, Ctrl+C stops it
# Each suite prints "suite NAME: N passed, N failed"; the last line is the sum "N passed, N failed".
# A suite whose compiled files do not exist yet is reported "not present" and counted as failed only
# when BIG_SHRINK_REQUIRE_ALL=1 (.ci/run sets it). Exit status 1 when anything failed.
# Needs what scripts/setup.sh installs; code-server is installed on first use (~/.cache/vscode-e2e).
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 2
LIB=$ROOT/test/e2e/lib
ALL=(unit corpus fuzz big exthost package e2e start)
SUITES=("$@")
[ ${#SUITES[@]} -gt 0 ] || SUITES=("${ALL[@]}")
for s in "${SUITES[@]}"; do
  [[ " ${ALL[*]} " == *" $s "* ]] || { echo "run-all.sh: unknown suite '$s' (known: ${ALL[*]})" >&2; exit 2; }
done
export BIG_SHRINK_SHARED=${BIG_SHRINK_SHARED:-$(cd "$ROOT/.." && pwd)/shared}
LOGS=$ROOT/test-results/logs
mkdir -p "$LOGS"

passed=0; failed=0; summary=()
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}'; }
# record NAME PASSED FAILED START [NOTE]
record() {
  passed=$((passed + $2)); failed=$((failed + $3))
  local line
  line=$(printf 'suite %-8s %4d passed, %d failed  (%ss)%s' "$1:" "$2" "$3" "$(secs "$4")" "${5:+  $5}")
  summary+=("$line"); echo "$line"
}
absent() {
  if [ "${BIG_SHRINK_REQUIRE_ALL:-0}" = 1 ]; then record "$1" 0 1 "$(now)" "not present: $2"
  else record "$1" 0 0 "$(now)" "not present: $2"; fi
}
needs_setup() { echo "run-all.sh: $1 — run  bash scripts/setup.sh  (as root) first" >&2; }
files() { [ -d "$1" ] && find "$1" -name "$2" -type f | sort; }
want() { [[ " ${SUITES[*]} " == *" $1 "* ]]; }
has_extension() { [ -f dist/extension.js ]; }

# The closing line of a run, "N passed, N failed", from a log ("" when there is none).
counts_from() { grep -aoE '^[0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1; }

# ---- build ------------------------------------------------------------------------------------------
t=$(now)
[ -d node_modules ] || { needs_setup "node_modules is missing"; exit 1; }
if node esbuild.js > "$LOGS/build.log" 2>&1; then record build 1 0 "$t"
else cat "$LOGS/build.log"; record build 0 1 "$t" "node esbuild.js failed"; fi

# ---- node:test suites -------------------------------------------------------------------------------
node_suite() { # NAME DIR
  local t; t=$(now)
  mapfile -t tests < <(files "dist/test/$2" '*.test.js')
  if [ ${#tests[@]} -eq 0 ]; then absent "$1" "no dist/test/$2/*.test.js (test/$2/*.test.ts)"; return; fi
  echo "---- $1: node --test ${#tests[@]} files"
  local tap=$LOGS/$1.tap
  node --test --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=tap --test-reporter-destination="$tap" "${tests[@]}"
  local p f c
  p=$(grep -aE '^# pass [0-9]+' "$tap" | tail -n 1 | awk '{print $3}')
  f=$(grep -aE '^# fail [0-9]+' "$tap" | tail -n 1 | awk '{print $3}')
  c=$(grep -aE '^# cancelled [0-9]+' "$tap" | tail -n 1 | awk '{print $3}')
  if [ -z "$p" ] || [ -z "$f" ]; then record "$1" 0 1 "$t" "no counts in $tap"; return; fi
  record "$1" "$p" $((f + ${c:-0})) "$t"
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
    { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; } > "$LOGS/apt-chromium.log" 2>&1 && return 0
  fi
  needs_setup "chromium is missing"; return 1
}

# ---- extension host (Mocha inside code-server) ------------------------------------------------------
if want exthost; then
  t=$(now)
  if [ ! -f dist/test/suite/index.js ] || ! has_extension; then absent exthost "dist/test/suite/index.js or dist/extension.js"
  elif ! code_server || ! chromium_ok; then record exthost 0 1 "$t" "code-server or chromium missing"
  else
    echo "---- exthost: Mocha in code-server's extension host"
    ws=$(mktemp -d "${TMPDIR:-/tmp}/big-shrink-exthost.XXXXXX")
    node "$LIB/make-workspace.js" "$ws"
    node "$LIB/run-ext-tests.js" --code-server "$CS" --extension "$ROOT" --tests "$ROOT/dist/test/suite/index" \
      --workspace "$ws" --timeout "${BIG_SHRINK_EXTHOST_TIMEOUT:-900}" \
      --env "BIG_SHRINK_SHARED=$BIG_SHRINK_SHARED" --env "BIG_SHRINK_TEST_WORKSPACE=$ws" 2>&1 | tee "$LOGS/exthost.log"
    rc=${PIPESTATUS[0]}
    rm -rf "$ws"
    counts=$(counts_from "$LOGS/exthost.log")
    if [ -n "$counts" ]; then
      read -r p _ f _ <<< "$counts"
      [ "$rc" != 0 ] && [ "$f" = 0 ] && f=1   # the harness failed after the tests said they passed
      record exthost "$p" "$f" "$t" "exit $rc"
    elif [ "$rc" = 0 ]; then record exthost 1 0 "$t" "exit 0, no 'N passed, N failed' line"
    else record exthost 0 1 "$t" "exit $rc"; fi
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
      echo "$out"; packaged=1; record package 1 0 "$t" "$(echo "$out" | tail -n 1)"
    else echo "$out"; record package 0 1 "$t" "scripts/package.sh failed"; fi
  fi
fi

# ---- e2e (Playwright + Chromium against code-server with the VSIX) ---------------------------------
if want e2e; then
  t=$(now)
  if [ -z "$(files dist/test/e2e '*.e2e.js')" ]; then absent e2e "no dist/test/e2e/*.e2e.js (test/e2e/*.e2e.ts)"
  elif [ $packaged = 0 ]; then absent e2e "no VSIX (see package)"
  elif ! code_server || ! chromium_ok; then record e2e 0 1 "$t" "code-server or chromium missing"
  else
    echo "---- e2e: $(files dist/test/e2e '*.e2e.js' | xargs -n1 basename | tr '\n' ' ')"
    node "$LIB/run-e2e.js" --vsix "$VSIX" --code-server "$CS" 2>&1 | tee "$LOGS/e2e.log"
    rc=${PIPESTATUS[0]}
    counts=$(grep -aoE '^e2e: [0-9]+ passed, [0-9]+ failed' "$LOGS/e2e.log" | tail -n 1)
    if [ -n "$counts" ]; then read -r _ p _ f _ <<< "$counts"; record e2e "$p" "$f" "$t" "exit $rc"
    else record e2e 0 1 "$t" "exit $rc, no counts"; fi
  fi
fi

# ---- start: the README's main job ----------------------------------------------------------------------
if want start; then
  t=$(now)
  if [ $packaged = 0 ]; then absent start "no VSIX (see package)"
  elif ! code_server || ! chromium_ok; then record start 0 1 "$t" "code-server or chromium missing"
  else
    echo "---- start: scripts/start.sh, the URL in Chromium, Ctrl+C"
    node "$LIB/check-start.js" --skip-build 2>&1 | tee "$LOGS/start.log"
    counts=$(grep -aoE '^main-job: [0-9]+ passed, [0-9]+ failed' "$LOGS/start.log" | tail -n 1)
    if [ -n "$counts" ]; then read -r _ p _ f _ <<< "$counts"; record start "$p" "$f" "$t"
    else record start 0 1 "$t" "no counts"; fi
  fi
fi

echo
echo "==== summary (logs in test-results/)"
printf '%s\n' "${summary[@]}"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
