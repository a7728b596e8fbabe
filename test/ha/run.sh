#!/bin/bash
# HA drills: a 3-node Patroni cluster of its own (scripts/cluster.sh with its
# own state directory and ports), concurrent traders through the multi-host
# URL and HAProxy, then leader SIGKILLs, a switchover, a killed and a frozen
# Patroni, an etcd outage, and crashes of the synchronous standby's node and
# of both replicas' nodes (test/ha/drills.py).  The cluster is stopped,
# process by process, whatever happens.
#
# Usage (from the repo root, as root):
#   test/ha/run.sh [drills.py options, e.g. --seed 123 --only switchover]
# Environment: HA_KEEP=1 keeps the state directory (it is always kept on
# failure).  Ports: PostgreSQL 5451-5453, HAProxy 5450 (primary) and 5449
# (replicas), Patroni REST 8451-8453, etcd 2381 (peer 2382).
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PYTHON=/usr/bin/python3
SUITE=ha-test
. "$HERE/../lib/suite.sh"

export EXCHANGE_PORT_BASE=5450 EXCHANGE_REST_BASE=8450 EXCHANGE_ETCD_PORT=2381
export EXCHANGE_CLUSTER=exchange-ha-test EXCHANGE_DEMO=0
export EXCHANGE_MAX_ORDERS=200000 EXCHANGE_SHARED_BUFFERS=128MB
unset EXCHANGE_ROLE_HOOK

suite_needs_root "the cluster runs as the postgres user"
suite_ports_free 5449 5450 5451 5452 5453 8451 8452 8453 2381 2382

STATE=$(mktemp -d /tmp/exchange-ha.XXXXXX) || exit 2
chmod 755 "$STATE"
export EXCHANGE_STATE=$STATE
# the role-change hook (README): drills.py checks it ran for every change
echo "echo >> $STATE/hook-calls.log" > "$STATE/role-change-hook"

stop_cluster() {
	"$ROOT/scripts/cluster.sh" stop >/dev/null 2>&1 ||
		echo "ha-test: cluster.sh stop failed" >&2
}
suite_on_exit "$STATE" "${HA_KEEP:-}" "state (log/, node*/pglog/, role-changes.log)" stop_cluster

start=$SECONDS
if ! timeout 240 "$ROOT/scripts/cluster.sh" start; then
	echo "ha-test: the cluster did not start" >&2
	tail -n 30 "$STATE"/log/*.log >&2
	exit 1
fi
echo "ha-test: cluster up in $((SECONDS - start)) s"

# drills.py bounds every wait; timeout is the last resort
timeout --kill-after=20 720 "$PYTHON" "$HERE/drills.py" --state "$STATE" \
	--port-base "$EXCHANGE_PORT_BASE" --rest-base "$EXCHANGE_REST_BASE" "$@"
status=$?
echo "role changes seen by the Patroni callbacks:"
sed 's/^/  /' "$STATE/role-changes.log"
if [ "$status" -ne 0 ]; then
	echo "ha-test: FAILED (exit $status)"
fi
exit "$status"
