#include "exchange.h"

#include "fmgr.h"
#include "funcapi.h"
#include "utils/inval.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/numeric.h"

const char *const SideNames[] = {"buy", "sell", NULL};
const char *const OrderTypeNames[] = {"limit", "market", NULL};
const char *const TimeInForceNames[] = {"gtc", "ioc", "fok", NULL};
const char *const StpNames[] = {"cancel_taker", "cancel_maker", "cancel_both", NULL};
const char *const StatusNames[] = {"open", "partially_filled", "filled",
"cancelled", "rejected", "expired", NULL};

/* Refuse a NULL argument that the request needs. */
static inline void
CheckNotNull(FunctionCallInfo fcinfo, int arg, const char *what)
{
	if (PG_ARGISNULL(arg))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", what)));
}

/* Copy a text argument into buf, refusing one that does not fit. */
static void
TextArg(FunctionCallInfo fcinfo, int arg, const char *what, char *buf,
		size_t len)
{
	char	   *s;

	CheckNotNull(fcinfo, arg, what);
	s = text_to_cstring(PG_GETARG_TEXT_PP(arg));
	if (strlen(s) >= len)
		ereport(ERROR,
				(errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
				 errmsg("%s is too long", what),
				 errdetail("At most %d bytes are allowed.", (int) len - 1)));
	if (s[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be empty", what)));
	strlcpy(buf, s, len);
}

/*
 * Copy a numeric argument as plain decimal text; NaN, infinities and
 * absurd magnitudes are refused here with the clearest message.
 */
static void
NumericArg(FunctionCallInfo fcinfo, int arg, const char *what, char *buf)
{
	Numeric		num;
	char	   *s;

	CheckNotNull(fcinfo, arg, what);
	num = PG_GETARG_NUMERIC(arg);
	if (numeric_is_nan(num))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be NaN", what)));
	if (numeric_is_inf(num))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be infinite", what)));
	s = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(num)));
	if (strlen(s) >= REQUEST_NUMBER_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("%s is out of range", what)));
	strlcpy(buf, s, REQUEST_NUMBER_LEN);
}

/*
 * Enum values this backend has seen, by their pg_enum OID: looking each
 * argument's label up (enum_out) and each result's status back (enum_in)
 * in the catalogue cache was about 1.4% of the machine's CPU per single
 * place_order (a profile, 2026-11-23).  Forgotten whenever pg_enum
 * changes (a renamed label, a re-created type), so they are looked up
 * afresh.
 */
#define ENUM_MEMO_SIZE 32

typedef struct EnumMemo
{
	Oid			value;			/* the enum value's OID */
	const char *const *names;	/* the labels it was found among */
	uint8		index;			/* its position there */
} EnumMemo;

static EnumMemo enum_memo[ENUM_MEMO_SIZE];
static int	enum_memo_n = 0;

/*
 * The order_status labels as enum values, each looked up once per
 * backend: place_orders returns many rows, place_order one per call.
 */
typedef struct StatusCache
{
	Oid			type;			/* exchange.order_status */
	bool		valid;			/* false: pg_enum changed since */
	bool		known[lengthof(StatusNames) - 1];
	Datum		value[lengthof(StatusNames) - 1];
} StatusCache;

static StatusCache status_memo;

/* pg_enum changed: forget every value remembered. */
static void
EnumMemoForget(Datum arg, int cacheid, uint32 hashvalue)
{
	enum_memo_n = 0;
	status_memo.valid = false;
}

/* Be told of pg_enum's changes, once per backend. */
static void
EnumMemoWatch(void)
{
	static bool watching = false;

	if (!watching)
	{
		CacheRegisterSyscacheCallback(ENUMOID, EnumMemoForget, (Datum) 0);
		watching = true;
	}
}

/* Position of an enum argument's label in names. */
static uint8
EnumArg(FunctionCallInfo fcinfo, int arg, const char *what,
		const char *const *names)
{
	Oid			value;
	char	   *label;

	CheckNotNull(fcinfo, arg, what);
	value = PG_GETARG_OID(arg);
	EnumMemoWatch();
	for (int m = 0; m < enum_memo_n; m++)
		if (enum_memo[m].value == value && enum_memo[m].names == names)
			return enum_memo[m].index;
	label = DatumGetCString(DirectFunctionCall1(enum_out, ObjectIdGetDatum(value)));
	for (int i = 0; names[i] != NULL; i++)
		if (strcmp(names[i], label) == 0)
		{
			/* (enum_out may have run the callback: append after that) */
			if (enum_memo_n < ENUM_MEMO_SIZE)
			{
				enum_memo[enum_memo_n].value = value;
				enum_memo[enum_memo_n].names = names;
				enum_memo[enum_memo_n].index = (uint8) i;
				enum_memo_n++;
			}
			return (uint8) i;
		}
	elog(ERROR, "unexpected %s \"%s\"", what, label);
	return 0;
}

static void
RequestInit(Request *req, RequestKind kind)
{
	memset(req, 0, sizeof(*req));
	req->kind = kind;
}

/* Submit and raise the engine's error, if it answered with one. */
static void
Submit(Request *req, Response *resp)
{
	RequestSubmit(req, resp);
	if (resp->sqlstate != 0)
		ereport(ERROR,
				(errcode(resp->sqlstate),
				 errmsg("%s", resp->message),
				 resp->detail[0] ? errdetail("%s", resp->detail) : 0));
}

/*
 * Integer units as a numeric in the asset's units, without trailing
 * fractional zeros (as FixedFormat writes them), built directly: parsing
 * the text with numeric_in was a per-row cost of place_orders.
 */
static Datum
UnitsToNumeric(int64 units, int scale)
{
	while (scale > 0 && units % 10 == 0)
	{
		units /= 10;
		scale--;
	}
	return NumericGetDatum(int64_div_fast_to_numeric(units, scale));
}

/* This backend's order_status values, for a result of that type. */
static StatusCache *
StatusCacheFor(Oid type)
{
	EnumMemoWatch();
	if (!status_memo.valid || status_memo.type != type)
	{
		status_memo.type = type;
		memset(status_memo.known, 0, sizeof(status_memo.known));
		status_memo.valid = true;
	}
	return &status_memo;
}

static Datum
StatusDatum(StatusCache *cache, int status)
{
	Assert(status >= 0 && status < lengthof(cache->known));
	if (!cache->known[status])
	{
		Datum		value = DirectFunctionCall2(enum_in,
												CStringGetDatum(StatusNames[status]),
												ObjectIdGetDatum(cache->type));

		/* (enum_in may have run the callback: then do not keep it) */
		if (!cache->valid)
			return value;
		cache->value[status] = value;
		cache->known[status] = true;
	}
	return cache->value[status];
}

/* The order result columns (order_id, status, executed, remaining, avg). */
static void
OrderResultValues(const Response *resp, StatusCache *statuses, Datum *values,
				  bool *nulls)
{
	values[0] = Int64GetDatum(resp->id);
	values[1] = StatusDatum(statuses, resp->status);
	values[2] = UnitsToNumeric(resp->executed_units, resp->base_scale);
	values[3] = UnitsToNumeric(resp->remaining_units, resp->base_scale);
	for (int i = 0; i < 4; i++)
		nulls[i] = false;
	nulls[4] = (resp->executed_units == 0);
	if (!nulls[4])
		values[4] = DirectFunctionCall1(numeric_trim_scale,
										DirectFunctionCall2(numeric_div,
															UnitsToNumeric(resp->executed_quote, resp->quote_scale),
															values[2]));
}

/* Return the order result as the function's one row. */
static Datum
ReturnOrderRow(FunctionCallInfo fcinfo, const Response *resp)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Datum		values[5];
	bool		nulls[5];
	StatusCache *statuses;

	/* the executor's own copy of the result columns, when it has one */
	InitMaterializedSRF(fcinfo, rsinfo->expectedDesc != NULL ?
						MAT_SRF_USE_EXPECTED_DESC : 0);
	statuses = StatusCacheFor(TupleDescAttr(rsinfo->setDesc, 1)->atttypid);
	OrderResultValues(resp, statuses, values, nulls);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(create_asset);
Datum
create_asset(PG_FUNCTION_ARGS)
{
	Request		req;
	Response	resp;

	RequestInit(&req, REQ_CREATE_ASSET);
	TextArg(fcinfo, 0, "code", req.name, CORE_CODE_LEN);
	CheckNotNull(fcinfo, 1, "scale");
	req.scale = PG_GETARG_INT32(1);
	Submit(&req, &resp);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(create_market);
Datum
create_market(PG_FUNCTION_ARGS)
{
	Request		req;
	Response	resp;

	RequestInit(&req, REQ_CREATE_MARKET);
	TextArg(fcinfo, 0, "symbol", req.name, CORE_SYMBOL_LEN);
	TextArg(fcinfo, 1, "base", req.base, CORE_CODE_LEN);
	TextArg(fcinfo, 2, "quote", req.quote, CORE_CODE_LEN);
	NumericArg(fcinfo, 3, "tick_size", req.quantity);
	NumericArg(fcinfo, 4, "lot_size", req.price);
	CheckNotNull(fcinfo, 5, "maker_fee_bps");
	CheckNotNull(fcinfo, 6, "taker_fee_bps");
	req.maker_fee_bps = PG_GETARG_INT32(5);
	req.taker_fee_bps = PG_GETARG_INT32(6);
	NumericArg(fcinfo, 7, "min_notional", req.quote_quantity);
	Submit(&req, &resp);
	PG_RETURN_VOID();
}

/* halt_market / resume_market */
static Datum
SetHalted(FunctionCallInfo fcinfo, bool halted)
{
	Request		req;
	Response	resp;

	RequestInit(&req, REQ_SET_HALTED);
	TextArg(fcinfo, 0, "symbol", req.name, CORE_SYMBOL_LEN);
	req.flag = halted;
	Submit(&req, &resp);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(halt_market);
Datum
halt_market(PG_FUNCTION_ARGS)
{
	return SetHalted(fcinfo, true);
}

PG_FUNCTION_INFO_V1(resume_market);
Datum
resume_market(PG_FUNCTION_ARGS)
{
	return SetHalted(fcinfo, false);
}

PG_FUNCTION_INFO_V1(create_account);
Datum
create_account(PG_FUNCTION_ARGS)
{
	Request		req;
	Response	resp;

	RequestInit(&req, REQ_CREATE_ACCOUNT);
	if (!PG_ARGISNULL(0))
	{
		TextArg(fcinfo, 0, "external_ref", req.text, REQUEST_TEXT_LEN);
		req.has_text = true;
	}
	Submit(&req, &resp);
	PG_RETURN_INT64(resp.id);
}

PG_FUNCTION_INFO_V1(deposit);
Datum
deposit(PG_FUNCTION_ARGS)
{
	Request		req;
	Response	resp;

	RequestInit(&req, REQ_DEPOSIT);
	CheckNotNull(fcinfo, 0, "account_id");
	req.account = PG_GETARG_INT64(0);
	TextArg(fcinfo, 1, "asset", req.base, CORE_CODE_LEN);
	NumericArg(fcinfo, 2, "amount", req.quantity);
	TextArg(fcinfo, 3, "reference", req.text, REQUEST_TEXT_LEN);
	req.has_text = true;
	Submit(&req, &resp);
	PG_RETURN_INT64(resp.id);
}

PG_FUNCTION_INFO_V1(place_order);
Datum
place_order(PG_FUNCTION_ARGS)
{
	Request		req;
	Response	resp;

	RequestInit(&req, REQ_PLACE);
	CheckNotNull(fcinfo, 0, "account_id");
	req.account = PG_GETARG_INT64(0);
	TextArg(fcinfo, 1, "market", req.name, CORE_SYMBOL_LEN);
	req.side = EnumArg(fcinfo, 2, "side", SideNames);
	if (!PG_ARGISNULL(3))
		NumericArg(fcinfo, 3, "quantity", req.quantity);
	if (!PG_ARGISNULL(4))
		NumericArg(fcinfo, 4, "price", req.price);
	req.type = EnumArg(fcinfo, 5, "type", OrderTypeNames);
	req.tif = EnumArg(fcinfo, 6, "time_in_force", TimeInForceNames);
	CheckNotNull(fcinfo, 7, "post_only");
	req.post_only = PG_GETARG_BOOL(7);
	if (!PG_ARGISNULL(8))
	{
		TextArg(fcinfo, 8, "client_order_id", req.text, REQUEST_TEXT_LEN);
		req.has_text = true;
	}
	req.stp = EnumArg(fcinfo, 9, "stp", StpNames);
	if (!PG_ARGISNULL(10))
		NumericArg(fcinfo, 10, "quote_quantity", req.quote_quantity);
	if (!PG_ARGISNULL(11))
		req.expire_at = PG_GETARG_TIMESTAMPTZ(11);

	if (PG_ARGISNULL(3) && PG_ARGISNULL(10))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("quantity must not be null"),
				 errhint("Only a market buy may give quote_quantity instead.")));
	if (req.type == CORE_LIMIT && PG_ARGISNULL(4))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a limit order needs a price")));
	if (req.type == CORE_MARKET && !PG_ARGISNULL(4))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a market order takes no price")));
	Submit(&req, &resp);
	return ReturnOrderRow(fcinfo, &resp);
}

PG_FUNCTION_INFO_V1(cancel_order);
Datum
cancel_order(PG_FUNCTION_ARGS)
{
	Request		req;
	Response	resp;

	RequestInit(&req, REQ_CANCEL);
	CheckNotNull(fcinfo, 0, "account_id");
	CheckNotNull(fcinfo, 1, "order_id");
	req.account = PG_GETARG_INT64(0);
	req.order_id = PG_GETARG_INT64(1);
	Submit(&req, &resp);
	return ReturnOrderRow(fcinfo, &resp);
}

PG_FUNCTION_INFO_V1(cancel_all);
Datum
cancel_all(PG_FUNCTION_ARGS)
{
	Request		req;
	Response	resp;

	RequestInit(&req, REQ_CANCEL_ALL);
	CheckNotNull(fcinfo, 0, "account_id");
	req.account = PG_GETARG_INT64(0);
	if (!PG_ARGISNULL(1))
		TextArg(fcinfo, 1, "market", req.name, CORE_SYMBOL_LEN);
	Submit(&req, &resp);
	PG_RETURN_INT32((int32) resp.id);
}

PG_FUNCTION_INFO_V1(amend_order);
Datum
amend_order(PG_FUNCTION_ARGS)
{
	Request		req;
	Response	resp;

	RequestInit(&req, REQ_AMEND);
	CheckNotNull(fcinfo, 0, "account_id");
	CheckNotNull(fcinfo, 1, "order_id");
	req.account = PG_GETARG_INT64(0);
	req.order_id = PG_GETARG_INT64(1);
	NumericArg(fcinfo, 2, "new_quantity", req.quantity);
	Submit(&req, &resp);
	return ReturnOrderRow(fcinfo, &resp);
}

/* Append one place_orders result row: ordinal, result or refusal. */
static void
PutOrdersRow(ReturnSetInfo *rsinfo, int ordinal, const Response *resp,
			 StatusCache *statuses)
{
	Datum		values[8];
	bool		nulls[8] = {false, true, true, true, true, true, true, true};

	values[0] = Int32GetDatum(ordinal);
	if (resp->sqlstate != 0)
	{
		values[6] = CStringGetTextDatum(unpack_sql_state(resp->sqlstate));
		values[7] = CStringGetTextDatum(resp->message);
		nulls[6] = nulls[7] = false;
	}
	else
		OrderResultValues(resp, statuses, &values[1], &nulls[1]);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/* Requests in one chunk: half the mailbox, so two can be in flight. */
#define CHUNK_REQS (MAILBOX_SLOTS / 2)
#define CHUNK_ROWS (4 * CHUNK_REQS)

/* Orders of one chunk in input order: requests and refusals. */
typedef struct Chunk
{
	int			n;				/* rows */
	int			nreqs;			/* of which requests */
	int			first_slot;		/* its half of the mailbox */
	int			through;		/* requests of the call sent with it */
	bool		pending;		/* sent (or all refused), rows not emitted */
	int			req_of[CHUNK_ROWS]; /* request index, or -1: refused */
	Response   *refused;		/* CHUNK_ROWS, made at the first refusal */
	Request		reqs[CHUNK_REQS];
	Response	resps[CHUNK_REQS];
} Chunk;

/*
 * place_orders' two chunks: one filled (and then sent) while the engine
 * answers the other, so the engine never waits for the caller between
 * chunks.  Rows are emitted in input order, older chunk first.
 */
typedef struct Pipeline
{
	Chunk		chunks[2];
	int			cur;			/* the chunk being filled */
	bool		begun;			/* a call to the engine is open */
	ReturnSetInfo *rsinfo;
	int			emitted;
	StatusCache *statuses;
} Pipeline;

/* This backend's pipeline, kept from call to call (PlaceOrderSpecs). */
static Pipeline *KeptPipeline = NULL;

/* Wait for a pending chunk's answers and emit its rows. */
static void
ChunkFinish(Pipeline *p, Chunk *c, bool final)
{
	if (c->nreqs > 0)
		RequestAwait(c->resps, c->first_slot, c->nreqs, c->through, final);
	for (int i = 0; i < c->n; i++)
		PutOrdersRow(p->rsinfo, ++p->emitted,
					 c->req_of[i] >= 0 ? &c->resps[c->req_of[i]] : &c->refused[i],
					 p->statuses);
	c->n = c->nreqs = 0;
	c->pending = false;
}

/*
 * Send the chunk being filled and make the other one current, finishing
 * that one first if it is still pending.  A full queue is waited out only
 * as long as our own older chunk is in it.
 */
static void
PipelineSend(Pipeline *p)
{
	Chunk	   *c = &p->chunks[p->cur];
	Chunk	   *older = &p->chunks[1 - p->cur];

	if (c->nreqs > 0)
	{
		if (!p->begun)
		{
			RequestBegin();
			p->begun = true;
		}
		while (!RequestSend(c->reqs, c->nreqs, c->first_slot, &c->through))
		{
			if (!older->pending)
				RequestQueueFull();
			ChunkFinish(p, older, false);
		}
	}
	c->pending = true;
	if (older->pending)
		ChunkFinish(p, older, false);
	p->cur = 1 - p->cur;
}

/*
 * Place the orders of one place_orders call, each accepted or refused on
 * its own, one result row per order in input order.
 */
static Datum
PlaceOrderSpecs(FunctionCallInfo fcinfo, const OrderSpecs *specs)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Pipeline   *p;

	InitMaterializedSRF(fcinfo, 0);

	/*
	 * One pipeline per backend, made at its first call and kept.  The two
	 * chunks are 120 kB: allocated per call, malloc gave them back to the
	 * kernel at the end of every call (glibc trims the heap's top past 128
	 * kB), and the next call faulted in and zeroed the pages afresh (2% of
	 * the machine in a place_orders run).  Not zeroed either (3% when it
	 * was, per call): every field is set before it is read.  A call cannot
	 * begin inside another (nothing here runs user code), and one that
	 * failed half-way left nothing the next call reads before setting it.
	 */
	if (KeptPipeline == NULL)
	{
		KeptPipeline = MemoryContextAlloc(TopMemoryContext, sizeof(Pipeline));
		for (int i = 0; i < 2; i++)
			KeptPipeline->chunks[i].refused = NULL;
	}
	p = KeptPipeline;
	for (int i = 0; i < 2; i++)
	{
		p->chunks[i].n = p->chunks[i].nreqs = 0;
		p->chunks[i].first_slot = i * CHUNK_REQS;
		p->chunks[i].through = 0;
		p->chunks[i].pending = false;
	}
	p->cur = 0;
	p->begun = false;
	p->rsinfo = rsinfo;
	p->emitted = 0;
	p->statuses = StatusCacheFor(TupleDescAttr(rsinfo->setDesc, 2)->atttypid);

	for (int i = 0; i < specs->n; i++)
	{
		Chunk	   *c = &p->chunks[p->cur];
		SpecError	e;

		if (SpecToRequest(specs, i, &c->reqs[c->nreqs], &e))
			c->req_of[c->n++] = c->nreqs++;
		else
		{
			if (c->refused == NULL) /* kept too, made at the first refusal */
				c->refused = MemoryContextAlloc(TopMemoryContext,
												sizeof(Response) * CHUNK_ROWS);
			memset(&c->refused[c->n], 0, sizeof(Response));
			c->refused[c->n].sqlstate = e.sqlstate;
			strlcpy(c->refused[c->n].message, e.message, CORE_MESSAGE_LEN);
			c->req_of[c->n++] = -1;
		}
		if (c->nreqs == CHUNK_REQS || c->n == CHUNK_ROWS)
			PipelineSend(p);
	}
	/* send the last chunk (emitting the one before), then its rows */
	PipelineSend(p);
	ChunkFinish(p, &p->chunks[1 - p->cur], true);
	if (p->begun)
		RequestEnd();
	return (Datum) 0;
}

/* exchange.place_orders(orders jsonb): many orders in one call. */
PG_FUNCTION_INFO_V1(place_orders);
Datum
place_orders(PG_FUNCTION_ARGS)
{
	OrderSpecs	specs;

	CheckNotNull(fcinfo, 0, "orders");
	SpecsFromJsonb(PG_GETARG_JSONB_P(0), &specs);
	return PlaceOrderSpecs(fcinfo, &specs);
}

/*
 * exchange.place_orders(orders text): the same for JSON sent as text, as a
 * gateway sends it (and as an untyped literal resolves), read without
 * building a jsonb when it can be (order_spec.c); the same answers.
 */
PG_FUNCTION_INFO_V1(place_orders_text);
Datum
place_orders_text(PG_FUNCTION_ARGS)
{
	text	   *json;
	OrderSpecs	specs;

	CheckNotNull(fcinfo, 0, "orders");
	json = PG_GETARG_TEXT_PP(0);
	if (!SpecsFromText(VARDATA_ANY(json), VARSIZE_ANY_EXHDR(json), &specs))
	{
		elog(DEBUG1, "place_orders: JSON text read through jsonb_in");
		SpecsFromJsonb(DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
														  CStringGetDatum(text_to_cstring(json)))),
					   &specs);
	}
	return PlaceOrderSpecs(fcinfo, &specs);
}
