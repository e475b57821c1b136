//! What a failed command hands the UI: a stable code, a message that says what to do, Google's
//! error explained when there is one, and the raw HTTP exchange (secrets masked) when the
//! failure came from a request. Never a token, code or secret (the core's errors carry none).

use serde::Serialize;
use tokendesk_core::desk::DeskError;
use tokendesk_core::oauth::RawExchange;
use ts_rs::TS;

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct CommandError {
    pub code: String,
    pub message: String,
    pub explanation: Option<String>,
    pub raw: Vec<RawExchange>,
}

impl CommandError {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.to_owned(),
            message: message.into(),
            explanation: None,
            raw: Vec::new(),
        }
    }

    pub fn with_raw(mut self, raw: Vec<RawExchange>) -> Self {
        self.raw = raw;
        self
    }
}

impl From<DeskError> for CommandError {
    fn from(err: DeskError) -> Self {
        // A team server refused the session: the window signs in again in place (the remote
        // console's own message names the command line's way).
        if matches!(&err, DeskError::Remote { .. })
            && err.kind() == tokendesk_core::desk::ErrorKind::Unauthenticated
        {
            return Self::new(
                "signed_out",
                "your session on the team server has ended (it expired, or was signed out): \
                 sign in again; this page stays as it is",
            );
        }
        Self {
            code: err.code().to_owned(),
            message: err.to_string(),
            explanation: err.explanation(),
            raw: Vec::new(),
        }
    }
}

impl From<tokendesk_core::store::StoreError> for CommandError {
    fn from(err: tokendesk_core::store::StoreError) -> Self {
        DeskError::from(err).into()
    }
}

impl From<tokendesk_core::vault::VaultError> for CommandError {
    fn from(err: tokendesk_core::vault::VaultError) -> Self {
        DeskError::from(err).into()
    }
}

impl std::fmt::Display for CommandError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

pub type CmdResult<T> = Result<T, CommandError>;
