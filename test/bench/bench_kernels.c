/*-------------------------------------------------------------------------
 *
 * bench_kernels.c
 *	  Micro-benchmark of the distance kernels at every SIMD level.
 *
 * For each dimension (128, 768, 1536) a base set of vectors (1000 by
 * default, contiguous, so 0.5 to 6 MB: larger than L1, as in a scan of
 * index or heap pages) is compared with one query vector, and the time per
 * distance is reported for each kernel at each level this CPU supports,
 * with the speed-up over the scalar kernel.  The scalar kernel is the
 * extension's own fallback (src/common/distance.c compiled with the flags
 * PGXS uses), not a specially tuned loop.
 *
 * Each cell is the median of several timed runs (101 by default), each run
 * a fixed number of passes over the base set, after one untimed warm-up
 * pass.  Within a run the levels take turns, so background load affects
 * them alike; on a busy machine, compare ratios rather than absolute times.
 *
 * Usage: bench_kernels [nvectors [runs]]
 *
 * test/bench/bench_kernels.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/distance.h"

/*
 * Elements processed per timed run: about half a millisecond for the scalar
 * kernel, short enough that most runs fit in one scheduler time slice even
 * when other processes compete for the CPU; the median then discards the
 * runs that were interrupted.
 */
#define ELEMENTS_PER_RUN	1000000L

typedef enum Kernel
{
	K_L2_SQUARED,
	K_INNER_PRODUCT,
	K_COSINE_PARTS,
	K_L1,
	NKERNELS
} Kernel;

static const char *const kernel_names[NKERNELS] = {
	"l2_squared", "inner_product", "cosine_parts", "l1"
};

static const int dims[] = {128, 768, 1536};

/* results land here so that no call can be optimized away */
static volatile double sink;

static double
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec * 1e9 + (double) ts.tv_nsec;
}

/* one pass: the query against every base vector */
static double
one_pass(const VecqDistanceKernels *t, Kernel k, const float *query,
		 const float *base, int nvectors, int dim)
{
	double		acc = 0.0;
	int			v;

	switch (k)
	{
		case K_L2_SQUARED:
			for (v = 0; v < nvectors; v++)
				acc += t->l2_squared(query, base + (size_t) v * dim, dim);
			break;
		case K_INNER_PRODUCT:
			for (v = 0; v < nvectors; v++)
				acc += t->inner_product(query, base + (size_t) v * dim, dim);
			break;
		case K_COSINE_PARTS:
			for (v = 0; v < nvectors; v++)
			{
				VecqCosineParts parts;

				parts = t->cosine_parts(query, base + (size_t) v * dim, dim);
				acc += parts.dot + parts.norm_b;
			}
			break;
		case K_L1:
			for (v = 0; v < nvectors; v++)
				acc += t->l1(query, base + (size_t) v * dim, dim);
			break;
		case NKERNELS:
			abort();
	}
	return acc;
}

/* n floats, 64-byte aligned like a cache line */
static float *
alloc_floats(size_t n)
{
	float	   *p = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);

	if (p == NULL)
	{
		fprintf(stderr, "out of memory\n");
		exit(2);
	}
	return p;
}

static int
compare_double(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return (x > y) - (x < y);
}

/*
 * Nanoseconds per distance of kernel k at every available level: median of
 * "runs" timed runs.  The levels take turns within each run, so that load
 * from other processes and clock changes affect them alike.
 */
static void
measure(const VecqDistanceKernels *const *levels, Kernel k,
		const float *query, const float *base, int nvectors, int dim,
		int runs, double *ns)
{
	int			passes = (int) (ELEMENTS_PER_RUN / ((long) nvectors * dim));
	double	   *times = malloc(runs * VECQ_SIMD_NLEVELS * sizeof(double));
	int			lv;
	int			r;
	int			p;

	if (times == NULL)
	{
		fprintf(stderr, "out of memory\n");
		exit(2);
	}
	if (passes < 1)
		passes = 1;

	for (lv = 0; lv < VECQ_SIMD_NLEVELS; lv++)
		if (levels[lv] != NULL)
			sink = one_pass(levels[lv], k, query, base, nvectors, dim);

	for (r = 0; r < runs; r++)
	{
		for (lv = 0; lv < VECQ_SIMD_NLEVELS; lv++)
		{
			double		start;
			double		acc = 0.0;

			if (levels[lv] == NULL)
				continue;
			start = now_ns();
			for (p = 0; p < passes; p++)
				acc += one_pass(levels[lv], k, query, base, nvectors, dim);
			times[lv * runs + r] =
				(now_ns() - start) / ((double) passes * nvectors);
			sink = acc;
		}
	}

	for (lv = 0; lv < VECQ_SIMD_NLEVELS; lv++)
	{
		if (levels[lv] == NULL)
			continue;
		qsort(times + lv * runs, runs, sizeof(double), compare_double);
		ns[lv] = times[lv * runs + runs / 2];
	}
	free(times);
}

int
main(int argc, char **argv)
{
	int			nvectors = argc > 1 ? atoi(argv[1]) : 1000;
	int			runs = argc > 2 ? atoi(argv[2]) : 101;
	const VecqDistanceKernels *levels[VECQ_SIMD_NLEVELS];
	unsigned int seed = 12345;
	int			lv;
	int			d;

	if (nvectors < 1 || runs < 1)
	{
		fprintf(stderr, "usage: %s [nvectors [runs]]\n", argv[0]);
		return 2;
	}

	VecqDistanceInit();
	for (lv = 0; lv < VECQ_SIMD_NLEVELS; lv++)
		levels[lv] = VecqDistanceGetKernels((VecqSimdLevel) lv);

	printf("vecq distance kernels: %d base vectors, median of %d runs, "
		   "ns per distance (speed-up vs scalar)\n\n", nvectors, runs);
	printf("%5s  %-14s %10s", "dim", "kernel", "scalar");
	for (lv = VECQ_SIMD_SCALAR + 1; lv < VECQ_SIMD_NLEVELS; lv++)
		if (levels[lv] != NULL)
			printf("  %18s", VecqSimdLevelName((VecqSimdLevel) lv));
	printf("\n");

	for (d = 0; d < (int) lengthof(dims); d++)
	{
		int			dim = dims[d];
		size_t		nfloats = (size_t) nvectors * dim;
		float	   *base = alloc_floats(nfloats);
		float	   *query = alloc_floats(dim);
		size_t		i;
		int			k;

		for (i = 0; i < nfloats; i++)
			base[i] = (float) rand_r(&seed) / RAND_MAX * 2.0f - 1.0f;
		for (i = 0; i < (size_t) dim; i++)
			query[i] = (float) rand_r(&seed) / RAND_MAX * 2.0f - 1.0f;

		for (k = 0; k < NKERNELS; k++)
		{
			double		ns[VECQ_SIMD_NLEVELS];

			measure(levels, (Kernel) k, query, base, nvectors, dim, runs, ns);
			printf("%5d  %-14s %10.1f", dim, kernel_names[k],
				   ns[VECQ_SIMD_SCALAR]);
			for (lv = VECQ_SIMD_SCALAR + 1; lv < VECQ_SIMD_NLEVELS; lv++)
			{
				if (levels[lv] == NULL)
					continue;
				printf("  %9.1f (%5.1fx)", ns[lv],
					   ns[VECQ_SIMD_SCALAR] / ns[lv]);
			}
			printf("\n");
			fflush(stdout);
		}
		free(base);
		free(query);
	}
	return 0;
}
