-- schema of chroma-core-multitenant/chroma.sqlite3 (8 migrations)
CREATE TABLE migrations (
                        dir TEXT NOT NULL,
                        version INTEGER NOT NULL,
                        filename TEXT NOT NULL,
                        sql TEXT NOT NULL,
                        hash TEXT NOT NULL,
                        PRIMARY KEY (dir, version)
                    );
CREATE TABLE embeddings_queue (
    seq_id INTEGER PRIMARY KEY,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    operation INTEGER NOT NULL,
    topic TEXT NOT NULL,
    id TEXT NOT NULL,
    vector BLOB,
    encoding TEXT,
    metadata TEXT
);
CREATE TABLE collection_metadata (
    collection_id TEXT REFERENCES collections(id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    str_value TEXT,
    int_value INTEGER,
    float_value REAL,
    PRIMARY KEY (collection_id, key)
);
CREATE TABLE segments (
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    scope TEXT NOT NULL,
    topic TEXT,
    collection TEXT REFERENCES collection(id)
);
CREATE TABLE segment_metadata (
    segment_id TEXT  REFERENCES segments(id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    str_value TEXT,
    int_value INTEGER,
    float_value REAL,
    PRIMARY KEY (segment_id, key)
);
CREATE TABLE tenants (
    id TEXT PRIMARY KEY,
    UNIQUE (id)
);
CREATE TABLE databases (
    id TEXT PRIMARY KEY, -- unique globally
    name TEXT NOT NULL, -- unique per tenant
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    UNIQUE (tenant_id, name) -- Ensure that a tenant has only one database with a given name
);
CREATE TABLE IF NOT EXISTS "collections" (
    id TEXT PRIMARY KEY, -- unique globally
    name TEXT NOT NULL, -- unique per database
    topic TEXT NOT NULL,
    dimension INTEGER,
    database_id TEXT NOT NULL REFERENCES databases(id) ON DELETE CASCADE,
    UNIQUE (name, database_id)
);
CREATE TABLE embeddings (
    id INTEGER PRIMARY KEY,
    segment_id TEXT NOT NULL,
    embedding_id TEXT NOT NULL,
    seq_id BLOB NOT NULL,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    UNIQUE (segment_id, embedding_id)
);
CREATE TABLE embedding_metadata (
    id INTEGER REFERENCES embeddings(id),
    key TEXT NOT NULL,
    string_value TEXT,
    int_value INTEGER,
    float_value REAL, bool_value INTEGER,
    PRIMARY KEY (id, key)
);
CREATE TABLE max_seq_id (
    segment_id TEXT PRIMARY KEY,
    seq_id BLOB NOT NULL
);
CREATE VIRTUAL TABLE embedding_fulltext_search USING fts5(string_value, tokenize='trigram')
/* embedding_fulltext_search(string_value) */;
INSERT INTO migrations VALUES ('embeddings_queue', 1, '00001-embeddings.sqlite.sql', '', 'd3755dfd232be8e8301f4d7fcfb3a486');
INSERT INTO migrations VALUES ('metadb', 1, '00001-embedding-metadata.sqlite.sql', '', '2b4cf52c4bb2676e21d6860a4409f856');
INSERT INTO migrations VALUES ('metadb', 2, '00002-embedding-metadata.sqlite.sql', '', '12a570f7121b3a8ce750a2a7c36da20f');
INSERT INTO migrations VALUES ('metadb', 3, '00003-full-text-tokenize.sqlite.sql', '', 'f97ad6334aeaa8f419f01110b648b97a');
INSERT INTO migrations VALUES ('sysdb', 1, '00001-collections.sqlite.sql', '', '38352d725ad1c16074fac420b22b4633');
INSERT INTO migrations VALUES ('sysdb', 2, '00002-segments.sqlite.sql', '', '2913cb6a503055a95f625448037e8912');
INSERT INTO migrations VALUES ('sysdb', 3, '00003-collection-dimension.sqlite.sql', '', '42d22d0574d31d419c2a0e7f625c93aa');
INSERT INTO migrations VALUES ('sysdb', 4, '00004-tenants-databases.sqlite.sql', '', '048867ce8fcdefe4023c7110e4433591');
