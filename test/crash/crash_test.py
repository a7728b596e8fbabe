#!/usr/bin/python3
"""Crash test for the exchange extension.

Concurrent traders place, cancel and amend orders while the postmaster is
SIGKILLed and restarted several times.  Every place_order carries a unique
client_order_id; a request whose outcome is unknown (connection lost,
EX002..EX005, ...) is sent again, with the same client_order_id and the
same parameters, once the server is back.  At the end the committed tables
are checked against everything the traders were told.  The traders and
those checks are test/lib/trading.py's, shared with the HA drills.

Run through run.sh (it starts and stops the server); see --help.
"""

import argparse
import bisect
import os
import random
import signal
import subprocess
import sys
import threading
import time

import psycopg2

HERE = os.path.dirname(os.path.abspath(__file__))
PGSERVER_SH = os.path.join(HERE, '..', 'lib', 'pgserver.sh')
sys.path.insert(0, os.path.join(HERE, '..', 'lib'))
from trading import (MARKETS, Checks, Results, Trader, check_committed,  # noqa: E402
                     check_indexes,
                     create_catalogue, log, open_snapshot, short)


class Server:
    """The server under test, driven through test/lib/pgserver.sh."""

    def __init__(self, directory, port):
        self.dir = directory
        self.port = port
        self.datadir = os.path.realpath(os.path.join(directory, 'data'))
        self.starts = []            # pg_postmaster_start_time() after restarts

    def _lib(self, *args, timeout=90):
        """Run a pgserver.sh function; its stderr is shown on failure only
        (pg_ctl says 'another server might be running' after every kill)."""
        cmd = ['bash', '-c', '. "$0"; "$@"', PGSERVER_SH] + list(args)
        p = subprocess.run(cmd, timeout=timeout, stderr=subprocess.PIPE,
                           text=True)
        if p.returncode != 0 and p.stderr:
            sys.stdout.write(p.stderr)
        return p.returncode

    def dsn(self, app):
        return ('host=127.0.0.1 port=%d user=postgres dbname=postgres '
                'connect_timeout=3 application_name=%s keepalives=1 '
                'keepalives_idle=5 keepalives_interval=2 keepalives_count=3'
                % (self.port, app))

    def connect(self, app, autocommit=True):
        conn = psycopg2.connect(self.dsn(app),
                                options='-c statement_timeout=20000')
        conn.autocommit = autocommit
        return conn

    def pid(self):
        try:
            with open(os.path.join(self.dir, 'data', 'postmaster.pid')) as f:
                return f.readline().strip()
        except OSError:
            return '?'

    def leftovers(self):
        """PIDs of processes still running in this cluster's data dir."""
        pids = []
        for name in os.listdir('/proc'):
            if not name.isdigit():
                continue
            try:
                if os.readlink('/proc/%s/cwd' % name) == self.datadir:
                    pids.append(int(name))
            except OSError:
                pass
        return pids

    def kill9(self):
        self._lib('pg_kill9', self.dir)
        # pg_kill9 takes the postmaster's children before killing it; a
        # backend forked in between would survive and keep the old shared
        # memory attached.  End such stragglers by their PIDs (found by
        # their working directory, this cluster's data dir).
        for _ in range(100):
            pids = self.leftovers()
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.05)
        log('WARNING: processes still in %s: %s' % (self.datadir,
                                                    self.leftovers()))

    def start(self):
        for attempt in range(5):
            if self._lib('pg_start', self.dir, str(self.port)) == 0:
                return True
            log('pg_start failed (attempt %d), retrying' % (attempt + 1))
            self.kill9()
            time.sleep(1)
        return False

    def wait_ready(self, deadline):
        """Connect and wait for the engine; True when it runs."""
        while time.monotonic() < deadline:
            try:
                conn = self.connect('crash-admin')
                try:
                    cur = conn.cursor()
                    cur.execute('SELECT exchange.wait_for_engine(10000), '
                                'pg_postmaster_start_time()')
                    ready, started = cur.fetchone()
                    if ready:
                        if started not in self.starts:
                            self.starts.append(started)
                        return True
                finally:
                    conn.close()
            except psycopg2.Error as e:
                log('waiting for the server: %s' % short(e))
            time.sleep(0.2)
        return False


class CrashTrader(Trader):
    """A trader on the one server: goes on until stop_new is set and
    nothing is left to retry, or until its deadline; keeps its connection
    unless it broke; now and then cancels all of an account's orders."""

    coid_prefix = 'ct'
    # cancel_all: 0.2 % of the requests, 15.2 % while no order is open
    cancel_all_below = 0.152
    # place_orders of 16-48 orders: 1 % of the requests, about a quarter
    # of the orders (the engine's batches then hold tens of rows a table,
    # and write their index entries sorted: exchange.index_order)
    batch_below = 0.162

    def __init__(self, tid, server, accounts, results, stop_new, deadline,
                 seed):
        super().__init__(tid, accounts, results, seed)
        self.server = server
        self.stop_new = stop_new
        self.deadline = deadline

    def connect(self):
        self.conn = self.server.connect('crash-trader-%d' % self.tid)

    def active(self):
        return time.monotonic() < self.deadline

    def taking_new(self):
        return not self.stop_new.is_set()


def setup(server, n_accounts):
    conn = server.connect('crash-setup')
    cur = conn.cursor()
    cur.execute('CREATE EXTENSION exchange')
    accounts, deposited = create_catalogue(cur, n_accounts, 'crash', 10000)
    conn.close()
    return accounts, deposited


def verify(server, results, deposited, kills, min_kills):
    c = Checks()
    conn = server.connect('crash-verify', autocommit=True)
    cur, status, orders = open_snapshot(conn)
    queued, engine_open, failed_batches, rebuilds, state = status
    log('engine: state=%s open_orders=%s failed_batches=%s rebuilds=%s '
        'queued=%s' % (state, engine_open, failed_batches, rebuilds, queued))
    cur.execute('SELECT batches, requests, batch_delays, '
                "current_setting('exchange.batch_siblings')::int "
                'FROM exchange.engine_status()')
    batches, requests, delays, siblings = cur.fetchone()
    log('since the last restart: %d batches, %d requests, %d gathered '
        '(exchange.batch_delay)' % (batches, requests, delays))
    if siblings == 0:
        c.check('small batches waited for more requests (batch_siblings = 0)',
                [] if delays > 0 else ['batch_delays = 0 after %d batches'
                                       % batches])

    # Which retried orders had in fact been carried out before the crash
    # (the retry found them) and which did the retry place?
    starts = sorted(server.starts)
    found = placed_by_retry = 0
    for p in results.places:
        if p.state != 'acked' or p.unknowns == 0 or \
                p.order_id not in orders.by_id:
            continue
        i = bisect.bisect_right(starts, p.first_unknown)
        if i < len(starts) and orders.by_id[p.order_id][10] < starts[i]:
            found += 1
        else:
            placed_by_retry += 1
    log('retried place_orders: %d had been carried out before the crash '
        '(the retry returned them), %d were placed by the retry'
        % (found, placed_by_retry))

    c.check('at least %d kill/restart cycles' % min_kills,
            [] if kills >= min_kills else ['only %d kills' % kills])

    n_lost, n_dups = check_committed(c, cur, results, deposited, orders,
                                     engine_open, say=log)

    log_problems = []
    try:
        with open(os.path.join(server.dir, 'server.log'), errors='replace') as f:
            for line in f:
                if any(s in line for s in ('PANIC', 'TRAP:', 'terminated by signal',
                                           'cannot rebuild', 'exchange batch of')):
                    log_problems.append(line.rstrip())
    except OSError as e:
        log_problems.append('cannot read server.log: %s' % e)
    c.check('server log free of PANIC/TRAP/crashes/failed batches', log_problems)

    conn.rollback()
    conn.close()
    conn = server.connect('crash-amcheck', autocommit=True)
    check_indexes(c, conn)
    conn.close()
    return c, n_lost, n_dups


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--dir', required=True, help='server directory (pgserver.sh)')
    ap.add_argument('--port', type=int, required=True)
    ap.add_argument('--traders', type=int, default=8)
    ap.add_argument('--accounts', type=int, default=20)
    ap.add_argument('--kills', type=int, default=3)
    ap.add_argument('--load-seconds', type=float, default=3.0,
                    help='load before each kill')
    ap.add_argument('--tail-seconds', type=float, default=2.0,
                    help='load after the last restart')
    ap.add_argument('--budget', type=float, default=150.0,
                    help='hard limit for the whole run, seconds')
    ap.add_argument('--seed', type=int, default=None)
    args = ap.parse_args()

    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    log('seed %d (repeat with --seed %d)' % (seed, seed))
    rng = random.Random(seed)
    deadline = time.monotonic() + args.budget
    server = Server(args.dir, args.port)

    accounts, deposited = setup(server, args.accounts)
    log('set up %d accounts, %d markets' % (len(accounts), len(MARKETS)))

    results = Results()
    stop_new = threading.Event()
    # traders keep retrying until shortly before the budget ends, leaving
    # time for the checks
    trader_deadline = deadline - 20
    traders = [CrashTrader(i, server, accounts, results, stop_new,
                           trader_deadline, rng.randrange(1 << 30))
               for i in range(args.traders)]
    for t in traders:
        t.start()

    kills = 0
    startup_ok = True
    for k in range(args.kills):
        time.sleep(args.load_seconds * rng.uniform(0.8, 1.2))
        n = len(results.places)
        log('kill %d: SIGKILL postmaster (pid %s) after %d place_orders'
            % (k + 1, server.pid(), n))
        server.kill9()
        kills += 1
        time.sleep(rng.uniform(0.0, 0.5))
        if not server.start():
            log('server did not restart')
            startup_ok = False
            break
        if not server.wait_ready(min(deadline - 30, time.monotonic() + 60)):
            log('engine did not come back')
            startup_ok = False
            break
        log('restarted; engine running')
    if startup_ok:
        time.sleep(args.tail_seconds)
    stop_new.set()
    log('load stopped; retrying unknown outcomes')
    for t in traders:
        t.join(max(0.0, trader_deadline - time.monotonic() + 5))

    places = results.places
    acked = sum(1 for p in places if p.state == 'acked')
    refused = sum(1 for p in places if p.state == 'refused')
    retried = sum(1 for p in places if p.unknowns > 0)
    log('place_orders: %d sent, %d acked, %d refused, %d pending; %d needed '
        'a retry (%d of them refused on retry)'
        % (len(places), acked, refused,
           sum(1 for p in places if p.state == 'pending'), retried,
           sum(1 for p in places if p.unknowns and p.state == 'refused')))
    log('counters: ' + ', '.join('%s=%d' % kv for kv in sorted(results.counts.items())))

    if not startup_ok or not server.wait_ready(time.monotonic() + 20):
        print('FAIL server did not come back after a kill; see %s/server.log'
              % args.dir)
        print('crash-test: kills=%d orders_acked=%d retried=%d lost=? '
              'duplicates=? violations=1' % (kills, acked, retried))
        print('0 passed, 1 failed')
        return 1

    checks, n_lost, n_dups = verify(server, results, deposited, kills,
                                    min(2, args.kills))
    print('crash-test: kills=%d orders_acked=%d retried=%d lost=%d '
          'duplicates=%d violations=%d'
          % (kills, acked, retried, n_lost, n_dups, checks.violations))
    print('%d passed, %d failed' % (checks.passed, checks.failed))
    return 0 if checks.failed == 0 else 1


if __name__ == '__main__':
    sys.exit(main())
