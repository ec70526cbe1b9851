/*-------------------------------------------------------------------------
 *
 * hnsw_build_part.c
 *	  The partitioned HNSW build: a graph larger than maintenance_work_mem
 *	  built in partitions that fit, one after the other, and joined.
 *
 * hnsw_build.c decides to partition (vecq.hnsw_partitioned_build) and
 * runs the scan; this file holds what is particular to the partitioned
 * form: the cells that assign rows to partitions, the partition files the
 * scan writes, the leader's loop that links and writes each partition,
 * the upper graph, and the merge of the lists that cross partitions
 * (README: Build).
 *
 * src/hnsw/hnsw_build_part.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "miscadmin.h"
#include "pgstat.h"
#include "storage/bufmgr.h"
#include "utils/float.h"
#include "utils/memutils.h"

#include "hnsw/hnsw_build.h"

/*
 * The share of the arena a partition is planned to fill, the
 * share of rows planned to go into a second partition as well, how much
 * farther (squared distance) a second partition's nearest cell may be, how full
 * second copies may make a partition, and how much farther the partition
 * of a row whose own is full may be.
 */
#define PART_FILL			0.85
#define PART_OVERLAP		0.5
#define PART_SECOND_RATIO	1.15f
#define PART_SECOND_FILL	0.92
#define PART_OVERFLOW_RATIO	1.5f

/*
 * vecq.hnsw_partitioned_build = auto partitions only when one partition is
 * planned to hold this many rows: with 6,000-row partitions recall@10 at
 * ef_search 40 fell from 0.97 to 0.91 on synthetic 100,000 x 128 data;
 * with 32,000 to 91,000 (1M rows) it was above the single graph's
 * (src/hnsw/README, Build).
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
 * partition may be packed (HnswPartCells).
 */
#define PART_CELLS			8
#define PART_MAX_CELLS		512
#define PART_BALANCE		1.04

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
void
HnswPartScanRow(HnswBuildState *bs, ItemPointer tid, const float *x, uint32 filterkey)
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
		HnswBuildSpillRow(bs, tid, PointerGetDatum(copy), filterkey);
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
void
HnswPartCloseFiles(HnswBuildState *bs)
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
		HnswBuildInsert(bs, bs->refs[i]);
		MemoryContextSwitchTo(old);
		MemoryContextReset(bs->tmpcxt);
	}
	SpinLockAcquire(&shared->mutex);
	shared->phase_done++;
	SpinLockRelease(&shared->mutex);
	ConditionVariableBroadcast(&shared->cv);
}

/* Workers: link the elements of every phase the leader starts. */
void
HnswPartLinkPhases(HnswBuildState *bs)
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
				Size		esize = HnswBuildTupleSize(bs, overflow);
				Size		nsize = HNSW_NEIGHBOR_TUPLE_SIZE(row.level, bs->info->m);

				if (!row.primary)
					continue;
				if (overflow)
					ps->next_block += HnswBuildOverflowPages(bs);
				if (!HnswPlaceFits(ps, esize, nsize))
					HnswPlaceOpen(ps);
				ItemPointerSet(&tids[row.gid], ps->page, HnswPlaceItem(ps, esize));
				(void) HnswPlaceItem(ps, nsize);
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
			BuildElem  *e = HnswBuildArenaAlloc(bs, row.level - lower, &ref);

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
	qsort(c, n, sizeof(BuildCand), HnswBuildCandCmp);
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
				nl = HnswBuildSelectNeighbors(bs, c, nl, m);
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
			ps->next_block += HnswBuildOverflowPages(bs);
		}
		if (!HnswPlaceFits(ps, HnswBuildElementTupleSize(bs, e), HNSW_NEIGHBOR_TUPLE_SIZE(e->level, m)))
			HnswPlaceOpen(ps);
		ItemPointerSet(&e->tid, ps->page, HnswPlaceItem(ps, HnswBuildElementTupleSize(bs, e)));
		ItemPointerSet(&e->neighbortid, ps->page,
					   HnswPlaceItem(ps, HNSW_NEIGHBOR_TUPLE_SIZE(e->level, m)));
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
		HnswPageWriterWrite(w, e, elem_data(bs, e), slots);
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
					cnt = HnswBuildSelectNeighbors(bs, c, cnt, m);
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
BlockNumber
HnswPartBuild(HnswBuildState *bs, int nfiles, int nparticipants, HTAB *keys,
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
	HnswPageWriterBegin(&w, bs, keys);
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
		HnswBuildConnectUnreachable(bs);
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
	last = HnswPageWriterEnd(&w);

	/* the levels above 0: one graph of the rows that have them */
	nupper = part_load(bs, "u", 0, nfiles, 1);
	if (nupper > 0)
	{
		run_phase(bs, nupper, nparticipants);
		HnswBuildConnectUnreachable(bs);
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
char *
HnswPartCells(Relation heap, Relation index, IndexInfo *indexInfo,
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
	HnswBuildSampleRows(heap, index, indexInfo, &ss);
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

/* Most elements one partition (or the upper graph) can hold. */
Size
HnswPartRefs(const HnswIndexInfo *info, HnswFormat format, Size arena_size)
{
	HnswShared	s;
	HnswIndexInfo f = *info;

	f.format = format;
	s.info = *info;
	s.elem_header = MAXALIGN(sizeof(BuildElem));
	s.datasize = HnswElementDataSize(&f);
	return arena_size / elem_size(&s, 0) + 1;
}

void
HnswPartInitShared(HnswShared *shared, int npart, int ncells, Size arena_size)
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

/*
 * Whether a graph of rows of this many arena bytes that does not fit in
 * the arena is built in partitions (vecq.hnsw_partitioned_build).
 */
bool
HnswPartAllowed(double bytes_per_row, Size arena_size)
{
	if (hnsw_partitioned_build == HNSW_PARTITIONED_ON)
		return true;
	return hnsw_partitioned_build == HNSW_PARTITIONED_AUTO &&
		PART_FILL * arena_size / ((1.0 + PART_OVERLAP) * bytes_per_row) >= PART_AUTO_MIN_ROWS;
}

/*
 * Partitions for about nrows rows: each planned to fill PART_FILL of the
 * arena, with PART_OVERLAP of the rows in two of them.
 */
int
HnswPartCount(double nrows, double bytes_per_row, Size arena_size)
{
	double		need = nrows * bytes_per_row * (1.0 + PART_OVERLAP);
	int			npart = (int) Min(ceil(need / (PART_FILL * arena_size)), PART_MAX);

	return Max(npart, 2);
}
