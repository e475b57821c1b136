//! The provider's signing keys: fetched through an injected [`JwksSource`], cached for the
//! Cache-Control max-age, refetched once for an unknown kid at most once per cooldown.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use aws_lc_rs::signature::{ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use super::error::{IdTokenError, Shown};

/// The body of a JWKS response and how long it may be cached.
#[derive(Debug, Clone)]
pub struct JwksDocument {
    pub body: Vec<u8>,
    /// From the response's `Cache-Control: max-age` ([`max_age_from_cache_control`]);
    /// `None` when the response said nothing.
    pub max_age: Option<Duration>,
}

/// Why fetching the JWKS failed. Implementations must not put response bodies here.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JwksFetchError {
    #[error("the JWKS endpoint answered HTTP {status}")]
    Status { status: u16 },
    #[error("the JWKS endpoint could not be reached: {reason}")]
    Unreachable { reason: String },
    #[error("the JWKS response was larger than {limit} bytes")]
    TooLarge { limit: usize },
}

/// Where the JWKS comes from. The HTTP implementation lives with the HTTP client (oauth);
/// tests use an in-memory one.
pub trait JwksSource: Send + Sync {
    fn fetch(&self) -> impl Future<Output = Result<JwksDocument, JwksFetchError>> + Send;
}

impl<T: JwksSource> JwksSource for Arc<T> {
    fn fetch(&self) -> impl Future<Output = Result<JwksDocument, JwksFetchError>> + Send {
        T::fetch(self)
    }
}

/// A JWKS fixed at construction, valid for six hours at a time: keys known in advance (an
/// offline check, the benchmarks, the fuzz targets).
#[derive(Debug, Clone)]
pub struct StaticJwks(Vec<u8>);

impl StaticJwks {
    /// `body` is the JWKS document's JSON.
    pub fn new(body: Vec<u8>) -> Self {
        Self(body)
    }
}

impl JwksSource for StaticJwks {
    fn fetch(&self) -> impl Future<Output = Result<JwksDocument, JwksFetchError>> + Send {
        let body = self.0.clone();
        async move {
            Ok(JwksDocument {
                body,
                max_age: Some(Duration::from_secs(6 * 3600)),
            })
        }
    }
}

/// The `max-age` of a Cache-Control header value; `no-store` and `no-cache` mean zero.
pub fn max_age_from_cache_control(header: &str) -> Option<Duration> {
    let mut max_age = None;
    for directive in header.split(',') {
        let directive = directive.trim();
        let (name, value) = match directive.split_once('=') {
            Some((name, value)) => (name.trim(), Some(value.trim().trim_matches('"'))),
            None => (directive, None),
        };
        if name.eq_ignore_ascii_case("no-store") || name.eq_ignore_ascii_case("no-cache") {
            return Some(Duration::ZERO);
        }
        if name.eq_ignore_ascii_case("max-age") && max_age.is_none() {
            max_age = value
                .and_then(|v| v.parse::<u64>().ok())
                .map(Duration::from_secs);
        }
    }
    max_age
}

/// One usable verification key from the JWKS, parsed once when the JWKS is fetched, so that
/// verifying a token is the RSA operation alone (jsonwebtoken's `DecodingKey` kept only the
/// components and had aws-lc rebuild the key, and copy it, on every call).
pub(crate) struct VerifyingKey {
    pub kid: Option<String>,
    /// Parsed for RS256 only (PKCS#1 v1.5, SHA-256, 2048 to 8192 bits): the algorithm is
    /// bound to the key here and never read from a token (RFC 8725 §3.1).
    key: ParsedPublicKey,
}

impl VerifyingKey {
    /// Whether `signature` is this key's RS256 signature of `signing_input`.
    pub fn verifies(&self, signing_input: &[u8], signature: &[u8]) -> bool {
        self.key.verify_sig(signing_input, signature).is_ok()
    }
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// The RS256 keys of one JWKS fetch, and what was skipped and why.
#[derive(Debug)]
pub(crate) struct KeySet {
    pub keys: Vec<VerifyingKey>,
    pub ignored: Vec<String>,
}

impl KeySet {
    /// The keys a token may have been signed with: the ones with its kid, or every key when
    /// the token names none (OpenID conformance "kid-absent-multiple-jwks": try each).
    pub fn candidates<'s>(
        &'s self,
        kid: Option<&'s str>,
    ) -> impl Iterator<Item = &'s VerifyingKey> {
        self.keys
            .iter()
            .filter(move |key| kid.is_none() || key.kid.as_deref() == kid)
    }

    fn has(&self, kid: Option<&str>) -> bool {
        self.candidates(kid).next().is_some()
    }
}

/// A JWKS larger than this is not a key set; Google's is ~1 KiB.
const MAX_JWKS_BYTES: usize = 256 * 1024;
/// Bounds the work a hostile key set can cause (each key is tried for a kid-less token).
const MAX_KEYS: usize = 64;

/// Reads a JWKS, keeping only keys that can verify RS256 and ignoring the rest (RFC 7517
/// §5: unknown key types are skipped, not fatal). `oct` keys are ignored on purpose: an
/// HMAC secret in a public key set would let anyone who can read it forge tokens.
pub(crate) fn parse_jwks(body: &[u8]) -> Result<KeySet, String> {
    if body.len() > MAX_JWKS_BYTES {
        return Err(format!(
            "the document is larger than {MAX_JWKS_BYTES} bytes"
        ));
    }
    let doc: Value =
        serde_json::from_slice(body).map_err(|err| format!("it is not JSON ({err})"))?;
    let Some(entries) = doc.get("keys").and_then(Value::as_array) else {
        return Err("it has no \"keys\" array".to_owned());
    };
    let mut set = KeySet {
        keys: Vec::new(),
        ignored: Vec::new(),
    };
    for (index, entry) in entries.iter().enumerate() {
        if set.keys.len() == MAX_KEYS {
            set.ignored.push(format!("keys after the first {MAX_KEYS}"));
            break;
        }
        match rs256_key(entry) {
            Ok(key) => set.keys.push(key),
            Err(reason) => set.ignored.push(format!("key {index}: {reason}")),
        }
    }
    if set.keys.is_empty() {
        let ignored = if set.ignored.is_empty() {
            "none".to_owned()
        } else {
            set.ignored.join("; ")
        };
        return Err(format!("it has no usable RS256 key (ignored: {ignored})"));
    }
    Ok(set)
}

fn rs256_key(entry: &Value) -> Result<VerifyingKey, String> {
    let text = |field: &str| -> Result<Option<&str>, String> {
        match entry.get(field) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(format!("{field} is not a string")),
        }
    };
    match text("kty")? {
        Some("RSA") => {}
        Some(kty) => return Err(format!("kty {} is not RSA", Shown::new(kty))),
        None => return Err("no kty".to_owned()),
    }
    if text("use")?.is_some_and(|use_| use_ != "sig") {
        return Err("use is not sig".to_owned());
    }
    if text("alg")?.is_some_and(|alg| alg != "RS256") {
        return Err("alg is not RS256".to_owned());
    }
    if let Some(ops) = entry.get("key_ops") {
        let verifies = ops
            .as_array()
            .is_some_and(|ops| ops.iter().any(|op| op == "verify"));
        if !verifies {
            return Err("key_ops does not allow verify".to_owned());
        }
    }
    let kid = text("kid")?.map(str::to_owned);
    let component = |field: &str| -> Result<Vec<u8>, String> {
        let encoded = text(field)?.ok_or(format!("no {field}"))?;
        let bytes = URL_SAFE_NO_PAD
            .decode(encoded)
            .map_err(|_| format!("{field} is not base64url"))?;
        // Some publishers keep a leading zero octet (an ASN.1 habit); aws-lc wants none.
        let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
        Ok(bytes[start..].to_vec())
    };
    let n = component("n")?;
    let e = component("e")?;
    let bits = n.first().map_or(0, |top| {
        (n.len() - 1) * 8 + (8 - top.leading_zeros() as usize)
    });
    if !(2048..=8192).contains(&bits) {
        return Err(format!(
            "an RSA modulus of {bits} bits (2048 to 8192 accepted)"
        ));
    }
    // aws-lc judges the key once here, so a bad key is skipped rather than failing every
    // token, and the parsed key is what every verification uses.
    let key = RsaPublicKeyComponents {
        n: n.as_slice(),
        e: e.as_slice(),
    }
    .to_parsed_public_key(&RSA_PKCS1_2048_8192_SHA256)
    .map_err(|_| "not a valid RSA public key".to_owned())?;
    Ok(VerifyingKey { kid, key })
}

/// Minimum time between two JWKS fetches, whatever triggers them: 10k tokens with random
/// kids cause at most one fetch per cooldown (coreos/go-oidc#482).
pub const DEFAULT_REFETCH_COOLDOWN: Duration = Duration::from_secs(30);
/// Cache lifetime when the response has no max-age (Google always sends one, ~5-7 h).
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(60 * 60);
/// Upper bound on any max-age: a key the provider retired stays trusted at most this long.
pub const MAX_AGE_CAP: Duration = Duration::from_secs(24 * 60 * 60);
/// How long expired keys are still used while refetching fails (bounded staleness), after
/// which verification fails closed.
pub const DEFAULT_MAX_STALE: Duration = Duration::from_secs(24 * 60 * 60);

#[derive(Debug, Default)]
struct CacheState {
    keys: Option<Arc<KeySet>>,
    fresh_until: Option<SystemTime>,
    last_attempt: Option<SystemTime>,
    last_error: Option<String>,
}

/// The JWKS of one provider, cached. Share one (in an `Arc`) between the verifiers of all
/// clients of a provider.
///
/// Rules: keys are used while fresh (the fetch's max-age, capped at a day); an unknown kid
/// or expired keys trigger a fetch, but at most one fetch starts per cooldown (30 s by
/// default) and concurrent callers wait for the one in flight; a failed or unusable fetch
/// never replaces cached keys, which stay usable for `max_stale` past their expiry.
#[derive(Debug)]
pub struct JwksCache<S> {
    source: S,
    refetch_cooldown: Duration,
    default_max_age: Duration,
    max_stale: Duration,
    state: RwLock<CacheState>,
    /// Single flight: one fetch at a time; waiters re-read the state it left.
    fetching: tokio::sync::Mutex<()>,
}

impl<S: JwksSource> JwksCache<S> {
    pub fn new(source: S) -> Self {
        Self {
            source,
            refetch_cooldown: DEFAULT_REFETCH_COOLDOWN,
            default_max_age: DEFAULT_MAX_AGE,
            max_stale: DEFAULT_MAX_STALE,
            state: RwLock::new(CacheState::default()),
            fetching: tokio::sync::Mutex::new(()),
        }
    }

    /// Minimum time between fetches. Lowering it weakens the protection against kid floods.
    pub fn with_refetch_cooldown(mut self, cooldown: Duration) -> Self {
        self.refetch_cooldown = cooldown;
        self
    }

    /// Cache lifetime when a response carries no max-age.
    pub fn with_default_max_age(mut self, max_age: Duration) -> Self {
        self.default_max_age = max_age;
        self
    }

    /// How long past expiry cached keys remain usable while fetches fail.
    pub fn with_max_stale(mut self, max_stale: Duration) -> Self {
        self.max_stale = max_stale;
        self
    }

    pub fn refetch_cooldown(&self) -> Duration {
        self.refetch_cooldown
    }

    pub fn source(&self) -> &S {
        &self.source
    }

    fn snapshot(&self) -> (Option<Arc<KeySet>>, Option<SystemTime>, Option<SystemTime>) {
        let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
        (state.keys.clone(), state.fresh_until, state.last_attempt)
    }

    /// The key set to verify a token with `kid`, fetching if the cache is cold, expired or
    /// lacks the kid and the cooldown allows it.
    pub(crate) async fn keys_for(
        &self,
        kid: Option<&str>,
        now: SystemTime,
    ) -> Result<Arc<KeySet>, IdTokenError> {
        // Fast path: fresh keys that include the kid. No lock but the read lock.
        let (keys, fresh_until, _) = self.snapshot();
        if let Some(keys) = keys.filter(|keys| is_before(now, fresh_until) && keys.has(kid)) {
            return Ok(keys);
        }

        let mut fetched_now = false;
        {
            let _single_flight = self.fetching.lock().await;
            // Someone may have fetched while we waited: re-read before deciding.
            let (keys, fresh_until, last_attempt) = self.snapshot();
            let satisfied = keys.is_some_and(|keys| is_before(now, fresh_until) && keys.has(kid));
            if !satisfied && self.cooldown_over(last_attempt, now) {
                self.fetch(now).await;
                fetched_now = true;
            }
        }

        let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
        // Expired keys stay usable for `max_stale` (a very large max_stale never overflows).
        let usable = state.keys.clone().filter(|_| {
            state.fresh_until.is_some_and(|fresh_until| {
                fresh_until
                    .checked_add(self.max_stale)
                    .is_none_or(|until| now < until)
            })
        });
        let retry_after = || self.retry_after(state.last_attempt, now);
        match (usable, kid) {
            (Some(keys), kid) if keys.has(kid) => Ok(keys),
            (Some(_), Some(kid)) if fetched_now => Err(match &state.last_error {
                None => IdTokenError::UnknownKeyId {
                    kid: Shown::new(kid),
                },
                Some(err) => IdTokenError::JwksUnavailable {
                    reason: format!(
                        "key {} is not cached and fetching the keys again failed: {err}",
                        Shown::new(kid)
                    ),
                    retry_after: Some(self.refetch_cooldown.as_secs()),
                },
            }),
            (Some(_), Some(kid)) => Err(IdTokenError::UnknownKeyIdCoolingDown {
                kid: Shown::new(kid),
                cooldown: self.refetch_cooldown.as_secs(),
                retry_after: retry_after().unwrap_or(0),
            }),
            // A kid-less token matches any key, so a usable set without a match can't happen;
            // fall through to "unavailable" rather than panic.
            _ => Err(IdTokenError::JwksUnavailable {
                reason: match (&state.keys, &state.last_error) {
                    (Some(_), Some(err)) => {
                        format!("the cached keys expired and refetching failed: {err}")
                    }
                    (Some(_), None) => "the cached keys expired".to_owned(),
                    (None, Some(err)) => err.clone(),
                    (None, None) => "they have not been fetched yet".to_owned(),
                },
                retry_after: if fetched_now {
                    Some(self.refetch_cooldown.as_secs())
                } else {
                    retry_after()
                },
            }),
        }
    }

    /// One fetch attempt. Records the attempt first, so concurrent callers and floods see
    /// the cooldown even while the request is in flight.
    async fn fetch(&self, now: SystemTime) {
        self.state
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .last_attempt = Some(now);
        let outcome = match self.source.fetch().await {
            Ok(doc) => parse_jwks(&doc.body)
                .map(|set| (set, doc.max_age))
                .map_err(|reason| format!("the JWKS was refused: {reason}")),
            Err(err) => Err(err.to_string()),
        };
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        match outcome {
            Ok((set, max_age)) => {
                let lifetime = max_age.unwrap_or(self.default_max_age).min(MAX_AGE_CAP);
                state.keys = Some(Arc::new(set));
                state.fresh_until = Some(now.checked_add(lifetime).unwrap_or(now));
                state.last_error = None;
            }
            // Keep whatever keys we had: an outage must not turn into rejecting every token.
            Err(reason) => state.last_error = Some(reason),
        }
    }

    fn cooldown_over(&self, last_attempt: Option<SystemTime>, now: SystemTime) -> bool {
        match last_attempt.map(|last| now.duration_since(last)) {
            None => true,
            Some(Ok(elapsed)) => elapsed >= self.refetch_cooldown,
            // `now` slightly before the last attempt is a caller that read the clock before
            // waiting for the fetch lock: still inside the cooldown. Far before it is the
            // wall clock jumping back, which must not block fetching for that long.
            Some(Err(behind)) => behind.duration() >= self.refetch_cooldown,
        }
    }

    fn retry_after(&self, last_attempt: Option<SystemTime>, now: SystemTime) -> Option<u64> {
        let next = last_attempt?.checked_add(self.refetch_cooldown)?;
        let wait = next.duration_since(now).ok()?;
        // Round up so "retry in N s" is never too early.
        Some(wait.as_secs() + u64::from(wait.subsec_nanos() > 0))
    }
}

fn is_before(now: SystemTime, until: Option<SystemTime>) -> bool {
    until.is_some_and(|until| now < until)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cache_control_max_age_is_read() {
        assert_eq!(
            max_age_from_cache_control("public, max-age=24873, must-revalidate, no-transform"),
            Some(Duration::from_secs(24873))
        );
        assert_eq!(
            max_age_from_cache_control("Max-Age=\"60\""),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            max_age_from_cache_control("no-cache, no-store, max-age=0, must-revalidate"),
            Some(Duration::ZERO)
        );
        assert_eq!(max_age_from_cache_control("public"), None);
        assert_eq!(max_age_from_cache_control("max-age=soon"), None);
    }

    #[test]
    fn jwks_without_keys_array_is_refused() {
        assert!(parse_jwks(br#"{"keys": {}}"#).is_err());
        assert!(parse_jwks(b"[]").is_err());
        assert!(parse_jwks(b"<html>").is_err());
    }

    #[test]
    fn weak_or_foreign_keys_are_ignored_with_a_reason() {
        let short_n = URL_SAFE_NO_PAD.encode([0xC5u8; 128]); // 1024-bit modulus
        let doc = json!({"keys": [
            {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
            {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA", "kid": "ec"},
            {"kty": "RSA", "n": short_n, "e": "AQAB", "kid": "weak"},
            {"kty": "RSA", "use": "enc", "n": short_n, "e": "AQAB"},
            "not an object",
        ]});
        let err = parse_jwks(&serde_json::to_vec(&doc).unwrap()).unwrap_err();
        assert!(err.contains("kty \"oct\" is not RSA"), "{err}");
        assert!(err.contains("1024 bits"), "{err}");
        assert!(err.contains("use is not sig"), "{err}");
    }
}
