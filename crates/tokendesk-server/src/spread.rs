//! "Refresh every user" spread over every replica of one database. The replica asked writes
//! a run (one item per grant) and works on it; every other replica finds it within a second
//! and works on it too, each with up to the run's concurrency in flight (so more replicas
//! finish sooner). Items are claimed in the database, so no grant is refreshed twice. A
//! replica killed mid-run leaves claims that expire after the lease and are taken over. The
//! replica asked answers when every item has an outcome.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokendesk_core::desk::{Desk, DeskError, ErrorKind, RefreshAllReport, StopFlag, acting_as};
use tokio::task::JoinSet;

use crate::pg::{OpenRun, PgStorage, RunItem};

/// How long a claimed item is its replica's: a refresh takes seconds at most (timeouts and
/// retries included), so a claim this old belongs to a replica that died.
const LEASE_SECONDS: i64 = 120;
/// How long a finished run's outcomes are kept (the audit log keeps each refresh for good).
const KEEP_SECONDS: i64 = 24 * 3600;
/// How often a replica looks for runs others started.
const POLL: Duration = Duration::from_secs(1);
/// How often the replica asked checks a run it has no more items of (others hold them).
const WAIT: Duration = Duration::from_millis(200);

/// This replica's part in shared runs.
#[derive(Debug)]
pub struct Spread {
    desk: Arc<Desk>,
    pg: PgStorage,
    /// This replica's name in claims (host and process id).
    replica: String,
    /// Runs this process works on now: one worker per run per process.
    working: Mutex<HashSet<i64>>,
}

/// Marks a run as worked on here until dropped.
struct Working<'a> {
    spread: &'a Spread,
    run: i64,
}

impl Drop for Working<'_> {
    fn drop(&mut self) {
        self.spread
            .working
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.run);
    }
}

impl Spread {
    pub fn new(desk: Arc<Desk>, pg: PgStorage, replica: String) -> Self {
        Self {
            desk,
            pg,
            replica,
            working: Mutex::new(HashSet::new()),
        }
    }

    /// Refreshes every grant with a live refresh token, with the other replicas, each with
    /// at most `concurrency` in flight; answers when all are done. `stop` (the caller gone)
    /// ends the run where it is: no replica starts another of its refreshes, those under way
    /// finish, and the report counts the rest as skipped.
    pub async fn refresh_all(
        &self,
        actor: &str,
        concurrency: usize,
        stop: &StopFlag,
    ) -> Result<RefreshAllReport, DeskError> {
        let grants: Vec<_> = self
            .desk
            .storage()
            .grants_to_refresh()
            .await?
            .into_iter()
            .map(|g| g.uid)
            .collect();
        let now = self.desk.now();
        self.pg.run_prune(now.plus_seconds(-KEEP_SECONDS)).await?;
        let run = self.pg.run_create(actor, concurrency, &grants, now).await?;
        tracing::info!(
            run = run.id,
            grants = grants.len(),
            "refresh-all run started"
        );
        let total = loop {
            self.work(&run, stop).await?;
            let progress = self.pg.run_progress(run.id).await?;
            if progress.done >= progress.total || stop.is_stopped() {
                break progress.total;
            }
            tokio::time::sleep(WAIT).await;
        };
        self.pg.run_finish(run.id, self.desk.now()).await?;
        if stop.is_stopped() {
            tracing::info!(run = run.id, "refresh-all run stopped: its caller left");
        }
        let outcomes = self.pg.run_outcomes(run.id).await?;
        let refreshed = outcomes.iter().filter(|o| o.ok).count();
        Ok(RefreshAllReport {
            total,
            refreshed,
            failed: outcomes.len() - refreshed,
            skipped: total.saturating_sub(outcomes.len()),
            outcomes,
        })
    }

    /// Works on runs other replicas start, until the process ends.
    pub fn start_helping(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let spread = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(POLL).await;
                let runs = match spread.pg.open_runs().await {
                    Ok(runs) => runs,
                    Err(err) => {
                        tracing::debug!(code = err.code(), "cannot look for refresh-all runs");
                        continue;
                    }
                };
                for run in runs {
                    let spread = Arc::clone(&spread);
                    tokio::spawn(async move {
                        if let Err(err) = spread.help(&run).await {
                            tracing::warn!(
                                run = run.id,
                                code = err.code(),
                                "refresh-all work stopped"
                            );
                        }
                    });
                }
            }
        })
    }

    /// Works on another replica's run; finishes it when it is complete (the replica that
    /// started it may have died, or its caller left).
    async fn help(&self, run: &OpenRun) -> Result<(), DeskError> {
        self.work(run, &StopFlag::default()).await?;
        let progress = self.pg.run_progress(run.id).await?;
        if progress.done >= progress.total {
            self.pg.run_finish(run.id, self.desk.now()).await?;
        }
        Ok(())
    }

    /// Claims and refreshes items of `run` until there are none left to claim here (a run
    /// finished early hands out none). Returns at once if this process already works on it.
    /// Once `stop` is set the run is finished, so no replica claims more, and those in
    /// flight here are waited for.
    async fn work(&self, run: &OpenRun, stop: &StopFlag) -> Result<(), DeskError> {
        if !self
            .working
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(run.id)
        {
            return Ok(());
        }
        let _working = Working {
            spread: self,
            run: run.id,
        };
        let mut in_flight: JoinSet<Result<(), DeskError>> = JoinSet::new();
        let mut stopped = false;
        loop {
            if stop.is_stopped() && !stopped {
                stopped = true;
                self.pg.run_finish(run.id, self.desk.now()).await?;
            }
            let room = if stopped {
                0
            } else {
                run.concurrency.saturating_sub(in_flight.len())
            };
            let claimed = if room > 0 {
                let now = self.desk.now();
                self.pg
                    .run_claim(
                        run.id,
                        &self.replica,
                        room,
                        now,
                        now.plus_seconds(-LEASE_SECONDS),
                    )
                    .await?
            } else {
                Vec::new()
            };
            for item in claimed.iter().cloned() {
                in_flight.spawn(self.refresh_item(run, item));
            }
            if in_flight.is_empty() {
                if claimed.is_empty() {
                    return Ok(());
                }
                continue;
            }
            // The next refresh to end, woken now and then to see the stop flag (once set, the
            // loop's top finishes the run).
            let joined = loop {
                match tokio::time::timeout(WAIT, in_flight.join_next()).await {
                    Ok(joined) => break Some(joined),
                    Err(_) if stop.is_stopped() && !stopped => break None,
                    Err(_) => {}
                }
            };
            let Some(joined) = joined else {
                continue;
            };
            match joined {
                Some(Ok(Err(err))) => {
                    tracing::warn!(run = run.id, code = err.code(), "a refresh-all item failed")
                }
                Some(Err(err)) => tracing::error!(run = run.id, %err, "a refresh-all task died"),
                _ => {}
            }
        }
    }

    /// One item, as its requester (the audit log names them), its outcome recorded. When the
    /// database is out, the item is left claimed: its lease runs out and it is done again.
    fn refresh_item(
        &self,
        run: &OpenRun,
        item: RunItem,
    ) -> impl Future<Output = Result<(), DeskError>> + Send + 'static {
        let desk = Arc::clone(&self.desk);
        let pg = self.pg.clone();
        let (run_id, actor) = (run.id, run.requested_by.clone());
        acting_as(actor, async move {
            let outcome = match desk.refresh_grant(&item.grant).await {
                Ok(outcome) => outcome,
                Err(err) if err.kind() == ErrorKind::Unavailable => return Err(err),
                Err(err) => tokendesk_core::desk::RefreshOutcome {
                    sub: String::new(),
                    email: None,
                    ok: false,
                    error: Some(err.code().to_owned()),
                },
            };
            pg.run_done(run_id, item.seq, &outcome, desk.now()).await?;
            Ok(())
        })
    }
}
