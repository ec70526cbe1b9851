/*-------------------------------------------------------------------------
 *
 * quant.h
 *	  Quantized vector codes: what an HNSW index stores instead of float4
 *	  vectors when it is built WITH (quantization = ...).
 *
 * SQ8 (scalar quantization to 8 bits): every dimension i has a range
 * [lo[i], lo[i] + 255 * step[i]] learned from a sample at build time; a
 * value x becomes the code c = round((x - lo[i]) / step[i]) clamped to
 * 0..255, and decodes to lo[i] + c * step[i].  Each code carries the exact
 * size of its own error, ||x - decoded||_2 and ||x - decoded||_1, so that a
 * distance computed on codes gives a guaranteed lower bound of the exact
 * distance (triangle inequality, Cauchy-Schwarz): the scan returns those
 * bounds and the executor re-ranks rows by exact distance (see
 * hnsw_scan.c).  Values outside the range are clamped (their error is
 * still exact, so bounds stay valid) and the code says so.
 *
 * Distances on codes are asymmetric: the query stays float4 and is
 * expressed in code units once (QuantSq8PrepareQuery), so that every
 * distance is one pass of an SQ8 kernel of src/common/distance.h over the
 * codes.
 *
 * src/quant/quant.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef VECQ_QUANT_H
#define VECQ_QUANT_H

/* the per-dimension parameters of an SQ8 code */
typedef struct QuantSq8
{
	int			dim;
	float	   *lo;				/* value of code 0 */
	float	   *step;			/* value of one code step; 0: constant */
	float	   *inv_step;		/* 1 / step, or 0 */
	float	   *step_sq;		/* step * step */
} QuantSq8;

/* one encoded vector, as element tuples store it */
typedef struct QuantSq8Code
{
	float		err_l2;			/* ||x - decoded||_2, rounded up */
	float		err_l1;			/* ||x - decoded||_1, rounded up */
	uint8		codes[FLEXIBLE_ARRAY_MEMBER];
} QuantSq8Code;

#define QUANT_SQ8_CODE_SIZE(dim)	(offsetof(QuantSq8Code, codes) + (Size) (dim))

/* the distance a prepared query computes */
typedef enum QuantDistance
{
	QUANT_DIST_L2SQ,			/* squared L2 */
	QUANT_DIST_DOT,				/* inner product */
	QUANT_DIST_L1				/* L1 */
} QuantDistance;

/* a float4 query prepared for distances to SQ8 codes */
typedef struct QuantSq8Query
{
	QuantDistance kind;
	int			dim;
	float	   *q;				/* query in code units (dot: q * step) */
	const float *w;				/* step_sq (L2), step (L1); NULL (dot) */
	double		base;			/* constant part of the distance */
	double		dot_abs;		/* dot: bound on sum |q * step * code| */
	double		norm;			/* ||query||_2 */
	double		qerr;			/* L2: sqrt(sum w * r^2), L1: sum w * r, r the
								 * rounding of q[i] */
} QuantSq8Query;

/* Learn ranges from n sample vectors (n * dim floats); n may be 0. */
extern void QuantSq8Train(QuantSq8 *sq, int dim, const float *sample, int n);

/* Set up sq from stored lo[] and step[] (copied). */
extern void QuantSq8FromParams(QuantSq8 *sq, int dim, const float *lo,
							   const float *step);

/* Encode x; returns true if any value was outside the range (clamped). */
extern bool QuantSq8Encode(const QuantSq8 *sq, const float *x, QuantSq8Code *out);

/* Decode a code to float4 values (the centre of each code's cell). */
extern void QuantSq8Decode(const QuantSq8 *sq, const QuantSq8Code *code, float *out);

/* Prepare x as a query of the given kind; q->q must hold dim floats. */
extern void QuantSq8PrepareQuery(const QuantSq8 *sq, QuantDistance kind,
								 const float *x, QuantSq8Query *q);

/*
 * Prepare a code as a query, for distances between two codes: no division
 * and, for L2 and L1, no rounding (the codes are the query in code units).
 * Needs the scratch of dim floats in q->q.
 */
extern void QuantSq8PrepareCode(const QuantSq8 *sq, QuantDistance kind,
								const QuantSq8Code *code, QuantSq8Query *q);

/* The distance of kind q->kind between the query and a decoded code. */
extern double QuantSq8Distance(const QuantSq8Query *q, const QuantSq8Code *code);

/*
 * Bound on the float4 rounding of QuantSq8Distance for a result d: the
 * exact value lies within d +- QuantSq8Rounding(q, d).
 */
extern double QuantSq8Rounding(const QuantSq8Query *q, double d);

/*
 * 1-bit codes (quant_bit.c): every dimension has a centre mean[i] (the
 * sample's mean) and a spread dev[i] (the sample's mean absolute deviation);
 * a value x becomes the bit x > mean[i] and decodes to mean[i] +- dev[i].
 * Distances from a float4 query to a code are asymmetric: for each
 * dimension the query's distance term differs only by whether the bit is
 * set, so a prepared query holds the distance with no bit set (base) and,
 * per dimension, what a set bit adds (u[i]); a distance is base plus the
 * sum of u over the set bits.  There is no guaranteed bound: an index of
 * bit codes re-ranks a fixed window of candidates (hnsw_scan.c).
 */
typedef struct QuantBit
{
	int			dim;
	float	   *mean;
	float	   *dev;
} QuantBit;

#define QUANT_BIT_CODE_SIZE(dim)	(((Size) (dim) + 7) / 8)

typedef struct QuantBitQuery
{
	QuantDistance kind;
	int			dim;
	float	   *u;				/* what a set bit adds, per dimension */
	double		base;			/* the distance with no bit set */
	float	   *scratch;		/* dim floats: a decoded code */
} QuantBitQuery;

/* Learn centres and spreads from n sample vectors; n may be 0. */
extern void QuantBitTrain(QuantBit *qb, int dim, const float *sample, int n);
extern void QuantBitFromParams(QuantBit *qb, int dim, const float *mean,
							   const float *dev);
extern void QuantBitEncode(const QuantBit *qb, const float *x, uint8 *code);
extern void QuantBitDecode(const QuantBit *qb, const uint8 *code, float *out);
/* q->u and q->scratch must hold dim floats */
extern void QuantBitPrepareQuery(const QuantBit *qb, QuantDistance kind,
								 const float *x, QuantBitQuery *q);
extern void QuantBitPrepareCode(const QuantBit *qb, QuantDistance kind,
								const uint8 *code, QuantBitQuery *q);
extern double QuantBitDistance(const QuantBitQuery *q, const uint8 *code);

/*
 * 1-bit codes of rotated residuals (quant_rbit.c), for L2, inner product
 * and cosine: a vector's residual from the nearest of a few centroids
 * (k-means on the build's sample), zero-padded to pdim (a power of two, at
 * least 8) and rotated by a fixed random orthogonal map, keeps one sign bit
 * per rotated coordinate, plus its exact squared norm, the factor that
 * scales the signs' inner products into estimates of the residual's, and
 * two exact inner products with the centroid.  Distances are estimates
 * with no guaranteed bound, as for QuantBit.  The index stores the
 * centroids and the rotation's random signs.
 */
#define QUANT_RBIT_ROUNDS	2
#define QUANT_RBIT_MAX_CENTROIDS	256

typedef struct QuantRbit
{
	int			dim;
	int			pdim;			/* padded dimensions: bits of a code */
	int			ncent;			/* centroids */
	float	   *cent;			/* ncent * dim floats */
	uint8	   *signs;			/* QUANT_RBIT_ROUNDS * pdim bits: flip if set */
	float	   *signf;			/* the same as -1.0 and 1.0 factors */
	float	   *pcent;			/* ncent * pdim floats: rotated centroids */
	double	   *psum;			/* ncent sums of pcent */
	double	   *cdot;			/* ncent * ncent inner products of centroids */
	float	   *scratch;		/* pdim floats for encoding and decoding */
} QuantRbit;

typedef struct QuantRbitCode
{
	uint16		centroid;		/* the residual's centroid c */
	uint16		reserved;		/* zero */
	float		sqnorm;			/* ||r||^2, r = x - c */
	float		factor;			/* ||r||^2 / sum |rotated r| */
	float		rdotc;			/* <r, c> */
	float		sdotc;			/* <s, rotated c>, s the signs as +-1 */
	uint8		bits[FLEXIBLE_ARRAY_MEMBER];	/* sign bits, lowest first */
} QuantRbitCode;

/* pdim: QuantRbitPaddedDim(dim) */
#define QUANT_RBIT_CODE_SIZE(pdim) \
	(offsetof(QuantRbitCode, bits) + (Size) (pdim) / 8)
#define QUANT_RBIT_SIGN_BYTES(dim) \
	((Size) QUANT_RBIT_ROUNDS * (QuantRbitPaddedDim(dim) / 8))
/* parameters: uint32 ncent, uint32 pdim, signs (4-aligned), centroids */
#define QUANT_RBIT_PARAMS_HEADER	(2 * sizeof(uint32))

typedef struct QuantRbitQuery
{
	const QuantRbit *qr;
	QuantDistance kind;			/* L2SQ or DOT */
	float	   *u;				/* pdim floats: the rotated float4 query */
	double		usum;			/* sum of u */
	const float *x;				/* the float4 query, or NULL: a code */
	/* a code as the query: its centroid, scale, norm, <r, c>, bits */
	int			qcent;
	double		qscale;
	double		qsqnorm;
	double		qrdotc;
	uint8	   *bits;
	/* per centroid: ||query - c||^2 or <query, c>, valid if stamp is gen */
	double	   *cterm;
	uint32	   *stamp;
	uint32		gen;
} QuantRbitQuery;

extern int	QuantRbitPaddedDim(int dim);
extern int	QuantRbitMaxCentroids(int dim);
extern Size QuantRbitParamsSize(int dim, int ncent);
extern Size QuantRbitParamsSizeFromHeader(int dim, const char *header);
extern void QuantRbitTrain(QuantRbit *qr, int dim, const float *sample, int n);
extern void QuantRbitWriteParams(const QuantRbit *qr, char *out);
extern void QuantRbitFromParams(QuantRbit *qr, int dim, const char *params);
extern void QuantRbitEncode(const QuantRbit *qr, const float *x, QuantRbitCode *code);
extern void QuantRbitDecode(const QuantRbit *qr, const QuantRbitCode *code, float *out);
extern void QuantRbitQueryInit(const QuantRbit *qr, QuantRbitQuery *q);
/* x must outlive the query's use */
extern void QuantRbitPrepareQuery(QuantRbitQuery *q, QuantDistance kind,
								  const float *x);
extern void QuantRbitPrepareCode(QuantRbitQuery *q, QuantDistance kind,
								 const QuantRbitCode *code);
extern double QuantRbitDistance(const QuantRbitQuery *q, const QuantRbitCode *code);

/* quant_rescore.c: exact distances from heap rows */

#include "access/relscan.h"
#include "executor/tuptable.h"
#include "nodes/execnodes.h"
#include "utils/relcache.h"
#include "utils/snapshot.h"

/* vecq.rescore_factor */
extern double quant_rescore_factor;

typedef struct QuantRescorer
{
	Snapshot	snapshot;
	struct IndexFetchTableData *fetch;
	TupleTableSlot *slot;
	AttrNumber	attnum;			/* the indexed column, or 0: an expression */
	IndexInfo  *indexInfo;		/* expression indexes only */
	EState	   *estate;			/* expression indexes only */
	MemoryContext cxt;			/* the last row's vector */
	bool		halfvec;		/* the column is a halfvec: widen it */
} QuantRescorer;

struct Vector;

extern void QuantInit(void);
extern int	QuantRescoreWindow(int ef_search);
extern void QuantRescorerInit(QuantRescorer *r, Relation heap, Relation index,
							  Snapshot snapshot);
extern const struct Vector *QuantRescorerFetch(QuantRescorer *r, ItemPointer tid);
extern bool QuantRescorerStored(QuantRescorer *r, ItemPointer tid, Datum *stored);
extern void QuantRescorerEnd(QuantRescorer *r);

#endif							/* VECQ_QUANT_H */
