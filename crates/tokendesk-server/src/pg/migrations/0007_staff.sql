-- The people and programs that may use the admin API. Staff sign in with the staff provider
-- (Google Workspace); their email must be on this list. Sessions and API tokens are stored as
-- the SHA-256 of the token: a dump of the database holds no credential.
CREATE TABLE staff (
    email      TEXT PRIMARY KEY CHECK (email = lower(email) AND email LIKE '%_@_%'),
    role       TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    added_at   BIGINT NOT NULL,
    added_by   TEXT NOT NULL
);

-- A staff member's sign-in. Short-lived: it ends `idle` seconds after its last use and at
-- `expires_at` at the latest; removing the staff member or signing out ends it at once.
CREATE TABLE sessions (
    token_sha256 BYTEA PRIMARY KEY CHECK (length(token_sha256) = 32),
    email        TEXT NOT NULL REFERENCES staff (email) ON DELETE CASCADE,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    revoked_at   BIGINT
);
CREATE INDEX sessions_email ON sessions (email);

-- Credentials for automation, with a role of their own; shown once, revocable.
CREATE TABLE api_tokens (
    name         TEXT PRIMARY KEY CHECK (name <> ''),
    token_sha256 BYTEA NOT NULL UNIQUE CHECK (length(token_sha256) = 32),
    role         TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    created_at   BIGINT NOT NULL,
    created_by   TEXT NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT
);
