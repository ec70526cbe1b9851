-- HNSW with quantization = 'sq8' and 'bit': options, exact re-ranking, clamping,
-- every opclass against exact answers, sizes, builds and maintenance.

SELECT setseed(0.17);
CREATE TABLE items (id int PRIMARY KEY, v vector(24));
INSERT INTO items
  SELECT i, (SELECT array_agg((random() * 2 - 1 + (i % 5) * 0.3 + 0 * j)::float4) FROM generate_series(1, 24) j)::vector
  FROM generate_series(1, 3000) i;
CREATE TABLE queries (id int PRIMARY KEY, v vector(24));
INSERT INTO queries
  SELECT i, (SELECT array_agg((random() * 2 - 1 + (i % 5) * 0.3 + 0 * j)::float4) FROM generate_series(1, 24) j)::vector
  FROM generate_series(1, 20) i;
ANALYZE items;

-- options
CREATE INDEX bad ON items USING hnsw (v vector_l2_ops) WITH (quantization = 'int4');
CREATE INDEX bad ON items USING hnsw (v vector_l2_ops) WITH (quantization = '');
CREATE INDEX items_sq8 ON items USING hnsw (v vector_l2_ops) WITH (quantization = 'sq8', m = 8);
SELECT reloptions FROM pg_class WHERE relname = 'items_sq8';
SELECT * FROM vecq_index_check('items_sq8', true);

-- the planner uses it like any hnsw index
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY v <-> '[1,2,3,4,5,6,7,8,1,2,3,4,5,6,7,8,1,2,3,4,5,6,7,8]' LIMIT 10;

-- every query: how many of the index's top 10 are in the exact top 10
-- (ties count), and whether they come in exact distance order (the
-- executor re-ranks rows by the distance computed from the heap)
CREATE FUNCTION check_exact(op text, k int DEFAULT 10, tbl text DEFAULT 'items',
                            qtbl text DEFAULT 'queries') RETURNS TABLE (recall numeric, ordered bool)
LANGUAGE plpgsql AS $$
DECLARE
  q record;
  hits int := 0;
  ord bool := true;
  ids int[];
  ds float8[];
  kth float8;
BEGIN
  FOR q IN EXECUTE format('SELECT * FROM %I ORDER BY id', qtbl) LOOP
    SET LOCAL enable_seqscan = off;
    EXECUTE format('SELECT array_agg(id ORDER BY n), array_agg(d ORDER BY n) FROM
                    (SELECT id, v %s $1 AS d, row_number() OVER () AS n FROM
                      (SELECT id, v FROM %I ORDER BY v %s $1 LIMIT %s) s) t', op, tbl, op, k)
      INTO ids, ds USING q.v;
    SET LOCAL enable_seqscan = on;
    SET LOCAL enable_indexscan = off;
    EXECUTE format('SELECT max(d) FROM (SELECT (v %s $1) AS d FROM %I ORDER BY 1 LIMIT %s) e', op, tbl, k)
      INTO kth USING q.v;
    EXECUTE format('SELECT count(*) FROM %I WHERE id = ANY($2) AND v %s $1 <= $3', tbl, op)
      INTO STRICT hits USING q.v, ids, kth;
    SET LOCAL enable_indexscan = on;
    FOR i IN 2 .. coalesce(array_length(ds, 1), 0) LOOP
      ord := ord AND ds[i] >= ds[i - 1];
    END LOOP;
    recall := coalesce(recall, 0) + hits;
  END LOOP;
  recall := round(recall / (20.0 * k), 2);
  ordered := ord;
  RETURN NEXT;
END $$;
SET hnsw.ef_search = 60;
SELECT * FROM check_exact('<->');
DROP INDEX items_sq8;
CREATE INDEX items_sq8 ON items USING hnsw (v vector_ip_ops) WITH (quantization = 'sq8');
SELECT * FROM check_exact('<#>');
DROP INDEX items_sq8;
CREATE INDEX items_sq8 ON items USING hnsw (v vector_cosine_ops) WITH (quantization = 'sq8');
SELECT * FROM check_exact('<=>');
DROP INDEX items_sq8;
CREATE INDEX items_sq8 ON items USING hnsw (v vector_l1_ops) WITH (quantization = 'sq8');
SELECT * FROM check_exact('<+>');
DROP INDEX items_sq8;

-- rows whose codes are all equal still come back in exact order: one row
-- far away stretches the range so that the others share code 0 in every
-- dimension; without re-ranking the order among them would be arbitrary.
-- (All codes being equal, neither the graph nor the re-ranking window can
-- tell the rows apart: ef_search and the window cover them all.)
CREATE TABLE close (id int, v vector(3));
INSERT INTO close SELECT i, ARRAY[i * 0.001, 0, 0]::float4[]::vector FROM generate_series(1, 200) i;
INSERT INTO close VALUES (0, '[1000,1000,1000]');
CREATE INDEX close_sq8 ON close USING hnsw (v vector_l2_ops) WITH (quantization = 'sq8');
SET enable_seqscan = off;
SET hnsw.ef_search = 300;
SET vecq.rescore_factor = 30;
SELECT id, round((v <-> '[0.0502,0,0]')::numeric, 4) AS d FROM close ORDER BY v <-> '[0.0502,0,0]' LIMIT 6;
SELECT id FROM close ORDER BY v <-> '[0.1999,0,0]' LIMIT 3;
-- the same under EXPLAIN ANALYZE: the executor rechecks the order
EXPLAIN (COSTS OFF, ANALYZE, TIMING OFF, SUMMARY OFF) SELECT id FROM close ORDER BY v <-> '[0.0502,0,0]' LIMIT 6;
RESET enable_seqscan;

-- vecq.rescore_factor: re-ranking window of rescore_factor * 10 rows (at most ef_search)
RESET vecq.rescore_factor;
SHOW vecq.rescore_factor;
SET vecq.rescore_factor = 0;
SET vecq.rescore_factor = 1000;
-- a window of 20 rows: among rows that all share one code, the first
-- rows returned are the nearest of those re-ranked first, not of all
SET vecq.rescore_factor = 2;
SET enable_seqscan = off;
SELECT count(*) FROM (SELECT id FROM close ORDER BY v <-> '[0.0502,0,0]' LIMIT 3) s WHERE id IN (49, 50, 51);
SET vecq.rescore_factor = 30;
SELECT id FROM close ORDER BY v <-> '[0.1999,0,0]' LIMIT 3;
-- rows the scan's snapshot does not see are not returned
BEGIN;
DELETE FROM close WHERE id IN (200, 199);
SELECT id FROM close ORDER BY v <-> '[0.1999,0,0]' LIMIT 3;
ROLLBACK;
RESET enable_seqscan;
RESET vecq.rescore_factor;
SET hnsw.ef_search = 60;
DROP TABLE close;

-- an expression index: the expression is evaluated on each re-ranked row
CREATE TABLE expr (id int, a float4[]);
INSERT INTO expr SELECT i, ARRAY[i, i % 7, 0] FROM generate_series(1, 500) i;
CREATE INDEX expr_sq8 ON expr USING hnsw ((a::vector(3)) vector_l2_ops) WITH (quantization = 'sq8');
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM expr ORDER BY a::vector(3) <-> '[250,3,0]' LIMIT 3;
SELECT id, a::vector(3) <-> '[250,3,0]' AS d FROM expr ORDER BY a::vector(3) <-> '[250,3,0]' LIMIT 3;
RESET enable_seqscan;
DROP TABLE expr;

-- filtered scans: iterative scans return k rows in order
CREATE INDEX items_sq8 ON items USING hnsw (v vector_l2_ops) WITH (quantization = 'sq8');
SET enable_seqscan = off;
SET hnsw.ef_search = 10;
SELECT count(*), bool_and(d >= prev) AS ordered FROM (
  SELECT d, lag(d, 1, 0::float8) OVER (ORDER BY n) AS prev FROM (
    SELECT row_number() OVER () AS n, v <-> (SELECT v FROM queries WHERE id = 3) AS d
    FROM (SELECT v FROM items WHERE id % 7 = 0 ORDER BY v <-> (SELECT v FROM queries WHERE id = 3) LIMIT 50) s) t) u;
SET hnsw.iterative_scan = off;
SELECT count(*) <= 10 AS at_most_ef FROM (SELECT id FROM items WHERE id % 7 = 0 ORDER BY v <-> '[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]' LIMIT 50) s;
RESET hnsw.iterative_scan;
SET hnsw.ef_search = 60;
RESET enable_seqscan;

-- inserts, deletes and vacuum keep it exact
DELETE FROM items WHERE id % 3 = 0;
VACUUM items;
SELECT recall >= 0.95 AS good_recall, ordered FROM check_exact('<->');
INSERT INTO items
  SELECT i, (SELECT array_agg((random() * 2 - 1 + (i % 5) * 0.3 + 0 * j)::float4) FROM generate_series(1, 24) j)::vector
  FROM generate_series(3001, 4000) i;
SELECT recall >= 0.95 AS good_recall, ordered FROM check_exact('<->');
SELECT * FROM vecq_index_check('items_sq8', true);
-- values outside the learned ranges are clamped: such rows are still found
-- and ranked exactly, and vecq_index_check says how many there are
INSERT INTO items VALUES
  (5001, array_fill(9::float4, ARRAY[24])::vector),
  (5002, array_fill(-9::float4, ARRAY[24])::vector),
  (5003, array_fill(9.5::float4, ARRAY[24])::vector);
SELECT * FROM vecq_index_check('items_sq8');
SET enable_seqscan = off;
SELECT id, round((v <-> array_fill(9.2::float4, ARRAY[24])::vector)::numeric, 3) AS d
  FROM items ORDER BY v <-> array_fill(9.2::float4, ARRAY[24])::vector LIMIT 3;
SELECT id FROM items ORDER BY v <-> array_fill(-8::float4, ARRAY[24])::vector LIMIT 1;
RESET enable_seqscan;
REINDEX INDEX items_sq8;
SELECT * FROM vecq_index_check('items_sq8');
SELECT recall >= 0.95 AS good_recall, ordered FROM check_exact('<->');
DROP INDEX items_sq8;

-- a parallel build shares the ranges with its workers
SET min_parallel_table_scan_size = 0;
SET max_parallel_maintenance_workers = 2;
CREATE INDEX items_sq8 ON items USING hnsw (v vector_l2_ops) WITH (quantization = 'sq8');
SELECT recall >= 0.95 AS good_recall, ordered FROM check_exact('<->');
SELECT * FROM vecq_index_check('items_sq8', true);
DROP INDEX items_sq8;
RESET max_parallel_maintenance_workers;
RESET min_parallel_table_scan_size;

-- an index built on an empty table uses the range [-1, 1]; rows outside
-- it are clamped until REINDEX learns their ranges
CREATE TABLE late (id int, v vector(4));
CREATE INDEX late_sq8 ON late USING hnsw (v vector_l2_ops) WITH (quantization = 'sq8');
INSERT INTO late SELECT i, ARRAY[cos(i), sin(i), i % 3, 0.5]::float4[]::vector FROM generate_series(1, 300) i;
SELECT * FROM vecq_index_check('late_sq8');
SET enable_seqscan = off;
SELECT id, round((v <-> '[1,0,2,0.5]')::numeric, 4) AS d FROM late ORDER BY v <-> '[1,0,2,0.5]' LIMIT 4;
RESET enable_seqscan;
SELECT id, round((v <-> '[1,0,2,0.5]')::numeric, 4) AS d FROM late ORDER BY v <-> '[1,0,2,0.5]' LIMIT 4;
-- unlogged: the init fork holds the metapage and the default ranges
CREATE UNLOGGED TABLE ul (id int, v vector(4));
CREATE INDEX ul_sq8 ON ul USING hnsw (v vector_l2_ops) WITH (quantization = 'sq8');
INSERT INTO ul SELECT i, ARRAY[i * 0.01, 0, 0, 0]::float4[]::vector FROM generate_series(1, 50) i;
SET enable_seqscan = off;
SELECT id FROM ul ORDER BY v <-> '[0.255,0,0,0]' LIMIT 3;
RESET enable_seqscan;
DROP TABLE late, ul;

-- size: codes take a quarter of the vector's bytes
CREATE TABLE wide (id int, v vector(512));
INSERT INTO wide SELECT i, (SELECT array_agg(random()::float4) FROM generate_series(1, 512) WHERE i > 0)::vector
  FROM generate_series(1, 1000) i;
CREATE INDEX wide_none ON wide USING hnsw (v vector_l2_ops);
CREATE INDEX wide_sq8 ON wide USING hnsw (v vector_l2_ops) WITH (quantization = 'sq8');
SELECT round(pg_relation_size('wide_sq8')::numeric / pg_relation_size('wide_none'), 1) AS size_ratio;
DROP TABLE wide;
-- 16000 dimensions: codes on overflow pages
CREATE TABLE widest (id int, v vector(16000));
INSERT INTO widest SELECT i, array_fill(i::float4, ARRAY[16000])::vector FROM generate_series(1, 5) i;
CREATE INDEX widest_sq8 ON widest USING hnsw (v vector_l2_ops) WITH (quantization = 'sq8');
INSERT INTO widest VALUES (6, array_fill(6::float4, ARRAY[16000])::vector);
SELECT * FROM vecq_index_check('widest_sq8', true);
SET enable_seqscan = off;
SELECT id FROM widest ORDER BY v <-> array_fill(4.4::float4, ARRAY[16000])::vector LIMIT 3;
RESET enable_seqscan;
DROP TABLE widest;

-- quantization = 'bit': one bit per dimension (L1: mean-centred; the
-- others: of the rotated residual, dimensions padded to a power of two), no
-- bound, so rows come out after a window of rescore_factor * 10 re-ranked
-- candidates.
-- Bits suit many dimensions: 256 here, 20 clusters with noise.
SELECT setseed(0.11);
CREATE TABLE b256 (id int, v vector(256));
INSERT INTO b256 SELECT i, (SELECT array_agg((sin(i % 20 * 7 + j) + (random() - 0.5) * 0.8)::float4)
  FROM generate_series(1, 256) j WHERE i > 0)::vector FROM generate_series(1, 3000) i;
CREATE TABLE b256q (id int, v vector(256));
INSERT INTO b256q SELECT i, (SELECT array_agg((sin(i % 20 * 7 + j) + (random() - 0.5) * 0.8)::float4)
  FROM generate_series(1, 256) j WHERE i > 0)::vector FROM generate_series(1, 20) i;
CREATE INDEX b256_bit ON b256 USING hnsw (v vector_l2_ops) WITH (quantization = 'bit');
SELECT reloptions FROM pg_class WHERE relname = 'b256_bit';
SELECT * FROM vecq_index_check('b256_bit', true);
-- the bits alone (a window of 10, ef_search 10) find few of the nearest;
-- re-ranking 200 candidates finds them, in exact order
SET hnsw.ef_search = 10;
SET vecq.rescore_factor = 1;
SELECT recall < 0.5 AS bits_alone_poor, ordered FROM check_exact('<->', 10, 'b256', 'b256q');
SET hnsw.ef_search = 200;
SET vecq.rescore_factor = 20;
SELECT recall >= 0.95 AS good_recall, ordered FROM check_exact('<->', 10, 'b256', 'b256q');
-- L2, inner product and cosine code rotated residuals of k-means
-- centroids (RaBitQ's estimator): the default factor and ef_search 40
-- re-rank 40 candidates and find most neighbours (0.89 here; the
-- mean-centred bits that L1 keeps find 0.41 so)
SET hnsw.ef_search = 40;
SET vecq.rescore_factor = 4;
SELECT recall >= 0.85 AS fair_recall, ordered FROM check_exact('<->', 10, 'b256', 'b256q');
SET hnsw.ef_search = 200;
SET vecq.rescore_factor = 20;
DROP INDEX b256_bit;
CREATE INDEX b256_bit ON b256 USING hnsw (v vector_ip_ops) WITH (quantization = 'bit');
-- (inner product on data that is not normalized suits bits less)
SELECT recall >= 0.75 AS fair_recall, ordered FROM check_exact('<#>', 10, 'b256', 'b256q');
DROP INDEX b256_bit;
CREATE INDEX b256_bit ON b256 USING hnsw (v vector_cosine_ops) WITH (quantization = 'bit');
SELECT recall >= 0.95 AS good_recall, ordered FROM check_exact('<=>', 10, 'b256', 'b256q');
DROP INDEX b256_bit;
CREATE INDEX b256_bit ON b256 USING hnsw (v vector_l1_ops) WITH (quantization = 'bit');
SELECT recall >= 0.95 AS good_recall, ordered FROM check_exact('<+>', 10, 'b256', 'b256q');
DROP INDEX b256_bit;
-- inserts after the build; a parallel build
CREATE INDEX b256_bit ON b256 USING hnsw (v vector_l2_ops) WITH (quantization = 'bit');
INSERT INTO b256 SELECT 3000 + id, v FROM b256q;
VACUUM b256;
SELECT * FROM vecq_index_check('b256_bit', true);
SET enable_seqscan = off;
SELECT count(*) FROM (SELECT id FROM b256 ORDER BY v <-> (SELECT v FROM b256q WHERE id = 3) LIMIT 1) s
  WHERE id = 3003;
RESET enable_seqscan;
DROP INDEX b256_bit;
SET min_parallel_table_scan_size = 0;
SET max_parallel_maintenance_workers = 2;
CREATE INDEX b256_bit ON b256 USING hnsw (v vector_l2_ops) WITH (quantization = 'bit');
SELECT recall >= 0.95 AS good_recall, ordered FROM check_exact('<->', 10, 'b256', 'b256q');
SELECT * FROM vecq_index_check('b256_bit', true);
RESET max_parallel_maintenance_workers;
RESET min_parallel_table_scan_size;
RESET vecq.rescore_factor;
SET hnsw.ef_search = 60;
-- size against full precision at 768 dimensions (m = 16): under 0.12
CREATE TABLE wide2 (id int, v vector(768));
INSERT INTO wide2 SELECT i, (SELECT array_agg(sin(i * j)::float4) FROM generate_series(1, 768) j)::vector
  FROM generate_series(1, 400) i;
CREATE INDEX wide2_none ON wide2 USING hnsw (v vector_l2_ops);
CREATE INDEX wide2_bit ON wide2 USING hnsw (v vector_l2_ops) WITH (quantization = 'bit');
SELECT pg_relation_size('wide2_bit')::numeric / pg_relation_size('wide2_none') < 0.12 AS under_012;
DROP TABLE wide2;
-- an index built on an empty (unlogged) table: centres 0, spreads 1/sqrt(dim)
CREATE UNLOGGED TABLE ul_bit (id int, v vector(256));
CREATE INDEX ul_bit_v ON ul_bit USING hnsw (v vector_l2_ops) WITH (quantization = 'bit');
INSERT INTO ul_bit SELECT * FROM b256 WHERE id <= 500;
VACUUM ul_bit;
SELECT * FROM vecq_index_check('ul_bit_v', true);
DROP TABLE ul_bit, b256, b256q;

DROP TABLE items, queries;
DROP FUNCTION check_exact(text, int, text, text);

-- a re-ranking scan reads each candidate's vector from its row; a TOAST
-- pointer it read is not fetched again by the executor's distance of the
-- returned row (vector_arg.c): every distance must be the row's own
CREATE TABLE tq (id int PRIMARY KEY, v vector(600), h halfvec(1200));
INSERT INTO tq SELECT i, (SELECT array_agg(sin(i * 0.37 + j * 1.3)::real)
                          FROM generate_series(1, 600) j)::vector,
                         (SELECT array_agg(cos(i * 0.41 + j * 0.9)::real)
                          FROM generate_series(1, 1200) j)::halfvec
FROM generate_series(1, 300) i;
CREATE INDEX tq_v ON tq USING hnsw (v vector_l2_ops) WITH (quantization = 'sq8');
CREATE INDEX tq_h ON tq USING hnsw (h halfvec_ip_ops) WITH (quantization = 'bit');
BEGIN;
SET LOCAL enable_seqscan = off;
SET LOCAL hnsw.ef_search = 100;
SELECT count(*) AS rows,
       count(*) FILTER (WHERE op = 'v' AND d = v::text::vector <-> qv::text::vector
                          OR op = 'h' AND d = h::text::halfvec <#> qh::text::halfvec) AS exact
FROM (SELECT 'v' AS op, q.v AS qv, q.h AS qh, s.* FROM tq q,
             LATERAL (SELECT v, h, v <-> q.v AS d FROM tq ORDER BY v <-> q.v LIMIT 5) s
      WHERE q.id <= 20
      UNION ALL
      SELECT 'h', q.v, q.h, s.* FROM tq q,
             LATERAL (SELECT v, h, h <#> q.h AS d FROM tq ORDER BY h <#> q.h LIMIT 5) s
      WHERE q.id <= 20) x;
COMMIT;
DROP TABLE tq;
