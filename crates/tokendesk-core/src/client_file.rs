//! Reads the `client_secret_*.json` Google Cloud Console downloads for a Web application
//! client, keeps the secret in a [`ClientSecret`], and flags endpoints that are not Google's.

use serde_json::{Map, Value};

use crate::secret::ClientSecret;

/// A client_secret.json is well under 4 KiB; anything near this is not one.
const MAX_FILE_BYTES: usize = 64 * 1024;

/// Values Google has put in these files over the years (current downloads and older ones).
const GOOGLE_AUTH_URIS: &[&str] = &[
    "https://accounts.google.com/o/oauth2/auth",
    "https://accounts.google.com/o/oauth2/v2/auth",
];
const GOOGLE_TOKEN_URIS: &[&str] = &[
    "https://oauth2.googleapis.com/token",
    "https://accounts.google.com/o/oauth2/token",
    "https://www.googleapis.com/oauth2/v4/token",
];
const GOOGLE_CERT_URLS: &[&str] = &[
    "https://www.googleapis.com/oauth2/v1/certs",
    "https://www.googleapis.com/oauth2/v3/certs",
];

/// The `web` client of a client_secret.json: the server client ID and its secret.
///
/// The URLs are kept as written and are only informational: TokenDesk talks to the
/// endpoints of the provider the person chose ([`crate::provider::Endpoints`]), and a file
/// that names other endpoints than Google's ([`WebClient::foreign_endpoints`]) needs that
/// choice to be explicit rather than being trusted because a file said so.
#[derive(Debug)]
#[non_exhaustive]
pub struct WebClient {
    pub client_id: String,
    pub client_secret: ClientSecret,
    pub project_id: Option<String>,
    pub auth_uri: Option<String>,
    pub token_uri: Option<String>,
    pub auth_provider_x509_cert_url: Option<String>,
    pub redirect_uris: Vec<String>,
    pub javascript_origins: Vec<String>,
}

/// A URL in the file that is not one of Google's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignEndpoint {
    /// The field, e.g. `token_uri`.
    pub field: &'static str,
    pub url: String,
}

/// Why a client_secret.json was refused. Messages never include the secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientFileError {
    #[error(
        "this file is larger than {limit} bytes, so it is not a client_secret.json from \
         Google Cloud Console"
    )]
    TooLarge { limit: usize },
    #[error(
        "this looks like an iOS client's property list (.plist). TokenDesk needs the Web \
         application client's JSON: {WHERE_TO_FIND}"
    )]
    PropertyList,
    #[error(
        "this file is not JSON ({reason}); expected a client_secret.json from Google Cloud Console"
    )]
    NotJson { reason: String },
    #[error(
        "this is an \"installed\" (Desktop app) client. TokenDesk needs the Web application \
         client instead: the server client ID that your iOS app sets as serverClientID \
         (GIDServerClientID). {WHERE_TO_FIND}"
    )]
    InstalledClient,
    #[error(
        "this is a service account key, not an OAuth client. TokenDesk needs the Web \
         application client: {WHERE_TO_FIND}"
    )]
    ServiceAccount,
    #[error(
        "the file has both \"web\" and \"installed\" clients; download the Web application \
         client on its own: {WHERE_TO_FIND}"
    )]
    Ambiguous,
    #[error(
        "expected a top-level \"web\" object (found {found}); TokenDesk needs the Web \
         application client's JSON: {WHERE_TO_FIND}"
    )]
    UnexpectedShape { found: String },
    #[error("`web.{field}` is missing; download the file again from Google Cloud Console")]
    MissingField { field: &'static str },
    #[error("`web.{field}` must be {expected}")]
    WrongFieldType {
        field: &'static str,
        expected: &'static str,
    },
    #[error("`web.{field}` is empty")]
    EmptyField { field: &'static str },
}

const WHERE_TO_FIND: &str = "in Google Cloud Console, open APIs & Services > Credentials, \
     pick the OAuth 2.0 Client ID of type \"Web application\" (create one if needed) and \
     click Download JSON";

impl WebClient {
    /// Parses a client_secret.json. Only the `web` shape is accepted.
    pub fn from_json(bytes: &[u8]) -> Result<Self, ClientFileError> {
        if bytes.len() > MAX_FILE_BYTES {
            return Err(ClientFileError::TooLarge {
                limit: MAX_FILE_BYTES,
            });
        }
        let top: Map<String, Value> = match serde_json::from_slice(bytes) {
            Ok(Value::Object(map)) => map,
            Ok(other) => {
                return Err(ClientFileError::UnexpectedShape {
                    found: json_kind(&other).to_owned(),
                });
            }
            Err(err) => {
                let start = String::from_utf8_lossy(&bytes[..bytes.len().min(256)]).to_string();
                if start.contains("<plist") || start.trim_start().starts_with("<?xml") {
                    return Err(ClientFileError::PropertyList);
                }
                // serde_json's messages give a position and a category, never the input.
                return Err(ClientFileError::NotJson {
                    reason: err.to_string(),
                });
            }
        };

        let web = match (top.get("web"), top.get("installed")) {
            (Some(_), Some(_)) => return Err(ClientFileError::Ambiguous),
            (None, Some(_)) => return Err(ClientFileError::InstalledClient),
            (Some(Value::Object(web)), None) => web,
            (Some(_), None) => {
                return Err(ClientFileError::UnexpectedShape {
                    found: "\"web\" that is not an object".to_owned(),
                });
            }
            (None, None) if top.get("type").and_then(Value::as_str) == Some("service_account") => {
                return Err(ClientFileError::ServiceAccount);
            }
            (None, None) => {
                // How many, never which: the file may be anything (a config, a key), and what
                // is in it must not be echoed into a message shown or logged elsewhere.
                let found = match top.len() {
                    0 => "an empty object".to_owned(),
                    1 => "an object with 1 other field".to_owned(),
                    n => format!("an object with {n} other fields"),
                };
                return Err(ClientFileError::UnexpectedShape { found });
            }
        };

        Ok(Self {
            client_id: required_string(web, "client_id")?.to_owned(),
            client_secret: ClientSecret::new(required_string(web, "client_secret")?),
            project_id: optional_string(web, "project_id")?,
            auth_uri: optional_string(web, "auth_uri")?,
            token_uri: optional_string(web, "token_uri")?,
            auth_provider_x509_cert_url: optional_string(web, "auth_provider_x509_cert_url")?,
            redirect_uris: string_list(web, "redirect_uris")?,
            javascript_origins: string_list(web, "javascript_origins")?,
        })
    }

    /// The file's URLs that are not Google's. Empty when the file points at Google only
    /// (or names no URLs). The caller shows these and requires an explicit provider choice.
    pub fn foreign_endpoints(&self) -> Vec<ForeignEndpoint> {
        let fields: [(&'static str, &Option<String>, &[&str]); 3] = [
            ("auth_uri", &self.auth_uri, GOOGLE_AUTH_URIS),
            ("token_uri", &self.token_uri, GOOGLE_TOKEN_URIS),
            (
                "auth_provider_x509_cert_url",
                &self.auth_provider_x509_cert_url,
                GOOGLE_CERT_URLS,
            ),
        ];
        fields
            .into_iter()
            .filter_map(|(field, value, google)| {
                let url = value.as_deref()?;
                (!google.contains(&url)).then(|| ForeignEndpoint {
                    field,
                    url: url.to_owned(),
                })
            })
            .collect()
    }

    /// True when every URL in the file is one of Google's.
    pub fn endpoints_are_google(&self) -> bool {
        self.foreign_endpoints().is_empty()
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn required_string<'a>(
    web: &'a Map<String, Value>,
    field: &'static str,
) -> Result<&'a str, ClientFileError> {
    match web.get(field) {
        None | Some(Value::Null) => Err(ClientFileError::MissingField { field }),
        Some(Value::String(s)) if s.trim().is_empty() => Err(ClientFileError::EmptyField { field }),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(ClientFileError::WrongFieldType {
            field,
            expected: "a string",
        }),
    }
}

fn optional_string(
    web: &Map<String, Value>,
    field: &'static str,
) -> Result<Option<String>, ClientFileError> {
    match web.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ClientFileError::WrongFieldType {
            field,
            expected: "a string",
        }),
    }
}

fn string_list(
    web: &Map<String, Value>,
    field: &'static str,
) -> Result<Vec<String>, ClientFileError> {
    let wrong = ClientFileError::WrongFieldType {
        field,
        expected: "an array of strings",
    };
    match web.get(field) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or(wrong),
        Some(_) => Err(wrong),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    const SECRET: &str = concat!("GOCSPX-", "canary-secret-5b1e");

    fn google_web() -> Value {
        json!({"web": {
            "client_id": "1234-abc.apps.googleusercontent.com",
            "project_id": "tokendesk-test",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": "https://oauth2.googleapis.com/token",
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_secret": SECRET,
            "redirect_uris": ["https://example.com/cb"],
            "javascript_origins": ["https://example.com"]
        }})
    }

    fn parse(value: &Value) -> Result<WebClient, ClientFileError> {
        WebClient::from_json(&serde_json::to_vec(value).unwrap())
    }

    #[test]
    fn web_client_from_google_is_accepted() {
        let client = parse(&google_web()).unwrap();
        assert_eq!(client.client_id, "1234-abc.apps.googleusercontent.com");
        assert_eq!(client.client_secret.secret(), SECRET);
        assert_eq!(client.project_id.as_deref(), Some("tokendesk-test"));
        assert_eq!(client.redirect_uris, ["https://example.com/cb"]);
        assert!(
            client.endpoints_are_google(),
            "Google's own URLs need no explicit choice"
        );
        assert!(
            !format!("{client:?}").contains(SECRET),
            "Debug of the parsed file is redacted"
        );
    }

    #[test]
    fn installed_client_is_refused_with_directions_to_the_web_client() {
        let err =
            parse(&json!({"installed": {"client_id": "x", "client_secret": SECRET}})).unwrap_err();
        assert!(matches!(err, ClientFileError::InstalledClient));
        let message = err.to_string();
        assert!(message.contains("Web application"), "{message}");
        assert!(message.contains("serverClientID"), "{message}");
        assert!(
            message.contains("Credentials"),
            "says where to find it: {message}"
        );
        assert!(!message.contains(SECRET));
    }

    #[test]
    fn service_account_key_is_refused() {
        let err = parse(&json!({"type": "service_account", "private_key": "k"})).unwrap_err();
        assert!(matches!(err, ClientFileError::ServiceAccount), "{err}");
    }

    #[test]
    fn ios_plist_is_refused_with_directions() {
        let err =
            WebClient::from_json(b"<?xml version=\"1.0\"?>\n<plist><dict/></plist>").unwrap_err();
        assert!(matches!(err, ClientFileError::PropertyList), "{err}");
    }

    #[test]
    fn unknown_shape_is_refused_without_echoing_the_file() {
        // Some other JSON file (a config, a key) picked by mistake: what it holds is not
        // repeated in the message, which the window shows and logs may keep.
        let err = parse(&json!({"private_key_canary": {}, "password_canary": "x"})).unwrap_err();
        assert!(!err.to_string().contains("canary"), "{err}");
        assert!(err.to_string().contains("2 other fields"), "{err}");
        let err = parse(&json!([1, 2])).unwrap_err();
        assert!(
            matches!(err, ClientFileError::UnexpectedShape { .. }),
            "{err}"
        );
    }

    #[test]
    fn missing_client_secret_names_the_field() {
        let mut file = google_web();
        file["web"].as_object_mut().unwrap().remove("client_secret");
        let err = parse(&file).unwrap_err();
        assert!(matches!(
            err,
            ClientFileError::MissingField {
                field: "client_secret"
            }
        ));
        assert!(err.to_string().contains("web.client_secret"), "{err}");
    }

    #[test]
    fn missing_client_id_names_the_field() {
        let mut file = google_web();
        file["web"].as_object_mut().unwrap().remove("client_id");
        let err = parse(&file).unwrap_err();
        assert!(
            matches!(err, ClientFileError::MissingField { field: "client_id" }),
            "{err}"
        );
    }

    #[test]
    fn wrongly_typed_field_is_named_without_its_value() {
        let mut file = google_web();
        file["web"]["client_secret"] = json!([concat!("GOCSPX-", "in-an-array")]);
        let err = parse(&file).unwrap_err();
        assert!(matches!(
            err,
            ClientFileError::WrongFieldType {
                field: "client_secret",
                ..
            }
        ));
        assert!(
            !err.to_string().contains("GOCSPX"),
            "the value never reaches the message"
        );
        file["web"]["client_secret"] = json!(SECRET);
        file["web"]["redirect_uris"] = json!("https://not-a-list");
        let err = parse(&file).unwrap_err();
        assert!(matches!(
            err,
            ClientFileError::WrongFieldType {
                field: "redirect_uris",
                ..
            }
        ));
    }

    #[test]
    fn empty_client_id_is_refused() {
        let mut file = google_web();
        file["web"]["client_id"] = json!("  ");
        let err = parse(&file).unwrap_err();
        assert!(
            matches!(err, ClientFileError::EmptyField { field: "client_id" }),
            "{err}"
        );
    }

    #[test]
    fn non_json_is_refused_without_echoing_the_input() {
        let err = WebClient::from_json(format!("client_secret={SECRET}").as_bytes()).unwrap_err();
        assert!(matches!(err, ClientFileError::NotJson { .. }));
        assert!(!err.to_string().contains(SECRET), "{err}");
    }

    #[test]
    fn foreign_token_uri_is_flagged_not_trusted() {
        let mut file = google_web();
        file["web"]["token_uri"] = json!("https://evil.example/token");
        file["web"]["auth_provider_x509_cert_url"] = json!("https://evil.example/certs");
        let client = parse(&file).unwrap();
        assert!(
            !client.endpoints_are_google(),
            "a file pointing elsewhere must be flagged"
        );
        assert_eq!(
            client.foreign_endpoints(),
            [
                ForeignEndpoint {
                    field: "token_uri",
                    url: "https://evil.example/token".into()
                },
                ForeignEndpoint {
                    field: "auth_provider_x509_cert_url",
                    url: "https://evil.example/certs".into()
                },
            ]
        );
    }

    #[test]
    fn emulator_file_is_flagged_as_not_google() {
        let base = "http://127.0.0.1:41234";
        let client = parse(&json!({"web": {
            "client_id": "web-client.apps.googleusercontent.com",
            "client_secret": SECRET,
            "project_id": "emulator",
            "auth_uri": format!("{base}/o/oauth2/v2/auth"),
            "token_uri": format!("{base}/token"),
            "auth_provider_x509_cert_url": format!("{base}/oauth2/v1/certs"),
            "redirect_uris": []
        }}))
        .unwrap();
        assert_eq!(client.foreign_endpoints().len(), 3);
    }

    #[test]
    fn lookalike_google_host_is_flagged() {
        let mut file = google_web();
        file["web"]["token_uri"] = json!("https://oauth2.googleapis.com.evil.example/token");
        assert!(
            !parse(&file).unwrap().endpoints_are_google(),
            "exact URLs only, no prefix match"
        );
    }

    #[test]
    fn older_google_token_uri_is_still_google() {
        let mut file = google_web();
        file["web"]["token_uri"] = json!("https://accounts.google.com/o/oauth2/token");
        assert!(parse(&file).unwrap().endpoints_are_google());
    }
}
