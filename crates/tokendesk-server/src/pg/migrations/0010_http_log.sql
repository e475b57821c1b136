-- Each user's recent operations as HTTP: every request the server sent for them (refresh,
-- revocation, tokeninfo, Drive, the exchange) and the response, secrets masked before they
-- reach this table. A diagnostic record, not the audit log: each user keeps their newest
-- operations (the server deletes the older ones as it adds), so it never grows with time.
CREATE TABLE http_log (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id   BIGINT NOT NULL REFERENCES users (id),
    at        BIGINT NOT NULL,
    actor     TEXT NOT NULL,
    client    TEXT,
    action    TEXT NOT NULL,
    outcome   TEXT NOT NULL CHECK (outcome IN ('ok', 'failed', 'denied')),
    exchanges JSONB NOT NULL CHECK (jsonb_typeof(exchanges) = 'array')
);
-- a user's newest first, and the retention's cut
CREATE INDEX http_log_user ON http_log (user_id, id DESC);
