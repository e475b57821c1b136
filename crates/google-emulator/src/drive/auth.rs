//! Who is calling Drive and whether their access token may touch the appDataFolder, with
//! Google's 401 (no or bad token) and 403 (insufficient scope) replies.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::json;

use crate::Shared;
use crate::oauth::bearer;
use crate::replies::{self, ApiErrorItem, api_error};
use crate::state::{SCOPE_DRIVE, SCOPE_DRIVE_APPDATA};

fn unauthenticated(missing: bool) -> Response {
    let (message, item_message, reason) = if missing {
        (
            "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
            "Login Required.",
            "required",
        )
    } else {
        (
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
            "Invalid Credentials",
            "authError",
        )
    };
    let mut r = api_error(
        StatusCode::UNAUTHORIZED,
        message,
        ApiErrorItem {
            domain: "global",
            reason,
            message: item_message,
            location: Some(("header", "Authorization")),
        },
    );
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(
            "Bearer realm=\"https://accounts.google.com/\", error=\"invalid_token\"",
        ),
    );
    r
}

pub(super) fn insufficient_scope(method: &str) -> Response {
    // Google's API error body plus an ErrorInfo naming the reason; clients key on
    // ACCESS_TOKEN_SCOPE_INSUFFICIENT.
    let body = json!({"error": {
        "code": 403,
        "message": "Request had insufficient authentication scopes.",
        "errors": [{"message": "Insufficient Permission", "domain": "global", "reason": "insufficientPermissions"}],
        "status": "PERMISSION_DENIED",
        "details": [{
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
            "domain": "googleapis.com",
            "metadata": {"service": "drive.googleapis.com", "method": format!("google.apps.drive.v3.DriveFiles.{method}")}
        }]
    }});
    replies::json(StatusCode::FORBIDDEN, &body)
}

/// The caller's `sub` and whether the token may touch the appDataFolder.
pub(super) fn authorize(
    s: &Shared,
    headers: &HeaderMap,
    query: Option<&str>,
    method: &str,
) -> Result<String, Response> {
    let Some(token) = bearer(headers, query) else {
        return Err(unauthenticated(true));
    };
    let Some((rec, _, user)) = s.db().access(&token, s.clock.now()) else {
        return Err(unauthenticated(false));
    };
    if !rec
        .scopes
        .iter()
        .any(|x| x == SCOPE_DRIVE_APPDATA || x == SCOPE_DRIVE)
    {
        return Err(insufficient_scope(method));
    }
    Ok(user.sub)
}
