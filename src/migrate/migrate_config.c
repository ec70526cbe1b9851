/*-------------------------------------------------------------------------
 *
 * migrate_config.c
 *	  A collection's space, HNSW settings and notes from Chroma's
 *	  configuration JSON, the same for every source: a persist directory's
 *	  collections.config_json_str / schema_str and a server's
 *	  configuration_json are the same document; and what Chroma's ids of
 *	  collections and segments look like.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <ctype.h>

#include <jansson.h>

#include "migrate.h"

/*
 * The collection's HNSW settings for chroma._configuration(): from
 * config_json_str (0.5.x: hnsw_configuration, with M; 1.x: vector_index.hnsw
 * or hnsw) or schema_str (1.3+: the #embedding key's vector index), keeping
 * the keys vecq knows; the hnsw:* metadata keys are read by
 * chroma._configuration itself.
 */
static const char *const hnsw_keys[] = {
	"space", "ef_construction", "ef_search", "max_neighbors", "num_threads",
	"batch_size", "sync_threshold", "resize_factor", NULL
};

static json_t *
hnsw_settings(json_t *config, json_t *schema, const char **space)
{
	json_t	   *h = NULL;
	json_t	   *vi = NULL;
	json_t	   *out = json_object();

	if (config)
	{
		h = json_object_get(config, "hnsw_configuration");
		if (!h)
			h = json_object_get(config, "hnsw");
		if (!h && (vi = json_object_get(config, "vector_index")) != NULL)
			h = json_object_get(vi, "hnsw");
	}
	if (!json_is_object(h) && schema)
	{
		vi = json_object_get(json_object_get(json_object_get(json_object_get(schema, "keys"),
															 "#embedding"),
											 "float_list"),
							 "vector_index");
		if (!vi)
			vi = json_object_get(json_object_get(json_object_get(schema, "defaults"),
												 "float_list"),
								 "vector_index");
		vi = json_object_get(vi, "config");
		h = json_object_get(vi, "hnsw");
		if (json_is_string(json_object_get(vi, "space")))
			json_object_set(out, "space", json_object_get(vi, "space"));
	}
	if (json_is_object(h))
	{
		for (int i = 0; hnsw_keys[i]; i++)
		{
			json_t	   *v = json_object_get(h, hnsw_keys[i]);

			if (v && !json_is_null(v))
				json_object_set(out, hnsw_keys[i], v);
		}
		if (json_object_get(h, "M") && !json_object_get(out, "max_neighbors"))
			json_object_set(out, "max_neighbors", json_object_get(h, "M"));
	}
	if (json_is_string(json_object_get(out, "space")))
		*space = json_string_value(json_object_get(out, "space"));
	return out;
}

/*
 * Fill in c->space, c->configuration ({"hnsw": {...}} for
 * chroma._configuration) and c->notes from config and schema (either may be
 * NULL) and c->metadata's hnsw:space, which must be set already.
 */
void
migrate_collection_settings(MigrateCollection *c, json_t *config, json_t *schema)
{
	json_t	   *hnsw;
	json_t	   *ef;
	json_t	   *meta = NULL;
	const char *space = NULL;

	hnsw = hnsw_settings(config, schema, &space);
	if (space == NULL && c->metadata)
		meta = json_loads(c->metadata, 0, NULL);
	if (space == NULL && json_is_string(json_object_get(meta, "hnsw:space")))
		space = json_string_value(json_object_get(meta, "hnsw:space"));
	c->space = pg_strdup(space ? space : "l2");
	json_decref(meta);
	json_object_set_new(hnsw, "space", json_string(c->space));
	{
		json_t	   *wrap = json_pack("{s:O}", "hnsw", hnsw);
		char	   *s = json_dumps(wrap, JSON_COMPACT | JSON_SORT_KEYS);

		c->configuration = pg_strdup(s);
		free(s);
		json_decref(wrap);
	}
	ef = config ? json_object_get(config, "embedding_function") : NULL;
	if (json_is_object(ef) && json_is_string(json_object_get(ef, "name")))
		c->notes = psprintf("Chroma's embedding function \"%s\" is not carried over (vecq computes embeddings with SQL functions: create_collection's embedding_function)",
							json_string_value(json_object_get(ef, "name")));
	json_decref(hnsw);
}

/* a uuid in its text form, as Chroma's collection and segment ids are */
bool
migrate_is_uuid(const char *s)
{
	if (strlen(s) != 36)
		return false;
	for (int i = 0; i < 36; i++)
	{
		if (i == 8 || i == 13 || i == 18 || i == 23)
		{
			if (s[i] != '-')
				return false;
		}
		else if (!isxdigit((unsigned char) s[i]))
			return false;
	}
	return true;
}
