-- OAuth clients imported from client_secret.json: IDs, issuer, endpoints, and the client
-- secret sealed in the row (the server seals it for the row's uid before it arrives here).
CREATE TABLE clients (
    uid               TEXT COLLATE "C" PRIMARY KEY,
    -- the name people use (--client NAME); "C": compared and sorted byte by byte, as SQLite's
    -- BINARY does, whatever the database's locale
    name              TEXT COLLATE "C" NOT NULL UNIQUE,
    client_id         TEXT NOT NULL,
    issuer            TEXT NOT NULL,
    endpoints         JSONB NOT NULL,
    -- the iOS client IDs accepted as azp
    ios_client_ids    TEXT[] NOT NULL DEFAULT '{}',
    foreign_endpoints BOOLEAN NOT NULL,
    secret_sealed     BYTEA,
    -- seconds since the Unix epoch, as everywhere in this schema: the store's Timestamp
    created_at        BIGINT NOT NULL
);
