// make_dirs.mjs: build real Chroma 1.0 persist directories for the tests
// of vecq-migrate, and what the server answered about them.
//
//   node make_dirs.mjs OUTDIR [--port P] [--only NAME[,NAME...]] [--keep-logs]
//   node make_dirs.mjs OUTDIR --changes [--port P] [--only NAME[,NAME...]]
//
// For each scenario (history, tenants, spaces, flushed, empty) it starts
// the pinned server (chromadb 3.0.9's "chroma run", bindings 1.0.1) on
// 127.0.0.1:P (default 18234) with an empty OUTDIR/NAME, drives it with
// the official chromadb client (and, for the values that client cannot
// send or read -- floats like 1.0, ints past 2^53 -- with the same HTTP
// API directly), records the server's answers (collections, counts, get
// with all fields, queries with distances), stops the server with SIGINT
// (what the CLI handles) and writes OUTDIR/NAME/expected.json next to
// chroma.sqlite3.  Then it checks the directory alone holds that data: a
// copy is opened by a second server, whose answers must agree with the
// first ones (compare.mjs), and every query answer is checked against a
// brute-force search over the recorded embeddings, so a copy that answers
// exactly answers the same.
//
// With --changes it takes directories it made before (history, tenants,
// flushed) and changes them in place through a server -- records added,
// updated, upserted, deleted, deleted and added again, a collection renamed,
// one that gets its first records, new ones, enough new records to flush
// the HNSW files again -- and writes expected.json anew: what the tests of
// vecq-migrate --catch-up compare with.
//
// The data comes from a seeded generator: the same records every run.
// Collection ids (uuids the server makes) and timestamps differ.

import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { ChromaClient, AdminClient } from "chromadb";
import { Num, parse, stringify, toLossless, compareGet, compareQuery, diffExact, compareConfiguration } from "./compare.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CLI = path.join(HERE, "node_modules", "chromadb", "dist", "cli.mjs");

const args = process.argv.slice(2);
const opt = (name, dflt) => {
	const i = args.indexOf(name);
	return i >= 0 ? args[i + 1] : dflt;
};
const positional = args.filter((a, i) => !a.startsWith("--") && !(i > 0 && ["--port", "--only"].includes(args[i - 1])));
const IMPORTED = !(process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href);
if (positional.length !== 1 && !IMPORTED) {
	console.error("usage: node make_dirs.mjs OUTDIR [--port P] [--only NAME[,NAME...]] [--keep-logs]");
	process.exit(2);
}
const OUTDIR = IMPORTED ? null : path.resolve(positional[0]);
const PORT = Number(opt("--port", "18234"));
const ONLY = opt("--only", null);
const KEEP_LOGS = args.includes("--keep-logs");
const CHANGES_MODE = args.includes("--changes");
if (!IMPORTED && !(PORT >= 1 && PORT < 65536)) throw new Error("bad --port");

const GET_INCLUDE = ["documents", "metadatas", "embeddings", "uris"];
const QUERY_INCLUDE = ["documents", "metadatas", "distances", "uris"];
const N_RESULTS = 5;

// ---- a seeded generator (mulberry32) -----------------------------------------

function rng(seed) {
	let a = seed >>> 0;
	const next = () => {
		a = (a + 0x6d2b79f5) >>> 0;
		let t = a;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
	return {
		next,
		int: (n) => Math.floor(next() * n),
		pick: (xs) => xs[Math.floor(next() * xs.length)],
		// components rounded to 4 decimals: short, and exact enough
		vec: (dim, lo = -1, hi = 1) => Array.from({ length: dim }, () => Math.round((lo + next() * (hi - lo)) * 1e4) / 1e4),
	};
}

const WORDS = ["apple", "banana", "cherry", "quick", "brown", "fox", "jumps", "lazy", "dog", "data", "base", "vector", "Ünïcode", "日本", "naïve", "café"];

// ---- the server ---------------------------------------------------------------

async function heartbeat(port) {
	try {
		const r = await fetch(`http://127.0.0.1:${port}/api/v2/heartbeat`, { signal: AbortSignal.timeout(1000) });
		return r.ok;
	} catch {
		return false;
	}
}

async function startServer(dir, port, logFile) {
	if (await heartbeat(port)) throw new Error(`something already answers on 127.0.0.1:${port}; pick another --port (18234-18239)`);
	const log = fs.openSync(logFile, "w");
	const proc = spawn(process.execPath, [CLI, "run", "--path", dir, "--host", "127.0.0.1", "--port", String(port)], {
		stdio: ["ignore", log, log],
	});
	fs.closeSync(log);
	let exited = null;
	proc.on("exit", (code, sig) => (exited = { code, sig }));
	for (let i = 0; i < 300; i++) {
		if (exited) throw new Error(`the Chroma server exited (${JSON.stringify(exited)}):\n${fs.readFileSync(logFile, "utf8")}`);
		if (await heartbeat(port)) return { proc, port, exitedRef: () => exited };
		await new Promise((r) => setTimeout(r, 100));
	}
	proc.kill("SIGKILL");
	throw new Error(`the Chroma server did not answer within 30 s:\n${fs.readFileSync(logFile, "utf8")}`);
}

async function stopServer(s) {
	if (s.exitedRef()) return;
	const done = new Promise((r) => s.proc.on("exit", r));
	s.proc.kill("SIGINT");
	const t = setTimeout(() => s.proc.kill("SIGKILL"), 20000);
	await done;
	clearTimeout(t);
	for (let i = 0; i < 50 && (await heartbeat(s.port)); i++) await new Promise((r) => setTimeout(r, 100));
}

// ---- the HTTP API, numbers kept as written ---------------------------------------

class Raw {
	constructor(port) {
		this.base = `http://127.0.0.1:${port}/api/v2`;
	}
	async req(method, p, body) {
		const r = await fetch(this.base + p, {
			method,
			headers: body === undefined ? {} : { "content-type": "application/json" },
			body: body === undefined ? undefined : typeof body === "string" ? body : stringify(body),
		});
		const text = await r.text();
		if (!r.ok) throw new Error(`${method} ${p}: HTTP ${r.status}: ${text}`);
		return text === "" ? null : parse(text);
	}
	coll(t, d, id = "") {
		return `/tenants/${encodeURIComponent(t)}/databases/${encodeURIComponent(d)}/collections${id ? "/" + id : ""}`;
	}
}

const noEmbed = {
	name: "none",
	generate: async () => {
		throw new Error("no embedding function: pass embeddings");
	},
};

class Ctx {
	constructor(port) {
		this.port = port;
		this.raw = new Raw(port);
		this.admin = new AdminClient({ host: "127.0.0.1", port });
		this.clients = new Map();
		// what the capture step asks about: collection name -> queries
		this.filters = new Map();
		this.databases = [];
	}
	client(tenant = "default_tenant", database = "default_database") {
		const k = tenant + "\u0000" + database;
		if (!this.clients.has(k)) this.clients.set(k, new ChromaClient({ host: "127.0.0.1", port: this.port, tenant, database }));
		return this.clients.get(k);
	}
	async create(name, { tenant, database, metadata, configuration } = {}) {
		return this.client(tenant, database).createCollection({ name, metadata, configuration, embeddingFunction: noEmbed });
	}
	// records whose metadata holds Num values, through the HTTP API
	async rawWrite(col, op, records) {
		await this.raw.req("POST", this.raw.coll(col.tenant, col.database, col.id) + "/" + op, records);
	}
	// extra queries for a collection: [{where?, where_document?}]
	filtered(tenant, database, name, ...qs) {
		this.filters.set(`${tenant}/${database}/${name}`, qs);
	}
}

// the JS client adds in batches of at most the server's max_batch_size
async function addBatches(col, recs, batch) {
	for (let i = 0; i < recs.ids.length; i += batch) {
		const part = {};
		for (const k of Object.keys(recs)) if (recs[k]) part[k] = recs[k].slice(i, i + batch);
		await col.add(part);
	}
}

// ---- scenarios ----------------------------------------------------------------------

const ODD_IDS = [
	"with space",
	"slash/and\\backslash",
	'quote"d',
	"ünïcödé-ïd",
	"emoji-🙂",
	"tab\tand\nnewline",
	"日本語のID",
	"%41%20",
	"semi;colon'apos",
	"{json:like}",
	"-leading-dash",
	"0",
	"NULL",
	"x".repeat(250),
];

const DOCS = [
	"line one\nline two\r\nline three",
	'tabs\tand "quotes" and \\backslashes\\',
	"emoji 🎉🙂 and CJK 中文 and RTL עברית",
	"",
	"null",
	"   leading and trailing spaces   ",
	"DELETEME: this record goes away by where_document",
];

// history: one collection through add / update / upsert / delete
async function history(ctx) {
	const R = rng(1001);
	const dim = 6;
	const col = await ctx.create("history", { metadata: { scenario: "history" } });
	const ids = [];
	const embeddings = [];
	const metadatas = [];
	const documents = [];
	const uris = [];
	for (let i = 0; i < 24; i++) {
		ids.push(`h${String(i).padStart(3, "0")}`);
		embeddings.push(R.vec(dim));
		let m = {
			grp: ["a", "b", "c"][i % 3],
			n: i,
			score: Math.round(R.next() * 1000) / 100 + 0.01,
			flag: i % 2 === 0,
			word: R.pick(WORDS),
		};
		if (i % 5 === 0) m.neg = -i - 1;
		if (i === 13 || i === 14) m.grp = "del";
		if (i % 8 === 7) m = null;
		metadatas.push(m);
		const words = Array.from({ length: 3 + (i % 4) }, () => R.pick(WORDS)).join(" ");
		documents.push(i < DOCS.length ? DOCS[i] : words);
		uris.push(i % 3 === 0 ? `https://example.com/doc/${i}?q=é&x=1` : i % 3 === 1 ? `file:///tmp/dir with space/${i}.txt` : null);
	}
	await col.add({ ids, embeddings, metadatas, documents, uris });
	// records without documents, ids with odd characters
	await col.add({
		ids: ODD_IDS,
		embeddings: ODD_IDS.map(() => R.vec(dim)),
		metadatas: ODD_IDS.map((_, i) => (i % 2 ? { odd: true, k: i, "ключ": "значение", "emoji 🎉": "✓ ü ß 中文", "": "empty key" } : null)),
		uris: ODD_IDS.map((_, i) => (i % 3 === 0 ? `s3://bucket/odd/${i}` : null)),
	});
	// typed metadata the JS client cannot write (1.0 is 1 to it, 2^53+1 rounds)
	const N = (t) => new Num(t);
	await ctx.rawWrite(col, "add", {
		ids: ["typed-1", "typed-2", "typed-3"],
		embeddings: [R.vec(dim), R.vec(dim), R.vec(dim)].map((v) => v.map((x) => N(String(x)))),
		metadatas: [
			{
				int_one: N("1"),
				float_one: N("1.0"),
				tenth: N("0.1"),
				tiny: N("1e-300"),
				denormal: N("5e-324"),
				small: N("2.5e-8"),
				neg_int: N("-42"),
				neg_float: N("-2.5"),
				big_int: N("9007199254740993"),
				big_neg: N("-9007199254740993"),
				max_i64: N("9223372036854775807"),
				min_i64: N("-9223372036854775808"),
				zero: N("0"),
				zero_f: N("0.0"),
				pi: N("3.141592653589793"),
				third: N("0.3333333333333333"),
				frac: N("123456789.125"),
				bool_t: true,
				bool_f: false,
				empty: "",
				"unicode ключ 🎉": "значение ✓ 中文",
			},
			{ float_two: N("2.0"), int_two: N("2"), grp: "a", tenth: N("0.1") },
			{ only_float: N("100.0") },
		],
		documents: ["typed one", "typed two: ünï\ncode", "typed three"],
		uris: [null, "urn:typed:2", null],
	});
	// add of an id that exists: the server keeps the old record
	await col.add({ ids: ["h001"], embeddings: [R.vec(dim)], metadatas: [{ ignored: true }], documents: ["ignored add"] });
	// update: metadata merge, null deletes a key, a key changes type
	await col.update({ ids: ["h002", "h003"], metadatas: [{ new_key: "new", grp: null }, { n: "three now a string", score: null }] });
	// update: document, embedding, uri, each alone (a document without an
	// embedding through the HTTP API: the JS client would embed it)
	await ctx.rawWrite(col, "update", { ids: ["h004"], documents: ["h004's document, changed\nwith a second line"] });
	await col.update({ ids: ["h005"], embeddings: [R.vec(dim)] });
	await col.update({ ids: ["h012"], uris: ["https://example.com/changed"] });
	// h006 changes, then goes (its document says DELETEME)
	await col.update({ ids: ["h006"], uris: ["https://example.com/soon-gone"] });
	// update of everything at once, and of an id that does not exist (ignored)
	await col.update({
		ids: ["h008", "no-such-id"],
		embeddings: [R.vec(dim), R.vec(dim)],
		metadatas: [{ grp: "b", all: "changed" }, { x: 1 }],
		documents: ["h008 all new", "nobody"],
	});
	// update that deletes the only key: no metadata left
	await col.update({ ids: ["h007"], metadatas: [{ solo: 1 }] });
	await col.update({ ids: ["h007"], metadatas: [{ solo: null }] });
	// typed values changed through the HTTP API
	await ctx.rawWrite(col, "update", { ids: ["typed-1"], metadatas: [{ int_one: null, float_one: N("2.0"), tenth: N("0.2"), added_int: N("7") }] });
	// upsert: existing ids (merged metadata, new document and embedding) and new ids
	await col.upsert({
		ids: ["h010", "h011", "u-new-1", "u-new-2"],
		embeddings: [R.vec(dim), R.vec(dim), R.vec(dim), R.vec(dim)],
		metadatas: [{ upserted: true, grp: "c" }, null, { grp: "a", upserted: true }, { grp: "b", n: 100 }],
		documents: ["h010 upserted", "h011 upserted", "new by upsert 1", "new by upsert 2"],
	});
	await ctx.rawWrite(col, "upsert", { ids: ["typed-2", "u-new-3"], embeddings: [R.vec(dim), R.vec(dim)], metadatas: [{ int_two: N("3.0") }, { f: N("1.5"), i: N("-1") }] });
	// delete by ids (one missing), by where, by where_document
	await col.delete({ ids: ["h009", "with space", "not-there"] });
	await col.delete({ where: { grp: "del" } });
	await col.delete({ whereDocument: { $contains: "DELETEME" } });
	// an id added again after its delete: it comes last
	await col.add({ ids: ["h009"], embeddings: [R.vec(dim)], metadatas: [{ grp: "a", readded: true }], documents: ["h009 again"] });
	ctx.filtered("default_tenant", "default_database", "history", { where: { grp: "a" } }, { where: { $and: [{ flag: true }, { n: { $lt: 20 } }] } });
}

// tenants: several tenants and databases, the same collection name in two databases
async function tenants(ctx) {
	const R = rng(2002);
	await ctx.admin.createTenant({ name: "acme" });
	await ctx.admin.createTenant({ name: "globex-corp" });
	await ctx.admin.createTenant({ name: "no_databases_tenant" });
	const dbs = [
		["acme", "prod"],
		["acme", "staging"],
		["acme", "empty_db"],
		["globex-corp", "main"],
		["default_tenant", "extra_db"],
	];
	for (const [tenant, name] of dbs) await ctx.admin.createDatabase({ name, tenant });
	const fill = async (col, n, dim, tag) => {
		await col.add({
			ids: Array.from({ length: n }, (_, i) => `${tag}-${i}`),
			embeddings: Array.from({ length: n }, () => R.vec(dim)),
			metadatas: Array.from({ length: n }, (_, i) => ({ where: tag, i, grp: i % 2 ? "odd" : "even" })),
			documents: Array.from({ length: n }, (_, i) => `${tag} document ${i}`),
		});
	};
	// "shared" in three places, with different dimensions and data
	await fill(await ctx.create("shared", { tenant: "acme", database: "prod", metadata: { env: "prod" } }), 12, 4, "acme-prod");
	await fill(await ctx.create("shared", { tenant: "acme", database: "staging", metadata: { env: "staging" } }), 9, 3, "acme-staging");
	await fill(await ctx.create("shared"), 7, 5, "default");
	await fill(await ctx.create("globex_items", { tenant: "globex-corp", database: "main", configuration: { hnsw: { space: "cosine" } } }), 10, 4, "globex");
	await fill(await ctx.create("extra", { tenant: "default_tenant", database: "extra_db" }), 6, 2, "extra");
	await ctx.create("nothing_here", { tenant: "acme", database: "staging" });
	ctx.filtered("acme", "prod", "shared", { where: { grp: "odd" } });
	ctx.filtered("acme", "staging", "shared", { where: { grp: "even" } });
	ctx.databases.push(["default_tenant", "default_database"], ...dbs);
	ctx.tenants = ["default_tenant", "acme", "globex-corp", "no_databases_tenant"];
}

// spaces: l2 / ip / cosine, custom HNSW parameters, collection metadata
async function spaces(ctx) {
	const R = rng(3003);
	const dim = 8;
	const N = (t) => new Num(t);
	const fill = async (col, n, lo, hi) => {
		await col.add({
			ids: Array.from({ length: n }, (_, i) => `s${i}`),
			embeddings: Array.from({ length: n }, () => R.vec(dim, lo, hi)),
			metadatas: Array.from({ length: n }, (_, i) => ({ bucket: i % 4, tag: R.pick(WORDS) })),
			documents: Array.from({ length: n }, (_, i) => `space record ${i}`),
		});
	};
	await fill(await ctx.create("space_l2", { configuration: { hnsw: { space: "l2" } } }), 40, -1, 1);
	// ip with vectors that are not unit: distances below 0 and above 1
	await fill(await ctx.create("space_ip", { configuration: { hnsw: { space: "ip" } } }), 40, -1.5, 1.5);
	await fill(await ctx.create("space_cosine", { configuration: { hnsw: { space: "cosine" } } }), 40, -2, 2);
	await fill(
		await ctx.create("custom_hnsw", {
			configuration: { hnsw: { space: "cosine", ef_construction: 64, ef_search: 32, max_neighbors: 12 } },
			metadata: { owner: "team-a", version: 3, ratio: 0.75, public: true, "ünï": "cødé ✓" },
		}),
		30,
		0,
		1
	);
	// the legacy metadata keys: the server turns them into the configuration
	await fill(await ctx.create("legacy_meta", { metadata: { "hnsw:space": "ip", "hnsw:M": 8, "hnsw:construction_ef": 50, description: "legacy keys" } }), 20, -1, 1);
	// collection metadata with a float 1.0 and a large int, through the HTTP API
	const raw = await ctx.raw.req("POST", ctx.raw.coll("default_tenant", "default_database"), {
		name: "raw_meta",
		metadata: { one_f: N("1.0"), one_i: N("1"), big: N("9007199254740993"), neg: N("-0.5") },
		configuration: { hnsw: { space: "l2", ef_search: 50 } },
	});
	const col = await ctx.client().getCollection({ name: raw.name, embeddingFunction: noEmbed });
	await fill(col, 10, -1, 1);
	for (const n of ["space_l2", "space_ip", "space_cosine"]) ctx.filtered("default_tenant", "default_database", n, { where: { bucket: 1 } });
}

// flushed: past the 1000-record sync threshold, so the HNSW files are
// written; then changes after the last flush, which only the log holds
async function flushed(ctx) {
	const R = rng(4004);
	const big = async (name, n, dim, batch, space) => {
		const col = await ctx.create(name, { configuration: { hnsw: { space } } });
		const recs = { ids: [], embeddings: [], metadatas: [], documents: [], uris: [] };
		for (let i = 0; i < n; i++) {
			recs.ids.push(`f${String(i).padStart(5, "0")}`);
			recs.embeddings.push(R.vec(dim));
			recs.metadatas.push({ bucket: i % 50, parity: i % 2 ? "odd" : "even", score: Math.round(R.next() * 1e6) / 1e3 });
			recs.documents.push(`flushed record ${i}: ${R.pick(WORDS)} ${R.pick(WORDS)}`);
			recs.uris.push(i % 10 === 0 ? `https://example.com/f/${i}` : null);
		}
		await addBatches(col, recs, batch);
		return col;
	};
	// 3000 x 32 in batches of 250: flushes after 1000, 2000 and 3000 records
	const l2 = await big("flushed_l2", 3000, 32, 250, "l2");
	const upd = (from, k) => Array.from({ length: k }, (_, i) => `f${String(from + i * 7).padStart(5, "0")}`);
	const metaIds = upd(100, 30);
	await l2.update({ ids: metaIds, metadatas: metaIds.map((_, i) => ({ updated: true, score: null, bucket: 1000 + i })) });
	const embIds = upd(1500, 20);
	await l2.update({ ids: embIds, embeddings: embIds.map(() => R.vec(32)), documents: embIds.map((id) => `${id} moved`) });
	const ups = [...upd(2500, 10), ...Array.from({ length: 15 }, (_, i) => `new${i}`)];
	await l2.upsert({ ids: ups, embeddings: ups.map(() => R.vec(32)), metadatas: ups.map((_, i) => ({ upserted: i })), documents: ups.map((id) => `${id} upserted`) });
	await l2.delete({ ids: upd(200, 25) });
	await l2.delete({ where: { bucket: 7 } });
	// cosine, 1100 x 8 in batches of 100: one flush, 100 records only in the log
	const cos = await big("flushed_cosine", 1100, 8, 100, "cosine");
	await cos.delete({ ids: ["f00000", "f00500", "f01050"] });
	await cos.update({ ids: ["f00001", "f01051"], embeddings: [R.vec(8), R.vec(8)] });
	// ip, 4-d, flushed twice: deletes and new embeddings before the second
	// flush are in the HNSW files, a few adds after it only in the log
	const tw = await big("flushed_twice", 1000, 4, 500, "ip");
	const twIds = Array.from({ length: 20 }, (_, i) => `f${String(i * 37).padStart(5, "0")}`);
	await tw.delete({ ids: twIds.slice(0, 10) });
	await tw.update({ ids: twIds.slice(10), embeddings: twIds.slice(10).map(() => R.vec(4)), metadatas: twIds.slice(10).map(() => ({ moved: true })) });
	const more = { ids: [], embeddings: [], metadatas: [], documents: [] };
	for (let i = 0; i < 1005; i++) {
		more.ids.push(`g${String(i).padStart(5, "0")}`);
		more.embeddings.push(R.vec(4));
		more.metadatas.push({ bucket: i % 50, second: true });
		more.documents.push(`second wave ${i}`);
	}
	await addBatches(tw, { ...more, ids: more.ids.slice(0, 1000), embeddings: more.embeddings.slice(0, 1000), metadatas: more.metadatas.slice(0, 1000), documents: more.documents.slice(0, 1000) }, 500);
	await tw.add({ ids: more.ids.slice(1000), embeddings: more.embeddings.slice(1000), metadatas: more.metadatas.slice(1000), documents: more.documents.slice(1000) });
	await tw.delete({ ids: ["g00000", "f00001"] });
	ctx.filtered("default_tenant", "default_database", "flushed_l2", { where: { parity: "odd" } }, { where: { bucket: { $in: [3, 1003] } } });
	ctx.filtered("default_tenant", "default_database", "flushed_cosine", { where: { bucket: 9 } });
}

// empty: no records, metadata only, every record deleted
async function empty(ctx) {
	await ctx.create("empty_coll");
	await ctx.create("meta_only", { metadata: { description: "created with metadata only", n: 1, f: 0.5, ok: true } });
	await ctx.create("empty_cfg", { configuration: { hnsw: { space: "ip", ef_search: 10, max_neighbors: 4 } } });
	const col = await ctx.create("emptied");
	await col.add({ ids: ["e1", "e2", "e3"], embeddings: [[1, 2, 3, 4], [0, 1, 0, 1], [4, 3, 2, 1]], documents: ["a", "b", "c"] });
	await col.delete({ ids: ["e1", "e2", "e3"] });
}

const SCENARIOS = { history, tenants, spaces, flushed, empty };

// ---- changes to directories made before (--changes) ---------------------------------

const getColl = (ctx, name, tenant, database) => ctx.client(tenant, database).getCollection({ name, embeddingFunction: noEmbed });

async function historyChanges(ctx) {
	const R = rng(5005);
	const dim = 6;
	const N = (t) => new Num(t);
	const col = await getColl(ctx, "history");
	await col.add({
		ids: ["c-new-0", "c-new-1", "c-new-2", "c-new-3", "c-new-4"],
		embeddings: Array.from({ length: 5 }, () => R.vec(dim)),
		metadatas: Array.from({ length: 5 }, (_, i) => ({ grp: "a", phase: 2, n: 200 + i })),
		documents: Array.from({ length: 5 }, (_, i) => `added after the first copy ${i}`),
	});
	await col.update({ ids: ["h010"], metadatas: [{ changed: 2, grp: null }] });
	await col.update({ ids: ["h011"], documents: ["h011 changed after the copy"], embeddings: [R.vec(dim)] });
	await col.update({ ids: ["h012"], embeddings: [R.vec(dim)] });
	// h013 was deleted before the copy: an upsert adds it again
	await col.upsert({ ids: ["h013", "h015"], embeddings: [R.vec(dim), R.vec(dim)], metadatas: [{ back: true }, { upserted: 2 }], documents: ["h013 is back", "h015 upserted"] });
	await ctx.rawWrite(col, "update", { ids: ["typed-3"], metadatas: [{ only_float: N("200.0"), now_int: N("5") }] });
	await col.delete({ ids: ["h016", "h017"] });
	// deleted and added again: it moves to the end of get's order
	await col.delete({ ids: ["h001"] });
	await col.add({ ids: ["h001"], embeddings: [R.vec(dim)], documents: ["h001 added again"] });
	await col.modify({ metadata: { scenario: "history", phase: 2 } });
	ctx.filtered("default_tenant", "default_database", "history", { where: { grp: "a" } }, { where: { phase: 2 } });
}

async function tenantsChanges(ctx) {
	const R = rng(6006);
	await (await getColl(ctx, "shared", "acme", "staging")).modify({ name: "shared_renamed" });
	// the empty collection gets its first records, so its dimension
	const nothing = await getColl(ctx, "nothing_here", "acme", "staging");
	await nothing.add({ ids: ["n1", "n2", "n3"], embeddings: [R.vec(3), R.vec(3), R.vec(3)], documents: ["first", "second", "third"] });
	await ctx.admin.createDatabase({ name: "new_db", tenant: "acme" });
	const fresh = await ctx.create("brand_new", { tenant: "acme", database: "new_db", configuration: { hnsw: { space: "ip" } } });
	await fresh.add({ ids: ["b1", "b2"], embeddings: [R.vec(2), R.vec(2)], metadatas: [{ k: 1 }, { k: 2 }] });
	const prod = await getColl(ctx, "shared", "acme", "prod");
	await prod.delete({ ids: ["acme-prod-0", "acme-prod-11"] });
	await prod.update({ ids: ["acme-prod-5"], metadatas: [{ where: "changed" }] });
	ctx.databases.push(["default_tenant", "default_database"], ["acme", "prod"], ["acme", "staging"], ["acme", "empty_db"], ["acme", "new_db"],
		["globex-corp", "main"], ["default_tenant", "extra_db"]);
	ctx.tenants = ["default_tenant", "acme", "globex-corp", "no_databases_tenant"];
}

async function flushedChanges(ctx) {
	const R = rng(7007);
	const l2 = await getColl(ctx, "flushed_l2");
	const recs = { ids: [], embeddings: [], metadatas: [], documents: [] };
	for (let i = 0; i < 1200; i++) {
		recs.ids.push(`p${String(i).padStart(5, "0")}`);
		recs.embeddings.push(R.vec(32));
		recs.metadatas.push({ bucket: i % 50, parity: i % 2 ? "odd" : "even", phase: 2 });
		recs.documents.push(`phase two record ${i}`);
	}
	await addBatches(l2, recs, 300);
	const old = Array.from({ length: 20 }, (_, i) => `f${String(2000 + i * 11).padStart(5, "0")}`);
	await l2.update({ ids: old, embeddings: old.map(() => R.vec(32)), metadatas: old.map(() => ({ phase: 2 })) });
	await l2.delete({ ids: Array.from({ length: 30 }, (_, i) => `f${String(300 + i * 13).padStart(5, "0")}`) });
	const cos = await getColl(ctx, "flushed_cosine");
	await cos.delete({ ids: ["f00002"] });
	await cos.add({ ids: ["f00002"], embeddings: [R.vec(8)], documents: ["f00002 again"] });
	ctx.filtered("default_tenant", "default_database", "flushed_l2", { where: { phase: 2 } });
}

const CHANGES = { history: historyChanges, tenants: tenantsChanges, flushed: flushedChanges };

// ---- capture ------------------------------------------------------------------------

function whereMatch(w, m) {
	if (!w) return true;
	m = m || {};
	if (w.$and) return w.$and.every((x) => whereMatch(x, m));
	if (w.$or) return w.$or.some((x) => whereMatch(x, m));
	const [k, cond] = Object.entries(w)[0];
	const c = cond !== null && typeof cond === "object" ? cond : { $eq: cond };
	const [op, v] = Object.entries(c)[0];
	const has = Object.prototype.hasOwnProperty.call(m, k);
	const x = has ? (m[k] instanceof Num ? m[k].value : m[k]) : undefined;
	switch (op) {
		case "$eq":
			return has && x === v;
		case "$ne":
			return !has || x !== v;
		case "$in":
			return has && v.includes(x);
		case "$nin":
			return !has || !v.includes(x);
		case "$gt":
			return has && typeof x === "number" && x > v;
		case "$gte":
			return has && typeof x === "number" && x >= v;
		case "$lt":
			return has && typeof x === "number" && x < v;
		case "$lte":
			return has && typeof x === "number" && x <= v;
	}
	throw new Error("whereMatch: " + op);
}

function distance(space, a, b) {
	let dot = 0;
	let na = 0;
	let nb = 0;
	let l2 = 0;
	for (let i = 0; i < a.length; i++) {
		dot += a[i] * b[i];
		na += a[i] * a[i];
		nb += b[i] * b[i];
		l2 += (a[i] - b[i]) * (a[i] - b[i]);
	}
	if (space === "l2") return l2;
	if (space === "ip") return 1 - dot;
	return 1 - dot / Math.sqrt(na * nb);
}

// the exact answer to a query over the recorded get answer
function bruteForce(space, get, q) {
	const rows = [];
	get.ids.forEach((id, i) => {
		if (!whereMatch(q.where, get.metadatas[i])) return;
		if (q.where_document && !(get.documents[i] || "").includes(q.where_document.$contains)) return;
		rows.push({ id, i, d: distance(space, q.query_embeddings[0], get.embeddings[i].map((x) => x.value)) });
	});
	rows.sort((a, b) => a.d - b.d || (a.id < b.id ? -1 : 1));
	const top = rows.slice(0, q.n_results);
	// a tie across the cut would let an exact search answer either
	if (rows.length > q.n_results && Math.abs(rows[q.n_results].d - rows[q.n_results - 1].d) <= 1e-4 * Math.max(1, Math.abs(rows[q.n_results].d)))
		throw new Error(`query ${stringify(q.query_embeddings)}: a tie at the n_results boundary`);
	const pick = (f) => [top.map((r) => get[f][r.i])];
	return {
		ids: [top.map((r) => r.id)],
		distances: [top.map((r) => new Num(String(r.d)))],
		documents: pick("documents"),
		metadatas: pick("metadatas"),
		uris: pick("uris"),
	};
}

// recorded: the first capture, whose queries are asked again (same vectors)
async function capture(ctx, pairs, seed, recorded = null) {
	const R = rng(seed);
	const asked = new Map((recorded || []).map((c) => [`${c.tenant}/${c.database}/${c.name}`, c.queries]));
	const out = [];
	for (const [tenant, database] of pairs) {
		const list = await ctx.raw.req("GET", ctx.raw.coll(tenant, database));
		list.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
		for (const c of list) {
			const p = ctx.raw.coll(tenant, database, c.id);
			const coll = await ctx.raw.req("GET", ctx.raw.coll(tenant, database, encodeURIComponent(c.name)));
			const count = await ctx.raw.req("GET", p + "/count");
			const get = await ctx.raw.req("POST", p + "/get", { include: GET_INCLUDE });
			const dim = coll.dimension === null ? null : coll.dimension.value;
			const specs = [];
			if (dim !== null) {
				for (let k = 0; k < 3; k++) specs.push({});
				specs.push(...(ctx.filters.get(`${tenant}/${database}/${c.name}`) || []));
			}
			const queries = [];
			if (recorded) {
				for (const { result, ...q } of asked.get(`${tenant}/${database}/${c.name}`) || [])
					queries.push({ ...q, result: await ctx.raw.req("POST", p + "/query", toLossless(q)) });
				specs.length = 0;
			}
			for (const s of specs) {
				// a random direction, or one near a record (a sure near neighbour)
				let qv = R.vec(dim);
				if (get.ids.length && R.next() < 0.5) {
					const base = get.embeddings[R.int(get.ids.length)].map((x) => x.value);
					qv = base.map((x) => Math.round((x + (R.next() - 0.5) * 0.1) * 1e4) / 1e4);
				}
				const q = { query_embeddings: [qv], n_results: N_RESULTS, ...s, include: QUERY_INCLUDE };
				const result = await ctx.raw.req("POST", p + "/query", toLossless(q));
				queries.push({ ...q, result });
			}
			out.push({
				tenant,
				database,
				name: c.name,
				id: c.id,
				dimension: coll.dimension,
				metadata: coll.metadata,
				configuration: coll.configuration_json,
				count,
				get: { include: GET_INCLUDE, result: get },
				queries,
			});
		}
	}
	return out;
}

// the answers of a reopened copy against the first ones, and every query
// against brute force; returns a list of problems
function verify(first, again) {
	const problems = [];
	const key = (c) => `${c.tenant}/${c.database}/${c.name}`;
	const byKey = new Map(again.map((c) => [key(c), c]));
	if (again.length !== first.length) problems.push(`reopened: ${again.length} collections vs ${first.length}`);
	for (const c of first) {
		const d = byKey.get(key(c));
		if (!d) {
			problems.push(`${key(c)}: missing after reopening`);
			continue;
		}
		const space = c.configuration.hnsw.space;
		const add = (what, p) => p && problems.push(`${key(c)} ${what}: ${p}`);
		add("id", diffExact(c.id, d.id));
		add("metadata", diffExact(c.metadata, d.metadata));
		add("dimension", diffExact(c.dimension, d.dimension));
		add("configuration", compareConfiguration(c.configuration, d.configuration));
		add("count", diffExact(c.count, d.count));
		if (c.count.value !== c.get.result.ids.length) add("count", `${c.count.text} vs ${c.get.result.ids.length} records in get`);
		for (const r of compareGet(c.get.result, d.get.result, GET_INCLUDE)) add(`reopened get ${r.what}`, r.problem);
		c.queries.forEach((q, i) => {
			let exact;
			try {
				exact = bruteForce(space, c.get.result, q);
			} catch (e) {
				add(`query ${i}`, e.message);
				return;
			}
			for (const r of compareQuery(q.result, exact, QUERY_INCLUDE)) add(`query ${i} vs brute force`, r.problem);
			// the copy is asked the same query (same vector) and must agree
			const dq = d.queries[i];
			if (!dq || stringify(dq.query_embeddings) !== stringify(q.query_embeddings)) add(`reopened query ${i}`, "not the same query");
			else for (const r of compareQuery(q.result, dq.result, QUERY_INCLUDE)) add(`reopened query ${i}`, r.problem);
		});
	}
	return problems;
}

function du(dir) {
	let n = 0;
	for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
		const p = path.join(dir, e.name);
		n += e.isDirectory() ? du(p) : fs.statSync(p).size;
	}
	return n;
}

// ---- main -------------------------------------------------------------------------------

async function main() {
	const table = CHANGES_MODE ? CHANGES : SCENARIOS;
	const names = ONLY ? ONLY.split(",") : Object.keys(table);
	for (const n of names) if (!table[n]) throw new Error(`no scenario ${n}; there are ${Object.keys(table).join(", ")}`);
	fs.mkdirSync(OUTDIR, { recursive: true });
	const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "vecq-chromadirs-"));
	const pkg = JSON.parse(fs.readFileSync(path.join(HERE, "package.json"), "utf8")).dependencies;
	let failed = 0;
	const seeds = { history: 11, tenants: 22, spaces: 33, flushed: 44, empty: 55 };
	for (const name of names) {
		const t0 = Date.now();
		const dir = path.join(OUTDIR, name);
		if (CHANGES_MODE) {
			if (!fs.existsSync(path.join(dir, "chroma.sqlite3"))) throw new Error(`--changes: ${dir} has no chroma.sqlite3`);
		} else {
			fs.rmSync(dir, { recursive: true, force: true });
			fs.mkdirSync(dir);
		}
		const logFile = path.join(tmp, `${name}.server.log`);
		let server = await startServer(dir, PORT, logFile);
		let first;
		let ctx;
		let version;
		try {
			ctx = new Ctx(PORT);
			await table[name](ctx);
			const pairs = ctx.databases.length ? ctx.databases : [["default_tenant", "default_database"]];
			first = await capture(ctx, pairs, seeds[name]);
			version = await ctx.raw.req("GET", "/version");
		} finally {
			await stopServer(server);
		}
		// a copy opened by a second server (so OUTDIR/NAME stays as the first left it)
		const copy = path.join(tmp, name);
		fs.cpSync(dir, copy, { recursive: true });
		server = await startServer(copy, PORT, logFile + ".reopened");
		let again;
		try {
			const pairs = ctx.databases.length ? ctx.databases : [["default_tenant", "default_database"]];
			again = await capture(new Ctx(PORT), pairs, seeds[name], first);
		} finally {
			await stopServer(server);
		}
		fs.rmSync(copy, { recursive: true, force: true });
		const problems = verify(first, again);
		const expected = {
			format: "vecq-migrate expected answers, version 1",
			scenario: CHANGES_MODE ? `${name}, changed` : name,
			made_by: "test/migrate/make_dirs.mjs" + (CHANGES_MODE ? " --changes" : ""),
			chroma: {
				server_version: version,
				npm: `chromadb@${pkg.chromadb} chromadb-js-bindings-linux-x64-gnu@${pkg["chromadb-js-bindings-linux-x64-gnu"]}`,
			},
			notes:
				"Every answer below is the server's own (HTTP API JSON, numbers as the server wrote them), " +
				"captured before it was stopped. get: all records in the server's order. queries: n_results " +
				`${N_RESULTS}; their answers equal a brute-force search over get's embeddings (checked).`,
			tenants: ctx.tenants || ["default_tenant"],
			databases: (ctx.databases.length ? ctx.databases : [["default_tenant", "default_database"]]).map(([tenant, name]) => ({ tenant, name })),
			collections: first,
		};
		fs.writeFileSync(path.join(dir, "expected.json"), stringify(expected, 1) + "\n");
		const secs = ((Date.now() - t0) / 1000).toFixed(1);
		const records = first.reduce((n, c) => n + c.count.value, 0);
		if (problems.length) {
			failed++;
			console.log(`FAIL ${name}: ${problems.length} problems (server logs in ${tmp})`);
			for (const p of problems.slice(0, 20)) console.log("  " + p);
		} else {
			console.log(`ok   ${name}: ${first.length} collections, ${records} records, ${du(dir)} bytes, ${secs} s`);
		}
	}
	if (!failed && !KEEP_LOGS) fs.rmSync(tmp, { recursive: true, force: true });
	else console.log(`server logs: ${tmp}`);
	process.exit(failed ? 1 : 0);
}

// fill_server.mjs imports the scenarios and the capture
export { SCENARIOS, CHANGES, Ctx, capture, GET_INCLUDE, QUERY_INCLUDE, N_RESULTS };

if (!IMPORTED)
	main().catch((e) => {
		console.error(e);
		process.exit(2);
	});
