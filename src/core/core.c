#include "core_internal.h"

#include <stdio.h>
#include <string.h>

/* Two cache lines at most per order slot: see CoreOrder. */
_Static_assert(sizeof(CoreOrder) == 96, "CoreOrder is not 96 bytes");

/* Arrays start on cache lines, whatever the region's alignment. */
#define CORE_CACHE_LINE	64
#define CORE_ALIGN(x)	(((x) + CORE_CACHE_LINE - 1) & \
						 ~((size_t) CORE_CACHE_LINE - 1))

/* Smallest power of two >= 2n, for hash bucket arrays. */
static uint32_t
CoreBucketCount(int32_t n)
{
	uint32_t	b = 16;

	while (b < (uint32_t) n * 2)
		b <<= 1;
	return b;
}

/*
 * Smallest power of two >= n, for the order id buckets: ids are spread
 * evenly (see OrderBucket), so a load factor up to 1 keeps chains short,
 * and the buckets cost at most 8 bytes per order of capacity.
 */
static uint32_t
CoreOrderBucketCount(int32_t n)
{
	uint32_t	b = 16;

	while (b < (uint32_t) n)
		b <<= 1;
	return b;
}

/* Words of the bitmap of slots holding an order with an expiry. */
static size_t
CoreGtdWords(int32_t max_orders)
{
	return ((size_t) max_orders + 63) / 64;
}

/* log2 of a power of two. */
static int
CoreLog2(uint32_t n)
{
	int			bits = 0;

	while ((UINT32_C(1) << bits) < n)
		bits++;
	return bits;
}

/* Bytes needed for a core with these capacities. */
size_t
CoreSize(const CoreConfig *config)
{
	size_t		size = CORE_ALIGN(sizeof(Core)) + CORE_CACHE_LINE;

	size += CORE_ALIGN(sizeof(CoreAsset) * config->max_assets);
	size += CORE_ALIGN(sizeof(int32_t) * CoreBucketCount(config->max_assets));
	size += CORE_ALIGN(sizeof(int32_t) * config->max_assets);
	size += CORE_ALIGN(sizeof(CoreMarket) * config->max_markets);
	size += 2 * CORE_ALIGN(sizeof(int32_t) * CoreBucketCount(config->max_markets));
	size += 2 * CORE_ALIGN(sizeof(int32_t) * config->max_markets);
	size += CORE_ALIGN(sizeof(CoreAccount) * config->max_accounts);
	size += CORE_ALIGN(sizeof(int32_t) * CoreBucketCount(config->max_accounts));
	size += CORE_ALIGN(sizeof(CoreBalance) * config->max_balances);
	size += CORE_ALIGN(sizeof(int32_t) * CoreBucketCount(config->max_balances));
	size += CORE_ALIGN(sizeof(int32_t) * config->max_balances);
	size += CORE_ALIGN(sizeof(int32_t) * config->max_assets);
	size += CORE_ALIGN(sizeof(CoreOrder) * config->max_orders);
	size += CORE_ALIGN(sizeof(uint64_t) * CoreGtdWords(config->max_orders));
	size += CORE_ALIGN(sizeof(int32_t) *
					   CoreOrderBucketCount(config->max_orders));
	size += CORE_ALIGN(sizeof(CoreLevel) * config->max_levels);
	size += CORE_ALIGN(sizeof(int32_t) * CoreBucketCount(config->max_levels));
	return size;
}

/* Carve the arrays out of region and empty the core. */
Core *
CoreInit(void *region, const CoreConfig *config)
{
	char	   *p = region;
	Core	   *core = (Core *) p;

	memset(core, 0, sizeof(Core));
	core->config = *config;
	p = (char *) CORE_ALIGN((uintptr_t) (p + sizeof(Core)));
#define CARVE(field, type, count) \
	do { core->field = (type *) p; \
		 p += CORE_ALIGN(sizeof(type) * (size_t) (count)); } while (0)
	CARVE(assets, CoreAsset, config->max_assets);
	core->asset_mask = CoreBucketCount(config->max_assets) - 1;
	core->asset_bits = CoreLog2(core->asset_mask + 1);
	CARVE(asset_buckets, int32_t, core->asset_mask + 1);
	CARVE(asset_hnext, int32_t, config->max_assets);
	CARVE(markets, CoreMarket, config->max_markets);
	core->market_mask = CoreBucketCount(config->max_markets) - 1;
	core->market_bits = CoreLog2(core->market_mask + 1);
	CARVE(market_buckets, int32_t, core->market_mask + 1);
	CARVE(market_hnext, int32_t, config->max_markets);
	CARVE(market_id_buckets, int32_t, core->market_mask + 1);
	CARVE(market_id_hnext, int32_t, config->max_markets);
	CARVE(accounts, CoreAccount, config->max_accounts);
	core->account_mask = CoreBucketCount(config->max_accounts) - 1;
	core->account_bits = CoreLog2(core->account_mask + 1);
	CARVE(account_buckets, int32_t, core->account_mask + 1);
	CARVE(balances, CoreBalance, config->max_balances);
	core->balance_mask = CoreBucketCount(config->max_balances) - 1;
	core->balance_bits = CoreLog2(core->balance_mask + 1);
	CARVE(balance_buckets, int32_t, core->balance_mask + 1);
	CARVE(dirty, int32_t, config->max_balances);
	CARVE(fee_balances, int32_t, config->max_assets);
	CARVE(orders, CoreOrder, config->max_orders);
	CARVE(gtd_slots, uint64_t, CoreGtdWords(config->max_orders));
	core->order_mask = CoreOrderBucketCount(config->max_orders) - 1;
	core->order_shift = CoreLog2(core->order_mask + 1);
	CARVE(order_buckets, int32_t, core->order_mask + 1);
	CARVE(levels, CoreLevel, config->max_levels);
	core->level_mask = CoreBucketCount(config->max_levels) - 1;
	core->level_bits = CoreLog2(core->level_mask + 1);
	CARVE(level_buckets, int32_t, core->level_mask + 1);
#undef CARVE
	CoreReset(core);
	return core;
}

/* Forget everything but the capacities; the fee account always exists. */
void
CoreReset(Core *core)
{
	CoreError	err;

	core->nassets = 0;
	core->nmarkets = 0;
	core->naccounts = 0;
	core->nbalances = 0;
	core->ndirty = 0;
	core->norders = 0;
	core->ngtd = 0;
	core->gtd_next = INT64_MAX;
	core->max_order_id = 0;
	core->nlevels = 0;
	core->levels_made = 0;
	memset(core->asset_buckets, 0xff,
		   sizeof(int32_t) * (core->asset_mask + 1));
	memset(core->market_buckets, 0xff,
		   sizeof(int32_t) * (core->market_mask + 1));
	memset(core->market_id_buckets, 0xff,
		   sizeof(int32_t) * (core->market_mask + 1));
	memset(core->account_buckets, 0xff,
		   sizeof(int32_t) * (core->account_mask + 1));
	memset(core->balance_buckets, 0xff,
		   sizeof(int32_t) * (core->balance_mask + 1));
	memset(core->fee_balances, 0xff,
		   sizeof(int32_t) * core->config.max_assets);
	memset(core->order_buckets, 0xff,
		   sizeof(int32_t) * (core->order_mask + 1));
	memset(core->gtd_slots, 0,
		   sizeof(uint64_t) * CoreGtdWords(core->config.max_orders));
	memset(core->level_buckets, 0xff,
		   sizeof(int32_t) * (core->level_mask + 1));

	core->order_free = CORE_NO_INDEX;
	core->order_high = 0;
	for (int32_t i = core->config.max_orders - 1; i >= 0; i--)
	{
		core->orders[i].status = CORE_SLOT_FREE;
		core->orders[i].hnext = core->order_free;
		core->order_free = i;
	}
	core->level_free = CORE_NO_INDEX;
	for (int32_t i = core->config.max_levels - 1; i >= 0; i--)
	{
		core->levels[i].count = -1;
		core->levels[i].hnext = core->level_free;
		core->level_free = i;
	}
	if (core->config.max_accounts > 0)
		CoreAddAccount(core, CORE_FEE_ACCOUNT, &err);
}

void
CoreSeedLevels(Core *core, uint64_t seed)
{
	core->level_seed = seed;
}

const CoreConfig *
CoreGetConfig(const Core *core)
{
	return &core->config;
}

/* Record an error; returns its code so callers can `return CoreFail(...)`. */
CoreErrorCode
CoreFail(CoreError *err, CoreErrorCode code, const char *fmt,...)
{
	va_list		ap;

	if (err != NULL)
	{
		err->code = code;
		va_start(ap, fmt);
		vsnprintf(err->message, sizeof(err->message), fmt, ap);
		va_end(ap);
		err->detail[0] = '\0';
	}
	return code;
}

/* Add a detail sentence to the error CoreFail just recorded. */
void
CoreFailDetail(CoreError *err, const char *fmt,...)
{
	va_list		ap;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(err->detail, sizeof(err->detail), fmt, ap);
	va_end(ap);
}

/* Codes and symbols: 1..n printable characters, no spaces. */
static bool
CoreValidName(const char *name, size_t maxlen)
{
	size_t		len = name ? strlen(name) : 0;

	if (len == 0 || len >= maxlen)
		return false;
	for (size_t i = 0; i < len; i++)
		if (name[i] <= ' ' || name[i] > '~')
			return false;
	return true;
}

CoreErrorCode
CoreAddAsset(Core *core, int32_t id, const char *code, int scale,
			 CoreError *err)
{
	CoreAsset  *asset;

	if (!CoreValidName(code, CORE_CODE_LEN))
		return CoreFail(err, CORE_E_INVALID,
						"asset code must be 1 to %d printable characters without spaces",
						CORE_CODE_LEN - 1);
	if (scale < 0 || scale > FIXED_MAX_SCALE)
	{
		CoreFail(err, CORE_E_INVALID, "asset scale %d is out of range",
				 scale);
		CoreFailDetail(err, "The scale must be between 0 and %d.",
					   FIXED_MAX_SCALE);
		return CORE_E_INVALID;
	}
	if (CoreFindAsset(core, code) != CORE_NO_INDEX)
		return CoreFail(err, CORE_E_DUPLICATE,
						"asset \"%s\" already exists", code);
	if (core->nassets >= core->config.max_assets ||
		core->nassets >= CORE_MAX_ASSETS)
		return CoreFail(err, CORE_E_CAPACITY,
						"too many assets (exchange.max_assets = %d)",
						core->config.max_assets);
	asset = &core->assets[core->nassets];
	memset(asset, 0, sizeof(*asset));
	asset->id = id;
	asset->scale = (int16_t) scale;
	strncpy(asset->code, code, CORE_CODE_LEN - 1);
	{
		int32_t    *bucket = &core->asset_buckets[NameBucket(asset->code,
															 core->asset_bits)];

		core->asset_hnext[core->nassets] = *bucket;
		*bucket = core->nassets;
	}
	core->nassets++;
	return CORE_OK;
}

/* Parse a market parameter that must be a positive decimal. */
static CoreErrorCode
CoreParsePositive(const char *what, const char *text, FixedDecimal *out,
				  CoreError *err)
{
	FixedStatus st = FixedParseDecimal(text, out);

	if (st == FIXED_TOO_PRECISE)
		return CoreFail(err, CORE_E_INVALID,
						"%s %s has more than %d decimal places", what, text,
						FIXED_MAX_SCALE);
	if (st != FIXED_OK)
		return CoreFail(err, CORE_E_INVALID, "invalid %s: %s", what,
						FixedStatusText(st));
	if (out->mantissa <= 0)
		return CoreFail(err, CORE_E_INVALID, "%s must be positive", what);
	return CORE_OK;
}

CoreErrorCode
CoreAddMarket(Core *core, int32_t id, const char *symbol, const char *base,
			  const char *quote, const char *tick_size, const char *lot_size,
			  int maker_fee_bps, int taker_fee_bps, const char *min_notional,
			  CoreError *err)
{
	CoreMarket	m;
	CoreErrorCode rc;
	const CoreAsset *b;
	const CoreAsset *q;
	int64_t		scale_factor;
	int			exponent;
	int64_t		product;

	memset(&m, 0, sizeof(m));
	if (!CoreValidName(symbol, CORE_SYMBOL_LEN))
		return CoreFail(err, CORE_E_INVALID,
						"market symbol must be 1 to %d printable characters without spaces",
						CORE_SYMBOL_LEN - 1);
	if (CoreFindMarket(core, symbol) != CORE_NO_INDEX)
		return CoreFail(err, CORE_E_DUPLICATE,
						"market \"%s\" already exists", symbol);
	m.base = CoreFindAsset(core, base);
	if (m.base == CORE_NO_INDEX)
		return CoreFail(err, CORE_E_UNKNOWN_ASSET, "unknown asset \"%s\"",
						base ? base : "");
	m.quote = CoreFindAsset(core, quote);
	if (m.quote == CORE_NO_INDEX)
		return CoreFail(err, CORE_E_UNKNOWN_ASSET, "unknown asset \"%s\"",
						quote ? quote : "");
	if (m.base == m.quote)
		return CoreFail(err, CORE_E_INVALID,
						"base and quote asset must differ");
	b = &core->assets[m.base];
	q = &core->assets[m.quote];

	if ((rc = CoreParsePositive("tick_size", tick_size, &m.tick, err)) != CORE_OK)
		return rc;
	if ((rc = CoreParsePositive("lot_size", lot_size, &m.lot, err)) != CORE_OK)
		return rc;

	/* lot_size must be a whole number of base units */
	if (m.lot.scale > b->scale)
	{
		CoreFail(err, CORE_E_INVALID,
				 "lot_size %s is finer than asset %s allows", lot_size,
				 b->code);
		CoreFailDetail(err, "Asset %s keeps %d decimal places.", b->code,
					   b->scale);
		return CORE_E_INVALID;
	}
	FixedPow10(b->scale - m.lot.scale, &scale_factor);
	if (FixedMulOverflow(m.lot.mantissa, scale_factor, &m.lot_units))
		return CoreFail(err, CORE_E_RANGE, "lot_size %s is too large",
						lot_size);

	/* tick * lot must be a whole number of quote units */
	if (FixedMulOverflow(m.tick.mantissa, m.lot.mantissa, &product))
		return CoreFail(err, CORE_E_RANGE,
						"tick_size * lot_size is too large");
	exponent = q->scale - m.tick.scale - m.lot.scale;
	if (exponent >= 0)
	{
		FixedPow10(exponent, &scale_factor);
		if (FixedMulOverflow(product, scale_factor, &m.notional_unit))
			return CoreFail(err, CORE_E_RANGE,
							"tick_size * lot_size is too large");
	}
	else
	{
		if (-exponent > FIXED_MAX_SCALE ||
			!FixedPow10(-exponent, &scale_factor) ||
			product % scale_factor != 0)
		{
			CoreFail(err, CORE_E_INVALID,
					 "tick_size * lot_size is not exactly representable in %s",
					 q->code);
			CoreFailDetail(err,
						   "Asset %s keeps %d decimal places; tick_size %s times lot_size %s needs more, so notionals would not be exact.",
						   q->code, q->scale, tick_size, lot_size);
			return CORE_E_INVALID;
		}
		m.notional_unit = product / scale_factor;
	}

	if (maker_fee_bps < 0 || maker_fee_bps > 10000 ||
		taker_fee_bps < 0 || taker_fee_bps > 10000)
	{
		CoreFail(err, CORE_E_INVALID, "fee out of range");
		CoreFailDetail(err, "Fees are basis points between 0 and 10000.");
		return CORE_E_INVALID;
	}
	if (min_notional == NULL)
		m.min_notional = 0;
	else
	{
		FixedStatus st = FixedParse(min_notional, q->scale, &m.min_notional);

		if (st != FIXED_OK)
			return CoreFail(err, CORE_E_INVALID, "invalid min_notional: %s",
							FixedStatusText(st));
		if (m.min_notional < 0)
			return CoreFail(err, CORE_E_INVALID,
							"min_notional must not be negative");
	}
	if (core->nmarkets >= core->config.max_markets)
		return CoreFail(err, CORE_E_CAPACITY,
						"too many markets (exchange.max_markets = %d)",
						core->config.max_markets);
	if (core->nmarkets >= CORE_MAX_MARKETS)
		return CoreFail(err, CORE_E_CAPACITY,
						"too many markets (the core holds at most %d)",
						CORE_MAX_MARKETS);

	m.id = id;
	strncpy(m.symbol, symbol, CORE_SYMBOL_LEN - 1);
	m.maker_fee_bps = maker_fee_bps;
	m.taker_fee_bps = taker_fee_bps;
	m.best[0] = m.best[1] = CORE_NO_INDEX;
	m.worst[0] = m.worst[1] = CORE_NO_INDEX;
	m.tree[0] = m.tree[1] = CORE_NO_TREE;
	core->markets[core->nmarkets] = m;
	{
		int32_t		i = core->nmarkets;
		int32_t    *bucket = &core->market_buckets[NameBucket(m.symbol,
															  core->market_bits)];

		core->market_hnext[i] = *bucket;
		*bucket = i;
		/* a second market with the same id stays unfound by it, as before */
		if (CoreFindMarketById(core, id) == CORE_NO_INDEX)
		{
			bucket = &core->market_id_buckets[CoreHashBits((uint64_t) (uint32_t) id,
														   core->market_bits)];
			core->market_id_hnext[i] = *bucket;
			*bucket = i;
		}
	}
	core->nmarkets++;
	return CORE_OK;
}

CoreErrorCode
CoreSetHalted(Core *core, int32_t market, bool halted, CoreError *err)
{
	if (market < 0 || market >= core->nmarkets)
		return CoreFail(err, CORE_E_UNKNOWN_MARKET, "unknown market");
	core->markets[market].halted = halted;
	return CORE_OK;
}

int32_t
CoreFindAsset(const Core *core, const char *code)
{
	if (code == NULL)
		return CORE_NO_INDEX;
	for (int32_t i = core->asset_buckets[NameBucket(code, core->asset_bits)];
		 i != CORE_NO_INDEX; i = core->asset_hnext[i])
		if (strcmp(core->assets[i].code, code) == 0)
			return i;
	return CORE_NO_INDEX;
}

int32_t
CoreFindMarket(const Core *core, const char *symbol)
{
	if (symbol == NULL)
		return CORE_NO_INDEX;
	for (int32_t i = core->market_buckets[NameBucket(symbol, core->market_bits)];
		 i != CORE_NO_INDEX; i = core->market_hnext[i])
		if (strcmp(core->markets[i].symbol, symbol) == 0)
			return i;
	return CORE_NO_INDEX;
}

int32_t
CoreFindMarketById(const Core *core, int32_t id)
{
	for (int32_t i = core->market_id_buckets[CoreHashBits((uint64_t) (uint32_t) id,
														  core->market_bits)];
		 i != CORE_NO_INDEX; i = core->market_id_hnext[i])
		if (core->markets[i].id == id)
			return i;
	return CORE_NO_INDEX;
}

const CoreAsset *
CoreGetAsset(const Core *core, int32_t index)
{
	if (index < 0 || index >= core->nassets)
		return NULL;
	return &core->assets[index];
}

const CoreMarket *
CoreGetMarket(const Core *core, int32_t index)
{
	if (index < 0 || index >= core->nmarkets)
		return NULL;
	return &core->markets[index];
}

int32_t
CoreAssetCount(const Core *core)
{
	return core->nassets;
}

int32_t
CoreMarketCount(const Core *core)
{
	return core->nmarkets;
}
