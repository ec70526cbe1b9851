/*-------------------------------------------------------------------------
 *
 * distance_avx512.c
 *	  Distance kernels for CPUs with AVX-512F and AVX-512DQ.
 *
 * This file is compiled with -mavx512f -mavx512dq -mavx2 -mfma; distance.c
 * calls into it only after checking that the CPU supports all four.  Built
 * without those flags it holds no kernels and exports a NULL table (see
 * distance_simd.h).
 *
 * Method: the kernels compute the same terms as the scalar ones in
 * distance.c (see there for the accuracy argument).  Inner product, cosine
 * and norm widen 8 float4 elements at a time to doubles (vcvtps2pd into a
 * zmm register) and multiply in double; L2 and L1 subtract 16 float4
 * elements at a time and widen the differences, which halves the
 * conversions, the bottleneck.  The main loop handles 32 elements per
 * iteration into independent accumulators, then one 16-element step; the
 * last 1-15 elements are read with one masked load per input, which suppresses
 * faults on the lanes past the end, so there is no scalar tail.
 *
 * src/common/distance_avx512.c
 *
 *-------------------------------------------------------------------------
 */
#ifndef FRONTEND
#include "postgres.h"
#else
#include "postgres_fe.h"
#endif

#include <math.h>

#if defined(__AVX512F__) && defined(__AVX512DQ__) && \
	defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#define VECQ_BUILD_AVX512 1
#include <immintrin.h>
#endif

#include "common/distance.h"
#include "common/distance_simd.h"

#ifdef VECQ_BUILD_AVX512

/* 8 floats at p widened to 8 doubles */
static inline __m512d
load8(const float *p)
{
	return _mm512_cvtps_pd(_mm256_loadu_ps(p));
}

/* lanes 0-7 and 8-15 of 16 floats, widened to doubles */
static inline __m512d
widen_lo(__m512 v)
{
	return _mm512_cvtps_pd(_mm512_castps512_ps256(v));
}

static inline __m512d
widen_hi(__m512 v)
{
	return _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1));
}

/*
 * The first r (1..15) floats at p, the other lanes zero: a masked load,
 * which does not access the masked-off lanes, so p + r may be the end of
 * readable memory.
 */
static inline __m512
load_tail_ps(const float *p, int r)
{
	return _mm512_maskz_loadu_ps((__mmask16) ((1u << r) - 1), p);
}

/* the same, as two halves widened to doubles */
static inline void
load_tail(const float *p, int r, __m512d *lo, __m512d *hi)
{
	__m512		v = load_tail_ps(p, r);

	*lo = widen_lo(v);
	*hi = widen_hi(v);
}

/* a[0..15] - b[0..15] in float4 */
static inline __m512
diff16(const float *a, const float *b)
{
	return _mm512_sub_ps(_mm512_loadu_ps(a), _mm512_loadu_ps(b));
}

/* a[0..r-1] - b[0..r-1] in float4 (r is 1..15), the other lanes zero */
static inline __m512
diff_tail(const float *a, const float *b, int r)
{
	return _mm512_sub_ps(load_tail_ps(a, r), load_tail_ps(b, r));
}

/* s += v * v for the low and the high half of v, widened */
static inline void
add_squares(__m512 v, __m512d *slo, __m512d *shi)
{
	__m512d		lo = widen_lo(v);
	__m512d		hi = widen_hi(v);

	*slo = _mm512_fmadd_pd(lo, lo, *slo);
	*shi = _mm512_fmadd_pd(hi, hi, *shi);
}

/* s += v for the low and the high half of v, widened */
static inline void
add_widened(__m512 v, __m512d *slo, __m512d *shi)
{
	*slo = _mm512_add_pd(*slo, widen_lo(v));
	*shi = _mm512_add_pd(*shi, widen_hi(v));
}

static double
avx512_l2_squared(const float *a, const float *b, int n)
{
	__m512d		s0 = _mm512_setzero_pd();
	__m512d		s1 = _mm512_setzero_pd();
	__m512d		s2 = _mm512_setzero_pd();
	__m512d		s3 = _mm512_setzero_pd();
	double		sum;
	int			i = 0;

	for (; i <= n - 32; i += 32)
	{
		add_squares(diff16(a + i, b + i), &s0, &s1);
		add_squares(diff16(a + i + 16, b + i + 16), &s2, &s3);
	}
	if (i <= n - 16)
	{
		add_squares(diff16(a + i, b + i), &s0, &s1);
		i += 16;
	}
	if (i < n)
		add_squares(diff_tail(a + i, b + i, n - i), &s2, &s3);
	sum = _mm512_reduce_add_pd(_mm512_add_pd(_mm512_add_pd(s0, s1),
											 _mm512_add_pd(s2, s3)));

	/* a float4 difference overflowed: see distance.c */
	if (unlikely(isinf(sum)))
		return VecqL2SquaredExact(a, b, n);
	return sum;
}

static double
avx512_inner_product(const float *a, const float *b, int n)
{
	__m512d		s0 = _mm512_setzero_pd();
	__m512d		s1 = _mm512_setzero_pd();
	__m512d		s2 = _mm512_setzero_pd();
	__m512d		s3 = _mm512_setzero_pd();
	int			i = 0;

	for (; i <= n - 32; i += 32)
	{
		s0 = _mm512_fmadd_pd(load8(a + i), load8(b + i), s0);
		s1 = _mm512_fmadd_pd(load8(a + i + 8), load8(b + i + 8), s1);
		s2 = _mm512_fmadd_pd(load8(a + i + 16), load8(b + i + 16), s2);
		s3 = _mm512_fmadd_pd(load8(a + i + 24), load8(b + i + 24), s3);
	}
	if (i <= n - 16)
	{
		s0 = _mm512_fmadd_pd(load8(a + i), load8(b + i), s0);
		s1 = _mm512_fmadd_pd(load8(a + i + 8), load8(b + i + 8), s1);
		i += 16;
	}
	if (i < n)
	{
		__m512d		alo,
					ahi,
					blo,
					bhi;

		load_tail(a + i, n - i, &alo, &ahi);
		load_tail(b + i, n - i, &blo, &bhi);
		s2 = _mm512_fmadd_pd(alo, blo, s2);
		s3 = _mm512_fmadd_pd(ahi, bhi, s3);
	}
	return _mm512_reduce_add_pd(_mm512_add_pd(_mm512_add_pd(s0, s1),
											  _mm512_add_pd(s2, s3)));
}

static double
avx512_l1(const float *a, const float *b, int n)
{
	__m512d		s0 = _mm512_setzero_pd();
	__m512d		s1 = _mm512_setzero_pd();
	__m512d		s2 = _mm512_setzero_pd();
	__m512d		s3 = _mm512_setzero_pd();
	double		sum;
	int			i = 0;

	for (; i <= n - 32; i += 32)
	{
		add_widened(_mm512_abs_ps(diff16(a + i, b + i)), &s0, &s1);
		add_widened(_mm512_abs_ps(diff16(a + i + 16, b + i + 16)), &s2, &s3);
	}
	if (i <= n - 16)
	{
		add_widened(_mm512_abs_ps(diff16(a + i, b + i)), &s0, &s1);
		i += 16;
	}
	if (i < n)
		add_widened(_mm512_abs_ps(diff_tail(a + i, b + i, n - i)), &s2, &s3);
	sum = _mm512_reduce_add_pd(_mm512_add_pd(_mm512_add_pd(s0, s1),
											 _mm512_add_pd(s2, s3)));

	/* a float4 difference overflowed: see distance.c */
	if (unlikely(isinf(sum)))
		return VecqL1Exact(a, b, n);
	return sum;
}

/*
 * Three sums at once, two accumulators each, 16 elements per iteration.
 */
static VecqCosineParts
avx512_cosine_parts(const float *a, const float *b, int n)
{
	__m512d		dot0 = _mm512_setzero_pd();
	__m512d		dot1 = _mm512_setzero_pd();
	__m512d		na0 = _mm512_setzero_pd();
	__m512d		na1 = _mm512_setzero_pd();
	__m512d		nb0 = _mm512_setzero_pd();
	__m512d		nb1 = _mm512_setzero_pd();
	__m512d		x0,
				x1,
				y0,
				y1;
	VecqCosineParts parts;
	int			i = 0;

	for (; i <= n - 16; i += 16)
	{
		x0 = load8(a + i);
		y0 = load8(b + i);
		x1 = load8(a + i + 8);
		y1 = load8(b + i + 8);
		dot0 = _mm512_fmadd_pd(x0, y0, dot0);
		na0 = _mm512_fmadd_pd(x0, x0, na0);
		nb0 = _mm512_fmadd_pd(y0, y0, nb0);
		dot1 = _mm512_fmadd_pd(x1, y1, dot1);
		na1 = _mm512_fmadd_pd(x1, x1, na1);
		nb1 = _mm512_fmadd_pd(y1, y1, nb1);
	}
	if (i < n)
	{
		load_tail(a + i, n - i, &x0, &x1);
		load_tail(b + i, n - i, &y0, &y1);
		dot0 = _mm512_fmadd_pd(x0, y0, dot0);
		na0 = _mm512_fmadd_pd(x0, x0, na0);
		nb0 = _mm512_fmadd_pd(y0, y0, nb0);
		dot1 = _mm512_fmadd_pd(x1, y1, dot1);
		na1 = _mm512_fmadd_pd(x1, x1, na1);
		nb1 = _mm512_fmadd_pd(y1, y1, nb1);
	}
	parts.dot = _mm512_reduce_add_pd(_mm512_add_pd(dot0, dot1));
	parts.norm_a = _mm512_reduce_add_pd(_mm512_add_pd(na0, na1));
	parts.norm_b = _mm512_reduce_add_pd(_mm512_add_pd(nb0, nb1));
	return parts;
}

static double
avx512_norm_squared(const float *a, int n)
{
	__m512d		s0 = _mm512_setzero_pd();
	__m512d		s1 = _mm512_setzero_pd();
	__m512d		s2 = _mm512_setzero_pd();
	__m512d		s3 = _mm512_setzero_pd();
	__m512d		x0,
				x1,
				x2,
				x3;
	int			i = 0;

	for (; i <= n - 32; i += 32)
	{
		x0 = load8(a + i);
		x1 = load8(a + i + 8);
		x2 = load8(a + i + 16);
		x3 = load8(a + i + 24);
		s0 = _mm512_fmadd_pd(x0, x0, s0);
		s1 = _mm512_fmadd_pd(x1, x1, s1);
		s2 = _mm512_fmadd_pd(x2, x2, s2);
		s3 = _mm512_fmadd_pd(x3, x3, s3);
	}
	if (i <= n - 16)
	{
		x0 = load8(a + i);
		x1 = load8(a + i + 8);
		s0 = _mm512_fmadd_pd(x0, x0, s0);
		s1 = _mm512_fmadd_pd(x1, x1, s1);
		i += 16;
	}
	if (i < n)
	{
		load_tail(a + i, n - i, &x2, &x3);
		s2 = _mm512_fmadd_pd(x2, x2, s2);
		s3 = _mm512_fmadd_pd(x3, x3, s3);
	}
	return _mm512_reduce_add_pd(_mm512_add_pd(_mm512_add_pd(s0, s1),
											  _mm512_add_pd(s2, s3)));
}

/* approximate kernels: float4 sums, 32 elements per iteration, masked tail */
static double
avx512_l2_squared_approx(const float *a, const float *b, int n)
{
	__m512		s0 = _mm512_setzero_ps();
	__m512		s1 = _mm512_setzero_ps();
	int			i = 0;

	for (; i <= n - 32; i += 32)
	{
		__m512		d0 = diff16(a + i, b + i);
		__m512		d1 = diff16(a + i + 16, b + i + 16);

		s0 = _mm512_fmadd_ps(d0, d0, s0);
		s1 = _mm512_fmadd_ps(d1, d1, s1);
	}
	if (i <= n - 16)
	{
		__m512		d0 = diff16(a + i, b + i);

		s0 = _mm512_fmadd_ps(d0, d0, s0);
		i += 16;
	}
	if (i < n)
	{
		__m512		d1 = diff_tail(a + i, b + i, n - i);

		s1 = _mm512_fmadd_ps(d1, d1, s1);
	}
	return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

static double
avx512_inner_product_approx(const float *a, const float *b, int n)
{
	__m512		s0 = _mm512_setzero_ps();
	__m512		s1 = _mm512_setzero_ps();
	int			i = 0;

	for (; i <= n - 32; i += 32)
	{
		s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
		s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
	}
	if (i <= n - 16)
	{
		s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
		i += 16;
	}
	if (i < n)
		s1 = _mm512_fmadd_ps(load_tail_ps(a + i, n - i), load_tail_ps(b + i, n - i), s1);
	return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

static double
avx512_l1_approx(const float *a, const float *b, int n)
{
	__m512		s0 = _mm512_setzero_ps();
	__m512		s1 = _mm512_setzero_ps();
	int			i = 0;

	for (; i <= n - 32; i += 32)
	{
		s0 = _mm512_add_ps(s0, _mm512_abs_ps(diff16(a + i, b + i)));
		s1 = _mm512_add_ps(s1, _mm512_abs_ps(diff16(a + i + 16, b + i + 16)));
	}
	if (i <= n - 16)
	{
		s0 = _mm512_add_ps(s0, _mm512_abs_ps(diff16(a + i, b + i)));
		i += 16;
	}
	if (i < n)
		s1 = _mm512_add_ps(s1, _mm512_abs_ps(diff_tail(a + i, b + i, n - i)));
	return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

/*
 * SQ8 kernels: 16 codes at a time, zero-extended to 32-bit integers and
 * converted to float4 (exact for 0..255); the tail of fewer than 16 codes
 * is scalar (a masked byte load would need AVX-512BW).
 */
static inline __m512
codes16(const uint8_t *c)
{
	return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *) c)));
}

static double
avx512_sq8_l2(const float *q, const float *w, const uint8_t *c, int n)
{
	__m512		s0 = _mm512_setzero_ps();
	__m512		s1 = _mm512_setzero_ps();
	float		sum;
	int			i = 0;

	for (; i <= n - 32; i += 32)
	{
		__m512		d0 = _mm512_sub_ps(_mm512_loadu_ps(q + i), codes16(c + i));
		__m512		d1 = _mm512_sub_ps(_mm512_loadu_ps(q + i + 16), codes16(c + i + 16));

		s0 = _mm512_fmadd_ps(_mm512_mul_ps(d0, d0), _mm512_loadu_ps(w + i), s0);
		s1 = _mm512_fmadd_ps(_mm512_mul_ps(d1, d1), _mm512_loadu_ps(w + i + 16), s1);
	}
	if (i <= n - 16)
	{
		__m512		d0 = _mm512_sub_ps(_mm512_loadu_ps(q + i), codes16(c + i));

		s0 = _mm512_fmadd_ps(_mm512_mul_ps(d0, d0), _mm512_loadu_ps(w + i), s0);
		i += 16;
	}
	sum = _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
	for (; i < n; i++)
	{
		float		d = q[i] - (float) c[i];

		sum += w[i] * d * d;
	}
	return sum;
}

static double
avx512_sq8_dot(const float *q, const uint8_t *c, int n)
{
	__m512		s0 = _mm512_setzero_ps();
	__m512		s1 = _mm512_setzero_ps();
	float		sum;
	int			i = 0;

	for (; i <= n - 32; i += 32)
	{
		s0 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i), codes16(c + i), s0);
		s1 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i + 16), codes16(c + i + 16), s1);
	}
	if (i <= n - 16)
	{
		s0 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i), codes16(c + i), s0);
		i += 16;
	}
	sum = _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
	for (; i < n; i++)
		sum += q[i] * (float) c[i];
	return sum;
}

static double
avx512_sq8_l1(const float *q, const float *w, const uint8_t *c, int n)
{
	__m512		s0 = _mm512_setzero_ps();
	__m512		s1 = _mm512_setzero_ps();
	float		sum;
	int			i = 0;

	for (; i <= n - 32; i += 32)
	{
		__m512		d0 = _mm512_abs_ps(_mm512_sub_ps(_mm512_loadu_ps(q + i), codes16(c + i)));
		__m512		d1 = _mm512_abs_ps(_mm512_sub_ps(_mm512_loadu_ps(q + i + 16), codes16(c + i + 16)));

		s0 = _mm512_fmadd_ps(d0, _mm512_loadu_ps(w + i), s0);
		s1 = _mm512_fmadd_ps(d1, _mm512_loadu_ps(w + i + 16), s1);
	}
	if (i <= n - 16)
	{
		__m512		d0 = _mm512_abs_ps(_mm512_sub_ps(_mm512_loadu_ps(q + i), codes16(c + i)));

		s0 = _mm512_fmadd_ps(d0, _mm512_loadu_ps(w + i), s0);
		i += 16;
	}
	sum = _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
	for (; i < n; i++)
		sum += w[i] * fabsf(q[i] - (float) c[i]);
	return sum;
}

/*
 * 16 dimensions per step: their 16 bits are the lane mask of an add; four
 * sums, so that the adds do not wait for each other.
 */
static double
avx512_bits_sum(const float *u, const uint8_t *bits, int n)
{
	__m512		s0 = _mm512_setzero_ps();
	__m512		s1 = _mm512_setzero_ps();
	__m512		s2 = _mm512_setzero_ps();
	__m512		s3 = _mm512_setzero_ps();
	float		sum;
	int			i = 0;

	for (; i <= n - 64; i += 64)
	{
		uint64_t	m;

		memcpy(&m, bits + (i >> 3), sizeof(m));
		s0 = _mm512_mask_add_ps(s0, (__mmask16) m, s0, _mm512_loadu_ps(u + i));
		s1 = _mm512_mask_add_ps(s1, (__mmask16) (m >> 16), s1, _mm512_loadu_ps(u + i + 16));
		s2 = _mm512_mask_add_ps(s2, (__mmask16) (m >> 32), s2, _mm512_loadu_ps(u + i + 32));
		s3 = _mm512_mask_add_ps(s3, (__mmask16) (m >> 48), s3, _mm512_loadu_ps(u + i + 48));
	}
	for (; i <= n - 16; i += 16)
	{
		__mmask16	m = (__mmask16) (bits[i >> 3] | (bits[(i >> 3) + 1] << 8));

		s0 = _mm512_mask_add_ps(s0, m, s0, _mm512_loadu_ps(u + i));
	}
	sum = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
	for (; i < n; i++)
		if ((bits[i >> 3] >> (i & 7)) & 1)
			sum += u[i];
	return sum;
}

/*
 * halfvec conversions: AVX-512F's 16-lane vcvtph2ps / vcvtps2ph; the last
 * 1-15 elements through a zero-padded copy (16-bit masked loads would need
 * AVX-512BW).  Rounding mode 0, exceptions suppressed: nearest, ties to
 * even, as VecqFloatToHalf.
 */
static void
avx512_half_to_float(const uint16_t *h, float *out, int n)
{
	int			i = 0;

	for (; i <= n - 16; i += 16)
		_mm512_storeu_ps(out + i,
						 _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *) (h + i))));
	if (i < n)
	{
		uint16_t	hb[16] = {0};
		float		fb[16];

		memcpy(hb, h + i, sizeof(uint16_t) * (n - i));
		_mm512_storeu_ps(fb, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *) hb)));
		memcpy(out + i, fb, sizeof(float) * (n - i));
	}
}

static void
avx512_float_to_half(const float *f, uint16_t *out, int n)
{
	int			i = 0;

	for (; i <= n - 16; i += 16)
		_mm256_storeu_si256((__m256i *) (out + i),
							_mm512_cvtps_ph(_mm512_loadu_ps(f + i),
											_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
	if (i < n)
	{
		float		fb[16] = {0};
		uint16_t	hb[16];

		memcpy(fb, f + i, sizeof(float) * (n - i));
		_mm256_storeu_si256((__m256i *) hb,
							_mm512_cvtps_ph(_mm512_loadu_ps(fb),
											_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
		memcpy(out + i, hb, sizeof(uint16_t) * (n - i));
	}
}

VECQ_HALF_KERNELS(avx512)

static const VecqDistanceKernels avx512_kernels = {
	.l2_squared = avx512_l2_squared,
	.inner_product = avx512_inner_product,
	.l1 = avx512_l1,
	.cosine_parts = avx512_cosine_parts,
	.norm_squared = avx512_norm_squared,
	.l2_squared_approx = avx512_l2_squared_approx,
	.inner_product_approx = avx512_inner_product_approx,
	.l1_approx = avx512_l1_approx,
	.sq8_l2 = avx512_sq8_l2,
	.sq8_dot = avx512_sq8_dot,
	.sq8_l1 = avx512_sq8_l1,
	.bits_sum = avx512_bits_sum,
	VECQ_HALF_KERNEL_ENTRIES(avx512),
};

const VecqDistanceKernels *const VecqKernelsAvx512 = &avx512_kernels;

#else							/* !VECQ_BUILD_AVX512 */

/* built without the AVX-512 flags: no AVX-512 level in this build */
const VecqDistanceKernels *const VecqKernelsAvx512 = NULL;

#endif							/* VECQ_BUILD_AVX512 */
