-- The acknowledger's WAL writes and flushes reach pg_stat_wal: a
-- background worker must report its statistics itself, and until
-- 2026-11-23 the acknowledger never did, so pg_stat_wal missed nearly
-- every WAL flush of a loaded server.  With the WAL writer slowed (it
-- flushes at most every 10 s), the acknowledger writes and flushes the
-- WAL of these 100 calls, each its own statement, in about one write each
-- (durable_waits: its rounds); 104 writes were counted for 100 calls, 2
-- without the report.  pg_regress runs its server with
-- fsync off, so wal_sync stays 0 here and wal_write is what is checked.
-- (Not a join with generate_series: a function scan that does not refer
-- to the series runs once, whatever the row count says.)
-- Last in the suite: the orders it places shift the ids others print.
\set SHOW_CONTEXT never
ALTER SYSTEM SET wal_writer_delay = '10s';
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);
SELECT exchange.wait_for_engine(30000);
SELECT exchange.create_account('wal-stats') AS acct \gset
SELECT exchange.deposit(:acct, 'USDT', 100000, 'wal-stats-1') > 0 AS deposited;
SELECT pg_stat_reset_shared('wal');
SELECT durable_waits AS waits0 FROM exchange.engine_status() \gset
\o /dev/null
\set ECHO none
SELECT format('SELECT status FROM exchange.place_order(%s, %L, %L, 0.01, 9000)',
              :acct, 'BTC-USDT', 'buy')
  FROM generate_series(1, 100) \gexec
\set ECHO all
\o
SELECT durable_waits - :waits0 >= 50 AS calls_waited_for_rounds
  FROM exchange.engine_status();
DO $$
BEGIN
    FOR i IN 1..50 LOOP
        PERFORM pg_stat_clear_snapshot();
        EXIT WHEN (SELECT wal_write >= 50 FROM pg_stat_wal);
        PERFORM pg_sleep(0.1);
    END LOOP;
END $$;
SELECT pg_stat_clear_snapshot();
SELECT wal_write >= 50 AS acknowledger_writes_counted FROM pg_stat_wal;
ALTER SYSTEM RESET wal_writer_delay;
SELECT pg_reload_conf();
SELECT count(*) AS placed FROM exchange.orders
 WHERE account_id = :acct AND status = 'open';
SELECT exchange.cancel_all(:acct);
SELECT * FROM exchange.check_invariants();
