-- One place_orders call of :n limit orders (market makers' quoting): random
-- account and market, prices a few ticks around the mid on both sides.
-- The result rows go to the client.
\set acct random(:acct_min, :acct_max)
\set m random(1, 4)
SELECT * FROM exchange.place_orders((
    SELECT jsonb_agg(jsonb_build_object(
        'account_id', :acct::bigint,
        'market', ('{BTC-USDT,ETH-USDT,SOL-USDT,XRP-USDT}'::text[])[:m::int],
        'side', CASE WHEN random() < 0.5 THEN 'buy' ELSE 'sell' END,
        'quantity', (1 + floor(random() * 10)::int) * ('{0.0001,0.001,0.01,1}'::numeric[])[:m::int],
        'price', ((('{6000000,300000,150000,6000}'::bigint[])[:m::int]
                  + floor(random() * 101)::int - 50)
                 * ('{0.01,0.01,0.001,0.0001}'::numeric[])[:m::int]),
        'stp', 'cancel_maker'))
      FROM generate_series(1, :n::int)));
