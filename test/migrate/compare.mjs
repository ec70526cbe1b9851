// compare.mjs: JSON that keeps numbers as written, and the comparison of a
// Chroma server's answers with vecq's, shared by make_dirs.mjs (which
// checks a reopened copy of each directory against what the server said
// before it stopped) and check_migrated.mjs.
//
// Chroma 1.0 stores a metadata number as an int (int_value) or a float
// (float_value) and writes it back as 1 or 1.0; ints go up to 2^63, past
// what a JS number holds.  JSON.parse would make 1.0 and 1 the same and
// round 9007199254740993, so answers are read with parse() below, which
// turns every number into a Num holding its text.  Num.isInt: the text
// has no '.', 'e' or 'E' (jsonb writes 1.0 as 1.0 and 1e-300 as
// 0.000...1, both still floats).
//
// What "equal" means, per field of a get or query answer:
//   ids, documents, uris, metadatas   exactly; metadata numbers by kind (int
//                                     or float) and value (ints as BigInt,
//                                     floats as doubles); key order ignored
//   embeddings                        per component within 1e-6 relative
//   distances                         within 1e-4 relative (1e-4 absolute
//                                     below 1), as test/chroma does
// Query rows whose distances tie (within that tolerance) are put in id
// order on both sides first, as test/chroma/conformance.mjs does.

export class Num {
	constructor(text) {
		this.text = text;
	}
	get isInt() {
		return !/[.eE]/.test(this.text);
	}
	get value() {
		return Number(this.text);
	}
	get big() {
		return BigInt(this.text);
	}
	toJSON() {
		return this.value;
	}
}

// ---- parse / stringify -------------------------------------------------------

export function parse(text) {
	let i = 0;
	const n = text.length;
	const ws = () => {
		while (i < n && (text[i] === " " || text[i] === "\n" || text[i] === "\r" || text[i] === "\t")) i++;
	};
	const fail = (what) => {
		throw new SyntaxError(`JSON: ${what} at offset ${i}: ${JSON.stringify(text.slice(i, i + 40))}`);
	};
	const value = () => {
		ws();
		const c = text[i];
		if (c === "{") {
			i++;
			const o = {};
			ws();
			if (text[i] === "}") {
				i++;
				return o;
			}
			for (;;) {
				ws();
				if (text[i] !== '"') fail("expected a key");
				const k = string();
				ws();
				if (text[i] !== ":") fail("expected ':'");
				i++;
				// a key "__proto__" must be a plain property
				Object.defineProperty(o, k, { value: value(), enumerable: true, writable: true, configurable: true });
				ws();
				if (text[i] === ",") {
					i++;
					continue;
				}
				if (text[i] === "}") {
					i++;
					return o;
				}
				fail("expected ',' or '}'");
			}
		}
		if (c === "[") {
			i++;
			const a = [];
			ws();
			if (text[i] === "]") {
				i++;
				return a;
			}
			for (;;) {
				a.push(value());
				ws();
				if (text[i] === ",") {
					i++;
					continue;
				}
				if (text[i] === "]") {
					i++;
					return a;
				}
				fail("expected ',' or ']'");
			}
		}
		if (c === '"') return string();
		if (text.startsWith("true", i)) {
			i += 4;
			return true;
		}
		if (text.startsWith("false", i)) {
			i += 5;
			return false;
		}
		if (text.startsWith("null", i)) {
			i += 4;
			return null;
		}
		const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(text.slice(i, i + 400));
		if (!m || !m[0]) fail("unexpected character");
		i += m[0].length;
		return new Num(m[0]);
	};
	const string = () => {
		// from the opening quote to the closing one, escapes decoded by JSON.parse
		const start = i;
		i++;
		while (i < n && text[i] !== '"') i += text[i] === "\\" ? 2 : 1;
		if (i >= n) fail("unterminated string");
		i++;
		return JSON.parse(text.slice(start, i));
	};
	const v = value();
	ws();
	if (i !== n) fail("trailing text");
	return v;
}

// JSON text; Num written as it was read.  With indent, arrays of scalars
// stay on one line (embeddings), everything else is indented.
export function stringify(v, indent = 0, depth = 0) {
	const nl = indent ? "\n" + " ".repeat(indent * (depth + 1)) : "";
	const end = indent ? "\n" + " ".repeat(indent * depth) : "";
	const sep = indent ? ": " : ":";
	if (v instanceof Num) return v.text;
	if (typeof v === "bigint") return v.toString();
	if (v === null || v === undefined) return "null";
	if (typeof v === "number") {
		if (!Number.isFinite(v)) throw new Error("not a JSON number: " + v);
		return JSON.stringify(v);
	}
	if (typeof v !== "object") return JSON.stringify(v);
	if (Array.isArray(v)) {
		if (!v.length) return "[]";
		const scalars = v.every((x) => x === null || typeof x !== "object" || x instanceof Num);
		if (!indent || scalars) return "[" + v.map((x) => stringify(x, 0)).join(",") + "]";
		return "[" + v.map((x) => nl + stringify(x, indent, depth + 1)).join(",") + end + "]";
	}
	const keys = Object.keys(v).filter((k) => v[k] !== undefined);
	if (!keys.length) return "{}";
	if (!indent) return "{" + keys.map((k) => JSON.stringify(k) + ":" + stringify(v[k], 0)).join(",") + "}";
	// records (metadata objects) on one line, larger objects indented
	const flat = keys.every((k) => v[k] === null || typeof v[k] !== "object" || v[k] instanceof Num);
	if (flat && keys.length <= 12)
		return "{" + keys.map((k) => JSON.stringify(k) + ": " + stringify(v[k], 0)).join(", ") + "}";
	return "{" + keys.map((k) => nl + JSON.stringify(k) + sep + stringify(v[k], indent, depth + 1)).join(",") + end + "}";
}

// a plain JS value (numbers as numbers) into the Num form
export function toLossless(v) {
	if (typeof v === "number") return new Num(JSON.stringify(v));
	if (v === null || typeof v !== "object" || v instanceof Num) return v;
	if (Array.isArray(v)) return v.map(toLossless);
	const o = {};
	for (const k of Object.keys(v)) o[k] = toLossless(v[k]);
	return o;
}

// ---- comparison -------------------------------------------------------------

const num = (x) => (x instanceof Num ? x.value : x);
const show = (x) => {
	const s = stringify(x === undefined ? null : x);
	return s.length > 200 ? s.slice(0, 200) + "..." : s;
};

// exact comparison, metadata rules; returns a description of the first
// difference or null
export function diffExact(a, b, path = "") {
	if (a === undefined) a = null;
	if (b === undefined) b = null;
	if (a instanceof Num || b instanceof Num) {
		if (!(a instanceof Num && b instanceof Num)) return `${path}: ${show(a)} vs ${show(b)}`;
		if (a.isInt !== b.isInt)
			return `${path}: ${a.isInt ? "int" : "float"} ${a.text} vs ${b.isInt ? "int" : "float"} ${b.text}`;
		const same = a.isInt ? a.big === b.big : a.value === b.value;
		return same ? null : `${path}: ${a.text} vs ${b.text}`;
	}
	if (a === null || b === null || typeof a !== "object" || typeof b !== "object")
		return a === b ? null : `${path}: ${show(a)} vs ${show(b)}`;
	if (Array.isArray(a) !== Array.isArray(b)) return `${path}: ${show(a)} vs ${show(b)}`;
	if (Array.isArray(a)) {
		if (a.length !== b.length) return `${path}: length ${a.length} vs ${b.length}`;
		for (let i = 0; i < a.length; i++) {
			const d = diffExact(a[i], b[i], `${path}[${i}]`);
			if (d) return d;
		}
		return null;
	}
	const ka = Object.keys(a).sort();
	const kb = Object.keys(b).sort();
	const missing = ka.filter((k) => !(k in b));
	const extra = kb.filter((k) => !(k in a));
	if (missing.length || extra.length)
		return `${path}: keys ${JSON.stringify(ka)} vs ${JSON.stringify(kb)}`;
	for (const k of ka) {
		const d = diffExact(a[k], b[k], `${path}.${k}`);
		if (d) return d;
	}
	return null;
}

export const EMBEDDING_TOL = 1e-6;
export const DISTANCE_TOL = 1e-4;

// one embedding: same length, every component within 1e-6 of the larger
// of the two (exact zeros stay zeros: Chroma's float32 round trips)
export function diffEmbedding(a, b, path = "") {
	if (a == null || b == null) return a == b ? null : `${path}: ${show(a)} vs ${show(b)}`;
	if (!Array.isArray(a) || !Array.isArray(b)) return `${path}: not a vector: ${show(a)} vs ${show(b)}`;
	if (a.length !== b.length) return `${path}: dimension ${a.length} vs ${b.length}`;
	for (let i = 0; i < a.length; i++) {
		const x = num(a[i]);
		const y = num(b[i]);
		if (typeof x !== "number" || typeof y !== "number") return `${path}[${i}]: ${show(a[i])} vs ${show(b[i])}`;
		if (x === y) continue;
		if (Math.abs(x - y) <= EMBEDDING_TOL * Math.max(Math.abs(x), Math.abs(y))) continue;
		return `${path}[${i}]: ${a[i] instanceof Num ? a[i].text : x} vs ${b[i] instanceof Num ? b[i].text : y}`;
	}
	return null;
}

export function distanceClose(x, y) {
	x = num(x);
	y = num(y);
	return Math.abs(x - y) <= DISTANCE_TOL * Math.max(1, Math.abs(x), Math.abs(y));
}

const nz = (x) => (x === undefined ? null : x);

// a get answer ({ids, embeddings, documents, metadatas, uris}) against
// another: every field in include, in the answer's order; returns a list
// of {what, problem} (problem null when the field agrees)
export function compareGet(exp, got, include) {
	const out = [];
	const ids = diffExact(nz(exp.ids), nz(got.ids), "ids");
	out.push({ what: "ids (and order)", problem: ids });
	for (const f of include) {
		const e = nz(exp[f]);
		const g = nz(got[f]);
		let problem = null;
		if (e === null || g === null) {
			if (e !== g) problem = `${f}: ${show(e)} vs ${show(g)}`;
		} else if (!Array.isArray(e) || !Array.isArray(g) || e.length !== g.length) {
			problem = `${f}: ${Array.isArray(e) ? e.length : show(e)} vs ${Array.isArray(g) ? g.length : show(g)} entries`;
		} else {
			for (let i = 0; i < e.length && !problem; i++) {
				const at = `${f}[${i}] (id ${JSON.stringify(exp.ids?.[i])})`;
				problem = f === "embeddings" ? diffEmbedding(e[i], g[i], at) : diffExact(e[i], g[i], at);
			}
		}
		out.push({ what: f, problem });
	}
	return out;
}

// per query, its rows in distance order with ties put in id order
export function queryRows(r, include) {
	const fields = ["ids", ...include.filter((f) => f !== "ids")];
	return (r.ids || []).map((ids, q) => {
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
					if (distanceClose(a.distances, b.distances) && a.ids > b.ids) [rows[j - 1], rows[j]] = [b, a];
					else break;
				}
		return rows;
	});
}

// a query answer against another; returns {what, problem} per query
export function compareQuery(exp, got, include) {
	const e = queryRows(exp, include);
	const g = queryRows(got, include);
	const out = [];
	if (e.length !== g.length) return [{ what: "queries", problem: `${e.length} vs ${g.length} result lists` }];
	for (let q = 0; q < e.length; q++) {
		let problem = null;
		if (e[q].length !== g[q].length) problem = `${e[q].length} vs ${g[q].length} results`;
		for (let i = 0; i < e[q].length && !problem; i++) {
			const a = e[q][i];
			const b = g[q][i];
			if (a.ids !== b.ids) {
				problem = `result ${i}: id ${JSON.stringify(a.ids)} (distance ${num(a.distances)}) vs ${JSON.stringify(b.ids)} (distance ${num(b.distances)})`;
				break;
			}
			for (const f of Object.keys(a)) {
				if (f === "ids") continue;
				let d;
				if (f === "distances") d = distanceClose(a[f], b[f]) ? null : `${num(a[f])} vs ${num(b[f])}`;
				else if (f === "embeddings") d = diffEmbedding(a[f], b[f], "");
				else d = diffExact(a[f], b[f], "");
				if (d) {
					problem = `result ${i} (id ${JSON.stringify(a.ids)}) ${f}${d.startsWith(":") || d.startsWith("[") ? d : ": " + d}`;
					break;
				}
			}
		}
		out.push({ what: `query ${q}`, problem });
	}
	return out;
}

// the part of a collection's configuration_json a copy must keep: the hnsw
// object (Chroma's embedding_function {"type": "legacy"} has no meaning in
// vecq, which says null)
export function compareConfiguration(exp, got) {
	const h = (c) => (c && c.hnsw) || null;
	return diffExact(h(exp), h(got), "configuration.hnsw");
}
