// chroma_bench.mjs: the same data and queries through a real Chroma server
// (official chromadb client, HTTP on loopback) and through vecq's chroma
// schema (node-postgres): add throughput, query QPS with 1 and C clients,
// recall@k against exact answers.
//
//   node chroma_bench.mjs --chroma-port P [--data clustered|synth:N:DIM[:SEED]|fashion-mnist]
//        [--n 50000] [--dim 128] [--queries 500] [--k 10] [--batch 1000]
//        [--clients 4] [--space l2] [--m 16] [--ef-construction 100]
//        [--ef 100] [--vecq-efs 40,60,100] [--rounds 2] [--where]
//        [--passes 1] [--data-tool PATH] [--cache DIR] [--chroma-pid PID]
//
// PostgreSQL from the PG* variables (database with the extension).  Both
// collections get the same HNSW settings: max_neighbors --m and
// ef_construction --ef-construction (default: Chroma's defaults, 16 and
// 100) and ef_search --ef; vecq is also measured at each ef_search of
// --vecq-efs (default: --ef only), and the report compares Chroma with
// the smallest ef_search of vecq whose recall is at least Chroma's
// ("equal recall").  Query timings alternate between the engines (--rounds); the
// best round of each is reported; each timing runs the queries --passes
// times.  With --chroma-pid (run.sh passes it) the script waits after
// Chroma's adds until the server is idle (it indexes in the background)
// and reports that time too, so that nothing else runs meanwhile.  --where adds a metadata filter
// matching about 10 % of the records to every query.
//
// Data: "clustered" (default) is generated here (100 Gaussian clusters,
// --n x --dim); "synth:N:DIM[:SEED]" and "fashion-mnist" are the data sets
// of vecq_bench (bench_data.c: the Gaussian mixture of bench-targets, or
// Debian's dataset-fashion-mnist with the 60,000 train images as records
// and the first --queries t10k images as queries), written with their
// exact top-k by vecq_bench_data (--data-tool) into --cache; recall then
// counts ties at the k-th distance as vecq_bench does.

import { ChromaClient } from "chromadb";
import pg from "pg";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

const args = process.argv.slice(2);
const opt = (name, dflt) => {
	const i = args.indexOf(name);
	return i >= 0 ? args[i + 1] : dflt;
};
const DATA = opt("--data", "clustered");
let N = Number(opt("--n", "50000"));
let DIM = Number(opt("--dim", "128"));
const NQ = Number(opt("--queries", "500"));
const K = Number(opt("--k", "10"));
const BATCH = Number(opt("--batch", "1000"));
const CLIENTS = Number(opt("--clients", "4"));
const SPACE = opt("--space", "l2");
const EF = Number(opt("--ef", "100"));
const M = Number(opt("--m", "16"));
const EF_CONSTRUCTION = Number(opt("--ef-construction", "100"));
const VECQ_EFS = opt("--vecq-efs", String(EF)).split(",").map(Number);
const ROUNDS = Number(opt("--rounds", "2"));
const PASSES = Number(opt("--passes", "1"));
const CHROMA_PID = opt("--chroma-pid", null);
const WHERE = args.includes("--where");
const chromaPort = Number(opt("--chroma-port", "8000"));
const DATA_TOOL = opt("--data-tool", "vecq_bench_data");
const CACHE = opt("--cache", "/var/tmp/vecq-bench");

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

// clustered Gaussian data: 100 centres, unit spread around them; values
// rounded to float4 so both engines hold the same numbers
function makeData(seed, n, dim, centres) {
	const rand = rng(seed);
	const gauss = () => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
	const out = new Array(n);
	for (let i = 0; i < n; i++) {
		const c = centres[Math.floor(rand() * centres.length)];
		const v = new Array(dim);
		for (let d = 0; d < dim; d++) v[d] = Math.fround(c[d] + gauss());
		out[i] = v;
	}
	return out;
}
// a VQBF cache file of bench_data.c: "VQBF", int32 n, int32 dim, float4s
function readVectors(path, limit) {
	const buf = readFileSync(path);
	if (buf.toString("latin1", 0, 4) !== "VQBF") throw new Error(`${path}: not a VQBF file`);
	const n = buf.readInt32LE(4), dim = buf.readInt32LE(8);
	const f = new Float32Array(buf.buffer.slice(buf.byteOffset + 12, buf.byteOffset + 12 + n * dim * 4));
	const out = [];
	for (let i = 0; i < Math.min(n, limit ?? n); i++) out.push(Array.from(f.subarray(i * dim, (i + 1) * dim)));
	return { n, dim, rows: out };
}

let data, queries, truthFile = null;
if (DATA === "clustered") {
	const crand = rng(1);
	const centres = Array.from({ length: 100 }, () => Array.from({ length: DIM }, () => (crand() * 2 - 1) * 4));
	data = makeData(2, N, DIM, centres);
	queries = makeData(3, NQ, DIM, centres);
} else {
	const files = JSON.parse(execFileSync(DATA_TOOL, ["--data", DATA, "--queries", String(NQ), "--k", String(K),
		"--metric", SPACE, "--cache", CACHE], { stdio: ["ignore", "pipe", "inherit"] }).toString());
	const base = readVectors(files.base);
	data = base.rows;
	N = base.n;
	DIM = base.dim;
	queries = readVectors(files.queries).rows;
	// int32 nq, int32 k, nq * k int32 ids, nq * k float8 distances (ascending)
	const t = readFileSync(files.truth);
	const tk = t.readInt32LE(4);
	// vecq_bench's distances are the SQL operators': L2 (not squared), -dot
	const fromBench = { l2: (d) => d * d, ip: (d) => 1 + d, cosine: (d) => d }[SPACE];
	truthFile = queries.map((_, q) => fromBench(t.readDoubleLE(8 + NQ * tk * 4 + (q * tk + K - 1) * 8)));
}
const ids = data.map((_, i) => `id${i}`);
const metas = data.map((_, i) => ({ bucket: i % 10, even: i % 2 === 0 }));
const where = WHERE ? { bucket: 3 } : undefined;

function dist(a, b) {
	let s = 0;
	if (SPACE === "l2") {
		for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) * (a[i] - b[i]);
		return s;
	}
	let dot = 0, na = 0, nb = 0;
	for (let i = 0; i < a.length; i++) {
		dot += a[i] * b[i];
		na += a[i] * a[i];
		nb += b[i] * b[i];
	}
	return SPACE === "ip" ? 1 - dot : 1 - dot / Math.sqrt(na * nb);
}

// the exact answer of query q: the ids of its k nearest records, and the
// k-th distance (a returned id counts as a hit when its distance is no
// larger: ties at the k-th distance count, as in vecq_bench)
const idIndex = (id) => Number(id.slice(2));
function exact(q, qi) {
	if (truthFile && !WHERE) return { kth: truthFile[qi], size: Math.min(K, N) };
	const best = [];
	for (let i = 0; i < N; i++) {
		if (WHERE && metas[i].bucket !== 3) continue;
		const d = dist(q, data[i]);
		if (best.length < K || d < best[best.length - 1][0]) {
			best.push([d, ids[i]]);
			best.sort((x, y) => x[0] - y[0]);
			if (best.length > K) best.pop();
		}
	}
	return { kth: best.length ? best[best.length - 1][0] : -Infinity, size: best.length };
}
function hits(q, t, res) {
	let h = 0;
	for (const id of res) if (dist(q, data[idIndex(id)]) <= t.kth * (1 + 1e-12)) h++;
	return Math.min(h, t.size);
}

const noEmbed = { name: "none", generate: async () => { throw new Error("no embedding function"); } };

class Chroma {
	name = "chroma";
	async setup() {
		this.client = new ChromaClient({ host: "127.0.0.1", port: chromaPort });
		try {
			await this.client.deleteCollection({ name: "bench" });
		} catch {}
		this.coll = await this.client.createCollection({
			name: "bench",
			configuration: { hnsw: { space: SPACE, ef_search: EF, max_neighbors: M, ef_construction: EF_CONSTRUCTION } },
			embeddingFunction: noEmbed,
		});
		this.clients = Array.from({ length: CLIENTS }, () => this.coll);
	}
	async add(lo, hi) {
		await this.coll.add({ ids: ids.slice(lo, hi), embeddings: data.slice(lo, hi), metadatas: metas.slice(lo, hi) });
	}
	async query(c, q) {
		const r = await this.clients[c].query({ queryEmbeddings: [q], nResults: K, where, include: ["distances"] });
		return r.ids[0];
	}
	// the server's CPU seconds so far (with --chroma-pid)
	serverCpu() {
		return CHROMA_PID ? cpuSeconds(CHROMA_PID) : NaN;
	}
	async close() {}
}

const vecText = (v) => "[" + v.join(",") + "]";

class Vecq {
	name = "vecq";
	async setup() {
		this.pool = [];
		for (let i = 0; i < CLIENTS; i++) {
			const c = new pg.Client();
			await c.connect();
			this.pool.push(c);
			c.pid = (await c.query("SELECT pg_backend_pid() AS p")).rows[0].p;
		}
		const c = this.pool[0];
		await c.query("SELECT chroma.delete_collection(name) FROM chroma.list_collections() WHERE name = 'bench'");
		await c.query("SELECT chroma.create_collection('bench', configuration => $1::jsonb)", [
			JSON.stringify({ hnsw: { space: SPACE, ef_search: EF, max_neighbors: M, ef_construction: EF_CONSTRUCTION } }),
		]);
	}
	async add(lo, hi) {
		await this.pool[0].query("SELECT chroma.add('bench', $1::text[], $2::vector[], $3::jsonb[])", [
			ids.slice(lo, hi),
			data.slice(lo, hi).map(vecText),
			metas.slice(lo, hi).map((m) => JSON.stringify(m)),
		]);
	}
	async setEf(ef) {
		await this.pool[0].query("SELECT chroma.modify_collection('bench', new_configuration => $1::jsonb)", [
			JSON.stringify({ hnsw: { ef_search: ef } }),
		]);
	}
	async query(c, q) {
		const r = await this.pool[c].query({
			name: "q",
			text: "SELECT id FROM chroma.query('bench', ARRAY[$1::vector], $2, $3::jsonb, include => '{distances}')",
			values: [vecText(q), K, where ? JSON.stringify(where) : null],
		});
		return r.rows.map((x) => x.id);
	}
	// the backends' CPU seconds so far (the cluster is on this machine)
	serverCpu() {
		try {
			return this.pool.reduce((s, c) => s + cpuSeconds(c.pid), 0);
		} catch {
			return NaN;
		}
	}
	async close() {
		for (const c of this.pool) await c.end();
	}
}

// CPU seconds a process has used (utime + stime)
function cpuSeconds(pid) {
	const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
	return (Number(f[11]) + Number(f[12])) / 100;
}

// wait until the process has used less than 2 % of a CPU for 2 s
async function waitIdle(pid) {
	let last = cpuSeconds(pid), idle = 0;
	for (;;) {
		await new Promise((r) => setTimeout(r, 500));
		const now = cpuSeconds(pid);
		idle = now - last < 0.01 ? idle + 1 : 0;
		last = now;
		if (idle >= 4) return;
	}
}

async function timeQueries(engine, clients) {
	const results = new Array(NQ);
	let next = 0;
	const t0 = process.hrtime.bigint();
	const cpu0 = engine.serverCpu();
	await Promise.all(
		Array.from({ length: clients }, async (_, c) => {
			for (;;) {
				const j = next++;
				if (j >= NQ * PASSES) return;
				const i = j % NQ;
				results[i] = await engine.query(c, queries[i]);
			}
		})
	);
	const secs = Number(process.hrtime.bigint() - t0) / 1e9;
	// server CPU microseconds per query (clock ticks of 10 ms: a rough figure)
	const cpu = ((engine.serverCpu() - cpu0) * 1e6) / (NQ * PASSES);
	return { qps: (NQ * PASSES) / secs, cpu, results };
}

async function main() {
	console.log(`data: ${DATA} ${N} x ${DIM} (${SPACE}), ${NQ} queries, k=${K}, m ${M}, ef_construction ${EF_CONSTRUCTION}, ef_search ${EF}, batch ${BATCH}, clients 1 and ${CLIENTS}${WHERE ? ", where {bucket: 3}" : ""}`);
	const truth = queries.map(exact);
	const engines = [new Chroma(), new Vecq()];
	const report = {};
	for (const e of engines) {
		await e.setup();
		const t0 = process.hrtime.bigint();
		for (let lo = 0; lo < N; lo += BATCH) await e.add(lo, Math.min(N, lo + BATCH));
		const secs = Number(process.hrtime.bigint() - t0) / 1e9;
		report[e.name] = { add_per_s: N / secs, add_s: secs };
		console.log(`${e.name}: added ${N} in ${secs.toFixed(1)} s (${(N / secs).toFixed(0)} records/s)`);
		if (e.name === "chroma" && CHROMA_PID) {
			await waitIdle(CHROMA_PID);
			// idle for the last 2 s of the wait
			const done = Number(process.hrtime.bigint() - t0) / 1e9 - 2;
			report.chroma.indexed_per_s = N / done;
			console.log(`chroma: server idle (indexing done) ${done.toFixed(1)} s after the first add (${(N / done).toFixed(0)} records/s)`);
		}
	}
	// warm-up, then alternating rounds: Chroma, then vecq at each ef_search
	const [chroma, vecq] = engines;
	const runs = [{ e: chroma, label: `chroma ef ${EF}` }, ...VECQ_EFS.map((ef) => ({ e: vecq, ef, label: `vecq ef ${ef}` }))];
	for (const r of runs) {
		r.qps1 = r.qpsC = 0;
		r.cpu = Infinity;
	}
	for (const e of engines) await timeQueries(e, 1);
	for (let round = 0; round < ROUNDS; round++)
		for (const run of runs) {
			if (run.ef !== undefined) await run.e.setEf(run.ef);
			const one = await timeQueries(run.e, 1);
			const many = await timeQueries(run.e, CLIENTS);
			let hit = 0;
			one.results.forEach((res, i) => (hit += hits(queries[i], truth[i], res)));
			run.recall = hit / truth.reduce((s, t) => s + t.size, 0);
			run.qps1 = Math.max(run.qps1, one.qps);
			run.cpu = Math.min(run.cpu, one.cpu);
			run.qpsC = Math.max(run.qpsC, many.qps);
			console.log(`round ${round + 1} ${run.label}: recall@${K} ${run.recall.toFixed(4)}, ${one.qps.toFixed(0)} QPS (1 client, server ${one.cpu.toFixed(0)} us CPU/query), ${many.qps.toFixed(0)} QPS (${CLIENTS} clients)`);
		}
	console.log(`\nrun            recall@${K}  QPS(1)  QPS(${CLIENTS})  server us CPU/query (1 client)`);
	for (const r of runs)
		console.log(`${r.label.padEnd(14)} ${r.recall.toFixed(4)}    ${r.qps1.toFixed(0).padStart(6)}  ${r.qpsC.toFixed(0).padStart(6)}  ${r.cpu.toFixed(0).padStart(6)}`);
	console.log(`add: chroma ${report.chroma.add_per_s.toFixed(0)} records/s, vecq ${report.vecq.add_per_s.toFixed(0)} records/s (${(report.vecq.add_per_s / report.chroma.add_per_s).toFixed(2)}x)`);
	if (report.chroma.indexed_per_s)
		console.log(`add until indexed: chroma ${report.chroma.indexed_per_s.toFixed(0)} records/s, vecq ${report.vecq.add_per_s.toFixed(0)} records/s (${(report.vecq.add_per_s / report.chroma.indexed_per_s).toFixed(2)}x)`);
	// equal recall: the smallest ef_search of vecq whose recall is at least
	// Chroma's (the setting to use; a larger one is faster only by noise)
	const c = runs[0];
	const eq = runs.slice(1).filter((r) => r.recall >= c.recall).sort((a, b) => a.ef - b.ef)[0];
	if (eq)
		console.log(`equal recall: ${eq.label} (recall ${eq.recall.toFixed(4)} >= ${c.recall.toFixed(4)}): QPS ${(eq.qps1 / c.qps1).toFixed(2)}x (1 client), ${(eq.qpsC / c.qpsC).toFixed(2)}x (${CLIENTS} clients); server CPU per query ${(c.cpu / eq.cpu).toFixed(2)}x less`);
	else console.log("equal recall: no vecq setting reached Chroma's recall");
	for (const e of engines) await e.close();
}

main().catch((e) => {
	console.error(e);
	process.exit(1);
});
