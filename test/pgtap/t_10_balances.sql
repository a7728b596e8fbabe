-- Money after the random stream of setup.sql: conservation, no negative
-- balance, locked funds equal to what open orders hold, the fee account
-- equal to the fees charged, and every account's balance rebuilt from its
-- deposits and trades.  Everything is computed here from the views (and
-- deposit_record) in decimal, independently of exchange.check_invariants().
BEGIN;
SELECT plan(14);

CREATE TEMP VIEW mkt AS
SELECT m.symbol, b.code AS base, q.code AS quote, b.scale AS base_scale,
       q.scale AS quote_scale, m.maker_fee_bps, m.taker_fee_bps
  FROM exchange.market m
  JOIN exchange.asset b ON b.asset_id = m.base_asset_id
  JOIN exchange.asset q ON q.asset_id = m.quote_asset_id;

-- who paid and received what in each trade
CREATE TEMP VIEW fill AS
SELECT t.trade_id, k.base, k.quote, t.quantity, t.price * t.quantity AS notional,
       CASE t.taker_side WHEN 'buy' THEN t.taker_account_id ELSE t.maker_account_id END AS buyer,
       CASE t.taker_side WHEN 'buy' THEN t.maker_account_id ELSE t.taker_account_id END AS seller,
       CASE t.taker_side WHEN 'buy' THEN t.taker_fee ELSE t.maker_fee END AS buyer_fee,   -- in base
       CASE t.taker_side WHEN 'buy' THEN t.maker_fee ELSE t.taker_fee END AS seller_fee   -- in quote
  FROM exchange.trades t JOIN mkt k ON k.symbol = t.market;

SELECT is_empty('SELECT * FROM exchange.check_invariants()',
                'exchange.check_invariants() finds nothing');

SELECT cmp_ok((SELECT count(*) FROM exchange.trades), '>=', 150::bigint,
              'the stream traded enough to mean something');

-- conservation: every asset's total across all accounts is what was deposited
SELECT set_eq(
    $$SELECT asset, sum(available + locked) FROM exchange.balances GROUP BY asset$$,
    $$SELECT a.code, sum(d.amount) / 10::numeric ^ a.scale
        FROM exchange.deposit_record d JOIN exchange.asset a USING (asset_id)
       GROUP BY a.code, a.scale$$,
    'each asset''s total across all accounts equals its deposits');

-- ... and the deposits are exactly those setup.sql made (the repeated
-- reference credited nothing)
SELECT set_eq(
    $$SELECT asset, sum(available + locked) FROM exchange.balances GROUP BY asset$$,
    $$VALUES ('USDT', 8 * 5000000.123456 + 150.5), ('BTC', 8 * 99.62345678), ('ETH', 8 * 2000.0)$$,
    'each asset''s total equals what setup.sql deposited');
SELECT is((SELECT count(*) FROM exchange.deposit_record), 41::bigint,
          'a repeated deposit reference made no second deposit');

SELECT is_empty(
    $$SELECT account_id, asset, available, locked FROM exchange.balances
       WHERE available < 0 OR locked < 0$$,
    'no balance is negative');

-- locked equals what the open orders hold: a buy price x remaining quote,
-- a sell its remaining base
SELECT is_empty($$
    WITH hold AS (
        SELECT o.account_id,
               CASE o.side WHEN 'buy' THEN k.quote ELSE k.base END AS asset,
               sum(CASE o.side WHEN 'buy' THEN o.price * (o.quantity - o.executed_quantity)
                               ELSE o.quantity - o.executed_quantity END) AS held
          FROM exchange.orders o JOIN mkt k ON k.symbol = o.market
         WHERE o.status IN ('open', 'partially_filled')
         GROUP BY 1, 2)
    SELECT coalesce(b.account_id, h.account_id) AS account_id,
           coalesce(b.asset, h.asset) AS asset, b.locked, h.held
      FROM exchange.balances b
      FULL JOIN hold h ON h.account_id = b.account_id AND h.asset = b.asset
     WHERE coalesce(b.locked, 0) <> coalesce(h.held, 0)$$,
    'each account''s locked balance equals what its open orders hold');

SELECT cmp_ok((SELECT sum(locked) FROM exchange.balances), '>', 0::numeric,
              'some funds are locked by resting orders');

-- the fee account holds exactly the fees charged, nothing locked
SELECT set_eq(
    $$SELECT asset, available, locked FROM exchange.balances
       WHERE account_id = exchange.fee_account() AND (available <> 0 OR locked <> 0)$$,
    $$SELECT asset, sum(fee), 0 FROM (
          SELECT base AS asset, buyer_fee AS fee FROM fill
          UNION ALL SELECT quote, seller_fee FROM fill) f
       GROUP BY asset HAVING sum(fee) <> 0$$,
    'the fee account''s balances equal the sum of the fees');
SELECT cmp_ok((SELECT count(DISTINCT asset) FROM exchange.balances
                WHERE account_id = exchange.fee_account() AND available > 0), '=', 3::bigint,
              'fees were collected in all three assets');
SELECT is_empty(
    $$SELECT order_id FROM exchange.orders WHERE account_id = exchange.fee_account()
      UNION ALL
      SELECT deposit_id FROM exchange.deposit_record WHERE account_id = exchange.fee_account()$$,
    'the fee account has no orders and no deposits');

-- every balance rebuilt: deposits, plus what each trade moved
SELECT is_empty($$
    WITH flow AS (
        SELECT d.account_id, a.code AS asset, d.amount / 10::numeric ^ a.scale AS delta
          FROM exchange.deposit_record d JOIN exchange.asset a USING (asset_id)
        UNION ALL SELECT buyer, base, quantity - buyer_fee FROM fill
        UNION ALL SELECT buyer, quote, -notional FROM fill
        UNION ALL SELECT seller, base, -quantity FROM fill
        UNION ALL SELECT seller, quote, notional - seller_fee FROM fill
        UNION ALL SELECT exchange.fee_account(), base, buyer_fee FROM fill
        UNION ALL SELECT exchange.fee_account(), quote, seller_fee FROM fill),
    expected AS (SELECT account_id, asset, sum(delta) AS total FROM flow GROUP BY 1, 2)
    SELECT coalesce(b.account_id, e.account_id) AS account_id,
           coalesce(b.asset, e.asset) AS asset,
           b.available + b.locked AS balance, e.total AS expected
      FROM exchange.balances b
      FULL JOIN expected e ON e.account_id = b.account_id AND e.asset = b.asset
     WHERE coalesce(b.available + b.locked, 0) <> coalesce(e.total, 0)$$,
    'every balance equals its deposits plus what its trades moved, less fees');

-- amounts are whole units of their asset
SELECT is_empty($$
    SELECT b.account_id, b.asset, b.available, b.locked
      FROM exchange.balances b JOIN exchange.asset a ON a.code = b.asset
     WHERE b.available * 10::numeric ^ a.scale <> trunc(b.available * 10::numeric ^ a.scale)
        OR b.locked * 10::numeric ^ a.scale <> trunc(b.locked * 10::numeric ^ a.scale)$$,
    'balances are whole units of their asset');

-- the thin trader's market buys stopped when it could no longer pay: it
-- never went below zero, and at least one buy ran out of money
SELECT ok((SELECT bool_or(l.status = 'cancelled' AND l.executed_quantity > 0
                          AND l.executed_quantity < l.quantity)
             FROM tap.request_log l JOIN tap.trader t USING (account_id)
            WHERE t.n = 9 AND l.kind = 'place'),
          'a market buy stopped part-way when the buyer could not pay the next lot');

SELECT * FROM finish();
ROLLBACK;
