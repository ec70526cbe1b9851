/*-------------------------------------------------------------------------
 *
 * fuzz_chroma_sqlite.c
 *	  libFuzzer target for vecq-migrate's persist directory reader
 *	  (src/migrate/migrate_persist.c): the code that interprets the rows of
 *	  chroma.sqlite3, its JSON columns, the log's vectors and the segment
 *	  directories beside it.
 *
 * An input describes a persist directory rather than being a sqlite file
 * image (whose mutations sqlite's own checks would mostly refuse):
 *
 *	byte 0		schema template: (b & 0x7f) % number of templates, in the
 *				order of chroma_sqlite_schemas/era*.sql (the CREATE
 *				statements and migrations rows of real directories, one a
 *				schema era); bit 0x80: the "loose" variant of it, without
 *				NOT NULL, UNIQUE and non-rowid PRIMARY KEY constraints, so
 *				that any value can reach any column
 *	byte 1		records per batch: 1 + b % 4
 *	then commands until the input ends:
 *	  b < 0xe0	insert a row into table b % NTABLES of tables[] (ignored
 *				if the era lacks the table or a constraint refuses the
 *				row); one value per column of the table, in its order:
 *				  t % 8 == 0	NULL
 *				  1		int64 from a signed byte
 *				  2		int64, 8 bytes little-endian
 *				  3		double, 8 bytes little-endian
 *				  4, 5	text, blob: length byte (0xff: a 2-byte length
 *						follows) and the bytes
 *				  6		text from pool[] (next byte): the ids, topics,
 *						scopes, encodings, keys and JSON that match
 *				  7		generated, by the next byte g:
 *						  g % 4 == 0: float32 vector blob: 2-byte count
 *							(times 4 if bit 0x80 of the fill byte), fill
 *							byte (low 3 bits: ramp, 0, NaN, Inf, 1e38,
 *							denormal, -0, or the next 4 bytes)
 *						  1: 8-byte big-endian blob of a signed byte
 *						  2: text of a byte repeated (2-byte count)
 *						  3: pool[] string as a blob
 *	  0xe0-0xef	write a file into segment directory pool[SEGMENT0 +
 *				next byte % 4]: b & 3 chooses header.bin, data_level0.bin,
 *				length.bin or index_metadata.pickle; a 2-byte length and
 *				the bytes
 *	  0xf0-0xff	reserved (ignored)
 *
 * An input that starts with "SQLite format 3" is written as the file
 * chroma.sqlite3 itself (plain mode, for mutating real images).
 *
 * The target builds the directory in /dev/shm (or $TMPDIR), opens it with
 * persist_open and reads every collection's records through the source
 * methods, as vecq-migrate does.  pg_fatal is a normal outcome: exit() is
 * wrapped (-Wl,--wrap=exit) and jumps back here, and what the failed run
 * left (sqlite connections, mapped HNSW files, pg_malloc'd memory, file
 * descriptors) is released.  What is read must be what the target (COPY
 * into vecq) can take: vectors of 1..65536 finite floats, one dimension per
 * collection, increasing positions, metadata and configuration that are
 * JSON objects.  Anything else, and any sanitizer report, is a finding.
 *
 * FUZZ_CHROMA_VERBOSE=1 prints the reader's messages.
 *
 * test/fuzz/fuzz_chroma_sqlite.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sanitizer/asan_interface.h>
#include <sqlite3.h>

#include "chroma_hnsw.h"
#include "common/logging.h"
#include "migrate.h"

#ifndef CHROMA_SCHEMA_DIR
#error "build with -DCHROMA_SCHEMA_DIR=\"test/fuzz/chroma_sqlite_schemas\""
#endif

/* the tables a command can fill, in this order */
static const char *const tables[] = {
	"collections", "segments", "embeddings", "embedding_metadata",
	"embeddings_queue", "max_seq_id", "collection_metadata",
	"embedding_metadata_array", "tenants", "databases"
};
#define NTABLES (sizeof(tables) / sizeof(tables[0]))

#define SEGMENT0 4				/* pool[4..7] are segment ids */

static const char *const pool[] = {
	/* 0-3: collection ids */
	"11111111-1111-4111-8111-111111111111",
	"22222222-2222-4222-8222-222222222222",
	"33333333-3333-4333-8333-333333333333",
	"not-a-uuid",
	/* 4-7: segment ids (and segment directory names) */
	"aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa",
	"bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb",
	"cccccccc-cccc-4ccc-8ccc-cccccccccccc",
	"dddddddd-dddd-4ddd-8ddd-dddddddddddd",
	/* 8-11: topics */
	"persistent://default/default/11111111-1111-4111-8111-111111111111",
	"persistent://default/default/22222222-2222-4222-8222-222222222222",
	"persistent://default/default/33333333-3333-4333-8333-333333333333",
	"persistent://default/default/%",
	/* 12-15: embedding ids */
	"id0", "id1", "id2", "",
	/* 16-: scopes, types, encodings, keys, spaces, tenants */
	"METADATA", "VECTOR", "FLOAT32", "INT32",
	"chroma:document", "chroma:uri", "hnsw:space", "cosine",
	"l2", "ip", "default_tenant", "default_database",
	"00000000-0000-0000-0000-000000000000", "t2",
	"urn:chroma:segment/vector/hnsw-local-persisted",
	"urn:chroma:segment/metadata/sqlite",
	"key", "chroma:", "FLOAT16", "..",
	/* 36-: configuration and schema JSON */
	"{\"hnsw_configuration\":{\"space\":\"cosine\",\"M\":16,\"ef_search\":10}}",
	"{\"vector_index\":{\"hnsw\":{\"space\":\"ip\",\"ef_construction\":100,\"max_neighbors\":8}}}",
	"{\"hnsw\":{\"space\":\"l2\",\"sync_threshold\":1000,\"resize_factor\":1.2}}",
	"{\"embedding_function\":{\"name\":\"default\",\"type\":\"known\"}}",
	"{\"keys\":{\"#embedding\":{\"float_list\":{\"vector_index\":{\"config\":{\"space\":\"cosine\",\"hnsw\":{\"ef_search\":5}}}}}}}",
	"{\"defaults\":{\"float_list\":{\"vector_index\":{\"config\":{\"space\":\"ip\"}}}}}",
	"null", "[]", "{\"hnsw\":null,\"hnsw_configuration\":[1]}",
	"{\"vector_index\":{\"hnsw\":{\"space\":7,\"M\":{}}}}",
	"{\"keys\":{\"#embedding\":{\"float_list\":{\"vector_index\":{\"config\":{\"space\":[\"cosine\"]}}}}}}",
	"{\"a\":", "\"cosine\"", "1e999", "{\"embedding_function\":{\"name\":null}}",
};
#define NPOOL (sizeof(pool) / sizeof(pool[0]))

static const char *const seg_files[] = {
	"header.bin", "data_level0.bin", "length.bin", "index_metadata.pickle"
};

typedef struct Template
{
	unsigned char *image;
	sqlite3_int64 size;
	int			ncols[NTABLES];	/* 0: no such table */
	char	   *insert[NTABLES];
} Template;

#define MAXTEMPLATES 32
static Template templates[MAXTEMPLATES][2];
static int	ntemplates;
static char workdir[256];
static int	base_fd;
static bool verbose;

/* ---- what a failed run leaves behind --------------------------------- */

/*
 * A small quarantine: the reader and sqlite allocate and free a lot, and
 * with ASan's default 256 MB every allocation is fresh memory, so page
 * faults took three quarters of the time.  No leak checking: a failed run
 * leaks jansson's objects by design (the program exits there).
 */
const char *__asan_default_options(void);

const char *
__asan_default_options(void)
{
	return "quarantine_size_mb=8:detect_leaks=0";
}

static jmp_buf fatal_jump;
static bool fatal_armed;

extern void __real_exit(int status);
void		__wrap_exit(int status);

void
__wrap_exit(int status)
{
	if (fatal_armed)
	{
		fatal_armed = false;
		longjmp(fatal_jump, status == 0 ? 256 : status);
	}
	__real_exit(status);
}

/* the reader's messages */
void		__wrap_pg_log_generic(enum pg_log_level level, enum pg_log_part part,
								  const char *fmt,...);

void
__wrap_pg_log_generic(enum pg_log_level level, enum pg_log_part part,
					  const char *fmt,...)
{
	va_list		ap;
	char		buf[1024];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (verbose)
		fprintf(stderr, "reader: %s\n", buf);
}

/* sqlite connections the reader opened */
#define MAXOPEN 8
static sqlite3 *open_dbs[MAXOPEN];

extern int	__real_sqlite3_open_v2(const char *filename, sqlite3 **db, int flags,
								   const char *vfs);
int			__wrap_sqlite3_open_v2(const char *filename, sqlite3 **db, int flags,
								   const char *vfs);

int
__wrap_sqlite3_open_v2(const char *filename, sqlite3 **db, int flags, const char *vfs)
{
	int			rc = __real_sqlite3_open_v2(filename, db, flags, vfs);

	for (int i = 0; i < MAXOPEN; i++)
		if (open_dbs[i] == NULL)
		{
			open_dbs[i] = *db;
			break;
		}
	return rc;
}

extern int	__real_sqlite3_close(sqlite3 *db);
int			__wrap_sqlite3_close(sqlite3 *db);

int
__wrap_sqlite3_close(sqlite3 *db)
{
	for (int i = 0; i < MAXOPEN; i++)
		if (open_dbs[i] == db)
			open_dbs[i] = NULL;
	return __real_sqlite3_close(db);
}

/* HNSW indexes the reader mapped */
static ChromaHnswIndex *open_idx[MAXOPEN];

extern int	__real_chroma_hnsw_open(const char *segment_dir, ChromaHnswIndex *idx,
									char *err, size_t errlen);
int			__wrap_chroma_hnsw_open(const char *segment_dir, ChromaHnswIndex *idx,
									char *err, size_t errlen);

int
__wrap_chroma_hnsw_open(const char *segment_dir, ChromaHnswIndex *idx,
						char *err, size_t errlen)
{
	int			rc = __real_chroma_hnsw_open(segment_dir, idx, err, errlen);

	if (rc == 0)
		for (int i = 0; i < MAXOPEN; i++)
			if (open_idx[i] == NULL)
			{
				open_idx[i] = idx;
				break;
			}
	return rc;
}

extern void __real_chroma_hnsw_close(ChromaHnswIndex *idx);
void		__wrap_chroma_hnsw_close(ChromaHnswIndex *idx);

void
__wrap_chroma_hnsw_close(ChromaHnswIndex *idx)
{
	for (int i = 0; i < MAXOPEN; i++)
		if (open_idx[i] == idx)
			open_idx[i] = NULL;
	__real_chroma_hnsw_close(idx);
}

/*
 * pg_malloc and friends, tracked: a set of the live blocks, all freed
 * after each run (the reader frees little of what it keeps, and nothing
 * when it fails).  Pointers the set does not hold are plain malloc's.
 */
typedef struct LiveBlock
{
	void	   *p;
	size_t		size;
} LiveBlock;

static LiveBlock *live;
static size_t live_size;		/* a power of two */
static size_t live_used;

/*
 * Large blocks (the reader's 1 MB batch chunks, its scratch vector), once
 * freed, are kept for reuse: ASan maps and unmaps a large block on every
 * malloc and free, and the page faults then take most of the time.  (So a
 * use after free of such a block goes unseen; the small ones are ASan's.)
 */
#define LARGE_BLOCK (64 * 1024)
#define NCACHED 16
static LiveBlock cached[NCACHED];

static size_t
live_hash(void *p)
{
	return (size_t) (((uintptr_t) p >> 4) * 0x9E3779B97F4A7C15ULL) & (live_size - 1);
}

static void
live_add(void *p, size_t size)
{
	size_t		i;

	if ((live_used + 1) * 2 > live_size)
	{
		LiveBlock  *old = live;
		size_t		oldsize = live_size;

		live_size = oldsize ? oldsize * 2 : 4096;
		live = calloc(live_size, sizeof(LiveBlock));
		if (live == NULL)
			abort();
		for (size_t j = 0; j < oldsize; j++)
			if (old[j].p)
			{
				i = live_hash(old[j].p);
				while (live[i].p)
					i = (i + 1) & (live_size - 1);
				live[i] = old[j];
			}
		free(old);
	}
	i = live_hash(p);
	while (live[i].p)
		i = (i + 1) & (live_size - 1);
	live[i].p = p;
	live[i].size = size;
	live_used++;
}

/* remove p, into *b; false if it is not there */
static bool
live_remove(void *p, LiveBlock *b)
{
	size_t		i,
				j;

	if (live_size == 0)
		return false;
	i = live_hash(p);
	while (live[i].p && live[i].p != p)
		i = (i + 1) & (live_size - 1);
	if (live[i].p == NULL)
		return false;
	*b = live[i];
	/* backward-shift deletion */
	live[i].p = NULL;
	live_used--;
	j = i;
	for (;;)
	{
		size_t		k;

		j = (j + 1) & (live_size - 1);
		if (live[j].p == NULL)
			break;
		k = live_hash(live[j].p);
		if ((j > i && (k <= i || k > j)) || (j < i && (k <= i && k > j)))
		{
			live[i] = live[j];
			live[j].p = NULL;
			i = j;
		}
	}
	return true;
}

/* free a block, keeping a large one */
static void
release(LiveBlock *b)
{
	if (b->size >= LARGE_BLOCK)
		for (int c = 0; c < NCACHED; c++)
			if (cached[c].p == NULL)
			{
				cached[c] = *b;
				return;
			}
	free(b->p);
}

static void
live_free_all(void)
{
	for (size_t i = 0; i < live_size; i++)
		if (live[i].p)
		{
			release(&live[i]);
			live[i].p = NULL;
		}
	live_used = 0;
}

/* a cached block of exactly size bytes, or NULL */
static void *
cached_block(size_t size)
{
	if (size < LARGE_BLOCK)
		return NULL;
	for (int c = 0; c < NCACHED; c++)
		if (cached[c].p && cached[c].size == size)
		{
			void	   *p = cached[c].p;

			cached[c].p = NULL;
			return p;
		}
	return NULL;
}

static void *
tracked(void *p, size_t size)
{
	if (p == NULL)
	{
		/* the real pg_malloc would say "out of memory"; here it is a bug */
		fprintf(stderr, "fuzz_chroma_sqlite: allocation of %zu bytes failed\n", size);
		abort();
	}
	live_add(p, size);
	return p;
}

/*
 * PostgreSQL's libpgcommon is not built with ASan, so a length past the
 * end of the reader's buffer made pg_encoding_verifymbstr read on
 * silently, or crash only when the bytes after it were unmapped (a CI run
 * of 2026-12-04).  Check the whole range here, in instrumented code.
 */
extern int	__real_pg_encoding_verifymbstr(int encoding, const char *mbstr, int len);
int			__wrap_pg_encoding_verifymbstr(int encoding, const char *mbstr, int len);

int
__wrap_pg_encoding_verifymbstr(int encoding, const char *mbstr, int len)
{
	if (len > 0 && __asan_region_is_poisoned((void *) mbstr, (size_t) len) != NULL)
	{
		fprintf(stderr, "fuzz_chroma_sqlite: pg_encoding_verifymbstr(%d bytes) "
				"reads past the end of its buffer\n", len);
		abort();
	}
	return __real_pg_encoding_verifymbstr(encoding, mbstr, len);
}

void	   *__wrap_pg_malloc(size_t size);
void	   *__wrap_pg_malloc0(size_t size);
void	   *__wrap_pg_realloc(void *ptr, size_t size);
char	   *__wrap_pg_strdup(const char *in);
void		__wrap_pg_free(void *ptr);
void	   *__wrap_palloc(size_t size);
void	   *__wrap_palloc0(size_t size);
void	   *__wrap_repalloc(void *ptr, size_t size);
char	   *__wrap_pstrdup(const char *in);
void		__wrap_pfree(void *ptr);

void *
__wrap_pg_malloc(size_t size)
{
	void	   *p = cached_block(size);

	if (p)
	{
		memset(p, 0xbe, size);	/* as ASan's malloc_fill would */
		return tracked(p, size);
	}
	return tracked(malloc(size ? size : 1), size);
}

void *
__wrap_pg_malloc0(size_t size)
{
	void	   *p = cached_block(size);

	if (p)
		return tracked(memset(p, 0, size), size);
	return tracked(calloc(1, size ? size : 1), size);
}

void *
__wrap_pg_realloc(void *ptr, size_t size)
{
	void	   *p;

	LiveBlock	b;

	if (ptr == NULL)
		return __wrap_pg_malloc(size);
	if (!live_remove(ptr, &b))
		abort();				/* not pg_malloc's */
	p = realloc(ptr, size ? size : 1);
	return tracked(p, size);
}

char *
__wrap_pg_strdup(const char *in)
{
	size_t		len;

	if (in == NULL)
	{
		/* pg_strdup's "cannot duplicate null pointer (internal error)" */
		fprintf(stderr, "fuzz_chroma_sqlite: pg_strdup(NULL)\n");
		abort();
	}
	len = strlen(in) + 1;
	return memcpy(__wrap_pg_malloc(len), in, len);
}

void
__wrap_pg_free(void *ptr)
{
	LiveBlock	b;

	if (ptr == NULL)
		return;
	if (live_remove(ptr, &b))
		release(&b);
	else
		free(ptr);
}

void *
__wrap_palloc(size_t size)
{
	return __wrap_pg_malloc(size);
}

void *
__wrap_palloc0(size_t size)
{
	return __wrap_pg_malloc0(size);
}

void *
__wrap_repalloc(void *ptr, size_t size)
{
	return __wrap_pg_realloc(ptr, size);
}

char *
__wrap_pstrdup(const char *in)
{
	return __wrap_pg_strdup(in);
}

void
__wrap_pfree(void *ptr)
{
	__wrap_pg_free(ptr);
}

/* release what a run left */
static void
cleanup_run(void)
{
	int			fd;

	for (int i = 0; i < MAXOPEN; i++)
		if (open_idx[i])
			__wrap_chroma_hnsw_close(open_idx[i]);
	for (int i = 0; i < MAXOPEN; i++)
		if (open_dbs[i])
		{
			sqlite3_stmt *st;

			while ((st = sqlite3_next_stmt(open_dbs[i], NULL)) != NULL)
				sqlite3_finalize(st);
			__wrap_sqlite3_close(open_dbs[i]);
		}
	live_free_all();
	/* file descriptors (fopen / opendir left open by a pg_fatal) */
	fd = open("/dev/null", O_RDONLY);
	if (fd > base_fd)
		for (int i = base_fd; i <= fd; i++)
			close(i);
	else if (fd >= 0)
		close(fd);
}

/* ---- the templates ----------------------------------------------------- */

static char *
read_text_file(const char *path)
{
	FILE	   *f = fopen(path, "rb");
	char	   *buf;
	long		len;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0)
	{
		fprintf(stderr, "fuzz_chroma_sqlite: cannot read %s\n", path);
		abort();
	}
	rewind(f);
	buf = malloc(len + 1);
	if (buf == NULL || fread(buf, 1, len, f) != (size_t) len)
		abort();
	buf[len] = '\0';
	fclose(f);
	return buf;
}

/* remove "word" everywhere (case-sensitive), but not after "IS " */
static void
remove_all(char *sql, const char *word)
{
	char	   *p = sql;
	size_t		n = strlen(word);

	while ((p = strstr(p, word)) != NULL)
	{
		if (p - sql >= 3 && strncmp(p - 3, "IS ", 3) == 0)
			p += n;
		else
			memmove(p, p + n, strlen(p + n) + 1);
	}
}

/*
 * the loose variant: no NOT NULL, no UNIQUE (...) or PRIMARY KEY (...)
 * table constraints, no TEXT PRIMARY KEY (INTEGER PRIMARY KEY stays: it is
 * the rowid, which the reader orders by)
 */
static void
loosen(char *sql)
{
	static const char *const clauses[] = {"UNIQUE (", "UNIQUE(", "PRIMARY KEY (", "PRIMARY KEY(", NULL};
	char	   *p;

	remove_all(sql, "NOT NULL");
	remove_all(sql, "TEXT PRIMARY KEY");	/* the column keeps no type */
	for (int c = 0; clauses[c]; c++)
	{
		while ((p = strstr(sql, clauses[c])) != NULL)
		{
			char	   *end = strchr(p, ')');
			char	   *comma = p;

			if (end == NULL)
				abort();
			/* the comma before the clause goes too */
			while (comma > sql && comma[-1] != ',')
				comma--;
			if (comma > sql)
				comma--;
			memmove(comma, end + 1, strlen(end + 1) + 1);
		}
	}
}

static void
build_template(const char *path, bool loose, Template *t)
{
	sqlite3    *db;
	char	   *sql = read_text_file(path);
	char	   *errmsg = NULL;

	if (loose)
		loosen(sql);
	/* small pages: a small image to copy, write and check per run */
	if (sqlite3_open(":memory:", &db) != SQLITE_OK ||
		sqlite3_exec(db, "PRAGMA page_size = 512", NULL, NULL, &errmsg) != SQLITE_OK ||
		sqlite3_exec(db, sql, NULL, NULL, &errmsg) != SQLITE_OK)
	{
		fprintf(stderr, "fuzz_chroma_sqlite: %s%s: %s\n", path,
				loose ? " (loose)" : "", errmsg ? errmsg : sqlite3_errmsg(db));
		abort();
	}
	free(sql);
	for (size_t i = 0; i < NTABLES; i++)
	{
		sqlite3_stmt *st;
		char		q[256];
		char		ins[1024];
		int			n = 0;

		snprintf(q, sizeof(q), "SELECT name FROM pragma_table_info('%s') ORDER BY cid", tables[i]);
		if (sqlite3_prepare_v2(db, q, -1, &st, NULL) != SQLITE_OK)
			abort();
		snprintf(ins, sizeof(ins), "INSERT INTO \"%s\" (", tables[i]);
		while (sqlite3_step(st) == SQLITE_ROW)
		{
			snprintf(ins + strlen(ins), sizeof(ins) - strlen(ins), "%s\"%s\"",
					 n ? ", " : "", sqlite3_column_text(st, 0));
			n++;
		}
		sqlite3_finalize(st);
		t->ncols[i] = n;
		if (n == 0)
			continue;
		strcat(ins, ") VALUES (");
		for (int c = 0; c < n; c++)
			strcat(ins, c ? ", ?" : "?");
		strcat(ins, ")");
		t->insert[i] = strdup(ins);
	}
	t->image = sqlite3_serialize(db, "main", &t->size, 0);
	if (t->image == NULL)
		abort();
	sqlite3_close(db);
}

static void remove_tree(const char *dir);

static void
remove_workdir(void)
{
	char		path[512];

	remove_tree(workdir);
	snprintf(path, sizeof(path), "%s/chroma.sqlite3", workdir);
	unlink(path);
	rmdir(workdir);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

int			LLVMFuzzerInitialize(int *argc, char ***argv);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	DIR		   *d = opendir(CHROMA_SCHEMA_DIR);
	struct dirent *de;
	char	   *names[MAXTEMPLATES];
	const char *tmp = getenv("TMPDIR");
	struct stat sb;

	/* pg_fatal returns here by longjmp, which cannot leave a reading thread */
	persist_read_ahead = false;
	verbose = getenv("FUZZ_CHROMA_VERBOSE") && strcmp(getenv("FUZZ_CHROMA_VERBOSE"), "1") == 0;
	if (d == NULL)
	{
		fprintf(stderr, "fuzz_chroma_sqlite: cannot read %s\n", CHROMA_SCHEMA_DIR);
		abort();
	}
	while ((de = readdir(d)) != NULL)
	{
		size_t		n = strlen(de->d_name);

		if (n > 4 && strcmp(de->d_name + n - 4, ".sql") == 0 && ntemplates < MAXTEMPLATES)
			names[ntemplates++] = strdup(de->d_name);
	}
	closedir(d);
	if (ntemplates == 0)
		abort();
	qsort(names, ntemplates, sizeof(char *), cmp_str);
	for (int i = 0; i < ntemplates; i++)
	{
		char		path[1024];

		snprintf(path, sizeof(path), "%s/%s", CHROMA_SCHEMA_DIR, names[i]);
		build_template(path, false, &templates[i][0]);
		build_template(path, true, &templates[i][1]);
		free(names[i]);
	}

	if (stat("/dev/shm", &sb) == 0 && S_ISDIR(sb.st_mode) && access("/dev/shm", W_OK) == 0)
		tmp = "/dev/shm";
	snprintf(workdir, sizeof(workdir), "%s/fuzz-chroma-sqlite-%d", tmp ? tmp : "/tmp", (int) getpid());
	if (mkdir(workdir, 0700) != 0 && errno != EEXIST)
		abort();

	atexit(remove_workdir);

	base_fd = open("/dev/null", O_RDONLY);
	if (base_fd < 0)
		abort();
	close(base_fd);
	pg_logging_init("fuzz_chroma_sqlite");
	return 0;
}

/* ---- the input --------------------------------------------------------- */

typedef struct Input
{
	const uint8_t *p;
	const uint8_t *end;
} Input;

static unsigned
get_byte(Input *in)
{
	return in->p < in->end ? *in->p++ : 0;
}

static unsigned
get_u16(Input *in)
{
	unsigned	lo = get_byte(in);

	return lo | (get_byte(in) << 8);
}

static uint64_t
get_u64(Input *in)
{
	uint64_t	v = 0;

	for (int i = 0; i < 8; i++)
		v |= (uint64_t) get_byte(in) << (8 * i);
	return v;
}

/* n bytes (fewer at the end of the input) */
static const uint8_t *
get_bytes(Input *in, size_t *n)
{
	const uint8_t *p = in->p;

	if ((size_t) (in->end - in->p) < *n)
		*n = in->end - in->p;
	in->p += *n;
	return p;
}

static void
bind_value(sqlite3_stmt *st, int col, Input *in)
{
	unsigned	t = get_byte(in);

	switch (t % 8)
	{
		case 0:
			sqlite3_bind_null(st, col);
			break;
		case 1:
			sqlite3_bind_int64(st, col, (int8_t) get_byte(in));
			break;
		case 2:
			sqlite3_bind_int64(st, col, (int64_t) get_u64(in));
			break;
		case 3:
			{
				uint64_t	u = get_u64(in);
				double		v;

				memcpy(&v, &u, 8);
				sqlite3_bind_double(st, col, v);
				break;
			}
		case 4:
		case 5:
			{
				size_t		n = get_byte(in);
				const uint8_t *b;

				if (n == 0xff)
					n = get_u16(in);
				b = get_bytes(in, &n);
				if (t % 8 == 4)
					sqlite3_bind_text(st, col, (const char *) b, n, SQLITE_TRANSIENT);
				else
					sqlite3_bind_blob(st, col, b, n, SQLITE_TRANSIENT);
				break;
			}
		case 6:
			sqlite3_bind_text(st, col, pool[get_byte(in) % NPOOL], -1, SQLITE_STATIC);
			break;
		case 7:
			{
				unsigned	g = get_byte(in);

				switch (g % 4)
				{
					case 0:
						{
							size_t		count = get_u16(in);
							unsigned	fill = get_byte(in);
							float	   *v;
							uint32_t	bits = 0;

							if (fill & 0x80)
								count *= 4;
							if ((fill & 7) == 7)
								bits = (uint32_t) get_u16(in) | ((uint32_t) get_u16(in) << 16);
							v = malloc(count * sizeof(float) + 1);
							for (size_t i = 0; i < count; i++)
							{
								switch (fill & 7)
								{
									case 0:
										v[i] = (float) i * 0.25f - 1.0f;
										break;
									case 1:
										v[i] = 0.0f;
										break;
									case 2:
										v[i] = (i % 3 == 2) ? NAN : 1.0f;
										break;
									case 3:
										v[i] = (i % 3 == 2) ? -INFINITY : 2.0f;
										break;
									case 4:
										v[i] = 1e38f;
										break;
									case 5:
										v[i] = 1e-45f;
										break;
									case 6:
										v[i] = -0.0f;
										break;
									default:
										memcpy(&v[i], &bits, 4);
								}
							}
							sqlite3_bind_blob(st, col, v, count * sizeof(float), free);
							break;
						}
					case 1:
						{
							uint64_t	u = (uint64_t) (int64_t) (int8_t) get_byte(in);
							uint8_t		be[8];

							for (int i = 0; i < 8; i++)
								be[i] = (uint8_t) (u >> (56 - 8 * i));
							sqlite3_bind_blob(st, col, be, 8, SQLITE_TRANSIENT);
							break;
						}
					case 2:
						{
							int			c = get_byte(in);
							size_t		count = get_u16(in);
							char	   *s = malloc(count + 1);

							memset(s, c, count);
							sqlite3_bind_text(st, col, s, count, free);
							break;
						}
					default:
						{
							const char *s = pool[get_byte(in) % NPOOL];

							sqlite3_bind_blob(st, col, s, strlen(s), SQLITE_STATIC);
						}
				}
				break;
			}
	}
}

static void
remove_tree(const char *dir)
{
	for (int s = 0; s < 4; s++)
	{
		char		path[512];

		for (int f = 0; f < 4; f++)
		{
			snprintf(path, sizeof(path), "%s/%s/%s", dir, pool[SEGMENT0 + s], seg_files[f]);
			unlink(path);
		}
		snprintf(path, sizeof(path), "%s/%s", dir, pool[SEGMENT0 + s]);
		rmdir(path);
	}
}

static void
write_file(const char *path, const void *data, size_t len)
{
	FILE	   *f = fopen(path, "wb");

	if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0)
	{
		fprintf(stderr, "fuzz_chroma_sqlite: cannot write %s\n", path);
		abort();
	}
}

/* build workdir from the input */
static void
build_dir(const uint8_t *data, size_t size)
{
	Input		in = {data + 2, data + size};
	unsigned	b0 = data[0];
	Template   *t = &templates[(b0 & 0x7f) % ntemplates][(b0 & 0x80) ? 1 : 0];
	sqlite3    *db;
	sqlite3_stmt *ins[NTABLES] = {0};
	unsigned char *copy;
	unsigned char *image;
	sqlite3_int64 image_size;
	char		path[512];

	if (sqlite3_open(":memory:", &db) != SQLITE_OK)
		abort();
	copy = sqlite3_malloc64(t->size);
	memcpy(copy, t->image, t->size);
	if (sqlite3_deserialize(db, "main", copy, t->size, t->size,
							SQLITE_DESERIALIZE_FREEONCLOSE | SQLITE_DESERIALIZE_RESIZEABLE) != SQLITE_OK)
		abort();
	sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	while (in.p < in.end)
	{
		unsigned	op = get_byte(&in);

		if (op < 0xe0)
		{
			int			ti = op % NTABLES;

			if (t->ncols[ti] == 0)
			{
				/* the era has no such table: take the values anyway */
				continue;
			}
			if (ins[ti] == NULL &&
				sqlite3_prepare_v2(db, t->insert[ti], -1, &ins[ti], NULL) != SQLITE_OK)
				abort();
			sqlite3_reset(ins[ti]);
			for (int c = 1; c <= t->ncols[ti]; c++)
				bind_value(ins[ti], c, &in);
			(void) sqlite3_step(ins[ti]);	/* a constraint may refuse it */
			sqlite3_clear_bindings(ins[ti]);
		}
		else if (op < 0xf0)
		{
			const char *seg = pool[SEGMENT0 + get_byte(&in) % 4];
			size_t		n = get_u16(&in);
			const uint8_t *bytes = get_bytes(&in, &n);

			snprintf(path, sizeof(path), "%s/%s", workdir, seg);
			mkdir(path, 0700);
			snprintf(path, sizeof(path), "%s/%s/%s", workdir, seg, seg_files[op & 3]);
			write_file(path, bytes, n);
		}
	}
	for (size_t i = 0; i < NTABLES; i++)
		if (ins[i])
			sqlite3_finalize(ins[i]);
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	image = sqlite3_serialize(db, "main", &image_size, 0);
	if (image == NULL)
		abort();
	sqlite3_close(db);
	snprintf(path, sizeof(path), "%s/chroma.sqlite3", workdir);
	write_file(path, image, image_size);
	sqlite3_free(image);
}

/* ---- what was read must be what vecq can take -------------------------- */

static void
check_json_object(const char *text, const char *what)
{
	json_error_t jerr;
	json_t	   *v = json_loads(text, 0, &jerr);

	if (!json_is_object(v))
	{
		fprintf(stderr, "fuzz_chroma_sqlite: %s is not a JSON object: %s\n%s\n",
				what, jerr.text, text);
		abort();
	}
	json_decref(v);
}

static void
check_collection(MigrateCollection *c)
{
	if (c->id == NULL || c->name == NULL || c->space == NULL || c->configuration == NULL)
	{
		fprintf(stderr, "fuzz_chroma_sqlite: collection with NULL id, name, space or configuration\n");
		abort();
	}
	if (c->dimension < 0 || c->dimension > CHROMA_HNSW_MAX_DIM)
	{
		fprintf(stderr, "fuzz_chroma_sqlite: collection dimension %d\n", c->dimension);
		abort();
	}
	check_json_object(c->configuration, "configuration");
	if (c->metadata)
		check_json_object(c->metadata, "collection metadata");
}

static void
check_record(MigrateCollection *c, MigrateRecord *r, int64_t *last, int *dim)
{
	if (r->id == NULL || r->embedding == NULL || r->dim < 1 || r->dim > CHROMA_HNSW_MAX_DIM)
	{
		fprintf(stderr, "fuzz_chroma_sqlite: record without id or embedding, or of %d dimensions\n",
				r->dim);
		abort();
	}
	if (r->position <= *last)
	{
		fprintf(stderr, "fuzz_chroma_sqlite: position %lld after %lld\n",
				(long long) r->position, (long long) *last);
		abort();
	}
	*last = r->position;
	if (*dim == 0)
		*dim = r->dim;
	if (r->dim != *dim || (c->dimension > 0 && r->dim != c->dimension))
	{
		fprintf(stderr, "fuzz_chroma_sqlite: record \"%s\" of %d dimensions in a collection of %d (first record: %d)\n",
				r->id, r->dim, c->dimension, *dim);
		abort();
	}
	for (int i = 0; i < r->dim; i++)
		if (!isfinite(r->embedding[i]))
		{
			fprintf(stderr, "fuzz_chroma_sqlite: record \"%s\": element %d is not finite\n", r->id, i);
			abort();
		}
	if (r->metadata)
		check_json_object(r->metadata, "record metadata");
}

/* ---- one run ----------------------------------------------------------- */

static void
read_all(int max_records)
{
	MigrateSource *src;
	MigrateCollection *colls;
	MigrateDatabase *dbs;
	char	  **reasons;
	int			n;

	src = persist_open(workdir);
	(void) source_describe(src);
	(void) source_databases(src, &dbs);
	(void) source_skipped(src, &reasons);
	n = source_collections(src, &colls);
	for (int i = 0; i < n; i++)
	{
		MigrateCursor *cur;
		MigrateBatch batch;
		int64_t		last = INT64_MIN;
		int			dim = 0;

		check_collection(&colls[i]);
		batch_init(&batch, max_records);
		cur = source_records(src, &colls[i], 0);
		while (source_next_batch(cur, &batch, max_records))
		{
			if (batch.count < 1 || batch.count > max_records)
				abort();
			for (int j = 0; j < batch.count; j++)
			{
				MigrateRecord *r = &batch.records[j];

				check_record(&colls[i], r, &last, &dim);
				if (verbose)
					fprintf(stderr, "read: record %lld \"%s\" [%g, ...] (%d) document %s uri %s metadata %s\n",
							(long long) r->position, r->id, r->embedding[0], r->dim,
							r->document ? r->document : "NULL", r->uri ? r->uri : "NULL",
							r->metadata ? r->metadata : "NULL");
			}
		}
		if (verbose)
			fprintf(stderr, "read: collection \"%s\" (%s): %lld records, dimension %d, space %s, configuration %s, metadata %s\n",
					colls[i].name, source_describe(src), (long long) colls[i].records,
					colls[i].dimension, colls[i].space, colls[i].configuration,
					colls[i].metadata ? colls[i].metadata : "NULL");
		source_cursor_close(cur);
		batch_free(&batch);
	}
	source_close(src);
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		path[512];
	int			max_records;

	if (size < 2)
		return 0;
	remove_tree(workdir);
	if (size >= 15 && memcmp(data, "SQLite format 3", 15) == 0)
	{
		snprintf(path, sizeof(path), "%s/chroma.sqlite3", workdir);
		write_file(path, data, size);
		max_records = 2;
	}
	else
	{
		build_dir(data, size);
		max_records = 1 + data[1] % 4;
	}

	if (setjmp(fatal_jump) == 0)
	{
		fatal_armed = true;
		read_all(max_records);
		fatal_armed = false;
	}
	cleanup_run();
	return 0;
}
