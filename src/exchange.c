#include "exchange.h"

#include "fmgr.h"
#include "miscadmin.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

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
}
