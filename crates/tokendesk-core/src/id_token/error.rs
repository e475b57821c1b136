//! Why an ID token was refused, in words a person can act on. No message ever contains the
//! token; values taken from it (alg, kid, iss, aud) are shortened and escaped.

use std::fmt;

/// Which part of the compact JWT a structural error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Header,
    Payload,
    Signature,
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Part::Header => "header",
            Part::Payload => "payload (claims)",
            Part::Signature => "signature",
        })
    }
}

/// A value copied from an untrusted token into a message: at most 64 characters, control
/// and non-ASCII characters escaped, shown in quotes. Keeps messages short and terminal-safe.
#[derive(Clone, PartialEq, Eq)]
pub struct Shown(String);

impl Shown {
    const MAX_CHARS: usize = 64;

    pub(crate) fn new(value: &str) -> Self {
        let mut out: String = value
            .chars()
            .take(Self::MAX_CHARS)
            .flat_map(char::escape_debug)
            .collect();
        if value.chars().nth(Self::MAX_CHARS).is_some() {
            out.push('…');
        }
        Self(out)
    }

    /// A JSON value that was not the expected string, shown as compact JSON.
    pub(crate) fn json(value: &serde_json::Value) -> Self {
        match value {
            serde_json::Value::String(s) => Self::new(s),
            other => Self::new(&other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", self.0)
    }
}

impl fmt::Debug for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A Unix time shown as RFC 3339 (and the raw number, which is what the token holds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnixTime(pub i64);

impl fmt::Display for UnixTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match chrono::DateTime::from_timestamp(self.0, 0) {
            Some(time) => write!(f, "{} ({})", time.format("%Y-%m-%dT%H:%M:%SZ"), self.0),
            None => write!(f, "{}", self.0),
        }
    }
}

/// Why an ID token was not accepted.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum IdTokenError {
    // ---- structure: checked before anything is decoded or trusted ----
    #[error(
        "the token is {len} bytes, over the {limit}-byte limit; Google's ID tokens are about \
         1 KiB, so this is not one"
    )]
    TooLarge { len: usize, limit: usize },
    #[error(
        "the token has {found} dot-separated parts; a signed JWT has exactly 3 \
         (header.payload.signature){hint}",
        hint = if *found == 5 { " and 5 parts is an encrypted JWE, which TokenDesk does not accept" } else { "" }
    )]
    SegmentCount { found: usize },
    #[error(
        "the {part} is not strict base64url (URL-safe alphabet, no `=` padding, no spaces or \
         line breaks); copy the token again without changes"
    )]
    NotBase64Url { part: Part },
    #[error("the {part} is not a JSON object ({reason})")]
    NotJsonObject { part: Part, reason: String },
    #[error(
        "the {part} has the key {key} more than once; two readers could see different values, \
         so the token is refused (RFC 7519 §4)"
    )]
    DuplicateKey { part: Part, key: Shown },
    #[error("the token has no signature; unsigned tokens (alg \"none\") are never accepted")]
    MissingSignature,

    // ---- header ----
    #[error(
        "the token says it is signed with {alg}; TokenDesk accepts only RS256, the algorithm \
         Google signs ID tokens with"
    )]
    AlgorithmNotAllowed { alg: Shown },
    #[error(
        "the header has a `crit` parameter; TokenDesk implements no JWS extensions, so the \
         token must be refused (RFC 7515 §4.1.11)"
    )]
    CriticalHeader,
    #[error("the header's typ is {typ}, so this is not an ID token (an ID token's typ is JWT)")]
    WrongTokenType { typ: Shown },
    #[error("the header's `{param}` must be {expected}")]
    WrongHeaderType {
        param: &'static str,
        expected: &'static str,
    },

    // ---- claims ----
    #[error("the `{claim}` claim is missing; every ID token must have it")]
    MissingClaim { claim: &'static str },
    #[error("the `{claim}` claim must be {expected}")]
    WrongClaimType {
        claim: &'static str,
        expected: &'static str,
    },
    #[error(
        "the issuer {iss} is not trusted; this client accepts exactly {expected} (no trailing \
         slash, no other scheme)"
    )]
    UntrustedIssuer { iss: Shown, expected: String },
    #[error(
        "the token's audience is {aud}, not this server's web client ID {expected}; the app \
         must request the token for the web client (serverClientID), or the client is \
         configured with the wrong web client ID"
    )]
    WrongAudience { aud: Shown, expected: Shown },
    #[error(
        "besides this server, the token is also meant for {extra}, which this server does not \
         trust; tokens for several parties are refused (OpenID Connect Core §3.1.3.7)"
    )]
    UntrustedAudience { extra: Shown },
    #[error(
        "the token was issued to client {azp} (azp), which is not one of this client's IDs \
         ({expected}); if it is your iOS app's client ID, add it to the client as an iOS \
         client ID"
    )]
    UnknownAuthorizedParty { azp: Shown, expected: String },
    #[error(
        "the token expired at {exp}; now is {now} and the allowed clock skew is {leeway} s; get a new token"
    )]
    Expired {
        exp: UnixTime,
        now: UnixTime,
        leeway: u64,
    },
    #[error(
        "the token says it was issued at {iat}, later than now ({now}) plus the allowed clock \
         skew of {leeway} s; check this machine's clock"
    )]
    IssuedInFuture {
        iat: UnixTime,
        now: UnixTime,
        leeway: u64,
    },
    #[error(
        "the token is not valid before {nbf}; now is {now} and the allowed clock skew is \
         {leeway} s; check this machine's clock"
    )]
    NotYetValid {
        nbf: UnixTime,
        now: UnixTime,
        leeway: u64,
    },
    #[error(
        "the `sub` claim must be 1 to 255 characters; it identifies the user and can't be empty"
    )]
    InvalidSubject,

    // ---- keys and signature ----
    #[error(
        "the provider's signing keys (JWKS) have no key with kid {kid}, even after fetching \
         them again; the token was not signed by this provider, or by a key it retired"
    )]
    UnknownKeyId { kid: Shown },
    #[error(
        "the provider's signing keys (JWKS) have no key with kid {kid}, and they were fetched \
         less than {cooldown} s ago so they are not fetched again yet; retry in {retry_after} s"
    )]
    UnknownKeyIdCoolingDown {
        kid: Shown,
        cooldown: u64,
        retry_after: u64,
    },
    #[error(
        "the provider's signing keys (JWKS) can't be used: {reason}{retry}",
        retry = match retry_after { Some(s) => format!("; the next fetch is allowed in {s} s"), None => String::new() }
    )]
    JwksUnavailable {
        reason: String,
        retry_after: Option<u64>,
    },
    #[error(
        "the signature does not verify with {keys}: the token was changed after signing, or \
         signed by someone else",
        keys = match (kid, tried) {
            (Some(kid), _) => format!("the provider's key {kid}"),
            (None, 1) => "the provider's only key".to_owned(),
            (None, n) => format!("any of the provider's {n} keys (the token names no kid, so each was tried)"),
        }
    )]
    BadSignature { kid: Option<Shown>, tried: usize },

    // ---- refresh (OpenID Connect Core §12.2) ----
    #[error(
        "the refreshed ID token's `{claim}` differs from the original's; a refreshed token \
         must keep iss, sub, aud and azp (OpenID Connect Core §12.2), so it is refused"
    )]
    RefreshChangedClaim { claim: &'static str },
}

impl IdTokenError {
    /// A stable identifier for programs and the UI (which switch on it, never on the text).
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } => "token_too_large",
            Self::SegmentCount { .. } => "not_a_jws",
            Self::NotBase64Url { .. } => "bad_encoding",
            Self::NotJsonObject { .. } => "bad_json",
            Self::DuplicateKey { .. } => "duplicate_key",
            Self::MissingSignature => "missing_signature",
            Self::AlgorithmNotAllowed { .. } => "algorithm_not_allowed",
            Self::CriticalHeader => "critical_header",
            Self::WrongTokenType { .. } => "wrong_token_type",
            Self::WrongHeaderType { .. } => "wrong_header_type",
            Self::MissingClaim { .. } => "missing_claim",
            Self::WrongClaimType { .. } => "wrong_claim_type",
            Self::UntrustedIssuer { .. } => "untrusted_issuer",
            Self::WrongAudience { .. } => "wrong_audience",
            Self::UntrustedAudience { .. } => "untrusted_audience",
            Self::UnknownAuthorizedParty { .. } => "unknown_authorized_party",
            Self::Expired { .. } => "expired",
            Self::IssuedInFuture { .. } => "issued_in_future",
            Self::NotYetValid { .. } => "not_yet_valid",
            Self::InvalidSubject => "invalid_subject",
            Self::UnknownKeyId { .. } => "unknown_key_id",
            Self::UnknownKeyIdCoolingDown { .. } => "unknown_key_id_cooling_down",
            Self::JwksUnavailable { .. } => "jwks_unavailable",
            Self::BadSignature { .. } => "bad_signature",
            Self::RefreshChangedClaim { .. } => "refresh_changed_claim",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_values_are_shortened_and_escaped() {
        let long = "a".repeat(200);
        assert_eq!(
            Shown::new(&long).as_str().chars().count(),
            65,
            "64 chars and an ellipsis"
        );
        assert_eq!(
            Shown::new("x\n\u{1b}[31m").to_string(),
            "\"x\\n\\u{1b}[31m\""
        );
    }

    #[test]
    fn times_are_shown_as_rfc3339_and_seconds() {
        assert_eq!(UnixTime(0).to_string(), "1970-01-01T00:00:00Z (0)");
    }
}
