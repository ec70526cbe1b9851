/*-------------------------------------------------------------------------
 *
 * distance.c
 *	  Scalar distance kernels, CPU detection and kernel dispatch.
 *
 * The scalar kernels here are plain C loops: the portable fallback and the
 * baseline of the kernel benchmark.  All levels compute the same terms and
 * differ only in the order they add them up, so their results agree to the
 * last few bits.
 *
 * Accuracy (the contract is in distance.h):
 *	- inner product, cosine parts, norm: each float4 is widened to double
 *	  before multiplying; a product of two float4 values is exact in double,
 *	  so only the additions round.  These sums can cancel, which is why the
 *	  products must be exact.
 *	- L2 squared and L1: the difference is taken in float4 and then widened,
 *	  which rounds it by at most 2^-24 relative (a difference that is
 *	  subnormal is exact), so each term (a-b)^2 is within 2^-23 and each
 *	  |a-b| within 2^-24 of exact; the terms are all non-negative, so the
 *	  sum keeps that relative accuracy (about 1.2e-7, well inside the 1e-6
 *	  contract).  Subtracting in float4 halves the conversions, the
 *	  bottleneck of the SIMD kernels: measured 20-30% faster than widening
 *	  both inputs (test/bench/bench_kernels.c).  A float4 difference can
 *	  overflow (e.g. 3e38 - -3e38) although the exact distance is finite;
 *	  that makes the sum +Inf, which no finite input can otherwise produce
 *	  (at most 16000 * (2 * FLT_MAX)^2, about 7e81), so every level checks
 *	  for +Inf and then recomputes with VecqL2SquaredExact/VecqL1Exact.
 *
 * Dispatch: the SIMD kernels live in distance_avx2.c and distance_avx512.c,
 * each compiled with the flags of its instruction set.  A level is usable
 * when its file was built with those flags (its table pointer is non-NULL)
 * and the CPU reports the instructions through __builtin_cpu_supports().
 * With gcc's libgcc and clang's compiler-rt alike, that builtin reports
 * "avx2" and "fma" only when the OS has enabled the YMM state in XCR0, and
 * "avx512f"/"avx512dq" only when it has also enabled the opmask and ZMM
 * states, so a "yes" means the instructions can really be executed.
 *
 * VecqKernels starts out holding the scalar kernels, so a caller that runs
 * before VecqDistanceInit() still gets correct results.
 *
 * src/common/distance.c
 *
 *-------------------------------------------------------------------------
 */
#ifndef FRONTEND
#include "postgres.h"
#else
#include "postgres_fe.h"
#endif

#include <math.h>

#include "common/distance.h"
#include "common/distance_simd.h"
#include "common/half.h"

/* __builtin_cpu_supports() exists for x86 targets of gcc and clang only */
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#define VECQ_HAVE_CPU_SUPPORTS 1
#include <cpuid.h>
#endif

/*
 * VecqL2SquaredExact
 *		Sum of (a[i] - b[i])^2 with both inputs widened to double first, so
 *		every difference is exact and nothing overflows.  The fallback of
 *		every level's l2_squared when a float4 difference overflows.
 */
double
VecqL2SquaredExact(const float *a, const float *b, int n)
{
	double		sum = 0.0;
	int			i;

	for (i = 0; i < n; i++)
	{
		double		d = (double) a[i] - (double) b[i];

		sum += d * d;
	}
	return sum;
}

/*
 * VecqL1Exact
 *		Sum of |a[i] - b[i]| with both inputs widened to double first; the
 *		fallback of every level's l1 when a float4 difference overflows.
 */
double
VecqL1Exact(const float *a, const float *b, int n)
{
	double		sum = 0.0;
	int			i;

	for (i = 0; i < n; i++)
		sum += fabs((double) a[i] - (double) b[i]);
	return sum;
}

/*
 * Scalar kernels.  One accumulator, elements in order: the compiler cannot
 * reorder the double additions (no -ffast-math), so the result is the same
 * on every platform.
 */

static double
scalar_l2_squared(const float *a, const float *b, int n)
{
	double		sum = 0.0;
	int			i;

	for (i = 0; i < n; i++)
	{
		double		d = (double) (a[i] - b[i]);

		sum += d * d;
	}
	if (unlikely(isinf(sum)))
		return VecqL2SquaredExact(a, b, n);
	return sum;
}

static double
scalar_inner_product(const float *a, const float *b, int n)
{
	double		sum = 0.0;
	int			i;

	for (i = 0; i < n; i++)
		sum += (double) a[i] * (double) b[i];
	return sum;
}

static double
scalar_l1(const float *a, const float *b, int n)
{
	double		sum = 0.0;
	int			i;

	for (i = 0; i < n; i++)
		sum += fabs((double) (a[i] - b[i]));
	if (unlikely(isinf(sum)))
		return VecqL1Exact(a, b, n);
	return sum;
}

static VecqCosineParts
scalar_cosine_parts(const float *a, const float *b, int n)
{
	VecqCosineParts parts = {0.0, 0.0, 0.0};
	int			i;

	for (i = 0; i < n; i++)
	{
		double		x = (double) a[i];
		double		y = (double) b[i];

		parts.dot += x * y;
		parts.norm_a += x * x;
		parts.norm_b += y * y;
	}
	return parts;
}

static double
scalar_norm_squared(const float *a, int n)
{
	double		sum = 0.0;
	int			i;

	for (i = 0; i < n; i++)
		sum += (double) a[i] * (double) a[i];
	return sum;
}

/* approximate kernels: float4 sums */
static double
scalar_l2_squared_approx(const float *a, const float *b, int n)
{
	float		sum = 0.0f;

	for (int i = 0; i < n; i++)
	{
		float		d = a[i] - b[i];

		sum += d * d;
	}
	return sum;
}

static double
scalar_inner_product_approx(const float *a, const float *b, int n)
{
	float		sum = 0.0f;

	for (int i = 0; i < n; i++)
		sum += a[i] * b[i];
	return sum;
}

static double
scalar_l1_approx(const float *a, const float *b, int n)
{
	float		sum = 0.0f;

	for (int i = 0; i < n; i++)
		sum += fabsf(a[i] - b[i]);
	return sum;
}

/* SQ8 kernels: float4 sums, as the SIMD levels do */
static double
scalar_sq8_l2(const float *q, const float *w, const uint8_t *c, int n)
{
	float		sum = 0.0f;

	for (int i = 0; i < n; i++)
	{
		float		d = q[i] - (float) c[i];

		sum += w[i] * d * d;
	}
	return sum;
}

static double
scalar_sq8_dot(const float *q, const uint8_t *c, int n)
{
	float		sum = 0.0f;

	for (int i = 0; i < n; i++)
		sum += q[i] * (float) c[i];
	return sum;
}

static double
scalar_sq8_l1(const float *q, const float *w, const uint8_t *c, int n)
{
	float		sum = 0.0f;

	for (int i = 0; i < n; i++)
		sum += w[i] * fabsf(q[i] - (float) c[i]);
	return sum;
}

static double
scalar_bits_sum(const float *u, const uint8_t *bits, int n)
{
	float		sum = 0.0f;

	for (int i = 0; i < n; i++)
		if ((bits[i >> 3] >> (i & 7)) & 1)
			sum += u[i];
	return sum;
}

/* halfvec: element by element, as the header's inline conversions do */
static void
scalar_half_to_float(const uint16_t *h, float *out, int n)
{
	for (int i = 0; i < n; i++)
		out[i] = VecqHalfToFloat(h[i]);
}

static void
scalar_float_to_half(const float *f, uint16_t *out, int n)
{
	for (int i = 0; i < n; i++)
		out[i] = VecqFloatToHalf(f[i]);
}

VECQ_HALF_KERNELS(scalar)

static const VecqDistanceKernels scalar_kernels = {
	.l2_squared = scalar_l2_squared,
	.inner_product = scalar_inner_product,
	.l1 = scalar_l1,
	.cosine_parts = scalar_cosine_parts,
	.norm_squared = scalar_norm_squared,
	.l2_squared_approx = scalar_l2_squared_approx,
	.inner_product_approx = scalar_inner_product_approx,
	.l1_approx = scalar_l1_approx,
	.sq8_l2 = scalar_sq8_l2,
	.sq8_dot = scalar_sq8_dot,
	.sq8_l1 = scalar_sq8_l1,
	.bits_sum = scalar_bits_sum,
	VECQ_HALF_KERNEL_ENTRIES(scalar),
};

/* the kernels in use; scalar until VecqDistanceInit() picks better ones */
VecqDistanceKernels VecqKernels = {
	.l2_squared = scalar_l2_squared,
	.inner_product = scalar_inner_product,
	.l1 = scalar_l1,
	.cosine_parts = scalar_cosine_parts,
	.norm_squared = scalar_norm_squared,
	.l2_squared_approx = scalar_l2_squared_approx,
	.inner_product_approx = scalar_inner_product_approx,
	.l1_approx = scalar_l1_approx,
	.sq8_l2 = scalar_sq8_l2,
	.sq8_dot = scalar_sq8_dot,
	.sq8_l1 = scalar_sq8_l1,
	.bits_sum = scalar_bits_sum,
	VECQ_HALF_KERNEL_ENTRIES(scalar),
};

static VecqSimdLevel current_level = VECQ_SIMD_SCALAR;

/* kernel table of each level, NULL if unusable; valid once detected */
static const VecqDistanceKernels *level_kernels[VECQ_SIMD_NLEVELS];
static bool detected = false;

#ifdef VECQ_HAVE_CPU_SUPPORTS
/*
 * F16C (the halfvec conversions of both SIMD levels), from CPUID leaf 1
 * directly: clang's __builtin_cpu_supports() does not know "f16c".  The
 * instructions use the YMM state, whose OS support the avx2 test implies.
 */
static bool
cpu_has_f16c(void)
{
	unsigned int eax,
				ebx,
				ecx,
				edx;

	if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx))
		return false;
	return (ecx & bit_F16C) != 0;
}
#endif

/*
 * Fill level_kernels[] from the build and the CPU, once.
 */
static void
detect_levels(void)
{
	if (detected)
		return;

	level_kernels[VECQ_SIMD_SCALAR] = &scalar_kernels;
	level_kernels[VECQ_SIMD_AVX2] = NULL;
	level_kernels[VECQ_SIMD_AVX512] = NULL;

#ifdef VECQ_HAVE_CPU_SUPPORTS
	/* normally run by a constructor already; harmless to repeat */
	__builtin_cpu_init();

	/* both SIMD files also use F16C (halfvec conversions): require it */
	if (VecqKernelsAvx2 != NULL &&
		__builtin_cpu_supports("avx2") &&
		__builtin_cpu_supports("fma") &&
		cpu_has_f16c())
		level_kernels[VECQ_SIMD_AVX2] = VecqKernelsAvx2;

	/* distance_avx512.c is also compiled with -mavx2 -mfma: require them */
	if (VecqKernelsAvx512 != NULL &&
		__builtin_cpu_supports("avx512f") &&
		__builtin_cpu_supports("avx512dq") &&
		__builtin_cpu_supports("avx2") &&
		__builtin_cpu_supports("fma") &&
		cpu_has_f16c())
		level_kernels[VECQ_SIMD_AVX512] = VecqKernelsAvx512;
#endif

	detected = true;
}


/*
 * VecqDistanceInit
 *		Detect the CPU and install the best kernels it supports in
 *		VecqKernels.  Idempotent; called from _PG_init and by standalone
 *		programs before their first distance.
 */
void
VecqDistanceInit(void)
{
	(void) VecqDistanceSetLevel(VecqDistanceBestLevel());
}

/*
 * VecqDistanceBestLevel
 *		Highest level that both this build and this CPU can run.
 */
VecqSimdLevel
VecqDistanceBestLevel(void)
{
	int			level;

	detect_levels();
	for (level = VECQ_SIMD_NLEVELS - 1; level > VECQ_SIMD_SCALAR; level--)
	{
		if (level_kernels[level] != NULL)
			return (VecqSimdLevel) level;
	}
	return VECQ_SIMD_SCALAR;
}

/*
 * VecqDistanceCurrentLevel
 *		Level whose kernels VecqKernels holds now.
 */
VecqSimdLevel
VecqDistanceCurrentLevel(void)
{
	return current_level;
}

/*
 * VecqDistanceGetKernels
 *		Kernel table of the given level, or NULL if the build or the CPU
 *		cannot run it (or the level is out of range).  The table is static;
 *		callers must not modify or free it.
 */
const VecqDistanceKernels *
VecqDistanceGetKernels(VecqSimdLevel level)
{
	if ((int) level < 0 || level >= VECQ_SIMD_NLEVELS)
		return NULL;
	detect_levels();
	return level_kernels[level];
}

/*
 * VecqDistanceSetLevel
 *		Install the kernels of the given level in VecqKernels.  Returns false,
 *		leaving VecqKernels unchanged, if the level is not usable here.
 */
bool
VecqDistanceSetLevel(VecqSimdLevel level)
{
	const VecqDistanceKernels *kernels = VecqDistanceGetKernels(level);

	if (kernels == NULL)
		return false;
	VecqKernels = *kernels;
	current_level = level;
	return true;
}

/*
 * VecqSimdLevelName
 *		Lower-case name of a level, as the vecq.simd setting spells it;
 *		"unknown" for a value outside the enum.
 */
const char *
VecqSimdLevelName(VecqSimdLevel level)
{
	switch (level)
	{
		case VECQ_SIMD_SCALAR:
			return "scalar";
		case VECQ_SIMD_AVX2:
			return "avx2";
		case VECQ_SIMD_AVX512:
			return "avx512";
		case VECQ_SIMD_NLEVELS:
			break;
	}
	return "unknown";
}

/*
 * VecqCosineDistanceFromParts
 *		1 - dot / sqrt(norm_a * norm_b), with the similarity clamped to
 *		[-1, 1]; NaN if either norm is zero.
 *
 * For finite float4 inputs of at most VECQ_MAX_DIM elements the product of
 * the norms neither overflows nor underflows a double (each lies between
 * about 2e-90 and 2e81), so no rescaling is needed.
 */
double
VecqCosineDistanceFromParts(VecqCosineParts parts)
{
	double		similarity;

	if (parts.norm_a == 0.0 || parts.norm_b == 0.0)
		return NAN;

	similarity = parts.dot / sqrt(parts.norm_a * parts.norm_b);
	if (similarity > 1.0)
		similarity = 1.0;
	else if (similarity < -1.0)
		similarity = -1.0;
	return 1.0 - similarity;
}
