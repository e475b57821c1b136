//! The one HTTP client of every outbound call (no redirects, timeouts, capped bodies, rustls),
//! its adapter for the `oauth2` crate, and the masked record of each exchange for display.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use http::header::{self, HeaderMap, HeaderName};
use serde::Serialize;
use serde_json::Value;

use super::network::{ProxySetting, Route, through_proxy};
use super::retry::{RetryPolicy, Timer, TokioTimer, parse_retry_after};
use crate::secret::{MASKED, is_secret_name};

/// Token-endpoint, revocation and tokeninfo answers are a few KiB; 64 KiB is generous, and a
/// hostile or broken server can't make us buffer more (SECURITY A.28).
pub const OAUTH_BODY_LIMIT: usize = 64 * 1024;
/// A Drive listing of 1000 files with a few fields is a few hundred KiB.
pub const API_BODY_LIMIT: usize = 8 * 1024 * 1024;

/// How outbound HTTP behaves. The defaults suit Google; tests shrink the times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// Time to establish a connection (TCP and TLS). reqwest has no default (A.31).
    pub connect_timeout: Duration,
    /// Time for a whole request, body included.
    pub timeout: Duration,
    /// Cap on OAuth endpoint response bodies.
    pub oauth_body_limit: usize,
    /// Cap on Google API (Drive) response bodies.
    pub api_body_limit: usize,
    /// Retries of idempotent calls.
    pub retry: RetryPolicy,
    /// The proxy every call goes through: the environment's by default.
    pub proxy: ProxySetting,
    /// PEM certificates trusted beside the system's roots (an organization's CA).
    pub ca_bundle: Option<std::path::PathBuf>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(30),
            oauth_body_limit: OAUTH_BODY_LIMIT,
            api_body_limit: API_BODY_LIMIT,
            retry: RetryPolicy::default(),
            proxy: ProxySetting::System,
            ca_bundle: None,
        }
    }
}

/// Why an HTTP request produced no usable response. Messages carry the host, never the URL
/// (a query could hold a token) and never a body.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// Nothing was sent: the connection could not be made.
    #[error("could not connect to {host}: {detail}")]
    Connect { host: String, detail: String },
    /// The request may have reached the server; no complete answer came in time.
    #[error("{host} did not answer within {after:?}")]
    Timeout { host: String, after: Duration },
    /// The request may have reached the server; the connection broke before a full answer.
    #[error("the connection to {host} broke before a complete response arrived: {detail}")]
    ConnectionLost { host: String, detail: String },
    #[error("the response from {host} is larger than {limit} bytes; reading stopped there")]
    BodyTooLarge { host: String, limit: usize },
    #[error("the request could not be built: {0}")]
    InvalidRequest(String),
    #[error("the HTTP client could not be set up: {0}")]
    Setup(String),
}

impl HttpError {
    /// True when nothing reached the server, so even a non-idempotent call may be resent.
    pub fn nothing_sent(&self) -> bool {
        matches!(self, Self::Connect { .. } | Self::InvalidRequest(_))
    }
}

/// TokenDesk's HTTP client: cheap to clone (the connection pool is shared).
#[derive(Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    config: Arc<HttpConfig>,
    timer: Arc<dyn Timer>,
    /// Which proxy each URL goes through, to name it when connecting fails.
    route: Arc<Route>,
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient")
            .field("config", &self.config)
            .field("timer", &self.timer)
            .finish_non_exhaustive()
    }
}

impl HttpClient {
    /// Builds the client: rustls, no redirects (oauth2's UPGRADE.md: a redirect from a token
    /// endpoint is an SSRF vector), connect and total timeouts, no cookies, no decompression;
    /// the proxy and extra CAs of `config` (see [`super::network`]).
    pub fn new(config: HttpConfig) -> Result<Self, HttpError> {
        let builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(config.connect_timeout)
            .timeout(config.timeout)
            .user_agent(concat!("TokenDesk/", env!("CARGO_PKG_VERSION")));
        let (builder, route) =
            super::network::configure(builder, &config.proxy, config.ca_bundle.as_deref())?;
        let client = builder
            .build()
            .map_err(|err| HttpError::Setup(error_detail(&err)))?;
        Ok(Self {
            client,
            config: Arc::new(config),
            timer: Arc::new(TokioTimer::default()),
            route: Arc::new(route),
        })
    }

    /// The same client with another timer (tests: [`super::RecordingTimer`]).
    pub fn with_timer(mut self, timer: Arc<dyn Timer>) -> Self {
        self.timer = timer;
        self
    }

    pub fn config(&self) -> &HttpConfig {
        &self.config
    }

    pub fn timer(&self) -> &dyn Timer {
        self.timer.as_ref()
    }

    /// An `oauth2` crate HTTP client over this one, for one request with this timeout.
    pub fn oauth2(&self, timeout: Duration) -> OAuth2Http<'_> {
        OAuth2Http {
            http: self,
            timeout,
            last: Mutex::new(None),
        }
    }

    /// Sends one request and reads at most `limit` bytes of the answer, recording a masked
    /// copy when recording. No retries here: callers decide what is safe to resend.
    pub(crate) async fn send(
        &self,
        request: http::Request<Vec<u8>>,
        limit: usize,
        timeout: Duration,
    ) -> Result<http::Response<Vec<u8>>, HttpError> {
        let log = RECORDING.try_with(RawLog::clone).ok();
        let mut record = log.as_ref().map(|_| RawExchange::of(&request));
        // Drive's `alt=media`: the answer is a file's content.
        let media = request
            .uri()
            .query()
            .is_some_and(|q| q.split('&').any(|p| p == "alt=media"));
        let started = Instant::now();
        let result = self.send_unrecorded(request, limit, timeout).await;
        if let (Some(log), Some(mut raw)) = (log, record.take()) {
            raw.elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            match &result {
                Ok(response) => {
                    let mut shown = RawResponse::of(response);
                    if media && response.status().is_success() {
                        // A user's file is theirs: its size, never its content.
                        shown.body = RawBody::FileContent {
                            bytes: response.body().len(),
                        };
                    }
                    raw.response = Some(shown);
                }
                Err(err) => raw.error = Some(err.to_string()),
            }
            log.push(raw);
        }
        result
    }

    async fn send_unrecorded(
        &self,
        request: http::Request<Vec<u8>>,
        limit: usize,
        timeout: Duration,
    ) -> Result<http::Response<Vec<u8>>, HttpError> {
        let host = request
            .uri()
            .authority()
            .map_or_else(String::new, ToString::to_string);
        let proxy = self.route.proxy_for(request.uri());
        let classify = |err: &reqwest::Error| classify(err, &host, timeout, proxy.as_deref());
        let mut outgoing = reqwest::Request::try_from(request)
            .map_err(|err| HttpError::InvalidRequest(error_detail(&err)))?;
        *outgoing.timeout_mut() = Some(timeout);
        let mut response = self
            .client
            .execute(outgoing)
            .await
            .map_err(|err| classify(&err))?;
        let too_large = || HttpError::BodyTooLarge {
            host: host.clone(),
            limit,
        };
        // A declared length over the cap is refused before reading a byte of it.
        if response
            .content_length()
            .is_some_and(|len| len > u64::try_from(limit).unwrap_or(u64::MAX))
        {
            return Err(too_large());
        }
        let mut body = Vec::new();
        // Streamed, so an endless or lying body stops at the cap; dropping the response then
        // closes the connection instead of draining it.
        while let Some(chunk) = response.chunk().await.map_err(|err| classify(&err))? {
            if body.len() + chunk.len() > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        let mut builder = http::Response::builder()
            .status(response.status())
            .version(response.version());
        if let Some(headers) = builder.headers_mut() {
            *headers = response.headers().clone();
        }
        builder
            .body(body)
            .map_err(|err| HttpError::InvalidRequest(err.to_string()))
    }
}

/// Sorts a reqwest failure by what it means for resending; a connection that went to a proxy
/// names the proxy.
fn classify(err: &reqwest::Error, host: &str, timeout: Duration, proxy: Option<&str>) -> HttpError {
    let host = host.to_owned();
    if err.is_connect() {
        // Checked before timeouts: a connect timeout also sent nothing.
        let mut detail = error_detail(err);
        let lower = detail.to_ascii_lowercase();
        let untrusted = lower.contains("certificate") || lower.contains("unknownissuer");
        if untrusted {
            detail.push_str(
                ". If your organization's CA (or a TLS-inspecting proxy's) signed it, trust that \
                 CA with --ca-bundle FILE, TOKENDESK_CA_BUNDLE or the window's Settings; \
                 verification is never turned off",
            );
        }
        let detail = match proxy {
            Some(proxy) if untrusted => format!("{detail} (through the proxy {proxy})"),
            Some(proxy) => through_proxy(proxy, &host, &detail),
            None => detail,
        };
        HttpError::Connect { host, detail }
    } else if err.is_timeout() {
        HttpError::Timeout {
            host,
            after: timeout,
        }
    } else if err.is_builder() {
        HttpError::InvalidRequest(error_detail(err))
    } else {
        HttpError::ConnectionLost {
            host,
            detail: error_detail(err),
        }
    }
}

/// The error and its causes on one line, without the URL (its query might hold a token).
fn error_detail(err: &reqwest::Error) -> String {
    let top = format!("{err}");
    let top = match err.url() {
        Some(url) => top.replace(&format!(" for url ({url})"), ""),
        None => top,
    };
    let mut out = top;
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    out
}

/// What the adapter saw of the last response: the status and headers oauth2 drops from its
/// errors, which the retry decisions need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseMeta {
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub content_type: Option<String>,
}

/// [`HttpClient`] as an `oauth2` 5.x async HTTP client (oauth2's own reqwest feature pins
/// reqwest 0.12 and reads bodies without a limit).
pub struct OAuth2Http<'a> {
    http: &'a HttpClient,
    timeout: Duration,
    last: Mutex<Option<ResponseMeta>>,
}

impl fmt::Debug for OAuth2Http<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuth2Http")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl OAuth2Http<'_> {
    /// Status and headers of the last response received, if any.
    pub fn last_response(&self) -> Option<ResponseMeta> {
        self.last
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl<'c> oauth2::AsyncHttpClient<'c> for OAuth2Http<'_> {
    type Error = HttpError;
    type Future =
        Pin<Box<dyn Future<Output = Result<oauth2::HttpResponse, Self::Error>> + Send + 'c>>;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(async move {
            let limit = self.http.config.oauth_body_limit;
            let response = self.http.send(request, limit, self.timeout).await?;
            let meta = ResponseMeta {
                status: response.status().as_u16(),
                retry_after: retry_after(response.headers(), self.http.timer()),
                content_type: header_str(response.headers(), &header::CONTENT_TYPE),
            };
            *self.last.lock().unwrap_or_else(PoisonError::into_inner) = Some(meta);
            Ok(response)
        })
    }
}

pub(crate) fn retry_after(headers: &HeaderMap, timer: &dyn Timer) -> Option<Duration> {
    let value = headers.get(header::RETRY_AFTER)?.to_str().ok()?;
    parse_retry_after(value, timer.system_now())
}

pub(crate) fn header_str(headers: &HeaderMap, name: &HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

// ---------------------------------------------------------------------------------------------
// The raw exchange, secrets masked.

const REQUEST_HEADERS: &[HeaderName] =
    &[header::CONTENT_TYPE, header::ACCEPT, header::AUTHORIZATION];
const RESPONSE_HEADERS: &[HeaderName] = &[
    header::CONTENT_TYPE,
    header::CONTENT_LENGTH,
    header::CACHE_CONTROL,
    header::RETRY_AFTER,
    header::WWW_AUTHENTICATE,
    header::LOCATION,
];

/// A secret as the raw view shows it: [`MASKED`], no character of it; an empty value stays
/// visibly empty.
pub fn mask_secret(value: &str) -> String {
    if value.is_empty() {
        String::new()
    } else {
        MASKED.to_owned()
    }
}

/// One header or parameter of the raw view.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct RawField {
    pub name: String,
    pub value: String,
}

/// One request and its response as a person may see them: secrets masked, bodies only when
/// they are JSON (masked) or form parameters (masked).
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawExchange {
    pub method: String,
    /// The URL with secret query parameters masked.
    pub url: String,
    pub request_headers: Vec<RawField>,
    /// Form parameters of the request body, secrets masked.
    pub form: Vec<RawField>,
    pub response: Option<RawResponse>,
    /// Why no response was read (timeout, dropped connection, body over the cap).
    pub error: Option<String>,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub elapsed_ms: u64,
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<RawField>,
    pub body: RawBody,
}

/// A response body as shown: JSON with secrets masked, or only its size (an HTML page or
/// other text is not reproduced: it might echo what was sent).
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum RawBody {
    Empty,
    Json {
        value: Value,
    },
    NotJson {
        bytes: usize,
    },
    /// JSON over [`RAW_JSON_LIMIT`] (a long Drive listing): kept out of the per-user log.
    TooLarge {
        bytes: usize,
    },
    /// A downloaded file's content (Drive's `alt=media`): only its size is shown or kept.
    FileContent {
        bytes: usize,
    },
}

/// The largest JSON body the raw view keeps: every answer of the token, revocation and
/// tokeninfo endpoints fits; a Drive listing of a few hundred files does not.
pub const RAW_JSON_LIMIT: usize = 32 * 1024;

impl RawExchange {
    fn of(request: &http::Request<Vec<u8>>) -> Self {
        let is_form = header_str(request.headers(), &header::CONTENT_TYPE)
            .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
        let form = if is_form {
            url::form_urlencoded::parse(request.body())
                .map(|(name, value)| masked_param(&name, &value))
                .collect()
        } else {
            Vec::new()
        };
        Self {
            method: request.method().to_string(),
            url: masked_url(&request.uri().to_string()),
            request_headers: selected_headers(request.headers(), REQUEST_HEADERS),
            form,
            response: None,
            error: None,
            elapsed_ms: 0,
        }
    }
}

impl RawResponse {
    fn of(response: &http::Response<Vec<u8>>) -> Self {
        let body = response.body();
        let body = if body.is_empty() {
            RawBody::Empty
        } else if body.len() > RAW_JSON_LIMIT {
            RawBody::TooLarge { bytes: body.len() }
        } else {
            match serde_json::from_slice::<Value>(body) {
                Ok(mut value) => {
                    mask_json(&mut value);
                    RawBody::Json { value }
                }
                Err(_) => RawBody::NotJson { bytes: body.len() },
            }
        };
        Self {
            status: response.status().as_u16(),
            headers: selected_headers(response.headers(), RESPONSE_HEADERS),
            body,
        }
    }
}

fn masked_param(name: &str, value: &str) -> RawField {
    let value = if is_secret_name(name) {
        mask_secret(value)
    } else {
        value.to_owned()
    };
    RawField {
        name: name.to_owned(),
        value,
    }
}

fn masked_url(raw: &str) -> String {
    let Ok(mut url) = url::Url::parse(raw) else {
        // Unparsable: show no query at all rather than risk an unmasked one.
        return raw.split('?').next().unwrap_or_default().to_owned();
    };
    if url.query().is_some() {
        let pairs: Vec<RawField> = url
            .query_pairs()
            .map(|(name, value)| masked_param(&name, &value))
            .collect();
        url.query_pairs_mut()
            .clear()
            .extend_pairs(pairs.iter().map(|p| (&p.name, &p.value)));
    }
    url.to_string()
}

fn selected_headers(headers: &HeaderMap, names: &[HeaderName]) -> Vec<RawField> {
    let mut out = Vec::new();
    for name in names {
        for value in headers.get_all(name) {
            let value = value.to_str().unwrap_or("[not text]");
            let value = if *name == header::AUTHORIZATION {
                match value.split_once(' ') {
                    Some((scheme, credentials)) => format!("{scheme} {}", mask_secret(credentials)),
                    None => mask_secret(value),
                }
            } else {
                value.to_owned()
            };
            out.push(RawField {
                name: name.as_str().to_owned(),
                value,
            });
        }
    }
    out
}

fn mask_json(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map.iter_mut() {
                if is_secret_name(key) {
                    // Secrets are strings; a number under such a key (Drive's error `code`)
                    // is not one. Anything nested under it is masked whole.
                    match inner {
                        Value::String(s) => *s = mask_secret(s),
                        Value::Array(_) | Value::Object(_) => {
                            *inner = Value::String(MASKED.to_owned());
                        }
                        _ => {}
                    }
                } else {
                    mask_json(inner);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask_json),
        _ => {}
    }
}

tokio::task_local! {
    /// The log of the operation this task is running (see [`RawLog::record`]).
    static RECORDING: RawLog;
}

/// Where recorded exchanges go: shared, bounded, taken by whoever shows them.
#[derive(Debug, Clone, Default)]
pub struct RawLog(Arc<Mutex<Vec<RawExchange>>>);

impl RawLog {
    /// A long Drive listing must not grow the log without bound; the newest entries matter.
    const CAPACITY: usize = 200;

    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `work` with every exchange of every [`HttpClient`] it uses (the token endpoint,
    /// the keys, tokeninfo, Drive, revocation) also recorded here, masked: what one operation
    /// sent and received, whichever client and helper made the call. A scope inside another
    /// records into its own log only.
    pub async fn record<F: Future>(&self, work: F) -> F::Output {
        RECORDING.scope(self.clone(), work).await
    }

    /// A copy of what has been recorded.
    pub fn entries(&self) -> Vec<RawExchange> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Everything recorded so far, leaving the log empty.
    pub fn take(&self) -> Vec<RawExchange> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn push(&self, exchange: RawExchange) {
        let mut entries = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= Self::CAPACITY {
            entries.remove(0);
        }
        entries.push(exchange);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn oauth_mask_keeps_no_character_of_a_secret() {
        assert_eq!(
            mask_secret(concat!("ya29.", "a0AfH6SMBxxxxxxxxxxxxxxxx")),
            MASKED,
            "not even a prefix: a code's first characters identify it in a log"
        );
        assert_eq!(mask_secret("short-secret"), MASKED);
        assert_eq!(mask_secret(""), "", "an empty value stays visibly empty");
    }

    #[test]
    fn oauth_raw_request_masks_secret_form_parameters() {
        let body = concat!(
            "grant_type=authorization_code&code=4%2F0AeaYSHcanarycodecanarycode",
            "&client_id=web.apps&client_secret=GOCSPX-",
            "canarysecretvalue&redirect_uri="
        );
        let request = http::Request::builder()
            .method("POST")
            .uri("https://oauth2.googleapis.com/token")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.as_bytes().to_vec())
            .unwrap();
        let raw = RawExchange::of(&request);
        let text = serde_json::to_string(&raw).unwrap();
        assert!(!text.contains("canary"), "no secret survives: {text}");
        let value = |name: &str| {
            raw.form
                .iter()
                .find(|f| f.name == name)
                .map(|f| f.value.clone())
        };
        assert_eq!(
            value("code").as_deref(),
            Some(MASKED),
            "not even its first characters"
        );
        assert_eq!(value("client_id").as_deref(), Some("web.apps"));
        assert_eq!(
            value("redirect_uri").as_deref(),
            Some(""),
            "an empty redirect_uri is shown as sent"
        );
    }

    #[test]
    fn oauth_raw_url_masks_secret_query_parameters() {
        let url = masked_url(
            "https://oauth2.googleapis.com/tokeninfo?access_token=ya29.canarycanarycanary&x=1",
        );
        assert!(!url.contains("canary"), "{url}");
        assert!(url.contains("x=1"));
    }

    #[test]
    fn oauth_raw_response_masks_tokens_in_json() {
        let body = json!({
            "access_token": concat!("ya29.", "a-canarycanarycanary"),
            "refresh_token": concat!("1//0", "ab-canarycanarycanary"),
            "id_token": "eyJhbGciOiJSUzI1NiJ9.canary.canary",
            "expires_in": 3599,
            "nested": [{"token": "tok123-canarycanarycanary"}],
        });
        let response = http::Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .header("set-cookie", "canary=1")
            .body(body.to_string().into_bytes())
            .unwrap();
        let raw = RawResponse::of(&response);
        let text = serde_json::to_string(&raw).unwrap();
        assert!(!text.contains("canary"), "{text}");
        assert!(!text.contains("ya29"), "no prefix either: {text}");
        assert!(text.contains(MASKED), "a masked token is visibly there");
        assert!(text.contains("3599"), "non-secret fields stay");
    }

    #[test]
    fn oauth_raw_response_does_not_reproduce_html() {
        let response = http::Response::builder()
            .status(502)
            .body(b"<html>canary</html>".to_vec())
            .unwrap();
        let raw = RawResponse::of(&response);
        assert_eq!(raw.body, RawBody::NotJson { bytes: 19 });
    }

    #[test]
    fn oauth_authorization_header_is_masked() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            "Bearer ya29.canarycanarycanary".parse().unwrap(),
        );
        let fields = selected_headers(&headers, REQUEST_HEADERS);
        assert_eq!(
            fields[0].value,
            format!("Bearer {MASKED}"),
            "the scheme, not the token"
        );
    }

    #[test]
    fn oauth_raw_log_is_bounded() {
        let log = RawLog::new();
        let request = http::Request::builder()
            .uri("http://127.0.0.1/x")
            .body(Vec::new())
            .unwrap();
        for _ in 0..(RawLog::CAPACITY + 10) {
            log.push(RawExchange::of(&request));
        }
        assert_eq!(log.entries().len(), RawLog::CAPACITY);
        assert_eq!(log.take().len(), RawLog::CAPACITY);
        assert!(log.entries().is_empty());
    }
}
