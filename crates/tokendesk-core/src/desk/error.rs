//! The facade's error: every failure an operation can end in, with a stable machine code for
//! JSON and the UI, and a message that says what to do. Never a token, code or secret.

use crate::client_secret::ClientSecretError;
use crate::drive::DriveError;
use crate::id_token::IdTokenError;
use crate::oauth::OAuthError;
use crate::provider::ProviderError;
use crate::store::StoreError;
use crate::vault::VaultError;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeskError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// Boxed: Google's errors carry explanations and would bloat every `Result`.
    #[error(transparent)]
    OAuth(Box<OAuthError>),
    #[error("the ID token failed verification: {0}")]
    IdToken(#[from] IdTokenError),
    #[error(transparent)]
    Drive(#[from] DriveError),
    #[error(transparent)]
    ClientSecret(#[from] ClientSecretError),
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error("cannot set up HTTP: {0}")]
    Http(String),
    #[error("no client named {name:?}; `tokendesk client list` shows the configured ones")]
    ClientNotFound { name: String },
    #[error("a client named {name:?} exists already; remove it first or pick another name")]
    ClientExists { name: String },
    #[error(
        "no client is configured; import your web client's client_secret.json with \
         `tokendesk client add --name NAME --secrets FILE`"
    )]
    NoClient,
    #[error("several clients are configured ({names}); choose one with --client NAME")]
    AmbiguousClient { names: String },
    #[error(
        "this client_secret.json points at {urls}, not Google. To use that provider on purpose \
         (for example the built-in emulator), pass --issuer URL and --api-base URL"
    )]
    ForeignEndpoints { urls: String },
    #[error("cannot read the provider's discovery document at {url}: {reason}")]
    Discovery { url: String, reason: String },
    #[error("no user matches {query:?}; `tokendesk users --search TEXT` finds users")]
    UserNotFound { query: String },
    #[error("{count} users match {query:?}; use their sub instead")]
    AmbiguousUser { query: String, count: usize },
    #[error("user {sub} has no grant{for_client}; exchange a new code for them")]
    NoGrant { sub: String, for_client: String },
    #[error(
        "this code was already exchanged ({when}); a code works once. Ask the app for a new \
         serverAuthCode (the user signs in again)"
    )]
    Replay { when: String },
    #[error(
        "Google's answer has no ID token, so the user cannot be identified. The app must request \
         the openid (or email/profile) scope"
    )]
    NoIdToken,
    #[error("the refresh token of {sub} is {state}: {advice}")]
    RefreshTokenUnusable {
        sub: String,
        state: &'static str,
        advice: String,
    },
    #[error(
        "the grant of {sub} is incomplete: an earlier exchange was interrupted before its tokens \
         were stored. Exchange a new code for this user"
    )]
    Incomplete { sub: String },
    #[error("the refreshed ID token changed {claim}; refusing it (OpenID Connect Core §12.2)")]
    RefreshedIdentityChanged { claim: &'static str },
    #[error("cancelled")]
    Cancelled,
    #[error(
        "cannot lock {path}: {reason}. TokenDesk's processes coordinate through files in its \
         data directory: check that TOKENDESK_HOME is writable by this user"
    )]
    Lock { path: String, reason: String },
}

impl From<OAuthError> for DeskError {
    fn from(err: OAuthError) -> Self {
        Self::OAuth(Box::new(err))
    }
}

impl DeskError {
    /// A stable code for `{"error": {"code": ..}}` and for the UI to switch on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Store(e) => e.code(),
            Self::Vault(e) => e.code(),
            Self::OAuth(e) => e.code(),
            Self::IdToken(e) => e.code(),
            Self::Drive(e) => e.code(),
            Self::ClientSecret(_) => "invalid_client_secret_file",
            Self::Provider(_) => "invalid_provider",
            Self::Http(_) => "http_setup",
            Self::ClientNotFound { .. } => "client_not_found",
            Self::ClientExists { .. } => "client_exists",
            Self::NoClient => "no_client",
            Self::AmbiguousClient { .. } => "ambiguous_client",
            Self::ForeignEndpoints { .. } => "foreign_endpoints",
            Self::Discovery { .. } => "discovery_failed",
            Self::UserNotFound { .. } => "user_not_found",
            Self::AmbiguousUser { .. } => "ambiguous_user",
            Self::NoGrant { .. } => "no_grant",
            Self::Replay { .. } => "already_exchanged",
            Self::NoIdToken => "no_id_token",
            Self::RefreshTokenUnusable { .. } => "refresh_token_unusable",
            Self::Incomplete { .. } => "incomplete_grant",
            Self::RefreshedIdentityChanged { .. } => "refreshed_identity_changed",
            Self::Cancelled => "cancelled",
            Self::Lock { .. } => "lock_failed",
        }
    }

    /// Longer advice when there is some (Google's error explained).
    pub fn explanation(&self) -> Option<String> {
        match self {
            Self::OAuth(e) => {
                let x = e.explanation();
                let mut text = x.summary.clone();
                if !x.likely_causes.is_empty() {
                    text.push_str("\nLikely causes:");
                    for cause in &x.likely_causes {
                        text.push_str("\n  - ");
                        text.push_str(cause);
                    }
                }
                if !x.what_to_do.is_empty() {
                    text.push_str("\nWhat to do:");
                    for step in &x.what_to_do {
                        text.push_str("\n  - ");
                        text.push_str(step);
                    }
                }
                Some(text)
            }
            _ => None,
        }
    }
}
