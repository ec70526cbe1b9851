/*-------------------------------------------------------------------------
 *
 * vector_ops.c
 *	  SQL functions and operators on vectors: distances, norms, element-wise
 *	  arithmetic, concatenation, slicing and the comparisons behind the btree
 *	  opclass.
 *
 * Every distance is computed by the kernels in common/distance.h; this file
 * only checks operands and shapes results.
 *
 * Leakproof: the comparison and hash functions, vector_dims, vector_norm and
 * l2_normalize cannot raise an error for any pair of valid vectors, so they
 * are declared LEAKPROOF in the install script.  The distances and the
 * arithmetic raise errors that depend on their inputs (different dimensions,
 * overflow), so they are not.
 *
 * src/vector/vector_ops.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "common/hashfn.h"
#include "utils/float.h"

#include "common/distance.h"
#include "vector/vector.h"

/* the second operand, which must have the dimension of the first, a */
static inline Vector *
second_operand(FunctionCallInfo fcinfo, const Vector *a)
{
	Vector	   *b = PG_GETARG_VECTOR_OPERAND(1);

	VectorCheckSameDims(a, b);
	return b;
}

/*
 * l2_distance(vector, vector) -> float8, the <-> operator
 */
PG_FUNCTION_INFO_V1(l2_distance);
Datum
l2_distance(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_OPERAND(0);
	Vector	   *b = second_operand(fcinfo, a);

	PG_RETURN_FLOAT8(sqrt(VecqKernels.l2_squared(a->x, b->x, a->dim)));
}

/*
 * vector_l2_squared_distance(vector, vector) -> float8: the square of
 * l2_distance, which orders the same and needs no square root (index support)
 */
PG_FUNCTION_INFO_V1(vector_l2_squared_distance);
Datum
vector_l2_squared_distance(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_OPERAND(0);
	Vector	   *b = second_operand(fcinfo, a);

	PG_RETURN_FLOAT8(VecqKernels.l2_squared(a->x, b->x, a->dim));
}

/*
 * inner_product(vector, vector) -> float8
 */
PG_FUNCTION_INFO_V1(inner_product);
Datum
inner_product(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_OPERAND(0);
	Vector	   *b = second_operand(fcinfo, a);

	PG_RETURN_FLOAT8(VecqKernels.inner_product(a->x, b->x, a->dim));
}

/*
 * vector_negative_inner_product(vector, vector) -> float8, the <#> operator
 * (negated so that ascending order puts the largest product first)
 */
PG_FUNCTION_INFO_V1(vector_negative_inner_product);
Datum
vector_negative_inner_product(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_OPERAND(0);
	Vector	   *b = second_operand(fcinfo, a);

	PG_RETURN_FLOAT8(-VecqKernels.inner_product(a->x, b->x, a->dim));
}

/*
 * cosine_distance(vector, vector) -> float8, the <=> operator; NaN when
 * either vector is zero
 */
PG_FUNCTION_INFO_V1(cosine_distance);
Datum
cosine_distance(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_OPERAND(0);
	Vector	   *b = second_operand(fcinfo, a);

	PG_RETURN_FLOAT8(VecqCosineDistanceFromParts(VecqKernels.cosine_parts(a->x, b->x, a->dim)));
}

/*
 * l1_distance(vector, vector) -> float8, the <+> operator
 */
PG_FUNCTION_INFO_V1(l1_distance);
Datum
l1_distance(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_OPERAND(0);
	Vector	   *b = second_operand(fcinfo, a);

	PG_RETURN_FLOAT8(VecqKernels.l1(a->x, b->x, a->dim));
}

/*
 * vector_dims(vector) -> int4
 */
PG_FUNCTION_INFO_V1(vector_dims);
Datum
vector_dims(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);

	PG_RETURN_INT32(a->dim);
}

/*
 * vector_norm(vector) -> float8: the Euclidean norm
 */
PG_FUNCTION_INFO_V1(vector_norm);
Datum
vector_norm(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);

	PG_RETURN_FLOAT8(sqrt(VecqKernels.norm_squared(a->x, a->dim)));
}

/*
 * l2_normalize(vector) -> vector: a / |a|, or the zero vector unchanged.
 * The division is done in double so that the result is the float4 nearest
 * to the exact quotient.
 */
PG_FUNCTION_INFO_V1(l2_normalize);
Datum
l2_normalize(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *result = VectorAllocate(a->dim);
	double		norm = sqrt(VecqKernels.norm_squared(a->x, a->dim));

	if (norm > 0)
	{
		for (int i = 0; i < a->dim; i++)
			result->x[i] = (float) ((double) a->x[i] / norm);
	}
	PG_RETURN_VECTOR_P(result);
}

/*
 * Store the float4 result of an element-wise operation, raising PostgreSQL's
 * float4 errors: overflow when finite operands give an infinite result,
 * underflow when a product of non-zero operands rounds to zero.
 */
static inline float
checked_result(float r, float x, float y, bool is_mul)
{
	if (unlikely(isinf(r)))
		float_overflow_error();
	if (is_mul && unlikely(r == 0.0f) && x != 0.0f && y != 0.0f)
		float_underflow_error();
	return r;
}

/*
 * vector_add(vector, vector) -> vector, the + operator
 */
PG_FUNCTION_INFO_V1(vector_add);
Datum
vector_add(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = second_operand(fcinfo, a);
	Vector	   *result;

	result = VectorAllocate(a->dim);

	for (int i = 0; i < a->dim; i++)
		result->x[i] = checked_result(a->x[i] + b->x[i], a->x[i], b->x[i], false);
	PG_RETURN_VECTOR_P(result);
}

/*
 * vector_sub(vector, vector) -> vector, the - operator
 */
PG_FUNCTION_INFO_V1(vector_sub);
Datum
vector_sub(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = second_operand(fcinfo, a);
	Vector	   *result;

	result = VectorAllocate(a->dim);

	for (int i = 0; i < a->dim; i++)
		result->x[i] = checked_result(a->x[i] - b->x[i], a->x[i], b->x[i], false);
	PG_RETURN_VECTOR_P(result);
}

/*
 * vector_mul(vector, vector) -> vector, the * operator (element-wise)
 */
PG_FUNCTION_INFO_V1(vector_mul);
Datum
vector_mul(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = second_operand(fcinfo, a);
	Vector	   *result;

	result = VectorAllocate(a->dim);

	for (int i = 0; i < a->dim; i++)
		result->x[i] = checked_result(a->x[i] * b->x[i], a->x[i], b->x[i], true);
	PG_RETURN_VECTOR_P(result);
}

/*
 * vector_concat(vector, vector) -> vector, the || operator
 */
PG_FUNCTION_INFO_V1(vector_concat);
Datum
vector_concat(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = PG_GETARG_VECTOR_P(1);
	int			dim = a->dim + b->dim;
	Vector	   *result;

	VectorCheckDim(dim);
	result = VectorAllocate(dim);
	memcpy(result->x, a->x, sizeof(float) * a->dim);
	memcpy(result->x + a->dim, b->x, sizeof(float) * b->dim);
	PG_RETURN_VECTOR_P(result);
}

/*
 * subvector(vector, start int4, count int4) -> vector
 *
 * Elements start .. start + count - 1 (1-based), clipped to the vector, as
 * substring() clips; an empty result is an error because a vector cannot be
 * empty.
 */
PG_FUNCTION_INFO_V1(subvector);
Datum
subvector(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	int64		start = PG_GETARG_INT32(1);
	int64		count = PG_GETARG_INT32(2);
	int64		end = start + count;	/* exclusive; no overflow in int64 */
	Vector	   *result;

	start = Max(start, 1);
	end = Min(end, (int64) a->dim + 1);
	if (end <= start)
		VectorCheckDim(0);

	result = VectorAllocate((int) (end - start));
	memcpy(result->x, a->x + (start - 1), sizeof(float) * (end - start));
	PG_RETURN_VECTOR_P(result);
}

/*
 * Total order for the btree opclass: element by element, then the shorter
 * vector first when one is a prefix of the other.  Elements are never NaN,
 * so float comparison is a total order (-0 equals 0, as for float4).
 */
static int
vector_cmp_internal(const Vector *a, const Vector *b)
{
	int			n = Min(a->dim, b->dim);

	for (int i = 0; i < n; i++)
	{
		if (a->x[i] < b->x[i])
			return -1;
		if (a->x[i] > b->x[i])
			return 1;
	}
	if (a->dim < b->dim)
		return -1;
	if (a->dim > b->dim)
		return 1;
	return 0;
}

#define VECTOR_CMP_FUNCTION(name, test) \
PG_FUNCTION_INFO_V1(name); \
Datum \
name(PG_FUNCTION_ARGS) \
{ \
	Vector	   *a = PG_GETARG_VECTOR_P(0); \
	Vector	   *b = PG_GETARG_VECTOR_P(1); \
	int			c = vector_cmp_internal(a, b); \
\
	PG_FREE_IF_COPY(a, 0); \
	PG_FREE_IF_COPY(b, 1); \
	PG_RETURN_BOOL(test); \
}

VECTOR_CMP_FUNCTION(vector_lt, c < 0)
VECTOR_CMP_FUNCTION(vector_le, c <= 0)
VECTOR_CMP_FUNCTION(vector_eq, c == 0)
VECTOR_CMP_FUNCTION(vector_ne, c != 0)
VECTOR_CMP_FUNCTION(vector_ge, c >= 0)
VECTOR_CMP_FUNCTION(vector_gt, c > 0)

/*
 * vector_cmp(vector, vector) -> int4, btree support function 1
 */
PG_FUNCTION_INFO_V1(vector_cmp);
Datum
vector_cmp(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = PG_GETARG_VECTOR_P(1);
	int			c = vector_cmp_internal(a, b);

	PG_FREE_IF_COPY(a, 0);
	PG_FREE_IF_COPY(b, 1);
	PG_RETURN_INT32(c);
}

/*
 * Hash of a vector's elements, consistent with vector_eq: -0 and 0 are equal,
 * so negative zeros are hashed as positive zeros.  Elements are never NaN.
 * seed is 0 for the 32-bit hash.
 */
static uint64
vector_hash_internal(const Vector *a, uint64 seed)
{
	const float *x = a->x;
	float	   *copy = NULL;
	uint64		h;

	for (int i = 0; i < a->dim; i++)
	{
		if (x[i] == 0.0f && signbit(x[i]))
		{
			/* rare: hash a copy with every -0 made +0 */
			copy = palloc(sizeof(float) * a->dim);
			for (int j = 0; j < a->dim; j++)
				copy[j] = x[j] == 0.0f ? 0.0f : x[j];
			x = copy;
			break;
		}
	}
	h = DatumGetUInt64(hash_any_extended((const unsigned char *) x,
										 sizeof(float) * a->dim, seed));
	if (copy != NULL)
		pfree(copy);
	return h;
}

/*
 * vector_hash(vector) -> int4, hash opclass support function 1
 */
PG_FUNCTION_INFO_V1(vector_hash);
Datum
vector_hash(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);

	PG_RETURN_INT32((int32) vector_hash_internal(a, 0));
}

/*
 * vector_hash_extended(vector, int8) -> int8, hash opclass support
 * function 2
 */
PG_FUNCTION_INFO_V1(vector_hash_extended);
Datum
vector_hash_extended(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);

	PG_RETURN_INT64((int64) vector_hash_internal(a, (uint64) PG_GETARG_INT64(1)));
}
