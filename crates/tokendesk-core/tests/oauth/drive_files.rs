//! One file of the appDataFolder over real HTTP: uploaded (multipart, as Google's libraries
//! send it), downloaded byte for byte, deleted; and the caps, against servers that claim or
//! send too much.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::extract::RawQuery;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use google_emulator::Endpoint;
use tokendesk_core::drive::{
    DOWNLOAD_LIMIT, DriveError, DriveUpload, delete_file, download_file, get_file, list_app_data,
    upload_file,
};
use tokendesk_core::oauth::HttpClient;
use tokendesk_core::provider::Endpoints;
use tokendesk_core::secret::AccessToken;

use crate::{Google, fast_config};

fn upload(name: &str, content: &[u8]) -> DriveUpload {
    DriveUpload {
        name: name.to_owned(),
        mime_type: Some("application/json".to_owned()),
        content: content.to_vec(),
    }
}

#[tokio::test]
async fn a_file_goes_up_comes_back_byte_for_byte_and_is_deleted() {
    let google = Google::start().await;
    let token = google.tokens("files@example.com").await.access_token;
    // Bytes a sloppy multipart writer would break: CRLFs, a boundary-like line, NUL, non-UTF-8.
    let mut content = b"{\"level\": 7}\r\n--boundary\r\n\n".to_vec();
    content.extend([0u8, 0xff, 0xfe, b'\r']);
    let created = upload_file(
        &google.http,
        &google.endpoints,
        &token,
        &upload("save.json", &content),
    )
    .await
    .unwrap();
    assert_eq!(created.name, "save.json");
    assert_eq!(created.mime_type, "application/json");
    assert_eq!(created.size, Some(content.len() as u64));

    let listed = list_app_data(&google.http, &google.endpoints, &token, None)
        .await
        .unwrap();
    assert_eq!(listed.len(), 1, "it landed in the appDataFolder");
    assert_eq!(listed[0].id, created.id);

    let (file, bytes) = download_file(&google.http, &google.endpoints, &token, &created.id)
        .await
        .unwrap();
    assert_eq!(bytes, content, "the same bytes come back");
    assert_eq!(file.name, "save.json");

    delete_file(&google.http, &google.endpoints, &token, &created.id)
        .await
        .unwrap();
    let gone = get_file(&google.http, &google.endpoints, &token, &created.id)
        .await
        .unwrap_err();
    assert!(matches!(gone, DriveError::NotFound { .. }), "{gone:?}");
    let again = delete_file(&google.http, &google.endpoints, &token, &created.id)
        .await
        .unwrap_err();
    assert!(matches!(again, DriveError::NotFound { .. }), "{again:?}");
}

#[tokio::test]
async fn a_failed_upload_is_not_sent_twice() {
    let google = Google::start().await;
    let token = google.tokens("once@example.com").await.access_token;
    google.emulator.inject(google_emulator::Fault {
        endpoint: Endpoint::Drive,
        count: 1,
        latency_ms: 0,
        status: Some(503),
        retry_after: None,
        drop: false,
    });
    let before = google.emulator.request_count(Endpoint::Drive);
    let err = upload_file(
        &google.http,
        &google.endpoints,
        &token,
        &upload("once.json", b"{}"),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, DriveError::Unavailable { .. }), "{err:?}");
    assert_eq!(
        google.emulator.request_count(Endpoint::Drive) - before,
        1,
        "a create that may have happened is not resent (it would make a second file)"
    );
}

#[tokio::test]
async fn the_folder_itself_cannot_be_deleted_or_downloaded() {
    let google = Google::start().await;
    let token = google.tokens("folder@example.com").await.access_token;
    let err = download_file(&google.http, &google.endpoints, &token, "appDataFolder")
        .await
        .unwrap_err();
    assert!(matches!(err, DriveError::NotDownloadable { .. }), "{err:?}");
    let err = delete_file(&google.http, &google.endpoints, &token, "appDataFolder")
        .await
        .unwrap_err();
    assert!(
        matches!(err, DriveError::Api { status: 403, .. }),
        "{err:?}"
    );
}

/// A Drive whose one file claims `size` in its metadata and sends `sent` bytes of content;
/// counts the content requests.
async fn drive_serving(size: u64, sent: usize) -> (Endpoints, Arc<AtomicUsize>) {
    let media = Arc::new(AtomicUsize::new(0));
    let hits = Arc::clone(&media);
    let router = Router::new().route(
        "/drive/v3/files/{id}",
        get(move |RawQuery(q): RawQuery| {
            let hits = Arc::clone(&hits);
            async move {
                if q.unwrap_or_default().contains("alt=media") {
                    hits.fetch_add(1, Ordering::SeqCst);
                    return vec![b'x'; sent].into_response();
                }
                let meta = serde_json::json!({
                    "id": "big", "name": "big.bin",
                    "mimeType": "application/octet-stream", "size": size.to_string(),
                });
                Response::builder()
                    .header("content-type", "application/json")
                    .body(axum::body::Body::from(meta.to_string()))
                    .unwrap_or_default()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    let mut endpoints = Endpoints::google();
    endpoints.drive_api_base = format!("http://{addr}/drive/v3/").parse().unwrap();
    (endpoints, media)
}

#[tokio::test]
async fn a_file_over_25_mib_is_refused_from_its_metadata() {
    let (endpoints, media) = drive_serving(DOWNLOAD_LIMIT + 1, 0).await;
    let http = HttpClient::new(fast_config()).unwrap();
    let err = download_file(&http, &endpoints, &AccessToken::new("ya29.t"), "big")
        .await
        .unwrap_err();
    assert!(
        matches!(err, DriveError::DownloadTooLarge { size, .. } if size == DOWNLOAD_LIMIT + 1),
        "{err:?}"
    );
    assert!(err.to_string().contains("25 MiB"), "{err}");
    assert_eq!(
        media.load(Ordering::SeqCst),
        0,
        "not a byte of content was asked for"
    );
}

#[tokio::test]
async fn content_larger_than_its_metadata_said_stops_at_the_cap() {
    let limit = usize::try_from(DOWNLOAD_LIMIT).unwrap();
    let (endpoints, media) = drive_serving(10, limit + 1).await;
    let http = HttpClient::new(fast_config()).unwrap();
    let err = download_file(&http, &endpoints, &AccessToken::new("ya29.t"), "big")
        .await
        .unwrap_err();
    assert!(
        matches!(err, DriveError::DownloadTooLarge { .. }),
        "{err:?}"
    );
    assert_eq!(
        media.load(Ordering::SeqCst),
        1,
        "read once, stopped at the cap"
    );
}
