#!/usr/bin/env bash
# Point-in-time restore of the exchange's pgBackRest stanza into a fresh
# directory, started as a single server on a spare port -- the answer to
# "someone deleted data at 14:02".  The cluster is not touched.
#
#   scripts/pitr-restore.sh --repo=1|2 (--name=RESTORE_POINT | --time='YYYY-MM-DD HH:MM:SS+00' | --latest)
#                           --dir=NEW_DIR --port=PORT [--set=BACKUP_LABEL] [--state=DIR] [--stanza=NAME]
#   scripts/pitr-restore.sh --stop --dir=NEW_DIR
#
# --repo      restore from this repository only (1 = region A, 2 = region B)
# --set       the backup to start from (pgbackrest info); for --time
#             pgBackRest picks the last backup before that time itself, for
#             --name it takes the latest backup, which must not be newer
#             than the restore point: name one older than the point
# --state     the cluster's state directory (default $EXCHANGE_STATE or
#             /var/tmp/exchange): the repositories are under backrest/ there
# --dir       must not exist yet: NEW_DIR/data is the restored data
#             directory, NEW_DIR/server.log its log, NEW_DIR/pgbackrest.conf
#             the configuration used (only the chosen repository)
# The restored server replays the archive up to the target, then is
# promoted (a new timeline, its own: it archives nowhere); the engine
# starts and rebuilds from the restored tables.  Its postgresql.conf is
# replaced (the cluster's names the cluster's archive_command, standbys and
# pg_hba); it keeps the cluster's sizes (max_connections, exchange.*).
# Wait for it with: psql -h NEW_DIR -p PORT -c 'SELECT exchange.wait_for_engine(60000)'
# Stop it with --stop (by its recorded PID).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PGBIN=/usr/lib/postgresql/15/bin
PYTHON=/usr/bin/python3

die() { echo "pitr-restore: $*" >&2; exit 1; }
as_postgres() {
	setpriv --reuid=postgres --regid=postgres --init-groups \
		env HOME=/var/lib/postgresql "$@"
}

SET= REPO= TARGET_TYPE= TARGET= DIR= PORT= STOP=
STATE=${EXCHANGE_STATE:-/var/tmp/exchange}
STANZA=
for arg in "$@"; do
	case $arg in
	--repo=*) REPO=${arg#*=} ;;
	--name=*) TARGET_TYPE=name TARGET=${arg#*=} ;;
	--time=*) TARGET_TYPE=time TARGET=${arg#*=} ;;
	--latest) TARGET_TYPE=latest ;;
	--dir=*) DIR=${arg#*=} ;;
	--port=*) PORT=${arg#*=} ;;
	--state=*) STATE=${arg#*=} ;;
	--stanza=*) STANZA=${arg#*=} ;;
	--set=*) SET=${arg#*=} ;;
	--stop) STOP=1 ;;
	*) die "unknown argument $arg (see the head of $0)" ;;
	esac
done
[ -n "$DIR" ] || die "--dir is required"

if [ -n "$STOP" ]; then
	pid=$(cat "$DIR/postmaster.supervised.pid" 2>/dev/null || true)
	[ -n "$pid" ] || { echo "pitr-restore: nothing running in $DIR"; exit 0; }
	# ours only if its command line names this directory
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$DIR/data" ||
		{ echo "pitr-restore: nothing running in $DIR"; exit 0; }
	kill -INT "$pid" 2>/dev/null || true
	for _ in $(seq 1 600); do
		kill -0 "$pid" 2>/dev/null || exit 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	exit 0
fi

case $REPO in 1 | 2) ;; *) die "--repo=1 or --repo=2" ;; esac
[ -n "$TARGET_TYPE" ] || die "one of --name=, --time=, --latest"
[ -n "$PORT" ] || die "--port is required"
[ ! -e "$DIR" ] || die "$DIR exists: restore into a fresh directory"
[ "$(id -u)" -eq 0 ] || die "run as root (the server runs as the postgres user)"
if [ -z "$STANZA" ]; then
	STANZA=$(sed -n 's/^STANZA=//p' "$STATE/cluster.env" 2>/dev/null || true)
	STANZA=${STANZA:-exchange}
fi
REPO_PATH=$STATE/backrest/repo$REPO
[ -d "$REPO_PATH" ] || die "no repository $REPO_PATH"
(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && die "port $PORT is in use"

mkdir -p "$DIR" "$DIR/backrest-log" "$DIR/backrest-lock"
chown postgres: "$DIR" "$DIR/backrest-log" "$DIR/backrest-lock"
chmod 700 "$DIR"
# only the chosen repository: nothing can come from the other one
cat > "$DIR/pgbackrest.conf" <<CONF
[global]
repo$REPO-type=posix
repo$REPO-path=$REPO_PATH
lock-path=$DIR/backrest-lock
log-path=$DIR/backrest-log
log-level-console=warn
log-level-file=info
process-max=2
compress-type=lz4

[$STANZA]
pg1-path=$DIR/data
CONF
chown postgres: "$DIR/pgbackrest.conf"

args=(--config="$DIR/pgbackrest.conf" --stanza="$STANZA" --repo="$REPO" restore)
[ -z "$SET" ] || args+=(--set="$SET")
case $TARGET_TYPE in
name | time) args+=(--type="$TARGET_TYPE" --target="$TARGET" --target-action=promote) ;;
latest) args+=(--type=default) ;;
esac
t0=$(date +%s.%N)
as_postgres pgbackrest "${args[@]}" || die "pgbackrest restore failed; see $DIR/backrest-log"
t1=$(date +%s.%N)

# the cluster's conf, replaced; sizes kept (max_connections etc. must be
# >= the primary's or recovery stops)
conf=$DIR/data/postgresql.conf
keep=$(grep -E "^[[:space:]]*(max_connections|max_worker_processes|max_wal_senders|max_prepared_transactions|max_locks_per_transaction|shared_buffers|exchange\.[a-z_]+)[[:space:]]*=" "$conf" || true)
mv "$conf" "$DIR/postgresql.conf.cluster"
{
	echo "# written by scripts/pitr-restore.sh: a single server restored from repo$REPO"
	echo "listen_addresses = '127.0.0.1'"
	echo "port = $PORT"
	echo "unix_socket_directories = '$DIR'"
	echo "hba_file = '$DIR/data/pg_hba.conf'"
	echo "ident_file = '$DIR/data/pg_ident.conf'"
	echo "shared_preload_libraries = 'exchange'"
	echo "$keep" | grep -q '^exchange.database' || echo "exchange.database = 'postgres'"
	echo "archive_mode = off"
	echo "logging_collector = off"
	echo "$keep"
} > "$conf"
printf 'local all all trust\nhost all all 127.0.0.1/32 trust\n' > "$DIR/data/pg_hba.conf"
: > "$DIR/data/pg_ident.conf"
# pgBackRest wrote restore_command and the target into postgresql.auto.conf;
# its restore_command names our configuration (only the chosen repository)
chown postgres: "$conf" "$DIR/data/pg_hba.conf" "$DIR/data/pg_ident.conf"
chmod 600 "$conf"

setsid "$PYTHON" "$ROOT/scripts/supervise.py" "$DIR/postmaster.supervised.pid" \
	"$DIR/server.log" -- \
	setpriv --reuid=postgres --regid=postgres --init-groups \
	env HOME=/var/lib/postgresql "$PGBIN/postgres" -D "$DIR/data" \
	</dev/null >>"$DIR/server.log" 2>&1 &
# wait until recovery has ended (promoted) or, for --latest, it accepts writes
for _ in $(seq 1 1200); do
	if [ "$(psql -X -Atq -h "$DIR" -p "$PORT" -U postgres -d postgres -c 'SELECT NOT pg_is_in_recovery()' 2>/dev/null)" = t ]; then
		t2=$(date +%s.%N)
		echo "pitr-restore: restored from repo$REPO ($TARGET_TYPE${TARGET:+ $TARGET}) into $DIR in $(awk "BEGIN{printf \"%.1f\", $t1 - $t0}") s; recovery and promotion $(awk "BEGIN{printf \"%.1f\", $t2 - $t1}") s; server on 127.0.0.1:$PORT"
		exit 0
	fi
	pid=$(cat "$DIR/postmaster.supervised.pid" 2>/dev/null || true)
	[ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null && break
	sleep 0.25
done
tail -n 20 "$DIR/server.log" >&2
"$0" --stop --dir="$DIR"
die "the restored server did not finish recovery; log in $DIR/server.log"
