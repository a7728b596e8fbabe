#!/usr/bin/env bash
# Promote region B's standby cluster when region A is lost (README,
# "Region B").
#
#   scripts/promote-region-b.sh [--force]
#
# Refuses while region A's primary still answers (two primaries would take
# orders); --force skips that check -- only when region A is fenced off.
# Then: removes standby_cluster from region B's cluster configuration
# (patronictl edit-config), so Patroni promotes the standby leader; waits
# until the engine runs there (it rebuilds from the tables) and takes
# orders; creates region B's own stanza (<stanza>-b) so that its WAL is
# archived there and never into region A's; takes its first full backup
# (EXCHANGE_PROMOTE_BACKUP=0 skips it).
# EXCHANGE_STATE: region A's state directory (default /var/tmp/exchange).
set -euo pipefail
exec "$(cd "$(dirname "$0")" && pwd)/cluster.sh" region-b promote "$@"
