-- exchange 1.5 -> 1.6: engine_status()'s comment says what
-- pages_extended_ahead counts since the writeback worker also extends the
-- B-tree indexes of order_record and trade_record (the same function and
-- counter; only its description in the catalog changes).
\echo Use "ALTER EXTENSION exchange UPDATE TO '1.6'" to load this file. \quit

COMMENT ON FUNCTION exchange.engine_status() IS
    'the engine and the acknowledger (which wakes callers once their batch is durable): durable_waits = its flush + standby waits, woken_directly = batches whose callers the engine woke itself; rows_by_place / rows_by_key = rows the engine updated or deleted at their remembered TID / found through the primary key; wal_segments_prepared = WAL segment files the WAL preparer created before a writer needed them; batch_delays = times the engine waited exchange.batch_delay for more requests before a batch; ack_delays = times the acknowledger waited exchange.ack_delay before a round; callers_unwoken = times a caller found its durable answers by looking (every 100 ms) without being woken: lost wake-ups, 0 on a healthy server; pages_extended_ahead = empty pages added to order_record, trade_record and their B-tree indexes ahead of the engine (exchange.extend_ahead)';
