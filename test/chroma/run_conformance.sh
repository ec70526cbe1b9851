#!/bin/bash
#
# run_conformance.sh
#	  Install the pinned Chroma server and client, start the server on
#	  loopback with an empty persist directory, and run the conformance
#	  scenarios against it and against vecq's chroma schema.
#
#	test/chroma/run_conformance.sh [conformance.mjs arguments]
#
# The PostgreSQL side comes from PGHOST/PGPORT/PGUSER/PGDATABASE: that
# database must have the extension (the main test runner makes one).
# Without PGHOST or PGPORT the script starts a throwaway cluster itself
# (test/lib.sh, port CONFORMANCE_PGPORT, default 5494).  The Chroma server
# (chromadb 3.0.9's "chroma run", bindings 1.0.1) listens on 127.0.0.1 at
# CHROMA_PORT (default: a free port) and is stopped at exit.  Prints
# "N passed, N failed"; exits non-zero on any failure.

set -euo pipefail

DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$DIR"
npm ci --prefer-offline --no-audit --no-fund --loglevel=error

WORK=$(mktemp -d /tmp/vecq-chroma.XXXXXX)
SERVER_PID=
cleanup() {
	if [ -n "$SERVER_PID" ]; then
		kill "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
	fi
	if declare -F vecq_cluster_stop >/dev/null; then vecq_cluster_stop; fi
	rm -rf "$WORK"
}
trap cleanup EXIT

if [ -z "${PGHOST:-}" ] && [ -z "${PGPORT:-}" ]; then
	. "$DIR/../lib.sh"
	VECQ_PGPORT=${CONFORMANCE_PGPORT:-5494} vecq_cluster_start
	"$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -c "CREATE EXTENSION vecq" >/dev/null
fi

# a free loopback port, unless one is given
PORT=${CHROMA_PORT:-$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')}
./node_modules/.bin/chroma run --path "$WORK/data" --host 127.0.0.1 --port "$PORT" \
	>"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
	if node -e 'fetch(`http://127.0.0.1:${process.argv[1]}/api/v2/heartbeat`).then(r=>process.exit(r.ok?0:1)).catch(()=>process.exit(1))' "$PORT"; then
		break
	fi
	if ! kill -0 "$SERVER_PID" 2>/dev/null; then
		echo "the Chroma server exited:"
		cat "$WORK/server.log"
		exit 1
	fi
	sleep 0.2
done
echo "Chroma server on 127.0.0.1:$PORT"

node conformance.mjs --chroma-port "$PORT" "$@"
