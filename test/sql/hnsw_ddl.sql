-- HNSW: index creation, options and their errors, maintenance commands.

CREATE TABLE items (id int PRIMARY KEY, embedding vector(3));
INSERT INTO items VALUES (1, '[1,0,0]'), (2, '[0,1,0]'), (3, '[0,0,1]'), (4, NULL),
  (5, '[1,1,0]'), (6, '[0,0,0]');

-- defaults, explicit options, every opclass
CREATE INDEX items_l2 ON items USING hnsw (embedding vector_l2_ops);
CREATE INDEX items_ip ON items USING hnsw (embedding vector_ip_ops) WITH (m = 4, ef_construction = 8);
CREATE INDEX items_cos ON items USING hnsw (embedding vector_cosine_ops) WITH (m = 100, ef_construction = 1000);
CREATE INDEX items_l1 ON items USING hnsw (embedding vector_l1_ops);
SELECT c.relname, c.reloptions, a.amname
  FROM pg_class c JOIN pg_am a ON a.oid = c.relam
  WHERE c.relname LIKE 'items\_%' ORDER BY c.relname;
SELECT opcname, amname FROM pg_opclass o JOIN pg_am a ON a.oid = o.opcmethod
  WHERE amname = 'hnsw' ORDER BY opcname;
-- the opclasses pass the access method's own validation
SELECT opcname, amvalidate(o.oid) FROM pg_opclass o JOIN pg_am a ON a.oid = o.opcmethod
  WHERE amname = 'hnsw' ORDER BY opcname;

-- option range errors
CREATE INDEX ON items USING hnsw (embedding vector_l2_ops) WITH (m = 1);
\echo :SQLSTATE
CREATE INDEX ON items USING hnsw (embedding vector_l2_ops) WITH (m = 101);
\echo :SQLSTATE
CREATE INDEX ON items USING hnsw (embedding vector_l2_ops) WITH (ef_construction = 3);
\echo :SQLSTATE
CREATE INDEX ON items USING hnsw (embedding vector_l2_ops) WITH (ef_construction = 1001);
\echo :SQLSTATE
CREATE INDEX ON items USING hnsw (embedding vector_l2_ops) WITH (m = 16, ef_construction = 31);
\echo :SQLSTATE
CREATE INDEX ON items USING hnsw (embedding vector_l2_ops) WITH (ef_search = 10);
\echo :SQLSTATE
CREATE INDEX ON items USING hnsw (embedding vector_l2_ops) WITH (m = 'many');
\echo :SQLSTATE
-- no default opclass; a vector then at most one key column; no unique
CREATE INDEX ON items USING hnsw (embedding);
\echo :SQLSTATE
CREATE INDEX ON items USING hnsw (embedding vector_l2_ops, id, id);
\echo :SQLSTATE
CREATE INDEX ON items USING hnsw (id, embedding vector_l2_ops);
\echo :SQLSTATE
CREATE INDEX ON items USING hnsw (embedding vector_l2_ops, embedding vector_l2_ops);
\echo :SQLSTATE
CREATE INDEX ON items USING hnsw (embedding vector_l2_ops, (id::float8));
\echo :SQLSTATE
CREATE INDEX ON items USING hnsw (embedding vector_l2_ops, id) INCLUDE (id);
\echo :SQLSTATE
CREATE UNIQUE INDEX ON items USING hnsw (embedding vector_l2_ops);
\echo :SQLSTATE
-- a column without dimensions cannot be indexed
CREATE TABLE nodim (v vector);
INSERT INTO nodim VALUES ('[1,2]');
CREATE INDEX ON nodim USING hnsw (v vector_l2_ops);
\echo :SQLSTATE
DROP TABLE nodim;

-- settings: pgvector's names, range checked
SHOW hnsw.ef_search;
SHOW hnsw.iterative_scan;
SHOW hnsw.max_scan_tuples;
SET hnsw.ef_search = 0;
\echo :SQLSTATE
SET hnsw.ef_search = 1001;
\echo :SQLSTATE
SET hnsw.iterative_scan = sideways;
\echo :SQLSTATE
SET hnsw.max_scan_tuples = -2;
\echo :SQLSTATE
SET hnsw.no_such_setting = 1;
\echo :SQLSTATE

-- the index answers ordered queries; inserts after the build are found
SET enable_seqscan = off;
INSERT INTO items VALUES (7, '[0.9,0.1,0]');
SELECT id FROM items ORDER BY embedding <-> '[1,0.05,0]' LIMIT 3;
SELECT id FROM items ORDER BY embedding <#> '[1,0.1,0]' LIMIT 3;
SELECT id FROM items ORDER BY embedding <=> '[1,0,0]' LIMIT 3;
SELECT id FROM items ORDER BY embedding <+> '[1,0.05,0]' LIMIT 3;
-- a query vector of the wrong size
SELECT id FROM items ORDER BY embedding <-> '[1,0]' LIMIT 3;
\echo :SQLSTATE
INSERT INTO items VALUES (8, '[1,2]');
\echo :SQLSTATE
-- rows with a NULL vector are not in the index
SELECT count(*) FROM (SELECT id FROM items ORDER BY embedding <-> '[0,0,0]' LIMIT 10) s;
RESET enable_seqscan;

-- REINDEX, CONCURRENTLY, DROP
REINDEX INDEX items_l2;
REINDEX TABLE items;
CREATE INDEX CONCURRENTLY items_l2_cc ON items USING hnsw (embedding vector_l2_ops);
REINDEX INDEX CONCURRENTLY items_l2_cc;
SELECT indexrelid::regclass, indisvalid FROM pg_index
  WHERE indrelid = 'items'::regclass AND indexrelid::regclass::text LIKE 'items_l2%' ORDER BY 1;
DROP INDEX CONCURRENTLY items_l2_cc;
DROP INDEX items_l2, items_ip, items_cos, items_l1;

-- empty tables: build, scan, insert into the empty index
CREATE TABLE empty (id int, v vector(2));
CREATE INDEX empty_v ON empty USING hnsw (v vector_l2_ops);
SET enable_seqscan = off;
SELECT id FROM empty ORDER BY v <-> '[0,0]' LIMIT 5;
INSERT INTO empty VALUES (1, '[1,1]');
SELECT id FROM empty ORDER BY v <-> '[0,0]' LIMIT 5;
INSERT INTO empty VALUES (2, '[0,0]'), (3, NULL);
SELECT id FROM empty ORDER BY v <-> '[0,0]' LIMIT 5;
TRUNCATE empty;
SELECT id FROM empty ORDER BY v <-> '[0,0]' LIMIT 5;
RESET enable_seqscan;

-- unlogged tables get an init fork
CREATE UNLOGGED TABLE ul (id int, v vector(2));
CREATE INDEX ON ul USING hnsw (v vector_l2_ops);
INSERT INTO ul VALUES (1, '[1,1]');
SET enable_seqscan = off;
SELECT id FROM ul ORDER BY v <-> '[0,0]' LIMIT 5;
RESET enable_seqscan;

DROP TABLE items, empty, ul;
