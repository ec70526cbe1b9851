/*-------------------------------------------------------------------------
 *
 * migrate_seed.c
 *	  Handing the target the graph of a collection's Chroma HNSW files, so
 *	  that its index build takes the neighbour lists hnswlib already chose
 *	  instead of searching for every record's again.
 *
 * After the last batch, and before target_finish builds the index, the
 * source (when it offers it: a persist directory with HNSW files) walks its
 * elements in order and writes each as a graph seed element
 * (src/common/graph_seed.h): the hash of the vector the record was copied
 * with, the element's level and its lists of element numbers; elements
 * that are no record's current vector (deleted, or replaced by a later log
 * entry) are sent as elements of no row, so that the numbers stay
 * hnswlib's.  The chunks go to vecq_hnsw_seed(table, chunk) as binary
 * parameters, about SEED_CHUNK bytes each, so memory is bounded by that.
 * The seed is session state on the server, outside any transaction, and
 * the same session then builds the index.
 *
 * The seed only saves time: when the server cannot take it (a vecq before
 * 0.7.0, a role that does not own the collection's table) or a chunk is
 * refused, the build searches as before; a note says so.
 *
 * src/migrate/migrate_seed.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "common/logging.h"
#include "migrate.h"

#define SEED_CHUNK	(4 * 1024 * 1024)

static void
put(SeedWriter *w, uint64_t v, int bytes)
{
	for (int i = bytes - 1; i >= 0; i--)
		w->buf[w->len++] = (uint8_t) (v >> (8 * i));
}

/* send what the buffer holds */
static void
flush(SeedWriter *w)
{
	const char *values[2];
	int			lengths[2];
	int			formats[2] = {0, 1};
	PGresult   *res;

	if (w->len == 0 || w->failed)
	{
		w->len = 0;
		return;
	}
	values[0] = w->table;
	lengths[0] = 0;
	values[1] = (const char *) w->buf;
	lengths[1] = (int) w->len;
	res = PQexecParams(w->conn, "SELECT vecq_hnsw_seed($1::regclass, $2::bytea)",
					   2, NULL, values, lengths, formats, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

		w->failed = true;
		if (state != NULL && strcmp(state, "42883") == 0)
			w->why = pg_strdup("the target's vecq has no vecq_hnsw_seed (it is older than 0.7.0)");
		else if (state != NULL && strcmp(state, "42501") == 0)
			w->why = pg_strdup("only the owner of the collection's table may seed its index build");
		else
			w->why = psprintf("vecq_hnsw_seed failed: %s", PQerrorMessage(w->conn));
	}
	PQclear(res);
	w->len = 0;
}

void
seed_element(SeedWriter *w, uint64_t hash, int level,
			 const uint32_t *const *lists, const uint32_t *counts)
{
	size_t		need = 9;

	if (w->failed)
		return;
	if (level != GRAPH_SEED_NO_ROW)
		for (int lc = 0; lc <= level; lc++)
			need += 2 + 4 * (size_t) counts[lc];
	if (w->len + need > w->cap)
	{
		flush(w);
		if (need > w->cap)
		{
			w->cap = need;
			w->buf = pg_realloc(w->buf, w->cap);
		}
	}
	put(w, hash, 8);
	put(w, (uint64_t) level, 1);
	if (level != GRAPH_SEED_NO_ROW)
		for (int lc = 0; lc <= level; lc++)
		{
			put(w, counts[lc], 2);
			for (uint32_t k = 0; k < counts[lc]; k++)
				put(w, lists[lc][k], 4);
		}
	w->elements++;
	if (level != GRAPH_SEED_NO_ROW)
		w->rows++;
}

void
target_send_seed(MigrateTarget *tgt, MigrateCursor *cur, MigrateCollection *coll)
{
	SeedWriter	w = {0};
	PGresult   *res;
	bool		offered;
	double		t0 = progress_seconds();

	if (cur->source->methods->graph_seed == NULL)
		return;
	w.conn = tgt->conn;
	w.table = tgt->table;
	w.cap = SEED_CHUNK;
	w.buf = pg_malloc(w.cap);
	offered = cur->source->methods->graph_seed(cur, &w);
	flush(&w);
	pg_free(w.buf);
	if (!offered)
		return;
	if (w.failed)
	{
		/* whatever was held is of no use now */
		res = PQexec(tgt->conn, "SELECT vecq_hnsw_seed_reset()");
		PQclear(res);
		pg_log_warning("collection \"%s\": its index is built without Chroma's graph, which is slower: %s",
					   coll->name, w.why);
		pg_free(w.why);
		return;
	}
	coll->seeded = w.rows;
	coll->seed_seconds = progress_seconds() - t0;
}
