//! A team server for the window's tests and benchmarks: the `tokendesk` command, a `tokendesk
//! server run` process, and the system browser a staff sign-in opens (a script writing down
//! the address; the test then plays the person at the emulator's consent page).

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use google_emulator::Emulator;

use crate::workspace;

#[path = "../../crates/tokendesk-server/tests/server/person.rs"]
mod person;

fn tokendesk_bin() -> PathBuf {
    let bin = std::env::var_os("TOKENDESK_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/debug/tokendesk"));
    assert!(
        bin.exists(),
        "{} is missing: cargo build --workspace (./scripts/test does)",
        bin.display()
    );
    bin
}

/// `tokendesk ARGS` with a home of its own; its stdout, after checking it succeeded.
fn tokendesk(home: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let out = Command::new(tokendesk_bin())
        .args(args)
        .env("TOKENDESK_HOME", home)
        .env("TOKENDESK_KEYRING", "test")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "tokendesk {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `tokendesk server run`, killed when dropped.
#[derive(Debug)]
pub struct Server {
    child: Child,
    pub receiver: String,
    pub admin: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(home: &Path, emu: &Emulator, database: &str, key: &str) -> Server {
    let mut child = Command::new(tokendesk_bin())
        .args([
            "server",
            "run",
            "--database",
            database,
            "--key-file",
            key,
            "--receiver-listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
            "--staff-issuer",
            emu.base_url(),
            "--staff-client-id",
            &emu.desktop_client().client_id,
            "--staff-domain",
            "example.com",
        ])
        .env("TOKENDESK_HOME", home)
        .env("TOKENDESK_KEYRING", "test")
        .env(
            "TOKENDESK_STAFF_CLIENT_SECRET",
            &emu.desktop_client().client_secret,
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next = || {
        lines
            .next()
            .expect("server run prints its receiver, then its admin URL")
            .unwrap()
    };
    let receiver = next();
    let admin = next();
    Server {
        child,
        receiver,
        admin,
    }
}

/// The system browser the window opens: a script writing down the address it was given.
#[derive(Debug)]
pub struct Browser {
    pub script: PathBuf,
    opened: PathBuf,
    http: reqwest::Client,
}

impl Browser {
    pub fn new(dir: &Path) -> Self {
        let opened = dir.join("opened-url");
        let script = dir.join("browser");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\nprintf '%s' \"$1\" > {0}.tmp && mv {0}.tmp {0}\n",
                opened.display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let http = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Browser {
            script,
            opened,
            http,
        }
    }

    /// Waits for the window to open the sign-in, then signs in as `email` at the consent
    /// page and follows the redirect to the window's loopback listener.
    pub async fn sign_in_as(&self, email: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let url = loop {
            if let Ok(url) = std::fs::read_to_string(&self.opened) {
                std::fs::remove_file(&self.opened).unwrap();
                break url;
            }
            assert!(
                Instant::now() < deadline,
                "the window never opened a browser"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let landing = person::play_the_person(&self.http, &url, email).await;
        let landed = self.http.get(&landing).send().await.unwrap();
        assert_eq!(landed.status(), 200, "the window's loopback listener");
    }
}

/// A team server as the README sets one up, in `dir` on `database`: a key, the staff members
/// `staff` (email, role), an admin's API token (`colleague`, for the test's own calls), the
/// server running, and the emulator's web client added through it.
#[derive(Debug)]
pub struct Team {
    pub emu: Emulator,
    pub server: Server,
    /// The colleague's API token (admin).
    pub colleague: String,
    /// The `tokendesk` command's home for the colleague's calls.
    pub home: PathBuf,
}

impl Team {
    pub async fn start(dir: &Path, database: &str, staff: &[(&str, &str)]) -> Team {
        let emu = Emulator::builder()
            .issuer_mode(google_emulator::IssuerMode::Origin)
            .start()
            .await
            .expect("emulator");
        let home = dir.join("cli");
        let key = dir.join("tokendesk.key");
        let key = key.to_str().unwrap();
        let store = ["--database", database, "--key-file", key];
        tokendesk(&home, &["server", "keygen", key], &[]);
        for (email, role) in staff {
            let args = [
                &["server", "staff", "add", email, "--role", role][..],
                &store[..],
            ]
            .concat();
            tokendesk(&home, &args, &[]);
        }
        let args = [
            &[
                "--json",
                "server",
                "token",
                "create",
                "--name",
                "colleague",
                "--role",
                "admin",
            ][..],
            &store[..],
        ]
        .concat();
        let made: serde_json::Value = serde_json::from_str(&tokendesk(&home, &args, &[])).unwrap();
        let colleague = made["token"].as_str().unwrap().to_owned();
        let server = start_server(&home, &emu, database, key);
        let secrets = dir.join("cs.json");
        std::fs::write(&secrets, emu.client_secret_json().to_string()).unwrap();
        let team = Team {
            emu,
            server,
            colleague,
            home,
        };
        team.as_colleague(&[
            "client",
            "add",
            "--name",
            "emu",
            "--secrets",
            secrets.to_str().unwrap(),
            "--issuer",
            team.emu.base_url(),
            "--api-base",
            team.emu.base_url(),
            "--ios-client-id",
            team.emu.ios_client_id(),
        ]);
        team
    }

    /// `tokendesk --server ADMIN ARGS` as the colleague (an admin's API token).
    pub fn as_colleague(&self, args: &[&str]) -> String {
        let args = [&["--server", self.server.admin.as_str()][..], args].concat();
        tokendesk(
            &self.home,
            &args,
            &[("TOKENDESK_TOKEN", self.colleague.as_str())],
        )
    }

    /// The app POSTs a serverAuthCode of `email` (named `name`) to the server's receiver;
    /// returns the user's sub.
    pub async fn sign_in(&self, email: &str, name: Option<&str>) -> String {
        let (code, sub) = self
            .emu
            .mint_code(&google_emulator::MintCode {
                user: google_emulator::UserSpec {
                    email: email.into(),
                    name: name.map(str::to_owned),
                    ..google_emulator::UserSpec::default()
                },
                ..google_emulator::MintCode::default()
            })
            .unwrap();
        let posted = reqwest::Client::builder()
            .no_proxy()
            .build()
            .unwrap()
            .post(&self.server.receiver)
            .header("X-Requested-With", "XMLHttpRequest")
            .json(&serde_json::json!({ "code": code }))
            .send()
            .await
            .unwrap();
        let status = posted.status();
        assert_eq!(status, 200, "{}", posted.text().await.unwrap_or_default());
        sub
    }
}
