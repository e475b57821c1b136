//! Every error answer of the admin API: `{"error": {"code", "kind", "message",
//! "explanation"?}}` with the HTTP status of its kind (`tokendesk_core::api::status_of`), the
//! same codes the CLI and the window show.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tokendesk_core::api::{ErrorBody, ErrorDetail, Role, status_of};
use tokendesk_core::desk::{DeskError, ErrorKind};
use tokendesk_core::store::StoreError;

use super::{Caller, Refused};

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    detail: ErrorDetail,
    /// Already in the audit log (a refusal by role).
    refused: bool,
}

impl ApiError {
    pub fn new(kind: ErrorKind, code: &str, message: impl Into<String>) -> Self {
        Self {
            detail: ErrorDetail {
                code: code.to_owned(),
                kind,
                message: message.into(),
                explanation: None,
                raw: Vec::new(),
            },
            refused: false,
        }
    }

    /// The same error with the masked HTTP behind it (a failed exchange's calls to Google).
    pub fn with_raw(mut self, raw: Vec<tokendesk_core::oauth::RawExchange>) -> Self {
        self.detail.raw = raw;
        self
    }

    pub fn invalid(code: &str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, code, message)
    }

    pub fn unauthenticated() -> Self {
        Self::new(
            ErrorKind::Unauthenticated,
            "unauthenticated",
            "this call needs a session or an API token (Authorization: Bearer ...): sign in \
             with `tokendesk --server URL login`, or set TOKENDESK_TOKEN to an API token",
        )
    }

    pub(super) fn forbidden(caller: &Caller, needed: Role) -> Self {
        let mut error = Self::new(
            ErrorKind::Forbidden,
            "forbidden",
            format!(
                "{} has the role {}; this needs {needed}. Ask an admin to change the role \
                 (`tokendesk server staff add EMAIL --role {needed}`)",
                caller.name, caller.role
            ),
        );
        error.refused = true;
        error
    }
}

impl From<DeskError> for ApiError {
    fn from(err: DeskError) -> Self {
        let kind = err.kind();
        // A failure of ours says no more than its code to the caller; the log has the rest.
        let message = if matches!(kind, ErrorKind::Failure) {
            tracing::error!(code = err.code(), error = %err, "admin API call failed");
            "the server failed to do this; its log has the details (search for the code)".to_owned()
        } else {
            err.to_string()
        };
        Self {
            detail: ErrorDetail {
                code: err.code().to_owned(),
                kind,
                message,
                explanation: err.explanation(),
                raw: Vec::new(),
            },
            refused: false,
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        DeskError::from(err).into()
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        Self::invalid(
            "bad_request_body",
            format!(
                "the request body is not what this call takes ({}); see /api/v1/openapi.json",
                rejection.body_text()
            ),
        )
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::invalid(
            "bad_query",
            format!(
                "the query string is not what this call takes ({}); see /api/v1/openapi.json",
                rejection.body_text()
            ),
        )
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        Self::invalid("bad_path", rejection.body_text())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(status_of(self.detail.kind))
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let refused = self.refused;
        let mut response = (status, Json(ErrorBody { error: self.detail })).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                http::header::WWW_AUTHENTICATE,
                http::HeaderValue::from_static("Bearer realm=\"tokendesk\""),
            );
        }
        if refused {
            response.extensions_mut().insert(Refused);
        }
        response
    }
}

pub(super) async fn not_found() -> ApiError {
    ApiError::new(
        ErrorKind::NotFound,
        "no_such_path",
        "the admin API has no such path; its paths are listed at /api/v1/openapi.json",
    )
}

pub(super) async fn method_not_allowed() -> Response {
    let mut response = ApiError::new(
        ErrorKind::Invalid,
        "method_not_allowed",
        "this path does not take that method; see /api/v1/openapi.json",
    )
    .into_response();
    *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    response
}
