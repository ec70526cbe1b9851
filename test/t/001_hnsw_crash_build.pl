# test/t/001_hnsw_crash_build.pl: a server crash during CREATE INDEX USING hnsw
#
# Builds an HNSW index on 50,000 rows of vector(32) and kills the server in
# the middle of the build, twice: first the building backend alone (kill -9;
# the postmaster reinitializes and recovers), then the whole server (stop
# 'immediate', restart).  Each time the server must come back, the table must
# be intact and the aborted index gone; then the same CREATE INDEX must
# succeed and the new index answer as an exact search does.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('main');
# wal_level replica: the build's pages go through log_newpage_range()
$node->init(allows_streaming => 1);
$node->append_conf('postgresql.conf', qq(
maintenance_work_mem = '256MB'
max_parallel_maintenance_workers = 2
restart_after_crash = on
));
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION vecq;
	SELECT setseed(0.25);
	CREATE TABLE items (id int PRIMARY KEY, embedding vector(32));
	INSERT INTO items
		SELECT i, (SELECT array_agg(random()) FROM generate_series(1, 32) WHERE i > 0)::vector
		FROM generate_series(1, 50000) i;
});

# the table's contents, to compare after each crash
my $checksum_sql = q{SELECT count(*) || ' ' || md5(string_agg(id || ':' || embedding::text, ',' ORDER BY id)) FROM items};
my $checksum = $node->safe_psql('postgres', $checksum_sql);
like($checksum, qr/^50000 [0-9a-f]{32}$/, 'table loaded');

# ef_construction = 200 makes the build take seconds, long enough to catch
my $create_index = 'CREATE INDEX items_idx ON items USING hnsw (embedding vector_l2_ops) '
  . 'WITH (m = 16, ef_construction = 200)';

# Start the build in a background psql; return when the progress view shows
# it past its first rows, with the building backend's pid.
sub start_build
{
	my $session = $node->background_psql('postgres', on_error_stop => 0);
	$session->query_until(qr/building/, "\\echo building\n$create_index;\n");
	$node->poll_query_until('postgres', q{
		SELECT count(*) > 0 FROM pg_stat_progress_create_index
		WHERE relid = 'items'::regclass AND phase LIKE 'building index%'
		  AND tuples_done > 0})
	  or die 'the index build did not show up in pg_stat_progress_create_index';
	my $pid = $node->safe_psql('postgres', q{
		SELECT pid FROM pg_stat_progress_create_index
		WHERE relid = 'items'::regclass AND command = 'CREATE INDEX'});
	return ($session, $pid);
}

# End a background psql whose server went away (writing \q may fail).
sub end_session
{
	my ($session) = @_;
	eval { $session->quit; };
}

# After a crash: the server answers, the rows are the same, the aborted
# index left no catalog entry.
sub check_after_crash
{
	my ($what) = @_;
	is($node->safe_psql('postgres', $checksum_sql), $checksum, "$what: table intact");
	is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_class WHERE relname = 'items_idx'}),
		'0', "$what: the aborted index is gone");
	is($node->safe_psql('postgres', q{SELECT count(*) FROM items WHERE id % 1000 = 0}),
		'50', "$what: the table can be scanned");
}

# 1. kill -9 the backend running the build: the postmaster kills the others,
#    reinitializes and replays the WAL
my $log_offset = -s $node->logfile;
my ($session, $pid) = start_build();
ok($pid =~ /^\d+$/, "build running in backend $pid");
kill 'KILL', $pid;
end_session($session);
$node->poll_query_until('postgres', 'SELECT 1', '1')
  or die 'the server did not come back after the backend was killed';
ok($node->log_contains('all server processes terminated; reinitializing', $log_offset),
	'the postmaster reinitialized after the backend was killed');
check_after_crash('backend killed');

# 2. the whole server stops at once (no shutdown checkpoint), then restarts
($session, $pid) = start_build();
$node->stop('immediate');
end_session($session);
$node->start;
check_after_crash('immediate stop');

# 3. the same build now succeeds, serially, so the index is reproducible
$node->safe_psql('postgres', "SET max_parallel_maintenance_workers = 0; $create_index");
is($node->safe_psql('postgres', q{SELECT indisvalid FROM pg_index WHERE indexrelid = 'items_idx'::regclass}),
	't', 'index built after the crashes');

# vecq_index_check(regclass) lists damaged tuples; it may not be installed yet
sub index_problems
{
	my ($index) = @_;
	SKIP:
	{
		skip 'vecq_index_check() is not installed', 1
		  unless $node->safe_psql('postgres',
			q{SELECT count(*) FROM pg_proc WHERE proname = 'vecq_index_check'}) > 0;
		is($node->safe_psql('postgres', "SELECT count(*) FROM vecq_index_check('$index')"),
			'0', "vecq_index_check('$index') finds no problem");
	}
}
index_problems('items_idx');

# every 500th row finds itself (distance 0) through the index
is( $node->safe_psql('postgres', q{
		SET enable_seqscan = off;
		SET hnsw.ef_search = 100;
		SELECT count(*) FROM items i
		WHERE i.id % 500 = 0
		  AND (SELECT x.id FROM items x ORDER BY x.embedding <-> i.embedding LIMIT 1) <> i.id}),
	'0', 'every sampled row is found by its own vector');

# the ten nearest neighbours of ten random points: nearly all exact ones at
# ef_search = 400 (50,000 points in 32 dimensions: HNSW is approximate)
my $recall = $node->safe_psql('postgres', q{
	SELECT setseed(0.75);
	CREATE TEMP TABLE q AS
		SELECT n, (SELECT array_agg(random()) FROM generate_series(1, 32) WHERE n > 0)::vector AS v
		FROM generate_series(1, 10) n;
	SET hnsw.ef_search = 400;
	SELECT sum(cardinality(ARRAY(SELECT unnest(a) INTERSECT SELECT unnest(e))))
	FROM (SELECT ARRAY(SELECT id FROM items ORDER BY embedding <-> q.v LIMIT 10) AS a,
				 ARRAY(SELECT id FROM items ORDER BY (embedding <-> q.v) + 0 LIMIT 10) AS e
		  FROM q) s});
$recall = (split /\n/, $recall)[-1];
cmp_ok($recall, '>=', 95, "recall of the rebuilt index: $recall of 100");

# on 2,000 rows, ef_search = 400 makes the search exact: the ten nearest
# neighbours, in order, equal those of a sorted sequential scan
$node->safe_psql('postgres', q{
	CREATE TABLE small AS SELECT * FROM items WHERE id <= 2000;
	CREATE INDEX small_idx ON small USING hnsw (embedding vector_l2_ops);
	ANALYZE small;
});
my $knn = q{
	SELECT string_agg(ids, E'\n' ORDER BY n) FROM (
		SELECT q.n, array_to_string(ARRAY(SELECT id FROM small ORDER BY embedding <-> q.v LIMIT 10), ',') AS ids
		FROM (SELECT n, (SELECT embedding FROM items WHERE id = 10000 + n) AS v
			  FROM generate_series(1, 10) n) q) s};
my $by_index = $node->safe_psql('postgres', "SET enable_seqscan = off; SET hnsw.ef_search = 400; $knn");
my $exact = $node->safe_psql('postgres', "SET enable_indexscan = off; SET enable_bitmapscan = off; $knn");
like($node->safe_psql('postgres', "SET enable_seqscan = off; EXPLAIN (COSTS OFF) $knn"),
	qr/Index Scan using small_idx/, 'the queries use the index');
is($by_index, $exact, 'the rebuilt small index answers as an exact search');
index_problems('small_idx');

$node->stop;
done_testing();
