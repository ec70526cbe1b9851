/*-------------------------------------------------------------------------
 *
 * test_distance.c
 *	  Standalone unit test of the distance kernels (src/common/distance*.c).
 *
 * For every SIMD level this CPU and build support, every kernel is run on
 * seeded pseudo-random inputs and compared with a reference computed here
 * with plain double loops (each float4 converted to double first):
 *
 *	- dimensions 1..64, then a spread up to VECQ_MAX_DIM (16000);
 *	- value distributions: uniform [-1,1], large (1e18), tiny (1e-18),
 *	  subnormal, mixed signs over forty decades, near FLT_MAX, all elements
 *	  equal, identical inputs, and small integers (for which every level
 *	  must be exact, since no sum rounds);
 *	- placements: 64-byte aligned, one float past alignment, and ending at
 *	  an inaccessible page, with another inaccessible page right before the
 *	  aligned start, so a kernel that reads one element too many or too few
 *	  crashes or fails.
 *
 * A kernel that reads outside its inputs hits a guard page; the SIGSEGV is
 * caught and reported as a failure of that check group.
 *
 * A value passes when |got - ref| <= 1e-6 * max(|ref|, DBL_MIN).  Levels are
 * also compared with the scalar level within the same tolerance, n = 0 must
 * give 0, and VecqCosineDistanceFromParts and the level-switching API are
 * checked on fixed cases.
 *
 * One line is printed per failed check group (a level, kernel, distribution,
 * dimension and placement, or one fixed case), and the last line is
 * "N passed, N failed".  Exit status 0 if nothing failed, 1 otherwise.
 *
 * test/unit/test_distance.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/distance.h"

#define MAX_DIM		16000
#define TOLERANCE	1e-6
#define TRIALS		2			/* random input pairs per distribution and n */

typedef enum Kernel
{
	K_L2_SQUARED,
	K_INNER_PRODUCT,
	K_L1,
	K_COSINE_PARTS,
	K_NORM_SQUARED,
	NKERNELS
} Kernel;

static const char *const kernel_names[NKERNELS] = {
	"l2_squared", "inner_product", "l1", "cosine_parts", "norm_squared"
};

typedef enum Distribution
{
	D_UNIFORM,					/* uniform [-1, 1] */
	D_LARGE,					/* uniform [-1e18, 1e18] */
	D_TINY,						/* uniform [-1e-18, 1e-18] */
	D_SUBNORMAL,				/* uniform [-1e-39, 1e-39], mostly subnormal */
	D_MIXED,					/* random sign, magnitude 10^[-20, 20] */
	D_HUGE,						/* uniform [-FLT_MAX, FLT_MAX] */
	D_EQUAL,					/* a all one value, b all another */
	D_IDENTICAL,				/* b == a, uniform [-1, 1] */
	D_INTEGER,					/* integers in [-64, 64]: exact sums */
	NDISTRIBUTIONS
} Distribution;

static const char *const distribution_names[NDISTRIBUTIONS] = {
	"uniform", "large", "tiny", "subnormal", "mixed", "huge", "equal",
	"identical", "integer"
};

typedef enum Placement
{
	P_ALIGNED,					/* at a page start, after a guard page */
	P_OFFSET1,					/* one float past a page start */
	P_AT_END,					/* last element just before a guard page */
	NPLACEMENTS
} Placement;

static const char *const placement_names[NPLACEMENTS] = {
	"aligned", "offset1", "at_end"
};

/* dimensions tested beyond 1..64 */
static const int spread_dims[] = {
	65, 71, 100, 127, 128, 129, 255, 256, 257, 511, 512, 513, 768, 784, 1000,
	1023, 1536, 2000, 4095, 4096, 4097, 8191, 15999, 16000
};

static int	npassed = 0;
static int	nfailed = 0;

/* ---------------------------------------------------------------------
 * Random numbers: splitmix64, fixed seed, so every run tests the same data
 * ---------------------------------------------------------------------
 */
static uint64_t rng_state = UINT64_C(0x5eed0f0ec0de2024);

static uint64_t
rng_next(void)
{
	uint64_t	z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* uniform in [0, 1) */
static double
rng_unit(void)
{
	return (double) (rng_next() >> 11) * (1.0 / 9007199254740992.0);
}

/* uniform in [-1, 1) */
static double
rng_signed(void)
{
	return 2.0 * rng_unit() - 1.0;
}

/* one element of the given distribution (fill_inputs does the rest) */
static float
random_element(Distribution dist)
{
	switch (dist)
	{
		case D_UNIFORM:
		case D_EQUAL:
		case D_IDENTICAL:
			return (float) rng_signed();
		case D_LARGE:
			return (float) (rng_signed() * 1e18);
		case D_TINY:
			return (float) (rng_signed() * 1e-18);
		case D_SUBNORMAL:
			return (float) (rng_signed() * 1e-39);
		case D_MIXED:
			return (float) ((rng_next() & 1 ? -1.0 : 1.0) *
							pow(10.0, 40.0 * rng_unit() - 20.0));
		case D_HUGE:
			return (float) (rng_signed() * FLT_MAX);
		case D_INTEGER:
			return (float) ((int) (rng_next() % 129) - 64);
		case NDISTRIBUTIONS:
			break;
	}
	abort();
}

/* fill a[0..n-1] and b[0..n-1] */
static void
fill_inputs(Distribution dist, float *a, float *b, int n)
{
	int			i;

	if (dist == D_EQUAL)
	{
		float		x = random_element(dist);
		float		y = random_element(dist);

		for (i = 0; i < n; i++)
		{
			a[i] = x;
			b[i] = y;
		}
		return;
	}
	for (i = 0; i < n; i++)
	{
		a[i] = random_element(dist);
		b[i] = dist == D_IDENTICAL ? a[i] : random_element(dist);
	}
}

/* ---------------------------------------------------------------------
 * Guarded buffers: [guard page][data pages][guard page]
 * ---------------------------------------------------------------------
 */
typedef struct GuardedBuffer
{
	char	   *data;			/* first data byte, page aligned */
	size_t		size;			/* data bytes, whole pages */
} GuardedBuffer;

static void
guarded_alloc(GuardedBuffer *buf, size_t bytes)
{
	size_t		page = (size_t) sysconf(_SC_PAGESIZE);
	char	   *base;

	buf->size = (bytes + page - 1) / page * page;
	base = mmap(NULL, buf->size + 2 * page, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED)
	{
		perror("mmap");
		exit(2);
	}
	if (mprotect(base, page, PROT_NONE) != 0 ||
		mprotect(base + page + buf->size, page, PROT_NONE) != 0)
	{
		perror("mprotect");
		exit(2);
	}
	buf->data = base + page;
}

/* where n floats go in buf for the given placement */
static float *
place(GuardedBuffer *buf, Placement p, int n)
{
	switch (p)
	{
		case P_ALIGNED:
			return (float *) buf->data;
		case P_OFFSET1:
			return (float *) buf->data + 1;
		case P_AT_END:
			return (float *) (buf->data + buf->size) - n;
		case NPLACEMENTS:
			break;
	}
	abort();
}

/* ---------------------------------------------------------------------
 * Catching reads outside the inputs
 * ---------------------------------------------------------------------
 */
static sigjmp_buf fault_jump;
static volatile sig_atomic_t in_kernel = 0;

/* SIGSEGV/SIGBUS: back to run_kernel if a kernel was running, else die */
static void
fault_handler(int signo)
{
	if (in_kernel)
	{
		in_kernel = 0;
		siglongjmp(fault_jump, 1);
	}
	signal(signo, SIG_DFL);
	raise(signo);
}

static void
install_fault_handler(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fault_handler;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
}

/* ---------------------------------------------------------------------
 * Reference: plain double loops
 * ---------------------------------------------------------------------
 */

/* reference values of kernel k; returns how many (3 for cosine_parts) */
static int
reference(Kernel k, const float *a, const float *b, int n, double *out)
{
	double		s0 = 0.0,
				s1 = 0.0,
				s2 = 0.0;
	int			i;

	for (i = 0; i < n; i++)
	{
		double		x = (double) a[i];
		double		y = (double) b[i];

		switch (k)
		{
			case K_L2_SQUARED:
				s0 += (x - y) * (x - y);
				break;
			case K_INNER_PRODUCT:
				s0 += x * y;
				break;
			case K_L1:
				s0 += fabs(x - y);
				break;
			case K_COSINE_PARTS:
				s0 += x * y;
				s1 += x * x;
				s2 += y * y;
				break;
			case K_NORM_SQUARED:
				s0 += x * x;
				break;
			case NKERNELS:
				abort();
		}
	}
	out[0] = s0;
	out[1] = s1;
	out[2] = s2;
	return k == K_COSINE_PARTS ? 3 : 1;
}

/* run kernel k of table t; output as for reference() */
static int
call_kernel(const VecqDistanceKernels *t, Kernel k,
			const float *a, const float *b, int n, double *out)
{
	VecqCosineParts parts;

	out[1] = out[2] = 0.0;
	switch (k)
	{
		case K_L2_SQUARED:
			out[0] = t->l2_squared(a, b, n);
			return 1;
		case K_INNER_PRODUCT:
			out[0] = t->inner_product(a, b, n);
			return 1;
		case K_L1:
			out[0] = t->l1(a, b, n);
			return 1;
		case K_COSINE_PARTS:
			parts = t->cosine_parts(a, b, n);
			out[0] = parts.dot;
			out[1] = parts.norm_a;
			out[2] = parts.norm_b;
			return 3;
		case K_NORM_SQUARED:
			out[0] = t->norm_squared(a, n);
			return 1;
		case NKERNELS:
			break;
	}
	abort();
}

/*
 * Run kernel k of table t; output as for reference().  Returns -1 (out[]
 * NaN) if the kernel touched memory outside its inputs.
 */
static int
run_kernel(const VecqDistanceKernels *t, Kernel k,
		   const float *a, const float *b, int n, double *out)
{
	int			nv;

	if (sigsetjmp(fault_jump, 1) != 0)
	{
		out[0] = out[1] = out[2] = NAN;
		return -1;
	}
	in_kernel = 1;
	nv = call_kernel(t, k, a, b, n, out);
	in_kernel = 0;
	return nv;
}

/* does got agree with ref within the tolerance? */
static bool
close_enough(double got, double ref)
{
	return fabs(got - ref) <= TOLERANCE * fmax(fabs(ref), DBL_MIN);
}

static void
count(bool ok)
{
	if (ok)
		npassed++;
	else
		nfailed++;
}

/* ---------------------------------------------------------------------
 * Test groups
 * ---------------------------------------------------------------------
 */

/*
 * Every kernel of every level on one distribution and dimension, in every
 * placement, against the reference; then every level against scalar.
 */
static void
test_random(const VecqDistanceKernels *const *levels, Distribution dist, int n,
			GuardedBuffer *abuf, GuardedBuffer *bbuf, float *a0, float *b0)
{
	/* ok[level][kernel][placement], and the cross-level agreement */
	bool		ok[VECQ_SIMD_NLEVELS][NKERNELS][NPLACEMENTS];
	bool		agree[VECQ_SIMD_NLEVELS][NKERNELS];
	char		why[VECQ_SIMD_NLEVELS][NKERNELS][NPLACEMENTS][160];
	char		why_agree[VECQ_SIMD_NLEVELS][NKERNELS][160];
	int			trial;
	int			lv;
	int			k;
	int			p;

	memset(ok, 1, sizeof(ok));
	memset(agree, 1, sizeof(agree));

	for (trial = 0; trial < TRIALS; trial++)
	{
		fill_inputs(dist, a0, b0, n);

		for (k = 0; k < NKERNELS; k++)
		{
			double		ref[3];
			double		scalar[3];
			int			nv = reference((Kernel) k, a0, b0, n, ref);

			run_kernel(levels[VECQ_SIMD_SCALAR], (Kernel) k, a0, b0, n,
					   scalar);

			for (lv = 0; lv < VECQ_SIMD_NLEVELS; lv++)
			{
				if (levels[lv] == NULL)
					continue;
				for (p = 0; p < NPLACEMENTS; p++)
				{
					float	   *a = place(abuf, (Placement) p, n);
					float	   *b = place(bbuf, (Placement) p, n);
					double		got[3];
					int			v;

					memcpy(a, a0, n * sizeof(float));
					memcpy(b, b0, n * sizeof(float));
					if (run_kernel(levels[lv], (Kernel) k, a, b, n, got) < 0 &&
						ok[lv][k][p])
					{
						ok[lv][k][p] = false;
						snprintf(why[lv][k][p], sizeof(why[lv][k][p]),
								 "trial %d: read outside the inputs (SIGSEGV)",
								 trial);
					}
					for (v = 0; v < nv; v++)
					{
						if (ok[lv][k][p] && !close_enough(got[v], ref[v]))
						{
							ok[lv][k][p] = false;
							snprintf(why[lv][k][p], sizeof(why[lv][k][p]),
									 "trial %d value %d: got %.17g ref %.17g",
									 trial, v, got[v], ref[v]);
						}
						if (p == P_ALIGNED && agree[lv][k] &&
							!close_enough(got[v], scalar[v]))
						{
							agree[lv][k] = false;
							snprintf(why_agree[lv][k], sizeof(why_agree[0][0]),
									 "trial %d value %d: got %.17g "
									 "scalar %.17g",
									 trial, v, got[v], scalar[v]);
						}
					}
				}
			}
		}
	}

	for (lv = 0; lv < VECQ_SIMD_NLEVELS; lv++)
	{
		if (levels[lv] == NULL)
			continue;
		for (k = 0; k < NKERNELS; k++)
		{
			for (p = 0; p < NPLACEMENTS; p++)
			{
				count(ok[lv][k][p]);
				if (!ok[lv][k][p])
					printf("FAIL %s %s dist=%s n=%d place=%s: %s\n",
						   VecqSimdLevelName((VecqSimdLevel) lv),
						   kernel_names[k], distribution_names[dist], n,
						   placement_names[p], why[lv][k][p]);
			}
			if (lv == VECQ_SIMD_SCALAR)
				continue;
			count(agree[lv][k]);
			if (!agree[lv][k])
				printf("FAIL %s %s dist=%s n=%d disagrees with scalar: %s\n",
					   VecqSimdLevelName((VecqSimdLevel) lv),
					   kernel_names[k], distribution_names[dist], n,
					   why_agree[lv][k]);
		}
	}
}

/*
 * n = 0 gives 0 at every level, with pointers into a guard page so that any
 * read would crash.
 */
static void
test_empty(const VecqDistanceKernels *const *levels, GuardedBuffer *abuf,
		   GuardedBuffer *bbuf)
{
	const float *a = (const float *) (abuf->data + abuf->size);
	const float *b = (const float *) (bbuf->data + bbuf->size);
	int			lv;
	int			k;

	for (lv = 0; lv < VECQ_SIMD_NLEVELS; lv++)
	{
		if (levels[lv] == NULL)
			continue;
		for (k = 0; k < NKERNELS; k++)
		{
			double		got[3];
			int			nv = run_kernel(levels[lv], (Kernel) k, a, b, 0, got);
			bool		ok = nv > 0;
			int			v;

			for (v = 0; v < nv; v++)
				ok = ok && got[v] == 0.0;
			count(ok);
			if (!ok)
				printf("FAIL %s %s n=0: got %g %g %g, want 0\n",
					   VecqSimdLevelName((VecqSimdLevel) lv),
					   kernel_names[k], got[0], got[1], got[2]);
		}
	}
}

/* one fixed check of VecqCosineDistanceFromParts */
static void
check_cosine(const char *what, double dot, double na, double nb, double want)
{
	VecqCosineParts parts;
	double		got;
	bool		ok;

	parts.dot = dot;
	parts.norm_a = na;
	parts.norm_b = nb;
	got = VecqCosineDistanceFromParts(parts);
	ok = isnan(want) ? isnan(got) : (got == want);
	count(ok);
	if (!ok)
		printf("FAIL cosine distance %s: got %.17g want %.17g\n",
			   what, got, want);
}

/*
 * VecqCosineDistanceFromParts on fixed parts, and on kernel output for
 * identical, opposite and random vectors at every level: the distance must
 * lie in [0, 2] and match the reference distance within 1e-6 absolute.
 */
static void
test_cosine_distance(const VecqDistanceKernels *const *levels, float *a,
					 float *b)
{
	static const int dims[] = {1, 3, 8, 17, 100, 768, 1536, 16000};
	int			lv;
	int			d;

	check_cosine("orthogonal", 0.0, 1.0, 1.0, 1.0);
	check_cosine("parallel", 2.0, 1.0, 4.0, 0.0);
	check_cosine("opposite", -2.0, 1.0, 4.0, 2.0);
	check_cosine("clamped above", 1.0000001, 1.0, 1.0, 0.0);
	check_cosine("clamped below", -1.0000001, 1.0, 1.0, 2.0);
	check_cosine("zero norm_a", 0.0, 0.0, 1.0, NAN);
	check_cosine("zero norm_b", 0.0, 1.0, 0.0, NAN);
	check_cosine("both zero", 0.0, 0.0, 0.0, NAN);

	for (lv = 0; lv < VECQ_SIMD_NLEVELS; lv++)
	{
		if (levels[lv] == NULL)
			continue;
		for (d = 0; d < (int) lengthof(dims); d++)
		{
			int			n = dims[d];
			int			shape;

			/* 0: b == a, 1: b == -a, 2: random, 3: a all zero */
			for (shape = 0; shape < 4; shape++)
			{
				VecqCosineParts parts;
				VecqCosineParts refparts;
				double		ref[3];
				double		got;
				double		want;
				bool		ok;
				int			i;

				for (i = 0; i < n; i++)
				{
					a[i] = shape == 3 ? 0.0f : (float) rng_signed();
					b[i] = shape == 0 ? a[i] : shape == 1 ? -a[i] :
						(float) rng_signed();
				}
				parts = levels[lv]->cosine_parts(a, b, n);
				got = VecqCosineDistanceFromParts(parts);
				reference(K_COSINE_PARTS, a, b, n, ref);
				refparts.dot = ref[0];
				refparts.norm_a = ref[1];
				refparts.norm_b = ref[2];
				want = VecqCosineDistanceFromParts(refparts);

				if (shape == 3)
					ok = isnan(got);
				else
					ok = got >= 0.0 && got <= 2.0 &&
						fabs(got - want) <= TOLERANCE &&
						(shape != 0 || got <= 1e-12) &&
						(shape != 1 || got >= 2.0 - 1e-12);
				count(ok);
				if (!ok)
					printf("FAIL %s cosine distance n=%d shape=%d: "
						   "got %.17g want %.17g\n",
						   VecqSimdLevelName((VecqSimdLevel) lv), n, shape,
						   got, want);
			}
		}
	}
}

/* the level-switching API */
static void
test_api(void)
{
	VecqSimdLevel best;
	int			lv;
	bool		ok;

	VecqDistanceInit();
	best = VecqDistanceBestLevel();

	ok = VecqDistanceCurrentLevel() == best &&
		VecqDistanceGetKernels(best) != NULL &&
		VecqKernels.l2_squared == VecqDistanceGetKernels(best)->l2_squared;
	count(ok);
	if (!ok)
		printf("FAIL VecqDistanceInit did not install the best level (%s)\n",
			   VecqSimdLevelName(best));

	for (lv = 0; lv < VECQ_SIMD_NLEVELS; lv++)
	{
		VecqSimdLevel level = (VecqSimdLevel) lv;
		const VecqDistanceKernels *t = VecqDistanceGetKernels(level);
		bool		set = VecqDistanceSetLevel(level);

		if (t != NULL)
			ok = set && VecqDistanceCurrentLevel() == lv &&
				VecqKernels.l2_squared == t->l2_squared &&
				VecqKernels.inner_product == t->inner_product &&
				VecqKernels.l1 == t->l1 &&
				VecqKernels.cosine_parts == t->cosine_parts &&
				VecqKernels.norm_squared == t->norm_squared;
		else
			ok = !set && lv > best;
		count(ok);
		if (!ok)
			printf("FAIL VecqDistanceSetLevel(%s)\n",
				   VecqSimdLevelName((VecqSimdLevel) lv));
	}

	ok = VecqDistanceGetKernels(VECQ_SIMD_SCALAR) != NULL &&
		VecqDistanceGetKernels(VECQ_SIMD_NLEVELS) == NULL &&
		!VecqDistanceSetLevel(VECQ_SIMD_NLEVELS) &&
		strcmp(VecqSimdLevelName(VECQ_SIMD_SCALAR), "scalar") == 0 &&
		strcmp(VecqSimdLevelName(VECQ_SIMD_AVX2), "avx2") == 0 &&
		strcmp(VecqSimdLevelName(VECQ_SIMD_AVX512), "avx512") == 0;
	count(ok);
	if (!ok)
		printf("FAIL level names or out-of-range level\n");

	VecqDistanceInit();
}

/*
 * Results of three float4-sum kernels of one level against their double
 * references: each within VECQ_SQ8_REL_ERROR of the sum of the absolute
 * values of its terms (mag), plus an absolute floor.
 */
static void
check_three(const char *what, int lv, int n, const double *got,
			const double *ref, const double *mag, double floor)
{
	for (int k = 0; k < 3; k++)
	{
		bool		ok = fabs(got[k] - ref[k]) <= VECQ_SQ8_REL_ERROR * mag[k] + floor;

		count(ok);
		if (!ok)
			printf("FAIL %s kernel %d %s n=%d: got %.9g want %.9g\n", what, k,
				   VecqSimdLevelName((VecqSimdLevel) lv), n, got[k], ref[k]);
	}
}

/*
 * SQ8 kernels at every level against a double reference: codes 0..255
 * placed at the very end of a guarded page (an over-read faults), queries
 * in code units with random weights; the error must stay within
 * VECQ_SQ8_REL_ERROR of the sum of the absolute values of the terms.
 */
static void
test_sq8(const VecqDistanceKernels *const *levels, GuardedBuffer *cbuf,
		 float *q, float *w)
{
	static const int dims[] = {1, 2, 7, 8, 15, 16, 17, 31, 32, 33, 100, 768, 784, 1536, 16000};

	for (int di = 0; di < (int) lengthof(dims); di++)
	{
		int			n = dims[di];
		uint8_t    *c = (uint8_t *) (cbuf->data + cbuf->size) - n;
		double		ref[3] = {0, 0, 0};
		double		mag[3] = {0, 0, 0};

		for (int i = 0; i < n; i++)
		{
			double		d;

			c[i] = (uint8_t) (rng_next() % 256);
			q[i] = (float) (rng_unit() * 300.0 - 20.0);
			w[i] = (float) rng_unit();
			d = (double) q[i] - c[i];
			ref[0] += (double) w[i] * d * d;
			mag[0] += (double) w[i] * d * d;
			ref[1] += (double) q[i] * c[i];
			mag[1] += fabs((double) q[i] * c[i]);
			ref[2] += (double) w[i] * fabs(d);
			mag[2] += (double) w[i] * fabs(d);
		}
		for (int lv = 0; lv < VECQ_SIMD_NLEVELS; lv++)
		{
			double		got[3];

			if (levels[lv] == NULL)
				continue;
			in_kernel = 1;
			if (sigsetjmp(fault_jump, 1) != 0)
			{
				in_kernel = 0;
				count(false);
				printf("FAIL sq8 %s n=%d: read outside the codes\n",
					   VecqSimdLevelName((VecqSimdLevel) lv), n);
				continue;
			}
			got[0] = levels[lv]->sq8_l2(q, w, c, n);
			got[1] = levels[lv]->sq8_dot(q, c, n);
			got[2] = levels[lv]->sq8_l1(q, w, c, n);
			in_kernel = 0;
			check_three("sq8", lv, n, got, ref, mag, 1e-30);
		}
	}
}

/*
 * The 1-bit code kernel at every level against a double reference: the
 * bits at the very end of a guarded page (no byte past (n + 7) / 8 read),
 * padding bits past n set at random (they must not count).
 */
static void
test_bits(const VecqDistanceKernels *const *levels, GuardedBuffer *cbuf, float *u)
{
	static const int dims[] = {1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 100, 768, 784, 1536, 16000};

	for (int di = 0; di < (int) lengthof(dims); di++)
	{
		int			n = dims[di];
		int			nbytes = (n + 7) / 8;
		uint8_t    *bits = (uint8_t *) (cbuf->data + cbuf->size) - nbytes;
		double		ref = 0;
		double		mag = 0;

		for (int i = 0; i < nbytes; i++)
			bits[i] = (uint8_t) (rng_next() % 256);
		for (int i = 0; i < n; i++)
		{
			u[i] = (float) (rng_signed() * 10.0);
			if ((bits[i >> 3] >> (i & 7)) & 1)
			{
				ref += u[i];
				mag += fabs(u[i]);
			}
		}
		for (int lv = 0; lv < VECQ_SIMD_NLEVELS; lv++)
		{
			double		got;
			bool		ok;

			if (levels[lv] == NULL)
				continue;
			in_kernel = 1;
			if (sigsetjmp(fault_jump, 1) != 0)
			{
				in_kernel = 0;
				count(false);
				printf("FAIL bits %s n=%d: read outside the code\n",
					   VecqSimdLevelName((VecqSimdLevel) lv), n);
				continue;
			}
			got = levels[lv]->bits_sum(u, bits, n);
			in_kernel = 0;
			ok = fabs(got - ref) <= VECQ_SQ8_REL_ERROR * mag + 1e-30;
			count(ok);
			if (!ok)
				printf("FAIL bits %s n=%d: got %.9g want %.9g\n",
					   VecqSimdLevelName((VecqSimdLevel) lv), n, got, ref);
		}
	}
}

/*
 * The approximate (float4-sum) kernels at every level against a double
 * reference, inputs at the very end of a guarded page: within
 * VECQ_SQ8_REL_ERROR of the sum of the absolute values of the terms.
 */
static void
test_approx(const VecqDistanceKernels *const *levels, GuardedBuffer *abuf,
			GuardedBuffer *bbuf)
{
	static const int dims[] = {1, 3, 8, 15, 16, 17, 31, 32, 33, 100, 768, 784, 1536, 16000};
	static const double scales[] = {1.0, 1000.0, 1e-20};

	for (int di = 0; di < (int) lengthof(dims); di++)
		for (int si = 0; si < (int) lengthof(scales); si++)
		{
			int			n = dims[di];
			float	   *a = place(abuf, P_AT_END, n);
			float	   *b = place(bbuf, P_AT_END, n);
			double		ref[3] = {0, 0, 0};
			double		mag[3] = {0, 0, 0};

			for (int i = 0; i < n; i++)
			{
				double		d;

				a[i] = (float) (rng_signed() * scales[si]);
				b[i] = (float) (rng_signed() * scales[si]);
				d = (double) a[i] - b[i];
				ref[0] += d * d;
				ref[1] += (double) a[i] * b[i];
				mag[1] += fabs((double) a[i] * b[i]);
				ref[2] += fabs(d);
			}
			mag[0] = ref[0];
			mag[2] = ref[2];
			for (int lv = 0; lv < VECQ_SIMD_NLEVELS; lv++)
			{
				double		got[3];

				if (levels[lv] == NULL)
					continue;
				in_kernel = 1;
				if (sigsetjmp(fault_jump, 1) != 0)
				{
					in_kernel = 0;
					count(false);
					printf("FAIL approx %s n=%d: read outside the inputs\n",
						   VecqSimdLevelName((VecqSimdLevel) lv), n);
					continue;
				}
				got[0] = levels[lv]->l2_squared_approx(a, b, n);
				got[1] = levels[lv]->inner_product_approx(a, b, n);
				got[2] = levels[lv]->l1_approx(a, b, n);
				in_kernel = 0;
				/* float4 products of tiny values underflow: absolute floor */
				check_three(scales[si] < 1e-10 ? "approx (tiny)" : "approx", lv, n,
							got, ref, mag, 1e-37 * n);
			}
		}
}

int
main(void)
{
	const VecqDistanceKernels *levels[VECQ_SIMD_NLEVELS];
	GuardedBuffer abuf;
	GuardedBuffer bbuf;
	float	   *a0;
	float	   *b0;
	int			lv;
	int			dist;
	int			n;
	int			i;

	install_fault_handler();
	test_api();

	printf("levels tested:");
	for (lv = 0; lv < VECQ_SIMD_NLEVELS; lv++)
	{
		levels[lv] = VecqDistanceGetKernels((VecqSimdLevel) lv);
		if (levels[lv] != NULL)
			printf(" %s", VecqSimdLevelName((VecqSimdLevel) lv));
	}
	printf(" (best: %s)\n", VecqSimdLevelName(VecqDistanceBestLevel()));
	fflush(stdout);

	/* room for MAX_DIM floats one float past a page start */
	guarded_alloc(&abuf, (MAX_DIM + 1) * sizeof(float));
	guarded_alloc(&bbuf, (MAX_DIM + 1) * sizeof(float));
	a0 = malloc(MAX_DIM * sizeof(float));
	b0 = malloc(MAX_DIM * sizeof(float));
	if (a0 == NULL || b0 == NULL)
	{
		fprintf(stderr, "out of memory\n");
		return 2;
	}

	test_empty(levels, &abuf, &bbuf);

	for (dist = 0; dist < NDISTRIBUTIONS; dist++)
	{
		for (n = 1; n <= 64; n++)
			test_random(levels, (Distribution) dist, n, &abuf, &bbuf, a0, b0);
		for (i = 0; i < (int) lengthof(spread_dims); i++)
			test_random(levels, (Distribution) dist, spread_dims[i],
						&abuf, &bbuf, a0, b0);
	}

	test_cosine_distance(levels, a0, b0);
	test_sq8(levels, &abuf, a0, b0);
	test_bits(levels, &abuf, a0);
	test_approx(levels, &abuf, &bbuf);

	printf("%d passed, %d failed\n", npassed, nfailed);
	return nfailed == 0 ? 0 : 1;
}
