#include "exchange.h"

#include "utils/guc.h"

char	   *exchange_database = NULL;
int			exchange_max_assets = 256;
int			exchange_max_markets = 256;
int			exchange_max_accounts = 1000000;
int			exchange_max_balances = 1000000;
int			exchange_max_orders = 1000000;
int			exchange_max_price_levels = 200000;
int			exchange_queue_size = 8192;
int			exchange_batch_size = 4096;
int			exchange_batch_delay = 200;
int			exchange_batch_siblings = 8;
int			exchange_ack_delay = 0;
int			exchange_request_timeout = 10000;
int			exchange_expiry_interval = 1000;
bool		exchange_acknowledger = true;
bool		exchange_row_places = true;
bool		exchange_index_order = true;
bool		exchange_index_pages = true;
int			exchange_index_generic_min = 8;
int			exchange_wal_segments_ahead = 2;
int			exchange_writeback_interval = 1000;
int			exchange_extend_ahead = 512;
int			exchange_debug_handover_delay = 0;
int			exchange_debug_wake_delay = 0;

/* Define every exchange.* setting; capacities are fixed at server start. */
void
GucInit(void)
{
	DefineCustomStringVariable("exchange.database",
							   "Database whose exchange extension the engine serves.",
							   NULL, &exchange_database, "postgres",
							   PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("exchange.max_assets",
							"Most assets the engine can hold.",
							NULL, &exchange_max_assets, 256, 1, 65536,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("exchange.max_markets",
							"Most markets the engine can hold.",
							NULL, &exchange_max_markets, 256, 1, 65536,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("exchange.max_accounts",
							"Most accounts the engine can hold.",
							NULL, &exchange_max_accounts, 1000000, 16,
							100000000, PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("exchange.max_balances",
							"Most (account, asset) balances the engine caches.",
							NULL, &exchange_max_balances, 1000000, 16,
							200000000, PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("exchange.max_orders",
							"Most orders that can rest on the books at once.",
							NULL, &exchange_max_orders, 1000000, 16,
							100000000, PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("exchange.max_price_levels",
							"Most distinct price levels across all books.",
							NULL, &exchange_max_price_levels, 200000, 16,
							100000000, PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("exchange.queue_size",
							"Requests that can wait for the engine at once.",
							NULL, &exchange_queue_size, 8192, 16, 1048576,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("exchange.batch_size",
							"Most requests the engine commits in one transaction.",
							NULL, &exchange_batch_size, 4096, 1, 65536,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("exchange.batch_delay",
							"Microseconds the engine waits for more requests when it finds only a few (like commit_delay).",
							"Fewer, larger batches cost less per request (one transaction, one commit, one wake-up of the engine) at the price of this much latency for the requests that found the engine idle; 0: no wait.",
							&exchange_batch_delay, 200, 0, 10000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("exchange.batch_siblings",
							"Callers that must be elsewhere for the engine to wait exchange.batch_delay (like commit_siblings).",
							"Callers that made requests in the last 100 ms and are neither in the batch nor waiting for their answers to become durable: only they can arrive during the wait.",
							&exchange_batch_siblings, 8, 0, 1000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("exchange.ack_delay",
							"Microseconds the acknowledger waits after a round before the next flush and standby wait, when other callers can still arrive.",
							"One flush here and one on the synchronous standby then serve more batches; the same exchange.batch_siblings rule decides whether others can arrive.  0: the next round starts at once.",
							&exchange_ack_delay, 0, 0, 10000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("exchange.request_timeout",
							"How long a request function waits for the engine's answer.",
							NULL, &exchange_request_timeout, 10000, 10,
							3600000, PGC_USERSET, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("exchange.expiry_interval",
							"How often the engine expires good-till-date orders.",
							NULL, &exchange_expiry_interval, 1000, 10,
							3600000, PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomBoolVariable("exchange.acknowledger",
							 "Callers are woken by the acknowledger once their batch is durable.",
							 "Off: the engine wakes them as soon as it has committed and each waits for the flush and the synchronous standby itself (more wake-ups per request; for comparison).",
							 &exchange_acknowledger, true,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("exchange.row_places",
							 "The engine updates and deletes its rows at the TID it remembered for them.",
							 "Off: it finds every row through its primary key, as SQL would (for comparison, or to rule the shortcut out).",
							 &exchange_row_places, true,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("exchange.index_order",
							 "The engine inserts a batch's new index entries one index at a time, each B-tree's in its key order.",
							 "Off: row by row in the batch's order, as ExecInsertIndexTuples does (for comparison; the same entries).",
							 &exchange_index_order, true,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("exchange.index_pages",
							 "The engine inserts a batch's sorted B-tree entries page by page: one descent per leaf page, not one per entry.",
							 "Off: each entry through index_insert, descending from the root or the cached rightmost leaf (for comparison; the same entries and WAL records).",
							 &exchange_index_pages, true,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("exchange.index_generic_min",
							"With exchange.index_pages, a B-tree leaf that gets at least this many of a batch's new entries is logged as one generic WAL record of the page's changed bytes.",
							"A leaf with fewer, and every leaf when 0: one B-tree leaf-insert record per entry.",
							&exchange_index_generic_min, 8, 0, 100000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("exchange.wal_segments_ahead",
							"WAL segment files kept ready after the one being written.",
							"The WAL preparer creates them before a writer needs one; 0: writers create each as they reach it, holding WALWriteLock meanwhile.",
							&exchange_wal_segments_ahead, 2, 0, 64,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("exchange.writeback_interval",
							"How often the exchange's dirty relation pages are handed to the kernel for writing.",
							"The writeback pacer starts writing them back every interval, on primaries and hot standbys; 0: the kernel writes them on its own schedule, all of a file's at once.",
							&exchange_writeback_interval, 1000, 0, 3600000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("exchange.extend_ahead",
							"Empty pages kept at the end of the tables the engine appends to, on a primary.",
							"The writeback worker adds half this many when fewer than half remain, so that the engine seldom extends a table itself; only tables of at least 16 times this many pages. 0: the engine extends them as it goes.",
							&exchange_extend_ahead, 512, 0, 900,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("exchange.debug_handover_delay",
							"For tests only: how long the engine waits between answering a batch's callers and handing them over to be woken.",
							"Holds open the moment when a caller's answers are in its mailbox but nobody yet holds it for a wake-up, so that make wakeup-test can show such a caller is not counted as unwoken.  0 in any real use.",
							&exchange_debug_handover_delay, 0, 0, 10000,
							PGC_SIGHUP, GUC_UNIT_MS | GUC_NOT_IN_SAMPLE,
							NULL, NULL, NULL);
	DefineCustomIntVariable("exchange.debug_wake_delay",
							"For tests only: how long the acknowledger waits between taking durable callers off its ring and waking them.",
							"Holds open the moment when a caller's answers are durable and its entry taken but its latch not yet set, so that make wakeup-test can show such a caller is not counted as unwoken.  0 in any real use.",
							&exchange_debug_wake_delay, 0, 0, 10000,
							PGC_SIGHUP, GUC_UNIT_MS | GUC_NOT_IN_SAMPLE,
							NULL, NULL, NULL);
	MarkGUCPrefixReserved("exchange");
}
