/*-------------------------------------------------------------------------
 *
 * half.h
 *	  IEEE 754 binary16 ("half") values: conversion to and from float4.
 *
 * A half is kept as its bit pattern in a uint16_t: 1 sign bit, 5 exponent
 * bits (bias 15), 10 fraction bits.  Finite halves lie within +-65504; the
 * smallest positive subnormal is 2^-24.
 *
 * Every half is exactly a float4, so VecqHalfToFloat is exact.
 * VecqFloatToHalf rounds to the nearest half, ties to even, which is what
 * the F16C instruction vcvtps2ph does with rounding mode 0; a float4 whose
 * magnitude rounds past 65504 (|x| >= 65520) gives an infinity of its sign,
 * and callers that must not store one check with VecqHalfIsInf.  NaNs stay
 * NaNs of the same sign, quieted, keeping the top fraction bits, as the
 * hardware does, so the scalar and SIMD array conversions (the kernels
 * half_to_float and float_to_half of distance.h) give identical bits for
 * every input; test/unit/test_half.c checks that.
 *
 * These helpers use no server facilities (src/common).
 *
 * src/common/half.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef VECQ_HALF_H
#define VECQ_HALF_H

#include <stdint.h>
#include <string.h>

/* largest finite half */
#define VECQ_HALF_MAX 65504.0f

static inline uint32_t
vecq_float_bits(float f)
{
	uint32_t	u;

	memcpy(&u, &f, sizeof(u));
	return u;
}

static inline float
vecq_bits_float(uint32_t u)
{
	float		f;

	memcpy(&f, &u, sizeof(f));
	return f;
}

/* the float4 a half stands for (exact) */
static inline float
VecqHalfToFloat(uint16_t h)
{
	uint32_t	sign = (uint32_t) (h & 0x8000) << 16;
	uint32_t	exp = (h >> 10) & 0x1f;
	uint32_t	frac = h & 0x3ff;

	if (exp == 31)				/* infinity, or NaN (quieted) */
		return vecq_bits_float(sign | 0x7f800000 | (frac << 13) |
							   (frac != 0 ? 0x400000 : 0));
	if (exp == 0)
	{
		/* zero or subnormal: frac * 2^-24, exact in float4 */
		float		mag = (float) frac * 0x1p-24f;

		return vecq_bits_float(sign | vecq_float_bits(mag));
	}
	/* normal: rebias the exponent from 15 to 127 */
	return vecq_bits_float(sign | ((exp + 112) << 23) | (frac << 13));
}

/* the half nearest to f, ties to even; +-Inf past the largest half */
static inline uint16_t
VecqFloatToHalf(float f)
{
	uint32_t	u = vecq_float_bits(f);
	uint16_t	sign = (uint16_t) ((u >> 16) & 0x8000);
	uint32_t	mag = u & 0x7fffffff;

	if (mag > 0x7f800000)		/* NaN: quiet, keep the top fraction bits */
		return sign | 0x7e00 | ((mag >> 13) & 0x3ff);
	if (mag >= 0x477ff000)		/* 65520 and up round to infinity */
		return sign | 0x7c00;
	if (mag >= 0x38800000)
	{
		/* normal half (>= 2^-14): drop 13 fraction bits, rounding */
		uint32_t	h = (mag - 0x38000000) >> 13;
		uint32_t	rest = mag & 0x1fff;

		if (rest > 0x1000 || (rest == 0x1000 && (h & 1)))
			h++;				/* a carry moves into the exponent: right */
		return sign | (uint16_t) h;
	}
	if (mag <= 0x33000000)		/* at most 2^-25: rounds to zero */
		return sign;
	{
		/* subnormal half: the value in units of 2^-24, rounded */
		uint32_t	m = (mag & 0x7fffff) | 0x800000;
		int			shift = 126 - (int) (mag >> 23);	/* 14 .. 24 */
		uint32_t	h = m >> shift;
		uint32_t	rest = m & ((1u << shift) - 1);
		uint32_t	halfway = 1u << (shift - 1);

		if (rest > halfway || (rest == halfway && (h & 1)))
			h++;
		return sign | (uint16_t) h;
	}
}

static inline int
VecqHalfIsInf(uint16_t h)
{
	return (h & 0x7fff) == 0x7c00;
}

static inline int
VecqHalfIsNan(uint16_t h)
{
	return (h & 0x7fff) > 0x7c00;
}

#endif							/* VECQ_HALF_H */
