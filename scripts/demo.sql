-- Demo markets, accounts and a few orders.  Safe to run again: accounts
-- are keyed by external_ref, deposits by reference, orders by
-- client_order_id, so a second run changes nothing.
\set ON_ERROR_STOP 1
\pset footer off
SELECT exchange.wait_for_engine(30000) AS engine_ready \gset
\o /dev/null

SELECT exchange.create_asset(code, scale)
  FROM (VALUES ('BTC', 8), ('ETH', 8), ('USDT', 6)) a(code, scale)
 WHERE NOT EXISTS (SELECT FROM exchange.asset x WHERE x.code = a.code);
SELECT exchange.create_market(symbol, base, quote, tick, lot, 10, 20)
  FROM (VALUES ('BTC-USDT', 'BTC', 'USDT', 0.01, 0.0001),
               ('ETH-USDT', 'ETH', 'USDT', 0.01, 0.0001)) m(symbol, base, quote, tick, lot)
 WHERE NOT EXISTS (SELECT FROM exchange.market x WHERE x.symbol = m.symbol);

SELECT exchange.create_account('demo-maker') AS maker,
       exchange.create_account('demo-taker') AS taker \gset
SELECT exchange.deposit(:maker, 'BTC', 10, 'demo-maker-btc'),
       exchange.deposit(:maker, 'ETH', 100, 'demo-maker-eth'),
       exchange.deposit(:maker, 'USDT', 1000000, 'demo-maker-usdt'),
       exchange.deposit(:taker, 'USDT', 500000, 'demo-taker-usdt') \gset

-- a ladder of resting orders, then a taker that crosses the spread
SELECT p.order_id, p.status
  FROM (VALUES (1, 'buy', 0.5, 64950.00), (2, 'buy', 1.0, 64900.00),
               (3, 'sell', 0.4, 65050.00), (4, 'sell', 1.2, 65100.00)) o(n, side, qty, price),
       LATERAL exchange.place_order(:maker, 'BTC-USDT', o.side::exchange.side,
                                    o.qty, o.price, client_order_id => 'demo-btc-' || o.n) p;
SELECT p.order_id, p.status
  FROM (VALUES (1, 'buy', 5, 3190.00), (2, 'sell', 5, 3210.00)) o(n, side, qty, price),
       LATERAL exchange.place_order(:maker, 'ETH-USDT', o.side::exchange.side,
                                    o.qty, o.price, client_order_id => 'demo-eth-' || o.n) p;
\o
\echo The taker buys 0.6 BTC up to 65100 USDT:
SELECT * FROM exchange.place_order(:taker, 'BTC-USDT', 'buy', 0.6, 65100.00,
                                   client_order_id => 'demo-taker-1');

\echo
\echo BTC-USDT order book:
SELECT * FROM exchange.order_book('BTC-USDT');
\echo Trades:
SELECT trade_id, market, price, quantity, taker_side, maker_fee, taker_fee
  FROM exchange.trades ORDER BY trade_id;
\echo Balances:
SELECT * FROM exchange.balances ORDER BY account_id, asset;
