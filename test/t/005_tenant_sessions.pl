# test/t/005_tenant_sessions.pl: tenant isolation across sessions
#
# What one SQL script cannot show: how a session gets its tenant at login
# (role mapping, ALTER ROLE ... SET by a superuser, connection options an
# application might try), that the application cannot change it, and that
# tenants querying and inserting at the same time, through the keyed HNSW
# index, never see a row of another tenant.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('tenants');
$node->init;
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION vecq;
	CREATE ROLE acme LOGIN;
	CREATE ROLE globex LOGIN;
	CREATE ROLE app LOGIN;
	CREATE ROLE pinned LOGIN;
	CREATE TABLE docs (tenant_id text NOT NULL, id bigserial, embedding vector(4),
		PRIMARY KEY (tenant_id, id));
	INSERT INTO docs (tenant_id, embedding)
		SELECT CASE WHEN i % 10 = 0 THEN 'globex' ELSE 'acme' END,
			   ARRAY[sin(i), cos(i), sin(i * 0.5), cos(i * 0.3)]::float4[]::vector
		FROM generate_series(1, 3000) i;
	CREATE INDEX docs_embedding ON docs USING hnsw (embedding vector_l2_ops, tenant_id);
	GRANT SELECT, INSERT ON docs TO acme, globex, app, pinned;
	GRANT USAGE ON SEQUENCE docs_id_seq TO acme, globex, app, pinned;
	SELECT vecq.enable_tenant_isolation('docs', 'tenant_id');
	SELECT vecq.map_role('acme', 'acme');
	SELECT vecq.map_role('globex', 'globex');
	ALTER ROLE pinned SET vecq.tenant = 'globex';
});

sub psql_as
{
	my ($user, $sql, %opts) = @_;
	local $ENV{PGOPTIONS} = $opts{options} if defined $opts{options};
	my ($ret, $out, $err) = $node->psql('postgres', $sql, extra_params => [ '-U', $user ]);
	return ($ret, $out, $err);
}

my $count = q{SELECT coalesce(string_agg(DISTINCT tenant_id, ','), '-') || ':' || count(*) FROM docs};

# identities at login
my ($ret, $out, $err) = psql_as('acme', $count);
is($out, 'acme:2700', 'a mapped role sees its tenant only');
($ret, $out, $err) = psql_as('app', $count);
is($out, '-:0', 'a role with no tenant sees no rows');
($ret, $out, $err) = psql_as('pinned', "SHOW vecq.tenant; $count");
is($out, "globex\nglobex:300", 'ALTER ROLE ... SET vecq.tenant by a superuser applies at login');

# what an application might try
($ret, $out, $err) = psql_as('app', $count, options => '-c vecq.tenant=acme');
is($out, '-:0', 'vecq.tenant in the connection options of a role without SET on it: no rows');
like($err, qr/permission denied to set parameter "vecq.tenant"/,
	'... and the setting is refused with a message');
($ret, $out, $err) = psql_as('pinned', "SET vecq.tenant = 'acme'; $count");
like($err, qr/permission denied to set parameter "vecq.tenant"/,
	'a pinned role cannot switch tenant');
($ret, $out, $err) = psql_as('app', q{ALTER ROLE app SET vecq.tenant = 'acme'});
like($err, qr/permission denied/, 'a role cannot pin itself to a tenant');
($ret, $out, $err) = psql_as('app', $count);
is($out, '-:0', '... and still sees no rows');
($ret, $out, $err) = psql_as('acme', q{SELECT vecq.map_role('acme', 'globex')});
like($err, qr/permission denied for function map_role/, 'a tenant cannot remap itself');
($ret, $out, $err) = psql_as('acme',
	q{INSERT INTO docs (tenant_id, embedding) VALUES ('globex', '[0,0,0,0]')});
like($err, qr/new row violates row-level security policy/, 'a tenant cannot insert for another');

# concurrency: both tenants query through the keyed index while both
# insert; any row of the other tenant fails the transaction (1/0)
my $dir = PostgreSQL::Test::Utils::tempdir;
for my $t ('acme', 'globex')
{
	open my $fh, '>', "$dir/$t.sql" or die;
	print $fh <<"EOF";
\\set r random(1, 1000000)
SET enable_seqscan = off;
SELECT count(*) FILTER (WHERE tenant_id <> '$t') AS bad, count(*) AS n
  FROM (SELECT tenant_id FROM docs
        ORDER BY embedding <-> ARRAY[sin(:r), cos(:r), 0.5, 0.5]::float4[]::vector LIMIT 20) s \\gset
\\if :bad > 0
SELECT 1 / 0;
\\endif
\\if :n < 20
SELECT 1 / 0;
\\endif
INSERT INTO docs (tenant_id, embedding) VALUES ('$t', ARRAY[sin(:r), cos(:r), 0.1, 0.2]::float4[]::vector);
EOF
	close $fh;
}
my @runs;
for my $t ('acme', 'globex')
{
	my ($o, $e) = ('', '');
	my $h = IPC::Run::start(
		[ 'pgbench', '-n', '-T', '5', '-c', '2', '-j', '2', '-f', "$dir/$t.sql",
		  '-U', $t, '-h', $node->host, '-p', $node->port, 'postgres' ],
		'>', \$o, '2>', \$e);
	push @runs, [ $t, $h, \$o, \$e ];
}
for my $r (@runs)
{
	my ($t, $h, $o, $e) = @$r;
	my $clean = $h->finish;
	my ($done) = $$o =~ /number of transactions actually processed: (\d+)/;
	ok(defined $done && $done > 100, "$t: concurrent queries and inserts ran ($done)")
	  or diag($$o . $$e);
	ok($clean && $$e !~ /aborted|division by zero/,
		"$t: no query saw another tenant's row or fewer than 20 rows")
	  or diag($$e);
}
# (one-at-a-time inserts may leave an element unreached until VACUUM
# repairs it; the key chains and directory must be right at once)
is($node->safe_psql('postgres', q{SELECT string_agg(problem, '; ') FROM vecq_index_check('docs_embedding', true)
	WHERE problem NOT LIKE '%not reachable%'}),
	'', 'vecq_index_check finds no problem with keys after the concurrent inserts');
$node->safe_psql('postgres', 'VACUUM docs');
is($node->safe_psql('postgres', q{SELECT string_agg(problem, '; ') FROM vecq_index_check('docs_embedding', true)}),
	'', 'and none at all after VACUUM');
($ret, $out, $err) = psql_as('globex',
	q{SELECT count(*) = (SELECT count(*) FROM docs) FROM docs WHERE tenant_id = 'globex'});
is($out, 't', 'globex still sees only its own rows');

$node->stop;
done_testing();
