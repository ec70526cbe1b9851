/*-------------------------------------------------------------------------
 *
 * hnsw_seed.c
 *	  vecq_hnsw_seed(table, chunk) and vecq_hnsw_seed_reset(): a session
 *	  holds neighbour lists made elsewhere (Chroma's hnswlib files, sent by
 *	  vecq-migrate) for one table, and its next HNSW build of that table
 *	  takes them instead of searching for each row's neighbours
 *	  (hnsw_build_seed.c).
 *
 * The seed lives in backend-local memory, for one table at a time: seeding
 * another table drops the first seed.  It is not transactional: a rolled
 * back CREATE INDEX leaves it for the next try; a build that used it drops
 * it.  Only the table's owner may seed it, as only the owner may build its
 * indexes.  Nothing in a seed can corrupt an index: the build gives a row
 * an element only when the element's hash matches the row's vector, and a
 * neighbour that names no element, or one of a lower level, is dropped;
 * a wrong seed costs recall, not correctness.
 *
 * Chunks are checked whole before anything of them is kept, so a bad
 * chunk is refused without changing the seed.
 *
 * src/hnsw/hnsw_seed.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "catalog/pg_class.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "hnsw/hnsw_seed.h"
#include "vector/vector.h"

/* the session's seed, or NULL */
static HnswSeed *session_seed = NULL;

static void
drop_seed(void)
{
	if (session_seed != NULL)
	{
		MemoryContextDelete(session_seed->cxt);
		session_seed = NULL;
	}
}

static HnswSeed *
new_seed(Oid relid)
{
	MemoryContext cxt = AllocSetContextCreate(TopMemoryContext, "hnsw graph seed",
											  ALLOCSET_DEFAULT_SIZES);
	HnswSeed   *seed = MemoryContextAllocZero(cxt, sizeof(HnswSeed));

	seed->relid = relid;
	seed->cxt = cxt;
	seed->maxn = 1024;
	seed->hash = MemoryContextAlloc(cxt, sizeof(uint64) * seed->maxn);
	seed->level = MemoryContextAlloc(cxt, sizeof(uint8) * seed->maxn);
	seed->offset = MemoryContextAlloc(cxt, sizeof(uint64) * seed->maxn);
	seed->maxlinks = 16384;
	seed->links = MemoryContextAlloc(cxt, sizeof(uint32) * seed->maxlinks);
	return seed;
}

PG_FUNCTION_INFO_V1(vecq_hnsw_seed);
Datum
vecq_hnsw_seed(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	bytea	   *chunk = PG_GETARG_BYTEA_PP(1);
	const uint8 *p = (const uint8 *) VARDATA_ANY(chunk);
	Size		len = VARSIZE_ANY_EXHDR(chunk);
	uint64		nelem;
	uint64		nlinks;
	Relation	rel;
	HnswSeed   *seed;
	uint64		maxn;
	char		err[256];

	rel = table_open(relid, AccessShareLock);
	if (rel->rd_rel->relkind != RELKIND_RELATION &&
		rel->rd_rel->relkind != RELKIND_MATVIEW)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a table or materialized view",
						RelationGetRelationName(rel))));
	if (!pg_class_ownercheck(relid, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, get_relkind_objtype(rel->rd_rel->relkind),
					   RelationGetRelationName(rel));
	table_close(rel, AccessShareLock);

	if (graph_seed_check(p, len, &nelem, &nlinks, err, sizeof(err)) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid hnsw graph seed"),
				 errdetail("In the chunk, %s.", err)));
	if (session_seed != NULL && session_seed->relid != relid)
		drop_seed();
	if (session_seed == NULL)
		session_seed = new_seed(relid);
	seed = session_seed;
	if (seed->n + nelem >= SEED_NO_ORDINAL)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("hnsw graph seed is too large"),
				 errdetail("A seed holds at most %u elements.", SEED_NO_ORDINAL - 1)));

	if (seed->n + nelem > seed->maxn)
	{
		maxn = seed->maxn;
		while (maxn < seed->n + nelem)
			maxn *= 2;
		seed->hash = repalloc_huge(seed->hash, sizeof(uint64) * maxn);
		seed->level = repalloc_huge(seed->level, sizeof(uint8) * maxn);
		seed->offset = repalloc_huge(seed->offset, sizeof(uint64) * maxn);
		seed->maxn = (uint32) Min(maxn, (uint64) PG_UINT32_MAX);
	}
	if (seed->nlinks + nlinks > seed->maxlinks)
	{
		uint64		room = seed->maxlinks;

		while (room < seed->nlinks + nlinks)
			room *= 2;
		if (room * sizeof(uint32) > MaxAllocHugeSize)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("hnsw graph seed is too large")));
		seed->links = repalloc_huge(seed->links, sizeof(uint32) * room);
		seed->maxlinks = room;
	}
	graph_seed_decode(p, len, seed->hash + seed->n, seed->level + seed->n,
					  seed->offset + seed->n, seed->nlinks, seed->links + seed->nlinks);
	seed->n += (uint32) nelem;
	seed->nlinks += nlinks;

	PG_RETURN_INT64((int64) seed->n);
}

/* The hash a seed element names its row's vector by (graph_seed.h). */
PG_FUNCTION_INFO_V1(vecq_hnsw_seed_hash);
Datum
vecq_hnsw_seed_hash(PG_FUNCTION_ARGS)
{
	Vector	   *v = PG_GETARG_VECTOR_P(0);

	PG_RETURN_INT64((int64) graph_seed_vector_hash(v->x, v->dim));
}

PG_FUNCTION_INFO_V1(vecq_hnsw_seed_reset);
Datum
vecq_hnsw_seed_reset(PG_FUNCTION_ARGS)
{
	drop_seed();
	PG_RETURN_VOID();
}

/* The session's seed of relid, or NULL. */
HnswSeed *
HnswSeedFor(Oid relid)
{
	if (session_seed != NULL && session_seed->relid == relid && session_seed->n > 0)
		return session_seed;
	return NULL;
}

/* Index the seed by hash, for HnswSeedClaim. */
void
HnswSeedPrepare(HnswSeed *seed)
{
	HASHCTL		ctl;
	MemoryContext old = MemoryContextSwitchTo(seed->cxt);

	if (seed->byhash != NULL)
		hash_destroy(seed->byhash);
	ctl.keysize = sizeof(uint64);
	ctl.entrysize = sizeof(uint64) + sizeof(uint32);
	ctl.hcxt = seed->cxt;
	seed->byhash = hash_create("hnsw graph seed hashes", Max(seed->n, 16), &ctl,
							   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	if (seed->next == NULL)
	{
		seed->next = MemoryContextAllocHuge(seed->cxt, sizeof(uint32) * (Size) seed->n);
		seed->claimed = MemoryContextAllocHuge(seed->cxt, sizeof(bool) * (Size) seed->n);
	}
	else
	{
		seed->next = repalloc_huge(seed->next, sizeof(uint32) * (Size) seed->n);
		seed->claimed = repalloc_huge(seed->claimed, sizeof(bool) * (Size) seed->n);
	}
	memset(seed->claimed, 0, sizeof(bool) * (Size) seed->n);

	/* chains in ordinal order: rows with equal vectors take them in turn */
	for (uint32 o = seed->n; o-- > 0;)
	{
		bool		found;
		char	   *entry;

		if (seed->level[o] == GRAPH_SEED_NO_ROW)
		{
			seed->next[o] = SEED_NO_ORDINAL;
			continue;
		}
		entry = hash_search(seed->byhash, &seed->hash[o], HASH_ENTER, &found);
		seed->next[o] = found ? *(uint32 *) (entry + sizeof(uint64)) : SEED_NO_ORDINAL;
		*(uint32 *) (entry + sizeof(uint64)) = o;
	}
	MemoryContextSwitchTo(old);
}

/* The first unclaimed element of this hash, now claimed; or SEED_NO_ORDINAL. */
uint32
HnswSeedClaim(HnswSeed *seed, uint64 hash)
{
	char	   *entry = hash_search(seed->byhash, &hash, HASH_FIND, NULL);
	uint32		o;

	if (entry == NULL)
		return SEED_NO_ORDINAL;
	for (o = *(uint32 *) (entry + sizeof(uint64)); o != SEED_NO_ORDINAL; o = seed->next[o])
		if (!seed->claimed[o])
		{
			seed->claimed[o] = true;
			return o;
		}
	return SEED_NO_ORDINAL;
}

/* Element ordinal's level-lc list (lc at most its level). */
const uint32 *
HnswSeedList(const HnswSeed *seed, uint32 ordinal, int lc, int *count)
{
	const uint32 *p = seed->links + seed->offset[ordinal];

	Assert(seed->level[ordinal] != GRAPH_SEED_NO_ROW && lc <= seed->level[ordinal]);
	for (int l = 0; l < lc; l++)
		p += 1 + p[0];
	*count = (int) p[0];
	return p + 1;
}

/* Drop the seed of relid, after a build used it. */
void
HnswSeedForget(Oid relid)
{
	if (session_seed != NULL && session_seed->relid == relid)
		drop_seed();
}
