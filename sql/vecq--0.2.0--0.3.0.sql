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
