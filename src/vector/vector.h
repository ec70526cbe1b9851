/*-------------------------------------------------------------------------
 *
 * vector.h
 *	  The vector data type: a varlena of float4 elements, laid out exactly as
 *	  pgvector lays it out so that stored data, binary COPY files and client
 *	  drivers interoperate.
 *
 *	  On disk and in memory:  int32 varlena header, int16 dim, int16 unused
 *	  (always 0), float4 x[dim].
 *
 * src/vector/vector.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef VECQ_VECTOR_H
#define VECQ_VECTOR_H

#include "fmgr.h"
#include "utils/array.h"

#include "common/vector_text.h"

/* most dimensions a vector may have (also the typmod limit) */
#define VECTOR_MAX_DIM VECQ_MAX_DIM

typedef struct Vector
{
	int32		vl_len_;		/* varlena header (do not touch directly!) */
	int16		dim;			/* number of elements */
	int16		unused;			/* reserved, always 0 */
	float		x[FLEXIBLE_ARRAY_MEMBER];
} Vector;

#define VECTOR_SIZE(_dim)		(offsetof(Vector, x) + sizeof(float) * (_dim))
#define DatumGetVector(d)		((Vector *) PG_DETOAST_DATUM(d))
#define PG_GETARG_VECTOR_P(n)	DatumGetVector(PG_GETARG_DATUM(n))
#define PG_RETURN_VECTOR_P(v)	PG_RETURN_POINTER(v)

/*
 * Operand n of a function of two vectors (the distances, and through
 * second_operand the element-wise arithmetic), detoasted; a TOAST pointer
 * passed again by the same call site, or one an index scan has just read,
 * is not fetched again (vector_arg.c).  Read-only: it may be shared.
 */
extern struct varlena *VecqDetoastArg(FunctionCallInfo fcinfo, int argno);

/*
 * Index scans: the on-disk TOAST pointer stored, read from a row visible to
 * the scan, stands for value (detoasted); the distance functions of the
 * same transaction use value instead of fetching it (vector_arg.c).
 */
extern void VecqRememberFetched(Datum stored, const struct varlena *value);

#define PG_GETARG_VECTOR_OPERAND(n)	((Vector *) VecqDetoastArg(fcinfo, (n)))

/* a zeroed vector of dim elements in CurrentMemoryContext */
extern Vector *VectorAllocate(int dim);

/*
 * The halfvec type: the same layout with IEEE binary16 elements (bit
 * patterns, see common/half.h), as pgvector lays it out:
 * int32 varlena header, int16 dim, int16 unused (0), uint16 x[dim].
 */
#define HALFVEC_MAX_DIM VECQ_MAX_DIM

typedef struct HalfVector
{
	int32		vl_len_;		/* varlena header (do not touch directly!) */
	int16		dim;			/* number of elements */
	int16		unused;			/* reserved, always 0 */
	uint16		x[FLEXIBLE_ARRAY_MEMBER];
} HalfVector;

#define HALFVEC_SIZE(_dim)		(offsetof(HalfVector, x) + sizeof(uint16) * (_dim))
#define DatumGetHalfVector(d)	((HalfVector *) PG_DETOAST_DATUM(d))
#define PG_GETARG_HALFVEC_P(n)	DatumGetHalfVector(PG_GETARG_DATUM(n))
#define PG_RETURN_HALFVEC_P(v)	PG_RETURN_POINTER(v)
#define PG_GETARG_HALFVEC_OPERAND(n)	((HalfVector *) VecqDetoastArg(fcinfo, (n)))

extern HalfVector *HalfVectorAllocate(int dim);

/* the float4 values of a halfvec's elements, palloc'd (exact) */
extern float *HalfVectorToFloats(const HalfVector *v);

/* a halfvec as a vector (exact), palloc'd */
extern Vector *HalfVectorToVector(const HalfVector *v);

/*
 * float4 -> half for a halfvec element: rounds to nearest (ties to even),
 * raises pgvector's "out of range for type halfvec" (22003) when a finite
 * value rounds past 65504; NaN and infinities pass through for the element
 * check.
 */
extern uint16 HalfFromFloatChecked(float value);

/*
 * Checks shared by every way a vector is made (text, binary, casts,
 * arithmetic); each raises the error pgvector raises for the same input.
 */
extern void VectorCheckDim(int dim);
extern void VectorCheckElement(float value);
extern void VectorCheckTypmod(int dim, int32 typmod);
extern void VectorCheckSameDims(const Vector *a, const Vector *b);

/*
 * The same checks for a type of another name (typname in the messages):
 * halfvec's errors are vector's with "halfvec" in place of "vector", as in
 * pgvector.
 */
extern void VecqCheckDim(const char *typname, int dim);
extern void VecqCheckElement(const char *typname, float value);
extern Datum *VecqArrayElements(ArrayType *array, const char *typname,
								int32 typmod, int *n, Oid *elemtype);
extern void VecqCheckSameDims(const char *typname, int adim, int bdim);
extern void VecqCheckTypmodIn(const char *typname, int32 n, const int32 *tl);

/* a text input error of the shared parser, reported for typname */
extern void VecqReportTextError(const char *typname, const char *lit,
								VecqTextStatus status, VecqTextError err) pg_attribute_noreturn();

/* vector_agg.c's functions, which halfvec's aggregates share */
extern ArrayType *vector_accum_state(FunctionCallInfo fcinfo, const char *typname,
									  int dim, float8 **sums);
extern Datum vector_accum(PG_FUNCTION_ARGS);
extern Datum vector_avg(PG_FUNCTION_ARGS);
extern Datum vector_sum(PG_FUNCTION_ARGS);

/*
 * Distances between two bit strings of nbytes bytes each, padding bits
 * clear (vector_bit.c): the SQL functions and HNSW on bit columns.
 */
extern double BitsHammingDistance(const uint8 *a, const uint8 *b, int nbytes);
extern double BitsJaccardDistance(const uint8 *a, const uint8 *b, int nbytes);

#endif							/* VECQ_VECTOR_H */
