/*-------------------------------------------------------------------------
 *
 * migrate_catchup.c
 *	  --catch-up: brings a collection copied before up to date with its
 *	  source, writing only what changed since.
 *
 * Three ways, cheapest first:
 *
 *	- a collection whose log position (the last embeddings_queue entry its
 *	  segments hold) and record count are those of the last copy, and whose
 *	  copy has that many rows, is left alone without reading a record;
 *	- a persist directory whose log still holds every entry after the last
 *	  copy's position (its vector segment was not flushed past it since):
 *	  only the ids those entries touched are compared (below), with a
 *	  record's source position telling whether it was added since (past the
 *	  last position copied: it goes to the end) or changed in place; then
 *	  the target's ids in seq order must be the source's ids in its order,
 *	  else the copy was written to in Postgres since, and the work is rolled
 *	  back to a savepoint and done the third way;
 *	- everything: the target's rows are read back in seq order and each
 *	  one's content (vector bits, document, uri, metadata as canonical JSON)
 *	  is hashed into a map id -> (place, hash); then the source is streamed
 *	  in its order, and
 *		. an id it has, in the same relative place, with another hash is
 *		  updated in place (its seq, which get orders by, stays);
 *		. an id the target does not have, or one out of place (Chroma puts
 *		  a record that was deleted and added again at the end of its
 *		  order), is added at the end, and so is every id after it in the
 *		  source's order, deleted first where the target has it: from there
 *		  on the source holds only records added since, so the target ends
 *		  in the same order;
 *		. an id the source no longer has is deleted.
 *
 * A server's API has no log position: its collections are always compared
 * the third way.  The first two trust that record contents were not changed
 * in Postgres since (the ids and their order are checked); the third undoes
 * any such writes.
 *
 * Changes are staged in temporary tables by binary COPY while the source
 * streams, then applied in the same transaction with three statements,
 * with the collection's table locked against other writers and its row of
 * chroma.migrations advanced: a catch-up that fails changes nothing.
 * Memory is the id map (the ids and 24 bytes per record) and one batch.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <arpa/inet.h>

#include <jansson.h>

#include "common/logging.h"
#include "migrate.h"

/* an id of the target, where it is and what it holds */
typedef struct CatchupEntry
{
	const char *id;				/* NULL: free slot */
	uint64_t	hash;
	int64_t		place;			/* 1, 2, ... in seq order */
	bool		seen;			/* the source has it */
	bool		moved;			/* to be deleted and added at the end */
} CatchupEntry;

typedef struct CatchupMap
{
	CatchupEntry *slots;
	size_t		size;			/* a power of two */
	size_t		used;
	MigrateBatch strings;		/* the ids */
} CatchupMap;

/* FNV-1a, 64 bits, over length-prefixed fields */
#define FNV_OFFSET	UINT64_C(14695981039346656037)
#define FNV_PRIME	UINT64_C(1099511628211)

static uint64_t
mix(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++)
	{
		h ^= p[i];
		h *= FNV_PRIME;
	}
	return h;
}

static uint64_t
mix_field(uint64_t h, const char *s, int len)
{
	int32_t		n = s ? len : -1;

	h = mix(h, &n, sizeof(n));
	return s ? mix(h, s, len) : h;
}

/*
 * Metadata as canonical JSON (sorted keys, reals with 17 digits, integers
 * and reals kept apart), so that the source's text and jsonb's output of
 * the same object hash alike; text jansson does not take (integers past
 * 64 bits) is hashed as it is, which at worst rewrites an unchanged record
 */
static uint64_t
mix_metadata(uint64_t h, const char *s, int len)
{
	json_t	   *j;
	char	   *canon;

	if (s == NULL)
		return mix_field(h, NULL, 0);
	j = json_loadb(s, len, JSON_DECODE_ANY, NULL);
	canon = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY |
						   JSON_REAL_PRECISION(17)) : NULL;
	json_decref(j);
	if (canon == NULL)
		return mix_field(h, s, len);
	h = mix_field(h, canon, strlen(canon));
	free(canon);
	return h;
}

/* a source record's hash */
static uint64_t
record_hash(const MigrateRecord *r)
{
	uint64_t	h = FNV_OFFSET;
	int32_t		dim = r->dim;

	h = mix(h, &dim, sizeof(dim));
	for (int d = 0; d < r->dim; d++)
	{
		uint32_t	u;

		memcpy(&u, &r->embedding[d], 4);
		h = mix(h, &u, 4);
	}
	h = mix_field(h, r->document, r->document ? strlen(r->document) : 0);
	h = mix_field(h, r->uri, r->uri ? strlen(r->uri) : 0);
	return mix_metadata(h, r->metadata, r->metadata ? strlen(r->metadata) : 0);
}

/* the same for a target row (binary forms: see migrate_copyout.c) */
static uint64_t
row_hash(const TargetRow *row)
{
	uint64_t	h = FNV_OFFSET;
	int32_t		dim = -1;

	if (row->flen[1] >= 4)
		dim = (int16_t) ntohs(*(const uint16_t *) row->field[1]);
	if (dim < 0 || row->flen[1] != 4 + 4 * dim)
		dim = -1;				/* NULL or malformed: never equal */
	h = mix(h, &dim, sizeof(dim));
	for (int d = 0; d < dim; d++)
	{
		uint32_t	u = copyout_get32(row->field[1] + 4 + 4 * d);

		h = mix(h, &u, 4);
	}
	h = mix_field(h, row->flen[2] < 0 ? NULL : row->field[2], row->flen[2]);
	h = mix_field(h, row->flen[4] < 0 ? NULL : row->field[4], row->flen[4]);
	if (row->flen[3] < 1)
		return mix_metadata(h, NULL, 0);
	return mix_metadata(h, row->field[3] + 1, row->flen[3] - 1);
}

static uint64_t
id_hash(const char *s, size_t len)
{
	return mix(FNV_OFFSET, s, len);
}

/* the map's slot of id (len bytes), or the free slot where it would go */
static CatchupEntry *
map_slot(CatchupMap *map, const char *id, size_t len)
{
	size_t		i = id_hash(id, len) & (map->size - 1);

	for (;;)
	{
		CatchupEntry *e = &map->slots[i];

		if (e->id == NULL ||
			(strncmp(e->id, id, len) == 0 && e->id[len] == '\0'))
			return e;
		i = (i + 1) & (map->size - 1);
	}
}

static void
map_grow(CatchupMap *map)
{
	CatchupEntry *old = map->slots;
	size_t		oldsize = map->size;

	map->size = oldsize ? oldsize * 2 : 1024;
	map->slots = pg_malloc0(sizeof(CatchupEntry) * map->size);
	for (size_t i = 0; i < oldsize; i++)
		if (old[i].id)
			*map_slot(map, old[i].id, strlen(old[i].id)) = old[i];
	pg_free(old);
}

static void
map_add(CatchupMap *map, const char *id, size_t len, uint64_t hash, int64_t place)
{
	CatchupEntry *e;

	if ((map->used + 1) * 2 > map->size)
		map_grow(map);
	e = map_slot(map, id, len);
	if (e->id)
		pg_fatal("the target has the id \"%s\" twice", e->id);
	e->id = batch_strdup(&map->strings, id, len);
	e->hash = hash;
	e->place = place;
	map->used++;
}

/* the target's records into the map */
static void
read_target(PGconn *conn, const char *table, CatchupMap *map)
{
	CopyReader	rd;
	TargetRow	row;
	int64_t		place = 0;

	copyout_start(&rd, conn, table);
	while (copyout_next(&rd, &row))
	{
		if (row.flen[0] < 0)
			pg_fatal("%s has a record without an id", table);
		map_add(map, row.field[0], row.flen[0], row_hash(&row), ++place);
	}
	copyout_end(&rd);
}

/* a batch of staged records, their strings in the source batch's memory */
typedef struct Staged
{
	MigrateRecord *records;
	int			count;
} Staged;

/* stage a record; order: its place in the append order, if it goes there */
static void
stage(Staged *st, const MigrateRecord *r, int64_t order)
{
	MigrateRecord *s = &st->records[st->count++];

	*s = *r;
	s->position = order;
}

/* the one value of a query of one row (NULL: null) */
static char *
scalar(PGconn *conn, const char *sql, int nparams, const char *const *params)
{
	PGresult   *res = target_query(conn, sql, nparams, params);
	char	   *v;

	if (PQntuples(res) != 1)
		pg_fatal("\"%s\" returned %d rows, not 1", sql, PQntuples(res));
	v = PQgetisnull(res, 0, 0) ? NULL : pg_strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

/*
 * A collection this source copied before, found by the source's id (it may
 * have been renamed since): PLAN_CATCHUP, with tgt filled in; PLAN_COPY if
 * there is none (a collection new in the source is copied as usual).  An
 * unfinished copy is resumed (--resume) or refused.
 */
MigratePlan
catchup_prepare(PGconn *conn, const MigrateOptions *opts, const char *source,
				MigrateCollection *coll, MigrateTarget *tgt)
{
	const char *p[2] = {source, coll->id};
	PGresult   *res;

	memset(tgt, 0, sizeof(*tgt));
	tgt->conn = conn;
	res = target_query(conn,
					   "SELECT m.collection, m.state, m.records_done, m.source_seq, "
					   "       m.source_position "
					   "FROM chroma.migrations m WHERE m.source = $1 AND m.source_collection = $2",
					   2, p);
	if (PQntuples(res) == 0)
	{
		PQclear(res);
		return PLAN_COPY;
	}
	if (strcmp(PQgetvalue(res, 0, 1), "copying") == 0)
	{
		PQclear(res);
		if (opts->resume)
			return PLAN_COPY;	/* target_prepare resumes it */
		pg_log_error("the copy of collection \"%s\" (tenant \"%s\", database \"%s\") has not finished, so it cannot be caught up",
					 coll->name, coll->tenant, coll->database);
		pg_log_error_hint("Run with --resume to finish it, then with --catch-up.");
		exit(1);
	}
	tgt->collection_id = pg_strdup(PQgetvalue(res, 0, 0));
	tgt->table = target_records_table(tgt->collection_id);
	tgt->records_done = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
	tgt->source_seq = PQgetisnull(res, 0, 3) ? -1 : strtoll(PQgetvalue(res, 0, 3), NULL, 10);
	tgt->position = PQgetisnull(res, 0, 4) ? 0 : strtoll(PQgetvalue(res, 0, 4), NULL, 10);
	PQclear(res);
	return PLAN_CATCHUP;
}

/* the collection's own row: name, metadata and dimension as the source's */
static void
catchup_catalog(PGconn *conn, MigrateCollection *coll, MigrateTarget *tgt)
{
	const char *p[4];
	char		dim[16];
	char	   *have;
	char	   *name;

	p[0] = tgt->collection_id;
	have = scalar(conn, "SELECT dimension FROM chroma.collections WHERE id = $1::uuid", 1, p);
	if (have && coll->dimension > 0 && atoi(have) != coll->dimension)
		pg_fatal("collection \"%s\": the source's records now have %d dimensions, the copy's %s",
				 coll->name, coll->dimension, have);
	p[1] = coll->name;
	name = scalar(conn, "SELECT name FROM chroma.collections WHERE id = $1::uuid", 1, p);
	if (strcmp(name, coll->name) != 0)
	{
		pg_free(scalar(conn, "SELECT chroma._check_collection_name($1)", 1, &p[1]));
		target_run(conn, "UPDATE chroma.collections SET name = $2 WHERE id = $1::uuid", 2, p);
		printf("collection %s/%s/%s: renamed from \"%s\" as in the source\n",
			   coll->tenant, coll->database, coll->name, name);
	}
	pg_free(name);
	p[1] = coll->metadata;
	target_run(conn,
			   "UPDATE chroma.collections SET metadata = $2::jsonb "
			   "WHERE id = $1::uuid AND metadata IS DISTINCT FROM $2::jsonb", 2, p);
	if (have == NULL && coll->dimension > 0)
	{
		snprintf(dim, sizeof(dim), "%d", coll->dimension);
		p[1] = dim;
		target_run(conn, "UPDATE chroma.collections SET dimension = $2::integer "
				   "WHERE id = $1::uuid", 2, p);
	}
	pg_free(have);
}

/* what a catch-up did to a collection */
typedef struct CatchupCounts
{
	int64_t		added;
	int64_t		updated;
	int64_t		moved;
	int64_t		deleted;
	int64_t		source;			/* records the source gave */
	int64_t		last_position;	/* the source position of the last one */
} CatchupCounts;

/* the staging tables of one catch-up, dropped at its commit */
static void
create_stage(PGconn *conn, const char *table)
{
	char	   *sql;

	sql = psprintf("CREATE TEMP TABLE vecq_catchup_update ON COMMIT DROP AS "
				   "SELECT id, embedding, document, metadata, uri FROM %s WITH NO DATA",
				   table);
	target_run(conn, sql, 0, NULL);
	pg_free(sql);
	sql = psprintf("CREATE TEMP TABLE vecq_catchup_append ON COMMIT DROP AS "
				   "SELECT id, embedding, document, metadata, uri, 0::bigint AS position "
				   "FROM %s WITH NO DATA", table);
	target_run(conn, sql, 0, NULL);
	pg_free(sql);
	target_run(conn, "CREATE TEMP TABLE vecq_catchup_delete (id text) ON COMMIT DROP", 0, NULL);
}

static void
flush_stage(PGconn *conn, Staged *updates, Staged *appends)
{
	if (updates->count > 0)
		target_copy_records(conn, "vecq_catchup_update", updates->records,
							updates->count, false);
	if (appends->count > 0)
		target_copy_records(conn, "vecq_catchup_append", appends->records,
							appends->count, true);
	updates->count = appends->count = 0;
}

/*
 * Stage the deletes: the ids of the map the source does not have, and the
 * moved ones; then apply everything staged to the collection's table
 */
static void
apply_stage(PGconn *conn, const char *table, CatchupMap *map, CatchupCounts *counts)
{
	const char **gone;
	int			ngone = 0;
	int			cap = 1024;
	char	   *sql;

	gone = pg_malloc(sizeof(char *) * cap);
	for (size_t i = 0; i < map->size; i++)
	{
		CatchupEntry *e = &map->slots[i];

		if (e->id == NULL || (e->seen && !e->moved))
			continue;
		if (!e->seen)
			counts->deleted++;
		if (ngone == cap)
		{
			target_copy_ids(conn, "vecq_catchup_delete", gone, ngone);
			ngone = 0;
		}
		gone[ngone++] = e->id;
	}
	if (ngone > 0)
		target_copy_ids(conn, "vecq_catchup_delete", gone, ngone);
	pg_free(gone);

	sql = psprintf("DELETE FROM %s t USING vecq_catchup_delete d WHERE t.id = d.id", table);
	target_run(conn, sql, 0, NULL);
	pg_free(sql);
	sql = psprintf("UPDATE %s t SET embedding = u.embedding, document = u.document, "
				   "metadata = u.metadata, uri = u.uri "
				   "FROM vecq_catchup_update u WHERE t.id = u.id", table);
	target_run(conn, sql, 0, NULL);
	pg_free(sql);
	sql = psprintf("INSERT INTO %s (id, embedding, document, metadata, uri) "
				   "SELECT id, embedding, document, metadata, uri FROM vecq_catchup_append "
				   "ORDER BY position", table);
	target_run(conn, sql, 0, NULL);
	pg_free(sql);
}

static void
map_init(CatchupMap *map)
{
	memset(map, 0, sizeof(*map));
	batch_init(&map->strings, 1);
	map_grow(map);
}

static void
map_free(CatchupMap *map)
{
	pg_free(map->slots);
	batch_free(&map->strings);
}

/* what a comparison works with: the target's map, a batch, what is staged */
typedef struct CatchupWork
{
	PGconn	   *conn;
	const char *table;			/* the collection's table */
	CatchupMap	map;
	MigrateBatch batch;
	Staged		updates;
	Staged		appends;
} CatchupWork;

/*
 * The target's records of from (the table, or a join that picks some) into
 * the map, the staging tables made, and a batch's memory
 */
static void
work_begin(CatchupWork *w, PGconn *conn, const char *table, const char *from,
		   int batch_size)
{
	w->conn = conn;
	w->table = table;
	map_init(&w->map);
	read_target(conn, from, &w->map);
	create_stage(conn, table);
	batch_init(&w->batch, batch_size);
	w->updates.records = pg_malloc(sizeof(MigrateRecord) * batch_size);
	w->appends.records = pg_malloc(sizeof(MigrateRecord) * batch_size);
	w->updates.count = w->appends.count = 0;
}

/* apply what was staged, and free the memory */
static void
work_end(CatchupWork *w, CatchupCounts *counts)
{
	apply_stage(w->conn, w->table, &w->map, counts);
	pg_free(w->updates.records);
	pg_free(w->appends.records);
	map_free(&w->map);
	batch_free(&w->batch);
}

/*
 * The whole comparison: every record of the target against every record
 * of the source (see the top of the file)
 */
static void
diff_all(MigrateSource *src, MigrateCollection *coll, MigrateTarget *tgt,
		 const MigrateOptions *opts, CatchupCounts *counts)
{
	CatchupWork w;
	MigrateCursor *cur;
	int64_t		last_place = 0;
	bool		out_of_order = false;

	work_begin(&w, tgt->conn, tgt->table, tgt->table, opts->batch);
	progress_start(coll, 0);
	cur = source_records(src, coll, 0);
	while (source_next_batch(cur, &w.batch, opts->batch))
	{
		for (int i = 0; i < w.batch.count; i++)
		{
			MigrateRecord *r = &w.batch.records[i];
			CatchupEntry *e = map_slot(&w.map, r->id, strlen(r->id));

			counts->source++;
			counts->last_position = r->position;
			if (e->id == NULL)
			{
				out_of_order = true;
				stage(&w.appends, r, counts->source);
				counts->added++;
				continue;
			}
			if (e->seen)
				pg_fatal("collection \"%s\": the source has the id \"%s\" twice",
						 coll->name, r->id);
			e->seen = true;
			if (out_of_order || e->place < last_place)
			{
				out_of_order = true;
				e->moved = true;
				stage(&w.appends, r, counts->source);
				counts->moved++;
				continue;
			}
			last_place = e->place;
			if (e->hash != record_hash(r))
			{
				stage(&w.updates, r, r->position);
				counts->updated++;
			}
		}
		flush_stage(w.conn, &w.updates, &w.appends);
		progress_batch(coll, counts->source, w.batch.count);
	}
	source_cursor_close(cur);
	work_end(&w, counts);
	progress_end(coll, counts->source, "caught up");
}

/*
 * After a logged catch-up: the target's ids in seq order must be the
 * source's in its order, or the copy was written in Postgres since
 */
static bool
same_ids(MigrateSource *src, MigrateCollection *coll, PGconn *conn, const char *table,
		 int batch_size, int64_t *last_position)
{
	char	   *sql = psprintf("SELECT id FROM %s ORDER BY seq", table);
	PGresult   *res = target_query(conn, sql, 0, NULL);
	MigrateCursor *cur;
	MigrateBatch batch;
	int			row = 0;
	bool		same = true;

	pg_free(sql);
	batch_init(&batch, batch_size);
	cur = src->methods->ids(src, coll);
	while (same && source_next_batch(cur, &batch, batch_size))
		for (int i = 0; i < batch.count && same; i++, row++)
		{
			same = row < PQntuples(res) &&
				strcmp(PQgetvalue(res, row, 0), batch.records[i].id) == 0;
			*last_position = batch.records[i].position;
		}
	source_cursor_close(cur);
	batch_free(&batch);
	same = same && row == PQntuples(res);
	PQclear(res);
	return same;
}

/*
 * The comparison of just the records the log touched since the last copy.
 * A record is new or was added again since when its source position is
 * past the last one copied (Chroma's positions only grow at the end):
 * it goes to the end; the others stay in place.  False when the result is
 * not the source's list of ids (then the caller compares everything).
 */
static bool
diff_logged(MigrateSource *src, MigrateCollection *coll, MigrateTarget *tgt,
			const MigrateOptions *opts, char **ids, int nids, CatchupCounts *counts)
{
	PGconn	   *conn = tgt->conn;
	CatchupWork w;
	MigrateCursor *cur;
	char	   *from;

	target_run(conn, "CREATE TEMP TABLE vecq_catchup_ids (id text) ON COMMIT DROP", 0, NULL);
	target_copy_ids(conn, "vecq_catchup_ids", (const char *const *) ids, nids);
	from = psprintf("%s JOIN vecq_catchup_ids USING (id)", tgt->table);
	work_begin(&w, conn, tgt->table, from, opts->batch);
	pg_free(from);
	cur = src->methods->records_with_ids(src, coll, ids, nids);
	while (source_next_batch(cur, &w.batch, opts->batch))
	{
		for (int i = 0; i < w.batch.count; i++)
		{
			MigrateRecord *r = &w.batch.records[i];
			CatchupEntry *e = map_slot(&w.map, r->id, strlen(r->id));

			counts->source++;
			if (e->id == NULL || r->position > tgt->position)
			{
				if (e->id)
				{
					e->seen = e->moved = true;
					counts->moved++;
				}
				else
					counts->added++;
				stage(&w.appends, r, r->position);
				continue;
			}
			e->seen = true;
			if (e->hash != record_hash(r))
			{
				stage(&w.updates, r, r->position);
				counts->updated++;
			}
		}
		flush_stage(conn, &w.updates, &w.appends);
	}
	source_cursor_close(cur);
	work_end(&w, counts);

	counts->source = coll->records;
	counts->last_position = tgt->position;
	return same_ids(src, coll, conn, tgt->table, opts->batch, &counts->last_position);
}

void
catchup_collection(MigrateSource *src, MigrateCollection *coll, MigrateTarget *tgt,
				   const MigrateOptions *opts)
{
	PGconn	   *conn = tgt->conn;
	CatchupCounts counts = {0};
	double		t0 = progress_seconds();
	char	   *sql;
	const char *p[4];
	char		total[24],
				seq[24],
				pos[24];
	char	  **ids = NULL;
	int			nids = 0;
	const char *how = "compared every record";

	target_run(conn, "BEGIN", 0, NULL);
	sql = psprintf("LOCK TABLE %s IN EXCLUSIVE MODE", tgt->table);
	target_run(conn, sql, 0, NULL);
	pg_free(sql);
	catchup_catalog(conn, coll, tgt);

	/* a renaming or new metadata is not in the log: the catalog first */
	if (coll->source_seq >= 0 && coll->source_seq == tgt->source_seq &&
		coll->records == tgt->records_done &&
		coll->records == target_count_records(conn, tgt->table))
	{
		target_run(conn, "COMMIT", 0, NULL);
		printf("collection %s/%s/%s: no records changed since the last copy (log position %lld, %lld records)\n",
			   coll->tenant, coll->database, coll->name, (long long) coll->source_seq,
			   (long long) coll->records);
		return;
	}

	if (src->methods->changed_ids && src->methods->records_with_ids && src->methods->ids &&
		coll->source_seq >= 0 && tgt->source_seq >= 0 &&
		src->methods->changed_ids(src, coll, tgt->source_seq, &ids, &nids))
	{
		target_run(conn, "SAVEPOINT vecq_catchup", 0, NULL);
		if (diff_logged(src, coll, tgt, opts, ids, nids, &counts))
			how = psprintf("from the log: %d %s touched after entry %lld", nids,
						   nids == 1 ? "id" : "ids", (long long) tgt->source_seq);
		else
		{
			target_run(conn, "ROLLBACK TO SAVEPOINT vecq_catchup", 0, NULL);
			printf("collection %s/%s/%s: the copy was written to in PostgreSQL since; comparing every record\n",
				   coll->tenant, coll->database, coll->name);
			memset(&counts, 0, sizeof(counts));
			diff_all(src, coll, tgt, opts, &counts);
		}
		for (int i = 0; i < nids; i++)
			pg_free(ids[i]);
		pg_free(ids);
	}
	else
		diff_all(src, coll, tgt, opts, &counts);

	p[0] = tgt->collection_id;
	pg_free(scalar(conn, "SELECT chroma._sync_collection($1::uuid)", 1, p));
	snprintf(total, sizeof(total), "%lld", (long long) counts.source);
	snprintf(seq, sizeof(seq), "%lld", (long long) coll->source_seq);
	snprintf(pos, sizeof(pos), "%lld", (long long) counts.last_position);
	p[1] = total;
	p[2] = coll->source_seq >= 0 ? seq : NULL;
	p[3] = pos;
	target_run(conn,
			   "UPDATE chroma.migrations SET records_done = $2, records_total = $2, "
			   "source_seq = $3, source_position = $4, updated = now() "
			   "WHERE collection = $1::uuid", 4, p);
	target_run(conn, "COMMIT", 0, NULL);
	if (counts.source != coll->records)
		pg_log_warning("collection \"%s\": the source said %lld records and gave %lld; it changed while it was read",
					   coll->name, (long long) coll->records, (long long) counts.source);
	coll->records = counts.source;

	printf("collection %s/%s/%s: caught up in %.1f s: %lld added, %lld updated, %lld deleted, %lld moved to the end, %lld unchanged (%s)\n",
		   coll->tenant, coll->database, coll->name, progress_seconds() - t0,
		   (long long) counts.added, (long long) counts.updated, (long long) counts.deleted,
		   (long long) counts.moved,
		   (long long) (counts.source - counts.added - counts.updated - counts.moved), how);
	fflush(stdout);
}

/*
 * Collections this source was copied from that it no longer has: said, and
 * left as they are (chroma.delete_collection removes one)
 */
void
catchup_report_gone(PGconn *conn, const char *source, const MigrateOptions *opts,
					const MigrateCollection *colls, int n)
{
	const char *p[1] = {source};
	PGresult   *res;

	/* a server's collections record "URL tenant T" */
	res = target_query(conn,
					   "SELECT m.source_collection, c.tenant, c.database, c.name "
					   "FROM chroma.migrations m JOIN chroma.collections c ON c.id = m.collection "
					   "WHERE m.source = $1 OR (left(m.source, length($1)) = $1 "
					   "                        AND substr(m.source, length($1) + 1) = ' tenant ' || c.tenant) "
					   "ORDER BY 2, 3, 4", 1, p);
	for (int i = 0; i < PQntuples(res); i++)
	{
		bool		found = false;
		bool		read = opts->ntenants == 0;

		for (int t = 0; t < opts->ntenants && !read; t++)
			read = strcmp(opts->tenants[t], PQgetvalue(res, i, 1)) == 0;
		if (!read)
			continue;
		for (int j = 0; j < n && !found; j++)
			found = strcmp(colls[j].id, PQgetvalue(res, i, 0)) == 0;
		if (!found)
			printf("collection %s/%s/%s: the source no longer has it; left as it is (chroma.delete_collection removes it)\n",
				   PQgetvalue(res, i, 1), PQgetvalue(res, i, 2), PQgetvalue(res, i, 3));
	}
	PQclear(res);
}
