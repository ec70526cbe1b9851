-- Tenant isolation: vecq.enable_tenant_isolation(), identity by role
-- mapping and by the vecq.tenant setting, and a tenant trying to see,
-- infer or change another tenant's rows every way we know of.

CREATE ROLE regress_vecq_owner;
CREATE ROLE regress_vecq_acme;
CREATE ROLE regress_vecq_globex;
CREATE ROLE regress_vecq_app;			-- an application role, no tenant
CREATE ROLE regress_vecq_pooler;		-- trusted: may set vecq.tenant
CREATE ROLE regress_vecq_bypass BYPASSRLS;
GRANT regress_vecq_app TO regress_vecq_pooler;
GRANT SET ON PARAMETER vecq.tenant TO regress_vecq_pooler;

-- the tenant key is part of every unique constraint (see the README: a
-- unique id across tenants would let a duplicate-key error confirm that
-- another tenant has that id)
CREATE TABLE docs (
	tenant_id text NOT NULL,
	id int NOT NULL,
	body text,
	embedding vector(3),
	PRIMARY KEY (tenant_id, id)
);
ALTER TABLE docs OWNER TO regress_vecq_owner;
INSERT INTO docs VALUES
	('acme', 1, 'acme one', '[1,0,0]'), ('acme', 2, 'acme two', '[2,0,0]'),
	('acme', 3, 'acme three', '[3,0,0]'), ('acme', 4, 'acme four', '[4,0,0]'),
	('acme', 5, 'acme five', '[5,0,0]'),
	('globex', 6, 'globex secret six', '[1,0.1,0]'), ('globex', 7, 'globex secret seven', '[1,0.2,0]'),
	('globex', 8, 'globex secret eight', '[1,0.3,0]'), ('globex', 9, 'globex secret nine', '[1,0.4,0]'),
	('globex', 10, 'globex secret ten', '[1,0.5,0]'),
	('initech', 11, 'initech eleven', '[0,0,1]'), ('initech', 12, 'initech twelve', '[0,0,2]');
GRANT SELECT, INSERT, UPDATE, DELETE ON docs
	TO regress_vecq_acme, regress_vecq_globex, regress_vecq_app, regress_vecq_bypass;
-- statistics gathered before isolation is enabled
ANALYZE docs;
SELECT count(*) AS tenant_stats FROM pg_stats WHERE tablename = 'docs' AND attname = 'tenant_id';

-- errors: no such column, an unsupported type, not a table, an hnsw index
-- without the tenant column as its key
SELECT vecq.enable_tenant_isolation('docs', 'tenant');
\echo :SQLSTATE
SELECT vecq.enable_tenant_isolation('docs', 'embedding');
\echo :SQLSTATE
CREATE VIEW docs_view AS SELECT * FROM docs;
SELECT vecq.enable_tenant_isolation('docs_view', 'tenant_id');
\echo :SQLSTATE
DROP VIEW docs_view;
CREATE INDEX docs_plain ON docs USING hnsw (embedding vector_l2_ops);
SELECT vecq.enable_tenant_isolation('docs', 'tenant_id');
\echo :SQLSTATE
DROP INDEX docs_plain;
-- (the primary key's B-tree starts with the tenant column); then the keyed index
SELECT vecq.enable_tenant_isolation('docs', 'tenant_id');
CREATE INDEX docs_embedding ON docs USING hnsw (embedding vector_l2_ops, tenant_id);
-- idempotent
SELECT vecq.enable_tenant_isolation(tbl => 'docs', tenant_column => 'tenant_id');
SELECT * FROM vecq.isolated_tables();
SELECT count(*) AS tenant_stats FROM pg_stats WHERE tablename = 'docs' AND attname = 'tenant_id';
SELECT polname, polcmd, pg_get_expr(polqual, polrelid) AS using, pg_get_expr(polwithcheck, polrelid) AS with_check
FROM pg_policy WHERE polrelid = 'docs'::regclass;
-- only superusers map roles (unless granted EXECUTE)
SET ROLE regress_vecq_acme;
SELECT vecq.map_role('regress_vecq_acme', 'globex');
\echo :SQLSTATE
SELECT * FROM vecq.tenant_roles;
\echo :SQLSTATE
RESET ROLE;
SELECT vecq.map_role('regress_vecq_acme', 'acme');
SELECT vecq.map_role('regress_vecq_globex', 'globex');
SELECT vecq.map_role('regress_vecq_globex', 'globex');
SELECT role, tenant FROM vecq.tenant_roles ORDER BY role::text;

-- identity (a): a role mapped to a tenant
SET ROLE regress_vecq_acme;
SELECT vecq.current_tenant();
SELECT tenant_id, id, body FROM docs ORDER BY id;
RESET ROLE;
SET ROLE regress_vecq_globex;
SELECT vecq.current_tenant();
SELECT tenant_id, id FROM docs ORDER BY id;
RESET ROLE;

-- the mapping is read once per statement, not once per row, and a change
-- is seen by the next statement (test/specs/tenant_mapping.spec: also a
-- change committed by another session)
BEGIN;
SET LOCAL ROLE regress_vecq_acme;
SET LOCAL enable_indexscan = off;
SET LOCAL enable_bitmapscan = off;
SELECT pg_stat_get_xact_numscans('vecq.tenant_roles_pkey'::regclass) AS reads_before \gset
-- the policy is a filter of both sequential scans, evaluated on every row
SELECT count(*) FROM docs a, docs b WHERE a.body <> b.body;
SELECT pg_stat_get_xact_numscans('vecq.tenant_roles_pkey'::regclass) - :reads_before AS reads;
RESET ROLE;
SELECT vecq.map_role('regress_vecq_acme', 'initech');
SET LOCAL ROLE regress_vecq_acme;
SELECT array_agg(id ORDER BY id) FROM docs;
ROLLBACK;

-- no tenant: no rows, not all rows
SET ROLE regress_vecq_app;
SELECT vecq.current_tenant() IS NULL AS no_tenant;
SELECT count(*) FROM docs;
-- the table owner is subject to the policy too (FORCE ROW LEVEL SECURITY)
RESET ROLE;
SET ROLE regress_vecq_owner;
SELECT count(*) FROM docs;
RESET ROLE;

-- identity (b): vecq.tenant, which only trusted roles may set
SET ROLE regress_vecq_app;
SET vecq.tenant = 'acme';
\echo :SQLSTATE
SELECT set_config('vecq.tenant', 'acme', false);
\echo :SQLSTATE
BEGIN;
SET LOCAL vecq.tenant = 'acme';
ROLLBACK;
RESET vecq.tenant;
\echo :SQLSTATE
SELECT count(*) FROM docs;
RESET ROLE;
-- a function with a SET clause is checked when it runs, as its caller
CREATE FUNCTION regress_switch() RETURNS bigint LANGUAGE sql
	SET vecq.tenant = 'globex' AS 'SELECT count(*) FROM docs';
SET ROLE regress_vecq_app;
SELECT regress_switch();
\echo :SQLSTATE
RESET ROLE;
SET ROLE regress_vecq_pooler;
SET vecq.tenant = 'globex';
SELECT vecq.current_tenant();
-- the application's SQL runs as regress_vecq_app: globex's rows only, and
-- it cannot switch
SET ROLE regress_vecq_app;
SELECT tenant_id, count(*) FROM docs GROUP BY 1;
SET vecq.tenant = 'acme';
\echo :SQLSTATE
SELECT tenant_id, count(*) FROM docs GROUP BY 1;
-- (the documented caveat: RESET ROLE returns to the pooler's own rights,
-- so untrusted SQL must not run in a session whose session user is trusted)
RESET ROLE;
SELECT current_user;
RESET vecq.tenant;
-- in a new session, before the library is loaded, the setting is only a
-- placeholder anyone may set; loading the library (the policy calls
-- vecq.current_tenant()) applies the value as the role that set it, and
-- refuses it
\c -
SET ROLE regress_vecq_app;
SET vecq.tenant = 'globex';
SELECT count(*) FROM docs;
SHOW vecq.tenant;
RESET ROLE;

-- the leak suite, as acme
SET ROLE regress_vecq_acme;
-- direct, by another tenant's key, TABLE, FOR UPDATE
SELECT count(*) FROM docs WHERE tenant_id = 'globex';
SELECT count(*) FROM docs WHERE id = 6;
TABLE docs ORDER BY id LIMIT 1;
SELECT id FROM docs WHERE id IN (1, 6) FOR UPDATE;
-- joins, CTEs, subqueries, set operations
SELECT count(*) AS pairs FROM docs a JOIN docs b ON a.id <> b.id;
SELECT count(*) FROM docs a LEFT JOIN (VALUES (6), (7)) v(id) ON a.id = v.id WHERE v.id IS NOT NULL;
WITH x AS (SELECT * FROM docs) SELECT count(*), array_agg(DISTINCT tenant_id) FROM x;
WITH RECURSIVE r(n) AS (SELECT min(id) FROM docs UNION ALL
	SELECT (SELECT min(id) FROM docs WHERE id > r.n) FROM r WHERE r.n IS NOT NULL)
SELECT array_agg(n) FROM r WHERE n IS NOT NULL;
SELECT (SELECT count(*) FROM docs WHERE tenant_id <> 'acme') AS others,
	   (SELECT max(id) FROM docs) AS max_id,
	   EXISTS (SELECT 1 FROM docs WHERE body LIKE 'globex%') AS any_globex;
SELECT id FROM docs EXCEPT SELECT generate_series(1, 3) ORDER BY 1;
-- a leaky function sees only acme's rows (the policy runs before it)
RESET ROLE;
CREATE FUNCTION regress_leak(text) RETURNS boolean LANGUAGE plpgsql COST 0.0000001
	AS $$ BEGIN RAISE NOTICE 'leak saw %', $1; RETURN true; END $$;
SET ROLE regress_vecq_acme;
SELECT count(*) FROM docs WHERE regress_leak(body);
SELECT count(*) FROM docs WHERE regress_leak(body) AND tenant_id = 'globex';
-- a leakproof one (made by a superuser) may run first, but rows still stop at the policy
RESET ROLE;
CREATE FUNCTION regress_leakproof_eq(text, text) RETURNS boolean LANGUAGE internal
	IMMUTABLE STRICT LEAKPROOF AS 'texteq';
SET ROLE regress_vecq_acme;
SELECT count(*) FROM docs WHERE regress_leakproof_eq(body, 'globex secret six');
-- cursors
BEGIN;
DECLARE c SCROLL CURSOR FOR SELECT id FROM docs ORDER BY id;
FETCH ALL FROM c;
FETCH ABSOLUTE 6 FROM c;
FETCH LAST FROM c;
COMMIT;
-- EXPLAIN ANALYZE counts: through an index the scan sees acme's rows only
SET enable_seqscan = off;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
	SELECT id FROM docs ORDER BY embedding <-> '[0,0,0]' LIMIT 100;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
	SELECT id FROM docs WHERE tenant_id = 'globex';
RESET enable_seqscan;
-- statistics: pg_stats shows nothing of the table to a tenant, and the
-- planner has no statistics of the tenant column, so EXPLAIN's estimate is
-- the same for every tenant, present or not
RESET ROLE;
ANALYZE docs;
SELECT attname FROM pg_stats WHERE tablename = 'docs' ORDER BY 1;
SET ROLE regress_vecq_acme;
SELECT count(*) FROM pg_stats WHERE tablename = 'docs';
EXPLAIN SELECT 1 FROM docs WHERE tenant_id = 'globex';
EXPLAIN SELECT 1 FROM docs WHERE tenant_id = 'initech';
EXPLAIN SELECT 1 FROM docs WHERE tenant_id = 'nobody';
-- prepared statements across tenant switches (role and setting), with
-- generic and custom plans
RESET ROLE;
SET plan_cache_mode = force_generic_plan;
SET ROLE regress_vecq_acme;
PREPARE q AS SELECT array_agg(id ORDER BY id) FROM docs;
PREPARE knn AS SELECT array_agg(id) FROM (SELECT id FROM docs ORDER BY embedding <-> '[1,0,0]' LIMIT 3) s;
EXECUTE q;
EXECUTE knn;
RESET ROLE;
SET ROLE regress_vecq_globex;
EXECUTE q;
EXECUTE knn;
RESET ROLE;
SET plan_cache_mode = force_custom_plan;
SET ROLE regress_vecq_pooler;
SET vecq.tenant = 'initech';
SET ROLE regress_vecq_app;
EXECUTE q;
EXECUTE knn;
RESET ROLE;
SET vecq.tenant = 'acme';
SET ROLE regress_vecq_app;
EXECUTE q;
RESET ROLE;
RESET vecq.tenant;
DEALLOCATE q;
DEALLOCATE knn;
RESET plan_cache_mode;
-- COPY out goes through the policy (COPY FROM a table with row-level
-- security is refused by PostgreSQL itself: "Use INSERT statements instead")
SET ROLE regress_vecq_acme;
COPY docs TO STDOUT;
COPY (SELECT id, body FROM docs WHERE id > 3) TO STDOUT;
-- index-only scans
SET enable_seqscan = off;
SET enable_bitmapscan = off;
SELECT tenant_id, id FROM docs WHERE tenant_id IN ('acme', 'globex') ORDER BY tenant_id, id;
EXPLAIN (COSTS OFF) SELECT tenant_id, id FROM docs WHERE tenant_id = 'globex';
-- the policy alone is an index condition of the B-tree
EXPLAIN (COSTS OFF) SELECT id FROM docs;
RESET enable_seqscan;
RESET enable_bitmapscan;
-- writes: other tenants' rows are not there to change; rows for them are refused
WITH u AS (UPDATE docs SET body = 'mine now' WHERE tenant_id = 'globex' RETURNING 1)
SELECT count(*) AS updated FROM u;
WITH d AS (DELETE FROM docs WHERE id = 6 RETURNING 1) SELECT count(*) AS deleted FROM d;
INSERT INTO docs VALUES ('globex', 99, 'planted', '[0,0,0]');
\echo :SQLSTATE
UPDATE docs SET tenant_id = 'globex' WHERE id = 1;
\echo :SQLSTATE
-- the same key under acme is a row of acme's own
INSERT INTO docs VALUES ('acme', 6, 'acme six', '[6,0,0]') RETURNING tenant_id, id;
INSERT INTO docs VALUES ('acme', 6, 'again', '[6,0,0]') ON CONFLICT (tenant_id, id) DO UPDATE SET body = excluded.body
	RETURNING tenant_id, id, body;
-- vector search: acme's rows only, k of them, through the keyed index
SET enable_seqscan = off;
SET enable_sort = off;
EXPLAIN (COSTS OFF) SELECT id FROM docs ORDER BY embedding <-> '[1,0.1,0]' LIMIT 3;
SELECT id FROM docs ORDER BY embedding <-> '[1,0.1,0]' LIMIT 3;
SELECT count(*) FROM (SELECT id FROM docs ORDER BY embedding <-> '[1,0.1,0]' LIMIT 100) s;
SET vecq.key_exact_scan_limit = 0;
SELECT id FROM docs ORDER BY embedding <-> '[1,0.1,0]' LIMIT 3;
RESET vecq.key_exact_scan_limit;
RESET enable_sort;
RESET enable_seqscan;
RESET ROLE;

-- neither the owner's view (the policy applies, with the session's tenant)
-- nor the owner's SECURITY DEFINER function (it runs as the owner, who has
-- no tenant) opens a way around the policy
CREATE VIEW docs_all AS SELECT * FROM docs;
ALTER VIEW docs_all OWNER TO regress_vecq_owner;
GRANT SELECT ON docs_all TO regress_vecq_acme;
CREATE FUNCTION docs_count() RETURNS bigint LANGUAGE sql SECURITY DEFINER AS 'SELECT count(*) FROM docs';
ALTER FUNCTION docs_count() OWNER TO regress_vecq_owner;
SET ROLE regress_vecq_acme;
SELECT count(*) FROM docs_all;
SELECT docs_count();
RESET ROLE;

-- outside the model: superusers and BYPASSRLS roles see every row
SELECT count(*) FROM docs;
SET ROLE regress_vecq_bypass;
SELECT count(*) FROM docs;
RESET ROLE;

-- disable: idempotent, and the table is plain again
SELECT vecq.disable_tenant_isolation('docs');
SELECT vecq.disable_tenant_isolation('docs');
SELECT count(*) FROM vecq.isolated_tables();
SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = 'docs'::regclass;
SELECT attstattarget FROM pg_attribute WHERE attrelid = 'docs'::regclass AND attname = 'tenant_id';
-- only the owner may clear statistics, or enable and disable isolation
SET ROLE regress_vecq_acme;
SELECT vecq.clear_column_statistics('docs', 'body');
\echo :SQLSTATE
SELECT vecq.enable_tenant_isolation('docs', 'tenant_id');
\echo :SQLSTATE
SELECT vecq.disable_tenant_isolation('docs');
\echo :SQLSTATE
SELECT vecq.save_rls_state('docs');
\echo :SQLSTATE
INSERT INTO vecq.tenant_tables VALUES ('docs', true, true);
\echo :SQLSTATE
RESET ROLE;

-- a table with row-level security of its own: a restrictive policy stays
-- in force with vecq's, and disabling isolation gives the table back as it
-- was; another permissive policy would widen what tenants see, and is refused
CREATE TABLE notes (tenant_id int, id int, body text, PRIMARY KEY (tenant_id, id));
ALTER TABLE notes OWNER TO regress_vecq_owner;
INSERT INTO notes VALUES (1, 1, 'one'), (1, 2, 'two, hidden'), (2, 3, 'three');
GRANT SELECT ON notes TO regress_vecq_app, regress_vecq_pooler;
ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY readable ON notes USING (true);
CREATE POLICY not_hidden ON notes AS RESTRICTIVE USING (body NOT LIKE '%hidden');
SET ROLE regress_vecq_owner;
SELECT vecq.enable_tenant_isolation('notes', 'tenant_id');
\echo :SQLSTATE
RESET ROLE;
DROP POLICY readable ON notes;
SET ROLE regress_vecq_owner;
SELECT vecq.enable_tenant_isolation('notes', 'tenant_id');
SELECT vecq.enable_tenant_isolation('notes', 'tenant_id');
SELECT * FROM vecq.tenant_tables;
SELECT * FROM vecq.isolated_tables();
RESET ROLE;
SET ROLE regress_vecq_pooler;
SET vecq.tenant = '1';
SELECT * FROM notes;
RESET vecq.tenant;
RESET ROLE;
SET ROLE regress_vecq_owner;
SELECT vecq.disable_tenant_isolation('notes');
SELECT vecq.disable_tenant_isolation('notes');
RESET ROLE;
SELECT count(*) FROM vecq.tenant_tables;
SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = 'notes'::regclass;
SELECT polname FROM pg_policy WHERE polrelid = 'notes'::regclass;
-- a policy vecq has no record of: dropped, row-level security left as it is
CREATE POLICY vecq_tenant_isolation ON notes USING (tenant_id = vecq.current_tenant()::int);
SELECT vecq.disable_tenant_isolation('notes');
SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = 'notes'::regclass;
DROP TABLE notes;

DROP VIEW docs_all;
DROP FUNCTION docs_count(), regress_leak(text), regress_leakproof_eq(text, text), regress_switch();
DROP TABLE docs;
SELECT vecq.unmap_role('regress_vecq_acme');
SELECT vecq.unmap_role('regress_vecq_globex');
REVOKE SET ON PARAMETER vecq.tenant FROM regress_vecq_pooler;
DROP ROLE regress_vecq_owner, regress_vecq_acme, regress_vecq_globex, regress_vecq_app,
	regress_vecq_pooler, regress_vecq_bypass;
