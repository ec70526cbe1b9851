-- The partitioned HNSW build (vecq.hnsw_partitioned_build): a graph that
-- does not fit in maintenance_work_mem is built in partitions that do.

-- deterministic clustered vectors: 16 clusters in 32 dimensions
CREATE FUNCTION pvec(i int) RETURNS vector LANGUAGE sql IMMUTABLE AS $$
  SELECT array_agg((((hashint4((i % 16) * 100 + j) & 1023) / 1023.0) * 4
                    + ((hashint4(i * 32 + j) & 65535) / 65536.0 - 0.5))::float4 ORDER BY j)::vector
  FROM generate_series(0, 31) j
$$;
CREATE TABLE pp (id int PRIMARY KEY, v vector(32), k int);
INSERT INTO pp SELECT i, pvec(i), i % 7 FROM generate_series(1, 8000) i;
ANALYZE pp;
-- queries near 50 of the rows
CREATE TABLE pp_q AS
  SELECT id, v + array_fill(0.05::float4, ARRAY[32])::vector AS v FROM pp WHERE id % 160 = 0;

-- recall@10 of the index over the queries, ties at the 10th distance counted
CREATE FUNCTION pp_recall() RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE
  q record;
  hits int := 0;
  got int;
  kth float8;
BEGIN
  FOR q IN SELECT * FROM pp_q ORDER BY id LOOP
    SET LOCAL enable_seqscan = on;
    SET LOCAL enable_indexscan = off;
    SET LOCAL enable_bitmapscan = off;
    SELECT max(d) INTO kth FROM (SELECT p.v <-> q.v AS d FROM pp p ORDER BY 1 LIMIT 10) e;
    SET LOCAL enable_indexscan = on;
    SET LOCAL enable_seqscan = off;
    SELECT count(*) INTO got FROM (SELECT v FROM pp ORDER BY v <-> q.v LIMIT 10) s
      WHERE s.v <-> q.v <= kth;
    hits := hits + got;
  END LOOP;
  RETURN round(hits / 500.0, 3);
END $$;

-- every row is in the index once: an iterative scan returns them all
CREATE FUNCTION pp_all_rows() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  n bigint;
  nd bigint;
BEGIN
  SET LOCAL enable_seqscan = off;
  SET LOCAL hnsw.iterative_scan = relaxed_order;
  SELECT count(*), count(DISTINCT id) INTO n, nd
    FROM (SELECT id FROM pp ORDER BY v <-> pvec(3) LIMIT 100000) s;
  RETURN n || ' rows, ' || nd || ' distinct';
END $$;

-- auto (the default) partitions only when a partition would hold 20,000
-- rows or more; in 1 MB it would not, so the rows past the arena are
-- inserted one at a time
SHOW vecq.hnsw_partitioned_build;
SET vecq.hnsw_partitioned_build = sometimes;
SET maintenance_work_mem = '1MB';
SET max_parallel_maintenance_workers = 0;
CREATE INDEX pp_v ON pp USING hnsw (v vector_l2_ops);
SELECT pp_recall() >= 0.98 AS inserted_recall;
DROP INDEX pp_v;

-- on: partitions, serially
SET vecq.hnsw_partitioned_build = on;
SET client_min_messages = debug1;
CREATE INDEX pp_v ON pp USING hnsw (v vector_l2_ops);
RESET client_min_messages;
SELECT * FROM vecq_index_check('pp_v', true);
SELECT pp_all_rows();
SELECT pp_recall() >= 0.98 AS partitioned_recall;
-- about the pages a build with enough memory writes (the same tuples,
-- placed in another order)
SET maintenance_work_mem = '256MB';
CREATE INDEX pp_big ON pp USING hnsw (v vector_l2_ops) WITH (m = 16);
SET maintenance_work_mem = '1MB';
SELECT abs(pg_relation_size('pp_v') - pg_relation_size('pp_big')) <= pg_relation_size('pp_big') / 50 AS about_same_size;
DROP INDEX pp_big;
-- inserts, deletes and vacuum afterwards
INSERT INTO pp SELECT i, pvec(i), i % 7 FROM generate_series(8001, 8500) i;
DELETE FROM pp WHERE id % 5 = 0;
VACUUM pp;
SELECT * FROM vecq_index_check('pp_v', true);
SELECT pp_all_rows();
DELETE FROM pp WHERE id > 8000;
INSERT INTO pp SELECT i, pvec(i), i % 7 FROM generate_series(5, 8000, 5) i;
DROP INDEX pp_v;

-- in parallel
SET max_parallel_maintenance_workers = 2;
SET min_parallel_table_scan_size = 0;
ALTER TABLE pp SET (parallel_workers = 2);
CREATE INDEX pp_v ON pp USING hnsw (v vector_l2_ops);
SELECT * FROM vecq_index_check('pp_v', true);
SELECT pp_all_rows();
SELECT pp_recall() >= 0.98 AS parallel_partitioned_recall;
DROP INDEX pp_v;
ALTER TABLE pp RESET (parallel_workers);
SET max_parallel_maintenance_workers = 0;

-- cosine, halfvec and a key column
CREATE INDEX pp_c ON pp USING hnsw (v vector_cosine_ops);
SELECT * FROM vecq_index_check('pp_c', true);
SET enable_seqscan = off;
SELECT count(*) FROM (SELECT id FROM pp ORDER BY v <=> pvec(3) LIMIT 10) s;
RESET enable_seqscan;
DROP INDEX pp_c;
CREATE INDEX pp_h ON pp USING hnsw ((v::halfvec(32)) halfvec_l2_ops);
SELECT * FROM vecq_index_check('pp_h', true);
SET enable_seqscan = off;
SELECT count(*) FROM (SELECT id FROM pp ORDER BY v::halfvec(32) <-> pvec(3)::halfvec(32) LIMIT 10) s;
RESET enable_seqscan;
DROP INDEX pp_h;
CREATE INDEX pp_k ON pp USING hnsw (v vector_l2_ops, k);
SELECT * FROM vecq_index_check('pp_k', true);
SET enable_seqscan = off;
SET vecq.key_exact_scan_limit = 0;
SELECT k, count(*) FROM (SELECT k FROM pp WHERE k = 3 ORDER BY v <-> pvec(3) LIMIT 100000) s GROUP BY k;
RESET vecq.key_exact_scan_limit;
RESET enable_seqscan;
DROP INDEX pp_k;

-- quantized formats are not partitioned (their graphs are small)
SET client_min_messages = debug1;
CREATE INDEX pp_q8 ON pp USING hnsw (v vector_l2_ops) WITH (quantization = sq8);
RESET client_min_messages;
DROP INDEX pp_q8;

-- auto with room for 20,000 rows a partition: 50,000 rows of 8 dimensions
-- do not fit in 10 MB, and are built in partitions
RESET vecq.hnsw_partitioned_build;
CREATE TABLE pa (id int, v vector(8));
INSERT INTO pa SELECT i, (SELECT array_agg(((hashint4(i * 8 + j) & 65535) / 65536.0)::float4 ORDER BY j)
                          FROM generate_series(0, 7) j)::vector
  FROM generate_series(1, 50000) i;
ANALYZE pa;
SET maintenance_work_mem = '10MB';
SET client_min_messages = debug1;
CREATE INDEX pa_v ON pa USING hnsw (v vector_l2_ops);
RESET client_min_messages;
SELECT * FROM vecq_index_check('pa_v', true);
SET enable_seqscan = off;
SET hnsw.iterative_scan = relaxed_order;
SELECT count(*), count(DISTINCT id) FROM (SELECT id FROM pa ORDER BY v <-> '[0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5]' LIMIT 100000) s;
RESET hnsw.iterative_scan;
RESET enable_seqscan;
DROP TABLE pa;

RESET maintenance_work_mem;
RESET max_parallel_maintenance_workers;
RESET min_parallel_table_scan_size;
DROP TABLE pp, pp_q;
DROP FUNCTION pp_recall(), pp_all_rows(), pvec(int);
