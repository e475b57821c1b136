//! A native app's authorization-code sign-in (RFC 8252): a one-shot listener on a loopback
//! port for the provider's redirect, PKCE S256 (RFC 7636) and a `state` that ties the redirect
//! to this request. The staff sign-in to a team server and the sign-in lab both use it; each
//! builds its own authorization URL with [`LoopbackRedirect::authorize`] and opens the browser
//! its own way.

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

use crate::desk::StopFlag;
use crate::listener::{self, ListenConfig, ListenError};
use crate::secret::{AuthCode, PkceVerifier};

/// What the browser brought back to the loopback listener.
#[derive(Deserialize)]
struct Redirect {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
    scope: Option<String>,
}

/// The landing page's two texts: after a code, and after an error.
#[derive(Debug, Clone, Copy)]
pub struct Landing {
    pub done: &'static str,
    pub failed: &'static str,
}

struct Hook {
    tx: Mutex<Option<oneshot::Sender<Redirect>>>,
    landing: Landing,
}

async fn land(State(hook): State<Arc<Hook>>, Query(redirect): Query<Redirect>) -> Html<String> {
    let ok = redirect.code.is_some();
    if let Some(tx) = hook
        .tx
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take()
    {
        let _ = tx.send(redirect);
    }
    let text = if ok {
        hook.landing.done
    } else {
        hook.landing.failed
    };
    Html(format!("<!doctype html><title>TokenDesk</title><p>{text}"))
}

/// Opens `url` in the system browser: `$BROWSER` if set (the URL replaces `%s`, or is
/// appended), else the platform's opener (`xdg-open`, `open`, `explorer`). The CLI and the
/// window both open their sign-ins here; a test's `$BROWSER` plays the browser.
pub fn open_in_browser(url: &str) -> std::io::Result<()> {
    let spawned = match std::env::var("BROWSER") {
        Ok(browser) if !browser.trim().is_empty() => {
            let mut words = browser.split_whitespace().map(str::to_owned);
            let program = words.next().unwrap_or_default();
            let mut args: Vec<String> = words.collect();
            if args.iter().any(|a| a.contains("%s")) {
                for a in &mut args {
                    *a = a.replace("%s", url);
                }
            } else {
                args.push(url.to_owned());
            }
            std::process::Command::new(program).args(args).spawn()
        }
        _ if cfg!(target_os = "macos") => std::process::Command::new("open").arg(url).spawn(),
        _ if cfg!(windows) => std::process::Command::new("explorer").arg(url).spawn(),
        _ => std::process::Command::new("xdg-open").arg(url).spawn(),
    };
    // Reaped when it ends (a browser's launcher returns at once), so a long-lived window
    // collects no zombie per sign-in.
    let mut child = spawned?;
    std::thread::spawn(move || child.wait());
    Ok(())
}

/// Why no code came back.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoopbackError {
    #[error("cannot listen for the redirect: {0}")]
    Listen(#[from] ListenError),
    #[error("the browser did not come back within {} s", .0.as_secs())]
    TimedOut(Duration),
    #[error("the sign-in was stopped before the browser came back")]
    Stopped,
    /// The provider redirected with `error=` (the person declined, `prompt=none` could not
    /// be satisfied, ...).
    #[error("the provider answered {error}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Refused {
        error: String,
        description: Option<String>,
    },
    #[error("the browser came back from another sign-in than this one (state does not match)")]
    StateMismatch,
    #[error("the provider redirected without a code")]
    NoCode,
}

/// What came back: the code, with this request's PKCE verifier, and the scopes the provider
/// says it granted (Google adds `scope` to the redirect).
#[derive(Debug)]
pub struct Landed {
    pub code: AuthCode,
    pub scope: Option<String>,
}

/// A loopback redirect waiting for the browser: its URI, `state` and PKCE pair.
pub struct LoopbackRedirect {
    redirect_uri: String,
    state: CsrfToken,
    challenge: PkceCodeChallenge,
    verifier: Option<PkceCodeVerifier>,
    landed: oneshot::Receiver<Redirect>,
    _serving: listener::Serving,
}

impl std::fmt::Debug for LoopbackRedirect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoopbackRedirect")
            .field("redirect_uri", &self.redirect_uri)
            .finish_non_exhaustive()
    }
}

impl LoopbackRedirect {
    /// Listens on `127.0.0.1:port` (0: any free port) for the one redirect, path `/`.
    pub async fn listen(port: u16, landing: Landing) -> Result<Self, LoopbackError> {
        let (tx, landed) = oneshot::channel();
        let hook = Arc::new(Hook {
            tx: Mutex::new(Some(tx)),
            landing,
        });
        let bound = listener::bind(&ListenConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], port)),
            tls: None,
            allow_non_loopback: false,
            what: "the sign-in's redirect",
        })
        .await?;
        let redirect_uri = format!("http://127.0.0.1:{}/", bound.addr().port());
        let serving = bound.serve(Router::new().route("/", get(land)).with_state(hook));
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        Ok(Self {
            redirect_uri,
            state: CsrfToken::new_random(),
            challenge,
            verifier: Some(verifier),
            landed,
            _serving: serving,
        })
    }

    /// `http://127.0.0.1:PORT/`: the `redirect_uri` of the request and of the exchange.
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// Adds this redirect's parameters to an authorization URL: `redirect_uri`,
    /// `response_type=code`, `state`, `code_challenge` and `code_challenge_method=S256`.
    pub fn authorize(&self, url: &mut url::Url) {
        url.query_pairs_mut()
            .append_pair("redirect_uri", &self.redirect_uri)
            .append_pair("response_type", "code")
            .append_pair("state", self.state.secret())
            .append_pair("code_challenge", self.challenge.as_str())
            .append_pair("code_challenge_method", "S256");
    }

    /// Waits for the browser (at most `timeout`, or until `stop`), checks `state`, and hands
    /// back the code with its verifier. Once only: a second call finds it gone.
    pub async fn wait(
        &mut self,
        timeout: Duration,
        stop: &StopFlag,
    ) -> Result<Landed, LoopbackError> {
        let redirect = tokio::select! {
            landed = &mut self.landed => landed.map_err(|_| LoopbackError::Stopped)?,
            () = crate::follow::wait(timeout, stop) => {
                return Err(if stop.is_stopped() {
                    LoopbackError::Stopped
                } else {
                    LoopbackError::TimedOut(timeout)
                });
            }
        };
        // The state is checked first: an error redirect from another sign-in is not ours.
        if redirect.state.as_deref() != Some(self.state.secret().as_str()) {
            return Err(LoopbackError::StateMismatch);
        }
        if let Some(error) = redirect.error {
            return Err(LoopbackError::Refused {
                error,
                description: redirect.error_description,
            });
        }
        let code = redirect.code.ok_or(LoopbackError::NoCode)?;
        let verifier = self.verifier.take().ok_or(LoopbackError::Stopped)?;
        Ok(Landed {
            code: AuthCode::new(code)
                .with_pkce_verifier(PkceVerifier::new(verifier.secret().as_str())),
            scope: redirect.scope,
        })
    }
}
