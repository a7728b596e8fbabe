/*
 * The acknowledger: a background worker that wakes the engine's callers
 * once the batch their answers rest on is durable.
 *
 * The engine commits a batch without waiting and fills its callers'
 * mailboxes at once.  Were it to wake them then, every caller would go to
 * sleep again at once: on WALWriteLock for the flush, then in the
 * synchronous-replication queue until the standby confirms, two more
 * sleeps and wake-ups per order than the one the answer needs.  Instead
 * the engine hands each batch's callers to this worker with the batch's
 * commit LSN; the worker flushes up to the newest LSN handed to it, waits
 * for the synchronous standby once for all of them (as a committing
 * backend would), and wakes exactly the callers whose LSN is now durable.
 * A caller so woken finds its answer durable and returns without another
 * sleep.
 *
 * The worker only decides *when* callers wake.  Every caller still checks
 * durability itself before it returns (WaitDurable in mailbox.c), so a
 * caller woken early (the worker absent, its ring full, a stray latch) is
 * never answered too soon: it waits as before.  Callers also look at their
 * mailbox every ACK_TICK_MS, so a stuck worker (no standby confirms) does
 * not keep them past exchange.request_timeout.
 */
#include "exchange.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "replication/syncrep.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"

/* Register the acknowledger worker (from _PG_init). */
void
AcknowledgerRegister(void)
{
	WorkerRegister("AcknowledgerMain", "exchange acknowledger",
				   BgWorkerStart_RecoveryFinished, 1);
}

/* Is the commit ending at lsn as durable as level asks, now? */
bool
CommitIsDurable(XLogRecPtr lsn, int level)
{
	if (level == SYNCHRONOUS_COMMIT_OFF)
		return true;
	return lsn <= GetFlushRecPtr(NULL) && CommitIsReplicated(lsn, level);
}

static void
WakeProcs(const int *procnos, int n)
{
	for (int i = 0; i < n; i++)
		SetLatch(&ProcGlobal->allProcs[procnos[i]].procLatch);
}

/*
 * Engine: wake these callers, whose answers rest on the commit ending at
 * lsn, once it is durable at level.  At once when it already is, when no
 * acknowledger runs or its ring has no room (the callers then wait for
 * durability themselves).
 */
void
AcknowledgeWhenDurable(const int *procnos, int n, XLogRecPtr lsn, int level)
{
	AckRing    *ring = &Exchange->acks;
	int			ack_procno;
	bool		queued = false;
	bool		ack_idle = false;

	if (n == 0)
		return;
	if (lsn == InvalidXLogRecPtr || !exchange_acknowledger ||
		CommitIsDurable(lsn, level))
	{
		pg_atomic_fetch_add_u64(&Exchange->stats.acks_direct, 1);
		WakeProcs(procnos, n);
		return;
	}
	SpinLockAcquire(&ring->mutex);
	ack_procno = ring->procno;
	if (ack_procno >= 0 && ring->tail - ring->head + n <= (uint64) ring->capacity)
	{
		for (int i = 0; i < n; i++)
		{
			AckEntry   *e = &ring->entries[ring->tail % ring->capacity];

			e->procno = procnos[i];
			e->level = level;
			e->lsn = lsn;
			ring->tail++;
		}
		queued = true;
		ack_idle = ring->idle;
	}
	SpinLockRelease(&ring->mutex);
	if (queued)
	{
		/* a busy worker takes these after its round, unwoken (AckTarget) */
		if (ack_idle)
			SetLatch(&ProcGlobal->allProcs[ack_procno].procLatch);
	}
	else
	{
		pg_atomic_fetch_add_u64(&Exchange->stats.acks_direct, 1);
		WakeProcs(procnos, n);
	}
}

/*
 * Caller: have the acknowledger wake us once the commit ending at lsn is
 * durable at level (our answers came before we waited for them, so the
 * engine did not hand us over).  False when it is not running or has no
 * room: wait for durability yourself.
 */
bool
AcknowledgeMe(XLogRecPtr lsn, int level)
{
	AckRing    *ring = &Exchange->acks;
	int			ack_procno;
	bool		queued = false;
	bool		ack_idle = false;

	if (!exchange_acknowledger)
		return false;
	SpinLockAcquire(&ring->mutex);
	ack_procno = ring->procno;
	if (ack_procno >= 0 && ring->tail - ring->head < (uint64) ring->capacity)
	{
		AckEntry   *e = &ring->entries[ring->tail % ring->capacity];

		e->procno = MyProc->pgprocno;
		e->level = level;
		e->lsn = lsn;
		ring->tail++;
		queued = true;
		ack_idle = ring->idle;
	}
	SpinLockRelease(&ring->mutex);
	if (queued && ack_idle)
		SetLatch(&ProcGlobal->allProcs[ack_procno].procLatch);
	return queued;
}

/*
 * Caller: does the ring still hold an entry that will wake this backend?
 * A caller that finds its durable answers on its own 100 ms look, while
 * the acknowledger's round has not reached its entry yet (the standby's
 * confirmation came a moment ago, or the worker is not on a CPU), has not
 * lost a wake-up: it is simply ahead of one.  Scans the ring under its
 * spinlock; only such looks call it.
 */
bool
AcknowledgerHolds(int procno)
{
	AckRing    *ring = &Exchange->acks;
	bool		held = false;

	SpinLockAcquire(&ring->mutex);
	for (uint64 i = ring->head; i < ring->tail && !held; i++)
		held = ring->entries[i % ring->capacity].procno == procno;
	SpinLockRelease(&ring->mutex);
	return held;
}

/* Is the acknowledger running? */
bool
AcknowledgerRunning(void)
{
	int			procno;

	SpinLockAcquire(&Exchange->acks.mutex);
	procno = Exchange->acks.procno;
	SpinLockRelease(&Exchange->acks.mutex);
	return procno >= 0;
}

/*
 * Take the durable entries off the ring (in commit order, but for callers
 * that queued themselves, which may be older) into
 * procnos; returns how many.  With all, every entry: the worker is going.
 */
static int
AckTakeDurable(int *procnos, int max, bool all)
{
	AckRing    *ring = &Exchange->acks;
	XLogRecPtr	flushed = GetFlushRecPtr(NULL);
	XLogRecPtr	confirmed[SYNCHRONOUS_COMMIT_REMOTE_APPLY + 1];
	int			n = 0;

	/* read before the spinlock: no lock may be taken while it is held */
	StandbyConfirmed(confirmed);
	SpinLockAcquire(&ring->mutex);
	while (n < max && ring->head < ring->tail)
	{
		AckEntry   *e = &ring->entries[ring->head % ring->capacity];

		if (!all && (e->lsn > flushed || e->lsn > confirmed[e->level]))
			break;
		procnos[n++] = e->procno;
		ring->head++;
	}
	SpinLockRelease(&ring->mutex);
	return n;
}

/*
 * The newest LSN queued and the strictest level any entry asks for; false
 * when nothing is queued.
 *
 * It also tells the engine and the callers whether to wake the worker when
 * they queue an entry (the idle flag): only when this found nothing, and
 * so the worker may be about to sleep.  A busy worker comes back here
 * after its round and finds their entries then.  Until 2026-11-23 every
 * batch's hand-over set the worker's latch, and while the worker waited
 * for the standby (SyncRepWaitForLSN sleeps on that latch) each one cost
 * a signal, a wake-up and a sleep for nothing.
 */
static bool
AckTarget(XLogRecPtr *lsn, int *level)
{
	AckRing    *ring = &Exchange->acks;
	bool		any;

	*level = SYNCHRONOUS_COMMIT_OFF;
	*lsn = InvalidXLogRecPtr;
	SpinLockAcquire(&ring->mutex);
	any = ring->head < ring->tail;
	for (uint64 i = ring->head; i < ring->tail; i++)
	{
		AckEntry   *e = &ring->entries[i % ring->capacity];

		*level = Max(*level, e->level);
		*lsn = Max(*lsn, e->lsn);
	}
	ring->idle = !any;
	SpinLockRelease(&ring->mutex);
	return any;
}

/*
 * Whether at least exchange.batch_siblings callers that made requests in
 * the last 100 ms are neither waiting for this round nor queued for the
 * engine: only then can a wait before the round gather more.
 */
static bool
AckShouldWait(void)
{
	int64		active = pg_atomic_read_u32(&Exchange->active_callers);
	int64		parked;
	int64		queued;

	SpinLockAcquire(&Exchange->acks.mutex);
	parked = (int64) (Exchange->acks.tail - Exchange->acks.head);
	SpinLockRelease(&Exchange->acks.mutex);
	LWLockAcquire(Exchange->queue_lock, LW_SHARED);
	queued = (int64) (Exchange->queue_tail - Exchange->queue_head);
	LWLockRelease(Exchange->queue_lock);
	return active - parked - queued >= exchange_batch_siblings;
}

/* Leaving: nobody would wake the callers still queued; wake them now. */
static void
AcknowledgerExit(int code, Datum arg)
{
	int			procnos[64];
	int			n;

	SpinLockAcquire(&Exchange->acks.mutex);
	Exchange->acks.procno = -1;
	SpinLockRelease(&Exchange->acks.mutex);
	while ((n = AckTakeDurable(procnos, lengthof(procnos), true)) > 0)
		WakeProcs(procnos, n);
}

/*
 * The rounds' flushes are counted in pg_stat_wal (wal_sync, wal_sync_time)
 * only once this process reports them, which a background worker must do
 * itself: at most once a second, after a round or while idle (the idle
 * wait ends every second).  Until 2026-11-23 it never did, and pg_stat_wal
 * missed nearly every WAL flush of a loaded server.
 */
static void
AckReportWal(TimestampTz *last_report)
{
	TimestampTz now = GetCurrentTimestamp();

	if (now - *last_report >= USECS_PER_SEC)
	{
		pgstat_report_wal(false);
		*last_report = now;
	}
}

/* exchange.latency()'s durable stage: the acknowledger's alone */
static LatencyLocal durable_latency;

/* The acknowledger's entry point. */
void
AcknowledgerMain(Datum arg)
{
	int			procnos[256];
	int			set_level = -1;
	TimestampTz last_round_end = 0;
	TimestampTz last_report = 0;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_appname("exchange acknowledger");

	before_shmem_exit(AcknowledgerExit, (Datum) 0);
	SpinLockAcquire(&Exchange->acks.mutex);
	Exchange->acks.procno = MyProc->pgprocno;
	SpinLockRelease(&Exchange->acks.mutex);

	for (;;)
	{
		XLogRecPtr	target;
		int			level;
		int			n;
		int			woken = 0;
		TimestampTz round_start;

		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			set_level = -1;
		}

		if (!AckTarget(&target, &level))
		{
			/* idle: hand over what the last rounds counted (below) */
			AckReportWal(&last_report);
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 1000, PG_WAIT_EXTENSION);
			continue;
		}

		/*
		 * Let the round's flush and standby wait serve more batches: wait
		 * until exchange.ack_delay has passed since the last round ended,
		 * while enough other callers could still arrive.
		 */
		if (exchange_ack_delay > 0 && last_round_end != 0 && AckShouldWait())
		{
			long		since = (long) (GetCurrentTimestamp() - last_round_end);

			if (since < exchange_ack_delay)
			{
				pg_usleep(exchange_ack_delay - since);
				pg_atomic_fetch_add_u64(&Exchange->stats.ack_delays, 1);
				(void) AckTarget(&target, &level);
			}
		}

		/* one flush and one standby wait for everything queued so far */
		round_start = GetCurrentTimestamp();
		XLogFlush(target);
		if (level > SYNCHRONOUS_COMMIT_LOCAL_FLUSH &&
			!CommitIsReplicated(target, level))
		{
			if (level != set_level)
			{
				(void) set_config_option("synchronous_commit",
										 DurabilityName(level), PGC_SUSET,
										 PGC_S_OVERRIDE, GUC_ACTION_SET,
										 true, 0, false);
				set_level = level;
			}
			SyncRepWaitForLSN(target, true);
		}
		LatencyLocalAdd(&durable_latency, round_start, GetCurrentTimestamp());
		LatencyLocalPublish(&durable_latency, LATENCY_DURABLE);

		while ((n = AckTakeDurable(procnos, lengthof(procnos), false)) > 0)
		{
			if (exchange_debug_wake_delay > 0)
				pg_usleep(exchange_debug_wake_delay * 1000L);
			WakeProcs(procnos, n);
			woken += n;
		}
		pg_atomic_fetch_add_u64(&Exchange->stats.ack_rounds, 1);
		last_round_end = GetCurrentTimestamp();

		AckReportWal(&last_report);

		/*
		 * Nothing became durable (the standby settings changing under us,
		 * a cancelled wait): do not spin; the callers look for themselves.
		 */
		if (woken == 0)
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 10, PG_WAIT_EXTENSION);
	}
}
