#!/usr/bin/python3
"""Crash test for the exchange extension.

Concurrent traders place, cancel and amend orders while the postmaster is
SIGKILLed and restarted several times.  Every place_order carries a unique
client_order_id; a request whose outcome is unknown (connection lost,
EX002..EX005, ...) is sent again, with the same client_order_id and the
same parameters, once the server is back.  At the end the committed tables
are checked against everything the traders were told.

Run through run.sh (it starts and stops the server); see --help.
"""

import argparse
import bisect
import datetime
import os
import random
import signal
import subprocess
import sys
import threading
import time
from decimal import Decimal

import psycopg2

HERE = os.path.dirname(os.path.abspath(__file__))
PGSERVER_SH = os.path.join(HERE, '..', 'lib', 'pgserver.sh')

# SQLSTATEs whose outcome is unknown: retry with the same client_order_id.
UNKNOWN_CODES = {
    'EX002',    # engine not running (restarting / rebuilding)
    'EX003',    # queue full
    'EX004',    # timeout: may still be carried out
    'EX005',    # engine stopped before answering
    '57014',    # statement_timeout (our safety net)
}
UNKNOWN_CLASSES = ('08', '57P')     # connection exceptions, shutdowns
# SQLSTATEs that are a definitive answer: nothing happened.
DEFINITIVE_CODES = {
    'EX001',    # insufficient funds
    '55000',    # object_not_in_prerequisite_state (amend of an ended order)
    '53400',    # configuration_limit_exceeded (capacity)
}
DEFINITIVE_CLASSES = ('22',)        # invalid_parameter_value and friends

FINAL_STATUSES = {'filled', 'cancelled', 'rejected', 'expired'}
OPEN_STATUSES = {'open', 'partially_filled'}

ASSETS = [('BTC', 8), ('ETH', 8), ('USDT', 6)]
# symbol, base, quote, tick, lot, mid price, max lots per order
MARKETS = [
    ('BTC-USDT', 'BTC', 'USDT', Decimal('0.01'), Decimal('0.0001'),
     Decimal('30000'), 500),
    ('ETH-USDT', 'ETH', 'USDT', Decimal('0.01'), Decimal('0.001'),
     Decimal('2000'), 1000),
]
MAKER_FEE_BPS = 10
TAKER_FEE_BPS = 20
# small enough that some orders are refused for insufficient funds (EX001)
DEPOSITS = {'BTC': Decimal('0.5'), 'ETH': Decimal('10'),
            'USDT': Decimal('30000')}

PLACE_SQL = """
SELECT order_id, status::text, executed_quantity, remaining_quantity
  FROM exchange.place_order(
        account_id => %(account)s, market => %(market)s,
        side => %(side)s::exchange.side, quantity => %(quantity)s::numeric,
        price => %(price)s::numeric, type => %(type)s::exchange.order_type,
        time_in_force => %(tif)s::exchange.time_in_force,
        post_only => %(post_only)s, client_order_id => %(coid)s,
        stp => %(stp)s::exchange.stp_mode,
        quote_quantity => %(quote_quantity)s::numeric)
"""
CANCEL_SQL = """
SELECT order_id, status::text, executed_quantity, remaining_quantity
  FROM exchange.cancel_order(%s, %s)
"""
AMEND_SQL = """
SELECT order_id, status::text, executed_quantity, remaining_quantity
  FROM exchange.amend_order(%s, %s, %s::numeric)
"""

T0 = time.monotonic()


def log(msg):
    print('[%7.2fs] %s' % (time.monotonic() - T0, msg), flush=True)


def classify(exc):
    """'unknown', 'definitive' or 'unexpected' for a psycopg2 error."""
    code = getattr(exc, 'pgcode', None)
    if code is None:
        return 'unknown'            # connection lost: no SQLSTATE at all
    if code in UNKNOWN_CODES or code.startswith(UNKNOWN_CLASSES):
        return 'unknown'
    if code in DEFINITIVE_CODES or code.startswith(DEFINITIVE_CLASSES):
        return 'definitive'
    return 'unexpected'


def short(exc):
    text = str(exc).strip().splitlines()
    return (getattr(exc, 'pgcode', None) or 'no-sqlstate') + ': ' + \
        (text[0] if text else type(exc).__name__)


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


class PlaceRequest:
    """One place_order, with its parameters and what became of it."""

    def __init__(self, coid, params):
        self.coid = coid
        self.params = params        # dict for PLACE_SQL
        self.state = 'pending'      # pending | acked | refused
        self.attempts = 0
        self.unknowns = 0
        self.order_id = None
        self.error = None
        self.first_unknown = None   # wall clock of the first unknown outcome


class Results:
    """Everything the traders were told, shared by all threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.places = []            # PlaceRequest
        self.snapshots = []         # (order_id, account, status, executed, what)
        self.amended = []           # (order_id, account, new_quantity)
        self.unexpected = []        # (what, error text)
        self.counts = {}

    def count(self, key, n=1):
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + n


class Trader(threading.Thread):
    def __init__(self, tid, server, accounts, results, stop_new, deadline,
                 seed):
        super().__init__(name='trader-%d' % tid, daemon=True)
        self.tid = tid
        self.server = server
        self.accounts = accounts
        self.results = results
        self.stop_new = stop_new
        self.deadline = deadline
        self.rng = random.Random(seed)
        self.conn = None
        self.seq = 0
        self.pending = []           # PlaceRequest awaiting a definitive answer
        self.open_orders = {}       # order_id -> (account, market, qty, executed)

    # -- connection ------------------------------------------------------

    def ensure_conn(self):
        if self.conn is not None and self.conn.closed == 0:
            return True
        self.drop_conn()
        try:
            self.conn = self.server.connect('crash-trader-%d' % self.tid)
            return True
        except psycopg2.Error:
            self.results.count('connect_failures')
            return False

    def drop_conn(self):
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:
                pass
        self.conn = None

    def run_sql(self, sql, params):
        """Returns ('ok', row) or (class, exception)."""
        try:
            cur = self.conn.cursor()
            cur.execute(sql, params)
            row = cur.fetchone()
            cur.close()
            return 'ok', row
        except psycopg2.Error as e:
            cls = classify(e)
            if self.conn is None or self.conn.closed != 0 or \
                    getattr(e, 'pgcode', None) is None:
                self.drop_conn()
            return cls, e

    # -- requests --------------------------------------------------------

    def new_place(self):
        rng = self.rng
        symbol, _b, _q, tick, lot, mid, max_lots = rng.choice(MARKETS)
        self.seq += 1
        coid = 'ct%d-%d' % (self.tid, self.seq)
        side = rng.choice(('buy', 'sell'))
        lots = rng.randint(1, max_lots)
        p = {'account': rng.choice(self.accounts), 'market': symbol,
             'side': side, 'quantity': str(lot * lots), 'price': None,
             'type': 'limit', 'tif': 'gtc', 'post_only': False,
             'coid': coid, 'stp': 'cancel_taker', 'quote_quantity': None}
        r = rng.random()
        if r < 0.10:
            p['type'] = 'market'
            if side == 'buy' and rng.random() < 0.4:
                p['quantity'] = None
                p['quote_quantity'] = str((mid * lot * lots).quantize(
                    Decimal('0.01')))
        else:
            offset = Decimal(rng.uniform(-0.01, 0.01))
            p['price'] = str((mid * (1 + offset)).quantize(tick))
            p['tif'] = rng.choices(('gtc', 'ioc', 'fok'), (60, 25, 15))[0]
            if p['tif'] == 'gtc' and rng.random() < 0.15:
                p['post_only'] = True
        s = rng.random()
        if s < 0.1:
            p['stp'] = 'cancel_maker'
        elif s < 0.2:
            p['stp'] = 'cancel_both'
        return PlaceRequest(coid, p)

    def send_place(self, req):
        retry = req.attempts > 0
        req.attempts += 1
        if retry:
            self.results.count('retry_attempts')
        cls, out = self.run_sql(PLACE_SQL, req.params)
        if cls == 'ok':
            order_id, status, executed, remaining = out
            req.state = 'acked'
            req.order_id = order_id
            self.snapshot(order_id, req.params['account'], status, executed,
                          'place %s%s' % (req.coid, ' (retry)' if retry else ''))
            if status in OPEN_STATUSES:
                self.open_orders[order_id] = (req.params['account'],
                                              req.params['market'],
                                              executed + remaining, executed)
            if req in self.pending:
                self.pending.remove(req)
            return
        if cls == 'definitive':
            req.state = 'refused'
            req.error = out.pgcode
            self.results.count('refused_' + out.pgcode)
            if req in self.pending:
                self.pending.remove(req)
            return
        if cls == 'unexpected':
            with self.results.lock:
                self.results.unexpected.append(('place ' + req.coid,
                                                short(out)))
        req.unknowns += 1
        if req.first_unknown is None:
            req.first_unknown = datetime.datetime.now(datetime.timezone.utc)
        self.results.count('unknown_' + (getattr(out, 'pgcode', None)
                                          or 'connection'))
        if req not in self.pending:
            self.pending.append(req)
        time.sleep(0.02)

    def snapshot(self, order_id, account, status, executed, what):
        with self.results.lock:
            self.results.snapshots.append((order_id, account, status,
                                           executed, what))
        if status not in OPEN_STATUSES:
            self.open_orders.pop(order_id, None)

    def send_cancel(self):
        order_id = self.rng.choice(list(self.open_orders))
        account = self.open_orders[order_id][0]
        cls, out = self.run_sql(CANCEL_SQL, (account, order_id))
        self.after_modify('cancel', cls, out, order_id, account)

    def send_amend(self):
        order_id = self.rng.choice(list(self.open_orders))
        account, market, qty, executed = self.open_orders[order_id]
        lot = [m[4] for m in MARKETS if m[0] == market][0]
        lots_total = int(qty / lot)
        lots_done = int(executed / lot)
        if lots_total - lots_done < 2:
            return self.send_cancel()
        new_qty = lot * self.rng.randint(lots_done + 1, lots_total - 1)
        cls, out = self.run_sql(AMEND_SQL, (account, order_id, str(new_qty)))
        if cls == 'ok':
            with self.results.lock:
                self.results.amended.append((order_id, account, new_qty))
            if out[1] in OPEN_STATUSES:
                self.open_orders[order_id] = (account, market,
                                              out[2] + out[3], out[2])
        self.after_modify('amend', cls, out, order_id, account)

    def after_modify(self, what, cls, out, order_id, account):
        if cls == 'ok':
            self.results.count(what + '_acked')
            self.snapshot(out[0], account, out[1], out[2],
                          '%s %d' % (what, order_id))
        elif cls == 'definitive':
            self.results.count('%s_refused_%s' % (what, out.pgcode))
            self.open_orders.pop(order_id, None)
        else:
            if cls == 'unexpected':
                with self.results.lock:
                    self.results.unexpected.append(
                        ('%s %d' % (what, order_id), short(out)))
            self.results.count(what + '_unknown')
            time.sleep(0.02)

    def send_cancel_all(self):
        account = self.rng.choice(self.accounts)
        cls, out = self.run_sql('SELECT exchange.cancel_all(%s)', (account,))
        if cls == 'ok':
            self.results.count('cancel_all_acked')
        elif cls == 'unexpected':
            with self.results.lock:
                self.results.unexpected.append(('cancel_all', short(out)))

    # -- main loop -------------------------------------------------------

    def run(self):
        try:
            self.loop()
        except Exception as e:      # a harness bug: make it visible
            with self.results.lock:
                self.results.unexpected.append(
                    (self.name, 'exception %r' % e))
        finally:
            self.drop_conn()

    def loop(self):
        while time.monotonic() < self.deadline:
            if self.stop_new.is_set() and not self.pending:
                return
            if not self.ensure_conn():
                time.sleep(0.05)
                continue
            if self.pending:
                self.send_place(self.pending[0])
                continue
            if self.stop_new.is_set():
                continue
            r = self.rng.random()
            if r < 0.10 and self.open_orders:
                self.send_cancel()
            elif r < 0.15 and self.open_orders:
                self.send_amend()
            elif r < 0.152:
                self.send_cancel_all()
            else:
                req = self.new_place()
                with self.results.lock:
                    self.results.places.append(req)
                self.send_place(req)


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.violations = 0

    def check(self, name, problems, limit=20):
        problems = list(problems)
        if problems:
            self.failed += 1
            self.violations += len(problems)
            print('FAIL %s: %d violation(s)' % (name, len(problems)))
            for p in problems[:limit]:
                print('    ' + str(p))
            if len(problems) > limit:
                print('    ... %d more' % (len(problems) - limit))
        else:
            self.passed += 1
            print('ok   %s' % name)
        sys.stdout.flush()
        return len(problems)


def setup(server, n_accounts):
    conn = server.connect('crash-setup')
    cur = conn.cursor()
    cur.execute('CREATE EXTENSION exchange')
    cur.execute('SELECT exchange.wait_for_engine(10000)')
    if not cur.fetchone()[0]:
        raise RuntimeError('engine did not start')
    for code, scale in ASSETS:
        cur.execute('SELECT exchange.create_asset(%s, %s)', (code, scale))
    for symbol, base, quote, tick, lot, _mid, _ in MARKETS:
        cur.execute('SELECT exchange.create_market(%s, %s, %s, %s, %s, %s, %s)',
                    (symbol, base, quote, tick, lot, MAKER_FEE_BPS,
                     TAKER_FEE_BPS))
    accounts = []
    deposited = {code: Decimal(0) for code, _ in ASSETS}
    for i in range(n_accounts):
        cur.execute('SELECT exchange.create_account(%s)', ('crash-%d' % i,))
        account = cur.fetchone()[0]
        accounts.append(account)
        for code, amount in DEPOSITS.items():
            cur.execute('SELECT exchange.deposit(%s, %s, %s, %s)',
                        (account, code, amount, 'crash-dep-%d-%s' % (account, code)))
            deposited[code] += amount
    conn.close()
    return accounts, deposited


def verify(server, results, accounts, deposited, kills, min_kills):
    c = Checks()
    conn = server.connect('crash-verify', autocommit=True)
    cur = conn.cursor()

    # the engine must be idle: nothing left in its queue
    for _ in range(50):
        cur.execute('SELECT queued, open_orders, failed_batches, rebuilds, '
                    'state FROM exchange.engine_status()')
        queued, engine_open, failed_batches, rebuilds, state = cur.fetchone()
        if queued == 0:
            break
        time.sleep(0.1)
    log('engine: state=%s open_orders=%s failed_batches=%s rebuilds=%s '
        'queued=%s' % (state, engine_open, failed_batches, rebuilds, queued))

    conn.set_session(isolation_level='REPEATABLE READ', readonly=True,
                     autocommit=False)
    cur = conn.cursor()
    cur.execute("""SELECT order_id, account_id, market, side::text, type::text,
                          price, quantity, executed_quantity, status::text,
                          client_order_id, created_at
                     FROM exchange.orders""")
    rows = cur.fetchall()
    by_id = {}
    by_key = {}
    for r in rows:
        by_id[r[0]] = r
        by_key.setdefault((r[1], r[9]), []).append(r)
    open_count = sum(1 for r in rows if r[8] in OPEN_STATUSES)

    # Which retried orders had in fact been carried out before the crash
    # (the retry found them) and which did the retry place?
    starts = sorted(server.starts)
    found = placed_by_retry = 0
    for p in results.places:
        if p.state != 'acked' or p.unknowns == 0 or p.order_id not in by_id:
            continue
        i = bisect.bisect_right(starts, p.first_unknown)
        if i < len(starts) and by_id[p.order_id][10] < starts[i]:
            found += 1
        else:
            placed_by_retry += 1
    log('retried place_orders: %d had been carried out before the crash '
        '(the retry returned them), %d were placed by the retry'
        % (found, placed_by_retry))

    c.check('at least %d kill/restart cycles' % min_kills,
            [] if kills >= min_kills else ['only %d kills' % kills])

    c.check('every place_order got a definitive answer',
            ['%s: still unknown after %d attempts' % (p.coid, p.attempts)
             for p in results.places if p.state == 'pending'])

    lost = []
    for p in results.places:
        if p.state != 'acked':
            continue
        r = by_id.get(p.order_id)
        prm = p.params
        if r is None:
            lost.append('order %d (%s) acked but missing' % (p.order_id, p.coid))
        elif (r[1], r[9]) != (prm['account'], p.coid):
            lost.append('order %d: stored account/client id %s/%s, acked %s/%s'
                        % (p.order_id, r[1], r[9], prm['account'], p.coid))
        elif (r[2], r[3], r[4]) != (prm['market'], prm['side'], prm['type']) \
                or (prm['price'] is not None and r[5] != Decimal(prm['price'])):
            lost.append('order %d (%s): stored %s, requested %s'
                        % (p.order_id, p.coid, r[2:6], prm))
    n_lost = c.check('no acknowledged order lost', lost)

    dups = ['account %s client_order_id %s: orders %s'
            % (k[0], k[1], [r[0] for r in v])
            for k, v in by_key.items() if k[1] is not None and len(v) > 1]
    n_dups = c.check('no duplicate (account_id, client_order_id)', dups)

    placed = {(p.params['account'], p.coid): p for p in results.places}
    c.check('every stored order was requested, with its parameters', [
        'order %d: account %s client_order_id %r not requested by the test'
        % (r[0], r[1], r[9]) for r in rows if (r[1], r[9]) not in placed])

    c.check('refused place_orders left no order', [
        '%s refused with %s but stored as order %s'
        % (p.coid, p.error, [r[0] for r in by_key[(p.params['account'], p.coid)]])
        for p in results.places
        if p.state == 'refused' and (p.params['account'], p.coid) in by_key])

    cur.execute('SELECT invariant, detail FROM exchange.check_invariants()')
    c.check('exchange.check_invariants() returns no rows',
            ['%s: %s' % r for r in cur.fetchall()])

    cur.execute('SELECT asset, sum(available + locked), count(*), '
                'min(available), min(locked) FROM exchange.balances GROUP BY asset')
    totals = {r[0]: r for r in cur.fetchall()}
    problems = []
    for code, amount in deposited.items():
        got = totals.get(code, (code, Decimal(0), 0, 0, 0))
        if got[1] != amount:
            problems.append('%s: balances total %s, test deposited %s'
                            % (code, got[1], amount))
        if got[3] < 0 or got[4] < 0:
            problems.append('%s: negative balance (min available %s, min '
                            'locked %s)' % (code, got[3], got[4]))
    c.check('per-asset totals equal the deposits the test made', problems)

    for symbol, *_ in MARKETS:
        cur.execute('SELECT side::text, price, quantity, order_count '
                    'FROM exchange.order_book(%s, 1000000)', (symbol,))
        book = {(r[0], r[1]): (r[2], r[3]) for r in cur.fetchall()}
        agg = {}
        for r in rows:
            if r[2] == symbol and r[8] in OPEN_STATUSES:
                q, n = agg.get((r[3], r[5]), (Decimal(0), 0))
                agg[(r[3], r[5])] = (q + r[6] - r[7], n + 1)
        problems = []
        for k in sorted(set(book) | set(agg)):
            if book.get(k) != agg.get(k):
                problems.append('%s %s: order_book %s, open orders %s'
                                % (k[0], k[1], book.get(k), agg.get(k)))
        c.check('order_book(%s) equals the open orders' % symbol, problems)
        bids = [k[1] for k in book if k[0] == 'buy']
        asks = [k[1] for k in book if k[0] == 'sell']
        bid = max(bids) if bids else None
        ask = min(asks) if asks else None
        log('%s: %d bid levels, %d ask levels, best bid %s, best ask %s'
            % (symbol, len(bids), len(asks), bid, ask))
        c.check('best bid < best ask on %s' % symbol,
                [] if bid is None or ask is None or bid < ask
                else ['best bid %s >= best ask %s' % (bid, ask)])

    problems = []
    for order_id, account, status, executed, what in results.snapshots:
        r = by_id.get(order_id)
        if r is None:
            problems.append('%s: order %d told %s, now missing'
                            % (what, order_id, status))
        elif r[1] != account:
            problems.append('%s: order %d of account %s, stored for %s'
                            % (what, order_id, account, r[1]))
        elif status in FINAL_STATUSES and (r[8], r[7]) != (status, executed):
            problems.append('%s: order %d told %s executed %s, now %s '
                            'executed %s' % (what, order_id, status, executed,
                                             r[8], r[7]))
        elif r[7] < executed:
            problems.append('%s: order %d told executed %s, now %s'
                            % (what, order_id, executed, r[7]))
    c.check('acked final states kept, executed quantities never decreased',
            problems)

    c.check('amended orders keep at most the amended quantity', [
        'order %d amended to %s, stored quantity %s' % (o, q, by_id[o][6])
        if o in by_id else 'amended order %d missing' % o
        for o, _a, q in results.amended
        if o not in by_id or by_id[o][6] > q])

    c.check("engine's open orders equal the table's",
            [] if engine_open == open_count else
            ['engine_status().open_orders %s, open orders in table %d'
             % (engine_open, open_count)])

    c.check('no unexpected errors', ['%s: %s' % u for u in results.unexpected])

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
    traders = [Trader(i, server, accounts, results, stop_new, trader_deadline,
                      rng.randrange(1 << 30)) for i in range(args.traders)]
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

    checks, n_lost, n_dups = verify(server, results, accounts, deposited,
                                    kills, min(2, args.kills))
    print('crash-test: kills=%d orders_acked=%d retried=%d lost=%d '
          'duplicates=%d violations=%d'
          % (kills, acked, retried, n_lost, n_dups, checks.violations))
    print('%d passed, %d failed' % (checks.passed, checks.failed))
    return 0 if checks.failed == 0 else 1


if __name__ == '__main__':
    sys.exit(main())
