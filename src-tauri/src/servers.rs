//! The window on a team server: sign in as staff through the system browser (loopback + PKCE,
//! the same flow and the same keyring entry as `tokendesk --server URL login`), the servers
//! the person saved, `TOKENDESK_SERVER`/`TOKENDESK_TOKEN` for kiosks and automation, and the
//! live feed of the server's audit log (a colleague's refresh appears without reloading).
//! Pages never know: they call `AppState::desk()`, a `Console` either way.

use std::path::Path;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use tauri::{Emitter as _, State};
use tokendesk_core::api::{CredentialKind, Role};
use tokendesk_core::console::Console as _;
use tokendesk_core::desk::StopFlag;
use tokendesk_core::follow::Followed;
use tokendesk_core::remote::{self, RemoteConsole};
use tokendesk_core::staff_login::{LOGIN_TIMEOUT, StaffLogin};
use tokendesk_core::store::AuditEntry;
use tokendesk_core::vault::{OsKeyring, SecretKey, SecretStore as _};
use ts_rs::TS;
use zeroize::Zeroizing;

use crate::commands::{AppStatus, status_of};
use crate::error::{CmdResult, CommandError};
use crate::state::{AppState, Mode, lock};

/// The event of the live feed.
pub const EVENT_LIVE: &str = "live";

/// The servers the person saved, in `DATA/servers.json`.
const FILE: &str = "servers.json";

/// A team server the window is connected to.
#[derive(Debug)]
pub struct Connected {
    pub console: Arc<RemoteConsole>,
    /// Given by `TOKENDESK_TOKEN` (an API token): never kept, never signed out of here.
    pub from_env: bool,
    /// Whether the live feed reaches the server now, and why not.
    pub link: Arc<Mutex<Link>>,
    follow: StopFlag,
}

impl Drop for Connected {
    fn drop(&mut self) {
        self.follow.stop();
    }
}

/// The live feed's state, as the header shows it.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Link {
    Connecting,
    Online,
    /// Lost; the next try is in `retry_in_secs`.
    Offline {
        reason: String,
        retry_in_secs: u32,
    },
    /// Ended for good (signed out, not allowed): `error` says what to do.
    Ended {
        error: CommandError,
    },
}

/// What the live feed tells the window.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct LiveEvent {
    /// Which server it is about (a feed of a server no longer in view is ignored).
    pub server: String,
    /// A new entry of the server's audit log, when that is what happened.
    pub entry: Option<AuditEntry>,
    pub link: Link,
}

/// Where the window is connected, for the header and the role-aware pages.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct ServerStatus {
    pub url: String,
    /// The staff member's email or the API token's name; `None` while not connected.
    pub name: Option<String>,
    pub role: Option<Role>,
    pub kind: Option<CredentialKind>,
    pub expires_at: Option<String>,
    /// From TOKENDESK_SERVER and TOKENDESK_TOKEN (the window cannot sign out of it).
    pub from_env: bool,
    pub link: Link,
    /// Why it is not connected (signed out, unreachable, version mismatch...), with the fix.
    pub error: Option<CommandError>,
}

/// A server on the person's list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct SavedServer {
    pub url: String,
    /// Who signed in there last, for the list.
    pub last_signed_in_as: Option<String>,
    pub last_role: Option<Role>,
    /// Whether this machine's keyring holds a session for it.
    #[serde(skip_deserializing, default)]
    pub signed_in: bool,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct SavedFile {
    servers: Vec<SavedServer>,
}

fn storage_error(path: &Path, e: impl std::fmt::Display) -> CommandError {
    CommandError::new(
        "storage",
        format!(
            "cannot keep the list of team servers in {}: {e}",
            path.display()
        ),
    )
}

fn load_saved(data_dir: &Path) -> CmdResult<Vec<SavedServer>> {
    let path = data_dir.join(FILE);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice::<SavedFile>(&bytes)
            .map(|f| f.servers)
            .map_err(|e| {
                CommandError::new(
                    "invalid_settings",
                    format!(
                        "{} is not TokenDesk's list of team servers ({e}): fix or delete it",
                        path.display()
                    ),
                )
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(storage_error(&path, e)),
    }
}

/// Writes the list whole, through a temporary file, so a crash leaves the old one or the new.
fn store_saved(data_dir: &Path, servers: &[SavedServer]) -> CmdResult<()> {
    let path = data_dir.join(FILE);
    std::fs::create_dir_all(data_dir).map_err(|e| storage_error(&path, e))?;
    let text = serde_json::to_vec_pretty(&SavedFile {
        servers: servers.to_vec(),
    })
    .map_err(|e| storage_error(&path, e))?;
    let tmp = data_dir.join(format!("{FILE}.tmp"));
    std::fs::write(&tmp, text).map_err(|e| storage_error(&path, e))?;
    std::fs::rename(&tmp, &path).map_err(|e| storage_error(&path, e))
}

fn keyring(state: &AppState) -> CmdResult<OsKeyring> {
    Ok(OsKeyring::open(state.keyring_kind())?)
}

fn session_key(base: &url::Url) -> CmdResult<SecretKey> {
    Ok(SecretKey::server_session(base.as_str())?)
}

/// The HTTP client for a team server: the system's CAs, plus the CA file of the Settings
/// page or `TOKENDESK_CA_CERT` (an organization's CA signing the server's certificate).
fn http(state: &AppState) -> CmdResult<reqwest::Client> {
    let settings = crate::settings::WindowSettings::load(&state.data_dir)?;
    let ca = settings
        .ca_bundle
        .filter(|p| !p.trim().is_empty())
        .or_else(|| std::env::var("TOKENDESK_CA_CERT").ok())
        .filter(|p| !p.trim().is_empty())
        .map(std::path::PathBuf::from);
    Ok(remote::http_client(ca.as_deref())?)
}

/// Opens `url` in the system browser (`$BROWSER`, else the platform's opener).
pub fn open_browser(url: &str) -> CmdResult<()> {
    tokendesk_core::loopback::open_in_browser(url).map_err(|e| {
        CommandError::new(
            "no_browser",
            format!("cannot open the system browser ({e}): set BROWSER to your browser's command"),
        )
    })
}

/// Puts `console` in view: the live feed starts, the server goes on the person's list, and a
/// receiver serving an embedded store stops (codes never land where the person is not looking).
async fn install(state: &AppState, console: RemoteConsole, from_env: bool) -> CmdResult<()> {
    let console = Arc::new(console);
    let url = console.base().to_string();
    if !from_env {
        remember(state, &url, console.who().name.clone(), console.who().role)?;
    }
    let link = Arc::new(Mutex::new(Link::Connecting));
    let follow = StopFlag::default();
    start_feed(state, &console, &link, &follow);
    let connected = Arc::new(Connected {
        console,
        from_env,
        link,
        follow,
    });
    // The previous connection (another server, or this one before signing in again) ends:
    // dropping it stops its feed.
    *state.server.lock().await = Some(connected);
    *lock(&state.server_error) = None;
    state.switch_to(Mode::Server).await
}

fn remember(state: &AppState, url: &str, name: String, role: Role) -> CmdResult<()> {
    let mut servers = load_saved(&state.data_dir)?;
    let entry = SavedServer {
        url: url.to_owned(),
        last_signed_in_as: Some(name),
        last_role: Some(role),
        signed_in: false,
    };
    match servers.iter_mut().find(|s| s.url == url) {
        Some(saved) => *saved = entry,
        None => servers.push(entry),
    }
    store_saved(&state.data_dir, &servers)
}

/// Follows the server's audit log until the connection is dropped: each entry and each loss
/// or return of the link becomes a `live` event.
fn start_feed(
    state: &AppState,
    console: &Arc<RemoteConsole>,
    link: &Arc<Mutex<Link>>,
    stop: &StopFlag,
) {
    let app = state.app.get().cloned();
    let (console, link, stop) = (Arc::clone(console), Arc::clone(link), stop.clone());
    let server = console.base().to_string();
    tauri::async_runtime::spawn(async move {
        let tell = |entry: Option<AuditEntry>, now: Link| {
            *lock(&link) = now.clone();
            if let Some(app) = &app {
                let _ = app.emit(
                    EVENT_LIVE,
                    LiveEvent {
                        server: server.clone(),
                        entry,
                        link: now,
                    },
                );
            }
        };
        let sink = |heard: Followed| match heard {
            Followed::Entry(entry) => tell(Some(entry), Link::Online),
            Followed::Online => tell(None, Link::Online),
            Followed::Offline { reason, retry_in } => tell(
                None,
                Link::Offline {
                    reason,
                    retry_in_secs: u32::try_from(retry_in.as_secs().max(1)).unwrap_or(u32::MAX),
                },
            ),
        };
        if let Err(err) = console.follow(None, &sink, &stop).await
            && !stop.is_stopped()
        {
            tell(None, Link::Ended { error: err.into() });
        }
    });
}

/// Leaves the team server in view (the session stays kept: switching back needs no sign-in).
pub async fn disconnect(state: &AppState) {
    state.server.lock().await.take();
}

/// Connects with the session this machine keeps for `base`.
async fn connect_kept(state: &AppState, base: url::Url) -> CmdResult<()> {
    let key = session_key(&base)?;
    let vault = keyring(state)?;
    let token = tokio::task::spawn_blocking(move || vault.get(&key))
        .await
        .map_err(|e| CommandError::new("internal", format!("the keyring read stopped: {e}")))??;
    let Some(token) = token else {
        return Err(CommandError::new(
            "signed_out",
            format!("you are not signed in to {base}: press Sign in"),
        ));
    };
    let console =
        RemoteConsole::connect(base, Zeroizing::new(token.to_string()), http(state)?).await?;
    install(state, console, false).await
}

/// At start, with `TOKENDESK_SERVER`: that server, with `TOKENDESK_TOKEN` (an API token) or
/// the session kept for it. When it cannot connect, the window still opens on it, saying why.
pub async fn open_from_env(state: &AppState, url: &str) {
    let connected = async {
        let base = remote::server_url(url)?;
        match std::env::var("TOKENDESK_TOKEN")
            .ok()
            .filter(|t| !t.trim().is_empty())
        {
            Some(token) => {
                let token = Zeroizing::new(token.trim().to_owned());
                let console = RemoteConsole::connect(base, token, http(state)?).await?;
                install(state, console, true).await
            }
            None => connect_kept(state, base).await,
        }
    }
    .await;
    if let Err(err) = connected {
        tracing::warn!(code = %err.code, "cannot connect to the team server of TOKENDESK_SERVER");
        *lock(&state.server_error) = Some((url.trim().to_owned(), err));
        let _ = state.switch_to(Mode::Server).await;
    }
}

/// The team server part of the app's status.
pub async fn status(state: &AppState) -> Option<ServerStatus> {
    if let Some(c) = state.server.lock().await.as_ref() {
        let who = c.console.who();
        return Some(ServerStatus {
            url: c.console.base().to_string(),
            name: Some(who.name.clone()),
            role: Some(who.role),
            kind: Some(who.kind.clone()),
            expires_at: who.expires_at.clone(),
            from_env: c.from_env,
            link: lock(&c.link).clone(),
            error: None,
        });
    }
    let (url, error) = lock(&state.server_error).clone()?;
    Some(ServerStatus {
        url,
        name: None,
        role: None,
        kind: None,
        expires_at: None,
        from_env: std::env::var_os("TOKENDESK_SERVER").is_some(),
        link: Link::Ended {
            error: error.clone(),
        },
        error: Some(error),
    })
}

// ---- Commands --------------------------------------------------------------------------------

/// The saved servers, and whether a session is kept for each.
#[tauri::command]
pub async fn servers_list(state: State<'_, AppState>) -> CmdResult<Vec<SavedServer>> {
    let mut servers = load_saved(&state.data_dir)?;
    let vault = keyring(&state)?;
    let keys: Vec<SecretKey> = servers
        .iter()
        .map(|s| {
            remote::server_url(&s.url)
                .map_err(CommandError::from)
                .and_then(|b| session_key(&b))
        })
        .collect::<CmdResult<_>>()?;
    let kept = tokio::task::spawn_blocking(move || {
        keys.iter()
            .map(|k| vault.get(k).map(|t| t.is_some()))
            .collect::<Result<Vec<bool>, _>>()
    })
    .await
    .map_err(|e| CommandError::new("internal", format!("the keyring read stopped: {e}")))??;
    for (server, kept) in servers.iter_mut().zip(kept) {
        server.signed_in = kept;
    }
    Ok(servers)
}

/// Signs in to the team server at `url` in the system browser and puts it in view. The
/// session goes to the keyring (shared with `tokendesk --server URL login`). Signing in again
/// to the server in view keeps the page the person is on.
#[tauri::command]
pub async fn server_sign_in(state: State<'_, AppState>, url: String) -> CmdResult<AppStatus> {
    // After the start's own choice of store, never overtaken by it.
    state.started().await;
    let base = remote::server_url(&url)?;
    let http = http(&state)?;
    remote::version(&http, &base).await?;
    let flow = StaffLogin::begin(http.clone(), base.clone()).await?;
    open_browser(flow.url())?;
    let cancel = StopFlag::default();
    *lock(&state.sign_in_cancel) = Some(cancel.clone());
    let cancelled = async {
        while !cancel.is_stopped() {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    };
    let finished = tokio::select! {
        who = flow.finish(LOGIN_TIMEOUT) => Some(who),
        () = cancelled => None,
    };
    *lock(&state.sign_in_cancel) = None;
    let who =
        finished.ok_or_else(|| CommandError::new("cancelled", "the sign-in was cancelled"))??;
    let token = who.token.clone().ok_or_else(|| {
        CommandError::new(
            "no_session",
            "the server signed you in but sent no session token; report this",
        )
    })?;
    let token = Zeroizing::new(token);
    let vault = keyring(&state)?;
    let key = session_key(&base)?;
    let kept = Zeroizing::new(token.to_string());
    tokio::task::spawn_blocking(move || vault.set(&key, kept.as_str()))
        .await
        .map_err(|e| CommandError::new("internal", format!("the keyring write stopped: {e}")))??;
    let console = RemoteConsole::connect(base, token, http).await?;
    install(&state, console, false).await?;
    status_of(&state).await
}

/// Stops a sign-in waiting for the browser.
#[tauri::command]
pub async fn server_sign_in_cancel(state: State<'_, AppState>) -> CmdResult<bool> {
    Ok(lock(&state.sign_in_cancel)
        .as_ref()
        .map(StopFlag::stop)
        .is_some())
}

/// Puts a saved server in view with the session kept for it.
#[tauri::command]
pub async fn server_use(state: State<'_, AppState>, url: String) -> CmdResult<AppStatus> {
    state.started().await;
    let base = remote::server_url(&url)?;
    if let Err(err) = connect_kept(&state, base.clone()).await {
        // In view, saying why: the person signs in from there.
        *lock(&state.server_error) = Some((base.to_string(), err.clone()));
        state.switch_to(Mode::Server).await?;
        return Err(err);
    }
    status_of(&state).await
}

/// Ends the session on the server in view and forgets it here; the window goes back to the
/// person's own store.
#[tauri::command]
pub async fn server_sign_out(state: State<'_, AppState>) -> CmdResult<AppStatus> {
    let connected = state.server.lock().await.clone();
    let url = match (&connected, lock(&state.server_error).clone()) {
        (Some(c), _) => c.console.base().to_string(),
        (None, Some((url, _))) => url,
        (None, None) => {
            return Err(CommandError::new(
                "not_connected",
                "no team server is in view",
            ));
        }
    };
    if connected.as_ref().is_some_and(|c| c.from_env) {
        return Err(CommandError::new(
            "token_from_environment",
            "this window uses the API token of TOKENDESK_TOKEN: it has no session to end. \
             Revoke the token on the server, or start the window without it",
        ));
    }
    if let Some(c) = &connected {
        // A session the server no longer knows is ended already; anything else (unreachable)
        // leaves it valid on the server, so the person is told and the local copy is kept.
        if let Err(err) = c.console.sign_out().await
            && err.kind() != tokendesk_core::desk::ErrorKind::Unauthenticated
        {
            return Err(CommandError::from(err));
        }
    }
    let base = remote::server_url(&url)?;
    let (vault, key) = (keyring(&state)?, session_key(&base)?);
    tokio::task::spawn_blocking(move || vault.delete(&key))
        .await
        .map_err(|e| CommandError::new("internal", format!("the keyring write stopped: {e}")))??;
    *lock(&state.server_error) = None;
    state.set_mode(Mode::Live).await?;
    status_of(&state).await
}

/// Takes a server off the list (signing out of it first when a session is kept).
#[tauri::command]
pub async fn server_forget(state: State<'_, AppState>, url: String) -> CmdResult<Vec<SavedServer>> {
    let in_view = state
        .server
        .lock()
        .await
        .as_ref()
        .is_some_and(|c| c.console.base().as_str() == url);
    if in_view {
        server_sign_out(state.clone()).await?;
    } else if let Ok(base) = remote::server_url(&url) {
        let (vault, key) = (keyring(&state)?, session_key(&base)?);
        tokio::task::spawn_blocking(move || vault.delete(&key))
            .await
            .map_err(|e| {
                CommandError::new("internal", format!("the keyring write stopped: {e}"))
            })??;
    }
    let mut servers = load_saved(&state.data_dir)?;
    servers.retain(|s| s.url != url);
    store_saved(&state.data_dir, &servers)?;
    servers_list(state).await
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_saved_list_survives_a_round_trip_and_refuses_garbage_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load_saved(dir.path()).unwrap().is_empty());
        let one = SavedServer {
            url: "https://desk.example/".into(),
            last_signed_in_as: Some("ann@example.com".into()),
            last_role: Some(Role::Operator),
            signed_in: true,
        };
        store_saved(dir.path(), std::slice::from_ref(&one)).unwrap();
        let back = load_saved(dir.path()).unwrap();
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].url, one.url);
        assert_eq!(back[0].last_role, Some(Role::Operator));
        assert!(
            !back[0].signed_in,
            "read from the keyring, never from the file"
        );
        std::fs::write(dir.path().join(FILE), b"{not json").unwrap();
        let err = load_saved(dir.path()).unwrap_err();
        assert_eq!(err.code, "invalid_settings");
        assert!(err.message.contains("fix or delete it"), "{}", err.message);
    }
}
