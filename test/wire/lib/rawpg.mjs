// rawpg.mjs
//   A minimal PostgreSQL protocol-3 client that returns column values as raw
//   Buffers.
//
// node-pg asks for binary results when a query has `binary: true`, but its
// protocol parser decodes every DataRow field as a UTF-8 string, which
// destroys binary float bytes.  The wire tests need the exact bytes the
// server's send function produced, so this module speaks just enough of the
// protocol itself: startup, authentication (trust, cleartext, MD5 and
// SCRAM-SHA-256, the last through node-pg's own implementation) and one
// extended-query round trip (Parse, Bind, Describe, Execute, Sync) with
// chosen parameter and result format codes.
//
// Connection settings come from PGHOST, PGPORT, PGUSER, PGDATABASE and
// PGPASSWORD, with libpq-like defaults.  No TLS: the tests only talk to
// loopback servers.
//
// test/wire/lib/rawpg.mjs
//
// (ES modules are always in strict mode.)

import crypto from 'node:crypto';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import sasl from 'pg/lib/crypto/sasl.js';

const PROTOCOL_3_0 = 196608;

// An error reported by the server, with the fields the tests look at.
export class ServerError extends Error {
  constructor(fields) {
    super(fields.M || 'server error');
    this.name = 'ServerError';
    this.code = fields.C;
    this.severity = fields.V || fields.S;
    this.detail = fields.D;
    this.fields = fields;
  }
}

// Build one frontend message: type byte (or none for startup), int32 length,
// body.
function message(type, body) {
  const len = Buffer.alloc(4);
  len.writeInt32BE(body.length + 4);
  return type === null
    ? Buffer.concat([len, body])
    : Buffer.concat([Buffer.from(type, 'ascii'), len, body]);
}

function cstring(s) {
  return Buffer.from(s + '\0', 'utf8');
}

function int16(n) {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n);
  return b;
}

function int32(n) {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}

// Parse the fields of an ErrorResponse or NoticeResponse body.
function parseErrorFields(body) {
  const fields = {};
  let pos = 0;
  while (pos < body.length && body[pos] !== 0) {
    const code = String.fromCharCode(body[pos]);
    const end = body.indexOf(0, pos + 1);
    fields[code] = body.toString('utf8', pos + 1, end);
    pos = end + 1;
  }
  return fields;
}

export class RawConnection {
  constructor(socket) {
    this.socket = socket;
    this.buffer = Buffer.alloc(0);
    this.messages = [];
    this.waiter = null;
    this.failure = null;
    socket.on('data', (chunk) => this.onData(chunk));
    socket.on('error', (err) => this.onFailure(err));
    socket.on('close', () => this.onFailure(new Error('connection closed')));
  }

  // Connect and authenticate; resolves once the server is ready for queries.
  static async connect(env = process.env) {
    const user = env.PGUSER || os.userInfo().username;
    const database = env.PGDATABASE || user;
    const port = Number(env.PGPORT || 5432);
    const host = env.PGHOST || 'localhost';
    const options = host.startsWith('/')
      ? { path: path.join(host, `.s.PGSQL.${port}`) }
      : { host, port };

    const socket = net.connect(options);
    await new Promise((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const conn = new RawConnection(socket);
    await conn.startup(user, database, env.PGPASSWORD);
    return conn;
  }

  onData(chunk) {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    while (this.buffer.length >= 5) {
      const len = this.buffer.readInt32BE(1);
      if (this.buffer.length < len + 1)
        break;
      this.messages.push({
        type: String.fromCharCode(this.buffer[0]),
        body: this.buffer.subarray(5, len + 1),
      });
      this.buffer = this.buffer.subarray(len + 1);
    }
    this.wake();
  }

  onFailure(err) {
    if (!this.failure)
      this.failure = err;
    this.wake();
  }

  wake() {
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w();
    }
  }

  // Next backend message, waiting for it if need be.
  async next() {
    for (;;) {
      if (this.messages.length > 0)
        return this.messages.shift();
      if (this.failure)
        throw this.failure;
      await new Promise((resolve) => {
        this.waiter = resolve;
      });
    }
  }

  send(...buffers) {
    this.socket.write(Buffer.concat(buffers));
  }

  async startup(user, database, password) {
    this.send(message(null, Buffer.concat([
      int32(PROTOCOL_3_0),
      cstring('user'), cstring(user),
      cstring('database'), cstring(database),
      cstring('client_encoding'), cstring('UTF8'),
      Buffer.from([0]),
    ])));

    let session = null;
    for (;;) {
      const msg = await this.next();
      if (msg.type === 'E')
        throw new ServerError(parseErrorFields(msg.body));
      if (msg.type === 'Z')
        return;
      if (msg.type !== 'R')
        continue;			// ParameterStatus, BackendKeyData, notices

      const code = msg.body.readInt32BE(0);
      if (code === 0)
        continue;			// AuthenticationOk
      if (password === undefined)
        throw new Error(`server asks for a password (auth code ${code}); set PGPASSWORD`);
      if (code === 3) {
        this.send(message('p', cstring(password)));
      } else if (code === 5) {
        // md5(md5(password + user) + salt), hex, prefixed with "md5"
        const md5 = (data) => crypto.createHash('md5').update(data).digest('hex');
        const salt = msg.body.subarray(4, 8);
        const inner = md5(password + user);
        const outer = md5(Buffer.concat([Buffer.from(inner), salt]));
        this.send(message('p', cstring('md5' + outer)));
      } else if (code === 10) {
        // SASL: list of mechanisms, NUL-separated
        const mechanisms = msg.body.toString('utf8', 4).split('\0').filter(Boolean);
        session = sasl.startSession(mechanisms, null);
        const response = Buffer.from(session.response, 'utf8');
        this.send(message('p', Buffer.concat([
          cstring(session.mechanism), int32(response.length), response,
        ])));
      } else if (code === 11) {
        await sasl.continueSession(session, password, msg.body.toString('utf8', 4), null);
        this.send(message('p', Buffer.from(session.response, 'utf8')));
      } else if (code === 12) {
        sasl.finalizeSession(session, msg.body.toString('utf8', 4));
      } else {
        throw new Error(`unsupported authentication request ${code}`);
      }
    }
  }

  // Run one statement with the extended protocol.
  //
  // params: array of Buffer (sent with format code 1, binary), string (format
  // code 0, text) or null.  paramTypes: optional array of type OIDs (0 lets
  // the server infer).  resultFormat: 0 text, 1 binary, for every column.
  //
  // Resolves to { fields: [{ name, typeOid, typmod, format }], rows: [[Buffer
  // or null]], command }; rejects with a ServerError if the server reports
  // one (the connection stays usable).
  async query(text, params = [], { paramTypes = [], resultFormat = 1 } = {}) {
    const types = params.map((_, i) => int32(paramTypes[i] || 0));
    const formats = params.map((p) => int16(Buffer.isBuffer(p) ? 1 : 0));
    const values = params.map((p) => {
      if (p === null)
        return int32(-1);
      const bytes = Buffer.isBuffer(p) ? p : Buffer.from(String(p), 'utf8');
      return Buffer.concat([int32(bytes.length), bytes]);
    });

    this.send(
      message('P', Buffer.concat([cstring(''), cstring(text), int16(params.length), ...types])),
      message('B', Buffer.concat([
        cstring(''), cstring(''),
        int16(params.length), ...formats,
        int16(params.length), ...values,
        int16(1), int16(resultFormat),
      ])),
      message('D', Buffer.concat([Buffer.from('P', 'ascii'), cstring('')])),
      message('E', Buffer.concat([cstring(''), int32(0)])),
      message('S', Buffer.alloc(0)),
    );

    const result = { fields: [], rows: [], command: null };
    let error = null;
    for (;;) {
      const msg = await this.next();
      switch (msg.type) {
        case 'T': {
          const n = msg.body.readInt16BE(0);
          let pos = 2;
          for (let i = 0; i < n; i++) {
            const end = msg.body.indexOf(0, pos);
            const name = msg.body.toString('utf8', pos, end);
            pos = end + 1;
            result.fields.push({
              name,
              typeOid: msg.body.readUInt32BE(pos + 6),
              typmod: msg.body.readInt32BE(pos + 12),
              format: msg.body.readInt16BE(pos + 16),
            });
            pos += 18;
          }
          break;
        }
        case 'D': {
          const n = msg.body.readInt16BE(0);
          const row = [];
          let pos = 2;
          for (let i = 0; i < n; i++) {
            const len = msg.body.readInt32BE(pos);
            pos += 4;
            if (len < 0) {
              row.push(null);
            } else {
              // copy: the message buffer is reused for later messages
              row.push(Buffer.from(msg.body.subarray(pos, pos + len)));
              pos += len;
            }
          }
          result.rows.push(row);
          break;
        }
        case 'C':
          result.command = msg.body.toString('utf8', 0, msg.body.length - 1);
          break;
        case 'E':
          error = new ServerError(parseErrorFields(msg.body));
          break;
        case 'Z':
          if (error)
            throw error;
          return result;
        default:
          break;			// ParseComplete, BindComplete, NoData, notices
      }
    }
  }

  async close() {
    if (!this.socket.destroyed) {
      this.send(message('X', Buffer.alloc(0)));
      this.socket.end();
    }
  }
}
