-- exchange 1.1 -> 1.2: autovacuum paced gently on the engine's tables.
\echo Use "ALTER EXTENSION exchange UPDATE TO '1.2'" to load this file. \quit

-- Autovacuum (and its ANALYZE) of these tables at PostgreSQL's default
-- pace (autovacuum_vacuum_cost_delay 2 ms per 200 cost units) takes most
-- of a CPU for a few tenths of a second at a time: an ANALYZE of
-- order_record, one of trade_record and a VACUUM of open_order, about
-- 0.3 s of CPU within 0.7 s, stalled a server answering 10,000 orders/s
-- with a synchronous standby on two cores for 66 ms (2026-11-23).  At 10
-- ms per 200 units the same work is spread five times thinner: in three
-- alternating pairs of paced runs with that maintenance in each, p99 5.0,
-- 6.2 and 7.4 ms against 13.5, 13.6 and 18.4 ms (docs/performance.md).
-- It still keeps up with the steady flow: at 10,000 orders/s order_record
-- grows by about 250 pages a second, and setting them all-visible costs a
-- quarter of the budget.  A DBA can change it per table (ALTER TABLE ...
-- SET (autovacuum_vacuum_cost_delay = ...)).
ALTER TABLE exchange.order_record SET (autovacuum_vacuum_cost_delay = 10);
ALTER TABLE exchange.open_order SET (autovacuum_vacuum_cost_delay = 10);
ALTER TABLE exchange.trade_record SET (autovacuum_vacuum_cost_delay = 10);
ALTER TABLE exchange.balance_record SET (autovacuum_vacuum_cost_delay = 10);
ALTER TABLE exchange.deposit_record SET (autovacuum_vacuum_cost_delay = 10);
