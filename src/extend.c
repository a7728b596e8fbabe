/*
 * Tables extended ahead of the engine.
 *
 * PostgreSQL 15 extends a heap one page at a time, when an insert finds no
 * room: the inserting process takes the relation extension lock, writes a
 * page of zeros into the file (mdextend's pwrite) and reads it into a
 * buffer.  For the engine that was a tenth of its time in place_orders
 * (order_record grows by about 170 bytes an order), and the engine is the
 * exchange's critical path: a quarter of the time it is waiting for a CPU
 * (docs/performance.md, "Runs BP and BQ").
 *
 * So the writeback worker, on a primary, keeps between
 * exchange.extend_ahead / 2 and exchange.extend_ahead empty pages at the
 * end of each table the engine appends to, as PostgreSQL's own
 * RelationAddExtraBlocks does under contention: it extends the table under
 * the extension lock and records the new pages in its free space map,
 * where the engine's next insert that needs a page finds them.  The pages
 * are not initialized (nor WAL-logged): an insert initializes a new page
 * and logs it whole, as after any extension, and VACUUM treats empty pages
 * at the end as PostgreSQL's own.  Only tables of more than 16 times
 * extend_ahead pages are extended, so that the empty tail stays below
 * what VACUUM would truncate (a sixteenth of the table, or 1,000 pages).
 *
 * Their B-tree indexes grow too, a page at every leaf split, and the
 * splitting process extended the index itself (half of the extensions the
 * engine still made in place_orders, 2026-11-24).  A split takes its new
 * page from the index's free space map first (_bt_getbuf: an all-zero page
 * found there is initialized and used, as after a crash between extension
 * and use), so the same tail works for them: empty pages at the end,
 * recorded as free index pages.  The split logs the new page whole, so
 * recovery and standbys need nothing else.  B-tree indexes are never
 * truncated by VACUUM, which counts such pages as free, so an index is
 * kept a tail once it has extend_ahead pages (small ones do not get one).
 */
#include "exchange.h"

#include "access/genam.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_am_d.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/bufmgr.h"
#include "storage/freespace.h"
#include "storage/indexfsm.h"
#include "storage/lmgr.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

/* the tables the engine appends to */
static const char *const extend_tables[] = {"order_record", "trade_record"};

/* pages added per hold of the extension lock */
#define EXTEND_CHUNK 32

/*
 * Pages added per round at most: 64 every 10 ms keeps up with 6,400 pages
 * (50 MB) a second, more than the engine writes, and keeps each burst of
 * new pages (and of their writeback) small.
 */
#define EXTEND_STEP 64

/*
 * Add n empty pages to rel's end (a table, or a B-tree index) and record
 * them as free.
 */
static void
ExtendBy(Relation rel, BlockNumber n)
{
	bool		index = rel->rd_rel->relkind == RELKIND_INDEX;

	while (n > 0)
	{
		BlockNumber chunk = Min(n, EXTEND_CHUNK);
		BlockNumber first = InvalidBlockNumber;
		BlockNumber last = InvalidBlockNumber;

		LockRelationForExtension(rel, ExclusiveLock);
		for (BlockNumber i = 0; i < chunk; i++)
		{
			Buffer		buf = ReadBufferExtended(rel, MAIN_FORKNUM, P_NEW,
												 RBM_ZERO_AND_LOCK, NULL);
			BlockNumber blk = BufferGetBlockNumber(buf);

			if (!PageIsNew(BufferGetPage(buf)))
				elog(ERROR, "page %u of exchange.%s should be empty but is not",
					 blk, RelationGetRelationName(rel));
			UnlockReleaseBuffer(buf);
			if (index)
				RecordFreeIndexPage(rel, blk);
			else
				RecordPageWithFreeSpace(rel, blk, BLCKSZ - SizeOfPageHeaderData);
			if (first == InvalidBlockNumber)
				first = blk;
			last = blk;
		}
		UnlockRelationForExtension(rel, ExclusiveLock);
		/* make the pages findable from the map's root */
		FreeSpaceMapVacuumRange(rel, first, last + 1);
		pg_atomic_fetch_add_u64(&Exchange->stats.pages_extended_ahead, chunk);
		n -= chunk;
	}
}

/*
 * Keep one relation's empty tail once it has at least min_pages: when the
 * page half of extend_ahead before the end is no longer free, fewer than
 * half remain; add up to half again (EXTEND_STEP at a time, round after
 * round).
 */
static bool
ExtendAheadRel(Relation rel, BlockNumber ahead, BlockNumber min_pages)
{
	BlockNumber nblocks = RelationGetNumberOfBlocks(rel);

	if (nblocks < min_pages ||
		GetRecordedFreeSpace(rel, nblocks - ahead / 2) >= BLCKSZ / 2)
		return false;
	ExtendBy(rel, Min(ahead / 2, EXTEND_STEP));
	return true;
}

/*
 * Keep one table's empty tail, and its B-tree indexes' (the ones a DBA
 * added too).  An index that is being built or dropped concurrently is
 * left alone, as is one whose lock is taken (never wait behind a REINDEX).
 */
static bool
ExtendAheadTable(Oid nsp, const char *name, BlockNumber ahead)
{
	Oid			relid = get_relname_relid(name, nsp);
	Relation	rel;
	List	   *indexes;
	ListCell   *lc;
	bool		extended = false;

	/* never wait behind a DBA's ALTER TABLE or VACUUM FULL */
	if (!OidIsValid(relid) || !ConditionalLockRelationOid(relid, RowExclusiveLock))
		return false;
	rel = table_open(relid, NoLock);
	if (rel->rd_rel->relkind == RELKIND_RELATION)
	{
		extended |= ExtendAheadRel(rel, ahead, 16 * ahead + 1);
		indexes = RelationGetIndexList(rel);
		foreach(lc, indexes)
		{
			Oid			indexid = lfirst_oid(lc);
			Relation	index;

			if (!ConditionalLockRelationOid(indexid, RowExclusiveLock))
				continue;
			index = index_open(indexid, NoLock);
			if (index->rd_rel->relam == BTREE_AM_OID &&
				index->rd_index->indisvalid && index->rd_index->indisready)
				extended |= ExtendAheadRel(index, ahead, ahead);
			index_close(index, RowExclusiveLock);
		}
		list_free(indexes);
	}
	table_close(rel, RowExclusiveLock);
	return extended;
}

/*
 * One round over the engine's growing tables, in a transaction; true when
 * a table needed pages.
 */
bool
ExtendAheadRound(void)
{
	Oid			nsp;
	BlockNumber ahead = (BlockNumber) exchange_extend_ahead;
	bool		extended = false;

	if (ahead < 2 || RecoveryInProgress())
		return false;
	StartTransactionCommand();
	pgstat_report_activity(STATE_RUNNING, "extending the exchange's tables ahead of the engine");
	nsp = get_namespace_oid("exchange", true);
	if (OidIsValid(nsp))
		for (int i = 0; i < lengthof(extend_tables); i++)
			extended |= ExtendAheadTable(nsp, extend_tables[i], ahead);
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
	return extended;
}
