-- Binary send/receive: the byte layout and receive-side validation.

-- send: uint16 dim, uint16 unused = 0, float4 big-endian
SELECT vector_send('[1,2,3]');
SELECT vector_send('[-0,0.5,3.4028235e38]');
SELECT length(vector_send(array_fill(1, ARRAY[16000])::vector)) = 4 + 4 * 16000 AS send_len;

-- a binary COPY round trip through a server file
CREATE TABLE src (id int, v vector(3));
INSERT INTO src VALUES (1, '[1,2,3]'), (2, '[-1.5,0.1,1e-45]'), (3, NULL);
COPY src TO '/tmp/vecq_regress_binary.copy' (FORMAT binary);
CREATE TABLE dst (id int, v vector(3));
COPY dst FROM '/tmp/vecq_regress_binary.copy' (FORMAT binary);
SELECT d.id, d.v, d.v IS NOT DISTINCT FROM s.v AS same FROM dst d JOIN src s USING (id) ORDER BY id;

-- receive validates like input.  Build binary COPY files by hand:
-- header, then one tuple of one field (int16 1, int32 length, payload), trailer.
CREATE FUNCTION copy_file(payload bytea) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  data bytea := '\x5047434f50590aff0d0a00'::bytea || '\x0000000000000000'::bytea
                || '\x0001'::bytea || int4send(length(payload)) || payload || '\xffff'::bytea;
  lo oid := lo_from_bytea(0, data);
BEGIN
  PERFORM lo_export(lo, '/tmp/vecq_regress_binary.copy');
  PERFORM lo_unlink(lo);
END $$;
CREATE TABLE r (v vector);
CREATE TABLE r3 (v vector(3));

SELECT copy_file('\x0002000040400000bf800000');
COPY r FROM '/tmp/vecq_regress_binary.copy' (FORMAT binary);
SELECT v FROM r;
-- unused must be 0: 22P03
SELECT copy_file('\x0002000140400000bf800000');
COPY r FROM '/tmp/vecq_regress_binary.copy' (FORMAT binary);
\echo :SQLSTATE
-- zero dimensions: 22000
SELECT copy_file('\x00000000');
COPY r FROM '/tmp/vecq_regress_binary.copy' (FORMAT binary);
\echo :SQLSTATE
-- more than 16000 dimensions: 54000
SELECT copy_file('\x3e810000');
COPY r FROM '/tmp/vecq_regress_binary.copy' (FORMAT binary);
\echo :SQLSTATE
-- NaN and infinity: 22000
SELECT copy_file('\x000100007fc00000');
COPY r FROM '/tmp/vecq_regress_binary.copy' (FORMAT binary);
\echo :SQLSTATE
SELECT copy_file('\x00010000ff800000');
COPY r FROM '/tmp/vecq_regress_binary.copy' (FORMAT binary);
\echo :SQLSTATE
-- fewer element bytes than dim says: 08P01
SELECT copy_file('\x0003000040400000bf800000');
COPY r FROM '/tmp/vecq_regress_binary.copy' (FORMAT binary);
\echo :SQLSTATE
SELECT copy_file('\x7fff0000');
COPY r FROM '/tmp/vecq_regress_binary.copy' (FORMAT binary);
\echo :SQLSTATE
-- bytes left over: 22P03
SELECT copy_file('\x0001000040400000bf800000');
COPY r FROM '/tmp/vecq_regress_binary.copy' (FORMAT binary);
\echo :SQLSTATE
-- the column's typmod is checked: 22000
SELECT copy_file('\x0002000040400000bf800000');
COPY r3 FROM '/tmp/vecq_regress_binary.copy' (FORMAT binary);
\echo :SQLSTATE
-- nothing bad was stored
SELECT v FROM r;
SELECT count(*) FROM r3;
DROP TABLE src, dst, r, r3;
DROP FUNCTION copy_file(bytea);
