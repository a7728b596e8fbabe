#ifndef EXCHANGE_CORE_CORE_H
#define EXCHANGE_CORE_CORE_H

/*
 * The matching core: assets, markets, accounts, balances, order books and
 * the matching rules, in one caller-provided memory region of fixed size.
 *
 * Plain C, no PostgreSQL headers.  Everything is addressed by int32 index
 * inside the region; the region may live in shared memory.  The core is
 * single-writer: the caller serialises every mutating call.
 *
 * Units: quantities are counted in lots of the market, prices in ticks,
 * balances and notionals in the smallest unit of their asset (10^-scale).
 * A trade of L lots at P ticks moves L * lot_units base units and
 * L * P * notional_unit quote units.
 *
 * Atomicity: every call that returns an error other than CORE_E_INTERNAL
 * has changed nothing.  CORE_E_INTERNAL means a can't-happen check failed
 * part way; the caller must rebuild the core from its durable copy.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fixed.h"

#define CORE_NO_INDEX		(-1)
#define CORE_NO_TREE		(-2)	/* CoreMarket.tree of a side without one */
#define CORE_CODE_LEN		16	/* asset code, incl. terminator */
#define CORE_SYMBOL_LEN		32	/* market symbol, incl. terminator */
#define CORE_MESSAGE_LEN	160
#define CORE_DETAIL_LEN		256
#define CORE_MAX_MARKETS	65536	/* an order keeps its market in 16 bits */

typedef enum CoreSide
{
	CORE_BUY = 0,
	CORE_SELL = 1
} CoreSide;

typedef enum CoreOrderType
{
	CORE_LIMIT = 0,
	CORE_MARKET = 1
} CoreOrderType;

typedef enum CoreTimeInForce
{
	CORE_GTC = 0,
	CORE_IOC = 1,
	CORE_FOK = 2
} CoreTimeInForce;

typedef enum CoreStp
{
	CORE_STP_CANCEL_TAKER = 0,
	CORE_STP_CANCEL_MAKER = 1,
	CORE_STP_CANCEL_BOTH = 2
} CoreStp;

/* Same order as the SQL enum exchange.order_status. */
typedef enum CoreStatus
{
	CORE_OPEN = 0,
	CORE_PARTIALLY_FILLED = 1,
	CORE_FILLED = 2,
	CORE_CANCELLED = 3,
	CORE_REJECTED = 4,
	CORE_EXPIRED = 5
} CoreStatus;

typedef enum CoreErrorCode
{
	CORE_OK = 0,
	CORE_E_INVALID,				/* a parameter is malformed or not allowed */
	CORE_E_UNKNOWN_ACCOUNT,
	CORE_E_UNKNOWN_ASSET,
	CORE_E_UNKNOWN_MARKET,
	CORE_E_UNKNOWN_ORDER,
	CORE_E_HALTED,				/* market is halted */
	CORE_E_DUPLICATE,			/* asset, market or account exists */
	CORE_E_PRICE,				/* not a multiple of the tick */
	CORE_E_QUANTITY,			/* not a multiple of the lot */
	CORE_E_MIN_NOTIONAL,
	CORE_E_RANGE,				/* amount too large or not positive */
	CORE_E_INSUFFICIENT,		/* available balance too small */
	CORE_E_CAPACITY,			/* a configured capacity is reached */
	CORE_E_INTERNAL				/* can't happen; caller must rebuild */
} CoreErrorCode;

typedef struct CoreError
{
	CoreErrorCode code;
	char		message[CORE_MESSAGE_LEN];
	char		detail[CORE_DETAIL_LEN];
} CoreError;

typedef struct CoreConfig
{
	int32_t		max_assets;
	int32_t		max_markets;
	int32_t		max_accounts;
	int32_t		max_balances;
	int32_t		max_orders;
	int32_t		max_levels;
} CoreConfig;

typedef struct CoreAsset
{
	int32_t		id;
	int16_t		scale;
	char		code[CORE_CODE_LEN];
	int64_t		total;			/* sum of every balance of this asset */
} CoreAsset;

typedef struct CoreMarket
{
	int32_t		id;
	int32_t		base;			/* asset indexes */
	int32_t		quote;
	char		symbol[CORE_SYMBOL_LEN];
	FixedDecimal tick;			/* tick_size, price = ticks * tick */
	FixedDecimal lot;			/* lot_size, in whole base units */
	int64_t		lot_units;		/* base units per lot */
	int64_t		notional_unit;	/* quote units per (tick x lot) */
	int32_t		maker_fee_bps;
	int32_t		taker_fee_bps;
	int64_t		min_notional;	/* quote units */
	bool		halted;
	int32_t		best[2];		/* best level per side, or CORE_NO_INDEX */
	int32_t		worst[2];		/* worst level per side */
	int32_t		nlevels[2];		/* levels per side */
	int32_t		tree[2];		/* root of a side's level tree, or CORE_NO_TREE */
} CoreMarket;

typedef struct CoreLevel
{
	int64_t		price;			/* ticks */
	int64_t		lots;			/* remaining lots resting here */
	int32_t		count;			/* orders resting here */
	int32_t		market;
	uint8_t		side;
	int32_t		head;			/* oldest order */
	int32_t		tail;
	int32_t		better;			/* neighbour levels on the same side */
	int32_t		worse;
	int32_t		hnext;			/* hash chain; free-list link when unused */

	/*
	 * A side of many levels also keeps them in a tree (a treap: see
	 * CoreLevelPriority), in the same order as the list, better levels to
	 * the left, so that a new level far from any other finds its place in
	 * logarithmic time.
	 */
	int32_t		tree_left;
	int32_t		tree_right;
	int32_t		tree_parent;
	uint32_t	tree_priority;	/* pseudo-random, drawn when it was made */
} CoreLevel;

/*
 * A level's priority in its side's tree: a parent's is above its
 * children's.  Its tree_priority, drawn when the level was made, then its
 * index, so that no two levels tie.
 */
static inline uint64_t
CoreLevelPriority(const CoreLevel *l, int32_t index)
{
	return ((uint64_t) l->tree_priority << 32) | (uint32_t) ~(uint32_t) index;
}

/*
 * One order.  Resting orders live in the pool; orders that never rest or
 * have left the book are reported through the sink and then forgotten.
 *
 * A slot is 96 bytes, so that with the pool cache-line aligned no order
 * spans more than two cache lines (at 112 bytes half of them spanned
 * three), and the pool of a busy book is a seventh smaller.  For that the
 * flags are bit-fields, the market is a 16-bit index (CORE_MAX_MARKETS),
 * and a market order's quote limit shares a word with a limit order's
 * expiry: a market order cannot expire, and only a market order has a
 * quote limit.  Read those two through CoreOrderQuoteLimit and
 * CoreOrderExpireAt, and set them with CoreOrderSetLimits.
 */
typedef struct CoreOrder
{
	int64_t		id;
	int64_t		account;
	int64_t		price;			/* ticks; 0 for market orders */
	int64_t		quantity;		/* lots ordered (after amendments) */
	int64_t		filled;			/* lots executed */
	int64_t		filled_quote;	/* quote units executed */
	int64_t		expire_or_quote;	/* see above */
	int32_t		level;
	int32_t		prev;			/* within the level, older */
	int32_t		next;			/* within the level, newer */
	int32_t		acct_prev;		/* the account's resting orders */
	int32_t		acct_next;
	int32_t		hnext;			/* id hash chain; free-list link */
	/* kept by the core while the order rests, ignored on input */
	int32_t		account_index;	/* the account's slot */
	int32_t		balance[2];		/* the account's base, quote balances */
	uint16_t	market;			/* index, < CORE_MAX_MARKETS */
	uint8_t		status;			/* CoreStatus */
	uint8_t		side:1;			/* CoreSide */
	uint8_t		type:1;			/* CoreOrderType */
	uint8_t		tif:2;			/* CoreTimeInForce */
	uint8_t		stp:2;			/* CoreStp */
	uint8_t		post_only:1;
} CoreOrder;

/* A market order's quote limit (market buy by quote amount), else 0. */
static inline int64_t
CoreOrderQuoteLimit(const CoreOrder *o)
{
	return o->type == CORE_MARKET ? o->expire_or_quote : 0;
}

/* A limit order's expiry (caller's clock), 0 for none or a market order. */
static inline int64_t
CoreOrderExpireAt(const CoreOrder *o)
{
	return o->type == CORE_LIMIT ? o->expire_or_quote : 0;
}

/* Store whichever of the two o->type (set first) can have. */
static inline void
CoreOrderSetLimits(CoreOrder *o, int64_t quote_limit, int64_t expire_at)
{
	o->expire_or_quote = o->type == CORE_MARKET ? quote_limit : expire_at;
}

typedef struct CoreTrade
{
	int64_t		id;
	int32_t		market;
	int64_t		price;			/* ticks */
	int64_t		lots;
	int64_t		base_units;
	int64_t		quote_units;
	int64_t		maker_order;
	int64_t		taker_order;
	int64_t		maker_account;
	int64_t		taker_account;
	uint8_t		taker_side;
	int64_t		maker_fee;		/* units of the asset the maker receives */
	int64_t		taker_fee;
} CoreTrade;

/*
 * Where the core reports what happened: every order whose state changed
 * (a snapshot after the change; the last one reported is current) and
 * every trade, in execution order.
 */
typedef struct CoreSink
{
	void		(*order) (void *arg, const CoreOrder *order);
	void		(*trade) (void *arg, const CoreTrade *trade);
	void	   *arg;
} CoreSink;

/* A new order, in core units. */
typedef struct CoreOrderRequest
{
	int64_t		id;				/* assigned by the caller, increasing */
	int64_t		account;
	int32_t		market;
	CoreSide	side;
	CoreOrderType type;
	CoreTimeInForce tif;
	CoreStp		stp;
	bool		post_only;
	int64_t		price;			/* ticks; 0 when none */
	int64_t		quantity;		/* lots; 0 when quote_limit is given */
	int64_t		quote_limit;	/* quote units for a market buy, else 0 */
	int64_t		expire_at;		/* 0 = none */
	int64_t		now;			/* caller's clock */
} CoreOrderRequest;

typedef struct Core Core;

extern size_t CoreSize(const CoreConfig *config);
extern Core *CoreInit(void *region, const CoreConfig *config);
extern void CoreReset(Core *core);

/*
 * Seed the priorities of the price levels' trees (see CoreLevel), which
 * are otherwise a fixed sequence: with a secret seed nobody placing
 * orders can line them up with prices.  Kept across CoreReset.
 */
extern void CoreSeedLevels(Core *core, uint64_t seed);
extern const CoreConfig *CoreGetConfig(const Core *core);

/* Catalogue. */
extern CoreErrorCode CoreAddAsset(Core *core, int32_t id, const char *code,
								  int scale, CoreError *err);
extern CoreErrorCode CoreAddMarket(Core *core, int32_t id,
								   const char *symbol, const char *base,
								   const char *quote,
								   const char *tick_size,
								   const char *lot_size,
								   int maker_fee_bps, int taker_fee_bps,
								   const char *min_notional,
								   CoreError *err);
extern CoreErrorCode CoreSetHalted(Core *core, int32_t market, bool halted,
								   CoreError *err);
extern CoreErrorCode CoreAddAccount(Core *core, int64_t account,
									CoreError *err);

extern int32_t CoreFindAsset(const Core *core, const char *code);
extern int32_t CoreFindMarket(const Core *core, const char *symbol);
extern int32_t CoreFindMarketById(const Core *core, int32_t id);
extern bool CoreHasAccount(const Core *core, int64_t account);
extern const CoreAsset *CoreGetAsset(const Core *core, int32_t index);
extern const CoreMarket *CoreGetMarket(const Core *core, int32_t index);
extern int32_t CoreAssetCount(const Core *core);
extern int32_t CoreMarketCount(const Core *core);

/* Balances. */
extern CoreErrorCode CoreDeposit(Core *core, int64_t account, int32_t asset,
								 int64_t units, CoreError *err);
extern CoreErrorCode CoreLoadBalance(Core *core, int64_t account,
									 int32_t asset, int64_t available,
									 int64_t locked, CoreError *err);
extern bool CoreGetBalance(const Core *core, int64_t account, int32_t asset,
						   int64_t *available, int64_t *locked);

/*
 * Balances changed since the last CoreClearDirty, for writing back.
 * Returns how many were written to out (at most max).
 */
typedef struct CoreBalanceRow
{
	int64_t		account;
	int32_t		asset;
	int64_t		available;
	int64_t		locked;
	bool		is_new;			/* created since the last CoreClearDirty */
} CoreBalanceRow;

extern int32_t CoreDirtyCount(const Core *core);
extern int32_t CoreDirtyBalances(const Core *core, CoreBalanceRow *out,
								 int32_t max);
extern void CoreClearDirty(Core *core);

/* Trading. */
extern CoreErrorCode CorePlace(Core *core, const CoreOrderRequest *req,
							   const CoreSink *sink, int64_t *next_trade_id,
							   CoreOrder *result, CoreError *err);
extern CoreErrorCode CoreCancel(Core *core, int64_t account,
								int64_t order_id, const CoreSink *sink,
								CoreOrder *result, CoreError *err);
extern CoreErrorCode CoreAmend(Core *core, int64_t account,
							   int64_t order_id, int64_t new_quantity,
							   const CoreSink *sink, CoreOrder *result,
							   CoreError *err);
extern int32_t CoreCancelAll(Core *core, int64_t account, int32_t market,
							 const CoreSink *sink);
extern int32_t CoreExpire(Core *core, int64_t now, int32_t max,
						  const CoreSink *sink);

/*
 * Hints for a caller that knows its next requests (the engine, a batch at
 * a time): start loading what they will touch while the current one runs.
 * They change nothing, and the requests need not come.  The memory of a
 * large book is far larger than the caches, and a request that finds its
 * rows one after the other waits a full memory latency for each.
 *
 * Each comes in two steps, since a hash bucket must be in the cache before
 * the entry it names can be loaded without waiting: the ...Id call two
 * requests ahead, the other one request ahead.
 *
 * CorePrefetchAccountId, then CorePrefetchAccount: the account's hash
 * buckets, then its entry and its balances in market (CORE_NO_INDEX: its
 * entry only), for a new order (CorePlace).
 * CorePrefetchOrderId, then CorePrefetchOrder: a resting order's id
 * bucket, then its slot (CoreCancel, CoreAmend).
 */
extern void CorePrefetchAccountId(const Core *core, int64_t account,
								  int32_t market);
extern void CorePrefetchAccount(const Core *core, int64_t account,
								int32_t market);
extern void CorePrefetchOrderId(const Core *core, int64_t order_id);
extern void CorePrefetchOrder(const Core *core, int64_t order_id);

/*
 * Put an order back on its book during a rebuild, in time priority order,
 * holding no new funds (balances are loaded as they were).
 */
extern CoreErrorCode CoreRestoreOrder(Core *core, const CoreOrder *order,
									  CoreError *err);

extern const CoreOrder *CoreFindOrder(const Core *core, int64_t order_id);
extern int32_t CoreOpenOrderCount(const Core *core);

/* Funds an open order holds: (asset index, units). */
extern void CoreOrderHold(const Core *core, const CoreOrder *order,
						  int32_t *asset, int64_t *units);

/* Book levels, best first: returns false past the last one. */
extern int32_t CoreBestLevel(const Core *core, int32_t market, CoreSide side);
extern const CoreLevel *CoreGetLevel(const Core *core, int32_t level);

/* Walk every resting order (rebuild checks); stops when fn returns false. */
extern void CoreForEachOrder(const Core *core,
							 bool (*fn) (void *arg, const CoreOrder *order),
							 void *arg);

#endif
