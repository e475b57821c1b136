//! The sandbox page: test users of the built-in emulator, and "simulate an iOS sign-in": mint
//! a serverAuthCode as Google Sign-In on iOS would, then POST it to the receiver as the app
//! does (`X-Requested-With`), so the whole flow of the seed runs on this machine. The emulator
//! runs in this process and is driven through its Rust API, one way for everything; only the
//! app's POST goes over HTTP, as an app's would.

use serde::{Deserialize, Serialize};
use tauri::{AppHandle, State};
use ts_rs::TS;

use crate::error::{CmdResult, CommandError};
use crate::state::{AppState, Mode, Sandbox};

/// A test user of the emulator (its admin API's shape).
/// A test user of the emulator: the profile its ID tokens will state (not a TokenDesk user:
/// that one exists only once a sign-in's code was exchanged).
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct SandboxUser {
    pub sub: String,
    pub email: String,
    pub email_verified: bool,
    pub name: String,
    pub given_name: String,
    pub family_name: String,
    pub picture: String,
    pub locale: String,
    pub hd: Option<String>,
}

impl From<google_emulator::User> for SandboxUser {
    fn from(u: google_emulator::User) -> Self {
        Self {
            sub: u.sub,
            email: u.email,
            email_verified: u.email_verified,
            name: u.name,
            given_name: u.given_name,
            family_name: u.family_name,
            picture: u.picture,
            locale: u.locale,
            hd: u.hd,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct NewSandboxUser {
    pub email: String,
    pub name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub locale: Option<String>,
}

/// The sandbox, if it is what the window shows: read once, and everything after acts on this
/// sandbox's own emulator and store, whatever the mode becomes meanwhile (a switch to the live
/// store must never let a sandbox action reach it).
async fn sandbox_only(state: &AppState) -> CmdResult<std::sync::Arc<Sandbox>> {
    if state.mode().await == Mode::Sandbox {
        state.sandbox().await
    } else {
        Err(CommandError::new(
            "not_in_sandbox",
            "this works in the sandbox only: switch to the sandbox first",
        ))
    }
}

fn http() -> CmdResult<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .no_proxy()
        .build()
        .map_err(|e| CommandError::new("http_setup", e.to_string()))
}

#[tauri::command]
pub async fn sandbox_users(state: State<'_, AppState>) -> CmdResult<Vec<SandboxUser>> {
    let sandbox = sandbox_only(&state).await?;
    let mut users: Vec<SandboxUser> = sandbox
        .emulator
        .users()
        .into_iter()
        .map(SandboxUser::from)
        .collect();
    users.sort_by(|a, b| a.email.cmp(&b.email));
    Ok(users)
}

#[tauri::command]
pub async fn sandbox_add_user(
    state: State<'_, AppState>,
    user: NewSandboxUser,
) -> CmdResult<SandboxUser> {
    let sandbox = sandbox_only(&state).await?;
    if !user.email.contains('@') {
        return Err(CommandError::new(
            "invalid_request",
            "a test user needs an email address (name@example.com)",
        ));
    }
    let spec = google_emulator::UserSpec {
        email: user.email.trim().to_owned(),
        name: user.name,
        given_name: user.given_name,
        family_name: user.family_name,
        locale: user.locale,
        ..Default::default()
    };
    sandbox
        .emulator
        .add_user(&spec)
        .map(SandboxUser::from)
        .map_err(|e| CommandError::new("invalid_request", e))
}

/// What the simulated app saw from the receiver.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct SignInReport {
    pub receiver_url: String,
    pub status: u16,
    /// The receiver's JSON answer (the user's profile, or an error): never tokens.
    pub body: serde_json::Value,
}

/// Mints a serverAuthCode for `email` (as Google Sign-In on iOS would) and POSTs it to the
/// receiver as the app would; starts the receiver (a free loopback port) when it is not running.
#[tauri::command]
pub async fn sandbox_sign_in(
    app: AppHandle,
    state: State<'_, AppState>,
    email: String,
) -> CmdResult<SignInReport> {
    let sandbox = sandbox_only(&state).await?;
    let running = state
        .receiver
        .lock()
        .await
        .as_ref()
        .filter(|r| r.mode == Mode::Sandbox)
        .map(|r| r.receiver.url());
    let receiver_url = match running {
        Some(url) => url,
        None => {
            let target = crate::commands::ReceiverTarget {
                mode: Mode::Sandbox,
                desk: std::sync::Arc::clone(&sandbox.desk),
            };
            crate::commands::start_receiver_on(&app, &state, target, 0, None)
                .await?
                .url
        }
    };
    let (code, _sub) = sandbox
        .emulator
        .mint_code(&google_emulator::MintCode {
            user: google_emulator::UserSpec {
                email: email.trim().to_owned(),
                ..Default::default()
            },
            ..Default::default()
        })
        .map_err(|e| CommandError::new("sandbox", format!("cannot mint a code: {e}")))?;
    let code = zeroize::Zeroizing::new(code);
    let response = http()?
        .post(&receiver_url)
        .header("X-Requested-With", "com.example.tokendesk.sandbox")
        .json(&serde_json::json!({ "code": code.as_str() }))
        .send()
        .await
        .map_err(|e| CommandError::new("receiver", format!("the receiver did not answer: {e}")))?;
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(serde_json::Value::Null);
    Ok(SignInReport {
        receiver_url,
        status,
        body,
    })
}
