-- vector_dims, vector_norm, l2_normalize, subvector, arithmetic, concatenation.

SELECT vector_dims('[1,2,3]'), vector_dims('[1]');
SELECT vector_norm('[3,4]'), vector_norm('[0,0]'), vector_norm('[1,1,1,1]');
SELECT vector_norm('[3e38,3e38]') AS norm_huge, vector_norm('[1e-40]') > 0 AS norm_subnormal;

SELECT l2_normalize('[3,4]'), l2_normalize('[0,0,0]'), l2_normalize('[-2]');
SELECT vector_norm(l2_normalize('[1,2,3,4,5]')) BETWEEN 0.9999999 AND 1.0000001 AS unit;
SELECT l2_normalize('[3e37,4e37]'), l2_normalize('[1e-40,0]');

-- subvector(v, start, count): 1-based, clipped like substring
SELECT subvector('[1,2,3,4,5]', 2, 3);
SELECT subvector('[1,2,3,4,5]', 1, 5);
SELECT subvector('[1,2,3,4,5]', 4, 10);
SELECT subvector('[1,2,3,4,5]', -1, 3);
SELECT subvector('[1,2,3,4,5]', 5, 1);
SELECT subvector('[1,2,3,4,5]', 2147483647, 2147483647);
\echo :SQLSTATE
SELECT subvector('[1,2,3,4,5]', 6, 1);
\echo :SQLSTATE
SELECT subvector('[1,2,3,4,5]', 1, 0);
\echo :SQLSTATE
SELECT subvector('[1,2,3,4,5]', 1, -3);
\echo :SQLSTATE
SELECT subvector('[1,2,3,4,5]', -5, 3);
\echo :SQLSTATE

-- element-wise arithmetic
SELECT '[1,2,3]'::vector + '[4,5,6]' AS sum,
       '[1,2,3]'::vector - '[4,5,6]' AS difference,
       '[1,2,3]'::vector * '[4,5,6]' AS product;
SELECT vector_add('[1.5]', '[1]'), vector_sub('[1.5]', '[1]'), vector_mul('[1.5]', '[2]');
-- overflow and underflow: 22003
SELECT '[3e38]'::vector + '[3e38]';
\echo :SQLSTATE
SELECT '[-3e38]'::vector - '[3e38]';
\echo :SQLSTATE
SELECT '[1e30]'::vector * '[1e30]';
\echo :SQLSTATE
SELECT '[1e-30]'::vector * '[1e-30]';
\echo :SQLSTATE
SELECT '[0]'::vector * '[1e-30]' AS zero_times_tiny;
-- different dimensions: 22000
SELECT '[1,2]'::vector + '[1,2,3]';
\echo :SQLSTATE
SELECT '[1,2]'::vector - '[1]';
\echo :SQLSTATE
SELECT '[1,2]'::vector * '[1]';
\echo :SQLSTATE

-- concatenation
SELECT '[1,2]'::vector || '[3]' AS concat, vector_concat('[1]', '[2]');
SELECT vector_dims(array_fill(1, ARRAY[8000])::vector || array_fill(2, ARRAY[8000])::vector);
SELECT array_fill(1, ARRAY[8000])::vector || array_fill(2, ARRAY[8001])::vector;
\echo :SQLSTATE
