/*-------------------------------------------------------------------------
 *
 * distance_avx2.c
 *	  Distance kernels for CPUs with AVX2 and FMA.
 *
 * This file is compiled with -mavx2 -mfma -mf16c (F16C for the halfvec
 * conversions); distance.c calls into it only
 * after checking that the CPU supports both.  Built without those flags it
 * holds no kernels and exports a NULL table (see distance_simd.h).
 *
 * Method: the kernels compute the same terms as the scalar ones in
 * distance.c (see there for the accuracy argument).  Inner product, cosine
 * and norm widen 4 float4 elements at a time to 4 doubles (vcvtps2pd) and
 * multiply in double; L2 and L1 subtract 8 float4 elements at a time and
 * widen the differences, which halves the conversions, the bottleneck.  The
 * main loop handles 16 elements per iteration into four accumulators per
 * sum, which hides the 4-cycle latency of the FMAs and adds; then single
 * 4-element steps; then the last 1-3 elements with a masked load, which
 * never touches memory past the end of the inputs.  The accumulators are
 * summed at the end, so the result may differ from the scalar kernel's in
 * the last bits.
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

#include <math.h>

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include <immintrin.h>
#endif

#include "common/distance.h"
#include "common/distance_simd.h"

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)

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
 * The first r (1..3) floats at p, the other lanes zero.  The masked-off
 * elements are not read, so p + r may be the end of readable memory.
 */
static inline __m128
load_tail_ps(const float *p, int r)
{
	__m128i		mask = _mm_loadu_si128((const __m128i *) (tail_mask + 4 - r));

	return _mm_maskload_ps(p, mask);
}

/* the same, widened to doubles */
static inline __m256d
load_tail(const float *p, int r)
{
	return _mm256_cvtps_pd(load_tail_ps(p, r));
}

/* lanes 0-3 and 4-7 of 8 floats, widened to doubles */
static inline __m256d
widen_lo(__m256 v)
{
	return _mm256_cvtps_pd(_mm256_castps256_ps128(v));
}

static inline __m256d
widen_hi(__m256 v)
{
	return _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
}

/* a[0..7] - b[0..7] in float4 */
static inline __m256
diff8(const float *a, const float *b)
{
	return _mm256_sub_ps(_mm256_loadu_ps(a), _mm256_loadu_ps(b));
}

/* a[0..3] - b[0..3] in float4 */
static inline __m128
diff4(const float *a, const float *b)
{
	return _mm_sub_ps(_mm_loadu_ps(a), _mm_loadu_ps(b));
}

/* a[0..r-1] - b[0..r-1] in float4 (r is 1..3), the other lanes zero */
static inline __m128
diff_tail(const float *a, const float *b, int r)
{
	return _mm_sub_ps(load_tail_ps(a, r), load_tail_ps(b, r));
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
static inline __m256
abs8(__m256 v)
{
	return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v);
}

static inline __m128
abs4(__m128 v)
{
	return _mm_andnot_ps(_mm_set1_ps(-0.0f), v);
}

static double
avx2_l2_squared(const float *a, const float *b, int n)
{
	__m256d		s0 = _mm256_setzero_pd();
	__m256d		s1 = _mm256_setzero_pd();
	__m256d		s2 = _mm256_setzero_pd();
	__m256d		s3 = _mm256_setzero_pd();
	__m256d		d;
	double		sum;
	int			i = 0;

	for (; i <= n - 16; i += 16)
	{
		__m256		f0 = diff8(a + i, b + i);
		__m256		f1 = diff8(a + i + 8, b + i + 8);
		__m256d		d0 = widen_lo(f0);
		__m256d		d1 = widen_hi(f0);
		__m256d		d2 = widen_lo(f1);
		__m256d		d3 = widen_hi(f1);

		s0 = _mm256_fmadd_pd(d0, d0, s0);
		s1 = _mm256_fmadd_pd(d1, d1, s1);
		s2 = _mm256_fmadd_pd(d2, d2, s2);
		s3 = _mm256_fmadd_pd(d3, d3, s3);
	}
	for (; i <= n - 4; i += 4)
	{
		d = _mm256_cvtps_pd(diff4(a + i, b + i));
		s0 = _mm256_fmadd_pd(d, d, s0);
	}
	if (i < n)
	{
		d = _mm256_cvtps_pd(diff_tail(a + i, b + i, n - i));
		s1 = _mm256_fmadd_pd(d, d, s1);
	}
	sum = hsum(_mm256_add_pd(_mm256_add_pd(s0, s1), _mm256_add_pd(s2, s3)));

	/* a float4 difference overflowed: see distance.c */
	if (unlikely(isinf(sum)))
		return VecqL2SquaredExact(a, b, n);
	return sum;
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
	double		sum;
	int			i = 0;

	for (; i <= n - 16; i += 16)
	{
		__m256		f0 = abs8(diff8(a + i, b + i));
		__m256		f1 = abs8(diff8(a + i + 8, b + i + 8));

		s0 = _mm256_add_pd(s0, widen_lo(f0));
		s1 = _mm256_add_pd(s1, widen_hi(f0));
		s2 = _mm256_add_pd(s2, widen_lo(f1));
		s3 = _mm256_add_pd(s3, widen_hi(f1));
	}
	for (; i <= n - 4; i += 4)
		s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(abs4(diff4(a + i, b + i))));
	if (i < n)
	{
		__m128		f = abs4(diff_tail(a + i, b + i, n - i));

		s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(f));
	}
	sum = hsum(_mm256_add_pd(_mm256_add_pd(s0, s1), _mm256_add_pd(s2, s3)));

	/* a float4 difference overflowed: see distance.c */
	if (unlikely(isinf(sum)))
		return VecqL1Exact(a, b, n);
	return sum;
}

/* one step of the cosine sums: acc[0] += x*y, acc[1] += x*x, acc[2] += y*y */
static inline void
cosine_step(__m256d x, __m256d y, __m256d *acc)
{
	acc[0] = _mm256_fmadd_pd(x, y, acc[0]);
	acc[1] = _mm256_fmadd_pd(x, x, acc[1]);
	acc[2] = _mm256_fmadd_pd(y, y, acc[2]);
}

/* sum of the four accumulators of cosine sum k, and of their lanes */
static inline double
cosine_total(__m256d acc[4][3], int k)
{
	return hsum(_mm256_add_pd(_mm256_add_pd(acc[0][k], acc[1][k]),
							  _mm256_add_pd(acc[2][k], acc[3][k])));
}

/*
 * Three sums at once, four accumulators each: twelve of the sixteen ymm
 * registers, leaving room for the widened inputs.  (With two accumulators
 * per sum the FMA latency limits the loop; four is about 25% faster.)
 */
static VecqCosineParts
avx2_cosine_parts(const float *a, const float *b, int n)
{
	__m256d		acc[4][3];
	VecqCosineParts parts;
	int			i = 0;
	int			j;

	for (j = 0; j < 4; j++)
		acc[j][0] = acc[j][1] = acc[j][2] = _mm256_setzero_pd();

	for (; i <= n - 16; i += 16)
	{
		cosine_step(load4(a + i), load4(b + i), acc[0]);
		cosine_step(load4(a + i + 4), load4(b + i + 4), acc[1]);
		cosine_step(load4(a + i + 8), load4(b + i + 8), acc[2]);
		cosine_step(load4(a + i + 12), load4(b + i + 12), acc[3]);
	}
	for (; i <= n - 4; i += 4)
		cosine_step(load4(a + i), load4(b + i), acc[0]);
	if (i < n)
		cosine_step(load_tail(a + i, n - i), load_tail(b + i, n - i), acc[1]);

	parts.dot = cosine_total(acc, 0);
	parts.norm_a = cosine_total(acc, 1);
	parts.norm_b = cosine_total(acc, 2);
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

/* sum of the 8 lanes */
static inline float
hsum_ps(__m256 v)
{
	__m128		x = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));

	x = _mm_add_ps(x, _mm_movehl_ps(x, x));
	x = _mm_add_ss(x, _mm_shuffle_ps(x, x, 1));
	return _mm_cvtss_f32(x);
}

/* approximate kernels: float4 sums, 16 elements per iteration, scalar tail */
static double
avx2_l2_squared_approx(const float *a, const float *b, int n)
{
	__m256		s0 = _mm256_setzero_ps();
	__m256		s1 = _mm256_setzero_ps();
	float		sum;
	int			i = 0;

	for (; i <= n - 16; i += 16)
	{
		__m256		d0 = diff8(a + i, b + i);
		__m256		d1 = diff8(a + i + 8, b + i + 8);

		s0 = _mm256_fmadd_ps(d0, d0, s0);
		s1 = _mm256_fmadd_ps(d1, d1, s1);
	}
	sum = hsum_ps(_mm256_add_ps(s0, s1));
	for (; i < n; i++)
	{
		float		d = a[i] - b[i];

		sum += d * d;
	}
	return sum;
}

static double
avx2_inner_product_approx(const float *a, const float *b, int n)
{
	__m256		s0 = _mm256_setzero_ps();
	__m256		s1 = _mm256_setzero_ps();
	float		sum;
	int			i = 0;

	for (; i <= n - 16; i += 16)
	{
		s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
		s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
	}
	sum = hsum_ps(_mm256_add_ps(s0, s1));
	for (; i < n; i++)
		sum += a[i] * b[i];
	return sum;
}

static double
avx2_l1_approx(const float *a, const float *b, int n)
{
	__m256		s0 = _mm256_setzero_ps();
	__m256		s1 = _mm256_setzero_ps();
	float		sum;
	int			i = 0;

	for (; i <= n - 16; i += 16)
	{
		s0 = _mm256_add_ps(s0, abs8(diff8(a + i, b + i)));
		s1 = _mm256_add_ps(s1, abs8(diff8(a + i + 8, b + i + 8)));
	}
	sum = hsum_ps(_mm256_add_ps(s0, s1));
	for (; i < n; i++)
		sum += fabsf(a[i] - b[i]);
	return sum;
}

/*
 * SQ8 kernels: 8 codes at a time, zero-extended to 32-bit integers and
 * converted to float4 (exact for 0..255); a scalar tail.
 */
static inline __m256
codes8(const uint8_t *c)
{
	return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *) c)));
}


static double
avx2_sq8_l2(const float *q, const float *w, const uint8_t *c, int n)
{
	__m256		s0 = _mm256_setzero_ps();
	__m256		s1 = _mm256_setzero_ps();
	float		sum;
	int			i = 0;

	for (; i <= n - 16; i += 16)
	{
		__m256		d0 = _mm256_sub_ps(_mm256_loadu_ps(q + i), codes8(c + i));
		__m256		d1 = _mm256_sub_ps(_mm256_loadu_ps(q + i + 8), codes8(c + i + 8));

		s0 = _mm256_fmadd_ps(_mm256_mul_ps(d0, d0), _mm256_loadu_ps(w + i), s0);
		s1 = _mm256_fmadd_ps(_mm256_mul_ps(d1, d1), _mm256_loadu_ps(w + i + 8), s1);
	}
	sum = hsum_ps(_mm256_add_ps(s0, s1));
	for (; i < n; i++)
	{
		float		d = q[i] - (float) c[i];

		sum += w[i] * d * d;
	}
	return sum;
}

static double
avx2_sq8_dot(const float *q, const uint8_t *c, int n)
{
	__m256		s0 = _mm256_setzero_ps();
	__m256		s1 = _mm256_setzero_ps();
	float		sum;
	int			i = 0;

	for (; i <= n - 16; i += 16)
	{
		s0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), codes8(c + i), s0);
		s1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 8), codes8(c + i + 8), s1);
	}
	sum = hsum_ps(_mm256_add_ps(s0, s1));
	for (; i < n; i++)
		sum += q[i] * (float) c[i];
	return sum;
}

static double
avx2_sq8_l1(const float *q, const float *w, const uint8_t *c, int n)
{
	const __m256 signmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
	__m256		s0 = _mm256_setzero_ps();
	__m256		s1 = _mm256_setzero_ps();
	float		sum;
	int			i = 0;

	for (; i <= n - 16; i += 16)
	{
		__m256		d0 = _mm256_and_ps(signmask, _mm256_sub_ps(_mm256_loadu_ps(q + i), codes8(c + i)));
		__m256		d1 = _mm256_and_ps(signmask, _mm256_sub_ps(_mm256_loadu_ps(q + i + 8), codes8(c + i + 8)));

		s0 = _mm256_fmadd_ps(d0, _mm256_loadu_ps(w + i), s0);
		s1 = _mm256_fmadd_ps(d1, _mm256_loadu_ps(w + i + 8), s1);
	}
	sum = hsum_ps(_mm256_add_ps(s0, s1));
	for (; i < n; i++)
		sum += w[i] * fabsf(q[i] - (float) c[i]);
	return sum;
}

/* 8 dimensions per step: one byte of bits, spread over the lanes as a mask */
static double
avx2_bits_sum(const float *u, const uint8_t *bits, int n)
{
	const __m256i lane_bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
	__m256		s = _mm256_setzero_ps();
	__m256		s1 = _mm256_setzero_ps();
	__m128		h;
	float		sum;
	int			i = 0;

	/* two sums, so that the adds do not wait for each other */
	for (; i <= n - 16; i += 16)
	{
		__m256i		b0 = _mm256_and_si256(_mm256_set1_epi32(bits[i >> 3]), lane_bit);
		__m256i		b1 = _mm256_and_si256(_mm256_set1_epi32(bits[(i >> 3) + 1]), lane_bit);
		__m256		m0 = _mm256_castsi256_ps(_mm256_cmpeq_epi32(b0, lane_bit));
		__m256		m1 = _mm256_castsi256_ps(_mm256_cmpeq_epi32(b1, lane_bit));

		s = _mm256_add_ps(s, _mm256_and_ps(m0, _mm256_loadu_ps(u + i)));
		s1 = _mm256_add_ps(s1, _mm256_and_ps(m1, _mm256_loadu_ps(u + i + 8)));
	}
	s = _mm256_add_ps(s, s1);
	for (; i <= n - 8; i += 8)
	{
		__m256i		b = _mm256_and_si256(_mm256_set1_epi32(bits[i >> 3]), lane_bit);
		__m256		m = _mm256_castsi256_ps(_mm256_cmpeq_epi32(b, lane_bit));

		s = _mm256_add_ps(s, _mm256_and_ps(m, _mm256_loadu_ps(u + i)));
	}
	h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
	h = _mm_add_ps(h, _mm_movehl_ps(h, h));
	h = _mm_add_ss(h, _mm_movehdup_ps(h));
	sum = _mm_cvtss_f32(h);
	for (; i < n; i++)
		if ((bits[i >> 3] >> (i & 7)) & 1)
			sum += u[i];
	return sum;
}

/*
 * halfvec conversions with F16C, 8 elements a step; the last 1-7 go
 * through a zero-padded copy so that nothing past the arrays is read or
 * written.  Rounding mode 0 with exceptions suppressed: nearest, ties to
 * even, as VecqFloatToHalf.
 */
static void
avx2_half_to_float(const uint16_t *h, float *out, int n)
{
	int			i = 0;

	for (; i <= n - 8; i += 8)
		_mm256_storeu_ps(out + i,
						 _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *) (h + i))));
	if (i < n)
	{
		uint16_t	hb[8] = {0};
		float		fb[8];

		memcpy(hb, h + i, sizeof(uint16_t) * (n - i));
		_mm256_storeu_ps(fb, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *) hb)));
		memcpy(out + i, fb, sizeof(float) * (n - i));
	}
}

static void
avx2_float_to_half(const float *f, uint16_t *out, int n)
{
	int			i = 0;

	for (; i <= n - 8; i += 8)
		_mm_storeu_si128((__m128i *) (out + i),
						 _mm256_cvtps_ph(_mm256_loadu_ps(f + i),
										 _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
	if (i < n)
	{
		float		fb[8] = {0};
		uint16_t	hb[8];

		memcpy(fb, f + i, sizeof(float) * (n - i));
		_mm_storeu_si128((__m128i *) hb,
						 _mm256_cvtps_ph(_mm256_loadu_ps(fb),
										 _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
		memcpy(out + i, hb, sizeof(uint16_t) * (n - i));
	}
}

VECQ_HALF_KERNELS(avx2)

static const VecqDistanceKernels avx2_kernels = {
	.l2_squared = avx2_l2_squared,
	.inner_product = avx2_inner_product,
	.l1 = avx2_l1,
	.cosine_parts = avx2_cosine_parts,
	.norm_squared = avx2_norm_squared,
	.l2_squared_approx = avx2_l2_squared_approx,
	.inner_product_approx = avx2_inner_product_approx,
	.l1_approx = avx2_l1_approx,
	.sq8_l2 = avx2_sq8_l2,
	.sq8_dot = avx2_sq8_dot,
	.sq8_l1 = avx2_sq8_l1,
	.bits_sum = avx2_bits_sum,
	VECQ_HALF_KERNEL_ENTRIES(avx2),
};

const VecqDistanceKernels *const VecqKernelsAvx2 = &avx2_kernels;

#else							/* !(__AVX2__ && __FMA__ && __F16C__) */

/* built without -mavx2 -mfma -mf16c: no AVX2 level in this build */
const VecqDistanceKernels *const VecqKernelsAvx2 = NULL;

#endif							/* __AVX2__ && __FMA__ && __F16C__ */
