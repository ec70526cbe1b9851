/*-------------------------------------------------------------------------
 *
 * distance.h
 *	  Distance kernels for float4 vectors (and, through conversions to
 *	  float4, for halfvec's float16 ones): the only place in vecq where a
 *	  distance between two vectors is computed.
 *
 * Every kernel exists at three SIMD levels (scalar, AVX2+FMA, AVX-512F; both
 * SIMD levels also need F16C for the float16 conversions);
 * VecqDistanceInit() picks the best level the CPU supports, once, when the
 * library is loaded, and fills VecqKernels.  Callers use the VecqKernels
 * function pointers (or the inline helpers below) and never test the CPU
 * themselves.
 *
 * Accuracy contract: inner product, cosine and norm convert their float4
 * inputs to double before multiplying (a float4 product is exact in double)
 * and accumulate in double; L2 and L1 subtract in float4 and widen the
 * difference to double, which halves the conversions and, since every term
 * is non-negative, keeps the relative error below ~1.2e-7 (a difference that
 * overflows float4 sends the kernel to an exact double path).  So every
 * result agrees with a double-precision reference within 1e-6 relative for
 * any dimension up to VECQ_MAX_DIM (test/unit/test_distance.c checks this at
 * every level).  Results of different SIMD levels may differ in the last bits
 * of the double because the summation order differs.
 *
 * This file uses no server facilities: it is compiled into the extension,
 * the fuzzers, the unit tests and the benchmarks alike.
 *
 * src/common/distance.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef VECQ_DISTANCE_H
#define VECQ_DISTANCE_H

#include <stdbool.h>
#include <stdint.h>

typedef enum VecqSimdLevel
{
	VECQ_SIMD_SCALAR = 0,
	VECQ_SIMD_AVX2,				/* AVX2 + FMA */
	VECQ_SIMD_AVX512,			/* AVX-512F (+DQ) */
	VECQ_SIMD_NLEVELS
} VecqSimdLevel;

/*
 * Result of the cosine kernel: the three sums needed for cosine distance,
 * computed in one pass.
 */
typedef struct VecqCosineParts
{
	double		dot;			/* sum a[i] * b[i] */
	double		norm_a;			/* sum a[i] * a[i] */
	double		norm_b;			/* sum b[i] * b[i] */
} VecqCosineParts;

/*
 * One set of kernels.  a and b point to n floats (n >= 0); n == 0 gives 0.
 * No kernel allocates, fails or checks dimensions: callers do.
 */
typedef struct VecqDistanceKernels
{
	/* sum (a[i] - b[i])^2 */
	double		(*l2_squared) (const float *a, const float *b, int n);
	/* sum a[i] * b[i] */
	double		(*inner_product) (const float *a, const float *b, int n);
	/* sum |a[i] - b[i]| */
	double		(*l1) (const float *a, const float *b, int n);
	/* dot product and both squared norms */
	VecqCosineParts (*cosine_parts) (const float *a, const float *b, int n);
	/* sum a[i]^2 */
	double		(*norm_squared) (const float *a, int n);

	/*
	 * The same three distances summed in float4, for navigating a graph
	 * (src/hnsw), where a relative error of VECQ_SQ8_REL_ERROR of the sum
	 * of the absolute terms is harmless and twice the speed is not.  They
	 * can overflow to infinity (or give NaN) where the exact kernels do
	 * not: callers check and fall back to the exact kernels.
	 */
	double		(*l2_squared_approx) (const float *a, const float *b, int n);
	double		(*inner_product_approx) (const float *a, const float *b, int n);
	double		(*l1_approx) (const float *a, const float *b, int n);

	/*
	 * Kernels on SQ8 codes (src/quant): c holds n codes 0..255, q a query
	 * already expressed in code units, w per-dimension weights.  They sum
	 * in float4 (they rank candidates, callers that need a bound allow for
	 * the rounding: VECQ_SQ8_REL_ERROR).
	 */
	/* sum w[i] * (q[i] - c[i])^2 */
	double		(*sq8_l2) (const float *q, const float *w, const uint8_t *c, int n);
	/* sum q[i] * c[i] */
	double		(*sq8_dot) (const float *q, const uint8_t *c, int n);
	/* sum w[i] * |q[i] - c[i]| */
	double		(*sq8_l1) (const float *q, const float *w, const uint8_t *c, int n);

	/*
	 * For 1-bit codes (src/quant): the sum of u[i] over the i < n whose bit
	 * (bit i % 8 of bits[i / 8]) is set, in float4; bits holds (n + 7) / 8
	 * bytes.
	 */
	double		(*bits_sum) (const float *u, const uint8_t *bits, int n);

	/*
	 * halfvec (src/common/half.h): n halves to float4 (exact) and n float4
	 * to halves (nearest, ties to even, +-Inf past 65504).  Every level
	 * gives the bits VecqHalfToFloat / VecqFloatToHalf give; the SIMD
	 * levels use F16C (vcvtph2ps, vcvtps2ph).
	 */
	void		(*half_to_float) (const uint16_t *h, float *out, int n);
	void		(*float_to_half) (const float *f, uint16_t *out, int n);

	/*
	 * The exact kernels above on two arrays of n halves: the halves are
	 * widened to float4 a block at a time and handed to the float4
	 * kernels of the same level, so they keep the float4 kernels'
	 * accuracy contract (products of halves are exact even in float4).
	 */
	double		(*half_l2_squared) (const uint16_t *a, const uint16_t *b, int n);
	double		(*half_inner_product) (const uint16_t *a, const uint16_t *b, int n);
	double		(*half_l1) (const uint16_t *a, const uint16_t *b, int n);
	VecqCosineParts (*half_cosine_parts) (const uint16_t *a, const uint16_t *b, int n);
	double		(*half_norm_squared) (const uint16_t *a, int n);
} VecqDistanceKernels;

/*
 * Bound on the relative rounding error of the SQ8 kernels, relative to the
 * sum of the absolute values of the terms: float4 sums of at most
 * VECQ_MAX_DIM terms spread over 8 or 16 lanes (scalar: one lane, still
 * under 16000 * 2^-24 < 1e-3).
 */
#define VECQ_SQ8_REL_ERROR 1e-3

/* the kernels in use, set by VecqDistanceInit() */
extern VecqDistanceKernels VecqKernels;

/* detect the CPU and install its best kernels in VecqKernels */
extern void VecqDistanceInit(void);

/* best level this CPU (and this build) supports */
extern VecqSimdLevel VecqDistanceBestLevel(void);

/* level currently installed in VecqKernels */
extern VecqSimdLevel VecqDistanceCurrentLevel(void);

/*
 * Kernels of one level, or NULL if this CPU or build cannot run it.  For
 * tests and benchmarks that compare levels.
 */
extern const VecqDistanceKernels *VecqDistanceGetKernels(VecqSimdLevel level);

/* install the kernels of the given level; false if unsupported */
extern bool VecqDistanceSetLevel(VecqSimdLevel level);

/* "scalar", "avx2", "avx512" */
extern const char *VecqSimdLevelName(VecqSimdLevel level);

/*
 * Cosine distance 1 - dot / sqrt(|a|^2 |b|^2) from its parts, with the
 * similarity clamped to [-1, 1] so rounding never yields a distance outside
 * [0, 2].  Returns NaN when either vector has norm zero (the distance is
 * undefined), as pgvector does.
 */
extern double VecqCosineDistanceFromParts(VecqCosineParts parts);

#endif							/* VECQ_DISTANCE_H */
