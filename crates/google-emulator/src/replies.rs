//! Google's response shapes: OAuth errors, Drive (Google API) errors, HTML error pages, and the
//! request-body reading that turns oversized or malformed input into them.

use std::collections::HashMap;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt as _;
use serde_json::{Value, json};

use crate::state::OAuthError;

const JSON_UTF8: &str = "application/json; charset=utf-8";

pub fn json(status: StatusCode, value: &Value) -> Response {
    let mut response = (status, value.to_string()).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON_UTF8));
    response
}

/// A token-endpoint style response: JSON, never cached (as Google sends it).
pub fn no_store_json(status: StatusCode, value: &Value) -> Response {
    let mut response = json(status, value);
    let h = response.headers_mut();
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store, max-age=0, must-revalidate"),
    );
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    h.insert(
        header::EXPIRES,
        HeaderValue::from_static("Mon, 01 Jan 1990 00:00:00 GMT"),
    );
    response
}

/// `{"error": ..., "error_description": ...}` with Google's status.
pub fn oauth_error(err: &OAuthError) -> Response {
    let status = StatusCode::from_u16(err.status).unwrap_or(StatusCode::BAD_REQUEST);
    no_store_json(
        status,
        &json!({"error": err.error, "error_description": err.description}),
    )
}

/// One entry of a Google API error's `errors` array.
#[derive(Debug, Clone, Copy)]
pub struct ApiErrorItem<'a> {
    pub domain: &'a str,
    pub reason: &'a str,
    pub message: &'a str,
    pub location: Option<(&'a str, &'a str)>,
}

/// A Google API (Drive) error body: `{"error": {"code", "message", "errors": [..], "status"}}`.
pub fn api_error(status: StatusCode, message: &str, item: ApiErrorItem<'_>) -> Response {
    let mut entry = json!({"domain": item.domain, "reason": item.reason, "message": item.message});
    if let Some((location_type, location)) = item.location {
        entry["locationType"] = json!(location_type);
        entry["location"] = json!(location);
    }
    let mut error = json!({"code": status.as_u16(), "message": message, "errors": [entry]});
    if let Some(s) = rpc_status(status) {
        error["status"] = json!(s);
    }
    json(status, &json!({ "error": error }))
}

fn rpc_status(status: StatusCode) -> Option<&'static str> {
    Some(match status.as_u16() {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ABORTED",
        413 => "INVALID_ARGUMENT",
        429 => "RESOURCE_EXHAUSTED",
        500 => "INTERNAL",
        503 => "UNAVAILABLE",
        _ => return None,
    })
}

/// Drive's `400 Invalid Value` for a parameter.
pub fn invalid_parameter(parameter: &str, message: &str) -> Response {
    api_error(
        StatusCode::BAD_REQUEST,
        message,
        ApiErrorItem {
            domain: "global",
            reason: "invalid",
            message,
            location: Some(("parameter", parameter)),
        },
    )
}

/// Google's plain HTML error page (what its front ends send for unknown paths and methods).
pub fn html_error(status: StatusCode, what: &str) -> Response {
    let code = status.as_u16();
    let reason = status.canonical_reason().unwrap_or("Error");
    let body = format!(
        "<!DOCTYPE html>\n<html lang=en>\n<meta charset=utf-8>\n<title>Error {code} ({reason})!!1</title>\n\
         <p><b>{code}.</b> <ins>That\u{2019}s an error.</ins>\n<p>{what}  <ins>That\u{2019}s all we know.</ins>\n"
    );
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=UTF-8"),
    );
    response
}

pub async fn not_found(uri: Uri) -> Response {
    if uri.path().starts_with("/drive/") || uri.path().starts_with("/upload/") {
        return api_error(
            StatusCode::NOT_FOUND,
            "Method not found.",
            ApiErrorItem {
                domain: "global",
                reason: "notFound",
                message: "Not Found",
                location: None,
            },
        );
    }
    if uri.path().starts_with("/emulator/") {
        return json(
            StatusCode::NOT_FOUND,
            &json!({"error": "not_found", "error_description": "no such admin call; see the emulator README"}),
        );
    }
    html_error(
        StatusCode::NOT_FOUND,
        "The requested URL was not found on this server.",
    )
}

pub async fn method_not_allowed() -> Response {
    html_error(
        StatusCode::METHOD_NOT_ALLOWED,
        "The request method is inappropriate for the URL.",
    )
}

/// Reads a request body up to `limit` bytes. Bigger bodies get `413` in the caller's shape.
pub async fn read_body(body: Body, limit: usize) -> Result<Bytes, BodyError> {
    match http_body_util::Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) if err.is::<http_body_util::LengthLimitError>() => Err(BodyError::TooLarge),
        Err(_) => Err(BodyError::Broken),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyError {
    TooLarge,
    Broken,
}

impl BodyError {
    pub fn as_oauth(self) -> OAuthError {
        match self {
            Self::TooLarge => OAuthError::new(413, "invalid_request", "Request body too large."),
            Self::Broken => OAuthError::new(400, "invalid_request", "Could not read request body."),
        }
    }
}

/// A form body or query string, keeping every value of a repeated parameter.
#[derive(Debug, Default, Clone)]
pub struct Params(HashMap<String, Vec<String>>);

impl Params {
    pub fn parse(raw: &[u8]) -> Self {
        let mut map: HashMap<String, Vec<String>> = HashMap::new();
        for (k, v) in form_urlencoded::parse(raw) {
            map.entry(k.into_owned()).or_default().push(v.into_owned());
        }
        Self(map)
    }

    /// The single value of `name`. A parameter sent twice is an `invalid_request` (RFC 6749 §3.1).
    pub fn one(&self, name: &str) -> Result<Option<&str>, OAuthError> {
        match self.0.get(name).map(Vec::as_slice) {
            None | Some([]) => Ok(None),
            Some([v]) => Ok(Some(v.as_str())),
            Some(_) => Err(OAuthError::new(
                400,
                "invalid_request",
                format!("Parameter {name} is repeated."),
            )),
        }
    }

    pub fn first(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(|v| v.first()).map(String::as_str)
    }

    pub fn merge(&mut self, other: Params) {
        for (k, mut v) in other.0 {
            self.0.entry(k).or_default().append(&mut v);
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &Vec<String>)> {
        self.0.iter()
    }
}
