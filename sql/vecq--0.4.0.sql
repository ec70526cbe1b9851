/* sql/vecq--0.1.0.sql: install script of vecq 0.1.0 */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION vecq" to load this file. \quit

--
-- The vector type.  Names, signatures, operators, casts and the text and
-- binary formats are those of pgvector, so that clients and ORMs written
-- for pgvector work unchanged.
--
-- Every function is IMMUTABLE STRICT PARALLEL SAFE.  LEAKPROOF are the ones
-- that cannot raise an error for any valid input (comparisons, hashes,
-- vector_dims, vector_norm, l2_normalize); distances and arithmetic are not,
-- because their errors (different dimensions, overflow) depend on the data.
--

CREATE TYPE vector;

CREATE FUNCTION vector_in(cstring, oid, integer) RETURNS vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION vector_out(vector) RETURNS cstring
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION vector_typmod_in(cstring[]) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION vector_recv(internal, oid, integer) RETURNS vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION vector_send(vector) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- float4 elements never compress, so keep vectors uncompressed (external)
CREATE TYPE vector (
	INPUT = vector_in,
	OUTPUT = vector_out,
	TYPMOD_IN = vector_typmod_in,
	RECEIVE = vector_recv,
	SEND = vector_send,
	STORAGE = external
);

COMMENT ON TYPE vector IS 'vector of float4 elements, 1 to 16000 dimensions';

-- distances

CREATE FUNCTION l2_distance(vector, vector) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION inner_product(vector, vector) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION cosine_distance(vector, vector) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION l1_distance(vector, vector) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION vector_l2_squared_distance(vector, vector) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- the issue's name for the same helper
CREATE FUNCTION l2_squared_distance(vector, vector) RETURNS float8
	AS 'MODULE_PATHNAME', 'vector_l2_squared_distance'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION vector_negative_inner_product(vector, vector) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- other functions

CREATE FUNCTION vector_dims(vector) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE FUNCTION vector_norm(vector) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE FUNCTION l2_normalize(vector) RETURNS vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE FUNCTION subvector(vector, integer, integer) RETURNS vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION vector_add(vector, vector) RETURNS vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION vector_sub(vector, vector) RETURNS vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION vector_mul(vector, vector) RETURNS vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION vector_concat(vector, vector) RETURNS vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- comparisons (btree)

CREATE FUNCTION vector_lt(vector, vector) RETURNS bool
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE FUNCTION vector_le(vector, vector) RETURNS bool
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE FUNCTION vector_eq(vector, vector) RETURNS bool
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE FUNCTION vector_ne(vector, vector) RETURNS bool
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE FUNCTION vector_ge(vector, vector) RETURNS bool
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE FUNCTION vector_gt(vector, vector) RETURNS bool
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE FUNCTION vector_cmp(vector, vector) RETURNS int4
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

-- hashing (hash opclass: hash aggregation, hash joins, hash partitioning)

CREATE FUNCTION vector_hash(vector) RETURNS int4
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE FUNCTION vector_hash_extended(vector, bigint) RETURNS bigint
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

-- aggregates: state is float8[] {count, sum_1, ..., sum_dim}

CREATE FUNCTION vector_accum(double precision[], vector) RETURNS double precision[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION vector_combine(double precision[], double precision[]) RETURNS double precision[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION vector_avg(double precision[]) RETURNS vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION vector_sum(double precision[]) RETURNS vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE AGGREGATE avg(vector) (
	SFUNC = vector_accum,
	STYPE = double precision[],
	FINALFUNC = vector_avg,
	COMBINEFUNC = vector_combine,
	INITCOND = '{0}',
	PARALLEL = SAFE
);

CREATE AGGREGATE sum(vector) (
	SFUNC = vector_accum,
	STYPE = double precision[],
	FINALFUNC = vector_sum,
	COMBINEFUNC = vector_combine,
	INITCOND = '{0}',
	PARALLEL = SAFE
);

-- casts

CREATE FUNCTION vector(vector, integer, boolean) RETURNS vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION array_to_vector(integer[], integer, boolean) RETURNS vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION array_to_vector(real[], integer, boolean) RETURNS vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION array_to_vector(double precision[], integer, boolean) RETURNS vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION array_to_vector(numeric[], integer, boolean) RETURNS vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION vector_to_float4(vector, integer, boolean) RETURNS real[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE CAST (vector AS vector)
	WITH FUNCTION vector(vector, integer, boolean) AS IMPLICIT;

CREATE CAST (vector AS real[])
	WITH FUNCTION vector_to_float4(vector, integer, boolean) AS IMPLICIT;

CREATE CAST (integer[] AS vector)
	WITH FUNCTION array_to_vector(integer[], integer, boolean) AS ASSIGNMENT;

CREATE CAST (real[] AS vector)
	WITH FUNCTION array_to_vector(real[], integer, boolean) AS ASSIGNMENT;

CREATE CAST (double precision[] AS vector)
	WITH FUNCTION array_to_vector(double precision[], integer, boolean) AS ASSIGNMENT;

CREATE CAST (numeric[] AS vector)
	WITH FUNCTION array_to_vector(numeric[], integer, boolean) AS ASSIGNMENT;

-- operators

CREATE OPERATOR <-> (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = l2_distance,
	COMMUTATOR = '<->'
);

CREATE OPERATOR <#> (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = vector_negative_inner_product,
	COMMUTATOR = '<#>'
);

CREATE OPERATOR <=> (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = cosine_distance,
	COMMUTATOR = '<=>'
);

CREATE OPERATOR <+> (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = l1_distance,
	COMMUTATOR = '<+>'
);

CREATE OPERATOR + (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = vector_add,
	COMMUTATOR = +
);

CREATE OPERATOR - (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = vector_sub
);

CREATE OPERATOR * (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = vector_mul,
	COMMUTATOR = *
);

CREATE OPERATOR || (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = vector_concat
);

CREATE OPERATOR < (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = vector_lt,
	COMMUTATOR = > , NEGATOR = >= ,
	RESTRICT = scalarltsel, JOIN = scalarltjoinsel
);

CREATE OPERATOR <= (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = vector_le,
	COMMUTATOR = >= , NEGATOR = > ,
	RESTRICT = scalarlesel, JOIN = scalarlejoinsel
);

CREATE OPERATOR = (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = vector_eq,
	COMMUTATOR = = , NEGATOR = <> ,
	RESTRICT = eqsel, JOIN = eqjoinsel,
	MERGES, HASHES
);

CREATE OPERATOR <> (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = vector_ne,
	COMMUTATOR = <> , NEGATOR = = ,
	RESTRICT = neqsel, JOIN = neqjoinsel
);

CREATE OPERATOR >= (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = vector_ge,
	COMMUTATOR = <= , NEGATOR = < ,
	RESTRICT = scalargesel, JOIN = scalargejoinsel
);

CREATE OPERATOR > (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = vector_gt,
	COMMUTATOR = < , NEGATOR = <= ,
	RESTRICT = scalargtsel, JOIN = scalargtjoinsel
);

CREATE OPERATOR CLASS vector_ops
	DEFAULT FOR TYPE vector USING btree AS
	OPERATOR 1 < ,
	OPERATOR 2 <= ,
	OPERATOR 3 = ,
	OPERATOR 4 >= ,
	OPERATOR 5 > ,
	FUNCTION 1 vector_cmp(vector, vector);

CREATE OPERATOR CLASS vector_hash_ops
	DEFAULT FOR TYPE vector USING hash AS
	OPERATOR 1 = ,
	FUNCTION 1 vector_hash(vector),
	FUNCTION 2 vector_hash_extended(vector, bigint);

-- diagnostics

CREATE FUNCTION vecq_simd_level() RETURNS text
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION vecq_simd_level() IS
	'SIMD level of the distance kernels in use (scalar, avx2 or avx512)';
/* sql/vecq--0.1.0--0.2.0.sql: vecq 0.2.0 adds the HNSW index access method */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION vecq UPDATE TO '0.2.0'" to load this file. \quit

--
-- HNSW: approximate nearest-neighbour search ordered by a distance operator.
--
--   CREATE INDEX ON items USING hnsw (embedding vector_l2_ops)
--       WITH (m = 16, ef_construction = 64);
--   SET hnsw.ef_search = 40;
--   SELECT id FROM items ORDER BY embedding <-> '[...]' LIMIT 10;
--
-- The opclass names are pgvector's.  Support function 1 of each opclass
-- tells the access method which distance kernel to use; it takes internal,
-- so SQL cannot call it.
--

CREATE FUNCTION hnswhandler(internal) RETURNS index_am_handler
	AS 'MODULE_PATHNAME' LANGUAGE C;

CREATE ACCESS METHOD hnsw TYPE INDEX HANDLER hnswhandler;

COMMENT ON ACCESS METHOD hnsw IS
	'HNSW graph index for approximate nearest-neighbour search (vecq)';

CREATE FUNCTION hnsw_metric_l2(internal) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION hnsw_metric_ip(internal) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION hnsw_metric_cosine(internal) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION hnsw_metric_l1(internal) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE OPERATOR CLASS vector_l2_ops
	FOR TYPE vector USING hnsw AS
	OPERATOR 1 <-> (vector, vector) FOR ORDER BY float_ops,
	FUNCTION 1 hnsw_metric_l2(internal);

CREATE OPERATOR CLASS vector_ip_ops
	FOR TYPE vector USING hnsw AS
	OPERATOR 1 <#> (vector, vector) FOR ORDER BY float_ops,
	FUNCTION 1 hnsw_metric_ip(internal);

CREATE OPERATOR CLASS vector_cosine_ops
	FOR TYPE vector USING hnsw AS
	OPERATOR 1 <=> (vector, vector) FOR ORDER BY float_ops,
	FUNCTION 1 hnsw_metric_cosine(internal);

CREATE OPERATOR CLASS vector_l1_ops
	FOR TYPE vector USING hnsw AS
	OPERATOR 1 <+> (vector, vector) FOR ORDER BY float_ops,
	FUNCTION 1 hnsw_metric_l1(internal);

--
-- vecq_index_check(index, heapallindexed): verify an HNSW index (pages,
-- tuples, neighbour lists, entry point, reachability of every live element,
-- and with heapallindexed that every visible heap row with a vector is
-- indexed).  Returns one row per problem; none for a healthy index.
--
CREATE FUNCTION vecq_index_check(index regclass, heapallindexed boolean DEFAULT false)
	RETURNS TABLE (blkno bigint, offnum integer, problem text)
	AS 'MODULE_PATHNAME' LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

COMMENT ON FUNCTION vecq_index_check(regclass, boolean) IS
	'check the invariants of an hnsw index; one row per problem found';
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
/* sql/vecq--0.3.0--0.4.0.sql: vecq 0.4.0 adds the ChromaDB-compatible API */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION vecq UPDATE TO '0.4.0'" to load this file. \quit

--
-- ChromaDB's API as SQL functions in schema chroma.
--
-- Layout.  A catalog of tenants, databases and collections (schema chroma,
-- one row per object, each row carrying its Chroma tenant), and one table
-- per collection in schema chroma_records, named after the collection's
-- uuid:
--
--   seq       bigint   insertion order (get returns rows in this order)
--   id        text     the record id (primary key)
--   embedding vector   vector(d) once the first write fixed the dimension
--   document  text
--   metadata  jsonb    scalar values only (GIN index, jsonb_path_ops)
--   uri       text
--
-- A table per collection, because a collection has its own dimension and
-- distance: its HNSW index (opclass from the space, m = max_neighbors,
-- ef_construction) is created when the first write fixes the dimension,
-- and dropping a collection drops one table instead of deleting rows.
--
-- Isolation.  Every catalog table has row-level security on its tenant
-- column (vecq.enable_tenant_isolation: rows where tenant =
-- vecq.current_tenant()), and every records table a policy that admits
-- rows only when vecq.current_tenant() is the collection's tenant.  The
-- record functions are SECURITY INVOKER: Postgres applies those policies
-- to the caller, so a role mapped to tenant A (vecq.map_role) sees
-- neither the collections nor the records of tenant B, through these
-- functions or through the tables.  Only the DDL behind a collection runs
-- as the extension's owner, in chroma._sync_collection(): it makes the
-- physical table match the catalog row (creates it, fixes its dimension
-- and index, drops it when the row is gone), so calling it can do nothing
-- the catalog does not already say.
--
-- The Chroma tenant and database a name is resolved in come from the
-- settings chroma.tenant (empty: the role's vecq tenant, else
-- default_tenant) and chroma.database (empty: default_database).
--

CREATE SCHEMA chroma;
CREATE SCHEMA chroma_records;
GRANT USAGE ON SCHEMA chroma TO PUBLIC;
GRANT USAGE ON SCHEMA chroma_records TO PUBLIC;

CREATE TABLE chroma.tenants (
	name text PRIMARY KEY
);

CREATE TABLE chroma.databases (
	id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	-- no foreign key: Chroma creates databases in tenants it has no record of
	tenant text NOT NULL,
	name text NOT NULL,
	UNIQUE (tenant, name)
);

CREATE TABLE chroma.collections (
	id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	tenant text NOT NULL,
	database text NOT NULL,
	name text NOT NULL,
	metadata jsonb,
	configuration jsonb NOT NULL,
	space text NOT NULL CHECK (space IN ('l2', 'ip', 'cosine')),
	dimension integer CHECK (dimension BETWEEN 1 AND 16000),
	embedding_function regproc,
	UNIQUE (tenant, database, name),
	FOREIGN KEY (tenant, database) REFERENCES chroma.databases (tenant, name)
		ON DELETE CASCADE ON UPDATE CASCADE
);

COMMENT ON TABLE chroma.collections IS
	'Chroma collections; the records of collection X are in chroma_records."X".';

INSERT INTO chroma.tenants VALUES ('default_tenant');
INSERT INTO chroma.databases (tenant, name) VALUES ('default_tenant', 'default_database');

SELECT pg_catalog.pg_extension_config_dump('chroma.tenants', 'WHERE name <> ''default_tenant''');
SELECT pg_catalog.pg_extension_config_dump('chroma.databases', '');
SELECT pg_catalog.pg_extension_config_dump('chroma.collections', '');

GRANT SELECT, INSERT, UPDATE, DELETE ON chroma.tenants, chroma.databases,
	chroma.collections TO PUBLIC;

-- the same policy vecq.enable_tenant_isolation() makes, written out here so
-- that the catalog is not among the user's isolated tables (which a user
-- could disable)
ALTER TABLE chroma.tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE chroma.tenants FORCE ROW LEVEL SECURITY;
ALTER TABLE chroma.tenants ALTER COLUMN name SET STATISTICS 0;
CREATE POLICY chroma_tenant ON chroma.tenants
	USING (name = vecq.current_tenant()) WITH CHECK (name = vecq.current_tenant());
ALTER TABLE chroma.databases ENABLE ROW LEVEL SECURITY;
ALTER TABLE chroma.databases FORCE ROW LEVEL SECURITY;
ALTER TABLE chroma.databases ALTER COLUMN tenant SET STATISTICS 0;
CREATE POLICY chroma_tenant ON chroma.databases
	USING (tenant = vecq.current_tenant()) WITH CHECK (tenant = vecq.current_tenant());
ALTER TABLE chroma.collections ENABLE ROW LEVEL SECURITY;
ALTER TABLE chroma.collections FORCE ROW LEVEL SECURITY;
ALTER TABLE chroma.collections ALTER COLUMN tenant SET STATISTICS 0;
CREATE POLICY chroma_tenant ON chroma.collections
	USING (tenant = vecq.current_tenant()) WITH CHECK (tenant = vecq.current_tenant());

CREATE FUNCTION chroma.current_tenant() RETURNS text
	LANGUAGE sql STABLE PARALLEL SAFE
	AS $$ SELECT coalesce(nullif(current_setting('chroma.tenant', true), ''),
						  vecq.current_tenant(), 'default_tenant') $$;

CREATE FUNCTION chroma.current_database() RETURNS text
	LANGUAGE sql STABLE PARALLEL SAFE
	AS $$ SELECT coalesce(nullif(current_setting('chroma.database', true), ''),
						  'default_database') $$;

-- raise Chroma's error: kind is the SQLSTATE, msg our primary message,
-- chroma_msg the text Chroma gives (the detail)
CREATE FUNCTION chroma._raise(code text, msg text, chroma_msg text,
							  hint text DEFAULT NULL) RETURNS void
	LANGUAGE plpgsql
	AS $$
BEGIN
	IF hint IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = code, MESSAGE = msg, DETAIL = chroma_msg;
	END IF;
	RAISE EXCEPTION USING ERRCODE = code, MESSAGE = msg, DETAIL = chroma_msg,
		HINT = hint;
END
$$;

CREATE FUNCTION chroma._invalid(chroma_msg text) RETURNS void
	LANGUAGE sql
	AS $$ SELECT chroma._raise('22023', 'invalid argument for chroma', chroma_msg) $$;

--
-- Tenants and databases
--

CREATE FUNCTION chroma._check_tenant_name(name text) RETURNS void
	LANGUAGE plpgsql IMMUTABLE
	AS $$
BEGIN
	IF name IS NULL OR length(name) < 3 THEN
		PERFORM chroma._invalid(format('Validation error: name: Validation error: length [{"min": Number(3), "value": String(%s)}]',
									   to_json(name)::text));
	END IF;
END
$$;

CREATE FUNCTION chroma.create_tenant(name text) RETURNS void
	LANGUAGE plpgsql
	AS $$
BEGIN
	PERFORM chroma._check_tenant_name(name);
	INSERT INTO chroma.tenants AS t VALUES (name);
EXCEPTION WHEN unique_violation THEN
	PERFORM chroma._raise('42710', format('tenant "%s" already exists', name),
						  format('Tenant [%s] already exists', name));
END
$$;

CREATE FUNCTION chroma.get_tenant(name text) RETURNS SETOF chroma.tenants
	LANGUAGE plpgsql STABLE
	AS $$
BEGIN
	RETURN QUERY SELECT * FROM chroma.tenants t WHERE t.name = get_tenant.name;
	IF NOT FOUND THEN
		PERFORM chroma._raise('42704', format('tenant "%s" does not exist', name),
							  format('Tenant [%s] not found', name));
	END IF;
END
$$;

CREATE FUNCTION chroma._check_database(tenant text, database text) RETURNS void
	LANGUAGE plpgsql STABLE
	AS $$
BEGIN
	IF EXISTS (SELECT FROM chroma.databases d
			   WHERE d.tenant = _check_database.tenant
				 AND d.name = _check_database.database) THEN
		RETURN;
	END IF;
	IF NOT EXISTS (SELECT FROM chroma.tenants t WHERE t.name = tenant) THEN
		PERFORM chroma._raise('42704', format('tenant "%s" does not exist', tenant),
							  format('Tenant [%s] not found', tenant));
	END IF;
	PERFORM chroma._raise('3D000', format('database "%s" does not exist in tenant "%s"', database, tenant),
						  format('Database [%s] not found', database));
END
$$;

CREATE FUNCTION chroma.create_database(name text, tenant text DEFAULT NULL)
	RETURNS void
	LANGUAGE plpgsql
	AS $$
DECLARE
	t text := coalesce(tenant, chroma.current_tenant());
BEGIN
	PERFORM chroma._check_tenant_name(name);
	INSERT INTO chroma.databases (tenant, name) VALUES (t, name);
EXCEPTION WHEN unique_violation THEN
	PERFORM chroma._raise('42P04', format('database "%s" already exists', name),
						  format('Database [%s] already exists for tenant [%s]', name, t));
END
$$;

CREATE FUNCTION chroma.get_database(name text, tenant text DEFAULT NULL)
	RETURNS SETOF chroma.databases
	LANGUAGE plpgsql STABLE
	AS $$
DECLARE
	t text := coalesce(tenant, chroma.current_tenant());
BEGIN
	RETURN QUERY SELECT * FROM chroma.databases d
		WHERE d.tenant = t AND d.name = get_database.name;
	IF NOT FOUND THEN
		PERFORM chroma._raise('3D000', format('database "%s" does not exist in tenant "%s"', name, t),
							  format('Database [%s] not found', name));
	END IF;
END
$$;

CREATE FUNCTION chroma.list_databases("limit" integer DEFAULT NULL,
									  "offset" integer DEFAULT NULL,
									  tenant text DEFAULT NULL)
	RETURNS SETOF chroma.databases
	LANGUAGE sql STABLE
	AS $$
	SELECT * FROM chroma.databases d
	WHERE d.tenant = coalesce(list_databases.tenant, chroma.current_tenant())
	ORDER BY d.name LIMIT "limit" OFFSET coalesce("offset", 0)
$$;

CREATE FUNCTION chroma.delete_database(name text, tenant text DEFAULT NULL)
	RETURNS void
	LANGUAGE plpgsql
	AS $$
DECLARE
	t text := coalesce(tenant, chroma.current_tenant());
	c uuid;
BEGIN
	PERFORM chroma._check_database(t, name);
	FOR c IN DELETE FROM chroma.collections x
		WHERE x.tenant = t AND x.database = delete_database.name RETURNING x.id
	LOOP
		PERFORM chroma._sync_collection(c);
	END LOOP;
	DELETE FROM chroma.databases d WHERE d.tenant = t AND d.name = delete_database.name;
END
$$;

--
-- Collections
--

-- the physical side of a collection, made to match its catalog row; runs
-- as the extension's owner (DDL), decides nothing the catalog does not say
CREATE FUNCTION chroma._sync_collection(cid uuid) RETURNS void
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	c chroma.collections;
	tbl text := 'chroma_records.' || quote_ident(cid::text);
	typmod integer;
BEGIN
	SELECT * INTO c FROM chroma.collections WHERE id = cid;
	IF NOT FOUND THEN
		EXECUTE format('DROP TABLE IF EXISTS %s', tbl);
		RETURN;
	END IF;
	IF to_regclass(tbl) IS NULL THEN
		EXECUTE format('CREATE TABLE %s (
							seq bigint GENERATED ALWAYS AS IDENTITY,
							id text PRIMARY KEY,
							embedding @extschema@.vector,
							document text,
							metadata jsonb,
							uri text)', tbl);
		EXECUTE format('CREATE INDEX ON %s (seq)', tbl);
		EXECUTE format('CREATE INDEX ON %s USING gin (metadata jsonb_path_ops)', tbl);
		EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tbl);
		EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', tbl);
		EXECUTE format('CREATE POLICY chroma_tenant ON %s USING (vecq.current_tenant() = %L) '
					   'WITH CHECK (vecq.current_tenant() = %L)', tbl, c.tenant, c.tenant);
		EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO PUBLIC', tbl);
	END IF;
	IF c.dimension IS NOT NULL THEN
		SELECT a.atttypmod INTO typmod FROM pg_attribute a
			WHERE a.attrelid = tbl::regclass AND a.attname = 'embedding';
		IF typmod < 0 THEN
			EXECUTE format('ALTER TABLE %s ALTER COLUMN embedding TYPE @extschema@.vector(%s)',
						   tbl, c.dimension);
			EXECUTE format('CREATE INDEX ON %s USING hnsw (embedding @extschema@.%s) '
						   'WITH (m = %s, ef_construction = %s)', tbl,
						   CASE c.space WHEN 'l2' THEN 'vector_l2_ops'
										WHEN 'ip' THEN 'vector_ip_ops'
										ELSE 'vector_cosine_ops' END,
						   (c.configuration -> 'hnsw' ->> 'max_neighbors')::integer,
						   (c.configuration -> 'hnsw' ->> 'ef_construction')::integer);
		END IF;
	END IF;
END
$$;
REVOKE ALL ON FUNCTION chroma._sync_collection(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION chroma._sync_collection(uuid) TO PUBLIC;

CREATE FUNCTION chroma._check_collection_name(name text) RETURNS void
	LANGUAGE plpgsql IMMUTABLE
	AS $$
BEGIN
	IF name IS NULL OR length(name) NOT BETWEEN 3 AND 512
	   OR name !~ '^[a-zA-Z0-9]([a-zA-Z0-9._-]*[a-zA-Z0-9])?$' THEN
		PERFORM chroma._invalid(format('Validation error: name: Expected a name containing 3-512 characters from [a-zA-Z0-9._-], starting and ending with a character in [a-zA-Z0-9]. Got: %s', name));
	END IF;
	IF strpos(name, '..') > 0 THEN
		PERFORM chroma._invalid(format('Validation error: name: Expected a name that does not contains two consecutive periods (..). Got %s', name));
	END IF;
	IF name ~ '^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$' THEN
		PERFORM chroma._invalid(format('Validation error: name: Expected a name that is not a valid ip address. Got %s', name));
	END IF;
END
$$;

-- the collection's HNSW configuration from the configuration argument and
-- the legacy hnsw:* metadata keys, with Chroma's defaults
CREATE FUNCTION chroma._configuration(configuration jsonb, metadata jsonb)
	RETURNS jsonb
	LANGUAGE plpgsql IMMUTABLE
	AS $$
DECLARE
	h jsonb := coalesce(configuration -> 'hnsw', '{}');
	k text;
	v jsonb;
	out jsonb;
BEGIN
	IF configuration IS NOT NULL AND jsonb_typeof(configuration) <> 'object' THEN
		PERFORM chroma._invalid('Expected configuration to be an object');
	END IF;
	IF jsonb_typeof(h) = 'null' THEN
		h := '{}';
	ELSIF jsonb_typeof(h) <> 'object' THEN
		PERFORM chroma._invalid('Expected configuration.hnsw to be an object');
	END IF;
	IF metadata IS NOT NULL THEN
		IF metadata ? 'hnsw:space' AND NOT h ? 'space' THEN
			h := h || jsonb_build_object('space', metadata -> 'hnsw:space');
		END IF;
		IF metadata ? 'hnsw:construction_ef' AND NOT h ? 'ef_construction' THEN
			h := h || jsonb_build_object('ef_construction', metadata -> 'hnsw:construction_ef');
		END IF;
		IF metadata ? 'hnsw:search_ef' AND NOT h ? 'ef_search' THEN
			h := h || jsonb_build_object('ef_search', metadata -> 'hnsw:search_ef');
		END IF;
		IF metadata ? 'hnsw:M' AND NOT h ? 'max_neighbors' THEN
			h := h || jsonb_build_object('max_neighbors', metadata -> 'hnsw:M');
		END IF;
	END IF;
	out := jsonb_build_object('space', 'l2', 'ef_construction', 100, 'ef_search', 100,
							  'max_neighbors', 16, 'resize_factor', 1.2,
							  'sync_threshold', 1000);
	FOR k, v IN SELECT * FROM jsonb_each(h) LOOP
		IF k = 'space' THEN
			IF jsonb_typeof(v) <> 'string' OR v #>> '{}' NOT IN ('l2', 'ip', 'cosine') THEN
				PERFORM chroma._invalid(format('Invalid HNSW space: %s; expected one of l2, ip, cosine', v));
			END IF;
		ELSIF k IN ('ef_construction', 'ef_search', 'max_neighbors', 'num_threads',
					'batch_size', 'sync_threshold') THEN
			IF jsonb_typeof(v) <> 'number' OR v::text !~ '^[0-9]+$' OR v::text::numeric < 1
			   OR v::text::numeric > 2147483647 THEN
				PERFORM chroma._invalid(format('Invalid HNSW configuration: %s must be a positive integer, got %s', k, v));
			END IF;
		ELSIF k = 'resize_factor' THEN
			IF jsonb_typeof(v) <> 'number' OR v::text::numeric <= 0 THEN
				PERFORM chroma._invalid(format('Invalid HNSW configuration: %s must be a positive number, got %s', k, v));
			END IF;
		ELSE
			PERFORM chroma._invalid(format('Invalid HNSW configuration: unknown key %s', k));
		END IF;
		out := out || jsonb_build_object(k, v);
	END LOOP;
	IF (out ->> 'max_neighbors')::integer NOT BETWEEN 2 AND 100 THEN
		PERFORM chroma._invalid(format('Invalid HNSW configuration: max_neighbors must be between 2 and 100, got %s', out -> 'max_neighbors'));
	END IF;
	IF (out ->> 'ef_construction')::integer NOT BETWEEN 4 AND 1000 THEN
		PERFORM chroma._invalid(format('Invalid HNSW configuration: ef_construction must be between 4 and 1000, got %s', out -> 'ef_construction'));
	END IF;
	IF (out ->> 'ef_search')::integer > 1000 THEN
		PERFORM chroma._invalid(format('Invalid HNSW configuration: ef_search must be at most 1000, got %s', out -> 'ef_search'));
	END IF;
	RETURN jsonb_build_object('hnsw', out, 'spann', NULL, 'embedding_function', NULL);
END
$$;

CREATE FUNCTION chroma._check_metadata(metadata jsonb, allow_null boolean,
									   what text DEFAULT 'metadata')
	RETURNS void
	LANGUAGE plpgsql IMMUTABLE
	AS $$
BEGIN
	IF metadata IS NULL OR jsonb_typeof(metadata) = 'null' THEN
		RETURN;
	END IF;
	IF jsonb_typeof(metadata) <> 'object' THEN
		PERFORM chroma._invalid(format('Expected %s to be an object, but got %s', what, metadata));
	END IF;
	IF metadata = '{}' THEN
		PERFORM chroma._invalid('Expected metadata to be non-empty');
	END IF;
	IF EXISTS (SELECT FROM jsonb_each(metadata) e
			   WHERE jsonb_typeof(e.value) NOT IN ('string', 'number', 'boolean')
				 AND NOT (allow_null AND jsonb_typeof(e.value) = 'null')) THEN
		PERFORM chroma._invalid('Expected metadata to be a string, number, boolean, or nullable');
	END IF;
END
$$;

-- a collection as Chroma's HTTP API shows it
CREATE FUNCTION chroma._collection_json(c chroma.collections) RETURNS jsonb
	LANGUAGE sql STABLE
	AS $$
	SELECT jsonb_build_object('id', c.id, 'name', c.name,
							  'configuration_json', c.configuration,
							  'metadata', c.metadata, 'dimension', c.dimension,
							  'tenant', c.tenant, 'database', c.database,
							  'log_position', 0, 'version', 0)
$$;

CREATE FUNCTION chroma._find_collection(name text, missing_ok boolean DEFAULT false)
	RETURNS chroma.collections
	LANGUAGE plpgsql STABLE
	AS $$
DECLARE
	c chroma.collections;
BEGIN
	SELECT * INTO c FROM chroma.collections x
		WHERE x.tenant = chroma.current_tenant()
		  AND x.database = chroma.current_database() AND x.name = _find_collection.name;
	IF NOT FOUND AND NOT missing_ok THEN
		PERFORM chroma._raise('42704', format('collection "%s" does not exist', name),
							  format('Collection [%s] does not exist', name));
	END IF;
	RETURN c;
END
$$;

CREATE FUNCTION chroma.create_collection(name text, metadata jsonb DEFAULT NULL,
										 configuration jsonb DEFAULT NULL,
										 get_or_create boolean DEFAULT false,
										 embedding_function regproc DEFAULT NULL)
	RETURNS SETOF chroma.collections
	LANGUAGE plpgsql
	AS $$
DECLARE
	t text := chroma.current_tenant();
	d text := chroma.current_database();
	cfg jsonb;
	c chroma.collections;
BEGIN
	PERFORM chroma._check_collection_name(name);
	PERFORM chroma._check_metadata(metadata, false);
	cfg := chroma._configuration(configuration, metadata);
	PERFORM chroma._check_database(t, d);
	c := chroma._find_collection(name, true);
	IF c.id IS NOT NULL THEN
		IF get_or_create THEN
			RETURN NEXT c;
			RETURN;
		END IF;
		PERFORM chroma._raise('42P07', format('collection "%s" already exists', name),
							  format('Collection [%s] already exists', name));
	END IF;
	IF embedding_function IS NOT NULL THEN
		cfg := cfg || jsonb_build_object('embedding_function',
										 jsonb_build_object('type', 'sql', 'name', embedding_function::text));
	END IF;
	INSERT INTO chroma.collections AS x (tenant, database, name, metadata, configuration,
										 space, embedding_function)
		VALUES (t, d, name, metadata, cfg, cfg -> 'hnsw' ->> 'space', embedding_function)
		RETURNING * INTO c;
	PERFORM chroma._sync_collection(c.id);
	RETURN NEXT c;
EXCEPTION WHEN unique_violation THEN
	PERFORM chroma._raise('42P07', format('collection "%s" already exists', name),
						  format('Collection [%s] already exists', name));
END
$$;

CREATE FUNCTION chroma.get_or_create_collection(name text, metadata jsonb DEFAULT NULL,
												configuration jsonb DEFAULT NULL,
												embedding_function regproc DEFAULT NULL)
	RETURNS SETOF chroma.collections
	LANGUAGE sql
	AS $$ SELECT * FROM chroma.create_collection(name, metadata, configuration, true,
												 embedding_function) $$;

CREATE FUNCTION chroma.get_collection(name text) RETURNS SETOF chroma.collections
	LANGUAGE sql STABLE
	AS $$ SELECT * FROM chroma._find_collection(name) $$;

CREATE FUNCTION chroma.list_collections("limit" integer DEFAULT NULL,
										"offset" integer DEFAULT NULL)
	RETURNS SETOF chroma.collections
	LANGUAGE plpgsql STABLE
	AS $$
BEGIN
	IF "limit" < 0 OR "offset" < 0 THEN
		PERFORM chroma._invalid('limit and offset must not be negative');
	END IF;
	PERFORM chroma._check_database(chroma.current_tenant(), chroma.current_database());
	RETURN QUERY SELECT * FROM chroma.collections c
		WHERE c.tenant = chroma.current_tenant() AND c.database = chroma.current_database()
		ORDER BY c.id LIMIT "limit" OFFSET coalesce("offset", 0);
END
$$;

CREATE FUNCTION chroma.count_collections() RETURNS integer
	LANGUAGE sql STABLE
	AS $$
	SELECT count(*)::integer FROM chroma.collections c
	WHERE c.tenant = chroma.current_tenant() AND c.database = chroma.current_database()
$$;

CREATE FUNCTION chroma.modify_collection(name text, new_name text DEFAULT NULL,
										 new_metadata jsonb DEFAULT NULL,
										 new_configuration jsonb DEFAULT NULL)
	RETURNS SETOF chroma.collections
	LANGUAGE plpgsql
	AS $$
DECLARE
	c chroma.collections := chroma._find_collection(name);
	h jsonb;
	k text;
	v jsonb;
BEGIN
	IF new_name IS NOT NULL THEN
		PERFORM chroma._check_collection_name(new_name);
	END IF;
	IF new_metadata IS NOT NULL THEN
		PERFORM chroma._check_metadata(new_metadata, false);
		IF new_metadata ? 'hnsw:space' AND
			new_metadata -> 'hnsw:space' IS DISTINCT FROM c.metadata -> 'hnsw:space' THEN
			PERFORM chroma._invalid('Changing the distance function of a collection once it is created is not supported currently.');
		END IF;
	END IF;
	IF new_configuration IS NOT NULL THEN
		h := new_configuration -> 'hnsw';
		IF jsonb_typeof(new_configuration) <> 'object' OR
			(h IS NOT NULL AND jsonb_typeof(h) <> 'object') THEN
			PERFORM chroma._invalid('Expected configuration to be an object');
		END IF;
		FOR k, v IN SELECT * FROM jsonb_each(coalesce(h, '{}')) LOOP
			IF k NOT IN ('ef_search', 'num_threads', 'batch_size', 'sync_threshold', 'resize_factor') THEN
				PERFORM chroma._invalid(format('Invalid HNSW configuration: %s cannot be changed', k));
			END IF;
		END LOOP;
		h := chroma._configuration(jsonb_build_object('hnsw', (c.configuration -> 'hnsw') || coalesce(h, '{}')), NULL) -> 'hnsw';
		c.configuration := jsonb_set(c.configuration, '{hnsw}', h);
	END IF;
	UPDATE chroma.collections x
		SET name = coalesce(new_name, x.name),
			metadata = coalesce(new_metadata, x.metadata),
			configuration = c.configuration
		WHERE x.id = c.id
		RETURNING * INTO c;
	RETURN NEXT c;
EXCEPTION WHEN unique_violation THEN
	PERFORM chroma._raise('42P07', format('collection "%s" already exists', new_name),
						  format('Collection [%s] already exists', new_name));
END
$$;

CREATE FUNCTION chroma.delete_collection(name text) RETURNS void
	LANGUAGE plpgsql
	AS $$
DECLARE
	c chroma.collections := chroma._find_collection(name);
BEGIN
	DELETE FROM chroma.collections x WHERE x.id = c.id;
	PERFORM chroma._sync_collection(c.id);
END
$$;

--
-- Filters: Chroma's where (metadata) and where_document (document)
-- expressions, validated as Chroma's client does and turned into an SQL
-- condition on the records table; every value goes in as a quoted literal.
--

CREATE FUNCTION chroma._where_sql("where" jsonb) RETURNS text
	LANGUAGE plpgsql IMMUTABLE
	AS $$
DECLARE
	k text;
	v jsonb;
	op text;
	operand jsonb;
	parts text[] := '{}';
	e jsonb;
	n integer;
BEGIN
	IF jsonb_typeof("where") IS DISTINCT FROM 'object' THEN
		PERFORM chroma._invalid('Expected where to be a non-empty object');
	END IF;
	SELECT count(*) INTO n FROM jsonb_object_keys("where");
	IF n <> 1 THEN
		PERFORM chroma._invalid(format('Expected ''where'' to have exactly one operator, but got %s', n));
	END IF;
	SELECT key, value INTO k, v FROM jsonb_each("where");
	IF k IN ('$and', '$or') THEN
		IF jsonb_typeof(v) <> 'array' OR jsonb_array_length(v) <= 1 THEN
			PERFORM chroma._invalid(format('Expected ''where'' value for $and or $or to be a list of ''where'' expressions, but got %s', v));
		END IF;
		FOR e IN SELECT value FROM jsonb_array_elements(v) LOOP
			parts := parts || chroma._where_sql(e);
		END LOOP;
		RETURN '(' || array_to_string(parts, CASE k WHEN '$and' THEN ' AND ' ELSE ' OR ' END) || ')';
	END IF;
	IF jsonb_typeof(v) IN ('string', 'number', 'boolean') THEN
		op := '$eq';
		operand := v;
	ELSIF jsonb_typeof(v) = 'object' THEN
		SELECT count(*) INTO n FROM jsonb_object_keys(v);
		IF n <> 1 THEN
			PERFORM chroma._invalid(format('Expected operator expression to have one operator, but got %s', v));
		END IF;
		SELECT key, value INTO op, operand FROM jsonb_each(v);
		IF op IN ('$gt', '$gte', '$lt', '$lte') AND jsonb_typeof(operand) <> 'number' THEN
			PERFORM chroma._invalid(format('Expected operand value to be a number for %s, but got %s', op,
										   CASE jsonb_typeof(operand) WHEN 'array' THEN 'object'
											   WHEN 'null' THEN 'object' ELSE jsonb_typeof(operand) END));
		END IF;
		IF op IN ('$in', '$nin') AND jsonb_typeof(operand) <> 'array' THEN
			PERFORM chroma._invalid(format('Expected operand value to be an array for %s, but got %s', op, operand));
		END IF;
		IF op NOT IN ('$gt', '$gte', '$lt', '$lte', '$ne', '$eq', '$in', '$nin') THEN
			PERFORM chroma._invalid(format('Expected operator to be one of $gt, $gte, $lt, $lte, $ne, $eq, $in, $nin, but got %s', op));
		END IF;
		IF jsonb_typeof(operand) NOT IN ('string', 'number', 'boolean', 'array') THEN
			PERFORM chroma._invalid('Expected operand value to be a string, number, boolean, or a list of those types');
		END IF;
		IF jsonb_typeof(operand) = 'array' THEN
			IF op NOT IN ('$in', '$nin') THEN
				PERFORM chroma._invalid('Expected operand value to be a string, number, boolean, or a list of those types');
			END IF;
			IF jsonb_array_length(operand) = 0 OR
				(SELECT count(DISTINCT jsonb_typeof(x)) FROM jsonb_array_elements(operand) x) <> 1 OR
				EXISTS (SELECT FROM jsonb_array_elements(operand) x
						WHERE jsonb_typeof(x) NOT IN ('string', 'number', 'boolean')) THEN
				PERFORM chroma._invalid('Expected ''where'' operand value to be a non-empty list and all values to be of the same type');
			END IF;
		END IF;
	ELSE
		PERFORM chroma._invalid(format('Expected ''where'' value to be a string, number, boolean, or an operator expression, but got %s', v));
	END IF;

	CASE op
		WHEN '$eq' THEN
			RETURN chroma._eq_sql(k, operand);
		WHEN '$ne' THEN
			RETURN format('(NOT coalesce(%s, false))', chroma._eq_sql(k, operand));
		WHEN '$in', '$nin' THEN
			SELECT array_agg(chroma._eq_sql(k, x)) INTO parts FROM jsonb_array_elements(operand) x;
			IF op = '$in' THEN
				RETURN '(' || array_to_string(parts, ' OR ') || ')';
			END IF;
			RETURN '(NOT coalesce(' || array_to_string(parts, ' OR ') || ', false))';
		ELSE
			op := CASE op WHEN '$gt' THEN '>' WHEN '$gte' THEN '>=' WHEN '$lt' THEN '<' ELSE '<=' END;
			IF operand::text ~ '^-?[0-9]+$' THEN
				RETURN format('(jsonb_typeof(metadata -> %1$L) = ''number'' AND (metadata ->> %1$L)::numeric %2$s %3$L::numeric)',
							  k, op, operand::text);
			END IF;
			-- a float operand: Chroma compares integer values with the
			-- operand truncated to an integer, float values with the operand
			RETURN format('(jsonb_typeof(metadata -> %1$L) = ''number'' AND (metadata ->> %1$L)::numeric %2$s '
						  'CASE WHEN (metadata ->> %1$L) ~ ''^-?[0-9]+$'' THEN %3$L::numeric ELSE %4$L::numeric END)',
						  k, op, trunc(operand::text::numeric), operand::text);
	END CASE;
END
$$;

-- "key = value" as Chroma matches it: strings and booleans by equality,
-- numbers numerically, except that an integer value equals a float
-- operand when it equals the operand truncated to an integer (what
-- Chroma 1.0 answers).  Containment first, so the GIN index serves it.
CREATE FUNCTION chroma._eq_sql(k text, v jsonb) RETURNS text
	LANGUAGE sql IMMUTABLE
	AS $$
	SELECT CASE
		WHEN jsonb_typeof(v) = 'number' AND v::text !~ '^-?[0-9]+$' THEN
			format('(metadata @> %2$L::jsonb OR (jsonb_typeof(metadata -> %1$L) = ''number'' '
				   'AND (metadata ->> %1$L) ~ ''^-?[0-9]+$'' AND (metadata ->> %1$L)::numeric = %3$L::numeric))',
				   k, jsonb_build_object(k, v), trunc(v::text::numeric))
		ELSE format('(metadata @> %L::jsonb)', jsonb_build_object(k, v))
	END
$$;

CREATE FUNCTION chroma._where_document_sql(where_document jsonb) RETURNS text
	LANGUAGE plpgsql IMMUTABLE
	AS $$
DECLARE
	op text;
	operand jsonb;
	parts text[] := '{}';
	e jsonb;
	n integer;
BEGIN
	IF jsonb_typeof(where_document) IS DISTINCT FROM 'object' THEN
		PERFORM chroma._invalid('Expected ''whereDocument'' to be a non-empty object');
	END IF;
	SELECT count(*) INTO n FROM jsonb_object_keys(where_document);
	IF n <> 1 THEN
		PERFORM chroma._invalid('Expected ''whereDocument'' to have exactly one operator, but got [object Object]');
	END IF;
	SELECT key, value INTO op, operand FROM jsonb_each(where_document);
	IF op NOT IN ('$contains', '$not_contains', '$regex', '$not_regex', '$and', '$or') THEN
		PERFORM chroma._invalid(format('Expected ''whereDocument'' operator to be one of $contains, $not_contains, $regex, $not_regex, $and, or $or, but got %s', op));
	END IF;
	IF op IN ('$and', '$or') THEN
		IF jsonb_typeof(operand) <> 'array' THEN
			PERFORM chroma._invalid(format('Expected operand for %s to be a list of ''whereDocument'' expressions, but got %s', op, operand));
		END IF;
		IF jsonb_array_length(operand) <= 1 THEN
			PERFORM chroma._invalid(format('Expected ''whereDocument'' operand for %s to be a list with at least two ''whereDocument'' expressions', op));
		END IF;
		FOR e IN SELECT value FROM jsonb_array_elements(operand) LOOP
			parts := parts || chroma._where_document_sql(e);
		END LOOP;
		RETURN '(' || array_to_string(parts, CASE op WHEN '$and' THEN ' AND ' ELSE ' OR ' END) || ')';
	END IF;
	IF jsonb_typeof(operand) <> 'string' OR operand #>> '{}' = '' THEN
		PERFORM chroma._invalid(format('Expected operand for %s to be a non empty string, but got %s', op, operand));
	END IF;
	CASE op
		WHEN '$contains' THEN
			RETURN format('(strpos(document, %L) > 0)', operand #>> '{}');
		WHEN '$not_contains' THEN
			RETURN format('(document IS NULL OR strpos(document, %L) = 0)', operand #>> '{}');
		WHEN '$regex' THEN
			PERFORM chroma._check_regex(operand #>> '{}');
			RETURN format('(document ~ %L)', operand #>> '{}');
		ELSE
			PERFORM chroma._check_regex(operand #>> '{}');
			RETURN format('(document IS NULL OR document !~ %L)', operand #>> '{}');
	END CASE;
END
$$;

-- an invalid pattern is the caller's error (22023 with the reason), found
-- before the query runs
CREATE FUNCTION chroma._check_regex(pattern text) RETURNS void
	LANGUAGE plpgsql IMMUTABLE
	AS $$
BEGIN
	PERFORM '' ~ pattern;
EXCEPTION WHEN invalid_regular_expression THEN
	PERFORM chroma._invalid(format('Invalid regex pattern: %s', SQLERRM));
END
$$;

-- the WHERE clause of a get/query/delete: ids, where, where_document
CREATE FUNCTION chroma._filter_sql(ids text[], "where" jsonb, where_document jsonb)
	RETURNS text
	LANGUAGE plpgsql IMMUTABLE
	AS $$
DECLARE
	parts text[] := '{true}';
BEGIN
	IF ids IS NOT NULL THEN
		parts := parts || format('id = ANY (%L::text[])', ids);
	END IF;
	IF "where" IS NOT NULL AND jsonb_typeof("where") <> 'null' THEN
		parts := parts || chroma._where_sql("where");
	END IF;
	IF where_document IS NOT NULL AND jsonb_typeof(where_document) <> 'null' THEN
		parts := parts || chroma._where_document_sql(where_document);
	END IF;
	RETURN array_to_string(parts, ' AND ');
END
$$;

--
-- Records
--

CREATE FUNCTION chroma._records(c chroma.collections) RETURNS text
	LANGUAGE sql IMMUTABLE
	AS $$ SELECT 'chroma_records.' || quote_ident(c.id::text) $$;

-- check ids as Chroma's client does
CREATE FUNCTION chroma._check_ids(ids text[]) RETURNS void
	LANGUAGE plpgsql IMMUTABLE
	AS $$
DECLARE
	bad text;
	dups text[];
BEGIN
	IF ids IS NULL OR cardinality(ids) = 0 THEN
		PERFORM chroma._invalid('Expected ''ids'' to be a non-empty list');
	END IF;
	SELECT string_agg((i - 1)::text, ', ' ORDER BY i) INTO bad
		FROM unnest(ids) WITH ORDINALITY AS u(x, i) WHERE x IS NULL;
	IF bad IS NOT NULL THEN
		PERFORM chroma._invalid(format('Found non-string IDs at %s', bad));
	END IF;
	SELECT array_agg(x ORDER BY i) INTO dups
		FROM (SELECT x, i, row_number() OVER (PARTITION BY x ORDER BY i) AS r
			  FROM unnest(ids) WITH ORDINALITY AS u(x, i)) s
		WHERE r > 1;
	IF dups IS NOT NULL THEN
		IF cardinality(dups) <= 5 THEN
			PERFORM chroma._invalid('Expected IDs to be unique, but found duplicates of ' ||
									array_to_string(dups, ', '));
		END IF;
		PERFORM chroma._invalid('Expected IDs to be unique, but found duplicates of ' ||
								array_to_string(dups[1:5], ', ') || ', ..., ' ||
								array_to_string(dups[cardinality(dups) - 4:], ', '));
	END IF;
END
$$;

-- check a record set (add / upsert / update) and return the embeddings to
-- write: given, or computed from the documents by the collection's
-- embedding function; fixes the collection's dimension on the first write
CREATE FUNCTION chroma._prepare_records(c chroma.collections, ids text[],
										embeddings vector[], metadatas jsonb[],
										documents text[], uris text[],
										is_update boolean)
	RETURNS vector[]
	LANGUAGE plpgsql
	AS $$
DECLARE
	n integer;
	lens text[] := '{}';
	mismatched text[] := '{}';
	dims integer[];
	dim integer;
	m jsonb;
	i integer;
BEGIN
	PERFORM chroma._check_ids(ids);
	n := cardinality(ids);
	IF embeddings IS NULL AND documents IS NULL AND NOT is_update THEN
		PERFORM chroma._invalid('At least one of ''embeddings'' and ''documents'' must be provided');
	END IF;
	IF embeddings IS NOT NULL AND cardinality(embeddings) = 0 THEN
		PERFORM chroma._invalid('Expected embeddings to be an array with at least one item');
	END IF;
	IF documents IS NOT NULL AND cardinality(documents) = 0 THEN
		PERFORM chroma._invalid('Expected ''documents'' to be a non-empty list');
	END IF;
	IF embeddings IS NOT NULL AND cardinality(embeddings) <> n THEN
		mismatched := mismatched || 'embeddings'::text;
	END IF;
	IF metadatas IS NOT NULL AND cardinality(metadatas) <> n THEN
		mismatched := mismatched || 'metadatas'::text;
	END IF;
	IF documents IS NOT NULL AND cardinality(documents) <> n THEN
		mismatched := mismatched || 'documents'::text;
	END IF;
	IF uris IS NOT NULL AND cardinality(uris) <> n THEN
		mismatched := mismatched || 'uris'::text;
	END IF;
	IF cardinality(mismatched) > 0 THEN
		PERFORM chroma._invalid('Unequal lengths for fields ids, ' || array_to_string(mismatched, ', '));
	END IF;
	IF documents IS NOT NULL AND array_position(documents, NULL) IS NOT NULL THEN
		PERFORM chroma._invalid('Expected each document to be a string, but got object');
	END IF;
	IF embeddings IS NOT NULL AND array_position(embeddings, NULL) IS NOT NULL THEN
		PERFORM chroma._invalid('Expected each embedding to be an array of numbers');
	END IF;
	IF metadatas IS NOT NULL THEN
		FOREACH m IN ARRAY metadatas LOOP
			PERFORM chroma._check_metadata(m, true);
		END LOOP;
	END IF;
	IF embeddings IS NULL AND documents IS NOT NULL AND NOT is_update THEN
		IF c.embedding_function IS NULL THEN
			PERFORM chroma._raise('22023', format('collection "%s" has no embedding function', c.name),
								  'You must provide embeddings or an embedding function.',
								  'Pass embeddings, or create the collection with embedding_function => ''schema.function'' (text -> vector).');
		END IF;
		EXECUTE format('SELECT array_agg(%s(d) ORDER BY i) FROM unnest($1) WITH ORDINALITY AS u(d, i)',
					   c.embedding_function)
			INTO embeddings USING documents;
	END IF;
	IF embeddings IS NOT NULL THEN
		SELECT array_agg(DISTINCT @extschema@.vector_dims(e)) INTO dims FROM unnest(embeddings) e;
		IF c.dimension IS NULL THEN
			dim := @extschema@.vector_dims(embeddings[1]);
			UPDATE chroma.collections x SET dimension = dim
				WHERE x.id = c.id AND x.dimension IS NULL;
			SELECT x.dimension INTO dim FROM chroma.collections x WHERE x.id = c.id;
			PERFORM chroma._sync_collection(c.id);
		ELSE
			dim := c.dimension;
		END IF;
		FOR i IN 1 .. cardinality(embeddings) LOOP
			IF @extschema@.vector_dims(embeddings[i]) <> dim THEN
				PERFORM chroma._raise('22000', 'embedding dimension does not match the collection',
									  format('Collection expecting embedding with dimension of %s, got %s',
											 dim, @extschema@.vector_dims(embeddings[i])));
			END IF;
		END LOOP;
	END IF;
	RETURN embeddings;
END
$$;

CREATE FUNCTION chroma.add(collection text, ids text[], embeddings vector[] DEFAULT NULL,
						   metadatas jsonb[] DEFAULT NULL, documents text[] DEFAULT NULL,
						   uris text[] DEFAULT NULL)
	RETURNS void
	LANGUAGE plpgsql
	AS $$
DECLARE
	c chroma.collections := chroma._find_collection(collection);
BEGIN
	embeddings := chroma._prepare_records(c, ids, embeddings, metadatas, documents, uris, false);
	EXECUTE format('INSERT INTO %s (id, embedding, document, metadata, uri)
					SELECT u.id, u.e, u.d, nullif(jsonb_strip_nulls(u.m), ''{}''), u.u
					FROM unnest($1, $2, $3, $4, $5) WITH ORDINALITY AS u(id, e, m, d, u, i)
					ORDER BY u.i
					ON CONFLICT (id) DO NOTHING', chroma._records(c))
		USING ids, embeddings, metadatas, documents, uris;
END
$$;

CREATE FUNCTION chroma.upsert(collection text, ids text[], embeddings vector[] DEFAULT NULL,
							  metadatas jsonb[] DEFAULT NULL, documents text[] DEFAULT NULL,
							  uris text[] DEFAULT NULL)
	RETURNS void
	LANGUAGE plpgsql
	AS $$
DECLARE
	c chroma.collections := chroma._find_collection(collection);
BEGIN
	embeddings := chroma._prepare_records(c, ids, embeddings, metadatas, documents, uris, false);
	EXECUTE format('INSERT INTO %1$s AS r (id, embedding, document, metadata, uri)
					SELECT u.id, u.e, u.d, nullif(jsonb_strip_nulls(u.m), ''{}''), u.u
					FROM unnest($1, $2, $3, $4, $5) WITH ORDINALITY AS u(id, e, m, d, u, i)
					ORDER BY u.i
					ON CONFLICT (id) DO UPDATE SET
						embedding = CASE WHEN $2 IS NULL THEN r.embedding ELSE excluded.embedding END,
						document = CASE WHEN $4 IS NULL THEN r.document ELSE excluded.document END,
						uri = CASE WHEN $5 IS NULL THEN r.uri ELSE excluded.uri END,
						metadata = CASE WHEN $3 IS NULL THEN r.metadata
									ELSE chroma._merge_metadata(r.metadata,
										($3)[(SELECT min(k) FROM unnest($1) WITH ORDINALITY AS v(x, k) WHERE v.x = excluded.id)])
								   END', chroma._records(c))
		USING ids, embeddings, metadatas, documents, uris;
END
$$;

-- metadata after an update: keys of the new metadata replace the old ones,
-- null values delete keys; no keys left is no metadata
CREATE FUNCTION chroma._merge_metadata(old jsonb, new jsonb) RETURNS jsonb
	LANGUAGE sql IMMUTABLE
	AS $$
	SELECT CASE WHEN new IS NULL OR jsonb_typeof(new) = 'null' THEN old
				ELSE nullif(jsonb_strip_nulls(coalesce(old, '{}') || new), '{}') END
$$;

CREATE FUNCTION chroma.update(collection text, ids text[], embeddings vector[] DEFAULT NULL,
							  metadatas jsonb[] DEFAULT NULL, documents text[] DEFAULT NULL,
							  uris text[] DEFAULT NULL)
	RETURNS void
	LANGUAGE plpgsql
	AS $$
DECLARE
	c chroma.collections := chroma._find_collection(collection);
BEGIN
	embeddings := chroma._prepare_records(c, ids, embeddings, metadatas, documents, uris, true);
	IF embeddings IS NULL AND documents IS NOT NULL AND c.embedding_function IS NOT NULL THEN
		EXECUTE format('SELECT array_agg(%s(d) ORDER BY i) FROM unnest($1) WITH ORDINALITY AS u(d, i)',
					   c.embedding_function)
			INTO embeddings USING documents;
	END IF;
	EXECUTE format('UPDATE %s AS r SET
						embedding = CASE WHEN $2 IS NULL THEN r.embedding ELSE u.e END,
						document = CASE WHEN $4 IS NULL THEN r.document ELSE u.d END,
						uri = CASE WHEN $5 IS NULL THEN r.uri ELSE u.u END,
						metadata = CASE WHEN $3 IS NULL THEN r.metadata
									ELSE chroma._merge_metadata(r.metadata, u.m) END
					FROM unnest($1, $2, $3, $4, $5) AS u(id, e, m, d, u)
					WHERE r.id = u.id', chroma._records(c))
		USING ids, embeddings, metadatas, documents, uris;
END
$$;

CREATE FUNCTION chroma.delete(collection text, ids text[] DEFAULT NULL,
							  "where" jsonb DEFAULT NULL, where_document jsonb DEFAULT NULL)
	RETURNS integer
	LANGUAGE plpgsql
	AS $$
DECLARE
	c chroma.collections := chroma._find_collection(collection);
	n integer;
BEGIN
	IF ids IS NOT NULL THEN
		PERFORM chroma._check_ids(ids);
	END IF;
	EXECUTE format('DELETE FROM %s WHERE %s', chroma._records(c),
				   chroma._filter_sql(ids, "where", where_document));
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END
$$;

CREATE FUNCTION chroma._check_include(include text[], allowed text[]) RETURNS void
	LANGUAGE plpgsql IMMUTABLE
	AS $$
DECLARE
	x text;
BEGIN
	FOREACH x IN ARRAY include LOOP
		IF x IS NULL OR NOT x = ANY (allowed) THEN
			PERFORM chroma._invalid(format('Expected ''include'' items to be one of %s, but got %s',
										   array_to_string(allowed, ', '), x));
		END IF;
	END LOOP;
END
$$;

CREATE FUNCTION chroma.get(collection text, ids text[] DEFAULT NULL,
						   "where" jsonb DEFAULT NULL, where_document jsonb DEFAULT NULL,
						   "limit" integer DEFAULT NULL, "offset" integer DEFAULT NULL,
						   include text[] DEFAULT '{documents,metadatas}')
	RETURNS TABLE (id text, embedding vector, document text, metadata jsonb, uri text)
	LANGUAGE plpgsql STABLE
	AS $$
DECLARE
	c chroma.collections := chroma._find_collection(collection);
BEGIN
	include := coalesce(include, '{}');
	PERFORM chroma._check_include(include, '{documents,embeddings,metadatas,uris}');
	IF "limit" < 0 OR "offset" < 0 THEN
		PERFORM chroma._invalid('limit and offset must not be negative');
	END IF;
	RETURN QUERY EXECUTE format(
		'SELECT r.id, %s, %s, %s, %s FROM %s r WHERE %s ORDER BY r.seq LIMIT $1 OFFSET $2',
		CASE WHEN 'embeddings' = ANY (include) THEN 'r.embedding' ELSE 'NULL::@extschema@.vector' END,
		CASE WHEN 'documents' = ANY (include) THEN 'r.document' ELSE 'NULL::text' END,
		CASE WHEN 'metadatas' = ANY (include) THEN 'r.metadata' ELSE 'NULL::jsonb' END,
		CASE WHEN 'uris' = ANY (include) THEN 'r.uri' ELSE 'NULL::text' END,
		chroma._records(c), chroma._filter_sql(ids, "where", where_document))
		USING "limit", coalesce("offset", 0);
END
$$;

CREATE FUNCTION chroma.peek(collection text, "limit" integer DEFAULT 10)
	RETURNS TABLE (id text, embedding vector, document text, metadata jsonb, uri text)
	LANGUAGE sql STABLE
	AS $$
	SELECT * FROM chroma.get(collection, "limit" => "limit",
							 include => '{embeddings,documents,metadatas}')
$$;

CREATE FUNCTION chroma.count(collection text) RETURNS integer
	LANGUAGE plpgsql STABLE
	AS $$
DECLARE
	c chroma.collections := chroma._find_collection(collection);
	n integer;
BEGIN
	EXECUTE format('SELECT count(*) FROM %s', chroma._records(c)) INTO n;
	RETURN n;
END
$$;

CREATE FUNCTION chroma.query(collection text, query_embeddings vector[] DEFAULT NULL,
							 n_results integer DEFAULT 10, "where" jsonb DEFAULT NULL,
							 where_document jsonb DEFAULT NULL,
							 include text[] DEFAULT '{documents,metadatas,distances}',
							 query_texts text[] DEFAULT NULL, ids text[] DEFAULT NULL)
	RETURNS TABLE (query_index integer, id text, distance real, embedding vector,
				   document text, metadata jsonb, uri text)
	LANGUAGE plpgsql
	AS $$
DECLARE
	c chroma.collections := chroma._find_collection(collection);
	filter text;
	dist text;
	ord text;
	q vector;
	i integer := 0;
	old_ef text := current_setting('hnsw.ef_search');
	old_iterative text := current_setting('hnsw.iterative_scan');
	exact_limit integer := current_setting('chroma.exact_filter_limit')::integer;
	matching bigint := 0;
	ef integer;
	cols text;
	sql text;
BEGIN
	include := coalesce(include, '{}');
	PERFORM chroma._check_include(include, '{documents,embeddings,metadatas,uris,distances}');
	IF query_embeddings IS NULL AND query_texts IS NULL THEN
		PERFORM chroma._invalid('You must provide either query_embeddings or query_texts');
	END IF;
	IF query_embeddings IS NOT NULL AND query_texts IS NOT NULL THEN
		PERFORM chroma._invalid('You can only provide query_embeddings or query_texts, not both');
	END IF;
	IF query_embeddings IS NULL THEN
		IF c.embedding_function IS NULL THEN
			PERFORM chroma._raise('22023', format('collection "%s" has no embedding function', c.name),
								  'You must provide embeddings or an embedding function.',
								  'Pass query_embeddings, or create the collection with embedding_function => ''schema.function'' (text -> vector).');
		END IF;
		EXECUTE format('SELECT array_agg(%s(d) ORDER BY i) FROM unnest($1) WITH ORDINALITY AS u(d, i)',
					   c.embedding_function)
			INTO query_embeddings USING query_texts;
	END IF;
	IF cardinality(query_embeddings) = 0 THEN
		PERFORM chroma._invalid('Expected embeddings to be an array with at least one item');
	END IF;
	IF n_results IS NULL OR n_results < 0 THEN
		PERFORM chroma._invalid(format('Expected requested number of results to be a positive integer, got %s',
									   coalesce(n_results::text, 'null')));
	END IF;
	IF ids IS NOT NULL THEN
		PERFORM chroma._check_ids(ids);
	END IF;
	filter := chroma._filter_sql(ids, "where", where_document);
	CASE c.space
		WHEN 'l2' THEN
			dist := '@extschema@.l2_squared_distance(r.embedding, $1)::real';
			ord := 'r.embedding OPERATOR(@extschema@.<->) $1';
		WHEN 'ip' THEN
			dist := '(1 - @extschema@.inner_product(r.embedding, $1))::real';
			ord := 'r.embedding OPERATOR(@extschema@.<#>) $1';
		ELSE
			dist := '@extschema@.cosine_distance(r.embedding, $1)::real';
			ord := 'r.embedding OPERATOR(@extschema@.<=>) $1';
	END CASE;
	cols := concat_ws(', ',
		CASE WHEN 'embeddings' = ANY (include) THEN 'r.embedding' ELSE 'NULL::@extschema@.vector' END,
		CASE WHEN 'documents' = ANY (include) THEN 'r.document' ELSE 'NULL::text' END,
		CASE WHEN 'metadatas' = ANY (include) THEN 'r.metadata' ELSE 'NULL::jsonb' END,
		CASE WHEN 'uris' = ANY (include) THEN 'r.uri' ELSE 'NULL::text' END);
	IF filter = 'true' THEN
		-- the collection's HNSW index, ef_search from its configuration
		sql := format('SELECT r.id, %s AS distance, %s FROM %s r ORDER BY %s LIMIT $2',
					  dist, cols,
					  chroma._records(c), ord);
	ELSE
		-- a filter: exact over the matching records (Chroma's answer) when
		-- they are few, else the index, skipping the records it rejects
		EXECUTE format('SELECT count(*) FROM (SELECT 1 FROM %s r WHERE %s LIMIT $1) s',
					   chroma._records(c), filter)
			INTO matching USING exact_limit + 1;
	END IF;
	IF filter <> 'true' AND matching > exact_limit THEN
		sql := format('SELECT r.id, %s AS distance, %s FROM %s r WHERE %s ORDER BY %s LIMIT $2',
					  dist, cols,
					  chroma._records(c), filter, ord);
		PERFORM set_config('hnsw.iterative_scan', 'strict_order', true);
	ELSIF filter <> 'true' THEN
		sql := format('SELECT r.id, %s AS distance, %s FROM (SELECT * FROM %s r WHERE %s OFFSET 0) r ORDER BY 2, r.seq LIMIT $2',
					  dist, cols,
					  chroma._records(c), filter);
	END IF;
	ef := greatest((c.configuration -> 'hnsw' ->> 'ef_search')::integer, n_results);
	PERFORM set_config('hnsw.ef_search', least(ef, 1000)::text, true);
	FOREACH q IN ARRAY query_embeddings LOOP
		IF q IS NULL THEN
			PERFORM chroma._invalid('Expected each embedding to be an array of numbers');
		END IF;
		IF c.dimension IS NOT NULL AND @extschema@.vector_dims(q) <> c.dimension THEN
			PERFORM chroma._raise('22000', 'query embedding dimension does not match the collection',
								  format('Collection expecting embedding with dimension of %s, got %s',
										 c.dimension, @extschema@.vector_dims(q)));
		END IF;
		RETURN QUERY EXECUTE format('SELECT %s, s.* FROM (%s) s', i, sql) USING q, n_results;
		i := i + 1;
	END LOOP;
	PERFORM set_config('hnsw.ef_search', old_ef, true);
	PERFORM set_config('hnsw.iterative_scan', old_iterative, true);
END
$$;

--
-- JSON shaped as Chroma's HTTP responses
--

CREATE FUNCTION chroma._vector_json(v vector) RETURNS jsonb
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
	AS $$ SELECT to_jsonb(v::real[]) $$;

CREATE FUNCTION chroma.get_json(collection text, ids text[] DEFAULT NULL,
								"where" jsonb DEFAULT NULL, where_document jsonb DEFAULT NULL,
								"limit" integer DEFAULT NULL, "offset" integer DEFAULT NULL,
								include text[] DEFAULT '{documents,metadatas}')
	RETURNS jsonb
	LANGUAGE sql STABLE
	AS $$
	SELECT jsonb_build_object(
		'ids', coalesce(jsonb_agg(g.id ORDER BY g.n), '[]'),
		'embeddings', CASE WHEN 'embeddings' = ANY (include) THEN
			coalesce(jsonb_agg(chroma._vector_json(g.embedding) ORDER BY g.n), '[]') END,
		'documents', CASE WHEN 'documents' = ANY (include) THEN
			coalesce(jsonb_agg(g.document ORDER BY g.n), '[]') END,
		'uris', CASE WHEN 'uris' = ANY (include) THEN
			coalesce(jsonb_agg(g.uri ORDER BY g.n), '[]') END,
		'metadatas', CASE WHEN 'metadatas' = ANY (include) THEN
			coalesce(jsonb_agg(g.metadata ORDER BY g.n), '[]') END,
		'include', to_jsonb(coalesce(include, '{}')))
	FROM chroma.get(collection, ids, "where", where_document, "limit", "offset", include)
		WITH ORDINALITY AS g(id, embedding, document, metadata, uri, n)
$$;

CREATE FUNCTION chroma.query_json(collection text, query_embeddings vector[] DEFAULT NULL,
								  n_results integer DEFAULT 10, "where" jsonb DEFAULT NULL,
								  where_document jsonb DEFAULT NULL,
								  include text[] DEFAULT '{documents,metadatas,distances}',
								  query_texts text[] DEFAULT NULL, ids text[] DEFAULT NULL)
	RETURNS jsonb
	LANGUAGE sql
	AS $$
	WITH r AS MATERIALIZED (
		SELECT * FROM chroma.query(collection, query_embeddings, n_results, "where",
								   where_document, include, query_texts, ids)
			WITH ORDINALITY AS q(query_index, id, distance, embedding, document, metadata, uri, n)
	),
	nq AS (
		SELECT generate_series(0, coalesce(cardinality(query_embeddings), cardinality(query_texts)) - 1) AS qi
	),
	per AS (
		SELECT nq.qi,
			coalesce(jsonb_agg(r.id ORDER BY r.n) FILTER (WHERE r.id IS NOT NULL), '[]') AS ids,
			coalesce(jsonb_agg(r.distance ORDER BY r.n) FILTER (WHERE r.id IS NOT NULL), '[]') AS distances,
			coalesce(jsonb_agg(chroma._vector_json(r.embedding) ORDER BY r.n) FILTER (WHERE r.id IS NOT NULL), '[]') AS embeddings,
			coalesce(jsonb_agg(r.document ORDER BY r.n) FILTER (WHERE r.id IS NOT NULL), '[]') AS documents,
			coalesce(jsonb_agg(r.metadata ORDER BY r.n) FILTER (WHERE r.id IS NOT NULL), '[]') AS metadatas,
			coalesce(jsonb_agg(r.uri ORDER BY r.n) FILTER (WHERE r.id IS NOT NULL), '[]') AS uris
		FROM nq LEFT JOIN r ON r.query_index = nq.qi
		GROUP BY nq.qi
	)
	SELECT jsonb_build_object(
		'ids', coalesce(jsonb_agg(per.ids ORDER BY per.qi), '[]'),
		'embeddings', CASE WHEN 'embeddings' = ANY (include) THEN coalesce(jsonb_agg(per.embeddings ORDER BY per.qi), '[]') END,
		'documents', CASE WHEN 'documents' = ANY (include) THEN coalesce(jsonb_agg(per.documents ORDER BY per.qi), '[]') END,
		'uris', CASE WHEN 'uris' = ANY (include) THEN coalesce(jsonb_agg(per.uris ORDER BY per.qi), '[]') END,
		'metadatas', CASE WHEN 'metadatas' = ANY (include) THEN coalesce(jsonb_agg(per.metadatas ORDER BY per.qi), '[]') END,
		'distances', CASE WHEN 'distances' = ANY (include) THEN coalesce(jsonb_agg(per.distances ORDER BY per.qi), '[]') END,
		'include', to_jsonb(coalesce(include, '{}')))
	FROM per
$$;

CREATE FUNCTION chroma.peek_json(collection text, "limit" integer DEFAULT 10)
	RETURNS jsonb
	LANGUAGE sql STABLE
	AS $$ SELECT chroma.get_json(collection, "limit" => "limit",
								 include => '{embeddings,documents,metadatas}') $$;

CREATE FUNCTION chroma.get_collection_json(name text) RETURNS jsonb
	LANGUAGE sql STABLE
	AS $$ SELECT chroma._collection_json(c) FROM chroma._find_collection(name) c $$;

CREATE FUNCTION chroma.create_collection_json(name text, metadata jsonb DEFAULT NULL,
											  configuration jsonb DEFAULT NULL,
											  get_or_create boolean DEFAULT false,
											  embedding_function regproc DEFAULT NULL)
	RETURNS jsonb
	LANGUAGE sql
	AS $$ SELECT chroma._collection_json(c)
		  FROM chroma.create_collection(name, metadata, configuration, get_or_create,
										embedding_function) c $$;

CREATE FUNCTION chroma.list_collections_json("limit" integer DEFAULT NULL,
											 "offset" integer DEFAULT NULL)
	RETURNS jsonb
	LANGUAGE sql STABLE
	AS $$ SELECT coalesce(jsonb_agg(chroma._collection_json(c) ORDER BY c.id), '[]')
		  FROM chroma.list_collections("limit", "offset") c $$;
