/* sql/vecq--0.2.0--0.3.0.sql: vecq 0.3.0 adds tenant isolation */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION vecq UPDATE TO '0.3.0'" to load this file. \quit

--
-- Key columns of HNSW indexes.  An HNSW index may have a second column, the
-- key (typically a tenant id), after the vector:
--
--   CREATE INDEX ON docs USING hnsw (embedding vector_cosine_ops, tenant_id);
--   SELECT id FROM docs WHERE tenant_id = 42 ORDER BY embedding <=> $1 LIMIT 10;
--
-- The scan takes "key = value" (written in the query or coming from a
-- row-level security policy) and searches only that key's elements.  A key
-- opclass has the type's equality operator at strategy 1 and the type's
-- hash function as support function 2: the index stores a 32-bit hash of
-- each row's key, and the executor rechecks the condition on the row.
--

CREATE OPERATOR CLASS int4_ops
	DEFAULT FOR TYPE int4 USING hnsw AS
	OPERATOR 1 = (int4, int4),
	FUNCTION 2 hashint4(int4);

CREATE OPERATOR CLASS int8_ops
	DEFAULT FOR TYPE int8 USING hnsw AS
	OPERATOR 1 = (int8, int8),
	FUNCTION 2 hashint8(int8);

CREATE OPERATOR CLASS text_ops
	DEFAULT FOR TYPE text USING hnsw AS
	OPERATOR 1 = (text, text),
	FUNCTION 2 hashtext(text);

CREATE OPERATOR CLASS uuid_ops
	DEFAULT FOR TYPE uuid USING hnsw AS
	OPERATOR 1 = (uuid, uuid),
	FUNCTION 2 uuid_hash(uuid);

--
-- Tenant isolation (schema vecq): see the section below.
--
--
-- Bit strings (pgvector's names): binary_quantize(vector) -> bit, Hamming
-- and Jaccard distances between bit strings of the same length.
--

CREATE FUNCTION binary_quantize(vector) RETURNS bit
	AS 'MODULE_PATHNAME', 'vector_binary_quantize'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION hamming_distance(bit, bit) RETURNS float8
	AS 'MODULE_PATHNAME', 'bit_hamming_distance'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION jaccard_distance(bit, bit) RETURNS float8
	AS 'MODULE_PATHNAME', 'bit_jaccard_distance'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE OPERATOR <~> (
	LEFTARG = bit, RIGHTARG = bit, PROCEDURE = hamming_distance,
	COMMUTATOR = '<~>'
);

CREATE OPERATOR <%> (
	LEFTARG = bit, RIGHTARG = bit, PROCEDURE = jaccard_distance,
	COMMUTATOR = '<%>'
);

--
-- HNSW on bit(n) columns: Hamming (<~>) and Jaccard (<%>) distances.  The
-- index stores the bits themselves.
--

CREATE FUNCTION hnsw_metric_hamming(internal) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C;
CREATE FUNCTION hnsw_metric_jaccard(internal) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C;

CREATE OPERATOR CLASS bit_hamming_ops
	FOR TYPE bit USING hnsw AS
	OPERATOR 1 <~> (bit, bit) FOR ORDER BY float_ops,
	FUNCTION 1 hnsw_metric_hamming(internal);

CREATE OPERATOR CLASS bit_jaccard_ops
	FOR TYPE bit USING hnsw AS
	OPERATOR 1 <%> (bit, bit) FOR ORDER BY float_ops,
	FUNCTION 1 hnsw_metric_jaccard(internal);

--
-- Who the tenant is (src/tenant/tenant.c): the setting vecq.tenant (only
-- superusers and roles granted SET on it may set it), else the tenant
-- mapped to current_user in vecq.tenant_roles, else NULL (no rows).
--

CREATE SCHEMA vecq;
GRANT USAGE ON SCHEMA vecq TO PUBLIC;

CREATE TABLE vecq.tenant_roles (
	role regrole PRIMARY KEY,
	tenant text NOT NULL CHECK (tenant <> '')
);
REVOKE ALL ON vecq.tenant_roles FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('vecq.tenant_roles', '');

CREATE FUNCTION vecq.current_tenant() RETURNS text
	AS 'MODULE_PATHNAME', 'vecq_current_tenant'
	LANGUAGE C STABLE PARALLEL SAFE;

-- vecq.map_role(role, tenant) / vecq.unmap_role(role): maintain the
-- mapping.  Superusers only, unless granted EXECUTE.
CREATE FUNCTION vecq.map_role(role regrole, tenant text) RETURNS void
	LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	AS $$
	INSERT INTO vecq.tenant_roles AS t (role, tenant) VALUES ($1, $2)
	ON CONFLICT (role) DO UPDATE SET tenant = excluded.tenant
$$;
CREATE FUNCTION vecq.unmap_role(role regrole) RETURNS void
	LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	AS $$ DELETE FROM vecq.tenant_roles WHERE role = $1 $$;
REVOKE ALL ON FUNCTION vecq.map_role(regrole, text), vecq.unmap_role(regrole) FROM PUBLIC;

-- vecq.tenant_tables: whether each isolated table had row-level security
-- enabled and forced before vecq.enable_tenant_isolation(), so that
-- vecq.disable_tenant_isolation() restores it (a table whose own policies
-- were in force keeps them in force).  Written only by
-- vecq.save_rls_state() and vecq.forget_rls_state(), for the table's owner
-- (src/tenant/tenant.c); readable by all, like pg_policy.
CREATE TABLE vecq.tenant_tables (
	tbl regclass PRIMARY KEY,
	rls_was_enabled boolean NOT NULL,
	rls_was_forced boolean NOT NULL
);
REVOKE ALL ON vecq.tenant_tables FROM PUBLIC;
GRANT SELECT ON vecq.tenant_tables TO PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('vecq.tenant_tables', '');

CREATE FUNCTION vecq.save_rls_state(tbl regclass) RETURNS void
	AS 'MODULE_PATHNAME', 'vecq_save_rls_state'
	LANGUAGE C STRICT VOLATILE;
CREATE FUNCTION vecq.forget_rls_state(tbl regclass,
		OUT found boolean, OUT rls_enabled boolean, OUT rls_forced boolean)
	AS 'MODULE_PATHNAME', 'vecq_forget_rls_state'
	LANGUAGE C STRICT VOLATILE;

-- vecq.clear_column_statistics(tbl, col): drop a column's planner
-- statistics (table owners only; see src/tenant/tenant.c).
CREATE FUNCTION vecq.clear_column_statistics(tbl regclass, col name) RETURNS void
	AS 'MODULE_PATHNAME', 'vecq_clear_column_statistics'
	LANGUAGE C STRICT VOLATILE;

--
-- vecq.enable_tenant_isolation(tbl, tenant_column): force row-level
-- security on tbl with one policy, vecq_tenant_isolation, for every command:
-- rows with tenant_column = vecq.current_tenant() only, for reading and for
-- writing.  The caller must own the table (ALTER TABLE checks).  Calling it
-- again replaces the policy (for another column, say).  An hnsw index on
-- the table must have the tenant column as its key column (second column),
-- or searches through it would filter after the index; with no index on
-- the column yet, a NOTICE suggests one.  The tenant column gets no planner
-- statistics (target 0, existing ones removed), so that EXPLAIN's row
-- estimates do not tell one tenant how many rows another has.  The
-- table's row-level security flags from before are kept in
-- vecq.tenant_tables.
--
CREATE FUNCTION vecq.enable_tenant_isolation(tbl regclass, tenant_column name) RETURNS void
	LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	att record;
	idx record;
	cast_to text;
	indexed boolean := false;
	others text;
BEGIN
	IF (SELECT relkind FROM pg_class WHERE oid = tbl) NOT IN ('r', 'p') THEN
		RAISE EXCEPTION '"%" is not a table', tbl
			USING ERRCODE = 'wrong_object_type';
	END IF;
	-- owner only; locks the table; remembers its row-level security flags
	PERFORM vecq.save_rls_state(tbl);
	SELECT a.attnum, a.atttypid, format_type(a.atttypid, NULL) AS typname INTO att
	FROM pg_attribute a
	WHERE a.attrelid = tbl AND a.attname = tenant_column AND a.attnum > 0 AND NOT a.attisdropped;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'column "%" of relation "%" does not exist', tenant_column, tbl
			USING ERRCODE = 'undefined_column';
	END IF;
	cast_to := CASE att.atttypid
		WHEN 'integer'::regtype THEN '::integer'
		WHEN 'bigint'::regtype THEN '::bigint'
		WHEN 'uuid'::regtype THEN '::uuid'
		WHEN 'text'::regtype THEN ''
		WHEN 'character varying'::regtype THEN ''
	END;
	IF cast_to IS NULL THEN
		RAISE EXCEPTION 'tenant column "%" has type %, which tenant isolation does not support', tenant_column, att.typname
			USING ERRCODE = 'datatype_mismatch',
				  HINT = 'Use a column of type integer, bigint, text, varchar or uuid.';
	END IF;

	FOR idx IN
		SELECT i.indexrelid::regclass AS name, am.amname, i.indnkeyatts, i.indkey
		FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam
		WHERE i.indrelid = tbl
	LOOP
		IF idx.amname = 'hnsw' THEN
			IF idx.indnkeyatts < 2 OR idx.indkey[1] <> att.attnum THEN
				RAISE EXCEPTION 'hnsw index "%" does not have "%" as its key column', idx.name, tenant_column
					USING ERRCODE = 'object_not_in_prerequisite_state',
						  DETAIL = 'A search of one tenant through it would read other tenants'' rows and drop them after the index.',
						  HINT = format('Create the index with the tenant column as its second column, as in CREATE INDEX ON %s USING hnsw (embedding vector_cosine_ops, %I), and drop this one.', tbl, tenant_column);
			END IF;
			indexed := true;
		ELSIF idx.indkey[0] = att.attnum THEN
			indexed := true;
		END IF;
	END LOOP;
	-- permissive policies are ORed: another one would let rows of other
	-- tenants through (restrictive ones, ANDed, only narrow what is seen)
	SELECT string_agg(quote_ident(polname), ', ' ORDER BY polname) INTO others
	FROM pg_policy
	WHERE polrelid = tbl AND polpermissive AND polname <> 'vecq_tenant_isolation';
	IF others IS NOT NULL THEN
		RAISE EXCEPTION 'table "%" has other permissive row-level security policies: %', tbl, others
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = 'Permissive policies are combined with OR, so they would show rows of other tenants.',
				  HINT = 'Drop them, or create them again AS RESTRICTIVE.';
	END IF;
	IF NOT indexed THEN
		RAISE NOTICE 'no index of "%" has "%" as its key', tbl, tenant_column
			USING HINT = format('For tenant-filtered vector search: CREATE INDEX ON %s USING hnsw (embedding vector_cosine_ops, %I).', tbl, tenant_column);
	END IF;

	EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tbl);
	EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', tbl);
	EXECUTE format('ALTER TABLE %s ALTER COLUMN %I SET STATISTICS 0', tbl, tenant_column);
	PERFORM vecq.clear_column_statistics(tbl, tenant_column);
	IF EXISTS (SELECT 1 FROM pg_policy WHERE polrelid = tbl AND polname = 'vecq_tenant_isolation') THEN
		EXECUTE format('DROP POLICY vecq_tenant_isolation ON %s', tbl);
	END IF;
	EXECUTE format('CREATE POLICY vecq_tenant_isolation ON %s AS PERMISSIVE FOR ALL '
				   'USING (%2$I = vecq.current_tenant()%3$s) WITH CHECK (%2$I = vecq.current_tenant()%3$s)',
				   tbl, tenant_column, cast_to);
END
$$;

-- vecq.disable_tenant_isolation(tbl): drop vecq's policy from tbl, put
-- row-level security back as it was before enable_tenant_isolation() (off,
-- unless the table had it on: its own policies stay in force), and give
-- the tenant column its default statistics target again.  Without a record
-- of the state before (the policy made by hand), row-level security is
-- left as it is: with no policy left, nobody but superusers and BYPASSRLS
-- roles (and the owner, without FORCE) sees a row until the owner decides.
CREATE FUNCTION vecq.disable_tenant_isolation(tbl regclass) RETURNS void
	LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	col name;
	saved record;
BEGIN
	-- owner only; locks the table
	saved := vecq.forget_rls_state(tbl);
	SELECT tenant_column INTO col FROM vecq.isolated_tables() t WHERE t.tbl = $1;
	IF NOT EXISTS (SELECT 1 FROM pg_policy WHERE polrelid = tbl AND polname = 'vecq_tenant_isolation') THEN
		RETURN;
	END IF;
	EXECUTE format('DROP POLICY vecq_tenant_isolation ON %s', tbl);
	IF saved.found THEN
		IF NOT saved.rls_forced THEN
			EXECUTE format('ALTER TABLE %s NO FORCE ROW LEVEL SECURITY', tbl);
		END IF;
		IF NOT saved.rls_enabled THEN
			EXECUTE format('ALTER TABLE %s DISABLE ROW LEVEL SECURITY', tbl);
		END IF;
	ELSE
		RAISE NOTICE 'row-level security of "%" left as it is', tbl
			USING DETAIL = 'vecq has no record of the table''s row-level security before the policy was created.',
				  HINT = format('If the table should have none: ALTER TABLE %s NO FORCE ROW LEVEL SECURITY, DISABLE ROW LEVEL SECURITY.', tbl);
	END IF;
	IF col IS NOT NULL THEN
		EXECUTE format('ALTER TABLE %s ALTER COLUMN %I SET STATISTICS -1', tbl, col);
	END IF;
END
$$;

-- vecq.isolated_tables(): the tables with vecq's policy, their tenant
-- column (the column the policy depends on), whether row-level security is
-- enabled and forced, and an hnsw index keyed by the tenant column.
CREATE FUNCTION vecq.isolated_tables()
	RETURNS TABLE (tbl regclass, tenant_column name, column_type regtype,
				   rls_enabled boolean, rls_forced boolean, keyed_index regclass)
	LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT DISTINCT p.polrelid::regclass, a.attname, a.atttypid::regtype,
		   c.relrowsecurity, c.relforcerowsecurity,
		   (SELECT i.indexrelid::regclass
			FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
			JOIN pg_am am ON am.oid = ic.relam
			WHERE i.indrelid = p.polrelid AND am.amname = 'hnsw'
			  AND i.indnkeyatts = 2 AND i.indkey[1] = a.attnum
			ORDER BY 1 LIMIT 1)
	FROM pg_policy p
	JOIN pg_class c ON c.oid = p.polrelid
	JOIN pg_depend d ON d.classid = 'pg_policy'::regclass AND d.objid = p.oid
		AND d.refclassid = 'pg_class'::regclass AND d.refobjid = p.polrelid AND d.refobjsubid > 0
	JOIN pg_attribute a ON a.attrelid = p.polrelid AND a.attnum = d.refobjsubid
	WHERE p.polname = 'vecq_tenant_isolation'
$$;
