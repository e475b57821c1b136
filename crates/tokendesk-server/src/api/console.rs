//! The console's operations over HTTP: each handler is the facade's call (the `Console` the
//! CLI and the window use on the embedded store), behind the role it needs.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use base64::Engine as _;
use serde::Deserialize;
use tokendesk_core::api::{
    AddClientRequest, CurlRequest, DriveDownloadResponse, DriveUploadRequest, ErrorBody,
    ExchangeRequest, InspectRequest, RefreshAllRequest, Removed, RevealRequest, RevealResponse,
    VersionInfo, paths,
};
use tokendesk_core::console::{AuditQuery, Console};
use tokendesk_core::desk::{
    AddClient, ClientView, CurlCommand, Desk, DriveFileReport, DriveReport, ExchangeReport,
    InspectReport, RefreshAllReport, RevokeReport, StopFlag, UserDetail, UserView, UsersPage,
};
use tokendesk_core::drive::DriveUpload;
use tokendesk_core::oauth::{RawLog, RedirectChoice};
use tokendesk_core::secret::{AuthCode, PkceVerifier};
use tokendesk_core::store::{AuditAction, AuditEntry, AuditOutcome, HttpLogEntry, Timestamp};
use utoipa::IntoParams;

use super::{
    Admin, Allowed, ApiError, ApiState, DRIVE, FILES, Operator, StopWhenGone, Viewer, to_the_end,
    version_info,
};

type Answer<T> = Result<Json<T>, ApiError>;

/// At most this many users in one page, audit entries in one answer.
const MAX_PAGE: usize = 1000;
const MAX_AUDIT: usize = 10_000;

/// Both listeners answer it; this one also says whether the database answers.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "meta",
    responses(
        (status = 200, description = "The server and its database answer.", body = String, content_type = "text/plain"),
        (status = 503, description = "The database does not answer.", body = ErrorBody),
    ),
)]
pub(super) async fn healthz(State(state): State<ApiState>) -> Result<&'static str, ApiError> {
    state.pg.ping().await?;
    Ok("ok\n")
}

#[utoipa::path(
    get,
    path = paths::VERSION,
    tag = "meta",
    responses(
        (status = 200, description = "The server's version and API version.", body = VersionInfo),
    ),
)]
pub(super) async fn version() -> Json<VersionInfo> {
    Json(version_info())
}

#[utoipa::path(
    get,
    path = paths::CLIENTS,
    tag = "console",
    responses(
        (status = 200, description = "The configured clients, without secrets.", body = Vec<ClientView>),
    ),
    extensions(("x-tokendesk-role" = json!("viewer"))),
)]
pub(super) async fn clients(_: Viewer, State(state): State<ApiState>) -> Answer<Vec<ClientView>> {
    Ok(Json(state.desk.clients().await?))
}

#[utoipa::path(
    get,
    path = format!("{}/{{name}}", paths::CLIENTS),
    tag = "console",
    params(("name" = String, Path, description = "The client's name.")),
    responses(
        (status = 200, description = "The client, without its secret.", body = ClientView),
        (status = 404, description = "No such client.", body = ErrorBody),
    ),
    extensions(("x-tokendesk-role" = json!("viewer"))),
)]
pub(super) async fn client(
    _: Viewer,
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Answer<ClientView> {
    Ok(Json(state.desk.client(&name).await?))
}

#[utoipa::path(
    post,
    path = paths::CLIENTS,
    tag = "console",
    request_body = AddClientRequest,
    responses(
        (status = 200, description = "The client as added.", body = ClientView),
        (status = 400, description = "The request is not what this call takes.", body = ErrorBody),
        (status = 422, description = "The client's JSON or settings are refused (the error's code says why).", body = ErrorBody),
    ),
    extensions(("x-tokendesk-role" = json!("admin"))),
)]
pub(super) async fn add_client(
    _: Admin,
    State(state): State<ApiState>,
    body: Result<Json<AddClientRequest>, axum::extract::rejection::JsonRejection>,
) -> Answer<ClientView> {
    let Json(body) = body?;
    let secrets_json = serde_json::to_vec(&body.secrets)
        .map_err(|e| ApiError::invalid("bad_request_body", e.to_string()))?;
    let request = AddClient {
        name: body.name,
        secrets_json,
        issuer: body.issuer,
        api_base: body.api_base,
        ios_client_ids: body.ios_client_ids,
    };
    Ok(Json(state.desk.add_client(request).await?))
}

#[utoipa::path(
    delete,
    path = format!("{}/{{name}}", paths::CLIENTS),
    tag = "console",
    params(("name" = String, Path, description = "The client's name.")),
    responses(
        (status = 200, description = "The client was removed.", body = Removed),
        (status = 404, description = "No such client.", body = ErrorBody),
    ),
    extensions(("x-tokendesk-role" = json!("admin"))),
)]
pub(super) async fn remove_client(
    _: Admin,
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Answer<Removed> {
    state.desk.remove_client(&name).await?;
    Ok(Json(Removed { removed: name }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct PageQuery {
    /// Words every match has (email, name, sub, client); empty: every user.
    #[serde(default)]
    search: String,
    /// Users to skip.
    #[serde(default)]
    offset: usize,
    /// Users in the page (default 50, at most 1000).
    #[serde(default = "default_limit")]
    limit: usize,
}

fn default_limit() -> usize {
    50
}

#[utoipa::path(
    get,
    path = paths::USERS,
    tag = "console",
    params(PageQuery),
    responses(
        (status = 200, description = "A page of users.", body = UsersPage),
        (status = 400, description = "The request is not what this call takes.", body = ErrorBody),
    ),
    extensions(("x-tokendesk-role" = json!("viewer"))),
)]
pub(super) async fn users(
    _: Viewer,
    State(state): State<ApiState>,
    query: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Answer<UsersPage> {
    let Query(q) = query?;
    Ok(Json(
        state
            .desk
            .users_page(&q.search, q.offset, q.limit.min(MAX_PAGE))
            .await?,
    ))
}

#[utoipa::path(
    get,
    path = format!("{}/{{user}}", paths::USERS),
    tag = "console",
    params(("user" = String, Path, description = "The user: their sub or email.")),
    responses(
        (status = 200, description = "The user with everything the user page shows.", body = UserDetail),
        (status = 404, description = "No such user.", body = ErrorBody),
    ),
    extensions(("x-tokendesk-role" = json!("viewer"))),
)]
pub(super) async fn user(
    _: Viewer,
    State(state): State<ApiState>,
    Path(user): Path<String>,
) -> Answer<UserDetail> {
    Ok(Json(state.desk.user(&user).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct LimitQuery {
    /// Entries at most (default 50, at most 10,000).
    #[serde(default = "default_limit")]
    limit: usize,
}

#[utoipa::path(
    get,
    path = format!("{}/{{user}}/audit", paths::USERS),
    tag = "console",
    params(("user" = String, Path, description = "The user: their sub or email."), LimitQuery),
    responses(
        (status = 200, description = "The user's audit entries, newest first.", body = Vec<AuditEntry>),
        (status = 400, description = "The request is not what this call takes.", body = ErrorBody),
        (status = 404, description = "No such user.", body = ErrorBody),
    ),
    extensions(("x-tokendesk-role" = json!("viewer"))),
)]
pub(super) async fn user_audit(
    _: Viewer,
    State(state): State<ApiState>,
    Path(user): Path<String>,
    query: Result<Query<LimitQuery>, axum::extract::rejection::QueryRejection>,
) -> Answer<Vec<AuditEntry>> {
    let Query(q) = query?;
    Ok(Json(
        state.desk.user_audit(&user, q.limit.min(MAX_AUDIT)).await?,
    ))
}

#[utoipa::path(
    get,
    path = format!("{}/{{user}}/http", paths::USERS),
    tag = "console",
    params(("user" = String, Path, description = "The user: their sub or email."), LimitQuery),
    responses(
        (status = 200, description = "The user's recent operations as HTTP (every request and \
          response, secrets masked), newest first; each user keeps their newest 50.", body = Vec<HttpLogEntry>),
        (status = 400, description = "The request is not what this call takes.", body = ErrorBody),
        (status = 404, description = "No such user.", body = ErrorBody),
    ),
    extensions(("x-tokendesk-role" = json!("viewer"))),
)]
pub(super) async fn user_http(
    _: Viewer,
    State(state): State<ApiState>,
    Path(user): Path<String>,
    query: Result<Query<LimitQuery>, axum::extract::rejection::QueryRejection>,
) -> Answer<Vec<HttpLogEntry>> {
    let Query(q) = query?;
    Ok(Json(state.desk.user_http(&user, q.limit).await?))
}

#[utoipa::path(
    get,
    path = format!("{}/{{user}}/http/{{entry}}/curl", paths::USERS),
    tag = "console",
    params(
        ("user" = String, Path, description = "The user: their sub or email."),
        ("entry" = i64, Path, description = "The kept operation's id."),
        CurlRequest,
    ),
    responses(
        (status = 200, description = "The request as a curl command, its secrets as shell \
          variables.", body = CurlCommand),
        (status = 400, description = "The request is not what this call takes.", body = ErrorBody),
        (status = 404, description = "No such user, or the operation is no longer kept.", body = ErrorBody),
    ),
    extensions(("x-tokendesk-role" = json!("viewer"))),
)]
pub(super) async fn http_curl(
    _: Viewer,
    State(state): State<ApiState>,
    Path((user, entry)): Path<(String, i64)>,
    query: Result<Query<CurlRequest>, axum::extract::rejection::QueryRejection>,
) -> Answer<CurlCommand> {
    let Query(q) = query?;
    Ok(Json(
        state.desk.http_curl(&user, entry, q.index, false).await?,
    ))
}

#[utoipa::path(
    post,
    path = format!("{}/{{user}}/http/{{entry}}/curl", paths::USERS),
    tag = "console",
    params(
        ("user" = String, Path, description = "The user: their sub or email."),
        ("entry" = i64, Path, description = "The kept operation's id."),
    ),
    request_body = CurlRequest,
    responses(
        (status = 200, description = "The request as a curl command with the client secret and \
          the grant's tokens as stored now written in (audited first).", body = CurlCommand),
        (status = 400, description = "The request is not what this call takes.", body = ErrorBody),
        (status = 404, description = "No such user, or the operation is no longer kept.", body = ErrorBody),
    ),
    extensions(("x-tokendesk-role" = json!("admin"))),
)]
pub(super) async fn http_curl_revealed(
    _: Admin,
    State(state): State<ApiState>,
    Path((user, entry)): Path<(String, i64)>,
    body: Result<Json<CurlRequest>, axum::extract::rejection::JsonRejection>,
) -> Answer<CurlCommand> {
    let Json(body) = body?;
    Ok(Json(
        state.desk.http_curl(&user, entry, body.index, true).await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct ClientQuery {
    /// The client to use when the user has grants from more than one.
    client: Option<String>,
}

#[utoipa::path(
    post,
    path = format!("{}/{{user}}/refresh", paths::USERS),
    tag = "console",
    params(("user" = String, Path, description = "The user: their sub or email."), ClientQuery),
    responses(
        (status = 200, description = "The user after the refresh.", body = UserView),
        (status = 404, description = "No such user or client.", body = ErrorBody),
        (status = 422, description = "Google refused, or the grant cannot do this (the error's code says which).", body = ErrorBody),
        (status = 503, description = "Google or the database does not answer; try again.", body = ErrorBody),
    ),
    extensions(("x-tokendesk-role" = json!("operator"))),
)]
pub(super) async fn refresh(
    _: Operator,
    State(state): State<ApiState>,
    Path(user): Path<String>,
    query: Result<Query<ClientQuery>, axum::extract::rejection::QueryRejection>,
) -> Answer<UserView> {
    let Query(q) = query?;
    let work = |desk: Arc<Desk>| async move { desk.refresh(&user, q.client.as_deref()).await };
    Ok(Json(to_the_end(&state, work).await?))
}

#[utoipa::path(
    post,
    path = format!("{}/{{user}}/revoke", paths::USERS),
    tag = "console",
    params(("user" = String, Path, description = "The user: their sub or email."), ClientQuery),
    responses(
        (status = 200, description = "The user after the revocation.", body = RevokeReport),
        (status = 404, description = "No such user or client.", body = ErrorBody),
        (status = 422, description = "Google refused, or the grant cannot do this (the error's code says which).", body = ErrorBody),
        (status = 503, description = "Google or the database does not answer; try again.", body = ErrorBody),
    ),
    extensions(("x-tokendesk-role" = json!("operator"))),
)]
pub(super) async fn revoke(
    _: Operator,
    State(state): State<ApiState>,
    Path(user): Path<String>,
    query: Result<Query<ClientQuery>, axum::extract::rejection::QueryRejection>,
) -> Answer<RevokeReport> {
    let Query(q) = query?;
    let work = |desk: Arc<Desk>| async move { desk.revoke(&user, q.client.as_deref()).await };
    Ok(Json(to_the_end(&state, work).await?))
}

#[utoipa::path(
    get,
    path = format!("{}/{{user}}/drive", paths::USERS),
    tag = "console",
    params(("user" = String, Path, description = "The user: their sub or email."), ClientQuery),
    responses(
        (status = 200, description = "The user's appDataFolder listing.", body = DriveReport),
        (status = 404, description = "No such user or client.", body = ErrorBody),
        (status = 422, description = "Google refused, or the grant cannot do this (the error's code says which).", body = ErrorBody),
        (status = 503, description = "Google or the database does not answer; try again.", body = ErrorBody),
    ),
    extensions(("x-tokendesk-role" = json!("operator"))),
)]
pub(super) async fn drive(
    _: Operator,
    State(state): State<ApiState>,
    Path(user): Path<String>,
    query: Result<Query<ClientQuery>, axum::extract::rejection::QueryRejection>,
) -> Answer<DriveReport> {
    let Query(q) = query?;
    // A Drive call may refresh the access token first: it runs to its end too.
    let work = |desk: Arc<Desk>| async move { desk.drive(&user, q.client.as_deref()).await };
    Ok(Json(to_the_end(&state, work).await?))
}

/// A file of the user's appDataFolder with its bytes: operator, since it hands out the user's
/// data (audited by the facade before the bytes leave).
#[utoipa::path(
    get,
    path = format!("{}/{{user}}/{}/{}/{{file_id}}", paths::USERS, DRIVE, FILES),
    tag = "console",
    params(("user" = String, Path, description = "The user: their sub or email."), ("file_id" = String, Path, description = "The Drive file's id."), ClientQuery),
    responses(
        (status = 200, description = "The file's metadata and bytes (base64).", body = DriveDownloadResponse),
        (status = 404, description = "No such user, client or file.", body = ErrorBody),
        (status = 422, description = "Google refused, or the grant cannot do this (the error's code says which).", body = ErrorBody),
        (status = 503, description = "Google or the database does not answer; try again.", body = ErrorBody),
    ),
    extensions(("x-tokendesk-role" = json!("operator"))),
)]
pub(super) async fn drive_download(
    _: Operator,
    State(state): State<ApiState>,
    Path((user, file_id)): Path<(String, String)>,
    query: Result<Query<ClientQuery>, axum::extract::rejection::QueryRejection>,
) -> Answer<DriveDownloadResponse> {
    let Query(q) = query?;
    let work = |desk: Arc<Desk>| async move {
        desk.drive_download(&user, q.client.as_deref(), &file_id)
            .await
    };
    let download = to_the_end(&state, work).await?;
    Ok(Json(DriveDownloadResponse {
        content_base64: base64::engine::general_purpose::STANDARD.encode(&download.content),
        user: download.user,
        file: download.file,
    }))
}

#[utoipa::path(
    post,
    path = format!("{}/{{user}}/{}/{}", paths::USERS, DRIVE, FILES),
    tag = "console",
    params(("user" = String, Path, description = "The user: their sub or email."), ClientQuery),
    request_body = DriveUploadRequest,
    responses(
        (status = 200, description = "The file as uploaded.", body = DriveFileReport),
        (status = 400, description = "The request is not what this call takes.", body = ErrorBody),
        (status = 404, description = "No such user or client.", body = ErrorBody),
        (status = 413, description = "The body is over 7 MiB."),
        (status = 422, description = "Google refused, or the grant cannot do this (the error's code says which).", body = ErrorBody),
        (status = 503, description = "Google or the database does not answer; try again.", body = ErrorBody),
    ),
    extensions(("x-tokendesk-role" = json!("operator"))),
)]
pub(super) async fn drive_upload(
    _: Operator,
    State(state): State<ApiState>,
    Path(user): Path<String>,
    query: Result<Query<ClientQuery>, axum::extract::rejection::QueryRejection>,
    body: Result<Json<DriveUploadRequest>, axum::extract::rejection::JsonRejection>,
) -> Answer<DriveFileReport> {
    let Query(q) = query?;
    let Json(body) = body?;
    let content = base64::engine::general_purpose::STANDARD
        .decode(body.content_base64.as_bytes())
        .map_err(|e| {
            ApiError::invalid(
                "bad_content",
                format!("content_base64 is not standard base64 ({e}): encode the file's bytes"),
            )
        })?;
    let upload = DriveUpload {
        name: body.name,
        mime_type: body.mime_type,
        content,
    };
    let work = |desk: Arc<Desk>| async move {
        desk.drive_upload(&user, q.client.as_deref(), upload).await
    };
    Ok(Json(to_the_end(&state, work).await?))
}

#[utoipa::path(
    delete,
    path = format!("{}/{{user}}/{}/{}/{{file_id}}", paths::USERS, DRIVE, FILES),
    tag = "console",
    params(("user" = String, Path, description = "The user: their sub or email."), ("file_id" = String, Path, description = "The Drive file's id."), ClientQuery),
    responses(
        (status = 200, description = "The file as it was before its deletion.", body = DriveFileReport),
        (status = 404, description = "No such user, client or file.", body = ErrorBody),
        (status = 422, description = "Google refused, or the grant cannot do this (the error's code says which).", body = ErrorBody),
        (status = 503, description = "Google or the database does not answer; try again.", body = ErrorBody),
    ),
    extensions(("x-tokendesk-role" = json!("operator"))),
)]
pub(super) async fn drive_delete(
    _: Operator,
    State(state): State<ApiState>,
    Path((user, file_id)): Path<(String, String)>,
    query: Result<Query<ClientQuery>, axum::extract::rejection::QueryRejection>,
) -> Answer<DriveFileReport> {
    let Query(q) = query?;
    let work = |desk: Arc<Desk>| async move {
        desk.drive_delete(&user, q.client.as_deref(), &file_id)
            .await
    };
    Ok(Json(to_the_end(&state, work).await?))
}

/// Every user's profile and token health (never a token), for an export: viewer, like the
/// Users page it copies; audited by the facade.
#[utoipa::path(
    get,
    path = paths::EXPORT_USERS,
    tag = "console",
    responses(
        (status = 200, description = "Every user's profile and token health (never a token).", body = Vec<UserView>),
    ),
    extensions(("x-tokendesk-role" = json!("viewer"))),
)]
pub(super) async fn export_users(
    _: Viewer,
    State(state): State<ApiState>,
) -> Answer<Vec<UserView>> {
    Ok(Json(state.desk.export_users().await?))
}

#[utoipa::path(
    post,
    path = format!("{}/{{user}}/reveal", paths::USERS),
    tag = "console",
    params(("user" = String, Path, description = "The user: their sub or email.")),
    request_body = RevealRequest,
    responses(
        (status = 200, description = "The token, in the clear (audited).", body = RevealResponse),
        (status = 400, description = "The request is not what this call takes.", body = ErrorBody),
        (status = 404, description = "No such user or token.", body = ErrorBody),
    ),
    extensions(("x-tokendesk-role" = json!("admin"))),
)]
pub(super) async fn reveal(
    _: Admin,
    State(state): State<ApiState>,
    Path(user): Path<String>,
    body: Result<Json<RevealRequest>, axum::extract::rejection::JsonRejection>,
) -> Answer<RevealResponse> {
    let Json(body) = body?;
    let token = state.desk.reveal(&user, body.which).await?;
    Ok(Json(RevealResponse {
        token: token.as_str().to_owned(),
    }))
}

#[utoipa::path(
    post,
    path = paths::EXCHANGE,
    tag = "console",
    request_body = ExchangeRequest,
    responses(
        (status = 200, description = "The stored user, the raw HTTP (secrets masked) and notes.", body = ExchangeReport),
        (status = 400, description = "The request is not what this call takes.", body = ErrorBody),
        (status = 404, description = "No such client.", body = ErrorBody),
        (status = 422, description = "Google refused, or the grant cannot do this (the error's code says which).", body = ErrorBody),
        (status = 503, description = "Google or the database does not answer; try again.", body = ErrorBody),
    ),
    extensions(("x-tokendesk-role" = json!("operator"))),
)]
pub(super) async fn exchange(
    _: Operator,
    State(state): State<ApiState>,
    body: Result<Json<ExchangeRequest>, axum::extract::rejection::JsonRejection>,
) -> Answer<ExchangeReport> {
    let Json(body) = body?;
    let redirect = RedirectChoice::parse(&body.redirect_uri)
        .map_err(|e| ApiError::invalid("bad_redirect_uri", e.to_string()))?;
    let mut code = AuthCode::new(body.code);
    if let Some(verifier) = body.code_verifier {
        code = code.with_pkce_verifier(PkceVerifier::new(verifier));
    }
    // Recorded, so a refused code comes back with the calls to Google behind it (masked),
    // as the Exchange page shows them on the embedded store.
    let log = RawLog::new();
    let kept = log.clone();
    let work = |desk: Arc<Desk>| async move {
        desk.exchange_logged(body.client.as_deref(), code, redirect, &kept)
            .await
    };
    to_the_end(&state, work)
        .await
        .map(Json)
        .map_err(|err| err.with_raw(log.entries()))
}

#[utoipa::path(
    post,
    path = paths::INSPECT,
    tag = "console",
    request_body = InspectRequest,
    responses(
        (status = 200, description = "What the token is: a JWT's checks, or what tokeninfo says.", body = InspectReport),
        (status = 400, description = "The request is not what this call takes.", body = ErrorBody),
        (status = 404, description = "No such client.", body = ErrorBody),
        (status = 422, description = "Google refused, or the grant cannot do this (the error's code says which).", body = ErrorBody),
        (status = 503, description = "Google or the database does not answer; try again.", body = ErrorBody),
    ),
    extensions(("x-tokendesk-role" = json!("viewer"))),
)]
pub(super) async fn inspect(
    _: Viewer,
    State(state): State<ApiState>,
    body: Result<Json<InspectRequest>, axum::extract::rejection::JsonRejection>,
) -> Answer<InspectReport> {
    let Json(body) = body?;
    Ok(Json(
        state
            .desk
            .inspect(body.client.as_deref(), &body.token)
            .await?,
    ))
}

/// Refreshes every user, the work spread over every replica of this database.
#[utoipa::path(
    post,
    path = paths::REFRESH_ALL,
    tag = "console",
    request_body = RefreshAllRequest,
    responses(
        (status = 200, description = "Every user's outcome, the work spread over the replicas.", body = RefreshAllReport),
        (status = 400, description = "The request is not what this call takes.", body = ErrorBody),
    ),
    extensions(("x-tokendesk-role" = json!("operator"))),
)]
pub(super) async fn refresh_all(
    Allowed(caller): Operator,
    State(state): State<ApiState>,
    body: Result<Json<RefreshAllRequest>, axum::extract::rejection::JsonRejection>,
) -> Answer<RefreshAllReport> {
    let Json(body) = body?;
    // A caller who hangs up ends the run where it is: no replica starts another of its
    // refreshes; those under way finish (and are audited).
    let stop = StopFlag::default();
    let _gone = StopWhenGone(stop.clone());
    let spread = Arc::clone(&state.spread);
    let work = |_| async move {
        spread
            .refresh_all(&caller.actor(), body.concurrency, &stop)
            .await
    };
    Ok(Json(to_the_end(&state, work).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct AuditParams {
    /// Entries about this user (sub or email).
    user: Option<String>,
    /// Entries of this action (`AuditAction`, e.g. `refresh`).
    action: Option<String>,
    /// `ok`, `failed` or `denied`.
    outcome: Option<String>,
    /// Entries at or after this time (RFC 3339).
    since: Option<String>,
    /// Found (without regard to case) in who acted, the detail or the user's email.
    text: Option<String>,
    /// Entries at most (default 200, at most 10,000).
    #[serde(default = "default_audit_limit")]
    limit: usize,
}

fn default_audit_limit() -> usize {
    200
}

#[utoipa::path(
    get,
    path = paths::AUDIT,
    tag = "console",
    params(AuditParams),
    responses(
        (status = 200, description = "Audit entries, newest first.", body = Vec<AuditEntry>),
        (status = 400, description = "The request is not what this call takes.", body = ErrorBody),
    ),
    extensions(("x-tokendesk-role" = json!("viewer"))),
)]
pub(super) async fn audit(
    _: Viewer,
    State(state): State<ApiState>,
    query: Result<Query<AuditParams>, axum::extract::rejection::QueryRejection>,
) -> Answer<Vec<AuditEntry>> {
    let Query(q) = query?;
    let action = q
        .action
        .map(|a| {
            AuditAction::parse(&a)
                .ok_or_else(|| ApiError::invalid("bad_query", format!("no audit action {a:?}")))
        })
        .transpose()?;
    let outcome = q
        .outcome
        .map(|o| {
            AuditOutcome::parse(&o).ok_or_else(|| {
                ApiError::invalid(
                    "bad_query",
                    format!("no audit outcome {o:?}: ok, failed or denied"),
                )
            })
        })
        .transpose()?;
    let since = q
        .since
        .map(|s| {
            Timestamp::parse_rfc3339(&s).ok_or_else(|| {
                ApiError::invalid(
                    "bad_query",
                    format!("since {s:?} is not an RFC 3339 time (2026-01-31T09:00:00Z)"),
                )
            })
        })
        .transpose()?;
    let query = AuditQuery {
        user: q.user,
        action,
        outcome,
        since,
        text: q.text,
        limit: q.limit.min(MAX_AUDIT),
    };
    Ok(Json(Console::audit(&*state.desk, query).await?))
}
