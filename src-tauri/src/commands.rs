//! The Tauri commands: parse, call the core facade, map errors. No logic of their own beyond
//! the window's concerns (which store is in view, events, dialogs, the clipboard).

use std::net::SocketAddr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tauri::{AppHandle, Emitter as _, State};
use tokendesk_core::desk::{
    AddClient, ClientView, CurlCommand, DriveReport, ExchangeReport, InspectReport, ReceiverSink,
    RefreshAllReport, RefreshOutcome, RevealWhich, RevokeReport, StopFlag, UserDetail, UserView,
    UsersPage,
};
use tokendesk_core::oauth::{RawLog, RedirectChoice};
use tokendesk_core::receiver::{self, ReceiverConfig, ReceiverEvent};
use tokendesk_core::secret::AuthCode;
use tokendesk_core::store::{AuditEntry, HttpLogEntry};
use ts_rs::TS;

use crate::audit_csv::{self, AuditFilter};
use crate::error::{CmdResult, CommandError};
use crate::state::{AppState, Mode, RECEIVER_HISTORY, RunningReceiver, SANDBOX_CLIENT, lock};

/// Event names the UI listens to.
pub const EVENT_RECEIVER: &str = "receiver-event";
pub const EVENT_REFRESH_PROGRESS: &str = "refresh-progress";

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct AppStatus {
    pub mode: Mode,
    pub data_dir: String,
    /// Why the person's own store is not available (keyring locked, ...), with the fix.
    pub live_error: Option<CommandError>,
    /// The sandbox's emulator, when the sandbox is in view.
    pub emulator_url: Option<String>,
    pub clients: Vec<ClientView>,
    pub receiver: Option<ReceiverStatus>,
    /// The team server in view (`mode` is `server`): where, as whom, with which role, and
    /// whether its live feed is up.
    pub server: Option<crate::servers::ServerStatus>,
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct ReceiverStatus {
    pub url: String,
    pub mode: Mode,
    pub client: Option<String>,
}

/// The About page: which build this is. Answers at once (it never waits for the store).
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct About {
    pub version: String,
    /// The git commit (short hash), "unknown" for a build made without git.
    pub commit: String,
}

#[tauri::command]
pub fn about() -> About {
    About {
        version: tokendesk_core::VERSION.to_owned(),
        commit: tokendesk_core::BUILD_COMMIT.to_owned(),
    }
}

#[tauri::command]
pub async fn app_status(state: State<'_, AppState>) -> CmdResult<AppStatus> {
    status_of(&state).await
}

pub(crate) async fn status_of(state: &AppState) -> CmdResult<AppStatus> {
    let mode = state.mode().await;
    let (clients, emulator_url) = match mode {
        // The list of a server the person cannot reach is empty; its error is in `server`.
        Mode::Server => match state.connected().await {
            Ok(connected) => (
                tokendesk_core::console::Console::clients(&*connected.console).await?,
                None,
            ),
            Err(_) => (Vec::new(), None),
        },
        Mode::Live => match state.live().await {
            Ok(desk) => (desk.clients().await?, None),
            Err(_) => (Vec::new(), None),
        },
        Mode::Sandbox => {
            let sandbox = state.sandbox().await?;
            (
                sandbox.desk.clients().await?,
                Some(sandbox.emulator.base_url().to_owned()),
            )
        }
    };
    let receiver = state.receiver.lock().await.as_ref().map(receiver_status_of);
    Ok(AppStatus {
        mode,
        data_dir: state.data_dir.display().to_string(),
        live_error: if mode == Mode::Live {
            state.live_error()
        } else {
            None
        },
        emulator_url,
        clients,
        receiver,
        server: if mode == Mode::Server {
            crate::servers::status(state).await
        } else {
            None
        },
    })
}

#[tauri::command]
pub async fn use_sandbox(state: State<'_, AppState>) -> CmdResult<AppStatus> {
    state.set_mode(Mode::Sandbox).await?;
    status_of(&state).await
}

#[tauri::command]
pub async fn use_live(state: State<'_, AppState>) -> CmdResult<AppStatus> {
    state.set_mode(Mode::Live).await?;
    status_of(&state).await
}

// ---- Clients ---------------------------------------------------------------------------------

#[tauri::command]
pub async fn clients_list(state: State<'_, AppState>) -> CmdResult<Vec<ClientView>> {
    Ok(state.desk().await?.clients().await?)
}

/// The system's open-file dialog, shown by the app (the webview has no dialog permission). The
/// choice stays here (`client_import` reads it when the webview sends no path); the webview
/// gets the path to show.
#[tauri::command]
pub async fn client_pick_file(
    app: AppHandle,
    state: State<'_, AppState>,
) -> CmdResult<Option<String>> {
    let filter = ("Google client secret", &["json"][..]);
    let picked = crate::dialogs::open_path(&app, "Import client_secret.json", Some(filter)).await?;
    let shown = picked.as_ref().map(|p| p.display().to_string());
    *lock(&state.picked_client_file) = picked;
    Ok(shown)
}

#[derive(Debug, Clone, Deserialize, TS)]
#[ts(export)]
pub struct ClientImport {
    pub name: String,
    /// A path the person typed; `None`: the file last chosen in the dialog.
    pub path: Option<String>,
    /// Another OpenID provider than Google, on purpose (OIDC discovery).
    pub issuer: Option<String>,
    pub api_base: Option<String>,
    pub ios_client_ids: Vec<String>,
    /// The client ID the file must be the secret of (filled from a clients file).
    #[serde(default)]
    #[ts(optional)]
    pub client_id: Option<String>,
}

/// Imports into the person's own store (never the sandbox's) and brings it into view, or into
/// the team server in view.
#[tauri::command]
pub async fn client_import(
    state: State<'_, AppState>,
    request: ClientImport,
) -> CmdResult<ClientView> {
    let path = match request.path.as_deref().map(str::trim) {
        Some(typed) if !typed.is_empty() => std::path::PathBuf::from(typed),
        _ => lock(&state.picked_client_file).clone().ok_or_else(|| {
            CommandError::new(
                "invalid_request",
                "no file chosen: press Browse… or type the path of the client_secret.json",
            )
        })?,
    };
    // Read here, not in the webview: the secret never passes through it. At most 64 KiB + 1
    // (a client_secret.json is a few hundred bytes; a large file is refused, never read
    // whole), and the errors name the file, never its content.
    let secrets_json = read_capped(&path, CLIENT_FILE_LIMIT + 1).await.map_err(|e| {
        CommandError::new(
            "unreadable_file",
            format!("cannot read {}: {e}. Choose the client_secret.json you downloaded from Google Cloud Console", path.display()),
        )
    })?;
    if secrets_json.len() > CLIENT_FILE_LIMIT {
        return Err(CommandError::new(
            "invalid_client_secret_file",
            format!(
                "{} is over 64 KiB: not a client_secret.json",
                path.display()
            ),
        ));
    }
    let blank = |s: Option<String>| s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    if let Some(expected) = blank(request.client_id) {
        check_client_id(&path, &secrets_json, &expected)?;
    }
    // On a team server the client goes to the server (an admin's job); otherwise to the
    // person's own store, never the sandbox's.
    let on_server = state.mode().await == Mode::Server;
    let desk: Arc<dyn tokendesk_core::console::Console> = if on_server {
        state.desk().await?
    } else {
        state.live().await?
    };
    let view = desk
        .add_client(AddClient {
            name: request.name.trim().to_owned(),
            secrets_json,
            issuer: blank(request.issuer),
            api_base: blank(request.api_base),
            ios_client_ids: request
                .ios_client_ids
                .into_iter()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect(),
        })
        .await?;
    if !on_server {
        state.set_mode(Mode::Live).await?;
    }
    Ok(view)
}

/// Refuses the secret of another client than the clients file named (its error, when it is
/// no client_secret.json at all, comes from the import itself).
fn check_client_id(path: &std::path::Path, secrets_json: &[u8], expected: &str) -> CmdResult<()> {
    match tokendesk_core::client_file::WebClient::from_json(secrets_json) {
        Ok(web) if web.client_id != expected => Err(CommandError::new(
            "wrong_client_secret",
            format!(
                "{} is the secret of client {}, not of {expected}: choose that client's \
                 client_secret.json",
                path.display(),
                web.client_id
            ),
        )),
        _ => Ok(()),
    }
}

/// A client_secret.json is a few hundred bytes; anything over this is not one.
const CLIENT_FILE_LIMIT: usize = 64 * 1024;

/// Reads at most `limit` bytes of `path`.
pub(crate) async fn read_capped(path: &std::path::Path, limit: usize) -> std::io::Result<Vec<u8>> {
    use tokio::io::AsyncReadExt as _;
    let file = tokio::fs::File::open(path).await?;
    let mut bytes = Vec::new();
    file.take(u64::try_from(limit).unwrap_or(u64::MAX))
        .read_to_end(&mut bytes)
        .await?;
    Ok(bytes)
}

#[tauri::command]
pub async fn client_remove(state: State<'_, AppState>, name: String) -> CmdResult<()> {
    Ok(state.desk().await?.remove_client(&name).await?)
}

// ---- Users -----------------------------------------------------------------------------------

/// The most a page may hold (the list asks for what it shows, plus a margin).
const MAX_PAGE: usize = 1_000;

#[tauri::command]
pub async fn users_page(
    state: State<'_, AppState>,
    search: String,
    offset: usize,
    limit: usize,
) -> CmdResult<UsersPage> {
    Ok(state
        .desk()
        .await?
        .users_page(&search, offset, limit.min(MAX_PAGE))
        .await?)
}

#[tauri::command]
pub async fn user_detail(state: State<'_, AppState>, sub: String) -> CmdResult<UserDetail> {
    Ok(state.desk().await?.user(&sub).await?)
}

#[tauri::command]
pub async fn user_audit(state: State<'_, AppState>, sub: String) -> CmdResult<Vec<AuditEntry>> {
    Ok(state.desk().await?.user_audit(&sub, 200).await?)
}

#[tauri::command]
pub async fn refresh_user(state: State<'_, AppState>, sub: String) -> CmdResult<UserView> {
    Ok(state.desk().await?.refresh(&sub, None).await?)
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct RefreshProgress {
    pub done: usize,
    pub total: usize,
    pub outcome: RefreshOutcome,
}

/// Refreshes every user, `concurrency` at a time, with a progress event per user. One run at a
/// time; `refresh_all_cancel` stops it (users in flight finish, no new one starts).
#[tauri::command]
pub async fn refresh_all(
    app: AppHandle,
    state: State<'_, AppState>,
    concurrency: usize,
) -> CmdResult<RefreshAllReport> {
    let cancel = {
        let mut slot = lock(&state.refresh_cancel);
        if slot.is_some() {
            return Err(CommandError::new(
                "busy",
                "a refresh of all users is already running; cancel it or wait for it to finish",
            ));
        }
        let stop = StopFlag::default();
        *slot = Some(stop.clone());
        stop
    };
    let desk = state.desk().await;
    let result = match desk {
        Ok(desk) => desk
            .refresh_all(
                concurrency.clamp(1, 64),
                &|done, total, outcome: &RefreshOutcome| {
                    let _ = app.emit(
                        EVENT_REFRESH_PROGRESS,
                        RefreshProgress {
                            done,
                            total,
                            outcome: outcome.clone(),
                        },
                    );
                },
                &cancel,
            )
            .await
            .map_err(Into::into),
        Err(e) => Err(e),
    };
    *lock(&state.refresh_cancel) = None;
    result
}

#[tauri::command]
pub async fn refresh_all_cancel(state: State<'_, AppState>) -> CmdResult<bool> {
    Ok(lock(&state.refresh_cancel)
        .as_ref()
        .map(StopFlag::stop)
        .is_some())
}

#[tauri::command]
pub async fn revoke_user(state: State<'_, AppState>, sub: String) -> CmdResult<RevokeReport> {
    Ok(state.desk().await?.revoke(&sub, None).await?)
}

#[tauri::command]
pub async fn drive_files(state: State<'_, AppState>, sub: String) -> CmdResult<DriveReport> {
    Ok(state.desk().await?.drive(&sub, None).await?)
}

// ---- Exchange and inspect --------------------------------------------------------------------

#[tauri::command]
pub async fn exchange_code(
    state: State<'_, AppState>,
    code: String,
    client: Option<String>,
    redirect: String,
) -> CmdResult<ExchangeReport> {
    let redirect = RedirectChoice::parse(&redirect)
        .map_err(|e| CommandError::new("invalid_redirect_uri", e.to_string()))?;
    let code = AuthCode::new(code.trim());
    if state.mode().await == Mode::Server {
        // The server exchanges; its answer, or its error, carries the raw HTTP it saw.
        let console = state.desk().await?;
        return console
            .exchange(client.as_deref(), code, redirect)
            .await
            .map_err(|err| {
                let raw = match &err {
                    tokendesk_core::desk::DeskError::Remote { raw, .. } => raw.clone(),
                    _ => Vec::new(),
                };
                CommandError::from(err).with_raw(raw)
            });
    }
    let desk = state.desk_for(state.mode().await).await?;
    // The raw HTTP (secrets masked) is shown on failure too: that is when it is needed most.
    let log = RawLog::new();
    desk.exchange_logged(client.as_deref(), code, redirect, &log)
        .await
        .map_err(|e| CommandError::from(e).with_raw(log.entries()))
}

#[tauri::command]
pub async fn inspect_token(
    state: State<'_, AppState>,
    token: String,
    client: Option<String>,
) -> CmdResult<InspectReport> {
    Ok(state
        .desk()
        .await?
        .inspect(client.as_deref(), token.trim())
        .await?)
}

// ---- Reveal and copy -------------------------------------------------------------------------

/// The token a person asked for (the core audits it first).
async fn reveal(
    state: &AppState,
    sub: String,
    which: RevealWhich,
) -> CmdResult<zeroize::Zeroizing<String>> {
    Ok(state.desk().await?.reveal(&sub, which).await?)
}

/// Shows an access token to the person who asked (audited by the core). The window holds it
/// only while it is shown; it is never stored in the webview. A refresh token never crosses
/// into the webview (DESIGN: Rust to the clipboard only, see `copy_token`).
#[tauri::command]
pub async fn reveal_token(state: State<'_, AppState>, sub: String) -> CmdResult<String> {
    Ok(reveal(&state, sub, RevealWhich::AccessToken)
        .await?
        .to_string())
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct CopyReport {
    /// The clipboard is cleared after this many seconds, if it still holds the token.
    #[ts(type = "number")]
    pub clears_after_secs: u64,
}

/// Copies a token to the system clipboard from Rust (it never enters the webview), kept out of
/// clipboard history where the platform allows, and cleared after 30 s. Audited by the core.
#[tauri::command]
pub async fn copy_token(
    state: State<'_, AppState>,
    sub: String,
    which: RevealWhich,
) -> CmdResult<CopyReport> {
    let token = reveal(&state, sub, which).await?;
    let secs = crate::clipboard::CLEAR_AFTER.as_secs();
    crate::clipboard::copy_and_clear(token).await?;
    Ok(CopyReport {
        clears_after_secs: secs,
    })
}

// ---- The user's HTTP log ---------------------------------------------------------------------

/// The user's recent operations as HTTP, secrets masked.
#[tauri::command]
pub async fn user_http(state: State<'_, AppState>, sub: String) -> CmdResult<Vec<HttpLogEntry>> {
    Ok(state
        .desk()
        .await?
        .user_http(&sub, tokendesk_core::store::HTTP_LOG_KEEP)
        .await?)
}

/// One kept request as a curl command with its secrets as shell variables (for display).
#[tauri::command]
pub async fn http_curl(
    state: State<'_, AppState>,
    sub: String,
    entry: usize,
    index: usize,
) -> CmdResult<CurlCommand> {
    Ok(state
        .desk()
        .await?
        .http_curl(&sub, entry_id(entry)?, index, false)
        .await?)
}

/// A kept operation's id as the window sends it: a JSON number (`usize` is a `number` in the
/// generated command map; an `i64` would be a `bigint`, which JSON cannot carry). Ids are
/// positive and far below 2^53.
fn entry_id(entry: usize) -> CmdResult<i64> {
    i64::try_from(entry).map_err(|_| {
        CommandError::new(
            "invalid_request",
            format!("{entry} is not an operation's id"),
        )
    })
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct CurlCopyReport {
    /// The secrets written into the copied command (empty: it has shell variables instead).
    pub revealed: Vec<tokendesk_core::oauth::SecretSlot>,
    /// When it carries secrets, the clipboard is cleared after this many seconds (if it
    /// still holds the command).
    #[ts(type = "number | null")]
    pub clears_after_secs: Option<u64>,
    pub notes: Vec<String>,
}

/// Copies a kept request as a curl command to the clipboard from Rust. With `reveal`, the
/// secrets stored now are written in (audited by the core first); that command never enters
/// the webview, and the clipboard is cleared after 30 s, like a copied token.
#[tauri::command]
pub async fn copy_curl(
    state: State<'_, AppState>,
    sub: String,
    entry: usize,
    index: usize,
    reveal: bool,
) -> CmdResult<CurlCopyReport> {
    let curl = state
        .desk()
        .await?
        .http_curl(&sub, entry_id(entry)?, index, reveal)
        .await?;
    let secret = !curl.revealed.is_empty();
    crate::clipboard::copy_text(zeroize::Zeroizing::new(curl.command), secret).await?;
    Ok(CurlCopyReport {
        revealed: curl.revealed,
        clears_after_secs: secret.then(|| crate::clipboard::CLEAR_AFTER.as_secs()),
        notes: curl.notes,
    })
}

// ---- Audit -----------------------------------------------------------------------------------

#[tauri::command]
pub async fn audit_log(
    state: State<'_, AppState>,
    filter: AuditFilter,
) -> CmdResult<Vec<AuditEntry>> {
    Ok(state.desk().await?.audit(filter.into()).await?)
}

/// Writes the filtered log as CSV where the person chooses (the system's save dialog).
#[tauri::command]
pub async fn audit_export(
    app: AppHandle,
    state: State<'_, AppState>,
    filter: AuditFilter,
) -> CmdResult<Option<String>> {
    let desk = state.desk().await?;
    let entries = desk.audit(filter.into()).await?;
    let file_name = "tokendesk-audit.csv".to_owned();
    let title = "Export the audit log";
    let filter = ("CSV", &["csv"][..]);
    let Some(path) =
        crate::dialogs::save_target(&app, &state.data_dir, title, file_name, filter).await?
    else {
        return Ok(None);
    };
    let csv = audit_csv::to_csv(&entries)?;
    crate::dialogs::write_chosen(path, &csv).await.map(Some)
}

// ---- Receiver --------------------------------------------------------------------------------

fn receiver_status_of(r: &RunningReceiver) -> ReceiverStatus {
    ReceiverStatus {
        url: r.receiver.url(),
        mode: r.mode,
        client: r.client.clone(),
    }
}

/// Starts `POST /auth/code` on loopback (the desktop app never listens elsewhere: a public
/// endpoint is `tokendesk serve` with TLS). Port 0 picks a free one.
#[tauri::command]
pub async fn receiver_start(
    app: AppHandle,
    state: State<'_, AppState>,
    port: Option<u16>,
    client: Option<String>,
) -> CmdResult<ReceiverStatus> {
    start_receiver(&app, &state, port.unwrap_or(8400), client).await
}

/// The store a receiver serves, decided once by the caller.
#[derive(Debug)]
pub struct ReceiverTarget {
    pub mode: Mode,
    pub desk: Arc<tokendesk_core::desk::Desk>,
}

pub async fn start_receiver(
    app: &AppHandle,
    state: &AppState,
    port: u16,
    client: Option<String>,
) -> CmdResult<ReceiverStatus> {
    let mode = state.mode().await;
    let target = ReceiverTarget {
        mode,
        desk: state.desk_for(mode).await?,
    };
    start_receiver_on(app, state, target, port, client).await
}

/// Starts the receiver on `target`'s store (and nothing else, whatever the window shows by
/// the time it runs).
pub async fn start_receiver_on(
    app: &AppHandle,
    state: &AppState,
    target: ReceiverTarget,
    port: u16,
    client: Option<String>,
) -> CmdResult<ReceiverStatus> {
    let ReceiverTarget { mode, desk } = target;
    let client = client
        .filter(|c| !c.trim().is_empty())
        .or_else(|| (mode == Mode::Sandbox).then(|| SANDBOX_CLIENT.to_owned()));
    let mut slot = state.receiver.lock().await;
    // One receiver at a time: a new start replaces the running one (its exchanges finish).
    if let Some(running) = slot.take() {
        running.stop().await;
    }
    let sink = Arc::new(ReceiverSink::new(desk, client.clone()));
    let receiver = receiver::start(
        ReceiverConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], port)),
            ..ReceiverConfig::default()
        },
        Arc::clone(&sink) as _,
    )
    .await
    .map_err(|e| {
        CommandError::new(
            "receiver",
            format!("{e}. Choose another port, or stop what uses this one"),
        )
    })?;
    let mut events = receiver.subscribe();
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        use tauri::Manager as _;
        while let Ok(event) = events.recv().await {
            if let Some(state) = app.try_state::<AppState>() {
                let mut history = lock(&state.receiver_events);
                history.push(event.clone());
                let excess = history.len().saturating_sub(RECEIVER_HISTORY);
                history.drain(..excess);
            }
            let _ = app.emit(EVENT_RECEIVER, event);
        }
    });
    let running = RunningReceiver {
        receiver,
        sink,
        mode,
        client,
    };
    let status = receiver_status_of(&running);
    *slot = Some(running);
    Ok(status)
}

/// What stopping the receiver did: whether one ran, how many exchanges in flight it waited
/// for, and how many were still running after the wait's bound (their answers are kept; the
/// next start finishes them).
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct ReceiverStopReport {
    pub was_running: bool,
    pub waited_for: usize,
    pub left_running: usize,
}

#[tauri::command]
pub async fn receiver_stop(state: State<'_, AppState>) -> CmdResult<ReceiverStopReport> {
    let running = state.receiver.lock().await.take();
    let Some(running) = running else {
        return Ok(ReceiverStopReport {
            was_running: false,
            waited_for: 0,
            left_running: 0,
        });
    };
    let (waited_for, left_running) = running.stop().await;
    Ok(ReceiverStopReport {
        was_running: true,
        waited_for,
        left_running,
    })
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct ReceiverView {
    pub status: Option<ReceiverStatus>,
    pub events: Vec<ReceiverEvent>,
}

#[tauri::command]
pub async fn receiver_status(state: State<'_, AppState>) -> CmdResult<ReceiverView> {
    let status = state.receiver.lock().await.as_ref().map(receiver_status_of);
    Ok(ReceiverView {
        status,
        events: lock(&state.receiver_events).clone(),
    })
}

// ---- Sandbox ---------------------------------------------------------------------------------

pub use crate::sandbox::{
    SandboxUser, SignInReport, sandbox_add_user, sandbox_sign_in, sandbox_users,
};

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_large_file_is_never_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.json");
        std::fs::write(&big, vec![b' '; 5 * 1024 * 1024]).unwrap();
        let read = read_capped(&big, CLIENT_FILE_LIMIT + 1).await.unwrap();
        assert_eq!(
            read.len(),
            CLIENT_FILE_LIMIT + 1,
            "one byte past the limit is enough to refuse it; the rest stays unread"
        );
    }
}
