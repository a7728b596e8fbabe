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

/*
 * Has the synchronous standby confirmed lsn, as durability (a
 * synchronous_commit level) asks?  True when no standby is required.
 */
bool
CommitIsReplicated(XLogRecPtr lsn, int durability)
{
	int			mode;
	XLogRecPtr	acked;

	if (durability <= SYNCHRONOUS_COMMIT_LOCAL_FLUSH || max_wal_senders == 0 ||
		SyncRepStandbyNames == NULL || SyncRepStandbyNames[0] == '\0')
		return true;
	mode = durability == SYNCHRONOUS_COMMIT_REMOTE_WRITE ? SYNC_REP_WAIT_WRITE :
		durability == SYNCHRONOUS_COMMIT_REMOTE_APPLY ? SYNC_REP_WAIT_APPLY :
		SYNC_REP_WAIT_FLUSH;
	LWLockAcquire(SyncRepLock, LW_SHARED);
	acked = WalSndCtl->lsn[mode];
	LWLockRelease(SyncRepLock);
	return acked >= lsn;
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

	if (lsn == InvalidXLogRecPtr || durability == SYNCHRONOUS_COMMIT_OFF)
		return;
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
 * Hand n requests (at most MAILBOX_SLOTS) to the engine and wait for all
 * their answers, which come only after their batches are durable.  Raises
 * the documented errors when the requests cannot be made or their outcome
 * is unknown; answers that are errors are left in resps for the caller.
 */
void
RequestSubmitMany(Request *reqs, Response *resps, int n)
{
	Mailbox    *mb;
	uint64		generation;
	int			engine_procno;
	TimestampTz start;
	bool		answered = false;
	XLogRecPtr	lsn = InvalidXLogRecPtr;
	int			durability = 0;

	Assert(n > 0 && n <= MAILBOX_SLOTS);
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
	generation = ++mb->generation;
	mb->expected = n;
	mb->answered = 0;
	SpinLockRelease(&mb->mutex);

	LWLockAcquire(Exchange->queue_lock, LW_EXCLUSIVE);
	if (Exchange->queue_tail - Exchange->queue_head + n >
		(uint64) Exchange->queue_capacity)
	{
		LWLockRelease(Exchange->queue_lock);
		ereport(ERROR,
				(errcode(ERRCODE_EXCHANGE_QUEUE_FULL),
				 errmsg("exchange request queue is full"),
				 errdetail("%d requests are waiting for the engine (exchange.queue_size); nothing was done.",
						   Exchange->queue_capacity),
				 errhint("Retry after a short pause.")));
	}
	for (int i = 0; i < n; i++)
	{
		reqs[i].procno = MyProc->pgprocno;
		reqs[i].generation = generation;
		reqs[i].slot = i;
		Exchange->queue[Exchange->queue_tail % Exchange->queue_capacity] = reqs[i];
		Exchange->queue_tail++;
	}
	LWLockRelease(Exchange->queue_lock);

	SpinLockAcquire(&Exchange->state_mutex);
	engine_procno = Exchange->engine_procno;
	SpinLockRelease(&Exchange->state_mutex);
	if (engine_procno >= 0)
		SetLatch(&ProcGlobal->allProcs[engine_procno].procLatch);

	start = GetCurrentTimestamp();
	for (;;)
	{
		long		waited;

		ResetLatch(MyLatch);
		SpinLockAcquire(&mb->mutex);
		answered = (mb->generation == generation && mb->answered == n);
		SpinLockRelease(&mb->mutex);
		if (answered)
		{
			/* complete: nobody writes the mailbox until our next request */
			memcpy(resps, mb->responses, sizeof(Response) * n);
			break;
		}

		waited = TimestampDifferenceMilliseconds(start, GetCurrentTimestamp());
		if (waited >= exchange_request_timeout)
			ereport(ERROR,
					(errcode(ERRCODE_EXCHANGE_TIMEOUT),
					 errmsg("exchange request timed out after %d ms",
							exchange_request_timeout),
					 errdetail("The request may still be carried out."),
					 errhint("Repeat it with the same client_order_id (or deposit reference) to learn its outcome.")));
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 exchange_request_timeout - waited, PG_WAIT_EXTENSION);
		CHECK_FOR_INTERRUPTS();
	}

	/*
	 * One wait covers every answer (WAL is flushed in order); errors too,
	 * since "insufficient funds" or "order is cancelled" describe state that
	 * must not be reported before it is durable.
	 */
	for (int i = 0; i < n; i++)
		if (resps[i].commit_lsn > lsn)
		{
			lsn = resps[i].commit_lsn;
			durability = resps[i].durability;
		}
	WaitDurable(lsn, durability, start);
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
		batch[n++] = Exchange->queue[Exchange->queue_head %
									 Exchange->queue_capacity];
		Exchange->queue_head++;
	}
	LWLockRelease(Exchange->queue_lock);
	return n;
}

/* Engine: answer a request, unless its caller has moved on. */
void
MailboxReply(const Request *req, const Response *resp)
{
	Mailbox    *mb;
	bool		complete = false;

	if (req->procno < 0 || req->procno >= Exchange->nmailboxes ||
		req->slot < 0 || req->slot >= MAILBOX_SLOTS)
		return;
	mb = &Exchange->mailboxes[req->procno];
	SpinLockAcquire(&mb->mutex);
	if (mb->generation == req->generation)
	{
		mb->responses[req->slot] = *resp;
		mb->answered++;
		complete = (mb->answered == mb->expected);
	}
	SpinLockRelease(&mb->mutex);
	/* wake the caller once, when its last answer is in */
	if (complete)
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
			req = Exchange->queue[Exchange->queue_head %
								  Exchange->queue_capacity];
			Exchange->queue_head++;
		}
		LWLockRelease(Exchange->queue_lock);
		if (!more)
			break;
		MailboxReply(&req, &resp);
	}
}
