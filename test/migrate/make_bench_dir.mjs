// make_bench_dir.mjs: a large real Chroma 1.0 persist directory for the
// throughput benchmark of vecq-migrate (test/bench/migrate_bench.sh).
//
//   node make_bench_dir.mjs OUTDIR --records N --dim D [--port P] [--batch B]
//        [--seed S] [--name NAME]
//   node make_bench_dir.mjs OUTDIR --changes K [--port P] [--dim D] [--name NAME]
//
// (the second form changes a directory made before: see --changes below)
//
// Starts the pinned server (chromadb 3.0.9's "chroma run", bindings 1.0.1)
// on 127.0.0.1:P with an empty OUTDIR, creates one collection (space l2,
// Chroma's default HNSW settings: the index is flushed every 1000 records)
// and adds N seeded random records of D dimensions in batches of B through
// the official client: vectors uniform in [-1, 1) rounded to 4 decimals,
// short documents and typed metadata (an int, a float, a string, a bool).
// Then it stops the server with SIGINT, starts it once more on the same
// directory (which flushes what the last batch left in the log), checks the
// count and stops it again.  OUTDIR/bench.json says what was made.

import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ChromaClient } from "chromadb";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CLI = path.join(HERE, "node_modules", "chromadb", "dist", "cli.mjs");

const args = process.argv.slice(2);
const opt = (name, dflt) => {
	const i = args.indexOf(name);
	return i >= 0 ? args[i + 1] : dflt;
};
const OUTDIR = args[0] && !args[0].startsWith("--") ? path.resolve(args[0]) : null;
const N = Number(opt("--records", "200000"));
const DIM = Number(opt("--dim", "768"));
const PORT = Number(opt("--port", "18331"));
const BATCH = Number(opt("--batch", "2000"));
const SEED = Number(opt("--seed", "7007"));
const NAME = opt("--name", "bench");
if (!OUTDIR || !(N > 0) || !(DIM > 0) || !(BATCH > 0) || !(PORT > 0 && PORT < 65536)) {
	console.error("usage: node make_bench_dir.mjs OUTDIR --records N --dim D [--port P] [--batch B] [--seed S] [--name NAME] [--changes K]");
	process.exit(2);
}

// mulberry32, as in make_dirs.mjs
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

const WORDS = ["apple", "banana", "cherry", "quick", "brown", "fox", "jumps", "lazy", "dog", "data", "base", "vector"];
const noEmbed = {
	name: "none",
	generate: async () => {
		throw new Error("no embedding function: pass embeddings");
	},
};

async function heartbeat() {
	try {
		const r = await fetch(`http://127.0.0.1:${PORT}/api/v2/heartbeat`, { signal: AbortSignal.timeout(1000) });
		return r.ok;
	} catch {
		return false;
	}
}

async function start(logFile) {
	if (await heartbeat()) throw new Error(`something already answers on 127.0.0.1:${PORT}`);
	const log = fs.openSync(logFile, "a");
	const proc = spawn(process.execPath, [CLI, "run", "--path", OUTDIR, "--host", "127.0.0.1", "--port", String(PORT)], {
		stdio: ["ignore", log, log],
	});
	fs.closeSync(log);
	let exited = null;
	proc.on("exit", (code, sig) => (exited = { code, sig }));
	for (let i = 0; i < 600; i++) {
		if (exited) throw new Error(`the Chroma server exited (${JSON.stringify(exited)}); see ${logFile}`);
		if (await heartbeat()) return { proc, exited: () => exited };
		await new Promise((r) => setTimeout(r, 100));
	}
	proc.kill("SIGKILL");
	throw new Error(`the Chroma server did not answer within 60 s; see ${logFile}`);
}

async function stop(s) {
	if (s.exited()) return;
	const done = new Promise((r) => s.proc.on("exit", r));
	s.proc.kill("SIGINT");
	const t = setTimeout(() => s.proc.kill("SIGKILL"), 120000);
	await done;
	clearTimeout(t);
	for (let i = 0; i < 100 && (await heartbeat()); i++) await new Promise((r) => setTimeout(r, 100));
}

const CHANGES = Number(opt("--changes", "0"));
if (CHANGES > 0) {
	// --changes K on a directory made before: K/2 records updated (vector and
	// metadata), K/4 deleted, K/4 added, through the server, which is then
	// stopped without the restart that would flush the HNSW files
	const logFile = path.join(path.dirname(OUTDIR), path.basename(OUTDIR) + ".changes.log");
	const R = rng(SEED + 1);
	const t0 = Date.now();
	const s = await start(logFile);
	const col = await new ChromaClient({ host: "127.0.0.1", port: PORT }).getCollection({ name: NAME, embeddingFunction: noEmbed });
	const n0 = await col.count();
	const vec = () => Array.from({ length: DIM }, () => Math.round((R() * 2 - 1) * 1e4) / 1e4);
	const pick = (k, off) => Array.from({ length: k }, (_, i) => `r${String((off + i * Math.floor(n0 / k)) % n0).padStart(7, "0")}`);
	const upd = pick(Math.floor(CHANGES / 2), 3);
	await col.update({ ids: upd, embeddings: upd.map(vec), metadatas: upd.map(() => ({ changed: true })) });
	await col.delete({ ids: pick(Math.floor(CHANGES / 4), 5) });
	const add = Array.from({ length: Math.floor(CHANGES / 4) }, (_, i) => `new${String(i).padStart(6, "0")}`);
	await col.add({ ids: add, embeddings: add.map(vec), metadatas: add.map((_, i) => ({ added: i })), documents: add.map((id) => `${id} added later`) });
	const n1 = await col.count();
	await stop(s);
	console.error(`changed ${OUTDIR}: ${upd.length} updated, ${n0 + add.length - n1} deleted, ${add.length} added (${n0} -> ${n1} records) in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
	process.exit(0);
}

fs.mkdirSync(OUTDIR, { recursive: true });
if (fs.readdirSync(OUTDIR).length > 0) throw new Error(`${OUTDIR} is not empty`);
const logFile = path.join(path.dirname(OUTDIR), path.basename(OUTDIR) + ".server.log");
fs.writeFileSync(logFile, "");

const R = rng(SEED);
const t0 = Date.now();
let s = await start(logFile);
const client = new ChromaClient({ host: "127.0.0.1", port: PORT });
const col = await client.createCollection({ name: NAME, configuration: { hnsw: { space: "l2" } }, embeddingFunction: noEmbed });
for (let i = 0; i < N; i += BATCH) {
	const n = Math.min(BATCH, N - i);
	const ids = [];
	const embeddings = [];
	const metadatas = [];
	const documents = [];
	for (let j = i; j < i + n; j++) {
		ids.push(`r${String(j).padStart(7, "0")}`);
		const v = new Array(DIM);
		for (let d = 0; d < DIM; d++) v[d] = Math.round((R() * 2 - 1) * 1e4) / 1e4;
		embeddings.push(v);
		metadatas.push({ n: j, bucket: j % 97, score: Math.round(R() * 1e6) / 1e3, word: WORDS[j % WORDS.length], even: j % 2 === 0 });
		documents.push(`record ${j}: ${WORDS[Math.floor(R() * WORDS.length)]} ${WORDS[Math.floor(R() * WORDS.length)]}`);
	}
	await col.add({ ids, embeddings, metadatas, documents });
	if ((i / BATCH) % 10 === 0 || i + n === N)
		console.error(`  ${i + n} / ${N} records added, ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}
await stop(s);

// a second start flushes what the log still holds past the last flush
s = await start(logFile);
const count = await (await new ChromaClient({ host: "127.0.0.1", port: PORT }).getCollection({ name: NAME, embeddingFunction: noEmbed })).count();
await stop(s);
if (count !== N) throw new Error(`the server counts ${count} records, not ${N}`);
fs.writeFileSync(path.join(OUTDIR, "bench.json"), JSON.stringify({ collection: NAME, records: N, dim: DIM, seed: SEED, batch: BATCH, seconds: (Date.now() - t0) / 1000 }) + "\n");
console.error(`made ${OUTDIR}: ${N} x ${DIM} in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
