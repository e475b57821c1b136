//! Where a provider's endpoints are: Google's by default, any other issuer (the emulator)
//! only by an explicit choice made from its OpenID discovery document and an API base URL.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use url::{Host, Url};

/// Google's issuer as its discovery document states it.
pub const GOOGLE_ISSUER: &str = "https://accounts.google.com";
/// The scheme-less issuer Google still puts in some ID tokens.
pub const GOOGLE_LEGACY_ISSUER: &str = "accounts.google.com";

/// Google's two issuer forms are one issuer: the https form names it wherever users are keyed
/// by (issuer, sub), so one person never becomes two users.
pub fn canonical_issuer(issuer: &str) -> &str {
    if issuer == GOOGLE_LEGACY_ISSUER {
        GOOGLE_ISSUER
    } else {
        issuer
    }
}

/// The path of the discovery document under an issuer (OpenID Connect Discovery §4).
pub const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";

/// Discovery documents are a few KiB; a cap keeps a hostile issuer from feeding us megabytes.
const MAX_DISCOVERY_BYTES: usize = 64 * 1024;

/// Every URL TokenDesk talks to for one provider, plus the issuers its ID tokens may carry.
///
/// `drive_api_base` ends with a `/` so that `drive_api_base.join("files")` stays under
/// `drive/v3/` (`Url::join` drops the last segment of a base without one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoints {
    /// Accepted `iss` values, compared exactly. The first one is the canonical issuer.
    pub issuers: Vec<String>,
    pub authorization: Url,
    pub token: Url,
    pub revocation: Url,
    pub tokeninfo: Url,
    pub userinfo: Url,
    pub jwks_uri: Url,
    pub drive_api_base: Url,
}

/// Why a discovery document or an API base URL was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProviderError {
    #[error(
        "the discovery document is not a JSON object ({reason}); check that the issuer URL \
         serves OpenID Connect discovery at {DISCOVERY_PATH}"
    )]
    MalformedDocument { reason: String },
    #[error("the discovery document is larger than {limit} bytes; refusing to read it")]
    DocumentTooLarge { limit: usize },
    #[error("the discovery document has no `{field}`; this provider can't be used by TokenDesk")]
    MissingField { field: &'static str },
    #[error("`{field}` in the discovery document must be {expected}")]
    WrongFieldType {
        field: &'static str,
        expected: &'static str,
    },
    #[error(
        "the discovery document says its issuer is {found:?}, but it was fetched for \
         {expected:?}; they must be identical (OpenID Connect Discovery §4.3)"
    )]
    IssuerMismatch { expected: String, found: String },
    #[error("`{field}` is not a valid absolute URL: {reason}")]
    InvalidUrl { field: &'static str, reason: String },
    #[error(
        "`{field}` ({url}) must use https; plain http is allowed only on a loopback address \
         (127.0.0.1, [::1] or localhost), as for the built-in emulator"
    )]
    InsecureUrl { field: &'static str, url: String },
    #[error("`{field}` ({url}) must not carry a query, a fragment or user credentials")]
    UnexpectedUrlParts { field: &'static str, url: String },
    #[error(
        "the provider does not sign ID tokens with RS256 (it lists {algorithms}); TokenDesk \
         verifies RS256 only"
    )]
    NoRs256 { algorithms: String },
}

impl Endpoints {
    /// Google's production endpoints, as in Google's discovery document and client libraries.
    pub fn google() -> Self {
        Self {
            issuers: vec![GOOGLE_ISSUER.to_owned(), GOOGLE_LEGACY_ISSUER.to_owned()],
            authorization: google_url("https://accounts.google.com/o/oauth2/v2/auth"),
            token: google_url("https://oauth2.googleapis.com/token"),
            revocation: google_url("https://oauth2.googleapis.com/revoke"),
            tokeninfo: google_url("https://oauth2.googleapis.com/tokeninfo"),
            userinfo: google_url("https://openidconnect.googleapis.com/v1/userinfo"),
            jwks_uri: google_url("https://www.googleapis.com/oauth2/v3/certs"),
            drive_api_base: google_url("https://www.googleapis.com/drive/v3/"),
        }
    }

    /// True when these are exactly Google's endpoints.
    pub fn is_google(&self) -> bool {
        *self == Self::google()
    }

    /// The canonical issuer (the first accepted one).
    pub fn issuer(&self) -> &str {
        self.issuers.first().map_or("", String::as_str)
    }

    /// Where `issuer` serves its discovery document: the issuer without a trailing `/`, then
    /// `/.well-known/openid-configuration` (OpenID Connect Discovery §4).
    pub fn discovery_url(issuer: &str) -> Result<Url, ProviderError> {
        let base = checked_url("issuer", issuer)?;
        checked_url(
            "issuer",
            &format!("{}{DISCOVERY_PATH}", base.as_str().trim_end_matches('/')),
        )
    }

    /// Builds the endpoints of a non-Google provider from its discovery document.
    ///
    /// `issuer` is the URL the person chose (the document was fetched from
    /// [`Endpoints::discovery_url`]); the document must name exactly that issuer, so a
    /// document can't redirect TokenDesk to another identity provider. `api_base` is where
    /// the provider serves Google's APIs (`http://127.0.0.1:PORT` for the emulator): Drive
    /// is under `{api_base}/drive/v3/`. Discovery has no tokeninfo endpoint, so
    /// `tokeninfo_endpoint` is read if present and `{issuer}/tokeninfo` assumed otherwise (as
    /// the emulator serves it). Every URL must be https, or http on a loopback address.
    pub fn from_discovery(
        issuer: &str,
        document: &[u8],
        api_base: &str,
    ) -> Result<Self, ProviderError> {
        if document.len() > MAX_DISCOVERY_BYTES {
            return Err(ProviderError::DocumentTooLarge {
                limit: MAX_DISCOVERY_BYTES,
            });
        }
        let doc: Map<String, Value> = match serde_json::from_slice(document) {
            Ok(Value::Object(map)) => map,
            Ok(_) => {
                return Err(ProviderError::MalformedDocument {
                    reason: "the top level is not an object".to_owned(),
                });
            }
            Err(err) => {
                return Err(ProviderError::MalformedDocument {
                    reason: err.to_string(),
                });
            }
        };

        let found = required_str(&doc, "issuer")?;
        if found != issuer {
            return Err(ProviderError::IssuerMismatch {
                expected: issuer.to_owned(),
                found: found.to_owned(),
            });
        }
        let issuer_url = checked_url("issuer", issuer)?;

        if let Some(algs) = doc.get("id_token_signing_alg_values_supported") {
            let list = algs.as_array().ok_or(ProviderError::WrongFieldType {
                field: "id_token_signing_alg_values_supported",
                expected: "an array of strings",
            })?;
            if !list.iter().any(|alg| alg.as_str() == Some("RS256")) {
                return Err(ProviderError::NoRs256 {
                    algorithms: Value::from(list.clone()).to_string(),
                });
            }
        }

        let endpoint = |field: &'static str| -> Result<Url, ProviderError> {
            checked_url(field, required_str(&doc, field)?)
        };
        let tokeninfo = match doc.get("tokeninfo_endpoint") {
            Some(_) => endpoint("tokeninfo_endpoint")?,
            None => checked_url(
                "issuer",
                &format!("{}/tokeninfo", issuer_url.as_str().trim_end_matches('/')),
            )?,
        };
        let api_base_url = checked_url("api_base", api_base)?;
        let drive_api_base = checked_url(
            "api_base",
            &format!("{}/drive/v3/", api_base_url.as_str().trim_end_matches('/')),
        )?;

        // Google's discovery names only the https issuer; its tokens may carry the legacy one.
        let mut issuers = vec![issuer.to_owned()];
        if issuer == GOOGLE_ISSUER {
            issuers.push(GOOGLE_LEGACY_ISSUER.to_owned());
        }

        Ok(Self {
            issuers,
            authorization: endpoint("authorization_endpoint")?,
            token: endpoint("token_endpoint")?,
            revocation: endpoint("revocation_endpoint")?,
            tokeninfo,
            userinfo: endpoint("userinfo_endpoint")?,
            jwks_uri: endpoint("jwks_uri")?,
            drive_api_base,
        })
    }
}

fn google_url(url: &'static str) -> Url {
    // Constants checked by `google_endpoints_are_googles_documented_urls`.
    Url::parse(url).expect("Google's endpoint constants are valid URLs")
}

fn required_str<'a>(
    doc: &'a Map<String, Value>,
    field: &'static str,
) -> Result<&'a str, ProviderError> {
    match doc.get(field) {
        None | Some(Value::Null) => Err(ProviderError::MissingField { field }),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(ProviderError::WrongFieldType {
            field,
            expected: "a string",
        }),
    }
}

/// Parses `value` and applies the transport rule: https anywhere, http only on loopback
/// (tokens and secrets must not cross a network in clear text). No query, fragment or
/// credentials either: an endpoint is a place, not a request.
fn checked_url(field: &'static str, value: &str) -> Result<Url, ProviderError> {
    let url = Url::parse(value).map_err(|err| ProviderError::InvalidUrl {
        field,
        reason: err.to_string(),
    })?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(ProviderError::InsecureUrl {
                field,
                url: url.to_string(),
            });
        }
        other => {
            return Err(ProviderError::InvalidUrl {
                field,
                reason: format!("the scheme is {other:?}, not https"),
            });
        }
    }
    if url.host().is_none() {
        return Err(ProviderError::InvalidUrl {
            field,
            reason: "there is no host".to_owned(),
        });
    }
    if url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return Err(ProviderError::UnexpectedUrlParts {
            field,
            url: url.to_string(),
        });
    }
    Ok(url)
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The emulator's discovery document, shaped like Google's.
    fn emulator_doc(base: &str) -> Value {
        json!({
            "issuer": base,
            "authorization_endpoint": format!("{base}/o/oauth2/v2/auth"),
            "token_endpoint": format!("{base}/token"),
            "userinfo_endpoint": format!("{base}/v1/userinfo"),
            "revocation_endpoint": format!("{base}/revoke"),
            "jwks_uri": format!("{base}/oauth2/v3/certs"),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
        })
    }

    fn bytes(doc: &Value) -> Vec<u8> {
        serde_json::to_vec(doc).unwrap()
    }

    #[test]
    fn google_endpoints_are_googles_documented_urls() {
        let google = Endpoints::google();
        assert_eq!(
            google.issuers,
            ["https://accounts.google.com", "accounts.google.com"]
        );
        assert_eq!(
            google.authorization.as_str(),
            "https://accounts.google.com/o/oauth2/v2/auth"
        );
        assert_eq!(google.token.as_str(), "https://oauth2.googleapis.com/token");
        assert_eq!(
            google.revocation.as_str(),
            "https://oauth2.googleapis.com/revoke"
        );
        assert_eq!(
            google.tokeninfo.as_str(),
            "https://oauth2.googleapis.com/tokeninfo"
        );
        assert_eq!(
            google.userinfo.as_str(),
            "https://openidconnect.googleapis.com/v1/userinfo"
        );
        assert_eq!(
            google.jwks_uri.as_str(),
            "https://www.googleapis.com/oauth2/v3/certs"
        );
        assert_eq!(
            google.drive_api_base.join("files").unwrap().as_str(),
            "https://www.googleapis.com/drive/v3/files",
            "joining a Drive path must stay under drive/v3"
        );
        assert!(google.is_google());
        assert_eq!(google.issuer(), GOOGLE_ISSUER);
    }

    #[test]
    fn emulator_discovery_builds_loopback_endpoints() {
        let base = "http://127.0.0.1:41234";
        let endpoints = Endpoints::from_discovery(base, &bytes(&emulator_doc(base)), base).unwrap();
        assert_eq!(endpoints.issuers, [base]);
        assert_eq!(endpoints.token.as_str(), "http://127.0.0.1:41234/token");
        assert_eq!(
            endpoints.jwks_uri.as_str(),
            "http://127.0.0.1:41234/oauth2/v3/certs"
        );
        assert_eq!(
            endpoints.tokeninfo.as_str(),
            "http://127.0.0.1:41234/tokeninfo"
        );
        assert_eq!(
            endpoints.revocation.as_str(),
            "http://127.0.0.1:41234/revoke"
        );
        assert_eq!(
            endpoints.drive_api_base.as_str(),
            "http://127.0.0.1:41234/drive/v3/"
        );
        assert!(!endpoints.is_google(), "the emulator is not Google");
    }

    #[test]
    fn discovery_url_appends_the_well_known_path_once() {
        assert_eq!(
            Endpoints::discovery_url("http://127.0.0.1:8080")
                .unwrap()
                .as_str(),
            "http://127.0.0.1:8080/.well-known/openid-configuration"
        );
        assert_eq!(
            Endpoints::discovery_url("https://id.example.com/tenant/")
                .unwrap()
                .as_str(),
            "https://id.example.com/tenant/.well-known/openid-configuration",
            "a terminating / is removed before appending (Discovery §4)"
        );
    }

    #[test]
    fn discovery_for_another_issuer_is_refused() {
        let base = "http://127.0.0.1:41234";
        let err =
            Endpoints::from_discovery("http://127.0.0.1:9999", &bytes(&emulator_doc(base)), base)
                .unwrap_err();
        assert!(matches!(err, ProviderError::IssuerMismatch { .. }), "{err}");
    }

    #[test]
    fn discovery_issuer_differing_by_a_trailing_slash_is_refused() {
        let base = "http://127.0.0.1:41234";
        let err = Endpoints::from_discovery(&format!("{base}/"), &bytes(&emulator_doc(base)), base)
            .unwrap_err();
        assert!(
            matches!(err, ProviderError::IssuerMismatch { .. }),
            "exact match only: {err}"
        );
    }

    #[test]
    fn discovery_without_a_required_endpoint_names_the_field() {
        let base = "http://127.0.0.1:41234";
        let mut doc = emulator_doc(base);
        doc.as_object_mut().unwrap().remove("revocation_endpoint");
        let err = Endpoints::from_discovery(base, &bytes(&doc), base).unwrap_err();
        assert!(matches!(
            err,
            ProviderError::MissingField {
                field: "revocation_endpoint"
            }
        ));
        assert!(
            err.to_string().contains("revocation_endpoint"),
            "the message names the field"
        );
    }

    #[test]
    fn discovery_field_of_the_wrong_type_names_the_field() {
        let base = "http://127.0.0.1:41234";
        let mut doc = emulator_doc(base);
        doc["token_endpoint"] = json!(42);
        let err = Endpoints::from_discovery(base, &bytes(&doc), base).unwrap_err();
        assert!(matches!(
            err,
            ProviderError::WrongFieldType {
                field: "token_endpoint",
                ..
            }
        ));
    }

    #[test]
    fn plain_http_off_loopback_is_refused() {
        let base = "http://idp.example.com";
        let err = Endpoints::from_discovery(base, &bytes(&emulator_doc(base)), base).unwrap_err();
        assert!(matches!(err, ProviderError::InsecureUrl { .. }), "{err}");
    }

    #[test]
    fn http_endpoint_on_a_lookalike_loopback_host_is_refused() {
        let base = "http://127.0.0.1:41234";
        let mut doc = emulator_doc(base);
        doc["token_endpoint"] = json!("http://127.0.0.1.evil.example/token");
        let err = Endpoints::from_discovery(base, &bytes(&doc), base).unwrap_err();
        assert!(
            matches!(
                err,
                ProviderError::InsecureUrl {
                    field: "token_endpoint",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn endpoint_with_credentials_or_query_is_refused() {
        let base = "http://127.0.0.1:41234";
        let mut doc = emulator_doc(base);
        doc["jwks_uri"] = json!("https://user:pw@keys.example.com/certs");
        let err = Endpoints::from_discovery(base, &bytes(&doc), base).unwrap_err();
        assert!(matches!(
            err,
            ProviderError::UnexpectedUrlParts {
                field: "jwks_uri",
                ..
            }
        ));
    }

    #[test]
    fn provider_without_rs256_is_refused() {
        let base = "http://127.0.0.1:41234";
        let mut doc = emulator_doc(base);
        doc["id_token_signing_alg_values_supported"] = json!(["ES256"]);
        let err = Endpoints::from_discovery(base, &bytes(&doc), base).unwrap_err();
        assert!(matches!(err, ProviderError::NoRs256 { .. }), "{err}");
    }

    #[test]
    fn non_json_discovery_is_a_clear_error() {
        let err = Endpoints::from_discovery("http://127.0.0.1:1", b"<html>", "http://127.0.0.1:1")
            .unwrap_err();
        assert!(matches!(err, ProviderError::MalformedDocument { .. }));
    }

    #[test]
    fn discovering_google_accepts_both_google_issuers() {
        let mut doc = emulator_doc("https://accounts.google.com");
        doc["token_endpoint"] = json!("https://oauth2.googleapis.com/token");
        let endpoints =
            Endpoints::from_discovery(GOOGLE_ISSUER, &bytes(&doc), "https://www.googleapis.com")
                .unwrap();
        assert_eq!(endpoints.issuers, [GOOGLE_ISSUER, GOOGLE_LEGACY_ISSUER]);
    }

    #[test]
    fn endpoints_round_trip_through_json() {
        let google = Endpoints::google();
        let back: Endpoints =
            serde_json::from_str(&serde_json::to_string(&google).unwrap()).unwrap();
        assert_eq!(back, google, "the store may persist endpoints as JSON");
    }
}
