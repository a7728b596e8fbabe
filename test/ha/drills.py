#!/usr/bin/python3
"""Failover drills for the 3-node Patroni cluster (test/ha/run.sh starts it).

Concurrent traders place, cancel and amend orders through the routing a
real client uses -- half through the multi-host libpq URL with
target_session_attrs=read-write, half through HAProxy's primary port --
while the drills below break the leader.  Every place_order carries a
unique client_order_id; a request whose outcome is unknown (connection
lost, a standby's 25006, EX002..EX005, a timeout) is sent again with the
same client_order_id and parameters until it gets a definitive answer.

Drills, in order:
  kill-postmaster (x3)  SIGKILL of the leader's postmaster mid-load
  switchover            patronictl switchover
  kill-patroni          SIGKILL of Patroni on the leader (PostgreSQL keeps
                        running); Patroni is started again once a new
                        leader took over, as a service manager would
  etcd-down             etcd stopped for longer than ttl, then started
  freeze-patroni        Patroni on the leader stopped with SIGSTOP while its
                        PostgreSQL runs on (a zombie primary); SIGCONT once
                        a new leader took over
  kill-engine           SIGKILL of the leader's engine worker alone:
                        PostgreSQL resets all its processes and recovers
                        (in place, or Patroni fails over); orders are
                        acknowledged again and nothing acknowledged is lost
  kill-sync-standby     a crash of the synchronous standby's node (SIGKILL of
                        its Patroni and every PostgreSQL process): the leader
                        stays and acknowledges again once its Patroni made
                        the other replica synchronous; the node is started
                        again after that
  kill-replicas         a crash of both replicas' nodes at once, down for 5 s:
                        nothing sent meanwhile may be acknowledged (strict
                        synchronous mode); once they are started again,
                        trading resumes on the same leader

After each drill, with new requests paused and every unanswered one
retried: a new leader took requests; no acknowledged order is lost; no
(account, client_order_id) is stored twice; exchange.check_invariants() is
empty on the primary; order_book() equals the open orders; per-asset
totals equal the deposits; the old leader is a streaming replica again
(within 60 s of the fault; in the replica drills, the killed replicas).
etcd-down, kill-postmaster, switchover and the replica drills also check
that there never were two writable primaries.  The traders
and the checks of the tables are test/lib/trading.py's, shared with the
crash test.

Each drill prints one line of figures; the run ends with the RTO summary
of the SIGKILL trials and "N passed, M failed".  Exit status 0 only if
every drill passed and the RTO median is at most 10 s.
"""

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import psycopg2

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'lib'))
import trading  # noqa: E402
from trading import (T0, PlaceRequest, Results, check_committed,  # noqa: E402
                     check_indexes, create_catalogue, log, now, open_snapshot)

ROOT = os.path.realpath(os.path.join(HERE, '..', '..'))
CLUSTER_SH = os.path.join(ROOT, 'scripts', 'cluster.sh')
NODES = ('node1', 'node2', 'node3')

# Besides trading.UNKNOWN_CODES, after which the client reconnects (the
# routing finds the current primary) and repeats with the same
# client_order_id:
UNKNOWN_CODES = trading.UNKNOWN_CODES | {
    '25006',    # a standby (demoted under us): nothing done, go elsewhere
    '53300',    # too many connections
}
LOG_PROBLEMS = ('PANIC', 'TRAP:', 'cannot rebuild', 'exchange batch of')


def alive(pid):
    """The process exists and is not a zombie."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except (OSError, IndexError, ValueError):
        return False


class Cluster:
    """The cluster under test: its processes, REST APIs and databases."""

    def __init__(self, state, port_base, rest_base):
        self.state = state
        self.port_base = port_base
        self.rest_base = rest_base
        self.ports = {n: port_base + i + 1 for i, n in enumerate(NODES)}
        self.node_of_port = {p: n for n, p in self.ports.items()}
        self.rest_ports = {n: rest_base + i + 1 for i, n in enumerate(NODES)}
        self.haproxy_port = port_base

    # -- processes -------------------------------------------------------

    def _pidfile(self, path):
        try:
            with open(path) as f:
                return int(f.readline().strip())
        except (OSError, ValueError):
            return None

    def patroni_pid(self, node):
        return self._pidfile(os.path.join(self.state, 'run', node + '.pid'))

    def postmaster_pid(self, node):
        return self._pidfile(os.path.join(self.state, node, 'data',
                                          'postmaster.pid'))

    def cluster_sh(self, *args, timeout=120):
        env = dict(os.environ, EXCHANGE_STATE=self.state)
        p = subprocess.run([CLUSTER_SH] + list(args), env=env,
                           timeout=timeout, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        if p.returncode != 0:
            log('cluster.sh %s failed (%d): %s' % (' '.join(args),
                                                  p.returncode, p.stdout))
        return p.returncode == 0

    def patronictl(self, *args, timeout=60):
        cmd = ['patronictl', '-c', os.path.join(self.state, 'node1',
                                                'patroni.yml')] + list(args)
        p = subprocess.run(cmd, timeout=timeout, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        return p.returncode, p.stdout

    # -- REST ------------------------------------------------------------

    def rest(self, node, path, timeout=1.0):
        """(HTTP status, parsed JSON or None); status 0 when unreachable."""
        url = 'http://127.0.0.1:%d%s' % (self.rest_ports[node], path)
        try:
            with urllib.request.urlopen(url, timeout=timeout) as r:
                body = r.read()
                status = r.status
        except urllib.error.HTTPError as e:
            body, status = e.read(), e.code
        except Exception:
            return 0, None
        try:
            return status, json.loads(body)
        except ValueError:
            return status, None

    def members(self, avoid=()):
        """Members as the DCS sees them, asked of a responsive node."""
        for node in [n for n in NODES if n not in avoid] + list(avoid):
            status, body = self.rest(node, '/cluster')
            if status == 200 and body and 'members' in body:
                return {m['name']: m for m in body['members']}
        return {}

    def leader(self, avoid=()):
        for name, m in self.members(avoid).items():
            if m.get('role') == 'leader' and m.get('state') == 'running':
                return name
        return None

    def timings(self):
        for node in NODES:
            status, body = self.rest(node, '/config')
            if status == 200 and body:
                return body
        return {}

    # -- SQL -------------------------------------------------------------

    def dsn(self, node=None, app='ha-drill', timeout=2):
        if node is None:
            hosts = ','.join('127.0.0.1' for _ in NODES)
            ports = ','.join(str(self.ports[n]) for n in NODES)
            extra = ' target_session_attrs=read-write'
        elif node == 'haproxy':
            hosts, ports, extra = '127.0.0.1', str(self.haproxy_port), ''
        else:
            hosts, ports, extra = '127.0.0.1', str(self.ports[node]), ''
        return ('host=%s port=%s user=postgres dbname=postgres '
                'connect_timeout=%d application_name=%s keepalives=1 '
                'keepalives_idle=2 keepalives_interval=1 keepalives_count=3%s'
                % (hosts, ports, timeout, app, extra))

    def query(self, node, sql, args=None, timeout=2):
        """One query on one node (None target: the primary); None on error."""
        try:
            conn = psycopg2.connect(self.dsn(node, timeout=timeout),
                                    options='-c statement_timeout=%d'
                                    % (timeout * 1000))
        except psycopg2.Error:
            return None
        try:
            conn.autocommit = True
            cur = conn.cursor()
            cur.execute(sql, args)
            return cur.fetchall()
        except psycopg2.Error:
            return None
        finally:
            conn.close()

    def replica_ok(self, node, leader):
        """node streams from leader and Patroni reports it a healthy replica
        (so it can be made the synchronous standby)."""
        if node == leader:
            return False
        rows = self.query(leader, 'SELECT state, '
                          'pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn) '
                          'FROM pg_stat_replication WHERE application_name = %s',
                          (node,))
        if not rows or rows[0][0] != 'streaming' or rows[0][1] is None \
                or rows[0][1] > 16 * 1024 * 1024:
            return False
        status, _ = self.rest(node, '/replica')
        return status == 200

    def healthy(self):
        """A leader, a synchronous standby, and every node a streaming
        replica of the leader."""
        members = self.members()
        leader = [n for n, m in members.items()
                  if m.get('role') == 'leader' and m.get('state') == 'running']
        sync = [n for n, m in members.items() if m.get('role') == 'sync_standby']
        if len(leader) != 1 or not sync or len(members) != len(NODES):
            return None
        leader = leader[0]
        if self.rest(leader, '/primary')[0] != 200:
            return None
        if all(self.replica_ok(n, leader) for n in NODES if n != leader):
            return leader
        return None

    def wait_healthy(self, seconds):
        deadline = now() + seconds
        while now() < deadline:
            leader = self.healthy()
            if leader:
                return leader
            time.sleep(0.5)
        return None

    def log_files(self):
        return [os.path.join(self.state, n, 'pglog', 'postgresql.log')
                for n in NODES]


class Monitor(threading.Thread):
    """Samples, 4 times a second, which nodes take writes (fresh connection
    each time: a SIGKILLed postmaster's orphaned backend must not count)."""

    def __init__(self, cluster):
        super().__init__(name='monitor', daemon=True)
        self.cluster = cluster
        self.samples = []           # (time, frozenset of writable nodes)
        self.quit = threading.Event()

    def run(self):
        while not self.quit.is_set():
            t = now()
            primaries = []
            for node in NODES:
                rows = self.cluster.query(node, 'SELECT pg_is_in_recovery()',
                                          timeout=1)
                if rows and rows[0][0] is False:
                    primaries.append(node)
            self.samples.append((t, frozenset(primaries)))
            self.quit.wait(max(0.0, 0.25 - (now() - t)))

    def overlaps(self, t_from, t_to):
        """(samples with two or more writable nodes, (first, last) of them)."""
        bad = [t for t, p in self.samples if t_from <= t <= t_to and len(p) > 1]
        if not bad:
            return 0, None
        return len(bad), (bad[0], bad[-1])


class HaTrader(trading.Trader):
    """A trader through its route (the multi-host URL or HAProxy): trades
    while load is set, goes idle when it is cleared and nothing is left
    to retry, and reconnects after any error but a definitive answer."""

    coid_prefix = 'ha'
    unknown_codes = UNKNOWN_CODES
    # place_orders of 16-48 orders: 1 % of the requests while orders are
    # open (a failover then also cuts calls of many orders, each retried
    # alone with its client_order_id on the new primary)
    batch_below = 0.16
    retry_pause = 0.05
    reconnect_pause = 0.1

    def __init__(self, tid, route, cluster, accounts, results, load, quit,
                 seed, rate):
        super().__init__(tid, accounts, results, seed)
        self.rate = rate            # new requests per second, at most
        self.route = route          # None: multi-host URL; 'haproxy'
        self.cluster = cluster
        self.load = load
        self.quit = quit
        # set by the trader once it has seen the load paused and has nothing
        # left to retry; cleared by the drill before it resumes the load
        self.idle = True

    def connect(self):
        self.conn = psycopg2.connect(
            self.cluster.dsn(self.route, 'ha-trader-%d' % self.tid),
            options='-c statement_timeout=5000')
        self.conn.autocommit = True
        cur = self.conn.cursor()
        cur.execute('SELECT inet_server_port()')
        self.node = self.cluster.node_of_port.get(cur.fetchone()[0])

    def active(self):
        return not self.quit.is_set()

    def taking_new(self):
        return self.load.is_set()

    def idle_wait(self):
        self.drop_conn()
        self.idle = True
        self.load.wait(0.2)
        return True

    def drop_after(self, cls, exc):
        # unknown outcome: a new connection lets the routing pick the
        # current primary
        return cls != 'definitive'


class Probe(HaTrader):
    """New orders while the replicas are down, each on a new connection
    with a short statement_timeout, so that an order left unanswered does
    not hold back the next (each trader waits for its own); the ones whose
    outcome is unknown are retried once the replicas are back."""

    coid_prefix = 'probe'

    def connect(self):
        self.conn = psycopg2.connect(
            self.cluster.dsn(None, 'ha-probe'),
            options='-c statement_timeout=1000')
        self.conn.autocommit = True
        self.node = None


def new_checks():
    """A drill's checks: only failures are printed, indented."""
    return trading.Checks(indent='  ', limit=10, quiet=True)


def setup(cluster, n_accounts):
    conn = psycopg2.connect(cluster.dsn(None, 'ha-setup', timeout=5))
    conn.autocommit = True
    cur = conn.cursor()
    accounts, deposited = create_catalogue(cur, n_accounts, 'ha', 30000)
    conn.close()
    return accounts, deposited


class LogScanner:
    """New PANIC/TRAP/failed-batch lines in the nodes' PostgreSQL logs."""

    def __init__(self, files):
        self.offsets = {f: 0 for f in files}

    def new_problems(self):
        problems = []
        for path in self.offsets:
            try:
                with open(path, errors='replace') as f:
                    f.seek(self.offsets[path])
                    for line in f:
                        if any(s in line for s in LOG_PROBLEMS):
                            problems.append('%s: %s' % (
                                os.path.basename(os.path.dirname(
                                    os.path.dirname(path))), line.rstrip()))
                    self.offsets[path] = f.tell()
            except OSError:
                pass
        return problems


def verify(cluster, results, deposited, c):
    """The committed tables on the primary against everything the traders
    were told.  Returns (lost, duplicates)."""
    conn = psycopg2.connect(cluster.dsn(None, 'ha-verify', timeout=3),
                            options='-c statement_timeout=30000')
    conn.autocommit = True
    cur, status, orders = open_snapshot(conn)
    lost, dups = check_committed(c, cur, results, deposited, orders,
                                 status[1])
    conn.rollback()
    conn.close()
    conn = psycopg2.connect(cluster.dsn(None, 'ha-amcheck', timeout=3),
                            options='-c statement_timeout=30000')
    conn.autocommit = True
    check_indexes(c, conn)
    conn.close()
    return lost, dups


class Drills:
    def __init__(self, args, cluster, results, traders, load, monitor,
                 accounts, deposited):
        self.args = args
        self.accounts = accounts
        self.cluster = cluster
        self.results = results
        self.traders = traders
        self.load = load
        self.monitor = monitor
        self.deposited = deposited
        self.logs = LogScanner(cluster.log_files())
        self.rng = random.Random(args.seed)
        self.passed = 0
        self.failed = 0
        self.rto_sigkill = []
        self.rejoins = []
        self.lines = []

    # -- helpers ---------------------------------------------------------

    def first_ack(self, t_from, exclude_node=None):
        """Time of the first acknowledged place_order sent at or after
        t_from, answered by a node other than exclude_node."""
        best = None
        with self.results.lock:
            places = list(self.results.places)
        for p in places:
            if p.acked_at is None or p.created < t_from:
                continue
            if exclude_node is not None and p.acked_node == exclude_node:
                continue
            if best is None or p.acked_at < best:
                best = p.acked_at
        return best

    def wait_for(self, what, cond, seconds, step=0.1):
        deadline = now() + seconds
        while now() < deadline:
            v = cond()
            if v:
                return v
            time.sleep(step)
        log('gave up waiting for %s after %.0f s' % (what, seconds))
        return None

    def wait_new_leader(self, old, seconds):
        return self.wait_for('a new leader', lambda: (
            lambda l: l if l and l != old else None)(
                self.cluster.leader(avoid=(old,))), seconds, 0.2)

    def drain(self, seconds):
        """Stop new requests and let every trader retry its unanswered ones."""
        self.load.clear()
        return self.wait_for('unanswered requests', lambda: all(
            t.idle for t in self.traders), seconds, 0.2)

    def resume(self):
        for t in self.traders:
            t.idle = False
        self.load.set()

    def acked_between(self, t_from, t_to):
        with self.results.lock:
            return sum(1 for p in self.results.places
                       if p.acked_at is not None and t_from <= p.acked_at <= t_to)

    def longest_gap(self, t_from, t_to):
        """Longest time without an acknowledged place_order."""
        with self.results.lock:
            times = sorted(p.acked_at for p in self.results.places
                           if p.acked_at is not None
                           and t_from <= p.acked_at <= t_to)
        times = [t_from] + times + [t_to]
        return max(b - a for a, b in zip(times, times[1:]))

    # -- one drill -------------------------------------------------------

    def run(self, name, action):
        c = new_checks()
        fig = {}
        leader = self.cluster.wait_healthy(90)
        if not leader:
            c.check('cluster healthy before the drill', ['no healthy cluster'])
            return self.report(name, c, fig)
        t_start = now()
        self.resume()
        time.sleep(self.args.load_seconds * self.rng.uniform(0.8, 1.2))
        log('%s: leader %s, %d place_orders so far' %
            (name, leader, len(self.results.places)))
        t_fault = now()
        fig['old'] = leader
        ok = action(leader, t_fault, c, fig)
        if ok:
            time.sleep(self.args.tail_seconds)
        t_load_end = now()
        if not self.drain(60):
            c.check('unanswered requests resolved within 60 s',
                    ['%s: %d pending' % (t.name, len(t.pending))
                     for t in self.traders if t.pending])
        fig['acked'] = self.acked_between(t_start, now())
        fig['gap'] = self.longest_gap(t_fault, t_load_end)
        new_leader = self.cluster.wait_healthy(90)
        if not new_leader:
            c.check('cluster healthy again (leader, sync standby, all '
                    'replicas streaming) within 90 s', ['not healthy'])
        fig['new'] = new_leader or self.cluster.leader() or '?'
        lost, dups = verify(self.cluster, self.results, self.deposited, c)
        fig['lost'], fig['dups'] = lost, dups
        if new_leader:
            self.check_replicas_wal_ready(new_leader, c)
        c.check('PostgreSQL logs free of PANIC/TRAP/failed batches',
                self.logs.new_problems())
        return self.report(name, c, fig)

    # The two WAL segment files after the one each replica's WAL receiver
    # writes, on its timeline (the WAL preparer makes them ahead).
    READY_AHEAD_SQL = '''
        SELECT count(*) FROM pg_ls_waldir() w, (
            SELECT upper(lpad(to_hex(received_tli), 8, '0')) AS tli,
                   ((flushed_lsn - '0/0') / 16777216)::bigint AS segno
              FROM pg_stat_wal_receiver) r
         WHERE w.name ~ '^[0-9A-F]{24}$'
           AND substr(w.name, 1, 8) = r.tli
           AND w.name > r.tli || upper(lpad(to_hex(r.segno / 256), 8, '0'))
                              || upper(lpad(to_hex(r.segno % 256), 8, '0'))'''

    def check_replicas_wal_ready(self, leader, c):
        problems = []
        for node in NODES:
            if node == leader:
                continue
            ok = self.wait_for('%s WAL ready ahead' % node, lambda: (
                (self.cluster.query(node, self.READY_AHEAD_SQL) or [[0]])[0][0]
                >= 2), 20)
            if not ok:
                problems.append('%s: fewer than 2 WAL segment files ready '
                                'after the one its receiver writes' % node)
        c.check('replicas have their next WAL segments ready', problems)

    def report(self, name, c, fig):
        ok = c.failed == 0
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        parts = ['drill %-16s %s' % (name, 'ok  ' if ok else 'FAIL')]
        parts.append('leader %s->%s' % (fig.get('old', '?'), fig.get('new', '?')))
        for key, fmt in (('rto', 'rto=%.2fs'), ('outage', 'outage=%.2fs'),
                         ('gap', 'no_ack_gap=%.2fs'), ('restart', 'ack_after_replicas_started=%.2fs'),
                         ('rejoin', 'rejoin=%.1fs'),
                         ('rejoin_after_restart', 'rejoin_after_patroni_back=%.1fs'),
                         ('zombie', 'zombie_writable=%.2fs'),
                         ('client_retried', 'example_client_retried=%d'),
                         ('probes', 'probes_while_down=%d'),
                         ('acked', 'acked=%d'), ('lost', 'lost=%d'),
                         ('dups', 'duplicates=%d')):
            if key in fig and fig[key] is not None:
                parts.append(fmt % fig[key])
        parts.append('violations=%d' % c.violations)
        line = ' '.join(parts)
        self.lines.append(line)
        print(line, flush=True)
        return ok

    # -- the faults ------------------------------------------------------

    def new_leader_and_ack(self, old, t_fault, c, fig, seconds=45):
        """Wait for a new leader and its first acknowledged order; RTO."""
        new = self.wait_new_leader(old, seconds)
        if not new:
            c.check('a new leader within %d s' % seconds, ['none'])
            return None
        fig['new'] = new
        t_ack = self.wait_for('the first order on the new primary',
                              lambda: self.first_ack(t_fault, old), seconds)
        if not t_ack:
            c.check('the new primary acknowledges orders', ['none within '
                                                            '%d s' % seconds])
            return None
        fig['rto'] = t_ack - t_fault
        return new

    def wait_rejoin(self, old, t_from, c, fig, key='rejoin', what='old leader'):
        def rejoined():
            leader = self.cluster.leader()
            return leader and self.cluster.replica_ok(old, leader)
        if self.wait_for('%s to rejoin' % old, rejoined, self.args.rejoin_bar + 30,
                         0.25):
            fig[key] = now() - t_from
            if key == 'rejoin' and what == 'old leader':
                self.rejoins.append(fig[key])
            c.check('%s a streaming replica within %d s'
                    % (what, self.args.rejoin_bar),
                    [] if fig[key] <= self.args.rejoin_bar else
                    ['%s rejoined after %.1f s' % (old, fig[key])])
        else:
            c.check('%s rejoins as a replica' % what,
                    ['%s not a streaming replica %d s after the fault'
                     % (old, self.args.rejoin_bar + 30)])
            return False
        return True

    def check_single_primary(self, t_from, c):
        n, span = self.monitor.overlaps(t_from, now())
        c.check('never two writable primaries', [] if not n else [
            '%d samples with two writable nodes between %.1f and %.1f s'
            % (n, span[0] - T0, span[1] - T0)])

    def kill_postmaster(self, old, t_fault, c, fig):
        pid = self.cluster.postmaster_pid(old)
        log('SIGKILL postmaster of %s (pid %s)' % (old, pid))
        if not pid or not alive(pid):
            c.check('postmaster found', ['no postmaster pid for %s' % old])
            return False
        os.kill(pid, signal.SIGKILL)
        new = self.new_leader_and_ack(old, t_fault, c, fig)
        if new:
            self.rto_sigkill.append(fig['rto'])
        self.wait_rejoin(old, t_fault, c, fig)
        self.check_single_primary(t_fault, c)
        return new is not None

    def switchover(self, old, t_fault, c, fig):
        # test/ha/client.py, the documented example, runs through it too
        client = self.start_example_client()
        log('patronictl switchover --leader %s --force' % old)
        rc, out = self.cluster.patronictl('switchover', '--leader', old,
                                          '--force')
        if rc != 0:
            c.check('patronictl switchover', [out.strip()])
        new = self.new_leader_and_ack(old, t_fault, c, fig)
        self.wait_rejoin(old, t_fault, c, fig)
        self.check_single_primary(t_fault, c)
        self.collect_example_client(client, c, fig)
        return rc == 0 and new is not None

    def start_example_client(self):
        cmd = [sys.executable, os.path.join(HERE, 'client.py'), '--json',
               '--url', 'postgresql://postgres@%s/postgres'
               '?target_session_attrs=read-write' % ','.join(
                   '127.0.0.1:%d' % self.cluster.ports[n] for n in NODES),
               '--account', str(self.accounts[0]), '--market', 'BTC-USDT',
               '--side', 'buy', '--quantity', '0.0001', '--price', '29000',
               '--orders', '40', '--interval', '0.1', '--prefix',
               'example-client', '--give-up', '45']
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)

    def collect_example_client(self, proc, c, fig):
        """The example client's orders join the traders' in the checks."""
        try:
            out, _ = proc.communicate(timeout=90)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        problems = [] if proc.returncode == 0 else \
            ['test/ha/client.py exited with %s' % proc.returncode]
        retried = 0
        for line in out.splitlines():
            try:
                o = json.loads(line)
            except ValueError:
                problems.append('client.py said: %s' % line)
                continue
            prm = dict(o['params'], type='limit')
            req = PlaceRequest(o['coid'], prm)
            req.attempts = o['attempts']
            req.unknowns = len(o['retried_after'])
            retried += req.unknowns > 0
            if o['outcome'] == 'placed':
                req.state, req.order_id = 'acked', o['order_id']
            elif o['outcome'] == 'refused':
                req.state, req.error = 'refused', 'client'
            else:
                problems.append('%s: no definitive answer' % o['coid'])
            with self.results.lock:
                self.results.places.append(req)
        c.check('example client (test/ha/client.py) through the switchover',
                problems)
        fig['client_retried'] = retried

    def kill_patroni(self, old, t_fault, c, fig):
        pid = self.cluster.patroni_pid(old)
        log('SIGKILL Patroni of %s (pid %s)' % (old, pid))
        if not pid or not alive(pid):
            c.check('Patroni found', ['no Patroni pid for %s' % old])
            return False
        os.kill(pid, signal.SIGKILL)
        new = self.new_leader_and_ack(old, t_fault, c, fig)
        log('starting Patroni on %s again' % old)
        t_back = now()
        if not self.cluster.cluster_sh('start-node', old):
            c.check('Patroni restarts', ['cluster.sh start-node %s failed' % old])
        self.wait_rejoin(old, t_fault, c, fig)
        fig['zombie'] = self.writable_after(old, t_fault)
        if 'rejoin' in fig:
            fig['rejoin_after_restart'] = fig['rejoin'] - (t_back - t_fault)
        return new is not None

    def freeze_patroni(self, old, t_fault, c, fig):
        pid = self.cluster.patroni_pid(old)
        log('SIGSTOP Patroni of %s (pid %s); its PostgreSQL runs on' % (old, pid))
        if not pid or not alive(pid):
            c.check('Patroni found', ['no Patroni pid for %s' % old])
            return False
        os.kill(pid, signal.SIGSTOP)
        try:
            new = self.new_leader_and_ack(old, t_fault, c, fig)
            # let the zombie go on taking requests for a while
            time.sleep(2)
        finally:
            log('SIGCONT Patroni of %s' % old)
            t_back = now()
            os.kill(pid, signal.SIGCONT)
        self.wait_rejoin(old, t_fault, c, fig)
        fig['zombie'] = self.writable_after(old, t_fault)
        if 'rejoin' in fig:
            fig['rejoin_after_restart'] = fig['rejoin'] - (t_back - t_fault)
        return new is not None

    # -- the replicas ----------------------------------------------------

    def sync_standby(self, leader):
        for name, m in self.cluster.members().items():
            if name != leader and m.get('role') == 'sync_standby':
                return name
        return None

    def kill_node_postgres(self, node):
        """SIGKILL a node's postmaster and every process it started, at
        once, as a crash of the host would stop them; the pid killed."""
        pid = self.cluster.postmaster_pid(node)
        if not pid or not alive(pid):
            return None
        children = []
        for entry in os.listdir('/proc'):
            if not entry.isdigit():
                continue
            try:
                with open('/proc/%s/stat' % entry) as f:
                    stat = f.read()
            except OSError:
                continue
            # the field after the parenthesised command is the state, then ppid
            if int(stat[stat.rindex(')') + 2:].split()[1]) == pid:
                children.append(int(entry))
        for p in [pid] + children:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return pid

    def same_leader(self, leader, c, fig):
        now_leader = self.cluster.leader()
        fig['new'] = now_leader or '?'
        c.check('the leader stays the leader', [] if now_leader == leader
                else ['the leader is %s after the fault' % now_leader])

    def kill_node(self, node):
        """A crash of the node's host: SIGKILL its Patroni, then its
        PostgreSQL processes; False when there was no postmaster."""
        pid = self.cluster.patroni_pid(node)
        if pid and alive(pid):
            os.kill(pid, signal.SIGKILL)
        return self.kill_node_postgres(node) is not None

    def acked_early(self, t_fault, t_until):
        """Orders sent after the fault and acknowledged before t_until."""
        with self.results.lock:
            return [p for p in self.results.places
                    if p.acked_at is not None and p.created >= t_fault + 0.2
                    and p.acked_at < t_until]

    def acked_again(self, t_fault, c, fig, seconds, how=''):
        """The first acknowledgement of an order sent after the fault (its
        time after the fault in fig['outage']); None if none within
        seconds."""
        t_ack = self.wait_for('an order acknowledged after the kill',
                              lambda: self.first_ack(t_fault + 0.2), seconds)
        if t_ack:
            fig['outage'] = t_ack - t_fault
        else:
            c.check('orders acknowledged again%s within %d s' % (how, seconds),
                    ['none'])
        return t_ack

    def start_nodes(self, nodes, c):
        for node in nodes:
            log('starting Patroni on %s again' % node)
            if not self.cluster.cluster_sh('start-node', node):
                c.check('Patroni restarts', ['cluster.sh start-node %s failed'
                                             % node])

    def kill_engine(self, leader, t_fault, c, fig):
        rows = self.cluster.query(leader, "SELECT pid FROM pg_stat_activity "
                                  "WHERE backend_type = 'exchange engine'")
        if not rows:
            c.check('the engine found on the leader', ['no engine on %s' % leader])
            return False
        pid = rows[0][0]
        log('SIGKILL the engine worker of %s (pid %s): PostgreSQL resets every '
            'process and recovers' % (leader, pid))
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            c.check('the engine still running', ['pid %s gone' % pid])
            return False
        t_ack = self.acked_again(t_fault, c, fig, 45)
        fig['new'] = self.cluster.leader() or '?'
        self.check_single_primary(t_fault, c)
        return t_ack is not None

    def kill_sync_standby(self, leader, t_fault, c, fig):
        sync = self.sync_standby(leader)
        if not sync:
            c.check('a synchronous standby', ['Patroni names none'])
            return False
        log('crash of the synchronous standby %s: SIGKILL its Patroni and '
            'PostgreSQL; the leader %s stays' % (sync, leader))
        if not self.kill_node(sync):
            c.check('postmaster found', ['no postmaster pid for %s' % sync])
            return False
        # with the node down, the leader's Patroni must make the other
        # replica synchronous before anything is acknowledged again
        t_ack = self.acked_again(t_fault, c, fig, 30,
                                 ', through the other replica,')
        self.start_nodes([sync], c)
        self.wait_rejoin(sync, t_fault, c, fig, what='the killed standby')
        self.same_leader(leader, c, fig)
        self.check_single_primary(t_fault, c)
        return t_ack is not None

    def kill_replicas(self, leader, t_fault, c, fig):
        replicas = [n for n in NODES if n != leader]
        down = self.args.replicas_down_seconds
        log('crash of both replicas (%s) for %.0f s: SIGKILL their Patroni '
            'and PostgreSQL; the leader %s may acknowledge nothing meanwhile'
            % (', '.join(replicas), down, leader))
        for node in replicas:
            if not self.kill_node(node):
                c.check('postmaster found', ['no postmaster pid for %s' % node])
                self.start_nodes(replicas, c)
                return False
        # the traders each wait for the order they sent: new ones, each
        # on a new connection, ask whether anything is acknowledged now
        probe = Probe(len(self.traders), None, self.cluster, self.accounts,
                      self.results, self.load, threading.Event(),
                      self.rng.randrange(1 << 30), 0)
        t_end = t_fault + down
        sent = 0
        while now() < t_end - 0.3:
            time.sleep(0.25)
            req = probe.new_place()
            with self.results.lock:
                self.results.places.append(req)
            probe.pending.append(req)
            if probe.ensure_conn():
                probe.send_place(req)
                sent += 1
            probe.drop_conn()
        time.sleep(max(0.0, t_end - now()))
        t_back = now()
        fig['probes'] = sent
        c.check('orders sent while the replicas were down', [] if sent >= 2
                else ['only %d sent in %.0f s' % (sent, down)])
        early = self.acked_early(t_fault, t_back)
        c.check('nothing sent after the kill acknowledged while no replica '
                'ran (strict synchronous mode)',
                ['%d orders, the first %s acknowledged %.2f s after the kill'
                 % (len(early), early[0].coid, early[0].acked_at - t_fault)]
                if early else [])
        self.start_nodes(replicas, c)
        # the probes' unanswered orders, sent again until answered
        deadline = now() + 60
        while probe.pending and now() < deadline:
            if probe.ensure_conn():
                probe.send_place(probe.pending[0])
            else:
                time.sleep(0.2)
        probe.drop_conn()
        c.check('every probe order answered within 60 s of the replicas\' '
                'start', ['%s still unknown' % r.coid for r in probe.pending])
        t_ack = self.acked_again(t_fault, c, fig, 60,
                                 ' after the replicas were started,')
        if t_ack:
            fig['restart'] = t_ack - t_back
        for node in replicas:
            self.wait_rejoin(node, t_fault, c, fig, what='a killed replica')
        self.same_leader(leader, c, fig)
        self.check_single_primary(t_fault, c)
        return t_ack is not None

    def writable_after(self, old, t_fault):
        """How long old and the new leader were both writable."""
        both = [t for t, p in self.monitor.samples
                if t >= t_fault and old in p and len(p) > 1]
        return (both[-1] - both[0] + 0.25) if both else 0.0

    def etcd_down(self, old, t_fault, c, fig):
        down = self.args.etcd_down_seconds
        log('stopping etcd for %.0f s (ttl %s)' % (down, self.args.ttl))
        if not self.cluster.cluster_sh('stop-etcd'):
            c.check('etcd stops', ['cluster.sh stop-etcd failed'])
            return False
        time.sleep(down)
        t_back = now()
        log('starting etcd')
        if not self.cluster.cluster_sh('start-etcd'):
            c.check('etcd starts', ['cluster.sh start-etcd failed'])
            return False
        t_ack = self.wait_for('an order after etcd returned',
                              lambda: self.first_ack(t_back), 60)
        if not t_ack:
            c.check('trading resumes after etcd returns', ['no order in 60 s'])
            return False
        fig['outage'] = t_ack - t_back
        fig['new'] = self.cluster.leader()
        self.check_single_primary(t_fault, c)
        if fig['new'] != old:
            self.wait_rejoin(old, t_fault, c, fig)
        return True


def check_role_changes(cluster, c, seconds=60):
    """Every promotion the Patroni callbacks logged is a row of
    exchange.role_change on the primary (unless the node was demoted again
    before its row could be written), and the hook ran for each."""
    log_path = os.path.join(cluster.state, 'role-changes.log')
    hook_path = os.path.join(cluster.state, 'hook-calls.log')
    deadline = now() + seconds
    while True:
        promotions, skipped, changes = set(), set(), 0
        with open(log_path) as f:
            for line in f:
                w = line.split()
                if len(w) >= 6 and w[2] in ('on_start:', 'on_role_change:') \
                        and w[3] != w[5]:
                    changes += 1
                    if w[5] == 'primary':
                        promotions.add((w[1], w[0]))
                elif 'demoted again before its change of' in line:
                    skipped.add((w[1].rstrip(':'), w[8]))
        rows = cluster.query(None, "SELECT node, to_char(changed_at AT TIME "
                             "ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') "
                             "FROM exchange.role_change", timeout=5) or []
        missing = sorted(promotions - skipped - set(rows))
        try:
            with open(hook_path) as f:
                hooks = sum(1 for _ in f)
        except OSError:
            hooks = 0
        if (not missing and hooks >= changes) or now() > deadline:
            break
        time.sleep(1)
    print('role changes: %d logged, %d promotions, %d rows in '
          'exchange.role_change, %d hook runs' % (changes, len(promotions),
                                                  len(rows), hooks))
    c.check('every promotion recorded in exchange.role_change',
            ['%s became primary at %s: no row' % m for m in missing])
    c.check('the role-change hook ran for every change',
            [] if hooks >= changes else
            ['%d changes, %d hook runs' % (changes, hooks)])


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--state', required=True)
    ap.add_argument('--port-base', type=int, required=True)
    ap.add_argument('--rest-base', type=int, required=True)
    ap.add_argument('--traders', type=int, default=8)
    ap.add_argument('--accounts', type=int, default=20)
    ap.add_argument('--rate', type=float, default=50,
                    help='new requests per second per trader (0: no limit)')
    ap.add_argument('--kills', type=int, default=3)
    ap.add_argument('--load-seconds', type=float, default=3.0)
    ap.add_argument('--tail-seconds', type=float, default=2.0)
    ap.add_argument('--rejoin-bar', type=float, default=60.0)
    ap.add_argument('--replicas-down-seconds', type=float, default=5.0,
                    help='how long kill-replicas keeps both replicas down')
    ap.add_argument('--rto-bar', type=float, default=10.0)
    ap.add_argument('--only', default=None,
                    help='comma-separated drill names to run')
    ap.add_argument('--seed', type=int, default=None)
    args = ap.parse_args()
    if args.seed is None:
        args.seed = random.randrange(1 << 30)
    log('seed %d (repeat with --seed %d)' % (args.seed, args.seed))
    rng = random.Random(args.seed)

    cluster = Cluster(args.state, args.port_base, args.rest_base)
    if not cluster.wait_healthy(60):
        print('FAIL cluster not healthy at the start')
        print('0 passed, 1 failed')
        return 1
    timings = cluster.timings()
    args.ttl = timings.get('ttl')
    args.etcd_down_seconds = float(args.ttl or 5) + 4
    timing_text = 'ttl=%s loop_wait=%s retry_timeout=%s ' \
        'primary_start_timeout=%s synchronous_mode_strict=%s' % tuple(
            timings.get(k) for k in ('ttl', 'loop_wait', 'retry_timeout',
                                     'primary_start_timeout',
                                     'synchronous_mode_strict'))
    log('Patroni timings: ' + timing_text)

    accounts, deposited = setup(cluster, args.accounts)
    results = Results()
    load = threading.Event()
    quit = threading.Event()
    traders = [HaTrader(i, None if i % 2 == 0 else 'haproxy', cluster,
                        accounts, results, load, quit, rng.randrange(1 << 30),
                        args.rate)
               for i in range(args.traders)]
    for t in traders:
        t.start()
    monitor = Monitor(cluster)
    monitor.start()

    d = Drills(args, cluster, results, traders, load, monitor, accounts,
               deposited)
    plan = [('kill-postmaster-%d' % (i + 1), d.kill_postmaster)
            for i in range(args.kills)]
    plan += [('switchover', d.switchover), ('kill-patroni', d.kill_patroni),
             ('etcd-down', d.etcd_down), ('freeze-patroni', d.freeze_patroni),
             ('kill-engine', d.kill_engine),
             ('kill-sync-standby', d.kill_sync_standby),
             ('kill-replicas', d.kill_replicas)]
    if args.only:
        wanted = args.only.split(',')
        plan = [p for p in plan if any(p[0].startswith(w) for w in wanted)]
    try:
        for name, action in plan:
            d.run(name, action)
    finally:
        load.clear()
        quit.set()
        monitor.quit.set()
        for t in traders:
            t.join(10)

    c = new_checks()
    check_role_changes(cluster, c)
    d.passed += c.failed == 0
    d.failed += c.failed != 0

    places = results.places
    log('place_orders: %d sent, %d acked, %d refused, %d needed a retry; %s'
        % (len(places), sum(1 for p in places if p.state == 'acked'),
           sum(1 for p in places if p.state == 'refused'),
           sum(1 for p in places if p.unknowns),
           ', '.join('%s=%d' % kv for kv in sorted(results.counts.items()))))
    print('Patroni timings: ' + timing_text)
    for line in d.lines:
        print(line)
    if d.rto_sigkill:
        rto = sorted(d.rto_sigkill)
        med = statistics.median(rto)
        print('RTO over %d postmaster SIGKILL trials: min %.2f s, median '
              '%.2f s, max %.2f s (bar: median <= %.0f s)'
              % (len(rto), rto[0], med, rto[-1], args.rto_bar))
        if med <= args.rto_bar:
            d.passed += 1
        else:
            print('FAIL RTO median %.2f s above %.0f s' % (med, args.rto_bar))
            d.failed += 1
    if d.rejoins:
        print('old leader back as a streaming replica: min %.1f s, max %.1f s '
              '(bar %.0f s)' % (min(d.rejoins), max(d.rejoins), args.rejoin_bar))
    print('%d passed, %d failed' % (d.passed, d.failed))
    return 0 if d.failed == 0 else 1


if __name__ == '__main__':
    sys.exit(main())
