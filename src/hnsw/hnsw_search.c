/*-------------------------------------------------------------------------
 *
 * hnsw_search.c
 *	  Resumable best-first graph search over index pages (see
 *	  hnsw_search.h), and the neighbour-selection heuristic.
 *
 * src/hnsw/hnsw_search.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/xact.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "hnsw/hnsw_search.h"

/* ---------------- visited set: open addressing on block/offset ---------------- */

static inline uint64
tid_key(ItemPointer tid)
{
	return ((uint64) ItemPointerGetBlockNumberNoCheck(tid) << 16) |
		ItemPointerGetOffsetNumberNoCheck(tid);
}

static inline uint32
key_hash(uint64 k)
{
	k ^= k >> 33;
	k *= UINT64CONST(0xff51afd7ed558ccd);
	k ^= k >> 33;
	return (uint32) k;
}

/* a set of size slots, in cxt */
static void
visited_init(HnswVisited *v, uint32 size, MemoryContext cxt)
{
	v->keys = MemoryContextAllocExtended(cxt, sizeof(uint64) * size,
										 MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	v->mask = size - 1;
	v->count = 0;
}

/* true if key was new (and is now in the set) */
static bool
visited_add(HnswVisited *v, uint64 key)
{
	uint32		i;

	if (v->count * 2 >= v->mask)
	{
		uint64	   *old = v->keys;
		uint32		oldsize = v->mask + 1;

		/* where the old one was: a search's context or the kept buffers */
		visited_init(v, oldsize * 2, GetMemoryChunkContext(old));
		for (uint32 j = 0; j < oldsize; j++)
			if (old[j] != 0)
				(void) visited_add(v, old[j]);
		pfree(old);
	}
	i = key_hash(key) & v->mask;
	while (v->keys[i] != 0)
	{
		if (v->keys[i] == key)
			return false;
		i = (i + 1) & v->mask;
	}
	v->keys[i] = key;
	v->count++;
	return true;
}

/* ---------------- heaps of pool indices ---------------- */

#define DIST(s, i) ((s)->pool[(i)].dist)

static void
heap_push(HnswSearch *s, int *heap, int *n, int item, bool max)
{
	int			pos = (*n)++;

	while (pos > 0)
	{
		int			parent = (pos - 1) / 2;
		bool		up = max ? DIST(s, heap[parent]) < DIST(s, item)
			: DIST(s, heap[parent]) > DIST(s, item);

		if (!up)
			break;
		heap[pos] = heap[parent];
		pos = parent;
	}
	heap[pos] = item;
}

static int
heap_pop(HnswSearch *s, int *heap, int *n, bool max)
{
	int			result = heap[0];
	int			last = heap[--(*n)];
	int			pos = 0;

	if (*n == 0)
		return result;
	for (;;)
	{
		int			child = 2 * pos + 1;

		if (child >= *n)
			break;
		if (child + 1 < *n &&
			(max ? DIST(s, heap[child + 1]) > DIST(s, heap[child])
			 : DIST(s, heap[child + 1]) < DIST(s, heap[child])))
			child++;
		if (max ? DIST(s, heap[child]) <= DIST(s, last)
			: DIST(s, heap[child]) >= DIST(s, last))
			break;
		heap[pos] = heap[child];
		pos = child;
	}
	heap[pos] = last;
	return result;
}

/* ---------------- reading pages ---------------- */

/* A share-locked buffer of blkno, reusing the pin of the last one. */
static Buffer
search_lock(HnswSearch *s, BlockNumber blkno)
{
	if (s->pinned == InvalidBuffer || BufferGetBlockNumber(s->pinned) != blkno)
	{
		if (s->pinned != InvalidBuffer)
			ReleaseBuffer(s->pinned);
		s->pinned = HnswReadBufferHinted(s->index, blkno);
	}
	LockBuffer(s->pinned, BUFFER_LOCK_SHARE);
	return s->pinned;
}

static void
bad_tuple(Relation index, ItemPointer tid, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_INDEX_CORRUPTED),
			 errmsg("index \"%s\" has no %s at (%u,%u)",
					RelationGetRelationName(index), what,
					ItemPointerGetBlockNumberNoCheck(tid),
					ItemPointerGetOffsetNumberNoCheck(tid)),
			 errhint("Please REINDEX it.")));
}

/* line pointers that fit on a page after its header */
#define MAX_LINE_POINTERS ((BLCKSZ - SizeOfPageHeaderData) / sizeof(ItemIdData))

/*
 * The item at tid on a locked page, checked to be of the given type.
 *
 * The page header is not read: that is one cache miss less for every
 * element a search visits.  An offset past the page's line pointers in use
 * finds a line pointer in the page's free space, which is zero (unused)
 * on every page vecq writes (items are never removed); whatever a damaged
 * page holds there, the checks keep the tuple inside the page.
 */
static void *
page_tuple(Relation index, Page page, ItemPointer tid, uint8 type)
{
	OffsetNumber off = ItemPointerGetOffsetNumber(tid);
	ItemId		itemid;
	uint8	   *tup;

	if (off < FirstOffsetNumber || off > MAX_LINE_POINTERS)
		bad_tuple(index, tid, type == HNSW_ELEMENT_TUPLE ? "element" : "neighbor list");
	itemid = PageGetItemId(page, off);
	if (!ItemIdIsNormal(itemid) || ItemIdGetLength(itemid) == 0 ||
		ItemIdGetOffset(itemid) < SizeOfPageHeaderData ||
		ItemIdGetOffset(itemid) + ItemIdGetLength(itemid) > BLCKSZ)
		bad_tuple(index, tid, type == HNSW_ELEMENT_TUPLE ? "element" : "neighbor list");
	tup = (uint8 *) PageGetItem(page, itemid);
	if (*tup != type)
		bad_tuple(index, tid, type == HNSW_ELEMENT_TUPLE ? "element" : "neighbor list");
	return tup;
}

bool
HnswLoadElement(Relation index, const HnswIndexInfo *info, ItemPointer tid,
				float *vector, uint8 *flags, uint8 *level, ItemPointer neighbortid)
{
	Buffer		buf = HnswReadBufferHinted(index, ItemPointerGetBlockNumber(tid));
	HnswElementTuple etup;
	BlockNumber overflow = InvalidBlockNumber;
	Size		len = HnswElementDataSize(info);
	char	   *data = NULL;

	/* float4 data goes straight to vector; codes are decoded into it */
	if (vector)
		data = info->format == HNSW_FORMAT_FLOAT4 ? (char *) vector : palloc(len);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	etup = page_tuple(index, BufferGetPage(buf), tid, HNSW_ELEMENT_TUPLE);
	if (flags)
		*flags = etup->flags;
	if (level)
		*level = etup->level;
	if (neighbortid)
		*neighbortid = etup->neighbortid;
	if (vector)
	{
		if (etup->flags & HNSW_ELEMENT_OVERFLOW)
			overflow = ((HnswOverflowRef *) etup->data)->first;
		else
			memcpy(data, etup->data, len);
	}
	UnlockReleaseBuffer(buf);
	if (vector && overflow != InvalidBlockNumber)
		HnswReadOverflow(index, overflow, data, len);
	if (vector && data != (char *) vector)
	{
		HnswDecodeData(info, data, vector);
		pfree(data);
	}
	return true;
}

int
HnswLoadNeighbors(Relation index, const HnswIndexInfo *info,
				  ItemPointer neighbortid, int lc, ItemPointerData *out)
{
	Buffer		buf = HnswReadBufferHinted(index, ItemPointerGetBlockNumber(neighbortid));
	HnswNeighborTuple ntup;
	int			n = 0;

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	ntup = page_tuple(index, BufferGetPage(buf), neighbortid, HNSW_NEIGHBOR_TUPLE);
	if (lc <= ntup->level)
	{
		int			first = HNSW_LEVEL_FIRST_SLOT(lc, info->m);
		int			nslots = HNSW_LEVEL_SLOTS(lc, info->m);

		for (int i = 0; i < nslots; i++)
		{
			if (!ItemPointerIsValid(&ntup->slots[first + i]))
				break;
			out[n++] = ntup->slots[first + i];
		}
	}
	UnlockReleaseBuffer(buf);
	return n;
}

/* ---------------- the search ---------------- */

/*
 * The growing arrays of a search (candidate pool, heaps, visited set,
 * neighbour store) are kept from one search to the next in this backend.
 * A scan's arrays reach a few hundred kB (they double as the search
 * visits more elements); allocated afresh each time, malloc takes them
 * from the kernel as new pages, and the page faults of touching them cost
 * more than the search itself on small indexes.  One search at a time
 * borrows them (a nested search, or one running while another is open,
 * allocates its own in its context); HnswSearchEnd gives them back.  A
 * search that never ends (an error) leaves them borrowed: at transaction
 * end the context is emptied, since no search outlives its transaction.
 */
typedef struct SearchBuffers
{
	MemoryContext cxt;
	bool		lent;
	bool		have;
	HnswCandidate *pool;
	int			maxpool;
	int		   *cand;
	int		   *top;
	int		   *rest;
	int		   *out;
	int			maxheap;
	uint64	   *visited;
	uint32		visited_size;
	ItemPointerData *nbrstore;
	int			maxnbrstore;
} SearchBuffers;

static SearchBuffers buffers;

/* arrays larger than this in all are freed instead of kept */
#define SEARCH_BUFFERS_KEEP (16 * 1024 * 1024)

static void
buffers_xact_callback(XactEvent event, void *arg)
{
	if (event != XACT_EVENT_COMMIT && event != XACT_EVENT_ABORT &&
		event != XACT_EVENT_PREPARE && event != XACT_EVENT_PARALLEL_COMMIT &&
		event != XACT_EVENT_PARALLEL_ABORT)
		return;
	if (buffers.lent)
	{
		MemoryContextReset(buffers.cxt);
		buffers.lent = false;
		buffers.have = false;
	}
}

static void
buffers_borrow(HnswSearch *s)
{
	if (buffers.cxt == NULL)
	{
		buffers.cxt = AllocSetContextCreate(TopMemoryContext, "HNSW search buffers",
											ALLOCSET_DEFAULT_SIZES);
		RegisterXactCallback(buffers_xact_callback, NULL);
	}
	if (!buffers.have)
	{
		MemoryContext old = MemoryContextSwitchTo(buffers.cxt);

		buffers.maxpool = 256;
		buffers.pool = palloc(sizeof(HnswCandidate) * buffers.maxpool);
		buffers.maxheap = 256;
		buffers.cand = palloc(sizeof(int) * buffers.maxheap);
		buffers.top = palloc(sizeof(int) * buffers.maxheap);
		buffers.rest = palloc(sizeof(int) * buffers.maxheap);
		buffers.out = palloc(sizeof(int) * buffers.maxheap);
		buffers.visited_size = 1024;
		buffers.visited = palloc(sizeof(uint64) * buffers.visited_size);
		buffers.maxnbrstore = 4096;
		buffers.nbrstore = palloc(sizeof(ItemPointerData) * buffers.maxnbrstore);
		MemoryContextSwitchTo(old);
		buffers.have = true;
	}
	buffers.lent = true;
	s->reused = true;
	s->pool = buffers.pool;
	s->maxpool = buffers.maxpool;
	s->cand = buffers.cand;
	s->top = buffers.top;
	s->rest = buffers.rest;
	s->out = buffers.out;
	s->maxheap = buffers.maxheap;
	s->visited.keys = buffers.visited;
	s->visited.mask = buffers.visited_size - 1;
	s->visited.count = 0;
	memset(s->visited.keys, 0, sizeof(uint64) * buffers.visited_size);
	s->nbrstore = buffers.nbrstore;
	s->maxnbrstore = buffers.maxnbrstore;
}

static void
buffers_return(HnswSearch *s)
{
	Size		total;

	if (!s->reused)
		return;
	s->reused = false;
	total = sizeof(HnswCandidate) * (Size) s->maxpool +
		4 * sizeof(int) * (Size) s->maxheap +
		sizeof(uint64) * ((Size) s->visited.mask + 1) +
		sizeof(ItemPointerData) * (Size) s->maxnbrstore;
	buffers.lent = false;
	if (total > SEARCH_BUFFERS_KEEP)
	{
		MemoryContextReset(buffers.cxt);
		buffers.have = false;
		return;
	}
	/*
	 * A visited set much larger than this search needed (an earlier search
	 * with a large ef_search grew it) would cost every later search a
	 * memset of all of it: shrink it to four times this search's count.
	 */
	if (s->visited.mask + 1 > 4096 && (Size) s->visited.count * 16 < (Size) s->visited.mask + 1)
	{
		uint32		size = 4096;

		while (size < s->visited.count * 4)
			size *= 2;
		pfree(s->visited.keys);
		s->visited.keys = MemoryContextAllocExtended(buffers.cxt, sizeof(uint64) * size,
													 MCXT_ALLOC_HUGE);
		s->visited.mask = size - 1;
	}
	/* the arrays may have moved (repalloc) and grown */
	buffers.pool = s->pool;
	buffers.maxpool = s->maxpool;
	buffers.cand = s->cand;
	buffers.top = s->top;
	buffers.rest = s->rest;
	buffers.out = s->out;
	buffers.maxheap = s->maxheap;
	buffers.visited = s->visited.keys;
	buffers.visited_size = s->visited.mask + 1;
	buffers.nbrstore = s->nbrstore;
	buffers.maxnbrstore = s->maxnbrstore;
}

void
HnswSearchInit(HnswSearch *s, Relation index, const HnswIndexInfo *info,
			   const float *query, bool keep_vectors, MemoryContext cxt)
{
	MemoryContext old = MemoryContextSwitchTo(cxt);

	memset(s, 0, sizeof(*s));
	s->index = index;
	s->info = info;
	s->query = query;
	HnswQueryInit(&s->q, info);
	if (query)
		HnswQuerySet(&s->q, query);
	s->keep_vectors = keep_vectors;
	s->cxt = cxt;
	if (!buffers.lent)
		buffers_borrow(s);
	else
	{
		s->maxpool = 256;
		s->pool = palloc(sizeof(HnswCandidate) * s->maxpool);
		s->maxheap = 256;
		s->cand = palloc(sizeof(int) * s->maxheap);
		s->top = palloc(sizeof(int) * s->maxheap);
		s->rest = palloc(sizeof(int) * s->maxheap);
		s->out = palloc(sizeof(int) * s->maxheap);
		visited_init(&s->visited, 1024, cxt);
		s->maxnbrstore = 4096;
		s->nbrstore = palloc(sizeof(ItemPointerData) * s->maxnbrstore);
	}
	s->scratch = palloc(HnswElementDataSize(info));
	s->pinned = InvalidBuffer;
	MemoryContextSwitchTo(old);
}

void
HnswSearchEnd(HnswSearch *s)
{
	if (s->pinned != InvalidBuffer)
		ReleaseBuffer(s->pinned);
	s->pinned = InvalidBuffer;
	buffers_return(s);
}

void
HnswSearchReset(HnswSearch *s)
{
	s->npool = 0;
	s->ncand = s->ntop = s->nrest = 0;
	s->nout = s->outpos = 0;
	s->nnbrstore = 0;
	s->resumed = false;
	memset(s->visited.keys, 0, sizeof(uint64) * (s->visited.mask + 1));
	s->visited.count = 0;
}

static void
grow_heaps(HnswSearch *s)
{
	if (s->npool >= s->maxheap)
	{
		s->maxheap *= 2;
		s->cand = repalloc(s->cand, sizeof(int) * s->maxheap);
		s->top = repalloc(s->top, sizeof(int) * s->maxheap);
		s->rest = repalloc(s->rest, sizeof(int) * s->maxheap);
		s->out = repalloc(s->out, sizeof(int) * s->maxheap);
	}
}

/* Distance (and bound, vector copy if asked) of c from its element data. */
static inline void
element_distance(HnswSearch *s, HnswCandidate *c, const char *data)
{
	c->dist = HnswQueryDistance(&s->q, data);
	if (s->want_bounds)
		c->bound = HnswQueryBound(&s->q, data, c->dist);
	if (s->keep_vectors)
	{
		c->vector = palloc(HnswVectorSize(s->info));
		HnswDecodeData(s->info, data, c->vector);
	}
}

/*
 * Visit the element at tid, already marked visited, on the page of buf
 * (pinned; locked and unlocked here).  Returns its pool index.
 */
static int
visit_pinned(HnswSearch *s, ItemPointer tid, Buffer buf)
{
	const HnswIndexInfo *info = s->info;
	HnswElementTuple etup;
	HnswCandidate *c;
	const char *data;
	BlockNumber overflow = InvalidBlockNumber;
	MemoryContext old;

	old = MemoryContextSwitchTo(s->cxt);
	if (s->npool == s->maxpool)
	{
		s->maxpool *= 2;
		s->pool = repalloc_huge(s->pool, sizeof(HnswCandidate) * s->maxpool);
	}
	grow_heaps(s);
	c = &s->pool[s->npool];

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	etup = page_tuple(s->index, BufferGetPage(buf), tid, HNSW_ELEMENT_TUPLE);
	c->tid = *tid;
	c->neighbortid = etup->neighbortid;
	c->heaptid = etup->heaptid;
	c->keynext = etup->keynext;
	c->filterkey = etup->filterkey;
	c->level = etup->level;
	c->deleted = (etup->flags & HNSW_ELEMENT_DELETED) != 0;
	c->returned = false;
	c->vector = NULL;
	c->nbr_layer = -1;
	c->nbr_count = 0;
	c->nbr_off = 0;
	if (s->layer >= 0 &&
		ItemPointerGetBlockNumber(&etup->neighbortid) == ItemPointerGetBlockNumber(tid))
	{
		HnswNeighborTuple ntup = page_tuple(s->index, BufferGetPage(buf),
											&etup->neighbortid, HNSW_NEIGHBOR_TUPLE);

		if (s->layer <= ntup->level)
		{
			int			first = HNSW_LEVEL_FIRST_SLOT(s->layer, info->m);
			int			nslots = HNSW_LEVEL_SLOTS(s->layer, info->m);
			int			n = 0;

			if (s->nnbrstore + nslots > s->maxnbrstore)
			{
				s->maxnbrstore = Max(s->maxnbrstore * 2, s->nnbrstore + nslots);
				s->nbrstore = repalloc_huge(s->nbrstore,
											sizeof(ItemPointerData) * s->maxnbrstore);
			}
			while (n < nslots && ItemPointerIsValid(&ntup->slots[first + n]))
			{
				s->nbrstore[s->nnbrstore + n] = ntup->slots[first + n];
				n++;
			}
			c->nbr_layer = (int8) s->layer;
			c->nbr_count = (int16) n;
			c->nbr_off = s->nnbrstore;
			s->nnbrstore += n;
		}
	}
	if (etup->flags & HNSW_ELEMENT_OVERFLOW)
	{
		overflow = ((HnswOverflowRef *) etup->data)->first;
		data = NULL;
	}
	else
	{
		data = etup->data;
		element_distance(s, c, data);
	}
	LockBuffer(buf, BUFFER_LOCK_UNLOCK);

	if (overflow != InvalidBlockNumber)
	{
		HnswReadOverflow(s->index, overflow, (char *) s->scratch,
						 HnswElementDataSize(info));
		element_distance(s, c, (const char *) s->scratch);
	}
	MemoryContextSwitchTo(old);
	s->ndistances++;
	return s->npool++;
}

int
HnswSearchVisit(HnswSearch *s, ItemPointer tid)
{
	Buffer		buf;
	int			i;

	if (!visited_add(&s->visited, tid_key(tid)))
		return -1;
	buf = search_lock(s, ItemPointerGetBlockNumber(tid));
	LockBuffer(buf, BUFFER_LOCK_UNLOCK);
	i = visit_pinned(s, tid, buf);
	return i;
}

/* Whether a discovered element may be a result: live, and of the key. */
static inline bool
is_result(HnswSearch *s, int i)
{
	return !s->pool[i].deleted &&
		(s->filterkey == 0 || s->pool[i].filterkey == s->filterkey);
}

/*
 * Offer a discovered element to the result heaps (results only; with a
 * filterkey, the other elements still lead the search on).
 */
static void
offer(HnswSearch *s, int i)
{
	if (!is_result(s, i))
		return;
	if (s->ntop < s->ef)
		heap_push(s, s->top, &s->ntop, i, true);
	else if (s->pool[i].dist < DIST(s, s->top[0]))
	{
		int			out = heap_pop(s, s->top, &s->ntop, true);

		heap_push(s, s->rest, &s->nrest, out, false);
		heap_push(s, s->top, &s->ntop, i, true);
	}
	else
		heap_push(s, s->rest, &s->nrest, i, false);
}

/* what expand_one prefetches of every new neighbour's tuple at first */
#define PREFETCH_HEAD_BYTES 128

/*
 * Expand one candidate: visit its neighbours on the current layer.  New
 * elements become candidates; live ones are offered to the result heaps
 * (bounded search) or go straight to the rest heap (resumed search).  A
 * bounded search does not keep an element worse than a full top heap's
 * worst as a candidate worth expanding first, but keeps it as a candidate
 * for a later resumed search.
 */
static void
expand_one(HnswSearch *s, int c)
{
	ItemPointerData nbrs[2 * HNSW_MAX_M];
	int			visited_batch[2 * HNSW_MAX_M];
	ItemPointerData ntid = s->pool[c].neighbortid;
	Buffer		buf;
	HnswNeighborTuple ntup;
	int			first = HNSW_LEVEL_FIRST_SLOT(s->layer, s->info->m);
	int			nslots = HNSW_LEVEL_SLOTS(s->layer, s->info->m);
	int			n = 0;

	if (s->pool[c].level < s->layer)
		return;
	if (s->pool[c].nbr_layer == s->layer)
	{
		/* copied when it was visited */
		n = s->pool[c].nbr_count;
		memcpy(nbrs, s->nbrstore + s->pool[c].nbr_off, sizeof(ItemPointerData) * n);
	}
	else
	{
		buf = search_lock(s, ItemPointerGetBlockNumber(&ntid));
		ntup = page_tuple(s->index, BufferGetPage(buf), &ntid, HNSW_NEIGHBOR_TUPLE);
		if (s->layer <= ntup->level)
			for (int i = 0; i < nslots; i++)
			{
				if (!ItemPointerIsValid(&ntup->slots[first + i]))
					break;
				nbrs[n++] = ntup->slots[first + i];
			}
		LockBuffer(buf, BUFFER_LOCK_UNLOCK);
	}

	/*
	 * Visit the new neighbours in three passes, so that their pages' cache
	 * misses overlap instead of coming one after another: prefetch each
	 * page's buffer header and line pointer; then each tuple; then pin,
	 * lock, compute, unlock and unpin each in turn.  The first two passes
	 * go through the recent-buffer hints without pinning (reading an
	 * unpinned page is only a hint: at worst a useless prefetch).  One pin
	 * at a time: past 8 pins held at once, every pin and unpin of the
	 * backend goes through PostgreSQL's hash table of private reference
	 * counts, which cost more than the prefetching gains.
	 */
	{
		int			m = 0;

		for (int i = 0; i < n; i++)
		{
			if (!visited_add(&s->visited, tid_key(&nbrs[i])))
				continue;
			nbrs[m] = nbrs[i];
			HnswPrefetchHinted(s->index, &nbrs[m]);
			m++;
		}
		for (int i = 0; i < m; i++)
			HnswPrefetchTupleHinted(s->index, &nbrs[i], PREFETCH_HEAD_BYTES);
		if (m > 0)
			HnswPrefetchTupleHinted(s->index, &nbrs[0], 0);
		for (int i = 0; i < m; i++)
		{
			Buffer		nbuf;

			if (i + 1 < m)
				HnswPrefetchTupleHinted(s->index, &nbrs[i + 1], 0);
			nbuf = HnswReadBufferHinted(s->index, ItemPointerGetBlockNumber(&nbrs[i]));

			visited_batch[i] = visit_pinned(s, &nbrs[i], nbuf);
			ReleaseBuffer(nbuf);
		}
		n = m;
	}
	for (int i = 0; i < n; i++)
	{
		int			e = visited_batch[i];

		heap_push(s, s->cand, &s->ncand, e, false);
		if (s->resumed || (s->ntop >= s->ef && s->pool[e].dist > DIST(s, s->top[0])))
		{
			if (is_result(s, e))
				heap_push(s, s->rest, &s->nrest, e, false);
		}
		else
			offer(s, e);
	}
}

/*
 * The bounded search of one layer: expand candidates until the best
 * unexpanded one is farther than the worst of a full top heap.  Deleted
 * elements are expanded (they bridge the graph) but never enter the result
 * heaps.
 */
static void
expand(HnswSearch *s)
{
	while (s->ncand > 0)
	{
		int			c = s->cand[0];

		if (s->ntop >= s->ef && s->pool[c].dist > DIST(s, s->top[0]))
			break;
		(void) heap_pop(s, s->cand, &s->ncand, false);
		CHECK_FOR_INTERRUPTS();
		expand_one(s, c);
	}
}

/* Move the top heap, ascending, into out[]. */
static void
drain_top(HnswSearch *s)
{
	int			n = s->ntop;

	for (int i = n - 1; i >= 0; i--)
		s->out[i] = heap_pop(s, s->top, &s->ntop, true);
	s->nout = n;
	s->outpos = 0;
}

void
HnswSearchLayer(HnswSearch *s, const int *entries, int nentries, int ef, int lc)
{
	s->ef = ef;
	s->layer = lc;
	for (int i = 0; i < nentries; i++)
	{
		heap_push(s, s->cand, &s->ncand, entries[i], false);
		offer(s, entries[i]);
	}
	expand(s);
	drain_top(s);
}

static int
cmp_dist(const void *a, const void *b, void *arg)
{
	const HnswCandidate *pool = (const HnswCandidate *) arg;
	double		x = pool[*(const int *) a].dist;
	double		y = pool[*(const int *) b].dist;

	/* NaN last */
	if (isnan(x) || isnan(y))
		return isnan(x) - isnan(y);
	return (x > y) - (x < y);
}

void
HnswSearchChain(HnswSearch *s, ItemPointer head, uint32 filterkey, uint64 budget)
{
	ItemPointerData tid = *head;
	int			n = 0;

	s->layer = -1;				/* no neighbour lists needed */
	while (ItemPointerIsValid(&tid) && (budget == 0 || s->ndistances < budget))
	{
		int			i;

		CHECK_FOR_INTERRUPTS();
		i = HnswSearchVisit(s, &tid);
		if (i < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INDEX_CORRUPTED),
					 errmsg("index \"%s\" has a key chain that loops at (%u,%u)",
							RelationGetRelationName(s->index),
							ItemPointerGetBlockNumber(&tid), ItemPointerGetOffsetNumber(&tid)),
					 errhint("Please REINDEX it.")));
		if (!s->pool[i].deleted && s->pool[i].filterkey == filterkey)
			s->out[n++] = i;
		tid = s->pool[i].keynext;
	}
	qsort_arg(s->out, n, sizeof(int), cmp_dist, s->pool);
	s->nout = n;
	s->outpos = 0;
	s->ncand = s->ntop = s->nrest = 0;
}

int
HnswSearchDescend(HnswSearch *s, ItemPointer entry, int entry_level, int target)
{
	int			best;

	/* the descent reads neighbour lists itself: copy none while visiting */
	s->layer = -1;
	best = HnswSearchVisit(s, entry);

	for (int lc = entry_level; lc > target; lc--)
	{
		bool		changed = true;

		/* greedy: move to the closest neighbour until none is closer */
		while (changed)
		{
			ItemPointerData nbrs[2 * HNSW_MAX_M];
			int			n;

			changed = false;
			CHECK_FOR_INTERRUPTS();
			n = HnswLoadNeighbors(s->index, s->info, &s->pool[best].neighbortid,
								  lc, nbrs);
			for (int i = 0; i < n; i++)
			{
				int			e = HnswSearchVisit(s, &nbrs[i]);

				if (e >= 0 && s->pool[e].dist < s->pool[best].dist)
				{
					best = e;
					changed = true;
				}
			}
		}
	}
	return best;
}

int
HnswSearchNext(HnswSearch *s, uint64 budget)
{
	if (s->outpos < s->nout)
		return s->out[s->outpos++];
	if (budget == 0)
		return -1;

	/*
	 * The first round is used up: go on best-first.  Everything discovered
	 * and not returned is in the rest heap (the top heap was drained into
	 * the first round's output); before returning the nearest of it, expand
	 * every candidate nearer than that, so that rows come out as nearly in
	 * order as the graph allows.  When the budget of visited elements is
	 * spent, what was already discovered is still returned, in order.
	 */
	if (!s->resumed)
	{
		s->resumed = true;
		while (s->ntop > 0)
			heap_push(s, s->rest, &s->nrest, heap_pop(s, s->top, &s->ntop, true), false);
	}
	while (s->ncand > 0 && s->ndistances < budget &&
		   (s->nrest == 0 || DIST(s, s->cand[0]) <= DIST(s, s->rest[0])))
	{
		int			c = heap_pop(s, s->cand, &s->ncand, false);

		CHECK_FOR_INTERRUPTS();
		expand_one(s, c);
	}
	if (s->nrest == 0)
		return -1;
	return heap_pop(s, s->rest, &s->nrest, false);
}

/* ---------------- neighbour selection ---------------- */

int
HnswSelectNeighbors(const HnswIndexInfo *info, HnswCandidate **cands, int ncands,
					int max, int *selected)
{
	int			n = 0;
	int			npruned = 0;
	int		   *pruned = palloc(sizeof(int) * Max(ncands, 1));

	for (int i = 0; i < ncands && n < max; i++)
	{
		bool		keep = true;

		for (int j = 0; j < n; j++)
		{
			double		d = HnswDistance(info->metric, cands[i]->vector,
										 cands[selected[j]]->vector,
										 info->dimensions);

			if (d < cands[i]->dist)
			{
				keep = false;
				break;
			}
		}
		if (keep)
			selected[n++] = i;
		else
			pruned[npruned++] = i;
	}
	/* keepPrunedConnections: fill up with the nearest of the others */
	for (int i = 0; i < npruned && n < max; i++)
		selected[n++] = pruned[i];
	pfree(pruned);
	return n;
}
