/*-------------------------------------------------------------------------
 *
 * vector_io.c
 *	  Text and binary input/output of the vector type, its type modifier,
 *	  and the validity checks every constructor of a vector shares.
 *
 * Error codes and primary messages are pgvector's, so applications that
 * match on SQLSTATE (or on text) keep working; the details name the part of
 * the input that is wrong.
 *
 * src/vector/vector_io.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "libpq/pqformat.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "vector/vector.h"

/*
 * VectorAllocate: a zeroed vector of dim elements, allocated in
 * CurrentMemoryContext.  The caller has checked dim.
 */
Vector *
VectorAllocate(int dim)
{
	Size		size = VECTOR_SIZE(dim);
	Vector	   *result = (Vector *) palloc0(size);

	SET_VARSIZE(result, size);
	result->dim = dim;
	return result;
}

/* dim must be 1 .. VECQ_MAX_DIM */
void
VecqCheckDim(const char *typname, int dim)
{
	if (dim < 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s must have at least 1 dimension", typname)));
	if (dim > VECQ_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s cannot have more than %d dimensions",
						typname, VECQ_MAX_DIM)));
}

void
VectorCheckDim(int dim)
{
	VecqCheckDim("vector", dim);
}

/* elements must be finite */
void
VecqCheckElement(const char *typname, float value)
{
	if (isnan(value))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("NaN not allowed in %s", typname)));
	if (isinf(value))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("infinite value not allowed in %s", typname)));
}

void
VectorCheckElement(float value)
{
	VecqCheckElement("vector", value);
}

/* a vector of dim elements must fit typmod (-1: any dimension) */
void
VectorCheckTypmod(int dim, int32 typmod)
{
	if (typmod != -1 && dim != typmod)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("expected %d dimensions, not %d", typmod, dim)));
}

/* operands of a binary operation must have the same dimension */
void
VecqCheckSameDims(const char *typname, int adim, int bdim)
{
	if (adim != bdim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different %s dimensions %d and %d",
						typname, adim, bdim)));
}

void
VectorCheckSameDims(const Vector *a, const Vector *b)
{
	VecqCheckSameDims("vector", a->dim, b->dim);
}

/*
 * Report a text parse failure of lit, an input of type typname, as an
 * error.  err locates the offending part of lit.
 */
void
VecqReportTextError(const char *typname, const char *lit,
					VecqTextStatus status, VecqTextError err)
{
	char	   *part = pnstrdup(lit + err.offset, err.length);

	switch (status)
	{
		case VECQ_TEXT_OK:
			break;
		case VECQ_TEXT_EMPTY:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid input syntax for type %s: \"%s\"", typname, lit),
					 errdetail("The input is empty; %s contents must start with \"[\".",
							   typname)));
			break;
		case VECQ_TEXT_NO_OPEN_BRACKET:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid input syntax for type %s: \"%s\"", typname, lit),
					 errdetail("Vector contents must start with \"[\", not \"%s\".",
							   part)));
			break;
		case VECQ_TEXT_UNEXPECTED_END:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid input syntax for type %s: \"%s\"", typname, lit),
					 errdetail("Unexpected end of input; %s contents must end with \"]\".",
							   typname)));
			break;
		case VECQ_TEXT_BAD_NUMBER:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid input syntax for type %s: \"%s\"", typname, lit),
					 errdetail("\"%s\" is not a number.", part)));
			break;
		case VECQ_TEXT_EXPECTED_SEPARATOR:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid input syntax for type %s: \"%s\"", typname, lit),
					 errdetail("Expected \",\" or \"]\" after an element, found \"%s\".",
							   part)));
			break;
		case VECQ_TEXT_TRAILING_JUNK:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid input syntax for type %s: \"%s\"", typname, lit),
					 errdetail("Junk after closing right bracket: \"%s\".", part)));
			break;
		case VECQ_TEXT_NO_DIMENSIONS:
			VecqCheckDim(typname, 0);
			break;
		case VECQ_TEXT_NAN:
			VecqCheckElement(typname, NAN);
			break;
		case VECQ_TEXT_INFINITE:
			VecqCheckElement(typname, INFINITY);
			break;
		case VECQ_TEXT_OUT_OF_RANGE:
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("\"%s\" is out of range for type %s", part, typname)));
			break;
		case VECQ_TEXT_TOO_MANY_DIMENSIONS:
			VecqCheckDim(typname, VECQ_MAX_DIM + 1);
			break;
	}
	elog(ERROR, "unexpected %s text status %d", typname, (int) status);
	pg_unreachable();
}

/*
 * vector_in(cstring, oid, int4) -> vector
 */
PG_FUNCTION_INFO_V1(vector_in);
Datum
vector_in(PG_FUNCTION_ARGS)
{
	char	   *lit = PG_GETARG_CSTRING(0);
	int32		typmod = PG_GETARG_INT32(2);
	int			capacity = VecqVectorTextMaxElements(lit);
	Vector	   *result = VectorAllocate(capacity);
	VecqTextError err = {0, 0};
	VecqTextStatus status;
	int			dim = 0;

	status = VecqVectorTextParse(lit, result->x, capacity, &dim, &err);
	if (status != VECQ_TEXT_OK)
		VecqReportTextError("vector", lit, status, err);

	VectorCheckTypmod(dim, typmod);

	/* shrink to the dimensions read (capacity may count stray commas) */
	SET_VARSIZE(result, VECTOR_SIZE(dim));
	result->dim = dim;
	PG_RETURN_VECTOR_P(result);
}

/*
 * vector_out(vector) -> cstring: "[x1,x2,...]" with each element as the
 * shortest text that reads back to the same float4.
 */
PG_FUNCTION_INFO_V1(vector_out);
Datum
vector_out(PG_FUNCTION_ARGS)
{
	Vector	   *vec = PG_GETARG_VECTOR_P(0);
	char	   *buf = palloc(VecqVectorTextBufferSize(vec->dim));

	VecqVectorTextFormat(vec->x, vec->dim, buf);
	PG_FREE_IF_COPY(vec, 0);
	PG_RETURN_CSTRING(buf);
}

/* the n of typname(n): exactly one modifier, 1 .. VECQ_MAX_DIM */
void
VecqCheckTypmodIn(const char *typname, int32 n, const int32 *tl)
{
	if (n != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid type modifier"),
				 errdetail("Type %s takes exactly one modifier, the number of dimensions.",
						   typname)));
	if (*tl < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dimensions for type %s must be at least 1", typname)));
	if (*tl > VECQ_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dimensions for type %s cannot exceed %d",
						typname, VECQ_MAX_DIM)));
}

/*
 * vector_typmod_in(cstring[]) -> int4: the n of vector(n)
 */
PG_FUNCTION_INFO_V1(vector_typmod_in);
Datum
vector_typmod_in(PG_FUNCTION_ARGS)
{
	ArrayType  *ta = PG_GETARG_ARRAYTYPE_P(0);
	int32	   *tl;
	int			n;

	tl = ArrayGetIntegerTypmods(ta, &n);
	VecqCheckTypmodIn("vector", n, tl);

	PG_RETURN_INT32(*tl);
}

/*
 * vector_recv(internal, oid, int4) -> vector
 *
 * Binary form: uint16 dim, uint16 unused (0), then dim float4, all in network
 * byte order.  Validated like the text form.  A short message fails in
 * pq_getmsg* (08P01); bytes left over fail in the caller (22P03).
 */
PG_FUNCTION_INFO_V1(vector_recv);
Datum
vector_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int32		typmod = PG_GETARG_INT32(2);
	int			dim;
	int			unused;
	Vector	   *result;

	dim = pq_getmsgint(buf, sizeof(uint16));
	unused = pq_getmsgint(buf, sizeof(uint16));

	VectorCheckDim(dim);
	VectorCheckTypmod(dim, typmod);
	if (unused != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("expected unused to be 0, not %d", unused)));

	/* refuse a dim the message cannot hold before allocating for it */
	if ((Size) (buf->len - buf->cursor) < sizeof(float) * (Size) dim)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("insufficient data left in message"),
				 errdetail("A binary vector of %d dimensions needs %zu bytes of elements, but %d remain.",
						   dim, sizeof(float) * (Size) dim,
						   buf->len - buf->cursor)));

	result = VectorAllocate(dim);
	for (int i = 0; i < dim; i++)
	{
		result->x[i] = pq_getmsgfloat4(buf);
		VectorCheckElement(result->x[i]);
	}

	PG_RETURN_VECTOR_P(result);
}

/*
 * vector_send(vector) -> bytea
 */
PG_FUNCTION_INFO_V1(vector_send);
Datum
vector_send(PG_FUNCTION_ARGS)
{
	Vector	   *vec = PG_GETARG_VECTOR_P(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint16(&buf, vec->dim);
	pq_sendint16(&buf, 0);
	for (int i = 0; i < vec->dim; i++)
		pq_sendfloat4(&buf, vec->x[i]);

	PG_FREE_IF_COPY(vec, 0);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}
