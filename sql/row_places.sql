-- The engine updates and deletes the rows it wrote before at the TID it
-- remembered for them (rows_by_place), and falls back to the primary key
-- (rows_by_key) whenever the row is no longer there: a table rewritten by
-- VACUUM FULL, a row changed behind its back.  The results are the same.
\set SHOW_CONTEXT never
SELECT exchange.create_account('places-maker') AS maker,
       exchange.create_account('places-taker') AS taker \gset
SELECT exchange.deposit(:maker, 'BTC', 1, 'places-btc');
SELECT exchange.deposit(:taker, 'USDT', 100000, 'places-usdt');
SELECT rows_by_place AS place0, rows_by_key AS key0 FROM exchange.engine_status() \gset

-- remembered: the maker's resting order and every balance row
SELECT order_id AS ask, status
  FROM exchange.place_order(:maker, 'BTC-USDT', 'sell', 0.01, 20000) \gset
SELECT :'status';
SELECT status, executed_quantity
  FROM exchange.place_order(:taker, 'BTC-USDT', 'buy', 0.004, 20000);
SELECT rows_by_place > :place0 AS updated_in_place,
       rows_by_key = :key0 AS none_by_key
  FROM exchange.engine_status();

-- rewritten tables: every remembered TID is stale; the key finds the rows
VACUUM FULL exchange.order_record;
VACUUM FULL exchange.open_order;
VACUUM FULL exchange.balance_record;
SELECT rows_by_key AS key1 FROM exchange.engine_status() \gset
SELECT status, executed_quantity
  FROM exchange.place_order(:taker, 'BTC-USDT', 'buy', 0.003, 20000);
SELECT rows_by_key > :key1 AS found_by_key FROM exchange.engine_status();
SELECT status, filled_lots FROM exchange.order_record WHERE order_id = :ask;

-- a row changed behind the engine's back: its remembered version is dead
UPDATE exchange.balance_record SET updated_at = updated_at
 WHERE account_id IN (:maker, :taker);
SELECT rows_by_key AS key2 FROM exchange.engine_status() \gset
SELECT status, executed_quantity
  FROM exchange.place_order(:taker, 'BTC-USDT', 'buy', 0.003, 20000);
SELECT rows_by_key > :key2 AS found_by_key FROM exchange.engine_status();
SELECT o.status, o.filled_lots, b.order_id IS NULL AS off_the_book
  FROM exchange.order_record o LEFT JOIN exchange.open_order b USING (order_id)
 WHERE o.order_id = :ask;
SELECT asset, available, locked FROM exchange.balances
 WHERE account_id IN (:maker, :taker) ORDER BY account_id, asset;

-- and in place again from then on
SELECT rows_by_place AS place3 FROM exchange.engine_status() \gset
SELECT status FROM exchange.place_order(:maker, 'BTC-USDT', 'sell', 0.001, 20000);
SELECT status FROM exchange.place_order(:taker, 'BTC-USDT', 'buy', 0.001, 20000);
SELECT rows_by_place > :place3 AS updated_in_place FROM exchange.engine_status();

-- A row fetched at its place is not pruned on the way, as an index fetch
-- would have done: the engine makes room itself when the page is short of
-- it, so updates stay HOT and the table does not grow.  400 deposits to
-- one balance, each its own transaction: 400 versions of the row, more
-- than a page holds.
SELECT pg_relation_size('exchange.balance_record') AS bal_size,
       pg_relation_size('exchange.balance_record_pkey') AS bal_pkey_size \gset
\o /dev/null
SELECT format('SELECT exchange.deposit(%s, ''USDT'', 0.000001, ''places-hot-%s'')', :taker, i)
  FROM generate_series(1, 400) i \gexec
\o
SELECT pg_relation_size('exchange.balance_record') = :bal_size AS same_heap,
       pg_relation_size('exchange.balance_record_pkey') = :bal_pkey_size AS same_index;
SELECT available FROM exchange.balances WHERE account_id = :taker AND asset = 'USDT';

-- exchange.row_places = off: every row through its key, nothing remembered
ALTER SYSTEM SET exchange.row_places = off;
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);
SELECT rows_by_place AS place4, rows_by_key AS key4 FROM exchange.engine_status() \gset
SELECT status FROM exchange.place_order(:maker, 'BTC-USDT', 'sell', 0.001, 20000);
SELECT status FROM exchange.place_order(:taker, 'BTC-USDT', 'buy', 0.001, 20000);
SELECT rows_by_place = :place4 AS none_in_place, rows_by_key > :key4 AS all_by_key
  FROM exchange.engine_status();
ALTER SYSTEM RESET exchange.row_places;
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);
SELECT status FROM exchange.place_order(:maker, 'BTC-USDT', 'sell', 0.001, 20000);
SELECT status FROM exchange.place_order(:taker, 'BTC-USDT', 'buy', 0.001, 20000);
SELECT * FROM exchange.check_invariants();

-- how the engine's growing tables are stored: room for HOT updates in
-- order_record, and a vacuum after every 200,000 new rows, not after 20%
-- growth (a vacuum of a large table otherwise re-dirties hundreds of MB),
-- at a gentle pace (10 ms per 200 cost units: at the default 2 ms an
-- ANALYZE took most of a CPU and stalled the callers)
SELECT relname, reloptions FROM pg_class
 WHERE relnamespace = 'exchange'::regnamespace
   AND relname IN ('order_record', 'trade_record', 'balance_record')
 ORDER BY relname;
