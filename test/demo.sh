#!/usr/bin/env bash
# test/demo.sh: vecq's main job.  As root on Debian 12 from a clean clone:
#
#   bash test/demo.sh [--keep]
#
# installs what it needs, builds and installs vecq, starts a throwaway
# PostgreSQL 15 cluster (as the postgres OS user), loads Debian's
# fashion-mnist into a Chroma-style collection and runs nearest-neighbour
# queries (test/demo.sql).  The cluster is removed at the end, unless --keep
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
echo "demo finished in $(( $(date +%s) - start )) s"

if $keep; then
	echo "cluster kept: PGHOST=$PGHOST PGPORT=$PGPORT PGUSER=postgres psql"
	echo "stop it with: runuser -u postgres -- $PG_BINDIR/pg_ctl -D $VECQ_PGDATA stop"
fi
