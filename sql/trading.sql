-- Matching rules, funds and fees through the SQL surface.
\set SHOW_CONTEXT never
CREATE VIEW book AS
SELECT side, price, quantity, order_count FROM exchange.order_book('BTC-USDT');
CREATE FUNCTION bal(acct bigint) RETURNS TABLE (asset text, available numeric, locked numeric)
    LANGUAGE sql AS $$
    SELECT asset, available, locked FROM exchange.balances
     WHERE account_id = acct ORDER BY asset $$;

-- bob offers 1 BTC at 20000 and 1 BTC at 20100; alice's 0.5 @ 19900 rests
SELECT * FROM exchange.place_order(2, 'BTC-USDT', 'sell', 1, 20000);
SELECT * FROM exchange.place_order(2, 'BTC-USDT', 'sell', 1, 20100);
SELECT * FROM exchange.place_order(1, 'BTC-USDT', 'buy', 0.5, 19900);
SELECT * FROM book;
SELECT * FROM bal(2);
SELECT * FROM bal(1);

-- carol's sell at 20000 queues behind bob's (time priority)
SELECT * FROM exchange.place_order(3, 'BTC-USDT', 'sell', 0.5, 20000);

-- alice buys 1.2 up to 20050: fills at the makers' price 20000, oldest
-- first (bob 1, carol 0.2); the 50/BTC she offered above is released
SELECT * FROM exchange.place_order(1, 'BTC-USDT', 'buy', 1.2, 20050);
SELECT trade_id, price, quantity, maker_order_id, taker_order_id,
       maker_account_id, taker_account_id, taker_side, maker_fee, taker_fee
  FROM exchange.trades ORDER BY trade_id;
SELECT * FROM book;
-- alice: 1,000,000 - 24,000 - 9,950 locked for 0.5 @ 19900; receives
-- 1.2 BTC less the 20 bps taker fee (0.0024 BTC) = 1.1976
SELECT * FROM bal(1);
-- bob: 1 BTC at 20000 less 10 bps maker fee = 19980 USDT
SELECT * FROM bal(2);
SELECT * FROM bal(exchange.fee_account());

-- IOC: what does not fill at once is cancelled, hold released
SELECT * FROM exchange.place_order(1, 'BTC-USDT', 'buy', 0.5, 20000, time_in_force => 'ioc');
SELECT * FROM bal(1);

-- FOK: all or nothing
SELECT * FROM exchange.place_order(1, 'BTC-USDT', 'buy', 2, 20100, time_in_force => 'fok');
SELECT count(*) AS trades FROM exchange.trades;
SELECT * FROM exchange.place_order(1, 'BTC-USDT', 'buy', 0.6, 20100, time_in_force => 'fok');
SELECT * FROM book;

-- post-only: refused when it would match on arrival, rests otherwise
SELECT * FROM exchange.place_order(3, 'BTC-USDT', 'buy', 0.1, 20100, post_only => true);
SELECT * FROM exchange.place_order(2, 'BTC-USDT', 'sell', 0.1, 19900, post_only => true);
SELECT * FROM exchange.place_order(2, 'BTC-USDT', 'sell', 0.1, 20200, post_only => true);
SELECT * FROM book;

-- market sell by quantity sweeps bids; market buy by quote amount
SELECT * FROM exchange.place_order(3, 'BTC-USDT', 'sell', 0.3, type => 'market');
SELECT * FROM exchange.place_order(3, 'BTC-USDT', 'buy', NULL, type => 'market', quote_quantity => 3000);
SELECT * FROM book;
-- a market order that finds no liquidity is cancelled, nothing moves
SELECT * FROM exchange.place_order(4, 'ETH-USDT', 'sell', 0.1, type => 'market');

-- self-trade prevention
SELECT * FROM exchange.place_order(2, 'BTC-USDT', 'buy', 0.1, 20200);
SELECT * FROM exchange.place_order(2, 'BTC-USDT', 'buy', 0.2, 20200, stp => 'cancel_maker');
SELECT order_id, status, executed_quantity FROM exchange.orders
 WHERE account_id = 2 ORDER BY order_id;
SELECT * FROM exchange.place_order(3, 'BTC-USDT', 'sell', 0.4, 20300);
SELECT * FROM exchange.place_order(1, 'BTC-USDT', 'buy', 0.2, 20300);
SELECT * FROM exchange.place_order(3, 'BTC-USDT', 'buy', 0.3, 20300, stp => 'cancel_both');
SELECT * FROM book;

-- amend: reduce keeps time priority, an increase is refused
SELECT exchange.cancel_all(1), exchange.cancel_all(2), exchange.cancel_all(3);
SELECT * FROM exchange.place_order(1, 'BTC-USDT', 'buy', 1, 19000);
SELECT * FROM exchange.place_order(3, 'BTC-USDT', 'buy', 1, 19000);
SELECT order_id AS alice_19000 FROM exchange.orders
 WHERE account_id = 1 AND price = 19000 \gset
SELECT * FROM exchange.amend_order(1, :alice_19000, 0.4);
SELECT * FROM exchange.amend_order(1, :alice_19000, 2);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM exchange.place_order(2, 'BTC-USDT', 'sell', 0.5, 19000);
SELECT order_id, account_id, status, executed_quantity FROM exchange.orders
 WHERE price = 19000 ORDER BY order_id;

-- cancel releases what the rest held; cancelling again reports the state
SELECT * FROM exchange.cancel_order(1, :alice_19000);
SELECT * FROM exchange.cancel_order(1, :alice_19000);
SELECT * FROM exchange.amend_order(1, :alice_19000, 0.1);
\echo :LAST_ERROR_SQLSTATE
-- another account's order is not yours to cancel
SELECT order_id AS carol_19000 FROM exchange.orders
 WHERE account_id = 3 AND price = 19000 \gset
SELECT * FROM exchange.cancel_order(1, :carol_19000);
\echo :LAST_ERROR_SQLSTATE

-- cancel_all, per market and overall
SELECT * FROM exchange.place_order(4, 'ETH-USDT', 'sell', 1, 3000);
SELECT * FROM exchange.place_order(4, 'ETH-USDT', 'sell', 1, 3100);
SELECT exchange.cancel_all(4, 'BTC-USDT');
SELECT exchange.cancel_all(4, 'ETH-USDT');
SELECT exchange.cancel_all(3);
SELECT * FROM bal(3);

-- good-till-date: the engine expires it
SELECT order_id AS gtd FROM exchange.place_order(4, 'ETH-USDT', 'buy', 1, 100,
       expire_at => clock_timestamp() + interval '300 ms') \gset
SELECT status FROM exchange.orders WHERE order_id = :gtd;
SELECT pg_sleep(1.5);
SELECT status FROM exchange.orders WHERE order_id = :gtd;
SELECT * FROM bal(4);

-- a market buy by quantity stops when the buyer cannot pay the next lot
SELECT exchange.create_account('poor') AS poor \gset
SELECT exchange.deposit(:poor, 'USDT', 30, 'dep-poor');
SELECT * FROM exchange.place_order(4, 'ETH-USDT', 'sell', 0.05, 1000);
SELECT * FROM exchange.place_order(:poor, 'ETH-USDT', 'buy', 0.05, type => 'market');
SELECT * FROM bal(:poor);
SELECT exchange.cancel_all(4);
SELECT * FROM exchange.order_book('ETH-USDT');

SELECT * FROM exchange.check_invariants();
SELECT asset, sum(available + locked) AS total FROM exchange.balances GROUP BY asset ORDER BY asset;
