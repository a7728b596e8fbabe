-- Request functions refuse an explicit transaction block (SQLSTATE 25001):
-- the engine commits each request itself, so ROLLBACK could not undo it.
-- Every call below is otherwise valid (real accounts, a resting order), so
-- an engine that took it would change the tables, which the last test sees.
BEGIN;
SELECT plan(16);

SELECT account_id AS trader FROM tap.trader WHERE n = 1 \gset
SELECT order_id AS resting, account_id AS owner, quantity AS resting_qty
  FROM exchange.orders WHERE status IN ('open', 'partially_filled')
 ORDER BY order_id LIMIT 1 \gset

CREATE TEMP TABLE before AS
SELECT (SELECT count(*) FROM exchange.asset) AS assets,
       (SELECT count(*) FROM exchange.market) AS markets,
       (SELECT count(*) FROM exchange.account) AS accounts,
       (SELECT count(*) FROM exchange.deposit_record) AS deposits,
       (SELECT count(*) FROM exchange.order_record) AS orders,
       (SELECT count(*) FROM exchange.trade_record) AS trades,
       (SELECT max(updated_at) FROM exchange.order_record) AS orders_updated,
       (SELECT max(updated_at) FROM exchange.balance_record) AS balances_updated,
       (SELECT bool_or(halted) FROM exchange.market) AS halted;

SELECT ok(:resting IS NOT NULL, 'a resting order to aim at exists');

SELECT throws_ok($$SELECT exchange.create_asset('TAPX', 2)$$, '25001', NULL,
                 'create_asset refuses a transaction block');
SELECT throws_ok($$SELECT exchange.create_market('TAPX-USDT', 'ETH', 'USDT', 0.01, 0.01)$$, '25001', NULL,
                 'create_market refuses a transaction block');
SELECT throws_ok($$SELECT exchange.halt_market('BTC-USDT')$$, '25001', NULL,
                 'halt_market refuses a transaction block');
SELECT throws_ok($$SELECT exchange.resume_market('BTC-USDT')$$, '25001', NULL,
                 'resume_market refuses a transaction block');
SELECT throws_ok($$SELECT exchange.create_account('tap-in-transaction')$$, '25001', NULL,
                 'create_account refuses a transaction block');
SELECT throws_ok(format($$SELECT exchange.deposit(%s, 'USDT', 1, 'tap-in-transaction')$$, :trader),
                 '25001', NULL, 'deposit refuses a transaction block');
SELECT throws_ok(format($$SELECT * FROM exchange.place_order(%s, 'BTC-USDT', 'sell', 0.001, type => 'market')$$, :trader),
                 '25001', NULL, 'place_order refuses a transaction block');
SELECT throws_ok(format($$SELECT * FROM exchange.cancel_order(%s, %s)$$, :owner, :resting),
                 '25001', NULL, 'cancel_order refuses a transaction block');
SELECT throws_ok(format($$SELECT exchange.cancel_all(%s)$$, :owner),
                 '25001', NULL, 'cancel_all refuses a transaction block');
SELECT throws_ok(format($$SELECT * FROM exchange.amend_order(%s, %s, %s)$$, :owner, :resting, :resting_qty),
                 '25001', NULL, 'amend_order refuses a transaction block');
-- also inside a savepoint, and with a rolled-back subtransaction before
SAVEPOINT s;
SELECT throws_ok(format($$SELECT * FROM exchange.place_order(%s, 'ETH-BTC', 'buy', 0.001, 0.05)$$, :trader),
                 '25001', NULL, 'place_order refuses a savepoint too');
RELEASE SAVEPOINT s;

-- reading works in a transaction
SELECT lives_ok($$SELECT * FROM exchange.order_book('BTC-USDT')$$, 'order_book works in a transaction');
SELECT lives_ok($$SELECT exchange.fee_account()$$, 'fee_account works in a transaction');
SELECT lives_ok($$SELECT * FROM exchange.check_invariants()$$, 'check_invariants works in a transaction');

-- nothing changed: each statement of this transaction takes a new snapshot
-- (read committed), so anything the engine had committed would show here
SELECT results_eq(
    $$SELECT (SELECT count(*) FROM exchange.asset), (SELECT count(*) FROM exchange.market),
             (SELECT count(*) FROM exchange.account), (SELECT count(*) FROM exchange.deposit_record),
             (SELECT count(*) FROM exchange.order_record), (SELECT count(*) FROM exchange.trade_record),
             (SELECT max(updated_at) FROM exchange.order_record),
             (SELECT max(updated_at) FROM exchange.balance_record),
             (SELECT bool_or(halted) FROM exchange.market)$$,
    $$SELECT * FROM before$$,
    'the refused requests changed nothing');

SELECT * FROM finish();
ROLLBACK;
