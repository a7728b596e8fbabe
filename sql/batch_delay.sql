-- exchange.batch_delay: a batch of few requests waits that long for more,
-- but only while exchange.batch_siblings other recent callers are not
-- waiting on the engine already.  A lone caller is never delayed; with
-- batch_siblings = 0 every small batch waits.  Answers are the same either
-- way.
\set SHOW_CONTEXT never
SELECT exchange.create_account('delay') AS delay \gset
SELECT exchange.deposit(:delay, 'USDT', 1000, 'delay-usdt');
SHOW exchange.batch_siblings;

-- a lone caller: at most batch_siblings - 1 others could arrive, no wait
ALTER SYSTEM SET exchange.batch_delay = 2000;
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);
SELECT batch_delays AS delays0 FROM exchange.engine_status() \gset
SELECT status FROM exchange.place_order(:delay, 'BTC-USDT', 'buy', 0.001, 10000);
SELECT status FROM exchange.place_order(:delay, 'BTC-USDT', 'buy', 0.001, 10000);
SELECT batch_delays = :delays0 AS lone_caller_not_delayed FROM exchange.engine_status();

-- no siblings needed: each of the three calls' batches waits 2 ms (three
-- waits), and is answered alike
ALTER SYSTEM SET exchange.batch_siblings = 0;
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);
SELECT status, executed_quantity, remaining_quantity
  FROM exchange.place_order(:delay, 'BTC-USDT', 'buy', 0.002, 10000);
SELECT count(*) FILTER (WHERE status = 'open') AS open, count(*) AS rows
  FROM exchange.place_orders((SELECT jsonb_agg(jsonb_build_object(
    'account_id', :delay, 'market', 'BTC-USDT', 'side', 'buy', 'quantity', 0.001, 'price', 9000))
  FROM generate_series(1, 3)));
SELECT exchange.cancel_all(:delay);
SELECT batch_delays - :delays0 AS waits FROM exchange.engine_status();

-- the acknowledger likewise: with exchange.ack_delay (10 ms here) and no
-- siblings required, a round that comes within the delay after the last
-- one waits out the rest of it first; twenty calls back to back
ALTER SYSTEM SET exchange.batch_delay = 0;
ALTER SYSTEM SET exchange.ack_delay = 10000;
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);
SELECT ack_delays AS ack0 FROM exchange.engine_status() \gset
\o /dev/null
SELECT format('SELECT status FROM exchange.place_order(%s, ''BTC-USDT'', ''buy'', 0.001, 9000)', :delay)
  FROM generate_series(1, 20) \gexec
\o
SELECT exchange.cancel_all(:delay);
SELECT ack_delays > :ack0 AS acknowledger_waited FROM exchange.engine_status();

ALTER SYSTEM RESET exchange.ack_delay;
ALTER SYSTEM RESET exchange.batch_delay;
ALTER SYSTEM RESET exchange.batch_siblings;
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);
SELECT available, locked FROM exchange.balances WHERE account_id = :delay AND asset = 'USDT';
SELECT * FROM exchange.check_invariants();
