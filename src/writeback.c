/*
 * The writeback pacer: a background worker that hands the exchange's
 * dirty relation pages to the kernel for writing every
 * exchange.writeback_interval, instead of leaving them to the kernel's own
 * schedule.
 *
 * PostgreSQL 15 extends a relation by writing a page of zeros into the
 * page cache (mdextend), and nothing asks for that page to be written
 * until the kernel's flusher finds it: by default when its file has been
 * dirty for 30 s (vm.dirty_expire_centisecs), and then the kernel writes
 * every dirty page of that file at once.  The engine's tables grow by
 * every order (8.5 MB of dirty pages a second between a primary and its
 * standby at 10,000 orders/s on the reference machine), so every 30 s
 * some 250 MB went to the disk in one burst, and the WAL flushes that
 * every answer waits for (each one flushes the device's cache) waited
 * behind it: 110-160 ms answers at +28 s and +33 s of a paced run, nothing
 * else happening (docs/performance.md, "The kernel's writeback").  Written
 * back a second at a time, the same pages are a few MB per flush.  Buffers
 * the engine evicts are covered too (backend_flush_after is off by
 * default), as are those the startup process extends and writes on a
 * standby, which is where this worker matters as much: it runs on hot
 * standbys too.
 *
 * Each round opens every relation with storage in the exchange schema (its
 * tables, their indexes and TOAST tables) under AccessShareLock, which no
 * engine write waits for, and asks for writeback of each fork's whole
 * extent (smgrwriteback: sync_file_range(SYNC_FILE_RANGE_WRITE) on Linux).
 * The kernel only starts writing the pages that are dirty and does not
 * wait for them, so a round costs a few system calls per relation.  With
 * fsync off it does nothing, as PostgreSQL's own flush_after settings.
 *
 * On a primary the same worker also keeps the tables the engine appends
 * to extended ahead of it (exchange.extend_ahead, src/extend.c), checking
 * them every 10 to 80 ms.
 */
#include "exchange.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "miscadmin.h"
#include "nodes/pg_list.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/smgr.h"
#include "tcop/tcopprot.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

/* Register the writeback pacer (from _PG_init). */
void
WritebackRegister(void)
{
	/* on hot standbys too: replay extends the same relations there */
	WorkerRegister("WritebackMain", "exchange writeback",
				   BgWorkerStart_ConsistentState, 10);
}

/* The relations of the exchange schema that have storage, as OIDs. */
static List *
WritebackRelations(void)
{
	Oid			nsp = get_namespace_oid("exchange", true);
	List	   *oids = NIL;
	Relation	pg_class;
	SysScanDesc scan;
	ScanKeyData key;
	HeapTuple	tuple;

	if (!OidIsValid(nsp))
		return NIL;				/* no extension here (yet) */
	ScanKeyInit(&key, Anum_pg_class_relnamespace, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(nsp));
	pg_class = table_open(RelationRelationId, AccessShareLock);
	scan = systable_beginscan(pg_class, InvalidOid, false, NULL, 1, &key);
	while (HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		Form_pg_class form = (Form_pg_class) GETSTRUCT(tuple);

		if (!RELKIND_HAS_STORAGE(form->relkind) ||
			form->relpersistence == RELPERSISTENCE_TEMP)
			continue;
		oids = lappend_oid(oids, form->oid);
		if (OidIsValid(form->reltoastrelid))
			oids = lappend_oid(oids, form->reltoastrelid);
	}
	systable_endscan(scan);
	table_close(pg_class, AccessShareLock);
	return oids;
}

/*
 * Ask for writeback of every fork of one relation; the relation's TOAST
 * index too when it is a TOAST table (its own namespace holds it).
 */
static void
WritebackRelation(Oid relid)
{
	Relation	rel = try_relation_open(relid, AccessShareLock);
	SMgrRelation smgr;

	if (rel == NULL)
		return;					/* dropped since the catalog was read */
	smgr = RelationGetSmgr(rel);
	for (ForkNumber fork = MAIN_FORKNUM; fork <= MAX_FORKNUM; fork++)
	{
		BlockNumber nblocks;

		if (!smgrexists(smgr, fork))
			continue;
		/* opens every segment, which smgrwriteback needs open */
		nblocks = smgrnblocks(smgr, fork);
		if (nblocks > 0)
			smgrwriteback(smgr, fork, 0, nblocks);
	}
	if (rel->rd_rel->relkind == RELKIND_TOASTVALUE)
	{
		List	   *indexes = RelationGetIndexList(rel);
		ListCell   *lc;

		foreach(lc, indexes)
			WritebackRelation(lfirst_oid(lc));
	}
	relation_close(rel, AccessShareLock);
}

/* One round over the exchange's relations, in a transaction of its own. */
static void
WritebackRound(void)
{
	List	   *oids;
	ListCell   *lc;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	pgstat_report_activity(STATE_RUNNING, "writing back the exchange's dirty pages");
	oids = WritebackRelations();
	foreach(lc, oids)
	{
		WritebackRelation(lfirst_oid(lc));
		CHECK_FOR_INTERRUPTS();
	}
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
}

/*
 * How often tables are checked for pages to add ahead (extend.c): every
 * 10 ms after a round that added some, backing off to 80 ms while none
 * are needed.
 */
#define EXTEND_TICK_MIN_MS 10
#define EXTEND_TICK_MAX_MS 80

/* The writeback pacer's entry point. */
void
WritebackMain(Datum arg)
{
	TimestampTz last_round;
	long		extend_tick = EXTEND_TICK_MIN_MS;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(exchange_database, NULL, 0);
	pgstat_report_appname("exchange writeback");
	last_round = 0;

	for (;;)
	{
		long		timeout;
		TimestampTz now;
		bool		extending;

		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		now = GetCurrentTimestamp();
		if (exchange_writeback_interval > 0 &&
			TimestampDifferenceExceeds(last_round, now,
									   exchange_writeback_interval))
		{
			WritebackRound();
			last_round = now;
		}
		extending = exchange_extend_ahead > 0 && !RecoveryInProgress();
		if (extending)
			extend_tick = ExtendAheadRound() ? EXTEND_TICK_MIN_MS :
				Min(extend_tick * 2, EXTEND_TICK_MAX_MS);

		/* off: sleep until a reload (its SIGHUP sets the latch) */
		if (extending)
			timeout = extend_tick;
		else
			timeout = exchange_writeback_interval > 0 ?
				exchange_writeback_interval : 60000;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 timeout, PG_WAIT_EXTENSION);
	}
}
