#include "core_internal.h"

#include <string.h>

/*
 * Create the level at price, which must not exist, and link it into its
 * side in price order.  CORE_NO_INDEX when no level is free (callers check
 * first).
 */
int32_t
LevelCreate(Core *core, int32_t market, int side, int64_t price)
{
	CoreMarket *m = &core->markets[market];
	int32_t		i;
	int32_t		at;
	uint32_t	bucket;
	CoreLevel  *l;

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
	bucket = LevelBucket(core, market, side, price);
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
void
LevelDelete(Core *core, int32_t i)
{
	CoreLevel  *l = &core->levels[i];
	CoreMarket *m = &core->markets[l->market];
	int32_t    *link = &core->level_buckets[LevelBucket(core, l->market,
														l->side, l->price)];

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
	for (int32_t i = 0; i < core->order_high; i++)
		if (core->orders[i].status != CORE_SLOT_FREE &&
			!fn(arg, &core->orders[i]))
			return;
}
