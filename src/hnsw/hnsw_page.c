/*-------------------------------------------------------------------------
 *
 * hnsw_page.c
 *	  Pages of the HNSW index: initialization, checks, the metapage, the
 *	  per-index information cached in rd_amcache, and overflow chains for
 *	  vectors too large to sit in an element tuple.
 *
 * src/hnsw/hnsw_page.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/generic_xlog.h"
#include "miscadmin.h"
#include "storage/buf_internals.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "hnsw/hnsw.h"

StaticAssertDecl(offsetof(HnswElementTupleData, data) == 32,
				 "element data must stay 8-byte aligned");

void
HnswInitPage(Page page, uint16 flags)
{
	HnswPageOpaque opaque;

	PageInit(page, BLCKSZ, sizeof(HnswPageOpaqueData));
	opaque = HnswPageGetOpaque(page);
	opaque->nextblkno = InvalidBlockNumber;
	opaque->flags = flags;
	opaque->page_id = HNSW_PAGE_ID;
}

/*
 * A new, exclusively locked buffer at the end of the relation (the caller
 * initializes the page).
 */
Buffer
HnswNewBuffer(Relation index, ForkNumber forknum)
{
	Buffer		buf;

	/*
	 * Always lock: an index created in this transaction counts as local to
	 * it, but the parallel workers of its build extend it too.
	 */
	LockRelationForExtension(index, ExclusiveLock);
	buf = ReadBufferExtended(index, forknum, P_NEW, RBM_NORMAL, NULL);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	UnlockRelationForExtension(index, ExclusiveLock);
	return buf;
}

/* Complain about a page that is not what the index expects there. */
void
HnswCheckPage(Relation index, Page page, BlockNumber blkno, uint16 flags)
{
	HnswPageOpaque opaque;

	if (PageIsNew(page) ||
		PageGetSpecialSize(page) != MAXALIGN(sizeof(HnswPageOpaqueData)))
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" contains an unexpected page at block %u",
						RelationGetRelationName(index), blkno),
				 errhint("Please REINDEX it.")));
	opaque = HnswPageGetOpaque(page);
	if (opaque->page_id != HNSW_PAGE_ID || (opaque->flags & flags) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" contains a page of the wrong kind at block %u",
						RelationGetRelationName(index), blkno),
				 errhint("Please REINDEX it.")));
}

/* Copy the metapage contents (under a share lock). */
void
HnswReadMeta(Relation index, HnswMetaPageData *meta)
{
	Buffer		buf = ReadBuffer(index, HNSW_METAPAGE_BLKNO);
	Page		page;
	HnswMetaPage m;

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	HnswCheckPage(index, page, HNSW_METAPAGE_BLKNO, HNSW_PAGE_META);
	m = HnswPageGetMeta(page);
	if (m->magic == HNSW_MAGIC && m->version < HNSW_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("index \"%s\" was built by an older version of vecq",
						RelationGetRelationName(index)),
				 errdetail("Its pages have layout version %u; this version of vecq reads version %u.",
						   m->version, HNSW_VERSION),
				 errhint("REINDEX it.")));
	if (m->magic != HNSW_MAGIC || m->version != HNSW_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" has an unknown metapage (version %u)",
						RelationGetRelationName(index), m->version),
				 errhint("Please REINDEX it.")));
	*meta = *m;
	UnlockReleaseBuffer(buf);
}

/*
 * What a backend keeps about an index in rd_amcache: the frozen facts of
 * the metapage, and for each block the buffer it was last found in, so
 * that a search can pin a page with ReadRecentBuffer() (which checks the
 * buffer still holds the block) instead of a buffer-mapping lookup, and
 * what scans learned of the rows' storage (HnswScanHints).
 */
typedef struct HnswRelCache
{
	HnswIndexInfo info;			/* first: HnswGetIndexInfo returns it */
	Buffer	   *recent;
	BlockNumber nrecent;
	HnswScanHintsData hints;
} HnswRelCache;

/*
 * The parameters of an index's codes, read into its relcache memory: SQ8
 * ranges (lo[], step[]), bit centres and spreads (mean[], dev[]), or the
 * centroids and rotation of rotated bits (QuantRbitWriteParams' layout).
 */
static void
read_quant_params(Relation index, const HnswMetaPageData *meta, HnswIndexInfo *info)
{
	Size		len = 2 * sizeof(float) * (Size) meta->dimensions;
	float	   *params = palloc(len);
	MemoryContext old;

	if (meta->quant_params == InvalidBlockNumber || meta->quant_params == HNSW_METAPAGE_BLKNO)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" has no quantization ranges",
						RelationGetRelationName(index)),
				 errhint("Please REINDEX it.")));
	if (info->format == HNSW_FORMAT_RBIT)
	{
		char		header[QUANT_RBIT_PARAMS_HEADER];
		char	   *blob;
		QuantRbit  *rbit;

		/* the header tells the size */
		HnswReadOverflow(index, meta->quant_params, header, sizeof(header));
		len = QuantRbitParamsSizeFromHeader(meta->dimensions, header);
		if (len == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INDEX_CORRUPTED),
					 errmsg("index \"%s\" has invalid quantization parameters",
							RelationGetRelationName(index)),
					 errhint("Please REINDEX it.")));
		blob = palloc(len);
		HnswReadOverflow(index, meta->quant_params, blob, len);
		old = MemoryContextSwitchTo(index->rd_indexcxt);
		rbit = palloc(sizeof(QuantRbit));
		QuantRbitFromParams(rbit, meta->dimensions, blob);
		info->rbit = rbit;
		MemoryContextSwitchTo(old);
		pfree(blob);
		pfree(params);
		return;
	}
	HnswReadOverflow(index, meta->quant_params, (char *) params, len);
	old = MemoryContextSwitchTo(index->rd_indexcxt);
	if (info->format == HNSW_FORMAT_SQ8)
	{
		QuantSq8   *sq8 = palloc(sizeof(QuantSq8));

		QuantSq8FromParams(sq8, meta->dimensions, params, params + meta->dimensions);
		info->sq8 = sq8;
	}
	else
	{
		QuantBit   *bit = palloc(sizeof(QuantBit));

		QuantBitFromParams(bit, meta->dimensions, params, params + meta->dimensions);
		info->bit = bit;
	}
	MemoryContextSwitchTo(old);
	pfree(params);
}

/*
 * Write the parameters of an index's codes, a[] then b[] (dim floats each:
 * SQ8 lo[] and step[], bit mean[] and dev[]), to a new overflow chain;
 * returns its first block.
 */
BlockNumber
HnswWriteQuantParams(Relation index, ForkNumber forknum, int dim, const float *a,
					 const float *b, bool use_wal)
{
	Size		len = 2 * sizeof(float) * (Size) dim;
	float	   *params = palloc(len);
	BlockNumber first;

	memcpy(params, a, sizeof(float) * dim);
	memcpy(params + dim, b, sizeof(float) * dim);
	HnswWriteOverflow(index, forknum, (const char *) params, len, &first, use_wal);
	pfree(params);
	return first;
}

static HnswRelCache *
rel_cache(Relation index)
{
	if (index->rd_amcache == NULL)
	{
		HnswMetaPageData meta;
		HnswRelCache *rc;

		HnswReadMeta(index, &meta);
		rc = MemoryContextAllocZero(index->rd_indexcxt, sizeof(HnswRelCache));
		rc->info.dimensions = meta.dimensions;
		rc->info.m = meta.m;
		rc->info.ef_construction = meta.ef_construction;
		rc->info.metric = (HnswMetric) meta.metric;
		rc->info.format = (HnswFormat) meta.format;
		rc->info.haskey = HnswIndexHasKey(index);
		rc->info.halfvec = HnswIndexIsHalfvec(index);
		if (rc->info.haskey && meta.keydir_nbuckets == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INDEX_CORRUPTED),
					 errmsg("index \"%s\" has a key column but no key directory",
							RelationGetRelationName(index)),
					 errhint("Please REINDEX it.")));
		if (rc->info.format == HNSW_FORMAT_SQ8 || rc->info.format == HNSW_FORMAT_BIT ||
			(rc->info.format == HNSW_FORMAT_RBIT &&
			 HnswFormatFitsMetric(HNSW_FORMAT_RBIT, rc->info.metric)))
			read_quant_params(index, &meta, &rc->info);
		else if (!HnswFormatIsExact(rc->info.format))
			ereport(ERROR,
					(errcode(ERRCODE_INDEX_CORRUPTED),
					 errmsg("index \"%s\" has an unknown vector format %d",
							RelationGetRelationName(index), meta.format),
					 errhint("Please REINDEX it.")));
		index->rd_amcache = rc;
	}
	return (HnswRelCache *) index->rd_amcache;
}

const HnswIndexInfo *
HnswGetIndexInfo(Relation index)
{
	return &rel_cache(index)->info;
}

HnswScanHintsData *
HnswScanHints(Relation index)
{
	return &rel_cache(index)->hints;
}

/*
 * Prefetch, without pinning, what pinning the page of tid through the
 * recent-buffer hints and reading its line pointer will touch: the buffer
 * header and the line pointer.  Only a hint to the CPU: if the buffer now
 * holds another page, nothing is read that matters.
 */
void
HnswPrefetchHinted(Relation index, ItemPointer tid)
{
	HnswRelCache *rc = (HnswRelCache *) index->rd_amcache;
	BlockNumber blkno = ItemPointerGetBlockNumber(tid);
	Buffer		buf;

	if (rc == NULL || blkno >= rc->nrecent)
		return;
	buf = rc->recent[blkno];
	if (!BufferIsValid(buf) || BufferIsLocal(buf))
		return;
	__builtin_prefetch(GetBufferDescriptor(buf - 1));
	/* the line pointer (the tuple's checks do not read the page header) */
	__builtin_prefetch(PageGetItemId((Page) BufferGetBlock(buf),
									 ItemPointerGetOffsetNumber(tid)));
}

/*
 * Prefetch the first maxbytes of the tuple at tid (all of it if maxbytes
 * is 0), through the recent-buffer hint of its page, without pinning: the
 * line pointer read may belong to another page by now (then the prefetch
 * is wasted, nothing else happens).
 */
void
HnswPrefetchTupleHinted(Relation index, ItemPointer tid, Size maxbytes)
{
	HnswRelCache *rc = (HnswRelCache *) index->rd_amcache;
	BlockNumber blkno = ItemPointerGetBlockNumber(tid);
	OffsetNumber offnum = ItemPointerGetOffsetNumber(tid);
	Buffer		buf;
	Page		page;
	ItemId		iid;
	Size		off;
	Size		len;

	if (rc == NULL || blkno >= rc->nrecent)
		return;
	buf = rc->recent[blkno];
	if (!BufferIsValid(buf) || BufferIsLocal(buf))
		return;
	page = (Page) BufferGetBlock(buf);
	if (offnum < FirstOffsetNumber || offnum > MaxOffsetNumber)
		return;
	iid = PageGetItemId(page, offnum);
	off = ItemIdGetOffset(iid);
	len = ItemIdGetLength(iid);
	if (maxbytes > 0 && len > maxbytes)
		len = maxbytes;
	if (off < BLCKSZ && len <= BLCKSZ - off)
		for (Size p = 0; p < len; p += 64)
			__builtin_prefetch((char *) page + off + p);
}

/* Whether tid is one of tids[0..n). */
bool
HnswTidsContain(const ItemPointerData *tids, int n, ItemPointer tid)
{
	for (int i = 0; i < n; i++)
		if (ItemPointerEquals((ItemPointer) &tids[i], tid))
			return true;
	return false;
}

/* A pinned buffer of blkno, found through the recent-buffer hints. */
Buffer
HnswReadBufferHinted(Relation index, BlockNumber blkno)
{
	HnswRelCache *rc = rel_cache(index);
	Buffer		buf;

	if (blkno < rc->nrecent)
	{
		buf = rc->recent[blkno];
		if (BufferIsValid(buf) &&
			ReadRecentBuffer(index->rd_node, MAIN_FORKNUM, blkno, buf))
			return buf;
	}
	else
	{
		BlockNumber n = Max(blkno + 1, rc->nrecent * 2);

		if (rc->recent == NULL)
			rc->recent = MemoryContextAllocHuge(index->rd_indexcxt, sizeof(Buffer) * n);
		else
			rc->recent = repalloc_huge(rc->recent, sizeof(Buffer) * n);
		for (BlockNumber i = rc->nrecent; i < n; i++)
			rc->recent[i] = InvalidBuffer;
		rc->nrecent = n;
	}
	buf = ReadBuffer(index, blkno);
	rc->recent[blkno] = buf;
	return buf;
}

/* Bytes of element data for one vector. */
Size
HnswElementDataSize(const HnswIndexInfo *info)
{
	if (info->format == HNSW_FORMAT_SQ8)
		return QUANT_SQ8_CODE_SIZE(info->dimensions);
	if (info->format == HNSW_FORMAT_BIT)
		return QUANT_BIT_CODE_SIZE(info->dimensions);
	if (info->format == HNSW_FORMAT_RBIT)
		return QUANT_RBIT_CODE_SIZE(QuantRbitPaddedDim(info->dimensions));
	if (info->format == HNSW_FORMAT_HALF)
		return sizeof(uint16) * (Size) info->dimensions;
	if (HnswIsBitMetric(info->metric))
		return ((Size) info->dimensions + 7) / 8;
	return sizeof(float) * (Size) info->dimensions;
}

/*
 * Bytes of one float4 vector of the index's dimensions (of a bit string,
 * for an index on a bit column, rounded up to whole float4s).
 */
Size
HnswVectorSize(const HnswIndexInfo *info)
{
	if (HnswIsBitMetric(info->metric))
		return sizeof(float) * (((Size) info->dimensions + 31) / 32);
	return sizeof(float) * (Size) info->dimensions;
}

/*
 * Whether an element of this level keeps its data inline: its element tuple
 * and neighbour tuple must fit together on an empty page.
 */
bool
HnswElementDataInline(const HnswIndexInfo *info, int level)
{
	Size		need = HNSW_ELEMENT_TUPLE_SIZE(HnswElementDataSize(info)) +
		HNSW_NEIGHBOR_TUPLE_SIZE(level, info->m);

	return need <= HNSW_PAGE_FREE_SPACE;
}

/*
 * Write len bytes to a new chain of overflow pages; *first is its first
 * block.  Pages are new, so with use_wal each is logged as a full image.
 */
void
HnswWriteOverflow(Relation index, ForkNumber forknum, const char *data,
				  Size len, BlockNumber *first, bool use_wal)
{
	Buffer		prev = InvalidBuffer;
	GenericXLogState *prev_state = NULL;
	Page		prev_page = NULL;
	Size		done = 0;

	*first = InvalidBlockNumber;
	while (done < len)
	{
		Buffer		buf = HnswNewBuffer(index, forknum);
		GenericXLogState *state = NULL;
		Page		page;
		Size		chunk = Min(len - done, HNSW_OVERFLOW_PAGE_CAPACITY);

		if (use_wal)
		{
			state = GenericXLogStart(index);
			page = GenericXLogRegisterBuffer(state, buf, GENERIC_XLOG_FULL_IMAGE);
		}
		else
			page = BufferGetPage(buf);
		HnswInitPage(page, HNSW_PAGE_OVERFLOW);
		memcpy(PageGetContents(page), data + done, chunk);
		((PageHeader) page)->pd_lower = MAXALIGN(SizeOfPageHeaderData) + chunk;

		if (prev != InvalidBuffer)
		{
			HnswPageGetOpaque(prev_page)->nextblkno = BufferGetBlockNumber(buf);
			if (use_wal)
				GenericXLogFinish(prev_state);
			else
				MarkBufferDirty(prev);
			UnlockReleaseBuffer(prev);
		}
		else
			*first = BufferGetBlockNumber(buf);
		prev = buf;
		prev_state = state;
		prev_page = page;
		done += chunk;
	}
	if (prev != InvalidBuffer)
	{
		if (use_wal)
			GenericXLogFinish(prev_state);
		else
			MarkBufferDirty(prev);
		UnlockReleaseBuffer(prev);
	}
}

/* Read len bytes of an overflow chain into out. */
void
HnswReadOverflow(Relation index, BlockNumber first, char *out, Size len)
{
	BlockNumber blkno = first;
	Size		done = 0;

	while (done < len)
	{
		Buffer		buf;
		Page		page;
		Size		chunk = Min(len - done, HNSW_OVERFLOW_PAGE_CAPACITY);

		if (blkno == InvalidBlockNumber)
			ereport(ERROR,
					(errcode(ERRCODE_INDEX_CORRUPTED),
					 errmsg("index \"%s\" has a truncated overflow chain",
							RelationGetRelationName(index)),
					 errhint("Please REINDEX it.")));
		buf = ReadBuffer(index, blkno);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		HnswCheckPage(index, page, blkno, HNSW_PAGE_OVERFLOW);
		memcpy(out + done, PageGetContents(page), chunk);
		blkno = HnswPageGetOpaque(page)->nextblkno;
		UnlockReleaseBuffer(buf);
		done += chunk;
	}
}
