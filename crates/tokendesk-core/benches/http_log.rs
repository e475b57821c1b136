//! What keeping every operation's HTTP per user costs, on the real parts: the store's key in
//! the real keyring (run it inside `scripts/with-keyring`), a real SQLite file, the emulator
//! over loopback. N users are refreshed together (`refresh --all`, concurrency 16) for 60
//! rounds, each round keeping one more operation per user; the per-user bound is 50, so the
//! file should stop growing after round 50. Reports each round's time, the file's size as the
//! log fills and after, and how long the user page's read of 50 operations and a curl command
//! take. Prints numbers, asserts nothing about time.
//!
//! `scripts/with-keyring cargo bench -p tokendesk-core --bench http_log` (N from
//! `TOKENDESK_BENCH_USERS`, default 200).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokendesk_core::desk::StopFlag;
use tokendesk_core::store::HTTP_LOG_KEEP;
use tokendesk_core::vault::{BuildKind, OsKeyring};

mod support;

const ROUNDS: usize = 60;

fn main() {
    let users = support::users_from_env(200);
    support::runtime().block_on(bench(users));
}

/// The store's files (the database and its write-ahead log), in MiB.
fn store_mib(dir: &Path) -> f64 {
    let bytes: u64 = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok()?.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum();
    bytes as f64 / (1024.0 * 1024.0)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at].as_secs_f64() * 1000.0
}

async fn bench(users: usize) {
    let dir = tempfile::tempdir().unwrap();
    let keyring = OsKeyring::open(BuildKind::Test).expect(
        "the OS keyring: run this bench inside scripts/with-keyring (a private D-Bus session)",
    );
    let (_emu, desk) = support::desk_on_emulator(dir.path(), Arc::new(keyring)).await;
    let seeding = support::seed(&_emu, &desk, users).await;
    println!(
        "seeded {users} users in {:.1} s; store {:.1} MiB (each user keeps their newest {HTTP_LOG_KEEP} operations)",
        seeding.as_secs_f64(),
        store_mib(dir.path())
    );
    let mut times = Vec::new();
    for round in 1..=ROUNDS {
        let started = Instant::now();
        let report = desk
            .refresh_all(16, |_, _, _| {}, &StopFlag::default())
            .await
            .unwrap();
        assert_eq!(report.refreshed, users, "{report:?}");
        let took = started.elapsed();
        times.push(took);
        if [1, 10, 25, 50, 55, 60].contains(&round) {
            let kept = desk
                .user_http("user0@example.com", 100)
                .await
                .unwrap()
                .len();
            println!(
                "round {round:>2}: refresh --all of {users} in {:>6.0} ms ({:.0} users/s); \
                 store {:.1} MiB; user0 keeps {kept} operations",
                took.as_secs_f64() * 1000.0,
                users as f64 / took.as_secs_f64(),
                store_mib(dir.path())
            );
        }
    }
    let first: f64 = times[..10].iter().map(Duration::as_secs_f64).sum::<f64>() / 10.0;
    let last: f64 = times[ROUNDS - 10..]
        .iter()
        .map(Duration::as_secs_f64)
        .sum::<f64>()
        / 10.0;
    println!(
        "mean round: {:.0} ms over rounds 1-10 (the log filling), {:.0} ms over rounds {}-{} \
         (full: each keep also deletes the oldest)",
        first * 1000.0,
        last * 1000.0,
        ROUNDS - 9,
        ROUNDS
    );

    let mut reads = Vec::new();
    for i in 0..200 {
        let who = format!("user{}@example.com", i % users);
        let started = Instant::now();
        let kept = desk.user_http(&who, HTTP_LOG_KEEP).await.unwrap();
        reads.push(started.elapsed());
        assert_eq!(kept.len(), HTTP_LOG_KEEP);
    }
    reads.sort();
    let entry = desk.user_http("user0@example.com", 1).await.unwrap()[0].id;
    let mut curls = Vec::new();
    for _ in 0..200 {
        let started = Instant::now();
        desk.http_curl("user0@example.com", entry, 0, false)
            .await
            .unwrap();
        curls.push(started.elapsed());
    }
    curls.sort();
    println!(
        "the User page's HTTP card ({HTTP_LOG_KEEP} operations): p50 {:.2} ms, p99 {:.2} ms; \
         a curl command: p50 {:.2} ms, p99 {:.2} ms (200 runs each)",
        percentile(&reads, 0.5),
        percentile(&reads, 0.99),
        percentile(&curls, 0.5),
        percentile(&curls, 0.99)
    );
}
