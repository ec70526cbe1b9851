#!/usr/bin/env python3
#
# make_chroma_sqlite_seeds.py
#	  Write the seed corpus of fuzz_chroma_sqlite.c (see its header comment
#	  for the input format): small persist directories in the shapes of
#	  the real ones, one or two per schema era, with unflushed and flushed
#	  HNSW segments, typed and array metadata, configuration and schema
#	  JSON, and each era's max_seq_id encoding.
#
#	  usage: make_chroma_sqlite_seeds.py SCHEMA_DIR OUT_DIR
#
# test/fuzz/make_chroma_sqlite_seeds.py

import os
import pickle
import sqlite3
import struct
import sys

SCHEMA_DIR, OUT = sys.argv[1], sys.argv[2]
TABLES = ["collections", "segments", "embeddings", "embedding_metadata",
          "embeddings_queue", "max_seq_id", "collection_metadata",
          "embedding_metadata_array", "tenants", "databases"]
ERAS = sorted(f for f in os.listdir(SCHEMA_DIR) if f.endswith(".sql"))

# pool[] indexes of fuzz_chroma_sqlite.c
C = [0, 1, 2]
S = [4, 5, 6, 7]
TOPIC = [8, 9, 10]
ID = [12, 13, 14]
METADATA, VECTOR, FLOAT32, INT32 = 16, 17, 18, 19
DOC, URI, SPACE, COSINE, L2, IP = 20, 21, 22, 23, 24, 25
TENANT, DATABASE, DBID = 26, 27, 28
URN_VEC, URN_META, KEY = 30, 31, 32
CFG_05, CFG_1X, CFG_HNSW, CFG_EF, SCHEMA_KEYS, SCHEMA_DEFAULTS = 36, 37, 38, 39, 40, 41
POOL_IDS = ["11111111-1111-4111-8111-111111111111",
            "22222222-2222-4222-8222-222222222222",
            "33333333-3333-4333-8333-333333333333"]


def columns(era):
    db = sqlite3.connect(":memory:")
    db.executescript(open(os.path.join(SCHEMA_DIR, era)).read())
    cols = {}
    for t in TABLES:
        cols[t] = [r[1] for r in db.execute("SELECT * FROM pragma_table_info(?) ORDER BY cid", (t,))]
    return cols


def null():
    return b"\x00"


def i8(v):
    return bytes([1, v & 0xff])


def i64(v):
    return b"\x02" + struct.pack("<q", v)


def f64(v):
    return b"\x03" + struct.pack("<d", v)


def _len(n):
    return bytes([n]) if n < 0xff else b"\xff" + struct.pack("<H", n)


def text(s):
    b = s.encode() if isinstance(s, str) else s
    return b"\x04" + _len(len(b)) + b


def blob(b):
    return b"\x05" + _len(len(b)) + b


def pool(i):
    return bytes([6, i])


def vec(values):
    return blob(struct.pack("<%df" % len(values), *values))


def ramp(count):
    return b"\x07\x00" + struct.pack("<H", count) + b"\x00"


def be8(v):
    return b"\x07\x01" + bytes([v & 0xff])


class Seed:
    def __init__(self, era, batch=2, loose=False):
        self.era = era
        self.cols = columns(era)
        self.out = bytes([ERAS.index(era) | (0x80 if loose else 0), batch - 1])

    def has(self, table):
        return bool(self.cols[table])

    def row(self, table, **values):
        cols = self.cols[table]
        if not cols:
            return
        for k in values:
            if k not in cols:
                raise KeyError("%s: %s has no column %s" % (self.era, table, k))
        self.out += bytes([TABLES.index(table)])
        for c in cols:
            v = values.get(c)
            if v is None and c == "created_at":
                v = text("2024-01-01 00:00:00")
            self.out += v if v is not None else null()

    def file(self, seg, kind, data):
        self.out += bytes([0xe0 | kind, seg - S[0]]) + struct.pack("<H", len(data)) + data

    def seq(self, v):
        """max_seq_id.seq_id in the era's encoding"""
        if "max_seq_id" in self.cols and self.era >= "era16":
            return i8(v)
        return be8(v)

    def collection(self, c, name, dim, config=None, schema=None):
        cols = self.cols["collections"]
        v = dict(id=pool(C[c]), name=text(name), dimension=i8(dim) if dim else null())
        if "topic" in cols:
            v["topic"] = pool(TOPIC[c])
        if "database_id" in cols:
            v["database_id"] = pool(DBID)
        if config is not None and "config_json_str" in cols:
            v["config_json_str"] = pool(config)
        if schema is not None and "schema_str" in cols:
            v["schema_str"] = pool(schema)
        self.row("collections", **v)

    def segments(self, c, meta, vector):
        cols = self.cols["segments"]
        for seg, scope, typ in ((meta, METADATA, URN_META), (vector, VECTOR, URN_VEC)):
            v = dict(id=pool(S[seg]), type=pool(typ), scope=pool(scope), collection=pool(C[c]))
            if "topic" in cols:
                v["topic"] = pool(TOPIC[c]) if scope == VECTOR else null()
            self.row("segments", **v)

    def tenants(self):
        if self.has("tenants"):
            self.row("tenants", id=pool(TENANT))
            self.row("databases", id=pool(DBID), name=pool(DATABASE), tenant_id=pool(TENANT))

    def record(self, rowid, meta_seg, eid, seq, **meta):
        self.row("embeddings", id=i8(rowid), segment_id=pool(S[meta_seg]), embedding_id=pool(ID[eid]),
                 seq_id=self.seq(seq))
        for k, v in meta.items():
            key = {"document": pool(DOC), "uri": pool(URI)}.get(k, text(k))
            vals = dict(id=i8(rowid), key=key)
            if isinstance(v, bool):
                if "bool_value" in self.cols["embedding_metadata"]:
                    vals["bool_value"] = i8(int(v))
                else:
                    vals["int_value"] = i8(int(v))
            elif isinstance(v, int):
                vals["int_value"] = i64(v)
            elif isinstance(v, float):
                vals["float_value"] = f64(v)
            elif isinstance(v, list):
                for e in v:
                    self.row("embedding_metadata_array", id=i8(rowid), key=key,
                             **({"int_value": i64(e)} if isinstance(e, int) else {"string_value": text(e)}))
                continue
            else:
                vals["string_value"] = text(v)
            self.row("embedding_metadata", **vals)

    def log(self, seq, op, c, eid, vector=None, encoding=FLOAT32):
        self.row("embeddings_queue", seq_id=i8(seq), operation=i8(op), topic=pool(TOPIC[c]),
                 id=pool(ID[eid]), vector=vector if vector is not None else null(),
                 encoding=pool(encoding) if vector is not None else null())

    def write(self, name):
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(self.out)


def hnsw_files(dim, vectors, labels, deleted=()):
    """header.bin and data_level0.bin of a flushed index, M = 2"""
    maxM0 = 4
    offset_data = 4 + 4 * maxM0
    label_offset = offset_data + 4 * dim
    size = label_offset + 8
    n = len(vectors)
    header = struct.pack("<iQQQQQQiIQQQdQ", 1, 0, n, n, size, label_offset, offset_data,
                         0 if n else -1, 0 if n else 0xffffffff, 2, maxM0, 2, 1.4426950408889634, 100)
    assert len(header) == 100
    level0 = b""
    for i, (v, label) in enumerate(zip(vectors, labels)):
        links = (1 << 16) if i in deleted else 0
        level0 += struct.pack("<I", links) + b"\0" * (4 * maxM0) + struct.pack("<%df" % dim, *v) \
            + struct.pack("<Q", label)
    return header, level0


def label_pickle(ids, labels, max_seq_id=None, protocol=3):
    return pickle.dumps({
        "dimensionality": None, "total_elements_added": len(ids), "max_seq_id": max_seq_id,
        "id_to_label": dict(zip(ids, labels)), "label_to_id": dict(zip(labels, ids)),
        "id_to_seq_id": {}}, protocol=protocol)


os.makedirs(OUT, exist_ok=True)

# every era: one collection, unflushed, two records from the log
for era in ERAS:
    s = Seed(era)
    s.tenants()
    s.collection(0, "docs", 3)
    s.segments(0, 0, 1)
    s.record(1, 0, 0, 1, document="hello", uri="u://0", n=7, f=0.5, flag=True, s="x")
    s.record(2, 0, 1, 2)
    s.log(1, 0, 0, 0, vec([1.0, 2.0, 3.0]))
    s.log(2, 0, 0, 1, vec([0.0, -1.0, 0.25]))
    s.row("max_seq_id", segment_id=pool(S[0]), seq_id=s.seq(2))
    s.row("collection_metadata", collection_id=pool(C[0]), key=pool(SPACE), str_value=pool(L2))
    s.write("%s_unflushed" % era[:-4])

# configuration JSON (0.5.4+) and schema JSON (1.3+), cosine, updates,
# upserts, deletes and INT32 vectors
for era, cfg, schema in (("era11.sql", CFG_05, None), ("era15.sql", CFG_EF, None),
                         ("era16.sql", CFG_1X, None), ("era17.sql", CFG_HNSW, SCHEMA_KEYS),
                         ("era18.sql", None, SCHEMA_DEFAULTS)):
    s = Seed(era, batch=1)
    s.tenants()
    s.collection(0, "cfg", None, config=cfg, schema=schema)
    s.segments(0, 0, 1)
    s.collection(1, "other", 2)
    s.segments(1, 2, 3)
    s.record(1, 0, 0, 1, document="a", tags=["x", "y"], nums=[1, 2])
    s.record(2, 0, 2, 4, k=1.5)
    s.record(3, 2, 0, 5)
    s.log(1, 0, 0, 0, vec([1.0, 0.0, 0.0, 2.0]))
    s.log(2, 1, 0, 0, vec([1.0, 1.0, 0.0, 2.0]))
    s.log(3, 3, 0, 1)
    s.log(4, 2, 0, 2, ramp(4))
    s.log(5, 0, 1, 0, blob(struct.pack("<2i", 3, -4)), INT32)
    s.row("max_seq_id", segment_id=pool(S[0]), seq_id=s.seq(5))
    s.row("max_seq_id", segment_id=pool(S[2]), seq_id=s.seq(5))
    s.write("%s_config_log" % era[:-4])

# flushed HNSW segments: l2 (0.4.x, max_seq_id in the pickle-era blob) and
# cosine (1.x), with a log entry after what the index holds
for era, space, proto in (("era07.sql", L2, 4), ("era16.sql", COSINE, 3)):
    s = Seed(era)
    s.tenants()
    s.collection(0, "flushed", 3)
    s.segments(0, 0, 1)
    s.row("collection_metadata", collection_id=pool(C[0]), key=pool(SPACE), str_value=pool(space))
    s.record(1, 0, 0, 1, document="one")
    s.record(2, 0, 1, 2, document="two")
    s.record(3, 0, 2, 3, document="three")
    s.row("max_seq_id", segment_id=pool(S[0]), seq_id=s.seq(3))
    s.row("max_seq_id", segment_id=pool(S[1]), seq_id=s.seq(2))
    s.log(3, 0, 0, 2, vec([7.0, 8.0, 9.0]))
    header, level0 = hnsw_files(3, [[1.0, 0.0, 0.0], [0.0, 0.6, 0.8], [0.5, 0.5, 0.5]], [1, 2, 3],
                                deleted={2})
    s.file(S[1], 0, header)
    s.file(S[1], 1, level0)
    s.file(S[1], 2, struct.pack("<3f", 2.0, 5.0, 1.0))
    s.file(S[1], 3, label_pickle(["id0", "id1"], [1, 2], 2 if proto == 4 else None, proto))
    s.write("%s_flushed_%s" % (era[:-4], "l2" if space == L2 else "cosine"))

# the loose schema: NULLs where Chroma's constraints forbid them
s = Seed("era18.sql", loose=True)
s.tenants()
s.collection(0, "loose", 3)
s.segments(0, 0, 1)
s.row("embeddings", id=i8(1), segment_id=pool(S[0]), embedding_id=null(), seq_id=null())
s.row("embedding_metadata", id=i8(1), key=null(), string_value=text("v"))
s.row("embedding_metadata_array", id=i8(1), key=null(), int_value=i8(1))
s.log(1, 0, 0, 0, vec([1.0, 2.0, 3.0]))
s.write("era18_loose_nulls")

# a log vector longer than any dimension, in a collection without one
s = Seed("era16.sql")
s.tenants()
s.collection(0, "huge", None)
s.segments(0, 0, 1)
s.record(1, 0, 0, 1)
s.log(1, 0, 0, 0, b"\x07\x00" + struct.pack("<H", 20000) + b"\x80")
s.write("regress_queue_vector_huge")


def flushed(name, dim, vectors, log_vector, space=L2, era="era16.sql", log_first=False):
    s = Seed(era)
    s.tenants()
    s.collection(0, name, dim)
    s.segments(0, 0, 1)
    s.row("collection_metadata", collection_id=pool(C[0]), key=pool(SPACE), str_value=pool(space))
    s.record(1, 0, 0, 1)
    s.record(2, 0, 1, 2)
    s.row("max_seq_id", segment_id=pool(S[0]), seq_id=s.seq(2))
    s.row("max_seq_id", segment_id=pool(S[1]), seq_id=s.seq(1))
    s.log(2, 0, 0, 0 if log_first else 1, log_vector)
    header, level0 = hnsw_files(len(vectors[0]), vectors, list(range(1, len(vectors) + 1)))
    s.file(S[1], 0, header)
    s.file(S[1], 1, level0)
    s.file(S[1], 2, struct.pack("<%df" % len(vectors), *([2.0] * len(vectors))))
    s.file(S[1], 3, label_pickle(["id1" if log_first else "id0"], [1]))
    s.write(name)


# an HNSW element that is not finite; in cosine, a finite one times a huge norm
flushed("regress_hnsw_vector_nan", 3, [[1.0, float("nan"), 0.0]], vec([1.0, 2.0, 3.0]))
# no collection dimension: a log vector of 4 first, then HNSW vectors of 3
flushed("regress_hnsw_log_dimensions", None, [[1.0, 0.5, 0.0]], vec([1.0, 2.0, 3.0, 4.0]),
        log_first=True)

# NULL keys (loose schema): collection metadata, record metadata, arrays
for table in ("collection_metadata", "embedding_metadata", "embedding_metadata_array"):
    s = Seed("era18.sql", loose=True)
    s.tenants()
    s.collection(0, "nullkey", 3)
    s.segments(0, 0, 1)
    s.record(1, 0, 0, 1)
    s.log(1, 0, 0, 0, vec([1.0, 2.0, 3.0]))
    if table == "collection_metadata":
        s.row(table, collection_id=pool(C[0]), key=null(), int_value=i8(1))
    else:
        s.row(table, id=i8(1), key=null(), int_value=i8(1))
    s.write("regress_null_key_%s" % table)

# text jsonb refuses: invalid UTF-8 in a string value, a NUL in a key
s = Seed("era16.sql")
s.tenants()
s.collection(0, "badtext", 3)
s.segments(0, 0, 1)
s.row("embeddings", id=i8(1), segment_id=pool(S[0]), embedding_id=pool(ID[0]), seq_id=i8(1),
      created_at=text("2024-01-01 00:00:00"))
s.row("embedding_metadata", id=i8(1), key=text("k"), string_value=text(b"caf\xe9"))
s.log(1, 0, 0, 0, vec([1.0, 2.0, 3.0]))
s.write("regress_metadata_invalid_utf8")
s = Seed("era16.sql")
s.tenants()
s.collection(0, "badkey", 3)
s.row("collection_metadata", collection_id=pool(C[0]), key=text(b"a\x00b"), int_value=i8(1))
s.write("regress_metadata_key_nul")
# a NUL inside an array metadata key: the reader copied the key up to the
# NUL and then checked it at its sqlite length, past the copy (found by
# this target in a CI run of 2026-12-04)
s = Seed("era18.sql")
s.tenants()
s.collection(0, "badarraykey", 3)
s.segments(0, 0, 1)
s.record(1, 0, 0, 1)
s.log(1, 0, 0, 0, vec([1.0, 2.0, 3.0]))
s.row("embedding_metadata_array", id=i8(1), key=text(b"k\x00xyzxyzxyzxyzxyzxyz"), int_value=i8(1))
s.write("regress_array_key_nul")
