-- exchange 1.0: tables (the truth), views (reporting), request functions
-- (handled by the engine worker) and roles.

\echo Use "CREATE EXTENSION exchange" to load this file. \quit

DO $$
BEGIN
    IF current_setting('exchange.database', true) IS NULL THEN
        RAISE EXCEPTION 'exchange must be loaded via shared_preload_libraries'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Add exchange to shared_preload_libraries in postgresql.conf and restart the server.';
    END IF;
    IF current_setting('exchange.database') <> current_database() THEN
        RAISE EXCEPTION 'exchange can only be installed in database "%"',
                current_setting('exchange.database')
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'The engine worker serves the database named by exchange.database.',
                  HINT = 'Create the extension there, or set exchange.database and restart the server.';
    END IF;
END
$$;

CREATE TYPE exchange.side AS ENUM ('buy', 'sell');
CREATE TYPE exchange.order_type AS ENUM ('limit', 'market');
CREATE TYPE exchange.time_in_force AS ENUM ('gtc', 'ioc', 'fok');
CREATE TYPE exchange.stp_mode AS ENUM ('cancel_taker', 'cancel_maker', 'cancel_both');
CREATE TYPE exchange.order_status AS ENUM ('open', 'partially_filled', 'filled',
                                           'cancelled', 'rejected', 'expired');

-- Tables.  Only the engine writes them; amounts are integer units of the
-- asset (10^-scale), prices integer ticks, quantities integer lots.  The
-- tables the engine writes per request carry no foreign keys: the engine
-- validates every reference in memory before it writes, a foreign-key
-- check per row would cost a quarter of its time, and
-- exchange.check_invariants() verifies the result.
--
-- Identifiers (asset codes, market symbols, client ids and references) are
-- compared byte for byte: COLLATE "C" keeps their unique indexes
-- independent of the operating system's locale data, whose updates can
-- change the order of strings under an existing index (and so let a
-- duplicate client_order_id in).  Equality is the same as under any
-- deterministic collation; only sorting differs (by byte).

CREATE TABLE exchange.asset (
    asset_id    int PRIMARY KEY,
    code        text COLLATE "C" NOT NULL UNIQUE,
    scale       int NOT NULL CHECK (scale BETWEEN 0 AND 18),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE exchange.market (
    market_id       int PRIMARY KEY,
    symbol          text COLLATE "C" NOT NULL UNIQUE,
    base_asset_id   int NOT NULL REFERENCES exchange.asset,
    quote_asset_id  int NOT NULL REFERENCES exchange.asset,
    tick_size       numeric NOT NULL CHECK (tick_size > 0),
    lot_size        numeric NOT NULL CHECK (lot_size > 0),
    maker_fee_bps   int NOT NULL,
    taker_fee_bps   int NOT NULL,
    min_notional    numeric NOT NULL,
    halted          boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE exchange.account (
    account_id      bigint PRIMARY KEY,
    external_ref    text COLLATE "C" UNIQUE,
    created_at      timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE exchange.account IS 'account 0 is the fee account';
INSERT INTO exchange.account (account_id, external_ref) VALUES (0, 'fees');

CREATE TABLE exchange.balance_record (
    account_id  bigint NOT NULL,
    asset_id    int NOT NULL,
    available   bigint NOT NULL CHECK (available >= 0),
    locked      bigint NOT NULL CHECK (locked >= 0),
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (account_id, asset_id)
) WITH (fillfactor = 50);

CREATE TABLE exchange.deposit_record (
    deposit_id  bigint PRIMARY KEY,
    account_id  bigint NOT NULL,
    asset_id    int NOT NULL,
    amount      bigint NOT NULL CHECK (amount > 0),
    reference   text COLLATE "C" NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL
);

CREATE TABLE exchange.order_record (
    order_id        bigint PRIMARY KEY,
    account_id      bigint NOT NULL,
    market_id       int NOT NULL,
    side            exchange.side NOT NULL,
    type            exchange.order_type NOT NULL,
    time_in_force   exchange.time_in_force NOT NULL,
    post_only       boolean NOT NULL,
    stp             exchange.stp_mode NOT NULL,
    price_ticks     bigint CHECK (price_ticks > 0),
    quantity_lots   bigint NOT NULL CHECK (quantity_lots >= 0),
    filled_lots     bigint NOT NULL CHECK (filled_lots BETWEEN 0 AND quantity_lots),
    filled_quote    bigint NOT NULL CHECK (filled_quote >= 0),
    quote_limit     bigint,
    status          exchange.order_status NOT NULL,
    client_order_id text COLLATE "C",
    expire_at       timestamptz,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    -- also serves "orders of an account" (NULL client ids are not unique)
    UNIQUE (account_id, client_order_id)
) WITH (fillfactor = 80,
        -- vacuum after every 200,000 new rows, not after 20% growth: each
        -- run then finds its pages still in shared buffers, instead of
        -- reading back and dirtying hundreds of MB written long ago
        autovacuum_vacuum_insert_threshold = 200000,
        autovacuum_vacuum_insert_scale_factor = 0);
COMMENT ON TABLE exchange.order_record IS
    'every order ever placed; updated in place (HOT: no index covers a column that changes)';

-- What rests on the books, one row per open or partially filled order:
-- the rebuild and order_book() read it.  Kept apart from order_record so
-- that fills and cancels update order_record without touching its indexes.
CREATE TABLE exchange.open_order (
    order_id     bigint PRIMARY KEY,
    market_id    int NOT NULL,
    side         exchange.side NOT NULL,
    price_ticks  bigint NOT NULL
);
CREATE INDEX open_order_book ON exchange.open_order (market_id, side, price_ticks);

CREATE TABLE exchange.trade_record (
    trade_id          bigint PRIMARY KEY,
    market_id         int NOT NULL,
    price_ticks       bigint NOT NULL,
    lots              bigint NOT NULL CHECK (lots > 0),
    base_amount       bigint NOT NULL,
    quote_amount      bigint NOT NULL,
    maker_order_id    bigint NOT NULL,
    taker_order_id    bigint NOT NULL,
    maker_account_id  bigint NOT NULL,
    taker_account_id  bigint NOT NULL,
    taker_side        exchange.side NOT NULL,
    maker_fee         bigint NOT NULL,
    taker_fee         bigint NOT NULL,
    executed_at       timestamptz NOT NULL
) WITH (autovacuum_vacuum_insert_threshold = 200000,
        autovacuum_vacuum_insert_scale_factor = 0);
CREATE INDEX trade_record_maker ON exchange.trade_record (maker_order_id);
CREATE INDEX trade_record_taker ON exchange.trade_record (taker_order_id);

-- Integer units as a decimal in the asset's own units.
CREATE FUNCTION exchange.amount(units bigint, scale int) RETURNS numeric
    AS 'MODULE_PATHNAME', 'amount' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- Views: what reporting reads.

CREATE VIEW exchange.balances AS
SELECT b.account_id, a.code AS asset,
       exchange.amount(b.available, a.scale) AS available,
       exchange.amount(b.locked, a.scale) AS locked
  FROM exchange.balance_record b
  JOIN exchange.asset a USING (asset_id);

CREATE VIEW exchange.orders AS
SELECT o.order_id, o.account_id, m.symbol AS market, o.side, o.type,
       o.time_in_force,
       trim_scale(o.price_ticks * m.tick_size) AS price,
       trim_scale(o.quantity_lots * m.lot_size) AS quantity,
       trim_scale(o.filled_lots * m.lot_size) AS executed_quantity,
       o.status, o.client_order_id, o.created_at, o.updated_at
  FROM exchange.order_record o
  JOIN exchange.market m USING (market_id);

CREATE VIEW exchange.trades AS
SELECT t.trade_id, m.symbol AS market,
       trim_scale(t.price_ticks * m.tick_size) AS price,
       trim_scale(t.lots * m.lot_size) AS quantity,
       t.maker_order_id, t.taker_order_id, t.maker_account_id,
       t.taker_account_id, t.taker_side,
       exchange.amount(t.maker_fee, CASE WHEN t.taker_side = 'sell' THEN b.scale ELSE q.scale END) AS maker_fee,
       exchange.amount(t.taker_fee, CASE WHEN t.taker_side = 'buy' THEN b.scale ELSE q.scale END) AS taker_fee,
       t.executed_at
  FROM exchange.trade_record t
  JOIN exchange.market m USING (market_id)
  JOIN exchange.asset b ON b.asset_id = m.base_asset_id
  JOIN exchange.asset q ON q.asset_id = m.quote_asset_id;

-- Set-up (administrators).  Each is a request to the engine.

CREATE FUNCTION exchange.create_asset(code text, scale int) RETURNS void
    AS 'MODULE_PATHNAME', 'create_asset' LANGUAGE C VOLATILE;

CREATE FUNCTION exchange.create_market(symbol text, base text, quote text,
        tick_size numeric, lot_size numeric,
        maker_fee_bps int DEFAULT 0, taker_fee_bps int DEFAULT 0,
        min_notional numeric DEFAULT 0) RETURNS void
    AS 'MODULE_PATHNAME', 'create_market' LANGUAGE C VOLATILE;

CREATE FUNCTION exchange.halt_market(symbol text) RETURNS void
    AS 'MODULE_PATHNAME', 'halt_market' LANGUAGE C VOLATILE;

CREATE FUNCTION exchange.resume_market(symbol text) RETURNS void
    AS 'MODULE_PATHNAME', 'resume_market' LANGUAGE C VOLATILE;

CREATE FUNCTION exchange.create_account(external_ref text DEFAULT NULL)
    RETURNS bigint
    AS 'MODULE_PATHNAME', 'create_account' LANGUAGE C VOLATILE;

CREATE FUNCTION exchange.deposit(account_id bigint, asset text, amount numeric,
        reference text) RETURNS bigint
    AS 'MODULE_PATHNAME', 'deposit' LANGUAGE C VOLATILE;

-- Trading.

CREATE FUNCTION exchange.place_order(account_id bigint, market text,
        side exchange.side, quantity numeric, price numeric DEFAULT NULL,
        type exchange.order_type DEFAULT 'limit',
        time_in_force exchange.time_in_force DEFAULT 'gtc',
        post_only boolean DEFAULT false,
        client_order_id text DEFAULT NULL,
        stp exchange.stp_mode DEFAULT 'cancel_taker',
        quote_quantity numeric DEFAULT NULL,
        expire_at timestamptz DEFAULT NULL)
    RETURNS TABLE (order_id bigint, status exchange.order_status,
                   executed_quantity numeric, remaining_quantity numeric,
                   average_price numeric)
    AS 'MODULE_PATHNAME', 'place_order' LANGUAGE C VOLATILE ROWS 1;

-- Many orders in one call (market makers): a JSON array of objects whose
-- keys are place_order's argument names.  Each order is accepted or
-- refused on its own; one row per order, in input order, with the
-- refusal's SQLSTATE and message instead of a result.
CREATE FUNCTION exchange.place_orders(orders jsonb)
    RETURNS TABLE (ordinal int, order_id bigint, status exchange.order_status,
                   executed_quantity numeric, remaining_quantity numeric,
                   average_price numeric, error_code text, error_message text)
    AS 'MODULE_PATHNAME', 'place_orders' LANGUAGE C VOLATILE;

CREATE FUNCTION exchange.cancel_order(account_id bigint, order_id bigint)
    RETURNS TABLE (order_id bigint, status exchange.order_status,
                   executed_quantity numeric, remaining_quantity numeric,
                   average_price numeric)
    AS 'MODULE_PATHNAME', 'cancel_order' LANGUAGE C VOLATILE ROWS 1;

CREATE FUNCTION exchange.cancel_all(account_id bigint, market text DEFAULT NULL)
    RETURNS int
    AS 'MODULE_PATHNAME', 'cancel_all' LANGUAGE C VOLATILE;

CREATE FUNCTION exchange.amend_order(account_id bigint, order_id bigint,
        new_quantity numeric)
    RETURNS TABLE (order_id bigint, status exchange.order_status,
                   executed_quantity numeric, remaining_quantity numeric,
                   average_price numeric)
    AS 'MODULE_PATHNAME', 'amend_order' LANGUAGE C VOLATILE ROWS 1;

-- Reading.

CREATE FUNCTION exchange.fee_account() RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN 0;

CREATE FUNCTION exchange.order_book(market text, depth int DEFAULT 50)
    RETURNS TABLE (side exchange.side, price numeric, quantity numeric,
                   order_count int)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    m exchange.market;
BEGIN
    SELECT * INTO m FROM exchange.market WHERE symbol = order_book.market;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown market "%"', order_book.market
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF depth IS NULL OR depth < 1 THEN
        RAISE EXCEPTION 'depth must be positive'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN QUERY
    (SELECT 'buy'::exchange.side, trim_scale(b.price_ticks * m.tick_size),
            trim_scale(sum(o.quantity_lots - o.filled_lots) * m.lot_size),
            count(*)::int
       FROM exchange.open_order b
       JOIN exchange.order_record o USING (order_id)
      WHERE b.market_id = m.market_id AND b.side = 'buy'
      GROUP BY b.price_ticks ORDER BY b.price_ticks DESC LIMIT depth)
    UNION ALL
    (SELECT 'sell'::exchange.side, trim_scale(b.price_ticks * m.tick_size),
            trim_scale(sum(o.quantity_lots - o.filled_lots) * m.lot_size),
            count(*)::int
       FROM exchange.open_order b
       JOIN exchange.order_record o USING (order_id)
      WHERE b.market_id = m.market_id AND b.side = 'sell'
      GROUP BY b.price_ticks ORDER BY b.price_ticks ASC LIMIT depth);
END
$$;

CREATE FUNCTION exchange.engine_status()
    RETURNS TABLE (state text, pid int, started_at timestamptz,
                   open_orders int, batches bigint, requests bigint,
                   failed_batches bigint, rebuilds bigint, queued int,
                   batch_size_histogram bigint[], last_error text,
                   acknowledger_pid int, durable_waits bigint,
                   woken_directly bigint, rows_by_place bigint,
                   rows_by_key bigint, wal_segments_prepared bigint,
                   batch_delays bigint, ack_delays bigint)
    AS 'MODULE_PATHNAME', 'engine_status' LANGUAGE C VOLATILE ROWS 1;
COMMENT ON FUNCTION exchange.engine_status() IS
    'the engine and the acknowledger (which wakes callers once their batch is durable): durable_waits = its flush + standby waits, woken_directly = batches whose callers the engine woke itself; rows_by_place / rows_by_key = rows the engine updated or deleted at their remembered TID / found through the primary key; wal_segments_prepared = WAL segment files the WAL preparer created before a writer needed them; batch_delays = times the engine waited exchange.batch_delay for more requests before a batch; ack_delays = times the acknowledger waited exchange.ack_delay before a round';

CREATE FUNCTION exchange.wait_for_engine(timeout_ms int DEFAULT 10000)
    RETURNS boolean
    AS 'MODULE_PATHNAME', 'wait_for_engine' LANGUAGE C VOLATILE STRICT;

-- Invariants over the committed tables; one row per violation.
CREATE FUNCTION exchange.check_invariants()
    RETURNS TABLE (invariant text, detail text)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    -- every asset's total across all accounts equals what was deposited
    SELECT 'totals conserved', format('asset %s: balances %s, deposits %s',
                                      a.code, coalesce(b.total, 0), coalesce(d.total, 0))
      FROM exchange.asset a
      LEFT JOIN (SELECT asset_id, sum(available + locked) AS total
                   FROM exchange.balance_record GROUP BY asset_id) b USING (asset_id)
      LEFT JOIN (SELECT asset_id, sum(amount) AS total
                   FROM exchange.deposit_record GROUP BY asset_id) d USING (asset_id)
     WHERE coalesce(b.total, 0) <> coalesce(d.total, 0)
    UNION ALL
    -- locked equals what open orders hold
    SELECT 'locked equals holds', format('account %s asset %s: locked %s, holds %s',
                                         coalesce(b.account_id, h.account_id),
                                         coalesce(b.asset_id, h.asset_id),
                                         coalesce(b.locked, 0), coalesce(h.held, 0))
      FROM exchange.balance_record b
      FULL JOIN (SELECT o.account_id,
                        CASE o.side WHEN 'buy' THEN m.quote_asset_id ELSE m.base_asset_id END AS asset_id,
                        sum(CASE o.side
                              WHEN 'buy' THEN (o.quantity_lots - o.filled_lots)::numeric * o.price_ticks
                                              * (m.tick_size * m.lot_size * 10::numeric ^ q.scale)
                              ELSE (o.quantity_lots - o.filled_lots)::numeric
                                   * (m.lot_size * 10::numeric ^ bs.scale) END) AS held
                   FROM exchange.order_record o
                   JOIN exchange.market m USING (market_id)
                   JOIN exchange.asset q ON q.asset_id = m.quote_asset_id
                   JOIN exchange.asset bs ON bs.asset_id = m.base_asset_id
                  WHERE o.status IN ('open', 'partially_filled')
                  GROUP BY 1, 2) h
        ON h.account_id = b.account_id AND h.asset_id = b.asset_id
     WHERE coalesce(b.locked, 0) <> coalesce(h.held, 0)
    UNION ALL
    -- the fee account holds exactly the fees charged (and its own deposits)
    SELECT 'fee account equals fees', format('asset %s: fee account %s, fees %s',
                                             a.code, coalesce(b.total, 0), coalesce(f.total, 0))
      FROM exchange.asset a
      LEFT JOIN (SELECT asset_id, available + locked AS total
                   FROM exchange.balance_record WHERE account_id = 0) b USING (asset_id)
      LEFT JOIN (SELECT asset_id, sum(amount) AS total FROM (
                     SELECT CASE t.taker_side WHEN 'sell' THEN m.base_asset_id ELSE m.quote_asset_id END AS asset_id,
                            t.maker_fee AS amount
                       FROM exchange.trade_record t JOIN exchange.market m USING (market_id)
                     UNION ALL
                     SELECT CASE t.taker_side WHEN 'buy' THEN m.base_asset_id ELSE m.quote_asset_id END,
                            t.taker_fee
                       FROM exchange.trade_record t JOIN exchange.market m USING (market_id)
                     UNION ALL
                     SELECT asset_id, amount FROM exchange.deposit_record WHERE account_id = 0) x
                  GROUP BY asset_id) f USING (asset_id)
     WHERE coalesce(b.total, 0) <> coalesce(f.total, 0)
    UNION ALL
    SELECT 'no negative balance', format('account %s asset %s', account_id, asset_id)
      FROM exchange.balance_record WHERE available < 0 OR locked < 0
    UNION ALL
    -- each order's executed quantity equals its trades
    SELECT 'executed equals trades', format('order %s: filled %s lots, trades %s lots',
                                            o.order_id, o.filled_lots, coalesce(t.lots, 0))
      FROM exchange.order_record o
      LEFT JOIN (SELECT order_id, sum(lots) AS lots, sum(quote_amount) AS quote
                   FROM (SELECT maker_order_id AS order_id, lots, quote_amount FROM exchange.trade_record
                         UNION ALL
                         SELECT taker_order_id, lots, quote_amount FROM exchange.trade_record) x
                  GROUP BY order_id) t USING (order_id)
     WHERE o.filled_lots <> coalesce(t.lots, 0) OR o.filled_quote <> coalesce(t.quote, 0)
    UNION ALL
    -- the books are not crossed
    SELECT 'book not crossed', format('market %s: best bid %s >= best ask %s',
                                      market_id, bid, ask)
      FROM (SELECT market_id,
                   max(price_ticks) FILTER (WHERE side = 'buy') AS bid,
                   min(price_ticks) FILTER (WHERE side = 'sell') AS ask
              FROM exchange.order_record
             WHERE status IN ('open', 'partially_filled')
             GROUP BY market_id) x
     WHERE bid >= ask
    UNION ALL
    -- open_order lists exactly the orders that rest
    SELECT 'open_order matches status', format('order %s: status %s, in open_order %s',
                                               o.order_id, o.status, b.order_id IS NOT NULL)
      FROM exchange.order_record o
      LEFT JOIN exchange.open_order b USING (order_id)
     WHERE (o.status IN ('open', 'partially_filled')) <> (b.order_id IS NOT NULL)
        OR (b.order_id IS NOT NULL AND (b.market_id, b.side, b.price_ticks)
                                       IS DISTINCT FROM (o.market_id, o.side, o.price_ticks))
    UNION ALL
    SELECT 'open_order matches status', format('order %s in open_order has no order_record', b.order_id)
      FROM exchange.open_order b LEFT JOIN exchange.order_record o USING (order_id)
     WHERE o.order_id IS NULL
    UNION ALL
    SELECT 'client ids unique', format('account %s client_order_id %s', account_id, client_order_id)
      FROM exchange.order_record WHERE client_order_id IS NOT NULL
     GROUP BY account_id, client_order_id HAVING count(*) > 1
$$;

-- Operations: every change of a node's role (Patroni's callbacks call
-- this on the new primary), where a DBA sees it.  Not exchange state: it
-- does not go through the engine.
CREATE TABLE exchange.role_change (
    change_id   bigserial PRIMARY KEY,
    changed_at  timestamptz NOT NULL DEFAULT now(),
    cluster     text,
    node        text NOT NULL,
    old_role    text,
    new_role    text NOT NULL,
    detail      text
);

CREATE FUNCTION exchange.record_role_change(node text, old_role text,
        new_role text, cluster text DEFAULT NULL, detail text DEFAULT NULL,
        changed_at timestamptz DEFAULT now())
    RETURNS bigint
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    INSERT INTO exchange.role_change (changed_at, cluster, node, old_role, new_role, detail)
    VALUES (changed_at, cluster, node, old_role, new_role, detail)
    RETURNING change_id
$$;

-- Roles and privileges.  Nobody but the extension owner writes tables;
-- every function is closed to PUBLIC and opened to the role that needs it.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'exchange_reader') THEN
        CREATE ROLE exchange_reader NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'exchange_trader') THEN
        CREATE ROLE exchange_trader NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'exchange_admin') THEN
        CREATE ROLE exchange_admin NOLOGIN;
    END IF;
END
$$;

REVOKE ALL ON ALL TABLES IN SCHEMA exchange FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA exchange FROM PUBLIC;
GRANT USAGE ON SCHEMA exchange TO exchange_reader, exchange_trader, exchange_admin;
GRANT USAGE ON TYPE exchange.side, exchange.order_type, exchange.time_in_force,
    exchange.stp_mode, exchange.order_status TO PUBLIC;

GRANT SELECT ON exchange.balances, exchange.orders, exchange.trades
    TO exchange_reader, exchange_trader, exchange_admin;
GRANT EXECUTE ON FUNCTION exchange.amount(bigint, int), exchange.fee_account(),
    exchange.order_book(text, int)
    TO exchange_reader, exchange_trader, exchange_admin;

GRANT EXECUTE ON FUNCTION
    exchange.place_order(bigint, text, exchange.side, numeric, numeric,
        exchange.order_type, exchange.time_in_force, boolean, text,
        exchange.stp_mode, numeric, timestamptz),
    exchange.place_orders(jsonb),
    exchange.cancel_order(bigint, bigint),
    exchange.cancel_all(bigint, text),
    exchange.amend_order(bigint, bigint, numeric)
    TO exchange_trader;

GRANT EXECUTE ON FUNCTION
    exchange.create_asset(text, int),
    exchange.create_market(text, text, text, numeric, numeric, int, int, numeric),
    exchange.halt_market(text), exchange.resume_market(text),
    exchange.create_account(text),
    exchange.deposit(bigint, text, numeric, text),
    exchange.engine_status(), exchange.wait_for_engine(int),
    exchange.check_invariants(),
    exchange.record_role_change(text, text, text, text, text, timestamptz)
    TO exchange_admin;
GRANT SELECT ON ALL TABLES IN SCHEMA exchange TO exchange_admin;

-- pg_dump keeps the data of these tables (the extension creates them).
SELECT pg_catalog.pg_extension_config_dump('exchange.asset', '');
SELECT pg_catalog.pg_extension_config_dump('exchange.market', '');
SELECT pg_catalog.pg_extension_config_dump('exchange.account', 'WHERE account_id <> 0');
SELECT pg_catalog.pg_extension_config_dump('exchange.balance_record', '');
SELECT pg_catalog.pg_extension_config_dump('exchange.deposit_record', '');
SELECT pg_catalog.pg_extension_config_dump('exchange.order_record', '');
SELECT pg_catalog.pg_extension_config_dump('exchange.trade_record', '');
SELECT pg_catalog.pg_extension_config_dump('exchange.open_order', '');
SELECT pg_catalog.pg_extension_config_dump('exchange.role_change', '');
SELECT pg_catalog.pg_extension_config_dump('exchange.role_change_change_id_seq', '');
