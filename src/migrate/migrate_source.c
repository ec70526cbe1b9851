/*-------------------------------------------------------------------------
 *
 * migrate_source.c
 *	  The calls the rest of vecq-migrate makes on a source, whichever kind
 *	  it is (see MigrateSourceMethods in migrate.h).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "common/logging.h"
#include "migrate.h"

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
