/*-------------------------------------------------------------------------
 *
 * fuzz_vector_text.c
 *	  libFuzzer target for the vector text parser and formatter.
 *
 * Every input is NUL-terminated and handed to VecqVectorTextParse.  If the
 * parser accepts it, the vector must have 1 .. VECQ_MAX_DIM finite elements,
 * and formatting it with VecqVectorTextFormat and parsing the result again
 * must give the same dimension and bit-identical floats; formatting a second
 * time must give the same text.  If the parser rejects it, the status must be
 * a real error status and the reported error span must lie inside the input.
 * Any violation aborts with a message, which libFuzzer reports as a crash.
 *
 * The same input is also parsed as a halfvec (VecqHalfvecTextParse), which
 * must agree with the vector parse: accepted exactly when the vector parse
 * accepts and no element rounds past 65504, each half being the rounding of
 * the vector's float4; rejected with the vector parse's status and span, or
 * with VECQ_TEXT_OUT_OF_RANGE at an element (before the vector's error, if
 * any) whose float4 rounds to an infinite half.  An accepted halfvec,
 * formatted and parsed again, gives the same halves.
 *
 * Output and element buffers are allocated at exactly the size the API
 * promises to need, so AddressSanitizer catches any write past them.
 *
 * test/fuzz/fuzz_vector_text.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/half.h"
#include "common/vector_text.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* report a broken property of the parser and stop */
static void
violation(const char *what, const char *input, VecqTextStatus status)
{
	fprintf(stderr, "fuzz_vector_text: %s (status %d: %s)\n",
			what, (int) status, VecqTextStatusName(status));
	fprintf(stderr, "input (%zu bytes): \"%.200s\"%s\n",
			strlen(input), input, strlen(input) > 200 ? "..." : "");
	abort();
}

/* a copy of the parsed elements, sized exactly like the API asks */
static float *
alloc_elements(const char *str, int *capacity)
{
	float	   *out;

	*capacity = VecqVectorTextMaxElements(str);
	if (*capacity < 1 || *capacity > VECQ_MAX_DIM + 1)
		violation("VecqVectorTextMaxElements out of range", str, VECQ_TEXT_OK);
	out = malloc(sizeof(float) * *capacity);
	if (out == NULL)
		abort();
	return out;
}

/* format x[0 .. dim-1] into a buffer of exactly the promised size */
static char *
format_vector(const float *x, int dim, const char *input)
{
	size_t		bufsize = VecqVectorTextBufferSize(dim);
	char	   *buf = malloc(bufsize);
	size_t		len;

	if (buf == NULL)
		abort();
	len = VecqVectorTextFormat(x, dim, buf);
	if (len >= bufsize || strlen(buf) != len)
		violation("formatted length does not match the buffer", input,
				  VECQ_TEXT_OK);
	return buf;
}

static void
check_rejected(const char *str, VecqTextStatus status, const VecqTextError *err,
			   int capacity)
{
	int			len = (int) strlen(str);

	if (strcmp(VecqTextStatusName(status), "unknown status") == 0)
		violation("parser returned an unknown status", str, status);
	if (err->offset < 0 || err->length < 0 ||
		err->offset > len || err->length > len - err->offset)
	{
		fprintf(stderr, "error span offset %d length %d, input length %d\n",
				err->offset, err->length, len);
		violation("error span outside the input", str, status);
	}

	/*
	 * "too many dimensions" can only be reported once VECQ_MAX_DIM elements
	 * have been read, so the input must have at least that many commas.
	 */
	if (status == VECQ_TEXT_TOO_MANY_DIMENSIONS && capacity != VECQ_MAX_DIM + 1)
		violation("too many dimensions with few commas", str, status);
}

static void
check_accepted(const char *str, const float *x, int dim, int capacity)
{
	char	   *text1;
	char	   *text2;
	float	   *y;
	int			capacity2;
	int			dim2 = -1;
	VecqTextError err2 = {-1, -1};
	VecqTextStatus status2;

	if (dim < 1 || dim > VECQ_MAX_DIM || dim > capacity)
		violation("accepted vector has a bad dimension", str, VECQ_TEXT_OK);
	for (int i = 0; i < dim; i++)
	{
		if (!isfinite(x[i]))
			violation("accepted vector has a non-finite element", str,
					  VECQ_TEXT_OK);
	}

	/* format, parse the text back, and compare bit for bit */
	text1 = format_vector(x, dim, str);
	y = alloc_elements(text1, &capacity2);
	status2 = VecqVectorTextParse(text1, y, capacity2, &dim2, &err2);
	if (status2 != VECQ_TEXT_OK)
	{
		fprintf(stderr, "formatted text: \"%.200s\"\n", text1);
		violation("formatted text is rejected", str, status2);
	}
	if (dim2 != dim)
	{
		fprintf(stderr, "dim %d, after round trip %d\n", dim, dim2);
		violation("round trip changed the dimension", str, status2);
	}
	if (memcmp(x, y, sizeof(float) * dim) != 0)
	{
		for (int i = 0; i < dim; i++)
		{
			uint32_t	a;
			uint32_t	b;

			memcpy(&a, &x[i], sizeof(a));
			memcpy(&b, &y[i], sizeof(b));
			if (a != b)
			{
				fprintf(stderr, "element %d: bits %08x became %08x\n",
						i, (unsigned int) a, (unsigned int) b);
				break;
			}
		}
		violation("round trip changed an element", str, status2);
	}

	/* formatting is a function of the floats alone */
	text2 = format_vector(y, dim2, str);
	if (strcmp(text1, text2) != 0)
	{
		fprintf(stderr, "first: \"%.200s\"\nsecond: \"%.200s\"\n",
				text1, text2);
		violation("formatting twice gives different text", str, status2);
	}

	free(text1);
	free(text2);
	free(y);
}

/*
 * The halfvec parse of str against the vector parse (status, x, dim, err)
 * of the same input.
 */
static void
check_halfvec(const char *str, int capacity, VecqTextStatus status,
			  const float *x, int dim, const VecqTextError *err)
{
	uint16_t   *h = malloc(sizeof(uint16_t) * capacity);
	int			hdim = -1;
	VecqTextError herr = {-1, -1};
	VecqTextStatus hstatus;

	if (h == NULL)
		abort();
	hstatus = VecqHalfvecTextParse(str, h, capacity, &hdim, &herr);
	if (hstatus == VECQ_TEXT_OK)
	{
		float	   *f;
		char	   *text;
		uint16_t   *h2;
		int			capacity2;
		int			hdim2 = -1;
		VecqTextError err2 = {-1, -1};

		if (status != VECQ_TEXT_OK || hdim != dim)
			violation("halfvec accepted what vector did not", str, status);
		for (int i = 0; i < dim; i++)
		{
			if (h[i] != VecqFloatToHalf(x[i]) || VecqHalfIsInf(h[i]) ||
				VecqHalfIsNan(h[i]))
				violation("halfvec element is not the rounded float4", str, hstatus);
		}
		/* format the halves as their float4 values and read them back */
		f = malloc(sizeof(float) * dim);
		if (f == NULL)
			abort();
		for (int i = 0; i < dim; i++)
			f[i] = VecqHalfToFloat(h[i]);
		text = format_vector(f, dim, str);
		capacity2 = VecqVectorTextMaxElements(text);
		h2 = malloc(sizeof(uint16_t) * capacity2);
		if (h2 == NULL)
			abort();
		if (VecqHalfvecTextParse(text, h2, capacity2, &hdim2, &err2) != VECQ_TEXT_OK ||
			hdim2 != dim || memcmp(h, h2, sizeof(uint16_t) * dim) != 0)
		{
			fprintf(stderr, "formatted halfvec: \"%.200s\"\n", text);
			violation("halfvec round trip changed the halves", str, hstatus);
		}
		free(h2);
		free(text);
		free(f);
	}
	else if (hstatus == VECQ_TEXT_OUT_OF_RANGE &&
			 (status == VECQ_TEXT_OK || herr.offset < err->offset))
	{
		/* an element that is a finite float4 but too large for a half */
		char	   *elem;
		float		v;

		check_rejected(str, hstatus, &herr, capacity);
		elem = strndup(str + herr.offset, herr.length);
		if (elem == NULL)
			abort();
		v = strtof(elem, NULL);
		if (!isfinite(v) || !VecqHalfIsInf(VecqFloatToHalf(v)))
		{
			fprintf(stderr, "element \"%s\"\n", elem);
			violation("halfvec out of range for an element that fits", str, hstatus);
		}
		free(elem);
	}
	else if (hstatus != status || herr.offset != err->offset ||
			 herr.length != err->length)
	{
		fprintf(stderr, "halfvec status %d span %d+%d, vector span %d+%d\n",
				(int) hstatus, herr.offset, herr.length, err->offset, err->length);
		violation("halfvec and vector parses disagree", str, status);
	}
	free(h);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *str;
	float	   *x;
	int			capacity;
	int			dim = -1;
	VecqTextError err = {-1, -1};
	VecqTextStatus status;

	/* the parser takes a C string; embedded NULs simply end it early */
	str = malloc(size + 1);
	if (str == NULL)
		abort();
	memcpy(str, data, size);
	str[size] = '\0';

	x = alloc_elements(str, &capacity);
	status = VecqVectorTextParse(str, x, capacity, &dim, &err);
	if (status == VECQ_TEXT_OK)
		check_accepted(str, x, dim, capacity);
	else
		check_rejected(str, status, &err, capacity);
	check_halfvec(str, capacity, status, x, dim, &err);

	free(x);
	free(str);
	return 0;
}
