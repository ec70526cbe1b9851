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
 * or halfvec build may be partitioned instead (README: Build): k-means on
 * a sample gives cells, packed into partitions of equal weight; the scan
 * writes each row to a temporary file of the partition of its nearest
 * cell, and to the next partition as well when that is nearly as close,
 * so that neighbouring partitions share rows; the few rows of level two
 * and up go into every partition, and rows of level one and up to one more
 * file as well.  Then the
 * partitions are built one after the other in the same arena, by all
 * participants, and each is written to pages before the next is loaded;
 * a row's second copy only contributes its neighbour list, which is
 * merged into the first copy's at the end.  The upper levels are built
 * last, from their own file, as one graph.
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

#define PROGRESS_HNSW_PHASE_LOAD	2
#define PROGRESS_HNSW_PHASE_WRITE	3
#define PROGRESS_HNSW_PHASE_SAMPLE	4

#define PARALLEL_KEY_HNSW_SHARED	UINT64CONST(0xB5E0000000000001)
#define PARALLEL_KEY_HNSW_ARENA		UINT64CONST(0xB5E0000000000002)
#define PARALLEL_KEY_QUERY_TEXT		UINT64CONST(0xB5E0000000000003)
#define PARALLEL_KEY_HNSW_QUANT		UINT64CONST(0xB5E0000000000004)
#define PARALLEL_KEY_HNSW_CENTRES	UINT64CONST(0xB5E0000000000005)
#define PARALLEL_KEY_HNSW_REFS		UINT64CONST(0xB5E0000000000006)

/*
 * The partitioned build (a graph larger than maintenance_work_mem): most
 * partitions, the share of the arena a partition is planned to fill, the
 * share of rows planned to go into a second partition as well, how much
 * farther (squared distance) a second partition's nearest cell may be, how full
 * second copies may make a partition, and how much farther the partition
 * of a row whose own is full may be.
 */
#define PART_MAX			256
#define PART_NONE			0xFFFF
#define PART_FILL			0.85
#define PART_OVERLAP		0.5
#define PART_SECOND_RATIO	1.15f
#define PART_SECOND_FILL	0.92
#define PART_OVERFLOW_RATIO	1.5f

/*
 * vecq.hnsw_partitioned_build = auto partitions only when one partition is
 * planned to hold this many rows: with 6,000-row partitions recall@10 at
 * ef_search 40 fell from 0.97 to 0.91 on synthetic 100,000 x 128 data,
 * with 50,000 it matched the single graph's (src/hnsw/README, Build).
 */
#define PART_AUTO_MIN_ROWS	20000

/*
 * Rows of this level and above are hubs: built into every partition, their
 * level-0 lists the nearest neighbours from each, so that a search at
 * level 0 can go from any partition to any other.
 */
#define PART_HUB_LEVEL		2

/*
 * Cells per partition, most cells, and how much heavier than the mean a
 * partition may be packed (part_cells).
 */
#define PART_CELLS			8
#define PART_MAX_CELLS		512
#define PART_BALANCE		1.04

/* the cells' centres, then each cell's partition */
#define part_layout_size(ncells, dim) \
	(sizeof(float) * (Size) (ncells) * (dim) + sizeof(uint16) * (Size) (ncells))
#define PHASE_FINISHED		0xFFFFFFFF

/* most rows, and most bytes, the SQ8 training sample takes */
#define SAMPLE_MAX_ROWS		30000
#define SAMPLE_MAX_BYTES	((Size) 64 * 1024 * 1024)

/* an element's address: its offset in the arena, in units of 8 bytes */
typedef uint32 ElemRef;

#define ARENA_UNIT		8
#define NO_ELEM			((ElemRef) 0xFFFFFFFF)

/*
 * One element in the arena; followed by ids[] and its data: the vector or
 * its code, as element tuples hold it.  Distances to the neighbours are not
 * kept (a quarter of the memory at 128 dimensions): pruning a full list
 * computes them again.
 */
typedef struct BuildElem
{
	LWLock		lock;			/* guards counts and ids */
	ItemPointerData heaptid;
	uint8		level;
	bool		overflow;		/* vector goes to overflow pages */
	bool		clamped;		/* code had values outside the ranges */
	bool		primary;		/* partitioned build: this copy is written */
	uint16		other;			/* partitioned build: the row's other
								 * partition, or PART_NONE */
	uint32		ordinal;		/* 0, 1, 2, ... in order of allocation */
	uint32		filterkey;		/* hash of the row's key, or 0 */
	ItemPointerData tid;		/* element tuple, once placed */
	ItemPointerData neighbortid;
	BlockNumber overflow_first;
	uint32		gid;			/* partitioned build: the row's number */
	uint8		counts[HNSW_MAX_LEVEL + 1];
} BuildElem;

/* State shared by all participants, at the start of the DSM (or local). */
typedef struct HnswShared
{
	/* set before the scan starts */
	Oid			heaprelid;
	Oid			indexrelid;
	bool		isconcurrent;
	HnswIndexInfo info;			/* the index's (sq8 pointer unset) */
	HnswFormat	arena_format;	/* what the arena holds: info.format, or
								 * sq8 codes for a float4 index whose graph
								 * would not fit in memory otherwise */
	Size		arena_size;
	Size		elem_header;	/* MAXALIGN(sizeof(BuildElem)) */
	Size		datasize;		/* bytes of an element's data */
	int			tranche;

	LWLock		entrylock;		/* guards entry and maxlevel */
	ElemRef		entry;
	int			maxlevel;

	slock_t		mutex;			/* guards the rest */
	Size		used;			/* bytes of the arena handed out */
	uint32		nelements;
	bool		full;			/* a record did not fit */
	double		reltuples;
	double		indtuples;		/* rows in the in-memory graph */
	double		nspilled;		/* rows inserted after it was written */
	int			nparticipantsdone;
	bool		written;		/* the leader has written the pages */
	ConditionVariable cv;

	/* the partitioned build (see "partitioned build" below) */
	bool		partitioned;
	int			npart;
	int			ncells;			/* cells the rows are sorted by */
	Size		part_capacity;	/* arena bytes one partition may take */
	pg_atomic_uint32 next_gid;	/* rows numbered so far */
	pg_atomic_uint64 part_used[PART_MAX];	/* arena bytes claimed */
	uint32		phase;			/* link phase, or PHASE_FINISHED; mutex */
	uint32		phase_nitems;	/* elements to link in this phase */
	int			phase_done;		/* participants done with it; mutex */
	pg_atomic_uint32 phase_next;	/* next element to claim */
	SharedFileSet fileset;		/* partitions' rows, parallel builds */

	/* ParallelTableScanDescData follows, for parallel builds */
} HnswShared;

#define ParallelTableScanFromHnswShared(shared) \
	((ParallelTableScanDesc) ((char *) (shared) + BUFFERALIGN(sizeof(HnswShared))))

/* One participant's view of the build. */
typedef struct HnswBuildState
{
	Relation	heap;
	Relation	index;
	HnswShared *shared;
	char	   *arena;
	const HnswIndexInfo *info;	/* &localinfo: the arena's view */
	HnswIndexInfo localinfo;	/* shared->info, format of the arena */
	const HnswIndexInfo *iinfo; /* &indexinfo: what pages hold */
	HnswIndexInfo indexinfo;
	IndexInfo  *indexInfo;		/* leader: to read rows again */
	QuantSq8	sq8;
	QuantBit	bit;
	QuantRbit	rbit;
	float	   *vecbuf;			/* the row being inserted, prepared */
	HnswQuery	query;			/* for the row being inserted */
	HnswQuery	nquery;			/* for neighbour selection */
	HnswQuery	pquery;			/* for an element whose list is pruned */
	ElemRef		self;			/* the element being inserted */
	bool		leader;
	MemoryContext buildcxt;		/* lives as long as the build */
	MemoryContext tmpcxt;		/* reset per heap tuple */

	/* search scratch */
	uint32	   *visited;		/* per ordinal: stamp of last visit */
	uint32		maxvisited;
	uint32		stamp;
	struct BuildCand *cand;
	struct BuildCand *top;
	int			maxheap;

	/* partitioned build */
	SharedFileSet *fileset;
	const float *cells;			/* ncells * dimensions */
	const uint16 *cellpart;		/* each cell's partition */
	ElemRef    *refs;			/* the phase's elements, in load order */
	int			pnum;			/* participant number: leader 0 */
	BufFile    *rfiles[PART_MAX];	/* rows of each partition */
	BufFile    *mfiles[PART_MAX];	/* their headers alone */
	BufFile    *ufile;			/* rows of level 1 and above */
	char	   *databuf;		/* a row's element data */

	Tuplestorestate *spill;		/* rows that found the arena full */
	TupleDesc	spilldesc;
	double		indtuples;		/* rows this participant indexed */
	double		spilled;
	pg_prng_state prng;
} HnswBuildState;

typedef struct BuildCand
{
	float		dist;
	ElemRef		ref;
} BuildCand;

PGDLLEXPORT void hnsw_parallel_build_main(dsm_segment *seg, shm_toc *toc);

/* ---------------- the arena ---------------- */

static inline BuildElem *
elem(HnswBuildState *bs, ElemRef ref)
{
	return (BuildElem *) (bs->arena + (Size) ref * ARENA_UNIT);
}

static inline ElemRef *
elem_ids(HnswBuildState *bs, BuildElem *e)
{
	return (ElemRef *) ((char *) e + bs->shared->elem_header);
}

static inline char *
elem_data(HnswBuildState *bs, BuildElem *e)
{
	return (char *) MAXALIGN(elem_ids(bs, e) + HNSW_NEIGHBOR_SLOTS(e->level, bs->info->m));
}

static Size
elem_size(const HnswShared *shared, int level)
{
	return MAXALIGN(shared->elem_header +
					MAXALIGN(sizeof(ElemRef) * HNSW_NEIGHBOR_SLOTS(level, shared->info.m)) +
					shared->datasize);
}

/* Claim a record for an element of this level; NULL when the arena is full. */
static BuildElem *
arena_alloc(HnswBuildState *bs, int level, ElemRef *ref)
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

/* ---------------- the graph ---------------- */

static inline float
dist_to(const HnswQuery *q, HnswBuildState *bs, BuildElem *e)
{
	return (float) HnswQueryDistance(q, elem_data(bs, e));
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
static int
cmp_cand(const void *a, const void *b)
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
static int
select_neighbors(HnswBuildState *bs, BuildCand *c, int n, int max)
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
		qsort(c, cap + 1, sizeof(BuildCand), cmp_cand);
		kept = select_neighbors(bs, c, cap + 1, cap);
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
static void
graph_insert(HnswBuildState *bs, ElemRef ref)
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
		qsort(sorted, ntop, sizeof(BuildCand), cmp_cand);

		/*
		 * A new element takes m neighbours on every level; level-0 lists
		 * grow to 2m through the links of later elements.  (Starting them
		 * full would make every later link prune the list: half the build
		 * time, for no recall we could measure.)
		 */
		kept = select_neighbors(bs, sorted, ntop, bs->info->m);
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
static void
spill_row(HnswBuildState *bs, ItemPointer tid, Datum value, uint32 filterkey)
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


/* ---------------- partitioned build: the scan ---------------- */

/*
 * A row of a partition file: this header, then (in the row files, not in
 * the header files) the element data.
 */
typedef struct PartRow
{
	uint32		gid;			/* the row's number */
	uint32		filterkey;
	ItemPointerData heaptid;
	uint8		level;
	uint8		primary;		/* this copy is the one written */
	uint16		other;			/* the row's other partition, or PART_NONE */
} PartRow;

static BufFile *
part_file(HnswBuildState *bs, BufFile **slot, const char *kind, int part)
{
	if (*slot == NULL)
	{
		char		name[64];
		MemoryContext old = MemoryContextSwitchTo(bs->buildcxt);

		snprintf(name, sizeof(name), "hnsw%s.%d.%d", kind, part, bs->pnum);
		*slot = BufFileCreateFileSet(&bs->fileset->fs, name);
		MemoryContextSwitchTo(old);
	}
	return *slot;
}

/* Claim size bytes of partition p's arena, up to cap; false if full. */
static bool
part_claim(HnswShared *shared, int p, Size size, Size cap)
{
	uint64		old = pg_atomic_fetch_add_u64(&shared->part_used[p], size);

	if (old + size <= cap)
		return true;
	pg_atomic_fetch_sub_u64(&shared->part_used[p], size);
	return false;
}

static void
part_write_row(HnswBuildState *bs, int p, PartRow *row)
{
	BufFile    *r = part_file(bs, &bs->rfiles[p], "r", p);

	BufFileWrite(r, row, sizeof(PartRow));
	BufFileWrite(r, bs->databuf, bs->shared->datasize);
	BufFileWrite(part_file(bs, &bs->mfiles[p], "m", p), row, sizeof(PartRow));
}

/*
 * A row of a partitioned build: numbered, and written to the partition of
 * its nearest cell if that has room, and to the next partition as well
 * when that one's nearest cell is almost as near (rows near a border link
 * to both sides); a hub to every partition; rows of level 1 and above go
 * to the upper file too.  A row no near partition has room for is kept
 * for the one-at-a-time insert.
 */
static void
part_scan_row(HnswBuildState *bs, ItemPointer tid, const float *x, uint32 filterkey)
{
	HnswShared *shared = bs->shared;
	const HnswIndexInfo *info = bs->info;
	int			dim = info->dimensions;
	int			npart = shared->npart;
	int			level = HnswRandomLevel(info->m, &bs->prng);
	Size		size = elem_size(shared, level);
	float		d[PART_MAX];
	int			order[PART_MAX];
	int			first = -1;
	int			second = -1;
	PartRow		row;

	if (!HnswPrepareVector(info->metric, x, bs->vecbuf, dim))
		return;					/* a zero vector under cosine */
	/* each partition's distance: that of its nearest cell */
	for (int p = 0; p < npart; p++)
		d[p] = get_float4_infinity();
	for (int i = 0; i < shared->ncells; i++)
	{
		float		di = (float) VecqKernels.l2_squared_approx(bs->vecbuf, bs->cells + (Size) i * dim, dim);
		int			p = bs->cellpart[i];

		if (di < d[p])
			d[p] = di;
	}
	for (int p = 0; p < npart; p++)
	{
		int			k = p;

		while (k > 0 && d[order[k - 1]] > d[p])
		{
			order[k] = order[k - 1];
			k--;
		}
		order[k] = p;
	}
	/*
	 * A row whose own partition is full goes to the next one with room
	 * only if that is not much farther: one far away would give it
	 * neighbours that are not its own.
	 */
	for (int i = 0; i < npart && first < 0; i++)
	{
		if (i > 0 && d[order[i]] > PART_OVERFLOW_RATIO * d[order[0]])
			break;
		if (part_claim(shared, order[i], size, shared->part_capacity))
			first = order[i];
	}
	if (first < 0)
	{
		bytea	   *copy = palloc(VARHDRSZ + HnswVectorSize(info));

		SET_VARSIZE(copy, VARHDRSZ + HnswVectorSize(info));
		memcpy(VARDATA(copy), bs->vecbuf, HnswVectorSize(info));
		spill_row(bs, tid, PointerGetDatum(copy), filterkey);
		return;
	}
	for (int i = 0; i < npart && level < PART_HUB_LEVEL; i++)
	{
		int			p = order[i];

		if (p == first)
			continue;
		if (d[p] <= PART_SECOND_RATIO * d[first] &&
			part_claim(shared, p, size, (Size) (shared->part_capacity * PART_SECOND_FILL)))
			second = p;
		break;
	}

	(void) HnswEncodeData(info, bs->vecbuf, bs->databuf);
	row.gid = pg_atomic_fetch_add_u32(&shared->next_gid, 1);
	row.filterkey = filterkey;
	row.heaptid = *tid;
	row.level = (uint8) level;
	row.primary = 1;
	row.other = second >= 0 ? (uint16) second : PART_NONE;
	if (level >= PART_HUB_LEVEL)
		row.other = (uint16) first;
	part_write_row(bs, first, &row);
	if (second >= 0)
	{
		row.primary = 0;
		row.other = (uint16) first;
		part_write_row(bs, second, &row);
	}
	/* a hub: in every partition, linking them all */
	for (int p = 0; p < npart && level >= PART_HUB_LEVEL; p++)
	{
		if (p == first || !part_claim(shared, p, size, shared->part_capacity))
			continue;
		row.primary = 0;
		row.other = (uint16) first;
		part_write_row(bs, p, &row);
	}
	if (level > 0)
	{
		BufFile    *u = part_file(bs, &bs->ufile, "u", 0);

		row.primary = 1;
		BufFileWrite(u, &row, sizeof(PartRow));
		BufFileWrite(u, bs->databuf, shared->datasize);
	}
	bs->indtuples++;
}

/* After the scan: every file this participant wrote is complete. */
static void
part_close_files(HnswBuildState *bs)
{
	for (int p = 0; p < PART_MAX; p++)
	{
		if (bs->rfiles[p])
			BufFileClose(bs->rfiles[p]);
		if (bs->mfiles[p])
			BufFileClose(bs->mfiles[p]);
		bs->rfiles[p] = bs->mfiles[p] = NULL;
	}
	if (bs->ufile)
		BufFileClose(bs->ufile);
	bs->ufile = NULL;
}

static void
build_callback(Relation index, ItemPointer tid, Datum *values,
			   bool *isnull, bool tupleIsAlive, void *state)
{
	HnswBuildState *bs = (HnswBuildState *) state;
	const HnswIndexInfo *info = bs->info;
	MemoryContext old;
	const float *x;
	int			level;
	BuildElem  *e;
	ElemRef		ref;
	uint32		filterkey;

	if (isnull[0])
		return;
	old = MemoryContextSwitchTo(bs->tmpcxt);
	x = HnswDatumData(info, values[0]);
	filterkey = info->haskey ? HnswKeyHash(index, values[1], isnull[1]) : 0;

	if (bs->shared->partitioned)
	{
		part_scan_row(bs, tid, x, filterkey);
		goto done;
	}
	level = HnswRandomLevel(info->m, &bs->prng);
	e = arena_alloc(bs, level, &ref);
	if (e == NULL)
	{
		/* prepared in a copy: x may point into a shared buffer */
		bytea	   *copy = palloc(VARHDRSZ + HnswVectorSize(info));

		SET_VARSIZE(copy, VARHDRSZ + HnswVectorSize(info));
		/* a zero vector under cosine is not indexed either way */
		if (HnswPrepareVector(info->metric, x, (float *) VARDATA(copy), info->dimensions))
			spill_row(bs, tid, PointerGetDatum(copy), filterkey);
	}
	else
	{
		e->heaptid = *tid;
		e->filterkey = filterkey;
		e->overflow = !HnswElementDataInline(bs->iinfo, level);
		if (HnswPrepareVector(info->metric, x, bs->vecbuf, info->dimensions))
		{
			e->clamped = HnswEncodeData(info, bs->vecbuf, elem_data(bs, e));
			HnswQuerySet(&bs->query, bs->vecbuf);
			graph_insert(bs, ref);
			bs->indtuples++;
		}
		else
		{
			/* unlinked: marked so that the writer skips it */
			ItemPointerSetInvalid(&e->heaptid);
		}
	}
done:
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
		part_close_files(bs);
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
static void
connect_unreachable(HnswBuildState *bs)
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
					qsort(found, nfound, sizeof(BuildCand), cmp_cand);
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

/* ---------------- writing pages ---------------- */

/* Simulated page fill, mirroring PageAddItem on a fresh page. */
typedef struct PlaceState
{
	BlockNumber next_block;		/* next block the relation will get */
	BlockNumber page;			/* current data page, or Invalid */
	Size		lower;
	Size		upper;
	OffsetNumber nitems;
} PlaceState;

static void
place_open(PlaceState *ps)
{
	ps->page = ps->next_block++;
	ps->lower = SizeOfPageHeaderData;
	ps->upper = BLCKSZ - MAXALIGN(sizeof(HnswPageOpaqueData));
	ps->nitems = 0;
}

static bool
place_fits(PlaceState *ps, Size a, Size b)
{
	return ps->page != InvalidBlockNumber &&
		ps->lower + 2 * sizeof(ItemIdData) + MAXALIGN(a) + MAXALIGN(b) <= ps->upper;
}

static OffsetNumber
place_item(PlaceState *ps, Size size)
{
	ps->lower += sizeof(ItemIdData);
	ps->upper -= MAXALIGN(size);
	return ++ps->nitems;
}

static Size
tuple_size_of(HnswBuildState *bs, bool overflow)
{
	return overflow ? HNSW_ELEMENT_TUPLE_SIZE(sizeof(HnswOverflowRef))
		: HNSW_ELEMENT_TUPLE_SIZE(HnswElementDataSize(bs->iinfo));
}

static Size
element_tuple_size(HnswBuildState *bs, BuildElem *e)
{
	return tuple_size_of(bs, e->overflow);
}

static BlockNumber
overflow_pages(HnswBuildState *bs)
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
		Size		esize = element_tuple_size(bs, e);
		Size		nsize = HNSW_NEIGHBOR_TUPLE_SIZE(e->level, bs->info->m);

		if (e->overflow)
		{
			e->overflow_first = ps.next_block;
			ps.next_block += overflow_pages(bs);
		}
		if (!place_fits(&ps, esize, nsize))
			place_open(&ps);
		ItemPointerSet(&e->tid, ps.page, place_item(&ps, esize));
		ItemPointerSet(&e->neighbortid, ps.page, place_item(&ps, nsize));
	}
}

static void
add_item(Relation index, Page page, void *item, Size size, OffsetNumber expect)
{
	if (PageAddItem(page, (Item) item, size, InvalidOffsetNumber, false, false) != expect)
		elog(ERROR, "could not place a tuple in index \"%s\"",
			 RelationGetRelationName(index));
}

/*
 * Reading an element's row again by heap TID, for an arena that held codes
 * of a float4 index.  Any version the TID leads to will do: a HOT chain's
 * versions all have the same indexed vector.
 */
typedef struct RowReader
{
	HnswBuildState *bs;
	IndexFetchTableData *fetch;
	TupleTableSlot *slot;
	EState	   *estate;
	MemoryContext cxt;
} RowReader;

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

/*
 * Writing element and neighbour tuples to data pages in block order: the
 * page being filled (locked), and the tuples' scratch space.
 */
typedef struct PageWriter
{
	HnswBuildState *bs;
	Buffer		buf;
	Page		page;
	BlockNumber current;
	HnswElementTuple etup;
	HnswNeighborTuple ntup;
	HTAB	   *keys;			/* filterkey -> HnswKeyDirEntry */
	int64		done;
} PageWriter;

static void
page_writer_begin(PageWriter *w, HnswBuildState *bs, HTAB *keys)
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
static BlockNumber
page_writer_end(PageWriter *w)
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
static void
write_element(PageWriter *w, BuildElem *e, const char *data, const ItemPointerData *slots)
{
	HnswBuildState *bs = w->bs;
	const HnswIndexInfo *info = bs->iinfo;
	Size		datalen = HnswElementDataSize(info);
	Size		esize = element_tuple_size(bs, e);
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
	page_writer_begin(&w, bs, keys);
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
		write_element(&w, e, data, slots);
	}
	last = page_writer_end(&w);
	if (reread)
		row_reader_end(&reader);
	return last;
}

/* ---------------- partitioned build: linking and writing ---------------- */

/*
 * The rows are split by their nearest cell (k-means on the sample) into
 * partitions that each fit in the arena; rows near a border go into two.
 * Each partition in turn is loaded into the arena, linked by every
 * participant as an in-memory build would, and its rows' level-0 lists are
 * written to the pages; the rows of level 1 and above then make one more
 * graph, whose lists are the index's upper levels.  Every row's place in
 * the index is computed before anything is written, so a list can name an
 * element of a partition not yet written.  A row in two partitions is
 * written once; the list the other partition gave it is merged into its
 * neighbour tuple at the end.
 */

/* Link the phase's elements that this participant claims. */
static void
link_claimed(HnswBuildState *bs)
{
	HnswShared *shared = bs->shared;

	for (;;)
	{
		uint32		i = pg_atomic_fetch_add_u32(&shared->phase_next, 1);
		BuildElem  *e;
		MemoryContext old;

		if (i >= shared->phase_nitems)
			break;
		CHECK_FOR_INTERRUPTS();
		e = elem(bs, bs->refs[i]);
		old = MemoryContextSwitchTo(bs->tmpcxt);
		HnswQuerySetData(&bs->query, elem_data(bs, e));
		graph_insert(bs, bs->refs[i]);
		MemoryContextSwitchTo(old);
		MemoryContextReset(bs->tmpcxt);
	}
	SpinLockAcquire(&shared->mutex);
	shared->phase_done++;
	SpinLockRelease(&shared->mutex);
	ConditionVariableBroadcast(&shared->cv);
}

/* Workers: link the elements of every phase the leader starts. */
static void
link_phases(HnswBuildState *bs)
{
	HnswShared *shared = bs->shared;
	uint32		seen = 0;

	for (;;)
	{
		uint32		phase;

		for (;;)
		{
			SpinLockAcquire(&shared->mutex);
			phase = shared->phase;
			SpinLockRelease(&shared->mutex);
			if (phase != seen)
				break;
			ConditionVariableSleep(&shared->cv, WAIT_EVENT_PARALLEL_CREATE_INDEX_SCAN);
		}
		ConditionVariableCancelSleep();
		if (phase == PHASE_FINISHED)
			break;
		seen = phase;
		link_claimed(bs);
	}
}

/* Leader: link the n elements loaded (bs->refs), with everybody's help. */
static void
run_phase(HnswBuildState *bs, uint32 n, int nparticipants)
{
	HnswShared *shared = bs->shared;

	pg_atomic_write_u32(&shared->phase_next, 0);
	SpinLockAcquire(&shared->mutex);
	shared->phase_nitems = n;
	shared->phase_done = 0;
	shared->phase++;
	SpinLockRelease(&shared->mutex);
	ConditionVariableBroadcast(&shared->cv);
	link_claimed(bs);
	for (;;)
	{
		bool		done;

		SpinLockAcquire(&shared->mutex);
		done = shared->phase_done >= nparticipants;
		SpinLockRelease(&shared->mutex);
		if (done)
			break;
		ConditionVariableSleep(&shared->cv, WAIT_EVENT_PARALLEL_CREATE_INDEX_SCAN);
	}
	ConditionVariableCancelSleep();
}

static void
finish_phases(HnswShared *shared)
{
	SpinLockAcquire(&shared->mutex);
	shared->phase = PHASE_FINISHED;
	SpinLockRelease(&shared->mutex);
	ConditionVariableBroadcast(&shared->cv);
}

/* An empty arena for the next phase. */
static void
arena_reset(HnswShared *shared)
{
	shared->used = 0;
	shared->nelements = 0;
	shared->full = false;
	shared->entry = NO_ELEM;
	shared->maxlevel = -1;
}

static BufFile *
open_part_file(HnswBuildState *bs, const char *kind, int part, int pnum)
{
	char		name[64];

	snprintf(name, sizeof(name), "hnsw%s.%d.%d", kind, part, pnum);
	return BufFileOpenFileSet(&bs->fileset->fs, name, O_RDONLY, true);
}

static bool
read_exact(BufFile *f, void *buf, size_t len)
{
	size_t		got = BufFileRead(f, buf, len);

	if (got == 0)
		return false;
	if (got != len)
		elog(ERROR, "could not read a partition file of an hnsw index build: read only %zu of %zu bytes",
			 got, len);
	return true;
}

/*
 * Every row's element tuple place (tids[gid]): partitions in order, the
 * rows written in each (its primary copies) in the order of its files,
 * as part_write_partition writes them.
 */
static void
part_place(HnswBuildState *bs, int nfiles, ItemPointerData *tids, PlaceState *ps)
{
	for (int p = 0; p < bs->shared->npart; p++)
		for (int f = 0; f < nfiles; f++)
		{
			BufFile    *file = open_part_file(bs, "m", p, f);
			PartRow		row;

			if (file == NULL)
				continue;
			while (read_exact(file, &row, sizeof(row)))
			{
				bool		overflow = !HnswElementDataInline(bs->iinfo, row.level);
				Size		esize = tuple_size_of(bs, overflow);
				Size		nsize = HNSW_NEIGHBOR_TUPLE_SIZE(row.level, bs->info->m);

				if (!row.primary)
					continue;
				if (overflow)
					ps->next_block += overflow_pages(bs);
				if (!place_fits(ps, esize, nsize))
					place_open(ps);
				ItemPointerSet(&tids[row.gid], ps->page, place_item(ps, esize));
				(void) place_item(ps, nsize);
			}
			BufFileClose(file);
		}
}

/*
 * Load the rows of files kind/part (all participants') into the empty
 * arena; levels are lowered by "lower" (1 for the upper graph).  Returns
 * how many.
 */
static uint32
part_load(HnswBuildState *bs, const char *kind, int part, int nfiles, int lower)
{
	HnswShared *shared = bs->shared;
	uint32		n = 0;
	PartRow		row;

	arena_reset(shared);
	for (int f = 0; f < nfiles; f++)
	{
		BufFile    *file = open_part_file(bs, kind, part, f);

		if (file == NULL)
			continue;
		while (read_exact(file, &row, sizeof(row)))
		{
			ElemRef		ref;
			BuildElem  *e = arena_alloc(bs, row.level - lower, &ref);

			if (e == NULL && lower > 0)
			{
				/*
				 * The upper graph is larger than the arena: the rest of its
				 * rows stay without upper links (the reachability repair at
				 * the end links them).
				 */
				if (BufFileSeek(file, 0, shared->datasize, SEEK_CUR) != 0)
					elog(ERROR, "could not seek in a partition file of an hnsw index build");
				continue;
			}
			if (e == NULL)
				elog(ERROR, "partition %d of hnsw index build of \"%s\" does not fit in maintenance_work_mem",
					 part, RelationGetRelationName(bs->index));
			if (!read_exact(file, elem_data(bs, e), shared->datasize))
				elog(ERROR, "partition file of hnsw index build of \"%s\" ends inside a row",
					 RelationGetRelationName(bs->index));
			e->heaptid = row.heaptid;
			e->filterkey = row.filterkey;
			e->gid = row.gid;
			e->primary = row.primary;
			e->other = row.other;
			e->overflow = !HnswElementDataInline(bs->iinfo, row.level);
			bs->refs[n++] = ref;
		}
		BufFileClose(file);
	}
	return n;
}

/* Sort e's level-0 list by distance to e (nearest first). */
static int
sorted_level0(HnswBuildState *bs, BuildElem *e, BuildCand *c)
{
	int			n = e->counts[0];

	HnswQuerySetData(&bs->pquery, elem_data(bs, e));
	for (int i = 0; i < n; i++)
	{
		c[i].ref = elem_ids(bs, e)[i];
		c[i].dist = dist_to(&bs->pquery, bs, elem(bs, c[i].ref));
	}
	qsort(c, n, sizeof(BuildCand), cmp_cand);
	return n;
}

/* A list another partition gave a row: merged into its tuple at the end. */
typedef struct PartPatch
{
	uint32		gid;
	uint16		n;
	uint16		hub;			/* appended, not interleaved */
	uint32		gids[2 * HNSW_MAX_M];
} PartPatch;

/*
 * Write partition part's rows (in arena order) with their level-0 lists;
 * the lists of rows written by another partition go to that partition's
 * patch file.
 */
static void
part_write_partition(HnswBuildState *bs, PageWriter *w, PlaceState *ps,
					 const ItemPointerData *tids, uint32 n, BufFile **patches)
{
	int			m = bs->info->m;
	ItemPointerData slots[HNSW_NEIGHBOR_SLOTS(HNSW_MAX_LEVEL, HNSW_MAX_M)];
	BuildCand	c[2 * HNSW_MAX_M];

	for (uint32 i = 0; i < n; i++)
	{
		BuildElem  *e = elem(bs, bs->refs[i]);
		int			level = e->level;
		int			nl;

		/* a copy's list is best nearest first, for the merge */
		if (e->other != PART_NONE)
		{
			nl = sorted_level0(bs, e, c);
			/* a hub keeps m of its own, and a share for each other partition */
			if (level >= PART_HUB_LEVEL && e->primary)
				nl = select_neighbors(bs, c, nl, m);
			else if (level >= PART_HUB_LEVEL)
				nl = Min(nl, Max(1, m / Max(bs->shared->npart - 1, 1)));
		}
		else
		{
			nl = e->counts[0];
			for (int j = 0; j < nl; j++)
				c[j].ref = elem_ids(bs, e)[j];
		}
		if (!e->primary)
		{
			PartPatch	patch;

			patch.gid = e->gid;
			patch.n = (uint16) nl;
			patch.hub = level >= PART_HUB_LEVEL;
			for (int j = 0; j < nl; j++)
				patch.gids[j] = elem(bs, c[j].ref)->gid;
			BufFileWrite(patches[e->other], &patch,
						 offsetof(PartPatch, gids) + sizeof(uint32) * nl);
			continue;
		}

		if (e->overflow)
		{
			e->overflow_first = ps->next_block;
			ps->next_block += overflow_pages(bs);
		}
		if (!place_fits(ps, element_tuple_size(bs, e), HNSW_NEIGHBOR_TUPLE_SIZE(e->level, m)))
			place_open(ps);
		ItemPointerSet(&e->tid, ps->page, place_item(ps, element_tuple_size(bs, e)));
		ItemPointerSet(&e->neighbortid, ps->page,
					   place_item(ps, HNSW_NEIGHBOR_TUPLE_SIZE(e->level, m)));
		if (!ItemPointerEquals(&e->tid, (ItemPointer) &tids[e->gid]))
			elog(ERROR, "element of hnsw index \"%s\" placed at (%u,%u), not (%u,%u)",
				 RelationGetRelationName(bs->index),
				 ItemPointerGetBlockNumber(&e->tid), ItemPointerGetOffsetNumber(&e->tid),
				 ItemPointerGetBlockNumber(&tids[e->gid]),
				 ItemPointerGetOffsetNumber(&tids[e->gid]));
		for (int s = 0; s < HNSW_NEIGHBOR_SLOTS(level, m); s++)
			ItemPointerSetInvalid(&slots[s]);
		for (int j = 0; j < nl; j++)
			slots[j] = tids[elem(bs, c[j].ref)->gid];
		write_element(w, e, elem_data(bs, e), slots);
	}
}

/* Lock and return the neighbour tuple of the element at etid. */
static HnswNeighborTuple
lock_neighbors(HnswBuildState *bs, ItemPointer etid, Buffer *buf)
{
	Page		page;
	OffsetNumber off = OffsetNumberNext(ItemPointerGetOffsetNumber(etid));
	HnswNeighborTuple ntup;

	*buf = ReadBuffer(bs->index, ItemPointerGetBlockNumber(etid));
	LockBuffer(*buf, BUFFER_LOCK_EXCLUSIVE);
	page = BufferGetPage(*buf);
	if (off > PageGetMaxOffsetNumber(page))
		elog(ERROR, "neighbour tuple of element (%u,%u) of hnsw index \"%s\" is missing",
			 ItemPointerGetBlockNumber(etid), ItemPointerGetOffsetNumber(etid),
			 RelationGetRelationName(bs->index));
	ntup = (HnswNeighborTuple) PageGetItem(page, PageGetItemId(page, off));
	if (ntup->type != HNSW_NEIGHBOR_TUPLE)
		elog(ERROR, "tuple after element (%u,%u) of hnsw index \"%s\" is not its neighbour tuple",
			 ItemPointerGetBlockNumber(etid), ItemPointerGetOffsetNumber(etid),
			 RelationGetRelationName(bs->index));
	return ntup;
}

/*
 * Merge a list of more neighbours into the level-0 list of a neighbour
 * tuple: one from each in turn, the tuple's first (with append, all of
 * the tuple's first), without repeats or self, up to cap.
 */
static void
merge_level0(HnswNeighborTuple ntup, ItemPointer self, const ItemPointerData *extra,
			 int nextra, int cap, bool append)
{
	ItemPointerData mine[2 * HNSW_MAX_M];
	ItemPointerData merged[2 * HNSW_MAX_M];
	int			nmine = 0;
	int			n = 0;
	int			i = 0,
				j = 0;

	while (nmine < cap && ItemPointerIsValid(&ntup->slots[nmine]))
	{
		mine[nmine] = ntup->slots[nmine];
		nmine++;
	}
	while (n < cap && (i < nmine || j < nextra))
	{
		for (int side = 0; side < 2 && n < cap; side++)
		{
			ItemPointerData t;

			if (side == 0)
			{
				if (i >= nmine)
					continue;
				t = mine[i++];
			}
			else
			{
				if (j >= nextra || (append && i < nmine))
					continue;
				t = extra[j++];
			}
			if (ItemPointerEquals(&t, self) || HnswTidsContain(merged, n, &t))
				continue;
			merged[n++] = t;
		}
	}
	for (int k = 0; k < cap; k++)
	{
		if (k < n)
			ntup->slots[k] = merged[k];
		else
			ItemPointerSetInvalid(&ntup->slots[k]);
	}
}

/*
 * Merge the lists of patch file part into the level-0 lists written: each
 * side's nearest first, taking turns, without repeats, up to 2m.
 */
static void
part_apply_patches(HnswBuildState *bs, BufFile *file, const ItemPointerData *tids)
{
	int			cap = 2 * bs->info->m;
	PartPatch	patch;

	while (read_exact(file, &patch, offsetof(PartPatch, gids)))
	{
		Buffer		buf;
		HnswNeighborTuple ntup;
		ItemPointerData extra[2 * HNSW_MAX_M];
		ItemPointer self = (ItemPointer) &tids[patch.gid];

		CHECK_FOR_INTERRUPTS();
		if (patch.n > cap ||
			(patch.n > 0 && !read_exact(file, patch.gids, sizeof(uint32) * patch.n)))
			elog(ERROR, "patch file of hnsw index build of \"%s\" is damaged",
				 RelationGetRelationName(bs->index));
		for (int k = 0; k < patch.n; k++)
			extra[k] = tids[patch.gids[k]];
		ntup = lock_neighbors(bs, self, &buf);
		merge_level0(ntup, self, extra, patch.n, cap, patch.hub != 0);
		MarkBufferDirty(buf);
		UnlockReleaseBuffer(buf);
	}
}

typedef struct UpperRef
{
	ItemPointerData tid;
	ElemRef		ref;
} UpperRef;

static int
cmp_upper(const void *a, const void *b)
{
	return ItemPointerCompare((ItemPointer) &((const UpperRef *) a)->tid,
							  (ItemPointer) &((const UpperRef *) b)->tid);
}

/*
 * The upper graph is linked (its level l is the index's level l + 1):
 * write its lists into the neighbour tuples, in block order.
 */
static void
part_write_upper(HnswBuildState *bs, uint32 n, const ItemPointerData *tids)
{
	int			m = bs->info->m;
	UpperRef   *order = palloc(sizeof(UpperRef) * Max(n, 1));

	for (uint32 i = 0; i < n; i++)
	{
		order[i].ref = bs->refs[i];
		order[i].tid = tids[elem(bs, bs->refs[i])->gid];
	}
	qsort(order, n, sizeof(UpperRef), cmp_upper);
	for (uint32 i = 0; i < n; i++)
	{
		BuildElem  *e = elem(bs, order[i].ref);
		Buffer		buf;
		HnswNeighborTuple ntup;

		CHECK_FOR_INTERRUPTS();
		ntup = lock_neighbors(bs, &order[i].tid, &buf);
		if (ntup->level != e->level + 1)
			elog(ERROR, "element (%u,%u) of hnsw index \"%s\" has level %d, not %d",
				 ItemPointerGetBlockNumber(&order[i].tid),
				 ItemPointerGetOffsetNumber(&order[i].tid),
				 RelationGetRelationName(bs->index), ntup->level, e->level + 1);
		for (int lc = 1; lc <= ntup->level; lc++)
		{
			int			first = HNSW_LEVEL_FIRST_SLOT(lc, m);
			int			afirst = HNSW_LEVEL_FIRST_SLOT(lc - 1, m);
			int			cnt = e->counts[lc - 1];

			/*
			 * Level 0 of the upper graph holds up to 2m, the index's level 1
			 * m.  The whole list goes into the index's level 0 as well: its
			 * lists were made inside one partition, and these links, to the
			 * nearest upper rows wherever they are, let a search at level 0
			 * cross into the next partition.
			 */
			if (lc == 1)
			{
				BuildCand	c[2 * HNSW_MAX_M];
				ItemPointerData extra[2 * HNSW_MAX_M];

				cnt = sorted_level0(bs, e, c);
				for (int k = 0; k < cnt; k++)
					extra[k] = tids[elem(bs, c[k].ref)->gid];
				/* a hub's level 0 has its own links everywhere */
				if (e->level + 1 < PART_HUB_LEVEL)
					merge_level0(ntup, &order[i].tid, extra, cnt, 2 * m, false);
				if (cnt > m)
					cnt = select_neighbors(bs, c, cnt, m);
				for (int k = 0; k < cnt; k++)
					elem_ids(bs, e)[afirst + k] = c[k].ref;
			}
			for (int k = 0; k < HNSW_LEVEL_SLOTS(lc, m); k++)
			{
				if (k < cnt)
					ntup->slots[first + k] = tids[elem(bs, elem_ids(bs, e)[afirst + k])->gid];
				else
					ItemPointerSetInvalid(&ntup->slots[first + k]);
			}
		}
		MarkBufferDirty(buf);
		UnlockReleaseBuffer(buf);
	}
	pfree(order);
}

/*
 * Leader, after the scan of a partitioned build: link and write every
 * partition, then the upper levels; returns the last data page and sets
 * the entry point.
 */
static BlockNumber
part_build(HnswBuildState *bs, int nfiles, int nparticipants, HTAB *keys,
		   ItemPointer entry, int *entry_level)
{
	HnswShared *shared = bs->shared;
	uint32		ngid = pg_atomic_read_u32(&shared->next_gid);
	ItemPointerData *tids;
	PlaceState	ps;
	PageWriter	w;
	BufFile   **patches = palloc0(sizeof(BufFile *) * shared->npart);
	BlockNumber last;
	uint32		nupper;
	uint32		ncopies = 0;
	ItemPointerData first_entry;

	ItemPointerSetInvalid(entry);
	ItemPointerSetInvalid(&first_entry);
	*entry_level = -1;
	tids = MemoryContextAllocHuge(CurrentMemoryContext,
								  sizeof(ItemPointerData) * (Size) Max(ngid, 1));
	for (uint32 g = 0; g < ngid; g++)
		ItemPointerSetInvalid(&tids[g]);
	ps.next_block = RelationGetNumberOfBlocks(bs->index);
	ps.page = InvalidBlockNumber;
	part_place(bs, nfiles, tids, &ps);

	ps.next_block = RelationGetNumberOfBlocks(bs->index);
	ps.page = InvalidBlockNumber;
	page_writer_begin(&w, bs, keys);
	for (int p = 0; p < shared->npart; p++)
	{
		char		name[64];

		snprintf(name, sizeof(name), "hnswp.%d", p);
		patches[p] = BufFileCreateFileSet(&bs->fileset->fs, name);
	}
	for (int p = 0; p < shared->npart; p++)
	{
		uint32		n;

		n = part_load(bs, "r", p, nfiles, 0);
		if (n == 0)
			continue;
		run_phase(bs, n, nparticipants);
		connect_unreachable(bs);
		if (!ItemPointerIsValid(&first_entry))
			first_entry = tids[elem(bs, shared->entry)->gid];
		{
			uint32		nc = 0;

			for (uint32 i = 0; i < n; i++)
				if (!elem(bs, bs->refs[i])->primary)
					nc++;
			ncopies += nc;
			elog(DEBUG2, "hnsw partition %d: %u rows, %u of them second copies", p, n, nc);
		}
		part_write_partition(bs, &w, &ps, tids, n, patches);
	}
	last = page_writer_end(&w);

	/* the levels above 0: one graph of the rows that have them */
	nupper = part_load(bs, "u", 0, nfiles, 1);
	if (nupper > 0)
	{
		run_phase(bs, nupper, nparticipants);
		connect_unreachable(bs);
	}
	finish_phases(shared);
	if (nupper > 0)
	{
		part_write_upper(bs, nupper, tids);
		*entry = tids[elem(bs, shared->entry)->gid];
		*entry_level = shared->maxlevel + 1;
	}
	else if (ItemPointerIsValid(&first_entry))
	{
		*entry = first_entry;
		*entry_level = 0;
	}

	/* lists that second copies got */
	for (int p = 0; p < shared->npart; p++)
	{
		BufFile    *file;
		char		name[64];

		BufFileClose(patches[p]);
		snprintf(name, sizeof(name), "hnswp.%d", p);
		file = BufFileOpenFileSet(&bs->fileset->fs, name, O_RDONLY, false);
		part_apply_patches(bs, file, tids);
		BufFileClose(file);
	}
	ereport(DEBUG2,
			(errmsg_internal("hnsw build of \"%s\": %u rows in %d partitions, %u rows in two, %u in the upper levels",
							 RelationGetRelationName(bs->index), ngid, shared->npart,
							 ncopies, nupper)));
	pfree(tids);
	pfree(patches);
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
		bs.cells = shm_toc_lookup(toc, PARALLEL_KEY_HNSW_CENTRES, false);
		bs.cellpart = (const uint16 *) (bs.cells + (Size) shared->ncells * shared->info.dimensions);
		bs.refs = shm_toc_lookup(toc, PARALLEL_KEY_HNSW_REFS, false);
	}
	scan = table_beginscan_parallel(heap, ParallelTableScanFromHnswShared(shared));
	participate(&bs, indexInfo, scan);
	if (shared->partitioned)
		link_phases(&bs);
	if (bs.spill != NULL)
	{
		wait_for_pages(shared);
		insert_spilled(&bs);
	}

	index_close(index, indexLockmode);
	table_close(heap, heapLockmode);
}

/* ---------------- SQ8 ranges ---------------- */

/* A uniform sample of the rows (reservoir sampling), prepared. */
typedef struct SampleState
{
	const HnswIndexInfo *info;
	int			max;			/* rows the sample holds */
	int			n;				/* rows in it */
	double		seen;			/* rows offered */
	float	   *rows;			/* max * dimensions */
	pg_prng_state prng;
	MemoryContext tmpcxt;
} SampleState;

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
static void
sample_rows(Relation heap, Relation index, IndexInfo *indexInfo, SampleState *ss)
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
	sample_rows(heap, index, indexInfo, &ss);
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

/*
 * Weighted k-means of n points (weights w, or all 1 when w is NULL) into k
 * centres c: greedy k-means++ seeding (each centre after the first the
 * best, by the sum of squared distances to the nearest centre, of ntries
 * points drawn with probability proportional to that distance, so that
 * well separated clusters each get one), then iters Lloyd iterations.
 * Sets assign[i] to point i's nearest centre.
 */
static void
kmeans(const float *x, const double *w, int n, int dim, int k, int iters,
	   int ntries, pg_prng_state *prng, float *c, int *assign)
{
	double	   *mind = palloc(sizeof(double) * n);
	double	   *cand = palloc(sizeof(double) * n);
	double	   *kept = palloc(sizeof(double) * n);
	double	   *sums = palloc(sizeof(double) * (Size) k * dim);
	double	   *mass = palloc(sizeof(double) * k);

	for (int p = 0; p < k; p++)
	{
		double		total = 0;
		double		besttotal = -1;
		int			bestj = 0;

		for (int i = 0; i < n && p > 0; i++)
			total += mind[i] * (w ? w[i] : 1);
		for (int t = 0; t < (p == 0 ? 1 : ntries); t++)
		{
			int			j = (int) pg_prng_uint64_range(prng, 0, n - 1);
			double		sum = 0;

			if (p > 0 && total > 0)
			{
				double		r = pg_prng_double(prng) * total;

				for (int i = 0; i < n; i++)
				{
					r -= mind[i] * (w ? w[i] : 1);
					if (r < 0)
					{
						j = i;
						break;
					}
				}
			}
			for (int i = 0; i < n; i++)
			{
				double		d = VecqKernels.l2_squared_approx(x + (Size) i * dim,
															 x + (Size) j * dim, dim);

				cand[i] = (p == 0 || d < mind[i]) ? d : mind[i];
				sum += cand[i] * (w ? w[i] : 1);
			}
			if (besttotal < 0 || sum < besttotal)
			{
				double	   *swap = kept;

				kept = cand;
				cand = swap;
				besttotal = sum;
				bestj = j;
			}
		}
		memcpy(c + (Size) p * dim, x + (Size) bestj * dim, sizeof(float) * dim);
		memcpy(mind, kept, sizeof(double) * n);
		CHECK_FOR_INTERRUPTS();
	}

	for (int iter = 0; iter <= iters; iter++)
	{
		CHECK_FOR_INTERRUPTS();
		memset(sums, 0, sizeof(double) * (Size) k * dim);
		memset(mass, 0, sizeof(double) * k);
		for (int i = 0; i < n; i++)
		{
			const float *xi = x + (Size) i * dim;
			double		wi = w ? w[i] : 1;
			int			best = 0;
			double		bestd = 0;

			for (int p = 0; p < k; p++)
			{
				double		d = VecqKernels.l2_squared_approx(xi, c + (Size) p * dim, dim);

				if (p == 0 || d < bestd)
				{
					best = p;
					bestd = d;
				}
			}
			assign[i] = best;
			mass[best] += wi;
			for (int q = 0; q < dim; q++)
				sums[(Size) best * dim + q] += wi * xi[q];
		}
		if (iter == iters)
			break;				/* the last pass only assigns */
		for (int p = 0; p < k; p++)
		{
			if (mass[p] <= 0)
			{
				int			j = (int) pg_prng_uint64_range(prng, 0, n - 1);

				memcpy(c + (Size) p * dim, x + (Size) j * dim, sizeof(float) * dim);
				continue;
			}
			for (int q = 0; q < dim; q++)
				c[(Size) p * dim + q] = (float) (sums[(Size) p * dim + q] / mass[p]);
		}
	}
	pfree(mind);
	pfree(cand);
	pfree(kept);
	pfree(sums);
	pfree(mass);
}

typedef struct CellPair
{
	double		d;
	int			cell;
	int			part;
} CellPair;

static int
cmp_cell_pair(const void *a, const void *b)
{
	const CellPair *x = a;
	const CellPair *y = b;

	if (x->d != y->d)
		return x->d < y->d ? -1 : 1;
	if (x->cell != y->cell)
		return x->cell < y->cell ? -1 : 1;
	return x->part < y->part ? -1 : (x->part > y->part);
}

/*
 * The cells of a partitioned build and the partition of each: k-means on
 * a sample of the prepared rows gives PART_CELLS cells per partition; the
 * cells, weighted by their share of the sample, are then packed into
 * npart partitions of about equal weight, each cell to the nearest
 * partition centre with room (closest pairs first), the centres moving to
 * their cells' weighted mean, a few times over.  A row then goes to the
 * partition of its nearest cell: the partitions are compact and the same
 * size, where plain k-means on clustered data gives some several times
 * the size of others.  Returns ncells * dimensions floats followed by
 * ncells uint16 partition numbers (part_layout_size).
 */
static char *
part_cells(Relation heap, Relation index, IndexInfo *indexInfo,
		   const HnswIndexInfo *info, int npart, int *ncells_out)
{
	int			dim = info->dimensions;
	SampleState ss;
	int			ncells;
	char	   *blob;
	float	   *cells;
	uint16	   *map;
	int			maxcells;
	int		   *assign;
	double	   *weight;
	float	   *pc;
	int		   *pcassign;
	double	   *load;
	CellPair   *pairs;
	double		cap;

	memset(&ss, 0, sizeof(ss));
	ss.info = info;
	ss.max = (int) Min((Size) SAMPLE_MAX_ROWS,
					   Max((Size) 1000, SAMPLE_MAX_BYTES / HnswVectorSize(info)));
	ss.rows = MemoryContextAllocHuge(CurrentMemoryContext,
									 HnswVectorSize(info) * (Size) ss.max);
	pg_prng_seed(&ss.prng, UINT64CONST(0x7a1c55e0d2b94f31));
	ss.tmpcxt = AllocSetContextCreate(CurrentMemoryContext, "hnsw sample tuple",
									  ALLOCSET_DEFAULT_SIZES);
	sample_rows(heap, index, indexInfo, &ss);
	MemoryContextDelete(ss.tmpcxt);

	ncells = Min(npart * PART_CELLS, PART_MAX_CELLS);
	ncells = Max(Min(ncells, ss.n / 4), npart);
	if (ss.n < ncells)
	{
		/* too few rows to learn from: rows then go by room alone */
		blob = palloc0(part_layout_size(ncells, dim));
		map = (uint16 *) (blob + sizeof(float) * (Size) ncells * dim);
		for (int i = 0; i < ncells; i++)
			map[i] = (uint16) (i % npart);
		*ncells_out = ncells;
		pfree(ss.rows);
		return blob;
	}

	/* room for the cells that splitting adds (at most 4 per partition) */
	maxcells = ncells + 4 * npart + 1;
	cells = palloc(sizeof(float) * (Size) maxcells * dim);
	weight = palloc0(sizeof(double) * maxcells);
	assign = palloc(sizeof(int) * ss.n);
	kmeans(ss.rows, NULL, ss.n, dim, ncells, 8, 1, &ss.prng, cells, assign);
	for (int i = 0; i < ss.n; i++)
		weight[assign[i]] += 1;

	/*
	 * A cell heavier than half a partition would leave its partition over
	 * weight: split it, by k-means on its own rows, into cells of about a
	 * quarter of one.
	 */
	cap = ss.n * PART_BALANCE / npart;
	for (int c = 0, nbase = ncells; c < nbase; c++)
	{
		int			k = (int) ceil(weight[c] / (cap / 4));
		int			n = 0;
		float	   *pts;
		int		   *sub;
		float	   *subc;

		if (weight[c] <= cap / 2 || ncells + k - 1 > maxcells)
			continue;
		pts = palloc(sizeof(float) * (Size) weight[c] * dim);
		for (int i = 0; i < ss.n; i++)
			if (assign[i] == c)
				memcpy(pts + (Size) n++ * dim, ss.rows + (Size) i * dim, sizeof(float) * dim);
		sub = palloc(sizeof(int) * n);
		subc = palloc(sizeof(float) * (Size) k * dim);
		kmeans(pts, NULL, n, dim, k, 8, 1, &ss.prng, subc, sub);
		weight[c] = 0;
		for (int j = 1; j < k; j++)
			weight[ncells + j - 1] = 0;
		for (int i = 0; i < n; i++)
			weight[sub[i] == 0 ? c : ncells + sub[i] - 1] += 1;
		memcpy(cells + (Size) c * dim, subc, sizeof(float) * dim);
		memcpy(cells + (Size) ncells * dim, subc + dim, sizeof(float) * (Size) (k - 1) * dim);
		ncells += k - 1;
		pfree(pts);
		pfree(sub);
		pfree(subc);
	}
	pfree(ss.rows);
	pfree(assign);

	/* partition centres: weighted k-means of the cells */
	pc = palloc(sizeof(float) * (Size) npart * dim);
	pcassign = palloc(sizeof(int) * ncells);
	kmeans(cells, weight, ncells, dim, npart, 10, 2 + (int) log((double) npart),
		   &ss.prng, pc, pcassign);

	/* pack the cells, closest pairs first, into partitions with room */
	load = palloc(sizeof(double) * npart);
	pairs = palloc(sizeof(CellPair) * (Size) ncells * npart);
	for (int iter = 0; iter < 6; iter++)
	{
		int			np = 0;
		double	   *sums = palloc0(sizeof(double) * (Size) npart * dim);

		CHECK_FOR_INTERRUPTS();
		for (int i = 0; i < ncells; i++)
			for (int p = 0; p < npart; p++)
			{
				pairs[np].d = VecqKernels.l2_squared_approx(cells + (Size) i * dim,
															pc + (Size) p * dim, dim);
				pairs[np].cell = i;
				pairs[np].part = p;
				np++;
			}
		qsort(pairs, np, sizeof(CellPair), cmp_cell_pair);
		memset(load, 0, sizeof(double) * npart);
		for (int i = 0; i < ncells; i++)
			pcassign[i] = -1;
		for (int k = 0; k < np; k++)
		{
			CellPair   *cp = &pairs[k];

			if (pcassign[cp->cell] >= 0 || load[cp->part] + weight[cp->cell] > cap)
				continue;
			pcassign[cp->cell] = cp->part;
			load[cp->part] += weight[cp->cell];
		}
		/* a cell too big for the room left: the least loaded partition */
		for (int i = 0; i < ncells; i++)
		{
			int			least = 0;

			if (pcassign[i] >= 0)
				continue;
			for (int p = 1; p < npart; p++)
				if (load[p] < load[least])
					least = p;
			pcassign[i] = least;
			load[least] += weight[i];
		}
		/* centres to their cells' weighted mean */
		memset(load, 0, sizeof(double) * npart);
		for (int i = 0; i < ncells; i++)
		{
			int			p = pcassign[i];

			load[p] += weight[i];
			for (int q = 0; q < dim; q++)
				sums[(Size) p * dim + q] += weight[i] * cells[(Size) i * dim + q];
		}
		for (int p = 0; p < npart; p++)
			if (load[p] > 0)
				for (int q = 0; q < dim; q++)
					pc[(Size) p * dim + q] = (float) (sums[(Size) p * dim + q] / load[p]);
		pfree(sums);
	}
	blob = palloc0(part_layout_size(ncells, dim));
	memcpy(blob, cells, sizeof(float) * (Size) ncells * dim);
	map = (uint16 *) (blob + sizeof(float) * (Size) ncells * dim);
	for (int i = 0; i < ncells; i++)
		map[i] = (uint16) pcassign[i];
	*ncells_out = ncells;
	pfree(cells);
	for (int p = 0; p < npart; p++)
		elog(DEBUG2, "hnsw partition %d: %.0f of %d sample rows", p, load[p], ss.n);
	pfree(weight);
	pfree(pc);
	pfree(pcassign);
	pfree(load);
	pfree(pairs);
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

/* Most elements one partition (or the upper graph) can hold. */
static Size
part_refs(const HnswIndexInfo *info, HnswFormat format, Size arena_size)
{
	HnswShared	s;
	HnswIndexInfo f = *info;

	f.format = format;
	s.info = *info;
	s.elem_header = MAXALIGN(sizeof(BuildElem));
	s.datasize = HnswElementDataSize(&f);
	return arena_size / elem_size(&s, 0) + 1;
}

static void
part_init_shared(HnswShared *shared, int npart, int ncells, Size arena_size)
{
	shared->partitioned = true;
	shared->npart = npart;
	shared->ncells = ncells;
	/* a little room for the levels' spread in the planned sizes */
	shared->part_capacity = arena_size - Min(arena_size / 64, (Size) 1024 * 1024);
	pg_atomic_init_u32(&shared->next_gid, 0);
	for (int p = 0; p < PART_MAX; p++)
		pg_atomic_init_u64(&shared->part_used[p], 0);
	pg_atomic_init_u32(&shared->phase_next, 0);
	shared->phase = 0;
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

		may_partition = hnsw_partitioned_build == HNSW_PARTITIONED_ON ||
			(hnsw_partitioned_build == HNSW_PARTITIONED_AUTO &&
			 PART_FILL * arena_size / ((1.0 + PART_OVERLAP) *
									   arena_bytes_per_row(&info, info.format)) >= PART_AUTO_MIN_ROWS);
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
			/*
			 * Not even codes would fit: build in partitions that do, each
			 * planned to fill PART_FILL of the arena, with PART_OVERLAP of
			 * the rows in two of them.
			 */
			double		need = nest * arena_bytes_per_row(&info, info.format) *
				(1.0 + PART_OVERLAP);

			npart = (int) Min(ceil(need / (PART_FILL * arena_size)), PART_MAX);
			npart = Max(npart, 2);
			pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, PROGRESS_HNSW_PHASE_SAMPLE);
			cells = part_cells(heap, index, indexInfo, &info, npart, &ncells);
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

	nworkers = build_workers(heap, index, indexInfo);

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
			shm_toc_estimate_chunk(&pcxt->estimator, sizeof(ElemRef) * part_refs(&info, arena_format, arena_size));
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
			shm_toc_insert(pcxt->toc, PARALLEL_KEY_HNSW_CENTRES, c);
			cells = c;
			nrefs = part_refs(&info, arena_format, arena_size);
			refs = shm_toc_allocate(pcxt->toc, sizeof(ElemRef) * nrefs);
			shm_toc_insert(pcxt->toc, PARALLEL_KEY_HNSW_REFS, refs);
			part_init_shared(shared, npart, ncells, arena_size);
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
		if (npart > 0)
		{
			/* the files go when this segment does, on error too */
			part_init_shared(shared, npart, ncells, arena_size);
			fileseg = dsm_create(sizeof(SharedFileSet), 0);
			bs.fileset = (SharedFileSet *) dsm_segment_address(fileseg);
			SharedFileSetInit(bs.fileset, fileseg);
			bs.cells = (const float *) cells;
			bs.cellpart = (const uint16 *) (cells + sizeof(float) * (Size) ncells * info.dimensions);
			nrefs = part_refs(&info, arena_format, arena_size);
			bs.refs = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(ElemRef) * nrefs);
		}
		participate(&bs, indexInfo, NULL);
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
			last_page = part_build(&bs, nworkers + 1, nparticipants, keys,
								   &entry_tid, &entry_level);
			if (fileseg != NULL)
				dsm_detach(fileseg);
		}
		else
		{
			connect_unreachable(&bs);
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
				(errmsg("hnsw index build found no room in its partitions for %.0f rows",
						shared->nspilled),
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
