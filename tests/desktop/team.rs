//! The window as a support team's client, end to end: a real PostgreSQL database, a real
//! `tokendesk server run` with the emulator as Google and as the staff's provider, and the
//! real window under WebDriver. Staff sign in through the system browser (the test is the
//! browser and the person at the consent page); a sign-in that reached the server's receiver
//! appears live; an operator refreshes; a viewer sees refresh and revoke disabled with the
//! reason; a colleague's revoke appears on the viewer's screen without a reload.
//!
//! Needs the PostgreSQL cluster `scripts/test` starts (TOKENDESK_TEST_DATABASE_URL).

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::Instant;

use tokendesk_desktop_e2e::Window;
use tokendesk_desktop_e2e::team_server::{Browser, Team};

#[allow(dead_code)]
#[path = "../../crates/tokendesk-server/tests/server/db.rs"]
mod db;

async fn disabled(w: &Window, testid: &str) -> bool {
    w.wait(testid)
        .await
        .prop("disabled")
        .await
        .unwrap()
        .is_some_and(|v| v == "true")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn support_staff_work_on_the_team_server_from_the_window() {
    let db = db::TestDb::create().await;
    let dir = tempfile::tempdir().unwrap();
    // The team's server, as the README sets it up: two staff members, an admin's API token
    // (the colleague), the OAuth client its receiver exchanges with.
    let team = Team::start(
        dir.path(),
        &db.url,
        &[
            ("olga@example.com", "operator"),
            ("vic@example.com", "viewer"),
        ],
    )
    .await;
    let server = &team.server;

    // Olga opens the window and signs in to the team server in her browser.
    let browser = Browser::new(dir.path());
    let w = Window::launch_with(
        &dir.path().join("window"),
        &[
            ("BROWSER", browser.script.to_str().unwrap()),
            ("TOKENDESK_NO_SANDBOX", "1"),
        ],
    )
    .await;
    w.wait_text("mode", "Live").await;
    w.click("use-server").await;
    w.fill("server-url", &server.admin).await;
    let clicked = Instant::now();
    w.click("server-sign-in").await;
    browser.sign_in_as("olga@example.com").await;
    w.wait("users-search").await;
    eprintln!(
        "from \"Sign in\" to the users list (the test's browser included): {:?}",
        clicked.elapsed()
    );
    w.wait_text("mode", "Team server").await;
    w.wait_text("server-where", "as olga@example.com (operator)")
        .await;
    w.wait_text("header-link", "live").await;

    // The app posts Grace's serverAuthCode to the server's receiver: she appears, no reload.
    let grace = team
        .sign_in("grace@example.com", Some("Grace Hopper"))
        .await;
    let grace_row = format!("[data-testid=\"user-row\"][data-sub=\"{grace}\"]");
    w.wait_css(&grace_row).await;

    // As an operator she refreshes Grace; revealing tokens is an admin's, shown disabled.
    w.click("user-row").await;
    w.wait_text("token-refresh-state", "present").await;
    assert!(!disabled(&w, "user-refresh").await);
    w.click("user-refresh").await;
    w.wait("user-refresh-ok").await;
    assert!(disabled(&w, "reveal-access").await);
    w.wait_text("tokens-role-note", "your role is operator")
        .await;
    w.screenshot("team-operator").await;

    // A code Google refuses, exchanged on the server: the error comes back with the server's
    // call to Google (masked), as the Exchange page shows it on the embedded store.
    w.click("nav-exchange").await;
    w.fill("exchange-code", "4/0AbogusCodeThatGoogleNeverIssued")
        .await;
    w.click("exchange-run").await;
    w.wait_text("error", "invalid_grant").await;
    w.wait_text("exchange-raw", "400").await;

    // She signs out; Vic, a viewer, signs in on the same window.
    w.click("nav-servers").await;
    w.click("server-sign-out").await;
    w.wait_text("mode", "Live").await;
    w.click("nav-servers").await;
    w.click("server-row-sign-in").await;
    browser.sign_in_as("vic@example.com").await;
    w.wait_text("server-where", "as vic@example.com (viewer)")
        .await;
    w.wait_css(&grace_row).await.click().await.unwrap();
    w.wait_text("token-refresh-state", "present").await;
    assert!(
        disabled(&w, "user-refresh").await,
        "a viewer cannot refresh"
    );
    assert!(disabled(&w, "user-revoke").await, "a viewer cannot revoke");
    w.wait_text("user-role-note", "your role is viewer").await;

    // A colleague revokes Grace (from the command line, as an admin): Vic's page shows it
    // without a reload.
    team.as_colleague(&["revoke", "grace@example.com"]);
    w.wait_text("token-refresh-state", "revoked").await;
    w.screenshot("team-viewer").await;
    w.close().await;

    // A kiosk: the window opens on the server of TOKENDESK_SERVER with the API token of
    // TOKENDESK_TOKEN, nothing to sign in to and no session to sign out of.
    let w = Window::launch_with(
        &dir.path().join("kiosk"),
        &[
            ("TOKENDESK_SERVER", server.admin.as_str()),
            ("TOKENDESK_TOKEN", team.colleague.as_str()),
            ("TOKENDESK_NO_SANDBOX", "1"),
        ],
    )
    .await;
    w.wait_text("server-where", "as colleague (admin)").await;
    w.wait_css(&grace_row).await;
    // The server goes away: the window says it is offline and when it retries.
    drop(team);
    w.wait_text("header-link", "offline").await;
    assert!(
        w.text("header-link").await.contains("retrying in"),
        "{}",
        w.text("header-link").await
    );
    w.close().await;
}
