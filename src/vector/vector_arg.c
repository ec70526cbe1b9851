/*-------------------------------------------------------------------------
 *
 * vector_arg.c
 *	  Fetching the operands of distance functions: a TOAST pointer that a
 *	  call site passes again and again is fetched once.
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
 * src/vector/vector_arg.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/detoast.h"
#include "fmgr.h"

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
