//! The claim rules of an ID token (who issued it, for whom, when) read from the raw JSON,
//! with every type checked here rather than trusted to a library that may skip mistyped claims.

use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value};

use super::error::{IdTokenError, Shown, UnixTime};
use crate::provider::Endpoints;

/// What a token must satisfy to be accepted for one client.
#[derive(Debug, Clone)]
pub struct IdTokenPolicy {
    issuers: Vec<String>,
    web_client_id: String,
    authorized_parties: Vec<String>,
    leeway: Duration,
}

/// Clock skew allowed on exp, iat and nbf unless configured otherwise (jsonwebtoken's
/// default too; Google's Node library allows 300 s, its Python library 0).
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(60);

impl IdTokenPolicy {
    /// Tokens from `endpoints`' issuers, for the server (web) client `web_client_id`.
    pub fn new(endpoints: &Endpoints, web_client_id: impl Into<String>) -> Self {
        Self {
            issuers: endpoints.issuers.clone(),
            web_client_id: web_client_id.into(),
            authorized_parties: Vec::new(),
            leeway: DEFAULT_LEEWAY,
        }
    }

    /// Also accept tokens whose `azp` is this client ID: the iOS (or Android) app's client,
    /// which is the azp of tokens minted for a serverAuthCode.
    pub fn with_authorized_party(mut self, client_id: impl Into<String>) -> Self {
        self.authorized_parties.push(client_id.into());
        self
    }

    /// The clock skew allowed on exp, iat and nbf, in whole seconds.
    pub fn with_leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    pub fn issuers(&self) -> &[String] {
        &self.issuers
    }

    pub fn web_client_id(&self) -> &str {
        &self.web_client_id
    }

    /// The accepted `azp` values: the web client and the configured app clients.
    pub fn authorized_parties(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.web_client_id.as_str())
            .chain(self.authorized_parties.iter().map(String::as_str))
    }

    pub fn leeway(&self) -> Duration {
        self.leeway
    }

    fn leeway_secs(&self) -> i64 {
        i64::try_from(self.leeway.as_secs()).unwrap_or(i64::MAX)
    }
}

/// The claims of a verified Google ID token, typed. One of six profile shapes, each for its
/// own reason: this one is what a token states (every claim, iss/aud/azp/exp included), and
/// only the verifier makes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GoogleClaims {
    pub iss: String,
    /// The user's stable identifier: key accounts on this, never on email.
    pub sub: String,
    pub aud: Vec<String>,
    pub azp: Option<String>,
    pub iat: i64,
    pub exp: i64,
    pub nbf: Option<i64>,
    pub email: Option<String>,
    pub email_verified: Option<bool>,
    pub name: Option<String>,
    pub picture: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub locale: Option<String>,
    /// Google Workspace domain.
    pub hd: Option<String>,
    pub at_hash: Option<String>,
    pub nonce: Option<String>,
}

impl GoogleClaims {
    /// Reads every known claim with its JSON type checked. Unknown claims are ignored.
    pub(crate) fn from_map(claims: &Map<String, Value>) -> Result<Self, IdTokenError> {
        let text = |claim| optional_str(claims, claim).map(|v| v.map(str::to_owned));
        Ok(Self {
            iss: required_str(claims, "iss")?.to_owned(),
            sub: required_str(claims, "sub")?.to_owned(),
            aud: audiences(claims)?.into_iter().map(str::to_owned).collect(),
            azp: text("azp")?,
            iat: required_date(claims, "iat")?,
            exp: required_date(claims, "exp")?,
            nbf: numeric_date(claims, "nbf")?,
            email: text("email")?,
            email_verified: optional_bool(claims, "email_verified")?,
            name: text("name")?,
            picture: text("picture")?,
            given_name: text("given_name")?,
            family_name: text("family_name")?,
            locale: text("locale")?,
            hd: text("hd")?,
            at_hash: text("at_hash")?,
            nonce: text("nonce")?,
        })
    }
}

/// What a claim check sees.
pub(crate) struct ClaimContext<'a> {
    pub claims: &'a Map<String, Value>,
    pub policy: &'a IdTokenPolicy,
    pub now: i64,
}

/// One named rule: `run` decides, `passed` describes a success for the inspector.
pub(crate) struct ClaimCheck {
    pub name: &'static str,
    pub run: fn(&ClaimContext<'_>) -> Result<(), IdTokenError>,
    pub passed: fn(&ClaimContext<'_>) -> String,
}

/// Every claim rule, in the order verification applies them. The verifier and the
/// inspector both walk this list, so they can't disagree.
pub(crate) const CLAIM_CHECKS: &[ClaimCheck] = &[
    rule("iss", check_iss, passed_iss),
    rule("aud", check_aud, passed_aud),
    rule("azp", check_azp, passed_azp),
    rule("exp", check_exp, passed_exp),
    rule("iat", check_iat, passed_iat),
    rule("nbf", check_nbf, passed_nbf),
    rule("sub", check_sub, passed_sub),
];

const fn rule(
    name: &'static str,
    run: fn(&ClaimContext<'_>) -> Result<(), IdTokenError>,
    passed: fn(&ClaimContext<'_>) -> String,
) -> ClaimCheck {
    ClaimCheck { name, run, passed }
}

fn check_iss(cx: &ClaimContext<'_>) -> Result<(), IdTokenError> {
    let iss = required_str(cx.claims, "iss")?;
    // Exact comparison: `https://accounts.google.com/` or `http://...` are other issuers.
    if cx.policy.issuers.iter().any(|trusted| trusted == iss) {
        Ok(())
    } else {
        Err(IdTokenError::UntrustedIssuer {
            iss: Shown::new(iss),
            expected: quoted_list(&cx.policy.issuers),
        })
    }
}

fn passed_iss(cx: &ClaimContext<'_>) -> String {
    let iss = optional_str(cx.claims, "iss")
        .ok()
        .flatten()
        .unwrap_or_default();
    format!("{} is a trusted issuer", Shown::new(iss))
}

fn check_aud(cx: &ClaimContext<'_>) -> Result<(), IdTokenError> {
    let audiences = audiences(cx.claims)?;
    let ours = cx.policy.web_client_id.as_str();
    if !audiences.contains(&ours) {
        let aud = audiences.first().copied().unwrap_or_default();
        return Err(IdTokenError::WrongAudience {
            aud: Shown::new(aud),
            expected: Shown::new(ours),
        });
    }
    // jsonwebtoken accepts a token if any audience matches; OIDC says refuse a token that is
    // also meant for a party we don't trust (§3.1.3.7 step 3). We trust only ourselves.
    if let Some(extra) = audiences.iter().find(|aud| **aud != ours) {
        return Err(IdTokenError::UntrustedAudience {
            extra: Shown::new(extra),
        });
    }
    Ok(())
}

fn passed_aud(cx: &ClaimContext<'_>) -> String {
    format!(
        "the audience is this server's web client ID {}",
        Shown::new(&cx.policy.web_client_id)
    )
}

fn check_azp(cx: &ClaimContext<'_>) -> Result<(), IdTokenError> {
    let Some(azp) = optional_str(cx.claims, "azp")? else {
        return Ok(());
    };
    if cx.policy.authorized_parties().any(|allowed| allowed == azp) {
        Ok(())
    } else {
        let expected: Vec<String> = cx.policy.authorized_parties().map(str::to_owned).collect();
        Err(IdTokenError::UnknownAuthorizedParty {
            azp: Shown::new(azp),
            expected: quoted_list(&expected),
        })
    }
}

fn passed_azp(cx: &ClaimContext<'_>) -> String {
    match optional_str(cx.claims, "azp").ok().flatten() {
        Some(azp) => format!("issued to {}, one of this client's IDs", Shown::new(azp)),
        None => "no azp (allowed: the token was issued to its audience)".to_owned(),
    }
}

fn check_exp(cx: &ClaimContext<'_>) -> Result<(), IdTokenError> {
    let exp = required_date(cx.claims, "exp")?;
    // RFC 7519 §4.1.4: valid only *before* exp; the leeway moves that instant later.
    if cx.now < exp.saturating_add(cx.policy.leeway_secs()) {
        Ok(())
    } else {
        Err(IdTokenError::Expired {
            exp: UnixTime(exp),
            now: UnixTime(cx.now),
            leeway: cx.policy.leeway.as_secs(),
        })
    }
}

fn passed_exp(cx: &ClaimContext<'_>) -> String {
    match numeric_date(cx.claims, "exp").ok().flatten() {
        Some(exp) if exp > cx.now => {
            format!("expires {} ({} s from now)", UnixTime(exp), exp - cx.now)
        }
        Some(exp) => format!(
            "expired {} ({} s ago), within the {} s clock skew allowance",
            UnixTime(exp),
            cx.now - exp,
            cx.policy.leeway.as_secs()
        ),
        None => String::new(),
    }
}

fn check_iat(cx: &ClaimContext<'_>) -> Result<(), IdTokenError> {
    // jsonwebtoken has no iat rule at all; OIDC requires iat and a token from the future
    // means a wrong clock somewhere.
    let iat = required_date(cx.claims, "iat")?;
    if iat <= cx.now.saturating_add(cx.policy.leeway_secs()) {
        Ok(())
    } else {
        Err(IdTokenError::IssuedInFuture {
            iat: UnixTime(iat),
            now: UnixTime(cx.now),
            leeway: cx.policy.leeway.as_secs(),
        })
    }
}

fn passed_iat(cx: &ClaimContext<'_>) -> String {
    match numeric_date(cx.claims, "iat").ok().flatten() {
        Some(iat) => format!("issued {}", UnixTime(iat)),
        None => String::new(),
    }
}

fn check_nbf(cx: &ClaimContext<'_>) -> Result<(), IdTokenError> {
    match numeric_date(cx.claims, "nbf")? {
        Some(nbf) if nbf > cx.now.saturating_add(cx.policy.leeway_secs()) => {
            Err(IdTokenError::NotYetValid {
                nbf: UnixTime(nbf),
                now: UnixTime(cx.now),
                leeway: cx.policy.leeway.as_secs(),
            })
        }
        _ => Ok(()),
    }
}

fn passed_nbf(cx: &ClaimContext<'_>) -> String {
    match numeric_date(cx.claims, "nbf").ok().flatten() {
        Some(nbf) => format!("valid from {}", UnixTime(nbf)),
        None => "no nbf".to_owned(),
    }
}

fn check_sub(cx: &ClaimContext<'_>) -> Result<(), IdTokenError> {
    let sub = required_str(cx.claims, "sub")?;
    // OIDC Core §2: at most 255 ASCII characters; never empty, it keys the account.
    if sub.is_empty() || sub.len() > 255 {
        return Err(IdTokenError::InvalidSubject);
    }
    Ok(())
}

fn passed_sub(_: &ClaimContext<'_>) -> String {
    "sub is present (it identifies the user)".to_owned()
}

fn quoted_list(values: &[String]) -> String {
    let shown: Vec<String> = values.iter().map(|v| Shown::new(v).to_string()).collect();
    match shown.len() {
        0 => "nothing".to_owned(),
        1 => shown.concat(),
        _ => format!("one of {}", shown.join(", ")),
    }
}

// ---- typed readers: absent, wrong type and right type are three different answers ----

fn required_str<'a>(
    claims: &'a Map<String, Value>,
    claim: &'static str,
) -> Result<&'a str, IdTokenError> {
    optional_str(claims, claim)?.ok_or(IdTokenError::MissingClaim { claim })
}

fn optional_str<'a>(
    claims: &'a Map<String, Value>,
    claim: &'static str,
) -> Result<Option<&'a str>, IdTokenError> {
    match claims.get(claim) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        // `null` is not "absent": a claim present with the wrong type is refused.
        Some(_) => Err(IdTokenError::WrongClaimType {
            claim,
            expected: "a string",
        }),
    }
}

fn optional_bool(
    claims: &Map<String, Value>,
    claim: &'static str,
) -> Result<Option<bool>, IdTokenError> {
    match claims.get(claim) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(IdTokenError::WrongClaimType {
            claim,
            expected: "true or false",
        }),
    }
}

fn audiences(claims: &Map<String, Value>) -> Result<Vec<&str>, IdTokenError> {
    let wrong = IdTokenError::WrongClaimType {
        claim: "aud",
        expected: "a string or a non-empty array of strings",
    };
    match claims.get("aud") {
        None => Err(IdTokenError::MissingClaim { claim: "aud" }),
        Some(Value::String(aud)) => Ok(vec![aud.as_str()]),
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(Value::as_str)
            .collect::<Option<Vec<_>>>()
            .ok_or(wrong),
        Some(_) => Err(wrong),
    }
}

fn required_date(claims: &Map<String, Value>, claim: &'static str) -> Result<i64, IdTokenError> {
    numeric_date(claims, claim)?.ok_or(IdTokenError::MissingClaim { claim })
}

/// A NumericDate: a JSON number of seconds. Strings are refused (the jsonwebtoken bypass of
/// GHSA-h395-gr6q-cpjc was a string exp being skipped); fractions are rounded down.
fn numeric_date(
    claims: &Map<String, Value>,
    claim: &'static str,
) -> Result<Option<i64>, IdTokenError> {
    match claims.get(claim) {
        None => Ok(None),
        Some(Value::Number(n)) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Ok(Some(i)),
            // `as` saturates for out-of-range floats, which is the behaviour wanted here.
            (None, Some(f)) => Ok(Some(f.floor() as i64)),
            (None, None) => Err(IdTokenError::WrongClaimType {
                claim,
                expected: "a number of seconds",
            }),
        },
        Some(_) => Err(IdTokenError::WrongClaimType {
            claim,
            expected: "a number of seconds since 1970",
        }),
    }
}
