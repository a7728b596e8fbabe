#!/bin/bash
# place_orders' two ways in, text and jsonb, on random and broken JSON
# documents (test/spec/fuzz.py), on a server of its own.
#
# Usage (from the repo root, as root or as postgres):
#   test/spec/run.sh [seeds...]       (default: 1 2)
# Environment: PORT (default 55432; the next free port is taken if busy),
#   DOCS (documents per seed, 3000).
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

DIR=$(mktemp -d /tmp/exchange-spec.XXXXXX) || exit 2
chmod 755 "$DIR"
chown postgres: "$DIR" 2>/dev/null || true
status=1
cleanup() {
	pg_stop "$DIR"
	if [ "$status" -eq 0 ]; then
		rm -rf "$DIR"
	else
		echo "spec-fuzz: server directory kept: $DIR (server.log inside)"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ! pg_start "$DIR" "$PORT" "exchange.database = 'postgres'"; then
	echo "spec-fuzz: server did not start; log follows" >&2
	cat "$DIR/server.log" >&2
	exit 1
fi
psql_at "$DIR" "$PORT" -q -c "CREATE EXTENSION exchange" || exit 1

seeds=("$@")
[ ${#seeds[@]} -gt 0 ] || seeds=(1 2)
status=0
for seed in "${seeds[@]}"; do
	timeout --kill-after=10 300 "$PYTHON" "$HERE/fuzz.py" --port "$PORT" \
		--seed "$seed" --docs "${DOCS:-3000}" || status=1
done
[ "$status" -eq 0 ] && echo "spec-fuzz: passed" || echo "spec-fuzz: FAILED"
exit $status
