//! tokeninfo for the inspector: Google's string-typed fields, parsed.

use std::time::Duration;

use tokendesk_core::oauth::{GoogleErrorCode, OAuthError, Operation, tokeninfo};
use tokendesk_core::secret::AccessToken;

use crate::{Google, assert_clean};

#[tokio::test]
async fn tokeninfo_describes_an_access_token() {
    let google = Google::start().await;
    let tokens = google.tokens("info@example.com").await;
    let info = tokeninfo(&google.http, &google.endpoints, &tokens.access_token)
        .await
        .unwrap();
    assert_eq!(
        info.aud.as_deref(),
        Some(google.emulator.web_client().client_id.as_str()),
        "aud is the web (server) client"
    );
    assert_eq!(
        info.azp.as_deref(),
        Some(google.emulator.ios_client_id()),
        "azp is the iOS client the user signed in with"
    );
    assert_eq!(info.email.as_deref(), Some("info@example.com"));
    assert_eq!(info.email_verified, Some(true));
    assert_eq!(info.access_type.as_deref(), Some("offline"));
    assert!(info.sub.is_some());
    assert!(info.exp.is_some());
    let left = Duration::from_secs(info.expires_in.unwrap());
    assert!(left <= Duration::from_secs(3600) && left > Duration::from_secs(3000));
    assert!(
        info.scopes
            .iter()
            .any(|s| s == "https://www.googleapis.com/auth/drive.appdata")
    );
}

#[tokio::test]
async fn tokeninfo_of_an_unknown_token_is_invalid_token_explained() {
    let google = Google::start().await;
    let bogus = concat!("ya29.", "not-a-real-token-canary-value");
    let err = tokeninfo(&google.http, &google.endpoints, &AccessToken::new(bogus))
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            OAuthError::Server {
                code: GoogleErrorCode::InvalidToken,
                operation: Operation::TokenInfo,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.explanation().summary.contains("does not accept"));
    assert_clean(&err, &[bogus]);
}
