//! The admin API end to end: staff sign in through the emulator's Workspace with the RFC 8252
//! flow, roles limit them, every call is in the audit log, replicas share one database.

use tokendesk_core::api::{self, Role};
use tokendesk_core::console::{AuditQuery, Console};
use tokendesk_core::desk::{ErrorKind, RevealWhich, StopFlag};
use tokendesk_core::store::{AuditAction, AuditOutcome};

use crate::team::Team;

async fn audit_of(
    console: &dyn Console,
    action: AuditAction,
) -> Vec<tokendesk_core::store::AuditEntry> {
    console
        .audit(AuditQuery {
            action: Some(action),
            limit: 100,
            ..AuditQuery::default()
        })
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_sign_in_with_roles_and_every_call_audited() {
    let team = Team::new().await;
    let server = team.replica("a").await;
    team.add_client(&server).await;
    team.add_staff("ada@example.com", Role::Viewer).await;
    team.add_staff("root@example.com", Role::Admin).await;
    assert_eq!(
        team.post_code(&server, &team.code("grace@example.com"))
            .await,
        200
    );

    let ada = team.staff_console(&server, "Ada@Example.com").await;
    assert_eq!(ada.who().name, "ada@example.com");
    assert_eq!(ada.who().role, Role::Viewer);
    // A viewer sees users and their profiles...
    let page = ada.users_page("", 0, 50).await.unwrap();
    assert_eq!(page.users.len(), 1);
    assert_eq!(page.users[0].email.as_deref(), Some("grace@example.com"));
    // ...but may not refresh, revoke or reveal: 403, audited under her name.
    for refused in [
        ada.refresh("grace@example.com", None).await.map(drop),
        ada.revoke("grace@example.com", None).await.map(drop),
        ada.reveal("grace@example.com", RevealWhich::RefreshToken)
            .await
            .map(drop),
    ] {
        let err = refused.expect_err("beyond a viewer");
        assert_eq!(err.kind(), ErrorKind::Forbidden, "{err}");
        assert!(err.to_string().contains("viewer"), "{err}");
    }
    let root = team.staff_console(&server, "root@example.com").await;
    let denied = audit_of(&root, AuditAction::AccessDenied).await;
    assert_eq!(
        denied
            .iter()
            .filter(|e| e.os_user == "ada@example.com")
            .count(),
        3,
        "{denied:?}"
    );
    assert!(denied.iter().all(|e| e.outcome == AuditOutcome::Denied));
    // Her reads are in the log too, under her name.
    let calls = audit_of(&root, AuditAction::ApiCall).await;
    assert!(
        calls.iter().any(|e| e.os_user == "ada@example.com"
            && e.detail
                .as_deref()
                .is_some_and(|d| d.starts_with("GET /api/v1/users"))),
        "{calls:?}"
    );
    let sign_ins = audit_of(&root, AuditAction::SignIn).await;
    assert!(
        sign_ins
            .iter()
            .any(|e| e.os_user == "ada@example.com" && e.outcome == AuditOutcome::Ok)
    );

    // An admin reveals, and that is audited under the admin's name.
    let token = root
        .reveal("grace@example.com", RevealWhich::RefreshToken)
        .await
        .unwrap();
    assert!(!token.is_empty());
    let reveals = audit_of(&root, AuditAction::Reveal).await;
    assert!(
        reveals.iter().any(|e| e.os_user == "root@example.com"),
        "{reveals:?}"
    );

    // Signing out ends the session at once.
    ada.sign_out().await.unwrap();
    let err = ada.users_page("", 0, 10).await.expect_err("signed out");
    assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_ins_that_are_not_staff_are_refused_and_audited() {
    let team = Team::new().await;
    let server = team.replica("a").await;
    team.add_staff("root@example.com", Role::Admin).await;

    let stranger = team.sign_in(&server, "mallory@example.com").await;
    let err = stranger.expect_err("not on the list");
    assert_eq!(err.kind(), ErrorKind::Forbidden);
    assert!(
        err.to_string().contains("staff add mallory@example.com"),
        "{err}"
    );

    // Outside the Workspace domain (no hd): refused before the list is read.
    team.add_staff("eve@gmail.com", Role::Admin).await;
    let err = team
        .sign_in(&server, "eve@gmail.com")
        .await
        .expect_err("wrong domain");
    assert_eq!(err.kind(), ErrorKind::Unauthenticated);
    assert!(err.to_string().contains("example.com"), "{err}");

    // No token, a made-up token: 401, audited with where it came from.
    let base = server.admin_url();
    for auth in [
        None,
        Some("Bearer tds_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
    ] {
        let mut request = team.http.get(format!("{base}{}", api::paths::USERS));
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        let answer = request.send().await.unwrap();
        assert_eq!(answer.status(), 401);
        assert_eq!(answer.headers()[api::API_VERSION_HEADER], "1");
        let body: api::ErrorBody = answer.json().await.unwrap();
        assert_eq!(body.error.kind, ErrorKind::Unauthenticated);
    }

    let root = team.staff_console(&server, "root@example.com").await;
    let sign_ins = audit_of(&root, AuditAction::SignIn).await;
    assert!(
        sign_ins
            .iter()
            .any(|e| e.os_user == "mallory@example.com" && e.outcome == AuditOutcome::Denied)
    );
    assert!(sign_ins.iter().any(|e| e.outcome == AuditOutcome::Denied
        && e.detail.as_deref().is_some_and(|d| d.contains("domain"))));
    let denied = audit_of(&root, AuditAction::AccessDenied).await;
    assert_eq!(
        denied
            .iter()
            .filter(|e| e.os_user == "anonymous@127.0.0.1")
            .count(),
        2,
        "{denied:?}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_tokens_carry_a_role_until_revoked() {
    let team = Team::new().await;
    let server = team.replica("a").await;
    team.add_client(&server).await;
    let made = tokendesk_server::people::create_api_token(
        &team.pg().await,
        server.desk(),
        "deploy-bot",
        Role::Operator,
        "test",
    )
    .await
    .unwrap();
    assert!(made.token.starts_with("tdt_"));
    let bot = team.console(&server, &made.token).await.unwrap();
    assert_eq!(bot.who().name, "deploy-bot");

    // An operator exchanges and refreshes, as `api-token:deploy-bot` in the audit log.
    let code = team.code("grace@example.com");
    let report = bot
        .exchange(
            None,
            tokendesk_core::secret::AuthCode::new(code),
            Default::default(),
        )
        .await
        .unwrap();
    assert_eq!(report.user.email.as_deref(), Some("grace@example.com"));
    // A code Google refuses comes back with the server's call to Google, masked, as the
    // Exchange page shows it.
    let bogus = "4/0AeaY-not-a-code-the-emulator-minted";
    let err = bot
        .exchange(
            None,
            tokendesk_core::secret::AuthCode::new(bogus),
            Default::default(),
        )
        .await
        .expect_err("a code Google never issued");
    let tokendesk_core::desk::DeskError::Remote { code, raw, .. } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(code, "invalid_grant", "{err}");
    let token_call = raw
        .iter()
        .find(|r| r.url.ends_with("/token"))
        .unwrap_or_else(|| panic!("the call to the token endpoint: {raw:?}"));
    assert_eq!(token_call.response.as_ref().map(|r| r.status), Some(400));
    assert!(
        token_call
            .form
            .iter()
            .any(|f| f.name == "code" && f.value == tokendesk_core::secret::MASKED),
        "{token_call:?}"
    );
    assert!(
        !format!("{raw:?}").contains("not-a-code"),
        "the code itself is masked"
    );
    bot.refresh("grace@example.com", None).await.unwrap();
    let refreshes = audit_of(&bot, AuditAction::Refresh).await;
    assert!(
        refreshes
            .iter()
            .any(|e| e.os_user == "api-token:deploy-bot"),
        "{refreshes:?}"
    );
    // Not an admin.
    let err = bot
        .reveal("grace@example.com", RevealWhich::AccessToken)
        .await
        .expect_err("operator");
    assert_eq!(err.kind(), ErrorKind::Forbidden);

    // The database holds the digest, never the token.
    let client = crate::admin(&team.db.name).await;
    let dump: String = client
        .query_one(
            "SELECT string_agg(encode(token_sha256, 'hex'), ',') FROM api_tokens",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(!dump.contains(&made.token[4..]));

    team.pg()
        .await
        .api_token_revoke("deploy-bot", server.desk().now())
        .await
        .unwrap();
    let err = bot.users_page("", 0, 1).await.expect_err("revoked");
    assert_eq!(err.kind(), ErrorKind::Unauthenticated);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_through_one_replica_is_seen_through_the_other() {
    let team = Team::new().await;
    let a = team.replica("a").await;
    let b = team.replica("b").await;
    team.add_client(&a).await;
    team.add_staff("ada@example.com", Role::Operator).await;
    assert_eq!(
        team.post_code(&a, &team.code("grace@example.com")).await,
        200
    );
    // Signed in through replica B, the session works on A too.
    let who = team.sign_in(&b, "ada@example.com").await.unwrap();
    let on_a = team
        .console(&a, who.token.as_deref().unwrap())
        .await
        .unwrap();
    let on_b = team
        .console(&b, who.token.as_deref().unwrap())
        .await
        .unwrap();
    let user = on_b.user("grace@example.com").await.unwrap();
    assert_eq!(user.user.email.as_deref(), Some("grace@example.com"));
    on_a.refresh("grace@example.com", None).await.unwrap();
    // Both replicas answer healthz with the database up.
    for server in [&a, &b] {
        let health = team
            .http
            .get(format!("{}/healthz", server.admin_url()))
            .send()
            .await
            .unwrap();
        assert_eq!(health.status(), 200);
    }
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_all_is_shared_by_the_replicas() {
    let team = Team::new().await;
    let a = team.replica("a").await;
    let b = team.replica("b").await;
    team.add_client(&a).await;
    let users = 40;
    for i in 0..users {
        assert_eq!(
            team.post_code(&a, &team.code(&format!("u{i}@example.com")))
                .await,
            200
        );
    }
    // Each refresh takes 200 ms at "Google": at 2 in flight the run lasts 4 s, and replica B
    // looks for runs every second.
    let mut fault = google_emulator::Fault::new(google_emulator::Endpoint::Token);
    fault.count = 10_000;
    fault.latency_ms = 200;
    team.emu.inject(fault);
    team.add_staff("ada@example.com", Role::Operator).await;
    let ada = team.staff_console(&a, "ada@example.com").await;
    // (The staff sign-in redeemed its own code at /token: count from here.)
    let token_posts = team.emu.request_count(google_emulator::Endpoint::Token);
    let report = ada
        .refresh_all(2, &|_, _, _| {}, &StopFlag::default())
        .await
        .unwrap();
    assert_eq!(report.total, users);
    assert_eq!(report.refreshed, users, "{:?}", report.outcomes);
    assert_eq!(
        team.emu.request_count(google_emulator::Endpoint::Token) - token_posts,
        users as u64,
        "each grant refreshed exactly once"
    );
    let client = crate::admin(&team.db.name).await;
    let by: Vec<String> = client
        .query(
            "SELECT DISTINCT claimed_by FROM refresh_run_items ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(by, ["a", "b"], "both replicas worked on the run");
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_with_another_key_refuses_to_start() {
    let team = Team::new().await;
    let a = team.replica("a").await;
    team.add_client(&a).await;
    a.stop().await;
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("other");
    tokendesk_core::seal::LocalKey::generate()
        .unwrap()
        .write_new_file(&other)
        .unwrap();
    let mut config = team.config("b");
    config.key_file = other;
    let err = team.start(config).await.expect_err("another key");
    assert!(err.to_string().contains("did not seal"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_refreshes_of_one_user_through_two_replicas_send_one() {
    let team = Team::new().await;
    let a = team.replica("a").await;
    let b = team.replica("b").await;
    team.add_client(&a).await;
    assert_eq!(
        team.post_code(&a, &team.code("grace@example.com")).await,
        200
    );
    team.add_staff("ada@example.com", Role::Operator).await;
    let who = team.sign_in(&a, "ada@example.com").await.unwrap();
    let token = who.token.unwrap();
    let on_a = std::sync::Arc::new(team.console(&a, &token).await.unwrap());
    let on_b = std::sync::Arc::new(team.console(&b, &token).await.unwrap());
    // Google rotates refresh tokens and answers slowly: a second refresh with the same
    // token would be reuse, and kill the grant.
    team.emu.set_refresh_rotation(true);
    let mut slow = google_emulator::Fault::new(google_emulator::Endpoint::Token);
    slow.count = 100;
    slow.latency_ms = 500;
    team.emu.inject(slow);
    let before = team.emu.request_count(google_emulator::Endpoint::Token);
    let callers: Vec<_> = (0..12)
        .map(|i| {
            let console = if i % 2 == 0 { &on_a } else { &on_b };
            let console = std::sync::Arc::clone(console);
            tokio::spawn(async move { console.refresh("grace@example.com", None).await })
        })
        .collect();
    for caller in callers {
        let user = caller.await.unwrap().expect("every caller gets a token");
        assert_eq!(user.email.as_deref(), Some("grace@example.com"));
    }
    assert_eq!(
        team.emu.request_count(google_emulator::Endpoint::Token) - before,
        1,
        "Google sees exactly one refresh"
    );
    assert_eq!(team.emu.refresh_reuse_detections(), 0);
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_needs_an_id_token_of_the_staff_client() {
    let team = Team::new().await;
    let server = team.replica("a").await;
    team.add_staff("ada@example.com", Role::Admin).await;
    // An ID token Google issued to the users' web client, for a staff member: the wrong
    // audience, as a token phished through another app would be.
    let web = team.emu.web_client();
    let answer: serde_json::Value = team
        .http
        .post(format!("{}/token", team.emu.base_url()))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &team.code("ada@example.com")),
            ("client_id", &web.client_id),
            ("client_secret", &web.client_secret),
            ("redirect_uri", ""),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let foreign = answer["id_token"].as_str().expect("an ID token").to_owned();
    for id_token in [foreign.as_str(), "not.a.jwt", ""] {
        let answer = team
            .http
            .post(format!("{}{}", server.admin_url(), api::paths::SESSIONS))
            .json(&serde_json::json!({ "id_token": id_token }))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 401, "{id_token}");
        let body: api::ErrorBody = answer.json().await.unwrap();
        assert_eq!(body.error.code, "staff_token_unverified");
        assert!(!body.error.message.contains(&foreign), "no token echoed");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drive_files_and_the_export_go_through_the_server_by_role() {
    let team = Team::new().await;
    let server = team.replica("a").await;
    team.add_client(&server).await;
    team.add_staff("ada@example.com", Role::Viewer).await;
    team.add_staff("op@example.com", Role::Operator).await;
    assert_eq!(
        team.post_code(&server, &team.code("grace@example.com"))
            .await,
        200
    );
    let ada = team.staff_console(&server, "ada@example.com").await;
    let op = team.staff_console(&server, "op@example.com").await;

    // Bigger than the API's default body limit: the upload route takes a file up to 5 MB.
    let content: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let upload = || tokendesk_core::drive::DriveUpload {
        name: "notes.bin".to_owned(),
        mime_type: None,
        content: content.clone(),
    };
    let refused = ada
        .drive_upload("grace@example.com", None, upload())
        .await
        .expect_err("a viewer may not write a user's Drive");
    assert_eq!(refused.kind(), ErrorKind::Forbidden, "{refused}");
    let put = op
        .drive_upload("grace@example.com", None, upload())
        .await
        .unwrap();
    let file_id = put.file.id.clone();
    // A viewer may not take a user's file away either: the bytes are the user's data.
    let refused = ada
        .drive_download("grace@example.com", None, &file_id)
        .await
        .expect_err("a viewer may not download");
    assert_eq!(refused.kind(), ErrorKind::Forbidden, "{refused}");
    let got = op
        .drive_download("grace@example.com", None, &file_id)
        .await
        .unwrap();
    assert_eq!(got.file.name, "notes.bin");
    assert!(got.content == content, "the bytes came back changed");
    op.drive_delete("grace@example.com", None, &file_id)
        .await
        .unwrap();
    let listing = op.drive("grace@example.com", None).await.unwrap();
    assert!(listing.files.iter().all(|f| f.id != file_id));

    // The export is a viewer's read, and carries no token.
    let users = ada.export_users().await.unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].email.as_deref(), Some("grace@example.com"));

    for (action, who) in [
        (AuditAction::DriveUpload, "op@example.com"),
        (AuditAction::DriveDownload, "op@example.com"),
        (AuditAction::DriveDelete, "op@example.com"),
        (AuditAction::UsersExport, "ada@example.com"),
    ] {
        let entries = audit_of(&op, action).await;
        assert!(
            entries
                .iter()
                .any(|e| e.os_user == who && e.outcome == AuditOutcome::Ok),
            "{action:?}: {entries:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_http_log_is_a_viewers_and_its_revealed_curl_an_admins() {
    let team = Team::new().await;
    let server = team.replica("a").await;
    team.add_client(&server).await;
    team.add_staff("vic@example.com", Role::Viewer).await;
    team.add_staff("root@example.com", Role::Admin).await;
    assert_eq!(
        team.post_code(&server, &team.code("grace@example.com"))
            .await,
        200
    );
    let root = team.staff_console(&server, "root@example.com").await;
    root.refresh("grace@example.com", None).await.unwrap();

    let vic = team.staff_console(&server, "vic@example.com").await;
    let kept = vic.user_http("grace@example.com", 50).await.unwrap();
    let actions: Vec<AuditAction> = kept.iter().map(|e| e.action).collect();
    assert_eq!(
        actions,
        [AuditAction::Refresh, AuditAction::Exchange],
        "the receiver's exchange and the admin's refresh, newest first"
    );
    assert_eq!(kept[0].actor, "root@example.com", "who acted, by name");
    let index = kept[0]
        .exchanges
        .iter()
        .position(|r| r.url.ends_with("/token"))
        .unwrap();
    let masked = vic
        .http_curl("grace@example.com", kept[0].id, index, false)
        .await
        .unwrap();
    assert!(
        masked.command.contains("${REFRESH_TOKEN}"),
        "{}",
        masked.command
    );
    assert!(masked.revealed.is_empty());

    let err = vic
        .http_curl("grace@example.com", kept[0].id, index, true)
        .await
        .expect_err("revealing is beyond a viewer");
    assert_eq!(err.kind(), ErrorKind::Forbidden, "{err}");
    assert!(err.to_string().contains("admin"), "{err}");

    let revealed = root
        .http_curl("grace@example.com", kept[0].id, index, true)
        .await
        .unwrap();
    assert!(!revealed.revealed.is_empty(), "{revealed:?}");
    assert!(!revealed.command.contains("${REFRESH_TOKEN}"));
    let reveals = audit_of(&root, AuditAction::Reveal).await;
    assert!(
        reveals.iter().any(|e| e.os_user == "root@example.com"
            && e.detail
                .as_deref()
                .is_some_and(|d| d.starts_with("curl of refresh"))),
        "{reveals:?}"
    );
    server.stop().await;
}
