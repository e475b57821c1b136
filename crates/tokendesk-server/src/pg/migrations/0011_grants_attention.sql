-- The "needs attention" list (the health sweep's, on every Users page and after each live
-- entry) reads the grants that need a person: a refresh token that is not live, or no
-- drive.appdata scope. A healthy team has few; without this index every read scanned every
-- grant. The query's conditions imply this predicate (the scope spelled out in both), so the
-- planner can use the index: a partial index serves only queries that imply its WHERE.
CREATE INDEX grants_attention ON grants (updated_at DESC, uid)
    WHERE refresh_token IN ('revoked', 'invalid', 'pending_revocation', 'absent')
       OR strpos(' ' || scopes || ' ', ' https://www.googleapis.com/auth/drive.appdata ') = 0;
