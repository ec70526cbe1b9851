/*-------------------------------------------------------------------------
 *
 * quant_sq8.c
 *	  SQ8 codes: training, encoding, decoding and distances (see quant.h).
 *
 * Training takes, per dimension, the smallest and largest value of the
 * sample: with the tens of thousands of rows the build samples, values
 * outside that range are rare, and the ones that come are clamped with an
 * exact error, so bounds stay valid; they only lose precision.
 *
 * src/quant/quant_sq8.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "common/distance.h"
#include "quant/quant.h"

/* the largest code */
#define SQ8_MAX_CODE	255

/* Fill the derived arrays of sq from lo[] and step[]. */
static void
derive(QuantSq8 *sq)
{
	for (int i = 0; i < sq->dim; i++)
	{
		double		s = sq->step[i];

		sq->inv_step[i] = s > 0 ? (float) (1.0 / s) : 0.0f;
		sq->step_sq[i] = (float) (s * s);
	}
}

static void
allocate(QuantSq8 *sq, int dim)
{
	sq->dim = dim;
	sq->lo = palloc0(sizeof(float) * dim);
	sq->step = palloc0(sizeof(float) * dim);
	sq->inv_step = palloc0(sizeof(float) * dim);
	sq->step_sq = palloc0(sizeof(float) * dim);
}

void
QuantSq8Train(QuantSq8 *sq, int dim, const float *sample, int n)
{
	allocate(sq, dim);
	if (n == 0)
	{
		/* nothing to learn from: the range of unit-length embeddings */
		for (int i = 0; i < dim; i++)
		{
			sq->lo[i] = -1.0f;
			sq->step[i] = (float) (2.0 / SQ8_MAX_CODE);
		}
		derive(sq);
		return;
	}
	for (int i = 0; i < dim; i++)
	{
		double		lo = sample[i];
		double		hi = lo;
		double		step;

		for (int r = 1; r < n; r++)
		{
			double		x = sample[(Size) r * dim + i];

			lo = Min(lo, x);
			hi = Max(hi, x);
		}
		step = (hi - lo) / SQ8_MAX_CODE;
		/* a step that underflows float4 makes the dimension constant */
		if (!(step >= FLT_MIN) || step > FLT_MAX)
			step = step > FLT_MAX ? FLT_MAX : 0;
		sq->lo[i] = (float) lo;
		sq->step[i] = (float) step;
	}
	derive(sq);
}

void
QuantSq8FromParams(QuantSq8 *sq, int dim, const float *lo, const float *step)
{
	allocate(sq, dim);
	memcpy(sq->lo, lo, sizeof(float) * dim);
	memcpy(sq->step, step, sizeof(float) * dim);
	for (int i = 0; i < dim; i++)
		if (!(sq->step[i] >= 0) || isinf(sq->step[i]) || !isfinite(sq->lo[i]))
		{
			/* not something QuantSq8Train writes: treat as constant */
			sq->step[i] = 0;
			if (!isfinite(sq->lo[i]))
				sq->lo[i] = 0;
		}
	derive(sq);
}

/* round up a non-negative error so the stored float4 is never too small */
static float
error_up(double e)
{
	float		f = (float) e;

	if ((double) f < e)
		f = nextafterf(f, FLT_MAX);
	return f;
}

bool
QuantSq8Encode(const QuantSq8 *sq, const float *x, QuantSq8Code *out)
{
	bool		clamped = false;
	double		e2 = 0;
	double		e1 = 0;

	for (int i = 0; i < sq->dim; i++)
	{
		double		lo = sq->lo[i];
		double		step = sq->step[i];
		double		u = step > 0 ? ((double) x[i] - lo) / step : 0;
		int			c;
		double		d;

		if (u < -0.5 || u > SQ8_MAX_CODE + 0.5 || (step == 0 && x[i] != sq->lo[i]))
			clamped = true;
		c = u <= 0 ? 0 : u >= SQ8_MAX_CODE ? SQ8_MAX_CODE : (int) rint(u);
		out->codes[i] = (uint8) c;
		/* the decoded value exactly as QuantSq8Decode computes it */
		d = (double) x[i] - (double) (float) (lo + c * step);
		e2 += d * d;
		e1 += fabs(d);
	}
	/* a little more than the rounding of the sums, never too small */
	out->err_l2 = error_up(sqrt(e2) * (1 + 1e-9));
	out->err_l1 = error_up(e1 * (1 + 1e-9));
	return clamped;
}

void
QuantSq8Decode(const QuantSq8 *sq, const QuantSq8Code *code, float *out)
{
	for (int i = 0; i < sq->dim; i++)
		out[i] = (float) ((double) sq->lo[i] + code->codes[i] * (double) sq->step[i]);
}

/* The fields of a prepared query that do not depend on the vector. */
static void
query_start(const QuantSq8 *sq, QuantDistance kind, QuantSq8Query *q)
{
	q->kind = kind;
	q->dim = sq->dim;
	q->base = 0;
	q->dot_abs = 0;
	q->qerr = 0;
	q->w = kind == QUANT_DIST_L2SQ ? sq->step_sq :
		kind == QUANT_DIST_L1 ? sq->step : NULL;
}

void
QuantSq8PrepareQuery(const QuantSq8 *sq, QuantDistance kind, const float *x,
					 QuantSq8Query *q)
{
	double		norm = 0;

	query_start(sq, kind, q);
	for (int i = 0; i < sq->dim; i++)
	{
		double		xi = x[i];
		double		lo = sq->lo[i];

		norm += xi * xi;
		switch (kind)
		{
			case QUANT_DIST_L2SQ:
			case QUANT_DIST_L1:
				if (sq->step[i] > 0)
				{
					/* rounding to float4: at most 2^-24 relative, or subnormal */
					double		r = fabs((double) (q->q[i] = (float) ((xi - lo) / sq->step[i]))) *
						(1.0 / 16777216.0) + 1e-44;

					q->qerr += kind == QUANT_DIST_L1 ? sq->step[i] * r :
						(double) sq->step_sq[i] * r * r;
				}
				else
				{
					/* constant dimension: its term is in base */
					q->q[i] = 0;
					q->base += kind == QUANT_DIST_L1 ? fabs(xi - lo) : (xi - lo) * (xi - lo);
				}
				break;
			case QUANT_DIST_DOT:
				q->q[i] = (float) (xi * sq->step[i]);
				q->base += xi * lo;
				q->dot_abs += fabs(xi * sq->step[i]) * SQ8_MAX_CODE;
				break;
		}
	}
	q->norm = sqrt(norm);
	if (kind == QUANT_DIST_L2SQ)
		q->qerr = sqrt(q->qerr);
}

void
QuantSq8PrepareCode(const QuantSq8 *sq, QuantDistance kind,
					const QuantSq8Code *code, QuantSq8Query *q)
{
	double		norm = 0;

	query_start(sq, kind, q);
	if (kind != QUANT_DIST_DOT)
	{
		/* the codes are the query in code units; equal in constant dimensions */
		for (int i = 0; i < sq->dim; i++)
			q->q[i] = (float) code->codes[i];
		q->norm = 0;			/* only inner-product bounds use it */
		return;
	}
	for (int i = 0; i < sq->dim; i++)
	{
		double		x = (double) sq->lo[i] + code->codes[i] * (double) sq->step[i];

		/* x . decoded = sum x lo + sum (x step) code */
		norm += x * x;
		q->q[i] = (float) (x * sq->step[i]);
		q->base += x * sq->lo[i];
		q->dot_abs += fabs(x * sq->step[i]) * SQ8_MAX_CODE;
	}
	q->norm = sqrt(norm);
}

double
QuantSq8Distance(const QuantSq8Query *q, const QuantSq8Code *code)
{
	switch (q->kind)
	{
		case QUANT_DIST_L2SQ:
			return q->base + VecqKernels.sq8_l2(q->q, q->w, code->codes, q->dim);
		case QUANT_DIST_DOT:
			return q->base + VecqKernels.sq8_dot(q->q, code->codes, q->dim);
		case QUANT_DIST_L1:
			return q->base + VecqKernels.sq8_l1(q->q, q->w, code->codes, q->dim);
	}
	return 0;					/* keep the compiler quiet */
}

double
QuantSq8Rounding(const QuantSq8Query *q, double d)
{
	/*
	 * The kernel's float4 sum is within VECQ_SQ8_REL_ERROR of the sum of
	 * its absolute terms: that sum is d - base for L2 and L1 (all terms
	 * non-negative), at most dot_abs for the inner product.  The query's
	 * conversion to code units rounds each q[i] by r[i]: for L2 that moves
	 * the sum by at most 2 sqrt(d) qerr + qerr^2 (Cauchy-Schwarz), for L1
	 * by qerr; for the inner product the allowance above already covers it.
	 * The constant term is summed in double.
	 */
	double		slack;

	if (q->kind == QUANT_DIST_DOT)
		slack = VECQ_SQ8_REL_ERROR * q->dot_abs;
	else if (q->kind == QUANT_DIST_L2SQ)
		slack = VECQ_SQ8_REL_ERROR * fabs(d - q->base) +
			2 * sqrt(fabs(d)) * q->qerr + q->qerr * q->qerr;
	else
		slack = VECQ_SQ8_REL_ERROR * fabs(d - q->base) + q->qerr;
	return slack + 1e-9 * fabs(q->base) + 1e-30;
}
