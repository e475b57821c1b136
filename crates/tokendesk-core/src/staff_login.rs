//! A staff member's sign-in to a team server, as a native app signs in (RFC 8252): the
//! server says which provider and Desktop-app client ([`LoginConfig`]); the system browser
//! opens the provider's consent page; the provider redirects to a one-shot listener on a
//! loopback port; the code is redeemed with its PKCE verifier; the server checks the ID token
//! and answers with a session. The CLI (`tokendesk --server URL login`) and the window drive
//! it, each opening the browser its own way.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::response::Html;
use axum::routing::get;
use oauth2::{CsrfToken, PkceCodeChallenge, PkceCodeVerifier};
use serde::Deserialize;
use tokio::sync::oneshot;
use zeroize::Zeroizing;

use crate::api::{LoginConfig, WhoAmI};
use crate::desk::{DeskError, ErrorKind};
use crate::listener::{self, ListenConfig};
use crate::remote;

/// How long the browser has to come back.
pub const LOGIN_TIMEOUT: Duration = Duration::from_secs(300);

fn failed(code: &str, message: String) -> DeskError {
    DeskError::Remote {
        code: code.to_owned(),
        kind: ErrorKind::Unauthenticated,
        message,
        explanation: None,
    }
}

/// What the browser brought back to the loopback listener.
#[derive(Debug, Deserialize)]
struct Redirect {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

type Landing = Arc<Mutex<Option<oneshot::Sender<Redirect>>>>;

/// A sign-in begun: open [`StaffLogin::url`] in the browser, then [`StaffLogin::finish`].
pub struct StaffLogin {
    http: reqwest::Client,
    base: url::Url,
    config: LoginConfig,
    url: url::Url,
    redirect_uri: String,
    state: CsrfToken,
    verifier: PkceCodeVerifier,
    landed: oneshot::Receiver<Redirect>,
    _serving: listener::Serving,
}

impl std::fmt::Debug for StaffLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaffLogin")
            .field("base", &self.base.as_str())
            .field("redirect_uri", &self.redirect_uri)
            .finish_non_exhaustive()
    }
}

async fn land(
    State(landing): State<Landing>,
    Query(redirect): Query<Redirect>,
) -> Html<&'static str> {
    let ok = redirect.code.is_some();
    if let Some(tx) = landing
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take()
    {
        let _ = tx.send(redirect);
    }
    Html(if ok {
        "<!doctype html><title>TokenDesk</title><p>Signed in to TokenDesk. You may close this tab."
    } else {
        "<!doctype html><title>TokenDesk</title><p>The sign-in did not complete; see TokenDesk for why."
    })
}

impl StaffLogin {
    /// Asks the server how staff sign in and starts the loopback listener.
    pub async fn begin(http: reqwest::Client, base: url::Url) -> Result<Self, DeskError> {
        let config = remote::login_config(&http, &base).await?;
        let (tx, landed) = oneshot::channel();
        let landing: Landing = Arc::new(Mutex::new(Some(tx)));
        let bound = listener::bind(&ListenConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            tls: None,
            allow_non_loopback: false,
            what: "the sign-in's redirect",
        })
        .await
        .map_err(|e| failed("login_listener", e.to_string()))?;
        let redirect_uri = format!("http://127.0.0.1:{}/", bound.addr().port());
        let serving = bound.serve(Router::new().route("/", get(land)).with_state(landing));
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let state = CsrfToken::new_random();
        let mut url = url::Url::parse(&config.authorization_endpoint).map_err(|e| {
            failed(
                "bad_login_config",
                format!("the server's authorization endpoint is not a URL ({e})"),
            )
        })?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("client_id", &config.client_id)
                .append_pair("redirect_uri", &redirect_uri)
                .append_pair("response_type", "code")
                .append_pair("scope", &config.scopes.join(" "))
                .append_pair("state", state.secret())
                .append_pair("code_challenge", challenge.as_str())
                .append_pair("code_challenge_method", "S256")
                .append_pair("prompt", "select_account");
            if let Some(hd) = &config.hd {
                q.append_pair("hd", hd);
            }
        }
        Ok(Self {
            http,
            base,
            config,
            url,
            redirect_uri,
            state,
            verifier,
            landed,
            _serving: serving,
        })
    }

    /// The page to open in the browser.
    pub fn url(&self) -> &str {
        self.url.as_str()
    }

    /// Waits for the browser (at most `timeout`), redeems the code, and signs in to the
    /// server. The answer holds the new session's token.
    pub async fn finish(mut self, timeout: Duration) -> Result<WhoAmI, DeskError> {
        let redirect = tokio::time::timeout(timeout, &mut self.landed)
            .await
            .map_err(|_| {
                failed(
                    "login_timed_out",
                    format!(
                        "the browser did not come back within {} s; run login again",
                        timeout.as_secs()
                    ),
                )
            })?
            .map_err(|_| failed("login_interrupted", "the sign-in was interrupted".into()))?;
        if let Some(error) = redirect.error {
            let why = redirect.error_description.unwrap_or_default();
            return Err(failed(
                "login_refused",
                format!("the staff provider refused the sign-in: {error} {why}"),
            ));
        }
        if redirect.state.as_deref() != Some(self.state.secret().as_str()) {
            return Err(failed(
                "login_state_mismatch",
                "the browser came back from another sign-in than this one (state does not \
                 match); run login again"
                    .into(),
            ));
        }
        let code = Zeroizing::new(
            redirect
                .code
                .ok_or_else(|| failed("login_no_code", "the provider sent no code back".into()))?,
        );
        let id_token = self.redeem(&code).await?;
        remote::sign_in(&self.http, &self.base, &id_token).await
    }

    /// The authorization code for the staff ID token, at the provider's token endpoint.
    async fn redeem(&self, code: &str) -> Result<Zeroizing<String>, DeskError> {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", self.redirect_uri.as_str()),
            ("client_id", self.config.client_id.as_str()),
            ("code_verifier", self.verifier.secret().as_str()),
        ];
        if let Some(secret) = &self.config.client_secret {
            form.push(("client_secret", secret.as_str()));
        }
        let response = self
            .http
            .post(&self.config.token_endpoint)
            .form(&form)
            .send()
            .await
            .map_err(|e| {
                failed(
                    "login_token_endpoint",
                    format!(
                        "cannot reach the staff provider's token endpoint {} ({e})",
                        self.config.token_endpoint
                    ),
                )
            })?;
        let status = response.status();
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        if !status.is_success() {
            let error = body["error"].as_str().unwrap_or("unknown");
            let why = body["error_description"].as_str().unwrap_or("");
            return Err(failed(
                "login_code_refused",
                format!("the staff provider refused the code (HTTP {status}: {error} {why})"),
            ));
        }
        body["id_token"]
            .as_str()
            .map(|t| Zeroizing::new(t.to_owned()))
            .ok_or_else(|| {
                failed(
                    "login_no_id_token",
                    "the staff provider answered without an ID token: the client must ask for \
                     the openid scope"
                        .into(),
                )
            })
    }
}
