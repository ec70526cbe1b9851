/*-------------------------------------------------------------------------
 *
 * vecq_bench.c
 *	  Benchmark driver: load a data set into the engines' databases, build
 *	  the index under each build configuration, and measure build time, index
 *	  size, recall@k against exact ground truth, latency and QPS per
 *	  ef_search, optionally pgbench throughput; engines alternate, so that a
 *	  vecq/pgvector ratio is measured in one run on the same machine state.
 *
 * Run it through run_bench.sh, which builds it, starts a throwaway cluster
 * with the benchmark settings and installs the engines; see README.md.
 *
 * test/bench/vecq_bench.c
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"

#define MAX_ENGINES 2
#define MAX_LIST 32
#define MAX_SWEEPS 15

typedef struct Options
{
	const char *data;
	int			nqueries;
	BenchMetric metric;
	const char *engines;
	const char *index;			/* "hnsw", "none", or "USING ..." */
	const char *with;			/* index options for "hnsw" */
	const char *configs;
	int			efs[MAX_LIST];
	int			nefs;
	int			sweeps;
	int			k;
	int			clients[MAX_LIST];
	int			nclients;
	int			pgbench_seconds;
	const char *storage;
	bool		skip_load;
	const char *cachedir;
	const char *csv;
	int			threads;
	bool		churn;
} Options;

/* what one engine measured */
typedef struct EngineResult
{
	double		load_s;
	double		floor_ms;		/* median round trip of SELECT 1 */
	double		build_s[MAX_LIST];	/* per configuration */
	double		index_mb[MAX_LIST];
	char		plan[256];		/* first line of the query plan */
	double		recall[MAX_LIST][MAX_SWEEPS];
	double		qps[MAX_LIST][MAX_SWEEPS];
	double		p50[MAX_LIST][MAX_SWEEPS];
	double		p99[MAX_LIST][MAX_SWEEPS];
	double		avg_rows[MAX_LIST];
	int			best95;			/* index into efs, or -1 */
	int			best99;
	int			pgbench_ef;
	double		tps[MAX_LIST];
	double		churn_delete_s;
	double		churn_insert_s;
	double		churn_recall[MAX_LIST];
	double		churn_qps[MAX_LIST];
} EngineResult;

static Options opt;
static BenchDataset ds;
static BenchTruth truth;
static BenchEngine engines[MAX_ENGINES];
static EngineResult results[MAX_ENGINES];
static int	nengines;
static char configs[MAX_LIST][8];
static int	nconfigs;
static FILE *csv;

static void
usage(void)
{
	printf("vecq_bench: measure vecq (and pgvector) on one data set\n\n"
		   "Options:\n"
		   "  --data SPEC            fashion-mnist (default) or synth:N:DIM[:SEED]\n"
		   "  --queries N            query vectors (default 1000)\n"
		   "  --metric M             l2 (default), ip or cosine\n"
		   "  --engines LIST         vecq,pgvector (default) or one of them; vecq_sq8 is\n"
		   "                         vecq with quantization = sq8 added to the index options,\n"
		   "                         vecq_bit with quantization = bit\n"
		   "  --index SPEC           hnsw (default), none (exact scans) or\n"
		   "                         a clause such as \"USING hnsw (embedding vector_l2_ops)\"\n"
		   "  --with OPTIONS         options of the hnsw index\n"
		   "                         (default \"m = 16, ef_construction = 64\")\n"
		   "  --configs LIST         build configurations, A and/or D (default A)\n"
		   "                         A: maintenance_work_mem 1GB, 1 parallel worker\n"
		   "                         D: server defaults (64MB, 2 workers)\n"
		   "  --ef LIST              hnsw.ef_search values (default 10,20,40,80,160,320)\n"
		   "  --sweeps N             sweeps over the queries, medians reported (default 3)\n"
		   "  --k N                  neighbours per query (default 10)\n"
		   "  --pgbench LIST         also run pgbench -M prepared with these client\n"
		   "                         counts, at each engine's smallest ef with recall >= 0.95\n"
		   "  --pgbench-seconds N    duration of each pgbench run (default 20)\n"
		   "  --storage S            SET STORAGE of the embedding column (default: the type's);\n"
		   "                         inline: STORAGE main and toast_tuple_target 8160, so that\n"
		   "                         vectors up to ~8 kB stay in the heap row\n"
		   "  --skip-load            keep the tables of an earlier run\n"
		   "  --cache DIR            data and ground truth cache (default /var/tmp/vecq-bench)\n"
		   "  --csv FILE             also write every figure as CSV\n"
		   "  --threads N            threads for ground truth (default: CPUs)\n"
		   "  --churn                afterwards delete every other row, VACUUM, insert\n"
		   "                         them again, VACUUM, and sweep once more\n"
		   "\nConnection: PGHOST, PGPORT, PGUSER; databases bench_<engine> are created.\n");
}

static int
parse_list(const char *s, int *out, const char *what)
{
	int			n = 0;
	char	   *end;

	while (*s)
	{
		long		v = strtol(s, &end, 10);

		if (end == s || v <= 0 || v > 100000 || n == MAX_LIST ||
			(*end != ',' && *end != '\0'))
		{
			fprintf(stderr, "vecq_bench: invalid %s list \"%s\"\n", what, s);
			exit(1);
		}
		out[n++] = (int) v;
		s = (*end == ',') ? end + 1 : end;
	}
	return n;
}

static int
parse_int(const char *s, const char *what, int min, int max)
{
	char	   *end;
	long		v = strtol(s, &end, 10);

	if (end == s || *end != '\0' || v < min || v > max)
	{
		fprintf(stderr, "vecq_bench: invalid %s \"%s\" (want %d..%d)\n",
				what, s, min, max);
		exit(1);
	}
	return (int) v;
}

static void
parse_options(int argc, char **argv)
{
	opt.data = "fashion-mnist";
	opt.nqueries = 1000;
	opt.metric = BENCH_L2;
	opt.engines = "vecq,pgvector";
	opt.index = "hnsw";
	opt.with = "m = 16, ef_construction = 64";
	opt.configs = "A";
	opt.nefs = parse_list("10,20,40,80,160,320", opt.efs, "ef");
	opt.sweeps = 3;
	opt.k = 10;
	opt.pgbench_seconds = 20;
	opt.cachedir = "/var/tmp/vecq-bench";
	opt.threads = (int) sysconf(_SC_NPROCESSORS_ONLN);

	for (int i = 1; i < argc; i++)
	{
		const char *a = argv[i];
		const char *v = (i + 1 < argc) ? argv[i + 1] : NULL;

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
		{
			usage();
			exit(0);
		}
		if (strcmp(a, "--skip-load") == 0)
		{
			opt.skip_load = true;
			continue;
		}
		if (strcmp(a, "--churn") == 0)
		{
			opt.churn = true;
			continue;
		}
		if (v == NULL)
		{
			fprintf(stderr, "vecq_bench: option %s needs a value (see --help)\n", a);
			exit(1);
		}
		i++;
		if (strcmp(a, "--data") == 0)
			opt.data = v;
		else if (strcmp(a, "--queries") == 0)
			opt.nqueries = parse_int(v, "query count", 1, 100000);
		else if (strcmp(a, "--metric") == 0)
			opt.metric = BenchMetricParse(v);
		else if (strcmp(a, "--engines") == 0)
			opt.engines = v;
		else if (strcmp(a, "--index") == 0)
			opt.index = v;
		else if (strcmp(a, "--with") == 0)
			opt.with = v;
		else if (strcmp(a, "--configs") == 0)
			opt.configs = v;
		else if (strcmp(a, "--ef") == 0)
			opt.nefs = parse_list(v, opt.efs, "ef");
		else if (strcmp(a, "--sweeps") == 0)
			opt.sweeps = parse_int(v, "sweep count", 1, MAX_SWEEPS);
		else if (strcmp(a, "--k") == 0)
			opt.k = parse_int(v, "k", 1, 1000);
		else if (strcmp(a, "--pgbench") == 0)
			opt.nclients = parse_list(v, opt.clients, "client");
		else if (strcmp(a, "--pgbench-seconds") == 0)
			opt.pgbench_seconds = parse_int(v, "pgbench duration", 1, 3600);
		else if (strcmp(a, "--storage") == 0)
			opt.storage = v;
		else if (strcmp(a, "--cache") == 0)
			opt.cachedir = v;
		else if (strcmp(a, "--csv") == 0)
			opt.csv = v;
		else if (strcmp(a, "--threads") == 0)
			opt.threads = parse_int(v, "thread count", 1, 64);
		else
		{
			fprintf(stderr, "vecq_bench: unknown option %s (see --help)\n", a);
			exit(1);
		}
	}

	/* engines */
	{
		char	   *list = strdup(opt.engines);
		char	   *save = NULL;

		for (char *e = strtok_r(list, ",", &save); e; e = strtok_r(NULL, ",", &save))
		{
			if (nengines == MAX_ENGINES)
			{
				fprintf(stderr, "vecq_bench: at most %d engines\n", MAX_ENGINES);
				exit(1);
			}
			engines[nengines].index_options = NULL;
			if (strcmp(e, "vecq") == 0)
				engines[nengines].extension = "vecq";
			else if (strcmp(e, "vecq_sq8") == 0)
			{
				engines[nengines].extension = "vecq";
				engines[nengines].index_options = "quantization = 'sq8'";
			}
			else if (strcmp(e, "vecq_bit") == 0)
			{
				engines[nengines].extension = "vecq";
				engines[nengines].index_options = "quantization = 'bit'";
			}
			else if (strcmp(e, "pgvector") == 0)
				engines[nengines].extension = "vector";
			else
			{
				fprintf(stderr, "vecq_bench: unknown engine \"%s\" (want vecq, vecq_sq8, vecq_bit or pgvector)\n", e);
				exit(1);
			}
			engines[nengines++].name = e;
		}
		if (nengines == 0)
		{
			fprintf(stderr, "vecq_bench: no engine given\n");
			exit(1);
		}
	}
	/* build configurations */
	{
		char	   *list = strdup(opt.configs);
		char	   *save = NULL;

		for (char *c = strtok_r(list, ",", &save); c; c = strtok_r(NULL, ",", &save))
		{
			if ((strcmp(c, "A") != 0 && strcmp(c, "D") != 0) || nconfigs == MAX_LIST)
			{
				fprintf(stderr, "vecq_bench: unknown build configuration \"%s\" (want A or D)\n", c);
				exit(1);
			}
			strcpy(configs[nconfigs++], c);
		}
		free(list);
	}
	if (strcmp(opt.index, "none") == 0)
	{
		/* exact scans: ef_search means nothing, one row of results */
		opt.nefs = 1;
		opt.efs[0] = 0;
		nconfigs = 0;
	}
}

static void
csv_row(const char *engine, const char *measure, const char *setting, double value)
{
	if (csv)
		fprintf(csv, "%s,%s,%s,%s,%s,%.6g\n", ds.name, BenchMetricName(opt.metric),
				engine, measure, setting, value);
}

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return (x > y) - (x < y);
}

static double
median(const double *v, int n)
{
	double		tmp[MAX_SWEEPS];

	memcpy(tmp, v, sizeof(double) * n);
	qsort(tmp, n, sizeof(double), cmp_double);
	return (n % 2) ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2;
}

/* value at quantile q of sorted v */
static double
quantile(const double *sorted, int n, double q)
{
	int			i = (int) ceil(q * n) - 1;

	if (i < 0)
		i = 0;
	if (i >= n)
		i = n - 1;
	return sorted[i];
}

/* index clause for CREATE INDEX */
static void
index_clause(char *buf, size_t size, const BenchEngine *engine)
{
	if (strcmp(opt.index, "hnsw") == 0)
		snprintf(buf, size, "USING hnsw (embedding %s) WITH (%s%s%s)",
				 BenchMetricOpclass(opt.metric), opt.with,
				 engine && engine->index_options ? ", " : "",
				 engine && engine->index_options ? engine->index_options : "");
	else
		snprintf(buf, size, "%s", opt.index);
}

/* ---------------- phases ---------------- */

static void
measure_floor(int e)
{
	PGconn	   *conn = engines[e].conn;
	PGresult   *res = PQprepare(conn, "floor", "SELECT 1", 0, NULL);
	int			n = opt.nqueries;
	double	   *lat = malloc(sizeof(double) * n);
	double		sweep_med[MAX_SWEEPS];

	if (PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		fprintf(stderr, "vecq_bench: %s", PQerrorMessage(conn));
		exit(1);
	}
	PQclear(res);
	for (int s = 0; s < opt.sweeps; s++)
	{
		for (int i = 0; i < n; i++)
		{
			double		t0 = BenchNow();

			res = PQexecPrepared(conn, "floor", 0, NULL, NULL, NULL, 0);
			if (PQresultStatus(res) != PGRES_TUPLES_OK)
			{
				fprintf(stderr, "vecq_bench: %s", PQerrorMessage(conn));
				exit(1);
			}
			PQclear(res);
			lat[i] = (BenchNow() - t0) * 1000;
		}
		qsort(lat, n, sizeof(double), cmp_double);
		sweep_med[s] = quantile(lat, n, 0.5);
	}
	results[e].floor_ms = median(sweep_med, opt.sweeps);
	free(lat);
}

static void
build_index(int e, int c)
{
	PGconn	   *conn = engines[e].conn;
	char		clause[1024],
				sql[1200];
	char	   *size;
	double		t0;

	BenchExec(conn, "DROP INDEX IF EXISTS bench_items_embedding_idx");
	BenchExec(conn, "CHECKPOINT");
	if (strcmp(configs[c], "A") == 0)
	{
		BenchExec(conn, "SET maintenance_work_mem = '1GB'");
		BenchExec(conn, "SET max_parallel_maintenance_workers = 1");
	}
	else
	{
		BenchExec(conn, "RESET maintenance_work_mem");
		BenchExec(conn, "RESET max_parallel_maintenance_workers");
	}
	index_clause(clause, sizeof(clause), &engines[e]);
	snprintf(sql, sizeof(sql), "CREATE INDEX bench_items_embedding_idx ON bench_items %s",
			 clause);
	t0 = BenchNow();
	BenchExec(conn, sql);
	results[e].build_s[c] = BenchNow() - t0;
	size = BenchQueryValue(conn, "SELECT pg_relation_size('bench_items_embedding_idx')");
	results[e].index_mb[c] = strtod(size, NULL) / (1024.0 * 1024.0);
	free(size);
	BenchExec(conn, "RESET maintenance_work_mem");
	BenchExec(conn, "RESET max_parallel_maintenance_workers");
	fprintf(stderr, "vecq_bench: %s: build %s %.1f s, %.1f MB\n", engines[e].name,
			configs[c], results[e].build_s[c], results[e].index_mb[c]);
}

static void
prepare_queries(int e)
{
	PGconn	   *conn = engines[e].conn;
	char		sql[512];
	Oid			types[1] = {engines[e].vector_oid};
	PGresult   *res;

	snprintf(sql, sizeof(sql),
			 "SELECT id FROM bench_items ORDER BY embedding %s $1 LIMIT %d",
			 BenchMetricOperator(opt.metric), opt.k);
	res = PQprepare(conn, "knn", sql, 1, types);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		fprintf(stderr, "vecq_bench: %s", PQerrorMessage(conn));
		exit(1);
	}
	PQclear(res);

	/* show which plan the queries get: an index scan or a full sort */
	snprintf(sql, sizeof(sql),
			 "EXPLAIN (COSTS OFF) SELECT id FROM bench_items ORDER BY embedding %s "
			 "(SELECT embedding FROM bench_queries WHERE id = 1) LIMIT %d",
			 BenchMetricOperator(opt.metric), opt.k);
	res = PQexec(conn, sql);
	results[e].plan[0] = '\0';
	for (int i = 0; PQresultStatus(res) == PGRES_TUPLES_OK && i < PQntuples(res); i++)
	{
		const char *line = PQgetvalue(res, i, 0);

		if (strstr(line, "Scan") && !strstr(line, "bench_queries"))
		{
			while (*line == ' ' || *line == '-' || *line == '>')
				line++;
			snprintf(results[e].plan, sizeof(results[e].plan), "%s", line);
			break;
		}
	}
	PQclear(res);

	/* warm the caches: pg_prewarm when it is there, then a pass of queries */
	res = PQexec(conn, "CREATE EXTENSION IF NOT EXISTS pg_prewarm");
	if (PQresultStatus(res) == PGRES_COMMAND_OK)
	{
		PQclear(res);
		res = PQexec(conn, "SELECT pg_prewarm(c.oid) FROM pg_class c "
					 "WHERE relname IN ('bench_items', 'bench_items_embedding_idx') "
					 "OR c.oid = (SELECT reltoastrelid FROM pg_class WHERE relname = 'bench_items')");
	}
	PQclear(res);
}

/* One pass of all queries at ef (0: leave ef_search alone). */
static void
run_sweep(int e, int efi, int sweep, bool record)
{
	PGconn	   *conn = engines[e].conn;
	int			n = opt.nqueries;
	int			dim = ds.queries.dim;
	char	   *param = malloc(4 + 4 * (size_t) dim);
	int			paramlen;
	int			paramfmt = 1;
	double	   *lat = malloc(sizeof(double) * n);
	int32_t    *ids = malloc(sizeof(int32_t) * opt.k);
	double		recall_sum = 0;
	double		rows = 0;
	double		t_start;

	if (opt.efs[efi] > 0)
	{
		char		sql[64];

		snprintf(sql, sizeof(sql), "SET hnsw.ef_search = %d", opt.efs[efi]);
		BenchExec(conn, sql);
	}
	t_start = BenchNow();
	for (int q = 0; q < n; q++)
	{
		const char *values[1];
		PGresult   *res;
		double		t0;
		int			nrows;

		paramlen = (int) BenchVectorSend(param, ds.queries.x + (size_t) q * dim, dim);
		values[0] = param;
		t0 = BenchNow();
		res = PQexecPrepared(conn, "knn", 1, values, &paramlen, &paramfmt, 0);
		lat[q] = (BenchNow() - t0) * 1000;
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
		{
			fprintf(stderr, "vecq_bench: %s: %s", engines[e].name, PQerrorMessage(conn));
			exit(1);
		}
		nrows = PQntuples(res);
		if (nrows > opt.k)
			nrows = opt.k;
		for (int i = 0; i < nrows; i++)
			ids[i] = atoi(PQgetvalue(res, i, 0)) - 1;
		PQclear(res);
		rows += nrows;
		if (record)
			recall_sum += BenchRecall(&truth, &ds, opt.metric, q, ids, nrows);
	}
	if (record)
	{
		double		total = BenchNow() - t_start;
		EngineResult *r = &results[e];

		qsort(lat, n, sizeof(double), cmp_double);
		r->qps[efi][sweep] = n / total;
		r->p50[efi][sweep] = quantile(lat, n, 0.5);
		r->p99[efi][sweep] = quantile(lat, n, 0.99);
		r->recall[efi][sweep] = recall_sum / n;
		r->avg_rows[efi] = rows / n;
	}
	free(param);
	free(lat);
	free(ids);
}

static void
run_pgbench(int e, int clients)
{
	char		script[] = "/tmp/vecq_bench_pgbench.XXXXXX";
	int			fd = mkstemp(script);
	char		cmd[2048];
	char		line[512];
	FILE	   *f;
	FILE	   *p;
	double		tps = -1;

	if (fd < 0)
	{
		perror("vecq_bench: mkstemp");
		exit(1);
	}
	f = fdopen(fd, "w");
	fprintf(f, "\\set qid random(1, %d)\n"
			"SELECT id FROM bench_items ORDER BY embedding %s "
			"(SELECT embedding FROM bench_queries WHERE id = :qid) LIMIT %d;\n",
			opt.nqueries, BenchMetricOperator(opt.metric), opt.k);
	fclose(f);
	chmod(script, 0644);
	snprintf(cmd, sizeof(cmd),
			 "PGOPTIONS='-c hnsw.ef_search=%d' pgbench -n -M prepared -T %d -c %d -j %d -f %s %s 2>&1",
			 results[e].pgbench_ef > 0 ? results[e].pgbench_ef : 40,
			 opt.pgbench_seconds, clients, clients, script, engines[e].dbname);
	p = popen(cmd, "r");
	if (p == NULL)
	{
		perror("vecq_bench: pgbench");
		exit(1);
	}
	while (fgets(line, sizeof(line), p))
	{
		const char *t = strstr(line, "tps = ");

		if (t && strstr(line, "without initial connection"))
			tps = strtod(t + 6, NULL);
	}
	if (pclose(p) != 0 || tps < 0)
	{
		fprintf(stderr, "vecq_bench: pgbench failed: %s\n", cmd);
		exit(1);
	}
	unlink(script);
	for (int i = 0; i < opt.nclients; i++)
		if (opt.clients[i] == clients)
			results[e].tps[i] = tps;
}

/*
 * Delete half the rows, vacuum, insert them again, vacuum, and sweep once
 * more: the recall a graph keeps through churn, next to a fresh build's.
 */
static void
run_churn(void)
{
	for (int j = 0; j < nengines; j++)
	{
		EngineResult *r = &results[j];

		fprintf(stderr, "vecq_bench: %s: churn (delete half, vacuum, reinsert, vacuum)\n",
				engines[j].name);
		r->churn_delete_s = BenchChurn(&engines[j], &ds, &r->churn_insert_s);
		for (int i = 0; i < opt.nefs; i++)
		{
			/* sweep slot 0 is overwritten; keep the fresh figures first */
			double		recall = r->recall[i][0],
						qps = r->qps[i][0],
						p50 = r->p50[i][0],
						p99 = r->p99[i][0],
						rows = r->avg_rows[i];

			run_sweep(j, i, 0, true);
			r->avg_rows[i] = rows;
			r->churn_recall[i] = r->recall[i][0];
			r->churn_qps[i] = r->qps[i][0];
			r->recall[i][0] = recall;
			r->qps[i][0] = qps;
			r->p50[i][0] = p50;
			r->p99[i][0] = p99;
		}
	}
}

/* ---------------- report ---------------- */

static double
med_recall(int e, int efi)
{
	return median(results[e].recall[efi], opt.sweeps);
}

static double
med_qps(int e, int efi)
{
	return median(results[e].qps[efi], opt.sweeps);
}

static void
find_best(int e)
{
	results[e].best95 = results[e].best99 = -1;
	for (int i = 0; i < opt.nefs; i++)
	{
		if (results[e].best95 < 0 && med_recall(e, i) >= 0.95)
			results[e].best95 = i;
		if (results[e].best99 < 0 && med_recall(e, i) >= 0.99)
			results[e].best99 = i;
	}
	results[e].pgbench_ef = results[e].best95 >= 0 ? opt.efs[results[e].best95]
		: opt.efs[opt.nefs - 1];
}

static void
print_ratio(const char *what, double v, double p, const char *better)
{
	if (v > 0 && p > 0)
		printf("  %-36s %12.4g %12.4g %8.2f  (%s)\n", what, v, p, v / p, better);
	else
		printf("  %-36s %12.4g %12.4g %8s\n", what, v, p, "-");
	csv_row("ratio", what, "", (v > 0 && p > 0) ? v / p : NAN);
}

static void
report(void)
{
	char		clause[1024];

	index_clause(clause, sizeof(clause), NULL);
	printf("\n== %s: %d rows x %d dims, %d queries, metric %s, k %d\n",
		   ds.name, ds.base.n, ds.base.dim, opt.nqueries,
		   BenchMetricName(opt.metric), opt.k);
	printf("   index: %s\n", strcmp(opt.index, "none") == 0 ? "none (exact scans)" : clause);
	printf("   medians of %d sweeps; recall@%d counts ties at the %d-th distance\n\n",
		   opt.sweeps, opt.k, opt.k);

	for (int e = 0; e < nengines; e++)
	{
		EngineResult *r = &results[e];

		printf("-- %s\n", engines[e].name);
		printf("   plan: %s\n", r->plan[0] ? r->plan : "(not shown)");
		if (!opt.skip_load)
		{
			printf("   load (binary COPY + VACUUM ANALYZE): %.1f s\n", r->load_s);
			csv_row(engines[e].name, "load_s", "", r->load_s);
		}
		printf("   round-trip floor (prepared SELECT 1): %.3f ms\n", r->floor_ms);
		csv_row(engines[e].name, "floor_ms", "", r->floor_ms);
		for (int c = 0; c < nconfigs; c++)
		{
			printf("   build %s: %.1f s, index %.1f MB\n", configs[c], r->build_s[c],
				   r->index_mb[c]);
			csv_row(engines[e].name, "build_s", configs[c], r->build_s[c]);
			csv_row(engines[e].name, "index_mb", configs[c], r->index_mb[c]);
		}
		printf("   %8s %8s %9s %9s %9s %6s\n", "ef", "recall", "QPS", "p50 ms", "p99 ms", "rows");
		for (int i = 0; i < opt.nefs; i++)
		{
			char		ef[16];

			snprintf(ef, sizeof(ef), "%d", opt.efs[i]);
			printf("   %8s %8.4f %9.1f %9.3f %9.3f %6.2f\n",
				   opt.efs[i] ? ef : "exact", med_recall(e, i), med_qps(e, i),
				   median(r->p50[i], opt.sweeps), median(r->p99[i], opt.sweeps),
				   r->avg_rows[i]);
			csv_row(engines[e].name, "recall", ef, med_recall(e, i));
			csv_row(engines[e].name, "qps", ef, med_qps(e, i));
			csv_row(engines[e].name, "p50_ms", ef, median(r->p50[i], opt.sweeps));
			csv_row(engines[e].name, "p99_ms", ef, median(r->p99[i], opt.sweeps));
		}
		if (opt.efs[0] > 0)
		{
			printf("   smallest ef with recall >= 0.95: %s; >= 0.99: %s\n",
				   r->best95 >= 0 ? "found" : "none",
				   r->best99 >= 0 ? "found" : "none");
			if (r->best95 >= 0)
				printf("     0.95 at ef %d: QPS %.1f\n", opt.efs[r->best95],
					   med_qps(e, r->best95));
			if (r->best99 >= 0)
				printf("     0.99 at ef %d: QPS %.1f\n", opt.efs[r->best99],
					   med_qps(e, r->best99));
		}
		if (opt.churn)
		{
			printf("   churn: delete half + VACUUM %.1f s, reinsert (COPY) + VACUUM %.1f s\n",
				   r->churn_delete_s, r->churn_insert_s);
			csv_row(engines[e].name, "churn_delete_s", "", r->churn_delete_s);
			csv_row(engines[e].name, "churn_insert_s", "", r->churn_insert_s);
			printf("   %8s %8s %9s %9s\n", "ef", "recall", "QPS", "Δrecall");
			for (int i = 0; i < opt.nefs; i++)
			{
				char		ef[16];

				snprintf(ef, sizeof(ef), "%d", opt.efs[i]);
				printf("   %8s %8.4f %9.1f %+9.4f\n", opt.efs[i] ? ef : "exact",
					   r->churn_recall[i], r->churn_qps[i],
					   r->churn_recall[i] - med_recall(e, i));
				csv_row(engines[e].name, "churn_recall", ef, r->churn_recall[i]);
				csv_row(engines[e].name, "churn_qps", ef, r->churn_qps[i]);
			}
		}
		for (int i = 0; i < opt.nclients; i++)
		{
			char		c[16];

			snprintf(c, sizeof(c), "%d", opt.clients[i]);
			printf("   pgbench -M prepared, %d client(s), ef %d: %.1f TPS\n",
				   opt.clients[i], r->pgbench_ef, r->tps[i]);
			csv_row(engines[e].name, "pgbench_tps", c, r->tps[i]);
		}
		printf("\n");
	}

	if (nengines == 2)
	{
		/* the first engine over the second, pgvector always second */
		int			v = strcmp(engines[0].name, "pgvector") == 0 ? 1 : 0;
		int			p = 1 - v;
		EngineResult *rv = &results[v],
				   *rp = &results[p];

		printf("-- ratios %s / %s\n", engines[v].name, engines[p].name);
		printf("  %-36s %12s %12s %8s\n", "measure", engines[v].name, engines[p].name, "ratio");
		for (int c = 0; c < nconfigs; c++)
		{
			char		what[64];

			snprintf(what, sizeof(what), "build s (%s)", configs[c]);
			print_ratio(what, rv->build_s[c], rp->build_s[c], "lower is better");
			snprintf(what, sizeof(what), "index MB (%s)", configs[c]);
			print_ratio(what, rv->index_mb[c], rp->index_mb[c], "lower is better");
		}
		for (int i = 0; i < opt.nefs; i++)
		{
			char		what[64];

			if (opt.efs[i])
				snprintf(what, sizeof(what), "QPS at ef %d", opt.efs[i]);
			else
				snprintf(what, sizeof(what), "QPS (exact scan)");
			print_ratio(what, med_qps(v, i), med_qps(p, i), "higher is better");
		}
		if (opt.efs[0] > 0)
		{
			print_ratio("QPS at recall >= 0.95 (own best ef)",
						rv->best95 >= 0 ? med_qps(v, rv->best95) : 0,
						rp->best95 >= 0 ? med_qps(p, rp->best95) : 0,
						"higher is better");
			print_ratio("QPS at recall >= 0.99 (own best ef)",
						rv->best99 >= 0 ? med_qps(v, rv->best99) : 0,
						rp->best99 >= 0 ? med_qps(p, rp->best99) : 0,
						"higher is better");
		}
		for (int i = 0; i < opt.nclients; i++)
		{
			char		what[64];

			snprintf(what, sizeof(what), "pgbench TPS, %d client(s)", opt.clients[i]);
			print_ratio(what, rv->tps[i], rp->tps[i], "higher is better");
		}
	}
}

int
main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	parse_options(argc, argv);
	if (opt.csv)
	{
		csv = fopen(opt.csv, "w");
		if (csv == NULL)
		{
			perror(opt.csv);
			return 1;
		}
		fprintf(csv, "dataset,metric,engine,measure,setting,value\n");
	}

	BenchDatasetLoad(&ds, opt.data, opt.nqueries, opt.cachedir);
	BenchTruthLoad(&truth, &ds, opt.metric, opt.k, opt.threads, opt.cachedir);

	for (int e = 0; e < nengines; e++)
		BenchEngineOpen(&engines[e], !opt.skip_load);
	if (!opt.skip_load)
		for (int e = 0; e < nengines; e++)
		{
			fprintf(stderr, "vecq_bench: %s: loading %d rows\n", engines[e].name, ds.base.n);
			results[e].load_s = BenchLoad(&engines[e], &ds, opt.storage);
		}

	/* builds: the engine that goes first changes with each configuration */
	for (int c = 0; c < nconfigs; c++)
		for (int j = 0; j < nengines; j++)
			build_index((j + c) % nengines, c);

	for (int e = 0; e < nengines; e++)
	{
		measure_floor(e);
		prepare_queries(e);
		/* untimed warm-up pass at the first ef */
		run_sweep(e, 0, 0, false);
	}

	/* sweeps: engines take turns at every ef, the order changing each time */
	for (int s = 0; s < opt.sweeps; s++)
	{
		for (int i = 0; i < opt.nefs; i++)
			for (int j = 0; j < nengines; j++)
			{
				int			e = (j + s + i) % nengines;

				run_sweep(e, i, s, true);
			}
		fprintf(stderr, "vecq_bench: sweep %d of %d done\n", s + 1, opt.sweeps);
	}
	for (int e = 0; e < nengines; e++)
		find_best(e);

	for (int i = 0; i < opt.nclients; i++)
		for (int j = 0; j < nengines; j++)
		{
			int			e = (j + i) % nengines;

			fprintf(stderr, "vecq_bench: %s: pgbench %d client(s)\n", engines[e].name,
					opt.clients[i]);
			run_pgbench(e, opt.clients[i]);
		}

	if (opt.churn)
		run_churn();
	report();
	for (int e = 0; e < nengines; e++)
		BenchEngineClose(&engines[e]);
	if (csv)
		fclose(csv);
	return 0;
}
