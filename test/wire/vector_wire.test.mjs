// vector_wire.test.mjs
//   Wire-format tests of the vector type from real clients: node-postgres
//   with the pgvector package, and a raw protocol client for binary results.
//
// The binary form of a vector is: uint16 dim, uint16 unused (always 0), then
// dim float4, all big-endian.  These tests build that layout by hand and
// check that the server sends, receives, copies and rejects it exactly as
// pgvector does, so existing pgvector clients work unchanged.  They use only
// the type name "vector", so the same file runs against vecq and pgvector.
//
// Connects with PGHOST, PGPORT, PGUSER, PGDATABASE (and PGPASSWORD); the
// database must already have the extension providing "vector".
//
// Run: node --test   (from test/wire, after npm ci)
//
// test/wire/vector_wire.test.mjs
//
// (ES modules are always in strict mode.)

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import pg from 'pg';
import pgvector from 'pgvector/pg';

import * as pgcopy from './lib/pgcopy.mjs';
import { copyFile, parseCopyFile } from './lib/pgcopy.mjs';
import { RawConnection } from './lib/rawpg.mjs';

const MAX_DIM = 16000;

// Tables are real (not temporary) so that both connections see them; the
// suffix keeps concurrent runs against one database apart.
const SUFFIX = `${process.pid}`;
const T_TEXT = `wire_text_${SUFFIX}`;
const T_BIN = `wire_bin_${SUFFIX}`;
const T_COPY = `wire_copy_${SUFFIX}`;
const T_TYPMOD = `wire_typmod_${SUFFIX}`;

let client;			// node-postgres, with pgvector's type parser
let raw;			// raw protocol client, for binary results
let vectorOid;

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

// float4 bit pattern of a number (rounded to float4 first)
function f32bits(x) {
  const b = Buffer.alloc(4);
  b.writeFloatBE(x);
  return b.readUInt32BE(0);
}

// float4 with the given bit pattern, as a JS number
function fromBits(bits) {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(bits >>> 0);
  return b.readFloatBE(0);
}

// The binary form of a vector, built by hand.  elements are float4 bit
// patterns, so NaN, infinities and -0 are spelled exactly.
function vectorBinary(elementBits, { dim = elementBits.length, unused = 0 } = {}) {
  const b = Buffer.alloc(4 + 4 * elementBits.length);
  b.writeUInt16BE(dim, 0);
  b.writeUInt16BE(unused, 2);
  elementBits.forEach((bits, i) => b.writeUInt32BE(bits >>> 0, 4 + 4 * i));
  return b;
}

// the binary form of a vector of (float4-representable) numbers
function vectorBinaryOf(values) {
  return vectorBinary(values.map(f32bits));
}

// A deterministic stream of finite float4 values of every magnitude and
// sign, from a xorshift generator over the bit patterns.
function randomFloats(n, seed = 0x2545f491) {
  const out = [];
  let s = seed >>> 0;
  while (out.length < n) {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    const x = fromBits(s);
    if (Number.isFinite(x))
      out.push(x);
  }
  return out;
}

// assert that two arrays hold the same float4 values, bit for bit (so -0 and
// 0 differ); a holds numbers as parsed by the client
function assertSameFloat4(actual, expected, what) {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    if (f32bits(actual[i]) !== f32bits(expected[i]))
      assert.fail(`${what}: element ${i} is ${actual[i]}, expected ${expected[i]}`);
  }
}

// assert that a promise fails with the given SQLSTATE (and message, if given)
async function assertSqlState(promise, code, message) {
  await assert.rejects(promise, (err) => {
    assert.equal(err.code, code, `SQLSTATE ${err.code} (${err.message}), expected ${code}`);
    if (message !== undefined)
      assert.equal(err.message, message);
    return true;
  });
}

// special float4 bit patterns
const BITS = {
  negZero: 0x80000000,
  minSubnormal: 0x00000001,
  maxSubnormal: 0x007fffff,
  minNormal: 0x00800000,
  fltMax: 0x7f7fffff,
  negFltMax: 0xff7fffff,
  nan: 0x7fc00000,
  negNan: 0xffc00000,
  signallingNan: 0x7f800001,
  inf: 0x7f800000,
  negInf: 0xff800000,
};

// float4 values that must survive any round trip
const EDGE_VALUES = [
  1, -1, 2.5, -3, 0.5,
  Math.fround(0.1), Math.fround(1 / 3), Math.fround(Math.PI), Math.fround(-1e-3),
  fromBits(BITS.minSubnormal), -fromBits(BITS.minSubnormal),
  fromBits(BITS.maxSubnormal), fromBits(BITS.minNormal),
  Math.fround(1e-40), Math.fround(1.17549435e-38),
  fromBits(BITS.fltMax), fromBits(BITS.negFltMax),
  Math.fround(1e38), Math.fround(-123456789), 16777216, 16777218,
  Math.fround(6.0221409e23), Math.fround(1e-30),
  0,
];

// ---------------------------------------------------------------------------
// Setup
// ---------------------------------------------------------------------------

before(async () => {
  client = new pg.Client();		// PGHOST, PGPORT, PGUSER, PGDATABASE
  await client.connect();
  await pgvector.registerTypes(client);
  raw = await RawConnection.connect();

  const res = await client.query("SELECT 'vector'::regtype::oid AS oid");
  vectorOid = Number(res.rows[0].oid);

  await client.query(`CREATE TABLE ${T_TEXT} (id int PRIMARY KEY, v vector)`);
  await client.query(`CREATE TABLE ${T_BIN} (id int PRIMARY KEY, v vector)`);
  await client.query(`CREATE TABLE ${T_COPY} (id int PRIMARY KEY, v vector)`);
  await client.query(`CREATE TABLE ${T_TYPMOD} (id int PRIMARY KEY, v vector(3))`);
});

after(async () => {
  if (client) {
    for (const t of [T_TEXT, T_BIN, T_COPY, T_TYPMOD])
      await client.query(`DROP TABLE IF EXISTS ${t}`);
    await client.end();
  }
  if (raw)
    await raw.close();
});

// ---------------------------------------------------------------------------
// 1. Text format through pgvector's toSql and type parser
// ---------------------------------------------------------------------------

describe('text format with pgvector', () => {
  // insert with toSql as a text parameter, read back through the parser
  async function roundTrip(id, values) {
    await client.query(`INSERT INTO ${T_TEXT} (id, v) VALUES ($1, $2)`,
      [id, pgvector.toSql(values)]);
    const res = await client.query(`SELECT v FROM ${T_TEXT} WHERE id = $1`, [id]);
    return res.rows[0].v;
  }

  test('small vector', async () => {
    const back = await roundTrip(1, [1, 2.5, -3]);
    assert.deepEqual(back, [1, 2.5, -3]);
  });

  test('tiny, large and awkward float4 values', async () => {
    const back = await roundTrip(2, EDGE_VALUES);
    assertSameFloat4(back, EDGE_VALUES, 'edge values');
  });

  test('each edge value alone', async () => {
    for (const [i, x] of EDGE_VALUES.entries()) {
      const back = await roundTrip(100 + i, [x]);
      assertSameFloat4(back, [x], `value ${x}`);
    }
  });

  test('16000 dimensions', async () => {
    const values = randomFloats(MAX_DIM);
    const back = await roundTrip(3, values);
    assertSameFloat4(back, values, '16000-dim vector');
  });

  test('negative zero', async () => {
    // pgvector's toSql uses JSON.stringify, which writes -0 as "0", so the
    // sign is lost before the value leaves the client.  Send it as text.
    await client.query(`INSERT INTO ${T_TEXT} (id, v) VALUES ($1, $2)`, [4, '[-0,0,-0]']);
    const res = await client.query(`SELECT v, v::text AS t FROM ${T_TEXT} WHERE id = 4`);
    assert.equal(res.rows[0].t, '[-0,0,-0]');
    assertSameFloat4(res.rows[0].v, [-0, 0, -0], 'negative zero');
    assert.ok(Object.is(res.rows[0].v[0], -0), 'first element is -0');
  });

  test('NULL stays NULL', async () => {
    await client.query(`INSERT INTO ${T_TEXT} (id, v) VALUES (5, NULL)`);
    const res = await client.query(`SELECT v FROM ${T_TEXT} WHERE id = 5`);
    assert.equal(res.rows[0].v, null);
  });

  test('malformed text is 22P02 naming the input', async () => {
    await assertSqlState(client.query('SELECT $1::vector', ['[1,2']), '22P02',
      'invalid input syntax for type vector: "[1,2"');
    await assertSqlState(client.query('SELECT $1::vector', ['1,2]']), '22P02',
      'invalid input syntax for type vector: "1,2]"');
  });

  test('invalid values', async () => {
    await assertSqlState(client.query('SELECT $1::vector', ['[]']), '22000');
    await assertSqlState(client.query('SELECT $1::vector', ['[1,NaN]']), '22000');
    await assertSqlState(client.query('SELECT $1::vector', ['[Infinity]']), '22000');
    await assertSqlState(client.query('SELECT $1::vector', ['[1e39]']), '22003');
    await assertSqlState(client.query('SELECT $1::vector',
      [pgvector.toSql(new Array(MAX_DIM + 1).fill(1))]), '54000');
  });
});

// ---------------------------------------------------------------------------
// 2. Binary results: exact bytes of the send function
// ---------------------------------------------------------------------------

describe('binary results', () => {
  // SELECT a vector given as text, with binary result format
  async function selectBinary(text) {
    const res = await raw.query('SELECT $1::vector AS v', [text], { resultFormat: 1 });
    assert.equal(res.fields.length, 1);
    assert.equal(res.fields[0].format, 1, 'column sent in binary');
    assert.equal(res.fields[0].typeOid, vectorOid, 'column type is vector');
    assert.equal(res.rows.length, 1);
    return res.rows[0][0];
  }

  test('layout of a small vector', async () => {
    const got = await selectBinary('[1,2.5,-3]');
    const want = Buffer.from([
      0x00, 0x03, 0x00, 0x00,		// dim 3, unused 0
      0x3f, 0x80, 0x00, 0x00,		// 1
      0x40, 0x20, 0x00, 0x00,		// 2.5
      0xc0, 0x40, 0x00, 0x00,		// -3
    ]);
    assert.deepEqual(got, want);
  });

  test('edge values, negative zero and subnormals', async () => {
    const text = '[-0,1e-45,-1.1754942e-38,3.4028235e+38,-3.4028235e+38,0.1]';
    const got = await selectBinary(text);
    const want = vectorBinary([
      BITS.negZero, BITS.minSubnormal, 0x807fffff, BITS.fltMax, BITS.negFltMax,
      f32bits(0.1),
    ]);
    assert.deepEqual(got, want);
  });

  test('every edge value', async () => {
    const got = await selectBinary(pgvector.toSql(EDGE_VALUES));
    assert.deepEqual(got, vectorBinaryOf(EDGE_VALUES));
  });

  test('16000 dimensions from a table', async () => {
    const values = randomFloats(MAX_DIM, 7);
    await client.query(`INSERT INTO ${T_BIN} (id, v) VALUES (1000, $1)`, [pgvector.toSql(values)]);
    const res = await raw.query(`SELECT v FROM ${T_BIN} WHERE id = 1000`, [], { resultFormat: 1 });
    const got = res.rows[0][0];
    assert.equal(got.length, 4 + 4 * MAX_DIM);
    assert.deepEqual(got, vectorBinaryOf(values));
  });

  test('text result of the same connection is the canonical text', async () => {
    const res = await raw.query('SELECT $1::vector AS v', ['[ 1.0 , 2.50, -3e0 ]'], { resultFormat: 0 });
    assert.equal(res.rows[0][0].toString('utf8'), '[1,2.5,-3]');
  });
});

// ---------------------------------------------------------------------------
// 3. Binary parameters: node-postgres sends a Buffer with format code 1
// ---------------------------------------------------------------------------

describe('binary parameters', () => {
  // insert a hand-built binary vector and read the stored bytes back
  async function storeAndFetch(id, buf) {
    await client.query(`INSERT INTO ${T_BIN} (id, v) VALUES ($1, $2)`, [id, buf]);
    const res = await raw.query(`SELECT v FROM ${T_BIN} WHERE id = $1`, [String(id)],
      { resultFormat: 1 });
    return res.rows[0][0];
  }

  test('small vector is stored as sent', async () => {
    const buf = vectorBinaryOf([1, 2.5, -3]);
    assert.deepEqual(await storeAndFetch(1, buf), buf);
    const res = await client.query(`SELECT v::text AS t, v FROM ${T_BIN} WHERE id = 1`);
    assert.equal(res.rows[0].t, '[1,2.5,-3]');
    assert.deepEqual(res.rows[0].v, [1, 2.5, -3]);
  });

  test('negative zero, subnormals and extremes are stored bit for bit', async () => {
    const buf = vectorBinary([
      BITS.negZero, BITS.minSubnormal, BITS.maxSubnormal, BITS.minNormal,
      BITS.fltMax, BITS.negFltMax, 0,
    ]);
    assert.deepEqual(await storeAndFetch(2, buf), buf);
    const res = await client.query(`SELECT v::text AS t FROM ${T_BIN} WHERE id = 2`);
    assert.equal(res.rows[0].t,
      '[-0,1e-45,1.1754942e-38,1.1754944e-38,3.4028235e+38,-3.4028235e+38,0]');
  });

  test('16000 dimensions', async () => {
    const buf = vectorBinaryOf(randomFloats(MAX_DIM, 11));
    assert.deepEqual(await storeAndFetch(3, buf), buf);
  });

  test('binary parameter compared with a text one', async () => {
    const values = randomFloats(64, 99);
    const res = await client.query('SELECT $1::vector = $2::vector AS same',
      [vectorBinaryOf(values), pgvector.toSql(values)]);
    assert.equal(res.rows[0].same, true);
  });

  test('unused field not 0 is 22P03', async () => {
    await assertSqlState(client.query('SELECT $1::vector',
      [vectorBinary([f32bits(1)], { unused: 1 })]), '22P03');
    await assertSqlState(client.query('SELECT $1::vector',
      [vectorBinary([f32bits(1), f32bits(2)], { unused: 0x8000 })]), '22P03');
  });

  test('zero dimensions is 22000', async () => {
    await assertSqlState(client.query('SELECT $1::vector', [vectorBinary([])]), '22000');
  });

  test('16001 dimensions is 54000', async () => {
    const bits = new Array(MAX_DIM + 1).fill(f32bits(1));
    await assertSqlState(client.query('SELECT $1::vector', [vectorBinary(bits)]), '54000');
  });

  test('NaN and infinite elements are 22000', async () => {
    for (const bad of [BITS.nan, BITS.negNan, BITS.signallingNan, BITS.inf, BITS.negInf]) {
      await assertSqlState(client.query('SELECT $1::vector',
        [vectorBinary([f32bits(1), bad])]), '22000');
    }
  });

  test('truncated data is 08P01 insufficient data', async () => {
    // dim 3 but only two elements
    const short = vectorBinary([f32bits(1), f32bits(2)], { dim: 3 });
    await assertSqlState(client.query('SELECT $1::vector', [short]), '08P01',
      'insufficient data left in message');
    // not even a whole header
    await assertSqlState(client.query('SELECT $1::vector', [Buffer.from([0x00, 0x01, 0x00])]),
      '08P01', 'insufficient data left in message');
    // an empty value
    await assertSqlState(client.query('SELECT $1::vector', [Buffer.alloc(0)]),
      '08P01', 'insufficient data left in message');
  });

  test('bytes left over are 22P03', async () => {
    // dim 1 followed by two elements: the server itself rejects leftovers
    const long = vectorBinary([f32bits(1), f32bits(2)], { dim: 1 });
    await assertSqlState(client.query('SELECT $1::vector', [long]), '22P03');
  });

  test('the connection is still usable after binary errors', async () => {
    const res = await client.query('SELECT $1::vector::text AS t', [vectorBinaryOf([4, 5])]);
    assert.equal(res.rows[0].t, '[4,5]');
  });
});

// ---------------------------------------------------------------------------
// 4. Binary COPY
// ---------------------------------------------------------------------------

// PGCOPY framing and COPY streams: lib/pgcopy.mjs
function copyIn(sql, data) {
  return pgcopy.copyIn(client, sql, data);
}

function copyOut(sql) {
  return pgcopy.copyOut(client, sql);
}

describe('binary COPY', () => {
  const vectors = [
    vectorBinaryOf([1, 2.5, -3]),
    vectorBinary([BITS.negZero, BITS.minSubnormal, BITS.fltMax]),
    vectorBinaryOf(EDGE_VALUES),
    vectorBinaryOf(randomFloats(MAX_DIM, 5)),
  ];

  test('COPY FROM STDIN and TO STDOUT keep the bytes', async () => {
    const rows = vectors.map((v, i) => [i + 1, v]);
    rows.push([vectors.length + 1, null]);
    await copyIn(`COPY ${T_COPY} (id, v) FROM STDIN (FORMAT binary)`, copyFile(rows));

    const out = parseCopyFile(await copyOut(
      `COPY (SELECT id, v FROM ${T_COPY} ORDER BY id) TO STDOUT (FORMAT binary)`));
    assert.equal(out.length, rows.length);
    out.forEach((row, i) => {
      assert.equal(row.length, 2);
      assert.equal(row[0].readInt32BE(0), rows[i][0]);
      if (rows[i][1] === null)
        assert.equal(row[1], null);
      else
        assert.deepEqual(row[1], rows[i][1], `vector of row ${rows[i][0]}`);
    });

    // and the text form agrees with what was copied in
    const res = await client.query(`SELECT v::text AS t FROM ${T_COPY} WHERE id = 1`);
    assert.equal(res.rows[0].t, '[1,2.5,-3]');
  });

  test('COPY TO STDOUT of vectors inserted as text', async () => {
    await client.query(`INSERT INTO ${T_COPY} (id, v) VALUES (100, '[0.1,-0,7]')`);
    const out = parseCopyFile(await copyOut(
      `COPY (SELECT v FROM ${T_COPY} WHERE id = 100) TO STDOUT (FORMAT binary)`));
    assert.deepEqual(out[0][0], vectorBinary([f32bits(0.1), BITS.negZero, f32bits(7)]));
  });

  test('malformed vectors in COPY FROM are rejected', async () => {
    const bad = copyFile([[200, vectorBinary([f32bits(1)], { unused: 7 })]]);
    await assertSqlState(copyIn(`COPY ${T_COPY} (id, v) FROM STDIN (FORMAT binary)`, bad),
      '22P03');
    const nan = copyFile([[201, vectorBinary([BITS.nan])]]);
    await assertSqlState(copyIn(`COPY ${T_COPY} (id, v) FROM STDIN (FORMAT binary)`, nan),
      '22000');
    const short = copyFile([[202, vectorBinary([f32bits(1)], { dim: 2 })]]);
    await assertSqlState(copyIn(`COPY ${T_COPY} (id, v) FROM STDIN (FORMAT binary)`, short),
      '08P01');
    const res = await client.query(`SELECT count(*)::int AS n FROM ${T_COPY} WHERE id >= 200`);
    assert.equal(res.rows[0].n, 0);
  });
});

// ---------------------------------------------------------------------------
// 5. Type modifier: vector(3)
// ---------------------------------------------------------------------------

describe('typmod vector(3)', () => {
  const MESSAGE = 'expected 3 dimensions, not 2';

  test('accepts 3 dimensions and reports typmod 3', async () => {
    await client.query(`INSERT INTO ${T_TYPMOD} (id, v) VALUES (1, $1)`, [pgvector.toSql([1, 2, 3])]);
    await client.query(`INSERT INTO ${T_TYPMOD} (id, v) VALUES (2, $1)`, [vectorBinaryOf([4, 5, 6])]);
    const res = await raw.query(`SELECT v FROM ${T_TYPMOD} ORDER BY id`, [], { resultFormat: 1 });
    assert.equal(res.fields[0].typmod, 3);
    assert.deepEqual(res.rows[0][0], vectorBinaryOf([1, 2, 3]));
    assert.deepEqual(res.rows[1][0], vectorBinaryOf([4, 5, 6]));
  });

  test('rejects 2 dimensions given as a text parameter', async () => {
    await assertSqlState(client.query(`INSERT INTO ${T_TYPMOD} (id, v) VALUES (10, $1)`,
      [pgvector.toSql([1, 2])]), '22000', MESSAGE);
  });

  test('rejects 2 dimensions given as a literal', async () => {
    await assertSqlState(client.query(`INSERT INTO ${T_TYPMOD} (id, v) VALUES (11, '[1,2]')`),
      '22000', MESSAGE);
    await assertSqlState(client.query("SELECT '[1,2]'::vector(3)"), '22000', MESSAGE);
  });

  test('rejects 2 dimensions given as a binary parameter', async () => {
    await assertSqlState(client.query(`INSERT INTO ${T_TYPMOD} (id, v) VALUES (12, $1)`,
      [vectorBinaryOf([1, 2])]), '22000', MESSAGE);
  });

  test('rejects 2 dimensions in binary COPY', async () => {
    await assertSqlState(copyIn(`COPY ${T_TYPMOD} (id, v) FROM STDIN (FORMAT binary)`,
      copyFile([[13, vectorBinaryOf([1, 2])]])), '22000', MESSAGE);
  });

  test('nothing with 2 dimensions was stored', async () => {
    const res = await client.query(`SELECT count(*)::int AS n FROM ${T_TYPMOD}`);
    assert.equal(res.rows[0].n, 2);
  });
});
