# test/t/006_hnsw_check_bit_codes.pl: damage to an index of rotated bit
# codes (quantization = 'bit' on an L2 index) is reported by
# vecq_index_check and stops scans cleanly, without a crash
#
# With the server stopped, the centroid number of one code is overwritten
# (scans must not read past the centroids; the checker names the element),
# then the header of the quantization parameters (scans fail with an error
# that says so; the checker reports it).

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('main');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION vecq;
	CREATE TABLE t (id int, v vector(16));
	INSERT INTO t SELECT i, (SELECT array_agg(sin(i * 0.37 + j * j * 1.3)::float4)
	  FROM generate_series(1, 16) j WHERE i > 0)::vector FROM generate_series(1, 2000) i;
	CREATE INDEX t_v ON t USING hnsw (v vector_l2_ops) WITH (quantization = 'bit');
});
is($node->safe_psql('postgres', "SELECT count(*) FROM vecq_index_check('t_v', true)"),
	'0', 'a healthy index of bit codes has no problems');
my $query = "SET enable_seqscan = off; SELECT id FROM t ORDER BY v <-> (SELECT v FROM t WHERE id = 5) LIMIT 1";
is($node->safe_psql('postgres', $query), '5', 'a scan finds the row itself');

my $path = $node->data_dir . '/'
  . $node->safe_psql('postgres', "SELECT pg_relation_filepath('t_v')");
my $blcksz = 8192;

sub patch
{
	my ($offset, $bytes) = @_;
	open my $fh, '+<:raw', $path or die "$path: $!";
	seek $fh, $offset, 0 or die "seek: $!";
	print $fh $bytes or die "write: $!";
	close $fh or die "close: $!";
}

sub read_block
{
	my ($blkno) = @_;
	open my $fh, '<:raw', $path or die "$path: $!";
	seek $fh, $blkno * $blcksz, 0 or die "seek: $!";
	read($fh, my $page, $blcksz) == $blcksz or die "short read";
	close $fh;
	return $page;
}

$node->stop;

# the parameters follow the metapage: block 1 holds, after the page header,
# the number of centroids (2,000 sampled rows: 2000 / 100 = 20) and the
# padded dimensions (16)
my $params = read_block(1);
my ($ncent, $pdim) = unpack('VV', substr($params, 24, 8));
is("$ncent $pdim", '20 16', 'the parameters start with 20 centroids of 16 dimensions');

# 1. the centroid number (first two bytes of the data, at offset 32 of an
# element tuple) of the first element tuple (type byte 1) of block 2
my $page = read_block(2);
my $pd_lower = unpack('v', substr($page, 12, 2));
my $nitems = ($pd_lower - 24) / 4;
my $code_offset;
for my $i (0 .. $nitems - 1)
{
	my $lp = unpack('V', substr($page, 24 + 4 * $i, 4));
	my $off = $lp & 0x7FFF;
	if (unpack('C', substr($page, $off, 1)) == 1)
	{
		$code_offset = 2 * $blcksz + $off + 32;
		last;
	}
}
ok(defined $code_offset, 'found an element tuple on block 2');
my $saved = substr($page, $code_offset - 2 * $blcksz, 2);
patch($code_offset, pack('v', 0xFFFF));
$node->start;
my $out = $node->safe_psql('postgres',
	"SELECT problem FROM vecq_index_check('t_v') WHERE blkno = 2");
like($out, qr/^code has centroid 65535 of 20$/m, 'a code with no such centroid is reported');
my ($ret, $stdout, $stderr) = $node->psql('postgres',
	"SET enable_seqscan = off; SELECT count(*) FROM (SELECT id FROM t ORDER BY v <-> '[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]' LIMIT 50) s");
is($stdout, '50', 'scans still run (the code is read as of centroid 0)');

# put it back
$node->stop;
patch($code_offset, $saved);
$node->start;
is($node->safe_psql('postgres', "SELECT count(*) FROM vecq_index_check('t_v', true)"),
	'0', 'repaired code: no problems');

# 2. the parameters' header: 1,000 centroids
$node->stop;
patch(1 * $blcksz + 24, pack('V', 1000));
$node->start;
$out = $node->safe_psql('postgres', "SELECT blkno, offnum, problem FROM vecq_index_check('t_v')");
is($out,
	'0|0|quantization parameters have an invalid header (1000 centroids, 16 padded dimensions)',
	'a damaged header is reported and the check stops');
($ret, $stdout, $stderr) = $node->psql('postgres', $query);
like($stderr, qr/index "t_v" has invalid quantization parameters/, 'a scan fails cleanly');
is($node->safe_psql('postgres', 'SELECT 1'), '1', 'the server is still up');

done_testing();
