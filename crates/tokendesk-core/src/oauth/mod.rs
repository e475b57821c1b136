//! Google's OAuth 2.0 endpoints from the server's side: code exchange, refresh, revocation and
//! tokeninfo over one hardened HTTP client, with Google's errors explained.

pub mod curl;
mod endpoint;
mod error;
mod exchange;
pub mod explain;
pub mod http;
pub mod network;
mod refresh;
pub mod retry;
mod revoke;
mod tokeninfo;

use std::time::Duration;

pub use curl::{Curl, SecretSlot, to_curl};
pub(crate) use error::scrub;
pub use error::{GoogleErrorCode, OAuthError, Operation, UnknownCause};
pub use exchange::exchange_code;
pub use explain::{Explanation, explain, missing_refresh_token};
pub use http::{
    HttpClient, HttpConfig, HttpError, OAuth2Http, RawBody, RawExchange, RawField, RawLog,
    RawResponse,
};
pub use network::{ProxyEnvironment, ProxySetting, ca_bundle_from_env};
pub use refresh::refresh;
pub use retry::{RecordingTimer, RetryPolicy, Timer, TokioTimer};
pub use revoke::{RevokeOutcome, RevokeToken, revoke};
pub use tokeninfo::{TokenInfo, tokeninfo};

use crate::provider::Endpoints;
use crate::secret::{AccessToken, ClientSecret, IdTokenRaw, RefreshToken};

/// A web ("server") OAuth client and where its provider is: what exchange and refresh need.
#[derive(Debug, Clone)]
pub struct OAuthClient {
    http: HttpClient,
    endpoints: Endpoints,
    client_id: String,
    client_secret: ClientSecret,
}

impl OAuthClient {
    pub fn new(
        http: HttpClient,
        endpoints: Endpoints,
        client_id: impl Into<String>,
        client_secret: ClientSecret,
    ) -> Self {
        Self {
            http,
            endpoints,
            client_id: client_id.into(),
            client_secret,
        }
    }

    pub fn http(&self) -> &HttpClient {
        &self.http
    }

    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    pub fn client_id(&self) -> &str {
        &self.client_id
    }
}

/// The `redirect_uri` of a code exchange. It must match how the code was obtained, and
/// oauth2's `RedirectUrl` can hold neither `""` nor `postmessage`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum RedirectChoice {
    /// `redirect_uri=` (empty): codes from the iOS and Android SDKs (serverAuthCode).
    #[default]
    Empty,
    /// No `redirect_uri` parameter at all.
    Absent,
    /// `redirect_uri=postmessage`: codes from a web Google Identity Services popup.
    PostMessage,
    /// The redirect URI of a redirect (web server) flow, exactly as in the auth request.
    Url(url::Url),
}

impl RedirectChoice {
    /// Reads a person's choice, the same words in the CLI (`--redirect-uri`) and the window:
    /// `""` or `empty` (a mobile app's serverAuthCode), `absent`, `postmessage` (a web popup's
    /// code), or the absolute redirect URL of a web server flow.
    pub fn parse(value: &str) -> Result<Self, RedirectChoiceError> {
        match value.trim() {
            "" | "empty" => Ok(Self::Empty),
            "absent" => Ok(Self::Absent),
            "postmessage" => Ok(Self::PostMessage),
            url => url::Url::parse(url)
                .map(Self::Url)
                .map_err(|e| RedirectChoiceError {
                    value: url.chars().take(200).collect(),
                    reason: e.to_string(),
                }),
        }
    }
}

/// A redirect choice that is none of the words and not a URL.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "the redirect_uri {value:?} is not a URL ({reason}); leave it empty for a mobile app's \
     serverAuthCode, use postmessage for a web popup's code, or give the redirect URL of a web \
     server flow exactly as the authorization request had it"
)]
pub struct RedirectChoiceError {
    value: String,
    reason: String,
}

/// What a token endpoint returned. Debug is safe (every secret is redacted); there is no
/// Serialize, so a token cannot reach JSON by accident.
#[derive(Debug)]
pub struct TokenSet {
    pub access_token: AccessToken,
    pub refresh_token: Option<RefreshToken>,
    pub id_token: Option<IdTokenRaw>,
    pub expires_in: Option<Duration>,
    /// As granted, which may differ in form and order from what was asked.
    pub scopes: Vec<String>,
    /// Always `Bearer` (anything else is refused).
    pub token_type: String,
    /// Set when a code exchange returned no refresh token: why, and what to do. Not an error.
    pub refresh_token_absent: Option<Explanation>,
}
