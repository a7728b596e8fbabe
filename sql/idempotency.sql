-- client_order_id and deposit references make retries safe; the engine
-- rebuilds from the tables after it restarts.
\set SHOW_CONTEXT never
SELECT exchange.create_account('idem-1') AS a1, exchange.create_account('idem-2') AS a2 \gset
SELECT exchange.deposit(:a1, 'USDT', 50000, 'idem-dep-1');
SELECT exchange.deposit(:a1, 'USDT', 50000, 'idem-dep-1');
SELECT exchange.deposit(:a2, 'BTC', 2, 'idem-dep-2');
SELECT available FROM exchange.balances WHERE account_id = :a1 AND asset = 'USDT';

-- a repeat places nothing and reports the order as it is now
SELECT order_id AS c1, status FROM exchange.place_order(:a1, 'BTC-USDT', 'buy', 1, 15000,
       client_order_id => 'c-1') \gset
SELECT :'status';
SELECT order_id = :c1 AS same, status FROM exchange.place_order(:a1, 'BTC-USDT', 'buy', 1, 15000,
       client_order_id => 'c-1');
SELECT order_id = :c1 AS same, status, executed_quantity FROM exchange.place_order(:a1, 'BTC-USDT', 'buy', 5, 1,
       client_order_id => 'c-1');
SELECT * FROM exchange.place_order(:a2, 'BTC-USDT', 'sell', 0.25, 15000, client_order_id => 'c-1');
SELECT order_id = :c1 AS same, status, executed_quantity, remaining_quantity
  FROM exchange.place_order(:a1, 'BTC-USDT', 'buy', 1, 15000, client_order_id => 'c-1');
SELECT count(*) FROM exchange.orders WHERE client_order_id = 'c-1';

-- an order refused with an error consumes no client_order_id
SELECT * FROM exchange.place_order(:a1, 'BTC-USDT', 'buy', 10, 15000, client_order_id => 'c-2');
\echo :LAST_ERROR_SQLSTATE
SELECT status FROM exchange.place_order(:a1, 'BTC-USDT', 'buy', 1, 14000, client_order_id => 'c-2');

SELECT count(*) FROM exchange.orders WHERE account_id = :a1;

-- a good-till-date order with every flag set keeps them through the rebuild
SELECT order_id AS gtd, status FROM exchange.place_order(:a2, 'BTC-USDT', 'sell', 0.1, 90000,
       post_only => true, stp => 'cancel_both', expire_at => clock_timestamp() + interval '5 s') \gset
SELECT :'status';

-- the engine restarts (as after a crash) and rebuilds from the tables
CREATE TEMP TABLE book_before AS SELECT * FROM exchange.order_book('BTC-USDT');
SELECT pg_terminate_backend(pid) FROM exchange.engine_status();
SELECT pg_sleep(0.2);
SELECT exchange.wait_for_engine(20000);
SELECT state, open_orders, rebuilds >= 2 AS rebuilt FROM exchange.engine_status();
SELECT count(*) AS book_differs FROM (
    (SELECT * FROM exchange.order_book('BTC-USDT') EXCEPT SELECT * FROM book_before)
    UNION ALL
    (SELECT * FROM book_before EXCEPT SELECT * FROM exchange.order_book('BTC-USDT'))) d;
SELECT side, price, quantity, status FROM exchange.orders WHERE order_id = :gtd;
-- the rebuilt order still expires at its time (the engine checks each second)
SELECT pg_sleep(extract(epoch FROM expire_at - clock_timestamp()) + 2.5)
  FROM exchange.order_record WHERE order_id = :gtd;
SELECT o.status, r.expire_at IS NOT NULL AS had_expiry, r.post_only, r.stp
  FROM exchange.orders o JOIN exchange.order_record r USING (order_id) WHERE order_id = :gtd;
SELECT order_id = :c1 AS same, status, executed_quantity
  FROM exchange.place_order(:a1, 'BTC-USDT', 'buy', 1, 15000, client_order_id => 'c-1');
-- and trades against the rebuilt book
SELECT status, executed_quantity, average_price
  FROM exchange.place_order(:a2, 'BTC-USDT', 'sell', 1, 14000);
SELECT status, executed_quantity FROM exchange.orders WHERE order_id = :c1;
SELECT exchange.cancel_all(:a1), exchange.cancel_all(:a2);

-- no synchronous standby confirms: the caller hears so after
-- exchange.request_timeout (EX005, outcome unknown), never hangs
ALTER SYSTEM SET synchronous_standby_names = 'nobody';
SELECT pg_reload_conf();
SELECT pg_sleep(0.5);
SET exchange.request_timeout = '1s';
SET client_min_messages = error;
SELECT * FROM exchange.place_order(:a1, 'BTC-USDT', 'buy', 0.1, 10000, client_order_id => 'c-sync');
\echo :LAST_ERROR_SQLSTATE
RESET client_min_messages;
RESET exchange.request_timeout;
ALTER SYSTEM RESET synchronous_standby_names;
SELECT pg_reload_conf();
SELECT pg_sleep(0.5);
-- it was committed here, so the repeat reports it
SELECT status, remaining_quantity FROM exchange.place_order(:a1, 'BTC-USDT', 'buy', 0.1, 10000,
       client_order_id => 'c-sync');
SELECT exchange.cancel_all(:a1);
SELECT * FROM exchange.check_invariants();

-- Identifiers compare byte for byte (COLLATE "C"): their unique indexes do
-- not depend on the operating system's locale data.
SELECT c.relname, a.attname, l.collname
  FROM pg_attribute a
  JOIN pg_class c ON c.oid = a.attrelid
  JOIN pg_collation l ON l.oid = a.attcollation
 WHERE c.relnamespace = 'exchange'::regnamespace AND c.relkind = 'r'
   AND a.attname IN ('code', 'symbol', 'external_ref', 'reference', 'client_order_id')
 ORDER BY 1, 2;
