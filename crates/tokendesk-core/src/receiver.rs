//! The seed's "receive authCode via HTTPS POST" endpoint: `POST /auth/code` takes a mobile app's
//! serverAuthCode, hands it to a [`CodeSink`] (the facade), and answers with the profile only.
//!
//! The contract (DESIGN.md, SECURITY.md §A.17–24): `X-Requested-With` required (403), Host
//! must name the bound address (403, DNS rebinding), JSON or form bodies only (415), 4 KiB at
//! most (413), a code at most once (409), no CORS, loopback unless TLS and an explicit opt-in.

// Handlers return `Result<_, Response>` so an early refusal is already the answer.
#![allow(clippy::result_large_err)]

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http_body_util::BodyExt as _;
use serde::Serialize;
use serde_json::json;

use crate::secret::AuthCode;

/// The most a code POST may carry. Codes are ~100 bytes; 4 KiB leaves room for a JSON wrapper.
pub const MAX_BODY: usize = 4 * 1024;
pub use crate::listener::{ListenError as ReceiverError, READ_TIMEOUT, TlsFiles};

/// The profile a successful POST answers the app with: the profile only, no grant state (that
/// is the console's business, not the app's), never tokens.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ReceivedUser {
    pub sub: String,
    pub email: Option<String>,
    pub email_verified: Option<bool>,
    pub name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub picture: Option<String>,
    pub locale: Option<String>,
    pub hd: Option<String>,
}

/// Why the sink could not turn a code into a stored user.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum RedeemError {
    /// The code was seen before (by this receiver or the store).
    #[error("this code was already exchanged")]
    Replay,
    /// Google refused the code (`invalid_grant`, `redirect_uri_mismatch`, ...).
    #[error("{code}: {message}")]
    Rejected { code: String, message: String },
    /// Google was unreachable or failed, or the outcome is unknown.
    #[error("{code}: {message}")]
    Upstream { code: String, message: String },
    /// Google answered, and the answer is kept, but the ID token cannot be verified yet (the
    /// provider's keys are unreachable): the sign-in finishes later; the app may retry.
    #[error("{message}")]
    Deferred { message: String },
    /// TokenDesk itself failed (keyring, SQLite); the tokens were kept recoverable.
    #[error("{code}: {message}")]
    Internal { code: String, message: String },
}

pub type RedeemFuture<'a> =
    Pin<Box<dyn Future<Output = Result<ReceivedUser, RedeemError>> + Send + 'a>>;

/// What redeems a received code: the facade's exchange-verify-store.
pub trait CodeSink: Send + Sync + 'static {
    fn redeem(&self, code: AuthCode) -> RedeemFuture<'_>;
}

#[derive(Debug, Clone)]
pub struct ReceiverConfig {
    pub listen: SocketAddr,
    pub tls: Option<TlsFiles>,
    /// Required, with TLS, to listen on anything but loopback.
    pub allow_non_loopback: bool,
    /// Public host names accepted in `Host` (with the bound port, the scheme's default port, or
    /// no port: a reverse proxy's), for a non-loopback deployment (`--allowed-host`).
    pub allowed_hosts: Vec<String>,
}

impl Default for ReceiverConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8400)),
            tls: None,
            allow_non_loopback: false,
            allowed_hosts: Vec::new(),
        }
    }
}

/// What the receiver saw, for a live view (the desktop app's Receiver page). No codes.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ReceiverEvent {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub at_unix: i64,
    pub peer: String,
    pub status: u16,
    /// `ok`, or the error code answered.
    pub outcome: String,
    pub sub: Option<String>,
    pub email: Option<String>,
}

struct Shared {
    sink: Arc<dyn CodeSink>,
    bound: SocketAddr,
    /// Whether it serves TLS: the scheme's default port is 443, else 80.
    tls: bool,
    allowed_hosts: Vec<String>,
    events: tokio::sync::broadcast::Sender<ReceiverEvent>,
}

/// A running receiver; dropping it stops it.
#[derive(Debug)]
pub struct Receiver {
    serving: crate::listener::Serving,
    events: tokio::sync::broadcast::Sender<ReceiverEvent>,
}

impl Receiver {
    pub fn addr(&self) -> SocketAddr {
        self.serving.addr()
    }

    /// `http(s)://ADDR/auth/code`.
    pub fn url(&self) -> String {
        format!("{}/auth/code", self.serving.origin())
    }

    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<ReceiverEvent> {
        self.events.subscribe()
    }

    pub fn stop(&self) {
        self.serving.stop();
    }
}

/// Binds and starts serving on the current tokio runtime.
pub async fn start(
    config: ReceiverConfig,
    sink: Arc<dyn CodeSink>,
) -> Result<Receiver, ReceiverError> {
    let bound = crate::listener::bind(&crate::listener::ListenConfig {
        listen: config.listen,
        tls: config.tls.clone(),
        allow_non_loopback: config.allow_non_loopback,
        what: "codes",
    })
    .await?;
    let addr = bound.addr();
    let (events, _) = tokio::sync::broadcast::channel(256);
    let shared = Arc::new(Shared {
        sink,
        bound: addr,
        tls: bound.is_tls(),
        allowed_hosts: config.allowed_hosts.clone(),
        events: events.clone(),
    });
    let is_tls = bound.is_tls();
    let serving = bound.serve(router(shared));
    tracing::info!(%addr, tls = is_tls, "receiver listening");
    Ok(Receiver { serving, events })
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/auth/code", post(receive))
        .route("/healthz", get(healthz))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(shared)
}

/// Serves one connection's raw bytes as a receiver bound at `bound` would over TCP, and
/// returns what it wrote back. For the cargo-fuzz target `receiver` (`fuzz/`): it drives the
/// whole parser, hyper's HTTP/1 included, with no socket in the way. `close_write` ends the
/// client's side after the bytes (the server then closes without answering, as it does on
/// TCP); without it the request must ask for `Connection: close` or this waits for the idle
/// timeout.
#[cfg(feature = "fuzzing")]
pub async fn serve_bytes(
    bound: SocketAddr,
    sink: Arc<dyn CodeSink>,
    request: &[u8],
    close_write: bool,
) -> Vec<u8> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let (events, _) = tokio::sync::broadcast::channel(16);
    let shared = Arc::new(Shared {
        sink,
        bound,
        tls: false,
        allowed_hosts: Vec::new(),
        events,
    });
    let (mut client, server) = tokio::io::duplex(64 * 1024);
    let peer = SocketAddr::from(([127, 0, 0, 1], 40_000));
    let serving = tokio::spawn(crate::listener::serve_connection(
        server,
        router(shared),
        peer,
    ));
    // The server may stop reading (a refused request): a failed write is an answer too.
    let _ = client.write_all(request).await;
    if close_write {
        let _ = client.shutdown().await;
    }
    let mut out = Vec::new();
    let _ = client.read_to_end(&mut out).await;
    let _ = serving.await;
    out
}

fn reply(status: StatusCode, error: &str, description: &str) -> Response {
    let mut r = (
        status,
        json!({"error": error, "error_description": description}).to_string(),
    )
        .into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

async fn healthz() -> Response {
    let mut r = (StatusCode::OK, "{\"status\":\"ok\"}").into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

async fn not_found() -> Response {
    reply(
        StatusCode::NOT_FOUND,
        "not_found",
        "POST the code to /auth/code",
    )
}

/// Also what a CORS preflight (`OPTIONS`) gets: no `Access-Control-Allow-*` headers at all.
async fn method_not_allowed() -> Response {
    reply(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "POST the code to /auth/code",
    )
}

fn host_allowed(shared: &Shared, headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let port = shared.bound.port();
    let mut names: Vec<String> = vec![match shared.bound {
        SocketAddr::V4(a) => format!("{}:{port}", a.ip()),
        SocketAddr::V6(a) => format!("[{}]:{port}", a.ip()),
    }];
    if shared.bound.ip().is_loopback() {
        names.push(format!("localhost:{port}"));
        names.push(format!("127.0.0.1:{port}"));
        names.push(format!("[::1]:{port}"));
    }
    // A public name, as the app or a reverse proxy sends it: with the bound port, with the
    // scheme's default port, or without a port (which means the default).
    let default_port = if shared.tls { 443 } else { 80 };
    for h in &shared.allowed_hosts {
        names.push(format!("{h}:{port}"));
        names.push(format!("{h}:{default_port}"));
        names.push(h.clone());
    }
    names.iter().any(|n| n.eq_ignore_ascii_case(host))
}

enum BodyKind {
    Json,
    Form,
}

fn body_kind(headers: &HeaderMap) -> Option<BodyKind> {
    let ct = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let mime = ct.split(';').next()?.trim().to_ascii_lowercase();
    match mime.as_str() {
        "application/json" => Some(BodyKind::Json),
        // Google's Android sample posts a form; the X-Requested-With requirement is what
        // keeps browsers from sending it cross-site without a (refused) preflight.
        "application/x-www-form-urlencoded" => Some(BodyKind::Form),
        _ => None,
    }
}

fn extract_code(kind: &BodyKind, body: &[u8]) -> Result<String, Response> {
    let bad = |m: &str| reply(StatusCode::BAD_REQUEST, "invalid_request", m);
    let code = match kind {
        BodyKind::Json => {
            let value: serde_json::Value = serde_json::from_slice(body)
                .map_err(|_| bad("the body is not valid JSON; send {\"code\": \"...\"}"))?;
            value
                .get("code")
                .or_else(|| value.get("authCode"))
                .and_then(|c| c.as_str())
                .map(str::to_owned)
        }
        BodyKind::Form => {
            let mut found = None;
            for (k, v) in form_urlencoded::parse(body) {
                if k == "code" || k == "authCode" {
                    if found.is_some() {
                        return Err(bad("send the code once"));
                    }
                    found = Some(v.into_owned());
                }
            }
            found
        }
    };
    match code.map(|c| c.trim().to_owned()) {
        Some(c) if !c.is_empty() => Ok(c),
        _ => Err(bad(
            "no code in the body; send {\"code\": \"<serverAuthCode>\"}",
        )),
    }
}

async fn receive(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (response, user) = receive_inner(&shared, &headers, body).await;
    let outcome = if response.status() == StatusCode::OK {
        "ok".to_owned()
    } else {
        outcome_code(&response)
    };
    let _ = shared.events.send(ReceiverEvent {
        at_unix: chrono::Utc::now().timestamp(),
        peer: peer.to_string(),
        status: response.status().as_u16(),
        outcome,
        sub: user.as_ref().map(|u| u.sub.clone()),
        email: user.and_then(|u| u.email),
    });
    response
}

fn outcome_code(response: &Response) -> String {
    response
        .extensions()
        .get::<ErrorCode>()
        .map_or_else(|| response.status().as_u16().to_string(), |c| c.0.clone())
}

#[derive(Clone)]
struct ErrorCode(String);

fn tagged(status: StatusCode, code: &str, message: &str) -> Response {
    let mut r = reply(status, code, message);
    r.extensions_mut().insert(ErrorCode(code.to_owned()));
    r
}

async fn receive_inner(
    shared: &Shared,
    headers: &HeaderMap,
    body: Body,
) -> (Response, Option<ReceivedUser>) {
    if !host_allowed(shared, headers) {
        return (
            tagged(
                StatusCode::FORBIDDEN,
                "forbidden_host",
                "the Host header does not name this receiver",
            ),
            None,
        );
    }
    if headers.get("x-requested-with").is_none() {
        // The seed's CSRF check: without it the request could be forged by a web page.
        return (
            tagged(
                StatusCode::FORBIDDEN,
                "missing_x_requested_with",
                "send the X-Requested-With header, as Google's sample app does",
            ),
            None,
        );
    }
    let Some(kind) = body_kind(headers) else {
        return (
            tagged(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send application/json ({\"code\": \"...\"}) or application/x-www-form-urlencoded (code=...)",
            ),
            None,
        );
    };
    let read = tokio::time::timeout(
        READ_TIMEOUT,
        http_body_util::Limited::new(body, MAX_BODY).collect(),
    )
    .await;
    let bytes = match read {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(err)) if err.is::<http_body_util::LengthLimitError>() => {
            return (
                tagged(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "body_too_large",
                    "the body is over 4 KiB",
                ),
                None,
            );
        }
        Ok(Err(_)) => {
            return (
                tagged(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "the body could not be read",
                ),
                None,
            );
        }
        Err(_) => {
            return (
                tagged(
                    StatusCode::REQUEST_TIMEOUT,
                    "timeout",
                    "the body took too long",
                ),
                None,
            );
        }
    };
    let code = match extract_code(&kind, &bytes) {
        Ok(c) => c,
        Err(r) => return (r, None),
    };
    // Replays, and two POSTs of one code at once, are the store's to refuse: its claim is
    // the one place a code is recorded, shared by every process and replica.
    let result = shared.sink.redeem(AuthCode::new(code)).await;
    match result {
        Ok(user) => {
            let mut r = (StatusCode::OK, json!(user).to_string()).into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            (r, Some(user))
        }
        Err(RedeemError::Replay) => (
            tagged(
                StatusCode::CONFLICT,
                "already_exchanged",
                "this code was exchanged already",
            ),
            None,
        ),
        Err(RedeemError::Rejected { code, message }) => {
            (tagged(StatusCode::BAD_REQUEST, &code, &message), None)
        }
        Err(RedeemError::Upstream { code, message }) => {
            (tagged(StatusCode::BAD_GATEWAY, &code, &message), None)
        }
        Err(RedeemError::Deferred { message }) => {
            let mut r = tagged(
                StatusCode::SERVICE_UNAVAILABLE,
                "verification_deferred",
                &message,
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
            (r, None)
        }
        Err(RedeemError::Internal { code, message }) => (
            tagged(StatusCode::INTERNAL_SERVER_ERROR, &code, &message),
            None,
        ),
    }
}
