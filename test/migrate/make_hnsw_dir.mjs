// make_hnsw_dir.mjs: make a Chroma 1.0 persist directory whose HNSW
// indexes have been flushed, with deletes, for the tests of vecq-migrate's
// readers.
//
//   node test/migrate/make_hnsw_dir.mjs OUT [--port 18123]
//
// Starts the pinned Chroma server (test/chroma: chromadb 3.0.9 with
// chromadb-js-bindings 1.0.1; run "npm ci" there first) on 127.0.0.1 with
// the persist directory OUT/persist, which must not exist yet.  For each
// space (l2, cosine, ip) it creates a collection "hnsw_<space>" and, in
// batches of 250, adds 1500 records with ids "id-00000" ... and seeded
// 16-d vectors (float32 values, so they round-trip exactly), deletes the
// 150 whose number ends in 3, then adds 850 more ("id-01500" ...).
//
// The server applies the log (embeddings_queue) to the HNSW index in the
// batches it arrived in and writes the index files once sync_threshold
// (default 1000) operations have accumulated since the last write: here
// after operation 1000 and after 2150 (the batch that crosses 2000).  So
// the files hold 2000 elements (id-00000 ... id-01999), the 150 deleted
// ones with hnswlib's delete mark and missing from index_metadata.pickle;
// the last 350 adds are only in embeddings_queue.  Then the script stops
// the server with SIGTERM, waits for it, and
// writes OUT/expected.json:
//
//   { "dim": 16, "collections": [ { "name", "space", "id" (collection
//     UUID), "records": [ { "id", "embedding", "deleted" } ... ] } ... ] }
//
// Every run adds the same vectors; the UUIDs differ per run.

import { spawn } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const chromaDir = path.join(here, "..", "chroma", "node_modules");
const { ChromaClient } = await import(
	pathToFileURL(path.join(chromaDir, "chromadb", "dist", "chromadb.mjs")).href
);

const args = process.argv.slice(2);
const opt = (name, dflt) => {
	const i = args.indexOf(name);
	return i >= 0 ? args[i + 1] : dflt;
};
const out = args[0];
if (!out || out.startsWith("--")) {
	console.error("usage: make_hnsw_dir.mjs OUT [--port P]");
	process.exit(2);
}
const port = Number(opt("--port", "18123"));
const FIRST = 1500;
const EXTRA = 850;
const DIM = 16;
const BATCH = 250;
const SPACES = ["l2", "cosine", "ip"];

const persist = path.join(out, "persist");
if (existsSync(persist)) {
	console.error(`${persist} exists already`);
	process.exit(2);
}
mkdirSync(out, { recursive: true });

// mulberry32: a small seeded generator, so every run adds the same vectors
function rng(seed) {
	let a = seed >>> 0;
	return () => {
		a = (a + 0x6d2b79f5) >>> 0;
		let t = a;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

function records(seed) {
	const r = rng(seed);
	const recs = [];
	for (let i = 0; i < FIRST + EXTRA; i++) {
		const embedding = [];
		for (let d = 0; d < DIM; d++) embedding.push(Math.fround(r() * 2 - 1));
		recs.push({ id: "id-" + String(i).padStart(5, "0"), embedding, deleted: i < FIRST && i % 10 === 3 });
	}
	return recs;
}

const sleep = (ms) => new Promise((res) => setTimeout(res, ms));

// ---- the server -------------------------------------------------------------

const log = createWriteStream(path.join(out, "server.log"));
const server = spawn(
	path.join(chromaDir, ".bin", "chroma"),
	["run", "--path", persist, "--host", "127.0.0.1", "--port", String(port)],
	{ stdio: ["ignore", "pipe", "pipe"] }
);
server.stdout.pipe(log);
server.stderr.pipe(log);
let exited = null;
const exitPromise = new Promise((res) =>
	server.on("exit", (code, signal) => {
		exited = { code, signal };
		res(exited);
	})
);

async function waitForServer() {
	for (let i = 0; i < 150; i++) {
		if (exited) throw new Error(`chroma server exited (${JSON.stringify(exited)}), see server.log`);
		try {
			const r = await fetch(`http://127.0.0.1:${port}/api/v2/heartbeat`);
			if (r.ok) return;
		} catch {
			// not listening yet
		}
		await sleep(200);
	}
	throw new Error("chroma server did not answer within 30 s");
}

async function stopServer() {
	if (exited) return exited;
	server.kill("SIGTERM");
	const timeout = sleep(30000).then(() => null);
	const r = await Promise.race([exitPromise, timeout]);
	if (r === null) {
		server.kill("SIGKILL");
		throw new Error("chroma server ignored SIGTERM for 30 s");
	}
	return r;
}

// ---- the data ---------------------------------------------------------------

const noEmbed = {
	name: "none",
	generate: async () => {
		throw new Error("no embedding function: pass embeddings");
	},
};

try {
	await waitForServer();
	const client = new ChromaClient({ host: "127.0.0.1", port });
	const collections = [];
	for (const [k, space] of SPACES.entries()) {
		const name = `hnsw_${space}`;
		const coll = await client.createCollection({
			name,
			configuration: { hnsw: { space } },
			embeddingFunction: noEmbed,
		});
		const recs = records(20240601 + k);
		const addFrom = async (from, to) => {
			for (let i = from; i < to; i += BATCH) {
				const b = recs.slice(i, Math.min(i + BATCH, to));
				await coll.add({ ids: b.map((r) => r.id), embeddings: b.map((r) => r.embedding) });
			}
		};
		await addFrom(0, FIRST);
		await coll.delete({ ids: recs.filter((r) => r.deleted).map((r) => r.id) });
		await addFrom(FIRST, FIRST + EXTRA);
		const left = await coll.count();
		const want = recs.filter((r) => !r.deleted).length;
		if (left !== want) throw new Error(`${name}: count ${left}, expected ${want}`);
		collections.push({ name, space, id: coll.id, records: recs });
	}
	const how = await stopServer();
	writeFileSync(path.join(out, "expected.json"), JSON.stringify({ dim: DIM, collections }));
	console.log(`${persist}: ${SPACES.length} collections, server stopped (${how.signal || how.code})`);
} catch (e) {
	await stopServer().catch(() => {});
	console.error(`make_hnsw_dir.mjs: ${e.message}`);
	process.exit(1);
}
