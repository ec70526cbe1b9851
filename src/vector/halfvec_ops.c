/*-------------------------------------------------------------------------
 *
 * halfvec_ops.c
 *	  SQL functions, operators and aggregates on halfvec: distances, norms,
 *	  element-wise arithmetic, concatenation, slicing, binary quantization,
 *	  comparisons (btree), hashing, avg and sum.
 *
 * Distances go through the half_* kernels of common/distance.h (halves
 * widened to float4, then vector's kernels: the same accuracy).  Arithmetic
 * widens each element to float4, operates there and rounds the result to a
 * half: float4 has more than twice a half's precision (24 >= 2 * 11 + 2
 * bits), so that double rounding gives the correctly rounded half result,
 * as a native binary16 operation would.  Overflow past 65504 and underflow
 * of a product raise PostgreSQL's float errors, as for vector.
 *
 * The aggregates share vector's float8[] state and combine function
 * (vector_agg.c): sums are kept in double and only the result is rounded.
 *
 * src/vector/halfvec_ops.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "utils/array.h"
#include "utils/float.h"
#include "utils/varbit.h"

#include "common/distance.h"
#include "common/half.h"
#include "vector/vector.h"

/* the second operand, which must have the dimension of the first, a */
static inline HalfVector *
second_operand(FunctionCallInfo fcinfo, const HalfVector *a)
{
	HalfVector *b = PG_GETARG_HALFVEC_OPERAND(1);

	VecqCheckSameDims("halfvec", a->dim, b->dim);
	return b;
}

#define HALFVEC_DISTANCE_FUNCTION(name, expr) \
PG_FUNCTION_INFO_V1(name); \
Datum \
name(PG_FUNCTION_ARGS) \
{ \
	HalfVector *a = PG_GETARG_HALFVEC_OPERAND(0); \
	HalfVector *b = second_operand(fcinfo, a); \
\
	PG_RETURN_FLOAT8(expr); \
}

/* l2_distance(halfvec, halfvec) -> float8, the <-> operator */
HALFVEC_DISTANCE_FUNCTION(halfvec_l2_distance,
						  sqrt(VecqKernels.half_l2_squared(a->x, b->x, a->dim)))
/* halfvec_l2_squared_distance: its square (index support) */
HALFVEC_DISTANCE_FUNCTION(halfvec_l2_squared_distance,
						  VecqKernels.half_l2_squared(a->x, b->x, a->dim))
/* inner_product(halfvec, halfvec) */
HALFVEC_DISTANCE_FUNCTION(halfvec_inner_product,
						  VecqKernels.half_inner_product(a->x, b->x, a->dim))
/* halfvec_negative_inner_product: the <#> operator */
HALFVEC_DISTANCE_FUNCTION(halfvec_negative_inner_product,
						  -VecqKernels.half_inner_product(a->x, b->x, a->dim))
/* cosine_distance(halfvec, halfvec), the <=> operator; NaN for a zero vector */
HALFVEC_DISTANCE_FUNCTION(halfvec_cosine_distance,
						  VecqCosineDistanceFromParts(VecqKernels.half_cosine_parts(a->x, b->x, a->dim)))
/* l1_distance(halfvec, halfvec), the <+> operator */
HALFVEC_DISTANCE_FUNCTION(halfvec_l1_distance,
						  VecqKernels.half_l1(a->x, b->x, a->dim))

/*
 * vector_dims(halfvec) -> int4
 */
PG_FUNCTION_INFO_V1(halfvec_vector_dims);
Datum
halfvec_vector_dims(PG_FUNCTION_ARGS)
{
	HalfVector *a = PG_GETARG_HALFVEC_P(0);

	PG_RETURN_INT32(a->dim);
}

/*
 * l2_norm(halfvec) -> float8: the Euclidean norm
 */
PG_FUNCTION_INFO_V1(halfvec_l2_norm);
Datum
halfvec_l2_norm(PG_FUNCTION_ARGS)
{
	HalfVector *a = PG_GETARG_HALFVEC_P(0);

	PG_RETURN_FLOAT8(sqrt(VecqKernels.half_norm_squared(a->x, a->dim)));
}

/*
 * l2_normalize(halfvec) -> halfvec: a / |a| (divided in double, rounded to
 * float4 and then to a half, as pgvector does), or the zero vector
 * unchanged.  Elements of a unit vector are at most 1: nothing overflows.
 */
PG_FUNCTION_INFO_V1(halfvec_l2_normalize);
Datum
halfvec_l2_normalize(PG_FUNCTION_ARGS)
{
	HalfVector *a = PG_GETARG_HALFVEC_P(0);
	HalfVector *result = HalfVectorAllocate(a->dim);
	double		norm = sqrt(VecqKernels.half_norm_squared(a->x, a->dim));

	if (norm > 0)
	{
		for (int i = 0; i < a->dim; i++)
			result->x[i] = VecqFloatToHalf((float) ((double) VecqHalfToFloat(a->x[i]) / norm));
	}
	PG_RETURN_HALFVEC_P(result);
}

typedef enum HalfOp
{
	HALF_ADD,
	HALF_SUB,
	HALF_MUL
} HalfOp;

/*
 * An element-wise operation: in float4, rounded to halves, with the float
 * errors of vector's arithmetic (overflow: an infinite result; underflow: a
 * product of non-zero elements that rounds to zero).
 */
static HalfVector *
elementwise(const HalfVector *a, const HalfVector *b, HalfOp op)
{
	HalfVector *result = HalfVectorAllocate(a->dim);

	for (int i = 0; i < a->dim; i++)
	{
		float		x = VecqHalfToFloat(a->x[i]);
		float		y = VecqHalfToFloat(b->x[i]);
		float		r;
		uint16		h;

		switch (op)
		{
			case HALF_ADD:
				r = x + y;
				break;
			case HALF_SUB:
				r = x - y;
				break;
			default:
				r = x * y;
				break;
		}
		h = VecqFloatToHalf(r);
		if (unlikely(VecqHalfIsInf(h)))
			float_overflow_error();
		if (op == HALF_MUL && unlikely((h & 0x7fff) == 0) && x != 0 && y != 0)
			float_underflow_error();
		result->x[i] = h;
	}
	return result;
}

/* halfvec_add(halfvec, halfvec) -> halfvec, the + operator */
PG_FUNCTION_INFO_V1(halfvec_add);
Datum
halfvec_add(PG_FUNCTION_ARGS)
{
	HalfVector *a = PG_GETARG_HALFVEC_P(0);
	HalfVector *b = second_operand(fcinfo, a);

	PG_RETURN_HALFVEC_P(elementwise(a, b, HALF_ADD));
}

/* halfvec_sub(halfvec, halfvec) -> halfvec, the - operator */
PG_FUNCTION_INFO_V1(halfvec_sub);
Datum
halfvec_sub(PG_FUNCTION_ARGS)
{
	HalfVector *a = PG_GETARG_HALFVEC_P(0);
	HalfVector *b = second_operand(fcinfo, a);

	PG_RETURN_HALFVEC_P(elementwise(a, b, HALF_SUB));
}

/* halfvec_mul(halfvec, halfvec) -> halfvec, the * operator (element-wise) */
PG_FUNCTION_INFO_V1(halfvec_mul);
Datum
halfvec_mul(PG_FUNCTION_ARGS)
{
	HalfVector *a = PG_GETARG_HALFVEC_P(0);
	HalfVector *b = second_operand(fcinfo, a);

	PG_RETURN_HALFVEC_P(elementwise(a, b, HALF_MUL));
}

/* halfvec_concat(halfvec, halfvec) -> halfvec, the || operator */
PG_FUNCTION_INFO_V1(halfvec_concat);
Datum
halfvec_concat(PG_FUNCTION_ARGS)
{
	HalfVector *a = PG_GETARG_HALFVEC_P(0);
	HalfVector *b = PG_GETARG_HALFVEC_P(1);
	int			dim = a->dim + b->dim;
	HalfVector *result;

	VecqCheckDim("halfvec", dim);
	result = HalfVectorAllocate(dim);
	memcpy(result->x, a->x, sizeof(uint16) * a->dim);
	memcpy(result->x + a->dim, b->x, sizeof(uint16) * b->dim);
	PG_RETURN_HALFVEC_P(result);
}

/*
 * subvector(halfvec, start int4, count int4) -> halfvec: elements start ..
 * start + count - 1 (1-based), clipped to the halfvec, as vector's subvector
 */
PG_FUNCTION_INFO_V1(halfvec_subvector);
Datum
halfvec_subvector(PG_FUNCTION_ARGS)
{
	HalfVector *a = PG_GETARG_HALFVEC_P(0);
	int64		start = PG_GETARG_INT32(1);
	int64		count = PG_GETARG_INT32(2);
	int64		end = start + count;
	HalfVector *result;

	start = Max(start, 1);
	end = Min(end, (int64) a->dim + 1);
	if (end <= start)
		VecqCheckDim("halfvec", 0);

	result = HalfVectorAllocate((int) (end - start));
	memcpy(result->x, a->x + (start - 1), sizeof(uint16) * (end - start));
	PG_RETURN_HALFVEC_P(result);
}

/* binary_quantize(halfvec) -> bit: 1 where the element is above zero */
PG_FUNCTION_INFO_V1(halfvec_binary_quantize);
Datum
halfvec_binary_quantize(PG_FUNCTION_ARGS)
{
	HalfVector *v = PG_GETARG_HALFVEC_P(0);
	int			len = VARBITTOTALLEN(v->dim);
	VarBit	   *result = palloc0(len);
	bits8	   *out;

	SET_VARSIZE(result, len);
	VARBITLEN(result) = v->dim;
	out = VARBITS(result);
	for (int i = 0; i < v->dim; i++)
	{
		/* above zero: sign clear and not +0 (elements are never NaN) */
		if ((v->x[i] & 0x8000) == 0 && v->x[i] != 0)
			out[i / 8] |= (bits8) (0x80 >> (i % 8));
	}
	PG_RETURN_VARBIT_P(result);
}

/*
 * Total order for the btree opclass, as for vector: element by element
 * (numerically: -0 equals 0), then the shorter first.
 */
static int
halfvec_cmp_internal(const HalfVector *a, const HalfVector *b)
{
	int			n = Min(a->dim, b->dim);

	for (int i = 0; i < n; i++)
	{
		float		x = VecqHalfToFloat(a->x[i]);
		float		y = VecqHalfToFloat(b->x[i]);

		if (x < y)
			return -1;
		if (x > y)
			return 1;
	}
	if (a->dim < b->dim)
		return -1;
	if (a->dim > b->dim)
		return 1;
	return 0;
}

#define HALFVEC_CMP_FUNCTION(name, test) \
PG_FUNCTION_INFO_V1(name); \
Datum \
name(PG_FUNCTION_ARGS) \
{ \
	HalfVector *a = PG_GETARG_HALFVEC_P(0); \
	HalfVector *b = PG_GETARG_HALFVEC_P(1); \
	int			c = halfvec_cmp_internal(a, b); \
\
	PG_FREE_IF_COPY(a, 0); \
	PG_FREE_IF_COPY(b, 1); \
	PG_RETURN_BOOL(test); \
}

HALFVEC_CMP_FUNCTION(halfvec_lt, c < 0)
HALFVEC_CMP_FUNCTION(halfvec_le, c <= 0)
HALFVEC_CMP_FUNCTION(halfvec_eq, c == 0)
HALFVEC_CMP_FUNCTION(halfvec_ne, c != 0)
HALFVEC_CMP_FUNCTION(halfvec_ge, c >= 0)
HALFVEC_CMP_FUNCTION(halfvec_gt, c > 0)

/*
 * halfvec_cmp(halfvec, halfvec) -> int4, btree support function 1
 */
PG_FUNCTION_INFO_V1(halfvec_cmp);
Datum
halfvec_cmp(PG_FUNCTION_ARGS)
{
	HalfVector *a = PG_GETARG_HALFVEC_P(0);
	HalfVector *b = PG_GETARG_HALFVEC_P(1);
	int			c = halfvec_cmp_internal(a, b);

	PG_FREE_IF_COPY(a, 0);
	PG_FREE_IF_COPY(b, 1);
	PG_RETURN_INT32(c);
}

/*
 * Hash consistent with halfvec_eq: equal halves have equal bits except -0
 * and 0, so a -0 is hashed as 0.  seed is 0 for the 32-bit hash.
 */
static uint64
halfvec_hash_internal(const HalfVector *a, uint64 seed)
{
	const uint16 *x = a->x;
	uint16	   *copy = NULL;
	uint64		h;

	for (int i = 0; i < a->dim; i++)
	{
		if (x[i] == 0x8000)
		{
			/* rare: hash a copy with every -0 made +0 */
			copy = palloc(sizeof(uint16) * a->dim);
			for (int j = 0; j < a->dim; j++)
				copy[j] = x[j] == 0x8000 ? 0 : x[j];
			x = copy;
			break;
		}
	}
	h = DatumGetUInt64(hash_any_extended((const unsigned char *) x,
										 sizeof(uint16) * a->dim, seed));
	if (copy != NULL)
		pfree(copy);
	return h;
}

/* halfvec_hash(halfvec) -> int4, hash opclass support function 1 */
PG_FUNCTION_INFO_V1(halfvec_hash);
Datum
halfvec_hash(PG_FUNCTION_ARGS)
{
	HalfVector *a = PG_GETARG_HALFVEC_P(0);

	PG_RETURN_INT32((int32) halfvec_hash_internal(a, 0));
}

/* halfvec_hash_extended(halfvec, int8) -> int8, support function 2 */
PG_FUNCTION_INFO_V1(halfvec_hash_extended);
Datum
halfvec_hash_extended(PG_FUNCTION_ARGS)
{
	HalfVector *a = PG_GETARG_HALFVEC_P(0);

	PG_RETURN_INT64((int64) halfvec_hash_internal(a, (uint64) PG_GETARG_INT64(1)));
}

/* ---------------- aggregates ---------------- */

/*
 * halfvec_accum(float8[], halfvec) -> float8[]: transition function of
 * avg(halfvec) and sum(halfvec), on vector's state (vector_accum_state owns
 * its layout and its in-place update)
 */
PG_FUNCTION_INFO_V1(halfvec_accum);
Datum
halfvec_accum(PG_FUNCTION_ARGS)
{
	HalfVector *hv = PG_GETARG_HALFVEC_P(1);
	float8	   *sums;
	ArrayType  *state = vector_accum_state(fcinfo, "halfvec", hv->dim, &sums);

	for (int i = 0; i < hv->dim; i++)
		sums[i] += VecqHalfToFloat(hv->x[i]);
	PG_RETURN_ARRAYTYPE_P(state);
}

/* the sums of a state (divided by the count if average) as a halfvec */
static Datum
state_to_halfvec(FunctionCallInfo fcinfo, bool average)
{
	Datum		vd;
	Vector	   *v;
	HalfVector *result;

	vd = average ? vector_avg(fcinfo) : vector_sum(fcinfo);
	if (fcinfo->isnull)
		return (Datum) 0;
	v = DatumGetVector(vd);
	result = HalfVectorAllocate(v->dim);
	for (int i = 0; i < v->dim; i++)
		result->x[i] = HalfFromFloatChecked(v->x[i]);
	PG_RETURN_HALFVEC_P(result);
}

/* halfvec_avg(float8[]) -> halfvec: final function of avg(halfvec) */
PG_FUNCTION_INFO_V1(halfvec_avg);
Datum
halfvec_avg(PG_FUNCTION_ARGS)
{
	return state_to_halfvec(fcinfo, true);
}

/* halfvec_sum(float8[]) -> halfvec: final function of sum(halfvec) */
PG_FUNCTION_INFO_V1(halfvec_sum);
Datum
halfvec_sum(PG_FUNCTION_ARGS)
{
	return state_to_halfvec(fcinfo, false);
}
