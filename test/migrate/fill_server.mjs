// fill_server.mjs: fill a running Chroma 1.0 server with make_dirs.mjs's
// scenarios, and record what it answers, for vecq-migrate's HTTP source.
//
//   node fill_server.mjs EXPECTED.json --port P [--only NAME[,NAME...]] [--changes]
//
// With --changes the server holds what an earlier run put there, and
// make_dirs.mjs's changes of those scenarios (history, tenants, flushed)
// are made to it instead; EXPECTED.json then holds the new answers.
//
// The server (chromadb 3.0.9's "chroma run", bindings 1.0.1, on
// 127.0.0.1:P) is started and stopped by the caller (run_http_tests.sh)
// and must be empty.  All scenarios go into the one server (their
// collection names differ), plus a database with more collections than
// one page of the collection list (vecq-migrate asks 100 at a time).
// EXPECTED.json has the shape make_dirs.mjs writes, so check_migrated.mjs
// compares vecq's answers with it.

import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { SCENARIOS, CHANGES, Ctx, capture } from "./make_dirs.mjs";
import { stringify } from "./compare.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (name, dflt) => {
	const i = args.indexOf(name);
	return i >= 0 ? args[i + 1] : dflt;
};
const positional = args.filter((a, i) => !a.startsWith("--") && !(i > 0 && ["--port", "--only"].includes(args[i - 1])));
const PORT = Number(opt("--port", "0"));
if (positional.length !== 1 || !(PORT >= 1 && PORT < 65536)) {
	console.error("usage: node fill_server.mjs EXPECTED.json --port P [--only NAME[,NAME...]]");
	process.exit(2);
}
const CHANGES_MODE = args.includes("--changes");
const TABLE = CHANGES_MODE ? CHANGES : SCENARIOS;
const names = (opt("--only", null) || Object.keys(TABLE).join(",")).split(",");

// more collections than a page of the list: 103, a few with a record
async function manyCollections(ctx) {
	await ctx.admin.createDatabase({ name: "many_colls", tenant: "default_tenant" });
	for (let i = 0; i < 103; i++) {
		const col = await ctx.create(`c${String(i).padStart(3, "0")}`, { database: "many_colls", metadata: { i } });
		if (i % 25 === 0) await col.add({ ids: [`r${i}`], embeddings: [[i, 1, -i]], metadatas: [{ i, half: i / 2 + 0.5 }], documents: [`record ${i}`] });
	}
}

async function main() {
	const t0 = Date.now();
	const ctx = new Ctx(PORT);
	for (const n of names) {
		if (!TABLE[n]) throw new Error(`no scenario ${n}`);
		await TABLE[n](ctx);
	}
	if (!CHANGES_MODE) await manyCollections(ctx);
	const pairs = ctx.databases.length ? [...ctx.databases] : [["default_tenant", "default_database"]];
	pairs.push(["default_tenant", "many_colls"]);
	const collections = await capture(ctx, pairs, 77);
	const version = await ctx.raw.req("GET", "/version");
	const pkg = JSON.parse(fs.readFileSync(path.join(HERE, "package.json"), "utf8")).dependencies;
	const expected = {
		format: "vecq-migrate expected answers, version 1",
		scenario: "http:" + names.join("+") + (CHANGES_MODE ? ", changed" : ""),
		made_by: "test/migrate/fill_server.mjs",
		chroma: {
			server_version: version,
			npm: `chromadb@${pkg.chromadb} chromadb-js-bindings-linux-x64-gnu@${pkg["chromadb-js-bindings-linux-x64-gnu"]}`,
		},
		notes: "The server's own answers (HTTP API JSON, numbers as written) while it runs; vecq-migrate reads the same server.",
		tenants: ctx.tenants || ["default_tenant"],
		databases: pairs.map(([tenant, name]) => ({ tenant, name })),
		collections,
	};
	fs.writeFileSync(positional[0], stringify(expected, 1) + "\n");
	const records = collections.reduce((n, c) => n + c.count.value, 0);
	console.log(`ok   filled: ${collections.length} collections, ${records} records, ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

main().catch((e) => {
	console.error(e);
	process.exit(2);
});
