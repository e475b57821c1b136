//! What the facade hands to the CLI, the desktop app and the receiver: plain serializable
//! views. No secret is ever part of a view.

use serde::Serialize;

use crate::drive::DriveFile;
use crate::oauth::RawExchange;
use crate::store::{Client, Grant, User};

/// A user as DESIGN.md gives it for `--json`: profile, scopes, expiry, refresh-token state.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct UserView {
    pub client: Option<String>,
    pub sub: String,
    pub issuer: String,
    pub email: Option<String>,
    pub email_verified: Option<bool>,
    pub name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub picture: Option<String>,
    pub locale: Option<String>,
    pub hd: Option<String>,
    pub scopes: Vec<String>,
    /// RFC 3339.
    pub access_token_expires_at: Option<String>,
    /// `present` | `absent` | `revoked` | `invalid` | `pending_revocation` | `none`.
    pub refresh_token: &'static str,
    pub refresh_token_invalid_reason: Option<String>,
    pub has_drive_appdata: bool,
    pub updated_at: String,
}

pub const DRIVE_APPDATA_SCOPE: &str = "https://www.googleapis.com/auth/drive.appdata";

impl UserView {
    pub(crate) fn of(user: &User, grant: Option<&Grant>, client: Option<&Client>) -> Self {
        let scopes = grant.map(|g| g.scopes.clone()).unwrap_or_default();
        Self {
            client: client.map(|c| c.name.clone()),
            sub: user.sub.clone(),
            issuer: user.issuer.clone(),
            email: user.email.clone(),
            email_verified: user.email_verified,
            name: user.name.clone(),
            given_name: user.given_name.clone(),
            family_name: user.family_name.clone(),
            picture: user.picture.clone(),
            locale: user.locale.clone(),
            hd: user.hd.clone(),
            has_drive_appdata: scopes.iter().any(|s| s == DRIVE_APPDATA_SCOPE),
            scopes,
            access_token_expires_at: grant
                .and_then(|g| g.access_token_expires_at)
                .map(|t| t.to_rfc3339()),
            refresh_token: grant.map_or("none", |g| g.refresh_token.as_str()),
            refresh_token_invalid_reason: grant.and_then(|g| g.invalid_reason.clone()),
            updated_at: grant
                .map_or(user.updated_at, |g| g.updated_at.max(user.updated_at))
                .to_rfc3339(),
        }
    }
}

/// A window of the Users list ([`Desk::users_page`](super::Desk::users_page)).
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Serialize)]
pub struct UsersPage {
    /// Users in the whole list (no search), or matches returned (search).
    pub total: usize,
    pub offset: usize,
    pub users: Vec<UserView>,
    /// A search found more than it returned: refine the text.
    pub more_matches: bool,
}

/// A user with everything the user page shows.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Serialize)]
pub struct UserDetail {
    #[serde(flatten)]
    pub user: UserView,
    /// The decoded claims of the sign-in's ID token (verified when stored).
    pub claims: serde_json::Value,
    /// How that ID token was verified; empty for users stored before this was recorded.
    pub id_token: IdTokenRecord,
}

/// How a sign-in's ID token was verified, kept with the user: its header and every check the
/// verifier ran, with its result. Never the signed token.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, PartialEq)]
#[serde(default)]
pub struct IdTokenRecord {
    pub header: Option<serde_json::Value>,
    pub checks: Vec<RecordedCheck>,
    pub valid: bool,
    /// RFC 3339; `None` for users stored before this was recorded.
    pub verified_at: Option<String>,
}

/// One verification check as recorded ([`crate::id_token::Check`], kept).
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, PartialEq)]
pub struct RecordedCheck {
    pub name: String,
    pub ok: bool,
    pub detail: String,
}

impl From<crate::id_token::Check> for RecordedCheck {
    fn from(c: crate::id_token::Check) -> Self {
        Self {
            name: c.name.to_owned(),
            ok: c.ok,
            detail: c.detail,
        }
    }
}

/// A configured client, without its secret.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ClientView {
    pub name: String,
    pub client_id: String,
    pub issuer: String,
    pub ios_client_ids: Vec<String>,
    /// The provider is not Google (chosen explicitly with --issuer).
    pub foreign_endpoints: bool,
    pub token_endpoint: Option<String>,
    pub drive_api_base: Option<String>,
    pub created_at: String,
}

impl ClientView {
    pub(crate) fn of(c: &Client) -> Self {
        Self {
            name: c.name.clone(),
            client_id: c.client_id.clone(),
            issuer: c.issuer.clone(),
            ios_client_ids: c.ios_client_ids.clone(),
            foreign_endpoints: c.foreign_endpoints,
            token_endpoint: c.endpoints["token"].as_str().map(str::to_owned),
            drive_api_base: c.endpoints["drive_api_base"].as_str().map(str::to_owned),
            created_at: c.created_at.to_rfc3339(),
        }
    }
}

/// The outcome of an exchange: the stored user, the raw HTTP (masked) and notes.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Serialize)]
pub struct ExchangeReport {
    pub user: UserView,
    pub raw: Vec<RawExchange>,
    /// Things a person should know (no refresh token returned, ...).
    pub notes: Vec<String>,
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Serialize)]
pub struct RevokeReport {
    pub user: UserView,
    /// `revoked` | `already_invalid` | `pending`.
    pub outcome: &'static str,
    pub message: String,
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Serialize)]
pub struct DriveReport {
    pub user: UserView,
    pub folder: DriveFile,
    pub files: Vec<DriveFile>,
}

/// One user's result in `refresh --all`.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Serialize)]
pub struct RefreshOutcome {
    pub sub: String,
    pub email: Option<String>,
    pub ok: bool,
    pub error: Option<String>,
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Serialize, Default)]
pub struct RefreshAllReport {
    pub total: usize,
    pub refreshed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub outcomes: Vec<RefreshOutcome>,
}
