/*-------------------------------------------------------------------------
 *
 * migrate_verify.c
 *	  --verify: reads a copied collection back and compares it with the
 *	  source.
 *
 * Records: the target's rows in seq order (binary COPY out) against the
 * source's records in its order, one by one: the same ids in the same
 * order, vectors equal to the bit, documents and uris equal, metadata equal
 * as JSON values of the same kinds (an int is not a float, 1 is not 1.0).
 * Then k-NN: a sample of the source's vectors as queries, their exact top
 * 10 computed here from the source's vectors with Chroma's distance, and
 * vecq's answer to chroma.query without the index (exact: any difference is
 * a difference in the data) and with it (the index's recall, reported).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <arpa/inet.h>
#include <math.h>

#include <jansson.h>

#include "common/logging.h"
#include "migrate.h"
#include "pqexpbuffer.h"

#define VERIFY_K		10
#define MAX_REPORTED	10

static int64_t differences;

static void
difference(const MigrateCollection *coll, const char *fmt, const char *id, const char *more)
{
	differences++;
	if (differences <= MAX_REPORTED)
		pg_log_error("verify: collection \"%s\": record \"%s\": %s%s", coll->name, id, fmt,
					 more ? more : "");
}

static bool
text_equal(const char *s, const char *field, int flen)
{
	if (s == NULL || flen < 0)
		return s == NULL && flen < 0;
	return (int) strlen(s) == flen && memcmp(s, field, flen) == 0;
}

/* JSON values equal, kinds included (jansson keeps integers and reals apart) */
static bool
metadata_equal(const char *source, const char *field, int flen)
{
	json_t	   *a,
			   *b;
	bool		eq;

	if (source == NULL || flen < 0)
		return source == NULL && flen < 0;
	if (flen < 1 || field[0] != 1)
		return false;
	a = json_loads(source, 0, NULL);
	b = json_loadb(field + 1, flen - 1, 0, NULL);
	eq = a && b && json_equal(a, b);
	json_decref(a);
	json_decref(b);
	return eq;
}

static double
distance(const char *space, const float *a, const float *b, int dim)
{
	double		s = 0,
				na = 0,
				nb = 0;

	if (strcmp(space, "l2") == 0)
	{
		for (int i = 0; i < dim; i++)
			s += ((double) a[i] - b[i]) * ((double) a[i] - b[i]);
		return s;
	}
	for (int i = 0; i < dim; i++)
	{
		s += (double) a[i] * b[i];
		na += (double) a[i] * a[i];
		nb += (double) b[i] * b[i];
	}
	if (strcmp(space, "ip") == 0)
		return 1 - s;
	return 1 - s / (sqrt(na) * sqrt(nb));
}

typedef struct Neighbour
{
	double		dist;
	char	   *id;
} Neighbour;

typedef struct KnnQuery
{
	float	   *vec;
	int			n;
	Neighbour	top[VERIFY_K];	/* ascending */
} KnnQuery;

static void
offer(KnnQuery *q, double d, const char *id)
{
	int			i;

	if (q->n == VERIFY_K && d >= q->top[VERIFY_K - 1].dist)
		return;
	if (q->n == VERIFY_K)
		pg_free(q->top[--q->n].id);
	for (i = q->n; i > 0 && q->top[i - 1].dist > d; i--)
		q->top[i] = q->top[i - 1];
	q->top[i].dist = d;
	q->top[i].id = pg_strdup(id);
	q->n++;
}

static bool
close_enough(double a, double b)
{
	return fabs(a - b) <= 1e-4 * fmax(fabs(a), fabs(b)) + 1e-5;
}

/* vecq's answer for one query: ids and distances */
static int
vecq_answer(PGconn *conn, const MigrateCollection *coll, const KnnQuery *q, int dim,
			Neighbour *out)
{
	PQExpBufferData v;
	const char *p[1];
	PGresult   *res;
	int			n;

	initPQExpBuffer(&v);
	appendPQExpBufferStr(&v, "[");
	for (int i = 0; i < dim; i++)
		appendPQExpBuffer(&v, "%s%.9g", i ? "," : "", q->vec[i]);
	appendPQExpBufferStr(&v, "]");
	p[0] = v.data;
	{
		const char *pp[2] = {coll->name, v.data};

		res = PQexecParams(conn,
						   "SELECT id, distance FROM chroma.query($1, ARRAY[$2::vector], "
						   "n_results => 10, include => '{distances}') ORDER BY distance, id",
						   2, NULL, pp, NULL, NULL, 0);
	}
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		pg_fatal("verify: chroma.query on collection \"%s\" failed: %s", coll->name,
				 PQresultErrorMessage(res));
	n = PQntuples(res);
	for (int i = 0; i < n && i < VERIFY_K; i++)
	{
		out[i].id = pg_strdup(PQgetvalue(res, i, 0));
		out[i].dist = strtod(PQgetvalue(res, i, 1), NULL);
	}
	PQclear(res);
	termPQExpBuffer(&v);
	(void) p;
	return n;
}

/* exact answers must agree: distances by rank, ids except among ties */
static bool
same_answer(const KnnQuery *q, const Neighbour *got, int n)
{
	double		last;

	if (n != q->n)
		return false;
	if (n == 0)
		return true;
	last = q->top[n - 1].dist;
	for (int i = 0; i < n; i++)
	{
		bool		found = false;

		if (!close_enough(q->top[i].dist, got[i].dist))
			return false;
		if (close_enough(q->top[i].dist, last))
			continue;			/* may tie with what fell off the list */
		for (int j = 0; j < n && !found; j++)
			found = strcmp(q->top[i].id, got[j].id) == 0;
		if (!found)
			return false;
	}
	return true;
}

static void
set_scope(PGconn *conn, const MigrateCollection *coll)
{
	const char *p[2] = {coll->tenant, coll->database};

	PQclear(PQexecParams(conn,
						 "SELECT set_config('chroma.tenant', $1, true), "
						 "set_config('chroma.database', $2, true)",
						 2, NULL, p, NULL, NULL, 0));
}

int64_t
verify_collection(MigrateSource *src, MigrateCollection *coll, MigrateTarget *tgt,
				  const MigrateOptions *opts)
{
	MigrateCursor *cur;
	MigrateBatch batch;
	CopyReader	rd = {0};
	TargetRow	row;
	int64_t		seen = 0;
	bool		target_more = true;
	int			nq = opts->verify_queries;
	KnnQuery   *queries = pg_malloc0(sizeof(KnnQuery) * (nq > 0 ? nq : 1));
	int			have_q = 0;
	int64_t		step = coll->records / (nq > 0 ? nq : 1);
	int			dim = coll->dimension;
	int			exact_ok = 0;
	double		recall = 0;

	differences = 0;
	if (step < 1)
		step = 1;
	batch_init(&batch, opts->batch);

	/* pass 1: record by record */
	copyout_start(&rd, tgt->conn, tgt->table);

	cur = source_records(src, coll, 0);
	while (source_next_batch(cur, &batch, opts->batch))
	{
		for (int i = 0; i < batch.count; i++)
		{
			MigrateRecord *r = &batch.records[i];

			if (seen % step == 0 && have_q < nq)
			{
				queries[have_q].vec = pg_malloc(sizeof(float) * r->dim);
				memcpy(queries[have_q].vec, r->embedding, sizeof(float) * r->dim);
				have_q++;
			}
			seen++;
			if (target_more)
				target_more = copyout_next(&rd, &row);
			if (!target_more)
			{
				difference(coll, "missing from the target", r->id, NULL);
				continue;
			}
			if (!text_equal(r->id, row.field[0], row.flen[0]))
			{
				char	   *got = pnstrdup(row.field[0], row.flen[0] > 0 ? row.flen[0] : 0);
				char	   *msg = psprintf(" (the target has \"%s\" in its place)", got);

				difference(coll, "not in its place", r->id, msg);
				pg_free(msg);
				pg_free(got);
				continue;
			}
			if (row.flen[1] != 4 + 4 * r->dim ||
				(int) ntohs(*(const uint16_t *) row.field[1]) != r->dim)
				difference(coll, "vector of another dimension", r->id, NULL);
			else
			{
				for (int d = 0; d < r->dim; d++)
				{
					uint32_t	u;

					memcpy(&u, &r->embedding[d], 4);
					if (copyout_get32(row.field[1] + 4 + 4 * d) != u)
					{
						difference(coll, "vector differs", r->id, NULL);
						break;
					}
				}
			}
			if (!text_equal(r->document, row.field[2], row.flen[2]))
				difference(coll, "document differs", r->id, NULL);
			if (!metadata_equal(r->metadata, row.field[3], row.flen[3]))
				difference(coll, "metadata differs", r->id, NULL);
			if (!text_equal(r->uri, row.field[4], row.flen[4]))
				difference(coll, "uri differs", r->id, NULL);
		}
	}
	source_cursor_close(cur);
	if (target_more)
	{
		while (copyout_next(&rd, &row))
		{
			char	   *id = pnstrdup(row.field[0], row.flen[0] > 0 ? row.flen[0] : 0);

			difference(coll, "in the target but not in the source", id, NULL);
			pg_free(id);
		}
	}
	copyout_end(&rd);

	/* pass 2: the exact neighbours of the sample, from the source */
	if (have_q > 0 && dim > 0)
	{
		Neighbour	got[VERIFY_K];
		int			hits = 0;

		cur = source_records(src, coll, 0);
		while (source_next_batch(cur, &batch, opts->batch))
			for (int i = 0; i < batch.count; i++)
				for (int q = 0; q < have_q; q++)
					offer(&queries[q], distance(coll->space, queries[q].vec,
												batch.records[i].embedding, dim),
						  batch.records[i].id);
		source_cursor_close(cur);

		target_run(tgt->conn, "BEGIN", 0, NULL);
		set_scope(tgt->conn, coll);
		target_run(tgt->conn, "SET LOCAL enable_indexscan = off", 0, NULL);
		target_run(tgt->conn, "SET LOCAL enable_bitmapscan = off", 0, NULL);
		for (int q = 0; q < have_q; q++)
		{
			int			n = vecq_answer(tgt->conn, coll, &queries[q], dim, got);

			if (same_answer(&queries[q], got, n))
				exact_ok++;
			else
			{
				differences++;
				if (differences <= MAX_REPORTED)
					pg_log_error("verify: collection \"%s\": exact query %d: vecq's 10 nearest differ from the source's (first: \"%s\" at %g, source \"%s\" at %g)",
								 coll->name, q, n > 0 ? got[0].id : "none",
								 n > 0 ? got[0].dist : 0.0,
								 queries[q].n > 0 ? queries[q].top[0].id : "none",
								 queries[q].n > 0 ? queries[q].top[0].dist : 0.0);
			}
			for (int i = 0; i < n && i < VERIFY_K; i++)
				pg_free(got[i].id);
		}
		target_run(tgt->conn, "COMMIT", 0, NULL);

		target_run(tgt->conn, "BEGIN", 0, NULL);
		set_scope(tgt->conn, coll);
		for (int q = 0; q < have_q; q++)
		{
			int			n = vecq_answer(tgt->conn, coll, &queries[q], dim, got);

			for (int i = 0; i < n && i < VERIFY_K; i++)
			{
				for (int j = 0; j < queries[q].n; j++)
					if (strcmp(got[i].id, queries[q].top[j].id) == 0 ||
						close_enough(got[i].dist, queries[q].top[j].dist))
					{
						hits++;
						break;
					}
				pg_free(got[i].id);
			}
		}
		target_run(tgt->conn, "COMMIT", 0, NULL);
		{
			int			want = 0;

			for (int q = 0; q < have_q; q++)
				want += queries[q].n;
			recall = want > 0 ? (double) hits / want : 1;
		}
	}
	printf("  verify %s: %lld records compared, %lld differences; exact k-NN %d of %d queries equal; HNSW recall@10 %.4f\n",
		   coll->name, (long long) seen, (long long) differences, exact_ok, have_q, recall);
	for (int q = 0; q < have_q; q++)
	{
		pg_free(queries[q].vec);
		for (int i = 0; i < queries[q].n; i++)
			pg_free(queries[q].top[i].id);
	}
	pg_free(queries);
	batch_free(&batch);
	return differences;
}
