//! Exit codes, so scripts can tell failures apart (README: "Exit codes"): one per kind of
//! failure, the same for the embedded store and a team server.

use tokendesk_core::desk::{DeskError, ErrorKind};

pub const OK: u8 = 0;
pub const FAILURE: u8 = 1;
pub const NOT_FOUND: u8 = 3;
/// Google refused (invalid_grant, invalid_client, ...): retrying will not help.
pub const REFUSED: u8 = 4;
/// Google unreachable, rate limited or the outcome unknown: retrying may help.
pub const UNAVAILABLE: u8 = 5;
/// The keyring or the store failed.
pub const STORAGE: u8 = 6;
/// An ID token failed verification.
pub const UNVERIFIED: u8 = 7;
/// A team server refused the credentials (none, expired, revoked): `tokendesk login`.
pub const UNAUTHENTICATED: u8 = 8;
/// A team server refused the action for this role.
pub const FORBIDDEN: u8 = 9;
/// `tokendesk health`: the command worked, and some users need attention (revoked, invalid,
/// no drive.appdata, expiring with nothing to renew it). None of the codes above says "done,
/// and found something", which is what a cron job alerts on.
pub const NEEDS_ATTENTION: u8 = 10;

/// The exit status of a facade error.
pub fn of(err: &DeskError) -> u8 {
    of_kind(err.kind())
}

/// The exit status of a kind of failure.
pub fn of_kind(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::NotFound => NOT_FOUND,
        ErrorKind::Refused => REFUSED,
        ErrorKind::Unavailable => UNAVAILABLE,
        ErrorKind::Storage => STORAGE,
        ErrorKind::Unverified => UNVERIFIED,
        ErrorKind::Unauthenticated => UNAUTHENTICATED,
        ErrorKind::Forbidden => FORBIDDEN,
        ErrorKind::Invalid | ErrorKind::Failure => FAILURE,
    }
}
