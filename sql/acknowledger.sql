-- The acknowledger wakes callers once the batch their answer rests on is
-- durable; without it (off, or not running) the engine wakes them and
-- each waits for durability itself.  Either way the answers are the same.
\set SHOW_CONTEXT never
SELECT exchange.create_account('ack') AS ack \gset
SELECT set_config('ack.acct', :'ack', false) IS NOT NULL AS set;
SELECT exchange.deposit(:ack, 'USDT', 1000, 'ack-usdt');
SELECT status FROM exchange.place_order(:ack, 'BTC-USDT', 'buy', 0.001, 10000);
SELECT acknowledger_pid IS NOT NULL AS acknowledger_running,
       acknowledger_pid <> pid AS own_process,
       durable_waits > 0 AS callers_woken_after_durability
  FROM exchange.engine_status();

-- every caller is woken: none finds its durable answers by looking on its
-- own (every 100 ms).  Calls one at a time let the acknowledger go idle
-- between rounds, so each hand-over must wake it.
SELECT callers_unwoken AS unwoken0 FROM exchange.engine_status() \gset
DO $$
BEGIN
    FOR i IN 1..20 LOOP
        PERFORM exchange.place_order(current_setting('ack.acct')::bigint,
                                     'BTC-USDT', 'buy', 0.001, 10000);
        PERFORM pg_sleep(0.01);
    END LOOP;
END $$;
SELECT callers_unwoken - :unwoken0 AS callers_unwoken FROM exchange.engine_status();

-- off: the engine wakes its callers itself; the acknowledger is given none
SELECT durable_waits AS waits_off FROM exchange.engine_status() \gset
ALTER SYSTEM SET exchange.acknowledger = off;
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);
SELECT status FROM exchange.place_order(:ack, 'BTC-USDT', 'buy', 0.001, 10000);
SELECT status FROM exchange.place_order(:ack, 'BTC-USDT', 'buy', 0.001, 10000);
SELECT durable_waits = :waits_off AS acknowledger_idle FROM exchange.engine_status();
ALTER SYSTEM RESET exchange.acknowledger;
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);

-- the acknowledger gone: callers are still answered, and it comes back
SELECT acknowledger_pid AS ack_pid FROM exchange.engine_status() \gset
SELECT pg_terminate_backend(:ack_pid);
SELECT status FROM exchange.place_order(:ack, 'BTC-USDT', 'buy', 0.001, 10000);
DO $$
BEGIN
    FOR i IN 1..100 LOOP
        EXIT WHEN (SELECT acknowledger_pid IS NOT NULL FROM exchange.engine_status());
        PERFORM pg_sleep(0.1);
    END LOOP;
END $$;
SELECT acknowledger_pid IS NOT NULL AND acknowledger_pid <> :ack_pid AS restarted
  FROM exchange.engine_status();
SELECT durable_waits AS waits0 FROM exchange.engine_status() \gset
SELECT count(*) FROM exchange.place_orders((SELECT jsonb_agg(jsonb_build_object(
    'account_id', :ack, 'market', 'BTC-USDT', 'side', 'buy', 'quantity', 0.001, 'price', 9000))
  FROM generate_series(1, 5)));
SELECT status FROM exchange.place_order(:ack, 'BTC-USDT', 'buy', 0.001, 10000);
SELECT status FROM exchange.place_order(:ack, 'BTC-USDT', 'buy', 0.001, 10000);
SELECT durable_waits > :waits0 AS used_again FROM exchange.engine_status();
SELECT exchange.cancel_all(:ack);
SELECT * FROM exchange.check_invariants();
