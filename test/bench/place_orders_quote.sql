-- A market maker requoting: cancel_all of one account's orders in one
-- market, then one place_orders call with its new ladder, a bench_quote
-- document made at set-up: 50 bids and 50 asks, one per tick level 1..50
-- away from the market's mid shifted by the document's own offset (-3..3
-- ticks), so an account's ladder never crosses itself while different
-- accounts' ladders overlap and trade.  Document d belongs to account
-- acct_min + (d - 1) % nacc in market 1 + ((d - 1) / nacc) % 4.  The
-- result rows go to the client, as a market maker reads them.
\set d random(1, :ndocs)
\set acct :acct_min + (:d - 1) % :nacc
\set m 1 + ((:d - 1) / :nacc) % 4
SELECT exchange.cancel_all(:acct, ('{BTC-USDT,ETH-USDT,SOL-USDT,XRP-USDT}'::text[])[:m]);
SELECT * FROM exchange.place_orders((SELECT doc FROM bench_quote WHERE id = :d));
