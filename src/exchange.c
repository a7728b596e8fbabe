#include "exchange.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/*
 * Register one of the extension's background workers: main is its entry
 * point in this library, name its name and backend type.  Each attaches
 * to shared memory and can take a database connection (the engine takes
 * one; the others connect to none, and are so listed in pg_stat_activity
 * and signalable); a worker that exits is restarted after restart_s.
 */
void
WorkerRegister(const char *main, const char *name, BgWorkerStartTime start,
			   int restart_s)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS |
		BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = start;
	worker.bgw_restart_time = restart_s;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "exchange");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "%s", main);
	snprintf(worker.bgw_name, BGW_MAXLEN, "%s", name);
	snprintf(worker.bgw_type, BGW_MAXLEN, "%s", name);
	RegisterBackgroundWorker(&worker);
}

/* Settings, shared memory and the engine worker; preload only. */
void
_PG_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("exchange must be loaded via shared_preload_libraries"),
				 errhint("Add exchange to shared_preload_libraries in postgresql.conf and restart the server.")));
	GucInit();
	ShmemInit();
	EngineRegister();
	AcknowledgerRegister();
	WalAheadRegister();
	WritebackRegister();
}
