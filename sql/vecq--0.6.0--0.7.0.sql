/* sql/vecq--0.6.0--0.7.0.sql: vecq 0.7.0 adds graph seeds for HNSW builds */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION vecq UPDATE TO '0.7.0'" to load this file. \quit

--
-- vecq_hnsw_seed(table, chunk): hold neighbour lists made elsewhere (the
-- format is in src/common/graph_seed.h; vecq-migrate sends the graph of
-- Chroma's HNSW files) for the table, in this session.  The next
-- CREATE INDEX ... USING hnsw on it takes a row's lists from the element
-- whose vector hash matches instead of searching, then drops the seed.
-- Returns the elements held so far.  Only the table's owner may seed it;
-- parallel unsafe, as it changes the session's state.
-- vecq_hnsw_seed_hash(vector) is the hash an element names its row by;
-- vecq_hnsw_seed_reset() drops the session's seed.
--
CREATE FUNCTION vecq_hnsw_seed(tbl regclass, chunk bytea) RETURNS bigint
	AS 'MODULE_PATHNAME' LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION vecq_hnsw_seed(regclass, bytea) IS
	'hold a chunk of an hnsw graph seed for the next index build on the table in this session';

CREATE FUNCTION vecq_hnsw_seed_reset() RETURNS void
	AS 'MODULE_PATHNAME' LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION vecq_hnsw_seed_reset() IS
	'drop this session''s hnsw graph seed';

CREATE FUNCTION vecq_hnsw_seed_hash(v vector) RETURNS bigint
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION vecq_hnsw_seed_hash(vector) IS
	'the hash by which an hnsw graph seed element names the row holding this vector';
