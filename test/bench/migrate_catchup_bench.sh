#!/usr/bin/env bash
# test/bench/migrate_catchup_bench.sh: how long vecq-migrate --catch-up
# takes (the cut-over window) on a large real Chroma directory.
#
#   bash test/bench/migrate_catchup_bench.sh [--records N] [--changes K]
#        [--cache DIR] [--migrate PATH] [--port P] [--chroma-port P]
#
# Takes the directory migrate_bench.sh made and cached (DIR/chroma-Nx768,
# default N 50000, DIR $VECQ_MIGRATE_BENCH_CACHE or
# /var/tmp/vecq-migrate-bench), copies it, and in a throwaway cluster:
#  1. copies it with vecq-migrate (the full copy, HNSW build included);
#  2. changes the copy of the directory through the real Chroma server
#     (make_bench_dir.mjs --changes K: K/2 updated, K/4 deleted, K/4 added;
#     default K 400, below the 1000 records after which Chroma flushes its
#     HNSW files, so the log holds them) and runs --catch-up --verify
#     (the log's way), timing the catch-up itself from its own report;
#  3. --catch-up again with nothing changed (the log position's shortcut);
#  4. --catch-up once more after forgetting the recorded log position in
#     chroma.migrations, which makes it compare every record (the way a
#     server source or a flushed directory takes).
# Prints each run's line and a table of seconds.  Root on Debian 12 with
# vecq installed; ports 54451 and 18351 by default.
set -euo pipefail

. "$(dirname "$0")/../lib.sh"

records=50000
changes=400
cache=${VECQ_MIGRATE_BENCH_CACHE:-/var/tmp/vecq-migrate-bench}
migrate=${VECQ_MIGRATE:-$VECQ_ROOT/src/migrate/vecq-migrate}
port=54451
chroma_port=18351
while [ $# -gt 0 ]; do
	case $1 in
		--records) records=$2; shift 2 ;;
		--changes) changes=$2; shift 2 ;;
		--cache) cache=$2; shift 2 ;;
		--migrate) migrate=$2; shift 2 ;;
		--port) port=$2; shift 2 ;;
		--chroma-port) chroma_port=$2; shift 2 ;;
		*) echo "unknown option $1" >&2; exit 2 ;;
	esac
done
src="$cache/chroma-${records}x768"
[ -f "$src/chroma.sqlite3" ] || { echo "no $src: run test/bench/migrate_bench.sh --records $records first" >&2; exit 1; }
work=$(mktemp -d /var/tmp/vecq-catchup-bench.XXXXXX)
trap 'vecq_cluster_stop; rm -rf "$work"' EXIT
cp -a "$src" "$work/dir"

export VECQ_PGPORT=$port
vecq_cluster_start "shared_buffers = 1GB" "max_wal_size = 8GB" "max_parallel_maintenance_workers = 1" >/dev/null
psql -X -q -d postgres -c "CREATE DATABASE cu" && psql -X -q -d cu -c "CREATE EXTENSION vecq"
conn="host=$PGHOST port=$PGPORT user=postgres dbname=cu"
secs() { local t0=$1; awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
# the "caught up in S s" of a run's output, else its wall time
took() { grep -o 'caught up in [0-9.]* s' "$1" | awk '{ print $4 }' | head -n 1; }

t0=$(date +%s.%N)
"$migrate" --from "$work/dir" --to "$conn" >"$work/copy.out" 2>/dev/null
copy=$(secs "$t0")
tail -n 1 "$work/copy.out"

(cd "$VECQ_ROOT/test/migrate" && node make_bench_dir.mjs "$work/dir" --changes "$changes" --port "$chroma_port")

t0=$(date +%s.%N)
"$migrate" --from "$work/dir" --to "$conn" --catch-up >"$work/cu1.out" 2>/dev/null
cu1_wall=$(secs "$t0")
grep 'caught up in' "$work/cu1.out"
"$migrate" --from "$work/dir" --to "$conn" --verify >"$work/verify.out" 2>/dev/null ||
	{ echo "verify after the catch-up FAILED"; grep verify "$work/verify.out"; exit 1; }
grep '^  verify' "$work/verify.out"

t0=$(date +%s.%N)
"$migrate" --from "$work/dir" --to "$conn" --catch-up >"$work/cu2.out" 2>/dev/null
cu2_wall=$(secs "$t0")
grep 'no records changed' "$work/cu2.out"

psql -X -q -d cu -c "UPDATE chroma.migrations SET source_seq = NULL"
t0=$(date +%s.%N)
"$migrate" --from "$work/dir" --to "$conn" --catch-up >"$work/cu3.out" 2>/dev/null
cu3_wall=$(secs "$t0")
grep 'caught up in' "$work/cu3.out"

echo
printf '%-46s %10s %10s\n' "run ($records x 768, $changes changes)" "catch-up s" "wall s"
printf '%-46s %10s %10s\n' "full copy (HNSW build included)" "-" "$copy"
printf '%-46s %10s %10s\n' "--catch-up, from the log" "$(took "$work/cu1.out")" "$cu1_wall"
printf '%-46s %10s %10s\n' "--catch-up, nothing changed" "-" "$cu2_wall"
printf '%-46s %10s %10s\n' "--catch-up, comparing every record" "$(took "$work/cu3.out")" "$cu3_wall"
