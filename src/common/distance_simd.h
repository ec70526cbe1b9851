/*-------------------------------------------------------------------------
 *
 * distance_simd.h
 *	  Private interface between the distance dispatcher (distance.c) and
 *	  the files holding the SIMD kernels (distance_avx2.c, distance_avx512.c).
 *
 * Each SIMD file is compiled with the instruction-set flags of its level
 * (see SIMD_*_CFLAGS in the top-level Makefile) and exports one pointer to
 * its kernel table.  The pointer is NULL when the file was compiled without
 * those flags (a compiler or platform without them): the file then holds no
 * SIMD code at all, and the dispatcher treats the level as unavailable, so
 * the scalar kernels always build and run.  The dispatcher installs a table
 * only after checking at run time that the CPU and the OS support it.
 *
 * L2 and L1 at every level subtract in float4 and widen the difference to
 * double (see distance.c for why that is accurate enough).  A difference of
 * two finite float4 values can overflow to infinity, though the exact
 * distance is finite; every level then returns the result of the exact
 * kernels declared here instead.
 *
 * Nothing outside src/common/distance*.c includes this file; everyone else
 * goes through distance.h.
 *
 * src/common/distance_simd.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef VECQ_DISTANCE_SIMD_H
#define VECQ_DISTANCE_SIMD_H

#include "common/distance.h"

/* AVX2 + FMA kernels, or NULL if distance_avx2.c was built without them */
extern const VecqDistanceKernels *const VecqKernelsAvx2;

/* AVX-512F/DQ kernels, or NULL if distance_avx512.c was built without them */
extern const VecqDistanceKernels *const VecqKernelsAvx512;

/*
 * L2 squared and L1 with every input widened to double before subtracting:
 * slower, exact differences, never overflow.  For the rare inputs whose
 * float4 differences overflow.
 */
extern double VecqL2SquaredExact(const float *a, const float *b, int n);
extern double VecqL1Exact(const float *a, const float *b, int n);

/*
 * The halfvec kernels of one level, from its half_to_float and its float4
 * kernels: VECQ_HALF_KERNELS(avx2) defines static avx2_half_l2_squared
 * (and the others) calling avx2_half_to_float and avx2_l2_squared.  The
 * halves are widened VECQ_HALF_BLOCK at a time into buffers on the stack
 * (2 x 1 kB, in L1), so no kernel allocates; the block results are summed
 * in double.
 */
#define VECQ_HALF_BLOCK 256

#define VECQ_HALF_KERNELS(lv) \
static double \
lv##_half_l2_squared(const uint16_t *a, const uint16_t *b, int n) \
{ \
	float		fa[VECQ_HALF_BLOCK]; \
	float		fb[VECQ_HALF_BLOCK]; \
	double		sum = 0.0; \
\
	for (int i = 0; i < n; i += VECQ_HALF_BLOCK) \
	{ \
		int			len = n - i < VECQ_HALF_BLOCK ? n - i : VECQ_HALF_BLOCK; \
\
		lv##_half_to_float(a + i, fa, len); \
		lv##_half_to_float(b + i, fb, len); \
		sum += lv##_l2_squared(fa, fb, len); \
	} \
	return sum; \
} \
\
static double \
lv##_half_inner_product(const uint16_t *a, const uint16_t *b, int n) \
{ \
	float		fa[VECQ_HALF_BLOCK]; \
	float		fb[VECQ_HALF_BLOCK]; \
	double		sum = 0.0; \
\
	for (int i = 0; i < n; i += VECQ_HALF_BLOCK) \
	{ \
		int			len = n - i < VECQ_HALF_BLOCK ? n - i : VECQ_HALF_BLOCK; \
\
		lv##_half_to_float(a + i, fa, len); \
		lv##_half_to_float(b + i, fb, len); \
		sum += lv##_inner_product(fa, fb, len); \
	} \
	return sum; \
} \
\
static double \
lv##_half_l1(const uint16_t *a, const uint16_t *b, int n) \
{ \
	float		fa[VECQ_HALF_BLOCK]; \
	float		fb[VECQ_HALF_BLOCK]; \
	double		sum = 0.0; \
\
	for (int i = 0; i < n; i += VECQ_HALF_BLOCK) \
	{ \
		int			len = n - i < VECQ_HALF_BLOCK ? n - i : VECQ_HALF_BLOCK; \
\
		lv##_half_to_float(a + i, fa, len); \
		lv##_half_to_float(b + i, fb, len); \
		sum += lv##_l1(fa, fb, len); \
	} \
	return sum; \
} \
\
static VecqCosineParts \
lv##_half_cosine_parts(const uint16_t *a, const uint16_t *b, int n) \
{ \
	float		fa[VECQ_HALF_BLOCK]; \
	float		fb[VECQ_HALF_BLOCK]; \
	VecqCosineParts sum = {0.0, 0.0, 0.0}; \
\
	for (int i = 0; i < n; i += VECQ_HALF_BLOCK) \
	{ \
		int			len = n - i < VECQ_HALF_BLOCK ? n - i : VECQ_HALF_BLOCK; \
		VecqCosineParts p; \
\
		lv##_half_to_float(a + i, fa, len); \
		lv##_half_to_float(b + i, fb, len); \
		p = lv##_cosine_parts(fa, fb, len); \
		sum.dot += p.dot; \
		sum.norm_a += p.norm_a; \
		sum.norm_b += p.norm_b; \
	} \
	return sum; \
} \
\
static double \
lv##_half_norm_squared(const uint16_t *a, int n) \
{ \
	float		fa[VECQ_HALF_BLOCK]; \
	double		sum = 0.0; \
\
	for (int i = 0; i < n; i += VECQ_HALF_BLOCK) \
	{ \
		int			len = n - i < VECQ_HALF_BLOCK ? n - i : VECQ_HALF_BLOCK; \
\
		lv##_half_to_float(a + i, fa, len); \
		sum += lv##_norm_squared(fa, len); \
	} \
	return sum; \
}

/* the table entries VECQ_HALF_KERNELS(lv) defines */
#define VECQ_HALF_KERNEL_ENTRIES(lv) \
	.half_to_float = lv##_half_to_float, \
	.float_to_half = lv##_float_to_half, \
	.half_l2_squared = lv##_half_l2_squared, \
	.half_inner_product = lv##_half_inner_product, \
	.half_l1 = lv##_half_l1, \
	.half_cosine_parts = lv##_half_cosine_parts, \
	.half_norm_squared = lv##_half_norm_squared

#endif							/* VECQ_DISTANCE_SIMD_H */
