/*-------------------------------------------------------------------------
 *
 * migrate_main.c
 *	  vecq-migrate: moves a ChromaDB persist directory, or the contents of
 *	  a running Chroma server, into PostgreSQL.
 *
 *	  vecq-migrate --from DIR|URL --to CONNINFO [--tenant T[,T...]]
 *				   [--collections a,b] [--batch N] [--dry-run] [--resume]
 *				   [--verify] [--replace] [--token TOKEN] [--token-header H]
 *				   [--catch-up]
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <getopt.h>
#include <strings.h>

#include "common/logging.h"
#include "migrate.h"

static void
usage(const char *progname)
{
	printf("%s copies a ChromaDB persist directory, or what a running Chroma server\n"
		   "holds, into vecq's chroma schema.\n\n", progname);
	printf("Usage:\n  %s --from DIR --to CONNINFO [OPTION]...\n", progname);
	printf("  %s --from http://HOST:PORT --to CONNINFO [OPTION]...\n\n", progname);
	printf("Options:\n");
	printf("  -f, --from=DIR|URL        the Chroma persist directory (read only), or the URL of a\n"
		   "                            running Chroma 1.x server (its HTTP API v2)\n");
	printf("  -t, --to=CONNINFO         the target database (a libpq connection string or URI)\n");
	printf("      --tenant=T[,T...]     copy only the collections of these Chroma tenants; a server\n"
		   "                            cannot list its tenants, so from a URL only these are read\n"
		   "                            (default: default_tenant)\n");
	printf("      --collections=A,B     copy only these collections (by name)\n");
	printf("  -b, --batch=N             records per transaction (default 5000)\n");
	printf("  -n, --dry-run             read and check the source, report what would move, write nothing\n");
	printf("      --resume              continue copies that an earlier run did not finish\n");
	printf("      --replace             drop target collections of the same name and copy again\n");
	printf("      --catch-up            bring collections copied before up to date: copy only what changed\n");
	printf("      --verify              compare every copied record with the source, and k-NN answers\n");
	printf("      --verify-queries=N    k-NN queries of --verify per collection (default 20)\n");
	printf("      --maintenance-work-mem=SIZE  for building the HNSW indexes (default 1GB)\n");
	printf("      --no-graph-seed       build each HNSW index by searching, not from the neighbour lists\n"
		   "                            of Chroma's own HNSW files\n");
	printf("      --token=TOKEN         a server's API token (better: the environment variable\n"
		   "                            VECQ_MIGRATE_TOKEN, which ps does not show); never printed\n");
	printf("      --token-header=NAME   send the token as \"NAME: TOKEN\" (e.g. X-Chroma-Token)\n"
		   "                            instead of \"Authorization: Bearer TOKEN\"\n");
	printf("  -?, --help                show this help, then exit\n");
	printf("  -V, --version             output version information, then exit\n\n");
	printf("Exit status: 0 when everything was copied (and verified), 1 otherwise.\n");
}

/* a comma-separated list of names, added to *list */
static void
split_names(char ***list, int *n, const char *arg, const char *option)
{
	char	   *copy = pg_strdup(arg);
	char	   *tok;
	char	   *save;

	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
	{
		*list = pg_realloc(*list, sizeof(char *) * (*n + 1));
		(*list)[(*n)++] = pg_strdup(tok);
	}
	if (*n == 0)
		pg_fatal("%s needs at least one name", option);
	pg_free(copy);
}

/* is a source tenant among --tenant's (all are without --tenant) */
bool
option_tenant_selected(const MigrateOptions *opts, const char *tenant)
{
	if (opts->ntenants == 0)
		return true;
	for (int i = 0; i < opts->ntenants; i++)
		if (strcmp(opts->tenants[i], tenant) == 0)
			return true;
	return false;
}

/* which collections to copy */
static int
select_collections(const MigrateOptions *opts, MigrateCollection *colls, int n)
{
	int			chosen = 0;

	for (int j = 0; j < opts->ncollections; j++)
	{
		bool		found = false;

		for (int i = 0; i < n; i++)
			if (strcmp(colls[i].name, opts->collections[j]) == 0 &&
				option_tenant_selected(opts, colls[i].tenant))
				found = true;
		if (!found)
			pg_fatal("the source has no collection \"%s\"%s%s", opts->collections[j],
					 opts->ntenants == 1 ? " in tenant " : opts->ntenants > 1 ? " in tenants " : "",
					 opts->ntenants > 0 ? opts->tenant_list : "");
	}
	for (int i = 0; i < n; i++)
	{
		MigrateCollection *c = &colls[i];

		c->selected = option_tenant_selected(opts, c->tenant);
		if (c->selected && opts->ncollections > 0)
		{
			c->selected = false;
			for (int j = 0; j < opts->ncollections; j++)
				if (strcmp(c->name, opts->collections[j]) == 0)
					c->selected = true;
		}
		chosen += c->selected;
	}
	return chosen;
}

/*
 * --from: an http:// or https:// URL is a running server, anything else a
 * persist directory.  *name is what chroma.migrations.source records (a
 * collection's origin, if set, takes its place): the directory's absolute
 * path, or the server's normalised URL.
 */
static MigrateSource *
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

int
main(int argc, char **argv)
{
	static struct option long_options[] = {
		{"from", required_argument, NULL, 'f'},
		{"to", required_argument, NULL, 't'},
		{"tenant", required_argument, NULL, 1},
		{"collections", required_argument, NULL, 2},
		{"batch", required_argument, NULL, 'b'},
		{"dry-run", no_argument, NULL, 'n'},
		{"resume", no_argument, NULL, 3},
		{"replace", no_argument, NULL, 4},
		{"verify", no_argument, NULL, 5},
		{"verify-queries", required_argument, NULL, 6},
		{"maintenance-work-mem", required_argument, NULL, 7},
		{"catch-up", no_argument, NULL, 8},
		{"token", required_argument, NULL, 10},
		{"token-header", required_argument, NULL, 11},
		{"no-graph-seed", no_argument, NULL, 12},
		{"help", no_argument, NULL, '?'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0}
	};
	MigrateOptions opts = {0};
	const char *progname;
	int			c;
	MigrateSource *src;
	MigrateCollection *colls;
	int			ncolls;
	int			nselected;
	char	  **skipped;
	int			nskipped;
	PGconn	   *conn = NULL;
	char	   *source;
	double		t0 = progress_seconds();
	int64_t		total_records = 0;
	int64_t		total_differences = 0;
	int			copied = 0;
	int			caught_up = 0;
	MigrateBatch batch;

	pg_logging_init(argv[0]);
	progname = get_progname(argv[0]);
	if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-?") == 0))
	{
		usage(progname);
		exit(0);
	}
	if (argc > 1 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0))
	{
		puts("vecq-migrate (vecq) 0.5.0");
		exit(0);
	}

	opts.batch = 5000;
	opts.verify_queries = 20;
	opts.maintenance_work_mem = "1GB";
	while ((c = getopt_long(argc, argv, "f:t:b:nV", long_options, NULL)) != -1)
	{
		switch (c)
		{
			case 'f':
				opts.from = optarg;
				break;
			case 't':
				opts.to = optarg;
				break;
			case 1:
				opts.tenant_list = optarg;
				split_names(&opts.tenants, &opts.ntenants, optarg, "--tenant");
				break;
			case 2:
				split_names(&opts.collections, &opts.ncollections, optarg, "--collections");
				break;
			case 'b':
				opts.batch = atoi(optarg);
				if (opts.batch < 1 || opts.batch > 1000000)
					pg_fatal("--batch must be between 1 and 1000000, not \"%s\"", optarg);
				break;
			case 'n':
				opts.dry_run = true;
				break;
			case 3:
				opts.resume = true;
				break;
			case 4:
				opts.replace = true;
				break;
			case 5:
				opts.verify = true;
				break;
			case 6:
				opts.verify_queries = atoi(optarg);
				if (opts.verify_queries < 0 || opts.verify_queries > 10000)
					pg_fatal("--verify-queries must be between 0 and 10000, not \"%s\"", optarg);
				break;
			case 7:
				opts.maintenance_work_mem = optarg;
				break;
			case 8:
				opts.catch_up = true;
				break;
			case 10:
				opts.token = pg_strdup(optarg);
				/* keep it out of ps where the system allows */
				memset(optarg, 'x', strlen(optarg));
				break;
			case 11:
				opts.token_header = optarg;
				break;
			case 12:
				opts.no_graph_seed = true;
				break;
			default:
				pg_log_error_hint("Try \"%s --help\" for more information.", progname);
				exit(1);
		}
	}
	if (optind < argc)
	{
		pg_log_error("too many command-line arguments (first is \"%s\")", argv[optind]);
		pg_log_error_hint("Try \"%s --help\" for more information.", progname);
		exit(1);
	}
	if (opts.from == NULL)
		pg_fatal("no source given: --from DIR names a Chroma persist directory, --from http://HOST:PORT a running server");
	if (opts.token == NULL && getenv("VECQ_MIGRATE_TOKEN") && getenv("VECQ_MIGRATE_TOKEN")[0])
		opts.token = getenv("VECQ_MIGRATE_TOKEN");
	if (opts.to == NULL && !opts.dry_run)
		pg_fatal("no target given: --to CONNINFO names the PostgreSQL database (or use --dry-run)");
	if (opts.resume && opts.replace)
		pg_fatal("--resume and --replace cannot be used together");
	if (opts.catch_up && opts.replace)
		pg_fatal("--catch-up and --replace cannot be used together");
	if (opts.catch_up && opts.dry_run)
		pg_fatal("--catch-up compares the source with the target, so it cannot be used with --dry-run");

	/* the source: its absolute path or URL is what chroma.migrations records */
	src = source_open(opts.from, &opts, &source);
	ncolls = source_collections(src, &colls);
	nselected = select_collections(&opts, colls, ncolls);
	nskipped = source_skipped(src, &skipped);
	printf("source %s: %s, %d collections, %d selected\n", source,
		   source_describe(src), ncolls, nselected);
	for (int i = 0; i < nskipped; i++)
		printf("  skipped: %s\n", skipped[i]);
	fflush(stdout);

	/*
	 * Read every selected collection's HNSW files, label map and log before
	 * writing anything, so that a damaged file stops the run while the
	 * target is untouched
	 */
	for (int i = 0; i < ncolls; i++)
		if (colls[i].selected)
			source_cursor_close(source_records(src, &colls[i], 0));

	if (!opts.dry_run)
	{
		conn = target_connect(opts.to);
		{
			const char *p[1] = {opts.maintenance_work_mem};

			PQclear(PQexecParams(conn, "SELECT set_config('maintenance_work_mem', $1, false)",
								 1, NULL, p, NULL, NULL, 0));
		}
		if (opts.ncollections == 0)
		{
			MigrateDatabase *dbs;
			int			ndbs = source_databases(src, &dbs);

			target_databases(conn, dbs, ndbs, &opts);
		}
	}

	batch_init(&batch, opts.batch);
	for (int i = 0; i < ncolls; i++)
	{
		MigrateCollection *coll = &colls[i];
		MigrateTarget tgt = {0};
		MigratePlan plan = PLAN_COPY;
		MigrateCursor *cur;
		int64_t		done = 0;

		if (!coll->selected)
			continue;
		if (!opts.dry_run)
		{
			const char *origin = coll->origin ? coll->origin : source;

			if (opts.catch_up)
				plan = catchup_prepare(conn, &opts, origin, coll, &tgt);
			if (plan != PLAN_CATCHUP)
				plan = target_prepare(conn, &opts, origin, coll, &tgt);
			done = tgt.records_done;
		}
		if (plan == PLAN_CATCHUP)
		{
			catchup_collection(src, coll, &tgt, &opts);
			if (opts.verify)
				total_differences += verify_collection(src, coll, &tgt, &opts);
			total_records += coll->records;
			caught_up++;
			continue;
		}
		if (plan == PLAN_DONE)
		{
			printf("collection %s/%s/%s: copied before (%lld records); nothing to do (--replace copies it again)\n",
				   coll->tenant, coll->database, coll->name, (long long) done);
			if (opts.verify)
				total_differences += verify_collection(src, coll, &tgt, &opts);
			continue;
		}
		progress_start(coll, done);
		cur = source_records(src, coll, tgt.position);
		while (source_next_batch(cur, &batch, opts.batch))
		{
			if (!opts.dry_run)
				target_copy_batch(&tgt, &batch);
			done += batch.count;
			progress_batch(coll, done, batch.count);
		}
		if (!opts.dry_run && !opts.no_graph_seed)
			target_send_seed(&tgt, cur, coll);
		source_cursor_close(cur);
		if (done != coll->records)
			pg_fatal("collection \"%s\": %lld records copied, but the source has %lld",
					 coll->name, (long long) done, (long long) coll->records);
		if (!opts.dry_run)
			target_finish(&tgt, coll);
		progress_end(coll, done, opts.dry_run ? "checked" : (plan == PLAN_RESUME ? "resumed" : "copied"));
		printf("collection %s/%s/%s: %lld records, %d dimensions, space %s%s%s\n",
			   coll->tenant, coll->database, coll->name, (long long) coll->records,
			   coll->dimension, coll->space,
			   opts.dry_run ? " (dry run: nothing written)" : "",
			   plan == PLAN_RESUME ? " (resumed)" : "");
		if (coll->seeded > 0)
			printf("  index: seeded with Chroma's graph (the neighbour lists of %lld records, sent in %.1f s)\n",
				   (long long) coll->seeded, coll->seed_seconds);
		if (coll->notes)
			printf("  note: %s\n", coll->notes);
		fflush(stdout);
		if (opts.verify && !opts.dry_run)
			total_differences += verify_collection(src, coll, &tgt, &opts);
		total_records += coll->records;
		copied++;
	}
	batch_free(&batch);

	if (opts.catch_up && opts.ncollections == 0)
		catchup_report_gone(conn, source, &opts, colls, ncolls);
	printf("%s %d collections%s, %lld records in %.1f s; %d skipped%s\n",
		   opts.dry_run ? "would copy" : "copied", copied,
		   opts.catch_up ? psprintf(", caught up %d", caught_up) : "",
		   (long long) total_records, progress_seconds() - t0, nskipped,
		   opts.verify ? (total_differences ? "; verify FAILED" : "; verify passed") : "");
	if (conn)
		PQfinish(conn);
	source_close(src);
	return total_differences > 0 ? 1 : 0;
}
