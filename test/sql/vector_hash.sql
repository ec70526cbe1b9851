-- The hash opclass: hash aggregation, hash joins, hash indexes and
-- partitioning, consistent with equality (-0 = 0).

SELECT vector_hash('[0,1]') = vector_hash('[-0,1]') AS neg_zero_same_hash,
       vector_hash_extended('[-0]', 7) = vector_hash_extended('[0]', 7) AS neg_zero_same_ext,
       vector_hash('[1,2]') <> vector_hash('[2,1]') AS order_matters,
       vector_hash('[1]') <> vector_hash('[1,0]') AS dims_matter,
       vector_hash_extended('[1,2]', 0) <> vector_hash_extended('[1,2]', 1) AS seed_matters,
       (vector_hash_extended('[1,2]', 0) & 4294967295) = (vector_hash('[1,2]')::bigint & 4294967295) AS seed0_low_bits;

CREATE TABLE h (id int, v vector);
INSERT INTO h SELECT i, ARRAY[i % 5, (i % 3) * 0.5]::vector FROM generate_series(1, 300) i;
INSERT INTO h VALUES (1000, '[-0,0]'), (1001, '[0,-0]');
SET enable_sort = off;
EXPLAIN (COSTS OFF) SELECT v, count(*) FROM h GROUP BY v;
SELECT v, count(*) FROM h GROUP BY v ORDER BY v;
RESET enable_sort;

CREATE TABLE k (v vector, name text);
INSERT INTO k VALUES ('[0,0]', 'origin'), ('[4,1]', 'corner'), ('[9,9]', 'nowhere');
SET enable_mergejoin = off;
SET enable_nestloop = off;
EXPLAIN (COSTS OFF) SELECT name, count(*) FROM h JOIN k USING (v) GROUP BY name;
SELECT name, count(*) FROM h JOIN k USING (v) GROUP BY name ORDER BY name;
RESET enable_mergejoin;
RESET enable_nestloop;

CREATE INDEX h_hash ON h USING hash (v);
SET enable_seqscan = off;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM h WHERE v = '[-0,0]';
SELECT id FROM h WHERE v = '[-0,0]' ORDER BY id LIMIT 5;
RESET enable_seqscan;
RESET enable_bitmapscan;

CREATE TABLE p (v vector, n int) PARTITION BY HASH (v);
CREATE TABLE p0 PARTITION OF p FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE p1 PARTITION OF p FOR VALUES WITH (MODULUS 2, REMAINDER 1);
INSERT INTO p SELECT v, id FROM h;
SELECT count(*) AS rows, count(DISTINCT tableoid) AS partitions_used FROM p;
SELECT count(DISTINCT tableoid) AS partitions_per_value FROM p GROUP BY v ORDER BY 1 DESC LIMIT 1;
DROP TABLE h, k, p;
