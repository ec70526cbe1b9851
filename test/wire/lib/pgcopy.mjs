// pgcopy.mjs
//   Binary COPY helpers for the wire tests: the PGCOPY file framing of
//   (int4 id, value) rows, its parser, and COPY FROM STDIN / TO STDOUT
//   through pg-copy-streams on a node-postgres client.
//
// test/wire/lib/pgcopy.mjs
//
// (ES modules are always in strict mode.)

import assert from 'node:assert/strict';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import copyStreams from 'pg-copy-streams';

// PGCOPY binary file framing
export const PGCOPY_SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');

// a binary COPY file of (int4 id, value) rows; values given as raw bytes
export function copyFile(rows) {
  const parts = [PGCOPY_SIGNATURE, Buffer.alloc(8)];	// flags 0, no extension
  for (const [id, vec] of rows) {
    const head = Buffer.alloc(2 + 4 + 4 + 4);
    head.writeInt16BE(2, 0);			// field count
    head.writeInt32BE(4, 2);			// id: length 4
    head.writeInt32BE(id, 6);
    head.writeInt32BE(vec === null ? -1 : vec.length, 10);
    parts.push(head);
    if (vec !== null)
      parts.push(vec);
  }
  const trailer = Buffer.alloc(2);
  trailer.writeInt16BE(-1);
  parts.push(trailer);
  return Buffer.concat(parts);
}

// split a binary COPY file into rows of field Buffers (null for NULL)
export function parseCopyFile(buf) {
  assert.deepEqual(buf.subarray(0, 11), PGCOPY_SIGNATURE, 'PGCOPY signature');
  const flags = buf.readInt32BE(11);
  assert.equal(flags & 0x10000, 0, 'no OIDs');
  let pos = 15 + 4 + buf.readInt32BE(15);
  const rows = [];
  for (;;) {
    const nfields = buf.readInt16BE(pos);
    pos += 2;
    if (nfields === -1)
      break;
    const row = [];
    for (let i = 0; i < nfields; i++) {
      const len = buf.readInt32BE(pos);
      pos += 4;
      if (len === -1) {
        row.push(null);
      } else {
        row.push(buf.subarray(pos, pos + len));
        pos += len;
      }
    }
    rows.push(row);
  }
  assert.equal(pos, buf.length, 'nothing after the trailer');
  return rows;
}

export async function copyIn(client, sql, data) {
  const stream = client.query(copyStreams.from(sql));
  await pipeline(Readable.from([data]), stream);
}

export async function copyOut(client, sql) {
  const chunks = [];
  const stream = client.query(copyStreams.to(sql));
  await pipeline(stream, new Writable({
    write(chunk, _enc, done) {
      chunks.push(chunk);
      done();
    },
  }));
  return Buffer.concat(chunks);
}
