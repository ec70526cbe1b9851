#!/usr/bin/env bash
# test/demo.sh: vecq's main job.  As root on Debian 12 from a clean clone:
#
#   bash test/demo.sh [--keep]
#
# installs what it needs, builds and installs vecq, starts a throwaway
# PostgreSQL 15 cluster (as the postgres OS user), loads Debian's
# fashion-mnist into a Chroma-style collection and runs nearest-neighbour
# queries (test/demo.sql), then, if ../shared/fixtures/chroma is beside the
# repository, moves a real ChromaDB directory into PostgreSQL with
# vecq-migrate --verify and queries it through the chroma API.  The cluster is removed at the end, unless --keep
# is given: then it keeps running and the script prints how to connect.
set -euo pipefail

. "$(dirname "$0")/lib.sh"
cd "$VECQ_ROOT"

keep=false
[ "${1:-}" = --keep ] && keep=true

vecq_install_deps
vecq_build_install
VECQ_PGPORT=${VECQ_PGPORT:-54330} vecq_cluster_start "shared_buffers = 1GB" "jit = off"
$keep || trap vecq_cluster_stop EXIT

start=$(date +%s)
psql -X -d postgres -f test/demo.sql

# a real ChromaDB persist directory moved into PostgreSQL with vecq-migrate,
# when the fixtures are beside the repository (../shared/fixtures/chroma)
chroma_dir="$VECQ_ROOT/../shared/fixtures/chroma/Groww_Mutual_Funds"
if [ -f "$chroma_dir/chroma.sqlite3" ]; then
	echo "== vecq-migrate: $chroma_dir"
	psql -X -q -d postgres -c "CREATE DATABASE chroma_migrated"
	psql -X -q -d chroma_migrated -c "CREATE EXTENSION vecq"
	"$PG_BINDIR/vecq-migrate" --from "$chroma_dir" \
		--to "host=$PGHOST port=$PGPORT user=postgres dbname=chroma_migrated" --verify 2>/dev/null
	psql -X -d chroma_migrated -c "
		SELECT name, space, dimension, chroma.count(name) AS records FROM chroma.collections;
		-- the 3 nearest neighbours of chunk_0's own vector, through the chroma API
		SELECT g.id, round(g.distance::numeric, 4) AS distance, left(g.document, 60) AS document
		FROM chroma.get('mutual_funds', ids => '{chunk_0}', include => '{embeddings}') e,
		     chroma.query('mutual_funds', ARRAY[e.embedding], n_results => 3) g"
fi
echo "demo finished in $(( $(date +%s) - start )) s"

if $keep; then
	echo "cluster kept: PGHOST=$PGHOST PGPORT=$PGPORT PGUSER=postgres psql"
	echo "stop it with: runuser -u postgres -- $PG_BINDIR/pg_ctl -D $VECQ_PGDATA stop"
fi
