#!/usr/bin/python3
"""Region drill (test/dr/drill.sh starts region A and region B).

Region B's standby cluster follows region A.  Traders place orders on
region A (through its multi-host URL), every acknowledged client_order_id
is recorded with the time of its answer.  Then all of region A is killed
at once (scripts/cluster.sh kill-region: SIGKILL of every Patroni,
PostgreSQL, etcd and HAProxy process), region B is promoted
(scripts/promote-region-b.sh) while a prober keeps trying to place an
order in region B.

Measured:
  RTO  kill -> first order accepted by region B
  RPO  acknowledged orders missing in region B (acked_lost) and the age,
       at the kill, of the oldest of them (rpo_s; 0 when none is missing)
Checked (each failure is a violation): check_invariants() on region B,
no client_order_id twice, region B archives to its own stanza and nothing
of its timeline reaches region A's stanza, region B takes orders.

Ends with one line:
  dr-drill: rpo_s=X rto_s=Y acked_lost=N violations=V
and exits non-zero on any violation, rpo_s > 30 or rto_s > 300.
"""

import argparse
import os
import subprocess
import sys
import threading
import time

import psycopg2

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from backup_pitr import Load, T0, log, setup  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(HERE))
CLUSTER_SH = os.path.join(ROOT, 'scripts', 'cluster.sh')
PROMOTE = os.path.join(ROOT, 'scripts', 'promote-region-b.sh')
PREFIX = 'dr-%d-' % int(T0)          # backup_pitr.Load's client_order_ids

RPO_BAR_S = 30
RTO_BAR_S = 300


def query(dsn, sql, args=None, timeout=3):
    conn = psycopg2.connect(dsn, connect_timeout=timeout)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall()
    finally:
        conn.close()


def wait_until(what, fn, seconds):
    deadline = time.time() + seconds
    last = None
    while time.time() < deadline:
        try:
            if fn():
                return True
        except psycopg2.Error as e:
            last = str(e).strip()
        time.sleep(0.2)
    raise SystemExit('%s: not after %d s (%s)' % (what, seconds, last))


class Prober:
    """Tries to place one order in region B every 100 ms until one is
    accepted; first_ok is the time of that answer."""

    def __init__(self, dsn, account):
        self.dsn, self.account = dsn, account
        self.first_ok = None
        self.tries = 0
        self.last_error = None
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop.is_set() and self.first_ok is None:
            self.tries += 1
            try:
                rows = query(self.dsn, """SELECT status FROM exchange.place_order(%s, 'BTC-USDT', 'buy',
                                          0.001, 60000, client_order_id => %s)""",
                             (self.account, 'probe-%d-%d' % (int(T0), self.tries)), timeout=1)
                if rows:
                    self.first_ok = time.time()
                    return
            except psycopg2.Error as e:
                self.last_error = str(e).strip().splitlines()[0]
            time.sleep(0.1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--a-dsn', required=True, help="region A's multi-host URL (read-write)")
    ap.add_argument('--b-dsn', required=True, help="region B's multi-host URL (read-write)")
    ap.add_argument('--b-standby-dsn', required=True, help="region B's standby leader")
    ap.add_argument('--state', required=True, help="region A's state directory")
    ap.add_argument('--repo', required=True, help="region B's repository (region A's repo2)")
    ap.add_argument('--stanza', default='exchange')
    ap.add_argument('--load-seconds', type=float, default=20)
    ap.add_argument('--traders', type=int, default=6)
    a = ap.parse_args()
    env = dict(os.environ, EXCHANGE_STATE=a.state)

    conn = psycopg2.connect(a.a_dsn)
    conn.autocommit = True
    accounts = setup(conn, 20)
    conn.close()
    # region B has the accounts: it follows
    wait_until('region B replays the setup', lambda: query(
        a.b_standby_dsn, "SELECT count(*) FROM exchange.account WHERE external_ref LIKE %s",
        (PREFIX + '%',))[0][0] == len(accounts), 120)
    log('region B follows region A (%d accounts replayed)' % len(accounts))

    # while region A's primary answers, the promotion is refused
    p = subprocess.run([PROMOTE], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True, timeout=120)
    still_standby = query(a.b_standby_dsn, 'SELECT pg_is_in_recovery()')[0][0]
    if p.returncode == 0 or 'two primaries' not in p.stdout or not still_standby:
        raise SystemExit('promote-region-b.sh with region A alive: exit %d, region B in recovery: %s\n%s'
                         % (p.returncode, still_standby, p.stdout))
    log('promote-region-b.sh refused while region A is up: %s' % p.stdout.strip().splitlines()[-1][:100])

    load = Load(a.a_dsn, accounts, a.traders)
    load.start()
    time.sleep(a.load_seconds)
    lag = query(a.b_standby_dsn, """SELECT extract(epoch FROM now() - pg_last_xact_replay_timestamp()),
                                           (SELECT status FROM pg_stat_wal_receiver)""")[0]
    log('load: %d orders acknowledged by region A; region B last replayed a commit %.2f s ago '
        '(WAL receiver: %s)' % (load.acked, lag[0] or -1, lag[1]))

    # region A lost
    p = subprocess.run([CLUSTER_SH, 'kill-region'], env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, universal_newlines=True)
    log(p.stdout.strip())
    if p.returncode != 0 or ' at ' not in p.stdout:
        raise SystemExit('kill-region failed')
    t_kill = float(p.stdout.strip().rsplit(' at ', 1)[1])  # when the SIGKILLs were sent
    load.stop(expect_errors=True)
    acks = dict(load.acks)
    # A dead region answers nothing sent after its processes were killed
    # (50 ms: the signals go out within that).  An answer sent just before
    # may be read later by a trader thread of a loaded client (seen: 60 ms
    # at 5-25% steal), but not a second later.
    late = [c for c, t in acks.items()
            if load.sent[c] > t_kill + 0.05 or t > t_kill + 1.0]
    if late:
        log('VIOLATION: %d acknowledgements of requests sent more than 50 ms after the '
            'SIGKILLs, or read more than 1 s after them' % len(late))
    last_read = max(acks.values(), default=t_kill)
    if last_read > t_kill:
        log('last acknowledgement read %.3f s after the SIGKILLs (its request sent %.3f s before them)'
            % (last_read - t_kill, t_kill - max(load.sent[c] for c, t in acks.items() if t == last_read)))
    log('region A killed; %d orders acknowledged in all' % len(acks))

    # promote region B; the prober measures when it takes orders
    prober = Prober(a.b_dsn, accounts[0])
    prober.thread.start()
    t = time.time()
    p = subprocess.run([PROMOTE], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True, timeout=600)
    promote_s = time.time() - t
    print(p.stdout.strip(), flush=True)
    if p.returncode != 0:
        prober.stop.set()
        raise SystemExit('promote-region-b.sh failed (%d)' % p.returncode)
    prober.thread.join(RTO_BAR_S)
    if prober.first_ok is None:
        raise SystemExit('region B took no order (%d tries; last error: %s)'
                         % (prober.tries, prober.last_error))
    rto_s = prober.first_ok - t_kill
    log('region B accepted its first order %.2f s after the kill (%d tries; promote script %.1f s '
        'incl. stanza and first full backup)' % (rto_s, prober.tries, promote_s))

    violations = len(late)
    conn = psycopg2.connect(a.b_dsn)
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute('SELECT client_order_id FROM exchange.order_record WHERE client_order_id LIKE %s',
                (PREFIX + '%',))
    present = set(r[0] for r in cur.fetchall())
    lost = [c for c in acks if c not in present]
    rpo_s = max((t_kill - acks[c] for c in lost), default=0.0)
    rpo_s = max(rpo_s, 0.0)
    newest = max((acks[c] for c in acks if c in present), default=t_kill)
    log('RPO: %d of %d acknowledged orders missing in region B; oldest missing %.2f s before the '
        'kill; newest present acknowledged %.2f s before the kill; %d unacknowledged in-flight '
        'orders present' % (len(lost), len(acks), rpo_s, t_kill - newest,
                            len(present - set(acks))))

    cur.execute("""SELECT account_id, client_order_id, count(*) FROM exchange.order_record
                   WHERE client_order_id IS NOT NULL GROUP BY 1, 2 HAVING count(*) > 1""")
    dups = cur.fetchall()
    for d in dups:
        log('VIOLATION: duplicate client_order_id %s' % (d,))
    violations += len(dups)
    cur.execute('SELECT * FROM exchange.check_invariants()')
    bad = cur.fetchall()
    for row in bad:
        log('VIOLATION: %s' % (row,))
    violations += len(bad)
    log('region B: check_invariants() %s, %d duplicate client ids'
        % ('empty' if not bad else '%d rows' % len(bad), len(dups)))

    # region B's WAL goes to its own stanza, never to region A's
    cur.execute('SELECT timeline_id FROM pg_control_checkpoint()')
    tl = '%08X' % cur.fetchone()[0]
    archive = os.path.join(a.repo, 'archive')
    own = os.path.join(archive, a.stanza + '-b')
    theirs = os.path.join(archive, a.stanza)
    mine = [f for _, _, fs in os.walk(own) for f in fs if f.startswith(tl)]
    leaked = [f for _, _, fs in os.walk(theirs) for f in fs if f.startswith(tl)]
    if not mine:
        log('VIOLATION: nothing of timeline %s in region B\'s stanza %s-b' % (tl, a.stanza))
        violations += 1
    if leaked:
        log('VIOLATION: timeline %s files in region A\'s stanza: %s' % (tl, leaked[:5]))
        violations += 1
    log('region B (timeline %s) archived %d files to stanza %s-b, %d to region A\'s stanza'
        % (tl, len(mine), a.stanza, len(leaked)))
    cur.execute("SELECT state FROM exchange.engine_status()")
    log('region B engine: %s' % (cur.fetchone()[0],))
    conn.close()

    ok = violations == 0 and rpo_s <= RPO_BAR_S and rto_s <= RTO_BAR_S
    print('dr-drill: rpo_s=%.1f rto_s=%.1f acked_lost=%d violations=%d'
          % (rpo_s, rto_s, len(lost), violations), flush=True)
    if not ok:
        print('dr-drill: FAILED (bars: rpo_s <= %d, rto_s <= %d, no violation)'
              % (RPO_BAR_S, RTO_BAR_S), flush=True)
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
