#!/usr/bin/env bash
# test/run_tests.sh: set up everything and run every vecq test.
#
# Run as root on Debian 12 from a clean clone:  bash test/run_tests.sh
#
# 1. installs the Debian packages it needs, builds and installs vecq;
# 2. unit tests of the distance kernels (every SIMD level of this CPU);
#    the libFuzzer run of the vector text parser (5,000,000 inputs);
# 3. starts a throwaway cluster (as the postgres OS user) and runs
#    the pg_regress suite (test/sql -> expected/),
#    the wire-format tests from a real client (node pg + pgvector),
#    the Chroma API's conformance scenarios against a real Chroma server,
#    the parser/server cross-check on the fuzzer's corpus,
#    the isolation specs (test/specs -> expected/);
# 4. the TAP tests (test/t: crash recovery, streaming replica), which make
#    their own clusters;
# then prints "N passed, N failed" and exits non-zero on any failure.
#
# Each suite counts its own tests; a suite that dies without reporting
# counts as one failure.

set -uo pipefail

. "$(dirname "$0")/lib.sh"
cd "$VECQ_ROOT" || exit 1

PASSED=0
FAILED=0
FAILED_SUITES=()
LOGDIR=$(mktemp -d /tmp/vecq-tests.XXXXXX)

trap 'vecq_cluster_stop' EXIT

# record(suite, passed, failed)
record() {
	PASSED=$((PASSED + $2))
	FAILED=$((FAILED + $3))
	if [ "$3" -gt 0 ]; then FAILED_SUITES+=("$1"); fi
	printf '%-22s %4d passed, %d failed\n' "$1" "$2" "$3"
}

# run_suite(name, command...): run, keep the log, and count from the log's
# last "N passed, N failed" line (or node's "# pass N" / "# fail N"); without
# either, the suite counts as one test and its exit status decides.
run_suite() {
	local name=$1
	shift
	local log="$LOGDIR/$name.log"
	vecq_say "suite $name"
	"$@" >"$log" 2>&1
	local rc=$?
	local line
	line=$(grep -E '^([A-Za-z_-]+: )?[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
	if [ -n "$line" ]; then
		local p f
		p=$(sed -E 's/^([A-Za-z_-]+: )?([0-9]+) passed.*/\2/' <<<"$line")
		f=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")
		if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
		# a suite that ran nothing has failed
		if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then f=1; fi
		record "$name" "$p" "$f"
	elif grep -qE '^# pass [0-9]+' "$log"; then
		# node's test runner: "# pass N" and "# fail N"
		local p f
		p=$(sed -nE 's/^# pass ([0-9]+)$/\1/p' "$log" | tail -n 1)
		f=$(sed -nE 's/^# fail ([0-9]+)$/\1/p' "$log" | tail -n 1)
		p=${p:-0}
		f=${f:-0}
		if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
		if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then f=1; fi
		record "$name" "$p" "$f"
	elif [ "$rc" -eq 0 ]; then
		record "$name" 1 0
	else
		record "$name" 0 1
	fi
	# a one-test suite's own summary (fuzz: runs and crashes) is worth showing
	if [ -z "$line" ] && ! grep -qE '^# pass [0-9]+' "$log"; then
		printf '%22s %s\n' '' "$(tail -n 1 "$log")"
	fi
	if [ "$rc" -ne 0 ]; then
		echo "---- $name failed (exit $rc); last lines of $log:"
		tail -n 40 "$log"
		echo "----"
	fi
}

# pg_regress and pg_isolation_regress report one line per test: "test x
# ... ok" or "... FAILED".  make installcheck runs REGRESS, then ISOLATION:
# each suite empties the other's list so that the two are counted apart.
run_installcheck() {
	local label=$1
	shift
	local out="$LOGDIR/$label.out"
	make -s installcheck "$@" PG_CONFIG="$PG_BINDIR/pg_config" >"$out" 2>&1
	local rc=$?
	cat "$out"
	if [ -f "$VECQ_ROOT/regression.diffs" ]; then
		head -n 200 "$VECQ_ROOT/regression.diffs"
	fi
	echo "$label: $(grep -cE '\.\.\. ok' "$out") passed," \
		"$(grep -cE '\.\.\. FAILED' "$out") failed"
	return $rc
}

run_regress() {
	run_installcheck regress ISOLATION=
}

run_isolation() {
	run_installcheck isolation REGRESS=
}

# TAP tests: prove, as the postgres user (initdb refuses root), on a copy of
# test/t in a scratch directory (the source tree may not be readable by
# postgres) where the tests put their clusters (tmp_check/, kept on failure).
# Counts come from prove's "Files=N, Tests=M" and "Failed X/Y subtests"; a
# test script that dies counts as one more failure.
run_tap() {
	local dir out rc log pgxs
	pgxs="$("$PG_BINDIR/pg_config" --pkglibdir)/pgxs"
	dir=$(mktemp -d /tmp/vecq-tap.XXXXXX)
	mkdir "$dir/t" && cp "$VECQ_ROOT"/test/t/*.pl "$dir/t/" || return 1
	chown -R postgres:postgres "$dir"
	out="$LOGDIR/tap.out"
	(cd "$dir" && runuser -u postgres -- env PATH="$PG_BINDIR:$PATH" TESTDIR="$dir" \
		PG_REGRESS="$pgxs/src/test/regress/pg_regress" \
		prove --timer -I "$pgxs/src/test/perl" t/*.pl) >"$out" 2>&1
	rc=$?
	cat "$out"
	local tests failed dubious
	tests=$(sed -nE 's/^Files=[0-9]+, Tests=([0-9]+),.*/\1/p' "$out" | tail -n 1)
	failed=$(sed -nE 's/^Failed ([0-9]+)\/[0-9]+ subtests.*/\1/p' "$out" \
		| awk '{ n += $1 } END { print n + 0 }')
	# scripts that failed without a failed subtest (died, bad plan)
	dubious=$(grep -cE '\(Wstat: [0-9]+ .*Failed: 0\)' "$out")
	tests=${tests:-0}
	failed=${failed:-0}
	if grep -q '^Result: PASS' "$out" && [ "$rc" -eq 0 ]; then
		rm -rf "$dir"
	else
		for log in "$dir"/tmp_check/log/regress_log_*; do
			[ -f "$log" ] || continue
			echo "---- $log (failures, then the last lines)"
			grep -E 'not ok|Failed test|died|Bail' "$log" | head -n 20
			tail -n 15 "$log"
		done
		echo "(clusters and logs kept in $dir)"
	fi
	echo "tap: $((tests - failed)) passed, $((failed + dubious)) failed"
	return $rc
}

run_wire() {
	psql -X -q -v ON_ERROR_STOP=1 -c 'DROP DATABASE IF EXISTS vecq_wire' \
		-c 'CREATE DATABASE vecq_wire' || return 1
	psql -X -q -v ON_ERROR_STOP=1 -d vecq_wire -c 'CREATE EXTENSION vecq' || return 1
	PGDATABASE=vecq_wire bash test/wire/run_wire.sh
}

# vecq-migrate's Chroma file readers, on the fixtures and on HNSW files
# written by a real Chroma server (make_hnsw_dir.mjs, test/chroma's client)
# the ChromaDB fixtures: ../shared beside the repository (as CI has it)
if [ -z "${VECQ_CHROMA_FIXTURES:-}" ]; then
	for d in "$VECQ_ROOT/../shared/fixtures/chroma" /work/shared/fixtures/chroma; do
		if [ -d "$d" ]; then
			export VECQ_CHROMA_FIXTURES=$d
			break
		fi
	done
fi

run_migrate_readers() {
	(cd test/chroma && npm ci --prefer-offline --no-audit --no-fund --loglevel=error) || return 1
	make -s -C test/migrate check
}

# the Chroma API against a real Chroma server (test/chroma)
run_chroma() {
	psql -X -q -v ON_ERROR_STOP=1 -c 'DROP DATABASE IF EXISTS vecq_chroma' \
		-c 'CREATE DATABASE vecq_chroma' || return 1
	psql -X -q -v ON_ERROR_STOP=1 -d vecq_chroma -c 'CREATE EXTENSION vecq' || return 1
	PGDATABASE=vecq_chroma bash test/chroma/run_conformance.sh
}

# the parser/server cross-check replays the fuzzer's final corpus
run_cross_check() {
	psql -X -q -v ON_ERROR_STOP=1 -c 'DROP DATABASE IF EXISTS vecq_fuzz' \
		-c 'CREATE DATABASE vecq_fuzz' || return 1
	psql -X -q -v ON_ERROR_STOP=1 -d vecq_fuzz -c 'CREATE EXTENSION vecq' || return 1
	PGDATABASE=vecq_fuzz bash test/fuzz/run_xcheck.sh "$LOGDIR/fuzz-corpus"
}

vecq_install_deps || exit 1
vecq_build_install || exit 1

run_suite unit-distance make -s -C test/unit run-distance
run_suite unit-half make -s -C test/unit run-half
run_suite migrate-readers run_migrate_readers

# 5,000,000 inputs (the issue asks for at least 1,000,000) take ~15 s
FUZZ_RUNS=${FUZZ_RUNS:-5000000} FUZZ_CORPUS_OUT="$LOGDIR/fuzz-corpus" \
	run_suite fuzz-vector-text bash test/fuzz/run_fuzz.sh

if vecq_cluster_start; then
	run_suite regress run_regress
	run_suite wire run_wire
	run_suite chroma-conformance run_chroma
	run_suite migrate bash test/migrate/run_migrate_tests.sh
	run_suite migrate-http bash test/migrate/run_http_tests.sh
	run_suite fuzz-cross-check run_cross_check
	run_suite isolation run_isolation
	vecq_cluster_stop
else
	record cluster 0 1
fi

run_suite tap run_tap

echo
if [ ${#FAILED_SUITES[@]} -gt 0 ]; then
	echo "failed suites: ${FAILED_SUITES[*]} (logs in $LOGDIR)"
fi
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
