//! The emulator's RS256 signing keys: generated at start (never stored), published as a JWK set
//! and as `{kid: PEM certificate}`, rotated on demand with the old key kept for a grace period.

use std::sync::Arc;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use aws_lc_rs::{rand, signature};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

/// How long a rotated-out key stays published, in seconds. Google keeps an old key in its
/// certs for roughly a day after a new one appears (GOOGLE.md, "JWKS rotation").
pub const RETIRED_KEY_GRACE_SECS: i64 = 24 * 3600;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("RSA key generation failed")]
    Generate,
    #[error("signing failed")]
    Sign,
    #[error("certificate generation failed: {0}")]
    Certificate(String),
}

/// One RSA-2048 key with everything needed to publish and use it.
pub struct SigningKey {
    kid: String,
    pair: KeyPair,
    jwk: Value,
    cert_pem: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    pub fn generate() -> Result<Self, KeyError> {
        let pair = KeyPair::generate(KeySize::Rsa2048).map_err(|_| KeyError::Generate)?;
        let kid = random_hex(20);
        let public = pair.public_key();
        let jwk = json!({
            "kty": "RSA",
            "alg": "RS256",
            "use": "sig",
            "kid": kid,
            "n": URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
            "e": URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
        });
        let cert_pem = self_signed_certificate(&pair)?;
        Ok(Self {
            kid,
            pair,
            jwk,
            cert_pem,
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// A compact JWS (RS256) over `claims`, with Google's header shape.
    pub fn sign_jwt(&self, claims: &Value) -> Result<String, KeyError> {
        let header = json!({"alg": "RS256", "kid": self.kid, "typ": "JWT"});
        let mut token = String::with_capacity(1024);
        token.push_str(&URL_SAFE_NO_PAD.encode(header.to_string()));
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(claims.to_string()));
        let mut sig = vec![0u8; self.pair.public_modulus_len()];
        self.pair
            .sign(
                &signature::RSA_PKCS1_SHA256,
                &rand::SystemRandom::new(),
                token.as_bytes(),
                &mut sig,
            )
            .map_err(|_| KeyError::Sign)?;
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(sig));
        Ok(token)
    }
}

fn self_signed_certificate(pair: &KeyPair) -> Result<String, KeyError> {
    let der = pair.as_der().map_err(|_| KeyError::Generate)?;
    let key =
        rcgen::KeyPair::try_from(der.as_ref()).map_err(|e| KeyError::Certificate(e.to_string()))?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new())
        .map_err(|e| KeyError::Certificate(e.to_string()))?;
    // Google's x509 certs carry this subject; clients do not check it, but it reads familiar.
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(
        rcgen::DnType::CommonName,
        "federated-signon.system.gserviceaccount.com",
    );
    let cert = params
        .self_signed(&key)
        .map_err(|e| KeyError::Certificate(e.to_string()))?;
    Ok(cert.pem())
}

struct Published {
    key: Arc<SigningKey>,
    /// Emulator time after which the key is no longer published; `None` while current.
    retire_at: Option<i64>,
}

/// The published keys; the last one signs.
pub struct KeySet {
    keys: Vec<Published>,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.keys.iter().map(|k| k.key.kid()))
            .finish()
    }
}

impl KeySet {
    /// Two keys, as Google publishes in its steady state: an older one still published and
    /// the current signer. Clients that take the first key blindly fail here as at Google.
    pub fn generate(now: i64) -> Result<Self, KeyError> {
        let older = Arc::new(SigningKey::generate()?);
        let current = Arc::new(SigningKey::generate()?);
        Ok(Self {
            keys: vec![
                Published {
                    key: older,
                    retire_at: Some(now + RETIRED_KEY_GRACE_SECS),
                },
                Published {
                    key: current,
                    retire_at: None,
                },
            ],
        })
    }

    pub fn current(&self) -> Arc<SigningKey> {
        // The constructor and `rotate` always leave a current key at the end.
        Arc::clone(&self.keys[self.keys.len() - 1].key)
    }

    /// Installs `key` as the signer; the previous signer stays published for the grace period.
    pub fn rotate(&mut self, key: SigningKey, now: i64) {
        self.keys.retain(|k| k.retire_at.is_none_or(|t| t > now));
        for k in &mut self.keys {
            k.retire_at.get_or_insert(now + RETIRED_KEY_GRACE_SECS);
        }
        self.keys.push(Published {
            key: Arc::new(key),
            retire_at: None,
        });
    }

    fn published(&self, now: i64) -> impl Iterator<Item = &SigningKey> {
        self.keys
            .iter()
            .filter(move |k| k.retire_at.is_none_or(|t| t > now))
            .map(|k| &*k.key)
    }

    pub fn kids(&self, now: i64) -> Vec<String> {
        self.published(now).map(|k| k.kid.clone()).collect()
    }

    /// Checks a JWT this emulator signed with a key it still publishes, and that it has not
    /// expired; returns its header and claims (for `/tokeninfo?id_token=`).
    pub fn verify(&self, token: &str, now: i64) -> Option<(Value, Value)> {
        let mut parts = token.split('.');
        let (h, c, s) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).ok()?).ok()?;
        if header["alg"] != "RS256" {
            return None;
        }
        let kid = header["kid"].as_str()?;
        let key = self.published(now).find(|k| k.kid == kid)?;
        let sig = URL_SAFE_NO_PAD.decode(s).ok()?;
        let public = key.pair.public_key();
        signature::UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, public.as_ref())
            .verify(&token.as_bytes()[..h.len() + 1 + c.len()], &sig)
            .ok()?;
        let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(c).ok()?).ok()?;
        (claims["exp"].as_i64()? > now).then_some((header, claims))
    }

    /// `/oauth2/v3/certs`: `{"keys": [JWK...]}`.
    pub fn jwks(&self, now: i64) -> Value {
        json!({ "keys": self.published(now).map(|k| k.jwk.clone()).collect::<Vec<_>>() })
    }

    /// `/oauth2/v1/certs`: `{kid: PEM certificate}`.
    pub fn pem_certs(&self, now: i64) -> Value {
        let map: serde_json::Map<String, Value> = self
            .published(now)
            .map(|k| (k.kid.clone(), Value::from(k.cert_pem.clone())))
            .collect();
        Value::Object(map)
    }
}

pub fn random_hex(n: usize) -> String {
    let mut buf = vec![0u8; n];
    rand::fill(&mut buf).expect("system random number generator failed");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// A random URL-safe string of `n` bytes of entropy.
pub fn random_token(n: usize) -> String {
    let mut buf = vec![0u8; n];
    rand::fill(&mut buf).expect("system random number generator failed");
    URL_SAFE_NO_PAD.encode(buf)
}

/// `at_hash`: the left half of SHA-256 of the access token, base64url (OIDC Core 3.1.3.6).
pub fn at_hash(access_token: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest.as_ref()[..16])
}

pub fn sha256_b64url(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data).as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_keeps_the_previous_key_for_the_grace_period() {
        let mut set = KeySet::generate(0).expect("keys");
        let before = set.current().kid().to_owned();
        set.rotate(SigningKey::generate().expect("key"), 100);
        assert_ne!(
            set.current().kid(),
            before,
            "rotation must install a new signer"
        );
        assert!(
            set.kids(100).contains(&before),
            "tokens signed just before rotation must still verify"
        );
        assert!(
            !set.kids(100 + RETIRED_KEY_GRACE_SECS + 1).contains(&before),
            "a retired key must stop being published after the grace period"
        );
    }

    #[test]
    fn signed_tokens_verify_until_expiry_and_tampering_fails() {
        let set = KeySet::generate(0).expect("keys");
        let token = set
            .current()
            .sign_jwt(&json!({"sub": "1", "exp": 100}))
            .expect("sign");
        assert!(set.verify(&token, 99).is_some(), "a fresh token verifies");
        assert!(
            set.verify(&token, 100).is_none(),
            "an expired token does not"
        );
        let mut tampered = token.clone();
        tampered.pop();
        tampered.push(if token.ends_with('A') { 'B' } else { 'A' });
        assert!(
            set.verify(&tampered, 1).is_none(),
            "a flipped signature does not"
        );
    }

    #[test]
    fn jwk_has_google_shape_and_kid_is_40_hex() {
        let set = KeySet::generate(0).expect("keys");
        let jwks = set.jwks(0);
        let keys = jwks["keys"].as_array().expect("keys array");
        assert_eq!(keys.len(), 2, "Google's steady state publishes two keys");
        for k in keys {
            assert_eq!(k["kty"], "RSA");
            assert_eq!(k["alg"], "RS256");
            assert_eq!(k["use"], "sig");
            assert_eq!(k["e"], "AQAB");
            let kid = k["kid"].as_str().expect("kid");
            assert!(
                kid.len() == 40 && kid.chars().all(|c| c.is_ascii_hexdigit()),
                "{kid}"
            );
        }
        let pems = set.pem_certs(0);
        for (_, pem) in pems.as_object().expect("object") {
            assert!(
                pem.as_str()
                    .expect("pem")
                    .starts_with("-----BEGIN CERTIFICATE-----")
            );
        }
    }
}
