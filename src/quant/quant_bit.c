/*-------------------------------------------------------------------------
 *
 * quant_bit.c
 *	  1-bit codes: training, encoding, decoding and distances (see quant.h).
 *
 * Mean-centred sign bits: the bit says on which side of the sample's mean
 * a value lies, which keeps the bits balanced on data whose dimensions are
 * not centred at 0 (pixel intensities, all-positive features), where plain
 * sign bits would be nearly all set.  The decoded value, mean +- the mean
 * absolute deviation, is what the distances use: per dimension the
 * query's term takes one of two values, so a distance is a constant plus
 * a sum over the set bits.  2-bit codes would halve the decoding error for
 * twice the bytes; SQ8 (8 bits) is there when that matters.
 *
 * New indexes use these codes for L1 only: quant_rbit.c codes rotated
 * residuals, far more accurate per bit, for the distances a rotation keeps.
 *
 * src/quant/quant_bit.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "common/distance.h"
#include "quant/quant.h"

static void
allocate(QuantBit *qb, int dim)
{
	qb->dim = dim;
	qb->mean = palloc0(sizeof(float) * dim);
	qb->dev = palloc0(sizeof(float) * dim);
}

void
QuantBitTrain(QuantBit *qb, int dim, const float *sample, int n)
{
	allocate(qb, dim);
	if (n == 0)
	{
		/* nothing to learn from: unit-length embeddings centred at 0 */
		for (int i = 0; i < dim; i++)
			qb->dev[i] = (float) (1.0 / sqrt((double) dim));
		return;
	}
	for (int i = 0; i < dim; i++)
	{
		double		sum = 0;
		double		dev = 0;
		double		mean;

		for (int r = 0; r < n; r++)
			sum += sample[(Size) r * dim + i];
		mean = sum / n;
		for (int r = 0; r < n; r++)
			dev += fabs(sample[(Size) r * dim + i] - mean);
		qb->mean[i] = (float) mean;
		qb->dev[i] = (float) (dev / n);
	}
}

void
QuantBitFromParams(QuantBit *qb, int dim, const float *mean, const float *dev)
{
	allocate(qb, dim);
	for (int i = 0; i < dim; i++)
	{
		/* not something QuantBitTrain writes: a dimension with no spread */
		qb->mean[i] = isfinite(mean[i]) ? mean[i] : 0;
		qb->dev[i] = isfinite(dev[i]) && dev[i] >= 0 ? dev[i] : 0;
	}
}

void
QuantBitEncode(const QuantBit *qb, const float *x, uint8 *code)
{
	memset(code, 0, QUANT_BIT_CODE_SIZE(qb->dim));
	for (int i = 0; i < qb->dim; i++)
		if (x[i] > qb->mean[i])
			code[i >> 3] |= (uint8) (1 << (i & 7));
}

void
QuantBitDecode(const QuantBit *qb, const uint8 *code, float *out)
{
	for (int i = 0; i < qb->dim; i++)
	{
		bool		set = (code[i >> 3] >> (i & 7)) & 1;

		out[i] = set ? qb->mean[i] + qb->dev[i] : qb->mean[i] - qb->dev[i];
	}
}

void
QuantBitPrepareQuery(const QuantBit *qb, QuantDistance kind, const float *x,
					 QuantBitQuery *q)
{
	double		base = 0;

	q->kind = kind;
	q->dim = qb->dim;
	for (int i = 0; i < qb->dim; i++)
	{
		double		lo = (double) qb->mean[i] - qb->dev[i];	/* bit clear */
		double		hi = (double) qb->mean[i] + qb->dev[i];	/* bit set */
		double		xi = x[i];
		double		tlo,
					thi;

		switch (kind)
		{
			case QUANT_DIST_L2SQ:
				tlo = (xi - lo) * (xi - lo);
				thi = (xi - hi) * (xi - hi);
				break;
			case QUANT_DIST_DOT:
				tlo = xi * lo;
				thi = xi * hi;
				break;
			default:
				tlo = fabs(xi - lo);
				thi = fabs(xi - hi);
				break;
		}
		base += tlo;
		q->u[i] = (float) (thi - tlo);
	}
	q->base = base;
}

void
QuantBitPrepareCode(const QuantBit *qb, QuantDistance kind, const uint8 *code,
					QuantBitQuery *q)
{
	QuantBitDecode(qb, code, q->scratch);
	QuantBitPrepareQuery(qb, kind, q->scratch, q);
}

double
QuantBitDistance(const QuantBitQuery *q, const uint8 *code)
{
	return q->base + VecqKernels.bits_sum(q->u, code, q->dim);
}
