-- The SQL contract of API.md: functions with their exact argument types,
-- argument names and defaults, result columns, views, enums, roles and who
-- may execute what.  API.md allows more optional arguments and more result
-- columns at the END, so names and columns are compared as prefixes.
BEGIN;
SELECT plan(148);

SELECT has_schema('exchange');

-- every API.md function, with its exact argument types
SELECT has_function('exchange', f, args, format('exchange.%s(%s) exists', f, array_to_string(args, ', ')))
  FROM (VALUES
    ('create_asset',   ARRAY['text', 'int']),
    ('create_market',  ARRAY['text', 'text', 'text', 'numeric', 'numeric', 'int', 'int', 'numeric']),
    ('halt_market',    ARRAY['text']),
    ('resume_market',  ARRAY['text']),
    ('create_account', ARRAY['text']),
    ('deposit',        ARRAY['bigint', 'text', 'numeric', 'text']),
    ('place_order',    ARRAY['bigint', 'text', 'exchange.side', 'numeric', 'numeric',
                             'exchange.order_type', 'exchange.time_in_force', 'boolean',
                             'text', 'exchange.stp_mode', 'numeric', 'timestamptz']),
    ('cancel_order',   ARRAY['bigint', 'bigint']),
    ('cancel_all',     ARRAY['bigint', 'text']),
    ('amend_order',    ARRAY['bigint', 'bigint', 'numeric']),
    ('order_book',     ARRAY['text', 'int']),
    ('fee_account',    ARRAY[]::text[]),
    ('check_invariants', ARRAY[]::text[]),
    ('wait_for_engine', ARRAY['int'])
  ) v(f, args);

-- argument names, order and defaults (a prefix: more may follow at the end)
CREATE TEMP VIEW api_function AS
SELECT p.proname::text AS name, pg_get_function_arguments(p.oid) AS arguments,
       pg_get_function_result(p.oid) AS result
  FROM pg_proc p
 WHERE p.pronamespace = 'exchange'::regnamespace;

SELECT is(left(f.arguments, length(v.args)), v.args,
          format('exchange.%s: argument names, order and defaults', v.name))
  FROM (VALUES
    ('create_asset',   'code text, scale integer'),
    ('create_market',  'symbol text, base text, quote text, tick_size numeric, lot_size numeric, '
                       'maker_fee_bps integer DEFAULT 0, taker_fee_bps integer DEFAULT 0, '
                       'min_notional numeric DEFAULT 0'),
    ('halt_market',    'symbol text'),
    ('resume_market',  'symbol text'),
    ('create_account', 'external_ref text DEFAULT NULL::text'),
    ('deposit',        'account_id bigint, asset text, amount numeric, reference text'),
    ('place_order',    'account_id bigint, market text, side exchange.side, quantity numeric, '
                       'price numeric DEFAULT NULL::numeric, '
                       'type exchange.order_type DEFAULT ''limit''::exchange.order_type, '
                       'time_in_force exchange.time_in_force DEFAULT ''gtc''::exchange.time_in_force, '
                       'post_only boolean DEFAULT false, client_order_id text DEFAULT NULL::text, '
                       'stp exchange.stp_mode DEFAULT ''cancel_taker''::exchange.stp_mode, '
                       'quote_quantity numeric DEFAULT NULL::numeric, '
                       'expire_at timestamp with time zone DEFAULT NULL::timestamp with time zone'),
    ('cancel_order',   'account_id bigint, order_id bigint'),
    ('cancel_all',     'account_id bigint, market text DEFAULT NULL::text'),
    ('amend_order',    'account_id bigint, order_id bigint, new_quantity numeric'),
    ('order_book',     'market text, depth integer DEFAULT 50'),
    ('fee_account',    '')
  ) v(name, args)
  LEFT JOIN api_function f USING (name)
 ORDER BY v.name;

-- result types; result columns of the table functions (a prefix)
SELECT is(f.result, v.result, format('exchange.%s returns %s', v.name, v.result))
  FROM (VALUES
    ('create_asset', 'void'), ('create_market', 'void'), ('halt_market', 'void'),
    ('resume_market', 'void'), ('create_account', 'bigint'), ('deposit', 'bigint'),
    ('cancel_all', 'integer'), ('fee_account', 'bigint')
  ) v(name, result)
  LEFT JOIN api_function f USING (name)
 ORDER BY v.name;

SELECT is(left(f.result, length(v.result)), v.result,
          format('exchange.%s: result columns', v.name))
  FROM (VALUES
    ('place_order',  'TABLE(order_id bigint, status exchange.order_status, executed_quantity numeric, '
                     'remaining_quantity numeric, average_price numeric'),
    ('cancel_order', 'TABLE(order_id bigint, status exchange.order_status, executed_quantity numeric, '
                     'remaining_quantity numeric, average_price numeric'),
    ('amend_order',  'TABLE(order_id bigint, status exchange.order_status, executed_quantity numeric, '
                     'remaining_quantity numeric, average_price numeric'),
    ('order_book',   'TABLE(side exchange.side, price numeric, quantity numeric, order_count integer')
  ) v(name, result)
  LEFT JOIN api_function f USING (name)
 ORDER BY v.name;

-- views and their leading columns, with types
SELECT has_view('exchange', v, format('view exchange.%s exists', v))
  FROM unnest(ARRAY['balances', 'orders', 'trades']) v;

SELECT results_eq(
    format($$SELECT attname::text COLLATE "default", format_type(atttypid, atttypmod)
               FROM pg_attribute
              WHERE attrelid = 'exchange.%s'::regclass AND attnum > 0 AND NOT attisdropped
              ORDER BY attnum LIMIT %s$$, v, array_length(cols, 1)),
    format($$SELECT * FROM unnest(%L::text[], %L::text[])$$, cols, types),
    format('view exchange.%s: columns and types', v))
  FROM (VALUES
    ('balances', ARRAY['account_id', 'asset', 'available', 'locked'],
                 ARRAY['bigint', 'text', 'numeric', 'numeric']),
    ('orders',   ARRAY['order_id', 'account_id', 'market', 'side', 'type', 'time_in_force',
                       'price', 'quantity', 'executed_quantity', 'status',
                       'client_order_id', 'created_at', 'updated_at'],
                 ARRAY['bigint', 'bigint', 'text', 'exchange.side', 'exchange.order_type',
                       'exchange.time_in_force', 'numeric', 'numeric', 'numeric',
                       'exchange.order_status', 'text', 'timestamp with time zone',
                       'timestamp with time zone']),
    ('trades',   ARRAY['trade_id', 'market', 'price', 'quantity', 'maker_order_id',
                       'taker_order_id', 'maker_account_id', 'taker_account_id',
                       'taker_side', 'maker_fee', 'taker_fee', 'executed_at'],
                 ARRAY['bigint', 'text', 'numeric', 'numeric', 'bigint', 'bigint',
                       'bigint', 'bigint', 'exchange.side', 'numeric', 'numeric',
                       'timestamp with time zone'])
  ) x(v, cols, types);

-- enums, labels in order
SELECT enum_has_labels('exchange', 'side', ARRAY['buy', 'sell']);
SELECT enum_has_labels('exchange', 'order_type', ARRAY['limit', 'market']);
SELECT enum_has_labels('exchange', 'time_in_force', ARRAY['gtc', 'ioc', 'fok']);
SELECT enum_has_labels('exchange', 'stp_mode', ARRAY['cancel_taker', 'cancel_maker', 'cancel_both']);
SELECT enum_has_labels('exchange', 'order_status',
                       ARRAY['open', 'partially_filled', 'filled', 'cancelled', 'rejected', 'expired']);

SELECT is(exchange.fee_account(), 0::bigint, 'the fee account is account 0');

-- roles
SELECT has_role(r) FROM unnest(ARRAY['exchange_admin', 'exchange_trader', 'exchange_reader']) r;
SELECT isnt_superuser(r) FROM unnest(ARRAY['exchange_admin', 'exchange_trader', 'exchange_reader']) r;

-- who may execute what: admins set up, traders trade, everyone reads the
-- book; PUBLIC nothing.  Every API function x every role.
CREATE TEMP TABLE api_grant (fn text, args text[], admin boolean, trader boolean, reader boolean);
INSERT INTO api_grant VALUES
    ('create_asset',   ARRAY['text', 'integer'], true, false, false),
    ('create_market',  ARRAY['text', 'text', 'text', 'numeric', 'numeric', 'integer', 'integer', 'numeric'], true, false, false),
    ('halt_market',    ARRAY['text'], true, false, false),
    ('resume_market',  ARRAY['text'], true, false, false),
    ('create_account', ARRAY['text'], true, false, false),
    ('deposit',        ARRAY['bigint', 'text', 'numeric', 'text'], true, false, false),
    ('place_order',    ARRAY['bigint', 'text', 'exchange.side', 'numeric', 'numeric',
                             'exchange.order_type', 'exchange.time_in_force', 'boolean',
                             'text', 'exchange.stp_mode', 'numeric', 'timestamp with time zone'], false, true, false),
    ('cancel_order',   ARRAY['bigint', 'bigint'], false, true, false),
    ('cancel_all',     ARRAY['bigint', 'text'], false, true, false),
    ('amend_order',    ARRAY['bigint', 'bigint', 'numeric'], false, true, false),
    ('order_book',     ARRAY['text', 'integer'], true, true, true),
    ('fee_account',    ARRAY[]::text[], true, true, true),
    ('check_invariants', ARRAY[]::text[], true, false, false);

SELECT function_privs_are('exchange', g.fn, g.args, r.role,
                          CASE WHEN r.granted THEN ARRAY['EXECUTE'] ELSE ARRAY[]::text[] END)
  FROM api_grant g
 CROSS JOIN LATERAL (VALUES ('exchange_admin', g.admin), ('exchange_trader', g.trader),
                            ('exchange_reader', g.reader), ('public', false)) r(role, granted)
 ORDER BY g.fn, r.role;

-- no function of the extension is left executable by PUBLIC (a NULL acl
-- would mean the default: EXECUTE for PUBLIC)
SELECT is_empty($$
    SELECT p.oid::regprocedure
      FROM pg_proc p
     WHERE p.pronamespace = 'exchange'::regnamespace
       AND (p.proacl IS NULL
            OR EXISTS (SELECT FROM aclexplode(p.proacl) a
                        WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE'))$$,
    'no exchange function is executable by PUBLIC');

-- the views are readable by all three roles; nobody but admins reads the
-- tables, nobody writes anything
SELECT table_privs_are('exchange', v, r, ARRAY['SELECT'])
  FROM unnest(ARRAY['balances', 'orders', 'trades']) v
 CROSS JOIN unnest(ARRAY['exchange_admin', 'exchange_trader', 'exchange_reader']) r
 ORDER BY v, r;
SELECT table_privs_are('exchange', t, r, CASE r WHEN 'exchange_admin' THEN ARRAY['SELECT'] ELSE ARRAY[]::text[] END)
  FROM unnest(ARRAY['asset', 'market', 'account', 'balance_record', 'deposit_record',
                    'order_record', 'trade_record']) t
 CROSS JOIN unnest(ARRAY['exchange_admin', 'exchange_trader', 'exchange_reader', 'public']) r
 ORDER BY t, r;

-- SECURITY DEFINER functions pin their search_path
SELECT is_empty($$
    SELECT p.oid::regprocedure
      FROM pg_proc p
     WHERE p.pronamespace = 'exchange'::regnamespace AND p.prosecdef
       AND NOT coalesce(p.proconfig, '{}') @> ARRAY['search_path=pg_catalog, pg_temp']$$,
    'SECURITY DEFINER functions set search_path = pg_catalog, pg_temp');

SELECT * FROM finish();
ROLLBACK;
