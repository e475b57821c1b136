-- Live events: every audit entry but an admin API call's own record is announced to the
-- replicas listening on `tokendesk_audit` (the payload is the entry's id only: a listener reads
-- the entries from the table, so nothing but ids travels, and a missed notice is caught up by
-- id). NOTIFY is sent when the inserting transaction commits, never for one rolled back.
CREATE FUNCTION audit_announce() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('tokendesk_audit', NEW.id::text);
    RETURN NULL;
END
$$;
CREATE TRIGGER audit_announce AFTER INSERT ON audit
    FOR EACH ROW WHEN (NEW.action <> 'api_call') EXECUTE FUNCTION audit_announce();
