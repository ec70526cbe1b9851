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

/* a zeroed vector of dim elements in CurrentMemoryContext */
extern Vector *VectorAllocate(int dim);

/*
 * Checks shared by every way a vector is made (text, binary, casts,
 * arithmetic); each raises the error pgvector raises for the same input.
 */
extern void VectorCheckDim(int dim);
extern void VectorCheckElement(float value);
extern void VectorCheckTypmod(int dim, int32 typmod);
extern void VectorCheckSameDims(const Vector *a, const Vector *b);

/*
 * Distances between two bit strings of nbytes bytes each, padding bits
 * clear (vector_bit.c): the SQL functions and HNSW on bit columns.
 */
extern double BitsHammingDistance(const uint8 *a, const uint8 *b, int nbytes);
extern double BitsJaccardDistance(const uint8 *a, const uint8 *b, int nbytes);

#endif							/* VECQ_VECTOR_H */
