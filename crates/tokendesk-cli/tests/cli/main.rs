//! The `tokendesk` binary end to end: the emulator in-process on loopback, a real SQLite file in
//! a temp dir, the real OS keyring (Secret Service; scripts/test runs this inside a private
//! D-Bus session with gnome-keyring, under the `tokendesk.test` service).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use google_emulator::{Emulator, Endpoint, IssuerMode};
use serde_json::{Value, json};

mod daily;
mod emulator_path;
mod errors;
mod follow;
mod health;
mod http;
mod inspect;
mod keys;
// The person at the emulator's consent page (the team's staff login, the sign-in lab).
#[path = "../../../tokendesk-server/tests/server/person.rs"]
mod person;
mod pipes;
mod schemas;
mod signin;
mod team;
// The core's counting proxy; only part of it is used here.
#[allow(dead_code)]
#[path = "../../../tokendesk-core/tests/support/proxy.rs"]
mod proxy;
mod views;

struct Env {
    emu: Emulator,
    dir: tempfile::TempDir,
    http: reqwest::Client,
}

struct Output {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Output {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", self.stdout, self.stderr))
    }
}

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_tokendesk"))
}

impl Env {
    async fn start() -> Self {
        assert!(
            std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
            "these tests use the real keyring: run them through ./scripts/test (a private D-Bus \
             session with gnome-keyring)"
        );
        let emu = Emulator::builder()
            .issuer_mode(IssuerMode::Origin)
            .start()
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("cs.json"),
            emu.client_secret_json().to_string(),
        )
        .unwrap();
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        Self { emu, dir, http }
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// `tokendesk ARGS` with this test's store and the test keyring.
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(bin());
        command
            .args(args)
            .env("TOKENDESK_HOME", self.home())
            .env("TOKENDESK_KEYRING", "test")
            .env("NO_PROXY", "127.0.0.1");
        command
    }

    /// Runs `tokendesk ARGS` off the async runtime, so the emulator keeps serving meanwhile.
    async fn run(&self, args: &[&str]) -> Output {
        self.run_with(args, |_| ()).await
    }

    /// As [`Env::run`], with stdin, stdout or stderr set up by `setup` (unset ones captured).
    async fn run_with(&self, args: &[&str], setup: impl FnOnce(&mut Command)) -> Output {
        let mut command = self.command(args);
        setup(&mut command);
        tokio::task::spawn_blocking(move || {
            let out = command.output().unwrap();
            Output {
                code: out.status.code().unwrap_or(-1),
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            }
        })
        .await
        .unwrap()
    }

    /// `client add` of the emulator's web client (its secrets, issuer, API base and iOS client),
    /// as arguments, for the embedded store or after `--server URL`.
    fn client_add_args(&self) -> Vec<String> {
        let cs = self.dir.path().join("cs.json");
        let base = self.emu.base_url();
        [
            "client",
            "add",
            "--name",
            "emu",
            "--secrets",
            cs.to_str().unwrap(),
            "--issuer",
            base,
            "--api-base",
            base,
            "--ios-client-id",
            self.emu.ios_client_id(),
        ]
        .map(str::to_owned)
        .to_vec()
    }

    async fn add_client(&self) {
        let args = self.client_add_args();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = self.run(&args).await;
        assert_eq!(out.code, 0, "client add: {}", out.stderr);
    }

    async fn mint(&self, body: Value) -> String {
        let r: Value = self
            .http
            .post(format!("{}/emulator/v1/codes", self.emu.base_url()))
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        r["code"].as_str().unwrap().to_owned()
    }
}

/// A "browser" for `$BROWSER` that writes down the address it is given: the tests of browser
/// sign-ins (the staff login, the sign-in lab) read it and play the person at that page.
struct RecordingBrowser {
    script: PathBuf,
    opened: PathBuf,
}

impl RecordingBrowser {
    fn new(env: &Env, name: &str) -> Self {
        let opened = env.dir.path().join(format!("{name}-url"));
        let script = env.dir.path().join(name);
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\nprintf '%s' \"$1\" > {}.tmp && mv {0}.tmp {0}\n",
                opened.display()
            ),
        )
        .unwrap();
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        Self { script, opened }
    }

    /// The address it was asked to open, once it has been.
    async fn opened_url(&self) -> String {
        loop {
            if let Ok(url) = std::fs::read_to_string(&self.opened) {
                return url;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// The browser's HTTP: it follows nothing by itself (the test is the person and follows
    /// the consent page's redirect).
    fn http() -> reqwest::Client {
        reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seeds_flow_exchange_drive_refresh_revoke_and_no_secret_leaks() {
    let env = Env::start().await;
    env.add_client().await;
    let code = env
        .mint(json!({"email": "ada@example.com", "name": "Ada Lovelace"}))
        .await;
    let ex = env.run(&["--json", "exchange", &code]).await;
    assert_eq!(ex.code, 0, "{}", ex.stderr);
    let user = &ex.json()["user"];
    assert_eq!(user["email"], "ada@example.com");
    assert_eq!(user["email_verified"], true);
    assert_eq!(user["name"], "Ada Lovelace");
    assert_eq!(user["given_name"], "Ada");
    assert_eq!(user["family_name"], "Lovelace");
    assert_eq!(user["hd"], "example.com");
    assert_eq!(user["refresh_token"], "present");
    assert_eq!(user["client"], "emu");
    assert!(
        user["scopes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == "https://www.googleapis.com/auth/drive.appdata")
    );
    let sub = user["sub"].as_str().unwrap().to_owned();

    // The revealed tokens are what must never show up anywhere else.
    let revealed = env
        .run(&["--json", "user", "ada@example.com", "--reveal"])
        .await;
    assert_eq!(revealed.code, 0, "{}", revealed.stderr);
    let access = revealed.json()["access_token"].as_str().unwrap().to_owned();
    let refresh = revealed.json()["refresh_token_value"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(access.starts_with("ya29.") && refresh.starts_with("1//"));

    // A file in the user's appDataFolder, then `drive` lists it.
    let r = env
        .http
        .post(format!("{}/drive/v3/files", env.emu.base_url()))
        .bearer_auth(&access)
        .json(&json!({"name": "settings.json", "parents": ["appDataFolder"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let drive = env.run(&["--json", "drive", &sub]).await;
    assert_eq!(drive.code, 0, "{}", drive.stderr);
    let files = drive.json()["files"].as_array().unwrap().clone();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0]["name"], "settings.json");

    let refreshed = env.run(&["--json", "refresh", "ada@example.com"]).await;
    assert_eq!(refreshed.code, 0, "{}", refreshed.stderr);
    assert_eq!(
        refreshed.json()["name"],
        "Ada Lovelace",
        "profile claims survive a refresh that lacks them"
    );

    let revoked = env.run(&["--json", "revoke", "ada@example.com"]).await;
    assert_eq!(revoked.code, 0, "{}", revoked.stderr);
    assert_eq!(revoked.json()["outcome"], "revoked");
    assert!(
        revoked.json()["message"]
            .as_str()
            .unwrap()
            .contains("whole grant")
    );
    assert_eq!(revoked.json()["user"]["refresh_token"], "revoked");

    let audit = env.run(&["--json", "audit"]).await;
    let actions: Vec<String> = audit.json()["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    for action in [
        "client_add",
        "exchange",
        "reveal",
        "drive",
        "refresh",
        "revoke",
    ] {
        assert!(
            actions.iter().any(|a| a == action),
            "{action} is audited: {actions:?}"
        );
    }

    // Canary: no token, code or client secret in the store files or any output but --reveal's.
    let secret = env.emu.web_client().client_secret.clone();
    let mut haystacks: Vec<(String, Vec<u8>)> = files_under(&env.home())
        .into_iter()
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect();
    for (name, out) in [
        ("exchange", &ex),
        ("drive", &drive),
        ("refresh", &refreshed),
        ("revoke", &revoked),
        ("audit", &audit),
    ] {
        haystacks.push((
            format!("{name} output"),
            format!("{}{}", out.stdout, out.stderr).into_bytes(),
        ));
    }
    assert!(
        haystacks
            .iter()
            .any(|(n, _)| n.ends_with("tokendesk.sqlite3")),
        "the store file exists"
    );
    for (name, bytes) in &haystacks {
        let text = String::from_utf8_lossy(bytes);
        for (what, needle) in [
            ("access token", &access),
            ("refresh token", &refresh),
            ("client secret", &secret),
            ("code", &code),
        ] {
            assert!(
                !text.contains(needle.as_str()),
                "the {what} leaked into {name}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_is_exchanged_once_and_a_double_encoded_one_never_reaches_google() {
    let env = Env::start().await;
    env.add_client().await;
    let code = env.mint(json!({"email": "ada@example.com"})).await;
    assert_eq!(env.run(&["exchange", &code]).await.code, 0);
    let again = env.run(&["--json", "exchange", &code]).await;
    assert_eq!(again.code, 4, "refused: {}", again.stdout);
    assert_eq!(again.json()["error"]["code"], "already_exchanged");
    assert_eq!(
        env.emu.request_count(Endpoint::Token),
        1,
        "the replay was not sent to Google"
    );

    let other = env.mint(json!({"email": "bob@example.com"})).await;
    let encoded = other.replace('/', "%2F");
    let out = env.run(&["--json", "exchange", &encoded]).await;
    assert_ne!(out.code, 0);
    assert_eq!(
        out.json()["error"]["code"],
        "double_encoded_code",
        "{}",
        out.stdout
    );
    assert_eq!(
        env.emu.request_count(Endpoint::Token),
        1,
        "a double-encoded code is explained, not sent"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_grant_marks_the_refresh_token_invalid_with_its_causes() {
    let env = Env::start().await;
    env.add_client().await;
    let code = env.mint(json!({"email": "ada@example.com"})).await;
    assert_eq!(env.run(&["exchange", &code]).await.code, 0);
    env.http
        .post(format!("{}/emulator/v1/grants/revoke", env.emu.base_url()))
        .json(&json!({"email": "ada@example.com"}))
        .send()
        .await
        .unwrap();
    let out = env.run(&["--json", "refresh", "ada@example.com"]).await;
    assert_eq!(out.code, 4, "{}", out.stdout);
    assert_eq!(out.json()["error"]["code"], "invalid_grant");
    assert!(
        out.json()["error"]["explanation"]
            .as_str()
            .unwrap()
            .contains("6 months"),
        "{}",
        out.stdout
    );
    assert_eq!(
        env.emu.request_count(Endpoint::Token),
        2,
        "invalid_grant is never retried"
    );
    let user = env.run(&["--json", "user", "ada@example.com"]).await.json();
    assert_eq!(user["refresh_token"], "invalid");
    assert!(user["refresh_token_invalid_reason"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_files_pointing_away_from_google_need_an_explicit_issuer() {
    let env = Env::start().await;
    let cs = env.dir.path().join("cs.json");
    let out = env
        .run(&[
            "--json",
            "client",
            "add",
            "--name",
            "x",
            "--secrets",
            cs.to_str().unwrap(),
        ])
        .await;
    assert_eq!(out.code, 1);
    assert_eq!(out.json()["error"]["code"], "foreign_endpoints");
    assert!(
        out.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--issuer")
    );
    let installed = env.dir.path().join("installed.json");
    std::fs::write(
        &installed,
        r#"{"installed": {"client_id": "a", "client_secret": "b"}}"#,
    )
    .unwrap();
    let out = env
        .run(&[
            "client",
            "add",
            "--name",
            "y",
            "--secrets",
            installed.to_str().unwrap(),
        ])
        .await;
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.to_lowercase().contains("web application"),
        "{}",
        out.stderr
    );
    let list = env.run(&["--json", "client", "list"]).await.json();
    assert_eq!(list["clients"], json!([]), "a refused file adds nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_receives_a_simulated_ios_sign_in() {
    let env = Env::start().await;
    env.add_client().await;
    let mut child = Command::new(bin())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("TOKENDESK_HOME", env.home())
        .env("TOKENDESK_KEYRING", "test")
        .env("NO_PROXY", "127.0.0.1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let url = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        line.trim().to_owned()
    })
    .await
    .unwrap();
    assert!(url.ends_with("/auth/code"), "{url}");
    let code = env
        .mint(json!({"email": "grace@example.com", "name": "Grace Hopper"}))
        .await;
    let forged = env
        .http
        .post(&url)
        .json(&json!({"code": code}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        forged.status(),
        403,
        "no X-Requested-With: nothing exchanged"
    );
    let r = env
        .http
        .post(&url)
        .header("X-Requested-With", "com.example.ios")
        .json(&json!({"code": code}))
        .send()
        .await
        .unwrap();
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["email"], "grace@example.com");
    assert!(
        !body.to_string().contains("ya29."),
        "never tokens in the answer"
    );
    let replay = env
        .http
        .post(&url)
        .header("X-Requested-With", "x")
        .json(&json!({"code": code}))
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 409);
    let _ = child.kill();
    let _ = child.wait();
    let users = env
        .run(&["--json", "users", "--search", "grace"])
        .await
        .json();
    assert_eq!(
        users["users"][0]["name"], "Grace Hopper",
        "the received user is stored"
    );
}
