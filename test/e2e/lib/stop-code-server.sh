#!/usr/bin/env bash
# stop-code-server.sh RUN_DIR — end the code-server started by start-code-server.sh RUN_DIR,
# with its whole process group (extension hosts, file watcher, language servers), by its id.
#
# Copied from the team's shared recipe ../shared/e2e/ (proven by its selftest.sh) so that users
# and CI of Big Shrink do not depend on ../shared; changes from the original are marked "Big Shrink:".
set -uo pipefail
RUN=${1:?usage: stop-code-server.sh RUN_DIR}
PID=$(cat "$RUN/pid" 2>/dev/null) || { echo "no $RUN/pid" >&2; exit 0; }
kill -TERM -- "-$PID" 2>/dev/null || exit 0
for _ in $(seq 1 50); do kill -0 -- "-$PID" 2>/dev/null || exit 0; sleep 0.2; done
kill -KILL -- "-$PID" 2>/dev/null
exit 0
