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
 * A side gets its level tree when it grows past LEVEL_TREE_ON levels and
 * loses it when it shrinks below LEVEL_TREE_OFF: a short side is walked
 * at once, and a side near the bound does not build and drop its tree
 * over and over.
 */
#define LEVEL_TREE_ON	64
#define LEVEL_TREE_OFF	32

/*
 * The level tree of a side: a treap threaded through its levels (the
 * tree_* fields of CoreLevel), whose in-order sequence is the side's list
 * from best to worst, so a level's in-order neighbours are its better and
 * worse levels, and whose priorities are drawn afresh for every level
 * made (a hash of how many were made before and of the seed: a level
 * made again in a reused slot, as the last-in-first-out free list does
 * all the time, does not keep the place in the tree that slot had).  Adding or taking
 * out a level rotates it a couple of times on average and touches no
 * level far from it; only placing a new level far from any other
 * searches it (TreeFirstWorse), a root-to-leaf walk of logarithmic
 * expected length.
 */

/* A new level's priority: splitmix64 of the seeded count of levels made. */
static inline uint32_t
TreeDraw(Core *core)
{
	uint64_t	x = core->level_seed +
		++core->levels_made * UINT64_C(0x9e3779b97f4a7c15);

	x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
	return (uint32_t) ((x ^ (x >> 31)) >> 32);
}

static inline uint64_t
TreePriority(const Core *core, int32_t i)
{
	return CoreLevelPriority(&core->levels[i], i);
}

/* Put child in old's place under parent (the root when there is none). */
static inline void
TreeReplace(Core *core, int32_t *root, int32_t parent, int32_t old,
			int32_t child)
{
	if (parent == CORE_NO_INDEX)
		*root = child;
	else if (core->levels[parent].tree_left == old)
		core->levels[parent].tree_left = child;
	else
		core->levels[parent].tree_right = child;
	if (child != CORE_NO_INDEX)
		core->levels[child].tree_parent = parent;
}

/* Rotate x's right child into x's place. */
static void
TreeRotateLeft(Core *core, int32_t *root, int32_t x)
{
	CoreLevel  *lx = &core->levels[x];
	int32_t		y = lx->tree_right;
	CoreLevel  *ly = &core->levels[y];

	TreeReplace(core, root, lx->tree_parent, x, y);
	lx->tree_right = ly->tree_left;
	if (ly->tree_left != CORE_NO_INDEX)
		core->levels[ly->tree_left].tree_parent = x;
	ly->tree_left = x;
	lx->tree_parent = y;
}

/* Rotate x's left child into x's place. */
static void
TreeRotateRight(Core *core, int32_t *root, int32_t x)
{
	CoreLevel  *lx = &core->levels[x];
	int32_t		y = lx->tree_left;
	CoreLevel  *ly = &core->levels[y];

	TreeReplace(core, root, lx->tree_parent, x, y);
	lx->tree_left = ly->tree_right;
	if (ly->tree_right != CORE_NO_INDEX)
		core->levels[ly->tree_right].tree_parent = x;
	ly->tree_right = x;
	lx->tree_parent = y;
}

/*
 * Add level i, already linked into its side's list, to the tree: as a
 * leaf next to a list neighbour (they are adjacent in order, so the
 * better one has no right child or the worse one no left child), then
 * rotated up above every level of lower priority.
 */
static void
TreeInsert(Core *core, int32_t *root, int32_t i)
{
	CoreLevel  *l = &core->levels[i];
	int32_t		b = l->better;
	int32_t		w = l->worse;
	int32_t		p;

	l->tree_left = l->tree_right = CORE_NO_INDEX;
	if (b != CORE_NO_INDEX && core->levels[b].tree_right == CORE_NO_INDEX)
	{
		core->levels[b].tree_right = i;
		l->tree_parent = b;
	}
	else if (w != CORE_NO_INDEX)
	{
		core->levels[w].tree_left = i;
		l->tree_parent = w;
	}
	else
	{
		*root = i;
		l->tree_parent = CORE_NO_INDEX;
	}
	while ((p = l->tree_parent) != CORE_NO_INDEX &&
		   TreePriority(core, i) > TreePriority(core, p))
	{
		if (core->levels[p].tree_left == i)
			TreeRotateRight(core, root, p);
		else
			TreeRotateLeft(core, root, p);
	}
}

/*
 * Take level i out of the tree: rotate its higher-priority child above
 * it until it has one child at most, then put that child in its place.
 */
static void
TreeRemove(Core *core, int32_t *root, int32_t i)
{
	CoreLevel  *l = &core->levels[i];

	while (l->tree_left != CORE_NO_INDEX && l->tree_right != CORE_NO_INDEX)
	{
		if (TreePriority(core, l->tree_left) >
			TreePriority(core, l->tree_right))
			TreeRotateRight(core, root, i);
		else
			TreeRotateLeft(core, root, i);
	}
	TreeReplace(core, root, l->tree_parent, i,
				l->tree_left != CORE_NO_INDEX ? l->tree_left : l->tree_right);
}

/*
 * Build the tree of a side's levels, walking its list from the best: each
 * level goes at the bottom of the tree's right edge, above the levels of
 * lower priority there (which become its left subtree).  Each level joins
 * and leaves that edge once: linear time.  Returns the root.
 */
static int32_t
TreeBuild(Core *core, int32_t first)
{
	int32_t		root = CORE_NO_INDEX;
	int32_t		last = CORE_NO_INDEX;

	for (int32_t x = first; x != CORE_NO_INDEX; x = core->levels[x].worse)
	{
		CoreLevel  *lx = &core->levels[x];
		int32_t		y = last;
		int32_t		below = CORE_NO_INDEX;

		while (y != CORE_NO_INDEX &&
			   TreePriority(core, x) > TreePriority(core, y))
		{
			below = y;
			y = core->levels[y].tree_parent;
		}
		lx->tree_left = below;
		if (below != CORE_NO_INDEX)
			core->levels[below].tree_parent = x;
		lx->tree_right = CORE_NO_INDEX;
		lx->tree_parent = y;
		if (y == CORE_NO_INDEX)
			root = x;
		else
			core->levels[y].tree_right = x;
		last = x;
	}
	return root;
}

/*
 * The first level of a side with a tree that price (not on the side) is
 * better than: CORE_NO_INDEX for the back of the side.
 */
static int32_t
TreeFirstWorse(const Core *core, int32_t root, int side, int64_t price)
{
	int32_t		at = CORE_NO_INDEX;

	while (root != CORE_NO_INDEX)
	{
		const CoreLevel *l = &core->levels[root];

		if (PriceBetter(side, price, l->price))
		{
			at = root;
			root = l->tree_left;
		}
		else
			root = l->tree_right;
	}
	return at;
}

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
	l->tree_priority = TreeDraw(core);
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
	else if (m->nlevels[side] > LEVEL_WALK &&
			 (at = LevelNear(core, market, side, price)) != LEVEL_NOT_NEAR)
		;						/* a neighbour within LEVEL_NEAR ticks */
	else if (m->tree[side] != CORE_NO_TREE)
		at = TreeFirstWorse(core, m->tree[side], side, price);
	else
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

	if (m->tree[side] != CORE_NO_TREE)
		TreeInsert(core, &m->tree[side], i);
	else if (m->nlevels[side] > LEVEL_TREE_ON)
		m->tree[side] = TreeBuild(core, m->best[side]);
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

	if (m->tree[l->side] != CORE_NO_TREE)
	{
		if (m->nlevels[l->side] - 1 < LEVEL_TREE_OFF)
			m->tree[l->side] = CORE_NO_TREE;
		else
			TreeRemove(core, &m->tree[l->side], i);
	}

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
