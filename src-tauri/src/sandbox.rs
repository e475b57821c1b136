//! The sandbox page: test users of the built-in emulator, and "simulate an iOS sign-in": mint
//! a serverAuthCode as Google Sign-In on iOS would, then POST it to the receiver as the app
//! does (`X-Requested-With`), so the whole flow of the seed runs on this machine.

use serde::{Deserialize, Serialize};
use tauri::{AppHandle, State};
use ts_rs::TS;

use crate::error::{CmdResult, CommandError};
use crate::state::{AppState, Mode};

/// A test user of the emulator (its admin API's shape).
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct SandboxUser {
    pub sub: String,
    pub email: String,
    #[serde(default)]
    pub email_verified: bool,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub given_name: String,
    #[serde(default)]
    pub family_name: String,
    #[serde(default)]
    pub picture: String,
    #[serde(default)]
    pub locale: String,
    #[serde(default)]
    pub hd: Option<String>,
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

async fn sandbox_only(state: &AppState) -> CmdResult<()> {
    if state.mode().await == Mode::Sandbox {
        Ok(())
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

fn emulator_error(e: impl std::fmt::Display) -> CommandError {
    CommandError::new(
        "sandbox",
        format!("the built-in emulator did not answer: {e}"),
    )
}

#[tauri::command]
pub async fn sandbox_users(state: State<'_, AppState>) -> CmdResult<Vec<SandboxUser>> {
    sandbox_only(&state).await?;
    let sandbox = state.sandbox().await?;
    #[derive(Deserialize)]
    struct Users {
        users: Vec<SandboxUser>,
    }
    let users: Users = http()?
        .get(format!("{}/emulator/v1/users", sandbox.emulator.base_url()))
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(emulator_error)?
        .json()
        .await
        .map_err(emulator_error)?;
    Ok(users.users)
}

#[tauri::command]
pub async fn sandbox_add_user(
    state: State<'_, AppState>,
    user: NewSandboxUser,
) -> CmdResult<SandboxUser> {
    sandbox_only(&state).await?;
    if !user.email.contains('@') {
        return Err(CommandError::new(
            "invalid_request",
            "a test user needs an email address (name@example.com)",
        ));
    }
    let sandbox = state.sandbox().await?;
    let response = http()?
        .post(format!("{}/emulator/v1/users", sandbox.emulator.base_url()))
        .json(&user)
        .send()
        .await
        .map_err(emulator_error)?;
    if !response.status().is_success() {
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        return Err(CommandError::new(
            "invalid_request",
            body["error_description"]
                .as_str()
                .unwrap_or("the emulator refused this user")
                .to_owned(),
        ));
    }
    response.json().await.map_err(emulator_error)
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
    sandbox_only(&state).await?;
    let sandbox = state.sandbox().await?;
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
            crate::commands::start_receiver(&app, &state, 0, None)
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
