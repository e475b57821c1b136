//! The console's operations over HTTP: each handler is the facade's call (the `Console` the
//! CLI and the window use on the embedded store), behind the role it needs.

use axum::Json;
use axum::extract::{Path, Query, State};
use base64::Engine as _;
use serde::Deserialize;
use tokendesk_core::api::{
    AddClientRequest, DriveDownloadResponse, DriveUploadRequest, ExchangeRequest, InspectRequest,
    RefreshAllRequest, RevealRequest, RevealResponse, VersionInfo,
};
use tokendesk_core::console::{AuditQuery, Console};
use tokendesk_core::desk::{
    AddClient, ClientView, DriveFileReport, DriveReport, ExchangeReport, InspectReport,
    RefreshAllReport, RevokeReport, UserDetail, UserView, UsersPage,
};
use tokendesk_core::drive::DriveUpload;
use tokendesk_core::oauth::RedirectChoice;
use tokendesk_core::secret::AuthCode;
use tokendesk_core::store::{AuditAction, AuditEntry, AuditOutcome, Timestamp};

use super::{Admin, Allowed, ApiError, ApiState, Operator, Viewer, version_info};

type Answer<T> = Result<Json<T>, ApiError>;

/// At most this many users in one page, audit entries in one answer.
const MAX_PAGE: usize = 1000;
const MAX_AUDIT: usize = 10_000;

/// Both listeners answer it; this one also says whether the database answers.
pub(super) async fn healthz(State(state): State<ApiState>) -> Result<&'static str, ApiError> {
    state.pg.ping().await?;
    Ok("ok\n")
}

pub(super) async fn version() -> Json<VersionInfo> {
    Json(version_info())
}

pub(super) async fn clients(_: Viewer, State(state): State<ApiState>) -> Answer<Vec<ClientView>> {
    Ok(Json(state.desk.clients().await?))
}

pub(super) async fn client(
    _: Viewer,
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Answer<ClientView> {
    Ok(Json(state.desk.client(&name).await?))
}

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

pub(super) async fn remove_client(
    _: Admin,
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Answer<serde_json::Value> {
    state.desk.remove_client(&name).await?;
    Ok(Json(serde_json::json!({ "removed": name })))
}

#[derive(Debug, Deserialize)]
pub(super) struct PageQuery {
    #[serde(default)]
    search: String,
    #[serde(default)]
    offset: usize,
    #[serde(default = "default_limit")]
    limit: usize,
}

fn default_limit() -> usize {
    50
}

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

pub(super) async fn user(
    _: Viewer,
    State(state): State<ApiState>,
    Path(user): Path<String>,
) -> Answer<UserDetail> {
    Ok(Json(state.desk.user(&user).await?))
}

#[derive(Debug, Deserialize)]
pub(super) struct LimitQuery {
    #[serde(default = "default_limit")]
    limit: usize,
}

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

#[derive(Debug, Deserialize)]
pub(super) struct ClientQuery {
    client: Option<String>,
}

pub(super) async fn refresh(
    _: Operator,
    State(state): State<ApiState>,
    Path(user): Path<String>,
    query: Result<Query<ClientQuery>, axum::extract::rejection::QueryRejection>,
) -> Answer<UserView> {
    let Query(q) = query?;
    Ok(Json(state.desk.refresh(&user, q.client.as_deref()).await?))
}

pub(super) async fn revoke(
    _: Operator,
    State(state): State<ApiState>,
    Path(user): Path<String>,
    query: Result<Query<ClientQuery>, axum::extract::rejection::QueryRejection>,
) -> Answer<RevokeReport> {
    let Query(q) = query?;
    Ok(Json(state.desk.revoke(&user, q.client.as_deref()).await?))
}

pub(super) async fn drive(
    _: Operator,
    State(state): State<ApiState>,
    Path(user): Path<String>,
    query: Result<Query<ClientQuery>, axum::extract::rejection::QueryRejection>,
) -> Answer<DriveReport> {
    let Query(q) = query?;
    Ok(Json(state.desk.drive(&user, q.client.as_deref()).await?))
}

/// A file of the user's appDataFolder with its bytes: operator, since it hands out the user's
/// data (audited by the facade before the bytes leave).
pub(super) async fn drive_download(
    _: Operator,
    State(state): State<ApiState>,
    Path((user, file_id)): Path<(String, String)>,
    query: Result<Query<ClientQuery>, axum::extract::rejection::QueryRejection>,
) -> Answer<DriveDownloadResponse> {
    let Query(q) = query?;
    let download = state
        .desk
        .drive_download(&user, q.client.as_deref(), &file_id)
        .await?;
    Ok(Json(DriveDownloadResponse {
        content_base64: base64::engine::general_purpose::STANDARD.encode(&download.content),
        user: download.user,
        file: download.file,
    }))
}

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
    Ok(Json(
        state
            .desk
            .drive_upload(&user, q.client.as_deref(), upload)
            .await?,
    ))
}

pub(super) async fn drive_delete(
    _: Operator,
    State(state): State<ApiState>,
    Path((user, file_id)): Path<(String, String)>,
    query: Result<Query<ClientQuery>, axum::extract::rejection::QueryRejection>,
) -> Answer<DriveFileReport> {
    let Query(q) = query?;
    Ok(Json(
        state
            .desk
            .drive_delete(&user, q.client.as_deref(), &file_id)
            .await?,
    ))
}

/// Every user's profile and token health (never a token), for an export: viewer, like the
/// Users page it copies; audited by the facade.
pub(super) async fn export_users(
    _: Viewer,
    State(state): State<ApiState>,
) -> Answer<Vec<UserView>> {
    Ok(Json(state.desk.export_users().await?))
}

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

pub(super) async fn exchange(
    _: Operator,
    State(state): State<ApiState>,
    body: Result<Json<ExchangeRequest>, axum::extract::rejection::JsonRejection>,
) -> Answer<ExchangeReport> {
    let Json(body) = body?;
    let redirect = RedirectChoice::parse(&body.redirect_uri)
        .map_err(|e| ApiError::invalid("bad_redirect_uri", e.to_string()))?;
    let code = AuthCode::new(body.code);
    Ok(Json(
        state
            .desk
            .exchange(body.client.as_deref(), code, redirect)
            .await?,
    ))
}

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
pub(super) async fn refresh_all(
    Allowed(caller): Operator,
    State(state): State<ApiState>,
    body: Result<Json<RefreshAllRequest>, axum::extract::rejection::JsonRejection>,
) -> Answer<RefreshAllReport> {
    let Json(body) = body?;
    Ok(Json(
        state
            .spread
            .refresh_all(&caller.actor(), body.concurrency)
            .await?,
    ))
}

#[derive(Debug, Deserialize)]
pub(super) struct AuditParams {
    user: Option<String>,
    action: Option<String>,
    outcome: Option<String>,
    since: Option<String>,
    text: Option<String>,
    #[serde(default = "default_audit_limit")]
    limit: usize,
}

fn default_audit_limit() -> usize {
    200
}

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
