#!/bin/bash
# Region drill (test/dr/region_drill.py): region A, a 3-node cluster, and
# region B, its 3-node standby cluster, each with its own etcd and HAProxy
# (scripts/cluster.sh run, with their own state directory and ports);
# trading load on region A; SIGKILL of all of region A; promotion of region
# B; RPO and RTO measured; region B's invariants checked.  Everything it
# starts is stopped by its recorded PID.  Ends with one line
#   dr-drill: rpo_s=X rto_s=Y acked_lost=N violations=V
#
# Ports: region A PostgreSQL 5481-5483, HAProxy 5480/5479, REST 8481-8483,
# etcd 2395 (peer 2396); region B (+30) PostgreSQL 5511-5513, HAProxy
# 5510/5509, REST 8511-8513, etcd 2401 (peer 2402).
# Environment: DR_KEEP=1 keeps the state directory (always kept on
# failure); EXCHANGE_B_STREAM=0: region B follows from the archive only (no
# streaming from region A: the worst case, a region link already down).
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PYTHON=/usr/bin/python3
SUITE=dr-drill
. "$HERE/../lib/suite.sh"

export EXCHANGE_PORT_BASE=5480 EXCHANGE_REST_BASE=8480 EXCHANGE_ETCD_PORT=2395
export EXCHANGE_CLUSTER=exchange-drill EXCHANGE_DEMO=0
export EXCHANGE_MAX_ORDERS=400000 EXCHANGE_SHARED_BUFFERS=128MB
export EXCHANGE_B_STREAM=${EXCHANGE_B_STREAM:-1}
unset EXCHANGE_ROLE_HOOK

suite_needs_root "the clusters run as the postgres user"
suite_ports_free 5479 5480 5481 5482 5483 8481 8482 8483 2395 2396 \
	5509 5510 5511 5512 5513 8511 8512 8513 2401 2402

STATE=$(mktemp -d /tmp/exchange-drill.XXXXXX) || exit 2
chmod 755 "$STATE"
export EXCHANGE_STATE=$STATE

stop_regions() {
	# stops region B, then what is left of region A
	"$ROOT/scripts/cluster.sh" stop >/dev/null 2>&1 ||
		echo "dr-drill: cluster.sh stop failed" >&2
}
suite_on_exit "$STATE" "${DR_KEEP:-}" "state" stop_regions

start=$SECONDS
if ! timeout 600 "$ROOT/scripts/cluster.sh" run >"$STATE/run.log" 2>&1; then
	echo "dr-drill: the regions did not start" >&2
	tail -n 30 "$STATE/run.log" >&2
	exit 1
fi
echo "dr-drill: region A and region B (streaming from A: $EXCHANGE_B_STREAM) up in $((SECONDS - start)) s"

timeout --kill-after=20 900 "$PYTHON" "$HERE/region_drill.py" \
	--a-dsn "postgresql://postgres@127.0.0.1:5481,127.0.0.1:5482,127.0.0.1:5483/postgres?target_session_attrs=read-write" \
	--b-dsn "postgresql://postgres@127.0.0.1:5511,127.0.0.1:5512,127.0.0.1:5513/postgres?target_session_attrs=read-write&connect_timeout=1" \
	--b-standby-dsn "postgresql://postgres@127.0.0.1:5511,127.0.0.1:5512,127.0.0.1:5513/postgres?target_session_attrs=standby" \
	--state "$STATE" --repo "$STATE/backrest/repo2" "$@"
status=$?
[ "$status" -eq 0 ] || echo "dr-drill: FAILED (exit $status)"
exit "$status"
