-- avg(vector) and sum(vector), serial and parallel.

CREATE TABLE a (g int, v vector(3));
INSERT INTO a VALUES (1, '[1,2,3]'), (1, '[3,4,5]'), (2, '[10,10,10]'), (2, NULL), (3, NULL);
SELECT g, avg(v), sum(v), count(v) FROM a GROUP BY g ORDER BY g;
SELECT avg(v), sum(v) FROM a;
SELECT avg(v), sum(v) FROM a WHERE false;

-- sums are kept in double: no float4 rounding on the way
SELECT avg(v) FROM (VALUES ('[16777216]'::vector), ('[1]'), ('[1]'), ('[-16777216]')) t(v);
SELECT sum(v) FROM (VALUES ('[16777216]'::vector), ('[1]'), ('[1]')) t(v);
-- intermediate sums beyond float4 range are fine if the result fits
SELECT avg(v) FROM (VALUES ('[3e38]'::vector), ('[3e38]')) t(v);
-- a result beyond float4 range is an error: 22003
SELECT sum(v) FROM (VALUES ('[3e38]'::vector), ('[3e38]')) t(v);
\echo :SQLSTATE

-- different dimensions: 22000
SELECT avg(v) FROM (VALUES ('[1,2]'::vector), ('[1,2,3]')) t(v);
\echo :SQLSTATE
SELECT sum(v) FROM (VALUES ('[1,2]'::vector), ('[1]')) t(v);
\echo :SQLSTATE

-- the transition and combine functions are callable directly
SELECT vector_accum('{0}', '[1,2]'), vector_accum('{1,1,2}', '[1,2]');
SELECT vector_combine('{1,1,2}', '{2,3,4}'), vector_combine('{0}', '{2,3,4}'),
       vector_combine('{2,3,4}', '{0}');
SELECT vector_avg('{2,3,4}'), vector_sum('{2,3,4}'), vector_avg('{0}');
SELECT vector_accum('{1,2}', '[1,2]');
\echo :SQLSTATE
SELECT vector_combine('{1,1}', '{1,1,2}');
\echo :SQLSTATE
SELECT vector_avg('{}');
\echo :SQLSTATE
SELECT vector_avg('{{1,2}}');
\echo :SQLSTATE
SELECT vector_avg('{1,NULL}');
\echo :SQLSTATE

-- parallel aggregation gives the serial answer
CREATE TABLE big (id int, v vector(4)) WITH (parallel_workers = 2);
INSERT INTO big SELECT i, ARRAY[i, -i, i % 7, 1]::vector FROM generate_series(1, 100000) i;
ANALYZE big;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT avg(v), sum(v) FROM big;
SELECT avg(v), sum(v) FROM big;
SELECT id % 3 AS g, avg(v) FROM big GROUP BY 1 ORDER BY 1;
RESET max_parallel_workers_per_gather;
SELECT avg(v), sum(v) FROM big;
DROP TABLE a, big;
