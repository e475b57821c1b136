//! Fault injection and request recording: every request to a Google endpoint is counted and
//! logged (secrets redacted), and may be delayed, answered with an error, or dropped on demand.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::Shared;
use crate::replies::{self, ApiErrorItem, Params};
use crate::server::DropConnection;
use crate::state::OAuthError;

/// The emulator's endpoints, as named in fault injection and request counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Endpoint {
    Discovery,
    Auth,
    Token,
    Revoke,
    Tokeninfo,
    Userinfo,
    Certs,
    Drive,
    /// In a fault: every endpoint above.
    #[serde(rename = "*")]
    All,
}

impl Endpoint {
    pub fn of_path(path: &str) -> Option<Self> {
        Some(match path {
            "/.well-known/openid-configuration" => Self::Discovery,
            "/o/oauth2/v2/auth" => Self::Auth,
            "/token" => Self::Token,
            "/revoke" => Self::Revoke,
            "/tokeninfo" => Self::Tokeninfo,
            "/v1/userinfo" | "/oauth2/v3/userinfo" => Self::Userinfo,
            "/oauth2/v3/certs" | "/oauth2/v1/certs" => Self::Certs,
            p if p.starts_with("/drive/") || p.starts_with("/upload/drive/") => Self::Drive,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Discovery => "discovery",
            Self::Auth => "auth",
            Self::Token => "token",
            Self::Revoke => "revoke",
            Self::Tokeninfo => "tokeninfo",
            Self::Userinfo => "userinfo",
            Self::Certs => "certs",
            Self::Drive => "drive",
            Self::All => "*",
        }
    }
}

/// What to do to the next `count` requests of an endpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Fault {
    pub endpoint: Endpoint,
    #[serde(default = "one")]
    pub count: u32,
    #[serde(default)]
    pub latency_ms: u64,
    /// Answer with this status and Google's error body for the endpoint.
    #[serde(default)]
    pub status: Option<u16>,
    /// Seconds, sent as `Retry-After` with `status`.
    #[serde(default)]
    pub retry_after: Option<u64>,
    /// Close the connection without any response.
    #[serde(default)]
    pub drop: bool,
}

fn one() -> u32 {
    1
}

impl Fault {
    pub fn new(endpoint: Endpoint) -> Self {
        Self {
            endpoint,
            count: 1,
            latency_ms: 0,
            status: None,
            retry_after: None,
            drop: false,
        }
    }
    pub fn times(mut self, count: u32) -> Self {
        self.count = count;
        self
    }
    pub fn latency(mut self, d: Duration) -> Self {
        self.latency_ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        self
    }
    pub fn status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }
    pub fn drop_connection(mut self) -> Self {
        self.drop = true;
        self
    }
}

/// Parameters whose values are secrets; the request log shows them as `[redacted]`.
const SECRET_PARAMS: &[&str] = &[
    "client_secret",
    "code",
    "refresh_token",
    "token",
    "code_verifier",
    "access_token",
    "id_token",
    "assertion",
];

const LOG_CAPACITY: usize = 2_000;

/// Forms read by the middleware (and the OAuth handlers) are capped at this size.
pub const FORM_LIMIT: usize = 64 * 1024;

#[derive(Debug, Default)]
struct Board {
    next_id: u64,
    faults: Vec<(u64, Fault)>,
    counts: HashMap<Endpoint, u64>,
    log: VecDeque<Value>,
}

#[derive(Debug, Default)]
pub struct FaultBoard(Mutex<Board>);

impl FaultBoard {
    fn board(&self) -> std::sync::MutexGuard<'_, Board> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn add(&self, fault: Fault) -> u64 {
        let mut b = self.board();
        b.next_id += 1;
        let id = b.next_id;
        b.faults.push((id, fault));
        id
    }

    pub fn clear(&self) {
        self.board().faults.clear();
    }

    pub fn count(&self, endpoint: Endpoint) -> u64 {
        let b = self.board();
        if endpoint == Endpoint::All {
            return b.counts.values().sum();
        }
        b.counts.get(&endpoint).copied().unwrap_or(0)
    }

    pub fn snapshot(&self) -> Value {
        let b = self.board();
        let counts: serde_json::Map<String, Value> = b
            .counts
            .iter()
            .map(|(e, n)| (e.name().to_owned(), json!(n)))
            .collect();
        json!({"counts": counts, "requests": b.log.iter().collect::<Vec<_>>()})
    }

    pub fn reset_log(&self) {
        let mut b = self.board();
        b.counts.clear();
        b.log.clear();
    }

    /// Counts and logs a request; returns the fault to apply to it, if any.
    fn record(&self, endpoint: Endpoint, entry: Value) -> Option<Fault> {
        let mut b = self.board();
        *b.counts.entry(endpoint).or_default() += 1;
        if b.log.len() == LOG_CAPACITY {
            b.log.pop_front();
        }
        b.log.push_back(entry);
        let idx = b.faults.iter().position(|(_, f)| {
            f.count > 0 && (f.endpoint == endpoint || f.endpoint == Endpoint::All)
        })?;
        let fault = b.faults[idx].1.clone();
        b.faults[idx].1.count -= 1;
        if b.faults[idx].1.count == 0 {
            b.faults.remove(idx);
        }
        Some(fault)
    }
}

fn redacted(params: &Params) -> Value {
    let map: serde_json::Map<String, Value> = params
        .iter()
        .map(|(k, vs)| {
            let v = if SECRET_PARAMS.contains(&k.as_str()) {
                json!("[redacted]")
            } else if vs.len() == 1 {
                json!(vs[0])
            } else {
                json!(vs)
            };
            (k.clone(), v)
        })
        .collect();
    Value::Object(map)
}

pub async fn middleware(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(endpoint) = Endpoint::of_path(request.uri().path()) else {
        return next.run(request).await;
    };
    let mut params = Params::parse(request.uri().query().unwrap_or_default().as_bytes());
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let (parts, body) = request.into_parts();
    let body = if is_form {
        match replies::read_body(body, FORM_LIMIT).await {
            Ok(bytes) => {
                params.merge(Params::parse(&bytes));
                Body::from(bytes)
            }
            Err(e) => return replies::oauth_error(&e.as_oauth()),
        }
    } else {
        body
    };
    let entry = json!({
        "endpoint": endpoint.name(),
        "method": parts.method.as_str(),
        "path": parts.uri.path(),
        "params": redacted(&params),
        "basic_auth": parts.headers.get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("Basic ")),
    });
    let request = Request::from_parts(parts, body);
    let Some(fault) = shared.faults.record(endpoint, entry) else {
        return next.run(request).await;
    };
    if fault.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(fault.latency_ms)).await;
    }
    if fault.drop {
        let mut response = StatusCode::INTERNAL_SERVER_ERROR.into_response();
        response.extensions_mut().insert(DropConnection);
        return response;
    }
    match fault.status {
        Some(status) => {
            let mut response = error_for(endpoint, status);
            if let Some(secs) = fault.retry_after {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            response
        }
        None => next.run(request).await,
    }
}

/// The body Google sends for `status` on this kind of endpoint.
fn error_for(endpoint: Endpoint, status: u16) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match endpoint {
        Endpoint::Drive => {
            let (domain, reason, message) = match status {
                429 => ("usageLimits", "rateLimitExceeded", "Rate Limit Exceeded"),
                403 => (
                    "usageLimits",
                    "userRateLimitExceeded",
                    "User rate limit exceeded.",
                ),
                401 => ("global", "authError", "Invalid Credentials"),
                503 => ("global", "backendError", "Backend Error"),
                s if s >= 500 => ("global", "internalError", "Internal Error"),
                _ => ("global", "badRequest", "Bad Request"),
            };
            replies::api_error(
                code,
                message,
                ApiErrorItem {
                    domain,
                    reason,
                    message,
                    location: None,
                },
            )
        }
        Endpoint::Certs | Endpoint::Discovery | Endpoint::Auth => replies::html_error(
            code,
            "The server encountered a temporary error and could not complete your request.",
        ),
        _ => {
            let (error, description) = match status {
                429 => ("rate_limit_exceeded", "Rate Limit Exceeded"),
                503 => (
                    "temporarily_unavailable",
                    "The service is currently unavailable.",
                ),
                s if s >= 500 => ("internal_failure", "Backend Error"),
                401 => ("invalid_client", "Unauthorized"),
                _ => ("invalid_request", "Bad Request"),
            };
            replies::oauth_error(&OAuthError::new(code.as_u16(), error, description))
        }
    }
}
