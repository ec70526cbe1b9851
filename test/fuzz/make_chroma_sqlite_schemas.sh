#!/bin/bash
#
# make_chroma_sqlite_schemas.sh
#	  Write the schema templates of fuzz_chroma_sqlite.c: for each schema
#	  era of the fixtures (see /work/shared/fixtures/chroma/README.md), the
#	  CREATE statements of a real chroma.sqlite3 (without the FTS5 shadow
#	  tables, which CREATE VIRTUAL TABLE makes) and its migrations rows
#	  with their sql left out (only the number of rows tells the era).
#	  Era 17 (1.3-1.4), of which no fixture exists, is era 18 without
#	  embedding_metadata_array and the migration that made it.
#
#	  usage: make_chroma_sqlite_schemas.sh FIXTURES_DIR OUT_DIR
#
# test/fuzz/make_chroma_sqlite_schemas.sh

set -euo pipefail

FIX=$1
OUT=$2
mkdir -p "$OUT"

one() {
	local era=$1 db=$2
	{
		echo "-- schema of $(basename "$(dirname "$db")")/chroma.sqlite3 ($era migrations)"
		sqlite3 "$db" .schema | awk '
			/^CREATE TABLE IF NOT EXISTS .embedding_fulltext[a-z_]*_(data|idx|content|docsize|config).\(/ { next }
			{ print }'
		sqlite3 "$db" "SELECT 'INSERT INTO migrations VALUES (' || quote(dir) || ', ' || version || ', ' ||
			quote(filename) || ', '''', ' || quote(hash) || ');' FROM migrations ORDER BY dir, version"
	} >"$OUT/era$(printf %02d "$era").sql"
}

one 5 "$FIX/chroma-core-0.4.0-empty/chroma.sqlite3"
one 7 "$FIX/Canada_Immigration_LLM/chroma.sqlite3"
one 8 "$FIX/chroma-core-multitenant/chroma.sqlite3"
one 11 "$FIX/ollama_rag/chroma.sqlite3"
one 15 "$FIX/sherpa-db/chroma.sqlite3"
one 16 "$FIX/Virtual-TA/chroma.sqlite3"
one 18 "$FIX/Philospher_ChatBot/chroma.sqlite3"

# era 17: era 18 without the metadata arrays
awk '
	/^CREATE TABLE embedding_metadata_array/ { skip = 1 }
	/^CREATE INDEX embedding_metadata_array/ { skip = 1 }
	skip && /;$/ { skip = 0; next }
	skip { next }
	/00006-metadata-array-support/ { next }
	{ sub(/\(18 migrations\)/, "(era 17: era 18 without embedding_metadata_array)"); print }
' "$OUT/era18.sql" >"$OUT/era17.sql"
