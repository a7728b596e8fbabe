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

port_busy() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

PORT=${PORT:-55432}
for _ in $(seq 1 50); do
	port_busy "$PORT" || break
	PORT=$((PORT + 1))
done
if port_busy "$PORT"; then
	echo "crash-test: no free port found" >&2
	exit 2
fi

DIR=$(mktemp -d /tmp/exchange-crash.XXXXXX) || exit 2
chmod 755 "$DIR"
chown postgres: "$DIR" 2>/dev/null || true

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
