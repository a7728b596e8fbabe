#include "exchange.h"

#include "fmgr.h"
#include "funcapi.h"
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

/* Position of an enum argument's label in names. */
static uint8
EnumArg(FunctionCallInfo fcinfo, int arg, const char *what,
		const char *const *names)
{
	char	   *label;

	CheckNotNull(fcinfo, arg, what);
	label = DatumGetCString(DirectFunctionCall1(enum_out, PG_GETARG_DATUM(arg)));
	for (int i = 0; names[i] != NULL; i++)
		if (strcmp(names[i], label) == 0)
			return (uint8) i;
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

static Datum
UnitsToNumeric(int64 units, int scale)
{
	char		buf[48];

	FixedFormat(units, scale, buf, sizeof(buf));
	return DirectFunctionCall3(numeric_in, CStringGetDatum(buf),
							   ObjectIdGetDatum(InvalidOid),
							   Int32GetDatum(-1));
}

/* Return the order result row (order_id, status, executed, remaining, avg). */
static Datum
ReturnOrderRow(FunctionCallInfo fcinfo, const Response *resp)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Datum		values[5];
	bool		nulls[5] = {false, false, false, false, false};
	Oid			status_type;

	InitMaterializedSRF(fcinfo, 0);
	status_type = TupleDescAttr(rsinfo->setDesc, 1)->atttypid;
	values[0] = Int64GetDatum(resp->id);
	values[1] = DirectFunctionCall2(enum_in,
									CStringGetDatum(StatusNames[resp->status]),
									ObjectIdGetDatum(status_type));
	values[2] = UnitsToNumeric(resp->executed_units, resp->base_scale);
	values[3] = UnitsToNumeric(resp->remaining_units, resp->base_scale);
	if (resp->executed_units == 0)
		nulls[4] = true;
	else
		values[4] = DirectFunctionCall1(numeric_trim_scale,
										DirectFunctionCall2(numeric_div,
															UnitsToNumeric(resp->executed_quote, resp->quote_scale),
															values[2]));
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
