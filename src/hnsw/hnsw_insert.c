/*-------------------------------------------------------------------------
 *
 * hnsw_insert.c
 *	  Inserting one row into an HNSW index: find its neighbours by searching
 *	  the graph, write its element and neighbour tuples, link it into its
 *	  neighbours' lists (linking from itself what those lists give up and
 *	  nothing else links to), and make it the entry point if it is the
 *	  highest.
 *
 * Concurrency (see src/hnsw/README): inserts hold a heavyweight lock on the
 * metapage's block number, shared normally and exclusive when the new
 * element will become the entry point, so that two inserters never race
 * for the entry point.  Buffer locks are taken one at a time.  A neighbour
 * list is changed optimistically: read it, decide the new list (reading
 * other pages), then lock its page, check the list is unchanged and write,
 * or start over.  Every page change is WAL-logged with GenericXLog.
 *
 * src/hnsw/hnsw_insert.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/generic_xlog.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "hnsw/hnsw.h"
#include "hnsw/hnsw_search.h"
#include "vector/vector.h"

/* how often a neighbour-list update is retried after losing a race */
#define HNSW_UPDATE_RETRIES 8

/* neighbours chosen for the new element at one level */
typedef struct LevelNeighbors
{
	int			n;
	ItemPointerData tids[2 * HNSW_MAX_M];
} LevelNeighbors;

/*
 * Live elements that full lists dropped while the new element was linked
 * in at one level: each lost an incoming link, perhaps its last.
 */
typedef struct DroppedElements
{
	int			n;
	ItemPointerData tids[4 * HNSW_MAX_M];
} DroppedElements;

/*
 * Write the element and neighbour tuples on the insert page, or a new page
 * when they do not fit; returns the element's item pointer.
 */
static void
write_element(Relation index, const HnswIndexInfo *info, const float *vec,
			  uint32 filterkey, ItemPointer heaptid, int level, LevelNeighbors *nbrs,
			  ItemPointer etid)
{
	Buffer		dirbuf = InvalidBuffer;
	Size		datalen = HnswElementDataSize(info);
	bool		overflow = !HnswElementDataInline(info, level);
	Size		esize = overflow ? HNSW_ELEMENT_TUPLE_SIZE(sizeof(HnswOverflowRef))
		: HNSW_ELEMENT_TUPLE_SIZE(datalen);
	Size		nsize = HNSW_NEIGHBOR_TUPLE_SIZE(level, info->m);
	HnswElementTuple etup = palloc0(esize);
	HnswNeighborTuple ntup = palloc0(nsize);
	HnswMetaPageData meta;
	BlockNumber blkno;
	Buffer		buf = InvalidBuffer;
	Page		page;
	GenericXLogState *state;
	OffsetNumber eoff,
				noff;
	bool		newpage = false;

	etup->type = HNSW_ELEMENT_TUPLE;
	etup->level = (uint8) level;
	etup->filterkey = filterkey;
	etup->heaptid = *heaptid;
	ItemPointerSetInvalid(&etup->keynext);
	if (overflow)
	{
		BlockNumber first;
		char	   *data = palloc(datalen);

		if (HnswEncodeData(info, vec, data))
			etup->flags |= HNSW_ELEMENT_CLAMPED;
		HnswWriteOverflow(index, MAIN_FORKNUM, data, datalen, &first, true);
		etup->flags |= HNSW_ELEMENT_OVERFLOW;
		etup->datalen = sizeof(HnswOverflowRef);
		((HnswOverflowRef *) etup->data)->first = first;
	}
	else
	{
		etup->datalen = datalen;
		if (HnswEncodeData(info, vec, etup->data))
			etup->flags |= HNSW_ELEMENT_CLAMPED;
	}
	ntup->type = HNSW_NEIGHBOR_TUPLE;
	ntup->level = (uint8) level;
	ntup->nslots = HNSW_NEIGHBOR_SLOTS(level, info->m);
	for (int s = 0; s < ntup->nslots; s++)
		ItemPointerSetInvalid(&ntup->slots[s]);
	for (int lc = 0; lc <= level; lc++)
	{
		int			first = HNSW_LEVEL_FIRST_SLOT(lc, info->m);

		for (int i = 0; i < nbrs[lc].n; i++)
			ntup->slots[first + i] = nbrs[lc].tids[i];
	}

	HnswReadMeta(index, &meta);

	/* a keyed element: its directory page first (see hnsw_key.c) */
	if (filterkey != 0)
		dirbuf = HnswKeyDirLockForInsert(index, &meta, filterkey);

	blkno = meta.insert_page;
	if (blkno != InvalidBlockNumber)
	{
		buf = ReadBuffer(index, blkno);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		HnswCheckPage(index, BufferGetPage(buf), blkno, HNSW_PAGE_DATA);
		if (PageGetFreeSpace(BufferGetPage(buf)) < esize + nsize + sizeof(ItemIdData))
		{
			UnlockReleaseBuffer(buf);
			buf = InvalidBuffer;
		}
	}
	if (buf == InvalidBuffer)
	{
		buf = HnswNewBuffer(index, MAIN_FORKNUM);
		newpage = true;
	}

	state = GenericXLogStart(index);
	page = GenericXLogRegisterBuffer(state, buf, newpage ? GENERIC_XLOG_FULL_IMAGE : 0);
	if (newpage)
		HnswInitPage(page, HNSW_PAGE_DATA);
	eoff = OffsetNumberNext(PageGetMaxOffsetNumber(page));
	noff = OffsetNumberNext(eoff);
	ItemPointerSet(&etup->neighbortid, BufferGetBlockNumber(buf), noff);
	ItemPointerSet(etid, BufferGetBlockNumber(buf), eoff);
	if (dirbuf != InvalidBuffer)
	{
		Page		dirpage = GenericXLogRegisterBuffer(state, dirbuf, 0);

		HnswKeyDirPush(dirpage, filterkey, etid, &etup->keynext);
	}
	if (PageAddItem(page, (Item) etup, esize, eoff, false, false) != eoff ||
		PageAddItem(page, (Item) ntup, nsize, noff, false, false) != noff)
		elog(ERROR, "could not add an element to index \"%s\"",
			 RelationGetRelationName(index));
	GenericXLogFinish(state);
	blkno = BufferGetBlockNumber(buf);
	UnlockReleaseBuffer(buf);
	if (dirbuf != InvalidBuffer)
		UnlockReleaseBuffer(dirbuf);

	/* a new page becomes the insert page (never move it backwards) */
	if (newpage)
	{
		Buffer		mbuf = ReadBuffer(index, HNSW_METAPAGE_BLKNO);
		HnswMetaPage m;

		LockBuffer(mbuf, BUFFER_LOCK_EXCLUSIVE);
		state = GenericXLogStart(index);
		page = GenericXLogRegisterBuffer(state, mbuf, 0);
		m = HnswPageGetMeta(page);
		if (m->insert_page == InvalidBlockNumber || m->insert_page < blkno)
			m->insert_page = blkno;
		GenericXLogFinish(state);
		UnlockReleaseBuffer(mbuf);
	}
}

/*
 * Count the new element and make it the entry point if it is the highest
 * (the caller then holds the exclusive page lock).
 */
static void
note_new_element(Relation index, ItemPointer etid, int level)
{
	Buffer		mbuf = ReadBuffer(index, HNSW_METAPAGE_BLKNO);
	GenericXLogState *state;
	Page		page;
	HnswMetaPage m;

	LockBuffer(mbuf, BUFFER_LOCK_EXCLUSIVE);
	state = GenericXLogStart(index);
	page = GenericXLogRegisterBuffer(state, mbuf, 0);
	m = HnswPageGetMeta(page);
	if (level > m->entry_level)
	{
		m->entry = *etid;
		m->entry_level = level;
	}
	m->nelements++;
	GenericXLogFinish(state);
	UnlockReleaseBuffer(mbuf);
}

/*
 * Lock the neighbour tuple of an element exclusively and replace its level
 * lc slots with newlist, if they still equal oldlist.  Returns false if
 * somebody changed them first.
 */
bool
HnswReplaceNeighbors(Relation index, const HnswIndexInfo *info, ItemPointer ntid,
				  int lc, const ItemPointerData *oldlist, int nold,
				  const ItemPointerData *newlist, int nnew)
{
	Buffer		buf = ReadBuffer(index, ItemPointerGetBlockNumber(ntid));
	GenericXLogState *state;
	Page		page;
	HnswNeighborTuple ntup;
	int			first = HNSW_LEVEL_FIRST_SLOT(lc, info->m);
	int			nslots = HNSW_LEVEL_SLOTS(lc, info->m);
	ItemId		itemid;

	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	state = GenericXLogStart(index);
	page = GenericXLogRegisterBuffer(state, buf, 0);
	itemid = PageGetItemId(page, ItemPointerGetOffsetNumber(ntid));
	ntup = (HnswNeighborTuple) PageGetItem(page, itemid);
	if (ntup->type != HNSW_NEIGHBOR_TUPLE || lc > ntup->level)
	{
		GenericXLogAbort(state);
		UnlockReleaseBuffer(buf);
		return true;			/* nothing to update */
	}
	for (int i = 0; i < nslots; i++)
	{
		bool		valid = ItemPointerIsValid(&ntup->slots[first + i]);

		if (i < nold ? (!valid || !ItemPointerEquals(&ntup->slots[first + i],
													  (ItemPointer) &oldlist[i]))
			: valid)
		{
			GenericXLogAbort(state);
			UnlockReleaseBuffer(buf);
			return false;
		}
	}
	for (int i = 0; i < nslots; i++)
	{
		if (i < nnew)
			ntup->slots[first + i] = newlist[i];
		else
			ItemPointerSetInvalid(&ntup->slots[first + i]);
	}
	GenericXLogFinish(state);
	UnlockReleaseBuffer(buf);
	return true;
}

/*
 * The vectors an insert reads while linking back: the neighbours of its
 * neighbours overlap a lot (they are all near the new element), so each
 * is read from its page once per insert.  Vectors never change; the flags
 * are as read then.
 */
typedef struct CachedElement
{
	uint64		key;			/* block << 16 | offset */
	float	   *vector;
	uint8		flags;
	ItemPointerData neighbortid;
} CachedElement;

static HTAB *
element_cache_create(void)
{
	HASHCTL		ctl;

	ctl.keysize = sizeof(uint64);
	ctl.entrysize = sizeof(CachedElement);
	ctl.hcxt = CurrentMemoryContext;
	return hash_create("hnsw insert elements", 256, &ctl,
					   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

static CachedElement *
load_cached(HTAB *cache, Relation index, const HnswIndexInfo *info, ItemPointer tid)
{
	uint64		key = ((uint64) ItemPointerGetBlockNumber(tid) << 16) |
		ItemPointerGetOffsetNumber(tid);
	bool		found;
	CachedElement *c = hash_search(cache, &key, HASH_ENTER, &found);

	if (!found)
	{
		c->vector = palloc(HnswVectorSize(info));
		HnswLoadElement(index, info, tid, c->vector, &c->flags, NULL, &c->neighbortid);
	}
	return c;
}

/*
 * Add the new element (newtid, vector newvec) to the level-lc list of
 * element etid; when the list is full, keep the best by the selection
 * heuristic, which may leave the new element out.
 */
static bool
link_back(Relation index, const HnswIndexInfo *info, HTAB *cache, ItemPointer etid,
		  ItemPointer newtid, const float *newvec, int lc, bool force,
		  DroppedElements *dropped)
{
	CachedElement *self = load_cached(cache, index, info, etid);
	const float *evec = self->vector;
	ItemPointerData ntid = self->neighbortid;
	int			cap = HNSW_LEVEL_SLOTS(lc, info->m);
	ItemPointerData cur[2 * HNSW_MAX_M];
	ItemPointerData next[2 * HNSW_MAX_M + 1];
	HnswCandidate *cands = palloc(sizeof(HnswCandidate) * (cap + 1));
	HnswCandidate **sorted = palloc(sizeof(HnswCandidate *) * (cap + 1));
	int		   *selected = palloc(sizeof(int) * (cap + 1));

	if (self->flags & HNSW_ELEMENT_DELETED)
		return false;

	for (int attempt = 0; attempt < HNSW_UPDATE_RETRIES; attempt++)
	{
		int			n = HnswLoadNeighbors(index, info, &ntid, lc, cur);
		int			nc = 0;
		int			nsel;

		if (HnswTidsContain(cur, n, newtid))
			return true;
		if (n < cap)
		{
			memcpy(next, cur, sizeof(ItemPointerData) * n);
			next[n] = *newtid;
			if (HnswReplaceNeighbors(index, info, &ntid, lc, cur, n, next, n + 1))
				return true;
			continue;
		}

		/* full: choose among the current neighbours and the new element */
		for (int i = 0; i < n; i++)
		{
			CachedElement *c = load_cached(cache, index, info, &cur[i]);

			if (c->flags & HNSW_ELEMENT_DELETED)
				continue;		/* a dead neighbour makes room */
			cands[nc].vector = c->vector;
			cands[nc].tid = cur[i];
			cands[nc].dist = HnswDistance(info->metric, evec, cands[nc].vector,
										  info->dimensions);
			nc++;
		}
		cands[nc].tid = *newtid;
		cands[nc].vector = (float *) newvec;
		cands[nc].dist = HnswDistance(info->metric, evec, newvec, info->dimensions);
		nc++;
		for (int i = 0; i < nc; i++)
			sorted[i] = &cands[i];
		/* insertion sort: at most 2m + 1 entries */
		for (int i = 1; i < nc; i++)
		{
			HnswCandidate *x = sorted[i];
			int			j = i - 1;

			while (j >= 0 && sorted[j]->dist > x->dist)
			{
				sorted[j + 1] = sorted[j];
				j--;
			}
			sorted[j + 1] = x;
		}
		nsel = HnswSelectNeighbors(info, sorted, nc, cap, selected);
		{
			bool		keeps_new = false;

			for (int i = 0; i < nsel; i++)
			{
				next[i] = sorted[selected[i]]->tid;
				if (ItemPointerEquals(&next[i], newtid))
					keeps_new = true;
			}
			if (!keeps_new)
			{
				if (!force)
					return false;
				/* the new element's only chance of a link: take the last place */
				if (nsel < cap)
					nsel++;
				next[nsel - 1] = *newtid;
			}
		}
		if (HnswReplaceNeighbors(index, info, &ntid, lc, cur, n, next, nsel))
		{
			/* the live elements the list gave up for the new one */
			for (int i = 0; i < nc - 1; i++)
				if (!HnswTidsContain(next, nsel, &cands[i].tid) &&
					dropped->n < lengthof(dropped->tids))
					dropped->tids[dropped->n++] = cands[i].tid;
			return true;
		}
	}
	/* lost every race */
	return false;
}

/* how many of a dropped element's own neighbours are asked whether they link to it */
#define HNSW_DROPPED_PROBES 4

/*
 * Whether any of the first HNSW_DROPPED_PROBES level-lc neighbours of
 * element y links to it: then y is very likely still reachable.  (An
 * element that lost its last incoming link is one that is nobody's near
 * neighbour, so its own neighbours do not link back to it.)
 */
static bool
linked_back_nearby(Relation index, const HnswIndexInfo *info, HTAB *cache,
				   ItemPointer y, int lc)
{
	CachedElement *c = load_cached(cache, index, info, y);
	ItemPointerData out[2 * HNSW_MAX_M];
	ItemPointerData back[2 * HNSW_MAX_M];
	int			n = HnswLoadNeighbors(index, info, &c->neighbortid, lc, out);

	for (int i = 0; i < n && i < HNSW_DROPPED_PROBES; i++)
	{
		CachedElement *z = load_cached(cache, index, info, &out[i]);
		int			nb = HnswLoadNeighbors(index, info, &z->neighbortid, lc, back);

		if (HnswTidsContain(back, nb, y))
			return true;
	}
	return false;
}

/*
 * Keep the elements the new element's links cost their place reachable:
 * a dropped element that neither the new element links to nor any of its
 * nearest neighbours is linked from the new element (which the list that
 * dropped it now holds), at the end of the new element's level-lc list, in
 * place of the last ones the selection added to fill it up.  At most a
 * quarter of the list is given to them.  Without this, inserting half of
 * fashion-mnist into an index of the other half left 181 of the 60,000
 * elements unreachable until the next VACUUM.
 */
static void
rescue_dropped(Relation index, const HnswIndexInfo *info, HTAB *cache, ItemPointer etid,
			   int lc, LevelNeighbors *own, DroppedElements *dropped)
{
	int			cap = HNSW_LEVEL_SLOTS(lc, info->m);
	int			maxrescue = Max(cap / 4, 1);
	ItemPointerData next[2 * HNSW_MAX_M];
	int			nnext = own->n;
	int			nrescued = 0;
	CachedElement *self;

	memcpy(next, own->tids, sizeof(ItemPointerData) * own->n);
	for (int i = 0; i < dropped->n && nrescued < maxrescue; i++)
	{
		ItemPointer y = &dropped->tids[i];

		if (HnswTidsContain(next, nnext, y) ||
			linked_back_nearby(index, info, cache, y, lc))
			continue;
		if (nnext < cap)
			next[nnext++] = *y;
		else
			next[cap - 1 - nrescued] = *y;
		nrescued++;
	}
	if (nrescued == 0)
		return;
	self = load_cached(cache, index, info, etid);
	/* if another insert changed the new element's list meanwhile, leave it */
	if (HnswReplaceNeighbors(index, info, &self->neighbortid, lc, own->tids, own->n,
							 next, nnext))
	{
		memcpy(own->tids, next, sizeof(ItemPointerData) * nnext);
		own->n = nnext;
	}
}

/*
 * Find the neighbours of vec at levels level..0 (entry point given).
 */
static void
find_neighbors(Relation index, const HnswIndexInfo *info, const float *vec,
			   HnswMetaPageData *meta, int level, LevelNeighbors *nbrs,
			   MemoryContext cxt)
{
	HnswSearch	s;
	ItemPointerData *entries;
	int			nentries;
	int			ep;
	HnswCandidate **cands;
	int		   *selected;

	HnswSearchInit(&s, index, info, vec, true, cxt);
	ep = HnswSearchDescend(&s, &meta->entry, meta->entry_level, level);
	entries = palloc(sizeof(ItemPointerData) * Max(info->ef_construction, 1));
	cands = palloc(sizeof(HnswCandidate *) * Max(info->ef_construction, 1));
	selected = palloc(sizeof(int) * Max(info->ef_construction, 1));
	entries[0] = s.pool[ep].tid;
	nentries = 1;

	for (int lc = Min(level, meta->entry_level); lc >= 0; lc--)
	{
		int			idx[HNSW_MAX_EF_CONSTRUCTION];
		int			nidx = 0;
		int			nsel;

		HnswSearchReset(&s);
		s.layer = lc;
		for (int i = 0; i < nentries; i++)
		{
			int			e = HnswSearchVisit(&s, &entries[i]);

			if (e >= 0)
				idx[nidx++] = e;
		}
		HnswSearchLayer(&s, idx, nidx, info->ef_construction, lc);
		for (int i = 0; i < s.nout; i++)
			cands[i] = &s.pool[s.out[i]];
		/*
		 * Up to the level's capacity (2m on level 0): unlike the build, where
		 * lists of early elements fill up through later links, an element
		 * inserted into a grown graph gets few later links.  With m here,
		 * recall after deleting and reinserting half the rows fell 0.011
		 * below a fresh build's at ef_search 10; with 2m, 0.004.
		 */
		nsel = HnswSelectNeighbors(info, cands, s.nout, HNSW_LEVEL_SLOTS(lc, info->m), selected);
		nbrs[lc].n = nsel;
		for (int i = 0; i < nsel; i++)
			nbrs[lc].tids[i] = cands[selected[i]]->tid;
		/* the next level starts from everything found here */
		nentries = 0;
		for (int i = 0; i < s.nout; i++)
			entries[nentries++] = s.pool[s.out[i]].tid;
		if (nentries == 0)
			entries[nentries++] = s.pool[ep].tid;
	}
	HnswSearchEnd(&s);
}

/* Insert one vector; the caller has checked its dimensions. */
static void
insert_vector(Relation index, const HnswIndexInfo *info, const float *vec,
			  uint32 filterkey, ItemPointer heaptid, MemoryContext cxt)
{
	int			level = HnswRandomLevel(info->m, &pg_global_prng_state);
	LOCKMODE	mode = ShareLock;
	HnswMetaPageData meta;
	LevelNeighbors *nbrs = palloc0(sizeof(LevelNeighbors) * (level + 1));
	ItemPointerData etid;
	HTAB	   *cache;

	LockPage(index, HNSW_METAPAGE_BLKNO, mode);
	HnswReadMeta(index, &meta);
	if (level > meta.entry_level)
	{
		/* this element may become the entry point: insert alone */
		UnlockPage(index, HNSW_METAPAGE_BLKNO, mode);
		mode = ExclusiveLock;
		LockPage(index, HNSW_METAPAGE_BLKNO, mode);
		HnswReadMeta(index, &meta);
	}

	if (meta.entry_level >= 0)
		find_neighbors(index, info, vec, &meta, level, nbrs, cxt);
	write_element(index, info, vec, filterkey, heaptid, level, nbrs, &etid);
	note_new_element(index, &etid, level);
	cache = element_cache_create();
	for (int lc = Min(level, meta.entry_level); lc >= 0; lc--)
	{
		bool		linked = false;
		DroppedElements dropped;

		dropped.n = 0;
		for (int i = 0; i < nbrs[lc].n; i++)
			linked |= link_back(index, info, cache, &nbrs[lc].tids[i], &etid, vec, lc,
								false, &dropped);

		/*
		 * If every neighbour's list kept it out (the heuristic does that to
		 * elements that are never nearest, often under inner product), no
		 * search could reach it: make its nearest neighbour link to it.
		 */
		if (!linked && nbrs[lc].n > 0)
			(void) link_back(index, info, cache, &nbrs[lc].tids[0], &etid, vec, lc,
							 true, &dropped);
		rescue_dropped(index, info, cache, &etid, lc, &nbrs[lc], &dropped);
	}

	UnlockPage(index, HNSW_METAPAGE_BLKNO, mode);
}

/*
 * Insert a vector already prepared for the index's metric (the build's
 * rows that did not fit in memory).
 */
void
HnswInsertPrepared(Relation index, const HnswIndexInfo *info, const float *vec,
				   uint32 filterkey, ItemPointer heaptid)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "hnsw insert",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);

	insert_vector(index, info, vec, filterkey, heaptid, cxt);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
}

bool
hnswinsert(Relation index, Datum *values, bool *isnull, ItemPointer heap_tid,
		   Relation heap, IndexUniqueCheck checkUnique, bool indexUnchanged,
		   IndexInfo *indexInfo)
{
	MemoryContext cxt;
	MemoryContext old;
	const HnswIndexInfo *info;
	float	   *vec;

	if (isnull[0])
		return false;

	cxt = AllocSetContextCreate(CurrentMemoryContext, "hnsw insert",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	info = HnswGetIndexInfo(index);
	vec = palloc(HnswVectorSize(info));
	if (HnswPrepareVector(info->metric, HnswDatumData(info, values[0]), vec, info->dimensions))
		insert_vector(index, info, vec,
					  info->haskey ? HnswKeyHash(index, values[1], isnull[1]) : 0,
					  heap_tid, cxt);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
	return false;
}
