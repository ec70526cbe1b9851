/* sql/vecq--0.4.0--0.5.0.sql: vecq 0.5.0 adds what vecq-migrate needs */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION vecq UPDATE TO '0.5.0'" to load this file. \quit

--
-- vecq-migrate's record of a copy: one row per target collection, written
-- in the same transaction as each batch of records, so that a run that
-- stopped (a crash, Ctrl-C) resumes after the last batch that committed,
-- and a later run copies only what the source changed since (catch-up).
--
-- While a row says 'copying', the collection's table has no HNSW index
-- (chroma._sync_collection drops it): the records go in by COPY and the
-- index is built once, at the end, instead of one insert at a time.
--
CREATE TABLE chroma.migrations (
	collection uuid PRIMARY KEY
		REFERENCES chroma.collections (id) ON DELETE CASCADE,
	tenant text NOT NULL,
	-- where the records come from: a persist directory or a server URL,
	-- and the collection's id there
	source text NOT NULL,
	source_collection text NOT NULL,
	state text NOT NULL CHECK (state IN ('copying', 'done')),
	-- records written, in the source's order, how many there are, and
	-- the source's position of the last one written (the row id of the
	-- source's record table)
	records_done bigint NOT NULL DEFAULT 0 CHECK (records_done >= 0),
	records_total bigint CHECK (records_total >= 0),
	source_position bigint,
	-- the source's log position (embeddings_queue seq_id) the copy covers
	source_seq bigint,
	started timestamptz NOT NULL DEFAULT now(),
	updated timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE chroma.migrations IS
	'Copies made by vecq-migrate: progress of each target collection, for --resume and --catch-up.';

SELECT pg_catalog.pg_extension_config_dump('chroma.migrations', '');
GRANT SELECT, INSERT, UPDATE, DELETE ON chroma.migrations TO PUBLIC;
ALTER TABLE chroma.migrations ENABLE ROW LEVEL SECURITY;
ALTER TABLE chroma.migrations FORCE ROW LEVEL SECURITY;
ALTER TABLE chroma.migrations ALTER COLUMN tenant SET STATISTICS 0;
CREATE POLICY chroma_tenant ON chroma.migrations
	USING (tenant = vecq.current_tenant()) WITH CHECK (tenant = vecq.current_tenant());

-- as in 0.4.0, and: the HNSW index exists exactly when the collection has
-- a dimension and no copy into it is under way
CREATE OR REPLACE FUNCTION chroma._sync_collection(cid uuid) RETURNS void
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	c chroma.collections;
	tbl text := 'chroma_records.' || quote_ident(cid::text);
	typmod integer;
	hnsw regclass;
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
	IF c.dimension IS NULL THEN
		RETURN;
	END IF;
	SELECT a.atttypmod INTO typmod FROM pg_attribute a
		WHERE a.attrelid = tbl::regclass AND a.attname = 'embedding';
	IF typmod < 0 THEN
		EXECUTE format('ALTER TABLE %s ALTER COLUMN embedding TYPE @extschema@.vector(%s)',
					   tbl, c.dimension);
	END IF;
	SELECT i.indexrelid INTO hnsw FROM pg_index i
		JOIN pg_class ic ON ic.oid = i.indexrelid
		JOIN pg_am am ON am.oid = ic.relam
		WHERE i.indrelid = tbl::regclass AND am.amname = 'hnsw';
	IF EXISTS (SELECT FROM chroma.migrations m
			   WHERE m.collection = cid AND m.state = 'copying') THEN
		IF hnsw IS NOT NULL THEN
			EXECUTE format('DROP INDEX %s', hnsw);
		END IF;
	ELSIF hnsw IS NULL THEN
		EXECUTE format('CREATE INDEX ON %s USING hnsw (embedding @extschema@.%s) '
					   'WITH (m = %s, ef_construction = %s)', tbl,
					   CASE c.space WHEN 'l2' THEN 'vector_l2_ops'
									WHEN 'ip' THEN 'vector_ip_ops'
									ELSE 'vector_cosine_ops' END,
					   (c.configuration -> 'hnsw' ->> 'max_neighbors')::integer,
					   (c.configuration -> 'hnsw' ->> 'ef_construction')::integer);
	END IF;
END
$$;
