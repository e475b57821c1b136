//! What can go wrong talking to Google's OAuth endpoints, as one enum with stable machine
//! codes; messages carry explanations, never tokens, codes, secrets or response bodies.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use super::explain::{Explanation, explain, explain_other};
use crate::secret::AuthCode;

/// The OAuth operation an error belongs to; the same error code means different things for
/// a code exchange and a refresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Operation {
    Exchange,
    Refresh,
    Revoke,
    TokenInfo,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Exchange => "code exchange",
            Self::Refresh => "refresh",
            Self::Revoke => "revocation",
            Self::TokenInfo => "tokeninfo lookup",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Google's `error` values (RFC 6749 §5.2 plus Google's own).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GoogleErrorCode {
    InvalidGrant,
    InvalidClient,
    InvalidRequest,
    InvalidScope,
    UnauthorizedClient,
    UnsupportedGrantType,
    RedirectUriMismatch,
    InvalidToken,
    AccessDenied,
    RateLimitExceeded,
    TemporarilyUnavailable,
    InternalFailure,
    /// Anything else, reduced to printable ASCII and 64 characters.
    Other(String),
}

impl GoogleErrorCode {
    pub fn parse(error: &str) -> Self {
        match error {
            "invalid_grant" => Self::InvalidGrant,
            "invalid_client" => Self::InvalidClient,
            "invalid_request" => Self::InvalidRequest,
            "invalid_scope" => Self::InvalidScope,
            "unauthorized_client" => Self::UnauthorizedClient,
            "unsupported_grant_type" => Self::UnsupportedGrantType,
            "redirect_uri_mismatch" => Self::RedirectUriMismatch,
            "invalid_token" => Self::InvalidToken,
            "access_denied" => Self::AccessDenied,
            "rate_limit_exceeded" => Self::RateLimitExceeded,
            "temporarily_unavailable" => Self::TemporarilyUnavailable,
            "internal_failure" | "server_error" => Self::InternalFailure,
            other => Self::Other(
                other
                    .chars()
                    .filter(|c| c.is_ascii_graphic())
                    .take(64)
                    .collect(),
            ),
        }
    }

    /// The wire value.
    pub fn as_str(&self) -> &str {
        match self {
            Self::InvalidGrant => "invalid_grant",
            Self::InvalidClient => "invalid_client",
            Self::InvalidRequest => "invalid_request",
            Self::InvalidScope => "invalid_scope",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::RedirectUriMismatch => "redirect_uri_mismatch",
            Self::InvalidToken => "invalid_token",
            Self::AccessDenied => "access_denied",
            Self::RateLimitExceeded => "rate_limit_exceeded",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::InternalFailure => "internal_failure",
            Self::Other(other) => other,
        }
    }

    /// The wire value when it is one we know, `"oauth_error"` otherwise: a machine code must
    /// not be chosen by the server.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidGrant => "invalid_grant",
            Self::InvalidClient => "invalid_client",
            Self::InvalidRequest => "invalid_request",
            Self::InvalidScope => "invalid_scope",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::RedirectUriMismatch => "redirect_uri_mismatch",
            Self::InvalidToken => "invalid_token",
            Self::AccessDenied => "access_denied",
            Self::RateLimitExceeded => "rate_limit_exceeded",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::InternalFailure => "internal_failure",
            Self::Other(_) => "oauth_error",
        }
    }
}

impl fmt::Display for GoogleErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for GoogleErrorCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Why a code exchange may or may not have happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownCause {
    Timeout,
    ConnectionLost,
    ServerError(u16),
}

impl fmt::Display for UnknownCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Timeout => f.write_str("no answer came in time"),
            Self::ConnectionLost => f.write_str("the connection broke before the answer"),
            Self::ServerError(status) => write!(f, "the server answered HTTP {status}"),
        }
    }
}

/// An OAuth call that failed. `Display` is a person's message; [`OAuthError::code`] is the
/// stable machine code for JSON and the UI.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OAuthError {
    /// Google answered with an OAuth error.
    #[error("{operation} refused: {code}{} ({status}). {}", describe(description), explanation.summary)]
    Server {
        operation: Operation,
        status: u16,
        code: GoogleErrorCode,
        /// `error_description`, cleaned: printable, short, known secrets removed.
        description: Option<String>,
        explanation: Explanation,
    },
    #[error(
        "{operation}: Google is rate limiting this client (HTTP 429) after {attempts} attempt(s); \
         try again later{}", after(*retry_after)
    )]
    RateLimited {
        operation: Operation,
        attempts: u32,
        retry_after: Option<Duration>,
    },
    #[error(
        "{operation}: Google's endpoint is unavailable (HTTP {status}) after {attempts} \
         attempt(s); try again later"
    )]
    Unavailable {
        operation: Operation,
        status: u16,
        attempts: u32,
    },
    #[error("{operation}: no answer within {after:?} after {attempts} attempt(s)")]
    Timeout {
        operation: Operation,
        after: Duration,
        attempts: u32,
    },
    #[error("{operation}: {detail} ({attempts} attempt(s))")]
    Transport {
        operation: Operation,
        detail: String,
        attempts: u32,
    },
    /// The code exchange may or may not have happened; it is never resent.
    #[error(
        "the outcome of the code exchange is unknown ({cause}): the code may have been \
         redeemed, and a code works only once; ask the user to sign in again for a new code"
    )]
    OutcomeUnknown { cause: UnknownCause },
    #[error(
        "{operation}: the response is larger than {limit} bytes, which no genuine answer is; \
         it was not read{}", unread_hint(*operation)
    )]
    BodyTooLarge { operation: Operation, limit: usize },
    #[error(
        "{operation}: the answer (HTTP {status}{}) is not JSON; check the endpoint URL{}",
        content_type.as_deref().map(|ct| format!(", {ct}")).unwrap_or_default(),
        unread_hint(*operation)
    )]
    NotJson {
        operation: Operation,
        status: u16,
        content_type: Option<String>,
    },
    #[error("{operation}: the answer has no `{field}`{}", unread_hint(*operation))]
    MissingField {
        operation: Operation,
        field: &'static str,
    },
    #[error("{operation}: `{field}` in the answer is not {expected}{}", unread_hint(*operation))]
    WrongFieldType {
        operation: Operation,
        field: &'static str,
        expected: &'static str,
    },
    #[error("{operation}: the token type is {token_type:?}; TokenDesk handles Bearer tokens only")]
    UnsupportedTokenType {
        operation: Operation,
        token_type: String,
    },
    /// A 3xx: redirects are never followed (a token endpoint has no reason to redirect).
    #[error(
        "{operation}: the endpoint answered with a redirect (HTTP {status}), which TokenDesk \
         does not follow; check the endpoint URL"
    )]
    Redirected { operation: Operation, status: u16 },
    /// The code is URL-encoded (`4%2F...`); nothing was sent. The code decoded once is kept
    /// for a person to choose to use ([`OAuthError::decoded_code`]).
    #[error(
        "the code looks URL-encoded (it contains %-escapes such as %2F, where Google's codes \
         have '/'), so Google would answer \"Malformed auth code.\"; nothing was sent. Decode \
         it once (4%2F... becomes 4/...) where it is received{}",
        if *still_encoded { "; decoded once it is still encoded, so it was encoded more than twice" } else { "" }
    )]
    DoubleEncodedCode {
        decoded: Box<AuthCode>,
        still_encoded: bool,
    },
    #[error("the code {reason}; nothing was sent")]
    MalformedCode { reason: &'static str },
    #[error("the HTTP request could not be made: {detail}")]
    Setup { detail: String },
}

fn describe(description: &Option<String>) -> String {
    description
        .as_deref()
        .map(|d| format!(" \"{d}\""))
        .unwrap_or_default()
}

fn after(retry_after: Option<Duration>) -> String {
    retry_after
        .map(|d| format!(" (Google asked to wait {}s)", d.as_secs()))
        .unwrap_or_default()
}

fn unread_hint(operation: Operation) -> &'static str {
    if operation == Operation::Exchange {
        "; the code was probably redeemed, so ask the user to sign in again for a new code"
    } else {
        ""
    }
}

impl OAuthError {
    /// A stable machine code for JSON output and the UI.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Server { code, .. } => code.code(),
            Self::RateLimited { .. } => "rate_limited",
            Self::Unavailable { .. } => "unavailable",
            Self::Timeout { .. } => "timeout",
            Self::Transport { .. } => "transport",
            Self::OutcomeUnknown { .. } => "outcome_unknown",
            Self::BodyTooLarge { .. } => "body_too_large",
            Self::NotJson { .. } => "not_json",
            Self::MissingField { .. } => "missing_field",
            Self::WrongFieldType { .. } => "wrong_field_type",
            Self::UnsupportedTokenType { .. } => "unsupported_token_type",
            Self::Redirected { .. } => "redirected",
            Self::DoubleEncodedCode { .. } => "double_encoded_code",
            Self::MalformedCode { .. } => "malformed_code",
            Self::Setup { .. } => "setup",
        }
    }

    /// Causes and remedies for a person; every variant has one.
    pub fn explanation(&self) -> Explanation {
        match self {
            Self::Server { explanation, .. } => explanation.clone(),
            other => explain_other(other),
        }
    }

    /// True when trying again later may succeed (rate limits, outages, timeouts, network).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::RateLimited { .. }
                | Self::Unavailable { .. }
                | Self::Timeout { .. }
                | Self::Transport { .. }
        )
    }

    /// For a code exchange: true when the failure proves Google never redeemed the code, so
    /// the same code may be sent again (after fixing the cause): nothing was sent (no
    /// connection, a malformed code), Google rate limited the request, or it refused the
    /// request itself before looking at the code (the client's credentials, redirect URI or
    /// parameters). A timeout, a broken connection or a 5xx after sending may have redeemed it
    /// ([`OAuthError::OutcomeUnknown`]); `invalid_grant` says the code is spent or bad.
    pub fn code_never_redeemed(&self) -> bool {
        match self {
            Self::Transport { .. }
            | Self::RateLimited { .. }
            | Self::DoubleEncodedCode { .. }
            | Self::MalformedCode { .. }
            | Self::Setup { .. } => true,
            Self::Server { code, .. } => matches!(
                code,
                GoogleErrorCode::InvalidClient
                    | GoogleErrorCode::InvalidRequest
                    | GoogleErrorCode::UnauthorizedClient
                    | GoogleErrorCode::RedirectUriMismatch
                    | GoogleErrorCode::UnsupportedGrantType
                    | GoogleErrorCode::InvalidScope
            ),
            _ => false,
        }
    }

    /// True when the grant behind a refresh token is gone and only a new sign-in helps.
    pub fn needs_reconsent(&self) -> bool {
        matches!(
            self,
            Self::Server {
                code: GoogleErrorCode::InvalidGrant,
                operation: Operation::Refresh,
                ..
            }
        )
    }

    /// For [`OAuthError::DoubleEncodedCode`]: the code URL-decoded exactly once, offered for a
    /// person to confirm. Never sent automatically.
    pub fn decoded_code(&self) -> Option<&AuthCode> {
        match self {
            Self::DoubleEncodedCode { decoded, .. } => Some(decoded),
            _ => None,
        }
    }

    pub(crate) fn server(
        operation: Operation,
        status: u16,
        error: &str,
        description: Option<&str>,
        secrets: &[&str],
    ) -> Self {
        let code = GoogleErrorCode::parse(error);
        let description = description.map(|d| scrub(d, secrets));
        let explanation = explain(&code, description.as_deref(), operation);
        Self::Server {
            operation,
            status,
            code,
            description,
            explanation,
        }
    }
}

/// Makes server-chosen text fit for a message: secrets we sent and anything shaped like a
/// Google token removed, control characters dropped, at most 300 characters. Secrets go
/// before the cut, so a secret straddling it can't survive in part.
pub(crate) fn scrub(text: &str, secrets: &[&str]) -> String {
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    for secret in secrets.iter().filter(|s| s.len() >= 8) {
        out = out.replace(secret, "[redacted]");
    }
    out.split(' ')
        .map(|word| {
            let bare = word.trim_matches(|c: char| !c.is_alphanumeric() && c != '/');
            let looks_like_token = bare.len() >= 20
                && ["ya29.", "1//", "4/", "eyJ", "GOCSPX-"]
                    .iter()
                    .any(|prefix| bare.starts_with(prefix));
            if looks_like_token { "[redacted]" } else { word }
        })
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(300)
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn oauth_error_codes_parse_and_round_trip() {
        for wire in [
            "invalid_grant",
            "invalid_client",
            "invalid_request",
            "invalid_scope",
            "unauthorized_client",
            "unsupported_grant_type",
            "redirect_uri_mismatch",
            "invalid_token",
            "access_denied",
            "rate_limit_exceeded",
            "temporarily_unavailable",
            "internal_failure",
        ] {
            let code = GoogleErrorCode::parse(wire);
            assert_eq!(code.as_str(), wire);
            assert_eq!(code.code(), wire);
        }
        let other = GoogleErrorCode::parse("weird\u{7}_code");
        assert_eq!(other.as_str(), "weird_code", "control characters dropped");
        assert_eq!(
            other.code(),
            "oauth_error",
            "the server can't pick machine codes"
        );
    }

    #[test]
    fn oauth_scrub_removes_secrets_and_token_shapes() {
        let text = scrub(
            concat!(
                "bad token ya29.",
                "a0AfH6SMBcanarycanary for code s3cr3t-value-123\nend"
            ),
            &["s3cr3t-value-123"],
        );
        assert!(!text.contains("canary"), "{text}");
        assert!(!text.contains("s3cr3t"), "{text}");
        assert!(!text.contains('\n'));
        assert_eq!(scrub("Bad Request", &[]), "Bad Request");
        assert_eq!(scrub(&"x".repeat(1000), &[]).len(), 300);
        let straddling = format!("{}s3cr3t-value-123", "y ".repeat(148));
        assert!(
            !scrub(&straddling, &["s3cr3t-value-123"]).contains("s3cr3t"),
            "a secret at the cut is removed whole, not cut in half"
        );
    }

    #[test]
    fn oauth_server_error_display_has_the_explanation() {
        let err = OAuthError::server(
            Operation::Refresh,
            400,
            "invalid_grant",
            Some("Token has been expired or revoked."),
            &[],
        );
        let text = err.to_string();
        assert!(text.starts_with("refresh refused: invalid_grant"), "{text}");
        assert!(
            text.contains("Token has been expired or revoked."),
            "{text}"
        );
        assert_eq!(err.code(), "invalid_grant");
        assert!(err.needs_reconsent());
    }
}
