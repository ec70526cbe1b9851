/*-------------------------------------------------------------------------
 *
 * hnsw_graph.c
 *	  What every part of the HNSW index agrees on about the graph: levels,
 *	  how a vector is prepared for its metric, and the distance the graph is
 *	  built and searched with.
 *
 * Distances are computed by the kernels of src/common/distance.h, called
 * directly (no fmgr call per candidate).  The graph orders by a value that
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
	int			cap = HNSW_MAX_LEVEL;

	while (cap > 0 && HNSW_NEIGHBOR_TUPLE_SIZE(cap, m) > HNSW_PAGE_FREE_SPACE / 2)
		cap--;
	/* 1 - u is in (0, 1], so the logarithm is finite */
	level = (int) floor(-log(1.0 - u) / log((double) m));
	return Min(level, cap);
}

/*
 * Copy a vector into the form the index stores: normalized for cosine.
 * Returns false if it cannot be indexed (a zero vector under cosine).
 */
bool
HnswPrepareVector(HnswMetric metric, const float *in, float *out, int dim)
{
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
	switch (metric)
	{
		case HNSW_METRIC_L2:
			return VecqKernels.l2_squared(a, b, dim);
		case HNSW_METRIC_IP:
			return -VecqKernels.inner_product(a, b, dim);
		case HNSW_METRIC_COSINE:
			return 1.0 - VecqKernels.inner_product(a, b, dim);
		case HNSW_METRIC_L1:
			return VecqKernels.l1(a, b, dim);
	}
	return 0;					/* keep the compiler quiet */
}

/* The SQL operator's value for a graph distance. */
double
HnswDistanceToSql(HnswMetric metric, double d)
{
	if (metric == HNSW_METRIC_L2)
		return sqrt(d);
	return d;
}
