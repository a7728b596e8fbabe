#include "core_internal.h"

#include <string.h>

bool
CoreHasAccount(const Core *core, int64_t account)
{
	return AccountFind(core, account) != CORE_NO_INDEX;
}

CoreErrorCode
CoreAddAccount(Core *core, int64_t account, CoreError *err)
{
	CoreAccount *a;
	uint32_t	bucket;

	if (account < 0)
		return CoreFail(err, CORE_E_INVALID, "account id must not be negative");
	if (AccountFind(core, account) != CORE_NO_INDEX)
		return CoreFail(err, CORE_E_DUPLICATE, "account %lld already exists",
						(long long) account);
	if (core->naccounts >= core->config.max_accounts)
		return CoreFail(err, CORE_E_CAPACITY,
						"too many accounts (exchange.max_accounts = %d)",
						core->config.max_accounts);
	bucket = AccountBucket(core, account);
	a = &core->accounts[core->naccounts];
	a->id = account;
	a->orders = CORE_NO_INDEX;
	a->hnext = core->account_buckets[bucket];
	core->account_buckets[bucket] = core->naccounts++;
	return CORE_OK;
}

/* 1 when the (account, asset) balance row does not exist yet, else 0. */
int32_t
BalanceMissing(const Core *core, int64_t account, int32_t asset)
{
	return BalanceFind(core, account, asset) == CORE_NO_INDEX ? 1 : 0;
}

/*
 * Create the balance row, which must not exist yet; CORE_NO_INDEX when the
 * capacity is reached (callers check room first).
 */
int32_t
BalanceCreate(Core *core, int64_t account, int32_t asset)
{
	uint32_t	bucket;
	CoreBalance *b;
	int32_t		i;

	if (core->nbalances >= core->config.max_balances)
		return CORE_NO_INDEX;
	bucket = BalanceBucket(core, account, asset);
	i = core->nbalances++;
	b = &core->balances[i];
	memset(b, 0, sizeof(*b));
	b->account = account;
	b->asset = (uint16_t) asset;
	b->is_new = true;
	b->hnext = core->balance_buckets[bucket];
	core->balance_buckets[bucket] = i;
	if (account == CORE_FEE_ACCOUNT)
		core->fee_balances[asset] = i;
	BalanceTouch(core, i);
	return i;
}

/* Find or create the balance row, as BalanceCreate. */
int32_t
BalanceEnsure(Core *core, int64_t account, int32_t asset)
{
	int32_t		i = BalanceFind(core, account, asset);

	if (i != CORE_NO_INDEX)
		return i;
	return BalanceCreate(core, account, asset);
}

CoreErrorCode
CoreDeposit(Core *core, int64_t account, int32_t asset, int64_t units,
			CoreError *err)
{
	int32_t		i;
	int64_t		total;
	CoreAsset  *a;

	if (AccountFind(core, account) == CORE_NO_INDEX)
		return CoreFail(err, CORE_E_UNKNOWN_ACCOUNT, "unknown account %lld",
						(long long) account);
	if (asset < 0 || asset >= core->nassets)
		return CoreFail(err, CORE_E_UNKNOWN_ASSET, "unknown asset");
	a = &core->assets[asset];
	if (units <= 0)
		return CoreFail(err, CORE_E_RANGE, "deposit amount must be positive");

	/*
	 * Keeping every asset's total within int64 is what makes overflow
	 * impossible later: no single balance can exceed its asset's total.
	 */
	if (FixedAddOverflow(a->total, units, &total))
	{
		CoreFail(err, CORE_E_RANGE, "deposit amount is too large");
		CoreFailDetail(err,
					   "The total of asset %s across all accounts would exceed the largest amount the exchange can hold.",
					   a->code);
		return CORE_E_RANGE;
	}
	i = BalanceEnsure(core, account, asset);
	if (i == CORE_NO_INDEX)
		return CoreFail(err, CORE_E_CAPACITY,
						"too many balances (exchange.max_balances = %d)",
						core->config.max_balances);
	a->total = total;
	core->balances[i].available += units;
	BalanceTouch(core, i);
	return CORE_OK;
}

/* Install a balance exactly as stored (rebuild). */
CoreErrorCode
CoreLoadBalance(Core *core, int64_t account, int32_t asset, int64_t available,
				int64_t locked, CoreError *err)
{
	int32_t		i;
	int64_t		sum;
	int64_t		total;

	if (AccountFind(core, account) == CORE_NO_INDEX)
		return CoreFail(err, CORE_E_UNKNOWN_ACCOUNT, "unknown account %lld",
						(long long) account);
	if (asset < 0 || asset >= core->nassets)
		return CoreFail(err, CORE_E_UNKNOWN_ASSET, "unknown asset");
	if (available < 0 || locked < 0 ||
		FixedAddOverflow(available, locked, &sum) ||
		FixedAddOverflow(core->assets[asset].total, sum, &total))
		return CoreFail(err, CORE_E_RANGE,
						"stored balance of account %lld is out of range",
						(long long) account);
	if (BalanceFind(core, account, asset) != CORE_NO_INDEX)
		return CoreFail(err, CORE_E_DUPLICATE,
						"balance of account %lld loaded twice",
						(long long) account);
	i = BalanceEnsure(core, account, asset);
	if (i == CORE_NO_INDEX)
		return CoreFail(err, CORE_E_CAPACITY,
						"too many balances (exchange.max_balances = %d)",
						core->config.max_balances);
	core->balances[i].available = available;
	core->balances[i].locked = locked;
	core->assets[asset].total = total;
	/* loaded as stored: nothing to write back (it was the last one marked) */
	core->balances[i].is_new = false;
	core->balances[i].dirty = false;
	core->ndirty--;
	return CORE_OK;
}

bool
CoreGetBalance(const Core *core, int64_t account, int32_t asset,
			   int64_t *available, int64_t *locked)
{
	int32_t		i = BalanceFind(core, account, asset);

	if (i == CORE_NO_INDEX)
	{
		*available = *locked = 0;
		return false;
	}
	*available = core->balances[i].available;
	*locked = core->balances[i].locked;
	return true;
}

int32_t
CoreDirtyCount(const Core *core)
{
	return core->ndirty;
}

int32_t
CoreDirtyBalances(const Core *core, CoreBalanceRow *out, int32_t max)
{
	int32_t		n = 0;

	for (; n < core->ndirty && n < max; n++)
	{
		const CoreBalance *b = &core->balances[core->dirty[n]];

		out[n].account = b->account;
		out[n].asset = b->asset;
		out[n].available = b->available;
		out[n].locked = b->locked;
		out[n].is_new = b->is_new;
	}
	return n;
}

void
CoreClearDirty(Core *core)
{
	for (int32_t n = 0; n < core->ndirty; n++)
	{
		core->balances[core->dirty[n]].dirty = false;
		core->balances[core->dirty[n]].is_new = false;
	}
	core->ndirty = 0;
}
