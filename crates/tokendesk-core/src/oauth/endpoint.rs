//! One attempt at a Google OAuth endpoint and the sorting of its failures, shared by the code
//! exchange, refresh, revocation and tokeninfo, plus the token response as a [`TokenSet`].

use std::fmt;
use std::time::Duration;

use http::header;
use oauth2::basic::{
    BasicRevocationErrorResponse, BasicTokenIntrospectionResponse, BasicTokenType,
};
use oauth2::{
    EndpointNotSet, EndpointSet, RequestTokenError, StandardRevocableToken, TokenResponse,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use zeroize::Zeroize;

use super::error::{OAuthError, Operation, UnknownCause};
use super::http::{HttpClient, HttpError, ResponseMeta, header_str, retry_after};
use super::retry::Verdict;
use super::{OAuthClient, TokenSet};
use crate::secret::{AccessToken, IdTokenRaw, RefreshToken};

/// Google's extra token-response field: the ID token.
#[derive(Deserialize, Serialize)]
pub(crate) struct GoogleTokenFields {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
}

impl fmt::Debug for GoogleTokenFields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("GoogleTokenFields([redacted])")
    }
}

impl oauth2::ExtraTokenFields for GoogleTokenFields {}

pub(crate) type GoogleTokenResponse =
    oauth2::StandardTokenResponse<GoogleTokenFields, BasicTokenType>;

/// `{"error", "error_description"}`, kept as strings: Google uses codes beyond RFC 6749's.
#[derive(Debug, Deserialize, Serialize)]
pub(crate) struct GoogleErrorResponse {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

impl fmt::Display for GoogleErrorResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Only the code: the description is server text, cleaned before anyone shows it.
        f.write_str(&self.error)
    }
}

impl oauth2::ErrorResponse for GoogleErrorResponse {}

pub(crate) type GoogleOAuth2 = oauth2::Client<
    GoogleErrorResponse,
    GoogleTokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// The `oauth2` client for one of our clients. The secret goes in the form body
/// (client_secret_post), as Google's own libraries send it.
pub(crate) fn oauth2_client(client: &OAuthClient) -> GoogleOAuth2 {
    oauth2::Client::new(oauth2::ClientId::new(client.client_id.clone()))
        .set_client_secret(oauth2::ClientSecret::new(
            client.client_secret.secret().to_owned(),
        ))
        .set_auth_type(oauth2::AuthType::RequestBody)
        .set_token_uri(oauth2::TokenUrl::from_url(client.endpoints.token.clone()))
}

/// Why one attempt failed, before it is judged for retrying and turned into an [`OAuthError`].
#[derive(Debug)]
pub(crate) enum Failure {
    Http(HttpError),
    /// A non-2xx, non-3xx answer, with Google's error when the body was one.
    Status {
        status: u16,
        retry_after: Option<Duration>,
        content_type: Option<String>,
        error: Option<(String, Option<String>)>,
    },
    Redirected {
        status: u16,
    },
    NotJson {
        status: u16,
        content_type: Option<String>,
    },
    MissingField(&'static str),
    WrongFieldType {
        field: &'static str,
        expected: &'static str,
    },
    Setup(String),
}

/// Sorts what oauth2 returned, using the status the adapter saw (oauth2 drops it). The raw
/// body oauth2 hands back in `Parse` holds tokens: it is inspected here, never kept, and
/// zeroized.
pub(crate) fn sort_oauth2_failure(
    err: RequestTokenError<HttpError, GoogleErrorResponse>,
    meta: Option<ResponseMeta>,
) -> Failure {
    match (err, meta) {
        (RequestTokenError::Request(http), _) => Failure::Http(http),
        (RequestTokenError::ServerResponse(error), meta) => {
            let meta = meta.unwrap_or(ResponseMeta {
                status: 400,
                retry_after: None,
                content_type: None,
            });
            if (300..400).contains(&meta.status) {
                return Failure::Redirected {
                    status: meta.status,
                };
            }
            Failure::Status {
                status: meta.status,
                retry_after: meta.retry_after,
                content_type: meta.content_type,
                error: Some((error.error, error.error_description)),
            }
        }
        (RequestTokenError::Parse(_, mut body), Some(meta)) => {
            let failure = if meta.status == 200 {
                inspect_token_body(&body, meta.content_type)
            } else {
                non_success(meta)
            };
            body.zeroize();
            failure
        }
        (RequestTokenError::Parse(_, mut body), None) => {
            body.zeroize();
            Failure::NotJson {
                status: 0,
                content_type: None,
            }
        }
        // oauth2's own checks: a non-JSON Content-Type or an empty body.
        (RequestTokenError::Other(_), Some(meta)) if meta.status == 200 => Failure::NotJson {
            status: 200,
            content_type: meta.content_type,
        },
        (RequestTokenError::Other(_), Some(meta)) => non_success(meta),
        // No response at all: the request could not even be prepared. oauth2's text names
        // only an http::Error, no parameter values.
        (RequestTokenError::Other(detail), None) => Failure::Setup(detail),
    }
}

fn non_success(meta: ResponseMeta) -> Failure {
    if (300..400).contains(&meta.status) {
        Failure::Redirected {
            status: meta.status,
        }
    } else {
        Failure::Status {
            status: meta.status,
            retry_after: meta.retry_after,
            content_type: meta.content_type,
            error: None,
        }
    }
}

/// Names what is wrong with a 200 body oauth2 could not parse (SECURITY A.26/A.27).
fn inspect_token_body(body: &[u8], content_type: Option<String>) -> Failure {
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
        return Failure::NotJson {
            status: 200,
            content_type,
        };
    };
    for field in ["access_token", "token_type"] {
        match map.get(field) {
            None | Some(Value::Null) => return Failure::MissingField(field),
            Some(Value::String(_)) => {}
            Some(_) => {
                return Failure::WrongFieldType {
                    field,
                    expected: "a string",
                };
            }
        }
    }
    if let Some(v) = map.get("expires_in")
        && !v.is_null()
        && !v.is_u64()
    {
        return Failure::WrongFieldType {
            field: "expires_in",
            expected: "a number of seconds",
        };
    }
    for field in ["refresh_token", "id_token", "scope"] {
        if let Some(v) = map.get(field)
            && !v.is_null()
            && !v.is_string()
        {
            return Failure::WrongFieldType {
                field,
                expected: "a string",
            };
        }
    }
    Failure::WrongFieldType {
        field: "token response",
        expected: "a valid token response",
    }
}

/// A code exchange is not idempotent: resend only when nothing reached Google (a refused
/// connection) or Google said it did not process it (429).
pub(crate) fn exchange_verdict(failure: &Failure) -> Verdict {
    match failure {
        Failure::Http(HttpError::Connect { .. }) => Verdict::Retry { retry_after: None },
        Failure::Status {
            status: 429,
            retry_after,
            ..
        } => Verdict::Retry {
            retry_after: *retry_after,
        },
        _ => Verdict::Stop,
    }
}

/// Refresh, revocation, tokeninfo and Drive reads may be resent after any transient failure;
/// 4xx answers (invalid_grant above all) are final.
pub(crate) fn idempotent_verdict(failure: &Failure) -> Verdict {
    match failure {
        Failure::Http(
            HttpError::Connect { .. }
            | HttpError::Timeout { .. }
            | HttpError::ConnectionLost { .. },
        ) => Verdict::Retry { retry_after: None },
        Failure::Status {
            status,
            retry_after,
            ..
        } if *status == 429 || *status >= 500 => Verdict::Retry {
            retry_after: *retry_after,
        },
        _ => Verdict::Stop,
    }
}

/// The final error of an operation. `secrets` are scrubbed from server text.
pub(crate) fn into_error(
    failure: Failure,
    operation: Operation,
    attempts: u32,
    secrets: &[&str],
) -> OAuthError {
    let exchange = operation == Operation::Exchange;
    match failure {
        Failure::Http(HttpError::Connect { detail, .. }) => OAuthError::Transport {
            operation,
            detail: format!("could not connect: {detail}"),
            attempts,
        },
        Failure::Http(HttpError::Timeout { .. }) if exchange => OAuthError::OutcomeUnknown {
            cause: UnknownCause::Timeout,
        },
        Failure::Http(HttpError::Timeout { after, .. }) => OAuthError::Timeout {
            operation,
            after,
            attempts,
        },
        Failure::Http(HttpError::ConnectionLost { .. }) if exchange => OAuthError::OutcomeUnknown {
            cause: UnknownCause::ConnectionLost,
        },
        Failure::Http(HttpError::ConnectionLost { detail, .. }) => OAuthError::Transport {
            operation,
            detail: format!("the connection broke: {detail}"),
            attempts,
        },
        Failure::Http(HttpError::BodyTooLarge { limit, .. }) => {
            OAuthError::BodyTooLarge { operation, limit }
        }
        Failure::Http(HttpError::InvalidRequest(detail) | HttpError::Setup(detail))
        | Failure::Setup(detail) => OAuthError::Setup { detail },
        Failure::Status {
            status: 429,
            retry_after,
            ..
        } => OAuthError::RateLimited {
            operation,
            attempts,
            retry_after,
        },
        Failure::Status { status, .. } if status >= 500 && exchange => OAuthError::OutcomeUnknown {
            cause: UnknownCause::ServerError(status),
        },
        Failure::Status { status, .. } if status >= 500 => OAuthError::Unavailable {
            operation,
            status,
            attempts,
        },
        Failure::Status {
            status,
            error: Some((error, description)),
            ..
        } => OAuthError::server(operation, status, &error, description.as_deref(), secrets),
        Failure::Status {
            status,
            content_type,
            error: None,
            ..
        }
        | Failure::NotJson {
            status,
            content_type,
        } => OAuthError::NotJson {
            operation,
            status,
            content_type,
        },
        Failure::Redirected { status } => OAuthError::Redirected { operation, status },
        Failure::MissingField(field) => OAuthError::MissingField { operation, field },
        Failure::WrongFieldType { field, expected } => OAuthError::WrongFieldType {
            operation,
            field,
            expected,
        },
    }
}

/// Turns oauth2's response into ours, checking what oauth2 leaves open.
pub(crate) fn token_set(
    response: GoogleTokenResponse,
    operation: Operation,
) -> Result<TokenSet, OAuthError> {
    if *response.token_type() != BasicTokenType::Bearer {
        let token_type: String = response
            .token_type()
            .as_ref()
            .chars()
            .filter(char::is_ascii_graphic)
            .take(32)
            .collect();
        return Err(OAuthError::UnsupportedTokenType {
            operation,
            token_type,
        });
    }
    if response.access_token().secret().is_empty() {
        return Err(OAuthError::MissingField {
            operation,
            field: "access_token",
        });
    }
    let scopes = response
        .scopes()
        .map(|scopes| {
            scopes
                .iter()
                .map(|s| s.as_str().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    Ok(TokenSet {
        access_token: AccessToken::new(response.access_token().secret().as_str()),
        refresh_token: response
            .refresh_token()
            .map(|rt| RefreshToken::new(rt.secret().as_str())),
        id_token: response
            .extra_fields()
            .id_token
            .as_deref()
            .map(IdTokenRaw::new),
        expires_in: response.expires_in(),
        scopes,
        token_type: "Bearer".to_owned(),
        refresh_token_absent: None,
    })
}

/// POSTs a form (revocation, tokeninfo) once. A 200 is returned; anything else is a
/// [`Failure`], with Google's error parsed when the body is one.
pub(crate) async fn post_form(
    http: &HttpClient,
    url: &url::Url,
    params: &[(&str, &str)],
    timeout: Duration,
) -> Result<Vec<u8>, Failure> {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish()
        .into_bytes();
    let request = http::Request::builder()
        .method(http::Method::POST)
        .uri(url.as_str())
        .header(header::ACCEPT, "application/json")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body)
        .map_err(|err| Failure::Setup(err.to_string()))?;
    let response = http
        .send(request, http.config().oauth_body_limit, timeout)
        .await
        .map_err(Failure::Http)?;
    let status = response.status().as_u16();
    let meta = ResponseMeta {
        status,
        retry_after: retry_after(response.headers(), http.timer()),
        content_type: header_str(response.headers(), &header::CONTENT_TYPE),
    };
    if status == 200 {
        return Ok(response.into_body());
    }
    let error = serde_json::from_slice::<GoogleErrorResponse>(response.body()).ok();
    match error {
        Some(error) if !(300..400).contains(&status) => Err(Failure::Status {
            status,
            retry_after: meta.retry_after,
            content_type: meta.content_type,
            error: Some((error.error, error.error_description)),
        }),
        _ => Err(non_success(meta)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn inspect(value: Value) -> Failure {
        inspect_token_body(value.to_string().as_bytes(), None)
    }

    #[test]
    fn oauth_token_body_without_access_token_is_a_missing_field() {
        let failure = inspect(json!({"token_type": "Bearer", "refresh_token": "1//x"}));
        assert!(
            matches!(failure, Failure::MissingField("access_token")),
            "{failure:?}"
        );
    }

    #[test]
    fn oauth_token_body_without_token_type_is_a_missing_field() {
        let failure = inspect(json!({"access_token": "ya29.x"}));
        assert!(
            matches!(failure, Failure::MissingField("token_type")),
            "{failure:?}"
        );
    }

    #[test]
    fn oauth_expires_in_as_a_string_is_a_wrong_type() {
        let failure =
            inspect(json!({"access_token": "a", "token_type": "Bearer", "expires_in": "3600"}));
        assert!(
            matches!(
                failure,
                Failure::WrongFieldType {
                    field: "expires_in",
                    ..
                }
            ),
            "{failure:?}"
        );
    }

    #[test]
    fn oauth_html_body_is_not_json() {
        let failure = inspect_token_body(b"<html><body>hi</body></html>", Some("text/html".into()));
        assert!(
            matches!(failure, Failure::NotJson { status: 200, .. }),
            "{failure:?}"
        );
    }

    #[test]
    fn oauth_exchange_is_resent_only_when_nothing_was_processed() {
        let connect = Failure::Http(HttpError::Connect {
            host: "h".into(),
            detail: "refused".into(),
        });
        assert_eq!(
            exchange_verdict(&connect),
            Verdict::Retry { retry_after: None }
        );
        let timeout = Failure::Http(HttpError::Timeout {
            host: "h".into(),
            after: Duration::from_secs(1),
        });
        assert_eq!(exchange_verdict(&timeout), Verdict::Stop);
        let unavailable = Failure::Status {
            status: 503,
            retry_after: None,
            content_type: None,
            error: None,
        };
        assert_eq!(exchange_verdict(&unavailable), Verdict::Stop);
        assert_eq!(
            idempotent_verdict(&unavailable),
            Verdict::Retry { retry_after: None }
        );
        let invalid_grant = Failure::Status {
            status: 400,
            retry_after: None,
            content_type: None,
            error: Some(("invalid_grant".into(), None)),
        };
        assert_eq!(idempotent_verdict(&invalid_grant), Verdict::Stop);
    }
}
