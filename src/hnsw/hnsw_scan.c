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
 * src/hnsw/hnsw_scan.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/relscan.h"
#include "miscadmin.h"
#include "pgstat.h"
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
	scan->opaque = so;
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
	so->query = palloc0(HnswElementDataSize(info));
	if (!(key->sk_flags & SK_ISNULL))
	{
		Vector	   *q = DatumGetVector(key->sk_argument);

		if (q->dim != info->dimensions)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("expected %d dimensions, not %d", info->dimensions, q->dim)));
		/* a zero query under cosine stays zero: every distance is 1 */
		if (!HnswPrepareVector(info->metric, q->x, so->query, info->dimensions))
			memset(so->query, 0, HnswElementDataSize(info));
	}

	HnswSearchInit(&so->search, scan->indexRelation, info, so->query, false, so->cxt);
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
		int			i = HnswSearchNext(&so->search, budget);
		HnswCandidate *c;

		MemoryContextSwitchTo(old);
		if (i < 0)
		{
			so->done = true;
			break;
		}
		c = &so->search.pool[i];
		if (!ItemPointerIsValid(&c->heaptid))
			continue;
		if (hnsw_iterative_scan == HNSW_ITERATIVE_SCAN_STRICT && c->dist < so->last_dist)
			continue;
		so->last_dist = Max(so->last_dist, c->dist);
		scan->xs_heaptid = c->heaptid;
		scan->xs_recheck = false;
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
