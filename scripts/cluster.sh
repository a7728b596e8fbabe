#!/usr/bin/env bash
# The local 3-node exchange cluster: etcd, three Patroni nodes (PostgreSQL
# with the exchange preloaded), HAProxy in front -- region A -- and its
# standby cluster in region B (the same, following region A).
#
#   scripts/cluster.sh run       start region A, then region B (make run)
#   scripts/cluster.sh start     start what is not running, wait for a leader
#                                and a synchronous standby, create the
#                                extension (or update it to the installed
#                                version) and the demo data (idempotent)
#   scripts/cluster.sh stop      stop everything (region B first, if it
#                                exists), each process by its PID
#   scripts/cluster.sh status    patronictl list, engine status, processes
#   scripts/cluster.sh start-node NODE | start-etcd | stop-etcd | wait
#                                single steps, used by the HA drills
#   scripts/cluster.sh kill-region
#                                SIGKILL every process of this cluster at
#                                once (the region drill's "region lost")
#   scripts/cluster.sh region-b start|stop|status|promote [--force]|...
#                                the same commands for region B, whose
#                                state is $EXCHANGE_STATE/region-b
#                                (scripts/promote-region-b.sh = promote)
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
# scripts/demo.sql), EXCHANGE_MAX_ORDERS, EXCHANGE_SHARED_BUFFERS,
# EXCHANGE_B_STREAM (1: region B streams from region A where reachable;
# 0: it replays region A's archive only).
# Region B's settings follow from region A's (region_b below): scope
# <scope>-b, ports +30 (5470: HAProxy, 5471-5473 PostgreSQL, 8471-8473
# REST), etcd +6 (2385), stanza <stanza>-b, repository = region A's repo2.
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
	REGION=${EXCHANGE_REGION:-a}
	# region B only: what it follows and where it restores from
	UPSTREAM_PORT=${EXCHANGE_UPSTREAM_PORT:-}
	UPSTREAM_STANZA=${EXCHANGE_UPSTREAM_STANZA:-}
	REPO_B=${EXCHANGE_REPO_B:-}
	STREAM=${EXCHANGE_B_STREAM:-1}
fi
STANZA=${STANZA:-exchange}	# a cluster.env older than the backups
REGION=${REGION:-a}
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
	tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF -- "$marker" &&
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
		REGION=$REGION
		UPSTREAM_PORT=$UPSTREAM_PORT
		UPSTREAM_STANZA=$UPSTREAM_STANZA
		REPO_B=$REPO_B
		STREAM=$STREAM
		ENV
	fi
	# region A: pgBackRest repo1 = region A, repo2 = region B (local
	# directories here); region B uses region A's repo2
	local yml_filter bconf restore_stanza=$STANZA
	if [ "$REGION" = b ]; then
		[ -d "$REPO_B" ] || die "region B's repository $REPO_B does not exist"
		yml_filter='/^#A#/d; s/^#B#//'
		if [ "$STREAM" = 1 ]; then
			yml_filter+='; s/^#S#//'
		else
			yml_filter+='; /^#S#/d'
		fi
		bconf=$ROOT/backrest/pgbackrest-region-b.conf.in
		restore_stanza=$UPSTREAM_STANZA
	else
		yml_filter='/^#[BS]#/d; s/^#A#//'
		bconf=$ROOT/backrest/pgbackrest.conf.in
		mkdir -p "$STATE/backrest/repo1" "$STATE/backrest/repo2"
		chown postgres: "$STATE/backrest" "$STATE/backrest/repo1" "$STATE/backrest/repo2"
		chmod 750 "$STATE/backrest/repo1" "$STATE/backrest/repo2"
	fi
	install -m 755 "$ROOT/patroni/callback.sh" "$STATE/bin/patroni-callback.sh"
	install -m 755 "$ROOT/patroni/run_patroni.py" "$STATE/bin/run_patroni.py"
	install -m 755 "$ROOT/patroni/archive-get.sh" "$STATE/bin/archive-get.sh"
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
			-e "s|@RESTORE_STANZA@|$restore_stanza|g" \
			-e "s|@UPSTREAM_PORT@|$UPSTREAM_PORT|g" \
			-e "s|@UPSTREAM_STANZA@|$UPSTREAM_STANZA|g" \
			-e "$yml_filter" \
			"$ROOT/patroni/patroni.yml.in" > "$dir/patroni.yml"
		sed -e "s|@STATE@|$STATE|g" -e "s|@NODE_DIR@|$dir|g" \
			-e "s|@PG_PORT@|$(pg_port "$node")|g" -e "s|@STANZA@|$STANZA|g" \
			-e "s|@UPSTREAM_STANZA@|$UPSTREAM_STANZA|g" -e "s|@REPO_B@|$REPO_B|g" \
			"$bconf" > "$dir/pgbackrest.conf"
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

# leader: the name of the current leader (or standby leader), if any
leader() {
	members 2>/dev/null |
		awk '$2 == "Leader" || $2 == "Standby_Leader" {print $1; exit}' || true
}

# backrest ARGS...: pgBackRest with the leader's configuration, as postgres
# (stanza-create, check and backups need the primary as pg1)
backrest() {
	local l
	l=$(leader)
	[ -n "$l" ] || die "no leader: pgBackRest needs the primary"
	as_postgres pgbackrest --config="$STATE/$l/pgbackrest.conf" --stanza="$STANZA" "$@"
}

# backrest_retry CMD...: backrest, retried while another pgBackRest process
# holds the stanza's lock (error 50): an asynchronous archive-push of the
# WAL the new primary just wrote can hold it for a moment
backrest_retry() {
	local rc i
	for ((i = 0; i < 30; i++)); do
		rc=0
		backrest "$@" || rc=$?
		[ "$rc" -eq 50 ] || return "$rc"
		sleep 1
	done
	return "$rc"
}

# setup_backrest: create the stanza in both repositories (idempotent) and
# check that WAL reaches them
setup_backrest() {
	local ac
	backrest_retry stanza-create || die "pgbackrest stanza-create failed; see $STATE/node*/backrest-log"
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

# patronictl, bounded: with etcd gone it would retry for ever
patronictl_() {
	timeout 20 patronictl -c "$STATE/node1/patroni.yml" "$@"
}

# members: "name role state" lines, from patronictl list
members() {
	running etcd || return 1
	patronictl_ list -f json 2>/dev/null | "$PYTHON" -c '
import json, sys
for m in json.load(sys.stdin):
    print(m["Member"], m["Role"].replace(" ", "_"), m["State"])'
}

# is_standby_cluster: region B before its promotion (the standby_cluster
# section is still in the cluster's configuration in etcd)
is_standby_cluster() {
	[ "$REGION" = b ] || return 1
	patronictl_ show-config 2>/dev/null | grep -q '^standby_cluster:'
}

# wait_ready SECONDS: a leader and a synchronous standby, and the leader
# takes writes through the multi-host URL; in a standby cluster, a standby
# leader replaying region A's WAL and a replica following it
wait_ready() {
	local deadline=$((SECONDS + $1)) m
	while [ $SECONDS -lt $deadline ]; do
		m=$(members || true)
		if grep -Eq ' Standby_Leader (running|streaming|in archive recovery)' <<<"$m" &&
			grep -Eq ' Replica (running|streaming)' <<<"$m" &&
			psql -X -Atq "$(node_url "$(leader)")&connect_timeout=2" \
				-c "SELECT pg_is_in_recovery()" 2>/dev/null | grep -q t; then
			return 0
		fi
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

# node_url NODE: a connection URL for one node
node_url() {
	echo "postgresql://postgres@127.0.0.1:$(pg_port "$1")/postgres?application_name=cluster.sh"
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
	if [ "$REGION" = a ] && [ -e "$STATE/region-b/promoted" ]; then
		die "$(cat "$STATE/region-b/promoted"): starting region A now would make a second primary with stale data.  Region B is the primary cluster (scripts/cluster.sh region-b start); rebuild region A as its standby, or remove $STATE to start afresh."
	fi
	stop_legacy
	write_config
	start_etcd
	for node in "${NODES[@]}"; do
		start_node "$node"
	done
	start_haproxy
	if [ "$REGION" = b ]; then
		start_region_b
		return
	fi
	say "waiting for a leader and a synchronous standby"
	wait_ready 180 || die "no leader with a synchronous standby after 180 s; logs in $LOGDIR and $STATE/node*/pglog"
	psql -X -q "$URL" -v ON_ERROR_STOP=1 \
		-c "SET client_min_messages = warning" \
		-c "CREATE EXTENSION IF NOT EXISTS exchange" \
		-c "ALTER EXTENSION exchange UPDATE"
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
	if [ "$REGION" = a ] && [ -r "$STATE/region-b/cluster.env" ]; then
		say "stopping region B"
		EXCHANGE_STATE=$STATE/region-b "$0" stop
		say "stopping region A"
	fi
	# replicas first, so that stopping the leader promotes nobody
	leader=$(leader)
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
		tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF -- "$RUN/" ||
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
	if is_standby_cluster; then
		echo "standby cluster: the standby leader replays region A's WAL"
		replay_status
	else
		psql -X "$URL&connect_timeout=2" -c "SELECT * FROM exchange.engine_status()" 2>/dev/null ||
			say "no primary reachable"
	fi
	echo "last role changes ($STATE/role-changes.log):"
	tail -n 5 "$STATE/role-changes.log" 2>/dev/null || true
	if [ "$REGION" = a ] && [ -r "$STATE/region-b/cluster.env" ]; then
		echo
		echo "== region B ($STATE/region-b) =="
		EXCHANGE_STATE=$STATE/region-b "$0" status
	fi
}

# start_region_b: wait until region B follows region A (or, once promoted,
# has a leader and a synchronous standby like region A)
start_region_b() {
	local l
	say "region B: waiting for its leader (a standby leader following region A, until promoted) and a replica"
	wait_ready 300 || die "region B: not ready after 300 s; logs in $LOGDIR and $STATE/node*/pglog"
	l=$(leader)
	if is_standby_cluster; then
		psql -X -Atq "$(node_url "$l")" -c \
			"SELECT 'region B: standby leader ' || '$l' || ' replays region A''s WAL at ' || pg_last_wal_replay_lsn() || ', extension exchange ' || coalesce((SELECT extversion FROM pg_extension WHERE extname = 'exchange'), 'NOT YET REPLAYED')"
	else
		say "region B was promoted: $l is its primary"
	fi
}

# replay_status: the standby leader's position and lag (region B)
replay_status() {
	local l
	l=$(leader)
	[ -n "$l" ] || { say "no standby leader"; return 0; }
	psql -X "$(node_url "$l")&connect_timeout=2" -c "
SELECT pg_last_wal_receive_lsn() AS received, pg_last_wal_replay_lsn() AS replayed,
       pg_last_xact_replay_timestamp() AS last_replayed_commit,
       round(extract(epoch FROM now() - pg_last_xact_replay_timestamp())::numeric, 1) AS replay_age_s,
       (SELECT status || ' from ' || sender_host || ':' || sender_port
          FROM pg_stat_wal_receiver) AS streaming" 2>/dev/null ||
		say "the standby leader $l does not answer"
}

# promote [--force]: make region B's standby cluster the primary cluster
# (scripts/promote-region-b.sh; README "Region B")
promote() {
	local force=${1:-} t0=$SECONDS l i ok=
	[ "$REGION" = b ] || die "promote: only region B can be promoted (scripts/promote-region-b.sh)"
	is_standby_cluster || die "region B is not a standby cluster (already promoted?)"
	if [ "$force" != --force ] && psql -X -Atq \
		"postgresql://postgres@127.0.0.1:$UPSTREAM_PORT/postgres?connect_timeout=2" \
		-c "SELECT NOT pg_is_in_recovery()" 2>/dev/null | grep -q t; then
		die "region A's primary still answers on 127.0.0.1:$UPSTREAM_PORT: promoting region B now would make two primaries.  Stop region A first (or fence it), or pass --force if you are sure no client can reach it."
	fi
	l=$(leader)
	[ -n "$l" ] || die "region B has no standby leader; see patronictl list"
	say "region B: promoting (standby leader $l; removing standby_cluster from the cluster configuration)"
	patronictl_ edit-config -s standby_cluster=null --force >/dev/null ||
		die "patronictl edit-config failed"
	for ((i = 0; i < 1200; i++)); do
		if psql -X -Atq "$URL&connect_timeout=2" \
			-c "SELECT exchange.wait_for_engine(500)" 2>/dev/null | grep -q t; then
			ok=1
			break
		fi
		sleep 0.25
	done
	[ -n "$ok" ] || die "region B: no primary with a running engine 300 s after the promotion"
	say "region B: $(leader) is primary, engine ready, $((SECONDS - t0)) s after the promotion began"
	# region A must not come back as a second primary (start refuses)
	echo "region B promoted at $(date -u +%FT%TZ); region A's data is from before" >"$STATE/promoted"
	# region B's own stanza: WAL archived from now on goes there (never to
	# region A's stanza); archive-push retries until it exists
	backrest_retry stanza-create || die "pgbackrest stanza-create of $STANZA failed; see $STATE/node*/backrest-log"
	backrest check || die "pgbackrest check of $STANZA failed; see $STATE/node*/backrest-log"
	say "region B: archiving to stanza $STANZA in $REPO_B"
	if [ "${EXCHANGE_PROMOTE_BACKUP:-1}" = 1 ]; then
		backrest backup --type=full || die "the first full backup of $STANZA failed"
		say "region B: first full backup of $STANZA taken, $((SECONDS - t0)) s after the promotion began"
	fi
}

# kill_region: SIGKILL every process of this cluster at once -- every
# process under its supervisors: Patroni, PostgreSQL and all its backends,
# etcd, HAProxy -- as if its region were lost.  For the region drill.
kill_region() {
	local sup pid roots=() pids at
	for sup in "$RUN"/*.supervisor; do
		[ -e "$sup" ] || continue
		pid=$(cat "$sup" 2>/dev/null || true)
		tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF -- "$RUN/" || continue
		roots+=("$pid")
	done
	[ ${#roots[@]} -gt 0 ] || die "kill-region: nothing of $STATE is running"
	# every descendant, from one process listing, before the first signal
	pids=$(ps -e -o pid= -o ppid= | awk -v roots="${roots[*]}" '
		BEGIN { n = split(roots, r, " "); for (i = 1; i <= n; i++) keep[r[i]] = 1 }
		{ parent[$1] = $2 }
		END {
			do {
				added = 0
				for (p in parent)
					if (!(p in keep) && (parent[p] in keep)) { keep[p] = 1; added = 1 }
			} while (added)
			for (p in keep) print p
		}')
	at=$(date +%s.%N)
	# shellcheck disable=SC2086
	kill -KILL $pids 2>/dev/null || true
	say "kill-region: SIGKILL sent to $(wc -w <<<"$pids") processes of $STATE at $at"
}

# region_b COMMAND...: run this script for region B, whose settings follow
# from region A's
region_b() {
	local n=0
	[ "$REGION" = a ] || die "region-b: give region A's state directory (EXCHANGE_STATE)"
	[ -r "$STATE/cluster.env" ] || die "region A was never started in $STATE (scripts/cluster.sh start)"
	if [ "${1:-}" = start ] && [ ! -r "$STATE/region-b/cluster.env" ]; then
		# region B starts from region A's latest backup in repo2
		n=$(backrest info --repo=2 --output=json 2>/dev/null |
			"$PYTHON" -c 'import json, sys; print(sum(len(s["backup"]) for s in json.load(sys.stdin)))' ||
			echo 0)
		if [ "$n" = 0 ]; then
			say "region A: a full backup to repo2 (region B) for region B to start from"
			backrest backup --type=full --repo=2 ||
				die "the full backup to repo2 failed; see $STATE/node*/backrest-log"
		fi
	fi
	EXCHANGE_STATE=$STATE/region-b EXCHANGE_REGION=b EXCHANGE_CLUSTER=$SCOPE-b \
		EXCHANGE_PORT_BASE=$((PORT_BASE + 30)) EXCHANGE_REST_BASE=$((REST_BASE + 30)) \
		EXCHANGE_ETCD_PORT=$((ETCD_PORT + 6)) EXCHANGE_DEMO=0 \
		EXCHANGE_MAX_ORDERS=$MAX_ORDERS EXCHANGE_SHARED_BUFFERS=$SHARED_BUFFERS \
		EXCHANGE_STANZA=$STANZA-b EXCHANGE_UPSTREAM_PORT=$PORT_BASE \
		EXCHANGE_UPSTREAM_STANZA=$STANZA EXCHANGE_REPO_B=$STATE/backrest/repo2 \
		exec "$0" "$@"
}

connect_help() {
	cat <<MSG

The exchange runs on a 3-node Patroni cluster (state in $STATE):
  primary, any node:  psql '$URL'
  through HAProxy:    psql postgresql://postgres@127.0.0.1:$PORT_BASE/postgres   (primary)
                      psql postgresql://postgres@127.0.0.1:$((PORT_BASE - 1))/postgres   (replicas, read only)
  cluster:            patronictl -c $STATE/node1/patroni.yml list
  role changes:       $STATE/role-changes.log, SELECT * FROM exchange.role_change
Region B (standby cluster, follows region A; state in $STATE/region-b):
  standby leader:     psql postgresql://postgres@127.0.0.1:$((PORT_BASE + 30 + 1)),127.0.0.1:$((PORT_BASE + 30 + 2)),127.0.0.1:$((PORT_BASE + 30 + 3))/postgres
  cluster:            patronictl -c $STATE/region-b/node1/patroni.yml list
  promote it:         scripts/promote-region-b.sh   (only when region A is gone)
Try:   SELECT * FROM exchange.place_order(2, 'BTC-USDT', 'buy', 0.1, 65000);
       SELECT * FROM exchange.order_book('BTC-USDT');
Stop:  make stop
MSG
}

case "${1:-}" in
start)
	start
	[ "$REGION" = b ] || connect_help
	;;
run)
	start
	"$0" region-b start
	connect_help
	;;
region-b)
	shift
	region_b "$@"
	;;
promote)
	promote "${2:-}"
	;;
kill-region) kill_region ;;
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
	echo "usage: $0 run|start|stop|status|start-node NODE|start-etcd|stop-etcd|wait [SECONDS]|kill-region|backrest PGBACKREST-ARGS...|promote [--force]|region-b COMMAND..." >&2
	exit 2
	;;
esac
