//! `Desk::refresh_all` against a slow token endpoint: does the concurrency limit turn into
//! throughput, and does memory stay flat? Seeds N users through `Desk::exchange` (the in-memory
//! keyring, the in-process emulator), then delays every token request by 100 ms and refreshes
//! everyone at concurrency 16 and 64. With perfect overlap the wall time is N × 0.1 s / C; the
//! target is at most 1.3× that. Prints numbers, asserts nothing about time.
//!
//! `cargo bench -p tokendesk-core --bench refresh_all` (N from `TOKENDESK_BENCH_USERS`,
//! default 1000; the SQLite file in a temp dir under `TOKENDESK_BENCH_DIR`, default the
//! system's temp dir: put it on tmpfs to take the disk's fsync out of the measurement).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt as _};
use google_emulator::{Emulator, Endpoint, Fault, IssuerMode, MintCode, UserSpec};
use tokendesk_core::desk::StopFlag;
use tokendesk_core::desk::{AddClient, Desk, DeskOptions};
use tokendesk_core::oauth::RedirectChoice;
use tokendesk_core::secret::AuthCode;
use tokendesk_core::vault::MemoryStore;

const LATENCY: Duration = Duration::from_millis(100);
const TARGET_RATIO: f64 = 1.3;

/// This process's resident set size in KiB (Linux), from /proc/self/status.
fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
}

/// CPU time this process used so far (all threads, user + system), from /proc/self/stat, whose
/// times are in USER_HZ ticks (100 per second on Linux). With the emulator in-process, this
/// includes Google's side (signing ID tokens).
fn cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or_else(
        || "?".to_owned(),
        |k| format!("{:.1} MiB", k as f64 / 1024.0),
    )
}

fn main() {
    let users: usize = std::env::var("TOKENDESK_BENCH_USERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(bench(users));
}

async fn bench(users: usize) {
    let emu = Emulator::builder()
        .issuer_mode(IssuerMode::Origin)
        .start()
        .await
        .expect("emulator starts");
    let dir = match std::env::var_os("TOKENDESK_BENCH_DIR") {
        Some(parent) => tempfile::tempdir_in(parent).unwrap(),
        None => tempfile::tempdir().unwrap(),
    };
    println!("store in {}", dir.path().display());
    let desk = Arc::new(
        Desk::open(&DeskOptions::new(dir.path()), Arc::new(MemoryStore::new()))
            .await
            .unwrap(),
    );
    let base = emu.base_url().to_owned();
    desk.add_client(AddClient {
        name: "emu".into(),
        secrets_json: emu.client_secret_json().to_string().into_bytes(),
        issuer: Some(base.clone()),
        api_base: Some(base),
        ios_client_ids: vec![emu.ios_client_id().to_owned()],
    })
    .await
    .unwrap();

    let seeding = Instant::now();
    let codes: Vec<String> = (0..users)
        .map(|i| {
            let spec = MintCode {
                user: UserSpec {
                    email: format!("user{i}@example.com"),
                    name: Some(format!("User {i}")),
                    ..UserSpec::default()
                },
                ..MintCode::default()
            };
            emu.mint_code(&spec).expect("code minted").0
        })
        .collect();
    let failed = stream::iter(codes)
        .map(|code| {
            let desk = Arc::clone(&desk);
            async move {
                desk.exchange(None, AuthCode::new(code), RedirectChoice::Empty)
                    .await
                    .is_err()
            }
        })
        .buffer_unordered(8)
        .filter(|failed| std::future::ready(*failed))
        .count()
        .await;
    assert_eq!(failed, 0, "every seed exchange succeeds");
    println!(
        "seeded {users} users through Desk::exchange in {:.1} s",
        seeding.elapsed().as_secs_f64()
    );

    emu.inject(Fault::new(Endpoint::Token).latency(LATENCY).times(u32::MAX));
    println!(
        "token endpoint latency {} ms; ideal = N x {:.1} s / C; target ratio <= {TARGET_RATIO}",
        LATENCY.as_millis(),
        LATENCY.as_secs_f64()
    );
    // 64 twice: growth in the repeat, unlike in a first run, would be a leak, not warm-up.
    for concurrency in [16, 64, 64] {
        let rss_before = rss_kib();
        let posts_before = emu.request_count(Endpoint::Token);
        let cpu_before = cpu_secs();
        let started = Instant::now();
        let report = desk
            .refresh_all(concurrency, |_, _, _| {}, &StopFlag::default())
            .await
            .unwrap();
        let wall = started.elapsed().as_secs_f64();
        let rss_after = rss_kib();
        let cpu = match (cpu_before, cpu_secs()) {
            (Some(b), Some(a)) => a - b,
            _ => f64::NAN,
        };
        let posts = emu.request_count(Endpoint::Token) - posts_before;
        let ideal = users as f64 * LATENCY.as_secs_f64() / concurrency as f64;
        let ratio = wall / ideal;
        if report.failed > 0 {
            let first = report.outcomes.iter().find(|o| !o.ok);
            println!("  {} failed, e.g. {first:?}", report.failed);
        }
        println!(
            "refresh_all N={users} C={concurrency}: wall {wall:.2} s, ideal {ideal:.2} s, \
             ratio {ratio:.2} ({}), refreshed {}/{} with {posts} token POSTs, \
             CPU {cpu:.2} s ({:.2} cores busy), RSS {} -> {} ({:+.1} MiB)",
            if ratio <= TARGET_RATIO {
                "within target"
            } else {
                "OVER target"
            },
            report.refreshed,
            report.total,
            cpu / wall,
            mib(rss_before),
            mib(rss_after),
            match (rss_before, rss_after) {
                (Some(b), Some(a)) => (a as f64 - b as f64) / 1024.0,
                _ => f64::NAN,
            }
        );
    }
}
