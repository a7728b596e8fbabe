#include "exchange.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "access/nbtree.h"
#include "access/generic_xlog.h"
#include "access/nbtxlog.h"
#include "access/xloginsert.h"
#include "miscadmin.h"
#include "storage/predicate.h"
#include "catalog/index.h"
#include "catalog/pg_am.h"
#include "catalog/pg_opfamily.h"
#include "catalog/namespace.h"
#include "catalog/pg_enum.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "optimizer/optimizer.h"
#include "storage/bufmgr.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/sortsupport.h"
#include "utils/syscache.h"

/*
 * The engine writes its tables' rows directly (heap multi-insert, index
 * inserts, updates and deletes by primary key), not through SQL: a
 * statement per table per batch cost more in executor start-up, arrays
 * and joins than the rows themselves.  What SQL would have enforced is
 * enforced here too: NOT NULL and CHECK constraints (ExecConstraints),
 * unique indexes (index_insert's check, or ExecInsertIndexTuples' for an
 * index it cannot insert into itself), and an update or delete that
 * finds no row is an error.  The rows are exactly the ones the former
 * INSERT ... SELECT FROM unnest and UPDATE ... FROM unnest statements
 * wrote.  The tables have no triggers; one added later is refused rather
 * than silently skipped.
 */

#define MAX_COLUMNS 20

/*
 * A column the engine writes: its name, its type, and for an enum the
 * labels the engine's small integers stand for.
 */
typedef struct ColumnSpec
{
	const char *name;
	Oid			type;			/* InvalidOid for an enum */
	const char *const *labels;	/* enum labels, NULL-terminated */
} ColumnSpec;

/*
 * One kind of write to one table.  For updates and deletes the first
 * nkeys columns are the primary key the row is found by.
 */
typedef struct TableSpec
{
	const char *table;
	int			ncols;
	const ColumnSpec *cols;
	int			nkeys;
	int			where;			/* WHERE_*: whose rows' TIDs are kept */
} TableSpec;

/* Rows of one kind collected for the batch, row after row. */
typedef struct Rows
{
	const TableSpec *spec;
	int			n;
	int			cap;
	Datum	   *values;			/* n * spec->ncols */
	bool	   *nulls;
	bool	   *last;			/* n: the engine will not touch the row again */
} Rows;

struct BatchWrites
{
	MemoryContext cxt;
	Rows		orders;			/* new orders, inserted */
	Rows		order_updates;	/* known orders whose state changed */
	Rows		book_inserts;	/* orders that came to rest: open_order */
	Rows		book_deletes;	/* resting orders that left the book */
	Rows		trades;
	Rows		balances;		/* new balance rows, inserted */
	Rows		balance_updates;
	Rows		deposits;
	Rows		accounts;
	List	   *statements;		/* rare catalogue writes, in order */
};

/* A catalogue write: SQL with its arguments. */
typedef struct Statement
{
	const char *sql;
	int			nargs;
	Oid			types[12];
	Datum		values[12];
	char		nulls[12];
} Statement;

#define ENUM_COL(name, labels) {name, InvalidOid, labels}

static const ColumnSpec order_cols[] = {
	{"order_id", INT8OID}, {"account_id", INT8OID}, {"market_id", INT4OID},
	ENUM_COL("side", SideNames), ENUM_COL("type", OrderTypeNames),
	ENUM_COL("time_in_force", TimeInForceNames), {"post_only", BOOLOID},
	ENUM_COL("stp", StpNames), {"price_ticks", INT8OID},
	{"quantity_lots", INT8OID}, {"filled_lots", INT8OID},
	{"filled_quote", INT8OID}, {"quote_limit", INT8OID},
	ENUM_COL("status", StatusNames), {"client_order_id", TEXTOID},
	{"expire_at", TIMESTAMPTZOID}, {"created_at", TIMESTAMPTZOID},
	{"updated_at", TIMESTAMPTZOID}
};
static const ColumnSpec order_update_cols[] = {
	{"order_id", INT8OID}, {"quantity_lots", INT8OID},
	{"filled_lots", INT8OID}, {"filled_quote", INT8OID},
	ENUM_COL("status", StatusNames), {"updated_at", TIMESTAMPTZOID}
};
static const ColumnSpec book_cols[] = {
	{"order_id", INT8OID}, {"market_id", INT4OID},
	ENUM_COL("side", SideNames), {"price_ticks", INT8OID}
};
static const ColumnSpec trade_cols[] = {
	{"trade_id", INT8OID}, {"market_id", INT4OID}, {"price_ticks", INT8OID},
	{"lots", INT8OID}, {"base_amount", INT8OID}, {"quote_amount", INT8OID},
	{"maker_order_id", INT8OID}, {"taker_order_id", INT8OID},
	{"maker_account_id", INT8OID}, {"taker_account_id", INT8OID},
	ENUM_COL("taker_side", SideNames), {"maker_fee", INT8OID},
	{"taker_fee", INT8OID}, {"executed_at", TIMESTAMPTZOID}
};
static const ColumnSpec balance_cols[] = {
	{"account_id", INT8OID}, {"asset_id", INT4OID}, {"available", INT8OID},
	{"locked", INT8OID}, {"updated_at", TIMESTAMPTZOID}
};
static const ColumnSpec deposit_cols[] = {
	{"deposit_id", INT8OID}, {"account_id", INT8OID}, {"asset_id", INT4OID},
	{"amount", INT8OID}, {"reference", TEXTOID},
	{"created_at", TIMESTAMPTZOID}
};
static const ColumnSpec account_cols[] = {
	{"account_id", INT8OID}, {"external_ref", TEXTOID},
	{"created_at", TIMESTAMPTZOID}
};

/*
 * Where the rows the engine writes again live.  An update or delete used
 * to find its row through the primary key: that descent and the walk of
 * the row's HOT chain were a quarter of the engine's time.  So the engine
 * remembers the TID of every row it will touch again — a resting order's
 * order_record and open_order rows, every balance row — and forgets it
 * when the order closes.  A remembered TID is only a hint: the row there
 * is read with the batch's snapshot and its key compared, and anything
 * else (a table rewritten by VACUUM FULL, CLUSTER or TRUNCATE, a row
 * changed behind the engine's back, a failed batch) falls back to the
 * primary key, as before.  The map is the engine's own memory, forgotten
 * at every rebuild; engine_status() counts rows found either way.
 */
enum
{
	WHERE_NONE,					/* not kept: rows never touched again */
	WHERE_ORDER,				/* order_record, by order_id */
	WHERE_BOOK,					/* open_order, by order_id */
	WHERE_BALANCE,				/* balance_record, by account_id, asset_id */
	WHERE_KINDS
};

/*
 * One entry per order or balance: an order's order_record and open_order
 * rows share it (sub = -1), a balance has its asset_id as sub.  An open
 * addressing table (simplehash): one cache miss a lookup, where dynahash's
 * chains cost a tenth of the engine's time.
 */
typedef struct RowKey
{
	int64		id;				/* order_id, or account_id of a balance */
	int32		sub;			/* asset_id of a balance, else -1 */
} RowKey;

typedef struct RowPlace
{
	RowKey		key;
	ItemPointerData tid[2];		/* order_record/balance_record, open_order */
	char		status;			/* simplehash's */
} RowPlace;

/* both fields, mixed */
static inline uint32
RowKeyHash(RowKey k)
{
	return Mix64((uint64) k.id ^ ((uint64) (uint32) k.sub << 40));
}

#define SH_PREFIX		places
#define SH_ELEMENT_TYPE RowPlace
#define SH_KEY_TYPE		RowKey
#define SH_KEY			key
#define SH_HASH_KEY(tb, k)	RowKeyHash(k)
#define SH_EQUAL(tb, a, b) ((a).id == (b).id && (a).sub == (b).sub)
#define SH_SCOPE		static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

static places_hash *row_places = NULL;
static MemoryContext row_places_cxt = NULL;
static Oid	row_places_file[WHERE_KINDS];	/* relfilenode they are in */

#define TABLE(t, cols, nkeys, where) {t, lengthof(cols), cols, nkeys, where}

static const TableSpec order_insert = TABLE("order_record", order_cols, 0, WHERE_ORDER);
static const TableSpec order_update = TABLE("order_record", order_update_cols, 1, WHERE_ORDER);
static const TableSpec book_insert = TABLE("open_order", book_cols, 0, WHERE_BOOK);
static const TableSpec book_delete = TABLE("open_order", book_cols, 1, WHERE_BOOK);
static const TableSpec trade_insert = TABLE("trade_record", trade_cols, 0, WHERE_NONE);
static const TableSpec balance_insert = TABLE("balance_record", balance_cols, 0, WHERE_BALANCE);
static const TableSpec balance_update = TABLE("balance_record", balance_cols, 2, WHERE_BALANCE);
static const TableSpec deposit_insert = TABLE("deposit_record", deposit_cols, 0, WHERE_NONE);
static const TableSpec account_insert = TABLE("account", account_cols, 0, WHERE_NONE);

/* Forget every remembered row. */
static void
RowPlacesReset(void)
{
	if (row_places_cxt == NULL)
		row_places_cxt = AllocSetContextCreate(TopMemoryContext,
											   "exchange row places",
											   ALLOCSET_DEFAULT_SIZES);
	else
		MemoryContextReset(row_places_cxt);
	row_places = places_create(row_places_cxt, 1024, NULL);
	memset(row_places_file, 0, sizeof(row_places_file));
}

/* The key of collected row i of r (its first one or two columns). */
static inline RowKey
RowKeyOf(const Rows *r, int i)
{
	RowKey		key;
	const Datum *v = &r->values[i * r->spec->ncols];

	key.id = DatumGetInt64(v[0]);
	key.sub = r->spec->where == WHERE_BALANCE ? DatumGetInt32(v[1]) : -1;
	return key;
}

/*
 * Where row i of r's place would be found first, or NULL.  The loops
 * that look places up prefetch it a row ahead: with as many places as
 * orders rest a lookup is a cache miss, which the row's heap and index
 * work then hides.  (A macro, not a function: GCC drops a call to a
 * function whose only effect is a prefetch.)
 */
static inline const void *
RowPlaceBucket(const Rows *r, int i)
{
	if (i >= r->n || r->spec->where == WHERE_NONE || row_places == NULL)
		return NULL;
	return &row_places->data[RowKeyHash(RowKeyOf(r, i)) & row_places->sizemask];
}

#define ROW_PLACE_PREFETCH(r, i) \
	do { \
		const void *bucket_ = RowPlaceBucket((r), (i)); \
		if (bucket_ != NULL) \
			__builtin_prefetch(bucket_); \
	} while (0)

/*
 * After row i of r was written at tid (or deleted): remember where it is
 * now, or forget it when the engine will not touch it again.
 */
static void
RowPlaceSet(const Rows *r, int i, ItemPointer tid, bool gone)
{
	RowKey		key;
	RowPlace   *p;
	int			which;
	bool		found;

	if (r->spec->where == WHERE_NONE || !exchange_row_places)
		return;
	key = RowKeyOf(r, i);
	which = r->spec->where == WHERE_BOOK ? 1 : 0;
	if (gone || r->last[i])
	{
		p = places_lookup(row_places, key);
		if (p == NULL)
			return;
		ItemPointerSetInvalid(&p->tid[which]);
		if (!ItemPointerIsValid(&p->tid[1 - which]))
			places_delete_item(row_places, p);
		return;
	}

	/*
	 * Bounded by what rests and what is cached; more means rows the engine
	 * lost track of (say after an error): start over.
	 */
	if (row_places->members >
		(uint64) exchange_max_orders + exchange_max_balances + 1024)
		RowPlacesReset();
	p = places_insert(row_places, key, &found);
	if (!found)
	{
		ItemPointerSetInvalid(&p->tid[0]);
		ItemPointerSetInvalid(&p->tid[1]);
	}
	p->tid[which] = *tid;
}

/*
 * The table's rows may have moved wholesale (a new relfilenode: VACUUM
 * FULL, CLUSTER, TRUNCATE): then no remembered TID is trusted (rare: all
 * are forgotten).
 */
static void
RowPlacesCheckFile(Relation rel, int where)
{
	Oid			file = rel->rd_node.relNode;

	if (where == WHERE_NONE || row_places_file[where] == file)
		return;
	if (OidIsValid(row_places_file[where]))
		RowPlacesReset();
	row_places_file[where] = file;
}

/* Enum label OIDs by type, kept until the next rebuild (PersistReset). */
typedef struct EnumCache
{
	Oid			type;
	const char *const *labels;
	int			nlabels;
	Oid			oids[8];
} EnumCache;

static EnumCache enum_cache[8];
static int	enum_cache_n = 0;

static void ColumnMapsForget(Datum arg, Oid relid);

/*
 * A table's CHECK constraints, prepared once and kept across batches:
 * preparing them (reading and planning each expression) for every batch
 * cost more than checking the rows.  Valid while the table's constraints
 * read the same.
 */
typedef struct CheckCache
{
	Oid			relid;			/* InvalidOid: unused */
	MemoryContext cxt;
	int			ncheck;
	char	  **ccbin;
	ExprState **exprs;
} CheckCache;

static CheckCache check_cache[8];

/* Forget cached catalogue lookups: the extension may have been re-created. */
void
PersistReset(void)
{
	RowPlacesReset();
	enum_cache_n = 0;
	ColumnMapsForget((Datum) 0, InvalidOid);
	for (int i = 0; i < lengthof(check_cache); i++)
	{
		if (check_cache[i].cxt != NULL)
			MemoryContextDelete(check_cache[i].cxt);
		memset(&check_cache[i], 0, sizeof(CheckCache));
	}
}

/* Give rri the table's prepared CHECK constraints, preparing them if new. */
static void
UseCachedChecks(ResultRelInfo *rri)
{
	Relation	rel = rri->ri_RelationDesc;
	TupleConstr *constr = RelationGetDescr(rel)->constr;
	CheckCache *c = NULL;
	MemoryContext old;

	if (constr == NULL || constr->num_check == 0)
		return;
	for (int i = 0; i < lengthof(check_cache) && c == NULL; i++)
		if (check_cache[i].relid == RelationGetRelid(rel))
			c = &check_cache[i];
	if (c != NULL && c->ncheck == constr->num_check)
	{
		bool		same = true;

		for (int i = 0; i < c->ncheck && same; i++)
			same = strcmp(c->ccbin[i], constr->check[i].ccbin) == 0;
		if (same)
		{
			rri->ri_ConstraintExprs = c->exprs;
			return;
		}
	}
	for (int i = 0; i < lengthof(check_cache) && c == NULL; i++)
		if (check_cache[i].relid == InvalidOid)
			c = &check_cache[i];
	if (c == NULL)
		return;					/* more tables than expected: not cached */
	if (c->cxt != NULL)
		MemoryContextDelete(c->cxt);
	memset(c, 0, sizeof(CheckCache));
	c->cxt = AllocSetContextCreate(TopMemoryContext,
								   "exchange check constraints",
								   ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(c->cxt);
	c->ccbin = palloc(sizeof(char *) * constr->num_check);
	c->exprs = palloc(sizeof(ExprState *) * constr->num_check);
	for (int i = 0; i < constr->num_check; i++)
	{
		c->ccbin[i] = pstrdup(constr->check[i].ccbin);
		c->exprs[i] = ExecInitExpr(expression_planner(stringToNode(c->ccbin[i])),
								   NULL);
	}
	MemoryContextSwitchTo(old);
	c->ncheck = constr->num_check;
	c->relid = RelationGetRelid(rel);
	rri->ri_ConstraintExprs = c->exprs;
}

/* The OIDs of labels as values of enum type typid. */
static const EnumCache *
EnumLabels(Oid typid, const char *const *labels)
{
	EnumCache  *e;

	for (int i = 0; i < enum_cache_n; i++)
		if (enum_cache[i].type == typid && enum_cache[i].labels == labels)
			return &enum_cache[i];
	if (enum_cache_n == lengthof(enum_cache))
		enum_cache_n = 0;
	e = &enum_cache[enum_cache_n];
	e->type = typid;
	e->labels = labels;
	e->nlabels = 0;
	for (int i = 0; labels[i] != NULL; i++)
	{
		Oid			oid;

		if (i >= lengthof(e->oids))
			elog(ERROR, "too many labels for enum type %u", typid);
		oid = GetSysCacheOid2(ENUMTYPOIDNAME, Anum_pg_enum_oid,
							  ObjectIdGetDatum(typid),
							  CStringGetDatum(labels[i]));
		if (!OidIsValid(oid))
			elog(ERROR, "enum type %s has no label \"%s\"",
				 format_type_be(typid), labels[i]);
		e->oids[i] = oid;
		e->nlabels = i + 1;
	}
	enum_cache_n++;
	return e;
}

static void
RowsInit(Rows *r, const TableSpec *spec)
{
	r->spec = spec;
	r->n = 0;
	r->cap = 0;
	r->values = NULL;
	r->nulls = NULL;
	r->last = NULL;
}

/* Append a row of all-NULL values; returns its index. */
static int
RowsAdd(Rows *r, MemoryContext cxt)
{
	int			ncols = r->spec->ncols;

	if (r->n == r->cap)
	{
		int			cap = r->cap == 0 ? 64 : r->cap * 2;

		if (r->cap == 0)
		{
			r->values = MemoryContextAlloc(cxt, sizeof(Datum) * ncols * cap);
			r->nulls = MemoryContextAlloc(cxt, sizeof(bool) * ncols * cap);
			r->last = MemoryContextAlloc(cxt, sizeof(bool) * cap);
		}
		else
		{
			r->values = repalloc(r->values, sizeof(Datum) * ncols * cap);
			r->nulls = repalloc(r->nulls, sizeof(bool) * ncols * cap);
			r->last = repalloc(r->last, sizeof(bool) * cap);
		}
		r->cap = cap;
	}
	memset(&r->nulls[r->n * ncols], true, sizeof(bool) * ncols);
	r->last[r->n] = false;
	return r->n++;
}

static inline void
RowSet(Rows *r, int row, int col, Datum value)
{
	r->values[row * r->spec->ncols + col] = value;
	r->nulls[row * r->spec->ncols + col] = false;
}

/* A table the batch writes, opened with what writing it needs. */
typedef struct TableWrite
{
	const TableSpec *spec;
	Relation	rel;
	ResultRelInfo *rri;
	AttrNumber	attnums[MAX_COLUMNS];	/* spec column -> table attribute */
	const EnumCache *enums[MAX_COLUMNS];	/* enum columns' labels */
} TableWrite;

/*
 * How a spec's columns map onto its table, kept across batches: matching
 * them by name (and checking their types) for every table of every batch
 * was a few per cent of the engine's time in small batches.  A map is
 * forgotten when its table's relcache entry is invalidated (ALTER TABLE,
 * DROP, a new relfilenode, …); the invalidation is taken when table_open
 * locks the table, before the map is looked at.
 */
typedef struct ColumnMap
{
	const TableSpec *spec;
	Oid			relid;			/* InvalidOid: to be matched */
	AttrNumber	attnums[MAX_COLUMNS];
	Oid			enum_types[MAX_COLUMNS];	/* InvalidOid: not an enum */
} ColumnMap;

static ColumnMap column_maps[16];
static bool column_maps_watched = false;

static void
ColumnMapsForget(Datum arg, Oid relid)
{
	for (int i = 0; i < lengthof(column_maps); i++)
		if (relid == InvalidOid || column_maps[i].relid == relid)
			column_maps[i].relid = InvalidOid;
}

/* Match spec's columns with rel's, by name, checking their types. */
static void
ColumnMapMatch(ColumnMap *m, const TableSpec *spec, Relation rel)
{
	TupleDesc	desc = RelationGetDescr(rel);
	int			matched = 0;

	m->relid = InvalidOid;
	for (int c = 0; c < spec->ncols; c++)
	{
		const ColumnSpec *col = &spec->cols[c];

		m->attnums[c] = InvalidAttrNumber;
		m->enum_types[c] = InvalidOid;
		for (int a = 0; a < desc->natts; a++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, a);

			if (!att->attisdropped && strcmp(NameStr(att->attname), col->name) == 0)
			{
				m->attnums[c] = att->attnum;
				if (col->labels != NULL)
				{
					if (get_typtype(att->atttypid) != TYPTYPE_ENUM)
						elog(ERROR, "exchange.%s.%s is not an enum",
							 spec->table, col->name);
					m->enum_types[c] = att->atttypid;
				}
				else if (att->atttypid != col->type)
					elog(ERROR, "exchange.%s.%s has type %s, expected %s",
						 spec->table, col->name,
						 format_type_be(att->atttypid),
						 format_type_be(col->type));
				break;
			}
		}
		if (m->attnums[c] == InvalidAttrNumber)
			elog(ERROR, "exchange.%s has no column %s", spec->table,
				 col->name);
		matched++;
	}
	if (spec->nkeys == 0)
	{
		int			live = 0;

		for (int a = 0; a < desc->natts; a++)
			if (!TupleDescAttr(desc, a)->attisdropped)
				live++;
		if (live != matched)
			elog(ERROR, "exchange.%s has columns the engine does not write",
				 spec->table);
	}
	m->relid = RelationGetRelid(rel);
}

/* spec's column map for rel, matched now if not known. */
static const ColumnMap *
ColumnMapOf(const TableSpec *spec, Relation rel)
{
	ColumnMap  *m = NULL;
	ColumnMap  *free_slot = NULL;

	if (!column_maps_watched)
	{
		CacheRegisterRelcacheCallback(ColumnMapsForget, (Datum) 0);
		column_maps_watched = true;
	}
	for (int i = 0; i < lengthof(column_maps) && m == NULL; i++)
	{
		if (column_maps[i].spec == spec)
			m = &column_maps[i];
		else if (column_maps[i].spec == NULL && free_slot == NULL)
			free_slot = &column_maps[i];
	}
	if (m == NULL)
	{
		if (free_slot == NULL)
			elog(ERROR, "exchange: more table specs than column maps");
		m = free_slot;
		m->spec = spec;
		m->relid = InvalidOid;
	}
	if (m->relid != RelationGetRelid(rel))
		ColumnMapMatch(m, spec, rel);
	return m;
}

/*
 * Open spec's table with its column map; with indexes, ready for index
 * inserts.  Every column of an inserted row must be one the engine writes.
 */
static void
TableOpen(TableWrite *t, const TableSpec *spec, Oid nsp, bool indexes)
{
	Oid			relid = get_relname_relid(spec->table, nsp);
	const ColumnMap *m;

	if (!OidIsValid(relid))
		elog(ERROR, "table exchange.%s does not exist", spec->table);
	t->spec = spec;
	t->rel = table_open(relid, RowExclusiveLock);
	if (t->rel->rd_rel->relkind != RELKIND_RELATION)
		elog(ERROR, "exchange.%s is not a table", spec->table);
	RowPlacesCheckFile(t->rel, spec->where);
	if (t->rel->trigdesc != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("triggers on exchange.%s are not supported",
						spec->table),
				 errdetail("The engine writes its tables directly, without firing triggers."),
				 errhint("Drop the trigger; read the table or its view instead.")));
	m = ColumnMapOf(spec, t->rel);
	for (int c = 0; c < spec->ncols; c++)
	{
		t->attnums[c] = m->attnums[c];
		t->enums[c] = OidIsValid(m->enum_types[c]) ?
			EnumLabels(m->enum_types[c], spec->cols[c].labels) : NULL;
	}

	t->rri = makeNode(ResultRelInfo);
	InitResultRelInfo(t->rri, t->rel, 0, NULL, 0);
	UseCachedChecks(t->rri);
	if (indexes)
		ExecOpenIndices(t->rri, false);
}

/* Open the table's indexes for inserts, if not yet open. */
static void
TableOpenIndexes(TableWrite *t)
{
	if (t->rri->ri_IndexRelationDescs == NULL && t->rel->rd_rel->relhasindex)
		ExecOpenIndices(t->rri, false);
}

static void
TableClose(TableWrite *t)
{
	if (t->rri->ri_IndexRelationDescs != NULL)
		ExecCloseIndices(t->rri);
	table_close(t->rel, NoLock);
}

/* Put spec column c of a collected row into slot (values/isnull). */
static inline void
SlotSetColumn(TableWrite *t, TupleTableSlot *slot, const Rows *r, int row,
			  int c)
{
	int			i = row * r->spec->ncols + c;
	int			a = t->attnums[c] - 1;

	slot->tts_isnull[a] = r->nulls[i];
	if (r->nulls[i])
		slot->tts_values[a] = (Datum) 0;
	else if (t->enums[c] != NULL)
	{
		int32		label = DatumGetInt32(r->values[i]);

		if (label < 0 || label >= t->enums[c]->nlabels)
			elog(ERROR, "exchange.%s.%s: no label for value %d",
				 r->spec->table, r->spec->cols[c].name, label);
		slot->tts_values[a] = ObjectIdGetDatum(t->enums[c]->oids[label]);
	}
	else
		slot->tts_values[a] = r->values[i];
}

/*
 * True when every index of the table takes its entries from plain columns,
 * unconditionally, with an immediate uniqueness check if any: then the
 * engine can insert the entries one index at a time (below) and do no less
 * than ExecInsertIndexTuples would.  An expression, partial, exclusion or
 * deferrable index a DBA adds sends the rows through ExecInsertIndexTuples.
 */
static bool
IndexesArePlain(ResultRelInfo *rri)
{
	for (int x = 0; x < rri->ri_NumIndices; x++)
	{
		IndexInfo  *ii = rri->ri_IndexRelationInfo[x];
		Relation	index = rri->ri_IndexRelationDescs[x];

		if (ii->ii_Expressions != NIL || ii->ii_Predicate != NIL ||
			ii->ii_ExclusionOps != NULL ||
			(index->rd_index->indisunique && !index->rd_index->indimmediate))
			return false;
	}
	return true;
}

/*
 * Fewer rows than this go row by row: a handful of new ids land on the
 * same rightmost pages in any order, and the per-index set-up (sort
 * support, arrays) costs more than ordering saves.  At 10,000 orders/s
 * (4.5-4.9 rows a batch) the engine spent 28.33 us per order sorted
 * against 27.78 row by row (ABBA, four rounds, 1 of 4 in favour).
 */
#define INDEX_ORDER_MIN_ROWS 16

typedef struct IndexOrder
{
	int			first;			/* first key column compared by value */
	int			nkeys;			/* key columns compared */
	int			stride;			/* columns per row (with INCLUDE's) */
	const Datum *values;
	const bool *isnull;
	SortSupport ssup;			/* nkeys */
} IndexOrder;

/*
 * A row to sort: its first key column as an integer when that column is
 * an integer in ascending order without NULLs (a primary key, account_id:
 * then most comparisons end here), else 0; its TID, packed, breaks ties.
 */
typedef struct IndexSortItem
{
	int64		key;
	uint64		tid;
	int			row;
} IndexSortItem;

/* Rows by their index key, then by TID. */
static inline int
IndexItemCompare(const IndexSortItem *a, const IndexSortItem *b,
				 const IndexOrder *o)
{
	if (a->key != b->key)
		return a->key < b->key ? -1 : 1;
	for (int k = o->first; k < o->nkeys; k++)
	{
		int			c = ApplySortComparator(o->values[a->row * o->stride + k],
											o->isnull[a->row * o->stride + k],
											o->values[b->row * o->stride + k],
											o->isnull[b->row * o->stride + k],
											&o->ssup[k]);

		if (c != 0)
			return c;
	}
	return (a->tid > b->tid) - (a->tid < b->tid);
}

#define ST_SORT sort_index_items
#define ST_ELEMENT_TYPE IndexSortItem
#define ST_COMPARE_ARG_TYPE const IndexOrder
#define ST_COMPARE(a, b, arg) IndexItemCompare(a, b, arg)
#define ST_SCOPE static
#define ST_DEFINE
#include "lib/sort_template.h"

/*
 * The first offset from lo through maxoff whose entry is not below key
 * (maxoff + 1 if none), by binary search; the last entry is tried first,
 * since a batch's entries in key order mostly go after all of a page's.
 */
static OffsetNumber
LeafSearch(Relation index, Page page, BTScanInsert key, OffsetNumber lo,
		   OffsetNumber maxoff)
{
	OffsetNumber hi = maxoff + 1;

	lo = Min(lo, hi);
	if (lo < hi && _bt_compare(index, key, page, maxoff) > 0)
		return hi;
	while (lo < hi)
	{
		OffsetNumber mid = lo + (hi - lo) / 2;

		if (_bt_compare(index, key, page, mid) > 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * Where on a locked leaf page the entry itup, with its insertion key (its
 * heap TID as scantid), goes; InvalidOffsetNumber when it has to go the
 * ordinary way instead: the page has no room for it (a split, or first a
 * deduplication pass), it is too large for any page (the ordinary way
 * raises the error), its TID falls inside a posting list (a posting split),
 * or, in a unique index, an entry with equal key columns is on this page,
 * or could be on a neighbour (the ordinary way then decides, live or dead,
 * wait or error).  *low: where the search starts (every entry before it is
 * smaller than this one: the batch's entries come in key order).
 */
static OffsetNumber
LeafPlace(Relation index, Page page, BTScanInsert key, IndexTuple itup,
		  bool unique, OffsetNumber *low)
{
	BTPageOpaque opaque = BTPageGetOpaque(page);
	OffsetNumber first = P_FIRSTDATAKEY(opaque);
	OffsetNumber maxoff = PageGetMaxOffsetNumber(page);
	Size		itemsz = MAXALIGN(IndexTupleSize(itup));
	OffsetNumber lo;

	if (itemsz > BTMaxItemSize(page) || PageGetFreeSpace(page) < itemsz)
		return InvalidOffsetNumber;
	if (unique && !key->anynullkeys)
	{
		ItemPointer tid = key->scantid;
		bool		conflict;

		/* the first entry whose key columns are not below this one's */
		key->scantid = NULL;
		lo = LeafSearch(index, page, key, first, maxoff);
		if (lo <= maxoff)
			conflict = _bt_compare(index, key, page, lo) == 0;
		else					/* equal ones could start the right sibling */
			conflict = !P_RIGHTMOST(opaque) &&
				_bt_compare(index, key, page, P_HIKEY) >= 0;
		/* ... or end the left one */
		if (lo == first && !P_LEFTMOST(opaque))
			conflict = true;
		key->scantid = tid;
		if (conflict)
			return InvalidOffsetNumber;
	}
	/* the first entry above this one, heap TID included */
	lo = LeafSearch(index, page, key, Max(*low, first), maxoff);
	if (lo <= maxoff && _bt_compare(index, key, page, lo) == 0)
		return InvalidOffsetNumber; /* inside a posting list */
	*low = OffsetNumberNext(lo);
	return lo;
}

/*
 * Add itup at off on the locked leaf page in buf and log it: what
 * _bt_insertonpg does for a leaf insert without a split, with the same
 * XLOG_BTREE_INSERT_LEAF record, so that recovery and the standbys replay
 * it as any B-tree insert.
 */
static void
LeafAdd(Relation index, Buffer buf, Page page, IndexTuple itup,
		OffsetNumber off)
{
	START_CRIT_SECTION();
	if (PageAddItem(page, (Item) itup, MAXALIGN(IndexTupleSize(itup)), off,
					false, false) == InvalidOffsetNumber)
		elog(PANIC, "failed to add new item to block %u in index \"%s\"",
			 BufferGetBlockNumber(buf), RelationGetRelationName(index));
	MarkBufferDirty(buf);
	if (RelationNeedsWAL(index))
	{
		xl_btree_insert xlrec;
		XLogRecPtr	recptr;

		xlrec.offnum = off;
		XLogBeginInsert();
		XLogRegisterData((char *) &xlrec, SizeOfBtreeInsert);
		XLogRegisterBuffer(0, buf, REGBUF_STANDARD);
		XLogRegisterBufData(0, (char *) itup, IndexTupleSize(itup));
		recptr = XLogInsert(RM_BTREE_ID, XLOG_BTREE_INSERT_LEAF);
		PageSetLSN(page, recptr);
	}
	END_CRIT_SECTION();
}

/* The B-tree entry of row i, with its heap TID, and its insertion key. */
static IndexTuple
EntryOf(Relation index, Datum *values, bool *isnull, TupleTableSlot *slot,
		BTScanInsert *key)
{
	IndexTuple	itup = index_form_tuple(RelationGetDescr(index), values,
										isnull);

	itup->t_tid = slot->tts_tid;
	*key = _bt_mkscankey(index, itup);
	if ((*key)->heapkeyspace)
		(*key)->scantid = &itup->t_tid;
	return itup;
}

/*
 * A B-tree's new entries for the batch, in key order, page by page: one
 * descent from the root finds the leaf of the first entry, and the entries
 * after it that belong on the same leaf go in while its lock is held.  An
 * entry the ordinary way would insert into the page exactly like this
 * does; any other (see LeafPlace) goes in through index_insert, and the
 * next entry descends again.  The ordinary way descends once per entry
 * (or, at the right end, reads and locks the cached rightmost leaf per
 * entry), and finding the leaf had been a quarter of the engine's B-tree
 * time in place_orders: engine 5.16 against 6.39 us per order there.
 *
 * How the leaf's new entries are logged: when at least
 * exchange.index_generic_min of them will go to it (the entry that many
 * places on belongs on this leaf, and that many would fit), they go into
 * a copy of the page and are logged as one generic WAL record of the page's
 * changed bytes (GenericXLogFinish: the new line pointers and tuples,
 * about 20 B an entry at a primary key's right end), which any standby
 * and recovery replay with PostgreSQL's own generic redo; else each with
 * the ordinary XLOG_BTREE_INSERT_LEAF record (67 B, and a record for the
 * standby's startup process to replay, per entry).  In place_orders with
 * the standby: 220 against 336 WAL bytes per order, machine 14.02
 * against 17.15 us per order.  Comparing the two page images costs a pass
 * over the page, so a leaf with few new entries keeps the ordinary
 * records (4 against 8 made no difference in the requote run, where
 * leaves get the fewest).
 *
 * This leans on nbtree's exported internals (_bt_search, _bt_compare,
 * _bt_mkscankey, as in PostgreSQL 15.18-15.20) and repeats what
 * _bt_insertonpg does for a leaf; later releases changed _bt_search's
 * arguments (a heap relation, no snapshot), so a move past 15 must
 * revisit this (the build fails rather than misbehaves).
 */
static void
BtreeInsertByPage(Relation index, Relation heap, IndexInfo *ii,
				  IndexUniqueCheck check, Datum *values, bool *isnull,
				  int natts, const IndexSortItem *items,
				  int n, TupleTableSlot **slots)
{
	int			k = 0;
	IndexTuple	itup = NULL;
	BTScanInsert key = NULL;

	while (k < n)
	{
		int			i = items[k].row;
		Buffer		buf;
		BTStack		stack;
		Page		page;
		BTPageOpaque opaque;
		OffsetNumber low;
		bool		ordinary = false;
		GenericXLogState *generic;
		int			added;

		if (itup == NULL)
			itup = EntryOf(index, &values[i * natts], &isnull[i * natts],
						   slots[i], &key);
		if (!key->heapkeyspace)
		{
			/* an index from before PostgreSQL 12: all the ordinary way */
			for (; k < n; k++)
			{
				i = items[k].row;
				index_insert(index, &values[i * natts], &isnull[i * natts],
							 &slots[i]->tts_tid, heap, check, false, ii);
			}
			break;
		}
		stack = _bt_search(index, key, &buf, BT_WRITE, NULL);
		if (stack != NULL)
			_bt_freestack(stack);
		page = BufferGetPage(buf);
		opaque = BTPageGetOpaque(page);
		CheckForSerializableConflictIn(index, NULL, BufferGetBlockNumber(buf));
		generic = NULL;
		if (exchange_index_generic_min > 0 && RelationNeedsWAL(index) &&
			k + exchange_index_generic_min <= n &&
			PageGetFreeSpace(page) >= exchange_index_generic_min *
			(MAXALIGN(IndexTupleSize(itup)) + sizeof(ItemIdData)))
		{
			/* do as many as that belong on this leaf? the last of them says */
			int			j = items[k + exchange_index_generic_min - 1].row;
			BTScanInsert jkey;
			IndexTuple	jtup = EntryOf(index, &values[j * natts],
									   &isnull[j * natts], slots[j], &jkey);

			if (P_RIGHTMOST(opaque) ||
				_bt_compare(index, jkey, page, P_HIKEY) <= 0)
			{
				generic = GenericXLogStart(index);
				page = GenericXLogRegisterBuffer(generic, buf, 0);
				opaque = BTPageGetOpaque(page);
			}
			pfree(jtup);
			pfree(jkey);
		}
		added = 0;
		low = P_FIRSTDATAKEY(opaque);
		for (;;)
		{
			OffsetNumber off = LeafPlace(index, page, key, itup,
										 check != UNIQUE_CHECK_NO, &low);

			if (off == InvalidOffsetNumber)
			{
				ordinary = true;
				break;
			}
			if (generic == NULL)
				LeafAdd(index, buf, page, itup, off);
			else if (PageAddItem(page, (Item) itup,
								 MAXALIGN(IndexTupleSize(itup)), off,
								 false, false) == InvalidOffsetNumber)
				elog(ERROR, "failed to add new item to block %u in index \"%s\"",
					 BufferGetBlockNumber(buf), RelationGetRelationName(index));
			added++;
			pfree(itup);
			pfree(key);
			itup = NULL;
			if (++k == n)
				break;
			i = items[k].row;
			itup = EntryOf(index, &values[i * natts], &isnull[i * natts],
						   slots[i], &key);
			if (!P_RIGHTMOST(opaque) &&
				_bt_compare(index, key, page, P_HIKEY) > 0)
				break;			/* it belongs on a page further right */
		}
		if (generic != NULL && added > 0)
			GenericXLogFinish(generic);
		else if (generic != NULL)
			GenericXLogAbort(generic);
		_bt_relbuf(index, buf);
		if (ordinary)
		{
			index_insert(index, &values[i * natts], &isnull[i * natts],
						 &slots[i]->tts_tid, heap, check, false, ii);
			pfree(itup);
			pfree(key);
			itup = NULL;
			k++;
		}
	}
}

/*
 * The index entries of rows just inserted, one index at a time, each
 * B-tree's in its own key order.  The batch's rows come in its hash map's
 * order, which is what scatters one call's orders over the batch's heap
 * pages and keeps their later cancellation HOT.  In that order the
 * primary key's new entries split its pages mid-page half the time, and
 * successive entries of the account index went to different accounts'
 * leaf pages.  In key order a primary key's new ids (the largest yet) go
 * to the right end one after the other (btree's fast path for the
 * rightmost leaf; splits there keep pages full), and one account's orders
 * go to its leaf page in a row, their TIDs ascending, so they extend its
 * posting list.  Rows with equal keys go in TID order.  Measured with the
 * standby, six ABBA rounds each (exchange.index_order on against off):
 * place_orders engine 4.40 against 4.87 us per order (6 of 6 rounds),
 * requote 11.01 against 12.00 (4 of 6), place_order 31.2 against 32.0
 * (4 of 6).  Sorting the heap rows too was faster still for place_orders
 * but packed one call's orders onto a page or two, and their cancellation
 * (a market maker's requote) then no longer fitted the pages' free space:
 * not HOT, 13.46 against 11.93 us per order.
 */
static void
RowsInsertIndexEntries(TableWrite *t, const Rows *r, TupleTableSlot **slots)
{
	ResultRelInfo *rri = t->rri;
	int			n = r->n;
	int			width = 1;
	IndexSortItem *items = palloc(sizeof(IndexSortItem) * n);
	Datum	   *values;
	bool	   *isnull;

	for (int x = 0; x < rri->ri_NumIndices; x++)
		width = Max(width, rri->ri_IndexRelationInfo[x]->ii_NumIndexAttrs);
	values = palloc(sizeof(Datum) * n * width);
	isnull = palloc(sizeof(bool) * n * width);

	for (int x = 0; x < rri->ri_NumIndices; x++)
	{
		IndexInfo  *ii = rri->ri_IndexRelationInfo[x];
		Relation	index = rri->ri_IndexRelationDescs[x];
		IndexUniqueCheck check = index->rd_index->indisunique ?
			UNIQUE_CHECK_YES : UNIQUE_CHECK_NO;
		int			natts = ii->ii_NumIndexAttrs;
		Oid			type0 = TupleDescAttr(RelationGetDescr(index), 0)->atttypid;
		bool		by_value = index->rd_rel->relam == BTREE_AM_OID &&
			index->rd_opfamily[0] == INTEGER_BTREE_FAM_OID &&
			index->rd_indoption[0] == 0 &&
			(type0 == INT8OID || type0 == INT4OID || type0 == INT2OID);

		if (!ii->ii_ReadyForInserts)
			continue;			/* being built concurrently */
		for (int i = 0; i < n; i++)
		{
			ItemPointer tid = &slots[i]->tts_tid;

			FormIndexDatum(ii, slots[i], NULL, &values[i * natts],
						   &isnull[i * natts]);
			items[i].row = i;
			items[i].tid = ((uint64) ItemPointerGetBlockNumber(tid) << 16) |
				ItemPointerGetOffsetNumber(tid);
			items[i].key = 0;
			if (by_value && isnull[i * natts])
				by_value = false;
		}
		if (n > 1 && index->rd_rel->relam == BTREE_AM_OID)
		{
			IndexOrder	o;
			int			nkeys = ii->ii_NumIndexKeyAttrs;

			o.first = by_value ? 1 : 0;
			o.nkeys = nkeys;
			o.stride = natts;
			o.values = values;
			o.isnull = isnull;
			o.ssup = palloc0(sizeof(SortSupportData) * nkeys);
			for (int k = o.first; k < nkeys; k++)
			{
				int16		opt = index->rd_indoption[k];

				o.ssup[k].ssup_cxt = CurrentMemoryContext;
				o.ssup[k].ssup_collation = index->rd_indcollation[k];
				o.ssup[k].ssup_nulls_first = (opt & INDOPTION_NULLS_FIRST) != 0;
				o.ssup[k].ssup_attno = k + 1;
				PrepareSortSupportFromIndexRel(index,
											   (opt & INDOPTION_DESC) != 0 ?
											   BTGreaterStrategyNumber :
											   BTLessStrategyNumber,
											   &o.ssup[k]);
			}
			if (by_value)
				for (int i = 0; i < n; i++)
				{
					Datum		v = values[i * natts];

					items[i].key = type0 == INT8OID ? DatumGetInt64(v) :
						type0 == INT4OID ? DatumGetInt32(v) : DatumGetInt16(v);
				}
			sort_index_items(items, n, &o);
			pfree(o.ssup);
		}
		if (n > 1 && exchange_index_pages &&
			index->rd_rel->relam == BTREE_AM_OID)
			BtreeInsertByPage(index, t->rel, ii, check, values, isnull, natts,
							  items, n, slots);
		else
			for (int k = 0; k < n; k++)
			{
				int			i = items[k].row;

				index_insert(index, &values[i * natts], &isnull[i * natts],
							 &slots[i]->tts_tid, t->rel, check, false, ii);
			}
	}
	pfree(items);
	pfree(values);
	pfree(isnull);
}

/*
 * Slots for a table's new rows, kept from batch to batch: made and dropped
 * for every row (a palloc0 of the slot and its arrays, and the pfree), they
 * were 2.2% of the engine's samples in place_orders (2026-11-24).  The
 * slots share a copy of the row type that is not reference counted: with
 * the relation's own, every slot pinned it in the resource owner, and
 * forgetting hundreds of pins one by one (a search from the newest) was a
 * tenth of the engine's time in large batches.  A pool is made again when
 * its table's row type is no longer the one it was made for (a column
 * added or dropped, a type changed), which is checked at every use, so no
 * invalidation can leave a slot of the wrong shape.
 */
typedef struct SlotPool
{
	Oid			relid;
	TupleDesc	desc;			/* a copy of the row type when made */
	const TupleTableSlotOps *ops;
	TupleTableSlot **slots;
	int			n;
	int			max;
} SlotPool;

static SlotPool slot_pools[8];
static MemoryContext slot_pool_cxt = NULL;

/* Whether slots made for row type a hold rows of row type b. */
static bool
SameRowShape(TupleDesc a, TupleDesc b)
{
	if (a->natts != b->natts)
		return false;
	for (int i = 0; i < a->natts; i++)
	{
		Form_pg_attribute x = TupleDescAttr(a, i);
		Form_pg_attribute y = TupleDescAttr(b, i);

		if (x->atttypid != y->atttypid || x->atttypmod != y->atttypmod ||
			x->attlen != y->attlen || x->attbyval != y->attbyval ||
			x->attalign != y->attalign || x->attisdropped != y->attisdropped)
			return false;
	}
	return true;
}

static void
SlotPoolEmpty(SlotPool *p)
{
	for (int i = 0; i < p->n; i++)
		ExecDropSingleTupleTableSlot(p->slots[i]);
	p->n = 0;
	if (p->desc != NULL)
		FreeTupleDesc(p->desc);
	p->desc = NULL;
}

/* n empty slots for rows of rel. */
static TupleTableSlot **
SlotsFor(Relation rel, int n)
{
	Oid			relid = RelationGetRelid(rel);
	TupleDesc	desc = RelationGetDescr(rel);
	const TupleTableSlotOps *ops = table_slot_callbacks(rel);
	SlotPool   *p = NULL;
	MemoryContext old;

	if (slot_pool_cxt == NULL)
		slot_pool_cxt = AllocSetContextCreate(TopMemoryContext,
											  "exchange row slots",
											  ALLOCSET_DEFAULT_SIZES);
	for (int i = 0; i < lengthof(slot_pools) && p == NULL; i++)
		if (slot_pools[i].relid == relid)
			p = &slot_pools[i];
	for (int i = 0; i < lengthof(slot_pools) && p == NULL; i++)
		if (slot_pools[i].relid == InvalidOid)
			p = &slot_pools[i];
	if (p == NULL)
	{
		/* more tables than pools (not the engine's own): take the first */
		p = &slot_pools[0];
		SlotPoolEmpty(p);
	}
	if (p->relid != relid || p->desc == NULL || p->ops != ops ||
		!SameRowShape(p->desc, desc))
		SlotPoolEmpty(p);
	old = MemoryContextSwitchTo(slot_pool_cxt);
	p->relid = relid;
	p->ops = ops;
	if (p->desc == NULL)
		p->desc = CreateTupleDescCopy(desc);
	if (p->max < n)
	{
		int			max = Max(n, Max(64, p->max * 2));

		p->slots = p->slots == NULL ?
			palloc(sizeof(TupleTableSlot *) * max) :
			repalloc(p->slots, sizeof(TupleTableSlot *) * max);
		p->max = max;
	}
	while (p->n < n)
		p->slots[p->n++] = MakeSingleTupleTableSlot(p->desc, ops);
	MemoryContextSwitchTo(old);
	return p->slots;
}

/* Insert the collected rows: one multi-insert, then their index entries. */
static void
RowsInsert(EState *estate, Oid nsp, const Rows *r)
{
	TableWrite	t;
	TupleTableSlot **slots;
	TupleDesc	desc;
	bool		check;
	bool		per_index;

	if (r->n == 0)
		return;
	TableOpen(&t, r->spec, nsp, true);
	desc = RelationGetDescr(t.rel);
	check = desc->constr != NULL;
	slots = SlotsFor(t.rel, r->n);
	for (int i = 0; i < r->n; i++)
	{
		TupleTableSlot *slot = slots[i];

		ExecClearTuple(slot);
		/* dropped columns stay NULL */
		memset(slot->tts_isnull, true, sizeof(bool) * desc->natts);
		for (int c = 0; c < r->spec->ncols; c++)
			SlotSetColumn(&t, slot, r, i, c);
		ExecStoreVirtualTuple(slot);
		if (check)
			ExecConstraints(t.rri, slot, estate);
	}
	table_multi_insert(t.rel, slots, r->n, GetCurrentCommandId(true), 0,
					   NULL);
	per_index = t.rri->ri_NumIndices > 0 && exchange_index_order &&
		r->n >= INDEX_ORDER_MIN_ROWS && IndexesArePlain(t.rri);
	if (per_index)
		RowsInsertIndexEntries(&t, r, slots);
	for (int i = 0; i < r->n; i++)
	{
		/*
		 * A new row the engine will not touch again (an order that ended in
		 * its own batch) has no place to remember, and none to forget: it
		 * is new.  Most orders of a place_orders call are such rows.
		 */
		bool		remember = !r->last[i];

		if (remember)
			ROW_PLACE_PREFETCH(r, i);
		if (t.rri->ri_NumIndices > 0 && !per_index)
			list_free(ExecInsertIndexTuples(t.rri, slots[i], estate, false,
											false, NULL, NIL));
		if (remember)
			RowPlaceSet(r, i, &slots[i]->tts_tid, false);
		ExecClearTuple(slots[i]);
	}
	TableClose(&t);
}

/*
 * Fetch row i of r into slot from its remembered place: true when the row
 * there is visible to the batch's snapshot and has the row's key (then it
 * is the row: the key is the primary key).
 */
static bool
RowAtPlace(TableWrite *t, const Rows *r, int i, BlockNumber nblocks,
		   Snapshot snapshot, TupleTableSlot *slot)
{
	RowKey		key;
	RowPlace   *place;
	ItemPointer tid;

	if (r->spec->where == WHERE_NONE || nblocks == 0 || !exchange_row_places)
		return false;
	key = RowKeyOf(r, i);
	place = places_lookup(row_places, key);
	if (place == NULL)
		return false;
	tid = &place->tid[r->spec->where == WHERE_BOOK ? 1 : 0];
	if (!ItemPointerIsValid(tid) ||
		ItemPointerGetBlockNumber(tid) >= nblocks ||
		!table_tuple_fetch_row_version(t->rel, tid, snapshot, slot))
		return false;
	for (int k = 0; k < r->spec->nkeys; k++)
	{
		bool		isnull;
		Datum		v = slot_getattr(slot, t->attnums[k], &isnull);
		Datum		want = r->values[i * r->spec->ncols + k];

		if (isnull ||
			(r->spec->cols[k].type == INT8OID ?
			 DatumGetInt64(v) != DatumGetInt64(want) :
			 DatumGetInt32(v) != DatumGetInt32(want)))
			return false;
	}
	return true;
}

/*
 * Make room for an update's new version on the old one's page, as an index
 * scan would have: a row fetched by its place (its TID) is read without the
 * pruning an index fetch does on the way, and with no pruning the pages of
 * order_record filled with dead versions until a fifth of its updates and
 * a twentieth of balance_record's were not HOT (each one then an index
 * entry per index, and a heap page lock record, in WAL).  Only when the
 * page looks short of room: the row is copied out of the page first, so
 * that we hold no pin on it while heap_page_prune_opt takes its cleanup
 * lock and moves tuples about.
 */
static void
PruneBeforeUpdate(Relation rel, TupleTableSlot *old)
{
	BufferHeapTupleTableSlot *bslot = (BufferHeapTupleTableSlot *) old;
	Buffer		buffer;

	if (!TTS_IS_BUFFERTUPLE(old) || !BufferIsValid(bslot->buffer))
		return;
	buffer = bslot->buffer;
	/* room for one more version of this row (heap_update's test) */
	if (PageGetHeapFreeSpace(BufferGetPage(buffer)) >=
		MAXALIGN(bslot->base.tuple->t_len))
		return;
	ExecMaterializeSlot(old);	/* drops the pin */
	buffer = ReadBuffer(rel, ItemPointerGetBlockNumber(&old->tts_tid));
	heap_page_prune_opt(rel, buffer);
	ReleaseBuffer(buffer);
}

/*
 * Open the table's primary key, checking that it is the spec's key
 * columns, and give their equality functions in eq.
 */
static Relation
PrimaryKeyOpen(TableWrite *t, RegProcedure *eq)
{
	const TableSpec *spec = t->spec;
	Oid			index_oid = RelationGetPrimaryKeyIndex(t->rel);
	Relation	index;

	if (!OidIsValid(index_oid))
		elog(ERROR, "exchange.%s has no primary key", spec->table);
	index = index_open(index_oid, RowExclusiveLock);
	if (IndexRelationGetNumberOfKeyAttributes(index) != spec->nkeys)
		elog(ERROR, "exchange.%s: unexpected primary key", spec->table);
	for (int k = 0; k < spec->nkeys; k++)
	{
		if (index->rd_index->indkey.values[k] != t->attnums[k])
			elog(ERROR, "exchange.%s: unexpected primary key", spec->table);
		eq[k] = spec->cols[k].type == INT8OID ? F_INT8EQ : F_INT4EQ;
	}
	return index;
}

/*
 * Update (or delete) the rows found by their primary key, the spec's
 * first columns; the other columns get the collected values.  An update
 * that changes no indexed column is HOT when the page has room, as with
 * SQL's UPDATE.
 */
static void
RowsUpdate(EState *estate, Oid nsp, const Rows *r, bool is_delete)
{
	const TableSpec *spec = r->spec;
	TableWrite	t;
	Relation	index = NULL;
	IndexScanDesc scan = NULL;
	TupleTableSlot *old;
	TupleTableSlot *new = NULL;
	ScanKeyData keys[INDEX_MAX_KEYS];
	RegProcedure eq[INDEX_MAX_KEYS];
	Snapshot	snapshot = GetActiveSnapshot();
	int			natts;
	bool		check;
	BlockNumber nblocks;
	int64		by_key = 0;

	if (r->n == 0)
		return;
	/*
	 * The indexes are opened when an update needs new entries (one that is
	 * not HOT), the primary key when a row must be found by its key: most
	 * batches need neither.
	 */
	TableOpen(&t, spec, nsp, false);
	natts = RelationGetDescr(t.rel)->natts;
	check = RelationGetDescr(t.rel)->constr != NULL;
	old = table_slot_create(t.rel, NULL);
	if (!is_delete)
		new = table_slot_create(t.rel, NULL);
	/* a remembered TID past the end is stale (the table was truncated) */
	nblocks = row_places->members > 0 ?
		RelationGetNumberOfBlocks(t.rel) : 0;
	ROW_PLACE_PREFETCH(r, 0);
	for (int i = 0; i < r->n; i++)
	{
		ROW_PLACE_PREFETCH(r, i + 1);
		if (!RowAtPlace(&t, r, i, nblocks, snapshot, old))
		{
			if (scan == NULL)
			{
				if (index == NULL)
					index = PrimaryKeyOpen(&t, eq);
				scan = index_beginscan(t.rel, index, snapshot, spec->nkeys, 0);
			}
			for (int k = 0; k < spec->nkeys; k++)
				ScanKeyInit(&keys[k], k + 1, BTEqualStrategyNumber, eq[k],
							r->values[i * spec->ncols + k]);
			index_rescan(scan, keys, spec->nkeys, NULL, 0);
			if (!index_getnext_slot(scan, ForwardScanDirection, old))
				/* the core and the tables disagree */
				elog(ERROR, "exchange batch found no row in exchange.%s for key %lld",
					 spec->table,
					 (long long) DatumGetInt64(r->values[i * spec->ncols]));
			by_key++;
		}
		else if (!is_delete)
			PruneBeforeUpdate(t.rel, old);
		if (is_delete)
		{
			simple_table_tuple_delete(t.rel, &old->tts_tid, snapshot);
			RowPlaceSet(r, i, NULL, true);
			continue;
		}
		slot_getallattrs(old);
		ExecClearTuple(new);
		memcpy(new->tts_values, old->tts_values, sizeof(Datum) * natts);
		memcpy(new->tts_isnull, old->tts_isnull, sizeof(bool) * natts);
		for (int c = spec->nkeys; c < spec->ncols; c++)
			SlotSetColumn(&t, new, r, i, c);
		ExecStoreVirtualTuple(new);
		if (check)
			ExecConstraints(t.rri, new, estate);
		{
			bool		update_indexes;

			simple_table_tuple_update(t.rel, &old->tts_tid, new, snapshot,
									  &update_indexes);
			if (update_indexes)
				TableOpenIndexes(&t);
			if (update_indexes && t.rri->ri_NumIndices > 0)
				list_free(ExecInsertIndexTuples(t.rri, new, estate, true,
												false, NULL, NIL));
		}
		/* the new version's TID (HOT or not) */
		RowPlaceSet(r, i, &new->tts_tid, false);
	}
	pg_atomic_fetch_add_u64(&Exchange->stats.rows_by_place, r->n - by_key);
	pg_atomic_fetch_add_u64(&Exchange->stats.rows_by_key, by_key);
	if (scan != NULL)
		index_endscan(scan);
	ExecDropSingleTupleTableSlot(old);
	if (new != NULL)
		ExecDropSingleTupleTableSlot(new);
	if (index != NULL)
		index_close(index, NoLock);
	TableClose(&t);
}

/* Start collecting a batch's rows in cxt. */
BatchWrites *
PersistBegin(MemoryContext cxt)
{
	BatchWrites *w = MemoryContextAllocZero(cxt, sizeof(BatchWrites));

	/* off: nothing is remembered, and nothing from before is used later */
	if (row_places == NULL ||
		(!exchange_row_places && row_places->members > 0))
		RowPlacesReset();

	w->cxt = cxt;
	RowsInit(&w->orders, &order_insert);
	RowsInit(&w->order_updates, &order_update);
	RowsInit(&w->book_inserts, &book_insert);
	RowsInit(&w->book_deletes, &book_delete);
	RowsInit(&w->trades, &trade_insert);
	RowsInit(&w->balances, &balance_insert);
	RowsInit(&w->balance_updates, &balance_update);
	RowsInit(&w->deposits, &deposit_insert);
	RowsInit(&w->accounts, &account_insert);
	w->statements = NIL;
	return w;
}

/* An order's state after the batch: a new row, or an update of a known one. */
void
PersistOrder(BatchWrites *w, const CoreOrder *o, const char *client_order_id,
			 bool is_new)
{
	Rows	   *c;
	int			r;
	const CoreMarket *m = CoreGetMarket(Exchange->core, o->market);
	bool		resting = (o->status == CORE_OPEN ||
						   o->status == CORE_PARTIALLY_FILLED);

	/*
	 * Only resting orders are touched again, so a known order was on the
	 * book before this batch: it leaves open_order when it closes.  A new
	 * one joins it if it still rests.
	 */
	if (is_new && resting)
	{
		c = &w->book_inserts;
		r = RowsAdd(c, w->cxt);
		RowSet(c, r, 0, Int64GetDatum(o->id));
		RowSet(c, r, 1, Int32GetDatum(m->id));
		RowSet(c, r, 2, Int32GetDatum(o->side));
		RowSet(c, r, 3, Int64GetDatum(o->price));
	}
	else if (!is_new && !resting)
	{
		c = &w->book_deletes;
		r = RowsAdd(c, w->cxt);
		RowSet(c, r, 0, Int64GetDatum(o->id));
	}

	if (!is_new)
	{
		c = &w->order_updates;
		r = RowsAdd(c, w->cxt);
		RowSet(c, r, 0, Int64GetDatum(o->id));
		RowSet(c, r, 1, Int64GetDatum(o->quantity));
		RowSet(c, r, 2, Int64GetDatum(o->filled));
		RowSet(c, r, 3, Int64GetDatum(o->filled_quote));
		RowSet(c, r, 4, Int32GetDatum(o->status));
		c->last[r] = !resting;
		return;
	}
	c = &w->orders;
	r = RowsAdd(c, w->cxt);
	c->last[r] = !resting;
	RowSet(c, r, 0, Int64GetDatum(o->id));
	RowSet(c, r, 1, Int64GetDatum(o->account));
	RowSet(c, r, 2, Int32GetDatum(m->id));
	RowSet(c, r, 3, Int32GetDatum(o->side));
	RowSet(c, r, 4, Int32GetDatum(o->type));
	RowSet(c, r, 5, Int32GetDatum(o->tif));
	RowSet(c, r, 6, BoolGetDatum(o->post_only));
	RowSet(c, r, 7, Int32GetDatum(o->stp));
	if (o->type == CORE_LIMIT)
		RowSet(c, r, 8, Int64GetDatum(o->price));
	RowSet(c, r, 9, Int64GetDatum(o->quantity));
	RowSet(c, r, 10, Int64GetDatum(o->filled));
	RowSet(c, r, 11, Int64GetDatum(o->filled_quote));
	if (CoreOrderQuoteLimit(o) != 0)
		RowSet(c, r, 12, Int64GetDatum(CoreOrderQuoteLimit(o)));
	RowSet(c, r, 13, Int32GetDatum(o->status));
	if (client_order_id != NULL)
		RowSet(c, r, 14, CStringGetTextDatum(client_order_id));
	if (CoreOrderExpireAt(o) != 0)
		RowSet(c, r, 15, TimestampTzGetDatum(CoreOrderExpireAt(o)));
}

void
PersistTrade(BatchWrites *w, const CoreTrade *t)
{
	Rows	   *c = &w->trades;
	int			r = RowsAdd(c, w->cxt);

	RowSet(c, r, 0, Int64GetDatum(t->id));
	RowSet(c, r, 1, Int32GetDatum(CoreGetMarket(Exchange->core, t->market)->id));
	RowSet(c, r, 2, Int64GetDatum(t->price));
	RowSet(c, r, 3, Int64GetDatum(t->lots));
	RowSet(c, r, 4, Int64GetDatum(t->base_units));
	RowSet(c, r, 5, Int64GetDatum(t->quote_units));
	RowSet(c, r, 6, Int64GetDatum(t->maker_order));
	RowSet(c, r, 7, Int64GetDatum(t->taker_order));
	RowSet(c, r, 8, Int64GetDatum(t->maker_account));
	RowSet(c, r, 9, Int64GetDatum(t->taker_account));
	RowSet(c, r, 10, Int32GetDatum(t->taker_side));
	RowSet(c, r, 11, Int64GetDatum(t->maker_fee));
	RowSet(c, r, 12, Int64GetDatum(t->taker_fee));
}

void
PersistDeposit(BatchWrites *w, int64 id, int64 account, int32 asset_id,
			   int64 units, const char *reference)
{
	Rows	   *c = &w->deposits;
	int			r = RowsAdd(c, w->cxt);

	RowSet(c, r, 0, Int64GetDatum(id));
	RowSet(c, r, 1, Int64GetDatum(account));
	RowSet(c, r, 2, Int32GetDatum(asset_id));
	RowSet(c, r, 3, Int64GetDatum(units));
	RowSet(c, r, 4, CStringGetTextDatum(reference));
}

void
PersistAccount(BatchWrites *w, int64 id, const char *external_ref)
{
	Rows	   *c = &w->accounts;
	int			r = RowsAdd(c, w->cxt);

	RowSet(c, r, 0, Int64GetDatum(id));
	if (external_ref != NULL)
		RowSet(c, r, 1, CStringGetTextDatum(external_ref));
}

/* Queue a catalogue statement, run in order at flush. */
static Statement *
StatementAdd(BatchWrites *w, const char *sql, int nargs)
{
	MemoryContext old = MemoryContextSwitchTo(w->cxt);
	Statement  *s = palloc0(sizeof(Statement));

	s->sql = sql;
	s->nargs = nargs;
	memset(s->nulls, ' ', sizeof(s->nulls));
	w->statements = lappend(w->statements, s);
	MemoryContextSwitchTo(old);
	return s;
}

void
PersistAsset(BatchWrites *w, const CoreAsset *a)
{
	Statement  *s = StatementAdd(w,
								 "INSERT INTO exchange.asset (asset_id, code, scale)"
								 " VALUES ($1, $2, $3)", 3);
	MemoryContext old = MemoryContextSwitchTo(w->cxt);

	s->types[0] = INT4OID;
	s->values[0] = Int32GetDatum(a->id);
	s->types[1] = TEXTOID;
	s->values[1] = CStringGetTextDatum(a->code);
	s->types[2] = INT4OID;
	s->values[2] = Int32GetDatum(a->scale);
	MemoryContextSwitchTo(old);
}

void
PersistMarket(BatchWrites *w, const CoreMarket *m, const char *tick,
			  const char *lot, const char *min_notional)
{
	Statement  *s = StatementAdd(w,
								 "INSERT INTO exchange.market (market_id, symbol,"
								 " base_asset_id, quote_asset_id, tick_size, lot_size,"
								 " maker_fee_bps, taker_fee_bps, min_notional)"
								 " VALUES ($1, $2, $3, $4, $5::numeric, $6::numeric,"
								 " $7, $8, $9::numeric)", 9);
	MemoryContext old = MemoryContextSwitchTo(w->cxt);
	Oid			types[9] = {INT4OID, TEXTOID, INT4OID, INT4OID, TEXTOID,
	TEXTOID, INT4OID, INT4OID, TEXTOID};

	memcpy(s->types, types, sizeof(types));
	s->values[0] = Int32GetDatum(m->id);
	s->values[1] = CStringGetTextDatum(m->symbol);
	s->values[2] = Int32GetDatum(CoreGetAsset(Exchange->core, m->base)->id);
	s->values[3] = Int32GetDatum(CoreGetAsset(Exchange->core, m->quote)->id);
	s->values[4] = CStringGetTextDatum(tick);
	s->values[5] = CStringGetTextDatum(lot);
	s->values[6] = Int32GetDatum(m->maker_fee_bps);
	s->values[7] = Int32GetDatum(m->taker_fee_bps);
	s->values[8] = CStringGetTextDatum(min_notional);
	MemoryContextSwitchTo(old);
}

void
PersistHalted(BatchWrites *w, int32 market_id, bool halted)
{
	Statement  *s = StatementAdd(w,
								 "UPDATE exchange.market SET halted = $2 WHERE market_id = $1",
								 2);

	s->types[0] = INT4OID;
	s->values[0] = Int32GetDatum(market_id);
	s->types[1] = BOOLOID;
	s->values[1] = BoolGetDatum(halted);
}

/* Set column col of every collected row to value. */
static void
RowsSetAll(Rows *r, int col, Datum value)
{
	for (int i = 0; i < r->n; i++)
		RowSet(r, i, col, value);
}

/* Write the batch: catalogue first (SQL), then the rows (directly). */
void
PersistFlush(BatchWrites *w, Core *core, TimestampTz now)
{
	ListCell   *lc;
	Datum		ts = TimestampTzGetDatum(now);
	int32		nbal = CoreDirtyCount(core);
	Oid			nsp;
	EState	   *estate;
	MemoryContext old;

	foreach(lc, w->statements)
	{
		Statement  *s = lfirst(lc);
		int			rc = SPI_execute_with_args(s->sql, s->nargs, s->types,
											   s->values, s->nulls, false, 0);

		if (rc < 0)
			elog(ERROR, "exchange catalogue write failed: %s",
				 SPI_result_code_string(rc));
	}
	/* rows written below come after the statements' */
	if (w->statements != NIL)
		CommandCounterIncrement();

	old = MemoryContextSwitchTo(w->cxt);
	if (nbal > 0)
	{
		CoreBalanceRow *rows = palloc(sizeof(CoreBalanceRow) * nbal);

		CoreDirtyBalances(core, rows, nbal);
		for (int i = 0; i < nbal; i++)
		{
			Rows	   *c = rows[i].is_new ? &w->balances : &w->balance_updates;
			int			r = RowsAdd(c, w->cxt);

			RowSet(c, r, 0, Int64GetDatum(rows[i].account));
			RowSet(c, r, 1, Int32GetDatum(CoreGetAsset(core, rows[i].asset)->id));
			RowSet(c, r, 2, Int64GetDatum(rows[i].available));
			RowSet(c, r, 3, Int64GetDatum(rows[i].locked));
		}
	}
	RowsSetAll(&w->accounts, 2, ts);
	RowsSetAll(&w->orders, 16, ts);
	RowsSetAll(&w->orders, 17, ts);
	RowsSetAll(&w->order_updates, 5, ts);
	RowsSetAll(&w->trades, 13, ts);
	RowsSetAll(&w->deposits, 5, ts);
	RowsSetAll(&w->balances, 4, ts);
	RowsSetAll(&w->balance_updates, 4, ts);

	nsp = get_namespace_oid("exchange", false);
	estate = CreateExecutorState();
	estate->es_output_cid = GetCurrentCommandId(true);
	estate->es_snapshot = GetActiveSnapshot();

	RowsInsert(estate, nsp, &w->accounts);
	RowsInsert(estate, nsp, &w->orders);
	RowsUpdate(estate, nsp, &w->order_updates, false);
	RowsInsert(estate, nsp, &w->book_inserts);
	RowsUpdate(estate, nsp, &w->book_deletes, true);
	RowsInsert(estate, nsp, &w->trades);
	RowsInsert(estate, nsp, &w->deposits);
	RowsInsert(estate, nsp, &w->balances);
	RowsUpdate(estate, nsp, &w->balance_updates, false);

	FreeExecutorState(estate);
	MemoryContextSwitchTo(old);
	CommandCounterIncrement();
	CoreClearDirty(core);
}
