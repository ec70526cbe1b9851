-- halfvec: IEEE binary16 elements, pgvector's formats and functions

-- text input and output
SELECT '[1,2.5,3]'::halfvec;
SELECT '  [ 1 , -2.25 ,3e2 ]  '::halfvec;
SELECT '[1,2,3]'::halfvec(3);
-- rounding to the nearest half, ties to even; output is the float4 value
SELECT '[0.1,0.2,3.14159,1000.3]'::halfvec;
SELECT '[2049,2051,2053,1.00048828125,1.00146484375]'::halfvec AS ties;
SELECT '[65504,65519.99,-65519]'::halfvec AS largest;
SELECT '[6e-8,2.9e-8,3e-8,1e-10,6.1035156e-5,-0]'::halfvec AS tiny;
-- output reads back to the same halfvec
SELECT v, v::text::halfvec = v AS round_trip
  FROM (VALUES ('[0.1,-0.3333,12345.6,1e-7]'::halfvec)) t(v);

-- malformed input: 22P02
SELECT '[1,2'::halfvec;
\echo :SQLSTATE
SELECT '1,2]'::halfvec;
\echo :SQLSTATE
SELECT '[1,,2]'::halfvec;
\echo :SQLSTATE
SELECT '[1 2]'::halfvec;
\echo :SQLSTATE
SELECT '[1,2] x'::halfvec;
\echo :SQLSTATE
SELECT ''::halfvec;
\echo :SQLSTATE
SELECT '[a]'::halfvec;
\echo :SQLSTATE
-- no dimensions, NaN, infinity: 22000
SELECT '[]'::halfvec;
\echo :SQLSTATE
SELECT '[NaN]'::halfvec;
\echo :SQLSTATE
SELECT '[1,inf]'::halfvec;
\echo :SQLSTATE
SELECT '[-Infinity]'::halfvec;
\echo :SQLSTATE
-- beyond a half's range once rounded, or beyond float4's: 22003
SELECT '[65520]'::halfvec;
\echo :SQLSTATE
SELECT '[1,-70000,2]'::halfvec;
\echo :SQLSTATE
SELECT '[1e39]'::halfvec;
\echo :SQLSTATE
-- elements are checked in order: the first bad one is reported
SELECT '[1e5,x]'::halfvec;
\echo :SQLSTATE
-- too many dimensions: 54000
SELECT array_fill(1, ARRAY[16001])::halfvec;
\echo :SQLSTATE
SELECT vector_dims(array_fill(1, ARRAY[16000])::halfvec);

-- typmod
SELECT '[1,2]'::halfvec(3);
\echo :SQLSTATE
CREATE TABLE hv_typmod (v halfvec(0));
\echo :SQLSTATE
CREATE TABLE hv_typmod (v halfvec(16001));
\echo :SQLSTATE
CREATE TABLE hv_typmod (v halfvec(2, 3));
\echo :SQLSTATE
CREATE TABLE hv_typmod (v halfvec(2));
INSERT INTO hv_typmod VALUES ('[1,2]'), (NULL);
INSERT INTO hv_typmod VALUES ('[1,2,3]');
\echo :SQLSTATE
SELECT format_type(atttypid, atttypmod) FROM pg_attribute
  WHERE attrelid = 'hv_typmod'::regclass AND attname = 'v';
SELECT v FROM hv_typmod ORDER BY v;
DROP TABLE hv_typmod;

-- binary output: int16 dim, int16 unused, then the halves' bits
SELECT halfvec_send('[1,-2,0.5,65504,6e-8,-0]'::halfvec);
-- binary round trip through COPY
CREATE TABLE hv_bin (id int, v halfvec);
INSERT INTO hv_bin VALUES (1, '[1,-2,0.099975586]'), (2, '[65504,-65504,5.9604645e-8]'), (3, NULL);
COPY hv_bin TO '/tmp/vecq_halfvec_regress.bin' (FORMAT binary);
CREATE TABLE hv_bin2 (LIKE hv_bin);
COPY hv_bin2 FROM '/tmp/vecq_halfvec_regress.bin' (FORMAT binary);
SELECT a.id, a.v, a.v IS NOT DISTINCT FROM b.v AS same
  FROM hv_bin a JOIN hv_bin2 b USING (id) ORDER BY a.id;
-- a halfvec file read as vector is refused (its elements are too short)
CREATE TABLE hv_bin3 (id int, v vector);
COPY hv_bin3 FROM '/tmp/vecq_halfvec_regress.bin' (FORMAT binary);
\echo :SQLSTATE
DROP TABLE hv_bin, hv_bin2, hv_bin3;

-- distances
SELECT '[1,2,3]'::halfvec <-> '[4,6,8]' AS l2,
       l2_distance('[1,2,3]'::halfvec, '[4,6,8]') AS l2_fn,
       halfvec_l2_squared_distance('[1,2,3]', '[4,6,8]') AS l2_sq,
       l2_squared_distance('[1,2,3]'::halfvec, '[4,6,8]') AS l2_sq_fn;
SELECT '[1,2,3]'::halfvec <#> '[4,5,6]' AS neg_ip,
       inner_product('[1,2,3]'::halfvec, '[4,5,6]') AS ip;
SELECT '[1,2]'::halfvec <=> '[2,4]' AS cos_same_dir,
       '[1,0]'::halfvec <=> '[0,1]' AS cos_orthogonal,
       '[1,1]'::halfvec <=> '[-1,-1]' AS cos_opposite,
       cosine_distance('[3,4]'::halfvec, '[4,3]') AS cos_fn;
SELECT '[1,-2,3]'::halfvec <+> '[-1,2,-3]' AS l1,
       l1_distance('[1,-2,3]'::halfvec, '[-1,2,-3]') AS l1_fn;
-- large elements: sums in double, no overflow
SELECT '[65504,-65504]'::halfvec <-> '[-65504,65504]' AS l2_big,
       inner_product('[65504,65504]'::halfvec, '[65504,65504]') AS ip_big;
-- the same values as vector gives on the widened elements
SELECT bool_and(h <-> g = h::vector <-> g::vector AND h <#> g = h::vector <#> g::vector
                AND h <+> g = h::vector <+> g::vector) AS same_as_vector
  FROM (VALUES ('[0.1,0.2,0.3]'::halfvec, '[0.3,-0.2,7.5]'::halfvec),
               ('[1000,2,-3]', '[-1,1e-5,3]')) t(h, g);
-- zero vectors: cosine distance is NaN
SELECT '[0,0]'::halfvec <=> '[1,1]' AS cos_zero, '[0,0]'::halfvec <=> '[0,0]' AS cos_both_zero;
-- dimension mismatch: 22000
SELECT '[1,2]'::halfvec <-> '[1,2,3]';
\echo :SQLSTATE
SELECT inner_product('[1,2]'::halfvec, '[1,2,3]');
\echo :SQLSTATE
SELECT '[1,2]'::halfvec <=> '[1,2,3]';
\echo :SQLSTATE
SELECT '[1,2]'::halfvec <+> '[1,2,3]';
\echo :SQLSTATE
-- NULLs
SELECT NULL::halfvec <-> '[1]', '[1]'::halfvec <=> NULL, l2_norm(NULL::halfvec) IS NULL AS norm_null;

-- functions
SELECT vector_dims('[1,2,3]'::halfvec), l2_norm('[3,4]'::halfvec);
SELECT l2_normalize('[3,4]'::halfvec), l2_normalize('[0,0,0]'::halfvec), l2_normalize('[-65504]'::halfvec);
SELECT binary_quantize('[1,-2,0,0.001,-0,3,-1,2,5]'::halfvec);
SELECT subvector('[1,2,3,4,5]'::halfvec, 2, 3), subvector('[1,2,3,4,5]'::halfvec, 4, 10),
       subvector('[1,2,3,4,5]'::halfvec, -1, 3);
SELECT subvector('[1,2,3,4,5]'::halfvec, 6, 1);
\echo :SQLSTATE
SELECT subvector('[1,2,3,4,5]'::halfvec, 1, 0);
\echo :SQLSTATE

-- arithmetic: in float4, rounded to a half
SELECT '[1,2,3]'::halfvec + '[0.5,0.25,-3]' AS add,
       '[1,2,3]'::halfvec - '[0.5,0.25,-3]' AS sub,
       '[1,2,3]'::halfvec * '[0.5,0.25,-3]' AS mul;
SELECT '[2048]'::halfvec + '[1]' AS rounds_to_even, '[0.1]'::halfvec * '[3]' AS mul_rounded;
SELECT '[1,2]'::halfvec || '[3]' AS concat;
SELECT '[65504]'::halfvec + '[32]';
\echo :SQLSTATE
SELECT '[300,1]'::halfvec * '[300,1]';
\echo :SQLSTATE
SELECT '[0.0001]'::halfvec * '[0.0001]';
\echo :SQLSTATE
SELECT '[1,2]'::halfvec + '[1]';
\echo :SQLSTATE
SELECT array_fill(1, ARRAY[16000])::halfvec || '[1]'::halfvec;
\echo :SQLSTATE

-- comparisons and the btree opclass (numeric order, -0 = 0, shorter first)
SELECT '[1,2]'::halfvec < '[1,3]' AS lt, '[1,2]'::halfvec <= '[1,2]' AS le,
       '[0]'::halfvec = '[-0]' AS zeros_equal, '[1,2]'::halfvec <> '[1,2,3]' AS ne,
       '[1,2,3]'::halfvec > '[1,2]' AS gt, '[2]'::halfvec >= '[1,9]' AS ge,
       halfvec_cmp('[1,2]', '[1,2]') AS cmp;
-- 0.1 and 0.09996 round to the same half, 0.10001 to the next one
SELECT '[0.1]'::halfvec = '[0.09996]'::halfvec AS same_half,
       '[0.1]'::halfvec < '[0.10001]'::halfvec AS next_half;
CREATE TABLE hv_order (v halfvec);
INSERT INTO hv_order VALUES ('[2]'), ('[1,5]'), ('[-1]'), ('[1]'), ('[-0]'), ('[0]'), (NULL), ('[1,-5]');
CREATE INDEX ON hv_order (v);
SET enable_seqscan = off;
SELECT v FROM hv_order WHERE v >= '[0]' ORDER BY v;
RESET enable_seqscan;
-- hashing: -0 and 0 in one group
SET enable_sort = off;
SELECT v, count(*) FROM hv_order WHERE v IS NOT NULL GROUP BY v ORDER BY v;
RESET enable_sort;
DROP TABLE hv_order;

-- casts
SELECT '[1,2.5,0.1]'::vector::halfvec AS from_vector, '[1,2.5,0.1]'::halfvec::vector AS to_vector;
SELECT ARRAY[1,2,3]::halfvec AS int4, ARRAY[1.5,0.1]::real[]::halfvec AS float4,
       ARRAY[1.5,0.1]::float8[]::halfvec AS float8, ARRAY[1.5,0.1]::numeric[]::halfvec AS numeric;
SELECT '[1,0.1]'::halfvec::real[] AS to_real;
SELECT ARRAY[1,2]::halfvec(2), '[1,2]'::vector::halfvec(2);
SELECT '[1,2]'::vector::halfvec(3);
\echo :SQLSTATE
SELECT '[70000]'::vector::halfvec;
\echo :SQLSTATE
SELECT ARRAY[65520]::halfvec;
\echo :SQLSTATE
SELECT ARRAY[1e300]::float8[]::halfvec;
\echo :SQLSTATE
SELECT ARRAY['NaN']::real[]::halfvec;
\echo :SQLSTATE
SELECT ARRAY[1,NULL]::halfvec;
\echo :SQLSTATE
SELECT ARRAY[[1,2],[3,4]]::halfvec;
\echo :SQLSTATE
SELECT ARRAY[]::int[]::halfvec;
\echo :SQLSTATE
SELECT ARRAY['1']::text[]::halfvec;
\echo :SQLSTATE
-- assignment casts: vector into a halfvec column and back
CREATE TABLE hv_cast (h halfvec(2), v vector(2));
INSERT INTO hv_cast VALUES ('[1,0.1]'::vector, '[3,0.3]'::halfvec);
SELECT h, v FROM hv_cast;
DROP TABLE hv_cast;

-- aggregates
SELECT avg(v), sum(v) FROM (VALUES ('[1,2]'::halfvec), ('[3,5]'), (NULL)) t(v);
SELECT avg(v) IS NULL AS avg_empty, sum(v) IS NULL AS sum_empty FROM (SELECT '[1]'::halfvec WHERE false) t(v);
SELECT avg(v) FROM (VALUES ('[0.1]'::halfvec), ('[0.2]'), ('[0.4]')) t(v);
-- sums are kept in double: only the result must fit
SELECT sum(v) FROM (VALUES ('[60000]'::halfvec), ('[60000]'), ('[-60000]')) t(v);
SELECT sum(v) FROM (VALUES ('[60000]'::halfvec), ('[60000]')) t(v);
\echo :SQLSTATE
SELECT avg(v) FROM (VALUES ('[1,2]'::halfvec), ('[3]')) t(v);
\echo :SQLSTATE

-- HNSW: every opclass, index scans against exact results
SELECT setseed(0.42);
CREATE TABLE hv_items (id int PRIMARY KEY, v halfvec(16));
INSERT INTO hv_items
  SELECT i, (SELECT array_agg(random() * 2 - 1) FROM generate_series(1, 16) WHERE i > 0)::halfvec
  FROM generate_series(1, 2000) i;
INSERT INTO hv_items VALUES (0, array_fill(0, ARRAY[16])::halfvec);
CREATE TABLE hv_queries (qid int, q halfvec(16));
INSERT INTO hv_queries
  SELECT i, (SELECT array_agg(random() * 2 - 1) FROM generate_series(1, 16) WHERE i > 0)::halfvec
  FROM generate_series(1, 20) i;

CREATE INDEX hv_l2 ON hv_items USING hnsw (v halfvec_l2_ops);
CREATE INDEX hv_ip ON hv_items USING hnsw (v halfvec_ip_ops);
CREATE INDEX hv_cos ON hv_items USING hnsw (v halfvec_cosine_ops);
CREATE INDEX hv_l1 ON hv_items USING hnsw (v halfvec_l1_ops) WITH (m = 8, ef_construction = 32);
SELECT count(*) AS problems FROM vecq_index_check('hv_l2', true);
SELECT count(*) AS problems FROM vecq_index_check('hv_cos', true);
SET hnsw.ef_search = 100;
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM hv_items ORDER BY v <-> '[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]' LIMIT 10;
EXPLAIN (COSTS OFF) SELECT id FROM hv_items ORDER BY v <#> '[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]' LIMIT 10;
EXPLAIN (COSTS OFF) SELECT id FROM hv_items ORDER BY v <=> '[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]' LIMIT 10;
EXPLAIN (COSTS OFF) SELECT id FROM hv_items ORDER BY v <+> '[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]' LIMIT 10;

-- recall@10 of the index against a sequential scan, per metric, and the
-- distances the index returns are the operator's
CREATE FUNCTION hv_recall(op text) RETURNS TABLE (recall numeric, same_distances bool)
LANGUAGE plpgsql AS $$
DECLARE
	r record;
	hits int := 0;
	total int := 0;
	same bool := true;
	idx int[];
	exact int[];
	idxd float8[];
	exactd float8[];
BEGIN
	FOR r IN SELECT qid, q FROM hv_queries ORDER BY qid LOOP
		SET LOCAL enable_seqscan = off;
		SET LOCAL enable_indexscan = on;
		EXECUTE format('SELECT array_agg(id), array_agg(d) FROM (SELECT id, v %s $1 AS d FROM hv_items ORDER BY v %s $1 LIMIT 10) s', op, op)
			INTO idx, idxd USING r.q;
		SET LOCAL enable_seqscan = on;
		SET LOCAL enable_indexscan = off;
		EXECUTE format('SELECT array_agg(id), array_agg(d) FROM (SELECT id, v %s $1 AS d FROM hv_items ORDER BY v %s $1, id LIMIT 10) s', op, op)
			INTO exact, exactd USING r.q;
		hits := hits + (SELECT count(*) FROM unnest(idx) i WHERE i = ANY (exact));
		total := total + 10;
		-- where the ids agree, so do the distances, exactly
		IF idx = exact AND idxd IS DISTINCT FROM exactd THEN
			same := false;
		END IF;
	END LOOP;
	RETURN QUERY SELECT round(hits::numeric / total, 2), same;
END $$;
SELECT 'l2' AS metric, recall >= 0.95 AS recall_ok, same_distances FROM hv_recall('<->')
UNION ALL SELECT 'ip', recall >= 0.95, same_distances FROM hv_recall('<#>')
UNION ALL SELECT 'cosine', recall >= 0.95, same_distances FROM hv_recall('<=>')
UNION ALL SELECT 'l1', recall >= 0.95, same_distances FROM hv_recall('<+>');

-- the zero vector is not in the cosine index (its distance is NaN)
SELECT count(*) FILTER (WHERE id = 0) AS zero_returned, count(*) AS returned
  FROM (SELECT id FROM hv_items ORDER BY v <=> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' LIMIT 3000) s;
SELECT v <=> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' AS zero_cosine FROM hv_items WHERE id = 0;

-- inserts after the build, deletes, vacuum
INSERT INTO hv_items VALUES (5000, '[9,9,9,9,9,9,9,9,9,9,9,9,9,9,9,9]');
SELECT id FROM hv_items ORDER BY v <-> '[9,9,9,9,9,9,9,9,9,9,9,9,9,9,9,8]' LIMIT 1;
DELETE FROM hv_items WHERE id = 5000;
VACUUM hv_items;
SELECT id FROM hv_items ORDER BY v <-> '[9,9,9,9,9,9,9,9,9,9,9,9,9,9,9,8]' LIMIT 1;
SELECT count(*) AS problems FROM vecq_index_check('hv_l2', true);
-- the column must have dimensions
CREATE TABLE hv_anydim (v halfvec);
CREATE INDEX ON hv_anydim USING hnsw (v halfvec_l2_ops);
\echo :SQLSTATE
DROP TABLE hv_anydim;
-- a halfvec opclass on a vector column (and the reverse) is refused
CREATE TABLE hv_wrong (v vector(2), h halfvec(2));
CREATE INDEX ON hv_wrong USING hnsw (v halfvec_l2_ops);
\echo :SQLSTATE
CREATE INDEX ON hv_wrong USING hnsw (h vector_l2_ops);
\echo :SQLSTATE
DROP TABLE hv_wrong;

-- l2/ip/l1 elements hold halves: about half the index of the same data as
-- vector (cosine elements hold float4 unit vectors: the same size)
CREATE TABLE hv_size_h (v halfvec(256));
CREATE TABLE hv_size_v (v vector(256));
INSERT INTO hv_size_h
  SELECT (SELECT array_agg(random() * 2 - 1) FROM generate_series(1, 256) WHERE i > 0)::halfvec
  FROM generate_series(1, 500) i;
INSERT INTO hv_size_v SELECT v::vector FROM hv_size_h;
CREATE INDEX hv_size_hl2 ON hv_size_h USING hnsw (v halfvec_l2_ops);
CREATE INDEX hv_size_vl2 ON hv_size_v USING hnsw (v vector_l2_ops);
CREATE INDEX hv_size_hcos ON hv_size_h USING hnsw (v halfvec_cosine_ops);
CREATE INDEX hv_size_vcos ON hv_size_v USING hnsw (v vector_cosine_ops);
SELECT pg_relation_size('hv_size_hl2')::float8 / pg_relation_size('hv_size_vl2') BETWEEN 0.4 AND 0.7 AS l2_about_half,
       pg_relation_size('hv_size_hcos') = pg_relation_size('hv_size_vcos') AS cosine_same;
SELECT count(*) AS problems FROM vecq_index_check('hv_size_hl2', true);
-- the same neighbours and distances as the vector index on the same values
SELECT (SELECT array_agg(v <-> q) FROM (SELECT v FROM hv_size_h ORDER BY v <-> q LIMIT 5) s) =
       (SELECT array_agg(v <-> q::vector) FROM (SELECT v FROM hv_size_v ORDER BY v <-> q::vector LIMIT 5) s) AS same_as_vector
  FROM (SELECT v AS q FROM hv_size_h LIMIT 1 OFFSET 7) t;
DROP TABLE hv_size_h, hv_size_v;

-- quantized halfvec index: re-ranked on the heap's halfvecs
DROP INDEX hv_ip, hv_cos, hv_l1;
CREATE INDEX hv_sq8 ON hv_items USING hnsw (v halfvec_l2_ops) WITH (quantization = 'sq8');
DROP INDEX hv_l2;
EXPLAIN (COSTS OFF) SELECT id FROM hv_items ORDER BY v <-> '[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]' LIMIT 10;
SELECT recall >= 0.95 AS sq8_recall_ok, same_distances FROM hv_recall('<->');

-- an expression index of a vector column cast to halfvec (pgvector's way
-- of indexing vectors at half size), and a halfvec index with a key column
CREATE TABLE hv_expr (id int, tenant int, v vector(3));
INSERT INTO hv_expr SELECT i, i % 3, ARRAY[i, i % 7, -i]::vector FROM generate_series(1, 300) i;
CREATE INDEX hv_expr_l2 ON hv_expr USING hnsw ((v::halfvec(3)) halfvec_l2_ops);
CREATE INDEX hv_expr_key ON hv_expr USING hnsw ((v::halfvec(3)) halfvec_cosine_ops, tenant);
EXPLAIN (COSTS OFF) SELECT id FROM hv_expr ORDER BY v::halfvec(3) <-> '[10,3,-10]' LIMIT 3;
SELECT id FROM hv_expr ORDER BY v::halfvec(3) <-> '[10,3,-10]' LIMIT 3;
EXPLAIN (COSTS OFF) SELECT id FROM hv_expr WHERE tenant = 1 ORDER BY v::halfvec(3) <=> '[10,3,-10]' LIMIT 3;
SELECT id, tenant FROM hv_expr WHERE tenant = 1 ORDER BY v::halfvec(3) <=> '[10,3,-10]' LIMIT 3;
SELECT count(*) AS problems FROM vecq_index_check('hv_expr_l2', true);
SELECT count(*) AS problems FROM vecq_index_check('hv_expr_key', true);
DROP TABLE hv_expr;

RESET enable_seqscan;
RESET hnsw.ef_search;
DROP FUNCTION hv_recall(text);
DROP TABLE hv_items, hv_queries;
