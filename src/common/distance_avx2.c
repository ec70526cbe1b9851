/*-------------------------------------------------------------------------
 *
 * distance_avx2.c
 *	  Distance kernels for CPUs with AVX2 and FMA.
 *
 * This file is compiled with -mavx2 -mfma; distance.c calls into it only
 * after checking that the CPU supports both.  Built without those flags it
 * holds no kernels and exports a NULL table (see distance_simd.h).
 *
 * Method: each step loads 4 float4 elements of each input and widens them
 * to 4 doubles (vcvtps2pd), so every difference and product is computed
 * exactly in double, as in the scalar kernels.  The main loop handles 16
 * elements per iteration into independent accumulators, which hides the
 * latency of the floating-point adds; then single 4-element steps; then the
 * last 1-3 elements with a masked load, which never touches memory past
 * the end of the inputs.  The accumulators are summed at the end, so the
 * result may differ from the scalar kernel's in the last bits.
 *
 * src/common/distance_avx2.c
 *
 *-------------------------------------------------------------------------
 */
#ifndef FRONTEND
#include "postgres.h"
#else
#include "postgres_fe.h"
#endif

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

#include "common/distance.h"
#include "common/distance_simd.h"

#if defined(__AVX2__) && defined(__FMA__)

/*
 * Lane masks for the tail: loading 4 ints from &tail_mask[4 - r] gives r
 * all-ones lanes followed by 4 - r zero lanes.
 */
static const int32 tail_mask[8] = {-1, -1, -1, -1, 0, 0, 0, 0};

/* 4 floats at p widened to 4 doubles */
static inline __m256d
load4(const float *p)
{
	return _mm256_cvtps_pd(_mm_loadu_ps(p));
}

/*
 * The first r (1..3) floats at p widened to doubles, the other lanes zero.
 * The masked-off elements are not read, so p + r may be the end of memory.
 */
static inline __m256d
load_tail(const float *p, int r)
{
	__m128i		mask = _mm_loadu_si128((const __m128i *) (tail_mask + 4 - r));

	return _mm256_cvtps_pd(_mm_maskload_ps(p, mask));
}

/* sum of the 4 lanes */
static inline double
hsum(__m256d v)
{
	__m128d		s = _mm_add_pd(_mm256_castpd256_pd128(v),
							   _mm256_extractf128_pd(v, 1));

	return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

/* |v| lane by lane: clear the sign bits */
static inline __m256d
abs4(__m256d v)
{
	return _mm256_andnot_pd(_mm256_set1_pd(-0.0), v);
}

static double
avx2_l2_squared(const float *a, const float *b, int n)
{
	__m256d		s0 = _mm256_setzero_pd();
	__m256d		s1 = _mm256_setzero_pd();
	__m256d		s2 = _mm256_setzero_pd();
	__m256d		s3 = _mm256_setzero_pd();
	__m256d		d;
	int			i = 0;

	for (; i <= n - 16; i += 16)
	{
		__m256d		d0 = _mm256_sub_pd(load4(a + i), load4(b + i));
		__m256d		d1 = _mm256_sub_pd(load4(a + i + 4), load4(b + i + 4));
		__m256d		d2 = _mm256_sub_pd(load4(a + i + 8), load4(b + i + 8));
		__m256d		d3 = _mm256_sub_pd(load4(a + i + 12), load4(b + i + 12));

		s0 = _mm256_fmadd_pd(d0, d0, s0);
		s1 = _mm256_fmadd_pd(d1, d1, s1);
		s2 = _mm256_fmadd_pd(d2, d2, s2);
		s3 = _mm256_fmadd_pd(d3, d3, s3);
	}
	for (; i <= n - 4; i += 4)
	{
		d = _mm256_sub_pd(load4(a + i), load4(b + i));
		s0 = _mm256_fmadd_pd(d, d, s0);
	}
	if (i < n)
	{
		d = _mm256_sub_pd(load_tail(a + i, n - i), load_tail(b + i, n - i));
		s1 = _mm256_fmadd_pd(d, d, s1);
	}
	return hsum(_mm256_add_pd(_mm256_add_pd(s0, s1), _mm256_add_pd(s2, s3)));
}

static double
avx2_inner_product(const float *a, const float *b, int n)
{
	__m256d		s0 = _mm256_setzero_pd();
	__m256d		s1 = _mm256_setzero_pd();
	__m256d		s2 = _mm256_setzero_pd();
	__m256d		s3 = _mm256_setzero_pd();
	int			i = 0;

	for (; i <= n - 16; i += 16)
	{
		s0 = _mm256_fmadd_pd(load4(a + i), load4(b + i), s0);
		s1 = _mm256_fmadd_pd(load4(a + i + 4), load4(b + i + 4), s1);
		s2 = _mm256_fmadd_pd(load4(a + i + 8), load4(b + i + 8), s2);
		s3 = _mm256_fmadd_pd(load4(a + i + 12), load4(b + i + 12), s3);
	}
	for (; i <= n - 4; i += 4)
		s0 = _mm256_fmadd_pd(load4(a + i), load4(b + i), s0);
	if (i < n)
		s1 = _mm256_fmadd_pd(load_tail(a + i, n - i),
							 load_tail(b + i, n - i), s1);
	return hsum(_mm256_add_pd(_mm256_add_pd(s0, s1), _mm256_add_pd(s2, s3)));
}

static double
avx2_l1(const float *a, const float *b, int n)
{
	__m256d		s0 = _mm256_setzero_pd();
	__m256d		s1 = _mm256_setzero_pd();
	__m256d		s2 = _mm256_setzero_pd();
	__m256d		s3 = _mm256_setzero_pd();
	int			i = 0;

	for (; i <= n - 16; i += 16)
	{
		s0 = _mm256_add_pd(s0, abs4(_mm256_sub_pd(load4(a + i),
												  load4(b + i))));
		s1 = _mm256_add_pd(s1, abs4(_mm256_sub_pd(load4(a + i + 4),
												  load4(b + i + 4))));
		s2 = _mm256_add_pd(s2, abs4(_mm256_sub_pd(load4(a + i + 8),
												  load4(b + i + 8))));
		s3 = _mm256_add_pd(s3, abs4(_mm256_sub_pd(load4(a + i + 12),
												  load4(b + i + 12))));
	}
	for (; i <= n - 4; i += 4)
		s0 = _mm256_add_pd(s0, abs4(_mm256_sub_pd(load4(a + i),
												  load4(b + i))));
	if (i < n)
		s1 = _mm256_add_pd(s1, abs4(_mm256_sub_pd(load_tail(a + i, n - i),
												  load_tail(b + i, n - i))));
	return hsum(_mm256_add_pd(_mm256_add_pd(s0, s1), _mm256_add_pd(s2, s3)));
}

/*
 * Three sums at once: two accumulators per sum (six registers) leave room
 * for the widened inputs in the sixteen ymm registers without spilling.
 */
static VecqCosineParts
avx2_cosine_parts(const float *a, const float *b, int n)
{
	__m256d		dot0 = _mm256_setzero_pd();
	__m256d		dot1 = _mm256_setzero_pd();
	__m256d		na0 = _mm256_setzero_pd();
	__m256d		na1 = _mm256_setzero_pd();
	__m256d		nb0 = _mm256_setzero_pd();
	__m256d		nb1 = _mm256_setzero_pd();
	__m256d		x;
	__m256d		y;
	VecqCosineParts parts;
	int			i = 0;

	for (; i <= n - 8; i += 8)
	{
		__m256d		x0 = load4(a + i);
		__m256d		y0 = load4(b + i);
		__m256d		x1 = load4(a + i + 4);
		__m256d		y1 = load4(b + i + 4);

		dot0 = _mm256_fmadd_pd(x0, y0, dot0);
		na0 = _mm256_fmadd_pd(x0, x0, na0);
		nb0 = _mm256_fmadd_pd(y0, y0, nb0);
		dot1 = _mm256_fmadd_pd(x1, y1, dot1);
		na1 = _mm256_fmadd_pd(x1, x1, na1);
		nb1 = _mm256_fmadd_pd(y1, y1, nb1);
	}
	if (i <= n - 4)
	{
		x = load4(a + i);
		y = load4(b + i);
		dot0 = _mm256_fmadd_pd(x, y, dot0);
		na0 = _mm256_fmadd_pd(x, x, na0);
		nb0 = _mm256_fmadd_pd(y, y, nb0);
		i += 4;
	}
	if (i < n)
	{
		x = load_tail(a + i, n - i);
		y = load_tail(b + i, n - i);
		dot1 = _mm256_fmadd_pd(x, y, dot1);
		na1 = _mm256_fmadd_pd(x, x, na1);
		nb1 = _mm256_fmadd_pd(y, y, nb1);
	}
	parts.dot = hsum(_mm256_add_pd(dot0, dot1));
	parts.norm_a = hsum(_mm256_add_pd(na0, na1));
	parts.norm_b = hsum(_mm256_add_pd(nb0, nb1));
	return parts;
}

static double
avx2_norm_squared(const float *a, int n)
{
	__m256d		s0 = _mm256_setzero_pd();
	__m256d		s1 = _mm256_setzero_pd();
	__m256d		s2 = _mm256_setzero_pd();
	__m256d		s3 = _mm256_setzero_pd();
	__m256d		x;
	int			i = 0;

	for (; i <= n - 16; i += 16)
	{
		__m256d		x0 = load4(a + i);
		__m256d		x1 = load4(a + i + 4);
		__m256d		x2 = load4(a + i + 8);
		__m256d		x3 = load4(a + i + 12);

		s0 = _mm256_fmadd_pd(x0, x0, s0);
		s1 = _mm256_fmadd_pd(x1, x1, s1);
		s2 = _mm256_fmadd_pd(x2, x2, s2);
		s3 = _mm256_fmadd_pd(x3, x3, s3);
	}
	for (; i <= n - 4; i += 4)
	{
		x = load4(a + i);
		s0 = _mm256_fmadd_pd(x, x, s0);
	}
	if (i < n)
	{
		x = load_tail(a + i, n - i);
		s1 = _mm256_fmadd_pd(x, x, s1);
	}
	return hsum(_mm256_add_pd(_mm256_add_pd(s0, s1), _mm256_add_pd(s2, s3)));
}

static const VecqDistanceKernels avx2_kernels = {
	.l2_squared = avx2_l2_squared,
	.inner_product = avx2_inner_product,
	.l1 = avx2_l1,
	.cosine_parts = avx2_cosine_parts,
	.norm_squared = avx2_norm_squared,
};

const VecqDistanceKernels *const VecqKernelsAvx2 = &avx2_kernels;

#else							/* !(__AVX2__ && __FMA__) */

/* built without -mavx2 -mfma: no AVX2 level in this build */
const VecqDistanceKernels *const VecqKernelsAvx2 = NULL;

#endif							/* __AVX2__ && __FMA__ */
