#include "exchange.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "replication/syncrep.h"
#include "replication/walsender.h"
#include "replication/walsender_private.h"
#include "utils/guc.h"
#include "utils/timeout.h"
#include "storage/latch.h"
#include "storage/proc.h"

/* Raise the caller-side error for an engine that cannot take requests. */
static void
CheckEngineRunning(void)
{
	EngineState state = EngineGetState();
	const char *detail;

	if (state == ENGINE_RUNNING)
		return;
	switch (state)
	{
		case ENGINE_WAITING:
			detail = "The engine is waiting for CREATE EXTENSION exchange in the database named by exchange.database.";
			break;
		case ENGINE_REBUILDING:
			detail = "The engine is rebuilding the order books from the tables; this takes a moment after a start, crash or promotion.";
			break;
		default:
			detail = "The engine worker is not running; it restarts by itself within a few seconds after a failure.";
			break;
	}
	ereport(ERROR,
			(errcode(ERRCODE_EXCHANGE_ENGINE_NOT_RUNNING),
			 errmsg("exchange engine is not running"),
			 errdetail("%s", detail),
			 errhint("Retry the request; requests with a client_order_id are safe to repeat.")));
}

static const char *const DurabilityNames[] = {
	"off", "local", "remote_write", "on", "remote_apply"
};

/* synchronous_commit's name for a level. */
const char *
DurabilityName(int level)
{
	Assert(level >= 0 && level < lengthof(DurabilityNames));
	return DurabilityNames[level];
}

/*
 * How far each synchronous_commit level is satisfied by the synchronous
 * standby, into confirmed[level]: everything when the level or the server
 * asks for no standby.  One read of the walsenders' shared state.
 */
void
StandbyConfirmed(XLogRecPtr *confirmed)
{
	XLogRecPtr	acked[NUM_SYNC_REP_WAIT_MODE];
	bool		none = max_wal_senders == 0 || SyncRepStandbyNames == NULL ||
		SyncRepStandbyNames[0] == '\0';

	if (!none)
	{
		LWLockAcquire(SyncRepLock, LW_SHARED);
		for (int m = 0; m < NUM_SYNC_REP_WAIT_MODE; m++)
			acked[m] = WalSndCtl->lsn[m];
		LWLockRelease(SyncRepLock);
	}
	for (int level = 0; level <= SYNCHRONOUS_COMMIT_REMOTE_APPLY; level++)
	{
		if (none || level <= SYNCHRONOUS_COMMIT_LOCAL_FLUSH)
			confirmed[level] = PG_UINT64_MAX;
		else
			confirmed[level] = acked[level == SYNCHRONOUS_COMMIT_REMOTE_WRITE ? SYNC_REP_WAIT_WRITE :
									 level == SYNCHRONOUS_COMMIT_REMOTE_APPLY ? SYNC_REP_WAIT_APPLY :
									 SYNC_REP_WAIT_FLUSH];
	}
}

/*
 * Has the synchronous standby confirmed lsn, as durability (a
 * synchronous_commit level) asks?  True when no standby is required.
 */
bool
CommitIsReplicated(XLogRecPtr lsn, int durability)
{
	XLogRecPtr	confirmed[SYNCHRONOUS_COMMIT_REMOTE_APPLY + 1];

	StandbyConfirmed(confirmed);
	return lsn <= confirmed[durability];
}

/* Bounds the wait for the synchronous standby by exchange.request_timeout. */
static TimeoutId standby_timeout = MAX_TIMEOUTS;
static volatile sig_atomic_t standby_timed_out = false;

/* Timeout handler: end SyncRepWaitForLSN the way a cancel does. */
static void
StandbyTimeoutHandler(void)
{
	standby_timed_out = true;
	QueryCancelPending = true;
	InterruptPending = true;
	SetLatch(MyLatch);
}

/*
 * One of our 100 ms looks, not a wake-up, found our answers durable.  That
 * is a lost wake-up (exchange.engine_status().callers_unwoken) only when
 * nobody is left to wake us: the acknowledger holds no entry for us, and
 * our latch was not set since we last reset it.  A look that comes
 * between the standby's confirmation and the acknowledger's round is
 * ahead of its wake-up, not without one; until 2026-11-24 it was counted
 * too (docs/performance.md, *Lost wake-ups, counted precisely*).
 *
 * Nor is a look that comes while the engine is between filling our
 * mailbox and handing us to the acknowledger, or while the acknowledger
 * is between taking our entry off its ring and setting our latch: a
 * wake-up is on its way, though nobody holds us.  Either is a few
 * statements, but a preempted process can sit in them for milliseconds
 * (run CA counted 4 in 9.3 million requests).  So such a look waits up to
 * UNWOKEN_GRACE_MS for the wake-up before it counts; our answers are
 * durable already, and only a caller really without a wake-up waits it
 * out.  No CHECK_FOR_INTERRUPTS here: a cancel sets the latch, ends the
 * wait and is served by the caller's next check.
 */
#define UNWOKEN_GRACE_MS	1000

static void
CountIfUnwoken(void)
{
	int			rc;

	pg_memory_barrier();
	if (MyLatch->is_set || AcknowledgerHolds(MyProc->pgprocno))
		return;
	rc = WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
				   UNWOKEN_GRACE_MS, PG_WAIT_EXTENSION);
	if ((rc & WL_LATCH_SET) || AcknowledgerHolds(MyProc->pgprocno))
		return;
	pg_atomic_fetch_add_u64(&Exchange->stats.callers_unwoken, 1);
}

/*
 * Wait until the engine's commit ending at lsn is as durable as the
 * server's synchronous_commit says: flushed here, then confirmed by the
 * synchronous standby.  The engine commits without waiting; this is where
 * the wait happens, so a caller is never answered before its request is
 * durable.  A standby wait that was cancelled returns with only a WARNING
 * ("already committed locally"): that is not an acknowledgement.
 */
static void
WaitDurable(XLogRecPtr lsn, int durability, TimestampTz start)
{
	long		left;

	if (lsn == InvalidXLogRecPtr || durability == SYNCHRONOUS_COMMIT_OFF ||
		CommitIsDurable(lsn, durability))
		return;

	/*
	 * Not durable yet (the answers came before we waited, so the engine did
	 * not hand us to the acknowledger): one sleep until it wakes us is
	 * cheaper than taking our turn at the flush and the standby queue.
	 */
	if (AcknowledgeMe(lsn, durability))
	{
		int			rc = 0;

		for (;;)
		{
			long		waited;

			ResetLatch(MyLatch);
			if (CommitIsDurable(lsn, durability))
			{
				/* durable, and found by looking: as in RequestAwait */
				if (rc & WL_TIMEOUT)
					CountIfUnwoken();
				return;
			}
			waited = TimestampDifferenceMilliseconds(start, GetCurrentTimestamp());
			if (waited >= exchange_request_timeout || !AcknowledgerRunning())
				break;			/* wait as below, within what is left */
			rc = WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						   Min(exchange_request_timeout - waited, ACK_TICK_MS),
						   PG_WAIT_EXTENSION);
			CHECK_FOR_INTERRUPTS();
		}
	}
	XLogFlush(lsn);
	if (durability <= SYNCHRONOUS_COMMIT_LOCAL_FLUSH ||
		CommitIsReplicated(lsn, durability))
		return;
	if (synchronous_commit != durability)
		(void) set_config_option("synchronous_commit",
								 DurabilityNames[durability], PGC_USERSET,
								 PGC_S_SESSION, GUC_ACTION_LOCAL, true, 0,
								 false);

	/* never wait longer than the request may take: no standby, no answer */
	if (standby_timeout == MAX_TIMEOUTS)
		standby_timeout = RegisterTimeout(USER_TIMEOUT, StandbyTimeoutHandler);
	left = exchange_request_timeout -
		TimestampDifferenceMilliseconds(start, GetCurrentTimestamp());
	standby_timed_out = false;
	enable_timeout_after(standby_timeout, Max(left, 1));
	SyncRepWaitForLSN(lsn, true);
	disable_timeout(standby_timeout, false);
	if (standby_timed_out)
	{
		/* our cancel, not the user's: SyncRepWaitForLSN may not have seen it */
		QueryCancelPending = false;
		standby_timed_out = false;
	}
	if (!CommitIsReplicated(lsn, durability))
		ereport(ERROR,
				(errcode(ERRCODE_EXCHANGE_OUTCOME_UNKNOWN),
				 errmsg("exchange request committed but not confirmed by the synchronous standby"),
				 errdetail("No synchronous standby confirmed it within exchange.request_timeout, or the wait was cancelled; it may be lost if the primary fails now."),
				 errhint("Repeat it with the same client_order_id (or deposit reference) to learn its outcome.")));
}

/*
 * The call in progress in this backend: requests sent in chunks to the
 * engine, each answered into its own slot of our mailbox.
 */
static struct
{
	bool		open;
	uint64		generation;
	int			sent;			/* requests sent in this call */
	XLogRecPtr	lsn;			/* latest commit any answer rests on */
	int			durability;
	TimestampTz started;		/* when the call began (exchange.latency) */
	TimestampTz last_sent;		/* when the latest chunk was sent */
} call;

/*
 * Start a call: refuse it when requests cannot be made here, and give our
 * mailbox a new generation so no answer to an older call lands in it.
 */
void
RequestBegin(void)
{
	Mailbox    *mb;

	ExchangeCheckLoaded();
	if (IsTransactionBlock())
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("exchange requests cannot run inside a transaction block"),
				 errdetail("The engine commits every request itself, so ROLLBACK could not undo it."),
				 errhint("Call the function outside BEGIN ... COMMIT.")));
	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot run exchange requests on a standby"),
				 errhint("Connect to the primary, for example with target_session_attrs=read-write.")));
	CheckEngineRunning();

	mb = &Exchange->mailboxes[MyProc->pgprocno];
	SpinLockAcquire(&mb->mutex);
	call.generation = ++mb->generation;
	mb->answered = 0;
	mb->wake_at = INT_MAX;
	mb->wake_early = false;
	memset(mb->filled, 0, sizeof(mb->filled));
	SpinLockRelease(&mb->mutex);
	call.open = true;
	call.started = GetCurrentTimestamp();
	call.sent = 0;
	call.lsn = InvalidXLogRecPtr;
	call.durability = 0;
}

/*
 * Queue n requests whose answers go to slots first..first+n-1 (free ones)
 * and wake the engine; returns without waiting, with *through the number
 * of requests this call has sent so far.  False when the queue has no
 * room for them.
 */
bool
RequestSend(Request *reqs, int n, int first, int *through)
{
	int			engine_procno;
	TimestampTz now = GetCurrentTimestamp();

	Assert(call.open && n > 0 && first >= 0 && first + n <= MAILBOX_SLOTS);
	LWLockAcquire(Exchange->queue_lock, LW_EXCLUSIVE);
	if (Exchange->queue_tail - Exchange->queue_head + n >
		(uint64) Exchange->queue_capacity)
	{
		LWLockRelease(Exchange->queue_lock);
		return false;
	}
	for (int i = 0; i < n; i++)
	{
		reqs[i].procno = MyProc->pgprocno;
		reqs[i].generation = call.generation;
		reqs[i].slot = first + i;
		reqs[i].queued_at = now;
		RequestCopy(&Exchange->queue[Exchange->queue_tail % Exchange->queue_capacity],
					&reqs[i]);
		Exchange->queue_tail++;
	}
	LWLockRelease(Exchange->queue_lock);
	call.sent += n;
	call.last_sent = now;
	*through = call.sent;

	SpinLockAcquire(&Exchange->state_mutex);
	engine_procno = Exchange->engine_procno;
	SpinLockRelease(&Exchange->state_mutex);
	if (engine_procno >= 0)
		SetLatch(&ProcGlobal->allProcs[engine_procno].procLatch);
	return true;
}

/* The error for requests that found the queue full: nothing was done. */
void
RequestQueueFull(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_EXCHANGE_QUEUE_FULL),
			 errmsg("exchange request queue is full"),
			 errdetail("%d requests are waiting for the engine (exchange.queue_size); nothing was done.",
					   Exchange->queue_capacity),
			 errhint("Retry after a short pause.")));
}

/*
 * Wait for the answers in slots first..first+n-1, sent by the time
 * `through` requests of this call had been sent, and copy them to resps;
 * the slots are free again.  Answers may rest on state that is not
 * durable yet: RequestEnd waits for that.  With final, these are the
 * call's last answers, so we are woken only once they are durable (by the
 * acknowledger; RequestEnd then finds nothing to wait for); otherwise as
 * soon as they are in, to send more.
 */
void
RequestAwait(Response *resps, int first, int n, int through, bool final)
{
	Mailbox    *mb = &Exchange->mailboxes[MyProc->pgprocno];
	TimestampTz start = GetCurrentTimestamp();
	int			rc = 0;

	Assert(call.open && first >= 0 && first + n <= MAILBOX_SLOTS);
	SpinLockAcquire(&mb->mutex);
	/* the engine answers in queue order: wake us with the last of these */
	mb->wake_at = through;
	mb->wake_early = !final;
	SpinLockRelease(&mb->mutex);

	for (;;)
	{
		bool		complete = true;
		long		waited;

		ResetLatch(MyLatch);
		SpinLockAcquire(&mb->mutex);
		for (int i = first; i < first + n && complete; i++)
			complete = mb->filled[i];
		SpinLockRelease(&mb->mutex);
		if (complete)
			break;

		waited = TimestampDifferenceMilliseconds(start, GetCurrentTimestamp());
		if (waited >= exchange_request_timeout)
			ereport(ERROR,
					(errcode(ERRCODE_EXCHANGE_TIMEOUT),
					 errmsg("exchange request timed out after %d ms",
							exchange_request_timeout),
					 errdetail("The request may still be carried out."),
					 errhint("Repeat it with the same client_order_id (or deposit reference) to learn its outcome.")));
		/*
		 * Look again every ACK_TICK_MS: answers filled but not woken for
		 * (the acknowledger waiting on a standby that does not confirm)
		 * are then waited for in RequestEnd, within request_timeout.
		 */
		rc = WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					   Min(exchange_request_timeout - waited, ACK_TICK_MS),
					   PG_WAIT_EXTENSION);
		CHECK_FOR_INTERRUPTS();
	}

	/*
	 * Nobody writes these slots until we send into them again, so they are
	 * copied without the spinlock, which the engine may need meanwhile to
	 * answer our other chunk.
	 */
	for (int i = 0; i < n; i++)
		ResponseCopy(&resps[i], &mb->responses[first + i]);
	SpinLockAcquire(&mb->mutex);
	memset(&mb->filled[first], 0, sizeof(bool) * n);
	mb->wake_at = INT_MAX;
	SpinLockRelease(&mb->mutex);

	/*
	 * One wait at the end covers every answer (WAL is flushed in order);
	 * errors too, since "insufficient funds" or "order is cancelled"
	 * describe state that must not be reported before it is durable.
	 */
	for (int i = 0; i < n; i++)
		if (resps[i].commit_lsn > call.lsn)
		{
			call.lsn = resps[i].commit_lsn;
			call.durability = resps[i].durability;
		}

	/*
	 * Found by looking, not woken, though they are durable: whoever should
	 * have woken us (the acknowledger, or the engine) may not have.
	 */
	if (final && (rc & WL_TIMEOUT) &&
		CommitIsDurable(call.lsn, call.durability))
		CountIfUnwoken();
}

/*
 * End the call: wait until everything its answers rest on is durable (and
 * replicated, as synchronous_commit asks).
 */
void
RequestEnd(void)
{
	Assert(call.open);
	call.open = false;
	WaitDurable(call.lsn, call.durability, call.last_sent);
	LatencyRecord(LATENCY_CALL, call.started, GetCurrentTimestamp());
}

/*
 * Hand n requests (at most MAILBOX_SLOTS) to the engine and wait for all
 * their answers, which come only after their batches are durable.  Raises
 * the documented errors when the requests cannot be made or their outcome
 * is unknown; answers that are errors are left in resps for the caller.
 */
void
RequestSubmitMany(Request *reqs, Response *resps, int n)
{
	int			through;

	RequestBegin();
	if (!RequestSend(reqs, n, 0, &through))
		RequestQueueFull();
	RequestAwait(resps, 0, n, through, true);
	RequestEnd();
}

/* Hand one request to the engine and wait for its durable answer. */
void
RequestSubmit(Request *req, Response *resp)
{
	RequestSubmitMany(req, resp, 1);
}

/* Engine: take up to max queued requests, oldest first. */
int
QueueDrain(Request *batch, int max)
{
	int			n = 0;

	LWLockAcquire(Exchange->queue_lock, LW_EXCLUSIVE);
	while (n < max && Exchange->queue_head < Exchange->queue_tail)
	{
		RequestCopy(&batch[n++], &Exchange->queue[Exchange->queue_head %
												   Exchange->queue_capacity]);
		Exchange->queue_head++;
	}
	LWLockRelease(Exchange->queue_lock);
	return n;
}

/*
 * Engine: put an answer in its caller's mailbox, unless the caller has
 * moved on; says whether (and when) the caller is to be woken: when the
 * last answer it waits for is in.
 */
MailboxWake
MailboxPut(const Request *req, const Response *resp)
{
	Mailbox    *mb;
	MailboxWake wake = MAILBOX_WAKE_NONE;

	if (req->procno < 0 || req->procno >= Exchange->nmailboxes ||
		req->slot < 0 || req->slot >= MAILBOX_SLOTS)
		return MAILBOX_WAKE_NONE;
	mb = &Exchange->mailboxes[req->procno];
	SpinLockAcquire(&mb->mutex);
	if (mb->generation == req->generation)
	{
		ResponseCopy(&mb->responses[req->slot], resp);
		mb->filled[req->slot] = true;
		mb->answered++;
		if (mb->answered >= mb->wake_at)
			wake = mb->wake_early ? MAILBOX_WAKE_NOW : MAILBOX_WAKE_DURABLE;
	}
	SpinLockRelease(&mb->mutex);
	return wake;
}

/* Engine: answer a request and wake its caller at once when due. */
void
MailboxReply(const Request *req, const Response *resp)
{
	if (MailboxPut(req, resp) != MAILBOX_WAKE_NONE)
		SetLatch(&ProcGlobal->allProcs[req->procno].procLatch);
}

/* Engine: answer every queued request with the same error, emptying it. */
void
QueueFailAll(int sqlstate, const char *message, const char *detail)
{
	Request		req;
	Response	resp;

	memset(&resp, 0, sizeof(resp));
	resp.sqlstate = sqlstate;
	strlcpy(resp.message, message, sizeof(resp.message));
	strlcpy(resp.detail, detail, sizeof(resp.detail));
	for (;;)
	{
		bool		more;

		LWLockAcquire(Exchange->queue_lock, LW_EXCLUSIVE);
		more = Exchange->queue_head < Exchange->queue_tail;
		if (more)
		{
			RequestCopy(&req, &Exchange->queue[Exchange->queue_head %
											   Exchange->queue_capacity]);
			Exchange->queue_head++;
		}
		LWLockRelease(Exchange->queue_lock);
		if (!more)
			break;
		MailboxReply(&req, &resp);
	}
}
