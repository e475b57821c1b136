//! The admin API's credentials: session and API tokens, made from 256 random bits, handed to
//! their holder once and kept only as SHA-256 digests (a dump of the database holds no
//! credential; a digest of 256 random bits needs no salt or slow hash).

use aws_lc_rs::digest;
use aws_lc_rs::rand::{SecureRandom as _, SystemRandom};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use zeroize::Zeroizing;

/// What a session token starts with (a sign-in's), so that a leaked one is recognisable by
/// secret scanners and in support tickets.
pub const SESSION_PREFIX: &str = "tds_";
/// What an API token starts with.
pub const API_TOKEN_PREFIX: &str = "tdt_";

/// A credential's digest, the only form the database holds.
pub type Digest = [u8; 32];

/// A new credential: the token (shown once) and its digest (stored).
pub struct NewToken {
    pub token: Zeroizing<String>,
    pub digest: Digest,
}

impl std::fmt::Debug for NewToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewToken([redacted])")
    }
}

/// Why a token could not be made: the system's random source failed (it does not, on a
/// working system).
#[derive(Debug, thiserror::Error)]
#[error("the system random number generator failed; no credential was made")]
pub struct RandomFailed;

/// A fresh token with `prefix` and 256 random bits.
pub fn new_token(prefix: &str) -> Result<NewToken, RandomFailed> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    SystemRandom::new()
        .fill(bytes.as_mut_slice())
        .map_err(|_| RandomFailed)?;
    let token = Zeroizing::new(format!(
        "{prefix}{}",
        URL_SAFE_NO_PAD.encode(bytes.as_slice())
    ));
    let digest = digest_of(&token);
    Ok(NewToken { token, digest })
}

/// The digest a presented token is looked up by.
pub fn digest_of(token: &str) -> Digest {
    let d = digest::digest(&digest::SHA256, token.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// The token of an `Authorization: Bearer <token>` header, if it is one of ours in shape
/// (a prefix and 43 base64url characters): anything else is refused before a database read.
pub fn bearer(header: Option<&http::HeaderValue>) -> Option<Zeroizing<String>> {
    let value = header?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim();
    let body = token
        .strip_prefix(SESSION_PREFIX)
        .or_else(|| token.strip_prefix(API_TOKEN_PREFIX))?;
    let well_formed = body.len() == 43
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    well_formed.then(|| Zeroizing::new(token.to_owned()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_distinct_prefixed_and_digested() {
        let a = new_token(SESSION_PREFIX).unwrap();
        let b = new_token(SESSION_PREFIX).unwrap();
        assert_ne!(*a.token, *b.token);
        assert!(a.token.starts_with("tds_"));
        assert_eq!(a.token.len(), 4 + 43);
        assert_eq!(digest_of(&a.token), a.digest);
        assert_ne!(a.digest, b.digest);
        assert!(!format!("{a:?}").contains(&a.token[4..]));
    }

    #[test]
    fn bearer_accepts_our_tokens_only() {
        let t = new_token(API_TOKEN_PREFIX).unwrap();
        let header = |s: &str| http::HeaderValue::from_str(s).unwrap();
        assert_eq!(
            bearer(Some(&header(&format!("Bearer {}", *t.token))))
                .as_deref()
                .map(String::as_str),
            Some(t.token.as_str())
        );
        assert_eq!(
            bearer(Some(&header(&format!("bearer  {} ", *t.token))))
                .as_deref()
                .map(String::as_str),
            Some(t.token.as_str())
        );
        for bad in [
            "Basic dXNlcjpwYXNz".to_owned(),
            format!("Bearer{}", *t.token),
            "Bearer tds_short".to_owned(),
            format!("Bearer xyz_{}", &t.token[4..]),
            format!("Bearer {}=", *t.token),
            "Bearer ".to_owned(),
        ] {
            assert!(bearer(Some(&header(&bad))).is_none(), "{bad}");
        }
        assert!(bearer(None).is_none());
    }
}
