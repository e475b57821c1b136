//! The Drive endpoints: files.list, files.get (metadata, `alt=media`, the folder itself),
//! files.delete and files.create as metadata, multipart or media uploads.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::auth::{authorize, insufficient_scope};
use super::fields::{apply_mask, file_mask, list_mask};
use super::multipart::{boundary_of, split_multipart};
use super::paging::{decode_page_token, encode_page_token, sort_files};
use super::query::{matches, parse_query};
use super::store::{File, folder_json, is_folder_alias};
use crate::Shared;
use crate::keys::random_token;
use crate::replies::{self, ApiErrorItem, Params, api_error, invalid_parameter};

/// Google documents 5 MB as the most a simple or multipart upload may carry.
const UPLOAD_LIMIT: usize = 5 * 1024 * 1024;
const METADATA_LIMIT: usize = 64 * 1024;

fn not_found(id: &str) -> Response {
    let message = format!("File not found: {id}.");
    api_error(
        StatusCode::NOT_FOUND,
        &message,
        ApiErrorItem {
            domain: "global",
            reason: "notFound",
            message: &message,
            location: Some(("parameter", "fileId")),
        },
    )
}

pub async fn list(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let sub = match authorize(&s, &headers, q.as_deref(), "List") {
        Ok(sub) => sub,
        Err(r) => return r,
    };
    let params = Params::parse(q.as_deref().unwrap_or_default().as_bytes());
    let spaces = params.first("spaces").unwrap_or("drive");
    if spaces
        .split(',')
        .map(str::trim)
        .any(|sp| sp != "appDataFolder")
    {
        // This emulator holds only the appDataFolder; a drive.appdata token may not list the
        // user's Drive, and Google answers that with a scope error.
        return insufficient_scope("List");
    }
    let page_size = match params.first("pageSize").map(str::parse::<usize>) {
        None => 100,
        Some(Ok(n)) if (1..=1000).contains(&n) => n,
        Some(_) => {
            return invalid_parameter(
                "pageSize",
                &format!(
                    "Invalid value '{}'. Values must be within the range: [1, 1000]",
                    params.first("pageSize").unwrap_or_default()
                ),
            );
        }
    };
    let offset = match params.first("pageToken") {
        None => 0,
        Some(t) => match decode_page_token(t) {
            Some(o) => o,
            None => return invalid_parameter("pageToken", "Invalid Value"),
        },
    };
    let query = match params.first("q").map(parse_query).transpose() {
        Ok(q) => q,
        Err(_) => return invalid_parameter("q", "Invalid Value"),
    };
    let mask = match list_mask(&params) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let mut drive = s.drive();
    let user = drive.user(&sub, s.clock.now_millis());
    let folder_id = user.folder_id.clone();
    let mut files: Vec<File> = user
        .files
        .iter()
        .filter(|f| query.as_ref().is_none_or(|q| matches(q, f, &folder_id)))
        .cloned()
        .collect();
    drop(drive);
    if let Err(m) = sort_files(&mut files, params.first("orderBy").unwrap_or("")) {
        return invalid_parameter("orderBy", &m);
    }
    let end = (offset + page_size).min(files.len());
    let page: Vec<Value> = files
        .get(offset..end)
        .unwrap_or_default()
        .iter()
        .map(|f| f.to_json(&folder_id))
        .collect();
    let mut out = json!({"kind": "drive#fileList", "incompleteSearch": false, "files": page});
    if end < files.len() {
        out["nextPageToken"] = json!(encode_page_token(end));
    }
    replies::json(StatusCode::OK, &apply_mask(&out, &mask))
}

pub async fn get(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let sub = match authorize(&s, &headers, q.as_deref(), "Get") {
        Ok(sub) => sub,
        Err(r) => return r,
    };
    let params = Params::parse(q.as_deref().unwrap_or_default().as_bytes());
    let mask = match file_mask(&params) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let mut drive = s.drive();
    let user = drive.user(&sub, s.clock.now_millis());
    if is_folder_alias(&id) || id == user.folder_id {
        return replies::json(StatusCode::OK, &apply_mask(&folder_json(user), &mask));
    }
    let Some(file) = user.files.iter().find(|f| f.id == id) else {
        return not_found(&id);
    };
    if params.first("alt") == Some("media") {
        let mime = HeaderValue::from_str(&file.mime_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream"));
        return (
            StatusCode::OK,
            [(header::CONTENT_TYPE, mime)],
            file.content.clone(),
        )
            .into_response();
    }
    replies::json(
        StatusCode::OK,
        &apply_mask(&file.to_json(&user.folder_id), &mask),
    )
}

pub async fn delete(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let sub = match authorize(&s, &headers, q.as_deref(), "Delete") {
        Ok(sub) => sub,
        Err(r) => return r,
    };
    let mut drive = s.drive();
    let user = drive.user(&sub, s.clock.now_millis());
    if is_folder_alias(&id) || id == user.folder_id {
        return api_error(
            StatusCode::FORBIDDEN,
            "The user does not have sufficient permissions for this file.",
            ApiErrorItem {
                domain: "global",
                reason: "insufficientFilePermissions",
                message: "The user does not have sufficient permissions for this file.",
                location: None,
            },
        );
    }
    let before = user.files.len();
    user.files.retain(|f| f.id != id);
    if user.files.len() == before {
        return not_found(&id);
    }
    StatusCode::NO_CONTENT.into_response()
}

/// Metadata a client may set on create.
fn metadata_from_json(bytes: &[u8]) -> Result<Map<String, Value>, Response> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(api_error(
            StatusCode::BAD_REQUEST,
            "Invalid JSON payload received.",
            ApiErrorItem {
                domain: "global",
                reason: "parseError",
                message: "Parse Error",
                location: None,
            },
        )),
    }
}

fn create_file(
    s: &Shared,
    sub: &str,
    meta: &Map<String, Value>,
    media: Option<(String, Bytes)>,
    params: &Params,
) -> Response {
    let mask = match file_mask(params) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let now = s.clock.now_millis();
    let mut drive = s.drive();
    let user = drive.user(sub, now);
    let parents: Vec<&str> = meta
        .get("parents")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let folder_id = user.folder_id.clone();
    if parents.is_empty()
        || parents
            .iter()
            .any(|p| !is_folder_alias(p) && *p != folder_id)
    {
        // Without the appDataFolder as parent the file would land in My Drive, which a
        // drive.appdata grant cannot write.
        return insufficient_scope("Create");
    }
    let (media_type, content) = media.unwrap_or_default();
    let mime_type = meta
        .get("mimeType")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| (!media_type.is_empty()).then_some(media_type))
        .unwrap_or_else(|| "application/octet-stream".to_owned());
    let file = File {
        id: format!("1{}", random_token(24)),
        name: meta
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("Untitled")
            .to_owned(),
        mime_type,
        description: meta
            .get("description")
            .and_then(Value::as_str)
            .map(str::to_owned),
        app_properties: meta
            .get("appProperties")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default(),
        content,
        created_ms: now,
        modified_ms: now,
        version: 1,
    };
    let out = apply_mask(&file.to_json(&folder_id), &mask);
    user.files.push(file);
    replies::json(StatusCode::OK, &out)
}

fn too_large() -> Response {
    api_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "Request Too Large",
        ApiErrorItem {
            domain: "global",
            reason: "uploadTooLarge",
            message: "Request Too Large",
            location: None,
        },
    )
}

pub async fn create_metadata(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Body,
) -> Response {
    let sub = match authorize(&s, &headers, q.as_deref(), "Create") {
        Ok(sub) => sub,
        Err(r) => return r,
    };
    let bytes = match replies::read_body(body, METADATA_LIMIT).await {
        Ok(b) => b,
        Err(_) => return too_large(),
    };
    let meta = match metadata_from_json(&bytes) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let params = Params::parse(q.as_deref().unwrap_or_default().as_bytes());
    create_file(&s, &sub, &meta, None, &params)
}

pub async fn upload(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Body,
) -> Response {
    let sub = match authorize(&s, &headers, q.as_deref(), "Create") {
        Ok(sub) => sub,
        Err(r) => return r,
    };
    let params = Params::parse(q.as_deref().unwrap_or_default().as_bytes());
    let bytes = match replies::read_body(body, UPLOAD_LIMIT).await {
        Ok(b) => b,
        Err(_) => return too_large(),
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_owned();
    match params.first("uploadType") {
        Some("multipart") => {
            let Some(boundary) = boundary_of(&content_type) else {
                return invalid_parameter(
                    "uploadType",
                    "Invalid multipart request with 0 mime parts.",
                );
            };
            let parts = match split_multipart(&bytes, &boundary) {
                Some(p) if p.len() == 2 => p,
                Some(p) => {
                    return invalid_parameter(
                        "uploadType",
                        &format!("Invalid multipart request with {} mime parts.", p.len()),
                    );
                }
                None => return invalid_parameter("uploadType", "Malformed multipart body."),
            };
            let meta = match metadata_from_json(&parts[0].1) {
                Ok(m) => m,
                Err(r) => return r,
            };
            let media_type = parts[1]
                .0
                .clone()
                .unwrap_or_else(|| "application/octet-stream".to_owned());
            create_file(
                &s,
                &sub,
                &meta,
                Some((media_type, parts[1].1.clone())),
                &params,
            )
        }
        Some("media") => create_file(&s, &sub, &Map::new(), Some((content_type, bytes)), &params),
        Some("resumable") => api_error(
            StatusCode::BAD_REQUEST,
            "The emulator does not implement resumable uploads; use uploadType=multipart.",
            ApiErrorItem {
                domain: "global",
                reason: "badRequest",
                message: "Bad Request",
                location: None,
            },
        ),
        _ => invalid_parameter("uploadType", "Invalid Value"),
    }
}
