/*-------------------------------------------------------------------------
 *
 * quant_rbit.c
 *	  1-bit codes of rotated residuals: training, encoding, decoding and
 *	  distances (see quant.h).
 *
 * A vector x is coded against the nearest of a few centroids c (k-means on
 * the build's sample).  Its residual r = x - c, zero-padded to pdim (a
 * power of two), is rotated by P, a fixed random orthogonal map:
 * QUANT_RBIT_ROUNDS rounds of random sign flips, each followed by a
 * normalized Walsh-Hadamard transform.  The code keeps the sign s_i of
 * every rotated coordinate, ||r||^2, and the factor f = ||r||^2 / sum |P r|,
 * so that the estimate of an inner product with the residual,
 *
 *		<r, v> = <P r, P v>  ~  f * <s, P v>,
 *
 * is exact for v = r.  This is the estimator of RaBitQ (Gao and Long,
 * SIGMOD 2024): after the rotation every coordinate carries a share of
 * every dimension, so the signs lose far less than signs of the raw
 * dimensions do, and the factor corrects the signs' inner product with the
 * vector they stand for.  Its error grows with ||r|| and ||v||, which is
 * why residuals are taken from the nearest centroid and queries are
 * compared through q - c (as RaBitQ's IVF indexes do): on clustered data
 * the distance to one global mean is mostly the distance between clusters,
 * and the estimate would blur the neighbours within one.
 *
 * For a query q and a code of centroid c, with u = P q:
 *
 *		t = <s, P (q - c)> = <s, u> - <s, P c>		(<s, P c> stored)
 *		||q - x||^2 = ||q - c||^2 + ||r||^2 - 2 f t
 *		<q, x> = <q, c> + <c, r> + f t				(<c, r> stored)
 *
 * and <s, u> = 2 * (sum of u over the set bits) - sum u, one bits_sum
 * kernel pass.  ||q - c||^2 or <q, c> is computed once per query and
 * centroid, when a code of that centroid is first met.
 *
 * A rotation keeps L2 distances and inner products but not L1 distances:
 * L1 indexes keep the codes of quant_bit.c.
 *
 * src/quant/quant_rbit.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "common/distance.h"
#include "common/pg_prng.h"
#include "port/pg_bitutils.h"
#include "quant/quant.h"

/* the seed of new indexes' signs and k-means (stored results, not assumed) */
#define QUANT_RBIT_SEED		UINT64CONST(0x2c9e5b7a4d1f8e63)

/* k-means: sample rows per centroid, rows it runs on per centroid, rounds */
#define KMEANS_ROWS_PER_CENTROID	100
#define KMEANS_SUBSAMPLE_PER_CENTROID	96
#define KMEANS_ROUNDS	6

/* at most this many floats of rotated centroids per index */
#define MAX_ROTATED_FLOATS	(1 << 18)

int
QuantRbitPaddedDim(int dim)
{
	int			pdim = 8;

	while (pdim < dim)
		pdim <<= 1;
	return pdim;
}

/* Most centroids an index of dim dimensions may have. */
int
QuantRbitMaxCentroids(int dim)
{
	int			k = MAX_ROTATED_FLOATS / QuantRbitPaddedDim(dim);

	return Max(1, Min(k, QUANT_RBIT_MAX_CENTROIDS));
}

Size
QuantRbitParamsSize(int dim, int ncent)
{
	return QUANT_RBIT_PARAMS_HEADER + TYPEALIGN(4, QUANT_RBIT_SIGN_BYTES(dim)) +
		sizeof(float) * (Size) dim * ncent;
}

/*
 * The size of the parameters whose first QUANT_RBIT_PARAMS_HEADER bytes are
 * header, or 0 if that header does not belong to dim dimensions.
 */
Size
QuantRbitParamsSizeFromHeader(int dim, const char *header)
{
	uint32		ncent;
	uint32		pdim;

	memcpy(&ncent, header, sizeof(uint32));
	memcpy(&pdim, header + sizeof(uint32), sizeof(uint32));
	if (ncent < 1 || ncent > (uint32) QuantRbitMaxCentroids(dim) ||
		pdim != (uint32) QuantRbitPaddedDim(dim))
		return 0;
	return QuantRbitParamsSize(dim, (int) ncent);
}


static inline bool
bit_is_set(const uint8 *bits, int i)
{
	return (bits[i >> 3] >> (i & 7)) & 1;
}

/* In-place normalized Walsh-Hadamard transform of n (a power of two) values. */
static void
hadamard(float *a, int n)
{
	float		scale = (float) (1.0 / sqrt((double) n));

	for (int h = 1; h < n; h <<= 1)
		for (int i = 0; i < n; i += h << 1)
			for (int j = i; j < i + h; j++)
			{
				float		x = a[j];
				float		y = a[j + h];

				a[j] = x + y;
				a[j + h] = x - y;
			}
	for (int i = 0; i < n; i++)
		a[i] *= scale;
}

/* out (pdim floats) = P applied to x (dim floats, zero-padded); may alias */
static void
rotate(const QuantRbit *qr, const float *x, float *out)
{
	if (out != x)
		memcpy(out, x, sizeof(float) * qr->dim);
	memset(out + qr->dim, 0, sizeof(float) * (qr->pdim - qr->dim));
	for (int r = 0; r < QUANT_RBIT_ROUNDS; r++)
	{
		const float *sf = qr->signf + (Size) r * qr->pdim;

		for (int i = 0; i < qr->pdim; i++)
			out[i] *= sf[i];
		hadamard(out, qr->pdim);
	}
}

/* y (pdim floats) = the inverse of P applied to y, in place */
static void
unrotate(const QuantRbit *qr, float *y)
{
	for (int r = QUANT_RBIT_ROUNDS - 1; r >= 0; r--)
	{
		const float *sf = qr->signf + (Size) r * qr->pdim;

		hadamard(y, qr->pdim);
		for (int i = 0; i < qr->pdim; i++)
			y[i] *= sf[i];
	}
}

static inline const float *
centroid(const QuantRbit *qr, int k)
{
	return qr->cent + (Size) k * qr->dim;
}

/* Everything derived from the centroids and signs, in CurrentMemoryContext. */
static void
derive(QuantRbit *qr)
{
	int			nc = qr->ncent;

	qr->signf = palloc(sizeof(float) * qr->pdim * QUANT_RBIT_ROUNDS);
	for (int i = 0; i < qr->pdim * QUANT_RBIT_ROUNDS; i++)
		qr->signf[i] = bit_is_set(qr->signs, i) ? -1.0f : 1.0f;
	qr->pcent = palloc(sizeof(float) * qr->pdim * nc);
	qr->psum = palloc(sizeof(double) * nc);
	qr->cdot = palloc(sizeof(double) * nc * nc);
	for (int k = 0; k < nc; k++)
	{
		float	   *p = qr->pcent + (Size) k * qr->pdim;
		double		sum = 0;

		rotate(qr, centroid(qr, k), p);
		for (int i = 0; i < qr->pdim; i++)
			sum += p[i];
		qr->psum[k] = sum;
		for (int j = 0; j <= k; j++)
		{
			double		d = 0;

			for (int i = 0; i < qr->dim; i++)
				d += (double) centroid(qr, k)[i] * centroid(qr, j)[i];
			qr->cdot[k * nc + j] = qr->cdot[j * nc + k] = d;
		}
	}
	qr->scratch = palloc(sizeof(float) * qr->pdim);
}

/* The centroid nearest to x (the first of equals). */
static int
nearest_centroid(const QuantRbit *qr, const float *x)
{
	int			best = 0;
	double		bestd = INFINITY;

	for (int k = 0; k < qr->ncent; k++)
	{
		double		d = VecqKernels.l2_squared(x, centroid(qr, k), qr->dim);

		if (d < bestd)
		{
			bestd = d;
			best = k;
		}
	}
	return best;
}

/*
 * Lloyd's k-means on an evenly spread subset of the n sample rows, from
 * centroids that are rows of it; a centroid left with no rows keeps its
 * place.  Vectors with non-finite values are not in samples.
 */
static void
kmeans(QuantRbit *qr, const float *sample, int n)
{
	int			dim = qr->dim;
	int			nc = qr->ncent;
	int			m = (int) Min((int64) n, (int64) nc * KMEANS_SUBSAMPLE_PER_CENTROID);
	double	   *sums = palloc(sizeof(double) * dim * nc);
	int		   *counts = palloc(sizeof(int) * nc);
	const float **rows = palloc(sizeof(float *) * m);

	for (int i = 0; i < m; i++)
		rows[i] = sample + (Size) ((int64) i * n / m) * dim;
	for (int k = 0; k < nc; k++)
		memcpy(qr->cent + (Size) k * dim, rows[(int64) k * m / nc], sizeof(float) * dim);
	for (int round = 0; round < KMEANS_ROUNDS; round++)
	{
		memset(sums, 0, sizeof(double) * dim * nc);
		memset(counts, 0, sizeof(int) * nc);
		for (int i = 0; i < m; i++)
		{
			int			k = nearest_centroid(qr, rows[i]);
			double	   *s = sums + (Size) k * dim;

			for (int j = 0; j < dim; j++)
				s[j] += rows[i][j];
			counts[k]++;
		}
		for (int k = 0; k < nc; k++)
			if (counts[k] > 0)
				for (int j = 0; j < dim; j++)
					qr->cent[(Size) k * dim + j] =
						(float) (sums[(Size) k * dim + j] / counts[k]);
	}
	pfree(rows);
	pfree(counts);
	pfree(sums);
}

void
QuantRbitTrain(QuantRbit *qr, int dim, const float *sample, int n)
{
	pg_prng_state prng;

	qr->dim = dim;
	qr->pdim = QuantRbitPaddedDim(dim);
	qr->ncent = Max(1, Min(n / KMEANS_ROWS_PER_CENTROID, QuantRbitMaxCentroids(dim)));
	qr->cent = palloc0(sizeof(float) * dim * qr->ncent);
	qr->signs = palloc0(QUANT_RBIT_SIGN_BYTES(dim));
	pg_prng_seed(&prng, QUANT_RBIT_SEED);
	for (Size i = 0; i < QUANT_RBIT_SIGN_BYTES(dim); i++)
		qr->signs[i] = (uint8) pg_prng_uint32(&prng);
	if (qr->ncent > 1)
		kmeans(qr, sample, n);
	else if (n > 0)
	{
		/* one centroid: the mean */
		for (int i = 0; i < dim; i++)
		{
			double		sum = 0;

			for (int r = 0; r < n; r++)
				sum += sample[(Size) r * dim + i];
			qr->cent[i] = (float) (sum / n);
		}
	}
	derive(qr);
}

void
QuantRbitWriteParams(const QuantRbit *qr, char *out)
{
	uint32		ncent = (uint32) qr->ncent;
	uint32		pdim = (uint32) qr->pdim;
	Size		sbytes = QUANT_RBIT_SIGN_BYTES(qr->dim);
	char	   *p = out;

	memset(out, 0, QuantRbitParamsSize(qr->dim, qr->ncent));
	memcpy(p, &ncent, sizeof(uint32));
	memcpy(p + sizeof(uint32), &pdim, sizeof(uint32));
	p += QUANT_RBIT_PARAMS_HEADER;
	memcpy(p, qr->signs, sbytes);
	p += TYPEALIGN(4, sbytes);
	memcpy(p, qr->cent, sizeof(float) * qr->dim * qr->ncent);
}

/* Set up qr from params of QuantRbitParamsSizeFromHeader's size (nonzero). */
void
QuantRbitFromParams(QuantRbit *qr, int dim, const char *params)
{
	uint32		ncent;
	Size		sbytes = QUANT_RBIT_SIGN_BYTES(dim);
	const char *p = params + QUANT_RBIT_PARAMS_HEADER;

	Assert(QuantRbitParamsSizeFromHeader(dim, params) > 0);
	memcpy(&ncent, params, sizeof(uint32));
	qr->dim = dim;
	qr->pdim = QuantRbitPaddedDim(dim);
	qr->ncent = (int) ncent;
	qr->signs = palloc(sbytes);
	memcpy(qr->signs, p, sbytes);
	p += TYPEALIGN(4, sbytes);
	qr->cent = palloc(sizeof(float) * dim * qr->ncent);
	memcpy(qr->cent, p, sizeof(float) * dim * qr->ncent);
	/* not something QuantRbitTrain writes: keep the arithmetic finite */
	for (Size i = 0; i < (Size) dim * qr->ncent; i++)
		if (!isfinite(qr->cent[i]))
			qr->cent[i] = 0;
	derive(qr);
}

/*
 * The multiple g * s of the signs s closest to the rotated residual y:
 * g = <s, y> / pdim = sum |y| / pdim = ||r||^2 / (factor * pdim).  (The
 * factor scales the signs' inner products instead, and is larger.)
 */
static inline double
reconstruction_scale(const QuantRbit *qr, const QuantRbitCode *code)
{
	if (!(code->factor > 0))
		return 0;
	return (double) code->sqnorm / ((double) code->factor * qr->pdim);
}

static inline int
code_centroid(const QuantRbit *qr, const QuantRbitCode *code)
{
	/* vecq_index_check reports others; never read past the centroids */
	return code->centroid < qr->ncent ? code->centroid : 0;
}

/* <s, v> for the signs of bits and pdim values v */
static inline double
signs_dot(const float *v, double vsum, const uint8 *bits, int pdim)
{
	return 2.0 * VecqKernels.bits_sum(v, bits, pdim) - vsum;
}

void
QuantRbitEncode(const QuantRbit *qr, const float *x, QuantRbitCode *code)
{
	float	   *y = qr->scratch;
	int			k = nearest_centroid(qr, x);
	const float *c = centroid(qr, k);
	double		sq = 0;
	double		rc = 0;
	double		abssum = 0;

	for (int i = 0; i < qr->dim; i++)
	{
		double		r = (double) x[i] - c[i];

		y[i] = (float) r;
		sq += r * r;
		rc += r * c[i];
	}
	rotate(qr, y, y);
	memset(code->bits, 0, qr->pdim / 8);
	for (int i = 0; i < qr->pdim; i++)
	{
		if (y[i] > 0)
			code->bits[i >> 3] |= (uint8) (1 << (i & 7));
		abssum += fabs(y[i]);
	}
	code->centroid = (uint16) k;
	code->reserved = 0;
	code->sqnorm = (float) sq;
	code->factor = abssum > 0 ? (float) (sq / abssum) : 0;
	code->rdotc = (float) rc;
	code->sdotc = (float) signs_dot(qr->pcent + (Size) k * qr->pdim, qr->psum[k],
									code->bits, qr->pdim);
	if (!isfinite(code->sqnorm) || !isfinite(code->factor) || !isfinite(code->rdotc))
	{
		/* residuals past float4's range: a code that estimates little */
		code->sqnorm = isfinite(code->sqnorm) ? code->sqnorm : FLT_MAX;
		code->factor = 0;
		code->rdotc = 0;
	}
}

void
QuantRbitDecode(const QuantRbit *qr, const QuantRbitCode *code, float *out)
{
	float	   *y = qr->scratch;
	float		g = (float) reconstruction_scale(qr, code);
	const float *c = centroid(qr, code_centroid(qr, code));

	for (int i = 0; i < qr->pdim; i++)
		y[i] = bit_is_set(code->bits, i) ? g : -g;
	unrotate(qr, y);
	for (int i = 0; i < qr->dim; i++)
		out[i] = c[i] + y[i];
}

/* Allocate a query's arrays (in CurrentMemoryContext). */
void
QuantRbitQueryInit(const QuantRbit *qr, QuantRbitQuery *q)
{
	memset(q, 0, sizeof(*q));
	q->qr = qr;
	q->u = palloc(sizeof(float) * qr->pdim);
	q->bits = palloc(qr->pdim / 8);
	q->cterm = palloc(sizeof(double) * qr->ncent);
	q->stamp = palloc0(sizeof(uint32) * qr->ncent);
}

static void
begin_query(QuantRbitQuery *q, QuantDistance kind)
{
	Assert(kind == QUANT_DIST_L2SQ || kind == QUANT_DIST_DOT);
	q->kind = kind;
	/* a new generation: no centroid's term is known yet */
	if (++q->gen == 0)
	{
		memset(q->stamp, 0, sizeof(uint32) * q->qr->ncent);
		q->gen = 1;
	}
}

void
QuantRbitPrepareQuery(QuantRbitQuery *q, QuantDistance kind, const float *x)
{
	double		usum = 0;

	q->x = x;
	rotate(q->qr, x, q->u);
	for (int i = 0; i < q->qr->pdim; i++)
		usum += q->u[i];
	q->usum = usum;
	begin_query(q, kind);
}

/*
 * A code as the query: the vector it stands for is c + r', r' the residual
 * whose rotation is the reconstruction g * s (its inner product with r is
 * exactly ||r||^2, so a code is at distance 0 from itself).  Its rotation,
 * P c + g * s, is not formed: the distance takes <s', P c> with one
 * bits_sum pass and <s', s> from the Hamming distance of the two codes.
 */
void
QuantRbitPrepareCode(QuantRbitQuery *q, QuantDistance kind, const QuantRbitCode *code)
{
	const QuantRbit *qr = q->qr;

	q->x = NULL;
	q->qcent = code_centroid(qr, code);
	q->qscale = reconstruction_scale(qr, code);
	q->qsqnorm = code->sqnorm;
	q->qrdotc = code->rdotc;
	memcpy(q->bits, code->bits, qr->pdim / 8);
	begin_query(q, kind);
}

/* Hamming distance of two codes' pdim bits (pdim a multiple of 8) */
static int
hamming(const uint8 *a, const uint8 *b, int pdim)
{
	int			n = 0;
	int			i = 0;

	for (; i + 8 <= pdim / 8; i += 8)
	{
		uint64		x;
		uint64		y;

		memcpy(&x, a + i, sizeof(x));
		memcpy(&y, b + i, sizeof(y));
		n += pg_popcount64(x ^ y);
	}
	for (; i < pdim / 8; i++)
		n += pg_number_of_ones[a[i] ^ b[i]];
	return n;
}

/* ||q - c_k||^2 (L2) or <q, c_k> (inner product), once per query */
static double
centroid_term(const QuantRbitQuery *q, int k)
{
	const QuantRbit *qr = q->qr;
	int			nc = qr->ncent;
	double		t;

	if (q->stamp[k] == q->gen)
		return q->cterm[k];
	if (q->x != NULL)
		t = q->kind == QUANT_DIST_L2SQ ?
			VecqKernels.l2_squared(q->x, centroid(qr, k), qr->dim) :
			VecqKernels.inner_product(q->x, centroid(qr, k), qr->dim);
	else
	{
		int			a = q->qcent;
		double		rc;			/* <r', c_k> */

		if (k == a)
			rc = q->qrdotc;
		else
			rc = q->qscale * signs_dot(qr->pcent + (Size) k * qr->pdim, qr->psum[k],
									   q->bits, qr->pdim);
		if (q->kind == QUANT_DIST_L2SQ)
			t = qr->cdot[a * nc + a] - 2 * qr->cdot[a * nc + k] + qr->cdot[k * nc + k] +
				q->qsqnorm + 2 * q->qrdotc - 2 * rc;
		else
			t = qr->cdot[a * nc + k] + rc;
	}
	q->cterm[k] = t;
	q->stamp[k] = q->gen;
	return t;
}

double
QuantRbitDistance(const QuantRbitQuery *q, const QuantRbitCode *code)
{
	const QuantRbit *qr = q->qr;
	int			k = code_centroid(qr, code);
	double		ct = centroid_term(q, k);
	double		t;

	if (q->x != NULL)
		t = signs_dot(q->u, q->usum, code->bits, qr->pdim);
	else
	{
		int			a = q->qcent;

		/* <s, P c_a + g s'> */
		t = signs_dot(qr->pcent + (Size) a * qr->pdim, qr->psum[a], code->bits, qr->pdim) +
			q->qscale * (qr->pdim - 2 * hamming(q->bits, code->bits, qr->pdim));
	}
	t -= code->sdotc;

	if (q->kind == QUANT_DIST_L2SQ)
		return ct + code->sqnorm - 2.0 * code->factor * t;
	return ct + code->rdotc + code->factor * t;
}
