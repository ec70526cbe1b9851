/*-------------------------------------------------------------------------
 *
 * vector_cast.c
 *	  Casts between vector and arrays, and the typmod coercion vector(n).
 *
 *	  integer[], real[], double precision[], numeric[]  ->  vector
 *	  vector  ->  real[]
 *	  vector  ->  vector(n)  (checks the dimension)
 *
 * Arrays must be one-dimensional, non-empty and free of nulls; their
 * elements must be finite and within float4 range.
 *
 * src/vector/vector_cast.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"

#include "vector/vector.h"

/*
 * vector(vector, int4, bool) -> vector: coerce to a typmod
 */
PG_FUNCTION_INFO_V1(vector);
Datum
vector(PG_FUNCTION_ARGS)
{
	Vector	   *vec = PG_GETARG_VECTOR_P(0);
	int32		typmod = PG_GETARG_INT32(1);

	VectorCheckTypmod(vec->dim, typmod);
	PG_RETURN_VECTOR_P(vec);
}

/*
 * float8 -> float4 as PostgreSQL's float8-to-float4 cast does it: values
 * beyond float4's range are an overflow, non-zero values that round to zero
 * an underflow.  NaN and infinities pass through for VectorCheckElement.
 */
static float
float8_to_element(float8 value)
{
	float		result = (float) value;

	if (unlikely(isinf(result)) && !isinf(value))
		float_overflow_error();
	if (unlikely(result == 0.0f) && value != 0.0)
		float_underflow_error();
	return result;
}

/*
 * The elements of an array cast to typname (vector or halfvec): a 1-D array
 * of int4, float4, float8 or numeric, with no nulls, of a length the type
 * and typmod take.  Sets *n and *elemtype.
 */
Datum *
VecqArrayElements(ArrayType *array, const char *typname, int32 typmod, int *n,
				  Oid *elemtype)
{
	int16		typlen;
	bool		typbyval;
	char		typalign;
	Datum	   *elems;
	bool	   *nulls;

	*elemtype = ARR_ELEMTYPE(array);
	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("array must be 1-D"),
				 errdetail("The array has %d dimensions.", ARR_NDIM(array))));

	if (*elemtype != INT4OID && *elemtype != FLOAT4OID &&
		*elemtype != FLOAT8OID && *elemtype != NUMERICOID)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("unsupported array type"),
				 errdetail("Arrays of %s cannot be cast to %s.",
						   format_type_be(*elemtype), typname)));

	get_typlenbyvalalign(*elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(array, *elemtype, typlen, typbyval, typalign,
					  &elems, &nulls, n);

	/* an empty array has no dimensions */
	VecqCheckDim(typname, *n);
	VectorCheckTypmod(*n, typmod);

	for (int i = 0; i < *n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("array must not contain nulls"),
					 errdetail("Element %d is null.", i + 1)));
	}
	return elems;
}

/*
 * array_to_vector(anyarray of int4/float4/float8/numeric, int4, bool) ->
 * vector.  One C function serves the four SQL casts; the element type comes
 * from the array itself.
 */
PG_FUNCTION_INFO_V1(array_to_vector);
Datum
array_to_vector(PG_FUNCTION_ARGS)
{
	Oid			elemtype;
	int			n;
	Datum	   *elems = VecqArrayElements(PG_GETARG_ARRAYTYPE_P(0), "vector",
										  PG_GETARG_INT32(1), &n, &elemtype);
	Vector	   *result;

	result = VectorAllocate(n);
	for (int i = 0; i < n; i++)
	{
		switch (elemtype)
		{
			case INT4OID:
				result->x[i] = (float) DatumGetInt32(elems[i]);
				break;
			case FLOAT4OID:
				result->x[i] = DatumGetFloat4(elems[i]);
				break;
			case FLOAT8OID:
				result->x[i] = float8_to_element(DatumGetFloat8(elems[i]));
				break;
			case NUMERICOID:
				/* numeric_float4 raises its own range errors */
				result->x[i] = DatumGetFloat4(DirectFunctionCall1(numeric_float4,
																  elems[i]));
				break;
		}
		VectorCheckElement(result->x[i]);
	}

	PG_RETURN_VECTOR_P(result);
}

/*
 * vector_to_float4(vector, int4, bool) -> real[]
 */
PG_FUNCTION_INFO_V1(vector_to_float4);
Datum
vector_to_float4(PG_FUNCTION_ARGS)
{
	Vector	   *vec = PG_GETARG_VECTOR_P(0);
	Datum	   *elems = palloc(sizeof(Datum) * vec->dim);

	for (int i = 0; i < vec->dim; i++)
		elems[i] = Float4GetDatum(vec->x[i]);

	PG_RETURN_ARRAYTYPE_P(construct_array(elems, vec->dim, FLOAT4OID,
										  sizeof(float4), true,
										  TYPALIGN_INT));
}
