-- One place_orders call sending a ready JSON array of :n limit orders, as
-- a market maker's gateway sends it: one of the bench_doc documents made
-- at set-up (random account and market, prices a few ticks around the
-- mid on both sides), so the server's time goes to the orders, not to
-- building their JSON in SQL (place_orders.sql does that).  Every result
-- row goes to the client, as a gateway reads them all; a count(*) on the
-- server instead (the bench until 2026-11-22) cost about 12% less machine
-- CPU per order.
\set d random(1, :ndocs)
SELECT * FROM exchange.place_orders((SELECT doc FROM bench_doc WHERE id = :d));
