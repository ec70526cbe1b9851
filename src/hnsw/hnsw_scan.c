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
 * resumes best-first from where it stopped, until the graph is exhausted or,
 * if hnsw.max_scan_tuples is set (default -1: no limit, so that LIMIT k
 * returns k rows whenever the table has them), that many elements have been
 * visited (then the elements already found are still returned, in order).  In
 * strict_order a row closer than one already returned is skipped, so the
 * output is always ordered; relaxed_order returns it (slightly out of
 * order, which an outer ORDER BY can repair).
 *
 * An index of codes (quantization = sq8) knows distances only
 * approximately, so its scan re-ranks: it takes the search's candidates
 * in batches of ef_search, each sorted by a lower bound of the exact
 * distance (HnswQueryBound), reads each candidate's heap row (visible to
 * the scan's snapshot; src/quant/quant_rescore.c), computes the exact
 * distance as the SQL operator does and keeps it in a min-heap.  The
 * nearest row of the heap is returned, with its exact distance, once no
 * unread candidate of the batch can be nearer (its bound says so) or once
 * a window of QuantRescoreWindow() candidates has been re-ranked (and
 * another window for every window's worth of rows returned).
 * A candidate re-ranked after a farther row was returned is skipped in
 * strict_order, returned in relaxed_order.  Bit codes (quantization = bit)
 * give no lower bound: their decoded distance only orders each batch, and
 * rows come out by the window alone.
 *
 * Key conditions.  On an index with a key column (hnsw_key.c) the scan may
 * get "key = value" (from the query or from a row-level security policy).
 * The key's directory entry says how many elements it has, c.  Reading
 * them all costs c element visits and gives the exact order; a graph
 * search that returns only the key's elements visits about ef_search * 2m
 * elements per ef_search results, and with the key holding a share
 * p = c / n of the index it must look at about 1 / p times as many before
 * it has ef_search of them: ef_search * 2m * n / c, each visit costing
 * about HNSW_KEY_GRAPH_COST chain reads.  The scan reads the chain when
 * that is no cheaper, c <= sqrt(ef_search * 2m * n / HNSW_KEY_GRAPH_COST),
 * unless vecq.key_exact_scan_limit says otherwise.  The graph search starts from
 * the usual descent and from the newest elements of the key, so that a key
 * whose rows sit apart from the rest is reached; elements of other keys
 * still lead it on.  Different keys may share a hash: rows are rechecked.
 *
 * src/hnsw/hnsw_scan.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/heaptoast.h"
#include "access/relscan.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

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
	bool		bounded;		/* codes: rows are re-ranked */
	float	   *rawquery;		/* the query as given, for exact distances */
	int		   *batch;			/* bounded: pool indices sorted by bound */
	int			nbatch;
	int			batchpos;
	bool		exhausted;		/* the search has no more candidates */
	QuantRescorer rescorer;
	bool		rescoring;		/* rescorer initialized */
	struct Scored *scored;		/* min-heap by exact distance */
	int			nscored;
	int			maxscored;
	uint64		nreranked;		/* rows re-ranked in all */
	uint64		nreturned;		/* rows returned */
	bool		keyed;			/* the scan has a key condition */
	bool		exact_bounds;	/* bounded: HnswBoundsExact() */
	/* float4 elements that are the rows' vectors: remember_row_vector */
	bool		remember;
	int			remember_tries; /* rows read with the vector in line */
	bool		remember_found; /* a row with it out of line */
	Vector	   *rowvec;
} HnswScanOpaqueData;

/*
 * A scan of float4 elements gives up remembering row vectors after this
 * many rows with vectors stored in line (small vectors, STORAGE plain);
 * after that many scans in a row gave up, this backend's scans of the
 * index do not try, except one in HNSW_REMEMBER_RETRY_SCANS.
 */
#define HNSW_REMEMBER_TRIES	8
#define HNSW_REMEMBER_INLINE_SCANS	2
#define HNSW_REMEMBER_RETRY_SCANS	256

/* elements of a key the graph search of that key starts from */
#define HNSW_KEY_SEEDS	8


/* a re-ranked candidate */
typedef struct Scored
{
	double		key;			/* exact distance, NaN as +Infinity */
	double		exact;
	ItemPointerData heaptid;
} Scored;

typedef HnswScanOpaqueData *HnswScanOpaque;

IndexScanDesc
hnswbeginscan(Relation index, int nkeys, int norderbys)
{
	IndexScanDesc scan = RelationGetIndexScan(index, nkeys, norderbys);
	HnswScanOpaque so = palloc0(sizeof(HnswScanOpaqueData));

	so->info = HnswGetIndexInfo(index);
	so->cxt = AllocSetContextCreate(CurrentMemoryContext, "hnsw scan",
									ALLOCSET_DEFAULT_SIZES);
	so->bounded = !HnswFormatIsExact(so->info->format);
	so->exact_bounds = HnswBoundsExact(so->info);
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
	if (so->rescoring)
		QuantRescorerEnd(&so->rescorer);
	so->rescoring = false;
	MemoryContextReset(so->cxt);
	so->started = false;
	so->done = false;
	so->last_dist = -INFINITY;
	so->batch = NULL;
	so->nbatch = so->batchpos = 0;
	so->exhausted = false;
	so->scored = NULL;
	so->nscored = so->maxscored = 0;
	so->nreranked = so->nreturned = 0;
	if (keys && scan->numberOfKeys > 0)
		memmove(scan->keyData, keys, scan->numberOfKeys * sizeof(ScanKeyData));
	if (orderbys && scan->numberOfOrderBys > 0)
		memmove(scan->orderByData, orderbys, scan->numberOfOrderBys * sizeof(ScanKeyData));
}

/*
 * The filterkey the scan's key conditions ask for: 0 if there are none;
 * false if no row can match (a NULL, or two different values).
 */
static bool
scan_filterkey(IndexScanDesc scan, uint32 *filterkey)
{
	*filterkey = 0;
	for (int i = 0; i < scan->numberOfKeys; i++)
	{
		ScanKey		key = &scan->keyData[i];
		uint32		h;

		if (key->sk_flags & SK_ISNULL)
			return false;
		h = HnswKeyHash(scan->indexRelation, key->sk_argument, false);
		if (*filterkey != 0 && h != *filterkey)
			return false;
		*filterkey = h;
	}
	return true;
}

/* Whether a key with count elements is read whole (see the header). */
static bool
key_exact(const HnswIndexInfo *info, const HnswMetaPageData *meta, uint32 count)
{
	double		n = Max((double) meta->nelements, 1.0);

	if (hnsw_key_exact_scan_limit >= 0)
		return count <= (uint32) hnsw_key_exact_scan_limit;
	return (double) count * count * HNSW_KEY_GRAPH_COST <= (double) hnsw_ef_search * 2 * info->m * n;
}

/*
 * Whether the rows this scan returns may have their vectors out of line, in
 * TOAST, and its elements hold exactly those vectors: then the executor's
 * distance for the row can use the element's copy (remember_row_vector).
 * Cosine elements are normalized, halfvec and expression indexes hold
 * something else than the column; vectors of fewer than ~250 dimensions
 * are rarely moved out of line.
 */
static bool
worth_remembering(IndexScanDesc scan)
{
	const HnswIndexInfo *info = ((HnswScanOpaque) scan->opaque)->info;
	Relation	index = scan->indexRelation;
	AttrNumber	attnum = index->rd_index->indkey.values[0];
	HnswScanHintsData *hints;

	if (scan->heapRelation == NULL || !IsMVCCSnapshot(scan->xs_snapshot) ||
		attnum <= 0 || info->format != HNSW_FORMAT_FLOAT4 || info->halfvec ||
		(info->metric != HNSW_METRIC_L2 && info->metric != HNSW_METRIC_IP &&
		 info->metric != HNSW_METRIC_L1))
		return false;
	if (TupleDescAttr(RelationGetDescr(scan->heapRelation), attnum - 1)->attstorage ==
		TYPSTORAGE_PLAIN)
		return false;
	if (VECTOR_SIZE(info->dimensions) <= TOAST_TUPLE_THRESHOLD / 2)
		return false;
	hints = HnswScanHints(index);
	if (hints->inline_scans >= HNSW_REMEMBER_INLINE_SCANS)
	{
		/* the rows keep their vectors in line: look again now and then */
		if (++hints->skipped_scans < HNSW_REMEMBER_RETRY_SCANS)
			return false;
		hints->skipped_scans = 0;
	}
	return true;
}

/*
 * The row at the candidate's heap TID is about to be returned, and the
 * executor will compute its ORDER BY distance from the row.  If the row is
 * visible and stores its vector as a TOAST pointer, pair the pointer with
 * the element's vector (vector_arg.c), so that the distance function does
 * not fetch the value from TOAST again.  Visibility matters: a TID whose
 * row VACUUM has removed since the element was read may hold another row.
 */
static void
remember_row_vector(IndexScanDesc scan, HnswCandidate *c)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;
	const HnswIndexInfo *info = so->info;
	Datum		stored;

	if (!QuantRescorerStored(&so->rescorer, &c->heaptid, &stored))
		return;
	if (!VARATT_IS_EXTERNAL_ONDISK(DatumGetPointer(stored)))
	{
		if (!so->remember_found && ++so->remember_tries >= HNSW_REMEMBER_TRIES)
		{
			so->remember = false;
			HnswScanHints(scan->indexRelation)->inline_scans++;
		}
		return;
	}
	if (!so->remember_found)
	{
		/* vectors out of line: this scan and the next ones keep trying */
		so->remember_found = true;
		HnswScanHints(scan->indexRelation)->inline_scans = 0;
	}
	if (!HnswLoadElement(scan->indexRelation, info, &c->tid, so->rowvec->x,
						 NULL, NULL, NULL))
		return;
	SET_VARSIZE(so->rowvec, VECTOR_SIZE(info->dimensions));
	so->rowvec->dim = info->dimensions;
	so->rowvec->unused = 0;
	VecqRememberFetched(stored, (struct varlena *) so->rowvec);
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
	uint32		filterkey;
	HnswKeyDirEntry keyentry;
	int			seeds[HNSW_KEY_SEEDS + 1];
	int			nseeds = 0;

	if (scan->numberOfOrderBys == 0 || scan->orderByData == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("an hnsw index can only be scanned in the order of a distance operator")));
	key = &scan->orderByData[0];
	so->query = palloc0(HnswVectorSize(info));
	so->rawquery = NULL;
	if (!(key->sk_flags & SK_ISNULL))
	{
		const float *x = HnswDatumData(info, key->sk_argument);

		/* a zero query under cosine stays zero: every distance is 1 */
		if (!HnswPrepareVector(info->metric, x, so->query, info->dimensions))
			memset(so->query, 0, HnswVectorSize(info));
		so->rawquery = palloc0(HnswVectorSize(info));
		memcpy(so->rawquery, x, HnswIsBitMetric(info->metric) ?
			   HnswElementDataSize(info) : HnswVectorSize(info));
	}
	so->remember = false;
	if (!so->bounded && worth_remembering(scan))
	{
		QuantRescorerInit(&so->rescorer, scan->heapRelation, scan->indexRelation,
						  scan->xs_snapshot);
		so->rescoring = true;
		so->remember = true;
		so->remember_tries = 0;
		so->remember_found = false;
		so->rowvec = palloc(VECTOR_SIZE(info->dimensions));
	}
	if (so->bounded)
	{
		if (scan->heapRelation == NULL)
			elog(ERROR, "a scan of quantized hnsw index \"%s\" needs its table",
				 RelationGetRelationName(scan->indexRelation));
		QuantRescorerInit(&so->rescorer, scan->heapRelation, scan->indexRelation,
						  scan->xs_snapshot);
		so->rescoring = true;
	}

	HnswSearchInit(&so->search, scan->indexRelation, info, so->query, false, so->cxt);
	so->search.want_bounds = so->bounded;
	so->started = true;
	HnswReadMeta(scan->indexRelation, &meta);
	pgstat_count_index_scan(scan->indexRelation);
	so->keyed = scan->numberOfKeys > 0;
	if (meta.entry_level < 0 || !scan_filterkey(scan, &filterkey) ||
		(filterkey != 0 && !HnswKeyDirLookup(scan->indexRelation, &meta, filterkey, &keyentry)))
	{
		so->done = true;
		MemoryContextSwitchTo(old);
		return;
	}
	so->search.filterkey = filterkey;
	if (filterkey != 0 && key_exact(info, &meta, keyentry.count))
	{
		HnswSearchChain(&so->search, &keyentry.head, filterkey, 0);
		MemoryContextSwitchTo(old);
		return;
	}

	ep = HnswSearchDescend(&so->search, &meta.entry, meta.entry_level, 0);
	eptid = so->search.pool[ep].tid;
	/* level 0 gets a visited set of its own */
	HnswSearchReset(&so->search);
	so->search.layer = 0;
	seeds[nseeds++] = HnswSearchVisit(&so->search, &eptid);
	if (filterkey != 0)
	{
		ItemPointerData tid = keyentry.head;

		while (nseeds <= HNSW_KEY_SEEDS && ItemPointerIsValid(&tid))
		{
			int			i = HnswSearchVisit(&so->search, &tid);

			if (i < 0)
				break;
			seeds[nseeds++] = i;
			tid = so->search.pool[i].keynext;
		}
	}
	HnswSearchLayer(&so->search, seeds, nseeds, hnsw_ef_search, 0);
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
 * Bounded scans: refill the batch with up to ef_search candidates of the
 * search, sorted by bound; false when the search has no more.
 */
static bool
refill_batch(HnswScanOpaque so, uint64 budget)
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
		if (ItemPointerIsValid(&so->search.pool[i].heaptid))
			so->batch[so->nbatch++] = i;
	}
	if (so->nbatch == 0)
		return false;
	qsort_arg(so->batch, so->nbatch, sizeof(int), cmp_bound, so->search.pool);
	return true;
}

static void
scored_push(HnswScanOpaque so, Scored x)
{
	int			pos;

	if (so->nscored == so->maxscored)
	{
		so->maxscored = Max(64, so->maxscored * 2);
		so->scored = so->scored ? repalloc(so->scored, sizeof(Scored) * so->maxscored)
			: palloc(sizeof(Scored) * so->maxscored);
	}
	pos = so->nscored++;
	while (pos > 0 && so->scored[(pos - 1) / 2].key > x.key)
	{
		so->scored[pos] = so->scored[(pos - 1) / 2];
		pos = (pos - 1) / 2;
	}
	so->scored[pos] = x;
}

static Scored
scored_pop(HnswScanOpaque so)
{
	Scored		top = so->scored[0];
	Scored		last = so->scored[--so->nscored];
	int			pos = 0;

	for (;;)
	{
		int			child = 2 * pos + 1;

		if (child >= so->nscored)
			break;
		if (child + 1 < so->nscored && so->scored[child + 1].key < so->scored[child].key)
			child++;
		if (so->scored[child].key >= last.key)
			break;
		so->scored[pos] = so->scored[child];
		pos = child;
	}
	if (so->nscored > 0)
		so->scored[pos] = last;
	return top;
}

/*
 * Bounded scans: the next row in exact distance order (see the header
 * comment); false when there is none.
 */
static bool
next_rescored(IndexScanDesc scan, uint64 budget)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;
	const HnswIndexInfo *info = so->info;
	uint64		window = QuantRescoreWindow(hnsw_ef_search);

	for (;;)
	{
		double		next_bound;
		bool		window_done;

		/*
		 * Re-rank in chunks of a window: the first window before the first
		 * row, another before row window + 1, and so on.  A row whose
		 * window is done comes out before the search is resumed for the
		 * next batch, which the scan may never need (a LIMIT).
		 */
		window_done = so->nreranked >= window * (1 + so->nreturned / window);
		if (so->batchpos >= so->nbatch && !so->exhausted &&
			!(window_done && so->nscored > 0))
			so->exhausted = !refill_batch(so, budget);
		next_bound = so->batchpos < so->nbatch ?
			so->search.pool[so->batch[so->batchpos]].bound : INFINITY;

		if (so->nscored > 0 &&
			((so->exact_bounds && so->scored[0].key <= next_bound) ||
			 (so->exhausted && so->batchpos >= so->nbatch) ||
			 window_done))
		{
			Scored		top = scored_pop(so);

			if (hnsw_iterative_scan == HNSW_ITERATIVE_SCAN_STRICT && top.key < so->last_dist)
				continue;
			so->last_dist = Max(so->last_dist, top.key);
			so->nreturned++;
			scan->xs_heaptid = top.heaptid;
			scan->xs_orderbyvals[0] = Float8GetDatum(top.exact);
			scan->xs_orderbynulls[0] = false;
			return true;
		}
		if (so->batchpos < so->nbatch)
		{
			HnswCandidate *c = &so->search.pool[so->batch[so->batchpos++]];
			const Vector *v;
			Scored		x;

			CHECK_FOR_INTERRUPTS();
			v = QuantRescorerFetch(&so->rescorer, &c->heaptid);
			if (v == NULL)
				continue;		/* not visible to this scan */
			if (v->dim != info->dimensions)
				ereport(ERROR,
						(errcode(ERRCODE_DATA_EXCEPTION),
						 errmsg("different vector dimensions %d and %d", v->dim, info->dimensions)));
			x.exact = so->rawquery ?
				HnswSqlDistance(info->metric, v->x, so->rawquery, info->dimensions) : 0;
			x.key = isnan(x.exact) ? INFINITY : x.exact;
			x.heaptid = c->heaptid;
			scored_push(so, x);
			so->nreranked++;
			continue;
		}
		/* nothing left to read, and (next_bound being infinite) none kept */
		return false;
	}
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
			hnsw_max_scan_tuples < 0 ? PG_UINT64_MAX : (uint64) hnsw_max_scan_tuples;
		int			i;
		HnswCandidate *c;

		if (so->bounded)
		{
			bool		found = next_rescored(scan, budget);

			MemoryContextSwitchTo(old);
			if (!found)
				so->done = true;
			scan->xs_recheck = so->keyed;
			scan->xs_recheckorderby = false;
			return found;
		}
		i = HnswSearchNext(&so->search, budget);
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
		if (so->remember)
			remember_row_vector(scan, c);
		scan->xs_heaptid = c->heaptid;
		scan->xs_recheck = so->keyed;
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
	if (so->rescoring)
		QuantRescorerEnd(&so->rescorer);
	MemoryContextDelete(so->cxt);
	pfree(so);
	scan->opaque = NULL;
}
