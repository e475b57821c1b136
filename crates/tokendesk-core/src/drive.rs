//! Drive v3 on a user's behalf, limited to their appDataFolder: every page of files.list and
//! the folder itself, with Google's error bodies turned into clear, actionable errors. Files
//! are read, written and deleted in `transfer`.

mod transfer;

use std::collections::HashSet;
use std::time::Duration;

use http::header::{self, HeaderValue};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use url::Url;

use crate::oauth::http::{HttpClient, HttpError, header_str, retry_after};
use crate::oauth::retry::{self, GaveUp, Verdict};
use crate::oauth::scrub;
use crate::provider::Endpoints;
use crate::secret::AccessToken;

pub use transfer::{
    DOWNLOAD_LIMIT, DriveUpload, UPLOAD_LIMIT, delete_file, download_file, get_file, mime_type_for,
    upload_file,
};

/// Drive's largest page: fewer round trips for big folders.
pub const MAX_PAGE_SIZE: u16 = 1000;
/// What a listing returns of each file unless asked otherwise.
pub const DEFAULT_FILE_FIELDS: &str = "id,name,mimeType,size,modifiedTime,createdTime";
/// A listing stops here rather than follow a server that never ends its pages.
const MAX_PAGES: usize = 10_000;

/// One file (or the folder) as TokenDesk shows it.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DriveFile {
    /// Empty only when a custom `fields` mask left it out.
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub mime_type: String,
    /// Bytes; Drive sends it as a string, and not at all for folders.
    #[serde(default, deserialize_with = "lenient_u64")]
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub size: Option<u64>,
    /// RFC 3339.
    #[serde(default)]
    pub modified_time: Option<String>,
    /// RFC 3339.
    #[serde(default)]
    pub created_time: Option<String>,
}

/// Why a Drive call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DriveError {
    /// The caller refreshes the access token once and retries; a second 401 is final.
    #[error(
        "Drive refused the access token (HTTP 401: expired or revoked); refresh it and try \
         again"
    )]
    Unauthorized,
    #[error(
        "this grant lacks drive.appdata: the app must request \
         https://www.googleapis.com/auth/drive.appdata and send a new serverAuthCode"
    )]
    InsufficientScope,
    #[error("Drive found no such file: {message}")]
    NotFound { message: String },
    #[error(
        "Drive is rate limiting requests (HTTP {status}) after {attempts} attempt(s); try again later"
    )]
    RateLimited { status: u16, attempts: u32 },
    #[error("Drive is unavailable (HTTP {status}) after {attempts} attempt(s); try again later")]
    Unavailable { status: u16, attempts: u32 },
    #[error("Drive did not answer within {after:?} after {attempts} attempt(s)")]
    Timeout { after: Duration, attempts: u32 },
    #[error("Drive could not be reached: {detail} ({attempts} attempt(s))")]
    Transport { detail: String, attempts: u32 },
    #[error("a Drive response is larger than {limit} bytes; reading stopped there")]
    BodyTooLarge { limit: usize },
    #[error("the answer (HTTP {status}) is not what Drive sends; check the API base URL")]
    UnexpectedResponse { status: u16 },
    #[error("Drive refused the request (HTTP {status}, {reason}): {message}")]
    Api {
        status: u16,
        reason: String,
        message: String,
    },
    #[error("Drive's paging did not end (a page token repeated, or over {MAX_PAGES} pages)")]
    Paging,
    #[error("the Drive request could not be made: {detail}")]
    Setup { detail: String },
    #[error(
        "the file is {size} bytes; TokenDesk downloads files of up to {limit} bytes (25 MiB). \
         Larger files stay in Drive"
    )]
    DownloadTooLarge { size: u64, limit: u64 },
    #[error(
        "the file is {size} bytes; an upload carries at most {limit} bytes (5 MB, Google's limit \
         for a one-request upload). Nothing was sent"
    )]
    UploadTooLarge { size: u64, limit: u64 },
    #[error(
        "{mime_type} has no content to download (a folder or a Google Docs type); only files \
         an app stored can be downloaded"
    )]
    NotDownloadable { mime_type: String },
    #[error("{reason}")]
    InvalidRequest { reason: String },
}

impl DriveError {
    /// A stable machine code for JSON output and the UI.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthorized => "unauthorized",
            Self::InsufficientScope => "insufficient_scope",
            Self::NotFound { .. } => "not_found",
            Self::RateLimited { .. } => "rate_limited",
            Self::Unavailable { .. } => "unavailable",
            Self::Timeout { .. } => "timeout",
            Self::Transport { .. } => "transport",
            Self::BodyTooLarge { .. } => "body_too_large",
            Self::UnexpectedResponse { .. } => "unexpected_response",
            Self::Api { .. } => "drive_error",
            Self::Paging => "paging",
            Self::Setup { .. } => "setup",
            Self::DownloadTooLarge { .. } => "file_too_large",
            Self::UploadTooLarge { .. } => "upload_too_large",
            Self::NotDownloadable { .. } => "not_downloadable",
            Self::InvalidRequest { .. } => "invalid_drive_request",
        }
    }
}

/// Every file in the user's appDataFolder, all pages, 1000 per page. `fields` is a Drive
/// fields mask for the listing (e.g. `files(id,name)`); `nextPageToken` is always added,
/// since without it Drive leaves the token out and paging would silently stop at page one.
pub async fn list_app_data(
    http: &HttpClient,
    endpoints: &Endpoints,
    token: &AccessToken,
    fields: Option<&str>,
) -> Result<Vec<DriveFile>, DriveError> {
    list_app_data_paged(http, endpoints, token, fields, MAX_PAGE_SIZE).await
}

/// [`list_app_data`] with a chosen page size (1..=1000); tests page through few files.
pub async fn list_app_data_paged(
    http: &HttpClient,
    endpoints: &Endpoints,
    token: &AccessToken,
    fields: Option<&str>,
    page_size: u16,
) -> Result<Vec<DriveFile>, DriveError> {
    let base = files_url(endpoints, "files")?;
    let fields = list_fields(fields);
    let page_size = page_size.clamp(1, MAX_PAGE_SIZE).to_string();
    let mut files = Vec::new();
    let mut page_token: Option<String> = None;
    let mut seen_tokens = HashSet::new();
    for _ in 0..MAX_PAGES {
        let mut url = base.clone();
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("spaces", "appDataFolder")
                .append_pair("pageSize", &page_size)
                .append_pair("fields", &fields);
            if let Some(t) = &page_token {
                query.append_pair("pageToken", t);
            }
        }
        let body = get_with_retries(http, &url, token, http.config().api_body_limit).await?;
        let page: FileList = serde_json::from_slice(&body)
            .map_err(|_| DriveError::UnexpectedResponse { status: 200 })?;
        files.extend(page.files);
        match page.next_page_token.filter(|t| !t.is_empty()) {
            None => return Ok(files),
            Some(next) => {
                if !seen_tokens.insert(next.clone()) {
                    return Err(DriveError::Paging);
                }
                page_token = Some(next);
            }
        }
    }
    Err(DriveError::Paging)
}

/// The appDataFolder itself (files.get on the `appDataFolder` alias): its real ID and dates.
pub async fn get_app_folder(
    http: &HttpClient,
    endpoints: &Endpoints,
    token: &AccessToken,
) -> Result<DriveFile, DriveError> {
    let mut url = files_url(endpoints, "files/appDataFolder")?;
    url.query_pairs_mut()
        .append_pair("fields", DEFAULT_FILE_FIELDS);
    let body = get_with_retries(http, &url, token, http.config().api_body_limit).await?;
    serde_json::from_slice(&body).map_err(|_| DriveError::UnexpectedResponse { status: 200 })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FileList {
    #[serde(default)]
    files: Vec<DriveFile>,
    #[serde(default)]
    next_page_token: Option<String>,
}

pub(crate) fn files_url(endpoints: &Endpoints, path: &str) -> Result<Url, DriveError> {
    endpoints
        .drive_api_base
        .join(path)
        .map_err(|err| DriveError::Setup {
            detail: format!("the Drive API base URL can't hold {path}: {err}"),
        })
}

/// The listing's fields mask with `nextPageToken` at the top level.
pub(crate) fn list_fields(fields: Option<&str>) -> String {
    let Some(fields) = fields.map(str::trim).filter(|f| !f.is_empty()) else {
        return format!("nextPageToken,files({DEFAULT_FILE_FIELDS})");
    };
    let has_token = top_level_names(fields)
        .iter()
        .any(|name| *name == "nextPageToken" || *name == "*");
    if has_token {
        fields.to_owned()
    } else {
        format!("nextPageToken,{fields}")
    }
}

/// The names at the top level of a fields mask: `a,files(id,name),b/c` gives a, files, b.
fn top_level_names(mask: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in mask.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                names.push(&mask[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    names.push(&mask[start..]);
    names
        .into_iter()
        .map(|part| part.split(['(', '/']).next().unwrap_or_default().trim())
        .collect()
}

/// One failed Drive attempt.
#[derive(Debug)]
pub(crate) enum Failure {
    Http(HttpError),
    Answer {
        status: u16,
        retry_after: Option<Duration>,
        reasons: Vec<String>,
        message: Option<String>,
        is_google_error: bool,
    },
}

impl Failure {
    pub(crate) fn is_rate_limit(&self) -> bool {
        match self {
            Self::Answer { status: 429, .. } => true,
            Self::Answer {
                status: 403,
                reasons,
                ..
            } => reasons
                .iter()
                .any(|r| r == "rateLimitExceeded" || r == "userRateLimitExceeded"),
            _ => false,
        }
    }
}

/// Drive reads are idempotent: resent after rate limits (429, and 403 with a rate-limit
/// reason, as Drive's quotas answer), 5xx and network failures.
pub(crate) fn verdict(failure: &Failure) -> Verdict {
    match failure {
        Failure::Http(
            HttpError::Connect { .. }
            | HttpError::Timeout { .. }
            | HttpError::ConnectionLost { .. },
        ) => Verdict::Retry { retry_after: None },
        Failure::Answer {
            status,
            retry_after,
            ..
        } if *status >= 500 || failure.is_rate_limit() => Verdict::Retry {
            retry_after: *retry_after,
        },
        _ => Verdict::Stop,
    }
}

/// One Drive request as it is sent (and sent again when retried).
pub(crate) struct DriveRequest<'a> {
    pub method: http::Method,
    pub url: &'a Url,
    /// `application/json` for metadata, `*/*` for a file's content.
    pub accept: &'static str,
    /// The content type and bytes of the body, if any.
    pub body: Option<(String, &'a [u8])>,
    /// The most of the answer that is read.
    pub limit: usize,
}

async fn get_with_retries(
    http: &HttpClient,
    url: &Url,
    token: &AccessToken,
    limit: usize,
) -> Result<Vec<u8>, DriveError> {
    let request = DriveRequest {
        method: http::Method::GET,
        url,
        accept: "application/json",
        body: None,
        limit,
    };
    send_with_retries(http, &request, token, verdict).await
}

/// Sends `request` until it succeeds or `verdict` says stop; a 2xx answer's body.
pub(crate) async fn send_with_retries(
    http: &HttpClient,
    request: &DriveRequest<'_>,
    token: &AccessToken,
    verdict: fn(&Failure) -> Verdict,
) -> Result<Vec<u8>, DriveError> {
    let result = retry::run(
        &http.config().retry,
        http.timer(),
        http.config().timeout,
        |attempt| send_once(http, request, token, attempt.timeout),
        verdict,
    )
    .await;
    result.map_err(|GaveUp { error, attempts }| into_error(error, attempts, token))
}

async fn send_once(
    http: &HttpClient,
    request: &DriveRequest<'_>,
    token: &AccessToken,
    timeout: Duration,
) -> Result<Vec<u8>, Failure> {
    let mut authorization = HeaderValue::from_str(&format!("Bearer {}", token.secret()))
        // The value is not in the message: only that it could not be a header.
        .map_err(|_| {
            Failure::Http(HttpError::InvalidRequest(
                "the access token contains characters a header cannot hold".to_owned(),
            ))
        })?;
    authorization.set_sensitive(true);
    let mut builder = http::Request::builder()
        .method(request.method.clone())
        .uri(request.url.as_str())
        .header(header::ACCEPT, request.accept)
        .header(header::AUTHORIZATION, authorization);
    let body = match &request.body {
        Some((content_type, bytes)) => {
            builder = builder.header(header::CONTENT_TYPE, content_type.as_str());
            bytes.to_vec()
        }
        None => Vec::new(),
    };
    let outgoing = builder
        .body(body)
        .map_err(|err| Failure::Http(HttpError::InvalidRequest(err.to_string())))?;
    let response = http
        .send(outgoing, request.limit, timeout)
        .await
        .map_err(Failure::Http)?;
    let status = response.status().as_u16();
    if (200..300).contains(&status) {
        return Ok(response.into_body());
    }
    let retry_after = retry_after(response.headers(), http.timer());
    let is_json =
        header_str(response.headers(), &header::CONTENT_TYPE).is_some_and(|ct| ct.contains("json"));
    let parsed = if is_json || response.body().first() == Some(&b'{') {
        serde_json::from_slice::<ApiErrorBody>(response.body()).ok()
    } else {
        None
    };
    let is_google_error = parsed.is_some();
    let (reasons, message) = parsed.map_or((Vec::new(), None), |body| {
        let mut reasons: Vec<String> = body.error.errors.into_iter().map(|e| e.reason).collect();
        reasons.extend(
            body.error
                .details
                .iter()
                .filter_map(|d| d.get("reason").and_then(Value::as_str))
                .map(str::to_owned),
        );
        (reasons, body.error.message)
    });
    Err(Failure::Answer {
        status,
        retry_after,
        reasons,
        message,
        is_google_error,
    })
}

/// `{"error": {"code", "message", "errors": [{"reason", ...}], "status", "details"}}`.
#[derive(Deserialize)]
struct ApiErrorBody {
    error: ApiError,
}

#[derive(Deserialize)]
struct ApiError {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    errors: Vec<ApiErrorItem>,
    #[serde(default)]
    details: Vec<Value>,
}

#[derive(Deserialize)]
struct ApiErrorItem {
    #[serde(default)]
    reason: String,
}

fn into_error(failure: Failure, attempts: u32, token: &AccessToken) -> DriveError {
    let rate_limited = failure.is_rate_limit();
    match failure {
        Failure::Http(
            HttpError::Connect { detail, .. } | HttpError::ConnectionLost { detail, .. },
        ) => DriveError::Transport { detail, attempts },
        Failure::Http(HttpError::Timeout { after, .. }) => DriveError::Timeout { after, attempts },
        Failure::Http(HttpError::BodyTooLarge { limit, .. }) => DriveError::BodyTooLarge { limit },
        Failure::Http(HttpError::InvalidRequest(detail) | HttpError::Setup(detail)) => {
            DriveError::Setup { detail }
        }
        Failure::Answer { status, .. } if rate_limited => {
            DriveError::RateLimited { status, attempts }
        }
        Failure::Answer { status, .. } if status >= 500 => {
            DriveError::Unavailable { status, attempts }
        }
        Failure::Answer { status: 401, .. } => DriveError::Unauthorized,
        Failure::Answer {
            status: 403,
            reasons,
            ..
        } if reasons
            .iter()
            .any(|r| r == "ACCESS_TOKEN_SCOPE_INSUFFICIENT" || r == "insufficientPermissions") =>
        {
            DriveError::InsufficientScope
        }
        Failure::Answer {
            status: 404,
            message,
            ..
        } => DriveError::NotFound {
            message: scrub(message.as_deref().unwrap_or("Not Found"), &[token.secret()]),
        },
        Failure::Answer {
            status,
            reasons,
            message,
            is_google_error: true,
            ..
        } if !(300..400).contains(&status) => DriveError::Api {
            status,
            reason: scrub(
                &reasons.first().cloned().unwrap_or_default(),
                &[token.secret()],
            ),
            message: scrub(message.as_deref().unwrap_or_default(), &[token.secret()]),
        },
        Failure::Answer { status, .. } => DriveError::UnexpectedResponse { status },
    }
}

fn lenient_u64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    match Option::<Value>::deserialize(deserializer)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => s.parse().map(Some).map_err(serde::de::Error::custom),
        Some(Value::Number(n)) => n
            .as_u64()
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom("size is not a whole number")),
        Some(_) => Err(serde::de::Error::custom("size is not a number")),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn drive_default_fields_ask_for_the_page_token() {
        assert_eq!(
            list_fields(None),
            "nextPageToken,files(id,name,mimeType,size,modifiedTime,createdTime)"
        );
    }

    #[test]
    fn drive_custom_fields_get_the_page_token_added() {
        assert_eq!(
            list_fields(Some("files(id,name)")),
            "nextPageToken,files(id,name)"
        );
        assert_eq!(
            list_fields(Some("files(id,nextPageToken)")),
            "nextPageToken,files(id,nextPageToken)",
            "a nested name does not count"
        );
        assert_eq!(
            list_fields(Some("nextPageToken,files(id)")),
            "nextPageToken,files(id)"
        );
        assert_eq!(list_fields(Some("*")), "*");
    }

    #[test]
    fn drive_file_size_arrives_as_a_string() {
        let file: DriveFile = serde_json::from_str(
            r#"{"id":"1","name":"a.json","mimeType":"application/json","size":"42",
                "modifiedTime":"2024-01-01T00:00:00.000Z"}"#,
        )
        .unwrap();
        assert_eq!(file.size, Some(42));
        assert_eq!(file.created_time, None);
        let json = serde_json::to_value(&file).unwrap();
        assert_eq!(json["mimeType"], "application/json", "camelCase for the UI");
    }

    #[test]
    fn drive_scope_error_has_the_exact_message() {
        assert_eq!(
            DriveError::InsufficientScope.to_string(),
            "this grant lacks drive.appdata: the app must request \
             https://www.googleapis.com/auth/drive.appdata and send a new serverAuthCode"
        );
    }

    #[test]
    fn drive_rate_limit_reasons_on_403_are_retried() {
        let failure = Failure::Answer {
            status: 403,
            retry_after: None,
            reasons: vec!["userRateLimitExceeded".into()],
            message: None,
            is_google_error: true,
        };
        assert_eq!(verdict(&failure), Verdict::Retry { retry_after: None });
        let scope = Failure::Answer {
            status: 403,
            retry_after: None,
            reasons: vec!["insufficientPermissions".into()],
            message: None,
            is_google_error: true,
        };
        assert_eq!(verdict(&scope), Verdict::Stop);
    }
}
