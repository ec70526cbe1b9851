/*-------------------------------------------------------------------------
 *
 * chroma_http.h
 *	  Decodes the JSON answers of Chroma's HTTP API (v2) into vecq-migrate's
 *	  collections, databases and records.
 *
 * Nothing here does any I/O or exits: each function takes a response body
 * and its length, and returns 0 (or a count) or -1 with a message in err
 * (a lower-case phrase without the URL, which the caller adds).  On error
 * nothing is added to the outputs.  migrate_http.c does the transport; the
 * fuzzer (test/fuzz/fuzz_chroma_http.c) calls these directly.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CHROMA_HTTP_H
#define CHROMA_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "migrate.h"

/* vecq's vector type holds at most this many dimensions */
#define CHROMA_HTTP_MAX_DIM 16000

/*
 * An error answer's text: "NotFoundError: Collection [x] does not exists"
 * from {"error": ..., "message": ...}, else the body itself, shortened and
 * with control characters replaced.  Always fills msg.
 */
extern void chroma_http_error_message(const char *body, size_t len,
									  char *msg, size_t msglen);

/* GET /api/v2/version: "1.0.0" */
extern int	chroma_http_decode_version(const char *body, size_t len,
									   char *version, size_t versionlen,
									   char *err, size_t errlen);

/* GET .../collections/{id}/count: a non-negative integer */
extern int	chroma_http_decode_count(const char *body, size_t len, int64_t *count,
									 char *err, size_t errlen);

/*
 * GET /api/v2/tenants/{t}/databases (a page): appends to *dbs, *n; returns
 * how many this page held
 */
extern int	chroma_http_decode_databases(const char *body, size_t len,
										 MigrateDatabase **dbs, int *n,
										 char *err, size_t errlen);

/*
 * GET .../databases/{d}/collections (a page): appends to *colls, *n with
 * id, name, tenant, database, dimension, space, metadata, configuration and
 * notes filled in (records -1: the count is asked separately; source_seq
 * -1; database_id NULL); returns how many this page held
 */
extern int	chroma_http_decode_collections(const char *body, size_t len,
										   MigrateCollection **colls, int *n,
										   char *err, size_t errlen);

extern void chroma_http_free_collection(MigrateCollection *c);
extern void chroma_http_free_database(MigrateDatabase *d);

/*
 * POST .../collections/{id}/get with include embeddings, documents,
 * metadatas and uris (a page of at most max_records): the records into
 * batch (reset first), positions first_position, first_position + 1, ...
 * Every vector must have coll->dimension elements; if that is 0, the first
 * record's sets it.  Returns the number of records.
 */
extern int	chroma_http_decode_records(const char *body, size_t len,
									   MigrateCollection *coll, int64_t first_position,
									   int max_records, MigrateBatch *batch,
									   char *err, size_t errlen);

#endif							/* CHROMA_HTTP_H */
