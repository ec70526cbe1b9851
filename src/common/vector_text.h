/*-------------------------------------------------------------------------
 *
 * vector_text.h
 *	  Parser and formatter for the text form of a vector, "[1,2.5,-3e-2]".
 *
 * The parser uses no server facilities (no palloc, no ereport), so the same
 * code runs in the extension, in the fuzzer and in command-line tools.  It
 * reports failures as a VecqTextStatus plus the position of the offending
 * part of the input; the caller turns that into an error of its own kind
 * (vector_in turns it into an ereport with the SQLSTATE pgvector uses).
 *
 * Grammar (whitespace is ' ', '\t', '\n', '\r', '\v', '\f'):
 *
 *		vector	:= ws '[' ws number ( ws ',' ws number )* ws ']' ws
 *		number	:= anything strtof() accepts, in the C locale
 *
 * Elements must be finite and within float4 range (halfvec: within the
 * range of a half once rounded); underflow to a subnormal or zero is
 * accepted, as float4in does in pgvector.
 *
 * src/common/vector_text.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef VECQ_VECTOR_TEXT_H
#define VECQ_VECTOR_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* most dimensions a vector may have */
#define VECQ_MAX_DIM 16000

/* most characters one element takes in the output (see VecqVectorTextFormat) */
#define VECQ_TEXT_MAX_ELEMENT_LEN 16

typedef enum VecqTextStatus
{
	VECQ_TEXT_OK = 0,
	/* malformed input: SQLSTATE 22P02 */
	VECQ_TEXT_EMPTY,			/* nothing but whitespace */
	VECQ_TEXT_NO_OPEN_BRACKET,	/* does not start with '[' */
	VECQ_TEXT_UNEXPECTED_END,	/* input ends before ']' */
	VECQ_TEXT_BAD_NUMBER,		/* an element is not a number */
	VECQ_TEXT_EXPECTED_SEPARATOR,	/* junk after an element: not ',' or ']' */
	VECQ_TEXT_TRAILING_JUNK,	/* something after the closing ']' */
	/* well-formed but not a valid vector: SQLSTATE 22000 */
	VECQ_TEXT_NO_DIMENSIONS,	/* "[]" */
	VECQ_TEXT_NAN,				/* an element is NaN */
	VECQ_TEXT_INFINITE,			/* an element is infinite */
	/* SQLSTATE 22003 */
	VECQ_TEXT_OUT_OF_RANGE,		/* an element overflows float4 (or half) */
	/* SQLSTATE 54000 */
	VECQ_TEXT_TOO_MANY_DIMENSIONS	/* more than VECQ_MAX_DIM elements */
} VecqTextStatus;

/*
 * Where a parse failed: the byte offset and length of the offending part of
 * the input (the bad element, the junk, or the end of input with length 0).
 */
typedef struct VecqTextError
{
	int			offset;
	int			length;
} VecqTextError;

/*
 * Upper bound on the number of elements str can hold (commas + 1), capped at
 * VECQ_MAX_DIM + 1 so that a caller can size the output buffer before
 * parsing and still detect "too many dimensions".
 */
extern int	VecqVectorTextMaxElements(const char *str);

/*
 * Parse str (NUL-terminated) into out[0 .. capacity-1].
 *
 * capacity must be at least VecqVectorTextMaxElements(str).  On success
 * returns VECQ_TEXT_OK and sets *dim (1 .. VECQ_MAX_DIM).  On failure returns
 * the status, fills *err (if not NULL) and leaves *dim and out unspecified.
 */
extern VecqTextStatus VecqVectorTextParse(const char *str, float *out,
										  int capacity, int *dim,
										  VecqTextError *err);

/*
 * The same for a halfvec: each element is read as a float4 (strtof), then
 * rounded to the nearest half, ties to even (as pgvector does); a finite
 * element that rounds past 65504 is VECQ_TEXT_OUT_OF_RANGE, located like
 * any other bad element.  out receives the halves' bit patterns.
 */
extern VecqTextStatus VecqHalfvecTextParse(const char *str, uint16_t *out,
										   int capacity, int *dim,
										   VecqTextError *err);

/* size of the buffer VecqVectorTextFormat needs for dim elements */
extern size_t VecqVectorTextBufferSize(int dim);

/*
 * Write "[x1,x2,...]" into buf (at least VecqVectorTextBufferSize(dim)
 * bytes), each element as the shortest decimal text that reads back to the
 * same float4.  Returns the length written, excluding the NUL.
 */
extern size_t VecqVectorTextFormat(const float *x, int dim, char *buf);

/* a short English description of a status, for tools and fuzzers */
extern const char *VecqTextStatusName(VecqTextStatus status);

#endif							/* VECQ_VECTOR_TEXT_H */
