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
