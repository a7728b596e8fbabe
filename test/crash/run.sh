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
PYTHON=/usr/bin/python3

if ! PORT=$(free_port "${PORT:-55432}"); then
	echo "crash-test: no free port found" >&2
	exit 2
fi
DIR=$(server_dir crash) || exit 2

status=1
cleanup() {
	pg_stop "$DIR"
	if [ "$status" -eq 0 ] && [ -z "${KEEP:-}" ]; then
		rm -rf "$DIR"
	else
		echo "crash-test: server directory kept: $DIR (server.log inside)"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# every batch of fewer than 16 requests waits exchange.batch_delay for more
# (no siblings required), so the kills also land while requests are held
# in a gathering engine
if ! pg_start "$DIR" "$PORT" "exchange.batch_siblings = 0"; then
	echo "crash-test: server did not start; log follows" >&2
	cat "$DIR/server.log" >&2
	exit 1
fi

# The Python part bounds itself (--budget); timeout is the last resort.
timeout --kill-after=10 170 "$PYTHON" "$HERE/crash_test.py" \
	--dir "$DIR" --port "$PORT" "$@"
status=$?
if [ "$status" -ne 0 ]; then
	echo "crash-test: FAILED (exit $status); last server log lines (statement errors left out):"
	grep -E 'PANIC|FATAL|TRAP|WARNING|LOG:' "$DIR/server.log" | tail -n 40
fi
exit "$status"
