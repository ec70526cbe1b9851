/*-------------------------------------------------------------------------
 *
 * halfvec_io.c
 *	  The halfvec type (IEEE binary16 elements): text and binary input and
 *	  output, its type modifier, and the casts to and from vector and
 *	  arrays.
 *
 * A halfvec is laid out as pgvector lays it out (vector.h), so stored
 * data, binary COPY files and client drivers interoperate.  The text form
 * is vector's, read by the shared parser (common/vector_text.h) with each
 * element rounded to the nearest half; the output prints each element as
 * the shortest text that reads back to the same float4, which also reads
 * back to the same half.  The binary form is int16 dim, int16 unused (0),
 * then each element's 16 bits, in network byte order.
 *
 * Errors are vector's (vector_io.c) with "halfvec" for "vector", which is
 * what pgvector raises; an element that is finite but beyond +-65504 once
 * rounded is "out of range for type halfvec" (22003).
 *
 *	  vector, integer[], real[], double precision[], numeric[]  ->  halfvec
 *	  halfvec  ->  vector, real[]  (exact)
 *
 * src/vector/halfvec_io.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "common/shortest_dec.h"
#include "libpq/pqformat.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"

#include "common/distance.h"
#include "common/half.h"
#include "vector/vector.h"

/*
 * HalfVectorAllocate: a zeroed halfvec of dim elements, allocated in
 * CurrentMemoryContext.  The caller has checked dim.
 */
HalfVector *
HalfVectorAllocate(int dim)
{
	Size		size = HALFVEC_SIZE(dim);
	HalfVector *result = (HalfVector *) palloc0(size);

	SET_VARSIZE(result, size);
	result->dim = dim;
	return result;
}

float *
HalfVectorToFloats(const HalfVector *v)
{
	float	   *x = palloc(sizeof(float) * Max(v->dim, 1));

	VecqKernels.half_to_float(v->x, x, v->dim);
	return x;
}

Vector *
HalfVectorToVector(const HalfVector *v)
{
	Vector	   *result = VectorAllocate(v->dim);

	VecqKernels.half_to_float(v->x, result->x, v->dim);
	return result;
}

uint16
HalfFromFloatChecked(float value)
{
	uint16		h = VecqFloatToHalf(value);

	if (unlikely(VecqHalfIsInf(h)) && !isinf(value))
	{
		char		buf[FLOAT_SHORTEST_DECIMAL_LEN];

		float_to_shortest_decimal_buf(value, buf);
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("\"%s\" is out of range for type halfvec", buf),
				 errdetail("The largest finite halfvec element is 65504.")));
	}
	return h;
}

/* a half element must be finite (NaN and infinities are not allowed) */
static inline void
check_half(uint16 h)
{
	if (unlikely(VecqHalfIsNan(h) || VecqHalfIsInf(h)))
		VecqCheckElement("halfvec", VecqHalfToFloat(h));
}

/*
 * halfvec_in(cstring, oid, int4) -> halfvec
 */
PG_FUNCTION_INFO_V1(halfvec_in);
Datum
halfvec_in(PG_FUNCTION_ARGS)
{
	char	   *lit = PG_GETARG_CSTRING(0);
	int32		typmod = PG_GETARG_INT32(2);
	int			capacity = VecqVectorTextMaxElements(lit);
	HalfVector *result = HalfVectorAllocate(capacity);
	VecqTextError err = {0, 0};
	VecqTextStatus status;
	int			dim = 0;

	status = VecqHalfvecTextParse(lit, result->x, capacity, &dim, &err);
	if (status != VECQ_TEXT_OK)
		VecqReportTextError("halfvec", lit, status, err);

	VectorCheckTypmod(dim, typmod);

	/* shrink to the dimensions read (capacity may count stray commas) */
	SET_VARSIZE(result, HALFVEC_SIZE(dim));
	result->dim = dim;
	PG_RETURN_HALFVEC_P(result);
}

/*
 * halfvec_out(halfvec) -> cstring: "[x1,x2,...]", each element as the
 * shortest text of its float4 value (as pgvector prints halves)
 */
PG_FUNCTION_INFO_V1(halfvec_out);
Datum
halfvec_out(PG_FUNCTION_ARGS)
{
	HalfVector *vec = PG_GETARG_HALFVEC_P(0);
	float	   *x = HalfVectorToFloats(vec);
	char	   *buf = palloc(VecqVectorTextBufferSize(vec->dim));

	VecqVectorTextFormat(x, vec->dim, buf);
	pfree(x);
	PG_FREE_IF_COPY(vec, 0);
	PG_RETURN_CSTRING(buf);
}

/*
 * halfvec_typmod_in(cstring[]) -> int4: the n of halfvec(n)
 */
PG_FUNCTION_INFO_V1(halfvec_typmod_in);
Datum
halfvec_typmod_in(PG_FUNCTION_ARGS)
{
	ArrayType  *ta = PG_GETARG_ARRAYTYPE_P(0);
	int32	   *tl;
	int			n;

	tl = ArrayGetIntegerTypmods(ta, &n);
	VecqCheckTypmodIn("halfvec", n, tl);
	PG_RETURN_INT32(*tl);
}

/*
 * halfvec_recv(internal, oid, int4) -> halfvec
 *
 * uint16 dim, uint16 unused (0), then dim halves, in network byte order;
 * checked as vector_recv checks its input (NaN and infinite halves are
 * refused as in the text form).
 */
PG_FUNCTION_INFO_V1(halfvec_recv);
Datum
halfvec_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int32		typmod = PG_GETARG_INT32(2);
	int			dim;
	int			unused;
	HalfVector *result;

	dim = pq_getmsgint(buf, sizeof(uint16));
	unused = pq_getmsgint(buf, sizeof(uint16));

	VecqCheckDim("halfvec", dim);
	VectorCheckTypmod(dim, typmod);
	if (unused != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("expected unused to be 0, not %d", unused)));

	if ((Size) (buf->len - buf->cursor) < sizeof(uint16) * (Size) dim)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("insufficient data left in message"),
				 errdetail("A binary halfvec of %d dimensions needs %zu bytes of elements, but %d remain.",
						   dim, sizeof(uint16) * (Size) dim,
						   buf->len - buf->cursor)));

	result = HalfVectorAllocate(dim);
	for (int i = 0; i < dim; i++)
	{
		result->x[i] = (uint16) pq_getmsgint(buf, sizeof(uint16));
		check_half(result->x[i]);
	}

	PG_RETURN_HALFVEC_P(result);
}

/*
 * halfvec_send(halfvec) -> bytea
 */
PG_FUNCTION_INFO_V1(halfvec_send);
Datum
halfvec_send(PG_FUNCTION_ARGS)
{
	HalfVector *vec = PG_GETARG_HALFVEC_P(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint16(&buf, vec->dim);
	pq_sendint16(&buf, 0);
	for (int i = 0; i < vec->dim; i++)
		pq_sendint16(&buf, vec->x[i]);

	PG_FREE_IF_COPY(vec, 0);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/*
 * halfvec(halfvec, int4, bool) -> halfvec: coerce to a typmod
 */
PG_FUNCTION_INFO_V1(halfvec);
Datum
halfvec(PG_FUNCTION_ARGS)
{
	HalfVector *vec = PG_GETARG_HALFVEC_P(0);

	VectorCheckTypmod(vec->dim, PG_GETARG_INT32(1));
	PG_RETURN_HALFVEC_P(vec);
}

/*
 * vector_to_halfvec(vector, int4, bool) -> halfvec: each element rounded
 * to the nearest half; beyond +-65504 is an error
 */
PG_FUNCTION_INFO_V1(vector_to_halfvec);
Datum
vector_to_halfvec(PG_FUNCTION_ARGS)
{
	Vector	   *vec = PG_GETARG_VECTOR_P(0);
	HalfVector *result;

	VectorCheckTypmod(vec->dim, PG_GETARG_INT32(1));
	result = HalfVectorAllocate(vec->dim);
	VecqKernels.float_to_half(vec->x, result->x, vec->dim);
	for (int i = 0; i < vec->dim; i++)
	{
		if (unlikely(VecqHalfIsInf(result->x[i])))
			(void) HalfFromFloatChecked(vec->x[i]);
	}
	PG_RETURN_HALFVEC_P(result);
}

/*
 * halfvec_to_vector(halfvec, int4, bool) -> vector (exact)
 */
PG_FUNCTION_INFO_V1(halfvec_to_vector);
Datum
halfvec_to_vector(PG_FUNCTION_ARGS)
{
	HalfVector *vec = PG_GETARG_HALFVEC_P(0);

	VectorCheckTypmod(vec->dim, PG_GETARG_INT32(1));
	PG_RETURN_VECTOR_P(HalfVectorToVector(vec));
}

/*
 * array_to_halfvec(anyarray of int4/float4/float8/numeric, int4, bool) ->
 * halfvec: the array's checks are vector's (VecqArrayElements), then each
 * element is rounded to a half.
 */
PG_FUNCTION_INFO_V1(array_to_halfvec);
Datum
array_to_halfvec(PG_FUNCTION_ARGS)
{
	Oid			elemtype;
	int			n;
	Datum	   *elems = VecqArrayElements(PG_GETARG_ARRAYTYPE_P(0), "halfvec",
										  PG_GETARG_INT32(1), &n, &elemtype);
	HalfVector *result;

	result = HalfVectorAllocate(n);
	for (int i = 0; i < n; i++)
	{
		float		x = 0;

		switch (elemtype)
		{
			case INT4OID:
				x = (float) DatumGetInt32(elems[i]);
				break;
			case FLOAT4OID:
				x = DatumGetFloat4(elems[i]);
				break;
			case FLOAT8OID:
				{
					/* as float8 -> float4 casts it: overflow is an error */
					float8		d = DatumGetFloat8(elems[i]);

					x = (float) d;
					if (unlikely(isinf(x)) && !isinf(d))
						float_overflow_error();
					break;
				}
			case NUMERICOID:
				x = DatumGetFloat4(DirectFunctionCall1(numeric_float4, elems[i]));
				break;
		}
		VecqCheckElement("halfvec", x);
		result->x[i] = HalfFromFloatChecked(x);
	}
	PG_RETURN_HALFVEC_P(result);
}

/*
 * halfvec_to_float4(halfvec, int4, bool) -> real[]
 */
PG_FUNCTION_INFO_V1(halfvec_to_float4);
Datum
halfvec_to_float4(PG_FUNCTION_ARGS)
{
	HalfVector *vec = PG_GETARG_HALFVEC_P(0);
	Datum	   *elems = palloc(sizeof(Datum) * vec->dim);

	for (int i = 0; i < vec->dim; i++)
		elems[i] = Float4GetDatum(VecqHalfToFloat(vec->x[i]));
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, vec->dim, FLOAT4OID,
										  sizeof(float4), true,
										  TYPALIGN_INT));
}
