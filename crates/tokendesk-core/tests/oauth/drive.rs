//! Drive appDataFolder: every page, the folder, and Google's errors made clear.

use std::collections::HashSet;

use google_emulator::{Endpoint, Fault, MintCode};
use serde_json::{Value, json};
use tokendesk_core::drive::{DriveError, get_app_folder, list_app_data, list_app_data_paged};
use tokendesk_core::oauth::{RedirectChoice, exchange_code};
use tokendesk_core::secret::{AccessToken, AuthCode};

use crate::{Google, mint_for};

/// Creates a file in the user's appDataFolder the way the mobile app would.
async fn create_file(google: &Google, token: &AccessToken, name: &str) -> String {
    let response = reqwest::Client::new()
        .post(format!("{}/drive/v3/files", google.emulator.base_url()))
        .bearer_auth(token.secret())
        .json(&json!({"name": name, "parents": ["appDataFolder"], "mimeType": "application/json"}))
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "create: {}",
        response.status()
    );
    let file: Value = response.json().await.unwrap();
    file["id"].as_str().unwrap().to_owned()
}

async fn with_three_files(google: &Google, email: &str) -> (AccessToken, HashSet<String>) {
    let token = google.tokens(email).await.access_token;
    let mut ids = HashSet::new();
    for name in ["settings.json", "progress.json", "backup.json"] {
        ids.insert(create_file(google, &token, name).await);
    }
    (token, ids)
}

#[tokio::test]
async fn listing_walks_every_page_and_returns_each_file_once() {
    let google = Google::start().await;
    let (token, ids) = with_three_files(&google, "pages@example.com").await;
    let before = google.emulator.request_count(Endpoint::Drive);
    let files = list_app_data_paged(&google.http, &google.endpoints, &token, None, 1)
        .await
        .unwrap();
    assert_eq!(
        google.emulator.request_count(Endpoint::Drive) - before,
        3,
        "one page per file at pageSize=1"
    );
    let listed: Vec<String> = files.iter().map(|f| f.id.clone()).collect();
    assert_eq!(listed.len(), 3, "{listed:?}");
    assert_eq!(
        listed.iter().cloned().collect::<HashSet<_>>(),
        ids,
        "each file exactly once"
    );
    for file in &files {
        assert_eq!(file.mime_type, "application/json");
        assert!(file.size.is_some(), "size parsed from Drive's string");
        assert!(file.modified_time.is_some() && file.created_time.is_some());
    }
}

#[tokio::test]
async fn a_custom_fields_mask_still_pages_to_the_end() {
    let google = Google::start().await;
    let (token, ids) = with_three_files(&google, "mask@example.com").await;
    // Without nextPageToken in the mask Drive would hide the token after page one.
    let files = list_app_data_paged(
        &google.http,
        &google.endpoints,
        &token,
        Some("files(id,name)"),
        2,
    )
    .await
    .unwrap();
    let listed: HashSet<String> = files.iter().map(|f| f.id.clone()).collect();
    assert_eq!(listed, ids);
    assert!(
        files.iter().all(|f| f.size.is_none()),
        "the mask was applied"
    );
}

#[tokio::test]
async fn listing_with_the_default_page_size_returns_everything() {
    let google = Google::start().await;
    let (token, ids) = with_three_files(&google, "default@example.com").await;
    let files = list_app_data(&google.http, &google.endpoints, &token, None)
        .await
        .unwrap();
    assert_eq!(files.len(), ids.len());
}

#[tokio::test]
async fn the_app_folder_is_found_by_its_alias() {
    let google = Google::start().await;
    let token = google.tokens("folder@example.com").await.access_token;
    let folder = get_app_folder(&google.http, &google.endpoints, &token)
        .await
        .unwrap();
    assert_eq!(folder.name, "Application Data");
    assert_eq!(folder.mime_type, "application/vnd.google-apps.folder");
    assert_ne!(folder.id, "appDataFolder", "the real ID comes back");
    assert!(!folder.id.is_empty());
}

#[tokio::test]
async fn a_grant_without_drive_appdata_is_insufficient_scope_with_the_message() {
    let google = Google::start().await;
    let code = google.mint_raw(MintCode {
        scopes: Some(vec!["openid".to_owned(), "email".to_owned()]),
        ..mint_for("noscope@example.com")
    });
    let token = exchange_code(&google.client, AuthCode::new(code), RedirectChoice::Empty)
        .await
        .unwrap()
        .access_token;
    let err = list_app_data(&google.http, &google.endpoints, &token, None)
        .await
        .unwrap_err();
    assert!(matches!(err, DriveError::InsufficientScope), "{err}");
    assert_eq!(err.code(), "insufficient_scope");
    assert_eq!(
        err.to_string(),
        "this grant lacks drive.appdata: the app must request \
         https://www.googleapis.com/auth/drive.appdata and send a new serverAuthCode"
    );
    assert_eq!(
        google.emulator.request_count(Endpoint::Drive),
        1,
        "a scope error is final"
    );
}

#[tokio::test]
async fn an_expired_access_token_is_unauthorized() {
    let google = Google::start().await;
    let token = google.tokens("expired@example.com").await.access_token;
    google.emulator.set_clock_offset(3600);
    let err = list_app_data(&google.http, &google.endpoints, &token, None)
        .await
        .unwrap_err();
    assert!(matches!(err, DriveError::Unauthorized), "{err}");
    assert!(err.to_string().contains("refresh"), "{err}");
    assert!(!format!("{err:?}{err}").contains(token.secret()));
    assert_eq!(
        google.emulator.request_count(Endpoint::Drive),
        1,
        "401 is not retried here"
    );
}

#[tokio::test]
async fn a_429_from_drive_is_retried() {
    let google = Google::start().await;
    let token = google.tokens("drive429@example.com").await.access_token;
    google
        .emulator
        .inject(Fault::new(Endpoint::Drive).status(429));
    let files = list_app_data(&google.http, &google.endpoints, &token, None)
        .await
        .unwrap();
    assert!(files.is_empty());
    assert_eq!(google.emulator.request_count(Endpoint::Drive), 2);
    crate::assert_backoff(&google.timer.sleeps());
}

#[tokio::test]
async fn a_403_user_rate_limit_is_retried_then_reported() {
    let google = Google::start().await;
    let token = google.tokens("drive403@example.com").await.access_token;
    google
        .emulator
        .inject(Fault::new(Endpoint::Drive).status(403).times(10));
    let err = list_app_data(&google.http, &google.endpoints, &token, None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            DriveError::RateLimited {
                status: 403,
                attempts: 5
            }
        ),
        "{err}"
    );
    assert_eq!(google.emulator.request_count(Endpoint::Drive), 5);
}

#[tokio::test]
async fn persistent_drive_outage_is_unavailable() {
    let google = Google::start().await;
    let token = google.tokens("drive503@example.com").await.access_token;
    google
        .emulator
        .inject(Fault::new(Endpoint::Drive).status(503).times(10));
    let err = get_app_folder(&google.http, &google.endpoints, &token)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            DriveError::Unavailable {
                status: 503,
                attempts: 5
            }
        ),
        "{err}"
    );
}
