-- schema of Philospher_ChatBot/chroma.sqlite3 (18 migrations)
CREATE TABLE migrations (
                dir TEXT NOT NULL,
                version INTEGER NOT NULL,
                filename TEXT NOT NULL,
                sql TEXT NOT NULL,
                hash TEXT NOT NULL,
                PRIMARY KEY (dir, version)
            );
CREATE TABLE acquire_write (
                id INTEGER PRIMARY KEY,
                lock_status INTEGER NOT NULL
            );
CREATE TABLE collection_metadata (
    collection_id TEXT REFERENCES collections(id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    str_value TEXT,
    int_value INTEGER,
    float_value REAL, bool_value INTEGER,
    PRIMARY KEY (collection_id, key)
);
CREATE TABLE segment_metadata (
    segment_id TEXT  REFERENCES segments(id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    str_value TEXT,
    int_value INTEGER,
    float_value REAL, bool_value INTEGER,
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
    dimension INTEGER,
    database_id TEXT NOT NULL REFERENCES databases(id) ON DELETE CASCADE, config_json_str TEXT, schema_str TEXT,
    UNIQUE (name, database_id)
);
CREATE TABLE maintenance_log (
  id INT PRIMARY KEY,
  timestamp INT NOT NULL,
  operation TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS "segments" (
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    scope TEXT NOT NULL,
    collection TEXT REFERENCES collection(id) NOT NULL
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
    seq_id INTEGER);
CREATE VIRTUAL TABLE embedding_fulltext_search USING fts5(string_value, tokenize='trigram')
/* embedding_fulltext_search(string_value) */;
CREATE INDEX embedding_metadata_int_value ON embedding_metadata (key, int_value) WHERE int_value IS NOT NULL;
CREATE INDEX embedding_metadata_float_value ON embedding_metadata (key, float_value) WHERE float_value IS NOT NULL;
CREATE INDEX embedding_metadata_string_value ON embedding_metadata (key, string_value) WHERE string_value IS NOT NULL;
CREATE TABLE embedding_metadata_array (
    id INTEGER NOT NULL REFERENCES embeddings(id),
    key TEXT NOT NULL,
    string_value TEXT,
    int_value INTEGER,
    float_value REAL,
    bool_value INTEGER
);
CREATE INDEX embedding_metadata_array_id_key
    ON embedding_metadata_array (id, key);
CREATE INDEX embedding_metadata_array_key_string
    ON embedding_metadata_array (key, string_value) WHERE string_value IS NOT NULL;
CREATE INDEX embedding_metadata_array_key_int
    ON embedding_metadata_array (key, int_value) WHERE int_value IS NOT NULL;
CREATE INDEX embedding_metadata_array_key_float
    ON embedding_metadata_array (key, float_value) WHERE float_value IS NOT NULL;
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
CREATE TABLE embeddings_queue_config (
    id INTEGER PRIMARY KEY,
    config_json_str TEXT
);
INSERT INTO migrations VALUES ('embeddings_queue', 1, '00001-embeddings.sqlite.sql', '', 'd3755dfd232be8e8301f4d7fcfb3a486');
INSERT INTO migrations VALUES ('embeddings_queue', 2, '00002-embeddings-queue-config.sqlite.sql', '', '8fbfe4ffb3e57f1d8bfdc58510a82e85');
INSERT INTO migrations VALUES ('metadb', 1, '00001-embedding-metadata.sqlite.sql', '', '2b4cf52c4bb2676e21d6860a4409f856');
INSERT INTO migrations VALUES ('metadb', 2, '00002-embedding-metadata.sqlite.sql', '', '12a570f7121b3a8ce750a2a7c36da20f');
INSERT INTO migrations VALUES ('metadb', 3, '00003-full-text-tokenize.sqlite.sql', '', 'f97ad6334aeaa8f419f01110b648b97a');
INSERT INTO migrations VALUES ('metadb', 4, '00004-metadata-indices.sqlite.sql', '', 'fb36603a45ee2cd0254cef3ef86585e8');
INSERT INTO migrations VALUES ('metadb', 5, '00005-max-seq-id-int.sqlite.sql', '', '0e9de46758761b373ce682925edcc326');
INSERT INTO migrations VALUES ('metadb', 6, '00006-metadata-array-support.sqlite.sql', '', 'e026f01ea92c1baa1493f4ad5ca7cfe7');
INSERT INTO migrations VALUES ('sysdb', 1, '00001-collections.sqlite.sql', '', '38352d725ad1c16074fac420b22b4633');
INSERT INTO migrations VALUES ('sysdb', 2, '00002-segments.sqlite.sql', '', '2913cb6a503055a95f625448037e8912');
INSERT INTO migrations VALUES ('sysdb', 3, '00003-collection-dimension.sqlite.sql', '', '42d22d0574d31d419c2a0e7f625c93aa');
INSERT INTO migrations VALUES ('sysdb', 4, '00004-tenants-databases.sqlite.sql', '', '048867ce8fcdefe4023c7110e4433591');
INSERT INTO migrations VALUES ('sysdb', 5, '00005-remove-topic.sqlite.sql', '', 'b1367c826b8fba5f96f27befdc1d42d2');
INSERT INTO migrations VALUES ('sysdb', 6, '00006-collection-segment-metadata.sqlite.sql', '', '4eea7468935bf25d4604a0fed2366116');
INSERT INTO migrations VALUES ('sysdb', 7, '00007-collection-config.sqlite.sql', '', '1c7e63bba346a42a18b6ab7f1c989bed');
INSERT INTO migrations VALUES ('sysdb', 8, '00008-maintenance-log.sqlite.sql', '', '0a0e7e93111a01789addf64961c6127c');
INSERT INTO migrations VALUES ('sysdb', 9, '00009-segment-collection-not-null.sqlite.sql', '', '054355aef9e63702bf54ea29e61563f1');
INSERT INTO migrations VALUES ('sysdb', 10, '00010-collection-schema.sqlite.sql', '', '5c3a5ac4b79df76799b4721827ed5e1d');
