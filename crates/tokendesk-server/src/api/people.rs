//! Who may use the API: staff sign-in and sign-out, the staff list, API tokens.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, Path, State};
use tokendesk_core::api::{
    ApiTokenInfo, ApiTokenRequest, CredentialKind, LoginConfig, NewApiToken, SessionRequest,
    StaffAddRequest, StaffMember, WhoAmI,
};
use tokendesk_core::desk::{ErrorKind, acting_as};
use tokendesk_core::store::{AuditAction, AuditOutcome};

use super::{Admin, Allowed, ApiError, ApiState, Viewer};
use crate::auth;
use crate::staff::SignInRefused;

type Answer<T> = Result<Json<T>, ApiError>;

fn no_staff_provider() -> ApiError {
    ApiError::new(
        ErrorKind::NotFound,
        "staff_sign_in_off",
        "this server has no staff sign-in (it was started without --staff-issuer and \
         --staff-client-id); use an API token (TOKENDESK_TOKEN) from `tokendesk server token \
         create`",
    )
}

pub(super) async fn login_config(State(state): State<ApiState>) -> Answer<LoginConfig> {
    let staff = state.staff.as_ref().ok_or_else(no_staff_provider)?;
    Ok(Json(staff.login_config()))
}

/// A staff member's sign-in: the ID token their client got from the staff provider, checked,
/// their email on the staff list; answered with a new session (its token shown once).
pub(super) async fn sign_in(
    State(state): State<ApiState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Result<Json<SessionRequest>, JsonRejection>,
) -> Answer<WhoAmI> {
    let staff = state.staff.as_ref().ok_or_else(no_staff_provider)?;
    let Json(body) = body?;
    let refuse = |actor: String, why: SignInRefused, kind: ErrorKind| {
        let desk = &state.desk;
        async move {
            acting_as(
                actor,
                desk.record(
                    AuditAction::SignIn,
                    AuditOutcome::Denied,
                    Some(why.to_string()),
                ),
            )
            .await?;
            let code = match why {
                SignInRefused::Unverified(_) => "staff_token_unverified",
                SignInRefused::EmailUnverified => "staff_email_unverified",
                SignInRefused::WrongDomain { .. } => "staff_wrong_domain",
                SignInRefused::NotStaff { .. } => "not_staff",
            };
            Err::<Json<WhoAmI>, ApiError>(ApiError::new(kind, code, why.to_string()))
        }
    };
    let email = match staff.verify(&body.id_token).await {
        Ok(email) => email,
        Err(why) => {
            return refuse(
                format!("anonymous@{}", peer.ip()),
                why,
                ErrorKind::Unauthenticated,
            )
            .await;
        }
    };
    let token = auth::new_token(auth::SESSION_PREFIX)
        .map_err(|e| ApiError::new(ErrorKind::Failure, "random_failed", e.to_string()))?;
    let Some(session) = state
        .pg
        .session_create(&email, &token.digest, state.life, state.desk.now())
        .await?
    else {
        return refuse(
            email.clone(),
            SignInRefused::NotStaff { email },
            ErrorKind::Forbidden,
        )
        .await;
    };
    acting_as(
        email,
        state
            .desk
            .record(AuditAction::SignIn, AuditOutcome::Ok, None),
    )
    .await?;
    Ok(Json(WhoAmI {
        name: session.name,
        role: session.role,
        kind: CredentialKind::Session,
        expires_at: session.expires_at.map(|t| t.to_rfc3339()),
        token: Some(token.token.as_str().to_owned()),
    }))
}

pub(super) async fn whoami(Allowed(caller): Viewer) -> Json<WhoAmI> {
    Json(WhoAmI {
        name: caller.name,
        role: caller.role,
        kind: caller.kind,
        expires_at: caller.expires_at,
        token: None,
    })
}

/// Ends the caller's session: its token stops working at once, on every replica.
pub(super) async fn sign_out(
    Allowed(caller): Viewer,
    State(state): State<ApiState>,
) -> Answer<serde_json::Value> {
    if caller.kind == CredentialKind::ApiToken {
        return Err(ApiError::invalid(
            "not_a_session",
            "an API token is not signed out: an admin revokes it (`DELETE \
             /api/v1/api-tokens/NAME`)",
        ));
    }
    state
        .pg
        .session_revoke(&caller.digest, state.desk.now())
        .await?;
    state
        .desk
        .record(AuditAction::SignOut, AuditOutcome::Ok, None)
        .await?;
    Ok(Json(serde_json::json!({ "signed_out": caller.name })))
}

pub(super) async fn staff_list(
    _: Admin,
    State(state): State<ApiState>,
) -> Answer<Vec<StaffMember>> {
    Ok(Json(state.pg.staff_list().await?))
}

pub(super) async fn staff_add(
    Allowed(caller): Admin,
    State(state): State<ApiState>,
    body: Result<Json<StaffAddRequest>, JsonRejection>,
) -> Answer<StaffMember> {
    let Json(body) = body?;
    let member = state
        .pg
        .staff_add(&body.email, body.role, &caller.actor(), state.desk.now())
        .await?;
    state
        .desk
        .record(
            AuditAction::StaffAdd,
            AuditOutcome::Ok,
            Some(format!("{} as {}", member.email, member.role)),
        )
        .await?;
    Ok(Json(member))
}

pub(super) async fn staff_remove(
    _: Admin,
    State(state): State<ApiState>,
    Path(email): Path<String>,
) -> Answer<serde_json::Value> {
    state.pg.staff_remove(&email).await?;
    state
        .desk
        .record(
            AuditAction::StaffRemove,
            AuditOutcome::Ok,
            Some(email.clone()),
        )
        .await?;
    Ok(Json(serde_json::json!({ "removed": email })))
}

pub(super) async fn api_tokens(
    _: Admin,
    State(state): State<ApiState>,
) -> Answer<Vec<ApiTokenInfo>> {
    Ok(Json(state.pg.api_tokens().await?))
}

pub(super) async fn api_token_create(
    Allowed(caller): Admin,
    State(state): State<ApiState>,
    body: Result<Json<ApiTokenRequest>, JsonRejection>,
) -> Answer<NewApiToken> {
    let Json(body) = body?;
    let created = crate::people::create_api_token(
        &state.pg,
        &state.desk,
        &body.name,
        body.role,
        &caller.actor(),
    )
    .await?;
    Ok(Json(created))
}

pub(super) async fn api_token_revoke(
    _: Admin,
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Answer<serde_json::Value> {
    state.pg.api_token_revoke(&name, state.desk.now()).await?;
    state
        .desk
        .record(
            AuditAction::TokenRevoke,
            AuditOutcome::Ok,
            Some(name.clone()),
        )
        .await?;
    Ok(Json(serde_json::json!({ "revoked": name })))
}
