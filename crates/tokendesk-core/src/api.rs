//! The team server's admin API as both sides see it: its paths, its request and response
//! bodies beyond the console's views, roles, and the error body. The server (crate
//! `tokendesk-server`) serves it; [`crate::remote::RemoteConsole`] calls it.
//!
//! Every call but `version`, `login` and `sessions` (sign-in) needs `Authorization: Bearer
//! <session or API token>`; a call beyond the caller's role is 403. Every answer carries
//! `X-TokenDesk-Api: <API_VERSION>`.

use serde::{Deserialize, Serialize};

use crate::desk::{ErrorKind, RevealWhich};
use crate::store::Timestamp;

/// The admin API's version: a change that an older client cannot read raises it.
pub const API_VERSION: u32 = 1;

/// The header every answer carries, so a client can tell it talks to a server it understands.
pub const API_VERSION_HEADER: &str = "x-tokendesk-api";

/// TokenDesk's version (the workspace's), shown by `--version`, the window's About and the API.
pub use crate::VERSION;

/// What a staff member or an API token may do; each role includes the ones below it.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Users, profiles, token health, the audit log, inspect.
    Viewer,
    /// Also exchange, refresh, revoke, Drive.
    Operator,
    /// Also reveal tokens, manage clients, staff and API tokens.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "viewer" => Role::Viewer,
            "operator" => Role::Operator,
            "admin" => Role::Admin,
            _ => return None,
        })
    }

    /// Whether this role may do what needs `needed`.
    pub fn allows(self, needed: Role) -> bool {
        self >= needed
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `GET /api/v1/version` (no credentials needed).
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionInfo {
    pub version: String,
    /// The git commit the server was built from, or "unknown".
    pub commit: String,
    pub api: u32,
}

/// `GET /api/v1/login` (no credentials needed): how staff sign in. A Desktop-app OAuth client
/// of the staff provider; its secret is not confidential (Google's installed-app clients, RFC
/// 8252 §8.5), and the flow is protected by PKCE and a loopback redirect.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginConfig {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub client_id: String,
    pub client_secret: Option<String>,
    /// `openid email` (and `profile`).
    pub scopes: Vec<String>,
    /// The Google Workspace domain staff belong to, passed as `hd` (a hint; the server checks).
    pub hd: Option<String>,
}

/// `POST /api/v1/sessions`: the staff member's ID token, from the sign-in the client ran.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionRequest {
    pub id_token: String,
}

/// Who a credential is.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    /// A staff member's session, from a sign-in.
    Session,
    /// An API token, for automation.
    ApiToken,
}

/// `GET /api/v1/whoami`, and what `POST /api/v1/sessions` answers (then with `token`).
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WhoAmI {
    /// The staff member's email, or the API token's name.
    pub name: String,
    pub role: Role,
    pub kind: CredentialKind,
    /// RFC 3339; sessions expire, API tokens last until revoked.
    pub expires_at: Option<String>,
    /// The new session's token: only in the answer to a sign-in, shown once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// A staff member on the server's list (`GET /api/v1/staff`, admin).
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffMember {
    pub email: String,
    pub role: Role,
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub added_at: Timestamp,
    /// Who added them: a staff member, an API token, or the OS user of `server staff add`.
    pub added_by: String,
}

/// `POST /api/v1/staff` (admin): add a staff member, or change their role.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StaffAddRequest {
    pub email: String,
    pub role: Role,
}

/// An API token as listed (`GET /api/v1/api-tokens`, admin): never the token.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiTokenInfo {
    pub name: String,
    pub role: Role,
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub created_at: Timestamp,
    pub created_by: String,
    #[cfg_attr(feature = "ts", ts(type = "string | null"))]
    pub last_used_at: Option<Timestamp>,
    #[cfg_attr(feature = "ts", ts(type = "string | null"))]
    pub revoked_at: Option<Timestamp>,
}

/// `POST /api/v1/api-tokens` (admin).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApiTokenRequest {
    pub name: String,
    pub role: Role,
}

/// A new API token: the only time it is shown.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewApiToken {
    pub token: String,
    pub name: String,
    pub role: Role,
}

/// `POST /api/v1/clients`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AddClientRequest {
    pub name: String,
    /// The client_secret.json, as downloaded.
    pub secrets: serde_json::Value,
    pub issuer: Option<String>,
    pub api_base: Option<String>,
    #[serde(default)]
    pub ios_client_ids: Vec<String>,
}

/// `POST /api/v1/exchange`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExchangeRequest {
    pub code: String,
    pub client: Option<String>,
    /// `""` (a mobile app's serverAuthCode), `postmessage`, or the redirect URL.
    #[serde(default)]
    pub redirect_uri: String,
    /// The PKCE verifier of the authorization request that got the code (RFC 7636), when it
    /// had a `code_challenge`: the sign-in lab's flow. Absent for a serverAuthCode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_verifier: Option<String>,
}

/// `POST /api/v1/inspect`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InspectRequest {
    pub token: String,
    pub client: Option<String>,
}

/// Which request of a kept operation: `GET` (masked) and `POST` (revealed)
/// `/api/v1/users/{user}/http/{entry}/curl`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema, utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CurlRequest {
    /// The request's place in the operation, from 0.
    #[serde(default)]
    pub index: usize,
}

/// `POST /api/v1/users/{user}/reveal`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RevealRequest {
    pub which: RevealWhich,
}

/// The answer to a reveal.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RevealResponse {
    pub token: String,
}

/// `POST /api/v1/users/{user}/drive/files` (operator): a file for the user's appDataFolder.
/// Answered with a [`crate::desk::DriveFileReport`].
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DriveUploadRequest {
    pub name: String,
    /// `None`: `application/octet-stream`.
    pub mime_type: Option<String>,
    /// The file's bytes, standard base64 (at most 5,000,000 bytes once decoded).
    pub content_base64: String,
}

/// The answer to `GET /api/v1/users/{user}/drive/files/{file_id}` (operator): the file's
/// metadata and its bytes (standard base64; at most 25 MiB once decoded).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DriveDownloadResponse {
    pub user: crate::desk::UserView,
    pub file: crate::drive::DriveFile,
    pub content_base64: String,
}

/// What a `DELETE` of a client (`CLIENTS/{name}`) or a staff member (`STAFF/{email}`) answers.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Removed {
    pub removed: String,
}

/// What `DELETE /api/v1/api-tokens/{name}` answers.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Revoked {
    pub revoked: String,
}

/// What `DELETE /api/v1/sessions/current` answers: who was signed out.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignedOut {
    pub signed_out: String,
}

/// `POST /api/v1/refresh-all`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefreshAllRequest {
    pub concurrency: usize,
}

/// Every error answer: `{"error": {...}}`, with the HTTP status of its kind.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub code: String,
    pub kind: ErrorKind,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explanation: Option<String>,
    /// The server's calls to Google behind a failed exchange, secrets masked (what the
    /// Exchange page shows when a code is refused). Absent on every other error.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub raw: Vec<crate::oauth::RawExchange>,
}

/// The HTTP status of an error kind.
pub fn status_of(kind: ErrorKind) -> u16 {
    match kind {
        ErrorKind::NotFound => 404,
        ErrorKind::Refused => 422,
        ErrorKind::Unavailable => 503,
        ErrorKind::Storage => 500,
        ErrorKind::Unverified => 422,
        ErrorKind::Invalid => 400,
        ErrorKind::Unauthenticated => 401,
        ErrorKind::Forbidden => 403,
        ErrorKind::Failure => 500,
    }
}

/// The paths, in one place for both sides. `user` is a sub or an email; under
/// `USERS/{user}`: `refresh`, `revoke`, `reveal`, `audit`, `drive` (the listing) and
/// `drive/files[/{file_id}]` (a file: GET downloads, POST uploads, DELETE deletes).
pub mod paths {
    pub const VERSION: &str = "/api/v1/version";
    pub const LOGIN: &str = "/api/v1/login";
    pub const SESSIONS: &str = "/api/v1/sessions";
    pub const SESSION_CURRENT: &str = "/api/v1/sessions/current";
    pub const WHOAMI: &str = "/api/v1/whoami";
    pub const CLIENTS: &str = "/api/v1/clients";
    pub const USERS: &str = "/api/v1/users";
    pub const EXCHANGE: &str = "/api/v1/exchange";
    pub const INSPECT: &str = "/api/v1/inspect";
    pub const REFRESH_ALL: &str = "/api/v1/refresh-all";
    pub const AUDIT: &str = "/api/v1/audit";
    pub const EVENTS: &str = "/api/v1/events";
    pub const OPENAPI: &str = "/api/v1/openapi.json";
    /// `GET`, `POST` (admin); `STAFF/{email}`: `DELETE`.
    pub const STAFF: &str = "/api/v1/staff";
    /// `GET`, `POST` (admin); `API_TOKENS/{name}`: `DELETE` (revokes).
    pub const API_TOKENS: &str = "/api/v1/api-tokens";
    /// `GET` (viewer): every user, profiles and token health (no token), for an export.
    pub const EXPORT_USERS: &str = "/api/v1/export/users";
    /// `POST` (operator): a health sweep, body `HealthOptions`, answer `HealthReport`.
    pub const HEALTH_SWEEP: &str = "/api/v1/health/sweep";
    /// `GET` (viewer): the "needs attention" list (`?expiring_within_secs=N`).
    pub const NEEDS_ATTENTION: &str = "/api/v1/health/attention";
    /// The segments under `USERS/{user}` of the user's appDataFolder files.
    pub const DRIVE_FILES: [&str; 2] = ["drive", "files"];
}
