-- Every authorization code seen, by its SHA-256 (never the code), so a code is exchanged
-- once by whichever replica receives it first; with the redacted request and response for
-- display, and the outcome.
CREATE TABLE exchanges (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- the claim: two replicas inserting one code, one wins (ON CONFLICT DO NOTHING)
    code_sha256     TEXT COLLATE "C" NOT NULL UNIQUE CHECK (length(code_sha256) = 64),
    client_uid      TEXT COLLATE "C" REFERENCES clients (uid) ON DELETE SET NULL,
    outcome         TEXT NOT NULL CHECK (outcome IN
                        ('pending', 'succeeded', 'failed', 'unknown')),
    error_code      TEXT,
    -- the token request and response as sent and received, secrets replaced by [redacted]
    request         JSONB,
    response        JSONB,
    user_id         BIGINT REFERENCES users (id) ON DELETE SET NULL,
    grant_uid       TEXT COLLATE "C" REFERENCES grants (uid) ON DELETE SET NULL,
    -- the provider's whole answer, sealed, kept from the moment it arrives until its ID token
    -- is verified and the grant holds the tokens (then cleared): a replica killed meanwhile,
    -- or a JWKS outage, never loses what Google answered
    response_sealed BYTEA,
    created_at      BIGINT NOT NULL,
    finished_at     BIGINT
);
CREATE INDEX exchanges_created ON exchanges (created_at);
-- startup recovery reads the pending ones
CREATE INDEX exchanges_pending ON exchanges (id) WHERE outcome = 'pending';
CREATE INDEX exchanges_grant ON exchanges (grant_uid);
CREATE INDEX exchanges_user ON exchanges (user_id);
