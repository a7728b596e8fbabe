-- exchange 1.2 -> 1.3: where a call's time goes, read from SQL.
\echo Use "ALTER EXTENSION exchange UPDATE TO '1.3'" to load this file. \quit

-- Four stages, each a histogram of microseconds in shared memory (232
-- buckets: exact below 16 us, then at most 12.5% wide), counted since the
-- server started or exchange.reset_latency():
--   call     a call (place_order, place_orders, cancel_order, ...), from
--            its start until its answers are durable, as its backend sees
--            it (the network and the client's own time are not in it)
--   queue    a request, from being queued until the engine starts its batch
--   batch    a batch, from its start until its commit returns
--   durable  an acknowledger round: the WAL flush and the synchronous
--            standby's confirmation that the queued callers wait for
-- A percentile is the upper bound of the bucket holding it (never above
-- the largest observation): within 12.5% above the true value.
CREATE FUNCTION exchange.latency()
    RETURNS TABLE (stage text, count bigint, mean_ms numeric, p50_ms numeric,
                   p90_ms numeric, p99_ms numeric, p999_ms numeric,
                   max_ms numeric, since timestamptz)
    AS 'MODULE_PATHNAME', 'latency' LANGUAGE C VOLATILE ROWS 4;
COMMENT ON FUNCTION exchange.latency() IS
    'per stage (call, queue, batch, durable): how many, mean and percentiles in ms (each the upper bound of its histogram bucket, within 12.5%), the largest, and since when (server start or exchange.reset_latency())';

CREATE FUNCTION exchange.latency_histogram()
    RETURNS TABLE (stage text, lower_us bigint, upper_us bigint, count bigint)
    AS 'MODULE_PATHNAME', 'latency_histogram' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION exchange.latency_histogram() IS
    'exchange.latency()''s histograms: the non-empty buckets, [lower_us, upper_us) (upper_us NULL: no bound), for a monitoring system to scrape';

CREATE FUNCTION exchange.reset_latency()
    RETURNS void
    AS 'MODULE_PATHNAME', 'reset_latency' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION exchange.reset_latency() IS
    'exchange.latency() and latency_histogram() count from now on';

REVOKE ALL ON FUNCTION exchange.latency(), exchange.latency_histogram(),
    exchange.reset_latency() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION exchange.latency(), exchange.latency_histogram(),
    exchange.reset_latency() TO exchange_admin;
