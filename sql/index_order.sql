-- The engine inserts a batch's index entries one index at a time, each
-- B-tree's sorted by its key (exchange.index_order), and only when every
-- index is plain; an expression, partial or exclusion index a DBA adds
-- sends the rows through ExecInsertIndexTuples.  Either way every row has
-- its entries: amcheck's bt_index_check with heapallindexed verifies each
-- B-tree's structure and that it holds an entry for every row of its table.
\set SHOW_CONTEXT never
CREATE EXTENSION amcheck;
CREATE FUNCTION check_exchange_indexes() RETURNS SETOF text LANGUAGE sql AS $$
  SELECT c.relname::text
    FROM pg_index i
    JOIN pg_class c ON c.oid = i.indexrelid
    JOIN pg_class t ON t.oid = i.indrelid
    JOIN pg_am am ON am.oid = c.relam
   CROSS JOIN LATERAL bt_index_check(c.oid, true) AS checked
   WHERE t.relnamespace = 'exchange'::regnamespace AND am.amname = 'btree'
   ORDER BY 1 $$;
SELECT exchange.create_account('ix-a') AS a, exchange.create_account('ix-b') AS b \gset
SELECT exchange.deposit(:a, 'BTC', 5, 'ix-a-btc'), exchange.deposit(:a, 'USDT', 1000000, 'ix-a-usdt'),
       exchange.deposit(:b, 'BTC', 5, 'ix-b-btc'), exchange.deposit(:b, 'USDT', 1000000, 'ix-b-usdt');

-- one call of 300 orders from two accounts, interleaved, their client ids
-- descending (the account index's key order is neither the ids' nor the
-- heap's); every third one crosses what rests (trades, maker and taker
-- entries), the rest rest (open_order's book index)
CREATE FUNCTION ix_orders(tag text, n int, a bigint, b bigint) RETURNS jsonb
LANGUAGE sql AS $$
  SELECT jsonb_agg(jsonb_build_object(
           'account_id', CASE WHEN i % 2 = 0 THEN a ELSE b END,
           'market', 'BTC-USDT',
           'side', CASE WHEN i % 3 = 0 THEN 'buy' ELSE 'sell' END,
           'quantity', 0.001,
           'price', CASE WHEN i % 3 = 0 THEN 21000 ELSE 20000 + i % 17 END,
           'client_order_id', tag || '-' || lpad((1000 - i)::text, 4, '0')) ORDER BY i)
    FROM generate_series(1, n) i $$;
SELECT count(*) AS rows, count(order_id) AS accepted, count(error_code) AS refused
  FROM exchange.place_orders(ix_orders('first', 300, :a, :b));
SELECT status, count(*) FROM exchange.order_record
 WHERE client_order_id LIKE 'first-%' GROUP BY 1 ORDER BY 1;
SELECT count(*) > 0 AS traded FROM exchange.trade_record;
SELECT * FROM check_exchange_indexes();

-- each order found through the account index, and through the key
SET enable_seqscan = off;
SET enable_bitmapscan = off;
SELECT count(*) FROM exchange.order_record
 WHERE account_id IN (:a, :b) AND client_order_id LIKE 'first-%';
SELECT count(*) FROM exchange.order_record o
 WHERE client_order_id LIKE 'first-%'
   AND EXISTS (SELECT 1 FROM exchange.order_record k WHERE k.order_id = o.order_id);
RESET enable_seqscan;
RESET enable_bitmapscan;

-- a DBA's expression, partial and descending indexes: the first two send
-- the rows the other way; each is complete either way
CREATE INDEX ix_lower_cid ON exchange.order_record (lower(client_order_id));
CREATE INDEX ix_open ON exchange.order_record (account_id) WHERE status = 'open';
CREATE INDEX ix_price_desc ON exchange.trade_record (price_ticks DESC NULLS FIRST, lots);
SELECT exchange.cancel_all(:a) >= 0 AS a_cancelled, exchange.cancel_all(:b) >= 0 AS b_cancelled;
SELECT count(*) AS rows, count(order_id) AS accepted
  FROM exchange.place_orders(ix_orders('second', 300, :a, :b));
SELECT * FROM check_exchange_indexes();
DROP INDEX exchange.ix_lower_cid, exchange.ix_open;
SELECT exchange.cancel_all(:a) >= 0 AS a_cancelled, exchange.cancel_all(:b) >= 0 AS b_cancelled;
SELECT count(*) AS rows, count(order_id) AS accepted
  FROM exchange.place_orders(ix_orders('third', 300, :a, :b));
SELECT * FROM check_exchange_indexes();
DROP INDEX exchange.ix_price_desc;

-- exchange.index_order = off: row by row, as ExecInsertIndexTuples does
ALTER SYSTEM SET exchange.index_order = off;
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);
SELECT exchange.cancel_all(:a) >= 0 AS a_cancelled, exchange.cancel_all(:b) >= 0 AS b_cancelled;
SELECT count(*) AS rows, count(order_id) AS accepted
  FROM exchange.place_orders(ix_orders('fourth', 300, :a, :b));
SELECT * FROM check_exchange_indexes();
ALTER SYSTEM RESET exchange.index_order;
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);
SELECT exchange.cancel_all(:a) >= 0 AS a_cancelled, exchange.cancel_all(:b) >= 0 AS b_cancelled;
SELECT count(*) FROM exchange.order_record WHERE client_order_id ~ '^(first|second|third|fourth)-';
SELECT * FROM exchange.check_invariants();
DROP FUNCTION ix_orders(text, int, bigint, bigint);
DROP FUNCTION check_exchange_indexes();
DROP EXTENSION amcheck;
