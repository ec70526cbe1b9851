/*-------------------------------------------------------------------------
 *
 * hnsw_build.c
 *	  CREATE INDEX for HNSW: the whole graph is built in memory, then its
 *	  pages are written in one sequential pass.
 *
 * In memory, elements are numbered in heap order; their vectors sit in one
 * contiguous array, their neighbour lists (element numbers and distances)
 * in two more, so the search touches no buffer, takes no lock and makes no
 * allocation per candidate.  Writing happens in two passes: the first
 * places every element tuple and neighbour tuple on a page (which gives
 * each element its item pointer), the second writes the pages with the
 * neighbour lists translated into item pointers.  Pages are written
 * without WAL and logged at the end with log_newpage_range().
 *
 * src/hnsw/hnsw_build.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/generic_xlog.h"
#include "access/tableam.h"
#include "access/xloginsert.h"
#include "catalog/index.h"
#include "commands/progress.h"
#include "common/pg_prng.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/bufmgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "common/distance.h"
#include "hnsw/hnsw.h"
#include "vector/vector.h"

#define PROGRESS_HNSW_PHASE_LOAD	2
#define PROGRESS_HNSW_PHASE_WRITE	3

typedef struct BuildElement
{
	ItemPointerData heaptid;
	uint8		level;
	bool		overflow;		/* data on overflow pages */
	int64		slot0;			/* first slot in the neighbour arrays */
	ItemPointerData tid;		/* element tuple, once placed */
	ItemPointerData neighbortid;
	BlockNumber overflow_first;
} BuildElement;

typedef struct HnswBuildState
{
	Relation	heap;
	Relation	index;
	HnswIndexInfo info;
	MemoryContext graphcxt;		/* the graph */
	MemoryContext tmpcxt;		/* reset per heap tuple */

	BuildElement *elems;
	int64		n;
	int64		maxn;
	float	   *vectors;		/* n * dimensions */
	int32	   *nbr;			/* neighbour element numbers, -1 = empty */
	float	   *nbrdist;		/* their distances */
	int64		nslots;
	int64		maxslots;

	int64		entry;			/* -1: empty graph */
	int			maxlevel;

	/* search scratch */
	uint32	   *visited;		/* per element: stamp of last visit */
	uint32		stamp;
	int64		maxvisited;
	struct BuildCand *cand;
	struct BuildCand *top;
	int			maxheap;
	float	   *prepared;		/* one prepared vector */

	pg_prng_state prng;
	double		indtuples;
	double		reltuples;
} HnswBuildState;

typedef struct BuildCand
{
	float		dist;
	int32		id;
} BuildCand;

/* ---------------- in-memory graph ---------------- */

static inline float *
vec_of(HnswBuildState *bs, int64 id)
{
	return bs->vectors + id * bs->info.dimensions;
}

static inline float
dist_between(HnswBuildState *bs, const float *a, const float *b)
{
	return (float) HnswDistance(bs->info.metric, a, b, bs->info.dimensions);
}

static inline int64
level_slot(HnswBuildState *bs, int64 id, int lc)
{
	return bs->elems[id].slot0 + HNSW_LEVEL_FIRST_SLOT(lc, bs->info.m);
}

static int
level_count(HnswBuildState *bs, int64 id, int lc)
{
	int64		first = level_slot(bs, id, lc);
	int			cap = HNSW_LEVEL_SLOTS(lc, bs->info.m);
	int			n = 0;

	while (n < cap && bs->nbr[first + n] >= 0)
		n++;
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

/*
 * Layer search (algorithm 2 of the paper) from the entries in top[0..nent),
 * with ef; leaves the result in top[] as a max-heap and returns its size.
 */
static int
search_layer(HnswBuildState *bs, const float *q, int nent, int ef, int lc)
{
	int			ncand = 0;
	int			ntop = 0;
	BuildCand  *entries = palloc(sizeof(BuildCand) * Max(nent, 1));

	memcpy(entries, bs->top, sizeof(BuildCand) * nent);
	if (++bs->stamp == 0)
	{
		memset(bs->visited, 0, sizeof(uint32) * bs->maxvisited);
		bs->stamp = 1;
	}
	for (int i = 0; i < nent; i++)
	{
		bs->visited[entries[i].id] = bs->stamp;
		cand_push(bs->cand, &ncand, entries[i], false);
		cand_push(bs->top, &ntop, entries[i], true);
		if (ntop > ef)
			(void) cand_pop(bs->top, &ntop, true);
	}
	pfree(entries);

	while (ncand > 0)
	{
		BuildCand	c = cand_pop(bs->cand, &ncand, false);
		int64		first;
		int			cap;

		if (ntop >= ef && c.dist > bs->top[0].dist)
			break;
		first = level_slot(bs, c.id, lc);
		cap = HNSW_LEVEL_SLOTS(lc, bs->info.m);
		for (int i = 0; i < cap; i++)
		{
			int32		e = bs->nbr[first + i];
			BuildCand	nc;

			if (e < 0)
				break;
			if (bs->visited[e] == bs->stamp)
				continue;
			bs->visited[e] = bs->stamp;
			nc.dist = dist_between(bs, q, vec_of(bs, e));
			nc.id = e;
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

/* Sort BuildCands ascending by distance (ties by id, for determinism). */
static int
cmp_cand(const void *a, const void *b)
{
	const BuildCand *x = a,
			   *y = b;

	if (x->dist != y->dist)
		return x->dist < y->dist ? -1 : 1;
	return (x->id > y->id) - (x->id < y->id);
}

/*
 * The selection heuristic on sorted candidates c[0..n) of base: keep each
 * candidate closer to the base than to any kept before; at most max.
 * Compacts the kept ones to the front of c; returns how many.
 */
static int
select_neighbors(HnswBuildState *bs, BuildCand *c, int n, int max)
{
	int			kept = 0;

	for (int i = 0; i < n && kept < max; i++)
	{
		bool		good = true;
		const float *v = vec_of(bs, c[i].id);

		for (int j = 0; j < kept; j++)
			if (dist_between(bs, v, vec_of(bs, c[j].id)) < c[i].dist)
			{
				good = false;
				break;
			}
		if (good)
			c[kept++] = c[i];
	}
	return kept;
}

/* Add new as a neighbour of e at level lc, pruning e's list if full. */
static void
add_link(HnswBuildState *bs, int64 e, int64 newid, float dist, int lc)
{
	int64		first = level_slot(bs, e, lc);
	int			cap = HNSW_LEVEL_SLOTS(lc, bs->info.m);
	int			n = level_count(bs, e, lc);
	BuildCand  *c;
	int			kept;

	if (n < cap)
	{
		bs->nbr[first + n] = (int32) newid;
		bs->nbrdist[first + n] = dist;
		return;
	}
	c = palloc(sizeof(BuildCand) * (cap + 1));
	for (int i = 0; i < cap; i++)
	{
		c[i].id = bs->nbr[first + i];
		c[i].dist = bs->nbrdist[first + i];
	}
	c[cap].id = (int32) newid;
	c[cap].dist = dist;
	qsort(c, cap + 1, sizeof(BuildCand), cmp_cand);
	kept = select_neighbors(bs, c, cap + 1, cap);
	for (int i = 0; i < cap; i++)
	{
		bs->nbr[first + i] = i < kept ? c[i].id : -1;
		bs->nbrdist[first + i] = i < kept ? c[i].dist : 0;
	}
	pfree(c);
}

/* Insert element id (its vector already stored) into the graph. */
static void
graph_insert(HnswBuildState *bs, int64 id)
{
	const float *q = vec_of(bs, id);
	int			level = bs->elems[id].level;
	int			nent;

	if (bs->entry < 0)
	{
		bs->entry = id;
		bs->maxlevel = level;
		return;
	}

	/* greedy descent through the levels above the new element's */
	bs->top[0].id = (int32) bs->entry;
	bs->top[0].dist = dist_between(bs, q, vec_of(bs, bs->entry));
	nent = 1;
	for (int lc = bs->maxlevel; lc > level; lc--)
	{
		nent = search_layer(bs, q, nent, 1, lc);
	}

	for (int lc = Min(level, bs->maxlevel); lc >= 0; lc--)
	{
		int			ntop = search_layer(bs, q, nent, bs->info.ef_construction, lc);
		int			cap = HNSW_LEVEL_SLOTS(lc, bs->info.m);
		BuildCand  *sorted = palloc(sizeof(BuildCand) * ntop);
		int			kept;
		int64		first = level_slot(bs, id, lc);

		memcpy(sorted, bs->top, sizeof(BuildCand) * ntop);
		qsort(sorted, ntop, sizeof(BuildCand), cmp_cand);
		kept = select_neighbors(bs, sorted, ntop, cap);
		for (int i = 0; i < kept; i++)
		{
			bs->nbr[first + i] = sorted[i].id;
			bs->nbrdist[first + i] = sorted[i].dist;
		}
		for (int i = 0; i < kept; i++)
			add_link(bs, sorted[i].id, id, sorted[i].dist, lc);
		pfree(sorted);
		/* the whole result is the entry set of the next level down */
		nent = ntop;
	}
	if (level > bs->maxlevel)
	{
		bs->entry = id;
		bs->maxlevel = level;
	}
}

/* ---------------- heap scan ---------------- */

static void
add_element(HnswBuildState *bs, ItemPointer tid, const Vector *v)
{
	MemoryContext old = MemoryContextSwitchTo(bs->graphcxt);
	BuildElement *e;
	int			level;
	int64		slots;

	if (bs->n == bs->maxn)
	{
		int64		newmax = bs->maxn * 2;

		bs->elems = repalloc_huge(bs->elems, sizeof(BuildElement) * newmax);
		bs->vectors = repalloc_huge(bs->vectors,
									sizeof(float) * bs->info.dimensions * newmax);
		bs->visited = repalloc_huge(bs->visited, sizeof(uint32) * newmax);
		memset(bs->visited + bs->maxvisited, 0,
			   sizeof(uint32) * (newmax - bs->maxvisited));
		bs->maxvisited = newmax;
		bs->maxn = newmax;
	}
	level = HnswRandomLevel(bs->info.m, &bs->prng);
	slots = HNSW_NEIGHBOR_SLOTS(level, bs->info.m);
	if (bs->nslots + slots > bs->maxslots)
	{
		int64		newmax = Max(bs->maxslots * 2, bs->nslots + slots);

		bs->nbr = repalloc_huge(bs->nbr, sizeof(int32) * newmax);
		bs->nbrdist = repalloc_huge(bs->nbrdist, sizeof(float) * newmax);
		bs->maxslots = newmax;
	}
	for (int64 i = 0; i < slots; i++)
		bs->nbr[bs->nslots + i] = -1;

	e = &bs->elems[bs->n];
	e->heaptid = *tid;
	e->level = (uint8) level;
	e->overflow = !HnswElementDataInline(&bs->info, level);
	e->slot0 = bs->nslots;
	bs->nslots += slots;
	if (!HnswPrepareVector(bs->info.metric, v->x, vec_of(bs, bs->n),
						   bs->info.dimensions))
	{
		/* a zero vector under cosine: not indexed */
		MemoryContextSwitchTo(old);
		bs->nslots -= slots;
		return;
	}
	/* the search's scratch allocations go to the per-tuple context */
	MemoryContextSwitchTo(bs->tmpcxt);
	graph_insert(bs, bs->n);
	MemoryContextSwitchTo(old);
	bs->n++;
}

static void
build_callback(Relation index, ItemPointer tid, Datum *values,
			   bool *isnull, bool tupleIsAlive, void *state)
{
	HnswBuildState *bs = (HnswBuildState *) state;
	MemoryContext old;
	Vector	   *v;

	if (isnull[0])
		return;
	old = MemoryContextSwitchTo(bs->tmpcxt);
	v = DatumGetVector(values[0]);
	if (v->dim != bs->info.dimensions)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("expected %d dimensions, not %d", bs->info.dimensions, v->dim)));
	MemoryContextSwitchTo(old);
	add_element(bs, tid, v);
	MemoryContextReset(bs->tmpcxt);
	bs->indtuples++;
	if (((int64) bs->indtuples % 1000) == 0)
		pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, (int64) bs->indtuples);
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
element_size(HnswBuildState *bs, BuildElement *e)
{
	return e->overflow ? HNSW_ELEMENT_TUPLE_SIZE(sizeof(HnswOverflowRef))
		: HNSW_ELEMENT_TUPLE_SIZE(HnswElementDataSize(&bs->info));
}

static BlockNumber
overflow_pages(HnswBuildState *bs)
{
	Size		len = HnswElementDataSize(&bs->info);

	return (BlockNumber) ((len + HNSW_OVERFLOW_PAGE_CAPACITY - 1) / HNSW_OVERFLOW_PAGE_CAPACITY);
}

/* Pass 1: give every element and neighbour tuple its place. */
static void
place_elements(HnswBuildState *bs)
{
	PlaceState	ps;

	ps.next_block = HNSW_METAPAGE_BLKNO + 1;
	ps.page = InvalidBlockNumber;
	for (int64 i = 0; i < bs->n; i++)
	{
		BuildElement *e = &bs->elems[i];
		Size		esize = element_size(bs, e);
		Size		nsize = HNSW_NEIGHBOR_TUPLE_SIZE(e->level, bs->info.m);

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

/* Pass 2: write the data pages in block order. */
static void
write_elements(HnswBuildState *bs)
{
	Buffer		buf = InvalidBuffer;
	Page		page = NULL;
	BlockNumber current = InvalidBlockNumber;
	Size		datalen = HnswElementDataSize(&bs->info);
	HnswElementTuple etup = palloc0(HNSW_ELEMENT_TUPLE_SIZE(datalen));
	HnswNeighborTuple ntup = palloc0(HNSW_NEIGHBOR_TUPLE_SIZE(HNSW_MAX_LEVEL, bs->info.m));

	for (int64 i = 0; i < bs->n; i++)
	{
		BuildElement *e = &bs->elems[i];
		Size		esize = element_size(bs, e);
		Size		nsize = HNSW_NEIGHBOR_TUPLE_SIZE(e->level, bs->info.m);
		int			nslots = HNSW_NEIGHBOR_SLOTS(e->level, bs->info.m);

		CHECK_FOR_INTERRUPTS();
		if (e->overflow)
		{
			BlockNumber first;

			HnswWriteOverflow(bs->index, (const char *) vec_of(bs, i), datalen,
							  &first, false);
			if (first != e->overflow_first)
				elog(ERROR, "overflow pages of index \"%s\" landed at block %u, not %u",
					 RelationGetRelationName(bs->index), first, e->overflow_first);
		}
		if (ItemPointerGetBlockNumber(&e->tid) != current)
		{
			if (buf != InvalidBuffer)
			{
				MarkBufferDirty(buf);
				UnlockReleaseBuffer(buf);
			}
			buf = HnswNewBuffer(bs->index, MAIN_FORKNUM);
			current = BufferGetBlockNumber(buf);
			if (current != ItemPointerGetBlockNumber(&e->tid))
				elog(ERROR, "data page of index \"%s\" landed at block %u, not %u",
					 RelationGetRelationName(bs->index), current,
					 ItemPointerGetBlockNumber(&e->tid));
			page = BufferGetPage(buf);
			HnswInitPage(page, HNSW_PAGE_DATA);
		}

		memset(etup, 0, esize);
		etup->type = HNSW_ELEMENT_TUPLE;
		etup->level = e->level;
		etup->flags = e->overflow ? HNSW_ELEMENT_OVERFLOW : 0;
		etup->heaptid = e->heaptid;
		etup->neighbortid = e->neighbortid;
		if (e->overflow)
		{
			etup->datalen = sizeof(HnswOverflowRef);
			((HnswOverflowRef *) etup->data)->first = e->overflow_first;
		}
		else
		{
			etup->datalen = datalen;
			memcpy(etup->data, vec_of(bs, i), datalen);
		}
		add_item(bs->index, page, etup, esize, ItemPointerGetOffsetNumber(&e->tid));

		memset(ntup, 0, nsize);
		ntup->type = HNSW_NEIGHBOR_TUPLE;
		ntup->level = e->level;
		ntup->nslots = nslots;
		for (int s = 0; s < nslots; s++)
		{
			int32		nb = bs->nbr[e->slot0 + s];

			if (nb >= 0)
				ntup->slots[s] = bs->elems[nb].tid;
			else
				ItemPointerSetInvalid(&ntup->slots[s]);
		}
		add_item(bs->index, page, ntup, nsize, ItemPointerGetOffsetNumber(&e->neighbortid));

		if ((i % 1000) == 0)
			pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, i);
	}
	if (buf != InvalidBuffer)
	{
		/* the last data page is where inserts go */
		MarkBufferDirty(buf);
		UnlockReleaseBuffer(buf);
	}
	pfree(etup);
	pfree(ntup);
}

/* Write the metapage (block 0) of an index. */
static void
write_meta(Relation index, ForkNumber forknum, const HnswIndexInfo *info,
		   ItemPointer entry, int entry_level, BlockNumber insert_page,
		   uint64 nelements, bool create, bool use_wal)
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
	((PageHeader) page)->pd_lower = ((char *) meta + sizeof(HnswMetaPageData)) - (char *) page;

	if (use_wal)
		GenericXLogFinish(state);
	else
		MarkBufferDirty(buf);
	UnlockReleaseBuffer(buf);
}

/* Dimensions, options and metric of a new index. */
static void
init_info(Relation index, HnswIndexInfo *info, int dimensions)
{
	info->dimensions = dimensions;
	info->m = HnswGetM(index);
	info->ef_construction = HnswGetEfConstruction(index);
	info->metric = HnswGetMetric(index);
	info->format = HNSW_FORMAT_FLOAT4;
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

IndexBuildResult *
hnswbuild(Relation heap, Relation index, IndexInfo *indexInfo)
{
	IndexBuildResult *result;
	HnswBuildState bs;
	int			dimensions = column_dimensions(index);
	BlockNumber nblocks;

	if (RelationGetNumberOfBlocks(index) != 0)
		elog(ERROR, "index \"%s\" already contains data", RelationGetRelationName(index));
	if (dimensions < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("column does not have dimensions"),
				 errhint("Declare the column with a dimension count, as in vector(3).")));

	memset(&bs, 0, sizeof(bs));
	bs.heap = heap;
	bs.index = index;
	init_info(index, &bs.info, dimensions);
	bs.graphcxt = AllocSetContextCreate(CurrentMemoryContext, "hnsw build graph",
										ALLOCSET_DEFAULT_SIZES);
	bs.tmpcxt = AllocSetContextCreate(CurrentMemoryContext, "hnsw build tuple",
									  ALLOCSET_DEFAULT_SIZES);
	bs.maxn = 1024;
	bs.elems = MemoryContextAllocHuge(bs.graphcxt, sizeof(BuildElement) * bs.maxn);
	bs.vectors = MemoryContextAllocHuge(bs.graphcxt,
										sizeof(float) * dimensions * bs.maxn);
	bs.maxvisited = bs.maxn;
	bs.visited = MemoryContextAllocHuge(bs.graphcxt, sizeof(uint32) * bs.maxn);
	memset(bs.visited, 0, sizeof(uint32) * bs.maxn);
	bs.maxslots = bs.maxn * 3 * bs.info.m;
	bs.nbr = MemoryContextAllocHuge(bs.graphcxt, sizeof(int32) * bs.maxslots);
	bs.nbrdist = MemoryContextAllocHuge(bs.graphcxt, sizeof(float) * bs.maxslots);
	bs.maxheap = 1024;
	bs.cand = MemoryContextAlloc(bs.graphcxt, sizeof(BuildCand) * bs.maxheap);
	bs.top = MemoryContextAlloc(bs.graphcxt, sizeof(BuildCand) * bs.maxheap);
	bs.entry = -1;
	bs.maxlevel = -1;
	/* a fixed seed: the same rows give the same graph */
	pg_prng_seed(&bs.prng, UINT64CONST(0x5eed0f9a4a1b7c3d));

	/* block 0 first; rewritten at the end with the entry point */
	write_meta(index, MAIN_FORKNUM, &bs.info, NULL, -1, InvalidBlockNumber, 0,
			   true, false);

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, PROGRESS_HNSW_PHASE_LOAD);
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_TOTAL,
								 (int64) Max(heap->rd_rel->reltuples, 0));
	bs.reltuples = table_index_build_scan(heap, index, indexInfo, true, true,
										  build_callback, &bs, NULL);

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, PROGRESS_HNSW_PHASE_WRITE);
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_TOTAL, bs.n);
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, 0);
	place_elements(&bs);
	write_elements(&bs);
	nblocks = RelationGetNumberOfBlocks(index);
	write_meta(index, MAIN_FORKNUM, &bs.info,
			   bs.entry >= 0 ? &bs.elems[bs.entry].tid : NULL,
			   bs.maxlevel,
			   nblocks > 1 && bs.n > 0 ? ItemPointerGetBlockNumber(&bs.elems[bs.n - 1].tid)
			   : InvalidBlockNumber,
			   bs.n, false, false);

	if (RelationNeedsWAL(index))
		log_newpage_range(index, MAIN_FORKNUM, 0, nblocks, true);

	MemoryContextDelete(bs.graphcxt);
	MemoryContextDelete(bs.tmpcxt);

	result = palloc(sizeof(IndexBuildResult));
	result->heap_tuples = bs.reltuples;
	result->index_tuples = bs.indtuples;
	return result;
}

/* The init fork of an unlogged index: an empty metapage. */
void
hnswbuildempty(Relation index)
{
	HnswIndexInfo info;
	int			dimensions = column_dimensions(index);

	init_info(index, &info, Max(dimensions, 0));
	write_meta(index, INIT_FORKNUM, &info, NULL, -1, InvalidBlockNumber, 0, true, true);
}
