//! Google's tokeninfo for the inspector: what an access token grants, with Google's
//! string-typed fields (`"exp": "1700000000"`, `"email_verified": "true"`) parsed.

use serde::Serialize;
use serde_json::{Map, Value};

use super::endpoint::{Failure, idempotent_verdict, into_error, post_form};
use super::error::{OAuthError, Operation};
use super::http::HttpClient;
use super::retry::{self, GaveUp};
use crate::provider::Endpoints;
use crate::secret::AccessToken;

/// What tokeninfo says about an access token.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenInfo {
    /// The client the token was issued to (the web client for a serverAuthCode).
    pub aud: Option<String>,
    /// The client the user signed in with (the iOS/Android client).
    pub azp: Option<String>,
    pub sub: Option<String>,
    pub email: Option<String>,
    pub email_verified: Option<bool>,
    pub scopes: Vec<String>,
    /// Expiry, Unix seconds.
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub exp: Option<i64>,
    /// Seconds left when Google answered.
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub expires_in: Option<u64>,
    /// `offline` when the grant has a refresh token, `online` otherwise.
    pub access_type: Option<String>,
}

/// Asks the provider's tokeninfo endpoint about `token`. The token goes in a POST body, not
/// the URL, so it stays out of proxy and server logs.
pub async fn tokeninfo(
    http: &HttpClient,
    endpoints: &Endpoints,
    token: &AccessToken,
) -> Result<TokenInfo, OAuthError> {
    let secret = token.secret();
    let params = [("access_token", secret)];
    let result = retry::run(
        &http.config().retry,
        http.timer(),
        http.config().timeout,
        |attempt| post_form(http, &endpoints.tokeninfo, &params, attempt.timeout),
        idempotent_verdict,
    )
    .await;
    match result {
        Ok(body) => {
            parse(&body).map_err(|failure| into_error(failure, Operation::TokenInfo, 1, &[secret]))
        }
        Err(GaveUp { error, attempts }) => {
            Err(into_error(error, Operation::TokenInfo, attempts, &[secret]))
        }
    }
}

fn parse(body: &[u8]) -> Result<TokenInfo, Failure> {
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
        return Err(Failure::NotJson {
            status: 200,
            content_type: None,
        });
    };
    Ok(TokenInfo {
        aud: text(&map, "aud")?,
        azp: text(&map, "azp")?,
        sub: text(&map, "sub")?,
        email: text(&map, "email")?,
        email_verified: boolean(&map, "email_verified")?,
        scopes: text(&map, "scope")?
            .map(|s| s.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default(),
        exp: number(&map, "exp")?,
        expires_in: number(&map, "expires_in")?.map(|n: i64| u64::try_from(n).unwrap_or(0)),
        access_type: text(&map, "access_type")?,
    })
}

fn text(map: &Map<String, Value>, field: &'static str) -> Result<Option<String>, Failure> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(Failure::WrongFieldType {
            field,
            expected: "a string",
        }),
    }
}

/// Google sends numbers as strings here; plain JSON numbers are accepted too.
fn number(map: &Map<String, Value>, field: &'static str) -> Result<Option<i64>, Failure> {
    let wrong = || Failure::WrongFieldType {
        field,
        expected: "a whole number (as a string)",
    };
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| wrong()),
        Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(wrong),
        Some(_) => Err(wrong()),
    }
}

fn boolean(map: &Map<String, Value>, field: &'static str) -> Result<Option<bool>, Failure> {
    let wrong = || Failure::WrongFieldType {
        field,
        expected: "\"true\" or \"false\"",
    };
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(_) => Err(wrong()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn oauth_tokeninfo_parses_googles_string_fields() {
        let body = json!({
            "azp": "ios.apps", "aud": "web.apps", "sub": "1234",
            "scope": "openid https://www.googleapis.com/auth/drive.appdata",
            "exp": "1700003600", "expires_in": "3599",
            "email": "a@example.com", "email_verified": "true", "access_type": "offline"
        });
        let info = parse(body.to_string().as_bytes()).unwrap();
        assert_eq!(info.exp, Some(1_700_003_600));
        assert_eq!(info.expires_in, Some(3599));
        assert_eq!(info.email_verified, Some(true));
        assert_eq!(info.scopes.len(), 2);
        assert_eq!(info.access_type.as_deref(), Some("offline"));
    }

    #[test]
    fn oauth_tokeninfo_rejects_a_non_numeric_exp() {
        let body = json!({"exp": "soon"});
        let failure = parse(body.to_string().as_bytes()).unwrap_err();
        assert!(matches!(
            failure,
            Failure::WrongFieldType { field: "exp", .. }
        ));
    }
}
