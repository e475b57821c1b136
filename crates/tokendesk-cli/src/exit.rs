//! Exit codes, so scripts can tell failures apart (README: "Exit codes").

use tokendesk_core::desk::DeskError;
use tokendesk_core::oauth::OAuthError;

pub const OK: u8 = 0;
pub const FAILURE: u8 = 1;
pub const NOT_FOUND: u8 = 3;
/// Google refused (invalid_grant, invalid_client, ...): retrying will not help.
pub const REFUSED: u8 = 4;
/// Google unreachable, rate limited or the outcome unknown: retrying may help.
pub const UNAVAILABLE: u8 = 5;
/// The keyring or the SQLite store failed.
pub const STORAGE: u8 = 6;
/// An ID token failed verification.
pub const UNVERIFIED: u8 = 7;

/// The exit status of a facade error.
pub fn of(err: &DeskError) -> u8 {
    match err {
        DeskError::ClientNotFound { .. }
        | DeskError::UserNotFound { .. }
        | DeskError::NoGrant { .. } => NOT_FOUND,
        DeskError::OAuth(e)
            if e.is_transient() || matches!(**e, OAuthError::OutcomeUnknown { .. }) =>
        {
            UNAVAILABLE
        }
        DeskError::VerificationDeferred { .. } => UNAVAILABLE,
        DeskError::OAuth(_) | DeskError::Replay { .. } | DeskError::RefreshTokenUnusable { .. } => {
            REFUSED
        }
        DeskError::Drive(_) => UNAVAILABLE,
        DeskError::Store(_)
        | DeskError::Vault(_)
        | DeskError::Seal(_)
        | DeskError::KeyMissing { .. }
        | DeskError::DataDir { .. } => STORAGE,
        DeskError::IdToken(_)
        | DeskError::RefreshedIdentityChanged { .. }
        | DeskError::NoIdToken => UNVERIFIED,
        _ => FAILURE,
    }
}
