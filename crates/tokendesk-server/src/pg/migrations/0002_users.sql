-- Signed-in users, keyed by (issuer, sub) and never by email, with the ID token's profile.
-- Search: exact and prefix matches are range scans on the *_lc and sub b-tree indexes,
-- substrings use trigram (pg_trgm) GIN indexes.
--
-- pg_trgm is a trusted extension: the database's owner may create it (no superuser needed).
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE users (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    issuer         TEXT NOT NULL,
    -- Google's subs are digits; "C" so prefixes are ranges in byte order
    sub            TEXT COLLATE "C" NOT NULL CHECK (sub <> ''),
    email          TEXT,
    email_verified BOOLEAN,
    name           TEXT,
    given_name     TEXT,
    family_name    TEXT,
    picture        TEXT,
    locale         TEXT,
    hd             TEXT,
    -- the decoded claims of the exchange's ID token (not the signed token)
    claims         JSONB NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(claims) = 'object'),
    -- how that ID token was verified: {header, checks, verified_at}; never the token
    id_token       JSONB NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(id_token) = 'object'),
    -- Unicode-lowercased copies for search, written by TokenDesk (Rust's to_lowercase, as the
    -- embedded store does): lower() would depend on the database's locale, and the query text
    -- is folded the same way
    email_lc       TEXT COLLATE "C",
    name_lc        TEXT COLLATE "C",
    given_name_lc  TEXT COLLATE "C",
    family_name_lc TEXT COLLATE "C",
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    UNIQUE (issuer, sub)
);
-- exact and prefix search: range scans in byte order
CREATE INDEX users_sub ON users (sub);
CREATE INDEX users_email_lc ON users (email_lc);
CREATE INDEX users_name_lc ON users (name_lc);
CREATE INDEX users_given_lc ON users (given_name_lc);
CREATE INDEX users_family_lc ON users (family_name_lc);
-- the Users page: most recently updated first
CREATE INDEX users_updated ON users (updated_at DESC, id DESC);
-- substring search (a domain, part of a name): LIKE '%text%' through trigrams. Not sub: its
-- digits' trigrams are in every row; exact and prefix matches serve it.
CREATE INDEX users_email_trgm ON users USING gin (email_lc gin_trgm_ops);
CREATE INDEX users_name_trgm ON users USING gin (name_lc gin_trgm_ops);
CREATE INDEX users_given_trgm ON users USING gin (given_name_lc gin_trgm_ops);
CREATE INDEX users_family_trgm ON users USING gin (family_name_lc gin_trgm_ops);

-- How many users there are, kept by triggers: the Users page shows it with every page, and
-- count(*) reads every row (tens of milliseconds at a million users). Only statements that
-- add or remove users touch the counter, so refreshes updating a user never wait on it.
CREATE TABLE users_count (
    only_row BOOLEAN PRIMARY KEY DEFAULT true CHECK (only_row),
    n        BIGINT NOT NULL CHECK (n >= 0)
);
INSERT INTO users_count (n) VALUES (0);
CREATE FUNCTION users_count_add() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    added BIGINT;
BEGIN
    SELECT count(*) INTO added FROM changed;
    IF added > 0 THEN
        UPDATE users_count SET n = n + (CASE TG_OP WHEN 'INSERT' THEN added ELSE -added END);
    END IF;
    RETURN NULL;
END
$$;
CREATE FUNCTION users_count_reset() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE users_count SET n = 0;
    RETURN NULL;
END
$$;
CREATE TRIGGER users_counted_insert AFTER INSERT ON users
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION users_count_add();
CREATE TRIGGER users_counted_delete AFTER DELETE ON users
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION users_count_add();
CREATE TRIGGER users_counted_truncate AFTER TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION users_count_reset();
