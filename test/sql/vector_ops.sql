-- Distance functions and operators.

SELECT '[1,2,3]'::vector <-> '[4,6,8]' AS l2,
       l2_distance('[1,2,3]', '[4,6,8]') AS l2_fn,
       l2_squared_distance('[1,2,3]', '[4,6,8]') AS l2_sq,
       vector_l2_squared_distance('[1,2,3]', '[4,6,8]') AS l2_sq_fn;
SELECT '[1,2,3]'::vector <#> '[4,5,6]' AS neg_ip,
       inner_product('[1,2,3]', '[4,5,6]') AS ip,
       vector_negative_inner_product('[1,2,3]', '[4,5,6]') AS neg_ip_fn;
SELECT '[1,2]'::vector <=> '[2,4]' AS cos_same_dir,
       '[1,0]'::vector <=> '[0,1]' AS cos_orthogonal,
       '[1,1]'::vector <=> '[-1,-1]' AS cos_opposite,
       cosine_distance('[3,4]', '[4,3]') AS cos_fn;
SELECT '[1,2,3]'::vector <+> '[4,0,9]' AS l1,
       l1_distance('[1,-2,3]', '[-1,2,-3]') AS l1_fn;

-- identical vectors
SELECT '[1.5,-2]'::vector <-> '[1.5,-2]' AS l2_self,
       '[1.5,-2]'::vector <=> '[1.5,-2]' AS cos_self,
       '[1.5,-2]'::vector <+> '[1.5,-2]' AS l1_self;

-- cosine with a zero vector is undefined: NaN
SELECT '[0,0]'::vector <=> '[1,1]' AS cos_zero_left,
       '[1,1]'::vector <=> '[0,0]' AS cos_zero_right,
       '[0,0]'::vector <=> '[0,0]' AS cos_zero_both;

-- commutators
SELECT o.oprname, o.oprcode, c.oprname AS commutator
FROM pg_operator o LEFT JOIN pg_operator c ON c.oid = o.oprcom
WHERE o.oprleft = 'vector'::regtype AND o.oprname IN ('<->', '<#>', '<=>', '<+>')
ORDER BY 1;

-- accuracy at the float4 limits: sums are kept in double
SELECT '[3e38,3e38]'::vector <-> '[-3e38,-3e38]' AS l2_huge,
       inner_product('[3e38,3e38]', '[3e38,3e38]') AS ip_huge,
       '[1e-30,1e-30]'::vector <-> '[-1e-30,-1e-30]' AS l2_tiny,
       '[3e38,3e38]'::vector <=> '[1e-30,1e-30]' AS cos_mixed_scale;

-- exactness on integers at many dimensions (every SIMD tail length)
SELECT n,
       l2_squared_distance(a, b) = n * 4 AS l2_exact,
       inner_product(a, b) = n * 3 AS ip_exact,
       l1_distance(a, b) = n * 2 AS l1_exact,
       abs(cosine_distance(a, b) - (1 - 3 / sqrt(1 * 9.0))) < 1e-12 AS cos_ok
FROM (SELECT n, array_fill(1, ARRAY[n])::vector AS a, array_fill(3, ARRAY[n])::vector AS b
      FROM generate_series(1, 70) n
      UNION ALL
      SELECT n, array_fill(1, ARRAY[n])::vector, array_fill(3, ARRAY[n])::vector
      FROM unnest(ARRAY[127, 128, 129, 255, 256, 257, 767, 768, 769, 1536, 15999, 16000]) n) s
WHERE NOT (l2_squared_distance(a, b) = n * 4 AND inner_product(a, b) = n * 3
           AND l1_distance(a, b) = n * 2)
   OR n IN (1, 16, 17, 16000);

-- every SIMD level gives the same answers as the scalar kernels
CREATE TABLE rnd (id int, v vector(777));
SELECT setseed(0.5);
INSERT INTO rnd SELECT i, array_agg(random() * 2 - 1)::real[]::vector
FROM generate_series(1, 20) i, generate_series(1, 777) j GROUP BY i;
CREATE TEMP TABLE fast AS
SELECT a.id AS a, b.id AS b, a.v <-> b.v AS l2, a.v <#> b.v AS ip,
       a.v <=> b.v AS cos, a.v <+> b.v AS l1
FROM rnd a, rnd b;
SET vecq.simd = scalar;
SELECT vecq_simd_level();
SELECT count(*) AS pairs,
       max(abs(f.l2 - (a.v <-> b.v)) / f.l2) < 1e-12 AS l2_agrees,
       max(abs(f.ip - (a.v <#> b.v))) < 1e-9 AS ip_agrees,
       max(abs(f.cos - (a.v <=> b.v))) < 1e-12 AS cos_agrees,
       max(abs(f.l1 - (a.v <+> b.v)) / f.l1) < 1e-12 AS l1_agrees
FROM fast f JOIN rnd a ON a.id = f.a JOIN rnd b ON b.id = f.b
WHERE a.id <> b.id;
RESET vecq.simd;
SET vecq.simd = 'neon';
\echo :SQLSTATE
DROP TABLE rnd;

-- operands of different dimensions: 22000
SELECT '[1,2]'::vector <-> '[1,2,3]';
\echo :SQLSTATE
SELECT '[1,2]'::vector <#> '[1,2,3]';
\echo :SQLSTATE
SELECT '[1,2]'::vector <=> '[1,2,3]';
\echo :SQLSTATE
SELECT '[1,2]'::vector <+> '[1,2,3]';
\echo :SQLSTATE
SELECT l2_squared_distance('[1,2]', '[1,2,3]');
\echo :SQLSTATE
SELECT inner_product('[1,2]', '[1,2,3]');
\echo :SQLSTATE

-- nearest-neighbour queries by exact scan, every operator
CREATE TABLE pts (id int, v vector(2));
INSERT INTO pts VALUES (1, '[0,0]'), (2, '[1,0]'), (3, '[0,2]'), (4, '[3,3]'), (5, '[-1,-1]');
SELECT id, v <-> '[1,1]' AS d FROM pts ORDER BY v <-> '[1,1]', id LIMIT 3;
SELECT id, v <#> '[1,1]' AS d FROM pts ORDER BY v <#> '[1,1]', id LIMIT 3;
SELECT id, v <=> '[1,1]' AS d FROM pts WHERE id <> 1 ORDER BY v <=> '[1,1]', id LIMIT 3;
SELECT id, v <+> '[1,1]' AS d FROM pts ORDER BY v <+> '[1,1]', id LIMIT 3;
DROP TABLE pts;

-- operands stored out of line: a call site keeps a TOAST pointer it is
-- passed again (vector_arg.c); every distance must still be the one to the
-- same value inline (v::text::vector), as the pointers change under it
CREATE TABLE toasted (id int, v vector(700), h halfvec(1100));
INSERT INTO toasted
SELECT i, (SELECT array_agg(sin(i * 7.0 + j)::real) FROM generate_series(1, 700) j)::vector,
       (SELECT array_agg(cos(i * 3.0 + j)::real) FROM generate_series(1, 1100) j)::halfvec
FROM generate_series(1, 12) i;
-- both columns of every row out of line: 24 values
SELECT reltoastrelid::regclass AS toastrel FROM pg_class WHERE relname = 'toasted' \gset
SELECT count(DISTINCT chunk_id) AS toasted_values FROM :toastrel;
SELECT count(*) AS pairs,
       count(*) FILTER (WHERE a.v <-> b.v = a.v::text::vector <-> b.v::text::vector
                          AND a.v <#> b.v = a.v::text::vector <#> b.v::text::vector
                          AND a.v <=> b.v IS NOT DISTINCT FROM a.v::text::vector <=> b.v::text::vector
                          AND a.v <+> b.v = a.v::text::vector <+> b.v::text::vector
                          AND l2_squared_distance(a.v, b.v) = l2_squared_distance(a.v::text::vector, b.v::text::vector)
                          AND inner_product(b.v, a.v) = inner_product(b.v::text::vector, a.v::text::vector)
                          AND a.h <-> b.h = a.h::text::halfvec <-> b.h::text::halfvec
                          AND a.h <=> b.h = a.h::text::halfvec <=> b.h::text::halfvec) AS agree
FROM toasted a, toasted b;
-- the same query value for every row, from a sub-select (a TOAST pointer)
SELECT id, round((v <-> (SELECT v FROM toasted WHERE id = 5))::numeric, 6) AS d
FROM toasted ORDER BY v <-> (SELECT v FROM toasted WHERE id = 5), id LIMIT 4;
SELECT id, round((v <-> (SELECT v::text::vector FROM toasted WHERE id = 5))::numeric, 6) AS d
FROM toasted ORDER BY v <-> (SELECT v::text::vector FROM toasted WHERE id = 5), id LIMIT 4;
SELECT id, round(((SELECT h FROM toasted WHERE id = 2) <=> h)::numeric, 6) AS d
FROM toasted ORDER BY 2, id LIMIT 3;
DROP TABLE toasted;
