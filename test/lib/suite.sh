# What the test suites' scripts (test/*/run.sh, test/dr/drill.sh) do the
# same way: their messages, their checks before they start, and what
# happens on exit.  Source it after setting SUITE (the suite's name, the
# prefix of its messages), then:
#
#   suite_needs_root "why"       exit 2 unless run as root
#   suite_ports_free PORT...     exit 2 if one of them is in use
#   suite_on_exit DIR KEEP WHAT STOP
#       on exit (and on INT or TERM, as exit 130): run the command STOP
#       (the suite's own stop: its servers by their own PIDs), then remove
#       DIR if the suite set status=0 and KEEP is empty; otherwise say that
#       DIR is kept and WHAT is in it
#   fail MESSAGE                 say FAILED and exit 1
#   pass MESSAGE                 one passed check
#
# and, with test/lib/pgserver.sh sourced as well:
#
#   suite_port PORT              PORT or the first free port after it;
#                                used as PORT=$(suite_port N) || exit 2
#   suite_pg_start DIR PORT [postgresql.conf lines...]
#                                pg_start, or show the server's log and fail
#
# status starts at 1: a suite that ends early, for whatever reason, keeps
# its directory for the post-mortem.

SUITE=${SUITE:?set SUITE before sourcing suite.sh}
status=1
SUITE_DIR=
SUITE_KEEP=
SUITE_WHAT=
SUITE_STOP=:

suite_needs_root() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "$SUITE: run as root ($1)" >&2
		exit 2
	fi
}

suite_ports_free() {
	local port
	for port in "$@"; do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$SUITE: port $port is in use; is another $SUITE running?" >&2
			exit 2
		fi
	done
}

suite_on_exit() {
	SUITE_DIR=$1 SUITE_KEEP=$2 SUITE_WHAT=$3 SUITE_STOP=$4
	trap suite_exit EXIT
	trap 'exit 130' INT TERM
}

suite_exit() {
	$SUITE_STOP
	if [ "${status:-1}" -eq 0 ] && [ -z "$SUITE_KEEP" ]; then
		rm -rf "$SUITE_DIR"
	else
		echo "$SUITE: $SUITE_WHAT kept in $SUITE_DIR"
	fi
}

fail() {
	echo "$SUITE: FAILED: $*"
	exit 1
}

pass() { echo "  ok: $*"; }

suite_port() {
	free_port "$1" || { echo "$SUITE: no free port from $1 on" >&2; exit 2; }
}

suite_pg_start() {
	pg_start "$@" && return 0
	cat "$1/server.log" >&2
	fail "the server in $1 did not start (its log is above)"
}
