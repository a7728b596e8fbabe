#!/usr/bin/env bash
# pgTAP suite: a throwaway server, a deterministic random order stream
# (setup.sql, in autocommit because the engine commits every request), then
# pg_prove over the read-only invariant checks t_*.sql.
#
#   bash test/pgtap/run.sh        (from the repository root, as root or postgres)
#
# Settings (environment): PGTAP_PORT (55434), PGTAP_KEEP=1 keeps the
# server's directory (and its log) even when everything passes.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/../lib/pgserver.sh"

PORT=${PGTAP_PORT:-55434}
PROVED=
WORK=$(mktemp -d /tmp/exchange-pgtap.XXXXXX)
chmod 755 "$WORK"
chown postgres: "$WORK" 2>/dev/null || true

cleanup() {
	local rc=$?
	pg_stop "$WORK" || true
	if [ "$rc" -ne 0 ] || [ -n "${PGTAP_KEEP:-}" ]; then
		echo "pgtap: server directory kept in $WORK" >&2
		# a failed assertion speaks for itself; a failed start or set-up
		# is explained by the server's log
		if [ "$rc" -ne 0 ] && [ -z "$PROVED" ] && [ -f "$WORK/server.log" ]; then
			tail -20 "$WORK/server.log" >&2
		fi
	else
		rm -rf "$WORK"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start=$(date +%s%N)
pg_start "$WORK" "$PORT" "exchange.expiry_interval = 100ms" \
	"log_min_messages = warning"

psql_at "$WORK" "$PORT" -q <<'SQL'
CREATE EXTENSION exchange;
CREATE EXTENSION pgtap;
DO $$
BEGIN
    IF NOT exchange.wait_for_engine(10000) THEN
        RAISE EXCEPTION 'exchange engine did not start within 10 s';
    END IF;
END
$$;
SQL

psql_at "$WORK" "$PORT" -q -f "$HERE/setup.sql" >/dev/null
psql_at "$WORK" "$PORT" -qAt <<'SQL'
SELECT format('pgtap: setup.sql sent %s requests: %s orders (%s), %s trades',
              (SELECT count(*) FROM tap.request_log),
              (SELECT count(*) FROM exchange.orders),
              (SELECT string_agg(format('%s %s', n, status), ', ' ORDER BY status)
                 FROM (SELECT status, count(*) AS n FROM exchange.orders GROUP BY status) s),
              (SELECT count(*) FROM exchange.trades));
SQL

rc=0
cd "$HERE/../.."
pg_prove -h 127.0.0.1 -p "$PORT" -U postgres -d postgres test/pgtap/t_*.sql || rc=$?
PROVED=1
ms=$((($(date +%s%N) - start) / 1000000))
echo "pgtap: pg_prove exit $rc; $((ms / 1000)).$((ms % 1000 / 100)) s in all (server, set-up, tests)"
exit "$rc"
