/*-------------------------------------------------------------------------
 *
 * hnsw_graph.c
 *	  What every part of the HNSW index agrees on about the graph: levels,
 *	  how a vector is prepared for its metric, and the distance the graph is
 *	  built and searched with.
 *
 * Distances are computed by the kernels of src/common/distance.h, called
 * directly (no fmgr call per candidate); the graph uses their float4-sum
 * variants.  The graph orders by a value that
 * is monotonic in the SQL operator's distance:
 *	 l2      squared L2 (no square root)
 *	 ip      negative inner product
 *	 cosine  1 - dot on vectors normalized to unit length when they enter
 *			 the index (zero vectors are not indexed: their distance is NaN)
 *	 l1      L1
 *
 * src/hnsw/hnsw_graph.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "common/pg_prng.h"

#include "common/distance.h"
#include "utils/varbit.h"
#include "vector/vector.h"

#include "hnsw/hnsw.h"

/*
 * A random level with P(level >= l) = m^-l (the paper's mL = 1 / ln m),
 * capped so that the neighbour tuple of any level fits on half a page.
 */
int
HnswRandomLevel(int m, pg_prng_state *state)
{
	double		u = pg_prng_double(state);
	int			level;

	/* 1 - u is in (0, 1], so the logarithm is finite */
	level = (int) floor(-log(1.0 - u) / log((double) m));
	return Min(level, HnswMaxLevel(m));
}

/* The highest level whose neighbour tuple takes at most half a page. */
int
HnswMaxLevel(int m)
{
	int			cap = HNSW_MAX_LEVEL;

	while (cap > 0 && HNSW_NEIGHBOR_TUPLE_SIZE(cap, m) > HNSW_PAGE_FREE_SPACE / 2)
		cap--;
	return cap;
}

/*
 * The data of a row's indexed value (detoasted), checked against the
 * index's dimensions: a vector's elements, a halfvec's elements widened to
 * float4 (exact; palloc'd in CurrentMemoryContext), or a bit string's
 * bytes.
 */
const float *
HnswDatumData(const HnswIndexInfo *info, Datum value)
{
	if (HnswIsBitMetric(info->metric))
	{
		VarBit	   *b = DatumGetVarBitP(value);

		if (VARBITLEN(b) != info->dimensions)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("expected %d bits, not %d", info->dimensions, VARBITLEN(b))));
		return (const float *) VARBITS(b);
	}
	else if (info->halfvec)
	{
		HalfVector *h = DatumGetHalfVector(value);

		if (h->dim != info->dimensions)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("expected %d dimensions, not %d", info->dimensions, h->dim)));
		return HalfVectorToFloats(h);
	}
	else
	{
		Vector	   *v = DatumGetVector(value);

		if (v->dim != info->dimensions)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("expected %d dimensions, not %d", info->dimensions, v->dim)));
		return v->x;
	}
}

/*
 * Copy a vector into the form the index stores: normalized for cosine.
 * Returns false if it cannot be indexed (a zero vector under cosine).
 */
bool
HnswPrepareVector(HnswMetric metric, const float *in, float *out, int dim)
{
	if (HnswIsBitMetric(metric))
	{
		if (out != in)
			memcpy(out, in, ((Size) dim + 7) / 8);
		return true;
	}
	if (metric == HNSW_METRIC_COSINE)
	{
		double		norm = sqrt(VecqKernels.norm_squared(in, dim));

		if (norm == 0 || isnan(norm))
			return false;
		for (int i = 0; i < dim; i++)
			out[i] = (float) (in[i] / norm);
	}
	else if (out != in)
		memcpy(out, in, sizeof(float) * dim);
	return true;
}

double
HnswDistance(HnswMetric metric, const float *a, const float *b, int dim)
{
	double		d;

	/*
	 * The graph is navigated with float4 sums (twice as fast); where those
	 * overflow, the exact kernels take over.
	 */
	switch (metric)
	{
		case HNSW_METRIC_HAMMING:
		case HNSW_METRIC_JACCARD:
			return metric == HNSW_METRIC_HAMMING ?
				BitsHammingDistance((const uint8 *) a, (const uint8 *) b, (dim + 7) / 8) :
				BitsJaccardDistance((const uint8 *) a, (const uint8 *) b, (dim + 7) / 8);
		case HNSW_METRIC_L2:
			d = VecqKernels.l2_squared_approx(a, b, dim);
			return isfinite(d) ? d : VecqKernels.l2_squared(a, b, dim);
		case HNSW_METRIC_IP:
			d = VecqKernels.inner_product_approx(a, b, dim);
			return -(isfinite(d) ? d : VecqKernels.inner_product(a, b, dim));
		case HNSW_METRIC_COSINE:
			d = VecqKernels.inner_product_approx(a, b, dim);
			return 1.0 - (isfinite(d) ? d : VecqKernels.inner_product(a, b, dim));
		case HNSW_METRIC_L1:
			d = VecqKernels.l1_approx(a, b, dim);
			return isfinite(d) ? d : VecqKernels.l1(a, b, dim);
	}
	return 0;					/* keep the compiler quiet */
}

/*
 * The SQL operator's value between a row's vector x and the query q,
 * computed exactly as the operator computes it (src/vector/vector_ops.c).
 */
double
HnswSqlDistance(HnswMetric metric, const float *x, const float *q, int dim)
{
	switch (metric)
	{
		case HNSW_METRIC_HAMMING:
		case HNSW_METRIC_JACCARD:
			return metric == HNSW_METRIC_HAMMING ?
				BitsHammingDistance((const uint8 *) x, (const uint8 *) q, (dim + 7) / 8) :
				BitsJaccardDistance((const uint8 *) x, (const uint8 *) q, (dim + 7) / 8);
		case HNSW_METRIC_L2:
			return sqrt(VecqKernels.l2_squared(x, q, dim));
		case HNSW_METRIC_IP:
			return -VecqKernels.inner_product(x, q, dim);
		case HNSW_METRIC_COSINE:
			return VecqCosineDistanceFromParts(VecqKernels.cosine_parts(x, q, dim));
		case HNSW_METRIC_L1:
			return VecqKernels.l1(x, q, dim);
	}
	return 0;					/* keep the compiler quiet */
}

/* The SQL operator's value for a graph distance. */
double
HnswDistanceToSql(HnswMetric metric, double d)
{
	if (metric == HNSW_METRIC_L2)
		return sqrt(Max(d, 0));
	return d;
}

/* ---------------- element data and prepared queries ---------------- */

/* the SQ8 distance that gives a metric's graph distance */
static QuantDistance
sq8_kind(HnswMetric metric)
{
	switch (metric)
	{
		case HNSW_METRIC_L2:
			return QUANT_DIST_L2SQ;
		case HNSW_METRIC_IP:
		case HNSW_METRIC_COSINE:
			return QUANT_DIST_DOT;
		case HNSW_METRIC_L1:
			return QUANT_DIST_L1;
		default:
			break;
	}
	return QUANT_DIST_L2SQ;		/* no codes on bit columns */
}

/* Allocate what q needs (in CurrentMemoryContext); no vector set yet. */
void
HnswQueryInit(HnswQuery *q, const HnswIndexInfo *info)
{
	memset(q, 0, sizeof(*q));
	q->info = info;
	if (info->format == HNSW_FORMAT_HALF)
	{
		q->hvec = palloc(sizeof(float) * info->dimensions);
		q->hdata = palloc(sizeof(float) * info->dimensions);
	}
	else if (info->format == HNSW_FORMAT_SQ8)
		q->sq8.q = palloc(sizeof(float) * info->dimensions);
	else if (info->format == HNSW_FORMAT_BIT)
	{
		q->bit.u = palloc(sizeof(float) * info->dimensions);
		q->bit.scratch = palloc(sizeof(float) * info->dimensions);
	}
	else if (info->format == HNSW_FORMAT_RBIT)
		QuantRbitQueryInit(info->rbit, &q->rbit);
}

/* Make a prepared vector the query; vec must outlive the use of q. */
void
HnswQuerySet(HnswQuery *q, const float *vec)
{
	q->vec = vec;
	if (q->info->format == HNSW_FORMAT_SQ8)
		QuantSq8PrepareQuery(q->info->sq8, sq8_kind(q->info->metric), vec, &q->sq8);
	else if (q->info->format == HNSW_FORMAT_BIT)
		QuantBitPrepareQuery(q->info->bit, sq8_kind(q->info->metric), vec, &q->bit);
	else if (q->info->format == HNSW_FORMAT_RBIT)
		QuantRbitPrepareQuery(&q->rbit, sq8_kind(q->info->metric), vec);
}

/* Make the vector an element's data holds the query. */
void
HnswQuerySetData(HnswQuery *q, const char *data)
{
	if (q->info->format == HNSW_FORMAT_SQ8)
	{
		/* distances to codes need no float4 vector */
		q->vec = NULL;
		QuantSq8PrepareCode(q->info->sq8, sq8_kind(q->info->metric),
							(const QuantSq8Code *) data, &q->sq8);
	}
	else if (q->info->format == HNSW_FORMAT_BIT)
	{
		q->vec = NULL;
		QuantBitPrepareCode(q->info->bit, sq8_kind(q->info->metric),
							(const uint8 *) data, &q->bit);
	}
	else if (q->info->format == HNSW_FORMAT_RBIT)
	{
		q->vec = NULL;
		QuantRbitPrepareCode(&q->rbit, sq8_kind(q->info->metric),
							 (const QuantRbitCode *) data);
	}
	else if (q->info->format == HNSW_FORMAT_HALF)
	{
		VecqKernels.half_to_float((const uint16 *) data, q->hvec, q->info->dimensions);
		HnswQuerySet(q, q->hvec);
	}
	else
		HnswQuerySet(q, (const float *) data);
}

/* The graph distance from the query to element data. */
double
HnswQueryDistance(const HnswQuery *q, const char *data)
{
	const HnswIndexInfo *info = q->info;
	double		d;

	if (info->format == HNSW_FORMAT_FLOAT4)
		return HnswDistance(info->metric, q->vec, (const float *) data, info->dimensions);
	if (info->format == HNSW_FORMAT_HALF)
	{
		/* widened (exact): the distance a float4 element would give */
		VecqKernels.half_to_float((const uint16 *) data, q->hdata, info->dimensions);
		return HnswDistance(info->metric, q->vec, q->hdata, info->dimensions);
	}
	if (info->format == HNSW_FORMAT_BIT)
		d = QuantBitDistance(&q->bit, (const uint8 *) data);
	else if (info->format == HNSW_FORMAT_RBIT)
		d = QuantRbitDistance(&q->rbit, (const QuantRbitCode *) data);
	else
		d = QuantSq8Distance(&q->sq8, (const QuantSq8Code *) data);
	switch (info->metric)
	{
		case HNSW_METRIC_IP:
			return -d;
		case HNSW_METRIC_COSINE:
			return 1.0 - d;
		default:
			return d;
	}
}

/*
 * For an index of codes: a value never above the SQL operator's exact
 * distance between the query and the row the element stands for, from the
 * graph distance dist that HnswQueryDistance gave for it.  The code's own
 * error bounds the gap (triangle inequality for L2 and L1, Cauchy-Schwarz
 * for the inner product), less an allowance for the kernel's rounding and
 * a little more for how the operator rounds.  Cosine queries and elements
 * are unit vectors; the operator divides by the norms in double, which
 * moves its value by far less than the 1e-6 allowed here.
 */
double
HnswQueryBound(const HnswQuery *q, const char *data, double dist)
{
	const QuantSq8Code *code = (const QuantSq8Code *) data;
	double		r;
	double		b;

	if (HnswFormatIsExact(q->info->format))
		return HnswDistanceToSql(q->info->metric, dist);
	if (isnan(dist))
		return -INFINITY;
	/* bit codes: no bound, the decoded distance orders the candidates */
	if (HnswFormatIsBit(q->info->format))
		return HnswDistanceToSql(q->info->metric, dist);
	switch (q->info->metric)
	{
		case HNSW_METRIC_L2:
			r = QuantSq8Rounding(&q->sq8, dist);
			b = sqrt(Max(dist - r, 0)) - code->err_l2;
			b = Max(b, 0) * (1 - 1e-6);
			break;
		case HNSW_METRIC_IP:
			/* dist = -dot */
			r = QuantSq8Rounding(&q->sq8, -dist);
			b = dist - r - q->sq8.norm * code->err_l2;
			b -= 1e-6 * fabs(b);
			break;
		case HNSW_METRIC_COSINE:
			/* dist = 1 - dot */
			r = QuantSq8Rounding(&q->sq8, 1.0 - dist);
			b = dist - r - q->sq8.norm * code->err_l2 - 1e-6;
			break;
		case HNSW_METRIC_L1:
			r = QuantSq8Rounding(&q->sq8, dist);
			b = Max(dist - r - code->err_l1, 0) * (1 - 1e-6);
			break;
		default:
			b = -INFINITY;
	}
	return isnan(b) || isinf(b) ? -INFINITY : b;
}

/*
 * Whether HnswQueryBound gives true lower bounds (float4 and SQ8 codes), so
 * that a re-ranking scan may return a row before reading every candidate
 * of its window; bit codes only order the candidates.
 */
bool
HnswBoundsExact(const HnswIndexInfo *info)
{
	return !HnswFormatIsBit(info->format);
}

/* Store a prepared vector as element data; true if a value was clamped. */
bool
HnswEncodeData(const HnswIndexInfo *info, const float *vec, char *data)
{
	if (info->format == HNSW_FORMAT_SQ8)
		return QuantSq8Encode(info->sq8, vec, (QuantSq8Code *) data);
	if (info->format == HNSW_FORMAT_BIT)
	{
		QuantBitEncode(info->bit, vec, (uint8 *) data);
		return false;
	}
	if (info->format == HNSW_FORMAT_RBIT)
	{
		QuantRbitEncode(info->rbit, vec, (QuantRbitCode *) data);
		return false;
	}
	if (info->format == HNSW_FORMAT_HALF)
	{
		/* vec is a widened halfvec (not cosine): this rounding is exact */
		VecqKernels.float_to_half(vec, (uint16 *) data, info->dimensions);
		return false;
	}
	memcpy(data, vec, HnswElementDataSize(info));
	return false;
}

/* The float4 vector element data stands for (decoded codes for sq8). */
void
HnswDecodeData(const HnswIndexInfo *info, const char *data, float *out)
{
	if (info->format == HNSW_FORMAT_SQ8)
		QuantSq8Decode(info->sq8, (const QuantSq8Code *) data, out);
	else if (info->format == HNSW_FORMAT_BIT)
		QuantBitDecode(info->bit, (const uint8 *) data, out);
	else if (info->format == HNSW_FORMAT_RBIT)
		QuantRbitDecode(info->rbit, (const QuantRbitCode *) data, out);
	else if (info->format == HNSW_FORMAT_HALF)
		VecqKernels.half_to_float((const uint16 *) data, out, info->dimensions);
	else
		memcpy(out, data, HnswElementDataSize(info));
}
