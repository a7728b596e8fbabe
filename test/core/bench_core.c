/*
 * Microbenchmark of the matching core on one market, with a mix close to
 * what an exchange sees: about 80% new limit orders 1 to 20 ticks behind
 * the opposite touch, 15% cancels of resting orders picked at random, 5%
 * marketable orders (market or immediate-or-cancel limit orders that sweep
 * part of the book).
 *
 * The book is held near a number of open orders (50,000 unless told): it
 * is filled to that size before the run, and the size of each marketable
 * order leans against any drift, so that every operation sees the same
 * book however long the run (a book that grows during the run makes the
 * figures depend on its length).
 *
 * The accounts (1,000) trade at random; every 100 operations the changed
 * balances are read out and cleared, as the engine does after a batch.
 * The resulting book: about 80 levels, 0.69 trades per operation, 2
 * balance rows written back per operation.
 *
 * Only the core is measured as far as possible: no I/O and no allocation
 * inside the timed loop, and the harness keeps what it needs to cancel (id
 * and account of every resting order) in its own arrays rather than asking
 * the core.  The harness still costs about a fifth of the instructions.
 *
 * Operations are drawn two ahead of their turn, and the core is told what
 * the next two will touch (CorePrefetchOrderId and the others, core.h), as
 * the engine does with the requests of its batch (ApplyHint).
 *
 * Each of the repeats runs the very same operations on a fresh core and the
 * fastest is reported, timed by the CPU time the process used, so that
 * other work on a shared machine distorts the figures as little as
 * possible.  For a noise-free comparison, test/core/bench_core.sh runs a
 * shorter run under callgrind, counting instructions inside BenchTimed
 * only.
 *
 * Also reports the shared-memory cost of one more open order of capacity:
 * the largest (CoreSize with B orders - CoreSize with A orders) / (B - A)
 * over a few capacities, the PostgreSQL benchmark's pair among them.
 *
 * Usage: bench_core [operations [seed [repeats [book]]]]
 */
#include "core.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NACCOUNTS	1000
#define MAX_ORDERS	(1 << 19)
#define BOOK_TARGET	50000		/* default open orders to hold the book near */
#define MID_PRICE	30000		/* 30000 USD in 1 USD ticks */
#define ACCOUNT_BITS 16			/* enough for NACCOUNTS */

/*
 * The resting orders the benchmark may cancel: ids and accounts (packed in
 * one word, so that a pick touches one cache line) of orders that rested,
 * some of which have left the book since, as the gone bitmap says.  Those
 * are dropped when picked, and all at once when they are half of the
 * array, so that the sink only sets a bit (a small bitmap, not an index
 * per order id, which would take more cache than the core itself).  The
 * next draw's first pick is drawn in advance and loaded while other
 * operations run: the harness's own cache misses are not the core's.
 */
typedef struct Live
{
	uint64_t   *entries;		/* id << ACCOUNT_BITS | account */
	uint64_t   *gone;			/* bit per order id: left the book */
	int32_t		n;				/* how many entries */
	int32_t		ngone;			/* how many of them are gone */
	int32_t		open;			/* resting orders */
	int32_t		next;			/* index the next draw tries first */
	int64_t		placing;		/* id of the order being placed */
	int64_t		trades;
} Live;

/*
 * An operation drawn ahead of its turn: what it is (pick, 0..99), the
 * account of a new order, the resting order a cancel takes (an entry, 0
 * when none was drawn).  The engine knows the requests of its batch before
 * it runs them, and tells the core what the next ones will touch
 * (CorePrefetchAccount, CorePrefetchOrderId, CorePrefetchOrder); the
 * harness does the same with the two operations after the current one.
 */
typedef struct Op
{
	uint32_t	pick;
	int64_t		account;
	uint64_t	cancel;
	int32_t		cancel_at;		/* where the entry was when drawn */
} Op;

#define AHEAD		2			/* operations drawn ahead */

/* Everything one run needs. */
typedef struct Bench
{
	Core	   *core;
	Live		live;
	CoreSink	sink;
	int64_t		next_order_id;
	int64_t		next_trade_id;
	int64_t		now;
	int32_t		book;			/* open orders to hold the book near */
	CoreBalanceRow *rows;		/* balances to write back, per batch */
	int64_t		rows_written;
	Op			ahead[AHEAD];	/* the next operations, in order */
} Bench;

extern void BenchTimed(Bench *b, int64_t ops);

static uint64_t rng;

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

static inline int64_t
LiveId(uint64_t entry)
{
	return (int64_t) (entry >> ACCOUNT_BITS);
}

static inline bool
LiveGone(const Live *live, int64_t id)
{
	return (live->gone[id >> 6] >> (id & 63)) & 1;
}

/* Remember a resting order. */
static inline void
LiveAdd(Live *live, int64_t id, int64_t account)
{
	live->entries[live->n++] = (uint64_t) id << ACCOUNT_BITS |
		(uint64_t) account;
	live->open++;
}

/* Drop entry i, which must be gone. */
static inline void
LiveDrop(Live *live, int32_t i)
{
	live->n--;
	live->entries[i] = live->entries[live->n];
	live->ngone--;
}

/* Drop every gone entry. */
static void
LiveCompact(Live *live)
{
	int32_t		n = 0;

	for (int32_t i = 0; i < live->n; i++)
		if (!LiveGone(live, LiveId(live->entries[i])))
			live->entries[n++] = live->entries[i];
	live->n = n;
	live->ngone = 0;
}

/* Sink: note resting orders that left the book. */
static void
SinkOrder(void *arg, const CoreOrder *o)
{
	Live	   *live = arg;

	if (o->status != CORE_OPEN && o->status != CORE_PARTIALLY_FILLED &&
		o->id != live->placing)
	{
		live->gone[o->id >> 6] |= UINT64_C(1) << (o->id & 63);
		live->ngone++;
		live->open--;
	}
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
static inline int64_t
Touch(const Core *core, CoreSide side)
{
	int32_t		l = CoreBestLevel(core, 0, side);

	if (l == CORE_NO_INDEX)
		return side == CORE_BUY ? MID_PRICE - 1 : MID_PRICE + 1;
	return CoreGetLevel(core, l)->price;
}

/* True when an operation drawn as pick is a cancel. */
static inline bool
IsCancel(uint32_t pick)
{
	return pick >= 80 && pick < 95;
}

/*
 * A resting order to cancel, uniform over those still on the book (gone
 * entries met on the way are dropped); 0 when none rests.  The first index
 * tried is drawn the draw before, and its entry loaded since (and its gone
 * bit: Next): the harness's own cache misses are not the core's.
 */
static uint64_t
DrawCancel(Live *live, int32_t *at)
{
	int32_t		i = live->next;
	uint64_t	e = 0;

	if (live->open == 0)
		return 0;
	for (;;)
	{
		if (i >= live->n)
			i = (int32_t) (Rand() % (uint64_t) live->n);
		e = live->entries[i];
		if (!LiveGone(live, LiveId(e)))
			break;
		LiveDrop(live, i);
		i = live->n;
	}
	*at = i;
	live->next = (int32_t) (Rand() % (uint64_t) live->n);
	__builtin_prefetch(&live->entries[live->next]);
	return e;
}

/* Draw the operation after those already drawn. */
static inline void
Draw(Bench *b, Op *op)
{
	op->pick = (uint32_t) (Rand() % 100);
	op->account = RandRange(1, NACCOUNTS);
	op->cancel = IsCancel(op->pick) ? DrawCancel(&b->live, &op->cancel_at) : 0;
}

/*
 * Tell the core what the next two operations will touch, as the engine
 * does for the next requests of its batch: the one after next, the hash
 * buckets of its order or of its account; the next, its order's slot or
 * the new order's account entry and balances (their buckets are in by
 * now).
 */
static inline void
Hint(const Bench *b)
{
	const Op   *next = &b->ahead[0];
	const Op   *after = &b->ahead[1];

	if (after->cancel != 0)
		CorePrefetchOrderId(b->core, LiveId(after->cancel));
	else if (!IsCancel(after->pick))
		CorePrefetchAccountId(b->core, after->account, 0);
	if (next->cancel != 0)
		CorePrefetchOrder(b->core, LiveId(next->cancel));
	else if (!IsCancel(next->pick))
		CorePrefetchAccount(b->core, next->account, 0);
}

/* Cancel the resting order of entry e. */
static inline bool
Cancel(Bench *b, uint64_t e)
{
	CoreOrder	res;
	CoreError	err;

	if (CoreCancel(b->core, (int64_t) (e & ((UINT64_C(1) << ACCOUNT_BITS) - 1)),
				   LiveId(e), &b->sink, &res, &err) != CORE_OK)
	{
		fprintf(stderr, "cancel failed: %s\n", err.message);
		return false;
	}
	return true;
}

/*
 * One operation: a cancel, a new limit order near the touch, or a
 * marketable order, as op->pick (0..99) says.  A cancel whose order left
 * the book since it was drawn takes another one; a cancel with no order
 * resting places a new order instead.  Returns false on an unexpected
 * error.
 */
static inline bool
Step(Bench *b, const Op *op)
{
	Core	   *core = b->core;
	Live	   *live = &b->live;
	CoreOrderRequest r;
	CoreOrder	res;
	CoreError	err;
	CoreErrorCode rc;

	if (IsCancel(op->pick) && live->open > 0)
	{
		uint64_t	e = op->cancel;
		int32_t		at = op->cancel_at;

		if (e == 0 || LiveGone(live, LiveId(e)))
			e = DrawCancel(live, &at);
		if (!Cancel(b, e))
			return false;
		/* gone now: dropped here if it has not moved, else when drawn */
		if (at < live->n && live->entries[at] == e)
			LiveDrop(live, at);
		return true;
	}

	memset(&r, 0, sizeof(r));
	r.id = b->next_order_id++;
	r.account = op->account;
	r.market = 0;
	r.side = (CoreSide) (Rand() & 1);
	r.stp = CORE_STP_CANCEL_MAKER;
	r.now = b->now;
	if (op->pick < 95)
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
		/*
		 * Marketable: sweeps about 13 resting orders' worth of lots, which
		 * about matches what the new orders add less what the cancels take,
		 * plus a correction toward the target book size.
		 */
		int64_t		lean = (live->open - b->book) / 64;

		if (lean < -35)
			lean = -35;
		r.quantity = RandRange(40, 105) + lean;
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
	live->placing = r.id;
	rc = CorePlace(core, &r, &b->sink, &b->next_trade_id, &res, &err);
	live->placing = 0;
	if (rc != CORE_OK)
	{
		fprintf(stderr, "order failed: %s\n", err.message);
		return false;
	}
	if (res.status == CORE_OPEN || res.status == CORE_PARTIALLY_FILLED)
	{
		LiveAdd(live, r.id, r.account);
		if (live->ngone > live->n / 2)
			LiveCompact(live);
	}
	return true;
}

/*
 * The next operation: the first drawn ahead, with one more drawn behind
 * it and the hints for the two given.
 */
static inline bool
Next(Bench *b)
{
	Op			op = b->ahead[0];
	Live	   *live = &b->live;
	bool		ok;

	for (int i = 0; i < AHEAD - 1; i++)
		b->ahead[i] = b->ahead[i + 1];
	Draw(b, &b->ahead[AHEAD - 1]);
	Hint(b);
	ok = Step(b, &op);
	/* the next draw's first pick: its gone bit, now that its entry is in */
	if (live->next < live->n)
		__builtin_prefetch(&live->gone[LiveId(live->entries[live->next]) >> 6]);
	return ok;
}

/*
 * The timed loop, kept out of line so that callgrind can count it alone
 * (--toggle-collect=BenchTimed).
 */
__attribute__((noinline)) void
BenchTimed(Bench *b, int64_t ops)
{
	/*
	 * Batches of 100, each ended as the engine does: the changed balances
	 * are read out for writing back, and forgotten.
	 */
	for (int64_t done = 0; done < ops; done += 100)
	{
		int64_t		n = ops - done < 100 ? ops - done : 100;

		for (int64_t i = 0; i < n; i++)
		{
			if (!Next(b))
				exit(1);
			b->now++;
		}
		b->rows_written += CoreDirtyBalances(b->core, b->rows,
											 CoreDirtyCount(b->core));
		CoreClearDirty(b->core);
	}
}

/* A fresh core with one market and funded accounts; NULL on error. */
static Core *
SetUp(void *region, const CoreConfig *config)
{
	Core	   *core = CoreInit(region, config);
	CoreError	err;

	if (CoreAddAsset(core, 1, "BTC", 8, &err) != CORE_OK ||
		CoreAddAsset(core, 2, "USD", 2, &err) != CORE_OK ||
		CoreAddMarket(core, 1, "BTC-USD", "BTC", "USD", "1", "0.01",
					  10, 20, NULL, &err) != CORE_OK)
	{
		fprintf(stderr, "set-up failed: %s\n", err.message);
		return NULL;
	}
	for (int64_t a = 1; a <= NACCOUNTS; a++)
		if (CoreAddAccount(core, a, &err) != CORE_OK ||
			CoreDeposit(core, a, 0, INT64_C(1000000000000000), &err) != CORE_OK ||
			CoreDeposit(core, a, 1, INT64_C(1000000000000000), &err) != CORE_OK)
		{
			fprintf(stderr, "set-up failed: %s\n", err.message);
			return NULL;
		}
	CoreClearDirty(core);
	return core;
}

/* Shared memory per order of capacity: the worst of a few capacity pairs. */
static double
BytesPerOrder(const CoreConfig *config)
{
	static const int32_t pairs[][2] = {
		{100000, 1100000},		/* test/bench/run.sh's probe */
		{1 << 20, 2 << 20},
		{(1 << 20) + 1, (2 << 20) + 1},
		{1000000, 2000000},
	};
	double		worst = 0;

	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++)
	{
		CoreConfig	a = *config;
		CoreConfig	b = *config;
		double		per;

		a.max_orders = pairs[i][0];
		b.max_orders = pairs[i][1];
		per = (double) (CoreSize(&b) - CoreSize(&a)) /
			(pairs[i][1] - pairs[i][0]);
		if (per > worst)
			worst = per;
	}
	return worst;
}

int
main(int argc, char **argv)
{
	int64_t		ops = argc > 1 ? strtoll(argv[1], NULL, 10) : 2000000;
	uint64_t	seed = argc > 2 ? strtoull(argv[2], NULL, 10) : 0;
	int			repeats = argc > 3 ? atoi(argv[3]) : 5;
	int32_t		book = argc > 4 ? atoi(argv[4]) : BOOK_TARGET;
	int64_t		warm = ops / 10 > 100000 ? 100000 : ops / 10;
	int64_t		max_ids;
	CoreConfig	config = {
		.max_assets = 4,
		.max_markets = 4,
		.max_accounts = NACCOUNTS + 1,
		.max_balances = 2 * NACCOUNTS + 2,
		.max_orders = MAX_ORDERS,
		.max_levels = 1 << 16,
	};
	void	   *region;
	Bench		b;
	double		best = 0;
	double		best_wall = 0;
	int64_t		trades = 0;
	int64_t		rows = 0;
	int32_t		open_orders = 0;
	int32_t		levels = 0;

	if (ops <= 0 || repeats <= 0 || book <= 0 || book > MAX_ORDERS / 2)
	{
		fprintf(stderr, "usage: bench_core [operations [seed [repeats [book]]]]\n");
		return 1;
	}
	region = malloc(CoreSize(&config));
	/* every order id the run may use, prefill included */
	max_ids = ops + warm + 2 * (int64_t) book + 2;
	/* resting plus as many gone, and one more: see LiveCompact */
	b.live.entries = malloc(sizeof(uint64_t) * (2 * MAX_ORDERS + 2));
	b.live.gone = malloc(sizeof(uint64_t) * (size_t) (max_ids / 64 + 1));
	b.rows = malloc(sizeof(CoreBalanceRow) * config.max_balances);
	if (region == NULL || b.live.entries == NULL || b.rows == NULL ||
		b.live.gone == NULL)
	{
		fprintf(stderr, "out of memory\n");
		return 1;
	}

	for (int rep = 0; rep < repeats; rep++)
	{
		double		start;
		double		start_wall;
		double		secs;
		double		wall;

		rng = 0x853c49e6748fea9bULL;
		if (seed != 0)
			rng = seed * 0x9e3779b97f4a7c15ULL | 1;
		b.core = SetUp(region, &config);
		if (b.core == NULL)
			return 1;
		b.sink.order = SinkOrder;
		b.sink.trade = SinkTrade;
		b.sink.arg = &b.live;
		b.next_order_id = 1;
		b.next_trade_id = 1;
		b.now = 1;
		memset(b.live.gone, 0, sizeof(uint64_t) * (size_t) (max_ids / 64 + 1));
		b.live.n = 0;
		b.live.ngone = 0;
		b.live.open = 0;
		b.live.next = 0;
		b.live.placing = 0;

		/* fill the book with new orders near the touch, then warm up */
		b.book = book;
		while (b.live.open < book)
		{
			Op			fill = {0, RandRange(1, NACCOUNTS), 0, 0};

			if (!Step(&b, &fill))
				return 1;
		}
		for (int i = 0; i < AHEAD; i++)
			Draw(&b, &b.ahead[i]);
		for (int64_t i = 0; i < warm; i++)
		{
			if (!Next(&b))
				return 1;
			b.now++;
		}
		CoreClearDirty(b.core);
		b.live.trades = 0;
		b.rows_written = 0;

		start = Now(CLOCK_PROCESS_CPUTIME_ID);
		start_wall = Now(CLOCK_MONOTONIC);
		BenchTimed(&b, ops);
		secs = Now(CLOCK_PROCESS_CPUTIME_ID) - start;
		wall = Now(CLOCK_MONOTONIC) - start_wall;
		if (rep == 0 || secs < best)
		{
			best = secs;
			best_wall = wall;
		}
		trades = b.live.trades;
		rows = b.rows_written;
		open_orders = CoreOpenOrderCount(b.core);
		if (open_orders != b.live.open)
		{
			fprintf(stderr, "harness lost track: %d open orders, %d known\n",
					open_orders, b.live.open);
			return 1;
		}
		levels = 0;
		for (int side = CORE_BUY; side <= CORE_SELL; side++)
			for (int32_t l = CoreBestLevel(b.core, 0, (CoreSide) side);
				 l != CORE_NO_INDEX; l = CoreGetLevel(b.core, l)->worse)
				levels++;
	}

	/* CPU time, not wall time: the machine may be busy with other work */
	printf("core-bench: %" PRId64 " operations, %" PRId64 " trades, "
		   "%" PRId64 " balance rows written back, "
		   "%d open orders on %d levels at the end; best of %d: "
		   "%.3f s CPU (%.3f s wall)\n",
		   ops, trades, rows, open_orders, levels, repeats, best, best_wall);
	printf("core-bench: orders_per_s=%.0f ns_per_order=%.1f bytes_per_order=%.0f\n",
		   ops / best, best * 1e9 / ops, BytesPerOrder(&config));
	free(b.live.entries);
	free(b.live.gone);
	free(b.rows);
	free(region);
	return 0;
}
