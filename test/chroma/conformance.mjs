// conformance.mjs: run every scenario of scenarios.mjs through the official
// chromadb client against a real Chroma server and through vecq's chroma
// schema (node-postgres), and compare what the two answer.
//
//   node conformance.mjs --chroma-port P [--only NAME_SUBSTRING] [--verbose]
//
// The PostgreSQL connection comes from the usual PG* variables; the
// database must have the extension.  Each scenario runs in its own Chroma
// database (created on both sides), so names never collide.  A step's
// results are compared exactly (ids, documents, metadatas, uris, counts,
// names) except distances (relative 1e-4) and embeddings (float4); errors
// are compared by kind (invalid argument, not found, already exists).
// Prints one line per failed scenario and "N passed, N failed".

import { ChromaClient, AdminClient } from "chromadb";
import pg from "pg";
import { scenarios } from "./scenarios.mjs";

const args = process.argv.slice(2);
const opt = (name, dflt) => {
	const i = args.indexOf(name);
	return i >= 0 ? args[i + 1] : dflt;
};
const chromaPort = Number(opt("--chroma-port", "8000"));
const only = opt("--only", null);
const verbose = args.includes("--verbose");

const noEmbed = {
	name: "none",
	generate: async () => {
		throw new Error("no embedding function: pass embeddings");
	},
};

// ---- error kinds ---------------------------------------------------------

class StepError extends Error {
	constructor(kind, message) {
		super(message);
		this.kind = kind;
	}
}

function chromaKind(e) {
	const m = String(e.message);
	if (e.name === "ChromaNotFoundError" || /not found|does not exist/i.test(m)) return "notfound";
	if (e.name === "ChromaUniqueError" || /already exists/i.test(m)) return "exists";
	// the server failed (HTTP 500): it answered no error of a kind
	if (e.name === "ChromaConnectionError" && /status: 5\d\d/.test(m)) return "internal";
	// the harness's embedding function: there is none (vecq: 22023)
	if (/no embedding function/.test(m)) return "invalid";
	// the client's own checks that fail before they say why
	if (e.name === "TypeError") return "invalid";
	if (e.name === "ChromaValueError" || e.name === "ChromaClientError" || /Bad request|Validation|InvalidArgument/i.test(m))
		return "invalid";
	return "other:" + e.name;
}

function sqlKind(e) {
	const c = e.code || "";
	if (c === "42704" || c === "3D000") return "notfound";
	if (c === "42P07" || c === "42710" || c === "42P04") return "exists";
	if (c.startsWith("22")) return "invalid";
	return "other:" + c;
}

// ---- normal forms ----------------------------------------------------------

const nz = (x) => (x === undefined ? null : x);

function normCollection(name, metadata, cfg) {
	const h = (cfg && cfg.hnsw) || {};
	return {
		name,
		metadata: nz(metadata) && Object.keys(metadata).length ? metadata : null,
		hnsw: {
			space: h.space,
			ef_construction: h.ef_construction,
			ef_search: h.ef_search,
			max_neighbors: h.max_neighbors,
		},
	};
}

// get results: ids and the included fields, from Chroma's response shape
function normGet(r, include) {
	const out = { ids: r.ids };
	for (const f of include) out[f] = nz(r[f]);
	return out;
}

// query results: per query, the rows in distance order; rows whose
// distances are equal (within the comparison's tolerance) may come in
// either order, so they are put in id order on both sides
function normQuery(r, include) {
	const fields = ["ids", ...include.filter((f) => f !== "ids")];
	const out = {};
	for (const f of fields) out[f] = [];
	(r.ids || []).forEach((ids, q) => {
		const rows = ids.map((id, i) => {
			const row = {};
			for (const f of fields) row[f] = r[f] && r[f][q] ? nz(r[f][q][i]) : null;
			return row;
		});
		if (include.includes("distances"))
			for (let i = 1; i < rows.length; i++)
				for (let j = i; j > 0; j--) {
					const a = rows[j - 1];
					const b = rows[j];
					const tie = Math.abs(a.distances - b.distances) <= 1e-4 * Math.max(1, Math.abs(a.distances));
					if (tie && a.ids > b.ids) [rows[j - 1], rows[j]] = [b, a];
					else break;
				}
		for (const f of fields) out[f].push(rows.map((row) => row[f]));
	});
	return out;
}

// ---- the Chroma side -----------------------------------------------------

class ChromaSide {
	constructor(port) {
		this.host = "127.0.0.1";
		this.port = port;
		this.admin = new AdminClient({ host: this.host, port });
	}
	async begin(db) {
		await this.admin.createDatabase({ name: db, tenant: "default_tenant" });
		this.db = db;
		this.client = new ChromaClient({ host: this.host, port: this.port, database: db });
	}
	async coll(name) {
		return this.client.getCollection({ name, embeddingFunction: noEmbed });
	}
	async run(s) {
		try {
			return await this.step(s);
		} catch (e) {
			if (e instanceof StepError) throw e;
			throw new StepError(chromaKind(e), `${e.name}: ${e.message}`);
		}
	}
	async step(s) {
		const a = s.args || {};
		switch (s.op) {
			case "createCollection":
			case "getOrCreateCollection": {
				const c = await this.client[s.op]({
					name: a.name,
					metadata: a.metadata,
					configuration: a.configuration,
					embeddingFunction: noEmbed,
				});
				return normCollection(c.name, c.metadata, c.configuration);
			}
			case "getCollection": {
				const c = await this.coll(a.name);
				return normCollection(c.name, c.metadata, c.configuration);
			}
			case "listCollections": {
				// the client warns about collections without an embedding function
				const warn = console.warn;
				console.warn = () => {};
				let cs;
				try {
					cs = await this.client.listCollections({ limit: a.limit, offset: a.offset });
				} finally {
					console.warn = warn;
				}
				return a.limit !== undefined || a.offset !== undefined
					? { count: cs.length }
					: { names: cs.map((c) => c.name).sort() };
			}
			case "countCollections":
				return await this.client.countCollections();
			case "modifyCollection": {
				const c = await this.coll(a.name);
				await c.modify({ name: a.newName, metadata: a.metadata, configuration: a.configuration });
				const d = await this.coll(a.newName || a.name);
				return normCollection(d.name, d.metadata, d.configuration);
			}
			case "deleteCollection":
				await this.client.deleteCollection({ name: a.name });
				return null;
			case "createTenant":
				await this.admin.createTenant({ name: a.name });
				return null;
			case "getTenant": {
				const t = await this.admin.getTenant({ name: a.name });
				return typeof t === "string" ? t : t.name;
			}
			case "createDatabase":
				await this.admin.createDatabase({ name: a.name, tenant: a.tenant || "default_tenant" });
				return null;
			case "getDatabase": {
				const d = await this.admin.getDatabase({ name: a.name, tenant: a.tenant || "default_tenant" });
				return { name: d.name, tenant: d.tenant };
			}
			case "listDatabases": {
				const ds = await this.admin.listDatabases({ tenant: a.tenant || "default_tenant" });
				return ds.map((d) => d.name).filter((n) => !n.startsWith("s_")).sort();
			}
			case "deleteDatabase":
				await this.admin.deleteDatabase({ name: a.name, tenant: a.tenant || "default_tenant" });
				return null;
			case "add":
			case "upsert":
			case "update": {
				const c = await this.coll(s.collection);
				await c[s.op]({
					ids: a.ids,
					embeddings: a.embeddings,
					metadatas: a.metadatas,
					documents: a.documents,
					uris: a.uris,
				});
				return null;
			}
			case "delete": {
				const c = await this.coll(s.collection);
				await c.delete({ ids: a.ids, where: a.where, whereDocument: a.whereDocument });
				return null;
			}
			case "count":
				return await (await this.coll(s.collection)).count();
			case "get": {
				const c = await this.coll(s.collection);
				const include = a.include || ["documents", "metadatas"];
				const r = await c.get({
					ids: a.ids,
					where: a.where,
					whereDocument: a.whereDocument,
					limit: a.limit,
					offset: a.offset,
					include: a.include,
				});
				return normGet(r, include);
			}
			case "peek": {
				const c = await this.coll(s.collection);
				// the JS client's peek leaves out embeddings (Python's has them):
				// the fields both have are compared
				const r = await c.peek({ limit: a.limit });
				return normGet(r, ["documents", "metadatas"]);
			}
			case "query": {
				const c = await this.coll(s.collection);
				const include = a.include || ["documents", "metadatas", "distances"];
				const r = await c.query({
					queryEmbeddings: a.queryEmbeddings,
					nResults: a.nResults,
					where: a.where,
					whereDocument: a.whereDocument,
					include: a.include,
				});
				return normQuery(r, include);
			}
			default:
				throw new Error("unknown op " + s.op);
		}
	}
}

// ---- the vecq side ---------------------------------------------------------

const vec = (e) => (e == null ? null : "[" + e.join(",") + "]");
const vecs = (es) => (es == null ? null : es.map(vec));
const jsons = (ms) => (ms == null ? null : ms.map((m) => (m == null ? null : JSON.stringify(m))));
const json = (x) => (x == null ? null : JSON.stringify(x));

class VecqSide {
	constructor() {
		this.pg = new pg.Client();
	}
	async connect() {
		await this.pg.connect();
	}
	async begin(db) {
		await this.pg.query("SELECT chroma.create_database($1)", [db]);
		await this.pg.query("SELECT set_config('chroma.database', $1, false)", [db]);
		this.db = db;
	}
	async one(sql, params) {
		const r = await this.pg.query(sql, params);
		return r.rows[0] ? Object.values(r.rows[0])[0] : null;
	}
	async run(s) {
		try {
			return await this.step(s);
		} catch (e) {
			if (e instanceof StepError) throw e;
			if (!e.code) throw e;
			throw new StepError(sqlKind(e), `${e.code}: ${e.message}${e.detail ? " (" + e.detail + ")" : ""}`);
		}
	}
	async step(s) {
		const a = s.args || {};
		switch (s.op) {
			case "createCollection":
			case "getOrCreateCollection": {
				const c = await this.one("SELECT chroma.create_collection_json($1, $2::jsonb, $3::jsonb, $4)", [
					a.name,
					json(a.metadata),
					json(a.configuration),
					s.op === "getOrCreateCollection",
				]);
				return normCollection(c.name, c.metadata, c.configuration_json);
			}
			case "getCollection": {
				const c = await this.one("SELECT chroma.get_collection_json($1)", [a.name]);
				return normCollection(c.name, c.metadata, c.configuration_json);
			}
			case "listCollections": {
				const cs = await this.one("SELECT chroma.list_collections_json($1, $2)", [a.limit ?? 100, a.offset ?? 0]);
				return a.limit !== undefined || a.offset !== undefined
					? { count: cs.length }
					: { names: cs.map((c) => c.name).sort() };
			}
			case "countCollections":
				return await this.one("SELECT chroma.count_collections()");
			case "modifyCollection": {
				const c = await this.one(
					"SELECT chroma._collection_json(c) FROM chroma.modify_collection($1, $2, $3::jsonb, $4::jsonb) c",
					[a.name, a.newName ?? null, json(a.metadata), json(a.configuration)]
				);
				return normCollection(c.name, c.metadata, c.configuration_json);
			}
			case "deleteCollection":
				await this.pg.query("SELECT chroma.delete_collection($1)", [a.name]);
				return null;
			case "createTenant":
				await this.pg.query("SELECT chroma.create_tenant($1)", [a.name]);
				return null;
			case "getTenant":
				return await this.one("SELECT name FROM chroma.get_tenant($1)", [a.name]);
			case "createDatabase":
				await this.pg.query("SELECT chroma.create_database($1, $2)", [a.name, a.tenant || "default_tenant"]);
				return null;
			case "getDatabase": {
				const r = await this.pg.query("SELECT name, tenant FROM chroma.get_database($1, $2)", [
					a.name,
					a.tenant || "default_tenant",
				]);
				return { name: r.rows[0].name, tenant: r.rows[0].tenant };
			}
			case "listDatabases": {
				const r = await this.pg.query("SELECT name FROM chroma.list_databases(tenant => $1)", [
					a.tenant || "default_tenant",
				]);
				return r.rows
					.map((x) => x.name)
					.filter((n) => !n.startsWith("s_"))
					.sort();
			}
			case "deleteDatabase":
				await this.pg.query("SELECT chroma.delete_database($1, $2)", [a.name, a.tenant || "default_tenant"]);
				return null;
			case "add":
			case "upsert":
			case "update":
				await this.pg.query(
					`SELECT chroma.${s.op}($1, $2::text[], $3::vector[], $4::jsonb[], $5::text[], $6::text[])`,
					[s.collection, a.ids, vecs(a.embeddings), jsons(a.metadatas), a.documents ?? null, a.uris ?? null]
				);
				return null;
			case "delete":
				await this.pg.query('SELECT chroma.delete($1, $2::text[], "where" => $3::jsonb, where_document => $4::jsonb)', [
					s.collection,
					a.ids ?? null,
					json(a.where),
					json(a.whereDocument),
				]);
				return null;
			case "count":
				return await this.one("SELECT chroma.count($1)", [s.collection]);
			case "get": {
				const include = a.include || ["documents", "metadatas"];
				const r = await this.one(
					'SELECT chroma.get_json($1, $2::text[], $3::jsonb, $4::jsonb, $5, $6, $7::text[])',
					[s.collection, a.ids ?? null, json(a.where), json(a.whereDocument), a.limit ?? null, a.offset ?? null, include]
				);
				return normGet(r, include);
			}
			case "peek": {
				const r = await this.one("SELECT chroma.peek_json($1, $2)", [s.collection, a.limit ?? 10]);
				return normGet(r, ["documents", "metadatas"]);
			}
			case "query": {
				const include = a.include || ["documents", "metadatas", "distances"];
				const r = await this.one(
					"SELECT chroma.query_json($1, $2::vector[], $3, $4::jsonb, $5::jsonb, $6::text[])",
					[s.collection, vecs(a.queryEmbeddings), a.nResults ?? 10, json(a.where), json(a.whereDocument), include]
				);
				return normQuery(r, include);
			}
			default:
				throw new Error("unknown op " + s.op);
		}
	}
}

// ---- comparison -------------------------------------------------------------

function diff(a, b, path, tol) {
	if (typeof a === "number" && typeof b === "number") {
		if (a === b) return null;
		if (tol && Math.abs(a - b) <= tol * Math.max(1, Math.abs(a), Math.abs(b))) return null;
		return `${path}: ${a} vs ${b}`;
	}
	if (a === null || b === null || typeof a !== "object" || typeof b !== "object") {
		return a === b ? null : `${path}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`;
	}
	if (Array.isArray(a) !== Array.isArray(b)) return `${path}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`;
	if (Array.isArray(a)) {
		if (a.length !== b.length) return `${path}: length ${a.length} vs ${b.length}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`;
		for (let i = 0; i < a.length; i++) {
			const d = diff(a[i], b[i], `${path}[${i}]`, tol);
			if (d) return d;
		}
		return null;
	}
	const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
	for (const k of [...keys].sort()) {
		const t = k === "distances" ? 1e-4 : k === "embeddings" ? 1e-6 : tol;
		const d = diff(nz(a[k]), nz(b[k]), `${path}.${k}`, t);
		if (d) return d;
	}
	return null;
}

// ---- main ------------------------------------------------------------------------

async function main() {
	const chroma = new ChromaSide(chromaPort);
	const vecq = new VecqSide();
	await vecq.connect();
	let passed = 0;
	let failed = 0;
	const token = Date.now().toString(36);
	let n = 0;
	for (const sc of scenarios) {
		if (only && !sc.name.includes(only)) continue;
		n++;
		const db = `s_${token}_${n}`;
		let problem = null;
		try {
			await chroma.begin(db);
			await vecq.begin(db);
			for (let i = 0; i < sc.steps.length && !problem; i++) {
				// "@@" in a step stands for a token unique to this run (names
				// of tenants and databases outlive a run on the Chroma server)
				const s = JSON.parse(JSON.stringify(sc.steps[i]).replaceAll("@@", token));
				let rc, rv;
				try {
					rc = { ok: await chroma.run(s) };
				} catch (e) {
					if (!(e instanceof StepError)) throw e;
					rc = { error: e.kind, message: e.message };
				}
				try {
					rv = { ok: await vecq.run(s) };
				} catch (e) {
					if (!(e instanceof StepError)) throw e;
					rv = { error: e.kind, message: e.message };
				}
				const where = `step ${i + 1} (${s.op})`;
				// a scenario states which steps fail: a step that should work
				// and fails on Chroma is a broken scenario, not a pass
				if (!s.expectError && rc.error)
					problem = `${where}: the scenario expects success, Chroma answered ${rc.error} [${rc.message}]`;
				else if (s.expectError && !rc.error)
					problem = `${where}: the scenario expects an error, Chroma answered ${JSON.stringify(rc.ok)}`;
				else if (rc.error || rv.error) {
					// where Chroma fails internally, any error of vecq's is its answer
					if (rc.error !== rv.error && !(rc.error === "internal" && rv.error))
						problem = `${where}: Chroma ${rc.error ? "error " + rc.error + " [" + rc.message + "]" : "ok " + JSON.stringify(rc.ok)}; vecq ${rv.error ? "error " + rv.error + " [" + rv.message + "]" : "ok " + JSON.stringify(rv.ok)}`;
				} else if (s.compare !== false) {
					const d = diff(rc.ok, rv.ok, "", 0);
					if (d) problem = `${where}: Chroma vs vecq differ at ${d}`;
				}
				if (verbose) console.log(`  ${sc.name} ${where}:`, JSON.stringify(rc).slice(0, 300), "|", JSON.stringify(rv).slice(0, 300));
			}
		} catch (e) {
			problem = `harness: ${e.stack || e}`;
		}
		if (problem) {
			failed++;
			console.log(`FAIL ${sc.name}: ${problem}`);
		} else {
			passed++;
			if (verbose) console.log(`ok   ${sc.name}`);
		}
	}
	await vecq.pg.end();
	console.log(`${passed} passed, ${failed} failed`);
	process.exit(failed ? 1 : 0);
}

main().catch((e) => {
	console.error(e);
	process.exit(2);
});
