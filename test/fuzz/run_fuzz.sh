#!/bin/bash
#
# run_fuzz.sh
#	  Build the fuzz targets and run each for a fixed number of inputs
#	  with a fixed seed: vector_text (src/common/vector_text.c), then
#	  chroma_pickle and chroma_hnsw (vecq-migrate's readers of Chroma
#	  files, src/migrate/chroma_*.c), chroma_sqlite (its persist
#	  directory reader, src/migrate/migrate_persist.c) and chroma_http (the
#	  decoders of a Chroma server's JSON answers, src/migrate/chroma_http.c),
#	  all built by test/migrate/Makefile; and graph_seed (the server's
#	  reader of HNSW graph seed chunks, src/common/graph_seed.c), built
#	  by test/fuzz/Makefile.
#
# Works on copies of the seed corpora in a temporary directory and never
# writes into the repository.  For vector_text, first runs the target once
# over a few large generated inputs (16000 and 16001 dimensions) that are
# too big to mutate cheaply.  Fuzzes with inputs of at most FUZZ_MAX_LEN
# bytes.  Stops at the first target that fails; exits non-zero on any
# crash, abort, leak, timeout or short run, and prints one line a target
#
#	fuzz vector_text: N runs, 0 crashes, T s
#
# Environment:
#	FUZZ_TARGETS	targets to run (default "vector_text chroma_pickle
#					chroma_hnsw chroma_sqlite chroma_http graph_seed")
#	FUZZ_RUNS		inputs to run for vector_text (default 1000000)
#	FUZZ_CHROMA_RUNS inputs to run for chroma_pickle, chroma_hnsw and
#					graph_seed (default 1000000)
#	FUZZ_SQLITE_RUNS inputs to run for chroma_sqlite (default 20000: each
#					builds and reads a persist directory, a few ms)
#	FUZZ_SEED		libFuzzer -seed (default 20240601)
#	FUZZ_MAX_LEN	longest mutated input in bytes (default 4096)
#	FUZZ_CORPUS_OUT	if set, copy vector_text's final corpus into this
#					directory (e.g. for run_xcheck.sh)
#	FUZZ_ARTIFACTS	if set, copy crash inputs and the log here on failure
#	FUZZ_KEEP_TMP	if set to 1, keep the temporary directory
#	PG_CONFIG		pg_config to build against (default: from PATH)
#	FUZZ_PARSER_SRC	build against this copy of vector_text.c instead of
#					src/common/vector_text.c (to check that the harness
#					catches a deliberately broken parser)
#
# test/fuzz/run_fuzz.sh

set -euo pipefail

FUZZ_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TARGETS="${FUZZ_TARGETS:-vector_text chroma_pickle chroma_hnsw chroma_sqlite chroma_http graph_seed}"
RUNS="${FUZZ_RUNS:-1000000}"
CHROMA_RUNS="${FUZZ_CHROMA_RUNS:-1000000}"
SQLITE_RUNS="${FUZZ_SQLITE_RUNS:-20000}"
SEED="${FUZZ_SEED:-20240601}"
MAX_LEN="${FUZZ_MAX_LEN:-4096}"

TMP="$(mktemp -d "${TMPDIR:-/tmp}/vecq-fuzz.XXXXXX")"
cleanup() {
	if [ "${FUZZ_KEEP_TMP:-0}" = 1 ]; then
		echo "run_fuzz.sh: kept $TMP" >&2
	else
		rm -rf "$TMP"
	fi
}
trap cleanup EXIT

MIGRATE_DIR="$(cd "$FUZZ_DIR/../migrate" && pwd)"
TARGET=

# report a failure of $TARGET, keeping what is needed to reproduce it
fail() {
	echo "run_fuzz.sh: $1" >&2
	if [ -f "$TMP/fuzz.log" ]; then
		echo "---- last lines of the libFuzzer log ----" >&2
		tail -n 40 "$TMP/fuzz.log" >&2
	fi
	if [ -n "${FUZZ_ARTIFACTS:-}" ]; then
		mkdir -p "$FUZZ_ARTIFACTS"
		cp -p "$TMP"/artifacts/* "$TMP"/*.log "$FUZZ_ARTIFACTS"/ 2>/dev/null || true
		echo "run_fuzz.sh: artifacts copied to $FUZZ_ARTIFACTS" >&2
	fi
	echo "fuzz $TARGET: ${2:-0} runs, FAILED: $1"
	exit 1
}

# Repeatability: libFuzzer's comparison tracing also sees pointer values
# (e.g. malloc results checked against NULL) and feeds them into mutations,
# so the same seed grows the same corpus only if heap addresses repeat.
# Hence no address space randomisation (where the system allows it), and
# none of the timer-driven work that allocates or reorders: corpus reloads,
# allocator purges and the RSS-watching thread (-malloc_limit_mb still
# catches runaway allocations).
NORAND=()
if setarch "$(uname -m)" -R true >/dev/null 2>&1; then
	NORAND=(setarch "$(uname -m)" -R)
fi

# fuzz FUZZER CORPUS RUNS [libFuzzer options]: one bounded run of $TARGET
# over a copy of CORPUS in $TMP/corpus; prints the target's summary line
fuzz() {
	local fuzzer=$1 corpus=$2 runs=$3
	shift 3
	rm -rf "$TMP/corpus" "$TMP/artifacts" "$TMP/fuzz.log"
	mkdir -p "$TMP/corpus" "$TMP/artifacts"
	cp -p "$corpus"/* "$TMP/corpus/"

	local start status=0 elapsed done_runs corpus_files
	start=$(date +%s)
	"${NORAND[@]}" "$fuzzer" \
		-runs="$runs" \
		-seed="$SEED" \
		-max_len="$MAX_LEN" \
		-timeout=25 \
		-reload=0 \
		-purge_allocator_interval=-1 \
		-rss_limit_mb=0 \
		-malloc_limit_mb=256 \
		-artifact_prefix="$TMP/artifacts/" \
		-print_final_stats=1 \
		"$@" \
		"$TMP/corpus" >"$TMP/fuzz.log" 2>&1 || status=$?
	elapsed=$(( $(date +%s) - start ))

	done_runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$TMP/fuzz.log" | tail -n 1)
	if [ "$status" -ne 0 ]; then
		fail "libFuzzer exited with status $status after ${elapsed}s" "${done_runs:-0}"
	fi
	if [ -z "$done_runs" ] || [ "$done_runs" -lt "$runs" ]; then
		fail "only ${done_runs:-0} of $runs runs completed" "${done_runs:-0}"
	fi
	if ls "$TMP"/artifacts/* >/dev/null 2>&1; then
		fail "libFuzzer left artifacts" "$done_runs"
	fi
	corpus_files=$(find "$TMP/corpus" -type f | wc -l)
	echo "fuzz $TARGET: $done_runs runs, 0 crashes, ${elapsed}s, seed $SEED, final corpus $corpus_files inputs"
}

run_vector_text() {
	# build out of tree
	make -s -C "$FUZZ_DIR" BUILDDIR="$TMP/build" ${PG_CONFIG:+PG_CONFIG="$PG_CONFIG"} \
		${FUZZ_PARSER_SRC:+PARSER_SRC="$FUZZ_PARSER_SRC"} \
		"$TMP/build/fuzz_vector_text" >"$TMP/build.log" 2>&1 \
		|| { cat "$TMP/build.log" >&2; echo "run_fuzz.sh: build failed" >&2; exit 1; }
	local fuzzer="$TMP/build/fuzz_vector_text"

	mkdir -p "$TMP/big"

	# large inputs at and over the dimension limit, checked once each
	repeat() {
		# repeat ELEM N: "[ELEM,ELEM,...]" with N elements
		awk -v e="$1" -v n="$2" 'BEGIN {
			printf "[";
			for (i = 0; i < n; i++)
				printf "%s%s", (i ? "," : ""), e;
			printf "]";
		}'
	}
	repeat 1 16000 >"$TMP/big/dim16000"
	repeat -1.1754942e-38 16000 >"$TMP/big/dim16000_long"
	repeat 1 16001 >"$TMP/big/dim16001"
	{ repeat 1 15999; printf ' x'; } >"$TMP/big/dim15999_junk"
	"$fuzzer" -runs=0 "$TMP"/big/* >"$TMP/big.log" 2>&1 \
		|| { cp "$TMP/big.log" "$TMP/fuzz.log"; fail "a large input failed"; }

	fuzz "$fuzzer" "$FUZZ_DIR/corpus_vector_text" "$RUNS" \
		-dict="$FUZZ_DIR/vector_text.dict"

	if [ -n "${FUZZ_CORPUS_OUT:-}" ]; then
		mkdir -p "$FUZZ_CORPUS_OUT"
		cp -p "$TMP"/corpus/* "$TMP"/big/* "$FUZZ_CORPUS_OUT"/
	fi
}

# chroma_pickle, chroma_hnsw: plain C; chroma_sqlite, chroma_http: frontend
# C with PostgreSQL's libraries; all built by test/migrate/Makefile
run_chroma() {
	make -s -C "$MIGRATE_DIR" BUILDDIR="$TMP/build-migrate" \
		${PG_CONFIG:+PG_CONFIG="$PG_CONFIG"} \
		"$TMP/build-migrate/fuzz_$TARGET" >"$TMP/build.log" 2>&1 \
		|| { cat "$TMP/build.log" >&2; echo "run_fuzz.sh: build failed" >&2; exit 1; }
	if [ "$TARGET" = chroma_sqlite ]; then
		# its own work directory in /dev/shm (or $TMPDIR); a failed read
		# leaks jansson's objects by design, hence no leak checks
		fuzz "$TMP/build-migrate/fuzz_$TARGET" "$FUZZ_DIR/corpus_$TARGET" "$SQLITE_RUNS" \
			-detect_leaks=0
	else
		fuzz "$TMP/build-migrate/fuzz_$TARGET" "$FUZZ_DIR/corpus_$TARGET" "$CHROMA_RUNS"
	fi
}

run_graph_seed() {
	make -s -C "$FUZZ_DIR" BUILDDIR="$TMP/build" ${PG_CONFIG:+PG_CONFIG="$PG_CONFIG"} \
		"$TMP/build/fuzz_graph_seed" >"$TMP/build.log" 2>&1 \
		|| { cat "$TMP/build.log" >&2; echo "run_fuzz.sh: build failed" >&2; exit 1; }
	fuzz "$TMP/build/fuzz_graph_seed" "$FUZZ_DIR/corpus_graph_seed" "$CHROMA_RUNS"
}

for TARGET in $TARGETS; do
	case "$TARGET" in
		vector_text) run_vector_text ;;
		graph_seed) run_graph_seed ;;
		chroma_pickle | chroma_hnsw | chroma_sqlite | chroma_http) run_chroma ;;
		*) echo "run_fuzz.sh: unknown target $TARGET" >&2; exit 2 ;;
	esac
done
