-- Trades after the random stream of setup.sql: fees rounded up in the
-- asset each party receives, trade ids in execution order, prices and
-- price-time priority, sides and accounts consistent with the orders.
BEGIN;
SELECT plan(18);

CREATE TEMP VIEW mkt AS
SELECT m.symbol, b.scale AS base_scale, q.scale AS quote_scale,
       m.maker_fee_bps, m.taker_fee_bps, m.tick_size, m.lot_size
  FROM exchange.market m
  JOIN exchange.asset b ON b.asset_id = m.base_asset_id
  JOIN exchange.asset q ON q.asset_id = m.quote_asset_id;

-- each party's fee: bps of what it receives (the buyer base, the seller
-- quote), rounded UP to the smallest unit of that asset
CREATE TEMP VIEW expected_fee AS
SELECT t.trade_id, t.taker_side, t.maker_fee, t.taker_fee,
       ceil(r.maker_gets * k.maker_fee_bps / 10000 * 10::numeric ^ r.maker_scale)
           / 10::numeric ^ r.maker_scale AS maker_expected,
       ceil(r.taker_gets * k.taker_fee_bps / 10000 * 10::numeric ^ r.taker_scale)
           / 10::numeric ^ r.taker_scale AS taker_expected,
       r.maker_gets * k.maker_fee_bps / 10000 AS maker_exact,
       r.taker_gets * k.taker_fee_bps / 10000 AS taker_exact
  FROM exchange.trades t
  JOIN mkt k ON k.symbol = t.market
 CROSS JOIN LATERAL (SELECT
        CASE t.taker_side WHEN 'buy' THEN t.price * t.quantity ELSE t.quantity END AS maker_gets,
        CASE t.taker_side WHEN 'buy' THEN k.quote_scale ELSE k.base_scale END AS maker_scale,
        CASE t.taker_side WHEN 'buy' THEN t.quantity ELSE t.price * t.quantity END AS taker_gets,
        CASE t.taker_side WHEN 'buy' THEN k.base_scale ELSE k.quote_scale END AS taker_scale) r;

CREATE TEMP VIEW trade_order AS
SELECT t.*, mo.side AS maker_side, mo.price AS maker_price, mo.account_id AS maker_owner,
       mo.market AS maker_market, mo.created_at AS maker_created,
       tk.side AS taker_order_side, tk.price AS taker_price, tk.type AS taker_type,
       tk.account_id AS taker_owner, tk.market AS taker_market, tk.created_at AS taker_created
  FROM exchange.trades t
  JOIN exchange.orders mo ON mo.order_id = t.maker_order_id
  JOIN exchange.orders tk ON tk.order_id = t.taker_order_id;

SELECT cmp_ok((SELECT count(*) FROM exchange.trades), '>=', 150::bigint,
              'the stream made enough trades');

-- fees
SELECT is_empty($$SELECT trade_id, taker_side, maker_fee, maker_expected, maker_exact
                    FROM expected_fee WHERE maker_fee <> maker_expected$$,
                'maker_fee = ceil(maker_fee_bps x what the maker receives) at that asset''s scale');
SELECT is_empty($$SELECT trade_id, taker_side, taker_fee, taker_expected, taker_exact
                    FROM expected_fee WHERE taker_fee <> taker_expected$$,
                'taker_fee = ceil(taker_fee_bps x what the taker receives) at that asset''s scale');
SELECT cmp_ok((SELECT count(*) FROM expected_fee
                WHERE maker_expected <> maker_exact OR taker_expected <> taker_exact),
              '>=', 20::bigint,
              'many fees needed rounding (so rounding up is really tested)');
SELECT ok((SELECT bool_and(maker_fee >= 0 AND taker_fee >= 0) AND bool_or(maker_fee > 0)
                  AND bool_or(taker_fee > 0) FROM exchange.trades),
          'fees are charged and never negative');

-- execution order
SELECT is_empty($$
    SELECT trade_id, executed_at, prev_trade_id, prev_executed_at FROM (
        SELECT trade_id, executed_at,
               lag(trade_id) OVER w AS prev_trade_id, lag(executed_at) OVER w AS prev_executed_at
          FROM exchange.trades WINDOW w AS (ORDER BY trade_id)) t
     WHERE executed_at < prev_executed_at OR trade_id = prev_trade_id$$,
    'trade ids strictly increase with execution time');
SELECT is_empty($$
    SELECT taker_order_id, min(trade_id), max(trade_id), count(*)
      FROM exchange.trades GROUP BY taker_order_id
    HAVING max(trade_id) - min(trade_id) + 1 <> count(*)$$,
    'the trades of one incoming order are consecutive');
SELECT is_empty($$SELECT trade_id, maker_order_id, taker_order_id, maker_created, taker_created, executed_at
                    FROM trade_order
                   WHERE maker_order_id >= taker_order_id OR maker_created > taker_created
                      OR taker_created > executed_at$$,
                'the maker rested before the taker arrived; trades follow their orders');

-- who traded with whom
SELECT is_empty($$SELECT trade_id, market, maker_market, taker_market, taker_side, taker_order_side, maker_side
                    FROM trade_order
                   WHERE market <> maker_market OR market <> taker_market
                      OR taker_side <> taker_order_side OR maker_side = taker_side$$,
                'a trade is in its orders'' market, between opposite sides, taker_side the taker''s');
SELECT is_empty($$SELECT trade_id, maker_account_id, maker_owner, taker_account_id, taker_owner
                    FROM trade_order
                   WHERE maker_account_id <> maker_owner OR taker_account_id <> taker_owner$$,
                'maker_account_id and taker_account_id are the orders'' owners');
SELECT is_empty($$SELECT trade_id, maker_account_id FROM exchange.trades
                   WHERE maker_account_id = taker_account_id$$,
                'no account traded with itself (self-trade prevention)');

-- prices: the maker's price, within the taker's limit, best first
SELECT is_empty($$SELECT trade_id, price, maker_price FROM trade_order WHERE price <> maker_price$$,
                'every trade executes at the resting order''s price');
SELECT is_empty($$SELECT trade_id, taker_side, price, taker_price FROM trade_order
                   WHERE taker_type = 'limit'
                     AND CASE taker_side WHEN 'buy' THEN price > taker_price
                                         ELSE price < taker_price END$$,
                'no trade is worse than the taker''s limit');
SELECT is_empty($$
    SELECT * FROM (
        SELECT trade_id, taker_order_id, taker_side, price,
               lag(price) OVER w AS prev_price,
               maker_order_id, lag(maker_order_id) OVER w AS prev_maker
          FROM exchange.trades
        WINDOW w AS (PARTITION BY taker_order_id ORDER BY trade_id)) t
     WHERE CASE taker_side WHEN 'buy' THEN price < prev_price ELSE price > prev_price END$$,
    'an incoming order takes the best price first (price priority)');
SELECT is_empty($$
    SELECT * FROM (
        SELECT trade_id, taker_order_id, price, lag(price) OVER w AS prev_price,
               maker_order_id, lag(maker_order_id) OVER w AS prev_maker
          FROM exchange.trades
        WINDOW w AS (PARTITION BY taker_order_id ORDER BY trade_id)) t
     WHERE price = prev_price AND maker_order_id <= prev_maker$$,
    'within a price level the oldest resting order fills first (time priority)');
SELECT cmp_ok((SELECT count(*) FROM (
                  SELECT taker_order_id FROM exchange.trades
                   GROUP BY taker_order_id HAVING count(DISTINCT price) > 1) x),
              '>=', 5::bigint,
              'some incoming orders swept several price levels');

-- sizes on the grid
SELECT is_empty($$SELECT t.trade_id, t.price, t.quantity FROM exchange.trades t
                    JOIN mkt k ON k.symbol = t.market
                   WHERE t.quantity <= 0 OR t.quantity % k.lot_size <> 0
                      OR t.price <= 0 OR t.price % k.tick_size <> 0$$,
                'trade quantities are positive whole lots, prices whole ticks');

-- an order ended before it could trade never did
SELECT is_empty($$SELECT t.trade_id, o.order_id, o.status FROM exchange.trades t
                    JOIN exchange.orders o ON o.order_id IN (t.maker_order_id, t.taker_order_id)
                   WHERE o.status IN ('open', 'rejected')$$,
                'open (untouched) and rejected orders have no trades');

SELECT * FROM finish();
ROLLBACK;
