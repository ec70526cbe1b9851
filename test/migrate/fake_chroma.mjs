// fake_chroma.mjs: a tiny stand-in for a Chroma 1.x server on loopback,
// for the failures a real one does not show on demand.
//
//   node fake_chroma.mjs MODE PORT HEADERS.jsonl
//
// Answers the API v2 paths vecq-migrate asks for with one tenant
// (default_tenant), one database and one collection "fake" of 3 records
// in 2 dimensions, and appends each request's method, path and headers to
// HEADERS.jsonl.  MODE changes one thing:
//
//	ok			nothing
//	token		every request needs "Authorization: Bearer s3cret-T0KEN" or
//				"X-Chroma-Token: s3cret-T0KEN", else 401 with a JSON error
//	garbage		every answer is 200 with a body that is not JSON
//	badjson		only the get answer is truncated JSON
//	changing	the count is 3, then 4 from the fourth count request on (after the last page)
//	baddim		the get answer's second record has 3 dimensions
//	error500	get answers 500 {"error": "InternalError", "message": ...}
//
// Prints "listening" once it accepts connections.

import fs from "node:fs";
import http from "node:http";

const [mode, portArg, headersFile] = process.argv.slice(2);
const port = Number(portArg);
const TOKEN = "s3cret-T0KEN";
const ID = "5a0e2b9c-1f4d-4e6b-9a77-3c2d1e0f4b5a";
const DB = "00000000-0000-0000-0000-000000000000";
let counts = 0;

const collection = {
	id: ID,
	name: "fake",
	configuration_json: { hnsw: { space: "cosine", ef_construction: 100, ef_search: 100, max_neighbors: 16, resize_factor: 1.2, sync_threshold: 1000 }, spann: null, embedding_function: null },
	metadata: { kind: "fake" },
	dimension: 2,
	tenant: "default_tenant",
	database: "default_database",
	log_position: 0,
	version: 0,
};

function records(offset, limit) {
	const all = [
		["a", [0.5, -1.0], "doc a", { f: "1.0", i: 1 }],
		["b", mode === "baddim" ? [1, 2, 3] : [0.25, 2.0], null, null],
		["c", [3.0, 0.125], "doc c", { f: "1.0" }],
	].slice(offset, offset + limit);
	// numbers as written: metadata floats are given as text
	const meta = (m) => (m === null ? "null" : "{" + Object.entries(m).map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(",") + "}");
	return (
		`{"ids":${JSON.stringify(all.map((r) => r[0]))},` +
		`"embeddings":[${all.map((r) => "[" + r[1].map((x) => (Number.isInteger(x) ? x.toFixed(1) : String(x))).join(",") + "]").join(",")}],` +
		`"documents":${JSON.stringify(all.map((r) => r[2]))},` +
		`"uris":${JSON.stringify(all.map(() => null))},` +
		`"metadatas":[${all.map((r) => meta(r[3])).join(",")}],` +
		`"include":["embeddings","documents","metadatas","uris"]}`
	);
}

const server = http.createServer((req, res) => {
	let body = "";
	req.on("data", (d) => (body += d));
	req.on("end", () => {
		fs.appendFileSync(headersFile, JSON.stringify({ method: req.method, url: req.url, headers: req.headers }) + "\n");
		const send = (status, text) => {
			res.writeHead(status, { "content-type": "application/json" });
			res.end(text);
		};
		if (mode === "token") {
			const auth = req.headers["authorization"];
			const x = req.headers["x-chroma-token"];
			if (auth !== `Bearer ${TOKEN}` && x !== TOKEN)
				return send(401, JSON.stringify({ error: "AuthError", message: "Unauthorized: the token is wrong or missing" }));
		}
		if (mode === "garbage") return send(200, "<html>this is not JSON {</html>");
		const u = new URL(req.url, "http://x");
		const p = u.pathname;
		const coll = `/api/v2/tenants/default_tenant/databases/default_database/collections`;
		if (p === "/api/v2/heartbeat") return send(200, '{"nanosecond heartbeat":1}');
		if (p === "/api/v2/version") return send(200, '"1.0.0"');
		if (p === "/api/v2/tenants/default_tenant") return send(200, '{"name":"default_tenant"}');
		if (p === "/api/v2/tenants/default_tenant/databases")
			return send(200, Number(u.searchParams.get("offset")) > 0 ? "[]" : JSON.stringify([{ id: DB, name: "default_database", tenant: "default_tenant" }]));
		if (p === coll) return send(200, Number(u.searchParams.get("offset")) > 0 ? "[]" : JSON.stringify([collection]));
		if (p === `${coll}/${ID}/count`) {
			counts++;
			return send(200, mode === "changing" && counts >= 4 ? "4" : "3");
		}
		if (p === `${coll}/${ID}/get` && req.method === "POST") {
			if (mode === "error500") return send(500, JSON.stringify({ error: "InternalError", message: "the fake server broke on purpose" }));
			const q = JSON.parse(body);
			const text = records(q.offset || 0, q.limit ?? 100);
			return send(200, mode === "badjson" ? text.slice(0, text.length - 20) : text);
		}
		send(404, JSON.stringify({ error: "NotFoundError", message: `no ${req.method} ${p}` }));
	});
});
server.listen(port, "127.0.0.1", () => console.log("listening"));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
