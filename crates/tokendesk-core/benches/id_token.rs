//! ID token verifications/s with a warm JWKS cache (the product's path: strict decoding, the
//! header and claim checks, the key lookup and jsonwebtoken's RS256 check) beside the RS256
//! check alone, through jsonwebtoken and through aws-lc directly, with the ratios:
//! `cargo bench -p tokendesk-core --bench id_token`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    KeyPair, ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256, RsaKeyPair,
    RsaPublicKeyComponents, UnparsedPublicKey,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::Criterion;
use jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER as AWS_LC;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::json;
use tokendesk_core::id_token::{
    Clock, IdTokenPolicy, IdTokenVerifier, JwksCache, ManualClock, StaticJwks, unverified_decode,
};
use tokendesk_core::provider::Endpoints;
use tokendesk_core::secret::IdTokenRaw;

const WEB: &str = "1234-web.apps.googleusercontent.com";
const IOS: &str = "1234-ios.apps.googleusercontent.com";
const NOW: u64 = 1_750_000_000;

struct Setup {
    runtime: tokio::runtime::Runtime,
    verifier: IdTokenVerifier<StaticJwks>,
    token: IdTokenRaw,
    signing_input: Vec<u8>,
    signature: Vec<u8>,
    signature_b64: String,
    public_key_der: Vec<u8>,
    parsed_key: ParsedPublicKey,
    /// Built from the JWK's n and e, as the JWKS cache builds its keys.
    jwt_key: DecodingKey,
}

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn setup() -> Setup {
    let pair = RsaKeyPair::generate(KeySize::Rsa2048).expect("RSA-2048 key generation");
    let public = RsaPublicKeyComponents::<Vec<u8>>::from(pair.public_key());
    let kid = "0123456789abcdef0123456789abcdef01234567";
    let jwks = json!({"keys": [{"kty": "RSA", "alg": "RS256", "use": "sig", "kid": kid,
                                "n": b64(&public.n), "e": b64(&public.e)}]});

    // A token shaped like Google's (about 1 KiB).
    let header = json!({"alg": "RS256", "kid": kid, "typ": "JWT"});
    let claims = json!({
        "iss": "https://accounts.google.com", "azp": IOS, "aud": WEB,
        "sub": "110169484474386276334", "email": "ada@example.com", "email_verified": true,
        "at_hash": "HK6E_P6Dh8Y93mRNtsDB1Q", "name": "Ada Lovelace",
        "picture": "https://lh3.googleusercontent.com/a/ACg8ocJ1ZkT3x9vQ2mYbN5pR7sU0wX4zA6cE8gI",
        "given_name": "Ada", "family_name": "Lovelace", "locale": "en",
        "iat": NOW, "exp": NOW + 3600,
    });
    let signing_input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
    let mut signature = vec![0; pair.public_modulus_len()];
    pair.sign(
        &RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        signing_input.as_bytes(),
        &mut signature,
    )
    .expect("signing");
    let signature_b64 = b64(&signature);
    let token = IdTokenRaw::new(format!("{signing_input}.{signature_b64}"));

    let policy = IdTokenPolicy::new(&Endpoints::google(), WEB).with_authorized_party(IOS);
    let cache = Arc::new(JwksCache::new(StaticJwks::new(
        serde_json::to_vec(&jwks).expect("json"),
    )));
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::at_unix(NOW + 10));
    let verifier = IdTokenVerifier::new(policy, cache).with_clock(clock);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    // Warm the cache: every measured verification finds its key without fetching.
    runtime
        .block_on(verifier.verify(&token))
        .expect("the benchmark token verifies");

    let public_key_der = pair.public_key().as_ref().to_vec();
    let parsed_key = ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &public_key_der)
        .expect("public key parses");
    let jwt_key = DecodingKey::from_rsa_raw_components(&public.n, &public.e);
    Setup {
        runtime,
        verifier,
        token,
        signing_input: signing_input.into_bytes(),
        signature,
        signature_b64,
        public_key_der,
        parsed_key,
        jwt_key,
    }
}

impl Setup {
    /// The product: `IdTokenVerifier::verify`, every check, warm JWKS cache.
    fn verify(&self) {
        let verified = self
            .runtime
            .block_on(self.verifier.verify(black_box(&self.token)));
        assert!(verified.is_ok());
    }

    /// jsonwebtoken's RS256 check alone, the way the verifier calls it: the verifier of its
    /// aws-lc provider over the decoded signature, with a key made once from n and e.
    fn jsonwebtoken_provider(&self) {
        let verifier =
            (AWS_LC.verifier_factory)(&Algorithm::RS256, &self.jwt_key).expect("an RSA key");
        let ok = verifier.verify(black_box(&self.signing_input), black_box(&self.signature));
        assert!(ok.is_ok());
    }

    /// jsonwebtoken's public `crypto::verify` (process default provider, base64 signature).
    fn jsonwebtoken_crypto_verify(&self) {
        let ok = jsonwebtoken::crypto::verify(
            black_box(&self.signature_b64),
            black_box(&self.signing_input),
            &self.jwt_key,
            Algorithm::RS256,
        );
        assert!(matches!(ok, Ok(true)));
    }

    /// aws-lc's RS256 check of the same bytes, the key given as DER (parsed on each call).
    fn raw_rsa(&self) {
        let key = UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &self.public_key_der);
        let ok = key.verify(black_box(&self.signing_input), black_box(&self.signature));
        assert!(ok.is_ok());
    }

    /// The floor: aws-lc with the key parsed once.
    fn raw_rsa_preparsed(&self) {
        let ok = self
            .parsed_key
            .verify_sig(black_box(&self.signing_input), black_box(&self.signature));
        assert!(ok.is_ok());
    }

    fn decode_only(&self) {
        assert!(unverified_decode(black_box(&self.token)).is_ok());
    }
}

fn criterion_benches(c: &mut Criterion, s: &Setup) {
    let mut group = c.benchmark_group("id_token");
    group.bench_function("verify_warm_cache", |b| b.iter(|| s.verify()));
    group.bench_function("jsonwebtoken_rs256_aws_lc_provider", |b| {
        b.iter(|| s.jsonwebtoken_provider())
    });
    group.bench_function("jsonwebtoken_crypto_verify", |b| {
        b.iter(|| s.jsonwebtoken_crypto_verify())
    });
    group.bench_function("raw_rsa2048_pkcs1_sha256_verify", |b| {
        b.iter(|| s.raw_rsa())
    });
    group.bench_function("raw_rsa2048_verify_preparsed_key", |b| {
        b.iter(|| s.raw_rsa_preparsed())
    });
    group.bench_function("unverified_decode", |b| b.iter(|| s.decode_only()));
    group.finish();
}

/// Operations per second of each function, measured in alternating short rounds so that a
/// change in machine load (other builds) hits all of them alike and the ratios stay fair.
fn interleaved_rates<const N: usize>(budget: Duration, fs: [&dyn Fn(); N]) -> [f64; N] {
    const ROUND: u32 = 50;
    let mut spent = [Duration::ZERO; N];
    let mut runs = [0u32; N];
    let start = Instant::now();
    while start.elapsed() < budget {
        for (i, f) in fs.iter().enumerate() {
            let round = Instant::now();
            for _ in 0..ROUND {
                f();
            }
            spent[i] += round.elapsed();
            runs[i] += ROUND;
        }
    }
    std::array::from_fn(|i| f64::from(runs[i]) / spent[i].as_secs_f64())
}

fn main() {
    let s = setup();
    let mut c = Criterion::default().configure_from_args();
    criterion_benches(&mut c, &s);
    c.final_summary();

    // Criterion does not hand its estimates back, so measure the rates once more, side by
    // side, and print the ratios. Skipped when cargo runs benches as tests (`--test`).
    if std::env::args().any(|arg| arg == "--test" || arg == "--list") {
        return;
    }
    let [verify, jwt, raw, preparsed] = interleaved_rates(
        Duration::from_secs(12),
        [
            &|| s.verify(),
            &|| s.jsonwebtoken_provider(),
            &|| s.raw_rsa(),
            &|| s.raw_rsa_preparsed(),
        ],
    );
    let us = |rate: f64| 1e6 / rate;
    println!();
    println!("                                       verifications/s   us each");
    for (name, rate) in [
        ("verify (warm JWKS cache)", verify),
        ("jsonwebtoken RS256 alone", jwt),
        ("aws-lc RSA-2048, DER key per call", raw),
        ("aws-lc RSA-2048, key parsed once", preparsed),
    ] {
        println!("{name:<38} {rate:>15.0} {:>9.1}", us(rate));
    }
    println!(
        "ratio verify / jsonwebtoken alone:     {:>15.2}",
        verify / jwt
    );
    println!(
        "ratio verify / aws-lc DER per call:    {:>15.2}",
        verify / raw
    );
    println!(
        "ratio verify / aws-lc parsed once:     {:>15.2}",
        verify / preparsed
    );
}
