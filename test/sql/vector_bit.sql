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
