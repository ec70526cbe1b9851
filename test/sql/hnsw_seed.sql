-- Graph seeds (vecq_hnsw_seed): the next HNSW build of the seeded table in
-- this session takes each row's neighbour lists from the seed element
-- whose hash matches the row's vector, instead of searching for them.

CREATE FUNCTION svec(i int) RETURNS vector LANGUAGE sql IMMUTABLE AS $$
  SELECT array_agg((((hashint4((i % 10) * 100 + j) & 1023) / 1023.0) * 4
                    + ((hashint4(i * 16 + j) & 65535) / 65536.0 - 0.5))::float4 ORDER BY j)::vector
  FROM generate_series(0, 15) j
$$;
CREATE TABLE s (id int PRIMARY KEY, v vector(16));
INSERT INTO s SELECT i, svec(i) FROM generate_series(1, 2000) i;
-- queries near 50 of the rows
CREATE TABLE s_q AS
  SELECT id, v + array_fill(0.05::float4, ARRAY[16])::vector AS v FROM s WHERE id % 40 = 0;

-- a seed element: hash, level, then a count and the neighbours per level
CREATE FUNCTION seed_list(l int[]) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
  SELECT int2send(coalesce(cardinality(l), 0)::int2) ||
         coalesce((SELECT string_agg(int4send(x), ''::bytea ORDER BY i)
                   FROM unnest(l) WITH ORDINALITY AS u(x, i)), ''::bytea)
$$;
CREATE FUNCTION seed_elem(h bigint, l0 int[], l1 int[] DEFAULT NULL, l2 int[] DEFAULT NULL)
RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
  SELECT int8send(h) ||
         CASE WHEN l2 IS NOT NULL THEN '\x02'::bytea || seed_list(l0) || seed_list(l1) || seed_list(l2)
              WHEN l1 IS NOT NULL THEN '\x01'::bytea || seed_list(l0) || seed_list(l1)
              ELSE '\x00'::bytea || seed_list(l0) END
$$;

-- the exact graph: element id - 1 is row id; its 16 nearest rows on level
-- 0; rows with id % 20 = 0 on level 1 too, with their 8 nearest such rows;
-- row 20 alone on level 2
SET enable_indexscan = off;
SET enable_bitmapscan = off;
CREATE TABLE s_seed AS
  SELECT a.id, vecq_hnsw_seed_hash(a.v) AS h,
         (SELECT array_agg(b.id - 1 ORDER BY a.v <-> b.v, b.id)
            FROM (SELECT b.id, b.v FROM s b WHERE b.id <> a.id
                  ORDER BY a.v <-> b.v, b.id LIMIT 16) b) AS l0,
         CASE WHEN a.id % 20 = 0 THEN
           (SELECT array_agg(b.id - 1 ORDER BY a.v <-> b.v, b.id)
              FROM (SELECT b.id, b.v FROM s b WHERE b.id <> a.id AND b.id % 20 = 0
                    ORDER BY a.v <-> b.v, b.id LIMIT 8) b) END AS l1,
         CASE WHEN a.id = 20 THEN '{}'::int[] END AS l2
  FROM s a;
RESET enable_indexscan;
RESET enable_bitmapscan;

-- recall@10 over the queries at hnsw.ef_search 10, ties at the 10th
-- distance counted
CREATE FUNCTION s_recall() RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE
  q record;
  hits int := 0;
  got int;
  kth float8;
BEGIN
  FOR q IN SELECT * FROM s_q ORDER BY id LOOP
    SET LOCAL enable_seqscan = on;
    SET LOCAL enable_indexscan = off;
    SET LOCAL enable_bitmapscan = off;
    SELECT max(d) INTO kth FROM (SELECT p.v <-> q.v AS d FROM s p ORDER BY 1 LIMIT 10) e;
    SET LOCAL enable_indexscan = on;
    SET LOCAL enable_seqscan = off;
    SET LOCAL hnsw.ef_search = 10;
    SELECT count(*) INTO got FROM (SELECT v FROM s ORDER BY v <-> q.v LIMIT 10) x
      WHERE x.v <-> q.v <= kth;
    hits := hits + got;
  END LOOP;
  RETURN round(hits / 500.0, 3);
END $$;

-- every row is in the index once: an iterative scan returns them all
CREATE FUNCTION s_all_rows() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  n bigint;
  nd bigint;
BEGIN
  SET LOCAL enable_seqscan = off;
  SET LOCAL hnsw.iterative_scan = relaxed_order;
  SELECT count(*), count(DISTINCT id) INTO n, nd
    FROM (SELECT id FROM s ORDER BY v <-> svec(3) LIMIT 100000) x;
  RETURN n || ' rows, ' || nd || ' distinct';
END $$;

SET max_parallel_maintenance_workers = 0;

-- the exact graph, in two chunks; every row takes its element
SELECT vecq_hnsw_seed('s', string_agg(seed_elem(h, l0, l1, l2), ''::bytea ORDER BY id))
  FROM s_seed WHERE id <= 1000;
SELECT vecq_hnsw_seed('s', string_agg(seed_elem(h, l0, l1, l2), ''::bytea ORDER BY id))
  FROM s_seed WHERE id > 1000;
SET client_min_messages = debug1;
CREATE INDEX s_v ON s USING hnsw (v vector_l2_ops) WITH (m = 8);
RESET client_min_messages;
SELECT * FROM vecq_index_check('s_v', true);
SELECT s_all_rows();
SELECT s_recall() >= 0.95 AS exact_seed_recall;
-- the build used the seed up: the next one searches
DROP INDEX s_v;
SET client_min_messages = debug1;
CREATE INDEX s_v ON s USING hnsw (v vector_l2_ops) WITH (m = 8);
RESET client_min_messages;
DROP INDEX s_v;

-- a seed that is a chain (element i lists i + 1 only) gives a chain:
-- the lists come from the seed, not from a search
SELECT vecq_hnsw_seed('s', string_agg(seed_elem(h, CASE WHEN id < 2000 THEN ARRAY[id] ELSE '{}' END),
                                      ''::bytea ORDER BY id))
  FROM s_seed;
SET client_min_messages = debug1;
CREATE INDEX s_v ON s USING hnsw (v vector_l2_ops) WITH (m = 8);
RESET client_min_messages;
SELECT * FROM vecq_index_check('s_v', true);
SELECT s_all_rows();
SELECT s_recall() < 0.5 AS chain_seed_recall_is_low;
DROP INDEX s_v;

-- rows the seed does not know are searched for: 100 rows changed since
-- the seed was made, 100 added; their elements have no row and are
-- dropped
SELECT vecq_hnsw_seed('s', string_agg(seed_elem(h, l0, l1, l2), ''::bytea ORDER BY id))
  FROM s_seed;
UPDATE s SET v = v + array_fill(0.01::float4, ARRAY[16])::vector WHERE id % 20 = 7;
INSERT INTO s SELECT i, svec(i) FROM generate_series(2001, 2100) i;
SET client_min_messages = debug1;
CREATE INDEX s_v ON s USING hnsw (v vector_l2_ops) WITH (m = 8);
RESET client_min_messages;
SELECT * FROM vecq_index_check('s_v', true);
SELECT s_all_rows();
SELECT s_recall() >= 0.95 AS partial_seed_recall;
DROP INDEX s_v;
DELETE FROM s WHERE id > 2000;
UPDATE s SET v = svec(id) WHERE id % 20 = 7;

-- nothing in a seed breaks the index: neighbours out of range, the
-- element itself, listed twice, of a lower level; lists longer than m
-- allows (cut down by distance); elements of no row; a level-3 element
-- whose upper lists are empty; two rows with one vector share a hash
INSERT INTO s VALUES (2001, svec(5));
SELECT vecq_hnsw_seed('s',
         string_agg(CASE WHEN id % 100 = 1 THEN int8send(0) || '\xff'::bytea
                         WHEN id = 40 THEN seed_elem(h, l0, l1, '{}')
                         ELSE seed_elem(h, l0 || ARRAY[id - 1, 7000000, -1, l0[1], l0[2]]
                                           || (SELECT array_agg(x) FROM generate_series(id, id + 40) x),
                                        CASE WHEN id % 20 = 0 THEN l1 || ARRAY[0, 1, 2] END,
                                        l2)
                    END, ''::bytea ORDER BY id)
         || int8send(0) || '\x03'::bytea || seed_list('{5}') || seed_list('{}') || seed_list('{}') || seed_list('{}'))
  FROM s_seed;
SET client_min_messages = debug1;
CREATE INDEX s_v ON s USING hnsw (v vector_l2_ops) WITH (m = 8);
RESET client_min_messages;
SELECT * FROM vecq_index_check('s_v', true);
SELECT s_all_rows();
SELECT s_recall() >= 0.95 AS messy_seed_recall;
SELECT count(*) FROM (SELECT id FROM s ORDER BY v <-> svec(5) LIMIT 2) x WHERE id IN (5, 2001);
DROP INDEX s_v;
DELETE FROM s WHERE id = 2001;

-- a level above what m = 100's pages hold is cut to the highest that fits
CREATE TABLE s_big_m AS SELECT id, v FROM s WHERE id <= 300;
SELECT vecq_hnsw_seed('s_big_m', string_agg(seed_elem(h, l0[1:8]) , ''::bytea ORDER BY id)
                      || int8send(vecq_hnsw_seed_hash(svec(301))) || '\x0f'::bytea
                      || (SELECT string_agg(seed_list('{1,2,3}'), ''::bytea) FROM generate_series(0, 15)))
  FROM s_seed WHERE id <= 300;
INSERT INTO s_big_m VALUES (301, svec(301));
SET client_min_messages = debug1;
CREATE INDEX s_big_m_v ON s_big_m USING hnsw (v vector_l2_ops) WITH (m = 100, ef_construction = 200);
RESET client_min_messages;
SELECT * FROM vecq_index_check('s_big_m_v', true);
DROP TABLE s_big_m;

-- cosine and sq8 indexes take seeds too; the hash is of the vector as
-- stored, not normalised
SELECT vecq_hnsw_seed('s', string_agg(seed_elem(h, l0, l1, l2), ''::bytea ORDER BY id))
  FROM s_seed;
SET client_min_messages = debug1;
CREATE INDEX s_q8 ON s USING hnsw (v vector_l2_ops) WITH (m = 8, quantization = 'sq8');
RESET client_min_messages;
SELECT * FROM vecq_index_check('s_q8', true);
SELECT s_recall() >= 0.9 AS sq8_seed_recall;
DROP INDEX s_q8;
SELECT vecq_hnsw_seed('s', string_agg(seed_elem(h, l0, l1, l2), ''::bytea ORDER BY id))
  FROM s_seed;
SET client_min_messages = debug1;
CREATE INDEX s_cos ON s USING hnsw (v vector_cosine_ops) WITH (m = 8);
RESET client_min_messages;
SELECT * FROM vecq_index_check('s_cos', true);
DROP INDEX s_cos;

-- a halfvec index does not take one, and says so; the seed stays
SELECT vecq_hnsw_seed('s', seed_elem(h, l0)) FROM s_seed WHERE id = 1;
CREATE INDEX s_h ON s USING hnsw ((v::halfvec(16)) halfvec_l2_ops);
DROP INDEX s_h;
-- seeding another table drops the seed of the first
CREATE TABLE s2 (v vector(16));
SELECT vecq_hnsw_seed('s2', seed_elem(0, '{}'));
SELECT vecq_hnsw_seed('s', seed_elem(0, '{}'));
SELECT vecq_hnsw_seed_reset();
SET client_min_messages = debug1;
CREATE INDEX s_v ON s USING hnsw (v vector_l2_ops) WITH (m = 8);
RESET client_min_messages;
DROP INDEX s_v;

-- errors; a bad chunk leaves the seed as it was
SELECT vecq_hnsw_seed('s', seed_elem(0, '{1,2}'));
SELECT vecq_hnsw_seed('s', '\x0102'::bytea);
SELECT vecq_hnsw_seed('s', int8send(0) || '\x10'::bytea);
SELECT vecq_hnsw_seed('s', int8send(0) || '\x00'::bytea);
SELECT vecq_hnsw_seed('s', int8send(0) || '\x01'::bytea || seed_list('{1}'));
SELECT vecq_hnsw_seed('s', int8send(0) || '\x00'::bytea || int2send(3::int2) || int4send(1));
SELECT vecq_hnsw_seed('s', int8send(0) || '\x00'::bytea || int2send(1025::int2));
SELECT vecq_hnsw_seed('s', ''::bytea);
SELECT vecq_hnsw_seed('s_pkey', seed_elem(0, '{}'));
CREATE VIEW s_view AS SELECT * FROM s;
SELECT vecq_hnsw_seed('s_view', seed_elem(0, '{}'));
CREATE ROLE seed_other;
GRANT SELECT ON s TO seed_other;
SET ROLE seed_other;
SELECT vecq_hnsw_seed('s', seed_elem(0, '{}'));
RESET ROLE;
SELECT vecq_hnsw_seed_reset();
SELECT vecq_hnsw_seed_hash('[1,2,3]') = vecq_hnsw_seed_hash('[1,2,3]'::vector(3)) AS same,
       vecq_hnsw_seed_hash('[1,2,3]') <> vecq_hnsw_seed_hash('[1,2,4]') AS differs,
       vecq_hnsw_seed_hash('[0]') <> vecq_hnsw_seed_hash('[-0]') AS by_bits;

DROP VIEW s_view;
DROP TABLE s, s2, s_q, s_seed;
DROP ROLE seed_other;
DROP FUNCTION svec(int), seed_list(int[]), seed_elem(bigint, int[], int[], int[]), s_recall(), s_all_rows();
