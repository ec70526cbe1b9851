#!/usr/bin/env bash
#
# test/migrate/run_migrate_tests.sh: vecq-migrate against real Chroma
# directories, in the cluster that PGHOST/PGPORT/PGUSER name (test/lib.sh's,
# with vecq and vecq-migrate installed).
#
#  1. make_dirs.mjs drives a real Chroma 1.0 server (127.0.0.1) to build
#     five persist directories (histories, tenants and databases, spaces,
#     flushed HNSW files, empty collections) and records what the server
#     answered; each is migrated with --verify into its own database and
#     check_migrated.mjs compares, through the chroma SQL API, what vecq
#     answers with what the server answered;
#  2. every fixture of ../shared/fixtures/chroma with a chroma.sqlite3 is
#     migrated with --verify, and its record counts are checked;
#  3. a copy killed after some batches is resumed (--resume) and verified;
#     a second run refuses, --replace copies again;
#  4. damaged sources (a truncated chroma.sqlite3, an unknown schema, a
#     damaged pickle, a truncated data_level0.bin, vectors of another
#     dimension in the HNSW files or the log) fail with a message naming
#     the file and what is wrong, and write nothing;
#  5. --catch-up: the directories of 1 are changed in place by the server
#     (make_dirs.mjs --changes: adds, updates, upserts, deletes, a record
#     deleted and added again, a renamed collection, new ones, a flush),
#     a write made in Postgres meanwhile is undone, and a second run of
#     vecq-migrate --catch-up --verify writes exactly what changed: its
#     counts are checked, and check_migrated compares vecq's answers with
#     the server's new ones; a third run finds nothing to do.
#
# Prints one line per check and "N passed, N failed"; exits non-zero on
# any failure.

set -uo pipefail

DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
FIXTURES=${VECQ_CHROMA_FIXTURES:-$DIR/../../../shared/fixtures/chroma}
MIGRATE=${VECQ_MIGRATE:-$(pg_config --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)/vecq-migrate}
[ -x "$MIGRATE" ] || MIGRATE=/usr/lib/postgresql/15/bin/vecq-migrate
TMP=$(mktemp -d /tmp/vecq-migrate-tests.XXXXXX)
trap '[ -n "${VECQ_KEEP_TMP:-}" ] || rm -rf "$TMP"' EXIT
PASSED=0
FAILED=0

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

cd "$DIR"
[ -d node_modules/pg ] && [ -d node_modules/chromadb ] \
	|| npm ci --prefer-offline --no-audit --no-fund --loglevel=error >/dev/null

# 1. directories made by the real Chroma server
if node make_dirs.mjs "$TMP/dirs" --port "${CHROMA_PORT:-18241}" >"$TMP/make_dirs.log" 2>&1; then
	ok "make_dirs.mjs built the Chroma directories"
else
	fail "make_dirs.mjs"; tail -20 "$TMP/make_dirs.log"
fi
for s in history tenants spaces flushed empty; do
	[ -d "$TMP/dirs/$s" ] || { fail "$s: no directory"; continue; }
	newdb "m_$s" || { fail "$s: database"; continue; }
	if "$MIGRATE" --from "$TMP/dirs/$s" --to "$(conn "m_$s")" --verify --batch 500 \
		>"$TMP/$s.out" 2>"$TMP/$s.err"; then
		ok "$s: migrated, verify passed ($(tail -n 1 "$TMP/$s.out"))"
	else
		fail "$s: vecq-migrate"; grep -v '^{"event' "$TMP/$s.err" | tail -5
	fi
	if node check_migrated.mjs "$TMP/dirs/$s/expected.json" "$(conn "m_$s")" >"$TMP/$s.check" 2>&1; then
		ok "$s: vecq answers as the Chroma server did ($(tail -n 1 "$TMP/$s.check"))"
	else
		fail "$s: check_migrated"; grep -v '^ok' "$TMP/$s.check" | tail -8
	fi
done
# the flushed collections' indexes were built from Chroma's own graph
# (rows whose vector came from the log after the flush were searched for)
check "flushed: all 3 indexes seeded with Chroma's graph" \
	test "$(grep -c "index: seeded with Chroma's graph" "$TMP/flushed.out" 2>/dev/null)" = 3
# a target whose vecq cannot take the seed (as one before 0.7.0): a
# warning, and the indexes are built by searching
if newdb m_noseed && psql -X -q -v ON_ERROR_STOP=1 -d m_noseed \
	-c 'ALTER EXTENSION vecq DROP FUNCTION vecq_hnsw_seed(regclass, bytea)' \
	-c 'DROP FUNCTION vecq_hnsw_seed(regclass, bytea)' >/dev/null; then
	"$MIGRATE" --from "$TMP/dirs/flushed" --to "$(conn m_noseed)" --verify --batch 500 \
		>"$TMP/noseed.out" 2>"$TMP/noseed.err"
	rc=$?
	check "flushed without vecq_hnsw_seed: copied and verified" test $rc = 0
	check "flushed without vecq_hnsw_seed: 3 warnings, no index seeded" \
		test "$(grep -c "is built without Chroma's graph, which is slower: the target's vecq has no vecq_hnsw_seed" "$TMP/noseed.err")" = 3 \
		-a "$(grep -c "index: seeded" "$TMP/noseed.out")" = 0
	check "flushed without vecq_hnsw_seed: every index built" \
		test "$(sql m_noseed "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam WHERE a.amname = 'hnsw'")" = 3
else
	fail "m_noseed: database"
fi
# the source was not touched
check "sources unchanged (no file written next to chroma.sqlite3)" \
	test -z "$(find "$TMP/dirs" -newer "$TMP/make_dirs.log" -type f)"

# 2. the public fixtures: name records
newdb m_fixtures
while read -r name records; do
	d="$FIXTURES/$name"
	[ -f "$d/chroma.sqlite3" ] || { fail "fixture $name: missing"; continue; }
	db="m_fx_$(echo "$name" | tr -c 'a-zA-Z0-9\n' '_' | tr 'A-Z' 'a-z')"
	newdb "$db"
	if "$MIGRATE" --from "$d" --to "$(conn "$db")" --verify >"$TMP/fx.out" 2>"$TMP/fx.err"; then
		got=$(sql "$db" "SELECT coalesce(sum((xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM chroma_records.%I', id), false, true, '')))[1]::text::bigint), 0) FROM chroma.collections")
		if [ "$got" = "$records" ]; then
			ok "fixture $name: $records records, verify passed"
		else
			fail "fixture $name: $got records in vecq, expected $records"
		fi
	else
		fail "fixture $name: vecq-migrate"; grep -v '^{"event' "$TMP/fx.err" | tail -5
	fi
done <<'LIST'
Canada_Immigration_LLM 144
jinship_sp2024 100
sherpa-db 18
sherpa-demo 0
ollama_rag 264
sql-helper 1
Mistral 3
AnimeRecommender 0
Virtual-TA 123
customer_support_system 179
Philospher_ChatBot 50
Groww_Mutual_Funds 6
K4-Day08-RAG-Pipeline-BigW88 229
chroma-core-multitenant 3
chroma-core-0.4.0-empty 0
LIST
check "multitenant fixture: tenants and databases kept" \
	test "$(sql m_fx_chroma_core_multitenant "SELECT string_agg(tenant || '/' || name, ',' ORDER BY tenant, name) FROM chroma.databases WHERE name <> 'default_database'")" \
	= "b1f6fa55-5c0a-4f93-82bb-fc398ed2e788/helloworld,bae4191b-3df0-4cdf-8845-cc8a2356c370/helloworld"
check "Groww fixture: deleted records stay deleted, values kept" \
	test "$(sql m_fx_groww_mutual_funds "SET chroma.tenant = 'default_tenant'; SELECT string_agg(id, ',' ORDER BY id) FROM chroma.get('mutual_funds')")" \
	= "chunk_0,chunk_1,chunk_2,chunk_3,chunk_4,chunk_5"
check "Groww fixture: cosine space and metadata" \
	test "$(sql m_fx_groww_mutual_funds "SELECT c.space || ' ' || (SELECT metadata ->> 'fund_name' FROM chroma.get('mutual_funds', ids => '{chunk_0}')) FROM chroma.collections c")" \
	= "cosine HDFC ELSS Tax Saver Fund"
check "customer_support_system-33d4583 (no chroma.sqlite3) is refused" \
	bash -c "! '$MIGRATE' --from '$FIXTURES/customer_support_system-33d4583' --to '$(conn m_fixtures)' >/dev/null 2>'$TMP/nosql.err' && grep -q 'chroma.sqlite3' '$TMP/nosql.err'"

# 3. resume after a kill, refusal, replace
newdb m_resume
src="$TMP/dirs/flushed"
"$MIGRATE" --from "$src" --to "$(conn m_resume)" --collections flushed_l2 --batch 20 \
	>"$TMP/r1.out" 2>"$TMP/r1.err" &
pid=$!
for _ in $(seq 1 200); do
	n=$(grep -c '"event":"batch"' "$TMP/r1.err" 2>/dev/null)
	[ "${n:-0}" -ge 5 ] && break
	sleep 0.05
done
kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
done_before=$(sql m_resume "SELECT records_done FROM chroma.migrations")
check "killed copy left whole batches (records_done $done_before, a multiple of 20, < 2932)" \
	bash -c "[ -n '$done_before' ] && [ \$(( $done_before % 20 )) = 0 ] && [ $done_before -lt 2932 ]"
check "killed copy: table holds exactly the checkpointed records" \
	test "$(sql m_resume "SELECT count(*) FROM chroma_records.\"$(sql m_resume 'SELECT collection FROM chroma.migrations')\"")" = "$done_before"
check "a new run without --resume refuses" \
	bash -c "! '$MIGRATE' --from '$src' --to '$(conn m_resume)' --collections flushed_l2 >/dev/null 2>'$TMP/r2.err' && grep -q -- '--resume' '$TMP/r2.err'"
check "--catch-up refuses an unfinished copy, pointing to --resume" \
	bash -c "! '$MIGRATE' --from '$src' --to '$(conn m_resume)' --collections flushed_l2 --catch-up >/dev/null 2>'$TMP/r2c.err' && grep -q 'Run with --resume to finish it' '$TMP/r2c.err'"
check "--resume finishes and --verify passes" \
	"$MIGRATE" --from "$src" --to "$(conn m_resume)" --collections flushed_l2 --resume --verify 2>/dev/null \
	>"$TMP/r3.out"
check "after resume: 2932 records, state done, HNSW index built" \
	test "$(sql m_resume "SELECT m.records_done || ' ' || m.state || ' ' || (SELECT count(*) FROM pg_indexes WHERE schemaname = 'chroma_records' AND indexdef LIKE '%hnsw%') FROM chroma.migrations m")" = "2932 done 1"
check "a finished copy is not copied again" \
	bash -c "'$MIGRATE' --from '$src' --to '$(conn m_resume)' --collections flushed_l2 2>/dev/null | grep -q 'nothing to do'"
check "--replace copies again (verify passes)" \
	"$MIGRATE" --from "$src" --to "$(conn m_resume)" --collections flushed_l2 --replace --verify >/dev/null 2>&1
sql m_resume "SELECT chroma.create_collection('taken'); SELECT chroma.add('taken', '{x}', ARRAY['[1,2]']::vector[])" >/dev/null
cp -r "$TMP/dirs/spaces" "$TMP/spaces2"
check "a non-empty collection of the same name is refused" \
	bash -c "sqlite3 '$TMP/spaces2/chroma.sqlite3' \"UPDATE collections SET name = 'taken' WHERE name = 'space_l2'\" && ! '$MIGRATE' --from '$TMP/spaces2' --to '$(conn m_resume)' >/dev/null 2>'$TMP/r4.err' && grep -q 'already exists in the target with 1 records' '$TMP/r4.err'"

# 4. damaged sources: an error naming the file, nothing written
newdb m_bad
mkdir -p "$TMP/bad1" "$TMP/bad2" "$TMP/bad3"
head -c 60000 "$TMP/dirs/history/chroma.sqlite3" >"$TMP/bad1/chroma.sqlite3"
check "truncated chroma.sqlite3: error names the file" \
	bash -c "! '$MIGRATE' --from '$TMP/bad1' --to '$(conn m_bad)' >/dev/null 2>'$TMP/b1.err' && grep -q 'bad1/chroma.sqlite3' '$TMP/b1.err'"
cp "$TMP/dirs/history/chroma.sqlite3" "$TMP/bad2/"
# three more migrations than 1.0 has: 19, which no Chroma release has
sqlite3 "$TMP/bad2/chroma.sqlite3" "INSERT INTO migrations SELECT dir, version + 100, filename, sql, hash FROM migrations LIMIT 3"
check "unknown schema version: refused" \
	bash -c "! '$MIGRATE' --from '$TMP/bad2' --to '$(conn m_bad)' >/dev/null 2>'$TMP/b2.err' && grep -q 'unknown schema version' '$TMP/b2.err'"
cp -r "$TMP/dirs/flushed/." "$TMP/bad3/"
pk=$(find "$TMP/bad3" -name index_metadata.pickle | head -n 1)
printf '\x80\x03}q\x00(X' >"$pk"
check "damaged index_metadata.pickle: error names it" \
	bash -c "! '$MIGRATE' --from '$TMP/bad3' --to '$(conn m_bad)' >/dev/null 2>'$TMP/b3.err' && grep -q 'index_metadata.pickle' '$TMP/b3.err'"
mkdir -p "$TMP/bad4" "$TMP/bad5" "$TMP/bad6"
cp -r "$TMP/dirs/flushed/." "$TMP/bad4/"
dl=$(find "$TMP/bad4" -name data_level0.bin -size +100k | head -n 1)
truncate -s 50000 "$dl"
check "truncated data_level0.bin: error names it" \
	bash -c "! '$MIGRATE' --from '$TMP/bad4' --to '$(conn m_bad)' >/dev/null 2>'$TMP/b4.err' && grep -q 'data_level0.bin' '$TMP/b4.err'"
cp -r "$TMP/dirs/flushed/." "$TMP/bad5/"
sqlite3 "$TMP/bad5/chroma.sqlite3" "UPDATE collections SET dimension = 31 WHERE name = 'flushed_l2'"
check "HNSW vectors of another dimension than the collection's: refused" \
	bash -c "! '$MIGRATE' --from '$TMP/bad5' --to '$(conn m_bad)' >/dev/null 2>'$TMP/b5.err' && grep -q 'header.bin: vectors of 32 dimensions, but collection \"flushed_l2\" has 31' '$TMP/b5.err'"
cp -r "$TMP/dirs/history/." "$TMP/bad6/"
sqlite3 "$TMP/bad6/chroma.sqlite3" "UPDATE embeddings_queue SET vector = X'0000803F' WHERE id = 'h000'"
check "a logged vector of another dimension: refused, naming the record" \
	bash -c "! '$MIGRATE' --from '$TMP/bad6' --to '$(conn m_bad)' >/dev/null 2>'$TMP/b6.err' && grep -q 'chroma.sqlite3: record \"h000\" (log entry [0-9]*) has 1 dimensions, but its collection \"history\" has 6' '$TMP/b6.err'"
sqlite3 "$TMP/bad6/chroma.sqlite3" "UPDATE embeddings_queue SET vector = X'00000000000000' WHERE id = 'h000'"
check "a logged vector of 7 bytes: refused" \
	bash -c "! '$MIGRATE' --from '$TMP/bad6' --to '$(conn m_bad)' >/dev/null 2>'$TMP/b7.err' && grep -q 'has 7 bytes, not a multiple of 4' '$TMP/b7.err'"
mkdir -p "$TMP/bad7"
newdb m_bad7
cp -r "$TMP/dirs/history/." "$TMP/bad7/"
sqlite3 "$TMP/bad7/chroma.sqlite3" "UPDATE embedding_metadata SET string_value = CAST(X'68C328' AS TEXT) WHERE key = 'chroma:document' AND id = (SELECT min(id) FROM embedding_metadata WHERE key = 'chroma:document')"
check "a document that is not UTF-8: refused, naming the record" \
	bash -c "! '$MIGRATE' --from '$TMP/bad7' --to '$(conn m_bad7)' --collections history >/dev/null 2>'$TMP/b8.err' && grep -q 'chroma.sqlite3: record \"h000\" has a document that is not valid UTF-8' '$TMP/b8.err'"
mkdir -p "$TMP/bad8"
newdb m_bad8
cp -r "$FIXTURES/Groww_Mutual_Funds/." "$TMP/bad8/"
chmod -R u+w "$TMP/bad8"
sqlite3 "$TMP/bad8/chroma.sqlite3" "INSERT INTO embedding_metadata_array (id, key, string_value) VALUES ((SELECT min(id) FROM embeddings), CAST(X'6B0078797A78797A78797A78797A78797A78797A' AS TEXT), 'v')"
check "an array metadata key with a NUL byte inside: refused, naming the record" \
	bash -c "! '$MIGRATE' --from '$TMP/bad8' --to '$(conn m_bad8)' >/dev/null 2>'$TMP/b9.err' && grep -q 'metadata of record .* has a key that is not valid UTF-8 or contains a NUL byte' '$TMP/b9.err'"
check "the batch with the bad document was not written (the copy stays 'copying', empty)" \
	test "$(sql m_bad7 "SELECT m.state || ' ' || m.records_done || ' ' || (SELECT count(*) FROM chroma_records.\"$(sql m_bad7 'SELECT collection FROM chroma.migrations')\") FROM chroma.migrations m")" = "copying 0 0"
check "damaged sources wrote no records" \
	test "$(sql m_bad "SELECT count(*) FROM chroma.migrations WHERE records_done > 0")" = 0
check "--dry-run writes nothing" \
	bash -c "'$MIGRATE' --from '$TMP/dirs/spaces' --dry-run >/dev/null 2>&1 && [ \$(psql -X -At -d m_bad -c 'SELECT count(*) FROM chroma.collections') = 0 ]"

# 5. catch-up after changes on the server
if node make_dirs.mjs "$TMP/dirs" --changes --only history,tenants,flushed \
	--port "${CHROMA_PORT:-18241}" >"$TMP/changes.log" 2>&1; then
	ok "make_dirs.mjs --changes changed history, tenants, flushed"
else
	fail "make_dirs.mjs --changes"; tail -20 "$TMP/changes.log"
fi
# a write in Postgres since the copy: undone by the catch-up
sql m_tenants "SET chroma.tenant = 'acme'; SET chroma.database = 'prod';
	SELECT chroma.delete('shared', ids => '{acme-prod-10}');
	SELECT chroma.add('shared', '{stray}', ARRAY['[1,2,3,4]']::vector[])" >/dev/null
for s in history tenants flushed; do
	if "$MIGRATE" --from "$TMP/dirs/$s" --to "$(conn "m_$s")" --catch-up --verify --batch 700 \
		>"$TMP/cu_$s.out" 2>"$TMP/cu_$s.err"; then
		ok "$s: caught up, verify passed ($(tail -n 1 "$TMP/cu_$s.out"))"
	else
		fail "$s: vecq-migrate --catch-up"; grep -v '^{"event' "$TMP/cu_$s.err" | tail -5
	fi
	if node check_migrated.mjs "$TMP/dirs/$s/expected.json" "$(conn "m_$s")" >"$TMP/cu_$s.check" 2>&1; then
		ok "$s: after catch-up vecq answers as the changed server did ($(tail -n 1 "$TMP/cu_$s.check"))"
	else
		fail "$s: check_migrated after catch-up"; grep -v '^ok' "$TMP/cu_$s.check" | tail -8
	fi
done
# the last line about collection $2 in catch-up $1's output, without its
# time and how it compared (which how() gives)
caught() { grep -F "collection $2: " "$TMP/cu_$1.out" | grep -v '^  ' | tail -n 1 | sed 's/ in [0-9.]* s:/:/; s/\( unchanged\) ([^()]*)$/\1/'; }
how() { grep -F "collection $2: caught up" "$TMP/cu_$1.out" | tail -n 1 | sed 's/.* (\([^()]*\))$/\1/; s/entry [0-9]*/entry N/'; }
check "history: 6 added, 5 updated, 2 deleted, h001 moved to the end" \
	test "$(caught history default_tenant/default_database/history)" = \
	"collection default_tenant/default_database/history: caught up: 6 added, 5 updated, 2 deleted, 1 moved to the end, 32 unchanged"
check "flushed_l2: 1200 added (a new flush), 20 updated, 29 deleted" \
	test "$(caught flushed default_tenant/default_database/flushed_l2)" = \
	"collection default_tenant/default_database/flushed_l2: caught up: 1200 added, 20 updated, 29 deleted, 0 moved to the end, 2883 unchanged"
check "flushed_cosine: the record deleted and added again moved" \
	test "$(caught flushed default_tenant/default_database/flushed_cosine)" = \
	"collection default_tenant/default_database/flushed_cosine: caught up: 0 added, 0 updated, 0 deleted, 1 moved to the end, 1096 unchanged"
check "flushed_twice: unchanged log position, no record read" \
	test "$(caught flushed default_tenant/default_database/flushed_twice)" = \
	"collection default_tenant/default_database/flushed_twice: no records changed since the last copy (log position 6290, 1993 records)"
check "acme/prod/shared: the write made in Postgres undone" \
	test "$(caught tenants acme/prod/shared)" = \
	"collection acme/prod/shared: caught up: 1 added, 1 updated, 3 deleted, 0 moved to the end, 8 unchanged"
check "history and flushed_cosine caught up from the log, flushed_l2 (flushed since) by comparing all" \
	test "$(how history default_tenant/default_database/history); $(how flushed default_tenant/default_database/flushed_cosine); $(how flushed default_tenant/default_database/flushed_l2)" \
	= "from the log: 14 ids touched after entry N; from the log: 1 id touched after entry N; compared every record"
check "the write in Postgres was noticed after the logged catch-up, and everything compared" \
	bash -c "grep -q 'acme/prod/shared: the copy was written to in PostgreSQL since; comparing every record' '$TMP/cu_tenants.out' &&
		[ \"\$(grep -c 'acme/prod/shared: caught up' '$TMP/cu_tenants.out')\" = 1 ]"
check "the renamed collection renamed, the empty one filled, the new one copied" \
	bash -c "grep -q 'acme/staging/shared_renamed: renamed from \"shared\"' '$TMP/cu_tenants.out' &&
		grep -q 'acme/staging/nothing_here: caught up: 3 added' <(sed 's/ in [0-9.]* s:/:/' '$TMP/cu_tenants.out') &&
		grep -q 'acme/new_db/brand_new: 2 records, 2 dimensions, space ip' '$TMP/cu_tenants.out'"
check "nothing_here: its HNSW index built once its dimension is known" \
	test "$(sql m_tenants "SELECT count(*) FROM pg_indexes i JOIN chroma.collections c ON i.tablename = c.id::text WHERE c.name = 'nothing_here' AND i.indexdef LIKE '%USING hnsw%'")" = 1
for s in history tenants flushed; do
	"$MIGRATE" --from "$TMP/dirs/$s" --to "$(conn "m_$s")" --catch-up >"$TMP/cu2_$s.out" 2>/dev/null
	check "$s: a second catch-up finds nothing to do" \
		bash -c "! grep -q 'caught up in' '$TMP/cu2_$s.out' && grep -q '^copied 0 collections' '$TMP/cu2_$s.out'"
done
check "--catch-up and --replace together are refused" \
	bash -c "! '$MIGRATE' --from '$TMP/dirs/history' --to '$(conn m_history)' --catch-up --replace >/dev/null 2>'$TMP/cr.err' && grep -q 'cannot be used together' '$TMP/cr.err'"

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
