//! The health sweep over HTTP: the sweep (operator) runs on the replica called, each refresh
//! through the facade's single-flight path (the grant's advisory lock), so a sweep, a
//! `refresh --all` spread over the replicas and a refresh by hand never send one refresh token
//! twice; the "needs attention" list (viewer) is read from the database.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use serde::Deserialize;
use tokendesk_core::api::{ErrorBody, paths};
use tokendesk_core::desk::{
    DEFAULT_EXPIRING_WITHIN_SECS, Desk, HealthOptions, HealthReport, NeedsAttention, StopFlag,
};
use utoipa::IntoParams;

use super::{ApiError, ApiState, Operator, StopWhenGone, Viewer, to_the_end};

type Answer<T> = Result<Json<T>, ApiError>;

/// Grants checked at once on a replica, at most: a sweep shares the replica with everyone.
const MAX_CONCURRENCY: usize = 32;

/// Checks every grant with a live refresh token (tokeninfo, or a refresh when its access
/// token is about to expire) and marks those Google refuses. Audited (`health_sweep`).
#[utoipa::path(
    post,
    path = paths::HEALTH_SWEEP,
    tag = "console",
    request_body = HealthOptions,
    responses(
        (status = 200, description = "What the sweep did, and the needs-attention list it left.", body = HealthReport),
        (status = 400, description = "The request is not what this call takes.", body = ErrorBody),
    ),
    extensions(("x-tokendesk-role" = json!("operator"))),
)]
pub(super) async fn sweep(
    _: Operator,
    State(state): State<ApiState>,
    body: Result<Json<HealthOptions>, axum::extract::rejection::JsonRejection>,
) -> Answer<HealthReport> {
    let Json(options) = body?;
    let options = HealthOptions {
        concurrency: options.concurrency.clamp(1, MAX_CONCURRENCY),
        ..options
    };
    // A caller who hangs up stops the sweep from starting more checks; those under way finish,
    // and the sweep is audited with what it did.
    let stop = StopFlag::default();
    let _gone = StopWhenGone(stop.clone());
    let work =
        |desk: Arc<Desk>| async move { desk.health_sweep(options, |_, _, _| {}, &stop).await };
    Ok(Json(to_the_end(&state, work).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct AttentionQuery {
    /// An access token with less than this left (seconds) and nothing to renew it counts as
    /// expiring (default 600).
    #[serde(default = "default_within")]
    expiring_within_secs: u64,
}

fn default_within() -> u64 {
    DEFAULT_EXPIRING_WITHIN_SECS
}

/// The users who need attention (revoked, invalid, no `drive.appdata`, expiring), as stored.
#[utoipa::path(
    get,
    path = paths::NEEDS_ATTENTION,
    tag = "console",
    params(AttentionQuery),
    responses(
        (status = 200, description = "The needs-attention list.", body = NeedsAttention),
        (status = 400, description = "The request is not what this call takes.", body = ErrorBody),
    ),
    extensions(("x-tokendesk-role" = json!("viewer"))),
)]
pub(super) async fn attention(
    _: Viewer,
    State(state): State<ApiState>,
    query: Result<Query<AttentionQuery>, axum::extract::rejection::QueryRejection>,
) -> Answer<NeedsAttention> {
    let Query(q) = query?;
    Ok(Json(
        state.desk.needs_attention(q.expiring_within_secs).await?,
    ))
}
