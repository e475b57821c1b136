-- "Refresh every user", shared by the replicas: the replica asked makes a run with one item
-- per grant; every replica claims items (FOR UPDATE SKIP LOCKED, up to the run's
-- concurrency in flight on each replica) and records each outcome. A claim older than the lease is taken over: a
-- replica killed mid-run does not leave its items undone.
CREATE TABLE refresh_runs (
    id           BIGSERIAL PRIMARY KEY,
    requested_by TEXT NOT NULL,
    concurrency  INTEGER NOT NULL CHECK (concurrency > 0),
    total        INTEGER NOT NULL,
    created_at   BIGINT NOT NULL,
    finished_at  BIGINT
);
CREATE INDEX refresh_runs_open ON refresh_runs (id) WHERE finished_at IS NULL;

CREATE TABLE refresh_run_items (
    run_id     BIGINT NOT NULL REFERENCES refresh_runs (id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,
    grant_uid  TEXT NOT NULL,
    claimed_by TEXT,
    claimed_at BIGINT,
    done_at    BIGINT,
    sub        TEXT,
    email      TEXT,
    ok         BOOLEAN,
    error      TEXT,
    PRIMARY KEY (run_id, seq)
);
CREATE INDEX refresh_run_items_todo ON refresh_run_items (run_id, seq) WHERE done_at IS NULL;
