#!/bin/bash
# Crash test: concurrent traders, the postmaster SIGKILLed and restarted
# several times, idempotent retries by client_order_id, then the committed
# tables checked against every answer the traders got.
#
# Usage (from the repo root, as root or as postgres):
#   test/crash/run.sh [crash_test.py options, e.g. --seed 123 --kills 4]
# Environment: PORT (default 55432; the next free port is taken if busy),
#   KEEP=1 keeps the server directory (it is always kept on failure).
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/../lib/pgserver.sh"
SUITE=crash-test
. "$HERE/../lib/suite.sh"
PYTHON=/usr/bin/python3

PORT=$(suite_port "${PORT:-55432}") || exit 2
DIR=$(server_dir crash) || exit 2
suite_on_exit "$DIR" "${KEEP:-}" "server directory (server.log inside)" "pg_stop $DIR"

# every batch of fewer than 16 requests waits exchange.batch_delay for more
# (no siblings required), so the kills also land while requests are held
# in a gathering engine
suite_pg_start "$DIR" "$PORT" "exchange.batch_siblings = 0"

# The Python part bounds itself (--budget); timeout is the last resort.
timeout --kill-after=10 170 "$PYTHON" "$HERE/crash_test.py" \
	--dir "$DIR" --port "$PORT" "$@"
status=$?
if [ "$status" -ne 0 ]; then
	echo "crash-test: FAILED (exit $status); last server log lines (statement errors left out):"
	grep -E 'PANIC|FATAL|TRAP|WARNING|LOG:' "$DIR/server.log" | tail -n 40
fi
exit "$status"
