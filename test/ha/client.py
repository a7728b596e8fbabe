#!/usr/bin/python3
"""Example client: place orders on the cluster and keep going through a
failover, without losing or doubling an order.

    test/ha/client.py                       # 20 orders on `make run`'s cluster
    test/ha/client.py --orders 100 --interval 0.2
    # meanwhile, in another shell:
    patronictl -c /var/tmp/exchange/node1/patroni.yml switchover --force

The retry rules (README, "Client retry rules"):

1. Give every order a client_order_id before sending it, unique for the
   account, and keep the order's parameters with it.
2. An answer is definitive when it is a result row (the order as it is now)
   or an error that says the request was refused: SQLSTATE class 22 (bad
   input), 23505, EX001 (insufficient funds), 53400 (capacity), 55000.
   Do not repeat those.
3. Anything else leaves the outcome unknown: the connection dropped (no
   SQLSTATE, class 08), the server is shutting down (57P01-57P03), the node
   became a standby (25006), the engine is starting (EX002), its queue is
   full (EX003), no answer in time (EX004, 57014), the engine stopped or
   the synchronous standby did not confirm (EX005).  Close the connection,
   connect again with the multi-host URL (target_session_attrs=read-write
   finds the new primary), and send the SAME call: same client_order_id,
   same parameters.  Back off a little between attempts.
4. The repeat either places the order (the first attempt never reached the
   engine) or returns the order the first attempt placed, as it is now.
   Either way there is exactly one order.
5. Never reuse a client_order_id for a different order, and never change
   the parameters when you repeat one.
"""

import argparse
import json
import os
import sys
import time

import psycopg2

URL = ('postgresql://postgres@127.0.0.1:5441,127.0.0.1:5442,127.0.0.1:5443/'
       'postgres?target_session_attrs=read-write')

PLACE = """
SELECT order_id, status::text, executed_quantity
  FROM exchange.place_order(%(account)s, %(market)s, %(side)s::exchange.side,
                            %(quantity)s::numeric, %(price)s::numeric,
                            client_order_id => %(coid)s)
"""

# Errors that mean "refused, nothing was done": the answer is definitive.
REFUSED_CODES = {'23505', 'EX001', '53400', '55000'}
REFUSED_CLASSES = ('22',)


def refused(exc):
    code = getattr(exc, 'pgcode', None)
    return code is not None and (code in REFUSED_CODES or
                                 code.startswith(REFUSED_CLASSES))


class Client:
    def __init__(self, url, statement_timeout_ms):
        self.url = url
        self.options = '-c statement_timeout=%d' % statement_timeout_ms
        self.conn = None

    def connect(self):
        if self.conn is None or self.conn.closed:
            self.conn = psycopg2.connect(self.url, connect_timeout=2,
                                         options=self.options)
            # the engine commits each request itself: no transaction here
            self.conn.autocommit = True
        return self.conn

    def reset(self):
        if self.conn is not None:
            try:
                self.conn.close()
            except psycopg2.Error:
                pass
        self.conn = None

    def place(self, params, give_up_after):
        """Place one order; repeat it until the answer is definitive.
        Returns (outcome, row or error text, attempts, reasons)."""
        deadline = time.monotonic() + give_up_after
        backoff = 0.1
        attempts = 0
        reasons = []
        while True:
            attempts += 1
            try:
                cur = self.connect().cursor()
                cur.execute(PLACE, params)
                return 'placed', cur.fetchone(), attempts, reasons
            except psycopg2.Error as e:
                if refused(e):
                    return 'refused', '%s: %s' % (e.pgcode, e.pgerror.strip()
                                                  if e.pgerror else e), \
                        attempts, reasons
                reasons.append(e.pgcode or 'connection lost')
                self.reset()
            if time.monotonic() > deadline:
                return 'unknown', 'no definitive answer after %d attempts' \
                    % attempts, attempts, reasons
            time.sleep(backoff)
            backoff = min(backoff * 2, 2.0)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--url', default=URL)
    ap.add_argument('--account', type=int, default=2,
                    help='account id (2 is the demo taker of make run)')
    ap.add_argument('--market', default='BTC-USDT')
    ap.add_argument('--side', default='buy')
    ap.add_argument('--quantity', default='0.0001')
    ap.add_argument('--price', default='60000')
    ap.add_argument('--orders', type=int, default=20)
    ap.add_argument('--interval', type=float, default=0.5,
                    help='seconds between orders')
    ap.add_argument('--prefix', default='client-%d-%d' % (os.getpid(),
                                                         int(time.time())),
                    help='client_order_id prefix (ids are PREFIX-1, -2, ...)')
    ap.add_argument('--give-up', type=float, default=60,
                    help='seconds to keep repeating one order')
    ap.add_argument('--json', action='store_true',
                    help='one JSON object per order instead of text')
    args = ap.parse_args()

    client = Client(args.url, statement_timeout_ms=5000)
    unknown = 0
    for i in range(1, args.orders + 1):
        params = {'account': args.account, 'market': args.market,
                  'side': args.side, 'quantity': args.quantity,
                  'price': args.price, 'coid': '%s-%d' % (args.prefix, i)}
        outcome, result, attempts, reasons = client.place(params, args.give_up)
        unknown += outcome == 'unknown'
        if args.json:
            print(json.dumps({'coid': params['coid'], 'outcome': outcome,
                              'order_id': result[0] if outcome == 'placed' else None,
                              'status': result[1] if outcome == 'placed' else None,
                              'attempts': attempts, 'retried_after': reasons,
                              'params': params}), flush=True)
        elif outcome == 'placed':
            print('%s: order %s %s%s' % (
                params['coid'], result[0], result[1],
                ' after %d attempts (%s)' % (attempts, ', '.join(reasons))
                if reasons else ''), flush=True)
        else:
            print('%s: %s: %s' % (params['coid'], outcome, result), flush=True)
        time.sleep(args.interval)
    return 1 if unknown else 0


if __name__ == '__main__':
    sys.exit(main())
