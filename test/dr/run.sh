#!/bin/bash
# Backup / verify / point-in-time-restore drill (test/dr/backup_pitr.py) on a
# 3-node cluster of its own (scripts/cluster.sh with its own state directory
# and ports).  Everything it starts is stopped by its recorded PID.
#
# Ports: PostgreSQL 5461-5463, HAProxy 5460/5459, Patroni REST 8461-8463,
# etcd 2391 (peer 2392), the restored server 5468.
# Environment: DR_KEEP=1 keeps the state directory (always kept on failure).
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PYTHON=/usr/bin/python3
SUITE=dr-test
. "$HERE/../lib/suite.sh"

export EXCHANGE_PORT_BASE=5460 EXCHANGE_REST_BASE=8460 EXCHANGE_ETCD_PORT=2391
export EXCHANGE_CLUSTER=exchange-dr-test EXCHANGE_DEMO=0
export EXCHANGE_MAX_ORDERS=400000 EXCHANGE_SHARED_BUFFERS=128MB
unset EXCHANGE_ROLE_HOOK
RESTORE_PORT=5468

suite_needs_root "the cluster runs as the postgres user"
suite_ports_free 5459 5460 5461 5462 5463 8461 8462 8463 2391 2392 $RESTORE_PORT

STATE=$(mktemp -d /tmp/exchange-dr.XXXXXX) || exit 2
chmod 755 "$STATE"
export EXCHANGE_STATE=$STATE

stop_all() {
	"$ROOT/scripts/pitr-restore.sh" --stop --dir="$STATE/restore" >/dev/null 2>&1 || true
	"$ROOT/scripts/cluster.sh" stop >/dev/null 2>&1 ||
		echo "dr-test: cluster.sh stop failed" >&2
}
suite_on_exit "$STATE" "${DR_KEEP:-}" "state" stop_all

start=$SECONDS
if ! timeout 240 "$ROOT/scripts/cluster.sh" start >/dev/null; then
	echo "dr-test: the cluster did not start" >&2
	tail -n 30 "$STATE"/log/*.log >&2
	exit 1
fi
echo "dr-test: cluster up, stanza created and checked in $((SECONDS - start)) s"

timeout --kill-after=20 600 "$PYTHON" "$HERE/backup_pitr.py" \
	--dsn "postgresql://postgres@127.0.0.1:5461,127.0.0.1:5462,127.0.0.1:5463/postgres?target_session_attrs=read-write" \
	--restore-dir "$STATE/restore" --restore-port "$RESTORE_PORT" "$@"
status=$?
[ "$status" -eq 0 ] || echo "dr-test: FAILED (exit $status)"
exit "$status"
