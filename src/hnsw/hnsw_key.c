/*-------------------------------------------------------------------------
 *
 * hnsw_key.c
 *	  The key column of an HNSW index: hashing keys, and the key directory
 *	  that finds the elements of one key.
 *
 * An index may have a second column after the vector, its key (typically a
 * tenant id).  Each element stores a 32-bit hash of its row's key, its
 * filterkey, computed with the key opclass's support function 2 (the
 * type's hash function).  The elements with one filterkey form a chain
 * through HnswElementTupleData.keynext, newest first, whose head and length
 * are kept in the key directory (layout in hnsw_page.h).  A scan given
 * "key = value" looks the chain up: a short chain is read whole (an exact
 * search over that key's rows), a long one tells the graph search which
 * elements to return and where to start (hnsw_scan.c).  Different keys may
 * hash alike; the executor rechecks the condition on every row.
 *
 * Locking: an inserter locks the directory page of its key exclusively and
 * then the data page of the new element, and changes both in one WAL
 * record, so a chain and its directory entry never disagree.  VACUUM
 * unlinks deleted elements from the chains the same way (directory page,
 * then data page, one record).  No code path takes a directory page lock
 * while holding a data page lock.
 *
 * src/hnsw/hnsw_key.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/generic_xlog.h"
#include "commands/vacuum.h"
#include "storage/bufmgr.h"
#include "utils/hsearch.h"
#include "utils/rel.h"

#include "hnsw/hnsw.h"

bool
HnswIndexHasKey(Relation index)
{
	return IndexRelationGetNumberOfKeyAttributes(index) > 1;
}

uint32
HnswKeyHash(Relation index, Datum value, bool isnull)
{
	FmgrInfo   *proc;
	uint32		h;

	if (isnull)
		return 0;
	proc = index_getprocinfo(index, 2, HNSW_KEY_HASH_PROC);
	h = DatumGetUInt32(FunctionCall1Coll(proc, index->rd_indcollation[1], value));
	/* 0 stands for "no key" */
	return h == 0 ? 1 : h;
}

/* Number of bucket pages for a directory of about nkeys keys. */
uint32
HnswKeyDirBuckets(double nkeys)
{
	uint32		n = HNSW_KEYDIR_MIN_BUCKETS;

	/* half-full pages on average, at most 2^20 of them */
	while (n < (1U << 20) && (double) n * HNSW_KEYDIR_CAPACITY / 2 < nkeys)
		n *= 2;
	return n;
}

static void
init_keydir_page(Page page)
{
	HnswInitPage(page, HNSW_PAGE_KEYDIR);
	HnswPageGetKeyDir(page)->nentries = 0;
	((PageHeader) page)->pd_lower =
		MAXALIGN(SizeOfPageHeaderData) + offsetof(HnswKeyDirPageData, entries);
}

static void
append_entry(Page page, const HnswKeyDirEntry *entry)
{
	HnswKeyDirPage dir = HnswPageGetKeyDir(page);

	Assert(dir->nentries < HNSW_KEYDIR_CAPACITY);
	dir->entries[dir->nentries++] = *entry;
	((PageHeader) page)->pd_lower =
		MAXALIGN(SizeOfPageHeaderData) + offsetof(HnswKeyDirPageData, entries) +
		sizeof(HnswKeyDirEntry) * dir->nentries;
}

static int
cmp_bucket(const void *a, const void *b, void *arg)
{
	uint32		mask = *(uint32 *) arg;
	uint32		x = ((const HnswKeyDirEntry *) a)->filterkey & mask;
	uint32		y = ((const HnswKeyDirEntry *) b)->filterkey & mask;

	return (x > y) - (x < y);
}

/* Write one directory page holding entries[from, to); its next page. */
static void
write_keydir_page(Relation index, ForkNumber forknum, BlockNumber expect,
				  const HnswKeyDirEntry *entries, int from, int to,
				  BlockNumber next, bool use_wal)
{
	Buffer		buf = HnswNewBuffer(index, forknum);
	GenericXLogState *state = NULL;
	Page		page;

	if (BufferGetBlockNumber(buf) != expect)
		elog(ERROR, "key directory page of index \"%s\" landed at block %u, not %u",
			 RelationGetRelationName(index), BufferGetBlockNumber(buf), expect);
	if (use_wal)
	{
		state = GenericXLogStart(index);
		page = GenericXLogRegisterBuffer(state, buf, GENERIC_XLOG_FULL_IMAGE);
	}
	else
		page = BufferGetPage(buf);
	init_keydir_page(page);
	for (int i = from; i < to; i++)
		append_entry(page, &entries[i]);
	HnswPageGetOpaque(page)->nextblkno = next;
	if (use_wal)
		GenericXLogFinish(state);
	else
		MarkBufferDirty(buf);
	UnlockReleaseBuffer(buf);
}

/*
 * Write a new directory of nbuckets bucket pages holding the given entries
 * (sorted here), at the end of the relation, which nobody else extends
 * meanwhile; returns its first block.  The overflow pages of full buckets
 * follow the bucket pages.
 */
BlockNumber
HnswKeyDirCreate(Relation index, ForkNumber forknum, uint32 nbuckets,
				 HnswKeyDirEntry *entries, int nentries, bool use_wal)
{
	uint32		mask = nbuckets - 1;
	int			cap = (int) HNSW_KEYDIR_CAPACITY;
	BlockNumber first = RelationGetNumberOfBlocksInFork(index, forknum);
	BlockNumber next_overflow = first + nbuckets;
	int		   *bucket_start = palloc(sizeof(int) * (nbuckets + 1));
	int			pos = 0;

	qsort_arg(entries, nentries, sizeof(HnswKeyDirEntry), cmp_bucket, &mask);
	for (uint32 b = 0; b < nbuckets; b++)
	{
		bucket_start[b] = pos;
		while (pos < nentries && (entries[pos].filterkey & mask) == b)
			pos++;
	}
	bucket_start[nbuckets] = nentries;

	/* the bucket pages, each chained to its overflow pages if it has any */
	for (uint32 b = 0; b < nbuckets; b++)
	{
		int			from = bucket_start[b];
		int			n = bucket_start[b + 1] - from;

		write_keydir_page(index, forknum, first + b, entries, from, from + Min(n, cap),
						  n > cap ? next_overflow : InvalidBlockNumber, use_wal);
		if (n > cap)
			next_overflow += (n - 1) / cap;
	}
	/* then the overflow pages, in the same order */
	next_overflow = first + nbuckets;
	for (uint32 b = 0; b < nbuckets; b++)
	{
		int			from = bucket_start[b];
		int			n = bucket_start[b + 1] - from;

		for (int p = 1; p * cap < n; p++)
		{
			bool		last = (p + 1) * cap >= n;

			write_keydir_page(index, forknum, next_overflow, entries, from + p * cap,
							  from + Min(n, (p + 1) * cap),
							  last ? InvalidBlockNumber : next_overflow + 1, use_wal);
			next_overflow++;
		}
	}
	pfree(bucket_start);
	return first;
}

static void
check_keydir(Relation index, const HnswMetaPageData *meta)
{
	if (meta->keydir_nbuckets == 0 ||
		(meta->keydir_nbuckets & (meta->keydir_nbuckets - 1)) != 0 ||
		meta->keydir_first == InvalidBlockNumber ||
		meta->keydir_first == HNSW_METAPAGE_BLKNO)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" has no valid key directory",
						RelationGetRelationName(index)),
				 errhint("Please REINDEX it.")));
}

/* The entry of filterkey on a locked directory page, or NULL. */
static HnswKeyDirEntry *
find_entry(Relation index, Page page, BlockNumber blkno, uint32 filterkey)
{
	HnswKeyDirPage dir;

	HnswCheckPage(index, page, blkno, HNSW_PAGE_KEYDIR);
	dir = HnswPageGetKeyDir(page);
	if (dir->nentries > HNSW_KEYDIR_CAPACITY)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" has a key directory page with %u entries at block %u",
						RelationGetRelationName(index), dir->nentries, blkno),
				 errhint("Please REINDEX it.")));
	for (uint32 i = 0; i < dir->nentries; i++)
		if (dir->entries[i].filterkey == filterkey)
			return &dir->entries[i];
	return NULL;
}

bool
HnswKeyDirLookup(Relation index, const HnswMetaPageData *meta, uint32 filterkey,
				 HnswKeyDirEntry *out)
{
	BlockNumber blkno;
	int			hops = 0;

	check_keydir(index, meta);
	blkno = meta->keydir_first + (filterkey & (meta->keydir_nbuckets - 1));
	while (blkno != InvalidBlockNumber)
	{
		Buffer		buf = ReadBuffer(index, blkno);
		Page		page;
		HnswKeyDirEntry *e;
		BlockNumber next;

		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		e = find_entry(index, page, blkno, filterkey);
		if (e)
			*out = *e;
		next = HnswPageGetOpaque(page)->nextblkno;
		UnlockReleaseBuffer(buf);
		if (e)
			return true;
		if (++hops > (int) MaxBlockNumber / 2)
			break;
		blkno = next;
	}
	return false;
}

/*
 * The directory page where filterkey's entry is, or where it is to be
 * added (the last page of its bucket, a new overflow page if that one is
 * full); returned exclusively locked.
 */
Buffer
HnswKeyDirLockForInsert(Relation index, const HnswMetaPageData *meta, uint32 filterkey)
{
	BlockNumber blkno;

	check_keydir(index, meta);
	blkno = meta->keydir_first + (filterkey & (meta->keydir_nbuckets - 1));
	for (;;)
	{
		Buffer		buf = ReadBuffer(index, blkno);
		Page		page;
		BlockNumber next;

		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		page = BufferGetPage(buf);
		if (find_entry(index, page, blkno, filterkey) != NULL)
			return buf;
		next = HnswPageGetOpaque(page)->nextblkno;
		if (next == InvalidBlockNumber)
		{
			Buffer		nbuf;
			GenericXLogState *state;
			Page		npage;

			if (HnswPageGetKeyDir(page)->nentries < HNSW_KEYDIR_CAPACITY)
				return buf;
			/* full: chain a new overflow page to it */
			nbuf = HnswNewBuffer(index, MAIN_FORKNUM);
			state = GenericXLogStart(index);
			npage = GenericXLogRegisterBuffer(state, nbuf, GENERIC_XLOG_FULL_IMAGE);
			init_keydir_page(npage);
			page = GenericXLogRegisterBuffer(state, buf, 0);
			HnswPageGetOpaque(page)->nextblkno = BufferGetBlockNumber(nbuf);
			GenericXLogFinish(state);
			UnlockReleaseBuffer(buf);
			return nbuf;
		}
		UnlockReleaseBuffer(buf);
		blkno = next;
	}
}

/*
 * On a directory page returned by HnswKeyDirLockForInsert (registered for
 * WAL by the caller): make etid the head of filterkey's chain; *oldhead is
 * the element the new one must link to.
 */
void
HnswKeyDirPush(Page page, uint32 filterkey, ItemPointer etid, ItemPointer oldhead)
{
	HnswKeyDirPage dir = HnswPageGetKeyDir(page);

	for (uint32 i = 0; i < dir->nentries; i++)
	{
		HnswKeyDirEntry *e = &dir->entries[i];

		if (e->filterkey == filterkey)
		{
			*oldhead = e->head;
			e->head = *etid;
			if (e->count < PG_UINT32_MAX)
				e->count++;
			return;
		}
	}
	{
		HnswKeyDirEntry e;

		memset(&e, 0, sizeof(e));
		e.filterkey = filterkey;
		e.count = 1;
		e.head = *etid;
		append_entry(page, &e);
		ItemPointerSetInvalid(oldhead);
	}
}

/* ---------------- vacuum: unlinking deleted elements ---------------- */

/* The element tuple at tid on a locked page (checked). */
static HnswElementTuple
chain_element(Relation index, Page page, ItemPointer tid)
{
	OffsetNumber off = ItemPointerGetOffsetNumber(tid);
	ItemId		iid;
	HnswElementTuple etup;

	if (off < FirstOffsetNumber || off > PageGetMaxOffsetNumber(page) ||
		!ItemIdIsNormal(iid = PageGetItemId(page, off)) ||
		(etup = (HnswElementTuple) PageGetItem(page, iid))->type != HNSW_ELEMENT_TUPLE)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" has a key chain reaching (%u,%u), which is not an element",
						RelationGetRelationName(index), ItemPointerGetBlockNumber(tid),
						ItemPointerGetOffsetNumber(tid)),
				 errhint("Please REINDEX it.")));
	return etup;
}

/*
 * From tid, skip deleted elements: *next is the first live one (or
 * invalid); returns how many were skipped.  Deleted elements never change,
 * so reading them one at a time is safe.
 */
static uint32
skip_deleted(Relation index, BufferAccessStrategy strategy, ItemPointer tid,
			 ItemPointer next)
{
	uint32		n = 0;

	*next = *tid;
	while (ItemPointerIsValid(next))
	{
		Buffer		buf = ReadBufferExtended(index, MAIN_FORKNUM,
											 ItemPointerGetBlockNumber(next),
											 RBM_NORMAL, strategy);
		HnswElementTuple etup;
		bool		deleted;

		LockBuffer(buf, BUFFER_LOCK_SHARE);
		etup = chain_element(index, BufferGetPage(buf), next);
		deleted = (etup->flags & HNSW_ELEMENT_DELETED) != 0;
		if (deleted)
			*next = etup->keynext;
		UnlockReleaseBuffer(buf);
		if (!deleted)
			break;
		if (++n > MaxBlockNumber)
			break;
	}
	return n;
}

/* The entry of filterkey on directory page blkno, locked exclusively; or NULL. */
static HnswKeyDirEntry *
lock_entry(Relation index, BlockNumber blkno, uint32 filterkey, Buffer *buf)
{
	HnswKeyDirEntry *e;

	*buf = ReadBuffer(index, blkno);
	LockBuffer(*buf, BUFFER_LOCK_EXCLUSIVE);
	e = find_entry(index, BufferGetPage(*buf), blkno, filterkey);
	if (e == NULL)
		UnlockReleaseBuffer(*buf);
	return e;
}

/*
 * Unlink the deleted elements of one key's chain, whose entry is on
 * directory page dirblk: the directory's head moves past deleted ones, and
 * each live element's keynext past deleted successors, each change in one
 * WAL record with the entry's count.  Safe beside inserts (which only
 * change the head and write new elements) and scans (a scan standing on a
 * deleted element still finds its unchanged keynext).
 */
static void
compact_chain(Relation index, BufferAccessStrategy strategy, BlockNumber dirblk,
			  uint32 filterkey)
{
	Buffer		dbuf;
	HnswKeyDirEntry *e;
	ItemPointerData live;
	uint32		n;

	/* the head, under the directory page lock: inserts may move it */
	e = lock_entry(index, dirblk, filterkey, &dbuf);
	if (e == NULL)
		return;
	n = skip_deleted(index, strategy, &e->head, &live);
	if (n > 0)
	{
		GenericXLogState *state = GenericXLogStart(index);
		Page		page = GenericXLogRegisterBuffer(state, dbuf, 0);

		e = find_entry(index, page, dirblk, filterkey);
		e->head = live;
		e->count -= Min(e->count, n);
		GenericXLogFinish(state);
	}
	UnlockReleaseBuffer(dbuf);

	/* then every live element's link */
	while (ItemPointerIsValid(&live))
	{
		ItemPointerData cur = live;
		ItemPointerData next;
		Buffer		buf;
		HnswElementTuple etup;

		vacuum_delay_point();
		buf = ReadBufferExtended(index, MAIN_FORKNUM, ItemPointerGetBlockNumber(&cur),
								 RBM_NORMAL, strategy);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		next = chain_element(index, BufferGetPage(buf), &cur)->keynext;
		UnlockReleaseBuffer(buf);

		n = skip_deleted(index, strategy, &next, &live);
		if (n == 0)
			continue;
		/* directory page, then data page, as inserts lock them */
		e = lock_entry(index, dirblk, filterkey, &dbuf);
		if (e == NULL)
			return;
		buf = ReadBufferExtended(index, MAIN_FORKNUM, ItemPointerGetBlockNumber(&cur),
								 RBM_NORMAL, strategy);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		{
			GenericXLogState *state = GenericXLogStart(index);
			Page		dpage = GenericXLogRegisterBuffer(state, dbuf, 0);
			Page		page = GenericXLogRegisterBuffer(state, buf, 0);

			e = find_entry(index, dpage, dirblk, filterkey);
			etup = chain_element(index, page, &cur);
			etup->keynext = live;
			e->count -= Min(e->count, n);
			GenericXLogFinish(state);
		}
		UnlockReleaseBuffer(buf);
		UnlockReleaseBuffer(dbuf);
	}
}

/*
 * VACUUM: unlink deleted elements from the chains of the given filterkeys
 * (those of the elements it just marked deleted).
 */
void
HnswKeyDirCompact(Relation index, BufferAccessStrategy strategy, HTAB *filterkeys)
{
	HnswMetaPageData meta;
	HASH_SEQ_STATUS seq;
	uint32	   *k;

	HnswReadMeta(index, &meta);
	if (meta.keydir_nbuckets == 0 || hash_get_num_entries(filterkeys) == 0)
		return;
	check_keydir(index, &meta);
	hash_seq_init(&seq, filterkeys);
	while ((k = hash_seq_search(&seq)) != NULL)
	{
		BlockNumber blkno = meta.keydir_first + (*k & (meta.keydir_nbuckets - 1));

		/* the page of its entry */
		while (blkno != InvalidBlockNumber)
		{
			Buffer		buf = ReadBufferExtended(index, MAIN_FORKNUM, blkno, RBM_NORMAL, strategy);
			bool		found;
			BlockNumber next;

			LockBuffer(buf, BUFFER_LOCK_SHARE);
			found = find_entry(index, BufferGetPage(buf), blkno, *k) != NULL;
			next = HnswPageGetOpaque(BufferGetPage(buf))->nextblkno;
			UnlockReleaseBuffer(buf);
			if (found)
			{
				compact_chain(index, strategy, blkno, *k);
				break;
			}
			blkno = next;
		}
	}
}
