//! The sign-in lab: a developer runs the authorization-code flow of one of their clients in
//! the system browser (a loopback redirect, PKCE), choosing the parameters they test (scopes,
//! `access_type`, `prompt`, `include_granted_scopes`, `login_hint`, `hd`), and sees each step
//! as it happens: the authorization URL, the redirect, the exchange (raw, secrets masked), the
//! ID token's checks and the stored user. A failed step says what to change.
//!
//! The browser and the loopback listener are on the person's machine; the exchange goes
//! through the [`Console`], so on a team server it happens there (with the PKCE verifier).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::console::Console;
use crate::desk::{ClientView, DeskError, ErrorKind, RecordedCheck, StopFlag, UserView};
use crate::loopback::{Landed, Landing, LoopbackRedirect};
use crate::oauth::{HttpClient, HttpConfig, RawExchange, RedirectChoice};
use crate::secret::MASKED;

mod advice;

use advice::{advice_for, exchange_failure, hd_check, notes, redirect_failure, response_has};

/// How long the lab waits for the browser to come back.
pub const LAB_TIMEOUT: Duration = Duration::from_secs(300);

/// What the lab asks for when no scope is chosen: the seed's sign-in (identity and the
/// appDataFolder).
pub const DEFAULT_SCOPES: &[&str] = &["openid", "email", "profile", "drive.appdata"];

/// Google's `access_type`.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessType {
    /// No refresh token.
    Online,
    /// A refresh token, at the person's first consent to the client (or with
    /// `prompt=consent`).
    #[default]
    Offline,
}

impl AccessType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Online => "online",
            Self::Offline => "offline",
        }
    }
}

/// One value of Google's `prompt` (several may be combined, except `none`).
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Prompt {
    /// No page at all: fails unless the person is signed in and consented already.
    None,
    /// The consent page even after an earlier consent (a new refresh token).
    Consent,
    /// The account chooser.
    SelectAccount,
}

impl Prompt {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Consent => "consent",
            Self::SelectAccount => "select_account",
        }
    }
}

/// What a developer chose to test.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LabRequest {
    /// The client's name (none: the only one).
    pub client: Option<String>,
    /// Short names (`email`, `drive.appdata`) or full scope URLs; empty: [`DEFAULT_SCOPES`].
    pub scopes: Vec<String>,
    pub access_type: AccessType,
    pub prompt: Vec<Prompt>,
    pub include_granted_scopes: bool,
    pub login_hint: Option<String>,
    /// A Google Workspace domain (`hd`): the chooser shows its accounts, and the lab checks
    /// the ID token's `hd` claim (Google does not enforce it: servers must).
    pub hd: Option<String>,
    /// The loopback port (a Web client needs `http://127.0.0.1:PORT/` registered exactly);
    /// none: any free port.
    pub port: Option<u16>,
}

/// The steps of the lab, in order.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LabStep {
    AuthorizationUrl,
    Redirected,
    Exchanged,
    Verified,
    Stored,
}

impl LabStep {
    /// How people call the step.
    pub fn title(self) -> &'static str {
        match self {
            Self::AuthorizationUrl => "authorization URL",
            Self::Redirected => "redirect",
            Self::Exchanged => "exchange",
            Self::Verified => "verification",
            Self::Stored => "stored user",
        }
    }
}

/// A step as it happens. No secret: the code is masked, the raw exchange too.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum LabEvent {
    /// The URL the browser opens (its `state` and `code_challenge` are not secrets).
    AuthorizationUrl {
        url: String,
        client: String,
        client_id: String,
        redirect_uri: String,
    },
    /// The browser came back to the loopback listener with a code, and `state` matched.
    Redirected {
        /// Always masked.
        code: String,
        state_ok: bool,
        /// What the provider says it granted, as the redirect's `scope` has it.
        scope: Option<String>,
    },
    /// The code was redeemed (with its PKCE verifier) at the token endpoint.
    Exchanged {
        raw: Vec<RawExchange>,
        refresh_token: bool,
        scopes: Vec<String>,
        /// What the developer should know (no refresh token, a scope not granted...).
        notes: Vec<String>,
    },
    /// The ID token's checks, one by one.
    Verified {
        checks: Vec<RecordedCheck>,
        valid: bool,
    },
    /// The user as stored (boxed: the largest step by far).
    Stored { user: Box<UserView> },
    /// A step failed: what happened and what to change.
    Failed {
        at: LabStep,
        code: String,
        kind: ErrorKind,
        message: String,
        advice: String,
    },
}

/// The whole run: what was asked, every step, and the user when it got that far.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabReport {
    pub request: LabRequest,
    pub steps: Vec<LabEvent>,
    pub user: Option<UserView>,
    pub ok: bool,
}

impl LabReport {
    /// The failed step's kind (for an exit status), if one failed.
    pub fn failure_kind(&self) -> Option<ErrorKind> {
        self.steps.iter().find_map(|s| match s {
            LabEvent::Failed { kind, .. } => Some(*kind),
            _ => None,
        })
    }
}

/// What the lab needs from whoever runs it: a browser, an ear for each step, a stop.
pub struct LabIo<'a> {
    /// Opens the URL in the system browser.
    pub open: &'a (dyn Fn(&str) + Send + Sync),
    /// Hears each step as it happens.
    pub step: &'a (dyn Fn(&LabEvent) + Send + Sync),
    pub stop: &'a StopFlag,
    pub timeout: Duration,
    /// How this machine reaches the provider (proxy, extra CAs): the lab's own look at the
    /// authorization endpoint goes the way the browser's request will.
    pub network: &'a HttpConfig,
}

impl std::fmt::Debug for LabIo<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LabIo")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// A failed step, before it becomes a [`LabEvent::Failed`].
#[derive(Debug)]
struct Failure {
    at: LabStep,
    code: String,
    kind: ErrorKind,
    message: String,
    advice: String,
}

impl Failure {
    fn new(at: LabStep, code: &str, kind: ErrorKind, message: String, advice: String) -> Self {
        Self {
            at,
            code: code.to_owned(),
            kind,
            message,
            advice,
        }
    }

    fn of_desk(at: LabStep, err: &DeskError, advice: String) -> Self {
        Self::new(at, err.code(), err.kind(), err.to_string(), advice)
    }
}

/// A scope as Google wants it: the identity scopes bare, anything else short made a URL
/// (`drive.appdata` is `https://www.googleapis.com/auth/drive.appdata`).
pub fn full_scope(scope: &str) -> String {
    let scope = scope.trim();
    match scope {
        "openid" | "email" | "profile" => scope.to_owned(),
        s if s.contains("://") => s.to_owned(),
        s => format!("https://www.googleapis.com/auth/{s}"),
    }
}

impl LabRequest {
    /// The scopes asked for, as sent.
    pub fn scopes(&self) -> Vec<String> {
        let chosen: Vec<String> = self
            .scopes
            .iter()
            .flat_map(|s| s.split([' ', ',']))
            .filter(|s| !s.trim().is_empty())
            .map(full_scope)
            .collect();
        if chosen.is_empty() {
            DEFAULT_SCOPES.iter().map(|s| full_scope(s)).collect()
        } else {
            chosen
        }
    }

    /// The authorization URL's parameters besides the redirect's own (client_id and what the
    /// developer chose).
    fn parameters(&self, client_id: &str) -> Vec<(&'static str, String)> {
        let mut p = vec![
            ("client_id", client_id.to_owned()),
            ("scope", self.scopes().join(" ")),
            ("access_type", self.access_type.as_str().to_owned()),
        ];
        if !self.prompt.is_empty() {
            let prompt: Vec<&str> = self.prompt.iter().map(|p| p.as_str()).collect();
            p.push(("prompt", prompt.join(" ")));
        }
        if self.include_granted_scopes {
            p.push(("include_granted_scopes", "true".to_owned()));
        }
        if let Some(hint) = self.login_hint.as_deref().filter(|h| !h.trim().is_empty()) {
            p.push(("login_hint", hint.trim().to_owned()));
        }
        if let Some(hd) = self.hd.as_deref().filter(|h| !h.trim().is_empty()) {
            p.push(("hd", hd.trim().to_owned()));
        }
        p
    }

    /// Combinations Google refuses, refused before a browser opens.
    fn check(&self) -> Result<(), Failure> {
        if self.prompt.contains(&Prompt::None) && self.prompt.len() > 1 {
            return Err(Failure::new(
                LabStep::AuthorizationUrl,
                "bad_prompt",
                ErrorKind::Invalid,
                "prompt=none cannot be combined with other prompt values".into(),
                "choose either --prompt none alone, or consent and/or select_account".into(),
            ));
        }
        Ok(())
    }
}

/// Runs the lab: every step is told to `io.step` as it happens; the report holds them all.
pub async fn run(console: &dyn Console, request: &LabRequest, io: &LabIo<'_>) -> LabReport {
    let mut told = Told {
        io,
        steps: Vec::new(),
    };
    let outcome = steps(console, request, &mut told).await;
    let user = match outcome {
        Ok(user) => Some(user),
        Err(f) => {
            told.tell(LabEvent::Failed {
                at: f.at,
                code: f.code,
                kind: f.kind,
                message: f.message,
                advice: f.advice,
            });
            None
        }
    };
    LabReport {
        request: request.clone(),
        steps: told.steps,
        ok: user.is_some(),
        user,
    }
}

/// The steps told so far.
struct Told<'a, 'b> {
    io: &'a LabIo<'b>,
    steps: Vec<LabEvent>,
}

impl Told<'_, '_> {
    fn tell(&mut self, event: LabEvent) {
        (self.io.step)(&event);
        self.steps.push(event);
    }
}

/// The client by name, or the only one.
async fn client_of(console: &dyn Console, name: Option<&str>) -> Result<ClientView, DeskError> {
    if let Some(name) = name {
        return console.client(name).await;
    }
    crate::desk::the_only_client(console.clients().await?, |c| &c.name)
}

async fn steps(
    console: &dyn Console,
    request: &LabRequest,
    told: &mut Told<'_, '_>,
) -> Result<UserView, Failure> {
    use LabStep as S;
    request.check()?;
    let client = client_of(console, request.client.as_deref())
        .await
        .map_err(|e| {
            Failure::of_desk(
                S::AuthorizationUrl,
                &e,
                "choose a client with --client NAME (`tokendesk client list` shows them), or add \
             one with `tokendesk client add`"
                    .into(),
            )
        })?;
    let port = request.port.unwrap_or(0);
    let mut redirect = LoopbackRedirect::listen(
        port,
        Landing {
            done: "TokenDesk's sign-in lab has the code. You may close this tab.",
            failed: "The sign-in did not complete; TokenDesk's sign-in lab says why.",
        },
    )
    .await
    .map_err(|e| {
        Failure::new(
            S::AuthorizationUrl,
            "lab_listener",
            ErrorKind::Invalid,
            e.to_string(),
            format!(
                "port {port} is taken: stop what listens there, or choose another --port (and \
                 register its redirect URI with the client)"
            ),
        )
    })?;
    let redirect_uri = redirect.redirect_uri().to_owned();
    let url = authorization_url(&client, request, &redirect)?;
    told.tell(LabEvent::AuthorizationUrl {
        url: url.to_string(),
        client: client.name.clone(),
        client_id: client.client_id.clone(),
        redirect_uri: redirect_uri.clone(),
    });
    if let Some((error, status)) = preflight(&url, told.io.network).await {
        return Err(Failure::new(
            S::AuthorizationUrl,
            &error,
            ErrorKind::Refused,
            format!(
                "the provider's authorization endpoint refused the request (HTTP {status}: \
                 {error}); a browser would show its error page and never come back"
            ),
            advice_for(&error, &client, request, &redirect_uri),
        ));
    }
    (told.io.open)(url.as_str());
    let Landed { code, scope } = redirect
        .wait(told.io.timeout, told.io.stop)
        .await
        .map_err(|e| redirect_failure(e, &client, request, &redirect_uri))?;
    told.tell(LabEvent::Redirected {
        code: MASKED.to_owned(),
        state_ok: true,
        scope,
    });
    let choice = url::Url::parse(&redirect_uri)
        .map(RedirectChoice::Url)
        .map_err(|e| {
            Failure::new(
                S::Redirected,
                "bad_redirect_uri",
                ErrorKind::Failure,
                e.to_string(),
                "report this: the lab's own redirect URI did not parse".into(),
            )
        })?;
    let exchanged = console
        .exchange(Some(&client.name), code, choice)
        .await
        .map_err(|e| exchange_failure(&e, &client, request, &redirect_uri))?;
    told.tell(LabEvent::Exchanged {
        refresh_token: response_has(&exchanged.raw, "refresh_token"),
        scopes: exchanged.user.scopes.clone(),
        notes: notes(&exchanged, request),
        raw: exchanged.raw.clone(),
    });
    let mut checks = exchanged.id_token.checks.clone();
    let hd_ok = hd_check(request, &exchanged.user).map(|check| {
        let ok = check.ok;
        checks.push(check);
        ok
    });
    told.tell(LabEvent::Verified {
        valid: exchanged.id_token.valid && hd_ok != Some(false),
        checks,
    });
    if hd_ok == Some(false) {
        let hd = request.hd.as_deref().unwrap_or_default();
        return Err(Failure::new(
            S::Verified,
            "hd_mismatch",
            ErrorKind::Unverified,
            format!(
                "the account {} is {}, not of {hd} (the exchange stored it: TokenDesk keeps any \
                 verified account)",
                exchanged.user.email.as_deref().unwrap_or("that signed in"),
                exchanged
                    .user
                    .hd
                    .as_deref()
                    .map_or("not a Workspace account".to_owned(), |d| format!("of {d}")),
            ),
            format!(
                "hd only narrows Google's account chooser; a server must check the ID token's hd \
                 claim itself and refuse other accounts. Sign in with an account of {hd} to pass"
            ),
        ));
    }
    told.tell(LabEvent::Stored {
        user: Box::new(exchanged.user.clone()),
    });
    Ok(exchanged.user)
}

/// The client's authorization endpoint with the developer's parameters and the redirect's.
fn authorization_url(
    client: &ClientView,
    request: &LabRequest,
    redirect: &LoopbackRedirect,
) -> Result<url::Url, Failure> {
    let endpoint = client.authorization_endpoint.as_deref().ok_or_else(|| {
        Failure::new(
            LabStep::AuthorizationUrl,
            "no_authorization_endpoint",
            ErrorKind::Failure,
            format!("client {} has no authorization endpoint", client.name),
            "the team server is older than this TokenDesk: upgrade it".into(),
        )
    })?;
    let mut url = url::Url::parse(endpoint).map_err(|e| {
        Failure::new(
            LabStep::AuthorizationUrl,
            "bad_authorization_endpoint",
            ErrorKind::Invalid,
            format!(
                "the authorization endpoint of {} is not a URL ({e})",
                client.name
            ),
            "remove the client and add it again".into(),
        )
    })?;
    for (name, value) in request.parameters(&client.client_id) {
        url.query_pairs_mut().append_pair(name, &value);
    }
    redirect.authorize(&mut url);
    Ok(url)
}

/// Asks the authorization endpoint what a browser would get, without following it: Google
/// (and the emulator) answer a request they will never redirect (an unregistered
/// redirect_uri, an unknown client) with an error page, and a browser would never come back.
/// `Some((error, status))` for such a page; anything else (or no answer) goes on.
async fn preflight(url: &url::Url, network: &HttpConfig) -> Option<(String, u16)> {
    const KNOWN: &[&str] = &[
        "redirect_uri_mismatch",
        "invalid_client",
        "unauthorized_client",
        "invalid_scope",
        "unsupported_response_type",
        "admin_policy_enforced",
        "org_internal",
        "invalid_request",
    ];
    // The product's HTTP client: no redirects followed, the proxy and the CA bundle of the
    // person's settings, the body capped.
    let http = HttpClient::new(network.clone()).ok()?;
    let request = http::Request::get(url.as_str()).body(Vec::new()).ok()?;
    let response = http
        .send(request, PREFLIGHT_BODY_LIMIT, Duration::from_secs(10))
        .await
        .ok()?;
    let status = response.status();
    if !status.is_client_error() {
        return None;
    }
    let body = String::from_utf8_lossy(response.body());
    let error = KNOWN
        .iter()
        .find(|e| body.contains(*e))
        .map_or("authorization_refused", |e| e);
    Some((error.to_owned(), status.as_u16()))
}

/// An error page is a few KiB; a larger answer is not read (the lab goes on to the browser).
const PREFLIGHT_BODY_LIMIT: usize = 256 * 1024;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::desk::DRIVE_APPDATA_SCOPE;

    #[test]
    fn short_scopes_become_googles_urls() {
        let r = LabRequest {
            scopes: vec!["email drive.appdata".into(), "openid".into()],
            ..LabRequest::default()
        };
        assert_eq!(
            r.scopes(),
            ["email", DRIVE_APPDATA_SCOPE, "openid"],
            "identity scopes stay bare, others get Google's prefix"
        );
        assert!(
            LabRequest::default()
                .scopes()
                .contains(&DRIVE_APPDATA_SCOPE.to_owned()),
            "the default asks for drive.appdata, as the seed's app does"
        );
    }

    #[test]
    fn prompt_none_alone_only() {
        let r = LabRequest {
            prompt: vec![Prompt::None, Prompt::Consent],
            ..LabRequest::default()
        };
        let err = r.check().unwrap_err();
        assert_eq!(err.code, "bad_prompt");
        assert!(err.advice.contains("--prompt none alone"), "{}", err.advice);
    }

    #[test]
    fn parameters_carry_every_choice() {
        let r = LabRequest {
            access_type: AccessType::Offline,
            prompt: vec![Prompt::Consent, Prompt::SelectAccount],
            include_granted_scopes: true,
            login_hint: Some("ada@example.com".into()),
            hd: Some("example.com".into()),
            ..LabRequest::default()
        };
        let p = r.parameters("web.apps");
        let get = |name: &str| p.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str());
        assert_eq!(get("access_type"), Some("offline"));
        assert_eq!(get("prompt"), Some("consent select_account"));
        assert_eq!(get("include_granted_scopes"), Some("true"));
        assert_eq!(get("login_hint"), Some("ada@example.com"));
        assert_eq!(get("hd"), Some("example.com"));
        assert_eq!(get("client_id"), Some("web.apps"));
    }
}
