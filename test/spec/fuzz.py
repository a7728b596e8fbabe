"""place_orders(text) against place_orders(jsonb) on random, often broken,
JSON documents: every call's rows, or its error (SQLSTATE, message and
detail), must be the same both ways.

Documents are built from keys and values of every kind (escapes, negative
numbers, exponents, nested containers, repeated keys, odd whitespace),
then 0-2 characters are deleted, inserted or repeated.  Each call places
for a new funded account of its own (@ACCT), so client order ids never
repeat across calls, and its orders are cancelled after it, so both calls
of a document meet the same book.  Counts how many text calls were
read directly and how many went through jsonb_in (DEBUG1), and fails
unless both ways were taken often.
"""
import argparse
import random
import re
import sys

import psycopg2

ap = argparse.ArgumentParser()
ap.add_argument('--port', type=int, required=True)
ap.add_argument('--seed', type=int, default=1)
ap.add_argument('--docs', type=int, default=3000)
args = ap.parse_args()

conn = psycopg2.connect(host='127.0.0.1', port=args.port, user='postgres',
                        dbname='postgres')
conn.autocommit = True
cur = conn.cursor()
cur.execute("SELECT exchange.wait_for_engine(30000)")
cur.execute("SELECT count(*) FROM exchange.market WHERE symbol = 'BTC-USDT'")
if cur.fetchone()[0] == 0:
    cur.execute("SELECT exchange.create_asset('BTC', 8), exchange.create_asset('USDT', 6)")
    cur.execute("SELECT exchange.create_market('BTC-USDT', 'BTC', 'USDT', 0.01, 0.0001, 10, 20)")
cur.execute("SELECT coalesce(max(account_id), 0) FROM exchange.account")
cur.execute("SELECT exchange.create_account() FROM generate_series(1, 1000 - %s)",
            (cur.fetchone()[0],))
cur.execute("SET client_min_messages = debug1")

rng = random.Random(args.seed)
KEYS = ['account_id', 'market', 'side', 'quantity', 'price', 'type',
        'time_in_force', 'post_only', 'stp', 'client_order_id',
        'quote_quantity', 'expire_at', 'colour']
VALUES = ['"BTC-USDT"', '"NOPE"', '"buy"', '"sell"',
          '0.5', '0.0001', '1', '1e2', '1E-4', '-1', '-0.0', 'null', 'true',
          'false', '{}', '[]', '""', '"\\u0041"', '"BTC\\u002dUSDT"', '"a\\"b"',
          '[1, {"a": null}]', '0', '"gtc"', '"ioc"', '"limit"', '"market"',
          '"cancel_both"', '"r-1"', '"r-\u00fc"', '"2999-01-01"', '"soon"',
          '12345678901234567890123456789012345678901234567890123456789012345']
GOOD = {'account_id': '@ACCT', 'market': '"BTC-USDT"', 'side': '"buy"',
        'quantity': '0.0001', 'price': '1'}


def document():
    objects = []
    for _ in range(rng.randint(0, 4)):
        if rng.random() < 0.08:
            objects.append(rng.choice(VALUES))
            continue
        fields = [(k, v if rng.random() < 0.85 else
                   '"@ACCT"' if k == 'account_id' and rng.random() < 0.3 else
                   rng.choice(VALUES))
                  for k, v in GOOD.items() if rng.random() < 0.95]
        fields += [(rng.choice(KEYS), rng.choice(VALUES))
                   for _ in range(rng.randint(0, 3))]
        rng.shuffle(fields)
        objects.append('{' + ','.join(
            '%s"%s"%s:%s%s' % (rng.choice(['', ' ', '\n']), k,
                               rng.choice(['', ' ']), rng.choice(['', '\t', ' ']), v)
            for k, v in fields) + rng.choice(['', ' ']) + '}')
    doc = rng.choice(['', ' ', '\n']) + '[' + ', '.join(objects) + ']' + \
        rng.choice(['', ' ', '\r\n'])
    for _ in range(rng.choice([0, 0, 0, 1, 2])):
        i = rng.randrange(len(doc) + 1)
        op = rng.random()
        if op < 0.4 and i < len(doc):
            doc = doc[:i] + doc[i + 1:]
        elif op < 0.8:
            doc = doc[:i] + rng.choice('",{}[]:\\-e 0x\t\x01\u00e9') + doc[i:]
        else:
            doc = doc[:i] + doc[i:i + 3] + doc[i:]
    return doc


def same_account(v, acct, doc):
    """v with the account's number, where a message quotes it, as @ACCT:
    the same in both calls' answers.  Where the document's mutations put
    digits against @ACCT ("0@ACCT", "@ACCT@ACCT"), the message quotes the
    whole token ("028333"), so each such token of the document is put back
    first; then the number standing alone (accounts are numbered from 1000
    up, above every number the documents hold)."""
    if isinstance(v, str):
        tokens = {t for t in re.findall(r'(?:[0-9]|@ACCT)+', doc)
                  if '@ACCT' in t and t != '@ACCT'}
        for t in sorted(tokens, key=len, reverse=True):
            v = v.replace(t.replace('@ACCT', str(acct)), t)
        return re.sub(r'(?<![0-9])%d(?![0-9])' % acct, '@ACCT', v)
    if isinstance(v, (tuple, list)):
        return type(v)(same_account(x, acct, doc) for x in v)
    return v


def call(doc, as_jsonb):
    """One call's rows or error, for a new funded account of its own."""
    cur.execute("SELECT exchange.create_account()")
    acct = cur.fetchone()[0]
    cur.execute("SELECT exchange.deposit(%s, 'BTC', 10, 'spec-btc-' || %s), "
                "exchange.deposit(%s, 'USDT', 10000, 'spec-usdt-' || %s)",
                (acct, acct, acct, acct))
    conn.notices.clear()
    try:
        cur.execute("SELECT ordinal, status::text, executed_quantity, "
                    "remaining_quantity, average_price, error_code, error_message "
                    "FROM exchange.place_orders(%s%s) ORDER BY ordinal"
                    % ('%s', '::jsonb' if as_jsonb else ''),
                    (doc.replace('@ACCT', str(acct)),))
        result = ('rows', cur.fetchall())
    except psycopg2.Error as e:
        result = ('error', e.pgcode, e.diag.message_primary,
                  e.diag.message_detail)
    notices = list(conn.notices)
    cur.execute("SELECT exchange.cancel_all(%s)", (acct,))
    # only the messages can quote the account: an error code never is one
    # (account 22023 once met SQLSTATE 22023)
    if result[0] == 'rows':
        result = ('rows', [r[:6] + (same_account(r[6], acct, doc),)
                           for r in result[1]])
    else:
        result = result[:2] + same_account(result[2:], acct, doc)
    return result, notices


direct = through_jsonb = rows = errors = placed = differences = 0
for n in range(args.docs):
    doc = document()
    by_text, notices = call(doc, False)
    if any('read through jsonb_in' in m for m in notices):
        through_jsonb += 1
    else:
        direct += 1
    by_jsonb, _ = call(doc, True)
    if by_text[0] == 'rows':
        rows += len(by_text[1])
        placed += sum(1 for r in by_text[1] if r[5] is None)
    else:
        errors += 1
    if by_text != by_jsonb:
        differences += 1
        if differences <= 5:
            print('spec-fuzz: DIFFERENT for %r:\n  text  %r\n  jsonb %r'
                  % (doc, by_text, by_jsonb))
cur.execute("SELECT count(*) FROM exchange.check_invariants()")
violations = cur.fetchone()[0]
print('spec-fuzz: seed=%d documents=%d read_directly=%d through_jsonb_in=%d '
      'calls_failed=%d rows=%d placed=%d differences=%d violations=%d'
      % (args.seed, args.docs, direct, through_jsonb, errors, rows, placed,
         differences, violations))
ok = (differences == 0 and violations == 0
      and direct >= args.docs // 10 and through_jsonb >= args.docs // 10
      and placed > 0)
sys.exit(0 if ok else 1)
