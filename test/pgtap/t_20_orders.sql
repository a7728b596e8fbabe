-- Orders after the random stream of setup.sql: executed quantities against
-- trades, status rules, time in force, client_order_id idempotency, and
-- every answer setup.sql logged (tap.request_log) against the tables.
BEGIN;
SELECT plan(33);

-- the first answer to each placed order; later answers for the same id
-- are client_order_id repeats
CREATE TEMP VIEW placed AS
SELECT DISTINCT ON (order_id) * FROM tap.request_log
 WHERE kind = 'place' ORDER BY order_id, seq;
CREATE TEMP VIEW repeat AS
SELECT l.* FROM tap.request_log l
 WHERE l.kind = 'place'
   AND EXISTS (SELECT FROM tap.request_log e
                WHERE e.kind = 'place' AND e.order_id = l.order_id AND e.seq < l.seq);
-- what trades say of each order, as maker or as taker
CREATE TEMP VIEW traded AS
SELECT order_id, sum(quantity) AS quantity, sum(price * quantity) AS notional,
       sum(quantity) FILTER (WHERE role = 'taker') AS taker_quantity,
       sum(price * quantity) FILTER (WHERE role = 'taker') AS taker_notional
  FROM (SELECT maker_order_id AS order_id, 'maker' AS role, price, quantity FROM exchange.trades
        UNION ALL
        SELECT taker_order_id, 'taker', price, quantity FROM exchange.trades) t
 GROUP BY order_id;

SELECT cmp_ok((SELECT count(*) FROM exchange.orders), '>=', 450::bigint,
              'setup.sql placed several hundred orders');
SELECT set_eq('SELECT DISTINCT status FROM exchange.orders',
              $$SELECT unnest(enum_range(NULL::exchange.order_status))$$,
              'the stream left orders in every status');
SELECT is((SELECT count(*) FROM exchange.orders), (SELECT count(*) FROM placed),
          'every order is one that a place_order answer named, and none more');

-- executed quantity against the trades
SELECT is_empty($$
    SELECT o.order_id, o.executed_quantity, t.quantity AS traded
      FROM exchange.orders o LEFT JOIN traded t USING (order_id)
     WHERE o.executed_quantity <> coalesce(t.quantity, 0)$$,
    'each order''s executed quantity equals the sum of its trades (maker + taker)');

-- status consistency
SELECT is_empty($$SELECT order_id, quantity, executed_quantity FROM exchange.orders
                   WHERE status = 'filled' AND executed_quantity <> quantity$$,
                'filled => executed = quantity');
SELECT is_empty($$SELECT order_id, quantity, executed_quantity FROM exchange.orders
                   WHERE status = 'open' AND executed_quantity <> 0$$,
                'open => executed = 0');
SELECT is_empty($$SELECT order_id, quantity, executed_quantity FROM exchange.orders
                   WHERE status = 'partially_filled'
                     AND NOT (executed_quantity > 0 AND executed_quantity < quantity)$$,
                'partially_filled => 0 < executed < quantity');
SELECT is_empty($$SELECT order_id, quantity, executed_quantity FROM exchange.orders
                   WHERE executed_quantity > quantity OR executed_quantity < 0$$,
                'no order executed more than its quantity');
-- a market buy by quote_quantity has no quantity of its own: it reports
-- what it bought, so it may end cancelled with executed = quantity
SELECT is_empty($$SELECT o.order_id, o.quantity, o.executed_quantity FROM exchange.orders o
                    JOIN placed p USING (order_id)
                   WHERE o.status IN ('cancelled', 'expired') AND p.quote_quantity IS NULL
                     AND o.executed_quantity >= o.quantity$$,
                'cancelled or expired => executed < quantity (unless bought by quote amount)');
SELECT is_empty($$SELECT o.order_id, o.executed_quantity, p.post_only FROM exchange.orders o
                    JOIN placed p USING (order_id)
                   WHERE o.status = 'rejected' AND (o.executed_quantity <> 0 OR NOT p.post_only)$$,
                'rejected => a post-only order that executed nothing');
SELECT is_empty($$SELECT t.trade_id, t.taker_order_id FROM exchange.trades t
                    JOIN placed p ON p.order_id = t.taker_order_id WHERE p.post_only$$,
                'a post-only order never takes liquidity');
SELECT is_empty($$SELECT order_id, type, time_in_force, status FROM exchange.orders
                   WHERE (type = 'market' OR time_in_force <> 'gtc')
                     AND status IN ('open', 'partially_filled')$$,
                'market, ioc and fok orders never rest');
SELECT is_empty($$SELECT order_id, status, quantity, executed_quantity FROM exchange.orders
                   WHERE time_in_force = 'fok'
                     AND NOT ((status = 'filled' AND executed_quantity = quantity)
                              OR (status = 'cancelled' AND executed_quantity = 0))$$,
                'fok => filled completely or cancelled with nothing executed');
SELECT set_eq($$SELECT order_id FROM exchange.orders WHERE status = 'expired'$$,
              $$SELECT order_id FROM placed WHERE expire_at IS NOT NULL$$,
              'expired orders are exactly the good-till-date orders, all of them expired');

-- client_order_id: unique per account; a repeat returned the same order
SELECT is_empty($$SELECT account_id, client_order_id, count(*) FROM exchange.orders
                   WHERE client_order_id IS NOT NULL
                   GROUP BY 1, 2 HAVING count(*) > 1$$,
                'no duplicate (account, client_order_id)');
SELECT cmp_ok((SELECT count(*) FROM repeat), '>=', 10::bigint,
              'the stream repeated client_order_ids');
SELECT is_empty($$
    SELECT l.seq, l.account_id, l.client_order_id, l.order_id, o.order_id AS order_with_that_id
      FROM tap.request_log l
      LEFT JOIN exchange.orders o
        ON o.account_id = l.account_id AND o.client_order_id = l.client_order_id
     WHERE l.kind = 'place' AND l.client_order_id IS NOT NULL
       AND o.order_id IS DISTINCT FROM l.order_id$$,
    'every request with a client_order_id was answered with that id''s one order');
SELECT is_empty($$SELECT seq, order_id FROM repeat WHERE client_order_id IS NULL$$,
                'only requests with a client_order_id got an existing order back');

-- the answers setup.sql logged
SELECT is_empty($$SELECT seq, kind, order_id, status, remaining_quantity FROM tap.request_log
                   WHERE order_id IS NOT NULL
                     AND status NOT IN ('open', 'partially_filled') AND remaining_quantity <> 0$$,
                'remaining_quantity is 0 in every answer unless the order is open or partially filled');
SELECT is_empty($$SELECT seq, order_id, status, quantity, executed_quantity, remaining_quantity
                    FROM placed
                   WHERE status IN ('open', 'partially_filled')
                     AND (executed_quantity + remaining_quantity <> quantity
                          OR remaining_quantity <= 0)$$,
                'a resting order''s answer: executed + remaining = quantity placed');
SELECT is_empty($$
    SELECT p.seq, p.order_id, p.executed_quantity, p.average_price,
           t.taker_quantity, t.taker_notional / t.taker_quantity AS expected_average
      FROM placed p LEFT JOIN traded t USING (order_id)
     WHERE p.executed_quantity <> coalesce(t.taker_quantity, 0)
        OR (p.average_price IS NULL) <> (p.executed_quantity = 0)
        OR abs(p.average_price - t.taker_notional / t.taker_quantity) > p.average_price * 1e-12$$,
    'place_order answered with what executed on arrival and its average price');
SELECT is_empty($$
    SELECT p.seq, p.order_id, p.status, p.executed_quantity, o.status, o.executed_quantity
      FROM placed p JOIN exchange.orders o USING (order_id)
     WHERE p.status NOT IN ('open', 'partially_filled')
       AND (o.status, o.executed_quantity) IS DISTINCT FROM (p.status, p.executed_quantity)$$,
    'an order that ended on arrival is in the tables as it was answered');
SELECT is_empty($$SELECT seq, order_id, status, remaining_quantity FROM tap.request_log
                   WHERE kind = 'cancel'
                     AND (status IN ('open', 'partially_filled') OR remaining_quantity <> 0)$$,
                'cancel_order answers that the order is off the book');
SELECT is_empty($$SELECT seq, order_id, status, quantity, executed_quantity, remaining_quantity
                    FROM tap.request_log
                   WHERE kind = 'amend'
                     AND (status NOT IN ('open', 'partially_filled')
                          OR executed_quantity + remaining_quantity <> quantity)$$,
                'amend_order answers executed + remaining = the new quantity');
SELECT is_empty($$
    SELECT * FROM (
        SELECT DISTINCT ON (l.order_id) l.order_id, l.quantity AS amended_to, o.quantity
          FROM tap.request_log l JOIN exchange.orders o USING (order_id)
         WHERE l.kind = 'amend'
         ORDER BY l.order_id, l.seq DESC) a
     WHERE amended_to <> quantity$$,
    'an amended order''s quantity is what its last amendment set');
SELECT cmp_ok((SELECT count(*) FROM tap.request_log WHERE kind = 'amend'), '>=', 20::bigint,
              'the stream amended orders');

-- market orders
SELECT is_empty($$
    SELECT p.order_id, p.quote_quantity, t.notional
      FROM placed p JOIN traded t USING (order_id)
     WHERE p.quote_quantity IS NOT NULL AND t.notional > p.quote_quantity$$,
    'a market buy by quote amount spent no more than that amount');

-- self-trade prevention.  A gtc limit order that is not post-only ends
-- 'cancelled' on arrival only when it met a resting order of its own
-- account (cancel_taker, cancel_both); a resting order ends 'cancelled'
-- without cancel_order or cancel_all only when a newer order of its own
-- account with cancel_maker or cancel_both met it.
CREATE TEMP VIEW stp_taker AS
SELECT p.* FROM placed p
 WHERE p.type = 'limit' AND p.time_in_force = 'gtc' AND NOT p.post_only
   AND p.status = 'cancelled';
CREATE TEMP VIEW stp_maker AS
SELECT o.*, p.seq FROM exchange.orders o JOIN placed p USING (order_id)
 WHERE o.status = 'cancelled' AND p.status IN ('open', 'partially_filled')
   AND NOT EXISTS (SELECT FROM tap.request_log c
                    WHERE c.kind = 'cancel' AND c.order_id = o.order_id)
   AND NOT EXISTS (SELECT FROM tap.request_log c
                    WHERE c.kind = 'cancel_all' AND c.account_id = o.account_id
                      AND (c.market IS NULL OR c.market = o.market) AND c.seq > p.seq);

SELECT is_empty($$
    SELECT t.order_id, t.account_id, t.market, t.side, t.price, t.stp FROM stp_taker t
     WHERE t.stp = 'cancel_maker'
        OR NOT EXISTS (
            SELECT FROM exchange.orders m
             WHERE m.account_id = t.account_id AND m.market = t.market
               AND m.side <> t.side AND m.order_id < t.order_id
               AND CASE t.side WHEN 'buy' THEN m.price <= t.price ELSE m.price >= t.price END
               AND (m.status IN ('open', 'partially_filled') OR m.updated_at >= (SELECT created_at FROM exchange.orders WHERE order_id = t.order_id)))$$,
    'an incoming gtc order cancelled on arrival met its own resting order (cancel_taker, cancel_both)');
SELECT cmp_ok((SELECT count(*) FROM stp_taker), '>=', 2::bigint,
              'self-trade prevention stopped incoming orders');
SELECT is_empty($$
    SELECT m.order_id, m.account_id, m.market, m.side, m.price, m.updated_at FROM stp_maker m
     WHERE NOT EXISTS (
            SELECT FROM exchange.orders t JOIN placed p USING (order_id)
             WHERE t.account_id = m.account_id AND t.market = m.market
               AND t.side <> m.side AND t.order_id > m.order_id
               AND p.stp IN ('cancel_maker', 'cancel_both')
               AND t.created_at <= m.updated_at
               AND (t.type = 'market'
                    OR CASE t.side WHEN 'buy' THEN m.price <= t.price ELSE m.price >= t.price END))$$,
    'a resting order cancelled by nobody was met by a newer own order with cancel_maker or cancel_both');
SELECT cmp_ok((SELECT count(*) FROM stp_maker), '>=', 3::bigint,
              'self-trade prevention cancelled resting orders');

-- good-till-date orders expired, and not before their time
SELECT is_empty($$SELECT o.order_id, p.expire_at, o.updated_at FROM exchange.orders o
                    JOIN placed p USING (order_id)
                   WHERE o.status = 'expired' AND o.updated_at < p.expire_at$$,
                'no order expired before its expire_at');

-- order ids in creation order; updated no earlier than created
SELECT is_empty($$
    SELECT order_id, created_at, prev_created_at FROM (
        SELECT order_id, created_at,
               lag(created_at) OVER (ORDER BY order_id) AS prev_created_at
          FROM exchange.orders) o
     WHERE created_at < prev_created_at
    UNION ALL
    SELECT order_id, updated_at, created_at FROM exchange.orders WHERE updated_at < created_at$$,
    'order ids increase with creation time; updated_at >= created_at');

SELECT * FROM finish();
ROLLBACK;
