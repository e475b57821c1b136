//! What the facade hands to the CLI, the desktop app and the receiver: plain serializable
//! views. No secret is ever part of a view.

use serde::Serialize;

use crate::drive::DriveFile;
use crate::oauth::RawExchange;
use crate::store::{Client, Grant, RefreshTokenState, User};

/// Names a view enum's values as its JSON does, for tables and messages.
macro_rules! view_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal,)* }) => {
        $(#[$meta])*
        #[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
        }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)*
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

view_enum! {
    /// What became of a grant's access token.
    AccessTokenState {
        /// Live until `access_token_expires_at`.
        Issued => "issued",
        /// Revoking the grant killed it, whatever its expiry said.
        Revoked => "revoked",
        None => "none",
    }
}

view_enum! {
    /// A user's refresh token as views show it: the grant's state, or `none` without a grant.
    RefreshTokenView {
        Present => "present",
        /// The exchange returned none (no offline access, or not the first consent).
        Absent => "absent",
        Revoked => "revoked",
        /// Google refused it: the user must sign in again (the reason is beside it).
        Invalid => "invalid",
        /// A revocation was asked for and not confirmed; retried.
        PendingRevocation => "pending_revocation",
        None => "none",
    }
}

impl From<RefreshTokenState> for RefreshTokenView {
    fn from(state: RefreshTokenState) -> Self {
        match state {
            RefreshTokenState::Present => Self::Present,
            RefreshTokenState::Absent => Self::Absent,
            RefreshTokenState::Revoked => Self::Revoked,
            RefreshTokenState::Invalid => Self::Invalid,
            RefreshTokenState::PendingRevocation => Self::PendingRevocation,
        }
    }
}

view_enum! {
    /// How a revocation ended.
    RevokeResult {
        /// Google answered 200: the grant is dead.
        Revoked => "revoked",
        /// Google said the token was already dead: so is the grant.
        AlreadyInvalid => "already_invalid",
        /// Google could not be reached: the grant may live; retry.
        Pending => "pending",
    }
}

/// A user as people see one (DESIGN.md's `--json` user): the stored profile with the grant's
/// state (scopes, expiry, refresh token); unlike the store's records, no id and no secret.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
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
    /// RFC 3339; `None` when there is no access token, or when it died with a revoked grant.
    pub access_token_expires_at: Option<String>,
    /// See [`UserView::access_token_state_of`].
    pub access_token_state: AccessTokenState,
    pub refresh_token: RefreshTokenView,
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
                .filter(|g| Self::access_token_state_of(g) != AccessTokenState::Revoked)
                .and_then(|g| g.access_token_expires_at)
                .map(|t| t.to_rfc3339()),
            access_token_state: grant.map_or(AccessTokenState::None, Self::access_token_state_of),
            refresh_token: grant.map_or(RefreshTokenView::None, |g| g.refresh_token.into()),
            refresh_token_invalid_reason: grant.and_then(|g| g.invalid_reason.clone()),
            updated_at: grant
                .map_or(user.updated_at, |g| g.updated_at.max(user.updated_at))
                .to_rfc3339(),
        }
    }

    /// What became of the grant's access token. Only a confirmed revocation kills it: Google
    /// revokes the whole grant, access token included, and TokenDesk deletes it from the
    /// keyring. An `invalid` refresh token says nothing of an access token already issued
    /// (a refresh token can expire or be refused while that token lives out its hour), and
    /// `pending_revocation` means the revoke call did not complete, so the token may still
    /// work: both keep their expiry.
    pub fn access_token_state_of(grant: &Grant) -> AccessTokenState {
        match (grant.refresh_token, grant.access_token_expires_at) {
            (RefreshTokenState::Revoked, _) => AccessTokenState::Revoked,
            (_, Some(_)) => AccessTokenState::Issued,
            (_, None) => AccessTokenState::None,
        }
    }
}

/// A window of the Users list ([`Desk::users_page`](super::Desk::users_page)).
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, PartialEq)]
pub struct RecordedCheck {
    pub name: String,
    pub ok: bool,
    pub detail: String,
}

impl From<crate::id_token::Check> for RecordedCheck {
    fn from(c: crate::id_token::Check) -> Self {
        Self {
            name: c.name.into_owned(),
            ok: c.ok,
            detail: c.detail,
        }
    }
}

/// A configured client, without its secret.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct ClientView {
    pub name: String,
    pub client_id: String,
    pub issuer: String,
    pub ios_client_ids: Vec<String>,
    /// The provider is not Google (chosen explicitly with --issuer).
    pub foreign_endpoints: bool,
    pub token_endpoint: Option<String>,
    /// Where a browser sign-in with this client starts (the sign-in lab).
    pub authorization_endpoint: Option<String>,
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
            authorization_endpoint: c.endpoints["authorization"].as_str().map(str::to_owned),
            drive_api_base: c.endpoints["drive_api_base"].as_str().map(str::to_owned),
            created_at: c.created_at.to_rfc3339(),
        }
    }
}

/// The outcome of an exchange: the stored user, the raw HTTP (masked) and notes.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct ExchangeReport {
    pub user: UserView,
    pub raw: Vec<RawExchange>,
    /// Things a person should know (no refresh token returned, ...).
    pub notes: Vec<String>,
    /// How the ID token was verified: every check with its result (as the user page shows).
    #[serde(default)]
    pub id_token: IdTokenRecord,
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct RevokeReport {
    pub user: UserView,
    pub outcome: RevokeResult,
    pub message: String,
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct DriveReport {
    pub user: UserView,
    pub folder: DriveFile,
    pub files: Vec<DriveFile>,
}

/// A file of a user's appDataFolder that was uploaded, or deleted (its metadata as it was).
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct DriveFileReport {
    pub user: UserView,
    pub file: DriveFile,
}

/// A file downloaded from a user's appDataFolder: its metadata and its bytes (a user's data:
/// written where the person chose, never logged).
#[derive(Clone)]
pub struct DriveDownload {
    pub user: UserView,
    pub file: DriveFile,
    pub content: Vec<u8>,
}

impl std::fmt::Debug for DriveDownload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DriveDownload")
            .field("user", &self.user.sub)
            .field("file", &self.file)
            .field("bytes", &self.content.len())
            .finish()
    }
}

/// One user's result in `refresh --all`.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct RefreshOutcome {
    pub sub: String,
    pub email: Option<String>,
    pub ok: bool,
    pub error: Option<String>,
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, serde::Deserialize, Default)]
pub struct RefreshAllReport {
    pub total: usize,
    pub refreshed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub outcomes: Vec<RefreshOutcome>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::store::{ClientUid, GrantUid, Timestamp, UserId};

    fn user() -> User {
        User {
            id: UserId(1),
            issuer: "https://accounts.google.com".into(),
            sub: "1001".into(),
            email: Some("ada@example.com".into()),
            email_verified: Some(true),
            name: None,
            given_name: None,
            family_name: None,
            picture: None,
            locale: None,
            hd: None,
            claims: serde_json::json!({}),
            id_token: serde_json::json!({}),
            created_at: Timestamp::from_unix(1_800_000_000),
            updated_at: Timestamp::from_unix(1_800_000_000),
        }
    }

    fn grant(refresh_token: RefreshTokenState, expires: Option<i64>) -> Grant {
        Grant {
            uid: GrantUid::parse("g_0123456789abcdef0123456789abcdef").unwrap(),
            user_id: UserId(1),
            client: ClientUid::parse("c_fedcba9876543210fedcba9876543210").unwrap(),
            scopes: vec!["openid".into()],
            access_token_expires_at: expires.map(Timestamp::from_unix),
            refresh_token,
            invalid_reason: None,
            refresh_token_sealed: None,
            access_token_sealed: None,
            azp: None,
            created_at: Timestamp::from_unix(1_800_000_000),
            updated_at: Timestamp::from_unix(1_800_000_000),
        }
    }

    #[test]
    fn a_revoked_grant_shows_no_live_access_token() {
        let at = |state, expires| {
            let v = UserView::of(&user(), Some(&grant(state, expires)), None);
            (v.access_token_state, v.access_token_expires_at.is_some())
        };
        let later = Some(1_800_003_600);
        assert_eq!(
            at(RefreshTokenState::Revoked, later),
            (AccessTokenState::Revoked, false),
            "revoking killed the access token: no expiry to count down"
        );
        assert_eq!(
            at(RefreshTokenState::Present, later),
            (AccessTokenState::Issued, true)
        );
        assert_eq!(
            at(RefreshTokenState::Invalid, later),
            (AccessTokenState::Issued, true),
            "a refused refresh token leaves an issued access token alone"
        );
        assert_eq!(
            at(RefreshTokenState::PendingRevocation, later),
            (AccessTokenState::Issued, true),
            "an unconfirmed revocation may have left the token alive"
        );
        assert_eq!(
            at(RefreshTokenState::Absent, None),
            (AccessTokenState::None, false)
        );
        assert_eq!(
            UserView::of(&user(), None, None).access_token_state,
            AccessTokenState::None
        );
    }
}
