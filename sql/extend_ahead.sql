-- exchange.extend_ahead: on a primary the writeback worker keeps empty
-- pages at the end of order_record (and trade_record), recorded in the
-- free space map, and the engine's inserts fill them instead of extending
-- the table themselves.  Only tables of more than 16 times extend_ahead
-- pages: at 64, more than 1,024 pages, about 50,000 orders.
\set SHOW_CONTEXT never
CREATE EXTENSION IF NOT EXISTS amcheck;
-- true once at least want empty pages follow the last one used
CREATE FUNCTION pg_temp.wait_tail(want int) RETURNS bool
LANGUAGE plpgsql AS $$
DECLARE
    tail bigint;
BEGIN
    FOR i IN 1..1000 LOOP
        SELECT pg_relation_size('exchange.order_record') / 8192 - 1
               - max((ctid::text::point)[0])::bigint
          INTO tail FROM exchange.order_record;
        IF tail >= want THEN
            RETURN true;
        END IF;
        PERFORM pg_sleep(0.01);
    END LOOP;
    RETURN false;
END $$;
ALTER SYSTEM SET exchange.extend_ahead = 64;
SELECT pg_reload_conf();
SELECT exchange.create_account('ahead-taker') AS taker \gset
SELECT exchange.deposit(:taker, 'USDT', 1000, 'ahead-usdt') > 0 AS deposited;
SELECT pages_extended_ahead AS ahead0 FROM exchange.engine_status() \gset

-- 52,000 immediate-or-cancel bids that find nothing to fill: one
-- order_record row each, nothing rests
SELECT json_agg(json_build_object('account_id', :taker, 'market', 'BTC-USDT',
                                  'side', 'buy', 'quantity', 0.001, 'price', 1,
                                  'time_in_force', 'ioc'))::text AS doc
  FROM generate_series(1, 100) \gset
\set ECHO none
\o /dev/null
SELECT format('SELECT count(*) FROM exchange.place_orders(%L::text)', :'doc')
  FROM generate_series(1, 520) \gexec
\o
\set ECHO all
SELECT pg_relation_size('exchange.order_record') / 8192 > 1024 AS big_enough;
-- the worker tops the tail up to at least half of extend_ahead (the
-- engine alone extends a page at a time)
SELECT pg_temp.wait_tail(31) AS empty_tail_made;
SELECT pages_extended_ahead >= :ahead0 + 32 AS counted FROM exchange.engine_status();

-- with the worker stopped, the empty tail is still there ...
ALTER SYSTEM SET exchange.extend_ahead = 0;
SELECT pg_reload_conf();
SELECT pg_sleep(0.5);
SELECT pg_relation_size('exchange.order_record') / 8192 AS pages,
       max((ctid::text::point)[0])::bigint AS last_used,
       max(order_id) AS last_order
  FROM exchange.order_record \gset
SELECT :pages - 1 - :last_used >= 31 AS empty_tail;

-- ... and the engine fills it: 500 more orders (about ten pages) go into
-- those pages, and the table does not grow
\set ECHO none
\o /dev/null
SELECT format('SELECT count(*) FROM exchange.place_orders(%L::text)', :'doc')
  FROM generate_series(1, 5) \gexec
\o
\set ECHO all
SELECT count(*) AS new_orders,
       min((ctid::text::point)[0]) >= :last_used AS after_the_last,
       max((ctid::text::point)[0]) > :last_used AS into_the_tail,
       max((ctid::text::point)[0]) < :pages AS within_the_table
  FROM exchange.order_record WHERE order_id > :last_order;
SELECT pg_relation_size('exchange.order_record') / 8192 = :pages AS not_grown;

-- the heap and its indexes are sound, and so is the exchange
SELECT count(*) AS heap_corruption FROM verify_heapam('exchange.order_record');
SELECT bt_index_check('exchange.order_record_pkey', true);
SELECT * FROM exchange.check_invariants();
ALTER SYSTEM RESET exchange.extend_ahead;
SELECT pg_reload_conf();
