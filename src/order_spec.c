#include "exchange.h"

#include "access/xact.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

/*
 * The orders of one place_orders call, as key/value fields in the order a
 * jsonb object keeps its keys (shorter keys first, then bytewise; of
 * repeated keys the last one), so that both ways in, jsonb and JSON text,
 * give the same checks in the same order and so the same answers.
 *
 * JSON text (what a gateway sends) is scanned here directly when it is in
 * the common subset: no backslash escapes, no negative numbers and no
 * exponents.  Anything else, invalid JSON included, goes through jsonb_in,
 * which also gives PostgreSQL's own errors for it.  jsonb_in was 77% of
 * the machine's time when a 100-order document was sent as a parameter,
 * 1.2 us per order: about a tenth of what the rest of an order costs.
 */

/* Nested containers deeper than this are left to jsonb_in. */
#define SCAN_MAX_DEPTH 32
/* An object with more keys than this is left to jsonb_in (sorted here). */
#define SCAN_MAX_KEYS 64

typedef struct Scan
{
	const char *p;
	const char *end;
	OrderSpecs *out;
} Scan;

/* Skip JSON's whitespace. */
static inline void
ScanSpace(Scan *s)
{
	while (s->p < s->end &&
		   (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

/* Whether a digit is next. */
static inline bool
ScanIsDigit(const Scan *s)
{
	return s->p < s->end && *s->p >= '0' && *s->p <= '9';
}

/* A string without escapes; its contents are the bytes between quotes. */
static bool
ScanString(Scan *s, const char **str, int *len)
{
	const char *start;

	if (s->p >= s->end || *s->p != '"')
		return false;
	start = ++s->p;
	for (; s->p < s->end; s->p++)
	{
		unsigned char c = (unsigned char) *s->p;

		if (c == '"')
		{
			*str = start;
			*len = (int) (s->p - start);
			s->p++;
			return true;
		}
		if (c == '\\' || c < 0x20)
			return false;
	}
	return false;
}

/*
 * A non-negative number without exponent, which numeric_out writes back
 * exactly as it came (JSON allows no leading zeros).
 */
static bool
ScanNumber(Scan *s, const char **num, int *len)
{
	const char *start = s->p;

	if (s->p < s->end && *s->p == '0')
		s->p++;
	else if (ScanIsDigit(s))
		while (ScanIsDigit(s))
			s->p++;
	else
		return false;
	if (s->p < s->end && *s->p == '.')
	{
		s->p++;
		if (!ScanIsDigit(s))
			return false;
		while (ScanIsDigit(s))
			s->p++;
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E'))
		return false;
	*num = start;
	*len = (int) (s->p - start);
	return true;
}

/* One of the literals true, false and null. */
static bool
ScanWord(Scan *s, const char *word, int len)
{
	if (s->end - s->p < len || memcmp(s->p, word, len) != 0)
		return false;
	s->p += len;
	return true;
}

static bool ScanValue(Scan *s, SpecField *f, int depth);

typedef enum ScanAfter
{
	SCAN_NEXT,					/* a ',': another member or element follows */
	SCAN_CLOSED,				/* the container's closing character */
	SCAN_BAD
} ScanAfter;

/* What follows a member or element of a container closed by close. */
static ScanAfter
ScanSeparator(Scan *s, char close)
{
	ScanSpace(s);
	if (s->p < s->end && *s->p == ',')
	{
		s->p++;
		return SCAN_NEXT;
	}
	if (s->p < s->end && *s->p == close)
	{
		s->p++;
		return SCAN_CLOSED;
	}
	return SCAN_BAD;
}

/* Whether a container is empty; its closing character is then consumed. */
static bool
ScanEmpty(Scan *s, char close)
{
	ScanSpace(s);
	if (s->p < s->end && *s->p == close)
	{
		s->p++;
		return true;
	}
	return false;
}

/* The members of an object after its '{'; kept as fields when keep. */
static bool
ScanMembers(Scan *s, bool keep, int depth)
{
	OrderSpecs *o = s->out;
	ScanAfter	after = SCAN_NEXT;

	if (ScanEmpty(s, '}'))
		return true;
	while (after == SCAN_NEXT)
	{
		SpecField	field;

		ScanSpace(s);
		if (!ScanString(s, &field.key, &field.keylen))
			return false;
		ScanSpace(s);
		if (s->p >= s->end || *s->p != ':')
			return false;
		s->p++;
		ScanSpace(s);
		if (!ScanValue(s, keep ? &field : NULL, depth))
			return false;
		if (keep)
		{
			if (o->nfields == o->fields_cap)
			{
				o->fields_cap *= 2;
				o->fields = repalloc(o->fields, sizeof(SpecField) * o->fields_cap);
			}
			o->fields[o->nfields++] = field;
		}
		after = ScanSeparator(s, '}');
	}
	return after == SCAN_CLOSED;
}

/* The elements of an array after its '['. */
static bool
ScanElements(Scan *s, int depth)
{
	ScanAfter	after = SCAN_NEXT;

	if (ScanEmpty(s, ']'))
		return true;
	while (after == SCAN_NEXT)
	{
		ScanSpace(s);
		if (!ScanValue(s, NULL, depth))
			return false;
		after = ScanSeparator(s, ']');
	}
	return after == SCAN_CLOSED;
}

/* One value; described in f when it is set (a key's value in an order). */
static bool
ScanValue(Scan *s, SpecField *f, int depth)
{
	SpecField	ignored;

	if (f == NULL)
		f = &ignored;
	if (s->p >= s->end)
		return false;
	switch (*s->p)
	{
		case '"':
			f->type = SPEC_STRING;
			return ScanString(s, &f->val, &f->vallen);
		case 't':
			f->type = SPEC_BOOL;
			f->boolean = true;
			return ScanWord(s, "true", 4);
		case 'f':
			f->type = SPEC_BOOL;
			f->boolean = false;
			return ScanWord(s, "false", 5);
		case 'n':
			f->type = SPEC_NULL;
			return ScanWord(s, "null", 4);
		case '{':
			f->type = SPEC_OTHER;
			s->p++;
			return depth < SCAN_MAX_DEPTH && ScanMembers(s, false, depth + 1);
		case '[':
			f->type = SPEC_OTHER;
			s->p++;
			return depth < SCAN_MAX_DEPTH && ScanElements(s, depth + 1);
		default:
			f->type = SPEC_NUMBER;
			return ScanNumber(s, &f->val, &f->vallen);
	}
}

/* jsonb's order of keys: shorter first, then bytewise. */
static inline int
SpecKeyCompare(const SpecField *a, const SpecField *b)
{
	if (a->keylen != b->keylen)
		return a->keylen < b->keylen ? -1 : 1;
	return memcmp(a->key, b->key, a->keylen);
}

/*
 * Put one object's fields in jsonb's order of keys, keeping only the last
 * of repeated keys, as jsonb_in does; the new count.
 */
static int
SpecSortFields(SpecField *fields, int n)
{
	int			kept = 0;

	/* insertion sort, stable: repeated keys stay in document order */
	for (int i = 1; i < n; i++)
	{
		SpecField	f = fields[i];
		int			j = i;

		while (j > 0 && SpecKeyCompare(&fields[j - 1], &f) > 0)
		{
			fields[j] = fields[j - 1];
			j--;
		}
		fields[j] = f;
	}
	for (int i = 0; i < n; i++)
	{
		if (i + 1 < n && SpecKeyCompare(&fields[i], &fields[i + 1]) == 0)
			continue;			/* a later one of the same key follows */
		fields[kept++] = fields[i];
	}
	return kept;
}

/* An empty set of orders, with room for a typical call's. */
static void
SpecsInit(OrderSpecs *o)
{
	o->n = 0;
	o->cap = 128;
	o->orders = palloc(sizeof(SpecOrder) * o->cap);
	o->nfields = 0;
	o->fields_cap = 1024;
	o->fields = palloc(sizeof(SpecField) * o->fields_cap);
}

/* Room for one more order. */
static SpecOrder *
SpecsAddOrder(OrderSpecs *o)
{
	if (o->n == o->cap)
	{
		o->cap *= 2;
		o->orders = repalloc(o->orders, sizeof(SpecOrder) * o->cap);
	}
	return &o->orders[o->n++];
}

/*
 * place_orders' JSON text, scanned without building a jsonb; false when it
 * is not in the subset read here (see the top of the file).
 */
bool
SpecsFromText(const char *json, int len, OrderSpecs *out)
{
	Scan		s = {json, json + len, out};
	ScanAfter	after = SCAN_NEXT;

	SpecsInit(out);
	/* past jsonb's size limit, jsonb_in gives its own error */
	if (len > JENTRY_OFFLENMASK)
		return false;
	ScanSpace(&s);
	if (s.p >= s.end || *s.p != '[')
		return false;
	s.p++;
	if (ScanEmpty(&s, ']'))
		after = SCAN_CLOSED;
	while (after == SCAN_NEXT)
	{
		SpecOrder  *order = SpecsAddOrder(out);

		ScanSpace(&s);
		order->first = out->nfields;
		order->nfields = 0;
		order->is_object = s.p < s.end && *s.p == '{';
		if (order->is_object)
		{
			s.p++;
			if (!ScanMembers(&s, true, 1))
				return false;
			order->nfields = out->nfields - order->first;
			if (order->nfields > SCAN_MAX_KEYS)
				return false;
			order->nfields = SpecSortFields(&out->fields[order->first],
											order->nfields);
			out->nfields = order->first + order->nfields;
		}
		else if (!ScanValue(&s, NULL, 1))
			return false;
		after = ScanSeparator(&s, ']');
	}
	if (after != SCAN_CLOSED)
		return false;
	ScanSpace(&s);
	return s.p == s.end;
}

/* place_orders' jsonb array as fields (its objects keep jsonb's order). */
void
SpecsFromJsonb(Jsonb *orders, OrderSpecs *out)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;

	if (!JB_ROOT_IS_ARRAY(orders) || JB_ROOT_IS_SCALAR(orders))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("orders must be a JSON array of order objects")));
	SpecsInit(out);
	it = JsonbIteratorInit(&orders->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		SpecOrder  *order;
		JsonbIterator *fit;
		JsonbValue	k,
					fv;

		if (tok != WJB_ELEM)
			continue;
		order = SpecsAddOrder(out);
		order->first = out->nfields;
		order->nfields = 0;
		order->is_object = v.type == jbvBinary &&
			JsonContainerIsObject(v.val.binary.data);
		if (!order->is_object)
			continue;
		fit = JsonbIteratorInit(v.val.binary.data);
		while ((tok = JsonbIteratorNext(&fit, &k, true)) != WJB_DONE)
		{
			SpecField  *f;

			if (tok != WJB_KEY)
				continue;
			tok = JsonbIteratorNext(&fit, &fv, true);
			if (out->nfields == out->fields_cap)
			{
				out->fields_cap *= 2;
				out->fields = repalloc(out->fields,
									   sizeof(SpecField) * out->fields_cap);
			}
			f = &out->fields[out->nfields++];
			f->key = k.val.string.val;
			f->keylen = k.val.string.len;
			switch (fv.type)
			{
				case jbvNull:
					f->type = SPEC_NULL;
					break;
				case jbvString:
					f->type = SPEC_STRING;
					f->val = fv.val.string.val;
					f->vallen = fv.val.string.len;
					break;
				case jbvNumeric:
					f->type = SPEC_NUMBER;
					f->val = DatumGetCString(DirectFunctionCall1(numeric_out,
																 NumericGetDatum(fv.val.numeric)));
					f->vallen = strlen(f->val);
					break;
				case jbvBool:
					f->type = SPEC_BOOL;
					f->boolean = fv.val.boolean;
					break;
				default:
					f->type = SPEC_OTHER;
					break;
			}
			order->nfields++;
		}
	}
}

/* Refuse one order with a reason; false, for the caller to return. */
static bool
SpecFail(SpecError *e, int sqlstate, const char *fmt,...)
pg_attribute_printf(3, 4);

static bool
SpecFail(SpecError *e, int sqlstate, const char *fmt,...)
{
	va_list		ap;

	e->sqlstate = sqlstate;
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
	return false;
}

/* A JSON string value into buf; false with an error when it does not fit. */
static bool
SpecText(const SpecField *f, const char *key, char *buf, size_t len,
		 SpecError *e)
{
	if (f->type != SPEC_STRING)
		return SpecFail(e, ERRCODE_INVALID_PARAMETER_VALUE,
						"%s must be a string", key);
	if (f->vallen == 0)
		return SpecFail(e, ERRCODE_INVALID_PARAMETER_VALUE,
						"%s must not be empty", key);
	if ((size_t) f->vallen >= len)
		return SpecFail(e, ERRCODE_STRING_DATA_RIGHT_TRUNCATION,
						"%s is too long", key);
	memcpy(buf, f->val, f->vallen);
	buf[f->vallen] = '\0';
	return true;
}

/* A JSON number (or decimal string) as plain decimal text. */
static bool
SpecNumber(const SpecField *f, const char *key, char *buf, SpecError *e)
{
	if (f->type == SPEC_STRING)
		return SpecText(f, key, buf, REQUEST_NUMBER_LEN, e);
	if (f->type != SPEC_NUMBER)
		return SpecFail(e, ERRCODE_INVALID_PARAMETER_VALUE,
						"%s must be a number", key);
	if (f->vallen >= REQUEST_NUMBER_LEN)
		return SpecFail(e, ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
						"%s is out of range", key);
	memcpy(buf, f->val, f->vallen);
	buf[f->vallen] = '\0';
	return true;
}

/* A JSON string that must be one of names; its position in *out. */
static bool
SpecEnum(const SpecField *f, const char *key, const char *const *names,
		 uint8 *out, SpecError *e)
{
	char		buf[32];

	if (!SpecText(f, key, buf, sizeof(buf), e))
		return SpecFail(e, ERRCODE_INVALID_TEXT_REPRESENTATION,
						"invalid %s", key);
	for (int i = 0; names[i] != NULL; i++)
		if (strcmp(names[i], buf) == 0)
		{
			*out = (uint8) i;
			return true;
		}
	return SpecFail(e, ERRCODE_INVALID_TEXT_REPRESENTATION,
					"invalid %s \"%s\"", key, buf);
}

/* expire_at as timestamptz, parsed in a subtransaction (input may fail). */
static bool
SpecTimestamp(const SpecField *f, int64 *out, SpecError *e)
{
	char		buf[64];
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	volatile bool ok = true;

	if (!SpecText(f, "expire_at", buf, sizeof(buf), e))
		return false;
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		*out = DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in,
													   CStringGetDatum(buf),
													   ObjectIdGetDatum(InvalidOid),
													   Int32GetDatum(-1)));
		ReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		ok = false;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	CurrentResourceOwner = owner;
	if (!ok)
		return SpecFail(e, ERRCODE_INVALID_DATETIME_FORMAT,
						"invalid expire_at \"%s\"", buf);
	return true;
}

/*
 * Turn one order of place_orders into a place request with the same
 * checks as place_order's arguments; false with the reason.
 */
bool
SpecToRequest(const OrderSpecs *specs, int i, Request *req, SpecError *e)
{
	const SpecOrder *order = &specs->orders[i];
	bool		has_account = false,
				has_market = false,
				has_side = false,
				has_quantity = false,
				has_price = false,
				has_quote = false;

	memset(req, 0, sizeof(*req));
	req->kind = REQ_PLACE;
	req->type = CORE_LIMIT;
	req->tif = CORE_GTC;
	req->stp = CORE_STP_CANCEL_TAKER;
	if (!order->is_object)
		return SpecFail(e, ERRCODE_INVALID_PARAMETER_VALUE,
						"each order must be a JSON object");

	for (int j = 0; j < order->nfields; j++)
	{
		const SpecField *f = &specs->fields[order->first + j];
		char		key[32];
		int			keylen;
		bool		ok = true;

		/* a longer key is no key we know (quoted cut short, with "...") */
		keylen = Min(f->keylen, (int) sizeof(key) - 1);
		memcpy(key, f->key, keylen);
		key[keylen] = '\0';
		if (f->type == SPEC_NULL)
			continue;
		if (strcmp(key, "account_id") == 0)
		{
			char		buf[REQUEST_NUMBER_LEN];
			char	   *end;

			ok = SpecNumber(f, key, buf, e);
			if (ok)
			{
				errno = 0;
				req->account = strtoll(buf, &end, 10);
				if (errno != 0 || *end != '\0')
					return SpecFail(e, ERRCODE_INVALID_PARAMETER_VALUE,
									"account_id must be an integer");
				has_account = true;
			}
		}
		else if (strcmp(key, "market") == 0)
			ok = has_market = SpecText(f, key, req->name, CORE_SYMBOL_LEN, e);
		else if (strcmp(key, "side") == 0)
			ok = has_side = SpecEnum(f, key, SideNames, &req->side, e);
		else if (strcmp(key, "quantity") == 0)
			ok = has_quantity = SpecNumber(f, key, req->quantity, e);
		else if (strcmp(key, "price") == 0)
			ok = has_price = SpecNumber(f, key, req->price, e);
		else if (strcmp(key, "type") == 0)
			ok = SpecEnum(f, key, OrderTypeNames, &req->type, e);
		else if (strcmp(key, "time_in_force") == 0)
			ok = SpecEnum(f, key, TimeInForceNames, &req->tif, e);
		else if (strcmp(key, "stp") == 0)
			ok = SpecEnum(f, key, StpNames, &req->stp, e);
		else if (strcmp(key, "post_only") == 0)
		{
			if (f->type != SPEC_BOOL)
				return SpecFail(e, ERRCODE_INVALID_PARAMETER_VALUE,
								"post_only must be true or false");
			req->post_only = f->boolean;
		}
		else if (strcmp(key, "client_order_id") == 0)
			ok = req->has_text = SpecText(f, key, req->text,
										  REQUEST_TEXT_LEN, e);
		else if (strcmp(key, "quote_quantity") == 0)
			ok = has_quote = SpecNumber(f, key, req->quote_quantity, e);
		else if (strcmp(key, "expire_at") == 0)
			ok = SpecTimestamp(f, &req->expire_at, e);
		else
			return SpecFail(e, ERRCODE_INVALID_PARAMETER_VALUE,
							"unknown key \"%s%s\"", key,
							keylen < f->keylen ? "..." : "");
		if (!ok)
			return false;
	}
	if (!has_account)
		return SpecFail(e, ERRCODE_NULL_VALUE_NOT_ALLOWED,
						"account_id must not be null");
	if (!has_market)
		return SpecFail(e, ERRCODE_NULL_VALUE_NOT_ALLOWED,
						"market must not be null");
	if (!has_side)
		return SpecFail(e, ERRCODE_NULL_VALUE_NOT_ALLOWED,
						"side must not be null");
	if (!has_quantity && !has_quote)
		return SpecFail(e, ERRCODE_NULL_VALUE_NOT_ALLOWED,
						"quantity must not be null");
	if (req->type == CORE_LIMIT && !has_price)
		return SpecFail(e, ERRCODE_INVALID_PARAMETER_VALUE,
						"a limit order needs a price");
	if (req->type == CORE_MARKET && has_price)
		return SpecFail(e, ERRCODE_INVALID_PARAMETER_VALUE,
						"a market order takes no price");
	return true;
}
