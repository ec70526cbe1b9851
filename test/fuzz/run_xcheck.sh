#!/bin/bash
#
# run_xcheck.sh
#	  Check that the server's vector type agrees with the frontend parser.
#
# Builds xcheck_vector_text and runs it over the given corpus files or
# directories (e.g. the final corpus from FUZZ_CORPUS_OUT=dir run_fuzz.sh),
# the checked-in seed corpus, the hand-written cases in xcheck_cases.txt and
# the cases the program generates itself.
#
#	test/fuzz/run_xcheck.sh [CORPUS_DIR_OR_FILE]...
#
# If PGHOST or PGPORT is set, the already-running server they name is used
# as is (PGUSER/PGDATABASE as given); the script then only runs
# CREATE EXTENSION IF NOT EXISTS in that database.  Otherwise it starts a
# throwaway cluster with test/lib.sh (Unix socket only, port XCHECK_PORT,
# default 5492) and removes it afterwards.
#
# Environment:
#	VECQ_EXTENSION	extension that provides the vector type (default vecq)
#	XCHECK_RANDOM	random float values to generate (default 1000)
#	XCHECK_PORT		port of the throwaway cluster (default 5492)
#	PG_CONFIG		pg_config to build and run with (default: from PATH)
#
# test/fuzz/run_xcheck.sh

set -euo pipefail

FUZZ_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
EXTENSION="${VECQ_EXTENSION:-vecq}"
PG_CONFIG="${PG_CONFIG:-pg_config}"
PG_BINDIR="$("$PG_CONFIG" --bindir)"

TMP="$(mktemp -d "${TMPDIR:-/tmp}/vecq-xcheck.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT

make -s -C "$FUZZ_DIR" BUILDDIR="$TMP/build" PG_CONFIG="$PG_CONFIG" \
	"$TMP/build/xcheck_vector_text" >"$TMP/build.log" 2>&1 \
	|| { cat "$TMP/build.log" >&2; echo "run_xcheck.sh: build failed" >&2; exit 1; }

if [ -z "${PGHOST:-}" ] && [ -z "${PGPORT:-}" ]; then
	# no server given: a throwaway cluster from test/lib.sh
	. "$FUZZ_DIR/../lib.sh"
	trap 'vecq_cluster_stop; rm -rf "$TMP"' EXIT
	VECQ_PGPORT=${XCHECK_PORT:-5492} vecq_cluster_start
fi

"$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 \
	-c "SET client_min_messages = warning; CREATE EXTENSION IF NOT EXISTS $EXTENSION" >/dev/null

"$TMP/build/xcheck_vector_text" -n "${XCHECK_RANDOM:-1000}" \
	-c "$FUZZ_DIR/xcheck_cases.txt" \
	"$FUZZ_DIR/corpus_vector_text" "$@"
