-- place_orders(text): JSON sent as text, as a gateway sends it, gives
-- exactly what the same JSON as jsonb gives: the same rows, refusals and
-- errors, in the same order.
\set SHOW_CONTEXT never
SELECT exchange.create_account('texter') AS tx \gset
SELECT exchange.deposit(:tx, 'BTC', 3, 'tx-btc') > 0 AS btc, exchange.deposit(:tx, 'USDT', 100000, 'tx-usdt') > 0 AS usdt;

-- both functions; an untyped literal or parameter resolves to text
SELECT p.oid::regprocedure AS function,
       has_function_privilege('exchange_trader', p.oid, 'EXECUTE') AS traders,
       has_function_privilege('public', p.oid, 'EXECUTE') AS public
  FROM pg_proc p WHERE p.proname = 'place_orders' ORDER BY 1::text;
PREPARE by_param AS SELECT count(*) FROM exchange.place_orders($1);
SELECT parameter_types FROM pg_prepared_statements WHERE name = 'by_param';
DEALLOCATE by_param;

-- Documents that are read directly and documents that go through jsonb_in
-- (escapes, negative numbers, exponents); ACCT is the account.  Buys rest
-- far below and sells far above any other order, so both calls of a
-- document meet the same book.
CREATE TEMP TABLE docs (id int PRIMARY KEY, doc text NOT NULL);
INSERT INTO docs VALUES
 (1,  $$[{"account_id": ACCT, "market": "BTC-USDT", "side": "buy", "quantity": 0.1, "price": 101}]$$),
 (2,  $$[{"account_id": "ACCT", "market": "BTC-USDT", "side": "buy", "quantity": "0.1000", "price": 101.50},
        {"account_id": ACCT, "market": "BTC-USDT", "side": "sell", "quantity": 0.0001, "price": 9000000, "post_only": true}]$$),
 (3,  E'\t[ {\n"price" :101 ,\r\n"quantity"\t: 0.2, "side":"buy","market":"BTC-USDT","account_id":ACCT}\n\t]  '),
 (4,  $$[{"side": "up", "market": 5, "account_id": ACCT}]$$),
 (5,  $$[{"account_id": ACCT, "market": "BTC-USDT", "side": "buy", "quantity": 0.1, "price": 101, "price": null},
        {"account_id": ACCT, "market": "BTC-USDT", "side": "sell", "side": "buy", "quantity": 0.1, "price": 102}]$$),
 (6,  $$[{"account_id": ACCT, "market": "BTC-USDT", "side": "buy", "quantity": 0.1, "price": 103, "colour": null},
        {"account_id": ACCT, "market": "BTC-USDT", "side": "buy", "quantity": 0.1, "price": 103, "extra": {"a": [1, 2, {"b": null}], "c": ""}}]$$),
 (7,  $$[{"account_id": ACCT, "market": {"x": 1}, "side": "buy", "quantity": 0.1, "price": [1]},
        {"account_id": ACCT, "market": "BTC-USDT", "side": "buy", "quantity": true, "price": 104},
        {"account_id": ACCT, "market": "BTC-USDT", "side": "buy", "quantity": 0.1, "price": 104, "post_only": "yes"}]$$),
 (8,  $$[1, "order", [1, 2], null, true, {}, []]$$),
 (9,  $$[{"account_id": ACCT, "market": "BTC-USDT", "side": "buy", "quantity": 0.1, "price": 105, "a_key_much_longer_than_thirty_one_bytes": 1},
        {"account_id": ACCT, "market": "BTC-USDT", "side": "buy", "price": 105,
         "quantity": 0.0000000000000000000000000000000000000000000000000000000000000001}]$$),
 (10, $$[{"account_id": 1.0, "market": "BTC-USDT", "side": "buy", "quantity": 0.1, "price": 106},
        {"account_id": ACCT, "market": "BTC-USDT", "side": "buy", "quantity": 0.1, "price": 106, "client_order_id": "tx-ünï-1"},
        {"account_id": ACCT, "market": "BTC-USDT", "side": "buy", "quantity": 0.1, "price": 106,
         "client_order_id": "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"}]$$),
 (11, $$[{"account_id": ACCT, "market": "BTC\u002dUSDT", "side": "buy", "quantity": 0.1, "price": 107}]$$),
 (12, $$[{"account_id": ACCT, "market": "BTC-USDT", "side": "buy", "quantity": -0.1, "price": 107},
        {"account_id": ACCT, "market": "BTC-USDT", "side": "buy", "quantity": 1e-1, "price": 1.08E2}]$$),
 (13, $$[]$$),
 (14, $$[{"account_id": ACCT, "market": "BTC-USDT", "side": "sell", "type": "market", "quantity": 0.0001, "price": 1},
        {"account_id": ACCT, "market": "BTC-USDT", "side": "buy", "time_in_force": "fok", "quantity": 0.0001, "price": 109},
        {"account_id": ACCT, "market": "BTC-USDT", "side": "buy", "stp": "cancel_both", "quantity": 0.1, "price": 109, "expire_at": "2999-01-01 00:00:00+00"},
        {"account_id": ACCT, "market": "BTC-USDT", "side": "buy", "quantity": 0.1, "price": 109, "expire_at": "not a time"},
        {"account_id": ACCT, "market": "NOPE", "side": "buy", "quantity": 0.1, "price": 109},
        {"account_id": ACCT, "market": "BTC-USDT", "side": "buy", "quantity": 0.00001, "price": 109}]$$);
UPDATE docs SET doc = replace(doc, 'ACCT', :'tx');

CREATE TEMP TABLE by_text AS
SELECT d.id, r.ordinal, r.status, r.executed_quantity, r.remaining_quantity,
       r.average_price, r.error_code, r.error_message
  FROM docs d CROSS JOIN LATERAL exchange.place_orders(d.doc) r;
SELECT * FROM by_text ORDER BY id, ordinal;

CREATE TEMP TABLE by_jsonb AS
SELECT d.id, r.ordinal, r.status, r.executed_quantity, r.remaining_quantity,
       r.average_price, r.error_code, r.error_message
  FROM docs d CROSS JOIN LATERAL exchange.place_orders(d.doc::jsonb) r;
SELECT (SELECT count(*) FROM by_text) AS rows,
       (SELECT count(*) FROM (TABLE by_text EXCEPT ALL TABLE by_jsonb) t) AS only_by_text,
       (SELECT count(*) FROM (TABLE by_jsonb EXCEPT ALL TABLE by_text) j) AS only_by_jsonb;

-- 400 random documents (a fixed seed): each order's keys in random order,
-- some repeated, values of every JSON type from each key's pool, escapes,
-- exponents and negative numbers among them; both ways give the same rows
SELECT setseed(0.42);
CREATE TEMP TABLE pool (key text, val text);
INSERT INTO pool
SELECT 'account_id', v FROM unnest(ARRAY[:'tx', '"' || :tx || '"', '1.5', 'null', '"x"', 'true', '{}', '-1', '1e2', '0']) v
UNION ALL SELECT 'market', v FROM unnest(ARRAY['"BTC-USDT"', '"BTC-USDT"', '"NOPE"', '5', 'null', '""', '"BTC\u002dUSDT"', '["BTC-USDT"]']) v
UNION ALL SELECT 'side', v FROM unnest(ARRAY['"buy"', '"buy"', '"sell"', '"up"', 'null', '1', '"BUY"']) v
UNION ALL SELECT 'quantity', v FROM unnest(ARRAY['0.0001', '"0.0002"', '0.1000', '0', '-0.1', '1e-4', 'true', '"abc"', 'null', '0.00001']) v
UNION ALL SELECT 'price', v FROM unnest(ARRAY['100', '"100.5"', '101.25', '100.001', 'null', '[1]', '1E2', '"-5"']) v
UNION ALL SELECT 'post_only', v FROM unnest(ARRAY['true', 'false', '"yes"', 'null']) v
UNION ALL SELECT 'type', v FROM unnest(ARRAY['"limit"', '"x"', 'null', '{"a": [1, {"b": null}]}']) v
UNION ALL SELECT 'stp', v FROM unnest(ARRAY['"cancel_maker"', '"cancel_both"', '"never"']) v
UNION ALL SELECT 'client_order_id', v FROM unnest(ARRAY['"r-1"', '"r-\"q\""', '"r-ü"', '""', '7']) v
UNION ALL SELECT 'colour', v FROM unnest(ARRAY['null', '"red"']) v;
CREATE TEMP TABLE good (key text, val text);
INSERT INTO good VALUES ('account_id', :'tx'), ('market', '"BTC-USDT"'),
    ('side', '"buy"'), ('quantity', '0.0001'), ('price', '100');
CREATE TEMP TABLE rdocs AS
WITH fields AS (
    -- the five an order needs (mostly good values), then 0-3 more of any
    -- key (a repeat of one of the five among them), in random order
    SELECT d, o, random() AS f, g.key,
           CASE WHEN random() < 0.85 THEN g.val
                ELSE (SELECT val FROM pool p WHERE p.key = g.key
                       ORDER BY random() + d * 0 + o * 0 LIMIT 1) END AS val,
           (ARRAY[' ', '', E'\n', E'\t '])[1 + floor(random() * 4)::int] AS ws
      FROM generate_series(1, 400) d, generate_series(1, 3) o, good g
     WHERE o <= 1 + d % 3
    UNION ALL
    SELECT d, o, random(), k.key,
           (SELECT val FROM pool p WHERE p.key = k.key
             ORDER BY random() + d * 0 + o * 0 + n * 0 LIMIT 1),
           ' '
      FROM generate_series(1, 400) d, generate_series(1, 3) o,
           generate_series(1, 3) n,
           LATERAL (SELECT key FROM (SELECT DISTINCT key FROM pool) ks
                     ORDER BY random() + d * 0 + o * 0 + n * 0 LIMIT 1) k
     WHERE o <= 1 + d % 3 AND random() < 0.3
), objects AS (
    SELECT d, o, '{' || string_agg(ws || '"' || key || '":' || ws || val, ',' ORDER BY f) || max(ws) || '}' AS obj
      FROM fields GROUP BY d, o
)
SELECT d AS id, '[' || string_agg(obj, ', ' ORDER BY o) || ']' AS doc
  FROM objects GROUP BY d;
-- buys only, far below any sell on the book: no order of the call trades
UPDATE rdocs SET doc = replace(doc, '"sell"', '"buy"');
CREATE TEMP TABLE r_text AS
SELECT d.id, r.* FROM rdocs d CROSS JOIN LATERAL exchange.place_orders(d.doc) r;
-- (its own client ids: a repeated id answers with the order placed first)
CREATE TEMP TABLE r_jsonb AS
SELECT d.id, r.* FROM rdocs d
 CROSS JOIN LATERAL exchange.place_orders(replace(d.doc, '"r-', '"j-')::jsonb) r;
SELECT (SELECT count(*) FROM rdocs) AS documents,
       (SELECT count(*) FROM r_text) AS rows,
       (SELECT count(*) FROM r_text WHERE error_code IS NULL) AS placed,
       (SELECT count(DISTINCT error_message) FROM r_text) AS distinct_refusals,
       (SELECT count(*) FROM (SELECT id, ordinal, status, executed_quantity, remaining_quantity, average_price, error_code, error_message FROM r_text
                              EXCEPT ALL
                              SELECT id, ordinal, status, executed_quantity, remaining_quantity, average_price, error_code, error_message FROM r_jsonb) t) AS only_by_text,
       (SELECT count(*) FROM (SELECT id, ordinal, status, executed_quantity, remaining_quantity, average_price, error_code, error_message FROM r_jsonb
                              EXCEPT ALL
                              SELECT id, ordinal, status, executed_quantity, remaining_quantity, average_price, error_code, error_message FROM r_text) j) AS only_by_jsonb;

-- which way in: the common documents are read directly, the rest through
-- jsonb_in (said at DEBUG1)
SET client_min_messages = debug1;
SELECT count(*) FROM exchange.place_orders((SELECT doc FROM docs WHERE id = 3));
SELECT count(*) FROM exchange.place_orders((SELECT doc FROM docs WHERE id = 6));
SELECT count(*) FROM exchange.place_orders((SELECT doc FROM docs WHERE id = 8));
SELECT count(*) FROM exchange.place_orders((SELECT doc FROM docs WHERE id = 11));
SELECT count(*) FROM exchange.place_orders((SELECT doc FROM docs WHERE id = 12));
RESET client_min_messages;

-- invalid JSON: jsonb_in's own errors, as with the jsonb function
SELECT * FROM exchange.place_orders('[{"account_id": 1,}]');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM exchange.place_orders('[{"account_id": 1}');
SELECT * FROM exchange.place_orders('[{"account_id": 01}]');
SELECT * FROM exchange.place_orders('[{"account_id": 1x}]');
SELECT * FROM exchange.place_orders('[{"market": "tab	inside"}]');
SELECT * FROM exchange.place_orders('');
SELECT * FROM exchange.place_orders('[] []');
SELECT * FROM exchange.place_orders('{"account_id": 1}');
SELECT * FROM exchange.place_orders('"orders"');

SELECT exchange.cancel_all(:tx) > 0 AS cancelled;
SELECT * FROM exchange.check_invariants();
