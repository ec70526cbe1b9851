/*-------------------------------------------------------------------------
 *
 * vector_arg.c
 *	  Fetching the operands of distance functions: a TOAST pointer that a
 *	  call site passes again and again is fetched once, and one whose value
 *	  an index scan has just read is not fetched at all.
 *
 * In
 *
 *		SELECT id FROM items
 *		ORDER BY embedding <-> (SELECT embedding FROM items WHERE id = 42)
 *		LIMIT 10;
 *
 * the sub-select's value is a TOAST pointer (vectors of more than ~500
 * dimensions are stored out of line), and the executor passes that same
 * pointer to the operator for every row it projects.  Detoasting it each
 * time costs a TOAST index lookup and a heap fetch per row, as much as
 * fetching the row's own vector.  So a distance function keeps, per
 * argument and call site (fn_extra), the last on-disk TOAST pointer it
 * was passed; when the next call passes an equal pointer, the value is
 * fetched once into fn_mcxt and reused until a different pointer comes.
 * A row's own vector, which changes with every call, is detoasted as
 * before, into the caller's (per-tuple) memory: nothing is kept for it but
 * the 16-byte pointer.
 *
 * Equal pointers mean equal values: a TOAST pointer names its toast
 * relation and a value OID that is unique in it among the values whose
 * chunks exist, and stored values are never changed in place.  The OID
 * could only name another value after the first was deleted, vacuumed
 * away and the cluster's OID counter wrapped around, all within the life
 * of one call site (one execution of a statement's expressions); the
 * pointers' raw and stored sizes must match as well.
 *
 * The same holds for the values index scans remember (VecqRememberFetched):
 * an hnsw scan returns a row whose vector it holds (its float4 element, or
 * the vector a quantized scan read from the row to re-rank it), and the
 * executor then computes the ORDER BY distance of that row again, from the
 * row's TOAST pointer.  The scan keeps the pointer and the value in a small
 * direct-mapped table (slot = value OID modulo FETCHED_SLOTS), emptied at
 * the end of every transaction, and the distance function finds it there.
 * A scan remembers only values of rows visible to its snapshot, so that a
 * pointer read at a heap TID that VACUUM has given to another row since the
 * element was read is never paired with the element's vector.
 *
 * src/vector/vector_arg.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/detoast.h"
#include "access/xact.h"
#include "fmgr.h"
#include "utils/memutils.h"

#include "vector/vector.h"

/* the arguments of a call site that may be cached (distances have two) */
#define CACHED_ARGS		2

typedef struct ArgCacheEntry
{
	bool		seen;			/* pointer is the last on-disk pointer passed */
	struct varatt_external pointer;
	struct varlena *value;		/* its value, in fn_mcxt, or NULL */
} ArgCacheEntry;

typedef struct ArgCache
{
	ArgCacheEntry args[CACHED_ARGS];
} ArgCache;

/* values index scans have read for the rows they return */
#define FETCHED_SLOTS	64

typedef struct FetchedValue
{
	struct varatt_external pointer;
	struct varlena *value;		/* in fetched_cxt; NULL: an empty slot */
	Size		space;			/* bytes allocated at value */
} FetchedValue;

static FetchedValue fetched[FETCHED_SLOTS];
static MemoryContext fetched_cxt = NULL;
static bool fetched_any = false;

static void
forget_fetched(XactEvent event, void *arg)
{
	if (!fetched_any)
		return;
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_PREPARE)
	{
		MemoryContextReset(fetched_cxt);
		memset(fetched, 0, sizeof(fetched));
		fetched_any = false;
	}
}

/*
 * Remember that the on-disk TOAST pointer stored (a datum of a visible row,
 * anything else is ignored) stands for value, a detoasted datum of the
 * pointer's raw size; value is copied.
 */
void
VecqRememberFetched(Datum stored, const struct varlena *value)
{
	struct varlena *datum = (struct varlena *) DatumGetPointer(stored);
	struct varatt_external pointer;
	FetchedValue *slot;
	Size		size = VARSIZE_ANY(value);

	if (!VARATT_IS_EXTERNAL_ONDISK(datum) || VARATT_IS_EXTENDED(value))
		return;
	VARATT_EXTERNAL_GET_POINTER(pointer, datum);
	if ((Size) pointer.va_rawsize != size)
		return;
	if (fetched_cxt == NULL)
	{
		fetched_cxt = AllocSetContextCreate(TopMemoryContext, "vecq fetched values",
											ALLOCSET_DEFAULT_SIZES);
		RegisterXactCallback(forget_fetched, NULL);
	}
	slot = &fetched[pointer.va_valueid % FETCHED_SLOTS];
	if (slot->space < size)
	{
		if (slot->value != NULL)
			pfree(slot->value);
		slot->value = MemoryContextAlloc(fetched_cxt, size);
		slot->space = size;
	}
	memcpy(slot->value, value, size);
	slot->pointer = pointer;
	fetched_any = true;
}

/* The remembered value of the on-disk TOAST pointer datum, or NULL. */
static inline struct varlena *
lookup_fetched(const struct varatt_external *pointer)
{
	FetchedValue *slot = &fetched[pointer->va_valueid % FETCHED_SLOTS];

	if (slot->space > 0 && memcmp(&slot->pointer, pointer, sizeof(*pointer)) == 0)
		return slot->value;
	return NULL;
}

struct varlena *
VecqDetoastArg(FunctionCallInfo fcinfo, int argno)
{
	struct varlena *datum = (struct varlena *) DatumGetPointer(PG_GETARG_DATUM(argno));
	struct varatt_external pointer;
	ArgCache   *cache;
	ArgCacheEntry *entry;

	if (!VARATT_IS_EXTERNAL_ONDISK(datum) || fcinfo->flinfo == NULL ||
		argno >= CACHED_ARGS)
		return pg_detoast_datum(datum);

	VARATT_EXTERNAL_GET_POINTER(pointer, datum);
	if (fetched_any)
	{
		struct varlena *value = lookup_fetched(&pointer);

		if (value != NULL)
			return value;
	}
	cache = (ArgCache *) fcinfo->flinfo->fn_extra;
	if (cache == NULL)
	{
		cache = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(ArgCache));
		fcinfo->flinfo->fn_extra = cache;
	}
	entry = &cache->args[argno];

	if (entry->seen && memcmp(&entry->pointer, &pointer, sizeof(pointer)) == 0)
	{
		/* the second call with this pointer: keep its value from now on */
		if (entry->value == NULL)
		{
			MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);

			entry->value = detoast_attr(datum);
			MemoryContextSwitchTo(old);
		}
		return entry->value;
	}

	/* a new pointer: forget the old value, remember the pointer */
	if (entry->value != NULL)
	{
		pfree(entry->value);
		entry->value = NULL;
	}
	entry->pointer = pointer;
	entry->seen = true;
	return pg_detoast_datum(datum);
}
