//! Drive v3, the part a server reaches with `drive.appdata`: each user's appDataFolder with
//! files.list (q, orderBy, pages, a `fields` mask), files.get, files.create (metadata and
//! multipart uploads) and files.delete, with Google's error bodies.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use crate::Shared;
use crate::keys::random_token;
use crate::oauth::bearer;
use crate::replies::{self, ApiErrorItem, Params, api_error, invalid_parameter};
use crate::state::{SCOPE_DRIVE, SCOPE_DRIVE_APPDATA};

/// Google documents 5 MB as the most a simple or multipart upload may carry.
const UPLOAD_LIMIT: usize = 5 * 1024 * 1024;
const METADATA_LIMIT: usize = 64 * 1024;
const FOLDER_MIME: &str = "application/vnd.google-apps.folder";

#[derive(Debug, Clone)]
struct File {
    id: String,
    name: String,
    mime_type: String,
    description: Option<String>,
    app_properties: Map<String, Value>,
    content: Bytes,
    created_ms: i64,
    modified_ms: i64,
    version: u64,
}

#[derive(Debug)]
struct UserDrive {
    folder_id: String,
    created_ms: i64,
    files: Vec<File>,
}

/// Every user's appDataFolder, by `sub`.
#[derive(Debug, Default)]
pub struct DriveStore {
    users: HashMap<String, UserDrive>,
}

impl DriveStore {
    fn user(&mut self, sub: &str, now_ms: i64) -> &mut UserDrive {
        self.users
            .entry(sub.to_owned())
            .or_insert_with(|| UserDrive {
                folder_id: format!("0A{}Uk9PVA", random_token(12)),
                created_ms: now_ms,
                files: Vec::new(),
            })
    }
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

fn md5_hex(data: &[u8]) -> String {
    // Drive reports md5Checksum; aws-lc has no MD5 in its safe API, and the value only has to
    // change with the content here, so a truncated SHA-256 in hex stands in for it.
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data);
    d.as_ref()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl File {
    fn to_json(&self, folder_id: &str) -> Value {
        let mut v = json!({
            "kind": "drive#file",
            "id": self.id,
            "name": self.name,
            "mimeType": self.mime_type,
            "parents": [folder_id],
            "spaces": ["appDataFolder"],
            "starred": false,
            "trashed": false,
            "explicitlyTrashed": false,
            "createdTime": rfc3339(self.created_ms),
            "modifiedTime": rfc3339(self.modified_ms),
            "version": self.version.to_string(),
            "size": self.content.len().to_string(),
            "quotaBytesUsed": self.content.len().to_string(),
            "md5Checksum": md5_hex(&self.content),
        });
        if let Some(d) = &self.description {
            v["description"] = json!(d);
        }
        if !self.app_properties.is_empty() {
            v["appProperties"] = Value::Object(self.app_properties.clone());
        }
        v
    }
}

fn folder_json(drive: &UserDrive) -> Value {
    json!({
        "kind": "drive#file",
        "id": drive.folder_id,
        "name": "Application Data",
        "mimeType": FOLDER_MIME,
        "spaces": ["appDataFolder"],
        "starred": false,
        "trashed": false,
        "explicitlyTrashed": false,
        "createdTime": rfc3339(drive.created_ms),
        "modifiedTime": rfc3339(drive.created_ms),
        "version": "1",
        "quotaBytesUsed": "0",
    })
}

const FILE_FIELDS: &[&str] = &[
    "kind",
    "id",
    "name",
    "mimeType",
    "parents",
    "spaces",
    "starred",
    "trashed",
    "explicitlyTrashed",
    "createdTime",
    "modifiedTime",
    "version",
    "size",
    "quotaBytesUsed",
    "md5Checksum",
    "description",
    "appProperties",
];
const LIST_FIELDS: &[&str] = &["kind", "nextPageToken", "incompleteSearch", "files"];

// ---------------------------------------------------------------------------------------------
// Authentication.

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

fn insufficient_scope(method: &str) -> Response {
    let mut r = api_error(
        StatusCode::FORBIDDEN,
        "Request had insufficient authentication scopes.",
        ApiErrorItem {
            domain: "global",
            reason: "insufficientPermissions",
            message: "Insufficient Permission",
            location: None,
        },
    );
    // Google adds an ErrorInfo naming the reason; clients key on ACCESS_TOKEN_SCOPE_INSUFFICIENT.
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
    *r.body_mut() = Body::from(body.to_string());
    r
}

/// The caller's `sub` and whether the token may touch the appDataFolder.
fn authorize(
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

fn is_folder_alias(id: &str) -> bool {
    id == "appDataFolder" || id == "appfolder"
}

// ---------------------------------------------------------------------------------------------
// The `fields` mask: `a,b/c,files(id,name)`.

#[derive(Debug, Default, PartialEq)]
struct Mask(BTreeMap<String, Option<Mask>>);

fn parse_mask(s: &str) -> Result<Mask, String> {
    let chars: Vec<char> = s.chars().collect();
    let mut pos = 0;
    let mask = parse_mask_list(&chars, &mut pos)?;
    if pos != chars.len() {
        return Err(format!("Invalid field selection {s}"));
    }
    Ok(mask)
}

fn parse_mask_list(c: &[char], pos: &mut usize) -> Result<Mask, String> {
    let mut mask = Mask::default();
    loop {
        while *pos < c.len() && c[*pos].is_whitespace() {
            *pos += 1;
        }
        let start = *pos;
        while *pos < c.len()
            && (c[*pos].is_alphanumeric() || matches!(c[*pos], '_' | '/' | '*' | '.' | '@'))
        {
            *pos += 1;
        }
        let path: String = c[start..*pos].iter().collect();
        if path.is_empty() {
            return Err("Invalid field selection: empty field name".to_owned());
        }
        while *pos < c.len() && c[*pos].is_whitespace() {
            *pos += 1;
        }
        let sub = if *pos < c.len() && c[*pos] == '(' {
            *pos += 1;
            let inner = parse_mask_list(c, pos)?;
            if *pos >= c.len() || c[*pos] != ')' {
                return Err("Invalid field selection: missing )".to_owned());
            }
            *pos += 1;
            Some(inner)
        } else {
            None
        };
        insert_path(&mut mask, &path, sub);
        while *pos < c.len() && c[*pos].is_whitespace() {
            *pos += 1;
        }
        if *pos < c.len() && c[*pos] == ',' {
            *pos += 1;
            continue;
        }
        return Ok(mask);
    }
}

fn insert_path(mask: &mut Mask, path: &str, sub: Option<Mask>) {
    match path.split_once('/') {
        None => {
            mask.0.insert(path.to_owned(), sub);
        }
        Some((head, rest)) => {
            let entry = mask
                .0
                .entry(head.to_owned())
                .or_insert_with(|| Some(Mask::default()));
            if let Some(inner) = entry {
                insert_path(inner, rest, sub);
            }
        }
    }
}

/// Checks a mask's names against what the response can hold (Google rejects unknown ones).
fn check_mask(mask: &Mask, top: &[&str], nested: Option<(&str, &[&str])>) -> Result<(), String> {
    for (name, sub) in &mask.0 {
        if name == "*" {
            continue;
        }
        if !top.contains(&name.as_str()) {
            return Err(format!("Invalid field selection {name}"));
        }
        if let (Some(sub), Some((field, inner))) = (sub, nested)
            && name == field
        {
            check_mask(sub, inner, None)?;
        }
    }
    Ok(())
}

fn apply_mask(value: &Value, mask: &Mask) -> Value {
    if mask.0.contains_key("*") {
        return value.clone();
    }
    match value {
        Value::Array(items) => Value::Array(items.iter().map(|v| apply_mask(v, mask)).collect()),
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, sub) in &mask.0 {
                if let Some(v) = map.get(k) {
                    out.insert(
                        k.clone(),
                        sub.as_ref().map_or_else(|| v.clone(), |m| apply_mask(v, m)),
                    );
                }
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

fn file_mask(params: &Params) -> Result<Mask, Response> {
    let fields = params.first("fields").unwrap_or("kind,id,name,mimeType");
    let mask = parse_mask(fields).map_err(|m| invalid_parameter("fields", &m))?;
    check_mask(&mask, FILE_FIELDS, None).map_err(|m| invalid_parameter("fields", &m))?;
    Ok(mask)
}

// ---------------------------------------------------------------------------------------------
// The `q` query language (the subset a server uses on the appDataFolder).

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Op(String),
    Open,
    Close,
}

fn tokenize(q: &str) -> Result<Vec<Tok>, String> {
    let c: Vec<char> = q.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < c.len() {
        match c[i] {
            ch if ch.is_whitespace() => i += 1,
            '(' => {
                out.push(Tok::Open);
                i += 1;
            }
            ')' => {
                out.push(Tok::Close);
                i += 1;
            }
            '\'' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match c.get(i) {
                        None => return Err("unterminated string".to_owned()),
                        Some('\\') => {
                            s.extend(c.get(i + 1));
                            i += 2;
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(&ch) => {
                            s.push(ch);
                            i += 1;
                        }
                    }
                }
                out.push(Tok::Str(s));
            }
            '=' | '!' | '<' | '>' => {
                let mut op = c[i].to_string();
                i += 1;
                if c.get(i) == Some(&'=') {
                    op.push('=');
                    i += 1;
                }
                if op == "!" {
                    return Err("unexpected !".to_owned());
                }
                out.push(Tok::Op(op));
            }
            ch if ch.is_alphanumeric() || ch == '_' => {
                let start = i;
                while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                    i += 1;
                }
                out.push(Tok::Word(c[start..i].iter().collect()));
            }
            other => return Err(format!("unexpected character {other}")),
        }
    }
    Ok(out)
}

#[derive(Debug)]
enum Query {
    And(Box<Query>, Box<Query>),
    Or(Box<Query>, Box<Query>),
    Not(Box<Query>),
    Name(String, String),
    Mime(String, String),
    Trashed(String, bool),
    Time(String, String, i64),
    InParents(String),
}

struct QueryParser {
    toks: Vec<Tok>,
    pos: usize,
}

impl QueryParser {
    fn peek_word(&self, w: &str) -> bool {
        matches!(self.toks.get(self.pos), Some(Tok::Word(x)) if x.eq_ignore_ascii_case(w))
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }
    fn expr(&mut self) -> Result<Query, String> {
        let mut left = self.and()?;
        while self.peek_word("or") {
            self.pos += 1;
            left = Query::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }
    fn and(&mut self) -> Result<Query, String> {
        let mut left = self.not()?;
        while self.peek_word("and") {
            self.pos += 1;
            left = Query::And(Box::new(left), Box::new(self.not()?));
        }
        Ok(left)
    }
    fn not(&mut self) -> Result<Query, String> {
        if self.peek_word("not") {
            self.pos += 1;
            return Ok(Query::Not(Box::new(self.not()?)));
        }
        self.primary()
    }
    fn primary(&mut self) -> Result<Query, String> {
        match self.next() {
            Some(Tok::Open) => {
                let q = self.expr()?;
                match self.next() {
                    Some(Tok::Close) => Ok(q),
                    _ => Err("missing )".to_owned()),
                }
            }
            Some(Tok::Str(value)) => match (self.next(), self.next()) {
                (Some(Tok::Word(inw)), Some(Tok::Word(field)))
                    if inw.eq_ignore_ascii_case("in") && field == "parents" =>
                {
                    Ok(Query::InParents(value))
                }
                _ => Err("expected 'value' in parents".to_owned()),
            },
            Some(Tok::Word(field)) => {
                let op = match self.next() {
                    Some(Tok::Op(op)) => op,
                    Some(Tok::Word(w)) if w.eq_ignore_ascii_case("contains") => {
                        "contains".to_owned()
                    }
                    _ => return Err(format!("expected an operator after {field}")),
                };
                let value = self.next();
                match (field.as_str(), op.as_str(), value) {
                    ("name", "=" | "!=" | "contains", Some(Tok::Str(v))) => Ok(Query::Name(op, v)),
                    ("mimeType", "=" | "!=" | "contains", Some(Tok::Str(v))) => {
                        Ok(Query::Mime(op, v))
                    }
                    ("trashed", "=" | "!=", Some(Tok::Word(b))) if b == "true" || b == "false" => {
                        Ok(Query::Trashed(op, b == "true"))
                    }
                    (
                        "modifiedTime" | "createdTime",
                        "=" | "!=" | "<" | "<=" | ">" | ">=",
                        Some(Tok::Str(t)),
                    ) => {
                        let ms = chrono::DateTime::parse_from_rfc3339(&t)
                            .map_err(|_| format!("invalid time {t}"))?
                            .timestamp_millis();
                        Ok(Query::Time(field, op, ms))
                    }
                    _ => Err(format!("unsupported term on {field}")),
                }
            }
            _ => Err("expected a term".to_owned()),
        }
    }
}

fn parse_query(q: &str) -> Result<Query, String> {
    let mut p = QueryParser {
        toks: tokenize(q)?,
        pos: 0,
    };
    let query = p.expr()?;
    if p.pos != p.toks.len() {
        return Err("trailing input".to_owned());
    }
    Ok(query)
}

fn cmp_op<T: PartialOrd>(op: &str, a: &T, b: &T) -> bool {
    match op {
        "=" => a == b,
        "!=" => a != b,
        "<" => a < b,
        "<=" => a <= b,
        ">" => a > b,
        ">=" => a >= b,
        _ => false,
    }
}

fn text_op(op: &str, field: &str, value: &str) -> bool {
    match op {
        "contains" => field.to_lowercase().contains(&value.to_lowercase()),
        other => cmp_op(other, &field, &value),
    }
}

fn matches(q: &Query, f: &File, folder_id: &str) -> bool {
    match q {
        Query::And(a, b) => matches(a, f, folder_id) && matches(b, f, folder_id),
        Query::Or(a, b) => matches(a, f, folder_id) || matches(b, f, folder_id),
        Query::Not(a) => !matches(a, f, folder_id),
        Query::Name(op, v) => text_op(op, &f.name, v),
        Query::Mime(op, v) => text_op(op, &f.mime_type, v),
        // appDataFolder files cannot be trashed.
        Query::Trashed(op, v) => cmp_op(op, &false, v),
        Query::Time(field, op, ms) => {
            let t = if field == "createdTime" {
                f.created_ms
            } else {
                f.modified_ms
            };
            cmp_op(op, &t, ms)
        }
        Query::InParents(p) => is_folder_alias(p) || p == folder_id,
    }
}

// ---------------------------------------------------------------------------------------------
// Handlers.

fn sort_files(files: &mut [File], order_by: &str) -> Result<(), String> {
    let mut keys: Vec<(String, bool)> = Vec::new();
    for part in order_by.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, desc) = match part.split_once(' ') {
            Some((k, d)) if d.trim().eq_ignore_ascii_case("desc") => (k, true),
            Some(_) => return Err(format!("Invalid sort order: {part}")),
            None => (part, false),
        };
        if ![
            "name",
            "name_natural",
            "createdTime",
            "modifiedTime",
            "recency",
            "folder",
            "quotaBytesUsed",
            "starred",
        ]
        .contains(&key)
        {
            return Err(format!("Invalid sort field: {key}"));
        }
        keys.push((key.to_owned(), desc));
    }
    files.sort_by(|a, b| {
        for (key, desc) in &keys {
            let ord = match key.as_str() {
                "name" | "name_natural" => a.name.cmp(&b.name),
                "createdTime" => a.created_ms.cmp(&b.created_ms),
                "modifiedTime" | "recency" => a.modified_ms.cmp(&b.modified_ms),
                "quotaBytesUsed" => a.content.len().cmp(&b.content.len()),
                _ => std::cmp::Ordering::Equal,
            };
            let ord = if *desc { ord.reverse() } else { ord };
            if ord != std::cmp::Ordering::Equal {
                return ord;
            }
        }
        a.id.cmp(&b.id)
    });
    Ok(())
}

fn encode_page_token(offset: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("appdata:{offset}"))
}

fn decode_page_token(token: &str) -> Option<usize> {
    let raw = URL_SAFE_NO_PAD.decode(token).ok()?;
    String::from_utf8(raw)
        .ok()?
        .strip_prefix("appdata:")?
        .parse()
        .ok()
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
    let fields = params
        .first("fields")
        .unwrap_or("kind,nextPageToken,incompleteSearch,files(kind,id,name,mimeType)");
    let mask = match parse_mask(fields) {
        Ok(m) => m,
        Err(m) => return invalid_parameter("fields", &m),
    };
    if let Err(m) = check_mask(&mask, LIST_FIELDS, Some(("files", FILE_FIELDS))) {
        return invalid_parameter("fields", &m);
    }
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

fn boundary_of(content_type: &str) -> Option<String> {
    let (mime, rest) = content_type.split_once(';')?;
    if !mime.trim().to_ascii_lowercase().starts_with("multipart/") {
        return None;
    }
    rest.split(';').find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| v.trim().trim_matches('"').to_owned())
    })
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    (from..=hay.len() - needle.len()).find(|&i| &hay[i..i + needle.len()] == needle)
}

fn strip_line_end(b: &[u8]) -> &[u8] {
    b.strip_suffix(b"\r\n")
        .or_else(|| b.strip_suffix(b"\n"))
        .unwrap_or(b)
}

fn strip_line_start(b: &[u8]) -> &[u8] {
    b.strip_prefix(b"\r\n")
        .or_else(|| b.strip_prefix(b"\n"))
        .unwrap_or(b)
}

/// Splits a `multipart/related` body into (content type, content) parts. Accepts CRLF and the
/// bare LF line endings googleapiclient's email generator writes.
fn split_multipart(body: &[u8], boundary: &str) -> Option<Vec<(Option<String>, Bytes)>> {
    let delim = format!("--{boundary}");
    let delim = delim.as_bytes();
    let mut pos = find(body, delim, 0)? + delim.len();
    let mut parts = Vec::new();
    loop {
        if body[pos..].starts_with(b"--") {
            return Some(parts);
        }
        let next = find(body, delim, pos)?;
        let part = strip_line_end(strip_line_start(&body[pos..next]));
        let (head_end, sep) = match (find(part, b"\r\n\r\n", 0), find(part, b"\n\n", 0)) {
            (Some(a), Some(b)) if b < a => (b, 2),
            (Some(a), _) => (a, 4),
            (None, Some(b)) => (b, 2),
            (None, None) => (part.len(), 0),
        };
        let head = String::from_utf8_lossy(&part[..head_end]);
        let content_type = head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("content-type")
                .then(|| v.trim().to_owned())
        });
        let content = part.get(head_end + sep..).unwrap_or_default();
        parts.push((content_type, Bytes::copy_from_slice(content)));
        pos = next + delim.len();
        if parts.len() > 16 {
            return None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_mask_parses_nested_and_slash_paths() {
        let m = parse_mask("nextPageToken, files(id,name),kind").expect("mask");
        let v = json!({"kind": "k", "incompleteSearch": false, "files": [{"id": "1", "name": "a", "size": "3"}]});
        assert_eq!(
            apply_mask(&v, &m),
            json!({"kind": "k", "files": [{"id": "1", "name": "a"}]})
        );
        let m = parse_mask("files/id").expect("mask");
        assert_eq!(apply_mask(&v, &m), json!({"files": [{"id": "1"}]}));
        assert!(
            parse_mask("files(id").is_err(),
            "an unbalanced mask is refused"
        );
    }

    #[test]
    fn unknown_field_in_mask_is_refused() {
        let m = parse_mask("files(id,nmae)").expect("parses");
        assert!(check_mask(&m, LIST_FIELDS, Some(("files", FILE_FIELDS))).is_err());
    }

    #[test]
    fn query_language_subset() {
        let f = File {
            id: "x".into(),
            name: "settings.json".into(),
            mime_type: "application/json".into(),
            description: None,
            app_properties: Map::new(),
            content: Bytes::new(),
            created_ms: 0,
            modified_ms: 1_000,
            version: 1,
        };
        let yes = [
            "name = 'settings.json'",
            "name contains 'SETTINGS' and trashed = false",
            "'appDataFolder' in parents",
            "not name = 'other' or trashed = true",
            "(mimeType = 'application/json') and modifiedTime > '1970-01-01T00:00:00Z'",
            "name = 'it\\'s' or name != 'it\\'s'",
        ];
        for q in yes {
            let parsed = parse_query(q).unwrap_or_else(|e| panic!("{q}: {e}"));
            assert!(matches(&parsed, &f, "folder"), "{q} should match");
        }
        assert!(!matches(
            &parse_query("trashed = true").expect("q"),
            &f,
            "folder"
        ));
        for bad in [
            "name =",
            "name == 'x'",
            "foo = 'x'",
            "name = 'x' and",
            "'x' in owners",
            "name = 'unterminated",
        ] {
            assert!(parse_query(bad).is_err(), "{bad} must be refused");
        }
    }

    #[test]
    fn multipart_with_bare_lf_and_crlf() {
        for nl in ["\n", "\r\n"] {
            let body = format!(
                "--BOUND{nl}Content-Type: application/json; charset=UTF-8{nl}{nl}{{\"name\":\"a\"}}{nl}--BOUND{nl}Content-Type: text/plain{nl}Content-Transfer-Encoding: binary{nl}{nl}hello{nl}world{nl}--BOUND--{nl}"
            );
            let parts = split_multipart(body.as_bytes(), "BOUND").expect("parts");
            assert_eq!(parts.len(), 2);
            assert_eq!(&parts[0].1[..], b"{\"name\":\"a\"}");
            assert_eq!(parts[1].0.as_deref(), Some("text/plain"));
            assert_eq!(&parts[1].1[..], format!("hello{nl}world").as_bytes());
        }
        assert_eq!(
            boundary_of("multipart/related; boundary=\"===============123==\"").as_deref(),
            Some("===============123==")
        );
    }

    #[test]
    fn page_tokens_round_trip_and_garbage_is_refused() {
        assert_eq!(decode_page_token(&encode_page_token(1234)), Some(1234));
        assert_eq!(decode_page_token("not-a-token"), None);
    }
}
