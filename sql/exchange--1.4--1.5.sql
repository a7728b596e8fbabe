-- exchange 1.4 -> 1.5: exchange.engine_status() counts the pages added
-- ahead of the engine (exchange.extend_ahead).
\echo Use "ALTER EXTENSION exchange UPDATE TO '1.5'" to load this file. \quit

-- pages_extended_ahead: empty pages the writeback worker added at the end
-- of order_record and trade_record, and recorded in their free space maps,
-- so that the engine's inserts find them instead of extending the tables
-- themselves.  The same function otherwise: a result column cannot be
-- added in place, so it is made again.
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
                   callers_unwoken bigint, pages_extended_ahead bigint)
    AS 'MODULE_PATHNAME', 'engine_status' LANGUAGE C VOLATILE ROWS 1;
COMMENT ON FUNCTION exchange.engine_status() IS
    'the engine and the acknowledger (which wakes callers once their batch is durable): durable_waits = its flush + standby waits, woken_directly = batches whose callers the engine woke itself; rows_by_place / rows_by_key = rows the engine updated or deleted at their remembered TID / found through the primary key; wal_segments_prepared = WAL segment files the WAL preparer created before a writer needed them; batch_delays = times the engine waited exchange.batch_delay for more requests before a batch; ack_delays = times the acknowledger waited exchange.ack_delay before a round; callers_unwoken = times a caller found its durable answers by looking (every 100 ms) without being woken: lost wake-ups, 0 on a healthy server; pages_extended_ahead = empty pages added to order_record and trade_record ahead of the engine (exchange.extend_ahead)';
REVOKE ALL ON FUNCTION exchange.engine_status() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION exchange.engine_status() TO exchange_admin;
