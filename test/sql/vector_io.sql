-- Text input and output of vector: accepted forms, shortest round-trip
-- output, and every rejection with its SQLSTATE.

-- accepted forms
SELECT '[1,2,3]'::vector;
SELECT '[1.5,2.25,-3e-2]'::vector;
SELECT '  [ 1 , 2.5 ,-3 ]  '::vector;
SELECT (E'\t[\n1,\r2\f,' || chr(11) || E'3]\n')::vector;
SELECT '[+1,-0,0]'::vector;
SELECT '[1e-7,1.5e10,123456789]'::vector;
SELECT '[0.1,0.2,0.3]'::vector;
SELECT '[0x10,1E2]'::vector;
SELECT '[3.4028235e38,-3.4028235e38]'::vector;
SELECT '[1.17549435e-38,1e-45]'::vector;
-- underflow to zero is accepted, as for float4
SELECT '[1e-50]'::vector;
SELECT '[1]'::vector;

-- output is the shortest text that reads back to the same float4
SELECT v::text, v::text::vector = v AS round_trip
FROM (VALUES ('[0.1]'::vector), ('[0.33333334]'), ('[16777217]'),
             ('[1.0000001]'), ('[2.7182817]'), ('[100000]'),
             ('[1e+15]'), ('[1e-05]')) AS t(v);
SELECT setseed(0.42);
SELECT count(*) AS exact_round_trips
FROM (SELECT ('[' || string_agg(((random() - 0.5) * 10 ^ (random() * 60 - 30))::real::text, ',') || ']')::vector AS v
      FROM generate_series(1, 2000) i GROUP BY i % 100) s
WHERE v::text::vector::real[] = v::real[];

-- malformed: 22P02, the detail names the bad part
SELECT ''::vector;
\echo :SQLSTATE
SELECT '   '::vector;
\echo :SQLSTATE
SELECT '1,2,3'::vector;
\echo :SQLSTATE
SELECT '(1,2,3)'::vector;
\echo :SQLSTATE
SELECT '[1,2,3'::vector;
\echo :SQLSTATE
SELECT '[1,2,'::vector;
\echo :SQLSTATE
SELECT '['::vector;
\echo :SQLSTATE
SELECT '[1,2,3]]'::vector;
\echo :SQLSTATE
SELECT '[1,2,3] x'::vector;
\echo :SQLSTATE
SELECT '[1,2,3][4]'::vector;
\echo :SQLSTATE
SELECT '[1,abc,3]'::vector;
\echo :SQLSTATE
SELECT '[1,,3]'::vector;
\echo :SQLSTATE
SELECT '[,1]'::vector;
\echo :SQLSTATE
SELECT '[1,]'::vector;
\echo :SQLSTATE
SELECT '[1 2]'::vector;
\echo :SQLSTATE
SELECT '[1x,2]'::vector;
\echo :SQLSTATE
SELECT '[1;2]'::vector;
\echo :SQLSTATE
SELECT '[[1,2]]'::vector;
\echo :SQLSTATE
SELECT '[- 1]'::vector;
\echo :SQLSTATE

-- well-formed but not a vector: 22000
SELECT '[]'::vector;
\echo :SQLSTATE
SELECT '[ ]'::vector;
\echo :SQLSTATE
SELECT '[NaN]'::vector;
\echo :SQLSTATE
SELECT '[1,nan,3]'::vector;
\echo :SQLSTATE
SELECT '[Infinity]'::vector;
\echo :SQLSTATE
SELECT '[1,-inf]'::vector;
\echo :SQLSTATE

-- out of float4 range: 22003
SELECT '[1e39]'::vector;
\echo :SQLSTATE
SELECT '[1,-4e38]'::vector;
\echo :SQLSTATE

-- dimension limits: 16000 is fine, 16001 is 54000
SELECT vector_dims(('[' || array_to_string(array_fill(1, ARRAY[16000]), ',') || ']')::vector);
SELECT ('[' || array_to_string(array_fill(1, ARRAY[16001]), ',') || ']')::vector;
\echo :SQLSTATE
SELECT ('[' || array_to_string(array_fill(1, ARRAY[100000]), ',') || ']')::vector;
\echo :SQLSTATE
-- a long output round-trips
SELECT v::text::vector = v AS round_trip, length(v::text)
FROM (SELECT array_agg(i * 0.001)::real[]::vector AS v FROM generate_series(1, 16000) i) s;

-- typmod checks on input: 22000
SELECT '[1,2]'::vector(3);
\echo :SQLSTATE
SELECT '[1,2,3]'::vector(3);
