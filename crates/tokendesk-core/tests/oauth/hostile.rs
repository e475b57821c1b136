//! Servers that are not Google: oversized, endless, redirecting and malformed answers must end
//! in typed errors that carry nothing of the body.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use tokendesk_core::oauth::{
    HttpClient, OAuthClient, OAuthError, Operation, RedirectChoice, exchange_code, refresh,
    tokeninfo,
};
use tokendesk_core::provider::Endpoints;
use tokendesk_core::secret::{AccessToken, AuthCode, ClientSecret, RefreshToken};

use crate::{assert_clean, fast_config};

const CANARY_TOKEN: &str = concat!("ya29.", "CANARY-access-token-from-a-hostile-server");
const CANARY_REFRESH: &str = concat!("1//0", "CANARY-refresh-token-from-a-hostile-server");
const CODE: &str = "4/0AeaYSHcanary-code-for-hostile-servers";
const SECRET: &str = concat!("GOCSPX-", "canary-secret-for-hostile-servers");

static CHUNK: [u8; 8192] = [b'a'; 8192];

fn json(status: StatusCode, body: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_owned(),
    )
        .into_response()
}

/// A loopback server answering `/token` (and `/tokeninfo`) the way `answer` says; counts
/// requests to `/elsewhere`, where its redirect points.
struct Hostile {
    endpoints: Endpoints,
    elsewhere_hits: Arc<AtomicUsize>,
}

async fn hostile(answer: fn() -> Response) -> Hostile {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let router = Router::new()
        .route("/token", post(move || async move { answer() }))
        .route("/tokeninfo", post(move || async move { answer() }))
        .route(
            "/elsewhere",
            any(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                async {
                    json(
                        StatusCode::OK,
                        r#"{"access_token":"x","token_type":"Bearer"}"#,
                    )
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    let mut endpoints = Endpoints::google();
    endpoints.token = format!("http://{addr}/token").parse().unwrap();
    endpoints.tokeninfo = format!("http://{addr}/tokeninfo").parse().unwrap();
    Hostile {
        endpoints,
        elsewhere_hits: hits,
    }
}

fn client(endpoints: &Endpoints) -> OAuthClient {
    OAuthClient::new(
        HttpClient::new(fast_config()).unwrap(),
        endpoints.clone(),
        "web.apps.googleusercontent.com",
        ClientSecret::new(SECRET),
    )
}

async fn exchange_against(answer: fn() -> Response) -> OAuthError {
    let server = hostile(answer).await;
    let err = exchange_code(
        &client(&server.endpoints),
        AuthCode::new(CODE),
        RedirectChoice::Empty,
    )
    .await
    .unwrap_err();
    assert_clean(
        &err,
        &[CANARY_TOKEN, CANARY_REFRESH, CODE, SECRET, "CANARY"],
    );
    err
}

#[tokio::test]
async fn a_one_mebibyte_response_aborts_at_the_cap() {
    let err = exchange_against(|| {
        let body = format!("{{\"access_token\":\"{}\"}}", "a".repeat(1024 * 1024));
        json(StatusCode::OK, &body)
    })
    .await;
    assert!(
        matches!(
            err,
            OAuthError::BodyTooLarge {
                limit: 65_536,
                operation: Operation::Exchange
            }
        ),
        "{err}"
    );
    assert_eq!(err.code(), "body_too_large");
}

#[tokio::test]
async fn an_endless_body_is_cut_at_the_cap_without_waiting_for_its_end() {
    let started = Instant::now();
    let err = exchange_against(|| {
        let stream =
            futures_util::stream::repeat_with(|| Ok::<_, Infallible>(Bytes::from_static(&CHUNK)));
        (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            Body::from_stream(stream),
        )
            .into_response()
    })
    .await;
    assert!(matches!(err, OAuthError::BodyTooLarge { .. }), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn tokeninfo_responses_are_capped_too() {
    let server = hostile(|| json(StatusCode::OK, &"9".repeat(200_000))).await;
    let http = HttpClient::new(fast_config()).unwrap();
    let err = tokeninfo(&http, &server.endpoints, &AccessToken::new(CANARY_TOKEN))
        .await
        .unwrap_err();
    assert!(matches!(err, OAuthError::BodyTooLarge { .. }), "{err}");
}

#[tokio::test]
async fn a_redirect_from_the_token_endpoint_is_not_followed() {
    let server =
        hostile(|| (StatusCode::FOUND, [(header::LOCATION, "/elsewhere")], "").into_response())
            .await;
    let err = exchange_code(
        &client(&server.endpoints),
        AuthCode::new(CODE),
        RedirectChoice::Empty,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, OAuthError::Redirected { status: 302, .. }),
        "{err}"
    );
    assert_eq!(
        server.elapsed_hits(),
        0,
        "the redirect target must never be requested (SSRF)"
    );
}

impl Hostile {
    fn elapsed_hits(&self) -> usize {
        self.elsewhere_hits.load(Ordering::SeqCst)
    }
}

#[tokio::test]
async fn a_200_without_access_token_is_a_missing_field_without_the_body() {
    let err = exchange_against(|| {
        json(
            StatusCode::OK,
            &format!(r#"{{"token_type":"Bearer","refresh_token":"{CANARY_REFRESH}"}}"#),
        )
    })
    .await;
    assert!(
        matches!(
            err,
            OAuthError::MissingField {
                field: "access_token",
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn a_200_without_token_type_is_a_missing_field() {
    let err = exchange_against(|| {
        json(
            StatusCode::OK,
            &format!(r#"{{"access_token":"{CANARY_TOKEN}"}}"#),
        )
    })
    .await;
    assert!(
        matches!(
            err,
            OAuthError::MissingField {
                field: "token_type",
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn expires_in_as_a_string_is_a_typed_error() {
    let err = exchange_against(|| {
        json(
            StatusCode::OK,
            &format!(
                r#"{{"access_token":"{CANARY_TOKEN}","token_type":"Bearer","expires_in":"3600","refresh_token":"{CANARY_REFRESH}"}}"#
            ),
        )
    })
    .await;
    assert!(
        matches!(
            err,
            OAuthError::WrongFieldType {
                field: "expires_in",
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains("sign in again"),
        "an exchange hint: {err}"
    );
}

#[tokio::test]
async fn an_html_page_is_not_json_and_is_not_repeated() {
    let err = exchange_against(|| {
        (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/html")],
            format!("<html><body>{CANARY_TOKEN}</body></html>"),
        )
            .into_response()
    })
    .await;
    assert!(
        matches!(err, OAuthError::NotJson { status: 200, .. }),
        "{err}"
    );
}

#[tokio::test]
async fn a_json_content_type_with_a_broken_body_is_not_json() {
    let err = exchange_against(|| {
        json(
            StatusCode::OK,
            &format!("{{\"access_token\":\"{CANARY_TOKEN}\""),
        )
    })
    .await;
    assert!(matches!(err, OAuthError::NotJson { .. }), "{err}");
}

#[tokio::test]
async fn an_empty_200_is_not_json() {
    let err = exchange_against(|| json(StatusCode::OK, "")).await;
    assert!(matches!(err, OAuthError::NotJson { .. }), "{err}");
}

#[tokio::test]
async fn a_non_bearer_token_type_is_refused() {
    let err = exchange_against(|| {
        json(
            StatusCode::OK,
            &format!(r#"{{"access_token":"{CANARY_TOKEN}","token_type":"mac"}}"#),
        )
    })
    .await;
    assert!(
        matches!(err, OAuthError::UnsupportedTokenType { .. }),
        "{err}"
    );
}

#[tokio::test]
async fn an_html_503_on_refresh_is_retried_then_unavailable() {
    let server = hostile(|| {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "text/html")],
            "<html>down</html>",
        )
            .into_response()
    })
    .await;
    let timer = Arc::new(tokendesk_core::oauth::RecordingTimer::new());
    let client = OAuthClient::new(
        HttpClient::new(fast_config())
            .unwrap()
            .with_timer(timer.clone()),
        server.endpoints.clone(),
        "web.apps.googleusercontent.com",
        ClientSecret::new(SECRET),
    );
    let err = refresh(&client, &RefreshToken::new(CANARY_REFRESH), None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            OAuthError::Unavailable {
                status: 503,
                attempts: 5,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(timer.sleeps().len(), 4);
    assert_clean(&err, &[CANARY_REFRESH, SECRET]);
}

#[tokio::test]
async fn a_description_echoing_the_token_is_scrubbed() {
    let server = hostile(|| {
        json(
            StatusCode::BAD_REQUEST,
            &format!(
                r#"{{"error":"invalid_grant","error_description":"token {CANARY_REFRESH} is bad"}}"#
            ),
        )
    })
    .await;
    let err = refresh(
        &client(&server.endpoints),
        &RefreshToken::new(CANARY_REFRESH),
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "invalid_grant");
    assert_clean(&err, &[CANARY_REFRESH]);
    assert!(err.to_string().contains("[redacted]"), "{err}");
}
