-- The database's identity and its data keys, each wrapped by a key-encryption key that lives
-- outside the database (a key file or a KMS): a dump of the database opens nothing.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
-- The store id, made with the database (s_ and 32 hex digits, the embedded store's shape): it
-- names the database's key wherever the key is kept.
INSERT INTO meta (key, value)
    VALUES ('store_id', 's_' || replace(gen_random_uuid()::text, '-', ''));

-- one row per data key and key-encryption key that wraps it (two during a rotation)
CREATE TABLE data_keys (
    data_key   TEXT NOT NULL CHECK (length(data_key) = 32),
    kek_id     TEXT NOT NULL,
    wrapped    BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    -- the order within one second (SQLite's rowid): oldest data key first
    seq        BIGINT GENERATED ALWAYS AS IDENTITY,
    PRIMARY KEY (data_key, kek_id)
);
