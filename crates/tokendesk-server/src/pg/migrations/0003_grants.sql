-- What a user granted a client: scopes, access-token expiry, the refresh token's state, and
-- the tokens themselves, sealed for the row's uid. The CHECKs are the embedded store's (its
-- rebuilt table, version 10) without the 0.1 keyring references: PostgreSQL never held 0.1
-- data.
CREATE TABLE grants (
    uid                     TEXT COLLATE "C" PRIMARY KEY,
    user_id                 BIGINT NOT NULL REFERENCES users (id),
    -- a client with grants cannot be removed
    client_uid              TEXT COLLATE "C" NOT NULL REFERENCES clients (uid),
    scopes                  TEXT NOT NULL,  -- space separated, as OAuth sends them
    access_token_expires_at BIGINT,
    refresh_token           TEXT NOT NULL CHECK (refresh_token IN
                                ('present', 'absent', 'revoked', 'invalid',
                                 'pending_revocation')),
    invalid_reason          TEXT,
    refresh_token_sealed    BYTEA,
    access_token_sealed     BYTEA,
    -- the sign-in's authorized party, which a refreshed ID token must name again
    azp                     TEXT,
    created_at              BIGINT NOT NULL,
    updated_at              BIGINT NOT NULL,
    -- one grant per user and client (a re-consent updates it)
    UNIQUE (user_id, client_uid),
    -- a reason exactly when invalid, so the UI can always say why
    CHECK ((refresh_token = 'invalid') = (invalid_reason IS NOT NULL)),
    -- a grant that needs its refresh token (to use or to revoke it) holds it
    CHECK (refresh_token NOT IN ('present', 'pending_revocation')
           OR refresh_token_sealed IS NOT NULL)
);
CREATE INDEX grants_client ON grants (client_uid);
-- what `refresh --all` refreshes, oldest first
CREATE INDEX grants_to_refresh ON grants (updated_at, uid)
    WHERE refresh_token = 'present' AND refresh_token_sealed IS NOT NULL;
