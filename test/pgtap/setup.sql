-- State for the pgTAP suite: two markets, nine traders and a deterministic
-- random stream of several hundred orders (every order type, time in force,
-- post-only, self-trade prevention mode, client_order_id repeats), with
-- cancels, amendments, cancel_all and good-till-date expiry in between.
--
-- Run with psql in autocommit mode (ON_ERROR_STOP): the engine commits each
-- request itself, so none of this may run inside BEGIN ... COMMIT.  Every
-- request and its answer are logged in tap.request_log, which the t_*.sql
-- files check against what the tables say afterwards.  The stream avoids
-- requests that must fail (an error would stop the script): deposits are
-- ample, amendments only reduce, post-only orders are gtc.
\set ON_ERROR_STOP 1

CREATE SCHEMA tap;
CREATE TABLE tap.trader (n int PRIMARY KEY, account_id bigint NOT NULL UNIQUE);
CREATE TABLE tap.request_log (
    seq                 bigserial PRIMARY KEY,
    round               int NOT NULL,
    kind                text NOT NULL,  -- place, cancel, amend, cancel_all
    account_id          bigint NOT NULL,
    market              text,
    side                exchange.side,
    type                exchange.order_type,
    time_in_force       exchange.time_in_force,
    post_only           boolean,
    stp                 exchange.stp_mode,
    quantity            numeric,        -- requested (new_quantity for amend)
    price               numeric,
    quote_quantity      numeric,
    client_order_id     text,
    expire_at           timestamptz,
    -- the answer
    order_id            bigint,
    status              exchange.order_status,
    executed_quantity   numeric,
    remaining_quantity  numeric,
    average_price       numeric,
    cancelled_count     int             -- cancel_all
);

SELECT exchange.create_asset('BTC', 8);
SELECT exchange.create_asset('ETH', 8);
SELECT exchange.create_asset('USDT', 6);
-- tick 0.01 x lot 0.0001 = 0.000001 USDT; 10/20 bps; at least 1 USDT
SELECT exchange.create_market('BTC-USDT', 'BTC', 'USDT', 0.01, 0.0001, 10, 20, 1);
-- tick 0.00001 x lot 0.001 = 0.00000001 BTC; 5/25 bps
SELECT exchange.create_market('ETH-BTC', 'ETH', 'BTC', 0.00001, 0.001, 5, 25);

-- traders 1..8 trade everything; trader 9 ("thin") holds little USDT and
-- only sends market buys by quantity, which stop when it cannot pay
INSERT INTO tap.trader
SELECT n, exchange.create_account('tap-trader-' || n)
  FROM generate_series(1, 9) n;

SELECT count(exchange.deposit(t.account_id, d.asset, d.amount,
                              format('tap-dep-%s-%s-%s', t.n, d.asset, d.part)))
  FROM tap.trader t
 CROSS JOIN (VALUES ('USDT', 2500000.123456, 1), ('USDT', 2500000, 2),
                    ('BTC', 60.5, 1), ('BTC', 39.12345678, 2),
                    ('ETH', 2000, 1)) d(asset, amount, part)
 WHERE t.n <= 8;
SELECT exchange.deposit(account_id, 'USDT', 150.5, 'tap-dep-thin')
  FROM tap.trader WHERE n = 9;
-- a repeated reference is a no-op
SELECT exchange.deposit(account_id, 'USDT', 150.5, 'tap-dep-thin')
  FROM tap.trader WHERE n = 9;

SELECT setseed(0.20240611);

-- 12 rounds of: 45 random orders (a third with a client_order_id drawn
-- from 40 per account, so some are repeats), the thin trader's market buy
-- (every third round), cancels of resting orders, amendments, cancels of
-- orders that already ended, and cancel_all (every fourth round).  \gexec
-- runs the generated statements one by one in this session, so the random
-- draws (setseed above) and therefore the whole stream are the same on
-- every run.
SELECT stmt
  FROM generate_series(1, 12) r
 CROSS JOIN LATERAL (VALUES
 (1, format($place$
WITH draw AS MATERIALIZED (
    SELECT g, random()::numeric AS r_acct, random()::numeric AS r_mkt,
           random()::numeric AS r_side,
           random()::numeric AS r_type, random()::numeric AS r_tif,
           random()::numeric AS r_post, random()::numeric AS r_stp,
           random()::numeric AS r_qty, random()::numeric AS r_px,
           random()::numeric AS r_cid, random()::numeric AS r_cidn,
           random()::numeric AS r_quote
      FROM generate_series(1, 45) g ORDER BY g
), req AS MATERIALIZED (
    SELECT g, t.account_id,
           CASE WHEN r_mkt < 0.6 THEN 'BTC-USDT' ELSE 'ETH-BTC' END AS market,
           CASE WHEN r_side < 0.5 THEN 'buy' ELSE 'sell' END::exchange.side AS side,
           CASE WHEN r_type < 0.12 THEN 'market' ELSE 'limit' END::exchange.order_type AS type,
           r_tif, r_post, r_qty, r_px, r_quote, r_type,
           (ARRAY['cancel_taker', 'cancel_maker', 'cancel_both'])[1 + floor(r_stp * 3)::int]::exchange.stp_mode AS stp,
           CASE WHEN r_cid < 0.35 THEN 'cid-' || floor(r_cidn * 40)::int END AS client_order_id
      FROM draw
      JOIN tap.trader t ON t.n = 1 + floor(r_acct * 8)::int
), ord AS MATERIALIZED (
    SELECT g, account_id, market, side, type, stp, client_order_id,
           -- fill-or-kill needs a quantity: a market buy by quote is ioc
           CASE WHEN r_tif < 0.7 THEN 'gtc'
                WHEN r_tif < 0.85 OR (type = 'market' AND side = 'buy' AND r_quote < 0.5) THEN 'ioc'
                ELSE 'fok' END::exchange.time_in_force AS tif,
           type = 'limit' AND r_tif < 0.7 AND r_post < 0.15 AS post_only,
           -- prices on a grid that drifts with the round, so that levels
           -- collect several orders; bids and asks overlap by half
           CASE WHEN type = 'market' THEN NULL
                WHEN market = 'BTC-USDT' THEN 19990.13 + %1$s * 0.75
                     + CASE side WHEN 'buy' THEN -10 ELSE 0 END + floor(r_px * 40) * 0.5
                ELSE 0.05001 + %1$s * 0.00001
                     + CASE side WHEN 'buy' THEN -0.0003 ELSE 0 END + floor(r_px * 30) * 0.00002 END AS price,
           -- a market buy gives quote_quantity instead half the time
           CASE WHEN type = 'market' AND side = 'buy' AND r_quote < 0.5 THEN NULL
                WHEN market = 'BTC-USDT' THEN (1 + floor(r_qty * r_qty * 5000)) * 0.0001
                ELSE (1 + floor(r_qty * 2000)) * 0.001 END AS quantity,
           CASE WHEN type = 'market' AND side = 'buy' AND r_quote < 0.5 THEN
                CASE WHEN market = 'BTC-USDT' THEN round((5 + r_qty * 8000)::numeric, 2)
                     ELSE round((0.0005 + r_qty * 0.08)::numeric, 6) END END AS quote_quantity
      FROM req ORDER BY g
)
INSERT INTO tap.request_log (round, kind, account_id, market, side, type,
        time_in_force, post_only, stp, quantity, price, quote_quantity,
        client_order_id, order_id, status, executed_quantity,
        remaining_quantity, average_price)
SELECT %1$s, 'place', o.account_id, o.market, o.side, o.type, o.tif,
       o.post_only, o.stp, o.quantity, o.price, o.quote_quantity,
       o.client_order_id, p.*
  FROM ord o
 CROSS JOIN LATERAL exchange.place_order(o.account_id, o.market, o.side,
        o.quantity, o.price, o.type, o.tif, o.post_only,
        o.client_order_id, o.stp, o.quote_quantity) p
$place$, r)),
 -- the thin trader's market buy: stops when it cannot pay the next lot
 (2, format($thin$
INSERT INTO tap.request_log (round, kind, account_id, market, side, type,
        time_in_force, post_only, stp, quantity, order_id, status,
        executed_quantity, remaining_quantity, average_price)
SELECT %1$s, 'place', t.account_id, 'BTC-USDT', 'buy', 'market', 'gtc', false,
       'cancel_taker', 0.004, p.*
  FROM tap.trader t
 CROSS JOIN LATERAL exchange.place_order(t.account_id, 'BTC-USDT', 'buy',
        0.004, type => 'market') p
 WHERE t.n = 9 AND %1$s %% 3 = 0
$thin$, r)),
 -- cancel about one resting order in twelve (their ids in a fixed order)
 (3, format($cancel$
WITH resting AS MATERIALIZED (
    SELECT order_id, account_id FROM exchange.orders
     WHERE status IN ('open', 'partially_filled') ORDER BY order_id
), pick AS MATERIALIZED (
    SELECT order_id, account_id, random() AS r FROM resting
)
INSERT INTO tap.request_log (round, kind, account_id, order_id, status,
        executed_quantity, remaining_quantity, average_price)
SELECT %1$s, 'cancel', k.account_id, c.*
  FROM pick k
 CROSS JOIN LATERAL exchange.cancel_order(k.account_id, k.order_id) c
 WHERE k.r < 0.08
$cancel$, r)),
 -- reduce about one resting order in eight to between its executed
 -- quantity (exclusive) and its quantity (inclusive: a no-op amendment)
 (4, format($amend$
WITH resting AS MATERIALIZED (
    SELECT o.order_id, o.account_id, o.quantity, o.executed_quantity,
           m.lot_size
      FROM exchange.orders o JOIN exchange.market m ON m.symbol = o.market
     WHERE o.status IN ('open', 'partially_filled') ORDER BY o.order_id
), pick AS MATERIALIZED (
    SELECT *, random() AS r, random() AS r_new FROM resting
), amend AS MATERIALIZED (
    SELECT order_id, account_id,
           executed_quantity + lot_size * (1 + floor(r_new *
               ((quantity - executed_quantity) / lot_size)))::int AS new_quantity
      FROM pick WHERE r < 0.125
)
INSERT INTO tap.request_log (round, kind, account_id, order_id, quantity,
        status, executed_quantity, remaining_quantity, average_price)
SELECT %1$s, 'amend', a.account_id, a.order_id, a.new_quantity, x.status,
       x.executed_quantity, x.remaining_quantity, x.average_price
  FROM amend a
 CROSS JOIN LATERAL exchange.amend_order(a.account_id, a.order_id,
        a.new_quantity) x
$amend$, r)),
 -- cancelling orders that already ended only reports them
 (5, format($ended$
WITH ended AS MATERIALIZED (
    SELECT order_id, account_id FROM exchange.orders
     WHERE status NOT IN ('open', 'partially_filled') ORDER BY order_id
), pick AS MATERIALIZED (
    SELECT order_id, account_id, random() AS r FROM ended
)
INSERT INTO tap.request_log (round, kind, account_id, order_id, status,
        executed_quantity, remaining_quantity, average_price)
SELECT %1$s, 'cancel', k.account_id, c.*
  FROM pick k
 CROSS JOIN LATERAL exchange.cancel_order(k.account_id, k.order_id) c
 WHERE k.r < 0.02
$ended$, r)),
 -- every fourth round one trader pulls everything (or one market)
 (6, format($all$
INSERT INTO tap.request_log (round, kind, account_id, market, cancelled_count)
SELECT %1$s, 'cancel_all', t.account_id, m.market,
       exchange.cancel_all(t.account_id, m.market)
  FROM tap.trader t
 CROSS JOIN (VALUES (CASE WHEN %1$s %% 8 = 0 THEN NULL ELSE 'ETH-BTC' END)) m(market)
 WHERE %1$s %% 4 = 0 AND t.n = 1 + %1$s %% 8
$all$, r))
 ) s(step, stmt)
 ORDER BY r, step
\gexec

-- A halted market takes no orders but keeps its book; resumed at once.
SELECT exchange.halt_market('ETH-BTC');
SELECT exchange.resume_market('ETH-BTC');

-- Good-till-date orders last (so that when they expire changes nothing
-- else): placed away from the other side of the book so that they rest.
INSERT INTO tap.request_log (round, kind, account_id, market, side, type,
        time_in_force, post_only, stp, quantity, price, expire_at, order_id,
        status, executed_quantity, remaining_quantity, average_price)
SELECT 13, 'place', t.account_id, 'BTC-USDT', g.side, 'limit', 'gtc', false,
       'cancel_taker', 0.01, g.price, g.expire_at, p.*
  FROM tap.trader t
 CROSS JOIN (VALUES ('buy'::exchange.side, 15000.00, clock_timestamp() + interval '600 ms'),
                    ('sell', 25000.00, clock_timestamp() + interval '600 ms')) g(side, price, expire_at)
 CROSS JOIN LATERAL exchange.place_order(t.account_id, 'BTC-USDT', g.side,
        0.01, g.price, expire_at => g.expire_at) p
 WHERE t.n IN (2, 5);
-- wait (at most 20 s) until the engine has expired them all
DO $$
BEGIN
    FOR i IN 1 .. 400 LOOP
        EXIT WHEN NOT EXISTS (SELECT FROM exchange.order_record
                               WHERE expire_at IS NOT NULL
                                 AND status IN ('open', 'partially_filled'));
        PERFORM pg_sleep(0.05);
    END LOOP;
END
$$;

SELECT count(*) AS requests, count(DISTINCT order_id) AS orders
  FROM tap.request_log;
