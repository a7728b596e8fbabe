-- The order books after the random stream of setup.sql: order_book() is
-- the aggregate of the open orders, best first, cut at depth; the books are
-- not crossed; the engine's in-memory count agrees with the tables.
BEGIN;
SELECT plan(13);

-- the book as the open orders say it is, best level first on each side
CREATE TEMP VIEW expected_book AS
SELECT market, side, price, sum(quantity - executed_quantity) AS quantity,
       count(*)::int AS order_count,
       row_number() OVER (PARTITION BY market, side
                          ORDER BY CASE side WHEN 'buy' THEN -price ELSE price END) AS rank
  FROM exchange.orders
 WHERE status IN ('open', 'partially_filled')
 GROUP BY market, side, price;

SELECT results_eq(
    format('SELECT side, price, quantity, order_count FROM exchange.order_book(%L, 100000)', m),
    format('SELECT side, price, quantity, order_count FROM expected_book
             WHERE market = %L ORDER BY side, rank', m),
    format('order_book(%s) equals the aggregate of its open orders, best first', m))
  FROM unnest(ARRAY['BTC-USDT', 'ETH-BTC']) m;

SELECT results_eq(
    format('SELECT side, price, quantity, order_count FROM exchange.order_book(%L, 3)', m),
    format('SELECT side, price, quantity, order_count FROM expected_book
             WHERE market = %L AND rank <= 3 ORDER BY side, rank', m),
    format('order_book(%s, 3) is the best three levels of each side', m))
  FROM unnest(ARRAY['BTC-USDT', 'ETH-BTC']) m;

-- the default depth is 50 levels a side
SELECT results_eq(
    format('SELECT side, price, quantity, order_count FROM exchange.order_book(%L)', m),
    format('SELECT side, price, quantity, order_count FROM expected_book
             WHERE market = %L AND rank <= 50 ORDER BY side, rank', m),
    format('order_book(%s) shows at most 50 levels a side', m))
  FROM unnest(ARRAY['BTC-USDT', 'ETH-BTC']) m;

SELECT ok((SELECT count(DISTINCT (market, side)) = 4 AND count(*) FILTER (WHERE order_count > 1) > 0
             FROM expected_book),
          'both sides of both books rest, some levels with several orders');

-- not crossed
SELECT is_empty($$
    SELECT market, max(price) FILTER (WHERE side = 'buy') AS best_bid,
           min(price) FILTER (WHERE side = 'sell') AS best_ask
      FROM exchange.orders WHERE status IN ('open', 'partially_filled')
     GROUP BY market
    HAVING max(price) FILTER (WHERE side = 'buy') >= min(price) FILTER (WHERE side = 'sell')$$,
    'best bid < best ask in every market (from the orders)');
SELECT is_empty($$
    SELECT m.symbol, b.price AS best_bid, a.price AS best_ask
      FROM exchange.market m
     CROSS JOIN LATERAL (SELECT price FROM exchange.order_book(m.symbol, 1) WHERE side = 'buy') b
     CROSS JOIN LATERAL (SELECT price FROM exchange.order_book(m.symbol, 1) WHERE side = 'sell') a
     WHERE b.price >= a.price$$,
    'best bid < best ask in every market (from order_book)');

-- resting orders sit on the market's grid
SELECT is_empty($$
    SELECT o.order_id, o.price, o.quantity, o.executed_quantity
      FROM exchange.orders o JOIN exchange.market m ON m.symbol = o.market
     WHERE o.price % m.tick_size <> 0 OR o.quantity % m.lot_size <> 0
        OR o.executed_quantity % m.lot_size <> 0$$,
    'prices are multiples of the tick, quantities of the lot');

-- the engine's books (shared memory) hold exactly the open orders
SELECT is((SELECT open_orders FROM exchange.engine_status()),
          (SELECT count(*)::int FROM exchange.orders WHERE status IN ('open', 'partially_filled')),
          'the engine holds as many open orders as the tables');

SELECT throws_ok($$SELECT * FROM exchange.order_book('NOPE-USDT')$$, '22023', NULL,
                 'order_book of an unknown market is refused');
SELECT throws_ok($$SELECT * FROM exchange.order_book('BTC-USDT', 0)$$, '22023', NULL,
                 'order_book with depth 0 is refused');

SELECT * FROM finish();
ROLLBACK;
