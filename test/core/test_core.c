/*
 * Unit tests of the matching core's API (src/core/core.h): catalogue,
 * balances, every matching rule of API.md, capacities and rebuild.
 *
 * "Nothing changes" is checked strictly: the whole core region is copied
 * before a call that must fail and compared byte for byte afterwards.
 */
#include "core.h"
#include "test_util.h"

/*
 * The standard market ETH-USD: ETH keeps 4 decimals, USD 2, tick 0.01 and
 * lot 1, so one lot is 10000 ETH units and one tick x lot is 1 USD unit:
 * a trade of L lots at P ticks moves L * 10000 ETH units and L * P USD
 * units.
 */
#define LOT			10000
#define FUNDS		10000000	/* each trader starts with 1000 ETH, 100000 USD */
#define FEE_ACCT	0

typedef struct Env
{
	Core	   *core;
	void	   *region;
	void	   *saved;
	size_t		size;
	int64_t		next_trade_id;
	int64_t		next_order_id;
	int64_t		now;
	int32_t		eth;
	int32_t		usd;
	int32_t		mkt;			/* ETH-USD, no fees */
	int32_t		fmkt;			/* ETH-USD-FEE, maker 10 bps, taker 20 */
	int32_t		nmkt;			/* ETH-USD-MIN, min_notional 5 USD */
	CoreTrade	trades[64];
	int			ntrades;
	CoreOrder	events[64];
	int			nevents;
	CoreSink	sink;
	CoreError	err;
} Env;

static const CoreConfig default_config = {
	.max_assets = 4,
	.max_markets = 4,
	.max_accounts = 16,
	.max_balances = 64,
	.max_orders = 64,
	.max_levels = 64,
};

/* Sink callback: remember an order snapshot. */
static void
SinkOrder(void *arg, const CoreOrder *order)
{
	Env		   *e = arg;

	if (e->nevents < 64)
		e->events[e->nevents] = *order;
	e->nevents++;
}

/* Sink callback: remember a trade. */
static void
SinkTrade(void *arg, const CoreTrade *trade)
{
	Env		   *e = arg;

	if (e->ntrades < 64)
		e->trades[e->ntrades] = *trade;
	e->ntrades++;
}

/* An empty core with these capacities. */
static void
EnvOpen(Env *e, const CoreConfig *config)
{
	memset(e, 0, sizeof(*e));
	e->size = CoreSize(config);
	e->region = malloc(e->size);
	e->saved = malloc(e->size);
	memset(e->region, 0xa5, e->size);
	e->core = CoreInit(e->region, config);
	e->next_trade_id = 1;
	e->next_order_id = 1;
	e->now = 1000;
	e->sink.order = SinkOrder;
	e->sink.trade = SinkTrade;
	e->sink.arg = e;
	e->eth = e->usd = e->mkt = e->fmkt = e->nmkt = CORE_NO_INDEX;
}

/* Add ETH, USD and the three markets. */
static void
EnvCatalogue(Env *e)
{
	CHECK(CoreAddAsset(e->core, 10, "ETH", 4, &e->err) == CORE_OK);
	CHECK(CoreAddAsset(e->core, 20, "USD", 2, &e->err) == CORE_OK);
	e->eth = CoreFindAsset(e->core, "ETH");
	e->usd = CoreFindAsset(e->core, "USD");
	CHECK(CoreAddMarket(e->core, 1, "ETH-USD", "ETH", "USD", "0.01", "1",
						0, 0, NULL, &e->err) == CORE_OK);
	CHECK(CoreAddMarket(e->core, 2, "ETH-USD-FEE", "ETH", "USD", "0.01", "1",
						10, 20, "0", &e->err) == CORE_OK);
	CHECK(CoreAddMarket(e->core, 3, "ETH-USD-MIN", "ETH", "USD", "0.01", "1",
						0, 0, "5", &e->err) == CORE_OK);
	e->mkt = CoreFindMarket(e->core, "ETH-USD");
	e->fmkt = CoreFindMarket(e->core, "ETH-USD-FEE");
	e->nmkt = CoreFindMarket(e->core, "ETH-USD-MIN");
}

/*
 * The standard set-up: catalogue, traders 1 to 4 funded with FUNDS of
 * each asset, and trader 5 with only 2.50 USD.
 */
static void
EnvStandard(Env *e, const CoreConfig *config)
{
	EnvOpen(e, config ? config : &default_config);
	EnvCatalogue(e);
	for (int64_t a = 1; a <= 5; a++)
		CHECK(CoreAddAccount(e->core, a, &e->err) == CORE_OK);
	for (int64_t a = 1; a <= 4; a++)
	{
		CHECK(CoreDeposit(e->core, a, e->eth, FUNDS, &e->err) == CORE_OK);
		CHECK(CoreDeposit(e->core, a, e->usd, FUNDS, &e->err) == CORE_OK);
	}
	CHECK(CoreDeposit(e->core, 5, e->usd, 250, &e->err) == CORE_OK);
	CoreClearDirty(e->core);
}

/* Free the regions of an Env. */
static void
EnvClose(Env *e)
{
	free(e->region);
	free(e->saved);
}

/* Remember the whole region. */
static void
Snapshot(Env *e)
{
	memcpy(e->saved, e->region, e->size);
}

/* True when the region is byte for byte as at the last Snapshot. */
static bool
Unchanged(Env *e)
{
	return memcmp(e->saved, e->region, e->size) == 0;
}

/* A good-till-cancelled limit order request on the standard market. */
static CoreOrderRequest
Limit(Env *e, int64_t account, CoreSide side, int64_t price, int64_t lots)
{
	CoreOrderRequest r;

	memset(&r, 0, sizeof(r));
	r.id = e->next_order_id++;
	r.account = account;
	r.market = e->mkt;
	r.side = side;
	r.type = CORE_LIMIT;
	r.tif = CORE_GTC;
	r.stp = CORE_STP_CANCEL_TAKER;
	r.price = price;
	r.quantity = lots;
	r.now = e->now;
	return r;
}

/* A market order request by quantity on the standard market. */
static CoreOrderRequest
Market(Env *e, int64_t account, CoreSide side, int64_t lots)
{
	CoreOrderRequest r = Limit(e, account, side, 0, lots);

	r.type = CORE_MARKET;
	return r;
}

/* Place a request, collecting what the sink reports. */
static CoreErrorCode
Submit(Env *e, const CoreOrderRequest *req, CoreOrder *result)
{
	CoreOrder	dummy;

	e->ntrades = 0;
	e->nevents = 0;
	memset(&e->err, 0, sizeof(e->err));
	return CorePlace(e->core, req, &e->sink, &e->next_trade_id,
					 result ? result : &dummy, &e->err);
}

/* Place a limit order that must succeed; returns its id. */
static int64_t
Rest(Env *e, int32_t market, int64_t account, CoreSide side, int64_t price,
	 int64_t lots)
{
	CoreOrderRequest r = Limit(e, account, side, price, lots);
	CoreOrder	res;

	r.market = market;
	CHECK(Submit(e, &r, &res) == CORE_OK);
	CHECK(res.status == CORE_OPEN || res.status == CORE_PARTIALLY_FILLED);
	return r.id;
}

/* Available balance, 0 when the row does not exist. */
static int64_t
Avail(Env *e, int64_t account, int32_t asset)
{
	int64_t		available,
				locked;

	CoreGetBalance(e->core, account, asset, &available, &locked);
	return available;
}

/* Locked balance, 0 when the row does not exist. */
static int64_t
Locked(Env *e, int64_t account, int32_t asset)
{
	int64_t		available,
				locked;

	CoreGetBalance(e->core, account, asset, &available, &locked);
	return locked;
}

/* The depth-th level (0 = best) of a book side, or NULL. */
static const CoreLevel *
LevelAt(Env *e, int32_t market, CoreSide side, int depth)
{
	int32_t		l = CoreBestLevel(e->core, market, side);

	for (; l != CORE_NO_INDEX && depth > 0; depth--)
		l = CoreGetLevel(e->core, l)->worse;
	return l == CORE_NO_INDEX ? NULL : CoreGetLevel(e->core, l);
}

/* Number of levels on a book side. */
static int
LevelCount(Env *e, int32_t market, CoreSide side)
{
	int			n = 0;

	for (int32_t l = CoreBestLevel(e->core, market, side); l != CORE_NO_INDEX;
		 l = CoreGetLevel(e->core, l)->worse)
		n++;
	return n;
}

/* Check that the level at depth has this price, lots and order count. */
static void
ExpectLevel(Env *e, int32_t market, CoreSide side, int depth, int64_t price,
			int64_t lots, int32_t count, int line)
{
	const CoreLevel *l = LevelAt(e, market, side, depth);

	if (l == NULL || l->price != price || l->lots != lots || l->count != count)
	{
		test_checks_failed++;
		if (l == NULL)
			printf("  line %d: no level at depth %d\n", line, depth);
		else
			printf("  line %d: level %d is %" PRId64 " x %" PRId64 " (%d orders), want %"
				   PRId64 " x %" PRId64 " (%d)\n", line, depth, l->price,
				   l->lots, l->count, price, lots, count);
	}
}

#define EXPECT_LEVEL(m, side, depth, price, lots, count) \
	ExpectLevel(e, m, side, depth, price, lots, count, __LINE__)

/* The sum of every balance of an asset, which must equal its total. */
static int64_t
AssetSum(Env *e, int32_t asset)
{
	int64_t		sum = 0;

	for (int64_t a = 0; a <= 8; a++)
		sum += Avail(e, a, asset) + Locked(e, a, asset);
	return sum;
}

/* What CoreForEachOrder callbacks work on. */
typedef struct Walk
{
	const Core *core;
	int64_t		holds[9 * 4];	/* by account * 4 + asset */
	int64_t		n;
	int64_t		stop;			/* stop after this many orders */
} Walk;

/* CoreForEachOrder callback: add up holds, count, stop when told. */
static bool
WalkOrder(void *arg, const CoreOrder *o)
{
	Walk	   *w = arg;
	int32_t		asset;
	int64_t		units;

	CoreOrderHold(w->core, o, &asset, &units);
	if (o->account >= 0 && o->account < 9 && asset >= 0 && asset < 4)
		w->holds[o->account * 4 + asset] += units;
	w->n++;
	return w->n < w->stop;
}

/* Invariants that hold after every call in the standard set-up. */
static void
ExpectConsistent(Env *e, int line)
{
	Walk		w;
	int			bad = 0;

	memset(&w, 0, sizeof(w));
	w.core = e->core;
	w.stop = INT64_MAX;
	CoreForEachOrder(e->core, WalkOrder, &w);
	if (w.n != CoreOpenOrderCount(e->core))
		bad++;
	for (int64_t a = 0; a <= 8; a++)
		for (int32_t s = 0; s < CoreAssetCount(e->core); s++)
		{
			if (Locked(e, a, s) != w.holds[a * 4 + s] || Avail(e, a, s) < 0)
				bad++;
		}
	for (int32_t s = 0; s < CoreAssetCount(e->core); s++)
		if (AssetSum(e, s) != CoreGetAsset(e->core, s)->total)
			bad++;
	for (int32_t m = 0; m < CoreMarketCount(e->core); m++)
	{
		const CoreLevel *bid = LevelAt(e, m, CORE_BUY, 0);
		const CoreLevel *ask = LevelAt(e, m, CORE_SELL, 0);

		if (bid != NULL && ask != NULL && bid->price >= ask->price)
			bad++;
	}
	if (bad)
	{
		test_checks_failed++;
		printf("  line %d: core inconsistent (%d problems)\n", line, bad);
	}
}

#define EXPECT_CONSISTENT() ExpectConsistent(e, __LINE__)

/* Catalogue: assets. */
static void
test_assets(void)
{
	Env			env,
			   *e = &env;
	CoreConfig	c = default_config;

	c.max_assets = 3;
	EnvOpen(e, &c);
	CHECK(CoreAddAsset(e->core, 1, "BTC", 8, &e->err) == CORE_OK);
	CHECK(CoreAddAsset(e->core, 2, "USD", 2, &e->err) == CORE_OK);
	CHECK_EQ(CoreAssetCount(e->core), 2);
	CHECK_EQ(CoreFindAsset(e->core, "USD"), 1);
	CHECK_EQ(CoreFindAsset(e->core, "EUR"), CORE_NO_INDEX);
	CHECK_EQ(CoreFindAsset(e->core, NULL), CORE_NO_INDEX);
	CHECK_EQ(CoreGetAsset(e->core, 0)->scale, 8);
	CHECK_EQ(CoreGetAsset(e->core, 0)->id, 1);
	CHECK_STR(CoreGetAsset(e->core, 1)->code, "USD");
	CHECK(CoreGetAsset(e->core, 2) == NULL);
	CHECK(CoreGetAsset(e->core, -1) == NULL);

	Snapshot(e);
	CHECK(CoreAddAsset(e->core, 3, "BTC", 8, &e->err) == CORE_E_DUPLICATE);
	CHECK(strstr(e->err.message, "BTC") != NULL);
	CHECK(CoreAddAsset(e->core, 3, "", 8, &e->err) == CORE_E_INVALID);
	CHECK(CoreAddAsset(e->core, 3, NULL, 8, &e->err) == CORE_E_INVALID);
	CHECK(CoreAddAsset(e->core, 3, "A B", 8, &e->err) == CORE_E_INVALID);
	CHECK(CoreAddAsset(e->core, 3, "0123456789ABCDEF", 8, &e->err) ==
		  CORE_E_INVALID);
	CHECK(CoreAddAsset(e->core, 3, "ETH", -1, &e->err) == CORE_E_INVALID);
	CHECK(CoreAddAsset(e->core, 3, "ETH", 19, &e->err) == CORE_E_INVALID);
	CHECK(e->err.detail[0] != '\0');
	CHECK(Unchanged(e));

	CHECK(CoreAddAsset(e->core, 3, "0123456789ABCDE", 18, &e->err) == CORE_OK);
	Snapshot(e);
	CHECK(CoreAddAsset(e->core, 4, "SOL", 0, &e->err) == CORE_E_CAPACITY);
	CHECK(Unchanged(e));
	CHECK_EQ(CoreAssetCount(e->core), 3);
	EnvClose(e);
}

/* Catalogue: markets, their units and every refusal. */
static void
test_markets(void)
{
	Env			env,
			   *e = &env;
	CoreConfig	c = default_config;
	const CoreMarket *m;

	c.max_markets = 3;
	EnvOpen(e, &c);
	CHECK(CoreAddAsset(e->core, 1, "BTC", 8, &e->err) == CORE_OK);
	CHECK(CoreAddAsset(e->core, 2, "USD", 2, &e->err) == CORE_OK);
	CHECK(CoreAddAsset(e->core, 3, "SOL", 0, &e->err) == CORE_OK);

	/* tick 0.5 USD, lot 0.01 BTC: 10^6 sat per lot, 0.005 USD per tick x lot */
	Snapshot(e);
	CHECK(CoreAddMarket(e->core, 1, "BTC-USD", "BTC", "USD", "0.5", "0.01",
						0, 0, NULL, &e->err) == CORE_E_INVALID);
	CHECK(strstr(e->err.message, "not exactly representable") != NULL);
	CHECK(e->err.detail[0] != '\0');
	CHECK(CoreAddMarket(e->core, 1, "BTC-USD", "BTC", "USD", "0.001", "1",
						0, 0, NULL, &e->err) == CORE_E_INVALID);
	CHECK(CoreAddMarket(e->core, 1, "BTC-USD", "BTC", "USD",
						"0.000000000000000001", "0.00000001", 0, 0, NULL,
						&e->err) == CORE_E_INVALID);
	CHECK(Unchanged(e));

	CHECK(CoreAddMarket(e->core, 1, "BTC-USD", "BTC", "USD", "0.5", "0.02",
						10, 20, "10", &e->err) == CORE_OK);
	m = CoreGetMarket(e->core, CoreFindMarket(e->core, "BTC-USD"));
	CHECK(m != NULL);
	CHECK_EQ(m->lot_units, 2000000);
	CHECK_EQ(m->notional_unit, 1);
	CHECK_EQ(m->min_notional, 1000);
	CHECK_EQ(m->maker_fee_bps, 10);
	CHECK_EQ(m->taker_fee_bps, 20);
	CHECK_EQ(m->tick.mantissa, 5);
	CHECK_EQ(m->tick.scale, 1);
	CHECK_EQ(m->best[0], CORE_NO_INDEX);
	CHECK_EQ(m->worst[1], CORE_NO_INDEX);

	/* 0.001 x 10 = 0.01: exact although tick alone is finer than USD */
	CHECK(CoreAddMarket(e->core, 2, "SOL-USD", "SOL", "USD", "0.001", "10",
						0, 0, "0", &e->err) == CORE_OK);
	m = CoreGetMarket(e->core, CoreFindMarket(e->core, "SOL-USD"));
	CHECK_EQ(m->lot_units, 10);
	CHECK_EQ(m->notional_unit, 1);

	Snapshot(e);
	/* lot finer than the base asset keeps */
	CHECK(CoreAddMarket(e->core, 3, "SOL-BTC", "SOL", "BTC", "0.00000001",
						"0.1", 0, 0, NULL, &e->err) == CORE_E_INVALID);
	CHECK(strstr(e->err.message, "finer") != NULL);
	CHECK(CoreAddMarket(e->core, 3, "BTC-USD2", "BTC", "USD", "1",
						"0.000000001", 0, 0, NULL, &e->err) == CORE_E_INVALID);
	/* malformed or non-positive tick and lot */
	CHECK(CoreAddMarket(e->core, 3, "X", "BTC", "USD", "NaN", "1", 0, 0,
						NULL, &e->err) == CORE_E_INVALID);
	CHECK(CoreAddMarket(e->core, 3, "X", "BTC", "USD", "1", "Infinity", 0, 0,
						NULL, &e->err) == CORE_E_INVALID);
	CHECK(CoreAddMarket(e->core, 3, "X", "BTC", "USD", "0", "1", 0, 0,
						NULL, &e->err) == CORE_E_INVALID);
	CHECK(CoreAddMarket(e->core, 3, "X", "BTC", "USD", "-1", "1", 0, 0,
						NULL, &e->err) == CORE_E_INVALID);
	CHECK(CoreAddMarket(e->core, 3, "X", "BTC", "USD", "1", "0.0", 0, 0,
						NULL, &e->err) == CORE_E_INVALID);
	CHECK(CoreAddMarket(e->core, 3, "X", "BTC", "USD", "1x", "1", 0, 0,
						NULL, &e->err) == CORE_E_INVALID);
	CHECK(CoreAddMarket(e->core, 3, "X", "BTC", "USD", NULL, "1", 0, 0,
						NULL, &e->err) == CORE_E_INVALID);
	CHECK(CoreAddMarket(e->core, 3, "X", "BTC", "USD",
						"0.0000000000000000001", "1", 0, 0, NULL, &e->err) ==
		  CORE_E_INVALID);
	/* sizes whose units overflow */
	CHECK(CoreAddMarket(e->core, 3, "X", "BTC", "USD", "1", "100000000000",
						0, 0, NULL, &e->err) == CORE_E_RANGE);
	CHECK(CoreAddMarket(e->core, 3, "X", "SOL", "USD", "10000000000",
						"10000000000", 0, 0, NULL, &e->err) == CORE_E_RANGE);
	CHECK(CoreAddMarket(e->core, 3, "X", "SOL", "USD", "100000000000000000",
						"1", 0, 0, NULL, &e->err) == CORE_E_RANGE);
	/* fees and minimum */
	CHECK(CoreAddMarket(e->core, 3, "X", "BTC", "USD", "1", "1", -1, 0,
						NULL, &e->err) == CORE_E_INVALID);
	CHECK(CoreAddMarket(e->core, 3, "X", "BTC", "USD", "1", "1", 0, 10001,
						NULL, &e->err) == CORE_E_INVALID);
	CHECK(CoreAddMarket(e->core, 3, "X", "BTC", "USD", "1", "1", 0, 0,
						"-1", &e->err) == CORE_E_INVALID);
	CHECK(CoreAddMarket(e->core, 3, "X", "BTC", "USD", "1", "1", 0, 0,
						"0.001", &e->err) == CORE_E_INVALID);
	CHECK(CoreAddMarket(e->core, 3, "X", "BTC", "USD", "1", "1", 0, 0,
						"NaN", &e->err) == CORE_E_INVALID);
	/* names and assets */
	CHECK(CoreAddMarket(e->core, 3, "BTC-USD", "BTC", "USD", "1", "1", 0, 0,
						NULL, &e->err) == CORE_E_DUPLICATE);
	CHECK(CoreAddMarket(e->core, 3, "", "BTC", "USD", "1", "1", 0, 0,
						NULL, &e->err) == CORE_E_INVALID);
	CHECK(CoreAddMarket(e->core, 3, "BAD SYMBOL", "BTC", "USD", "1", "1", 0,
						0, NULL, &e->err) == CORE_E_INVALID);
	CHECK(CoreAddMarket(e->core, 3, "X", "EUR", "USD", "1", "1", 0, 0,
						NULL, &e->err) == CORE_E_UNKNOWN_ASSET);
	CHECK(CoreAddMarket(e->core, 3, "X", "BTC", NULL, "1", "1", 0, 0,
						NULL, &e->err) == CORE_E_UNKNOWN_ASSET);
	CHECK(CoreAddMarket(e->core, 3, "X", "BTC", "BTC", "1", "1", 0, 0,
						NULL, &e->err) == CORE_E_INVALID);
	CHECK(Unchanged(e));

	CHECK(CoreAddMarket(e->core, 3, "SOL-BTC", "SOL", "BTC", "0.00000001",
						"1", 10000, 10000, NULL, &e->err) == CORE_OK);
	Snapshot(e);
	CHECK(CoreAddMarket(e->core, 4, "BTC-SOL", "BTC", "SOL", "1", "1", 0, 0,
						NULL, &e->err) == CORE_E_CAPACITY);
	CHECK(Unchanged(e));

	CHECK_EQ(CoreMarketCount(e->core), 3);
	CHECK_EQ(CoreFindMarketById(e->core, 2), 1);
	CHECK_EQ(CoreFindMarketById(e->core, 9), CORE_NO_INDEX);
	CHECK_EQ(CoreFindMarket(e->core, "SOL-BTC"), 2);
	CHECK_EQ(CoreFindMarket(e->core, "sol-btc"), CORE_NO_INDEX);
	CHECK(CoreGetMarket(e->core, 3) == NULL);
	CHECK(CoreSetHalted(e->core, 3, true, &e->err) == CORE_E_UNKNOWN_MARKET);
	CHECK(CoreSetHalted(e->core, -1, true, &e->err) == CORE_E_UNKNOWN_MARKET);
	CHECK(CoreSetHalted(e->core, 2, true, &e->err) == CORE_OK);
	CHECK(CoreGetMarket(e->core, 2)->halted);
	EnvClose(e);
}

/* Catalogue: accounts, the fee account included. */
static void
test_accounts(void)
{
	Env			env,
			   *e = &env;
	CoreConfig	c = default_config;

	c.max_accounts = 3;
	EnvOpen(e, &c);
	CHECK(CoreHasAccount(e->core, FEE_ACCT));
	CHECK(!CoreHasAccount(e->core, 1));
	CHECK(CoreAddAccount(e->core, 1, &e->err) == CORE_OK);
	CHECK(CoreAddAccount(e->core, 1LL << 40, &e->err) == CORE_OK);
	CHECK(CoreHasAccount(e->core, 1LL << 40));
	Snapshot(e);
	CHECK(CoreAddAccount(e->core, FEE_ACCT, &e->err) == CORE_E_DUPLICATE);
	CHECK(CoreAddAccount(e->core, 1, &e->err) == CORE_E_DUPLICATE);
	CHECK(CoreAddAccount(e->core, -5, &e->err) == CORE_E_INVALID);
	CHECK(CoreAddAccount(e->core, 7, &e->err) == CORE_E_CAPACITY);
	CHECK(Unchanged(e));
	CHECK(!CoreHasAccount(e->core, 7));
	EnvClose(e);
}

/* Deposits, the asset-total bound and balance capacity. */
static void
test_deposits(void)
{
	Env			env,
			   *e = &env;
	CoreConfig	c = default_config;
	CoreBalanceRow rows[8];
	int32_t		n;

	c.max_balances = 3;
	EnvOpen(e, &c);
	EnvCatalogue(e);
	CHECK(CoreAddAccount(e->core, 1, &e->err) == CORE_OK);
	CHECK(CoreAddAccount(e->core, 2, &e->err) == CORE_OK);
	CHECK(!CoreGetBalance(e->core, 1, e->eth, &rows[0].available,
						  &rows[0].locked));
	CHECK_EQ(rows[0].available, 0);
	CHECK(CoreDeposit(e->core, 1, e->eth, 500, &e->err) == CORE_OK);
	CHECK(CoreDeposit(e->core, 1, e->eth, 250, &e->err) == CORE_OK);
	CHECK_EQ(Avail(e, 1, e->eth), 750);
	CHECK_EQ(Locked(e, 1, e->eth), 0);
	CHECK_EQ(CoreGetAsset(e->core, e->eth)->total, 750);

	/* written back once, however often it changed */
	CHECK_EQ(CoreDirtyCount(e->core), 1);
	n = CoreDirtyBalances(e->core, rows, 8);
	CHECK_EQ(n, 1);
	CHECK_EQ(rows[0].account, 1);
	CHECK_EQ(rows[0].asset, e->eth);
	CHECK_EQ(rows[0].available, 750);
	CoreClearDirty(e->core);
	CHECK_EQ(CoreDirtyCount(e->core), 0);

	Snapshot(e);
	CHECK(CoreDeposit(e->core, 9, e->eth, 1, &e->err) == CORE_E_UNKNOWN_ACCOUNT);
	CHECK(CoreDeposit(e->core, 1, 7, 1, &e->err) == CORE_E_UNKNOWN_ASSET);
	CHECK(CoreDeposit(e->core, 1, -1, 1, &e->err) == CORE_E_UNKNOWN_ASSET);
	CHECK(CoreDeposit(e->core, 1, e->eth, 0, &e->err) == CORE_E_RANGE);
	CHECK(CoreDeposit(e->core, 1, e->eth, -3, &e->err) == CORE_E_RANGE);
	/* the asset's total, across accounts, must stay within int64 */
	CHECK(CoreDeposit(e->core, 2, e->eth, INT64_MAX, &e->err) == CORE_E_RANGE);
	CHECK(strstr(e->err.detail, "ETH") != NULL);
	CHECK(CoreDeposit(e->core, 1, e->eth, INT64_MAX - 749, &e->err) ==
		  CORE_E_RANGE);
	CHECK(Unchanged(e));
	CHECK(CoreDeposit(e->core, 2, e->eth, INT64_MAX - 750, &e->err) == CORE_OK);
	CHECK_EQ(CoreGetAsset(e->core, e->eth)->total, INT64_MAX);
	CHECK(CoreDeposit(e->core, 1, e->usd, 1, &e->err) == CORE_OK);
	Snapshot(e);
	CHECK(CoreDeposit(e->core, 1, e->eth, 1, &e->err) == CORE_E_RANGE);
	/* a fourth (account, asset) row is over max_balances */
	CHECK(CoreDeposit(e->core, 2, e->usd, 1, &e->err) == CORE_E_CAPACITY);
	CHECK(Unchanged(e));
	CHECK(CoreDeposit(e->core, 1, e->usd, 1, &e->err) == CORE_OK);
	CHECK_EQ(Avail(e, 1, e->usd), 2);
	EnvClose(e);
}

/* A limit order rests; a crossing one trades at the maker's price. */
static void
test_limit_rest_and_match(void)
{
	Env			env,
			   *e = &env;
	CoreOrderRequest r;
	CoreOrder	res;
	int64_t		sell;
	const CoreOrder *o;

	EnvStandard(e, NULL);
	r = Limit(e, 1, CORE_SELL, 100, 5);
	sell = r.id;
	CHECK(Submit(e, &r, &res) == CORE_OK);
	CHECK_EQ(res.status, CORE_OPEN);
	CHECK_EQ(res.filled, 0);
	CHECK_EQ(e->ntrades, 0);
	CHECK_EQ(e->nevents, 1);
	CHECK_EQ(Avail(e, 1, e->eth), FUNDS - 5 * LOT);
	CHECK_EQ(Locked(e, 1, e->eth), 5 * LOT);
	EXPECT_LEVEL(e->mkt, CORE_SELL, 0, 100, 5, 1);
	CHECK(LevelAt(e, e->mkt, CORE_BUY, 0) == NULL);
	CHECK_EQ(CoreOpenOrderCount(e->core), 1);

	/* a buy at 105 pays the maker's 100 and gets 3 x 5 back at once */
	r = Limit(e, 2, CORE_BUY, 105, 3);
	CHECK(Submit(e, &r, &res) == CORE_OK);
	CHECK_EQ(res.status, CORE_FILLED);
	CHECK_EQ(res.id, r.id);
	CHECK_EQ(res.filled, 3);
	CHECK_EQ(res.filled_quote, 300);
	CHECK_EQ(e->ntrades, 1);
	CHECK_EQ(e->trades[0].id, 1);
	CHECK_EQ(e->trades[0].market, e->mkt);
	CHECK_EQ(e->trades[0].price, 100);
	CHECK_EQ(e->trades[0].lots, 3);
	CHECK_EQ(e->trades[0].base_units, 3 * LOT);
	CHECK_EQ(e->trades[0].quote_units, 300);
	CHECK_EQ(e->trades[0].maker_order, sell);
	CHECK_EQ(e->trades[0].taker_order, r.id);
	CHECK_EQ(e->trades[0].maker_account, 1);
	CHECK_EQ(e->trades[0].taker_account, 2);
	CHECK_EQ(e->trades[0].taker_side, CORE_BUY);
	CHECK_EQ(e->trades[0].maker_fee, 0);
	CHECK_EQ(e->trades[0].taker_fee, 0);
	CHECK_EQ(e->next_trade_id, 2);
	/* the maker's snapshot, then the taker's, which is the last word */
	CHECK_EQ(e->nevents, 2);
	CHECK_EQ(e->events[0].id, sell);
	CHECK_EQ(e->events[0].status, CORE_PARTIALLY_FILLED);
	CHECK_EQ(e->events[0].filled, 3);
	CHECK_EQ(e->events[1].id, r.id);
	CHECK_EQ(e->events[1].status, CORE_FILLED);

	CHECK_EQ(Avail(e, 2, e->usd), FUNDS - 300);
	CHECK_EQ(Locked(e, 2, e->usd), 0);
	CHECK_EQ(Avail(e, 2, e->eth), FUNDS + 3 * LOT);
	CHECK_EQ(Avail(e, 1, e->usd), FUNDS + 300);
	CHECK_EQ(Avail(e, 1, e->eth), FUNDS - 5 * LOT);
	CHECK_EQ(Locked(e, 1, e->eth), 2 * LOT);
	o = CoreFindOrder(e->core, sell);
	CHECK(o != NULL);
	CHECK_EQ(o->status, CORE_PARTIALLY_FILLED);
	CHECK_EQ(o->filled, 3);
	CHECK_EQ(o->filled_quote, 300);
	EXPECT_LEVEL(e->mkt, CORE_SELL, 0, 100, 2, 1);
	CHECK(CoreFindOrder(e->core, r.id) == NULL);

	/* a buy larger than the book trades what is there and rests the rest */
	r = Limit(e, 3, CORE_BUY, 104, 6);
	CHECK(Submit(e, &r, &res) == CORE_OK);
	CHECK_EQ(res.status, CORE_PARTIALLY_FILLED);
	CHECK_EQ(res.filled, 2);
	CHECK_EQ(res.filled_quote, 200);
	CHECK_EQ(e->ntrades, 1);
	CHECK_EQ(e->trades[0].id, 2);
	CHECK(CoreFindOrder(e->core, sell) == NULL);
	CHECK(LevelAt(e, e->mkt, CORE_SELL, 0) == NULL);
	EXPECT_LEVEL(e->mkt, CORE_BUY, 0, 104, 4, 1);
	CHECK_EQ(Locked(e, 3, e->usd), 4 * 104);
	CHECK_EQ(Avail(e, 3, e->usd), FUNDS - 200 - 4 * 104);
	CHECK_EQ(Locked(e, 1, e->eth), 0);
	o = CoreFindOrder(e->core, r.id);
	CHECK(o != NULL && o->filled == 2 && o->quantity == 6);
	EXPECT_CONSISTENT();
	EnvClose(e);
}

/* Best price first, then oldest first, on both sides. */
static void
test_price_time_priority(void)
{
	Env			env,
			   *e = &env;
	CoreOrderRequest r;
	CoreOrder	res;
	int64_t		a,
				b,
				c,
				d;

	EnvStandard(e, NULL);
	a = Rest(e, e->mkt, 1, CORE_SELL, 101, 1);
	b = Rest(e, e->mkt, 2, CORE_SELL, 100, 1);
	c = Rest(e, e->mkt, 3, CORE_SELL, 100, 1);
	d = Rest(e, e->mkt, 1, CORE_SELL, 102, 1);
	EXPECT_LEVEL(e->mkt, CORE_SELL, 0, 100, 2, 2);
	EXPECT_LEVEL(e->mkt, CORE_SELL, 1, 101, 1, 1);
	EXPECT_LEVEL(e->mkt, CORE_SELL, 2, 102, 1, 1);
	CHECK_EQ(LevelCount(e, e->mkt, CORE_SELL), 3);

	r = Limit(e, 4, CORE_BUY, 105, 3);
	CHECK(Submit(e, &r, &res) == CORE_OK);
	CHECK_EQ(res.status, CORE_FILLED);
	CHECK_EQ(e->ntrades, 3);
	CHECK_EQ(e->trades[0].maker_order, b);
	CHECK_EQ(e->trades[1].maker_order, c);
	CHECK_EQ(e->trades[2].maker_order, a);
	CHECK_EQ(e->trades[0].price, 100);
	CHECK_EQ(e->trades[1].price, 100);
	CHECK_EQ(e->trades[2].price, 101);
	CHECK_EQ(e->trades[1].id, e->trades[0].id + 1);
	CHECK_EQ(e->trades[2].id, e->trades[1].id + 1);
	CHECK_EQ(res.filled_quote, 301);
	CHECK_EQ(Avail(e, 4, e->usd), FUNDS - 301);
	CHECK(CoreFindOrder(e->core, d) != NULL);
	EXPECT_LEVEL(e->mkt, CORE_SELL, 0, 102, 1, 1);

	/* bids: highest first, then oldest */
	a = Rest(e, e->mkt, 1, CORE_BUY, 90, 1);
	b = Rest(e, e->mkt, 2, CORE_BUY, 92, 2);
	c = Rest(e, e->mkt, 3, CORE_BUY, 92, 1);
	(void) Rest(e, e->mkt, 3, CORE_BUY, 91, 1);
	EXPECT_LEVEL(e->mkt, CORE_BUY, 0, 92, 3, 2);
	EXPECT_LEVEL(e->mkt, CORE_BUY, 1, 91, 1, 1);
	EXPECT_LEVEL(e->mkt, CORE_BUY, 2, 90, 1, 1);
	r = Limit(e, 4, CORE_SELL, 90, 5);
	CHECK(Submit(e, &r, &res) == CORE_OK);
	CHECK_EQ(res.status, CORE_FILLED);
	CHECK_EQ(e->ntrades, 4);
	CHECK_EQ(e->trades[0].maker_order, b);
	CHECK_EQ(e->trades[0].lots, 2);
	CHECK_EQ(e->trades[1].maker_order, c);
	CHECK_EQ(e->trades[2].price, 91);
	CHECK_EQ(e->trades[3].maker_order, a);
	CHECK_EQ(e->trades[3].taker_side, CORE_SELL);
	CHECK_EQ(res.filled_quote, 2 * 92 + 92 + 91 + 90);
	CHECK(LevelAt(e, e->mkt, CORE_BUY, 0) == NULL);
	/* a seller receives the bids' prices, not its own limit */
	CHECK_EQ(Avail(e, 4, e->usd), FUNDS - 301 + 2 * 92 + 92 + 91 + 90);
	EXPECT_CONSISTENT();
	EnvClose(e);
}

/* Immediate-or-cancel: the unfilled rest is cancelled and released. */
static void
test_ioc(void)
{
	Env			env,
			   *e = &env;
	CoreOrderRequest r;
	CoreOrder	res;

	EnvStandard(e, NULL);
	(void) Rest(e, e->mkt, 1, CORE_SELL, 100, 2);
	r = Limit(e, 2, CORE_BUY, 101, 5);
	r.tif = CORE_IOC;
	CHECK(Submit(e, &r, &res) == CORE_OK);
	CHECK_EQ(res.status, CORE_CANCELLED);
	CHECK_EQ(res.filled, 2);
	CHECK_EQ(res.filled_quote, 200);
	CHECK_EQ(e->ntrades, 2 - 1);
	CHECK_EQ(Avail(e, 2, e->usd), FUNDS - 200);
	CHECK_EQ(Locked(e, 2, e->usd), 0);
	CHECK(CoreFindOrder(e->core, r.id) == NULL);
	CHECK(LevelAt(e, e->mkt, CORE_BUY, 0) == NULL);
	CHECK(LevelAt(e, e->mkt, CORE_SELL, 0) == NULL);
	CHECK_EQ(CoreOpenOrderCount(e->core), 0);

	/* nothing to match: cancelled, nothing moved */
	r = Limit(e, 2, CORE_SELL, 99, 1);
	r.tif = CORE_IOC;
	CHECK(Submit(e, &r, &res) == CORE_OK);
	CHECK_EQ(res.status, CORE_CANCELLED);
	CHECK_EQ(res.filled, 0);
	CHECK_EQ(e->ntrades, 0);
	CHECK_EQ(e->nevents, 1);
	CHECK_EQ(Avail(e, 2, e->eth), FUNDS + 2 * LOT);
	CHECK_EQ(Locked(e, 2, e->eth), 0);
	CHECK_EQ(CoreOpenOrderCount(e->core), 0);
	EXPECT_CONSISTENT();
	EnvClose(e);
}

/* Fill-or-kill: everything at once, or nothing at all. */
static void
test_fok(void)
{
	Env			env,
			   *e = &env;
	CoreOrderRequest r;
	CoreOrder	res;
	int64_t		own;

	EnvStandard(e, NULL);
	(void) Rest(e, e->mkt, 1, CORE_SELL, 100, 2);
	(void) Rest(e, e->mkt, 3, CORE_SELL, 101, 2);

	Snapshot(e);
	r = Limit(e, 2, CORE_BUY, 101, 5);
	r.tif = CORE_FOK;
	CHECK(Submit(e, &r, &res) == CORE_OK);
	CHECK_EQ(res.status, CORE_CANCELLED);
	CHECK_EQ(res.filled, 0);
	CHECK_EQ(e->ntrades, 0);
	CHECK_EQ(e->nevents, 1);
	CHECK(Unchanged(e));
	/* enough lots, but not at or below the limit */
	r = Limit(e, 2, CORE_BUY, 100, 4);
	r.tif = CORE_FOK;
	CHECK(Submit(e, &r, &res) == CORE_OK);
	CHECK_EQ(res.status, CORE_CANCELLED);
	CHECK(Unchanged(e));

	r = Limit(e, 2, CORE_BUY, 101, 4);
	r.tif = CORE_FOK;
	CHECK(Submit(e, &r, &res) == CORE_OK);
	CHECK_EQ(res.status, CORE_FILLED);
	CHECK_EQ(res.filled, 4);
	CHECK_EQ(res.filled_quote, 402);
	CHECK_EQ(e->ntrades, 2);
	CHECK_EQ(Locked(e, 2, e->usd), 0);
	CHECK_EQ(Avail(e, 2, e->usd), FUNDS - 402);
	CHECK(LevelAt(e, e->mkt, CORE_SELL, 0) == NULL);

	/* self-trade prevention counts: an own order first blocks cancel_taker */
	own = Rest(e, e->mkt, 1, CORE_SELL, 100, 2);
	(void) Rest(e, e->mkt, 3, CORE_SELL, 100, 2);
	Snapshot(e);
	r = Limit(e, 1, CORE_BUY, 100, 2);
	r.tif = CORE_FOK;
	CHECK(Submit(e, &r, &res) == CORE_OK);
	CHECK_EQ(res.status, CORE_CANCELLED);
	CHECK(Unchanged(e));
	r.id = e->next_order_id++;
	r.stp = CORE_STP_CANCEL_BOTH;
	CHECK(Submit(e, &r, &res) == CORE_OK);
	CHECK_EQ(res.status, CORE_CANCELLED);
	CHECK(Unchanged(e));
	/* cancel_maker skips it: the other seller fills the order */
	r.id = e->next_order_id++;
	r.stp = CORE_STP_CANCEL_MAKER;
	CHECK(Submit(e, &r, &res) == CORE_OK);
	CHECK_EQ(res.status, CORE_FILLED);
	CHECK_EQ(e->ntrades, 1);
	CHECK_EQ(e->trades[0].maker_account, 3);
	CHECK(CoreFindOrder(e->core, own) == NULL);
	CHECK_EQ(e->events[0].id, own);
	CHECK_EQ(e->events[0].status, CORE_CANCELLED);
	CHECK_EQ(Locked(e, 1, e->eth), 0);
	CHECK_EQ(CoreOpenOrderCount(e->core), 0);

	/* market sell FOK against 3 lots of bids */
	(void) Rest(e, e->mkt, 1, CORE_BUY, 99, 1);
	(void) Rest(e, e->mkt, 3, CORE_BUY, 98, 2);
	Snapshot(e);
	r = Market(e, 2, CORE_SELL, 4);
	r.tif = CORE_FOK;
	CHECK(Submit(e, &r, &res) == CORE_OK);
	CHECK_EQ(res.status, CORE_CANCELLED);
	CHECK(Unchanged(e));
	r = Market(e, 2, CORE_SELL, 3);
	r.tif = CORE_FOK;
	CHECK(Submit(e, &r, &res) == CORE_OK);
	CHECK_EQ(res.status, CORE_FILLED);
	CHECK_EQ(res.filled_quote, 99 + 2 * 98);

	/* market buy FOK: trader 5's 2.50 USD pays for 2 lots at 1.00, not 3 */
	(void) Rest(e, e->mkt, 1, CORE_SELL, 100, 3);
	Snapshot(e);
	r = Market(e, 5, CORE_BUY, 3);
	r.tif = CORE_FOK;
	CHECK(Submit(e, &r, &res) == CORE_OK);
	CHECK_EQ(res.status, CORE_CANCELLED);
	CHECK(Unchanged(e));
	r = Market(e, 5, CORE_BUY, 2);
	r.tif = CORE_FOK;
	CHECK(Submit(e, &r, &res) == CORE_OK);
	CHECK_EQ(res.status, CORE_FILLED);
	CHECK_EQ(Avail(e, 5, e->usd), 50);
	CHECK_EQ(Avail(e, 5, e->eth), 2 * LOT);
	EXPECT_CONSISTENT();
	EnvClose(e);
}

/* Post-only: refused when any part would match, else rests. */
static void
test_post_only(void)
{
	Env			env,
			   *e = &env;
	CoreOrderRequest r;
	CoreOrder	res;

	EnvStandard(e, NULL);
	(void) Rest(e, e->mkt, 1, CORE_SELL, 100, 2);
	(void) Rest(e, e->mkt, 3, CORE_BUY, 95, 2);
	Snapshot(e);
	r = Limit(e, 2, CORE_BUY, 100, 1);
	r.post_only = true;
	CHECK(Submit(e, &r, &res) == CORE_OK);
	CHECK_EQ(res.status, CORE_REJECTED);
	CHECK_EQ(res.filled, 0);
	CHECK_EQ(e->ntrades, 0);
	CHECK_EQ(e->nevents, 1);
	CHECK_EQ(e->events[0].status, CORE_REJECTED);
	r = Limit(e, 2, CORE_SELL, 90, 1);
	r.post_only = true;
	CHECK(Submit(e, &r, &res) == CORE_OK);
	CHECK_EQ(res.status, CORE_REJECTED);
	CHECK(Unchanged(e));

	r = Limit(e, 2, CORE_BUY, 99, 1);
	r.post_only = true;
	CHECK(Submit(e, &r, &res) == CORE_OK);
	CHECK_EQ(res.status, CORE_OPEN);
	CHECK(CoreFindOrder(e->core, r.id) != NULL);
	CHECK(CoreFindOrder(e->core, r.id)->post_only);
	EXPECT_LEVEL(e->mkt, CORE_BUY, 0, 99, 1, 1);

	Snapshot(e);
	r = Limit(e, 2, CORE_BUY, 90, 1);
	r.post_only = true;
	r.tif = CORE_IOC;
	CHECK(Submit(e, &r, &res) == CORE_E_INVALID);
	r.tif = CORE_FOK;
	CHECK(Submit(e, &r, &res) == CORE_E_INVALID);
	CHECK(Unchanged(e));
	EXPECT_CONSISTENT();
	EnvClose(e);
}

/* Market orders: by quantity, out of funds, by quote amount, refusals. */
static void
test_market_orders(void)
{
	Env			env,
			   *e = &env;
	CoreOrderRequest r;
	CoreOrder	res;

	EnvStandard(e, NULL);
	/* a market sell walks the bids */
	(void) Rest(e, e->mkt, 1, CORE_BUY, 99, 2);
	(void) Rest(e, e->mkt, 3, CORE_BUY, 98, 3);
	r = Market(e, 2, CORE_SELL, 4);
	CHECK(Submit(e, &r, &res) == CORE_OK);
	CHECK_EQ(res.status, CORE_FILLED);
	CHECK_EQ(res.price, 0);
	CHECK_EQ(res.filled, 4);
	CHECK_EQ(res.filled_quote, 2 * 99 + 2 * 98);
	CHECK_EQ(e->ntrades, 2);
	CHECK_EQ(Avail(e, 2, e->eth), FUNDS - 4 * LOT);
	CHECK_EQ(Locked(e, 2, e->eth), 0);
	CHECK_EQ(Avail(e, 2, e->usd), FUNDS + 2 * 99 + 2 * 98);
	EXPECT_LEVEL(e->mkt, CORE_BUY, 0, 98, 1, 1);

	/* the book runs out: the rest is cancelled and released */
	r = Market(e, 2, CORE_SELL, 10);
	CHECK(Submit(e, &r, &res) == CORE_OK);
	CHECK_EQ(res.status, CORE_CANCELLED);
	CHECK_EQ(res.filled, 1);
	CHECK_EQ(Avail(e, 2, e->eth), FUNDS - 5 * LOT);
	CHECK_EQ(Locked(e, 2, e->eth), 0);
	CHECK(LevelAt(e, e->mkt, CORE_BUY, 0) == NULL);

	/* an empty book: cancelled, nothing filled */
	r = Market(e, 2, CORE_SELL, 1);
	CHECK(Submit(e, &r, &res) == CORE_OK);
	CHECK_EQ(res.status, CORE_CANCELLED);
	CHECK_EQ(res.filled, 0);
	r = Market(e, 2, CORE_BUY, 1);
	CHECK(Submit(e, &r, &res) == CORE_OK);
	CHECK_EQ(res.status, CORE_CANCELLED);
	CHECK_EQ(res.filled, 0);

	/* a market buy by quantity walks the asks */
	(void) Rest(e, e->mkt, 1, CORE_SELL, 100, 2);
	(void) Rest(e, e->mkt, 3, CORE_SELL, 102, 2);
	r = Market(e, 2, CORE_BUY, 3);
	CHECK(Submit(e, &r, &res) == CORE_OK);
	CHECK_EQ(res.status, CORE_FILLED);
	CHECK_EQ(res.filled_quote, 302);
	CHECK_EQ(Locked(e, 2, e->usd), 0);
	CHECK_EQ(Avail(e, 2, e->usd), FUNDS + 2 * 99 + 3 * 98 - 302);
	EXPECT_LEVEL(e->mkt, CORE_SELL, 0, 102, 1, 1);
	EXPECT_CONSISTENT();

	/* ... and stops when the buyer cannot pay for the next lot */
	(void) Rest(e, e->mkt, 1, CORE_SELL, 120, 3);
	r = Market(e, 5, CORE_BUY, 5);
	CHECK(Submit(e, &r, &res) == CORE_OK);
	CHECK_EQ(res.status, CORE_CANCELLED);
	CHECK_EQ(res.filled, 2);
	CHECK_EQ(res.filled_quote, 102 + 120);
	CHECK_EQ(Avail(e, 5, e->usd), 250 - 222);
	CHECK_EQ(Locked(e, 5, e->usd), 0);
	CHECK_EQ(Avail(e, 5, e->eth), 2 * LOT);
	EXPECT_LEVEL(e->mkt, CORE_SELL, 0, 120, 2, 1);
	r = Market(e, 5, CORE_BUY, 1);
	CHECK(Submit(e, &r, &res) == CORE_OK);
	CHECK_EQ(res.status, CORE_CANCELLED);
	CHECK_EQ(res.filled, 0);
	CHECK_EQ(e->ntrades, 0);

	/* by quote amount: spend at most 5.00 USD */
	(void) Rest(e, e->mkt, 3, CORE_SELL, 100, 2);
	(void) Rest(e, e->mkt, 4, CORE_SELL, 130, 1);
	r = Market(e, 2, CORE_BUY, 0);
	r.quote_limit = 500;
	CHECK(Submit(e, &r, &res) == CORE_OK);
	CHECK_EQ(res.status, CORE_FILLED);
	CHECK_EQ(res.filled, 4);
	CHECK_EQ(res.quantity, 4);
	CHECK_EQ(CoreOrderQuoteLimit(&res), 500);
	CHECK_EQ(CoreOrderExpireAt(&res), 0);
	CHECK_EQ(res.filled_quote, 2 * 100 + 2 * 120);
	CHECK_EQ(e->ntrades, 2);
	CHECK_EQ(Locked(e, 2, e->usd), 0);
	CHECK_EQ(Avail(e, 2, e->usd), FUNDS + 2 * 99 + 3 * 98 - 302 - 440);
	EXPECT_LEVEL(e->mkt, CORE_SELL, 0, 130, 1, 1);
	/* the book runs out before the money: the rest is cancelled */
	r = Market(e, 2, CORE_BUY, 0);
	r.quote_limit = 500;
	CHECK(Submit(e, &r, &res) == CORE_OK);
	CHECK_EQ(res.status, CORE_CANCELLED);
	CHECK_EQ(res.filled, 1);
	CHECK_EQ(res.quantity, 1);
	CHECK_EQ(res.filled_quote, 130);
	CHECK(LevelAt(e, e->mkt, CORE_SELL, 0) == NULL);
	/* spent to the last unit: filled, whether or not more book is left */
	(void) Rest(e, e->mkt, 3, CORE_SELL, 100, 2);
	r = Market(e, 2, CORE_BUY, 0);
	r.quote_limit = 200;
	CHECK(Submit(e, &r, &res) == CORE_OK);
	CHECK_EQ(res.status, CORE_FILLED);
	CHECK_EQ(res.filled, 2);
	CHECK_EQ(res.filled_quote, 200);
	(void) Rest(e, e->mkt, 3, CORE_SELL, 100, 2);
	(void) Rest(e, e->mkt, 3, CORE_SELL, 101, 1);
	r = Market(e, 2, CORE_BUY, 0);
	r.quote_limit = 200;
	CHECK(Submit(e, &r, &res) == CORE_OK);
	CHECK_EQ(res.status, CORE_FILLED);
	CHECK_EQ(res.filled, 2);
	CHECK(CoreCancelAll(e->core, 3, -1, NULL) == 1);
	CHECK_EQ(Avail(e, 2, e->usd), FUNDS + 2 * 99 + 3 * 98 - 302 - 440 - 130 - 400);

	/* a quote amount that buys nothing on an empty book */
	r = Market(e, 2, CORE_BUY, 0);
	r.quote_limit = 500;
	CHECK(Submit(e, &r, &res) == CORE_OK);
	CHECK_EQ(res.status, CORE_CANCELLED);
	CHECK_EQ(res.filled, 0);
	CHECK_EQ(res.quantity, 0);

	/* refusals */
	Snapshot(e);
	r = Market(e, 5, CORE_BUY, 0);
	r.quote_limit = 100;
	CHECK(Submit(e, &r, NULL) == CORE_E_INSUFFICIENT);
	r = Market(e, 2, CORE_BUY, 1);
	r.price = 100;
	CHECK(Submit(e, &r, NULL) == CORE_E_INVALID);
	r = Market(e, 2, CORE_BUY, 1);
	r.quote_limit = 100;
	CHECK(Submit(e, &r, NULL) == CORE_E_INVALID);
	r = Market(e, 2, CORE_BUY, 0);
	CHECK(Submit(e, &r, NULL) == CORE_E_INVALID);
	r = Market(e, 2, CORE_SELL, 0);
	r.quote_limit = 100;
	CHECK(Submit(e, &r, NULL) == CORE_E_INVALID);
	r = Market(e, 2, CORE_BUY, 0);
	r.quote_limit = 100;
	r.tif = CORE_FOK;
	CHECK(Submit(e, &r, NULL) == CORE_E_INVALID);
	r = Market(e, 2, CORE_BUY, 1);
	r.expire_at = e->now + 10;
	CHECK(Submit(e, &r, NULL) == CORE_E_INVALID);
	r = Market(e, 2, CORE_BUY, 1);
	r.post_only = true;
	CHECK(Submit(e, &r, NULL) == CORE_E_INVALID);
	r = Market(e, 2, CORE_BUY, 0);
	r.market = e->nmkt;
	r.quote_limit = 499;
	CHECK(Submit(e, &r, NULL) == CORE_E_MIN_NOTIONAL);
	r = Market(e, 2, CORE_SELL, INT64_MAX / 1000);
	CHECK(Submit(e, &r, NULL) == CORE_E_RANGE);
	CHECK(Unchanged(e));
	EXPECT_CONSISTENT();
	EnvClose(e);
}

/* Self-trade prevention, all three modes. */
static void
test_stp(void)
{
	Env			env,
			   *e = &env;
	CoreOrderRequest r;
	CoreOrder	res;
	int64_t		other,
				own,
				far;

	EnvStandard(e, NULL);

	/* cancel_taker: the trade already made stands, the own maker stays */
	other = Rest(e, e->mkt, 3, CORE_SELL, 100, 1);
	own = Rest(e, e->mkt, 1, CORE_SELL, 100, 1);
	far = Rest(e, e->mkt, 3, CORE_SELL, 101, 1);
	r = Limit(e, 1, CORE_BUY, 101, 3);
	r.stp = CORE_STP_CANCEL_TAKER;
	CHECK(Submit(e, &r, &res) == CORE_OK);
	CHECK_EQ(res.status, CORE_CANCELLED);
	CHECK_EQ(res.filled, 1);
	CHECK_EQ(e->ntrades, 1);
	CHECK_EQ(e->trades[0].maker_order, other);
	CHECK(CoreFindOrder(e->core, own) != NULL);
	CHECK(CoreFindOrder(e->core, far) != NULL);
	CHECK(CoreFindOrder(e->core, r.id) == NULL);
	CHECK_EQ(Locked(e, 1, e->usd), 0);
	CHECK_EQ(Avail(e, 1, e->usd), FUNDS - 100);
	CHECK_EQ(Locked(e, 1, e->eth), LOT);
	EXPECT_LEVEL(e->mkt, CORE_SELL, 0, 100, 1, 1);
	EXPECT_CONSISTENT();

	/* an own order alone at the top: nothing trades, nothing rests */
	r = Limit(e, 1, CORE_BUY, 100, 1);
	CHECK(Submit(e, &r, &res) == CORE_OK);
	CHECK_EQ(res.status, CORE_CANCELLED);
	CHECK_EQ(res.filled, 0);
	CHECK(CoreFindOrder(e->core, own) != NULL);
	CHECK_EQ(Locked(e, 1, e->usd), 0);

	/* cancel_maker: the own order goes, matching goes on */
	(void) Rest(e, e->mkt, 3, CORE_SELL, 101, 1);
	r = Limit(e, 1, CORE_BUY, 101, 3);
	r.stp = CORE_STP_CANCEL_MAKER;
	CHECK(Submit(e, &r, &res) == CORE_OK);
	CHECK_EQ(res.status, CORE_PARTIALLY_FILLED);
	CHECK_EQ(res.filled, 2);
	CHECK_EQ(e->ntrades, 2);
	CHECK_EQ(e->trades[0].maker_order, far);
	CHECK_EQ(e->events[0].id, own);
	CHECK_EQ(e->events[0].status, CORE_CANCELLED);
	CHECK(CoreFindOrder(e->core, own) == NULL);
	CHECK_EQ(Locked(e, 1, e->eth), 0);
	CHECK_EQ(Avail(e, 1, e->eth), FUNDS + 3 * LOT);
	EXPECT_LEVEL(e->mkt, CORE_BUY, 0, 101, 1, 1);
	CHECK_EQ(Locked(e, 1, e->usd), 101);
	EXPECT_CONSISTENT();
	CHECK_EQ(CoreCancelAll(e->core, 1, -1, &e->sink), 1);

	/* cancel_both: the own maker and the rest of the taker */
	other = Rest(e, e->mkt, 3, CORE_BUY, 100, 1);
	own = Rest(e, e->mkt, 1, CORE_BUY, 100, 1);
	far = Rest(e, e->mkt, 3, CORE_BUY, 99, 1);
	r = Limit(e, 1, CORE_SELL, 99, 3);
	r.stp = CORE_STP_CANCEL_BOTH;
	CHECK(Submit(e, &r, &res) == CORE_OK);
	CHECK_EQ(res.status, CORE_CANCELLED);
	CHECK_EQ(res.filled, 1);
	CHECK_EQ(e->ntrades, 1);
	CHECK_EQ(e->trades[0].maker_order, other);
	CHECK(CoreFindOrder(e->core, own) == NULL);
	CHECK(CoreFindOrder(e->core, far) != NULL);
	CHECK_EQ(Locked(e, 1, e->usd), 0);
	CHECK_EQ(Locked(e, 1, e->eth), 0);
	EXPECT_LEVEL(e->mkt, CORE_BUY, 0, 99, 1, 1);
	CHECK_EQ(LevelCount(e, e->mkt, CORE_BUY), 1);
	EXPECT_CONSISTENT();

	/* market orders obey it too */
	own = Rest(e, e->mkt, 3, CORE_SELL, 110, 1);
	r = Market(e, 3, CORE_SELL, 1);
	r.stp = CORE_STP_CANCEL_MAKER;
	CHECK(Submit(e, &r, &res) == CORE_OK);
	CHECK_EQ(res.status, CORE_CANCELLED);
	CHECK_EQ(e->ntrades, 0);
	CHECK(CoreFindOrder(e->core, far) == NULL);
	CHECK(CoreFindOrder(e->core, own) != NULL);
	EXPECT_CONSISTENT();
	EnvClose(e);
}

/* Fees: bps of what each side receives, rounded up, to account 0. */
static void
test_fees(void)
{
	Env			env,
			   *e = &env;
	CoreOrderRequest r;
	CoreOrder	res;

	EnvStandard(e, NULL);
	/* maker sells 7 lots at 17.63; the taker buys */
	(void) Rest(e, e->fmkt, 1, CORE_SELL, 1763, 7);
	r = Limit(e, 2, CORE_BUY, 1763, 7);
	r.market = e->fmkt;
	CHECK(Submit(e, &r, &res) == CORE_OK);
	CHECK_EQ(res.status, CORE_FILLED);
	CHECK_EQ(e->ntrades, 1);
	CHECK_EQ(e->trades[0].quote_units, 12341);
	CHECK_EQ(e->trades[0].base_units, 70000);
	CHECK_EQ(e->trades[0].taker_fee, 140);	/* 0.2% of 7 ETH in ETH */
	CHECK_EQ(e->trades[0].maker_fee, 13);	/* 0.1% of 123.41 USD, 12.341 up */
	CHECK_EQ(Avail(e, 2, e->eth), FUNDS + 70000 - 140);
	CHECK_EQ(Avail(e, 2, e->usd), FUNDS - 12341);
	CHECK_EQ(Avail(e, 1, e->usd), FUNDS + 12341 - 13);
	CHECK_EQ(Avail(e, 1, e->eth), FUNDS - 70000);
	CHECK_EQ(Avail(e, FEE_ACCT, e->eth), 140);
	CHECK_EQ(Avail(e, FEE_ACCT, e->usd), 13);

	/* maker buys at 10.01, the taker sells at a 10.00 limit */
	(void) Rest(e, e->fmkt, 3, CORE_BUY, 1001, 3);
	r = Limit(e, 4, CORE_SELL, 1000, 3);
	r.market = e->fmkt;
	CHECK(Submit(e, &r, &res) == CORE_OK);
	CHECK_EQ(e->trades[0].price, 1001);
	CHECK_EQ(e->trades[0].quote_units, 3003);
	CHECK_EQ(e->trades[0].maker_fee, 30);	/* 0.1% of 3 ETH */
	CHECK_EQ(e->trades[0].taker_fee, 7);	/* 0.2% of 30.03 USD, 6.006 up */
	CHECK_EQ(Avail(e, 3, e->eth), FUNDS + 30000 - 30);
	CHECK_EQ(Avail(e, 4, e->usd), FUNDS + 3003 - 7);
	CHECK_EQ(Avail(e, FEE_ACCT, e->eth), 170);
	CHECK_EQ(Avail(e, FEE_ACCT, e->usd), 20);

	/* one tiny trade: a fee of 0.002 units still costs one unit */
	(void) Rest(e, e->fmkt, 1, CORE_SELL, 1, 1);
	r = Market(e, 2, CORE_BUY, 1);
	r.market = e->fmkt;
	CHECK(Submit(e, &r, &res) == CORE_OK);
	CHECK_EQ(e->trades[0].quote_units, 1);
	CHECK_EQ(e->trades[0].maker_fee, 1);
	CHECK_EQ(e->trades[0].taker_fee, 20);
	CHECK_EQ(Avail(e, 1, e->usd), FUNDS + 12341 - 13);

	/* no fees on the plain market */
	(void) Rest(e, e->mkt, 1, CORE_SELL, 1763, 7);
	r = Limit(e, 2, CORE_BUY, 1763, 7);
	CHECK(Submit(e, &r, &res) == CORE_OK);
	CHECK_EQ(e->trades[0].maker_fee, 0);
	CHECK_EQ(e->trades[0].taker_fee, 0);

	CHECK_EQ(CoreGetAsset(e->core, e->eth)->total, 4 * FUNDS);
	CHECK_EQ(CoreGetAsset(e->core, e->usd)->total, 4 * FUNDS + 250);
	CHECK_EQ(AssetSum(e, e->eth), 4 * FUNDS);
	CHECK_EQ(AssetSum(e, e->usd), 4 * FUNDS + 250);
	EXPECT_CONSISTENT();
	EnvClose(e);
}

/* Cancel releases the remaining hold; unknown or foreign orders refused. */
static void
test_cancel(void)
{
	Env			env,
			   *e = &env;
	CoreOrderRequest r;
	CoreOrder	res;
	int64_t		id;

	EnvStandard(e, NULL);
	id = Rest(e, e->mkt, 1, CORE_SELL, 100, 3);
	e->nevents = 0;
	CHECK(CoreCancel(e->core, 1, id, &e->sink, &res, &e->err) == CORE_OK);
	CHECK_EQ(res.id, id);
	CHECK_EQ(res.status, CORE_CANCELLED);
	CHECK_EQ(res.filled, 0);
	CHECK_EQ(e->nevents, 1);
	CHECK_EQ(e->events[0].status, CORE_CANCELLED);
	CHECK_EQ(Avail(e, 1, e->eth), FUNDS);
	CHECK_EQ(Locked(e, 1, e->eth), 0);
	CHECK(CoreFindOrder(e->core, id) == NULL);
	CHECK_EQ(CoreBestLevel(e->core, e->mkt, CORE_SELL), CORE_NO_INDEX);
	CHECK_EQ(CoreOpenOrderCount(e->core), 0);

	Snapshot(e);
	CHECK(CoreCancel(e->core, 1, id, &e->sink, &res, &e->err) ==
		  CORE_E_UNKNOWN_ORDER);
	CHECK(CoreCancel(e->core, 1, 9999, &e->sink, &res, &e->err) ==
		  CORE_E_UNKNOWN_ORDER);
	CHECK(Unchanged(e));

	/* partly filled: only the rest is released */
	id = Rest(e, e->mkt, 1, CORE_BUY, 100, 5);
	r = Limit(e, 2, CORE_SELL, 100, 2);
	CHECK(Submit(e, &r, &res) == CORE_OK);
	Snapshot(e);
	CHECK(CoreCancel(e->core, 2, id, &e->sink, &res, &e->err) ==
		  CORE_E_UNKNOWN_ORDER);
	CHECK(Unchanged(e));
	CHECK(CoreCancel(e->core, 1, id, NULL, &res, &e->err) == CORE_OK);
	CHECK_EQ(res.status, CORE_CANCELLED);
	CHECK_EQ(res.filled, 2);
	CHECK_EQ(res.filled_quote, 200);
	CHECK_EQ(Locked(e, 1, e->usd), 0);
	CHECK_EQ(Avail(e, 1, e->usd), FUNDS - 200);
	CHECK(LevelAt(e, e->mkt, CORE_BUY, 0) == NULL);

	/* cancelling from the middle of a level keeps the others in order */
	(void) Rest(e, e->mkt, 1, CORE_SELL, 100, 1);
	id = Rest(e, e->mkt, 3, CORE_SELL, 100, 2);
	(void) Rest(e, e->mkt, 4, CORE_SELL, 100, 3);
	CHECK(CoreCancel(e->core, 3, id, NULL, &res, &e->err) == CORE_OK);
	EXPECT_LEVEL(e->mkt, CORE_SELL, 0, 100, 4, 2);
	r = Limit(e, 2, CORE_BUY, 100, 4);
	CHECK(Submit(e, &r, &res) == CORE_OK);
	CHECK_EQ(e->ntrades, 2);
	CHECK_EQ(e->trades[0].maker_account, 1);
	CHECK_EQ(e->trades[1].maker_account, 4);
	EXPECT_CONSISTENT();
	EnvClose(e);
}

/* Amend reduces the quantity, keeps priority, refuses an increase. */
static void
test_amend(void)
{
	Env			env,
			   *e = &env;
	CoreOrderRequest r;
	CoreOrder	res;
	int64_t		a,
				b;

	EnvStandard(e, NULL);
	a = Rest(e, e->mkt, 1, CORE_BUY, 100, 5);
	b = Rest(e, e->mkt, 3, CORE_BUY, 100, 2);
	e->nevents = 0;
	CHECK(CoreAmend(e->core, 1, a, 3, &e->sink, &res, &e->err) == CORE_OK);
	CHECK_EQ(res.quantity, 3);
	CHECK_EQ(res.status, CORE_OPEN);
	CHECK_EQ(e->nevents, 1);
	CHECK_EQ(e->events[0].quantity, 3);
	CHECK_EQ(Locked(e, 1, e->usd), 300);
	CHECK_EQ(Avail(e, 1, e->usd), FUNDS - 300);
	EXPECT_LEVEL(e->mkt, CORE_BUY, 0, 100, 5, 2);

	/* it is still first in line */
	r = Limit(e, 2, CORE_SELL, 100, 1);
	CHECK(Submit(e, &r, &res) == CORE_OK);
	CHECK_EQ(e->trades[0].maker_order, a);

	Snapshot(e);
	CHECK(CoreAmend(e->core, 1, a, 4, &e->sink, &res, &e->err) ==
		  CORE_E_INVALID);
	CHECK(e->err.detail[0] != '\0');
	CHECK(CoreAmend(e->core, 1, a, 0, &e->sink, &res, &e->err) ==
		  CORE_E_RANGE);
	CHECK(CoreAmend(e->core, 1, a, -1, &e->sink, &res, &e->err) ==
		  CORE_E_RANGE);
	CHECK(CoreAmend(e->core, 1, a, 1, &e->sink, &res, &e->err) ==
		  CORE_E_INVALID);	/* not more than what executed */
	CHECK(CoreAmend(e->core, 3, a, 2, &e->sink, &res, &e->err) ==
		  CORE_E_UNKNOWN_ORDER);
	CHECK(CoreAmend(e->core, 1, 9999, 2, &e->sink, &res, &e->err) ==
		  CORE_E_UNKNOWN_ORDER);
	/* the same quantity is accepted and changes nothing */
	e->nevents = 0;
	CHECK(CoreAmend(e->core, 1, a, 3, &e->sink, &res, &e->err) == CORE_OK);
	CHECK_EQ(res.quantity, 3);
	CHECK_EQ(e->nevents, 0);
	CHECK(Unchanged(e));

	CHECK(CoreAmend(e->core, 1, a, 2, &e->sink, &res, &e->err) == CORE_OK);
	CHECK_EQ(res.status, CORE_PARTIALLY_FILLED);
	CHECK_EQ(res.filled, 1);
	CHECK_EQ(Locked(e, 1, e->usd), 100);
	EXPECT_LEVEL(e->mkt, CORE_BUY, 0, 100, 3, 2);

	/* amending the seller side releases base */
	a = Rest(e, e->mkt, 4, CORE_SELL, 120, 4);
	CHECK(CoreAmend(e->core, 4, a, 1, NULL, &res, &e->err) == CORE_OK);
	CHECK_EQ(Locked(e, 4, e->eth), LOT);
	EXPECT_LEVEL(e->mkt, CORE_SELL, 0, 120, 1, 1);

	/* the amended order fills completely at its new size */
	r = Limit(e, 2, CORE_SELL, 100, 3);
	CHECK(Submit(e, &r, &res) == CORE_OK);
	CHECK_EQ(e->ntrades, 2);
	CHECK_EQ(e->trades[0].lots, 1);
	CHECK_EQ(e->trades[1].maker_order, b);
	CHECK_EQ(e->trades[1].lots, 2);
	CHECK(LevelAt(e, e->mkt, CORE_BUY, 0) == NULL);
	CHECK_EQ(Locked(e, 1, e->usd), 0);
	EXPECT_CONSISTENT();
	EnvClose(e);
}

/* Cancel every order of an account, in one market or all. */
static void
test_cancel_all(void)
{
	Env			env,
			   *e = &env;
	int64_t		keep;

	EnvStandard(e, NULL);
	(void) Rest(e, e->mkt, 1, CORE_BUY, 90, 1);
	(void) Rest(e, e->mkt, 1, CORE_SELL, 110, 2);
	(void) Rest(e, e->fmkt, 1, CORE_BUY, 90, 3);
	keep = Rest(e, e->mkt, 3, CORE_BUY, 90, 1);
	e->nevents = 0;
	CHECK_EQ(CoreCancelAll(e->core, 1, e->mkt, &e->sink), 2);
	CHECK_EQ(e->nevents, 2);
	CHECK_EQ(e->events[0].status, CORE_CANCELLED);
	CHECK_EQ(CoreOpenOrderCount(e->core), 2);
	CHECK_EQ(Locked(e, 1, e->eth), 0);
	CHECK_EQ(Locked(e, 1, e->usd), 270);
	EXPECT_LEVEL(e->mkt, CORE_BUY, 0, 90, 1, 1);
	CHECK(LevelAt(e, e->mkt, CORE_SELL, 0) == NULL);
	CHECK_EQ(CoreCancelAll(e->core, 1, e->mkt, &e->sink), 0);
	CHECK_EQ(CoreCancelAll(e->core, 1, -1, NULL), 1);
	CHECK_EQ(Locked(e, 1, e->usd), 0);
	CHECK_EQ(Avail(e, 1, e->usd), FUNDS);
	CHECK_EQ(CoreCancelAll(e->core, 77, -1, NULL), 0);
	CHECK(CoreFindOrder(e->core, keep) != NULL);
	CHECK_EQ(CoreOpenOrderCount(e->core), 1);
	EXPECT_CONSISTENT();
	EnvClose(e);
}

/* Good-till-date orders expire at their time, releasing their hold. */
static void
test_expire(void)
{
	Env			env,
			   *e = &env;
	CoreOrderRequest r;
	CoreOrder	res;
	int64_t		a,
				b,
				c;

	EnvStandard(e, NULL);
	CHECK_EQ(CoreExpire(e->core, 1 << 30, 100, NULL), 0);
	r = Limit(e, 1, CORE_BUY, 100, 1);
	r.expire_at = 1010;
	a = r.id;
	CHECK(Submit(e, &r, &res) == CORE_OK);
	CHECK_EQ(CoreOrderExpireAt(&res), 1010);
	CHECK_EQ(CoreOrderQuoteLimit(&res), 0);
	r = Limit(e, 1, CORE_BUY, 99, 2);
	r.expire_at = 1020;
	b = r.id;
	CHECK(Submit(e, &r, &res) == CORE_OK);
	c = Rest(e, e->mkt, 1, CORE_BUY, 98, 1);
	/* partly filled before it expires */
	r = Limit(e, 2, CORE_SELL, 99, 2);
	CHECK(Submit(e, &r, &res) == CORE_OK);
	CHECK_EQ(e->ntrades, 2);
	CHECK_EQ(Locked(e, 1, e->usd), 99 + 98);

	Snapshot(e);
	CHECK_EQ(CoreExpire(e->core, 1009, 100, &e->sink), 0);
	CHECK(Unchanged(e));
	e->nevents = 0;
	CHECK_EQ(CoreExpire(e->core, 1020, 100, &e->sink), 1);
	CHECK_EQ(e->nevents, 1);
	CHECK_EQ(e->events[0].id, b);
	CHECK_EQ(e->events[0].status, CORE_EXPIRED);
	CHECK_EQ(e->events[0].filled, 1);
	CHECK(CoreFindOrder(e->core, a) == NULL);	/* filled earlier */
	CHECK(CoreFindOrder(e->core, b) == NULL);
	CHECK(CoreFindOrder(e->core, c) != NULL);
	CHECK_EQ(Locked(e, 1, e->usd), 98);
	CHECK_EQ(CoreExpire(e->core, INT64_MAX, 100, &e->sink), 0);

	/* at most max per call */
	for (int i = 0; i < 3; i++)
	{
		r = Limit(e, 3, CORE_SELL, 200 + i, 1);
		r.expire_at = 1100 + i;
		CHECK(Submit(e, &r, &res) == CORE_OK);
	}
	CHECK_EQ(CoreExpire(e->core, 1101, 5, NULL), 2);
	CHECK_EQ(CoreExpire(e->core, 2000, 0, NULL), 0);
	CHECK_EQ(CoreExpire(e->core, 2000, 1, NULL), 1);
	CHECK_EQ(CoreExpire(e->core, 2000, 1, NULL), 0);
	CHECK_EQ(Locked(e, 3, e->eth), 0);
	CHECK(LevelAt(e, e->mkt, CORE_SELL, 0) == NULL);

	/* refusals */
	Snapshot(e);
	r = Limit(e, 1, CORE_BUY, 100, 1);
	r.expire_at = e->now;
	CHECK(Submit(e, &r, NULL) == CORE_E_INVALID);
	r.expire_at = e->now - 1;
	CHECK(Submit(e, &r, NULL) == CORE_E_INVALID);
	r.expire_at = e->now + 1;
	r.tif = CORE_IOC;
	CHECK(Submit(e, &r, NULL) == CORE_E_INVALID);
	CHECK(Unchanged(e));
	EXPECT_CONSISTENT();
	EnvClose(e);
}

/* Requests refused before anything happens. */
static void
test_validation(void)
{
	Env			env,
			   *e = &env;
	CoreOrderRequest r;
	CoreOrderRequest good;

	EnvStandard(e, NULL);
	(void) Rest(e, e->mkt, 1, CORE_SELL, 100, 1);
	Snapshot(e);
	good = Limit(e, 2, CORE_BUY, 90, 1);

#define EXPECT_REFUSED(field, value, want) \
	do { \
		r = good; \
		r.field = value; \
		CHECK(Submit(e, &r, NULL) == want); \
		CHECK(e->err.code == want && e->err.message[0] != '\0'); \
	} while (0)

	EXPECT_REFUSED(market, 99, CORE_E_UNKNOWN_MARKET);
	EXPECT_REFUSED(market, -1, CORE_E_UNKNOWN_MARKET);
	EXPECT_REFUSED(account, 77, CORE_E_UNKNOWN_ACCOUNT);
	EXPECT_REFUSED(account, FEE_ACCT, CORE_E_INVALID);
	EXPECT_REFUSED(side, (CoreSide) 2, CORE_E_INVALID);
	EXPECT_REFUSED(type, (CoreOrderType) 2, CORE_E_INVALID);
	EXPECT_REFUSED(tif, (CoreTimeInForce) 3, CORE_E_INVALID);
	EXPECT_REFUSED(stp, (CoreStp) 3, CORE_E_INVALID);
	EXPECT_REFUSED(id, 0, CORE_E_INVALID);
	EXPECT_REFUSED(id, -4, CORE_E_INVALID);
	EXPECT_REFUSED(quantity, -1, CORE_E_RANGE);
	EXPECT_REFUSED(quantity, 0, CORE_E_RANGE);
	EXPECT_REFUSED(price, -1, CORE_E_RANGE);
	EXPECT_REFUSED(price, 0, CORE_E_INVALID);
	EXPECT_REFUSED(quote_limit, -1, CORE_E_RANGE);
	EXPECT_REFUSED(quote_limit, 100, CORE_E_INVALID);
	/* notional and unit overflow */
	EXPECT_REFUSED(price, INT64_MAX / 2 + 1, CORE_E_INSUFFICIENT);
	good.quantity = 3;
	EXPECT_REFUSED(price, INT64_MAX / 2, CORE_E_RANGE);
	good.quantity = 1;
	EXPECT_REFUSED(quantity, INT64_MAX / LOT + 1, CORE_E_RANGE);
	/* below the market minimum of 5.00 USD */
	good.market = e->nmkt;
	EXPECT_REFUSED(quantity, 5, CORE_E_MIN_NOTIONAL);
	CHECK(strstr(e->err.detail, "4.5") != NULL);
	good.market = e->mkt;
	/* a halted market refuses orders until resumed */
	CHECK(CoreSetHalted(e->core, e->mkt, true, &e->err) == CORE_OK);
	Snapshot(e);
	r = good;
	CHECK(Submit(e, &r, NULL) == CORE_E_HALTED);
	CHECK(Unchanged(e));
	CHECK(CoreSetHalted(e->core, e->mkt, false, &e->err) == CORE_OK);
	Snapshot(e);
	r = good;
	r.market = e->nmkt;
	r.quantity = 6;
	CHECK(Submit(e, &r, NULL) == CORE_OK);
	r = good;
	r.id = 1;					/* an id that still rests */
	CHECK(Submit(e, &r, NULL) == CORE_E_INTERNAL);
#undef EXPECT_REFUSED
	EnvClose(e);
}

/* Not enough available balance: refused, nothing changes. */
static void
test_insufficient(void)
{
	Env			env,
			   *e = &env;
	CoreOrderRequest r;
	CoreOrder	res;

	EnvStandard(e, NULL);
	Snapshot(e);
	r = Limit(e, 5, CORE_BUY, 100, 3);
	CHECK(Submit(e, &r, NULL) == CORE_E_INSUFFICIENT);
	CHECK(strstr(e->err.message, "USD") != NULL);
	CHECK(strstr(e->err.detail, "2.5") != NULL);
	r = Limit(e, 5, CORE_SELL, 100, 1);
	CHECK(Submit(e, &r, NULL) == CORE_E_INSUFFICIENT);
	r = Market(e, 5, CORE_SELL, 1);
	CHECK(Submit(e, &r, NULL) == CORE_E_INSUFFICIENT);
	r = Limit(e, 1, CORE_SELL, 100, FUNDS / LOT + 1);
	CHECK(Submit(e, &r, NULL) == CORE_E_INSUFFICIENT);
	CHECK(Unchanged(e));

	r = Limit(e, 5, CORE_BUY, 100, 2);
	CHECK(Submit(e, &r, &res) == CORE_OK);
	CHECK_EQ(Avail(e, 5, e->usd), 50);
	Snapshot(e);
	r = Limit(e, 5, CORE_BUY, 51, 1);
	CHECK(Submit(e, &r, NULL) == CORE_E_INSUFFICIENT);
	CHECK(Unchanged(e));
	/* exactly what is available is enough */
	r = Limit(e, 5, CORE_BUY, 50, 1);
	CHECK(Submit(e, &r, &res) == CORE_OK);
	CHECK_EQ(Avail(e, 5, e->usd), 0);
	CHECK_EQ(Locked(e, 5, e->usd), 250);
	EXPECT_CONSISTENT();
	EnvClose(e);
}

/* Capacity limits on orders, levels and balances refuse cleanly. */
static void
test_capacity(void)
{
	Env			env,
			   *e = &env;
	CoreConfig	c = default_config;
	CoreOrderRequest r;
	CoreOrder	res;

	c.max_orders = 2;
	c.max_levels = 64;
	EnvStandard(e, &c);
	(void) Rest(e, e->mkt, 1, CORE_BUY, 90, 1);
	(void) Rest(e, e->mkt, 1, CORE_SELL, 110, 1);
	Snapshot(e);
	r = Limit(e, 2, CORE_BUY, 91, 1);
	CHECK(Submit(e, &r, NULL) == CORE_E_CAPACITY);
	CHECK(Unchanged(e));
	/* orders that never rest need no slot */
	r = Limit(e, 2, CORE_BUY, 110, 1);
	r.tif = CORE_IOC;
	CHECK(Submit(e, &r, &res) == CORE_OK);
	CHECK_EQ(res.status, CORE_FILLED);
	r = Limit(e, 2, CORE_BUY, 91, 1);
	CHECK(Submit(e, &r, &res) == CORE_OK);
	CHECK_EQ(CoreOpenOrderCount(e->core), 2);
	EXPECT_CONSISTENT();
	EnvClose(e);

	c = default_config;
	c.max_levels = 2;
	EnvStandard(e, &c);
	(void) Rest(e, e->mkt, 1, CORE_BUY, 100, 1);
	(void) Rest(e, e->mkt, 1, CORE_BUY, 99, 1);
	Snapshot(e);
	r = Limit(e, 2, CORE_BUY, 98, 1);
	CHECK(Submit(e, &r, NULL) == CORE_E_CAPACITY);
	r = Limit(e, 2, CORE_SELL, 120, 1);
	CHECK(Submit(e, &r, NULL) == CORE_E_CAPACITY);
	r = Limit(e, 2, CORE_BUY, 99, 1);
	r.market = e->fmkt;
	CHECK(Submit(e, &r, NULL) == CORE_E_CAPACITY);
	CHECK(Unchanged(e));
	/* an existing level takes more orders */
	(void) Rest(e, e->mkt, 2, CORE_BUY, 99, 1);
	EXPECT_LEVEL(e->mkt, CORE_BUY, 1, 99, 2, 2);
	/* a freed level is reused */
	CHECK_EQ(CoreCancelAll(e->core, 1, -1, NULL), 2);
	(void) Rest(e, e->mkt, 2, CORE_SELL, 120, 1);
	EXPECT_LEVEL(e->mkt, CORE_SELL, 0, 120, 1, 1);
	EXPECT_CONSISTENT();
	EnvClose(e);

	/* balances: a fee row per asset and a row per trader per asset */
	c = default_config;
	c.max_balances = 5;
	EnvOpen(e, &c);
	EnvCatalogue(e);
	CHECK(CoreAddAccount(e->core, 1, &e->err) == CORE_OK);
	CHECK(CoreAddAccount(e->core, 2, &e->err) == CORE_OK);
	CHECK(CoreDeposit(e->core, 1, e->eth, FUNDS, &e->err) == CORE_OK);
	CHECK(CoreDeposit(e->core, 1, e->usd, FUNDS, &e->err) == CORE_OK);
	CHECK(CoreDeposit(e->core, 2, e->eth, FUNDS, &e->err) == CORE_OK);
	(void) Rest(e, e->mkt, 1, CORE_SELL, 100, 1);	/* adds both fee rows */
	Snapshot(e);
	r = Limit(e, 2, CORE_SELL, 101, 1);
	CHECK(Submit(e, &r, NULL) == CORE_E_CAPACITY);
	r = Market(e, 2, CORE_SELL, 1);
	CHECK(Submit(e, &r, NULL) == CORE_E_CAPACITY);
	CHECK(CoreDeposit(e->core, 2, e->usd, 1, &e->err) == CORE_E_CAPACITY);
	CHECK(Unchanged(e));
	CHECK(CoreDeposit(e->core, 1, e->usd, 1, &e->err) == CORE_OK);
	EnvClose(e);
}

/* Rebuild: balances loaded as stored, orders restored in priority order. */
static void
test_restore(void)
{
	Env			env,
			   *e = &env;
	Env			env2,
			   *f = &env2;
	CoreOrderRequest r;
	CoreOrder	res;
	CoreOrder	saved[16];
	int			nsaved = 0;
	CoreOrder	o;
	int64_t		ids[] = {0, 0, 0, 0, 0};

	EnvStandard(e, NULL);
	ids[0] = Rest(e, e->mkt, 1, CORE_SELL, 100, 2);
	ids[1] = Rest(e, e->mkt, 3, CORE_SELL, 100, 3);
	ids[2] = Rest(e, e->mkt, 4, CORE_BUY, 95, 4);
	ids[3] = Rest(e, e->fmkt, 1, CORE_BUY, 50, 1);
	r = Limit(e, 2, CORE_BUY, 100, 3);
	CHECK(Submit(e, &r, &res) == CORE_OK);	/* ids[0] filled, ids[1] partly */
	r = Limit(e, 2, CORE_BUY, 97, 1);
	r.expire_at = 5000;
	ids[4] = r.id;
	CHECK(Submit(e, &r, &res) == CORE_OK);
	for (int i = 1; i < 5; i++)
		saved[nsaved++] = *CoreFindOrder(e->core, ids[i]);

	/* rebuild into a second core */
	EnvOpen(f, &default_config);
	EnvCatalogue(f);
	for (int64_t a = 1; a <= 5; a++)
		CHECK(CoreAddAccount(f->core, a, &f->err) == CORE_OK);
	for (int64_t a = 0; a <= 5; a++)
		for (int32_t s = 0; s < 2; s++)
		{
			int64_t		av,
						lk;

			if (CoreGetBalance(e->core, a, s, &av, &lk))
				CHECK(CoreLoadBalance(f->core, a, s, av, lk, &f->err) == CORE_OK);
		}
	for (int i = 0; i < nsaved; i++)
		CHECK(CoreRestoreOrder(f->core, &saved[i], &f->err) == CORE_OK);
	CHECK_EQ(CoreOpenOrderCount(f->core), 4);
	CHECK_EQ(CoreGetAsset(f->core, f->eth)->total, 4 * FUNDS);
	CHECK_EQ(CoreGetAsset(f->core, f->usd)->total, 4 * FUNDS + 250);
	ExpectConsistent(f, __LINE__);
	{
		Env		   *g = e;

		e = f;
		EXPECT_LEVEL(e->mkt, CORE_SELL, 0, 100, 2, 1);
		EXPECT_LEVEL(e->mkt, CORE_BUY, 0, 97, 1, 1);
		EXPECT_LEVEL(e->mkt, CORE_BUY, 1, 95, 4, 1);
		EXPECT_LEVEL(e->fmkt, CORE_BUY, 0, 50, 1, 1);
		e = g;
	}
	CHECK_EQ(CoreFindOrder(f->core, ids[1])->filled, 1);
	CHECK_EQ(CoreOrderExpireAt(CoreFindOrder(f->core, ids[4])), 5000);

	/* both cores now behave the same */
	for (int k = 0; k < 2; k++)
	{
		Env		   *x = k == 0 ? e : f;

		x->next_order_id = 100;
		x->next_trade_id = 50;
		r = Limit(x, 4, CORE_BUY, 100, 5);
		CHECK(Submit(x, &r, &res) == CORE_OK);
		CHECK_EQ(res.status, CORE_PARTIALLY_FILLED);
		CHECK_EQ(res.filled, 2);
		CHECK_EQ(x->ntrades, 1);
		CHECK_EQ(x->trades[0].maker_order, ids[1]);
		CHECK_EQ(x->trades[0].id, 50);
		r = Market(x, 3, CORE_SELL, 5);
		CHECK(Submit(x, &r, &res) == CORE_OK);
		CHECK_EQ(res.filled_quote, 3 * 100 + 97 + 95);
		CHECK_EQ(CoreExpire(x->core, 5000, 10, NULL), 0);
	}
	for (int64_t a = 0; a <= 5; a++)
		for (int32_t s = 0; s < 2; s++)
		{
			CHECK_EQ(Avail(e, a, s), Avail(f, a, s));
			CHECK_EQ(Locked(e, a, s), Locked(f, a, s));
		}
	ExpectConsistent(f, __LINE__);

	/* refusals */
	Snapshot(f);
	o = saved[0];
	CHECK(CoreRestoreOrder(f->core, &saved[2], &f->err) == CORE_E_DUPLICATE);
	o.id = 900;
	o.market = 9;
	CHECK(CoreRestoreOrder(f->core, &o, &f->err) == CORE_E_UNKNOWN_MARKET);
	o = saved[0];
	o.id = 900;
	o.account = 99;
	CHECK(CoreRestoreOrder(f->core, &o, &f->err) == CORE_E_UNKNOWN_ACCOUNT);
	o = saved[0];
	o.id = 900;
	o.type = CORE_MARKET;
	CHECK(CoreRestoreOrder(f->core, &o, &f->err) == CORE_E_INVALID);
	o.type = CORE_LIMIT;
	o.filled = o.quantity;
	CHECK(CoreRestoreOrder(f->core, &o, &f->err) == CORE_E_INVALID);
	o.filled = 0;
	o.status = CORE_FILLED;
	CHECK(CoreRestoreOrder(f->core, &o, &f->err) == CORE_E_INVALID);
	o.status = CORE_OPEN;
	o.price = 0;
	CHECK(CoreRestoreOrder(f->core, &o, &f->err) == CORE_E_INVALID);
	o.price = INT64_MAX;
	CHECK(CoreRestoreOrder(f->core, &o, &f->err) == CORE_E_INVALID);
	CHECK(CoreLoadBalance(f->core, 1, f->eth, 1, 0, &f->err) ==
		  CORE_E_DUPLICATE);
	CHECK(CoreLoadBalance(f->core, 5, f->eth, -1, 0, &f->err) == CORE_E_RANGE);
	CHECK(CoreLoadBalance(f->core, 5, f->eth, INT64_MAX, 0, &f->err) ==
		  CORE_E_RANGE);
	CHECK(CoreLoadBalance(f->core, 5, f->eth, INT64_MAX / 2, INT64_MAX / 2 + 2,
						  &f->err) == CORE_E_RANGE);
	CHECK(CoreLoadBalance(f->core, 9, f->eth, 1, 0, &f->err) ==
		  CORE_E_UNKNOWN_ACCOUNT);
	CHECK(CoreLoadBalance(f->core, 5, 7, 1, 0, &f->err) ==
		  CORE_E_UNKNOWN_ASSET);
	CHECK(Unchanged(f));
	EnvClose(f);

	/* a full order pool refuses one more */
	{
		CoreConfig	c = default_config;

		c.max_orders = 1;
		EnvOpen(f, &c);
		EnvCatalogue(f);
		CHECK(CoreAddAccount(f->core, 1, &f->err) == CORE_OK);
		CHECK(CoreAddAccount(f->core, 3, &f->err) == CORE_OK);
		CHECK(CoreRestoreOrder(f->core, &saved[0], &f->err) == CORE_OK);
		Snapshot(f);
		CHECK(CoreRestoreOrder(f->core, &saved[2], &f->err) == CORE_E_CAPACITY);
		CHECK(Unchanged(f));
		EnvClose(f);
	}
	EnvClose(e);
}

/* Order walk, dirty write-back rows and reset. */
static void
test_walk_dirty_reset(void)
{
	Env			env,
			   *e = &env;
	CoreOrderRequest r;
	CoreOrder	res;
	CoreBalanceRow rows[16];
	int32_t		n;
	Walk		w;

	EnvStandard(e, NULL);
	CHECK_EQ(CoreDirtyCount(e->core), 0);
	(void) Rest(e, e->mkt, 1, CORE_SELL, 100, 2);
	(void) Rest(e, e->mkt, 3, CORE_SELL, 101, 2);
	(void) Rest(e, e->mkt, 4, CORE_BUY, 90, 2);
	CoreClearDirty(e->core);
	r = Limit(e, 2, CORE_BUY, 100, 1);
	CHECK(Submit(e, &r, &res) == CORE_OK);
	/* buyer and seller in both assets, the fee rows in both */
	n = CoreDirtyBalances(e->core, rows, 16);
	CHECK_EQ(n, CoreDirtyCount(e->core));
	CHECK(n >= 4 && n <= 6);
	for (int32_t i = 0; i < n; i++)
	{
		CHECK(rows[i].account == 1 || rows[i].account == 2 ||
			  rows[i].account == FEE_ACCT);
		CHECK_EQ(rows[i].available, Avail(e, rows[i].account, rows[i].asset));
		CHECK_EQ(rows[i].locked, Locked(e, rows[i].account, rows[i].asset));
	}
	CHECK_EQ(CoreDirtyBalances(e->core, rows, 2), 2);

	/* the walk visits every resting order and stops on request */
	memset(&w, 0, sizeof(w));
	w.core = e->core;
	w.stop = 2;
	CoreForEachOrder(e->core, WalkOrder, &w);
	CHECK_EQ(w.n, 2);
	w.n = 0;
	w.stop = 100;
	CoreForEachOrder(e->core, WalkOrder, &w);
	CHECK_EQ(w.n, 3);
	CHECK_EQ(CoreOpenOrderCount(e->core), 3);

	CoreReset(e->core);
	CHECK_EQ(CoreAssetCount(e->core), 0);
	CHECK_EQ(CoreMarketCount(e->core), 0);
	CHECK_EQ(CoreOpenOrderCount(e->core), 0);
	CHECK_EQ(CoreDirtyCount(e->core), 0);
	CHECK(CoreHasAccount(e->core, FEE_ACCT));
	CHECK(!CoreHasAccount(e->core, 1));
	CHECK(CoreGetConfig(e->core)->max_orders == default_config.max_orders);
	/* and is usable again */
	EnvCatalogue(e);
	CHECK(CoreAddAccount(e->core, 1, &e->err) == CORE_OK);
	CHECK(CoreDeposit(e->core, 1, e->usd, 100, &e->err) == CORE_OK);
	(void) Rest(e, e->mkt, 1, CORE_BUY, 100, 1);
	CHECK_EQ(CoreOpenOrderCount(e->core), 1);
	EXPECT_CONSISTENT();
	EnvClose(e);
}

/* Run every test; the exit status says whether all passed. */
/*
 * The prefetch hints change nothing, whatever they are given: known and
 * unknown accounts and orders, markets in and out of range, ids never
 * used.  (Run under AddressSanitizer: a read outside the core's arrays
 * fails the test.)
 */
static void
test_prefetch_hints(void)
{
	Env			env,
			   *e = &env;
	CoreOrderRequest r;
	CoreOrder	res;
	int64_t		resting[3];
	const int64_t accounts[] = {1, 5, 6, 0, -1, INT64_MAX, INT64_MIN};
	const int32_t markets[] = {0, 1, 2, 3, 4, -1, CORE_NO_INDEX, INT32_MAX};

	EnvStandard(e, NULL);
	for (int i = 0; i < 3; i++)
	{
		r = Limit(e, 1 + i, CORE_SELL, 100 + i, 2);
		resting[i] = r.id;
		CHECK(Submit(e, &r, &res) == CORE_OK);
		CHECK_EQ(res.status, CORE_OPEN);
	}
	Snapshot(e);
	for (size_t a = 0; a < sizeof(accounts) / sizeof(accounts[0]); a++)
		for (size_t m = 0; m < sizeof(markets) / sizeof(markets[0]); m++)
		{
			CorePrefetchAccountId(e->core, accounts[a], markets[m]);
			CorePrefetchAccount(e->core, accounts[a], markets[m]);
		}
	for (int64_t id = -2; id < e->next_order_id + 70; id++)
	{
		CorePrefetchOrderId(e->core, id);
		CorePrefetchOrder(e->core, id);
	}
	CorePrefetchOrderId(e->core, INT64_MAX);
	CorePrefetchOrder(e->core, INT64_MAX);
	CorePrefetchOrderId(e->core, INT64_MIN);
	CorePrefetchOrder(e->core, INT64_MIN);
	CHECK(Unchanged(e));

	/* and the requests they were given for go as without them */
	CorePrefetchOrderId(e->core, resting[1]);
	CorePrefetchOrder(e->core, resting[1]);
	CHECK(CoreCancel(e->core, 2, resting[1], &e->sink, &res, &e->err) == CORE_OK);
	CHECK_EQ(res.status, CORE_CANCELLED);
	r = Limit(e, 4, CORE_BUY, 102, 3);
	CorePrefetchAccountId(e->core, 4, e->mkt);
	CorePrefetchAccount(e->core, 4, e->mkt);
	CHECK(Submit(e, &r, &res) == CORE_OK);
	CHECK_EQ(res.status, CORE_FILLED);
	CHECK_EQ(res.filled_quote, 2 * 100 + 102);
	CHECK(CoreFindOrder(e->core, resting[0]) == NULL);
	CHECK(CoreFindOrder(e->core, resting[2]) != NULL);
	EXPECT_CONSISTENT();
	EnvClose(e);
}

/*
 * CorePlace finds a resting order's level before it matches (to load the
 * level's last order meanwhile): an order joins the level it found, behind
 * the orders there, also when every level is in use; and one that would
 * need a new level when none is free is refused before it trades.
 */
static void
test_rest_after_trades(void)
{
	Env			env,
			   *e = &env;
	CoreConfig	config = default_config;
	CoreOrderRequest r;
	CoreOrder	res;
	int64_t		bid;

	config.max_levels = 3;
	EnvStandard(e, &config);
	r = Limit(e, 1, CORE_SELL, 100, 1);
	CHECK(Submit(e, &r, &res) == CORE_OK);
	r = Limit(e, 1, CORE_SELL, 101, 1);
	CHECK(Submit(e, &r, &res) == CORE_OK);
	r = Limit(e, 2, CORE_BUY, 90, 1);
	bid = r.id;
	CHECK(Submit(e, &r, &res) == CORE_OK);

	/* every level in use: a buy at 90 joins the bid there, behind it */
	r = Limit(e, 4, CORE_BUY, 90, 2);
	CHECK(Submit(e, &r, &res) == CORE_OK);
	CHECK_EQ(res.status, CORE_OPEN);
	EXPECT_LEVEL(e->mkt, CORE_BUY, 0, 90, 3, 2);

	/* a buy at 101 would sweep both asks and rest at a new level: none is
	 * free when it arrives, so it is refused, and nothing has traded */
	Snapshot(e);
	r = Limit(e, 3, CORE_BUY, 101, 3);
	CHECK(Submit(e, &r, &res) == CORE_E_CAPACITY);
	CHECK(Unchanged(e));

	/* an immediate-or-cancel buy at 100 (which needs no level of its own)
	 * fills and frees the level at 100; a sell at 90 then trades with the
	 * older bid first */
	r = Limit(e, 3, CORE_BUY, 100, 1);
	r.tif = CORE_IOC;
	CHECK(Submit(e, &r, &res) == CORE_OK);
	CHECK_EQ(res.status, CORE_FILLED);
	e->ntrades = 0;
	r = Limit(e, 3, CORE_SELL, 90, 2);
	CHECK(Submit(e, &r, &res) == CORE_OK);
	CHECK_EQ(res.status, CORE_FILLED);
	CHECK_EQ(e->ntrades, 2);
	CHECK_EQ(e->trades[0].maker_order, bid);
	EXPECT_LEVEL(e->mkt, CORE_BUY, 0, 90, 1, 1);

	/* with a level free again, the sweep rests its rest at 101 */
	r = Limit(e, 3, CORE_BUY, 101, 3);
	CHECK(Submit(e, &r, &res) == CORE_OK);
	CHECK_EQ(res.status, CORE_PARTIALLY_FILLED);
	CHECK_EQ(res.filled, 1);
	EXPECT_LEVEL(e->mkt, CORE_BUY, 0, 101, 2, 1);
	EXPECT_LEVEL(e->mkt, CORE_BUY, 1, 90, 1, 1);
	CHECK(LevelAt(e, e->mkt, CORE_SELL, 0) == NULL);
	EXPECT_CONSISTENT();
	EnvClose(e);
}

/*
 * Many assets and markets: each is found by its code, symbol and id
 * through the name hashes, names that are not there are not, and a reset
 * forgets them all.
 */
static void
test_many_markets(void)
{
	Env			env,
			   *e = &env;
	CoreConfig	config = default_config;
	char		name[64];
	int			nassets = 60;
	int			nmarkets = 0;

	config.max_assets = 64;
	config.max_markets = 1000;
	EnvOpen(e, &config);
	for (int a = 0; a < nassets; a++)
	{
		snprintf(name, sizeof(name), "A%d", a);
		CHECK(CoreAddAsset(e->core, 100 + a, name, 2, &e->err) == CORE_OK);
	}
	CHECK(CoreAddAsset(e->core, 999, "A7", 2, &e->err) == CORE_E_DUPLICATE);
	for (int b = 0; b < nassets && nmarkets < 1000; b++)
		for (int q = 0; q < nassets && nmarkets < 1000; q++)
		{
			char		base[16],
						quote[16];

			if (b == q)
				continue;
			snprintf(base, sizeof(base), "A%d", b);
			snprintf(quote, sizeof(quote), "A%d", q);
			snprintf(name, sizeof(name), "%s-%s", base, quote);
			CHECK(CoreAddMarket(e->core, 5000 + nmarkets, name, base, quote,
								"0.01", "1", 0, 0, NULL, &e->err) == CORE_OK);
			nmarkets++;
		}
	CHECK_EQ(CoreMarketCount(e->core), 1000);
	CHECK(CoreAddMarket(e->core, 1, "A0-A1", "A0", "A1", "0.01", "1", 0, 0,
						NULL, &e->err) == CORE_E_DUPLICATE);
	CHECK(CoreAddMarket(e->core, 1, "A59-A0", "A59", "A0", "0.01", "1", 0, 0,
						NULL, &e->err) == CORE_E_CAPACITY);
	for (int a = 0; a < nassets; a++)
	{
		snprintf(name, sizeof(name), "A%d", a);
		CHECK_EQ(CoreFindAsset(e->core, name), a);
	}
	for (int i = 0; i < nmarkets; i++)
	{
		const CoreMarket *m = CoreGetMarket(e->core, i);

		CHECK_EQ(CoreFindMarket(e->core, m->symbol), i);
		CHECK_EQ(CoreFindMarketById(e->core, 5000 + i), i);
	}
	CHECK_EQ(CoreFindAsset(e->core, "A60"), CORE_NO_INDEX);
	CHECK_EQ(CoreFindAsset(e->core, ""), CORE_NO_INDEX);
	CHECK_EQ(CoreFindAsset(e->core, NULL), CORE_NO_INDEX);
	CHECK_EQ(CoreFindMarket(e->core, "A0-A0"), CORE_NO_INDEX);
	CHECK_EQ(CoreFindMarket(e->core, "A0-A1x"), CORE_NO_INDEX);
	CHECK_EQ(CoreFindMarket(e->core, "a0-a1"), CORE_NO_INDEX);
	CHECK_EQ(CoreFindMarket(e->core, NULL), CORE_NO_INDEX);
	CHECK_EQ(CoreFindMarketById(e->core, 4999), CORE_NO_INDEX);
	CHECK_EQ(CoreFindMarketById(e->core, 6000), CORE_NO_INDEX);

	CoreReset(e->core);
	CHECK_EQ(CoreFindAsset(e->core, "A0"), CORE_NO_INDEX);
	CHECK_EQ(CoreFindMarket(e->core, "A0-A1"), CORE_NO_INDEX);
	CHECK_EQ(CoreFindMarketById(e->core, 5000), CORE_NO_INDEX);
	CHECK(CoreAddAsset(e->core, 1, "A1", 2, &e->err) == CORE_OK);
	CHECK(CoreAddAsset(e->core, 2, "A0", 2, &e->err) == CORE_OK);
	CHECK(CoreAddMarket(e->core, 7, "A0-A1", "A0", "A1", "0.01", "1", 0, 0,
						NULL, &e->err) == CORE_OK);
	/* a second market with the same id: the first stays the one found */
	CHECK(CoreAddMarket(e->core, 7, "A1-A0", "A1", "A0", "0.01", "1", 0, 0,
						NULL, &e->err) == CORE_OK);
	CHECK_EQ(CoreFindAsset(e->core, "A0"), 1);
	CHECK_EQ(CoreFindMarket(e->core, "A1-A0"), 1);
	CHECK_EQ(CoreFindMarketById(e->core, 7), 0);
	EnvClose(e);
}

/*
 * The expiry scan and CoreForEachOrder stop at the highest slot ever used:
 * an order in that very slot, or in a slot freed and taken again, is still
 * seen, and a reset starts again from the bottom.
 */
static bool
CountOrder(void *arg, const CoreOrder *order)
{
	(void) order;
	(*(int *) arg)++;
	return true;
}

static void
test_expire_high_slots(void)
{
	Env			env,
			   *e = &env;
	CoreOrderRequest r;
	CoreOrder	res;
	int64_t		ids[40];
	int			seen = 0;

	EnvStandard(e, NULL);
	/* 40 resting orders fill slots 0 to 39; the last one expires */
	for (int i = 0; i < 40; i++)
	{
		r = Limit(e, 1 + i % 4, CORE_BUY, 50 + i % 5, 1);
		if (i == 39)
			r.expire_at = 2000;
		ids[i] = r.id;
		CHECK(Submit(e, &r, &res) == CORE_OK);
		CHECK_EQ(res.status, CORE_OPEN);
	}
	CoreForEachOrder(e->core, CountOrder, &seen);
	CHECK_EQ(seen, 40);
	CHECK_EQ(CoreExpire(e->core, 2000, 100, &e->sink), 1);
	CHECK(CoreFindOrder(e->core, ids[39]) == NULL);

	/* cancel the rest; a new order with an expiry takes a freed slot */
	for (int i = 0; i < 39; i++)
		CHECK(CoreCancel(e->core, 1 + i % 4, ids[i], &e->sink, &res,
						 &e->err) == CORE_OK);
	r = Limit(e, 2, CORE_SELL, 120, 1);
	r.expire_at = 3000;
	CHECK(Submit(e, &r, &res) == CORE_OK);
	seen = 0;
	CoreForEachOrder(e->core, CountOrder, &seen);
	CHECK_EQ(seen, 1);
	CHECK_EQ(CoreExpire(e->core, 2999, 100, &e->sink), 0);
	CHECK_EQ(CoreExpire(e->core, 3000, 100, &e->sink), 1);
	CHECK_EQ(CoreOpenOrderCount(e->core), 0);
	EXPECT_CONSISTENT();
	EnvClose(e);
}

/*
 * The expiry search goes through a bitmap of the slots whose order has an
 * expiry.  A burst uses every slot; orders with an expiry then take slots
 * on either side of a word's edge (63 and 64), the highest one (199) and
 * slot 100 (expiring late, so that every search below has work);
 * a slot that held an order with an expiry and was taken again by one
 * without is not expired (its bit was cleared); and the search stops at
 * max and finishes on the next call.  The free list is last in, first
 * out: a cancelled order's slot is the next one taken.
 */
static void
test_expire_slot_bitmap(void)
{
	Env			env,
			   *e = &env;
	CoreConfig	config = default_config;
	CoreOrderRequest r;
	CoreOrder	res;
	int64_t		ids[200];
	int64_t		gtd[3];
	int64_t		plain;
	int64_t		late;

	config.max_orders = 200;
	EnvStandard(e, &config);
	for (int i = 0; i < 200; i++)
	{
		r = Limit(e, 1 + i % 4, CORE_BUY, 50 + i % 5, 1);
		ids[i] = r.id;
		CHECK(Submit(e, &r, &res) == CORE_OK);
		CHECK_EQ(res.status, CORE_OPEN);
	}
	/* slot 100: an order expiring late, so that the search has work */
	CHECK(CoreCancel(e->core, 1, ids[100], &e->sink, &res, &e->err) == CORE_OK);
	r = Limit(e, 3, CORE_BUY, 41, 1);
	r.expire_at = 5000;
	late = r.id;
	CHECK(Submit(e, &r, &res) == CORE_OK);
	/* slot 199: an order with an expiry, cancelled, its slot taken again */
	CHECK(CoreCancel(e->core, 4, ids[199], &e->sink, &res, &e->err) == CORE_OK);
	r = Limit(e, 1, CORE_BUY, 40, 1);
	r.expire_at = 2000;
	CHECK(Submit(e, &r, &res) == CORE_OK);
	CHECK(CoreCancel(e->core, 1, r.id, &e->sink, &res, &e->err) == CORE_OK);
	r = Limit(e, 1, CORE_BUY, 40, 1);
	plain = r.id;
	CHECK(Submit(e, &r, &res) == CORE_OK);
	CHECK_EQ(CoreExpire(e->core, 2000, 100, &e->sink), 0);
	CHECK(CoreFindOrder(e->core, plain) != NULL);
	/* slots 64, 63 and 199 (in the order taken) with expiries */
	CHECK(CoreCancel(e->core, 1, ids[64], &e->sink, &res, &e->err) == CORE_OK);
	CHECK(CoreCancel(e->core, 4, ids[63], &e->sink, &res, &e->err) == CORE_OK);
	CHECK(CoreCancel(e->core, 1, plain, &e->sink, &res, &e->err) == CORE_OK);
	for (int k = 0; k < 3; k++)
	{
		r = Limit(e, 2, CORE_BUY, 45, 1);
		r.expire_at = 3000 + k;
		gtd[k] = r.id;
		CHECK(Submit(e, &r, &res) == CORE_OK);
	}
	/* the rest of the burst leaves: the search still reaches slot 199 */
	for (int i = 0; i < 199; i++)
		if (i != 63 && i != 64 && i != 100)
			CHECK(CoreCancel(e->core, 1 + i % 4, ids[i], &e->sink, &res,
							 &e->err) == CORE_OK);
	CHECK_EQ(CoreOpenOrderCount(e->core), 4);
	CHECK_EQ(CoreExpire(e->core, 2999, 100, &e->sink), 0);
	CHECK_EQ(CoreExpire(e->core, 3001, 1, &e->sink), 1);
	CHECK_EQ(CoreExpire(e->core, 3001, 1, &e->sink), 1);
	CHECK_EQ(CoreExpire(e->core, 3001, 1, &e->sink), 0);
	CHECK(CoreFindOrder(e->core, gtd[0]) == NULL);
	CHECK(CoreFindOrder(e->core, gtd[1]) == NULL);
	CHECK(CoreFindOrder(e->core, gtd[2]) != NULL);
	CHECK_EQ(CoreExpire(e->core, 4999, 100, &e->sink), 1);
	CHECK(CoreFindOrder(e->core, late) != NULL);
	CHECK_EQ(CoreExpire(e->core, 5000, 100, &e->sink), 1);
	CHECK_EQ(CoreOpenOrderCount(e->core), 0);
	EXPECT_CONSISTENT();
	EnvClose(e);
}

/*
 * Check a side's level tree below i: parents, and priorities falling
 * from parent to child; appends its levels in order to seq.  Returns its
 * height, or -1 after a problem.
 */
static int
TreeCheck(Env *e, int32_t i, int32_t parent, int32_t *seq, int32_t *n,
		  int32_t max)
{
	const CoreLevel *l;
	int			hl,
				hr;

	if (i == CORE_NO_INDEX)
		return 0;
	l = CoreGetLevel(e->core, i);
	if (l == NULL || l->tree_parent != parent)
		return -1;
	hl = TreeCheck(e, l->tree_left, i, seq, n, max);
	if (hl < 0 || *n >= max)
		return -1;
	seq[(*n)++] = i;
	hr = TreeCheck(e, l->tree_right, i, seq, n, max);
	if (hr < 0 ||
		(l->tree_left != CORE_NO_INDEX &&
		 CoreLevelPriority(CoreGetLevel(e->core, l->tree_left), l->tree_left) >
		 CoreLevelPriority(l, i)) ||
		(l->tree_right != CORE_NO_INDEX &&
		 CoreLevelPriority(CoreGetLevel(e->core, l->tree_right), l->tree_right) >
		 CoreLevelPriority(l, i)))
		return -1;
	return (hl > hr ? hl : hr) + 1;
}

/*
 * A side's tree, when it has one, holds exactly its list, in its order,
 * as a treap; a side has one past 64 levels and none below 32.  Returns
 * whether it has one.
 */
static bool
ExpectTree(Env *e, int32_t market, CoreSide side, int line)
{
	const CoreMarket *m = CoreGetMarket(e->core, market);
	int32_t		root = m->tree[side];
	static int32_t seq[8192];
	int32_t		n = 0;
	int32_t		l = m->best[side];
	int			bad = 0;

	if (root == CORE_NO_TREE)
	{
		if (m->nlevels[side] > 64)
		{
			test_checks_failed++;
			printf("  line %d: side %d of %d levels has no tree\n", line,
				   (int) side, m->nlevels[side]);
		}
		return false;
	}
	if (m->nlevels[side] < 32 ||
		TreeCheck(e, root, CORE_NO_INDEX, seq, &n, 8192) < 0 ||
		n != m->nlevels[side])
		bad++;
	for (int32_t k = 0; !bad && k < n; k++, l = CoreGetLevel(e->core, l)->worse)
		if (seq[k] != l)
			bad++;
	if (bad)
	{
		test_checks_failed++;
		printf("  line %d: side %d's tree is broken (%d levels, %d in order)\n",
			   line, (int) side, m->nlevels[side], n);
	}
	return true;
}

/*
 * The side's levels are in strict price order, linked both ways, with its
 * best and worst at the ends, and hold exactly the prices expected.
 */
static void
ExpectSide(Env *e, CoreSide side, const bool *expected, int64_t lo, int64_t hi,
		   int line)
{
	int32_t		l = CoreBestLevel(e->core, e->mkt, side);
	int32_t		prev = CORE_NO_INDEX;
	int64_t		n = 0,
				want = 0;
	int			bad = 0;

	for (int64_t p = lo; p <= hi; p++)
		want += expected[p - lo];
	for (; l != CORE_NO_INDEX; l = CoreGetLevel(e->core, l)->worse)
	{
		const CoreLevel *lv = CoreGetLevel(e->core, l);

		if (lv->better != prev)
			bad++;
		if (prev != CORE_NO_INDEX &&
			(side == CORE_BUY ? lv->price >= CoreGetLevel(e->core, prev)->price :
			 lv->price <= CoreGetLevel(e->core, prev)->price))
			bad++;
		if (lv->price < lo || lv->price > hi || !expected[lv->price - lo])
			bad++;
		prev = l;
		n++;
	}
	if (n != want)
		bad++;
	ExpectTree(e, e->mkt, side, line);
	if (bad)
	{
		test_checks_failed++;
		printf("  line %d: side %d out of order or incomplete (%d problems, %lld of %lld levels)\n",
			   line, (int) side, bad, (long long) n, (long long) want);
	}
}

/*
 * New levels are linked into their side in price order wherever they fall:
 * next to a level a few ticks away (found through the hash), behind the
 * whole side, or, with no level near, after a walk from the best end.
 * Dense and sparse prices, in random order, with levels emptied between.
 */
static void
test_level_order(void)
{
	Env			env,
			   *e = &env;
	CoreConfig	config = default_config;
	enum {SPAN = 3000};
	static bool bids[SPAN + 1],
				asks[SPAN + 1];
	static int64_t bid_ids[SPAN + 1],
				ask_ids[SPAN + 1];
	uint64_t	x = 88172645463325252ULL;

	config.max_orders = 4096;
	config.max_levels = 4096;
	EnvStandard(e, &config);
	memset(bids, 0, sizeof(bids));
	memset(asks, 0, sizeof(asks));
	for (int round = 0; round < 4; round++)
		for (int i = 0; i < 1500; i++)
		{
			/*
			 * gaps of 1 to 3 ticks, then of up to 200 and up to 1,000
			 * (beyond the probe: walks from either end)
			 */
			int64_t		step = round == 1 ? 1 + (int64_t) (x % 200) :
				round == 3 ? 1 + (int64_t) (x % 1000) : 1 + (int64_t) (x % 3);
			int64_t		off;
			CoreOrderRequest r;
			CoreOrder	res;

			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			off = (int64_t) (x % SPAN) / step * step;
			if (x & 1)
			{
				/* bids from 1 to SPAN, asks from SPAN + 1 up: never crossing */
				int64_t		p = 1 + off;

				if (bids[p - 1])
				{
					CHECK(CoreCancel(e->core, 1, bid_ids[p - 1], NULL, &res, &e->err) == CORE_OK);
					bids[p - 1] = false;
					continue;
				}
				r = Limit(e, 1, CORE_BUY, p, 1);
				bid_ids[p - 1] = r.id;
				bids[p - 1] = true;
			}
			else
			{
				int64_t		p = SPAN + 1 + off;

				if (asks[off])
				{
					CHECK(CoreCancel(e->core, 2, ask_ids[off], NULL, &res, &e->err) == CORE_OK);
					asks[off] = false;
					continue;
				}
				r = Limit(e, 2, CORE_SELL, p, 1);
				ask_ids[off] = r.id;
				asks[off] = true;
			}
			CHECK(Submit(e, &r, &res) == CORE_OK);
			CHECK_EQ(res.status, CORE_OPEN);
			if (i % 100 == 0)
			{
				ExpectSide(e, CORE_BUY, bids, 1, SPAN, __LINE__);
				ExpectSide(e, CORE_SELL, asks, SPAN + 1, 2 * SPAN, __LINE__);
			}
		}
	ExpectSide(e, CORE_BUY, bids, 1, SPAN, __LINE__);
	ExpectSide(e, CORE_SELL, asks, SPAN + 1, 2 * SPAN, __LINE__);
	EXPECT_CONSISTENT();
	EnvClose(e);
}

/*
 * A side of more than 64 levels keeps them in a tree as well, and drops
 * it below 32: sparse levels placed far from any other at random depths,
 * a side that grows and shrinks across both bounds again and again, and
 * levels emptied from every part of the tree, checked after every step.
 */
static void
LevelTreeRun(uint64_t seed)
{
	Env			env,
			   *e = &env;
	CoreConfig	config = default_config;
	enum {SLOTS = 600};
	static int64_t ids[SLOTS];
	static bool used[SLOTS];
	uint64_t	x = 2463534242ULL;
	int			builds = 0,
				drops = 0,
				max_levels = 0;
	bool		had = false;

	config.max_orders = 2048;
	config.max_levels = 2048;
	EnvStandard(e, &config);
	CoreSeedLevels(e->core, seed);
	memset(used, 0, sizeof(used));
	CHECK(CoreDeposit(e->core, 1, e->usd, INT64_C(1) << 40, &e->err) == CORE_OK);
	for (int step = 0; step < 36000; step++)
	{
		int			k;
		int			n = CoreGetMarket(e->core, e->mkt)->nlevels[CORE_BUY];
		CoreOrder	res;
		bool		has;

		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		k = (int) (x % SLOTS);
		/*
		 * grow in the first half of each 6,000 steps (to about 400
		 * levels), shrink in the second (to about 10): across 64 and 32
		 * levels six times each way
		 */
		if (used[k] && ((step / 3000) % 2 == 1 || (x >> 32) % 4 == 0 || n > 400))
		{
			CHECK(CoreCancel(e->core, 1, ids[k], NULL, &res, &e->err) == CORE_OK);
			used[k] = false;
		}
		else if (!used[k] && ((step / 3000) % 2 == 0 || (x >> 32) % 64 == 0))
		{
			/* 1,000 ticks apart: beyond the probe, placed through the tree */
			CoreOrderRequest r = Limit(e, 1, CORE_BUY, 1000 + 1000 * (int64_t) k, 1);

			ids[k] = r.id;
			used[k] = true;
			CHECK(Submit(e, &r, &res) == CORE_OK);
			CHECK_EQ(res.status, CORE_OPEN);
		}
		has = ExpectTree(e, e->mkt, CORE_BUY, __LINE__);
		builds += has && !had;
		drops += had && !has;
		had = has;
		n = CoreGetMarket(e->core, e->mkt)->nlevels[CORE_BUY];
		if (n > max_levels)
			max_levels = n;
	}
	{
		static bool want[SLOTS * 1000 + 1000];

		memset(want, 0, sizeof(want));
		for (int k = 0; k < SLOTS; k++)
			want[1000 + 1000 * k - 1000] = used[k];
		ExpectSide(e, CORE_BUY, want, 1000, SLOTS * 1000 + 999, __LINE__);
	}
	CHECK(builds >= 5);
	CHECK(drops >= 5);
	CHECK(max_levels > 300);
	EXPECT_CONSISTENT();
	EnvClose(e);
}

static void
test_level_tree(void)
{
	/* the fixed sequence, and a seeded one (as the server seeds it) */
	LevelTreeRun(0);
	LevelTreeRun(UINT64_C(0x5eed5eed12345678));
}

/*
 * An order slot keeps its market in 16 bits, its flags in bit-fields, and
 * a market order's quote limit in the word of a limit order's expiry: the
 * core holds CORE_MAX_MARKETS markets and no more, and every value of
 * every field comes back as it was placed, on the last market too.
 */
static void
test_order_slot_fields(void)
{
	Env			env,
			   *e = &env;
	CoreConfig	config = default_config;
	CoreOrderRequest r;
	CoreOrder	res;
	const CoreOrder *o;
	char		name[64];
	int			nassets = 300;
	int			nmarkets = 0;
	int32_t		last;
	int64_t		buy_id,
				sell_id;

	config.max_assets = nassets;
	config.max_markets = CORE_MAX_MARKETS + 1;
	EnvOpen(e, &config);
	for (int a = 0; a < nassets; a++)
	{
		snprintf(name, sizeof(name), "A%d", a);
		CHECK(CoreAddAsset(e->core, 1 + a, name, 2, &e->err) == CORE_OK);
	}
	for (int b = 0; b < nassets && nmarkets <= CORE_MAX_MARKETS; b++)
		for (int q = 0; q < nassets && nmarkets <= CORE_MAX_MARKETS; q++)
		{
			char		base[16],
						quote[16];
			CoreErrorCode rc;

			if (b == q)
				continue;
			snprintf(base, sizeof(base), "A%d", b);
			snprintf(quote, sizeof(quote), "A%d", q);
			snprintf(name, sizeof(name), "%s-%s", base, quote);
			rc = CoreAddMarket(e->core, 1 + nmarkets, name, base, quote,
							   "0.01", "1", 0, 0, NULL, &e->err);
			if (nmarkets < CORE_MAX_MARKETS)
				CHECK(rc == CORE_OK);
			else
			{
				CHECK(rc == CORE_E_CAPACITY);
				CHECK(strstr(e->err.message, "65536") != NULL);
			}
			nmarkets++;
		}
	CHECK_EQ(CoreMarketCount(e->core), CORE_MAX_MARKETS);
	last = CORE_MAX_MARKETS - 1;
	CHECK_EQ(CoreFindMarketById(e->core, CORE_MAX_MARKETS), last);

	{
		const CoreMarket *m = CoreGetMarket(e->core, last);

		for (int64_t a = 1; a <= 2; a++)
		{
			CHECK(CoreAddAccount(e->core, a, &e->err) == CORE_OK);
			CHECK(CoreDeposit(e->core, a, m->base, FUNDS, &e->err) == CORE_OK);
			CHECK(CoreDeposit(e->core, a, m->quote, FUNDS, &e->err) ==
				  CORE_OK);
		}
	}

	/* every flag at its largest value, on the last market */
	r = Limit(e, 1, CORE_SELL, 200, 3);
	r.market = last;
	r.stp = CORE_STP_CANCEL_BOTH;
	r.post_only = true;
	r.expire_at = INT64_MAX;
	sell_id = r.id;
	CHECK(Submit(e, &r, &res) == CORE_OK);
	o = CoreFindOrder(e->core, sell_id);
	CHECK(o != NULL);
	CHECK_EQ(o->market, last);
	CHECK_EQ(o->side, CORE_SELL);
	CHECK_EQ(o->type, CORE_LIMIT);
	CHECK_EQ(o->tif, CORE_GTC);
	CHECK_EQ(o->stp, CORE_STP_CANCEL_BOTH);
	CHECK(o->post_only);
	CHECK_EQ(o->status, CORE_OPEN);
	CHECK_EQ(CoreOrderExpireAt(o), INT64_MAX);
	CHECK_EQ(CoreOrderQuoteLimit(o), 0);
	CHECK_EQ(LevelCount(e, last, CORE_SELL), 1);

	/* the smallest values, and a fill-or-kill that trades */
	r = Limit(e, 2, CORE_BUY, 200, 1);
	r.market = last;
	r.tif = CORE_FOK;
	buy_id = r.id;
	CHECK(Submit(e, &r, &res) == CORE_OK);
	CHECK_EQ(res.market, last);
	CHECK_EQ(res.side, CORE_BUY);
	CHECK_EQ(res.tif, CORE_FOK);
	CHECK_EQ(res.stp, CORE_STP_CANCEL_TAKER);
	CHECK(!res.post_only);
	CHECK_EQ(res.status, CORE_FILLED);
	CHECK_EQ(CoreOrderExpireAt(&res), 0);
	CHECK_EQ(e->ntrades, 1);
	CHECK(CoreFindOrder(e->core, buy_id) == NULL);
	CHECK_EQ(CoreFindOrder(e->core, sell_id)->status, CORE_PARTIALLY_FILLED);
	CHECK_EQ(CoreOrderExpireAt(CoreFindOrder(e->core, sell_id)), INT64_MAX);

	/* a market buy by quote amount: its limit, and no expiry */
	r = Market(e, 2, CORE_BUY, 0);
	r.market = last;
	r.tif = CORE_IOC;
	r.stp = CORE_STP_CANCEL_MAKER;
	r.quote_limit = 450;
	CHECK(Submit(e, &r, &res) == CORE_OK);
	CHECK_EQ(res.type, CORE_MARKET);
	CHECK_EQ(res.tif, CORE_IOC);
	CHECK_EQ(res.stp, CORE_STP_CANCEL_MAKER);
	CHECK_EQ(CoreOrderQuoteLimit(&res), 450);
	CHECK_EQ(CoreOrderExpireAt(&res), 0);
	CHECK_EQ(res.filled, 2);
	CHECK(CoreFindOrder(e->core, sell_id) == NULL);
	CHECK_EQ(LevelCount(e, last, CORE_SELL), 0);
	for (int k = 0; k < 2; k++)
	{
		const CoreMarket *m = CoreGetMarket(e->core, last);
		int32_t		asset = k == 0 ? m->base : m->quote;

		CHECK_EQ(Locked(e, 1, asset), 0);
		CHECK_EQ(Locked(e, 2, asset), 0);
		CHECK_EQ(AssetSum(e, asset), 2 * FUNDS);
		CHECK_EQ(CoreGetAsset(e->core, asset)->total, 2 * FUNDS);
	}
	EnvClose(e);
}

int
main(void)
{
	RUN_TEST(test_assets);
	RUN_TEST(test_markets);
	RUN_TEST(test_accounts);
	RUN_TEST(test_deposits);
	RUN_TEST(test_limit_rest_and_match);
	RUN_TEST(test_price_time_priority);
	RUN_TEST(test_ioc);
	RUN_TEST(test_fok);
	RUN_TEST(test_post_only);
	RUN_TEST(test_market_orders);
	RUN_TEST(test_stp);
	RUN_TEST(test_fees);
	RUN_TEST(test_cancel);
	RUN_TEST(test_amend);
	RUN_TEST(test_cancel_all);
	RUN_TEST(test_expire);
	RUN_TEST(test_validation);
	RUN_TEST(test_insufficient);
	RUN_TEST(test_capacity);
	RUN_TEST(test_restore);
	RUN_TEST(test_walk_dirty_reset);
	RUN_TEST(test_prefetch_hints);
	RUN_TEST(test_rest_after_trades);
	RUN_TEST(test_many_markets);
	RUN_TEST(test_expire_high_slots);
	RUN_TEST(test_expire_slot_bitmap);
	RUN_TEST(test_level_order);
	RUN_TEST(test_order_slot_fields);
	RUN_TEST(test_level_tree);
	return TestSummary();
}
