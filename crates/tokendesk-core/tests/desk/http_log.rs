//! Every operation on a user keeps its HTTP for that user's page, masked: the exchange, a
//! refresh (a refused one too, with Google's answer), the Drive listing, a revocation, a health
//! sweep's check. A kept request becomes a curl command whose
//! secrets are shell variables; revealing writes the stored ones in, audited first. The
//! commands are run with the real `curl` against the emulator: what the page hands out works.

use tokendesk_core::desk::{DeskError, HealthOptions, RevealWhich, StopFlag};
use tokendesk_core::oauth::{RawBody, RawExchange, SecretSlot};
use tokendesk_core::secret::MASKED;
use tokendesk_core::store::{AuditAction, AuditFilter, AuditOutcome, HttpLogEntry};

use crate::{ADA, BOB, Fixture};

fn form<'a>(raw: &'a RawExchange, name: &str) -> Option<&'a str> {
    raw.form
        .iter()
        .find(|f| f.name == name)
        .map(|f| f.value.as_str())
}

fn client_secret(f: &Fixture) -> String {
    f.emu.client_secret_json()["web"]["client_secret"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Every byte of the store's files (the database and its write-ahead log).
fn store_bytes(f: &Fixture) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(f.dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            all.extend(std::fs::read(path).unwrap());
        }
    }
    all
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// Runs `command` with `sh`, with `env` set, and returns curl's output.
fn run(command: &str, env: &[(&str, &str)]) -> String {
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{command} --silent --show-error"))
        .envs(env.iter().copied())
        .output()
        .expect("sh and curl run");
    assert!(
        out.status.success(),
        "curl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

async fn kept(f: &Fixture, who: &str) -> Vec<HttpLogEntry> {
    f.desk.user_http(who, 50).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_keeps_its_http_masked_for_its_user() {
    let f = Fixture::start().await;
    f.exchange(&f.code(ADA)).await.unwrap();
    f.exchange(&f.code(BOB)).await.unwrap();
    f.refresh(ADA).await.unwrap();
    f.desk.drive(ADA, None).await.unwrap();
    let refresh_token = f.desk.reveal(ADA, RevealWhich::RefreshToken).await.unwrap();
    let access_token = f.desk.reveal(ADA, RevealWhich::AccessToken).await.unwrap();
    let bobs_refresh = f.desk.reveal(BOB, RevealWhich::RefreshToken).await.unwrap();
    f.desk.revoke(BOB, None).await.unwrap();

    let ada = kept(&f, ADA).await;
    let actions: Vec<AuditAction> = ada.iter().map(|e| e.action).collect();
    assert_eq!(
        actions,
        [
            AuditAction::Drive,
            AuditAction::Refresh,
            AuditAction::Exchange
        ],
        "Ada's operations, newest first (a reveal sends nothing)"
    );
    assert!(ada.iter().all(|e| e.outcome == AuditOutcome::Ok));
    assert!(ada.iter().all(|e| e.client.as_deref() == Some("emu")));

    let refresh = &ada[1].exchanges;
    let token_call = refresh
        .iter()
        .find(|r| r.url.ends_with("/token"))
        .expect("the refresh's token call is kept");
    assert_eq!(token_call.method, "POST");
    assert_eq!(form(token_call, "grant_type"), Some("refresh_token"));
    assert_eq!(form(token_call, "refresh_token"), Some(MASKED));
    assert_eq!(form(token_call, "client_secret"), Some(MASKED));
    let response = token_call.response.as_ref().expect("the answer is kept");
    assert_eq!(response.status, 200);
    let RawBody::Json { value } = &response.body else {
        panic!("the token answer is JSON: {:?}", response.body);
    };
    assert_eq!(value["access_token"], MASKED);
    assert!(value["expires_in"].is_number(), "what is not secret stays");

    let drive = &ada[0].exchanges;
    assert!(
        drive.iter().any(|r| r.url.contains("/drive/v3/files")
            && r.request_headers
                .iter()
                .any(|h| h.name == "authorization" && h.value == format!("Bearer {MASKED}"))),
        "the Drive call with its bearer token masked: {drive:#?}"
    );

    let bob = kept(&f, BOB).await;
    assert_eq!(bob[0].action, AuditAction::Revoke);
    let revoke = &bob[0].exchanges[0];
    assert!(revoke.url.contains("/revoke"), "{}", revoke.url);
    assert_eq!(form(revoke, "token"), Some(MASKED));
    assert_eq!(
        bob.len(),
        2,
        "Bob's log holds Bob's operations only (his exchange and revocation)"
    );

    // Nothing secret reached the store's files.
    let bytes = store_bytes(&f);
    for (what, secret) in [
        ("Ada's refresh token", refresh_token.as_str()),
        ("Ada's access token", access_token.as_str()),
        ("Bob's refresh token", bobs_refresh.as_str()),
        ("the client secret", client_secret(&f).as_str()),
    ] {
        assert!(!contains(&bytes, secret), "{what} is in the store's files");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_request_is_a_curl_command_masked_or_revealed_after_an_audit() {
    let f = Fixture::start().await;
    f.exchange(&f.code(ADA)).await.unwrap();
    f.refresh(ADA).await.unwrap();
    let entry = kept(&f, ADA).await.remove(0);
    assert_eq!(entry.action, AuditAction::Refresh);
    let index = entry
        .exchanges
        .iter()
        .position(|r| r.url.ends_with("/token"))
        .unwrap();
    let reveals = || async {
        f.desk
            .audit_log(AuditFilter {
                action: Some(AuditAction::Reveal),
                limit: 10,
                ..AuditFilter::default()
            })
            .await
            .unwrap()
    };

    let masked = f.desk.http_curl(ADA, entry.id, index, false).await.unwrap();
    assert!(
        masked
            .command
            .contains(r#"--data-urlencode "refresh_token=${REFRESH_TOKEN}""#),
        "{}",
        masked.command
    );
    assert_eq!(
        masked.variables,
        [SecretSlot::RefreshToken, SecretSlot::ClientSecret]
    );
    assert!(masked.revealed.is_empty());
    assert!(
        masked.notes.iter().any(|n| n.contains("$REFRESH_TOKEN")),
        "{:?}",
        masked.notes
    );
    assert!(
        reveals().await.is_empty(),
        "a masked command reveals nothing"
    );

    let revealed = f.desk.http_curl(ADA, entry.id, index, true).await.unwrap();
    assert_eq!(
        revealed.revealed,
        [SecretSlot::RefreshToken, SecretSlot::ClientSecret]
    );
    assert!(revealed.variables.is_empty(), "{:?}", revealed.variables);
    let audit = reveals().await;
    assert_eq!(audit.len(), 1, "one reveal, audited: {audit:?}");
    assert_eq!(
        audit[0].detail.as_deref(),
        Some(
            format!(
                "curl of refresh #{}: refresh_token, client_secret",
                entry.id
            )
            .as_str()
        )
    );
    assert_eq!(audit[0].user_email.as_deref(), Some(ADA));
    assert!(
        !format!("{revealed:?}").contains(&client_secret(&f)),
        "Debug hides it"
    );
    let refresh_token = f.desk.reveal(ADA, RevealWhich::RefreshToken).await.unwrap();
    assert!(revealed.command.contains(refresh_token.as_str()));

    // Both commands work as handed out: the revealed one as is, the masked one once its
    // variables are set. (The emulator does not rotate refresh tokens by default.)
    let before = f.token_posts();
    let answer: serde_json::Value = serde_json::from_str(&run(&revealed.command, &[])).unwrap();
    assert!(answer["access_token"].is_string(), "{answer}");
    let secret = client_secret(&f);
    let answer: serde_json::Value = serde_json::from_str(&run(
        &masked.command,
        &[
            ("REFRESH_TOKEN", refresh_token.as_str()),
            ("CLIENT_SECRET", secret.as_str()),
        ],
    ))
    .unwrap();
    assert!(answer["access_token"].is_string(), "{answer}");
    assert_eq!(
        f.token_posts() - before,
        2,
        "both reached the token endpoint"
    );

    // A request that is not kept says so, and what is kept.
    let err = f
        .desk
        .http_curl(ADA, entry.id, 99, false)
        .await
        .unwrap_err();
    assert!(matches!(err, DeskError::HttpEntryNotKept { .. }), "{err:?}");
    assert_eq!(err.code(), "http_entry_not_kept");
    let err = f.desk.http_curl(BOB, entry.id, index, false).await;
    assert!(
        err.is_err(),
        "another user's entry is not found under this one"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_downloaded_files_content_is_never_kept_only_its_size() {
    let f = Fixture::start().await;
    f.exchange(&f.code(ADA)).await.unwrap();
    let content = br#"{"diary": "private-canary-entry", "n": 1}"#.to_vec();
    let uploaded = f
        .desk
        .drive_upload(
            ADA,
            None,
            tokendesk_core::drive::DriveUpload {
                name: "settings.json".into(),
                mime_type: Some("application/json".into()),
                content: content.clone(),
            },
        )
        .await
        .unwrap();
    let downloaded = f
        .desk
        .drive_download(ADA, None, &uploaded.file.id)
        .await
        .unwrap();
    assert_eq!(downloaded.content, content);

    let ada = kept(&f, ADA).await;
    assert_eq!(ada[0].action, AuditAction::DriveDownload);
    let media = ada[0]
        .exchanges
        .iter()
        .find(|r| r.url.contains("alt=media"))
        .expect("the content's request is kept");
    assert_eq!(
        media.response.as_ref().unwrap().body,
        RawBody::FileContent {
            bytes: content.len()
        },
        "its size, not its JSON"
    );
    assert!(
        !contains(&store_bytes(&f), "private-canary-entry"),
        "the user's file is not in the store"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweeps_checks_and_a_refused_refresh_are_kept_with_googles_answer() {
    let f = Fixture::start().await;
    f.exchange(&f.code(ADA)).await.unwrap();
    f.exchange(&f.code(BOB)).await.unwrap();
    let bobs_access = f.desk.reveal(BOB, RevealWhich::AccessToken).await.unwrap();
    crate::health::user_removes_access(&f, ADA).await;
    f.desk
        .health_sweep(HealthOptions::default(), |_, _, _| {}, &StopFlag::default())
        .await
        .unwrap();

    // Bob's healthy grant: one tokeninfo call, its access token masked.
    let bob = kept(&f, BOB).await;
    assert_eq!(bob[0].action, AuditAction::HealthSweep);
    assert_eq!(bob[0].outcome, AuditOutcome::Ok);
    assert_eq!(bob[0].exchanges.len(), 1, "{:#?}", bob[0].exchanges);
    let info = &bob[0].exchanges[0];
    assert!(info.url.contains("tokeninfo"), "{}", info.url);
    assert_eq!(info.response.as_ref().unwrap().status, 200);
    let shown = serde_json::to_string(&bob[0]).unwrap();
    assert!(
        !shown.contains(bobs_access.as_str()),
        "the checked access token is masked: {shown}"
    );

    // Ada's removed grant: tokeninfo refused, then the refresh Google refused, kept as failed
    // with Google's error, which is what support needs to see.
    let ada = kept(&f, ADA).await;
    assert_eq!(ada[0].action, AuditAction::HealthSweep);
    assert_eq!(ada[0].outcome, AuditOutcome::Failed);
    let refresh = ada[0]
        .exchanges
        .iter()
        .find(|r| r.url.ends_with("/token"))
        .expect("the refused refresh is kept");
    assert_eq!(form(refresh, "refresh_token"), Some(MASKED));
    let answer = refresh.response.as_ref().expect("Google's answer is kept");
    assert_eq!(answer.status, 400);
    let RawBody::Json { value } = &answer.body else {
        panic!("Google's refusal is JSON: {:?}", answer.body);
    };
    assert_eq!(value["error"], "invalid_grant", "{value}");

    // A refresh by hand that Google refuses is kept as failed too: Bob's, once his access is
    // removed.
    crate::health::user_removes_access(&f, BOB).await;
    f.refresh(BOB).await.unwrap_err();
    let bob = kept(&f, BOB).await;
    assert_eq!(
        (bob[0].action, bob[0].outcome),
        (AuditAction::Refresh, AuditOutcome::Failed),
        "{:#?}",
        bob[0]
    );
    assert!(
        bob[0]
            .exchanges
            .iter()
            .any(|r| r.url.ends_with("/token")
                && r.response.as_ref().is_some_and(|a| a.status == 400)),
        "{:#?}",
        bob[0].exchanges
    );
}
