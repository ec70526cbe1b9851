/*-------------------------------------------------------------------------
 *
 * migrate.h
 *	  vecq-migrate: copies a ChromaDB persist directory, or what a running
 *	  Chroma server answers, into vecq's chroma schema.
 *
 * The program has three parts, each in its own file:
 *
 *	migrate_persist.c	reads a persist directory (chroma.sqlite3 and the
 *						HNSW segment files), read-only, into collections and
 *						a stream of records in Chroma's insertion order;
 *	migrate_http.c		or reads the same from a running Chroma 1.x server
 *						through its HTTP API (v2), page by page; the JSON
 *						answers are decoded by chroma_http.c;
 *	migrate_target.c	writes them through libpq: the catalog rows, the
 *						records by binary COPY, one transaction per batch
 *						with its checkpoint in chroma.migrations;
 *	migrate_verify.c	reads what was written back and compares it, record
 *						by record, with the source, and checks k-NN answers.
 *
 * migrate_main.c parses the options and runs them; migrate_progress.c
 * shows the progress.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MIGRATE_H
#define MIGRATE_H

#include <stdbool.h>
#include <stdint.h>

#include "libpq-fe.h"

#include "../common/graph_seed.h"

/* the most dimensions vecq's vector type takes (VECQ_MAX_DIM) */
#define MIGRATE_MAX_DIM 16000

/* a database of the source (tenants without databases: name NULL) */
typedef struct MigrateDatabase
{
	char	   *tenant;
	char	   *id;
	char	   *name;
} MigrateDatabase;

/* a collection of the source */
typedef struct MigrateCollection
{
	char	   *id;				/* Chroma's collection id (uuid text) */
	char	   *name;
	char	   *tenant;
	char	   *database;
	char	   *database_id;	/* the database's id in the source */
	int			dimension;		/* 0: not known (no record ever written) */
	char	   *space;			/* l2, ip or cosine */
	char	   *metadata;		/* JSON object text, or NULL */
	char	   *configuration;	/* {"hnsw": {...}} for chroma._configuration */
	char	   *notes;			/* what is not carried over, or NULL */
	int64_t		records;		/* live records */
	int64_t		source_seq;		/* the log position the records are at */
	char	   *origin;			/* chroma.migrations.source, NULL: the
								 * source's name */
	/* persist directory only */
	char	   *metadata_segment;
	char	   *vector_segment;
	bool		selected;		/* chosen by --tenant / --collections */
	int64_t		seeded;			/* records the index took Chroma's lists for */
	double		seed_seconds;	/* reading and sending that graph */
} MigrateCollection;

/* one record, as Chroma's get returns it */
typedef struct MigrateRecord
{
	char	   *id;
	int			dim;
	float	   *embedding;		/* dim floats */
	char	   *document;		/* NULL: none */
	char	   *uri;			/* NULL: none */
	char	   *metadata;		/* JSON object text, NULL: none */
	int64_t		position;		/* the source's order (row id), increasing */
} MigrateRecord;

/* a batch of records; its strings live in its own memory, reset per batch */
typedef struct MigrateBatch
{
	int			count;
	int			capacity;
	MigrateRecord *records;
	struct MigrateArena *arena;
} MigrateBatch;

/*
 * A source: a persist directory (migrate_persist.c) or a running server
 * (migrate_http.c), behind the same methods.  A cursor streams one
 * collection's records in the source's order, from after a position on.
 */
typedef struct MigrateSource MigrateSource;
typedef struct MigrateCursor MigrateCursor;
struct SeedWriter;

typedef struct MigrateSourceMethods
{
	const char *(*describe) (MigrateSource *src);
	int			(*collections) (MigrateSource *src, MigrateCollection **out);
	int			(*databases) (MigrateSource *src, MigrateDatabase **out);
	int			(*skipped) (MigrateSource *src, char ***reasons);
	MigrateCursor *(*records) (MigrateSource *src, MigrateCollection *coll,
							   int64_t after_position);
	bool		(*next_batch) (MigrateCursor *cur, MigrateBatch *batch,
							   int max_records);
	void		(*cursor_close) (MigrateCursor *cur);
	void		(*close) (MigrateSource *src);

	/*
	 * Optional (NULL: not offered), for --catch-up: the ids the source's log
	 * touched after a log position (false: the log no longer holds all of
	 * it); a cursor over just some ids' records; a cursor over every
	 * record's id and position only (records with no vector, no metadata)
	 */
	bool		(*changed_ids) (MigrateSource *src, MigrateCollection *coll,
								int64_t since_seq, char ***ids, int *n);
	MigrateCursor *(*records_with_ids) (MigrateSource *src, MigrateCollection *coll,
										char **ids, int n);
	MigrateCursor *(*ids) (MigrateSource *src, MigrateCollection *coll);

	/*
	 * Optional: write the graph of the source's own index into w with
	 * seed_element (migrate_seed.c), after the cursor's last batch; false
	 * when there is none to offer (w untouched)
	 */
	bool		(*graph_seed) (MigrateCursor *cur, struct SeedWriter *w);
} MigrateSourceMethods;

struct MigrateSource
{
	const MigrateSourceMethods *methods;
};

struct MigrateCursor
{
	MigrateSource *source;
};

struct MigrateOptions;
struct json_t;

/* migrate_persist.c */
extern bool persist_read_ahead;
extern MigrateSource *persist_open(const char *dir);

/* migrate_http.c: url is http[s]://host[:port][/prefix] */
extern MigrateSource *http_open(const char *url, const struct MigrateOptions *opts);
extern char *http_normalize_url(const char *url);

/* migrate_config.c */
extern void migrate_collection_settings(MigrateCollection *c, struct json_t *config,
										struct json_t *schema);
extern bool migrate_is_uuid(const char *s);

/* migrate_source.c: calls through the methods */
extern const char *source_describe(MigrateSource *src);
extern int	source_collections(MigrateSource *src, MigrateCollection **out);
extern int	source_databases(MigrateSource *src, MigrateDatabase **out);
extern int	source_skipped(MigrateSource *src, char ***reasons);
extern MigrateCursor *source_records(MigrateSource *src, MigrateCollection *coll,
									 int64_t after_position);
extern bool source_next_batch(MigrateCursor *cur, MigrateBatch *batch,
							  int max_records);
extern void source_cursor_close(MigrateCursor *cur);
extern void source_close(MigrateSource *src);

/* batches and their memory */
extern void batch_init(MigrateBatch *batch, int capacity);
extern void batch_reset(MigrateBatch *batch);
extern void *batch_alloc(MigrateBatch *batch, size_t size);
extern char *batch_strdup(MigrateBatch *batch, const char *s, int len);
extern void batch_free(MigrateBatch *batch);

/* migrate_json.c: metadata values as JSON text */
typedef struct MigrateJson
{
	char	   *data;
	size_t		len;
	size_t		cap;
	int			members;
} MigrateJson;

extern void mjson_begin_object(MigrateJson *js);
extern void mjson_key(MigrateJson *js, const char *key);
extern void mjson_string(MigrateJson *js, const char *s, int len);
extern void mjson_int(MigrateJson *js, int64_t v);
extern bool mjson_double(MigrateJson *js, double v);
extern void mjson_bool(MigrateJson *js, bool v);
extern void mjson_raw(MigrateJson *js, const char *s);
extern void mjson_end_object(MigrateJson *js);
extern void mjson_free(MigrateJson *js);

/* options shared by the parts */
typedef struct MigrateOptions
{
	const char *from;
	const char *to;
	char	  **tenants;		/* only these source tenants; NULL: all */
	int			ntenants;
	const char *tenant_list;	/* --tenant as given */
	char	  **collections;	/* only these names; NULL: all */
	int			ncollections;
	int			batch;
	bool		dry_run;
	bool		resume;
	bool		verify;
	bool		replace;
	bool		catch_up;
	bool		no_graph_seed;	/* --no-graph-seed */
	int			verify_queries;
	const char *maintenance_work_mem;
	const char *token;			/* an HTTP source's token, or NULL */
	const char *token_header;	/* NULL: Authorization: Bearer */
} MigrateOptions;

/* migrate_main.c */
extern bool option_tenant_selected(const MigrateOptions *opts, const char *tenant);

/* migrate_target.c */
typedef enum MigratePlan
{
	PLAN_COPY,					/* create the collection, copy everything */
	PLAN_RESUME,				/* an earlier copy stopped: continue it */
	PLAN_DONE,					/* copied before, nothing to do */
	PLAN_CATCHUP				/* copied before: copy what changed since */
} MigratePlan;

typedef struct MigrateTarget
{
	PGconn	   *conn;
	char	   *table;			/* chroma_records."<uuid>" */
	char	   *collection_id;	/* the target's uuid */
	int64_t		records_done;
	int64_t		position;		/* source position of the last record copied */
	int64_t		source_seq;		/* the log position the copy is at; -1: none */
} MigrateTarget;

extern PGconn *target_connect(const char *conninfo);
extern void target_databases(PGconn *conn, const MigrateDatabase *dbs, int n,
							 const MigrateOptions *opts);
extern MigratePlan target_prepare(PGconn *conn, const MigrateOptions *opts,
								  const char *source, MigrateCollection *coll,
								  MigrateTarget *tgt);
extern void target_copy_batch(MigrateTarget *tgt, MigrateBatch *batch);
extern void target_copy_records(PGconn *conn, const char *table,
								const MigrateRecord *records, int n,
								bool with_position);
extern void target_copy_ids(PGconn *conn, const char *table,
							const char *const *ids, int n);
extern void target_finish(MigrateTarget *tgt, MigrateCollection *coll);

/* migrate_seed.c: the source's graph, as the index build's seed */
typedef struct SeedWriter
{
	PGconn	   *conn;
	const char *table;
	uint8_t    *buf;
	size_t		len;
	size_t		cap;
	int64_t		elements;		/* written so far */
	int64_t		rows;			/* of them, elements of a record */
	bool		failed;			/* the server refused: write no more */
	char	   *why;
} SeedWriter;

extern void seed_element(SeedWriter *w, uint64_t hash, int level,
						 const uint32_t *const *lists, const uint32_t *counts);
extern void target_send_seed(MigrateTarget *tgt, MigrateCursor *cur,
							 MigrateCollection *coll);
extern void target_run(PGconn *conn, const char *sql, int nparams,
					   const char *const *params);
extern PGresult *target_query(PGconn *conn, const char *sql, int nparams,
							  const char *const *params);
extern int64_t target_count_records(PGconn *conn, const char *table);
extern char *target_records_table(const char *id);

/* migrate_copyout.c: a target table's records, read back in seq order */
typedef struct CopyReader
{
	PGconn	   *conn;
	char	   *buf;			/* the current row, from PQgetCopyData */
	int			len;
	bool		header_seen;
	bool		finished;
} CopyReader;

/* a row: id, embedding, document, metadata, uri; pointing into buf */
typedef struct TargetRow
{
	int			nfields;
	const char *field[5];
	int			flen[5];		/* -1: NULL */
} TargetRow;

extern void copyout_start(CopyReader *rd, PGconn *conn, const char *table);
extern bool copyout_next(CopyReader *rd, TargetRow *row);
extern void copyout_end(CopyReader *rd);
extern uint32_t copyout_get32(const char *p);

/* migrate_catchup.c */
extern MigratePlan catchup_prepare(PGconn *conn, const MigrateOptions *opts,
								   const char *source, MigrateCollection *coll,
								   MigrateTarget *tgt);
extern void catchup_collection(MigrateSource *src, MigrateCollection *coll,
							   MigrateTarget *tgt, const MigrateOptions *opts);
extern void catchup_report_gone(PGconn *conn, const char *source,
								const MigrateOptions *opts,
								const MigrateCollection *colls, int n);

/* migrate_verify.c */
extern int64_t verify_collection(MigrateSource *src, MigrateCollection *coll,
								 MigrateTarget *tgt, const MigrateOptions *opts);

/* migrate_progress.c */
extern double progress_seconds(void);
extern void progress_start(const MigrateCollection *coll, int64_t done);
extern void progress_batch(const MigrateCollection *coll, int64_t done,
						   int batch_records);
extern void progress_end(const MigrateCollection *coll, int64_t done,
						 const char *what);

#endif							/* MIGRATE_H */
