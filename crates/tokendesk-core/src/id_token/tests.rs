//! The verifier's specification: SECURITY.md §A cases 1-16, OpenID RP conformance cases,
//! leeway boundaries, JWKS cache rules, the inspector. Keys are generated at test time.

#![allow(clippy::unwrap_used)]

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, SystemTime};

use aws_lc_rs::hmac;
use aws_lc_rs::rand::{SystemRandom, fill};
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair, RSA_PKCS1_SHA256, RsaKeyPair,
    RsaPublicKeyComponents,
};
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE};
use serde_json::json;

use super::*;
use crate::provider::Endpoints;

const WEB: &str = "1234-web.apps.googleusercontent.com";
const IOS: &str = "1234-ios.apps.googleusercontent.com";
const SUB: &str = "110169484474386276334";
const NOW: u64 = 1_750_000_000;
const NOW_I: i64 = NOW as i64;
const SIX_HOURS: Duration = Duration::from_secs(6 * 3600);

// ---------------------------------------------------------------- fixtures

struct TestKey {
    pair: RsaKeyPair,
    kid: String,
}

impl TestKey {
    fn jwk(&self) -> Value {
        let public = RsaPublicKeyComponents::<Vec<u8>>::from(self.pair.public_key());
        json!({"kty": "RSA", "alg": "RS256", "use": "sig", "kid": self.kid,
               "n": b64(&public.n), "e": b64(&public.e)})
    }

    fn sign(&self, input: &[u8]) -> Vec<u8> {
        let mut signature = vec![0; self.pair.public_modulus_len()];
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                input,
                &mut signature,
            )
            .unwrap();
        signature
    }
}

/// Three RSA-2048 keys, generated once per test run. Kids look like Google's (40 hex).
static KEYS: LazyLock<Vec<TestKey>> = LazyLock::new(|| {
    (1..=3)
        .map(|i| TestKey {
            pair: RsaKeyPair::generate(KeySize::Rsa2048).unwrap(),
            kid: format!("{i:040x}"),
        })
        .collect()
});

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A token from raw header and claims JSON text (so tests can write duplicate keys).
fn compact(header: &str, claims: &str, key: &TestKey) -> IdTokenRaw {
    let input = format!("{}.{}", b64(header), b64(claims));
    let signature = key.sign(input.as_bytes());
    IdTokenRaw::new(format!("{input}.{}", b64(signature)))
}

fn header(key: &TestKey) -> Value {
    json!({"alg": "RS256", "kid": key.kid, "typ": "JWT"})
}

/// A Google ID token's claims as minted for an iOS serverAuthCode: aud web, azp iOS.
fn claims() -> Value {
    json!({
        "iss": "https://accounts.google.com",
        "azp": IOS,
        "aud": WEB,
        "sub": SUB,
        "email": "ada@example.com",
        "email_verified": true,
        "at_hash": "HK6E_P6Dh8Y93mRNtsDB1Q",
        "name": "Ada Lovelace",
        "picture": "https://lh3.googleusercontent.com/a/photo",
        "given_name": "Ada",
        "family_name": "Lovelace",
        "locale": "en",
        "iat": NOW,
        "exp": NOW + 3600,
    })
}

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

fn without(mut claims: Value, key: &str) -> Value {
    claims.as_object_mut().unwrap().remove(key);
    claims
}

fn signed(claims: &Value) -> IdTokenRaw {
    signed_by(&KEYS[0], claims)
}

fn signed_by(key: &TestKey, claims: &Value) -> IdTokenRaw {
    compact(&header(key).to_string(), &claims.to_string(), key)
}

/// An in-memory JWKS endpoint that counts fetches and records when they happened.
#[derive(Debug)]
struct MemoryJwks {
    clock: Arc<ManualClock>,
    response: Mutex<Result<(Value, Option<Duration>), u16>>,
    fetches: AtomicUsize,
    fetched_at: Mutex<Vec<SystemTime>>,
}

impl MemoryJwks {
    fn serve(&self, keys: &[&TestKey]) {
        self.serve_doc(
            json!({"keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>()}),
            Some(SIX_HOURS),
        );
    }

    fn serve_doc(&self, doc: Value, max_age: Option<Duration>) {
        *self.response.lock().unwrap() = Ok((doc, max_age));
    }

    fn fail(&self, status: u16) {
        *self.response.lock().unwrap() = Err(status);
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

impl JwksSource for MemoryJwks {
    fn fetch(&self) -> impl Future<Output = Result<JwksDocument, JwksFetchError>> + Send {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        self.fetched_at.lock().unwrap().push(self.clock.now());
        let result = match &*self.response.lock().unwrap() {
            Ok((doc, max_age)) => Ok(JwksDocument {
                body: serde_json::to_vec(doc).unwrap(),
                max_age: *max_age,
            }),
            Err(status) => Err(JwksFetchError::Status { status: *status }),
        };
        async move {
            // A fetch takes time: let concurrent verifications pile up behind it.
            tokio::task::yield_now().await;
            result
        }
    }
}

struct Fixture {
    clock: Arc<ManualClock>,
    jwks: Arc<MemoryJwks>,
    verifier: IdTokenVerifier<Arc<MemoryJwks>>,
}

fn fixture() -> Fixture {
    fixture_with(&[&KEYS[0], &KEYS[1]], |policy| policy)
}

fn fixture_with(keys: &[&TestKey], policy: impl FnOnce(IdTokenPolicy) -> IdTokenPolicy) -> Fixture {
    let clock = Arc::new(ManualClock::at_unix(NOW));
    let jwks = Arc::new(MemoryJwks {
        clock: Arc::clone(&clock),
        response: Mutex::new(Err(500)),
        fetches: AtomicUsize::new(0),
        fetched_at: Mutex::new(Vec::new()),
    });
    jwks.serve(keys);
    let policy = policy(IdTokenPolicy::new(&Endpoints::google(), WEB).with_authorized_party(IOS));
    let verifier = IdTokenVerifier::new(policy, Arc::new(JwksCache::new(Arc::clone(&jwks))))
        .with_clock(Arc::clone(&clock) as Arc<dyn Clock>);
    Fixture {
        clock,
        jwks,
        verifier,
    }
}

impl Fixture {
    async fn accepted(&self, token: &IdTokenRaw) -> VerifiedIdToken {
        match self.verifier.verify(token).await {
            Ok(verified) => verified,
            Err(err) => panic!("expected the token to be accepted, got: {err}"),
        }
    }

    /// Verifies that `token` is refused, that the message does not contain the token, and
    /// that the inspector reaches the same verdict with the same first error.
    async fn rejected(&self, token: &IdTokenRaw) -> IdTokenError {
        let err = self
            .verifier
            .verify(token)
            .await
            .expect_err("the token must be refused");
        let message = err.to_string();
        for part in token.secret().split('.').filter(|part| part.len() >= 8) {
            assert!(
                !message.contains(part),
                "an error message must never contain the token: {message}"
            );
        }
        let inspection = self.verifier.inspect(token).await;
        assert!(
            !inspection.valid,
            "the inspector must agree with verify ({message})"
        );
        assert_eq!(
            inspection.error.as_ref().map(|e| e.code.as_ref()),
            Some(err.code()),
            "the inspector's first failure must be the verifier's error"
        );
        err
    }
}

// ---------------------------------------------------------------- the good token

#[tokio::test]
async fn valid_google_token_is_accepted_with_typed_claims() {
    let f = fixture();
    let token = f.accepted(&signed(&claims())).await;
    let c = token.claims();
    assert_eq!(c.sub, SUB);
    assert_eq!(c.iss, "https://accounts.google.com");
    assert_eq!(c.aud, [WEB]);
    assert_eq!(c.azp.as_deref(), Some(IOS));
    assert_eq!(c.email.as_deref(), Some("ada@example.com"));
    assert_eq!(c.email_verified, Some(true));
    assert_eq!(c.name.as_deref(), Some("Ada Lovelace"));
    assert_eq!(c.given_name.as_deref(), Some("Ada"));
    assert_eq!(c.family_name.as_deref(), Some("Lovelace"));
    assert_eq!(
        c.picture.as_deref(),
        Some("https://lh3.googleusercontent.com/a/photo")
    );
    assert_eq!(c.locale.as_deref(), Some("en"));
    assert_eq!(c.hd, None);
    assert_eq!((c.iat, c.exp), (NOW_I, NOW_I + 3600));
    assert_eq!(token.key_id(), Some(KEYS[0].kid.as_str()));
    assert_eq!(
        f.jwks.fetches(),
        1,
        "the first verification fetches the JWKS once"
    );
    f.accepted(&signed(&claims())).await;
    assert_eq!(f.jwks.fetches(), 1, "a warm cache is not refetched");
}

#[test]
fn verification_futures_are_send() {
    fn assert_send<T: Send>(_: &T) {}
    let f = fixture();
    let token = signed(&claims());
    assert_send(&f.verifier.verify(&token));
    assert_send(&f.verifier.inspect(&token));
}

#[tokio::test]
async fn at_hash_matches_only_its_access_token() {
    let f = fixture();
    let access = AccessToken::new(concat!("ya29.", "a0-test-access-token"));
    let hash = digest::digest(&digest::SHA256, access.secret().as_bytes());
    let at_hash = b64(&hash.as_ref()[..16]);
    let token = f
        .accepted(&signed(&with(claims(), "at_hash", json!(at_hash))))
        .await;
    assert_eq!(token.matches_access_token(&access), Some(true));
    assert_eq!(
        token.matches_access_token(&AccessToken::new("ya29.other")),
        Some(false)
    );
    let token = f.accepted(&signed(&without(claims(), "at_hash"))).await;
    assert_eq!(
        token.matches_access_token(&access),
        None,
        "no at_hash, nothing to compare"
    );
}

// ---------------------------------------------------------------- §A.1 alg none / no signature

#[tokio::test]
async fn alg_none_is_rejected() {
    let f = fixture();
    let unsigned = format!(
        "{}.{}.",
        b64(r#"{"alg":"none","typ":"JWT"}"#),
        b64(claims().to_string())
    );
    let err = f.rejected(&IdTokenRaw::new(unsigned)).await;
    assert!(matches!(err, IdTokenError::MissingSignature), "{err}");
}

#[tokio::test]
async fn alg_none_with_a_signature_is_rejected() {
    let f = fixture();
    let token = compact(r#"{"alg":"none"}"#, &claims().to_string(), &KEYS[0]);
    let err = f.rejected(&token).await;
    assert!(
        matches!(err, IdTokenError::AlgorithmNotAllowed { .. }),
        "{err}"
    );
}

#[tokio::test]
async fn empty_signature_is_rejected() {
    let f = fixture();
    let token = signed(&claims());
    let stripped = token.secret().rsplit_once('.').unwrap().0.to_owned() + ".";
    let err = f.rejected(&IdTokenRaw::new(stripped)).await;
    assert!(matches!(err, IdTokenError::MissingSignature), "{err}");
}

// ---------------------------------------------------------------- §A.2 algorithm confusion

#[tokio::test]
async fn hs256_with_rsa_public_key_as_secret_is_rejected() {
    let f = fixture();
    // The classic confusion: HMAC keyed with the public key, hoping the verifier uses the
    // header's alg with the RSA key as the secret. Try the DER and the JWK modulus.
    let public_der = KEYS[0].pair.public_key().as_ref().to_vec();
    let modulus = RsaPublicKeyComponents::<Vec<u8>>::from(KEYS[0].pair.public_key()).n;
    for secret in [public_der, modulus] {
        let header = json!({"alg": "HS256", "kid": KEYS[0].kid, "typ": "JWT"}).to_string();
        let input = format!("{}.{}", b64(&header), b64(claims().to_string()));
        let tag = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, &secret),
            input.as_bytes(),
        );
        let token = IdTokenRaw::new(format!("{input}.{}", b64(tag.as_ref())));

        let err = f.rejected(&token).await;
        assert!(
            matches!(err, IdTokenError::AlgorithmNotAllowed { .. }),
            "{err}"
        );
        let inspection = f.verifier.inspect(&token).await;
        let signature = inspection
            .checks
            .iter()
            .find(|c| c.name == "signature")
            .unwrap();
        assert!(
            !signature.ok,
            "even past the alg check, RS256 is hard-coded and the MAC fails"
        );
    }
}

#[tokio::test]
async fn es256_signed_token_is_rejected() {
    let f = fixture();
    let ec = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    let input = format!(
        "{}.{}",
        b64(r#"{"alg":"ES256","typ":"JWT"}"#),
        b64(claims().to_string())
    );
    let signature = ec.sign(&SystemRandom::new(), input.as_bytes()).unwrap();
    let err = f
        .rejected(&IdTokenRaw::new(format!(
            "{input}.{}",
            b64(signature.as_ref())
        )))
        .await;
    assert!(
        matches!(err, IdTokenError::AlgorithmNotAllowed { .. }),
        "{err}"
    );
}

// ---------------------------------------------------------------- §A.3 oct and unknown keys

#[tokio::test]
async fn oct_key_in_jwks_is_ignored() {
    let f = fixture();
    let secret = b"a-shared-secret-in-a-public-jwks";
    f.jwks.serve_doc(
        json!({"keys": [{"kty": "oct", "kid": "hmac-key", "alg": "HS256", "k": b64(secret)}, KEYS[0].jwk()]}),
        Some(SIX_HOURS),
    );
    let header = r#"{"alg":"HS256","kid":"hmac-key","typ":"JWT"}"#;
    let input = format!("{}.{}", b64(header), b64(claims().to_string()));
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, secret), input.as_bytes());
    let err = f
        .rejected(&IdTokenRaw::new(format!("{input}.{}", b64(tag.as_ref()))))
        .await;
    assert!(
        matches!(err, IdTokenError::AlgorithmNotAllowed { .. }),
        "{err}"
    );

    // Even labelled RS256, a token pointing at the oct key finds no key: it was never loaded.
    let rs_header = r#"{"alg":"RS256","kid":"hmac-key","typ":"JWT"}"#;
    let err = f
        .rejected(&compact(rs_header, &claims().to_string(), &KEYS[0]))
        .await;
    assert!(
        matches!(
            err,
            IdTokenError::UnknownKeyId { .. } | IdTokenError::UnknownKeyIdCoolingDown { .. }
        ),
        "{err}"
    );
    f.accepted(&signed(&claims())).await;
}

#[tokio::test]
async fn unparseable_keys_in_jwks_are_skipped() {
    // OpenID conformance "ignores-unparseable-key-in-jwks" (RFC 7517 §5).
    let f = fixture();
    f.jwks.serve_doc(
        json!({"keys": [
            {"kty": "AKP", "alg": "ML-DSA-44", "kid": "pq", "pub": "AAAA"},
            {"kty": "made-up", "kid": "odd"},
            {"kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB"},
            KEYS[0].jwk(),
        ]}),
        Some(SIX_HOURS),
    );
    f.accepted(&signed(&claims())).await;
}

// ---------------------------------------------------------------- §A.4 bad signatures

#[tokio::test]
async fn flipped_signature_bit_is_rejected() {
    let f = fixture();
    let token = signed(&claims());
    let (input, signature) = token.secret().rsplit_once('.').unwrap();
    let mut bytes = URL_SAFE_NO_PAD.decode(signature).unwrap();
    bytes[100] ^= 0x01;
    let err = f
        .rejected(&IdTokenRaw::new(format!("{input}.{}", b64(bytes))))
        .await;
    assert!(matches!(err, IdTokenError::BadSignature { .. }), "{err}");
}

#[tokio::test]
async fn token_signed_by_another_key_is_rejected() {
    let f = fixture();
    // Claims the kid of a trusted key, signed by a key the provider never published.
    let token = compact(
        &header(&KEYS[0]).to_string(),
        &claims().to_string(),
        &KEYS[2],
    );
    let err = f.rejected(&token).await;
    assert!(
        matches!(err, IdTokenError::BadSignature { tried: 1, .. }),
        "{err}"
    );
}

#[tokio::test]
async fn altered_claims_are_rejected() {
    let f = fixture();
    let token = signed(&claims());
    let [h, _, s] = compact::split(token.secret()).unwrap();
    let forged = b64(with(claims(), "email", json!("admin@example.com")).to_string());
    let err = f
        .rejected(&IdTokenRaw::new(format!("{h}.{forged}.{s}")))
        .await;
    assert!(matches!(err, IdTokenError::BadSignature { .. }), "{err}");
}

// ---------------------------------------------------------------- §A.5 unknown kid, refetch, flood

fn token_with_random_kid() -> IdTokenRaw {
    let mut kid = [0u8; 20];
    fill(&mut kid).unwrap();
    let kid: String = kid.iter().map(|b| format!("{b:02x}")).collect();
    let mut signature = [0u8; 256];
    fill(&mut signature).unwrap();
    let header = json!({"alg": "RS256", "kid": kid, "typ": "JWT"}).to_string();
    // Valid claims: a flood must not be stopped by a claim check before the key lookup.
    IdTokenRaw::new(format!(
        "{}.{}.{}",
        b64(header),
        b64(claims().to_string()),
        b64(signature)
    ))
}

#[tokio::test]
async fn unknown_kid_refetches_once_then_rejects() {
    let f = fixture();
    f.accepted(&signed(&claims())).await;
    f.clock.advance(Duration::from_secs(31));
    let err = f
        .verifier
        .verify(&signed_by(&KEYS[2], &claims()))
        .await
        .unwrap_err();
    assert!(matches!(err, IdTokenError::UnknownKeyId { .. }), "{err}");
    assert_eq!(
        f.jwks.fetches(),
        2,
        "exactly one refetch for the unknown kid"
    );
    let err = f
        .verifier
        .verify(&signed_by(&KEYS[2], &claims()))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            IdTokenError::UnknownKeyIdCoolingDown {
                retry_after: 30,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(f.jwks.fetches(), 2, "no second refetch inside the cooldown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_kid_flood_refetches_at_most_once_per_cooldown() {
    let f = Arc::new(fixture());
    f.accepted(&signed(&claims())).await;
    assert_eq!(f.jwks.fetches(), 1);

    async fn flood(f: &Arc<Fixture>) {
        let tasks: Vec<_> = (0..10_000)
            .map(|_| {
                let f = Arc::clone(f);
                let token = token_with_random_kid();
                tokio::spawn(async move { f.verifier.verify(&token).await })
            })
            .collect();
        for task in tasks {
            let err = task.await.unwrap().unwrap_err();
            assert!(
                matches!(
                    err,
                    IdTokenError::UnknownKeyId { .. }
                        | IdTokenError::UnknownKeyIdCoolingDown { .. }
                ),
                "{err}"
            );
        }
    }

    f.clock.advance(Duration::from_secs(31));
    flood(&f).await;
    assert_eq!(
        f.jwks.fetches(),
        2,
        "10k random kids cause one refetch, not 10k"
    );
    f.clock.advance(Duration::from_secs(29));
    flood(&f).await;
    assert_eq!(
        f.jwks.fetches(),
        2,
        "29 s later we are still inside the 30 s cooldown"
    );
    f.clock.advance(Duration::from_secs(1));
    flood(&f).await;
    assert_eq!(
        f.jwks.fetches(),
        3,
        "once the cooldown is over, one more refetch"
    );
    f.accepted(&signed(&claims())).await;
    assert_eq!(
        f.jwks.fetches(),
        3,
        "the flood evicted nothing: the real key still verifies from cache"
    );
}

#[tokio::test]
async fn kid_flood_spread_over_time_fetches_at_most_once_per_30_s() {
    let f = fixture();
    f.accepted(&signed(&claims())).await;
    // 12,000 tokens over two minutes, 100 per second.
    for _ in 0..120 {
        for _ in 0..100 {
            let _ = f.verifier.verify(&token_with_random_kid()).await;
        }
        f.clock.advance(Duration::from_secs(1));
    }
    let times = f.jwks.fetched_at.lock().unwrap().clone();
    assert!(
        times.len() <= 5,
        "at most 1 + 120/30 fetches, got {}",
        times.len()
    );
    for pair in times.windows(2) {
        let gap = pair[1].duration_since(pair[0]).unwrap();
        assert!(
            gap >= Duration::from_secs(30),
            "two fetches {gap:?} apart: the cooldown was not kept"
        );
    }
}

#[tokio::test]
async fn signing_key_rotation_is_picked_up_by_one_refetch() {
    // OpenID conformance "signing-key-rotation": a new kid appears, the JWKS is fetched again.
    let f = fixture();
    f.accepted(&signed(&claims())).await;
    f.jwks.serve(&[&KEYS[1], &KEYS[2]]);
    f.clock.advance(Duration::from_secs(31));
    f.accepted(&signed_by(&KEYS[2], &claims())).await;
    assert_eq!(f.jwks.fetches(), 2, "one refetch found the new key");
    f.accepted(&signed_by(&KEYS[1], &claims())).await;
    assert_eq!(f.jwks.fetches(), 2);
    // The retired key is gone after the refetch that replaced the set.
    f.clock.advance(Duration::from_secs(31));
    let err = f
        .verifier
        .verify(&signed_by(&KEYS[0], &claims()))
        .await
        .unwrap_err();
    assert!(matches!(err, IdTokenError::UnknownKeyId { .. }), "{err}");
}

#[tokio::test]
async fn new_kid_right_after_a_fetch_waits_for_the_cooldown() {
    // "rotation just before signing", inside the cooldown: refused with a retry time, then
    // accepted once the cooldown allows a refetch.
    let f = fixture();
    f.accepted(&signed(&claims())).await;
    f.jwks.serve(&[&KEYS[0], &KEYS[1], &KEYS[2]]);
    f.clock.advance(Duration::from_secs(5));
    let err = f
        .verifier
        .verify(&signed_by(&KEYS[2], &claims()))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            IdTokenError::UnknownKeyIdCoolingDown {
                retry_after: 25,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("retry in 25 s"), "{err}");
    f.clock.advance(Duration::from_secs(25));
    f.accepted(&signed_by(&KEYS[2], &claims())).await;
    assert_eq!(f.jwks.fetches(), 2);
}

#[tokio::test]
async fn keys_are_refetched_when_max_age_passes() {
    let f = fixture();
    f.jwks.serve_doc(
        json!({"keys": [KEYS[0].jwk()]}),
        Some(Duration::from_secs(600)),
    );
    f.accepted(&signed(&claims())).await;
    f.clock.advance(Duration::from_secs(599));
    f.accepted(&signed(&with(claims(), "exp", json!(NOW + 7200))))
        .await;
    assert_eq!(f.jwks.fetches(), 1, "within max-age the cache is used");
    f.clock.advance(Duration::from_secs(2));
    f.accepted(&signed(&with(claims(), "exp", json!(NOW + 7200))))
        .await;
    assert_eq!(
        f.jwks.fetches(),
        2,
        "past max-age the keys are fetched again"
    );
}

#[tokio::test]
async fn failed_refetch_keeps_cached_keys() {
    let f = fixture();
    let long_lived = with(claims(), "exp", json!(NOW + 40 * 3600));
    f.accepted(&signed(&long_lived)).await;
    f.jwks.fail(503);
    f.clock.advance(Duration::from_secs(31));
    let err = f
        .verifier
        .verify(&signed_by(&KEYS[2], &long_lived))
        .await
        .unwrap_err();
    assert!(matches!(err, IdTokenError::JwksUnavailable { .. }), "{err}");
    assert!(
        err.to_string().contains("503"),
        "the outage is named: {err}"
    );
    f.accepted(&signed(&long_lived)).await;
    // Past max-age, the refetch fails too: the expired keys are still used (bounded staleness).
    f.clock.advance(SIX_HOURS);
    f.accepted(&signed(&long_lived)).await;
    assert_eq!(
        f.jwks.fetches(),
        3,
        "one attempt for the unknown kid, one for the expired keys"
    );
}

#[tokio::test]
async fn stale_keys_are_refused_after_max_stale() {
    let f = fixture();
    let long_lived = with(claims(), "exp", json!(NOW + 40 * 3600));
    f.accepted(&signed(&long_lived)).await;
    f.jwks.fail(503);
    f.clock
        .advance(SIX_HOURS + DEFAULT_MAX_STALE + Duration::from_secs(1));
    let err = f.verifier.verify(&signed(&long_lived)).await.unwrap_err();
    assert!(
        matches!(err, IdTokenError::JwksUnavailable { .. }),
        "fail closed: {err}"
    );
    f.jwks.serve(&[&KEYS[0]]);
    f.clock.advance(Duration::from_secs(30));
    f.accepted(&signed(&long_lived)).await;
}

#[tokio::test]
async fn cold_cache_with_failing_source_is_unavailable_not_a_bad_token() {
    let f = fixture();
    f.jwks.fail(500);
    let err = f.rejected(&signed(&claims())).await;
    assert!(matches!(err, IdTokenError::JwksUnavailable { .. }), "{err}");
    assert!(err.to_string().contains("HTTP 500"), "{err}");
}

#[tokio::test]
async fn unusable_jwks_does_not_replace_cached_keys() {
    let f = fixture();
    f.accepted(&signed(&claims())).await;
    f.jwks.serve_doc(
        json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}),
        Some(SIX_HOURS),
    );
    f.clock.advance(SIX_HOURS + Duration::from_secs(1));
    f.accepted(&signed(&with(claims(), "exp", json!(NOW + 8 * 3600))))
        .await;
    assert_eq!(
        f.jwks.fetches(),
        2,
        "the refetch happened and its empty key set was refused"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_cold_start_fetches_once() {
    let f = Arc::new(fixture());
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let f = Arc::clone(&f);
            tokio::spawn(async move { f.verifier.verify(&signed(&claims())).await.map(|_| ()) })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(
        f.jwks.fetches(),
        1,
        "callers wait for the fetch in flight instead of starting their own"
    );
}

// ---------------------------------------------------------------- §A.6 kid absent

fn kidless(key: &TestKey) -> IdTokenRaw {
    compact(r#"{"alg":"RS256","typ":"JWT"}"#, &claims().to_string(), key)
}

#[tokio::test]
async fn missing_kid_with_a_single_key_uses_it() {
    let f = fixture_with(&[&KEYS[0]], |p| p);
    let token = f.accepted(&kidless(&KEYS[0])).await;
    assert_eq!(token.key_id(), None);
}

#[tokio::test]
async fn missing_kid_with_several_keys_tries_each() {
    let f = fixture_with(&[&KEYS[0], &KEYS[1]], |p| p);
    f.accepted(&kidless(&KEYS[1])).await;
}

#[tokio::test]
async fn missing_kid_matching_no_key_is_rejected() {
    let f = fixture_with(&[&KEYS[0], &KEYS[1]], |p| p);
    let err = f.rejected(&kidless(&KEYS[2])).await;
    assert!(
        matches!(
            err,
            IdTokenError::BadSignature {
                kid: None,
                tried: 2
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("each was tried"), "{err}");
}

// ---------------------------------------------------------------- §A.7 exp and leeway

#[tokio::test]
async fn expired_token_is_rejected() {
    let f = fixture();
    let err = f
        .rejected(&signed(&with(claims(), "exp", json!(NOW - 3600))))
        .await;
    assert!(matches!(err, IdTokenError::Expired { .. }), "{err}");
}

#[tokio::test]
async fn exp_one_second_inside_leeway_is_accepted() {
    let f = fixture();
    f.accepted(&signed(&with(claims(), "exp", json!(NOW - 60 + 1))))
        .await;
}

#[tokio::test]
async fn exp_exactly_leeway_ago_is_rejected() {
    // Valid only strictly before exp + leeway (RFC 7519 §4.1.4).
    let f = fixture();
    let err = f
        .rejected(&signed(&with(claims(), "exp", json!(NOW - 60))))
        .await;
    assert!(
        matches!(err, IdTokenError::Expired { leeway: 60, .. }),
        "{err}"
    );
}

#[tokio::test]
async fn exp_one_second_beyond_leeway_is_rejected() {
    let f = fixture();
    let err = f
        .rejected(&signed(&with(claims(), "exp", json!(NOW - 60 - 1))))
        .await;
    assert!(matches!(err, IdTokenError::Expired { .. }), "{err}");
}

#[tokio::test]
async fn leeway_is_configurable() {
    let strict = fixture_with(&[&KEYS[0]], |p| p.with_leeway(Duration::ZERO));
    strict
        .rejected(&signed(&with(claims(), "exp", json!(NOW))))
        .await;
    strict
        .accepted(&signed(&with(claims(), "exp", json!(NOW + 1))))
        .await;
    let lenient = fixture_with(&[&KEYS[0]], |p| p.with_leeway(Duration::from_secs(300)));
    lenient
        .accepted(&signed(&with(claims(), "exp", json!(NOW - 299))))
        .await;
    assert_eq!(lenient.verifier.policy().leeway(), Duration::from_secs(300));
}

#[tokio::test]
async fn fractional_exp_is_read_as_seconds() {
    let f = fixture();
    f.accepted(&signed(&with(claims(), "exp", json!(NOW as f64 + 10.5))))
        .await;
}

// ---------------------------------------------------------------- §A.8 iat

#[tokio::test]
async fn missing_iat_is_rejected() {
    let f = fixture();
    let err = f.rejected(&signed(&without(claims(), "iat"))).await;
    assert!(
        matches!(err, IdTokenError::MissingClaim { claim: "iat" }),
        "{err}"
    );
}

#[tokio::test]
async fn iat_in_the_future_beyond_leeway_is_rejected() {
    let f = fixture();
    let err = f
        .rejected(&signed(&with(claims(), "iat", json!(NOW + 61))))
        .await;
    assert!(matches!(err, IdTokenError::IssuedInFuture { .. }), "{err}");
    assert!(
        err.to_string().contains("clock"),
        "tells the person to check the clock: {err}"
    );
}

#[tokio::test]
async fn iat_in_the_future_within_leeway_is_accepted() {
    let f = fixture();
    f.accepted(&signed(&with(claims(), "iat", json!(NOW + 60))))
        .await;
}

// ---------------------------------------------------------------- §A.9 nbf

#[tokio::test]
async fn nbf_in_the_future_is_rejected() {
    let f = fixture();
    let err = f
        .rejected(&signed(&with(claims(), "nbf", json!(NOW + 61))))
        .await;
    assert!(matches!(err, IdTokenError::NotYetValid { .. }), "{err}");
}

#[tokio::test]
async fn nbf_within_leeway_is_accepted() {
    let f = fixture();
    f.accepted(&signed(&with(claims(), "nbf", json!(NOW + 60))))
        .await;
}

// ---------------------------------------------------------------- §A.10 claim types

#[tokio::test]
async fn wrongly_typed_claims_are_rejected() {
    let f = fixture();
    let cases = [
        ("exp", json!((NOW + 3600).to_string()), "exp"),
        ("nbf", json!(NOW.to_string()), "nbf"),
        ("iat", json!(NOW.to_string()), "iat"),
        ("iss", json!(123), "iss"),
        ("aud", json!({}), "aud"),
        ("aud", json!([]), "aud"),
        ("aud", json!([WEB, 7]), "aud"),
        ("sub", json!(42), "sub"),
        ("sub", Value::Null, "sub"),
        ("azp", json!([IOS]), "azp"),
        ("email_verified", json!("true"), "email_verified"),
        ("email", json!(["ada@example.com"]), "email"),
    ];
    for (claim, value, reported) in cases {
        let err = f
            .rejected(&signed(&with(claims(), claim, value.clone())))
            .await;
        assert!(
            matches!(err, IdTokenError::WrongClaimType { claim, .. } if claim == reported),
            "{claim} = {value}: {err}"
        );
    }
}

#[tokio::test]
async fn missing_exp_iss_or_aud_is_rejected() {
    let f = fixture();
    for claim in ["exp", "iss", "aud"] {
        let err = f.rejected(&signed(&without(claims(), claim))).await;
        assert!(
            matches!(err, IdTokenError::MissingClaim { claim: c } if c == claim),
            "{err}"
        );
    }
}

// ---------------------------------------------------------------- §A.11 issuer

#[tokio::test]
async fn both_google_issuers_are_accepted() {
    let f = fixture();
    f.accepted(&signed(&with(
        claims(),
        "iss",
        json!("https://accounts.google.com"),
    )))
    .await;
    f.accepted(&signed(&with(
        claims(),
        "iss",
        json!("accounts.google.com"),
    )))
    .await;
}

#[tokio::test]
async fn wrong_issuer_is_rejected() {
    let f = fixture();
    let err = f
        .rejected(&signed(&with(
            claims(),
            "iss",
            json!("https://evil.example"),
        )))
        .await;
    assert!(matches!(err, IdTokenError::UntrustedIssuer { .. }), "{err}");
}

#[tokio::test]
async fn trailing_slash_issuer_is_rejected() {
    let f = fixture();
    let err = f
        .rejected(&signed(&with(
            claims(),
            "iss",
            json!("https://accounts.google.com/"),
        )))
        .await;
    assert!(matches!(err, IdTokenError::UntrustedIssuer { .. }), "{err}");
}

#[tokio::test]
async fn http_scheme_issuer_is_rejected() {
    let f = fixture();
    let err = f
        .rejected(&signed(&with(
            claims(),
            "iss",
            json!("http://accounts.google.com"),
        )))
        .await;
    assert!(matches!(err, IdTokenError::UntrustedIssuer { .. }), "{err}");
}

#[tokio::test]
async fn emulator_issuer_is_accepted_only_by_an_emulator_policy() {
    let base = "http://127.0.0.1:41234";
    let doc = json!({"issuer": base, "authorization_endpoint": format!("{base}/auth"),
        "token_endpoint": format!("{base}/token"), "userinfo_endpoint": format!("{base}/userinfo"),
        "revocation_endpoint": format!("{base}/revoke"), "jwks_uri": format!("{base}/certs")});
    let endpoints =
        Endpoints::from_discovery(base, &serde_json::to_vec(&doc).unwrap(), base).unwrap();
    let f = fixture_with(&[&KEYS[0]], |_| {
        IdTokenPolicy::new(&endpoints, WEB).with_authorized_party(IOS)
    });
    f.accepted(&signed(&with(claims(), "iss", json!(base))))
        .await;
    let err = f.rejected(&signed(&claims())).await;
    assert!(
        matches!(err, IdTokenError::UntrustedIssuer { .. }),
        "Google's issuer is not the emulator's"
    );
}

// ---------------------------------------------------------------- §A.12 audience

#[tokio::test]
async fn wrong_audience_is_rejected() {
    let f = fixture();
    let err = f
        .rejected(&signed(&with(claims(), "aud", json!(IOS))))
        .await;
    assert!(matches!(err, IdTokenError::WrongAudience { .. }), "{err}");
    assert!(
        err.to_string().contains("serverClientID"),
        "says what to fix: {err}"
    );
}

#[tokio::test]
async fn extra_untrusted_audience_is_rejected() {
    let f = fixture();
    let err = f
        .rejected(&signed(&with(claims(), "aud", json!([WEB, "evil"]))))
        .await;
    assert!(
        matches!(err, IdTokenError::UntrustedAudience { .. }),
        "{err}"
    );
}

#[tokio::test]
async fn audience_array_of_only_this_client_is_accepted() {
    let f = fixture();
    f.accepted(&signed(&with(claims(), "aud", json!([WEB]))))
        .await;
}

// ---------------------------------------------------------------- §A.13 azp and refresh

#[tokio::test]
async fn unknown_azp_is_rejected() {
    let f = fixture();
    let err = f
        .rejected(&signed(&with(
            claims(),
            "azp",
            json!("someone-else.apps.googleusercontent.com"),
        )))
        .await;
    assert!(
        matches!(err, IdTokenError::UnknownAuthorizedParty { .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains("iOS client ID"),
        "says how to fix: {err}"
    );
}

#[tokio::test]
async fn azp_of_an_unconfigured_ios_client_is_rejected() {
    let f = fixture_with(&[&KEYS[0]], |_| {
        IdTokenPolicy::new(&Endpoints::google(), WEB)
    });
    let err = f.rejected(&signed(&claims())).await;
    assert!(
        matches!(err, IdTokenError::UnknownAuthorizedParty { .. }),
        "{err}"
    );
}

#[tokio::test]
async fn azp_web_ios_or_absent_is_accepted() {
    let f = fixture();
    f.accepted(&signed(&with(claims(), "azp", json!(IOS))))
        .await;
    f.accepted(&signed(&with(claims(), "azp", json!(WEB))))
        .await;
    f.accepted(&signed(&without(claims(), "azp"))).await;
}

/// What Google returns on refresh: same identity, new times, no profile claims.
fn refreshed_claims() -> Value {
    let mut c = claims();
    for profile in [
        "name",
        "picture",
        "given_name",
        "family_name",
        "locale",
        "at_hash",
    ] {
        c = without(c, profile);
    }
    c = with(c, "iat", json!(NOW + 30));
    with(c, "exp", json!(NOW + 3630))
}

#[tokio::test]
async fn refreshed_token_without_profile_claims_is_accepted() {
    let f = fixture();
    let original = f.accepted(&signed(&claims())).await;
    f.clock.advance(Duration::from_secs(30));
    let refreshed = f
        .verifier
        .verify_refreshed(&original, &signed(&refreshed_claims()))
        .await
        .unwrap();
    assert_eq!(refreshed.sub(), original.sub());
    assert_eq!(
        refreshed.claims().name,
        None,
        "missing profile claims are allowed"
    );
}

#[tokio::test]
async fn refreshed_token_with_changed_sub_is_rejected() {
    let f = fixture();
    let original = f.accepted(&signed(&claims())).await;
    let token = signed(&with(refreshed_claims(), "sub", json!("999")));
    let err = f
        .verifier
        .verify_refreshed(&original, &token)
        .await
        .unwrap_err();
    assert!(
        matches!(err, IdTokenError::RefreshChangedClaim { claim: "sub" }),
        "{err}"
    );
}

#[tokio::test]
async fn refreshed_token_in_googles_other_issuer_form_names_the_same_issuer() {
    // Google signs with `https://accounts.google.com` or `accounts.google.com`: one issuer.
    // Refusing the other form would fail every refresh of a user whose sign-in carried one
    // form and whose refreshes carry the other. (The verifier accepts no third issuer, so no
    // other change of iss can reach this check: `iss` itself refuses it.)
    let f = fixture();
    let original = f.accepted(&signed(&claims())).await;
    let token = signed(&with(
        refreshed_claims(),
        "iss",
        json!("accounts.google.com"),
    ));
    let refreshed = f
        .verifier
        .verify_refreshed(&original, &token)
        .await
        .expect("the other form of Google's issuer is Google");
    assert_eq!(refreshed.claims().iss, "accounts.google.com");
    let other = signed(&with(
        refreshed_claims(),
        "iss",
        json!("https://evil.example"),
    ));
    let err = f
        .verifier
        .verify_refreshed(&original, &other)
        .await
        .unwrap_err();
    assert!(
        matches!(err, IdTokenError::UntrustedIssuer { .. }),
        "another issuer is refused: {err:?}"
    );
}

#[tokio::test]
async fn refreshed_token_with_changed_azp_is_rejected() {
    let f = fixture();
    let original = f.accepted(&signed(&claims())).await;
    let token = signed(&with(refreshed_claims(), "azp", json!(WEB)));
    let err = f
        .verifier
        .verify_refreshed(&original, &token)
        .await
        .unwrap_err();
    assert!(
        matches!(err, IdTokenError::RefreshChangedClaim { claim: "azp" }),
        "{err}"
    );
}

#[tokio::test]
async fn refreshed_token_with_an_azp_the_original_lacked_is_rejected() {
    let f = fixture();
    let original = f.accepted(&signed(&without(claims(), "azp"))).await;
    let err = f
        .verifier
        .verify_refreshed(&original, &signed(&refreshed_claims()))
        .await
        .unwrap_err();
    assert!(
        matches!(err, IdTokenError::RefreshChangedClaim { claim: "azp" }),
        "{err}"
    );
}

#[tokio::test]
async fn refreshed_token_must_itself_be_valid() {
    let f = fixture();
    let original = f.accepted(&signed(&claims())).await;
    let token = signed(&with(refreshed_claims(), "exp", json!(NOW - 3600)));
    let err = f
        .verifier
        .verify_refreshed(&original, &token)
        .await
        .unwrap_err();
    assert!(matches!(err, IdTokenError::Expired { .. }), "{err}");
}

// ---------------------------------------------------------------- §A.14 sub

#[tokio::test]
async fn missing_sub_is_rejected() {
    let f = fixture();
    let err = f.rejected(&signed(&without(claims(), "sub"))).await;
    assert!(
        matches!(err, IdTokenError::MissingClaim { claim: "sub" }),
        "{err}"
    );
}

#[tokio::test]
async fn empty_or_overlong_sub_is_rejected() {
    let f = fixture();
    for sub in [String::new(), "1".repeat(256)] {
        let err = f
            .rejected(&signed(&with(claims(), "sub", json!(sub))))
            .await;
        assert!(matches!(err, IdTokenError::InvalidSubject), "{err}");
    }
}

// ---------------------------------------------------------------- §A.15 duplicate keys

#[tokio::test]
async fn duplicate_exp_in_claims_is_rejected() {
    let f = fixture();
    // An expired exp first, a valid one last: a last-wins parser would accept this token.
    let mut text = claims().to_string();
    text.insert_str(1, &format!("\"exp\":{},", NOW - 86_400));
    let err = f
        .rejected(&compact(&header(&KEYS[0]).to_string(), &text, &KEYS[0]))
        .await;
    assert!(
        matches!(&err, IdTokenError::DuplicateKey { part: Part::Payload, key } if key.as_str() == "exp"),
        "{err}"
    );
}

#[tokio::test]
async fn duplicate_alg_in_header_is_rejected() {
    let f = fixture();
    let text = format!(
        r#"{{"alg":"none","alg":"RS256","kid":"{}","typ":"JWT"}}"#,
        KEYS[0].kid
    );
    let err = f
        .rejected(&compact(&text, &claims().to_string(), &KEYS[0]))
        .await;
    assert!(
        matches!(&err, IdTokenError::DuplicateKey { part: Part::Header, key } if key.as_str() == "alg"),
        "{err}"
    );
}

// ---------------------------------------------------------------- §A.16 structure

#[tokio::test]
async fn padded_base64_is_rejected() {
    let f = fixture();
    let mut text = claims().to_string();
    if text.len().is_multiple_of(3) {
        text.push(' '); // JSON allows it; makes the encoding need padding
    }
    let input = format!(
        "{}.{}",
        b64(header(&KEYS[0]).to_string()),
        URL_SAFE.encode(&text)
    );
    assert!(
        input.ends_with('='),
        "the test token must really carry padding"
    );
    let token = IdTokenRaw::new(format!("{input}.{}", b64(KEYS[0].sign(input.as_bytes()))));
    let err = f.rejected(&token).await;
    assert!(
        matches!(
            err,
            IdTokenError::NotBase64Url {
                part: Part::Payload
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn standard_alphabet_base64_is_rejected() {
    let f = fixture();
    let text = with(claims(), "note", json!("???>>>")).to_string();
    let payload = STANDARD_NO_PAD.encode(&text);
    assert!(
        payload.contains('/') || payload.contains('+'),
        "the test payload must use + or /"
    );
    let input = format!("{}.{payload}", b64(header(&KEYS[0]).to_string()));
    let token = IdTokenRaw::new(format!("{input}.{}", b64(KEYS[0].sign(input.as_bytes()))));
    let err = f.rejected(&token).await;
    assert!(
        matches!(
            err,
            IdTokenError::NotBase64Url {
                part: Part::Payload
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn two_or_four_segments_are_rejected() {
    let f = fixture();
    let token = signed(&claims());
    let (two, _) = token.secret().rsplit_once('.').unwrap();
    let four = format!("{}.AAAA", token.secret());
    for (text, found) in [(two.to_owned(), 2), (four, 4), ("a.b.c.d.e".to_owned(), 5)] {
        let err = f.rejected(&IdTokenRaw::new(text)).await;
        assert!(
            matches!(err, IdTokenError::SegmentCount { found: n } if n == found),
            "{err}"
        );
    }
}

#[tokio::test]
async fn non_json_payload_is_rejected() {
    let f = fixture();
    let err = f
        .rejected(&compact(
            &header(&KEYS[0]).to_string(),
            "not json",
            &KEYS[0],
        ))
        .await;
    assert!(
        matches!(
            err,
            IdTokenError::NotJsonObject {
                part: Part::Payload,
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn token_over_8_kib_is_rejected_before_decoding() {
    let f = fixture();
    // Characters that are not even base64: only a size check that runs first explains
    // getting TooLarge rather than an encoding error.
    let err = f
        .rejected(&IdTokenRaw::new(format!(
            "{}.!.!",
            "!".repeat(MAX_TOKEN_BYTES)
        )))
        .await;
    assert!(
        matches!(err, IdTokenError::TooLarge { limit: 8192, .. }),
        "{err}"
    );
    assert_eq!(f.jwks.fetches(), 0, "nothing was fetched for it");
}

#[tokio::test]
async fn token_of_exactly_8_kib_passes_the_size_check() {
    let f = fixture();
    // Find a header (padded with JSON whitespace) and a claim that make the token exactly
    // the limit long, measuring without signing: an RS256 signature is always 342 chars.
    let length =
        |header: &str, claims: &Value| b64(header).len() + b64(claims.to_string()).len() + 2 + 342;
    let mut exact = None;
    'search: for spaces in 0..4 {
        let header = format!("{}{}", header(&KEYS[0]), " ".repeat(spaces));
        // Start just short of the limit: 3 bytes of claim make 4 characters of token.
        let start = (MAX_TOKEN_BYTES - length(&header, &claims())) * 3 / 4 - 8;
        for n in start..MAX_TOKEN_BYTES {
            let c = with(claims(), "pad", json!("x".repeat(n)));
            match length(&header, &c) {
                len if len == MAX_TOKEN_BYTES => {
                    exact = Some((header, c));
                    break 'search;
                }
                len if len > MAX_TOKEN_BYTES => break,
                _ => {}
            }
        }
    }
    let (header, c) = exact.unwrap();
    let token = compact(&header, &c.to_string(), &KEYS[0]);
    assert_eq!(token.secret().len(), MAX_TOKEN_BYTES);
    f.accepted(&token).await;
    let over = compact(&format!("{header} "), &c.to_string(), &KEYS[0]);
    assert!(over.secret().len() > MAX_TOKEN_BYTES);
    let err = f.rejected(&over).await;
    assert!(matches!(err, IdTokenError::TooLarge { .. }), "{err}");
}

#[tokio::test]
async fn crit_header_is_rejected() {
    let f = fixture();
    let text = json!({"alg": "RS256", "kid": KEYS[0].kid, "crit": ["exp"], "exp": 1}).to_string();
    let err = f
        .rejected(&compact(&text, &claims().to_string(), &KEYS[0]))
        .await;
    assert!(matches!(err, IdTokenError::CriticalHeader), "{err}");
}

#[tokio::test]
async fn access_token_jwt_is_not_an_id_token() {
    let f = fixture();
    let text = json!({"alg": "RS256", "kid": KEYS[0].kid, "typ": "at+jwt"}).to_string();
    let err = f
        .rejected(&compact(&text, &claims().to_string(), &KEYS[0]))
        .await;
    assert!(matches!(err, IdTokenError::WrongTokenType { .. }), "{err}");
}

// ---------------------------------------------------------------- the inspector

#[tokio::test]
async fn inspect_reports_every_check_of_a_valid_token() {
    let f = fixture();
    let inspection = f.verifier.inspect(&signed(&claims())).await;
    let names: Vec<&str> = inspection.checks.iter().map(|c| c.name.as_ref()).collect();
    assert_eq!(
        names,
        [
            "size",
            "segments",
            "header",
            "payload",
            "signature_encoding",
            "alg",
            "crit",
            "typ",
            "kid",
            "iss",
            "aud",
            "azp",
            "exp",
            "iat",
            "nbf",
            "sub",
            "claim_types",
            "key",
            "signature"
        ]
    );
    assert!(
        inspection.checks.iter().all(|c| c.ok),
        "{:#?}",
        inspection.checks
    );
    assert!(inspection.valid);
    assert_eq!(inspection.error, None);
    assert_eq!(inspection.unverified_claims.as_ref().unwrap()["sub"], SUB);
    assert_eq!(
        inspection.unverified_header.as_ref().unwrap()["kid"],
        KEYS[0].kid.as_str()
    );
}

#[tokio::test]
async fn inspect_shows_an_expired_token_with_a_good_signature() {
    let f = fixture();
    let inspection = f
        .verifier
        .inspect(&signed(&with(claims(), "exp", json!(NOW - 3600))))
        .await;
    let check = |name: &str| {
        inspection
            .checks
            .iter()
            .find(|c| c.name == name)
            .unwrap()
            .clone()
    };
    assert!(!check("exp").ok);
    assert!(
        check("exp").detail.contains("expired"),
        "{}",
        check("exp").detail
    );
    assert!(
        check("signature").ok,
        "the person sees the signature is fine, only the time is not"
    );
    assert!(!inspection.valid);
    assert_eq!(inspection.error.unwrap().code, "expired");
}

#[tokio::test]
async fn inspect_of_a_non_jwt_reports_the_structure_failure() {
    let f = fixture();
    let inspection = f.verifier.inspect(&IdTokenRaw::new("ya29.not-a-jwt")).await;
    assert!(!inspection.valid);
    assert_eq!(inspection.unverified_header, None);
    assert_eq!(inspection.checks.last().unwrap().name, "segments");
    assert_eq!(inspection.error.unwrap().code, "not_a_jws");
}

#[tokio::test]
async fn inspect_decodes_claims_even_when_the_header_is_broken() {
    let f = fixture();
    let token = IdTokenRaw::new(format!("!!.{}.AAAA", b64(claims().to_string())));
    let inspection = f.verifier.inspect(&token).await;
    assert_eq!(inspection.unverified_header, None);
    assert_eq!(
        inspection.unverified_claims.unwrap()["email"],
        "ada@example.com"
    );
    assert_eq!(inspection.error.unwrap().code, "bad_encoding");
}

#[tokio::test]
async fn inspection_serialises_as_header_claims_checks_valid_error() {
    let f = fixture();
    let token = signed(&with(claims(), "aud", json!([WEB, "evil"])));
    let json = serde_json::to_value(f.verifier.inspect(&token).await).unwrap();
    assert_eq!(json["header"]["alg"], "RS256");
    assert_eq!(json["claims"]["sub"], SUB);
    assert_eq!(json["valid"], false);
    assert_eq!(json["error"]["code"], "untrusted_audience");
    assert!(
        json["checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "aud" && c["ok"] == false)
    );
    assert!(
        !json.to_string().contains(token.secret()),
        "the token itself is not in the report"
    );
}

#[test]
fn unverified_decode_reads_without_keys() {
    let token = signed(&claims());
    let jwt = unverified_decode(&token).unwrap();
    assert_eq!(jwt.unverified_header()["kid"], KEYS[0].kid.as_str());
    assert_eq!(jwt.unverified_claims()["aud"], WEB);
}

// ---------------------------------------------------------------- randomized mutations (§B.13)

/// xorshift64*: a tiny deterministic generator, so a failing mutation replays the same way.
struct Mutator(u64);

impl Mutator {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// One to four edits: replace, delete, insert, or flip a bit.
    fn mutate(&mut self, original: &[u8]) -> Vec<u8> {
        const ALPHABET: &[u8] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ \"{}:,";
        let mut m = original.to_vec();
        for _ in 0..=self.below(4) {
            let pick = ALPHABET[self.below(ALPHABET.len())];
            match self.below(4) {
                0 if !m.is_empty() => {
                    let p = self.below(m.len());
                    m[p] = pick;
                }
                1 if !m.is_empty() => {
                    let p = self.below(m.len());
                    m.remove(p);
                }
                2 => {
                    let p = self.below(m.len() + 1);
                    m.insert(p, pick);
                }
                _ if !m.is_empty() => {
                    let p = self.below(m.len());
                    m[p] ^= 1 << self.below(8);
                }
                _ => {}
            }
        }
        m
    }
}

#[tokio::test]
async fn ten_thousand_random_mutations_of_a_valid_token_are_all_refused() {
    let f = fixture();
    let token = signed(&claims());
    f.accepted(&token).await;
    let original = token.secret().as_bytes().to_vec();
    let mut mutator = Mutator(0x9E37_79B9_7F4A_7C15);
    let mut tried = 0;
    for i in 0..10_000 {
        let mutated = mutator.mutate(&original);
        if mutated == original {
            continue;
        }
        tried += 1;
        let text = String::from_utf8_lossy(&mutated).into_owned();
        let result = f.verifier.verify(&IdTokenRaw::new(text.clone())).await;
        assert!(
            result.is_err(),
            "mutation {i} of a valid token was accepted: the signature must cover every byte \
             and decoding must be canonical ({text})"
        );
    }
    assert!(
        tried > 9_000,
        "the mutator must actually change the token ({tried} tried)"
    );
}
