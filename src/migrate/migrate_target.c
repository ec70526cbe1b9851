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

#include "common/logging.h"
#include "migrate.h"
#include "port/pg_bswap.h"
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

/* a query's rows; any error ends the program */
PGresult *
target_query(PGconn *conn, const char *sql, int nparams, const char *const *params)
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
	res = target_query(conn, "SELECT extversion FROM pg_extension WHERE extname = 'vecq'", 0, NULL);
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
	PQclear(target_query(conn, "SELECT chroma._sync_collection($1::uuid)", 1, p));
}

/* how many records a collection's table holds */
int64_t
target_count_records(PGconn *conn, const char *table)
{
	char	   *sql = psprintf("SELECT count(*) FROM %s", table);
	PGresult   *res = target_query(conn, sql, 0, NULL);
	int64_t		n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);

	PQclear(res);
	pg_free(sql);
	return n;
}

/* the table of a collection's records */
char *
target_records_table(const char *id)
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
	res = target_query(conn,
				"SELECT c.id, m.source, m.source_collection, m.state, m.records_done, "
				"       m.source_position "
				"FROM chroma.collections c LEFT JOIN chroma.migrations m ON m.collection = c.id "
				"WHERE c.tenant = $1 AND c.database = $2 AND c.name = $3", 3, p);
	if (PQntuples(res) > 0)
	{
		char	   *tid = PQgetvalue(res, 0, 0);
		char	   *table = target_records_table(tid);
		bool		ours = !PQgetisnull(res, 0, 1) &&
			strcmp(PQgetvalue(res, 0, 1), source) == 0 &&
			strcmp(PQgetvalue(res, 0, 2), coll->id) == 0;
		bool		copying = ours && strcmp(PQgetvalue(res, 0, 3), "copying") == 0;
		int64_t		existing = target_count_records(conn, table);

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
	res = target_query(conn, "SELECT EXISTS (SELECT FROM chroma.collections WHERE id = $1::uuid)", 1, p);
	id = strcmp(PQgetvalue(res, 0, 0), "t") == 0 ? NULL : coll->id;
	PQclear(res);

	p[0] = coll->name;
	PQclear(target_query(conn, "SELECT chroma._check_collection_name($1)", 1, p));
	snprintf(dim, sizeof(dim), "%d", coll->dimension);
	p[0] = id;
	p[1] = coll->tenant;
	p[2] = coll->database;
	p[3] = coll->name;
	p[4] = coll->metadata;
	p[5] = coll->dimension > 0 ? dim : NULL;
	p[6] = coll->configuration;
	res = target_query(conn,
				"INSERT INTO chroma.collections (id, tenant, database, name, metadata, "
				"                                configuration, space, dimension) "
				"SELECT coalesce($1::uuid, gen_random_uuid()), $2, $3, $4, $5::jsonb, cfg, "
				"       cfg -> 'hnsw' ->> 'space', $6::integer "
				"FROM chroma._configuration($7::jsonb, $5::jsonb) cfg "
				"RETURNING id", 7, p);
	tgt->collection_id = pg_strdup(PQgetvalue(res, 0, 0));
	tgt->table = target_records_table(tgt->collection_id);
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
	PQclear(target_query(conn, "SELECT chroma._sync_collection($1::uuid)", 1, p));
	target_run(conn, "COMMIT", 0, NULL);
	return PLAN_COPY;
}

/*
 * COPY data goes out in chunks of about this size while it is encoded, so
 * the server parses one chunk while the next is made and the buffer stays
 * the same size whatever the batch size.
 */
#define COPY_CHUNK (1024 * 1024)

static char *copy_buf = NULL;
static size_t copy_bufsize = 0;

static char *
put_int16(char *p, int16_t v)
{
	uint16_t	n = pg_hton16((uint16_t) v);

	memcpy(p, &n, 2);
	return p + 2;
}

static char *
put_int32(char *p, int32_t v)
{
	uint32_t	n = pg_hton32((uint32_t) v);

	memcpy(p, &n, 4);
	return p + 4;
}

/* a field of len bytes (len < 0: NULL) */
static char *
put_field(char *p, const char *s, int32_t len)
{
	p = put_int32(p, len);
	if (len > 0)
	{
		memcpy(p, s, len);
		p += len;
	}
	return p;
}

static void
copy_send(PGconn *conn, const char *data, size_t len)
{
	if (PQputCopyData(conn, data, (int) len) != 1)
		pg_fatal("could not send records: %s", PQerrorMessage(conn));
}

/* room for need more bytes at p: what is encoded goes out first if needed */
static char *
copy_room(PGconn *conn, char *p, size_t need)
{
	size_t		used = p - copy_buf;

	if (used + need <= copy_bufsize)
		return p;
	if (used > 0)
		copy_send(conn, copy_buf, used);
	if (need > copy_bufsize)
	{
		copy_bufsize = need;
		pg_free(copy_buf);
		copy_buf = pg_malloc(copy_bufsize);
	}
	return copy_buf;
}

/* send what is encoded once a chunk's worth is */
static char *
copy_flush(PGconn *conn, char *p)
{
	if (p - copy_buf >= COPY_CHUNK)
	{
		copy_send(conn, copy_buf, p - copy_buf);
		return copy_buf;
	}
	return p;
}

/* start a binary COPY into table's columns; returns where to encode */
static char *
copy_start(PGconn *conn, const char *table, const char *columns)
{
	static const char header[] = "PGCOPY\n\377\r\n";
	char	   *sql = psprintf("COPY %s (%s) FROM STDIN (FORMAT binary)", table, columns);
	char	   *p;

	PQclear(run(conn, sql, 0, NULL, PGRES_COPY_IN));
	pg_free(sql);
	if (copy_buf == NULL)
	{
		copy_bufsize = 2 * COPY_CHUNK;
		copy_buf = pg_malloc(copy_bufsize);
	}
	p = copy_buf;
	memcpy(p, header, 11);
	p += 11;
	p = put_int32(p, 0);		/* flags */
	return put_int32(p, 0);		/* header extension */
}

/* the trailer, the rest of the data, and the COPY's result */
static void
copy_end(PGconn *conn, const char *table, char *p)
{
	PGresult   *res;

	p = copy_room(conn, p, 2);
	p = put_int16(p, -1);
	copy_send(conn, copy_buf, p - copy_buf);
	if (PQputCopyEnd(conn, NULL) != 1)
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

/*
 * COPY records into table's columns (id, embedding, document, metadata,
 * uri), and with_position: their source position into a sixth column, in
 * the current transaction
 */
void
target_copy_records(PGconn *conn, const char *table, const MigrateRecord *records,
					int n, bool with_position)
{
	char	   *p;

	p = copy_start(conn, table, with_position ?
				   "id, embedding, document, metadata, uri, position" :
				   "id, embedding, document, metadata, uri");
	for (int i = 0; i < n; i++)
	{
		const MigrateRecord *r = &records[i];
		size_t		idlen = strlen(r->id);
		int32_t		doclen = r->document ? (int32_t) strlen(r->document) : -1;
		int32_t		metalen = r->metadata ? (int32_t) strlen(r->metadata) : -1;
		int32_t		urilen = r->uri ? (int32_t) strlen(r->uri) : -1;
		const uint32_t *src = (const uint32_t *) r->embedding;

		/* a field count, 5 or 6 lengths, then their bytes */
		p = copy_room(conn, p, 2 + 6 * 4 + idlen + 4 + 4 * (size_t) r->dim +
					  Max(doclen, 0) + 1 + Max(metalen, 0) + Max(urilen, 0) + 8);
		p = put_int16(p, with_position ? 6 : 5);
		p = put_field(p, r->id, (int32_t) idlen);
		/* vector: int16 dim, int16 unused, float4 elements, big-endian */
		p = put_int32(p, 4 + 4 * r->dim);
		p = put_int16(p, r->dim);
		p = put_int16(p, 0);
		for (int d = 0; d < r->dim; d++)
		{
			uint32_t	u;

			memcpy(&u, &src[d], 4);
			u = pg_hton32(u);
			memcpy(p + 4 * d, &u, 4);
		}
		p += 4 * (size_t) r->dim;
		p = put_field(p, r->document, doclen);
		/* jsonb: version 1, then the text */
		if (r->metadata == NULL)
			p = put_int32(p, -1);
		else
		{
			p = put_int32(p, 1 + metalen);
			*p++ = 1;
			memcpy(p, r->metadata, metalen);
			p += metalen;
		}
		p = put_field(p, r->uri, urilen);
		if (with_position)
		{
			uint64_t	pos = (uint64_t) r->position;

			p = put_int32(p, 8);
			p = put_int32(p, (int32_t) (pos >> 32));
			p = put_int32(p, (int32_t) pos);
		}
		p = copy_flush(conn, p);
	}
	copy_end(conn, table, p);
}

/* COPY ids into table's column id, in the current transaction */
void
target_copy_ids(PGconn *conn, const char *table, const char *const *ids, int n)
{
	char	   *p = copy_start(conn, table, "id");

	for (int i = 0; i < n; i++)
	{
		size_t		len = strlen(ids[i]);

		p = copy_room(conn, p, 2 + 4 + len);
		p = put_int16(p, 1);
		p = put_field(p, ids[i], (int32_t) len);
		p = copy_flush(conn, p);
	}
	copy_end(conn, table, p);
}

/* one batch: COPY and the checkpoint, in one transaction */
void
target_copy_batch(MigrateTarget *tgt, MigrateBatch *batch)
{
	PGconn	   *conn = tgt->conn;
	char		done[24];
	char		pos[24];
	const char *params[3];

	target_run(conn, "BEGIN", 0, NULL);

	/*
	 * A batch's commit need not wait for its WAL to reach disk: its records
	 * and its checkpoint row commit together, so a server crash that loses
	 * the last batches loses their checkpoint with them, and --resume
	 * continues from the last one that survived.  target_finish commits the
	 * end of the copy synchronously.
	 */
	target_run(conn, "SET LOCAL synchronous_commit = off", 0, NULL);
	target_copy_records(conn, tgt->table, batch->records, batch->count, false);

	tgt->records_done += batch->count;
	tgt->position = batch->records[batch->count - 1].position;
	snprintf(done, sizeof(done), "%lld", (long long) tgt->records_done);
	snprintf(pos, sizeof(pos), "%lld", (long long) tgt->position);
	params[0] = done;
	params[1] = pos;
	params[2] = tgt->collection_id;
	target_run(conn,
			   "UPDATE chroma.migrations SET records_done = $1, source_position = $2, "
			   "updated = now() WHERE collection = $3::uuid", 3, params);
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
	PQclear(target_query(conn, "SELECT chroma._sync_collection($1::uuid)", 1, p));
	sql = psprintf("ANALYZE %s", tgt->table);
	target_run(conn, sql, 0, NULL);
	pg_free(sql);
	target_run(conn, "COMMIT", 0, NULL);
}
