-- exchange 1.3 -> 1.4: exchange.engine_status() counts lost wake-ups.
\echo Use "ALTER EXTENSION exchange UPDATE TO '1.4'" to load this file. \quit

-- callers_unwoken: times a caller found its answers durable when it looked
-- on its own (every 100 ms), though whoever should have woken it (the
-- acknowledger, or the engine) had not.  It stays at 0 on a healthy
-- server; anything else is a lost wake-up, and each cost its call up to
-- 100 ms.  The same function otherwise: a result column cannot be added
-- in place, so it is made again.
DROP FUNCTION exchange.engine_status();
CREATE FUNCTION exchange.engine_status()
    RETURNS TABLE (state text, pid int, started_at timestamptz,
                   open_orders int, batches bigint, requests bigint,
                   failed_batches bigint, rebuilds bigint, queued int,
                   batch_size_histogram bigint[], last_error text,
                   acknowledger_pid int, durable_waits bigint,
                   woken_directly bigint, rows_by_place bigint,
                   rows_by_key bigint, wal_segments_prepared bigint,
                   batch_delays bigint, ack_delays bigint,
                   callers_unwoken bigint)
    AS 'MODULE_PATHNAME', 'engine_status' LANGUAGE C VOLATILE ROWS 1;
COMMENT ON FUNCTION exchange.engine_status() IS
    'the engine and the acknowledger (which wakes callers once their batch is durable): durable_waits = its flush + standby waits, woken_directly = batches whose callers the engine woke itself; rows_by_place / rows_by_key = rows the engine updated or deleted at their remembered TID / found through the primary key; wal_segments_prepared = WAL segment files the WAL preparer created before a writer needed them; batch_delays = times the engine waited exchange.batch_delay for more requests before a batch; ack_delays = times the acknowledger waited exchange.ack_delay before a round; callers_unwoken = times a caller found its durable answers by looking (every 100 ms) without being woken: lost wake-ups, 0 on a healthy server';
REVOKE ALL ON FUNCTION exchange.engine_status() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION exchange.engine_status() TO exchange_admin;
