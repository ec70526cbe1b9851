#!/bin/bash
#
# test_checker.sh
#	  Test check_migrated.mjs without vecq-migrate: build the Chroma
#	  directories (make_dirs.mjs), load each expected.json into vecq the
#	  way a faithful migration would (load_expected.mjs) and require the
#	  checker to pass; then spoil the loaded data in one way at a time and
#	  require it to fail.
#
#	test/migrate/test_checker.sh [OUTDIR]
#
# OUTDIR: where make_dirs.mjs writes (default: a temporary directory,
# removed at exit); with an OUTDIR that already has all five scenarios
# they are used as they are.  The Chroma server listens on 127.0.0.1 at
# CHROMA_PORT (default 18235); the PostgreSQL side is a throwaway cluster
# (test/lib.sh, port CHECKER_PGPORT, default 5497) with the installed
# vecq.  Prints one line per case and "N passed, N failed"; exits
# non-zero on any failure.

set -euo pipefail

DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$DIR"
[ -d node_modules/pg ] && [ -d node_modules/chromadb ] \
	|| npm ci --prefer-offline --no-audit --no-fund --loglevel=error

SCENARIOS="history tenants spaces flushed empty"
TMP=$(mktemp -d /tmp/vecq-migrate-checker.XXXXXX)
OUT=${1:-$TMP/dirs}
cleanup() {
	if declare -F vecq_cluster_stop >/dev/null; then vecq_cluster_stop; fi
	rm -rf "$TMP"
}
trap cleanup EXIT

have_all=1
for s in $SCENARIOS; do [ -f "$OUT/$s/expected.json" ] || have_all=0; done
if [ $have_all = 0 ]; then
	node make_dirs.mjs "$OUT" --port "${CHROMA_PORT:-18235}"
fi

. "$DIR/../lib.sh"
VECQ_PGPORT=${CHECKER_PGPORT:-5497} vecq_cluster_start
export PGOPTIONS="-c client_min_messages=warning"
PSQL=("$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1)
conn() { echo "host=$PGHOST port=$PGPORT user=postgres dbname=$1"; }

passed=0
failed=0
result() {	# result ok|FAIL description
	if [ "$1" = ok ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
	printf '%-4s %s\n' "$1" "$2"
}

# a fresh database with the scenario's data: fresh_db NAME SCENARIO
fresh_db() {
	"${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1"
	"${PSQL[@]}" -d "$1" -c "CREATE EXTENSION vecq"
	node load_expected.mjs "$OUT/$2/expected.json" "$(conn "$1")" >/dev/null
}

# the checker on a database: check SCENARIO DB LOG; its exit status
check() {
	local rc=0
	node check_migrated.mjs "$OUT/$1/expected.json" "$(conn "$2")" >"$3" 2>&1 || rc=$?
	return $rc
}

# 1. faithful copies pass
for s in $SCENARIOS; do
	fresh_db "m_$s" "$s"
	log=$TMP/$s.pass.log
	if check "$s" "m_$s" "$log"; then
		result ok "$s: a faithful copy passes ($(tail -1 "$log"))"
	else
		result FAIL "$s: a faithful copy fails:"
		grep -v '^ok' "$log" | head -20
	fi
	# the last line is the summary
	tail -1 "$log" | grep -Eq '^[0-9]+ passed, [0-9]+ failed$' \
		|| result FAIL "$s: the last line is not the summary: $(tail -1 "$log")"
done

# 2. spoiled copies fail: spoil NAME SCENARIO DESCRIPTION SQL (run with
# chroma.tenant/database of the collection it names, default here)
spoil() {
	local name=$1 scen=$2 desc=$3 sql=$4 log=$TMP/$1.fail.log rc=0
	fresh_db "x_$name" "$scen"
	"${PSQL[@]}" -d "x_$name" -c "$sql" >/dev/null
	check "$scen" "x_$name" "$log" || rc=$?
	if [ $rc = 1 ] && grep -q '^FAIL' "$log" && tail -1 "$log" | grep -Eq '^[0-9]+ passed, [1-9][0-9]* failed$'; then
		result ok "$desc: detected: $(grep -m1 '^FAIL' "$log" | cut -c1-160)"
	else
		result FAIL "$desc: not detected (exit $rc, $(tail -1 "$log"))"
	fi
	"${PSQL[@]}" -d postgres -c "DROP DATABASE x_$name"
}
records() {	# the records table of a collection: records SCENARIO NAME
	node -e 'const e=JSON.parse(require("fs").readFileSync(process.argv[1]));const c=e.collections.find(c=>c.name===process.argv[2]);console.log(`chroma_records."${c.id}"`)' \
		"$OUT/$1/expected.json" "$2"
}
H=$(records history history)
F=$(records flushed flushed_l2)

spoil meta_value history "one metadata value changed (h000 grp a -> z)" \
	"SELECT chroma.update('history', '{h000}', metadatas => ARRAY['{\"grp\": \"z\"}']::jsonb[])"
spoil meta_float history "a float that became an int (typed-1 float_one 2.0 -> 2)" \
	"UPDATE $H SET metadata = jsonb_set(metadata, '{float_one}', '2') WHERE id = 'typed-1'"
spoil meta_bigint history "a large int rounded (typed-1 big_int 9007199254740993 -> ...992)" \
	"UPDATE $H SET metadata = jsonb_set(metadata, '{big_int}', '9007199254740992') WHERE id = 'typed-1'"
spoil meta_key history "a metadata key lost (h000 neg)" \
	"UPDATE $H SET metadata = metadata - 'neg' WHERE id = 'h000'"
spoil meta_empty history "metadata {} turned into null (h007)" \
	"UPDATE $H SET metadata = NULL WHERE id = 'h007'"
spoil document history "one document changed (h004)" \
	"SELECT chroma.update('history', '{h004}', documents => '{changed}')"
spoil uri history "one uri lost (h000)" \
	"UPDATE $H SET uri = NULL WHERE id = 'h000'"
spoil embedding flushed "one embedding component off by 1e-4 (flushed_l2 f00002)" \
	"UPDATE $F SET embedding = (SELECT (array_agg(CASE WHEN o = 1 THEN x + 1e-4 ELSE x END ORDER BY o))::real[]::vector FROM unnest(embedding::real[]) WITH ORDINALITY u(x, o)) WHERE id = 'f00002'"
spoil order history "the order changed (h000 moved to the end)" \
	"UPDATE $H SET seq = DEFAULT WHERE id = 'h000'"
spoil dropped history "a record dropped (h003)" \
	"SELECT chroma.delete('history', '{h003}')"
spoil extra history "a record too many (deleted h013 back)" \
	"SELECT chroma.add('history', '{h013}', ARRAY['[0,0,0,0,0,0]']::vector[])"
spoil coll_meta spaces "collection metadata changed (custom_hnsw version 3 -> 4)" \
	"UPDATE chroma.collections SET metadata = jsonb_set(metadata, '{version}', '4') WHERE name = 'custom_hnsw'"
spoil coll_id tenants "a collection id changed (globex_items)" \
	"UPDATE chroma.collections SET id = gen_random_uuid() WHERE name = 'globex_items'"
spoil tenant tenants "a database missing (acme/empty_db)" \
	"DELETE FROM chroma.databases WHERE tenant = 'acme' AND name = 'empty_db'"
spoil space spaces "a space changed (space_ip -> l2, index rebuilt)" \
	"UPDATE chroma.collections SET space = 'l2', configuration = jsonb_set(configuration, '{hnsw,space}', '\"l2\"') WHERE name = 'space_ip'"

# 3. the query comparison: spoil the recorded answer instead (a faithful
# copy in m_history): spoil_expected DESCRIPTION JS (JS changes e, the
# parsed expected.json; Num from compare.mjs)
spoil_expected() {
	local desc=$1 js=$2 f=$TMP/spoiled.json log=$TMP/spoiled.log rc=0
	node --input-type=module -e "
		import fs from 'node:fs';
		import { parse, stringify, Num } from './compare.mjs';
		const e = parse(fs.readFileSync(process.argv[1], 'utf8'));
		const q = e.collections[0].queries;
		$js
		fs.writeFileSync(process.argv[2], stringify(e, 1));" "$OUT/history/expected.json" "$f"
	node check_migrated.mjs "$f" "$(conn m_history)" >"$log" 2>&1 || rc=$?
	if [ $rc = 1 ] && grep -q '^FAIL.*query' "$log"; then
		result ok "$desc: detected: $(grep -m1 '^FAIL' "$log" | cut -c1-160)"
	else
		result FAIL "$desc: not detected (exit $rc, $(tail -1 "$log"))"
	fi
}
spoil_expected "a recorded distance off by 1%" \
	"const d = q[0].result.distances[0]; d[2] = new Num(String(d[2].value * 1.01));"
spoil_expected "two query results swapped" \
	"const r = q[1].result; for (const f of ['ids', 'distances', 'documents', 'metadatas', 'uris']) { const x = r[f][0]; [x[0], x[1]] = [x[1], x[0]]; }"
spoil_expected "a filtered query's filter changed" \
	"q[3].where = { grp: 'b' };"
spoil_expected "a query with a result too few" \
	"const r = q[2].result; for (const f of ['ids', 'distances', 'documents', 'metadatas', 'uris']) r[f][0].pop();"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
