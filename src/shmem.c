/*
 * Locking protocol of the exchange's shared memory
 *
 * - Exchange->core (books, balances, catalogue) is read and written by the
 *   engine worker only.  Nobody else touches it, so it needs no lock; other
 *   backends read committed state from the tables instead.
 * - The request queue (queue[], queue_head, queue_tail) is guarded by
 *   queue_lock: callers append at the tail, the engine takes from the head,
 *   both in exclusive mode.
 * - Each Mailbox is guarded by its own spinlock.  Only the backend whose
 *   PGPROC number owns the mailbox starts calls in it (bumping its
 *   generation; up to MAILBOX_SLOTS requests in flight, one answer slot
 *   each, a slot reused only after its answer was taken); only the engine
 *   answers, and only when the generation still matches, so an answer
 *   never lands in a later call.
 * - engine_state, engine_procno and engine_epoch are guarded by
 *   state_mutex; only the engine writes them (and its exit callback).
 * - Statistics are atomics, written by the engine, read by anyone.
 *
 * - The acknowledger's ring (acks) is guarded by its spinlock: the engine
 *   appends callers to wake, the acknowledger takes them from the head.
 * - The latency histograms (latency.c) are atomics.  The call stage is
 *   written by every caller with atomic adds; the queue and batch stages
 *   by the engine alone and the durable stage by the acknowledger alone,
 *   with plain stores.  latency_base and latency_since, which
 *   exchange.reset_latency() sets and the readers subtract, are guarded by
 *   latency_mutex; the counts themselves are never written by a reset.
 *
 * Latches: a caller publishes its request in the queue, then sets the
 * engine's latch; the engine publishes an answer in the mailbox, then sets
 * the caller's latch, or hands the caller to the acknowledger, which sets
 * it once the answer is durable.  Waiters reset their latch, check, then
 * wait.
 */
#include "exchange.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/shmem.h"

ExchangeShared *Exchange = NULL;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* The core's capacities, from the GUCs. */
static CoreConfig
ShmemCoreConfig(void)
{
	CoreConfig	c;

	c.max_assets = exchange_max_assets;
	c.max_markets = exchange_max_markets;
	c.max_accounts = exchange_max_accounts;
	c.max_balances = exchange_max_balances;
	c.max_orders = exchange_max_orders;
	c.max_levels = exchange_max_price_levels;
	return c;
}

/* Room for callers waiting for the acknowledger: a few wakes each. */
static int
AckCapacity(void)
{
	return 4 * MaxBackends;
}

/* Bytes of shared memory the exchange needs. */
static Size
ShmemSize(void)
{
	CoreConfig	config = ShmemCoreConfig();
	Size		size = MAXALIGN(sizeof(ExchangeShared));

	size = add_size(size, MAXALIGN(mul_size(sizeof(Request),
											exchange_queue_size)));
	size = add_size(size, MAXALIGN(mul_size(sizeof(Mailbox), MaxBackends)));
	size = add_size(size, MAXALIGN(mul_size(sizeof(AckEntry), AckCapacity())));
	size = add_size(size, CoreSize(&config));
	return size;
}

static void
ShmemRequest(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(ShmemSize());
	RequestNamedLWLockTranche("exchange", 1);
}

static void
ShmemStartup(void)
{
	bool		found;
	char	   *p;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	/* this runs again after a crash restart: forget the old mapping */
	Exchange = NULL;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	p = ShmemInitStruct("exchange", ShmemSize(), &found);
	Exchange = (ExchangeShared *) p;
	if (!found)
	{
		CoreConfig	config = ShmemCoreConfig();

		memset(Exchange, 0, sizeof(ExchangeShared));
		Exchange->queue_lock = &(GetNamedLWLockTranche("exchange"))->lock;
		SpinLockInit(&Exchange->state_mutex);
		Exchange->engine_state = ENGINE_STOPPED;
		Exchange->engine_procno = -1;
		pg_atomic_init_u64(&Exchange->stats.batches, 0);
		pg_atomic_init_u64(&Exchange->stats.requests, 0);
		pg_atomic_init_u64(&Exchange->stats.failed_batches, 0);
		pg_atomic_init_u64(&Exchange->stats.rebuilds, 0);
		pg_atomic_init_u64(&Exchange->stats.ack_rounds, 0);
		pg_atomic_init_u64(&Exchange->stats.acks_direct, 0);
		pg_atomic_init_u64(&Exchange->stats.rows_by_place, 0);
		pg_atomic_init_u64(&Exchange->stats.rows_by_key, 0);
		pg_atomic_init_u64(&Exchange->stats.wal_segments_prepared, 0);
		pg_atomic_init_u64(&Exchange->stats.batch_delays, 0);
		pg_atomic_init_u64(&Exchange->stats.ack_delays, 0);
		pg_atomic_init_u64(&Exchange->stats.callers_unwoken, 0);
		pg_atomic_init_u64(&Exchange->stats.pages_extended_ahead, 0);
		pg_atomic_init_u32(&Exchange->active_callers, 0);
		for (int i = 0; i < lengthof(Exchange->stats.batch_hist); i++)
			pg_atomic_init_u64(&Exchange->stats.batch_hist[i], 0);
		LatencyInit();

		p += MAXALIGN(sizeof(ExchangeShared));
		Exchange->queue = (Request *) p;
		Exchange->queue_capacity = exchange_queue_size;
		p += MAXALIGN(mul_size(sizeof(Request), exchange_queue_size));
		Exchange->mailboxes = (Mailbox *) p;
		Exchange->nmailboxes = MaxBackends;
		for (int i = 0; i < MaxBackends; i++)
		{
			SpinLockInit(&Exchange->mailboxes[i].mutex);
			Exchange->mailboxes[i].generation = 0;
			Exchange->mailboxes[i].answered = 0;
			Exchange->mailboxes[i].wake_at = INT_MAX;
			Exchange->mailboxes[i].wake_early = false;
			memset(Exchange->mailboxes[i].filled, 0,
				   sizeof(Exchange->mailboxes[i].filled));
		}
		p += MAXALIGN(mul_size(sizeof(Mailbox), MaxBackends));
		SpinLockInit(&Exchange->acks.mutex);
		Exchange->acks.procno = -1;
		Exchange->acks.idle = false;
		Exchange->acks.head = Exchange->acks.tail = 0;
		Exchange->acks.capacity = AckCapacity();
		Exchange->acks.entries = (AckEntry *) p;
		p += MAXALIGN(mul_size(sizeof(AckEntry), AckCapacity()));
		Exchange->core = CoreInit(p, &config);
	}
	LWLockRelease(AddinShmemInitLock);
}

/* Install the shared-memory hooks (from _PG_init). */
void
ShmemInit(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = ShmemRequest;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = ShmemStartup;
}

/* Refuse to go on when the library was not preloaded. */
void
ExchangeCheckLoaded(void)
{
	if (Exchange == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("exchange must be loaded via shared_preload_libraries"),
				 errhint("Add exchange to shared_preload_libraries in postgresql.conf and restart the server.")));
}

EngineState
EngineGetState(void)
{
	EngineState s;

	SpinLockAcquire(&Exchange->state_mutex);
	s = Exchange->engine_state;
	SpinLockRelease(&Exchange->state_mutex);
	return s;
}

void
EngineSetState(EngineState state)
{
	SpinLockAcquire(&Exchange->state_mutex);
	Exchange->engine_state = state;
	SpinLockRelease(&Exchange->state_mutex);
}
