-- The audit log: who did what to whom, when, and how it ended. Append-only: a log that can
-- be edited proves nothing. Details never hold secrets.
CREATE TABLE audit (
    id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at      BIGINT NOT NULL,
    os_user TEXT NOT NULL,
    action  TEXT NOT NULL,
    user_id BIGINT REFERENCES users (id),
    outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'failed', 'denied')),
    detail  TEXT
);
-- newest first, overall and per user
CREATE INDEX audit_at ON audit (at DESC, id DESC);
CREATE INDEX audit_user ON audit (user_id, at DESC, id DESC);

-- Refused for everyone, the table's owner (the server's own role) included...
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only'
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_no_update_or_delete BEFORE UPDATE OR DELETE ON audit
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
-- ...and not even granted: only a superuser, or the owner granting itself the right back on
-- purpose, gets past the privilege check to meet the triggers.
REVOKE UPDATE, DELETE, TRUNCATE ON audit FROM PUBLIC;
REVOKE UPDATE, DELETE, TRUNCATE ON audit FROM CURRENT_USER;
