/*-------------------------------------------------------------------------
 *
 * fuzz_chroma_http.c
 *	  libFuzzer target for the decoders of Chroma's HTTP API answers
 *	  (src/migrate/chroma_http.c), which vecq-migrate's HTTP source uses.
 *
 * The first byte of an input picks the decoder (its value mod 5: a list
 * of collections, a page of records with the dimension unknown, a page of
 * records with a known dimension (byte / 5 % 8), a list of databases, a
 * count and a version and an error message); the rest is the answer's
 * body.  The decoders must never crash, leak or exit, must leave their
 * outputs untouched (and a message) on failure, and on success return
 * what they promise: metadata that is JSON equal to the answer's (kinds
 * and values: an int stays an int, a float the same double), vectors of
 * the collection's dimension, a space of l2, ip or cosine, configuration
 * JSON.
 *
 * Seeds (corpus_chroma_http/): answers of a real Chroma 1.0 server
 * (chromadb 3.0.9's "chroma run"), captured with curl, each behind its
 * selector byte.
 *
 * test/fuzz/fuzz_chroma_http.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <jansson.h>

#include "chroma_http.h"

#define MAX_RECORDS 64

/* text written by the decoder must be the same JSON value as the answer's */
static void
same_json(const char *text, json_t *want)
{
	json_t	   *got = json_loads(text, JSON_DECODE_ANY, NULL);

	if (got == NULL || !json_equal(got, want))
		abort();
	json_decref(got);
}

static void
check_collections(const char *body, size_t len)
{
	MigrateCollection *colls = NULL;
	int			n = 0;
	char		err[512];
	int			got;
	json_t	   *list;

	err[0] = '\0';
	got = chroma_http_decode_collections(body, len, &colls, &n, err, sizeof(err));
	if (got < 0)
	{
		if (err[0] == '\0' || n != 0 || colls != NULL)
			abort();
		return;
	}
	if (got != n)
		abort();
	list = json_loadb(body, len, JSON_DECODE_ANY, NULL);
	if (!json_is_array(list) || json_array_size(list) != (size_t) n)
		abort();
	for (int i = 0; i < n; i++)
	{
		MigrateCollection *c = &colls[i];
		json_t	   *meta = json_object_get(json_array_get(list, i), "metadata");
		json_t	   *cfg;

		if (strcmp(c->space, "l2") != 0 && strcmp(c->space, "ip") != 0 &&
			strcmp(c->space, "cosine") != 0)
			abort();
		if (c->dimension < 0 || c->dimension > CHROMA_HTTP_MAX_DIM || c->records != -1)
			abort();
		if (c->metadata)
			same_json(c->metadata, meta);
		else if (json_is_object(meta) && json_object_size(meta) > 0)
			abort();
		cfg = json_loads(c->configuration, 0, NULL);
		if (!json_is_object(json_object_get(cfg, "hnsw")))
			abort();
		json_decref(cfg);
		chroma_http_free_collection(c);
	}
	json_decref(list);
	pg_free(colls);
}

/* kept from input to input, as vecq-migrate keeps its batch (and reuses its memory) */
static MigrateBatch batch;
static bool batch_ready;

static void
check_records(const char *body, size_t len, int dim)
{
	MigrateCollection coll = {0};
	char		err[512];
	int			got;

	coll.name = "fuzz";
	coll.dimension = dim;
	if (!batch_ready)
	{
		batch_init(&batch, MAX_RECORDS);
		batch_ready = true;
	}
	err[0] = '\0';
	got = chroma_http_decode_records(body, len, &coll, 101, MAX_RECORDS, &batch,
									 err, sizeof(err));
	if (got < 0)
	{
		if (err[0] == '\0' || batch.count != 0 || coll.dimension != dim)
			abort();
	}
	else
	{
		json_t	   *page = json_loadb(body, len, JSON_DECODE_ANY, NULL);
		json_t	   *metas = json_object_get(page, "metadatas");

		if (got != batch.count || got > MAX_RECORDS || page == NULL)
			abort();
		if (dim > 0 && coll.dimension != dim)
			abort();
		for (int i = 0; i < got; i++)
		{
			MigrateRecord *r = &batch.records[i];
			json_t	   *meta = json_array_get(metas, i);

			if (r->dim != coll.dimension || r->position != 101 + i || r->id == NULL)
				abort();
			for (int d = 0; d < r->dim; d++)
				if (!isfinite(r->embedding[d]))
					abort();
			if (r->metadata)
				same_json(r->metadata, meta);
			else if (json_is_object(meta))
				abort();
		}
		json_decref(page);
	}
	batch_reset(&batch);
}

static void
check_databases(const char *body, size_t len)
{
	MigrateDatabase *dbs = NULL;
	int			n = 0;
	char		err[512];
	int			got;

	err[0] = '\0';
	got = chroma_http_decode_databases(body, len, &dbs, &n, err, sizeof(err));
	if (got < 0)
	{
		if (err[0] == '\0' || n != 0 || dbs != NULL)
			abort();
		return;
	}
	if (got != n)
		abort();
	for (int i = 0; i < n; i++)
	{
		if (strlen(dbs[i].id) != 36 || dbs[i].name == NULL || dbs[i].tenant == NULL)
			abort();
		chroma_http_free_database(&dbs[i]);
	}
	pg_free(dbs);
}

static void
check_small(const char *body, size_t len)
{
	int64_t		count = -1;
	char		version[64];
	char		msg[512];
	char		err[512];

	if (chroma_http_decode_count(body, len, &count, err, sizeof(err)) == 0 && count < 0)
		abort();
	if (chroma_http_decode_version(body, len, version, sizeof(version), err, sizeof(err)) == 0 &&
		strlen(version) >= sizeof(version))
		abort();
	chroma_http_error_message(body, len, msg, sizeof(msg));
	if (strlen(msg) >= sizeof(msg) || msg[0] == '\0')
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body;
	size_t		len;

	if (size < 1)
		return 0;
	body = (const char *) data + 1;
	len = size - 1;
	switch (data[0] % 5)
	{
		case 0:
			check_collections(body, len);
			break;
		case 1:
			check_records(body, len, 0);
			break;
		case 2:
			check_records(body, len, (data[0] / 5) % 8);
			break;
		case 3:
			check_databases(body, len);
			break;
		case 4:
			check_small(body, len);
			break;
	}
	return 0;
}
