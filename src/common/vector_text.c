/*-------------------------------------------------------------------------
 *
 * vector_text.c
 *	  Parse and format the text form of a vector without server facilities.
 *
 * See vector_text.h for the grammar.  The parser walks the string once,
 * reading each element with strtof(); it never allocates, so the caller
 * sizes the output with VecqVectorTextMaxElements() first.  The formatter
 * uses PostgreSQL's shortest round-trip float formatting (the same routine
 * float4out uses with extra_float_digits > 0), so the text of a vector reads
 * back to exactly the same float4 values.
 *
 * src/common/vector_text.c
 *
 *-------------------------------------------------------------------------
 */
#ifndef FRONTEND
#include "postgres.h"
#else
#include "postgres_fe.h"
#endif

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/half.h"
#include "common/shortest_dec.h"
#include "common/vector_text.h"

/* the whitespace the grammar allows; deliberately not locale dependent */
static inline bool
text_isspace(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
		c == '\v' || c == '\f';
}

static inline const char *
skip_space(const char *p)
{
	while (text_isspace(*p))
		p++;
	return p;
}

/* record where a failure happened and return its status */
static VecqTextStatus
fail(VecqTextStatus status, VecqTextError *err, const char *str,
	 const char *start, const char *end)
{
	if (err != NULL)
	{
		err->offset = (int) (start - str);
		err->length = (int) (end - start);
	}
	return status;
}

/*
 * Length of the token starting at p that a failed element consists of: up to
 * the next separator, bracket or whitespace.  Used only to name the bad part
 * in error messages.
 */
static const char *
token_end(const char *p)
{
	while (*p != '\0' && *p != ',' && *p != ']' && *p != '[' &&
		   !text_isspace(*p))
		p++;
	return p;
}

int
VecqVectorTextMaxElements(const char *str)
{
	int			n = 1;

	for (; *str != '\0'; str++)
	{
		if (*str == ',' && ++n > VECQ_MAX_DIM)
			return VECQ_MAX_DIM + 1;
	}
	return n;
}

/*
 * The parser of both types: elements go to out as float4 (vector) or to
 * hout as halves (halfvec, rounded as they are read, so that an element
 * beyond the range of a half is reported in input order like any other
 * bad element); exactly one of out and hout is non-NULL.
 */
static VecqTextStatus
text_parse(const char *str, float *out, uint16_t *hout, int capacity,
		   int *dim, VecqTextError *err)
{
	const char *p = skip_space(str);
	int			n = 0;

	if (*p == '\0')
		return fail(VECQ_TEXT_EMPTY, err, str, p, p);
	if (*p != '[')
		return fail(VECQ_TEXT_NO_OPEN_BRACKET, err, str, p, token_end(p + 1));
	p = skip_space(p + 1);

	if (*p == ']')
	{
		/* "[]": well-formed but empty; junk after it still counts first */
		const char *q = skip_space(p + 1);

		if (*q != '\0')
			return fail(VECQ_TEXT_TRAILING_JUNK, err, str, q, q + strlen(q));
		return fail(VECQ_TEXT_NO_DIMENSIONS, err, str, p, p + 1);
	}

	for (;;)
	{
		char	   *end;
		float		x;

		if (*p == '\0')
			return fail(VECQ_TEXT_UNEXPECTED_END, err, str, p, p);
		if (n >= VECQ_MAX_DIM || n >= capacity)
			return fail(VECQ_TEXT_TOO_MANY_DIMENSIONS, err, str, p, p);

		/* whitespace is already skipped, so strtof sees the element itself */
		errno = 0;
		x = strtof(p, &end);
		if (end == p)
		{
			const char *bad = token_end(p);

			/* name at least one character, e.g. the ',' of "[,1]" */
			return fail(VECQ_TEXT_BAD_NUMBER, err, str, p, bad > p ? bad : p + 1);
		}
		if (isnan(x))
			return fail(VECQ_TEXT_NAN, err, str, p, end);
		if (isinf(x))
		{
			/* "1e39" overflows; "inf" and "infinity" are spelled infinities */
			if (errno == ERANGE)
				return fail(VECQ_TEXT_OUT_OF_RANGE, err, str, p, end);
			return fail(VECQ_TEXT_INFINITE, err, str, p, end);
		}
		/* underflow (ERANGE with a finite result) is accepted */
		if (hout != NULL)
		{
			/* finite in float4 but past 65504 once rounded to a half */
			uint16_t	h = VecqFloatToHalf(x);

			if (VecqHalfIsInf(h))
				return fail(VECQ_TEXT_OUT_OF_RANGE, err, str, p, end);
			hout[n++] = h;
		}
		else
			out[n++] = x;

		p = skip_space(end);
		if (*p == ',')
		{
			p = skip_space(p + 1);
			continue;
		}
		if (*p == ']')
			break;
		if (*p == '\0')
			return fail(VECQ_TEXT_UNEXPECTED_END, err, str, p, p);

		/* "[1 2]", "[1x]": the element is followed by something else */
		return fail(VECQ_TEXT_EXPECTED_SEPARATOR, err, str, p, token_end(p + 1));
	}

	p = skip_space(p + 1);
	if (*p != '\0')
		return fail(VECQ_TEXT_TRAILING_JUNK, err, str, p, p + strlen(p));

	*dim = n;
	return VECQ_TEXT_OK;
}

VecqTextStatus
VecqVectorTextParse(const char *str, float *out, int capacity, int *dim,
					VecqTextError *err)
{
	return text_parse(str, out, NULL, capacity, dim, err);
}

VecqTextStatus
VecqHalfvecTextParse(const char *str, uint16_t *out, int capacity, int *dim,
					 VecqTextError *err)
{
	return text_parse(str, NULL, out, capacity, dim, err);
}

size_t
VecqVectorTextBufferSize(int dim)
{
	/* each element plus its comma, the brackets and the NUL */
	return (size_t) dim * (VECQ_TEXT_MAX_ELEMENT_LEN + 1) + 3;
}

size_t
VecqVectorTextFormat(const float *x, int dim, char *buf)
{
	char	   *p = buf;

	StaticAssertStmt(FLOAT_SHORTEST_DECIMAL_LEN <= VECQ_TEXT_MAX_ELEMENT_LEN + 1,
					 "VECQ_TEXT_MAX_ELEMENT_LEN too small for a float4");

	*p++ = '[';
	for (int i = 0; i < dim; i++)
	{
		if (i > 0)
			*p++ = ',';
		p += float_to_shortest_decimal_bufn(x[i], p);
	}
	*p++ = ']';
	*p = '\0';
	return (size_t) (p - buf);
}

const char *
VecqTextStatusName(VecqTextStatus status)
{
	switch (status)
	{
		case VECQ_TEXT_OK:
			return "ok";
		case VECQ_TEXT_EMPTY:
			return "empty input";
		case VECQ_TEXT_NO_OPEN_BRACKET:
			return "missing opening bracket";
		case VECQ_TEXT_UNEXPECTED_END:
			return "unexpected end of input";
		case VECQ_TEXT_BAD_NUMBER:
			return "not a number";
		case VECQ_TEXT_EXPECTED_SEPARATOR:
			return "expected comma or closing bracket";
		case VECQ_TEXT_TRAILING_JUNK:
			return "junk after closing bracket";
		case VECQ_TEXT_NO_DIMENSIONS:
			return "no dimensions";
		case VECQ_TEXT_NAN:
			return "NaN element";
		case VECQ_TEXT_INFINITE:
			return "infinite element";
		case VECQ_TEXT_OUT_OF_RANGE:
			return "element out of range";
		case VECQ_TEXT_TOO_MANY_DIMENSIONS:
			return "too many dimensions";
	}
	return "unknown status";
}
