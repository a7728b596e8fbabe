# Shell functions to run a throwaway PostgreSQL 15 server with the
# extension preloaded, as the postgres OS user, on 127.0.0.1 only.
# Source this file; every server is stopped by its own postmaster PID.

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}

# Run a command as the postgres OS user (we may be root).
as_postgres() {
	if [ "$(id -un)" = postgres ]; then
		"$@"
	else
		setpriv --reuid=postgres --regid=postgres --init-groups \
			env HOME=/var/lib/postgresql PATH="$PATH" "$@"
	fi
}

# port_busy PORT: whether something answers on 127.0.0.1:PORT.
port_busy() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# free_port PORT: PORT, or the first free one of the 50 after it.
free_port() {
	local port=$1
	for _ in $(seq 1 50); do
		port_busy "$port" || { echo "$port"; return 0; }
		port=$((port + 1))
	done
	return 1
}

# server_dir NAME: a new directory under /tmp for a throwaway server, which
# the postgres user can use.
server_dir() {
	local dir
	dir=$(mktemp -d "/tmp/exchange-$1.XXXXXX") || return 1
	chmod 755 "$dir"
	chown postgres: "$dir" 2>/dev/null || true
	echo "$dir"
}

# pg_start DIR PORT [extra postgresql.conf lines...]: initdb (once) and start.
pg_start() {
	local dir=$1 port=$2
	shift 2
	mkdir -p "$dir"
	chown postgres: "$dir" 2>/dev/null || true
	if [ ! -f "$dir/data/PG_VERSION" ]; then
		as_postgres "$PGBIN/initdb" -D "$dir/data" -A trust -U postgres \
			--no-sync >/dev/null || return 1
		{
			echo "listen_addresses = '127.0.0.1'"
			echo "port = $port"
			echo "unix_socket_directories = '$dir'"
			echo "shared_preload_libraries = 'exchange'"
			echo "exchange.max_orders = 200000"
			echo "exchange.max_accounts = 100000"
			echo "exchange.max_balances = 400000"
			echo "exchange.max_price_levels = 50000"
			echo "max_connections = 120"
			echo "shared_buffers = 256MB"
			echo "synchronous_commit = on"
			for line in "$@"; do echo "$line"; done
		} >> "$dir/data/postgresql.conf"
	fi
	as_postgres "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
		-t 60 start >/dev/null
}

# pg_pid DIR: the postmaster's PID, from its pid file.
pg_pid() {
	head -1 "$1/data/postmaster.pid" 2>/dev/null
}

# pg_stop DIR: fast shutdown of that server (by its own PID), waiting.
pg_stop() {
	local dir=$1 pid
	pid=$(pg_pid "$dir")
	[ -n "$pid" ] || return 0
	kill -INT "$pid" 2>/dev/null || return 0
	for _ in $(seq 1 600); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
}

# pg_kill9 DIR: SIGKILL the postmaster, then its children (by their PIDs).
pg_kill9() {
	local dir=$1 pid children
	pid=$(pg_pid "$dir")
	[ -n "$pid" ] || return 0
	children=$(pgrep -P "$pid" || true)
	kill -KILL "$pid" 2>/dev/null
	# orphaned backends would keep shared memory attached; end them too
	[ -n "$children" ] && kill -KILL $children 2>/dev/null
	for _ in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	return 0
}

# psql_at DIR PORT [psql args...]
psql_at() {
	local dir=$1 port=$2
	shift 2
	psql -X -h 127.0.0.1 -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 "$@"
}
