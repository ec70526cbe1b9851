/*-------------------------------------------------------------------------
 *
 * hnsw_scan.c
 *	  Ordered index scans: ORDER BY embedding <op> query LIMIT k.
 *
 * The first call descends greedily from the entry point to level 0 and
 * searches it with hnsw.ef_search candidates; rows come out in distance
 * order.  With hnsw.iterative_scan off the scan ends there (at most
 * ef_search rows).  Otherwise, when the executor asks for more (because
 * rows were filtered out after the index: RLS, WHERE clauses), the search
 * resumes best-first from where it stopped, until the graph is exhausted or
 * hnsw.max_scan_tuples elements have been visited (then the elements
 * already found are still returned, in order).  In
 * strict_order a row closer than one already returned is skipped, so the
 * output is always ordered; relaxed_order returns it (slightly out of
 * order, which an outer ORDER BY can repair).
 *
 * An index of codes (quantization = sq8) knows distances only
 * approximately.  It returns each row with a lower bound of its exact
 * distance (HnswQueryBound) and sets xs_recheckorderby: the executor then
 * computes the exact distance from the heap row and re-ranks through its
 * reorder queue, returning a row only once no later row can be closer
 * (the same protocol as GiST's lossy distances).  So rows come out in
 * exact order with exact distances, and the executor re-ranks exactly as
 * many candidates as that needs.  For that the bounds must not decrease:
 * the scan sorts each batch of ef_search candidates by bound, and in
 * strict_order skips a candidate whose bound is below one already
 * returned (relaxed_order returns it, possibly out of order).
 *
 * src/hnsw/hnsw_scan.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/relscan.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/float.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "hnsw/hnsw.h"
#include "hnsw/hnsw_search.h"
#include "vector/vector.h"

typedef struct HnswScanOpaqueData
{
	const HnswIndexInfo *info;
	MemoryContext cxt;			/* reset at every rescan */
	HnswSearch	search;
	bool		started;
	bool		done;
	double		last_dist;		/* of the last row returned */
	float	   *query;
	bool		bounded;		/* rows come with lower bounds (codes) */
	bool		zero_cosine;	/* a zero query under cosine: bounds NaN */
	int		   *batch;			/* bounded: pool indices sorted by bound */
	int			nbatch;
	int			batchpos;
} HnswScanOpaqueData;

typedef HnswScanOpaqueData *HnswScanOpaque;

IndexScanDesc
hnswbeginscan(Relation index, int nkeys, int norderbys)
{
	IndexScanDesc scan = RelationGetIndexScan(index, nkeys, norderbys);
	HnswScanOpaque so = palloc0(sizeof(HnswScanOpaqueData));

	so->info = HnswGetIndexInfo(index);
	so->cxt = AllocSetContextCreate(CurrentMemoryContext, "hnsw scan",
									ALLOCSET_DEFAULT_SIZES);
	so->bounded = so->info->format != HNSW_FORMAT_FLOAT4;
	scan->opaque = so;
	if (norderbys > 0)
	{
		scan->xs_orderbyvals = palloc0(sizeof(Datum) * norderbys);
		scan->xs_orderbynulls = palloc(sizeof(bool) * norderbys);
		memset(scan->xs_orderbynulls, true, sizeof(bool) * norderbys);
	}
	return scan;
}

void
hnswrescan(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey orderbys,
		   int norderbys)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;

	if (so->started)
		HnswSearchEnd(&so->search);
	MemoryContextReset(so->cxt);
	so->started = false;
	so->done = false;
	so->last_dist = -INFINITY;
	so->zero_cosine = false;
	so->batch = NULL;
	so->nbatch = so->batchpos = 0;
	if (keys && scan->numberOfKeys > 0)
		memmove(scan->keyData, keys, scan->numberOfKeys * sizeof(ScanKeyData));
	if (orderbys && scan->numberOfOrderBys > 0)
		memmove(scan->orderByData, orderbys, scan->numberOfOrderBys * sizeof(ScanKeyData));
}

/* Start the search: prepare the query and search level 0 once. */
static void
start_search(IndexScanDesc scan)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;
	const HnswIndexInfo *info = so->info;
	MemoryContext old = MemoryContextSwitchTo(so->cxt);
	HnswMetaPageData meta;
	ScanKey		key;
	int			ep;
	ItemPointerData eptid;

	if (scan->numberOfOrderBys == 0 || scan->orderByData == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("an hnsw index can only be scanned in the order of a distance operator")));
	key = &scan->orderByData[0];
	so->query = palloc0(HnswVectorSize(info));
	if (!(key->sk_flags & SK_ISNULL))
	{
		Vector	   *q = DatumGetVector(key->sk_argument);

		if (q->dim != info->dimensions)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("expected %d dimensions, not %d", info->dimensions, q->dim)));
		/* a zero query under cosine stays zero: every distance is 1 */
		if (!HnswPrepareVector(info->metric, q->x, so->query, info->dimensions))
		{
			memset(so->query, 0, HnswVectorSize(info));
			so->zero_cosine = true;
		}
	}

	HnswSearchInit(&so->search, scan->indexRelation, info, so->query, false, so->cxt);
	so->search.want_bounds = so->bounded;
	so->started = true;
	HnswReadMeta(scan->indexRelation, &meta);
	if (meta.entry_level < 0)
	{
		so->done = true;
		MemoryContextSwitchTo(old);
		return;
	}
	ep = HnswSearchDescend(&so->search, &meta.entry, meta.entry_level, 0);
	eptid = so->search.pool[ep].tid;
	/* level 0 gets a visited set of its own */
	HnswSearchReset(&so->search);
	so->search.layer = 0;
	ep = HnswSearchVisit(&so->search, &eptid);
	HnswSearchLayer(&so->search, &ep, 1, hnsw_ef_search, 0);
	pgstat_count_index_scan(scan->indexRelation);
	MemoryContextSwitchTo(old);
}

static int
cmp_bound(const void *a, const void *b, void *arg)
{
	const HnswCandidate *pool = (const HnswCandidate *) arg;
	double		x = pool[*(const int *) a].bound;
	double		y = pool[*(const int *) b].bound;

	return (x > y) - (x < y);
}

/*
 * Bounded scans: the next candidate in the order of its bound, from
 * batches of up to ef_search candidates of the search, each sorted.
 */
static int
next_bounded(HnswScanOpaque so, uint64 budget)
{
	if (so->batchpos >= so->nbatch)
	{
		int			max = Max(hnsw_ef_search, 1);

		if (so->batch == NULL)
			so->batch = palloc(sizeof(int) * max);
		so->nbatch = so->batchpos = 0;
		while (so->nbatch < max)
		{
			int			i = HnswSearchNext(&so->search, budget);

			if (i < 0)
				break;
			so->batch[so->nbatch++] = i;
		}
		if (so->nbatch == 0)
			return -1;
		qsort_arg(so->batch, so->nbatch, sizeof(int), cmp_bound, so->search.pool);
	}
	return so->batch[so->batchpos++];
}

bool
hnswgettuple(IndexScanDesc scan, ScanDirection dir)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;

	if (!so->started)
		start_search(scan);
	while (!so->done)
	{
		MemoryContext old = MemoryContextSwitchTo(so->cxt);
		uint64		budget = hnsw_iterative_scan == HNSW_ITERATIVE_SCAN_OFF ? 0 :
			(uint64) hnsw_max_scan_tuples;
		int			i = so->bounded ? next_bounded(so, budget) :
			HnswSearchNext(&so->search, budget);
		HnswCandidate *c;
		double		order;

		MemoryContextSwitchTo(old);
		if (i < 0)
		{
			so->done = true;
			break;
		}
		c = &so->search.pool[i];
		if (!ItemPointerIsValid(&c->heaptid))
			continue;
		order = so->bounded ? c->bound : c->dist;
		if (hnsw_iterative_scan == HNSW_ITERATIVE_SCAN_STRICT && order < so->last_dist)
			continue;
		so->last_dist = Max(so->last_dist, order);
		scan->xs_heaptid = c->heaptid;
		scan->xs_recheck = false;
		if (so->bounded)
		{
			/* NaN, as the operator gives for a zero query under cosine */
			scan->xs_orderbyvals[0] = Float8GetDatum(so->zero_cosine ? get_float8_nan() : c->bound);
			scan->xs_orderbynulls[0] = false;
			scan->xs_recheckorderby = true;
		}
		else
			scan->xs_recheckorderby = false;
		return true;
	}
	return false;
}

void
hnswendscan(IndexScanDesc scan)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;

	if (so->started)
		HnswSearchEnd(&so->search);
	MemoryContextDelete(so->cxt);
	pfree(so);
	scan->opaque = NULL;
}
