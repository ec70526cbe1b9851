#!/bin/bash
#
# run_fuzz.sh
#	  Build the vector text fuzz target and run it for a fixed number of
#	  inputs with a fixed seed.
#
# Works on a copy of the seed corpus in a temporary directory and never
# writes into the repository.  First runs the target once over a few large
# generated inputs (16000 and 16001 dimensions) that are too big to mutate
# cheaply, then fuzzes with inputs of at most FUZZ_MAX_LEN bytes.  Exits
# non-zero on any crash, abort, leak, timeout or short run, and prints
#
#	fuzz vector_text: N runs, 0 crashes, T s
#
# Environment:
#	FUZZ_RUNS		inputs to run (default 1000000)
#	FUZZ_SEED		libFuzzer -seed (default 20240601)
#	FUZZ_MAX_LEN	longest mutated input in bytes (default 4096)
#	FUZZ_CORPUS_OUT	if set, copy the final corpus into this directory
#					(e.g. for run_xcheck.sh)
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
RUNS="${FUZZ_RUNS:-1000000}"
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

# report a failure, keeping what is needed to reproduce it
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
	echo "fuzz vector_text: ${2:-0} runs, FAILED: $1"
	exit 1
}

# build out of tree
make -s -C "$FUZZ_DIR" BUILDDIR="$TMP/build" ${PG_CONFIG:+PG_CONFIG="$PG_CONFIG"} \
	${FUZZ_PARSER_SRC:+PARSER_SRC="$FUZZ_PARSER_SRC"} \
	"$TMP/build/fuzz_vector_text" >"$TMP/build.log" 2>&1 \
	|| { cat "$TMP/build.log" >&2; echo "run_fuzz.sh: build failed" >&2; exit 1; }
FUZZER="$TMP/build/fuzz_vector_text"

mkdir -p "$TMP/corpus" "$TMP/big" "$TMP/artifacts"
cp -p "$FUZZ_DIR"/corpus_vector_text/* "$TMP/corpus/"

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
"$FUZZER" -runs=0 "$TMP"/big/* >"$TMP/big.log" 2>&1 \
	|| { cp "$TMP/big.log" "$TMP/fuzz.log"; fail "a large input failed"; }

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

# the fuzzing run itself
start=$(date +%s)
status=0
"${NORAND[@]}" "$FUZZER" \
	-runs="$RUNS" \
	-seed="$SEED" \
	-max_len="$MAX_LEN" \
	-timeout=25 \
	-reload=0 \
	-purge_allocator_interval=-1 \
	-rss_limit_mb=0 \
	-malloc_limit_mb=256 \
	-dict="$FUZZ_DIR/vector_text.dict" \
	-artifact_prefix="$TMP/artifacts/" \
	-print_final_stats=1 \
	"$TMP/corpus" >"$TMP/fuzz.log" 2>&1 || status=$?
elapsed=$(( $(date +%s) - start ))

done_runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$TMP/fuzz.log" | tail -n 1)
if [ "$status" -ne 0 ]; then
	fail "libFuzzer exited with status $status after ${elapsed}s" "${done_runs:-0}"
fi
if [ -z "$done_runs" ] || [ "$done_runs" -lt "$RUNS" ]; then
	fail "only ${done_runs:-0} of $RUNS runs completed" "${done_runs:-0}"
fi
if ls "$TMP"/artifacts/* >/dev/null 2>&1; then
	fail "libFuzzer left artifacts" "$done_runs"
fi

corpus_files=$(find "$TMP/corpus" -type f | wc -l)
if [ -n "${FUZZ_CORPUS_OUT:-}" ]; then
	mkdir -p "$FUZZ_CORPUS_OUT"
	cp -p "$TMP"/corpus/* "$TMP"/big/* "$FUZZ_CORPUS_OUT"/
fi

echo "fuzz vector_text: $done_runs runs, 0 crashes, ${elapsed}s, seed $SEED, final corpus $corpus_files inputs"
