-- The engine matches the columns it writes with its tables' columns by
-- name once, and keeps that map across batches until the table's
-- definition changes (a relcache invalidation, taken when the next batch
-- locks the table).  A DBA's ALTER TABLE is seen by the very next batch:
-- the engine never writes by a map the table no longer has.
\set SHOW_CONTEXT never
SELECT exchange.create_account('maps-maker') AS maker \gset
SELECT exchange.deposit(:maker, 'BTC', 1, 'maps-btc');
SELECT status FROM exchange.place_order(:maker, 'BTC-USDT', 'sell', 0.001, 30000);

-- a column the engine writes, renamed: the next order is refused, not
-- written by the old map; renamed back, orders go in again
ALTER TABLE exchange.order_record RENAME COLUMN quote_limit TO quote_cap;
SELECT status FROM exchange.place_order(:maker, 'BTC-USDT', 'sell', 0.001, 30001);
ALTER TABLE exchange.order_record RENAME COLUMN quote_cap TO quote_limit;
SELECT status FROM exchange.place_order(:maker, 'BTC-USDT', 'sell', 0.001, 30002);

-- a column the engine does not write, added to a table it inserts into:
-- refused until it is gone again
ALTER TABLE exchange.open_order ADD COLUMN note text;
SELECT status FROM exchange.place_order(:maker, 'BTC-USDT', 'sell', 0.001, 30003);
ALTER TABLE exchange.open_order DROP COLUMN note;
SELECT status FROM exchange.place_order(:maker, 'BTC-USDT', 'sell', 0.001, 30004);

-- a column the engine writes, dropped and made again: it has a new
-- attribute number, and the engine's rows carry their values there at
-- once (a batch written by the old map would fail on the NOT NULL column
-- and be retried after a rebuild: it must not come to that)
SELECT failed_batches AS failed0 FROM exchange.engine_status() \gset
ALTER TABLE exchange.open_order RENAME COLUMN price_ticks TO old_price_ticks;
ALTER TABLE exchange.open_order ADD COLUMN price_ticks bigint;
UPDATE exchange.open_order SET price_ticks = old_price_ticks;
ALTER TABLE exchange.open_order ALTER COLUMN price_ticks SET NOT NULL;
ALTER TABLE exchange.open_order DROP COLUMN old_price_ticks;
CREATE INDEX open_order_book ON exchange.open_order (market_id, side, price_ticks);
SELECT attnum > 4 AS moved FROM pg_attribute
 WHERE attrelid = 'exchange.open_order'::regclass AND attname = 'price_ticks';
SELECT order_id AS moved_order, status
  FROM exchange.place_order(:maker, 'BTC-USDT', 'sell', 0.001, 30005) \gset
SELECT :'status';
SELECT failed_batches = :failed0 AS no_batch_failed FROM exchange.engine_status();
SELECT o.price_ticks IS NOT NULL AND o.price_ticks = r.price_ticks AS book_row_right
  FROM exchange.open_order o JOIN exchange.order_record r USING (order_id)
 WHERE order_id = :moved_order;
SELECT count(*) AS resting,
       count(*) FILTER (WHERE o.price_ticks = r.price_ticks) AS prices_agree
  FROM exchange.open_order o JOIN exchange.order_record r USING (order_id)
 WHERE r.account_id = :maker;
SELECT * FROM exchange.check_invariants();
SELECT exchange.cancel_all(:maker);

-- An index a DBA adds on a column the engine updates: such updates are
-- not HOT, and the engine then opens the table's indexes and adds the new
-- versions' entries (it opens them only when an update needs them).
CREATE EXTENSION IF NOT EXISTS amcheck;
CREATE INDEX order_record_status ON exchange.order_record (status);
SELECT exchange.create_account('maps-taker') AS taker \gset
SELECT exchange.deposit(:taker, 'USDT', 1000, 'maps-usdt');
SELECT order_id AS filled_ask
  FROM exchange.place_order(:maker, 'BTC-USDT', 'sell', 0.002, 30010) \gset
SELECT status, executed_quantity
  FROM exchange.place_order(:taker, 'BTC-USDT', 'buy', 0.002, 30010);
SELECT bt_index_check('exchange.order_record_status', true);
SET enable_seqscan = off;
SET enable_bitmapscan = off;
SELECT order_id = :filled_ask AS found_by_new_status
  FROM exchange.order_record WHERE status = 'filled' AND account_id = :maker;
RESET enable_seqscan;
RESET enable_bitmapscan;
DROP INDEX exchange.order_record_status;
SELECT * FROM exchange.check_invariants();
