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

if ! PORT=$(free_port "${PORT:-55432}"); then
	echo "spec-fuzz: no free port found" >&2
	exit 2
fi
DIR=$(server_dir spec) || exit 2
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
