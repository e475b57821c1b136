//! What keeping every operation's HTTP per user costs, on the real parts: the store's key in
//! the real keyring (run it inside `scripts/with-keyring`), a real SQLite file, the emulator
//! over loopback. N users are refreshed together (`refresh --all`, concurrency 16) for 60
//! rounds, each round keeping one more operation per user; the per-user bound is 50, so the
//! file should stop growing after round 50. Reports each round's time, the file's size as the
//! log fills and after, what keeping one operation costs alone and 16 at a time (on a second
//! connection to the file), and how long the user page's read of 50 operations and a curl
//! command take. Prints numbers, asserts nothing about time.
//!
//! `scripts/with-keyring cargo bench -p tokendesk-core --bench http_log` (N from
//! `TOKENDESK_BENCH_USERS`, default 200).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt as _};
use tokendesk_core::desk::StopFlag;
use tokendesk_core::storage::{SqliteStorage, Storage as _};
use tokendesk_core::store::{HTTP_LOG_KEEP, NewHttpLogEntry, StoreOptions, Timestamp};
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

    // The keep alone, on a second connection to the same file: a typical entry (the last
    // refresh's), written one at a time, then 16 at a time (what refresh --all does).
    let storage = Arc::new(SqliteStorage::open(dir.path(), &StoreOptions::default()).unwrap());
    let user = storage
        .find_users("user0@example.com")
        .await
        .unwrap()
        .remove(0);
    let sample = desk
        .user_http("user0@example.com", 1)
        .await
        .unwrap()
        .remove(0);
    let bytes = serde_json::to_vec(&sample.exchanges).unwrap().len();
    let new = || NewHttpLogEntry {
        user_id: user.id,
        actor: sample.actor.clone(),
        client: sample.client.clone(),
        action: sample.action,
        outcome: sample.outcome,
        exchanges: sample.exchanges.clone(),
    };
    let mut alone = Vec::new();
    for _ in 0..500 {
        let started = Instant::now();
        storage
            .keep_http(new(), HTTP_LOG_KEEP, Timestamp::now())
            .await
            .unwrap();
        alone.push(started.elapsed());
    }
    alone.sort();
    let started = Instant::now();
    stream::iter(0..2000)
        .map(|_| {
            let storage = Arc::clone(&storage);
            let entry = new();
            async move {
                storage
                    .keep_http(entry, HTTP_LOG_KEEP, Timestamp::now())
                    .await
                    .unwrap()
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<()>>()
        .await;
    let grouped = started.elapsed();
    println!(
        "keeping one operation ({bytes} bytes of JSON, and the oldest deleted): alone p50 \
         {:.2} ms, p99 {:.2} ms (500 runs); 16 at a time: {:.0} per second (2,000 grouped)",
        percentile(&alone, 0.5),
        percentile(&alone, 0.99),
        2000.0 / grouped.as_secs_f64()
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
