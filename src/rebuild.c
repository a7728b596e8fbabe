#include "exchange.h"

#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

/* Has CREATE EXTENSION exchange committed here?  (In a transaction.) */
bool
RebuildExtensionExists(void)
{
	return OidIsValid(get_extension_oid("exchange", true));
}

/* Fail the rebuild: the tables do not describe a valid exchange. */
static void
RebuildFail(const CoreError *err)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("cannot rebuild the exchange from its tables: %s",
					err->message),
			 err->detail[0] ? errdetail("%s", err->detail) : 0));
}

static int64
GetInt64(HeapTuple tup, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	return isnull ? 0 : DatumGetInt64(d);
}

static int32
GetInt32(HeapTuple tup, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	return isnull ? 0 : DatumGetInt32(d);
}

/* Run a query through a cursor, calling fn for each row. */
static void
RebuildScan(const char *sql, void (*fn) (Core *core, HeapTuple tup,
										 TupleDesc desc), Core *core)
{
	Portal		portal;

	portal = SPI_cursor_open_with_args(NULL, sql, 0, NULL, NULL, NULL, true, 0);
	for (;;)
	{
		SPI_cursor_fetch(portal, true, 10000);
		if (SPI_processed == 0)
			break;
		for (uint64 i = 0; i < SPI_processed; i++)
			fn(core, SPI_tuptable->vals[i], SPI_tuptable->tupdesc);
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
}

static void
LoadAsset(Core *core, HeapTuple tup, TupleDesc desc)
{
	CoreError	err;
	int32		id = GetInt32(tup, desc, 1);

	if (id != CoreAssetCount(core) + 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("cannot rebuild the exchange: asset ids are not 1..n")));
	if (CoreAddAsset(core, id, SPI_getvalue(tup, desc, 2),
					 GetInt32(tup, desc, 3), &err) != CORE_OK)
		RebuildFail(&err);
}

static void
LoadMarket(Core *core, HeapTuple tup, TupleDesc desc)
{
	CoreError	err;
	int32		id = GetInt32(tup, desc, 1);
	bool		isnull;

	if (id != CoreMarketCount(core) + 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("cannot rebuild the exchange: market ids are not 1..n")));
	if (CoreAddMarket(core, id, SPI_getvalue(tup, desc, 2),
					  SPI_getvalue(tup, desc, 3), SPI_getvalue(tup, desc, 4),
					  SPI_getvalue(tup, desc, 5), SPI_getvalue(tup, desc, 6),
					  GetInt32(tup, desc, 7), GetInt32(tup, desc, 8),
					  SPI_getvalue(tup, desc, 9), &err) != CORE_OK)
		RebuildFail(&err);
	if (DatumGetBool(SPI_getbinval(tup, desc, 10, &isnull)))
		CoreSetHalted(core, CoreMarketCount(core) - 1, true, &err);
}

static void
LoadAccount(Core *core, HeapTuple tup, TupleDesc desc)
{
	CoreError	err;
	int64		id = GetInt64(tup, desc, 1);

	/* the fee account exists in every core */
	if (CoreHasAccount(core, id))
		return;
	if (CoreAddAccount(core, id, &err) != CORE_OK)
		RebuildFail(&err);
}

static void
LoadBalance(Core *core, HeapTuple tup, TupleDesc desc)
{
	CoreError	err;

	if (CoreLoadBalance(core, GetInt64(tup, desc, 1),
						GetInt32(tup, desc, 2) - 1, GetInt64(tup, desc, 3),
						GetInt64(tup, desc, 4), &err) != CORE_OK)
		RebuildFail(&err);
}

static void
LoadOrder(Core *core, HeapTuple tup, TupleDesc desc)
{
	CoreError	err;
	CoreOrder	o;
	int64		id = GetInt64(tup, desc, 1);
	int32		market = CoreFindMarketById(core, GetInt32(tup, desc, 3));
	int32		side = GetInt32(tup, desc, 4);
	int32		stp = GetInt32(tup, desc, 6);

	/* the order keeps these in a few bits: check them before they are cut */
	if (market == CORE_NO_INDEX || (side != CORE_BUY && side != CORE_SELL) ||
		stp < CORE_STP_CANCEL_TAKER || stp > CORE_STP_CANCEL_BOTH)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("cannot rebuild the exchange from its tables: "
						"order %lld cannot rest", (long long) id),
				 errdetail("market_id %d (%s), side %d, stp %d.",
						   GetInt32(tup, desc, 3),
						   market == CORE_NO_INDEX ? "unknown" : "known",
						   side, stp)));

	memset(&o, 0, sizeof(o));
	o.id = id;
	o.account = GetInt64(tup, desc, 2);
	o.market = (uint16) market;
	o.side = (uint8) side;
	o.type = CORE_LIMIT;
	o.tif = CORE_GTC;
	o.post_only = GetInt32(tup, desc, 5) != 0;
	o.stp = (uint8) stp;
	o.price = GetInt64(tup, desc, 7);
	o.quantity = GetInt64(tup, desc, 8);
	o.filled = GetInt64(tup, desc, 9);
	o.filled_quote = GetInt64(tup, desc, 10);
	o.status = (uint8) GetInt32(tup, desc, 11);
	CoreOrderSetLimits(&o, 0, GetInt64(tup, desc, 12));
	if (CoreRestoreOrder(core, &o, &err) != CORE_OK)
		RebuildFail(&err);
}

static int64
NextId(const char *sql)
{
	bool		isnull;

	if (SPI_execute(sql, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read \"%s\"", sql);
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
									   SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * Load assets, markets, accounts, balances and resting orders into an
 * empty core, in time priority, and the next ids.  Caller holds a
 * transaction, a snapshot and an SPI connection.
 */
void
RebuildCore(Core *core)
{
	uint64		seed;

	CoreReset(core);
	/* the levels' trees get priorities nobody placing orders can predict */
	if (!pg_strong_random(&seed, sizeof(seed)))
		seed = (uint64) GetCurrentTimestamp() ^ ((uint64) MyProcPid << 32);
	CoreSeedLevels(core, seed);
	RebuildScan("SELECT asset_id, code, scale FROM exchange.asset"
				" ORDER BY asset_id", LoadAsset, core);
	RebuildScan("SELECT m.market_id, m.symbol, b.code, q.code,"
				" m.tick_size::text, m.lot_size::text, m.maker_fee_bps,"
				" m.taker_fee_bps, m.min_notional::text, m.halted"
				" FROM exchange.market m"
				" JOIN exchange.asset b ON b.asset_id = m.base_asset_id"
				" JOIN exchange.asset q ON q.asset_id = m.quote_asset_id"
				" ORDER BY m.market_id", LoadMarket, core);
	RebuildScan("SELECT account_id FROM exchange.account ORDER BY account_id",
				LoadAccount, core);
	RebuildScan("SELECT account_id, asset_id, available, locked"
				" FROM exchange.balance_record", LoadBalance, core);
	RebuildScan("SELECT o.order_id, o.account_id, o.market_id,"
				" (o.side = 'sell')::int, o.post_only::int,"
				" array_position(ARRAY['cancel_taker','cancel_maker','cancel_both']::exchange.stp_mode[], o.stp) - 1,"
				" o.price_ticks, o.quantity_lots, o.filled_lots, o.filled_quote,"
				" CASE o.status WHEN 'open' THEN 0 WHEN 'partially_filled' THEN 1 ELSE 9 END,"
				" o.expire_at"
				" FROM exchange.open_order b JOIN exchange.order_record o USING (order_id)"
				" ORDER BY o.order_id", LoadOrder, core);
	/* balances the orders needed but the table lacked stay dirty: written next */

	Counters.next_order_id = NextId("SELECT coalesce(max(order_id), 0) + 1 FROM exchange.order_record");
	Counters.next_trade_id = NextId("SELECT coalesce(max(trade_id), 0) + 1 FROM exchange.trade_record");
	Counters.next_account_id = NextId("SELECT coalesce(max(account_id), 0) + 1 FROM exchange.account");
	Counters.next_deposit_id = NextId("SELECT coalesce(max(deposit_id), 0) + 1 FROM exchange.deposit_record");
}
