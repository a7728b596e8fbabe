-- The engine inserts a batch's index entries one index at a time, each
-- B-tree's sorted by its key (exchange.index_order), and only when every
-- index is plain; an expression, partial or exclusion index a DBA adds
-- sends the rows through ExecInsertIndexTuples.  The sorted entries go into
-- each B-tree page by page (exchange.index_pages): one descent per leaf,
-- the ordinary insert for an entry that needs a split, a posting list
-- split or a uniqueness decision; a leaf that gets eight or more entries
-- is logged as one generic WAL record (exchange.index_generic_min).  Every
-- way every row has its entries:
-- amcheck's bt_index_parent_check with heapallindexed and rootdescend
-- verifies each B-tree's structure, that every entry is found again by a
-- search from the root, and that it holds an entry for every row.
\set SHOW_CONTEXT never
CREATE EXTENSION amcheck;
CREATE FUNCTION check_exchange_indexes() RETURNS SETOF text LANGUAGE sql AS $$
  SELECT c.relname::text
    FROM pg_index i
    JOIN pg_class c ON c.oid = i.indexrelid
    JOIN pg_class t ON t.oid = i.indrelid
    JOIN pg_am am ON am.oid = c.relam
   CROSS JOIN LATERAL bt_index_parent_check(c.oid, true, true) AS checked
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

-- a DBA's index of few distinct keys: deduplicated into posting lists, so
-- an entry whose TID falls inside one (a row on a page with room again)
-- needs a posting list split, the ordinary way; and two calls' worth of
-- entries split leaf pages in the middle of a batch
CREATE INDEX ix_market_side ON exchange.order_record (market_id, side);
SELECT exchange.cancel_all(:a) >= 0 AS a_cancelled, exchange.cancel_all(:b) >= 0 AS b_cancelled;
SELECT count(*) AS rows, count(order_id) AS accepted
  FROM exchange.place_orders(ix_orders('fifth', 300, :a, :b));
SELECT exchange.cancel_all(:a) >= 0 AS a_cancelled, exchange.cancel_all(:b) >= 0 AS b_cancelled;
SELECT count(*) AS rows, count(order_id) AS accepted
  FROM exchange.place_orders(ix_orders('sixth', 300, :a, :b) || ix_orders('seventh', 300, :a, :b));
SELECT * FROM check_exchange_indexes();
-- resting orders of one account between two rounds of the other's, then
-- the middle round cancelled and its open_order rows vacuumed away: the
-- next round rests on those pages, so its book entries' TIDs fall inside
-- the posting lists of the other account's entries at the same prices
-- (REINDEX made them: one per price), and the ordinary way splits them
CREATE FUNCTION ix_rest(tag text, n int, acct bigint) RETURNS jsonb
LANGUAGE sql AS $$
  SELECT jsonb_agg(jsonb_build_object(
           'account_id', acct, 'market', 'BTC-USDT', 'side', 'sell',
           'quantity', 0.001, 'price', 30000 + i % 5,
           'client_order_id', tag || '-' || i) ORDER BY i)
    FROM generate_series(1, n) i $$;
SELECT exchange.cancel_all(:a) >= 0 AS a_cancelled, exchange.cancel_all(:b) >= 0 AS b_cancelled;
VACUUM exchange.open_order;
SELECT count(order_id) AS accepted FROM exchange.place_orders(ix_rest('rest-b1', 150, :b));
SELECT count(order_id) AS accepted FROM exchange.place_orders(ix_rest('rest-a1', 300, :a));
SELECT count(order_id) AS accepted FROM exchange.place_orders(ix_rest('rest-b2', 150, :b));
SELECT exchange.cancel_all(:a) >= 0 AS a_cancelled;
VACUUM exchange.open_order;
REINDEX INDEX exchange.open_order_book;
SELECT count(order_id) AS accepted FROM exchange.place_orders(ix_rest('rest-a2', 300, :a));
-- the new round's rows lie among the other account's
SELECT min(o.ctid) FILTER (WHERE r.account_id = :a) > min(o.ctid) FILTER (WHERE r.account_id = :b)
   AND max(o.ctid) FILTER (WHERE r.account_id = :a) < max(o.ctid) FILTER (WHERE r.account_id = :b)
       AS among
  FROM exchange.open_order o JOIN exchange.order_record r USING (order_id);
SELECT * FROM check_exchange_indexes();
DROP FUNCTION ix_rest(text, int, bigint);

-- a unique index's new entry that would start a leaf (or end one under a
-- high key that is not above it) could have an equal key on the
-- neighbour, so it goes in the ordinary way, which decides uniqueness.
-- Sixty accounts' forty orders each fill the account index's leaves in
-- account order, and its splits fall between accounts (suffix truncation
-- prefers them); then one call gives every account an order whose client
-- id sorts before all of its others: for an account that starts a leaf,
-- that entry is such a one.  Immediate-or-cancel sells far above the
-- market: nothing rests (the test server holds 1,000 resting orders).
SELECT exchange.cancel_all(:a) >= 0 AS a_cancelled, exchange.cancel_all(:b) >= 0 AS b_cancelled;
CREATE TABLE ix_u AS
  SELECT i, exchange.create_account('ix-u-' || i) AS account_id
    FROM generate_series(1, 60) i;
SELECT count(exchange.deposit(account_id, 'BTC', 1, 'ix-u-btc-' || i)) AS funded FROM ix_u;
CREATE FUNCTION ix_ioc(tag text, per_account int) RETURNS jsonb
LANGUAGE sql AS $$
  SELECT jsonb_agg(jsonb_build_object(
           'account_id', u.account_id, 'market', 'BTC-USDT', 'side', 'sell',
           'quantity', 0.001, 'price', 90000, 'time_in_force', 'ioc',
           'client_order_id', tag || '-' || lpad(j::text, 2, '0')) ORDER BY u.i, j)
    FROM ix_u u, generate_series(1, per_account) j $$;
SELECT count(order_id) AS accepted FROM exchange.place_orders(ix_ioc('u-m', 40));
CREATE EXTENSION pageinspect;
-- leaves (not the leftmost) whose first entry is an account's first order
SELECT count(*) > 0 AS leaves_start_at_an_account
  FROM generate_series(1, (pg_relation_size('exchange.order_record_account_id_client_order_id_key') / 8192 - 1)::int) blk
 CROSS JOIN LATERAL bt_page_stats('exchange.order_record_account_id_client_order_id_key', blk) s
 CROSS JOIN LATERAL bt_page_items('exchange.order_record_account_id_client_order_id_key', blk) it
  JOIN exchange.order_record r ON r.ctid = it.htid
 WHERE s.type = 'l' AND s.btpo_prev <> 0
   AND it.itemoffset = CASE WHEN s.btpo_next = 0 THEN 1 ELSE 2 END
   AND r.client_order_id = 'u-m-01' AND r.account_id IN (SELECT account_id FROM ix_u);
DROP EXTENSION pageinspect;
SELECT count(order_id) AS accepted FROM exchange.place_orders(ix_ioc('u-a', 1));
SELECT * FROM check_exchange_indexes();
-- each found through the account index by its key
SET enable_seqscan = off;
SET enable_bitmapscan = off;
SELECT count(*) AS found FROM ix_u u
  JOIN exchange.order_record r
    ON r.account_id = u.account_id AND r.client_order_id = 'u-a-01';
RESET enable_seqscan;
RESET enable_bitmapscan;
-- and a repeat of one is the same order, not a second one
SELECT o.order_id = r.order_id AS same_order
  FROM ix_u u
  JOIN exchange.order_record r ON r.account_id = u.account_id AND r.client_order_id = 'u-a-01'
 CROSS JOIN LATERAL exchange.place_orders(jsonb_build_array(jsonb_build_object(
           'account_id', u.account_id, 'market', 'BTC-USDT', 'side', 'sell',
           'quantity', 0.001, 'price', 90000, 'time_in_force', 'ioc',
           'client_order_id', 'u-a-01'))) o
 WHERE u.i = 1;
SELECT count(*) AS u_orders FROM exchange.order_record WHERE client_order_id ~ '^u-[am]-';
DROP FUNCTION ix_ioc(text, int);
DROP TABLE ix_u;

-- exchange.index_generic_min = 0: page by page, but each entry logged with
-- its own B-tree leaf-insert record, as a leaf with few new entries is
ALTER SYSTEM SET exchange.index_generic_min = 0;
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);
SELECT exchange.cancel_all(:a) >= 0 AS a_cancelled, exchange.cancel_all(:b) >= 0 AS b_cancelled;
SELECT count(*) AS rows, count(order_id) AS accepted
  FROM exchange.place_orders(ix_orders('records', 300, :a, :b));
SELECT * FROM check_exchange_indexes();
ALTER SYSTEM RESET exchange.index_generic_min;
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);

-- exchange.index_pages = off: each sorted entry through index_insert
ALTER SYSTEM SET exchange.index_pages = off;
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);
SELECT exchange.cancel_all(:a) >= 0 AS a_cancelled, exchange.cancel_all(:b) >= 0 AS b_cancelled;
SELECT count(*) AS rows, count(order_id) AS accepted
  FROM exchange.place_orders(ix_orders('eighth', 300, :a, :b));
SELECT * FROM check_exchange_indexes();
ALTER SYSTEM RESET exchange.index_pages;
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);
DROP INDEX exchange.ix_market_side;

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
SELECT count(*) FROM exchange.order_record WHERE client_order_id ~ '^(first|second|third|fourth|fifth|sixth|seventh|eighth|records)-';
SELECT * FROM exchange.check_invariants();
DROP FUNCTION ix_orders(text, int, bigint, bigint);
DROP FUNCTION check_exchange_indexes();
DROP EXTENSION amcheck;
