//! [`PgStorage`] as the facade's [`Storage`]: each method one transaction (a single statement
//! is one by itself; several reads share a REPEATABLE READ snapshot), with the same
//! semantics as the embedded store's.

use async_trait::async_trait;
use tokendesk_core::seal::{SealedSecret, WrappedDataKey};
use tokendesk_core::storage::{
    ExchangeSuccess, Held, RefreshStateChange, RefreshSuccess, Result, Storage,
};
use tokendesk_core::store::{
    AuditEntry, AuditFilter, Claim, Client, ClientUid, CodeHash, Exchange, ExchangeFinish,
    ExchangeId, Grant, GrantUid, HttpLogEntry, NewAuditEntry, NewClient, NewHttpLogEntry,
    StoreError, Timestamp, User, UserId,
};
use tokio_postgres::IsolationLevel;

use super::{PgStorage, audit, clients, db, exchanges, grants, http_log, keys, locks, users};

fn held(lock: locks::AdvisoryLock) -> Held {
    Box::new(lock)
}

fn missing(what: String) -> StoreError {
    StoreError::NotFound { what }
}

#[async_trait]
impl Storage for PgStorage {
    async fn store_id(&self) -> Result<String> {
        db(async { keys::store_id(&self.conn().await?).await }).await
    }

    fn location(&self) -> String {
        self.location.clone()
    }

    async fn data_keys(&self) -> Result<Vec<WrappedDataKey>> {
        db(async { keys::all(&self.conn().await?).await }).await
    }

    async fn init_data_key(&self, first: WrappedDataKey) -> Result<Vec<WrappedDataKey>> {
        db(async {
            let mut conn = self.conn().await?;
            let tx = conn.transaction().await?;
            keys::lock(&tx).await?;
            if keys::all(&tx).await?.is_empty() {
                keys::insert(&tx, &first, Timestamp::now()).await?;
            }
            let wraps = keys::all(&tx).await?;
            tx.commit().await?;
            Ok(wraps)
        })
        .await
    }

    async fn rewrap_data_keys(
        &self,
        wraps: Vec<WrappedDataKey>,
        retire_others: bool,
    ) -> Result<()> {
        db(async {
            let mut conn = self.conn().await?;
            let tx = conn.transaction().await?;
            keys::lock(&tx).await?;
            for w in &wraps {
                keys::insert(&tx, w, Timestamp::now()).await?;
            }
            if retire_others && let Some(w) = wraps.first() {
                keys::retire_others(&tx, &w.kek_id).await?;
            }
            Ok(tx.commit().await?)
        })
        .await
    }

    async fn clients(&self) -> Result<Vec<Client>> {
        db(async { clients::list(&self.conn().await?).await }).await
    }

    async fn client(&self, uid: &ClientUid) -> Result<Option<Client>> {
        db(async { clients::get(&self.conn().await?, uid).await }).await
    }

    async fn client_by_name(&self, name: &str) -> Result<Option<Client>> {
        db(async { clients::by_name(&self.conn().await?, name).await }).await
    }

    async fn add_client(
        &self,
        uid: ClientUid,
        new: NewClient,
        secret: SealedSecret,
        audit: NewAuditEntry,
        now: Timestamp,
    ) -> Result<Client> {
        db(async {
            let mut conn = self.conn().await?;
            let tx = conn.transaction().await?;
            clients::insert(&tx, &uid, &new, &secret, now).await?;
            audit::record(&tx, &audit, now).await?;
            let client = clients::get(&tx, &uid)
                .await?
                .ok_or_else(|| missing(format!("client {uid}")))?;
            tx.commit().await?;
            Ok(client)
        })
        .await
    }

    async fn remove_client(
        &self,
        uid: &ClientUid,
        audit: NewAuditEntry,
        now: Timestamp,
    ) -> Result<()> {
        db(async {
            let mut conn = self.conn().await?;
            let tx = conn.transaction().await?;
            clients::remove(&tx, uid).await?;
            audit::record(&tx, &audit, now).await?;
            Ok(tx.commit().await?)
        })
        .await
    }

    async fn user(&self, id: UserId) -> Result<Option<User>> {
        db(async { users::get(&self.conn().await?, id).await }).await
    }

    async fn users_by_id(&self, ids: &[UserId]) -> Result<Vec<User>> {
        db(async { users::by_ids(&self.conn().await?, ids).await }).await
    }

    async fn find_users(&self, text: &str) -> Result<Vec<User>> {
        db(async { users::by_sub_or_email(&self.conn().await?, text).await }).await
    }

    async fn search_users(&self, text: &str, limit: usize) -> Result<Vec<User>> {
        db(async {
            let mut conn = self.conn().await?;
            let tx = snapshot(&mut conn).await?;
            let found = users::search(&tx, text, limit).await?;
            tx.commit().await?;
            Ok(found)
        })
        .await
    }

    async fn users_page(&self, offset: usize, limit: usize) -> Result<(Vec<User>, u64)> {
        db(async {
            let mut conn = self.conn().await?;
            let tx = snapshot(&mut conn).await?;
            let page = users::page(&tx, offset, limit).await?;
            let count = users::count(&tx).await?;
            tx.commit().await?;
            Ok((page, count))
        })
        .await
    }

    async fn grant(&self, uid: &GrantUid) -> Result<Option<Grant>> {
        db(async { grants::get(&self.conn().await?, uid).await }).await
    }

    async fn grants_of(&self, users: &[UserId]) -> Result<Vec<Grant>> {
        db(async { grants::of_users(&self.conn().await?, users).await }).await
    }

    async fn grants_to_refresh(&self) -> Result<Vec<Grant>> {
        db(async { grants::to_refresh(&self.conn().await?).await }).await
    }

    async fn grants_needing_attention(
        &self,
        expiring_before: Timestamp,
        limit: usize,
    ) -> Result<(Vec<Grant>, u64)> {
        db(async { grants::needing_attention(&self.conn().await?, expiring_before, limit).await })
            .await
    }

    async fn store_rotated_refresh_token(
        &self,
        grant: &GrantUid,
        sealed: SealedSecret,
        now: Timestamp,
    ) -> Result<()> {
        db(async { grants::rotate_refresh_token(&self.conn().await?, grant, &sealed, now).await })
            .await
    }

    async fn save_refresh(&self, r: RefreshSuccess) -> Result<()> {
        db(async {
            let mut conn = self.conn().await?;
            let tx = conn.transaction().await?;
            if let Some(profile) = &r.profile {
                users::upsert(&tx, profile, None, r.now).await?;
            }
            grants::refreshed(
                &tx,
                &r.grant,
                &r.access_token,
                r.access_token_expires_at,
                &r.scopes,
                r.now,
            )
            .await?;
            audit::record(&tx, &r.audit, r.now).await?;
            Ok(tx.commit().await?)
        })
        .await
    }

    async fn change_refresh_state(&self, c: RefreshStateChange) -> Result<()> {
        db(async {
            let mut conn = self.conn().await?;
            let tx = conn.transaction().await?;
            grants::set_refresh_state(
                &tx,
                &c.grant,
                c.state,
                c.reason.as_deref(),
                c.drop_tokens,
                c.now,
            )
            .await?;
            if let Some(entry) = &c.audit {
                audit::record(&tx, entry, c.now).await?;
            }
            Ok(tx.commit().await?)
        })
        .await
    }

    async fn claim_code(
        &self,
        code: CodeHash,
        client: &ClientUid,
        now: Timestamp,
    ) -> Result<Claim> {
        db(async { exchanges::claim(&self.conn().await?, code, client, now).await }).await
    }

    async fn release_claim(
        &self,
        id: ExchangeId,
        audit: NewAuditEntry,
        now: Timestamp,
    ) -> Result<()> {
        db(async {
            let mut conn = self.conn().await?;
            let tx = conn.transaction().await?;
            exchanges::release(&tx, id).await?;
            audit::record(&tx, &audit, now).await?;
            Ok(tx.commit().await?)
        })
        .await
    }

    async fn keep_token_response(&self, id: ExchangeId, sealed: SealedSecret) -> Result<()> {
        db(async { exchanges::keep_response(&self.conn().await?, id, &sealed).await }).await
    }

    async fn fail_exchange(
        &self,
        id: ExchangeId,
        finish: ExchangeFinish,
        audit: NewAuditEntry,
        now: Timestamp,
    ) -> Result<()> {
        db(async {
            let mut conn = self.conn().await?;
            let tx = conn.transaction().await?;
            exchanges::finish(&tx, id, &finish, now).await?;
            audit::record(&tx, &audit, now).await?;
            Ok(tx.commit().await?)
        })
        .await
    }

    async fn complete_exchange(&self, s: ExchangeSuccess) -> Result<(User, Grant)> {
        db(async {
            let mut conn = self.conn().await?;
            let tx = conn.transaction().await?;
            let user_id = users::upsert(&tx, &s.profile, Some(&s.claims), s.now).await?;
            users::set_id_token(&tx, user_id, &s.id_token_report).await?;
            grants::put(&tx, &s.grant_write(user_id), s.now).await?;
            exchanges::finish(&tx, s.exchange, &s.finish(user_id), s.now).await?;
            audit::record(&tx, &s.audit_entry(user_id), s.now).await?;
            let user = users::get(&tx, user_id)
                .await?
                .ok_or_else(|| missing(user_id.to_string()))?;
            let grant = grants::get(&tx, &s.grant)
                .await?
                .ok_or_else(|| missing(format!("grant {}", s.grant)))?;
            tx.commit().await?;
            Ok((user, grant))
        })
        .await
    }

    async fn pending_exchanges(&self) -> Result<Vec<Exchange>> {
        db(async { exchanges::pending(&self.conn().await?).await }).await
    }

    async fn exchange(&self, id: ExchangeId) -> Result<Option<Exchange>> {
        db(async { exchanges::get(&self.conn().await?, id).await }).await
    }

    async fn record_audit(&self, entry: NewAuditEntry, now: Timestamp) -> Result<()> {
        db(async { audit::record(&self.conn().await?, &entry, now).await }).await
    }

    async fn audit(&self, filter: AuditFilter) -> Result<Vec<AuditEntry>> {
        db(async { audit::filtered(&self.conn().await?, &filter).await }).await
    }

    async fn keep_http(&self, entry: NewHttpLogEntry, keep: usize, now: Timestamp) -> Result<()> {
        db(async {
            let mut conn = self.conn().await?;
            let tx = conn.transaction().await?;
            http_log::keep(&tx, &entry, keep, now).await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    async fn http_log(&self, user: UserId, limit: usize) -> Result<Vec<HttpLogEntry>> {
        db(async { http_log::for_user(&self.conn().await?, user, limit).await }).await
    }

    async fn http_log_entry(&self, user: UserId, id: i64) -> Result<Option<HttpLogEntry>> {
        db(async { http_log::entry(&self.conn().await?, user, id).await }).await
    }

    async fn lock_grant(&self, grant: &GrantUid) -> Result<Held> {
        let key = locks::grant_key(grant.as_str());
        db(async { locks::wait(&self.lock_pool, key).await.map(held) }).await
    }

    async fn lock_exchange(&self, code: CodeHash) -> Result<Held> {
        let key = locks::exchange_key(&code.row_name());
        db(async { locks::wait(&self.lock_pool, key).await.map(held) }).await
    }

    async fn try_lock_exchange(&self, code: CodeHash) -> Result<Option<Held>> {
        let key = locks::exchange_key(&code.row_name());
        db(async { Ok(locks::try_take(&self.lock_pool, key).await?.map(held)) }).await
    }
}

/// A read-only transaction whose statements all see one snapshot.
async fn snapshot(
    conn: &mut deadpool_postgres::Object,
) -> super::error::Result<deadpool_postgres::Transaction<'_>> {
    Ok(conn
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?)
}
