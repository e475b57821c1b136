//! Code exchange: redirect_uri choices, Google's refusals explained, codes never resent.

use std::time::Duration;

use google_emulator::{Endpoint, Fault, MintCode};
use tokendesk_core::oauth::{
    GoogleErrorCode, OAuthClient, OAuthError, Operation, RawBody, RawLog, RedirectChoice,
    UnknownCause, exchange_code,
};
use tokendesk_core::secret::{AuthCode, ClientSecret};

use crate::{Google, assert_clean, fast_config, mint_for};

#[tokio::test]
async fn exchange_with_empty_redirect_uri_returns_all_three_tokens() {
    let google = Google::start().await;
    let code = google.mint("ada@example.com");
    let tokens = exchange_code(&google.client, AuthCode::new(code), RedirectChoice::Empty)
        .await
        .unwrap();
    assert!(tokens.access_token.secret().starts_with("ya29."));
    assert!(
        tokens.refresh_token.is_some(),
        "first consent gives a refresh token"
    );
    assert!(tokens.id_token.is_some(), "openid was granted");
    assert_eq!(tokens.token_type, "Bearer");
    assert!(
        tokens
            .expires_in
            .is_some_and(|d| d <= Duration::from_secs(3600))
    );
    assert!(
        tokens
            .scopes
            .iter()
            .any(|s| s == "https://www.googleapis.com/auth/drive.appdata"),
        "{:?}",
        tokens.scopes
    );
    assert!(tokens.refresh_token_absent.is_none());
}

#[tokio::test]
async fn exchange_with_absent_redirect_uri_is_accepted_for_server_auth_codes() {
    let google = Google::start().await;
    let code = google.mint("absent@example.com");
    let tokens = exchange_code(&google.client, AuthCode::new(code), RedirectChoice::Absent)
        .await
        .unwrap();
    assert!(tokens.refresh_token.is_some());
}

#[tokio::test]
async fn postmessage_is_refused_for_a_mobile_code_with_an_explanation() {
    let google = Google::start().await;
    let code = google.mint("pm@example.com");
    let err = exchange_code(
        &google.client,
        AuthCode::new(code.clone()),
        RedirectChoice::PostMessage,
    )
    .await
    .unwrap_err();
    match &err {
        OAuthError::Server {
            code: GoogleErrorCode::RedirectUriMismatch,
            operation: Operation::Exchange,
            explanation,
            ..
        } => {
            let causes = explanation.likely_causes.join(" ");
            assert!(causes.contains("empty redirect_uri"), "{causes}");
        }
        other => panic!("expected redirect_uri_mismatch, got {other}"),
    }
    assert_eq!(err.code(), "redirect_uri_mismatch");
    assert_clean(&err, &[&code, &google.client_secret()]);
}

#[tokio::test]
async fn postmessage_is_accepted_when_the_code_allows_it() {
    let google = Google::start().await;
    let code = google.mint_raw(MintCode {
        allow_postmessage: true,
        ..mint_for("popup@example.com")
    });
    let tokens = exchange_code(
        &google.client,
        AuthCode::new(code),
        RedirectChoice::PostMessage,
    )
    .await
    .unwrap();
    assert!(tokens.access_token.secret().starts_with("ya29."));
}

#[tokio::test]
async fn used_code_is_refused_as_invalid_grant_and_explained() {
    let google = Google::start().await;
    let code = google.mint("twice@example.com");
    exchange_code(
        &google.client,
        AuthCode::new(code.clone()),
        RedirectChoice::Empty,
    )
    .await
    .unwrap();
    let err = exchange_code(
        &google.client,
        AuthCode::new(code.clone()),
        RedirectChoice::Empty,
    )
    .await
    .unwrap_err();
    let OAuthError::Server {
        code: GoogleErrorCode::InvalidGrant,
        status: 400,
        description,
        explanation,
        ..
    } = &err
    else {
        panic!("expected invalid_grant, got {err}");
    };
    assert_eq!(description.as_deref(), Some("Bad Request"));
    let causes = explanation.likely_causes.join(" ");
    for needle in [
        "already used",
        "10 minutes",
        "different client",
        "redirect_uri",
    ] {
        assert!(causes.contains(needle), "missing {needle:?}: {causes}");
    }
    assert_eq!(
        google.emulator.request_count(Endpoint::Token),
        2,
        "invalid_grant is never retried"
    );
    assert_clean(&err, &[&code, &google.client_secret()]);
}

#[tokio::test]
async fn double_encoded_code_is_refused_before_any_request_is_sent() {
    let google = Google::start().await;
    let code = google.mint("encoded@example.com");
    assert!(
        code.contains('/'),
        "Google-shaped codes have a slash: {}",
        code.len()
    );
    let encoded = code.replace('/', "%2F");
    let err = exchange_code(
        &google.client,
        AuthCode::new(encoded.clone()),
        RedirectChoice::Empty,
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "double_encoded_code");
    assert_eq!(
        google.emulator.request_count(Endpoint::Token),
        0,
        "nothing may be sent for an encoded code"
    );
    assert!(err.to_string().contains("%2F"), "{err}");
    assert_clean(&err, &[&code, &encoded]);

    // The offered decoding is exactly the original code, and it works when a person uses it.
    let decoded = AuthCode::new(err.decoded_code().unwrap().secret());
    assert_eq!(decoded.secret(), code);
    exchange_code(&google.client, decoded, RedirectChoice::Empty)
        .await
        .unwrap();
}

#[tokio::test]
async fn wrong_client_secret_is_invalid_client_explained() {
    let google = Google::start().await;
    let code = google.mint("secret@example.com");
    let wrong = concat!("GOCSPX-", "not-the-right-secret-canary");
    let client = OAuthClient::new(
        google.http.clone(),
        google.endpoints.clone(),
        google.emulator.web_client().client_id.clone(),
        ClientSecret::new(wrong),
    );
    let err = exchange_code(&client, AuthCode::new(code.clone()), RedirectChoice::Empty)
        .await
        .unwrap_err();
    let OAuthError::Server {
        code: GoogleErrorCode::InvalidClient,
        status: 401,
        explanation,
        ..
    } = &err
    else {
        panic!("expected invalid_client, got {err}");
    };
    let text = explanation.likely_causes.join(" ");
    assert!(text.contains("secret is wrong"), "{text}");
    assert!(text.contains("serverClientID"), "{text}");
    assert_clean(&err, &[&code, wrong, &google.client_secret()]);
}

#[tokio::test]
async fn no_refresh_token_for_a_returning_user_is_reported_not_failed() {
    let google = Google::start().await;
    let email = "returning@example.com";
    let first = google.tokens(email).await;
    assert!(first.refresh_token.is_some());
    let code = google.mint_raw(MintCode {
        prompt: Some("none".to_owned()),
        ..mint_for(email)
    });
    let again = exchange_code(&google.client, AuthCode::new(code), RedirectChoice::Empty)
        .await
        .unwrap();
    assert!(again.refresh_token.is_none());
    let why = again
        .refresh_token_absent
        .expect("the missing refresh token is explained");
    assert!(why.summary.contains("already consented"), "{}", why.summary);
    assert!(
        why.likely_causes
            .join(" ")
            .contains("forceCodeForRefreshToken"),
        "{why:?}"
    );
}

#[tokio::test]
async fn dropped_connection_on_exchange_is_outcome_unknown_and_never_resent() {
    let google = Google::start().await;
    let code = google.mint("dropped@example.com");
    google
        .emulator
        .inject(Fault::new(Endpoint::Token).drop_connection().times(5));
    let err = exchange_code(
        &google.client,
        AuthCode::new(code.clone()),
        RedirectChoice::Empty,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            err,
            OAuthError::OutcomeUnknown {
                cause: UnknownCause::ConnectionLost
            }
        ),
        "{err}"
    );
    assert_eq!(err.code(), "outcome_unknown");
    assert!(err.to_string().contains("sign in again"), "{err}");
    assert_eq!(
        google.emulator.request_count(Endpoint::Token),
        1,
        "exactly one POST"
    );
    assert!(
        google.timer.sleeps().is_empty(),
        "no retry was even planned"
    );
    assert_clean(&err, &[&code, &google.client_secret()]);
}

#[tokio::test]
async fn server_error_on_exchange_is_outcome_unknown_and_never_resent() {
    let google = Google::start().await;
    let code = google.mint("fivehundred@example.com");
    google
        .emulator
        .inject(Fault::new(Endpoint::Token).status(503).times(5));
    let err = exchange_code(&google.client, AuthCode::new(code), RedirectChoice::Empty)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            OAuthError::OutcomeUnknown {
                cause: UnknownCause::ServerError(503)
            }
        ),
        "{err}"
    );
    assert_eq!(google.emulator.request_count(Endpoint::Token), 1);
}

#[tokio::test]
async fn timeout_on_exchange_is_outcome_unknown_after_one_request() {
    let google = Google::with_config(tokendesk_core::oauth::HttpConfig {
        timeout: Duration::from_millis(300),
        ..fast_config()
    })
    .await;
    let code = google.mint("slow@example.com");
    google.emulator.inject(
        Fault::new(Endpoint::Token)
            .latency(Duration::from_secs(3))
            .times(5),
    );
    let started = std::time::Instant::now();
    let err = exchange_code(&google.client, AuthCode::new(code), RedirectChoice::Empty)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            OAuthError::OutcomeUnknown {
                cause: UnknownCause::Timeout
            }
        ),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(google.emulator.request_count(Endpoint::Token), 1);
}

#[tokio::test]
async fn rate_limited_exchange_is_resent_after_retry_after() {
    let google = Google::start().await;
    let code = google.mint("busy@example.com");
    google
        .emulator
        .inject(Fault::new(Endpoint::Token).status(429).retry_after(2));
    let tokens = exchange_code(&google.client, AuthCode::new(code), RedirectChoice::Empty)
        .await
        .unwrap();
    assert!(tokens.refresh_token.is_some());
    assert_eq!(
        google.emulator.request_count(Endpoint::Token),
        2,
        "a 429 means Google did not process the code, so one resend is safe"
    );
    assert_eq!(
        google.timer.sleeps(),
        [Duration::from_secs(2)],
        "Retry-After honoured"
    );
}

#[tokio::test]
async fn refused_connection_on_exchange_is_retried_then_reported() {
    // A port nobody listens on: the connection is refused, so nothing was sent.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let google = Google::start().await;
    let mut endpoints = google.endpoints.clone();
    endpoints.token = format!("http://127.0.0.1:{closed}/token").parse().unwrap();
    let client = OAuthClient::new(
        google.http.clone(),
        endpoints,
        google.emulator.web_client().client_id.clone(),
        ClientSecret::new(google.client_secret()),
    );
    let code = google.mint("offline@example.com");
    let err = exchange_code(&client, AuthCode::new(code.clone()), RedirectChoice::Empty)
        .await
        .unwrap_err();
    assert!(
        matches!(err, OAuthError::Transport { attempts: 5, .. }),
        "connect failures are safe to retry: {err}"
    );
    crate::assert_backoff(&google.timer.sleeps());
    assert_eq!(google.timer.sleeps().len(), 4);
    assert_clean(&err, &[&code, &google.client_secret()]);
}

#[tokio::test]
async fn raw_exchange_is_recorded_with_secrets_masked() {
    let google = Google::start().await;
    let log = RawLog::new();
    let code = google.mint("raw@example.com");
    let tokens = log
        .record(exchange_code(
            &google.client,
            AuthCode::new(code.clone()),
            RedirectChoice::Empty,
        ))
        .await
        .unwrap();
    let entries = log.take();
    assert_eq!(entries.len(), 1);
    let raw = &entries[0];
    let text = serde_json::to_string(raw).unwrap();
    let secret = google.client_secret();
    let refresh = tokens.refresh_token.as_ref().unwrap().secret();
    let id_token = tokens.id_token.as_ref().unwrap().secret();
    for s in [
        code.as_str(),
        secret.as_str(),
        tokens.access_token.secret(),
        refresh,
        id_token,
    ] {
        assert!(!text.contains(s), "the raw view leaked a secret: {text}");
    }
    assert_eq!(raw.method, "POST");
    let form = |name: &str| {
        raw.form
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.value.as_str())
    };
    assert_eq!(form("grant_type"), Some("authorization_code"));
    assert_eq!(
        form("redirect_uri"),
        Some(""),
        "the empty redirect_uri is visible"
    );
    assert_eq!(
        form("code"),
        Some(tokendesk_core::secret::MASKED),
        "no character of the code"
    );
    let response = raw.response.as_ref().unwrap();
    assert_eq!(response.status, 200);
    let RawBody::Json { value } = &response.body else {
        panic!("JSON body expected: {:?}", response.body);
    };
    assert_eq!(value["token_type"], "Bearer");
    assert_eq!(value["access_token"], tokendesk_core::secret::MASKED);
}

#[tokio::test]
async fn exchange_future_is_send() {
    fn assert_send<T: Send>(_: &T) {}
    let google = Google::start().await;
    let future = exchange_code(&google.client, AuthCode::new("x"), RedirectChoice::Empty);
    assert_send(&future);
}
