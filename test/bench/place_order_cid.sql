-- place_order.sql with a client_order_id on every order, as trading
-- clients send them (idempotent retries): the engine then looks each id up
-- before applying the batch.  Ids are unique per account with overwhelming
-- probability (a random 48-bit number per order).
\set acct random(:acct_min, :acct_max)
\set m random(1, 4)
\set s random(1, 2)
\set off random(-50, 50)
\set q random(1, 10)
\set cid random(1, 281474976710655)
SELECT * FROM exchange.place_order(:acct,
    ('{BTC-USDT,ETH-USDT,SOL-USDT,XRP-USDT}'::text[])[:m],
    ('{buy,sell}'::exchange.side[])[:s],
    :q * ('{0.0001,0.001,0.01,1}'::numeric[])[:m],
    (('{6000000,300000,150000,6000}'::bigint[])[:m] + :off)
        * ('{0.01,0.01,0.001,0.0001}'::numeric[])[:m],
    client_order_id => 'b' || :cid);
