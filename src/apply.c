#include "exchange.h"

#include "access/genam.h"
#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "catalog/pg_am_d.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

EngineCounters Counters;

/* An order touched in this batch: its latest state. */
typedef struct BatchOrder
{
	CoreOrder	order;
	bool		is_new;
	char		client_order_id[REQUEST_TEXT_LEN];
} BatchOrder;

/*
 * The batch's orders, in the order first touched, found by id through an
 * open addressing table of small entries (simplehash): dynahash's lookup
 * of every order snapshot the core reported was 2.8% of the engine's time
 * in place_orders (2026-11-24).
 */
typedef struct BatchOrderSlot
{
	int64		id;
	int32		index;			/* in batch_orders */
	char		status;			/* simplehash's */
} BatchOrderSlot;

#define SH_PREFIX		batch_ids
#define SH_ELEMENT_TYPE BatchOrderSlot
#define SH_KEY_TYPE		int64
#define SH_KEY			id
#define SH_HASH_KEY(tb, k)	Mix64((uint64) (k))
#define SH_EQUAL(tb, a, b) ((a) == (b))
#define SH_SCOPE		static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

/* client_order_id -> order id, from the table and from this batch. */
typedef struct ClientKey
{
	int64		account;
	char		id[REQUEST_TEXT_LEN];
} ClientKey;

typedef struct ClientEntry
{
	ClientKey	key;
	int64		order_id;
} ClientEntry;

/* deposit reference -> the deposit it made. */
typedef struct DepositEntry
{
	char		reference[REQUEST_TEXT_LEN];	/* key */
	int64		id;
	int64		account;
	int32		asset_id;
	int64		units;
} DepositEntry;

static MemoryContext batch_cxt = NULL;
static BatchOrder *batch_orders = NULL;
static int	batch_norders = 0;
static int	batch_maxorders = 0;
static batch_ids_hash *batch_ids = NULL;
static HTAB *client_ids = NULL;
static HTAB *deposit_refs = NULL;
static BatchWrites *writes = NULL;
static TimestampTz batch_now;

/* The order being placed right now: its first snapshot creates the row. */
static int64 placing_id = 0;
static const char *placing_client_id = NULL;

static SPIPlanPtr order_lookup_plan = NULL;
static SPIPlanPtr deposit_lookup_plan = NULL;
static SPIPlanPtr account_lookup_plan = NULL;

/* The batch's entry of an order, or NULL. */
static inline BatchOrder *
BatchOrderFind(int64 id)
{
	BatchOrderSlot *slot = batch_ids_lookup(batch_ids, id);

	return slot != NULL ? &batch_orders[slot->index] : NULL;
}

static void
SinkOrder(void *arg, const CoreOrder *o)
{
	bool		found;
	BatchOrderSlot *slot = batch_ids_insert(batch_ids, o->id, &found);
	BatchOrder *e;

	if (!found)
	{
		if (batch_norders == batch_maxorders)
		{
			batch_maxorders *= 2;
			batch_orders = repalloc(batch_orders,
									sizeof(BatchOrder) * batch_maxorders);
		}
		slot->index = batch_norders++;
	}
	e = &batch_orders[slot->index];
	if (!found)
	{
		e->is_new = (o->id == placing_id);
		e->client_order_id[0] = '\0';
		if (e->is_new && placing_client_id != NULL)
			strlcpy(e->client_order_id, placing_client_id,
					sizeof(e->client_order_id));
	}
	e->order = *o;
}

static void
SinkTrade(void *arg, const CoreTrade *t)
{
	PersistTrade(writes, t);
}

static const CoreSink sink = {SinkOrder, SinkTrade, NULL};

/* Start a batch: fresh per-batch maps in a context reset every batch. */
void
ApplyBegin(TimestampTz now)
{
	HASHCTL		ctl;

	if (batch_cxt == NULL)
		batch_cxt = AllocSetContextCreate(TopMemoryContext,
										  "exchange batch",
										  ALLOCSET_DEFAULT_SIZES);
	MemoryContextReset(batch_cxt);
	batch_now = now;

	batch_maxorders = 256;
	batch_norders = 0;
	batch_orders = MemoryContextAlloc(batch_cxt,
									  sizeof(BatchOrder) * batch_maxorders);
	batch_ids = batch_ids_create(batch_cxt, 256, NULL);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(ClientKey);
	ctl.entrysize = sizeof(ClientEntry);
	client_ids = hash_create("exchange client ids", 256, &ctl,
							 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	ctl.keysize = REQUEST_TEXT_LEN;
	ctl.entrysize = sizeof(DepositEntry);
	deposit_refs = hash_create("exchange deposit refs", 64, &ctl,
							   HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	writes = PersistBegin(batch_cxt);
}

/* Prepare and keep a plan for the engine's lifetime. */
static SPIPlanPtr
KeepPlan(SPIPlanPtr *plan, const char *sql, int nargs, Oid *types)
{
	if (*plan == NULL)
	{
		SPIPlanPtr	p = SPI_prepare(sql, nargs, types);

		if (p == NULL)
			elog(ERROR, "SPI_prepare failed for \"%s\": %s", sql,
				 SPI_result_code_string(SPI_result));
		SPI_keepplan(p);
		*plan = p;
	}
	return *plan;
}

static void
ClientKeySet(ClientKey *key, int64 account, const char *id)
{
	memset(key, 0, sizeof(*key));
	key->account = account;
	strlcpy(key->id, id, sizeof(key->id));
}

/*
 * The client_order_ids of a batch, looked up in order_record's unique
 * index on (account_id, client_order_id) directly: one index probe each,
 * no query (as SQL, this was a fifth of the engine's time for clients that
 * send ids).
 */
static void
PrefetchClientIds(const Datum *accounts, const Datum *ids, int n)
{
	Oid			nsp = get_namespace_oid("exchange", false);
	Oid			relid = get_relname_relid("order_record", nsp);
	Relation	rel;
	Relation	index = NULL;
	AttrNumber	account_att;
	AttrNumber	client_att;
	AttrNumber	order_att;
	List	   *indexes;
	ListCell   *lc;
	IndexScanDesc scan;
	TupleTableSlot *slot;
	ScanKeyData keys[2];

	if (!OidIsValid(relid))
		elog(ERROR, "exchange.order_record is missing");
	rel = table_open(relid, AccessShareLock);
	account_att = get_attnum(relid, "account_id");
	client_att = get_attnum(relid, "client_order_id");
	order_att = get_attnum(relid, "order_id");
	indexes = RelationGetIndexList(rel);
	foreach(lc, indexes)
	{
		Relation	i = index_open(lfirst_oid(lc), AccessShareLock);

		if (i->rd_index->indisunique && i->rd_index->indisvalid &&
			IndexRelationGetNumberOfKeyAttributes(i) == 2 &&
			i->rd_index->indkey.values[0] == account_att &&
			i->rd_index->indkey.values[1] == client_att &&
			i->rd_rel->relam == BTREE_AM_OID)
		{
			index = i;
			break;
		}
		index_close(i, AccessShareLock);
	}
	list_free(indexes);
	if (index == NULL)
		elog(ERROR, "exchange.order_record has no unique btree index on (account_id, client_order_id)");

	slot = table_slot_create(rel, NULL);
	scan = index_beginscan(rel, index, GetActiveSnapshot(), 2, 0);
	for (int i = 0; i < n; i++)
	{
		ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_INT8EQ, accounts[i]);
		/* the index's own collation, or the descent compares differently */
		ScanKeyEntryInitialize(&keys[1], 0, 2, BTEqualStrategyNumber,
							   InvalidOid, index->rd_indcollation[1],
							   F_TEXTEQ, ids[i]);
		index_rescan(scan, keys, 2, NULL, 0);
		if (index_getnext_slot(scan, ForwardScanDirection, slot))
		{
			ClientKey	key;
			ClientEntry *e;
			bool		isnull;
			Datum		order_id = slot_getattr(slot, order_att, &isnull);

			ClientKeySet(&key, DatumGetInt64(accounts[i]),
						 TextDatumGetCString(ids[i]));
			e = hash_search(client_ids, &key, HASH_ENTER, NULL);
			e->order_id = DatumGetInt64(order_id);
		}
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	index_close(index, AccessShareLock);
	table_close(rel, AccessShareLock);
}

/*
 * Tell the core what a later request of the batch will touch (core.h,
 * CorePrefetchOrderId and the others): first, two requests ahead, the hash
 * buckets; then, one request ahead, the entries they name.  A new order's
 * market is not looked up for it (a symbol hash per step, for balances
 * that are mostly in the cache anyway), so only its account is.
 */
void
ApplyHint(const Request *req, bool first)
{
	const Core *core = Exchange->core;

	switch (req->kind)
	{
		case REQ_PLACE:
			if (first)
				CorePrefetchAccountId(core, req->account, CORE_NO_INDEX);
			else
				CorePrefetchAccount(core, req->account, CORE_NO_INDEX);
			break;
		case REQ_CANCEL:
		case REQ_AMEND:
			if (first)
				CorePrefetchOrderId(core, req->order_id);
			else
				CorePrefetchOrder(core, req->order_id);
			break;
		default:
			break;
	}
}

/*
 * Look up every client_order_id and deposit reference the batch mentions
 * before applying it, so idempotency costs no query per request.
 */
void
ApplyPrefetch(const Request *batch, int n)
{
	Datum	   *accounts = palloc(sizeof(Datum) * Max(n, 1));
	Datum	   *ids = palloc(sizeof(Datum) * Max(n, 1));
	Datum	   *refs = palloc(sizeof(Datum) * Max(n, 1));
	int			nids = 0;
	int			nrefs = 0;

	for (int i = 0; i < n; i++)
	{
		if (batch[i].kind == REQ_PLACE && batch[i].has_text)
		{
			accounts[nids] = Int64GetDatum(batch[i].account);
			ids[nids++] = CStringGetTextDatum(batch[i].text);
		}
		else if (batch[i].kind == REQ_DEPOSIT && batch[i].has_text)
			refs[nrefs++] = CStringGetTextDatum(batch[i].text);
	}

	if (nids > 0)
		PrefetchClientIds(accounts, ids, nids);

	if (nrefs > 0)
	{
		Oid			types[1] = {TEXTARRAYOID};
		Datum		args[1];
		SPIPlanPtr	plan = KeepPlan(&deposit_lookup_plan,
									"SELECT reference, deposit_id, account_id,"
									" asset_id, amount FROM exchange.deposit_record"
									" WHERE reference = ANY ($1)",
									1, types);

		args[0] = PointerGetDatum(construct_array(refs, nrefs, TEXTOID, -1,
												  false, TYPALIGN_INT));
		if (SPI_execute_plan(plan, args, NULL, true, 0) != SPI_OK_SELECT)
			elog(ERROR, "deposit reference lookup failed");
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			HeapTuple	tup = SPI_tuptable->vals[r];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			bool		isnull;
			char		reference[REQUEST_TEXT_LEN];
			DepositEntry *e;

			memset(reference, 0, sizeof(reference));
			strlcpy(reference, SPI_getvalue(tup, desc, 1), sizeof(reference));
			e = hash_search(deposit_refs, reference, HASH_ENTER, NULL);
			e->id = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
			e->account = DatumGetInt64(SPI_getbinval(tup, desc, 3, &isnull));
			e->asset_id = DatumGetInt32(SPI_getbinval(tup, desc, 4, &isnull));
			e->units = DatumGetInt64(SPI_getbinval(tup, desc, 5, &isnull));
		}
	}
}

/* Fill an error answer from a core error. */
static void
RespondCoreError(Response *resp, const CoreError *err)
{
	int			sqlstate;

	switch (err->code)
	{
		case CORE_E_INSUFFICIENT:
			sqlstate = ERRCODE_EXCHANGE_INSUFFICIENT_FUNDS;
			break;
		case CORE_E_HALTED:
			sqlstate = ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE;
			break;
		case CORE_E_DUPLICATE:
			sqlstate = ERRCODE_DUPLICATE_OBJECT;
			break;
		case CORE_E_CAPACITY:
			sqlstate = ERRCODE_CONFIGURATION_LIMIT_EXCEEDED;
			break;
		case CORE_E_RANGE:
			sqlstate = ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE;
			break;
		case CORE_E_INTERNAL:
			/* the core may be half-changed: fail the batch and rebuild */
			elog(ERROR, "exchange core: %s", err->message);
			break;
		default:
			sqlstate = ERRCODE_INVALID_PARAMETER_VALUE;
			break;
	}
	ResponseClear(resp);
	resp->sqlstate = sqlstate;
	strlcpy(resp->message, err->message, sizeof(resp->message));
	strlcpy(resp->detail, err->detail, sizeof(resp->detail));
}

static void
RespondError(Response *resp, int sqlstate, const char *detail,
			 const char *fmt,...) pg_attribute_printf(4, 5);

static void
RespondError(Response *resp, int sqlstate, const char *detail,
			 const char *fmt,...)
{
	va_list		ap;

	ResponseClear(resp);
	resp->sqlstate = sqlstate;
	va_start(ap, fmt);
	vsnprintf(resp->message, sizeof(resp->message), fmt, ap);
	va_end(ap);
	if (detail)
		strlcpy(resp->detail, detail, sizeof(resp->detail));
}

/* Answer with an order's state. */
static void
RespondOrder(Response *resp, const CoreOrder *o)
{
	const CoreMarket *m = CoreGetMarket(Exchange->core, o->market);

	ResponseClear(resp);
	resp->id = o->id;
	resp->status = o->status;
	resp->base_scale = CoreGetAsset(Exchange->core, m->base)->scale;
	resp->quote_scale = CoreGetAsset(Exchange->core, m->quote)->scale;
	resp->executed_units = o->filled * m->lot_units;
	resp->remaining_units =
		(o->status == CORE_OPEN || o->status == CORE_PARTIALLY_FILLED) ?
		(o->quantity - o->filled) * m->lot_units : 0;
	resp->executed_quote = o->filled_quote;
}

/*
 * Answer with the current state of an order of this account: from this
 * batch, the books, or the table.  False when there is no such order.
 */
static bool
RespondExistingOrder(Response *resp, int64 account, int64 order_id)
{
	BatchOrder *b = BatchOrderFind(order_id);
	const CoreOrder *o;
	Oid			types[2] = {INT8OID, INT8OID};
	Datum		args[2];
	SPIPlanPtr	plan;
	CoreOrder	row;
	int32		market;
	bool		isnull;
	HeapTuple	tup;
	TupleDesc	desc;

	if (b != NULL)
	{
		if (b->order.account != account)
			return false;
		RespondOrder(resp, &b->order);
		return true;
	}
	o = CoreFindOrder(Exchange->core, order_id);
	if (o != NULL)
	{
		if (o->account != account)
			return false;
		RespondOrder(resp, o);
		return true;
	}

	plan = KeepPlan(&order_lookup_plan,
					"SELECT market_id, array_position(enum_range(NULL::exchange.order_status), status) - 1,"
					" quantity_lots, filled_lots, filled_quote"
					" FROM exchange.order_record WHERE order_id = $1 AND account_id = $2",
					2, types);
	args[0] = Int64GetDatum(order_id);
	args[1] = Int64GetDatum(account);
	if (SPI_execute_plan(plan, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "order lookup failed");
	if (SPI_processed == 0)
		return false;
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	market = CoreFindMarketById(Exchange->core,
								DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull)));
	if (market == CORE_NO_INDEX)
		elog(ERROR, "order %lld has an unknown market", (long long) order_id);
	memset(&row, 0, sizeof(row));
	row.id = order_id;
	row.account = account;
	row.market = (uint16) market;
	row.status = (uint8) DatumGetInt32(SPI_getbinval(tup, desc, 2, &isnull));
	row.quantity = DatumGetInt64(SPI_getbinval(tup, desc, 3, &isnull));
	row.filled = DatumGetInt64(SPI_getbinval(tup, desc, 4, &isnull));
	row.filled_quote = DatumGetInt64(SPI_getbinval(tup, desc, 5, &isnull));
	RespondOrder(resp, &row);
	return true;
}

static void
DecimalText(const FixedDecimal *d, char *buf, size_t len)
{
	FixedFormat(d->mantissa, d->scale, buf, len);
}

/*
 * Parse a decimal amount into whole multiples of step (mantissa at
 * step_scale); false with an error answer when it is not one.
 */
static bool
ParseMultiple(Response *resp, const char *what, const char *text,
			  const FixedDecimal *step, int64 *multiples)
{
	int64		units;
	FixedStatus st;

	if (text[0] == '\0')
	{
		*multiples = 0;
		return true;
	}
	st = FixedParse(text, step->scale, &units);
	if (st == FIXED_OK && units <= 0)
	{
		RespondError(resp, ERRCODE_INVALID_PARAMETER_VALUE, NULL,
					 "%s must be positive", what);
		return false;
	}
	if (st == FIXED_OVERFLOW)
	{
		RespondError(resp, ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE, NULL,
					 "%s %s is out of range", what, text);
		return false;
	}
	if (st == FIXED_TOO_PRECISE || (st == FIXED_OK && units % step->mantissa != 0))
	{
		char		detail[CORE_DETAIL_LEN];
		char		step_text[48];

		/* only here: formatting it for every order was 2% of the engine */
		DecimalText(step, step_text, sizeof(step_text));
		snprintf(detail, sizeof(detail),
				 "The %s must be a whole multiple of %s.", what, step_text);
		RespondError(resp, ERRCODE_INVALID_PARAMETER_VALUE, detail,
					 "%s %s is not a multiple of %s", what, text, step_text);
		return false;
	}
	if (st != FIXED_OK)
	{
		RespondError(resp, ERRCODE_INVALID_PARAMETER_VALUE, NULL,
					 "invalid %s: %s", what, FixedStatusText(st));
		return false;
	}
	*multiples = units / step->mantissa;
	return true;
}

/* Parse an amount of an asset into its units; false with an error answer. */
static bool
ParseAmount(Response *resp, const char *what, const char *text,
			const CoreAsset *asset, int64 *units)
{
	FixedStatus st = FixedParse(text, asset->scale, units);

	if (st == FIXED_OVERFLOW)
	{
		RespondError(resp, ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE, NULL,
					 "%s %s is out of range", what, text);
		return false;
	}
	if (st == FIXED_TOO_PRECISE)
	{
		char		detail[CORE_DETAIL_LEN];

		snprintf(detail, sizeof(detail),
				 "Asset %s keeps %d decimal places.", asset->code,
				 asset->scale);
		RespondError(resp, ERRCODE_INVALID_PARAMETER_VALUE, detail,
					 "%s %s has more decimal places than %s allows", what,
					 text, asset->code);
		return false;
	}
	if (st != FIXED_OK)
	{
		RespondError(resp, ERRCODE_INVALID_PARAMETER_VALUE, NULL,
					 "invalid %s: %s", what, FixedStatusText(st));
		return false;
	}
	if (*units <= 0)
	{
		RespondError(resp, ERRCODE_INVALID_PARAMETER_VALUE, NULL,
					 "%s must be positive", what);
		return false;
	}
	return true;
}

static void
ApplyPlace(const Request *req, Response *resp)
{
	Core	   *core = Exchange->core;
	int32		mi = CoreFindMarket(core, req->name);
	const CoreMarket *m;
	CoreOrderRequest o;
	CoreOrder	result;
	CoreError	err;

	if (mi == CORE_NO_INDEX)
	{
		RespondError(resp, ERRCODE_INVALID_PARAMETER_VALUE, NULL,
					 "unknown market \"%s\"", req->name);
		return;
	}
	m = CoreGetMarket(core, mi);
	if (!CoreHasAccount(core, req->account))
	{
		RespondError(resp, ERRCODE_INVALID_PARAMETER_VALUE, NULL,
					 "unknown account %lld", (long long) req->account);
		return;
	}
	if (req->has_text)
	{
		ClientKey	key;
		ClientEntry *e;

		ClientKeySet(&key, req->account, req->text);
		e = hash_search(client_ids, &key, HASH_FIND, NULL);
		if (e != NULL)
		{
			/* a repeat: place nothing, report the order as it is now */
			if (!RespondExistingOrder(resp, req->account, e->order_id))
				elog(ERROR, "order %lld of client_order_id \"%s\" vanished",
					 (long long) e->order_id, req->text);
			return;
		}
	}

	memset(&o, 0, sizeof(o));
	o.id = Counters.next_order_id;
	o.account = req->account;
	o.market = mi;
	o.side = req->side;
	o.type = req->type;
	o.tif = req->tif;
	o.stp = req->stp;
	o.post_only = req->post_only;
	o.expire_at = req->expire_at;
	o.now = batch_now;

	if (!ParseMultiple(resp, "quantity", req->quantity, &m->lot,
					   &o.quantity))
		return;
	if (!ParseMultiple(resp, "price", req->price, &m->tick, &o.price))
		return;
	if (req->quote_quantity[0] != '\0' &&
		!ParseAmount(resp, "quote_quantity", req->quote_quantity,
					 CoreGetAsset(core, m->quote), &o.quote_limit))
		return;

	placing_id = o.id;
	placing_client_id = req->has_text ? req->text : NULL;
	if (CorePlace(core, &o, &sink, &Counters.next_trade_id, &result,
				  &err) != CORE_OK)
	{
		placing_id = 0;
		RespondCoreError(resp, &err);
		return;
	}
	placing_id = 0;
	Counters.next_order_id++;
	if (req->has_text)
	{
		ClientKey	key;
		ClientEntry *e;

		ClientKeySet(&key, req->account, req->text);
		e = hash_search(client_ids, &key, HASH_ENTER, NULL);
		e->order_id = result.id;
	}
	RespondOrder(resp, &result);
}

static void
ApplyCancel(const Request *req, Response *resp)
{
	CoreOrder	result;
	CoreError	err;

	if (!CoreHasAccount(Exchange->core, req->account))
	{
		RespondError(resp, ERRCODE_INVALID_PARAMETER_VALUE, NULL,
					 "unknown account %lld", (long long) req->account);
		return;
	}
	if (CoreCancel(Exchange->core, req->account, req->order_id, &sink,
				   &result, &err) == CORE_OK)
	{
		RespondOrder(resp, &result);
		return;
	}
	if (err.code != CORE_E_UNKNOWN_ORDER)
	{
		RespondCoreError(resp, &err);
		return;
	}
	/* not resting: cancelling an order that already ended reports it */
	if (!RespondExistingOrder(resp, req->account, req->order_id))
		RespondError(resp, ERRCODE_INVALID_PARAMETER_VALUE, NULL,
					 "order %lld not found for account %lld",
					 (long long) req->order_id, (long long) req->account);
}

static void
ApplyAmend(const Request *req, Response *resp)
{
	Core	   *core = Exchange->core;
	const CoreOrder *o = CoreFindOrder(core, req->order_id);
	const CoreMarket *m;
	CoreOrder	result;
	CoreError	err;
	int64		lots;

	if (o == NULL || o->account != req->account)
	{
		Response	existing;

		if (RespondExistingOrder(&existing, req->account, req->order_id))
			RespondError(resp, ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
						 "Only an open or partially filled order can be amended.",
						 "order %lld is %s", (long long) req->order_id,
						 StatusNames[existing.status]);
		else
			RespondError(resp, ERRCODE_INVALID_PARAMETER_VALUE, NULL,
						 "order %lld not found for account %lld",
						 (long long) req->order_id, (long long) req->account);
		return;
	}
	m = CoreGetMarket(core, o->market);
	if (!ParseMultiple(resp, "new_quantity", req->quantity, &m->lot,
					   &lots))
		return;
	if (CoreAmend(core, req->account, req->order_id, lots, &sink, &result,
				  &err) != CORE_OK)
	{
		RespondCoreError(resp, &err);
		return;
	}
	RespondOrder(resp, &result);
}

static void
ApplyCancelAll(const Request *req, Response *resp)
{
	int32		mi = CORE_NO_INDEX;

	if (!CoreHasAccount(Exchange->core, req->account))
	{
		RespondError(resp, ERRCODE_INVALID_PARAMETER_VALUE, NULL,
					 "unknown account %lld", (long long) req->account);
		return;
	}
	if (req->name[0] != '\0')
	{
		mi = CoreFindMarket(Exchange->core, req->name);
		if (mi == CORE_NO_INDEX)
		{
			RespondError(resp, ERRCODE_INVALID_PARAMETER_VALUE, NULL,
						 "unknown market \"%s\"", req->name);
			return;
		}
	}
	ResponseClear(resp);
	resp->id = CoreCancelAll(Exchange->core, req->account, mi, &sink);
}

static void
ApplyDeposit(const Request *req, Response *resp)
{
	Core	   *core = Exchange->core;
	int32		ai = CoreFindAsset(core, req->base);
	const CoreAsset *asset;
	DepositEntry *e;
	CoreError	err;
	int64		units;
	char		reference[REQUEST_TEXT_LEN];

	if (!CoreHasAccount(core, req->account))
	{
		RespondError(resp, ERRCODE_INVALID_PARAMETER_VALUE, NULL,
					 "unknown account %lld", (long long) req->account);
		return;
	}
	if (ai == CORE_NO_INDEX)
	{
		RespondError(resp, ERRCODE_INVALID_PARAMETER_VALUE, NULL,
					 "unknown asset \"%s\"", req->base);
		return;
	}
	asset = CoreGetAsset(core, ai);
	if (!ParseAmount(resp, "amount", req->quantity, asset, &units))
		return;

	memset(reference, 0, sizeof(reference));
	strlcpy(reference, req->text, sizeof(reference));
	e = hash_search(deposit_refs, reference, HASH_FIND, NULL);
	if (e != NULL)
	{
		if (e->account != req->account || e->asset_id != asset->id ||
			e->units != units)
		{
			char		detail[CORE_DETAIL_LEN];
			char		amount[48];

			FixedFormat(e->units, asset->scale, amount, sizeof(amount));
			snprintf(detail, sizeof(detail),
					 "Deposit %lld with this reference credited account %lld with a different amount or asset.",
					 (long long) e->id, (long long) e->account);
			RespondError(resp, ERRCODE_UNIQUE_VIOLATION, detail,
						 "deposit reference \"%s\" was already used",
						 req->text);
			return;
		}
		ResponseClear(resp);
		resp->id = e->id;
		return;
	}
	if (CoreDeposit(core, req->account, ai, units, &err) != CORE_OK)
	{
		RespondCoreError(resp, &err);
		return;
	}
	e = hash_search(deposit_refs, reference, HASH_ENTER, NULL);
	e->id = Counters.next_deposit_id++;
	e->account = req->account;
	e->asset_id = asset->id;
	e->units = units;
	PersistDeposit(writes, e->id, req->account, asset->id, units, req->text);
	ResponseClear(resp);
	resp->id = e->id;
}

static void
ApplyCreateAccount(const Request *req, Response *resp)
{
	CoreError	err;
	int64		id;

	if (req->has_text)
	{
		Oid			types[1] = {TEXTOID};
		Datum		args[1];
		SPIPlanPtr	plan = KeepPlan(&account_lookup_plan,
									"SELECT account_id FROM exchange.account WHERE external_ref = $1",
									1, types);
		bool		isnull;

		args[0] = CStringGetTextDatum(req->text);
		if (SPI_execute_plan(plan, args, NULL, true, 1) != SPI_OK_SELECT)
			elog(ERROR, "account lookup failed");
		if (SPI_processed > 0)
		{
			/* the same external_ref again: the account it already made */
			ResponseClear(resp);
			resp->id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
												   SPI_tuptable->tupdesc, 1,
												   &isnull));
			return;
		}
	}
	id = Counters.next_account_id;
	if (CoreAddAccount(Exchange->core, id, &err) != CORE_OK)
	{
		RespondCoreError(resp, &err);
		return;
	}
	Counters.next_account_id++;
	PersistAccount(writes, id, req->has_text ? req->text : NULL);
	ResponseClear(resp);
	resp->id = id;
}

/* Apply one request to the core, recording rows to write; never raises
 * for the request's own mistakes, only for the engine's. */
void
ApplyRequest(const Request *req, Response *resp)
{
	Core	   *core = Exchange->core;
	CoreError	err;

	switch (req->kind)
	{
		case REQ_PLACE:
			ApplyPlace(req, resp);
			break;
		case REQ_CANCEL:
			ApplyCancel(req, resp);
			break;
		case REQ_AMEND:
			ApplyAmend(req, resp);
			break;
		case REQ_CANCEL_ALL:
			ApplyCancelAll(req, resp);
			break;
		case REQ_DEPOSIT:
			ApplyDeposit(req, resp);
			break;
		case REQ_CREATE_ACCOUNT:
			ApplyCreateAccount(req, resp);
			break;
		case REQ_CREATE_ASSET:
			if (CoreAddAsset(core, CoreAssetCount(core) + 1, req->name,
							 req->scale, &err) != CORE_OK)
				RespondCoreError(resp, &err);
			else
			{
				PersistAsset(writes, CoreGetAsset(core, CoreAssetCount(core) - 1));
				ResponseClear(resp);
				resp->id = CoreAssetCount(core);
			}
			break;
		case REQ_CREATE_MARKET:
			if (CoreAddMarket(core, CoreMarketCount(core) + 1, req->name,
							  req->base, req->quote, req->quantity,
							  req->price, req->maker_fee_bps,
							  req->taker_fee_bps,
							  req->quote_quantity[0] ? req->quote_quantity : NULL,
							  &err) != CORE_OK)
				RespondCoreError(resp, &err);
			else
			{
				const CoreMarket *m = CoreGetMarket(core, CoreMarketCount(core) - 1);
				char		tick[48],
							lot[48],
							minimum[48];

				DecimalText(&m->tick, tick, sizeof(tick));
				DecimalText(&m->lot, lot, sizeof(lot));
				FixedFormat(m->min_notional,
							CoreGetAsset(core, m->quote)->scale,
							minimum, sizeof(minimum));
				PersistMarket(writes, m, tick, lot, minimum);
				ResponseClear(resp);
				resp->id = m->id;
			}
			break;
		case REQ_SET_HALTED:
			{
				int32		mi = CoreFindMarket(core, req->name);

				if (mi == CORE_NO_INDEX)
				{
					RespondError(resp, ERRCODE_INVALID_PARAMETER_VALUE, NULL,
								 "unknown market \"%s\"", req->name);
					break;
				}
				CoreSetHalted(core, mi, req->flag, &err);
				PersistHalted(writes, CoreGetMarket(core, mi)->id, req->flag);
				ResponseClear(resp);
			}
			break;
		default:
			RespondError(resp, ERRCODE_INTERNAL_ERROR, NULL,
						 "unknown request kind %d", (int) req->kind);
			break;
	}
}

/* Expire good-till-date orders whose time has come. */
void
ApplyExpire(void)
{
	CoreExpire(Exchange->core, batch_now, INT32_MAX, &sink);
}

/* Write everything the batch changed. */
void
ApplyFlush(void)
{
	for (int i = 0; i < batch_norders; i++)
	{
		BatchOrder *e = &batch_orders[i];

		PersistOrder(writes, &e->order,
					 e->client_order_id[0] ? e->client_order_id : NULL,
					 e->is_new);
	}
	PersistFlush(writes, Exchange->core, batch_now);
}
