/*-------------------------------------------------------------------------
 *
 * vector_bit.c
 *	  The bit-string companions of the vector type (pgvector's names):
 *	  binary_quantize(vector) -> bit, and the Hamming and Jaccard distances
 *	  between bit strings of equal length, with their operators <~> and <%>.
 *
 * Bits of PostgreSQL's bit type are stored most significant first, eight
 * to a byte; the padding bits of the last byte are zero, so whole bytes can
 * be counted.
 *
 * src/vector/vector_bit.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "port/pg_bitutils.h"
#include "utils/varbit.h"

#include "vector/vector.h"

/* binary_quantize(vector) -> bit: 1 where the element is above zero */
PG_FUNCTION_INFO_V1(vector_binary_quantize);
Datum
vector_binary_quantize(PG_FUNCTION_ARGS)
{
	Vector	   *v = PG_GETARG_VECTOR_P(0);
	int			len = VARBITTOTALLEN(v->dim);
	VarBit	   *result = palloc0(len);
	bits8	   *out;

	SET_VARSIZE(result, len);
	VARBITLEN(result) = v->dim;
	out = VARBITS(result);
	for (int i = 0; i < v->dim; i++)
		if (v->x[i] > 0)
			out[i / 8] |= (bits8) (0x80 >> (i % 8));
	PG_RETURN_VARBIT_P(result);
}

static void
check_lengths(VarBit *a, VarBit *b)
{
	if (VARBITLEN(a) != VARBITLEN(b))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different bit lengths %d and %d", VARBITLEN(a), VARBITLEN(b))));
}

double
BitsHammingDistance(const uint8 *a, const uint8 *b, int nbytes)
{
	uint64		n = 0;
	int			i = 0;

	for (; i + 8 <= nbytes; i += 8)
	{
		uint64		x,
					y;

		memcpy(&x, a + i, 8);
		memcpy(&y, b + i, 8);
		n += pg_popcount64(x ^ y);
	}
	for (; i < nbytes; i++)
		n += pg_number_of_ones[a[i] ^ b[i]];
	return (double) n;
}

/* 1 - |a and b| / |a or b|; 1 when neither has a bit set */
double
BitsJaccardDistance(const uint8 *a, const uint8 *b, int nbytes)
{
	uint64		both = 0;
	uint64		either = 0;
	int			i = 0;

	for (; i + 8 <= nbytes; i += 8)
	{
		uint64		x,
					y;

		memcpy(&x, a + i, 8);
		memcpy(&y, b + i, 8);
		both += pg_popcount64(x & y);
		either += pg_popcount64(x | y);
	}
	for (; i < nbytes; i++)
	{
		both += pg_number_of_ones[a[i] & b[i]];
		either += pg_number_of_ones[a[i] | b[i]];
	}
	if (either == 0)
		return 1.0;
	return 1.0 - (double) both / (double) either;
}

PG_FUNCTION_INFO_V1(bit_hamming_distance);
Datum
bit_hamming_distance(PG_FUNCTION_ARGS)
{
	VarBit	   *a = PG_GETARG_VARBIT_P(0);
	VarBit	   *b = PG_GETARG_VARBIT_P(1);

	check_lengths(a, b);
	PG_RETURN_FLOAT8(BitsHammingDistance(VARBITS(a), VARBITS(b), VARBITBYTES(a)));
}

PG_FUNCTION_INFO_V1(bit_jaccard_distance);
Datum
bit_jaccard_distance(PG_FUNCTION_ARGS)
{
	VarBit	   *a = PG_GETARG_VARBIT_P(0);
	VarBit	   *b = PG_GETARG_VARBIT_P(1);

	check_lengths(a, b);
	PG_RETURN_FLOAT8(BitsJaccardDistance(VARBITS(a), VARBITS(b), VARBITBYTES(a)));
}
