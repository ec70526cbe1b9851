// scenarios.mjs: the conformance scenarios.  A scenario is a name and a
// list of steps {op, collection?, args, expectError?, compare?}; every step
// runs on Chroma and on vecq and the answers are compared (conformance.mjs).
// Some are written out, most are generated from lists (filters, include
// sets, pages) and from a seeded random generator of filter expressions.

// a small deterministic generator (mulberry32)
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

const r2 = (x) => Math.round(x * 100) / 100;

// ---- data sets ---------------------------------------------------------------

const GENRES = ["rock", "jazz", "pop"];
const WORDS = ["apple", "banana", "cherry", "the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "Apple", "data", "base"];

// 24 records in 4 dimensions: mixed metadata types, keys missing on some
// records, no metadata on some, no document on the last four
function dataset(seed = 7, dim = 4) {
	const rand = rng(seed);
	const ids = [];
	const embeddings = [];
	const metadatas = [];
	const documents = [];
	for (let i = 0; i < 24; i++) {
		ids.push(`r${String(i).padStart(2, "0")}`);
		embeddings.push(Array.from({ length: dim }, () => r2(rand() * 2 - 1)));
		let m = {
			genre: GENRES[i % 3],
			year: 1990 + ((i * 7) % 30),
			rating: i * 0.25,
			active: i % 3 === 0,
		};
		if (i % 4 === 0) m.tag = `x${i}`;
		if (i % 7 === 6) m = null;
		metadatas.push(m);
		const words = [];
		for (let w = 0; w < 3 + (i % 4); w++) words.push(WORDS[Math.floor(rand() * WORDS.length)]);
		documents.push(words.join(" "));
	}
	return { ids, embeddings, metadatas, documents };
}

const DATA = dataset();

// create collection "coll" (space) and load the data set: 20 records with
// documents, 4 without
function setup(space = "l2", data = DATA) {
	const steps = [
		{ op: "createCollection", args: { name: "coll", configuration: { hnsw: { space } } } },
		{
			op: "add",
			collection: "coll",
			args: {
				ids: data.ids.slice(0, 20),
				embeddings: data.embeddings.slice(0, 20),
				metadatas: data.metadatas.slice(0, 20),
				documents: data.documents.slice(0, 20),
			},
		},
		{
			op: "add",
			collection: "coll",
			args: {
				ids: data.ids.slice(20),
				embeddings: data.embeddings.slice(20),
				metadatas: data.metadatas.slice(20),
			},
		},
	];
	return steps;
}

const Q = [
	[0.1, -0.2, 0.3, 0.05],
	[-0.5, 0.5, 0.1, -0.3],
];

const scenarios = [];
const add = (name, steps) => scenarios.push({ name, steps });

// ---- tenants and databases ---------------------------------------------------

add("tenant: default tenant exists", [{ op: "getTenant", args: { name: "default_tenant" } }]);
add("tenant: missing tenant", [{ op: "getTenant", args: { name: "no_such_tenant_zz" }, expectError: true }]);
add("tenant: create, get, duplicate", [
	{ op: "createTenant", args: { name: "tenant_@@" } },
	{ op: "getTenant", args: { name: "tenant_@@" } },
	{ op: "createTenant", args: { name: "tenant_@@" }, expectError: true },
]);
add("tenant: databases of a new tenant", [
	{ op: "createTenant", args: { name: "tenant2_@@" } },
	{ op: "listDatabases", args: { tenant: "tenant2_@@" } },
	{ op: "createDatabase", args: { name: "db_a", tenant: "tenant2_@@" } },
	{ op: "createDatabase", args: { name: "db_b", tenant: "tenant2_@@" } },
	{ op: "listDatabases", args: { tenant: "tenant2_@@" } },
	{ op: "getDatabase", args: { name: "db_a", tenant: "tenant2_@@" } },
	{ op: "deleteDatabase", args: { name: "db_a", tenant: "tenant2_@@" } },
	{ op: "listDatabases", args: { tenant: "tenant2_@@" } },
]);
// Chroma 1.0 creates a database in a tenant it does not know, and the
// tenant stays unknown
add("tenant: database in a missing tenant", [
	{ op: "createDatabase", args: { name: "db_x", tenant: "unknown_@@" } },
	{ op: "getDatabase", args: { name: "db_x", tenant: "unknown_@@" } },
	{ op: "getTenant", args: { name: "unknown_@@" }, expectError: true },
]);
add("tenant: name too short", [{ op: "createTenant", args: { name: "t1" }, expectError: true }]);
add("database: default database", [{ op: "getDatabase", args: { name: "default_database" } }]);
add("database: missing", [{ op: "getDatabase", args: { name: "no_such_db_zz" }, expectError: true }]);
add("database: create, get, delete", [
	{ op: "createDatabase", args: { name: "extra_db_@@" } },
	{ op: "getDatabase", args: { name: "extra_db_@@" } },
	{ op: "createDatabase", args: { name: "extra_db_@@" }, expectError: true },
	{ op: "deleteDatabase", args: { name: "extra_db_@@" } },
	{ op: "getDatabase", args: { name: "extra_db_@@" }, expectError: true },
]);
add("database: name too short", [{ op: "createDatabase", args: { name: "d" }, expectError: true }]);
add("database: delete missing", [{ op: "deleteDatabase", args: { name: "no_such_db_zz" }, expectError: true }]);

// ---- collections -------------------------------------------------------------

add("collection: create default", [{ op: "createCollection", args: { name: "abc" } }]);
for (const space of ["l2", "ip", "cosine"]) {
	add(`collection: configuration space ${space}`, [
		{ op: "createCollection", args: { name: "spc", configuration: { hnsw: { space } } } },
		{ op: "getCollection", args: { name: "spc" } },
	]);
	add(`collection: legacy hnsw:space ${space}`, [
		{ op: "createCollection", args: { name: "spc", metadata: { "hnsw:space": space } } },
		{ op: "getCollection", args: { name: "spc" } },
	]);
}
add("collection: hnsw parameters", [
	{ op: "createCollection", args: { name: "hps", configuration: { hnsw: { ef_search: 50, ef_construction: 64, max_neighbors: 12 } } } },
	{ op: "getCollection", args: { name: "hps" } },
]);
add("collection: metadata", [
	{ op: "createCollection", args: { name: "meta", metadata: { owner: "ann", size: 3, ratio: 0.5, on: true } } },
	{ op: "getCollection", args: { name: "meta" } },
]);
for (const bad of ["a", "ab", "-abc", "abc-", "a b c", "ab_", "x".repeat(513), "ünï", ".abc", "a..b", "192.168.1.1"])
	add(`collection: invalid name ${JSON.stringify(bad.slice(0, 12))}`, [
		{ op: "createCollection", args: { name: bad }, expectError: true },
	]);
for (const good of ["abc", "a.b", "A-1_z", "x".repeat(512), "1a2", "1.2.3", "256.1.1.1x"])
	add(`collection: valid name ${JSON.stringify(good.slice(0, 12))}`, [
		{ op: "createCollection", args: { name: good } },
		{ op: "countCollections" },
	]);
add("collection: duplicate", [
	{ op: "createCollection", args: { name: "dup" } },
	{ op: "createCollection", args: { name: "dup" }, expectError: true },
]);
add("collection: get missing", [{ op: "getCollection", args: { name: "nothere" }, expectError: true }]);
add("collection: get or create", [
	{ op: "getOrCreateCollection", args: { name: "goc", metadata: { a: 1 } } },
	{ op: "getOrCreateCollection", args: { name: "goc" } },
	{ op: "countCollections" },
]);
add("collection: list and count", [
	{ op: "countCollections" },
	{ op: "listCollections" },
	{ op: "createCollection", args: { name: "one" } },
	{ op: "createCollection", args: { name: "two" } },
	{ op: "createCollection", args: { name: "three" } },
	{ op: "listCollections" },
	{ op: "countCollections" },
]);
for (const [limit, offset] of [[1, 0], [2, 0], [2, 2], [5, 1], [10, 3], [0, 0], [1, 5]])
	add(`collection: list limit ${limit} offset ${offset}`, [
		{ op: "createCollection", args: { name: "one" } },
		{ op: "createCollection", args: { name: "two" } },
		{ op: "createCollection", args: { name: "three" } },
		{ op: "createCollection", args: { name: "four" } },
		{ op: "listCollections", args: { limit, offset } },
	]);
add("collection: rename", [
	{ op: "createCollection", args: { name: "old", metadata: { k: 1 } } },
	{ op: "modifyCollection", args: { name: "old", newName: "new" } },
	{ op: "getCollection", args: { name: "old" }, expectError: true },
	{ op: "listCollections" },
]);
add("collection: rename onto existing", [
	{ op: "createCollection", args: { name: "aaa" } },
	{ op: "createCollection", args: { name: "bbb" } },
	{ op: "modifyCollection", args: { name: "aaa", newName: "bbb" }, expectError: true },
]);
add("collection: rename invalid", [
	{ op: "createCollection", args: { name: "aaa" } },
	{ op: "modifyCollection", args: { name: "aaa", newName: "b" }, expectError: true },
]);
add("collection: modify metadata", [
	{ op: "createCollection", args: { name: "mmm", metadata: { a: 1, b: "x" } } },
	{ op: "modifyCollection", args: { name: "mmm", metadata: { c: true } } },
]);
add("collection: modify ef_search", [
	{ op: "createCollection", args: { name: "mmm" } },
	{ op: "modifyCollection", args: { name: "mmm", configuration: { hnsw: { ef_search: 77 } } } },
]);
add("collection: delete", [
	{ op: "createCollection", args: { name: "gone" } },
	{ op: "deleteCollection", args: { name: "gone" } },
	{ op: "getCollection", args: { name: "gone" }, expectError: true },
	{ op: "countCollections" },
	{ op: "createCollection", args: { name: "gone" } },
	{ op: "count", collection: "gone" },
]);
add("collection: delete missing", [{ op: "deleteCollection", args: { name: "nothere" }, expectError: true }]);
add("collection: delete drops records", [
	...setup(),
	{ op: "deleteCollection", args: { name: "coll" } },
	{ op: "createCollection", args: { name: "coll" } },
	{ op: "count", collection: "coll" },
	{ op: "get", collection: "coll" },
]);

// ---- records ---------------------------------------------------------------------

const E3 = [[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [0.5, 0.25, -1]];
const base = () => [
	{ op: "createCollection", args: { name: "rec" } },
	{
		op: "add",
		collection: "rec",
		args: {
			ids: ["a", "b", "c"],
			embeddings: E3.slice(0, 3),
			metadatas: [{ k: 1, s: "x" }, { k: 2.5, b: true }, { s: "y" }],
			documents: ["hello world", "foo bar", "third doc"],
		},
	},
];
const all = { op: "get", collection: "rec", args: { include: ["documents", "metadatas", "embeddings"] } };

add("records: empty collection", [
	{ op: "createCollection", args: { name: "rec" } },
	{ op: "count", collection: "rec" },
	{ op: "get", collection: "rec" },
	{ op: "peek", collection: "rec" },
	{ op: "get", collection: "rec", args: { where: { k: 1 } } },
]);
add("records: query empty collection", [
	{ op: "createCollection", args: { name: "rec" } },
	{ op: "query", collection: "rec", args: { queryEmbeddings: [[1, 2, 3]], nResults: 3 } },
]);
add("records: add and get", [...base(), all, { op: "count", collection: "rec" }]);
add("records: add existing id is a no-op", [
	...base(),
	{ op: "add", collection: "rec", args: { ids: ["a", "d"], embeddings: [[9, 9, 9], [1, 1, 1]], documents: ["new a", "d"] } },
	all,
]);
add("records: duplicate ids", [
	...base(),
	{ op: "add", collection: "rec", args: { ids: ["x", "x"], embeddings: [[1, 0, 0], [0, 1, 0]] }, expectError: true },
	{ op: "count", collection: "rec" },
]);
add("records: many duplicate ids", [
	{ op: "createCollection", args: { name: "rec" } },
	{
		op: "add",
		collection: "rec",
		args: { ids: ["a", "b", "a", "b", "c", "c", "d", "d"], embeddings: Array(8).fill([1, 2, 3]) },
		expectError: true,
	},
]);
add("records: dimension mismatch", [
	...base(),
	{ op: "add", collection: "rec", args: { ids: ["d"], embeddings: [[1, 0]] }, expectError: true },
	{ op: "count", collection: "rec" },
]);
add("records: mixed dimensions in one call", [
	{ op: "createCollection", args: { name: "rec" } },
	{ op: "add", collection: "rec", args: { ids: ["a", "b"], embeddings: [[1, 0], [1, 0, 0]] }, expectError: true },
]);
add("records: dimension fixed by first write", [
	{ op: "createCollection", args: { name: "rec" } },
	{ op: "add", collection: "rec", args: { ids: ["a"], embeddings: [[1, 2]] } },
	{ op: "add", collection: "rec", args: { ids: ["b"], embeddings: [[1, 2, 3]] }, expectError: true },
	{ op: "add", collection: "rec", args: { ids: ["c"], embeddings: [[3, 4]] } },
	{ op: "get", collection: "rec" },
]);
add("records: empty ids", [
	{ op: "createCollection", args: { name: "rec" } },
	{ op: "add", collection: "rec", args: { ids: [], embeddings: [] }, expectError: true },
]);
add("records: unequal lengths", [
	{ op: "createCollection", args: { name: "rec" } },
	{ op: "add", collection: "rec", args: { ids: ["a", "b"], embeddings: [[1, 2]] }, expectError: true },
]);
add("records: unequal metadatas", [
	{ op: "createCollection", args: { name: "rec" } },
	{ op: "add", collection: "rec", args: { ids: ["a"], embeddings: [[1, 2]], metadatas: [{ a: 1 }, { b: 2 }] }, expectError: true },
]);
add("records: empty metadata object", [
	{ op: "createCollection", args: { name: "rec" } },
	{ op: "add", collection: "rec", args: { ids: ["a"], embeddings: [[1, 2]], metadatas: [{}] }, expectError: true },
]);
add("records: nested metadata", [
	{ op: "createCollection", args: { name: "rec" } },
	{ op: "add", collection: "rec", args: { ids: ["a"], embeddings: [[1, 2]], metadatas: [{ a: { b: 1 } }] }, expectError: true },
]);
add("records: no embeddings, no embedding function", [
	{ op: "createCollection", args: { name: "rec" } },
	{ op: "add", collection: "rec", args: { ids: ["a"], documents: ["text"] }, expectError: true },
]);
add("records: metadata types kept", [
	{ op: "createCollection", args: { name: "rec" } },
	{
		op: "add",
		collection: "rec",
		args: {
			ids: ["a", "b", "c", "d"],
			embeddings: [[1, 2], [2, 3], [3, 4], [4, 5]],
			metadatas: [{ i: 7, f: 2.5, s: "str", t: true }, { neg: -3, small: 1e-7, big: 12345678901 }, { f: false, e: "" }, { u: "ünïcödé ✓" }],
		},
	},
	{ op: "get", collection: "rec", args: { include: ["metadatas"] } },
]);
add("records: uris", [
	{ op: "createCollection", args: { name: "rec" } },
	{ op: "add", collection: "rec", args: { ids: ["a", "b"], embeddings: [[1, 2], [2, 3]], uris: ["s3://x/a", "file:///b"] } },
	{ op: "get", collection: "rec", args: { include: ["uris", "documents"] } },
]);
add("records: upsert new and existing", [
	...base(),
	{ op: "upsert", collection: "rec", args: { ids: ["b", "d"], embeddings: [[0, 2, 0], [1, 1, 1]], metadatas: [{ k: 9 }, { k: 4 }], documents: ["B", "D"] } },
	all,
]);
add("records: upsert keeps fields not given", [
	...base(),
	{ op: "upsert", collection: "rec", args: { ids: ["a"], embeddings: [[0, 0, 2]] } },
	all,
]);
add("records: upsert merges metadata", [
	...base(),
	{ op: "upsert", collection: "rec", args: { ids: ["a"], embeddings: [[1, 0, 0]], metadatas: [{ k: null, n: 5 }] } },
	all,
]);
add("records: update", [
	...base(),
	{ op: "update", collection: "rec", args: { ids: ["a", "c"], documents: ["A", "C"], embeddings: [[1, 0, 0.5], [0, 0, 1]] } },
	all,
]);
add("records: update metadata merge and delete", [
	...base(),
	{ op: "update", collection: "rec", args: { ids: ["a", "b"], metadatas: [{ k: null, z: 1 }, { b: false }] } },
	all,
]);
add("records: update deletes every key", [
	...base(),
	{ op: "update", collection: "rec", args: { ids: ["c"], metadatas: [{ s: null }] } },
	all,
]);
add("records: update embedding", [
	...base(),
	{ op: "update", collection: "rec", args: { ids: ["b"], embeddings: [[0.5, 0.5, 0.5]] } },
	all,
	{ op: "query", collection: "rec", args: { queryEmbeddings: [[0.5, 0.5, 0.5]], nResults: 1 } },
]);
add("records: update missing id ignored", [
	...base(),
	{ op: "update", collection: "rec", args: { ids: ["zz", "a"], documents: ["Z", "A2"], embeddings: [[1, 1, 1], [2, 2, 2]] } },
	all,
]);
add("records: update dimension mismatch", [
	...base(),
	{ op: "update", collection: "rec", args: { ids: ["a"], embeddings: [[1, 2]] }, expectError: true },
]);
add("records: delete by ids", [...base(), { op: "delete", collection: "rec", args: { ids: ["a", "zz"] } }, all]);
add("records: delete by where", [...base(), { op: "delete", collection: "rec", args: { where: { s: "y" } } }, all]);
add("records: delete by where_document", [
	...base(),
	{ op: "delete", collection: "rec", args: { whereDocument: { $contains: "foo" } } },
	all,
]);
add("records: delete by ids and where", [
	...base(),
	{ op: "delete", collection: "rec", args: { ids: ["a", "b"], where: { k: { $gt: 2 } } } },
	all,
]);
add("records: delete then add again", [
	...base(),
	{ op: "delete", collection: "rec", args: { ids: ["a"] } },
	{ op: "add", collection: "rec", args: { ids: ["a"], embeddings: [[2, 2, 2]], documents: ["again"] } },
	all,
]);
add("records: get by ids", [...base(), { op: "get", collection: "rec", args: { ids: ["c", "a"] } }]);
add("records: get by ids with missing", [...base(), { op: "get", collection: "rec", args: { ids: ["zz", "b"] } }]);
add("records: get by ids and where", [...base(), { op: "get", collection: "rec", args: { ids: ["a", "b"], where: { k: 1 } } }]);
add("records: count after adds", [
	...setup(),
	{ op: "count", collection: "coll" },
	{ op: "peek", collection: "coll", args: { limit: 3 } },
]);
add("records: peek default", [...setup(), { op: "peek", collection: "coll" }]);
add("records: peek more than count", [...base(), { op: "peek", collection: "rec", args: { limit: 50 } }]);

// include combinations for get and query
const INCL = ["documents", "metadatas", "embeddings", "uris"];
for (let mask = 0; mask < 16; mask++) {
	const include = INCL.filter((_, i) => mask & (1 << i));
	add(`include: get [${include.join(",")}]`, [...base(), { op: "get", collection: "rec", args: { include } }]);
}
for (const include of [["distances"], ["documents"], [], ["metadatas", "distances"], ["embeddings", "distances", "documents"], ["uris", "distances"]])
	add(`include: query [${include.join(",")}]`, [
		...base(),
		{ op: "query", collection: "rec", args: { queryEmbeddings: [[1, 0.2, 0]], nResults: 2, include } },
	]);
add("include: invalid item", [...base(), { op: "get", collection: "rec", args: { include: ["bogus"] }, expectError: true }]);

// limits and offsets
for (const [limit, offset] of [[1, undefined], [5, undefined], [undefined, 3], [3, 3], [10, 20], [4, 22], [0, 0], [2, 100], [30, 0]])
	add(`page: get limit ${limit} offset ${offset}`, [...setup(), { op: "get", collection: "coll", args: { limit, offset } }]);
add("page: filtered with limit and offset", [
	...setup(),
	{ op: "get", collection: "coll", args: { where: { genre: "rock" }, limit: 3, offset: 2 } },
]);

// queries in each space
for (const space of ["l2", "ip", "cosine"])
	for (const nResults of [1, 5, 24, 100])
		add(`query: ${space} n_results ${nResults}`, [
			...setup(space),
			{ op: "query", collection: "coll", args: { queryEmbeddings: Q, nResults, include: ["distances", "documents"] } },
		]);
add("query: default n_results", [...setup(), { op: "query", collection: "coll", args: { queryEmbeddings: [Q[0]] } }]);
add("query: embeddings included", [
	...setup(),
	{ op: "query", collection: "coll", args: { queryEmbeddings: [Q[1]], nResults: 3, include: ["embeddings", "distances"] } },
]);
add("query: dimension mismatch", [
	...setup(),
	{ op: "query", collection: "coll", args: { queryEmbeddings: [[1, 2]], nResults: 3 }, expectError: true },
]);
add("query: n_results 0", [
	...setup(),
	{ op: "query", collection: "coll", args: { queryEmbeddings: Q, nResults: 0 } },
]);
add("query: n_results -1", [
	...setup(),
	{ op: "query", collection: "coll", args: { queryEmbeddings: [Q[0]], nResults: -1 }, expectError: true },
]);
add("query: missing collection", [
	{ op: "query", collection: "nope", args: { queryEmbeddings: [Q[0]], nResults: 1 }, expectError: true },
]);
add("query: after delete and update", [
	...setup(),
	{ op: "delete", collection: "coll", args: { ids: ["r00", "r05", "r10"] } },
	{ op: "update", collection: "coll", args: { ids: ["r01"], embeddings: [Q[0]] } },
	{ op: "query", collection: "coll", args: { queryEmbeddings: Q, nResults: 4 } },
]);

// ---- filters ---------------------------------------------------------------------

const WHERE = [
	{ genre: "rock" },
	{ genre: { $eq: "jazz" } },
	{ genre: { $ne: "rock" } },
	{ year: { $gt: 2000 } },
	{ year: { $gte: 2005 } },
	{ year: { $lt: 1995 } },
	{ year: { $lte: 1995 } },
	{ year: 1997 },
	{ year: { $eq: 1997 } },
	{ year: { $ne: 1997 } },
	{ year: { $gt: 1995.5 } },
	{ year: { $gt: -1 } },
	{ year: { $eq: "1997" } },
	{ rating: { $gt: 2.5 } },
	{ rating: { $lte: 1 } },
	{ rating: 1.5 },
	{ rating: 2 },
	{ rating: { $ne: 0 } },
	{ rating: { $gte: 0 } },
	{ rating: { $lt: 3 } },
	{ active: true },
	{ active: false },
	{ active: { $ne: true } },
	{ active: { $eq: false } },
	{ active: { $in: [true] } },
	{ active: { $nin: [false] } },
	{ genre: { $in: ["rock", "pop"] } },
	{ genre: { $nin: ["rock"] } },
	{ genre: { $in: ["metal"] } },
	{ genre: { $nin: ["metal", "rock", "jazz", "pop"] } },
	{ year: { $in: [1990, 1997, 2004] } },
	{ year: { $nin: [1990] } },
	{ rating: { $in: [0.5, 1.75, 3] } },
	{ tag: "x4" },
	{ tag: { $ne: "x4" } },
	{ tag: { $nin: ["x0", "x8"] } },
	{ tag: { $in: ["x0", "x8", "x99"] } },
	{ missing: "a" },
	{ missing: { $ne: "a" } },
	{ missing: { $nin: [1, 2] } },
	{ genre: { $eq: 1 } },
	{ genre: { $gt: 1 } },
	{ active: 1 },
	{ $and: [{ genre: "rock" }, { year: { $gt: 1995 } }] },
	{ $or: [{ genre: "jazz" }, { active: true }] },
	{ $and: [{ $or: [{ genre: "jazz" }, { genre: "pop" }] }, { rating: { $lt: 4 } }] },
	{ $or: [{ $and: [{ genre: "rock" }, { active: true }] }, { tag: { $in: ["x8", "x12"] } }] },
	{ $and: [{ year: { $gte: 1995 } }, { year: { $lte: 2010 } }, { genre: { $ne: "pop" } }] },
	{ $or: [{ missing: "z" }, { tag: { $ne: "x0" } }] },
];
const WHERE_DOC = [
	{ $contains: "apple" },
	{ $contains: "Apple" },
	{ $not_contains: "apple" },
	{ $contains: "the quick" },
	{ $contains: "zzz" },
	{ $not_contains: "zzz" },
	{ $regex: "^the" },
	{ $regex: "a.+e" },
	{ $regex: "(fox|dog)$" },
	{ $not_regex: "o" },
	{ $regex: "[A-Z]" },
	{ $and: [{ $contains: "a" }, { $not_contains: "b" }] },
	{ $or: [{ $contains: "fox" }, { $contains: "dog" }] },
	{ $or: [{ $and: [{ $contains: "the" }, { $contains: "o" }] }, { $regex: "^base" }] },
];

for (const where of WHERE) {
	add(`where: get ${JSON.stringify(where)}`, [
		...setup(),
		{ op: "get", collection: "coll", args: { where, include: ["metadatas"] } },
		{ op: "query", collection: "coll", args: { queryEmbeddings: Q, nResults: 5, where, include: ["distances"] } },
	]);
}
for (const whereDocument of WHERE_DOC) {
	add(`where_document: ${JSON.stringify(whereDocument)}`, [
		...setup(),
		{ op: "get", collection: "coll", args: { whereDocument, include: ["documents"] } },
		{ op: "query", collection: "coll", args: { queryEmbeddings: Q, nResults: 5, whereDocument, include: ["distances"] } },
	]);
}
for (const [where, whereDocument] of [
	[{ genre: "rock" }, { $contains: "the" }],
	[{ year: { $gt: 2000 } }, { $not_contains: "apple" }],
	[{ $or: [{ active: true }, { rating: { $gt: 4 } }] }, { $regex: "o" }],
])
	add(`where and where_document: ${JSON.stringify(where)} ${JSON.stringify(whereDocument)}`, [
		...setup(),
		{ op: "get", collection: "coll", args: { where, whereDocument } },
		{ op: "query", collection: "coll", args: { queryEmbeddings: Q, nResults: 3, where, whereDocument } },
	]);
for (const where of [{ genre: "rock" }, { year: { $lt: 2000 } }, { tag: { $ne: "x4" } }, { $or: [{ active: true }, { genre: "pop" }] }])
	add(`where: delete ${JSON.stringify(where)}`, [
		...setup(),
		{ op: "delete", collection: "coll", args: { where } },
		{ op: "get", collection: "coll", args: { include: [] } },
	]);

// invalid filters: errors on both sides
const BAD_WHERE = [
	{},
	{ k: 1, s: "x" },
	{ k: { $foo: 1 } },
	{ k: { $gt: "a" } },
	{ k: { $lt: true } },
	{ k: { $in: [] } },
	{ k: { $in: [1, "a"] } },
	{ k: { $in: 1 } },
	{ k: { $nin: "a" } },
	{ k: { $eq: 1, $ne: 2 } },
	{ $and: [{ k: 1 }] },
	{ $or: [] },
	{ $and: [{ k: 1 }, { k: { $bad: 1 } }] },
];
for (const where of BAD_WHERE)
	add(`bad where: ${JSON.stringify(where)}`, [
		...base(),
		{ op: "get", collection: "rec", args: { where }, expectError: true },
	]);
const BAD_DOC = [
	{ $foo: "a" },
	{ $contains: "a", $not_contains: "b" },
	{ $and: [{ $contains: "a" }] },
	{ $or: "a" },
	{},
];
for (const whereDocument of BAD_DOC)
	add(`bad where_document: ${JSON.stringify(whereDocument)}`, [
		...base(),
		{ op: "get", collection: "rec", args: { whereDocument }, expectError: true },
	]);

// ---- random filters (a differential fuzzer with a fixed seed) ---------------------

function randomWhere(rand, depth) {
	const keys = ["genre", "year", "rating", "active", "tag", "missing"];
	const valueFor = (k) => {
		switch (k) {
			case "genre":
				return GENRES[Math.floor(rand() * 4) % 3];
			case "year":
				return 1990 + Math.floor(rand() * 30);
			case "rating":
				return Math.floor(rand() * 24) * 0.25;
			case "active":
				return rand() < 0.5;
			case "tag":
				return `x${4 * Math.floor(rand() * 7)}`;
			default:
				return "m";
		}
	};
	if (depth > 0 && rand() < 0.35) {
		const n = 2 + Math.floor(rand() * 2);
		const parts = Array.from({ length: n }, () => randomWhere(rand, depth - 1));
		return { [rand() < 0.5 ? "$and" : "$or"]: parts };
	}
	const k = keys[Math.floor(rand() * keys.length)];
	const numeric = k === "year" || k === "rating";
	const ops = numeric ? ["$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin"] : ["$eq", "$ne", "$in", "$nin"];
	const op = ops[Math.floor(rand() * ops.length)];
	if (op === "$in" || op === "$nin")
		return { [k]: { [op]: Array.from({ length: 1 + Math.floor(rand() * 3) }, () => valueFor(k)) } };
	if (op === "$eq" && rand() < 0.5) return { [k]: valueFor(k) };
	return { [k]: { [op]: valueFor(k) } };
}

const fuzz = rng(20261125);
for (let i = 0; i < 60; i++) {
	const where = randomWhere(fuzz, 2);
	add(`random where #${i}: ${JSON.stringify(where)}`, [
		...setup(["l2", "ip", "cosine"][i % 3]),
		{ op: "get", collection: "coll", args: { where, include: [] } },
		{ op: "query", collection: "coll", args: { queryEmbeddings: [Q[i % 2]], nResults: 4, where, include: ["distances"] } },
	]);
}

export { scenarios };
