-- Roles: admins set up, traders trade and read, readers read views only;
-- nobody writes the tables directly.
\set SHOW_CONTEXT never
CREATE ROLE regress_trader LOGIN IN ROLE exchange_trader;
CREATE ROLE regress_reader LOGIN IN ROLE exchange_reader;
CREATE ROLE regress_admin LOGIN IN ROLE exchange_admin;
CREATE ROLE regress_nobody LOGIN;

SET ROLE regress_trader;
SELECT status FROM exchange.place_order(1, 'BTC-USDT', 'buy', 0.1, 100);
SELECT count(*) > 0 AS sees_orders FROM exchange.orders;
SELECT count(*) >= 0 AS sees_book FROM exchange.order_book('BTC-USDT');
SELECT exchange.cancel_all(1);
SELECT exchange.create_asset('XRP', 6);
SELECT exchange.deposit(1, 'USDT', 1, 'priv-1');
INSERT INTO exchange.balance_record VALUES (1, 1, 1, 0, now());
UPDATE exchange.order_record SET status = 'cancelled';
SELECT count(*) FROM exchange.order_record;
RESET ROLE;

SET ROLE regress_reader;
SELECT count(*) >= 0 AS sees_balances FROM exchange.balances;
SELECT count(*) >= 0 AS sees_trades FROM exchange.trades;
SELECT * FROM exchange.place_order(1, 'BTC-USDT', 'buy', 0.1, 100);
SELECT count(*) FROM exchange.balance_record;
RESET ROLE;

SET ROLE regress_admin;
SELECT exchange.create_asset('XRP', 6);
SELECT exchange.deposit(1, 'XRP', 5, 'priv-2') > 0 AS deposited;
SELECT count(*) > 0 AS reads_tables FROM exchange.balance_record;
DELETE FROM exchange.deposit_record;
RESET ROLE;

SET ROLE regress_nobody;
SELECT count(*) FROM exchange.balances;
SELECT exchange.create_account();
RESET ROLE;

-- SECURITY DEFINER functions pin search_path
SELECT p.proname, p.proconfig
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = 'exchange' AND p.prosecdef ORDER BY 1;
SELECT * FROM exchange.check_invariants();
