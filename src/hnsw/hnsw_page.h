/*-------------------------------------------------------------------------
 *
 * hnsw_page.h
 *	  On-disk layout of vecq's HNSW index: the metapage, element tuples,
 *	  neighbour tuples and vector overflow pages.  See src/hnsw/README.
 *
 * Block 0 is the metapage.  Every other block is a data page holding element
 * tuples and neighbour tuples (an element's neighbour tuple usually follows
 * it on the same page), or an overflow page holding part of a vector too
 * large to sit inside its element tuple.  All pages use the standard page
 * layout with HnswPageOpaqueData as special space, ending in HNSW_PAGE_ID.
 *
 * src/hnsw/hnsw_page.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef VECQ_HNSW_PAGE_H
#define VECQ_HNSW_PAGE_H

#include "storage/block.h"
#include "storage/bufpage.h"
#include "storage/itemptr.h"

#define HNSW_METAPAGE_BLKNO		0
#define HNSW_MAGIC				0x56514857	/* "VQHW" */
#define HNSW_VERSION			2	/* 1: vecq 0.2 (no key chains) */
#define HNSW_PAGE_ID			0xFB17

/* page types (HnswPageOpaqueData.flags) */
#define HNSW_PAGE_META			(1 << 0)
#define HNSW_PAGE_DATA			(1 << 1)
#define HNSW_PAGE_OVERFLOW		(1 << 2)
#define HNSW_PAGE_KEYDIR		(1 << 3)

typedef struct HnswPageOpaqueData
{
	BlockNumber nextblkno;		/* data: next data page; overflow: next part */
	uint16		flags;
	uint16		page_id;		/* HNSW_PAGE_ID */
} HnswPageOpaqueData;

typedef HnswPageOpaqueData *HnswPageOpaque;

#define HnswPageGetOpaque(page) \
	((HnswPageOpaque) PageGetSpecialPointer(page))

/*
 * The metapage.  Options are frozen at build time; the entry point and the
 * insert page change under the metapage's buffer lock.
 */
typedef struct HnswMetaPageData
{
	uint32		magic;
	uint32		version;
	uint32		dimensions;
	uint16		m;
	uint16		ef_construction;
	uint8		metric;			/* HnswMetric */
	uint8		format;			/* HnswFormat of element data */
	int16		entry_level;	/* -1: empty graph */
	ItemPointerData entry;		/* element tuple of the entry point */
	BlockNumber insert_page;	/* last data page, where inserts go */
	uint64		nelements;		/* element tuples ever written */
	/* fields below are zero in indexes made before they existed */
	BlockNumber quant_params;	/* format sq8: overflow chain of lo[], step[] */
	uint32		quant_sample;	/* rows the ranges were learned from */
	/* indexes with a key column: the key directory (see below) */
	BlockNumber keydir_first;	/* first of keydir_nbuckets bucket pages */
	uint32		keydir_nbuckets;	/* a power of two; 0: no key column */
} HnswMetaPageData;

typedef HnswMetaPageData *HnswMetaPage;

#define HnswPageGetMeta(page) ((HnswMetaPage) PageGetContents(page))

/* tuple types (first byte of every tuple on a data page) */
#define HNSW_ELEMENT_TUPLE		1
#define HNSW_NEIGHBOR_TUPLE		2

/* element flags */
#define HNSW_ELEMENT_DELETED	(1 << 0)	/* heap row gone; kept as a bridge */
#define HNSW_ELEMENT_OVERFLOW	(1 << 1)	/* data[] holds HnswOverflowRef */
#define HNSW_ELEMENT_CLAMPED	(1 << 2)	/* a value was outside the code range */

/*
 * An element: one indexed heap row.  data[] holds the vector in the index's
 * format (float4, or a QuantSq8Code), or, when that does not fit
 * on a page, an HnswOverflowRef to a chain of overflow pages.  In an index
 * with a key column, filterkey is the 32-bit hash of the row's key (never
 * 0; 0 means a NULL key or no key column), and keynext links the elements
 * with the same filterkey, newest first, from their key directory entry.
 */
typedef struct HnswElementTupleData
{
	uint8		type;			/* HNSW_ELEMENT_TUPLE */
	uint8		level;
	uint8		flags;
	uint8		unused;
	uint32		filterkey;
	ItemPointerData heaptid;
	ItemPointerData neighbortid;	/* this element's neighbour tuple */
	ItemPointerData keynext;	/* next element with this filterkey */
	uint16		unused2;
	uint32		datalen;		/* bytes of the element's data */
	char		data[FLEXIBLE_ARRAY_MEMBER];
} HnswElementTupleData;

typedef HnswElementTupleData *HnswElementTuple;

#define HNSW_ELEMENT_TUPLE_SIZE(datalen) \
	MAXALIGN(offsetof(HnswElementTupleData, data) + (datalen))

/* data[] of an element whose data lives on overflow pages */
typedef struct HnswOverflowRef
{
	BlockNumber first;			/* first overflow page */
} HnswOverflowRef;

/*
 * The neighbour lists of one element: level 0 has 2 * m slots, each higher
 * level m slots; slots past a level's count are invalid item pointers.
 */
typedef struct HnswNeighborTupleData
{
	uint8		type;			/* HNSW_NEIGHBOR_TUPLE */
	uint8		level;			/* highest level, as the element's */
	uint16		nslots;
	ItemPointerData slots[FLEXIBLE_ARRAY_MEMBER];
} HnswNeighborTupleData;

typedef HnswNeighborTupleData *HnswNeighborTuple;

#define HNSW_NEIGHBOR_SLOTS(level, m)	((2 + (level)) * (m))
#define HNSW_NEIGHBOR_TUPLE_SIZE(level, m) \
	MAXALIGN(offsetof(HnswNeighborTupleData, slots) + \
			 sizeof(ItemPointerData) * HNSW_NEIGHBOR_SLOTS(level, m))

/* first slot of level lc within slots[] */
#define HNSW_LEVEL_FIRST_SLOT(lc, m)	((lc) == 0 ? 0 : (1 + (lc)) * (m))
#define HNSW_LEVEL_SLOTS(lc, m)			((lc) == 0 ? 2 * (m) : (m))

/* room for tuples on an empty data page */
#define HNSW_PAGE_FREE_SPACE \
	(BLCKSZ - MAXALIGN(SizeOfPageHeaderData) - \
	 MAXALIGN(sizeof(HnswPageOpaqueData)) - 2 * sizeof(ItemIdData))

/*
 * The key directory of an index with a key column: keydir_nbuckets bucket
 * pages in consecutive blocks; the entry of a filterkey is on bucket page
 * (filterkey & (nbuckets - 1)) or on an overflow page chained to it by
 * nextblkno.  Only the last page of a chain gets new entries, and entries
 * are never removed, so a search under one page lock at a time finds every
 * entry.  count is the length of the key's element chain (deleted elements
 * included): what scanning it costs.
 */
typedef struct HnswKeyDirEntry
{
	uint32		filterkey;
	uint32		count;
	ItemPointerData head;		/* newest element with this filterkey */
	uint16		unused;
} HnswKeyDirEntry;

typedef struct HnswKeyDirPageData
{
	uint32		nentries;
	uint32		unused;
	HnswKeyDirEntry entries[FLEXIBLE_ARRAY_MEMBER];
} HnswKeyDirPageData;

typedef HnswKeyDirPageData *HnswKeyDirPage;

#define HnswPageGetKeyDir(page) ((HnswKeyDirPage) PageGetContents(page))

#define HNSW_KEYDIR_CAPACITY \
	((BLCKSZ - MAXALIGN(SizeOfPageHeaderData) - MAXALIGN(sizeof(HnswPageOpaqueData)) - \
	  offsetof(HnswKeyDirPageData, entries)) / sizeof(HnswKeyDirEntry))

/* fewest bucket pages a directory gets */
#define HNSW_KEYDIR_MIN_BUCKETS		16

/* bytes of vector data an overflow page holds */
#define HNSW_OVERFLOW_PAGE_CAPACITY \
	(BLCKSZ - MAXALIGN(SizeOfPageHeaderData) - MAXALIGN(sizeof(HnswPageOpaqueData)))

#endif							/* VECQ_HNSW_PAGE_H */
