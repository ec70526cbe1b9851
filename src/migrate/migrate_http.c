/*-------------------------------------------------------------------------
 *
 * migrate_http.c
 *	  Reads a running Chroma 1.x server through its HTTP API (v2), with
 *	  libcurl: the source's transport.  chroma_http.c decodes the answers.
 *
 * What is read, in this order:
 *
 *	GET  /api/v2/heartbeat, /api/v2/version		is it a Chroma 1.x server
 *	GET  /api/v2/tenants/{t}					for each --tenant (the API
 *												cannot list tenants; the
 *												default is default_tenant)
 *	GET  /api/v2/tenants/{t}/databases?limit=&offset=
 *	GET  .../databases/{d}/collections?limit=&offset=
 *	GET  .../collections/{id}/count
 *	POST .../collections/{id}/get				{"limit", "offset",
 *												"include": [embeddings,
 *												documents, metadatas, uris]}
 *
 * get returns the records in the server's order (the order they were
 * added in), so a record's position is its ordinal in that order, counted
 * from 1, and reading on after a position is asking for that offset.
 *
 * The server is live, and offsets only mean something while nobody
 * writes: a collection's count is taken when it is listed, again when its
 * records are opened and after the last page, and a page that comes back
 * shorter or longer than the count allows stops the run.  Nothing can tell
 * an update in place from the outside, hence the advice to stop writes.
 *
 * The token (--token or VECQ_MIGRATE_TOKEN) goes in "Authorization:
 * Bearer" or in the header --token-header names (Chroma knows
 * X-Chroma-Token), and is never printed.  Redirects are not followed (a
 * header could follow them elsewhere).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <ctype.h>

#include <curl/curl.h>
#include <jansson.h>

#include "chroma_http.h"
#include "common/logging.h"
#include "migrate.h"
#include "pqexpbuffer.h"

#define LIST_PAGE		100		/* databases and collections per request */
#define FLOATS_PER_PAGE 2000000 /* a get page's size: about 25 MB of JSON */
#define MAX_ANSWER		((size_t) 1 << 30)

typedef struct HttpSource
{
	MigrateSource base;			/* must be first */
	char	   *url;			/* normalised, no trailing slash */
	CURL	   *curl;
	struct curl_slist *headers;
	char		errbuf[CURL_ERROR_SIZE];
	char	   *token_sent;		/* how, for messages; NULL: no token */
	char		version[64];
	char	   *description;
	int			ncollections;
	MigrateCollection *collections;
	int			ndatabases;
	MigrateDatabase *databases;
} HttpSource;

typedef struct HttpCursor
{
	MigrateCursor base;			/* must be first */
	HttpSource *src;
	MigrateCollection *coll;
	char	   *path;			/* /api/v2/.../collections/{id} */
	int64_t		offset;			/* records read */
	bool		done;
} HttpCursor;

/* an answer's body */
typedef struct HttpAnswer
{
	char	   *data;
	size_t		len;
	size_t		cap;
	bool		too_big;
} HttpAnswer;

static const char *http_describe(MigrateSource *source);
static int	http_collections(MigrateSource *source, MigrateCollection **out);
static int	http_databases(MigrateSource *source, MigrateDatabase **out);
static int	http_skipped(MigrateSource *source, char ***reasons);
static MigrateCursor *http_records(MigrateSource *source, MigrateCollection *coll,
								   int64_t after_position);
static bool http_next_batch(MigrateCursor *cursor, MigrateBatch *batch,
							int max_records);
static void http_cursor_close(MigrateCursor *cursor);
static void http_close(MigrateSource *source);

static const MigrateSourceMethods http_methods = {
	.describe = http_describe,
	.collections = http_collections,
	.databases = http_databases,
	.skipped = http_skipped,
	.records = http_records,
	.next_batch = http_next_batch,
	.cursor_close = http_cursor_close,
	.close = http_close,
};

/*
 * --from's URL as scheme://host[:port][/prefix], without a trailing slash
 * or a trailing /api/v2.  A user name or password, a query or a fragment
 * is refused (the token has its own option).
 */
char *
http_normalize_url(const char *url)
{
	CURLU	   *u = curl_url();
	CURLUcode	rc;
	char	   *part = NULL;
	char	   *scheme = NULL;
	char	   *out;
	size_t		len;

	if (u == NULL)
		pg_fatal("out of memory");
	rc = curl_url_set(u, CURLUPART_URL, url, 0);
	if (rc != CURLUE_OK)
		pg_fatal("--from %s is not a URL: %s", url, curl_url_strerror(rc));
	if (curl_url_get(u, CURLUPART_USER, &part, 0) == CURLUE_OK ||
		curl_url_get(u, CURLUPART_PASSWORD, &part, 0) == CURLUE_OK)
	{
		pg_log_error("the --from URL has a user name or password in it");
		pg_log_error_hint("Give the server's token with --token or VECQ_MIGRATE_TOKEN.");
		exit(1);
	}
	if (curl_url_get(u, CURLUPART_QUERY, &part, 0) == CURLUE_OK ||
		curl_url_get(u, CURLUPART_FRAGMENT, &part, 0) == CURLUE_OK)
		pg_fatal("--from %s: give the server's URL without a query or fragment (http://HOST:PORT)", url);
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
		(strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0))
		pg_fatal("--from %s: only http:// and https:// URLs name a Chroma server", url);
	curl_free(scheme);
	if (curl_url_get(u, CURLUPART_URL, &part, 0) != CURLUE_OK)
		pg_fatal("--from %s is not a URL", url);
	out = pg_strdup(part);
	curl_free(part);
	curl_url_cleanup(u);

	len = strlen(out);
	while (len > 0 && out[len - 1] == '/')
		out[--len] = '\0';
	if (len >= 7 && strcmp(out + len - 7, "/api/v2") == 0)
		out[len -= 7] = '\0';
	while (len > 0 && out[len - 1] == '/')
		out[--len] = '\0';
	return out;
}

static size_t
write_answer(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	HttpAnswer *a = userdata;
	size_t		n = size * nmemb;

	if (a->len + n > MAX_ANSWER)
	{
		a->too_big = true;
		return 0;
	}
	if (a->len + n + 1 > a->cap)
	{
		size_t		cap = a->cap ? a->cap : 65536;

		while (cap < a->len + n + 1)
			cap *= 2;
		a->data = pg_realloc(a->data, cap);
		a->cap = cap;
	}
	memcpy(a->data + a->len, ptr, n);
	a->len += n;
	a->data[a->len] = '\0';
	return n;
}

/*
 * One request; returns the HTTP status, the body in *answer (reset first).
 * A failure to connect or to read the answer ends the program.
 */
static long
http_request(HttpSource *src, const char *method, const char *path,
			 const char *body, HttpAnswer *answer)
{
	char	   *url = psprintf("%s%s", src->url, path);
	CURLcode	rc;
	long		status = 0;

	answer->len = 0;
	answer->too_big = false;
	src->errbuf[0] = '\0';
	curl_easy_setopt(src->curl, CURLOPT_URL, url);
	curl_easy_setopt(src->curl, CURLOPT_WRITEDATA, answer);
	if (body)
	{
		curl_easy_setopt(src->curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(src->curl, CURLOPT_POSTFIELDSIZE, (long) strlen(body));
	}
	else
		curl_easy_setopt(src->curl, CURLOPT_HTTPGET, 1L);
	rc = curl_easy_perform(src->curl);
	if (rc != CURLE_OK)
	{
		const char *why = src->errbuf[0] ? src->errbuf : curl_easy_strerror(rc);

		if (answer->too_big)
			pg_fatal("%s %s: the answer is larger than %zu bytes", method, url, MAX_ANSWER);
		if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST)
		{
			pg_log_error("could not connect to the Chroma server at %s: %s", src->url, why);
			pg_log_error_hint("Is the server running, and listening at that address? (chroma run --host HOST --port PORT)");
			exit(1);
		}
		pg_fatal("%s %s failed: %s", method, url, why);
	}
	curl_easy_getinfo(src->curl, CURLINFO_RESPONSE_CODE, &status);
	if (answer->data == NULL)
		write_answer("", 0, 0, answer);
	pg_free(url);
	return status;
}

/* an error answer ends the program, with the server's message */
static void
http_refused(HttpSource *src, const char *method, const char *path, long status,
			 const HttpAnswer *answer)
{
	char		msg[512];

	chroma_http_error_message(answer->data, answer->len, msg, sizeof(msg));
	pg_log_error("the Chroma server at %s answered %ld to %s %s: %s",
				 src->url, status, method, path, msg);
	if ((status == 401 || status == 403) && src->token_sent == NULL)
		pg_log_error_hint("Give the server's token with --token or VECQ_MIGRATE_TOKEN.");
	else if (status == 401 || status == 403)
		pg_log_error_hint("The token was sent as %s; is it the server's? A server that expects it in another header needs --token-header (e.g. X-Chroma-Token).",
						  src->token_sent);
	else if (status >= 300 && status < 400)
		pg_log_error_hint("vecq-migrate does not follow redirects: give the URL the server itself answers at.");
	exit(1);
}

/* a request that must succeed: the body of its answer */
static HttpAnswer *
http_call(HttpSource *src, const char *method, const char *path, const char *body,
		  HttpAnswer *answer)
{
	long		status = http_request(src, method, path, body, answer);

	if (status < 200 || status >= 300)
		http_refused(src, method, path, status, answer);
	return answer;
}

static void
pg_attribute_noreturn()
bad_answer(HttpSource *src, const char *method, const char *path, const char *err)
{
	pg_log_error("%s %s%s: %s", method, src->url, path, err);
	pg_log_error_hint("Is that a Chroma 1.x server? vecq-migrate reads its HTTP API v2.");
	exit(1);
}

/* a path segment, percent-encoded */
static char *
escape(HttpSource *src, const char *s)
{
	char	   *e = curl_easy_escape(src->curl, s, 0);
	char	   *out;

	if (e == NULL)
		pg_fatal("out of memory");
	out = pg_strdup(e);
	curl_free(e);
	return out;
}

static char *
collection_path(HttpSource *src, const MigrateCollection *c)
{
	char	   *t = escape(src, c->tenant);
	char	   *d = escape(src, c->database);
	char	   *path = psprintf("/api/v2/tenants/%s/databases/%s/collections/%s", t, d, c->id);

	pg_free(t);
	pg_free(d);
	return path;
}

static int64_t
count_records(HttpSource *src, const char *collpath)
{
	HttpAnswer a = {0};
	char	   *path = psprintf("%s/count", collpath);
	char		err[512];
	int64_t		n;

	http_call(src, "GET", path, NULL, &a);
	if (chroma_http_decode_count(a.data, a.len, &n, err, sizeof(err)) != 0)
		bad_answer(src, "GET", path, err);
	pg_free(path);
	pg_free(a.data);
	return n;
}

/* the databases of a tenant, and their collections */
static void
read_tenant(HttpSource *src, const char *tenant)
{
	char	   *t = escape(src, tenant);
	char	   *path = psprintf("/api/v2/tenants/%s", t);
	HttpAnswer a = {0};
	long		status;
	int			first_db = src->ndatabases;
	char		err[512];

	status = http_request(src, "GET", path, NULL, &a);
	if (status == 404)
	{
		char		msg[512];

		chroma_http_error_message(a.data, a.len, msg, sizeof(msg));
		pg_log_error("the Chroma server at %s has no tenant \"%s\" (%s)", src->url, tenant, msg);
		pg_log_error_hint("A server cannot list its tenants: name them with --tenant.");
		exit(1);
	}
	if (status < 200 || status >= 300)
		http_refused(src, "GET", path, status, &a);
	pg_free(path);

	for (int offset = 0;; offset += LIST_PAGE)
	{
		int			got;

		path = psprintf("/api/v2/tenants/%s/databases?limit=%d&offset=%d", t, LIST_PAGE, offset);
		http_call(src, "GET", path, NULL, &a);
		got = chroma_http_decode_databases(a.data, a.len, &src->databases, &src->ndatabases,
										   err, sizeof(err));
		if (got < 0)
			bad_answer(src, "GET", path, err);
		pg_free(path);
		if (got < LIST_PAGE)
			break;
	}
	if (src->ndatabases == first_db)
	{
		/* a tenant without databases */
		src->databases = pg_realloc(src->databases, sizeof(MigrateDatabase) * (src->ndatabases + 1));
		src->databases[src->ndatabases].tenant = pg_strdup(tenant);
		src->databases[src->ndatabases].id = NULL;
		src->databases[src->ndatabases].name = NULL;
		src->ndatabases++;
	}

	for (int i = first_db; i < src->ndatabases; i++)
	{
		MigrateDatabase *db = &src->databases[i];
		char	   *d;

		if (db->name == NULL)
			continue;
		if (strcmp(db->tenant, tenant) != 0)
			bad_answer(src, "GET", psprintf("/api/v2/tenants/%s/databases", t),
					   psprintf("database \"%s\" is of tenant \"%s\", not \"%s\"",
								db->name, db->tenant, tenant));
		d = escape(src, db->name);
		for (int offset = 0;; offset += LIST_PAGE)
		{
			int			before = src->ncollections;
			int			got;

			path = psprintf("/api/v2/tenants/%s/databases/%s/collections?limit=%d&offset=%d",
							t, d, LIST_PAGE, offset);
			http_call(src, "GET", path, NULL, &a);
			got = chroma_http_decode_collections(a.data, a.len, &src->collections,
												 &src->ncollections, err, sizeof(err));
			if (got < 0)
				bad_answer(src, "GET", path, err);
			for (int j = before; j < src->ncollections; j++)
			{
				MigrateCollection *c = &src->collections[j];

				if (strcmp(c->tenant, tenant) != 0 || strcmp(c->database, db->name) != 0)
					bad_answer(src, "GET", path,
							   psprintf("collection \"%s\" is of %s/%s, not %s/%s", c->name,
										c->tenant, c->database, tenant, db->name));
				c->database_id = pg_strdup(db->id);
				c->origin = psprintf("%s tenant %s", src->url, tenant);
			}
			pg_free(path);
			if (got < LIST_PAGE)
				break;
		}
		pg_free(d);
	}
	pg_free(t);
	pg_free(a.data);
}

MigrateSource *
http_open(const char *url, const MigrateOptions *opts)
{
	HttpSource *src = pg_malloc0(sizeof(HttpSource));
	HttpAnswer	a = {0};
	char		err[512];
	long		status;
	static const char *const default_tenants[] = {"default_tenant"};
	const char *const *tenants = opts->ntenants > 0 ? (const char *const *) opts->tenants : default_tenants;
	int			ntenants = opts->ntenants > 0 ? opts->ntenants : 1;
	PQExpBufferData desc;

	src->base.methods = &http_methods;
	src->url = pg_strdup(url);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 || (src->curl = curl_easy_init()) == NULL)
		pg_fatal("could not initialise libcurl");
	curl_easy_setopt(src->curl, CURLOPT_ERRORBUFFER, src->errbuf);
	curl_easy_setopt(src->curl, CURLOPT_WRITEFUNCTION, write_answer);
	curl_easy_setopt(src->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(src->curl, CURLOPT_CONNECTTIMEOUT, 10L);
	/* a server that stops sending for two minutes has gone */
	curl_easy_setopt(src->curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(src->curl, CURLOPT_LOW_SPEED_TIME, 120L);
	curl_easy_setopt(src->curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(src->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(src->curl, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(src->curl, CURLOPT_USERAGENT, "vecq-migrate/0.5.0");

	src->headers = curl_slist_append(NULL, "Accept: application/json");
	src->headers = curl_slist_append(src->headers, "Content-Type: application/json");
	if (opts->token)
	{
		const char *name = opts->token_header ? opts->token_header : "Authorization";
		char	   *h;

		if (strpbrk(opts->token, "\r\n") != NULL)
			pg_fatal("the token has a line break in it");
		for (const char *p = name; *p; p++)
			if (!isalnum((unsigned char) *p) && *p != '-' && *p != '_')
				pg_fatal("--token-header \"%s\" is not a header name", name);
		if (name[0] == '\0')
			pg_fatal("--token-header needs a header name");
		h = opts->token_header ? psprintf("%s: %s", name, opts->token) :
			psprintf("Authorization: Bearer %s", opts->token);
		src->headers = curl_slist_append(src->headers, h);
		src->token_sent = opts->token_header ? psprintf("\"%s: ...\"", name) :
			pg_strdup("\"Authorization: Bearer ...\"");
		explicit_bzero(h, strlen(h));
		pg_free(h);
	}
	else if (opts->token_header)
		pg_fatal("--token-header needs a token: --token or VECQ_MIGRATE_TOKEN");
	if (src->headers == NULL)
		pg_fatal("out of memory");
	curl_easy_setopt(src->curl, CURLOPT_HTTPHEADER, src->headers);

	/* is it a Chroma 1.x server */
	status = http_request(src, "GET", "/api/v2/heartbeat", NULL, &a);
	if (status == 404)
	{
		pg_log_error("%s does not answer as a Chroma 1.x server: GET /api/v2/heartbeat answered 404",
					 src->url);
		pg_log_error_hint("vecq-migrate reads the HTTP API v2 of Chroma 1.x; for an older server, copy its persist directory (--from DIR).");
		exit(1);
	}
	if (status < 200 || status >= 300)
		http_refused(src, "GET", "/api/v2/heartbeat", status, &a);
	{
		json_t	   *hb = json_loadb(a.data, a.len, 0, NULL);

		if (!json_is_object(hb) || json_object_get(hb, "nanosecond heartbeat") == NULL)
		{
			json_decref(hb);
			chroma_http_error_message(a.data, a.len, err, sizeof(err));
			bad_answer(src, "GET", "/api/v2/heartbeat",
					   psprintf("the answer is not a Chroma heartbeat: %s", err));
		}
		json_decref(hb);
	}
	http_call(src, "GET", "/api/v2/version", NULL, &a);
	if (chroma_http_decode_version(a.data, a.len, src->version, sizeof(src->version),
								   err, sizeof(err)) != 0)
		bad_answer(src, "GET", "/api/v2/version", err);
	pg_free(a.data);

	initPQExpBuffer(&desc);
	appendPQExpBuffer(&desc, "Chroma %s server (HTTP API v2), tenant%s ", src->version,
					  ntenants > 1 ? "s" : "");
	for (int i = 0; i < ntenants; i++)
	{
		appendPQExpBuffer(&desc, "%s%s", i ? ", " : "", tenants[i]);
		read_tenant(src, tenants[i]);
	}
	src->description = desc.data;

	for (int i = 0; i < src->ncollections; i++)
	{
		MigrateCollection *c = &src->collections[i];
		char	   *path = collection_path(src, c);

		c->records = count_records(src, path);
		pg_free(path);
	}
	return &src->base;
}

static const char *
http_describe(MigrateSource *source)
{
	return ((HttpSource *) source)->description;
}

static int
http_collections(MigrateSource *source, MigrateCollection **out)
{
	HttpSource *src = (HttpSource *) source;

	*out = src->collections;
	return src->ncollections;
}

static int
http_databases(MigrateSource *source, MigrateDatabase **out)
{
	HttpSource *src = (HttpSource *) source;

	*out = src->databases;
	return src->ndatabases;
}

static int
http_skipped(MigrateSource *source, char ***reasons)
{
	*reasons = NULL;
	return 0;
}

static void
pg_attribute_noreturn()
changed(HttpCursor *cur, const char *what)
{
	MigrateCollection *c = cur->coll;

	pg_log_error("collection \"%s\" (tenant \"%s\", database \"%s\") of the Chroma server at %s changed while it was read: %s",
				 c->name, c->tenant, c->database, cur->src->url, what);
	pg_log_error_detail("vecq-migrate reads a collection page by page in the server's order; writes in between move the pages.");
	pg_log_error_hint("Stop writes to the server while it is read; then run again with --resume and after it with --catch-up (which compares every record), or with --replace.");
	exit(1);
}

/* the count must still be the one the collection was listed with */
static void
check_count(HttpCursor *cur, const char *when)
{
	int64_t		n = count_records(cur->src, cur->path);

	if (n != cur->coll->records)
		changed(cur, psprintf("it had %lld records when it was listed and %lld %s",
							  (long long) cur->coll->records, (long long) n, when));
}

static MigrateCursor *
http_records(MigrateSource *source, MigrateCollection *coll, int64_t after_position)
{
	HttpSource *src = (HttpSource *) source;
	HttpCursor *cur = pg_malloc0(sizeof(HttpCursor));

	cur->base.source = source;
	cur->src = src;
	cur->coll = coll;
	cur->path = collection_path(src, coll);
	cur->offset = after_position;
	check_count(cur, "when its records were opened");
	if (after_position > coll->records)
		changed(cur, psprintf("an earlier run copied %lld records of it, but it has %lld now",
							  (long long) after_position, (long long) coll->records));
	return &cur->base;
}

static bool
http_next_batch(MigrateCursor *cursor, MigrateBatch *batch, int max_records)
{
	HttpCursor *cur = (HttpCursor *) cursor;
	HttpSource *src = cur->src;
	MigrateCollection *c = cur->coll;
	int			limit = max_records;
	int			per_page;
	char	   *path;
	char	   *body;
	json_t	   *req;
	HttpAnswer	a = {0};
	char		err[512];
	int			n;

	batch_reset(batch);
	if (cur->done)
		return false;
	if (cur->offset >= c->records)
	{
		check_count(cur, "after its last page");
		cur->done = true;
		return false;
	}
	per_page = c->dimension > 0 ? FLOATS_PER_PAGE / c->dimension : 100;
	if (limit > batch->capacity)
		limit = batch->capacity;
	if (limit > per_page)
		limit = per_page;
	if (limit < 1)
		limit = 1;

	path = psprintf("%s/get", cur->path);
	req = json_pack("{s:i, s:I, s:[s,s,s,s]}", "limit", limit, "offset", (json_int_t) cur->offset,
					"include", "embeddings", "documents", "metadatas", "uris");
	body = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	http_call(src, "POST", path, body, &a);
	free(body);
	n = chroma_http_decode_records(a.data, a.len, c, cur->offset + 1, limit, batch,
								   err, sizeof(err));
	if (n < 0)
		bad_answer(src, "POST", path, err);
	pg_free(a.data);
	pg_free(path);

	if (cur->offset + n > c->records)
		changed(cur, psprintf("it had %lld records when it was listed, but records %lld to %lld came back",
							  (long long) c->records, (long long) cur->offset + 1,
							  (long long) (cur->offset + n)));
	if (n < limit && cur->offset + n < c->records)
		changed(cur, psprintf("it had %lld records when it was listed, but the records after %lld end at %lld",
							  (long long) c->records, (long long) cur->offset,
							  (long long) (cur->offset + n)));
	cur->offset += n;
	if (cur->offset == c->records)
	{
		check_count(cur, "after its last page");
		cur->done = true;
	}
	return n > 0;
}

static void
http_cursor_close(MigrateCursor *cursor)
{
	HttpCursor *cur = (HttpCursor *) cursor;

	pg_free(cur->path);
	pg_free(cur);
}

static void
http_close(MigrateSource *source)
{
	HttpSource *src = (HttpSource *) source;

	curl_easy_cleanup(src->curl);
	curl_slist_free_all(src->headers);
	curl_global_cleanup();
}
