-- The trading functions remember enum values per backend (looking each
-- argument's label and each result's status up in the catalogue cache was
-- about 1.4% of a single place_order's CPU), and forget them whenever
-- pg_enum changes: a label renamed under a backend that has used it is
-- read anew.  (Renaming the exchange's labels is no way to run it: each
-- rename is undone at once.)
\set SHOW_CONTEXT never
SELECT exchange.wait_for_engine(30000);
SELECT exchange.create_account('enum-memo') AS acct \gset
SELECT exchange.deposit(:acct, 'USDT', 100000, 'enum-memo-1') > 0 AS deposited;
SELECT status FROM exchange.place_order(:acct, 'BTC-USDT', 'buy', 0.01, 9000);
-- an argument: the value 'buy' had is now labelled 'bid', which the
-- engine does not know
ALTER TYPE exchange.side RENAME VALUE 'buy' TO 'bid';
SELECT status FROM exchange.place_order(:acct, 'BTC-USDT', 'bid', 0.01, 9000);
ALTER TYPE exchange.side RENAME VALUE 'bid' TO 'buy';
SELECT status FROM exchange.place_order(:acct, 'BTC-USDT', 'buy', 0.01, 9000);
-- a result: 'open' is looked up again, and is not there
ALTER TYPE exchange.order_status RENAME VALUE 'open' TO 'resting';
SELECT status FROM exchange.place_order(:acct, 'BTC-USDT', 'buy', 0.01, 9000);
ALTER TYPE exchange.order_status RENAME VALUE 'resting' TO 'open';
SELECT status FROM exchange.place_order(:acct, 'BTC-USDT', 'buy', 0.01, 9000);
SELECT status, count(*) FROM exchange.orders WHERE account_id = :acct
 GROUP BY status ORDER BY status;
SELECT exchange.cancel_all(:acct);
SELECT * FROM exchange.check_invariants();
