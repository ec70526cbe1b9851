#!/usr/bin/env bash
# test/bench/chroma/run.sh: vecq's chroma schema against a real Chroma
# server on the same data (chroma_bench.mjs: add throughput, query QPS,
# recall).
#
#   bash test/bench/chroma/run.sh [chroma_bench.mjs options]
#
# As root on Debian 12: installs what it needs, builds and installs vecq,
# starts a throwaway cluster with the benchmark settings of run_bench.sh
# (port VECQ_CHROMA_BENCH_PORT, default 54333) and the Chroma server of
# chromadb 3.0.9 (bindings 1.0.1) on 127.0.0.1 with an empty persist
# directory, runs the benchmark and stops both.
set -euo pipefail

DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$DIR/../../lib.sh"
WORK=$(mktemp -d /tmp/vecq-chroma-bench.XXXXXX)
SERVER_PID=
cleanup() {
	if [ -n "$SERVER_PID" ]; then
		kill "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
	fi
	vecq_cluster_stop
	rm -rf "$WORK"
}
trap cleanup EXIT

cd "$VECQ_ROOT"
vecq_install_deps
vecq_build_install

# the data sets of vecq_bench and their exact answers (--data)
make -s -C "$VECQ_ROOT/test/bench" BUILDDIR="$WORK/bin" PG_CONFIG="$PG_BINDIR/pg_config" \
	"$WORK/bin/vecq_bench_data"

cd "$DIR"
npm ci --prefer-offline --no-audit --no-fund --loglevel=error

VECQ_PGPORT=${VECQ_CHROMA_BENCH_PORT:-54333} vecq_cluster_start \
	"fsync = on" \
	"shared_buffers = 4GB" \
	"jit = off" \
	"autovacuum = off" \
	"max_parallel_workers_per_gather = 0"
"$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -c "CREATE EXTENSION vecq" >/dev/null

PORT=${CHROMA_PORT:-$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')}
./node_modules/.bin/chroma run --path "$WORK/data" --host 127.0.0.1 --port "$PORT" \
	>"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
	if node -e 'fetch(`http://127.0.0.1:${process.argv[1]}/api/v2/heartbeat`).then(r=>process.exit(r.ok?0:1)).catch(()=>process.exit(1))' "$PORT"; then
		break
	fi
	sleep 0.2
done

node chroma_bench.mjs --chroma-port "$PORT" --chroma-pid "$(pgrep -P "$SERVER_PID" -n || echo "$SERVER_PID")" --data-tool "$WORK/bin/vecq_bench_data" "$@"
