/*-------------------------------------------------------------------------
 *
 * hnsw_build.h
 *	  The in-memory graph of an HNSW CREATE INDEX: the arena, the state
 *	  every participant shares, and what the build (hnsw_build.c) and its
 *	  partitioned form (hnsw_build_part.c) call in each other.
 *
 * src/hnsw/hnsw_build.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef HNSW_BUILD_H
#define HNSW_BUILD_H

#include "access/relscan.h"
#include "common/pg_prng.h"
#include "nodes/execnodes.h"
#include "storage/buffile.h"
#include "storage/condition_variable.h"
#include "storage/lwlock.h"
#include "storage/sharedfileset.h"
#include "storage/spin.h"
#include "utils/hsearch.h"
#include "utils/rel.h"
#include "utils/tuplestore.h"

#include "common/distance.h"
#include "hnsw/hnsw.h"

/* partitioned build: most partitions; "no other partition" */
#define PART_MAX			256
#define PART_NONE			0xFFFF

/* the cells' centres, then each cell's partition */
#define part_layout_size(ncells, dim) \
	(sizeof(float) * (Size) (ncells) * (dim) + sizeof(uint16) * (Size) (ncells))
#define PHASE_FINISHED		0xFFFFFFFF

/* most rows, and most bytes, the SQ8 training sample takes */
#define SAMPLE_MAX_ROWS		30000
#define SAMPLE_MAX_BYTES	((Size) 64 * 1024 * 1024)

/* an element's address: its offset in the arena, in units of 8 bytes */
typedef uint32 ElemRef;

#define ARENA_UNIT		8
#define NO_ELEM			((ElemRef) 0xFFFFFFFF)

/*
 * One element in the arena; followed by ids[] and its data: the vector or
 * its code, as element tuples hold it.  Distances to the neighbours are not
 * kept (a quarter of the memory at 128 dimensions): pruning a full list
 * computes them again.
 */
typedef struct BuildElem
{
	LWLock		lock;			/* guards counts and ids */
	ItemPointerData heaptid;
	uint8		level;
	bool		overflow;		/* vector goes to overflow pages */
	bool		clamped;		/* code had values outside the ranges */
	bool		primary;		/* partitioned build: this copy is written */
	uint16		other;			/* partitioned build: the row's other
								 * partition, or PART_NONE */
	uint32		ordinal;		/* 0, 1, 2, ... in order of allocation */
	uint32		filterkey;		/* hash of the row's key, or 0 */
	ItemPointerData tid;		/* element tuple, once placed */
	ItemPointerData neighbortid;
	BlockNumber overflow_first;
	uint32		gid;			/* partitioned build: the row's number */
	uint8		counts[HNSW_MAX_LEVEL + 1];
} BuildElem;

/* State shared by all participants, at the start of the DSM (or local). */
typedef struct HnswShared
{
	/* set before the scan starts */
	Oid			heaprelid;
	Oid			indexrelid;
	bool		isconcurrent;
	HnswIndexInfo info;			/* the index's (sq8 pointer unset) */
	HnswFormat	arena_format;	/* what the arena holds: info.format, or
								 * sq8 codes for a float4 index whose graph
								 * would not fit in memory otherwise */
	Size		arena_size;
	Size		elem_header;	/* MAXALIGN(sizeof(BuildElem)) */
	Size		datasize;		/* bytes of an element's data */
	int			tranche;

	LWLock		entrylock;		/* guards entry and maxlevel */
	ElemRef		entry;
	int			maxlevel;

	slock_t		mutex;			/* guards the rest */
	Size		used;			/* bytes of the arena handed out */
	uint32		nelements;
	bool		full;			/* a record did not fit */
	double		reltuples;
	double		indtuples;		/* rows in the in-memory graph */
	double		nspilled;		/* rows inserted after it was written */
	int			nparticipantsdone;
	bool		written;		/* the leader has written the pages */
	ConditionVariable cv;

	/* the partitioned build (see "partitioned build" below) */
	bool		partitioned;
	int			npart;
	int			ncells;			/* cells the rows are sorted by */
	Size		part_capacity;	/* arena bytes one partition may take */
	pg_atomic_uint32 next_gid;	/* rows numbered so far */
	pg_atomic_uint64 part_used[PART_MAX];	/* arena bytes claimed */
	uint32		phase;			/* link phase, or PHASE_FINISHED; mutex */
	uint32		phase_nitems;	/* elements to link in this phase */
	int			phase_done;		/* participants done with it; mutex */
	pg_atomic_uint32 phase_next;	/* next element to claim */
	SharedFileSet fileset;		/* partitions' rows, parallel builds */

	/* ParallelTableScanDescData follows, for parallel builds */
} HnswShared;

#define ParallelTableScanFromHnswShared(shared) \
	((ParallelTableScanDesc) ((char *) (shared) + BUFFERALIGN(sizeof(HnswShared))))

/* One participant's view of the build. */
typedef struct HnswBuildState
{
	Relation	heap;
	Relation	index;
	HnswShared *shared;
	char	   *arena;
	const HnswIndexInfo *info;	/* &localinfo: the arena's view */
	HnswIndexInfo localinfo;	/* shared->info, format of the arena */
	const HnswIndexInfo *iinfo; /* &indexinfo: what pages hold */
	HnswIndexInfo indexinfo;
	IndexInfo  *indexInfo;		/* leader: to read rows again */
	QuantSq8	sq8;
	QuantBit	bit;
	QuantRbit	rbit;
	float	   *vecbuf;			/* the row being inserted, prepared */
	HnswQuery	query;			/* for the row being inserted */
	HnswQuery	nquery;			/* for neighbour selection */
	HnswQuery	pquery;			/* for an element whose list is pruned */
	ElemRef		self;			/* the element being inserted */
	bool		leader;
	MemoryContext buildcxt;		/* lives as long as the build */
	MemoryContext tmpcxt;		/* reset per heap tuple */

	/* search scratch */
	uint32	   *visited;		/* per ordinal: stamp of last visit */
	uint32		maxvisited;
	uint32		stamp;
	struct BuildCand *cand;
	struct BuildCand *top;
	int			maxheap;

	/* partitioned build */
	SharedFileSet *fileset;
	const float *cells;			/* ncells * dimensions */
	const uint16 *cellpart;		/* each cell's partition */
	ElemRef    *refs;			/* the phase's elements, in load order */
	int			pnum;			/* participant number: leader 0 */
	BufFile    *rfiles[PART_MAX];	/* rows of each partition */
	BufFile    *mfiles[PART_MAX];	/* their headers alone */
	BufFile    *ufile;			/* rows of level 1 and above */
	char	   *databuf;		/* a row's element data */

	/* seeded build (hnsw_build_seed.c) */
	struct HnswSeed *seed;		/* the session's seed of the table, or NULL */
	ElemRef    *seedrefs;		/* per seed element: its row's element */
	Tuplestorestate *pending;	/* rows no seed element matched */
	double		nseeded;		/* rows that took a seed element */

	Tuplestorestate *spill;		/* rows that found the arena full */
	TupleDesc	spilldesc;
	double		indtuples;		/* rows this participant indexed */
	double		spilled;
	pg_prng_state prng;
} HnswBuildState;

typedef struct BuildCand
{
	float		dist;
	ElemRef		ref;
} BuildCand;

/* ---------------- the arena ---------------- */

static inline BuildElem *
elem(HnswBuildState *bs, ElemRef ref)
{
	return (BuildElem *) (bs->arena + (Size) ref * ARENA_UNIT);
}

static inline ElemRef *
elem_ids(HnswBuildState *bs, BuildElem *e)
{
	return (ElemRef *) ((char *) e + bs->shared->elem_header);
}

static inline char *
elem_data(HnswBuildState *bs, BuildElem *e)
{
	return (char *) MAXALIGN(elem_ids(bs, e) + HNSW_NEIGHBOR_SLOTS(e->level, bs->info->m));
}

static inline Size
elem_size(const HnswShared *shared, int level)
{
	return MAXALIGN(shared->elem_header +
					MAXALIGN(sizeof(ElemRef) * HNSW_NEIGHBOR_SLOTS(level, shared->info.m)) +
					shared->datasize);
}

static inline float
dist_to(const HnswQuery *q, HnswBuildState *bs, BuildElem *e)
{
	return (float) HnswQueryDistance(q, elem_data(bs, e));
}

/* ---------------- writing pages ---------------- */

/* Simulated page fill, mirroring PageAddItem on a fresh page. */
typedef struct PlaceState
{
	BlockNumber next_block;		/* next block the relation will get */
	BlockNumber page;			/* current data page, or Invalid */
	Size		lower;
	Size		upper;
	OffsetNumber nitems;
} PlaceState;

/*
 * Reading an element's row again by heap TID, for an arena that held codes
 * of a float4 index.  Any version the TID leads to will do: a HOT chain's
 * versions all have the same indexed vector.
 */
typedef struct RowReader
{
	HnswBuildState *bs;
	IndexFetchTableData *fetch;
	TupleTableSlot *slot;
	EState	   *estate;
	MemoryContext cxt;
} RowReader;

/*
 * Writing element and neighbour tuples to data pages in block order: the
 * page being filled (locked), and the tuples' scratch space.
 */
typedef struct PageWriter
{
	HnswBuildState *bs;
	Buffer		buf;
	Page		page;
	BlockNumber current;
	HnswElementTuple etup;
	HnswNeighborTuple ntup;
	HTAB	   *keys;			/* filterkey -> HnswKeyDirEntry */
	int64		done;
} PageWriter;

/* ---------------- sampling ---------------- */

/* A uniform sample of the rows (reservoir sampling), prepared. */
typedef struct SampleState
{
	const HnswIndexInfo *info;
	int			max;			/* rows the sample holds */
	int			n;				/* rows in it */
	double		seen;			/* rows offered */
	float	   *rows;			/* max * dimensions */
	pg_prng_state prng;
	MemoryContext tmpcxt;
} SampleState;

/* hnsw_build.c */
extern BuildElem *HnswBuildArenaAlloc(HnswBuildState *bs, int level,
				ElemRef *ref);
extern int	HnswBuildCandCmp(const void *a, const void *b);
extern int	HnswBuildSelectNeighbors(HnswBuildState *bs, BuildCand *c, int n,
				int max);
extern void HnswBuildInsert(HnswBuildState *bs, ElemRef ref);
extern void HnswBuildSpillRow(HnswBuildState *bs, ItemPointer tid,
				Datum value, uint32 filterkey);
extern ElemRef HnswBuildAddRow(HnswBuildState *bs, ItemPointer tid,
				const float *x, uint32 filterkey, int level, bool link);
extern void HnswBuildConnectUnreachable(HnswBuildState *bs);
extern void HnswPlaceOpen(PlaceState *ps);
extern bool HnswPlaceFits(PlaceState *ps, Size a, Size b);
extern OffsetNumber HnswPlaceItem(PlaceState *ps, Size size);
extern Size HnswBuildTupleSize(HnswBuildState *bs, bool overflow);
extern Size HnswBuildElementTupleSize(HnswBuildState *bs, BuildElem *e);
extern BlockNumber HnswBuildOverflowPages(HnswBuildState *bs);
extern void HnswPageWriterBegin(PageWriter *w, HnswBuildState *bs, HTAB *keys);
extern BlockNumber HnswPageWriterEnd(PageWriter *w);
extern void HnswPageWriterWrite(PageWriter *w, BuildElem *e, const char *data,
				const ItemPointerData *slots);
extern void HnswBuildSampleRows(Relation heap, Relation index,
				IndexInfo *indexInfo, SampleState *ss);

/* hnsw_build_part.c */
extern void HnswPartScanRow(HnswBuildState *bs, ItemPointer tid,
				const float *x, uint32 filterkey);
extern void HnswPartCloseFiles(HnswBuildState *bs);
extern void HnswPartLinkPhases(HnswBuildState *bs);
extern BlockNumber HnswPartBuild(HnswBuildState *bs, int nfiles,
				int nparticipants, HTAB *keys, ItemPointer entry,
				int *entry_level);
extern char *HnswPartCells(Relation heap, Relation index,
				IndexInfo *indexInfo, const HnswIndexInfo *info, int npart,
				int *ncells_out);
extern Size HnswPartRefs(const HnswIndexInfo *info, HnswFormat format,
				Size arena_size);
extern bool HnswPartAllowed(double bytes_per_row, Size arena_size);
extern int	HnswPartCount(double nrows, double bytes_per_row, Size arena_size);
extern void HnswPartInitShared(HnswShared *shared, int npart, int ncells,
				Size arena_size);

/* hnsw_build_seed.c */
extern void HnswSeedBuildBegin(HnswBuildState *bs, struct HnswSeed *seed);
extern void HnswSeedScanRow(HnswBuildState *bs, ItemPointer tid,
				const float *x, uint32 filterkey);
extern void HnswSeedLink(HnswBuildState *bs);

#endif							/* HNSW_BUILD_H */
