#!/bin/bash
#
# run_wire.sh
#	  Install the pinned client packages and run the wire-format tests.
#
#	test/wire/run_wire.sh [extra node --test arguments]
#
# Runs "npm ci" (exact versions from package-lock.json; uses the npm cache
# first, so it works offline once the cache is warm) and then
# "node --test", which prints "# pass N" and "# fail N".  Exits non-zero if
# installing or any test fails.
#
# If PGHOST or PGPORT is set, the tests use that running server as is, with
# PGUSER/PGDATABASE as given: the database must already have the extension
# (the main test runner creates it).  Otherwise the script starts a
# throwaway cluster with test/lib.sh (Unix socket only, port WIRE_PORT,
# default 5493), creates the extension VECQ_EXTENSION (default vecq) there,
# and removes the cluster afterwards.
#
# test/wire/run_wire.sh

set -euo pipefail

WIRE_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
EXTENSION="${VECQ_EXTENSION:-vecq}"

cd "$WIRE_DIR"
npm ci --prefer-offline --no-audit --no-fund --loglevel=error

if [ -z "${PGHOST:-}" ] && [ -z "${PGPORT:-}" ]; then
	# no server given: a throwaway cluster from test/lib.sh
	. "$WIRE_DIR/../lib.sh"
	trap vecq_cluster_stop EXIT
	VECQ_PGPORT=${WIRE_PORT:-5493} vecq_cluster_start
	"$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 \
		-c "CREATE EXTENSION $EXTENSION" >/dev/null
fi

node --test "$@"
