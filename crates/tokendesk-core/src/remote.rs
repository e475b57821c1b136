//! A team server's admin API as a [`Console`]: what `tokendesk --server URL ...` and the
//! window's "Team server" connection talk to. Views come back as the embedded store gives them;
//! errors come back with their code and kind ([`DeskError::Remote`]). Failures of the
//! connection itself say what to do: an unreachable server, a certificate that is not
//! trusted (which, and how to trust it), credentials refused (sign in again), a server that
//! speaks another version of the API (which side to update).

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

use crate::api::{
    self, API_VERSION, API_VERSION_HEADER, AddClientRequest, CurlRequest, DriveDownloadResponse,
    DriveUploadRequest, ErrorBody, ExchangeRequest, InspectRequest, LoginConfig, RefreshAllRequest,
    RevealRequest, RevealResponse, SessionRequest, VERSION, VersionInfo, WhoAmI, paths,
};
use crate::console::{AuditQuery, Console, Progress, Result};
use crate::desk::{
    AddClient, ClientView, CurlCommand, DeskError, DriveDownload, DriveFileReport, DriveReport,
    ErrorKind, ExchangeReport, HealthOptions, HealthProgress, HealthReport, InspectReport,
    NeedsAttention, RefreshAllReport, RevealWhich, RevokeReport, StopFlag, UserDetail, UserView,
    UsersPage,
};
use crate::drive::DriveUpload;
use crate::follow::Followed;
use crate::oauth::RedirectChoice;
use crate::secret::AuthCode;
use crate::store::{AuditEntry, HttpLogEntry};

/// How long one admin API call may take (a refresh of every user takes longer: see
/// `refresh_all`).
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// Waits for a long call until `stop` is set, then hangs up and returns `stopped`: the server
/// takes a caller gone as the word to stop (see the admin API's long calls).
async fn until_stopped<T>(
    call: impl Future<Output = Result<T>>,
    stop: &StopFlag,
    stopped: DeskError,
) -> Result<T> {
    tokio::select! {
        answer = call => answer,
        () = stop.stopped() => Err(stopped),
    }
}

fn remote(kind: ErrorKind, code: &str, message: String) -> DeskError {
    DeskError::Remote {
        code: code.to_owned(),
        kind,
        message,
        explanation: None,
        raw: Vec::new(),
    }
}

/// The HTTP client for a team server: TLS with the system's roots plus `ca_cert` (a PEM file:
/// an organization's CA), no redirects followed, timeouts set.
pub fn http_client(ca_cert: Option<&Path>) -> Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .timeout(CALL_TIMEOUT);
    if let Some(path) = ca_cert {
        let pem = std::fs::read(path).map_err(|e| {
            remote(
                ErrorKind::Invalid,
                "ca_cert_unreadable",
                format!(
                    "cannot read the CA certificate {} ({e}): give the PEM file of the CA that \
                     signed the team server's certificate",
                    path.display()
                ),
            )
        })?;
        for cert in reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
            remote(
                ErrorKind::Invalid,
                "ca_cert_invalid",
                format!("{} is not a PEM certificate ({e})", path.display()),
            )
        })? {
            builder = builder.add_root_certificate(cert);
        }
    }
    builder.build().map_err(|e| DeskError::HttpSetup {
        reason: e.to_string(),
    })
}

/// What a failed request says, in words a person can act on.
fn transport_error(base: &url::Url, err: &reqwest::Error) -> DeskError {
    let mut chain = String::new();
    let mut source: Option<&dyn std::error::Error> = Some(err);
    while let Some(e) = source {
        chain.push_str(&e.to_string());
        chain.push_str(": ");
        source = e.source();
    }
    let lower = chain.to_ascii_lowercase();
    if lower.contains("certificate") || lower.contains("unknownissuer") || lower.contains("tls") {
        return remote(
            ErrorKind::Unavailable,
            "tls_untrusted",
            format!(
                "the TLS certificate of {} is not trusted ({}). If your organization's CA \
                 signed it, pass that CA's certificate (PEM) with --ca-cert FILE or \
                 TOKENDESK_CA_CERT; check the name in the URL matches the certificate's. \
                 Verification is never turned off",
                base.origin().ascii_serialization(),
                chain.trim_end_matches(": ")
            ),
        );
    }
    if err.is_timeout() {
        return remote(
            ErrorKind::Unavailable,
            "server_timeout",
            format!("the team server at {base} did not answer in time; retry"),
        );
    }
    remote(
        ErrorKind::Unavailable,
        "server_unreachable",
        format!(
            "cannot reach the team server at {base} ({}): check the URL and that the server \
             runs",
            chain.trim_end_matches(": ")
        ),
    )
}

/// Checks that the server speaks this API version; says which side to update when not.
fn check_version(base: &url::Url, response: &reqwest::Response) -> Result<()> {
    let theirs = response
        .headers()
        .get(API_VERSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u32>().ok());
    match theirs {
        Some(v) if v == API_VERSION => Ok(()),
        Some(v) => Err(remote(
            ErrorKind::Invalid,
            "version_mismatch",
            format!(
                "the team server at {base} speaks admin API v{v}, this TokenDesk ({VERSION}) \
                 v{API_VERSION}: {}",
                if v > API_VERSION {
                    "update this TokenDesk"
                } else {
                    "update the server (or use a TokenDesk of its version)"
                }
            ),
        )),
        None => Err(remote(
            ErrorKind::Invalid,
            "not_a_tokendesk_server",
            format!(
                "{base} did not answer as a TokenDesk team server: check the URL (the admin listener's)"
            ),
        )),
    }
}

/// Reads an answer: the body as `T`, or the error it carries.
async fn answer<T: DeserializeOwned>(base: &url::Url, response: reqwest::Response) -> Result<T> {
    check_version(base, &response)?;
    let status = response.status();
    let bytes = response
        .bytes()
        .await
        .map_err(|e| transport_error(base, &e))?;
    if status.is_success() {
        return serde_json::from_slice(&bytes).map_err(|e| {
            remote(
                ErrorKind::Failure,
                "bad_answer",
                format!("the team server's answer could not be read ({e})"),
            )
        });
    }
    match serde_json::from_slice::<ErrorBody>(&bytes) {
        Ok(body) => {
            let mut message = body.error.message;
            if body.error.kind == ErrorKind::Unauthenticated {
                message.push_str(&format!(
                    " (sign in again: `tokendesk --server {base} login`, or give an API token \
                     in TOKENDESK_TOKEN)"
                ));
            }
            Err(DeskError::Remote {
                code: body.error.code,
                kind: body.error.kind,
                message,
                explanation: body.error.explanation,
                raw: body.error.raw,
            })
        }
        Err(_) => Err(remote(
            ErrorKind::Failure,
            "server_error",
            format!("the team server answered HTTP {}", status.as_u16()),
        )),
    }
}

/// The server's version, and whether it speaks this API (no credentials needed).
pub async fn version(http: &reqwest::Client, base: &url::Url) -> Result<VersionInfo> {
    let url = join(base, paths::VERSION)?;
    let response = http
        .get(url)
        .send()
        .await
        .map_err(|e| transport_error(base, &e))?;
    answer(base, response).await
}

/// How staff sign in to this server (no credentials needed).
pub async fn login_config(http: &reqwest::Client, base: &url::Url) -> Result<LoginConfig> {
    let url = join(base, paths::LOGIN)?;
    let response = http
        .get(url)
        .send()
        .await
        .map_err(|e| transport_error(base, &e))?;
    answer(base, response).await
}

/// Trades a staff ID token for a session: the answer holds its token, shown once.
pub async fn sign_in(http: &reqwest::Client, base: &url::Url, id_token: &str) -> Result<WhoAmI> {
    let url = join(base, paths::SESSIONS)?;
    let response = http
        .post(url)
        .json(&SessionRequest {
            id_token: id_token.to_owned(),
        })
        .send()
        .await
        .map_err(|e| transport_error(base, &e))?;
    answer(base, response).await
}

/// `base` joined with an absolute API path.
fn join(base: &url::Url, path: &str) -> Result<url::Url> {
    base.join(path).map_err(|e| {
        remote(
            ErrorKind::Invalid,
            "bad_server_url",
            format!("{base} is not a server URL ({e})"),
        )
    })
}

/// Parses a server URL as a person gives it (`https://td.example.com:8444`).
pub fn server_url(text: &str) -> Result<url::Url> {
    let url = url::Url::parse(text.trim()).map_err(|e| {
        remote(
            ErrorKind::Invalid,
            "bad_server_url",
            format!("{text:?} is not a URL ({e}); give the admin listener's, e.g. https://td.example.com:8444"),
        )
    })?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if url.host_str().is_some_and(is_loopback_host) => Ok(url),
        _ => Err(remote(
            ErrorKind::Invalid,
            "bad_server_url",
            format!(
                "{url} is not https: a session token would cross the network in clear text \
                 (plain http is accepted on loopback only)"
            ),
        )),
    }
}

fn is_loopback_host(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A team server, as one staff member or API token.
pub struct RemoteConsole {
    base: url::Url,
    http: reqwest::Client,
    token: Zeroizing<String>,
    who: WhoAmI,
}

impl std::fmt::Debug for RemoteConsole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteConsole")
            .field("base", &self.base.as_str())
            .field("who", &self.who.name)
            .finish_non_exhaustive()
    }
}

impl RemoteConsole {
    /// Connects with a session or API token: checks the server's API version, then who the
    /// token is (a refused token fails here, saying how to sign in again).
    pub async fn connect(
        base: url::Url,
        token: Zeroizing<String>,
        http: reqwest::Client,
    ) -> Result<Self> {
        version(&http, &base).await?;
        let mut console = Self {
            base,
            http,
            token,
            who: WhoAmI {
                name: String::new(),
                role: api::Role::Viewer,
                kind: api::CredentialKind::Session,
                expires_at: None,
                token: None,
            },
        };
        console.who = console.get(paths::WHOAMI, &[]).await?;
        Ok(console)
    }

    pub fn who(&self) -> &WhoAmI {
        &self.who
    }

    pub fn base(&self) -> &url::Url {
        &self.base
    }

    /// Ends this session on the server (its token stops working at once).
    pub async fn sign_out(&self) -> Result<()> {
        let url = join(&self.base, paths::SESSION_CURRENT)?;
        let response = self
            .http
            .delete(url)
            .bearer_auth(self.token.as_str())
            .send()
            .await
            .map_err(|e| transport_error(&self.base, &e))?;
        answer::<serde_json::Value>(&self.base, response)
            .await
            .map(drop)
    }

    /// The URL of `path` with `segments` appended, each percent-encoded (an email is one).
    fn url(&self, path: &str, segments: &[&str]) -> Result<url::Url> {
        let mut url = join(&self.base, path)?;
        if !segments.is_empty() {
            let mut parts = url.path_segments_mut().map_err(|()| {
                remote(
                    ErrorKind::Invalid,
                    "bad_server_url",
                    format!("{} cannot hold a path", self.base),
                )
            })?;
            parts.extend(segments);
        }
        Ok(url)
    }

    async fn send<T: DeserializeOwned>(&self, request: reqwest::RequestBuilder) -> Result<T> {
        let response = request
            .bearer_auth(self.token.as_str())
            .send()
            .await
            .map_err(|e| transport_error(&self.base, &e))?;
        answer(&self.base, response).await
    }

    async fn get<T: DeserializeOwned>(&self, path: &str, segments: &[&str]) -> Result<T> {
        let url = self.url(path, segments)?;
        self.send(self.http.get(url)).await
    }

    async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        segments: &[&str],
        query: &[(&str, &str)],
        body: &impl serde::Serialize,
    ) -> Result<T> {
        let url = self.url(path, segments)?;
        self.send(self.http.post(url).query(query).json(body)).await
    }
}

fn client_query(client: Option<&str>) -> Vec<(&str, &str)> {
    client.map(|c| vec![("client", c)]).unwrap_or_default()
}

#[async_trait]
impl Console for RemoteConsole {
    fn location(&self) -> String {
        format!("{} as {} ({})", self.base, self.who.name, self.who.role)
    }

    async fn clients(&self) -> Result<Vec<ClientView>> {
        self.get(paths::CLIENTS, &[]).await
    }

    async fn client(&self, name: &str) -> Result<ClientView> {
        self.get(paths::CLIENTS, &[name]).await
    }

    async fn add_client(&self, request: AddClient) -> Result<ClientView> {
        let secrets = serde_json::from_slice(&request.secrets_json).map_err(|e| {
            DeskError::ClientSecret(crate::client_file::ClientFileError::NotJson {
                reason: e.to_string(),
            })
        })?;
        let body = AddClientRequest {
            name: request.name,
            secrets,
            issuer: request.issuer,
            api_base: request.api_base,
            ios_client_ids: request.ios_client_ids,
        };
        self.post(paths::CLIENTS, &[], &[], &body).await
    }

    async fn remove_client(&self, name: &str) -> Result<()> {
        let url = self.url(paths::CLIENTS, &[name])?;
        self.send::<serde_json::Value>(self.http.delete(url))
            .await
            .map(drop)
    }

    async fn users_page(&self, search: &str, offset: usize, limit: usize) -> Result<UsersPage> {
        let url = self.url(paths::USERS, &[])?;
        let (offset, limit) = (offset.to_string(), limit.to_string());
        self.send(self.http.get(url).query(&[
            ("search", search),
            ("offset", &offset),
            ("limit", &limit),
        ]))
        .await
    }

    async fn user(&self, query: &str) -> Result<UserDetail> {
        self.get(paths::USERS, &[query]).await
    }

    async fn user_audit(&self, query: &str, limit: usize) -> Result<Vec<AuditEntry>> {
        let url = self.url(paths::USERS, &[query, "audit"])?;
        self.send(self.http.get(url).query(&[("limit", limit.to_string())]))
            .await
    }

    async fn user_http(&self, query: &str, limit: usize) -> Result<Vec<HttpLogEntry>> {
        let url = self.url(paths::USERS, &[query, "http"])?;
        self.send(self.http.get(url).query(&[("limit", limit.to_string())]))
            .await
    }

    async fn http_curl(
        &self,
        query: &str,
        entry: i64,
        index: usize,
        reveal: bool,
    ) -> Result<CurlCommand> {
        let entry = entry.to_string();
        let url = self.url(paths::USERS, &[query, "http", &entry, "curl"])?;
        let request = CurlRequest { index };
        if reveal {
            // A reveal changes something (the audit log): a POST, an admin's.
            self.send(self.http.post(url).json(&request)).await
        } else {
            self.send(self.http.get(url).query(&request)).await
        }
    }

    async fn exchange(
        &self,
        client: Option<&str>,
        code: AuthCode,
        redirect: RedirectChoice,
    ) -> Result<ExchangeReport> {
        let redirect_uri = match redirect {
            RedirectChoice::Empty => String::new(),
            RedirectChoice::Absent => "absent".to_owned(),
            RedirectChoice::PostMessage => "postmessage".to_owned(),
            RedirectChoice::Url(url) => url.to_string(),
        };
        let body = ExchangeRequest {
            code: code.secret().to_owned(),
            client: client.map(str::to_owned),
            redirect_uri,
            code_verifier: code.pkce_verifier().map(|v| v.secret().to_owned()),
        };
        self.post(paths::EXCHANGE, &[], &[], &body).await
    }

    async fn refresh(&self, query: &str, client: Option<&str>) -> Result<UserView> {
        self.post(
            paths::USERS,
            &[query, "refresh"],
            &client_query(client),
            &(),
        )
        .await
    }

    /// The server refreshes every user and answers when done (no progress on the way; the
    /// stop flag cannot reach it).
    async fn refresh_all(
        &self,
        concurrency: usize,
        progress: Progress<'_>,
        stop: &StopFlag,
    ) -> Result<RefreshAllReport> {
        let url = self.url(paths::REFRESH_ALL, &[])?;
        let report: RefreshAllReport = until_stopped(
            self.send(
                self.http
                    .post(url)
                    .timeout(Duration::from_secs(3600))
                    .json(&RefreshAllRequest { concurrency }),
            ),
            stop,
            DeskError::StoppedWaiting {
                what: "refresh of every user",
                then: "no replica starts another of its refreshes; those under way finish, \
                           each in the audit log",
            },
        )
        .await?;
        for (i, outcome) in report.outcomes.iter().enumerate() {
            progress(i + 1, report.total, outcome);
        }
        Ok(report)
    }

    async fn health_sweep(
        &self,
        options: HealthOptions,
        progress: HealthProgress<'_>,
        stop: &StopFlag,
    ) -> Result<HealthReport> {
        let url = self.url(paths::HEALTH_SWEEP, &[])?;
        let report: HealthReport = until_stopped(
            self.send(
                self.http
                    .post(url)
                    .timeout(Duration::from_secs(3600))
                    .json(&options),
            ),
            stop,
            DeskError::StoppedWaiting {
                what: "health sweep",
                then: "it finishes the checks under way, starts no more, and records what it \
                           did in the audit log; `tokendesk health --list` shows who needs \
                           attention",
            },
        )
        .await?;
        // The server reports the checks that were not fine; the rest were.
        for (i, check) in report.problems.iter().enumerate() {
            progress(i + 1, report.problems.len(), check);
        }
        Ok(report)
    }

    async fn needs_attention(&self, expiring_within_secs: u64) -> Result<NeedsAttention> {
        let url = self.url(paths::NEEDS_ATTENTION, &[])?;
        self.send(
            self.http
                .get(url)
                .query(&[("expiring_within_secs", expiring_within_secs.to_string())]),
        )
        .await
    }

    async fn revoke(&self, query: &str, client: Option<&str>) -> Result<RevokeReport> {
        self.post(paths::USERS, &[query, "revoke"], &client_query(client), &())
            .await
    }

    async fn drive(&self, query: &str, client: Option<&str>) -> Result<DriveReport> {
        let url = self.url(paths::USERS, &[query, "drive"])?;
        self.send(self.http.get(url).query(&client_query(client)))
            .await
    }

    async fn drive_download(
        &self,
        query: &str,
        client: Option<&str>,
        file_id: &str,
    ) -> Result<DriveDownload> {
        let [drive, files] = paths::DRIVE_FILES;
        let url = self.url(paths::USERS, &[query, drive, files, file_id])?;
        let answer: DriveDownloadResponse = self
            .send(self.http.get(url).query(&client_query(client)))
            .await?;
        let content = base64::engine::general_purpose::STANDARD
            .decode(answer.content_base64.as_bytes())
            .map_err(|e| {
                remote(
                    ErrorKind::Failure,
                    "bad_answer",
                    format!("the team server sent a file that is not base64 ({e})"),
                )
            })?;
        Ok(DriveDownload {
            user: answer.user,
            file: answer.file,
            content,
        })
    }

    async fn drive_upload(
        &self,
        query: &str,
        client: Option<&str>,
        upload: DriveUpload,
    ) -> Result<DriveFileReport> {
        upload.check()?;
        let body = DriveUploadRequest {
            name: upload.name,
            mime_type: upload.mime_type,
            content_base64: base64::engine::general_purpose::STANDARD.encode(&upload.content),
        };
        let [drive, files] = paths::DRIVE_FILES;
        self.post(
            paths::USERS,
            &[query, drive, files],
            &client_query(client),
            &body,
        )
        .await
    }

    async fn drive_delete(
        &self,
        query: &str,
        client: Option<&str>,
        file_id: &str,
    ) -> Result<DriveFileReport> {
        let [drive, files] = paths::DRIVE_FILES;
        let url = self.url(paths::USERS, &[query, drive, files, file_id])?;
        self.send(self.http.delete(url).query(&client_query(client)))
            .await
    }

    async fn export_users(&self) -> Result<Vec<UserView>> {
        self.get(paths::EXPORT_USERS, &[]).await
    }

    async fn inspect(&self, client: Option<&str>, token: &str) -> Result<InspectReport> {
        let body = InspectRequest {
            token: token.to_owned(),
            client: client.map(str::to_owned),
        };
        self.post(paths::INSPECT, &[], &[], &body).await
    }

    async fn follow(
        &self,
        after: Option<i64>,
        sink: &(dyn Fn(Followed) + Send + Sync),
        stop: &StopFlag,
    ) -> Result<()> {
        let open = |after: Option<i64>| -> Result<reqwest::RequestBuilder> {
            let mut request = self
                .http
                .get(self.url(paths::EVENTS, &[])?)
                .bearer_auth(self.token.as_str())
                .header(reqwest::header::ACCEPT, "text/event-stream");
            if let Some(after) = after {
                request = request.header("Last-Event-ID", after.to_string());
            }
            Ok(request)
        };
        let check = |response: &reqwest::Response| check_version(&self.base, response);
        crate::follow::follow_events(&open, &check, after, sink, stop).await
    }

    async fn audit(&self, query: AuditQuery) -> Result<Vec<AuditEntry>> {
        let url = self.url(paths::AUDIT, &[])?;
        let mut params: Vec<(&str, String)> = vec![("limit", query.limit.to_string())];
        if let Some(user) = query.user {
            params.push(("user", user));
        }
        if let Some(action) = query.action {
            params.push(("action", action.as_str().to_owned()));
        }
        if let Some(outcome) = query.outcome {
            params.push(("outcome", outcome.as_str().to_owned()));
        }
        if let Some(since) = query.since {
            params.push(("since", since.to_rfc3339()));
        }
        if let Some(text) = query.text {
            params.push(("text", text));
        }
        self.send(self.http.get(url).query(&params)).await
    }

    async fn reveal(&self, query: &str, which: RevealWhich) -> Result<Zeroizing<String>> {
        let answer: RevealResponse = self
            .post(
                paths::USERS,
                &[query, "reveal"],
                &[],
                &RevealRequest { which },
            )
            .await?;
        Ok(Zeroizing::new(answer.token))
    }
}
