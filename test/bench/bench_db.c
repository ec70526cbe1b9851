/*-------------------------------------------------------------------------
 *
 * bench_db.c
 *	  Database side of the benchmark driver: one database per engine in the
 *	  same cluster, table creation and binary COPY of the data set.
 *
 * Connection parameters come from the usual libpq environment (PGHOST,
 * PGPORT, PGUSER); the driver connects to the "postgres" database to create
 * the engines' databases.  Both extensions name their type "vector" and
 * share its binary format, so everything after CREATE EXTENSION is the same
 * SQL for both engines.
 *
 * test/bench/bench_db.c
 *
 *-------------------------------------------------------------------------
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

double
BenchNow(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

void
BenchExec(PGconn *conn, const char *sql)
{
	PGresult   *res = PQexec(conn, sql);

	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
		PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		fprintf(stderr, "vecq_bench: %s\nvecq_bench: statement: %s\n",
				PQerrorMessage(conn), sql);
		exit(1);
	}
	PQclear(res);
}

char *
BenchQueryValue(PGconn *conn, const char *sql)
{
	PGresult   *res = PQexec(conn, sql);
	char	   *value;

	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
	{
		fprintf(stderr, "vecq_bench: %s\nvecq_bench: statement: %s\n",
				PQerrorMessage(conn), sql);
		exit(1);
	}
	value = strdup(PQgetisnull(res, 0, 0) ? "" : PQgetvalue(res, 0, 0));
	PQclear(res);
	return value;
}

static PGconn *
connect_db(const char *dbname)
{
	const char *keys[] = {"dbname", "application_name", NULL};
	const char *values[] = {dbname, "vecq_bench", NULL};
	PGconn	   *conn = PQconnectdbParams(keys, values, 1);

	if (PQstatus(conn) != CONNECTION_OK)
	{
		fprintf(stderr, "vecq_bench: could not connect to database \"%s\": %s",
				dbname, PQerrorMessage(conn));
		exit(1);
	}
	return conn;
}

void
BenchEngineOpen(BenchEngine *engine, bool recreate)
{
	PGconn	   *admin = connect_db("postgres");
	char		sql[256];
	char	   *exists;
	char	   *oid;

	/* bench_<engine> unless the caller named the database */
	if (engine->dbname[0] == '\0')
		snprintf(engine->dbname, sizeof(engine->dbname), "bench_%s", engine->name);
	snprintf(sql, sizeof(sql),
			 "SELECT count(*) FROM pg_database WHERE datname = '%s'",
			 engine->dbname);
	exists = BenchQueryValue(admin, sql);
	if (recreate && strcmp(exists, "0") != 0)
	{
		snprintf(sql, sizeof(sql), "DROP DATABASE %s", engine->dbname);
		BenchExec(admin, sql);
	}
	if (recreate || strcmp(exists, "0") == 0)
	{
		snprintf(sql, sizeof(sql), "CREATE DATABASE %s", engine->dbname);
		BenchExec(admin, sql);
	}
	free(exists);
	PQfinish(admin);

	engine->conn = connect_db(engine->dbname);
	snprintf(sql, sizeof(sql), "CREATE EXTENSION IF NOT EXISTS %s",
			 engine->extension);
	BenchExec(engine->conn, sql);
	BenchExec(engine->conn, "SET client_min_messages = warning");
	oid = BenchQueryValue(engine->conn, "SELECT 'vector'::regtype::oid");
	engine->vector_oid = (unsigned int) strtoul(oid, NULL, 10);
	free(oid);
}

void
BenchEngineClose(BenchEngine *engine)
{
	if (engine->conn)
		PQfinish(engine->conn);
	engine->conn = NULL;
}

size_t
BenchVectorSend(char *buf, const float *v, int dim)
{
	uint16_t	hdr[2] = {htons((uint16_t) dim), 0};

	memcpy(buf, hdr, 4);
	for (int i = 0; i < dim; i++)
	{
		uint32_t	bits;

		memcpy(&bits, &v[i], 4);
		bits = htonl(bits);
		memcpy(buf + 4 + 4 * i, &bits, 4);
	}
	return 4 + 4 * (size_t) dim;
}

void
BenchPutInt16(char **p, int16_t v)
{
	uint16_t	n = htons((uint16_t) v);

	memcpy(*p, &n, 2);
	*p += 2;
}

void
BenchPutInt32(char **p, int32_t v)
{
	uint32_t	n = htonl((uint32_t) v);

	memcpy(*p, &n, 4);
	*p += 4;
}

/*
 * COPY one table (id int4, embedding vector) in binary format; with
 * stride > 1, only the rows whose id is a multiple of stride.
 */
static void
copy_vectors(PGconn *conn, const char *table, const BenchVectors *v, int stride)
{
	size_t		rowsize = 2 + 4 + 4 + 4 + 4 + 4 * (size_t) v->dim;
	size_t		bufsize = rowsize * 256 + 64;
	char	   *buf = malloc(bufsize);
	char	   *p = buf;
	char		sql[256];
	PGresult   *res;

	snprintf(sql, sizeof(sql), "COPY %s (id, embedding) FROM STDIN WITH (FORMAT binary)",
			 table);
	res = PQexec(conn, sql);
	if (PQresultStatus(res) != PGRES_COPY_IN)
	{
		fprintf(stderr, "vecq_bench: %s", PQerrorMessage(conn));
		exit(1);
	}
	PQclear(res);

	memcpy(p, "PGCOPY\n\377\r\n\0", 11);
	p += 11;
	BenchPutInt32(&p, 0);			/* flags */
	BenchPutInt32(&p, 0);			/* header extension length */
	for (int i = 0; i < v->n; i++)
	{
		if (stride > 1 && (i + 1) % stride != 0)
		{
			if (i == v->n - 1)
			{
				BenchPutInt16(&p, -1);
				if (PQputCopyData(conn, buf, (int) (p - buf)) != 1)
				{
					fprintf(stderr, "vecq_bench: %s", PQerrorMessage(conn));
					exit(1);
				}
			}
			continue;
		}
		BenchPutInt16(&p, 2);
		BenchPutInt32(&p, 4);
		BenchPutInt32(&p, i + 1);	/* ids are 1-based: row i has id i + 1 */
		BenchPutInt32(&p, 4 + 4 * v->dim);
		p += BenchVectorSend(p, v->x + (size_t) i * v->dim, v->dim);
		if ((size_t) (p - buf) + rowsize + 2 > bufsize || i == v->n - 1)
		{
			if (i == v->n - 1)
				BenchPutInt16(&p, -1);
			if (PQputCopyData(conn, buf, (int) (p - buf)) != 1)
			{
				fprintf(stderr, "vecq_bench: %s", PQerrorMessage(conn));
				exit(1);
			}
			p = buf;
		}
	}
	if (PQputCopyEnd(conn, NULL) != 1)
	{
		fprintf(stderr, "vecq_bench: %s", PQerrorMessage(conn));
		exit(1);
	}
	res = PQgetResult(conn);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		fprintf(stderr, "vecq_bench: COPY %s failed: %s", table,
				PQerrorMessage(conn));
		exit(1);
	}
	PQclear(res);
	free(buf);
}

double
BenchLoad(BenchEngine *engine, const BenchDataset *ds, const char *storage)
{
	char		sql[512];
	double		start;

	BenchExec(engine->conn, "DROP TABLE IF EXISTS bench_items, bench_queries");
	snprintf(sql, sizeof(sql),
			 "CREATE TABLE bench_items (id int4 PRIMARY KEY, embedding vector(%d))",
			 ds->base.dim);
	BenchExec(engine->conn, sql);
	snprintf(sql, sizeof(sql),
			 "CREATE TABLE bench_queries (id int4 PRIMARY KEY, embedding vector(%d))",
			 ds->base.dim);
	BenchExec(engine->conn, sql);
	if (storage && strcmp(storage, "inline") == 0)
	{
		/* vectors in the heap row itself, not in TOAST (rows up to 8160 bytes) */
		BenchExec(engine->conn, "ALTER TABLE bench_items SET (toast_tuple_target = 8160)");
		BenchExec(engine->conn, "ALTER TABLE bench_items ALTER COLUMN embedding SET STORAGE main");
	}
	else if (storage && storage[0])
	{
		snprintf(sql, sizeof(sql),
				 "ALTER TABLE bench_items ALTER COLUMN embedding SET STORAGE %s",
				 storage);
		BenchExec(engine->conn, sql);
	}

	start = BenchNow();
	copy_vectors(engine->conn, "bench_items", &ds->base, 1);
	BenchExec(engine->conn, "VACUUM (ANALYZE) bench_items");
	start = BenchNow() - start;

	copy_vectors(engine->conn, "bench_queries", &ds->queries, 1);
	BenchExec(engine->conn, "VACUUM (ANALYZE) bench_queries");
	BenchExec(engine->conn, "CHECKPOINT");
	return start;
}

double
BenchChurn(BenchEngine *engine, const BenchDataset *ds, double *reinsert_s)
{
	double		start = BenchNow();
	double		t;

	BenchExec(engine->conn, "DELETE FROM bench_items WHERE id % 2 = 0");
	BenchExec(engine->conn, "VACUUM bench_items");
	t = BenchNow();
	copy_vectors(engine->conn, "bench_items", &ds->base, 2);
	BenchExec(engine->conn, "VACUUM (ANALYZE) bench_items");
	*reinsert_s = BenchNow() - t;
	return t - start;
}
