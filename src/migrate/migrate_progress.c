/*-------------------------------------------------------------------------
 *
 * migrate_progress.c
 *	  Progress of a copy on stderr: a bar per collection with records/s and
 *	  the time left on a terminal, one JSON line per batch otherwise.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <time.h>
#include <unistd.h>

#include "migrate.h"

static double started;
static int64_t start_done;

/* seconds on a monotonic clock, for rates and the reports' times */
double
progress_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
json_line(const MigrateCollection *coll, const char *event, int64_t done,
		  int batch, double rate)
{
	MigrateJson js = {0};

	mjson_begin_object(&js);
	mjson_key(&js, "event");
	mjson_string(&js, event, -1);
	mjson_key(&js, "tenant");
	mjson_string(&js, coll->tenant, -1);
	mjson_key(&js, "database");
	mjson_string(&js, coll->database, -1);
	mjson_key(&js, "collection");
	mjson_string(&js, coll->name, -1);
	mjson_key(&js, "records_done");
	mjson_int(&js, done);
	mjson_key(&js, "records_total");
	mjson_int(&js, coll->records);
	if (batch >= 0)
	{
		mjson_key(&js, "batch");
		mjson_int(&js, batch);
	}
	mjson_key(&js, "records_per_second");
	mjson_int(&js, (int64_t) rate);
	mjson_end_object(&js);
	fprintf(stderr, "%s\n", js.data);
	mjson_free(&js);
}

void
progress_start(const MigrateCollection *coll, int64_t done)
{
	started = progress_seconds();
	start_done = done;
	if (!isatty(fileno(stderr)))
		json_line(coll, "start", done, -1, 0);
}

void
progress_batch(const MigrateCollection *coll, int64_t done, int batch_records)
{
	double		elapsed = progress_seconds() - started;
	double		rate = elapsed > 0 ? (done - start_done) / elapsed : 0;

	if (isatty(fileno(stderr)))
	{
		int			width = 30;
		double		frac = coll->records > 0 ? (double) done / coll->records : 1;
		int			fill = (int) (frac * width);
		char		bar[64];
		double		eta = rate > 0 ? (coll->records - done) / rate : 0;

		memset(bar, '#', fill);
		memset(bar + fill, '.', width - fill);
		bar[width] = '\0';
		fprintf(stderr, "\r%-24.24s [%s] %lld/%lld  %.0f rec/s  ETA %d:%02d ",
				coll->name, bar, (long long) done, (long long) coll->records,
				rate, (int) eta / 60, (int) eta % 60);
		fflush(stderr);
	}
	else
		json_line(coll, "batch", done, batch_records, rate);
}

void
progress_end(const MigrateCollection *coll, int64_t done, const char *what)
{
	double		elapsed = progress_seconds() - started;
	double		rate = elapsed > 0 ? (done - start_done) / elapsed : 0;

	if (isatty(fileno(stderr)))
		fprintf(stderr, "\r%-24.24s %s: %lld records, %.1f s%*s\n", coll->name, what,
				(long long) done, elapsed, 30, "");
	else
		json_line(coll, what, done, -1, rate);
}
