#!/usr/bin/python3
"""Backup and point-in-time-restore drill (test/dr/run.sh starts the cluster).

Trading load on region A (the cluster) with client_order_ids; a full
backup to repo1 and to repo2; more load; a restore point created mid-load,
with the engine's tables' counts and checksums captured at that point; more
load; an incremental backup to each repo; `pgbackrest verify` clean; then a
restore from repo2 ONLY to that restore point into a fresh directory
(scripts/pitr-restore.sh): its engine rebuilds, check_invariants() is empty,
and its tables equal region A's at the restore point.

Ends with one line:
  backup-pitr: full_s=.. incr_s=.. verify=ok restore_s=.. engine_s=.. rows=.. violations=V
"""

import argparse
import json
import os
import random
import subprocess
import sys
import threading
import time
from decimal import Decimal

import psycopg2

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLUSTER_SH = os.path.join(ROOT, 'scripts', 'cluster.sh')
PITR = os.path.join(ROOT, 'scripts', 'pitr-restore.sh')
T0 = time.time()


def log(msg):
    print('[%7.2fs] %s' % (time.time() - T0, msg), flush=True)


TABLES = ('order_record', 'trade_record', 'balance_record')
CHECKSUM = """SELECT count(*), coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '')
                FROM exchange.%s t"""


def snapshot(conn):
    out = {}
    with conn.cursor() as cur:
        for t in TABLES:
            cur.execute(CHECKSUM % t)
            out[t] = cur.fetchone()
    return out


class Load:
    """Traders placing limit orders (each with a client_order_id) around
    a mid price, so that some cross and trade.  acks maps the
    client_order_id of every acknowledged order to the time of its answer,
    sent to the time its request was sent (test/dr/region_drill.py uses
    them)."""

    def __init__(self, dsn, accounts, n_threads=4):
        self.dsn, self.accounts, self.n = dsn, accounts, n_threads
        self.acked = 0
        self.acks = {}
        self.sent = {}
        self.errors = []
        self.lock = threading.Lock()
        self.seq = 0
        self.threads = []
        self.stop_event = None

    def trader(self, tid, stop):
        rnd = random.Random(tid * 7919 + int(T0))
        try:
            conn = psycopg2.connect(self.dsn)
        except psycopg2.Error as e:
            with self.lock:
                self.errors.append(str(e).strip())
            return
        conn.autocommit = True
        cur = conn.cursor()
        while not stop.is_set():
            with self.lock:
                self.seq += 1
                coid = 'dr-%d-%d' % (int(T0), self.seq)
            side = rnd.choice(('buy', 'sell'))
            price = Decimal(65000 + rnd.randint(-20, 20)) / 2 + 32500
            qty = Decimal(rnd.randint(1, 20)) / 1000
            t_sent = time.time()
            try:
                cur.execute("""SELECT order_id FROM exchange.place_order(%s, 'BTC-USDT', %s,
                               %s, %s, client_order_id => %s)""",
                            (rnd.choice(self.accounts), side, qty, price, coid))
                cur.fetchall()
                t = time.time()
                with self.lock:
                    self.acked += 1
                    self.acks[coid] = t
                    self.sent[coid] = t_sent
            except psycopg2.Error as e:
                with self.lock:
                    self.errors.append(str(e).strip())
                if len(self.errors) > 20 or stop.is_set():
                    break
        try:
            conn.close()
        except psycopg2.Error:
            pass

    def start(self):
        self.stop_event = threading.Event()
        self.threads = [threading.Thread(target=self.trader, args=(i, self.stop_event), daemon=True)
                        for i in range(self.n)]
        for t in self.threads:
            t.start()

    def stop(self, expect_errors=False):
        """Stop the traders; errors fail the drill unless the servers were
        killed under them (expect_errors)."""
        self.stop_event.set()
        for t in self.threads:
            t.join(60)
        if self.errors and not expect_errors:
            raise SystemExit('load errors: %s' % self.errors[:5])
        errors, self.errors = self.errors, []
        return errors

    def run_for(self, seconds):
        self.start()
        time.sleep(seconds)
        self.stop()


def setup(conn, n_accounts):
    cur = conn.cursor()
    cur.execute('SELECT exchange.wait_for_engine(60000)')
    cur.execute("SELECT count(*) FROM exchange.asset WHERE code IN ('BTC', 'USDT')")
    if cur.fetchone()[0] < 2:
        cur.execute("SELECT exchange.create_asset('BTC', 8)")
        cur.execute("SELECT exchange.create_asset('USDT', 6)")
        cur.execute("SELECT exchange.create_market('BTC-USDT', 'BTC', 'USDT', 0.01, 0.0001, 10, 20)")
    accounts = []
    for i in range(n_accounts):
        cur.execute('SELECT exchange.create_account(%s)', ('dr-%d-%d' % (int(T0), i),))
        a = cur.fetchone()[0]
        cur.execute('SELECT exchange.deposit(%s, %s, %s, %s)', (a, 'BTC', 1000, 'dr-btc-%d-%d' % (int(T0), i)))
        cur.execute('SELECT exchange.deposit(%s, %s, %s, %s)', (a, 'USDT', 100000000, 'dr-usdt-%d-%d' % (int(T0), i)))
        accounts.append(a)
    return accounts


def run(cmd, what, timeout=600):
    t = time.time()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True, timeout=timeout)
    dt = time.time() - t
    if p.returncode != 0:
        log('%s FAILED (%d):\n%s' % (what, p.returncode, p.stdout))
        raise SystemExit(1)
    log('%s: %.1f s' % (what, dt))
    return dt, p.stdout


def backrest(*args):
    return [CLUSTER_SH, 'backrest'] + list(args)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--dsn', required=True)
    ap.add_argument('--restore-dir', required=True)
    ap.add_argument('--restore-port', type=int, required=True)
    ap.add_argument('--load-seconds', type=float, default=8)
    a = ap.parse_args()

    conn = psycopg2.connect(a.dsn)
    conn.autocommit = True
    accounts = setup(conn, 20)
    load = Load(a.dsn, accounts)

    load.run_for(a.load_seconds)
    log('load: %d orders acknowledged' % load.acked)
    full1, _ = run(backrest('backup', '--type=full', '--repo=1'), 'full backup to repo1 (region A)')
    full2, _ = run(backrest('backup', '--type=full', '--repo=2'), 'full backup to repo2 (region B)')

    # mid-load restore point: the traders pause (every answer is committed
    # when it is given), the tables are captured, the point is created, and
    # the load goes on
    load.run_for(a.load_seconds)
    log('load: %d orders acknowledged' % load.acked)
    name = 'dr-point-%d' % int(T0)
    at_point = snapshot(conn)
    with conn.cursor() as cur:
        cur.execute('SELECT pg_create_restore_point(%s)', (name,))
    if snapshot(conn) != at_point:
        raise SystemExit('the tables changed while the restore point was created')
    log('restore point %s: %s' % (name, ', '.join('%s %d rows' % (t, at_point[t][0]) for t in TABLES)))
    load.run_for(a.load_seconds)
    log('load: %d orders acknowledged' % load.acked)

    incr1, _ = run(backrest('backup', '--type=incr', '--repo=1'), 'incremental backup to repo1')
    incr2, _ = run(backrest('backup', '--type=incr', '--repo=2'), 'incremental backup to repo2')
    run(backrest('check'), 'pgbackrest check')
    _, out = run(backrest('verify'), 'pgbackrest verify')
    # verify exits non-zero on any error; show its summary
    _, info = run(backrest('info'), 'pgbackrest info')
    print(info, flush=True)

    # restore from repo2 only
    # the full backup in repo2, older than the restore point
    _, js = run(backrest('info', '--repo=2', '--output=json'), 'pgbackrest info --repo=2')
    label = [b['label'] for b in json.loads(js)[0]['backup'] if b['type'] == 'full'][-1]
    rdt, out = run([PITR, '--repo=2', '--set=' + label, '--name=' + name, '--dir=' + a.restore_dir,
                    '--port=%d' % a.restore_port], 'restore from repo2 to ' + name)
    print(out.strip(), flush=True)
    violations = 0
    try:
        rconn = psycopg2.connect(host=a.restore_dir, port=a.restore_port, dbname='postgres',
                                 user='postgres')
        rconn.autocommit = True
        cur = rconn.cursor()
        t = time.time()
        cur.execute('SELECT exchange.wait_for_engine(120000)')
        if not cur.fetchone()[0]:
            raise SystemExit('the restored engine did not start')
        engine_s = time.time() - t
        log('restored engine ready in %.1f s' % engine_s)
        cur.execute('SELECT * FROM exchange.check_invariants()')
        bad = cur.fetchall()
        for row in bad:
            log('VIOLATION: %s' % (row,))
        violations += len(bad)
        restored = snapshot(rconn)
        for t in TABLES:
            if restored[t] != at_point[t]:
                log('MISMATCH %s: restored %s, at the restore point %s' % (t, restored[t], at_point[t]))
                violations += 1
            else:
                log('%s equals region A at the restore point (%d rows)' % (t, at_point[t][0]))
        # the restored server takes orders
        cur.execute("""SELECT status FROM exchange.place_order(%s, 'BTC-USDT', 'buy', 0.001, 60000,
                       client_order_id => 'dr-after-restore')""", (accounts[0],))
        log('restored server accepts orders: %s' % cur.fetchone()[0])
        rconn.close()
    finally:
        subprocess.run([PITR, '--stop', '--dir=' + a.restore_dir])
    print('backup-pitr: full_s=%.1f/%.1f incr_s=%.1f/%.1f verify=ok restore_s=%.1f engine_s=%.1f '
          'rows=%d violations=%d' % (full1, full2, incr1, incr2, rdt, engine_s,
                                     sum(at_point[t][0] for t in TABLES), violations), flush=True)
    return 1 if violations else 0


if __name__ == '__main__':
    sys.exit(main())
