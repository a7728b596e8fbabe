#include "exchange.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#define MAX_COLUMNS 20

/* Rows of one table collected column by column, written as arrays. */
typedef struct Columns
{
	int			ncols;
	int			n;
	int			cap;
	Oid			types[MAX_COLUMNS];
	Datum	   *vals[MAX_COLUMNS];
	bool	   *nulls[MAX_COLUMNS];
} Columns;

struct BatchWrites
{
	MemoryContext cxt;
	Columns		orders;			/* new orders, inserted */
	Columns		order_updates;	/* known orders whose state changed */
	Columns		book_inserts;	/* orders that came to rest: open_order */
	Columns		book_deletes;	/* resting orders that left the book */
	Columns		trades;
	Columns		balances;		/* new balance rows, inserted */
	Columns		balance_updates;
	Columns		deposits;
	Columns		accounts;
	List	   *statements;		/* rare catalogue writes, in order */
};

/* A catalogue write: SQL with its arguments. */
typedef struct Statement
{
	const char *sql;
	int			nargs;
	Oid			types[12];
	Datum		values[12];
	char		nulls[12];
} Statement;

static const Oid order_types[] = {
	INT8OID, INT8OID, INT4OID, INT4OID, INT4OID, INT4OID, BOOLOID, INT4OID,
	INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, INT4OID, TEXTOID,
	TIMESTAMPTZOID
};
static const Oid trade_types[] = {
	INT8OID, INT4OID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID,
	INT8OID, INT8OID, INT4OID, INT8OID, INT8OID
};
static const Oid order_update_types[] = {INT8OID, INT8OID, INT8OID, INT8OID, INT4OID};
static const Oid book_insert_types[] = {INT8OID, INT4OID, INT4OID, INT8OID};
static const Oid book_delete_types[] = {INT8OID};
static const Oid balance_types[] = {INT8OID, INT4OID, INT8OID, INT8OID};
static const Oid deposit_types[] = {INT8OID, INT8OID, INT4OID, INT8OID, TEXTOID};
static const Oid account_types[] = {INT8OID, TEXTOID};

static SPIPlanPtr order_plan = NULL;
static SPIPlanPtr order_update_plan = NULL;
static SPIPlanPtr book_insert_plan = NULL;
static SPIPlanPtr book_delete_plan = NULL;
static SPIPlanPtr balance_update_plan = NULL;
static SPIPlanPtr trade_plan = NULL;
static SPIPlanPtr balance_plan = NULL;
static SPIPlanPtr deposit_plan = NULL;
static SPIPlanPtr account_plan = NULL;

static void
ColumnsInit(Columns *c, int ncols, const Oid *types)
{
	c->ncols = ncols;
	c->n = 0;
	c->cap = 0;
	for (int i = 0; i < ncols; i++)
	{
		c->types[i] = types[i];
		c->vals[i] = NULL;
		c->nulls[i] = NULL;
	}
}

/* Append a row of all-NULL values; returns its index. */
static int
ColumnsAddRow(Columns *c, MemoryContext cxt)
{
	if (c->n == c->cap)
	{
		int			cap = c->cap == 0 ? 64 : c->cap * 2;

		for (int i = 0; i < c->ncols; i++)
		{
			if (c->cap == 0)
			{
				c->vals[i] = MemoryContextAlloc(cxt, sizeof(Datum) * cap);
				c->nulls[i] = MemoryContextAlloc(cxt, sizeof(bool) * cap);
			}
			else
			{
				c->vals[i] = repalloc(c->vals[i], sizeof(Datum) * cap);
				c->nulls[i] = repalloc(c->nulls[i], sizeof(bool) * cap);
			}
		}
		c->cap = cap;
	}
	for (int i = 0; i < c->ncols; i++)
		c->nulls[i][c->n] = true;
	return c->n++;
}

static inline void
ColumnSet(Columns *c, int col, int row, Datum value)
{
	c->vals[col][row] = value;
	c->nulls[col][row] = false;
}

/* The column as a one-dimensional array Datum. */
static Datum
ColumnArray(Columns *c, int col)
{
	int			dims[1] = {c->n};
	int			lbs[1] = {1};
	int16		typlen;
	bool		typbyval;
	char		typalign;

	get_typlenbyvalalign(c->types[col], &typlen, &typbyval, &typalign);
	return PointerGetDatum(construct_md_array(c->vals[col], c->nulls[col], 1,
											  dims, lbs, c->types[col],
											  typlen, typbyval, typalign));
}

/* Run a kept plan over the collected rows, plus trailing scalar args. */
static void
ColumnsWrite(Columns *c, SPIPlanPtr *plan, const char *sql,
			 int nextra, const Oid *extra_types, const Datum *extra)
{
	Oid			types[MAX_COLUMNS + 2];
	Datum		args[MAX_COLUMNS + 2];
	int			nargs = c->ncols + nextra;
	int			rc;

	if (c->n == 0)
		return;
	for (int i = 0; i < c->ncols; i++)
	{
		types[i] = get_array_type(c->types[i]);
		args[i] = ColumnArray(c, i);
	}
	for (int i = 0; i < nextra; i++)
	{
		types[c->ncols + i] = extra_types[i];
		args[c->ncols + i] = extra[i];
	}
	if (*plan == NULL)
	{
		SPIPlanPtr	p = SPI_prepare(sql, nargs, types);

		if (p == NULL)
			elog(ERROR, "SPI_prepare failed: %s",
				 SPI_result_code_string(SPI_result));
		SPI_keepplan(p);
		*plan = p;
	}
	rc = SPI_execute_plan(*plan, args, NULL, false, 0);
	if (rc < 0)
		elog(ERROR, "exchange batch write failed: %s",
			 SPI_result_code_string(rc));
	/* an update that misses a row means the core and tables disagree */
	if (SPI_processed != (uint64) c->n)
		elog(ERROR, "exchange batch wrote %llu of %d rows: \"%s\"",
			 (unsigned long long) SPI_processed, c->n, sql);
}

/* Start collecting a batch's rows in cxt. */
BatchWrites *
PersistBegin(MemoryContext cxt)
{
	BatchWrites *w = MemoryContextAllocZero(cxt, sizeof(BatchWrites));

	w->cxt = cxt;
	ColumnsInit(&w->orders, lengthof(order_types), order_types);
	ColumnsInit(&w->order_updates, lengthof(order_update_types),
				order_update_types);
	ColumnsInit(&w->balance_updates, lengthof(balance_types), balance_types);
	ColumnsInit(&w->book_inserts, lengthof(book_insert_types),
				book_insert_types);
	ColumnsInit(&w->book_deletes, lengthof(book_delete_types),
				book_delete_types);
	ColumnsInit(&w->trades, lengthof(trade_types), trade_types);
	ColumnsInit(&w->balances, lengthof(balance_types), balance_types);
	ColumnsInit(&w->deposits, lengthof(deposit_types), deposit_types);
	ColumnsInit(&w->accounts, lengthof(account_types), account_types);
	w->statements = NIL;
	return w;
}

/* An order's state after the batch: a new row, or an update of a known one. */
void
PersistOrder(BatchWrites *w, const CoreOrder *o, const char *client_order_id,
			 bool is_new)
{
	Columns    *c;
	int			r;
	const CoreMarket *m = CoreGetMarket(Exchange->core, o->market);
	bool		resting = (o->status == CORE_OPEN ||
						   o->status == CORE_PARTIALLY_FILLED);

	/*
	 * Only resting orders are touched again, so a known order was on the
	 * book before this batch: it leaves open_order when it closes.  A new
	 * one joins it if it still rests.
	 */
	if (is_new && resting)
	{
		c = &w->book_inserts;
		r = ColumnsAddRow(c, w->cxt);
		ColumnSet(c, 0, r, Int64GetDatum(o->id));
		ColumnSet(c, 1, r, Int32GetDatum(m->id));
		ColumnSet(c, 2, r, Int32GetDatum(o->side));
		ColumnSet(c, 3, r, Int64GetDatum(o->price));
	}
	else if (!is_new && !resting)
	{
		c = &w->book_deletes;
		r = ColumnsAddRow(c, w->cxt);
		ColumnSet(c, 0, r, Int64GetDatum(o->id));
	}

	if (!is_new)
	{
		c = &w->order_updates;
		r = ColumnsAddRow(c, w->cxt);
		ColumnSet(c, 0, r, Int64GetDatum(o->id));
		ColumnSet(c, 1, r, Int64GetDatum(o->quantity));
		ColumnSet(c, 2, r, Int64GetDatum(o->filled));
		ColumnSet(c, 3, r, Int64GetDatum(o->filled_quote));
		ColumnSet(c, 4, r, Int32GetDatum(o->status));
		return;
	}
	c = &w->orders;
	r = ColumnsAddRow(c, w->cxt);
	ColumnSet(c, 0, r, Int64GetDatum(o->id));
	ColumnSet(c, 1, r, Int64GetDatum(o->account));
	ColumnSet(c, 2, r, Int32GetDatum(m->id));
	ColumnSet(c, 3, r, Int32GetDatum(o->side));
	ColumnSet(c, 4, r, Int32GetDatum(o->type));
	ColumnSet(c, 5, r, Int32GetDatum(o->tif));
	ColumnSet(c, 6, r, BoolGetDatum(o->post_only));
	ColumnSet(c, 7, r, Int32GetDatum(o->stp));
	if (o->type == CORE_LIMIT)
		ColumnSet(c, 8, r, Int64GetDatum(o->price));
	ColumnSet(c, 9, r, Int64GetDatum(o->quantity));
	ColumnSet(c, 10, r, Int64GetDatum(o->filled));
	ColumnSet(c, 11, r, Int64GetDatum(o->filled_quote));
	if (o->quote_limit != 0)
		ColumnSet(c, 12, r, Int64GetDatum(o->quote_limit));
	ColumnSet(c, 13, r, Int32GetDatum(o->status));
	if (client_order_id != NULL)
		ColumnSet(c, 14, r, CStringGetTextDatum(client_order_id));
	if (o->expire_at != 0)
		ColumnSet(c, 15, r, TimestampTzGetDatum(o->expire_at));
}

void
PersistTrade(BatchWrites *w, const CoreTrade *t)
{
	Columns    *c = &w->trades;
	int			r = ColumnsAddRow(c, w->cxt);

	ColumnSet(c, 0, r, Int64GetDatum(t->id));
	ColumnSet(c, 1, r, Int32GetDatum(CoreGetMarket(Exchange->core, t->market)->id));
	ColumnSet(c, 2, r, Int64GetDatum(t->price));
	ColumnSet(c, 3, r, Int64GetDatum(t->lots));
	ColumnSet(c, 4, r, Int64GetDatum(t->base_units));
	ColumnSet(c, 5, r, Int64GetDatum(t->quote_units));
	ColumnSet(c, 6, r, Int64GetDatum(t->maker_order));
	ColumnSet(c, 7, r, Int64GetDatum(t->taker_order));
	ColumnSet(c, 8, r, Int64GetDatum(t->maker_account));
	ColumnSet(c, 9, r, Int64GetDatum(t->taker_account));
	ColumnSet(c, 10, r, Int32GetDatum(t->taker_side));
	ColumnSet(c, 11, r, Int64GetDatum(t->maker_fee));
	ColumnSet(c, 12, r, Int64GetDatum(t->taker_fee));
}

void
PersistDeposit(BatchWrites *w, int64 id, int64 account, int32 asset_id,
			   int64 units, const char *reference)
{
	Columns    *c = &w->deposits;
	int			r = ColumnsAddRow(c, w->cxt);

	ColumnSet(c, 0, r, Int64GetDatum(id));
	ColumnSet(c, 1, r, Int64GetDatum(account));
	ColumnSet(c, 2, r, Int32GetDatum(asset_id));
	ColumnSet(c, 3, r, Int64GetDatum(units));
	ColumnSet(c, 4, r, CStringGetTextDatum(reference));
}

void
PersistAccount(BatchWrites *w, int64 id, const char *external_ref)
{
	Columns    *c = &w->accounts;
	int			r = ColumnsAddRow(c, w->cxt);

	ColumnSet(c, 0, r, Int64GetDatum(id));
	if (external_ref != NULL)
		ColumnSet(c, 1, r, CStringGetTextDatum(external_ref));
}

/* Queue a catalogue statement, run in order at flush. */
static Statement *
StatementAdd(BatchWrites *w, const char *sql, int nargs)
{
	MemoryContext old = MemoryContextSwitchTo(w->cxt);
	Statement  *s = palloc0(sizeof(Statement));

	s->sql = sql;
	s->nargs = nargs;
	memset(s->nulls, ' ', sizeof(s->nulls));
	w->statements = lappend(w->statements, s);
	MemoryContextSwitchTo(old);
	return s;
}

void
PersistAsset(BatchWrites *w, const CoreAsset *a)
{
	Statement  *s = StatementAdd(w,
								 "INSERT INTO exchange.asset (asset_id, code, scale)"
								 " VALUES ($1, $2, $3)", 3);
	MemoryContext old = MemoryContextSwitchTo(w->cxt);

	s->types[0] = INT4OID;
	s->values[0] = Int32GetDatum(a->id);
	s->types[1] = TEXTOID;
	s->values[1] = CStringGetTextDatum(a->code);
	s->types[2] = INT4OID;
	s->values[2] = Int32GetDatum(a->scale);
	MemoryContextSwitchTo(old);
}

void
PersistMarket(BatchWrites *w, const CoreMarket *m, const char *tick,
			  const char *lot, const char *min_notional)
{
	Statement  *s = StatementAdd(w,
								 "INSERT INTO exchange.market (market_id, symbol,"
								 " base_asset_id, quote_asset_id, tick_size, lot_size,"
								 " maker_fee_bps, taker_fee_bps, min_notional)"
								 " VALUES ($1, $2, $3, $4, $5::numeric, $6::numeric,"
								 " $7, $8, $9::numeric)", 9);
	MemoryContext old = MemoryContextSwitchTo(w->cxt);
	Oid			types[9] = {INT4OID, TEXTOID, INT4OID, INT4OID, TEXTOID,
	TEXTOID, INT4OID, INT4OID, TEXTOID};

	memcpy(s->types, types, sizeof(types));
	s->values[0] = Int32GetDatum(m->id);
	s->values[1] = CStringGetTextDatum(m->symbol);
	s->values[2] = Int32GetDatum(CoreGetAsset(Exchange->core, m->base)->id);
	s->values[3] = Int32GetDatum(CoreGetAsset(Exchange->core, m->quote)->id);
	s->values[4] = CStringGetTextDatum(tick);
	s->values[5] = CStringGetTextDatum(lot);
	s->values[6] = Int32GetDatum(m->maker_fee_bps);
	s->values[7] = Int32GetDatum(m->taker_fee_bps);
	s->values[8] = CStringGetTextDatum(min_notional);
	MemoryContextSwitchTo(old);
}

void
PersistHalted(BatchWrites *w, int32 market_id, bool halted)
{
	Statement  *s = StatementAdd(w,
								 "UPDATE exchange.market SET halted = $2 WHERE market_id = $1",
								 2);

	s->types[0] = INT4OID;
	s->values[0] = Int32GetDatum(market_id);
	s->types[1] = BOOLOID;
	s->values[1] = BoolGetDatum(halted);
}

/* Write the batch: catalogue first, then the multi-row writes. */
void
PersistFlush(BatchWrites *w, Core *core, TimestampTz now)
{
	ListCell   *lc;
	Datum		ts = TimestampTzGetDatum(now);
	Oid			ts_type = TIMESTAMPTZOID;
	int32		nbal = CoreDirtyCount(core);

	foreach(lc, w->statements)
	{
		Statement  *s = lfirst(lc);
		int			rc = SPI_execute_with_args(s->sql, s->nargs, s->types,
											   s->values, s->nulls, false, 0);

		if (rc < 0)
			elog(ERROR, "exchange catalogue write failed: %s",
				 SPI_result_code_string(rc));
	}

	ColumnsWrite(&w->accounts, &account_plan,
				 "INSERT INTO exchange.account (account_id, external_ref, created_at)"
				 " SELECT a, r, $3 FROM unnest($1, $2) AS u(a, r)",
				 1, &ts_type, &ts);

	ColumnsWrite(&w->orders, &order_plan,
				 "INSERT INTO exchange.order_record AS o (order_id, account_id,"
				 " market_id, side, type, time_in_force, post_only, stp,"
				 " price_ticks, quantity_lots, filled_lots, filled_quote,"
				 " quote_limit, status, client_order_id, expire_at,"
				 " created_at, updated_at)"
				 " SELECT id, acc, mkt,"
				 " CASE side WHEN 0 THEN 'buy'::exchange.side ELSE 'sell' END,"
				 " CASE typ WHEN 0 THEN 'limit'::exchange.order_type ELSE 'market' END,"
				 " CASE tif WHEN 0 THEN 'gtc'::exchange.time_in_force"
				 "  WHEN 1 THEN 'ioc' ELSE 'fok' END,"
				 " po,"
				 " CASE stp WHEN 0 THEN 'cancel_taker'::exchange.stp_mode"
				 "  WHEN 1 THEN 'cancel_maker' ELSE 'cancel_both' END,"
				 " price, qty, filled, fq, ql,"
				 " CASE st WHEN 0 THEN 'open'::exchange.order_status"
				 "  WHEN 1 THEN 'partially_filled' WHEN 2 THEN 'filled'"
				 "  WHEN 3 THEN 'cancelled' WHEN 4 THEN 'rejected'"
				 "  ELSE 'expired' END,"
				 " coid, exp, $17, $17"
				 " FROM unnest($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,"
				 "  $12, $13, $14, $15, $16)"
				 "  AS u(id, acc, mkt, side, typ, tif, po, stp, price, qty,"
				 "  filled, fq, ql, st, coid, exp)",
				 1, &ts_type, &ts);

	ColumnsWrite(&w->order_updates, &order_update_plan,
				 "UPDATE exchange.order_record o SET quantity_lots = u.qty,"
				 " filled_lots = u.filled, filled_quote = u.fq,"
				 " status = CASE u.st WHEN 0 THEN 'open'::exchange.order_status"
				 "  WHEN 1 THEN 'partially_filled' WHEN 2 THEN 'filled'"
				 "  WHEN 3 THEN 'cancelled' WHEN 4 THEN 'rejected'"
				 "  ELSE 'expired' END,"
				 " updated_at = $6"
				 " FROM unnest($1, $2, $3, $4, $5) AS u(id, qty, filled, fq, st)"
				 " WHERE o.order_id = u.id",
				 1, &ts_type, &ts);

	ColumnsWrite(&w->book_inserts, &book_insert_plan,
				 "INSERT INTO exchange.open_order (order_id, market_id, side, price_ticks)"
				 " SELECT id, mkt,"
				 " CASE side WHEN 0 THEN 'buy'::exchange.side ELSE 'sell' END, price"
				 " FROM unnest($1, $2, $3, $4) AS u(id, mkt, side, price)",
				 0, NULL, NULL);
	ColumnsWrite(&w->book_deletes, &book_delete_plan,
				 "DELETE FROM exchange.open_order WHERE order_id = ANY ($1)",
				 0, NULL, NULL);

	ColumnsWrite(&w->trades, &trade_plan,
				 "INSERT INTO exchange.trade_record (trade_id, market_id,"
				 " price_ticks, lots, base_amount, quote_amount, maker_order_id,"
				 " taker_order_id, maker_account_id, taker_account_id,"
				 " taker_side, maker_fee, taker_fee, executed_at)"
				 " SELECT id, mkt, price, lots, b, q, mo, t_o, ma, ta,"
				 " CASE side WHEN 0 THEN 'buy'::exchange.side ELSE 'sell' END,"
				 " mf, tf, $14"
				 " FROM unnest($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,"
				 "  $12, $13)"
				 "  AS u(id, mkt, price, lots, b, q, mo, t_o, ma, ta, side, mf, tf)",
				 1, &ts_type, &ts);

	ColumnsWrite(&w->deposits, &deposit_plan,
				 "INSERT INTO exchange.deposit_record (deposit_id, account_id,"
				 " asset_id, amount, reference, created_at)"
				 " SELECT * , $6 FROM unnest($1, $2, $3, $4, $5)",
				 1, &ts_type, &ts);

	if (nbal > 0)
	{
		CoreBalanceRow *rows = palloc(sizeof(CoreBalanceRow) * nbal);

		CoreDirtyBalances(core, rows, nbal);
		for (int i = 0; i < nbal; i++)
		{
			Columns    *c = rows[i].is_new ? &w->balances : &w->balance_updates;
			int			r = ColumnsAddRow(c, w->cxt);

			ColumnSet(c, 0, r, Int64GetDatum(rows[i].account));
			ColumnSet(c, 1, r,
					  Int32GetDatum(CoreGetAsset(core, rows[i].asset)->id));
			ColumnSet(c, 2, r, Int64GetDatum(rows[i].available));
			ColumnSet(c, 3, r, Int64GetDatum(rows[i].locked));
		}
		ColumnsWrite(&w->balances, &balance_plan,
					 "INSERT INTO exchange.balance_record (account_id, asset_id,"
					 " available, locked, updated_at)"
					 " SELECT a, s, av, lk, $5 FROM unnest($1, $2, $3, $4)"
					 "  AS u(a, s, av, lk)",
					 1, &ts_type, &ts);
		ColumnsWrite(&w->balance_updates, &balance_update_plan,
					 "UPDATE exchange.balance_record b SET available = u.av,"
					 " locked = u.lk, updated_at = $5"
					 " FROM unnest($1, $2, $3, $4) AS u(a, s, av, lk)"
					 " WHERE b.account_id = u.a AND b.asset_id = u.s",
					 1, &ts_type, &ts);
	}
	CoreClearDirty(core);
}
