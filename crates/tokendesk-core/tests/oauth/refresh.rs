//! Refresh: retried with backoff on transient failures, never on invalid_grant.

use std::time::{Duration, Instant};

use google_emulator::{Endpoint, Fault};
use tokendesk_core::oauth::{
    GoogleErrorCode, HttpConfig, OAuthError, Operation, RetryPolicy, refresh,
};

use crate::{Google, assert_backoff, assert_clean, fast_config};

#[tokio::test]
async fn refresh_returns_a_new_access_token() {
    let google = Google::start().await;
    let first = google.tokens("fresh@example.com").await;
    let rt = first.refresh_token.unwrap();
    let refreshed = refresh(&google.client, &rt, None).await.unwrap();
    assert_ne!(refreshed.access_token.secret(), first.access_token.secret());
    assert!(
        refreshed.refresh_token.is_none(),
        "Google does not rotate refresh tokens"
    );
    assert!(
        refreshed.refresh_token_absent.is_none(),
        "no notice on refresh"
    );
    assert!(refreshed.expires_in.is_some());
}

#[tokio::test]
async fn refresh_with_a_scope_subset_narrows_the_token() {
    let google = Google::start().await;
    let rt = google
        .tokens("narrow@example.com")
        .await
        .refresh_token
        .unwrap();
    let scopes = vec!["https://www.googleapis.com/auth/drive.appdata".to_owned()];
    let refreshed = refresh(&google.client, &rt, Some(&scopes)).await.unwrap();
    assert_eq!(refreshed.scopes, scopes);
}

#[tokio::test]
async fn refresh_after_the_user_revoked_is_invalid_grant_with_causes_and_one_request() {
    let google = Google::start().await;
    let email = "gone@example.com";
    let rt = google.tokens(email).await.refresh_token.unwrap();
    google.user_removes_access(email).await;
    let before = google.emulator.request_count(Endpoint::Token);
    let err = refresh(&google.client, &rt, None).await.unwrap_err();
    assert_eq!(
        google.emulator.request_count(Endpoint::Token) - before,
        1,
        "invalid_grant is never retried"
    );
    assert!(google.timer.sleeps().is_empty());
    let OAuthError::Server {
        code: GoogleErrorCode::InvalidGrant,
        operation: Operation::Refresh,
        description,
        explanation,
        ..
    } = &err
    else {
        panic!("expected invalid_grant, got {err}");
    };
    assert_eq!(
        description.as_deref(),
        Some("Token has been expired or revoked.")
    );
    let causes = explanation.likely_causes.join(" ");
    for needle in ["removed", "6 months", "7 days", "100", "password"] {
        assert!(causes.contains(needle), "missing {needle:?}: {causes}");
    }
    assert!(err.needs_reconsent());
    assert_clean(&err, &[rt.secret(), &google.client_secret()]);
}

#[tokio::test]
async fn refresh_through_four_503s_succeeds_on_the_fifth_request() {
    let google = Google::start().await;
    let rt = google
        .tokens("flaky@example.com")
        .await
        .refresh_token
        .unwrap();
    let before = google.emulator.request_count(Endpoint::Token);
    google
        .emulator
        .inject(Fault::new(Endpoint::Token).status(503).times(4));
    refresh(&google.client, &rt, None).await.unwrap();
    assert_eq!(google.emulator.request_count(Endpoint::Token) - before, 5);
    let sleeps = google.timer.sleeps();
    assert_eq!(sleeps.len(), 4);
    assert_backoff(&sleeps);
}

#[tokio::test]
async fn refresh_gives_up_after_five_attempts() {
    let google = Google::start().await;
    let rt = google
        .tokens("down@example.com")
        .await
        .refresh_token
        .unwrap();
    let before = google.emulator.request_count(Endpoint::Token);
    google
        .emulator
        .inject(Fault::new(Endpoint::Token).status(503).times(10));
    let err = refresh(&google.client, &rt, None).await.unwrap_err();
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
    assert!(err.is_transient());
    assert_eq!(google.emulator.request_count(Endpoint::Token) - before, 5);
    assert_clean(&err, &[rt.secret(), &google.client_secret()]);
}

#[tokio::test]
async fn refresh_honours_retry_after_on_429() {
    let google = Google::start().await;
    let rt = google
        .tokens("limited@example.com")
        .await
        .refresh_token
        .unwrap();
    google.emulator.inject(
        Fault::new(Endpoint::Token)
            .status(429)
            .retry_after(3)
            .times(2),
    );
    refresh(&google.client, &rt, None).await.unwrap();
    assert_eq!(
        google.timer.sleeps(),
        [Duration::from_secs(3), Duration::from_secs(3)],
        "Retry-After replaces the computed backoff"
    );
}

#[tokio::test]
async fn refresh_stops_when_retry_after_exceeds_the_deadline() {
    let google = Google::with_config(HttpConfig {
        retry: RetryPolicy {
            deadline: Duration::from_secs(10),
            ..fast_config().retry
        },
        ..fast_config()
    })
    .await;
    let rt = google
        .tokens("patient@example.com")
        .await
        .refresh_token
        .unwrap();
    google
        .emulator
        .inject(Fault::new(Endpoint::Token).status(429).retry_after(120));
    let err = refresh(&google.client, &rt, None).await.unwrap_err();
    assert!(
        matches!(
            err,
            OAuthError::RateLimited {
                attempts: 1,
                retry_after: Some(d),
                ..
            } if d == Duration::from_secs(120)
        ),
        "{err}"
    );
    assert!(
        google.timer.sleeps().is_empty(),
        "no sleep past the deadline"
    );
}

#[tokio::test]
async fn dropped_connection_on_refresh_is_retried() {
    let google = Google::start().await;
    let rt = google
        .tokens("reconnect@example.com")
        .await
        .refresh_token
        .unwrap();
    let before = google.emulator.request_count(Endpoint::Token);
    google
        .emulator
        .inject(Fault::new(Endpoint::Token).drop_connection().times(2));
    refresh(&google.client, &rt, None).await.unwrap();
    assert_eq!(
        google.emulator.request_count(Endpoint::Token) - before,
        3,
        "a refresh is idempotent, so a lost answer is asked for again"
    );
}

#[tokio::test]
async fn latency_beyond_the_timeout_ends_in_timeout_within_the_deadline() {
    // Real sleeps here: the deadline is measured on the real clock.
    let config = HttpConfig {
        timeout: Duration::from_millis(300),
        retry: RetryPolicy {
            base: Duration::from_millis(10),
            deadline: Duration::from_secs(1),
            ..RetryPolicy::default()
        },
        ..fast_config()
    };
    let google = Google::with_config(config.clone()).await;
    let rt = google
        .tokens("stalled@example.com")
        .await
        .refresh_token
        .unwrap();
    let client = tokendesk_core::oauth::OAuthClient::new(
        tokendesk_core::oauth::HttpClient::new(config).unwrap(),
        google.endpoints.clone(),
        google.emulator.web_client().client_id.clone(),
        tokendesk_core::secret::ClientSecret::new(google.client_secret()),
    );
    google.emulator.inject(
        Fault::new(Endpoint::Token)
            .latency(Duration::from_secs(5))
            .times(20),
    );
    let started = Instant::now();
    let err = refresh(&client, &rt, None).await.unwrap_err();
    let elapsed = started.elapsed();
    assert!(matches!(err, OAuthError::Timeout { .. }), "{err}");
    assert!(
        elapsed < Duration::from_millis(1_500),
        "the 1 s deadline holds (with slack for a loaded machine): {elapsed:?}"
    );
    assert!(
        elapsed >= Duration::from_millis(300),
        "at least one full timeout: {elapsed:?}"
    );
    assert_clean(&err, &[rt.secret(), &google.client_secret()]);
}
