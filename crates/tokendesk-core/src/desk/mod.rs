//! The facade: the one place where an operation's steps, persistence and audit happen. The CLI,
//! the desktop app, the receiver and the team server call these functions and nothing below.
//!
//! A [`Desk`] runs over a [`Storage`] (the embedded SQLite file, or the team server's
//! PostgreSQL) and a key source (the OS keyring, or a key file): the operations are written
//! once. One room per operation:
//! - `open`: opening, the store's key, the upgrade of a 0.1 store, recovery of interrupted work;
//! - `clients`: importing and removing OAuth clients;
//! - `exchange`: a code for tokens, step by step (claim, redeem, keep, verify, store);
//! - `refresh`: one grant, or all of them, never one refresh token sent twice;
//! - `revoke`, `drive`, `inspect` (and reveal), `users` (lists, details, the audit log);
//! - `health`: the health sweep and the "needs attention" list.
//!
//! Every secret is sealed ([`crate::seal`]) before it reaches the storage and commits with its
//! row, so the crash protocol is short: see `exchange` and `refresh`.

// First: its `view_enum!` names the enums of the modules after it.
#[macro_use]
mod view;

mod clients;
mod drive;
mod error;
mod exchange;
mod health;
mod http_log;
mod inspect;
mod keys;
mod open;
mod refresh;
mod revoke;
mod sink;
mod upgrade;
mod users;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

pub use clients::AddClient;
pub use error::{DeskError, ErrorKind};
pub use health::{
    ATTENTION_LIMIT, AttentionItem, AttentionReason, DEFAULT_EXPIRING_WITHIN_SECS,
    GIVE_UP_AFTER_UNKNOWN, GrantCheck, GrantHealth, HealthOptions, HealthProgress, HealthReport,
    NeedsAttention, attention_reasons,
};
pub use http_log::CurlCommand;
pub use inspect::{InspectReport, RevealWhich};
pub use keys::KeySource;
pub use refresh::StopFlag;
pub use sink::{RETRY_DEFERRED_EVERY, ReceiverSink};
pub use upgrade::UpgradeReport;
pub use view::{
    AccessTokenState, ClientView, DRIVE_APPDATA_SCOPE, DriveDownload, DriveFileReport, DriveReport,
    ExchangeReport, IdTokenRecord, RecordedCheck, RefreshAllReport, RefreshOutcome,
    RefreshTokenView, RevokeReport, RevokeResult, UserDetail, UserView, UsersPage,
};

use crate::id_token::HttpJwks;
use crate::id_token::{Clock, IdTokenVerifier, SystemClock};
use crate::oauth::{HttpClient, HttpConfig, OAuthClient};
use crate::provider::Endpoints;
use crate::seal::{SealKind, Sealer};
use crate::secret::ClientSecret;
use crate::storage::Storage;
use crate::store::{AuditAction, AuditOutcome, Client, Grant, NewAuditEntry, Timestamp, User};

pub type Verifier = IdTokenVerifier<HttpJwks>;
pub type Result<T, E = DeskError> = std::result::Result<T, E>;

/// How to open a [`Desk`].
#[derive(Debug, Clone)]
pub struct DeskOptions {
    /// Where the embedded store (`tokendesk.sqlite3`) and its lock files live.
    pub data_dir: PathBuf,
    pub http: HttpConfig,
    /// ID-token clock skew allowance.
    pub leeway: Duration,
    /// `PRAGMA quick_check` at open: it reads every page (~0.6 s at 100,000 users), so a
    /// read-only command may skip it; a damaged header is still refused at open.
    pub quick_check: bool,
    /// The wall clock every operation reads (expiries, audit times, ID-token checks, the retry
    /// timer's `Retry-After` dates): tests move it instead of sleeping.
    pub clock: Arc<dyn Clock>,
}

impl DeskOptions {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            http: HttpConfig::default(),
            leeway: Duration::from_secs(60),
            quick_check: true,
            clock: Arc::new(SystemClock),
        }
    }
}

/// TokenDesk's operations over one storage, one key and one HTTP client.
pub struct Desk {
    storage: Arc<dyn Storage>,
    keys: KeySource,
    /// The unwrapped data keys, once something needed a secret (reading users needs none).
    sealer: tokio::sync::OnceCell<Arc<Sealer>>,
    http: HttpClient,
    clock: Arc<dyn Clock>,
    leeway: Duration,
    verifiers: Mutex<HashMap<String, Arc<Verifier>>>,
    /// Per grant: callers in this process queue here, and only the one whose turn it is waits
    /// for the grant's lock in the storage (see `refresh`).
    turns: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Who the audit log names for this desk's actions: the OS user, or a staff member.
    actor: String,
}

impl std::fmt::Debug for Desk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Desk")
            .field("storage", &self.storage)
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

tokio::task_local! {
    /// Who acts in the current task, when it is not the desk's own actor: the team server runs
    /// each admin API call as the staff member or API token that made it.
    static ACTOR: String;
}

/// Runs `work` with every audit entry it writes naming `actor` (a staff member's email, an
/// API token's name) instead of the desk's own (the OS user, or the receiver).
pub async fn acting_as<F: std::future::Future>(actor: String, work: F) -> F::Output {
    ACTOR.scope(actor, work).await
}

/// Who [`acting_as`] names in the current task, if anyone: for work handed to a task of its
/// own, which starts without it.
pub fn current_actor() -> Option<String> {
    ACTOR.try_with(String::clone).ok()
}

/// Test hook for the crash-consistency tests: when the environment variable
/// `TOKENDESK_CRASH_AT` equals `name`, the process aborts here at once
/// ([`std::process::abort`]: no unwinding, no destructors, no rollback but the database's
/// own), as a SIGKILL or a power cut would stop it. The variable is read once per process, so
/// when it is unset (always, outside those tests) a call costs a load and a comparison.
fn crash_point(name: &'static str) {
    static CRASH_AT: OnceLock<Option<String>> = OnceLock::new();
    let at = CRASH_AT.get_or_init(|| std::env::var("TOKENDESK_CRASH_AT").ok());
    if at.as_deref() == Some(name) {
        std::process::abort();
    }
}

impl Desk {
    /// The storage this desk works on.
    pub fn storage(&self) -> &Arc<dyn Storage> {
        &self.storage
    }

    /// Where the store is, for people.
    pub fn location(&self) -> String {
        self.storage.location()
    }

    /// Who the audit log names for this desk's actions.
    pub fn with_actor(mut self, actor: impl Into<String>) -> Self {
        self.actor = actor.into();
        self
    }

    /// Now, by the desk's clock (injected in tests).
    pub fn now(&self) -> Timestamp {
        Timestamp::from_system(self.clock.now())
    }

    /// Who acts now: the actor of [`acting_as`], else the desk's own.
    fn acting(&self) -> String {
        current_actor().unwrap_or_else(|| self.actor.clone())
    }

    fn audit_entry(
        &self,
        action: AuditAction,
        user: Option<&User>,
        outcome: AuditOutcome,
        detail: Option<String>,
    ) -> NewAuditEntry {
        NewAuditEntry {
            os_user: self.acting(),
            action,
            user_id: user.map(|u| u.id),
            outcome,
            detail,
        }
    }

    /// Records an audit entry on its own. A failure to write it is logged, not returned: the
    /// operation it describes has already happened (operations whose audit entry must commit
    /// with them write it in their own transaction).
    async fn audit(
        &self,
        action: AuditAction,
        user: Option<&User>,
        outcome: AuditOutcome,
        detail: Option<String>,
    ) {
        let entry = self.audit_entry(action, user, outcome, detail);
        if let Err(err) = self.storage.record_audit(entry, self.now()).await {
            tracing::error!(code = err.code(), "could not write the audit log");
        }
    }

    /// Records an audit entry for a caller outside the facade (the team server's sign-ins,
    /// staff changes, reads and refusals), naming the actor of [`acting_as`]. Unlike the
    /// facade's own entries, a failure to write it is returned: the caller refuses what it
    /// could not record.
    pub async fn record(
        &self,
        action: AuditAction,
        outcome: AuditOutcome,
        detail: Option<String>,
    ) -> Result<()> {
        let entry = self.audit_entry(action, None, outcome, detail);
        Ok(self.storage.record_audit(entry, self.now()).await?)
    }

    /// Unwraps the data keys now rather than at the first secret: a server checks at start
    /// that its key is the one that sealed its database, and refuses to start otherwise.
    pub async fn unlock(&self) -> Result<()> {
        self.sealer().await.map(drop)
    }

    /// Records an entry that must be written before what it describes is handed out (a token,
    /// a file, the user list): when it cannot be written, nothing is handed out.
    async fn audit_first(&self, entry: NewAuditEntry, what: &'static str) -> Result<()> {
        self.storage
            .record_audit(entry, self.now())
            .await
            .map_err(|e| DeskError::AuditFailed {
                what,
                reason: e.to_string(),
            })
    }

    /// The data keys, unwrapped on first use (one read of the key source).
    async fn sealer(&self) -> Result<Arc<Sealer>> {
        self.sealer
            .get_or_try_init(|| async { self.keys.unlock(&*self.storage).await.map(Arc::new) })
            .await
            .cloned()
    }

    async fn client_row(&self, name: Option<&str>) -> Result<Client> {
        match name {
            Some(name) => {
                self.storage
                    .client_by_name(name)
                    .await?
                    .ok_or_else(|| DeskError::ClientNotFound {
                        name: name.to_owned(),
                    })
            }
            None => the_only_client(self.storage.clients().await?, |c| &c.name),
        }
    }

    /// Every client, by uid.
    async fn clients_by_uid(&self) -> Result<HashMap<String, Client>> {
        Ok(self
            .storage
            .clients()
            .await?
            .into_iter()
            .map(|c| (c.uid.as_str().to_owned(), c))
            .collect())
    }

    /// The users of `ids`, by id (an unknown id is left out).
    async fn users_by_id(
        &self,
        ids: &[crate::store::UserId],
    ) -> Result<HashMap<crate::store::UserId, User>> {
        Ok(self
            .storage
            .users_by_id(ids)
            .await?
            .into_iter()
            .map(|u| (u.id, u))
            .collect())
    }

    fn endpoints_of(client: &Client) -> Result<Endpoints> {
        serde_json::from_value(client.endpoints.clone()).map_err(|e| DeskError::StoredEndpoints {
            client: client.name.clone(),
            reason: e.to_string(),
        })
    }

    async fn oauth_client(&self, client: &Client) -> Result<OAuthClient> {
        let sealed =
            client
                .secret_sealed
                .as_ref()
                .ok_or_else(|| DeskError::ClientSecretMissing {
                    client: client.name.clone(),
                })?;
        let secret = self.sealer().await?.open_string(
            SealKind::ClientSecret,
            client.uid.as_str(),
            sealed,
        )?;
        Ok(OAuthClient::new(
            self.http.clone(),
            Self::endpoints_of(client)?,
            client.client_id.clone(),
            ClientSecret::new(secret.as_str()),
        ))
    }

    /// The client's ID-token verifier: built once per client, so its JWKS cache (and the
    /// refetch cooldown) is shared by every verification.
    fn verifier(&self, client: &Client) -> Result<Arc<Verifier>> {
        let mut cache = self
            .verifiers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(v) = cache.get(client.uid.as_str()) {
            return Ok(Arc::clone(v));
        }
        let endpoints = Self::endpoints_of(client)?;
        let mut policy = crate::id_token::IdTokenPolicy::new(&endpoints, client.client_id.clone())
            .with_leeway(self.leeway);
        for ios in &client.ios_client_ids {
            policy = policy.with_authorized_party(ios.clone());
        }
        let verifier = Arc::new(self.verifier_for(policy, &endpoints));
        cache.insert(client.uid.as_str().to_owned(), Arc::clone(&verifier));
        Ok(verifier)
    }

    /// An ID-token verifier under `policy` with the keys of `endpoints`, on this desk's HTTP
    /// client and clock (the team server verifies its staff's sign-ins with one).
    pub fn verifier_for(
        &self,
        policy: crate::id_token::IdTokenPolicy,
        endpoints: &Endpoints,
    ) -> Verifier {
        let jwks = Arc::new(crate::id_token::JwksCache::new(HttpJwks::new(
            self.http.clone(),
            endpoints.jwks_uri.clone(),
        )));
        IdTokenVerifier::new(policy, jwks).with_clock(Arc::clone(&self.clock))
    }

    /// Where the store file lives by default: `$TOKENDESK_HOME`, else the platform data dir.
    pub fn default_data_dir() -> PathBuf {
        if let Some(home) = std::env::var_os("TOKENDESK_HOME") {
            return PathBuf::from(home);
        }
        let base = std::env::var_os("XDG_DATA_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".local/share")))
            .unwrap_or_else(|| PathBuf::from("."));
        base.join("tokendesk")
    }
}

/// The client a command means when it names none: the only one configured.
pub(crate) fn the_only_client<C>(mut all: Vec<C>, name: impl Fn(&C) -> &str) -> Result<C> {
    match all.len() {
        0 => Err(DeskError::NoClient),
        1 => Ok(all.remove(0)),
        _ => Err(DeskError::AmbiguousClient {
            names: all.iter().map(name).collect::<Vec<_>>().join(", "),
        }),
    }
}

fn latest_grant(grants: Vec<Grant>) -> Option<Grant> {
    grants.into_iter().max_by_key(|g| g.updated_at)
}
