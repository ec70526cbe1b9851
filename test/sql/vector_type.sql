-- The vector type: typmods, tables, storage, NULLs.

SELECT format_type('vector'::regtype, NULL), format_type('vector'::regtype, 3);
SELECT typname, typlen, typstorage, typalign FROM pg_type WHERE typname = 'vector';

CREATE TABLE items (id int PRIMARY KEY, embedding vector(3));
\d items
INSERT INTO items VALUES (1, '[1,2,3]'), (2, '[4,5,6]'), (3, NULL);
SELECT * FROM items ORDER BY id;

-- a column's typmod is enforced on insert and update: 22000
INSERT INTO items VALUES (4, '[1,2]');
\echo :SQLSTATE
INSERT INTO items VALUES (4, '[1,2,3,4]');
\echo :SQLSTATE
UPDATE items SET embedding = '[1]' WHERE id = 1;
\echo :SQLSTATE
UPDATE items SET embedding = embedding || '[1]' WHERE id = 1;
\echo :SQLSTATE

-- typmod coercion by cast
SELECT '[1,2,3]'::vector::vector(3);
SELECT '[1,2,3]'::vector::vector(2);
\echo :SQLSTATE

-- typmod range: 22023
SELECT '[1]'::vector(0);
\echo :SQLSTATE
SELECT '[1]'::vector(-1);
\echo :SQLSTATE
SELECT '[1]'::vector(16001);
\echo :SQLSTATE
SELECT '[1]'::vector(1, 2);
\echo :SQLSTATE
SELECT '[1]'::vector('a');
\echo :SQLSTATE
CREATE TABLE bad (v vector(16001));
\echo :SQLSTATE
CREATE TABLE big (v vector(16000));
DROP TABLE big;

-- unconstrained columns accept any dimension
CREATE TABLE mixed (v vector);
INSERT INTO mixed VALUES ('[1]'), ('[1,2]'), ('[1,2,3,4,5]');
SELECT v, vector_dims(v) FROM mixed ORDER BY vector_dims(v);

-- large vectors are stored out of line uncompressed and read back intact
CREATE TABLE wide (id int, v vector(2000));
INSERT INTO wide SELECT 1, array_agg(i)::real[]::vector FROM generate_series(1, 2000) i;
SELECT vector_dims(v), pg_column_size(v), (v::real[])[1999:2000] FROM wide;
SELECT pg_relation_size(reltoastrelid) > 0 AS toasted
FROM pg_class WHERE relname = 'wide';

-- NULLs: every function is strict
SELECT l2_distance(NULL, '[1]'), vector_dims(NULL), vector_norm(NULL),
       '[1]'::vector <-> NULL IS NULL AS op_null;

-- the functions' volatility, strictness, parallel safety and leakproofness
SELECT p.oid::regprocedure::text AS function, p.provolatile, p.proisstrict, p.proparallel, p.proleakproof
FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.classid = 'pg_proc'::regclass
JOIN pg_extension e ON d.refobjid = e.oid AND e.extname = 'vecq'
WHERE p.prokind = 'f' AND p.pronamespace <> 'chroma'::regnamespace
ORDER BY 1;
SELECT aggfnoid::regprocedure::text AS aggregate, aggcombinefn, proparallel
FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid
WHERE aggtranstype = 'float8[]'::regtype AND aggfinalfn::text LIKE 'vector_%'
ORDER BY 1;

DROP TABLE items, mixed, wide;
