//! What the facade needs from a database: one trait, two implementations. The embedded store
//! ([`SqliteStorage`]: the SQLite file, OS file locks) and the team server's PostgreSQL store
//! (crate `tokendesk-server`: row and advisory locks) run the same operations.
//!
//! Each method is one transaction: a step of an operation whose persistence must be atomic
//! (a token and the row that holds it; a grant, its user, the exchange that made it and the
//! audit entry) is one call. Secrets arrive and leave sealed ([`SealedSecret`]): no
//! implementation ever sees a plaintext token. Every method may block on I/O inside, but never
//! the async runtime: an implementation over a synchronous driver runs it on the blocking pool.

#[cfg(feature = "storage-contract")]
pub mod contract;
pub mod locks;
mod sqlite;

use std::fmt;

use async_trait::async_trait;

pub use sqlite::SqliteStorage;

use crate::seal::{SealedSecret, WrappedDataKey};
use crate::store::{
    AuditEntry, AuditFilter, Claim, Client, ClientUid, CodeHash, Exchange, ExchangeFinish,
    ExchangeId, ExchangeOutcome, Grant, GrantUid, GrantWrite, HttpLogEntry, NewAuditEntry,
    NewClient, NewHttpLogEntry, RefreshTokenState, StoreError, Timestamp, User, UserId,
    UserProfile,
};

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A held lock of the storage's (a file lock, a database session's advisory lock): released
/// when dropped, and by the system when its holder dies.
pub type Held = Box<dyn Send + Sync + fmt::Debug>;

/// Everything a successful exchange writes, committed together.
#[derive(Debug)]
pub struct ExchangeSuccess {
    pub exchange: ExchangeId,
    pub client: ClientUid,
    pub profile: UserProfile,
    /// The verified ID token's claims, and how it was verified (the user page shows both).
    pub claims: serde_json::Value,
    pub id_token_report: serde_json::Value,
    /// The uid the tokens were sealed for: the user's existing grant with this client, or a
    /// new one. If the grant turns out to exist under another uid (another process created
    /// it meanwhile), the call fails with [`StoreError::GrantMoved`] and nothing is written.
    pub grant: GrantUid,
    pub azp: Option<String>,
    pub scopes: Vec<String>,
    pub access_token: SealedSecret,
    pub access_token_expires_at: Option<Timestamp>,
    /// `None`: the answer had no refresh token; an existing grant keeps its own.
    pub refresh_token: Option<SealedSecret>,
    pub request: Option<serde_json::Value>,
    pub response: Option<serde_json::Value>,
    pub audit: NewAuditEntry,
    pub now: Timestamp,
}

impl ExchangeSuccess {
    /// The grant this success writes, for the user its profile was stored as.
    pub fn grant_write(&self, user_id: UserId) -> GrantWrite<'_> {
        GrantWrite {
            uid: &self.grant,
            user_id,
            client: &self.client,
            scopes: &self.scopes,
            access_token_expires_at: self.access_token_expires_at,
            access_token: &self.access_token,
            refresh_token: self.refresh_token.as_ref(),
            azp: self.azp.as_deref(),
        }
    }

    /// How the exchange is recorded as finished.
    pub fn finish(&self, user_id: UserId) -> ExchangeFinish {
        ExchangeFinish {
            outcome: ExchangeOutcome::Succeeded,
            error_code: None,
            request: self.request.clone(),
            response: self.response.clone(),
            user_id: Some(user_id),
            grant: Some(self.grant.clone()),
        }
    }

    /// The audit entry, naming the user.
    pub fn audit_entry(&self, user_id: UserId) -> NewAuditEntry {
        NewAuditEntry {
            user_id: Some(user_id),
            ..self.audit.clone()
        }
    }
}

/// Everything a successful refresh writes, committed together.
#[derive(Debug)]
pub struct RefreshSuccess {
    pub grant: GrantUid,
    pub access_token: SealedSecret,
    pub access_token_expires_at: Option<Timestamp>,
    /// Empty: Google did not say; the grant keeps its scopes.
    pub scopes: Vec<String>,
    /// The refreshed ID token's profile claims (it may lack some: the store keeps those).
    pub profile: Option<UserProfile>,
    pub audit: NewAuditEntry,
    pub now: Timestamp,
}

/// A grant's new refresh-token state and what goes with it.
#[derive(Debug)]
pub struct RefreshStateChange {
    pub grant: GrantUid,
    pub state: RefreshTokenState,
    /// Why, when `Invalid`.
    pub reason: Option<String>,
    /// Dead tokens are worthless, and kept they only widen what a leak exposes.
    pub drop_tokens: bool,
    pub audit: Option<NewAuditEntry>,
    pub now: Timestamp,
}

/// The facade's database.
#[async_trait]
pub trait Storage: Send + Sync + fmt::Debug {
    /// This database's id (random, made when it was created): names its key in the keyring.
    async fn store_id(&self) -> Result<String>;
    /// Where it is, for people (a file path, a database URL without its password).
    fn location(&self) -> String;

    // ---- keys ------------------------------------------------------------------------------
    /// Every data key's wraps, oldest first.
    async fn data_keys(&self) -> Result<Vec<WrappedDataKey>>;
    /// Stores `first` if the database has no data key yet; returns the wraps it has after
    /// (`first`, or another process's that won the race).
    async fn init_data_key(&self, first: WrappedDataKey) -> Result<Vec<WrappedDataKey>>;
    /// A rotation: adds `wraps` (the data keys wrapped by a new key-encryption key) and, if
    /// `retire_others`, deletes every wrap by another key. One transaction.
    async fn rewrap_data_keys(&self, wraps: Vec<WrappedDataKey>, retire_others: bool)
    -> Result<()>;

    // ---- clients ---------------------------------------------------------------------------
    async fn clients(&self) -> Result<Vec<Client>>;
    async fn client(&self, uid: &ClientUid) -> Result<Option<Client>>;
    async fn client_by_name(&self, name: &str) -> Result<Option<Client>>;
    /// Inserts the client with its sealed secret (sealed for `uid`) and the audit entry.
    async fn add_client(
        &self,
        uid: ClientUid,
        new: NewClient,
        secret: SealedSecret,
        audit: NewAuditEntry,
        now: Timestamp,
    ) -> Result<Client>;
    async fn remove_client(
        &self,
        uid: &ClientUid,
        audit: NewAuditEntry,
        now: Timestamp,
    ) -> Result<()>;

    // ---- users -----------------------------------------------------------------------------
    async fn user(&self, id: UserId) -> Result<Option<User>>;
    async fn users_by_id(&self, ids: &[UserId]) -> Result<Vec<User>>;
    /// Users whose sub or email is exactly `text` (email without regard to case).
    async fn find_users(&self, text: &str) -> Result<Vec<User>>;
    /// The best `limit` matches of `text` in email, name and sub.
    async fn search_users(&self, text: &str, limit: usize) -> Result<Vec<User>>;
    /// `limit` users from `offset`, most recently updated first, and how many there are.
    async fn users_page(&self, offset: usize, limit: usize) -> Result<(Vec<User>, u64)>;

    // ---- grants ----------------------------------------------------------------------------
    async fn grant(&self, uid: &GrantUid) -> Result<Option<Grant>>;
    async fn grants_of(&self, users: &[UserId]) -> Result<Vec<Grant>>;
    /// Grants with a live refresh token (what `refresh --all` refreshes).
    async fn grants_to_refresh(&self) -> Result<Vec<Grant>>;
    /// Grants that need a person (the health sweep's list): a refresh token revoked, refused
    /// or with its revocation pending; no refresh token and an access token that is gone or
    /// expires before `expiring_before`; or no `drive.appdata` scope. The `limit` most recently
    /// updated, and how many there are in all.
    async fn grants_needing_attention(
        &self,
        expiring_before: Timestamp,
        limit: usize,
    ) -> Result<(Vec<Grant>, u64)>;
    /// A rotating provider's new refresh token, stored the moment it arrives.
    async fn store_rotated_refresh_token(
        &self,
        grant: &GrantUid,
        sealed: SealedSecret,
        now: Timestamp,
    ) -> Result<()>;
    async fn save_refresh(&self, refresh: RefreshSuccess) -> Result<()>;
    async fn change_refresh_state(&self, change: RefreshStateChange) -> Result<()>;

    // ---- exchanges -------------------------------------------------------------------------
    /// Records a code as seen (`New`) or reports that it was (`Seen`): two processes or
    /// replicas receiving one code get exactly one `New`.
    async fn claim_code(&self, code: CodeHash, client: &ClientUid, now: Timestamp)
    -> Result<Claim>;
    /// Forgets a claim whose code provably never reached the provider, so it can be sent
    /// again, and audits why.
    async fn release_claim(
        &self,
        id: ExchangeId,
        audit: NewAuditEntry,
        now: Timestamp,
    ) -> Result<()>;
    /// Keeps the provider's whole answer (sealed) with the exchange until it is verified.
    async fn keep_token_response(&self, id: ExchangeId, sealed: SealedSecret) -> Result<()>;
    async fn fail_exchange(
        &self,
        id: ExchangeId,
        finish: ExchangeFinish,
        audit: NewAuditEntry,
        now: Timestamp,
    ) -> Result<()>;
    /// The user, the grant with its tokens, the exchange finished (its kept answer released)
    /// and the audit entry: one transaction.
    async fn complete_exchange(&self, success: ExchangeSuccess) -> Result<(User, Grant)>;
    /// Exchanges still pending: live in some process, or interrupted.
    async fn pending_exchanges(&self) -> Result<Vec<Exchange>>;
    async fn exchange(&self, id: ExchangeId) -> Result<Option<Exchange>>;

    // ---- audit -----------------------------------------------------------------------------
    async fn record_audit(&self, entry: NewAuditEntry, now: Timestamp) -> Result<()>;
    async fn audit(&self, filter: AuditFilter) -> Result<Vec<AuditEntry>>;

    // ---- the per-user HTTP log -------------------------------------------------------------
    /// Keeps an operation's masked HTTP for its user and forgets that user's oldest beyond
    /// the newest `keep`. One transaction.
    async fn keep_http(&self, entry: NewHttpLogEntry, keep: usize, now: Timestamp) -> Result<()>;
    /// The user's kept operations, newest first.
    async fn http_log(&self, user: UserId, limit: usize) -> Result<Vec<HttpLogEntry>>;
    /// One kept operation of the user's (`None`: not theirs, or forgotten).
    async fn http_log_entry(&self, user: UserId, id: i64) -> Result<Option<HttpLogEntry>>;

    // ---- coordination ----------------------------------------------------------------------
    /// Waits for the grant's lock: held while it is refreshed or re-consented, by whichever
    /// process or replica, so one refresh token is never sent twice.
    async fn lock_grant(&self, grant: &GrantUid) -> Result<Held>;
    /// The exchange's lock, held for its whole life, so a starting process can tell a live
    /// exchange from an interrupted one.
    async fn lock_exchange(&self, code: CodeHash) -> Result<Held>;
    /// The exchange's lock if nobody holds it.
    async fn try_lock_exchange(&self, code: CodeHash) -> Result<Option<Held>>;
}
