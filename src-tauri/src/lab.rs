//! The sign-in lab in the window: the core's lab (`tokendesk_core::signin_lab`) over the store
//! in view, each step sent to the page as it happens (`lab-step` events), the system browser
//! opened as the command line opens it. In the sandbox the lab's redirect URI is registered with
//! the emulator's web client first, as a developer registers it in Cloud Console.

use std::sync::Mutex;

use tauri::{AppHandle, Emitter as _, State};
use tokendesk_core::desk::StopFlag;
use tokendesk_core::signin_lab::{self, LAB_TIMEOUT, LabEvent, LabIo, LabReport, LabRequest};

use crate::error::{CmdResult, CommandError};
use crate::state::{AppState, Mode, lock};

/// The event each step of the lab is sent as (a [`LabEvent`]).
pub const EVENT_LAB_STEP: &str = "lab-step";

/// The lab running now, if any: one at a time, stoppable.
#[derive(Debug, Default)]
pub struct LabSlot(Mutex<Option<StopFlag>>);

/// Runs the lab to its end (the person at the consent page, or the timeout, or `lab_cancel`).
#[tauri::command]
pub async fn lab_run(
    app: AppHandle,
    state: State<'_, AppState>,
    slot: State<'_, LabSlot>,
    request: LabRequest,
) -> CmdResult<LabReport> {
    let stop = {
        let mut running = lock(&slot.0);
        if running.is_some() {
            return Err(CommandError::new(
                "busy",
                "a sign-in is already waiting for the browser; finish or cancel it first",
            ));
        }
        let stop = StopFlag::default();
        *running = Some(stop.clone());
        stop
    };
    let result = run(&app, &state, request, &stop).await;
    *lock(&slot.0) = None;
    result
}

async fn run(
    app: &AppHandle,
    state: &AppState,
    mut request: LabRequest,
    stop: &StopFlag,
) -> CmdResult<LabReport> {
    if state.mode().await == Mode::Sandbox && request.port.is_none() {
        request.port = Some(register_sandbox_redirect(state).await?);
    }
    let console = state.desk().await?;
    let open = |url: &str| {
        if let Err(err) = tokendesk_core::loopback::open_in_browser(url) {
            tracing::warn!(%err, "could not open the browser for the sign-in lab");
        }
    };
    let step = |event: &LabEvent| {
        let _ = app.emit(EVENT_LAB_STEP, event);
    };
    // The person's proxy and CA bundle (Settings), as the browser's request will go.
    let network = crate::settings::WindowSettings::load(&state.data_dir)?
        .apply(tokendesk_core::oauth::HttpConfig::default());
    let io = LabIo {
        open: &open,
        step: &step,
        stop,
        timeout: LAB_TIMEOUT,
        network: &network,
    };
    Ok(signin_lab::run(&*console, &request, &io).await)
}

/// A free loopback port whose redirect URI the sandbox's web client now accepts.
async fn register_sandbox_redirect(state: &AppState) -> CmdResult<u16> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| CommandError::new("lab_listener", format!("no free loopback port: {e}")))?
        .port();
    let sandbox = state.sandbox().await?;
    sandbox
        .emulator
        .register_redirect_uri(&format!("http://127.0.0.1:{port}/"))
        .map_err(|e| CommandError::new("sandbox", e))?;
    Ok(port)
}

/// Stops the lab that waits for the browser; false when none runs.
#[tauri::command]
pub async fn lab_cancel(slot: State<'_, LabSlot>) -> CmdResult<bool> {
    Ok(lock(&slot.0).as_ref().map(StopFlag::stop).is_some())
}
