/*-------------------------------------------------------------------------
 *
 * migrate_persist.c
 *	  Reads a ChromaDB persist directory: chroma.sqlite3 and the HNSW
 *	  segment directories beside it, never writing anything.
 *
 * chroma.sqlite3 is opened read-only and immutable (no journal, no lock
 * file, nothing created next to it), and checked with quick_check first,
 * so a damaged file is refused before anything is written to Postgres.
 *
 * Where a collection's current state is, in every format from 0.4.0 to 1.5
 * (the rows of the migrations table tell the era; the code asks for the
 * tables and columns it uses rather than trusting a version number):
 *
 *	- the records, their order, documents, uris and metadata: the metadata
 *	  segment's rows in embeddings / embedding_metadata (and, from 1.5 on,
 *	  embedding_metadata_array), in the order of embeddings.id, which is the
 *	  order Chroma's get returns.  Chroma applies every write to it before
 *	  answering, and its max_seq_id row says up to which log entry;
 *	- the vectors: the vector segment's HNSW files (header.bin,
 *	  data_level0.bin, length.bin, index_metadata.pickle for the id <->
 *	  label map) as of the vector segment's max_seq_id, then the
 *	  embeddings_queue entries after it, replayed in sequence order with
 *	  Chroma's rules (an add of an existing id does nothing, an update of a
 *	  missing id does nothing, an upsert adds or updates, a delete removes).
 *	  Chroma purges the log only below what both segments hold, so the two
 *	  together are always complete.  A collection whose index was never
 *	  flushed has its whole log.
 *
 * A record without a vector, a vector of the wrong dimension, log entries
 * the metadata segment has not applied, or a file that does not parse is
 * an error naming the file, before or while the collection is copied (the
 * target sees only whole batches; see migrate_target.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <sys/stat.h>

#include <jansson.h>
#include <sqlite3.h>

#include "chroma_hnsw.h"
#include "chroma_pickle.h"
#include "common/logging.h"
#include "mb/pg_wchar.h"
#include "migrate.h"
#include "pqexpbuffer.h"

/* embeddings_queue.operation */
#define OP_ADD		0
#define OP_UPDATE	1
#define OP_UPSERT	2
#define OP_DELETE	3

typedef struct PersistSource
{
	MigrateSource base;		/* must be first */
	char	   *dir;
	char	   *dbpath;
	sqlite3    *db;
	int			migrations;		/* rows of the migrations table */
	char		era[64];
	bool		has_tenants;	/* tenants / databases tables (0.4.15+) */
	bool		coll_topic;		/* collections.topic (before 0.5.0) */
	bool		coll_config;	/* collections.config_json_str (0.5.4+) */
	bool		coll_schema;	/* collections.schema_str (1.3+) */
	bool		meta_bool;		/* embedding_metadata.bool_value (0.4.6+) */
	bool		coll_bool;		/* collection_metadata.bool_value (0.5.x+) */
	bool		meta_arrays;	/* embedding_metadata_array (1.5+) */
	int			ncollections;
	MigrateCollection *collections;
	int			nskipped;
	char	  **skipped;
	int			ndatabases;
	MigrateDatabase *databases;
} PersistSource;

/* where a record's current vector is */
typedef struct VectorRef
{
	const char *id;				/* NULL: free slot */
	int64_t		seq;			/* > 0: embeddings_queue.seq_id */
	int64_t		element;		/* seq == 0: the HNSW element */
	bool		exists;
} VectorRef;

typedef struct VectorMap
{
	VectorRef  *slots;
	size_t		size;			/* a power of two */
	size_t		used;
	MigrateBatch strings;		/* the ids */
} VectorMap;

typedef struct PersistCursor
{
	MigrateCursor base;		/* must be first */
	PersistSource *src;
	MigrateCollection *coll;
	int64_t		after;			/* embeddings.id of the last record read */
	VectorMap	vectors;
	ChromaHnswIndex hnsw;
	bool		hnsw_open;
	char	   *hnsw_dir;
	int64_t		vector_seq;		/* what the HNSW files hold */
	sqlite3_stmt *records;
	sqlite3_stmt *metadata;
	sqlite3_stmt *arrays;
	sqlite3_stmt *queue_vector;
	float	   *scratch;
	MigrateJson json;
	bool		done;
	char	   *only_ids;		/* a JSON array: only these records */
	bool		ids_only;		/* records without vectors and metadata */
	/* the batch after the caller's, read by a thread (persist_next_batch) */
	pthread_t	reader;
	bool		reading;
	MigrateBatch next;
	int			next_max;
	bool		next_ok;
} PersistCursor;

static const char *persist_describe(MigrateSource *source);
static int	persist_collections(MigrateSource *source, MigrateCollection **out);
static int	persist_databases(MigrateSource *source, MigrateDatabase **out);
static int	persist_skipped(MigrateSource *source, char ***reasons);
static MigrateCursor *persist_records(MigrateSource *source, MigrateCollection *coll,
									  int64_t after_position);
static bool persist_next_batch(MigrateCursor *cursor, MigrateBatch *batch,
							   int max_records);
static void persist_cursor_close(MigrateCursor *cursor);
static bool persist_graph_seed(MigrateCursor *cursor, SeedWriter *w);
static void persist_close(MigrateSource *source);
static bool persist_changed_ids(MigrateSource *source, MigrateCollection *coll,
								int64_t since_seq, char ***ids, int *n);
static MigrateCursor *persist_records_with_ids(MigrateSource *source,
											   MigrateCollection *coll,
											   char **ids, int n);
static MigrateCursor *persist_ids(MigrateSource *source, MigrateCollection *coll);
static MigrateCursor *open_cursor(PersistSource *src, MigrateCollection *coll,
								  int64_t after_position, char *only_ids, bool ids_only);
static int	queue_vector(PersistCursor *cur, int64_t seq, const char *id, float *out, int dim);

static const MigrateSourceMethods persist_methods = {
	.describe = persist_describe,
	.collections = persist_collections,
	.databases = persist_databases,
	.skipped = persist_skipped,
	.records = persist_records,
	.next_batch = persist_next_batch,
	.cursor_close = persist_cursor_close,
	.close = persist_close,
	.changed_ids = persist_changed_ids,
	.records_with_ids = persist_records_with_ids,
	.ids = persist_ids,
	.graph_seed = persist_graph_seed,
};

static void
sqlite_fail(PersistSource *src, const char *what)
{
	pg_fatal("%s: %s: %s", src->dbpath, what, sqlite3_errmsg(src->db));
}

static sqlite3_stmt *
prepare(PersistSource *src, const char *sql)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(src->db, sql, -1, &st, NULL) != SQLITE_OK)
		sqlite_fail(src, "could not read the database");
	return st;
}

static bool
step(PersistSource *src, sqlite3_stmt *st)
{
	int			rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		return true;
	if (rc != SQLITE_DONE)
		sqlite_fail(src, "could not read the database");
	return false;
}

static char *
column_text(sqlite3_stmt *st, int col)
{
	const unsigned char *s = sqlite3_column_text(st, col);

	return s ? pg_strdup((const char *) s) : NULL;
}

static bool
has_table(PersistSource *src, const char *table)
{
	sqlite3_stmt *st = prepare(src, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1");
	bool		found;

	sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
	found = step(src, st);
	sqlite3_finalize(st);
	return found;
}

static bool
has_column(PersistSource *src, const char *table, const char *column)
{
	sqlite3_stmt *st = prepare(src, "SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2");
	bool		found;

	sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, column, -1, SQLITE_STATIC);
	found = step(src, st);
	sqlite3_finalize(st);
	return found;
}

/* a path as a file: URI (immutable=1 is only possible through a URI) */
static char *
file_uri(const char *path)
{
	PQExpBufferData buf;

	initPQExpBuffer(&buf);
	appendPQExpBufferStr(&buf, "file:");
	for (const char *p = path; *p; p++)
	{
		unsigned char c = (unsigned char) *p;

		if (isalnum(c) || strchr("/-._~", c))
			appendPQExpBufferChar(&buf, c);
		else
			appendPQExpBuffer(&buf, "%%%02X", c);
	}
	appendPQExpBufferStr(&buf, "?mode=ro&immutable=1");
	return buf.data;
}

/* the Chroma versions whose schema has this many migrations */
static const char *
era_name(int migrations)
{
	switch (migrations)
	{
		case 5:
			return "Chroma 0.4.0-0.4.3";
		case 6:
			return "Chroma 0.4.4-0.4.5";
		case 7:
			return "Chroma 0.4.6-0.4.14";
		case 8:
			return "Chroma 0.4.15-0.4.24";
		case 9:
			return "Chroma 0.5.0";
		case 10:
			return "Chroma 0.5.1-0.5.3";
		case 11:
			return "Chroma 0.5.4-0.5.5";
		case 15:
			return "Chroma 0.5.6-0.6.3";
		case 16:
			return "Chroma 1.0-1.2";
		case 17:
			return "Chroma 1.3-1.4";
		case 18:
			return "Chroma 1.5";
	}
	return NULL;
}

static void
skip(PersistSource *src, char *reason)
{
	src->skipped = pg_realloc(src->skipped, sizeof(char *) * (src->nskipped + 1));
	src->skipped[src->nskipped++] = reason;
}

/* max_seq_id.seq_id: an 8-byte big-endian blob before 1.0, an integer after */
static int64_t
seq_value(sqlite3_stmt *st, int col)
{
	if (sqlite3_column_type(st, col) == SQLITE_BLOB)
	{
		const unsigned char *b = sqlite3_column_blob(st, col);
		int			n = sqlite3_column_bytes(st, col);
		uint64_t	v = 0;

		for (int i = 0; i < n && i < 8; i++)
			v = (v << 8) | b[i];
		return (int64_t) v;
	}
	return sqlite3_column_int64(st, col);
}

static int64_t
segment_seq(PersistSource *src, const char *segment)
{
	sqlite3_stmt *st;
	int64_t		seq = -1;

	if (segment == NULL)
		return -1;
	st = prepare(src, "SELECT seq_id FROM max_seq_id WHERE segment_id = ?1");
	sqlite3_bind_text(st, 1, segment, -1, SQLITE_STATIC);
	if (step(src, st))
		seq = seq_value(st, 0);
	sqlite3_finalize(st);
	return seq;
}

/*
 * A metadata key or string value must be text jsonb takes: valid UTF-8
 * without NUL (sqlite keeps whatever bytes it was given).
 */
static void
check_text(PersistSource *src, const char *what, const char *kind,
		   const char *s, int len)
{
	if (pg_encoding_verifymbstr(PG_UTF8, s, len) != len)
		pg_fatal("%s: %s has a %s that is not valid UTF-8 or contains a NUL byte",
				 src->dbpath, what, kind);
}

/* the same for a record's document or uri (text columns of the target) */
static void
check_record_text(PersistSource *src, const char *id, const char *kind,
				  const char *s, int len)
{
	if (pg_encoding_verifymbstr(PG_UTF8, s, len) != len)
		pg_fatal("%s: record \"%s\" has a %s that is not valid UTF-8 or contains a NUL byte",
				 src->dbpath, id, kind);
}

/*
 * A typed metadata value of the sqlite tables as JSON: the first non-NULL
 * of bool, int, float, string (as Chroma reads them).  Columns: string,
 * int, float[, bool] from col on.
 */
static void
metadata_value(PersistSource *src, sqlite3_stmt *st, int col, bool has_bool,
			   MigrateJson *js, const char *what)
{
	if (has_bool && sqlite3_column_type(st, col + 3) != SQLITE_NULL)
		mjson_bool(js, sqlite3_column_int64(st, col + 3) != 0);
	else if (sqlite3_column_type(st, col + 1) != SQLITE_NULL)
		mjson_int(js, sqlite3_column_int64(st, col + 1));
	else if (sqlite3_column_type(st, col + 2) != SQLITE_NULL)
	{
		if (!mjson_double(js, sqlite3_column_double(st, col + 2)))
			pg_fatal("%s: %s has a float value that is not finite",
					 src->dbpath, what);
	}
	else if (sqlite3_column_type(st, col) != SQLITE_NULL)
	{
		const char *s = (const char *) sqlite3_column_text(st, col);

		check_text(src, what, "string value", s, sqlite3_column_bytes(st, col));
		mjson_string(js, s, sqlite3_column_bytes(st, col));
	}
	else
		mjson_raw(js, "null");
}

static json_t *
parse_json_column(PersistSource *src, sqlite3_stmt *st, int col, const char *what)
{
	json_error_t jerr;
	json_t	   *v;

	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		return NULL;
	v = json_loadb((const char *) sqlite3_column_text(st, col),
				   sqlite3_column_bytes(st, col), JSON_DECODE_ANY, &jerr);
	if (v == NULL)
		pg_fatal("%s: %s is not valid JSON: %s (at character %d)",
				 src->dbpath, what, jerr.text, jerr.position);
	if (json_is_null(v))
	{
		json_decref(v);
		return NULL;
	}
	return v;
}

static void
read_collection_metadata(PersistSource *src, MigrateCollection *c)
{
	sqlite3_stmt *st;
	MigrateJson js = {0};
	char	   *what = psprintf("metadata of collection \"%s\"", c->name);

	st = prepare(src, src->coll_bool ?
				 "SELECT key, str_value, int_value, float_value, bool_value "
				 "FROM collection_metadata WHERE collection_id = ?1 ORDER BY key" :
				 "SELECT key, str_value, int_value, float_value "
				 "FROM collection_metadata WHERE collection_id = ?1 ORDER BY key");
	sqlite3_bind_text(st, 1, c->id, -1, SQLITE_STATIC);
	mjson_begin_object(&js);
	while (step(src, st))
	{
		const char *key = (const char *) sqlite3_column_text(st, 0);

		if (key == NULL)
			pg_fatal("%s: %s has a key that is NULL", src->dbpath, what);
		check_text(src, what, "key", key, sqlite3_column_bytes(st, 0));
		mjson_key(&js, key);
		metadata_value(src, st, 1, src->coll_bool, &js, what);
	}
	mjson_end_object(&js);
	sqlite3_finalize(st);
	c->metadata = js.members > 0 ? pg_strdup(js.data) : NULL;
	mjson_free(&js);
	pg_free(what);
}

static void
read_collections(PersistSource *src)
{
	PQExpBufferData sql;
	sqlite3_stmt *st;

	initPQExpBuffer(&sql);
	appendPQExpBufferStr(&sql, "SELECT c.id, c.name, c.dimension, ");
	if (src->has_tenants)
		appendPQExpBufferStr(&sql, "d.tenant_id, d.name, d.id, ");
	else
		appendPQExpBufferStr(&sql, "'default_tenant', 'default_database', "
							 "'00000000-0000-0000-0000-000000000000', ");
	appendPQExpBufferStr(&sql, src->coll_config ? "c.config_json_str, " : "NULL, ");
	appendPQExpBufferStr(&sql, src->coll_schema ? "c.schema_str " : "NULL ");
	appendPQExpBufferStr(&sql, "FROM collections c ");
	if (src->has_tenants)
		appendPQExpBufferStr(&sql, "LEFT JOIN databases d ON d.id = c.database_id ");
	appendPQExpBufferStr(&sql, "ORDER BY c.rowid");
	st = prepare(src, sql.data);
	termPQExpBuffer(&sql);

	while (step(src, st))
	{
		MigrateCollection *c;
		json_t	   *config;
		json_t	   *schema;
		char	   *cfg_what;
		sqlite3_stmt *seg;

		if (sqlite3_column_type(st, 0) == SQLITE_NULL ||
			sqlite3_column_type(st, 1) == SQLITE_NULL)
			pg_fatal("%s: a collection has no %s (collections.%s is NULL)",
					 src->dbpath,
					 sqlite3_column_type(st, 0) == SQLITE_NULL ? "id" : "name",
					 sqlite3_column_type(st, 0) == SQLITE_NULL ? "id" : "name");
		if (sqlite3_column_type(st, 3) == SQLITE_NULL)
		{
			skip(src, psprintf("collection \"%s\" (%s): its database %s does not exist in the source",
							   sqlite3_column_text(st, 1), sqlite3_column_text(st, 0),
							   "(collections.database_id)"));
			continue;
		}
		src->collections = pg_realloc(src->collections,
									  sizeof(MigrateCollection) * (src->ncollections + 1));
		c = &src->collections[src->ncollections++];
		memset(c, 0, sizeof(*c));
		c->id = column_text(st, 0);
		c->name = column_text(st, 1);
		if (sqlite3_column_type(st, 2) != SQLITE_NULL &&
			(sqlite3_column_int64(st, 2) < 0 ||
			 sqlite3_column_int64(st, 2) > CHROMA_HNSW_MAX_DIM))
			pg_fatal("%s: collection \"%s\" has dimension %s, out of range (0 to %d)",
					 src->dbpath, c->name, sqlite3_column_text(st, 2), CHROMA_HNSW_MAX_DIM);
		c->dimension = sqlite3_column_int(st, 2);
		if (c->dimension > MIGRATE_MAX_DIM)
			pg_fatal("%s: collection \"%s\" has %d dimensions; vecq's vector type takes at most %d",
					 src->dbpath, c->name, c->dimension, MIGRATE_MAX_DIM);
		c->tenant = column_text(st, 3);
		c->database = column_text(st, 4);
		c->database_id = column_text(st, 5);
		c->selected = true;

		cfg_what = psprintf("configuration of collection \"%s\"", c->name);
		config = parse_json_column(src, st, 6, cfg_what);
		schema = parse_json_column(src, st, 7, cfg_what);
		pg_free(cfg_what);
		read_collection_metadata(src, c);
		migrate_collection_settings(c, config, schema);
		json_decref(config);
		json_decref(schema);

		seg = prepare(src, "SELECT id, scope FROM segments WHERE collection = ?1 ORDER BY rowid");
		sqlite3_bind_text(seg, 1, c->id, -1, SQLITE_STATIC);
		while (step(src, seg))
		{
			const char *scope = (const char *) sqlite3_column_text(seg, 1);

			if (scope && strcmp(scope, "METADATA") == 0 && !c->metadata_segment)
				c->metadata_segment = column_text(seg, 0);
			else if (scope && strcmp(scope, "VECTOR") == 0 && !c->vector_segment)
				c->vector_segment = column_text(seg, 0);
		}
		sqlite3_finalize(seg);

		if (c->metadata_segment)
		{
			seg = prepare(src, "SELECT count(*) FROM embeddings WHERE segment_id = ?1");
			sqlite3_bind_text(seg, 1, c->metadata_segment, -1, SQLITE_STATIC);
			if (step(src, seg))
				c->records = sqlite3_column_int64(seg, 0);
			sqlite3_finalize(seg);
			c->source_seq = segment_seq(src, c->metadata_segment);
		}
		else
			c->source_seq = -1;
	}
	sqlite3_finalize(st);
}

/* every tenant and database, with or without collections */
static void
read_databases(PersistSource *src)
{
	sqlite3_stmt *st;

	if (!src->has_tenants)
		return;
	st = prepare(src, "SELECT t.id, d.id, d.name FROM tenants t "
				 "LEFT JOIN databases d ON d.tenant_id = t.id ORDER BY t.rowid, d.rowid");
	while (step(src, st))
	{
		MigrateDatabase *d;

		src->databases = pg_realloc(src->databases,
									sizeof(MigrateDatabase) * (src->ndatabases + 1));
		d = &src->databases[src->ndatabases++];
		d->tenant = column_text(st, 0);
		d->id = column_text(st, 1);
		d->name = column_text(st, 2);
	}
	sqlite3_finalize(st);
}

static int
persist_databases(MigrateSource *source, MigrateDatabase **out)
{
	PersistSource *src = (PersistSource *) source;

	*out = src->databases;
	return src->ndatabases;
}

/* what the directory holds that no live collection uses */
static void
find_orphans(PersistSource *src)
{
	DIR		   *d = opendir(src->dir);
	struct dirent *de;
	sqlite3_stmt *st;

	if (d == NULL)
		pg_fatal("could not read directory \"%s\": %m", src->dir);
	st = prepare(src, "SELECT s.collection FROM segments s JOIN collections c ON c.id = s.collection "
				 "WHERE s.id = ?1");
	while ((de = readdir(d)) != NULL)
	{
		if (!migrate_is_uuid(de->d_name))
			continue;
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, de->d_name, -1, SQLITE_TRANSIENT);
		if (!step(src, st))
			skip(src, psprintf("segment directory %s/%s: no collection uses it", src->dir, de->d_name));
	}
	closedir(d);
	sqlite3_finalize(st);

	st = prepare(src, "SELECT e.segment_id, count(*) FROM embeddings e "
				 "WHERE NOT EXISTS (SELECT 1 FROM segments s JOIN collections c ON c.id = s.collection "
				 "                  WHERE s.id = e.segment_id) "
				 "GROUP BY 1 ORDER BY 1");
	while (step(src, st))
		skip(src, psprintf("%lld records of segment %s in %s: no collection uses the segment",
						   (long long) sqlite3_column_int64(st, 1),
						   sqlite3_column_text(st, 0), src->dbpath));
	sqlite3_finalize(st);

	st = prepare(src, "SELECT topic, count(*) FROM embeddings_queue q "
				 "WHERE NOT EXISTS (SELECT 1 FROM collections c WHERE q.topic LIKE '%/' || c.id) "
				 "GROUP BY 1 ORDER BY 1");
	while (step(src, st))
		skip(src, psprintf("%lld log entries of %s in %s: their collection no longer exists",
						   (long long) sqlite3_column_int64(st, 1),
						   sqlite3_column_text(st, 0), src->dbpath));
	sqlite3_finalize(st);
}

MigrateSource *
persist_open(const char *dir)
{
	PersistSource *src = pg_malloc0(sizeof(PersistSource));
	struct stat sb;
	char	   *uri;
	sqlite3_stmt *st;
	const char *era;
	static const char *const required[] = {
		"collections", "segments", "embeddings", "embedding_metadata",
		"embeddings_queue", "max_seq_id", "collection_metadata", NULL
	};

	src->base.methods = &persist_methods;
	src->dir = pg_strdup(dir);
	src->dbpath = psprintf("%s/chroma.sqlite3", dir);
	if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
		pg_fatal("\"%s\" is not a directory", dir);
	if (stat(src->dbpath, &sb) != 0)
		pg_fatal("could not open \"%s\": %m (a Chroma persist directory has chroma.sqlite3 at its top)",
				 src->dbpath);

	uri = file_uri(src->dbpath);
	if (sqlite3_open_v2(uri, &src->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL) != SQLITE_OK)
		sqlite_fail(src, "could not open");
	pg_free(uri);

	st = prepare(src, "PRAGMA quick_check");
	while (step(src, st))
	{
		const char *r = (const char *) sqlite3_column_text(st, 0);

		if (r && strcmp(r, "ok") != 0)
			pg_fatal("%s is damaged: %s", src->dbpath, r);
	}
	sqlite3_finalize(st);

	if (!has_table(src, "migrations"))
		pg_fatal("%s is not a Chroma database: it has no migrations table", src->dbpath);
	st = prepare(src, "SELECT count(*) FROM migrations");
	step(src, st);
	src->migrations = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	era = era_name(src->migrations);
	if (era == NULL)
		pg_fatal("%s has an unknown schema version: its migrations table has %d rows",
				 src->dbpath, src->migrations);
	snprintf(src->era, sizeof(src->era), "%s (%d migrations)", era, src->migrations);
	for (int i = 0; required[i]; i++)
		if (!has_table(src, required[i]))
			pg_fatal("%s has no table %s, which %s has", src->dbpath, required[i], era);

	src->has_tenants = has_table(src, "databases") && has_column(src, "collections", "database_id");
	src->coll_topic = has_column(src, "collections", "topic");
	src->coll_config = has_column(src, "collections", "config_json_str");
	src->coll_schema = has_column(src, "collections", "schema_str");
	src->meta_bool = has_column(src, "embedding_metadata", "bool_value");
	src->coll_bool = has_column(src, "collection_metadata", "bool_value");
	src->meta_arrays = has_table(src, "embedding_metadata_array");

	read_collections(src);
	read_databases(src);
	find_orphans(src);
	return &src->base;
}

static const char *
persist_describe(MigrateSource *source)
{
	PersistSource *src = (PersistSource *) source;

	return src->era;
}

static int
persist_collections(MigrateSource *source, MigrateCollection **out)
{
	PersistSource *src = (PersistSource *) source;

	*out = src->collections;
	return src->ncollections;
}

static int
persist_skipped(MigrateSource *source, char ***reasons)
{
	PersistSource *src = (PersistSource *) source;

	*reasons = src->skipped;
	return src->nskipped;
}

/*
 * The vector map: a string-keyed open-addressing hash table of id ->
 * where its current vector is.
 */
static uint64_t
hash_id(const char *s)
{
	uint64_t	h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char) *s) * 1099511628211ULL;
	return h;
}

static VectorRef *
vector_ref(VectorMap *map, const char *id, bool create)
{
	size_t		i;

	if (create && (map->used + 1) * 2 > map->size)
	{
		VectorRef  *old = map->slots;
		size_t		oldsize = map->size;

		map->size = oldsize ? oldsize * 2 : 1024;
		map->slots = pg_malloc0(sizeof(VectorRef) * map->size);
		for (size_t j = 0; j < oldsize; j++)
		{
			if (old[j].id == NULL)
				continue;
			i = hash_id(old[j].id) & (map->size - 1);
			while (map->slots[i].id)
				i = (i + 1) & (map->size - 1);
			map->slots[i] = old[j];
		}
		pg_free(old);
	}
	if (map->size == 0)
		return NULL;
	i = hash_id(id) & (map->size - 1);
	while (map->slots[i].id)
	{
		if (strcmp(map->slots[i].id, id) == 0)
			return &map->slots[i];
		i = (i + 1) & (map->size - 1);
	}
	if (!create)
		return NULL;
	map->slots[i].id = batch_strdup(&map->strings, id, -1);
	map->slots[i].seq = 0;
	map->slots[i].element = -1;
	map->slots[i].exists = false;
	map->used++;
	return &map->slots[i];
}

/* a live element of the HNSW files and its label */
typedef struct LabelElement
{
	uint64_t	label;
	int64_t		element;
} LabelElement;

/* by label, then element */
static int
cmp_label_element(const void *a, const void *b)
{
	const LabelElement *x = a;
	const LabelElement *y = b;

	if (x->label != y->label)
		return x->label < y->label ? -1 : 1;
	if (x->element != y->element)
		return x->element < y->element ? -1 : 1;
	return 0;
}

/*
 * The element with this label, or NULL; of two live elements with the
 * same label (hnswlib never makes them), the later one
 */
static LabelElement *
find_label(LabelElement *sorted, size_t n, uint64_t label)
{
	size_t		lo = 0,
				hi = n;

	/* the first entry with a larger label */
	while (lo < hi)
	{
		size_t		mid = lo + (hi - lo) / 2;

		if (sorted[mid].label <= label)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0 || sorted[lo - 1].label != label)
		return NULL;
	return &sorted[lo - 1];
}

/* the HNSW files' vectors, as of cur->vector_seq */
static void
load_hnsw(PersistCursor *cur)
{
	MigrateCollection *c = cur->coll;
	char		err[512];
	char	   *path;
	struct stat sb;
	uint8_t    *data;
	size_t		len;
	FILE	   *f;
	ChromaLabelMap map = {0};
	LabelElement *bylabel;
	size_t		nlabels;

	if (c->vector_segment == NULL)
		return;
	if (!migrate_is_uuid(c->vector_segment))
		pg_fatal("%s: the vector segment id \"%s\" of collection \"%s\" is not a uuid",
				 cur->src->dbpath, c->vector_segment, c->name);
	cur->hnsw_dir = psprintf("%s/%s", cur->src->dir, c->vector_segment);
	path = psprintf("%s/header.bin", cur->hnsw_dir);
	if (stat(path, &sb) != 0)
		return;					/* never flushed: the log has everything */
	if (chroma_hnsw_open(cur->hnsw_dir, &cur->hnsw, err, sizeof(err)) != 0)
		pg_fatal("%s", err);
	cur->hnsw_open = true;
	if (cur->hnsw.cur_element_count == 0)
		return;

	/* the id <-> label map */
	pg_free(path);
	path = psprintf("%s/index_metadata.pickle", cur->hnsw_dir);
	f = fopen(path, "rb");
	if (f == NULL)
		pg_fatal("could not open \"%s\": %m (header.bin says the index holds %llu elements)",
				 path, (unsigned long long) cur->hnsw.cur_element_count);
	if (fstat(fileno(f), &sb) != 0)
		pg_fatal("could not stat \"%s\": %m", path);
	len = sb.st_size;
	data = pg_malloc(len + 1);
	if (fread(data, 1, len, f) != len)
		pg_fatal("could not read \"%s\": %m", path);
	fclose(f);
	if (chroma_pickle_label_map(data, len, &map, err, sizeof(err)) != 0)
		pg_fatal("%s: %s", path, err);
	pg_free(data);
	if (map.dimensionality > 0 && cur->hnsw.dim != map.dimensionality)
		pg_fatal("%s: dimensionality %lld, but header.bin says %d",
				 path, (long long) map.dimensionality, cur->hnsw.dim);
	if (c->dimension > 0 && cur->hnsw.dim != c->dimension)
		pg_fatal("%s/header.bin: vectors of %d dimensions, but collection \"%s\" has %d",
				 cur->hnsw_dir, cur->hnsw.dim, c->name, c->dimension);
	if (cur->hnsw.dim > MIGRATE_MAX_DIM)
		pg_fatal("%s/header.bin: vectors of %d dimensions; vecq's vector type takes at most %d",
				 cur->hnsw_dir, cur->hnsw.dim, MIGRATE_MAX_DIM);
	if (cur->vector_seq < 0 && map.max_seq_id >= 0)
		cur->vector_seq = map.max_seq_id;

	/* label -> element: the live elements sorted by label, searched */
	bylabel = pg_malloc(sizeof(LabelElement) * Max(cur->hnsw.cur_element_count, 1));
	nlabels = 0;
	for (uint64_t i = 0; i < cur->hnsw.cur_element_count; i++)
	{
		bool		deleted;
		uint64_t	label;

		if (chroma_hnsw_element(&cur->hnsw, i, &label, &deleted, NULL,
								err, sizeof(err)) != 0)
			pg_fatal("%s", err);
		/* a page per element is read: keep them out of our memory */
		if (i % 16384 == 16383)
			chroma_hnsw_release(&cur->hnsw);
		if (deleted)
			continue;
		bylabel[nlabels].label = label;
		bylabel[nlabels].element = i;
		nlabels++;
	}
	qsort(bylabel, nlabels, sizeof(LabelElement), cmp_label_element);
	for (size_t j = 0; j < map.count; j++)
	{
		LabelElement *byl = find_label(bylabel, nlabels, map.labels[j]);
		VectorRef  *r;

		if (byl == NULL)
			pg_fatal("%s: id \"%s\" has label %llu, which %s/data_level0.bin does not hold (or marks deleted)",
					 path, map.ids[j], (unsigned long long) map.labels[j], cur->hnsw_dir);
		r = vector_ref(&cur->vectors, map.ids[j], true);
		r->element = byl->element;
		r->seq = 0;
		r->exists = true;
	}
	pg_free(bylabel);
	chroma_label_map_free(&map);
	pg_free(path);
	chroma_hnsw_release(&cur->hnsw);
}

/* replay the log after what the HNSW files hold */
static void
replay_log(PersistCursor *cur)
{
	PersistSource *src = cur->src;
	MigrateCollection *c = cur->coll;
	sqlite3_stmt *st;
	char	   *topic = psprintf("%%/%s", c->id);
	int64_t		last = -1;

	st = prepare(src, "SELECT seq_id, operation, id, vector IS NOT NULL FROM embeddings_queue "
				 "WHERE topic LIKE ?1 AND seq_id > ?2 ORDER BY seq_id");
	sqlite3_bind_text(st, 1, topic, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, cur->vector_seq);
	while (step(src, st))
	{
		int64_t		seq = sqlite3_column_int64(st, 0);
		int			op = sqlite3_column_int(st, 1);
		const char *id = (const char *) sqlite3_column_text(st, 2);
		bool		has_vector = sqlite3_column_int(st, 3) != 0;
		VectorRef  *r;

		last = seq;
		if (id == NULL)
			pg_fatal("%s: log entry %lld has no id", src->dbpath, (long long) seq);
		r = vector_ref(&cur->vectors, id, true);
		switch (op)
		{
			case OP_ADD:
				if (!r->exists && has_vector)
				{
					r->exists = true;
					r->seq = seq;
				}
				break;
			case OP_UPDATE:
				if (r->exists && has_vector)
					r->seq = seq;
				break;
			case OP_UPSERT:
				if (has_vector)
				{
					r->exists = true;
					r->seq = seq;
				}
				break;
			case OP_DELETE:
				r->exists = false;
				r->seq = 0;
				r->element = -1;
				break;
			default:
				pg_fatal("%s: log entry %lld has an unknown operation %d",
						 src->dbpath, (long long) seq, op);
		}
	}
	sqlite3_finalize(st);
	pg_free(topic);

	if (c->metadata_segment && last > c->source_seq && c->source_seq >= 0)
		pg_fatal("%s: the log of collection \"%s\" goes to entry %lld, but its metadata segment only to %lld",
				 src->dbpath, c->name, (long long) last, (long long) c->source_seq);
	if (last > c->source_seq)
		c->source_seq = last;
}

/*
 * Read every logged vector that a live record takes, so that a bad one
 * stops the run while the preflight opens the cursors, before anything is
 * written (the HNSW files' vectors are checked as they are mapped)
 */
static void
check_log_vectors(PersistCursor *cur)
{
	int			dim = cur->coll->dimension;
	float	   *v = pg_malloc(sizeof(float) * MIGRATE_MAX_DIM);

	for (size_t i = 0; i < cur->vectors.size; i++)
	{
		VectorRef  *r = &cur->vectors.slots[i];

		if (r->id && r->exists && r->seq > 0)
			queue_vector(cur, r->seq, r->id, v, dim);
	}
	pg_free(v);
}

static MigrateCursor *
persist_records(MigrateSource *source, MigrateCollection *coll, int64_t after_position)
{
	return open_cursor((PersistSource *) source, coll, after_position, NULL, false);
}

/*
 * A cursor over a collection's records after a position; only_ids (a JSON
 * array, taken over): only those; ids_only: the records' ids and positions,
 * nothing else read
 */
static MigrateCursor *
open_cursor(PersistSource *src, MigrateCollection *coll, int64_t after_position,
			char *only_ids, bool ids_only)
{
	PersistCursor *cur = pg_malloc0(sizeof(PersistCursor));

	cur->base.source = &src->base;
	cur->src = src;
	cur->coll = coll;
	cur->after = after_position;
	cur->only_ids = only_ids;
	cur->ids_only = ids_only;
	batch_init(&cur->vectors.strings, 1);
	if (coll->metadata_segment == NULL || coll->records == 0)
	{
		cur->done = true;
		return &cur->base;
	}
	if (ids_only)
	{
		cur->records = prepare(src, "SELECT id, embedding_id FROM embeddings "
							   "WHERE +segment_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3");
		return &cur->base;
	}
	cur->vector_seq = segment_seq(src, coll->vector_segment);
	load_hnsw(cur);
	if (cur->vector_seq < 0)
		cur->vector_seq = 0;
	replay_log(cur);

	/*
	 * A batch is a range of the rowid, walked from the last one read: the
	 * unary + keeps sqlite from taking the (segment_id, embedding_id) index,
	 * with which every batch would read and sort the whole segment (a few
	 * ids only: that index finds them)
	 */
	cur->records = prepare(src, cur->only_ids ?
						   "SELECT id, embedding_id FROM embeddings "
						   "WHERE segment_id = ?1 AND id > ?2 "
						   "AND embedding_id IN (SELECT value FROM json_each(?4)) "
						   "ORDER BY id LIMIT ?3" :
						   "SELECT id, embedding_id FROM embeddings "
						   "WHERE +segment_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3");
	cur->metadata = prepare(src, src->meta_bool ?
							"SELECT id, key, string_value, int_value, float_value, bool_value "
							"FROM embedding_metadata WHERE id BETWEEN ?1 AND ?2 ORDER BY id, key" :
							"SELECT id, key, string_value, int_value, float_value "
							"FROM embedding_metadata WHERE id BETWEEN ?1 AND ?2 ORDER BY id, key");
	if (src->meta_arrays)
		cur->arrays = prepare(src, "SELECT id, key, string_value, int_value, float_value, bool_value "
							  "FROM embedding_metadata_array WHERE id BETWEEN ?1 AND ?2 "
							  "ORDER BY id, key, rowid");
	cur->queue_vector = prepare(src, "SELECT vector, encoding FROM embeddings_queue WHERE seq_id = ?1");
	check_log_vectors(cur);
	return &cur->base;
}

/* the vector of a log entry, into out (dim floats) */
static int
queue_vector(PersistCursor *cur, int64_t seq, const char *id, float *out, int dim)
{
	PersistSource *src = cur->src;
	sqlite3_stmt *st = cur->queue_vector;
	const unsigned char *b;
	const char *enc;
	int			n;
	int			count;

	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, seq);
	if (!step(src, st))
		pg_fatal("%s: log entry %lld disappeared while reading", src->dbpath, (long long) seq);
	b = sqlite3_column_blob(st, 0);
	n = sqlite3_column_bytes(st, 0);
	enc = (const char *) sqlite3_column_text(st, 1);
	if (n % 4 != 0 || n == 0)
		pg_fatal("%s: the vector of record \"%s\" (log entry %lld) has %d bytes, not a multiple of 4",
				 src->dbpath, id, (long long) seq, n);
	count = n / 4;
	if (count > MIGRATE_MAX_DIM)
		pg_fatal("%s: record \"%s\" (log entry %lld) has %d dimensions; vecq's vector type takes at most %d",
				 src->dbpath, id, (long long) seq, count, MIGRATE_MAX_DIM);
	if (dim > 0 && count != dim)
		pg_fatal("%s: record \"%s\" (log entry %lld) has %d dimensions, but its collection \"%s\" has %d",
				 src->dbpath, id, (long long) seq, count, cur->coll->name, dim);
	for (int i = 0; i < count; i++)
	{
		uint32_t	u = (uint32_t) b[4 * i] | ((uint32_t) b[4 * i + 1] << 8) |
			((uint32_t) b[4 * i + 2] << 16) | ((uint32_t) b[4 * i + 3] << 24);

		if (enc == NULL || strcmp(enc, "FLOAT32") == 0)
			memcpy(&out[i], &u, 4);
		else if (strcmp(enc, "INT32") == 0)
			out[i] = (float) (int32_t) u;
		else
			pg_fatal("%s: log entry %lld has an unknown vector encoding \"%s\"",
					 src->dbpath, (long long) seq, enc);
		if (!isfinite(out[i]))
			pg_fatal("%s: record \"%s\" (log entry %lld) has a vector element that is not finite",
					 src->dbpath, id, (long long) seq);
	}
	return count;
}

/* the vector of an HNSW element (cosine ones are stored unit length) */
static void
hnsw_vector(PersistCursor *cur, int64_t element, float *out)
{
	char		err[512];
	bool		deleted;
	uint64_t	label;

	/* the collection's dimension may come from a log vector read before */
	if (cur->coll->dimension > 0 && cur->hnsw.dim != cur->coll->dimension)
		pg_fatal("%s/header.bin: vectors of %d dimensions, but collection \"%s\" has %d",
				 cur->hnsw_dir, cur->hnsw.dim, cur->coll->name, cur->coll->dimension);
	if (chroma_hnsw_element(&cur->hnsw, element, &label, &deleted, out, err, sizeof(err)) != 0)
		pg_fatal("%s", err);
	if (strcmp(cur->coll->space, "cosine") == 0)
	{
		float		norm;

		if (chroma_hnsw_length(&cur->hnsw, element, &norm, err, sizeof(err)) != 0)
			pg_fatal("%s", err);
		for (int i = 0; i < cur->hnsw.dim; i++)
			out[i] *= norm;
	}
	/* vecq's vector type takes no NaN or infinity: say where it is */
	for (int i = 0; i < cur->hnsw.dim; i++)
		if (!isfinite(out[i]))
			pg_fatal("%s/data_level0.bin: element %lld (label %llu) has a vector element that is not finite%s",
					 cur->hnsw_dir, (long long) element, (unsigned long long) label,
					 strcmp(cur->coll->space, "cosine") == 0 ? " (times its norm in length.bin)" : "");
}

/* the next batch of records into batch (what persist_next_batch returns) */
static bool
read_batch(PersistCursor *cur, MigrateBatch *batch, int max_records)
{
	PersistSource *src = cur->src;
	MigrateCollection *c = cur->coll;
	int			n;
	int64_t		lo,
				hi;
	bool		have_meta,
				have_array = false;
	int			dim;

	batch_reset(batch);
	if (cur->done)
		return false;
	if (max_records > batch->capacity)
		max_records = batch->capacity;

	sqlite3_reset(cur->records);
	sqlite3_bind_text(cur->records, 1, c->metadata_segment, -1, SQLITE_STATIC);
	sqlite3_bind_int64(cur->records, 2, cur->after);
	sqlite3_bind_int(cur->records, 3, max_records);
	if (cur->only_ids)
		sqlite3_bind_text(cur->records, 4, cur->only_ids, -1, SQLITE_STATIC);
	n = 0;
	while (step(src, cur->records))
	{
		MigrateRecord *r = &batch->records[n++];

		memset(r, 0, sizeof(*r));
		r->position = sqlite3_column_int64(cur->records, 0);
		/* the paging by "id > last" needs increasing integers */
		if (sqlite3_column_type(cur->records, 0) != SQLITE_INTEGER ||
			r->position <= (n > 1 ? r[-1].position : cur->after))
			pg_fatal("%s: embeddings.id of collection \"%s\" is not an increasing integer after %lld",
					 src->dbpath, c->name, (long long) (n > 1 ? r[-1].position : cur->after));
		if (sqlite3_column_type(cur->records, 1) == SQLITE_NULL)
			pg_fatal("%s: record %lld of collection \"%s\" has no id (embeddings.embedding_id is NULL)",
					 src->dbpath, (long long) r->position, c->name);
		r->id = batch_strdup(batch, (const char *) sqlite3_column_text(cur->records, 1),
							 sqlite3_column_bytes(cur->records, 1));
		if (pg_encoding_verifymbstr(PG_UTF8, r->id, sqlite3_column_bytes(cur->records, 1)) !=
			sqlite3_column_bytes(cur->records, 1))
			pg_fatal("%s: record %lld of collection \"%s\" has an id that is not valid UTF-8 or contains a NUL byte",
					 src->dbpath, (long long) r->position, c->name);
	}
	if (n < max_records)
		cur->done = true;
	if (n == 0)
		return false;
	batch->count = n;
	cur->after = batch->records[n - 1].position;
	if (cur->ids_only)
		return true;

	/* vectors */
	for (int i = 0; i < n; i++)
	{
		MigrateRecord *r = &batch->records[i];
		VectorRef  *v = vector_ref(&cur->vectors, r->id, false);

		if (v == NULL || !v->exists)
			pg_fatal("%s: record \"%s\" of collection \"%s\" has no vector: none in embeddings_queue after entry %lld%s",
					 src->dbpath, r->id, c->name, (long long) cur->vector_seq,
					 cur->hnsw_open ? " and none in the HNSW segment" : " and the HNSW segment was never written");
		dim = c->dimension > 0 ? c->dimension : (cur->hnsw_open && v->seq == 0 ? cur->hnsw.dim : 0);
		if (v->seq > 0)
		{
			if (cur->scratch == NULL)
				cur->scratch = pg_malloc(sizeof(float) * MIGRATE_MAX_DIM);
			dim = queue_vector(cur, v->seq, r->id, cur->scratch, dim);
			r->embedding = batch_alloc(batch, sizeof(float) * dim);
			memcpy(r->embedding, cur->scratch, sizeof(float) * dim);
		}
		else
		{
			dim = cur->hnsw.dim;
			r->embedding = batch_alloc(batch, sizeof(float) * dim);
			hnsw_vector(cur, v->element, r->embedding);
		}
		r->dim = dim;
		if (c->dimension == 0)
			c->dimension = dim;
	}
	/* the pages read stay in the page cache, not in our memory */
	if (cur->hnsw_open)
		chroma_hnsw_release(&cur->hnsw);

	/* documents, uris and metadata: merge the rows of [lo, hi] in id order */
	lo = batch->records[0].position;
	hi = batch->records[n - 1].position;
	sqlite3_reset(cur->metadata);
	sqlite3_bind_int64(cur->metadata, 1, lo);
	sqlite3_bind_int64(cur->metadata, 2, hi);
	have_meta = step(src, cur->metadata);
	if (cur->arrays)
	{
		sqlite3_reset(cur->arrays);
		sqlite3_bind_int64(cur->arrays, 1, lo);
		sqlite3_bind_int64(cur->arrays, 2, hi);
		have_array = step(src, cur->arrays);
	}
	for (int i = 0; i < n; i++)
	{
		MigrateRecord *r = &batch->records[i];
		MigrateJson *js = &cur->json;
		char	   *what = NULL;

		mjson_begin_object(js);
		while (have_meta && sqlite3_column_int64(cur->metadata, 0) < r->position)
			have_meta = step(src, cur->metadata);
		while (have_meta && sqlite3_column_int64(cur->metadata, 0) == r->position)
		{
			const char *key = (const char *) sqlite3_column_text(cur->metadata, 1);
			sqlite3_stmt *m = cur->metadata;

			if (key && strcmp(key, "chroma:document") == 0 &&
				sqlite3_column_type(m, 2) != SQLITE_NULL)
			{
				r->document = batch_strdup(batch, (const char *) sqlite3_column_text(m, 2),
										   sqlite3_column_bytes(m, 2));
				check_record_text(src, r->id, "document", r->document,
								  sqlite3_column_bytes(m, 2));
			}
			else if (key && strcmp(key, "chroma:uri") == 0 &&
					 sqlite3_column_type(m, 2) != SQLITE_NULL)
			{
				r->uri = batch_strdup(batch, (const char *) sqlite3_column_text(m, 2),
									  sqlite3_column_bytes(m, 2));
				check_record_text(src, r->id, "uri", r->uri,
								  sqlite3_column_bytes(m, 2));
			}
			else if (key)
			{
				if (what == NULL)
					what = psprintf("metadata of record \"%s\"", r->id);
				check_text(src, what, "key", key, sqlite3_column_bytes(m, 1));
				mjson_key(js, key);
				metadata_value(src, m, 2, src->meta_bool, js, what);
			}
			have_meta = step(src, m);
		}
		while (have_array && sqlite3_column_int64(cur->arrays, 0) < r->position)
			have_array = step(src, cur->arrays);
		while (have_array && sqlite3_column_int64(cur->arrays, 0) == r->position)
		{
			char	   *key;
			const char *ktext;
			int			klen;
			int			elems = 0;

			if (what == NULL)
				what = psprintf("metadata of record \"%s\"", r->id);
			if (sqlite3_column_type(cur->arrays, 1) == SQLITE_NULL)
				pg_fatal("%s: %s has an array whose key is NULL (embedding_metadata_array.key)",
						 src->dbpath, what);
			/* all its bytes (not pg_strdup): a NUL inside must reach check_text */
			ktext = (const char *) sqlite3_column_text(cur->arrays, 1);
			klen = sqlite3_column_bytes(cur->arrays, 1);
			if (ktext == NULL)
				pg_fatal("out of memory");
			key = pg_malloc(klen + 1);
			memcpy(key, ktext, klen);
			key[klen] = '\0';
			check_text(src, what, "key", key, klen);
			mjson_key(js, key);
			mjson_raw(js, "[");
			while (have_array && sqlite3_column_int64(cur->arrays, 0) == r->position &&
				   strcmp((const char *) sqlite3_column_text(cur->arrays, 1), key) == 0)
			{
				if (elems++ > 0)
					mjson_raw(js, ",");
				metadata_value(src, cur->arrays, 2, true, js, what);
				have_array = step(src, cur->arrays);
			}
			mjson_raw(js, "]");
			pg_free(key);
		}
		mjson_end_object(js);
		/*
		 * Chroma keeps the uri among the metadata and answers {} (not null)
		 * for a record with a uri and no other keys; a document alone gives
		 * null
		 */
		if (js->members > 0 || r->uri != NULL)
			r->metadata = batch_strdup(batch, js->data, js->len);
		if (what)
			pg_free(what);
	}
	return true;
}

/*
 * The ids the log touched after since_seq, if it still holds every entry
 * after it: Chroma purges entries only up to what all the collection's
 * segments hold, and the vector segment holds least, so the log is whole
 * after since_seq when the vector segment's max_seq_id is not past it
 */
static bool
persist_changed_ids(MigrateSource *source, MigrateCollection *coll, int64_t since_seq,
					char ***ids, int *n)
{
	PersistSource *src = (PersistSource *) source;
	sqlite3_stmt *st;
	char	   *topic;
	int			cap = 64;

	*ids = NULL;
	*n = 0;
	if (coll->metadata_segment == NULL || since_seq < 0 ||
		segment_seq(src, coll->vector_segment) > since_seq)
		return false;
	topic = psprintf("%%/%s", coll->id);
	st = prepare(src, "SELECT DISTINCT id FROM embeddings_queue "
				 "WHERE topic LIKE ?1 AND seq_id > ?2 AND id IS NOT NULL");
	sqlite3_bind_text(st, 1, topic, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, since_seq);
	*ids = pg_malloc(sizeof(char *) * cap);
	while (step(src, st))
	{
		if (*n == cap)
		{
			cap *= 2;
			*ids = pg_realloc(*ids, sizeof(char *) * cap);
		}
		(*ids)[(*n)++] = pg_strdup((const char *) sqlite3_column_text(st, 0));
	}
	sqlite3_finalize(st);
	pg_free(topic);
	return true;
}

/* the records of these ids only, in the source's order */
static MigrateCursor *
persist_records_with_ids(MigrateSource *source, MigrateCollection *coll, char **ids, int n)
{
	json_t	   *array = json_array();
	char	   *text;
	char	   *copy;

	for (int i = 0; i < n; i++)
	{
		json_t	   *v = json_string(ids[i]);

		if (v == NULL)
			pg_fatal("%s: the id \"%s\" is not valid UTF-8", ((PersistSource *) source)->dbpath,
					 ids[i]);
		json_array_append_new(array, v);
	}
	text = json_dumps(array, JSON_COMPACT);
	json_decref(array);
	if (text == NULL)
		pg_fatal("out of memory");
	copy = pg_strdup(text);
	free(text);
	return open_cursor((PersistSource *) source, coll, 0, copy, false);
}

/* every record's id and position, in the source's order, and nothing else */
static MigrateCursor *
persist_ids(MigrateSource *source, MigrateCollection *coll)
{
	return open_cursor((PersistSource *) source, coll, 0, NULL, true);
}

/*
 * Whether a thread reads the next batch ahead (a harness whose pg_fatal
 * returns by longjmp turns it off: that cannot cross threads)
 */
bool		persist_read_ahead = true;

static void *
reader_main(void *arg)
{
	PersistCursor *cur = arg;

	cur->next_ok = read_batch(cur, &cur->next, cur->next_max);
	return NULL;
}

/*
 * The records after the last batch, up to max_records of them.  While the
 * caller writes one batch, a thread reads the next one into a second
 * batch, which the next call hands over by swapping it with the caller's
 * (whose records the caller is done with by then): reading the source and
 * writing the target overlap, in twice a batch's memory.  The caller asks
 * for the same max_records each time.  A source error found by the thread
 * ends the program as it would have one batch later.
 */
static bool
persist_next_batch(MigrateCursor *cursor, MigrateBatch *batch, int max_records)
{
	PersistCursor *cur = (PersistCursor *) cursor;
	bool		ok;

	if (cur->reading)
	{
		MigrateBatch tmp;
		int			rc = pthread_join(cur->reader, NULL);

		if (rc != 0)
			pg_fatal("could not wait for the reading thread: %s", strerror(rc));
		cur->reading = false;
		if (cur->next.count > Min(max_records, batch->capacity))
			pg_fatal("batch size changed from %d to %d records while reading",
					 cur->next_max, max_records);
		tmp = *batch;
		*batch = cur->next;
		cur->next = tmp;
		ok = cur->next_ok;
	}
	else
		ok = read_batch(cur, batch, max_records);

	if (ok && !cur->done && persist_read_ahead)
	{
		int			rc;

		if (cur->next.records == NULL || cur->next.capacity != batch->capacity)
		{
			if (cur->next.records)
				batch_free(&cur->next);
			batch_init(&cur->next, batch->capacity);
		}
		cur->next_max = max_records;
		rc = pthread_create(&cur->reader, NULL, reader_main, cur);
		if (rc != 0)
			pg_fatal("could not start a reading thread: %s", strerror(rc));
		cur->reading = true;
	}
	return ok;
}

/*
 * The graph of the HNSW files, element by element, as a graph seed: each
 * element that is a record's current vector with the hash of that vector
 * (as read_batch copied it) and its lists on every level; the others as
 * elements of no row.  False when there are no HNSW files, or their graph
 * cannot be a seed (more levels than a seed holds, lists longer than one
 * takes, a link_lists.bin that does not read: a warning says which).
 */
static bool
persist_graph_seed(MigrateCursor *cursor, SeedWriter *w)
{
	PersistCursor *cur = (PersistCursor *) cursor;
	ChromaHnswIndex *h = &cur->hnsw;
	char		err[512];
	uint8_t    *live;
	float	   *vec;
	uint32_t   *ids;
	uint32_t	counts[GRAPH_SEED_MAX_LEVEL + 1];
	const uint32_t *lists[GRAPH_SEED_MAX_LEVEL + 1];
	uint32_t	room;

	if (!cur->hnsw_open || cur->ids_only || h->cur_element_count == 0)
		return false;
	if (h->maxlevel > GRAPH_SEED_MAX_LEVEL || h->maxM0 > GRAPH_SEED_MAX_LINKS ||
		h->maxM > GRAPH_SEED_MAX_LINKS)
	{
		pg_log_warning("%s: a graph of %d levels and lists of up to %llu is more than an index build takes as a seed",
					   cur->hnsw_dir, (int) h->maxlevel + 1,
					   (unsigned long long) Max(h->maxM0, h->maxM));
		return false;
	}
	if (h->maxlevel > 0 && h->links_at == NULL &&
		chroma_hnsw_open_links(cur->hnsw_dir, h, err, sizeof(err)) != 0)
	{
		pg_log_warning("%s (the index is built without Chroma's graph)", err);
		return false;
	}

	/* the elements that are some record's vector as copied */
	live = pg_malloc0(h->cur_element_count);
	for (size_t i = 0; i < cur->vectors.size; i++)
	{
		VectorRef  *r = &cur->vectors.slots[i];

		if (r->id && r->exists && r->seq == 0 && r->element >= 0 &&
			(uint64_t) r->element < h->cur_element_count)
			live[r->element] = 1;
	}

	vec = pg_malloc(sizeof(float) * Max(h->dim, 1));
	room = (uint32_t) Max(h->maxM0, h->maxM);
	ids = pg_malloc(sizeof(uint32_t) * room * (GRAPH_SEED_MAX_LEVEL + 1));
	for (uint64_t i = 0; i < h->cur_element_count && !w->failed; i++)
	{
		int			level;

		if (i % 16384 == 16383)
			chroma_hnsw_release(h);
		if (!live[i])
		{
			seed_element(w, 0, GRAPH_SEED_NO_ROW, NULL, NULL);
			continue;
		}
		level = chroma_hnsw_level(h, i, err, sizeof(err));
		for (int lc = 0; level >= 0 && lc <= level; lc++)
		{
			if (chroma_hnsw_neighbors(h, i, lc, ids + (size_t) lc * room, room,
									  &counts[lc], err, sizeof(err)) != 0)
				level = -1;
			lists[lc] = ids + (size_t) lc * room;
		}
		if (level < 0)
		{
			/* the chunks sent so far are dropped by the caller */
			w->failed = true;
			w->why = psprintf("%s/%s", cur->hnsw_dir, err);
			break;
		}
		hnsw_vector(cur, (int64_t) i, vec);
		seed_element(w, graph_seed_vector_hash(vec, h->dim), level, lists, counts);
	}
	chroma_hnsw_release(h);
	pg_free(ids);
	pg_free(vec);
	pg_free(live);
	return true;
}

static void
persist_cursor_close(MigrateCursor *cursor)
{
	PersistCursor *cur = (PersistCursor *) cursor;

	if (cur->reading)
		pthread_join(cur->reader, NULL);
	if (cur->next.records)
		batch_free(&cur->next);

	if (cur->records)
		sqlite3_finalize(cur->records);
	if (cur->metadata)
		sqlite3_finalize(cur->metadata);
	if (cur->arrays)
		sqlite3_finalize(cur->arrays);
	if (cur->queue_vector)
		sqlite3_finalize(cur->queue_vector);
	if (cur->hnsw_open)
		chroma_hnsw_close(&cur->hnsw);
	pg_free(cur->vectors.slots);
	batch_free(&cur->vectors.strings);
	mjson_free(&cur->json);
	pg_free(cur->scratch);
	pg_free(cur->hnsw_dir);
	pg_free(cur->only_ids);
	pg_free(cur);
}

static void
persist_close(MigrateSource *source)
{
	PersistSource *src = (PersistSource *) source;


	sqlite3_close(src->db);
}
