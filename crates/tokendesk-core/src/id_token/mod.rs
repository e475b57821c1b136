//! ID token verification: RS256 signature against the provider's JWKS, then every OIDC rule
//! for Google's tokens; plus the inspector, which runs the same checks and reports each one.
//!
//! # Who checks what
//!
//! jsonwebtoken checks the signature, and only the signature: `jwks.rs` keeps one
//! `jsonwebtoken::DecodingKey` per RS256 key of the JWKS, made when the JWKS is fetched, and
//! asks jsonwebtoken's RS256 verifier (its aws-lc backend) whether the token's signing input
//! and signature match it. The algorithm is hard-coded RS256 on our side, never read from
//! the header, and jsonwebtoken refuses a key outside the RSA family for it.
//!
//! Everything else is ours, read from the token once by `compact.rs` and checked here and in
//! `claims.rs`: the size cap before any decoding, exactly 3 parts, strict base64url, JSON
//! objects without duplicate keys, the header rules (alg, crit, typ, kid) and every claim
//! rule with its JSON type. `jsonwebtoken::decode` with its validation turned off was the
//! other way, and was not taken: it parses the token a second time, leniently (serde_json
//! keeps the last of two `exp` keys), so what it verified could differ from what the
//! inspector shows; and none of its claim rules could be kept anyway. It reads the system
//! clock (ours is injected), has no iat rule, accepts a token when any audience matches
//! (we refuse an untrusted extra audience), and skips an iss, aud or sub of the wrong JSON
//! type unless told it is required (SECURITY.md §A, §C).

mod claims;
mod clock;
mod compact;
mod error;
mod http_jwks;
mod jwks;
mod refreshed;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde_json::{Map, Value};

pub use claims::{DEFAULT_LEEWAY, GoogleClaims, IdTokenPolicy};
pub use clock::{Clock, ManualClock, SystemClock};
pub use compact::{MAX_TOKEN_BYTES, UnverifiedJwt, unverified_decode};
pub use error::{IdTokenError, Part, Shown, UnixTime};
pub use http_jwks::{HttpJwks, SMALL_BODY, get_small};
pub use jwks::{
    DEFAULT_MAX_AGE, DEFAULT_MAX_STALE, DEFAULT_REFETCH_COOLDOWN, JwksCache, JwksDocument,
    JwksFetchError, JwksSource, MAX_AGE_CAP, StaticJwks, max_age_from_cache_control,
};
pub use refreshed::SignedInAs;

use crate::secret::{AccessToken, IdTokenRaw};
use claims::{CLAIM_CHECKS, ClaimContext};
use jwks::KeySet;

/// An ID token that passed every check. Only [`IdTokenVerifier`] makes these.
#[derive(Debug, Clone)]
pub struct VerifiedIdToken {
    claims: GoogleClaims,
    /// Every claim as the token states it, the untyped ones too: the map that was verified,
    /// so nobody needs to decode the token a second time.
    claims_json: Map<String, Value>,
    kid: Option<String>,
}

impl VerifiedIdToken {
    pub fn claims(&self) -> &GoogleClaims {
        &self.claims
    }

    /// All the claims of the verified token as JSON (what the store keeps beside the profile).
    pub fn claims_json(&self) -> &Map<String, Value> {
        &self.claims_json
    }

    /// The user's stable ID at this provider.
    pub fn sub(&self) -> &str {
        &self.claims.sub
    }

    /// The kid of the key that verified the token (absent if the token named none).
    pub fn key_id(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// Whether `access_token` is the one this ID token was issued with (OIDC Core §3.3.2.11:
    /// at_hash is the base64url of the left half of its SHA-256). `None` without an at_hash.
    pub fn matches_access_token(&self, access_token: &AccessToken) -> Option<bool> {
        let expected = self.claims.at_hash.as_deref()?;
        let hash = digest::digest(&digest::SHA256, access_token.secret().as_bytes());
        let left = &hash.as_ref()[..hash.as_ref().len() / 2];
        Some(URL_SAFE_NO_PAD.encode(left) == expected)
    }
}

/// One check the inspector ran.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Check {
    /// Stable name (`alg`, `iss`, `signature`...).
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub name: std::borrow::Cow<'static, str>,
    pub ok: bool,
    /// What was found, or why it failed.
    pub detail: String,
}

/// The first failure, as `{code, message}`.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct InspectionError {
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub code: std::borrow::Cow<'static, str>,
    pub message: String,
}

impl From<&IdTokenError> for InspectionError {
    fn from(err: &IdTokenError) -> Self {
        Self {
            code: err.code().into(),
            message: err.to_string(),
        }
    }
}

/// What the inspector shows: the decoded (UNVERIFIED) header and claims, every check that ran,
/// and the verdict, which is exactly what [`IdTokenVerifier::verify`] would decide.
///
/// Serialises as `{"header", "claims", "checks", "valid", "error": {code, message}}`.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Inspection {
    /// The header as decoded, before any verification. `None` if it couldn't be decoded.
    #[serde(rename = "header")]
    pub unverified_header: Option<Value>,
    /// The claims as decoded, before any verification. `None` if they couldn't be decoded.
    #[serde(rename = "claims")]
    pub unverified_claims: Option<Value>,
    pub checks: Vec<Check>,
    pub valid: bool,
    pub error: Option<InspectionError>,
}

/// Verifies ID tokens for one client of one provider.
///
/// Order of work, the same for [`verify`](Self::verify) and [`inspect`](Self::inspect):
/// structure (size, 3 parts, strict base64url, JSON without duplicate keys), header (alg
/// RS256 only, no crit, typ JWT), claims (iss, aud, azp, exp, iat, nbf, sub, types), then
/// the key and the signature. Claims come before the key so a token that would be refused
/// anyway never makes TokenDesk fetch the JWKS.
///
/// The RS256 signature is checked by jsonwebtoken against the JWKS key the token names (or
/// each key, for a token that names none), with keys made once per JWKS fetch; every other
/// rule is ours (see the module documentation).
///
/// ```no_run
/// # use std::sync::Arc;
/// # use tokendesk_core::id_token::*;
/// # use tokendesk_core::provider::Endpoints;
/// # use tokendesk_core::secret::IdTokenRaw;
/// # async fn demo<S: JwksSource>(source: S, raw: IdTokenRaw) -> Result<(), IdTokenError> {
/// let policy = IdTokenPolicy::new(&Endpoints::google(), "1234-web.apps.googleusercontent.com")
///     .with_authorized_party("1234-ios.apps.googleusercontent.com");
/// let verifier = IdTokenVerifier::new(policy, Arc::new(JwksCache::new(source)));
/// let token = verifier.verify(&raw).await?;
/// println!("signed in: {}", token.sub());
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct IdTokenVerifier<S> {
    policy: IdTokenPolicy,
    keys: Arc<JwksCache<S>>,
    clock: Arc<dyn Clock>,
}

impl<S: JwksSource> IdTokenVerifier<S> {
    /// A verifier on the system clock.
    pub fn new(policy: IdTokenPolicy, keys: Arc<JwksCache<S>>) -> Self {
        Self {
            policy,
            keys,
            clock: Arc::new(SystemClock),
        }
    }

    /// Replaces the clock (tests; "verify as of").
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    pub fn policy(&self) -> &IdTokenPolicy {
        &self.policy
    }

    pub fn jwks(&self) -> &Arc<JwksCache<S>> {
        &self.keys
    }

    /// Verifies `token` and returns its claims, or the first rule it breaks.
    pub async fn verify(&self, token: &IdTokenRaw) -> Result<VerifiedIdToken, IdTokenError> {
        let jwt = unverified_decode(token)?;
        let kid = check_header(jwt.unverified_header())?.map(str::to_owned);
        let now_time = self.clock.now();
        let cx = ClaimContext {
            claims: jwt.unverified_claims(),
            policy: &self.policy,
            now: clock::unix_seconds(now_time),
        };
        for check in CLAIM_CHECKS {
            (check.run)(&cx)?;
        }
        let claims = GoogleClaims::from_map(jwt.unverified_claims())?;
        let keys = self.keys.keys_for(kid.as_deref(), now_time).await?;
        verify_parts(jwt.signing_input(), jwt.signature(), &keys, kid.as_deref())?;
        Ok(VerifiedIdToken {
            claims,
            claims_json: jwt.into_claims(),
            kid,
        })
    }

    /// Verifies an ID token from a refresh response against the one from the original sign-in
    /// (OIDC Core §12.2): iss, sub, aud and azp must be unchanged (an azp the original lacked
    /// is a change). Profile claims (name, picture...) may be missing: Google drops them on
    /// refresh.
    pub async fn verify_refreshed(
        &self,
        original: &VerifiedIdToken,
        token: &IdTokenRaw,
    ) -> Result<VerifiedIdToken, IdTokenError> {
        self.verify_refreshed_as(&SignedInAs::of(original), token)
            .await
    }

    /// Runs every check that can run on `token` and records each result. The verdict
    /// (`valid`, `error`) is the same as [`verify`](Self::verify)'s; unlike `verify`, the
    /// signature is checked even when a claim fails, so a person sees all that is wrong.
    pub async fn inspect(&self, token: &IdTokenRaw) -> Inspection {
        let mut report = Report::default();
        let raw = token.secret();

        let size = compact::check_size(raw)
            .map(|()| format!("{} bytes (limit {MAX_TOKEN_BYTES})", raw.len()));
        if !report.check("size", size) {
            return report.finish(None, None);
        }
        let Some([header_b64, payload_b64, signature_b64]) = report.check_with(
            "segments",
            compact::split(raw).map(|parts| (parts, "3 parts".to_owned())),
        ) else {
            return report.finish(None, None);
        };
        const NO_DUPLICATES: &str = "a JSON object without duplicate keys";
        let header = report.check_with(
            "header",
            compact::decode_object(header_b64, Part::Header).map(|h| (h, NO_DUPLICATES.to_owned())),
        );
        let claims = report.check_with(
            "payload",
            compact::decode_object(payload_b64, Part::Payload)
                .map(|c| (c, NO_DUPLICATES.to_owned())),
        );
        let signature = report.check_with(
            "signature_encoding",
            compact::decode_signature(signature_b64)
                .map(|bytes| (bytes, "present, base64url".to_owned())),
        );

        // The kid is needed for the signature check; the other header rules are recorded
        // but don't stop it, so an HS256 or alg-none token also shows its failed signature.
        let kid = header
            .as_ref()
            .and_then(|header| inspect_header(&mut report, header));

        let now_time = self.clock.now();
        if let Some(claims) = &claims {
            let cx = ClaimContext {
                claims,
                policy: &self.policy,
                now: clock::unix_seconds(now_time),
            };
            for check in CLAIM_CHECKS {
                report.check(check.name, (check.run)(&cx).map(|()| (check.passed)(&cx)));
            }
            let types = GoogleClaims::from_map(claims)
                .map(|_| "every known claim has its JSON type".to_owned());
            report.check("claim_types", types);
        }

        if let (Some(kid), Some(_), Some(signature)) = (kid, &claims, signature) {
            let signing_input = &raw[..header_b64.len() + 1 + payload_b64.len()];
            let keys = self.keys.keys_for(kid, now_time).await.map(|keys| {
                let detail = describe_key_choice(&keys, kid);
                (keys, detail)
            });
            if let Some(keys) = report.check_with("key", keys) {
                let verdict = verify_parts(signing_input, &signature, &keys, kid)
                    .map(|()| "the RS256 signature verifies".to_owned());
                report.check("signature", verdict);
            }
        }

        report.finish(header.map(Value::Object), claims.map(Value::Object))
    }
}

/// Header rules; returns the kid (`None` when the token names no key).
fn check_header(header: &Map<String, Value>) -> Result<Option<&str>, IdTokenError> {
    check_alg(header)?;
    check_crit(header)?;
    check_typ(header)?;
    check_kid(header)
}

/// Records the header checks; returns the kid if it could be read (`Some(None)`: no kid).
fn inspect_header<'h>(
    report: &mut Report,
    header: &'h Map<String, Value>,
) -> Option<Option<&'h str>> {
    report.check(
        "alg",
        check_alg(header).map(|()| "RS256, the only algorithm accepted".to_owned()),
    );
    report.check(
        "crit",
        check_crit(header).map(|()| "no critical extensions".to_owned()),
    );
    report.check(
        "typ",
        check_typ(header).map(|()| "JWT or absent".to_owned()),
    );
    let kid = check_kid(header).map(|kid| {
        let detail = match kid {
            Some(kid) => format!("names key {}", Shown::new(kid)),
            None => "absent: each key of the JWKS will be tried".to_owned(),
        };
        (kid, detail)
    });
    report.check_with("kid", kid)
}

fn check_alg(header: &Map<String, Value>) -> Result<(), IdTokenError> {
    match header.get("alg") {
        Some(Value::String(alg)) if alg == "RS256" => Ok(()),
        Some(other) => Err(IdTokenError::AlgorithmNotAllowed {
            alg: Shown::json(other),
        }),
        None => Err(IdTokenError::AlgorithmNotAllowed {
            alg: Shown::new("(no alg)"),
        }),
    }
}

fn check_crit(header: &Map<String, Value>) -> Result<(), IdTokenError> {
    if header.contains_key("crit") {
        Err(IdTokenError::CriticalHeader)
    } else {
        Ok(())
    }
}

/// typ is optional, but an explicit other type (e.g. `at+jwt`, an access token) is a
/// different kind of token that must not pass as an ID token (RFC 8725 §3.11).
fn check_typ(header: &Map<String, Value>) -> Result<(), IdTokenError> {
    match header.get("typ") {
        None => Ok(()),
        Some(Value::String(typ))
            if typ.eq_ignore_ascii_case("JWT") || typ.eq_ignore_ascii_case("application/jwt") =>
        {
            Ok(())
        }
        Some(other) => Err(IdTokenError::WrongTokenType {
            typ: Shown::json(other),
        }),
    }
}

fn check_kid(header: &Map<String, Value>) -> Result<Option<&str>, IdTokenError> {
    match header.get("kid") {
        None => Ok(None),
        Some(Value::String(kid)) => Ok(Some(kid)),
        Some(_) => Err(IdTokenError::WrongHeaderType {
            param: "kid",
            expected: "a string",
        }),
    }
}

/// jsonwebtoken's RS256 check of `signing_input` with each candidate key (one when the token
/// names its kid).
fn verify_parts(
    signing_input: &str,
    signature: &[u8],
    keys: &KeySet,
    kid: Option<&str>,
) -> Result<(), IdTokenError> {
    let mut tried = 0;
    for key in keys.candidates(kid) {
        tried += 1;
        // A wrong or malformed signature both mean "not this key".
        if key.verifies(signing_input.as_bytes(), signature) {
            return Ok(());
        }
    }
    Err(IdTokenError::BadSignature {
        kid: kid.map(Shown::new),
        tried,
    })
}

fn describe_key_choice(keys: &KeySet, kid: Option<&str>) -> String {
    let ignored = match keys.ignored.len() {
        0 => String::new(),
        n => format!("; {n} JWKS entries ignored ({})", keys.ignored.join("; ")),
    };
    match kid {
        Some(kid) => format!("key {} is in the provider's JWKS{ignored}", Shown::new(kid)),
        None => format!(
            "no kid: trying the JWKS's {} RS256 key(s){ignored}",
            keys.candidates(None).count()
        ),
    }
}

/// Collects the inspector's checks and remembers the first failure.
#[derive(Default)]
struct Report {
    checks: Vec<Check>,
    first_error: Option<IdTokenError>,
}

impl Report {
    /// Records a check; true if it passed.
    fn check(&mut self, name: &'static str, outcome: Result<String, IdTokenError>) -> bool {
        self.check_with(name, outcome.map(|detail| ((), detail)))
            .is_some()
    }

    /// Records a check whose success yields a value the next checks need.
    fn check_with<T>(
        &mut self,
        name: &'static str,
        outcome: Result<(T, String), IdTokenError>,
    ) -> Option<T> {
        match outcome {
            Ok((value, detail)) => {
                self.checks.push(Check {
                    name: name.into(),
                    ok: true,
                    detail,
                });
                Some(value)
            }
            Err(err) => {
                self.checks.push(Check {
                    name: name.into(),
                    ok: false,
                    detail: err.to_string(),
                });
                self.first_error.get_or_insert(err);
                None
            }
        }
    }

    fn finish(self, header: Option<Value>, claims: Option<Value>) -> Inspection {
        Inspection {
            unverified_header: header,
            unverified_claims: claims,
            valid: self.first_error.is_none(),
            error: self.first_error.as_ref().map(InspectionError::from),
            checks: self.checks,
        }
    }
}
