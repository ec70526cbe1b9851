// check_migrated.mjs: does a vecq database answer what the Chroma server
// answered about the directory that was migrated into it?
//
//   node check_migrated.mjs EXPECTED.json [CONNSTR] [--verbose]
//
// EXPECTED.json is one written by make_dirs.mjs.  CONNSTR is a URL
// (postgresql://user@host:port/db, ?host=/socket/dir for a Unix socket) or
// libpq keywords ("host=/tmp/x port=5432 dbname=postgres user=postgres");
// without it the PG* variables are used.  The migration keeps tenant,
// database and collection names and the collection ids.
//
// Asks vecq only through the chroma SQL API, as a client would, with
// chroma.tenant / chroma.database set to each collection's: tenants and
// databases exist (get_tenant, get_database); each database has exactly
// the expected collections (list_collections_json); each collection's id,
// name, tenant, database, dimension, metadata and configuration.hnsw
// (get_collection_json), count, get_json with every field (ids in the
// server's order, documents, metadatas, uris exactly, embeddings within
// 1e-6) and query_json with the recorded query vectors and filters (ids in
// distance order, ties within 1e-4 in either order, distances within 1e-4,
// documents, metadatas, uris exactly).  JSON is read with its numbers as
// written (compare.mjs), so an int is not a float: Chroma's 1.0 must come
// back as 1.0 and 9007199254740993 as itself.
//
// Prints one line per check ("ok   ..." or "FAIL ...: why") and last
// "N passed, N failed"; exits 1 on any failure, 2 when it cannot run.

import fs from "node:fs";
import pg from "pg";
import { parse, stringify, compareGet, compareQuery, compareConfiguration, diffExact, Num } from "./compare.mjs";

const args = process.argv.slice(2);
const verbose = args.includes("--verbose");
const pos = args.filter((a) => !a.startsWith("--"));
if (pos.length < 1 || pos.length > 2) {
	console.error("usage: node check_migrated.mjs EXPECTED.json [CONNSTR] [--verbose]");
	process.exit(2);
}
const [expectedFile, connstr] = pos;

// libpq keyword/value pairs: key=value, values may be 'quoted'
function keywords(s) {
	const map = { host: "host", hostaddr: "host", port: "port", dbname: "database", user: "user", password: "password", sslmode: null, application_name: "application_name" };
	const out = {};
	const re = /\s*([a-z_]+)\s*=\s*('((?:\\.|[^'\\])*)'|\S+)/gy;
	let m;
	let last = 0;
	while ((m = re.exec(s))) {
		const v = m[3] !== undefined ? m[3].replace(/\\(.)/g, "$1") : m[2];
		if (!(m[1] in map)) throw new Error(`connection string: unknown keyword ${m[1]}`);
		if (map[m[1]]) out[map[m[1]]] = m[1] === "port" ? Number(v) : v;
		last = re.lastIndex;
	}
	if (s.slice(last).trim()) throw new Error(`connection string: cannot read ${JSON.stringify(s.slice(last))}`);
	return out;
}

function pgConfig(s) {
	if (!s) return {};
	if (/^[a-z]+:\/\//i.test(s)) return { connectionString: s };
	return keywords(s);
}

let passed = 0;
let failed = 0;
function report(what, problem) {
	if (problem) {
		failed++;
		console.log(`FAIL ${what}: ${problem}`);
	} else {
		passed++;
		console.log(`ok   ${what}`);
	}
}

async function main() {
	const expected = parse(fs.readFileSync(expectedFile, "utf8"));
	if (!expected.collections || !expected.format || !String(expected.format).startsWith("vecq-migrate expected answers"))
		throw new Error(`${expectedFile}: not an expected.json of make_dirs.mjs`);
	const db = new pg.Client(pgConfig(connstr));
	await db.connect();
	// the vecq side's text, numbers kept as written (jsonb's output)
	const one = async (sql, params) => {
		const r = await db.query({ text: sql, values: params, rowMode: "array" });
		return r.rows.length ? r.rows[0][0] : null;
	};
	const json = async (sql, params) => {
		const t = await one(sql, params);
		return t === null ? null : parse(t);
	};
	const at = async (tenant, database) => {
		await db.query("SELECT set_config('chroma.tenant', $1, false), set_config('chroma.database', $2, false)", [tenant, database]);
	};
	// one check: the function's answer, or its error as the problem
	const check = async (what, f) => {
		let problem;
		try {
			problem = await f();
		} catch (e) {
			problem = `error ${e.code || e.name}: ${e.message}${e.detail ? " (" + e.detail + ")" : ""}`;
		}
		report(what, problem);
	};
	const scen = expected.scenario;

	for (const t of expected.tenants || [])
		await check(`${scen}: tenant ${t}`, async () => {
			const n = await one("SELECT name FROM chroma.get_tenant($1)", [t]);
			return n === t ? null : `get_tenant answered ${JSON.stringify(n)}`;
		});
	for (const d of expected.databases || [])
		await check(`${scen}: database ${d.tenant}/${d.name}`, async () => {
			const r = await db.query("SELECT name, tenant FROM chroma.get_database($1, $2)", [d.name, d.tenant]);
			return r.rows.length === 1 && r.rows[0].name === d.name && r.rows[0].tenant === d.tenant ? null : `get_database answered ${JSON.stringify(r.rows)}`;
		});
	// each database holds exactly the expected collections
	const byDb = new Map();
	for (const d of expected.databases || []) byDb.set(`${d.tenant}/${d.name}`, []);
	for (const c of expected.collections) {
		const k = `${c.tenant}/${c.database}`;
		if (!byDb.has(k)) byDb.set(k, []);
		byDb.get(k).push(c.name);
	}
	for (const [k, names] of byDb) {
		const [tenant, ...rest] = k.split("/");
		const database = rest.join("/");
		await check(`${scen}: ${k}: collections`, async () => {
			await at(tenant, database);
			const list = await json("SELECT chroma.list_collections_json()::text");
			const got = (list || []).map((c) => c.name).sort();
			return diffExact([...names].sort(), got, "names");
		});
	}

	for (const c of expected.collections) {
		const where = `${scen}: ${c.tenant}/${c.database}/${c.name}`;
		let coll = null;
		await check(`${where}: collection`, async () => {
			await at(c.tenant, c.database);
			coll = await json("SELECT chroma.get_collection_json($1)::text", [c.name]);
			const problems = [
				diffExact(c.id, coll.id, "id"),
				diffExact(c.name, coll.name, "name"),
				diffExact(c.tenant, coll.tenant, "tenant"),
				diffExact(c.database, coll.database, "database"),
				diffExact(c.dimension, coll.dimension, "dimension"),
				diffExact(c.metadata, coll.metadata, "metadata"),
				compareConfiguration(c.configuration, coll.configuration_json),
			].filter(Boolean);
			return problems.length ? problems.join("; ") : null;
		});
		// without the collection the other checks of it cannot run: its
		// failure above fails the run
		if (!coll) continue;

		await check(`${where}: count`, async () => diffExact(c.count, new Num(String(await one("SELECT chroma.count($1)", [c.name]))), "count"));

		const include = c.get.include;
		let got = null;
		let getError = null;
		try {
			got = await json("SELECT chroma.get_json($1, include => $2::text[])::text", [c.name, include]);
		} catch (e) {
			getError = `error ${e.code || e.name}: ${e.message}${e.detail ? " (" + e.detail + ")" : ""}`;
		}
		if (getError) report(`${where}: get`, getError);
		else for (const r of compareGet(c.get.result, got, include)) report(`${where}: get ${r.what}`, r.problem);

		for (let i = 0; i < c.queries.length; i++) {
			const q = c.queries[i];
			const desc = [q.where ? `where ${stringify(q.where)}` : "", q.where_document ? `where_document ${stringify(q.where_document)}` : ""].filter(Boolean).join(" ");
			await check(`${where}: query ${i}${desc ? " (" + desc + ")" : ""}`, async () => {
				const r = await json(
					"SELECT chroma.query_json($1, $2::vector[], $3, $4::jsonb, $5::jsonb, $6::text[])::text",
					[
						c.name,
						q.query_embeddings.map((v) => "[" + v.map((x) => (x instanceof Num ? x.text : String(x))).join(",") + "]"),
						q.n_results.value,
						q.where ? stringify(q.where) : null,
						q.where_document ? stringify(q.where_document) : null,
						q.include,
					]
				);
				const problems = compareQuery(q.result, r, q.include).filter((x) => x.problem);
				if (verbose && problems.length) console.log("  vecq answered:", stringify(r).slice(0, 2000));
				return problems.length ? problems.map((x) => (q.query_embeddings.length > 1 ? `${x.what}: ` : "") + x.problem).join("; ") : null;
			});
		}
	}
	await db.end();
	console.log(`${passed} passed, ${failed} failed`);
	process.exit(failed ? 1 : 0);
}

main().catch((e) => {
	console.error(e.stack || String(e));
	console.log(`${passed} passed, ${failed + 1} failed`);
	process.exit(2);
});
