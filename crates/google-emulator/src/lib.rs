//! An offline Google for TokenDesk's tests and sandbox: OAuth 2.0, OpenID Connect and Drive v3
//! appDataFolder on one loopback origin, close enough that Google's own client libraries work.
//!
//! ```no_run
//! # async fn demo() -> Result<(), google_emulator::StartError> {
//! let emulator = google_emulator::Emulator::builder().start().await?;
//! println!("{}", emulator.base_url());
//! # Ok(()) }
//! ```

// Handlers return `Result<_, Response>` so an early error is already Google's reply; boxing
// every axum `Response` would buy nothing on a test double.
#![allow(clippy::result_large_err)]

mod admin;
mod admin_guard;
mod drive;
mod faults;
mod keys;
mod oauth;
pub mod person;
mod redirects;
mod replies;
mod server;
mod state;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};

use serde_json::{Value, json};

pub use faults::{Endpoint, Fault};
pub use keys::KeyError;
pub use state::{ACCESS_TOKEN_SECS, CODE_SECS, User, UserSpec, sub_for_email};

/// An OAuth client the emulator registers, as in a Google Cloud project: its id and secret.
#[derive(Clone)]
pub struct ClientCredentials {
    pub client_id: String,
    pub client_secret: String,
}

/// The web ("server") client: [`Emulator::web_client`].
pub type WebClient = ClientCredentials;

impl std::fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(
        "refusing to listen on {0}: the emulator hands out tokens to anyone who asks, so it \
         binds loopback only unless non-loopback is explicitly allowed"
    )]
    NotLoopback(SocketAddr),
    #[error(transparent)]
    Keys(#[from] KeyError),
}

/// Which `iss` the emulator puts in discovery and ID tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IssuerMode {
    /// `https://accounts.google.com`, as Google signs: libraries that hard-code Google's
    /// issuers (google-auth's `verify_oauth2_token`, TokenDesk's Google provider) accept it.
    #[default]
    Google,
    /// Its own origin (`http://127.0.0.1:PORT`), for strict OpenID clients that require the
    /// discovery document's issuer to equal the URL they fetched it from.
    Origin,
    /// `accounts.google.com`, the legacy form Google still sends at times.
    GoogleLegacy,
}

/// Configures and starts an [`Emulator`].
#[derive(Debug, Clone)]
pub struct Builder {
    listen: SocketAddr,
    allow_non_loopback: bool,
    issuer_mode: IssuerMode,
    workspace_domain: Option<String>,
    certs_max_age: u32,
    project_id: String,
}

impl Default for Builder {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            allow_non_loopback: false,
            issuer_mode: IssuerMode::Google,
            workspace_domain: Some("example.com".to_owned()),
            certs_max_age: 21_600,
            project_id: "tokendesk-emulator".to_owned(),
        }
    }
}

impl Builder {
    /// The address to bind; port 0 picks a free one. Loopback only unless allowed.
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    pub fn allow_non_loopback(mut self, allow: bool) -> Self {
        self.allow_non_loopback = allow;
        self
    }

    pub fn issuer_mode(mut self, mode: IssuerMode) -> Self {
        self.issuer_mode = mode;
        self
    }

    /// Users with an email in this domain get the `hd` claim. Default `example.com`.
    pub fn workspace_domain(mut self, domain: Option<String>) -> Self {
        self.workspace_domain = domain;
        self
    }

    /// `max-age` of the certs endpoints' `Cache-Control`, in seconds. Default 6 hours.
    pub fn certs_max_age(mut self, secs: u32) -> Self {
        self.certs_max_age = secs;
        self
    }

    pub async fn start(self) -> Result<Emulator, StartError> {
        if !self.listen.ip().is_loopback() && !self.allow_non_loopback {
            return Err(StartError::NotLoopback(self.listen));
        }
        let listener = tokio::net::TcpListener::bind(self.listen)
            .await
            .map_err(|source| StartError::Bind {
                addr: self.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: self.listen,
            source,
        })?;
        let base_url = format!("http://{addr}");
        let issuer = match self.issuer_mode {
            IssuerMode::Origin => base_url.clone(),
            IssuerMode::Google => "https://accounts.google.com".to_owned(),
            IssuerMode::GoogleLegacy => "accounts.google.com".to_owned(),
        };
        let clock = state::Clock::default();
        let keys = keys::KeySet::generate(clock.now())?;
        let project_number =
            u64::from_str_radix(&keys::random_hex(5), 16).unwrap_or(1) % 1_000_000_000_000;
        let client_id = || {
            format!(
                "{project_number}-{}.apps.googleusercontent.com",
                &keys::random_hex(16)
            )
        };
        let credentials = || ClientCredentials {
            client_id: client_id(),
            client_secret: format!("GOCSPX-{}", keys::random_token(21)),
        };
        let web = credentials();
        let desktop = credentials();
        let ios_client_id = client_id();
        let mut db = state::Db::new(self.workspace_domain.clone());
        db.add_client(state::Client {
            client_id: web.client_id.clone(),
            secret: Some(web.client_secret.clone()),
            kind: state::ClientKind::Web,
            redirect_uris: vec![
                format!("{base_url}/callback"),
                "http://localhost".to_owned(),
            ],
        });
        db.add_client(state::Client {
            client_id: ios_client_id.clone(),
            secret: None,
            kind: state::ClientKind::Ios,
            redirect_uris: vec![],
        });
        db.add_client(state::Client {
            client_id: desktop.client_id.clone(),
            secret: Some(desktop.client_secret.clone()),
            kind: state::ClientKind::Desktop,
            redirect_uris: vec![DESKTOP_REDIRECT_URI.to_owned()],
        });
        let shared = Arc::new(Shared {
            base_url: base_url.clone(),
            issuer,
            addr,
            web,
            desktop,
            ios_client_id,
            project_id: self.project_id.clone(),
            certs_max_age: self.certs_max_age,
            clock,
            keys: RwLock::new(keys),
            db: Mutex::new(db),
            drive: Mutex::new(drive::DriveStore::default()),
            faults: faults::FaultBoard::default(),
        });
        let router = server::router(Arc::clone(&shared));
        let (stop, stopped) = tokio::sync::watch::channel(false);
        tokio::spawn(server::serve(listener, router, stopped));
        tracing::info!(%base_url, "google emulator listening");
        Ok(Emulator { addr, shared, stop })
    }
}

/// What Google Cloud Console writes in a Desktop app's client_secret.json.
const DESKTOP_REDIRECT_URI: &str = "http://localhost";

/// State shared by every request handler.
pub(crate) struct Shared {
    pub base_url: String,
    /// The address it listens on; the admin API answers only requests addressed to it.
    pub addr: SocketAddr,
    pub issuer: String,
    pub web: ClientCredentials,
    pub desktop: ClientCredentials,
    pub ios_client_id: String,
    pub project_id: String,
    pub certs_max_age: u32,
    pub clock: state::Clock,
    pub keys: RwLock<keys::KeySet>,
    pub db: Mutex<state::Db>,
    pub drive: Mutex<drive::DriveStore>,
    pub faults: faults::FaultBoard,
}

impl Shared {
    /// Adds `uri` to a web client's authorized redirect URIs, as Cloud Console checks them:
    /// an absolute URI without a fragment, https unless loopback. Returns the client's list.
    pub fn register_redirect_uri(&self, client_id: &str, uri: &str) -> Result<Vec<String>, String> {
        let parsed = uri
            .parse::<http::Uri>()
            .map_err(|e| format!("Invalid redirect: {e}"))?;
        if parsed.authority().is_none() {
            return Err("Invalid redirect: must be an absolute URI.".into());
        }
        if uri.contains('#') {
            return Err("Invalid redirect: cannot contain a fragment.".into());
        }
        if parsed.scheme_str() != Some("https") && !redirects::is_loopback(uri) {
            return Err("Invalid redirect: must use https (or http on localhost).".into());
        }
        let mut db = self.db();
        let client = db
            .clients
            .get_mut(client_id)
            .ok_or_else(|| format!("no client {client_id}"))?;
        if client.kind != state::ClientKind::Web {
            return Err("only a web client has authorized redirect URIs".into());
        }
        if !client.redirect_uris.iter().any(|r| r == uri) {
            client.redirect_uris.push(uri.to_owned());
        }
        Ok(client.redirect_uris.clone())
    }

    /// Locks the token database. A panic while holding it would be a bug in the emulator;
    /// carrying on with the data is better for a test double than poisoning every request.
    pub fn db(&self) -> std::sync::MutexGuard<'_, state::Db> {
        self.db
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn drive(&self) -> std::sync::MutexGuard<'_, drive::DriveStore> {
        self.drive
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn keys(&self) -> std::sync::RwLockReadGuard<'_, keys::KeySet> {
        self.keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn keys_mut(&self) -> std::sync::RwLockWriteGuard<'_, keys::KeySet> {
        self.keys
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A running emulator. Dropping it stops the server and closes its connections.
pub struct Emulator {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: tokio::sync::watch::Sender<bool>,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("base_url", &self.shared.base_url)
            .finish_non_exhaustive()
    }
}

impl Emulator {
    pub fn builder() -> Builder {
        Builder::default()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }

    /// The `iss` of the ID tokens it signs.
    pub fn issuer(&self) -> &str {
        &self.shared.issuer
    }

    pub fn web_client(&self) -> &WebClient {
        &self.shared.web
    }

    /// The "Desktop app" (installed) client: loopback redirects on any port, PKCE required,
    /// and a client secret that `/token` requires but that Google does not treat as
    /// confidential (so the admin API's `/config` shows it too).
    pub fn desktop_client(&self) -> &ClientCredentials {
        &self.shared.desktop
    }

    /// Registers `uri` as an authorized redirect URI of the web client (the admin API's
    /// `POST /emulator/v1/clients/redirect-uris`), as a person does in Cloud Console.
    pub fn register_redirect_uri(&self, uri: &str) -> Result<Vec<String>, String> {
        self.shared
            .register_redirect_uri(&self.shared.web.client_id, uri)
    }

    /// The iOS client the mobile app signs in with: the `azp` of ID tokens from its codes.
    pub fn ios_client_id(&self) -> &str {
        &self.shared.ios_client_id
    }

    /// A `client_secret.json` as Google Cloud Console downloads it for a web client, pointing
    /// at this emulator (plus `revoke_uri`, which oauth2client reads, so it revokes here too).
    pub fn client_secret_json(&self) -> Value {
        let base = &self.shared.base_url;
        self.secret_file(
            "web",
            &self.shared.web,
            json!([format!("{base}/callback"), "http://localhost"]),
        )
    }

    /// The desktop client's `client_secret.json`, in Google's `{"installed": {...}}` shape
    /// (`redirect_uris: ["http://localhost"]`, as Google writes for Desktop apps; any
    /// loopback URI and port is accepted), pointing at this emulator.
    pub fn desktop_client_secret_json(&self) -> Value {
        self.secret_file(
            "installed",
            &self.shared.desktop,
            json!([DESKTOP_REDIRECT_URI]),
        )
    }

    fn secret_file(&self, kind: &str, client: &ClientCredentials, redirect_uris: Value) -> Value {
        let base = &self.shared.base_url;
        json!({
            kind: {
                "client_id": client.client_id,
                "project_id": self.shared.project_id,
                "auth_uri": format!("{base}/o/oauth2/v2/auth"),
                "token_uri": format!("{base}/token"),
                "auth_provider_x509_cert_url": format!("{base}/oauth2/v1/certs"),
                "client_secret": client.client_secret,
                "redirect_uris": redirect_uris,
                "revoke_uri": format!("{base}/revoke"),
            }
        })
    }

    /// The test users (the admin API's `GET /emulator/v1/users`).
    pub fn users(&self) -> Vec<User> {
        self.shared.db().users.values().cloned().collect()
    }

    /// Creates a test user, or updates the one with that email (`POST /emulator/v1/users`).
    pub fn add_user(&self, spec: &UserSpec) -> Result<User, String> {
        self.shared
            .db()
            .upsert_user(spec)
            .map_err(|e| e.description)
    }

    /// Mints a code as an iOS app's serverAuthCode would be (see the admin API's `/codes`).
    pub fn mint_code(&self, request: &admin::MintCode) -> Result<(String, String), String> {
        admin::mint_code(&self.shared, request).map_err(|e| e.description)
    }

    /// Sets the emulated clock's offset from real time, in seconds.
    pub fn set_clock_offset(&self, secs: i64) {
        self.shared.clock.set_offset(secs);
    }

    /// Installs a fault for the next requests to an endpoint.
    pub fn inject(&self, fault: Fault) -> u64 {
        self.shared.faults.add(fault)
    }

    /// Removes every fault not yet spent: the endpoints answer normally again.
    pub fn clear_faults(&self) {
        self.shared.faults.clear();
    }

    /// How many requests each endpoint has answered (or had faulted).
    pub fn request_count(&self, endpoint: Endpoint) -> u64 {
        self.shared.faults.count(endpoint)
    }

    /// Rotates the signing key; returns the new kid.
    pub fn rotate_keys(&self) -> Result<String, KeyError> {
        admin::rotate(&self.shared)
    }

    /// Rotates refresh tokens on every refresh, with reuse detection (see the admin API's
    /// `/refresh-rotation`), or stops doing so.
    pub fn set_refresh_rotation(&self, enabled: bool) {
        self.shared.db().rotate_refresh_tokens = enabled;
    }

    /// How many times a rotated-out refresh token was presented (each killed its grant).
    pub fn refresh_reuse_detections(&self) -> u64 {
        self.shared.db().refresh_reuse_detected
    }

    /// Stops accepting and closes open connections.
    pub fn shutdown(&self) {
        let _ = self.stop.send(true);
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.shutdown();
    }
}

pub use admin::MintCode;
