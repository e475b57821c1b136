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

use google_emulator::{Endpoint, Fault};
use tokendesk_core::desk::StopFlag;
use tokendesk_core::vault::MemoryStore;

mod support;

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
    let users = support::users_from_env(1_000);
    support::runtime().block_on(bench(users));
}

async fn bench(users: usize) {
    let dir = match std::env::var_os("TOKENDESK_BENCH_DIR") {
        Some(parent) => tempfile::tempdir_in(parent).unwrap(),
        None => tempfile::tempdir().unwrap(),
    };
    println!("store in {}", dir.path().display());
    let (emu, desk) = support::desk_on_emulator(dir.path(), Arc::new(MemoryStore::new())).await;
    let seeding = support::seed(&emu, &desk, users).await;
    println!(
        "seeded {users} users through Desk::exchange in {:.1} s",
        seeding.as_secs_f64()
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
