/*-------------------------------------------------------------------------
 *
 * hnsw_build.c
 *	  CREATE INDEX for HNSW: the graph is built in memory, by the leader and
 *	  parallel workers together, then its pages are written in one pass.
 *
 * The graph lives in an arena of maintenance_work_mem bytes: in dynamic
 * shared memory for a parallel build, in local memory otherwise.  Each
 * element is one record in the arena (header, neighbour lists as arena
 * offsets with their distances, the vector), addressed by its offset, so
 * the same code runs in every process.  A record's neighbour lists are
 * guarded by its own LWLock; the entry point by one more.  The search
 * touches no buffer, makes no allocation per candidate and calls the
 * distance kernels directly.  Each process scans its share of the heap
 * (table_index_build_scan over a parallel table scan) and inserts what it
 * reads.
 *
 * When the table's estimated size says the graph will not fit, a float4
 * or halfvec build may be partitioned instead (hnsw_build_part.c; README:
 * Build): k-means on a sample gives cells, packed into partitions of equal
 * weight; the scan writes each row to a temporary file of the partition
 * of its nearest cell, and to the next partition as well when that is
 * nearly as close, so that neighbouring partitions share rows; the few
 * rows of level two and up go into every partition, and rows of level one
 * and up to one more file as well.  Then the partitions are built one
 * after the other in the same arena, by all participants, and each is
 * written to pages before the next is loaded; a row's second copy only
 * contributes its neighbour list, which is merged into the first copy's
 * at the end.  The upper levels are built last, from their own file, as
 * one graph.
 *
 * Rows that still find no room (the arena full, or every partition full)
 * are kept in a per-process tuplestore (which spills to a temporary file);
 * once the leader has written the graph to pages, every process inserts
 * its kept rows with the ordinary, WAL-logged insert path.  The build
 * never fails for lack of memory, but such rows are inserted at the
 * (slower) on-disk rate.
 *
 * Pages are written without WAL: a first pass places every element tuple
 * and neighbour tuple (giving each element its item pointer), a second
 * writes the pages with neighbour lists translated to item pointers; then
 * log_newpage_range() logs them all.
 *
 * src/hnsw/hnsw_build.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>


#include "access/generic_xlog.h"
#include "access/parallel.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "access/xloginsert.h"
#include "catalog/index.h"
#include "commands/progress.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "optimizer/optimizer.h"
#include "optimizer/paths.h"
#include "pgstat.h"
#include "storage/buffile.h"
#include "storage/bufmgr.h"
#include "storage/condition_variable.h"
#include "storage/dsm.h"
#include "storage/lwlock.h"
#include "storage/sharedfileset.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/float.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/tuplestore.h"

#include "common/distance.h"
#include "hnsw/hnsw.h"
#include "vector/vector.h"

#include "hnsw/hnsw_build.h"
#include "hnsw/hnsw_seed.h"

#define PROGRESS_HNSW_PHASE_LOAD	2
#define PROGRESS_HNSW_PHASE_WRITE	3
#define PROGRESS_HNSW_PHASE_SAMPLE	4

#define PARALLEL_KEY_HNSW_SHARED	UINT64CONST(0xB5E0000000000001)
#define PARALLEL_KEY_HNSW_ARENA		UINT64CONST(0xB5E0000000000002)
#define PARALLEL_KEY_QUERY_TEXT		UINT64CONST(0xB5E0000000000003)
#define PARALLEL_KEY_HNSW_QUANT		UINT64CONST(0xB5E0000000000004)
#define PARALLEL_KEY_HNSW_CELLS		UINT64CONST(0xB5E0000000000005)
#define PARALLEL_KEY_HNSW_REFS		UINT64CONST(0xB5E0000000000006)

PGDLLEXPORT void hnsw_parallel_build_main(dsm_segment *seg, shm_toc *toc);

/* Claim a record for an element of this level; NULL when the arena is full. */
BuildElem *
HnswBuildArenaAlloc(HnswBuildState *bs, int level, ElemRef *ref)
{
	HnswShared *shared = bs->shared;
	Size		size = elem_size(shared, level);
	Size		off = 0;
	uint32		ordinal = 0;
	bool		ok;
	BuildElem  *e;

	SpinLockAcquire(&shared->mutex);
	ok = !shared->full && shared->used + size <= shared->arena_size &&
		(shared->used + size) / ARENA_UNIT < NO_ELEM;
	if (ok)
	{
		off = shared->used;
		shared->used += size;
		ordinal = shared->nelements++;
	}
	else
		shared->full = true;
	SpinLockRelease(&shared->mutex);
	if (!ok)
		return NULL;

	e = (BuildElem *) (bs->arena + off);
	LWLockInitialize(&e->lock, shared->tranche);
	e->level = (uint8) level;
	e->clamped = false;
	e->ordinal = ordinal;
	e->filterkey = 0;
	e->gid = 0;
	e->other = PART_NONE;
	e->primary = true;
	memset(e->counts, 0, sizeof(e->counts));
	ItemPointerSetInvalid(&e->tid);
	ItemPointerSetInvalid(&e->neighbortid);
	e->overflow_first = InvalidBlockNumber;
	*ref = (ElemRef) (off / ARENA_UNIT);
	return e;
}

/* Copy the level-lc list of e (under its lock); returns the count. */
static int
copy_list(HnswBuildState *bs, BuildElem *e, int lc, ElemRef *out)
{
	int			first = HNSW_LEVEL_FIRST_SLOT(lc, bs->info->m);
	int			n;

	LWLockAcquire(&e->lock, LW_SHARED);
	n = e->counts[lc];
	memcpy(out, elem_ids(bs, e) + first, sizeof(ElemRef) * n);
	LWLockRelease(&e->lock);
	return n;
}

/* binary heaps of BuildCand: min (candidates) and max (results) */
static void
cand_push(BuildCand *h, int *n, BuildCand c, bool max)
{
	int			pos = (*n)++;

	while (pos > 0)
	{
		int			parent = (pos - 1) / 2;

		if (max ? h[parent].dist >= c.dist : h[parent].dist <= c.dist)
			break;
		h[pos] = h[parent];
		pos = parent;
	}
	h[pos] = c;
}

static BuildCand
cand_pop(BuildCand *h, int *n, bool max)
{
	BuildCand	result = h[0];
	BuildCand	last = h[--(*n)];
	int			pos = 0;

	for (;;)
	{
		int			child = 2 * pos + 1;

		if (child >= *n)
			break;
		if (child + 1 < *n &&
			(max ? h[child + 1].dist > h[child].dist : h[child + 1].dist < h[child].dist))
			child++;
		if (max ? h[child].dist <= last.dist : h[child].dist >= last.dist)
			break;
		h[pos] = h[child];
		pos = child;
	}
	if (*n > 0)
		h[pos] = last;
	return result;
}

static void
ensure_heaps(HnswBuildState *bs, int need)
{
	if (need > bs->maxheap)
	{
		while (bs->maxheap < need)
			bs->maxheap *= 2;
		bs->cand = repalloc(bs->cand, sizeof(BuildCand) * bs->maxheap);
		bs->top = repalloc(bs->top, sizeof(BuildCand) * bs->maxheap);
	}
}

/* true if e was not yet visited in this search (and marks it) */
static inline bool
visit(HnswBuildState *bs, BuildElem *e)
{
	if (e->ordinal >= bs->maxvisited)
	{
		uint32		newmax = Max(bs->maxvisited * 2, e->ordinal + 1024);

		bs->visited = repalloc_huge(bs->visited, sizeof(uint32) * (Size) newmax);
		memset(bs->visited + bs->maxvisited, 0,
			   sizeof(uint32) * (Size) (newmax - bs->maxvisited));
		bs->maxvisited = newmax;
	}
	if (bs->visited[e->ordinal] == bs->stamp)
		return false;
	bs->visited[e->ordinal] = bs->stamp;
	return true;
}

/*
 * Layer search (algorithm 2 of the paper) from the entries in top[0..nent),
 * with ef; leaves the result in top[] as a max-heap and returns its size.
 */
static int
search_layer(HnswBuildState *bs, const HnswQuery *q, int nent, int ef, int lc)
{
	int			ncand = 0;
	int			ntop = 0;
	BuildCand  *entries = palloc(sizeof(BuildCand) * Max(nent, 1));
	ElemRef		nbrs[2 * HNSW_MAX_M];

	memcpy(entries, bs->top, sizeof(BuildCand) * nent);
	if (++bs->stamp == 0)
	{
		memset(bs->visited, 0, sizeof(uint32) * (Size) bs->maxvisited);
		bs->stamp = 1;
	}
	for (int i = 0; i < nent; i++)
	{
		(void) visit(bs, elem(bs, entries[i].ref));
		cand_push(bs->cand, &ncand, entries[i], false);
		cand_push(bs->top, &ntop, entries[i], true);
		if (ntop > ef)
			(void) cand_pop(bs->top, &ntop, true);
	}
	pfree(entries);

	while (ncand > 0)
	{
		BuildCand	c = cand_pop(bs->cand, &ncand, false);
		int			n;

		if (ntop >= ef && c.dist > bs->top[0].dist)
			break;
		n = copy_list(bs, elem(bs, c.ref), lc, nbrs);
		for (int i = 0; i < n; i++)
		{
			BuildElem  *e = elem(bs, nbrs[i]);
			BuildCand	nc;

			/*
			 * The element being inserted can be reached through links other
			 * processes made to it on the levels above: never its own
			 * neighbour.
			 */
			if (nbrs[i] == bs->self || !visit(bs, e))
				continue;
			nc.dist = dist_to(q, bs, e);
			nc.ref = nbrs[i];
			if (ntop < ef || nc.dist < bs->top[0].dist)
			{
				ensure_heaps(bs, Max(ncand, ntop) + 2);
				cand_push(bs->cand, &ncand, nc, false);
				cand_push(bs->top, &ntop, nc, true);
				if (ntop > ef)
					(void) cand_pop(bs->top, &ntop, true);
			}
		}
	}
	return ntop;
}

/* Sort BuildCands ascending by distance (ties by address, for determinism). */
int
HnswBuildCandCmp(const void *a, const void *b)
{
	const BuildCand *x = a,
			   *y = b;

	if (x->dist != y->dist)
		return x->dist < y->dist ? -1 : 1;
	return (x->ref > y->ref) - (x->ref < y->ref);
}

/*
 * The selection heuristic on sorted candidates c[0..n) of a base element:
 * keep each candidate closer to the base than to any kept before, then fill
 * up with the nearest of the others (the paper's keepPrunedConnections),
 * at most max in all.  Compacts the chosen ones to the front of c; returns
 * how many.
 */
int
HnswBuildSelectNeighbors(HnswBuildState *bs, BuildCand *c, int n, int max)
{
	int			kept = 0;
	int			npruned = 0;
	BuildCand  *pruned = palloc(sizeof(BuildCand) * Max(n, 1));

	for (int i = 0; i < n && kept < max; i++)
	{
		bool		good = true;

		if (kept > 0)
			HnswQuerySetData(&bs->nquery, elem_data(bs, elem(bs, c[i].ref)));
		for (int j = 0; j < kept; j++)
			if (dist_to(&bs->nquery, bs, elem(bs, c[j].ref)) < c[i].dist)
			{
				good = false;
				break;
			}
		if (good)
			c[kept++] = c[i];
		else
			pruned[npruned++] = c[i];
	}
	for (int i = 0; i < npruned && kept < max; i++)
		c[kept++] = pruned[i];
	pfree(pruned);
	return kept;
}

/* Add newref as a neighbour of e at level lc, pruning e's list if full. */
static void
add_link(HnswBuildState *bs, ElemRef eref, ElemRef newref, float dist, int lc)
{
	BuildElem  *e = elem(bs, eref);
	int			first = HNSW_LEVEL_FIRST_SLOT(lc, bs->info->m);
	int			cap = HNSW_LEVEL_SLOTS(lc, bs->info->m);
	ElemRef    *ids;
	int			n;

	LWLockAcquire(&e->lock, LW_EXCLUSIVE);
	ids = elem_ids(bs, e) + first;
	n = e->counts[lc];
	for (int i = 0; i < n; i++)
	{
		if (ids[i] == newref)
		{
			/* linked already (by newref's own list, set concurrently) */
			LWLockRelease(&e->lock);
			return;
		}
	}
	if (n < cap)
	{
		ids[n] = newref;
		e->counts[lc] = n + 1;
	}
	else
	{
		BuildCand  *c = palloc(sizeof(BuildCand) * (cap + 1));
		int			kept;

		/* distances are not kept in the arena (memory): computed again */
		HnswQuerySetData(&bs->pquery, elem_data(bs, e));
		for (int i = 0; i < cap; i++)
		{
			c[i].ref = ids[i];
			c[i].dist = dist_to(&bs->pquery, bs, elem(bs, ids[i]));
		}
		c[cap].ref = newref;
		c[cap].dist = dist;
		qsort(c, cap + 1, sizeof(BuildCand), HnswBuildCandCmp);
		kept = HnswBuildSelectNeighbors(bs, c, cap + 1, cap);
		for (int i = 0; i < kept; i++)
			ids[i] = c[i].ref;
		e->counts[lc] = kept;
		pfree(c);
	}
	LWLockRelease(&e->lock);
}

/*
 * Insert element ref (data stored, lists empty) into the graph; bs->query
 * holds its vector (the full vector, even when the arena holds codes).
 */
void
HnswBuildInsert(HnswBuildState *bs, ElemRef ref)
{
	HnswShared *shared = bs->shared;
	BuildElem  *self = elem(bs, ref);
	const HnswQuery *q = &bs->query;
	int			level = self->level;
	ElemRef		entry;
	int			maxlevel;
	bool		exclusive = false;
	int			nent;

	bs->self = ref;
	LWLockAcquire(&shared->entrylock, LW_SHARED);
	entry = shared->entry;
	maxlevel = shared->maxlevel;
	LWLockRelease(&shared->entrylock);
	if (level > maxlevel)
	{
		/* may become the entry point: keep others from racing for it */
		LWLockAcquire(&shared->entrylock, LW_EXCLUSIVE);
		exclusive = true;
		entry = shared->entry;
		maxlevel = shared->maxlevel;
		if (entry == NO_ELEM)
		{
			shared->entry = ref;
			shared->maxlevel = level;
			LWLockRelease(&shared->entrylock);
			return;
		}
	}

	/* greedy descent through the levels above the new element's */
	bs->top[0].ref = entry;
	bs->top[0].dist = dist_to(q, bs, elem(bs, entry));
	nent = 1;
	for (int lc = maxlevel; lc > level; lc--)
		nent = search_layer(bs, q, nent, 1, lc);

	for (int lc = Min(level, maxlevel); lc >= 0; lc--)
	{
		int			ntop = search_layer(bs, q, nent, bs->info->ef_construction, lc);
		int			first = HNSW_LEVEL_FIRST_SLOT(lc, bs->info->m);
		BuildCand  *sorted = palloc(sizeof(BuildCand) * ntop);
		int			kept;

		memcpy(sorted, bs->top, sizeof(BuildCand) * ntop);
		qsort(sorted, ntop, sizeof(BuildCand), HnswBuildCandCmp);

		/*
		 * A new element takes m neighbours on every level; level-0 lists
		 * grow to 2m through the links of later elements.  (Starting them
		 * full would make every later link prune the list: half the build
		 * time, for no recall we could measure.)
		 */
		kept = HnswBuildSelectNeighbors(bs, sorted, ntop, bs->info->m);
		LWLockAcquire(&self->lock, LW_EXCLUSIVE);
		for (int i = 0; i < kept; i++)
			elem_ids(bs, self)[first + i] = sorted[i].ref;
		self->counts[lc] = kept;
		LWLockRelease(&self->lock);
		for (int i = 0; i < kept; i++)
			add_link(bs, sorted[i].ref, ref, sorted[i].dist, lc);
		pfree(sorted);
		/* the whole result is the entry set of the next level down */
		nent = ntop;
	}

	if (exclusive)
	{
		if (level > shared->maxlevel)
		{
			shared->entry = ref;
			shared->maxlevel = level;
		}
		LWLockRelease(&shared->entrylock);
	}
}

/* ---------------- heap scan ---------------- */

/* Keep a row that found the arena full, for the on-disk insert later. */
void
HnswBuildSpillRow(HnswBuildState *bs, ItemPointer tid, Datum value, uint32 filterkey)
{
	Datum		values[3];
	bool		nulls[3] = {false, false, false};
	MemoryContext old = MemoryContextSwitchTo(bs->buildcxt);

	if (bs->spill == NULL)
	{
		bs->spilldesc = CreateTemplateTupleDesc(3);
		TupleDescInitEntry(bs->spilldesc, 1, "tid", TIDOID, -1, 0);
		TupleDescInitEntry(bs->spilldesc, 2, "vec", BYTEAOID, -1, 0);
		TupleDescInitEntry(bs->spilldesc, 3, "key", INT8OID, -1, 0);
		bs->spill = tuplestore_begin_heap(false, false, work_mem);
	}
	values[0] = PointerGetDatum(tid);
	values[1] = value;
	values[2] = Int64GetDatum((int64) filterkey);
	tuplestore_putvalues(bs->spill, bs->spilldesc, values, nulls);
	MemoryContextSwitchTo(old);
	bs->spilled++;
}

/*
 * Put a row in the arena, at this level (a random one when level < 0), and
 * link it into the graph when link.  Its element, or NO_ELEM when the row
 * was kept for later (arena full) or is not indexed (a zero vector under
 * cosine).
 */
ElemRef
HnswBuildAddRow(HnswBuildState *bs, ItemPointer tid, const float *x,
				uint32 filterkey, int level, bool link)
{
	const HnswIndexInfo *info = bs->info;
	BuildElem  *e;
	ElemRef		ref;

	if (level < 0)
		level = HnswRandomLevel(info->m, &bs->prng);
	e = HnswBuildArenaAlloc(bs, level, &ref);
	if (e == NULL)
	{
		/* prepared in a copy: x may point into a shared buffer */
		bytea	   *copy = palloc(VARHDRSZ + HnswVectorSize(info));

		SET_VARSIZE(copy, VARHDRSZ + HnswVectorSize(info));
		/* a zero vector under cosine is not indexed either way */
		if (HnswPrepareVector(info->metric, x, (float *) VARDATA(copy), info->dimensions))
			HnswBuildSpillRow(bs, tid, PointerGetDatum(copy), filterkey);
		return NO_ELEM;
	}
	e->heaptid = *tid;
	e->filterkey = filterkey;
	e->overflow = !HnswElementDataInline(bs->iinfo, level);
	if (!HnswPrepareVector(info->metric, x, bs->vecbuf, info->dimensions))
	{
		/* unlinked: marked so that the writer skips it */
		ItemPointerSetInvalid(&e->heaptid);
		return NO_ELEM;
	}
	e->clamped = HnswEncodeData(info, bs->vecbuf, elem_data(bs, e));
	if (link)
	{
		HnswQuerySet(&bs->query, bs->vecbuf);
		HnswBuildInsert(bs, ref);
	}
	bs->indtuples++;
	return ref;
}

static void
build_callback(Relation index, ItemPointer tid, Datum *values,
			   bool *isnull, bool tupleIsAlive, void *state)
{
	HnswBuildState *bs = (HnswBuildState *) state;
	const HnswIndexInfo *info = bs->info;
	MemoryContext old;
	const float *x;
	uint32		filterkey;

	if (isnull[0])
		return;
	old = MemoryContextSwitchTo(bs->tmpcxt);
	x = HnswDatumData(info, values[0]);
	filterkey = info->haskey ? HnswKeyHash(index, values[1], isnull[1]) : 0;

	if (bs->shared->partitioned)
		HnswPartScanRow(bs, tid, x, filterkey);
	else if (bs->seed != NULL)
		HnswSeedScanRow(bs, tid, x, filterkey);
	else
		(void) HnswBuildAddRow(bs, tid, x, filterkey, -1, true);
	MemoryContextSwitchTo(old);
	MemoryContextReset(bs->tmpcxt);

	if (bs->leader && ((int64) (bs->indtuples + bs->spilled) % 1000) == 0)
	{
		uint32		n;

		SpinLockAcquire(&bs->shared->mutex);
		n = bs->shared->partitioned ? pg_atomic_read_u32(&bs->shared->next_gid) :
			bs->shared->nelements;
		SpinLockRelease(&bs->shared->mutex);
		pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, n);
	}
}

static void
init_participant(HnswBuildState *bs, Relation heap, Relation index,
				 HnswShared *shared, char *arena, const char *quantparams, bool leader)
{
	const float *quant = (const float *) quantparams;

	memset(bs, 0, sizeof(*bs));
	bs->heap = heap;
	bs->index = index;
	bs->shared = shared;
	bs->arena = arena;
	bs->localinfo = shared->info;
	bs->localinfo.format = shared->arena_format;
	bs->localinfo.sq8 = NULL;
	bs->localinfo.bit = NULL;
	bs->localinfo.rbit = NULL;
	if (shared->arena_format == HNSW_FORMAT_SQ8)
	{
		QuantSq8FromParams(&bs->sq8, shared->info.dimensions, quant,
						   quant + shared->info.dimensions);
		bs->localinfo.sq8 = &bs->sq8;
	}
	else if (shared->arena_format == HNSW_FORMAT_BIT)
	{
		QuantBitFromParams(&bs->bit, shared->info.dimensions, quant,
						   quant + shared->info.dimensions);
		bs->localinfo.bit = &bs->bit;
	}
	else if (shared->arena_format == HNSW_FORMAT_RBIT)
	{
		QuantRbitFromParams(&bs->rbit, shared->info.dimensions, quantparams);
		bs->localinfo.rbit = &bs->rbit;
	}
	bs->info = &bs->localinfo;
	bs->indexinfo = shared->info;
	bs->indexinfo.sq8 = shared->info.format == HNSW_FORMAT_SQ8 ? &bs->sq8 : NULL;
	bs->indexinfo.bit = shared->info.format == HNSW_FORMAT_BIT ? &bs->bit : NULL;
	bs->indexinfo.rbit = shared->info.format == HNSW_FORMAT_RBIT ? &bs->rbit : NULL;
	bs->iinfo = &bs->indexinfo;
	bs->vecbuf = palloc(HnswVectorSize(bs->info));
	bs->databuf = palloc(MAXALIGN(shared->datasize));
	bs->pnum = leader ? 0 : ParallelWorkerNumber + 1;
	HnswQueryInit(&bs->query, bs->info);
	HnswQueryInit(&bs->nquery, bs->info);
	HnswQueryInit(&bs->pquery, bs->info);
	bs->leader = leader;
	bs->buildcxt = CurrentMemoryContext;
	bs->tmpcxt = AllocSetContextCreate(CurrentMemoryContext, "hnsw build tuple",
									   ALLOCSET_DEFAULT_SIZES);
	bs->maxvisited = 1024;
	bs->visited = palloc0(sizeof(uint32) * bs->maxvisited);
	bs->maxheap = 1024;
	bs->cand = palloc(sizeof(BuildCand) * bs->maxheap);
	bs->top = palloc(sizeof(BuildCand) * bs->maxheap);
	/* a fixed seed per participant: a serial build is reproducible */
	pg_prng_seed(&bs->prng, UINT64CONST(0x5eed0f9a4a1b7c3d) ^ (uint64) MyProcPid * (leader ? 0 : 1));
	LWLockRegisterTranche(shared->tranche, "hnsw_build");
}

/* Scan this participant's share of the heap (all of it when serial). */
static void
participate(HnswBuildState *bs, IndexInfo *indexInfo, TableScanDesc scan)
{
	HnswShared *shared = bs->shared;
	double		reltuples;

	bs->indexInfo = indexInfo;
	reltuples = table_index_build_scan(bs->heap, bs->index, indexInfo, true,
									   bs->leader, build_callback, bs, scan);
	if (shared->partitioned)
		HnswPartCloseFiles(bs);
	SpinLockAcquire(&shared->mutex);
	shared->reltuples += reltuples;
	shared->indtuples += bs->indtuples;
	shared->nspilled += bs->spilled;
	shared->nparticipantsdone++;
	SpinLockRelease(&shared->mutex);
	ConditionVariableBroadcast(&shared->cv);
}

/* Insert the rows that did not fit, once the pages exist (WAL-logged). */
static void
insert_spilled(HnswBuildState *bs)
{
	TupleTableSlot *slot;

	if (bs->spill == NULL)
		return;
	slot = MakeSingleTupleTableSlot(bs->spilldesc, &TTSOpsMinimalTuple);
	while (tuplestore_gettupleslot(bs->spill, true, false, slot))
	{
		bool		isnull;
		ItemPointer tid = (ItemPointer) DatumGetPointer(slot_getattr(slot, 1, &isnull));
		Datum		vec = slot_getattr(slot, 2, &isnull);
		uint32		filterkey = (uint32) DatumGetInt64(slot_getattr(slot, 3, &isnull));

		CHECK_FOR_INTERRUPTS();
		/* the stored vector is already prepared; insert it as a row would be */
		HnswInsertPrepared(bs->index, bs->iinfo, (const float *) VARDATA_ANY(DatumGetByteaPP(vec)),
						   filterkey, tid);
	}
	ExecDropSingleTupleTableSlot(slot);
	tuplestore_end(bs->spill);
	bs->spill = NULL;
}

/* ---------------- reachability ---------------- */

/*
 * Make reached element r link to unreached element u on level lc: in a free
 * slot, or instead of r's farthest neighbour that has another incoming
 * link (indeg counts them).  False if r has no such slot.
 */
static bool
link_unreached(HnswBuildState *bs, BuildElem *r, ElemRef u, int lc, uint16 *indeg)
{
	int			m = bs->info->m;
	ElemRef    *rids = elem_ids(bs, r) + HNSW_LEVEL_FIRST_SLOT(lc, m);
	int			victim = -1;
	float		vdist = 0;

	if (r->level < lc)
		return false;
	for (int k = 0; k < r->counts[lc]; k++)
		if (rids[k] == u)
			return true;		/* linked already */
	if (r->counts[lc] < HNSW_LEVEL_SLOTS(lc, m))
	{
		rids[r->counts[lc]++] = u;
		indeg[elem(bs, u)->ordinal]++;
		return true;
	}
	HnswQuerySetData(&bs->nquery, elem_data(bs, r));
	for (int k = 0; k < r->counts[lc]; k++)
	{
		BuildElem  *f = elem(bs, rids[k]);
		float		d;

		if (indeg[f->ordinal] <= 1)
			continue;
		d = dist_to(&bs->nquery, bs, f);
		if (victim < 0 || d > vdist)
		{
			victim = k;
			vdist = d;
		}
	}
	if (victim < 0)
		return false;
	indeg[elem(bs, rids[victim])->ordinal]--;
	rids[victim] = u;
	indeg[elem(bs, u)->ordinal]++;
	return true;
}

/*
 * Pruning can leave an element with no incoming link on some level, so no
 * search could ever reach it.  After the graph is complete (one process),
 * each level is walked from the entry point; an element not reached gets a
 * link from the nearest reached element among its own neighbours, or, when
 * none of them is reached, from the nearest reached elements a search from
 * the entry point finds: a free slot, or the slot of that element's
 * farthest neighbour that has another incoming link.  Repeated until every
 * element is reached or nothing more can be done.
 */
void
HnswBuildConnectUnreachable(HnswBuildState *bs)
{
	HnswShared *shared = bs->shared;
	uint32		n = shared->nelements;
	ElemRef    *refs;
	uint8	   *seen;
	uint32	   *queue;
	uint16	   *indeg;
	int			m = bs->info->m;

	if (shared->entry == NO_ELEM || n < 2)
		return;
	refs = palloc(sizeof(ElemRef) * n);
	for (Size off = 0; off < shared->used;)
	{
		BuildElem  *e = (BuildElem *) (bs->arena + off);

		refs[e->ordinal] = (ElemRef) (off / ARENA_UNIT);
		off += elem_size(shared, e->level);
	}
	seen = palloc(n);
	queue = palloc(sizeof(uint32) * n);
	indeg = palloc(sizeof(uint16) * n);

	for (int lc = shared->maxlevel; lc >= 0; lc--)
	{
		int			first = HNSW_LEVEL_FIRST_SLOT(lc, m);

		memset(indeg, 0, sizeof(uint16) * n);
		for (uint32 i = 0; i < n; i++)
		{
			BuildElem  *e = elem(bs, refs[i]);

			if (e->level >= lc && ItemPointerIsValid(&e->heaptid))
				for (int j = 0; j < e->counts[lc]; j++)
					indeg[elem(bs, elem_ids(bs, e)[first + j])->ordinal]++;
		}
		for (int round = 0; round < 20; round++)
		{
			uint32		head = 0,
						tail = 0;
			uint32		unreached = 0,
						fixed = 0;

			CHECK_FOR_INTERRUPTS();
			memset(seen, 0, n);
			queue[tail++] = elem(bs, shared->entry)->ordinal;
			seen[queue[0]] = 1;
			while (head < tail)
			{
				BuildElem  *e = elem(bs, refs[queue[head++]]);

				for (int j = 0; j < e->counts[lc]; j++)
				{
					uint32		o = elem(bs, elem_ids(bs, e)[first + j])->ordinal;

					if (!seen[o])
					{
						seen[o] = 1;
						queue[tail++] = o;
					}
				}
			}
			for (uint32 i = 0; i < n; i++)
			{
				BuildElem  *u = elem(bs, refs[i]);
				ElemRef    *uids;
				float		udists[2 * HNSW_MAX_M];
				int			order[2 * HNSW_MAX_M];
				int			nu;
				bool		linked = false;

				if (u->level < lc || seen[i] || !ItemPointerIsValid(&u->heaptid))
					continue;
				unreached++;
				uids = elem_ids(bs, u) + first;
				nu = u->counts[lc];
				HnswQuerySetData(&bs->pquery, elem_data(bs, u));
				for (int j = 0; j < nu; j++)
					udists[j] = dist_to(&bs->pquery, bs, elem(bs, uids[j]));
				/* u's neighbours, nearest first */
				for (int j = 0; j < nu; j++)
				{
					int			k = j;

					while (k > 0 && udists[order[k - 1]] > udists[j])
					{
						order[k] = order[k - 1];
						k--;
					}
					order[k] = j;
				}
				for (int j = 0; j < nu && !linked; j++)
				{
					BuildElem  *r = elem(bs, uids[order[j]]);

					if (seen[r->ordinal])
						linked = link_unreached(bs, r, refs[i], lc, indeg);
				}

				/*
				 * None of its neighbours is reached (it belongs to a group
				 * of elements that only link among themselves): search the
				 * reached graph for the elements nearest to it instead.
				 */
				if (!linked)
				{
					BuildCand  *found;
					int			nfound;

					bs->self = refs[i];
					bs->top[0].ref = shared->entry;
					bs->top[0].dist = dist_to(&bs->pquery, bs, elem(bs, shared->entry));
					nfound = 1;
					for (int l = shared->maxlevel; l > lc; l--)
						nfound = search_layer(bs, &bs->pquery, nfound, 1, l);
					nfound = search_layer(bs, &bs->pquery, nfound, bs->info->ef_construction, lc);
					found = palloc(sizeof(BuildCand) * Max(nfound, 1));
					memcpy(found, bs->top, sizeof(BuildCand) * nfound);
					qsort(found, nfound, sizeof(BuildCand), HnswBuildCandCmp);
					for (int j = 0; j < nfound && !linked; j++)
						if (found[j].ref != refs[i])
							linked = link_unreached(bs, elem(bs, found[j].ref), refs[i], lc, indeg);
					pfree(found);
				}
				if (linked)
					fixed++;
			}
			if (unreached == 0 || fixed == 0)
				break;
		}
	}
}

void
HnswPlaceOpen(PlaceState *ps)
{
	ps->page = ps->next_block++;
	ps->lower = SizeOfPageHeaderData;
	ps->upper = BLCKSZ - MAXALIGN(sizeof(HnswPageOpaqueData));
	ps->nitems = 0;
}

bool
HnswPlaceFits(PlaceState *ps, Size a, Size b)
{
	return ps->page != InvalidBlockNumber &&
		ps->lower + 2 * sizeof(ItemIdData) + MAXALIGN(a) + MAXALIGN(b) <= ps->upper;
}

OffsetNumber
HnswPlaceItem(PlaceState *ps, Size size)
{
	ps->lower += sizeof(ItemIdData);
	ps->upper -= MAXALIGN(size);
	return ++ps->nitems;
}

Size
HnswBuildTupleSize(HnswBuildState *bs, bool overflow)
{
	return overflow ? HNSW_ELEMENT_TUPLE_SIZE(sizeof(HnswOverflowRef))
		: HNSW_ELEMENT_TUPLE_SIZE(HnswElementDataSize(bs->iinfo));
}

Size
HnswBuildElementTupleSize(HnswBuildState *bs, BuildElem *e)
{
	return HnswBuildTupleSize(bs, e->overflow);
}

BlockNumber
HnswBuildOverflowPages(HnswBuildState *bs)
{
	Size		len = HnswElementDataSize(bs->iinfo);

	return (BlockNumber) ((len + HNSW_OVERFLOW_PAGE_CAPACITY - 1) / HNSW_OVERFLOW_PAGE_CAPACITY);
}

/* Elements in arena order: call fn for each linked one. */
#define FOREACH_ELEM(bs, e) \
	for (Size off_ = 0; off_ < (bs)->shared->used; off_ += elem_size((bs)->shared, (e)->level)) \
		if (((e) = (BuildElem *) ((bs)->arena + off_)), ItemPointerIsValid(&(e)->heaptid))

/* Pass 1: give every element and neighbour tuple its place. */
static void
place_elements(HnswBuildState *bs)
{
	PlaceState	ps;
	BuildElem  *e = NULL;

	/* after the metapage and the quantization ranges */
	ps.next_block = RelationGetNumberOfBlocks(bs->index);
	ps.page = InvalidBlockNumber;
	FOREACH_ELEM(bs, e)
	{
		Size		esize = HnswBuildElementTupleSize(bs, e);
		Size		nsize = HNSW_NEIGHBOR_TUPLE_SIZE(e->level, bs->info->m);

		if (e->overflow)
		{
			e->overflow_first = ps.next_block;
			ps.next_block += HnswBuildOverflowPages(bs);
		}
		if (!HnswPlaceFits(&ps, esize, nsize))
			HnswPlaceOpen(&ps);
		ItemPointerSet(&e->tid, ps.page, HnswPlaceItem(&ps, esize));
		ItemPointerSet(&e->neighbortid, ps.page, HnswPlaceItem(&ps, nsize));
	}
}

static void
add_item(Relation index, Page page, void *item, Size size, OffsetNumber expect)
{
	if (PageAddItem(page, (Item) item, size, InvalidOffsetNumber, false, false) != expect)
		elog(ERROR, "could not place a tuple in index \"%s\"",
			 RelationGetRelationName(index));
}

static void
row_reader_begin(RowReader *r, HnswBuildState *bs)
{
	r->bs = bs;
	r->fetch = table_index_fetch_begin(bs->heap);
	r->slot = table_slot_create(bs->heap, NULL);
	r->estate = CreateExecutorState();
	GetPerTupleExprContext(r->estate)->ecxt_scantuple = r->slot;
	r->cxt = AllocSetContextCreate(CurrentMemoryContext, "hnsw build reread",
								   ALLOCSET_DEFAULT_SIZES);
}

static void
row_reader_read(RowReader *r, ItemPointer heaptid, float *out)
{
	const HnswIndexInfo *info = r->bs->iinfo;
	ItemPointerData tid = *heaptid;
	bool		call_again = false;
	bool		all_dead = false;
	Datum		values[INDEX_MAX_KEYS];
	bool		isnull[INDEX_MAX_KEYS];
	MemoryContext old;

	if (!table_index_fetch_tuple(r->fetch, &tid, SnapshotAny, r->slot,
								 &call_again, &all_dead))
		elog(ERROR, "could not read heap row (%u,%u) again while building index \"%s\"",
			 ItemPointerGetBlockNumber(heaptid), ItemPointerGetOffsetNumber(heaptid),
			 RelationGetRelationName(r->bs->index));
	old = MemoryContextSwitchTo(r->cxt);
	FormIndexDatum(r->bs->indexInfo, r->slot, r->estate, values, isnull);
	if (isnull[0] ||
		!HnswPrepareVector(info->metric, HnswDatumData(info, values[0]), out, info->dimensions))
		elog(ERROR, "heap row (%u,%u) changed while building index \"%s\"",
			 ItemPointerGetBlockNumber(heaptid), ItemPointerGetOffsetNumber(heaptid),
			 RelationGetRelationName(r->bs->index));
	MemoryContextSwitchTo(old);
	MemoryContextReset(r->cxt);
	ResetPerTupleExprContext(r->estate);
}

static void
row_reader_end(RowReader *r)
{
	ExecDropSingleTupleTableSlot(r->slot);
	table_index_fetch_end(r->fetch);
	FreeExecutorState(r->estate);
	MemoryContextDelete(r->cxt);
}

void
HnswPageWriterBegin(PageWriter *w, HnswBuildState *bs, HTAB *keys)
{
	Size		datalen = HnswElementDataSize(bs->iinfo);

	memset(w, 0, sizeof(*w));
	w->bs = bs;
	w->buf = InvalidBuffer;
	w->current = InvalidBlockNumber;
	w->etup = palloc0(HNSW_ELEMENT_TUPLE_SIZE(datalen));
	w->ntup = palloc0(HNSW_NEIGHBOR_TUPLE_SIZE(HNSW_MAX_LEVEL, bs->info->m));
	w->keys = keys;
}

/* Returns the last data page written. */
BlockNumber
HnswPageWriterEnd(PageWriter *w)
{
	if (w->buf != InvalidBuffer)
	{
		MarkBufferDirty(w->buf);
		UnlockReleaseBuffer(w->buf);
		w->buf = InvalidBuffer;
	}
	pfree(w->etup);
	pfree(w->ntup);
	return w->current;
}

/*
 * Write element e (its tid, neighbortid and overflow_first placed) with the
 * given data and neighbour slots (all HNSW_NEIGHBOR_SLOTS of its level).
 * For an index with a key column, links it to the previous element written
 * with the same filterkey and records it in w->keys.
 */
void
HnswPageWriterWrite(PageWriter *w, BuildElem *e, const char *data, const ItemPointerData *slots)
{
	HnswBuildState *bs = w->bs;
	const HnswIndexInfo *info = bs->iinfo;
	Size		datalen = HnswElementDataSize(info);
	Size		esize = HnswBuildElementTupleSize(bs, e);
	Size		nsize = HNSW_NEIGHBOR_TUPLE_SIZE(e->level, info->m);
	HnswElementTuple etup = w->etup;
	HnswNeighborTuple ntup = w->ntup;

	CHECK_FOR_INTERRUPTS();
	if (e->overflow)
	{
		BlockNumber first;

		HnswWriteOverflow(bs->index, MAIN_FORKNUM, data, datalen,
						  &first, false);
		if (first != e->overflow_first)
			elog(ERROR, "overflow pages of index \"%s\" landed at block %u, not %u",
				 RelationGetRelationName(bs->index), first, e->overflow_first);
	}
	if (ItemPointerGetBlockNumber(&e->tid) != w->current)
	{
		if (w->buf != InvalidBuffer)
		{
			MarkBufferDirty(w->buf);
			UnlockReleaseBuffer(w->buf);
		}
		w->buf = HnswNewBuffer(bs->index, MAIN_FORKNUM);
		w->current = BufferGetBlockNumber(w->buf);
		if (w->current != ItemPointerGetBlockNumber(&e->tid))
			elog(ERROR, "data page of index \"%s\" landed at block %u, not %u",
				 RelationGetRelationName(bs->index), w->current,
				 ItemPointerGetBlockNumber(&e->tid));
		w->page = BufferGetPage(w->buf);
		HnswInitPage(w->page, HNSW_PAGE_DATA);
	}

	memset(etup, 0, esize);
	etup->type = HNSW_ELEMENT_TUPLE;
	etup->level = e->level;
	etup->flags = (e->overflow ? HNSW_ELEMENT_OVERFLOW : 0) |
		(e->clamped ? HNSW_ELEMENT_CLAMPED : 0);
	etup->heaptid = e->heaptid;
	etup->neighbortid = e->neighbortid;
	etup->filterkey = e->filterkey;
	ItemPointerSetInvalid(&etup->keynext);
	if (e->filterkey != 0)
	{
		bool		found;
		HnswKeyDirEntry *k = hash_search(w->keys, &e->filterkey, HASH_ENTER, &found);

		if (found)
			etup->keynext = k->head;
		else
			k->count = 0;
		k->head = e->tid;
		k->count++;
	}
	if (e->overflow)
	{
		etup->datalen = sizeof(HnswOverflowRef);
		((HnswOverflowRef *) etup->data)->first = e->overflow_first;
	}
	else
	{
		etup->datalen = datalen;
		memcpy(etup->data, data, datalen);
	}
	add_item(bs->index, w->page, etup, esize, ItemPointerGetOffsetNumber(&e->tid));

	memset(ntup, 0, nsize);
	ntup->type = HNSW_NEIGHBOR_TUPLE;
	ntup->level = e->level;
	ntup->nslots = HNSW_NEIGHBOR_SLOTS(e->level, info->m);
	memcpy(ntup->slots, slots, sizeof(ItemPointerData) * ntup->nslots);
	add_item(bs->index, w->page, ntup, nsize, ItemPointerGetOffsetNumber(&e->neighbortid));

	if ((++w->done % 1000) == 0)
		pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, w->done);
}

/*
 * Pass 2: write the data pages in block order; returns the last data page.
 * Fills *keys (filterkey -> HnswKeyDirEntry) for an index with a key column.
 */
static BlockNumber
write_elements(HnswBuildState *bs, HTAB *keys)
{
	const HnswIndexInfo *info = bs->iinfo;
	Size		datalen = HnswElementDataSize(info);
	ItemPointerData slots[HNSW_NEIGHBOR_SLOTS(HNSW_MAX_LEVEL, HNSW_MAX_M)];
	BuildElem  *e = NULL;
	RowReader	reader = {0};
	bool		reread = bs->shared->arena_format != info->format;
	char	   *vec = reread ? palloc(datalen) : NULL;
	PageWriter	w;
	BlockNumber last;

	if (reread)
		row_reader_begin(&reader, bs);
	HnswPageWriterBegin(&w, bs, keys);
	FOREACH_ELEM(bs, e)
	{
		const char *data = elem_data(bs, e);

		if (reread)
		{
			row_reader_read(&reader, &e->heaptid, (float *) vec);
			data = vec;
		}
		for (int s = 0; s < HNSW_NEIGHBOR_SLOTS(e->level, info->m); s++)
			ItemPointerSetInvalid(&slots[s]);
		for (int lc = 0; lc <= e->level; lc++)
		{
			int			first = HNSW_LEVEL_FIRST_SLOT(lc, info->m);

			for (int i = 0; i < e->counts[lc]; i++)
				slots[first + i] = elem(bs, elem_ids(bs, e)[first + i])->tid;
		}
		HnswPageWriterWrite(&w, e, data, slots);
	}
	last = HnswPageWriterEnd(&w);
	if (reread)
		row_reader_end(&reader);
	return last;
}

/* Write the key directory of a new index from the entries collected. */
static void
write_keydir(Relation index, HTAB *keys, HnswMetaPageData *meta)
{
	long		n = hash_get_num_entries(keys);
	HnswKeyDirEntry *entries = palloc(sizeof(HnswKeyDirEntry) * Max(n, 1));
	HASH_SEQ_STATUS seq;
	HnswKeyDirEntry *k;
	int			i = 0;

	hash_seq_init(&seq, keys);
	while ((k = hash_seq_search(&seq)) != NULL)
		entries[i++] = *k;
	meta->keydir_nbuckets = HnswKeyDirBuckets((double) n);
	meta->keydir_first = HnswKeyDirCreate(index, MAIN_FORKNUM, meta->keydir_nbuckets,
										  entries, i, false);
	pfree(entries);
}

/* Write the metapage (block 0) of an index. */
static void
write_meta(Relation index, ForkNumber forknum, const HnswIndexInfo *info,
		   const HnswMetaPageData *quant, ItemPointer entry, int entry_level,
		   BlockNumber insert_page, uint64 nelements, bool create, bool use_wal)
{
	Buffer		buf;
	Page		page;
	HnswMetaPage meta;
	GenericXLogState *state = NULL;

	if (create)
		buf = HnswNewBuffer(index, forknum);
	else
	{
		buf = ReadBufferExtended(index, forknum, HNSW_METAPAGE_BLKNO, RBM_NORMAL, NULL);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	}
	if (BufferGetBlockNumber(buf) != HNSW_METAPAGE_BLKNO)
		elog(ERROR, "metapage of index \"%s\" is not block 0",
			 RelationGetRelationName(index));
	if (use_wal)
	{
		state = GenericXLogStart(index);
		page = GenericXLogRegisterBuffer(state, buf, GENERIC_XLOG_FULL_IMAGE);
	}
	else
		page = BufferGetPage(buf);

	HnswInitPage(page, HNSW_PAGE_META);
	meta = HnswPageGetMeta(page);
	meta->magic = HNSW_MAGIC;
	meta->version = HNSW_VERSION;
	meta->dimensions = info->dimensions;
	meta->m = info->m;
	meta->ef_construction = info->ef_construction;
	meta->metric = info->metric;
	meta->format = info->format;
	meta->entry_level = entry_level;
	if (entry)
		meta->entry = *entry;
	else
		ItemPointerSetInvalid(&meta->entry);
	meta->insert_page = insert_page;
	meta->nelements = nelements;
	meta->quant_params = quant ? quant->quant_params : InvalidBlockNumber;
	meta->quant_sample = quant ? quant->quant_sample : 0;
	meta->keydir_first = quant ? quant->keydir_first : InvalidBlockNumber;
	meta->keydir_nbuckets = quant ? quant->keydir_nbuckets : 0;
	((PageHeader) page)->pd_lower = ((char *) meta + sizeof(HnswMetaPageData)) - (char *) page;

	if (use_wal)
		GenericXLogFinish(state);
	else
		MarkBufferDirty(buf);
	UnlockReleaseBuffer(buf);
}

/* ---------------- options ---------------- */

/* Dimensions, options and metric of a new index. */
static void
init_info(Relation index, HnswIndexInfo *info, int dimensions)
{
	info->dimensions = dimensions;
	info->m = HnswGetM(index);
	info->ef_construction = HnswGetEfConstruction(index);
	info->metric = HnswGetMetric(index);
	info->format = HnswGetFormat(index);
	info->sq8 = NULL;
	info->bit = NULL;
	info->rbit = NULL;
	info->haskey = HnswIndexHasKey(index);
	info->halfvec = HnswIndexIsHalfvec(index);
	if (info->halfvec && info->format == HNSW_FORMAT_FLOAT4 &&
		info->metric != HNSW_METRIC_COSINE)
		info->format = HNSW_FORMAT_HALF;
	/* 'bit': rotated bits where the rotation keeps the distance */
	if (info->format == HNSW_FORMAT_BIT &&
		HnswFormatFitsMetric(HNSW_FORMAT_RBIT, info->metric))
		info->format = HNSW_FORMAT_RBIT;
	if (HnswIsBitMetric(info->metric) && info->format != HNSW_FORMAT_FLOAT4)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("quantization applies to vector columns, not to bit columns"),
				 errdetail("An index on a bit column stores the bits themselves.")));
	if (info->ef_construction < 2 * info->m)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ef_construction must be greater than or equal to 2 * m"),
				 errdetail("ef_construction is %d and m is %d.",
						   info->ef_construction, info->m)));
}

/* Dimensions from the column's typmod; -1 if it has none. */
static int
column_dimensions(Relation index)
{
	return TupleDescAttr(RelationGetDescr(index), 0)->atttypmod;
}

static void
init_shared(HnswShared *shared, Relation heap, Relation index,
			const HnswIndexInfo *info, HnswFormat arena_format, Size arena_size,
			bool isconcurrent)
{
	HnswIndexInfo arenainfo = *info;

	memset(shared, 0, sizeof(HnswShared));
	shared->heaprelid = RelationGetRelid(heap);
	shared->indexrelid = RelationGetRelid(index);
	shared->isconcurrent = isconcurrent;
	shared->info = *info;
	shared->info.sq8 = NULL;
	shared->info.bit = NULL;
	shared->info.rbit = NULL;
	shared->arena_format = arena_format;
	arenainfo.format = arena_format;
	shared->arena_size = arena_size;
	shared->elem_header = MAXALIGN(sizeof(BuildElem));
	shared->datasize = HnswElementDataSize(&arenainfo);
	shared->tranche = LWLockNewTrancheId();
	LWLockRegisterTranche(shared->tranche, "hnsw_build");
	LWLockInitialize(&shared->entrylock, shared->tranche);
	shared->entry = NO_ELEM;
	shared->maxlevel = -1;
	SpinLockInit(&shared->mutex);
	ConditionVariableInit(&shared->cv);
}

/* Wait until all n participants have finished their scans. */
static void
wait_for_participants(HnswShared *shared, int n)
{
	for (;;)
	{
		bool		done;

		SpinLockAcquire(&shared->mutex);
		done = shared->nparticipantsdone >= n;
		SpinLockRelease(&shared->mutex);
		if (done)
			break;
		ConditionVariableSleep(&shared->cv, WAIT_EVENT_PARALLEL_CREATE_INDEX_SCAN);
	}
	ConditionVariableCancelSleep();
}

/* Workers: wait until the leader has written the pages. */
static void
wait_for_pages(HnswShared *shared)
{
	for (;;)
	{
		bool		written;

		SpinLockAcquire(&shared->mutex);
		written = shared->written;
		SpinLockRelease(&shared->mutex);
		if (written)
			break;
		ConditionVariableSleep(&shared->cv, WAIT_EVENT_PARALLEL_CREATE_INDEX_SCAN);
	}
	ConditionVariableCancelSleep();
}

/* ---------------- sampling, SQ8 ranges ---------------- */

/* ---------------- parallel workers ---------------- */

void
hnsw_parallel_build_main(dsm_segment *seg, shm_toc *toc)
{
	HnswShared *shared = shm_toc_lookup(toc, PARALLEL_KEY_HNSW_SHARED, false);
	char	   *arena = shm_toc_lookup(toc, PARALLEL_KEY_HNSW_ARENA, false);
	char	   *sharedquery = shm_toc_lookup(toc, PARALLEL_KEY_QUERY_TEXT, true);
	char	   *quant = shm_toc_lookup(toc, PARALLEL_KEY_HNSW_QUANT, true);
	LOCKMODE	heapLockmode = shared->isconcurrent ? ShareUpdateExclusiveLock : ShareLock;
	LOCKMODE	indexLockmode = shared->isconcurrent ? RowExclusiveLock : AccessExclusiveLock;
	Relation	heap;
	Relation	index;
	IndexInfo  *indexInfo;
	HnswBuildState bs;
	TableScanDesc scan;

	debug_query_string = sharedquery;
	pgstat_report_activity(STATE_RUNNING, debug_query_string);

	heap = table_open(shared->heaprelid, heapLockmode);
	index = index_open(shared->indexrelid, indexLockmode);
	indexInfo = BuildIndexInfo(index);
	indexInfo->ii_Concurrent = shared->isconcurrent;

	init_participant(&bs, heap, index, shared, arena, quant, false);
	if (shared->partitioned)
	{
		SharedFileSetAttach(&shared->fileset, seg);
		bs.fileset = &shared->fileset;
		bs.cells = shm_toc_lookup(toc, PARALLEL_KEY_HNSW_CELLS, false);
		bs.cellpart = (const uint16 *) (bs.cells + (Size) shared->ncells * shared->info.dimensions);
		bs.refs = shm_toc_lookup(toc, PARALLEL_KEY_HNSW_REFS, false);
	}
	scan = table_beginscan_parallel(heap, ParallelTableScanFromHnswShared(shared));
	participate(&bs, indexInfo, scan);
	if (shared->partitioned)
		HnswPartLinkPhases(&bs);
	if (bs.spill != NULL)
	{
		wait_for_pages(shared);
		insert_spilled(&bs);
	}

	index_close(index, indexLockmode);
	table_close(heap, heapLockmode);
}

static void
sample_callback(Relation index, ItemPointer tid, Datum *values,
				bool *isnull, bool tupleIsAlive, void *state)
{
	SampleState *ss = (SampleState *) state;
	int			dim = ss->info->dimensions;
	MemoryContext old;
	const float *x;
	int			slot;

	if (isnull[0])
		return;
	old = MemoryContextSwitchTo(ss->tmpcxt);
	x = HnswDatumData(ss->info, values[0]);
	ss->seen++;
	if (ss->n < ss->max)
		slot = ss->n;
	else
	{
		uint64		j = pg_prng_uint64_range(&ss->prng, 0, (uint64) ss->seen - 1);

		slot = j < (uint64) ss->max ? (int) j : -1;
	}
	/* a zero vector under cosine is not indexed: not sampled either */
	if (slot >= 0 &&
		HnswPrepareVector(ss->info->metric, x, ss->rows + (Size) slot * dim, dim) &&
		slot == ss->n)
		ss->n++;
	MemoryContextSwitchTo(old);
	MemoryContextReset(ss->tmpcxt);
}

/*
 * Offer rows to the reservoir: all of them for a small table; for one with
 * many more rows than the sample holds, those of randomly chosen runs of
 * blocks, about twice the sample's size, so that the pass costs a
 * fraction of a full scan (with vectors in TOAST, reading them is most of
 * the cost).
 */
void
HnswBuildSampleRows(Relation heap, Relation index, IndexInfo *indexInfo, SampleState *ss)
{
#define SAMPLE_RUN_BLOCKS 8
	double		reltuples = heap->rd_rel->reltuples;
	BlockNumber nblocks = RelationGetNumberOfBlocks(heap);
	double		frac;

	if (reltuples <= 4.0 * ss->max || nblocks < 64 * SAMPLE_RUN_BLOCKS)
	{
		(void) table_index_build_scan(heap, index, indexInfo, true, false,
									  sample_callback, ss, NULL);
		return;
	}
	frac = 2.0 * ss->max / reltuples;
	for (BlockNumber start = 0; start < nblocks; start += SAMPLE_RUN_BLOCKS)
	{
		CHECK_FOR_INTERRUPTS();
		if (pg_prng_double(&ss->prng) >= frac)
			continue;
		(void) table_index_build_range_scan(heap, index, indexInfo, false, false, false,
											start, Min(SAMPLE_RUN_BLOCKS, nblocks - start),
											sample_callback, ss, NULL);
	}
}

/*
 * Learn the parameters of the codes of the given format from a sample of
 * the rows (one pass over the heap before the build proper): SQ8 ranges,
 * bit centres and spreads (2 * dimensions floats each), or the centroids
 * and rotation of rotated bits; returns them (palloc'd) and their size.
 * For an index of codes, write them after the metapage and fill in meta's
 * quant_params and quant_sample.
 */
static char *
train_codes(Relation heap, Relation index, IndexInfo *indexInfo,
			const HnswIndexInfo *info, HnswFormat format, Size *len,
			HnswMetaPageData *meta)
{
	int			dim = info->dimensions;
	float	   *params = NULL;
	char	   *blob;

	SampleState ss;

	memset(&ss, 0, sizeof(ss));
	ss.info = info;
	ss.max = (int) Min((Size) SAMPLE_MAX_ROWS,
					   Max((Size) 1000, SAMPLE_MAX_BYTES / HnswVectorSize(info)));
	ss.rows = MemoryContextAllocHuge(CurrentMemoryContext,
									 HnswVectorSize(info) * (Size) ss.max);
	pg_prng_seed(&ss.prng, UINT64CONST(0x5a3b1e0c7d9f2468));
	ss.tmpcxt = AllocSetContextCreate(CurrentMemoryContext, "hnsw sample tuple",
									  ALLOCSET_DEFAULT_SIZES);
	HnswBuildSampleRows(heap, index, indexInfo, &ss);
	if (format == HNSW_FORMAT_RBIT)
	{
		QuantRbit	rbit;

		QuantRbitTrain(&rbit, dim, ss.rows, ss.n);
		*len = QuantRbitParamsSize(dim, rbit.ncent);
		blob = palloc(*len);
		QuantRbitWriteParams(&rbit, blob);
	}
	else
	{
		*len = 2 * sizeof(float) * (Size) dim;
		params = palloc(*len);
		blob = (char *) params;
		if (format == HNSW_FORMAT_BIT)
		{
			QuantBit	bit;

			QuantBitTrain(&bit, dim, ss.rows, ss.n);
			memcpy(params, bit.mean, sizeof(float) * dim);
			memcpy(params + dim, bit.dev, sizeof(float) * dim);
		}
		else
		{
			QuantSq8	sq8;

			QuantSq8Train(&sq8, dim, ss.rows, ss.n);
			memcpy(params, sq8.lo, sizeof(float) * dim);
			memcpy(params + dim, sq8.step, sizeof(float) * dim);
		}
	}
	pfree(ss.rows);
	MemoryContextDelete(ss.tmpcxt);
	if (!HnswFormatIsExact(info->format))
	{
		HnswWriteOverflow(index, MAIN_FORKNUM, blob, *len, &meta->quant_params, false);
		meta->quant_sample = (uint32) ss.n;
	}
	return blob;
}

/* The rows a build will see: reltuples, or an estimate from the pages. */
static double
estimate_rows(Relation heap)
{
	BlockNumber pages;
	double		tuples;
	double		allvisfrac;

	if (heap->rd_rel->reltuples > 0)
		return heap->rd_rel->reltuples;
	table_relation_estimate_size(heap, NULL, &pages, &tuples, &allvisfrac);
	return tuples;
}

/*
 * Bytes an arena record of this format takes, on average (levels above 0
 * add m slots with probability 1 / (m - 1) in all).
 */
static double
arena_bytes_per_row(const HnswIndexInfo *info, HnswFormat format)
{
	HnswIndexInfo f = *info;
	double		slots = (2 + 1.0 / Max(info->m - 1, 1)) * info->m;

	f.format = format;
	return MAXALIGN(sizeof(BuildElem)) + MAXALIGN((Size) (sizeof(ElemRef) * slots)) +
		MAXALIGN(HnswElementDataSize(&f));
}

/* ---------------- the build ---------------- */

/*
 * How many parallel workers to ask for.  The planner decides by the size
 * of the heap's main fork, but vectors of more than ~500 dimensions live in
 * the TOAST table, leaving a main fork far too small to count: so when the
 * planner says none, a plain column index (no expression or predicate to
 * check for parallel safety) on a permanent table with no parallel_workers
 * setting is sized by heap and TOAST together, the planner's way: one
 * worker from min_parallel_table_scan_size, one more each time the size
 * triples, at most max_parallel_maintenance_workers.
 */
static int
build_workers(Relation heap, Relation index, IndexInfo *indexInfo)
{
	int			nworkers = plan_create_index_workers(RelationGetRelid(heap),
													 RelationGetRelid(index));
	double		blocks;
	double		threshold;

	if (nworkers > 0 || max_parallel_maintenance_workers == 0 ||
		heap->rd_rel->relpersistence == RELPERSISTENCE_TEMP ||
		indexInfo->ii_Expressions != NIL || indexInfo->ii_Predicate != NIL ||
		RelationGetParallelWorkers(heap, -1) != -1 ||
		!OidIsValid(heap->rd_rel->reltoastrelid))
		return nworkers;

	blocks = RelationGetNumberOfBlocks(heap);
	{
		Relation	toast = table_open(heap->rd_rel->reltoastrelid, AccessShareLock);

		blocks += RelationGetNumberOfBlocks(toast);
		table_close(toast, AccessShareLock);
	}
	threshold = Max(min_parallel_table_scan_size, 1);
	if (blocks < threshold)
		return 0;
	nworkers = 1;
	while (blocks >= threshold * 3 && nworkers < max_parallel_maintenance_workers)
	{
		nworkers++;
		threshold *= 3;
	}
	return Min(nworkers, max_parallel_maintenance_workers);
}

IndexBuildResult *
hnswbuild(Relation heap, Relation index, IndexInfo *indexInfo)
{
	IndexBuildResult *result;
	HnswIndexInfo info;
	HnswBuildState bs;
	HnswShared *shared;
	char	   *arena;
	int			dimensions = column_dimensions(index);
	Size		arena_size;
	int			nworkers = 0;
	ParallelContext *pcxt = NULL;
	Snapshot	snapshot = NULL;
	int			nparticipants = 1;
	BlockNumber nblocks;
	BlockNumber last_page;
	ItemPointerData entry_tid;
	int			entry_level = -1;
	HnswMetaPageData quant;
	char	   *quant_params = NULL;
	Size		quant_len = 0;
	HnswFormat	arena_format;
	double		nest;
	int			npart = 0;
	char	   *cells = NULL;
	int			ncells = 0;
	ElemRef    *refs = NULL;
	Size		nrefs = 0;
	dsm_segment *fileseg = NULL;
	HnswSeed   *seed;

	if (RelationGetNumberOfBlocks(index) != 0)
		elog(ERROR, "index \"%s\" already contains data", RelationGetRelationName(index));
	/* the columns' opclasses first: a misplaced key has no dimensions either */
	(void) HnswGetMetric(index);
	if (dimensions < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("column does not have dimensions"),
				 errhint("Declare the column with a dimension count, as in vector(3) or bit(64).")));
	init_info(index, &info, dimensions);

	/* the graph's memory: maintenance_work_mem (pages are touched lazily) */
	arena_size = (Size) maintenance_work_mem * 1024;

	/* block 0 first; rewritten at the end with the entry point */
	write_meta(index, MAIN_FORKNUM, &info, NULL, NULL, -1, InvalidBlockNumber, 0, true, false);
	memset(&quant, 0, sizeof(quant));
	quant.quant_params = InvalidBlockNumber;
	quant.keydir_first = InvalidBlockNumber;

	/*
	 * The arena holds what the pages will, unless a float4 graph would not
	 * fit in it and one of SQ8 codes would fit better: then the graph is
	 * built on codes and the rows are read again when the pages are
	 * written (an approximate graph of exact vectors, instead of the
	 * slower one-at-a-time inserts of the rows that would not fit).  When
	 * not even codes would fit, the build is partitioned if
	 * vecq.hnsw_partitioned_build allows; if it does not, codes still hold
	 * more rows than float4 would.
	 */
	arena_format = info.format;
	nest = estimate_rows(heap);
	if (HnswFormatIsExact(info.format) && !HnswIsBitMetric(info.metric) && nest > 0 &&
		nest * arena_bytes_per_row(&info, info.format) > arena_size)
	{
		bool		may_partition;

		may_partition = HnswPartAllowed(arena_bytes_per_row(&info, info.format), arena_size);
		if (info.format == HNSW_FORMAT_FLOAT4 &&
			(nest * arena_bytes_per_row(&info, HNSW_FORMAT_SQ8) <= 0.95 * arena_size ||
			 (!may_partition &&
			  arena_bytes_per_row(&info, HNSW_FORMAT_SQ8) < arena_bytes_per_row(&info, HNSW_FORMAT_FLOAT4))))
		{
			/* codes fit, or at least hold more rows than float4 would */
			arena_format = HNSW_FORMAT_SQ8;
			ereport(DEBUG1,
					(errmsg_internal("hnsw build of \"%s\": the graph is built on SQ8 codes to fit in maintenance_work_mem",
									 RelationGetRelationName(index))));
		}
		else if (may_partition)
		{
			/* not even codes would fit: build in partitions that do */
			npart = HnswPartCount(nest, arena_bytes_per_row(&info, info.format), arena_size);
			pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, PROGRESS_HNSW_PHASE_SAMPLE);
			cells = HnswPartCells(heap, index, indexInfo, &info, npart, &ncells);
			ereport(DEBUG1,
					(errmsg_internal("hnsw build of \"%s\": about %.0f rows, built in %d partitions",
									 RelationGetRelationName(index), nest, npart)));
		}
	}
	if (!HnswFormatIsExact(arena_format))
	{
		pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, PROGRESS_HNSW_PHASE_SAMPLE);
		quant_params = train_codes(heap, index, indexInfo, &info, arena_format,
								   &quant_len, &quant);
	}
	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, PROGRESS_HNSW_PHASE_LOAD);
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_TOTAL,
								 (int64) Max(heap->rd_rel->reltuples, 0));

	/*
	 * A graph seed for the table (hnsw_seed.c) replaces the search; the
	 * seeded build is serial, and only for float4 vectors in one graph.
	 */
	seed = HnswSeedFor(RelationGetRelid(heap));
	if (seed != NULL && (npart > 0 || info.halfvec || HnswIsBitMetric(info.metric)))
	{
		ereport(NOTICE,
				(errmsg("hnsw index build of \"%s\" does not use the graph seed of table \"%s\"",
						RelationGetRelationName(index), RelationGetRelationName(heap)),
				 npart > 0 ?
				 errdetail("The graph does not fit in maintenance_work_mem, so it is built in partitions.") :
				 errdetail("Only indexes on vector columns take a seed.")));
		seed = NULL;
	}
	nworkers = seed != NULL ? 0 : build_workers(heap, index, indexInfo);

	if (nworkers > 0)
	{
		Size		estshared = BUFFERALIGN(sizeof(HnswShared));

		EnterParallelMode();
		pcxt = CreateParallelContext("vecq", "hnsw_parallel_build_main", nworkers);
		snapshot = indexInfo->ii_Concurrent ? RegisterSnapshot(GetTransactionSnapshot())
			: SnapshotAny;
		estshared = add_size(estshared, table_parallelscan_estimate(heap, snapshot));
		shm_toc_estimate_chunk(&pcxt->estimator, estshared);
		shm_toc_estimate_chunk(&pcxt->estimator, arena_size);
		shm_toc_estimate_keys(&pcxt->estimator, 3);
		if (quant_params)
		{
			shm_toc_estimate_chunk(&pcxt->estimator, quant_len);
			shm_toc_estimate_keys(&pcxt->estimator, 1);
		}
		if (npart > 0)
		{
			shm_toc_estimate_chunk(&pcxt->estimator, part_layout_size(ncells, info.dimensions));
			shm_toc_estimate_chunk(&pcxt->estimator, sizeof(ElemRef) * HnswPartRefs(&info, arena_format, arena_size));
			shm_toc_estimate_keys(&pcxt->estimator, 2);
		}
		if (debug_query_string)
		{
			shm_toc_estimate_chunk(&pcxt->estimator, strlen(debug_query_string) + 1);
			shm_toc_estimate_keys(&pcxt->estimator, 1);
		}
		InitializeParallelDSM(pcxt);
		if (pcxt->seg == NULL)
		{
			/* no shared memory: build alone */
			if (IsMVCCSnapshot(snapshot))
				UnregisterSnapshot(snapshot);
			DestroyParallelContext(pcxt);
			ExitParallelMode();
			pcxt = NULL;
			nworkers = 0;
		}
	}

	if (pcxt != NULL)
	{
		shared = shm_toc_allocate(pcxt->toc, BUFFERALIGN(sizeof(HnswShared)) +
								  table_parallelscan_estimate(heap, snapshot));
		init_shared(shared, heap, index, &info, arena_format, arena_size,
					indexInfo->ii_Concurrent);
		table_parallelscan_initialize(heap, ParallelTableScanFromHnswShared(shared), snapshot);
		shm_toc_insert(pcxt->toc, PARALLEL_KEY_HNSW_SHARED, shared);
		arena = shm_toc_allocate(pcxt->toc, arena_size);
		shm_toc_insert(pcxt->toc, PARALLEL_KEY_HNSW_ARENA, arena);
		if (quant_params)
		{
			char	   *q = shm_toc_allocate(pcxt->toc, quant_len);

			memcpy(q, quant_params, quant_len);
			shm_toc_insert(pcxt->toc, PARALLEL_KEY_HNSW_QUANT, q);
		}
		if (npart > 0)
		{
			char	   *c = shm_toc_allocate(pcxt->toc, part_layout_size(ncells, info.dimensions));

			memcpy(c, cells, part_layout_size(ncells, info.dimensions));
			shm_toc_insert(pcxt->toc, PARALLEL_KEY_HNSW_CELLS, c);
			cells = c;
			nrefs = HnswPartRefs(&info, arena_format, arena_size);
			refs = shm_toc_allocate(pcxt->toc, sizeof(ElemRef) * nrefs);
			shm_toc_insert(pcxt->toc, PARALLEL_KEY_HNSW_REFS, refs);
			HnswPartInitShared(shared, npart, ncells, arena_size);
			SharedFileSetInit(&shared->fileset, pcxt->seg);
		}
		if (debug_query_string)
		{
			char	   *q = shm_toc_allocate(pcxt->toc, strlen(debug_query_string) + 1);

			strcpy(q, debug_query_string);
			shm_toc_insert(pcxt->toc, PARALLEL_KEY_QUERY_TEXT, q);
		}
		LaunchParallelWorkers(pcxt);
		nparticipants = pcxt->nworkers_launched + 1;
		ereport(DEBUG1,
				(errmsg_internal("hnsw build of \"%s\": %d of %d parallel workers launched",
								 RelationGetRelationName(index),
								 pcxt->nworkers_launched, nworkers)));

		init_participant(&bs, heap, index, shared, arena, quant_params, true);
		if (npart > 0)
		{
			bs.fileset = &shared->fileset;
			bs.cells = (const float *) cells;
			bs.cellpart = (const uint16 *) (cells + sizeof(float) * (Size) ncells * info.dimensions);
			bs.refs = refs;
		}
		participate(&bs, indexInfo,
					table_beginscan_parallel(heap, ParallelTableScanFromHnswShared(shared)));
		wait_for_participants(shared, nparticipants);
	}
	else
	{
		shared = palloc(sizeof(HnswShared));
		init_shared(shared, heap, index, &info, arena_format, arena_size,
					indexInfo->ii_Concurrent);
		arena = MemoryContextAllocHuge(CurrentMemoryContext, arena_size);
		init_participant(&bs, heap, index, shared, arena, quant_params, true);
		if (seed != NULL)
			HnswSeedBuildBegin(&bs, seed);
		if (npart > 0)
		{
			/* the files go when this segment does, on error too */
			HnswPartInitShared(shared, npart, ncells, arena_size);
			fileseg = dsm_create(sizeof(SharedFileSet), 0);
			bs.fileset = (SharedFileSet *) dsm_segment_address(fileseg);
			SharedFileSetInit(bs.fileset, fileseg);
			bs.cells = (const float *) cells;
			bs.cellpart = (const uint16 *) (cells + sizeof(float) * (Size) ncells * info.dimensions);
			nrefs = HnswPartRefs(&info, arena_format, arena_size);
			bs.refs = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(ElemRef) * nrefs);
		}
		participate(&bs, indexInfo, NULL);
		if (seed != NULL)
			HnswSeedLink(&bs);
	}

	/* every participant is done with the graph: write it */
	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, PROGRESS_HNSW_PHASE_WRITE);
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_TOTAL, shared->nelements);
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, 0);
	{
		HASHCTL		ctl;
		HTAB	   *keys;

		ctl.keysize = sizeof(uint32);
		ctl.entrysize = sizeof(HnswKeyDirEntry);
		ctl.hcxt = CurrentMemoryContext;
		keys = hash_create("hnsw build keys", 1024, &ctl,
						   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		if (npart > 0)
		{
			last_page = HnswPartBuild(&bs, nworkers + 1, nparticipants, keys,
								   &entry_tid, &entry_level);
			if (fileseg != NULL)
				dsm_detach(fileseg);
		}
		else
		{
			HnswBuildConnectUnreachable(&bs);
			place_elements(&bs);
			last_page = write_elements(&bs, keys);
			if (shared->entry != NO_ELEM)
			{
				entry_tid = elem(&bs, shared->entry)->tid;
				entry_level = shared->maxlevel;
			}
		}
		if (info.haskey)
			write_keydir(index, keys, &quant);
		hash_destroy(keys);
	}
	write_meta(index, MAIN_FORKNUM, &info, &quant,
			   entry_level >= 0 ? &entry_tid : NULL, entry_level,
			   last_page != InvalidBlockNumber ? last_page : InvalidBlockNumber,
			   (uint64) shared->indtuples, false, false);
	nblocks = RelationGetNumberOfBlocks(index);
	if (RelationNeedsWAL(index))
		log_newpage_range(index, MAIN_FORKNUM, 0, nblocks, true);

	/* rows that did not fit: inserted now, by everybody who kept some */
	SpinLockAcquire(&shared->mutex);
	shared->written = true;
	SpinLockRelease(&shared->mutex);
	ConditionVariableBroadcast(&shared->cv);
	if (npart > 0 && shared->nspilled > 0)
		ereport(NOTICE,
				(errmsg_plural("hnsw index build found no room in its partitions for %lu row",
							   "hnsw index build found no room in its partitions for %lu rows",
							   (unsigned long) shared->nspilled,
							   (unsigned long) shared->nspilled),
				 errdetail("These rows are inserted after the graph is written, one at a time, which is slower."),
				 errhint("A larger maintenance_work_mem makes the build faster.")));
	else if (npart == 0 && bs.spill != NULL)
		ereport(NOTICE,
				(errmsg("hnsw index build exceeded maintenance_work_mem after %u rows",
						shared->nelements),
				 errdetail("The other rows are inserted after the graph is written, one at a time, which is slower."),
				 errhint("A larger maintenance_work_mem makes the build faster.")));
	insert_spilled(&bs);

	if (pcxt != NULL)
		WaitForParallelWorkersToFinish(pcxt);
	/*
	 * One-at-a-time inserts can leave elements no search reaches, and so
	 * can partitions that share no rows.
	 */
	if (shared->nspilled > 0 || npart > 0)
		HnswRepairReachability(index, NULL);
	/* a seed serves one build */
	if (seed != NULL)
		HnswSeedForget(RelationGetRelid(heap));
	result = palloc(sizeof(IndexBuildResult));
	result->heap_tuples = shared->reltuples;
	result->index_tuples = shared->indtuples + shared->nspilled;
	if (pcxt != NULL)
	{
		if (IsMVCCSnapshot(snapshot))
			UnregisterSnapshot(snapshot);
		DestroyParallelContext(pcxt);
		ExitParallelMode();
	}
	return result;
}

/* The init fork of an unlogged index: an empty metapage. */
void
hnswbuildempty(Relation index)
{
	HnswIndexInfo info;
	int			dimensions = column_dimensions(index);
	HnswMetaPageData quant;

	init_info(index, &info, Max(dimensions, 0));
	memset(&quant, 0, sizeof(quant));
	quant.quant_params = InvalidBlockNumber;
	quant.keydir_first = InvalidBlockNumber;
	write_meta(index, INIT_FORKNUM, &info, NULL, NULL, -1, InvalidBlockNumber, 0, true, true);
	if (info.format == HNSW_FORMAT_SQ8 && dimensions > 0)
	{
		QuantSq8	sq8;

		/* no rows to learn from: the default ranges */
		QuantSq8Train(&sq8, dimensions, NULL, 0);
		quant.quant_params = HnswWriteQuantParams(index, INIT_FORKNUM, dimensions,
												  sq8.lo, sq8.step, true);
	}
	else if (info.format == HNSW_FORMAT_BIT && dimensions > 0)
	{
		QuantBit	bit;

		QuantBitTrain(&bit, dimensions, NULL, 0);
		quant.quant_params = HnswWriteQuantParams(index, INIT_FORKNUM, dimensions,
												  bit.mean, bit.dev, true);
	}
	else if (info.format == HNSW_FORMAT_RBIT && dimensions > 0)
	{
		QuantRbit	rbit;
		Size		len;
		char	   *blob;

		QuantRbitTrain(&rbit, dimensions, NULL, 0);
		len = QuantRbitParamsSize(dimensions, rbit.ncent);
		blob = palloc(len);
		QuantRbitWriteParams(&rbit, blob);
		HnswWriteOverflow(index, INIT_FORKNUM, blob, len, &quant.quant_params, true);
	}
	if (info.haskey)
	{
		quant.keydir_nbuckets = HNSW_KEYDIR_MIN_BUCKETS;
		quant.keydir_first = HnswKeyDirCreate(index, INIT_FORKNUM, quant.keydir_nbuckets,
											  NULL, 0, true);
	}
	if (quant.quant_params != InvalidBlockNumber || info.haskey)
		write_meta(index, INIT_FORKNUM, &info, &quant, NULL, -1, InvalidBlockNumber, 0,
				   false, true);
}
