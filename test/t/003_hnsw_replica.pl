# test/t/003_hnsw_replica.pl: an HNSW index on a streaming replica
#
# The build's pages reach the WAL through log_newpage_range(), every later
# change through generic WAL records, so a replica replaying them holds the
# same pages and must answer every query exactly as the primary does: the
# same ids in the same order.  Checked after the build, then after inserts,
# deletes and a vacuum on the primary; the same for an index with a key
# column (its key directory and chains), queried per key.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $nqueries = 1000;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->start;
$primary->backup('backup');

my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'backup', has_streaming => 1);
$standby->start;

# deterministic rows and query vectors
$primary->safe_psql('postgres', qq{
	CREATE EXTENSION vecq;
	SELECT setseed(0.125);
	CREATE TABLE items (id int PRIMARY KEY, embedding vector(16));
	INSERT INTO items
		SELECT i, (SELECT array_agg(round((random() * 2 - 1)::numeric, 4)::float4)
				   FROM generate_series(1, 16) WHERE i > 0)::vector
		FROM generate_series(1, 5000) i;
	CREATE TABLE queries (n int PRIMARY KEY, v vector(16));
	INSERT INTO queries
		SELECT n, (SELECT array_agg(round((random() * 2 - 1)::numeric, 4)::float4)
				   FROM generate_series(1, 16) WHERE n > 0)::vector
		FROM generate_series(1, $nqueries) n;
	CREATE INDEX items_idx ON items USING hnsw (embedding vector_l2_ops)
		WITH (m = 16, ef_construction = 64);
	ANALYZE items;
	CREATE TABLE titems (id int PRIMARY KEY, tenant int, embedding vector(16));
	INSERT INTO titems
		SELECT id, CASE WHEN id % 2 = 0 THEN 1 ELSE id % 50 END, embedding FROM items;
	CREATE INDEX titems_idx ON titems USING hnsw (embedding vector_l2_ops, tenant);
	ANALYZE titems;
});

# the ten nearest neighbours of every query vector through the index, one
# line per query
my $knn = q{
	SET enable_seqscan = off;
	SET hnsw.ef_search = 40;
	SELECT q.n || ':' || array_to_string(ARRAY(
		SELECT id FROM items ORDER BY embedding <-> q.v LIMIT 10), ',')
	FROM queries q ORDER BY q.n};
my $plan = q{
	SET enable_seqscan = off;
	EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY embedding <-> (SELECT v FROM queries WHERE n = 1) LIMIT 10};

# per key: key 1 holds half the rows (a graph search), the odd keys 1 %
# (read whole), the other even keys none
my $tknn = q{
	SET enable_seqscan = off;
	SET enable_bitmapscan = off;
	SET hnsw.ef_search = 40;
	SELECT q.n || ':' || array_to_string(ARRAY(
		SELECT id FROM titems WHERE tenant = q.n % 50 ORDER BY embedding <-> q.v LIMIT 10), ',')
	FROM queries q WHERE q.n <= 300 ORDER BY q.n};

# Compare the answers of both servers, once the standby has replayed
# everything.
sub compare
{
	my ($what, $rows) = @_;
	$primary->wait_for_catchup($standby);
	is($standby->safe_psql('postgres', 'SELECT count(*) FROM items'),
		$rows, "$what: the standby has $rows rows");
	like($standby->safe_psql('postgres', $plan), qr/Index Scan using items_idx/,
		"$what: the standby's queries use the index");
	my $on_primary = $primary->safe_psql('postgres', $knn);
	my $on_standby = $standby->safe_psql('postgres', $knn);
	my @lines = split /\n/, $on_primary;
	is(scalar(@lines), $nqueries, "$what: $nqueries queries answered on the primary");
	is($on_standby, $on_primary,
		"$what: the standby answers all $nqueries queries as the primary does");
	is( $standby->safe_psql('postgres', 'SELECT pg_relation_size(\'items_idx\')'),
		$primary->safe_psql('postgres', 'SELECT pg_relation_size(\'items_idx\')'),
		"$what: the index has the same size on both");

	my $t_primary = $primary->safe_psql('postgres', $tknn);
	my $t_standby = $standby->safe_psql('postgres', $tknn);
	# min(10, rows of the key) rows for every query
	my $got_counts = join("\n", map {
		my ($n, $ids) = split /:/, $_, 2;
		$n . ':' . scalar(grep { $_ ne '' } split(/,/, $ids // ''))
	} split /\n/, $t_primary);
	my $want_counts = $primary->safe_psql('postgres', q{
		SELECT q.n || ':' || least(10, (SELECT count(*) FROM titems WHERE tenant = q.n % 50))
		FROM queries q WHERE q.n <= 300 ORDER BY q.n});
	is($got_counts, $want_counts, "$what: keyed queries return min(10, key rows) rows");
	is($t_standby, $t_primary,
		"$what: the standby answers the keyed queries as the primary does");
	# (reachability aside: one-at-a-time inserts can leave an element
	# unreached until VACUUM; the keys, chains and directory must be right)
	is($standby->safe_psql('postgres', q{SELECT string_agg(problem, '; ') FROM vecq_index_check('titems_idx')
			WHERE problem NOT LIKE '%not reachable%'}),
		'', "$what: vecq_index_check finds no problem in the keyed index on the standby");
}

compare('after the build', 5000);

# inserts (generic WAL), including rows closer to queries than any before
$primary->safe_psql('postgres', q{
	SELECT setseed(0.625);
	INSERT INTO items
		SELECT i, (SELECT array_agg(round((random() * 2 - 1)::numeric, 4)::float4)
				   FROM generate_series(1, 16) WHERE i > 0)::vector
		FROM generate_series(5001, 6000) i;
	INSERT INTO items SELECT 10000 + n, v FROM queries WHERE n % 10 = 0;
	INSERT INTO titems SELECT id, CASE WHEN id % 2 = 0 THEN 1 ELSE id % 50 END, embedding
		FROM items WHERE id > 5000;
	-- 9,000 new keys: the key directory grows overflow pages
	INSERT INTO titems SELECT 100000 + g, 1000 + g, i.embedding
		FROM generate_series(1, 9000) g JOIN items i ON i.id = 1 + g % 5000;
});
compare('after inserts', 6100);

# deletes and vacuum: elements marked deleted, neighbour lists repaired
$primary->safe_psql('postgres', q{
	DELETE FROM items WHERE id % 5 = 0;
	VACUUM items;
	DELETE FROM titems WHERE id % 5 = 0;
	VACUUM titems;
	INSERT INTO items SELECT 20000 + n, v FROM queries WHERE n % 10 = 5;
});
compare('after deletes, vacuum and inserts', 4900);

# vecq_index_check(regclass) lists damaged tuples; it may not be installed yet
SKIP:
{
	skip 'vecq_index_check() is not installed', 2
	  unless $primary->safe_psql('postgres',
		q{SELECT count(*) FROM pg_proc WHERE proname = 'vecq_index_check'}) > 0;
	is($primary->safe_psql('postgres', q{SELECT count(*) FROM vecq_index_check('items_idx')}),
		'0', 'vecq_index_check finds no problem on the primary');
	is($standby->safe_psql('postgres', q{SELECT count(*) FROM vecq_index_check('items_idx')}),
		'0', 'vecq_index_check finds no problem on the standby');
}

$standby->stop;
$primary->stop;
done_testing();
