/*-------------------------------------------------------------------------
 *
 * bench_truth.c
 *	  Metrics, exact ground truth and recall for the benchmark driver.
 *
 * Ground truth is a brute-force scan in double precision over every row for
 * every query, split across threads by query, and cached per data set,
 * metric, k and number of queries.  It shares no code with the extension:
 * it is the independent reference both engines are measured against.
 *
 * test/bench/bench_truth.c
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

BenchMetric
BenchMetricParse(const char *name)
{
	if (strcmp(name, "l2") == 0)
		return BENCH_L2;
	if (strcmp(name, "ip") == 0)
		return BENCH_IP;
	if (strcmp(name, "cosine") == 0)
		return BENCH_COSINE;
	fprintf(stderr, "vecq_bench: unknown metric \"%s\" (want l2, ip or cosine)\n",
			name);
	exit(1);
}

const char *
BenchMetricName(BenchMetric metric)
{
	static const char *const names[] = {"l2", "ip", "cosine"};

	return names[metric];
}

const char *
BenchMetricOperator(BenchMetric metric)
{
	static const char *const ops[] = {"<->", "<#>", "<=>"};

	return ops[metric];
}

const char *
BenchMetricOpclass(BenchMetric metric)
{
	static const char *const opclasses[] = {
		"vector_l2_ops", "vector_ip_ops", "vector_cosine_ops"
	};

	return opclasses[metric];
}

double
BenchDistance(BenchMetric metric, const float *a, const float *b, int dim)
{
	double		s = 0,
				na = 0,
				nb = 0;

	switch (metric)
	{
		case BENCH_L2:
			for (int i = 0; i < dim; i++)
			{
				double		d = (double) a[i] - (double) b[i];

				s += d * d;
			}
			return sqrt(s);
		case BENCH_IP:
			for (int i = 0; i < dim; i++)
				s += (double) a[i] * (double) b[i];
			return -s;
		case BENCH_COSINE:
			for (int i = 0; i < dim; i++)
			{
				s += (double) a[i] * (double) b[i];
				na += (double) a[i] * (double) a[i];
				nb += (double) b[i] * (double) b[i];
			}
			if (na == 0 || nb == 0)
				return NAN;
			return 1.0 - s / sqrt(na * nb);
	}
	return NAN;
}

/* ---------------- brute force ---------------- */

typedef struct TruthJob
{
	const BenchDataset *ds;
	BenchMetric metric;
	BenchTruth *truth;
	int			first;			/* queries [first, last) */
	int			last;
} TruthJob;

/*
 * Keep the k best (smallest distance; ties by lower id) of one query in a
 * sorted array; insertion sort is fine for the small k used.
 */
static void *
truth_worker(void *arg)
{
	TruthJob   *job = arg;
	const BenchDataset *ds = job->ds;
	int			k = job->truth->k;
	int			dim = ds->base.dim;

	for (int q = job->first; q < job->last; q++)
	{
		const float *qv = ds->queries.x + (size_t) q * dim;
		int32_t    *ids = job->truth->ids + (size_t) q * k;
		double	   *dists = job->truth->dists + (size_t) q * k;
		int			have = 0;

		for (int i = 0; i < ds->base.n; i++)
		{
			double		d = BenchDistance(job->metric, qv,
										  ds->base.x + (size_t) i * dim, dim);
			int			pos;

			if (isnan(d) || (have == k && d >= dists[k - 1]))
				continue;
			pos = (have < k) ? have++ : k - 1;
			while (pos > 0 && dists[pos - 1] > d)
			{
				dists[pos] = dists[pos - 1];
				ids[pos] = ids[pos - 1];
				pos--;
			}
			dists[pos] = d;
			ids[pos] = i;
		}
		for (int j = have; j < k; j++)
		{
			ids[j] = -1;
			dists[j] = INFINITY;
		}
	}
	return NULL;
}

static bool
truth_read(BenchTruth *truth, const char *path, int nqueries, int k)
{
	FILE	   *f = fopen(path, "rb");
	int32_t		hdr[2];
	size_t		count = (size_t) nqueries * k;

	if (f == NULL)
		return false;
	if (fread(hdr, sizeof(int32_t), 2, f) != 2 || hdr[0] != nqueries ||
		hdr[1] != k ||
		fread(truth->ids, sizeof(int32_t), count, f) != count ||
		fread(truth->dists, sizeof(double), count, f) != count)
	{
		fclose(f);
		return false;
	}
	fclose(f);
	return true;
}

static void
truth_write(const BenchTruth *truth, const char *path)
{
	char		tmp[1100];
	FILE	   *f;
	int32_t		hdr[2] = {truth->nqueries, truth->k};
	size_t		count = (size_t) truth->nqueries * truth->k;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "wb");
	if (f == NULL ||
		fwrite(hdr, sizeof(int32_t), 2, f) != 2 ||
		fwrite(truth->ids, sizeof(int32_t), count, f) != count ||
		fwrite(truth->dists, sizeof(double), count, f) != count ||
		fclose(f) != 0 || rename(tmp, path) != 0)
	{
		fprintf(stderr, "vecq_bench: could not write \"%s\"\n", path);
		exit(1);
	}
}

void
BenchTruthLoad(BenchTruth *truth, const BenchDataset *ds, BenchMetric metric,
			   int k, int nthreads, const char *cachedir)
{
	char		path[1024];
	size_t		count = (size_t) ds->queries.n * k;

	truth->nqueries = ds->queries.n;
	truth->k = k;
	truth->ids = malloc(count * sizeof(int32_t));
	truth->dists = malloc(count * sizeof(double));
	if (truth->ids == NULL || truth->dists == NULL)
	{
		fprintf(stderr, "vecq_bench: out of memory\n");
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/%s.%s.k%d.nq%d.truth", cachedir, ds->name,
			 BenchMetricName(metric), k, ds->queries.n);
	if (truth_read(truth, path, ds->queries.n, k))
		return;

	{
		pthread_t	threads[64];
		TruthJob	jobs[64];
		double		start = BenchNow();

		if (nthreads < 1)
			nthreads = 1;
		if (nthreads > 64)
			nthreads = 64;
		fprintf(stderr, "vecq_bench: computing exact top-%d of %d queries over %d rows (%d threads)\n",
				k, ds->queries.n, ds->base.n, nthreads);
		for (int t = 0; t < nthreads; t++)
		{
			jobs[t].ds = ds;
			jobs[t].metric = metric;
			jobs[t].truth = truth;
			jobs[t].first = (int) ((long) ds->queries.n * t / nthreads);
			jobs[t].last = (int) ((long) ds->queries.n * (t + 1) / nthreads);
			if (pthread_create(&threads[t], NULL, truth_worker, &jobs[t]) != 0)
			{
				fprintf(stderr, "vecq_bench: could not start a thread\n");
				exit(1);
			}
		}
		for (int t = 0; t < nthreads; t++)
			pthread_join(threads[t], NULL);
		fprintf(stderr, "vecq_bench: ground truth took %.1f s\n",
				BenchNow() - start);
	}
	truth_write(truth, path);
}

double
BenchRecall(const BenchTruth *truth, const BenchDataset *ds, BenchMetric metric,
			int query, const int32_t *ids, int nids)
{
	int			k = truth->k;
	double		kth = truth->dists[(size_t) query * k + k - 1];
	double		limit = kth + 1e-9 * fmax(1.0, fabs(kth));
	const float *qv = ds->queries.x + (size_t) query * ds->base.dim;
	int			hits = 0;

	for (int i = 0; i < nids && i < k; i++)
	{
		double		d;

		if (ids[i] < 0 || ids[i] >= ds->base.n)
			continue;
		d = BenchDistance(metric, qv, ds->base.x + (size_t) ids[i] * ds->base.dim,
						  ds->base.dim);
		if (d <= limit)
			hits++;
	}
	return (double) hits / k;
}
