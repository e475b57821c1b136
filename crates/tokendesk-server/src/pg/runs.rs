//! `refresh_runs`: "refresh every user" as work every replica shares (see `crate::spread`).

use tokendesk_core::desk::RefreshOutcome;
use tokendesk_core::store::{GrantUid, StoreError, Timestamp};

use super::{PgStorage, db, execute, query, query_one};

/// An item claimed: its place in the run and its grant.
#[derive(Debug, Clone)]
pub struct RunItem {
    pub seq: i32,
    pub grant: GrantUid,
}

/// A run not yet finished.
#[derive(Debug, Clone)]
pub struct OpenRun {
    pub id: i64,
    pub requested_by: String,
    pub concurrency: usize,
}

/// How far a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunProgress {
    pub total: usize,
    pub done: usize,
}

fn count(n: i64) -> usize {
    usize::try_from(n).unwrap_or(0)
}

impl PgStorage {
    /// A new run of `grants`, in one transaction.
    pub async fn run_create(
        &self,
        requested_by: &str,
        concurrency: usize,
        grants: &[GrantUid],
        now: Timestamp,
    ) -> Result<OpenRun, StoreError> {
        let concurrency = concurrency.clamp(1, 1024);
        db(async {
            let mut conn = self.conn().await?;
            let tx = conn.transaction().await?;
            let row = query_one(
                &tx,
                "INSERT INTO refresh_runs (requested_by, concurrency, total, created_at)
                 VALUES ($1, $2, $3, $4) RETURNING id",
                &[
                    &requested_by,
                    &i32::try_from(concurrency).unwrap_or(1024),
                    &i32::try_from(grants.len()).unwrap_or(i32::MAX),
                    &now.unix(),
                ],
            )
            .await?;
            let id: i64 = row.try_get(0)?;
            let uids: Vec<&str> = grants.iter().map(GrantUid::as_str).collect();
            execute(
                &tx,
                "INSERT INTO refresh_run_items (run_id, seq, grant_uid)
                 SELECT $1, n::INTEGER, uid FROM unnest($2::TEXT[]) WITH ORDINALITY AS t (uid, n)",
                &[&id, &uids],
            )
            .await?;
            tx.commit().await?;
            Ok(OpenRun {
                id,
                requested_by: requested_by.to_owned(),
                concurrency,
            })
        })
        .await
    }

    /// Runs not finished, oldest first.
    pub async fn open_runs(&self) -> Result<Vec<OpenRun>, StoreError> {
        db(async {
            let conn = self.conn().await?;
            query(
                &conn,
                "SELECT id, requested_by, concurrency FROM refresh_runs
                 WHERE finished_at IS NULL ORDER BY id",
                &[],
            )
            .await?
            .iter()
            .map(|row| {
                Ok(OpenRun {
                    id: row.try_get(0)?,
                    requested_by: row.try_get(1)?,
                    concurrency: count(i64::from(row.try_get::<_, i32>(2)?)),
                })
            })
            .collect()
        })
        .await
    }

    /// Claims up to `want` items of run `id` for `replica` (none once the run is finished:
    /// done, or stopped early). Items claimed before
    /// `stale_before` and never finished (their replica died) are claimed again. Rows another
    /// replica is claiming are skipped, not waited for, and no item is claimed twice.
    pub async fn run_claim(
        &self,
        id: i64,
        replica: &str,
        want: usize,
        now: Timestamp,
        stale_before: Timestamp,
    ) -> Result<Vec<RunItem>, StoreError> {
        if want == 0 {
            return Ok(Vec::new());
        }
        db(async {
            let conn = self.conn().await?;
            query(
                &conn,
                "UPDATE refresh_run_items SET claimed_by = $2, claimed_at = $3
                 WHERE run_id = $1 AND seq IN (
                     SELECT seq FROM refresh_run_items
                     WHERE run_id = $1 AND done_at IS NULL
                       AND (claimed_at IS NULL OR claimed_at < $4)
                       AND EXISTS (SELECT 1 FROM refresh_runs
                                   WHERE id = $1 AND finished_at IS NULL)
                     ORDER BY seq LIMIT $5
                     FOR UPDATE SKIP LOCKED)
                 RETURNING seq, grant_uid",
                &[
                    &id,
                    &replica,
                    &now.unix(),
                    &stale_before.unix(),
                    &i64::try_from(want).unwrap_or(i64::MAX),
                ],
            )
            .await?
            .iter()
            .map(|row| {
                Ok(RunItem {
                    seq: row.try_get(0)?,
                    grant: GrantUid::parse(row.try_get(1)?)?,
                })
            })
            .collect()
        })
        .await
    }

    /// Records an item's outcome.
    pub async fn run_done(
        &self,
        id: i64,
        seq: i32,
        outcome: &RefreshOutcome,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        db(async {
            let conn = self.conn().await?;
            execute(
                &conn,
                "UPDATE refresh_run_items SET done_at = $3, sub = $4, email = $5, ok = $6,
                     error = $7
                 WHERE run_id = $1 AND seq = $2 AND done_at IS NULL",
                &[
                    &id,
                    &seq,
                    &now.unix(),
                    &outcome.sub,
                    &outcome.email,
                    &outcome.ok,
                    &outcome.error,
                ],
            )
            .await
            .map(drop)
        })
        .await
    }

    pub async fn run_progress(&self, id: i64) -> Result<RunProgress, StoreError> {
        db(async {
            let conn = self.conn().await?;
            let row = query_one(
                &conn,
                "SELECT r.total, (SELECT count(*) FROM refresh_run_items i
                                  WHERE i.run_id = r.id AND i.done_at IS NOT NULL)
                 FROM refresh_runs r WHERE r.id = $1",
                &[&id],
            )
            .await?;
            Ok(RunProgress {
                total: count(i64::from(row.try_get::<_, i32>(0)?)),
                done: count(row.try_get(1)?),
            })
        })
        .await
    }

    pub async fn run_finish(&self, id: i64, now: Timestamp) -> Result<(), StoreError> {
        db(async {
            let conn = self.conn().await?;
            execute(
                &conn,
                "UPDATE refresh_runs SET finished_at = $2 WHERE id = $1 AND finished_at IS NULL",
                &[&id, &now.unix()],
            )
            .await
            .map(drop)
        })
        .await
    }

    /// Forgets runs finished before `before` (their items with them).
    pub async fn run_prune(&self, before: Timestamp) -> Result<(), StoreError> {
        db(async {
            let conn = self.conn().await?;
            execute(
                &conn,
                "DELETE FROM refresh_runs WHERE finished_at < $1",
                &[&before.unix()],
            )
            .await
            .map(drop)
        })
        .await
    }

    /// Every item's outcome, in the run's order.
    pub async fn run_outcomes(&self, id: i64) -> Result<Vec<RefreshOutcome>, StoreError> {
        db(async {
            let conn = self.conn().await?;
            query(
                &conn,
                "SELECT sub, email, ok, error FROM refresh_run_items
                 WHERE run_id = $1 AND done_at IS NOT NULL ORDER BY seq",
                &[&id],
            )
            .await?
            .iter()
            .map(|row| {
                Ok(RefreshOutcome {
                    sub: row.try_get::<_, Option<String>>(0)?.unwrap_or_default(),
                    email: row.try_get(1)?,
                    ok: row.try_get::<_, Option<bool>>(2)?.unwrap_or(false),
                    error: row.try_get(3)?,
                })
            })
            .collect()
        })
        .await
    }
}
