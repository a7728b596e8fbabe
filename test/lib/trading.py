"""Traders and checks shared by the crash test (test/crash/crash_test.py)
and the failover drills (test/ha/drills.py).

A Trader thread places, cancels and amends random orders on the demo
markets.  Every place_order carries a unique client_order_id; one whose
outcome is unknown (connection lost, EX002..EX005, ...) is sent again with
the same client_order_id and parameters until it gets a definitive answer.
Results keeps everything the traders were told; check_committed() compares
the committed tables with it.  Each test subclasses Trader to say how it
connects and when it stops.
"""

import datetime
import json
import random
import sys
import threading
import time
from decimal import Decimal

import psycopg2

# SQLSTATEs whose outcome is unknown: retry with the same client_order_id.
UNKNOWN_CODES = frozenset({
    'EX002',    # engine not running (restarting, rebuilding)
    'EX003',    # queue full
    'EX004',    # timeout: may still be carried out
    'EX005',    # engine stopped, or standby confirmation missing
    '57014',    # statement_timeout (the client's guard)
})
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
# place_orders: one document of orders, one row per order in input order;
# half the calls send it as text (place_orders(text), read directly, as a
# gateway's untyped parameter resolves), half as jsonb
BATCH_SQL = """
SELECT order_id, status::text, executed_quantity, remaining_quantity,
       error_code, error_message
  FROM exchange.place_orders(%s) ORDER BY ordinal
"""
BATCH_SQL_JSONB = BATCH_SQL.replace('place_orders(%s)', 'place_orders(%s::jsonb)')
# PLACE_SQL's parameter -> place_orders' key (place_order's argument name)
BATCH_KEYS = {'account': 'account_id', 'market': 'market', 'side': 'side',
              'quantity': 'quantity', 'price': 'price', 'type': 'type',
              'tif': 'time_in_force', 'post_only': 'post_only',
              'coid': 'client_order_id', 'stp': 'stp',
              'quote_quantity': 'quote_quantity'}
ORDERS_SQL = """
SELECT order_id, account_id, market, side::text, type::text, price, quantity,
       executed_quantity, status::text, client_order_id, created_at
  FROM exchange.orders
"""

T0 = time.monotonic()


def now():
    return time.monotonic()


def log(msg):
    print('[%7.2fs] %s' % (now() - T0, msg), flush=True)


def classify(exc, unknown_codes=UNKNOWN_CODES):
    """'unknown', 'definitive' or 'unexpected' for a psycopg2 error."""
    return classify_code(getattr(exc, 'pgcode', None), unknown_codes)


def classify_code(code, unknown_codes=UNKNOWN_CODES):
    """The same for a SQLSTATE (None: the connection was lost)."""
    if code is None:
        return 'unknown'            # connection lost: no SQLSTATE at all
    if code in unknown_codes or code.startswith(UNKNOWN_CLASSES):
        return 'unknown'
    if code in DEFINITIVE_CODES or code.startswith(DEFINITIVE_CLASSES):
        return 'definitive'
    return 'unexpected'


def short(exc):
    text = str(exc).strip().splitlines()
    return (getattr(exc, 'pgcode', None) or 'no-sqlstate') + ': ' + \
        (text[0] if text else type(exc).__name__)


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
        self.created = now()
        self.first_unknown = None   # wall clock of the first unknown outcome
        self.acked_at = None        # monotonic
        self.acked_node = None      # the node that answered, where known


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
    """One client: places (and cancels, amends) orders, and repeats every
    unanswered place_order with its client_order_id.  A subclass opens the
    connection (connect) and says when to go on (active, taking_new,
    idle_wait)."""

    coid_prefix = 't'
    unknown_codes = UNKNOWN_CODES
    # the share of actions that are one place_orders call of batch_size
    # orders (above cancel_all_below; 0: none); an order of a call whose
    # outcome is unknown is retried alone, with place_order
    batch_below = 0.0
    batch_size = (16, 48)
    retry_pause = 0.02              # seconds after an unknown outcome
    reconnect_pause = 0.05          # seconds after a failed connect
    rate = 0                        # new requests per second, at most (0: any)
    # a random draw below this that is no cancel or amend sends cancel_all
    cancel_all_below = 0.0

    def __init__(self, tid, accounts, results, seed):
        super().__init__(name='trader-%d' % tid, daemon=True)
        self.tid = tid
        self.accounts = accounts
        self.results = results
        self.rng = random.Random(seed)
        self.conn = None
        self.node = None            # the node self.conn is on, where known
        self.seq = 0
        self.pending = []           # PlaceRequest awaiting a definitive answer
        self.open_orders = {}       # order_id -> (account, market, qty, executed)

    # -- what a test says ------------------------------------------------

    def connect(self):
        """Open self.conn (autocommit); psycopg2.Error if it cannot."""
        raise NotImplementedError

    def active(self):
        """False once the trader must stop, retried or not."""
        raise NotImplementedError

    def taking_new(self):
        """True while new requests are wanted."""
        raise NotImplementedError

    def idle_wait(self):
        """Nothing to retry and no new requests wanted: wait a little and
        return True to go on, or return False to end."""
        return False

    def drop_after(self, cls, exc):
        """Whether an error of class cls leaves the connection unusable."""
        return self.conn is None or self.conn.closed != 0 or \
            getattr(exc, 'pgcode', None) is None

    # -- connection ------------------------------------------------------

    def ensure_conn(self):
        if self.conn is not None and self.conn.closed == 0:
            return True
        self.drop_conn()
        try:
            self.connect()
            return True
        except psycopg2.Error:
            self.results.count('connect_failures')
            self.drop_conn()
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
            cls = classify(e, self.unknown_codes)
            if self.drop_after(cls, e):
                self.drop_conn()
            return cls, e

    # -- requests --------------------------------------------------------

    def new_place(self):
        rng = self.rng
        symbol, _b, _q, tick, lot, mid, max_lots = rng.choice(MARKETS)
        self.seq += 1
        coid = '%s%d-%d' % (self.coid_prefix, self.tid, self.seq)
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
        node = self.node
        cls, out = self.run_sql(PLACE_SQL, req.params)
        if cls == 'ok':
            self.placed(req, node, retry, *out)
        else:
            self.not_placed(req, cls, getattr(out, 'pgcode', None),
                            short(out))
            if cls != 'definitive':
                time.sleep(self.retry_pause)

    def placed(self, req, node, retry, order_id, status, executed, remaining):
        req.state = 'acked'
        req.order_id = order_id
        req.acked_at = now()
        req.acked_node = node
        self.snapshot(order_id, req.params['account'], status, executed,
                      'place %s%s' % (req.coid, ' (retry)' if retry else ''))
        if status in OPEN_STATUSES:
            self.open_orders[order_id] = (req.params['account'],
                                          req.params['market'],
                                          executed + remaining, executed)
        if req in self.pending:
            self.pending.remove(req)

    def not_placed(self, req, cls, code, text):
        """A refusal (cls 'definitive'), or an outcome not known: then req
        waits in self.pending to be sent again."""
        if cls == 'definitive':
            req.state = 'refused'
            req.error = code
            self.results.count('refused_' + code)
            if req in self.pending:
                self.pending.remove(req)
            return
        if cls == 'unexpected':
            with self.results.lock:
                self.results.unexpected.append(('place ' + req.coid, text))
        req.unknowns += 1
        if req.first_unknown is None:
            req.first_unknown = datetime.datetime.now(datetime.timezone.utc)
        self.results.count('unknown_' + (code or 'connection'))
        if req not in self.pending:
            self.pending.append(req)

    def send_batch(self):
        """One place_orders call of new orders; each row is its order's
        answer.  If the call as a whole fails, every order in it is
        refused (a definitive error) or pending (then retried alone)."""
        reqs = [self.new_place()
                for _ in range(self.rng.randint(*self.batch_size))]
        with self.results.lock:
            self.results.places.extend(reqs)
        doc = json.dumps([{BATCH_KEYS[k]: v for k, v in r.params.items()
                           if v is not None} for r in reqs])
        for r in reqs:
            r.attempts += 1
        self.results.count('batch_calls')
        node = self.node
        try:
            cur = self.conn.cursor()
            cur.execute(BATCH_SQL if self.rng.random() < 0.5
                        else BATCH_SQL_JSONB, (doc,))
            rows = cur.fetchall()
            cur.close()
        except psycopg2.Error as e:
            cls = classify(e, self.unknown_codes)
            if self.drop_after(cls, e):
                self.drop_conn()
            for r in reqs:
                self.not_placed(r, cls, e.pgcode, short(e))
            if cls != 'definitive':
                time.sleep(self.retry_pause)
            return
        if len(rows) != len(reqs):
            with self.results.lock:
                self.results.unexpected.append(
                    ('place_orders', '%d rows for %d orders'
                     % (len(rows), len(reqs))))
        for r, (order_id, status, executed, remaining, code, text) in \
                zip(reqs, rows):
            if code is None:
                self.placed(r, node, False, order_id, status, executed,
                            remaining)
            else:
                self.not_placed(r, classify_code(code, self.unknown_codes),
                                code, '%s: %s' % (code, text))

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
            time.sleep(self.retry_pause)

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
        pause = 1.0 / self.rate if self.rate else 0
        while self.active():
            if not self.pending and not self.taking_new():
                if not self.idle_wait():
                    return
                continue
            if not self.ensure_conn():
                time.sleep(self.reconnect_pause)
                continue
            if self.pending:
                self.send_place(self.pending[0])
                continue
            if not self.taking_new():
                continue
            if pause:
                time.sleep(pause * self.rng.uniform(0.5, 1.5))
            r = self.rng.random()
            if r < 0.10 and self.open_orders:
                self.send_cancel()
            elif r < 0.15 and self.open_orders:
                self.send_amend()
            elif r < self.cancel_all_below:
                self.send_cancel_all()
            elif r < self.batch_below:
                self.send_batch()
            else:
                req = self.new_place()
                with self.results.lock:
                    self.results.places.append(req)
                self.send_place(req)


class Checks:
    """Named checks: 'ok   NAME' (unless quiet), or 'FAIL NAME: N
    violation(s)' and the first `limit` of them; each line after indent."""

    def __init__(self, indent='', limit=20, quiet=False):
        self.indent = indent
        self.limit = limit
        self.quiet = quiet
        self.passed = 0
        self.failed = 0
        self.violations = 0

    def check(self, name, problems):
        """Counts and prints one check; returns its number of problems."""
        problems = list(problems)
        if problems:
            self.failed += 1
            self.violations += len(problems)
            print('%sFAIL %s: %d violation(s)'
                  % (self.indent, name, len(problems)))
            for p in problems[:self.limit]:
                print(self.indent + '    ' + str(p))
            if len(problems) > self.limit:
                print('%s    ... %d more'
                      % (self.indent, len(problems) - self.limit))
        else:
            self.passed += 1
            if not self.quiet:
                print('%sok   %s' % (self.indent, name))
        sys.stdout.flush()
        return len(problems)


def create_catalogue(cur, n_accounts, prefix, engine_wait_ms):
    """Once the engine runs (RuntimeError if not within engine_wait_ms):
    the assets, the markets and n_accounts accounts (external reference
    PREFIX-i) with DEPOSITS each.  Returns (account ids, deposits per
    asset)."""
    cur.execute('SELECT exchange.wait_for_engine(%s)', (engine_wait_ms,))
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
        cur.execute('SELECT exchange.create_account(%s)',
                    ('%s-%d' % (prefix, i),))
        account = cur.fetchone()[0]
        accounts.append(account)
        for code, amount in DEPOSITS.items():
            cur.execute('SELECT exchange.deposit(%s, %s, %s, %s)',
                        (account, code, amount,
                         '%s-dep-%d-%s' % (prefix, account, code)))
            deposited[code] += amount
    return accounts, deposited


class StoredOrders:
    """exchange.orders as one snapshot, by order id and by (account,
    client_order_id).  Row: order_id, account_id, market, side, type,
    price, quantity, executed_quantity, status, client_order_id,
    created_at."""

    def __init__(self, cur):
        cur.execute(ORDERS_SQL)
        self.rows = cur.fetchall()
        self.by_id = {r[0]: r for r in self.rows}
        self.by_key = {}
        for r in self.rows:
            self.by_key.setdefault((r[1], r[9]), []).append(r)
        self.open_count = sum(1 for r in self.rows if r[8] in OPEN_STATUSES)


def open_snapshot(conn):
    """Wait (5 s at most) until the engine's queue is empty, then open a
    read-only REPEATABLE READ transaction on conn (autocommit until then).
    Returns (cursor, engine status, StoredOrders); the status is (queued,
    open_orders, failed_batches, rebuilds, state).  The caller rolls
    back."""
    cur = conn.cursor()
    for _ in range(50):
        cur.execute('SELECT queued, open_orders, failed_batches, rebuilds, '
                    'state FROM exchange.engine_status()')
        status = cur.fetchone()
        if status[0] == 0:
            break
        time.sleep(0.1)
    conn.set_session(isolation_level='REPEATABLE READ', readonly=True,
                     autocommit=False)
    cur = conn.cursor()
    return cur, status, StoredOrders(cur)


def check_places(c, results, orders):
    """Every place_order answered, nothing acknowledged lost or stored
    twice, nothing stored that was not requested or was refused.  Returns
    (lost, duplicates)."""
    c.check('every place_order got a definitive answer',
            ['%s: still unknown after %d attempts' % (p.coid, p.attempts)
             for p in results.places if p.state == 'pending'])

    lost = []
    for p in results.places:
        if p.state != 'acked':
            continue
        r = orders.by_id.get(p.order_id)
        prm = p.params
        if r is None:
            lost.append('order %d (%s) acked%s but missing'
                        % (p.order_id, p.coid, ' by %s' % p.acked_node
                           if p.acked_node else ''))
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
            for k, v in orders.by_key.items() if k[1] is not None and len(v) > 1]
    n_dups = c.check('no duplicate (account_id, client_order_id)', dups)

    placed = {(p.params['account'], p.coid) for p in results.places}
    c.check('every stored order was requested, with its parameters', [
        'order %d: account %s client_order_id %r not requested by the test'
        % (r[0], r[1], r[9]) for r in orders.rows if (r[1], r[9]) not in placed])

    c.check('refused place_orders left no order', [
        '%s refused with %s but stored as order %s'
        % (p.coid, p.error,
           [r[0] for r in orders.by_key[(p.params['account'], p.coid)]])
        for p in results.places
        if p.state == 'refused' and (p.params['account'], p.coid)
        in orders.by_key])
    return n_lost, n_dups


def check_balances(c, cur, deposited):
    """check_invariants() empty; per-asset totals equal the deposits."""
    cur.execute('SELECT invariant, detail FROM exchange.check_invariants()')
    c.check('exchange.check_invariants() returns no rows',
            ['%s: %s' % r for r in cur.fetchall()])

    cur.execute('SELECT asset, sum(available + locked), min(available), '
                'min(locked) FROM exchange.balances GROUP BY asset')
    totals = {r[0]: r for r in cur.fetchall()}
    problems = []
    for code, amount in deposited.items():
        got = totals.get(code, (code, Decimal(0), 0, 0))
        if got[1] != amount:
            problems.append('%s: balances total %s, test deposited %s'
                            % (code, got[1], amount))
        if got[2] < 0 or got[3] < 0:
            problems.append('%s: negative balance (min available %s, min '
                            'locked %s)' % (code, got[2], got[3]))
    c.check('per-asset totals equal the deposits the test made', problems)


def check_books(c, cur, orders, say=None):
    """Each market's order_book() equals its open orders and is not
    crossed; say(text), if given, is told each book's levels."""
    for symbol, *_ in MARKETS:
        cur.execute('SELECT side::text, price, quantity, order_count '
                    'FROM exchange.order_book(%s, 1000000)', (symbol,))
        book = {(r[0], r[1]): (r[2], r[3]) for r in cur.fetchall()}
        agg = {}
        for r in orders.rows:
            if r[2] == symbol and r[8] in OPEN_STATUSES:
                q, n = agg.get((r[3], r[5]), (Decimal(0), 0))
                agg[(r[3], r[5])] = (q + r[6] - r[7], n + 1)
        c.check('order_book(%s) equals the open orders' % symbol, [
            '%s %s: order_book %s, open orders %s'
            % (k[0], k[1], book.get(k), agg.get(k))
            for k in sorted(set(book) | set(agg)) if book.get(k) != agg.get(k)])
        bids = [k[1] for k in book if k[0] == 'buy']
        asks = [k[1] for k in book if k[0] == 'sell']
        bid = max(bids) if bids else None
        ask = min(asks) if asks else None
        if say:
            say('%s: %d bid levels, %d ask levels, best bid %s, best ask %s'
                % (symbol, len(bids), len(asks), bid, ask))
        c.check('best bid < best ask on %s' % symbol,
                [] if bid is None or ask is None or bid < ask
                else ['best bid %s >= best ask %s' % (bid, ask)])


def check_answers(c, results, orders, engine_open):
    """Every answer a trader got still holds; the engine agrees with the
    table; no unexpected error (those seen are reported once)."""
    by_id = orders.by_id
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
            [] if engine_open == orders.open_count else
            ['engine_status().open_orders %s, open orders in table %d'
             % (engine_open, orders.open_count)])

    with results.lock:
        unexpected = list(results.unexpected)
        results.unexpected.clear()
    c.check('no unexpected errors', ['%s: %s' % u for u in unexpected])


def check_indexes(c, conn):
    """Every B-tree of the exchange's tables is sound and holds an entry
    for every row of its table (amcheck's bt_index_check with
    heapallindexed).  conn: an autocommit connection of a superuser."""
    cur = conn.cursor()
    cur.execute('CREATE EXTENSION IF NOT EXISTS amcheck')
    cur.execute("SELECT c.oid::regclass::text FROM pg_index i "
                "JOIN pg_class c ON c.oid = i.indexrelid "
                "JOIN pg_class t ON t.oid = i.indrelid "
                "JOIN pg_am am ON am.oid = c.relam "
                "WHERE t.relnamespace = 'exchange'::regnamespace "
                "AND am.amname = 'btree' ORDER BY 1")
    names = [r[0] for r in cur.fetchall()]
    problems = []
    for name in names:
        try:
            cur.execute('SELECT bt_index_check(%s::regclass, true)', (name,))
        except psycopg2.Error as e:
            problems.append('%s: %s' % (name, str(e).strip()))
    c.check('every B-tree of the exchange (%d) holds every row of its table '
            '(amcheck, heapallindexed)' % len(names), problems)


def check_committed(c, cur, results, deposited, orders, engine_open,
                    say=None):
    """The committed state (cur in open_snapshot's transaction) against
    everything the traders were told.  Returns (lost, duplicates)."""
    lost, dups = check_places(c, results, orders)
    check_balances(c, cur, deposited)
    check_books(c, cur, orders, say)
    check_answers(c, results, orders, engine_open)
    return lost, dups
