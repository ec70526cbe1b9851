/*-------------------------------------------------------------------------
 *
 * migrate_source.c
 *	  The calls the rest of vecq-migrate makes on a source, whichever kind
 *	  it is (see MigrateSourceMethods in migrate.h).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <strings.h>

#include "common/logging.h"
#include "migrate.h"

/*
 * --from: an http:// or https:// URL is a running server, anything else a
 * persist directory.  *name is what chroma.migrations.source records (a
 * collection's origin, if set, takes its place): the directory's absolute
 * path, or the server's normalised URL.
 */
MigrateSource *
source_open(const char *from, const MigrateOptions *opts, char **name)
{
	char	   *abs;

	if (strncasecmp(from, "http://", 7) == 0 || strncasecmp(from, "https://", 8) == 0)
	{
		*name = http_normalize_url(from);
		return http_open(*name, opts);
	}
	abs = realpath(from, NULL);
	if (abs == NULL)
		pg_fatal("could not open \"%s\": %m", from);
	*name = pg_strdup(abs);
	free(abs);
	return persist_open(*name);
}

const char *
source_describe(MigrateSource *src)
{
	return src->methods->describe(src);
}

int
source_collections(MigrateSource *src, MigrateCollection **out)
{
	return src->methods->collections(src, out);
}

int
source_databases(MigrateSource *src, MigrateDatabase **out)
{
	return src->methods->databases(src, out);
}

int
source_skipped(MigrateSource *src, char ***reasons)
{
	return src->methods->skipped(src, reasons);
}

MigrateCursor *
source_records(MigrateSource *src, MigrateCollection *coll, int64_t after_position)
{
	return src->methods->records(src, coll, after_position);
}

bool
source_next_batch(MigrateCursor *cur, MigrateBatch *batch, int max_records)
{
	return cur->source->methods->next_batch(cur, batch, max_records);
}

void
source_cursor_close(MigrateCursor *cur)
{
	cur->source->methods->cursor_close(cur);
}

void
source_close(MigrateSource *src)
{
	src->methods->close(src);
}
