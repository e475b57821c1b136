//! Revocation (RFC 7009): revoked, already invalid, or pending (to retry later).

use google_emulator::{Endpoint, Fault};
use tokendesk_core::oauth::{OAuthError, RevokeOutcome, refresh, revoke};

use crate::{Google, assert_backoff, assert_clean};

#[tokio::test]
async fn revoke_answered_200_is_revoked_and_kills_the_grant() {
    let google = Google::start().await;
    let tokens = google.tokens("revoke@example.com").await;
    let rt = tokens.refresh_token.unwrap();
    let outcome = revoke(&google.http, &google.endpoints, (&rt).into())
        .await
        .unwrap();
    assert!(matches!(outcome, RevokeOutcome::Revoked), "{outcome:?}");
    assert!(outcome.grant_is_dead());
    assert_eq!(outcome.code(), "revoked");
    let err = refresh(&google.client, &rt, None).await.unwrap_err();
    assert_eq!(
        err.code(),
        "invalid_grant",
        "the refresh token died with the grant"
    );
}

#[tokio::test]
async fn revoking_an_already_revoked_token_is_already_invalid_and_counts_as_revoked() {
    let google = Google::start().await;
    let tokens = google.tokens("twice-revoked@example.com").await;
    let rt = tokens.refresh_token.unwrap();
    revoke(&google.http, &google.endpoints, (&rt).into())
        .await
        .unwrap();
    let outcome = revoke(&google.http, &google.endpoints, (&rt).into())
        .await
        .unwrap();
    let RevokeOutcome::AlreadyInvalid { explanation } = &outcome else {
        panic!("expected AlreadyInvalid, got {outcome:?}");
    };
    assert!(explanation.summary.contains("the whole grant is dead"));
    assert!(outcome.message().contains("the whole grant is dead"));
    assert!(outcome.grant_is_dead());
    assert_eq!(
        google.emulator.request_count(Endpoint::Revoke),
        2,
        "invalid_token is final, not retried"
    );
}

#[tokio::test]
async fn revoking_by_access_token_kills_the_whole_grant() {
    let google = Google::start().await;
    let tokens = google.tokens("by-access@example.com").await;
    let outcome = revoke(
        &google.http,
        &google.endpoints,
        (&tokens.access_token).into(),
    )
    .await
    .unwrap();
    assert!(matches!(outcome, RevokeOutcome::Revoked));
    let err = refresh(&google.client, tokens.refresh_token.as_ref().unwrap(), None)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "invalid_grant");
}

#[tokio::test]
async fn revoke_after_a_503_is_retried_and_revoked() {
    let google = Google::start().await;
    let rt = google
        .tokens("retry-revoke@example.com")
        .await
        .refresh_token
        .unwrap();
    google
        .emulator
        .inject(Fault::new(Endpoint::Revoke).status(503));
    let outcome = revoke(&google.http, &google.endpoints, (&rt).into())
        .await
        .unwrap();
    assert!(matches!(outcome, RevokeOutcome::Revoked), "{outcome:?}");
    assert_eq!(google.emulator.request_count(Endpoint::Revoke), 2);
    assert_backoff(&google.timer.sleeps());
}

#[tokio::test]
async fn persistent_503_leaves_the_revocation_pending() {
    let google = Google::start().await;
    let rt = google
        .tokens("pending@example.com")
        .await
        .refresh_token
        .unwrap();
    google
        .emulator
        .inject(Fault::new(Endpoint::Revoke).status(503).times(10));
    let outcome = revoke(&google.http, &google.endpoints, (&rt).into())
        .await
        .unwrap();
    let RevokeOutcome::Pending {
        attempts,
        last_error,
    } = &outcome
    else {
        panic!("expected Pending, got {outcome:?}");
    };
    assert_eq!(*attempts, 5);
    assert!(matches!(
        **last_error,
        OAuthError::Unavailable { status: 503, .. }
    ));
    assert!(!outcome.grant_is_dead(), "the grant may still be alive");
    assert_eq!(outcome.code(), "pending");
    assert_eq!(google.emulator.request_count(Endpoint::Revoke), 5);
    assert_clean(last_error, &[rt.secret()]);
    assert!(!outcome.message().contains(rt.secret()));
    // Still alive: a pending revocation must not be shown as done.
    refresh(&google.client, &rt, None).await.unwrap();
}
