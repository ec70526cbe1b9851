/*-------------------------------------------------------------------------
 *
 * hnsw.h
 *	  vecq's HNSW index access method: shared declarations.
 *
 * The index stores a navigable small-world graph (Malkov and Yashunin,
 * "Efficient and robust approximate nearest neighbor search using
 * Hierarchical Navigable Small World graphs", 2016/2018).  How it is laid
 * out on pages, how it is locked and WAL-logged, and how deleted elements
 * are handled is described in src/hnsw/README.
 *
 * src/hnsw/hnsw.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef VECQ_HNSW_H
#define VECQ_HNSW_H

#include "access/amapi.h"
#include "access/genam.h"
#include "common/pg_prng.h"
#include "nodes/execnodes.h"
#include "nodes/pathnodes.h"
#include "storage/buf.h"
#include "common/relpath.h"
#include "utils/relcache.h"

#include "hnsw/hnsw_page.h"
#include "quant/quant.h"

/* reloption limits and defaults */
#define HNSW_DEFAULT_M				16
#define HNSW_MIN_M					2
#define HNSW_MAX_M					100
#define HNSW_DEFAULT_EF_CONSTRUCTION 64
#define HNSW_MIN_EF_CONSTRUCTION	4
#define HNSW_MAX_EF_CONSTRUCTION	1000
#define HNSW_DEFAULT_EF_SEARCH		40
#define HNSW_MIN_EF_SEARCH			1
#define HNSW_MAX_EF_SEARCH			1000

/*
 * What a graph search's visit costs against reading one chain element: a
 * visit also reads its neighbour list and the descent, and a graph search
 * visits more than ef_search * 2m / p elements.  Measured on synthetic
 * 100,000 x 128 data, 1,000 tenants, ef_search 40 (vecq_tenant_bench):
 * reading 6,681 elements took 1.36 ms, 955 took 0.24 ms; the graph search
 * for the same keys 0.75 ms and 6.2 ms: equal at about 5,000 elements,
 * sqrt(ef_search * 2m * n / 5).
 */
#define HNSW_KEY_GRAPH_COST	5

/* highest level an element may get (the expected top level is ~log_m n) */
#define HNSW_MAX_LEVEL				15

/* support function numbers */
#define HNSW_METRIC_PROC			1	/* vector opclasses */
#define HNSW_KEY_HASH_PROC			2	/* key opclasses: the type's hash */
#define HNSW_NPROC					2

/* the distance an opclass orders by (value of its support function 1) */
typedef enum HnswMetric
{
	HNSW_METRIC_L2 = 1,			/* <->, stored as squared L2 */
	HNSW_METRIC_IP = 2,			/* <#>, negative inner product */
	HNSW_METRIC_COSINE = 3,		/* <=>, vectors normalized, 1 - dot */
	HNSW_METRIC_L1 = 4,			/* <+> */
	HNSW_METRIC_HAMMING = 5,	/* <~> on bit(n) columns */
	HNSW_METRIC_JACCARD = 6		/* <%> on bit(n) columns */
} HnswMetric;

/*
 * Support function 1 of the halfvec opclasses returns its metric with this
 * flag added: the indexed column is a halfvec, whose elements the index
 * widens to float4 as they enter it (rows and queries alike), so that the
 * rest of the index sees float4 vectors.  The flag is not a metric and is
 * never stored in the metapage.
 */
#define HNSW_METRIC_HALFVEC_FLAG	0x100

/*
 * An index on a bit(n) column stores the bits themselves (format float4,
 * "dimensions" counting bits); its "vectors" are the bit strings' bytes.
 */
#define HnswIsBitMetric(metric) \
	((metric) == HNSW_METRIC_HAMMING || (metric) == HNSW_METRIC_JACCARD)

/* how elements store their vector (the quantization reloption) */
typedef enum HnswFormat
{
	HNSW_FORMAT_FLOAT4 = 0,		/* 'none': the vector itself */
	HNSW_FORMAT_SQ8 = 1,		/* 'sq8': a QuantSq8Code */
	HNSW_FORMAT_BIT = 2,		/* 'bit': QUANT_BIT_CODE_SIZE bytes of bits */
	HNSW_FORMAT_HALF = 3,		/* halfvec column, 'none', not cosine: the
								 * halves themselves (2 bytes a dimension) */
	HNSW_FORMAT_RBIT = 4		/* 'bit', not L1: a QuantRbitCode (bits of
								 * the rotated residual) */
} HnswFormat;

/* the formats of 'bit': estimates without a guaranteed bound */
#define HnswFormatIsBit(format) \
	((format) == HNSW_FORMAT_BIT || (format) == HNSW_FORMAT_RBIT)

/* rotated bits keep L2 distances and inner products, not L1 distances */
#define HnswFormatFitsMetric(format, metric) \
	((format) != HNSW_FORMAT_RBIT || \
	 (metric) == HNSW_METRIC_L2 || (metric) == HNSW_METRIC_IP || \
	 (metric) == HNSW_METRIC_COSINE)

/*
 * A halfvec index stores its elements as halves when that is exact: the
 * prepared vector of l2, ip and l1 is the halfvec widened to float4, so
 * rounding it back gives the same halves, and decoding gives the same
 * float4 vector a float4 element would hold: the same graph and distances
 * at half the element size.  Cosine prepares a unit vector, which halves
 * cannot hold exactly, so cosine halfvec indexes keep float4 elements.
 */
#define HnswFormatIsExact(format) \
	((format) == HNSW_FORMAT_FLOAT4 || (format) == HNSW_FORMAT_HALF)

/* hnsw.iterative_scan */
typedef enum HnswIterativeScan
{
	HNSW_ITERATIVE_SCAN_OFF,
	HNSW_ITERATIVE_SCAN_RELAXED,
	HNSW_ITERATIVE_SCAN_STRICT
} HnswIterativeScan;

/* vecq.hnsw_partitioned_build */
typedef enum HnswPartitionedBuild
{
	HNSW_PARTITIONED_OFF,
	HNSW_PARTITIONED_AUTO,
	HNSW_PARTITIONED_ON
} HnswPartitionedBuild;

/* reloptions */
typedef struct HnswOptions
{
	int32		vl_len_;		/* varlena header (do not touch directly!) */
	int			m;
	int			ef_construction;
	int			quantization;	/* HnswFormat */
} HnswOptions;

/* GUCs */
extern int	hnsw_ef_search;
extern int	hnsw_iterative_scan;
extern int	hnsw_max_scan_tuples;
extern int	hnsw_key_exact_scan_limit;
extern int	hnsw_partitioned_build;

/*
 * What every part needs to know about one index, read once from the
 * metapage and the opclass and cached in rd_amcache.
 */
typedef struct HnswIndexInfo
{
	int			dimensions;
	int			m;
	int			ef_construction;
	HnswMetric	metric;
	HnswFormat	format;
	const QuantSq8 *sq8;		/* format sq8: the ranges */
	const QuantBit *bit;		/* format bit: centres and spreads */
	const QuantRbit *rbit;		/* format rbit: mean and rotation */
	bool		haskey;			/* has a key column (hnsw_key.c) */
	bool		halfvec;		/* the column is a halfvec (widened to float4) */
} HnswIndexInfo;

/*
 * A vector prepared for distances to element data of one index: the
 * float4 vector itself, or its form for SQ8 codes (src/quant).
 */
typedef struct HnswQuery
{
	const HnswIndexInfo *info;
	const float *vec;			/* prepared (normalized for cosine) */
	float	   *hvec;			/* format half: the decoded query element */
	float	   *hdata;			/* format half: scratch for element data */
	QuantSq8Query sq8;
	QuantBitQuery bit;
	QuantRbitQuery rbit;
} HnswQuery;

/* hnsw_am.c */
extern void HnswInit(void);
extern int	HnswGetM(Relation index);
extern int	HnswGetEfConstruction(Relation index);
extern HnswMetric HnswGetMetric(Relation index);
extern bool HnswIndexIsHalfvec(Relation index);

/*
 * What this backend's scans of an index learned about its rows: scans in a
 * row that found the returned rows' vectors stored in line (hnsw_scan.c),
 * and scans since one last tried.
 */
typedef struct HnswScanHintsData
{
	uint32		inline_scans;
	uint32		skipped_scans;
} HnswScanHintsData;

extern HnswScanHintsData *HnswScanHints(Relation index);
extern HnswFormat HnswGetFormat(Relation index);

/* hnsw_page.c */
extern void HnswInitPage(Page page, uint16 flags);
extern Buffer HnswNewBuffer(Relation index, ForkNumber forknum);
extern void HnswCheckPage(Relation index, Page page, BlockNumber blkno, uint16 flags);
extern const HnswIndexInfo *HnswGetIndexInfo(Relation index);
extern Buffer HnswReadBufferHinted(Relation index, BlockNumber blkno);
extern bool HnswTidsContain(const ItemPointerData *tids, int n, ItemPointer tid);
extern void HnswPrefetchHinted(Relation index, ItemPointer tid);
extern void HnswPrefetchTupleHinted(Relation index, ItemPointer tid, Size maxbytes);
extern void HnswReadMeta(Relation index, HnswMetaPageData *meta);
extern Size HnswElementDataSize(const HnswIndexInfo *info);
extern Size HnswVectorSize(const HnswIndexInfo *info);
extern bool HnswElementDataInline(const HnswIndexInfo *info, int level);
extern void HnswWriteOverflow(Relation index, ForkNumber forknum,
							  const char *data, Size len,
							  BlockNumber *first, bool use_wal);
extern void HnswReadOverflow(Relation index, BlockNumber first, char *out, Size len);
extern BlockNumber HnswWriteQuantParams(Relation index, ForkNumber forknum, int dim,
										 const float *a, const float *b, bool use_wal);

/* hnsw_key.c */
extern bool HnswIndexHasKey(Relation index);
extern uint32 HnswKeyHash(Relation index, Datum value, bool isnull);
extern uint32 HnswKeyDirBuckets(double nkeys);
extern BlockNumber HnswKeyDirCreate(Relation index, ForkNumber forknum, uint32 nbuckets,
									HnswKeyDirEntry *entries, int nentries, bool use_wal);
extern bool HnswKeyDirLookup(Relation index, const HnswMetaPageData *meta,
							 uint32 filterkey, HnswKeyDirEntry *out);
extern Buffer HnswKeyDirLockForInsert(Relation index, const HnswMetaPageData *meta,
									  uint32 filterkey);
extern void HnswKeyDirPush(Page page, uint32 filterkey, ItemPointer etid,
						   ItemPointer oldhead);
extern void HnswKeyDirCompact(Relation index, BufferAccessStrategy strategy,
							  struct HTAB *filterkeys);

/* hnsw_graph.c: the search kernels shared by build, insert and scan */
extern int	HnswRandomLevel(int m, pg_prng_state *state);
extern int	HnswMaxLevel(int m);
extern bool HnswPrepareVector(HnswMetric metric, const float *in, float *out, int dim);
extern const float *HnswDatumData(const HnswIndexInfo *info, Datum value);
extern double HnswDistance(HnswMetric metric, const float *a, const float *b, int dim);
extern double HnswDistanceToSql(HnswMetric metric, double d);
extern double HnswSqlDistance(HnswMetric metric, const float *x, const float *q, int dim);
extern void HnswQueryInit(HnswQuery *q, const HnswIndexInfo *info);
extern void HnswQuerySet(HnswQuery *q, const float *vec);
extern void HnswQuerySetData(HnswQuery *q, const char *data);
extern double HnswQueryDistance(const HnswQuery *q, const char *data);
extern double HnswQueryBound(const HnswQuery *q, const char *data, double dist);
extern bool HnswBoundsExact(const HnswIndexInfo *info);
extern bool HnswEncodeData(const HnswIndexInfo *info, const float *vec, char *data);
extern void HnswDecodeData(const HnswIndexInfo *info, const char *data, float *out);

/* hnsw_build.c */
extern IndexBuildResult *hnswbuild(Relation heap, Relation index, IndexInfo *indexInfo);
extern void hnswbuildempty(Relation index);

/* hnsw_insert.c */
extern bool hnswinsert(Relation index, Datum *values, bool *isnull,
					   ItemPointer heap_tid, Relation heap,
					   IndexUniqueCheck checkUnique, bool indexUnchanged,
					   IndexInfo *indexInfo);
extern void HnswInsertPrepared(Relation index, const HnswIndexInfo *info,
							   const float *vec, uint32 filterkey, ItemPointer heaptid);
extern bool HnswReplaceNeighbors(Relation index, const HnswIndexInfo *info,
								 ItemPointer ntid, int lc,
								 const ItemPointerData *oldlist, int nold,
								 const ItemPointerData *newlist, int nnew);

/* hnsw_scan.c */
extern IndexScanDesc hnswbeginscan(Relation index, int nkeys, int norderbys);
extern void hnswrescan(IndexScanDesc scan, ScanKey keys, int nkeys,
					   ScanKey orderbys, int norderbys);
extern bool hnswgettuple(IndexScanDesc scan, ScanDirection dir);
extern void hnswendscan(IndexScanDesc scan);

/* hnsw_vacuum.c */
extern IndexBulkDeleteResult *hnswbulkdelete(IndexVacuumInfo *info,
											 IndexBulkDeleteResult *stats,
											 IndexBulkDeleteCallback callback,
											 void *callback_state);
extern IndexBulkDeleteResult *hnswvacuumcleanup(IndexVacuumInfo *info,
												IndexBulkDeleteResult *stats);
extern void HnswRepairReachability(Relation index, BufferAccessStrategy strategy);

/* hnsw_cost.c */
extern void hnswcostestimate(PlannerInfo *root, IndexPath *path,
							 double loop_count, Cost *indexStartupCost,
							 Cost *indexTotalCost, Selectivity *indexSelectivity,
							 double *indexCorrelation, double *indexPages);

#endif							/* VECQ_HNSW_H */
