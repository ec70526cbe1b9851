# test/t/002_hnsw_crash_insert.pl: a server crash during concurrent inserts
# into an HNSW index
#
# Four psql sessions insert rows one per transaction (fsync and synchronous
# commit on) into a table with an HNSW index; the server stops at once
# ('immediate', no shutdown checkpoint) in the middle, and restarts.
# Every row whose INSERT ... RETURNING a session saw has committed; after
# recovery each must be in the table, and every row in the table must be
# found through the index by its own vector.  Then inserts, deletes and
# vacuum go on working.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $sessions = 4;
my $rows_per_session = 20000;	# more than can run before the crash
my $min_inserted = 12000;		# crash once this many have committed

my $node = PostgreSQL::Test::Cluster->new('main');
$node->init(allows_streaming => 1);
$node->append_conf('postgresql.conf', qq(
fsync = on
synchronous_commit = on
full_page_writes = on
checkpoint_timeout = 30s
));
$node->start;

# the vector of a row is a function of its id, so rows can be checked
$node->safe_psql('postgres', q{
	CREATE EXTENSION vecq;
	CREATE FUNCTION vec(bigint) RETURNS vector LANGUAGE sql IMMUTABLE AS
		$$ SELECT array_agg(round((sin($1 * 0.7 + g * 1.3) * 100)::numeric, 3)::float4 ORDER BY g)::vector
		   FROM generate_series(1, 16) g $$;
	CREATE TABLE items (id bigint PRIMARY KEY, embedding vector(16));
	INSERT INTO items SELECT i, vec(i) FROM generate_series(1, 3000) i;
	CREATE INDEX items_idx ON items USING hnsw (embedding vector_l2_ops)
		WITH (m = 8, ef_construction = 32);
	-- a keyed index too: each insert changes a key directory page and a
	-- data page in one WAL record
	CREATE INDEX items_kidx ON items USING hnsw (embedding vector_l2_ops, ((id % 37)::int))
		WITH (m = 8, ef_construction = 32);
});

# session k inserts ids k * 1,000,000 + 1, + 2, ... in order; psql prints
# an id only after its transaction has committed
my $dir = PostgreSQL::Test::Utils::tempdir;
my @runs;
for my $k (1 .. $sessions)
{
	my $sql = "$dir/insert_$k.sql";
	open my $fh, '>', $sql or die "$sql: $!";
	for my $j (1 .. $rows_per_session)
	{
		my $id = $k * 1000000 + $j;
		print $fh "INSERT INTO items VALUES ($id, vec($id)) RETURNING id;\n";
	}
	close $fh;
	my ($out, $err) = ("$dir/insert_$k.out", "$dir/insert_$k.err");
	push @runs, IPC::Run::start(
		[ 'psql', '-XAtq', '-d', $node->connstr('postgres'), '-f', $sql ],
		'>', $out, '2>', $err);
}

# a checkpoint half-way: pages changed after it are logged as full images
$node->poll_query_until('postgres',
	'SELECT count(*) >= ' . int($min_inserted / 2) . ' FROM items WHERE id > 1000000')
  or die 'the inserts did not get going';
$node->safe_psql('postgres', 'CHECKPOINT');
$node->poll_query_until('postgres',
	"SELECT count(*) >= $min_inserted FROM items WHERE id > 1000000")
  or die 'the inserts stopped';
$node->stop('immediate');
$_->finish for @runs;

# the ids the sessions saw committed
my @acked;
for my $k (1 .. $sessions)
{
	open my $fh, '<', "$dir/insert_$k.out" or die $!;
	my @ids = grep { /^\d+$/ } map { chomp; $_ } <$fh>;
	close $fh;
	my $n = scalar @ids;
	ok($n > 0 && $n < $rows_per_session, "session $k committed $n rows before the crash");
	push @acked, @ids;
}

$node->start;

# every acknowledged row survived
$node->safe_psql('postgres', 'CREATE TABLE acked (id bigint PRIMARY KEY)');
$node->safe_psql('postgres',
	'INSERT INTO acked VALUES ' . join(',', map { "($_)" } @acked));
is($node->safe_psql('postgres', 'SELECT count(*) FROM acked a WHERE NOT EXISTS (SELECT FROM items i WHERE i.id = a.id)'),
	'0', scalar(@acked) . ' acknowledged inserts all survived');
my $heap = $node->safe_psql('postgres', 'SELECT count(*) FROM items');
cmp_ok($heap, '>=', 3000 + scalar(@acked), "$heap rows in the table after recovery");
is($node->safe_psql('postgres', 'SELECT count(*) FROM items WHERE embedding <> vec(id)'),
	'0', 'every row has its own vector');

# vecq_index_check(regclass) lists damaged tuples; it may not be installed yet
sub index_problems
{
	my ($what, $filter) = @_;
	$filter //= '';
	SKIP:
	{
		skip 'vecq_index_check() is not installed', 1
		  unless $node->safe_psql('postgres',
			q{SELECT count(*) FROM pg_proc WHERE proname = 'vecq_index_check'}) > 0;
		is($node->safe_psql('postgres', "SELECT string_agg(problem, '; ') FROM vecq_index_check('items_idx') $filter"),
			'', "$what: vecq_index_check finds no problem");
	}
	is($node->safe_psql('postgres', "SELECT string_agg(problem, '; ') FROM vecq_index_check('items_kidx') $filter"),
		'', "$what: vecq_index_check finds no problem in the keyed index");

	# every row of a key through the keyed index (its chain, read whole)
	is( $node->safe_psql('postgres', q{
			SET enable_seqscan = off;
			SET enable_bitmapscan = off;
			SET vecq.key_exact_scan_limit = 1000000;
			SELECT string_agg(k || ':' || (SELECT count(*) FROM (SELECT id FROM items
					WHERE (id % 37)::int = k ORDER BY embedding <-> vec(0) LIMIT 1000000) s), ',')
			FROM generate_series(0, 36) k}),
		$node->safe_psql('postgres', q{
			SELECT string_agg(k || ':' || (SELECT count(*) FROM items WHERE (id % 37)::int = k), ',')
			FROM generate_series(0, 36) k}),
		"$what: the keyed index returns every row of each key");
}

# Every row of the table is found through the index by its own vector (or a
# row with an identical one is); an unbounded index scan returns every row.
sub check_index
{
	my ($what, $filter) = @_;
	my $missing = $node->safe_psql('postgres', q{
		SET enable_seqscan = off;
		SET hnsw.ef_search = 200;
		SELECT count(*) FROM items i
		WHERE (SELECT x.embedding FROM items x
			   ORDER BY x.embedding <-> i.embedding LIMIT 1) <> i.embedding});
	is($missing, '0', "$what: every row is found by its own vector");
	my $counts = $node->safe_psql('postgres', q{
		SET enable_seqscan = off;
		SET hnsw.iterative_scan = relaxed_order;
		SET hnsw.max_scan_tuples = 1000000;
		SELECT (SELECT count(*) FROM (SELECT id FROM items
				ORDER BY embedding <-> vec(0) LIMIT 1000000) s)
			   || ' ' || (SELECT count(*) FROM items)});
	my ($by_index, $rows) = split / /, $counts;
	is($by_index, $rows, "$what: an index scan returns all $rows rows");
	index_problems($what, $filter);
}

# Elements can be unreachable until VACUUM links them (or removes them):
# concurrent inserts prune each other's links, and the crash can fall
# between an insert's element record and the records linking it in (its
# row never committed).  Everything else must be right at once; after
# VACUUM, everything.
check_index('after the crash', q{WHERE problem NOT LIKE '%not reachable%'});
$node->safe_psql('postgres', 'VACUUM items');
index_problems('after the crash and VACUUM');

# inserts, deletes and vacuum go on working
$node->safe_psql('postgres', q{
	INSERT INTO items SELECT i, vec(i) FROM generate_series(9000001, 9000500) i;
	INSERT INTO items VALUES (9100001, vec(9100001));
	DELETE FROM items WHERE id % 7 = 0;
	VACUUM items;
	INSERT INTO items SELECT i, vec(i) FROM generate_series(9200001, 9200200) i;
});
check_index('after more inserts, deletes and vacuum');

$node->stop;
done_testing();
