/*-------------------------------------------------------------------------
 *
 * hnsw_check.c
 *	  vecq_index_check(index, heapallindexed): verify the invariants of an
 *	  HNSW index and report every problem as a row, as amcheck does for
 *	  B-trees.
 *
 * Pass 1 reads every page in order: page headers, element tuples (level,
 * data length, finite vector, unit norm for cosine, or for SQ8 codes sane
 * error norms, heap TID present exactly when live) and neighbour tuples,
 * and remembers each element; for SQ8 the ranges are checked first, and
 * the number of elements with clamped values is reported as one row.
 * Pass 2 reads the pages again and checks every neighbour list against
 * what pass 1 found (points to an element whose level reaches the list's,
 * no self link, no duplicate, no gap), keeping level-by-level adjacency.
 * Then: the metapage's entry point, and reachability: every live element
 * must be reachable from the entry point on level 0 (through deleted
 * elements too, as scans are), and on each higher level every element of
 * that level.  For an index with a key column, the key directory: every
 * entry on the bucket page its filterkey maps to (or that page's overflow
 * chain), no filterkey twice, each entry's chain of exactly count elements
 * with that filterkey and no cycle, and every live element with a key on
 * the chain of its filterkey (VACUUM unlinks deleted ones).  With
 * heapallindexed, every heap row visible to the current snapshot with a
 * non-NULL vector must be in the index.
 *
 * Buffers are share-locked one at a time; the index is read under
 * AccessShareLock, so concurrent inserts may make a list briefly point to
 * an element written after pass 1 read its page: run it on a quiet index
 * for exact results.
 *
 * src/hnsw/hnsw_check.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/relation.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/index.h"
#include "catalog/pg_am.h"
#include "commands/defrem.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "common/distance.h"
#include "hnsw/hnsw.h"
#include "vector/vector.h"

typedef struct CheckElem
{
	uint64		key;			/* element tuple: block << 16 | offset */
	int32		index;			/* 0, 1, 2, ... */
	uint8		level;
	bool		deleted;
	bool		chained;		/* found on its key's chain */
	uint32		filterkey;
	ItemPointerData neighbortid;
	ItemPointerData keynext;
} CheckElem;

typedef struct CheckNbr
{
	uint64		key;			/* neighbour tuple */
	uint64		owner;			/* its element, 0 if none */
	uint8		level;
	uint16		nslots;
} CheckNbr;

typedef struct CheckHeapTid
{
	uint64		key;			/* heap TID of a live element */
} CheckHeapTid;

typedef struct CheckState
{
	Relation	index;
	Relation	heap;
	ReturnSetInfo *rsinfo;
	BufferAccessStrategy strategy;
	HnswMetaPageData meta;
	HTAB	   *elems;
	HTAB	   *nbrs;
	HTAB	   *heaptids;
	int32		nelems;
	CheckElem **byindex;		/* element of each index */
	int32	   *adj;			/* level-lc links, per element (CSR) */
	int64	   *adjstart;		/* nelems * (HNSW_MAX_LEVEL + 2) offsets */
	int64		nproblems;
	Size		datalen;		/* bytes of element data */
	int64		nlive;			/* live elements */
	int64		nclamped;		/* live elements with clamped codes */
	bool		halfvec;		/* the column is a halfvec */
	int			ncent;			/* format rbit: centroids */
} CheckState;

static inline uint64
tid_key(ItemPointer tid)
{
	return ((uint64) ItemPointerGetBlockNumberNoCheck(tid) << 16) |
		ItemPointerGetOffsetNumberNoCheck(tid);
}

/* hash_search by item pointer */
static void *
lookup(HTAB *hash, ItemPointer tid, HASHACTION action, bool *found)
{
	uint64		key = tid_key(tid);

	return hash_search(hash, &key, action, found);
}

static void
problem(CheckState *cs, int64 blkno, int offnum, const char *fmt,...)
	pg_attribute_printf(4, 5);

static void
problem(CheckState *cs, int64 blkno, int offnum, const char *fmt,...)
{
	Datum		values[3];
	bool		nulls[3] = {false, false, false};
	char		buf[512];
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (blkno < 0)
		nulls[0] = true;
	else
		values[0] = Int64GetDatum(blkno);
	if (offnum < 0)
		nulls[1] = true;
	else
		values[1] = Int32GetDatum(offnum);
	values[2] = CStringGetTextDatum(buf);
	tuplestore_putvalues(cs->rsinfo->setResult, cs->rsinfo->setDesc, values, nulls);
	cs->nproblems++;
}

static HTAB *
make_hash(const char *name, Size entrysize)
{
	HASHCTL		ctl;

	ctl.keysize = sizeof(uint64);
	ctl.entrysize = entrysize;
	ctl.hcxt = CurrentMemoryContext;
	return hash_create(name, 1024, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

/* Check the page's special space; false if its contents cannot be read. */
static bool
check_page(CheckState *cs, Page page, BlockNumber blkno, uint16 *flags)
{
	HnswPageOpaque opaque;

	/*
	 * An all-zero page is not damage: a crash between extending the index
	 * and logging the new page's contents leaves one (the extension itself
	 * is not WAL-logged), as in every PostgreSQL index.  Nothing points into
	 * it; a tuple that did would be reported where it is referenced.
	 */
	if (PageIsNew(page))
		return false;
	if (PageGetSpecialSize(page) != MAXALIGN(sizeof(HnswPageOpaqueData)))
	{
		problem(cs, blkno, 0, "page has special space of %u bytes, not %u",
				(unsigned) PageGetSpecialSize(page),
				(unsigned) MAXALIGN(sizeof(HnswPageOpaqueData)));
		return false;
	}
	opaque = HnswPageGetOpaque(page);
	if (opaque->page_id != HNSW_PAGE_ID)
	{
		problem(cs, blkno, 0, "page has page id 0x%04x, not 0x%04x",
				opaque->page_id, HNSW_PAGE_ID);
		return false;
	}
	*flags = opaque->flags;
	return true;
}

static bool read_chain(CheckState *cs, BlockNumber blkno, OffsetNumber off,
					   BlockNumber first, char *out, Size len);

/*
 * The codes' parameters (SQ8 ranges, or bit centres and spreads): a
 * readable chain of finite values, the second array not negative.
 */
/*
 * The parameters of rotated bits: a header that fits the dimensions,
 * finite centroids, and zeros where the layout pads.
 */
static bool
check_rbit_params(CheckState *cs)
{
	uint32		dim = cs->meta.dimensions;
	char		header[QUANT_RBIT_PARAMS_HEADER];
	Size		len;
	Size		sbytes = QUANT_RBIT_SIGN_BYTES(dim);
	char	   *blob;
	const float *cent;
	uint32		ncent;
	bool		ok;

	if (!read_chain(cs, 0, 0, cs->meta.quant_params, header, sizeof(header)))
		return false;
	len = QuantRbitParamsSizeFromHeader((int) dim, header);
	if (len == 0)
	{
		memcpy(&ncent, header, sizeof(uint32));
		problem(cs, 0, 0, "quantization parameters have an invalid header (%u centroids, %u padded dimensions)",
				ncent, *(const uint32 *) (header + sizeof(uint32)));
		return false;
	}
	memcpy(&ncent, header, sizeof(uint32));
	blob = palloc(len);
	ok = read_chain(cs, 0, 0, cs->meta.quant_params, blob, len);
	for (Size i = QUANT_RBIT_PARAMS_HEADER + sbytes;
		 ok && i < QUANT_RBIT_PARAMS_HEADER + TYPEALIGN(4, sbytes); i++)
		if (blob[i] != 0)
		{
			problem(cs, 0, 0, "quantization parameters have padding bytes set");
			ok = false;
		}
	cent = (const float *) (blob + QUANT_RBIT_PARAMS_HEADER + TYPEALIGN(4, sbytes));
	for (Size i = 0; ok && i < (Size) dim * ncent; i++)
		if (!isfinite(cent[i]))
		{
			problem(cs, 0, 0, "quantization centroid %u has a value that is not finite in dimension %u",
					(uint32) (i / dim) + 1, (uint32) (i % dim) + 1);
			ok = false;
		}
	cs->ncent = (int) ncent;
	pfree(blob);
	return ok;
}

static bool
check_quant_params(CheckState *cs)
{
	uint32		dim = cs->meta.dimensions;
	float	   *params;
	bool		ok;

	if (cs->meta.format == HNSW_FORMAT_RBIT)
		return check_rbit_params(cs);
	params = palloc(2 * sizeof(float) * (Size) dim);

	ok = read_chain(cs, 0, 0, cs->meta.quant_params, (char *) params,
					2 * sizeof(float) * (Size) dim);
	for (uint32 i = 0; ok && i < dim; i++)
		if (!isfinite(params[i]) || !isfinite(params[dim + i]) || params[dim + i] < 0)
		{
			problem(cs, 0, 0, "quantization range of dimension %u is invalid (from %g, step %g)",
					i + 1, params[i], params[dim + i]);
			ok = false;
		}
	pfree(params);
	return ok;
}

static bool
check_meta(CheckState *cs)
{
	Buffer		buf = ReadBufferExtended(cs->index, MAIN_FORKNUM, HNSW_METAPAGE_BLKNO,
										 RBM_NORMAL, cs->strategy);
	Page		page;
	uint16		flags;
	bool		ok = false;

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	if (PageIsNew(page))
		problem(cs, 0, 0, "metapage is uninitialized");
	else if (check_page(cs, page, HNSW_METAPAGE_BLKNO, &flags))
	{
		HnswMetaPage m = HnswPageGetMeta(page);

		if (!(flags & HNSW_PAGE_META))
			problem(cs, 0, 0, "block 0 is not a metapage");
		else if (m->magic != HNSW_MAGIC)
			problem(cs, 0, 0, "metapage has magic 0x%08x, not 0x%08x", m->magic, HNSW_MAGIC);
		else if (m->version != HNSW_VERSION)
			problem(cs, 0, 0, "metapage has version %u, not %u", m->version, HNSW_VERSION);
		else if (m->m < HNSW_MIN_M || m->m > HNSW_MAX_M ||
				 m->dimensions < 1 || m->dimensions > VECTOR_MAX_DIM ||
				 m->metric < HNSW_METRIC_L2 || m->metric > HNSW_METRIC_JACCARD)
			problem(cs, 0, 0, "metapage options are out of range (m %u, dimensions %u, metric %u)",
					m->m, m->dimensions, m->metric);
		else if (m->format != HNSW_FORMAT_FLOAT4 && m->format != HNSW_FORMAT_SQ8 &&
				 m->format != HNSW_FORMAT_BIT && m->format != HNSW_FORMAT_HALF &&
				 m->format != HNSW_FORMAT_RBIT)
			problem(cs, 0, 0, "metapage has unknown vector format %u", m->format);
		else if (!HnswFormatFitsMetric(m->format, m->metric))
			problem(cs, 0, 0, "metapage has vector format %u, which metric %u cannot use",
					m->format, m->metric);
		else
		{
			cs->meta = *m;
			ok = true;
		}
	}
	UnlockReleaseBuffer(buf);
	if (ok)
	{
		HnswIndexInfo info;

		memset(&info, 0, sizeof(info));
		info.dimensions = cs->meta.dimensions;
		info.format = (HnswFormat) cs->meta.format;
		info.metric = (HnswMetric) cs->meta.metric;
		cs->datalen = HnswElementDataSize(&info);
		if (!HnswFormatIsExact(info.format))
			ok = check_quant_params(cs);
	}
	return ok;
}

/* The vector of an element, checked: finite, and unit length for cosine. */
static void
check_vector(CheckState *cs, BlockNumber blkno, OffsetNumber off, const float *v)
{
	double		norm = 0;

	for (uint32 i = 0; i < cs->meta.dimensions; i++)
	{
		if (isnan(v[i]) || isinf(v[i]))
		{
			problem(cs, blkno, off, "vector element %u is not finite", i + 1);
			return;
		}
		norm += (double) v[i] * v[i];
	}
	if (cs->meta.metric == HNSW_METRIC_COSINE && fabs(sqrt(norm) - 1.0) > 1e-3)
		problem(cs, blkno, off, "cosine vector has norm %g, not 1", sqrt(norm));
}

/* The data of an element: a checked vector, or a code with sane errors. */
static void
check_data(CheckState *cs, BlockNumber blkno, OffsetNumber off, const char *data)
{
	const QuantSq8Code *code = (const QuantSq8Code *) data;

	if (cs->meta.format == HNSW_FORMAT_FLOAT4 && !HnswIsBitMetric(cs->meta.metric))
		check_vector(cs, blkno, off, (const float *) data);
	else if (cs->meta.format == HNSW_FORMAT_HALF)
	{
		float	   *v = palloc(sizeof(float) * cs->meta.dimensions);

		VecqKernels.half_to_float((const uint16 *) data, v, cs->meta.dimensions);
		check_vector(cs, blkno, off, v);
		pfree(v);
	}
	else if (cs->meta.format == HNSW_FORMAT_BIT || HnswIsBitMetric(cs->meta.metric))
	{
		uint32		dim = cs->meta.dimensions;
		uint8		last = dim % 8 != 0 ? ((const uint8 *) data)[dim / 8] : 0;

		/*
		 * The bits past the last dimension are clear: the high bits of the
		 * last byte of a code (lowest bit first), the low bits of a bit
		 * string's (highest bit first).
		 */
		if (cs->meta.format == HNSW_FORMAT_BIT ? (last >> (dim % 8)) != 0 :
			(last & (0xFF >> (dim % 8))) != 0)
			problem(cs, blkno, off, "element has bits set past bit %u", dim);
	}
	else if (cs->meta.format == HNSW_FORMAT_RBIT)
	{
		const QuantRbitCode *rcode = (const QuantRbitCode *) data;

		if (rcode->centroid >= cs->ncent || rcode->reserved != 0)
			problem(cs, blkno, off, "code has centroid %u of %d",
					rcode->centroid, cs->ncent);
		else if (!(rcode->sqnorm >= 0) || isinf(rcode->sqnorm) ||
				 !(rcode->factor >= 0) || isinf(rcode->factor) ||
				 !isfinite(rcode->rdotc) || !isfinite(rcode->sdotc))
			problem(cs, blkno, off, "code has an invalid norm, factor or inner product (%g, %g, %g, %g)",
					rcode->sqnorm, rcode->factor, rcode->rdotc, rcode->sdotc);
	}
	else if (!(code->err_l2 >= 0) || isinf(code->err_l2) ||
			 !(code->err_l1 >= 0) || isinf(code->err_l1))
		problem(cs, blkno, off, "code has invalid error bounds (%g, %g)",
				code->err_l2, code->err_l1);
}

/* Read len bytes of an overflow chain; false (and a problem) if broken. */
static bool
read_chain(CheckState *cs, BlockNumber blkno, OffsetNumber off, BlockNumber first,
		   char *out, Size len)
{
	BlockNumber nblocks = RelationGetNumberOfBlocks(cs->index);
	Size		done = 0;
	BlockNumber b = first;

	while (done < len)
	{
		Buffer		buf;
		Page		page;
		uint16		flags;
		Size		chunk = Min(len - done, HNSW_OVERFLOW_PAGE_CAPACITY);

		if (b == InvalidBlockNumber || b >= nblocks || b == HNSW_METAPAGE_BLKNO)
		{
			problem(cs, blkno, off, "overflow chain ends early at block %u", b);
			return false;
		}
		buf = ReadBufferExtended(cs->index, MAIN_FORKNUM, b, RBM_NORMAL, cs->strategy);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		if (!check_page(cs, page, b, &flags) || !(flags & HNSW_PAGE_OVERFLOW))
		{
			problem(cs, blkno, off, "overflow chain reaches block %u, which is not an overflow page", b);
			UnlockReleaseBuffer(buf);
			return false;
		}
		memcpy(out + done, PageGetContents(page), chunk);
		b = HnswPageGetOpaque(page)->nextblkno;
		UnlockReleaseBuffer(buf);
		done += chunk;
	}
	return true;
}

static void
check_overflow(CheckState *cs, BlockNumber blkno, OffsetNumber off, BlockNumber first)
{
	char	   *data = palloc(cs->datalen);

	if (read_chain(cs, blkno, off, first, data, cs->datalen))
		check_data(cs, blkno, off, data);
	pfree(data);
}

/* Pass 1: pages, element and neighbour tuples. */
static void
scan_tuples(CheckState *cs, BlockNumber nblocks)
{
	Size		datalen = cs->datalen;

	for (BlockNumber blkno = HNSW_METAPAGE_BLKNO + 1; blkno < nblocks; blkno++)
	{
		Buffer		buf;
		Page		page;
		uint16		flags;
		OffsetNumber maxoff;
		BlockNumber overflow_first[MaxOffsetNumber];
		OffsetNumber overflow_off[MaxOffsetNumber];
		int			noverflow = 0;

		CHECK_FOR_INTERRUPTS();
		buf = ReadBufferExtended(cs->index, MAIN_FORKNUM, blkno, RBM_NORMAL, cs->strategy);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		if (!check_page(cs, page, blkno, &flags) || (flags & HNSW_PAGE_OVERFLOW))
		{
			UnlockReleaseBuffer(buf);
			continue;
		}
		if (flags & HNSW_PAGE_KEYDIR)
		{
			/* checked by check_keys() */
			if (cs->meta.keydir_nbuckets == 0)
				problem(cs, blkno, 0, "index without a key column has a key directory page");
			UnlockReleaseBuffer(buf);
			continue;
		}
		if (!(flags & HNSW_PAGE_DATA))
		{
			problem(cs, blkno, 0, "page is neither a data page, an overflow page nor a key directory page");
			UnlockReleaseBuffer(buf);
			continue;
		}
		maxoff = PageGetMaxOffsetNumber(page);
		for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
		{
			ItemId		iid = PageGetItemId(page, off);
			uint8	   *tup;
			ItemPointerData tid;
			bool		found;

			if (!ItemIdIsNormal(iid))
			{
				problem(cs, blkno, off, "line pointer is not in use");
				continue;
			}
			tup = (uint8 *) PageGetItem(page, iid);
			ItemPointerSet(&tid, blkno, off);
			if (*tup == HNSW_ELEMENT_TUPLE)
			{
				HnswElementTuple etup = (HnswElementTuple) tup;
				bool		deleted = (etup->flags & HNSW_ELEMENT_DELETED) != 0;
				CheckElem  *e;

				if (ItemIdGetLength(iid) < offsetof(HnswElementTupleData, data))
				{
					problem(cs, blkno, off, "element tuple is too short");
					continue;
				}
				if (etup->level > HNSW_MAX_LEVEL)
					problem(cs, blkno, off, "element level %u is above %d", etup->level, HNSW_MAX_LEVEL);
				if (deleted == ItemPointerIsValid(&etup->heaptid))
					problem(cs, blkno, off, deleted ? "deleted element has a heap TID"
							: "live element has no heap TID");
				if (etup->flags & HNSW_ELEMENT_OVERFLOW)
				{
					if (etup->datalen != sizeof(HnswOverflowRef))
						problem(cs, blkno, off, "element data has %u bytes, not an overflow reference",
								etup->datalen);
					else
					{
						overflow_first[noverflow] = ((HnswOverflowRef *) etup->data)->first;
						overflow_off[noverflow++] = off;
					}
				}
				else if (etup->datalen != datalen ||
						 ItemIdGetLength(iid) < offsetof(HnswElementTupleData, data) + datalen)
					problem(cs, blkno, off, "element data has %u bytes, not %zu",
							etup->datalen, datalen);
				else
					check_data(cs, blkno, off, etup->data);
				if (!deleted)
				{
					cs->nlive++;
					if (etup->flags & HNSW_ELEMENT_CLAMPED)
						cs->nclamped++;
				}

				e = lookup(cs->elems, &tid, HASH_ENTER, &found);
				e->index = cs->nelems++;
				e->level = Min(etup->level, HNSW_MAX_LEVEL);
				e->deleted = deleted;
				e->chained = false;
				e->filterkey = etup->filterkey;
				e->neighbortid = etup->neighbortid;
				e->keynext = etup->keynext;
				if (cs->meta.keydir_nbuckets == 0 && etup->filterkey != 0)
					problem(cs, blkno, off, "element has key hash %u in an index without a key column",
							etup->filterkey);
				if (etup->filterkey == 0 && ItemPointerIsValid(&etup->keynext))
					problem(cs, blkno, off, "element without a key links to another element by key");
				if (!deleted && ItemPointerIsValid(&etup->heaptid))
					(void) lookup(cs->heaptids, &etup->heaptid, HASH_ENTER, &found);
			}
			else if (*tup == HNSW_NEIGHBOR_TUPLE)
			{
				HnswNeighborTuple ntup = (HnswNeighborTuple) tup;
				CheckNbr   *n;

				if (ItemIdGetLength(iid) < offsetof(HnswNeighborTupleData, slots) +
					sizeof(ItemPointerData) * ntup->nslots)
				{
					problem(cs, blkno, off, "neighbor tuple is shorter than its %u slots", ntup->nslots);
					continue;
				}
				n = lookup(cs->nbrs, &tid, HASH_ENTER, &found);
				n->owner = 0;
				n->level = ntup->level;
				n->nslots = ntup->nslots;
			}
			else
				problem(cs, blkno, off, "tuple has unknown type %u", *tup);
		}
		UnlockReleaseBuffer(buf);
		for (int i = 0; i < noverflow; i++)
			check_overflow(cs, blkno, overflow_off[i], overflow_first[i]);
	}
}

/* Every element's neighbour tuple exists and matches it. */
static void
check_owners(CheckState *cs)
{
	HASH_SEQ_STATUS seq;
	CheckElem  *e;

	cs->byindex = palloc0(sizeof(CheckElem *) * Max(cs->nelems, 1));
	hash_seq_init(&seq, cs->elems);
	while ((e = hash_seq_search(&seq)) != NULL)
	{
		CheckNbr   *n = lookup(cs->nbrs, &e->neighbortid, HASH_FIND, NULL);
		int64		blkno = e->key >> 16;
		int			off = (int) (e->key & 0xFFFF);

		cs->byindex[e->index] = e;
		if (n == NULL)
			problem(cs, blkno, off, "element's neighbor tuple (%u,%u) does not exist",
					ItemPointerGetBlockNumberNoCheck(&e->neighbortid),
					ItemPointerGetOffsetNumberNoCheck(&e->neighbortid));
		else if (n->owner != 0)
			problem(cs, blkno, off, "element shares its neighbor tuple with another element");
		else
		{
			n->owner = e->key;
			if (n->level != e->level)
				problem(cs, blkno, off, "neighbor tuple has level %u, element has level %u",
						n->level, e->level);
			else if (n->nslots != HNSW_NEIGHBOR_SLOTS(e->level, cs->meta.m))
				problem(cs, blkno, off, "neighbor tuple has %u slots, not %d",
						n->nslots, HNSW_NEIGHBOR_SLOTS(e->level, cs->meta.m));
		}
	}
}

/* Follow the chain of one directory entry. */
static void
check_key_chain(CheckState *cs, BlockNumber blkno, int slot, const HnswKeyDirEntry *k)
{
	ItemPointerData tid = k->head;
	uint32		n = 0;

	while (ItemPointerIsValid(&tid))
	{
		CheckElem  *e = lookup(cs->elems, &tid, HASH_FIND, NULL);

		if (e == NULL)
		{
			problem(cs, blkno, slot, "chain of key hash %u reaches (%u,%u), which is not an element",
					k->filterkey, ItemPointerGetBlockNumberNoCheck(&tid),
					ItemPointerGetOffsetNumberNoCheck(&tid));
			return;
		}
		if (e->chained)
		{
			problem(cs, blkno, slot, "chain of key hash %u reaches element (%u,%u) a second time",
					k->filterkey, ItemPointerGetBlockNumberNoCheck(&tid),
					ItemPointerGetOffsetNumberNoCheck(&tid));
			return;
		}
		e->chained = true;
		if (e->filterkey != k->filterkey)
			problem(cs, blkno, slot, "chain of key hash %u reaches element (%u,%u) with key hash %u",
					k->filterkey, ItemPointerGetBlockNumberNoCheck(&tid),
					ItemPointerGetOffsetNumberNoCheck(&tid), e->filterkey);
		n++;
		tid = e->keynext;
	}
	if (n != k->count)
		problem(cs, blkno, slot, "chain of key hash %u has %u elements, its entry says %u",
				k->filterkey, n, k->count);
}

/*
 * The key directory of an index with a key column; slot numbers in the
 * problems are entry positions on the directory page, from 1.
 */
static void
check_keys(CheckState *cs, BlockNumber nblocks)
{
	uint32		nb = cs->meta.keydir_nbuckets;
	HTAB	   *seen;
	HASH_SEQ_STATUS hseq;
	CheckElem  *e;

	if (nb == 0)
		return;
	if ((nb & (nb - 1)) != 0 || cs->meta.keydir_first == InvalidBlockNumber ||
		cs->meta.keydir_first == HNSW_METAPAGE_BLKNO ||
		(uint64) cs->meta.keydir_first + nb > nblocks)
	{
		problem(cs, 0, 0, "metapage has an invalid key directory (first block %u, %u buckets)",
				cs->meta.keydir_first, nb);
		return;
	}
	seen = make_hash("hnsw check keys", sizeof(uint64));
	for (uint32 b = 0; b < nb; b++)
	{
		BlockNumber blkno = cs->meta.keydir_first + b;
		int			hops = 0;

		while (blkno != InvalidBlockNumber)
		{
			Buffer		buf;
			Page		page;
			uint16		flags;
			HnswKeyDirPage dir;
			HnswKeyDirEntry *entries;
			uint32		n;
			BlockNumber next;

			CHECK_FOR_INTERRUPTS();
			if (blkno >= nblocks || blkno == HNSW_METAPAGE_BLKNO || ++hops > (int) nblocks)
			{
				problem(cs, blkno, 0, "key directory chain of bucket %u is broken", b);
				break;
			}
			buf = ReadBufferExtended(cs->index, MAIN_FORKNUM, blkno, RBM_NORMAL, cs->strategy);
			LockBuffer(buf, BUFFER_LOCK_SHARE);
			page = BufferGetPage(buf);
			if (!check_page(cs, page, blkno, &flags) || !(flags & HNSW_PAGE_KEYDIR))
			{
				problem(cs, blkno, 0, "key directory of bucket %u reaches a page that is not a key directory page", b);
				UnlockReleaseBuffer(buf);
				break;
			}
			dir = HnswPageGetKeyDir(page);
			n = dir->nentries;
			if (n > HNSW_KEYDIR_CAPACITY)
			{
				problem(cs, blkno, 0, "key directory page has %u entries, more than %zu", n,
						(size_t) HNSW_KEYDIR_CAPACITY);
				n = 0;
			}
			entries = palloc(sizeof(HnswKeyDirEntry) * Max(n, 1));
			memcpy(entries, dir->entries, sizeof(HnswKeyDirEntry) * n);
			next = HnswPageGetOpaque(page)->nextblkno;
			UnlockReleaseBuffer(buf);

			for (uint32 i = 0; i < n; i++)
			{
				uint64		key = entries[i].filterkey;
				bool		found;

				if (entries[i].filterkey == 0)
					problem(cs, blkno, i + 1, "key directory entry has key hash 0");
				else if ((entries[i].filterkey & (nb - 1)) != b)
					problem(cs, blkno, i + 1, "key hash %u belongs to bucket %u, not %u",
							entries[i].filterkey, entries[i].filterkey & (nb - 1), b);
				(void) hash_search(seen, &key, HASH_ENTER, &found);
				if (found)
					problem(cs, blkno, i + 1, "key hash %u has a second directory entry",
							entries[i].filterkey);
				else
					check_key_chain(cs, blkno, i + 1, &entries[i]);
			}
			pfree(entries);
			blkno = next;
		}
	}
	hash_seq_init(&hseq, cs->elems);
	while ((e = hash_seq_search(&hseq)) != NULL)
		if (e->filterkey != 0 && !e->chained && !e->deleted)
			problem(cs, e->key >> 16, (int) (e->key & 0xFFFF),
					"element with key hash %u is not on its key's chain", e->filterkey);
}

/* Pass 2: every neighbour list; builds the adjacency for reachability. */
static void
scan_lists(CheckState *cs, BlockNumber nblocks)
{
	int			m = cs->meta.m;
	int64		cap = 0;
	int64		used = 0;

	/* room for every slot of every element, each level after the other */
	for (int32 i = 0; i < cs->nelems; i++)
		cap += HNSW_NEIGHBOR_SLOTS(cs->byindex[i]->level, m);
	cs->adj = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int32) * Max(cap, 1));
	cs->adjstart = MemoryContextAllocHuge(CurrentMemoryContext,
										  sizeof(int64) * (Size) Max(cs->nelems, 1) * (HNSW_MAX_LEVEL + 2));
	for (int64 i = 0; i < (int64) cs->nelems * (HNSW_MAX_LEVEL + 2); i++)
		cs->adjstart[i] = 0;

	for (BlockNumber blkno = HNSW_METAPAGE_BLKNO + 1; blkno < nblocks; blkno++)
	{
		Buffer		buf;
		Page		page;
		uint16		flags;

		CHECK_FOR_INTERRUPTS();
		buf = ReadBufferExtended(cs->index, MAIN_FORKNUM, blkno, RBM_NORMAL, cs->strategy);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		/* problems with the page itself were reported by pass 1 */
		if (PageIsNew(page) ||
			PageGetSpecialSize(page) != MAXALIGN(sizeof(HnswPageOpaqueData)) ||
			HnswPageGetOpaque(page)->page_id != HNSW_PAGE_ID ||
			!((flags = HnswPageGetOpaque(page)->flags) & HNSW_PAGE_DATA))
		{
			UnlockReleaseBuffer(buf);
			continue;
		}
		for (OffsetNumber off = FirstOffsetNumber; off <= PageGetMaxOffsetNumber(page); off++)
		{
			ItemId		iid = PageGetItemId(page, off);
			HnswNeighborTuple ntup;
			ItemPointerData tid;
			CheckNbr   *n;
			CheckElem  *owner;

			if (!ItemIdIsNormal(iid))
				continue;
			ntup = (HnswNeighborTuple) PageGetItem(page, iid);
			if (ntup->type != HNSW_NEIGHBOR_TUPLE)
				continue;
			ItemPointerSet(&tid, blkno, off);
			n = lookup(cs->nbrs, &tid, HASH_FIND, NULL);
			if (n == NULL || n->owner == 0)
			{
				if (n != NULL)
					problem(cs, blkno, off, "neighbor tuple belongs to no element");
				continue;
			}
			owner = hash_search(cs->elems, &n->owner, HASH_FIND, NULL);
			if (n->nslots != HNSW_NEIGHBOR_SLOTS(owner->level, m))
				continue;		/* reported by check_owners */

			for (int lc = 0; lc <= owner->level; lc++)
			{
				int			first = HNSW_LEVEL_FIRST_SLOT(lc, m);
				int			nslots = HNSW_LEVEL_SLOTS(lc, m);
				bool		ended = false;
				int64		start = used;

				for (int i = 0; i < nslots; i++)
				{
					ItemPointer slot = &ntup->slots[first + i];
					CheckElem  *target;
					uint64		key;

					if (!ItemPointerIsValid(slot))
					{
						ended = true;
						continue;
					}
					if (ended)
					{
						problem(cs, blkno, off, "neighbor list at level %d has a link after an empty slot", lc);
						ended = false;
					}
					key = tid_key(slot);
					target = hash_search(cs->elems, &key, HASH_FIND, NULL);
					if (target == NULL)
					{
						CheckNbr   *tn = hash_search(cs->nbrs, &key, HASH_FIND, NULL);

						problem(cs, blkno, off, "neighbor list at level %d points to (%u,%u), which is %s",
								lc, ItemPointerGetBlockNumberNoCheck(slot),
								ItemPointerGetOffsetNumberNoCheck(slot),
								tn ? "a neighbor tuple" : "not an element");
						continue;
					}
					if (target == owner)
					{
						problem(cs, blkno, off, "neighbor list at level %d links the element to itself", lc);
						continue;
					}
					if (target->level < lc)
						problem(cs, blkno, off, "neighbor list at level %d points to an element of level %u",
								lc, target->level);
					for (int64 j = start; j < used; j++)
						if (cs->adj[j] == target->index)
						{
							problem(cs, blkno, off, "neighbor list at level %d names (%u,%u) twice",
									lc, ItemPointerGetBlockNumberNoCheck(slot),
									ItemPointerGetOffsetNumberNoCheck(slot));
							target = NULL;
							break;
						}
					if (target != NULL && used < cap)
						cs->adj[used++] = target->index;
				}
				/* slots of (element, level) are adj[start .. used) */
				cs->adjstart[(int64) owner->index * (HNSW_MAX_LEVEL + 2) + lc] = start;
				cs->adjstart[(int64) owner->index * (HNSW_MAX_LEVEL + 2) + lc + 1] = used;
			}
		}
		UnlockReleaseBuffer(buf);
	}
}

/* Entry point and reachability on every level. */
static void
check_reachability(CheckState *cs)
{
	HnswMetaPageData *meta = &cs->meta;
	CheckElem  *entry = NULL;
	int			maxlevel = -1;
	int32	   *queue;
	uint8	   *seen;

	for (int32 i = 0; i < cs->nelems; i++)
		if (!cs->byindex[i]->deleted)
			maxlevel = Max(maxlevel, cs->byindex[i]->level);

	if (meta->entry_level < 0)
	{
		if (maxlevel >= 0)
			problem(cs, 0, 0, "index has live elements but no entry point");
		return;
	}
	entry = lookup(cs->elems, &meta->entry, HASH_FIND, NULL);
	if (entry == NULL)
	{
		problem(cs, 0, 0, "entry point (%u,%u) is not an element",
				ItemPointerGetBlockNumberNoCheck(&meta->entry),
				ItemPointerGetOffsetNumberNoCheck(&meta->entry));
		return;
	}
	if (entry->level != meta->entry_level)
		problem(cs, 0, 0, "entry point has level %u, metapage says %d",
				entry->level, meta->entry_level);
	if (entry->deleted)
		problem(cs, 0, 0, "entry point is a deleted element");
	if (maxlevel > entry->level)
		problem(cs, 0, 0, "a live element has level %d, above the entry point's %u",
				maxlevel, entry->level);

	queue = palloc(sizeof(int32) * Max(cs->nelems, 1));
	seen = palloc(Max(cs->nelems, 1));
	for (int lc = Min(entry->level, HNSW_MAX_LEVEL); lc >= 0; lc--)
	{
		int32		head = 0,
					tail = 0;

		memset(seen, 0, cs->nelems);
		queue[tail++] = entry->index;
		seen[entry->index] = 1;
		while (head < tail)
		{
			int32		x = queue[head++];
			int64		base = (int64) x * (HNSW_MAX_LEVEL + 2);

			CHECK_FOR_INTERRUPTS();
			if (cs->byindex[x]->level < lc)
				continue;
			for (int64 j = cs->adjstart[base + lc]; j < cs->adjstart[base + lc + 1]; j++)
			{
				int32		y = cs->adj[j];

				if (!seen[y])
				{
					seen[y] = 1;
					queue[tail++] = y;
				}
			}
		}
		for (int32 i = 0; i < cs->nelems; i++)
		{
			CheckElem  *e = cs->byindex[i];

			if (!e->deleted && e->level >= lc && !seen[i])
			{
				if (lc == 0)
					problem(cs, e->key >> 16, (int) (e->key & 0xFFFF),
							"element is not reachable from the entry point");
				else
					problem(cs, e->key >> 16, (int) (e->key & 0xFFFF),
							"element is not reachable on level %d", lc);
			}
		}
	}
}

/* heapallindexed: every visible row with a vector is in the index. */
static void
heap_callback(Relation index, ItemPointer tid, Datum *values, bool *isnull,
			  bool tupleIsAlive, void *state)
{
	CheckState *cs = (CheckState *) state;
	uint64		key = tid_key(tid);

	if (isnull[0])
		return;
	if (cs->meta.metric == HNSW_METRIC_COSINE)
	{
		Vector	   *v = cs->halfvec ?
			HalfVectorToVector(DatumGetHalfVector(values[0])) :
			DatumGetVector(values[0]);
		bool		zero = true;

		for (int i = 0; i < v->dim && zero; i++)
			zero = (v->x[i] == 0);
		if (cs->halfvec)
			pfree(v);
		if (zero)
			return;				/* zero vectors are not indexed under cosine */
	}
	if (hash_search(cs->heaptids, &key, HASH_FIND, NULL) == NULL)
		problem(cs, -1, -1, "heap row (%u,%u) is not in the index",
				ItemPointerGetBlockNumber(tid), ItemPointerGetOffsetNumber(tid));
}

static void
check_heap(CheckState *cs)
{
	IndexInfo  *indexInfo = BuildIndexInfo(cs->index);
	Snapshot	snapshot = RegisterSnapshot(GetTransactionSnapshot());
	TableScanDesc scan = table_beginscan_strat(cs->heap, snapshot, 0, NULL, true, true);

	indexInfo->ii_Concurrent = true;
	cs->halfvec = HnswIndexIsHalfvec(cs->index);
	(void) table_index_build_scan(cs->heap, cs->index, indexInfo, true, false,
								  heap_callback, cs, scan);
	UnregisterSnapshot(snapshot);
}

PG_FUNCTION_INFO_V1(vecq_index_check);
Datum
vecq_index_check(PG_FUNCTION_ARGS)
{
	Oid			indexoid = PG_GETARG_OID(0);
	bool		heapallindexed = PG_GETARG_BOOL(1);
	CheckState	cs;
	Oid			heapoid;
	MemoryContext cxt;
	MemoryContext old;
	BlockNumber nblocks;

	InitMaterializedSRF(fcinfo, 0);
	memset(&cs, 0, sizeof(cs));
	cs.rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	heapoid = IndexGetRelation(indexoid, true);
	if (!OidIsValid(heapoid))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not an hnsw index",
						get_rel_name(indexoid) ? get_rel_name(indexoid) : "?")));
	/* the table first, as everything else locks them */
	cs.heap = table_open(heapoid, AccessShareLock);
	cs.index = index_open(indexoid, AccessShareLock);
	if (cs.index->rd_rel->relam != get_index_am_oid("hnsw", false))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not an hnsw index",
						RelationGetRelationName(cs.index))));
	if (!pg_class_ownercheck(indexoid, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_INDEX,
					   RelationGetRelationName(cs.index));
	if (RELATION_IS_OTHER_TEMP(cs.index))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot check temporary indexes of other sessions")));

	cxt = AllocSetContextCreate(CurrentMemoryContext, "vecq_index_check",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	cs.strategy = GetAccessStrategy(BAS_BULKREAD);
	cs.elems = make_hash("hnsw check elements", sizeof(CheckElem));
	cs.nbrs = make_hash("hnsw check neighbor tuples", sizeof(CheckNbr));
	cs.heaptids = make_hash("hnsw check heap tids", sizeof(CheckHeapTid));

	if (check_meta(&cs))
	{
		nblocks = RelationGetNumberOfBlocks(cs.index);
		scan_tuples(&cs, nblocks);
		if (cs.nclamped > 0)
			problem(&cs, -1, -1,
					"%lld of %lld elements have values outside the quantization ranges learned when the index was built (clamped: their codes are less precise; REINDEX learns new ranges)",
					(long long) cs.nclamped, (long long) cs.nlive);
		check_owners(&cs);
		check_keys(&cs, nblocks);
		scan_lists(&cs, nblocks);
		check_reachability(&cs);
		if (heapallindexed)
			check_heap(&cs);
	}

	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
	index_close(cs.index, AccessShareLock);
	table_close(cs.heap, AccessShareLock);
	return (Datum) 0;
}
