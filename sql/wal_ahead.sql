-- The WAL preparer keeps the exchange.wal_segments_ahead (2) WAL segment
-- files after the one being written ready, so that no writer has to make
-- one while it holds WALWriteLock; it keeps up when the WAL moves on.
\set SHOW_CONTEXT never
CREATE FUNCTION pg_temp.ready_ahead() RETURNS int LANGUAGE sql AS $$
    SELECT count(*)::int FROM pg_ls_waldir()
     WHERE name ~ '^[0-9A-F]{24}$'
       AND substr(name, 1, 8) = substr(pg_walfile_name(pg_current_wal_insert_lsn()), 1, 8)
       AND name > pg_walfile_name(pg_current_wal_insert_lsn())
$$;
CREATE FUNCTION pg_temp.wait_ready(want int) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1..200 LOOP
        IF pg_temp.ready_ahead() >= want THEN
            RETURN true;
        END IF;
        PERFORM pg_sleep(0.05);
    END LOOP;
    RETURN false;
END
$$;
SELECT backend_type FROM pg_stat_activity WHERE backend_type = 'exchange WAL preparer';
SELECT pg_temp.wait_ready(2) AS two_segments_ready;
SELECT wal_segments_prepared > 0 AS prepared FROM exchange.engine_status();
-- the WAL moves on to the next segment: it is there already, and the one
-- after it is made
SELECT pg_switch_wal() IS NOT NULL AS switched;
SELECT pg_temp.wait_ready(2) AS still_two_ready;
