#!/bin/bash
# The writeback pacer (src/writeback.c), on a primary and its hot standby:
# with exchange.writeback_interval = 0 the pages that a load's new rows
# dirty stay dirty in the page cache (the kernel's own schedule writes them
# 30 s later); once it is set, both servers' exchange relations have no
# dirty page left within a few rounds.  Pages counted by cachestat(2),
# per file.
#
# Usage (from the repo root, as root or as postgres): test/writeback/run.sh
# Environment: PORT (default 55470; the next free ports are taken if busy),
#   KEEP=1 keeps the servers' directory (it is always kept on failure).
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/../lib/pgserver.sh"
SUITE=writeback-test
. "$HERE/../lib/suite.sh"

PORT=$(suite_port "${PORT:-55470}") || exit 2
SB_PORT=$(suite_port $((PORT + 1))) || exit 2
DIR=$(server_dir writeback) || exit 2
SB=$DIR/standby
PRIMARY=$DIR/primary

stop_servers() {
	pg_stop "$SB"
	pg_stop "$PRIMARY"
}
suite_on_exit "$DIR" "${KEEP:-}" "servers' directory (server.log inside each)" stop_servers
q() { psql_at "$PRIMARY" "$PORT" -qAt "$@"; }
qs() { psql_at "$SB" "$SB_PORT" -qAt "$@"; }

# both servers: the kernel's schedule only, to begin with
suite_pg_start "$PRIMARY" "$PORT" "exchange.writeback_interval = 0"
mkdir -p "$SB"; chown postgres: "$SB"
as_postgres "$PGBIN/pg_basebackup" -h 127.0.0.1 -p "$PORT" -U postgres \
	-D "$SB/data" -R -X stream -c fast || fail "pg_basebackup"
cat >>"$SB/data/postgresql.auto.conf" <<CONF
port = $SB_PORT
unix_socket_directories = '$SB'
primary_conninfo = 'host=127.0.0.1 port=$PORT user=postgres application_name=writeback_standby'
CONF
as_postgres "$PGBIN/pg_ctl" -D "$SB/data" -l "$SB/server.log" -w -t 60 start >/dev/null ||
	{ cat "$SB/server.log"; fail "standby did not start"; }

for s in primary standby; do
	if [ $s = primary ]; then n=$(q -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'exchange writeback'")
	else n=$(qs -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'exchange writeback'"); fi
	[ "$n" = 1 ] || fail "no 'exchange writeback' process on the $s"
done
pass "the writeback pacer runs on the primary and on the hot standby"

q >/dev/null <<'SQL' || fail "catalogue"
CREATE EXTENSION exchange;
SELECT exchange.wait_for_engine(20000);
SELECT exchange.create_asset('BTC', 8);
SELECT exchange.create_asset('USDT', 6);
SELECT exchange.create_market('BTC-USDT', 'BTC', 'USDT', 0.01, 0.0001);
SELECT exchange.create_account('maker');
SELECT exchange.deposit(1, 'BTC', 100000, 'wb-1');
SELECT exchange.deposit(1, 'USDT', 1000000000000, 'wb-2');
SQL

# 40,000 resting orders (bids below 50,000, asks above 60,000): new rows in
# every table and index the engine writes
for i in $(seq 1 40); do
	q -c "SELECT count(*) FROM exchange.place_orders((
		SELECT jsonb_agg(jsonb_build_object(
			'account_id', 1, 'market', 'BTC-USDT',
			'side', CASE WHEN g % 2 = 0 THEN 'buy' ELSE 'sell' END,
			'quantity', 0.0001,
			'price', CASE WHEN g % 2 = 0 THEN 40000 + g % 10000 ELSE 60000 + g % 10000 END))
		FROM generate_series(1, 1000) g))" >/dev/null || fail "place_orders"
done
LSN=$(q -c "SELECT pg_current_wal_flush_lsn()")
for _ in $(seq 1 200); do
	[ "$(qs -c "SELECT pg_last_wal_replay_lsn() >= '$LSN'")" = t ] && break
	sleep 0.05
done
[ "$(qs -c "SELECT pg_last_wal_replay_lsn() >= '$LSN'")" = t ] || fail "the standby did not replay the load"
[ "$(qs -c "SELECT count(*) FROM exchange.open_order")" = 40000 ] || fail "the standby does not see 40,000 open orders"

# every relation with storage of the exchange schema, with its TOAST table and index
RELS=$(q -c "SELECT string_agg(pg_relation_filepath(c.oid), ' ')
	FROM pg_class c
	WHERE c.relnamespace = 'exchange'::regnamespace AND c.relkind IN ('r', 'i', 't', 'm', 'S')
	   OR c.oid IN (SELECT reltoastrelid FROM pg_class WHERE relnamespace = 'exchange'::regnamespace)
	   OR c.oid IN (SELECT i.indexrelid FROM pg_index i JOIN pg_class t ON t.reltoastrelid = i.indrelid
	                WHERE t.relnamespace = 'exchange'::regnamespace)")
dirty() {	# DATADIR: "<dirty> <writeback>" pages of the exchange's relations
	"$HERE/cachestat.py" "$1" $RELS
}
read -r d_p w_p < <(dirty "$PRIMARY/data") || fail "cachestat on the primary"
read -r d_s w_s < <(dirty "$SB/data") || fail "cachestat on the standby"
echo "  with exchange.writeback_interval = 0: $d_p dirty pages on the primary, $d_s on the standby"
# the load's new pages must be there to be written back, or the rest proves nothing
[ "$d_p" -ge 256 ] || fail "the load left only $d_p dirty pages on the primary"
[ "$d_s" -ge 256 ] || fail "the load left only $d_s dirty pages on the standby"
sleep 2
read -r d_p2 _ < <(dirty "$PRIMARY/data")
read -r d_s2 _ < <(dirty "$SB/data")
echo "  2 s later: $d_p2 on the primary, $d_s2 on the standby"
[ "$d_p2" -ge $((d_p / 2)) ] && [ "$d_s2" -ge $((d_s / 2)) ] ||
	fail "the pages were written back with the pacer off: something else writes them, and this test cannot tell"
pass "off: the load's pages stay dirty"

for d in "$PRIMARY" "$SB"; do
	echo "exchange.writeback_interval = 200" >>"$d/data/postgresql.conf"
done
q -c "SELECT pg_reload_conf()" >/dev/null
qs -c "SELECT pg_reload_conf()" >/dev/null
t0=$(date +%s.%N)
clean=
for _ in $(seq 1 100); do
	read -r d_p w_p < <(dirty "$PRIMARY/data")
	read -r d_s w_s < <(dirty "$SB/data")
	if [ $((d_p + w_p + d_s + w_s)) -eq 0 ]; then clean=1; break; fi
	sleep 0.1
done
[ -n "$clean" ] || fail "still $d_p dirty and $w_p under writeback on the primary, $d_s and $w_s on the standby, 10 s after the pacer was switched on"
pass "on (200 ms): no dirty page left on either server after $(printf %.1f "$(echo "$(date +%s.%N) - $t0" | bc)") s"

[ "$(q -c "SELECT count(*) FROM exchange.check_invariants()")" = 0 ] || fail "invariants"
pass "invariants hold"
status=0
echo "writeback-test: passed"
