#!/usr/bin/env bash
# Start (or stop) a local PostgreSQL 15 server with the exchange preloaded
# and demo markets.  All state lives in $EXCHANGE_STATE (default
# /var/tmp/exchange).  Running `start` twice is harmless.
set -euo pipefail
cd "$(dirname "$0")/.."
. test/lib/pgserver.sh

STATE=${EXCHANGE_STATE:-/var/tmp/exchange}
PORT=${EXCHANGE_PORT:-5441}
URL="postgresql://postgres@127.0.0.1:$PORT/postgres"

case "${1:-start}" in
start)
	if [ -n "$(pg_pid "$STATE")" ] && kill -0 "$(pg_pid "$STATE")" 2>/dev/null; then
		echo "exchange: server already running (pid $(pg_pid "$STATE"))"
	else
		pg_start "$STATE" "$PORT" \
			"exchange.max_orders = 1000000" \
			"exchange.max_balances = 1000000" \
			"exchange.max_accounts = 1000000" \
			"exchange.max_price_levels = 200000"
		echo "exchange: server started (pid $(pg_pid "$STATE"), log $STATE/server.log)"
	fi
	psql_at "$STATE" "$PORT" -qc "SET client_min_messages = warning; CREATE EXTENSION IF NOT EXISTS exchange"
	psql_at "$STATE" "$PORT" -q -f scripts/demo.sql
	cat <<MSG

exchange is running on 127.0.0.1:$PORT (state in $STATE).
Connect:   psql $URL
Try:       SELECT * FROM exchange.place_order(2, 'BTC-USDT', 'buy', 0.1, 65000);
           SELECT * FROM exchange.order_book('BTC-USDT');
Stop:      make stop
MSG
	;;
stop)
	pg_stop "$STATE"
	echo "exchange: server stopped"
	;;
status)
	if [ -n "$(pg_pid "$STATE")" ] && kill -0 "$(pg_pid "$STATE")" 2>/dev/null; then
		psql_at "$STATE" "$PORT" -c "SELECT * FROM exchange.engine_status()"
	else
		echo "exchange: not running"
	fi
	;;
*)
	echo "usage: $0 start|stop|status" >&2
	exit 2
	;;
esac
