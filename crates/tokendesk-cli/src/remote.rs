//! `--server URL`: the console on a team server. `login` signs in as staff (the browser, a
//! loopback redirect, PKCE) and keeps the session in the OS keyring, one per server;
//! commands use it, else an API token from TOKENDESK_TOKEN.

use std::path::Path;
use std::sync::Arc;

use tokendesk_core::desk::{DeskError, ErrorKind};
use tokendesk_core::remote::{self, RemoteConsole};
use tokendesk_core::staff_login::{LOGIN_TIMEOUT, StaffLogin};
use tokendesk_core::vault::{SecretKey, SecretStore};
use zeroize::Zeroizing;

use crate::browser;
use crate::output::Out;

fn session_key(base: &url::Url) -> Result<SecretKey, DeskError> {
    Ok(SecretKey::server_session(base.as_str())?)
}

fn not_signed_in(base: &url::Url) -> DeskError {
    DeskError::Remote {
        code: "not_signed_in".into(),
        kind: ErrorKind::Unauthenticated,
        message: format!(
            "not signed in to {base}: run `tokendesk --server {base} login`, or set \
             TOKENDESK_TOKEN to an API token"
        ),
        explanation: None,
        raw: Vec::new(),
    }
}

/// The console on the server at `server`, with the kept session or TOKENDESK_TOKEN.
pub async fn connect(
    server: &str,
    ca_cert: Option<&Path>,
    vault: impl FnOnce() -> Result<Arc<dyn SecretStore>, DeskError>,
) -> Result<RemoteConsole, DeskError> {
    let base = remote::server_url(server)?;
    let http = remote::http_client(ca_cert)?;
    let token = match std::env::var("TOKENDESK_TOKEN") {
        Ok(token) if !token.trim().is_empty() => Zeroizing::new(token.trim().to_owned()),
        _ => {
            let key = session_key(&base)?;
            let vault = vault()?;
            tokio::task::spawn_blocking(move || vault.get(&key))
                .await
                .map_err(|e| DeskError::TaskLost {
                    what: "a keyring read",
                    detail: e.to_string(),
                })??
                .ok_or_else(|| not_signed_in(&base))?
        }
    };
    RemoteConsole::connect(base, token, http).await
}

/// `tokendesk --server URL login`.
pub async fn login(
    server: &str,
    ca_cert: Option<&Path>,
    vault: Arc<dyn SecretStore>,
    out: &Out,
) -> Result<(), DeskError> {
    let base = remote::server_url(server)?;
    let http = remote::http_client(ca_cert)?;
    remote::version(&http, &base).await?;
    let flow = StaffLogin::begin(http, base.clone()).await?;
    browser::open(flow.url(), "the staff sign-in");
    let who = flow.finish(LOGIN_TIMEOUT).await?;
    let token = who.token.clone().ok_or_else(|| DeskError::Remote {
        code: "no_session".into(),
        kind: ErrorKind::Failure,
        message: "the server signed you in but sent no session token; report this".into(),
        explanation: None,
        raw: Vec::new(),
    })?;
    let key = session_key(&base)?;
    tokio::task::spawn_blocking(move || vault.set(&key, &token))
        .await
        .map_err(|e| DeskError::TaskLost {
            what: "a keyring write",
            detail: e.to_string(),
        })??;
    out.signed_in(&base, &who);
    Ok(())
}

/// `tokendesk --server URL logout`: ends the session on the server, then forgets it here
/// (also when the server already ended it).
pub async fn logout(
    server: &str,
    ca_cert: Option<&Path>,
    vault: Arc<dyn SecretStore>,
    out: &Out,
) -> Result<(), DeskError> {
    let base = remote::server_url(server)?;
    let key = session_key(&base)?;
    let reader = Arc::clone(&vault);
    let read_key = key.clone();
    let kept = tokio::task::spawn_blocking(move || reader.get(&read_key))
        .await
        .map_err(|e| DeskError::TaskLost {
            what: "a keyring read",
            detail: e.to_string(),
        })??;
    let Some(token) = kept else {
        return Err(not_signed_in(&base));
    };
    let http = remote::http_client(ca_cert)?;
    match RemoteConsole::connect(base.clone(), token, http).await {
        Ok(console) => console.sign_out().await?,
        // Already ended on the server (expired, or staff removed): forgetting it is enough.
        Err(err) if err.kind() == ErrorKind::Unauthenticated => {}
        Err(err) => return Err(err),
    }
    tokio::task::spawn_blocking(move || vault.delete(&key))
        .await
        .map_err(|e| DeskError::TaskLost {
            what: "a keyring write",
            detail: e.to_string(),
        })??;
    out.done(&format!("signed out of {base}"));
    Ok(())
}
