/*-------------------------------------------------------------------------
 *
 * chroma_http.c
 *	  Decodes the JSON answers of Chroma's HTTP API (v2): collections,
 *	  databases, counts and pages of records (see chroma_http.h).
 *
 * What Chroma 1.0's server writes, and what is kept of it:
 *
 *	- vectors are float32, written as the shortest decimal that reads back
 *	  as the same float32 ("0.3", "2.0", "1e-40"); read as a double and
 *	  rounded to float they are the server's floats to the bit (see
 *	  element_float for the one case where rounding twice could differ);
 *	- metadata values keep their kind: an integer (JSON without fraction
 *	  or exponent, up to 64 bits: jansson's JSON_INTEGER) stays an int, a
 *	  real (JSON_REAL; the server writes integral floats as "1.0") stays a
 *	  float and is written with mjson_double, so 1.0 is not 1; strings,
 *	  booleans, and (in later Chroma versions) arrays and objects of them,
 *	  the same way;
 *	- a record with a uri and no other metadata has metadata {} (the server
 *	  keeps the uri among the metadata), one with neither null.
 *
 * The parser rejects invalid UTF-8, "\u0000" in strings and duplicate
 * keys; anything of the wrong shape is an error naming the collection or
 * record.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <ctype.h>
#include <float.h>
#include <math.h>

#include <jansson.h>

#include "chroma_http.h"

static int	fail(char *err, size_t errlen, const char *fmt,...) pg_attribute_printf(3, 4);

static int
fail(char *err, size_t errlen, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static json_t *
parse(const char *body, size_t len, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t	   *v = json_loadb(body, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);

	if (v == NULL)
		fail(err, errlen, "the answer is not valid JSON: %s (at character %d)",
			 jerr.text, jerr.position);
	return v;
}

static const char *
kind(const json_t *v)
{
	switch (json_typeof(v))
	{
		case JSON_OBJECT:
			return "an object";
		case JSON_ARRAY:
			return "an array";
		case JSON_STRING:
			return "a string";
		case JSON_INTEGER:
			return "an integer";
		case JSON_REAL:
			return "a float";
		case JSON_TRUE:
		case JSON_FALSE:
			return "a boolean";
		case JSON_NULL:
			return "null";
	}
	return "?";
}

/* a member that must be a string; NULL (and err set) if it is not */
static const char *
get_string(json_t *obj, const char *key, const char *what, char *err, size_t errlen)
{
	json_t	   *v = json_object_get(obj, key);

	if (!json_is_string(v))
	{
		fail(err, errlen, "%s has %s as \"%s\", not a string", what,
			 v ? kind(v) : "nothing", key);
		return NULL;
	}
	return json_string_value(v);
}

void
chroma_http_error_message(const char *body, size_t len, char *msg, size_t msglen)
{
	json_t	   *v = json_loadb(body, len, 0, NULL);
	size_t		n;

	if (msglen == 0)
		return;
	if (json_is_object(v) && json_is_string(json_object_get(v, "message")))
	{
		json_t	   *e = json_object_get(v, "error");

		snprintf(msg, msglen, "%s%s%s",
				 json_is_string(e) ? json_string_value(e) : "",
				 json_is_string(e) ? ": " : "",
				 json_string_value(json_object_get(v, "message")));
		if (msg[0] == '\0')
			snprintf(msg, msglen, "(an empty error message)");
		json_decref(v);
		return;
	}
	json_decref(v);
	if (len == 0)
	{
		snprintf(msg, msglen, "(an empty answer)");
		return;
	}
	n = len < msglen - 1 ? len : msglen - 1;
	if (n > 200)
		n = 200;
	for (size_t i = 0; i < n; i++)
	{
		unsigned char c = (unsigned char) body[i];

		msg[i] = (c < 0x20 || c == 0x7f || c >= 0x80) ? '?' : (char) c;
	}
	msg[n] = '\0';
}

int
chroma_http_decode_version(const char *body, size_t len, char *version,
						   size_t versionlen, char *err, size_t errlen)
{
	json_t	   *v = parse(body, len, err, errlen);

	if (v == NULL)
		return -1;
	if (!json_is_string(v))
	{
		fail(err, errlen, "the version is %s, not a string", kind(v));
		json_decref(v);
		return -1;
	}
	snprintf(version, versionlen, "%s", json_string_value(v));
	json_decref(v);
	return 0;
}

int
chroma_http_decode_count(const char *body, size_t len, int64_t *count,
						 char *err, size_t errlen)
{
	json_t	   *v = parse(body, len, err, errlen);

	if (v == NULL)
		return -1;
	if (!json_is_integer(v) || json_integer_value(v) < 0)
	{
		fail(err, errlen, "the count is %s, not a non-negative integer", kind(v));
		json_decref(v);
		return -1;
	}
	*count = json_integer_value(v);
	json_decref(v);
	return 0;
}

void
chroma_http_free_database(MigrateDatabase *d)
{
	pg_free(d->tenant);
	pg_free(d->id);
	pg_free(d->name);
}

int
chroma_http_decode_databases(const char *body, size_t len, MigrateDatabase **dbs,
							 int *n, char *err, size_t errlen)
{
	json_t	   *v = parse(body, len, err, errlen);
	size_t		count;

	if (v == NULL)
		return -1;
	if (!json_is_array(v))
	{
		fail(err, errlen, "the list of databases is %s, not an array", kind(v));
		json_decref(v);
		return -1;
	}
	count = json_array_size(v);
	for (size_t i = 0; i < count; i++)
	{
		json_t	   *d = json_array_get(v, i);
		const char *id,
				   *name,
				   *tenant;

		if (!json_is_object(d))
		{
			fail(err, errlen, "database %zu of the list is %s, not an object", i, kind(d));
			json_decref(v);
			return -1;
		}
		if ((id = get_string(d, "id", "a database", err, errlen)) == NULL ||
			(name = get_string(d, "name", "a database", err, errlen)) == NULL ||
			(tenant = get_string(d, "tenant", "a database", err, errlen)) == NULL)
		{
			json_decref(v);
			return -1;
		}
		if (!migrate_is_uuid(id))
		{
			fail(err, errlen, "database \"%.200s\" has the id \"%.100s\", which is not a uuid", name, id);
			json_decref(v);
			return -1;
		}
	}
	*dbs = pg_realloc(*dbs, sizeof(MigrateDatabase) * (*n + count + 1));
	for (size_t i = 0; i < count; i++)
	{
		json_t	   *d = json_array_get(v, i);
		MigrateDatabase *out = &(*dbs)[(*n)++];

		out->id = pg_strdup(json_string_value(json_object_get(d, "id")));
		out->name = pg_strdup(json_string_value(json_object_get(d, "name")));
		out->tenant = pg_strdup(json_string_value(json_object_get(d, "tenant")));
	}
	json_decref(v);
	return (int) count;
}

/*
 * A metadata value, keeping its kind.  False (with err) for what JSON
 * metadata cannot hold, which a parsed document never has.
 */
static bool
write_value(MigrateJson *js, json_t *v, char *err, size_t errlen)
{
	switch (json_typeof(v))
	{
		case JSON_STRING:
			mjson_string(js, json_string_value(v), (int) json_string_length(v));
			return true;
		case JSON_INTEGER:
			mjson_int(js, json_integer_value(v));
			return true;
		case JSON_REAL:
			if (!mjson_double(js, json_real_value(v)))
			{
				fail(err, errlen, "a float that is not finite");
				return false;
			}
			return true;
		case JSON_TRUE:
			mjson_bool(js, true);
			return true;
		case JSON_FALSE:
			mjson_bool(js, false);
			return true;
		case JSON_NULL:
			mjson_raw(js, "null");
			return true;
		case JSON_ARRAY:
			{
				size_t		i;
				json_t	   *e;

				mjson_raw(js, "[");
				json_array_foreach(v, i, e)
				{
					if (i > 0)
						mjson_raw(js, ",");
					if (!write_value(js, e, err, errlen))
						return false;
				}
				mjson_raw(js, "]");
				return true;
			}
		case JSON_OBJECT:
			{
				const char *key;
				json_t	   *e;
				bool		first = true;

				mjson_raw(js, "{");
				json_object_foreach(v, key, e)
				{
					if (!first)
						mjson_raw(js, ",");
					first = false;
					mjson_string(js, key, -1);
					mjson_raw(js, ":");
					if (!write_value(js, e, err, errlen))
						return false;
				}
				mjson_raw(js, "}");
				return true;
			}
	}
	return false;
}

/* a metadata object as JSON text into js; false with err if it fails */
static bool
write_metadata(MigrateJson *js, json_t *obj, char *err, size_t errlen)
{
	const char *key;
	json_t	   *v;

	mjson_begin_object(js);
	json_object_foreach(obj, key, v)
	{
		mjson_key(js, key);
		if (!write_value(js, v, err, errlen))
			return false;
	}
	mjson_end_object(js);
	return true;
}

void
chroma_http_free_collection(MigrateCollection *c)
{
	pg_free(c->id);
	pg_free(c->name);
	pg_free(c->tenant);
	pg_free(c->database);
	pg_free(c->database_id);
	pg_free(c->space);
	pg_free(c->metadata);
	pg_free(c->configuration);
	pg_free(c->notes);
	pg_free(c->origin);
	memset(c, 0, sizeof(*c));
}

/* one collection of a list into c; -1 with err (c freed) if it is not one */
static int
decode_collection(json_t *o, MigrateCollection *c, char *err, size_t errlen)
{
	const char *id,
			   *name,
			   *tenant,
			   *database;
	json_t	   *dim;
	json_t	   *meta;
	json_t	   *config;
	json_t	   *schema;
	json_t	   *hnsw_only = NULL;
	json_t	   *spann;
	char		what[300];

	memset(c, 0, sizeof(*c));
	if (!json_is_object(o))
		return fail(err, errlen, "a collection of the list is %s, not an object", kind(o));
	if ((name = get_string(o, "name", "a collection", err, errlen)) == NULL)
		return -1;
	snprintf(what, sizeof(what), "collection \"%.200s\"", name);
	if ((id = get_string(o, "id", what, err, errlen)) == NULL ||
		(tenant = get_string(o, "tenant", what, err, errlen)) == NULL ||
		(database = get_string(o, "database", what, err, errlen)) == NULL)
		return -1;
	if (!migrate_is_uuid(id))
		return fail(err, errlen, "%s has the id \"%.100s\", which is not a uuid", what, id);

	dim = json_object_get(o, "dimension");
	if (dim && !json_is_null(dim) &&
		(!json_is_integer(dim) || json_integer_value(dim) < 1 ||
		 json_integer_value(dim) > CHROMA_HTTP_MAX_DIM))
		return fail(err, errlen, "%s has the dimension %s%s, not an integer from 1 to %d",
					what, kind(dim),
					json_is_integer(dim) ? " out of range" : "", CHROMA_HTTP_MAX_DIM);

	meta = json_object_get(o, "metadata");
	if (meta && !json_is_null(meta) && !json_is_object(meta))
		return fail(err, errlen, "%s has %s as metadata, not an object", what, kind(meta));
	config = json_object_get(o, "configuration_json");
	if (config == NULL)
		config = json_object_get(o, "configuration");
	if (json_is_null(config))
		config = NULL;
	if (config && !json_is_object(config))
		return fail(err, errlen, "%s has %s as configuration_json, not an object", what, kind(config));
	schema = json_object_get(o, "schema");
	if (!json_is_object(schema))
		schema = NULL;

	c->id = pg_strdup(id);
	c->name = pg_strdup(name);
	c->tenant = pg_strdup(tenant);
	c->database = pg_strdup(database);
	c->dimension = json_is_integer(dim) ? (int) json_integer_value(dim) : 0;
	c->records = -1;
	c->source_seq = -1;
	c->selected = true;
	if (json_is_object(meta) && json_object_size(meta) > 0)
	{
		MigrateJson js = {0};
		char		verr[128];

		if (!write_metadata(&js, meta, verr, sizeof(verr)))
		{
			mjson_free(&js);
			fail(err, errlen, "the metadata of %s has %s", what, verr);
			chroma_http_free_collection(c);
			return -1;
		}
		c->metadata = pg_strdup(js.data);
		mjson_free(&js);
	}

	/* a SPANN index (Chroma's distributed server) has a space, no HNSW settings */
	spann = config ? json_object_get(config, "spann") : NULL;
	if (json_is_object(spann) && !json_is_object(json_object_get(config, "hnsw")))
	{
		hnsw_only = json_object();
		if (json_is_string(json_object_get(spann, "space")))
			json_object_set_new(hnsw_only, "hnsw",
								json_pack("{s:O}", "space", json_object_get(spann, "space")));
		if (json_object_get(config, "embedding_function"))
			json_object_set(hnsw_only, "embedding_function",
							json_object_get(config, "embedding_function"));
	}
	migrate_collection_settings(c, hnsw_only ? hnsw_only : config, schema);
	if (hnsw_only)
	{
		char	   *note = psprintf("its SPANN index settings are not carried over (vecq builds an HNSW index)%s%s",
									c->notes ? "; " : "", c->notes ? c->notes : "");

		pg_free(c->notes);
		c->notes = note;
		json_decref(hnsw_only);
	}
	if (strcmp(c->space, "l2") != 0 && strcmp(c->space, "ip") != 0 &&
		strcmp(c->space, "cosine") != 0)
	{
		fail(err, errlen, "%s has the space \"%.50s\", not l2, ip or cosine", what, c->space);
		chroma_http_free_collection(c);
		return -1;
	}
	return 0;
}

int
chroma_http_decode_collections(const char *body, size_t len, MigrateCollection **colls,
							   int *n, char *err, size_t errlen)
{
	json_t	   *v = parse(body, len, err, errlen);
	size_t		count;
	MigrateCollection *page;

	if (v == NULL)
		return -1;
	if (!json_is_array(v))
	{
		fail(err, errlen, "the list of collections is %s, not an array", kind(v));
		json_decref(v);
		return -1;
	}
	count = json_array_size(v);
	page = pg_malloc0(sizeof(MigrateCollection) * (count + 1));
	for (size_t i = 0; i < count; i++)
	{
		if (decode_collection(json_array_get(v, i), &page[i], err, errlen) != 0)
		{
			for (size_t j = 0; j < i; j++)
				chroma_http_free_collection(&page[j]);
			pg_free(page);
			json_decref(v);
			return -1;
		}
	}
	*colls = pg_realloc(*colls, sizeof(MigrateCollection) * (*n + count + 1));
	memcpy(*colls + *n, page, sizeof(MigrateCollection) * count);
	*n += (int) count;
	pg_free(page);
	json_decref(v);
	return (int) count;
}

/* does the shortest decimal that reads back as f read as d */
static bool
shortest_reads_as(float f, double d)
{
	char		buf[32];

	for (int prec = 0; prec < 9; prec++)
	{
		snprintf(buf, sizeof(buf), "%.*e", prec, (double) f);
		if (strtof(buf, NULL) == f)
			return strtod(buf, NULL) == d;
	}
	return false;
}

/*
 * A vector element: the server wrote a float32 as its shortest decimal,
 * which jansson read as the nearest double d.  Rounding d to float gives
 * the server's float, except when d lies exactly halfway between two
 * floats (the decimal was within half a double's ulp of the midpoint, and
 * rounding twice may pick the wrong one): then the float whose shortest
 * decimal reads as d is the one the server wrote.
 */
static float
element_float(double d)
{
	float		f = (float) d;
	float		other;

	if ((double) f == d)
		return f;
	other = nextafterf(f, d > (double) f ? INFINITY : -INFINITY);
	if (((double) f + (double) other) / 2 != d)
		return f;
	if (!shortest_reads_as(f, d) && shortest_reads_as(other, d))
		return other;
	return f;
}

/* a member that is null, missing, or an array of n */
static int
parallel_array(json_t *o, const char *key, size_t n, json_t **out, char *err, size_t errlen)
{
	json_t	   *a = json_object_get(o, key);

	*out = NULL;
	if (a == NULL || json_is_null(a))
		return 0;
	if (!json_is_array(a))
		return fail(err, errlen, "\"%s\" is %s, not an array", key, kind(a));
	if (json_array_size(a) != n)
		return fail(err, errlen, "\"%s\" has %zu elements, but \"ids\" %zu",
					key, json_array_size(a), n);
	*out = a;
	return 0;
}

int
chroma_http_decode_records(const char *body, size_t len, MigrateCollection *coll,
						   int64_t first_position, int max_records, MigrateBatch *batch,
						   char *err, size_t errlen)
{
	json_t	   *v;
	json_t	   *ids,
			   *embeddings,
			   *documents,
			   *metadatas,
			   *uris;
	size_t		n;
	int			dim = coll->dimension;
	MigrateJson js = {0};
	int			rc = -1;

	batch_reset(batch);
	v = parse(body, len, err, errlen);
	if (v == NULL)
		return -1;
	if (!json_is_object(v))
	{
		fail(err, errlen, "the records are %s, not an object", kind(v));
		goto done;
	}
	ids = json_object_get(v, "ids");
	if (!json_is_array(ids))
	{
		fail(err, errlen, "\"ids\" is %s, not an array", ids ? kind(ids) : "missing");
		goto done;
	}
	n = json_array_size(ids);
	if (n > (size_t) max_records || n > (size_t) batch->capacity)
	{
		fail(err, errlen, "%zu records in a page of at most %d", n, max_records);
		goto done;
	}
	if (parallel_array(v, "embeddings", n, &embeddings, err, errlen) != 0 ||
		parallel_array(v, "documents", n, &documents, err, errlen) != 0 ||
		parallel_array(v, "metadatas", n, &metadatas, err, errlen) != 0 ||
		parallel_array(v, "uris", n, &uris, err, errlen) != 0)
		goto done;
	if (n > 0 && embeddings == NULL)
	{
		fail(err, errlen, "the records have no \"embeddings\"");
		goto done;
	}

	for (size_t i = 0; i < n; i++)
	{
		MigrateRecord *r = &batch->records[i];
		json_t	   *id = json_array_get(ids, i);
		json_t	   *emb = json_array_get(embeddings, i);
		json_t	   *doc = documents ? json_array_get(documents, i) : NULL;
		json_t	   *uri = uris ? json_array_get(uris, i) : NULL;
		json_t	   *meta = metadatas ? json_array_get(metadatas, i) : NULL;
		const char *idtext;
		size_t		d;
		json_t	   *x;

		memset(r, 0, sizeof(*r));
		if (!json_is_string(id))
		{
			fail(err, errlen, "id %zu of the page is %s, not a string", i, kind(id));
			goto done;
		}
		idtext = json_string_value(id);
		if (!json_is_array(emb))
		{
			fail(err, errlen, "record \"%.200s\" has %s as its embedding, not an array", idtext, kind(emb));
			goto done;
		}
		if (dim == 0)
		{
			if (json_array_size(emb) < 1 || json_array_size(emb) > CHROMA_HTTP_MAX_DIM)
			{
				fail(err, errlen, "record \"%.200s\" has an embedding of %zu dimensions (vecq holds 1 to %d)",
					 idtext, json_array_size(emb), CHROMA_HTTP_MAX_DIM);
				goto done;
			}
			dim = (int) json_array_size(emb);
		}
		if (json_array_size(emb) != (size_t) dim)
		{
			fail(err, errlen, "record \"%.200s\" has an embedding of %zu dimensions, but collection \"%.200s\" has %d",
				 idtext, json_array_size(emb), coll->name, dim);
			goto done;
		}
		r->id = batch_strdup(batch, idtext, (int) json_string_length(id));
		r->dim = dim;
		r->position = first_position + (int64_t) i;
		r->embedding = batch_alloc(batch, sizeof(float) * dim);
		json_array_foreach(emb, d, x)
		{
			double		f;

			if (json_is_real(x))
				f = json_real_value(x);
			else if (json_is_integer(x))
				f = (double) json_integer_value(x);
			else
			{
				fail(err, errlen, "record \"%.200s\": element %zu of its embedding is %s, not a number",
					 idtext, d, kind(x));
				goto done;
			}
			if (!isfinite(f) || fabs(f) > FLT_MAX)
			{
				fail(err, errlen, "record \"%.200s\": element %zu of its embedding is out of range for float4",
					 idtext, d);
				goto done;
			}
			r->embedding[d] = element_float(f);
		}
		if (doc && !json_is_null(doc))
		{
			if (!json_is_string(doc))
			{
				fail(err, errlen, "record \"%.200s\" has %s as its document, not a string", idtext, kind(doc));
				goto done;
			}
			r->document = batch_strdup(batch, json_string_value(doc), (int) json_string_length(doc));
		}
		if (uri && !json_is_null(uri))
		{
			if (!json_is_string(uri))
			{
				fail(err, errlen, "record \"%.200s\" has %s as its uri, not a string", idtext, kind(uri));
				goto done;
			}
			r->uri = batch_strdup(batch, json_string_value(uri), (int) json_string_length(uri));
		}
		if (meta && !json_is_null(meta))
		{
			char		verr[128];

			if (!json_is_object(meta))
			{
				fail(err, errlen, "record \"%.200s\" has %s as its metadata, not an object", idtext, kind(meta));
				goto done;
			}
			if (!write_metadata(&js, meta, verr, sizeof(verr)))
			{
				fail(err, errlen, "the metadata of record \"%.200s\" has %s", idtext, verr);
				goto done;
			}
			r->metadata = batch_strdup(batch, js.data, (int) js.len);
		}
	}
	batch->count = (int) n;
	if (coll->dimension == 0)
		coll->dimension = dim;
	rc = (int) n;

done:
	if (rc < 0)
		batch_reset(batch);
	mjson_free(&js);
	json_decref(v);
	return rc;
}
