-- The Chroma API in SQL: results as rows, errors and their SQLSTATEs,
-- filters (including hostile keys and values, and a fuzz run), SQL
-- embedding functions, and tenant isolation through the functions and the
-- tables under them.  The conformance against a real Chroma server is in
-- test/chroma.

\set SHOW_CONTEXT never

-- try(statement): "ok", or the error as SQLSTATE: message | detail
CREATE FUNCTION try(stmt text) RETURNS text
	LANGUAGE plpgsql
	AS $$
DECLARE
	s text;
	m text;
	d text;
BEGIN
	EXECUTE stmt;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS s = RETURNED_SQLSTATE, m = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL;
	RETURN s || ': ' || m || coalesce(' | ' || nullif(d, ''), '');
END
$$;

SELECT chroma.current_tenant(), chroma.current_database();
SELECT name FROM chroma.get_tenant('default_tenant');
SELECT name, tenant FROM chroma.list_databases();

-- collections
SELECT name, space, dimension, configuration, metadata
FROM chroma.create_collection('docs', '{"topic": "fruit"}', '{"hnsw": {"space": "cosine", "ef_search": 40}}');
SELECT name, space FROM chroma.create_collection('legacy', '{"hnsw:space": "ip"}');
SELECT name, space FROM chroma.get_or_create_collection('legacy');
SELECT name FROM chroma.list_collections() ORDER BY name;
SELECT chroma.count_collections();
SELECT name, configuration -> 'hnsw' ->> 'ef_search' AS ef_search, metadata
FROM chroma.modify_collection('legacy', new_name => 'renamed', new_metadata => '{"x": 1}',
							  new_configuration => '{"hnsw": {"ef_search": 64}}');
SELECT chroma.get_collection_json('renamed') - 'id';

-- errors: SQLSTATE, our message, Chroma's text in the detail
SELECT try($$SELECT chroma.create_collection('docs')$$);
SELECT try($$SELECT chroma.create_collection('a')$$);
SELECT try($$SELECT chroma.create_collection('ab..cd')$$);
SELECT try($$SELECT chroma.get_collection('nothere')$$);
SELECT try($$SELECT chroma.create_collection('spaces', configuration => '{"hnsw": {"space": "hamming"}}')$$);
SELECT try($$SELECT chroma.create_collection('params', configuration => '{"hnsw": {"max_neighbors": 0}}')$$);
SELECT try($$SELECT chroma.create_collection('params', configuration => '{"hnsw": {"bogus": 1}}')$$);
SELECT try($$SELECT chroma.modify_collection('renamed', new_metadata => '{"hnsw:space": "l2"}')$$);
SELECT try($$SELECT chroma.modify_collection('renamed', new_configuration => '{"hnsw": {"max_neighbors": 8}}')$$);
SELECT try($$SELECT chroma.create_tenant('ab')$$);
SELECT try($$SELECT chroma.create_tenant('default_tenant')$$);
SELECT try($$SELECT chroma.get_database('nothere')$$);

-- records: rows and JSON
SELECT chroma.add('docs', '{a,b,c,d}',
				  ARRAY['[1,0,0]', '[0.9,0.1,0]', '[0,1,0]', '[0,0,1]']::vector[],
				  ARRAY['{"color": "red", "n": 1}', '{"color": "green", "n": 2.5}',
						'{"color": "red", "n": 3, "ok": true}', NULL]::jsonb[],
				  '{"an apple", "a pear", "the cherry", "no fruit"}');
SELECT * FROM chroma.get('docs');
SELECT id, embedding, uri FROM chroma.get('docs', include => '{embeddings,uris}');
SELECT * FROM chroma.query('docs', ARRAY['[1,0,0.1]', '[0,0.5,2]']::vector[], 2);
SELECT chroma.query_json('docs', ARRAY['[1,0,0.1]']::vector[], 3, include => '{distances}');
SELECT chroma.get_json('docs', "where" => '{"color": "red"}', include => '{}');
SELECT chroma.peek_json('docs', 1);
SELECT chroma.count('docs');
SELECT dimension FROM chroma.get_collection('docs');
-- the collection's index: cosine opclass, m 16, ef_construction 100
SELECT pg_get_indexdef(i.indexrelid) ~ 'USING hnsw \(embedding vector_cosine_ops\) WITH \(m=''16'', ef_construction=''100''\)' AS hnsw_index
FROM chroma.collections c JOIN pg_index i ON i.indrelid = ('chroma_records.' || quote_ident(c.id::text))::regclass
WHERE c.name = 'docs' AND i.indexrelid::regclass::text LIKE '%embedding%';

SELECT try($$SELECT chroma.add('docs', '{e}', ARRAY['[1,0]']::vector[])$$);
SELECT try($$SELECT chroma.add('docs', '{e,e}', ARRAY['[1,0,0]', '[1,0,0]']::vector[])$$);
SELECT try($$SELECT chroma.add('docs', '{e,f}', ARRAY['[1,0,0]']::vector[])$$);
SELECT try($$SELECT chroma.add('docs', '{e}', ARRAY['[1,0,0]']::vector[], ARRAY['{"nested": {"a": 1}}']::jsonb[])$$);
SELECT try($$SELECT chroma.add('docs', '{e}', documents => '{"no embedding"}')$$);
SELECT try($$SELECT * FROM chroma.get('docs', include => '{distances}')$$);
SELECT try($$SELECT * FROM chroma.query('docs', ARRAY['[1,0,0,0]']::vector[])$$);
SELECT try($$SELECT * FROM chroma.query('docs', ARRAY['[1,0,0]']::vector[], -1)$$);

-- update / upsert / delete
SELECT chroma.update('docs', '{a,zz}', metadatas => ARRAY['{"n": null, "size": "big"}', '{"q": 1}']::jsonb[]);
SELECT chroma.upsert('docs', '{b,g}', ARRAY['[0,0.5,0.5]', '[0.5,0.5,0]']::vector[], documents => '{"B", "G"}');
SELECT id, document, metadata FROM chroma.get('docs');
SELECT chroma.delete('docs', "where" => '{"color": {"$in": ["green", "blue"]}}');
SELECT chroma.delete('docs', where_document => '{"$contains": "cherry"}');
SELECT id FROM chroma.get('docs');

-- numbers: integers, floats (1.0 written in SQL stays a float), booleans
SELECT name FROM chroma.create_collection('nums');
SELECT chroma.add('nums', '{i1,f1,f15,t,s}', ARRAY['[1]', '[2]', '[3]', '[4]', '[5]']::vector[],
				  ARRAY['{"v": 1}', '{"v": 1.0}', '{"v": 1.5}', '{"v": true}', '{"v": "1"}']::jsonb[]);
SELECT f AS "where", ARRAY(SELECT id FROM chroma.get('nums', "where" => f::jsonb)) AS ids
FROM unnest(ARRAY['{"v": 1}', '{"v": 1.0}', '{"v": 1.5}', '{"v": true}', '{"v": "1"}',
				  '{"v": {"$gt": 1}}', '{"v": {"$gte": 1.2}}', '{"v": {"$lt": 1.5}}',
				  '{"v": {"$ne": 1}}', '{"v": {"$nin": [1.5, 2]}}', '{"v": {"$in": [true]}}']) f;

-- hostile keys, values and patterns are data, never SQL
SELECT chroma.add('nums', '{q}', ARRAY['[6]']::vector[],
				  ARRAY['{"it''s": "x''); DROP TABLE chroma.collections; --"}']::jsonb[],
				  ARRAY['quote '' and backslash \ here']);
SELECT id FROM chroma.get('nums', "where" => '{"it''s": "x''); DROP TABLE chroma.collections; --"}');
SELECT id FROM chroma.get('nums', "where" => '{"it''s": {"$ne": "\\"}}');
SELECT id FROM chroma.get('nums', where_document => '{"$contains": "'' and backslash \\"}');
SELECT id FROM chroma.get('nums', where_document => '{"$regex": "quote ''.*\\\\"}');
SELECT id FROM chroma.get('nums', ids => ARRAY['q'')--', 'q']);
SELECT try($$SELECT id FROM chroma.get('nums', where_document => '{"$regex": "(unclosed"}')$$);
SELECT count(*) AS collections_left FROM chroma.collections;

-- an SQL embedding function: documents without embeddings, query_texts
CREATE FUNCTION toy_embed(doc text) RETURNS vector
	LANGUAGE sql IMMUTABLE
	AS $$ SELECT ARRAY[length(doc), strpos(doc, 'a'), 1]::real[]::vector $$;
SELECT name FROM chroma.create_collection('embedded', embedding_function => 'toy_embed');
SELECT chroma.add('embedded', '{x,y}', documents => '{"banana", "kiwi fruit"}');
SELECT id, embedding, document FROM chroma.get('embedded', include => '{embeddings,documents}');
SELECT query_index, id, distance FROM chroma.query('embedded', query_texts => '{"bananas"}', n_results => 1);

-- delete a collection: catalog row and table go
SELECT ('chroma_records.' || quote_ident(id::text))::regclass IS NOT NULL AS table_exists
FROM chroma.get_collection('embedded') \gset
SELECT id AS embedded_id FROM chroma.get_collection('embedded') \gset
SELECT chroma.delete_collection('embedded');
SELECT to_regclass('chroma_records.' || quote_ident(:'embedded_id')) AS table_after_delete;

-- databases: collections are named per database
SELECT chroma.create_database('second_db');
SET chroma.database = 'second_db';
SELECT chroma.count_collections();
SELECT name FROM chroma.create_collection('docs');
SELECT chroma.add('docs', '{only}', ARRAY['[1,2]']::vector[]);
RESET chroma.database;
SELECT chroma.count('docs');
SELECT chroma.delete_database('second_db');
SELECT count(*) AS second_db_collections FROM chroma.collections WHERE database = 'second_db';

--
-- Tenant isolation: roles bound to Chroma tenants with vecq.map_role
--
CREATE ROLE regress_chroma_acme;
CREATE ROLE regress_chroma_globex;
CREATE ROLE regress_chroma_nobody;
SELECT chroma.create_tenant('acme');
SELECT chroma.create_tenant('globex');
SELECT chroma.create_database('default_database', 'acme');
SELECT chroma.create_database('default_database', 'globex');
SELECT vecq.map_role('regress_chroma_acme', 'acme');
SELECT vecq.map_role('regress_chroma_globex', 'globex');

SET ROLE regress_chroma_acme;
SELECT chroma.current_tenant();
SELECT name FROM chroma.create_collection('secrets');
SELECT chroma.add('secrets', '{s1,s2}', ARRAY['[1,0]', '[0,1]']::vector[],
				  ARRAY['{"level": "top"}', '{"level": "low"}']::jsonb[], '{"acme plan", "acme memo"}');
SELECT id, document FROM chroma.get('secrets');
SELECT id AS acme_secrets FROM chroma.get_collection('secrets') \gset
-- the default tenant is not acme's
SELECT name FROM chroma.list_collections();
RESET ROLE;

SET ROLE regress_chroma_globex;
SELECT chroma.current_tenant();
-- acme's collection does not exist for globex
SELECT chroma.get_collection('secrets');
SELECT chroma.count('secrets');
SELECT count(*) FROM chroma.collections;
SELECT count(*) FROM chroma.tenants WHERE name = 'acme';
-- nor do its records, through the table
SELECT count(*) FROM chroma_records.:"acme_secrets";
UPDATE chroma_records.:"acme_secrets" SET document = 'owned';
DELETE FROM chroma_records.:"acme_secrets";
SELECT left(try(format($$INSERT INTO chroma_records.%I (id, embedding) VALUES ('planted', '[1,1]')$$,
					 :'acme_secrets')), 5) AS insert_error;
-- naming acme's tenant does not help
SET chroma.tenant = 'acme';
SELECT chroma.get_collection('secrets');
SELECT chroma.create_collection('intruder');
RESET chroma.tenant;
-- a collection of the same name in globex's own tenant is another one
SELECT name FROM chroma.create_collection('secrets');
SELECT chroma.count('secrets');
-- the owner-side helper only makes tables match the catalog
SELECT chroma._sync_collection(:'acme_secrets');
-- nor can globex rewrite the catalog row of acme's collection
UPDATE chroma.collections SET tenant = 'globex' WHERE id = :'acme_secrets';
RESET ROLE;

-- a role without a tenant sees no Chroma data at all
SET ROLE regress_chroma_nobody;
SELECT chroma.current_tenant();
SELECT chroma.count_collections();
SELECT chroma.get_collection('docs');
SELECT count(*) FROM chroma.collections;
RESET ROLE;

SET ROLE regress_chroma_acme;
SELECT id, document FROM chroma.get('secrets');
SELECT id FROM chroma.query('secrets', ARRAY['[1,0.1]']::vector[], 5);
RESET ROLE;

SELECT tenant, name FROM chroma.collections ORDER BY tenant, name;

-- cleanup
SET ROLE regress_chroma_acme;
SELECT chroma.delete_collection('secrets');
RESET ROLE;
SET ROLE regress_chroma_globex;
SELECT chroma.delete_collection('secrets');
RESET ROLE;
SELECT vecq.unmap_role('regress_chroma_acme');
SELECT vecq.unmap_role('regress_chroma_globex');
DROP ROLE regress_chroma_acme, regress_chroma_globex, regress_chroma_nobody;

--
-- Fuzzing the filter compiler: 4,000 random where / where_document
-- expressions, well-formed and not (wrong types, unknown operators, empty
-- lists, deep nesting, odd keys), run against the collection.  Every
-- outcome must be rows or a 22023 error; anything else is a bug.
--
SELECT setseed(0.4242);
CREATE FUNCTION fuzz_value() RETURNS jsonb LANGUAGE sql VOLATILE AS $$
	SELECT (ARRAY['1', '2.5', '-3', '"red"', '"x''y"', 'true', 'false', 'null', '[]', '[1, 2]',
				  '["red", "green"]', '[1, "a"]', '{}', '{"$eq": 1}', '1e308', '"\\"', '""',
				  '[true]', '12345678901234567890'])[1 + floor(random() * 19)::int]::jsonb
$$;
CREATE FUNCTION fuzz_where(depth int) RETURNS jsonb LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	r float8 := random();
	keys text[] := ARRAY['color', 'n', 'ok', 'missing', '$and', '$or', '$in', '', 'it''s', '$eq'];
	ops text[] := ARRAY['$eq', '$ne', '$gt', '$gte', '$lt', '$lte', '$in', '$nin', '$foo',
						'$contains', '$and'];
	k text := keys[1 + floor(random() * 10)::int];
BEGIN
	IF depth > 0 AND r < 0.3 THEN
		RETURN jsonb_build_object(CASE WHEN random() < 0.5 THEN '$and' ELSE '$or' END,
			(SELECT jsonb_agg(fuzz_where(depth - 1)) FROM generate_series(1, floor(random() * 4)::int)));
	ELSIF r < 0.45 THEN
		RETURN jsonb_build_object(k, fuzz_value());
	ELSIF r < 0.9 THEN
		RETURN jsonb_build_object(k, jsonb_build_object(ops[1 + floor(random() * 11)::int], fuzz_value()));
	ELSIF r < 0.95 THEN
		RETURN jsonb_build_object(k, 1) || jsonb_build_object('n', 2);
	END IF;
	RETURN fuzz_value();
END
$$;
CREATE FUNCTION fuzz_doc(depth int) RETURNS jsonb LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	r float8 := random();
	ops text[] := ARRAY['$contains', '$not_contains', '$regex', '$not_regex', '$and', '$or', '$eq'];
	pats text[] := ARRAY['a', 'the', '', '(', '[a-z]+', '\\', '''', '.*', 'x{2,1}', 'ch.rry'];
BEGIN
	IF depth > 0 AND r < 0.3 THEN
		RETURN jsonb_build_object(CASE WHEN random() < 0.5 THEN '$and' ELSE '$or' END,
			(SELECT jsonb_agg(fuzz_doc(depth - 1)) FROM generate_series(1, floor(random() * 4)::int)));
	ELSIF r < 0.85 THEN
		RETURN jsonb_build_object(ops[1 + floor(random() * 7)::int], to_jsonb(pats[1 + floor(random() * 10)::int]));
	END IF;
	RETURN fuzz_value();
END
$$;
CREATE TEMP TABLE fuzz_outcome (kind text, what text);
DO $$
DECLARE
	w jsonb;
	d jsonb;
	n int;
BEGIN
	FOR i IN 1 .. 4000 LOOP
		w := CASE WHEN i % 2 = 0 THEN fuzz_where(3) END;
		d := CASE WHEN i % 3 = 0 THEN fuzz_doc(3) END;
		BEGIN
			SELECT count(*) INTO n FROM chroma.get('docs', "where" => w, where_document => d);
			INSERT INTO fuzz_outcome VALUES ('rows', NULL);
			SELECT count(*) INTO n FROM chroma.query('docs', ARRAY['[1,0,0]']::vector[], 2,
													 "where" => w, where_document => d);
		EXCEPTION WHEN OTHERS THEN
			INSERT INTO fuzz_outcome VALUES (SQLSTATE, SQLERRM || ' for ' || coalesce(w::text, '-') || ' / ' || coalesce(d::text, '-'));
		END;
	END LOOP;
END
$$;
SELECT kind, count(*) FROM fuzz_outcome GROUP BY kind ORDER BY kind;
-- anything but rows and 22023 (none expected)
SELECT kind, what FROM fuzz_outcome WHERE kind NOT IN ('rows', '22023') LIMIT 5;
SELECT count(*) AS runs FROM fuzz_outcome;
SELECT count(*) AS collections_intact FROM chroma.collections;
DROP FUNCTION fuzz_value(), fuzz_where(int), fuzz_doc(int);

SELECT chroma.delete_collection(name) FROM chroma.list_collections();
DROP FUNCTION toy_embed(text), try(text);
SELECT count(*) AS record_tables_left FROM pg_class WHERE relnamespace = 'chroma_records'::regnamespace AND relkind = 'r';
