/*-------------------------------------------------------------------------
 *
 * hnsw_vacuum.c
 *	  VACUUM for HNSW: mark the elements of dead heap rows deleted, then
 *	  repair the graph around them.
 *
 * Pass 1 visits every data page under an exclusive buffer lock; an element
 * whose heap row the callback reports dead loses its heap TID and is
 * flagged deleted, so no scan can return it from then on.  Pass 2 runs
 * with the exclusive metapage lock (no insert runs meanwhile; scans do):
 * every live element with a deleted neighbour at some level gets a new list
 * there, chosen by the selection heuristic among its live neighbours and
 * the live neighbours of its deleted ones (filled up with the nearest
 * others), so the graph stays connected without the deleted elements.  If
 * the entry point was deleted, the live element with the highest level
 * replaces it.  In an index with a key column, deleted elements also leave
 * their keys' chains (hnsw_key.c).  Deleted element tuples stay on their
 * pages, unreachable; their space is not reused yet (REINDEX reclaims it).
 *
 * src/hnsw/hnsw_vacuum.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/generic_xlog.h"
#include "commands/vacuum.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "hnsw/hnsw.h"
#include "hnsw/hnsw_search.h"

typedef struct VacuumState
{
	Relation	index;
	const HnswIndexInfo *info;
	BufferAccessStrategy strategy;
	uint64	   *deleted;		/* sorted keys of deleted elements */
	int64		ndeleted;
	int64		maxdeleted;
	ItemPointerData best;		/* live element with the highest level */
	int			best_level;
	HTAB	   *filterkeys;		/* keys of the elements marked deleted now */
} VacuumState;

static inline uint64
tid_key(ItemPointer tid)
{
	return ((uint64) ItemPointerGetBlockNumber(tid) << 16) |
		ItemPointerGetOffsetNumber(tid);
}

static int
cmp_key(const void *a, const void *b)
{
	uint64		x = *(const uint64 *) a,
				y = *(const uint64 *) b;

	return (x > y) - (x < y);
}

static bool
is_deleted(VacuumState *vs, ItemPointer tid)
{
	uint64		key = tid_key(tid);

	return bsearch(&key, vs->deleted, vs->ndeleted, sizeof(uint64), cmp_key) != NULL;
}

static void
remember_deleted(VacuumState *vs, ItemPointer tid)
{
	if (vs->ndeleted == vs->maxdeleted)
	{
		vs->maxdeleted *= 2;
		vs->deleted = repalloc_huge(vs->deleted, sizeof(uint64) * vs->maxdeleted);
	}
	vs->deleted[vs->ndeleted++] = tid_key(tid);
}

/*
 * Read and lock (mode) block blkno if it is a data page; InvalidBuffer,
 * with nothing held, if it is not.
 */
static Buffer
lock_data_page(Relation index, BlockNumber blkno, BufferAccessStrategy strategy,
			   int mode)
{
	Buffer		buf = ReadBufferExtended(index, MAIN_FORKNUM, blkno, RBM_NORMAL, strategy);
	Page		page;

	LockBuffer(buf, mode);
	page = BufferGetPage(buf);
	if (PageIsNew(page) || !(HnswPageGetOpaque(page)->flags & HNSW_PAGE_DATA))
	{
		UnlockReleaseBuffer(buf);
		return InvalidBuffer;
	}
	return buf;
}

/* Pass 1: flag the elements of dead rows; count live ones. */
static void
mark_deleted(VacuumState *vs, IndexBulkDeleteResult *stats,
			 IndexBulkDeleteCallback callback, void *callback_state)
{
	BlockNumber nblocks = RelationGetNumberOfBlocks(vs->index);

	for (BlockNumber blkno = HNSW_METAPAGE_BLKNO + 1; blkno < nblocks; blkno++)
	{
		Buffer		buf;
		Page		page;
		GenericXLogState *state = NULL;
		OffsetNumber maxoff;

		vacuum_delay_point();
		buf = lock_data_page(vs->index, blkno, vs->strategy, BUFFER_LOCK_EXCLUSIVE);
		if (buf == InvalidBuffer)
			continue;
		page = BufferGetPage(buf);
		maxoff = PageGetMaxOffsetNumber(page);
		for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
		{
			HnswElementTuple etup = (HnswElementTuple) PageGetItem(page, PageGetItemId(page, off));
			ItemPointerData tid;

			if (etup->type != HNSW_ELEMENT_TUPLE)
				continue;
			ItemPointerSet(&tid, blkno, off);
			if (etup->flags & HNSW_ELEMENT_DELETED)
			{
				remember_deleted(vs, &tid);
				continue;
			}
			if (callback(&etup->heaptid, callback_state))
			{
				if (state == NULL)
				{
					state = GenericXLogStart(vs->index);
					page = GenericXLogRegisterBuffer(state, buf, 0);
					etup = (HnswElementTuple) PageGetItem(page, PageGetItemId(page, off));
				}
				etup->flags |= HNSW_ELEMENT_DELETED;
				ItemPointerSetInvalid(&etup->heaptid);
				remember_deleted(vs, &tid);
				if (etup->filterkey != 0)
					(void) hash_search(vs->filterkeys, &etup->filterkey, HASH_ENTER, NULL);
				stats->tuples_removed++;
				continue;
			}
			stats->num_index_tuples++;
			if (etup->level > vs->best_level)
			{
				vs->best_level = etup->level;
				vs->best = tid;
			}
		}
		if (state)
			GenericXLogFinish(state);
		UnlockReleaseBuffer(buf);
	}
	stats->num_pages = nblocks;
	qsort(vs->deleted, vs->ndeleted, sizeof(uint64), cmp_key);
}

/*
 * Append to ctids[] the live level-lc neighbours of element tid, other than
 * base and those already there, while there is room (maxc).
 */
static void
add_neighbors_of(VacuumState *vs, ItemPointer tid, int lc, ItemPointer base,
				 ItemPointerData *ctids, int *nc, int maxc)
{
	ItemPointerData ntid;
	ItemPointerData sub[2 * HNSW_MAX_M];
	int			ns;

	HnswLoadElement(vs->index, vs->info, tid, NULL, NULL, NULL, &ntid);
	ns = HnswLoadNeighbors(vs->index, vs->info, &ntid, lc, sub);
	for (int j = 0; j < ns && *nc < maxc; j++)
		if (!ItemPointerEquals(&sub[j], base) && !is_deleted(vs, &sub[j]) &&
			!HnswTidsContain(ctids, *nc, &sub[j]))
			ctids[(*nc)++] = sub[j];
}

/* Give element etid (vector evec) a new level-lc list without deleted ones. */
static void
repair_level(VacuumState *vs, ItemPointer ntid, const float *evec, ItemPointer etid,
			 int lc, ItemPointerData *cur, int n)
{
	const HnswIndexInfo *info = vs->info;
	int			cap = HNSW_LEVEL_SLOTS(lc, info->m);
	int			maxc = cap + 2 * cap * cap;
	int			nlive = 0;
	ItemPointerData *ctids = palloc(sizeof(ItemPointerData) * maxc);
	int			nc = 0;
	HnswCandidate *cands;
	HnswCandidate **sorted;
	int		   *selected;
	ItemPointerData *next;
	int			nsel;

	/* live neighbours, and the live neighbours of deleted ones */
	for (int i = 0; i < n; i++)
	{
		if (!is_deleted(vs, &cur[i]))
		{
			/* a deleted neighbour earlier in the list may have brought it */
			if (!HnswTidsContain(ctids, nc, &cur[i]))
				ctids[nc++] = cur[i];
			nlive++;
		}
		else
			add_neighbors_of(vs, &cur[i], lc, etid, ctids, &nc, maxc);
	}

	/*
	 * An element that lost most of its neighbours also looks two hops away
	 * through live candidates, so that it does not end up weakly linked.
	 */
	if (nlive < cap / 2)
		for (int i = 0; i < nlive; i++)
			add_neighbors_of(vs, &ctids[i], lc, etid, ctids, &nc, maxc);

	cands = palloc(sizeof(HnswCandidate) * Max(nc, 1));
	sorted = palloc(sizeof(HnswCandidate *) * Max(nc, 1));
	selected = palloc(sizeof(int) * Max(nc, 1));
	next = palloc(sizeof(ItemPointerData) * cap);
	for (int i = 0; i < nc; i++)
	{
		HnswCandidate *x = &cands[i];
		int			j;

		x->tid = ctids[i];
		x->vector = palloc(HnswVectorSize(info));
		HnswLoadElement(vs->index, info, &ctids[i], x->vector, NULL, NULL, NULL);
		x->dist = HnswDistance(info->metric, evec, x->vector, info->dimensions);
		/* insertion into sorted[] */
		for (j = i - 1; j >= 0 && sorted[j]->dist > x->dist; j--)
			sorted[j + 1] = sorted[j];
		sorted[j + 1] = x;
	}
	nsel = HnswSelectNeighbors(info, sorted, nc, cap, selected);
	for (int i = 0; i < nsel; i++)
		next[i] = sorted[selected[i]]->tid;
	/* fill up with the nearest of those the heuristic passed over */
	for (int i = 0; i < nc && nsel < cap; i++)
	{
		bool		taken = false;

		for (int j = 0; j < nsel && !taken; j++)
			taken = ItemPointerEquals(&next[j], &sorted[i]->tid);
		if (!taken)
			next[nsel++] = sorted[i]->tid;
	}
	/* inserts are locked out, so the list cannot have changed meanwhile */
	(void) HnswReplaceNeighbors(vs->index, info, ntid, lc, cur, n, next, nsel);
}

/* Pass 2: repair the lists that point to deleted elements. */
static void
repair_graph(VacuumState *vs)
{
	const HnswIndexInfo *info = vs->info;
	BlockNumber nblocks = RelationGetNumberOfBlocks(vs->index);
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "hnsw vacuum repair",
											  ALLOCSET_DEFAULT_SIZES);
	float	   *evec = palloc(HnswVectorSize(info));

	for (BlockNumber blkno = HNSW_METAPAGE_BLKNO + 1; blkno < nblocks; blkno++)
	{
		Buffer		buf;
		Page		page;
		OffsetNumber maxoff;
		ItemPointerData live[MaxOffsetNumber];
		int			nlive = 0;

		vacuum_delay_point();
		buf = lock_data_page(vs->index, blkno, vs->strategy, BUFFER_LOCK_SHARE);
		if (buf == InvalidBuffer)
			continue;
		page = BufferGetPage(buf);
		maxoff = PageGetMaxOffsetNumber(page);
		for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
		{
			HnswElementTuple etup = (HnswElementTuple) PageGetItem(page, PageGetItemId(page, off));

			if (etup->type == HNSW_ELEMENT_TUPLE && !(etup->flags & HNSW_ELEMENT_DELETED))
			{
				/* ItemPointerSet evaluates its pointer argument twice */
				ItemPointerSet(&live[nlive], blkno, off);
				nlive++;
			}
		}
		UnlockReleaseBuffer(buf);

		for (int i = 0; i < nlive; i++)
		{
			ItemPointerData ntid;
			uint8		level;
			MemoryContext old = MemoryContextSwitchTo(cxt);

			HnswLoadElement(vs->index, info, &live[i], evec, NULL, &level, &ntid);
			for (int lc = 0; lc <= level; lc++)
			{
				ItemPointerData cur[2 * HNSW_MAX_M];
				int			n = HnswLoadNeighbors(vs->index, info, &ntid, lc, cur);
				bool		touched = false;

				for (int j = 0; j < n && !touched; j++)
					touched = is_deleted(vs, &cur[j]);
				if (touched)
					repair_level(vs, &ntid, evec, &live[i], lc, cur, n);
			}
			MemoryContextSwitchTo(old);
			MemoryContextReset(cxt);
		}
	}
	MemoryContextDelete(cxt);
}

/* Replace a deleted entry point. */
static void
repair_entry(VacuumState *vs)
{
	Buffer		mbuf = ReadBuffer(vs->index, HNSW_METAPAGE_BLKNO);
	GenericXLogState *state;
	Page		page;
	HnswMetaPage m;

	LockBuffer(mbuf, BUFFER_LOCK_EXCLUSIVE);
	state = GenericXLogStart(vs->index);
	page = GenericXLogRegisterBuffer(state, mbuf, 0);
	m = HnswPageGetMeta(page);
	if (m->entry_level >= 0 && is_deleted(vs, &m->entry))
	{
		if (vs->best_level >= 0)
		{
			m->entry = vs->best;
			m->entry_level = vs->best_level;
		}
		else
		{
			ItemPointerSetInvalid(&m->entry);
			m->entry_level = -1;
		}
		GenericXLogFinish(state);
	}
	else
		GenericXLogAbort(state);
	UnlockReleaseBuffer(mbuf);
}

/*
 * Pass 3: every live element must be reachable from the entry point on each
 * of its levels.  Deleting elements, and pruning by inserts, can leave some
 * with no incoming link; walk each level from the entry point and link each
 * element not reached from the first reached element among its own
 * neighbours (a free slot, else the last one: the least useful by the
 * selection order), or, when none of them is reached (a group of elements
 * linking only among themselves), from the nearest reached elements a
 * search from the entry point finds; then walk on from it.
 */
typedef struct ReachElem
{
	uint64		key;			/* element tuple */
	int32		index;
} ReachElem;

/* What the reachability repair knows about the live elements. */
typedef struct ReachState
{
	VacuumState *vs;
	HTAB	   *map;			/* element tid key -> ReachElem */
	ItemPointerData *tids;
	ItemPointerData *ntids;
	uint16	   *indeg;			/* incoming links on the current level */
	uint8	   *levels;			/* each element's level */
	uint8	   *seen;			/* reached on the current level */
} ReachState;

/*
 * Make reached element r link to unreached element u on level lc: in a free
 * slot, or instead of one of r's neighbours v.  Dropping r -> v must not cut
 * v off (with everything reached only through it): u then links to v, so v
 * stays reachable through r -> u -> v.  v is chosen among r's neighbours that
 * u already links to or, if u has a free slot, any; those with another
 * incoming link first.  (Counting incoming links alone is not enough: v's
 * other in-neighbour may itself be reached only through v, and the repair
 * then cut one component off for each it linked, round after round.)
 */
static bool
link_unreached(ReachState *rs, int32 r, int32 u, int lc)
{
	const HnswIndexInfo *info = rs->vs->info;
	int			cap = HNSW_LEVEL_SLOTS(lc, info->m);
	ItemPointerData cur[2 * HNSW_MAX_M];
	ItemPointerData next[2 * HNSW_MAX_M];
	ItemPointerData ucur[2 * HNSW_MAX_M];
	ItemPointerData unext[2 * HNSW_MAX_M];
	int			nc;
	int			nu;
	int			victim = -1;
	bool		victim_in_u = false;
	bool		linked;

	/*
	 * r must be on level lc: a list of level lc can name an element of a
	 * lower level (see repair_reachability), which has no list there to
	 * link from.
	 */
	if (rs->levels[r] < lc)
		return false;
	nc = HnswLoadNeighbors(rs->vs->index, info, &rs->ntids[r], lc, cur);
	for (int k = 0; k < nc; k++)
		if (ItemPointerEquals(&cur[k], &rs->tids[u]))
			return true;
	memcpy(next, cur, sizeof(ItemPointerData) * nc);
	if (nc < cap)
	{
		next[nc] = rs->tids[u];
		linked = HnswReplaceNeighbors(rs->vs->index, info, &rs->ntids[r], lc,
									  cur, nc, next, nc + 1);
		if (linked)
			rs->indeg[u]++;
		return linked;
	}

	nu = HnswLoadNeighbors(rs->vs->index, info, &rs->ntids[u], lc, ucur);
	for (int pass = 0; pass < 2 && victim < 0; pass++)
	{
		for (int k = nc - 1; k >= 0 && victim < 0; k--)
		{
			uint64		vkey = tid_key(&cur[k]);
			ReachElem  *v = hash_search(rs->map, &vkey, HASH_FIND, NULL);
			bool		in_u = false;

			if (ItemPointerEquals(&cur[k], &rs->tids[u]))
				continue;
			for (int j = 0; j < nu; j++)
				if (ItemPointerEquals(&ucur[j], &cur[k]))
					in_u = true;
			if (!in_u && nu >= cap)
				continue;
			/* first pass: only neighbours linked from elsewhere too */
			if (pass == 0 && v != NULL && rs->indeg[v->index] <= 1)
				continue;
			victim = k;
			victim_in_u = in_u;
		}
	}
	if (victim < 0)
		return false;

	/* u -> v first: v is never unreachable in between */
	if (!victim_in_u)
	{
		memcpy(unext, ucur, sizeof(ItemPointerData) * nu);
		unext[nu] = cur[victim];
		if (!HnswReplaceNeighbors(rs->vs->index, info, &rs->ntids[u], lc,
								  ucur, nu, unext, nu + 1))
			return false;
	}
	next[victim] = rs->tids[u];
	linked = HnswReplaceNeighbors(rs->vs->index, info, &rs->ntids[r], lc,
								  cur, nc, next, nc);
	if (linked)
		rs->indeg[u]++;
	return linked;
}

/*
 * For an unreached element none of whose neighbours is reached: search the
 * graph from the entry point for the elements nearest to it, and link it
 * from the first reached one that can take it.  The search can find
 * unreached elements too: it enters level lc where the descent through
 * the levels above ended, and that element need not be reachable on level
 * lc itself.  (Linking u from an unreached element made the repair count
 * u's part of the graph as reached while it stayed cut off.)
 */
static bool
link_from_search(ReachState *rs, const HnswMetaPageData *meta, int32 u, int lc)
{
	VacuumState *vs = rs->vs;
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "hnsw repair search",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	float	   *vec = palloc(HnswVectorSize(vs->info));
	HnswSearch	s;
	int			ep;
	ItemPointerData eptid;
	bool		linked = false;

	HnswLoadElement(vs->index, vs->info, &rs->tids[u], vec, NULL, NULL, NULL);
	HnswSearchInit(&s, vs->index, vs->info, vec, false, cxt);
	ep = HnswSearchDescend(&s, (ItemPointer) &meta->entry, meta->entry_level, lc);
	eptid = s.pool[ep].tid;
	HnswSearchReset(&s);
	s.layer = lc;
	ep = HnswSearchVisit(&s, &eptid);
	HnswSearchLayer(&s, &ep, 1, vs->info->ef_construction, lc);
	for (int i = 0; i < s.nout && !linked; i++)
	{
		uint64		key = tid_key(&s.pool[s.out[i]].tid);
		ReachElem  *r = hash_search(rs->map, &key, HASH_FIND, NULL);

		if (r != NULL && r->index != u && rs->seen[r->index])
			linked = link_unreached(rs, r->index, u, lc);
	}
	HnswSearchEnd(&s);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
	return linked;
}

static void
repair_reachability(VacuumState *vs)
{
	const HnswIndexInfo *info = vs->info;
	BlockNumber nblocks = RelationGetNumberOfBlocks(vs->index);
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "hnsw vacuum reachability",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	HASHCTL		ctl;
	HTAB	   *map;
	ItemPointerData *tids;
	ItemPointerData *ntids;
	uint8	   *levels;
	uint8	   *seen;
	int32	   *queue;
	uint16	   *indeg;
	int32		n = 0,
				max = 1024;
	HnswMetaPageData meta;
	ReachElem  *entry;
	ReachState	rs;

	ctl.keysize = sizeof(uint64);
	ctl.entrysize = sizeof(ReachElem);
	ctl.hcxt = cxt;
	map = hash_create("hnsw vacuum elements", 1024, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	tids = palloc(sizeof(ItemPointerData) * max);
	ntids = palloc(sizeof(ItemPointerData) * max);
	levels = palloc(max);

	/* the live elements */
	for (BlockNumber blkno = HNSW_METAPAGE_BLKNO + 1; blkno < nblocks; blkno++)
	{
		Buffer		buf;
		Page		page;

		vacuum_delay_point();
		buf = lock_data_page(vs->index, blkno, vs->strategy, BUFFER_LOCK_SHARE);
		if (buf == InvalidBuffer)
			continue;
		page = BufferGetPage(buf);
		{
			for (OffsetNumber off = FirstOffsetNumber; off <= PageGetMaxOffsetNumber(page); off++)
			{
				HnswElementTuple etup = (HnswElementTuple) PageGetItem(page, PageGetItemId(page, off));
				ReachElem  *r;
				uint64		key;

				if (etup->type != HNSW_ELEMENT_TUPLE || (etup->flags & HNSW_ELEMENT_DELETED))
					continue;
				if (n == max)
				{
					max *= 2;
					tids = repalloc_huge(tids, sizeof(ItemPointerData) * max);
					ntids = repalloc_huge(ntids, sizeof(ItemPointerData) * max);
					levels = repalloc_huge(levels, max);
				}
				ItemPointerSet(&tids[n], blkno, off);
				ntids[n] = etup->neighbortid;
				levels[n] = etup->level;
				key = tid_key(&tids[n]);
				r = hash_search(map, &key, HASH_ENTER, NULL);
				r->index = n++;
			}
		}
		UnlockReleaseBuffer(buf);
	}

	HnswReadMeta(vs->index, &meta);
	entry = NULL;
	if (meta.entry_level >= 0)
	{
		uint64		key = tid_key(&meta.entry);

		entry = hash_search(map, &key, HASH_FIND, NULL);
	}
	if (entry == NULL || n < 2)
	{
		MemoryContextSwitchTo(old);
		MemoryContextDelete(cxt);
		return;
	}
	seen = palloc(n);
	queue = palloc(sizeof(int32) * n);
	indeg = palloc(sizeof(uint16) * n);
	rs.vs = vs;
	rs.map = map;
	rs.tids = tids;
	rs.ntids = ntids;
	rs.indeg = indeg;
	rs.levels = levels;
	rs.seen = seen;

	for (int lc = meta.entry_level; lc >= 0; lc--)
	{
		int32		head = 0,
					tail = 0;
		ItemPointerData nbrs[2 * HNSW_MAX_M];

		/*
		 * A link made may take the place of another element's only incoming
		 * link: walk again from scratch until a walk needs no new link.
		 */
		for (int round = 0; round < 10; round++)
		{
		int32		fixed = 0;

		/* incoming links per element on this level */
		memset(indeg, 0, sizeof(uint16) * n);
		for (int32 x = 0; x < n; x++)
		{
			int			nn;

			if (levels[x] < lc)
				continue;
			nn = HnswLoadNeighbors(vs->index, info, &ntids[x], lc, nbrs);
			for (int j = 0; j < nn; j++)
			{
				uint64		key = tid_key(&nbrs[j]);
				ReachElem  *r = hash_search(map, &key, HASH_FIND, NULL);

				if (r != NULL && indeg[r->index] < PG_UINT16_MAX)
					indeg[r->index]++;
			}
		}

		head = tail = 0;
		memset(seen, 0, n);
		seen[entry->index] = 1;
		queue[tail++] = entry->index;
		for (int32 u = -1; u < n; u++)
		{
			/* first the walk from the entry point, then from each link made */
			if (u >= 0)
			{
				bool		linked = false;
				int			nn;

				if (seen[u] || levels[u] < lc)
					continue;
				nn = HnswLoadNeighbors(vs->index, info, &ntids[u], lc, nbrs);
				for (int j = 0; j < nn && !linked; j++)
				{
					uint64		key = tid_key(&nbrs[j]);
					ReachElem  *r = hash_search(map, &key, HASH_FIND, NULL);

					if (r != NULL && seen[r->index])
						linked = link_unreached(&rs, r->index, u, lc);
				}
				/* no neighbour reached: link from the nearest reached elements */
				if (!linked)
					linked = link_from_search(&rs, &meta, u, lc);
				if (!linked)
					continue;
				fixed++;
				seen[u] = 1;
				queue[tail++] = u;
			}
			while (head < tail)
			{
				int32		x = queue[head++];
				int			nn;

				CHECK_FOR_INTERRUPTS();
				if (levels[x] < lc)
					continue;
				nn = HnswLoadNeighbors(vs->index, info, &ntids[x], lc, nbrs);
				for (int j = 0; j < nn; j++)
				{
					uint64		key = tid_key(&nbrs[j]);
					ReachElem  *r = hash_search(map, &key, HASH_FIND, NULL);

					if (r != NULL && !seen[r->index])
					{
						seen[r->index] = 1;
						queue[tail++] = r->index;
					}
				}
			}
		}
		if (fixed == 0)
			break;
		}
	}
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
}

/*
 * Link every live element that no search could reach (see
 * repair_reachability); for the build, after rows that did not fit in
 * memory were inserted, and for VACUUM.  Takes the exclusive metapage lock.
 */
void
HnswRepairReachability(Relation index, BufferAccessStrategy strategy)
{
	VacuumState vs;

	memset(&vs, 0, sizeof(vs));
	vs.index = index;
	vs.info = HnswGetIndexInfo(index);
	vs.strategy = strategy;
	LockPage(index, HNSW_METAPAGE_BLKNO, ExclusiveLock);
	repair_reachability(&vs);
	UnlockPage(index, HNSW_METAPAGE_BLKNO, ExclusiveLock);
}

IndexBulkDeleteResult *
hnswbulkdelete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
			   IndexBulkDeleteCallback callback, void *callback_state)
{
	VacuumState vs;

	if (stats == NULL)
		stats = palloc0(sizeof(IndexBulkDeleteResult));
	memset(&vs, 0, sizeof(vs));
	vs.index = info->index;
	vs.info = HnswGetIndexInfo(info->index);
	vs.strategy = info->strategy;
	vs.maxdeleted = 1024;
	vs.deleted = palloc(sizeof(uint64) * vs.maxdeleted);
	vs.best_level = -1;
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(uint32);
		ctl.entrysize = sizeof(uint32);
		ctl.hcxt = CurrentMemoryContext;
		vs.filterkeys = hash_create("hnsw vacuum keys", 256, &ctl,
									HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}

	/* this pass counts live elements afresh */
	stats->num_index_tuples = 0;
	mark_deleted(&vs, stats, callback, callback_state);
	/* deleted elements leave their keys' chains */
	HnswKeyDirCompact(vs.index, vs.strategy, vs.filterkeys);
	if (vs.ndeleted > 0)
	{
		LockPage(vs.index, HNSW_METAPAGE_BLKNO, ExclusiveLock);
		repair_graph(&vs);
		repair_entry(&vs);
		repair_reachability(&vs);
		UnlockPage(vs.index, HNSW_METAPAGE_BLKNO, ExclusiveLock);
	}
	pfree(vs.deleted);
	hash_destroy(vs.filterkeys);
	return stats;
}

/* Count live elements and pages (when no bulk delete ran, for statistics). */
IndexBulkDeleteResult *
hnswvacuumcleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats)
{
	BlockNumber nblocks;

	if (info->analyze_only)
		return stats;

	/* inserts since the last VACUUM may have left elements unreachable */
	HnswRepairReachability(info->index, info->strategy);
	if (stats != NULL)
		return stats;

	stats = palloc0(sizeof(IndexBulkDeleteResult));
	nblocks = RelationGetNumberOfBlocks(info->index);
	for (BlockNumber blkno = HNSW_METAPAGE_BLKNO + 1; blkno < nblocks; blkno++)
	{
		Buffer		buf;
		Page		page;
		OffsetNumber maxoff;

		vacuum_delay_point();
		buf = lock_data_page(info->index, blkno, info->strategy, BUFFER_LOCK_SHARE);
		if (buf == InvalidBuffer)
			continue;
		page = BufferGetPage(buf);
		{
			maxoff = PageGetMaxOffsetNumber(page);
			for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
			{
				HnswElementTuple etup = (HnswElementTuple) PageGetItem(page, PageGetItemId(page, off));

				if (etup->type == HNSW_ELEMENT_TUPLE &&
					!(etup->flags & HNSW_ELEMENT_DELETED))
					stats->num_index_tuples++;
			}
		}
		UnlockReleaseBuffer(buf);
	}
	stats->num_pages = nblocks;
	stats->estimated_count = false;
	return stats;
}
