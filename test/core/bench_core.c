/*
 * Microbenchmark of the matching core on one market, with a mix close to
 * what an exchange sees: about 80% new limit orders a few ticks behind the
 * touch, 15% cancels of resting orders, 5% marketable orders (market or
 * immediate-or-cancel limit orders that sweep part of the book).  The size
 * of marketable orders is chosen so the book neither drains nor grows
 * without bound.
 *
 * Timed by the CPU time the process used, so that other work on a shared
 * machine does not distort the figures (the wall time is printed too).
 * Also reports the shared-memory cost of one more open order of capacity:
 * (CoreSize with 2N orders - CoreSize with N orders) / N.
 *
 * Usage: bench_core [operations [seed]]
 */
#include "core.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NACCOUNTS	1000
#define MAX_ORDERS	(1 << 19)
#define MID_PRICE	30000		/* 30000 USD in 1 USD ticks */

/* The resting orders the benchmark may cancel, by id. */
typedef struct Live
{
	int64_t    *ids;			/* live ids, in no order */
	int32_t    *pos;			/* index in ids by order id, or -1 */
	int32_t		n;
	int64_t		trades;
} Live;

static uint64_t rng = 0x853c49e6748fea9bULL;

/* xorshift64*: cheap enough not to show in the figures. */
static inline uint64_t
Rand(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dULL;
}

/* Uniform in [lo, hi]. */
static inline int64_t
RandRange(int64_t lo, int64_t hi)
{
	return lo + (int64_t) (Rand() % (uint64_t) (hi - lo + 1));
}

/* Remember a resting order. */
static void
LiveAdd(Live *live, int64_t id)
{
	live->pos[id] = live->n;
	live->ids[live->n++] = id;
}

/* Forget an order that left the book. */
static void
LiveRemove(Live *live, int64_t id)
{
	int32_t		i = live->pos[id];
	int64_t		last = live->ids[--live->n];

	live->ids[i] = last;
	live->pos[last] = i;
	live->pos[id] = -1;
}

/* Sink: forget orders that left the book. */
static void
SinkOrder(void *arg, const CoreOrder *o)
{
	Live	   *live = arg;

	if (o->status != CORE_OPEN && o->status != CORE_PARTIALLY_FILLED &&
		live->pos[o->id] >= 0)
		LiveRemove(live, o->id);
}

/* Sink: count trades. */
static void
SinkTrade(void *arg, const CoreTrade *t)
{
	Live	   *live = arg;

	(void) t;
	live->trades++;
}

/* Seconds on a clock: wall time, or the CPU time this process used. */
static double
Now(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Best price of a side, or a default around the mid when it is empty. */
static int64_t
Touch(const Core *core, CoreSide side)
{
	int32_t		l = CoreBestLevel(core, 0, side);

	if (l == CORE_NO_INDEX)
		return side == CORE_BUY ? MID_PRICE - 1 : MID_PRICE + 1;
	return CoreGetLevel(core, l)->price;
}

/* One operation of the mix; returns false on an unexpected error. */
static bool
Step(Core *core, Live *live, const CoreSink *sink, int64_t *next_order_id,
	 int64_t *next_trade_id, int64_t now)
{
	uint64_t	pick = Rand() % 100;
	CoreOrderRequest r;
	CoreOrder	res;
	CoreError	err;
	CoreErrorCode rc;

	if (pick >= 80 && pick < 95 && live->n > 0)
	{
		int64_t		id = live->ids[Rand() % (uint64_t) live->n];
		const CoreOrder *o = CoreFindOrder(core, id);

		rc = CoreCancel(core, o->account, id, sink, &res, &err);
		if (rc != CORE_OK)
		{
			fprintf(stderr, "cancel failed: %s\n", err.message);
			return false;
		}
		return true;
	}

	memset(&r, 0, sizeof(r));
	r.id = (*next_order_id)++;
	r.account = RandRange(1, NACCOUNTS);
	r.market = 0;
	r.side = (CoreSide) (Rand() & 1);
	r.stp = CORE_STP_CANCEL_MAKER;
	r.now = now;
	if (pick < 95)
	{
		/* a new order 1 to 20 ticks behind the opposite touch */
		r.type = CORE_LIMIT;
		r.tif = CORE_GTC;
		r.quantity = RandRange(1, 10);
		if (r.side == CORE_BUY)
			r.price = Touch(core, CORE_SELL) - RandRange(1, 20);
		else
			r.price = Touch(core, CORE_BUY) + RandRange(1, 20);
	}
	else
	{
		/* marketable: sweeps about 13 resting orders' worth of lots */
		r.quantity = RandRange(40, 105);
		if (Rand() & 1)
			r.type = CORE_MARKET;
		else
		{
			r.type = CORE_LIMIT;
			r.tif = CORE_IOC;
			r.price = r.side == CORE_BUY ? Touch(core, CORE_SELL) + 10 :
				Touch(core, CORE_BUY) - 10;
		}
	}
	rc = CorePlace(core, &r, sink, next_trade_id, &res, &err);
	if (rc != CORE_OK)
	{
		fprintf(stderr, "order failed: %s\n", err.message);
		return false;
	}
	if (res.status == CORE_OPEN || res.status == CORE_PARTIALLY_FILLED)
		LiveAdd(live, r.id);
	return true;
}

/* Set up one market, warm up, then time the mix. */
int
main(int argc, char **argv)
{
	int64_t		ops = argc > 1 ? strtoll(argv[1], NULL, 10) : 4000000;
	int64_t		warm = ops / 10;
	CoreConfig	config = {
		.max_assets = 4,
		.max_markets = 4,
		.max_accounts = NACCOUNTS + 1,
		.max_balances = 2 * NACCOUNTS + 2,
		.max_orders = MAX_ORDERS,
		.max_levels = 1 << 16,
	};
	CoreConfig	half = config;
	CoreConfig	twice = config;
	Core	   *core;
	void	   *region;
	CoreError	err;
	Live		live;
	CoreSink	sink = {SinkOrder, SinkTrade, &live};
	int64_t		next_order_id = 1;
	int64_t		next_trade_id = 1;
	double		start;
	double		start_wall;
	double		secs;
	double		wall;
	double		bytes_per_order;

	if (argc > 2)
		rng = strtoull(argv[2], NULL, 10) * 0x9e3779b97f4a7c15ULL | 1;
	region = malloc(CoreSize(&config));
	core = CoreInit(region, &config);
	if (CoreAddAsset(core, 1, "BTC", 8, &err) != CORE_OK ||
		CoreAddAsset(core, 2, "USD", 2, &err) != CORE_OK ||
		CoreAddMarket(core, 1, "BTC-USD", "BTC", "USD", "1", "0.01",
					  10, 20, NULL, &err) != CORE_OK)
	{
		fprintf(stderr, "set-up failed: %s\n", err.message);
		return 1;
	}
	for (int64_t a = 1; a <= NACCOUNTS; a++)
		if (CoreAddAccount(core, a, &err) != CORE_OK ||
			CoreDeposit(core, a, 0, INT64_C(1000000000000000), &err) != CORE_OK ||
			CoreDeposit(core, a, 1, INT64_C(1000000000000000), &err) != CORE_OK)
		{
			fprintf(stderr, "set-up failed: %s\n", err.message);
			return 1;
		}

	live.ids = malloc(sizeof(int64_t) * MAX_ORDERS);
	live.pos = malloc(sizeof(int32_t) * (size_t) (ops + warm + 2));
	memset(live.pos, 0xff, sizeof(int32_t) * (size_t) (ops + warm + 2));
	live.n = 0;
	live.trades = 0;

	for (int64_t i = 0; i < warm; i++)
		if (!Step(core, &live, &sink, &next_order_id, &next_trade_id, i))
			return 1;
	live.trades = 0;
	start = Now(CLOCK_PROCESS_CPUTIME_ID);
	start_wall = Now(CLOCK_MONOTONIC);
	for (int64_t i = 0; i < ops; i++)
	{
		if (!Step(core, &live, &sink, &next_order_id, &next_trade_id, i))
			return 1;
		if (i % 100 == 99)
			CoreClearDirty(core);	/* as the engine does after each batch */
	}
	secs = Now(CLOCK_PROCESS_CPUTIME_ID) - start;
	wall = Now(CLOCK_MONOTONIC) - start_wall;

	half.max_orders = 1 << 20;
	twice.max_orders = 2 << 20;
	bytes_per_order = (double) (CoreSize(&twice) - CoreSize(&half)) /
		half.max_orders;

	/* CPU time, not wall time: the machine may be busy with other work */
	printf("core-bench: %" PRId64 " operations, %" PRId64 " trades, "
		   "%d open orders at the end, %.3f s CPU (%.3f s wall)\n",
		   ops, live.trades, CoreOpenOrderCount(core), secs, wall);
	printf("core-bench: orders_per_s=%.0f ns_per_order=%.1f bytes_per_order=%.0f\n",
		   ops / secs, secs * 1e9 / ops, bytes_per_order);
	free(live.ids);
	free(live.pos);
	free(region);
	return 0;
}
