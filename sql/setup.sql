-- The extension, its engine, and a small catalogue the other tests share.
CREATE EXTENSION exchange;
SELECT exchange.wait_for_engine(20000);
SELECT state, open_orders FROM exchange.engine_status();

SELECT exchange.create_asset('BTC', 8);
SELECT exchange.create_asset('ETH', 8);
SELECT exchange.create_asset('USDT', 6);
SELECT exchange.create_asset('JPY', 0);

-- tick 0.01 x lot 0.0001 = 0.000001 USDT: exact at scale 6
SELECT exchange.create_market('BTC-USDT', 'BTC', 'USDT', 0.01, 0.0001, 10, 20);
SELECT exchange.create_market('ETH-USDT', 'ETH', 'USDT', 0.01, 0.001, 0, 0, 5);
-- JPY has no decimals: tick 1 x lot 0.01 = 0.01 JPY is not exact
SELECT exchange.create_market('BTC-JPY', 'BTC', 'JPY', 1, 0.01);
SELECT exchange.create_market('BTC-JPY', 'BTC', 'JPY', 100, 0.01);

SELECT symbol, base_asset_id, quote_asset_id, tick_size, lot_size,
       maker_fee_bps, taker_fee_bps, min_notional, halted
  FROM exchange.market ORDER BY market_id;

SELECT exchange.create_account('alice') AS alice,
       exchange.create_account('bob') AS bob,
       exchange.create_account('carol') AS carol,
       exchange.create_account() AS dave;
-- the same external_ref again is the same account
SELECT exchange.create_account('alice');

SELECT exchange.deposit(1, 'USDT', 1000000, 'dep-1');
SELECT exchange.deposit(2, 'BTC', 10, 'dep-2');
SELECT exchange.deposit(3, 'BTC', 5, 'dep-3');
SELECT exchange.deposit(3, 'USDT', 500000, 'dep-4');
SELECT exchange.deposit(4, 'ETH', 100, 'dep-5');
SELECT exchange.deposit(4, 'USDT', 100000.5, 'dep-6');

SELECT * FROM exchange.balances ORDER BY account_id, asset;
SELECT exchange.fee_account();
