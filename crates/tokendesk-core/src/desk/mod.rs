//! The facade: the one place where an operation's steps, persistence and audit happen. The CLI,
//! the desktop app and the receiver call these functions and nothing below them.
//!
//! Persistence order for a code exchange (the token response is the most precious thing here):
//! claim the code (SQLite) -> exchange (Google) -> the refresh token into the keyring as the
//! exchange's (`exchange-refresh/<id>/v1`), then referenced from the exchange's row (SQLite)
//! -> verify -> user + grant row `incomplete`, linked from the exchange (SQLite) -> tokens into
//! the keyring under the grant's new versions -> grant `complete`, exchange finished and its
//! kept copy released, audit (one SQLite transaction) -> the kept copy deleted. Verification
//! (a JWKS fetch, maybe a wait for a refetch cooldown) thus never stands between Google's
//! answer and the refresh token's safety; the only window left is the keyring write itself.
//! A crash leaves a complete user, or a grant [`Desk::open`] completes from the keyring (its
//! own versions or the exchange's kept refresh token), or, when it came before the ID token
//! was verified, no user and the exchange flagged `interrupted_token_kept`: re-consent
//! needed, the refresh token kept in the keyring and referenced from the exchange's row.
//!
//! Each boundary of that order is a [`crash_point`], where the crash-consistency tests
//! (`crates/tokendesk-cli/tests/crash`) abort the process on purpose: `after_claim`,
//! `after_token_kept` (the answer's refresh token in the keyring, not yet referenced),
//! `after_exchange` (referenced), `after_grant_row`, `after_vault`, `after_commit`.

mod error;
pub mod locks;
mod view;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use zeroize::Zeroizing;

pub use error::DeskError;
pub use view::{
    ClientView, DRIVE_APPDATA_SCOPE, DriveReport, ExchangeReport, RefreshAllReport, RefreshOutcome,
    RevokeReport, UserDetail, UserView, UsersPage,
};

use crate::client_secret::WebClient;
use crate::id_token::{
    IdTokenPolicy, IdTokenVerifier, Inspection, JwksCache, JwksDocument, JwksFetchError,
    JwksSource, max_age_from_cache_control,
};
use crate::oauth::{
    self, HttpClient, HttpConfig, OAuthClient, RawLog, RedirectChoice, TokenInfo, TokenSet,
};
use crate::provider::Endpoints;
use crate::receiver::{CodeSink, ReceivedUser, RedeemError, RedeemFuture};
use crate::secret::{AccessToken, AuthCode, ClientSecret, IdTokenRaw, RefreshToken};
use crate::store::{
    AuditAction, AuditOutcome, Claim, Client, ClientUid, CodeHash, ExchangeFinish, ExchangeId,
    ExchangeOutcome, Grant, GrantState, NewAuditEntry, NewClient, NewGrant, RefreshTokenState,
    Store, Timestamp, TokenUpdate, User, UserProfile, keyring_owner,
};
use crate::vault::{SecretKey, SecretStore};

type Verifier = IdTokenVerifier<HttpJwks>;
pub type Result<T, E = DeskError> = std::result::Result<T, E>;

/// Discovery documents and JWK sets are small; a hostile provider cannot make us read more.
const SMALL_BODY: usize = 64 * 1024;

/// The JWKS over our HTTP client (no redirects, capped, timed out).
#[derive(Debug, Clone)]
pub struct HttpJwks {
    http: HttpClient,
    url: url::Url,
}

impl JwksSource for HttpJwks {
    async fn fetch(&self) -> Result<JwksDocument, JwksFetchError> {
        let response = get(&self.http, &self.url)
            .await
            .map_err(|reason| JwksFetchError::Unreachable { reason })?;
        if !response.status().is_success() {
            return Err(JwksFetchError::Status {
                status: response.status().as_u16(),
            });
        }
        let max_age = response
            .headers()
            .get(http::header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .and_then(max_age_from_cache_control);
        Ok(JwksDocument {
            body: response.into_body(),
            max_age,
        })
    }
}

async fn get(http: &HttpClient, url: &url::Url) -> Result<http::Response<Vec<u8>>, String> {
    let request = http::Request::get(url.as_str())
        .header(http::header::ACCEPT, "application/json")
        .body(Vec::new())
        .map_err(|e| e.to_string())?;
    let timeout = http.config().timeout;
    http.send(request, SMALL_BODY, timeout)
        .await
        .map_err(|e| e.to_string())
}

/// How to open a [`Desk`].
#[derive(Debug, Clone)]
pub struct DeskOptions {
    /// Where `tokendesk.sqlite3` lives.
    pub data_dir: PathBuf,
    pub http: HttpConfig,
    /// ID-token clock skew allowance.
    pub leeway: Duration,
    /// `PRAGMA quick_check` at open: it reads every page (~0.6 s at 100,000 users), so a
    /// read-only command may skip it; a damaged header is still refused at open.
    pub quick_check: bool,
}

impl DeskOptions {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            http: HttpConfig::default(),
            leeway: Duration::from_secs(60),
            quick_check: true,
        }
    }
}

/// Which tokens `reveal` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevealWhich {
    Access,
    Refresh,
}

/// How to add a client.
#[derive(Debug, Clone, Default)]
pub struct AddClient {
    pub name: String,
    pub secrets_json: Vec<u8>,
    /// Another OpenID provider than Google, chosen on purpose (OIDC discovery).
    pub issuer: Option<String>,
    /// Where that provider serves Google's APIs (Drive under `{api_base}/drive/v3/`).
    pub api_base: Option<String>,
    pub ios_client_ids: Vec<String>,
}

/// One grant's refresh turn within this process: callers queue here, asynchronously, and only
/// the one whose turn it is waits for the grant's lock file (see `refresh_exclusive`).
type Flight = tokio::sync::Mutex<()>;

/// A write that can join a group commit: run in the group's transaction, and again alone in
/// a transaction of its own if the group fails.
type GroupedWrite =
    Box<dyn Fn(&crate::store::WriteTx<'_>) -> Result<(), crate::store::StoreError> + Send>;
/// A queued write and where its outcome goes.
type QueuedWrite = (
    GroupedWrite,
    tokio::sync::oneshot::Sender<Result<(), crate::store::StoreError>>,
);

/// How a refresh under the grant's lock ended.
enum Refreshed {
    /// This call refreshed: Google's answer.
    Now(TokenSet),
    /// The grant had moved on while this call waited (another process or task refreshed it);
    /// this is it as stored now.
    ByAnother(Grant),
}

/// TokenDesk's operations over one data directory, one keyring and one HTTP client.
pub struct Desk {
    /// Shared with the blocking pool, where commits that flush to disk run.
    store: Arc<Mutex<Store>>,
    /// Writes waiting for the next group commit (see `write_grouped`).
    write_queue: Arc<Mutex<Vec<QueuedWrite>>>,
    vault: Arc<dyn SecretStore>,
    http: HttpClient,
    leeway: Duration,
    verifiers: Mutex<HashMap<String, Arc<Verifier>>>,
    in_flight: Mutex<HashMap<String, Arc<Flight>>>,
    /// What this process shares with the others on the same data directory.
    locks: locks::Locks,
    os_user: String,
}

impl std::fmt::Debug for Desk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Desk")
            .field("vault", &self.vault)
            .finish_non_exhaustive()
    }
}

fn now() -> Timestamp {
    Timestamp::now()
}

/// Test hook for the crash-consistency tests: when the environment variable
/// `TOKENDESK_CRASH_AT` equals `name`, the process aborts here at once
/// ([`std::process::abort`]: no unwinding, no destructors, no rollback but SQLite's own), as a
/// SIGKILL or a power cut would stop it. The variable is read once per process, so when it is
/// unset (always, outside those tests) a call costs a load and a comparison.
fn crash_point(name: &'static str) {
    static CRASH_AT: OnceLock<Option<String>> = OnceLock::new();
    let at = CRASH_AT.get_or_init(|| std::env::var("TOKENDESK_CRASH_AT").ok());
    if at.as_deref() == Some(name) {
        std::process::abort();
    }
}

impl Desk {
    /// Opens (or creates) the store in `options.data_dir` and recovers interrupted work.
    pub fn open(options: &DeskOptions, vault: Arc<dyn SecretStore>) -> Result<Self> {
        std::fs::create_dir_all(&options.data_dir).map_err(|e| {
            DeskError::Http(format!("cannot create {}: {e}", options.data_dir.display()))
        })?;
        let store = Store::open_with(
            options.data_dir.join("tokendesk.sqlite3"),
            &crate::store::StoreOptions {
                quick_check: options.quick_check,
                ..crate::store::StoreOptions::default()
            },
        )?;
        let http =
            HttpClient::new(options.http.clone()).map_err(|e| DeskError::Http(e.to_string()))?;
        let desk = Self {
            store: Arc::new(Mutex::new(store)),
            write_queue: Arc::default(),
            vault,
            http,
            leeway: options.leeway,
            verifiers: Mutex::new(HashMap::new()),
            in_flight: Mutex::new(HashMap::new()),
            locks: locks::Locks::open(&options.data_dir)?,
            os_user: NewAuditEntry::os_user_from_env(),
        };
        desk.recover()?;
        Ok(desk)
    }

    /// The store's file.
    pub fn store_path(&self) -> PathBuf {
        self.store().path().to_path_buf()
    }

    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Commits `write` on the blocking pool, in one transaction with the writes other tasks
    /// queued meanwhile (group commit): `refresh_all` finishes up to `concurrency` refreshes
    /// at once, and one disk flush for all of them instead of one each is what keeps the
    /// store off its critical path. Returns once the transaction holding `write` committed.
    /// If the group fails, each write is retried alone, so one bad write fails only itself.
    async fn write_grouped(&self, write: GroupedWrite) -> Result<()> {
        let (done, outcome) = tokio::sync::oneshot::channel();
        self.write_queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((write, done));
        let store = Arc::clone(&self.store);
        let queue = Arc::clone(&self.write_queue);
        tokio::task::spawn_blocking(move || {
            // Whoever gets the store first commits everything queued by then; the tasks that
            // find the queue empty had their writes taken by an earlier group.
            let mut store = store.lock().unwrap_or_else(PoisonError::into_inner);
            let group = std::mem::take(&mut *queue.lock().unwrap_or_else(PoisonError::into_inner));
            if group.is_empty() {
                return;
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
        });
        outcome
            .await
            .map_err(|_| DeskError::Http("a store write did not finish".into()))?
            .map_err(Into::into)
    }

    fn audit_entry(
        &self,
        action: AuditAction,
        user: Option<&User>,
        outcome: AuditOutcome,
        detail: Option<String>,
    ) -> NewAuditEntry {
        NewAuditEntry {
            os_user: self.os_user.clone(),
            action,
            user_id: user.map(|u| u.id),
            outcome,
            detail,
        }
    }

    fn audit(
        &self,
        action: AuditAction,
        user: Option<&User>,
        outcome: AuditOutcome,
        detail: Option<String>,
    ) {
        let entry = self.audit_entry(action, user, outcome, detail);
        let mut store = self.store();
        let result = store.write().and_then(|tx| {
            tx.audit_mut().record(&entry, now())?;
            tx.commit()
        });
        if let Err(err) = result {
            tracing::error!(code = err.code(), "could not write the audit log");
        }
    }

    /// Finishes what a crash interrupted: pending exchanges become `unknown` (the code may
    /// have been redeemed); incomplete grants whose tokens reached the keyring, as the grant's
    /// own versions or as the refresh token their exchange kept, complete; an exchange that
    /// kept a refresh token but died before its ID token was verified keeps it, referenced,
    /// flagged `interrupted_token_kept` (re-consent needed: no user can be trusted from it).
    fn recover(&self) -> Result<()> {
        let mut store = self.store();
        // Grants first, exchanges second: an exchange that linked one of these grants was
        // pending before this read, so it is in the read of exchanges below.
        let mut incomplete = store.grants().incomplete()?;
        let candidates = store.exchanges().pending()?;
        if candidates.is_empty() && incomplete.is_empty() {
            return Ok(());
        }
        // Another process's exchange in progress holds its lock: that one is live, not
        // interrupted, and neither it nor the grant it is writing is touched. The locks of the
        // dead ones are held until recovery is done, so none of them can change meanwhile;
        // they are read again under the locks (one may have finished just before its lock
        // was taken).
        let mut recovering = Vec::new();
        for ex in &candidates {
            if let Some(held) = self
                .locks
                .try_exclusive(&locks::exchange_lock_name(&ex.keyring_owner()), true)?
            {
                recovering.push((ex.id, held));
            }
        }
        let mut pending = Vec::new();
        let mut live_grants = Vec::new();
        for ex in store.exchanges().pending()? {
            if recovering.iter().any(|(id, _)| *id == ex.id) {
                pending.push(ex);
            } else {
                live_grants.extend(ex.grant.clone());
            }
        }
        incomplete.retain(|g| !live_grants.contains(&g.uid));
        if pending.is_empty() && incomplete.is_empty() {
            return Ok(());
        }
        // One listing of the keyring for everything below, where the store can enumerate;
        // otherwise probe. A store that fails to list still answers probes.
        let listed = self.vault.list().ok().flatten();
        let present = |key: &SecretKey| -> Result<bool> {
            Ok(match &listed {
                Some(keys) => keys.contains(key),
                None => self.vault.contains(key)?,
            })
        };
        // The refresh token each interrupted exchange kept: referenced from its row, or only
        // in the keyring when the crash came between the keyring write and that reference.
        // Finished exchanges that still reference one (a keyring failure after the answer)
        // count too: their grant can be completed from it.
        let mut kept: Vec<(&crate::store::Exchange, Option<SecretKey>)> = Vec::new();
        let holding = if incomplete.is_empty() {
            Vec::new()
        } else {
            store.exchanges().with_kept_refresh_token()?
        };
        for ex in pending.iter().chain(
            holding
                .iter()
                .filter(|ex| ex.outcome != ExchangeOutcome::Pending),
        ) {
            let version = ex.refresh_key_version.unwrap_or(1);
            let key = SecretKey::exchange_refresh_token(&ex.keyring_owner(), version)?;
            kept.push((ex, present(&key)?.then_some(key)));
        }
        let tx = store.write()?;
        let mut completed = 0;
        let mut released: Vec<SecretKey> = Vec::new();
        for grant in &incomplete {
            let refresh = latest_version(&*self.vault, listed.as_deref(), |v| {
                SecretKey::refresh_token(grant.uid.as_str(), v)
            })?;
            let access = latest_version(&*self.vault, listed.as_deref(), |v| {
                SecretKey::access_token(grant.uid.as_str(), v)
            })?;
            let from_exchange = kept
                .iter()
                .find(|(ex, key)| key.is_some() && ex.grant.as_ref() == Some(&grant.uid));
            if let Some((ex, Some(key))) = from_exchange {
                // The exchange was writing this grant: its refresh token is the grant's newest
                // (unless step two already stored it), under a version nothing references yet.
                let version = self.adopt_kept_refresh_token(grant, key, refresh)?;
                tx.grants_mut()
                    .complete(&grant.uid, Some(version), access, now())?;
                tx.grants_mut().set_refresh_state(
                    &grant.uid,
                    RefreshTokenState::Present,
                    None,
                    now(),
                )?;
                tx.exchanges_mut().release_refresh_token(ex.id)?;
                released.push(key.clone());
                completed += 1;
                continue;
            }
            // A grant that should have a refresh token is whole when that token reached the
            // keyring (a missing access token is only a refresh away); one without a refresh
            // token needs its access token. The rest stay flagged for re-consent.
            let whole = if grant.refresh_token == RefreshTokenState::Present {
                refresh.is_some()
            } else {
                access.is_some()
            };
            if whole {
                tx.grants_mut()
                    .complete(&grant.uid, refresh, access, now())?;
                completed += 1;
            }
        }
        let mut token_kept = 0;
        for (ex, key) in kept
            .iter()
            .filter(|(ex, _)| ex.outcome == ExchangeOutcome::Pending)
        {
            let still_kept = key.as_ref().filter(|k| !released.contains(k));
            if still_kept.is_some() {
                token_kept += 1;
                tx.exchanges_mut()
                    .keep_refresh_token(ex.id, ex.refresh_key_version.unwrap_or(1))?;
            }
            tx.exchanges_mut().finish(
                ex.id,
                &ExchangeFinish {
                    outcome: ExchangeOutcome::Unknown,
                    error_code: Some(if still_kept.is_some() {
                        "interrupted_token_kept".into()
                    } else {
                        "interrupted".into()
                    }),
                    request: None,
                    response: None,
                    user_id: ex.user_id,
                    grant: ex.grant.clone(),
                },
                now(),
            )?;
        }
        // Audit only what changed: a grant left flagged is not news on every start.
        if !pending.is_empty() || completed > 0 {
            let detail = format!(
                "{} interrupted exchange(s) marked unknown, {token_kept} keeping its refresh token for re-consent; {completed} of {} incomplete grant(s) completed from the keyring",
                pending.len(),
                incomplete.len()
            );
            tx.audit_mut().record(
                &self.audit_entry(AuditAction::Recover, None, AuditOutcome::Ok, Some(detail)),
                now(),
            )?;
        }
        tx.commit()?;
        // The grants hold those refresh tokens now.
        for key in released {
            if let Err(err) = self.vault.delete(&key) {
                tracing::warn!(
                    code = err.code(),
                    "could not delete a released keyring entry"
                );
            }
        }
        Ok(())
    }

    /// Stores the refresh token `kept` by an interrupted exchange as `grant`'s, and returns the
    /// version that holds it: `latest` when the exchange had already stored it there, else a
    /// new version above every one in the keyring (never over a referenced one).
    fn adopt_kept_refresh_token(
        &self,
        grant: &Grant,
        kept: &SecretKey,
        latest: Option<u32>,
    ) -> Result<u32> {
        let value = self.vault.get(kept)?.ok_or_else(|| DeskError::Incomplete {
            sub: grant.uid.as_str().to_owned(),
        })?;
        if let Some(v) = latest {
            let stored = self
                .vault
                .get(&SecretKey::refresh_token(grant.uid.as_str(), v)?)?;
            if stored.is_some_and(|s| *s == *value) {
                return Ok(v);
            }
        }
        let version = latest.map_or(1, |v| v + 1);
        self.vault.set(
            &SecretKey::refresh_token(grant.uid.as_str(), version)?,
            &value,
        )?;
        Ok(version)
    }

    // -----------------------------------------------------------------------------------------
    // Clients

    pub async fn add_client(&self, req: AddClient) -> Result<ClientView> {
        let web = WebClient::from_json(&req.secrets_json)?;
        if self.store().clients().get_by_name(&req.name)?.is_some() {
            return Err(DeskError::ClientExists { name: req.name });
        }
        let (endpoints, foreign) = match &req.issuer {
            None => {
                if !web.endpoints_are_google() {
                    let urls: Vec<String> = web
                        .foreign_endpoints()
                        .iter()
                        .map(|f| f.url.clone())
                        .collect();
                    return Err(DeskError::ForeignEndpoints {
                        urls: urls.join(", "),
                    });
                }
                (Endpoints::google(), false)
            }
            Some(issuer) => {
                let url = Endpoints::discovery_url(issuer)?;
                let response =
                    get(&self.http, &url)
                        .await
                        .map_err(|reason| DeskError::Discovery {
                            url: url.to_string(),
                            reason,
                        })?;
                if !response.status().is_success() {
                    return Err(DeskError::Discovery {
                        url: url.to_string(),
                        reason: format!("HTTP {}", response.status().as_u16()),
                    });
                }
                let api_base = req.api_base.clone().unwrap_or_else(|| issuer.clone());
                let endpoints = Endpoints::from_discovery(issuer, response.body(), &api_base)?;
                let foreign = !endpoints.is_google();
                (endpoints, foreign)
            }
        };
        let endpoints_json =
            serde_json::to_value(&endpoints).map_err(|e| DeskError::Http(e.to_string()))?;
        let new = NewClient {
            name: req.name.clone(),
            client_id: web.client_id.clone(),
            issuer: endpoints.issuer().to_owned(),
            endpoints: endpoints_json,
            ios_client_ids: req.ios_client_ids.clone(),
            foreign_endpoints: foreign,
        };
        // The secret into the keyring first (on the blocking pool: a D-Bus round trip, maybe
        // an unlock prompt), then the row that references it, in one transaction: a failed
        // keyring write leaves no row, and a failed commit deletes the entry again, so no
        // client points at a missing secret (a crash in between leaves an unreferenced entry,
        // which the sweep reports).
        let uid = ClientUid::generate()?;
        let key = SecretKey::client_secret(uid.as_str(), 1)?;
        self.put(key.clone(), web.client_secret.secret()).await?;
        let entry = self.audit_entry(
            AuditAction::ClientAdd,
            None,
            AuditOutcome::Ok,
            Some(req.name.clone()),
        );
        let committed = self.store().write().and_then(|tx| {
            tx.clients_mut().insert_as(&uid, &new, now())?;
            tx.clients_mut().set_secret_version(&uid, Some(1))?;
            tx.audit_mut().record(&entry, now())?;
            tx.commit()
        });
        if let Err(err) = committed {
            self.delete_key(key).await;
            return Err(err.into());
        }
        let store = self.store();
        let client = store
            .clients()
            .get(&uid)?
            .ok_or(DeskError::ClientNotFound { name: req.name })?;
        Ok(ClientView::of(&client))
    }

    pub fn clients(&self) -> Result<Vec<ClientView>> {
        Ok(self
            .store()
            .clients()
            .list()?
            .iter()
            .map(ClientView::of)
            .collect())
    }

    pub fn client(&self, name: &str) -> Result<ClientView> {
        Ok(ClientView::of(&self.client_row(Some(name))?))
    }

    /// Removes a client and then deletes its secret from the keyring. Synchronous, keyring call
    /// included (one D-Bus delete, after the commit): call it from a blocking context (a
    /// desktop command on its blocking pool, `spawn_blocking`), not on an async worker.
    pub fn remove_client(&self, name: &str) -> Result<()> {
        let client = self.client_row(Some(name))?;
        let mut store = self.store();
        let tx = store.write()?;
        tx.clients_mut().remove(&client.uid)?;
        tx.audit_mut().record(
            &self.audit_entry(
                AuditAction::ClientRemove,
                None,
                AuditOutcome::Ok,
                Some(name.to_owned()),
            ),
            now(),
        )?;
        tx.commit()?;
        if let Some(v) = client.secret_version {
            let _ = self
                .vault
                .delete(&SecretKey::client_secret(client.uid.as_str(), v)?);
        }
        self.verifiers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(client.uid.as_str());
        Ok(())
    }

    fn client_row(&self, name: Option<&str>) -> Result<Client> {
        let store = self.store();
        match name {
            Some(name) => {
                store
                    .clients()
                    .get_by_name(name)?
                    .ok_or_else(|| DeskError::ClientNotFound {
                        name: name.to_owned(),
                    })
            }
            None => {
                let mut all = store.clients().list()?;
                match all.len() {
                    0 => Err(DeskError::NoClient),
                    1 => Ok(all.remove(0)),
                    _ => Err(DeskError::AmbiguousClient {
                        names: all
                            .iter()
                            .map(|c| c.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                    }),
                }
            }
        }
    }

    fn endpoints_of(client: &Client) -> Result<Endpoints> {
        serde_json::from_value(client.endpoints.clone()).map_err(|e| {
            DeskError::Http(format!(
                "stored endpoints of {} are unreadable: {e}",
                client.name
            ))
        })
    }

    async fn oauth_client(&self, client: &Client, log: Option<&RawLog>) -> Result<OAuthClient> {
        let key =
            SecretKey::client_secret(client.uid.as_str(), client.secret_version.unwrap_or(1))?;
        let secret = self
            .secret(key)
            .await?
            .ok_or_else(|| DeskError::ClientNotFound {
                name: format!(
                    "{} (its client secret is missing from the keyring; add the client again)",
                    client.name
                ),
            })?;
        let http = match log {
            Some(log) => self.http.recording(log),
            None => self.http.clone(),
        };
        Ok(OAuthClient::new(
            http,
            Self::endpoints_of(client)?,
            client.client_id.clone(),
            ClientSecret::new(secret.as_str()),
        ))
    }

    fn verifier(&self, client: &Client) -> Result<Arc<Verifier>> {
        let mut cache = self
            .verifiers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(v) = cache.get(client.uid.as_str()) {
            return Ok(Arc::clone(v));
        }
        let endpoints = Self::endpoints_of(client)?;
        let mut policy =
            IdTokenPolicy::new(&endpoints, client.client_id.clone()).with_leeway(self.leeway);
        for ios in &client.ios_client_ids {
            policy = policy.with_authorized_party(ios.clone());
        }
        let jwks = Arc::new(JwksCache::new(HttpJwks {
            http: self.http.clone(),
            url: endpoints.jwks_uri.clone(),
        }));
        let verifier = Arc::new(IdTokenVerifier::new(policy, jwks));
        cache.insert(client.uid.as_str().to_owned(), Arc::clone(&verifier));
        Ok(verifier)
    }

    // -----------------------------------------------------------------------------------------
    // Exchange

    /// Exchanges a code, verifies the ID token, and stores the user, grant and tokens.
    pub async fn exchange(
        &self,
        client: Option<&str>,
        code: AuthCode,
        redirect: RedirectChoice,
    ) -> Result<ExchangeReport> {
        self.exchange_logged(client, code, redirect, &RawLog::new())
            .await
    }

    /// [`exchange`](Self::exchange), recording the HTTP exchanges (secrets masked) in `log`,
    /// so that a caller can show them when it fails too.
    pub async fn exchange_logged(
        &self,
        client: Option<&str>,
        code: AuthCode,
        redirect: RedirectChoice,
        log: &RawLog,
    ) -> Result<ExchangeReport> {
        let client = self.client_row(client)?;
        let oauth_client = self.oauth_client(&client, Some(log)).await?;
        // Names the keyring entry the answer's refresh token is kept under.
        let kept_owner = keyring_owner(&CodeHash::of(code.secret()).to_hex());
        // Held until this exchange is finished, however it ends: a process starting meanwhile
        // sees the exchange pending but live, and leaves it alone (see `recover`).
        let _exchange_held = self
            .locks
            .exclusive(&locks::exchange_lock_name(&kept_owner), true)
            .await?;
        let exchange_id = {
            let mut store = self.store();
            let tx = store.write()?;
            let claim = tx
                .exchanges_mut()
                .claim(code.secret(), Some(&client.uid), now())?;
            tx.commit()?;
            match claim {
                Claim::New(id) => {
                    crash_point("after_claim");
                    id
                }
                Claim::Seen(seen) => {
                    drop(store);
                    self.audit(
                        AuditAction::Exchange,
                        None,
                        AuditOutcome::Denied,
                        Some("already_exchanged".into()),
                    );
                    return Err(DeskError::Replay {
                        when: seen.created_at.to_rfc3339(),
                    });
                }
            }
        };
        let fail = |desk: &Self, outcome: ExchangeOutcome, code: &str, user: Option<&User>| {
            let raw = log.entries();
            let mut store = desk.store();
            let entry = desk.audit_entry(
                AuditAction::Exchange,
                user,
                AuditOutcome::Failed,
                Some(code.to_owned()),
            );
            let result = store.write().and_then(|tx| {
                tx.exchanges_mut().finish(
                    exchange_id,
                    &ExchangeFinish {
                        outcome,
                        error_code: Some(code.to_owned()),
                        request: raw.first().and_then(|r| serde_json::to_value(r).ok()),
                        response: None,
                        user_id: user.map(|u| u.id),
                        grant: None,
                    },
                    now(),
                )?;
                tx.audit_mut().record(&entry, now())?;
                tx.commit()
            });
            if let Err(err) = result {
                tracing::error!(code = err.code(), "could not record a failed exchange");
            }
        };
        let tokens = match oauth::exchange_code(&oauth_client, code, redirect).await {
            Ok(t) => t,
            Err(err) => {
                let outcome = if err.code() == "outcome_unknown" {
                    ExchangeOutcome::Unknown
                } else {
                    ExchangeOutcome::Failed
                };
                fail(self, outcome, err.code(), None);
                return Err(err.into());
            }
        };
        // Before anything that can take time (verification may fetch keys or wait out a
        // cooldown): the refresh token into the keyring, referenced from the exchange's row.
        // If that fails the exchange goes on: storing the grant's tokens is the second chance,
        // and a keyring that refuses that too fails the exchange there, user flagged.
        let kept = match &tokens.refresh_token {
            Some(rt) => match self.keep_refresh_token(exchange_id, &kept_owner, rt).await {
                Ok(key) => Some(key),
                Err(err) => {
                    tracing::warn!(
                        code = err.code(),
                        "could not keep the refresh token before verifying the ID token"
                    );
                    None
                }
            },
            None => None,
        };
        crash_point("after_exchange");
        // A response whose ID token is missing or refused is not accepted, so nothing of it is
        // kept either.
        let Some(id_token) = tokens.id_token.clone() else {
            self.discard_kept(exchange_id, kept).await;
            fail(self, ExchangeOutcome::Failed, "no_id_token", None);
            return Err(DeskError::NoIdToken);
        };
        let verified = match self.verify_patiently(&client, &id_token).await {
            Ok(v) => v,
            Err(err) => {
                self.discard_kept(exchange_id, kept).await;
                fail(self, ExchangeOutcome::Failed, err.code(), None);
                return Err(err);
            }
        };
        // The claims the verifier read and checked, not a second (laxer) decoding of the token.
        let claims = serde_json::Value::Object(verified.claims_json().clone());
        let id_token_report = self.id_token_report(&client, &id_token).await;
        let c = verified.claims();
        let profile = profile_of(c);
        let expires_at = tokens
            .expires_in
            .map(|d| now().plus_seconds(i64::try_from(d.as_secs()).unwrap_or(3600)));
        let mut notes = Vec::new();
        if let Some(why) = &tokens.refresh_token_absent {
            notes.push(why.summary.clone());
        }
        // Step 1: user and grant rows, the grant `incomplete` until its tokens are stored.
        let (user, grant, previous) = {
            let mut store = self.store();
            let tx = store.write()?;
            let user_id = tx.users_mut().upsert(&profile, Some(&claims), now())?;
            tx.users_mut().set_id_token(user_id, &id_token_report)?;
            let previous = tx.grants().find(user_id, &client.uid)?;
            let grant_uid = match &previous {
                Some(g) => {
                    tx.grants_mut().mark_incomplete(&g.uid, now())?;
                    g.uid.clone()
                }
                None => tx.grants_mut().insert_incomplete(
                    &NewGrant {
                        user_id,
                        client: client.uid.clone(),
                        scopes: tokens.scopes.clone(),
                        access_token_expires_at: expires_at,
                        refresh_token: if tokens.refresh_token.is_some() {
                            RefreshTokenState::Present
                        } else {
                            RefreshTokenState::Absent
                        },
                    },
                    now(),
                )?,
            };
            tx.exchanges_mut().link(exchange_id, user_id, &grant_uid)?;
            tx.commit()?;
            crash_point("after_grant_row");
            let user = store
                .users()
                .get(user_id)?
                .ok_or_else(|| DeskError::UserNotFound {
                    query: profile.sub.clone(),
                })?;
            let grant = store
                .grants()
                .get(&grant_uid)?
                .ok_or_else(|| DeskError::NoGrant {
                    sub: profile.sub.clone(),
                    for_client: String::new(),
                })?;
            (user, grant, previous)
        };
        // A re-consent replaces the tokens of a grant another process may be refreshing: wait
        // for that refresh, then take the versions it left.
        let _grant_held = self
            .locks
            .exclusive(&locks::grant_lock_name(grant.uid.as_str()), false)
            .await?;
        let grant = self.store().grants().get(&grant.uid)?.unwrap_or(grant);
        // A failed keyring write must not take down the grant a re-consent was replacing: its
        // secrets are untouched (new ones go under new versions), so it is complete again.
        let keyring_failed = |err: crate::vault::VaultError| -> DeskError {
            if let Some(prev) = previous
                .as_ref()
                .filter(|p| p.state == GrantState::Complete)
            {
                let restored = self.store().write().and_then(|tx| {
                    tx.grants_mut().complete(&prev.uid, None, None, now())?;
                    tx.commit()
                });
                if let Err(e) = restored {
                    tracing::error!(code = e.code(), "could not restore the previous grant");
                }
            }
            fail(self, ExchangeOutcome::Failed, err.code(), Some(&user));
            err.into()
        };
        // Step 2: the tokens into the keyring, each under a new version.
        let refresh_version = match &tokens.refresh_token {
            Some(rt) => {
                let v = grant.refresh_key_version.map_or(1, |v| v + 1);
                if let Err(err) = self
                    .put(
                        SecretKey::refresh_token(grant.uid.as_str(), v)?,
                        rt.secret(),
                    )
                    .await
                {
                    return Err(keyring_failed(err));
                }
                Some(v)
            }
            None => None,
        };
        let access_version = grant.access_key_version.map_or(1, |v| v + 1);
        if let Err(err) = self
            .put(
                SecretKey::access_token(grant.uid.as_str(), access_version)?,
                tokens.access_token.secret(),
            )
            .await
        {
            return Err(keyring_failed(err));
        }
        crash_point("after_vault");
        // Step 3: complete, finish, audit, in one transaction.
        let raw = log.entries();
        {
            let mut store = self.store();
            let tx = store.write()?;
            tx.grants_mut().update_tokens(
                &grant.uid,
                &TokenUpdate {
                    scopes: Some(tokens.scopes.clone()),
                    access_token_expires_at: expires_at,
                    access_key_version: Some(access_version),
                    refresh_key_version: refresh_version,
                },
                now(),
            )?;
            if refresh_version.is_some() {
                tx.grants_mut().set_refresh_state(
                    &grant.uid,
                    RefreshTokenState::Present,
                    None,
                    now(),
                )?;
            } else if previous.is_none() {
                tx.grants_mut().set_refresh_state(
                    &grant.uid,
                    RefreshTokenState::Absent,
                    None,
                    now(),
                )?;
            }
            tx.grants_mut()
                .complete(&grant.uid, refresh_version, Some(access_version), now())?;
            if kept.is_some() {
                tx.exchanges_mut().release_refresh_token(exchange_id)?;
            }
            tx.exchanges_mut().finish(
                exchange_id,
                &ExchangeFinish {
                    outcome: ExchangeOutcome::Succeeded,
                    error_code: None,
                    request: raw.first().and_then(|r| serde_json::to_value(r).ok()),
                    response: raw
                        .last()
                        .and_then(|r| serde_json::to_value(&r.response).ok()),
                    user_id: Some(user.id),
                    grant: Some(grant.uid.clone()),
                },
                now(),
            )?;
            tx.audit_mut().record(
                &self.audit_entry(
                    AuditAction::Exchange,
                    Some(&user),
                    AuditOutcome::Ok,
                    Some(client.name.clone()),
                ),
                now(),
            )?;
            tx.commit()?;
        }
        crash_point("after_commit");
        // The grant holds the refresh token now; its first copy goes.
        if let Some(key) = kept {
            self.delete_key(key).await;
        }
        // The superseded versions go only after the new ones are committed.
        if let Some(prev) = &previous {
            if refresh_version.is_some() {
                self.delete_version(prev.refresh_key_version, |v| {
                    SecretKey::refresh_token(prev.uid.as_str(), v)
                })
                .await;
            }
            self.delete_version(prev.access_key_version, |v| {
                SecretKey::access_token(prev.uid.as_str(), v)
            })
            .await;
        }
        let user = self.view_of_grant(&grant.uid)?;
        Ok(ExchangeReport { user, raw, notes })
    }

    /// Verifies a just-redeemed ID token, waiting out a JWKS refetch cooldown or a short
    /// outage: the code is spent, so giving up would throw the tokens away. Bounded.
    async fn verify_patiently(
        &self,
        client: &Client,
        id_token: &IdTokenRaw,
    ) -> Result<crate::id_token::VerifiedIdToken> {
        use crate::id_token::IdTokenError;
        const PATIENCE: Duration = Duration::from_secs(35);
        let verifier = self.verifier(client)?;
        let started = std::time::Instant::now();
        loop {
            let wait = match verifier.verify(id_token).await {
                Ok(v) => return Ok(v),
                Err(IdTokenError::UnknownKeyIdCoolingDown { retry_after, .. }) => retry_after,
                Err(IdTokenError::JwksUnavailable { retry_after, .. }) => retry_after.unwrap_or(2),
                Err(err) => return Err(err.into()),
            };
            let wait = Duration::from_secs(wait.max(1)) + Duration::from_millis(100);
            if started.elapsed() + wait > PATIENCE {
                // One last try: the error it gives is the one to report.
                return verifier.verify(id_token).await.map_err(Into::into);
            }
            tracing::info!(
                wait_secs = wait.as_secs(),
                "waiting for the provider's signing keys"
            );
            tokio::time::sleep(wait).await;
        }
    }

    /// What the user page shows of a verified ID token besides its claims: the header and every
    /// check the verifier runs, with its result (run again on the token just verified; the
    /// keys are cached). Never the signed token.
    async fn id_token_report(&self, client: &Client, id_token: &IdTokenRaw) -> serde_json::Value {
        let inspection = match self.verifier(client) {
            Ok(verifier) => verifier.inspect(id_token).await,
            Err(_) => return serde_json::json!({}),
        };
        serde_json::json!({
            "header": inspection.unverified_header,
            "checks": inspection.checks,
            "valid": inspection.valid,
            "verified_at": now().to_rfc3339(),
        })
    }

    /// Puts the refresh token of `exchange`'s token response into the keyring and references
    /// it from the exchange's row: from here on a crash cannot lose it.
    async fn keep_refresh_token(
        &self,
        exchange: ExchangeId,
        owner: &str,
        refresh_token: &RefreshToken,
    ) -> Result<SecretKey> {
        const VERSION: u32 = 1;
        let key = SecretKey::exchange_refresh_token(owner, VERSION)?;
        self.put(key.clone(), refresh_token.secret()).await?;
        crash_point("after_token_kept");
        let mut store = self.store();
        let tx = store.write()?;
        tx.exchanges_mut().keep_refresh_token(exchange, VERSION)?;
        tx.commit()?;
        Ok(key)
    }

    /// Lets go of the refresh token kept from a response that was refused: no longer
    /// referenced, then deleted.
    async fn discard_kept(&self, exchange: ExchangeId, kept: Option<SecretKey>) {
        let Some(key) = kept else {
            return;
        };
        let released = self.store().write().and_then(|tx| {
            tx.exchanges_mut().release_refresh_token(exchange)?;
            tx.commit()
        });
        match released {
            Ok(()) => self.delete_key(key).await,
            Err(err) => tracing::error!(code = err.code(), "could not release a kept token"),
        }
    }

    async fn delete_version(
        &self,
        version: Option<u32>,
        key: impl Fn(u32) -> Result<SecretKey, crate::vault::VaultError>,
    ) {
        let Some(k) = version.and_then(|v| key(v).ok()) else {
            return;
        };
        self.delete_key(k).await;
    }

    async fn delete_key(&self, k: SecretKey) {
        if let Err(err) = self.keyring(move |vault| vault.delete(&k)).await {
            tracing::warn!(
                code = err.code(),
                "could not delete a superseded keyring entry"
            );
        }
    }

    fn view_of_grant(&self, uid: &crate::store::GrantUid) -> Result<UserView> {
        let store = self.store();
        let grant = store.grants().get(uid)?.ok_or_else(|| DeskError::NoGrant {
            sub: String::new(),
            for_client: String::new(),
        })?;
        let user = store
            .users()
            .get(grant.user_id)?
            .ok_or_else(|| DeskError::UserNotFound {
                query: String::new(),
            })?;
        let client = store.clients().get(&grant.client)?;
        Ok(UserView::of(&user, Some(&grant), client.as_ref()))
    }

    // -----------------------------------------------------------------------------------------
    // Users

    pub fn users(&self, search: Option<&str>, limit: usize) -> Result<Vec<UserView>> {
        let users = self.store().users().search(search.unwrap_or(""), limit)?;
        self.views_of(&users)
    }

    /// A window of the Users list: with no search text, `limit` users from `offset` in the
    /// recent order and the total; with text, the best `limit` matches (search ranks, it does
    /// not page: more matches than `limit` means the text should be more precise).
    pub fn users_page(&self, search: &str, offset: usize, limit: usize) -> Result<UsersPage> {
        if search.trim().is_empty() {
            let (users, total) = {
                let store = self.store();
                (store.users().page(offset, limit)?, store.users().count()?)
            };
            return Ok(UsersPage {
                total: usize::try_from(total).unwrap_or(usize::MAX),
                offset,
                users: self.views_of(&users)?,
                more_matches: false,
            });
        }
        let users = self
            .store()
            .users()
            .search(search, limit.saturating_add(1))?;
        let more_matches = users.len() > limit;
        let users = &users[..users.len().min(limit)];
        Ok(UsersPage {
            total: users.len(),
            offset: 0,
            users: self.views_of(users)?,
            more_matches,
        })
    }

    fn views_of(&self, users: &[User]) -> Result<Vec<UserView>> {
        let store = self.store();
        let clients: HashMap<String, Client> = store
            .clients()
            .list()?
            .into_iter()
            .map(|c| (c.uid.as_str().to_owned(), c))
            .collect();
        users
            .iter()
            .map(|u| {
                let grant = latest_grant(store.grants().for_user(u.id)?);
                let client = grant.as_ref().and_then(|g| clients.get(g.client.as_str()));
                Ok(UserView::of(u, grant.as_ref(), client))
            })
            .collect()
    }

    fn find_user(&self, query: &str) -> Result<User> {
        let mut found = self.store().users().find_by_sub_or_email(query.trim())?;
        match found.len() {
            0 => Err(DeskError::UserNotFound {
                query: query.to_owned(),
            }),
            1 => Ok(found.remove(0)),
            n => Err(DeskError::AmbiguousUser {
                query: query.to_owned(),
                count: n,
            }),
        }
    }

    /// The user and the grant an operation acts on: the given client's, or the latest.
    fn user_and_grant(&self, query: &str, client: Option<&str>) -> Result<(User, Grant, Client)> {
        let user = self.find_user(query)?;
        let grants = self.store().grants().for_user(user.id)?;
        let grant = match client {
            Some(name) => {
                let c = self.client_row(Some(name))?;
                grants.into_iter().find(|g| g.client == c.uid)
            }
            None => latest_grant(grants),
        };
        let grant = grant.ok_or_else(|| DeskError::NoGrant {
            sub: user.sub.clone(),
            for_client: client
                .map(|c| format!(" with client {c}"))
                .unwrap_or_default(),
        })?;
        let client = self.store().clients().get(&grant.client)?.ok_or_else(|| {
            DeskError::ClientNotFound {
                name: grant.client.as_str().to_owned(),
            }
        })?;
        Ok((user, grant, client))
    }

    pub fn user(&self, query: &str) -> Result<UserDetail> {
        let (user, grant, client) = match self.user_and_grant(query, None) {
            Ok((u, g, c)) => (u, Some(g), Some(c)),
            Err(DeskError::NoGrant { .. }) => (self.find_user(query)?, None, None),
            Err(e) => return Err(e),
        };
        Ok(UserDetail {
            user: UserView::of(&user, grant.as_ref(), client.as_ref()),
            claims: user.claims.clone(),
            id_token: user.id_token.clone(),
        })
    }

    pub fn audit_log(&self, limit: usize) -> Result<Vec<crate::store::AuditEntry>> {
        Ok(self.store().audit().recent(limit)?)
    }

    pub fn user_audit(&self, query: &str, limit: usize) -> Result<Vec<crate::store::AuditEntry>> {
        let user = self.find_user(query)?;
        Ok(self.store().audit().for_user(user.id, limit)?)
    }

    // -----------------------------------------------------------------------------------------
    // Refresh

    fn flight(&self, grant: &Grant) -> Arc<Flight> {
        let mut map = self
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        Arc::clone(map.entry(grant.uid.as_str().to_owned()).or_default())
    }

    /// Runs a keyring call on the blocking pool: it is a D-Bus round trip, and an unlock
    /// prompt can keep it waiting for a person, which must not stall the async runtime.
    async fn keyring<T: Send + 'static>(
        &self,
        call: impl FnOnce(&dyn SecretStore) -> Result<T, crate::vault::VaultError> + Send + 'static,
    ) -> Result<T> {
        let vault = Arc::clone(&self.vault);
        tokio::task::spawn_blocking(move || call(&*vault))
            .await
            .map_err(|e| DeskError::Http(format!("a keyring call did not finish: {e}")))?
            .map_err(Into::into)
    }

    async fn secret(&self, key: SecretKey) -> Result<Option<Zeroizing<String>>> {
        self.keyring(move |v| v.get(&key)).await
    }

    async fn put(&self, key: SecretKey, value: &str) -> Result<(), crate::vault::VaultError> {
        let value = Zeroizing::new(value.to_owned());
        let vault = Arc::clone(&self.vault);
        let name = key.as_str().to_owned();
        match tokio::task::spawn_blocking(move || vault.set(&key, &value)).await {
            Ok(result) => result,
            Err(e) => Err(crate::vault::VaultError::Platform {
                op: crate::vault::VaultOp::Set,
                key: name,
                detail: format!("the keyring call did not finish: {e}"),
            }),
        }
    }

    /// The version of the grant's refresh token to use: the referenced one, or a newer one a
    /// process stored from a rotating provider's answer and was killed before referencing.
    /// That newer one is the live token (sending the spent one would be reuse, which such a
    /// provider punishes by killing the grant), so it is adopted here.
    async fn live_refresh_version(&self, grant: &Grant) -> Result<u32> {
        let referenced = grant.refresh_key_version.unwrap_or(1);
        let mut version = referenced;
        loop {
            let next = SecretKey::refresh_token(grant.uid.as_str(), version + 1)?;
            if !self.keyring(move |v| v.contains(&next)).await? {
                break;
            }
            version += 1;
        }
        if version != referenced {
            self.reference_refresh_version(grant, version)?;
            self.delete_version(Some(referenced), |v| {
                SecretKey::refresh_token(grant.uid.as_str(), v)
            })
            .await;
        }
        Ok(version)
    }

    /// Points the grant at another version of its refresh token (already in the keyring).
    fn reference_refresh_version(&self, grant: &Grant, version: u32) -> Result<()> {
        let mut store = self.store();
        let tx = store.write()?;
        tx.grants_mut().update_tokens(
            &grant.uid,
            &TokenUpdate {
                refresh_key_version: Some(version),
                ..TokenUpdate::default()
            },
            now(),
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Refreshes one user's access token. Concurrent calls for one grant share one request.
    pub async fn refresh(&self, query: &str, client: Option<&str>) -> Result<UserView> {
        let (user, grant, client) = self.user_and_grant(query, client)?;
        self.refresh_exclusive(&user, &grant, &client).await?;
        self.view_of_grant(&grant.uid)
    }

    /// Refreshes `seen` (the grant as the caller read it before waiting) holding the grant's
    /// lock, which every process on this store shares: the CLI, the receiver and the desktop
    /// never send one refresh token at once (with a rotating provider that is reuse, and kills
    /// the grant). The grant is read again under the lock; one refreshed (or re-consented)
    /// since `seen`, by this process or another, is not refreshed again: its new tokens serve
    /// this caller too. That is the single flight: concurrent callers share one request.
    async fn refresh_exclusive(
        &self,
        user: &User,
        seen: &Grant,
        client: &Client,
    ) -> Result<Refreshed> {
        let flight = self.flight(seen);
        let _turn = flight.lock().await;
        let _held = self
            .locks
            .exclusive(&locks::grant_lock_name(seen.uid.as_str()), false)
            .await?;
        let grant = self
            .store()
            .grants()
            .get(&seen.uid)?
            .unwrap_or_else(|| seen.clone());
        let moved_on = grant.access_key_version != seen.access_key_version
            || grant.refresh_key_version != seen.refresh_key_version;
        if moved_on
            && grant.state == GrantState::Complete
            && grant.refresh_token == RefreshTokenState::Present
        {
            return Ok(Refreshed::ByAnother(grant));
        }
        Ok(Refreshed::Now(
            self.refresh_locked(user, &grant, client).await?,
        ))
    }

    async fn refresh_locked(
        &self,
        user: &User,
        grant: &Grant,
        client: &Client,
    ) -> Result<TokenSet> {
        let unusable = |state: &'static str, advice: &str| DeskError::RefreshTokenUnusable {
            sub: user.sub.clone(),
            state,
            advice: advice.to_owned(),
        };
        if grant.state == GrantState::Incomplete {
            return Err(DeskError::Incomplete {
                sub: user.sub.clone(),
            });
        }
        match grant.refresh_token {
            RefreshTokenState::Present => {}
            RefreshTokenState::Absent => {
                return Err(unusable(
                    "absent",
                    "the exchange returned none; the user must sign in again with offline access and consent",
                ));
            }
            RefreshTokenState::Revoked => {
                return Err(unusable(
                    "revoked",
                    "the grant was revoked; the user must sign in again",
                ));
            }
            RefreshTokenState::PendingRevocation => {
                return Err(unusable(
                    "pending revocation",
                    "a revocation is pending; retry `tokendesk revoke`",
                ));
            }
            RefreshTokenState::Invalid => {
                return Err(unusable(
                    "invalid",
                    grant
                        .invalid_reason
                        .as_deref()
                        .unwrap_or("Google refused it; the user must sign in again"),
                ));
            }
        }
        let version = self.live_refresh_version(grant).await?;
        let Some(rt) = self
            .secret(SecretKey::refresh_token(grant.uid.as_str(), version)?)
            .await?
        else {
            return Err(unusable(
                "missing from the keyring",
                "the keyring has no entry for it; the user must sign in again",
            ));
        };
        let refresh_token = RefreshToken::new(rt.as_str());
        let oauth_client = self.oauth_client(client, None).await?;
        crash_point("refresh_before_send");
        let tokens = match oauth::refresh(&oauth_client, &refresh_token, None).await {
            Ok(t) => t,
            Err(err) => {
                let code = err.code();
                if err.needs_reconsent() {
                    let reason = err.explanation().summary;
                    let mut store = self.store();
                    let tx = store.write()?;
                    tx.grants_mut().set_refresh_state(
                        &grant.uid,
                        RefreshTokenState::Invalid,
                        Some(&reason),
                        now(),
                    )?;
                    tx.audit_mut().record(
                        &self.audit_entry(
                            AuditAction::Refresh,
                            Some(user),
                            AuditOutcome::Failed,
                            Some(code.to_owned()),
                        ),
                        now(),
                    )?;
                    tx.commit()?;
                } else {
                    self.audit(
                        AuditAction::Refresh,
                        Some(user),
                        AuditOutcome::Failed,
                        Some(code.to_owned()),
                    );
                }
                return Err(err.into());
            }
        };
        // A provider that rotates refresh tokens has just spent the old one: the new one is
        // stored and referenced before anything else (verifying can take a while), and the old
        // one is let go only after that. The window left is the keyring write itself.
        let refresh_version = match &tokens.refresh_token {
            Some(new_rt) => {
                let v = version + 1;
                self.put(
                    SecretKey::refresh_token(grant.uid.as_str(), v)?,
                    new_rt.secret(),
                )
                .await?;
                crash_point("refresh_after_rt_vault");
                self.reference_refresh_version(grant, v)?;
                crash_point("refresh_after_rt_commit");
                Some(v)
            }
            None => None,
        };
        // A refreshed ID token must name the same person and client (OIDC Core §12.2).
        let mut refreshed_profile = None;
        if let Some(id_token) = &tokens.id_token {
            let verified = self.verifier(client)?.verify(id_token).await?;
            let c = verified.claims();
            let stored = &user.claims;
            for (claim, new) in [
                ("iss", Some(c.iss.as_str())),
                ("sub", Some(c.sub.as_str())),
                ("azp", c.azp.as_deref()),
            ] {
                let old = stored[claim].as_str();
                if old != new && !(claim == "azp" && old.is_none() && new.is_none()) {
                    self.audit(
                        AuditAction::Refresh,
                        Some(user),
                        AuditOutcome::Failed,
                        Some("refreshed_identity_changed".into()),
                    );
                    return Err(DeskError::RefreshedIdentityChanged { claim });
                }
            }
            let profile = profile_of(c);
            refreshed_profile = Some(profile);
        }
        let access_version = grant.access_key_version.map_or(1, |v| v + 1);
        self.put(
            SecretKey::access_token(grant.uid.as_str(), access_version)?,
            tokens.access_token.secret(),
        )
        .await?;
        // One transaction (one disk flush) per refresh: the profile, the grant, the audit. On
        // the blocking pool: the flush takes a millisecond or more, and `refresh_all` drives
        // all its refreshes from one task, which must not stall meanwhile.
        let update = TokenUpdate {
            scopes: (!tokens.scopes.is_empty()).then(|| tokens.scopes.clone()),
            access_token_expires_at: tokens
                .expires_in
                .map(|d| now().plus_seconds(i64::try_from(d.as_secs()).unwrap_or(3600))),
            access_key_version: Some(access_version),
            refresh_key_version: refresh_version,
        };
        let entry = self.audit_entry(AuditAction::Refresh, Some(user), AuditOutcome::Ok, None);
        let grant_uid = grant.uid.clone();
        self.write_grouped(Box::new(move |tx| {
            if let Some(profile) = &refreshed_profile {
                tx.users_mut().upsert(profile, None, now())?;
            }
            tx.grants_mut().update_tokens(&grant_uid, &update, now())?;
            tx.audit_mut().record(&entry, now()).map(drop)
        }))
        .await?;
        crash_point("refresh_after_commit");
        self.delete_version(grant.access_key_version, |v| {
            SecretKey::access_token(grant.uid.as_str(), v)
        })
        .await;
        if refresh_version.is_some() {
            self.delete_version(Some(version), |v| {
                SecretKey::refresh_token(grant.uid.as_str(), v)
            })
            .await;
        }
        Ok(tokens)
    }

    /// Refreshes every user with a live refresh token, `concurrency` at a time. `progress` is
    /// called after each user; `cancel` stops starting new ones.
    pub async fn refresh_all(
        &self,
        concurrency: usize,
        progress: impl Fn(usize, usize, &RefreshOutcome) + Send + Sync,
        cancel: &tokio_util_cancel::Cancel,
    ) -> Result<RefreshAllReport> {
        use futures_util::stream::{self, StreamExt as _};
        let targets: Vec<(User, Grant, Client)> = {
            let store = self.store();
            let clients: HashMap<String, Client> = store
                .clients()
                .list()?
                .into_iter()
                .map(|c| (c.uid.as_str().to_owned(), c))
                .collect();
            let mut out = Vec::new();
            for grant in store
                .grants()
                .with_refresh_state(RefreshTokenState::Present)?
            {
                if grant.state != GrantState::Complete {
                    continue;
                }
                let (Some(user), Some(client)) = (
                    store.users().get(grant.user_id)?,
                    clients.get(grant.client.as_str()),
                ) else {
                    continue;
                };
                out.push((user, grant, client.clone()));
            }
            out
        };
        let total = targets.len();
        let done = std::sync::atomic::AtomicUsize::new(0);
        let outcomes: Vec<Option<RefreshOutcome>> = stream::iter(targets)
            .map(|(user, grant, client)| {
                let done = &done;
                let progress = &progress;
                async move {
                    if cancel.is_cancelled() {
                        return None;
                    }
                    let result = self.refresh_exclusive(&user, &grant, &client).await;
                    let outcome = RefreshOutcome {
                        sub: user.sub.clone(),
                        email: user.email.clone(),
                        ok: result.is_ok(),
                        error: result.err().map(|e| e.code().to_owned()),
                    };
                    let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                    progress(n, total, &outcome);
                    Some(outcome)
                }
            })
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
        let mut report = RefreshAllReport {
            total,
            ..RefreshAllReport::default()
        };
        for o in outcomes {
            match o {
                None => report.skipped += 1,
                Some(o) if o.ok => {
                    report.refreshed += 1;
                    report.outcomes.push(o);
                }
                Some(o) => {
                    report.failed += 1;
                    report.outcomes.push(o);
                }
            }
        }
        Ok(report)
    }

    // -----------------------------------------------------------------------------------------
    // Revoke, Drive, inspect, reveal

    /// Revokes the user's grant at Google. The whole grant dies, not one token.
    pub async fn revoke(&self, query: &str, client: Option<&str>) -> Result<RevokeReport> {
        let (user, grant, client_row) = self.user_and_grant(query, client)?;
        let refresh = match grant.refresh_key_version {
            Some(v) => {
                self.secret(SecretKey::refresh_token(grant.uid.as_str(), v)?)
                    .await?
            }
            None => None,
        };
        let access = match grant.access_key_version {
            Some(v) => {
                self.secret(SecretKey::access_token(grant.uid.as_str(), v)?)
                    .await?
            }
            None => None,
        };
        let endpoints = Self::endpoints_of(&client_row)?;
        let outcome = match (&refresh, &access) {
            (Some(rt), _) => {
                oauth::revoke(
                    &self.http,
                    &endpoints,
                    (&RefreshToken::new(rt.as_str())).into(),
                )
                .await?
            }
            (None, Some(at)) => {
                oauth::revoke(
                    &self.http,
                    &endpoints,
                    (&AccessToken::new(at.as_str())).into(),
                )
                .await?
            }
            (None, None) => {
                return Err(DeskError::RefreshTokenUnusable {
                    sub: user.sub.clone(),
                    state: "missing",
                    advice: "no token of this grant is in the keyring; nothing to revoke".into(),
                });
            }
        };
        let state = if outcome.grant_is_dead() {
            RefreshTokenState::Revoked
        } else {
            RefreshTokenState::PendingRevocation
        };
        {
            let mut store = self.store();
            let tx = store.write()?;
            tx.grants_mut()
                .set_refresh_state(&grant.uid, state, None, now())?;
            tx.audit_mut().record(
                &self.audit_entry(
                    AuditAction::Revoke,
                    Some(&user),
                    if outcome.grant_is_dead() {
                        AuditOutcome::Ok
                    } else {
                        AuditOutcome::Failed
                    },
                    Some(outcome.code().to_owned()),
                ),
                now(),
            )?;
            tx.commit()?;
        }
        if outcome.grant_is_dead() {
            // Dead tokens are worthless; keeping them would only widen what a leak exposes.
            self.delete_version(grant.refresh_key_version, |v| {
                SecretKey::refresh_token(grant.uid.as_str(), v)
            })
            .await;
            self.delete_version(grant.access_key_version, |v| {
                SecretKey::access_token(grant.uid.as_str(), v)
            })
            .await;
        }
        Ok(RevokeReport {
            user: self.view_of_grant(&grant.uid)?,
            outcome: outcome.code(),
            message: outcome.message(),
        })
    }

    /// A live access token for the grant: the stored one, or a refreshed one.
    async fn access_token(
        &self,
        user: &User,
        grant: &Grant,
        client: &Client,
        force_refresh: bool,
    ) -> Result<AccessToken> {
        let fresh = grant
            .access_token_expires_at
            .is_some_and(|t| t.unix() > now().unix() + 60);
        if !force_refresh
            && fresh
            && let Some(v) = grant.access_key_version
            && let Some(at) = self
                .secret(SecretKey::access_token(grant.uid.as_str(), v)?)
                .await?
        {
            return Ok(AccessToken::new(at.as_str()));
        }
        match self.refresh_exclusive(user, grant, client).await? {
            Refreshed::Now(tokens) => Ok(tokens.access_token),
            Refreshed::ByAnother(grant) => {
                let stored = match grant.access_key_version {
                    Some(v) => {
                        self.secret(SecretKey::access_token(grant.uid.as_str(), v)?)
                            .await?
                    }
                    None => None,
                };
                stored
                    .map(|at| AccessToken::new(at.as_str()))
                    .ok_or_else(|| DeskError::RefreshTokenUnusable {
                        sub: user.sub.clone(),
                        state: "refreshed elsewhere",
                        advice: "another TokenDesk process refreshed this grant but its access \
                                 token is not in the keyring; run `tokendesk refresh` again"
                            .to_owned(),
                    })
            }
        }
    }

    /// The user's appDataFolder and its files. A 401 refreshes once and retries.
    pub async fn drive(&self, query: &str, client: Option<&str>) -> Result<DriveReport> {
        let (user, grant, client_row) = self.user_and_grant(query, client)?;
        let endpoints = Self::endpoints_of(&client_row)?;
        let mut token = self.access_token(&user, &grant, &client_row, false).await?;
        let mut retried = false;
        loop {
            let listing = async {
                let folder = crate::drive::get_app_folder(&self.http, &endpoints, &token).await?;
                let files =
                    crate::drive::list_app_data(&self.http, &endpoints, &token, None).await?;
                Ok::<_, crate::drive::DriveError>((folder, files))
            }
            .await;
            match listing {
                Ok((folder, files)) => {
                    self.audit(
                        AuditAction::Drive,
                        Some(&user),
                        AuditOutcome::Ok,
                        Some(format!("{} file(s)", files.len())),
                    );
                    let view = self.view_of_grant(&grant.uid)?;
                    return Ok(DriveReport {
                        user: view,
                        folder,
                        files,
                    });
                }
                Err(crate::drive::DriveError::Unauthorized) if !retried => {
                    retried = true;
                    let grant = self
                        .store()
                        .grants()
                        .get(&grant.uid)?
                        .unwrap_or_else(|| grant.clone());
                    token = self.access_token(&user, &grant, &client_row, true).await?;
                }
                Err(err) => {
                    self.audit(
                        AuditAction::Drive,
                        Some(&user),
                        AuditOutcome::Failed,
                        Some(err.code().to_owned()),
                    );
                    return Err(err.into());
                }
            }
        }
    }

    /// Decodes and verifies a JWT (every check with its result), or asks tokeninfo about an
    /// access token. Nothing is stored.
    pub async fn inspect(&self, client: Option<&str>, token: &str) -> Result<InspectReport> {
        let token = token.trim();
        if token.split('.').count() == 3 {
            let verifier = match self.client_row(client) {
                Ok(c) => self.verifier(&c)?,
                Err(DeskError::NoClient) => {
                    // No client: check against Google with no audience of ours, so the report
                    // still shows the signature and every claim check.
                    let endpoints = Endpoints::google();
                    let policy = IdTokenPolicy::new(&endpoints, "").with_leeway(self.leeway);
                    let jwks = Arc::new(JwksCache::new(HttpJwks {
                        http: self.http.clone(),
                        url: endpoints.jwks_uri.clone(),
                    }));
                    Arc::new(IdTokenVerifier::new(policy, jwks))
                }
                Err(e) => return Err(e),
            };
            return Ok(InspectReport::Jwt(
                verifier.inspect(&IdTokenRaw::new(token)).await,
            ));
        }
        let endpoints = match self.client_row(client) {
            Ok(c) => Self::endpoints_of(&c)?,
            Err(DeskError::NoClient) => Endpoints::google(),
            Err(e) => return Err(e),
        };
        let info = oauth::tokeninfo(&self.http, &endpoints, &AccessToken::new(token)).await?;
        Ok(InspectReport::AccessToken(info))
    }

    /// A user's token, for a person who asked for it explicitly. Audited.
    ///
    /// Synchronous, keyring read included: it is a person's one-off action, and the keyring
    /// may show an unlock prompt that must be waited for. Call it from a blocking context
    /// (a desktop command on its blocking pool, `spawn_blocking`), not on an async worker.
    pub fn reveal(&self, query: &str, which: RevealWhich) -> Result<Zeroizing<String>> {
        let (user, grant, _) = self.user_and_grant(query, None)?;
        let key = match which {
            RevealWhich::Access => grant
                .access_key_version
                .map(|v| SecretKey::access_token(grant.uid.as_str(), v)),
            RevealWhich::Refresh => grant
                .refresh_key_version
                .map(|v| SecretKey::refresh_token(grant.uid.as_str(), v)),
        }
        .transpose()?;
        let value = match key {
            Some(k) => self.vault.get(&k)?,
            None => None,
        };
        let what = if which == RevealWhich::Access {
            "access_token"
        } else {
            "refresh_token"
        };
        self.audit(
            AuditAction::Reveal,
            Some(&user),
            if value.is_some() {
                AuditOutcome::Ok
            } else {
                AuditOutcome::Failed
            },
            Some(what.to_owned()),
        );
        value.ok_or_else(|| DeskError::RefreshTokenUnusable {
            sub: user.sub.clone(),
            state: "missing",
            advice: format!("no {what} of this grant is in the keyring"),
        })
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

/// What `inspect` found.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum InspectReport {
    Jwt(Inspection),
    AccessToken(TokenInfo),
}

/// The profile a verified ID token states; absent claims stay `None` (the store keeps them).
fn profile_of(c: &crate::id_token::GoogleClaims) -> UserProfile {
    UserProfile {
        issuer: c.iss.clone(),
        sub: c.sub.clone(),
        email: c.email.clone(),
        email_verified: c.email_verified,
        name: c.name.clone(),
        given_name: c.given_name.clone(),
        family_name: c.family_name.clone(),
        picture: c.picture.clone(),
        locale: c.locale.clone(),
        hd: c.hd.clone(),
    }
}

fn latest_grant(grants: Vec<Grant>) -> Option<Grant> {
    grants.into_iter().max_by_key(|g| g.updated_at)
}

/// The highest version of a key present in the keyring: read from `listed` (the keyring's
/// own listing) when there is one, else probed (versions are small: 1..=64).
fn latest_version(
    vault: &dyn SecretStore,
    listed: Option<&[SecretKey]>,
    key: impl Fn(u32) -> Result<SecretKey, crate::vault::VaultError>,
) -> Result<Option<u32>> {
    let mut found = None;
    for v in 1..=64 {
        let k = key(v)?;
        let present = match listed {
            Some(keys) => keys.contains(&k),
            None => vault.contains(&k)?,
        };
        if present {
            found = Some(v);
        }
    }
    Ok(found)
}

/// The receiver's sink: exchange with one client, answer the profile.
#[derive(Debug, Clone)]
pub struct ReceiverSink {
    pub desk: Arc<Desk>,
    pub client: Option<String>,
}

impl CodeSink for ReceiverSink {
    fn redeem(&self, code: AuthCode) -> RedeemFuture<'_> {
        Box::pin(async move {
            let report = self
                .desk
                .exchange(self.client.as_deref(), code, RedirectChoice::Empty)
                .await
                .map_err(|err| redeem_error(&err))?;
            let u = report.user;
            Ok(ReceivedUser {
                sub: u.sub,
                email: u.email,
                email_verified: u.email_verified,
                name: u.name,
                given_name: u.given_name,
                family_name: u.family_name,
                picture: u.picture,
                locale: u.locale,
                hd: u.hd,
            })
        })
    }
}

fn redeem_error(err: &DeskError) -> RedeemError {
    let code = err.code().to_owned();
    let message = err.to_string();
    match err {
        DeskError::Replay { .. } => RedeemError::Replay,
        DeskError::OAuth(e) if e.is_transient() || e.code() == "outcome_unknown" => {
            RedeemError::Upstream { code, message }
        }
        DeskError::OAuth(_) | DeskError::IdToken(_) | DeskError::NoIdToken => {
            RedeemError::Rejected { code, message }
        }
        _ => RedeemError::Internal { code, message },
    }
}

/// A small cancellation flag for long operations (refresh --all), shared with the UI.
pub mod tokio_util_cancel {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[derive(Debug, Clone, Default)]
    pub struct Cancel(Arc<AtomicBool>);

    impl Cancel {
        pub fn cancel(&self) {
            self.0.store(true, Ordering::Relaxed);
        }
        pub fn is_cancelled(&self) -> bool {
            self.0.load(Ordering::Relaxed)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod group_commit_tests {
    use super::*;

    fn entry(detail: String) -> NewAuditEntry {
        NewAuditEntry {
            os_user: "test".into(),
            action: AuditAction::Refresh,
            user_id: None,
            outcome: AuditOutcome::Ok,
            detail: Some(detail),
        }
    }

    /// Writes queued while the store is busy commit as one group; one failing write in the
    /// group fails alone, and the others still commit (retried one by one).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_write_fails_alone_and_its_group_still_commits() {
        let dir = tempfile::tempdir().unwrap();
        let desk = Arc::new(
            Desk::open(
                &DeskOptions::new(dir.path()),
                Arc::new(crate::vault::MemoryStore::new()),
            )
            .unwrap(),
        );
        const WRITES: usize = 30;
        const FAILING: usize = 7;
        // Hold the store so every write queues, and they all land in one group.
        let busy = desk.store();
        let tasks: Vec<_> = (0..WRITES)
            .map(|i| {
                let desk = Arc::clone(&desk);
                tokio::spawn(async move {
                    desk.write_grouped(Box::new(move |tx| {
                        if i == FAILING {
                            return Err(crate::store::StoreError::Corrupt {
                                detail: "a write that fails".into(),
                            });
                        }
                        tx.audit_mut()
                            .record(&entry(format!("w{i}")), now())
                            .map(drop)
                    }))
                    .await
                })
            })
            .collect();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while desk
            .write_queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
            < WRITES
        {
            assert!(std::time::Instant::now() < deadline, "the writes queued");
            std::thread::sleep(Duration::from_millis(5));
        }
        drop(busy);
        for (i, task) in tasks.into_iter().enumerate() {
            let result = task.await.unwrap();
            assert_eq!(result.is_err(), i == FAILING, "write {i}: {result:?}");
        }
        let mut written: Vec<String> = desk
            .audit_log(100)
            .unwrap()
            .into_iter()
            .filter_map(|e| e.detail)
            .filter(|d| d.starts_with('w'))
            .collect();
        written.sort();
        let mut expected: Vec<String> = (0..WRITES)
            .filter(|&i| i != FAILING)
            .map(|i| format!("w{i}"))
            .collect();
        expected.sort();
        assert_eq!(written, expected);
    }
}
