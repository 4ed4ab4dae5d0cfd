# runAllCounts.sh — how test/run-all.sh counts a suite (sourced; test/unit/runAllCounts.test.ts runs these
# functions on sample TAP and log text). A suite's counts are "PASSED FAILED SKIPPED [NOTE]"; skipped
# includes todo tests. A run that printed no counts, or that ran no test at all, is one failure: a suite
# that proves nothing must not pass. With BIG_SHRINK_REQUIRE_ALL=1 (.ci/run) every skipped test counts as
# a failure too.

passed=0; failed=0; skipped=0; summary=()

# The last "# WORD N" of a TAP file ("" when there is none).
tap_field() { grep -aE "^# $1 [0-9]+" "$2" | tail -n 1 | awk '{print $3}'; }

# tap_counts TAPFILE: the counts of a node --test run from its TAP report (cancelled counts as failed).
tap_counts() {
  local tap=$1 p f c s t
  p=$(tap_field pass "$tap"); f=$(tap_field fail "$tap"); c=$(tap_field cancelled "$tap")
  s=$(tap_field skipped "$tap"); t=$(tap_field todo "$tap")
  if [ -z "$p" ] || [ -z "$f" ]; then echo "0 1 0 no counts in $tap"; return; fi
  f=$((f + ${c:-0})); s=$((${s:-0} + ${t:-0}))
  if [ $((p + f + s)) -eq 0 ]; then echo "0 1 0 no tests ran"; return; fi
  echo "$p $f $s"
}

# line_counts LOG RC [PREFIX]: the counts from the last "PREFIXN passed, N failed[, N skipped]" line of a
# log (the extension-host suite, e2e, the main job) and the run's exit code: no such line or no test
# selected is a failure, and so is a nonzero exit after a line that said nothing failed.
line_counts() {
  local log=$1 rc=$2 prefix=${3:-} line p f s
  line=$(grep -aoE "^${prefix}[0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?" "$log" | tail -n 1)
  if [ -z "$line" ]; then echo "0 1 0 exit $rc, no '${prefix}N passed, N failed' line"; return; fi
  line=${line#"$prefix"}
  read -r p _ f _ s _ <<< "${line//,/}"
  s=${s:-0}
  if [ $((p + f + s)) -eq 0 ]; then echo "0 1 0 exit $rc, no tests selected"; return; fi
  [ "$rc" != 0 ] && [ "$f" = 0 ] && f=1 # the harness failed after the tests said they passed
  echo "$p $f $s exit $rc"
}

# secs START: seconds since START (a `date +%s.%N`).
secs() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}'; }

# record NAME PASSED FAILED SKIPPED START [NOTE]: adds a suite to the totals and prints its line.
record() {
  local f=$3 note=${6:-} line
  if [ "${BIG_SHRINK_REQUIRE_ALL:-0}" = 1 ] && [ "$4" -gt 0 ]; then
    f=$((f + $4)); note="${note:+$note; }$4 skipped count as failed (BIG_SHRINK_REQUIRE_ALL=1)"
  fi
  passed=$((passed + $2)); failed=$((failed + f)); skipped=$((skipped + $4))
  line=$(printf 'suite %-8s %4d passed, %d failed, %d skipped  (%ss)%s' "$1:" "$2" "$f" "$4" "$(secs "$5")" "${note:+  $note}")
  summary+=("$line"); echo "$line"
}

# record_counts NAME START COUNTS: record with the output of tap_counts or line_counts.
record_counts() {
  local p f s note
  read -r p f s note <<< "$3"
  record "$1" "$p" "$f" "$s" "$2" "$note"
}

# The closing line of a run.
total_line() { echo "$passed passed, $failed failed, $skipped skipped"; }
