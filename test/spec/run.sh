#!/bin/bash
# place_orders' two ways in, text and jsonb, on random and broken JSON
# documents (test/spec/fuzz.py), on a server of its own.
#
# Usage (from the repo root, as root or as postgres):
#   test/spec/run.sh [seeds...]       (default: 1 2)
# Environment: PORT (default 55432; the next free port is taken if busy),
#   DOCS (documents per seed, 3000), KEEP=1 keeps the server directory (it
#   is always kept on failure).
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/../lib/pgserver.sh"
SUITE=spec-fuzz
. "$HERE/../lib/suite.sh"
PYTHON=/usr/bin/python3

PORT=$(suite_port "${PORT:-55432}") || exit 2
DIR=$(server_dir spec) || exit 2
suite_on_exit "$DIR" "${KEEP:-}" "server directory (server.log inside)" "pg_stop $DIR"

suite_pg_start "$DIR" "$PORT" "exchange.database = 'postgres'"
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
