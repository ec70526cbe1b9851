-- binary_quantize(vector) -> bit, hamming_distance / <~>, jaccard_distance / <%>

SELECT binary_quantize('[1,0,-1]'::vector);
SELECT binary_quantize('[0,0.1,-0.2,-0.3,0.4,0.5,0.6,-0.7,0.8,-0.9,1]'::vector);
SELECT binary_quantize('[1,2,3,-4,5,6,-7,8,1,-2,-3,4,5,-6,7,8,-1,2,3]'::vector);
SELECT length(binary_quantize(array_fill(1::float4, ARRAY[16000])::vector)) AS bits,
       bit_count(binary_quantize(array_fill(1::float4, ARRAY[16000])::vector)) AS ones;
SELECT binary_quantize(NULL::vector);

SELECT hamming_distance('111', '111'), hamming_distance('111', '110'), hamming_distance('111', '000');
SELECT B'10101010101' <~> B'01010101010' AS all_differ, B'1111111111111111' <~> B'1111111111111110' AS one;
SELECT hamming_distance('111', '00');
\echo :SQLSTATE
SELECT hamming_distance('111', '000'::varbit(4));

SELECT jaccard_distance('1111', '1111'), jaccard_distance('1111', '1110'), jaccard_distance('1111', '1100'),
       jaccard_distance('1111', '0000'), jaccard_distance('1100', '1000');
SELECT jaccard_distance('0000', '0000') AS no_bits, jaccard_distance('', '') AS empty;
SELECT B'110000001' <%> B'100000001' AS third;
SELECT jaccard_distance('1', '10');
\echo :SQLSTATE

-- nearest bit strings by Hamming distance, and the two operators commute
CREATE TABLE bits (id int, b bit(8));
INSERT INTO bits VALUES (1, B'00000000'), (2, B'11110000'), (3, B'11111111'), (4, B'10101010');
SELECT id, b <~> B'11111100' AS hamming, round((b <%> B'11111100')::numeric, 3) AS jaccard
FROM bits ORDER BY b <~> B'11111100', id;
SELECT count(*) FROM bits WHERE b <~> B'11111100' = B'11111100' <~> b AND b <%> B'11111100' = B'11111100' <%> b;
DROP TABLE bits;

-- HNSW on bit(n) columns: bit_hamming_ops (<~>) and bit_jaccard_ops (<%>)
CREATE TABLE bb (id int, b bit(100));
INSERT INTO bb SELECT i, (SELECT string_agg(CASE WHEN hashint4(i * 100 + j) & 1 = 1 THEN '1' ELSE '0' END, '')
  FROM generate_series(1, 100) j)::bit(100) FROM generate_series(1, 3000) i;
CREATE INDEX bb_h ON bb USING hnsw (b bit_hamming_ops);
CREATE INDEX bb_j ON bb USING hnsw (b bit_jaccard_ops);
SELECT * FROM vecq_index_check('bb_h', true);
SELECT * FROM vecq_index_check('bb_j', true);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM bb ORDER BY b <~> B'1010' LIMIT 5;
-- the index's distances against a plain sort's, for 20 queries (ties make
-- ids ambiguous, distances are not)
CREATE FUNCTION bit_knn(op text, q bit, idx bool) RETURNS float8[] LANGUAGE plpgsql AS $$
DECLARE r float8[];
BEGIN
  IF idx THEN SET LOCAL enable_seqscan = off; SET LOCAL enable_indexscan = on;
  ELSE SET LOCAL enable_seqscan = on; SET LOCAL enable_indexscan = off; END IF;
  EXECUTE format('SELECT array_agg(d ORDER BY n) FROM (SELECT b %s $1 AS d, row_number() OVER () AS n
                  FROM (SELECT b FROM bb ORDER BY b %s $1 LIMIT 10) s) t', op, op) INTO r USING q;
  RETURN r;
END $$;
-- (random bits are the hardest case for a graph: every distance is near
-- half the bits; ef_search 100 finds the exact top 10 for nearly all)
SET hnsw.ef_search = 100;
SELECT count(*) FILTER (WHERE bit_knn('<~>', b, true) = bit_knn('<~>', b, false)) >= 18 AS hamming_exact,
       count(*) FILTER (WHERE bit_knn('<%>', b, true) = bit_knn('<%>', b, false)) >= 18 AS jaccard_exact
FROM bb WHERE id <= 20;
RESET hnsw.ef_search;
RESET enable_seqscan;
-- inserts, and the errors
INSERT INTO bb SELECT 3000 + id, ~b FROM bb WHERE id <= 10;
SELECT * FROM vecq_index_check('bb_h', true);
SET enable_seqscan = off;
SELECT id FROM bb ORDER BY b <~> (SELECT ~b FROM bb WHERE id = 4) LIMIT 1;
RESET enable_seqscan;
CREATE INDEX ON bb USING hnsw (b bit_hamming_ops) WITH (quantization = 'sq8');
\echo :SQLSTATE
CREATE TABLE vb (b varbit);
CREATE INDEX ON vb USING hnsw (b bit_hamming_ops);
\echo :SQLSTATE
DROP TABLE bb, vb;
DROP FUNCTION bit_knn(text, bit, bool);
