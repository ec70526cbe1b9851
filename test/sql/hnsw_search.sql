-- HNSW: search results against exact answers, for every opclass; planner
-- choices; iterative scans under filters; vacuum; large vectors.

SELECT setseed(0.42);
CREATE TABLE pts (id int PRIMARY KEY, v vector(8));
INSERT INTO pts
  SELECT i, (SELECT array_agg(round((random() * 20 - 10)::numeric, 2)::float4) FROM generate_series(1, 8) WHERE i > 0)::vector
  FROM generate_series(1, 3000) i;
CREATE TABLE queries (id int PRIMARY KEY, v vector(8));
INSERT INTO queries
  SELECT i, (SELECT array_agg(round((random() * 20 - 10)::numeric, 2)::float4) FROM generate_series(1, 8) WHERE i > 0)::vector
  FROM generate_series(1, 20) i;
ANALYZE pts;

-- recall@10 over 20 queries, by the index vs by sorting (ties count)
CREATE FUNCTION recall(op text) RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE
  q record;
  hits int := 0;
  kth float8;
  got int;
BEGIN
  FOR q IN SELECT * FROM queries ORDER BY id LOOP
    SET LOCAL enable_seqscan = off;
    EXECUTE format('SELECT count(*) FROM (SELECT v FROM pts ORDER BY v %s $1 LIMIT 10) s
                    WHERE s.v %s $1 <= (SELECT max(d) FROM (SELECT (p.v %s $1) + 0 AS d FROM pts p
                                        ORDER BY 1 LIMIT 10) e)', op, op, op)
      INTO got USING q.v;
    hits := hits + got;
  END LOOP;
  RETURN round(hits / 200.0, 2);
END $$;

CREATE INDEX pts_l2 ON pts USING hnsw (v vector_l2_ops);
-- the exact side of recall() sorts, it does not use the index
EXPLAIN (COSTS OFF) SELECT (v <-> '[1,2,3,4,5,6,7,8]') + 0 AS d FROM pts ORDER BY 1 LIMIT 10;
EXPLAIN (COSTS OFF) SELECT id FROM pts ORDER BY v <-> '[1,2,3,4,5,6,7,8]' LIMIT 10;
-- no ORDER BY or ORDER BY another operator: the index cannot help
EXPLAIN (COSTS OFF) SELECT id FROM pts WHERE v <-> '[1,2,3,4,5,6,7,8]' < 5;
EXPLAIN (COSTS OFF) SELECT id FROM pts ORDER BY v <#> '[1,2,3,4,5,6,7,8]' LIMIT 10;
-- all rows in order: a sort is cheaper
EXPLAIN (COSTS OFF) SELECT id FROM pts ORDER BY v <-> '[1,2,3,4,5,6,7,8]';
-- the query vector from a subquery, as prepared statements and pgbench send it
EXPLAIN (COSTS OFF) SELECT id FROM pts ORDER BY v <-> (SELECT v FROM queries WHERE id = 1) LIMIT 10;
SET hnsw.ef_search = 100;
SELECT recall('<->') AS l2_recall;
DROP INDEX pts_l2;

CREATE INDEX pts_ip ON pts USING hnsw (v vector_ip_ops);
SELECT recall('<#>') AS ip_recall;
DROP INDEX pts_ip;
CREATE INDEX pts_cos ON pts USING hnsw (v vector_cosine_ops);
SELECT recall('<=>') AS cosine_recall;
DROP INDEX pts_cos;
CREATE INDEX pts_l1 ON pts USING hnsw (v vector_l1_ops);
SELECT recall('<+>') AS l1_recall;
DROP INDEX pts_l1;

-- a parallel build: the leader and two workers share one graph
SET min_parallel_table_scan_size = 0;
SET max_parallel_maintenance_workers = 2;
CREATE INDEX pts_par ON pts USING hnsw (v vector_l2_ops);
SELECT recall('<->') >= 0.98 AS parallel_recall;
DROP INDEX pts_par;
-- a graph larger than maintenance_work_mem: the rows past it are inserted
-- once the graph is written, serially and in parallel
SET maintenance_work_mem = '1MB';
SET max_parallel_maintenance_workers = 0;
CREATE INDEX pts_small ON pts USING hnsw (v vector_l2_ops);
SELECT recall('<->') >= 0.98 AS small_memory_recall;
DROP INDEX pts_small;
SET max_parallel_maintenance_workers = 2;
SET client_min_messages = warning;
CREATE INDEX pts_small ON pts USING hnsw (v vector_l2_ops);
RESET client_min_messages;
SELECT recall('<->') >= 0.98 AS parallel_small_memory_recall;
DROP INDEX pts_small;
RESET maintenance_work_mem;
RESET max_parallel_maintenance_workers;
RESET min_parallel_table_scan_size;

-- when the table's size is known and a graph of float4 vectors would not
-- fit in maintenance_work_mem, the build holds SQ8 codes instead and reads
-- the rows again to write the pages: no NOTICE, exact vectors in the index
CREATE TABLE mid (id int PRIMARY KEY, v vector(64));
INSERT INTO mid SELECT i, (SELECT array_agg((random() * 2 - 1 + (i % 4) + 0 * j)::float4) FROM generate_series(1, 64) j)::vector
  FROM generate_series(1, 3000) i;
CREATE TABLE mid_queries AS SELECT id, v FROM mid WHERE id <= 20;
UPDATE mid_queries SET v = v + array_fill(0.05::float4, ARRAY[64])::vector;
CREATE FUNCTION mid_recall() RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE
  q record;
  hits int := 0;
  got int;
BEGIN
  FOR q IN SELECT * FROM mid_queries ORDER BY id LOOP
    SET LOCAL enable_seqscan = off;
    SELECT count(*) INTO got FROM (SELECT v FROM mid ORDER BY v <-> q.v LIMIT 10) s
      WHERE s.v <-> q.v <= (SELECT max(d) FROM (SELECT (m.v <-> q.v) + 0 AS d FROM mid m ORDER BY 1 LIMIT 10) e);
    hits := hits + got;
  END LOOP;
  RETURN round(hits / 200.0, 2);
END $$;
ANALYZE mid;
SET max_parallel_maintenance_workers = 0;
CREATE INDEX mid_big ON mid USING hnsw (v vector_l2_ops);
SET maintenance_work_mem = '1MB';
SET client_min_messages = debug1;
CREATE INDEX mid_v ON mid USING hnsw (v vector_l2_ops);
RESET client_min_messages;
SELECT mid_recall() >= 0.98 AS codes_in_memory_recall;
SELECT * FROM vecq_index_check('mid_v', true);
-- the pages hold float4 vectors, as those of a build with enough memory
SELECT pg_relation_size('mid_v') = pg_relation_size('mid_big') AS same_size;
DROP INDEX mid_v, mid_big;
-- in parallel
SET max_parallel_maintenance_workers = 2;
SET min_parallel_table_scan_size = 0;
CREATE INDEX mid_v ON mid USING hnsw (v vector_l2_ops);
SELECT mid_recall() >= 0.98 AS parallel_codes_in_memory_recall;
SELECT * FROM vecq_index_check('mid_v', true);
DROP INDEX mid_v;
-- twice the rows: codes do not fit either, the rest is inserted after
INSERT INTO mid SELECT i, (SELECT array_agg((random() * 2 - 1 + (i % 4) + 0 * j)::float4) FROM generate_series(1, 64) j)::vector
  FROM generate_series(3001, 6000) i;
ANALYZE mid;
SET max_parallel_maintenance_workers = 0;
CREATE INDEX mid_v ON mid USING hnsw (v vector_l2_ops);
SELECT mid_recall() >= 0.98 AS codes_and_inserts_recall;
SELECT * FROM vecq_index_check('mid_v', true);
DROP TABLE mid, mid_queries;
DROP FUNCTION mid_recall();
RESET maintenance_work_mem;
RESET max_parallel_maintenance_workers;
RESET min_parallel_table_scan_size;

-- without iterative scans, ef_search bounds the rows a scan returns
CREATE INDEX pts_l2 ON pts USING hnsw (v vector_l2_ops) WITH (m = 4, ef_construction = 8);
SET hnsw.iterative_scan = off;
SET hnsw.ef_search = 5;
SELECT recall('<->') <= 0.5 AS at_most_half;
RESET hnsw.iterative_scan;
SET hnsw.ef_search = 100;

-- cosine: zero vectors are not indexed (their distance is NaN)
CREATE TABLE cz (id int, v vector(2));
INSERT INTO cz VALUES (1, '[1,0]'), (2, '[0,0]'), (3, '[0,1]'), (4, '[1,1]');
CREATE INDEX ON cz USING hnsw (v vector_cosine_ops);
INSERT INTO cz VALUES (5, '[0,0]'), (6, '[2,0.1]');
SET enable_seqscan = off;
SELECT id, round((v <=> '[1,0]')::numeric, 4) AS d FROM cz ORDER BY v <=> '[1,0]' LIMIT 10;
-- a zero query vector: every distance is NaN, rows come in no useful order
SELECT count(*) FROM (SELECT id FROM cz ORDER BY v <=> '[0,0]' LIMIT 10) s;
RESET enable_seqscan;

-- iterative scans: rows filtered after the index are made up for
SET enable_seqscan = off;
SET hnsw.ef_search = 10;
SET hnsw.iterative_scan = off;
-- off: at most ef_search rows, filtered or not
SELECT count(*) FROM (SELECT id FROM pts ORDER BY v <-> '[0,0,0,0,0,0,0,0]' LIMIT 20) s;
SELECT count(*) <= 10 AS at_most_ef FROM (SELECT id FROM pts WHERE id % 10 = 0 ORDER BY v <-> '[0,0,0,0,0,0,0,0]' LIMIT 20) s;
SET hnsw.iterative_scan = strict_order;
SELECT count(*) FROM (SELECT id FROM pts WHERE id % 10 = 0 ORDER BY v <-> '[0,0,0,0,0,0,0,0]' LIMIT 20) s;
-- strict order: the distances never go down
SELECT bool_and(d >= prev) AS ordered FROM (
  SELECT d, lag(d, 1, 0::float8) OVER (ORDER BY n) AS prev FROM (
    SELECT row_number() OVER () AS n, v <-> '[0,0,0,0,0,0,0,0]' AS d
    FROM (SELECT v FROM pts WHERE id % 10 = 0 ORDER BY v <-> '[0,0,0,0,0,0,0,0]' LIMIT 200) s) t) u;
SET hnsw.iterative_scan = relaxed_order;
SELECT count(*) FROM (SELECT id FROM pts WHERE id % 10 = 0 ORDER BY v <-> '[0,0,0,0,0,0,0,0]' LIMIT 20) s;
-- a filter no row passes: the scan ends at max_scan_tuples, or (no limit,
-- the default) when the whole graph has been visited
SET hnsw.max_scan_tuples = 500;
SELECT count(*) FROM (SELECT id FROM pts WHERE id < 0 ORDER BY v <-> '[0,0,0,0,0,0,0,0]' LIMIT 20) s;
RESET hnsw.max_scan_tuples;
SELECT count(*) FROM (SELECT id FROM pts WHERE id < 0 ORDER BY v <-> '[0,0,0,0,0,0,0,0]' LIMIT 20) s;
-- a filter few rows pass, far from the query: a limit may miss them, no
-- limit finds every one
SET hnsw.max_scan_tuples = 50;
EXPLAIN (COSTS OFF) SELECT id FROM pts WHERE id % 1000 = 7 ORDER BY v <-> '[0,0,0,0,0,0,0,0]' LIMIT 20;
SELECT count(*) < 3 AS limited FROM (SELECT id FROM pts WHERE id % 1000 = 7
  ORDER BY v <-> '[0,0,0,0,0,0,0,0]' LIMIT 20) s;
RESET hnsw.max_scan_tuples;
SELECT array_agg(id ORDER BY id) FROM (SELECT id FROM pts WHERE id % 1000 = 7
  ORDER BY v <-> '[0,0,0,0,0,0,0,0]' LIMIT 20) s;
-- LIMIT beyond ef_search returns every row asked for
SET hnsw.iterative_scan = strict_order;
SELECT count(*) FROM (SELECT id FROM pts ORDER BY v <-> '[0,0,0,0,0,0,0,0]' LIMIT 500) s;
RESET hnsw.iterative_scan;
SET hnsw.ef_search = 100;
RESET enable_seqscan;

-- vacuum: deleted rows never come back; recall holds after delete + reinsert
DROP INDEX pts_l2;
CREATE INDEX pts_l2 ON pts USING hnsw (v vector_l2_ops);
CREATE TABLE saved AS SELECT * FROM pts WHERE id % 2 = 0;
DELETE FROM pts WHERE id % 2 = 0;
VACUUM pts;
SET enable_seqscan = off;
SELECT count(*) AS even_ids_found FROM (SELECT id FROM pts ORDER BY v <-> '[0,0,0,0,0,0,0,0]' LIMIT 300) s
  WHERE id % 2 = 0;
RESET enable_seqscan;
SELECT recall('<->') AS after_delete;
INSERT INTO pts SELECT * FROM saved;
-- inserts draw random levels, so the graph differs from run to run
SELECT recall('<->') >= 0.98 AS after_reinsert;
VACUUM pts;
SELECT recall('<->') >= 0.98 AS after_vacuum;
-- vacuum statistics count live elements
SELECT reltuples FROM pg_class WHERE relname = 'pts_l2';
-- delete everything: the entry point goes, the index is empty, then refills
DELETE FROM pts;
VACUUM pts;
SET enable_seqscan = off;
SELECT count(*) FROM (SELECT id FROM pts ORDER BY v <-> '[0,0,0,0,0,0,0,0]' LIMIT 5) s;
INSERT INTO pts SELECT * FROM saved WHERE id <= 100;
SELECT count(*) FROM (SELECT id FROM pts ORDER BY v <-> '[0,0,0,0,0,0,0,0]' LIMIT 5) s;
RESET enable_seqscan;

-- vectors too large for a page live on overflow pages (up to 16000 dims)
CREATE TABLE wide (id int, v vector(3000));
INSERT INTO wide SELECT i, array_fill(i::float4, ARRAY[3000])::vector FROM generate_series(1, 20) i;
CREATE INDEX wide_v ON wide USING hnsw (v vector_l2_ops);
INSERT INTO wide SELECT i, array_fill(i::float4, ARRAY[3000])::vector FROM generate_series(21, 30) i;
SET enable_seqscan = off;
SELECT id FROM wide ORDER BY v <-> array_fill(7.2::float4, ARRAY[3000])::vector LIMIT 3;
SELECT id FROM wide ORDER BY v <-> array_fill(24.9::float4, ARRAY[3000])::vector LIMIT 3;
RESET enable_seqscan;
CREATE TABLE widest (id int, v vector(16000));
INSERT INTO widest SELECT i, array_fill(i::float4, ARRAY[16000])::vector FROM generate_series(1, 5) i;
CREATE INDEX ON widest USING hnsw (v vector_ip_ops);
SET enable_seqscan = off;
SELECT id FROM widest ORDER BY v <#> array_fill(1::float4, ARRAY[16000])::vector LIMIT 2;
RESET enable_seqscan;

DROP TABLE pts, queries, saved, cz, wide, widest;
DROP FUNCTION recall(text);

-- vectors stored out of line: a scan of float4 elements pairs each returned
-- row's TOAST pointer with its element's vector, which the executor's
-- distance then uses (hnsw_scan.c remember_row_vector); every distance must
-- be the one computed from the row itself, also after updates give rows
-- new values within the transaction
CREATE TABLE tv (id int PRIMARY KEY, v vector(600));
INSERT INTO tv SELECT i, (SELECT array_agg(sin(i * 0.37 + j * 1.3)::real)
                          FROM generate_series(1, 600) j)::vector
FROM generate_series(1, 300) i;
CREATE INDEX tv_l2 ON tv USING hnsw (v vector_l2_ops);
CREATE INDEX tv_ip ON tv USING hnsw (v vector_ip_ops);
CREATE INDEX tv_l1 ON tv USING hnsw (v vector_l1_ops);
BEGIN;
SET LOCAL enable_seqscan = off;
SET LOCAL hnsw.ef_search = 100;
CREATE TEMP VIEW tv_check AS
SELECT count(*) AS rows,
       count(*) FILTER (WHERE op = 'l2' AND d = v::text::vector <-> qv::text::vector
                          OR op = 'ip' AND d = v::text::vector <#> qv::text::vector
                          OR op = 'l1' AND d = v::text::vector <+> qv::text::vector) AS exact
FROM (SELECT 'l2' AS op, q.v AS qv, s.* FROM tv q,
             LATERAL (SELECT v, v <-> q.v AS d FROM tv ORDER BY v <-> q.v LIMIT 5) s
      WHERE q.id <= 20
      UNION ALL
      SELECT 'ip', q.v, s.* FROM tv q,
             LATERAL (SELECT v, v <#> q.v AS d FROM tv ORDER BY v <#> q.v LIMIT 5) s
      WHERE q.id <= 20
      UNION ALL
      SELECT 'l1', q.v, s.* FROM tv q,
             LATERAL (SELECT v, v <+> q.v AS d FROM tv ORDER BY v <+> q.v LIMIT 5) s
      WHERE q.id <= 20) x;
EXPLAIN (COSTS OFF) SELECT v <-> (SELECT v FROM tv WHERE id = 1) FROM tv
ORDER BY v <-> (SELECT v FROM tv WHERE id = 1) LIMIT 5;
SELECT * FROM tv_check;
UPDATE tv SET v = (SELECT array_agg(cos(id * 0.53 + j * 0.7)::real)
                   FROM generate_series(1, 600) j)::vector
WHERE id % 3 = 0;
SELECT * FROM tv_check;
SELECT id, round((v <-> (SELECT v FROM tv WHERE id = 9))::numeric, 5) AS d
FROM tv ORDER BY v <-> (SELECT v FROM tv WHERE id = 9) LIMIT 3;
COMMIT;
DROP VIEW tv_check;
DROP TABLE tv;
