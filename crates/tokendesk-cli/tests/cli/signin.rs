//! `tokendesk signin`, the sign-in lab, end to end: the binary opens the "browser" (a script
//! that writes the URL down), the test is the person at the emulator's consent page, and the
//! browser follows the redirect to the lab's loopback listener.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Stdio};

use serde_json::Value;

use crate::schemas::Schemas;
use crate::{Env, RecordingBrowser, person};

/// A loopback port nothing listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The developer's setup for a Web client: a loopback port whose redirect URI is registered
/// with the client (as in Cloud Console), and the browser the lab opens.
fn registered_port(env: &Env) -> (String, String, RecordingBrowser) {
    let port = free_port();
    let redirect_uri = format!("http://127.0.0.1:{port}/");
    env.emu.register_redirect_uri(&redirect_uri).unwrap();
    (
        port.to_string(),
        redirect_uri,
        // One per run: a second run must not read the first one's address.
        RecordingBrowser::new(env, &format!("browser-{port}")),
    )
}

fn spawn_signin(env: &Env, args: &[&str], browser: &RecordingBrowser) -> Child {
    env.command(args)
        .env("BROWSER", &browser.script)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

async fn finished(child: Child) -> std::process::Output {
    tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap()
}

/// The steps up to the ID token's checks, in order.
const TO_VERIFIED: [&str; 4] = ["authorization_url", "redirected", "exchanged", "verified"];

fn step_names(doc: &Value) -> Vec<String> {
    doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap().to_owned())
        .collect()
}

/// A whole lab run with `--json` as `args` (after `--json signin`, e.g. `--server URL` before
/// them in `global`), the test playing the person who signs in as `email` and allows; the
/// command must end with `expect_exit`. The document printed, and the redirect URI.
pub(crate) async fn lab_run(
    env: &Env,
    global: &[&str],
    args: &[&str],
    email: &str,
    expect_exit: i32,
) -> (Value, String) {
    let (port_arg, redirect_uri, browser) = registered_port(env);
    let mut all: Vec<&str> = global.to_vec();
    all.extend(["--json", "signin", "--port", &port_arg]);
    all.extend(args);
    let lab = spawn_signin(env, &all, &browser);
    let url = browser.opened_url().await;
    let landing = person::play_the_person(&RecordingBrowser::http(), &url, email).await;
    assert!(landing.starts_with(&redirect_uri), "{landing}");
    let code = reqwest::Url::parse(&landing)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let landed = env.http.get(&landing).send().await.unwrap();
    assert_eq!(
        landed.status(),
        200,
        "the lab's listener takes the redirect"
    );
    let out = finished(lab).await;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(expect_exit),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !stdout.contains(&code),
        "the code itself never reaches the output"
    );
    let doc: Value = serde_json::from_str(&stdout).unwrap();
    Schemas::load().check("signin", &doc);
    (doc, redirect_uri)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lab_signs_in_through_the_browser_with_pkce_a_refresh_token_and_drive_appdata() {
    let env = Env::start().await;
    env.add_client().await;
    let (doc, redirect_uri) = lab_run(
        &env,
        &[],
        &["--prompt", "consent", "--login-hint", "ada@example.com"],
        "ada@example.com",
        0,
    )
    .await;
    let url = doc["steps"][0]["url"].as_str().unwrap();
    let asked = reqwest::Url::parse(url).unwrap();
    let param = |name: &str| {
        asked
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(
        param("redirect_uri").as_deref(),
        Some(redirect_uri.as_str())
    );
    assert_eq!(param("code_challenge_method").as_deref(), Some("S256"));
    assert_eq!(param("access_type").as_deref(), Some("offline"));
    assert_eq!(param("prompt").as_deref(), Some("consent"));
    assert_eq!(param("login_hint").as_deref(), Some("ada@example.com"));
    assert!(
        param("scope")
            .unwrap()
            .contains("https://www.googleapis.com/auth/drive.appdata"),
        "the lab asks for drive.appdata by default: {url}"
    );
    assert_eq!(doc["ok"], true, "{doc:#}");
    assert_eq!(
        step_names(&doc),
        [&TO_VERIFIED[..], &["stored"]].concat(),
        "every step, in order"
    );
    let steps = doc["steps"].as_array().unwrap();
    assert_eq!(steps[1]["code"], "[redacted]", "the code is shown masked");
    let exchanged = &steps[2];
    assert_eq!(exchanged["refresh_token"], true, "{exchanged:#}");
    let form = &exchanged["raw"][0]["form"];
    let field = |name: &str| {
        form.as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .map(|f| f["value"].as_str().unwrap().to_owned())
    };
    assert_eq!(
        field("code_verifier").as_deref(),
        Some("[redacted]"),
        "the verifier went to the token endpoint, masked in the raw view: {form}"
    );
    assert_eq!(
        field("redirect_uri").as_deref(),
        Some(redirect_uri.as_str())
    );
    let checks = steps[3]["checks"].as_array().unwrap();
    assert!(!checks.is_empty() && checks.iter().all(|c| c["ok"] == true));
    let user = &doc["user"];
    assert_eq!(user["email"], "ada@example.com");
    assert_eq!(user["refresh_token"], "present");
    assert_eq!(user["has_drive_appdata"], true);

    // The stored user is the console's like any other.
    let shown = env.run(&["--json", "user", "ada@example.com"]).await;
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    assert_eq!(shown.json()["refresh_token"], "present");

    // Again without prompt=consent: Google gives no new refresh token, and the lab says why.
    let (again, _) = lab_run(&env, &[], &[], "ada@example.com", 0).await;
    assert_eq!(again["ok"], true, "{again:#}");
    let exchanged = &again["steps"][2];
    assert_eq!(exchanged["refresh_token"], false, "{exchanged:#}");
    assert!(
        exchanged["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("--prompt consent")),
        "{exchanged:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unregistered_redirect_fails_the_first_step_with_the_uri_to_register() {
    let env = Env::start().await;
    env.add_client().await;
    let port = free_port();
    let browser = RecordingBrowser::new(&env, "browser");
    let port_arg = port.to_string();
    let lab = spawn_signin(&env, &["--json", "signin", "--port", &port_arg], &browser);
    let out = finished(lab).await;
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    Schemas::load().check("signin", &doc);
    assert_eq!(out.status.code(), Some(4), "Google refused: {doc:#}");
    assert_eq!(doc["ok"], false);
    assert_eq!(step_names(&doc), ["authorization_url", "failed"]);
    let failed = &doc["steps"][1];
    assert_eq!(failed["at"], "authorization_url");
    assert_eq!(failed["code"], "redirect_uri_mismatch");
    let advice = failed["advice"].as_str().unwrap();
    assert!(
        advice.contains(&format!("register http://127.0.0.1:{port}/"))
            && advice.contains(&format!("--port {port}")),
        "the advice names the URI to register and the port to keep: {advice}"
    );
    assert!(
        !browser.opened.exists(),
        "no browser is opened on a page that would never come back"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_who_declines_ends_the_lab_at_the_redirect_and_each_step_prints_as_it_happens() {
    let env = Env::start().await;
    env.add_client().await;
    let (port_arg, _, browser) = registered_port(&env);
    let mut lab = spawn_signin(&env, &["signin", "--port", &port_arg], &browser);
    // The first step is printed before anyone acts on the consent page.
    let mut lines = BufReader::new(lab.stdout.take().unwrap()).lines();
    let first = tokio::task::spawn_blocking(move || {
        let first = lines.next().unwrap().unwrap();
        (first, lines)
    })
    .await
    .unwrap();
    let (first, lines) = first;
    assert!(first.starts_with("1. Authorization URL"), "{first}");

    let url = browser.opened_url().await;
    let http = RecordingBrowser::http();
    let html = http.get(&url).send().await.unwrap().text().await.unwrap();
    let mut form = google_emulator::person::inputs(&html, "hidden");
    form.push(("decision".into(), "deny".into()));
    let answer = http
        .post(format!("{}/o/oauth2/v2/auth", env.emu.base_url()))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 302);
    let landing = answer.headers()["location"].to_str().unwrap().to_owned();
    assert!(landing.contains("error=access_denied"), "{landing}");
    env.http.get(&landing).send().await.unwrap();

    let rest: Vec<String> =
        tokio::task::spawn_blocking(move || lines.map(Result::unwrap).collect())
            .await
            .unwrap();
    let status = tokio::task::spawn_blocking(move || lab.wait().unwrap())
        .await
        .unwrap();
    let text = rest.join("\n");
    assert_eq!(status.code(), Some(4), "{text}");
    assert!(
        text.contains("FAILED at the redirect (access_denied)")
            && text.contains("what to change: the person declined"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_outside_the_hd_asked_for_fails_the_verification_with_why() {
    let env = Env::start().await;
    env.add_client().await;
    let (doc, _) = lab_run(&env, &[], &["--hd", "other.example"], "ada@example.com", 7).await;
    assert_eq!(step_names(&doc), [&TO_VERIFIED[..], &["failed"]].concat());
    let hd = doc["steps"][3]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "hd")
        .cloned()
        .unwrap();
    assert_eq!(hd["ok"], false, "{hd}");
    let failed = &doc["steps"][4];
    assert_eq!(failed["at"], "verified");
    assert_eq!(failed["code"], "hd_mismatch");
    assert!(
        failed["advice"]
            .as_str()
            .unwrap()
            .contains("must check the ID token's hd claim"),
        "{failed}"
    );
}
