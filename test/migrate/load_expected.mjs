// load_expected.mjs: put the data of an expected.json into a vecq database
// as a faithful migration would (same tenants, databases, collection
// names and ids, records in the server's order), so check_migrated.mjs
// can be tested without vecq-migrate.  Not a migration tool: it reads the
// server's answers, not a persist directory.
//
//   node load_expected.mjs EXPECTED.json [CONNSTR]
//
// Needs a superuser (it writes chroma.collections with the recorded ids
// and sets what chroma.add cannot: a dimension without records, a
// metadata {} as Chroma answers for records with a uri and no metadata).

import fs from "node:fs";
import pg from "pg";
import { parse, stringify, Num } from "./compare.mjs";

const [expectedFile, connstr] = process.argv.slice(2);
if (!expectedFile) {
	console.error("usage: node load_expected.mjs EXPECTED.json [CONNSTR]");
	process.exit(2);
}

function pgConfig(s) {
	if (!s) return {};
	if (/^[a-z]+:\/\//i.test(s)) return { connectionString: s };
	const out = {};
	const names = { host: "host", port: "port", dbname: "database", user: "user", password: "password" };
	for (const kv of s.trim().split(/\s+/)) {
		const [k, v] = kv.split("=");
		if (!names[k]) throw new Error(`connection string: ${kv}`);
		out[names[k]] = k === "port" ? Number(v) : v;
	}
	return out;
}

const vecText = (v) => "[" + v.map((x) => (x instanceof Num ? x.text : String(x))).join(",") + "]";

async function main() {
	const exp = parse(fs.readFileSync(expectedFile, "utf8"));
	const db = new pg.Client(pgConfig(connstr));
	await db.connect();
	await db.query("BEGIN");
	for (const t of exp.tenants || [])
		await db.query("SELECT chroma.create_tenant($1) WHERE NOT EXISTS (SELECT FROM chroma.tenants WHERE name = $1)", [t]);
	for (const d of exp.databases || [])
		await db.query("SELECT chroma.create_database($1, $2) WHERE NOT EXISTS (SELECT FROM chroma.databases WHERE tenant = $2 AND name = $1)", [d.name, d.tenant]);
	let records = 0;
	for (const c of exp.collections) {
		await db.query("SELECT set_config('chroma.tenant', $1, true), set_config('chroma.database', $2, true)", [c.tenant, c.database]);
		const metadata = c.metadata === null ? null : stringify(c.metadata);
		const configuration = stringify({ hnsw: c.configuration.hnsw });
		await db.query(
			`INSERT INTO chroma.collections (id, tenant, database, name, metadata, configuration, space, dimension)
			 SELECT $1, $2, $3, $4, $5::jsonb, cfg, cfg -> 'hnsw' ->> 'space', $7
			   FROM chroma._configuration($6::jsonb, $5::jsonb) cfg`,
			[c.id, c.tenant, c.database, c.name, metadata, configuration, c.dimension === null ? null : c.dimension.value]
		);
		await db.query("SELECT chroma._sync_collection($1)", [c.id]);
		const g = c.get.result;
		const empties = [];
		// chroma.add takes no null among documents: runs of records with and
		// without documents, in order, at most 500 at a time
		for (let i = 0; i < g.ids.length; ) {
			const hasDoc = g.documents[i] !== null;
			let j = i + 1;
			while (j < g.ids.length && j - i < 500 && (g.documents[j] !== null) === hasDoc) j++;
			const sl = (xs) => xs.slice(i, j);
			const metas = sl(g.metadatas).map((m, k) => {
				if (m !== null && !Object.keys(m).length) {
					empties.push(g.ids[i + k]);
					return null;
				}
				return m === null ? null : stringify(m);
			});
			await db.query("SELECT chroma.add($1, $2::text[], $3::vector[], $4::jsonb[], $5::text[], $6::text[])", [
				c.name,
				sl(g.ids),
				sl(g.embeddings).map(vecText),
				metas,
				hasDoc ? sl(g.documents) : null,
				sl(g.uris),
			]);
			i = j;
		}
		if (empties.length)
			await db.query(`UPDATE chroma_records.${JSON.stringify(c.id)} SET metadata = '{}' WHERE id = ANY ($1)`, [empties]);
		records += g.ids.length;
	}
	await db.query("COMMIT");
	await db.end();
	console.log(`loaded ${exp.collections.length} collections, ${records} records from ${expectedFile}`);
}

main().catch((e) => {
	console.error(e.stack || String(e), e.detail || "");
	process.exit(2);
});
