//! The canary test: every kind of OAuthError the emulator can provoke, checked against every
//! secret that was in play (codes, access and refresh tokens, the client secret).

use std::time::Duration;

use google_emulator::{Endpoint, Fault};
use tokendesk_core::oauth::{
    HttpConfig, OAuthClient, OAuthError, RedirectChoice, RetryPolicy, RevokeOutcome, exchange_code,
    refresh, revoke, tokeninfo,
};
use tokendesk_core::secret::{AccessToken, AuthCode, ClientSecret};

use crate::{Google, fast_config};

#[tokio::test]
async fn no_error_carries_a_token_code_or_client_secret() {
    let google = Google::with_config(HttpConfig {
        timeout: Duration::from_millis(300),
        retry: RetryPolicy {
            deadline: Duration::from_secs(5),
            ..fast_config().retry
        },
        ..fast_config()
    })
    .await;
    let mut secrets: Vec<String> = vec![google.client_secret()];
    let mut errors: Vec<OAuthError> = Vec::new();

    // A used code.
    let code = google.mint("canary1@example.com");
    secrets.push(code.clone());
    let tokens = exchange_code(
        &google.client,
        AuthCode::new(code.clone()),
        RedirectChoice::Empty,
    )
    .await
    .unwrap();
    secrets.push(tokens.access_token.secret().to_owned());
    secrets.push(tokens.id_token.as_ref().unwrap().secret().to_owned());
    let rt = tokens.refresh_token.unwrap();
    secrets.push(rt.secret().to_owned());
    errors.push(
        exchange_code(
            &google.client,
            AuthCode::new(code.clone()),
            RedirectChoice::Empty,
        )
        .await
        .unwrap_err(),
    );

    // An encoded code, a redirect_uri mismatch, a wrong client secret.
    let code = google.mint("canary2@example.com");
    secrets.push(code.clone());
    errors.push(
        exchange_code(
            &google.client,
            AuthCode::new(code.replace('/', "%2F")),
            RedirectChoice::Empty,
        )
        .await
        .unwrap_err(),
    );
    errors.push(
        exchange_code(
            &google.client,
            AuthCode::new(code.clone()),
            RedirectChoice::PostMessage,
        )
        .await
        .unwrap_err(),
    );
    let wrong_secret = concat!("GOCSPX-", "canary-wrong-secret-value");
    secrets.push(wrong_secret.to_owned());
    let wrong = OAuthClient::new(
        google.http.clone(),
        google.endpoints.clone(),
        google.emulator.web_client().client_id.clone(),
        ClientSecret::new(wrong_secret),
    );
    let code = google.mint("canary3@example.com");
    secrets.push(code.clone());
    errors.push(
        exchange_code(&wrong, AuthCode::new(code), RedirectChoice::Empty)
            .await
            .unwrap_err(),
    );

    // Exchanges whose outcome is unknown.
    for fault in [
        Fault::new(Endpoint::Token).drop_connection(),
        Fault::new(Endpoint::Token).status(500),
        Fault::new(Endpoint::Token).latency(Duration::from_secs(2)),
    ] {
        let code = google.mint("canary4@example.com");
        secrets.push(code.clone());
        google.emulator.inject(fault);
        errors.push(
            exchange_code(&google.client, AuthCode::new(code), RedirectChoice::Empty)
                .await
                .unwrap_err(),
        );
    }

    // Refresh: rate limited, unavailable, timed out, then revoked.
    google
        .emulator
        .inject(Fault::new(Endpoint::Token).status(429).times(5));
    errors.push(refresh(&google.client, &rt, None).await.unwrap_err());
    google
        .emulator
        .inject(Fault::new(Endpoint::Token).status(503).times(5));
    errors.push(refresh(&google.client, &rt, None).await.unwrap_err());
    google.emulator.inject(
        Fault::new(Endpoint::Token)
            .latency(Duration::from_secs(2))
            .times(5),
    );
    errors.push(refresh(&google.client, &rt, None).await.unwrap_err());
    google
        .emulator
        .inject(Fault::new(Endpoint::Revoke).status(503).times(5));
    match revoke(&google.http, &google.endpoints, (&rt).into())
        .await
        .unwrap()
    {
        RevokeOutcome::Pending { last_error, .. } => errors.push(*last_error),
        other => panic!("expected pending, got {other:?}"),
    }
    google.user_removes_access("canary1@example.com").await;
    errors.push(refresh(&google.client, &rt, None).await.unwrap_err());
    errors.push(
        tokeninfo(
            &google.http,
            &google.endpoints,
            &AccessToken::new(tokens.access_token.secret()),
        )
        .await
        .unwrap_err(),
    );

    let codes: Vec<&str> = errors.iter().map(OAuthError::code).collect();
    for expected in [
        "invalid_grant",
        "double_encoded_code",
        "redirect_uri_mismatch",
        "invalid_client",
        "outcome_unknown",
        "rate_limited",
        "unavailable",
        "timeout",
        "invalid_token",
    ] {
        assert!(
            codes.contains(&expected),
            "{expected} not provoked: {codes:?}"
        );
    }
    for err in &errors {
        let secret_refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
        crate::assert_clean(err, &secret_refs);
    }
}
