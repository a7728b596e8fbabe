#!/bin/bash
# Callers while the acknowledger is held up (src/acknowledger.c, the
# callers' 100 ms looks in src/mailbox.c).  The acknowledger is stopped
# with SIGSTOP (by its own PID, from exchange.engine_status()): it still
# holds the callers' entries but cannot wake anyone.  Then:
#   - place_order and place_orders are still answered, by the callers'
#     own looks, once the WAL writer has flushed their batches; they take
#     at least one look (100 ms), and well under exchange.request_timeout;
#   - none of them counts as a lost wake-up (callers_unwoken): the
#     acknowledger held an entry for each, so each was ahead of its
#     wake-up, not without one;
#   - with the acknowledger running again (SIGCONT), calls are woken as
#     before and nothing is counted either;
#   - with the engine held for 400 ms between filling the callers'
#     mailboxes and handing them over (exchange.debug_handover_delay, a
#     setting for tests only), a caller's look finds its answers durable
#     (the WAL writer flushes every 10 ms here) while nobody holds it for
#     a wake-up; it waits for the wake-up on its way and is not counted;
#     the same with the acknowledger held between taking its entries off
#     the ring and setting their latches (exchange.debug_wake_delay).
#
# Usage (from the repo root, as root or as postgres): test/wakeup/run.sh
# Environment: PORT (default 55480; the next free port is taken if busy),
#   KEEP=1 keeps the server's directory (it is always kept on failure).
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/../lib/pgserver.sh"
SUITE=wakeup-test
. "$HERE/../lib/suite.sh"

PORT=$(suite_port "${PORT:-55480}") || exit 2
DIR=$(server_dir wakeup) || exit 2
ACK=

stop_server() {
	# a stopped process would hold up the server's shutdown
	[ -n "$ACK" ] && kill -CONT "$ACK" 2>/dev/null
	pg_stop "$DIR"
}
suite_on_exit "$DIR" "${KEEP:-}" "server's directory (server.log inside)" stop_server
q() { psql_at "$DIR" "$PORT" -qAt "$@"; }
unwoken() { q -c "SELECT callers_unwoken FROM exchange.engine_status()"; }

suite_pg_start "$DIR" "$PORT" "log_min_messages = warning" "wal_writer_delay = 10ms"
q >/dev/null <<'SQL' || fail "catalogue"
CREATE EXTENSION exchange;
SELECT exchange.wait_for_engine(20000);
SELECT exchange.create_asset('BTC', 8);
SELECT exchange.create_asset('USDT', 6);
SELECT exchange.create_market('BTC-USDT', 'BTC', 'USDT', 0.01, 0.0001);
SELECT exchange.create_account('wakeup');
SELECT exchange.deposit(1, 'USDT', 1000000, 'wakeup-usdt');
SQL

ACK=$(q -c "SELECT acknowledger_pid FROM exchange.engine_status()")
[ -n "$ACK" ] || fail "no acknowledger running"
u0=$(unwoken)

# one call, timed by psql (the statement's round trip, not psql's start);
# prints "<status or count> <whole milliseconds>"
timed() {
	local out
	out=$(q -c '\timing on' -c "$1") || return 1
	echo "$out" | awk '/^Time: / { ms = int($2) } !/^Time: / { v = $0 } END { print v, ms }'
}
ONE="SELECT status FROM exchange.place_order(1, 'BTC-USDT', 'buy', 0.001, 10000)"
MANY="SELECT count(*) FROM exchange.place_orders((SELECT jsonb_agg(jsonb_build_object(
	'account_id', 1, 'market', 'BTC-USDT', 'side', 'buy', 'quantity', 0.001, 'price', 9000 + g))
	FROM generate_series(1, 20) g))"

kill -STOP "$ACK" || fail "could not stop the acknowledger (pid $ACK)"
looked=0	# calls answered after at least one look (100 ms)
for i in 1 2 3; do
	read -r st ms < <(timed "$ONE") || fail "place_order failed with the acknowledger stopped"
	[ "$st" = open ] || fail "place_order answered '$st', not 'open'"
	[ "$ms" -lt 5000 ] || fail "place_order took $ms ms with the acknowledger stopped"
	[ "$ms" -ge 100 ] && looked=$((looked + 1))
	echo "  place_order with the acknowledger stopped: $ms ms"
	read -r n ms < <(timed "$MANY") || fail "place_orders failed with the acknowledger stopped"
	[ "$n" = 20 ] || fail "place_orders answered $n rows, not 20"
	[ "$ms" -lt 5000 ] || fail "place_orders took $ms ms with the acknowledger stopped"
	[ "$ms" -ge 100 ] && looked=$((looked + 1))
	echo "  place_orders (20) with the acknowledger stopped: $ms ms"
done
# a batch already flushed when the engine hands its callers over is woken
# by the engine itself; most are not, or this test proves nothing
[ "$looked" -ge 4 ] || fail "only $looked of 6 calls waited for a look with the acknowledger stopped"
u1=$(unwoken)
[ "$u1" = "$u0" ] || fail "callers_unwoken went from $u0 to $u1 while the acknowledger held every caller's entry"
pass "$looked of 6 calls answered by their own looks with the acknowledger stopped, and no lost wake-up counted"

kill -CONT "$ACK" || fail "could not resume the acknowledger"
ACK=
best=
for i in $(seq 1 10); do
	read -r st ms < <(timed "$ONE") || fail "place_order failed after the acknowledger resumed"
	[ "$st" = open ] || fail "place_order answered '$st' after the acknowledger resumed"
	[ -z "$best" ] || [ "$ms" -lt "$best" ] && best=$ms
done
[ "$best" -lt 100 ] || fail "every place_order still took 100 ms or more with the acknowledger running (fastest $best ms)"
u2=$(unwoken)
[ "$u2" = "$u0" ] || fail "callers_unwoken went from $u0 to $u2 with the acknowledger running"
pass "woken again once the acknowledger runs (fastest of 10 calls $best ms), nothing counted"

# conf "SQL"...: ALTER SYSTEM commands, then a reload the workers have seen
conf() {
	local args=()
	for c in "$@"; do args+=(-c "$c"); done
	q "${args[@]}" -c "SELECT pg_reload_conf()" >/dev/null || fail "could not run: $*"
	sleep 0.5
}
# held WHAT WHO: four place_order calls while WHAT is held for 400 ms.
# Their first look (100 ms) comes while nobody holds them for a wake-up,
# though one is on its way from WHO; each must wait for it and none may
# count.  Answered by the wake-up, they take the hold's 400 ms; if most
# did not, the hold missed them and this proved nothing.
held() {
	local what=$1 who=$2 ms st n=0 times=() u
	for i in 1 2 3 4; do
		read -r st ms < <(timed "$ONE") || fail "place_order failed with $what held"
		[ "$st" = open ] || fail "place_order answered '$st' with $what held"
		[ "$ms" -lt 5000 ] || fail "place_order took $ms ms with $what held"
		echo "  place_order with $what held 400 ms: $ms ms"
		times+=("$ms")
	done
	u=$(unwoken)
	[ "$u" = "$u0" ] || fail "callers_unwoken went from $u0 to $u with $what held"
	for ms in "${times[@]}"; do [ "$ms" -ge 350 ] && n=$((n + 1)); done
	[ "$n" -ge 3 ] || fail "only $n of 4 calls were held by $what (${times[*]} ms)"
	pass "$n of 4 callers found durable while $who was about to wake them waited for the wake-up, nothing counted"
}
# The engine gathers for 10 ms first (batch_delay, with no siblings
# needed), so that each caller has said which answer is to wake it before
# the answer comes: one answered before that finds its answers at once,
# puts itself on the acknowledger's ring and never looks.
conf "ALTER SYSTEM SET exchange.batch_delay = 10000" "ALTER SYSTEM SET exchange.batch_siblings = 0" \
	"ALTER SYSTEM SET exchange.debug_handover_delay = 400"
held "the engine's hand-over" "the engine"
conf "ALTER SYSTEM RESET exchange.debug_handover_delay" "ALTER SYSTEM SET exchange.debug_wake_delay = 400"
held "the acknowledger's wake-up" "the acknowledger"
conf "ALTER SYSTEM RESET exchange.debug_wake_delay" "ALTER SYSTEM RESET exchange.batch_delay" \
	"ALTER SYSTEM RESET exchange.batch_siblings"

[ "$(q -c "SELECT count(*) FROM exchange.check_invariants()")" = 0 ] || fail "invariants"
pass "invariants hold"
status=0
echo "wakeup-test: passed"
