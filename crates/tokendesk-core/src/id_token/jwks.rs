//! The provider's signing keys: fetched through an injected [`JwksSource`], cached for the
//! Cache-Control max-age, refetched once for an unknown kid at most once per cooldown.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER as AWS_LC;
use jsonwebtoken::{Algorithm, DecodingKey};
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

/// One usable verification key from the JWKS, made once when the JWKS is fetched: the
/// jsonwebtoken [`DecodingKey`] of its decoded n and e, so verifying a token decodes nothing.
pub(crate) struct VerifyingKey {
    pub kid: Option<String>,
    key: DecodingKey,
}

impl VerifyingKey {
    /// Whether `signature` is this key's RS256 signature of `signing_input`, as jsonwebtoken
    /// judges it.
    ///
    /// The algorithm is RS256 here, never the token's `alg` (RFC 8725 §3.1); jsonwebtoken
    /// also refuses the key for any algorithm outside the RSA family. Its verifier comes from
    /// its aws-lc provider by name rather than from the process-wide default, which
    /// jsonwebtoken picks from its crate features: if feature unification ever enabled its
    /// `rust_crypto` backend too, the default would panic on first use (SECURITY.md §C),
    /// while this keeps working.
    pub fn verifies(&self, signing_input: &[u8], signature: &[u8]) -> bool {
        match (AWS_LC.verifier_factory)(&Algorithm::RS256, &self.key) {
            // A wrong and a malformed signature both mean "not this key". (Its verifiers
            // take the signature as a Vec.)
            Ok(verifier) => verifier.verify(signing_input, &signature.to_vec()).is_ok(),
            Err(_) => false,
        }
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
        // Some publishers keep a leading zero octet (an ASN.1 habit); jsonwebtoken's aws-lc
        // backend refuses one.
        let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
        Ok(bytes[start..].to_vec())
    };
    let n = component("n")?;
    let e = component("e")?;
    check_rsa_public_key(&n, &e)?;
    Ok(VerifyingKey {
        kid,
        key: DecodingKey::from_rsa_raw_components(&n, &e),
    })
}

/// The rules an RS256 key must meet, checked once when the JWKS is read: jsonwebtoken's
/// [`DecodingKey`] takes n and e as given, and its aws-lc backend would refuse a key that
/// breaks them only when verifying, so each token naming that key would look forged.
/// `n` and `e` are big-endian without leading zeros.
fn check_rsa_public_key(n: &[u8], e: &[u8]) -> Result<(), String> {
    let bits = |number: &[u8]| {
        number.first().map_or(0, |top| {
            (number.len() - 1) * 8 + (8 - top.leading_zeros() as usize)
        })
    };
    let odd = |number: &[u8]| number.last().is_some_and(|low| low & 1 == 1);
    let n_bits = bits(n);
    if !(2048..=8192).contains(&n_bits) {
        return Err(format!(
            "an RSA modulus of {n_bits} bits (2048 to 8192 accepted)"
        ));
    }
    // A modulus is a product of two odd primes (RFC 8017 §3.1).
    if !odd(n) {
        return Err("an even RSA modulus".to_owned());
    }
    // e is odd and at least 3 (RFC 8017 §3.1); aws-lc also refuses one over 33 bits, a
    // guard against slow verification (Google's keys use 65537, 17 bits).
    if !odd(e) || bits(e) < 2 || bits(e) > 33 {
        return Err("an RSA public exponent that is even, below 3 or over 33 bits".to_owned());
    }
    Ok(())
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
    use std::sync::LazyLock;

    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::rsa::KeySize;
    use aws_lc_rs::signature::{KeyPair, RSA_PKCS1_SHA256, RsaKeyPair, RsaPublicKeyComponents};
    use serde_json::json;

    use super::*;

    static KEY: LazyLock<RsaKeyPair> =
        LazyLock::new(|| RsaKeyPair::generate(KeySize::Rsa2048).unwrap());

    fn b64(bytes: impl AsRef<[u8]>) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn public() -> RsaPublicKeyComponents<Vec<u8>> {
        RsaPublicKeyComponents::<Vec<u8>>::from(KEY.public_key())
    }

    fn sign(input: &[u8]) -> Vec<u8> {
        let mut signature = vec![0; KEY.public_modulus_len()];
        KEY.sign(
            &RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            input,
            &mut signature,
        )
        .unwrap();
        signature
    }

    #[test]
    fn a_loaded_key_verifies_its_own_rs256_signatures_only() {
        let public = public();
        let jwk = json!({"kty": "RSA", "kid": "k1", "n": b64(&public.n), "e": b64(&public.e)});
        let set = parse_jwks(&serde_json::to_vec(&json!({"keys": [jwk]})).unwrap()).unwrap();
        let key = set.candidates(Some("k1")).next().unwrap();
        let signature = sign(b"header.payload");
        assert!(key.verifies(b"header.payload", &signature));
        assert!(!key.verifies(b"header.payload2", &signature));
        assert!(!key.verifies(b"header.payload", &signature[1..]));
        assert!(!key.verifies(b"header.payload", &[]));
    }

    #[test]
    fn keys_that_could_never_verify_are_skipped_with_a_reason() {
        // The right size and valid base64url, but not an RSA public key. Loaded anyway, each
        // would fail every token naming it as a bad signature.
        let public = public();
        let mut even_n = public.n.clone();
        *even_n.last_mut().unwrap() &= 0xFE;
        let rsa = |kid: &str, n: &[u8], e: &[u8]| json!({"kty": "RSA", "kid": kid, "n": b64(n), "e": b64(e)});
        let doc = json!({"keys": [
            rsa("even-e", &public.n, &[0x01, 0x00, 0x00]),
            rsa("e-is-1", &public.n, &[0x01]),
            rsa("e-34-bits", &public.n, &[0x02, 0x00, 0x00, 0x00, 0x01]),
            rsa("no-e", &public.n, &[0x00]),
            rsa("even-n", &even_n, &public.e),
            rsa("good", &public.n, &public.e),
        ]});
        let set = parse_jwks(&serde_json::to_vec(&doc).unwrap()).unwrap();
        let kids: Vec<_> = set.keys.iter().map(|k| k.kid.as_deref()).collect();
        assert_eq!(kids, [Some("good")]);
        assert_eq!(set.ignored.len(), 5, "{:?}", set.ignored);
        assert!(
            set.ignored[0].contains("public exponent"),
            "{:?}",
            set.ignored
        );
        assert!(
            set.ignored[4].contains("even RSA modulus"),
            "{:?}",
            set.ignored
        );
    }

    #[test]
    fn a_key_with_a_leading_zero_octet_still_verifies() {
        let public = public();
        let mut n = vec![0];
        n.extend_from_slice(&public.n);
        let jwk = json!({"kty": "RSA", "kid": "k1", "n": b64(&n), "e": b64(&public.e)});
        let set = parse_jwks(&serde_json::to_vec(&json!({"keys": [jwk]})).unwrap()).unwrap();
        let key = set.candidates(Some("k1")).next().unwrap();
        assert!(key.verifies(b"header.payload", &sign(b"header.payload")));
    }

    #[test]
    fn jsonwebtoken_has_exactly_one_crypto_backend() {
        // SECURITY.md §C: with both of its backends enabled (or neither), jsonwebtoken's
        // process-wide default panics on first use. The verifier names the aws-lc provider
        // and does not use that default, but other code in the process may: a feature that
        // unification turned on shows up here, in the tests, rather than at run time.
        let public = public();
        let key = DecodingKey::from_rsa_raw_components(&public.n, &public.e);
        let signature = b64(sign(b"header.payload"));
        let verified =
            jsonwebtoken::crypto::verify(&signature, b"header.payload", &key, Algorithm::RS256);
        assert!(matches!(verified, Ok(true)), "{verified:?}");
    }

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
