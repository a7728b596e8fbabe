-- One limit order: random account, market, side; price a few ticks around
-- the market's mid (so most rest and some cross); quantity 1..10 lots.
-- Markets (index :m): 1 BTC-USDT, 2 ETH-USDT, 3 SOL-USDT, 4 XRP-USDT.
\set acct random(:acct_min, :acct_max)
\set m random(1, 4)
\set s random(1, 2)
\set off random(-50, 50)
\set q random(1, 10)
SELECT * FROM exchange.place_order(:acct,
    ('{BTC-USDT,ETH-USDT,SOL-USDT,XRP-USDT}'::text[])[:m],
    ('{buy,sell}'::exchange.side[])[:s],
    :q * ('{0.0001,0.001,0.01,1}'::numeric[])[:m],
    (('{6000000,300000,150000,6000}'::bigint[])[:m] + :off)
        * ('{0.01,0.01,0.001,0.0001}'::numeric[])[:m]);
