-- 100,000 tenants in one table: no object per tenant, no memory per tenant
-- in the backend, and every tenant's search answered from its own rows.

CREATE FUNCTION svec(i int) RETURNS vector LANGUAGE sql IMMUTABLE AS
	'SELECT ARRAY[sin(i), cos(i), sin(i * 0.37), cos(i * 0.71)]::float4[]::vector';

CREATE TABLE scale (tenant_id int NOT NULL, id int NOT NULL, embedding vector(4),
	PRIMARY KEY (tenant_id, id));
SELECT vecq.enable_tenant_isolation('scale', 'tenant_id');
CREATE INDEX scale_embedding ON scale USING hnsw (embedding vector_l2_ops, tenant_id)
	WITH (m = 8, ef_construction = 32);

-- the objects of the database before and after the tenants arrive
SELECT count(*) AS relations_before FROM pg_class \gset
SELECT count(*) AS policies_before FROM pg_policy \gset
-- one row per tenant; half the tenants come with the build, half by
-- inserts into the index
INSERT INTO scale SELECT i, i, svec(i) FROM generate_series(0, 49999) i;
REINDEX INDEX scale_embedding;
INSERT INTO scale SELECT i, i, svec(i) FROM generate_series(50000, 99999) i;
SELECT count(DISTINCT tenant_id) AS tenants, count(*) AS rows FROM scale;
SELECT (SELECT count(*) FROM pg_class) - :relations_before AS new_relations,
	   (SELECT count(*) FROM pg_policy) - :policies_before AS new_policies;
-- (one-at-a-time inserts can leave elements unreached until VACUUM)
VACUUM scale;
SELECT * FROM vecq_index_check('scale_embedding');

-- 5,000 tenants' searches in one backend: each gets its row, nobody
-- else's, and the backend's memory does not grow with the tenants seen
CREATE FUNCTION search_tenants(first int, n int) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	got int[];
	bad int := 0;
BEGIN
	SET LOCAL enable_seqscan = off;
	SET LOCAL enable_bitmapscan = off;
	SET LOCAL enable_indexscan = on;
	FOR t IN first .. first + n - 1 LOOP
		SELECT array_agg(id) INTO got FROM
			(SELECT id FROM scale WHERE tenant_id = (t * 7919) % 100000
			 ORDER BY embedding <-> svec(-t) LIMIT 10) s;
		IF got IS DISTINCT FROM ARRAY[(t * 7919) % 100000] THEN
			bad := bad + 1;
		END IF;
	END LOOP;
	RETURN format('%s tenants, %s wrong', n, bad);
END $$;
SELECT search_tenants(1, 500);
CREATE TEMP TABLE mem AS SELECT sum(total_bytes) AS bytes FROM pg_backend_memory_contexts;
SELECT search_tenants(501, 5000);
SELECT sum(total_bytes) - (SELECT bytes FROM mem) < 262144 AS memory_flat
FROM pg_backend_memory_contexts;
EXPLAIN (COSTS OFF) SELECT id FROM scale WHERE tenant_id = 12345 ORDER BY embedding <-> svec(1) LIMIT 10;

SELECT vecq.disable_tenant_isolation('scale');
DROP TABLE scale;
DROP FUNCTION svec(int), search_tenants(int, int);
