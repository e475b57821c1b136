//! The facade's error: every failure an operation can end in, with a stable machine code for
//! JSON and the UI, and a message that says what to do. Never a token, code or secret.

use crate::client_file::ClientFileError;
use crate::drive::DriveError;
use crate::id_token::IdTokenError;
use crate::oauth::OAuthError;
use crate::provider::ProviderError;
use crate::seal::SealError;
use crate::store::{RefreshTokenState, StoreError};
use crate::vault::VaultError;

/// What kind of failure an error is: one classification for the command's exit status, the
/// admin API's HTTP status and the window's presentation, carried over the wire with the code.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The user, client or grant named does not exist.
    NotFound,
    /// Google (or the provider) refused: retrying the same will not help.
    Refused,
    /// Google, the database or a key is unreachable for now: retrying later may help.
    Unavailable,
    /// TokenDesk's own store or key failed.
    Storage,
    /// An ID token failed verification.
    Unverified,
    /// The request itself is wrong (a bad file, an ambiguous name, a weak passphrase).
    Invalid,
    /// No credentials, or credentials that are expired, forged or revoked (team server).
    Unauthenticated,
    /// The credentials are good but the role does not allow it (team server).
    Forbidden,
    Failure,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeskError {
    /// An error a team server answered (the remote console): its code, kind and message as
    /// the server gave them.
    #[error("{message}")]
    Remote {
        code: String,
        kind: ErrorKind,
        message: String,
        explanation: Option<String>,
        /// The server's own calls to Google behind the failure (secrets masked), when it
        /// recorded them (an exchange).
        raw: Vec<crate::oauth::RawExchange>,
    },
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
    ClientSecret(#[from] ClientFileError),
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error(transparent)]
    Seal(#[from] SealError),
    #[error(
        "cannot use the data folder {path}: {reason}. Choose a folder you can write to with \
         --data-dir DIR or TOKENDESK_HOME"
    )]
    DataDir { path: String, reason: String },
    #[error("the HTTP client could not be set up: {reason}")]
    HttpSetup { reason: String },
    #[error(
        "the stored endpoints of client {client} are unreadable ({reason}); remove the client \
         and add it again"
    )]
    StoredEndpoints { client: String, reason: String },
    #[error("{what} did not finish ({detail}); retry")]
    TaskLost { what: &'static str, detail: String },
    #[error(
        "the client secret of {client} is not in the store (it was added by TokenDesk 0.1 and \
         its keyring entry was missing when the store was upgraded); remove the client and add \
         it again with its client_secret.json"
    )]
    ClientSecretMissing { client: String },
    #[error(
        "the key of the store {store} is not in the OS keyring (entry {entry}), so its sealed \
         tokens cannot be read; nothing was changed. If the store came from another machine, \
         run `tokendesk key export FILE` there and `tokendesk key import FILE` here"
    )]
    KeyMissing { store: String, entry: String },
    #[error("{what} works on the embedded store only; on a team server use {instead}")]
    NotEmbedded {
        what: &'static str,
        instead: &'static str,
    },
    #[error("{what} works on a team server's store (its key file) only; here use {instead}")]
    NotServer {
        what: &'static str,
        instead: &'static str,
    },
    #[error("the passphrase is too short: use at least 12 characters (a few words)")]
    WeakPassphrase,
    #[error(
        "Google's answer arrived and is kept (sealed), but its ID token cannot be verified yet \
         ({reason}); the sign-in is finished automatically when the provider's keys can be read \
         again (within a minute in a running receiver, or at the next start). Nothing is lost"
    )]
    VerificationDeferred { reason: String },
    #[error("a kept token answer cannot be read ({reason}); the user must sign in again")]
    KeptAnswerUnreadable { reason: String },
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
         (for example the built-in emulator), pass --issuer URL{hint} (and --api-base URL when \
         it serves Drive elsewhere)"
    )]
    ForeignEndpoints { urls: String, hint: String },
    #[error(
        "the provider at {url} says its issuer is Google's (https://accounts.google.com), as a \
         `tokendesk emulator` does by default for Google's own libraries; an issuer must name \
         itself. Restart it as `tokendesk emulator --issuer origin --client-secret-out FILE`, \
         then add the client again with --issuer URL (its new URL)"
    )]
    EmulatorSignsAsGoogle { url: String },
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
    #[error("the refresh token of {sub} is {}: {advice}", state.as_str().replace('_', " "))]
    RefreshTokenUnusable {
        sub: String,
        state: RefreshTokenState,
        advice: String,
    },
    #[error("{sub} has no {which} stored; {advice}")]
    TokenMissing {
        sub: String,
        which: &'static str,
        advice: &'static str,
    },
    #[error("the refreshed ID token changed {claim}; refusing it (OpenID Connect Core §12.2)")]
    RefreshedIdentityChanged { claim: &'static str },
    #[error("the audit log could not be written ({reason}), so the {what} is not handed out")]
    AuditFailed { what: &'static str, reason: String },
    /// Stopped (Ctrl-C, the window's Stop) while a team server did the work: the server was
    /// told by hanging up, and finishes what it had begun.
    #[error("stopped waiting for the team server's {what}: {then}")]
    StoppedWaiting {
        what: &'static str,
        /// What the server does now, and where to see it.
        then: &'static str,
    },
    #[error(
        "request {entry}.{index} is not in this user's HTTP log (each user keeps their newest \
         {keep} operations); `tokendesk http USER` lists what is kept"
    )]
    HttpEntryNotKept {
        entry: i64,
        index: usize,
        keep: usize,
    },
}

impl From<OAuthError> for DeskError {
    fn from(err: OAuthError) -> Self {
        Self::OAuth(Box::new(err))
    }
}

impl DeskError {
    /// The error's kind (see [`ErrorKind`]).
    pub fn kind(&self) -> ErrorKind {
        use crate::oauth::OAuthError as O;
        match self {
            Self::Remote { kind, .. } => *kind,
            Self::ClientNotFound { .. }
            | Self::UserNotFound { .. }
            | Self::NoGrant { .. }
            | Self::HttpEntryNotKept { .. }
            | Self::NoClient => ErrorKind::NotFound,
            Self::OAuth(e) if e.is_transient() || matches!(**e, O::OutcomeUnknown { .. }) => {
                ErrorKind::Unavailable
            }
            Self::Drive(DriveError::NotFound { .. }) => ErrorKind::NotFound,
            Self::Drive(
                DriveError::DownloadTooLarge { .. }
                | DriveError::UploadTooLarge { .. }
                | DriveError::NotDownloadable { .. }
                | DriveError::InvalidRequest { .. },
            ) => ErrorKind::Invalid,
            Self::VerificationDeferred { .. } | Self::Drive(_) => ErrorKind::Unavailable,
            // As a sweep stopped on this machine: some grants unchecked, run it again later.
            Self::StoppedWaiting { .. } => ErrorKind::Unavailable,
            Self::Store(StoreError::Unavailable { .. }) => ErrorKind::Unavailable,
            Self::Store(StoreError::NotFound { .. }) => ErrorKind::NotFound,
            Self::OAuth(_)
            | Self::Replay { .. }
            | Self::RefreshTokenUnusable { .. }
            | Self::TokenMissing { .. } => ErrorKind::Refused,
            Self::Store(_)
            | Self::Vault(_)
            | Self::Seal(_)
            | Self::KeyMissing { .. }
            | Self::DataDir { .. }
            | Self::AuditFailed { .. }
            | Self::KeptAnswerUnreadable { .. } => ErrorKind::Storage,
            Self::IdToken(_) | Self::RefreshedIdentityChanged { .. } | Self::NoIdToken => {
                ErrorKind::Unverified
            }
            Self::ClientSecret(_)
            | Self::Provider(_)
            | Self::ClientExists { .. }
            | Self::AmbiguousClient { .. }
            | Self::AmbiguousUser { .. }
            | Self::ForeignEndpoints { .. }
            | Self::EmulatorSignsAsGoogle { .. }
            | Self::WeakPassphrase
            | Self::NotEmbedded { .. }
            | Self::NotServer { .. } => ErrorKind::Invalid,
            _ => ErrorKind::Failure,
        }
    }

    /// A stable code for `{"error": {"code": ..}}` and for the UI to switch on.
    pub fn code(&self) -> &str {
        match self {
            Self::Remote { code, .. } => code,
            Self::Store(e) => e.code(),
            Self::Vault(e) => e.code(),
            Self::OAuth(e) => e.code(),
            Self::IdToken(e) => e.code(),
            Self::Drive(e) => e.code(),
            Self::ClientSecret(_) => "invalid_client_secret_file",
            Self::Provider(_) => "invalid_provider",
            Self::Seal(e) => e.code(),
            Self::DataDir { .. } => "data_dir",
            Self::HttpSetup { .. } => "http_setup",
            Self::StoredEndpoints { .. } => "stored_endpoints_unreadable",
            Self::TaskLost { .. } => "task_lost",
            Self::ClientSecretMissing { .. } => "client_secret_missing",
            Self::KeyMissing { .. } => "key_missing",
            Self::NotEmbedded { .. } => "not_embedded",
            Self::NotServer { .. } => "not_server",
            Self::WeakPassphrase => "weak_passphrase",
            Self::VerificationDeferred { .. } => "verification_deferred",
            Self::KeptAnswerUnreadable { .. } => "kept_answer_unreadable",
            Self::ClientNotFound { .. } => "client_not_found",
            Self::ClientExists { .. } => "client_exists",
            Self::NoClient => "no_client",
            Self::AmbiguousClient { .. } => "ambiguous_client",
            Self::ForeignEndpoints { .. } => "foreign_endpoints",
            Self::EmulatorSignsAsGoogle { .. } => "issuer_is_google",
            Self::Discovery { .. } => "discovery_failed",
            Self::UserNotFound { .. } => "user_not_found",
            Self::AmbiguousUser { .. } => "ambiguous_user",
            Self::NoGrant { .. } => "no_grant",
            Self::Replay { .. } => "already_exchanged",
            Self::NoIdToken => "no_id_token",
            Self::RefreshTokenUnusable { .. } => "refresh_token_unusable",
            Self::TokenMissing { .. } => "token_missing",
            Self::RefreshedIdentityChanged { .. } => "refreshed_identity_changed",
            Self::AuditFailed { .. } => "audit_failed",
            Self::HttpEntryNotKept { .. } => "http_entry_not_kept",
            Self::StoppedWaiting { .. } => "stopped",
        }
    }

    /// Longer advice when there is some (Google's error explained).
    pub fn explanation(&self) -> Option<String> {
        match self {
            Self::Remote { explanation, .. } => explanation.clone(),
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
