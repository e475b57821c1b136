//! The app's state: which store the window works on (the person's own, or the sandbox over the
//! built-in emulator), the receiver when it runs, and the cancel flag of a running refresh-all.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use google_emulator::{Emulator, IssuerMode};
use serde::Serialize;
use tokendesk_core::console::Console;
use tokendesk_core::desk::{AddClient, Desk, DeskOptions, StopFlag};
use tokendesk_core::receiver::{Receiver, ReceiverEvent};
use tokendesk_core::storage::locks::{LockGuard, Locks};
use tokendesk_core::vault::{BuildKind, OsKeyring, SecretKey, SecretStore};
use ts_rs::TS;

use crate::error::{CmdResult, CommandError};

/// The client the sandbox registers for its emulator.
pub const SANDBOX_CLIENT: &str = "sandbox";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Mode {
    /// The person's own store (`TOKENDESK_HOME`, shared with the `tokendesk` command).
    Live,
    /// A throwaway store over the built-in Google emulator, wiped at every start.
    Sandbox,
    /// A team server, through its admin API, as the staff member signed in.
    Server,
}

/// The sandbox: an in-process emulator on a random loopback port and a store of its own.
pub struct Sandbox {
    pub emulator: Emulator,
    pub desk: Arc<Desk>,
    /// This window's sandbox slot (its folder), locked for the window's life.
    _slot: SandboxSlot,
}

/// Windows open at once each get a sandbox folder of their own: `sandbox` for the first,
/// `sandbox-2`... for the others, each held by a lock of the data directory's (released when
/// the window exits or dies), so one window's start never wipes another's sandbox.
#[derive(Debug)]
struct SandboxSlot {
    dir: PathBuf,
    _lock: LockGuard,
}

/// Sandboxes open at once, at most.
const SANDBOX_SLOTS: usize = 8;

/// A slot's folder and lock name.
fn sandbox_name(slot: usize) -> String {
    if slot == 0 {
        "sandbox".to_owned()
    } else {
        format!("sandbox-{}", slot + 1)
    }
}

/// Takes the first free sandbox slot, held by its lock for the window's life.
fn take_sandbox_slot(data_dir: &std::path::Path) -> CmdResult<SandboxSlot> {
    let locks = Locks::open(data_dir)?;
    for slot in 0..SANDBOX_SLOTS {
        if let Some(lock) = locks.try_exclusive(&sandbox_name(slot), false)? {
            let dir = data_dir.join(sandbox_name(slot));
            return Ok(SandboxSlot { dir, _lock: lock });
        }
    }
    Err(CommandError::new(
        "sandbox",
        format!("{SANDBOX_SLOTS} TokenDesk windows run a sandbox already; close one"),
    ))
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("emulator", &self.emulator.base_url())
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
pub struct RunningReceiver {
    pub receiver: Receiver,
    pub sink: Arc<tokendesk_core::desk::ReceiverSink>,
    pub mode: Mode,
    pub client: Option<String>,
}

/// How long stopping the receiver waits for the exchanges in flight.
pub const RECEIVER_DRAIN: std::time::Duration = std::time::Duration::from_secs(30);

impl RunningReceiver {
    /// Stops accepting codes, then waits (at most [`RECEIVER_DRAIN`]) for the exchanges in
    /// flight: returns how many it waited for and how many were still running when it gave up
    /// (their answers, when Google gave them, are kept; the next start finishes them).
    pub async fn stop(self) -> (usize, usize) {
        self.receiver.stop();
        let running = self.sink.in_flight();
        let left = self.sink.drain(RECEIVER_DRAIN).await;
        (running.saturating_sub(left), left)
    }
}

#[derive(Debug)]
pub struct AppState {
    pub data_dir: PathBuf,
    /// The app, once it runs (background tasks emit events through it).
    pub app: std::sync::OnceLock<tauri::AppHandle>,
    keyring: BuildKind,
    mode: Mutex<Mode>,
    /// The start mode, chosen once ([`AppState::started`]). The window opens before it is
    /// known (starting the sandbox takes a second: its emulator's RSA keys, the keyring, the
    /// store), and every command waits for it, so none sees the live store by mistake.
    started: tokio::sync::OnceCell<Mode>,
    /// Held while opening, so that concurrent first calls open the store once.
    live: tokio::sync::Mutex<Option<Arc<Desk>>>,
    /// Why the person's own store could not be opened (shown until it can).
    live_error: Mutex<Option<CommandError>>,
    sandbox: tokio::sync::Mutex<Option<Arc<Sandbox>>>,
    /// The team server in view, when one is connected (`Mode::Server`).
    pub server: tokio::sync::Mutex<Option<Arc<crate::servers::Connected>>>,
    /// Why the team server in view is not connected (signed out, unreachable...), and which.
    pub server_error: Mutex<Option<(String, CommandError)>>,
    /// Stops the sign-in waiting for the browser, when one runs.
    pub sign_in_cancel: Mutex<Option<StopFlag>>,
    pub receiver: tokio::sync::Mutex<Option<RunningReceiver>>,
    /// What the receiver saw lately, newest last (the Receiver page's history).
    pub receiver_events: Mutex<Vec<ReceiverEvent>>,
    pub refresh_cancel: Mutex<Option<StopFlag>>,
    /// The client_secret.json last chosen in the file dialog: kept here, so the webview never
    /// hands the app a path to read unless the person typed one.
    pub picked_client_file: Mutex<Option<PathBuf>>,
    /// The file last chosen for a Drive upload (the same reason).
    pub picked_upload: Mutex<Option<PathBuf>>,
}

/// How many receiver events the app remembers.
pub const RECEIVER_HISTORY: usize = 200;

pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl AppState {
    /// `TOKENDESK_HOME` or the platform's data folder; `TOKENDESK_KEYRING=test` keeps tests out
    /// of the product's keyring entries (as for the `tokendesk` command).
    pub fn from_env() -> Self {
        let data_dir = std::env::var_os("TOKENDESK_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(Desk::default_data_dir);
        let keyring = BuildKind::from_env();
        Self::new(data_dir, keyring)
    }

    pub fn new(data_dir: PathBuf, keyring: BuildKind) -> Self {
        Self {
            data_dir,
            app: std::sync::OnceLock::new(),
            keyring,
            mode: Mutex::new(Mode::Live),
            started: tokio::sync::OnceCell::new(),
            live: tokio::sync::Mutex::new(None),
            live_error: Mutex::new(None),
            sandbox: tokio::sync::Mutex::new(None),
            server: tokio::sync::Mutex::new(None),
            server_error: Mutex::new(None),
            sign_in_cancel: Mutex::new(None),
            receiver: tokio::sync::Mutex::new(None),
            receiver_events: Mutex::new(Vec::new()),
            refresh_cancel: Mutex::new(None),
            picked_client_file: Mutex::new(None),
            picked_upload: Mutex::new(None),
        }
    }

    /// Which keyring entries this window uses (the product's, or the tests').
    pub fn keyring_kind(&self) -> BuildKind {
        self.keyring
    }

    /// The store in view, once the start mode is chosen.
    pub async fn mode(&self) -> Mode {
        self.started().await;
        *lock(&self.mode)
    }

    pub fn live_error(&self) -> Option<CommandError> {
        lock(&self.live_error).clone()
    }

    /// Opens the person's own store (once). A failure is remembered for the status line and
    /// retried at the next call: unlocking the keyring then works without a restart.
    pub async fn live(&self) -> CmdResult<Arc<Desk>> {
        let mut slot = self.live.lock().await;
        if let Some(desk) = slot.as_ref() {
            return Ok(Arc::clone(desk));
        }
        let mut options = DeskOptions::new(self.data_dir.clone());
        let opened = match crate::settings::WindowSettings::load(&self.data_dir) {
            Ok(settings) => {
                options.http = settings.apply(options.http);
                Ok(())
            }
            Err(err) => Err(err),
        };
        if let Err(err) = opened {
            *lock(&self.live_error) = Some(err.clone());
            return Err(err);
        }
        let opened = match OsKeyring::open(self.keyring) {
            Ok(vault) => Desk::open(&options, Arc::new(vault) as Arc<dyn SecretStore>).await,
            Err(e) => Err(e.into()),
        };
        match opened {
            Ok(desk) => {
                let desk = Arc::new(desk);
                *slot = Some(Arc::clone(&desk));
                *lock(&self.live_error) = None;
                Ok(desk)
            }
            Err(err) => {
                let err = CommandError::from(err);
                *lock(&self.live_error) = Some(err.clone());
                Err(err)
            }
        }
    }

    /// Forgets the open live store, so the next call opens it again (with new settings).
    pub async fn reopen_live(&self) {
        *self.live.lock().await = None;
    }

    /// The sandbox, started on first use: the emulator, then a fresh store under
    /// `DATA_DIR/sandbox` (`sandbox-2`... when other windows run one) with the emulator's
    /// client registered.
    pub async fn sandbox(&self) -> CmdResult<Arc<Sandbox>> {
        let mut slot = self.sandbox.lock().await;
        if let Some(sandbox) = slot.as_ref() {
            return Ok(Arc::clone(sandbox));
        }
        let emulator = Emulator::builder()
            .issuer_mode(IssuerMode::Origin)
            .start()
            .await
            .map_err(|e| {
                CommandError::new(
                    "sandbox",
                    format!("cannot start the built-in emulator: {e}"),
                )
            })?;
        let data_dir = self.data_dir.clone();
        let kind = BuildKind::Sandbox;
        let (vault, taken) = tokio::task::spawn_blocking(move || -> CmdResult<_> {
            let slot = take_sandbox_slot(&data_dir)?;
            let vault = OsKeyring::open(kind)?;
            wipe_sandbox(&slot.dir, &vault)?;
            Ok((vault, slot))
        })
        .await
        .map_err(|e| {
            CommandError::new("internal", format!("opening the sandbox stopped: {e}"))
        })??;
        let mut options = DeskOptions::new(taken.dir.clone());
        // The emulator runs in this process on loopback: no proxy stands between.
        options.http.proxy = tokendesk_core::oauth::ProxySetting::Direct;
        let opened = Desk::open(&options, Arc::new(vault)).await?;
        let secrets = serde_json::to_vec(&emulator.client_secret_json())
            .map_err(|e| CommandError::new("internal", e.to_string()))?;
        opened
            .add_client(AddClient {
                name: SANDBOX_CLIENT.to_owned(),
                secrets_json: secrets,
                issuer: Some(emulator.issuer().to_owned()),
                api_base: Some(emulator.base_url().to_owned()),
                ios_client_ids: vec![emulator.ios_client_id().to_owned()],
            })
            .await?;
        let sandbox = Arc::new(Sandbox {
            emulator,
            desk: Arc::new(opened),
            _slot: taken,
        });
        *slot = Some(Arc::clone(&sandbox));
        Ok(sandbox)
    }

    /// The console the window works on now: an embedded store, or the team server in view.
    /// Every page goes through it, so none knows which.
    pub async fn desk(&self) -> CmdResult<Arc<dyn Console>> {
        match self.mode().await {
            Mode::Server => Ok(self.connected().await?.console.clone() as Arc<dyn Console>),
            mode => Ok(self.desk_for(mode).await? as Arc<dyn Console>),
        }
    }

    /// The team server in view, or why there is none.
    pub async fn connected(&self) -> CmdResult<Arc<crate::servers::Connected>> {
        if let Some(connected) = self.server.lock().await.as_ref() {
            return Ok(Arc::clone(connected));
        }
        Err(lock(&self.server_error).clone().map_or_else(
            || {
                CommandError::new(
                    "not_connected",
                    "no team server is connected: sign in to one on the Team server page",
                )
            },
            |(_, err)| err,
        ))
    }

    /// The embedded store of `mode` (the person's own, or the sandbox's): what the window's
    /// receiver and the sandbox serve. A team server runs its own receiver.
    pub async fn desk_for(&self, mode: Mode) -> CmdResult<Arc<Desk>> {
        match mode {
            Mode::Live => self.live().await,
            Mode::Sandbox => Ok(Arc::clone(&self.sandbox().await?.desk)),
            Mode::Server => Err(CommandError::new(
                "on_team_server",
                "the window is on a team server, which runs its own receiver: switch to your \
                 own store or the sandbox to use this window's",
            )),
        }
    }

    /// Switches the window to `mode`, starting the sandbox when needed. A receiver serving the
    /// other store is stopped: codes must never land in a store the person is not looking at.
    pub async fn set_mode(&self, mode: Mode) -> CmdResult<()> {
        // After the start's own choice, never overtaken by it.
        self.started().await;
        self.switch_to(mode).await
    }

    pub(crate) async fn switch_to(&self, mode: Mode) -> CmdResult<()> {
        match mode {
            Mode::Live => {
                self.live().await?;
            }
            Mode::Sandbox => {
                self.sandbox().await?;
            }
            // Connected (or its error kept) by the caller, `servers`.
            Mode::Server => {}
        }
        *lock(&self.mode) = mode;
        if mode != Mode::Server {
            crate::servers::disconnect(self).await;
        }
        let mut receiver = self.receiver.lock().await;
        if receiver.as_ref().is_some_and(|r| r.mode != mode)
            && let Some(running) = receiver.take()
        {
            running.stop().await;
        }
        Ok(())
    }

    /// The start mode: chosen by the first caller (the app starts choosing as the window
    /// opens), awaited by the others.
    pub async fn started(&self) -> Mode {
        *self.started.get_or_init(|| self.choose_start_mode()).await
    }

    /// At start: the team server of `TOKENDESK_SERVER` when it is set, else the person's own
    /// store when it has a client, else the sandbox.
    async fn choose_start_mode(&self) -> Mode {
        if let Some(url) = std::env::var("TOKENDESK_SERVER")
            .ok()
            .filter(|u| !u.trim().is_empty())
        {
            crate::servers::open_from_env(self, &url).await;
            return *lock(&self.mode);
        }
        let has_clients = match self.live().await {
            Ok(desk) => desk.clients().await.map(|c| !c.is_empty()).unwrap_or(true),
            // A store that cannot open stays the live one, so the error is in view.
            Err(_) => true,
        };
        let mode = if has_clients || std::env::var_os("TOKENDESK_NO_SANDBOX").is_some() {
            Mode::Live
        } else {
            Mode::Sandbox
        };
        if let Err(err) = self.switch_to(mode).await {
            tracing::warn!(code = %err.code, "cannot start in {mode:?} mode");
        }
        *lock(&self.mode)
    }
}

/// Empties a sandbox slot the window holds: the keyring entry of the store it held (each
/// store has its own key, named after it, so no other sandbox's key is touched, whatever data
/// folder it lives in), then its folder.
fn wipe_sandbox(dir: &std::path::Path, vault: &OsKeyring) -> CmdResult<()> {
    let db = dir.join("tokendesk.sqlite3");
    if db.exists() {
        // A store too damaged to read leaves its key behind: an unused entry, never a leak.
        if let Ok(store) = tokendesk_core::store::Store::open(&db)
            && let Ok(Some(id)) = store.keys().store_id()
            && let Ok(wraps) = store.keys().all()
        {
            for wrap in wraps {
                let key = SecretKey::store_key(&format!("{id}-{}", wrap.kek_id))?;
                vault.delete(&key)?;
            }
        }
    }
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(CommandError::new(
            "storage",
            format!("cannot reset the sandbox folder {}: {e}", dir.display()),
        )),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use google_emulator::{MintCode, UserSpec};
    use tokendesk_core::oauth::RedirectChoice;
    use tokendesk_core::secret::AuthCode;

    use super::*;

    async fn sign_in(sandbox: &Sandbox, email: &str) -> Result<(), String> {
        let spec = MintCode {
            user: UserSpec {
                email: email.to_owned(),
                ..UserSpec::default()
            },
            ..MintCode::default()
        };
        let (code, _) = sandbox.emulator.mint_code(&spec)?;
        sandbox
            .desk
            .exchange(None, AuthCode::new(code), RedirectChoice::Empty)
            .await
            .map(drop)
            .map_err(|e| format!("{}: {e}", e.code()))
    }

    /// Two windows on one data directory (the real keyring, a real SQLite file each): the
    /// second one's sandbox starts beside the first's and wipes nothing of it; once both
    /// are closed, the next window takes the first folder again.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_windows_get_two_sandboxes_and_neither_wipes_the_other() {
        assert!(
            std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
            "the sandbox uses the real keyring: run this through ./scripts/test (a private \
             D-Bus session with gnome-keyring)"
        );
        let home = tempfile::tempdir().unwrap();
        let first = AppState::new(home.path().to_path_buf(), BuildKind::Test);
        let a = first.sandbox().await.unwrap();
        sign_in(&a, "first@example.com").await.unwrap();

        let second = AppState::new(home.path().to_path_buf(), BuildKind::Test);
        let b = second.sandbox().await.unwrap();
        let store_path = |s: &Sandbox| std::path::PathBuf::from(s.desk.location());
        assert_eq!(
            store_path(&a),
            home.path().join("sandbox/tokendesk.sqlite3")
        );
        assert_eq!(
            store_path(&b),
            home.path().join("sandbox-2/tokendesk.sqlite3")
        );
        assert!(
            store_path(&a).exists(),
            "the first sandbox's store is still there"
        );
        // The first sandbox's client secret (in the keyring) and store still work.
        sign_in(&a, "again@example.com").await.unwrap();
        assert_eq!(a.desk.users_page("", 0, 10).await.unwrap().total, 2);
        sign_in(&b, "second@example.com").await.unwrap();

        drop((a, b));
        drop((first, second));
        let third = AppState::new(home.path().to_path_buf(), BuildKind::Test);
        let c = third.sandbox().await.unwrap();
        assert_eq!(
            store_path(&c),
            home.path().join("sandbox/tokendesk.sqlite3")
        );
        assert_eq!(
            c.desk.users_page("", 0, 10).await.unwrap().total,
            0,
            "a new start wipes the sandbox"
        );
    }

    /// A sandbox in another data folder (another TOKENDESK_HOME) starting alone in its own
    /// folder must not wipe this one's keys: each store has its own key, named after it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_sandbox_in_another_data_folder_leaves_this_ones_keys_alone() {
        assert!(
            std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
            "the sandbox uses the real keyring: run this through ./scripts/test"
        );
        let (home_a, home_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let first = AppState::new(home_a.path().to_path_buf(), BuildKind::Test);
        let a = first.sandbox().await.unwrap();
        sign_in(&a, "first@example.com").await.unwrap();
        let other = AppState::new(home_b.path().to_path_buf(), BuildKind::Test);
        let b = other.sandbox().await.unwrap();
        sign_in(&b, "other@example.com").await.unwrap();
        let store =
            tokendesk_core::store::Store::open(home_a.path().join("sandbox/tokendesk.sqlite3"))
                .unwrap();
        let id = store.keys().store_id().unwrap().unwrap();
        let kek = store.keys().all().unwrap().remove(0).kek_id;
        let entry = SecretKey::store_key(&format!("{id}-{kek}")).unwrap();
        assert!(
            OsKeyring::open(BuildKind::Sandbox)
                .unwrap()
                .get(&entry)
                .unwrap()
                .is_some(),
            "the first sandbox's key is still in the keyring"
        );
        sign_in(&a, "again@example.com").await.unwrap();
        a.desk
            .refresh("first@example.com", None)
            .await
            .expect("and its users' tokens still open");
    }
}
