-- test/demo.sql: the vecq demo, run by test/demo.sh against a fresh cluster.
--
-- A Chroma-style collection (id, embedding, document, metadata) holding the
-- 60,000 fashion-mnist training images from Debian's dataset-fashion-mnist,
-- queried the way a Chroma client would: nearest neighbours of a query
-- embedding, with and without a metadata filter.  Then a k-nearest-neighbour
-- classifier over the 10,000 test images, and nearest-centroid
-- classification with avg(vector).  Then an HNSW index: the same
-- classification through the index, its recall against the exact answers,
-- and the speed-up.  Finally the Chroma API (schema chroma): a collection
-- filled and queried with chroma.add / query / get / update / delete, as a
-- Chroma client would, and a role bound to another tenant that sees none of it.
\set ON_ERROR_STOP on
\pset footer off
\timing on

CREATE EXTENSION vecq;
SELECT extversion AS vecq_version, vecq_simd_level() AS distance_kernels
FROM pg_extension WHERE extname = 'vecq';

-- the classes and a coarse category for metadata filters
CREATE TABLE fashion_class (label int PRIMARY KEY, name text, category text);
INSERT INTO fashion_class VALUES
  (0, 'T-shirt/top', 'tops'), (1, 'Trouser', 'bottoms'), (2, 'Pullover', 'tops'),
  (3, 'Dress', 'dresses'), (4, 'Coat', 'tops'), (5, 'Sandal', 'footwear'),
  (6, 'Shirt', 'tops'), (7, 'Sneaker', 'footwear'), (8, 'Bag', 'accessories'),
  (9, 'Ankle boot', 'footwear');

CREATE TEMP TABLE staging (rownum int, label int, image vector(784));

-- the collection, shaped like a Chroma collection
CREATE TABLE fashion (
  id text PRIMARY KEY,
  embedding vector(784) NOT NULL,
  document text,
  metadata jsonb
);
-- vectors of up to ~2,000 dimensions fit in a heap page: keeping them inline
-- (PLAIN) instead of the type's default EXTERNAL storage saves a TOAST fetch
-- per row in exact scans
ALTER TABLE fashion ALTER COLUMN embedding SET STORAGE PLAIN;

\echo loading 60,000 training images ...
\copy staging FROM PROGRAM 'bash test/demo_fashion_rows.sh train'
INSERT INTO fashion
SELECT 'train-' || rownum, image, c.name,
       jsonb_build_object('label', s.label, 'category', c.category)
FROM staging s JOIN fashion_class c USING (label);
TRUNCATE staging;
\echo loading 10,000 test images (the queries) ...
CREATE TABLE queries (id int PRIMARY KEY, label int, embedding vector(784));
ALTER TABLE queries ALTER COLUMN embedding SET STORAGE PLAIN;
\copy queries FROM PROGRAM 'bash test/demo_fashion_rows.sh t10k'
ANALYZE fashion;
ANALYZE queries;

SELECT count(*) AS records, min(vector_dims(embedding)) AS dims,
       pg_size_pretty(pg_total_relation_size('fashion')) AS size
FROM fashion;

\echo
\echo collection.query(query_embeddings=[test image 1], n_results=5)
SELECT q.id AS query, fc.name AS query_is, f.id, f.document,
       round((f.embedding <-> q.embedding)::numeric, 1) AS l2_distance
FROM queries q JOIN fashion_class fc USING (label),
     LATERAL (SELECT * FROM fashion ORDER BY embedding <-> q.embedding LIMIT 5) f
WHERE q.id = 1;

\echo collection.query(query_embeddings=[test image 2], n_results=5, where={"category": "footwear"})
SELECT q.id AS query, fc.name AS query_is, f.id, f.document,
       round((f.embedding <=> q.embedding)::numeric, 4) AS cosine_distance
FROM queries q JOIN fashion_class fc USING (label),
     LATERAL (SELECT * FROM fashion WHERE metadata->>'category' = 'footwear'
              ORDER BY embedding <=> q.embedding LIMIT 5) f
WHERE q.id = 2;

\echo
\echo 5-nearest-neighbour classification of the first 200 test images (exact L2 search)
SELECT count(*) AS classified,
       sum((predicted = label)::int) AS correct,
       round(avg((predicted = label)::int), 3) AS accuracy
FROM (SELECT q.id, q.label,
             (SELECT (metadata->>'label')::int FROM
                (SELECT metadata FROM fashion ORDER BY embedding <-> q.embedding LIMIT 5) nn
              GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1) AS predicted
      FROM queries q WHERE q.id <= 200) r;

\echo
\echo nearest-centroid classification of all 10,000 test images (centroids = avg(vector))
CREATE TEMP TABLE centroid AS
SELECT (metadata->>'label')::int AS label, avg(embedding) AS c FROM fashion GROUP BY 1;
SELECT round(avg((predicted = label)::int), 3) AS accuracy
FROM (SELECT q.label,
             (SELECT c.label FROM centroid c ORDER BY c.c <-> q.embedding LIMIT 1) AS predicted
      FROM queries q) r;

\echo
\echo an HNSW index on the collection (m = 16, ef_construction = 64)
-- enough memory for the whole graph (~3.5 kB per 784-d row): a fast build
SET maintenance_work_mem = '512MB';
CREATE INDEX fashion_embedding_hnsw ON fashion USING hnsw (embedding vector_l2_ops)
  WITH (m = 16, ef_construction = 64);
SELECT pg_size_pretty(pg_relation_size('fashion_embedding_hnsw')) AS index_size,
       (SELECT count(*) FROM vecq_index_check('fashion_embedding_hnsw', true)) AS index_problems;
SET hnsw.ef_search = 40;
EXPLAIN (COSTS OFF) SELECT id FROM fashion
  ORDER BY embedding <-> (SELECT embedding FROM queries WHERE id = 1) LIMIT 5;

\echo recall@10 of the index on the first 200 test images (exact answers by a sort)
CREATE TEMP TABLE exact AS
SELECT q.id AS q, f.id, f.d FROM queries q,
  LATERAL (SELECT id, (embedding <-> q.embedding) + 0 AS d FROM fashion ORDER BY 2 LIMIT 10) f
WHERE q.id <= 200;
SELECT round(avg(hits) / 10, 3) AS recall_at_10
FROM (SELECT q.id, (SELECT count(*) FROM
        (SELECT embedding <-> q.embedding AS d FROM fashion
         ORDER BY embedding <-> q.embedding LIMIT 10) a
        WHERE a.d <= (SELECT max(d) FROM exact e WHERE e.q = q.id)) AS hits
      FROM queries q WHERE q.id <= 200) r;

\echo 5-nearest-neighbour classification of the same 200 images through the index
SELECT count(*) AS classified,
       sum((predicted = label)::int) AS correct,
       round(avg((predicted = label)::int), 3) AS accuracy
FROM (SELECT q.id, q.label,
             (SELECT (metadata->>'label')::int FROM
                (SELECT metadata FROM fashion ORDER BY embedding <-> q.embedding LIMIT 5) nn
              GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1) AS predicted
      FROM queries q WHERE q.id <= 200) r;

\echo collection.query(test image 2, n_results=5, where={"category": "footwear"}) through the index
SELECT q.id AS query, f.id, f.document,
       round((f.embedding <-> q.embedding)::numeric, 1) AS l2_distance
FROM queries q,
     LATERAL (SELECT * FROM fashion WHERE metadata->>'category' = 'footwear'
              ORDER BY embedding <-> q.embedding LIMIT 5) f
WHERE q.id = 2;

\echo
\echo the Chroma API (schema chroma): a collection of 10,000 training images
SELECT name, space, configuration -> 'hnsw' AS hnsw
FROM chroma.create_collection('fashion-mnist', '{"source": "dataset-fashion-mnist"}',
                              '{"hnsw": {"space": "l2", "ef_search": 40}}');
-- collection.add() in batches of 2,000, as a client would send them
SELECT count(chroma.add('fashion-mnist', ids, embeddings, metadatas, documents)) AS add_calls
FROM (SELECT array_agg(id ORDER BY n) AS ids, array_agg(embedding ORDER BY n) AS embeddings,
             array_agg(metadata ORDER BY n) AS metadatas, array_agg(document ORDER BY n) AS documents
      FROM (SELECT *, substr(id, 7)::int AS n FROM fashion) f
      WHERE n <= 10000 GROUP BY (n - 1) / 2000) b;
SELECT chroma.count('fashion-mnist') AS records;

\echo collection.query(query_embeddings=[test image 1], n_results=3)
SELECT query_index, id, round(distance::numeric, 0) AS squared_l2, document, metadata
FROM chroma.query('fashion-mnist', ARRAY[(SELECT embedding FROM queries WHERE id = 1)], 3);

\echo the same as Chroma's HTTP API answers it, with where={"category": "footwear"}
SELECT jsonb_pretty(chroma.query_json('fashion-mnist', ARRAY[(SELECT embedding FROM queries WHERE id = 2)], 3,
                                      "where" => '{"category": "footwear"}',
                                      include => '{documents,distances}'));

\echo collection.get(where={"$and": [{"label": 7}, {"category": "footwear"}]}, limit=3)
SELECT chroma.get_json('fashion-mnist', "where" => '{"$and": [{"label": 7}, {"category": "footwear"}]}',
                       "limit" => 3);

\echo update and delete
SELECT chroma.update('fashion-mnist', '{train-1}', metadatas => ARRAY['{"checked": true}']::jsonb[]);
SELECT id, metadata FROM chroma.get('fashion-mnist', '{train-1}');
SELECT chroma.delete('fashion-mnist', "where" => '{"label": {"$in": [8, 9]}}') AS deleted;
SELECT chroma.count('fashion-mnist') AS records;

\echo a role bound to another Chroma tenant sees none of it
SELECT chroma.create_tenant('acme');
SELECT chroma.create_database('default_database', 'acme');
CREATE ROLE demo_acme;
SELECT vecq.map_role('demo_acme', 'acme');
SET ROLE demo_acme;
SELECT chroma.current_tenant(), chroma.count_collections() AS collections_visible,
       (SELECT count(*) FROM chroma.collections) AS catalog_rows_visible;
RESET ROLE;
SELECT vecq.unmap_role('demo_acme');
DROP ROLE demo_acme;
