//! Live events for the admin API's clients: what happens on any replica (a sign-in reaching a
//! receiver, a colleague's refresh or revoke, a client added) as it commits.
//!
//! Each replica keeps one connection of its own `LISTEN`ing on `tokendesk_audit`, where the
//! database announces every new audit entry by id (migration 0009; an admin API call's own
//! record is not announced). The replica reads the announced entries once and hands them to
//! every subscriber on it ([`Events::subscribe`]). When that connection breaks (the database
//! restarts), the replica reconnects with a growing pause and first reads what it missed by
//! id, so subscribers lose nothing; a subscriber too slow to keep up is told how far it got
//! and reads the rest from the database ([`Events::replay`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use tokendesk_core::store::{AuditEntry, StoreError};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use crate::PgStorage;

pub const CHANNEL: &str = "tokendesk_audit";
/// At most this many entries are read at once (a replay, a catch-up).
pub const BATCH: usize = 500;
/// Entries buffered for subscribers before a slow one is told it lagged.
const BUFFER: usize = 1024;
const RETRY_FIRST: Duration = Duration::from_millis(250);
const RETRY_MAX: Duration = Duration::from_secs(10);

#[derive(Debug)]
pub struct Events {
    pg: PgStorage,
    sender: broadcast::Sender<Arc<AuditEntry>>,
    /// The newest id handed out, for the catch-up after a reconnect.
    last: AtomicI64,
}

impl Events {
    /// Starts listening; the task ends when the returned handle is aborted.
    pub async fn start(pg: PgStorage) -> Result<(Arc<Self>, JoinHandle<()>), StoreError> {
        let last = pg.audit_last_id().await?;
        let (sender, _) = broadcast::channel(BUFFER);
        let events = Arc::new(Events {
            pg,
            sender,
            last: AtomicI64::new(last),
        });
        let task = tokio::spawn(Arc::clone(&events).run());
        Ok((events, task))
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<AuditEntry>> {
        self.sender.subscribe()
    }

    /// The entries after `after_id` from the database, oldest first (a client reconnecting
    /// with `Last-Event-ID`, or one that lagged).
    pub async fn replay(&self, after_id: i64) -> Result<Vec<AuditEntry>, StoreError> {
        self.pg.audit_after(after_id, BATCH).await
    }

    fn hand_out(&self, entries: Vec<AuditEntry>) {
        for entry in entries {
            self.last.fetch_max(entry.id, Ordering::Relaxed);
            // No subscriber is not an error: nobody is watching.
            let _ = self.sender.send(Arc::new(entry));
        }
    }

    async fn run(self: Arc<Self>) {
        let mut pause = RETRY_FIRST;
        loop {
            match self.pg.listen(CHANNEL).await {
                Ok((_client, mut notices)) => {
                    pause = RETRY_FIRST;
                    // What committed while nobody listened (the first time: nothing).
                    if let Err(err) = self.catch_up().await {
                        tracing::warn!(%err, "could not read the audit entries missed");
                    }
                    while let Some(first) = notices.recv().await {
                        let mut ids = vec![first];
                        while let Ok(more) = notices.try_recv() {
                            ids.push(more);
                        }
                        let ids: Vec<i64> = ids
                            .iter()
                            .filter_map(|n| n.payload().parse().ok())
                            .collect();
                        match self.pg.audit_by_ids(&ids).await {
                            Ok(entries) => self.hand_out(entries),
                            Err(err) => {
                                tracing::warn!(%err, "could not read announced audit entries")
                            }
                        }
                    }
                    tracing::warn!("the database connection for live events closed; reconnecting");
                }
                Err(err) => {
                    tracing::warn!(%err, retry_in = ?pause, "cannot listen for live events");
                }
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(RETRY_MAX);
        }
    }

    async fn catch_up(&self) -> Result<(), StoreError> {
        loop {
            let after = self.last.load(Ordering::Relaxed);
            let entries = self.pg.audit_after(after, BATCH).await?;
            let full = entries.len() == BATCH;
            self.hand_out(entries);
            if !full {
                return Ok(());
            }
        }
    }
}
