#ifndef EXCHANGE_CORE_INTERNAL_H
#define EXCHANGE_CORE_INTERNAL_H

#include "core.h"

#include <stdarg.h>

#ifndef likely
#define likely(x)	__builtin_expect((x) != 0, 1)
#define unlikely(x)	__builtin_expect((x) != 0, 0)
#endif

/* Marks a pool slot that holds no order. */
#define CORE_SLOT_FREE		0xff

typedef struct CoreAccount
{
	int64_t		id;
	int32_t		hnext;
	int32_t		orders;			/* newest resting order, or CORE_NO_INDEX */
} CoreAccount;

/* Asset indexes of balances are 16 bits, so that a balance is 32 bytes. */
#define CORE_MAX_ASSETS		65536

/*
 * 32 bytes, in a 64-byte aligned array: an account's balances created one
 * after the other (base and quote of a market) share a cache line.
 */
typedef struct CoreBalance
{
	int64_t		account;
	int64_t		available;
	int64_t		locked;
	int32_t		hnext;
	uint16_t	asset;
	bool		dirty;
	bool		is_new;			/* not yet written back */
} CoreBalance;

struct Core
{
	CoreConfig	config;

	CoreAsset  *assets;
	int32_t		nassets;
	CoreMarket *markets;
	int32_t		nmarkets;

	/*
	 * Assets by code, markets by symbol and by id: hash chains through
	 * *_hnext, one entry per asset or market, so that finding a market is
	 * not a scan of every symbol (a request names its market by symbol).
	 */
	int32_t    *asset_buckets;
	int32_t    *asset_hnext;
	uint32_t	asset_mask;
	int			asset_bits;
	int32_t    *market_buckets;
	int32_t    *market_hnext;
	int32_t    *market_id_buckets;
	int32_t    *market_id_hnext;
	uint32_t	market_mask;
	int			market_bits;

	CoreAccount *accounts;
	int32_t		naccounts;
	int32_t    *account_buckets;
	uint32_t	account_mask;
	int			account_bits;	/* log2 of the number of account buckets */

	CoreBalance *balances;
	int32_t		nbalances;
	int32_t    *balance_buckets;
	uint32_t	balance_mask;
	int			balance_bits;
	int32_t    *dirty;			/* indexes of dirty balances */
	int32_t		ndirty;
	int32_t    *fee_balances;	/* the fee account's balance per asset */

	CoreOrder  *orders;
	int32_t		order_free;
	int32_t		order_high;		/* no slot at or above it used since reset */
	int32_t		norders;
	int32_t    *order_buckets;
	uint32_t	order_mask;
	int			order_shift;	/* log2 of the number of order buckets */
	int64_t		max_order_id;	/* largest id that ever rested */
	int32_t		ngtd;			/* resting orders with an expiry */
	int64_t		gtd_next;		/* none of them expires before this */
	uint64_t   *gtd_slots;		/* bit per slot: a resting order with an expiry */

	CoreLevel  *levels;
	int32_t		level_free;
	int32_t		nlevels;
	uint64_t	levels_made;	/* since the reset: draws tree priorities */
	uint64_t	level_seed;		/* CoreSeedLevels */
	int32_t    *level_buckets;
	uint32_t	level_mask;
	int			level_bits;
};

/* The account that receives every fee. */
#define CORE_FEE_ACCOUNT	0

/*
 * A bucket number of the given number of bits: multiplicative (Fibonacci)
 * hashing, as Linux's hash_64.  It takes the top bits of the product, since
 * the lower ones repeat with short periods for consecutive keys.  The high
 * half of the key is folded in first, so that keys differing only there
 * spread as well.
 */
static inline uint32_t
CoreHashBits(uint64_t x, int bits)
{
	return (uint32_t) (((x ^ (x >> 32)) * UINT64_C(0x9e3779b97f4a7c15)) >>
					   (64 - bits));
}

/*
 * The id hash bucket of an order.  Ids come in increasing order, so
 * consecutive ids get consecutive buckets (a block of them at a pseudo-
 * random offset): placing an order touches the bucket array where the
 * previous one did instead of missing the cache, and ids that differ by a
 * multiple of the table size still land apart.
 */
static inline uint32_t
OrderBucket(const Core *core, int64_t id)
{
	uint64_t	x = (uint64_t) id;

	return (uint32_t) (x + CoreHashBits(x >> core->order_shift,
										core->order_shift)) &
		core->order_mask;
}

/*
 * An account's balances get neighbouring buckets: one cache line for both
 * sides of a market.
 */
static inline uint32_t
BalanceBucket(const Core *core, int64_t account, int32_t asset)
{
	return (CoreHashBits((uint64_t) account, core->balance_bits) +
			(uint32_t) asset) & core->balance_mask;
}

/* A name's bucket: FNV-1a over its bytes, then spread as above. */
static inline uint32_t
NameBucket(const char *name, int bits)
{
	uint64_t	h = UINT64_C(0xcbf29ce484222325);

	for (const unsigned char *p = (const unsigned char *) name; *p; p++)
		h = (h ^ *p) * UINT64_C(0x100000001b3);
	return CoreHashBits(h, bits);
}

static inline uint32_t
AccountBucket(const Core *core, int64_t account)
{
	return CoreHashBits((uint64_t) account, core->account_bits);
}

static inline int32_t
AccountFind(const Core *core, int64_t account)
{
	int32_t		i = core->account_buckets[AccountBucket(core, account)];

	for (; i != CORE_NO_INDEX; i = core->accounts[i].hnext)
		if (core->accounts[i].id == account)
			return i;
	return CORE_NO_INDEX;
}

static inline int32_t
BalanceFind(const Core *core, int64_t account, int32_t asset)
{
	int32_t		i = core->balance_buckets[BalanceBucket(core, account,
															asset)];

	for (; i != CORE_NO_INDEX; i = core->balances[i].hnext)
		if (core->balances[i].account == account &&
			core->balances[i].asset == asset)
			return i;
	return CORE_NO_INDEX;
}

/* Mark a balance for write-back at the end of the batch. */
static inline void
BalanceTouch(Core *core, int32_t index)
{
	if (!core->balances[index].dirty)
	{
		core->balances[index].dirty = true;
		core->dirty[core->ndirty++] = index;
	}
}

static inline int32_t
OrderFind(const Core *core, int64_t id)
{
	int32_t		i;

	/* a new id, above every id that ever rested, needs no search */
	if (id > core->max_order_id)
		return CORE_NO_INDEX;
	for (i = core->order_buckets[OrderBucket(core, id)];
		 i != CORE_NO_INDEX; i = core->orders[i].hnext)
		if (core->orders[i].id == id)
			return i;
	return CORE_NO_INDEX;
}

/* Start loading an order slot (it spans two or three cache lines). */
static inline void
OrderPrefetch(const Core *core, int32_t i)
{
	if (i != CORE_NO_INDEX)
	{
		const char *p = (const char *) &core->orders[i];

		__builtin_prefetch(p, 1);
		__builtin_prefetch(p + 64, 1);
		__builtin_prefetch(p + sizeof(CoreOrder) - 1, 1);
	}
}

/*
 * Start loading what taking this order off the book will touch: its
 * neighbours in the level and in its account's list, and its id bucket.
 * Those are random slots, so loading them while other work goes on
 * instead of one after another in OrderUnrest saves cache misses' time.
 */
static inline void
OrderPrefetchUnrest(const Core *core, const CoreOrder *o)
{
	__builtin_prefetch(&core->order_buckets[OrderBucket(core, o->id)], 1);
	if (o->prev != CORE_NO_INDEX)
		__builtin_prefetch(&core->orders[o->prev].next, 1);
	if (o->next != CORE_NO_INDEX)
		__builtin_prefetch(&core->orders[o->next].prev, 1);
	if (o->acct_prev != CORE_NO_INDEX)
		__builtin_prefetch(&core->orders[o->acct_prev].acct_next, 1);
	if (o->acct_next != CORE_NO_INDEX)
		__builtin_prefetch(&core->orders[o->acct_next].acct_prev, 1);
}

/* Take a free pool slot; CORE_NO_INDEX when full (callers check first). */
static inline int32_t
OrderAlloc(Core *core)
{
	int32_t		i = core->order_free;

	if (i != CORE_NO_INDEX)
	{
		core->order_free = core->orders[i].hnext;
		/* the free list is last in, first out: used slots stay low */
		if (i >= core->order_high)
			core->order_high = i + 1;
	}
	return i;
}

/* True when a taker on taker_side with this limit may trade at price. */
static inline bool
PriceCrosses(int taker_side, int64_t limit, int64_t level_price)
{
	if (taker_side == CORE_BUY)
		return level_price <= limit;
	return level_price >= limit;
}

/* Errors are rare: cold, so that the compiler lays their paths out of line. */
extern CoreErrorCode CoreFail(CoreError *err, CoreErrorCode code,
							  const char *fmt,...)
			__attribute__((format(printf, 3, 4), cold));
extern void CoreFailDetail(CoreError *err, const char *fmt,...)
			__attribute__((format(printf, 2, 3), cold));

/* balances.c */
extern int32_t BalanceEnsure(Core *core, int64_t account, int32_t asset);
extern int32_t BalanceCreate(Core *core, int64_t account, int32_t asset);
extern int32_t BalanceMissing(const Core *core, int64_t account,
							  int32_t asset);

/* book.c */
extern int32_t LevelCreate(Core *core, int32_t market, int side,
						   int64_t price);
extern void LevelDelete(Core *core, int32_t i);

/*
 * Books, inline: placing, matching and cancelling spend most of their time
 * here.
 */

/* Neighbouring prices of a book side get neighbouring buckets. */
static inline uint32_t
LevelBucket(const Core *core, int32_t market, int side, int64_t price)
{
	return (CoreHashBits((uint64_t) market * 2 + (uint64_t) side,
						 core->level_bits) + (uint32_t) price) &
		core->level_mask;
}

/* True when price a is better than price b on a book side. */
static inline bool
PriceBetter(int side, int64_t a, int64_t b)
{
	return side == CORE_BUY ? a > b : a < b;
}

static inline int32_t
LevelFind(const Core *core, int32_t market, int side, int64_t price)
{
	int32_t		i = core->level_buckets[LevelBucket(core, market, side,
														price)];

	for (; i != CORE_NO_INDEX; i = core->levels[i].hnext)
	{
		const CoreLevel *l = &core->levels[i];

		if (l->price == price && l->market == market && l->side == side)
			return i;
	}
	return CORE_NO_INDEX;
}

/*
 * The level at price, created and linked into its side in price order when
 * missing.  CORE_NO_INDEX when no level is free (callers check first).
 */
static inline int32_t
LevelGetOrCreate(Core *core, int32_t market, int side, int64_t price)
{
	int32_t		i = LevelFind(core, market, side, price);

	if (i != CORE_NO_INDEX)
		return i;
	return LevelCreate(core, market, side, price);
}

/*
 * Put the order in slot index at the back of level, into the id hash and
 * into its account's list.  The slot's fields are already filled in,
 * account_index and balance[] included.
 */
static inline void
OrderRest(Core *core, int32_t index, int32_t level)
{
	CoreOrder  *o = &core->orders[index];
	CoreLevel  *l = &core->levels[level];
	int32_t		acct = o->account_index;
	uint32_t	bucket = OrderBucket(core, o->id);

	o->level = level;
	o->prev = l->tail;
	o->next = CORE_NO_INDEX;
	if (l->tail != CORE_NO_INDEX)
		core->orders[l->tail].next = index;
	else
		l->head = index;
	l->tail = index;
	l->count++;
	l->lots += o->quantity - o->filled;

	o->hnext = core->order_buckets[bucket];
	core->order_buckets[bucket] = index;
	if (o->id > core->max_order_id)
		core->max_order_id = o->id;

	o->acct_prev = CORE_NO_INDEX;
	o->acct_next = core->accounts[acct].orders;
	if (o->acct_next != CORE_NO_INDEX)
		core->orders[o->acct_next].acct_prev = index;
	core->accounts[acct].orders = index;

	if (CoreOrderExpireAt(o) != 0)
	{
		core->ngtd++;
		core->gtd_slots[index >> 6] |= UINT64_C(1) << (index & 63);
		if (CoreOrderExpireAt(o) < core->gtd_next)
			core->gtd_next = CoreOrderExpireAt(o);
	}
	core->norders++;
}

/* Take a resting order off its level, the hash and its account; free it. */
static inline void
OrderUnrest(Core *core, int32_t index)
{
	CoreOrder  *o = &core->orders[index];
	CoreLevel  *l = &core->levels[o->level];
	int32_t    *link = &core->order_buckets[OrderBucket(core, o->id)];

	if (o->prev != CORE_NO_INDEX)
		core->orders[o->prev].next = o->next;
	else
		l->head = o->next;
	if (o->next != CORE_NO_INDEX)
		core->orders[o->next].prev = o->prev;
	else
		l->tail = o->prev;
	l->count--;
	l->lots -= o->quantity - o->filled;
	if (l->count == 0)
		LevelDelete(core, o->level);

	while (*link != index)
		link = &core->orders[*link].hnext;
	*link = o->hnext;

	if (o->acct_prev != CORE_NO_INDEX)
		core->orders[o->acct_prev].acct_next = o->acct_next;
	else
		core->accounts[o->account_index].orders = o->acct_next;
	if (o->acct_next != CORE_NO_INDEX)
		core->orders[o->acct_next].acct_prev = o->acct_prev;

	if (CoreOrderExpireAt(o) != 0)
	{
		core->ngtd--;
		core->gtd_slots[index >> 6] &= ~(UINT64_C(1) << (index & 63));
	}
	core->norders--;
	o->status = CORE_SLOT_FREE;
	o->hnext = core->order_free;
	core->order_free = index;
}

#endif
