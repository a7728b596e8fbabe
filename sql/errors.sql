-- Every bad input gets a clear error with the right SQLSTATE and changes
-- nothing.  :LAST_ERROR_SQLSTATE shows the code after each failure.
\set SHOW_CONTEXT never
CREATE TEMP TABLE before AS
SELECT (SELECT count(*) FROM exchange.order_record) AS orders,
       (SELECT count(*) FROM exchange.trade_record) AS trades,
       (SELECT sum(available) || '/' || sum(locked) FROM exchange.balance_record) AS balances;

-- quantity: NULL, NaN, infinities, zero, negative, too fine, absurd
SELECT * FROM exchange.place_order(1, 'BTC-USDT', 'buy', NULL, 100);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM exchange.place_order(1, 'BTC-USDT', 'buy', 'NaN', 100);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM exchange.place_order(1, 'BTC-USDT', 'buy', 'Infinity', 100);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM exchange.place_order(1, 'BTC-USDT', 'buy', '-Infinity', 100);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM exchange.place_order(1, 'BTC-USDT', 'buy', 0, 100);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM exchange.place_order(1, 'BTC-USDT', 'buy', -1, 100);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM exchange.place_order(1, 'BTC-USDT', 'buy', 0.00005, 100);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM exchange.place_order(1, 'BTC-USDT', 'buy', 0.00015, 100);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM exchange.place_order(1, 'BTC-USDT', 'buy', 1e30, 100);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM exchange.place_order(1, 'BTC-USDT', 'buy', 1e100, 100);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM exchange.place_order(1, 'BTC-USDT', 'buy', 1e14, 100);
\echo :LAST_ERROR_SQLSTATE

-- price: NaN, infinity, zero, negative, off-tick, absurd, missing, extra
SELECT * FROM exchange.place_order(1, 'BTC-USDT', 'buy', 1, 'NaN');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM exchange.place_order(1, 'BTC-USDT', 'buy', 1, 'Infinity');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM exchange.place_order(1, 'BTC-USDT', 'buy', 1, 0);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM exchange.place_order(1, 'BTC-USDT', 'buy', 1, -5);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM exchange.place_order(1, 'BTC-USDT', 'buy', 1, 100.005);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM exchange.place_order(1, 'BTC-USDT', 'buy', 1, 1e20);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM exchange.place_order(1, 'BTC-USDT', 'buy', 1);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM exchange.place_order(1, 'BTC-USDT', 'buy', 1, 100, 'market');
\echo :LAST_ERROR_SQLSTATE

-- unknown things, halted market, below minimum, bad combinations
SELECT * FROM exchange.place_order(99, 'BTC-USDT', 'buy', 1, 100);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM exchange.place_order(1, 'DOGE-USDT', 'buy', 1, 100);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM exchange.place_order(1, NULL, 'buy', 1, 100);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM exchange.place_order(1, 'ETH-USDT', 'buy', 0.001, 100);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM exchange.place_order(1, 'BTC-USDT', 'buy', 1, 100, time_in_force => 'ioc', post_only => true);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM exchange.place_order(2, 'BTC-USDT', 'sell', NULL, type => 'market', quote_quantity => 100);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM exchange.place_order(1, 'BTC-USDT', 'buy', 1, type => 'market', quote_quantity => 100);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM exchange.place_order(1, 'BTC-USDT', 'buy', 1, 100, expire_at => now() - interval '1 minute');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM exchange.place_order(1, 'BTC-USDT', 'buy', 1, 100, time_in_force => 'ioc', expire_at => now() + interval '1 minute');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM exchange.place_order(1, 'BTC-USDT', 'buy', 1, 100, client_order_id => repeat('x', 200));
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM exchange.place_order(0, 'BTC-USDT', 'buy', 1, 100);
\echo :LAST_ERROR_SQLSTATE
SELECT exchange.halt_market('ETH-USDT');
SELECT * FROM exchange.place_order(4, 'ETH-USDT', 'sell', 1, 100);
\echo :LAST_ERROR_SQLSTATE
SELECT exchange.resume_market('ETH-USDT');
SELECT exchange.halt_market('NOPE');
\echo :LAST_ERROR_SQLSTATE

-- insufficient available balance: extension code EX001
SELECT * FROM exchange.place_order(1, 'BTC-USDT', 'buy', 100, 20000);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM exchange.place_order(2, 'BTC-USDT', 'sell', 11, 20000);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM exchange.place_order(2, 'BTC-USDT', 'sell', 11, type => 'market');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM exchange.place_order(1, 'BTC-USDT', 'buy', NULL, type => 'market', quote_quantity => 2000000);
\echo :LAST_ERROR_SQLSTATE

-- cancels and amendments of orders that are not there
SELECT * FROM exchange.cancel_order(1, 424242);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM exchange.amend_order(1, 424242, 1);
\echo :LAST_ERROR_SQLSTATE
SELECT exchange.cancel_all(99);
\echo :LAST_ERROR_SQLSTATE
SELECT exchange.cancel_all(1, 'NOPE');
\echo :LAST_ERROR_SQLSTATE

-- set-up mistakes
SELECT exchange.create_asset('BTC', 8);
\echo :LAST_ERROR_SQLSTATE
SELECT exchange.create_asset('BAD', 19);
\echo :LAST_ERROR_SQLSTATE
SELECT exchange.create_asset('has space', 2);
\echo :LAST_ERROR_SQLSTATE
SELECT exchange.create_asset(NULL, 2);
\echo :LAST_ERROR_SQLSTATE
SELECT exchange.create_market('BTC-USDT', 'BTC', 'USDT', 0.01, 0.0001);
\echo :LAST_ERROR_SQLSTATE
SELECT exchange.create_market('X-Y', 'BTC', 'NOPE', 0.01, 0.0001);
\echo :LAST_ERROR_SQLSTATE
SELECT exchange.create_market('X-Y', 'BTC', 'BTC', 0.01, 0.0001);
\echo :LAST_ERROR_SQLSTATE
SELECT exchange.create_market('X-Y', 'ETH', 'USDT', 0, 0.0001);
\echo :LAST_ERROR_SQLSTATE
SELECT exchange.create_market('X-Y', 'ETH', 'USDT', 0.01, 'NaN');
\echo :LAST_ERROR_SQLSTATE
SELECT exchange.create_market('X-Y', 'ETH', 'USDT', 0.01, 0.000000001);
\echo :LAST_ERROR_SQLSTATE
SELECT exchange.create_market('X-Y', 'ETH', 'USDT', 0.01, 0.001, 20000);
\echo :LAST_ERROR_SQLSTATE

-- deposits
SELECT exchange.deposit(1, 'USDT', 0, 'bad-1');
\echo :LAST_ERROR_SQLSTATE
SELECT exchange.deposit(1, 'USDT', -5, 'bad-2');
\echo :LAST_ERROR_SQLSTATE
SELECT exchange.deposit(1, 'USDT', 0.0000001, 'bad-3');
\echo :LAST_ERROR_SQLSTATE
SELECT exchange.deposit(1, 'USDT', 'NaN', 'bad-4');
\echo :LAST_ERROR_SQLSTATE
SELECT exchange.deposit(1, 'USDT', 1e40, 'bad-5');
\echo :LAST_ERROR_SQLSTATE
SELECT exchange.deposit(1, 'USDT', 9223372036854, 'bad-6');
\echo :LAST_ERROR_SQLSTATE
SELECT exchange.deposit(1, 'NOPE', 1, 'bad-7');
\echo :LAST_ERROR_SQLSTATE
SELECT exchange.deposit(99, 'USDT', 1, 'bad-8');
\echo :LAST_ERROR_SQLSTATE
SELECT exchange.deposit(1, 'USDT', 1, NULL);
\echo :LAST_ERROR_SQLSTATE
-- the same reference for a different deposit
SELECT exchange.deposit(2, 'USDT', 1000000, 'dep-1');
\echo :LAST_ERROR_SQLSTATE

-- request functions refuse an explicit transaction block
BEGIN;
SELECT * FROM exchange.place_order(1, 'BTC-USDT', 'buy', 1, 100);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SELECT exchange.deposit(1, 'USDT', 1, 'in-tx');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;

-- nothing changed
SELECT ROW((SELECT count(*) FROM exchange.order_record),
           (SELECT count(*) FROM exchange.trade_record),
           (SELECT sum(available) || '/' || sum(locked) FROM exchange.balance_record))
       = (SELECT ROW(orders, trades, balances) FROM before) AS unchanged;
SELECT * FROM before;
SELECT count(*) FROM exchange.deposit_record WHERE reference LIKE 'bad-%' OR reference = 'in-tx';
SELECT * FROM exchange.check_invariants();
