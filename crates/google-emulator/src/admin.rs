//! The admin API under `/emulator/v1/`: what tests and the sandbox use to set the scene —
//! users, serverAuthCodes, key rotation, faults, request counts and the clock.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::Shared;
use crate::faults::Fault;
use crate::keys::{KeyError, SigningKey};
use crate::oauth::granted_scopes;
use crate::replies::{self, json as json_reply};
use crate::state::{Code, OAuthError, RedirectRule, SCOPE_DRIVE_APPDATA, UserSpec};

const ADMIN_BODY_LIMIT: usize = 64 * 1024;

pub fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/config", get(config))
        .route("/users", get(list_users).post(create_user))
        .route("/codes", post(codes))
        .route("/clients/redirect-uris", post(register_redirect_uri))
        .route("/grants/revoke", post(revoke_user))
        .route("/keys/rotate", post(rotate_keys))
        .route(
            "/refresh-rotation",
            get(refresh_rotation).post(set_refresh_rotation),
        )
        .route("/faults", post(add_fault).delete(clear_faults))
        .route("/requests", get(requests).delete(reset_requests))
        .route("/clock", get(clock).post(set_clock))
}

fn admin_error(status: StatusCode, message: &str) -> Response {
    json_reply(
        status,
        &json!({"error": "invalid_request", "error_description": message}),
    )
}

async fn parse<T: DeserializeOwned>(body: Body) -> Result<T, Response> {
    let bytes = replies::read_body(body, ADMIN_BODY_LIMIT)
        .await
        .map_err(|e| admin_error(StatusCode::PAYLOAD_TOO_LARGE, &e.as_oauth().description))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| admin_error(StatusCode::BAD_REQUEST, &format!("invalid JSON body: {e}")))
}

async fn config(State(s): State<Arc<Shared>>) -> Response {
    let domain = s.db().workspace_domain.clone();
    json_reply(
        StatusCode::OK,
        &json!({
            "issuer": s.issuer,
            "base_url": s.base_url,
            "web_client_id": s.web.client_id,
            "ios_client_id": s.ios_client_id,
            // An installed client's secret is not confidential (Google's docs; RFC 8252
            // §8.5): tests and the sign-in lab read it here. The web secret never is.
            "desktop_client_id": s.desktop.client_id,
            "desktop_client_secret": s.desktop.client_secret,
            "workspace_domain": domain,
        }),
    )
}

async fn list_users(State(s): State<Arc<Shared>>) -> Response {
    let users: Vec<_> = s.db().users.values().cloned().collect();
    json_reply(StatusCode::OK, &json!({ "users": users }))
}

async fn create_user(State(s): State<Arc<Shared>>, body: Body) -> Response {
    let spec: UserSpec = match parse(body).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    match s.db().upsert_user(&spec) {
        Ok(user) => json_reply(StatusCode::OK, &json!(user)),
        Err(e) => admin_error(StatusCode::BAD_REQUEST, &e.description),
    }
}

/// `POST /emulator/v1/clients/redirect-uris`: what a person does in Cloud Console's
/// "Authorized redirect URIs" for a web client (default: the emulator's own web client).
#[derive(Debug, Clone, Deserialize)]
pub struct RegisterRedirect {
    pub client_id: Option<String>,
    pub uri: String,
}

async fn register_redirect_uri(State(s): State<Arc<Shared>>, body: Body) -> Response {
    let req: RegisterRedirect = match parse(body).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let client_id = req.client_id.unwrap_or_else(|| s.web.client_id.clone());
    match s.register_redirect_uri(&client_id, &req.uri) {
        Ok(uris) => json_reply(StatusCode::OK, &json!({ "redirect_uris": uris })),
        Err(message) => admin_error(StatusCode::BAD_REQUEST, &message),
    }
}

/// `POST /emulator/v1/codes`: a code as an iOS app's `serverAuthCode` would be.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct MintCode {
    #[serde(flatten)]
    pub user: UserSpec,
    /// Scopes as the app requests them (aliases allowed). Default: openid, email, profile,
    /// drive.appdata.
    pub scopes: Option<Vec<String>>,
    /// The client the user signed in with (the ID token's `azp`). Default: the iOS client.
    pub client_id: Option<String>,
    /// `offline` (default) or `online`.
    pub access_type: Option<String>,
    /// `consent` (default) forces a new refresh token; anything else gives one only on the
    /// first grant to the client, as at Google.
    pub prompt: Option<String>,
    /// Also accept `redirect_uri=postmessage` at `/token` (Google is reported to accept both).
    #[serde(default)]
    pub allow_postmessage: bool,
    pub nonce: Option<String>,
}

pub fn mint_code(s: &Shared, req: &MintCode) -> Result<(String, String), OAuthError> {
    let scopes = match &req.scopes {
        Some(list) => granted_scopes(&list.join(" ")),
        None => granted_scopes(&format!("openid email profile {SCOPE_DRIVE_APPDATA}")),
    };
    let mut db = s.db();
    let azp = req
        .client_id
        .clone()
        .unwrap_or_else(|| s.ios_client_id.clone());
    if !db.clients.contains_key(&azp) {
        return Err(OAuthError::new(
            400,
            "invalid_request",
            "client_id is not a client of this emulator",
        ));
    }
    let user = db.upsert_user(&req.user)?;
    let code = db.insert_code(Code {
        user_sub: user.sub.clone(),
        client_id: s.web.client_id.clone(),
        azp,
        scopes,
        redirect: RedirectRule::ServerAuthCode {
            allow_postmessage: req.allow_postmessage,
        },
        pkce: None,
        offline: req.access_type.as_deref().unwrap_or("offline") == "offline",
        force_consent: req.prompt.as_deref().unwrap_or("consent") == "consent",
        nonce: req.nonce.clone(),
        issued_at: s.clock.now(),
        redeemed_by: None,
    });
    Ok((code, user.sub))
}

async fn codes(State(s): State<Arc<Shared>>, body: Body) -> Response {
    let req: MintCode = match parse(body).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    match mint_code(&s, &req) {
        Ok((code, sub)) => json_reply(StatusCode::OK, &json!({"code": code, "sub": sub})),
        Err(e) => admin_error(StatusCode::BAD_REQUEST, &e.description),
    }
}

#[derive(Debug, Deserialize)]
struct RevokeUser {
    email: String,
}

async fn revoke_user(State(s): State<Arc<Shared>>, body: Body) -> Response {
    let req: RevokeUser = match parse(body).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let n = s.db().revoke_user(&req.email);
    json_reply(StatusCode::OK, &json!({"revoked_grants": n}))
}

pub fn rotate(s: &Shared) -> Result<String, KeyError> {
    // Generate outside the lock: it takes a while and token requests keep signing meanwhile.
    let key = SigningKey::generate()?;
    let kid = key.kid().to_owned();
    s.keys_mut().rotate(key, s.clock.now());
    Ok(kid)
}

async fn rotate_keys(State(s): State<Arc<Shared>>) -> Response {
    match rotate(&s) {
        Ok(kid) => {
            let kids = s.keys().kids(s.clock.now());
            json_reply(StatusCode::OK, &json!({"kid": kid, "kids": kids}))
        }
        Err(e) => admin_error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

#[derive(Debug, Deserialize)]
struct SetRefreshRotation {
    enabled: bool,
}

fn refresh_rotation_state(s: &Shared) -> serde_json::Value {
    let db = s.db();
    json!({"enabled": db.rotate_refresh_tokens, "reuse_detected": db.refresh_reuse_detected})
}

async fn refresh_rotation(State(s): State<Arc<Shared>>) -> Response {
    json_reply(StatusCode::OK, &refresh_rotation_state(&s))
}

async fn set_refresh_rotation(State(s): State<Arc<Shared>>, body: Body) -> Response {
    let req: SetRefreshRotation = match parse(body).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    s.db().rotate_refresh_tokens = req.enabled;
    json_reply(StatusCode::OK, &refresh_rotation_state(&s))
}

async fn add_fault(State(s): State<Arc<Shared>>, body: Body) -> Response {
    let fault: Fault = match parse(body).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    if let Some(status) = fault.status
        && !(100..=599).contains(&status)
    {
        return admin_error(
            StatusCode::BAD_REQUEST,
            "status must be an HTTP status code",
        );
    }
    let id = s.faults.add(fault);
    json_reply(StatusCode::OK, &json!({ "id": id }))
}

async fn clear_faults(State(s): State<Arc<Shared>>) -> Response {
    s.faults.clear();
    json_reply(StatusCode::OK, &json!({}))
}

async fn requests(State(s): State<Arc<Shared>>) -> Response {
    json_reply(StatusCode::OK, &s.faults.snapshot())
}

async fn reset_requests(State(s): State<Arc<Shared>>) -> Response {
    s.faults.reset_log();
    json_reply(StatusCode::OK, &json!({}))
}

#[derive(Debug, Deserialize)]
struct SetClock {
    offset_secs: i64,
}

async fn clock(State(s): State<Arc<Shared>>) -> Response {
    json_reply(
        StatusCode::OK,
        &json!({"offset_secs": s.clock.offset(), "now": s.clock.now()}),
    )
}

async fn set_clock(State(s): State<Arc<Shared>>, body: Body) -> Response {
    let req: SetClock = match parse(body).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    s.clock.set_offset(req.offset_secs);
    json_reply(
        StatusCode::OK,
        &json!({"offset_secs": s.clock.offset(), "now": s.clock.now()}),
    )
}
