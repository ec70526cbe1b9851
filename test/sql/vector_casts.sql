-- Casts between arrays and vector.

SELECT ARRAY[1,2,3]::vector AS from_int, ARRAY[1.5,2,3]::real[]::vector AS from_real,
       ARRAY[1.5,2,3]::double precision[]::vector AS from_double,
       ARRAY[1.5,2,3]::numeric[]::vector AS from_numeric;
SELECT '[1,2.5,3]'::vector::real[] AS to_real;
SELECT array_to_vector(ARRAY[1,2], 2, true), vector_to_float4('[1,2]', -1, false);

-- assignment casts work in INSERT; vector -> real[] is implicit
CREATE TABLE t (v vector(3), r real[]);
INSERT INTO t VALUES (ARRAY[1,2,3], '[4,5,6]'::vector);
INSERT INTO t (v) VALUES (ARRAY[1.5,2.5,3.5]::numeric[]);
SELECT * FROM t;
DROP TABLE t;

-- float8 values are rounded to float4; beyond its range it is an error: 22003
SELECT ARRAY[0.1]::double precision[]::vector;
SELECT ARRAY[1e39]::double precision[]::vector;
\echo :SQLSTATE
SELECT ARRAY[1e-50]::double precision[]::vector;
\echo :SQLSTATE
SELECT ARRAY[1e39]::numeric[]::vector;
\echo :SQLSTATE

-- NaN and infinity: 22000
SELECT ARRAY['NaN']::real[]::vector;
\echo :SQLSTATE
SELECT ARRAY['Infinity']::double precision[]::vector;
\echo :SQLSTATE
SELECT ARRAY['-Infinity']::real[]::vector;
\echo :SQLSTATE
SELECT ARRAY['NaN']::numeric[]::vector;
\echo :SQLSTATE

-- nulls: 22004
SELECT ARRAY[1,NULL,3]::vector;
\echo :SQLSTATE
SELECT ARRAY[NULL]::real[]::vector;
\echo :SQLSTATE

-- shape: several dimensions and empty arrays are rejected
SELECT ARRAY[[1,2],[3,4]]::vector;
\echo :SQLSTATE
SELECT ARRAY[[[1.5]]]::real[]::vector;
\echo :SQLSTATE
SELECT '{}'::int[]::vector;
\echo :SQLSTATE
SELECT '[5:7]={1,2,3}'::int[]::vector AS lower_bound_ignored;

-- dimension limits and typmods
SELECT vector_dims(array_fill(0.5, ARRAY[16000])::real[]::vector);
SELECT array_fill(0.5, ARRAY[16001])::real[]::vector;
\echo :SQLSTATE
SELECT ARRAY[1,2]::vector(3);
\echo :SQLSTATE
SELECT ARRAY[1,2,3]::vector(3);

-- a type without a cast
SELECT ARRAY['1']::text[]::vector;
\echo :SQLSTATE

-- round trip through real[]
SELECT '[0.1,-2.5e-10,3.4028235e38]'::vector::real[]::vector = '[0.1,-2.5e-10,3.4028235e38]'::vector AS round_trip;
