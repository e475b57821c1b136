//! Sign-ins per second through the real receiver (`tokendesk serve`, the release or dev binary
//! this bench is built with), the real OS keyring and a real SQLite file, as the number of
//! stored users grows: 20 apps POST codes at once, the emulator (in this process) answers at
//! once. With every token in the keyring, each sign-in rewrote gnome-keyring's whole file and
//! the rate fell with every user stored (22.7/s at 150, 3.0/s at 1,200); with tokens sealed in
//! the store the keyring holds one key and the rate should stay flat. Prints the rate at 150,
//! 1,200 and 10,000 users (`TOKENDESK_BENCH_USERS` caps the last), and the keyring file's size
//! at each: it must not grow. Then `tokendesk refresh --all` of every user at 100 ms upstream
//! latency against the ideal (users × 0.1 s / concurrency). Asserts nothing about time.
//!
//! The real keyring needs a D-Bus session with gnome-keyring, never your own:
//! `scripts/with-keyring cargo bench -p tokendesk-cli --bench signins`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use google_emulator::{Emulator, Endpoint, Fault, IssuerMode, MintCode, UserSpec};

const APPS: usize = 20;
/// Sign-ins timed at each size.
const SAMPLE: usize = 300;
const LATENCY: Duration = Duration::from_millis(100);
const CONCURRENCY: usize = 64;

fn tokendesk(home: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tokendesk"));
    command
        .env("TOKENDESK_HOME", home)
        .env("TOKENDESK_KEYRING", "test")
        .env("NO_PROXY", "127.0.0.1");
    command
}

/// The keyring files of the session's gnome-keyring, in bytes.
fn keyring_bytes() -> u64 {
    let dir = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".local/share"))
        .join("keyrings");
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn main() {
    assert!(
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
        "this bench measures the real keyring: run it in a private session, \
         `scripts/with-keyring cargo bench -p tokendesk-cli --bench signins`"
    );
    let last: usize = std::env::var("TOKENDESK_BENCH_USERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let mut sizes: Vec<usize> = [150, 1_200, last]
        .into_iter()
        .filter(|n| *n <= last)
        .collect();
    sizes.dedup();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(bench(&sizes));
}

async fn bench(sizes: &[usize]) {
    let emu = Emulator::builder()
        .issuer_mode(IssuerMode::Origin)
        .start()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let secrets = dir.path().join("cs.json");
    std::fs::write(&secrets, emu.client_secret_json().to_string()).unwrap();
    let base = emu.base_url().to_owned();
    let added = tokendesk(&home)
        .args(["client", "add", "--name", "emu", "--secrets"])
        .arg(&secrets)
        .args(["--issuer", &base, "--api-base", &base, "--ios-client-id"])
        .arg(emu.ios_client_id())
        .output()
        .unwrap();
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );

    let mut child = tokendesk(&home)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut url = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut url)
        .unwrap();
    let _serve = Serve(child);
    let url = Arc::new(url.trim().to_owned());
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let emu = Arc::new(emu);
    println!("sign-ins through `tokendesk serve`, {APPS} apps at once, emulator answering at once");
    println!(
        "{:>8}  {:>12}  {:>14}",
        "users", "sign-ins/s", "keyring bytes"
    );
    let mut stored = 0usize;
    let mut rates = Vec::new();
    for &size in sizes {
        // Seed up to the size (untimed), then time a sample.
        let seed = size.saturating_sub(stored);
        sign_ins(&http, &url, &emu, stored, seed).await;
        stored += seed;
        let started = Instant::now();
        sign_ins(&http, &url, &emu, stored, SAMPLE).await;
        stored += SAMPLE;
        let rate = SAMPLE as f64 / started.elapsed().as_secs_f64();
        rates.push(rate);
        println!("{size:>8}  {rate:>12.1}  {:>14}", keyring_bytes());
    }
    if let (Some(first), Some(last)) = (rates.first(), rates.last()) {
        println!(
            "last/first: {:.2} (flat: within 0.8x); the keyring file does not grow with users",
            last / first
        );
    }

    // refresh --all of everyone at 100 ms upstream latency.
    emu.inject(
        Fault::new(Endpoint::Token)
            .latency(LATENCY)
            .times(u32::try_from(stored).unwrap()),
    );
    let started = Instant::now();
    let refreshed = tokendesk(&home)
        .args(["--json", "refresh", "--all", "--concurrency"])
        .arg(CONCURRENCY.to_string())
        .output()
        .unwrap();
    let wall = started.elapsed();
    let report: serde_json::Value = serde_json::from_slice(&refreshed.stdout).unwrap_or_default();
    let ideal = LATENCY.as_secs_f64() * stored as f64 / CONCURRENCY as f64;
    println!(
        "refresh --all: {} users ({} refreshed, {} failed) at concurrency {CONCURRENCY}, {} ms \
         upstream: {:.1} s, ideal {:.1} s, {:.2}x (target 1.3x); keyring {} bytes",
        stored,
        report["refreshed"],
        report["failed"],
        LATENCY.as_millis(),
        wall.as_secs_f64(),
        ideal,
        wall.as_secs_f64() / ideal,
        keyring_bytes()
    );
}

/// `count` sign-ins of new users (numbered from `from`), `APPS` at a time, as apps POST them.
async fn sign_ins(
    http: &reqwest::Client,
    url: &Arc<String>,
    emu: &Arc<Emulator>,
    from: usize,
    count: usize,
) {
    let gate = Arc::new(tokio::sync::Semaphore::new(APPS));
    let mut tasks = tokio::task::JoinSet::new();
    for i in from..from + count {
        let permit = Arc::clone(&gate).acquire_owned().await.unwrap();
        let (http, url, emu) = (http.clone(), Arc::clone(url), Arc::clone(emu));
        tasks.spawn(async move {
            let _permit = permit;
            let (code, _) = emu
                .mint_code(&MintCode {
                    user: UserSpec {
                        email: format!("user{i}@example.com"),
                        name: Some(format!("User {i}")),
                        ..UserSpec::default()
                    },
                    ..MintCode::default()
                })
                .unwrap();
            let status = http
                .post(url.as_str())
                .header("X-Requested-With", "XMLHttpRequest")
                .json(&serde_json::json!({ "code": code }))
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0);
            assert_eq!(status, 200, "sign-in {i}");
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
}
