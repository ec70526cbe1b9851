#!/usr/bin/env bash
#
# test/migrate/run_http_tests.sh: vecq-migrate with a running Chroma server
# as the source (--from http://127.0.0.1:PORT), in the cluster that
# PGHOST/PGPORT/PGUSER name (test/lib.sh's, with vecq installed).
#
#  1. a real Chroma 1.0 server (chromadb 3.0.9's "chroma run" on
#     127.0.0.1:CHROMA_HTTP_PORT, default 18311) is filled by
#     fill_server.mjs with make_dirs.mjs's scenarios (tenants and
#     databases, l2/ip/cosine, typed metadata with 1.0 and 2^53+1,
#     documents, uris, updates and deletes, 1000-3000 record collections,
#     empty ones, 103 collections in one database) and what it answers is
#     recorded; vecq-migrate copies it with --verify and small pages, and
#     check_migrated.mjs compares what vecq answers with what the server
#     answered; a second run has nothing to do; a copy killed after some
#     batches is resumed; then the server's data is changed
#     (fill_server.mjs --changes) and --catch-up brings the copy up to date:
#     its counts are checked and check_migrated compares again;
#  2. the server is stopped and its persist directory migrated too: both
#     copies must hold the same bytes (vectors to the bit, metadata of the
#     same kinds);
#  3. a fake server (fake_chroma.mjs, CHROMA_FAKE_PORT, default 18312)
#     checks the token headers and the failures: a wrong or missing token,
#     a refused connection, garbage, truncated JSON, a count that changes,
#     a page of another dimension, a 500; the token is never printed.
#
# Prints one line per check and "N passed, N failed"; exits non-zero on
# any failure.

set -uo pipefail

DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MIGRATE=${VECQ_MIGRATE:-$(pg_config --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)/vecq-migrate}
[ -x "$MIGRATE" ] || MIGRATE=/usr/lib/postgresql/15/bin/vecq-migrate
PORT=${CHROMA_HTTP_PORT:-18311}
FAKE_PORT=${CHROMA_FAKE_PORT:-18312}
DEAD_PORT=${CHROMA_DEAD_PORT:-18318}
TMP=$(mktemp -d /tmp/vecq-http-tests.XXXXXX)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	if [ "${VECQ_HTTP_KEEP_TMP:-0}" = 1 ]; then echo "kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
PASSED=0
FAILED=0
# loopback only: no proxy
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY VECQ_MIGRATE_TOKEN

ok() { PASSED=$((PASSED + 1)); echo "ok   $*"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else fail "$what"; fi; }

conn() { echo "host=$PGHOST port=$PGPORT user=${PGUSER:-postgres} dbname=$1"; }
newdb() {
	psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $1" \
		-c "CREATE DATABASE $1" >/dev/null &&
	psql -X -q -v ON_ERROR_STOP=1 -d "$1" -c 'CREATE EXTENSION vecq' >/dev/null
}
sql() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }
heartbeat() { curl -sf -m 2 "http://127.0.0.1:$1/api/v2/heartbeat" >/dev/null 2>&1; }
# a value from expected.json: jsq EXPR (x is the parsed file)
jsq() { node -e "const x = JSON.parse(require('fs').readFileSync('$TMP/expected.json', 'utf8')); console.log($1)"; }

cd "$DIR"
[ -d node_modules/pg ] && [ -d node_modules/chromadb ] \
	|| npm ci --prefer-offline --no-audit --no-fund --loglevel=error >/dev/null

# 1. the real server
if heartbeat "$PORT"; then
	echo "something already answers on 127.0.0.1:$PORT; set CHROMA_HTTP_PORT" >&2
	exit 1
fi
mkdir -p "$TMP/srv"
node node_modules/chromadb/dist/cli.mjs run --path "$TMP/srv" --host 127.0.0.1 --port "$PORT" \
	>"$TMP/server.log" 2>&1 &
SERVER=$!
PIDS+=("$SERVER")
for _ in $(seq 1 300); do heartbeat "$PORT" && break; sleep 0.1; done
check "the Chroma server answers on 127.0.0.1:$PORT" heartbeat "$PORT"
if node fill_server.mjs "$TMP/expected.json" --port "$PORT" >"$TMP/fill.log" 2>&1; then
	ok "fill_server.mjs filled it ($(tail -n 1 "$TMP/fill.log" | sed 's/^ok *//'))"
else
	fail "fill_server.mjs"; tail -20 "$TMP/fill.log"
fi
URL="http://127.0.0.1:$PORT"
TENANTS=$(jsq 'x.tenants.join(",")')
NCOLL=$(jsq 'x.collections.length')
NREC=$(jsq 'x.collections.reduce((n, c) => n + Number(c.count), 0)')

newdb h_all
if "$MIGRATE" --from "$URL" --to "$(conn h_all)" --tenant "$TENANTS" --verify --batch 100 \
	>"$TMP/all.out" 2>"$TMP/all.err"; then
	ok "migrated from $URL, verify passed ($(tail -n 1 "$TMP/all.out"))"
else
	fail "vecq-migrate --from $URL"; grep -v '^{"event' "$TMP/all.err" | tail -5
fi
check "the summary counts $NCOLL collections, $NREC records" \
	grep -q "^copied $NCOLL collections, $NREC records in .*; verify passed$" "$TMP/all.out"
check "every collection verified with 0 differences" \
	test "$(grep -c '^  verify .* 0 differences; exact k-NN \([0-9]*\) of \1 queries equal' "$TMP/all.out")" = "$NCOLL"
if node check_migrated.mjs "$TMP/expected.json" "$(conn h_all)" >"$TMP/check.out" 2>&1; then
	ok "vecq answers as the Chroma server did ($(tail -n 1 "$TMP/check.out"))"
else
	fail "check_migrated"; grep -v '^ok' "$TMP/check.out" | tail -8
fi
check "chroma.migrations.source is the URL and the tenant" \
	test "$(sql h_all "SELECT string_agg(DISTINCT source, ',' ORDER BY source) FROM chroma.migrations")" \
	= "$URL tenant acme,$URL tenant default_tenant,$URL tenant globex-corp"
check "typed metadata: 1.0 stays a float, 2^53+1 and 2^63-1 exact ints, bools (history/typed-1)" \
	test "$(sql h_all "SET chroma.tenant = 'default_tenant'; SELECT string_agg(key || '=' || value::text, ' ' ORDER BY key) FROM chroma.get('history', ids => '{typed-1}') g, jsonb_each(g.metadata) WHERE key IN ('float_one', 'added_int', 'big_int', 'max_i64', 'min_i64', 'bool_t', 'bool_f', 'zero_f', 'zero', 'tenth', 'neg_float', 'frac', 'pi', 'small')")" \
	= 'added_int=7 big_int=9007199254740993 bool_f=false bool_t=true float_one=2.0 frac=123456789.125 max_i64=9223372036854775807 min_i64=-9223372036854775808 neg_float=-2.5 pi=3.141592653589793 small=0.000000025 tenth=0.2 zero=0 zero_f=0.0'
check "typed collection metadata (raw_meta)" \
	test "$(sql h_all "SELECT metadata::text FROM chroma.collections WHERE name = 'raw_meta'")" \
	= '{"big": 9007199254740993, "neg": -0.5, "one_f": 1.0, "one_i": 1}'
check "a second run (URL with a trailing slash) has nothing to do for any of the $NCOLL collections" \
	test "$("$MIGRATE" --from "$URL/" --to "$(conn h_all)" --tenant "$TENANTS" 2>/dev/null | grep -c 'copied before.*nothing to do')" = "$NCOLL"

# paging: pages of 7 records, and the default tenant only
n_tw=$(jsq 'Number(x.collections.find((c) => c.name === "flushed_twice").count)')
"$MIGRATE" --from "$URL" --dry-run --batch 7 --collections flushed_twice >"$TMP/p7.out" 2>"$TMP/p7.err"
check "--batch 7: flushed_twice's $n_tw records in $(( (n_tw + 6) / 7 )) pages" \
	test "$(grep -c '"event":"batch".*"batch":' "$TMP/p7.err") $(grep -o 'flushed_twice: [0-9]* records' "$TMP/p7.out")" \
	= "$(( (n_tw + 6) / 7 )) flushed_twice: $n_tw records"
n_def=$(jsq 'x.collections.filter((c) => c.tenant === "default_tenant").length')
check "without --tenant only default_tenant is read ($n_def collections)" \
	bash -c "'$MIGRATE' --from '$URL' --dry-run 2>/dev/null | grep -q '^source $URL: Chroma 1.0.0 server (HTTP API v2), tenant default_tenant, $n_def collections, $n_def selected$'"
check "an unknown tenant is refused with the server's message" \
	bash -c "! '$MIGRATE' --from '$URL' --tenant default_tenant,nosuch --dry-run >/dev/null 2>'$TMP/t.err' && grep -q 'has no tenant \"nosuch\" (NotFoundError: Tenant \[nosuch\] not found)' '$TMP/t.err'"

# resume after a kill
newdb h_resume
n_l2=$(jsq 'Number(x.collections.find((c) => c.name === "flushed_l2").count)')
"$MIGRATE" --from "$URL" --to "$(conn h_resume)" --collections flushed_l2 --batch 20 \
	>"$TMP/r1.out" 2>"$TMP/r1.err" &
pid=$!
for _ in $(seq 1 200); do
	[ "$(grep -c '"event":"batch"' "$TMP/r1.err" 2>/dev/null)" -ge 5 ] && break
	sleep 0.05
done
kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
done_before=$(sql h_resume "SELECT records_done FROM chroma.migrations")
check "killed copy left whole batches (records_done $done_before, a multiple of 20, < $n_l2)" \
	bash -c "[ -n '$done_before' ] && [ \$(( $done_before % 20 )) = 0 ] && [ $done_before -lt $n_l2 ]"
check "a new run without --resume refuses" \
	bash -c "! '$MIGRATE' --from '$URL' --to '$(conn h_resume)' --collections flushed_l2 >/dev/null 2>'$TMP/r2.err' && grep -q -- '--resume' '$TMP/r2.err'"
check "--resume finishes and --verify passes" \
	bash -c "'$MIGRATE' --from '$URL' --to '$(conn h_resume)' --collections flushed_l2 --resume --verify --batch 500 2>/dev/null | grep -q '(resumed)'"
check "after resume: $n_l2 records, state done, same source position" \
	test "$(sql h_resume "SELECT records_done || ' ' || state || ' ' || source_position FROM chroma.migrations")" = "$n_l2 done $n_l2"

# 1b. --catch-up after changes on the server: adds, updates, upserts,
# deletes, a record deleted and added again, a collection renamed, one that
# gets its first records, a new database and collection, a flush
if node fill_server.mjs "$TMP/expected2.json" --port "$PORT" --changes --only history,tenants,flushed \
	>"$TMP/fill2.log" 2>&1; then
	ok "fill_server.mjs --changes changed the server ($(tail -n 1 "$TMP/fill2.log" | sed 's/^ok *//'))"
else
	fail "fill_server.mjs --changes"; tail -20 "$TMP/fill2.log"
fi
NCOLL2=$(node -e "console.log(JSON.parse(require('fs').readFileSync('$TMP/expected2.json', 'utf8')).collections.length)")
NREC2=$(node -e "console.log(JSON.parse(require('fs').readFileSync('$TMP/expected2.json', 'utf8')).collections.reduce((n, c) => n + Number(c.count), 0))")
if "$MIGRATE" --from "$URL" --to "$(conn h_all)" --tenant "$TENANTS" --catch-up --verify --batch 300 \
	>"$TMP/cu.out" 2>"$TMP/cu.err"; then
	ok "caught up from $URL, verify passed ($(tail -n 1 "$TMP/cu.out"))"
else
	fail "vecq-migrate --catch-up --from $URL"; grep -v '^{"event' "$TMP/cu.err" | tail -5
fi
if node check_migrated.mjs "$TMP/expected2.json" "$(conn h_all)" >"$TMP/check2.out" 2>&1; then
	ok "after catch-up vecq answers as the changed server does ($(tail -n 1 "$TMP/check2.out"))"
else
	fail "check_migrated after catch-up"; grep -v '^ok' "$TMP/check2.out" | tail -8
fi
caught() { grep -F "collection $1: " "$TMP/cu.out" | grep -v '^  ' | tail -n 1 | sed 's/ in [0-9.]* s:/:/'; }
check "history: 6 added, 5 updated, 2 deleted, h001 moved to the end" \
	test "$(caught default_tenant/default_database/history)" = \
	"collection default_tenant/default_database/history: caught up: 6 added, 5 updated, 2 deleted, 1 moved to the end, 32 unchanged (compared every record)"
check "flushed_l2: 1200 added, 20 updated, 29 deleted; flushed_cosine: 1 moved" \
	test "$(caught default_tenant/default_database/flushed_l2); $(caught default_tenant/default_database/flushed_cosine)" = \
	"collection default_tenant/default_database/flushed_l2: caught up: 1200 added, 20 updated, 29 deleted, 0 moved to the end, 2883 unchanged (compared every record); collection default_tenant/default_database/flushed_cosine: caught up: 0 added, 0 updated, 0 deleted, 1 moved to the end, 1096 unchanged (compared every record)"
check "an unchanged collection: nothing written (spaces/space_l2)" \
	test "$(caught default_tenant/default_database/space_l2)" = \
	"collection default_tenant/default_database/space_l2: caught up: 0 added, 0 updated, 0 deleted, 0 moved to the end, 40 unchanged (compared every record)"
check "renamed collection renamed, the empty one filled, the new database's collection copied" \
	bash -c "grep -q 'acme/staging/shared_renamed: renamed from \"shared\"' '$TMP/cu.out' &&
		grep -q '^collection acme/staging/nothing_here: caught up in [0-9.]* s: 3 added' '$TMP/cu.out' &&
		grep -q '^collection acme/new_db/brand_new: 2 records, 2 dimensions, space ip' '$TMP/cu.out'"
check "the summary: $NCOLL2 collections, one copied, the others caught up" \
	grep -q "^copied 1 collections, caught up $((NCOLL2 - 1)), " "$TMP/cu.out"

# 2. the same data through the persist directory: the same bytes (as the
# server holds it after the changes: the caught-up copy must match)
kill -INT "$SERVER"
for _ in $(seq 1 200); do kill -0 "$SERVER" 2>/dev/null || break; sleep 0.1; done
check "the Chroma server stopped" bash -c "! kill -0 $SERVER 2>/dev/null"
newdb h_persist
check "its persist directory migrates too" \
	bash -c "'$MIGRATE' --from '$TMP/srv' --to '$(conn h_persist)' --batch 1000 >/dev/null 2>'$TMP/persist.err'"
# tenant, database, collection, space, id (hex of its UTF-8), vector (hex of
# vector_send), document, metadata, uri
dump() {
	psql -X -q -At -d "$1" -c "SELECT format('COPY (SELECT %L, %L, %L, %L, encode(convert_to(id, ''UTF8''), ''hex''), encode(vector_send(embedding), ''hex''), document, metadata::text, uri FROM chroma_records.%I ORDER BY seq) TO STDOUT;', tenant, database, name, space, id::text) FROM chroma.collections ORDER BY tenant, database, name" \
		| psql -X -q -At -d "$1"
}
dump h_all >"$TMP/dump_http"
dump h_persist >"$TMP/dump_persist"
cat >"$TMP/cmp.js" <<'JS'
// node cmp.js server EXPECTED DUMP N | persist DUMP_HTTP DUMP_PERSIST
const fs = require("fs");
const lines = (f) => fs.readFileSync(f, "utf8").trim().split("\n").map((l) => l.split("\t"));
const floats = (hex) => {
	const b = Buffer.from(hex, "hex");
	return Array.from({ length: b.readUInt16BE(0) }, (_, i) => b.readUInt32BE(4 + 4 * i));
};
const bits = (v) => {
	const b = Buffer.alloc(4);
	b.writeFloatBE(v);
	return b.readUInt32BE(0);
};
const [mode, a, b, n] = process.argv.slice(2);
if (mode === "server") {
	const want = new Map();
	for (const c of JSON.parse(fs.readFileSync(a, "utf8")).collections)
		c.get.result.ids.forEach((id, i) => want.set([c.tenant, c.database, c.name, Buffer.from(id).toString("hex")].join("/"), c.get.result.embeddings[i]));
	const rows = lines(b);
	const bad = rows.filter((f) => {
		const e = want.get([f[0], f[1], f[2], f[4]].join("/"));
		const got = floats(f[5]);
		return !e || e.length !== got.length || e.some((v, i) => bits(v) !== got[i]);
	});
	process.exit(rows.length === Number(n) && bad.length === 0 ? 0 : 1);
}
// persist: the same rows; in cosine collections vectors may differ by a few ulp
const h = lines(a);
const p = lines(b);
let ulp = 0;
let most = 0;
let bad = h.length !== p.length ? 1 : 0;
h.forEach((f, i) => {
	const g = p[i] || [];
	if (f.some((x, k) => k !== 5 && x !== g[k])) bad++;
	else if (f[5] !== g[5]) {
		const x = floats(f[5]);
		const y = floats(g[5]);
		if (f[3] !== "cosine" || x.length !== y.length || x.some((v, k) => Math.abs(v - y[k]) > 4)) bad++;
		else ulp++;
		x.forEach((v, k) => (most = Math.max(most, Math.abs(v - y[k]))));
	}
});
console.log(`${h.length} rows, ${ulp} cosine vectors up to ${most} ulp apart, ${bad} other differences`);
process.exit(bad ? 1 : 0);
JS
check "the HTTP copy's $(wc -l <"$TMP/dump_http") vectors are the server's answers to the bit" \
	node "$TMP/cmp.js" server "$TMP/expected2.json" "$TMP/dump_http" "$NREC2"
# the persist reader rebuilds a cosine vector from the HNSW file's unit
# vector times its length, and the server rounds that product its own way
# (the persist copy has the vectors as they were added, the server's
# answer can be a few ulp off): there the two copies may differ
node "$TMP/cmp.js" persist "$TMP/dump_http" "$TMP/dump_persist" >"$TMP/cmp.out" 2>&1
check "HTTP and persist copies hold the same records, bytes equal but cosine vectors within 4 ulp ($(cat "$TMP/cmp.out"))" \
	grep -q "^$NREC2 rows, [0-9]* cosine vectors up to [0-4] ulp apart, 0 other differences$" "$TMP/cmp.out"
check "... and byte-identical in every l2 and ip collection" \
	cmp -s <(grep -v "	cosine	" "$TMP/dump_http") <(grep -v "	cosine	" "$TMP/dump_persist")
check "... and so are the collections' metadata, configuration, space and dimension" \
	test "$(sql h_all "SELECT string_agg(concat_ws(' ', tenant, database, name, id, metadata, configuration, space, dimension), E'\n' ORDER BY tenant, database, name) FROM chroma.collections")" \
	= "$(sql h_persist "SELECT string_agg(concat_ws(' ', tenant, database, name, id, metadata, configuration, space, dimension), E'\n' ORDER BY tenant, database, name) FROM chroma.collections")"

# 3. the fake server
fake() {
	local mode=$1
	: >"$TMP/headers.jsonl"
	node fake_chroma.mjs "$mode" "$FAKE_PORT" "$TMP/headers.jsonl" >"$TMP/fake.out" 2>&1 &
	FAKE=$!
	PIDS+=("$FAKE")
	for _ in $(seq 1 100); do grep -q listening "$TMP/fake.out" 2>/dev/null && break; sleep 0.05; done
}
unfake() { kill "$FAKE" 2>/dev/null; wait "$FAKE" 2>/dev/null; }
FURL="http://127.0.0.1:$FAKE_PORT"
TOKEN=s3cret-T0KEN
# every request carried exactly this header (and not the other one)
headers_are() {
	node -e "
const lines = require('fs').readFileSync('$TMP/headers.jsonl', 'utf8').trim().split('\n').map(JSON.parse);
const ok = lines.length > 5 && lines.every((l) => l.headers['$1'] === '$2' && !('$3' in l.headers));
process.exit(ok ? 0 : 1);"
}

fake ok
newdb h_fake
check "fake server: VECQ_MIGRATE_TOKEN is sent as Authorization: Bearer" \
	bash -c "VECQ_MIGRATE_TOKEN=$TOKEN '$MIGRATE' --from '$FURL' --to '$(conn h_fake)' --verify >'$TMP/f1.out' 2>'$TMP/f1.err'"
check "... on every request" headers_are authorization "Bearer $TOKEN" x-chroma-token
check "fake server: the records as the server gave them (floats 1.0, ints, nulls)" \
	test "$(sql h_fake "SET chroma.tenant = 'default_tenant'; SELECT string_agg(concat_ws(' ', id, embedding::text, coalesce(document, '-'), coalesce(metadata::text, '-')), ';' ORDER BY id) FROM chroma_records.\"5a0e2b9c-1f4d-4e6b-9a77-3c2d1e0f4b5a\"")" \
	= 'a [0.5,-1] doc a {"f": 1.0, "i": 1};b [0.25,2] - -;c [3,0.125] doc c {"f": 1.0}'
check "fake server: space and settings from configuration_json" \
	test "$(sql h_fake "SELECT space || ' ' || (configuration -> 'hnsw' ->> 'max_neighbors') || ' ' || metadata::text FROM chroma.collections")" = 'cosine 16 {"kind": "fake"}'
unfake

fake token
newdb h_tok
check "token server: --token with --token-header X-Chroma-Token is accepted" \
	bash -c "'$MIGRATE' --from '$FURL' --to '$(conn h_tok)' --token '$TOKEN' --token-header X-Chroma-Token >'$TMP/f2.out' 2>'$TMP/f2.err'"
check "... sent in X-Chroma-Token only" headers_are x-chroma-token "$TOKEN" authorization
newdb h_tok
check "token server: a wrong token fails with the server's 401 message" \
	bash -c "! '$MIGRATE' --from '$FURL' --to '$(conn h_tok)' --token wrong-T0KEN-value >'$TMP/f3.out' 2>'$TMP/f3.err' && grep -q 'answered 401 to GET /api/v2/heartbeat: AuthError: Unauthorized: the token is wrong or missing' '$TMP/f3.err' && grep -q 'sent as \"Authorization: Bearer ...\"' '$TMP/f3.err'"
check "token server: no token fails, the hint names --token" \
	bash -c "! '$MIGRATE' --from '$FURL' --to '$(conn h_tok)' >'$TMP/f4.out' 2>'$TMP/f4.err' && grep -q 'answered 401' '$TMP/f4.err' && grep -q 'hint: Give the server.s token with --token or VECQ_MIGRATE_TOKEN' '$TMP/f4.err'"
check "token server: a refused run wrote nothing" \
	test "$(sql h_tok "SELECT count(*) FROM chroma.collections")" = 0
unfake
check "the tokens are never printed" \
	bash -c "! cat '$TMP'/f*.out '$TMP'/f*.err | grep -q -e '$TOKEN' -e 'wrong-T0KEN-value'"

check "a refused connection names the URL" \
	bash -c "! '$MIGRATE' --from 'http://127.0.0.1:$DEAD_PORT' --dry-run >/dev/null 2>'$TMP/f5.err' && grep -q 'could not connect to the Chroma server at http://127.0.0.1:$DEAD_PORT: ' '$TMP/f5.err'"

# one failure per fake mode: MODE "what stderr must say"
while IFS='|' read -r mode want; do
	fake "$mode"
	newdb h_bad
	if ! "$MIGRATE" --from "$FURL" --to "$(conn h_bad)" >"$TMP/bad.out" 2>"$TMP/bad.err" \
		&& grep -qF -- "$want" "$TMP/bad.err"; then
		ok "fake server ($mode): fails with \"$want\""
	else
		fail "fake server ($mode): expected \"$want\""; grep -v '^{"event' "$TMP/bad.err" | tail -3
	fi
	unfake
done <<LIST
garbage|GET $FURL/api/v2/heartbeat: the answer is not a Chroma heartbeat: <html>this is not JSON {</html>
badjson|POST $FURL/api/v2/tenants/default_tenant/databases/default_database/collections/5a0e2b9c-1f4d-4e6b-9a77-3c2d1e0f4b5a/get: the answer is not valid JSON
changing|collection "fake" (tenant "default_tenant", database "default_database") of the Chroma server at $FURL changed while it was read: it had 3 records when it was listed and 4 after its last page
baddim|record "b" has an embedding of 3 dimensions, but collection "fake" has 2
error500|answered 500 to POST /api/v2/tenants/default_tenant/databases/default_database/collections/5a0e2b9c-1f4d-4e6b-9a77-3c2d1e0f4b5a/get: InternalError: the fake server broke on purpose
LIST
check "a failed copy (500) left no records behind" \
	test "$(sql h_bad "SELECT coalesce(sum(records_done), 0) FROM chroma.migrations")" = 0

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
