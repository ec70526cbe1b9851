#!/usr/bin/env bash
# test/bench/run_bench.sh: run the benchmark driver on a throwaway cluster.
#
#   bash test/bench/run_bench.sh [vecq_bench options]
#   bash test/bench/run_bench.sh tenant [vecq_tenant_bench options]
#
# As root on Debian 12: installs what it needs, builds and installs vecq,
# builds vecq_bench, starts a throwaway PostgreSQL 15 cluster with the
# settings of ../shared/bench-targets.md (shared_buffers 4GB, jit off,
# autovacuum off, no parallel workers per gather) and runs
# vecq_bench with the given options (see vecq_bench --help or README.md).
#
# pgvector, when measured (the default engines are vecq,pgvector), must be
# installed in the same PostgreSQL: see install_pgvector.sh.  Without it,
# pass --engines vecq.
#
# Environment: VECQ_BENCH_PORT (default 54331); VECQ_BENCH_KEEP=1 leaves the
# cluster running (the script prints how to reach it).
set -euo pipefail

. "$(dirname "$0")/../lib.sh"
cd "$VECQ_ROOT"

driver=vecq_bench
if [ "${1:-}" = tenant ]; then
	driver=vecq_tenant_bench
	shift
fi

engines=vecq,pgvector
prev=
for a in "$@"; do
	[ "$prev" = --engines ] && engines=$a
	prev=$a
done
case ",$engines," in
*,pgvector,*)
	if [ ! -f "$(pg_config --sharedir)/extension/vector.control" ]; then
		echo "pgvector is not installed: build it with" >&2
		echo "  bash test/bench/install_pgvector.sh PGVECTOR_SOURCE_DIR" >&2
		echo "or measure vecq alone with --engines vecq" >&2
		exit 1
	fi
	;;
esac

vecq_install_deps
vecq_build_install
make -C test/bench -s PG_CONFIG="$PG_BINDIR/pg_config" >/dev/null

VECQ_PGPORT=${VECQ_BENCH_PORT:-54331} vecq_cluster_start \
	"fsync = on" \
	"shared_buffers = 4GB" \
	"jit = off" \
	"autovacuum = off" \
	"max_parallel_workers_per_gather = 0"
if [ "${VECQ_BENCH_KEEP:-0}" = 1 ]; then
	trap 'echo "cluster kept: PGHOST=$PGHOST PGPORT=$PGPORT PGUSER=postgres"' EXIT
else
	trap vecq_cluster_stop EXIT
fi

echo "== $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
echo "== vecq $(git -C "$VECQ_ROOT" describe --always --dirty 2>/dev/null || echo '?')," \
	"pgvector $(sed -n "s/^default_version = '\(.*\)'/\1/p" \
		"$(pg_config --sharedir)/extension/vector.control" 2>/dev/null || echo 'not installed')"
PATH="$PG_BINDIR:$PATH" "test/bench/$driver" "$@"
