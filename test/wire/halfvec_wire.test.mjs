// halfvec_wire.test.mjs
//   Wire-format tests of the halfvec type from real clients: node-postgres
//   with the pgvector package (which registers a text parser for halfvec),
//   and a raw protocol client for binary results.
//
// The binary form of a halfvec is: uint16 dim, uint16 unused (always 0),
// then dim IEEE binary16 elements (their 16 bits), all big-endian.  These
// tests build that layout by hand and check what the server sends,
// receives, copies and rejects, as pgvector defines it.
//
// Connects with PGHOST, PGPORT, PGUSER, PGDATABASE (and PGPASSWORD); the
// database must already have the extension providing "halfvec".
//
// test/wire/halfvec_wire.test.mjs
//
// (ES modules are always in strict mode.)

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import pg from 'pg';
import pgvector from 'pgvector/pg';

import { copyFile, copyIn, copyOut, parseCopyFile } from './lib/pgcopy.mjs';
import { RawConnection } from './lib/rawpg.mjs';

const MAX_DIM = 16000;
const SUFFIX = `${process.pid}`;
const T_HALF = `wire_half_${SUFFIX}`;
const T_HALF_COPY = `wire_half_copy_${SUFFIX}`;

let client;
let raw;
let halfvecOid;

// the exact value of a half with the given bits (NaN/Inf not needed here)
function halfValue(bits) {
  const e = (bits >> 10) & 0x1f;
  const f = bits & 0x3ff;
  const v = e === 0 ? f * 2 ** -24 : (1 + f / 1024) * 2 ** (e - 15);
  return bits & 0x8000 ? -v : v;
}

// the binary form of a halfvec of the given element bits
function halfvecBinary(bits, { dim = bits.length, unused = 0 } = {}) {
  const b = Buffer.alloc(4 + 2 * bits.length);
  b.writeUInt16BE(dim, 0);
  b.writeUInt16BE(unused, 2);
  bits.forEach((h, i) => b.writeUInt16BE(h, 4 + 2 * i));
  return b;
}

// every finite half except -0 (0x0000-0x7bff, 0x8001-0xfbff): 63487 values
const ALL_FINITE = [];
for (let h = 0; h < 0x10000; h++) {
  if ((h & 0x7c00) !== 0x7c00 && h !== 0x8000)
    ALL_FINITE.push(h);
}

async function assertSqlState(promise, code) {
  await assert.rejects(promise, (err) => {
    assert.equal(err.code, code, `SQLSTATE of "${err.message}"`);
    return true;
  });
}

before(async () => {
  client = new pg.Client();
  await client.connect();
  await pgvector.registerTypes(client);
  raw = await RawConnection.connect();
  const res = await client.query("SELECT 'halfvec'::regtype::oid AS oid");
  halfvecOid = Number(res.rows[0].oid);
  await client.query(`CREATE TABLE ${T_HALF} (id int PRIMARY KEY, v halfvec)`);
  await client.query(`CREATE TABLE ${T_HALF_COPY} (id int PRIMARY KEY, v halfvec)`);
});

after(async () => {
  if (client) {
    for (const t of [T_HALF, T_HALF_COPY])
      await client.query(`DROP TABLE IF EXISTS ${t}`);
    await client.end();
  }
  if (raw)
    await raw.close();
});

describe('halfvec text format with pgvector', () => {
  test('pgvector registers its parser for halfvec', async () => {
    const res = await client.query("SELECT '[1,2.5,-3]'::halfvec AS v");
    assert.equal(res.fields[0].dataTypeID, halfvecOid);
    assert.deepEqual(res.rows[0].v, [1, 2.5, -3]);
  });

  test('toSql values are rounded to the nearest half', async () => {
    await client.query(`INSERT INTO ${T_HALF} (id, v) VALUES (1, $1)`,
      [pgvector.toSql([0.1, 65504, -65519, 2049, 6e-8, 1e-9])]);
    const res = await client.query(`SELECT v, v::text AS t FROM ${T_HALF} WHERE id = 1`);
    assert.equal(res.rows[0].t, '[0.099975586,65504,-65504,2048,5.9604645e-08,0]');
    // the parser reads the shortest float4 text: as float4, the exact half
    assert.deepEqual(res.rows[0].v.map(Math.fround),
      [halfValue(0x2e66), 65504, -65504, 2048, 2 ** -24, 0]);
  });

  test('every finite half: the text output is its exact value and reads back to it', async () => {
    // 63487 halves in rows of at most 16000, given in binary
    const rows = [];
    for (let i = 0; i < ALL_FINITE.length; i += MAX_DIM)
      rows.push(ALL_FINITE.slice(i, i + MAX_DIM));
    await copyIn(client, `COPY ${T_HALF_COPY} (id, v) FROM STDIN (FORMAT binary)`,
      copyFile(rows.map((r, i) => [i + 1, halfvecBinary(r)])));
    const res = await client.query(
      `SELECT id, v, v::text::halfvec = v AS same FROM ${T_HALF_COPY} ORDER BY id`);
    assert.equal(res.rows.length, rows.length);
    res.rows.forEach((row, i) => {
      assert.equal(row.same, true, `row ${row.id} reads back`);
      assert.deepEqual(row.v.map(Math.fround), rows[i].map(halfValue), `row ${row.id} values`);
    });
    // and the text, sent back as text, gives the same bits (binary result)
    for (const row of res.rows) {
      const back = await raw.query('SELECT $1::halfvec AS v', [pgvector.toSql(row.v)],
        { resultFormat: 1 });
      assert.deepEqual(back.rows[0][0], halfvecBinary(rows[row.id - 1]));
    }
    await client.query(`DELETE FROM ${T_HALF_COPY}`);
  });

  test('out of range and malformed text', async () => {
    await assertSqlState(client.query("SELECT '[65520]'::halfvec"), '22003');
    await assertSqlState(client.query('SELECT $1::halfvec', ['[1,-1e5]']), '22003');
    await assertSqlState(client.query('SELECT $1::halfvec', ['[1,NaN]']), '22000');
    await assertSqlState(client.query('SELECT $1::halfvec', ['[1,2']), '22P02');
  });
});

describe('halfvec binary results', () => {
  async function selectBinary(text) {
    const res = await raw.query('SELECT $1::halfvec AS v', [text], { resultFormat: 1 });
    assert.equal(res.fields[0].format, 1);
    assert.equal(res.fields[0].typeOid, halfvecOid);
    return res.rows[0][0];
  }

  test('layout of a small halfvec', async () => {
    const got = await selectBinary('[1,2.5,-3]');
    assert.deepEqual(got, Buffer.from([
      0x00, 0x03, 0x00, 0x00,	// dim 3, unused 0
      0x3c, 0x00,				// 1
      0x41, 0x00,				// 2.5
      0xc2, 0x00,				// -3
    ]));
  });

  test('edge values: -0, subnormals, largest', async () => {
    const got = await selectBinary('[-0,5.9604645e-8,6.0975552e-5,6.1035156e-5,65504,-65504,0.1]');
    assert.deepEqual(got, halfvecBinary([0x8000, 0x0001, 0x03ff, 0x0400, 0x7bff, 0xfbff, 0x2e66]));
  });

  test('16000 dimensions', async () => {
    const bits = ALL_FINITE.slice(20000, 20000 + MAX_DIM);
    const text = pgvector.toSql(bits.map(halfValue));
    assert.deepEqual(await selectBinary(text), halfvecBinary(bits));
  });
});

describe('halfvec binary parameters', () => {
  test('stored bit for bit', async () => {
    const buf = halfvecBinary([0x8000, 0x0001, 0x7bff, 0xfbff, 0x3c00, 0x0000]);
    await client.query(`INSERT INTO ${T_HALF} (id, v) VALUES (2, $1)`, [buf]);
    const res = await raw.query(`SELECT v FROM ${T_HALF} WHERE id = 2`, [], { resultFormat: 1 });
    assert.deepEqual(res.rows[0][0], buf);
    const txt = await client.query(`SELECT v::text AS t FROM ${T_HALF} WHERE id = 2`);
    assert.equal(txt.rows[0].t, '[-0,5.9604645e-08,65504,-65504,1,0]');
  });

  test('malformed binary halfvecs are refused with their SQLSTATEs', async () => {
    const q = (buf) => client.query(`INSERT INTO ${T_HALF} (id, v) VALUES (3, $1)`, [buf]);
    await assertSqlState(q(halfvecBinary([0x3c00], { unused: 1 })), '22P03');
    await assertSqlState(q(halfvecBinary([], { dim: 0 })), '22000');
    await assertSqlState(q(halfvecBinary([0x7e00])), '22000');		// NaN
    await assertSqlState(q(halfvecBinary([0x7c00])), '22000');		// +Inf
    await assertSqlState(q(halfvecBinary([0xfc00])), '22000');		// -Inf
    await assertSqlState(q(halfvecBinary([0x3c00], { dim: 2 })), '08P01');	// truncated
    await assertSqlState(q(Buffer.concat([halfvecBinary([0x3c00]), Buffer.alloc(1)])), '22P03');
    await assertSqlState(q(halfvecBinary(new Array(MAX_DIM + 1).fill(0x3c00))), '54000');
    const res = await client.query(`SELECT count(*)::int AS n FROM ${T_HALF} WHERE id = 3`);
    assert.equal(res.rows[0].n, 0);
  });
});

describe('halfvec binary COPY', () => {
  test('COPY FROM STDIN and TO STDOUT keep the bytes; layout of copied-out text rows', async () => {
    const vals = [
      halfvecBinary([0x3c00, 0x4100, 0xc200]),
      halfvecBinary([0x8000, 0x0001, 0x7bff]),
      halfvecBinary(ALL_FINITE.slice(0, MAX_DIM)),
    ];
    const rows = vals.map((v, i) => [i + 1, v]);
    rows.push([vals.length + 1, null]);
    await copyIn(client, `COPY ${T_HALF_COPY} (id, v) FROM STDIN (FORMAT binary)`, copyFile(rows));
    const out = parseCopyFile(await copyOut(client,
      `COPY (SELECT id, v FROM ${T_HALF_COPY} ORDER BY id) TO STDOUT (FORMAT binary)`));
    assert.equal(out.length, rows.length);
    out.forEach((row, i) => {
      assert.equal(row[0].readInt32BE(0), rows[i][0]);
      assert.deepEqual(row[1], rows[i][1]);
    });

    await client.query(`INSERT INTO ${T_HALF_COPY} (id, v) VALUES (100, '[0.1,-0,7,65519]')`);
    const one = parseCopyFile(await copyOut(client,
      `COPY (SELECT v FROM ${T_HALF_COPY} WHERE id = 100) TO STDOUT (FORMAT binary)`));
    assert.deepEqual(one[0][0], halfvecBinary([0x2e66, 0x8000, 0x4700, 0x7bff]));
  });

  test('a vector file is not a halfvec file', async () => {
    // vector [1]: dim 1, unused 0, float4 1.0 -- 4 bytes of elements, 2 expected
    const vec = Buffer.from([0, 1, 0, 0, 0x3f, 0x80, 0, 0]);
    await assertSqlState(copyIn(client, `COPY ${T_HALF_COPY} (id, v) FROM STDIN (FORMAT binary)`,
      copyFile([[300, vec]])), '22P03');
  });
});
