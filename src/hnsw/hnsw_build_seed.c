/*-------------------------------------------------------------------------
 *
 * hnsw_build_seed.c
 *	  A seeded HNSW build: the rows take their neighbour lists from the
 *	  session's graph seed (hnsw_seed.c) instead of searching for them.
 *
 * The build is serial.  The heap scan gives each row the first unclaimed
 * seed element whose hash is the hash of the row's vector, and puts the
 * row in the arena at that element's level, with no lists yet.  Rows no
 * element matches (vectors changed since the seed was made, rows added)
 * are kept aside.  Then each seeded element's lists are translated from
 * seed ordinals to arena elements: a neighbour that has no row here, is
 * the element itself, is listed twice or lacks the level is dropped, and a
 * list longer than the index's m allows is cut down by the same selection
 * heuristic the search-based build uses.  The highest-level element is the
 * entry point.  The kept rows are then inserted by the ordinary in-memory
 * insert (a search over the seeded graph), and the build goes on as
 * any other: reachability repair, then the pages.
 *
 * Linking costs a distance computation only for lists that are too long,
 * so the build's time is the heap scan and writing the pages: for a seed
 * made by hnswlib with the index's m (Chroma's files), that is a small
 * part of what searching would take.
 *
 * src/hnsw/hnsw_build_seed.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"

#include "hnsw/hnsw_build.h"
#include "hnsw/hnsw_seed.h"

/* Ready bs for a seeded scan. */
void
HnswSeedBuildBegin(HnswBuildState *bs, HnswSeed *seed)
{
	TupleDesc	desc;
	MemoryContext old;

	HnswSeedPrepare(seed);
	bs->seed = seed;
	bs->seedrefs = MemoryContextAllocHuge(bs->buildcxt, sizeof(ElemRef) * (Size) seed->n);
	for (uint32 o = 0; o < seed->n; o++)
		bs->seedrefs[o] = NO_ELEM;
	old = MemoryContextSwitchTo(bs->buildcxt);
	desc = CreateTemplateTupleDesc(3);
	TupleDescInitEntry(desc, 1, "tid", TIDOID, -1, 0);
	TupleDescInitEntry(desc, 2, "vec", BYTEAOID, -1, 0);
	TupleDescInitEntry(desc, 3, "key", INT8OID, -1, 0);
	bs->pending = tuplestore_begin_heap(false, false, work_mem);
	/* the pending rows' descriptor is the spilled rows' */
	if (bs->spilldesc == NULL)
		bs->spilldesc = desc;
	MemoryContextSwitchTo(old);
}

/* A row of the seeded scan (x as stored, filterkey its key's hash). */
void
HnswSeedScanRow(HnswBuildState *bs, ItemPointer tid, const float *x, uint32 filterkey)
{
	HnswSeed   *seed = bs->seed;
	int			dim = bs->info->dimensions;
	uint32		o = HnswSeedClaim(seed, graph_seed_vector_hash(x, dim));

	if (o == SEED_NO_ORDINAL)
	{
		Datum		values[3];
		bool		nulls[3] = {false, false, false};
		bytea	   *copy = palloc(VARHDRSZ + sizeof(float) * dim);
		MemoryContext old;

		SET_VARSIZE(copy, VARHDRSZ + sizeof(float) * dim);
		memcpy(VARDATA(copy), x, sizeof(float) * dim);
		values[0] = PointerGetDatum(tid);
		values[1] = PointerGetDatum(copy);
		values[2] = Int64GetDatum((int64) filterkey);
		old = MemoryContextSwitchTo(bs->buildcxt);
		tuplestore_putvalues(bs->pending, bs->spilldesc, values, nulls);
		MemoryContextSwitchTo(old);
		return;
	}
	/* levels above what this m's pages hold are dropped, lists and all */
	bs->seedrefs[o] = HnswBuildAddRow(bs, tid, x, filterkey,
									  Min(seed->level[o], HnswMaxLevel(bs->info->m)),
									  false);
	if (bs->seedrefs[o] != NO_ELEM)
		bs->nseeded++;
}

/* Element ref (seed element o) gets its level-lc list from the seed. */
static void
link_level(HnswBuildState *bs, uint32 o, ElemRef ref, int lc, BuildCand *cand)
{
	HnswSeed   *seed = bs->seed;
	BuildElem  *e = elem(bs, ref);
	int			cap = HNSW_LEVEL_SLOTS(lc, bs->info->m);
	ElemRef    *ids = elem_ids(bs, e) + HNSW_LEVEL_FIRST_SLOT(lc, bs->info->m);
	int			count;
	const uint32 *list = HnswSeedList(seed, o, lc, &count);
	int			n = 0;

	for (int i = 0; i < count; i++)
	{
		ElemRef		r;
		bool		dup = false;

		if (list[i] >= seed->n || (r = bs->seedrefs[list[i]]) == NO_ELEM ||
			r == ref || elem(bs, r)->level < lc)
			continue;
		for (int j = 0; j < n && !dup; j++)
			dup = cand[j].ref == r;
		if (!dup)
			cand[n++].ref = r;
	}
	if (n > cap)
	{
		HnswQuerySetData(&bs->pquery, elem_data(bs, e));
		for (int i = 0; i < n; i++)
			cand[i].dist = dist_to(&bs->pquery, bs, elem(bs, cand[i].ref));
		qsort(cand, n, sizeof(BuildCand), HnswBuildCandCmp);
		n = HnswBuildSelectNeighbors(bs, cand, n, cap);
	}
	for (int i = 0; i < n; i++)
		ids[i] = cand[i].ref;
	e->counts[lc] = n;
}

/*
 * After the seeded scan: give the seeded elements their lists, choose the
 * entry point, then insert the rows no element matched.
 */
void
HnswSeedLink(HnswBuildState *bs)
{
	HnswSeed   *seed = bs->seed;
	HnswShared *shared = bs->shared;
	BuildCand  *cand = palloc(sizeof(BuildCand) * GRAPH_SEED_MAX_LINKS);
	ElemRef		entry = NO_ELEM;
	int			maxlevel = -1;
	TupleTableSlot *slot;
	double		npending = 0;
	double		indexed = bs->indtuples;
	double		spilled = bs->spilled;

	for (uint32 o = 0; o < seed->n; o++)
	{
		ElemRef		ref = bs->seedrefs[o];
		BuildElem  *e;

		if (ref == NO_ELEM)
			continue;
		if ((o & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
		e = elem(bs, ref);
		for (int lc = 0; lc <= e->level; lc++)
			link_level(bs, o, ref, lc, cand);
		if (e->level > maxlevel)
		{
			maxlevel = e->level;
			entry = ref;
		}
	}
	pfree(cand);
	if (entry != NO_ELEM)
	{
		shared->entry = entry;
		shared->maxlevel = maxlevel;
	}

	/* the rows the seed did not know: searched for, as in any build */
	slot = MakeSingleTupleTableSlot(bs->spilldesc, &TTSOpsMinimalTuple);
	while (tuplestore_gettupleslot(bs->pending, true, false, slot))
	{
		bool		isnull;
		ItemPointerData tid = *(ItemPointer) DatumGetPointer(slot_getattr(slot, 1, &isnull));
		bytea	   *vec = DatumGetByteaPP(slot_getattr(slot, 2, &isnull));
		uint32		filterkey = (uint32) DatumGetInt64(slot_getattr(slot, 3, &isnull));

		MemoryContext old;

		CHECK_FOR_INTERRUPTS();
		old = MemoryContextSwitchTo(bs->tmpcxt);
		(void) HnswBuildAddRow(bs, &tid, (const float *) VARDATA_ANY(vec), filterkey, -1, true);
		MemoryContextSwitchTo(old);
		MemoryContextReset(bs->tmpcxt);
		npending++;
	}
	ExecDropSingleTupleTableSlot(slot);
	tuplestore_end(bs->pending);
	bs->pending = NULL;
	/* the scan has counted its rows in shared already: add these */
	shared->indtuples += bs->indtuples - indexed;
	shared->nspilled += bs->spilled - spilled;
	ereport(DEBUG1,
			(errmsg_internal("hnsw build of \"%s\": %.0f rows took their lists from the graph seed of %u elements, %.0f were searched for",
							 RelationGetRelationName(bs->index), bs->nseeded,
							 seed->n, npending)));
}
