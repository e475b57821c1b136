//! A staff member's sign-in to a team server, as a native app signs in (RFC 8252): the
//! server says which provider and Desktop-app client ([`LoginConfig`]); the system browser
//! opens the provider's consent page; the provider redirects to a one-shot listener on a
//! loopback port; the code is redeemed with its PKCE verifier; the server checks the ID token
//! and answers with a session. The CLI (`tokendesk --server URL login`) and the window drive
//! it, each opening the browser its own way.

use std::time::Duration;

use crate::api::{LoginConfig, WhoAmI};
use crate::desk::{DeskError, ErrorKind, StopFlag};
use crate::loopback::{Landing, LoopbackError, LoopbackRedirect};
use crate::remote;
use crate::secret::AuthCode;
use zeroize::Zeroizing;

/// How long the browser has to come back.
pub const LOGIN_TIMEOUT: Duration = Duration::from_secs(300);

fn failed(code: &str, message: String) -> DeskError {
    DeskError::Remote {
        code: code.to_owned(),
        kind: ErrorKind::Unauthenticated,
        message,
        explanation: None,
        raw: Vec::new(),
    }
}

/// A sign-in begun: open [`StaffLogin::url`] in the browser, then [`StaffLogin::finish`].
pub struct StaffLogin {
    http: reqwest::Client,
    base: url::Url,
    config: LoginConfig,
    url: url::Url,
    redirect: LoopbackRedirect,
}

impl std::fmt::Debug for StaffLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaffLogin")
            .field("base", &self.base.as_str())
            .field("redirect", &self.redirect)
            .finish_non_exhaustive()
    }
}

impl StaffLogin {
    /// Asks the server how staff sign in and starts the loopback listener.
    pub async fn begin(http: reqwest::Client, base: url::Url) -> Result<Self, DeskError> {
        let config = remote::login_config(&http, &base).await?;
        let redirect = LoopbackRedirect::listen(
            0,
            Landing {
                done: "Signed in to TokenDesk. You may close this tab.",
                failed: "The sign-in did not complete; see TokenDesk for why.",
            },
        )
        .await
        .map_err(|e| failed("login_listener", e.to_string()))?;
        let mut url = url::Url::parse(&config.authorization_endpoint).map_err(|e| {
            failed(
                "bad_login_config",
                format!("the server's authorization endpoint is not a URL ({e})"),
            )
        })?;
        url.query_pairs_mut()
            .append_pair("client_id", &config.client_id)
            .append_pair("scope", &config.scopes.join(" "))
            .append_pair("prompt", "select_account");
        if let Some(hd) = &config.hd {
            url.query_pairs_mut().append_pair("hd", hd);
        }
        redirect.authorize(&mut url);
        Ok(Self {
            http,
            base,
            config,
            url,
            redirect,
        })
    }

    /// The page to open in the browser.
    pub fn url(&self) -> &str {
        self.url.as_str()
    }

    /// Waits for the browser (at most `timeout`), redeems the code, and signs in to the
    /// server. The answer holds the new session's token.
    pub async fn finish(mut self, timeout: Duration) -> Result<WhoAmI, DeskError> {
        let landed = self
            .redirect
            .wait(timeout, &StopFlag::default())
            .await
            .map_err(|e| match e {
                LoopbackError::TimedOut(_) => failed(
                    "login_timed_out",
                    format!(
                        "the browser did not come back within {} s; run login again",
                        timeout.as_secs()
                    ),
                ),
                LoopbackError::Refused { error, description } => failed(
                    "login_refused",
                    format!(
                        "the staff provider refused the sign-in: {error} {}",
                        description.unwrap_or_default()
                    ),
                ),
                LoopbackError::StateMismatch => failed(
                    "login_state_mismatch",
                    "the browser came back from another sign-in than this one (state does not \
                     match); run login again"
                        .into(),
                ),
                LoopbackError::NoCode => {
                    failed("login_no_code", "the provider sent no code back".into())
                }
                other => failed("login_interrupted", other.to_string()),
            })?;
        let id_token = self.redeem(&landed.code).await?;
        remote::sign_in(&self.http, &self.base, &id_token).await
    }

    /// The authorization code for the staff ID token, at the provider's token endpoint.
    async fn redeem(&self, code: &AuthCode) -> Result<Zeroizing<String>, DeskError> {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code.secret()),
            ("redirect_uri", self.redirect.redirect_uri()),
            ("client_id", self.config.client_id.as_str()),
            (
                "code_verifier",
                code.pkce_verifier().map_or("", |v| v.secret()),
            ),
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
