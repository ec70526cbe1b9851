# test/t/004_hnsw_check_corruption.pl: vecq_index_check finds damage in an
# HNSW index and reports it as rows, without crashing
#
# A healthy index reports nothing.  Then, with the server stopped, bytes of
# the index file are overwritten: the page id of a data page, and then a
# neighbour slot (made to point at block 0, the metapage); each time the
# checker must report the damage at the right place.  Last, the metapage
# magic: the checker reports it and stops.

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
	CREATE TABLE t (id int, v vector(4));
	INSERT INTO t SELECT i, ARRAY[i % 7, i % 11, i % 13, i % 17]::vector FROM generate_series(1, 2000) i;
	CREATE INDEX t_v ON t USING hnsw (v vector_l2_ops);
});
is($node->safe_psql('postgres', "SELECT count(*) FROM vecq_index_check('t_v', true)"),
	'0', 'a healthy index has no problems');

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

# 1. the page id (last two bytes of the page) of data block 2
$node->stop;
patch(2 * $blcksz + $blcksz - 2, pack('v', 0x1234));
$node->start;
my $out = $node->safe_psql('postgres',
	"SELECT blkno, offnum, problem FROM vecq_index_check('t_v') WHERE blkno = 2");
like($out, qr/^2\|0\|page has page id 0x1234, not 0xfb17$/m,
	'a damaged page id is reported at its block');
$out = $node->safe_psql('postgres',
	"SELECT count(*) FROM vecq_index_check('t_v') WHERE problem LIKE '%points to (2,%which is not an element'");
ok($out > 0, 'links into the unreadable page are reported');

# put the page id back
$node->stop;
patch(2 * $blcksz + $blcksz - 2, pack('v', 0xFB17));
$node->start;
is($node->safe_psql('postgres', "SELECT count(*) FROM vecq_index_check('t_v', true)"),
	'0', 'repaired page: no problems');

# 2. a neighbour slot of block 3 made to point to block 0, offset 1: find the
# first neighbour tuple (type byte 2) through the line pointers
$node->stop;
my $page = read_block(3);
my $pd_lower = unpack('v', substr($page, 12, 2));
my $nitems = ($pd_lower - 24) / 4;
my $slot_offset;
for my $i (0 .. $nitems - 1)
{
	my $lp = unpack('V', substr($page, 24 + 4 * $i, 4));
	my $off = $lp & 0x7FFF;
	if (unpack('C', substr($page, $off, 1)) == 2)
	{
		# type, level, nslots (uint16), then slots of 6 bytes each
		$slot_offset = 3 * $blcksz + $off + 4;
		last;
	}
}
ok(defined $slot_offset, 'found a neighbor tuple on block 3');
# ItemPointerData: bi_hi, bi_lo (uint16 each), offset (uint16)
patch($slot_offset, pack('vvv', 0, 0, 1));
$node->start;
$out = $node->safe_psql('postgres',
	"SELECT problem FROM vecq_index_check('t_v') WHERE blkno = 3");
like($out, qr/neighbor list at level 0 points to \(0,1\), which is not an element/,
	'a slot pointing to the metapage is reported');

# 3. the metapage magic
$node->stop;
patch(24, pack('V', 0xDEADBEEF));
$node->start;
$out = $node->safe_psql('postgres', "SELECT blkno, offnum, problem FROM vecq_index_check('t_v')");
is($out, '0|0|metapage has magic 0xdeadbeef, not 0x56514857',
	'a damaged metapage is reported and the check stops');
# scans report the damage as an error, not a crash
my ($ret, $stdout, $stderr) = $node->psql('postgres',
	"SET enable_seqscan = off; SELECT id FROM t ORDER BY v <-> '[1,2,3,4]' LIMIT 1");
like($stderr, qr/index "t_v" has an unknown metapage/, 'a scan fails cleanly');
is($node->safe_psql('postgres', 'SELECT 1'), '1', 'the server is still up');

done_testing();
