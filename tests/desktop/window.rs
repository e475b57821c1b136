//! The real window, end to end: a developer sets a save folder, imports a client, exports the
//! clients, exchanges a serverAuthCode from the emulator, sees the profile, refreshes, reveals,
//! lists, uploads, downloads and deletes Drive files, revokes, watches the receiver take an
//! app's POST and exports the users; a newcomer with no client lands in the sandbox and runs a
//! simulated iOS sign-in, with a hostile display name that must stay text, or starts with the
//! one-click sign-in of Ada Lovelace (and sweeps her grant's health by hand).
//!
//! Windows run one at a time (one display, and the sandbox's keyring service is shared).

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::Duration;

use google_emulator::{Emulator, Endpoint, IssuerMode, MintCode, UserSpec};
use tokendesk_desktop_e2e::Window;

// The person at the emulator's consent page, as the server's and the command line's tests
// play it.
#[path = "../../crates/tokendesk-server/tests/server/person.rs"]
mod person;

static ONE_WINDOW: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn emulator() -> Emulator {
    Emulator::builder()
        .issuer_mode(IssuerMode::Origin)
        .start()
        .await
        .expect("emulator")
}

fn mint(emulator: &Emulator, email: &str, name: &str) -> (String, String) {
    emulator
        .mint_code(&MintCode {
            user: UserSpec {
                email: email.into(),
                name: Some(name.into()),
                given_name: name.split(' ').next().map(str::to_owned),
                family_name: name.split(' ').nth(1).map(str::to_owned),
                locale: Some("en-GB".into()),
                ..UserSpec::default()
            },
            ..MintCode::default()
        })
        .expect("mint a code")
}

/// The system clipboard's text once it contains `needle` (the app writes it from Rust on the
/// same display), read as a person pasting would; fails after 10 s with what it held.
async fn clipboard_holding(needle: &str) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let text = tokio::task::spawn_blocking(|| {
            arboard::Clipboard::new()
                .and_then(|mut board| board.get_text())
                .unwrap_or_default()
        })
        .await
        .unwrap();
        if text.contains(needle) {
            return text;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the clipboard never held {needle:?}; it held {} characters",
            text.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_developer_imports_a_client_and_runs_the_whole_flow() {
    let _one = ONE_WINDOW.lock().await;
    let emulator = emulator().await;
    let home = tempfile::tempdir().unwrap();
    let secrets = home.path().join("client_secret.json");
    std::fs::write(&secrets, emulator.client_secret_json().to_string()).unwrap();

    let w = Window::launch(&home.path().join("data")).await;
    eprintln!("first paint after {:?}", w.first_paint);
    w.wait_text("mode", "Sandbox").await;

    // Settings: downloads and exports go into a folder, without the system's save dialog.
    let saved = home.path().join("saved");
    std::fs::create_dir(&saved).unwrap();
    w.click("nav-settings").await;
    w.fill("save-folder", saved.to_str().unwrap()).await;
    w.click("settings-save").await;
    w.wait("settings-saved").await;

    // Clients: import the web client's client_secret.json (typed path; the dialog is the OS's).
    w.click("nav-clients").await;
    w.fill("client-name", "web").await;
    w.fill("client-path", secrets.to_str().unwrap()).await;
    w.fill("client-issuer", emulator.issuer()).await;
    w.fill("client-api-base", emulator.base_url()).await;
    w.fill("client-ios-ids", emulator.ios_client_id()).await;
    w.click("client-import").await;
    w.wait_text("mode", "Live").await;
    w.wait_text("client-row", emulator.web_client().client_id.as_str())
        .await;
    w.wait("client-import-ok").await;
    w.screenshot("clients").await;

    // The clients, exported for another desk: the client ID, never the secret. Opened again
    // here, the file's client is the one this desk has.
    w.click("clients-export").await;
    w.wait_text("clients-exported", "tokendesk-clients.json")
        .await;
    let exported = std::fs::read_to_string(saved.join("tokendesk-clients.json")).unwrap();
    let web = emulator.web_client();
    assert!(exported.contains(&web.client_id), "{exported}");
    assert!(
        !exported.contains(&web.client_secret),
        "no client secret leaves the desk"
    );
    w.fill(
        "clients-file-path",
        saved.join("tokendesk-clients.json").to_str().unwrap(),
    )
    .await;
    w.click("clients-file-open").await;
    w.wait_css("[data-testid=\"clients-file-row\"][data-name=\"web\"][data-on-desk=\"same\"]")
        .await;

    // Exchange a serverAuthCode minted as Google Sign-In on iOS would.
    let (code, sub) = mint(&emulator, "ada@example.com", "Ada Lovelace");
    w.click("nav-exchange").await;
    w.select("exchange-client", "web").await;
    w.fill("exchange-redirect", "").await;
    // First a code Google refuses: its error explained, and the raw exchange shown for it too.
    w.fill("exchange-code", "4/0AbogusCodeThatGoogleNeverIssued")
        .await;
    w.click("exchange-run").await;
    w.wait_text("error", "invalid_grant").await;
    w.wait("error-explanation").await;
    w.wait_text("exchange-raw", "400").await;
    w.fill("exchange-code", &code).await;
    w.click("exchange-run").await;
    w.wait_text("exchange-result", "ada@example.com").await;
    let raw = w.text("exchange-raw").await;
    assert!(
        raw.contains("/token"),
        "the raw exchange shows the request: {raw}"
    );
    assert!(
        !raw.contains(&code),
        "the code is masked in the raw exchange"
    );
    w.screenshot("exchange").await;

    // The profile from the verified ID token.
    w.click("exchange-open-user").await;
    w.wait_text("profile-name", "Ada Lovelace").await;
    assert_eq!(w.text("profile-given-name").await, "Ada");
    assert_eq!(w.text("profile-family-name").await, "Lovelace");
    assert!(w.text("profile-email").await.contains("ada@example.com"));
    w.wait("profile-verified").await;
    assert!(w.text("profile-locale").await.contains("en-GB"));
    assert!(w.text("profile-sub").await.contains(&sub));
    w.wait_text("token-refresh-state", "present").await;
    w.wait_text("token-scopes", "drive.appdata").await;
    w.wait("token-expiry").await;
    // How the ID token was verified, check by check.
    w.wait_css("[data-testid=\"idtoken-check\"][data-name=\"signature\"][data-ok=\"true\"]")
        .await;
    assert!(
        w.text("idtoken-header").await.contains("RS256"),
        "the verified header is shown"
    );
    w.screenshot("user").await;

    // Refresh: one real request to the token endpoint.
    let before = emulator.request_count(Endpoint::Token);
    w.click("user-refresh").await;
    w.wait("user-refresh-ok").await;
    assert_eq!(
        emulator.request_count(Endpoint::Token),
        before + 1,
        "Refresh sends exactly one refresh_token grant"
    );

    // The refresh as HTTP, on the user's page: its request with the secrets masked, copied as
    // curl (shell variables), then revealed and copied with the stored secrets (audited).
    w.wait_css(
        "[data-testid=\"http-entry\"][data-action=\"refresh\"] [data-testid=\"http-entry-toggle\"]",
    )
    .await
    .click()
    .await
    .unwrap();
    let request = "[data-testid=\"http-entry-details\"] [data-testid=\"http-request\"]";
    let shown = w.wait_css(request).await.text().await.unwrap();
    assert!(
        shown.contains("POST") && shown.contains("/token"),
        "the refresh's request to the token endpoint: {shown}"
    );
    let sent = w
        .client
        .execute(
            "const row = [...document.querySelectorAll(arguments[0] + ' tr')]
                 .find((r) => r.querySelector('th')?.textContent === 'refresh_token');
             return row ? row.querySelector('td').textContent : null;",
            vec![serde_json::json!(request)],
        )
        .await
        .unwrap();
    assert_eq!(sent, "[redacted]", "the refresh token is masked: {shown}");
    w.wait_css(&format!("{request} [data-testid=\"http-copy-curl\"]"))
        .await
        .click()
        .await
        .unwrap();
    w.wait_text("http-copy-result", "shell variables").await;
    let masked = clipboard_holding("${REFRESH_TOKEN}").await;
    assert!(
        masked.contains("--data-urlencode \"refresh_token=${REFRESH_TOKEN}\""),
        "the masked command has the variable where the token was: {masked}"
    );
    assert!(
        w.text("http-curl-command")
            .await
            .contains("${REFRESH_TOKEN}"),
        "the masked command is shown too"
    );
    w.wait_css(&format!("{request} [data-testid=\"http-reveal-curl\"]"))
        .await
        .click()
        .await
        .unwrap();
    w.wait_text(
        "http-copy-result",
        "REFRESH_TOKEN, CLIENT_SECRET written in",
    )
    .await;
    let revealed = clipboard_holding("'refresh_token=").await;
    assert!(
        !revealed.contains("${REFRESH_TOKEN}") && !revealed.contains("${CLIENT_SECRET}"),
        "the revealed command carries the values, not variables"
    );
    assert!(
        revealed.contains(&format!("'client_secret={}'", web.client_secret)),
        "the client secret as stored is written in"
    );
    let refresh_token = revealed
        .split("'refresh_token=")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .unwrap_or_default()
        .to_owned();
    assert!(refresh_token.len() > 10, "a refresh token is written in");
    let html = w
        .client
        .execute("return document.documentElement.outerHTML", vec![])
        .await
        .unwrap();
    let html = html.as_str().unwrap();
    assert!(
        !html.contains(&refresh_token) && !html.contains(&web.client_secret),
        "no secret of the revealed command is in the page"
    );
    let reveal = w
        .wait_css("[data-testid=\"user-audit-row\"][data-action=\"reveal\"]")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        reveal.contains("curl"),
        "the audit trail shows the reveal of the command: {reveal}"
    );

    // Reveal the access token (explicit, audited), and use it as the app would on Drive.
    w.click("reveal-access").await;
    let access = w.text("revealed-token").await.trim().to_owned();
    assert!(access.len() > 20, "a revealed access token is shown");
    w.click("revealed-hide").await;
    let page = w
        .client
        .execute(
            "return [document.documentElement.outerHTML, localStorage.length, sessionStorage.length]",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        !page[0].as_str().unwrap().contains(&access),
        "a hidden token is gone from the page"
    );
    assert_eq!(
        (page[1].as_u64(), page[2].as_u64()),
        (Some(0), Some(0)),
        "nothing is kept in the webview's storage"
    );
    let created = reqwest::Client::new()
        .post(format!("{}/drive/v3/files", emulator.base_url()))
        .bearer_auth(&access)
        .json(&serde_json::json!({"name": "settings.json", "parents": ["appDataFolder"], "mimeType": "application/json"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        created.status(),
        200,
        "the revealed access token works at Drive"
    );
    w.click("drive-load").await;
    w.wait_text("drive-file", "settings.json").await;
    w.wait("drive-folder").await;

    // Upload a file (a typed path; the dialog is the OS's), after the confirmation only.
    let upload = home.path().join("notes.txt");
    std::fs::write(&upload, "written by the window test").unwrap();
    let drive_calls = emulator.request_count(Endpoint::Drive);
    w.fill("drive-upload-path", upload.to_str().unwrap()).await;
    w.click("drive-upload").await;
    w.wait_text("drive-confirm-text", "notes.txt").await;
    assert_eq!(
        emulator.request_count(Endpoint::Drive),
        drive_calls,
        "nothing reaches Drive before the confirmation"
    );
    w.click("drive-confirm").await;
    w.wait_text("drive-done", "Uploaded notes.txt").await;

    // Download it into the save folder: the same bytes.
    w.wait_css("button[aria-label=\"Download notes.txt\"]")
        .await
        .click()
        .await
        .unwrap();
    w.wait_text("drive-done", "Saved notes.txt").await;
    assert_eq!(
        std::fs::read_to_string(saved.join("notes.txt")).unwrap(),
        "written by the window test"
    );

    // Delete the app's settings.json, after a confirmation that says it is for good.
    w.wait_css("button[aria-label=\"Delete settings.json\"]")
        .await
        .click()
        .await
        .unwrap();
    w.wait_text("drive-confirm-text", "for good").await;
    w.click("drive-confirm").await;
    w.wait_text("drive-done", "Deleted settings.json").await;
    let mut names = Vec::new();
    for row in w.all("drive-file").await {
        names.push(row.text().await.unwrap());
    }
    assert!(
        names.iter().all(|n| !n.contains("settings.json")) && names.len() == 1,
        "the listing is read again after the delete: {names:?}"
    );
    w.screenshot("drive").await;

    // Revoke: the confirmation says the whole grant dies; then the state says revoked.
    let revokes = emulator.request_count(Endpoint::Revoke);
    w.click("user-revoke").await;
    let warning = w.text("revoke-confirm-text").await.to_lowercase();
    assert!(
        warning.contains("grant"),
        "the confirmation explains that the whole grant dies: {warning}"
    );
    assert_eq!(
        emulator.request_count(Endpoint::Revoke),
        revokes,
        "nothing is revoked before the confirmation"
    );
    w.click("revoke-confirm").await;
    w.wait("revoke-result").await;
    w.wait_text("token-refresh-state", "revoked").await;
    w.wait_text("token-expiry", "revoked with the grant").await;
    assert_eq!(emulator.request_count(Endpoint::Revoke), revokes + 1);
    w.wait("user-audit-row").await;

    // The receiver takes a mobile app's POST and the event appears live.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    w.click("nav-receiver").await;
    w.fill("receiver-port", &port.to_string()).await;
    w.click("receiver-start").await;
    let url = w.wait_text("receiver-url", &port.to_string()).await;
    let (code, grace_sub) = mint(&emulator, "grace@example.com", "Grace Hopper");
    let posted = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/auth/code"))
        .header("X-Requested-With", "XMLHttpRequest")
        .json(&serde_json::json!({ "code": code }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        posted.status(),
        200,
        "the receiver at {url} exchanged the code"
    );
    let body: serde_json::Value = posted.json().await.unwrap();
    assert_eq!(body["sub"], grace_sub.as_str());
    w.wait_text("receiver-event", "grace@example.com").await;
    w.screenshot("receiver").await;

    // Users: both, with their token health.
    w.click("nav-users").await;
    w.wait_css(&format!("[data-testid=\"user-row\"][data-sub=\"{sub}\"]"))
        .await;
    w.wait_css(&format!(
        "[data-testid=\"user-row\"][data-sub=\"{grace_sub}\"]"
    ))
    .await;
    let revoked_expiry = w
        .wait_css(&format!(
            "[data-testid=\"user-row\"][data-sub=\"{sub}\"] [data-testid=\"user-row-expiry\"]"
        ))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(
        revoked_expiry, "revoked",
        "the revoked grant's access token died with it"
    );
    w.screenshot("users").await;

    // Export every user: profiles and token health, never a token.
    w.click("users-export-csv").await;
    w.wait_text("users-exported", "tokendesk-users.csv").await;
    let csv = std::fs::read_to_string(saved.join("tokendesk-users.csv")).unwrap();
    assert!(
        csv.contains("ada@example.com") && csv.contains("grace@example.com"),
        "{csv}"
    );
    assert!(!csv.contains(&access), "no token in the users export");

    // Audit: the exchange, refresh, reveal, drive and revoke are all there.
    w.click("nav-audit").await;
    w.wait("audit-row").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rows = w.all("audit-row").await;
    assert!(
        rows.len() >= 5,
        "every action is audited, got {} rows",
        rows.len()
    );
    let who = w.all("audit-user").await;
    let mut names = Vec::new();
    for cell in who {
        names.push(cell.text().await.unwrap());
    }
    assert!(
        names.iter().any(|n| n == "ada@example.com"),
        "the audit names the user by email: {names:?}"
    );
    for action in [
        "drive_upload",
        "drive_download",
        "drive_delete",
        "users_export",
    ] {
        w.wait_css(&format!(
            "[data-testid=\"audit-row\"][data-action=\"{action}\"][data-outcome=\"ok\"]"
        ))
        .await;
    }
    w.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newcomer_lands_in_the_sandbox_and_a_hostile_name_stays_text() {
    let _one = ONE_WINDOW.lock().await;
    let home = tempfile::tempdir().unwrap();
    let w = Window::launch(home.path()).await;
    w.wait_text("mode", "Sandbox").await;
    w.wait("sandbox-emulator-url").await;

    let probe = "<img src=x onerror=alert(1)>";
    w.fill("sandbox-email", "probe@example.com").await;
    w.fill("sandbox-name", probe).await;
    w.click("sandbox-add").await;
    let user = "[data-testid=\"sandbox-user\"][data-email=\"probe@example.com\"]";
    w.wait_css(user).await;
    w.wait_css(&format!("{user} [data-testid=\"sandbox-sign-in\"]"))
        .await
        .click()
        .await
        .unwrap();
    w.wait_text("sandbox-result", "200").await;
    w.screenshot("sandbox").await;

    w.click("sandbox-open-user").await;
    w.wait_text("profile-name", "onerror").await;
    assert_eq!(
        w.text("profile-name").await,
        probe,
        "an ID token's name is shown as the literal text it is"
    );
    let injected = w
        .client
        .execute(
            "return document.querySelectorAll('img[src=\"x\"], img[onerror]').length",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        injected,
        serde_json::json!(0),
        "no element was made from the name"
    );
    w.wait_text("token-refresh-state", "present").await;
    w.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newcomer_signs_ada_in_with_one_click_and_lands_on_her_page() {
    let _one = ONE_WINDOW.lock().await;
    let home = tempfile::tempdir().unwrap();
    let w = Window::launch(home.path()).await;
    w.wait_text("mode", "Sandbox").await;
    w.wait_text("sandbox-purpose", "nothing here reaches Google")
        .await;
    // Enabled once the test users are listed (none yet, in a fresh sandbox).
    w.wait_css("[data-testid=\"sandbox-quick-start-button\"]:not([disabled])")
        .await;
    w.wait_text(
        "sandbox-quick-start-button",
        "Add Ada Lovelace and simulate her iOS sign-in",
    )
    .await;
    w.click("sandbox-quick-start-button").await;
    w.wait_text("sandbox-result", "HTTP 200").await;
    w.wait_css("[data-testid=\"sandbox-user\"][data-email=\"ada@example.com\"]")
        .await;

    w.wait_text("sandbox-open-user", "Ada Lovelace").await;
    w.click("sandbox-open-user").await;
    w.wait_text("profile-name", "Ada Lovelace").await;
    w.wait_text("token-refresh-state", "present").await;

    // The health sweep by hand on the Users page: Ada's grant is checked at the sandbox's
    // Google (tokeninfo) and nobody needs attention.
    w.click("nav-users").await;
    w.wait_text("needs-attention-schedule", "Scheduled sweeps are off")
        .await;
    w.click("health-sweep-now").await;
    w.wait_text("health-last-sweep", "1 grant checked: 1 healthy")
        .await;
    w.wait("needs-attention-empty").await;

    // About names this very build (scripts/test runs this test on the packaged window too).
    w.click("nav-about").await;
    w.wait_text("about-version", tokendesk_core::VERSION).await;
    assert_eq!(
        w.text("about-commit").await,
        tokendesk_core::BUILD_COMMIT,
        "the window was built from another commit than this test: rebuild it"
    );
    w.close().await;
}

/// The sign-in lab in the window, on the sandbox: the app opens "the browser" (a script that
/// writes the address down), the test is the person at the emulator's consent page and follows
/// its redirect to the lab's loopback listener, and every step shows up on the page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_developer_runs_the_sign_in_lab_in_the_sandbox_and_sees_every_step() {
    let _one = ONE_WINDOW.lock().await;
    let home = tempfile::tempdir().unwrap();
    let opened = home.path().join("opened-url");
    let browser = home.path().join("browser");
    std::fs::write(
        &browser,
        format!(
            "#!/bin/sh\nprintf '%s' \"$1\" > {}.tmp && mv {0}.tmp {0}\n",
            opened.display()
        ),
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&browser, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let w = Window::launch_with(home.path(), &[("BROWSER", browser.to_str().unwrap())]).await;
    w.wait_text("mode", "Sandbox").await;
    w.click("nav-lab").await;
    w.wait_css("[data-testid=\"lab-client\"] option").await;
    w.click("lab-prompt-consent").await;
    w.click("lab-run").await;
    w.wait_css("[data-testid=\"lab-step\"][data-step=\"authorization_url\"]")
        .await;
    let url = loop {
        if let Ok(url) = std::fs::read_to_string(&opened) {
            break url;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    // The person: the consent page, a new test user, Allow; then the browser follows.
    let http = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let landing = person::play_the_person(&http, &url, "lab@example.com").await;
    assert_eq!(http.get(&landing).send().await.unwrap().status(), 200);

    w.wait_css("[data-testid=\"lab-step\"][data-step=\"stored\"]")
        .await;
    for step in ["redirected", "exchanged", "verified"] {
        w.wait_css(&format!("[data-testid=\"lab-step\"][data-step=\"{step}\"]"))
            .await;
    }
    w.wait_text("lab-refresh-token", "Refresh token: yes").await;
    assert!(
        w.client
            .find_all(fantoccini::Locator::Css("[data-testid=\"lab-failed\"]"))
            .await
            .unwrap()
            .is_empty(),
        "no step failed"
    );
    w.click("lab-open-user").await;
    w.wait_text("profile-email", "lab@example.com").await;
    w.close().await;
}
