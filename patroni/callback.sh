#!/usr/bin/env bash
# Patroni callback for on_start, on_stop and on_role_change:
#
#   callback.sh NODE_CONF ACTION ROLE CLUSTER
#
# (Patroni appends ACTION ROLE CLUSTER to the configured command.)  It
#  1. appends one line per call to the role-change log:
#       2026-01-02T03:04:05.678Z node2 on_role_change: replica -> primary (cluster exchange)
#     the old role is the one this script saw last on this node;
#  2. on the node that becomes primary, records the change in
#     exchange.role_change (exchange.record_role_change), retrying until
#     the extension and the engine are ready;
#  3. runs the optional hook command for every change of role.
# Steps 2 and 3 run in the background: Patroni waits for nothing and never
# blocks here (it kills a callback still running when the next one comes).
#
# NODE_CONF (written by scripts/cluster.sh) sets NODE, NODE_DIR, PGPORT,
# LOG, HOOK_FILE.  The hook is the command in the environment variable
# EXCHANGE_ROLE_HOOK or, if that is unset, the first line of HOOK_FILE
# that is not a comment; it is run as
#   HOOK NODE OLD_ROLE NEW_ROLE CLUSTER TIME
# with EXCHANGE_NODE, EXCHANGE_OLD_ROLE, EXCHANGE_NEW_ROLE,
# EXCHANGE_CLUSTER, EXCHANGE_CHANGED_AT in its environment, for at most
# 60 s, its output going to the role-change log.
set -u

conf=$1 action=$2
. "$conf" || exit 0

# Background part, started below as "callback.sh NODE_CONF record ...".
if [ "$action" = record ]; then
	old=$3 new=$4 cluster=$5 at=$6 event=$7
	deadline=$((SECONDS + ${RECORD_SECONDS:-180}))
	while [ $SECONDS -lt $deadline ]; do
		r=$(timeout 20 psql -XAtq -v ON_ERROR_STOP=1 \
			"postgresql://postgres@127.0.0.1:$PGPORT/postgres?connect_timeout=3&application_name=patroni-callback" \
			-v node="$NODE" -v old="$old" -v new="$new" -v cluster="$cluster" \
			-v at="$at" -v detail="patroni $event, $old -> $new" 2>&1 <<'SQL'
SELECT CASE
         WHEN pg_is_in_recovery() THEN 'standby'
         WHEN EXISTS (SELECT FROM exchange.role_change
                       WHERE node = :'node' AND changed_at = :'at') THEN 'done'
         WHEN NOT exchange.wait_for_engine(5000) THEN 'engine not ready'
         ELSE 'done (change_id ' || exchange.record_role_change(:'node', :'old',
                             :'new', :'cluster', :'detail', :'at') || ')'
       END
SQL
		)
		case "$r" in
		standby)
			# Patroni calls on_role_change as soon as it has asked for the
			# promotion: still in recovery is normal for a moment.  A later
			# callback that changed the role means the node was demoted.
			if [ "$(cat "$NODE_DIR/role" 2>/dev/null)" != primary ]; then
				echo "$(date -u +%FT%T.%3NZ) $NODE: demoted again before its change of $at was recorded in exchange.role_change"
				exit 0
			fi ;;
		done*)
			echo "$(date -u +%FT%T.%3NZ) $NODE: change of $at ($old -> $new) recorded in exchange.role_change${r#done}"
			exit 0 ;;
		esac
		sleep 1
	done
	echo "$(date -u +%FT%T.%3NZ) $NODE: could not record the change of $at ($old -> $new) in exchange.role_change: ${r:-no answer}"
	exit 0
fi

role=${3:-unknown} cluster=${4:-}
[ "$role" = master ] && role=primary
case "$action" in
on_stop) new=stopped ;;
*) new=$role ;;
esac
old=$(cat "$NODE_DIR/role" 2>/dev/null || echo unknown)
echo "$new" > "$NODE_DIR/role"
at=$(date -u +%FT%T.%3NZ)
echo "$at $NODE $action: $old -> $new (cluster $cluster)" >> "$LOG"

[ "$old" = "$new" ] && exit 0

if [ "$new" = primary ]; then
	setsid "$0" "$conf" record "$old" "$new" "$cluster" "$at" "$action" \
		</dev/null >>"$LOG" 2>&1 &
fi

hook=${EXCHANGE_ROLE_HOOK:-}
if [ -z "$hook" ] && [ -r "$HOOK_FILE" ]; then
	hook=$(grep -v '^[[:space:]]*\(#\|$\)' "$HOOK_FILE" | head -n 1)
fi
if [ -n "$hook" ]; then
	EXCHANGE_NODE=$NODE EXCHANGE_OLD_ROLE=$old EXCHANGE_NEW_ROLE=$new \
	EXCHANGE_CLUSTER=$cluster EXCHANGE_CHANGED_AT=$at \
		setsid timeout 60 bash -c "$hook \"\$@\"" hook "$NODE" "$old" "$new" \
		"$cluster" "$at" </dev/null >>"$LOG" 2>&1 &
fi
exit 0
