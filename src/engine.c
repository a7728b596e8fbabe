#include "exchange.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

/* The batch being applied, for the exit callback. */
static Request *inflight = NULL;
static int *wake = NULL;			/* callers of a batch to wake, by procno */
static int	inflight_n = 0;

static MemoryContext engine_cxt = NULL;
static int	durability = SYNCHRONOUS_COMMIT_ON;	/* synchronous_commit as set */
static Oid	extension_oid = InvalidOid;	/* the extension the core mirrors */
static Oid	order_table_oid = InvalidOid;	/* its exchange.order_record */
static TimestampTz next_expiry = 0;

/* Register the engine worker (from _PG_init). */
void
EngineRegister(void)
{
	WorkerRegister("EngineMain", "exchange engine",
				   BgWorkerStart_RecoveryFinished, 1);
}

/* Build an error answer. */
static void
ResponseError(Response *resp, int sqlstate, const char *message,
			  const char *detail)
{
	ResponseClear(resp);
	resp->sqlstate = sqlstate;
	strlcpy(resp->message, message, sizeof(resp->message));
	if (detail)
		strlcpy(resp->detail, detail, sizeof(resp->detail));
}

/*
 * On exit, nobody may be left waiting: the batch in flight has an unknown
 * outcome (it may have committed), queued requests were never applied.
 */
static void
EngineExit(int code, Datum arg)
{
	Response	resp;

	EngineSetState(ENGINE_STOPPED);
	SpinLockAcquire(&Exchange->state_mutex);
	Exchange->engine_procno = -1;
	SpinLockRelease(&Exchange->state_mutex);

	ResponseError(&resp, ERRCODE_EXCHANGE_OUTCOME_UNKNOWN,
				  "exchange engine stopped before answering",
				  "The request may or may not have been carried out.");
	for (int i = 0; i < inflight_n; i++)
		MailboxReply(&inflight[i], &resp);
	inflight_n = 0;
	QueueFailAll(ERRCODE_EXCHANGE_ENGINE_NOT_RUNNING,
				 "exchange engine stopped",
				 "The request was not carried out.");
}

/* exchange.order_record's OID, or InvalidOid when there is none. */
static Oid
ExchangeOrderTable(void)
{
	Oid			nsp = get_namespace_oid("exchange", true);

	return OidIsValid(nsp) ? get_relname_relid("order_record", nsp) :
		InvalidOid;
}

/* Rebuild the core from the tables in a transaction of its own. */
static void
EngineReload(void)
{
	EngineSetState(ENGINE_REBUILDING);
	pgstat_report_activity(STATE_RUNNING, "exchange: rebuilding from tables");
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	extension_oid = get_extension_oid("exchange", true);
	if (!OidIsValid(extension_oid))
		ereport(FATAL,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension exchange was dropped"),
				 errdetail("The engine restarts and waits for CREATE EXTENSION exchange.")));
	order_table_oid = ExchangeOrderTable();
	RebuildCore(Exchange->core);
	PersistReset();
	SPI_finish();
	PopActiveSnapshot();

	/*
	 * Write a commit record: it follows every record the books were loaded
	 * from, some perhaps committed by a previous engine and not yet
	 * durable, so answers wait at least for it (see EngineRunBatch).
	 */
	(void) GetTopTransactionId();
	durability = synchronous_commit;
	synchronous_commit = SYNCHRONOUS_COMMIT_OFF;
	CommitTransactionCommand();
	synchronous_commit = durability;
	pg_atomic_fetch_add_u64(&Exchange->stats.rebuilds, 1);
	pgstat_report_activity(STATE_IDLE, NULL);
	EngineSetState(ENGINE_RUNNING);
}

/* Apply and commit one batch; ERRORs propagate to the caller. */
static void
EngineBatchTransaction(const Request *reqs, Response *resps, int n,
					   bool expire)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "exchange: applying a batch");

	/*
	 * DROP (and CREATE) EXTENSION makes the books stale: rebuild.  The
	 * extension's table, found through the catalogue caches, tells at a
	 * fraction of the cost of reading pg_extension for every batch.
	 */
	if (ExchangeOrderTable() != order_table_oid)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension exchange was dropped or re-created")));

	ApplyBegin(GetCurrentTimestamp());
	ApplyPrefetch(reqs, n);
	for (int i = 0; i < n; i++)
	{
		if (i + 2 < n)
			ApplyHint(&reqs[i + 2], true);
		if (i + 1 < n)
			ApplyHint(&reqs[i + 1], false);
		ApplyRequest(&reqs[i], &resps[i]);
	}
	if (expire)
		ApplyExpire();
	ApplyFlush();

	SPI_finish();
	PopActiveSnapshot();

	/*
	 * Commit without waiting for the WAL flush or the standby: the callers
	 * wait for this batch's LSN themselves (RequestSubmit) before they
	 * return, so the engine goes on with the next batch meanwhile, and the
	 * flushes of many batches are shared.  A later batch is never durable
	 * before an earlier one: WAL is flushed in order.
	 */
	durability = synchronous_commit;
	synchronous_commit = SYNCHRONOUS_COMMIT_OFF;
	CommitTransactionCommand();
	synchronous_commit = durability;
	/* table statistics drive autovacuum of the tables the engine writes */
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
}

/* exchange.latency()'s queue and batch stages: the engine's alone */
static LatencyLocal queue_latency;
static LatencyLocal batch_latency;

static void
CountBatch(int n)
{
	int			bucket = 0;

	while (bucket < 7 && (1 << (bucket + 1)) <= n)
		bucket++;
	pg_atomic_fetch_add_u64(&Exchange->stats.batches, 1);
	pg_atomic_fetch_add_u64(&Exchange->stats.requests, n);
	pg_atomic_fetch_add_u64(&Exchange->stats.batch_hist[bucket], 1);
}

/*
 * Run a batch.  When it fails, shared memory is rebuilt from the committed
 * tables and every request is retried alone, so the good ones still
 * succeed and only the bad one gets the error (retry marks that pass).
 */
static void
EngineRunBatch(Request *reqs, Response *resps, int n, bool expire,
			   bool retry)
{
	ErrorData  *volatile edata = NULL;
	MemoryContext oldcxt = CurrentMemoryContext;
	TimestampTz start = GetCurrentTimestamp();

	/* how long each waited in the queue (a retry's wait is counted) */
	if (!retry)
		for (int i = 0; i < n; i++)
			LatencyLocalAdd(&queue_latency, reqs[i].queued_at, start);

	inflight = reqs;
	inflight_n = n;
	PG_TRY();
	{
		EngineBatchTransaction(reqs, resps, n, expire);
	}
	PG_CATCH();
	{
		synchronous_commit = durability;
		MemoryContextSwitchTo(engine_cxt);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(oldcxt);

	if (edata == NULL)
	{
		/*
		 * Every answer, an error or a repeat that wrote nothing too, may
		 * rest on state from earlier batches that are not durable yet.  The
		 * engine's last commit record (this batch's, an earlier one's, or
		 * the rebuild's, which follows all WAL the books were loaded from)
		 * covers all of them.
		 */
		XLogRecPtr	lsn = XactLastCommitEnd;
		int			nwake = 0;

		for (int i = 0; i < n; i++)
		{
			resps[i].commit_lsn = lsn;
			resps[i].durability = durability;
			switch (MailboxPut(&reqs[i], &resps[i]))
			{
				case MAILBOX_WAKE_NONE:
					break;
				case MAILBOX_WAKE_NOW:
					SetLatch(&ProcGlobal->allProcs[reqs[i].procno].procLatch);
					break;
				case MAILBOX_WAKE_DURABLE:
					wake[nwake++] = reqs[i].procno;
					break;
			}
		}
		if (exchange_debug_handover_delay > 0 && nwake > 0)
			pg_usleep(exchange_debug_handover_delay * 1000L);
		/* the callers wake once the batch is durable, not before */
		AcknowledgeWhenDurable(wake, nwake, lsn, durability);
		inflight_n = 0;
		if (n > 0)
		{
			CountBatch(n);
			LatencyLocalAdd(&batch_latency, start, GetCurrentTimestamp());
			LatencyLocalPublish(&batch_latency, LATENCY_BATCH);
		}
		LatencyLocalPublish(&queue_latency, LATENCY_QUEUE);
		return;
	}

	pg_atomic_fetch_add_u64(&Exchange->stats.failed_batches, 1);
	SpinLockAcquire(&Exchange->state_mutex);
	strlcpy(Exchange->last_error, edata->message ? edata->message : "",
			sizeof(Exchange->last_error));
	SpinLockRelease(&Exchange->state_mutex);
	ereport(LOG,
			(errmsg("exchange batch of %d requests failed: %s", n,
					edata->message ? edata->message : "unknown error"),
			 errdetail("The engine rebuilds from the tables and retries the requests one by one.")));
	EngineReload();

	if (retry && n == 1)
	{
		Response	resp;

		ResponseError(&resp, edata->sqlerrcode,
					  edata->message ? edata->message : "request failed",
					  edata->detail);
		resp.commit_lsn = XactLastCommitEnd;
		resp.durability = durability;
		MailboxReply(&reqs[0], &resp);
		inflight_n = 0;
	}
	else if (!retry)
	{
		for (int i = 0; i < n; i++)
			EngineRunBatch(&reqs[i], &resps[i], 1, false, true);
		if (expire)
			EngineRunBatch(reqs, resps, 0, true, true);
	}
	FreeErrorData(edata);
}

/* Whether CREATE EXTENSION exchange has been committed in our database. */
static bool
EngineExtensionReady(void)
{
	bool		ready;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	ready = RebuildExtensionExists();
	CommitTransactionCommand();
	return ready;
}

static void
EngineHandleSignals(void)
{
	CHECK_FOR_INTERRUPTS();
	if (ConfigReloadPending)
	{
		ConfigReloadPending = false;
		ProcessConfigFile(PGC_SIGHUP);
	}
}

/*
 * Gathering a batch.  When the engine finds only a few requests
 * (BATCH_DELAY_BELOW) it may wait exchange.batch_delay microseconds for
 * more, as commit_delay does for WAL flushes: one transaction, one commit
 * and one wake-up of the engine then serve more requests.  It waits only
 * when at least exchange.batch_siblings other callers that made requests
 * in the last ACTIVE_WINDOW_MS are not waiting on it already (in the batch
 * or for their answers to become durable): only they can arrive in the
 * meantime.  A few clients calling in a loop are all waiting on the engine,
 * and a delay would only slow each of their calls.
 */
#define BATCH_DELAY_BELOW 16
#define ACTIVE_WINDOW_MS 100

static TimestampTz *last_call = NULL;	/* by procno; 0: not counted */
static int	active_callers = 0;
static TimestampTz next_active_scan = 0;

/*
 * Count the callers of a drained batch as active and forget the idle ones;
 * returns how many callers made these requests.
 */
static int
NoteCallers(const Request *reqs, int n, TimestampTz now)
{
	int			callers = 0;

	if (last_call == NULL)
		last_call = MemoryContextAllocZero(engine_cxt,
										   sizeof(TimestampTz) * ProcGlobal->allProcCount);
	for (int i = 0; i < n; i++)
	{
		int			p = reqs[i].procno;

		if (p < 0 || p >= (int) ProcGlobal->allProcCount)
			continue;
		if (last_call[p] == now)
			continue;			/* one of its earlier requests */
		if (last_call[p] == 0)
			active_callers++;
		last_call[p] = now;
		callers++;
	}
	if (now >= next_active_scan)
	{
		TimestampTz idle_before = TimestampTzPlusMilliseconds(now, -ACTIVE_WINDOW_MS);

		for (int p = 0; p < (int) ProcGlobal->allProcCount; p++)
			if (last_call[p] != 0 && last_call[p] < idle_before)
			{
				last_call[p] = 0;
				active_callers--;
			}
		next_active_scan = TimestampTzPlusMilliseconds(now, ACTIVE_WINDOW_MS);
	}
	pg_atomic_write_u32(&Exchange->active_callers, (uint32) active_callers);
	return callers;
}

/*
 * Whether to wait for more requests before running a batch of n requests
 * from `callers` callers.
 */
static bool
BatchShouldWait(int n, int callers, int room)
{
	uint64		parked;

	if (exchange_batch_delay <= 0 || n >= BATCH_DELAY_BELOW || n >= room)
		return false;
	SpinLockAcquire(&Exchange->acks.mutex);
	parked = Exchange->acks.tail - Exchange->acks.head;
	SpinLockRelease(&Exchange->acks.mutex);
	return (int64) active_callers - callers - (int64) parked >=
		exchange_batch_siblings;
}

/* The engine worker's entry point. */
void
EngineMain(Datum arg)
{
	Request    *batch;
	Response   *resps;
	int			capacity;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(exchange_database, NULL, 0);
	pgstat_report_appname("exchange engine");

	/*
	 * The engine's statements touch a few rows by key in tables that grow
	 * large: an index nested loop is always right, while a plan cached when
	 * a table was small (a hash join over a sequential scan) would stay
	 * slow forever.
	 */
	SetConfigOption("enable_seqscan", "off", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("enable_hashjoin", "off", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("enable_mergejoin", "off", PGC_SUSET, PGC_S_OVERRIDE);
	/* and planning each batch's statements anew cost a fifth of its time */
	SetConfigOption("plan_cache_mode", "force_generic_plan", PGC_SUSET,
					PGC_S_OVERRIDE);

	engine_cxt = AllocSetContextCreate(TopMemoryContext, "exchange engine",
									   ALLOCSET_DEFAULT_SIZES);
	capacity = exchange_batch_size;
	batch = MemoryContextAlloc(engine_cxt, sizeof(Request) * capacity);
	resps = MemoryContextAlloc(engine_cxt, sizeof(Response) * capacity);
	wake = MemoryContextAlloc(engine_cxt, sizeof(int) * capacity);

	before_shmem_exit(EngineExit, (Datum) 0);
	SpinLockAcquire(&Exchange->state_mutex);
	Exchange->engine_procno = MyProc->pgprocno;
	Exchange->engine_epoch++;
	Exchange->engine_started = GetCurrentTimestamp();
	Exchange->engine_state = ENGINE_WAITING;
	SpinLockRelease(&Exchange->state_mutex);

	/* requests left from a previous engine are stale: nobody applied them */
	QueueFailAll(ERRCODE_EXCHANGE_ENGINE_NOT_RUNNING,
				 "exchange engine restarted",
				 "The request was not carried out.");

	while (!EngineExtensionReady())
	{
		pgstat_report_activity(STATE_IDLE, NULL);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 1000, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		EngineHandleSignals();
	}
	EngineReload();
	ereport(LOG, (errmsg("exchange engine ready: %d open orders",
						 CoreOpenOrderCount(Exchange->core))));
	next_expiry = GetCurrentTimestamp();

	for (;;)
	{
		int			n,
					room,
					extra;
		bool		expire;
		long		wait_ms;
		TimestampTz now;

		ResetLatch(MyLatch);
		EngineHandleSignals();

		if (exchange_batch_size > capacity)
		{
			capacity = exchange_batch_size;
			batch = repalloc(batch, sizeof(Request) * capacity);
			resps = repalloc(resps, sizeof(Response) * capacity);
			wake = repalloc(wake, sizeof(int) * capacity);
		}
		room = Min(capacity, exchange_batch_size);
		n = QueueDrain(batch, room);
		now = GetCurrentTimestamp();
		if (n > 0)
		{
			int			callers = NoteCallers(batch, n, now);

			if (BatchShouldWait(n, callers, room))
			{
				/*
				 * The latch is not waited on meanwhile, so callers arriving
				 * now do not signal us.
				 */
				pg_usleep(exchange_batch_delay);
				extra = QueueDrain(batch + n, room - n);
				NoteCallers(batch + n, extra, now);
				n += extra;
				pg_atomic_fetch_add_u64(&Exchange->stats.batch_delays, 1);
			}
		}
		expire = now >= next_expiry;
		if (expire)
			next_expiry = TimestampTzPlusMilliseconds(now,
													  exchange_expiry_interval);
		if (n > 0 || expire)
		{
			EngineRunBatch(batch, resps, n, expire, false);
			continue;
		}
		wait_ms = TimestampDifferenceMilliseconds(GetCurrentTimestamp(),
												  next_expiry);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Max(wait_ms, 1), PG_WAIT_EXTENSION);
	}
}
