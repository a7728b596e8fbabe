#ifndef EXCHANGE_H
#define EXCHANGE_H

#include "postgres.h"

#include "access/xlogdefs.h"
#include "port/atomics.h"
#include "postmaster/bgworker.h"
#include "storage/lwlock.h"
#include "storage/spin.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "core/core.h"

/* Extension error codes, class EX (documented in README.md). */
#define ERRCODE_EXCHANGE_INSUFFICIENT_FUNDS	MAKE_SQLSTATE('E','X','0','0','1')
#define ERRCODE_EXCHANGE_ENGINE_NOT_RUNNING	MAKE_SQLSTATE('E','X','0','0','2')
#define ERRCODE_EXCHANGE_QUEUE_FULL			MAKE_SQLSTATE('E','X','0','0','3')
#define ERRCODE_EXCHANGE_TIMEOUT			MAKE_SQLSTATE('E','X','0','0','4')
#define ERRCODE_EXCHANGE_OUTCOME_UNKNOWN	MAKE_SQLSTATE('E','X','0','0','5')

/* Longest decimal text a request carries (numeric_out of an amount). */
#define REQUEST_NUMBER_LEN	64
/* Longest client_order_id, deposit reference or external_ref. */
#define REQUEST_TEXT_LEN	128
/* How often a caller waiting for answers looks at its mailbox anyway. */
#define ACK_TICK_MS			100
/* Requests one caller may have in flight at once (two place_orders chunks). */
#define MAILBOX_SLOTS		128

/* GUCs (guc.c) */
extern char *exchange_database;
extern int	exchange_max_assets;
extern int	exchange_max_markets;
extern int	exchange_max_accounts;
extern int	exchange_max_balances;
extern int	exchange_max_orders;
extern int	exchange_max_price_levels;
extern int	exchange_queue_size;
extern int	exchange_batch_size;
extern int	exchange_batch_delay;
extern int	exchange_batch_siblings;
extern int	exchange_ack_delay;
extern int	exchange_request_timeout;
extern int	exchange_expiry_interval;
extern bool exchange_acknowledger;
extern bool exchange_row_places;
extern bool exchange_index_order;
extern bool exchange_index_pages;
extern int	exchange_index_generic_min;
extern int	exchange_wal_segments_ahead;
extern int	exchange_writeback_interval;
extern int	exchange_extend_ahead;
extern int	exchange_debug_handover_delay;
extern int	exchange_debug_wake_delay;

extern void GucInit(void);

typedef enum RequestKind
{
	REQ_CREATE_ASSET,
	REQ_CREATE_MARKET,
	REQ_SET_HALTED,
	REQ_CREATE_ACCOUNT,
	REQ_DEPOSIT,
	REQ_PLACE,
	REQ_CANCEL,
	REQ_CANCEL_ALL,
	REQ_AMEND
} RequestKind;

/* One state-changing request, copied into the queue by value. */
typedef struct Request
{
	RequestKind kind;
	int			procno;			/* caller's PGPROC number: its mailbox */
	uint64		generation;		/* caller's mailbox generation */
	int			slot;			/* where in the mailbox the answer goes */
	int64		account;
	int64		order_id;
	int64		expire_at;		/* TimestampTz, 0 = none */
	int32		scale;			/* create_asset */
	int32		maker_fee_bps;
	int32		taker_fee_bps;
	uint8		side;
	uint8		type;
	uint8		tif;
	uint8		stp;
	bool		post_only;
	bool		flag;			/* halt (true) / resume */
	bool		has_text;
	TimestampTz queued_at;		/* when the caller queued it */
	char		name[CORE_SYMBOL_LEN];	/* market symbol or asset code */
	char		base[CORE_CODE_LEN];
	char		quote[CORE_CODE_LEN];
	char		quantity[REQUEST_NUMBER_LEN];	/* or amount, tick_size */
	char		price[REQUEST_NUMBER_LEN];	/* or lot_size */
	char		quote_quantity[REQUEST_NUMBER_LEN];	/* or min_notional */
	char		text[REQUEST_TEXT_LEN];	/* client_order_id, reference, ... */
} Request;

/* Copy a NUL-terminated text of at most size bytes with its terminator. */
static inline void
CopyText(char *dst, const char *src, size_t size)
{
	size_t		n;

	if (src[0] == '\0')		/* most are empty */
	{
		dst[0] = '\0';
		return;
	}
	n = strnlen(src, size - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/*
 * Copy a request into or out of the queue.  Of its 480 bytes, 384 are room
 * for texts that are mostly empty or a few characters long (a symbol, a
 * quantity, a price): the texts are copied up to their terminators.
 */
static inline void
RequestCopy(Request *dst, const Request *src)
{
	memcpy(dst, src, offsetof(Request, name));
	CopyText(dst->name, src->name, sizeof(dst->name));
	CopyText(dst->base, src->base, sizeof(dst->base));
	CopyText(dst->quote, src->quote, sizeof(dst->quote));
	CopyText(dst->quantity, src->quantity, sizeof(dst->quantity));
	CopyText(dst->price, src->price, sizeof(dst->price));
	CopyText(dst->quote_quantity, src->quote_quantity, sizeof(dst->quote_quantity));
	CopyText(dst->text, src->text, sizeof(dst->text));
}

/*
 * The engine's answer; sqlstate 0 means success.  The texts come last and
 * only an error has them: ResponseCopy moves the 56 bytes before them,
 * and the texts only for an error.
 */
typedef struct Response
{
	int			sqlstate;
	int			durability;		/* the server's synchronous_commit level */
	int64		id;				/* order, account or deposit id; a count */
	uint8		status;			/* CoreStatus */
	int16		base_scale;
	int16		quote_scale;
	int64		executed_units; /* base units */
	int64		remaining_units;	/* base units still resting */
	int64		executed_quote; /* quote units */
	XLogRecPtr	commit_lsn;		/* the caller waits until this is durable */
	char		message[CORE_MESSAGE_LEN];	/* errors only */
	char		detail[CORE_DETAIL_LEN];	/* errors only */
} Response;

/* MurmurHash3's 64-bit finalizer, for the engine's simplehash tables */
static inline uint32
Mix64(uint64 h)
{
	h ^= h >> 33;
	h *= UINT64CONST(0xff51afd7ed558ccd);
	h ^= h >> 33;
	h *= UINT64CONST(0xc4ceb9fe1a85ec53);
	h ^= h >> 33;
	return (uint32) h;
}

/*
 * Clear an answer: every field zero, the texts empty (not zeroed through:
 * clearing all 480 bytes for every order was a cost of its own).
 */
static inline void
ResponseClear(Response *resp)
{
	memset(resp, 0, offsetof(Response, message));
	resp->message[0] = resp->detail[0] = '\0';
}

/*
 * Copy an answer (into or out of a mailbox): the 480-byte struct is mostly
 * the texts of an error, and copying them for every order was a cost of
 * its own (each answer crosses from the engine's core to the caller's).
 */
static inline void
ResponseCopy(Response *dst, const Response *src)
{
	memcpy(dst, src, offsetof(Response, message));
	if (src->sqlstate != 0)
	{
		strlcpy(dst->message, src->message, sizeof(dst->message));
		strlcpy(dst->detail, src->detail, sizeof(dst->detail));
	}
	else
		dst->message[0] = dst->detail[0] = '\0';
}

typedef enum EngineState
{
	ENGINE_STOPPED = 0,			/* not started, exited, or on a standby */
	ENGINE_WAITING,				/* extension not created in the database */
	ENGINE_REBUILDING,
	ENGINE_RUNNING
} EngineState;

/* A caller's mailbox; guarded by its own spinlock. */
typedef struct Mailbox
{
	slock_t		mutex;
	uint64		generation;		/* the call whose answers it takes */
	int			answered;		/* answers in this call so far */
	int			wake_at;		/* wake the caller when answered reaches it */
	bool		wake_early;		/* then, before the answers are durable */
	bool		filled[MAILBOX_SLOTS];	/* an answer waits in the slot */
	Response	responses[MAILBOX_SLOTS];
} Mailbox;

/* Engine counters, for exchange.engine_status(). */
typedef struct EngineStats
{
	pg_atomic_uint64 batches;
	pg_atomic_uint64 requests;
	pg_atomic_uint64 failed_batches;
	pg_atomic_uint64 rebuilds;
	pg_atomic_uint64 batch_hist[8];	/* sizes 1, 2-3, 4-7, ..., >= 128 */
	pg_atomic_uint64 ack_rounds;	/* acknowledger: flush + standby waits */
	pg_atomic_uint64 acks_direct;	/* batches woken without it */
	pg_atomic_uint64 rows_by_place; /* updates/deletes at a remembered TID */
	pg_atomic_uint64 rows_by_key;	/* ... found through the primary key */
	pg_atomic_uint64 wal_segments_prepared;	/* by the WAL preparer */
	pg_atomic_uint64 batch_delays;	/* waits of exchange.batch_delay */
	pg_atomic_uint64 ack_delays;	/* waits of exchange.ack_delay */
	pg_atomic_uint64 callers_unwoken;	/* found their durable answers unwoken */
	pg_atomic_uint64 pages_extended_ahead;	/* by ExtendAheadRound */
} EngineStats;

/* A caller to wake once the commit ending at lsn is durable at level. */
typedef struct AckEntry
{
	int			procno;
	int			level;			/* synchronous_commit */
	XLogRecPtr	lsn;
} AckEntry;

/*
 * Callers waiting for the acknowledger, in commit order: the engine
 * appends, the acknowledger takes from the head.
 */
typedef struct AckRing
{
	slock_t		mutex;			/* everything below */
	int			procno;			/* the acknowledger's, -1 when none */
	bool		idle;			/* it found nothing to do and may be asleep */
	uint64		head;
	uint64		tail;
	int			capacity;
	AckEntry   *entries;
} AckRing;

/*
 * Latency histograms (latency.c): microseconds in 232 buckets, exact below
 * 16 us, then eight to each power of two (at most 12.5% wide), the last
 * from 2^31 us up.
 */
#define LATENCY_BUCKETS		232

typedef enum LatencyStage
{
	LATENCY_CALL,				/* a call, first request queued to durable */
	LATENCY_QUEUE,				/* a request, queued to its batch's start */
	LATENCY_BATCH,				/* a batch, start to commit */
	LATENCY_DURABLE,			/* an acknowledger round: flush + standby */
	LATENCY_STAGES
} LatencyStage;

typedef struct LatencyHist
{
	pg_atomic_uint64 count[LATENCY_BUCKETS];
	pg_atomic_uint64 sum_us;
	pg_atomic_uint64 max_us;
} LatencyHist;

/* What exchange.reset_latency() saw: subtracted from the counts. */
typedef struct LatencyBase
{
	uint64		count[LATENCY_BUCKETS];
	uint64		sum_us;
} LatencyBase;

/* A single writer's (the engine's, the acknowledger's) unpublished counts. */
typedef struct LatencyLocal
{
	uint64		count[LATENCY_BUCKETS];
	uint64		sum_us;
	uint64		max_us;
	bool		any;
} LatencyLocal;

typedef struct ExchangeShared
{
	LWLock	   *queue_lock;		/* queue ring and its head/tail */
	slock_t		state_mutex;	/* engine_state, engine_procno, epoch */
	EngineState engine_state;
	int			engine_procno;	/* -1 when no engine */
	uint64		engine_epoch;	/* bumped at every engine start */
	TimestampTz engine_started;
	char		last_error[CORE_MESSAGE_LEN];
	EngineStats stats;
	pg_atomic_uint32 active_callers;	/* made requests in the last 100 ms */

	uint64		queue_head;		/* next slot the engine takes */
	uint64		queue_tail;		/* next slot a caller fills */
	int			queue_capacity;
	Request    *queue;
	int			nmailboxes;
	Mailbox    *mailboxes;
	AckRing		acks;
	Core	   *core;			/* written by the engine only */

	/* latency.c: CALL by the callers, the others by one process each */
	LatencyHist latency[LATENCY_STAGES];
	slock_t		latency_mutex;	/* latency_base, latency_since */
	LatencyBase latency_base[LATENCY_STAGES];
	TimestampTz latency_since;
} ExchangeShared;

extern ExchangeShared *Exchange;

/* shmem.c */
extern void ShmemInit(void);
extern void ExchangeCheckLoaded(void);
extern EngineState EngineGetState(void);
extern void EngineSetState(EngineState state);

/* mailbox.c */
extern void RequestSubmit(Request *req, Response *resp);
extern void RequestSubmitMany(Request *reqs, Response *resps, int n);
extern void RequestBegin(void);
extern bool RequestSend(Request *reqs, int n, int first, int *through);
extern void RequestQueueFull(void);
extern void RequestAwait(Response *resps, int first, int n, int through,
						 bool final);
extern void RequestEnd(void);
extern bool CommitIsReplicated(XLogRecPtr lsn, int durability);
extern void StandbyConfirmed(XLogRecPtr *confirmed);	/* [REMOTE_APPLY + 1] */
extern int	QueueDrain(Request *batch, int max);
extern void QueueFailAll(int sqlstate, const char *message,
						 const char *detail);
extern void MailboxReply(const Request *req, const Response *resp);

typedef enum MailboxWake
{
	MAILBOX_WAKE_NONE,			/* the caller waits for more answers */
	MAILBOX_WAKE_NOW,
	MAILBOX_WAKE_DURABLE		/* once the answers are durable */
} MailboxWake;
extern MailboxWake MailboxPut(const Request *req, const Response *resp);
extern const char *DurabilityName(int level);

/* exchange.c */
extern void WorkerRegister(const char *main, const char *name,
						   BgWorkerStartTime start, int restart_s);

/* acknowledger.c */
extern void AcknowledgerRegister(void);
PGDLLEXPORT void AcknowledgerMain(Datum arg);
extern void AcknowledgeWhenDurable(const int *procnos, int n, XLogRecPtr lsn,
								   int level);
extern bool AcknowledgeMe(XLogRecPtr lsn, int level);
extern bool AcknowledgerRunning(void);
extern bool AcknowledgerHolds(int procno);
extern bool CommitIsDurable(XLogRecPtr lsn, int level);

/* latency.c */
extern void LatencyInit(void);
extern void LatencyRecord(LatencyStage stage, TimestampTz from, TimestampTz to);
extern void LatencyLocalAdd(LatencyLocal *local, TimestampTz from,
							TimestampTz to);
extern void LatencyLocalPublish(LatencyLocal *local, LatencyStage stage);

/* walahead.c */
extern void WalAheadRegister(void);
PGDLLEXPORT void WalAheadMain(Datum arg);

/* writeback.c */
extern void WritebackRegister(void);
extern bool ExtendAheadRound(void);
PGDLLEXPORT void WritebackMain(Datum arg);

/* engine.c */
extern void EngineRegister(void);
PGDLLEXPORT void EngineMain(Datum arg);

/* apply.c: one batch's work inside the engine's transaction */
extern void ApplyBegin(TimestampTz now);
extern void ApplyPrefetch(const Request *batch, int n);
extern void ApplyRequest(const Request *req, Response *resp);
extern void ApplyHint(const Request *req, bool first);
extern void ApplyExpire(void);
extern void ApplyFlush(void);

/* persist.c */
typedef struct BatchWrites BatchWrites;
extern BatchWrites *PersistBegin(MemoryContext cxt);
extern void PersistOrder(BatchWrites *w, const CoreOrder *o,
						 const char *client_order_id, bool is_new);
extern void PersistTrade(BatchWrites *w, const CoreTrade *t);
extern void PersistDeposit(BatchWrites *w, int64 id, int64 account,
						   int32 asset_id, int64 units,
						   const char *reference);
extern void PersistAccount(BatchWrites *w, int64 id,
						   const char *external_ref);
extern void PersistAsset(BatchWrites *w, const CoreAsset *a);
extern void PersistMarket(BatchWrites *w, const CoreMarket *m,
						  const char *tick, const char *lot,
						  const char *min_notional);
extern void PersistHalted(BatchWrites *w, int32 market_id, bool halted);
extern void PersistFlush(BatchWrites *w, Core *core, TimestampTz now);
extern void PersistReset(void);

/* rebuild.c */
typedef struct EngineCounters
{
	int64		next_order_id;
	int64		next_trade_id;
	int64		next_account_id;
	int64		next_deposit_id;
} EngineCounters;

extern EngineCounters Counters;	/* apply.c; set by RebuildCore */

extern bool RebuildExtensionExists(void);
extern void RebuildCore(Core *core);

/* order_spec.c: the orders of one place_orders call, from jsonb or text */
typedef enum SpecType
{
	SPEC_NULL,
	SPEC_STRING,
	SPEC_NUMBER,				/* val: plain decimal text */
	SPEC_BOOL,
	SPEC_OTHER					/* an object or an array */
} SpecType;

typedef struct SpecField
{
	const char *key;
	int			keylen;
	SpecType	type;
	const char *val;			/* a string's contents or a number's text */
	int			vallen;
	bool		boolean;
} SpecField;

typedef struct SpecOrder
{
	bool		is_object;
	int			first;			/* its fields, in jsonb's order of keys */
	int			nfields;
} SpecOrder;

typedef struct OrderSpecs
{
	int			n;
	int			cap;
	SpecOrder  *orders;
	int			nfields;
	int			fields_cap;
	SpecField  *fields;
} OrderSpecs;

/* One order that could not become a request: why. */
typedef struct SpecError
{
	int			sqlstate;
	char		message[CORE_MESSAGE_LEN];
} SpecError;

extern bool SpecsFromText(const char *json, int len, OrderSpecs *out);
extern void SpecsFromJsonb(Jsonb *orders, OrderSpecs *out);
extern bool SpecToRequest(const OrderSpecs *specs, int i, Request *req,
						  SpecError *e);

/* Convert between SQL and core enums (same order as the SQL enums). */
extern const char *const SideNames[];
extern const char *const OrderTypeNames[];
extern const char *const TimeInForceNames[];
extern const char *const StpNames[];
extern const char *const StatusNames[];

#endif
