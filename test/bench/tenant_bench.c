/*-------------------------------------------------------------------------
 *
 * tenant_bench.c
 *	  vecq_tenant_bench: tenant-filtered nearest-neighbour search, vecq
 *	  against pgvector, in one cluster (issue 7's benchmark).
 *
 * The rows of a data set (bench_data.c) get a tenant_id: N tenants with
 * Zipf sizes (s = 1; the largest holds about 13 % of the rows for N =
 * 1,000), or with --tenants N:BIG, tenant 1 holds the share BIG and the
 * others split the rest by Zipf.  Rows are dealt to tenants in a seeded
 * random order, so each tenant's rows are spread over the table.  vecq
 * indexes (embedding, tenant_id) with tenant_id as the HNSW key column;
 * pgvector has no key column and indexes embedding alone (and, as in
 * ../shared/bench-targets.md, no B-tree on tenant_id).
 *
 * For the tenants nearest to 50 %, 10 %, 1 %, 0.1 % and 0.01 % of the rows,
 * each query runs as
 *	 SELECT id FROM bench_titems WHERE tenant_id = $2
 *	 ORDER BY embedding <op> $1 LIMIT k
 * (prepared, one client), and with --rls for vecq also as the same query
 * without the WHERE clause on a table with vecq.enable_tenant_isolation(),
 * the tenant coming from SET vecq.tenant.  Reported per tenant: recall@k
 * against the exact top k of that tenant's rows (computed here; ties at the
 * k-th distance count), rows returned (and how many queries got fewer than
 * min(k, tenant rows)), latency p50 / p99, QPS; and the QPS of the same
 * queries without a tenant filter.
 *
 * test/bench/tenant_bench.c
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define MAX_EF		16
#define Min(a, b)	((a) < (b) ? (a) : (b))

static struct
{
	const char *data;
	int			ntenants;
	double		big;
	int			nqueries;
	int			k;
	int			efs[MAX_EF];
	int			nefs;
	const char *iterative;
	const char *with;
	bool		rls;
	bool		skip_load;
	const char *cachedir;
	const char *engines;
} opt = {
	"synth:100000:128", 1000, 0, 200, 10, {40}, 1, "strict_order",
	"m = 16, ef_construction = 64", false, false, "/var/tmp/vecq-bench", "vecq,pgvector"
};

typedef struct Tenant
{
	int			id;				/* 1-based */
	int			n;				/* rows */
	int32_t    *rows;			/* 0-based row numbers */
} Tenant;

static Tenant *tenants;
static int32_t *row_tenant;

static void
usage(void)
{
	printf("vecq_tenant_bench: tenant-filtered search, vecq and pgvector\n\n"
		   "Options:\n"
		   "  --data SPEC          synth:N:DIM[:SEED] (default synth:100000:128) or fashion-mnist\n"
		   "  --tenants N[:BIG]    N tenants, Zipf sizes; tenant 1 holds BIG of the rows (default 1000)\n"
		   "  --queries N          queries per tenant (default 200)\n"
		   "  --k N                rows per query (default 10)\n"
		   "  --ef LIST            hnsw.ef_search values (default 40)\n"
		   "  --iterative MODE     hnsw.iterative_scan: off, relaxed_order, strict_order (default)\n"
		   "  --with OPTIONS       HNSW options (default \"m = 16, ef_construction = 64\")\n"
		   "  --engines LIST       vecq,pgvector (default) or one of them\n"
		   "  --rls                also measure vecq through row-level security\n"
		   "  --skip-load          keep the tables of an earlier run\n"
		   "  --cache DIR          data cache (default /var/tmp/vecq-bench)\n"
		   "\nConnection: PGHOST, PGPORT, PGUSER; databases bench_tenant_<engine>.\n");
}

/* ---------------- tenants ---------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t
rng_next(void)
{
	uint64_t	z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Sizes by Zipf, every tenant at least one row; rows dealt in random order. */
static void
assign_tenants(int nrows)
{
	int			nt = opt.ntenants;
	double	   *share = malloc(sizeof(double) * nt);
	int		   *size = calloc(nt, sizeof(int));
	int32_t    *order = malloc(sizeof(int32_t) * nrows);
	double		h = 0;
	int			first = opt.big > 0 ? 1 : 0;
	int			assigned = 0;
	int			pos = 0;

	for (int t = first; t < nt; t++)
		h += 1.0 / (t - first + 1);
	for (int t = 0; t < nt; t++)
		share[t] = t < first ? opt.big : (1 - opt.big) / h / (t - first + 1);
	for (int t = 0; t < nt; t++)
	{
		size[t] = (int) floor(share[t] * nrows);
		if (size[t] < 1)
			size[t] = 1;
		assigned += size[t];
	}
	/* what rounding left over goes to the largest tenants, one each */
	for (int t = 0; assigned < nrows; t = (t + 1) % nt)
	{
		size[t]++;
		assigned++;
	}
	for (int t = nt - 1; assigned > nrows; t = t > 0 ? t - 1 : nt - 1)
		if (size[t] > 1)
		{
			size[t]--;
			assigned--;
		}

	for (int i = 0; i < nrows; i++)
		order[i] = i;
	for (int i = nrows - 1; i > 0; i--)
	{
		int			j = (int) (rng_next() % (uint64_t) (i + 1));
		int32_t		x = order[i];

		order[i] = order[j];
		order[j] = x;
	}
	tenants = calloc(nt, sizeof(Tenant));
	row_tenant = malloc(sizeof(int32_t) * nrows);
	for (int t = 0; t < nt; t++)
	{
		tenants[t].id = t + 1;
		tenants[t].n = size[t];
		tenants[t].rows = malloc(sizeof(int32_t) * size[t]);
		for (int i = 0; i < size[t]; i++)
		{
			tenants[t].rows[i] = order[pos];
			row_tenant[order[pos]] = t + 1;
			pos++;
		}
	}
	free(share);
	free(size);
	free(order);
}

/* ---------------- database ---------------- */

static void
flush_copy(PGconn *conn, char *buf, char **p)
{
	if (PQputCopyData(conn, buf, (int) (*p - buf)) != 1)
	{
		fprintf(stderr, "vecq_tenant_bench: %s", PQerrorMessage(conn));
		exit(1);
	}
	*p = buf;
}

/* bench_titems (id, tenant_id, embedding) by binary COPY */
static void
load(BenchEngine *e, const BenchDataset *ds)
{
	const BenchVectors *v = &ds->base;
	size_t		rowsize = 2 + 8 + 8 + 8 + 4 * (size_t) v->dim;
	size_t		bufsize = rowsize * 256 + 64;
	char	   *buf = malloc(bufsize);
	char	   *p = buf;
	char		sql[256];
	PGresult   *res;

	BenchExec(e->conn, "DROP TABLE IF EXISTS bench_titems");
	snprintf(sql, sizeof(sql),
			 "CREATE TABLE bench_titems (id int4 PRIMARY KEY, tenant_id int4 NOT NULL, embedding vector(%d))",
			 v->dim);
	BenchExec(e->conn, sql);
	res = PQexec(e->conn, "COPY bench_titems (id, tenant_id, embedding) FROM STDIN WITH (FORMAT binary)");
	if (PQresultStatus(res) != PGRES_COPY_IN)
	{
		fprintf(stderr, "vecq_tenant_bench: %s", PQerrorMessage(e->conn));
		exit(1);
	}
	PQclear(res);
	memcpy(p, "PGCOPY\n\377\r\n\0", 11);
	p += 11;
	BenchPutInt32(&p, 0);
	BenchPutInt32(&p, 0);
	for (int i = 0; i < v->n; i++)
	{
		BenchPutInt16(&p, 3);
		BenchPutInt32(&p, 4);
		BenchPutInt32(&p, i + 1);
		BenchPutInt32(&p, 4);
		BenchPutInt32(&p, row_tenant[i]);
		BenchPutInt32(&p, 4 + 4 * v->dim);
		p += BenchVectorSend(p, v->x + (size_t) i * v->dim, v->dim);
		if ((size_t) (p - buf) + rowsize + 2 > bufsize)
			flush_copy(e->conn, buf, &p);
	}
	BenchPutInt16(&p, -1);
	flush_copy(e->conn, buf, &p);
	if (PQputCopyEnd(e->conn, NULL) != 1)
	{
		fprintf(stderr, "vecq_tenant_bench: %s", PQerrorMessage(e->conn));
		exit(1);
	}
	res = PQgetResult(e->conn);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		fprintf(stderr, "vecq_tenant_bench: COPY failed: %s", PQerrorMessage(e->conn));
		exit(1);
	}
	PQclear(res);
	free(buf);

	BenchExec(e->conn, "SET maintenance_work_mem = '1GB'");
	BenchExec(e->conn, "SET max_parallel_maintenance_workers = 1");
	if (strcmp(e->extension, "vecq") == 0)
		snprintf(sql, sizeof(sql),
				 "CREATE INDEX bench_titems_idx ON bench_titems USING hnsw (embedding %s, tenant_id) WITH (%s)",
				 BenchMetricOpclass(BENCH_L2), opt.with);
	else
		snprintf(sql, sizeof(sql),
				 "CREATE INDEX bench_titems_idx ON bench_titems USING hnsw (embedding %s) WITH (%s)",
				 BenchMetricOpclass(BENCH_L2), opt.with);
	{
		double		t0 = BenchNow();

		BenchExec(e->conn, sql);
		fprintf(stderr, "vecq_tenant_bench: %s: index built in %.1f s\n", e->name, BenchNow() - t0);
	}
	BenchExec(e->conn, "VACUUM ANALYZE bench_titems");
	BenchExec(e->conn, "RESET maintenance_work_mem");
	BenchExec(e->conn, "RESET max_parallel_maintenance_workers");
}

/* ---------------- truth and measurement ---------------- */

typedef struct Pair
{
	double		d;
	int32_t		row;
} Pair;

static int
cmp_pair(const void *a, const void *b)
{
	double		x = ((const Pair *) a)->d,
				y = ((const Pair *) b)->d;

	return (x > y) - (x < y);
}

/* k-th smallest distance from query q to the tenant's rows (or to all) */
static double
kth_distance(const BenchDataset *ds, const Tenant *t, int q, int k, Pair *scratch)
{
	const float *qv = ds->queries.x + (size_t) q * ds->base.dim;
	int			n = t ? t->n : ds->base.n;

	for (int i = 0; i < n; i++)
	{
		int32_t		r = t ? t->rows[i] : i;

		scratch[i].row = r;
		scratch[i].d = BenchDistance(BENCH_L2, qv, ds->base.x + (size_t) r * ds->base.dim,
									 ds->base.dim);
	}
	qsort(scratch, n, sizeof(Pair), cmp_pair);
	return scratch[(k < n ? k : n) - 1].d;
}

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return (x > y) - (x < y);
}

typedef struct Measure
{
	double		recall;
	double		rows;
	int			short_queries;
	double		p50;
	double		p99;
	double		qps;
} Measure;

/*
 * Run the prepared statement stmt (1 or 2 parameters) for every query;
 * with t, recall against t's rows; without, against all rows.
 */
static Measure
measure(BenchEngine *e, const char *stmt, const BenchDataset *ds, const Tenant *t,
		const double *kth)
{
	int			nq = Min(opt.nqueries, ds->queries.n);
	int			dim = ds->base.dim;
	char	   *vbuf = malloc(8 + 4 * (size_t) dim);
	char		tbuf[16];
	double	   *lat = malloc(sizeof(double) * nq);
	Measure		m = {0};
	int			want = t ? Min(opt.k, t->n) : opt.k;
	double		total = 0;

	for (int q = 0; q < nq; q++)
	{
		const char *values[2];
		int			lengths[2];
		int			formats[2] = {1, 0};
		PGresult   *res;
		double		t0;
		int			nrows;
		int			hits = 0;
		const float *qv = ds->queries.x + (size_t) q * dim;

		lengths[0] = (int) BenchVectorSend(vbuf, qv, dim);
		values[0] = vbuf;
		snprintf(tbuf, sizeof(tbuf), "%d", t ? t->id : 0);
		values[1] = tbuf;
		lengths[1] = 0;
		t0 = BenchNow();
		res = PQexecPrepared(e->conn, stmt, strcmp(stmt, "tenant") == 0 ? 2 : 1,
							 values, lengths, formats, 0);
		lat[q] = (BenchNow() - t0) * 1000;
		total += lat[q];
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
		{
			fprintf(stderr, "vecq_tenant_bench: %s: %s", e->name, PQerrorMessage(e->conn));
			exit(1);
		}
		nrows = PQntuples(res);
		for (int i = 0; i < nrows && i < opt.k; i++)
		{
			int			row = atoi(PQgetvalue(res, i, 0)) - 1;
			double		d;

			if (row < 0 || row >= ds->base.n)
				continue;
			if (t && row_tenant[row] != t->id)
			{
				fprintf(stderr, "vecq_tenant_bench: %s returned row %d of tenant %d for tenant %d\n",
						e->name, row + 1, row_tenant[row], t->id);
				exit(1);
			}
			d = BenchDistance(BENCH_L2, qv, ds->base.x + (size_t) row * dim, dim);
			if (d <= kth[q] + 1e-9 * fmax(1.0, fabs(kth[q])))
				hits++;
		}
		PQclear(res);
		m.rows += nrows;
		if (nrows < want)
			m.short_queries++;
		m.recall += (double) hits / want;
	}
	m.recall /= nq;
	m.rows /= nq;
	qsort(lat, nq, sizeof(double), cmp_double);
	m.p50 = lat[nq / 2];
	m.p99 = lat[(int) floor(0.99 * (nq - 1))];
	m.qps = nq / (total / 1000);
	free(lat);
	free(vbuf);
	return m;
}

static void
prepare(BenchEngine *e, const char *name, const char *sql, int nparams)
{
	Oid			types[2] = {e->vector_oid, 23};
	PGresult   *res = PQprepare(e->conn, name, sql, nparams, types);

	if (PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		fprintf(stderr, "vecq_tenant_bench: %s", PQerrorMessage(e->conn));
		exit(1);
	}
	PQclear(res);
}

static void
print_measure(const char *what, const Measure *m)
{
	printf("   %-28s recall %.4f  rows %5.2f  short %3d  p50 %7.3f ms  p99 %7.3f ms  %8.1f QPS\n",
		   what, m->recall, m->rows, m->short_queries, m->p50, m->p99, m->qps);
}

static int
parse_efs(const char *s)
{
	int			n = 0;

	while (*s && n < MAX_EF)
	{
		char	   *end;
		long		v = strtol(s, &end, 10);

		if (end == s || v <= 0 || v > 1000)
			return 0;
		opt.efs[n++] = (int) v;
		s = *end == ',' ? end + 1 : end;
		if (*end != ',' && *end != '\0')
			return 0;
	}
	return n;
}

int
main(int argc, char **argv)
{
	BenchDataset ds;
	BenchEngine engines[2];
	int			nengines = 0;
	static const double targets[] = {0.5, 0.1, 0.01, 0.001, 0.0001};
	int			picked[5];
	int			npicked = 0;
	Pair	   *scratch;
	double	  **kth;
	double	   *kth_all;
	int			nq;

	for (int i = 1; i < argc; i++)
	{
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--help") == 0)
		{
			usage();
			return 0;
		}
		else if (strcmp(a, "--rls") == 0)
			opt.rls = true;
		else if (strcmp(a, "--skip-load") == 0)
			opt.skip_load = true;
		else if (v == NULL)
		{
			usage();
			return 2;
		}
		else if (strcmp(a, "--data") == 0)
			opt.data = v, i++;
		else if (strcmp(a, "--tenants") == 0)
		{
			char	   *colon;

			opt.ntenants = atoi(v);
			colon = strchr(v, ':');
			opt.big = colon ? atof(colon + 1) : 0;
			i++;
			if (opt.ntenants < 1 || opt.big < 0 || opt.big >= 1)
			{
				fprintf(stderr, "vecq_tenant_bench: bad --tenants %s\n", v);
				return 2;
			}
		}
		else if (strcmp(a, "--queries") == 0)
			opt.nqueries = atoi(v), i++;
		else if (strcmp(a, "--k") == 0)
			opt.k = atoi(v), i++;
		else if (strcmp(a, "--ef") == 0)
		{
			opt.nefs = parse_efs(v);
			i++;
			if (opt.nefs == 0)
			{
				fprintf(stderr, "vecq_tenant_bench: bad --ef %s\n", v);
				return 2;
			}
		}
		else if (strcmp(a, "--iterative") == 0)
			opt.iterative = v, i++;
		else if (strcmp(a, "--with") == 0)
			opt.with = v, i++;
		else if (strcmp(a, "--engines") == 0)
			opt.engines = v, i++;
		else if (strcmp(a, "--cache") == 0)
			opt.cachedir = v, i++;
		else
		{
			usage();
			return 2;
		}
	}
	if (opt.k < 1 || opt.nqueries < 1)
	{
		usage();
		return 2;
	}

	BenchDatasetLoad(&ds, opt.data, opt.nqueries, opt.cachedir);
	if (opt.ntenants > ds.base.n)
	{
		fprintf(stderr, "vecq_tenant_bench: more tenants than rows\n");
		return 2;
	}
	assign_tenants(ds.base.n);
	nq = Min(opt.nqueries, ds.queries.n);

	/* the tenants nearest to each target share, each once */
	for (int g = 0; g < 5; g++)
	{
		int			best = -1;

		for (int t = 0; t < opt.ntenants; t++)
		{
			bool		taken = false;

			for (int j = 0; j < npicked; j++)
				taken |= picked[j] == t;
			if (taken)
				continue;
			if (best < 0 ||
				fabs(log((double) tenants[t].n / ds.base.n / targets[g])) <
				fabs(log((double) tenants[best].n / ds.base.n / targets[g])))
				best = t;
		}
		if (best >= 0 && fabs(log((double) tenants[best].n / ds.base.n / targets[g])) < log(3.0))
			picked[npicked++] = best;
	}

	/* exact k-th distances, per picked tenant and unfiltered */
	scratch = malloc(sizeof(Pair) * ds.base.n);
	kth = malloc(sizeof(double *) * npicked);
	for (int j = 0; j < npicked; j++)
	{
		kth[j] = malloc(sizeof(double) * nq);
		for (int q = 0; q < nq; q++)
			kth[j][q] = kth_distance(&ds, &tenants[picked[j]], q, opt.k, scratch);
	}
	kth_all = malloc(sizeof(double) * nq);
	for (int q = 0; q < nq; q++)
		kth_all[q] = kth_distance(&ds, NULL, q, opt.k, scratch);

	if (strstr(opt.engines, "vecq"))
	{
		engines[nengines].name = "vecq";
		engines[nengines].extension = "vecq";
		engines[nengines].index_options = NULL;
		nengines++;
	}
	if (strstr(opt.engines, "pgvector"))
	{
		engines[nengines].name = "pgvector";
		engines[nengines].extension = "vector";
		engines[nengines].index_options = NULL;
		nengines++;
	}
	for (int e = 0; e < nengines; e++)
	{
		snprintf(engines[e].dbname, sizeof(engines[e].dbname), "bench_tenant_%s", engines[e].name);
		BenchEngineOpen(&engines[e], !opt.skip_load);
		if (!opt.skip_load)
			load(&engines[e], &ds);
		{
			char		sql[256];

			snprintf(sql, sizeof(sql), "SET hnsw.iterative_scan = '%s'", opt.iterative);
			BenchExec(engines[e].conn, sql);
			snprintf(sql, sizeof(sql),
					 "SELECT id FROM bench_titems WHERE tenant_id = $2 ORDER BY embedding <-> $1 LIMIT %d", opt.k);
			prepare(&engines[e], "tenant", sql, 2);
			snprintf(sql, sizeof(sql),
					 "SELECT id FROM bench_titems ORDER BY embedding <-> $1 LIMIT %d", opt.k);
			prepare(&engines[e], "all", sql, 1);
			BenchExec(engines[e].conn, "CREATE EXTENSION IF NOT EXISTS pg_prewarm");
			BenchExec(engines[e].conn, "SELECT pg_prewarm('bench_titems'), pg_prewarm('bench_titems_idx')");
		}
	}

	printf("== %s: %d rows x %d, %d tenants (largest %d rows, %.2f %%; smallest %d), %d queries per tenant, k %d, iterative_scan %s\n",
		   ds.name, ds.base.n, ds.base.dim, opt.ntenants, tenants[0].n,
		   100.0 * tenants[0].n / ds.base.n, tenants[opt.ntenants - 1].n, nq, opt.k, opt.iterative);
	for (int f = 0; f < opt.nefs; f++)
	{
		char		sql[64];

		printf("\n== hnsw.ef_search = %d\n", opt.efs[f]);
		for (int e = 0; e < nengines; e++)
		{
			snprintf(sql, sizeof(sql), "SET hnsw.ef_search = %d", opt.efs[f]);
			BenchExec(engines[e].conn, sql);
		}
		for (int j = 0; j < npicked; j++)
		{
			const Tenant *t = &tenants[picked[j]];

			printf(" tenant %d: %d rows (%.3f %%)\n", t->id, t->n, 100.0 * t->n / ds.base.n);
			for (int e = 0; e < nengines; e++)
			{
				Measure		m = measure(&engines[e], "tenant", &ds, t, kth[j]);

				print_measure(engines[e].name, &m);
			}
		}
		printf(" no tenant filter:\n");
		for (int e = 0; e < nengines; e++)
		{
			Measure		m = measure(&engines[e], "all", &ds, NULL, kth_all);

			print_measure(engines[e].name, &m);
		}
	}

	/* vecq through row-level security: the tenant from vecq.tenant */
	if (opt.rls && nengines > 0 && strcmp(engines[0].name, "vecq") == 0)
	{
		BenchEngine *e = &engines[0];

		/* as a role subject to the policy: superusers bypass row-level security */
		BenchExec(e->conn, "DROP ROLE IF EXISTS bench_tenant_app");
		BenchExec(e->conn, "CREATE ROLE bench_tenant_app");
		BenchExec(e->conn, "GRANT SELECT ON bench_titems TO bench_tenant_app");
		BenchExec(e->conn, "SELECT vecq.enable_tenant_isolation('bench_titems', 'tenant_id')");
		printf("\n== vecq through row-level security (SET vecq.tenant; no WHERE clause)\n");
		for (int f = 0; f < opt.nefs; f++)
		{
			char		sql[64];

			snprintf(sql, sizeof(sql), "SET hnsw.ef_search = %d", opt.efs[f]);
			BenchExec(e->conn, sql);
			printf(" hnsw.ef_search = %d\n", opt.efs[f]);
			for (int j = 0; j < npicked; j++)
			{
				const Tenant *t = &tenants[picked[j]];
				char		what[64];
				Measure		m;

				snprintf(sql, sizeof(sql), "SET vecq.tenant = '%d'", t->id);
				BenchExec(e->conn, sql);
				BenchExec(e->conn, "SET ROLE bench_tenant_app");
				m = measure(e, "all", &ds, t, kth[j]);
				BenchExec(e->conn, "RESET ROLE");
				snprintf(what, sizeof(what), "tenant %d (%.3f %%)", t->id, 100.0 * t->n / ds.base.n);
				print_measure(what, &m);
			}
		}
		BenchExec(e->conn, "RESET vecq.tenant");
		BenchExec(e->conn, "SELECT vecq.disable_tenant_isolation('bench_titems')");
		BenchExec(e->conn, "REVOKE ALL ON bench_titems FROM bench_tenant_app");
		BenchExec(e->conn, "DROP ROLE bench_tenant_app");
	}
	for (int e = 0; e < nengines; e++)
		BenchEngineClose(&engines[e]);
	return 0;
}
