/*
 * The WAL preparer: a background worker that creates the next WAL segment
 * files before the server needs them.
 *
 * When the WAL reaches the end of a segment and no recycled file is
 * waiting, the process that writes it (the acknowledger flushing, the
 * engine when the WAL buffers are full) creates the next segment on the
 * spot: it writes 16 MB of zeros and syncs them while it holds
 * WALWriteLock, and every commit waiting for a flush waits with it.  On
 * the reference machine that was 12-14 ms every 1.4 s at 10,000 orders/s,
 * and every answer slower than 5 ms of such a run fell on one of those
 * moments: a stall that alone made the p99.  Checkpoints recycle old
 * segments into future ones, but only as many as their estimate says, and
 * none between checkpoints.
 *
 * This worker looks at the WAL insert position every WAL_AHEAD_TICK_MS and
 * makes sure the exchange.wal_segments_ahead segments after the current
 * one exist: the same zero-filled, synced file a writer would have made,
 * installed the same way (see WalAheadMake), written out gently.  So the
 * writers find the file ready and only open it.  On a hot standby it
 * does the same ahead of what the WAL receiver has flushed (the receiver
 * otherwise makes each file itself, and a synchronous standby's stall is
 * the primary's callers' wait).  It needs no database.
 */
#include "exchange.h"

#include <sys/stat.h>
#include <unistd.h>

#include "access/xlog.h"
#include "access/xlog_internal.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "replication/walreceiver.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"

#define WAL_AHEAD_TICK_MS 50

/* Register the WAL preparer (from _PG_init). */
void
WalAheadRegister(void)
{
	/*
	 * From a consistent state: a hot standby's WAL receiver makes segment
	 * files too.  A failure here (a full disk) is the writers' to report;
	 * retry slowly.
	 */
	WorkerRegister("WalAheadMain", "exchange WAL preparer",
				   BgWorkerStart_ConsistentState, 10);
}

/*
 * Where the WAL is being written now, and on which timeline: the insert
 * position on a primary; on a standby, what its WAL receiver has flushed
 * (it makes the files there).  Invalid when nothing should be prepared:
 * a standby not streaming, or while PostgreSQL has installing new segment
 * files switched off (restoring from an archive).
 */
static XLogRecPtr
WalPosition(TimeLineID *tli)
{
	XLogRecPtr	pos;

	if (!RecoveryInProgress())
	{
		*tli = GetWALInsertionTimeLine();
		return GetXLogInsertRecPtr();
	}
	pos = GetWalRcvFlushRecPtr(NULL, tli);
	if (*tli == 0 || !IsInstallXLogFileSegmentActive())
		return InvalidXLogRecPtr;
	return pos;
}

#define WAL_AHEAD_CHUNK (256 * 1024)
#define WAL_AHEAD_PACE_MS 5

/* Remove our temporary file (on error exit too). */
static void
WalAheadUnlinkTemp(int code, Datum arg)
{
	char		tmppath[MAXPGPATH];

	snprintf(tmppath, MAXPGPATH, XLOGDIR "/xlogtemp.%d", (int) getpid());
	(void) unlink(tmppath);
}

/*
 * Make segment segno of timeline tli unless it exists; true if we made it.
 *
 * As XLogFileInit would, but gently: its 16 MB of zeros go out in chunks,
 * each handed to the kernel for writing at once (pg_flush_data), and
 * while a later segment is still ready the chunks are spaced out.  Written
 * in one go, the zeros sat in the disk's cache and the next WAL flush (its
 * fdatasync flushes the device) had to wait for all of them: the stall
 * moved to whoever flushed next instead of going away.  Then installed as
 * InstallXLogFileSegment does: renamed durably into place under
 * ControlFileLock unless someone (a writer, a checkpoint recycling an old
 * segment) got there first, in which case ours is dropped.
 */
static bool
WalAheadMake(XLogSegNo segno, TimeLineID tli)
{
	static PGAlignedXLogBlock zeros[WAL_AHEAD_CHUNK / XLOG_BLCKSZ];
	char		path[MAXPGPATH];
	char		tmppath[MAXPGPATH];
	struct stat st;
	int			fd;
	bool		installed = false;

	XLogFilePath(path, tli, segno, wal_segment_size);
	if (stat(path, &st) == 0)
		return false;

	pgstat_report_activity(STATE_RUNNING, "preparing a WAL segment");
	snprintf(tmppath, MAXPGPATH, XLOGDIR "/xlogtemp.%d", (int) getpid());
	(void) unlink(tmppath);
	fd = BasicOpenFile(tmppath, O_RDWR | O_CREAT | O_EXCL | PG_BINARY);
	if (fd < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create file \"%s\": %m", tmppath)));
	for (off_t off = 0; off < wal_segment_size; off += WAL_AHEAD_CHUNK)
	{
		XLogSegNo	current;
		TimeLineID	now_tli;
		XLogRecPtr	pos;

		errno = 0;
		if (pg_pwrite(fd, zeros, WAL_AHEAD_CHUNK, off) != WAL_AHEAD_CHUNK)
		{
			int			save_errno = errno;

			close(fd);
			(void) unlink(tmppath);
			errno = save_errno ? save_errno : ENOSPC;
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not write to file \"%s\": %m", tmppath)));
		}
		pg_flush_data(fd, off, WAL_AHEAD_CHUNK);

		/* unhurried while the WAL is still a segment or more short of it */
		pos = WalPosition(&now_tli);
		XLByteToSeg(pos, current, wal_segment_size);
		if (pos != InvalidXLogRecPtr && now_tli == tli && current + 1 < segno)
		{
			(void) WaitLatch(MyLatch, WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 WAL_AHEAD_PACE_MS, PG_WAIT_EXTENSION);
			CHECK_FOR_INTERRUPTS();
		}
	}
	if (pg_fsync(fd) != 0)
	{
		int			save_errno = errno;

		close(fd);
		(void) unlink(tmppath);
		errno = save_errno;
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not fsync file \"%s\": %m", tmppath)));
	}
	if (close(fd) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not close file \"%s\": %m", tmppath)));

	/*
	 * As InstallXLogFileSegment, but the flag is read just before taking
	 * the lock, not under it (it cannot be read there from outside): were
	 * it switched off in between (a standby's startup process turning to
	 * its archive), the file installed is still only a zero-filled future
	 * segment, which recovery reads as the end of WAL, as it reads the
	 * zeroed tail of any segment a WAL receiver is writing.
	 */
	if (IsInstallXLogFileSegmentActive())
	{
		LWLockAcquire(ControlFileLock, LW_EXCLUSIVE);
		if (stat(path, &st) != 0 && durable_rename(tmppath, path, LOG) == 0)
			installed = true;
		LWLockRelease(ControlFileLock);
	}
	if (!installed)
		(void) unlink(tmppath);
	pgstat_report_activity(STATE_IDLE, NULL);
	return installed;
}

/* Does segment segno of timeline tli exist (as a file of any size)? */
static bool
WalSegmentExists(XLogSegNo segno, TimeLineID tli)
{
	char		path[MAXPGPATH];
	struct stat st;

	XLogFilePath(path, tli, segno, wal_segment_size);
	return stat(path, &st) == 0;
}

/*
 * Make the segments after the current one that are missing.  Each round
 * looks again (a stat per segment): a segment once seen or made is not
 * trusted to stay, and one that could not be installed (a standby's
 * startup process switched installing off meanwhile, as it does each time
 * a streaming attempt fails) is tried again on a later round rather than
 * counted as done.  That had left a replica that followed a new primary
 * after a failover without its next segments until its receiver made
 * them itself.
 */
static void
WalAheadRound(void)
{
	TimeLineID	tli;
	XLogRecPtr	pos = WalPosition(&tli);
	XLogSegNo	current;

	if (pos == InvalidXLogRecPtr)
		return;
	XLByteToSeg(pos, current, wal_segment_size);
	for (XLogSegNo s = current + 1; s <= current + exchange_wal_segments_ahead; s++)
	{
		if (WalSegmentExists(s, tli))
			continue;
		if (!WalAheadMake(s, tli))
			break;				/* someone else's now, or not installable */
		pg_atomic_fetch_add_u64(&Exchange->stats.wal_segments_prepared, 1);
		CHECK_FOR_INTERRUPTS();
	}
}

/* The WAL preparer's entry point. */
void
WalAheadMain(Datum arg)
{
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_appname("exchange WAL preparer");
	before_shmem_exit(WalAheadUnlinkTemp, (Datum) 0);

	for (;;)
	{
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		if (exchange_wal_segments_ahead > 0)
			WalAheadRound();
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 WAL_AHEAD_TICK_MS, PG_WAIT_EXTENSION);
	}
}
