/*
 * Where a call's time goes, kept in shared memory and read with
 * exchange.latency(): four histograms of microseconds.
 *
 *   call     a call (place_order, place_orders, cancel_order, ...), from
 *            RequestBegin until its answers are durable, as the caller's
 *            backend sees it; recorded by every backend (atomic adds)
 *   queue    a request, from being queued until the engine starts the
 *            batch that takes it (exchange.batch_delay's wait included)
 *   batch    a batch, from its start until its commit returns: matching,
 *            the rows, the commit record
 *   durable  an acknowledger round: the WAL flush and the synchronous
 *            standby's confirmation that every queued caller waits for
 *
 * The engine and the acknowledger each write their own stages alone: they
 * count a batch or a round in a local histogram and publish it with plain
 * stores (no locked instruction per request).  exchange.reset_latency()
 * does not write the counts: it keeps a copy that the readers subtract.
 */
#include "exchange.h"

#include <math.h>

#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/numeric.h"

static const char *const LatencyStageNames[LATENCY_STAGES] = {
	"call", "queue", "batch", "durable"
};

/* Exact below 16 us, then 8 buckets to each power of two up to 2^31 us. */
static inline int
LatencyBucket(uint64 us)
{
	int			b;

	if (us < 16)
		return (int) us;
	b = pg_leftmost_one_pos64(us);
	if (b > 30)
		return LATENCY_BUCKETS - 1;
	return 16 + (b - 4) * 8 + (int) ((us >> (b - 3)) & 7);
}

/* A bucket's bounds, [lower, upper) in microseconds. */
static void
LatencyBucketBounds(int bucket, uint64 *lower, uint64 *upper)
{
	int			b,
				sub;

	if (bucket < 16)
	{
		*lower = bucket;
		*upper = bucket + 1;
		return;
	}
	b = 4 + (bucket - 16) / 8;
	sub = (bucket - 16) % 8;
	*lower = (uint64) (8 + sub) << (b - 3);
	*upper = (uint64) (9 + sub) << (b - 3);
}

static uint64
LatencyMicros(TimestampTz from, TimestampTz to)
{
	return to > from ? (uint64) (to - from) : 0;
}

void
LatencyInit(void)
{
	for (int s = 0; s < LATENCY_STAGES; s++)
	{
		LatencyHist *h = &Exchange->latency[s];

		for (int i = 0; i < LATENCY_BUCKETS; i++)
			pg_atomic_init_u64(&h->count[i], 0);
		pg_atomic_init_u64(&h->sum_us, 0);
		pg_atomic_init_u64(&h->max_us, 0);
	}
	SpinLockInit(&Exchange->latency_mutex);
	memset(Exchange->latency_base, 0, sizeof(Exchange->latency_base));
	Exchange->latency_since = GetCurrentTimestamp();
}

static void
LatencyRaiseMax(pg_atomic_uint64 *max, uint64 us)
{
	uint64		seen = pg_atomic_read_u64(max);

	while (us > seen && !pg_atomic_compare_exchange_u64(max, &seen, us))
		;
}

/* One observation by any process (a caller: many write at once). */
void
LatencyRecord(LatencyStage stage, TimestampTz from, TimestampTz to)
{
	LatencyHist *h = &Exchange->latency[stage];
	uint64		us = LatencyMicros(from, to);

	pg_atomic_fetch_add_u64(&h->count[LatencyBucket(us)], 1);
	pg_atomic_fetch_add_u64(&h->sum_us, us);
	LatencyRaiseMax(&h->max_us, us);
}

/* One observation into a single writer's local counts. */
void
LatencyLocalAdd(LatencyLocal *local, TimestampTz from, TimestampTz to)
{
	uint64		us = LatencyMicros(from, to);

	local->count[LatencyBucket(us)]++;
	local->sum_us += us;
	local->max_us = Max(local->max_us, us);
	local->any = true;
}

/*
 * Publish and clear local counts of a stage that only this process
 * writes: a load and a store per touched bucket, no locked instruction.
 */
void
LatencyLocalPublish(LatencyLocal *local, LatencyStage stage)
{
	LatencyHist *h = &Exchange->latency[stage];

	if (!local->any)
		return;
	for (int i = 0; i < LATENCY_BUCKETS; i++)
		if (local->count[i] != 0)
		{
			pg_atomic_write_u64(&h->count[i],
								pg_atomic_read_u64(&h->count[i]) + local->count[i]);
			local->count[i] = 0;
		}
	pg_atomic_write_u64(&h->sum_us, pg_atomic_read_u64(&h->sum_us) + local->sum_us);
	LatencyRaiseMax(&h->max_us, local->max_us);
	local->sum_us = 0;
	local->max_us = 0;
	local->any = false;
}

/* A stage's counts since the last reset, into count[] and *sum_us. */
static uint64
LatencyRead(int stage, uint64 *count, uint64 *sum_us, uint64 *max_us,
			TimestampTz *since)
{
	LatencyHist *h = &Exchange->latency[stage];
	LatencyBase base;
	uint64		total = 0;

	SpinLockAcquire(&Exchange->latency_mutex);
	base = Exchange->latency_base[stage];
	*since = Exchange->latency_since;
	SpinLockRelease(&Exchange->latency_mutex);
	for (int i = 0; i < LATENCY_BUCKETS; i++)
	{
		uint64		c = pg_atomic_read_u64(&h->count[i]);

		count[i] = c > base.count[i] ? c - base.count[i] : 0;
		total += count[i];
	}
	*sum_us = pg_atomic_read_u64(&h->sum_us);
	*sum_us = *sum_us > base.sum_us ? *sum_us - base.sum_us : 0;
	*max_us = pg_atomic_read_u64(&h->max_us);
	return total;
}

/* Microseconds as milliseconds, a numeric with three decimals. */
static Datum
MicrosToMs(uint64 us)
{
	return NumericGetDatum(int64_div_fast_to_numeric((int64) us, 3));
}

/*
 * The upper bound of the bucket holding the observation of rank
 * ceil(q * total), but never above the largest observation.
 */
static uint64
LatencyQuantile(const uint64 *count, uint64 total, double q, uint64 max_us)
{
	uint64		rank = (uint64) ceil(q * (double) total);
	uint64		seen = 0;

	if (rank < 1)
		rank = 1;
	for (int i = 0; i < LATENCY_BUCKETS; i++)
	{
		seen += count[i];
		if (seen >= rank)
		{
			uint64		lower,
						upper;

			LatencyBucketBounds(i, &lower, &upper);
			return Min(upper, Max(max_us, lower));
		}
	}
	return max_us;
}

PG_FUNCTION_INFO_V1(latency);

/* exchange.latency(): per stage, count, mean and percentiles. */
Datum
latency(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	static const double quantiles[] = {0.5, 0.9, 0.99, 0.999};

	ExchangeCheckLoaded();
	InitMaterializedSRF(fcinfo, 0);
	for (int s = 0; s < LATENCY_STAGES; s++)
	{
		uint64		count[LATENCY_BUCKETS];
		uint64		sum_us,
					max_us,
					total;
		TimestampTz since;
		Datum		values[9];
		bool		nulls[9];

		total = LatencyRead(s, count, &sum_us, &max_us, &since);
		memset(nulls, 0, sizeof(nulls));
		values[0] = CStringGetTextDatum(LatencyStageNames[s]);
		values[1] = Int64GetDatum((int64) total);
		if (total == 0)
		{
			for (int i = 2; i < 8; i++)
				nulls[i] = true;
		}
		else
		{
			values[2] = MicrosToMs((sum_us + total / 2) / total);
			for (int q = 0; q < lengthof(quantiles); q++)
				values[3 + q] = MicrosToMs(LatencyQuantile(count, total,
														   quantiles[q],
														   max_us));
			values[7] = MicrosToMs(max_us);
		}
		values[8] = TimestampTzGetDatum(since);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(latency_histogram);

/* exchange.latency_histogram(): the non-empty buckets of every stage. */
Datum
latency_histogram(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	ExchangeCheckLoaded();
	InitMaterializedSRF(fcinfo, 0);
	for (int s = 0; s < LATENCY_STAGES; s++)
	{
		uint64		count[LATENCY_BUCKETS];
		uint64		sum_us,
					max_us;
		TimestampTz since;

		(void) LatencyRead(s, count, &sum_us, &max_us, &since);
		for (int i = 0; i < LATENCY_BUCKETS; i++)
		{
			Datum		values[4];
			bool		nulls[4] = {false, false, false, false};
			uint64		lower,
						upper;

			if (count[i] == 0)
				continue;
			LatencyBucketBounds(i, &lower, &upper);
			values[0] = CStringGetTextDatum(LatencyStageNames[s]);
			values[1] = Int64GetDatum((int64) lower);
			if (i == LATENCY_BUCKETS - 1)
				nulls[2] = true;	/* the last bucket has no upper bound */
			else
				values[2] = Int64GetDatum((int64) upper);
			values[3] = Int64GetDatum((int64) count[i]);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values,
								 nulls);
		}
	}
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(reset_latency);

/*
 * exchange.reset_latency(): count from now on.  The counts are not
 * written (the engine writes them without locks): their values now are
 * kept and subtracted.  The largest observations start again from zero.
 */
Datum
reset_latency(PG_FUNCTION_ARGS)
{
	LatencyBase base[LATENCY_STAGES];
	TimestampTz now;

	ExchangeCheckLoaded();
	for (int s = 0; s < LATENCY_STAGES; s++)
	{
		LatencyHist *h = &Exchange->latency[s];

		for (int i = 0; i < LATENCY_BUCKETS; i++)
			base[s].count[i] = pg_atomic_read_u64(&h->count[i]);
		base[s].sum_us = pg_atomic_read_u64(&h->sum_us);
		pg_atomic_write_u64(&h->max_us, 0);
	}
	now = GetCurrentTimestamp();
	SpinLockAcquire(&Exchange->latency_mutex);
	memcpy(Exchange->latency_base, base, sizeof(base));
	Exchange->latency_since = now;
	SpinLockRelease(&Exchange->latency_mutex);
	PG_RETURN_VOID();
}
