#include "core_internal.h"

#include <string.h>

/* Quote (buy) or base (sell) units one lot of a resting order holds. */
static inline int64_t
HoldPerLot(const CoreMarket *m, const CoreOrder *o)
{
	return o->side == CORE_BUY ? o->price * m->notional_unit : m->lot_units;
}

static inline int32_t
HoldAsset(const CoreMarket *m, const CoreOrder *o)
{
	return o->side == CORE_BUY ? m->quote : m->base;
}

void
CoreOrderHold(const Core *core, const CoreOrder *order, int32_t *asset,
			  int64_t *units)
{
	const CoreMarket *m = &core->markets[order->market];

	*asset = HoldAsset(m, order);
	*units = (order->quantity - order->filled) * HoldPerLot(m, order);
}

static inline void
Emit(const CoreSink *sink, const CoreOrder *o)
{
	if (sink != NULL && sink->order != NULL)
		sink->order(sink->arg, o);
}

/* The balance a resting order holds funds in: quote to buy, base to sell. */
static inline int32_t
HoldBalance(const CoreOrder *o)
{
	return o->balance[o->side == CORE_BUY ? 1 : 0];
}

/* Move what lots of a resting order hold from locked back to available. */
static void
ReleaseHold(Core *core, const CoreOrder *o, int64_t lots)
{
	const CoreMarket *m = &core->markets[o->market];
	int32_t		b = HoldBalance(o);
	int64_t		units = lots * HoldPerLot(m, o);

	core->balances[b].locked -= units;
	core->balances[b].available += units;
	BalanceTouch(core, b);
}

/* Take a resting order off the book with a final status, releasing funds. */
static void
CloseResting(Core *core, int32_t index, CoreStatus status,
			 const CoreSink *sink, CoreOrder *snapshot)
{
	CoreOrder  *o = &core->orders[index];

	OrderPrefetchUnrest(core, o);
	ReleaseHold(core, o, o->quantity - o->filled);
	o->status = (uint8_t) status;
	Emit(sink, o);
	if (snapshot != NULL)
		*snapshot = *o;
	OrderUnrest(core, index);
}

/* Format units of an asset for an error detail. */
static const char *
Amount(const Core *core, int32_t asset, int64_t units, char *buf, size_t len)
{
	FixedFormat(units, core->assets[asset].scale, buf, len);
	return buf;
}

/*
 * Check the request's shape: everything that needs no balances or book.
 * Sets *account to the account's slot.
 */
static CoreErrorCode
CheckOrderRequest(const Core *core, const CoreOrderRequest *req,
				  int32_t *account, CoreError *err)
{
	const CoreMarket *m;
	int64_t		units;
	int64_t		base_units;

	if (req->market < 0 || req->market >= core->nmarkets)
		return CoreFail(err, CORE_E_UNKNOWN_MARKET, "unknown market");
	m = &core->markets[req->market];
	*account = AccountFind(core, req->account);
	if (*account == CORE_NO_INDEX)
		return CoreFail(err, CORE_E_UNKNOWN_ACCOUNT, "unknown account %lld",
						(long long) req->account);
	if (req->account == CORE_FEE_ACCOUNT)
		return CoreFail(err, CORE_E_INVALID,
						"the fee account cannot place orders");
	if (m->halted)
		return CoreFail(err, CORE_E_HALTED, "market %s is halted",
						m->symbol);
	if ((unsigned) req->side > CORE_SELL || (unsigned) req->type > CORE_MARKET ||
		(unsigned) req->tif > CORE_FOK ||
		(unsigned) req->stp > CORE_STP_CANCEL_BOTH || req->id <= 0)
		return CoreFail(err, CORE_E_INVALID, "invalid order parameters");
	if (req->quantity < 0 || req->price < 0 || req->quote_limit < 0)
		return CoreFail(err, CORE_E_RANGE, "amounts must be positive");

	if (req->type == CORE_LIMIT)
	{
		if (req->price == 0)
			return CoreFail(err, CORE_E_INVALID, "a limit order needs a price");
		if (req->quote_limit != 0)
			return CoreFail(err, CORE_E_INVALID,
							"quote_quantity is only for market buy orders");
		if (req->quantity == 0)
			return CoreFail(err, CORE_E_RANGE, "quantity must be positive");
		if (req->post_only && req->tif != CORE_GTC)
			return CoreFail(err, CORE_E_INVALID,
							"a post-only order must be good-till-cancelled");
		if (req->expire_at != 0)
		{
			if (req->tif != CORE_GTC)
				return CoreFail(err, CORE_E_INVALID,
								"expire_at needs time_in_force gtc");
			if (req->expire_at <= req->now)
				return CoreFail(err, CORE_E_INVALID,
								"expire_at is not in the future");
		}
		/* every later notional of this order fits once the total does */
		if (FixedMulOverflow(req->quantity, m->lot_units, &base_units) ||
			FixedMul3Overflow(req->price, req->quantity, m->notional_unit,
							  &units))
			return CoreFail(err, CORE_E_RANGE, "order is too large");
		if (units < m->min_notional)
		{
			char		a[48],
						b[48];

			CoreFail(err, CORE_E_MIN_NOTIONAL,
					 "order value is below the market's minimum");
			CoreFailDetail(err, "The order is worth %s %s; %s needs at least %s %s.",
						   Amount(core, m->quote, units, a, sizeof(a)),
						   core->assets[m->quote].code, m->symbol,
						   Amount(core, m->quote, m->min_notional, b, sizeof(b)),
						   core->assets[m->quote].code);
			return CORE_E_MIN_NOTIONAL;
		}
	}
	else
	{
		if (req->price != 0)
			return CoreFail(err, CORE_E_INVALID,
							"a market order takes no price");
		if (req->post_only)
			return CoreFail(err, CORE_E_INVALID,
							"a market order cannot be post-only");
		if (req->expire_at != 0)
			return CoreFail(err, CORE_E_INVALID,
							"a market order cannot have expire_at");
		if ((req->quantity == 0) == (req->quote_limit == 0))
			return CoreFail(err, CORE_E_INVALID,
							"a market order needs exactly one of quantity and quote_quantity");
		if (req->quote_limit != 0)
		{
			if (req->side != CORE_BUY)
				return CoreFail(err, CORE_E_INVALID,
								"quote_quantity is only for market buy orders");
			if (req->tif == CORE_FOK)
				return CoreFail(err, CORE_E_INVALID,
								"a fill-or-kill order needs a quantity");
			if (req->quote_limit < m->min_notional)
				return CoreFail(err, CORE_E_MIN_NOTIONAL,
								"quote_quantity is below the market's minimum");
		}
		else if (FixedMulOverflow(req->quantity, m->lot_units, &units))
			return CoreFail(err, CORE_E_RANGE, "order is too large");
	}
	return CORE_OK;
}

/*
 * Lots a taker could fill right now (fill-or-kill check), stopping at
 * want; follows the same rules as the match loop.
 */
static int64_t
Fillable(const Core *core, const CoreOrder *t, int64_t want,
		 int64_t budget)
{
	const CoreMarket *m = &core->markets[t->market];
	int			opp = t->side == CORE_BUY ? CORE_SELL : CORE_BUY;
	int64_t		got = 0;

	for (int32_t l = m->best[opp]; l != CORE_NO_INDEX && got < want;
		 l = core->levels[l].worse)
	{
		const CoreLevel *lv = &core->levels[l];
		int64_t		unit_cost = lv->price * m->notional_unit;

		if (t->type == CORE_LIMIT && !PriceCrosses(t->side, t->price, lv->price))
			break;
		for (int32_t i = lv->head; i != CORE_NO_INDEX && got < want;
			 i = core->orders[i].next)
		{
			const CoreOrder *mk = &core->orders[i];
			int64_t		lots = mk->quantity - mk->filled;

			if (mk->account == t->account)
			{
				if (t->stp == CORE_STP_CANCEL_MAKER)
					continue;
				return got;
			}
			if (lots > want - got)
				lots = want - got;
			if (budget >= 0)
			{
				if (budget / unit_cost < lots)
					return got + budget / unit_cost;
				budget -= lots * unit_cost;
			}
			got += lots;
		}
	}
	return got;
}

/*
 * Execute lots between taker t and the maker in slot mi at its price.
 * Both orders carry their balance indexes, the fee account's are cached.
 */
static void
Trade(Core *core, CoreOrder *t, int32_t mi, int64_t lots,
	  const CoreSink *sink, int64_t *next_trade_id)
{
	CoreOrder  *mk = &core->orders[mi];
	CoreLevel  *lv = &core->levels[mk->level];
	const CoreMarket *m = &core->markets[t->market];
	CoreTrade	tr;
	const CoreOrder *buyer = t->side == CORE_BUY ? t : mk;
	const CoreOrder *seller = t->side == CORE_BUY ? mk : t;
	int32_t		buyer_base = buyer->balance[0];
	int32_t		buyer_quote = buyer->balance[1];
	int32_t		seller_base = seller->balance[0];
	int32_t		seller_quote = seller->balance[1];
	int32_t		fee_base = core->fee_balances[m->base];
	int32_t		fee_quote = core->fee_balances[m->quote];

	/* every field is set below: no memset */
	tr.id = (*next_trade_id)++;
	tr.market = t->market;
	tr.price = lv->price;
	tr.lots = lots;
	tr.base_units = lots * m->lot_units;
	tr.quote_units = lots * lv->price * m->notional_unit;
	tr.maker_order = mk->id;
	tr.taker_order = t->id;
	tr.maker_account = mk->account;
	tr.taker_account = t->account;
	tr.taker_side = t->side;
	tr.maker_fee = FixedFeeCeil(buyer == mk ? tr.base_units : tr.quote_units,
								m->maker_fee_bps);
	tr.taker_fee = FixedFeeCeil(buyer == t ? tr.base_units : tr.quote_units,
								m->taker_fee_bps);

	/* the buyer pays: from its hold, or from available for a market buy */
	if (buyer == t && t->type == CORE_MARKET)
		core->balances[buyer_quote].available -= tr.quote_units;
	else
	{
		int64_t		held = lots * buyer->price * m->notional_unit;

		/* a buy filled below its limit gets the difference back at once */
		core->balances[buyer_quote].locked -= held;
		core->balances[buyer_quote].available += held - tr.quote_units;
	}
	core->balances[seller_base].locked -= tr.base_units;

	{
		int64_t		buyer_fee = buyer == t ? tr.taker_fee : tr.maker_fee;
		int64_t		seller_fee = seller == t ? tr.taker_fee : tr.maker_fee;

		core->balances[buyer_base].available += tr.base_units - buyer_fee;
		core->balances[seller_quote].available += tr.quote_units - seller_fee;
		core->balances[fee_base].available += buyer_fee;
		core->balances[fee_quote].available += seller_fee;
	}

	/*
	 * The taker's and the fee account's balances are dirty from the
	 * order's first trade on: later trades only add the maker's (same
	 * order in the dirty list as touching all six every time).
	 */
	if (t->filled == 0)
	{
		BalanceTouch(core, buyer_base);
		BalanceTouch(core, buyer_quote);
		BalanceTouch(core, seller_base);
		BalanceTouch(core, seller_quote);
		BalanceTouch(core, fee_base);
		BalanceTouch(core, fee_quote);
	}
	else
	{
		BalanceTouch(core, mk->balance[0]);
		BalanceTouch(core, mk->balance[1]);
	}

	mk->filled += lots;
	mk->filled_quote += tr.quote_units;
	lv->lots -= lots;
	t->filled += lots;
	t->filled_quote += tr.quote_units;

	if (mk->filled == mk->quantity)
	{
		mk->status = CORE_FILLED;
		Emit(sink, mk);
		OrderUnrest(core, mi);
	}
	else
	{
		mk->status = CORE_PARTIALLY_FILLED;
		Emit(sink, mk);
	}
	if (sink != NULL && sink->trade != NULL)
		sink->trade(sink->arg, &tr);
}

/*
 * Start loading, all at once, the order slots a new order will touch
 * later: the first maker it would trade with, and, if it may rest, the
 * free slot it will fill, the newest order of its level (whose next link
 * it sets) and of its account (whose account link it sets).  These are
 * random slots of a pool far larger than the caches: found one after the
 * other, each was a full memory latency (a perf profile of the core
 * benchmark put a third of CorePlace's time on those loads).  Sets
 * *own_level to the order's price level, CORE_NO_INDEX while there is
 * none: matching touches only the other side's levels, so it stays valid.
 */
static inline void
PlacePrefetch(const Core *core, const CoreOrderRequest *req,
			  const CoreMarket *m, int opp, int32_t account, bool may_rest,
			  int32_t *own_level)
{
	int32_t		best = m->best[opp];

	if (best != CORE_NO_INDEX &&
		(req->type == CORE_MARKET ||
		 PriceCrosses(req->side, req->price, core->levels[best].price)))
		OrderPrefetch(core, core->levels[best].head);
	if (!may_rest)
		return;
	if (core->order_free != CORE_NO_INDEX)
		OrderPrefetch(core, core->order_free);
	if (core->accounts[account].orders != CORE_NO_INDEX)
		__builtin_prefetch(&core->orders[core->accounts[account].orders].acct_prev, 1);
	*own_level = LevelFind(core, req->market, req->side, req->price);
	if (*own_level != CORE_NO_INDEX &&
		core->levels[*own_level].tail != CORE_NO_INDEX)
		__builtin_prefetch(&core->orders[core->levels[*own_level].tail].next, 1);
}

CoreErrorCode
CorePlace(Core *core, const CoreOrderRequest *req, const CoreSink *sink,
		  int64_t *next_trade_id, CoreOrder *result, CoreError *err)
{
	CoreErrorCode rc;
	const CoreMarket *m;
	CoreOrder	t;
	int			opp;
	int32_t		account = CORE_NO_INDEX;
	int32_t		base;
	int32_t		quote;
	int32_t		fee_base;
	int32_t		fee_quote;
	int32_t		missing;
	int32_t		hold_asset = CORE_NO_INDEX;
	int32_t		hold_balance = CORE_NO_INDEX;
	int64_t		hold = 0;
	int64_t		budget = -1;
	bool		market_buy;
	bool		may_rest;
	bool		stopped = false;
	bool		out_of_funds = false;
	int32_t		own_level = CORE_NO_INDEX;

	if ((rc = CheckOrderRequest(core, req, &account, err)) != CORE_OK)
		return rc;
	if (OrderFind(core, req->id) != CORE_NO_INDEX)
		return CoreFail(err, CORE_E_INTERNAL, "order id %lld is in use",
						(long long) req->id);
	m = &core->markets[req->market];
	opp = req->side == CORE_BUY ? CORE_SELL : CORE_BUY;
	market_buy = req->type == CORE_MARKET && req->side == CORE_BUY;
	may_rest = req->type == CORE_LIMIT && req->tif == CORE_GTC;
	PlacePrefetch(core, req, m, opp, account, may_rest, &own_level);

	/* the balances this order moves, looked up once: CORE_NO_INDEX if new */
	base = BalanceFind(core, req->account, m->base);
	quote = BalanceFind(core, req->account, m->quote);
	fee_base = core->fee_balances[m->base];
	fee_quote = core->fee_balances[m->quote];

	memset(&t, 0, sizeof(t));
	t.id = req->id;
	t.account = req->account;
	t.price = req->price;
	t.quantity = req->quote_limit != 0 ? INT64_MAX : req->quantity;
	t.market = (uint16_t) req->market;
	t.level = t.prev = t.next = t.acct_prev = t.acct_next = t.hnext =
		CORE_NO_INDEX;
	t.account_index = account;
	t.side = (uint8_t) req->side;
	t.type = (uint8_t) req->type;
	t.tif = (uint8_t) req->tif;
	t.stp = (uint8_t) req->stp;
	t.post_only = req->post_only;
	t.status = CORE_OPEN;
	CoreOrderSetLimits(&t, req->quote_limit, req->expire_at);

	/* what the order holds while it lives */
	if (req->type == CORE_LIMIT)
	{
		hold_asset = HoldAsset(m, &t);
		hold = req->quantity * HoldPerLot(m, &t);
	}
	else if (req->side == CORE_SELL)
	{
		hold_asset = m->base;
		hold = req->quantity * m->lot_units;
	}
	else if (req->quote_limit != 0)
	{
		hold_asset = m->quote;
		hold = req->quote_limit;	/* checked, not held: it is spent */
	}

	/* capacity first, so that nothing is half done */
	missing = (base == CORE_NO_INDEX) + (quote == CORE_NO_INDEX) +
		(fee_base == CORE_NO_INDEX) + (fee_quote == CORE_NO_INDEX);
	if (unlikely(missing > 0) &&
		core->nbalances + missing > core->config.max_balances)
		return CoreFail(err, CORE_E_CAPACITY,
						"too many balances (exchange.max_balances = %d)",
						core->config.max_balances);
	if (may_rest && core->order_free == CORE_NO_INDEX)
		return CoreFail(err, CORE_E_CAPACITY,
						"too many open orders (exchange.max_orders = %d)",
						core->config.max_orders);
	if (may_rest && core->level_free == CORE_NO_INDEX &&
		own_level == CORE_NO_INDEX)
		return CoreFail(err, CORE_E_CAPACITY,
						"too many price levels (exchange.max_price_levels = %d)",
						core->config.max_levels);

	if (hold_asset != CORE_NO_INDEX)
	{
		int32_t		b = hold_asset == m->base ? base : quote;
		int64_t		available = b == CORE_NO_INDEX ? 0 :
			core->balances[b].available;

		if (available < hold)
		{
			char		a[48],
						bf[48];

			CoreFail(err, CORE_E_INSUFFICIENT, "insufficient %s balance",
					 core->assets[hold_asset].code);
			CoreFailDetail(err,
						   "Account %lld has %s %s available; the order needs %s %s.",
						   (long long) t.account,
						   Amount(core, hold_asset, available, a, sizeof(a)),
						   core->assets[hold_asset].code,
						   Amount(core, hold_asset, hold, bf, sizeof(bf)),
						   core->assets[hold_asset].code);
			return CORE_E_INSUFFICIENT;
		}
	}

	/* post-only: refused when any part would match on arrival */
	if (req->post_only && m->best[opp] != CORE_NO_INDEX &&
		PriceCrosses(t.side, t.price, core->levels[m->best[opp]].price))
	{
		t.status = CORE_REJECTED;
		Emit(sink, &t);
		*result = t;
		return CORE_OK;
	}

	if (market_buy)
		budget = quote == CORE_NO_INDEX ? 0 : core->balances[quote].available;
	if (req->tif == CORE_FOK && Fillable(core, &t, t.quantity, budget) < t.quantity)
	{
		t.status = CORE_CANCELLED;
		Emit(sink, &t);
		*result = t;
		return CORE_OK;
	}

	/* from here on the order proceeds: nothing below can fail */
	if (unlikely(missing > 0))
	{
		if (base == CORE_NO_INDEX)
			base = BalanceCreate(core, t.account, m->base);
		if (quote == CORE_NO_INDEX)
			quote = BalanceCreate(core, t.account, m->quote);
		if (fee_base == CORE_NO_INDEX)
			BalanceCreate(core, CORE_FEE_ACCOUNT, m->base);
		if (fee_quote == CORE_NO_INDEX)
			BalanceCreate(core, CORE_FEE_ACCOUNT, m->quote);
	}
	t.balance[0] = base;
	t.balance[1] = quote;
	if (hold_asset != CORE_NO_INDEX)
		hold_balance = hold_asset == m->base ? base : quote;
	if (hold_asset != CORE_NO_INDEX && !market_buy)
	{
		core->balances[hold_balance].available -= hold;
		core->balances[hold_balance].locked += hold;
		BalanceTouch(core, hold_balance);
	}

	while (t.filled < t.quantity)
	{
		int32_t		l = m->best[opp];
		CoreLevel  *lv;
		int32_t		mi;
		CoreOrder  *mk;
		int64_t		lots;

		if (l == CORE_NO_INDEX)
			break;
		lv = &core->levels[l];
		if (t.type == CORE_LIMIT && !PriceCrosses(t.side, t.price, lv->price))
			break;
		mi = lv->head;
		mk = &core->orders[mi];
		/* the next maker, while this one trades */
		OrderPrefetch(core, mk->next);

		if (mk->account == t.account)
		{
			if (t.stp == CORE_STP_CANCEL_TAKER)
			{
				stopped = true;
				break;
			}
			CloseResting(core, mi, CORE_CANCELLED, sink, NULL);
			if (t.stp == CORE_STP_CANCEL_BOTH)
			{
				stopped = true;
				break;
			}
			continue;
		}

		lots = mk->quantity - mk->filled;
		if (lots > t.quantity - t.filled)
			lots = t.quantity - t.filled;
		else
			OrderPrefetchUnrest(core, mk);	/* it will be filled */
		if (market_buy)
		{
			int64_t		unit_cost = lv->price * m->notional_unit;
			int64_t		money = core->balances[quote].available;

			if (req->quote_limit != 0 &&
				req->quote_limit - t.filled_quote < money)
				money = req->quote_limit - t.filled_quote;
			if (money / unit_cost < lots)
				lots = money / unit_cost;
			if (lots == 0)
			{
				out_of_funds = true;
				break;
			}
		}
		Trade(core, &t, mi, lots, sink, next_trade_id);
	}

	if (req->quote_limit != 0)
	{
		t.quantity = t.filled;
		/* a budget spent to the last unit is fully executed, book or not */
		if (t.filled_quote == req->quote_limit)
			out_of_funds = true;
	}

	if (t.filled == t.quantity && t.quantity > 0 &&
		(req->quote_limit == 0 || out_of_funds))
		t.status = CORE_FILLED;
	else if (may_rest && !stopped && t.filled < t.quantity)
	{
		int32_t		slot = OrderAlloc(core);
		int32_t		level = own_level != CORE_NO_INDEX ? own_level :
			LevelCreate(core, t.market, t.side, t.price);
		CoreOrder  *o = &core->orders[slot];

		t.status = t.filled > 0 ? CORE_PARTIALLY_FILLED : CORE_OPEN;
		*o = t;
		OrderRest(core, slot, level);
		Emit(sink, o);
		*result = *o;
		return CORE_OK;
	}
	else
	{
		/* what did not execute is cancelled and its hold released */
		int64_t		rest = t.quantity - t.filled;

		if (rest > 0 && !market_buy)
		{
			int64_t		units = rest * (t.type == CORE_LIMIT ?
										HoldPerLot(m, &t) : m->lot_units);

			core->balances[hold_balance].locked -= units;
			core->balances[hold_balance].available += units;
			BalanceTouch(core, hold_balance);
		}
		t.status = CORE_CANCELLED;
	}
	Emit(sink, &t);
	*result = t;
	return CORE_OK;
}

void
CorePrefetchAccountId(const Core *core, int64_t account, int32_t market)
{
	__builtin_prefetch(&core->account_buckets[AccountBucket(core, account)]);
	if (market >= 0 && market < core->nmarkets)
	{
		const CoreMarket *m = &core->markets[market];

		__builtin_prefetch(&core->balance_buckets[BalanceBucket(core, account,
																m->base)]);
		__builtin_prefetch(&core->balance_buckets[BalanceBucket(core, account,
																m->quote)]);
	}
}

void
CorePrefetchAccount(const Core *core, int64_t account, int32_t market)
{
	int32_t		a = core->account_buckets[AccountBucket(core, account)];

	if (a != CORE_NO_INDEX)
		__builtin_prefetch(&core->accounts[a]);
	if (market >= 0 && market < core->nmarkets)
	{
		const CoreMarket *m = &core->markets[market];

		for (int i = 0; i < 2; i++)
		{
			int32_t		b = core->balance_buckets[BalanceBucket(core, account,
																i == 0 ? m->base : m->quote)];

			if (b != CORE_NO_INDEX)
				__builtin_prefetch(&core->balances[b], 1);
		}
	}
}

void
CorePrefetchOrderId(const Core *core, int64_t order_id)
{
	__builtin_prefetch(&core->order_buckets[OrderBucket(core, order_id)]);
}

void
CorePrefetchOrder(const Core *core, int64_t order_id)
{
	int32_t		i = core->order_buckets[OrderBucket(core, order_id)];

	/* the bucket's first order: a chain is short at the pool's load */
	OrderPrefetch(core, i);
}

/* Find a resting order of this account, or fail as unknown. */
static CoreErrorCode
FindOwnOrder(const Core *core, int64_t account, int64_t order_id,
			 int32_t *index, CoreError *err)
{
	int32_t		i = OrderFind(core, order_id);

	if (i == CORE_NO_INDEX || core->orders[i].account != account)
		return CoreFail(err, CORE_E_UNKNOWN_ORDER,
						"order %lld is not open for account %lld",
						(long long) order_id, (long long) account);
	*index = i;
	return CORE_OK;
}

CoreErrorCode
CoreCancel(Core *core, int64_t account, int64_t order_id,
		   const CoreSink *sink, CoreOrder *result, CoreError *err)
{
	int32_t		i = CORE_NO_INDEX;
	CoreErrorCode rc = FindOwnOrder(core, account, order_id, &i, err);

	if (rc != CORE_OK)
		return rc;
	CloseResting(core, i, CORE_CANCELLED, sink, result);
	return CORE_OK;
}

CoreErrorCode
CoreAmend(Core *core, int64_t account, int64_t order_id,
		  int64_t new_quantity, const CoreSink *sink, CoreOrder *result,
		  CoreError *err)
{
	int32_t		i = CORE_NO_INDEX;
	CoreOrder  *o;
	CoreErrorCode rc = FindOwnOrder(core, account, order_id, &i, err);

	if (rc != CORE_OK)
		return rc;
	o = &core->orders[i];
	if (new_quantity <= 0)
		return CoreFail(err, CORE_E_RANGE, "new quantity must be positive");
	if (new_quantity > o->quantity)
	{
		CoreFail(err, CORE_E_INVALID, "cannot increase an order's quantity");
		CoreFailDetail(err, "An amendment may only reduce the quantity, which keeps the order's time priority; place a new order to add.");
		return CORE_E_INVALID;
	}
	if (new_quantity <= o->filled)
	{
		CoreFail(err, CORE_E_INVALID,
				 "new quantity must be more than the executed quantity");
		CoreFailDetail(err, "Cancel the order to stop it instead.");
		return CORE_E_INVALID;
	}
	if (new_quantity < o->quantity)
	{
		int64_t		delta = o->quantity - new_quantity;

		ReleaseHold(core, o, delta);
		core->levels[o->level].lots -= delta;
		o->quantity = new_quantity;
		Emit(sink, o);
	}
	*result = *o;
	return CORE_OK;
}

int32_t
CoreCancelAll(Core *core, int64_t account, int32_t market,
			  const CoreSink *sink)
{
	int32_t		a = AccountFind(core, account);
	int32_t		n = 0;
	int32_t		i;

	if (a == CORE_NO_INDEX)
		return 0;
	for (i = core->accounts[a].orders; i != CORE_NO_INDEX;)
	{
		int32_t		next = core->orders[i].acct_next;

		if (market < 0 || core->orders[i].market == market)
		{
			CloseResting(core, i, CORE_CANCELLED, sink, NULL);
			n++;
		}
		i = next;
	}
	return n;
}

int32_t
CoreExpire(Core *core, int64_t now, int32_t max, const CoreSink *sink)
{
	int32_t		n = 0;
	int32_t		words = (core->order_high + 63) / 64;
	int64_t		next = INT64_MAX;
	bool		complete = true;

	/*
	 * The pool is searched only when some order may be due, and only
	 * through the bitmap of slots whose order has an expiry, a word (64
	 * slots) at a time, as far as slots were ever used (order_high).  A
	 * scan of every slot's status up to order_high had taken 0.26 ms a
	 * pass with 100,000 orders resting, and 14 ms after a burst had used
	 * 1.9 million slots (every slot up to exchange.max_orders: 12-16 ms).
	 */
	if (core->ngtd == 0 || now < core->gtd_next)
		return 0;
	for (int32_t w = 0; w < words && complete; w++)
	{
		/* a copy: closing an order clears its bit in the bitmap */
		uint64_t	bits = core->gtd_slots[w];

		while (bits != 0)
		{
			int32_t		i = w * 64 + __builtin_ctzll(bits);
			int64_t		expire_at = CoreOrderExpireAt(&core->orders[i]);

			bits &= bits - 1;
			if (expire_at <= now)
			{
				if (n == max)
				{
					complete = false;
					break;
				}
				CloseResting(core, i, CORE_EXPIRED, sink, NULL);
				n++;
			}
			else if (expire_at < next)
				next = expire_at;
		}
	}
	/* a complete search knows the next expiry exactly */
	if (complete)
		core->gtd_next = next;
	return n;
}

CoreErrorCode
CoreRestoreOrder(Core *core, const CoreOrder *order, CoreError *err)
{
	const CoreMarket *m;
	int32_t		account;
	int32_t		base;
	int32_t		quote;
	int32_t		slot;
	int32_t		level;
	int32_t		missing;
	int64_t		units;

	if (order->market >= core->nmarkets)
		return CoreFail(err, CORE_E_UNKNOWN_MARKET,
						"order %lld: unknown market", (long long) order->id);
	m = &core->markets[order->market];
	account = AccountFind(core, order->account);
	if (account == CORE_NO_INDEX)
		return CoreFail(err, CORE_E_UNKNOWN_ACCOUNT,
						"order %lld: unknown account %lld",
						(long long) order->id, (long long) order->account);
	if (order->type != CORE_LIMIT ||
		order->price <= 0 || order->filled < 0 ||
		order->quantity <= order->filled ||
		(order->status != CORE_OPEN && order->status != CORE_PARTIALLY_FILLED) ||
		FixedMul3Overflow(order->price, order->quantity, m->notional_unit,
						  &units))
		return CoreFail(err, CORE_E_INVALID, "order %lld cannot rest",
						(long long) order->id);
	if (OrderFind(core, order->id) != CORE_NO_INDEX)
		return CoreFail(err, CORE_E_DUPLICATE, "order %lld restored twice",
						(long long) order->id);
	missing = BalanceMissing(core, order->account, m->base) +
		BalanceMissing(core, order->account, m->quote);
	if (core->nbalances + missing > core->config.max_balances)
		return CoreFail(err, CORE_E_CAPACITY,
						"too many balances (exchange.max_balances = %d)",
						core->config.max_balances);
	if (core->order_free == CORE_NO_INDEX)
		return CoreFail(err, CORE_E_CAPACITY,
						"too many open orders (exchange.max_orders = %d)",
						core->config.max_orders);
	if (core->level_free == CORE_NO_INDEX &&
		LevelFind(core, order->market, order->side, order->price) == CORE_NO_INDEX)
		return CoreFail(err, CORE_E_CAPACITY,
						"too many price levels (exchange.max_price_levels = %d)",
						core->config.max_levels);

	base = BalanceEnsure(core, order->account, m->base);
	quote = BalanceEnsure(core, order->account, m->quote);
	slot = OrderAlloc(core);
	level = LevelGetOrCreate(core, order->market, order->side, order->price);
	core->orders[slot] = *order;
	core->orders[slot].account_index = account;
	core->orders[slot].balance[0] = base;
	core->orders[slot].balance[1] = quote;
	OrderRest(core, slot, level);
	return CORE_OK;
}
