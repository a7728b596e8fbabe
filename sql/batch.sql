-- place_orders: many orders in one call, each accepted or refused alone.
\set SHOW_CONTEXT never
SELECT exchange.create_account('mm') AS mm \gset
SELECT exchange.deposit(:mm, 'BTC', 3, 'mm-btc'), exchange.deposit(:mm, 'USDT', 100000, 'mm-usdt');

SELECT ordinal, status, executed_quantity, remaining_quantity, error_code, error_message
  FROM exchange.place_orders(jsonb_build_array(
    jsonb_build_object('account_id', :mm, 'market', 'BTC-USDT', 'side', 'buy', 'quantity', 0.1, 'price', 18000, 'client_order_id', 'mm-1'),
    jsonb_build_object('account_id', :mm, 'market', 'BTC-USDT', 'side', 'sell', 'quantity', '0.2', 'price', '22000', 'post_only', true),
    jsonb_build_object('account_id', :mm, 'market', 'BTC-USDT', 'side', 'buy', 'quantity', 0.00001, 'price', 18000),
    jsonb_build_object('account_id', :mm, 'market', 'NOPE', 'side', 'buy', 'quantity', 1, 'price', 1),
    jsonb_build_object('account_id', :mm, 'market', 'BTC-USDT', 'side', 'up', 'quantity', 1, 'price', 1),
    jsonb_build_object('account_id', :mm, 'market', 'BTC-USDT', 'side', 'buy', 'price', 1),
    jsonb_build_object('account_id', :mm, 'market', 'BTC-USDT', 'side', 'buy', 'quantity', 1),
    jsonb_build_object('account_id', :mm, 'market', 'BTC-USDT', 'side', 'buy', 'quantity', 100, 'price', 18000),
    jsonb_build_object('account_id', :mm, 'market', 'BTC-USDT', 'side', 'buy', 'quantity', 1, 'price', 1, 'colour', 'red'),
    jsonb_build_object('account_id', :mm, 'market', 'BTC-USDT', 'side', 'buy', 'quantity', 0.1, 'price', 17000, 'expire_at', 'tomorrow'),
    jsonb_build_object('account_id', :mm, 'market', 'BTC-USDT', 'side', 'buy', 'quantity', 0.1, 'price', 17000, 'expire_at', 'not a time'),
    '"not an object"'::jsonb,
    jsonb_build_object('account_id', :mm, 'market', 'BTC-USDT', 'side', 'buy', 'quantity', 0.1, 'price', 18000, 'client_order_id', 'mm-1')
  ))
 ORDER BY ordinal;

-- the same client_order_id was one order; the rest rests as placed
SELECT side, price, quantity, status FROM exchange.orders
 WHERE account_id = :mm ORDER BY order_id;

-- many at once: 200 orders in one call
SELECT count(*) AS rows, count(order_id) AS accepted, count(error_code) AS refused
  FROM exchange.place_orders((SELECT jsonb_agg(jsonb_build_object(
        'account_id', :mm, 'market', 'BTC-USDT', 'side', 'buy',
        'quantity', 0.01, 'price', 10000 + i, 'client_order_id', 'bulk-' || i))
   FROM generate_series(1, 200) i));
SELECT count(*) FROM exchange.orders WHERE account_id = :mm AND client_order_id LIKE 'bulk-%';

-- a capacity (here exchange.max_orders = 1000) refuses, never crashes
SELECT exchange.cancel_all(:mm);
SELECT error_code, error_message, count(*)
  FROM exchange.place_orders((SELECT jsonb_agg(jsonb_build_object(
        'account_id', :mm, 'market', 'BTC-USDT', 'side', 'buy',
        'quantity', 0.0001, 'price', 100 + (i % 50)))
   FROM generate_series(1, 1100) i))
 GROUP BY 1, 2 ORDER BY 1 NULLS FIRST;
SELECT state FROM exchange.engine_status();
SELECT exchange.cancel_all(:mm) > 900 AS cancelled;

-- rows come back in input order across pipelined chunks, refusals
-- (by the call: a bad side; by the engine: not a whole lot) in their place
SELECT count(*) AS rows, count(r.error_code) AS refused,
       bool_and(CASE r.ordinal % 5
                WHEN 0 THEN r.error_code = '22P02'
                WHEN 1 THEN r.error_code = '22023'
                ELSE r.error_code IS NULL AND o.client_order_id = 'seq-' || r.ordinal
                END) AS in_order
  FROM exchange.place_orders((SELECT jsonb_agg(jsonb_build_object(
        'account_id', :mm, 'market', 'BTC-USDT',
        'side', CASE WHEN i % 5 = 0 THEN 'sideways' ELSE 'buy' END,
        'quantity', CASE WHEN i % 5 = 1 THEN 0.00001 ELSE 0.0001 END,
        'price', 100 + i % 7, 'client_order_id', 'seq-' || i) ORDER BY i)
   FROM generate_series(1, 700) i)) r
  LEFT JOIN exchange.order_record o USING (order_id);
SELECT exchange.cancel_all(:mm) AS cancelled;

-- errors of the call itself
SELECT * FROM exchange.place_orders('{"account_id": 1}');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM exchange.place_orders(NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM exchange.place_orders('[]');
BEGIN;
SELECT * FROM exchange.place_orders('[{"account_id": 1, "market": "BTC-USDT", "side": "buy", "quantity": 1, "price": 1}]');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;

-- a key longer than any known one is unknown, quoted cut to 31 bytes and "..."
SELECT ordinal, order_id, error_code, error_message
  FROM exchange.place_orders(jsonb_build_array(jsonb_build_object(
       'account_id', :mm, 'market', 'BTC-USDT', 'side', 'buy',
       'quantity', 1, 'price', 1,
       'a_key_much_longer_than_thirty_one_bytes', 1)));

SELECT exchange.cancel_all(:mm);
SELECT * FROM exchange.check_invariants();
