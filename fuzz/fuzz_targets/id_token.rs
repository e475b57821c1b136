//! SECURITY §B.13: the ID-token verifier against mutated tokens. Pass: no panic, and no token
//! accepted that is not the one genuinely signed (a mutation of the header, claims or
//! signature is a forgery), while tokens the fuzzer re-signs with the real key (so only the
//! claim checks stand between them and acceptance) are accepted only with claims the policy
//! allows.
//!
//! The first byte picks how the rest of the input becomes a token (modes 4 and 5 for 2 values
//! in 32, as they sign):
//! 0 as is; 1 byte edits of the genuine token; 2 the claims replaced, the genuine signature
//! kept; 3 the header replaced; 4 the claims replaced and re-signed; 5 the header replaced
//! and re-signed. The key is generated at start (no fixture to commit).
#![no_main]

use std::sync::{Arc, LazyLock};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{KeyPair, RSA_PKCS1_SHA256, RsaKeyPair, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use tokendesk_core::id_token::{
    Clock, IdTokenPolicy, IdTokenVerifier, JwksCache, ManualClock, StaticJwks,
};
use tokendesk_core::provider::Endpoints;
use tokendesk_core::secret::IdTokenRaw;

const WEB: &str = "1234-web.apps.googleusercontent.com";
const IOS: &str = "1234-ios.apps.googleusercontent.com";
const NOW: u64 = 1_750_000_000;
const KID: &str = "0123456789abcdef0123456789abcdef01234567";

struct Setup {
    runtime: tokio::runtime::Runtime,
    verifier: IdTokenVerifier<StaticJwks>,
    key: RsaKeyPair,
    header: String,
    claims: String,
    signature: String,
    genuine: String,
}

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

impl Setup {
    fn sign(&self, signing_input: &str) -> String {
        let mut signature = vec![0; self.key.public_modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                signing_input.as_bytes(),
                &mut signature,
            )
            .expect("signing");
        b64(signature)
    }

    fn verify(&self, token: &str) -> Option<Value> {
        let raw = IdTokenRaw::new(token);
        self.runtime
            .block_on(self.verifier.verify(&raw))
            .ok()
            .map(|v| Value::Object(v.claims_json().clone()))
    }
}

static SETUP: LazyLock<Setup> = LazyLock::new(|| {
    let key = RsaKeyPair::generate(KeySize::Rsa2048).expect("RSA-2048 key generation");
    let public = RsaPublicKeyComponents::<Vec<u8>>::from(key.public_key());
    let jwks = json!({"keys": [{"kty": "RSA", "alg": "RS256", "use": "sig", "kid": KID,
                                "n": b64(&public.n), "e": b64(&public.e)}]});
    let header = b64(json!({"alg": "RS256", "kid": KID, "typ": "JWT"}).to_string());
    let claims = b64(json!({
        "iss": "https://accounts.google.com", "azp": IOS, "aud": WEB,
        "sub": "110169484474386276334", "email": "ada@example.com", "email_verified": true,
        "name": "Ada Lovelace", "iat": NOW, "exp": NOW + 3600,
    })
    .to_string());
    let policy = IdTokenPolicy::new(&Endpoints::google(), WEB).with_authorized_party(IOS);
    let cache = Arc::new(JwksCache::new(StaticJwks::new(
        serde_json::to_vec(&jwks).expect("json"),
    )));
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::at_unix(NOW + 10));
    let verifier = IdTokenVerifier::new(policy, cache).with_clock(clock);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    let mut setup = Setup {
        runtime,
        verifier,
        key,
        header,
        claims,
        signature: String::new(),
        genuine: String::new(),
    };
    setup.signature = setup.sign(&format!("{}.{}", setup.header, setup.claims));
    setup.genuine = format!("{}.{}.{}", setup.header, setup.claims, setup.signature);
    assert!(
        setup.verify(&setup.genuine).is_some(),
        "the genuine token verifies"
    );
    setup
});

/// What the policy demands of claims it accepts, checked independently of the verifier.
fn allowed(claims: &Value) -> bool {
    let now = i64::try_from(NOW).unwrap_or(i64::MAX) + 10;
    let iss_ok = matches!(
        claims["iss"].as_str(),
        Some("https://accounts.google.com" | "accounts.google.com")
    );
    let aud_ok = match &claims["aud"] {
        Value::String(a) => a == WEB,
        Value::Array(list) => list.iter().any(|a| a == WEB),
        _ => false,
    };
    let azp_ok = match &claims["azp"] {
        Value::Null => true,
        Value::String(a) => a == WEB || a == IOS,
        _ => false,
    };
    // A leeway of at most five minutes either way.
    let exp_ok = claims["exp"].as_i64().is_some_and(|exp| exp > now - 300);
    let sub_ok = claims["sub"].as_str().is_some_and(|s| !s.is_empty());
    iss_ok && aud_ok && azp_ok && exp_ok && sub_ok
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let s = &*SETUP;
    let text = String::from_utf8_lossy(rest);
    // Re-signing costs a millisecond: 2 inputs in 32 do it, the rest run at verify speed.
    let mode = match mode % 32 {
        30 => 4,
        31 => 5,
        m => m % 4,
    };
    match mode {
        0 => {
            if let Some(_claims) = s.verify(&text) {
                assert_eq!(
                    &*text, s.genuine,
                    "a token other than the genuine one was accepted"
                );
            }
            let _ = s
                .runtime
                .block_on(s.verifier.inspect(&IdTokenRaw::new(text.as_ref())));
        }
        1 => {
            // Edits: (position, operation, byte) triples applied to the genuine token.
            let mut token = s.genuine.clone().into_bytes();
            for edit in rest.chunks_exact(4) {
                let pos = usize::from(u16::from_le_bytes([edit[0], edit[1]])) % (token.len() + 1);
                match edit[2] % 3 {
                    0 if pos < token.len() => token[pos] = edit[3],
                    1 => token.insert(pos, edit[3]),
                    _ if pos < token.len() => {
                        token.remove(pos);
                    }
                    _ => {}
                }
            }
            let token = String::from_utf8_lossy(&token).into_owned();
            if s.verify(&token).is_some() {
                assert_eq!(token, s.genuine, "an edited token was accepted");
            }
        }
        2 => {
            let token = format!("{}.{}.{}", s.header, b64(rest), s.signature);
            if s.verify(&token).is_some() {
                assert_eq!(
                    token, s.genuine,
                    "claims were swapped under a genuine signature"
                );
            }
            let _ = s
                .runtime
                .block_on(s.verifier.inspect(&IdTokenRaw::new(token)));
        }
        3 => {
            let token = format!("{}.{}.{}", b64(rest), s.claims, s.signature);
            if s.verify(&token).is_some() {
                assert_eq!(
                    token, s.genuine,
                    "a header was swapped under a genuine signature"
                );
            }
        }
        4 => {
            let signing_input = format!("{}.{}", s.header, b64(rest));
            let token = format!("{signing_input}.{}", s.sign(&signing_input));
            if let Some(claims) = s.verify(&token) {
                assert!(
                    allowed(&claims),
                    "signed claims outside the policy were accepted: {claims}"
                );
            }
        }
        _ => {
            let signing_input = format!("{}.{}", b64(rest), s.claims);
            let token = format!("{signing_input}.{}", s.sign(&signing_input));
            if s.verify(&token).is_some() {
                let header: Value =
                    serde_json::from_slice(rest).expect("an accepted header is JSON");
                assert_eq!(
                    header["alg"], "RS256",
                    "a signed header with another alg was accepted"
                );
            }
        }
    }
});
