#include "core_internal.h"

#include <string.h>

static uint32_t
LevelHash(int32_t market, int side, int64_t price)
{
	return CoreHash64((uint64_t) price * 4099 +
					  (uint64_t) market * 2 + (uint64_t) side);
}

/* True when price a is better than price b on a book side. */
static inline bool
PriceBetter(int side, int64_t a, int64_t b)
{
	return side == CORE_BUY ? a > b : a < b;
}

int32_t
LevelFind(const Core *core, int32_t market, int side, int64_t price)
{
	int32_t		i = core->level_buckets[LevelHash(market, side, price) &
										core->level_mask];

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
int32_t
LevelGetOrCreate(Core *core, int32_t market, int side, int64_t price)
{
	CoreMarket *m = &core->markets[market];
	int32_t		i = LevelFind(core, market, side, price);
	int32_t		at;
	uint32_t	bucket;
	CoreLevel  *l;

	if (i != CORE_NO_INDEX)
		return i;
	if (core->level_free == CORE_NO_INDEX)
		return CORE_NO_INDEX;
	i = core->level_free;
	l = &core->levels[i];
	core->level_free = l->hnext;
	core->nlevels++;

	memset(l, 0, sizeof(*l));
	l->price = price;
	l->market = market;
	l->side = (uint8_t) side;
	l->head = l->tail = CORE_NO_INDEX;
	bucket = LevelHash(market, side, price) & core->level_mask;
	l->hnext = core->level_buckets[bucket];
	core->level_buckets[bucket] = i;

	/*
	 * Find the first level this one is better than.  New prices are
	 * usually near the touch, so walk from the best end, except for a
	 * price behind the whole side, which goes straight to the back.
	 */
	if (m->worst[side] != CORE_NO_INDEX &&
		PriceBetter(side, core->levels[m->worst[side]].price, price))
		at = CORE_NO_INDEX;
	else
	{
		at = m->best[side];
		while (at != CORE_NO_INDEX &&
			   !PriceBetter(side, price, core->levels[at].price))
			at = core->levels[at].worse;
	}

	if (at == CORE_NO_INDEX)
	{
		l->better = m->worst[side];
		l->worse = CORE_NO_INDEX;
		if (m->worst[side] != CORE_NO_INDEX)
			core->levels[m->worst[side]].worse = i;
		else
			m->best[side] = i;
		m->worst[side] = i;
	}
	else
	{
		l->worse = at;
		l->better = core->levels[at].better;
		if (l->better != CORE_NO_INDEX)
			core->levels[l->better].worse = i;
		else
			m->best[side] = i;
		core->levels[at].better = i;
	}
	return i;
}

/* Unlink an empty level from its side and the hash, and free it. */
static void
LevelDelete(Core *core, int32_t i)
{
	CoreLevel  *l = &core->levels[i];
	CoreMarket *m = &core->markets[l->market];
	int32_t    *link = &core->level_buckets[LevelHash(l->market, l->side,
													   l->price) &
											core->level_mask];

	while (*link != i)
		link = &core->levels[*link].hnext;
	*link = l->hnext;

	if (l->better != CORE_NO_INDEX)
		core->levels[l->better].worse = l->worse;
	else
		m->best[l->side] = l->worse;
	if (l->worse != CORE_NO_INDEX)
		core->levels[l->worse].better = l->better;
	else
		m->worst[l->side] = l->better;

	l->count = -1;
	l->hnext = core->level_free;
	core->level_free = i;
	core->nlevels--;
}

/*
 * Put the order in slot index at the back of level, into the id hash and
 * into its account's list.  The slot's fields are already filled in,
 * account_index and balance[] included.
 */
void
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

	if (o->expire_at != 0)
		core->ngtd++;
	core->norders++;
}

/* Take a resting order off its level, the hash and its account; free it. */
void
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

	if (o->expire_at != 0)
		core->ngtd--;
	core->norders--;
	o->status = CORE_SLOT_FREE;
	o->hnext = core->order_free;
	core->order_free = index;
}

const CoreOrder *
CoreFindOrder(const Core *core, int64_t order_id)
{
	int32_t		i = OrderFind(core, order_id);

	return i == CORE_NO_INDEX ? NULL : &core->orders[i];
}

int32_t
CoreOpenOrderCount(const Core *core)
{
	return core->norders;
}

int32_t
CoreBestLevel(const Core *core, int32_t market, CoreSide side)
{
	if (market < 0 || market >= core->nmarkets)
		return CORE_NO_INDEX;
	return core->markets[market].best[side];
}

const CoreLevel *
CoreGetLevel(const Core *core, int32_t level)
{
	if (level < 0 || level >= core->config.max_levels ||
		core->levels[level].count < 0)
		return NULL;
	return &core->levels[level];
}

void
CoreForEachOrder(const Core *core, bool (*fn) (void *arg, const CoreOrder *order),
				 void *arg)
{
	for (int32_t i = 0; i < core->config.max_orders; i++)
		if (core->orders[i].status != CORE_SLOT_FREE &&
			!fn(arg, &core->orders[i]))
			return;
}
