-- Upgrading from 0.1.0 (through 0.2.0 and 0.3.0) gives the same objects as installing the current version.

CREATE TEMP TABLE objects_fresh AS
  SELECT pg_describe_object(classid, objid, objsubid) AS object
  FROM pg_depend WHERE refclassid = 'pg_extension'::regclass
    AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'vecq');
SELECT extversion FROM pg_extension WHERE extname = 'vecq';
-- tables whose rows pg_dump keeps, and who may use vecq's tables and functions
CREATE TEMP TABLE config_fresh AS
  SELECT c::regclass::text AS tbl
  FROM pg_extension, unnest(extconfig) c WHERE extname = 'vecq';
CREATE TEMP TABLE acl_fresh AS
  SELECT 'table ' || relname AS object, relacl::text AS acl
  FROM pg_class WHERE relnamespace = 'vecq'::regnamespace
  UNION ALL
  SELECT 'function ' || oid::regprocedure::text, proacl::text
  FROM pg_proc WHERE pronamespace = 'vecq'::regnamespace;

DROP EXTENSION vecq;
CREATE EXTENSION vecq VERSION '0.1.0';
SELECT extversion FROM pg_extension WHERE extname = 'vecq';
SELECT count(*) AS hnsw_before FROM pg_am WHERE amname = 'hnsw';
CREATE TABLE up (id int, v vector(2));
INSERT INTO up VALUES (1, '[1,1]'), (2, '[5,5]');

ALTER EXTENSION vecq UPDATE TO '0.2.0';
SELECT extversion FROM pg_extension WHERE extname = 'vecq';
ALTER EXTENSION vecq UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'vecq';
CREATE TEMP TABLE objects_updated AS
  SELECT pg_describe_object(classid, objid, objsubid) AS object
  FROM pg_depend WHERE refclassid = 'pg_extension'::regclass
    AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'vecq');
-- no object missing or extra either way
(SELECT object FROM objects_fresh EXCEPT SELECT object FROM objects_updated)
UNION ALL
(SELECT object FROM objects_updated EXCEPT SELECT object FROM objects_fresh);
SELECT count(*) AS objects FROM objects_updated;
SELECT tbl FROM config_fresh EXCEPT SELECT c::regclass::text
  FROM pg_extension, unnest(extconfig) c WHERE extname = 'vecq';
SELECT c::regclass::text AS config_table
  FROM pg_extension, unnest(extconfig) c WHERE extname = 'vecq' ORDER BY 1;
CREATE TEMP TABLE acl_updated AS
  SELECT 'table ' || relname AS object, relacl::text AS acl
  FROM pg_class WHERE relnamespace = 'vecq'::regnamespace
  UNION ALL
  SELECT 'function ' || oid::regprocedure::text, proacl::text
  FROM pg_proc WHERE pronamespace = 'vecq'::regnamespace;
(SELECT * FROM acl_fresh EXCEPT SELECT * FROM acl_updated)
UNION ALL
(SELECT * FROM acl_updated EXCEPT SELECT * FROM acl_fresh);
SELECT count(*) AS vecq_objects_with_acl FROM acl_updated;

-- the upgraded extension indexes the old table
CREATE INDEX ON up USING hnsw (v vector_l2_ops);
SET enable_seqscan = off;
SELECT id FROM up ORDER BY v <-> '[4,4]' LIMIT 1;
RESET enable_seqscan;
DROP TABLE up;

-- and has the tenancy objects of 0.3.0
SELECT vecq.current_tenant() IS NULL AS no_tenant;
SELECT count(*) FROM vecq.isolated_tables();

-- and the halfvec type of 0.6.0, in vector's category, with vector preferred
-- (untyped literals still resolve to vector)
SELECT typname, typcategory, typispreferred FROM pg_type
  WHERE typname IN ('vector', 'halfvec') ORDER BY 1;
SELECT l2_distance('[0,0]', '[3,4]') AS untyped_l2, pg_typeof(l2_normalize('[3,4]')) AS untyped_type;
CREATE TABLE up_half (id int, v halfvec(2));
INSERT INTO up_half VALUES (1, '[1,1]'), (2, '[5,5]');
CREATE INDEX ON up_half USING hnsw (v halfvec_l2_ops);
SET enable_seqscan = off;
SELECT id FROM up_half ORDER BY v <-> '[4,4]' LIMIT 1;
RESET enable_seqscan;
DROP TABLE up_half;

-- and the graph seeds of 0.7.0
CREATE TABLE up_seed (v vector(2));
INSERT INTO up_seed VALUES ('[1,1]'), ('[5,5]');
SELECT vecq_hnsw_seed('up_seed', string_agg(int8send(vecq_hnsw_seed_hash(v)) || '\x00'::bytea
                                            || int2send(1::int2) || int4send((1 - n)::int), ''::bytea ORDER BY n))
  FROM (SELECT v, row_number() OVER (ORDER BY v) - 1 AS n FROM up_seed) s;
SET client_min_messages = debug1;
CREATE INDEX ON up_seed USING hnsw (v vector_l2_ops);
RESET client_min_messages;
DROP TABLE up_seed;
