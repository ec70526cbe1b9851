-- Comparison operators, the btree opclass, sorting, grouping, uniqueness.

SELECT '[1,2,3]'::vector < '[1,2,4]' AS lt, '[1,2,3]'::vector <= '[1,2,3]' AS le,
       '[1,2,3]'::vector = '[1,2,3]' AS eq, '[1,2,3]'::vector <> '[1,2,3]' AS ne,
       '[1,2,4]'::vector >= '[1,2,3]' AS ge, '[1,2,4]'::vector > '[1,2,3]' AS gt;
-- a prefix sorts first; vectors of different dimensions compare without error
SELECT '[1,2]'::vector < '[1,2,0]' AS prefix_first, '[2]'::vector > '[1,9,9]' AS first_element;
SELECT vector_cmp('[1]', '[2]'), vector_cmp('[2]', '[1]'), vector_cmp('[1]', '[1]'),
       vector_cmp('[1]', '[1,0]');
-- zero and negative zero are equal, as for float4
SELECT '[0]'::vector = '[-0]' AS zero_eq;

CREATE TABLE b (id int, v vector);
INSERT INTO b VALUES (1, '[3]'), (2, '[1,2]'), (3, '[1]'), (4, '[-1,5]'), (5, '[1,2]'),
  (6, NULL), (7, '[1,1.5]'), (8, '[0]'), (9, '[-0]');
SELECT id, v FROM b ORDER BY v, id;
SELECT v, count(*) FROM b GROUP BY v ORDER BY v;
SELECT DISTINCT v FROM b ORDER BY v DESC NULLS LAST;

CREATE INDEX b_v ON b USING btree (v);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM b WHERE v = '[1,2]';
SELECT id FROM b WHERE v = '[1,2]' ORDER BY id;
SELECT id FROM b WHERE v > '[1]' AND v <= '[1,2]' ORDER BY v, id;
RESET enable_seqscan;

-- uniqueness through the opclass
CREATE TABLE u (v vector UNIQUE);
INSERT INTO u VALUES ('[1,2]'), ('[1,2,3]');
INSERT INTO u VALUES ('[1,2]');
\echo :SQLSTATE
-- merge joins use the btree opclass
SET enable_hashjoin = off;
SET enable_nestloop = off;
EXPLAIN (COSTS OFF) SELECT * FROM b JOIN u USING (v);
SELECT b.id, v FROM b JOIN u USING (v) ORDER BY b.id;
RESET enable_hashjoin;
RESET enable_nestloop;
DROP TABLE b, u;
