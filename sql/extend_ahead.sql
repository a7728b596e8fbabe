-- exchange.extend_ahead: on a primary the writeback worker keeps empty
-- pages at the end of order_record (and trade_record), recorded in the
-- free space map, and the engine's inserts fill them instead of extending
-- the table themselves.  Only tables of more than 16 times extend_ahead
-- pages: at 64, more than 1,024 pages, about 50,000 orders.  Their B-tree
-- indexes get such a tail too once they have extend_ahead pages, and leaf
-- splits take their new pages from it.
\set SHOW_CONTEXT never
CREATE EXTENSION IF NOT EXISTS amcheck;
CREATE EXTENSION IF NOT EXISTS pg_freespacemap;
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
-- an index's pages free in its free space map (a B-tree's are empty:
-- recorded by the worker, or by VACUUM once recyclable)
CREATE FUNCTION pg_temp.free_pages(index regclass) RETURNS bigint
LANGUAGE sql AS $$
    SELECT count(*) FROM pg_freespace(index) WHERE avail > 0
$$;
-- true once an index has at least want free pages
CREATE FUNCTION pg_temp.wait_index_tail(index regclass, want int) RETURNS bool
LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1..1000 LOOP
        IF pg_temp.free_pages(index) >= want THEN
            RETURN true;
        END IF;
        PERFORM pg_sleep(0.01);
    END LOOP;
    RETURN false;
END $$;
-- true once the writeback worker has stopped its rounds of extension:
-- idle, its state unchanged for 300 ms (each round of extension sets it,
-- every 10 to 80 ms while they go on).  A fixed pause was not enough: a
-- round that began before the reload, behind a slow one, could still
-- extend after it.  (pg_stat_activity is read once per transaction
-- unless its snapshot is cleared.)
CREATE FUNCTION pg_temp.wait_not_extending() RETURNS bool
LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1..1000 LOOP
        PERFORM pg_stat_clear_snapshot();
        IF EXISTS (SELECT FROM pg_stat_activity
                    WHERE backend_type = 'exchange writeback'
                      AND state = 'idle'
                      AND clock_timestamp() - state_change > interval '300 ms') THEN
            RETURN true;
        END IF;
        PERFORM pg_sleep(0.02);
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
-- the primary key's index, of more than 64 pages, gets one too
SELECT pg_relation_size('exchange.order_record_pkey') / 8192 > 64 AS index_big_enough;
SELECT pg_temp.wait_index_tail('exchange.order_record_pkey', 32) AS index_tail_made;

-- with the worker stopped, the empty tail is still there ...
ALTER SYSTEM SET exchange.extend_ahead = 0;
SELECT pg_reload_conf();
SELECT pg_temp.wait_not_extending() AS worker_stopped_extending;
SELECT pg_relation_size('exchange.order_record') / 8192 AS pages,
       max((ctid::text::point)[0])::bigint AS last_used,
       max(order_id) AS last_order
  FROM exchange.order_record \gset
SELECT :pages - 1 - :last_used >= 31 AS empty_tail;
SELECT pg_relation_size('exchange.order_record_pkey') / 8192 AS index_pages,
       pg_temp.free_pages('exchange.order_record_pkey') AS index_free \gset

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
-- their primary key entries (more than a leaf holds) split the rightmost
-- leaf into pages of the index's tail: fewer empty pages, none added
SELECT pg_temp.free_pages('exchange.order_record_pkey') < :index_free AS index_tail_used,
       pg_relation_size('exchange.order_record_pkey') / 8192 = :index_pages AS index_not_grown;

-- the heap and its indexes are sound (every entry found from the root,
-- every row in them), and so is the exchange
SELECT count(*) AS heap_corruption FROM verify_heapam('exchange.order_record');
SELECT c.relname, bt_index_parent_check(c.oid, true, true)
  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
 WHERE i.indrelid IN ('exchange.order_record'::regclass, 'exchange.trade_record'::regclass)
 ORDER BY c.relname;
SELECT * FROM exchange.check_invariants();
ALTER SYSTEM RESET exchange.extend_ahead;
SELECT pg_reload_conf();
