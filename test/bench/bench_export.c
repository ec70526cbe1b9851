/*-------------------------------------------------------------------------
 *
 * bench_export.c
 *	  vecq_bench_data: write a data set of the benchmark driver and its
 *	  exact top-k to the cache directory, for benchmarks that are not
 *	  written in C (chroma/chroma_bench.mjs), and print where they are.
 *
 *	  vecq_bench_data --data SPEC [--queries N] [--k K] [--metric l2]
 *	                  [--threads T] [--cache DIR]
 *
 * SPEC as for vecq_bench (fashion-mnist, synth:N:DIM[:SEED]).  Prints one
 * line of JSON: {"name", "base", "queries", "truth"} with the paths of the
 * cache files (formats: bench_data.c and bench_truth.c).
 *
 * test/bench/bench_export.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

int
main(int argc, char **argv)
{
	const char *data = "fashion-mnist";
	const char *cache = "/var/tmp/vecq-bench";
	const char *metric_name = "l2";
	int			nqueries = 1000;
	int			k = 10;
	int			threads = (int) sysconf(_SC_NPROCESSORS_ONLN);
	BenchDataset ds;
	BenchTruth	truth;
	BenchMetric metric;

	for (int i = 1; i < argc; i++)
	{
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (v == NULL)
		{
			fprintf(stderr, "vecq_bench_data: %s needs a value\n", a);
			return 2;
		}
		if (strcmp(a, "--data") == 0)
			data = v;
		else if (strcmp(a, "--queries") == 0)
			nqueries = atoi(v);
		else if (strcmp(a, "--k") == 0)
			k = atoi(v);
		else if (strcmp(a, "--metric") == 0)
			metric_name = v;
		else if (strcmp(a, "--threads") == 0)
			threads = atoi(v);
		else if (strcmp(a, "--cache") == 0)
			cache = v;
		else
		{
			fprintf(stderr, "vecq_bench_data: unknown option %s\n", a);
			return 2;
		}
		i++;
	}
	if (nqueries < 1 || k < 1)
	{
		fprintf(stderr, "vecq_bench_data: --queries and --k must be positive\n");
		return 2;
	}
	metric = BenchMetricParse(metric_name);
	BenchDatasetLoad(&ds, data, nqueries, cache);
	BenchTruthLoad(&truth, &ds, metric, k, threads, cache);
	/* the file names BenchDatasetLoad and BenchTruthLoad use */
	printf("{\"name\": \"%s\", \"base\": \"%s/%s.base.f32\", "
		   "\"queries\": \"%s/%s.queries-%d.f32\", "
		   "\"truth\": \"%s/%s.%s.k%d.nq%d.truth\"}\n",
		   ds.name, cache, ds.name, cache, ds.name, nqueries,
		   cache, ds.name, BenchMetricName(metric), k, nqueries);
	return 0;
}
