//! The embedded store as a [`Storage`]: the SQLite file behind a mutex, every call on the
//! blocking pool (a commit flushes to disk, a search reads pages), OS file locks in
//! `DATA/locks/` for what spans processes, and refreshes that finish together committed as
//! one group (one disk flush for many).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;

use super::locks::{self, Locks};
use super::{ExchangeSuccess, Held, RefreshStateChange, RefreshSuccess, Result, Storage};
use crate::seal::{SealedSecret, WrappedDataKey};
use crate::store::{
    AuditEntry, AuditFilter, Claim, Client, ClientUid, CodeHash, Exchange, ExchangeFinish,
    ExchangeId, Grant, GrantUid, HttpLogEntry, NewAuditEntry, NewClient, NewHttpLogEntry, Store,
    StoreError, StoreOptions, Timestamp, User, UserId, WriteTx,
};

/// A write that can join a group commit: run in the group's transaction, and again alone in
/// a transaction of its own if the group fails.
type GroupedWrite = Box<dyn Fn(&WriteTx<'_>) -> Result<()> + Send>;
type QueuedWrite = (GroupedWrite, tokio::sync::oneshot::Sender<Result<()>>);

/// The SQLite file of one data directory and the lock files beside it.
pub struct SqliteStorage {
    store: Arc<Mutex<Store>>,
    /// Writes waiting for the next group commit (see `write_grouped`).
    queue: Arc<Mutex<Vec<QueuedWrite>>>,
    locks: Locks,
    path: PathBuf,
}

impl std::fmt::Debug for SqliteStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStorage")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteStorage {
    /// Opens (creating, migrating) `tokendesk.sqlite3` in `data_dir`. Blocks: SQLite's
    /// integrity check reads every page.
    pub fn open(data_dir: &Path, options: &StoreOptions) -> Result<Self> {
        let path = data_dir.join("tokendesk.sqlite3");
        let store = Store::open_with(&path, options)?;
        Ok(Self {
            store: Arc::new(Mutex::new(store)),
            queue: Arc::default(),
            locks: Locks::open(data_dir)?,
            path,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn locks(&self) -> &Locks {
        &self.locks
    }

    /// The SQLite store itself, for embedded-only work (the 0.1 upgrade) and tests. Blocks.
    pub fn with_store<T>(&self, f: impl FnOnce(&mut Store) -> T) -> T {
        f(&mut self.store.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Runs `f` on the store on the blocking pool.
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let store = Arc::clone(&self.store);
        tokio::task::spawn_blocking(move || {
            f(&mut store.lock().unwrap_or_else(PoisonError::into_inner))
        })
        .await
        .map_err(|e| StoreError::TaskLost {
            detail: e.to_string(),
        })?
    }

    /// Runs `f` in one write transaction on the blocking pool, committing if it succeeds.
    async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&WriteTx<'_>) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        self.run(move |store| store.write_with(f)).await
    }

    /// Commits `write` in one transaction with the writes other tasks queued meanwhile (group
    /// commit): `refresh_all` finishes up to `concurrency` refreshes at once, and one disk
    /// flush for all of them instead of one each keeps the store off its critical path.
    /// Returns once the transaction holding `write` committed. If the group fails, each write
    /// is retried alone, so one bad write fails only itself.
    async fn write_grouped(&self, write: GroupedWrite) -> Result<()> {
        let (done, outcome) = tokio::sync::oneshot::channel();
        self.queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((write, done));
        let queue = Arc::clone(&self.queue);
        self.run(move |store| {
            // Whoever gets the store first commits everything queued by then; the tasks that
            // find the queue empty had their writes taken by an earlier group.
            let group = std::mem::take(&mut *queue.lock().unwrap_or_else(PoisonError::into_inner));
            if group.is_empty() {
                return Ok(());
            }
            let together = store.write().and_then(|tx| {
                for (write, _) in &group {
                    write(&tx)?;
                }
                tx.commit()
            });
            for (write, done) in group {
                let result = match &together {
                    Ok(()) => Ok(()),
                    Err(_) => store.write_with(|tx| write(tx)),
                };
                let _ = done.send(result);
            }
            Ok(())
        })
        .await?;
        outcome.await.map_err(|_| StoreError::TaskLost {
            detail: "a grouped write was dropped".into(),
        })?
    }
}

fn lock_held(guard: locks::LockGuard) -> Held {
    Box::new(guard)
}

#[async_trait]
impl Storage for SqliteStorage {
    async fn store_id(&self) -> Result<String> {
        self.write(|tx| tx.keys_mut().ensure_store_id()).await
    }

    fn location(&self) -> String {
        self.path.display().to_string()
    }

    async fn data_keys(&self) -> Result<Vec<WrappedDataKey>> {
        self.run(|s| s.keys().all()).await
    }

    async fn init_data_key(&self, first: WrappedDataKey) -> Result<Vec<WrappedDataKey>> {
        self.write(move |tx| {
            if tx.keys().all()?.is_empty() {
                tx.keys_mut().insert(&first, Timestamp::now())?;
            }
            tx.keys().all()
        })
        .await
    }

    async fn rewrap_data_keys(
        &self,
        wraps: Vec<WrappedDataKey>,
        retire_others: bool,
    ) -> Result<()> {
        self.write(move |tx| {
            for w in &wraps {
                tx.keys_mut().insert(w, Timestamp::now())?;
            }
            if retire_others && let Some(w) = wraps.first() {
                tx.keys_mut().retire_others(&w.kek_id)?;
            }
            Ok(())
        })
        .await
    }

    async fn clients(&self) -> Result<Vec<Client>> {
        self.run(|s| s.clients().list()).await
    }

    async fn client(&self, uid: &ClientUid) -> Result<Option<Client>> {
        let uid = uid.clone();
        self.run(move |s| s.clients().get(&uid)).await
    }

    async fn client_by_name(&self, name: &str) -> Result<Option<Client>> {
        let name = name.to_owned();
        self.run(move |s| s.clients().get_by_name(&name)).await
    }

    async fn add_client(
        &self,
        uid: ClientUid,
        new: NewClient,
        secret: SealedSecret,
        audit: NewAuditEntry,
        now: Timestamp,
    ) -> Result<Client> {
        self.write(move |tx| {
            tx.clients_mut().insert_as(&uid, &new, &secret, now)?;
            tx.audit_mut().record(&audit, now)?;
            tx.clients().get(&uid)?.ok_or_else(|| StoreError::NotFound {
                what: format!("client {uid}"),
            })
        })
        .await
    }

    async fn remove_client(
        &self,
        uid: &ClientUid,
        audit: NewAuditEntry,
        now: Timestamp,
    ) -> Result<()> {
        let uid = uid.clone();
        self.write(move |tx| {
            tx.clients_mut().remove(&uid)?;
            tx.audit_mut().record(&audit, now).map(drop)
        })
        .await
    }

    async fn user(&self, id: UserId) -> Result<Option<User>> {
        self.run(move |s| s.users().get(id)).await
    }

    async fn users_by_id(&self, ids: &[UserId]) -> Result<Vec<User>> {
        let ids = ids.to_vec();
        self.run(move |s| {
            let users = s.users();
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                out.extend(users.get(id)?);
            }
            Ok(out)
        })
        .await
    }

    async fn find_users(&self, text: &str) -> Result<Vec<User>> {
        let text = text.to_owned();
        self.run(move |s| s.users().find_by_sub_or_email(&text))
            .await
    }

    async fn search_users(&self, text: &str, limit: usize) -> Result<Vec<User>> {
        let text = text.to_owned();
        self.run(move |s| s.users().search(&text, limit)).await
    }

    async fn users_page(&self, offset: usize, limit: usize) -> Result<(Vec<User>, u64)> {
        self.run(move |s| Ok((s.users().page(offset, limit)?, s.users().count()?)))
            .await
    }

    async fn grant(&self, uid: &GrantUid) -> Result<Option<Grant>> {
        let uid = uid.clone();
        self.run(move |s| s.grants().get(&uid)).await
    }

    async fn grants_of(&self, users: &[UserId]) -> Result<Vec<Grant>> {
        let users = users.to_vec();
        self.run(move |s| {
            let mut out = Vec::new();
            for user in users {
                out.extend(s.grants().for_user(user)?);
            }
            Ok(out)
        })
        .await
    }

    async fn grants_to_refresh(&self) -> Result<Vec<Grant>> {
        self.run(|s| s.grants().to_refresh()).await
    }

    async fn grants_needing_attention(
        &self,
        expiring_before: Timestamp,
        limit: usize,
    ) -> Result<(Vec<Grant>, u64)> {
        self.run(move |s| s.grants().needing_attention(expiring_before, limit))
            .await
    }

    async fn store_rotated_refresh_token(
        &self,
        grant: &GrantUid,
        sealed: SealedSecret,
        now: Timestamp,
    ) -> Result<()> {
        let grant = grant.clone();
        self.write(move |tx| tx.grants_mut().rotate_refresh_token(&grant, &sealed, now))
            .await
    }

    async fn save_refresh(&self, r: RefreshSuccess) -> Result<()> {
        self.write_grouped(Box::new(move |tx| {
            if let Some(profile) = &r.profile {
                tx.users_mut().upsert(profile, None, r.now)?;
            }
            tx.grants_mut().refreshed(
                &r.grant,
                &r.access_token,
                r.access_token_expires_at,
                &r.scopes,
                r.now,
            )?;
            tx.audit_mut().record(&r.audit, r.now).map(drop)
        }))
        .await
    }

    async fn change_refresh_state(&self, c: RefreshStateChange) -> Result<()> {
        self.write(move |tx| {
            tx.grants_mut().set_refresh_state(
                &c.grant,
                c.state,
                c.reason.as_deref(),
                c.drop_tokens,
                c.now,
            )?;
            if let Some(audit) = &c.audit {
                tx.audit_mut().record(audit, c.now)?;
            }
            Ok(())
        })
        .await
    }

    async fn claim_code(
        &self,
        code: CodeHash,
        client: &ClientUid,
        now: Timestamp,
    ) -> Result<Claim> {
        let client = client.clone();
        self.write(move |tx| tx.exchanges_mut().claim(code, Some(&client), now))
            .await
    }

    async fn release_claim(
        &self,
        id: ExchangeId,
        audit: NewAuditEntry,
        now: Timestamp,
    ) -> Result<()> {
        self.write(move |tx| {
            tx.exchanges_mut().release(id)?;
            tx.audit_mut().record(&audit, now).map(drop)
        })
        .await
    }

    async fn keep_token_response(&self, id: ExchangeId, sealed: SealedSecret) -> Result<()> {
        self.write(move |tx| tx.exchanges_mut().keep_response(id, &sealed))
            .await
    }

    async fn fail_exchange(
        &self,
        id: ExchangeId,
        finish: ExchangeFinish,
        audit: NewAuditEntry,
        now: Timestamp,
    ) -> Result<()> {
        self.write(move |tx| {
            tx.exchanges_mut().finish(id, &finish, now)?;
            tx.audit_mut().record(&audit, now).map(drop)
        })
        .await
    }

    async fn complete_exchange(&self, s: ExchangeSuccess) -> Result<(User, Grant)> {
        self.write(move |tx| {
            let user_id = tx.users_mut().upsert(&s.profile, Some(&s.claims), s.now)?;
            tx.users_mut().set_id_token(user_id, &s.id_token_report)?;
            tx.grants_mut().put(&s.grant_write(user_id), s.now)?;
            tx.exchanges_mut()
                .finish(s.exchange, &s.finish(user_id), s.now)?;
            tx.audit_mut().record(&s.audit_entry(user_id), s.now)?;
            let missing = |what: String| StoreError::NotFound { what };
            let user = tx
                .users()
                .get(user_id)?
                .ok_or_else(|| missing(user_id.to_string()))?;
            let grant = tx
                .grants()
                .get(&s.grant)?
                .ok_or_else(|| missing(format!("grant {}", s.grant)))?;
            Ok((user, grant))
        })
        .await
    }

    async fn pending_exchanges(&self) -> Result<Vec<Exchange>> {
        self.run(|s| s.exchanges().pending()).await
    }

    async fn exchange(&self, id: ExchangeId) -> Result<Option<Exchange>> {
        self.run(move |s| s.exchanges().get(id)).await
    }

    async fn record_audit(&self, entry: NewAuditEntry, now: Timestamp) -> Result<()> {
        self.write(move |tx| tx.audit_mut().record(&entry, now).map(drop))
            .await
    }

    async fn audit(&self, filter: AuditFilter) -> Result<Vec<AuditEntry>> {
        self.run(move |s| s.audit().filtered(&filter)).await
    }

    async fn keep_http(&self, entry: NewHttpLogEntry, keep: usize, now: Timestamp) -> Result<()> {
        // Grouped: `refresh_all` keeps one entry per user, committed with the refreshes.
        self.write_grouped(Box::new(move |tx| {
            tx.http_log_mut().keep(&entry, keep, now).map(drop)
        }))
        .await
    }

    async fn http_log(&self, user: UserId, limit: usize) -> Result<Vec<HttpLogEntry>> {
        self.run(move |s| s.http_log().for_user(user, limit)).await
    }

    async fn http_log_entry(&self, user: UserId, id: i64) -> Result<Option<HttpLogEntry>> {
        self.run(move |s| s.http_log().entry(user, id)).await
    }

    async fn lock_grant(&self, grant: &GrantUid) -> Result<Held> {
        let name = locks::grant_lock_name(grant.as_str());
        Ok(lock_held(self.locks.exclusive(&name, false).await?))
    }

    async fn lock_exchange(&self, code: CodeHash) -> Result<Held> {
        let name = locks::exchange_lock_name(&code.row_name());
        Ok(lock_held(self.locks.exclusive(&name, true).await?))
    }

    async fn try_lock_exchange(&self, code: CodeHash) -> Result<Option<Held>> {
        let name = locks::exchange_lock_name(&code.row_name());
        Ok(self.locks.try_exclusive(&name, true)?.map(lock_held))
    }
}
