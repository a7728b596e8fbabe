#include "exchange.h"

#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "catalog/pg_type.h"

static const char *const EngineStateNames[] = {
	"stopped", "waiting for extension", "rebuilding", "running"
};

PG_FUNCTION_INFO_V1(amount);

/* exchange.amount(units, scale): integer units shown as a decimal. */
Datum
amount(PG_FUNCTION_ARGS)
{
	int64		units = PG_GETARG_INT64(0);
	int32		scale = PG_GETARG_INT32(1);
	char		buf[48];

	if (scale < 0 || scale > FIXED_MAX_SCALE)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("scale %d is out of range", scale)));
	FixedFormat(units, scale, buf, sizeof(buf));
	return DirectFunctionCall3(numeric_in, CStringGetDatum(buf),
							   ObjectIdGetDatum(InvalidOid),
							   Int32GetDatum(-1));
}

PG_FUNCTION_INFO_V1(engine_status);

/* exchange.engine_status(): what the engine is doing, for DBAs. */
Datum
engine_status(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Datum		values[21];
	bool		nulls[21];
	Datum		hist[8];
	EngineState state;
	int			procno;
	TimestampTz started;
	char		last_error[CORE_MESSAGE_LEN];
	uint64		queued;
	int			ack_procno;

	ExchangeCheckLoaded();
	InitMaterializedSRF(fcinfo, 0);
	memset(nulls, 0, sizeof(nulls));

	SpinLockAcquire(&Exchange->state_mutex);
	state = Exchange->engine_state;
	procno = Exchange->engine_procno;
	started = Exchange->engine_started;
	strlcpy(last_error, Exchange->last_error, sizeof(last_error));
	SpinLockRelease(&Exchange->state_mutex);
	LWLockAcquire(Exchange->queue_lock, LW_SHARED);
	queued = Exchange->queue_tail - Exchange->queue_head;
	LWLockRelease(Exchange->queue_lock);
	SpinLockAcquire(&Exchange->acks.mutex);
	ack_procno = Exchange->acks.procno;
	SpinLockRelease(&Exchange->acks.mutex);

	values[0] = CStringGetTextDatum(EngineStateNames[state]);
	if (procno >= 0)
		values[1] = Int32GetDatum(ProcGlobal->allProcs[procno].pid);
	else
		nulls[1] = true;
	if (started != 0)
		values[2] = TimestampTzGetDatum(started);
	else
		nulls[2] = true;
	/* read without a lock: a counter the engine alone writes */
	values[3] = Int32GetDatum(state == ENGINE_RUNNING ?
							  CoreOpenOrderCount(Exchange->core) : 0);
	values[4] = Int64GetDatum((int64) pg_atomic_read_u64(&Exchange->stats.batches));
	values[5] = Int64GetDatum((int64) pg_atomic_read_u64(&Exchange->stats.requests));
	values[6] = Int64GetDatum((int64) pg_atomic_read_u64(&Exchange->stats.failed_batches));
	values[7] = Int64GetDatum((int64) pg_atomic_read_u64(&Exchange->stats.rebuilds));
	values[8] = Int32GetDatum((int32) queued);
	for (int i = 0; i < 8; i++)
		hist[i] = Int64GetDatum((int64) pg_atomic_read_u64(&Exchange->stats.batch_hist[i]));
	values[9] = PointerGetDatum(construct_array(hist, 8, INT8OID, 8,
												FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	if (last_error[0] != '\0')
		values[10] = CStringGetTextDatum(last_error);
	else
		nulls[10] = true;
	if (ack_procno >= 0)
		values[11] = Int32GetDatum(ProcGlobal->allProcs[ack_procno].pid);
	else
		nulls[11] = true;
	values[12] = Int64GetDatum((int64) pg_atomic_read_u64(&Exchange->stats.ack_rounds));
	values[13] = Int64GetDatum((int64) pg_atomic_read_u64(&Exchange->stats.acks_direct));
	values[14] = Int64GetDatum((int64) pg_atomic_read_u64(&Exchange->stats.rows_by_place));
	values[15] = Int64GetDatum((int64) pg_atomic_read_u64(&Exchange->stats.rows_by_key));
	values[16] = Int64GetDatum((int64) pg_atomic_read_u64(&Exchange->stats.wal_segments_prepared));
	values[17] = Int64GetDatum((int64) pg_atomic_read_u64(&Exchange->stats.batch_delays));
	values[18] = Int64GetDatum((int64) pg_atomic_read_u64(&Exchange->stats.ack_delays));
	values[19] = Int64GetDatum((int64) pg_atomic_read_u64(&Exchange->stats.callers_unwoken));
	values[20] = Int64GetDatum((int64) pg_atomic_read_u64(&Exchange->stats.pages_extended_ahead));
	/* an installation not yet updated to 1.5 (1.4) takes the first 20 (19) */
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(wait_for_engine);

/* exchange.wait_for_engine(timeout_ms): true once the engine runs. */
Datum
wait_for_engine(PG_FUNCTION_ARGS)
{
	int32		timeout = PG_GETARG_INT32(0);
	TimestampTz start = GetCurrentTimestamp();

	ExchangeCheckLoaded();
	for (;;)
	{
		if (EngineGetState() == ENGINE_RUNNING)
			PG_RETURN_BOOL(true);
		if (TimestampDifferenceMilliseconds(start, GetCurrentTimestamp()) >= timeout)
			PG_RETURN_BOOL(false);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 20, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}
