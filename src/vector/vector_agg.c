/*-------------------------------------------------------------------------
 *
 * vector_agg.c
 *	  The avg(vector) and sum(vector) aggregates.
 *
 * Both share one transition state, a float8[] holding {count, sum_1, ...,
 * sum_dim}: sums are kept in double, so that adding many float4 vectors does
 * not lose precision or overflow on the way, and a float8[] needs no
 * serialization to move between parallel workers.  The initial state is
 * '{0}'; the first vector sizes it.  Transition and combine functions update
 * the state in place when called as aggregates (the state then lives in the
 * aggregate's memory context), so a group costs one allocation, not one per
 * row.
 *
 * src/vector/vector_agg.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/float.h"

#include "vector/vector.h"

/*
 * Check that a state array is a 1-D float8[] without nulls and return its
 * element pointer and length.  The aggregates only ever see states they
 * built, but the functions are callable directly from SQL.
 */
static float8 *
state_values(ArrayType *state, int *n)
{
	if (ARR_NDIM(state) != 1 || ARR_DIMS(state)[0] < 1 ||
		ARR_HASNULL(state) || ARR_ELEMTYPE(state) != FLOAT8OID)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid vector aggregate state"),
				 errdetail("The state must be a one-dimensional float8 array without nulls.")));
	*n = ARR_DIMS(state)[0];
	return (float8 *) ARR_DATA_PTR(state);
}

/* a new state {count, 0, ..., 0} for dim elements */
static ArrayType *
state_new(int dim, float8 count)
{
	int			nelems = dim + 1;
	Size		nbytes = ARR_OVERHEAD_NONULLS(1) + sizeof(float8) * nelems;
	ArrayType  *state = (ArrayType *) palloc0(nbytes);

	SET_VARSIZE(state, nbytes);
	state->ndim = 1;
	state->dataoffset = 0;		/* no null bitmap */
	state->elemtype = FLOAT8OID;
	ARR_DIMS(state)[0] = nelems;
	ARR_LBOUND(state)[0] = 1;
	((float8 *) ARR_DATA_PTR(state))[0] = count;
	return state;
}

/*
 * The state of avg/sum (argument 0 of fcinfo) with one more row of dim
 * elements of type typname counted: updated in place when called as an aggregate, else a
 * copy.  *sums points at the dim sums, to which the caller adds the row's
 * elements (vector_accum's floats, halfvec_accum's halves).
 */
ArrayType *
vector_accum_state(FunctionCallInfo fcinfo, const char *typname, int dim, float8 **sums)
{
	ArrayType  *state = PG_GETARG_ARRAYTYPE_P(0);
	MemoryContext aggcontext;
	bool		in_place = AggCheckCallContext(fcinfo, &aggcontext) != 0;
	float8	   *v;
	int			n;

	v = state_values(state, &n);

	if (n == 1 || !in_place)
	{
		/* first row of the group, or a direct call: start a new state */
		MemoryContext old = in_place ? MemoryContextSwitchTo(aggcontext) : NULL;
		ArrayType  *fresh;
		float8	   *fv;

		if (n > 1)
			VecqCheckSameDims(typname, n - 1, dim);
		fresh = state_new(dim, v[0]);
		fv = (float8 *) ARR_DATA_PTR(fresh);
		if (n > 1)
			memcpy(fv + 1, v + 1, sizeof(float8) * dim);
		if (old != NULL)
			MemoryContextSwitchTo(old);
		state = fresh;
		v = fv;
	}
	else
		VecqCheckSameDims(typname, n - 1, dim);

	v[0] += 1;
	*sums = v + 1;
	return state;
}

/*
 * vector_accum(float8[], vector) -> float8[]: transition function
 */
PG_FUNCTION_INFO_V1(vector_accum);
Datum
vector_accum(PG_FUNCTION_ARGS)
{
	Vector	   *vec = PG_GETARG_VECTOR_P(1);
	float8	   *sums;
	ArrayType  *state = vector_accum_state(fcinfo, "vector", vec->dim, &sums);

	for (int i = 0; i < vec->dim; i++)
		sums[i] += vec->x[i];

	PG_RETURN_ARRAYTYPE_P(state);
}

/*
 * vector_combine(float8[], float8[]) -> float8[]: combine function for
 * parallel aggregation
 */
PG_FUNCTION_INFO_V1(vector_combine);
Datum
vector_combine(PG_FUNCTION_ARGS)
{
	ArrayType  *s1 = PG_GETARG_ARRAYTYPE_P(0);
	ArrayType  *s2 = PG_GETARG_ARRAYTYPE_P(1);
	bool		in_place = AggCheckCallContext(fcinfo, NULL) != 0;
	float8	   *v1;
	float8	   *v2;
	int			n1;
	int			n2;

	v1 = state_values(s1, &n1);
	v2 = state_values(s2, &n2);

	/* an empty side contributes nothing (the executor copies s2 if needed) */
	if (n2 == 1 && v2[0] == 0)
		PG_RETURN_ARRAYTYPE_P(s1);
	if (n1 == 1 && v1[0] == 0)
		PG_RETURN_ARRAYTYPE_P(s2);

	VecqCheckSameDims("vector", n1 - 1, n2 - 1);
	if (!in_place)
	{
		ArrayType  *fresh = state_new(n1 - 1, 0);
		float8	   *fv = (float8 *) ARR_DATA_PTR(fresh);

		memcpy(fv, v1, sizeof(float8) * n1);
		s1 = fresh;
		v1 = fv;
	}
	for (int i = 0; i < n1; i++)
		v1[i] += v2[i];

	PG_RETURN_ARRAYTYPE_P(s1);
}

/*
 * Turn the sums of a state (divided by the count if average) into a vector;
 * NULL when the state holds no rows.
 */
static Vector *
state_to_vector(ArrayType *state, bool average)
{
	float8	   *v;
	int			n;
	Vector	   *result;

	v = state_values(state, &n);
	if (v[0] == 0 || n < 2)
		return NULL;

	VectorCheckDim(n - 1);
	result = VectorAllocate(n - 1);
	for (int i = 1; i < n; i++)
	{
		double		x = average ? v[i] / v[0] : v[i];

		/* sums of finite float4 are finite doubles; float4 may overflow */
		result->x[i - 1] = (float) x;
		if (unlikely(isinf(result->x[i - 1])))
			float_overflow_error();
	}
	return result;
}

/*
 * vector_avg(float8[]) -> vector: final function of avg(vector)
 */
PG_FUNCTION_INFO_V1(vector_avg);
Datum
vector_avg(PG_FUNCTION_ARGS)
{
	Vector	   *result = state_to_vector(PG_GETARG_ARRAYTYPE_P(0), true);

	if (result == NULL)
		PG_RETURN_NULL();
	PG_RETURN_VECTOR_P(result);
}

/*
 * vector_sum(float8[]) -> vector: final function of sum(vector)
 */
PG_FUNCTION_INFO_V1(vector_sum);
Datum
vector_sum(PG_FUNCTION_ARGS)
{
	Vector	   *result = state_to_vector(PG_GETARG_ARRAYTYPE_P(0), false);

	if (result == NULL)
		PG_RETURN_NULL();
	PG_RETURN_VECTOR_P(result);
}
