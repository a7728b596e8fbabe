-- exchange.latency(): where a call's time goes, per stage (call, queue,
-- batch, durable), counted since the server started or reset_latency().
-- After wal_stats, which slowed the WAL writer: the calls here wait for
-- the acknowledger's rounds, so the durable stage counts too.  Nothing
-- else calls the engine meanwhile, so the counts are exact: every call
-- (create_account, deposit, 20 place_order, one place_orders) and every
-- request (the place_orders call's 3 orders are 3 requests).
\set SHOW_CONTEXT never
SELECT exchange.wait_for_engine(30000);
SELECT now() AS t0 \gset
SELECT exchange.reset_latency();
SELECT stage, count, mean_ms, p50_ms, max_ms, since >= :'t0' AS since_reset
  FROM exchange.latency();
SELECT exchange.create_account('latency') AS acct \gset
SELECT exchange.deposit(:acct, 'USDT', 100000, 'latency-1') > 0 AS deposited;
\o /dev/null
\set ECHO none
SELECT format('SELECT status FROM exchange.place_order(%s, %L, %L, 0.01, 9000)',
              :acct, 'BTC-USDT', 'buy')
  FROM generate_series(1, 20) \gexec
\set ECHO all
\o
SELECT ordinal, status FROM exchange.place_orders(format('[
    {"account_id": %s, "market": "BTC-USDT", "side": "buy", "quantity": 0.01, "price": 9000},
    {"account_id": %s, "market": "BTC-USDT", "side": "buy", "quantity": 0.01, "price": 9000},
    {"account_id": %s, "market": "BTC-USDT", "side": "buy", "quantity": 0.01, "price": 9000}]',
    :acct, :acct, :acct));
SELECT stage,
       CASE stage WHEN 'call' THEN count = 23
                  WHEN 'queue' THEN count = 25
                  WHEN 'batch' THEN count BETWEEN 1 AND 25
                  ELSE count >= 1 END AS counted,
       0 <= p50_ms AND p50_ms <= p90_ms AND p90_ms <= p99_ms
           AND p99_ms <= p999_ms AND p999_ms <= max_ms AS percentiles_ordered,
       mean_ms <= max_ms AS mean_at_most_max
  FROM exchange.latency();
-- the calls' time was measured, not taken as zero
SELECT p50_ms > 0 AS calls_take_time FROM exchange.latency() WHERE stage = 'call';
-- the histogram: the same counts, in ascending buckets at most 12.5% wide
SELECT l.stage, h.n = l.count AS same_count, h.narrow, h.ascending
  FROM exchange.latency() l
  LEFT JOIN (SELECT stage, sum(count) AS n,
                    bool_and(upper_us - lower_us <= greatest(1, lower_us / 8)) AS narrow,
                    bool_and(lower_us >= coalesce(prev_upper, 0)) AS ascending
               FROM (SELECT stage, lower_us, upper_us, count,
                            lag(upper_us) OVER (PARTITION BY stage ORDER BY lower_us) AS prev_upper
                       FROM exchange.latency_histogram()) b
              GROUP BY stage) h USING (stage)
 ORDER BY l.stage;
-- a reset starts every stage again
SELECT exchange.reset_latency();
SELECT stage, count, p99_ms, max_ms FROM exchange.latency();
SELECT count(*) FROM exchange.latency_histogram();
-- who may read it: the admin role, as engine_status()
SELECT p.oid::regprocedure AS function,
       has_function_privilege('exchange_admin', p.oid, 'EXECUTE') AS admins,
       has_function_privilege('exchange_trader', p.oid, 'EXECUTE') AS traders,
       has_function_privilege('exchange_reader', p.oid, 'EXECUTE') AS readers,
       has_function_privilege('public', p.oid, 'EXECUTE') AS public
  FROM pg_proc p
 WHERE p.pronamespace = 'exchange'::regnamespace
   AND p.proname IN ('latency', 'latency_histogram', 'reset_latency')
 ORDER BY 1::text;
SELECT * FROM exchange.check_invariants();
