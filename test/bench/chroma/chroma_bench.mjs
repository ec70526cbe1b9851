// chroma_bench.mjs: the same data and queries through a real Chroma server
// (official chromadb client, HTTP on loopback) and through vecq's chroma
// schema (node-postgres): add throughput, query QPS with 1 and C clients,
// recall@k against exact answers.
//
//   node chroma_bench.mjs --chroma-port P [--n 50000] [--dim 128]
//        [--queries 500] [--k 10] [--batch 1000] [--clients 4]
//        [--space l2] [--ef 100] [--vecq-efs 40,60,100] [--rounds 2] [--where]
//
// PostgreSQL from the PG* variables (database with the extension).  Both
// collections get Chroma's default HNSW settings (m 16, ef_construction
// 100) and ef_search --ef; vecq is also measured at each ef_search of
// --vecq-efs (default: --ef only), and the report compares Chroma with
// the fastest vecq setting whose recall is at least Chroma's ("equal
// recall").  Query timings alternate between the engines (--rounds); the
// best round of each is reported.  --where adds a
// metadata filter matching about 10 % of the records to every query.

import { ChromaClient } from "chromadb";
import pg from "pg";

const args = process.argv.slice(2);
const opt = (name, dflt) => {
	const i = args.indexOf(name);
	return i >= 0 ? args[i + 1] : dflt;
};
const N = Number(opt("--n", "50000"));
const DIM = Number(opt("--dim", "128"));
const NQ = Number(opt("--queries", "500"));
const K = Number(opt("--k", "10"));
const BATCH = Number(opt("--batch", "1000"));
const CLIENTS = Number(opt("--clients", "4"));
const SPACE = opt("--space", "l2");
const EF = Number(opt("--ef", "100"));
const VECQ_EFS = opt("--vecq-efs", String(EF)).split(",").map(Number);
const ROUNDS = Number(opt("--rounds", "2"));
const WHERE = args.includes("--where");
const chromaPort = Number(opt("--chroma-port", "8000"));

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
const crand = rng(1);
const centres = Array.from({ length: 100 }, () => Array.from({ length: DIM }, () => (crand() * 2 - 1) * 4));
const data = makeData(2, N, DIM, centres);
const queries = makeData(3, NQ, DIM, centres);
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

function exact(q) {
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
	return new Set(best.map((x) => x[1]));
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
			configuration: { hnsw: { space: SPACE, ef_search: EF } },
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
		}
		const c = this.pool[0];
		await c.query("SELECT chroma.delete_collection(name) FROM chroma.list_collections() WHERE name = 'bench'");
		await c.query("SELECT chroma.create_collection('bench', configuration => $1::jsonb)", [
			JSON.stringify({ hnsw: { space: SPACE, ef_search: EF } }),
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
	async close() {
		for (const c of this.pool) await c.end();
	}
}

async function timeQueries(engine, clients) {
	const results = new Array(NQ);
	let next = 0;
	const t0 = process.hrtime.bigint();
	await Promise.all(
		Array.from({ length: clients }, async (_, c) => {
			for (;;) {
				const i = next++;
				if (i >= NQ) return;
				results[i] = await engine.query(c, queries[i]);
			}
		})
	);
	const secs = Number(process.hrtime.bigint() - t0) / 1e9;
	return { qps: NQ / secs, results };
}

async function main() {
	console.log(`data: ${N} x ${DIM} (${SPACE}), ${NQ} queries, k=${K}, ef_search ${EF}, batch ${BATCH}, clients 1 and ${CLIENTS}${WHERE ? ", where {bucket: 3}" : ""}`);
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
	}
	// warm-up, then alternating rounds: Chroma, then vecq at each ef_search
	const [chroma, vecq] = engines;
	const runs = [{ e: chroma, label: `chroma ef ${EF}` }, ...VECQ_EFS.map((ef) => ({ e: vecq, ef, label: `vecq ef ${ef}` }))];
	for (const r of runs) r.qps1 = r.qpsC = 0;
	for (const e of engines) await timeQueries(e, 1);
	for (let round = 0; round < ROUNDS; round++)
		for (const run of runs) {
			if (run.ef !== undefined) await run.e.setEf(run.ef);
			const one = await timeQueries(run.e, 1);
			const many = await timeQueries(run.e, CLIENTS);
			let hit = 0;
			one.results.forEach((res, i) => res.forEach((id) => truth[i].has(id) && hit++));
			run.recall = hit / truth.reduce((s, t) => s + t.size, 0);
			run.qps1 = Math.max(run.qps1, one.qps);
			run.qpsC = Math.max(run.qpsC, many.qps);
			console.log(`round ${round + 1} ${run.label}: recall@${K} ${run.recall.toFixed(4)}, ${one.qps.toFixed(0)} QPS (1 client), ${many.qps.toFixed(0)} QPS (${CLIENTS} clients)`);
		}
	console.log(`\nrun            recall@${K}  QPS(1)  QPS(${CLIENTS})`);
	for (const r of runs)
		console.log(`${r.label.padEnd(14)} ${r.recall.toFixed(4)}    ${r.qps1.toFixed(0).padStart(6)}  ${r.qpsC.toFixed(0).padStart(6)}`);
	console.log(`add: chroma ${report.chroma.add_per_s.toFixed(0)} records/s, vecq ${report.vecq.add_per_s.toFixed(0)} records/s (${(report.vecq.add_per_s / report.chroma.add_per_s).toFixed(2)}x)`);
	const c = runs[0];
	const eq = runs.slice(1).filter((r) => r.recall >= c.recall).sort((a, b) => b.qps1 - a.qps1)[0];
	if (eq)
		console.log(`equal recall: ${eq.label} (recall ${eq.recall.toFixed(4)} >= ${c.recall.toFixed(4)}): QPS ${(eq.qps1 / c.qps1).toFixed(2)}x (1 client), ${(eq.qpsC / c.qpsC).toFixed(2)}x (${CLIENTS} clients)`);
	else console.log("equal recall: no vecq setting reached Chroma's recall");
	for (const e of engines) await e.close();
}

main().catch((e) => {
	console.error(e);
	process.exit(1);
});
