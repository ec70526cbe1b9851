-- HNSW key columns: CREATE INDEX ... USING hnsw (embedding <opclass>, key),
-- scans with "key = value", the key directory, vecq_index_check.

-- deterministic pseudo-random vectors: 8 dimensions from a seed
CREATE FUNCTION kvec(seed int) RETURNS vector LANGUAGE sql IMMUTABLE AS $$
  SELECT array_agg(((hashint4(seed * 8 + j) & 65535) / 65536.0)::float4 ORDER BY j)::vector
  FROM generate_series(0, 7) j
$$;

-- 3,000 rows: key 1 holds 50 %, key 2 10 %, the even keys 4..100 the rest
-- (30 rows each), and 30 rows have no key; key 103 has none
CREATE TABLE kt (id int PRIMARY KEY, v vector(8), k int);
INSERT INTO kt
  SELECT i, kvec(i),
         CASE WHEN i % 100 = 99 THEN NULL
              WHEN i % 2 = 0 THEN 1
              WHEN i % 10 IN (1, 3) THEN 2
              ELSE 3 + i % 100 END
  FROM generate_series(1, 3000) i;
CREATE INDEX kt_v ON kt USING hnsw (v vector_l2_ops, k) WITH (m = 8, ef_construction = 32);
ANALYZE kt;
SELECT * FROM vecq_index_check('kt_v', true);

-- the key condition goes into the index scan
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM kt WHERE k = 8 ORDER BY v <-> kvec(-1) LIMIT 5;
RESET enable_seqscan;

-- exact top 5 of a key, by a plain sort (no index)
CREATE FUNCTION exact_top(key int, q vector, n int) RETURNS int[] LANGUAGE plpgsql AS $$
DECLARE r int[];
BEGIN
  SET LOCAL enable_seqscan = on;
  SET LOCAL enable_indexscan = off;
  SET LOCAL enable_bitmapscan = off;
  SELECT array_agg(id ORDER BY d, id) INTO r FROM
    (SELECT id, v <-> q AS d FROM kt WHERE k = key ORDER BY v <-> q, id LIMIT n) s;
  RETURN r;
END $$;
CREATE FUNCTION index_top(key int, q vector, n int) RETURNS int[] LANGUAGE plpgsql AS $$
DECLARE r int[];
BEGIN
  SET LOCAL enable_seqscan = off;
  SET LOCAL enable_bitmapscan = off;
  SELECT array_agg(id) INTO r FROM
    (SELECT id FROM kt WHERE k = key ORDER BY v <-> q LIMIT n) s;
  RETURN r;
END $$;

-- every key size, in each mode: the scan reads the key's chain whole (limit
-- large), searches the graph for the key's elements (limit 0), or chooses
-- (-1).  Rows of the key only, min(5, key rows) of them, and here the true
-- top 5 in the right order.
CREATE FUNCTION key_results(lim int) RETURNS TABLE (key int, queries int, exact_matches int, wrong_key int, rows int)
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('SET LOCAL vecq.key_exact_scan_limit = %s', lim);
  RETURN QUERY
    WITH r AS (
      SELECT kk, index_top(kk, kvec(-q), 5) AS got, exact_top(kk, kvec(-q), 5) AS want
      FROM unnest(ARRAY[1, 2, 8, 50, 100, 103]) kk, generate_series(1, 20) q)
    SELECT kk, count(*)::int,
           count(*) FILTER (WHERE got IS NOT DISTINCT FROM want)::int,
           (SELECT count(*)::int FROM r r2, unnest(r2.got) u(id) JOIN kt USING (id)
              WHERE r2.kk = r.kk AND kt.k IS DISTINCT FROM r.kk),
           coalesce(sum(cardinality(got)), 0)::int
    FROM r GROUP BY kk ORDER BY kk;
END $$;
SELECT * FROM key_results(1000000);
SELECT * FROM key_results(0);
SELECT * FROM key_results(-1);

-- no rows for a NULL key, a key nobody has, or two different keys
SET enable_seqscan = off;
SELECT count(*) FROM (SELECT id FROM kt WHERE k = NULL::int ORDER BY v <-> kvec(-1) LIMIT 5) s;
SELECT count(*) FROM (SELECT id FROM kt WHERE k = 99999 ORDER BY v <-> kvec(-1) LIMIT 5) s;
SELECT count(*) FROM (SELECT id FROM kt WHERE k = 1 AND k = 2 ORDER BY v <-> kvec(-1) LIMIT 5) s;
-- without a key condition the index searches every row (NULL keys too)
SELECT count(*), count(*) FILTER (WHERE k IS NULL) AS null_keys
  FROM (SELECT id, k FROM kt ORDER BY v <-> kvec(-1) LIMIT 3000) s;
-- a filter the index does not understand still gives k rows (iterative scan)
SELECT count(*) FROM (SELECT id FROM kt WHERE k = 1 AND id % 7 = 0 ORDER BY v <-> kvec(-1) LIMIT 10) s;
RESET enable_seqscan;

-- inserts extend the chains; the check sees every element on its chain
INSERT INTO kt SELECT i, kvec(i), 2 FROM generate_series(3001, 3100) i;
INSERT INTO kt SELECT i, kvec(i), NULL FROM generate_series(3101, 3110) i;
SELECT * FROM vecq_index_check('kt_v', true);
SELECT index_top(2, kvec(-7), 5) = exact_top(2, kvec(-7), 5) AS after_inserts;

-- deletes and VACUUM: deleted elements leave the chains; every remaining
-- row of a key is still read from its chain
DELETE FROM kt WHERE id % 3 = 0 OR id > 3050;
VACUUM kt;
SELECT * FROM vecq_index_check('kt_v', true);
SET enable_seqscan = off;
SET vecq.key_exact_scan_limit = 1000000;
SELECT kk, (SELECT count(*) FROM (SELECT id FROM kt WHERE k = kk ORDER BY v <-> kvec(-1) LIMIT 5000) s) AS through_index,
       (SELECT count(*) FROM kt WHERE k = kk) AS in_table
  FROM unnest(ARRAY[1, 2, 8]) kk;
RESET vecq.key_exact_scan_limit;
RESET enable_seqscan;

-- keys of other types; int8 keys 1 and 2^32 have the same hash: the
-- executor's recheck keeps the other key's rows out
CREATE TABLE kt8 (id int, v vector(8), k int8, t text, u uuid);
INSERT INTO kt8 SELECT i, kvec(i), CASE WHEN i % 2 = 0 THEN 1 ELSE 4294967296 END,
  'tenant-' || (i % 3), md5((i % 4)::text)::uuid FROM generate_series(1, 400) i;
SELECT hashint8(1) = hashint8(4294967296) AS same_hash;
CREATE INDEX kt8_k ON kt8 USING hnsw (v vector_l2_ops, k);
CREATE INDEX kt8_t ON kt8 USING hnsw (v vector_cosine_ops, t);
CREATE INDEX kt8_u ON kt8 USING hnsw (v vector_ip_ops, u);
SET enable_seqscan = off;
SELECT count(*), min(k), max(k) FROM (SELECT k FROM kt8 WHERE k = 1 ORDER BY v <-> kvec(-1) LIMIT 300) s;
SET vecq.key_exact_scan_limit = 0;
SELECT count(*), min(k), max(k) FROM (SELECT k FROM kt8 WHERE k = 4294967296 ORDER BY v <-> kvec(-1) LIMIT 300) s;
RESET vecq.key_exact_scan_limit;
SELECT count(*), min(t), max(t) FROM (SELECT t FROM kt8 WHERE t = 'tenant-1' ORDER BY v <=> kvec(-1) LIMIT 300) s;
SELECT count(*), count(DISTINCT u) FROM (SELECT u FROM kt8 WHERE u = md5('2')::uuid ORDER BY v <#> kvec(-1) LIMIT 300) s;
RESET enable_seqscan;
SELECT count(*) FROM vecq_index_check('kt8_k', true);
SELECT count(*) FROM vecq_index_check('kt8_t', true);
SELECT count(*) FROM vecq_index_check('kt8_u', true);

-- a key condition from a row-level security policy reaches the index
CREATE ROLE regress_vecq_key_reader;
GRANT SELECT ON kt TO regress_vecq_key_reader;
ALTER TABLE kt ENABLE ROW LEVEL SECURITY;
CREATE POLICY kt_key ON kt USING (k = current_setting('regress.key')::int);
SET regress.key = '8';
SET ROLE regress_vecq_key_reader;
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM kt ORDER BY v <-> kvec(-1) LIMIT 5;
SELECT count(*), min(k), max(k) FROM (SELECT k FROM kt ORDER BY v <-> kvec(-1) LIMIT 50) s;
RESET enable_seqscan;
RESET ROLE;
DROP POLICY kt_key ON kt;
ALTER TABLE kt DISABLE ROW LEVEL SECURITY;
REVOKE ALL ON kt FROM regress_vecq_key_reader;
DROP ROLE regress_vecq_key_reader;

-- an index built on an empty table: its directory grows overflow pages as
-- 10,000 keys arrive (more than its 16 bucket pages hold)
CREATE TABLE many (id int, v vector(8), k int);
CREATE INDEX many_v ON many USING hnsw (v vector_l2_ops, k) WITH (m = 8, ef_construction = 16);
INSERT INTO many SELECT i, kvec(i), i FROM generate_series(1, 10000) i;
-- (one-at-a-time inserts can leave an upper-level element unreached, which
-- VACUUM repairs: not what this test is about)
VACUUM many;
SELECT * FROM vecq_index_check('many_v', true);
SET enable_seqscan = off;
SELECT array_agg(id) FROM (SELECT id FROM many WHERE k = 7777 ORDER BY v <-> kvec(-1) LIMIT 5) s;
RESET enable_seqscan;
-- and REINDEX builds a directory sized for them
REINDEX INDEX many_v;
SELECT * FROM vecq_index_check('many_v', true);

-- unlogged: the init fork has an empty directory
CREATE UNLOGGED TABLE ul (id int, v vector(8), k text);
CREATE INDEX ul_v ON ul USING hnsw (v vector_l2_ops, k);
INSERT INTO ul SELECT i, kvec(i), 'a' || (i % 2) FROM generate_series(1, 50) i;
SELECT * FROM vecq_index_check('ul_v', true);

DROP TABLE kt, kt8, many, ul;
DROP FUNCTION kvec(int), exact_top(int, vector, int), index_top(int, vector, int), key_results(int);
