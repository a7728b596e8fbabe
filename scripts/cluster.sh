#!/usr/bin/env bash
# The local 3-node exchange cluster: etcd, three Patroni nodes (PostgreSQL
# with the exchange preloaded), HAProxy in front.
#
#   scripts/cluster.sh start     start what is not running, wait for a leader
#                                and a synchronous standby, create the
#                                extension and the demo data (idempotent)
#   scripts/cluster.sh stop      stop everything, each process by its PID
#   scripts/cluster.sh status    patronictl list, engine status, processes
#   scripts/cluster.sh start-node NODE | start-etcd | stop-etcd | wait
#                                single steps, used by the HA drills
#
# All state lives in $EXCHANGE_STATE (default /var/tmp/exchange):
#   cluster.env        the settings below, as first started (later commands
#                      read them, so `stop` needs only EXCHANGE_STATE)
#   etcd/              etcd's data;   node1..3/  data/, pglog/, patroni.yml
#   run/*.pid          daemons' PIDs; log/*.log  their output
#   role-changes.log   every Patroni start, stop and role change
# Settings (environment, first start only): EXCHANGE_CLUSTER (scope,
# "exchange"), EXCHANGE_PORT_BASE (5440: HAProxy primary; nodes on +1..+3;
# HAProxy replicas on -1), EXCHANGE_REST_BASE (8440: node REST on +1..+3),
# EXCHANGE_ETCD_PORT (2379; peer port +1), EXCHANGE_DEMO (1: load
# scripts/demo.sql), EXCHANGE_MAX_ORDERS, EXCHANGE_SHARED_BUFFERS.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/test/lib/pgserver.sh"
PYTHON=/usr/bin/python3

STATE=${EXCHANGE_STATE:-/var/tmp/exchange}
if [ -r "$STATE/cluster.env" ]; then
	. "$STATE/cluster.env"
else
	SCOPE=${EXCHANGE_CLUSTER:-exchange}
	PORT_BASE=${EXCHANGE_PORT_BASE:-5440}
	REST_BASE=${EXCHANGE_REST_BASE:-8440}
	ETCD_PORT=${EXCHANGE_ETCD_PORT:-2379}
	DEMO=${EXCHANGE_DEMO:-1}
	MAX_ORDERS=${EXCHANGE_MAX_ORDERS:-1000000}
	SHARED_BUFFERS=${EXCHANGE_SHARED_BUFFERS:-256MB}
	STANZA=${EXCHANGE_STANZA:-exchange}
fi
STANZA=${STANZA:-exchange}	# a cluster.env older than the backups
NODES=(node1 node2 node3)
HOSTS="127.0.0.1:$((PORT_BASE + 1)),127.0.0.1:$((PORT_BASE + 2)),127.0.0.1:$((PORT_BASE + 3))"
URL="postgresql://postgres@$HOSTS/postgres?target_session_attrs=read-write"
RUN=$STATE/run
LOGDIR=$STATE/log

say() { echo "cluster: $*"; }
die() { echo "cluster: $*" >&2; exit 1; }

node_index() { echo "${1#node}"; }
pg_port() { echo $((PORT_BASE + $(node_index "$1"))); }
rest_port() { echo $((REST_BASE + $(node_index "$1"))); }

# alive PID: the process exists and is not a zombie
alive() {
	local stat
	[ -n "${1:-}" ] || return 1
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[ -n "$stat" ] && [ "${stat%% *}" != Z ]
}

# pid_of NAME: the PID recorded in run/NAME.pid, if that process is still
# the one started for this state directory (its command line names it)
pid_of() {
	local pid marker
	pid=$(cat "$RUN/$1.pid" 2>/dev/null) || return 0
	case $1 in
	etcd) marker=$STATE/etcd ;;
	haproxy) marker=$STATE/haproxy.cfg ;;
	*) marker=$STATE/$1/patroni.yml ;;
	esac
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$marker" &&
		echo "$pid"
	return 0
}
running() { alive "$(pid_of "$1")"; }

# postmaster_pid DATADIR: from postmaster.pid, if that process still runs
# in DATADIR (a stale file must not make us signal another process)
postmaster_pid() {
	local pid
	pid=$(head -n 1 "$1/postmaster.pid" 2>/dev/null) || return 0
	[ -n "$pid" ] && [ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" = \
		"$(realpath "$1" 2>/dev/null)" ] && echo "$pid"
	return 0
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_gone PID SECONDS: true once the process has ended
wait_gone() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		alive "$1" || return 0
		sleep 0.1
	done
	return 1
}

# launch NAME COMMAND...: run COMMAND as postgres under scripts/supervise.py
launch() {
	local name=$1 i
	shift
	rm -f "$RUN/$name.pid"
	setsid "$PYTHON" "$ROOT/scripts/supervise.py" "$RUN/$name.pid" \
		"$LOGDIR/$name.log" -- \
		setpriv --reuid=postgres --regid=postgres --init-groups \
		env HOME=/var/lib/postgresql "$@" \
		</dev/null >>"$LOGDIR/$name.log" 2>&1 &
	for ((i = 0; i < 100; i++)); do
		[ -s "$RUN/$name.pid" ] && return 0
		sleep 0.05
	done
	die "$name did not start; see $LOGDIR/$name.log"
}

# stop_pid NAME PID SIGNAL SECONDS: signal one process, wait, then SIGKILL
stop_pid() {
	local name=$1 pid=$2 sig=$3 secs=$4
	alive "$pid" || return 0
	kill -CONT "$pid" 2>/dev/null	# a stopped process would not act on sig
	kill -"$sig" "$pid" 2>/dev/null || return 0
	wait_gone "$pid" "$secs" && return 0
	say "$name (pid $pid) still running after ${secs}s: SIGKILL"
	kill -KILL "$pid" 2>/dev/null || true
	wait_gone "$pid" 5 || true
}

write_config() {
	local node dir
	mkdir -p "$STATE" "$RUN" "$LOGDIR" "$STATE/bin" "$STATE/etcd"
	chmod 755 "$STATE"
	if [ ! -r "$STATE/cluster.env" ]; then
		cat > "$STATE/cluster.env" <<-ENV
		SCOPE=$SCOPE
		PORT_BASE=$PORT_BASE
		REST_BASE=$REST_BASE
		ETCD_PORT=$ETCD_PORT
		DEMO=$DEMO
		MAX_ORDERS=$MAX_ORDERS
		SHARED_BUFFERS=$SHARED_BUFFERS
		STANZA=$STANZA
		ENV
	fi
	# pgBackRest: repo1 = region A, repo2 = region B (local directories here)
	mkdir -p "$STATE/backrest/repo1" "$STATE/backrest/repo2"
	chown postgres: "$STATE/backrest" "$STATE/backrest/repo1" "$STATE/backrest/repo2"
	chmod 750 "$STATE/backrest/repo1" "$STATE/backrest/repo2"
	install -m 755 "$ROOT/patroni/callback.sh" "$STATE/bin/patroni-callback.sh"
	install -m 755 "$ROOT/patroni/run_patroni.py" "$STATE/bin/run_patroni.py"
	[ -e "$STATE/role-change-hook" ] || cat > "$STATE/role-change-hook" <<-'HOOK'
	# Command run on every role change of a node (first line that is not a
	# comment), as: HOOK NODE OLD_ROLE NEW_ROLE CLUSTER TIME.  The
	# environment variable EXCHANGE_ROLE_HOOK, if set when the cluster
	# starts, takes precedence.  Example:
	# logger -t exchange-role-change
	HOOK
	touch "$STATE/role-changes.log"
	for node in "${NODES[@]}"; do
		dir=$STATE/$node
		mkdir -p "$dir/pglog" "$dir/backrest-log" "$dir/backrest-spool" "$dir/backrest-lock"
		cat > "$dir/callback.conf" <<-CONF
		NODE=$node
		NODE_DIR=$dir
		PGPORT=$(pg_port "$node")
		LOG=$STATE/role-changes.log
		HOOK_FILE=$STATE/role-change-hook
		CONF
		sed -e "s|@SCOPE@|$SCOPE|g" -e "s|@NODE@|$node|g" \
			-e "s|@PG_PORT@|$(pg_port "$node")|g" \
			-e "s|@REST_PORT@|$(rest_port "$node")|g" \
			-e "s|@ETCD_PORT@|$ETCD_PORT|g" \
			-e "s|@NODE_DIR@|$dir|g" -e "s|@STATE@|$STATE|g" \
			-e "s|@PGBIN@|$PGBIN|g" \
			-e "s|@CALLBACK@|$STATE/bin/patroni-callback.sh $dir/callback.conf|g" \
			-e "s|@MAX_ORDERS@|$MAX_ORDERS|g" \
			-e "s|@MAX_ACCOUNTS@|$((MAX_ORDERS / 2))|g" \
			-e "s|@MAX_BALANCES@|$MAX_ORDERS|g" \
			-e "s|@MAX_PRICE_LEVELS@|$((MAX_ORDERS / 5))|g" \
			-e "s|@SHARED_BUFFERS@|$SHARED_BUFFERS|g" \
			-e "s|@STANZA@|$STANZA|g" \
			"$ROOT/patroni/patroni.yml.in" > "$dir/patroni.yml"
		sed -e "s|@STATE@|$STATE|g" -e "s|@NODE_DIR@|$dir|g" \
			-e "s|@PG_PORT@|$(pg_port "$node")|g" -e "s|@STANZA@|$STANZA|g" \
			"$ROOT/backrest/pgbackrest.conf.in" > "$dir/pgbackrest.conf"
	done
	sed -e "s|@PORT_BASE@|$PORT_BASE|g" \
		-e "s|@REPLICA_PORT@|$((PORT_BASE - 1))|g" \
		-e "s|@PG_PORT1@|$((PORT_BASE + 1))|g" -e "s|@PG_PORT2@|$((PORT_BASE + 2))|g" \
		-e "s|@PG_PORT3@|$((PORT_BASE + 3))|g" \
		-e "s|@REST_PORT1@|$((REST_BASE + 1))|g" -e "s|@REST_PORT2@|$((REST_BASE + 2))|g" \
		-e "s|@REST_PORT3@|$((REST_BASE + 3))|g" \
		"$ROOT/patroni/haproxy.cfg.in" > "$STATE/haproxy.cfg"
	chown postgres: "$STATE" "$RUN" "$LOGDIR" "$STATE/etcd" "$STATE/haproxy.cfg" \
		"$STATE/role-changes.log" "$STATE"/node?
	chown -R postgres: "$STATE"/node?/pglog "$STATE"/node?/*.conf "$STATE"/node?/*.yml \
		"$STATE"/node?/backrest-*
}

# as_postgres COMMAND...: run COMMAND as the postgres user
as_postgres() {
	setpriv --reuid=postgres --regid=postgres --init-groups \
		env HOME=/var/lib/postgresql "$@"
}

# leader: the name of the current leader, if any
leader() {
	members 2>/dev/null | awk '$2 == "Leader" {print $1; exit}' || true
}

# backrest ARGS...: pgBackRest with the leader's configuration, as postgres
# (stanza-create, check and backups need the primary as pg1)
backrest() {
	local l
	l=$(leader)
	[ -n "$l" ] || die "no leader: pgBackRest needs the primary"
	as_postgres pgbackrest --config="$STATE/$l/pgbackrest.conf" --stanza="$STANZA" "$@"
}

# setup_backrest: create the stanza in both repositories (idempotent) and
# check that WAL reaches them
setup_backrest() {
	local ac
	backrest stanza-create || die "pgbackrest stanza-create failed; see $STATE/node*/backrest-log"
	ac=$(psql -X -Atq "$URL&connect_timeout=2" -c "SHOW archive_command" 2>/dev/null || true)
	case $ac in
	*pgbackrest*) backrest check || die "pgbackrest check failed; see $STATE/node*/backrest-log" ;;
	*) say "WARNING: this running cluster predates archiving to pgBackRest; restart it (make stop; make run)" ;;
	esac
}

etcdctl_() {
	ETCDCTL_API=3 etcdctl --endpoints="http://127.0.0.1:$ETCD_PORT" \
		--dial-timeout=1s --command-timeout=2s "$@"
}

start_etcd() {
	local i
	if ! running etcd; then
		port_busy "$ETCD_PORT" && die "port $ETCD_PORT is taken by another program"
		launch etcd etcd --name "$SCOPE-etcd" --data-dir "$STATE/etcd" \
			--listen-client-urls "http://127.0.0.1:$ETCD_PORT" \
			--advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
			--listen-peer-urls "http://127.0.0.1:$((ETCD_PORT + 1))" \
			--initial-advertise-peer-urls "http://127.0.0.1:$((ETCD_PORT + 1))" \
			--initial-cluster "$SCOPE-etcd=http://127.0.0.1:$((ETCD_PORT + 1))" \
			--initial-cluster-state new \
			--auto-compaction-mode periodic --auto-compaction-retention 1h
	fi
	for ((i = 0; i < 100; i++)); do
		etcdctl_ endpoint health >/dev/null 2>&1 && return 0
		running etcd || break
		sleep 0.2
	done
	die "etcd is not healthy; see $LOGDIR/etcd.log"
}

stop_etcd() {
	stop_pid etcd "$(pid_of etcd)" TERM 20
}

start_haproxy() {
	running haproxy && return 0
	for p in "$PORT_BASE" "$((PORT_BASE - 1))"; do
		port_busy "$p" && die "port $p is taken by another program"
	done
	haproxy -c -q -f "$STATE/haproxy.cfg" || die "haproxy.cfg is invalid"
	launch haproxy haproxy -db -f "$STATE/haproxy.cfg"
}

start_node() {
	local node=$1
	running "$node" && return 0
	if ! alive "$(postmaster_pid "$STATE/$node/data")"; then
		port_busy "$(pg_port "$node")" &&
			die "port $(pg_port "$node") is taken by another program"
	fi
	port_busy "$(rest_port "$node")" &&
		die "port $(rest_port "$node") is taken by another program"
	# Patroni, with a fix for 3.0.2 (patroni/run_patroni.py)
	launch "$node" "$PYTHON" "$STATE/bin/run_patroni.py" "$STATE/$node/patroni.yml"
}

patronictl_() {
	patronictl -c "$STATE/node1/patroni.yml" "$@"
}

# members: "name role state" lines, from patronictl list
members() {
	patronictl_ list -f json 2>/dev/null | "$PYTHON" -c '
import json, sys
for m in json.load(sys.stdin):
    print(m["Member"], m["Role"].replace(" ", "_"), m["State"])'
}

# wait_ready SECONDS: a leader and a synchronous standby, and the leader
# takes writes through the multi-host URL
wait_ready() {
	local deadline=$((SECONDS + $1)) m
	while [ $SECONDS -lt $deadline ]; do
		m=$(members || true)
		if grep -q ' Leader running' <<<"$m" &&
			grep -Eq ' Sync_Standby (running|streaming)' <<<"$m" &&
			psql -X -Atq "$URL&connect_timeout=2" -c "SELECT 1" >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.5
	done
	patronictl_ list || true
	return 1
}

# stop_legacy: make run used to start one server in $STATE/data
stop_legacy() {
	if alive "$(postmaster_pid "$STATE/data")"; then
		say "stopping the single server of an earlier make run ($STATE/data)"
		pg_stop "$STATE"
	fi
}

start() {
	local node
	[ "$(id -u)" -eq 0 ] || die "run as root (PostgreSQL and Patroni run as the postgres user)"
	stop_legacy
	write_config
	start_etcd
	for node in "${NODES[@]}"; do
		start_node "$node"
	done
	start_haproxy
	say "waiting for a leader and a synchronous standby"
	wait_ready 180 || die "no leader with a synchronous standby after 180 s; logs in $LOGDIR and $STATE/node*/pglog"
	psql -X -q "$URL" -v ON_ERROR_STOP=1 \
		-c "SET client_min_messages = warning" \
		-c "CREATE EXTENSION IF NOT EXISTS exchange"
	if [ "$DEMO" = 1 ]; then
		psql -X -q "$URL" -f "$ROOT/scripts/demo.sql"
	else
		psql -X -Atq "$URL" -c "SELECT exchange.wait_for_engine(30000)" | grep -q t ||
			die "the engine did not start on the leader"
	fi
	setup_backrest
}

stop() {
	local node pid leader others=() sup child
	[ -d "$STATE" ] || { say "nothing to stop in $STATE"; return 0; }
	# replicas first, so that stopping the leader promotes nobody
	leader=$(members 2>/dev/null | awk '$2 == "Leader" {print $1; exit}' || true)
	for node in "${NODES[@]}"; do
		[ "$node" = "$leader" ] || others+=("$node")
	done
	for node in "${others[@]}" ${leader:-}; do
		pid=$(pid_of "$node")
		if alive "$pid"; then
			kill -CONT "$pid" 2>/dev/null || true
			kill -TERM "$pid" 2>/dev/null || true
			wait_gone "$pid" 60 || stop_pid "patroni $node" "$pid" KILL 5
		fi
	done
	# a PostgreSQL that outlived its Patroni
	for node in "${NODES[@]}"; do
		stop_pid "postgres $node" "$(postmaster_pid "$STATE/$node/data")" INT 60
	done
	stop_pid haproxy "$(pid_of haproxy)" TERM 10
	stop_etcd
	# supervisors end by themselves once their children are gone; callback
	# jobs they adopted are ended by their PIDs
	for sup in "$RUN"/*.supervisor; do
		[ -e "$sup" ] || continue
		pid=$(cat "$sup" 2>/dev/null || true)
		# ours only if its command line names this run directory
		tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$RUN/" ||
			continue
		wait_gone "$pid" 3 && continue
		for child in $(pgrep -P "$pid" || true); do
			stop_pid "child $child of supervisor $pid" "$child" TERM 5
		done
		wait_gone "$pid" 5 || stop_pid "supervisor $pid" "$pid" KILL 2
	done
	stop_legacy
}

status() {
	local name pid
	if ! running etcd; then
		say "etcd is not running ($STATE)"
	else
		patronictl_ list || true
	fi
	for name in etcd haproxy "${NODES[@]}"; do
		pid=$(pid_of "$name")
		if alive "$pid"; then
			printf '  %-8s pid %s\n' "$name" "$pid"
		else
			printf '  %-8s not running\n' "$name"
		fi
	done
	psql -X "$URL&connect_timeout=2" -c "SELECT * FROM exchange.engine_status()" 2>/dev/null ||
		say "no primary reachable"
	echo "last role changes ($STATE/role-changes.log):"
	tail -n 5 "$STATE/role-changes.log" 2>/dev/null || true
}

connect_help() {
	cat <<MSG

The exchange runs on a 3-node Patroni cluster (state in $STATE):
  primary, any node:  psql '$URL'
  through HAProxy:    psql postgresql://postgres@127.0.0.1:$PORT_BASE/postgres   (primary)
                      psql postgresql://postgres@127.0.0.1:$((PORT_BASE - 1))/postgres   (replicas, read only)
  cluster:            patronictl -c $STATE/node1/patroni.yml list
  role changes:       $STATE/role-changes.log, SELECT * FROM exchange.role_change
Try:   SELECT * FROM exchange.place_order(2, 'BTC-USDT', 'buy', 0.1, 65000);
       SELECT * FROM exchange.order_book('BTC-USDT');
Stop:  make stop
MSG
}

case "${1:-}" in
start)
	start
	connect_help
	;;
stop)
	stop
	say "stopped"
	;;
status) status ;;
start-node) start_node "$2" ;;
start-etcd) start_etcd ;;
stop-etcd) stop_etcd ;;
wait) wait_ready "${2:-60}" ;;
backrest)
	shift
	backrest "$@"
	;;
*)
	echo "usage: $0 start|stop|status|start-node NODE|start-etcd|stop-etcd|wait [SECONDS]|backrest PGBACKREST-ARGS..." >&2
	exit 2
	;;
esac
