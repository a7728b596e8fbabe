#include "core_internal.h"

#include <string.h>

/*
 * How far (in ticks) LevelCreate looks for a neighbour through the hash,
 * on a side of more than LEVEL_WALK levels (a shorter side is walked).
 */
#define LEVEL_NEAR		32
#define LEVEL_WALK		32
#define LEVEL_NOT_NEAR	(-2)

/*
 * The first level of a side that a new level at price (not on the side
 * yet) is better than, found from the nearest level within LEVEL_NEAR
 * ticks: CORE_NO_INDEX for the back of the side, LEVEL_NOT_NEAR when no
 * level is that near.  Every price between the one found and the new one
 * was looked up, so nothing lies between them.
 */
static int32_t
LevelNear(const Core *core, int32_t market, int side, int64_t price)
{
	/* the better direction: higher prices for bids, lower for asks */
	int64_t		better = side == CORE_BUY ? 1 : -1;

	if (price > INT64_MAX - LEVEL_NEAR)
		return LEVEL_NOT_NEAR;
	for (int64_t d = 1; d <= LEVEL_NEAR; d++)
	{
		int32_t		l;

		/* a level just worse: the new one goes in front of it */
		if (price - better * d > 0 &&
			(l = LevelFind(core, market, side, price - better * d)) != CORE_NO_INDEX)
			return l;
		/* a level just better: the new one goes behind it */
		if ((l = LevelFind(core, market, side, price + better * d)) != CORE_NO_INDEX)
			return core->levels[l].worse;
	}
	return LEVEL_NOT_NEAR;
}

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
	 * Find the first level this one is better than.  A price behind the
	 * whole side goes straight to the back.  Otherwise, on a side of more
	 * than LEVEL_WALK levels, look for a level within LEVEL_NEAR ticks
	 * first, through the hash (neighbouring prices have neighbouring
	 * buckets): in a book whose prices are close together a new level
	 * finds its neighbour at once, wherever it is.  Only failing that,
	 * walk, from the end whose price is nearer (a level per step: a new
	 * level 10,000 levels deep had cost 14.5 us from the best end).
	 */
	if (m->worst[side] == CORE_NO_INDEX ||
		PriceBetter(side, core->levels[m->worst[side]].price, price))
		at = CORE_NO_INDEX;		/* an empty side, or behind all of it */
	else if (m->nlevels[side] <= LEVEL_WALK ||
			 (at = LevelNear(core, market, side, price)) == LEVEL_NOT_NEAR)
	{
		int64_t		best = core->levels[m->best[side]].price;
		int64_t		worst = core->levels[m->worst[side]].price;

		if ((best > price ? best - price : price - best) <=
			(worst > price ? worst - price : price - worst))
		{
			/* nearer the best price: walk from there */
			at = m->best[side];
			while (at != CORE_NO_INDEX &&
				   !PriceBetter(side, price, core->levels[at].price))
				at = core->levels[at].worse;
		}
		else
		{
			/*
			 * nearer the worst price, where a book's levels are sparse:
			 * walk from there to the first level better than this one
			 */
			int32_t		w = m->worst[side];

			while (w != CORE_NO_INDEX &&
				   PriceBetter(side, price, core->levels[w].price))
				w = core->levels[w].better;
			at = w == CORE_NO_INDEX ? m->best[side] : core->levels[w].worse;
		}
	}

	m->nlevels[side]++;
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

	m->nlevels[l->side]--;
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
