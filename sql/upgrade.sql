-- The upgrade path: 1.0, then ALTER EXTENSION ... UPDATE to 1.1, 1.2, 1.3,
-- 1.4, 1.5 and 1.6.  (A new installation runs the same scripts: there is
-- no separate 1.1, 1.2, 1.3, 1.4, 1.5 or 1.6 one.)
\set SHOW_CONTEXT never
SELECT extversion FROM pg_extension WHERE extname = 'exchange';
-- (CASCADE: earlier tests left views over the exchange's functions)
SET client_min_messages = warning;
DROP EXTENSION exchange CASCADE;
RESET client_min_messages;
CREATE EXTENSION exchange VERSION '1.0';
SELECT extversion FROM pg_extension WHERE extname = 'exchange';
SELECT p.oid::regprocedure AS function FROM pg_proc p
 WHERE p.proname = 'place_orders' ORDER BY 1::text;
SELECT exchange.wait_for_engine(30000);
SELECT count(*) FROM exchange.place_orders('[]');

ALTER EXTENSION exchange UPDATE TO '1.1';
SELECT extversion FROM pg_extension WHERE extname = 'exchange';
SELECT p.oid::regprocedure AS function,
       has_function_privilege('exchange_trader', p.oid, 'EXECUTE') AS traders,
       has_function_privilege('exchange_reader', p.oid, 'EXECUTE') AS readers,
       has_function_privilege('public', p.oid, 'EXECUTE') AS public
  FROM pg_proc p WHERE p.proname = 'place_orders' ORDER BY 1::text;
SELECT count(*) AS members FROM pg_depend
 WHERE refobjid = (SELECT oid FROM pg_extension WHERE extname = 'exchange')
   AND deptype = 'e' AND objid = 'exchange.place_orders(text)'::regprocedure;
-- 1.2: autovacuum paced gently on the engine's tables
ALTER EXTENSION exchange UPDATE TO '1.2';
SELECT extversion FROM pg_extension WHERE extname = 'exchange';
SELECT relname, reloptions FROM pg_class
 WHERE relnamespace = 'exchange'::regnamespace AND relkind = 'r'
   AND reloptions::text LIKE '%autovacuum_vacuum_cost_delay%'
 ORDER BY relname;
-- 1.3: exchange.latency(), latency_histogram(), reset_latency()
ALTER EXTENSION exchange UPDATE TO '1.3';
SELECT extversion FROM pg_extension WHERE extname = 'exchange';
SELECT p.oid::regprocedure AS function,
       has_function_privilege('exchange_admin', p.oid, 'EXECUTE') AS admins,
       has_function_privilege('public', p.oid, 'EXECUTE') AS public
  FROM pg_proc p
 WHERE p.pronamespace = 'exchange'::regnamespace
   AND p.proname IN ('latency', 'latency_histogram', 'reset_latency')
 ORDER BY 1::text;
-- 1.4: exchange.engine_status() counts lost wake-ups (callers_unwoken)
ALTER EXTENSION exchange UPDATE TO '1.4';
SELECT extversion FROM pg_extension WHERE extname = 'exchange';
SELECT callers_unwoken, has_function_privilege('exchange_admin',
       'exchange.engine_status()', 'EXECUTE') AS admins,
       has_function_privilege('public', 'exchange.engine_status()', 'EXECUTE') AS public
  FROM exchange.engine_status();
-- 1.5: exchange.engine_status() counts pages added ahead of the engine
ALTER EXTENSION exchange UPDATE TO '1.5';
SELECT extversion FROM pg_extension WHERE extname = 'exchange';
SELECT pages_extended_ahead >= 0 AS counted, has_function_privilege('exchange_admin',
       'exchange.engine_status()', 'EXECUTE') AS admins,
       has_function_privilege('public', 'exchange.engine_status()', 'EXECUTE') AS public
  FROM exchange.engine_status();
-- 1.6: engine_status()'s comment names the indexes extended ahead too
ALTER EXTENSION exchange UPDATE TO '1.6';
SELECT extversion FROM pg_extension WHERE extname = 'exchange';
SELECT obj_description('exchange.engine_status()'::regprocedure, 'pg_proc')
       LIKE '%pages_extended_ahead = empty pages added to order_record, trade_record and their B-tree indexes%' AS described;
ALTER EXTENSION exchange UPDATE;

-- the upgraded extension trades
SELECT exchange.wait_for_engine(30000);
SELECT exchange.create_asset('BTC', 8), exchange.create_asset('USDT', 6);
SELECT exchange.create_market('BTC-USDT', 'BTC', 'USDT', 0.01, 0.0001, 10, 20);
SELECT exchange.create_account('after-upgrade') AS acct \gset
SELECT exchange.deposit(:acct, 'USDT', 1000, 'upgrade-1') > 0 AS deposited;
SELECT ordinal, status, remaining_quantity, error_code, error_message
  FROM exchange.place_orders(format('[{"account_id": %s, "market": "BTC-USDT", "side": "buy", "quantity": 0.5, "price": 100},
                                      {"account_id": %s, "market": "BTC-USDT", "side": "buy", "quantity": 0.5, "price": 100000}]',
                                    :acct, :acct));
SELECT * FROM exchange.check_invariants();
