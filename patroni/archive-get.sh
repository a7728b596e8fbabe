#!/bin/sh
# restore_command of region B's standby cluster (patroni/patroni.yml.in):
#
#   archive-get.sh STANZA %f "%p"
#
# The standby_cluster section is one setting for every node of region B,
# but on this one machine each node has its own pgBackRest configuration
# (its own spool, lock and log paths): PostgreSQL runs restore_command in
# the node's data directory, whose parent holds that node's
# pgbackrest.conf.  (On real hosts, each with /etc/pgbackrest/pgbackrest.conf,
# restore_command is simply: pgbackrest --stanza=STANZA archive-get %f "%p".)
exec pgbackrest --config="$(pwd -P)/../pgbackrest.conf" --stanza="$1" archive-get "$2" "$3"
