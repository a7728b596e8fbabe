/*
 * Randomized differential test of the matching core.
 *
 * A deliberately simple reference exchange lives in this file: plain arrays,
 * linear scans for the best maker, each order remembering what it holds,
 * its own balance bookkeeping.  Both it and the core are fed the same
 * pseudo-random stream of requests (limit, market, IOC, FOK, post-only,
 * with random self-trade prevention; cancels, amendments, cancel-all,
 * deposits, expiries, halts) over a few markets and accounts, and after
 * every operation everything observable must agree: the result, every
 * trade, the order snapshots reported, every balance, every resting order
 * and every book level.  Invariants are checked on the core alone too:
 * per-asset totals equal deposits, locked equals the holds of resting
 * orders, nothing negative, bid below ask, and the dirty-balance list
 * covers every change.
 *
 * Usage: test_random [seed [ops]]
 */
#include "core.h"
#include "test_util.h"

#include <stdarg.h>
#include <stdbool.h>

#define NASSETS			4
#define NMARKETS		3
#define NTRADERS		6
#define NACCOUNTS		(NTRADERS + 1)	/* index 0 is the fee account */
#define REF_MAX_ORDERS	1024
#define LOG_MAX			(REF_MAX_ORDERS + 16)
#define POOR			NTRADERS	/* this trader is short of money */

typedef __int128 int128;

/* What the test expects CoreAddMarket to derive; checked at start. */
typedef struct MarketSpec
{
	const char *symbol;
	int			base;
	int			quote;
	const char *tick;
	const char *lot;
	int			maker_bps;
	int			taker_bps;
	const char *min_notional;
	int64_t		lot_units;
	int64_t		notional_unit;
	int64_t		min_units;
	int64_t		mid;			/* starting mid price, ticks */
} MarketSpec;

static const char *const asset_codes[NASSETS] = {"USD", "BTC", "ETH", "SOL"};
static const int asset_scales[NASSETS] = {2, 8, 6, 0};
/* what a well-off trader starts with, per asset */
static const int64_t asset_funds[NASSETS] = {
	500000000LL, 5000000000LL, 5000000000LL, 1000000LL
};

static const MarketSpec markets[NMARKETS] = {
	/* 1 USD ticks, 0.01 BTC lots: 10^6 sat per lot, 1 cent per tick x lot */
	{"BTC-USD", 1, 0, "1", "0.01", 10, 25, NULL, 1000000, 1, 0, 30000},
	/* 0.00001 BTC ticks, 0.1 ETH lots: 100 sat per tick x lot */
	{"ETH-BTC", 2, 1, "0.00001", "0.1", 0, 0, "0", 100000, 100, 0, 5000},
	/* 0.05 USD ticks, 10 SOL lots: 50 cents per tick x lot, min 500 USD */
	{"SOL-USD", 3, 0, "0.05", "10", 5, 7, "500", 10, 50, 50000, 400},
};

static const int64_t account_ids[NACCOUNTS] = {
	0, 3, 17, 42, 1000, 1001, 987654321
};

/* Capacities and length of one run. */
typedef struct RunConfig
{
	const char *name;
	CoreConfig	core;
	int64_t		ops;
	int			funded;			/* traders funded at the start */
	int			depth;			/* limit prices up to this many gaps from the mid */
	int			gap_per_mid;	/* a gap is mid / this many ticks; 0: one tick */
} RunConfig;

typedef struct RefOrder
{
	int64_t		id;
	int			acct;			/* index into account_ids */
	int			market;
	int			side;
	int			type;
	int64_t		price;			/* 0 for market orders */
	int64_t		quantity;
	int64_t		filled;
	int64_t		filled_quote;
	int64_t		quote_limit;
	int64_t		expire_at;
	int64_t		held;			/* funds still held, tracked on their own */
	int64_t		seq;			/* time priority on the book */
	int			tif;
	int			stp;
	int			status;
	bool		post_only;
} RefOrder;

typedef struct RefBalance
{
	int64_t		avail;
	int64_t		locked;
	bool		exists;
} RefBalance;

/* The reference's whole state; copied for a fill-or-kill trial run. */
typedef struct Ref
{
	RefOrder	orders[REF_MAX_ORDERS];
	int			norders;
	RefBalance	bal[NACCOUNTS][NASSETS];
	int			nbalances;
	int64_t		deposits[NASSETS];
	bool		halted[NMARKETS];
	int64_t		seq;
	int64_t		next_trade_id;
} Ref;

/* An order snapshot as the sink reports it. */
typedef struct Event
{
	int64_t		id;
	int64_t		status;
	int64_t		filled;
	int64_t		quantity;
} Event;

/* What one operation reported: trades in order, order snapshots. */
typedef struct Log
{
	CoreTrade	trades[LOG_MAX];
	int			ntrades;
	Event		events[LOG_MAX];
	int			nevents;
	bool		overflow;
} Log;

/* Everything one run needs. */
typedef struct Run
{
	const RunConfig *config;
	Core	   *core;
	void	   *region;
	Ref			ref;
	Ref			trial;			/* scratch for fill-or-kill */
	Log			core_log;
	Log			ref_log;
	Log			trial_log;
	RefBalance	clean[NACCOUNTS][NASSETS];	/* as of CoreClearDirty */
	uint64_t	rng;
	int64_t		now;
	int64_t		next_order_id;
	int64_t		next_trade_id;	/* the core's counter */
	int64_t		mid[NMARKETS];
	int64_t		op;
	char		what[256];		/* the operation being checked */
	bool		failed;
	/* statistics */
	int64_t		trades;
	int64_t		placed;
	int64_t		rested;
	int64_t		errors[CORE_E_INTERNAL + 1];
	int64_t		statuses[CORE_EXPIRED + 1];
	int64_t		max_open;
	int			max_side_levels;	/* most levels on one side of a book */
	int64_t		rebuilds;
} Run;

/* splitmix64: a small seeded generator with good output. */
static uint64_t
RandNext(Run *run)
{
	uint64_t	z = (run->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [lo, hi]. */
static int64_t
RandRange(Run *run, int64_t lo, int64_t hi)
{
	return lo + (int64_t) (RandNext(run) % (uint64_t) (hi - lo + 1));
}

/* True with probability num/den. */
static bool
Chance(Run *run, int num, int den)
{
	return RandNext(run) % (uint64_t) den < (uint64_t) num;
}

/* Report a mismatch once, with the operation that caused it. */
static void
Fail(Run *run, const char *fmt,...) __attribute__((format(printf, 2, 3)));

static void
Fail(Run *run, const char *fmt,...)
{
	va_list		ap;

	if (run->failed)
		return;
	run->failed = true;
	printf("  %s: op %" PRId64 " (%s): ", run->config->name, run->op,
		   run->what);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

/* Account index of an account id, -1 when unknown. */
static int
AccountIndex(int64_t id)
{
	for (int i = 0; i < NACCOUNTS; i++)
		if (account_ids[i] == id)
			return i;
	return -1;
}

/* ---- the reference exchange ---- */

static int64_t
FeeCeil(int64_t amount, int bps)
{
	int128		num = (int128) amount * bps;

	return (int64_t) (num / 10000 + (num % 10000 != 0));
}

/* True when a taker with this limit may trade at price. */
static bool
Crosses(int taker_side, int64_t limit, int64_t price)
{
	return taker_side == CORE_BUY ? price <= limit : price >= limit;
}

/* The asset a resting order of this side holds in its market. */
static int
HoldAssetOf(int market, int side)
{
	return side == CORE_BUY ? markets[market].quote : markets[market].base;
}

/* Create the balance row if missing. */
static RefBalance *
RefRow(Ref *r, int acct, int asset)
{
	RefBalance *b = &r->bal[acct][asset];

	if (!b->exists)
	{
		b->exists = true;
		r->nbalances++;
	}
	return b;
}

/* Record an order snapshot as the sink would. */
static void
LogEvent(Log *log, const RefOrder *o)
{
	if (log->nevents >= LOG_MAX)
	{
		log->overflow = true;
		return;
	}
	log->events[log->nevents].id = o->id;
	log->events[log->nevents].status = o->status;
	log->events[log->nevents].filled = o->filled;
	log->events[log->nevents].quantity = o->quantity;
	log->nevents++;
}

/* Index of the oldest order at the best price of a book side, or -1. */
static int
RefBest(const Ref *r, int market, int side)
{
	int			best = -1;

	for (int i = 0; i < r->norders; i++)
	{
		const RefOrder *o = &r->orders[i];

		if (o->market != market || o->side != side)
			continue;
		if (best < 0 ||
			(side == CORE_BUY ? o->price > r->orders[best].price :
			 o->price < r->orders[best].price) ||
			(o->price == r->orders[best].price &&
			 o->seq < r->orders[best].seq))
			best = i;
	}
	return best;
}

/* Drop order k from the reference book (order of the array is free). */
static void
RefRemove(Ref *r, int k)
{
	r->orders[k] = r->orders[--r->norders];
}

/* Take a resting order off the book, giving back what it holds. */
static void
RefClose(Ref *r, Log *log, int k, int status)
{
	RefOrder   *o = &r->orders[k];
	RefBalance *b = &r->bal[o->acct][HoldAssetOf(o->market, o->side)];

	b->locked -= o->held;
	b->avail += o->held;
	o->held = 0;
	o->status = status;
	LogEvent(log, o);
	RefRemove(r, k);
}

/* Execute lots between taker t and the resting order k at k's price. */
static void
RefTrade(Ref *r, Log *log, RefOrder *t, int k, int64_t lots)
{
	RefOrder   *mk = &r->orders[k];
	const MarketSpec *m = &markets[t->market];
	RefOrder   *buyer = t->side == CORE_BUY ? t : mk;
	RefOrder   *seller = t->side == CORE_BUY ? mk : t;
	int64_t		base = lots * m->lot_units;
	int64_t		quote = lots * mk->price * m->notional_unit;
	int64_t		maker_fee = FeeCeil(mk == buyer ? base : quote, m->maker_bps);
	int64_t		taker_fee = FeeCeil(t == buyer ? base : quote, m->taker_bps);
	int64_t		buyer_fee = buyer == t ? taker_fee : maker_fee;
	int64_t		seller_fee = seller == t ? taker_fee : maker_fee;
	CoreTrade  *tr;

	if (buyer->type == CORE_MARKET)
		r->bal[buyer->acct][m->quote].avail -= quote;
	else
	{
		/* the buyer held its own limit for these lots */
		int64_t		held = lots * buyer->price * m->notional_unit;

		buyer->held -= held;
		r->bal[buyer->acct][m->quote].locked -= held;
		r->bal[buyer->acct][m->quote].avail += held - quote;
	}
	seller->held -= base;
	r->bal[seller->acct][m->base].locked -= base;
	r->bal[buyer->acct][m->base].avail += base - buyer_fee;
	r->bal[seller->acct][m->quote].avail += quote - seller_fee;
	r->bal[0][m->base].avail += buyer_fee;
	r->bal[0][m->quote].avail += seller_fee;

	mk->filled += lots;
	mk->filled_quote += quote;
	t->filled += lots;
	t->filled_quote += quote;

	if (log->ntrades < LOG_MAX)
	{
		tr = &log->trades[log->ntrades++];
		memset(tr, 0, sizeof(*tr));
		tr->id = r->next_trade_id;
		tr->market = t->market;
		tr->price = mk->price;
		tr->lots = lots;
		tr->base_units = base;
		tr->quote_units = quote;
		tr->maker_order = mk->id;
		tr->taker_order = t->id;
		tr->maker_account = account_ids[mk->acct];
		tr->taker_account = account_ids[t->acct];
		tr->taker_side = (uint8_t) t->side;
		tr->maker_fee = maker_fee;
		tr->taker_fee = taker_fee;
	}
	else
		log->overflow = true;
	r->next_trade_id++;

	if (mk->filled == mk->quantity)
	{
		mk->status = CORE_FILLED;
		LogEvent(log, mk);
		RefRemove(r, k);
	}
	else
	{
		mk->status = CORE_PARTIALLY_FILLED;
		LogEvent(log, mk);
	}
}

/* Match taker t (funds already held) and rest, cancel or fill it. */
static void
RefExecute(Ref *r, Log *log, RefOrder *t)
{
	const MarketSpec *m = &markets[t->market];
	int			opp = t->side == CORE_BUY ? CORE_SELL : CORE_BUY;
	bool		stopped = false;
	bool		out_of_funds = false;
	bool		may_rest = t->type == CORE_LIMIT && t->tif == CORE_GTC;

	RefRow(r, t->acct, m->base);
	RefRow(r, t->acct, m->quote);
	RefRow(r, 0, m->base);
	RefRow(r, 0, m->quote);
	if (t->held > 0)
	{
		RefBalance *b = &r->bal[t->acct][HoldAssetOf(t->market, t->side)];

		b->avail -= t->held;
		b->locked += t->held;
	}

	while (t->filled < t->quantity)
	{
		int			k = RefBest(r, t->market, opp);
		RefOrder   *mk;
		int64_t		lots;

		if (k < 0)
			break;
		mk = &r->orders[k];
		if (t->type == CORE_LIMIT && !Crosses(t->side, t->price, mk->price))
			break;
		if (mk->acct == t->acct)
		{
			if (t->stp == CORE_STP_CANCEL_TAKER)
			{
				stopped = true;
				break;
			}
			RefClose(r, log, k, CORE_CANCELLED);
			if (t->stp == CORE_STP_CANCEL_BOTH)
			{
				stopped = true;
				break;
			}
			continue;
		}
		lots = mk->quantity - mk->filled;
		if (lots > t->quantity - t->filled)
			lots = t->quantity - t->filled;
		if (t->type == CORE_MARKET && t->side == CORE_BUY)
		{
			int64_t		unit = mk->price * m->notional_unit;
			int64_t		money = r->bal[t->acct][m->quote].avail;

			if (t->quote_limit != 0 && t->quote_limit - t->filled_quote < money)
				money = t->quote_limit - t->filled_quote;
			if (money / unit < lots)
				lots = money / unit;
			if (lots == 0)
			{
				out_of_funds = true;
				break;
			}
		}
		RefTrade(r, log, t, k, lots);
	}

	if (t->quote_limit != 0)
	{
		t->quantity = t->filled;
		/* a quote budget spent to the last unit is fully executed */
		if (t->filled_quote == t->quote_limit)
			out_of_funds = true;
	}
	if (t->filled == t->quantity && t->quantity > 0 &&
		(t->quote_limit == 0 || out_of_funds))
		t->status = CORE_FILLED;
	else if (may_rest && !stopped)
	{
		t->status = t->filled > 0 ? CORE_PARTIALLY_FILLED : CORE_OPEN;
		t->seq = r->seq++;
		r->orders[r->norders++] = *t;
	}
	else
	{
		RefBalance *b = &r->bal[t->acct][HoldAssetOf(t->market, t->side)];

		b->locked -= t->held;
		b->avail += t->held;
		t->held = 0;
		t->status = CORE_CANCELLED;
	}
	LogEvent(log, t);
}

/* Number of distinct price levels on every book. */
static int
RefLevelCount(const Ref *r)
{
	int64_t		keys[REF_MAX_ORDERS];
	int			n = 0;

	for (int i = 0; i < r->norders; i++)
	{
		int64_t		key = (int64_t) (r->orders[i].market * 2 +
									 r->orders[i].side) << 48 |
			r->orders[i].price;
		bool		seen = false;

		for (int j = 0; j < n && !seen; j++)
			seen = keys[j] == key;
		if (!seen)
			keys[n++] = key;
	}
	return n;
}

/* True when some order rests at this price of this book side. */
static bool
RefLevelExists(const Ref *r, int market, int side, int64_t price)
{
	for (int i = 0; i < r->norders; i++)
		if (r->orders[i].market == market && r->orders[i].side == side &&
			r->orders[i].price == price)
			return true;
	return false;
}

/*
 * Place an order in the reference: the same checks in the same order as
 * the API promises, then the match.
 */
static CoreErrorCode
RefPlace(Run *run, const CoreOrderRequest *q, RefOrder *result)
{
	Ref		   *r = &run->ref;
	const CoreConfig *cap = &run->config->core;
	const MarketSpec *m;
	RefOrder	t;
	int			acct;
	int			missing;
	int			hold_asset = -1;
	int64_t		hold = 0;
	bool		may_rest;
	int			opp;

	if (q->market < 0 || q->market >= NMARKETS)
		return CORE_E_UNKNOWN_MARKET;
	m = &markets[q->market];
	acct = AccountIndex(q->account);
	if (acct < 0)
		return CORE_E_UNKNOWN_ACCOUNT;
	if (acct == 0)
		return CORE_E_INVALID;
	if (r->halted[q->market])
		return CORE_E_HALTED;
	if ((unsigned) q->side > CORE_SELL || (unsigned) q->type > CORE_MARKET ||
		(unsigned) q->tif > CORE_FOK ||
		(unsigned) q->stp > CORE_STP_CANCEL_BOTH || q->id <= 0)
		return CORE_E_INVALID;
	if (q->quantity < 0 || q->price < 0 || q->quote_limit < 0)
		return CORE_E_RANGE;
	if (q->type == CORE_LIMIT)
	{
		int128		notional = (int128) q->price * q->quantity *
			m->notional_unit;

		if (q->price == 0 || q->quote_limit != 0)
			return CORE_E_INVALID;
		if (q->quantity == 0)
			return CORE_E_RANGE;
		if (q->post_only && q->tif != CORE_GTC)
			return CORE_E_INVALID;
		if (q->expire_at != 0 &&
			(q->tif != CORE_GTC || q->expire_at <= q->now))
			return CORE_E_INVALID;
		if (notional > INT64_MAX ||
			(int128) q->quantity * m->lot_units > INT64_MAX)
			return CORE_E_RANGE;
		if (notional < m->min_units)
			return CORE_E_MIN_NOTIONAL;
	}
	else
	{
		if (q->price != 0 || q->post_only || q->expire_at != 0 ||
			(q->quantity == 0) == (q->quote_limit == 0))
			return CORE_E_INVALID;
		if (q->quote_limit != 0)
		{
			if (q->side != CORE_BUY || q->tif == CORE_FOK)
				return CORE_E_INVALID;
			if (q->quote_limit < m->min_units)
				return CORE_E_MIN_NOTIONAL;
		}
		else if ((int128) q->quantity * m->lot_units > INT64_MAX)
			return CORE_E_RANGE;
	}

	missing = !r->bal[acct][m->base].exists + !r->bal[acct][m->quote].exists +
		!r->bal[0][m->base].exists + !r->bal[0][m->quote].exists;
	if (r->nbalances + missing > cap->max_balances)
		return CORE_E_CAPACITY;
	may_rest = q->type == CORE_LIMIT && q->tif == CORE_GTC;
	if (may_rest && r->norders >= cap->max_orders)
		return CORE_E_CAPACITY;
	if (may_rest && !RefLevelExists(r, q->market, q->side, q->price) &&
		RefLevelCount(r) >= cap->max_levels)
		return CORE_E_CAPACITY;

	if (q->type == CORE_LIMIT)
	{
		hold_asset = HoldAssetOf(q->market, q->side);
		hold = q->side == CORE_BUY ?
			q->quantity * q->price * m->notional_unit :
			q->quantity * m->lot_units;
	}
	else if (q->side == CORE_SELL)
	{
		hold_asset = m->base;
		hold = q->quantity * m->lot_units;
	}
	else if (q->quote_limit != 0)
	{
		hold_asset = m->quote;
		hold = q->quote_limit;
	}
	if (hold_asset >= 0 && r->bal[acct][hold_asset].avail < hold)
		return CORE_E_INSUFFICIENT;

	memset(&t, 0, sizeof(t));
	t.id = q->id;
	t.acct = acct;
	t.market = q->market;
	t.side = q->side;
	t.type = q->type;
	t.price = q->price;
	t.quantity = q->quote_limit != 0 ? INT64_MAX : q->quantity;
	t.quote_limit = q->quote_limit;
	t.expire_at = q->expire_at;
	t.stp = q->stp;
	t.post_only = q->post_only;
	/* a market buy spends from available: nothing is held */
	t.held = q->type == CORE_MARKET && q->side == CORE_BUY ? 0 : hold;
	t.tif = q->tif;
	t.status = CORE_OPEN;

	opp = q->side == CORE_BUY ? CORE_SELL : CORE_BUY;
	if (q->post_only)
	{
		int			k = RefBest(r, q->market, opp);

		if (k >= 0 && Crosses(q->side, q->price, r->orders[k].price))
		{
			t.status = CORE_REJECTED;
			LogEvent(&run->ref_log, &t);
			*result = t;
			return CORE_OK;
		}
	}
	if (q->tif == CORE_FOK)
	{
		/* try it on a copy; keep the copy only if everything filled */
		RefOrder	trial = t;

		run->trial = *r;
		memset(&run->trial_log, 0, sizeof(run->trial_log));
		RefExecute(&run->trial, &run->trial_log, &trial);
		if (trial.status == CORE_FILLED)
		{
			*r = run->trial;
			run->ref_log = run->trial_log;
			*result = trial;
		}
		else
		{
			t.status = CORE_CANCELLED;
			t.held = 0;
			LogEvent(&run->ref_log, &t);
			*result = t;
		}
		return CORE_OK;
	}
	RefExecute(r, &run->ref_log, &t);
	*result = t;
	return CORE_OK;
}

/* Index of a resting order by id, or -1. */
static int
RefFind(const Ref *r, int64_t id)
{
	for (int i = 0; i < r->norders; i++)
		if (r->orders[i].id == id)
			return i;
	return -1;
}

/* Cancel in the reference. */
static CoreErrorCode
RefCancel(Run *run, int64_t account, int64_t id, RefOrder *result)
{
	int			k = RefFind(&run->ref, id);

	if (k < 0 || account_ids[run->ref.orders[k].acct] != account)
		return CORE_E_UNKNOWN_ORDER;
	*result = run->ref.orders[k];
	RefClose(&run->ref, &run->ref_log, k, CORE_CANCELLED);
	result->status = CORE_CANCELLED;
	result->held = 0;
	return CORE_OK;
}

/* Reduce an order's quantity in the reference. */
static CoreErrorCode
RefAmend(Run *run, int64_t account, int64_t id, int64_t quantity,
		 RefOrder *result)
{
	int			k = RefFind(&run->ref, id);
	RefOrder   *o;

	if (k < 0 || account_ids[run->ref.orders[k].acct] != account)
		return CORE_E_UNKNOWN_ORDER;
	o = &run->ref.orders[k];
	if (quantity <= 0)
		return CORE_E_RANGE;
	if (quantity > o->quantity || quantity <= o->filled)
		return CORE_E_INVALID;
	if (quantity < o->quantity)
	{
		const MarketSpec *m = &markets[o->market];
		int64_t		per_lot = o->side == CORE_BUY ?
			o->price * m->notional_unit : m->lot_units;
		int64_t		release = (o->quantity - quantity) * per_lot;
		RefBalance *b = &run->ref.bal[o->acct][HoldAssetOf(o->market, o->side)];

		o->held -= release;
		b->locked -= release;
		b->avail += release;
		o->quantity = quantity;
		LogEvent(&run->ref_log, o);
	}
	*result = *o;
	return CORE_OK;
}

/* Cancel every order of an account (in one market) in the reference. */
static int32_t
RefCancelAll(Run *run, int64_t account, int32_t market)
{
	int			acct = AccountIndex(account);
	int32_t		n = 0;

	if (acct < 0)
		return 0;
	for (int i = run->ref.norders - 1; i >= 0; i--)
	{
		RefOrder   *o = &run->ref.orders[i];

		if (o->acct == acct && (market < 0 || o->market == market))
		{
			RefClose(&run->ref, &run->ref_log, i, CORE_CANCELLED);
			n++;
		}
	}
	return n;
}

/* Deposit in the reference, with the same refusals. */
static CoreErrorCode
RefDeposit(Run *run, int64_t account, int32_t asset, int64_t units)
{
	Ref		   *r = &run->ref;
	int			acct = AccountIndex(account);
	int64_t		total;

	if (acct < 0)
		return CORE_E_UNKNOWN_ACCOUNT;
	if (asset < 0 || asset >= NASSETS)
		return CORE_E_UNKNOWN_ASSET;
	if (units <= 0)
		return CORE_E_RANGE;
	if (__builtin_add_overflow(r->deposits[asset], units, &total))
		return CORE_E_RANGE;
	if (!r->bal[acct][asset].exists &&
		r->nbalances >= run->config->core.max_balances)
		return CORE_E_CAPACITY;
	r->deposits[asset] = total;
	RefRow(r, acct, asset)->avail += units;
	return CORE_OK;
}

/* ---- comparing the core with the reference ---- */

/* Sink callbacks for the core. */
static void
SinkOrder(void *arg, const CoreOrder *o)
{
	Log		   *log = arg;

	if (log->nevents >= LOG_MAX)
	{
		log->overflow = true;
		return;
	}
	log->events[log->nevents].id = o->id;
	log->events[log->nevents].status = o->status;
	log->events[log->nevents].filled = o->filled;
	log->events[log->nevents].quantity = o->quantity;
	log->nevents++;
}

static void
SinkTrade(void *arg, const CoreTrade *t)
{
	Log		   *log = arg;

	if (log->ntrades >= LOG_MAX)
	{
		log->overflow = true;
		return;
	}
	log->trades[log->ntrades++] = *t;
}

/* Order snapshots by id, status, filled. */
static int
EventCmp(const void *a, const void *b)
{
	const Event *x = a;
	const Event *y = b;

	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	if (x->status != y->status)
		return x->status < y->status ? -1 : 1;
	if (x->filled != y->filled)
		return x->filled < y->filled ? -1 : 1;
	return 0;
}

/* Trades must agree in order; order snapshots as a set. */
static void
CompareLogs(Run *run)
{
	Log		   *c = &run->core_log;
	Log		   *f = &run->ref_log;

	if (c->overflow || f->overflow)
	{
		Fail(run, "log overflow");
		return;
	}
	if (c->ntrades != f->ntrades)
	{
		Fail(run, "core made %d trades, reference %d", c->ntrades, f->ntrades);
		return;
	}
	for (int i = 0; i < c->ntrades; i++)
	{
		const CoreTrade *x = &c->trades[i];
		const CoreTrade *y = &f->trades[i];

		if (x->id != y->id || x->market != y->market || x->price != y->price ||
			x->lots != y->lots || x->base_units != y->base_units ||
			x->quote_units != y->quote_units ||
			x->maker_order != y->maker_order ||
			x->taker_order != y->taker_order ||
			x->maker_account != y->maker_account ||
			x->taker_account != y->taker_account ||
			x->taker_side != y->taker_side ||
			x->maker_fee != y->maker_fee || x->taker_fee != y->taker_fee)
		{
			Fail(run, "trade %d differs: core id %" PRId64 " maker %" PRId64
				 " taker %" PRId64 " %" PRId64 " x %" PRId64 " fees %" PRId64
				 "/%" PRId64 "; reference id %" PRId64 " maker %" PRId64
				 " taker %" PRId64 " %" PRId64 " x %" PRId64 " fees %" PRId64
				 "/%" PRId64, i, x->id, x->maker_order, x->taker_order,
				 x->lots, x->price, x->maker_fee, x->taker_fee, y->id,
				 y->maker_order, y->taker_order, y->lots, y->price,
				 y->maker_fee, y->taker_fee);
			return;
		}
	}
	if (c->nevents != f->nevents)
	{
		Fail(run, "core reported %d order snapshots, reference %d",
			 c->nevents, f->nevents);
		return;
	}
	/* the last snapshot of the taker comes last in both */
	qsort(c->events, c->nevents, sizeof(Event), EventCmp);
	qsort(f->events, f->nevents, sizeof(Event), EventCmp);
	for (int i = 0; i < c->nevents; i++)
		if (EventCmp(&c->events[i], &f->events[i]) != 0 ||
			c->events[i].quantity != f->events[i].quantity)
		{
			Fail(run, "order snapshot differs: core %" PRId64 " status %" PRId64
				 " filled %" PRId64 ", reference %" PRId64 " status %" PRId64
				 " filled %" PRId64, c->events[i].id, c->events[i].status,
				 c->events[i].filled, f->events[i].id, f->events[i].status,
				 f->events[i].filled);
			return;
		}
}

/* A result from the core against the reference's. */
static void
CompareResult(Run *run, const CoreOrder *c, const RefOrder *f)
{
	if (c->id != f->id || c->status != f->status || c->filled != f->filled ||
		c->filled_quote != f->filled_quote || c->quantity != f->quantity ||
		c->market != f->market || c->side != f->side ||
		c->account != account_ids[f->acct])
		Fail(run, "result differs: core status %d filled %" PRId64 "/%" PRId64
			 " quote %" PRId64 "; reference status %d filled %" PRId64
			 "/%" PRId64 " quote %" PRId64, c->status, c->filled, c->quantity,
			 c->filled_quote, f->status, f->filled, f->quantity,
			 f->filled_quote);
}

/* The core and the reference must agree on the outcome. */
static void
CompareCode(Run *run, CoreErrorCode core_rc, CoreErrorCode ref_rc,
			const CoreError *err)
{
	if (core_rc != ref_rc)
		Fail(run, "core returned %d (%s), reference %d", core_rc,
			 core_rc != CORE_OK ? err->message : "ok", ref_rc);
	else if (core_rc != CORE_OK &&
			 (err->code != core_rc || err->message[0] == '\0'))
		Fail(run, "error %d without its message", core_rc);
	if (core_rc != CORE_OK)
		run->errors[core_rc]++;
}

typedef struct RefLevel
{
	int64_t		price;
	int64_t		lots;
	int32_t		count;
} RefLevel;

/* Levels by ascending price. */
static int
PriceAsc(const void *a, const void *b)
{
	const RefLevel *x = a;
	const RefLevel *y = b;

	return x->price < y->price ? -1 : x->price > y->price;
}

/* Each book level, walked from the best, against the reference's. */
static void
CompareBooks(Run *run)
{
	const Ref  *r = &run->ref;
	int			total_levels = 0;

	for (int m = 0; m < NMARKETS; m++)
		for (int side = 0; side < 2; side++)
		{
			RefLevel	lv[REF_MAX_ORDERS];
			int			n = 0;
			int			merged = 0;
			int32_t		l;
			int32_t		prev = CORE_NO_INDEX;
			const CoreMarket *cm = CoreGetMarket(run->core, m);

			for (int i = 0; i < r->norders; i++)
				if (r->orders[i].market == m && r->orders[i].side == side)
				{
					lv[n].price = r->orders[i].price;
					lv[n].lots = r->orders[i].quantity - r->orders[i].filled;
					lv[n].count = 1;
					n++;
				}
			qsort(lv, n, sizeof(RefLevel), PriceAsc);
			for (int i = 0; i < n; i++)
			{
				if (merged > 0 && lv[merged - 1].price == lv[i].price)
				{
					lv[merged - 1].lots += lv[i].lots;
					lv[merged - 1].count++;
				}
				else
					lv[merged++] = lv[i];
			}
			total_levels += merged;

			l = CoreBestLevel(run->core, m, (CoreSide) side);
			for (int i = 0; i < merged; i++)
			{
				const RefLevel *want = &lv[side == CORE_BUY ? merged - 1 - i : i];
				const CoreLevel *got = CoreGetLevel(run->core, l);

				if (got == NULL)
				{
					Fail(run, "market %d side %d: %d levels, want %d", m, side,
						 i, merged);
					return;
				}
				if (got->price != want->price || got->lots != want->lots ||
					got->count != want->count || got->market != m ||
					got->side != side || got->better != prev)
				{
					Fail(run, "market %d side %d level %d: core %" PRId64 " x %"
						 PRId64 " (%d), reference %" PRId64 " x %" PRId64 " (%d)",
						 m, side, i, got->price, got->lots, got->count,
						 want->price, want->lots, want->count);
					return;
				}
				prev = l;
				l = got->worse;
			}
			if (l != CORE_NO_INDEX)
			{
				Fail(run, "market %d side %d: more than %d levels", m, side,
					 merged);
				return;
			}
			if (cm->worst[side] != prev)
			{
				Fail(run, "market %d side %d: worst level is wrong", m, side);
				return;
			}
		}
	if (total_levels > run->config->core.max_levels)
		Fail(run, "%d levels, more than max_levels", total_levels);
}

/* What CoreForEachOrder adds up. */
typedef struct HoldWalk
{
	const Core *core;
	int64_t		holds[NACCOUNTS][NASSETS];
	int64_t		n;
	bool		bad;
} HoldWalk;

/* CoreForEachOrder callback: add up what each order holds. */
static bool
HoldWalkOrder(void *arg, const CoreOrder *o)
{
	HoldWalk   *w = arg;
	int			acct = AccountIndex(o->account);
	int32_t		asset;
	int64_t		units;

	CoreOrderHold(w->core, o, &asset, &units);
	if (acct < 0 || asset < 0 || asset >= NASSETS || units <= 0)
		w->bad = true;
	else
		w->holds[acct][asset] += units;
	w->n++;
	return true;
}

/* Balances, resting orders, invariants and dirty rows. */
static void
CompareState(Run *run)
{
	Ref		   *r = &run->ref;
	HoldWalk	w;
	CoreBalanceRow rows[NACCOUNTS * NASSETS + 1];
	int32_t		ndirty;
	bool		dirty[NACCOUNTS][NASSETS];

	/* every balance */
	for (int a = 0; a < NACCOUNTS; a++)
		for (int s = 0; s < NASSETS; s++)
		{
			int64_t		avail,
						locked;
			bool		exists = CoreGetBalance(run->core, account_ids[a], s,
												&avail, &locked);
			const RefBalance *b = &r->bal[a][s];

			if (exists != b->exists || avail != b->avail ||
				locked != b->locked)
			{
				Fail(run, "balance of account %" PRId64 " in %s: core %" PRId64
					 "/%" PRId64 "%s, reference %" PRId64 "/%" PRId64 "%s",
					 account_ids[a], asset_codes[s], avail, locked,
					 exists ? "" : " (none)", b->avail, b->locked,
					 b->exists ? "" : " (none)");
				return;
			}
			if (avail < 0 || locked < 0)
			{
				Fail(run, "negative balance");
				return;
			}
		}

	/* every resting order */
	if (CoreOpenOrderCount(run->core) != r->norders)
	{
		Fail(run, "core has %d open orders, reference %d",
			 CoreOpenOrderCount(run->core), r->norders);
		return;
	}
	for (int i = 0; i < r->norders; i++)
	{
		const RefOrder *f = &r->orders[i];
		const CoreOrder *c = CoreFindOrder(run->core, f->id);
		const MarketSpec *m = &markets[f->market];
		int64_t		per_lot = f->side == CORE_BUY ?
			f->price * m->notional_unit : m->lot_units;

		if (c == NULL)
		{
			Fail(run, "order %" PRId64 " is missing from the core", f->id);
			return;
		}
		if (c->account != account_ids[f->acct] || c->market != f->market ||
			c->side != f->side || c->price != f->price ||
			c->quantity != f->quantity || c->filled != f->filled ||
			c->filled_quote != f->filled_quote || c->status != f->status ||
			CoreOrderExpireAt(c) != f->expire_at || c->post_only != f->post_only ||
			c->type != CORE_LIMIT)
		{
			Fail(run, "order %" PRId64 " differs: core %" PRId64 "/%" PRId64
				 " status %d, reference %" PRId64 "/%" PRId64 " status %d",
				 f->id, c->filled, c->quantity, c->status, f->filled,
				 f->quantity, f->status);
			return;
		}
		/* the reference's own tally of what the order holds */
		if (f->held != (f->quantity - f->filled) * per_lot)
		{
			Fail(run, "reference order %" PRId64 " holds %" PRId64, f->id,
				 f->held);
			return;
		}
	}

	/* locked is exactly what resting orders hold */
	memset(&w, 0, sizeof(w));
	w.core = run->core;
	CoreForEachOrder(run->core, HoldWalkOrder, &w);
	if (w.bad || w.n != r->norders)
	{
		Fail(run, "order walk found %" PRId64 " orders", w.n);
		return;
	}
	for (int a = 0; a < NACCOUNTS; a++)
		for (int s = 0; s < NASSETS; s++)
		{
			int64_t		avail,
						locked;

			CoreGetBalance(run->core, account_ids[a], s, &avail, &locked);
			if (locked != w.holds[a][s])
			{
				Fail(run, "account %" PRId64 " locks %" PRId64
					 " %s but its orders hold %" PRId64, account_ids[a],
					 locked, asset_codes[s], w.holds[a][s]);
				return;
			}
		}

	/* every unit deposited is still somewhere */
	for (int s = 0; s < NASSETS; s++)
	{
		int128		sum = 0;

		for (int a = 0; a < NACCOUNTS; a++)
			sum += (int128) r->bal[a][s].avail + r->bal[a][s].locked;
		if (CoreGetAsset(run->core, s)->total != r->deposits[s] ||
			sum != r->deposits[s])
		{
			Fail(run, "asset %s total %" PRId64 ", deposits %" PRId64,
				 asset_codes[s], CoreGetAsset(run->core, s)->total,
				 r->deposits[s]);
			return;
		}
	}

	/* the books never stay crossed */
	for (int m = 0; m < NMARKETS; m++)
	{
		int32_t		b = CoreBestLevel(run->core, m, CORE_BUY);
		int32_t		s = CoreBestLevel(run->core, m, CORE_SELL);

		if (b != CORE_NO_INDEX && s != CORE_NO_INDEX &&
			CoreGetLevel(run->core, b)->price >=
			CoreGetLevel(run->core, s)->price)
		{
			Fail(run, "market %d is crossed", m);
			return;
		}
	}
	CompareBooks(run);
	if (run->failed)
		return;

	/* every balance that changed since the last write-back is dirty */
	ndirty = CoreDirtyBalances(run->core, rows, NACCOUNTS * NASSETS + 1);
	if (ndirty != CoreDirtyCount(run->core) || ndirty > NACCOUNTS * NASSETS)
	{
		Fail(run, "%d dirty balances", ndirty);
		return;
	}
	memset(dirty, 0, sizeof(dirty));
	for (int32_t i = 0; i < ndirty; i++)
	{
		int			a = AccountIndex(rows[i].account);

		if (a < 0 || rows[i].asset < 0 || rows[i].asset >= NASSETS ||
			dirty[a][rows[i].asset] ||
			rows[i].available != r->bal[a][rows[i].asset].avail ||
			rows[i].locked != r->bal[a][rows[i].asset].locked)
		{
			Fail(run, "dirty row %d is wrong or repeated", i);
			return;
		}
		dirty[a][rows[i].asset] = true;
	}
	for (int a = 0; a < NACCOUNTS; a++)
		for (int s = 0; s < NASSETS; s++)
		{
			const RefBalance *now = &r->bal[a][s];
			const RefBalance *then = &run->clean[a][s];

			if ((now->exists != then->exists || now->avail != then->avail ||
				 now->locked != then->locked) && !dirty[a][s])
			{
				Fail(run, "balance of %" PRId64 " in %s changed but is not dirty",
					 account_ids[a], asset_codes[s]);
				return;
			}
		}
	if (Chance(run, 1, 8))
	{
		CoreClearDirty(run->core);
		memcpy(run->clean, r->bal, sizeof(run->clean));
	}
}

/* ---- the operations ---- */

static void
BeginOp(Run *run)
{
	memset(&run->core_log, 0, sizeof(run->core_log));
	memset(&run->ref_log, 0, sizeof(run->ref_log));
}

/* Place one request in both and compare. */
static void
OpPlace(Run *run, const CoreOrderRequest *q)
{
	CoreSink	sink = {SinkOrder, SinkTrade, &run->core_log};
	CoreOrder	res;
	CoreError	err;
	RefOrder	want;
	CoreErrorCode rc;
	CoreErrorCode ref_rc;

	snprintf(run->what, sizeof(run->what),
			 "place id %" PRId64 " acct %" PRId64 " market %d %s %s tif %d stp %d%s price %"
			 PRId64 " qty %" PRId64 " quote %" PRId64 " expire %" PRId64,
			 q->id, q->account, q->market, q->side == CORE_BUY ? "buy" : "sell",
			 q->type == CORE_LIMIT ? "limit" : "market", q->tif, q->stp,
			 q->post_only ? " post-only" : "", q->price, q->quantity,
			 q->quote_limit, q->expire_at);
	BeginOp(run);
	memset(&err, 0, sizeof(err));
	rc = CorePlace(run->core, q, &sink, &run->next_trade_id, &res, &err);
	ref_rc = RefPlace(run, q, &want);
	CompareCode(run, rc, ref_rc, &err);
	if (rc == CORE_OK && ref_rc == CORE_OK)
	{
		CompareResult(run, &res, &want);
		run->statuses[res.status]++;
		if (res.status == CORE_OPEN || res.status == CORE_PARTIALLY_FILLED)
			run->rested++;
	}
	if (run->next_trade_id != run->ref.next_trade_id)
		Fail(run, "next trade id %" PRId64 ", reference %" PRId64,
			 run->next_trade_id, run->ref.next_trade_id);
	CompareLogs(run);
	run->trades += run->core_log.ntrades;
	run->placed++;
}

/*
 * What buying the first lots asks of market m costs (less when the book
 * is thinner): quote budgets that run out exactly at a lot boundary.
 */
static int64_t
SweepCost(Run *run, int m, int64_t lots)
{
	Ref		   *r = &run->ref;
	Ref		   *copy = &run->trial;
	int128		cost = 0;

	*copy = *r;
	while (lots > 0)
	{
		int			k = RefBest(copy, m, CORE_SELL);
		RefOrder   *o;
		int64_t		n;

		if (k < 0)
			break;
		o = &copy->orders[k];
		n = o->quantity - o->filled < lots ? o->quantity - o->filled : lots;
		cost += (int128) n * o->price * markets[m].notional_unit;
		lots -= n;
		RefRemove(copy, k);
	}
	return cost <= 0 ? 1 : cost > INT64_MAX ? INT64_MAX : (int64_t) cost;
}

/* A random request, now and then malformed on purpose. */
static void
RandomPlace(Run *run)
{
	CoreOrderRequest q;
	int			m = (int) RandRange(run, 0, NMARKETS - 1);
	int			acct = (int) RandRange(run, 1, NTRADERS);
	int64_t		mid = run->mid[m];

	memset(&q, 0, sizeof(q));
	q.id = run->next_order_id++;
	q.account = account_ids[acct];
	q.market = m;
	q.side = (CoreSide) RandRange(run, 0, 1);
	q.stp = (CoreStp) RandRange(run, 0, 2);
	q.now = run->now;
	if (Chance(run, 75, 100))
	{
		int64_t		gap = run->config->gap_per_mid == 0 ? 1 :
			mid / run->config->gap_per_mid > 1 ?
			mid / run->config->gap_per_mid : 1;
		int64_t		offset = RandRange(run, -2, run->config->depth) * gap;

		q.type = CORE_LIMIT;
		q.tif = Chance(run, 70, 100) ? CORE_GTC :
			Chance(run, 1, 2) ? CORE_IOC : CORE_FOK;
		/* mostly on the own side of the mid, sometimes through it */
		q.price = q.side == CORE_BUY ? mid - offset : mid + offset;
		q.quantity = Chance(run, 1, 20) ? RandRange(run, 1, 60) :
			RandRange(run, 1, 8);
		if (q.tif == CORE_GTC && Chance(run, 1, 8))
			q.post_only = true;
		if (q.tif == CORE_GTC && Chance(run, 1, 10))
			q.expire_at = run->now + RandRange(run, 1, 80);
	}
	else
	{
		q.type = CORE_MARKET;
		q.tif = (CoreTimeInForce) RandRange(run, 0, 2);
		if (q.side == CORE_BUY && q.tif != CORE_FOK && Chance(run, 2, 5))
		{
			q.quote_limit = RandRange(run, 1, 4 * mid *
									  markets[m].notional_unit);
			if (Chance(run, 1, 3))
				q.quote_limit = SweepCost(run, m, RandRange(run, 1, 12));
		}
		else
			q.quantity = RandRange(run, 1, 10);
	}
	if (acct == POOR && Chance(run, 1, 2) && q.type == CORE_MARKET &&
		q.side == CORE_BUY && q.quote_limit == 0)
		q.quantity = RandRange(run, 5, 40);

	if (Chance(run, 1, 40))
	{
		switch (RandRange(run, 0, 15))
		{
			case 0:
				q.price = 0;
				break;
			case 1:
				q.quantity = 0;
				break;
			case 2:
				q.price = -q.price - 1;
				break;
			case 3:
				q.quantity = -1;
				break;
			case 4:
				q.post_only = true;
				break;
			case 5:
				q.expire_at = run->now - RandRange(run, 0, 2);
				break;
			case 6:
				q.quote_limit = RandRange(run, 1, 100000);
				break;
			case 7:
				q.account = 555;
				break;
			case 8:
				q.account = 0;
				break;
			case 9:
				q.market = NMARKETS;
				break;
			case 10:
				q.price = INT64_MAX / 3;
				break;
			case 11:
				q.quantity = INT64_MAX / 7;
				break;
			case 12:
				q.tif = CORE_FOK;
				break;
			case 13:
				q.stp = (CoreStp) 3;
				break;
			case 14:
				q.id = -q.id;
				break;
			default:
				q.side = CORE_BUY;
				q.type = CORE_MARKET;
				q.price = 0;
				q.quantity = 0;
				q.quote_limit = RandRange(run, 1, 60000);
				break;
		}
	}
	OpPlace(run, &q);
}

/* A resting order of the reference picked at random, or -1. */
static int
RandomOrder(Run *run)
{
	if (run->ref.norders == 0)
		return -1;
	return (int) RandRange(run, 0, run->ref.norders - 1);
}

/* Cancel a random order, now and then a wrong one. */
static void
RandomCancel(Run *run)
{
	CoreSink	sink = {SinkOrder, SinkTrade, &run->core_log};
	int			k = RandomOrder(run);
	int64_t		id;
	int64_t		account;
	CoreOrder	res;
	CoreError	err;
	RefOrder	want;
	CoreErrorCode rc;
	CoreErrorCode ref_rc;

	if (k >= 0 && Chance(run, 9, 10))
	{
		id = run->ref.orders[k].id;
		account = Chance(run, 19, 20) ? account_ids[run->ref.orders[k].acct] :
			account_ids[RandRange(run, 0, NACCOUNTS - 1)];
	}
	else
	{
		id = RandRange(run, 0, run->next_order_id + 3);
		account = account_ids[RandRange(run, 1, NTRADERS)];
	}
	snprintf(run->what, sizeof(run->what), "cancel %" PRId64 " by %" PRId64,
			 id, account);
	BeginOp(run);
	memset(&err, 0, sizeof(err));
	rc = CoreCancel(run->core, account, id, &sink, &res, &err);
	ref_rc = RefCancel(run, account, id, &want);
	CompareCode(run, rc, ref_rc, &err);
	if (rc == CORE_OK && ref_rc == CORE_OK)
		CompareResult(run, &res, &want);
	CompareLogs(run);
}

/* Amend a random order to a random quantity, valid or not. */
static void
RandomAmend(Run *run)
{
	CoreSink	sink = {SinkOrder, SinkTrade, &run->core_log};
	int			k = RandomOrder(run);
	int64_t		id = k >= 0 ? run->ref.orders[k].id : 1;
	int64_t		account = k >= 0 ? account_ids[run->ref.orders[k].acct] : 3;
	int64_t		quantity;
	CoreOrder	res;
	CoreError	err;
	RefOrder	want;
	CoreErrorCode rc;
	CoreErrorCode ref_rc;

	if (k >= 0)
		quantity = RandRange(run, run->ref.orders[k].filled - 1,
							 run->ref.orders[k].quantity + 1);
	else
		quantity = RandRange(run, -1, 3);
	if (k >= 0 && Chance(run, 1, 20))
		account = account_ids[RandRange(run, 0, NACCOUNTS - 1)];
	snprintf(run->what, sizeof(run->what), "amend %" PRId64 " by %" PRId64
			 " to %" PRId64, id, account, quantity);
	BeginOp(run);
	memset(&err, 0, sizeof(err));
	rc = CoreAmend(run->core, account, id, quantity, &sink, &res, &err);
	ref_rc = RefAmend(run, account, id, quantity, &want);
	CompareCode(run, rc, ref_rc, &err);
	if (rc == CORE_OK && ref_rc == CORE_OK)
		CompareResult(run, &res, &want);
	CompareLogs(run);
}

/* Cancel all of a random account, in one market or all. */
static void
RandomCancelAll(Run *run)
{
	CoreSink	sink = {SinkOrder, SinkTrade, &run->core_log};
	int64_t		account = Chance(run, 1, 20) ? 555 :
		account_ids[RandRange(run, 1, NTRADERS)];
	int32_t		market = Chance(run, 1, 3) ? -1 :
		(int32_t) RandRange(run, 0, NMARKETS - 1);
	int32_t		n;
	int32_t		want;

	snprintf(run->what, sizeof(run->what), "cancel all of %" PRId64
			 " in market %d", account, market);
	BeginOp(run);
	n = CoreCancelAll(run->core, account, market, &sink);
	want = RefCancelAll(run, account, market);
	if (n != want)
		Fail(run, "cancelled %d, reference %d", n, want);
	CompareLogs(run);
}

/* Deposit in both and compare. */
static void
OpDeposit(Run *run, int64_t account, int32_t asset, int64_t units)
{
	CoreError	err;
	CoreErrorCode rc;
	CoreErrorCode ref_rc;

	snprintf(run->what, sizeof(run->what), "deposit %" PRId64 " of asset %d to %"
			 PRId64, units, asset, account);
	BeginOp(run);
	memset(&err, 0, sizeof(err));
	rc = CoreDeposit(run->core, account, asset, units, &err);
	ref_rc = RefDeposit(run, account, asset, units);
	CompareCode(run, rc, ref_rc, &err);
}

/* A random deposit, now and then one that must be refused. */
static void
RandomDeposit(Run *run)
{
	int			acct = (int) RandRange(run, 0, NACCOUNTS - 1);
	int64_t		account = Chance(run, 1, 50) ? 555 : account_ids[acct];
	int32_t		asset = Chance(run, 1, 50) ? NASSETS :
		(int32_t) RandRange(run, 0, NASSETS - 1);
	int64_t		units;

	if (Chance(run, 1, 50))
		units = -RandRange(run, 0, 5);
	else if (Chance(run, 1, 50) && asset < NASSETS)
		units = INT64_MAX - run->ref.deposits[asset] + RandRange(run, 1, 5);
	else if (acct == POOR)
		units = RandRange(run, 1, asset_funds[asset < NASSETS ? asset : 0] / 10000);
	else
		units = RandRange(run, 1, asset_funds[asset < NASSETS ? asset : 0] / 20);
	OpDeposit(run, account, asset, units);
}

/* Expire what is due, sometimes at most a few orders. */
static void
RandomExpire(Run *run)
{
	CoreSink	sink = {SinkOrder, SinkTrade, &run->core_log};
	int32_t		max = Chance(run, 4, 5) ? INT32_MAX :
		(int32_t) RandRange(run, 0, 3);
	int32_t		n;
	int32_t		due = 0;
	int32_t		gone = 0;

	snprintf(run->what, sizeof(run->what), "expire at %" PRId64 " max %d",
			 run->now, max);
	BeginOp(run);
	n = CoreExpire(run->core, run->now, max, &sink);

	/*
	 * Which due orders go first when max cuts the list short is the core's
	 * business; what matters is that exactly min(due, max) due orders went.
	 */
	for (int i = run->ref.norders - 1; i >= 0; i--)
	{
		RefOrder   *o = &run->ref.orders[i];

		if (o->expire_at == 0 || o->expire_at > run->now)
			continue;
		due++;
		if (CoreFindOrder(run->core, o->id) == NULL)
		{
			RefClose(&run->ref, &run->ref_log, i, CORE_EXPIRED);
			gone++;
		}
	}
	run->statuses[CORE_EXPIRED] += n;
	if (n != gone || n != (due < max ? due : max))
		Fail(run, "expired %d (%d gone), %d were due, max %d", n, gone, due,
			 max);
	CompareLogs(run);
}

/* Halt or resume a random market. */
static void
RandomHalt(Run *run)
{
	int			m = (int) RandRange(run, 0, NMARKETS - 1);
	bool		halt = !run->ref.halted[m];
	CoreError	err;

	snprintf(run->what, sizeof(run->what), "%s market %d",
			 halt ? "halt" : "resume", m);
	BeginOp(run);
	if (CoreSetHalted(run->core, m, halt, &err) != CORE_OK)
		Fail(run, "could not halt");
	run->ref.halted[m] = halt;
}

/* Orders by time priority. */
static int
SeqCmp(const void *a, const void *b)
{
	const RefOrder *x = a;
	const RefOrder *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The catalogue: assets, markets and accounts, as at the start. */
static void
AddCatalogue(Run *run)
{
	CoreError	err;

	for (int s = 0; s < NASSETS; s++)
		if (CoreAddAsset(run->core, 100 + s, asset_codes[s], asset_scales[s],
						 &err) != CORE_OK)
			Fail(run, "asset %s: %s", asset_codes[s], err.message);
	for (int m = 0; m < NMARKETS; m++)
	{
		const MarketSpec *s = &markets[m];
		const CoreMarket *cm;

		if (CoreAddMarket(run->core, 10 + m, s->symbol, asset_codes[s->base],
						  asset_codes[s->quote], s->tick, s->lot,
						  s->maker_bps, s->taker_bps, s->min_notional,
						  &err) != CORE_OK)
		{
			Fail(run, "market %s: %s", s->symbol, err.message);
			continue;
		}
		cm = CoreGetMarket(run->core, m);
		if (cm->base != s->base || cm->quote != s->quote ||
			cm->lot_units != s->lot_units ||
			cm->notional_unit != s->notional_unit ||
			cm->min_notional != s->min_units)
			Fail(run, "market %s has unexpected units", s->symbol);
		if (CoreSetHalted(run->core, m, run->ref.halted[m], &err) != CORE_OK)
			Fail(run, "halt: %s", err.message);
	}
	for (int a = 1; a < NACCOUNTS; a++)
		if (CoreAddAccount(run->core, account_ids[a], &err) != CORE_OK)
			Fail(run, "account: %s", err.message);
}

/*
 * Rebuild the core from what the tables would hold, as after a restart:
 * a fresh region, balances loaded as they are, resting orders restored
 * oldest first.  Matching must go on exactly as before.
 */
static void
Rebuild(Run *run)
{
	void	   *old_region = run->region;
	Core	   *old = run->core;
	RefOrder	sorted[REF_MAX_ORDERS];
	CoreError	err;

	snprintf(run->what, sizeof(run->what), "rebuild");
	BeginOp(run);
	run->region = malloc(CoreSize(&run->config->core));
	run->core = CoreInit(run->region, &run->config->core);
	AddCatalogue(run);
	for (int a = 0; a < NACCOUNTS; a++)
		for (int s = 0; s < NASSETS; s++)
		{
			int64_t		avail,
						locked;

			if (CoreGetBalance(old, account_ids[a], s, &avail, &locked) &&
				CoreLoadBalance(run->core, account_ids[a], s, avail, locked,
								&err) != CORE_OK)
				Fail(run, "load balance: %s", err.message);
		}
	memcpy(sorted, run->ref.orders, sizeof(RefOrder) * run->ref.norders);
	qsort(sorted, run->ref.norders, sizeof(RefOrder), SeqCmp);
	for (int i = 0; i < run->ref.norders; i++)
	{
		const CoreOrder *o = CoreFindOrder(old, sorted[i].id);

		if (o == NULL)
			Fail(run, "order %" PRId64 " vanished", sorted[i].id);
		else if (CoreRestoreOrder(run->core, o, &err) != CORE_OK)
			Fail(run, "restore: %s", err.message);
	}
	free(old_region);
	/* loaded balances are as stored: clean, only what restore added is dirty */
	memcpy(run->clean, run->ref.bal, sizeof(run->clean));
	run->rebuilds++;
}

/* Set up assets, markets, accounts and the first deposits. */
static void
RunSetup(Run *run)
{
	AddCatalogue(run);
	for (int m = 0; m < NMARKETS; m++)
		run->mid[m] = markets[m].mid;
	run->ref.next_trade_id = 1;
	run->next_trade_id = 1;
	run->next_order_id = 1;
	run->now = 1000000;
	for (int a = 1; a <= run->config->funded; a++)
		for (int s = 0; s < NASSETS; s++)
			OpDeposit(run, account_ids[a], s,
					  a == POOR ? asset_funds[s] / 2000 : asset_funds[s]);
	CompareState(run);
}

/* One run of config->ops random operations; true when all agreed. */
static bool
RunOne(const RunConfig *config, uint64_t seed, int64_t *trades)
{
	static Run	run_storage;
	Run		   *run = &run_storage;
	bool		ok;

	memset(run, 0, sizeof(*run));
	run->config = config;
	run->rng = seed * 0x2545f4914f6cdd1dULL + (uint64_t) config->core.max_orders;
	run->region = malloc(CoreSize(&config->core));
	run->core = CoreInit(run->region, &config->core);
	snprintf(run->what, sizeof(run->what), "setup");
	RunSetup(run);

	for (run->op = 1; run->op <= config->ops && !run->failed; run->op++)
	{
		int			pick = (int) RandRange(run, 0, 999);

		run->now += RandRange(run, 0, 2);
		if (Chance(run, 1, 20))
		{
			int			m = (int) RandRange(run, 0, NMARKETS - 1);

			run->mid[m] += RandRange(run, -1, 1);
			if (run->mid[m] < markets[m].mid - 40)
				run->mid[m] = markets[m].mid - 40;
			if (run->mid[m] > markets[m].mid + 40)
				run->mid[m] = markets[m].mid + 40;
		}
		if (pick < 700)
			RandomPlace(run);
		else if (pick < 800)
			RandomCancel(run);
		else if (pick < 860)
			RandomAmend(run);
		else if (pick < 870)
		{
			/*
			 * each empties about a sixth of the books: twenty times rarer
			 * in the deep run, or its sides never grow deep
			 */
			if (run->config->depth <= 10 || Chance(run, 1, 20))
				RandomCancelAll(run);
			else
				RandomPlace(run);
		}
		else if (pick < 950)
			RandomDeposit(run);
		else if (pick < 995)
			RandomExpire(run);
		else if (pick < 999 || Chance(run, 1, 2))
			RandomHalt(run);
		else
			Rebuild(run);
		if (!run->failed)
			CompareState(run);
		if (run->ref.norders > run->max_open)
			run->max_open = run->ref.norders;
		for (int m = 0; m < NMARKETS; m++)
			for (int side = 0; side < 2; side++)
				if (CoreGetMarket(run->core, m)->nlevels[side] > run->max_side_levels)
					run->max_side_levels = CoreGetMarket(run->core, m)->nlevels[side];
		/* a halted market resumes soon */
		for (int m = 0; m < NMARKETS; m++)
			if (run->ref.halted[m] && Chance(run, 1, 50))
			{
				CoreSetHalted(run->core, m, false, NULL);
				run->ref.halted[m] = false;
			}
	}
	ok = !run->failed;
	printf("  %s: ops=%" PRId64 " placed=%" PRId64 " trades=%" PRId64
		   " rested=%" PRId64 " max_open=%" PRId64 " filled=%" PRId64
		   " cancelled=%" PRId64 " rejected=%" PRId64 " expired=%" PRId64
		   " insufficient=%" PRId64 " capacity=%" PRId64 " invalid=%" PRId64
		   " unknown_order=%" PRId64 " rebuilds=%" PRId64
		   " max_side_levels=%d\n",
		   config->name, run->op - 1,
		   run->placed, run->trades, run->rested, run->max_open,
		   run->statuses[CORE_FILLED], run->statuses[CORE_CANCELLED],
		   run->statuses[CORE_REJECTED], run->statuses[CORE_EXPIRED],
		   run->errors[CORE_E_INSUFFICIENT], run->errors[CORE_E_CAPACITY],
		   run->errors[CORE_E_INVALID], run->errors[CORE_E_UNKNOWN_ORDER],
		   run->rebuilds, run->max_side_levels);
	*trades += run->trades;
	free(run->region);
	return ok;
}

/* Three runs of random operations: roomy capacities, tight ones, deep books. */
int
main(int argc, char **argv)
{
	uint64_t	seed = argc > 1 ? strtoull(argv[1], NULL, 10) : 1;
	int64_t		ops = argc > 2 ? strtoll(argv[2], NULL, 10) : 200000;
	int64_t		trades = 0;
	bool		all_ok = true;
	RunConfig	configs[] = {
		/* room for a deep book; levels run out now and then */
		{"roomy", {8, 8, 16, 64, 200, 40}, ops - ops / 5, NTRADERS, 10, 0},
		/* everything tight: capacity errors are common */
		{"tight", {8, 8, 16, 18, 10, 8}, ops / 5, 3, 10, 0},
		/*
		 * deep books: limit prices up to 150 gaps from the mid, a gap
		 * being 75 ticks on BTC-USD (beyond the 32-tick probe: new levels
		 * placed through the sides' trees), 12 on ETH-BTC and one on
		 * SOL-USD, so that sides pass 64 levels and fall back
		 */
		{"deep", {8, 8, 16, 64, 1000, 900}, ops / 5, NTRADERS, 150, 400},
	};

	for (size_t i = 0; i < sizeof(configs) / sizeof(configs[0]); i++)
	{
		bool		ok = RunOne(&configs[i], seed, &trades);

		if (ok)
			test_passed++;
		else
			test_failed++;
		printf("%s random %s (seed %" PRIu64 ")\n", ok ? "ok  " : "FAIL",
			   configs[i].name, seed);
		all_ok &= ok;
		fflush(stdout);
	}
	printf("core random: seed=%" PRIu64 " ops=%" PRId64 " trades=%" PRId64 " %s\n",
		   seed, ops, trades, all_ok ? "ok" : "FAILED");
	return TestSummary();
}
