/*-------------------------------------------------------------------------
 *
 * migrate_target.c
 *	  Writes a collection into vecq's chroma schema through libpq.
 *
 * The catalog rows are the chroma API's own (chroma.tenants, .databases,
 * .collections, checked by chroma._check_collection_name and filled in by
 * chroma._configuration), with the source's collection id, so that ids
 * Chroma clients kept stay valid.  The records go into the collection's
 * table, chroma_records."<id>", by binary COPY, in the source's order (the
 * table's seq, which get returns them by), one transaction per batch that
 * also advances the collection's row in chroma.migrations.  A run that
 * stops leaves whole batches and a checkpoint that says how far they go:
 * --resume continues after it, and nothing is copied twice.
 *
 * While its chroma.migrations row says 'copying', chroma._sync_collection
 * keeps the table without its HNSW index; target_finish marks the copy
 * done and builds the index in the same transaction.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <arpa/inet.h>

#include "common/logging.h"
#include "migrate.h"
#include "pqexpbuffer.h"

/* run a statement; any error ends the program (the transaction rolls back) */
static PGresult *
run(PGconn *conn, const char *sql, int nparams, const char *const *params,
	ExecStatusType expect)
{
	PGresult   *res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);

	if (PQresultStatus(res) != expect)
	{
		const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
		const char *hint = PQresultErrorField(res, PG_DIAG_MESSAGE_HINT);

		pg_log_error("%s", PQresultErrorMessage(res)[0] ? PQresultErrorMessage(res) :
					 PQerrorMessage(conn));
		if (detail)
			pg_log_error_detail("%s", detail);
		if (hint)
			pg_log_error_hint("%s", hint);
		exit(1);
	}
	return res;
}

void
target_run(PGconn *conn, const char *sql, int nparams, const char *const *params)
{
	PQclear(run(conn, sql, nparams, params, PGRES_COMMAND_OK));
}

static PGresult *
query(PGconn *conn, const char *sql, int nparams, const char *const *params)
{
	return run(conn, sql, nparams, params, PGRES_TUPLES_OK);
}

/* an extension version "major.minor[.patch]" at least major.minor */
static bool
version_at_least(const char *version, int major, int minor)
{
	int			ma = 0,
				mi = 0;

	if (sscanf(version, "%d.%d", &ma, &mi) < 1)
		return false;
	return ma > major || (ma == major && mi >= minor);
}

PGconn *
target_connect(const char *conninfo)
{
	PGconn	   *conn = PQconnectdb(conninfo);
	PGresult   *res;

	if (PQstatus(conn) != CONNECTION_OK)
		pg_fatal("could not connect to %s: %s", conninfo, PQerrorMessage(conn));
	res = query(conn, "SELECT extversion FROM pg_extension WHERE extname = 'vecq'", 0, NULL);
	if (PQntuples(res) == 0)
		pg_fatal("the target database has no vecq extension: run CREATE EXTENSION vecq there first");
	if (!version_at_least(PQgetvalue(res, 0, 0), 0, 5))
		pg_fatal("the target's vecq is version %s; vecq-migrate needs 0.5.0 or later (ALTER EXTENSION vecq UPDATE)",
				 PQgetvalue(res, 0, 0));
	PQclear(res);
	target_run(conn, "SET client_min_messages = warning", 0, NULL);
	return conn;
}

static void
drop_collection(PGconn *conn, const char *id)
{
	const char *p[1] = {id};

	target_run(conn, "DELETE FROM chroma.collections WHERE id = $1::uuid", 1, p);
	PQclear(query(conn, "SELECT chroma._sync_collection($1::uuid)", 1, p));
}

static int64_t
count_records(PGconn *conn, const char *table)
{
	char	   *sql = psprintf("SELECT count(*) FROM %s", table);
	PGresult   *res = query(conn, sql, 0, NULL);
	int64_t		n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);

	PQclear(res);
	pg_free(sql);
	return n;
}

static char *
records_table(const char *id)
{
	return psprintf("chroma_records.\"%s\"", id);
}

/*
 * A tenant and (name not NULL) a database, unless they exist; the source's
 * database id is kept unless the target uses it already
 */
static void
ensure_database(PGconn *conn, const char *tenant, const char *id, const char *name)
{
	const char *p[3] = {tenant, id, name};

	target_run(conn, "INSERT INTO chroma.tenants VALUES ($1) ON CONFLICT DO NOTHING", 1, p);
	if (name == NULL)
		return;
	target_run(conn,
			   "INSERT INTO chroma.databases (id, tenant, name) "
			   "SELECT CASE WHEN EXISTS (SELECT FROM chroma.databases WHERE id = $2::uuid) "
			   "            THEN gen_random_uuid() ELSE $2::uuid END, $1, $3 "
			   "ON CONFLICT DO NOTHING", 3, p);
}

/* the source's tenants and databases, also those without collections */
void
target_databases(PGconn *conn, const MigrateDatabase *dbs, int n,
				 const MigrateOptions *opts)
{
	target_run(conn, "BEGIN", 0, NULL);
	for (int i = 0; i < n; i++)
	{
		if (option_tenant_selected(opts, dbs[i].tenant))
			ensure_database(conn, dbs[i].tenant, dbs[i].id, dbs[i].name);
	}
	target_run(conn, "COMMIT", 0, NULL);
}

/*
 * Decide what to do with a collection and make its catalog rows.  On
 * return tgt says where to write and from which source position on.
 */
MigratePlan
target_prepare(PGconn *conn, const MigrateOptions *opts, const char *source,
			   MigrateCollection *coll, MigrateTarget *tgt)
{
	PGresult   *res;
	const char *p[8];
	char		dim[16];
	char		total[24];
	char		seq[24];
	char	   *id;
	MigratePlan plan = PLAN_COPY;

	memset(tgt, 0, sizeof(*tgt));
	tgt->conn = conn;
	target_run(conn, "BEGIN", 0, NULL);

	ensure_database(conn, coll->tenant, coll->database_id, coll->database);

	p[0] = coll->tenant;
	p[1] = coll->database;
	p[2] = coll->name;
	res = query(conn,
				"SELECT c.id, m.source, m.source_collection, m.state, m.records_done, "
				"       m.source_position "
				"FROM chroma.collections c LEFT JOIN chroma.migrations m ON m.collection = c.id "
				"WHERE c.tenant = $1 AND c.database = $2 AND c.name = $3", 3, p);
	if (PQntuples(res) > 0)
	{
		char	   *tid = PQgetvalue(res, 0, 0);
		char	   *table = records_table(tid);
		bool		ours = !PQgetisnull(res, 0, 1) &&
			strcmp(PQgetvalue(res, 0, 1), source) == 0 &&
			strcmp(PQgetvalue(res, 0, 2), coll->id) == 0;
		bool		copying = ours && strcmp(PQgetvalue(res, 0, 3), "copying") == 0;
		int64_t		existing = count_records(conn, table);

		if (opts->replace)
			drop_collection(conn, tid);
		else if (copying && opts->resume)
		{
			plan = PLAN_RESUME;
			tgt->collection_id = pg_strdup(tid);
			tgt->table = table;
			tgt->records_done = strtoll(PQgetvalue(res, 0, 4), NULL, 10);
			tgt->position = PQgetisnull(res, 0, 5) ? 0 :
				strtoll(PQgetvalue(res, 0, 5), NULL, 10);
		}
		else if (copying)
		{
			pg_log_error("an earlier copy of collection \"%s\" (tenant \"%s\", database \"%s\") stopped after %s records",
						 coll->name, coll->tenant, coll->database, PQgetvalue(res, 0, 4));
			pg_log_error_hint("Run again with --resume to continue it, or with --replace to start over.");
			exit(1);
		}
		else if (ours)
		{
			plan = PLAN_DONE;
			tgt->collection_id = pg_strdup(tid);
			tgt->table = table;
			tgt->records_done = existing;
		}
		else if (existing > 0)
		{
			pg_log_error("collection \"%s\" (tenant \"%s\", database \"%s\") already exists in the target with %lld records",
						 coll->name, coll->tenant, coll->database, (long long) existing);
			pg_log_error_hint("Use --replace to drop it and copy the source's, or --collections to leave it out.");
			exit(1);
		}
		else
			drop_collection(conn, tid);		/* an empty one: take its place */
		if (plan != PLAN_COPY)
		{
			PQclear(res);
			target_run(conn, "COMMIT", 0, NULL);
			return plan;
		}
		pg_free(table);
	}
	PQclear(res);

	/* keep the source's id unless the target already uses it */
	p[0] = coll->id;
	res = query(conn, "SELECT EXISTS (SELECT FROM chroma.collections WHERE id = $1::uuid)", 1, p);
	id = strcmp(PQgetvalue(res, 0, 0), "t") == 0 ? NULL : coll->id;
	PQclear(res);

	p[0] = coll->name;
	PQclear(query(conn, "SELECT chroma._check_collection_name($1)", 1, p));
	snprintf(dim, sizeof(dim), "%d", coll->dimension);
	p[0] = id;
	p[1] = coll->tenant;
	p[2] = coll->database;
	p[3] = coll->name;
	p[4] = coll->metadata;
	p[5] = coll->dimension > 0 ? dim : NULL;
	p[6] = coll->configuration;
	res = query(conn,
				"INSERT INTO chroma.collections (id, tenant, database, name, metadata, "
				"                                configuration, space, dimension) "
				"SELECT coalesce($1::uuid, gen_random_uuid()), $2, $3, $4, $5::jsonb, cfg, "
				"       cfg -> 'hnsw' ->> 'space', $6::integer "
				"FROM chroma._configuration($7::jsonb, $5::jsonb) cfg "
				"RETURNING id", 7, p);
	tgt->collection_id = pg_strdup(PQgetvalue(res, 0, 0));
	tgt->table = records_table(tgt->collection_id);
	PQclear(res);

	snprintf(total, sizeof(total), "%lld", (long long) coll->records);
	snprintf(seq, sizeof(seq), "%lld", (long long) coll->source_seq);
	p[0] = tgt->collection_id;
	p[1] = coll->tenant;
	p[2] = source;
	p[3] = coll->id;
	p[4] = total;
	p[5] = coll->source_seq >= 0 ? seq : NULL;
	target_run(conn,
			   "INSERT INTO chroma.migrations (collection, tenant, source, source_collection, "
			   "                               state, records_total, source_seq) "
			   "VALUES ($1, $2, $3, $4, 'copying', $5, $6)", 6, p);
	PQclear(query(conn, "SELECT chroma._sync_collection($1::uuid)", 1, p));
	target_run(conn, "COMMIT", 0, NULL);
	return PLAN_COPY;
}

static void
put_int16(PQExpBuffer buf, int16_t v)
{
	uint16_t	n = htons((uint16_t) v);

	appendBinaryPQExpBuffer(buf, (const char *) &n, 2);
}

static void
put_int32(PQExpBuffer buf, int32_t v)
{
	uint32_t	n = htonl((uint32_t) v);

	appendBinaryPQExpBuffer(buf, (const char *) &n, 4);
}

static void
put_text(PQExpBuffer buf, const char *s)
{
	if (s == NULL)
	{
		put_int32(buf, -1);
		return;
	}
	put_int32(buf, strlen(s));
	appendBinaryPQExpBuffer(buf, s, strlen(s));
}

/* send a binary COPY's data and check its result */
static void
copy_in(PGconn *conn, const char *table, const char *columns, PQExpBuffer buf)
{
	PGresult   *res;
	char	   *sql;

	put_int16(buf, -1);
	if (PQExpBufferBroken(buf))
		pg_fatal("out of memory");
	sql = psprintf("COPY %s (%s) FROM STDIN (FORMAT binary)", table, columns);
	res = run(conn, sql, 0, NULL, PGRES_COPY_IN);
	PQclear(res);
	pg_free(sql);
	if (PQputCopyData(conn, buf->data, buf->len) != 1 || PQputCopyEnd(conn, NULL) != 1)
		pg_fatal("could not send records: %s", PQerrorMessage(conn));
	res = PQgetResult(conn);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);

		pg_log_error("could not copy records into %s: %s", table, PQresultErrorMessage(res));
		if (detail)
			pg_log_error_detail("%s", detail);
		exit(1);
	}
	PQclear(res);
	while ((res = PQgetResult(conn)) != NULL)
		PQclear(res);
}

static void
copy_header(PQExpBuffer buf)
{
	static const char header[] = "PGCOPY\n\377\r\n";

	initPQExpBuffer(buf);
	appendBinaryPQExpBuffer(buf, header, 11);
	put_int32(buf, 0);			/* flags */
	put_int32(buf, 0);			/* header extension */
}

/*
 * COPY records into table's columns (id, embedding, document, metadata,
 * uri), and with_position: their source position into a sixth column, in
 * the current transaction
 */
void
target_copy_records(PGconn *conn, const char *table, const MigrateRecord *records,
					int n, bool with_position)
{
	PQExpBufferData buf;

	copy_header(&buf);
	for (int i = 0; i < n; i++)
	{
		const MigrateRecord *r = &records[i];

		put_int16(&buf, with_position ? 6 : 5);
		put_text(&buf, r->id);
		/* vector: int16 dim, int16 unused, float4 elements, big-endian */
		put_int32(&buf, 4 + 4 * r->dim);
		put_int16(&buf, r->dim);
		put_int16(&buf, 0);
		for (int d = 0; d < r->dim; d++)
		{
			uint32_t	u;

			memcpy(&u, &r->embedding[d], 4);
			put_int32(&buf, (int32_t) u);
		}
		put_text(&buf, r->document);
		/* jsonb: version 1, then the text */
		if (r->metadata == NULL)
			put_int32(&buf, -1);
		else
		{
			put_int32(&buf, 1 + strlen(r->metadata));
			appendPQExpBufferChar(&buf, 1);
			appendBinaryPQExpBuffer(&buf, r->metadata, strlen(r->metadata));
		}
		put_text(&buf, r->uri);
		if (with_position)
		{
			uint64_t	pos = (uint64_t) r->position;

			put_int32(&buf, 8);
			put_int32(&buf, (int32_t) (pos >> 32));
			put_int32(&buf, (int32_t) pos);
		}
	}
	copy_in(conn, table, with_position ? "id, embedding, document, metadata, uri, position" :
			"id, embedding, document, metadata, uri", &buf);
	termPQExpBuffer(&buf);
}

/* COPY ids into table's column id, in the current transaction */
void
target_copy_ids(PGconn *conn, const char *table, const char *const *ids, int n)
{
	PQExpBufferData buf;

	copy_header(&buf);
	for (int i = 0; i < n; i++)
	{
		put_int16(&buf, 1);
		put_text(&buf, ids[i]);
	}
	copy_in(conn, table, "id", &buf);
	termPQExpBuffer(&buf);
}

/* one batch: COPY and the checkpoint, in one transaction */
void
target_copy_batch(MigrateTarget *tgt, MigrateBatch *batch)
{
	PGconn	   *conn = tgt->conn;
	char		done[24];
	char		pos[24];
	const char *p[3];

	target_run(conn, "BEGIN", 0, NULL);
	target_copy_records(conn, tgt->table, batch->records, batch->count, false);

	tgt->records_done += batch->count;
	tgt->position = batch->records[batch->count - 1].position;
	snprintf(done, sizeof(done), "%lld", (long long) tgt->records_done);
	snprintf(pos, sizeof(pos), "%lld", (long long) tgt->position);
	p[0] = done;
	p[1] = pos;
	p[2] = tgt->collection_id;
	target_run(conn,
			   "UPDATE chroma.migrations SET records_done = $1, source_position = $2, "
			   "updated = now() WHERE collection = $3::uuid", 3, p);
	target_run(conn, "COMMIT", 0, NULL);
}

/* mark the copy done and build the HNSW index, in one transaction */
void
target_finish(MigrateTarget *tgt, MigrateCollection *coll)
{
	PGconn	   *conn = tgt->conn;
	char		dim[16];
	char		seq[24];
	const char *p[3];
	char	   *sql;

	snprintf(dim, sizeof(dim), "%d", coll->dimension);
	snprintf(seq, sizeof(seq), "%lld", (long long) coll->source_seq);
	target_run(conn, "BEGIN", 0, NULL);
	p[0] = tgt->collection_id;
	p[1] = coll->dimension > 0 ? dim : NULL;
	target_run(conn,
			   "UPDATE chroma.collections SET dimension = $2::integer "
			   "WHERE id = $1::uuid AND dimension IS NULL AND $2::integer IS NOT NULL", 2, p);
	p[1] = coll->source_seq >= 0 ? seq : NULL;
	target_run(conn,
			   "UPDATE chroma.migrations SET state = 'done', source_seq = $2::bigint, "
			   "updated = now() WHERE collection = $1::uuid", 2, p);
	PQclear(query(conn, "SELECT chroma._sync_collection($1::uuid)", 1, p));
	sql = psprintf("ANALYZE %s", tgt->table);
	target_run(conn, sql, 0, NULL);
	pg_free(sql);
	target_run(conn, "COMMIT", 0, NULL);
}
