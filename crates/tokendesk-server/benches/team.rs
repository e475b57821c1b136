//! The team server measured on its real parts: replicas (in this process, each with its own
//! pools and listeners) on a real PostgreSQL database, the emulator standing in for Google
//! over loopback HTTP, sealed secrets. Three measurements (issue 15):
//!
//! 1. the receiver: p50/p99 of the app's `POST /auth/code` with 100 sign-ins in flight and
//!    Google's token endpoint answering after 100 ms;
//! 2. 12 concurrent refreshes of one user through 2 replicas, Google rotating refresh tokens
//!    and answering after 1.5 s: callers served, refreshes Google saw, reuse it detected;
//! 3. `refresh --all` of N grants (`TOKENDESK_BENCH_GRANTS`, default 10,000) through 2
//!    replicas at 100 ms upstream latency: wall time against the ideal N x 0.1 s / (2 x C),
//!    and this process's resident memory along the way.
//!
//! Needs a cluster: `eval "$(scripts/pg start /tmp/pg)"`, then
//! `cargo bench -p tokendesk-server --bench team`. Prints numbers; passes or fails nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt as _};
use google_emulator::{Endpoint, Fault};
use tokendesk_core::api::Role;
use tokendesk_core::console::Console;
use tokendesk_core::desk::StopFlag;
use tokendesk_server::PgOptions;
use tokendesk_server::run::Server;

#[allow(dead_code)]
#[path = "../tests/server/db.rs"]
mod db;
#[path = "../tests/server/person.rs"]
mod person;
#[allow(dead_code)]
#[path = "../tests/server/team.rs"]
mod team;

pub use db::TestDb;
use team::Team;

const IN_FLIGHT: usize = 100;
const SIGN_INS: usize = 1_000;
const CONCURRENCY: usize = 64;

/// This process's resident set size in MiB (Linux), from /proc/self/status.
fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|r| r.split_whitespace().next())
                .and_then(|k| k.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

fn slow(endpoint: Endpoint, latency_ms: u64) -> Fault {
    let mut fault = Fault::new(endpoint);
    fault.count = u32::MAX;
    fault.latency_ms = latency_ms;
    fault
}

async fn replica(team: &Team, name: &str) -> Server {
    let mut config = team.config(name);
    config.pg = PgOptions::default();
    Server::start(config).await.expect("the replica starts")
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn post_all(
    team: &Team,
    server: &Server,
    codes: Vec<String>,
    in_flight: usize,
) -> Vec<Duration> {
    let mut times: Vec<Duration> = stream::iter(codes)
        .map(|code| async move {
            let start = Instant::now();
            let status = team.post_code(server, &code).await;
            assert_eq!(status, 200, "a sign-in failed");
            start.elapsed()
        })
        .buffer_unordered(in_flight)
        .collect()
        .await;
    times.sort();
    times
}

async fn receiver() {
    let team = Team::new().await;
    let a = replica(&team, "a").await;
    team.add_client(&a).await;
    let codes: Vec<String> = (0..SIGN_INS)
        .map(|i| team.code(&format!("r{i}@example.com")))
        .collect();
    team.emu.inject(slow(Endpoint::Token, 100));
    let start = Instant::now();
    let times = post_all(&team, &a, codes, IN_FLIGHT).await;
    let wall = start.elapsed();
    println!(
        "receiver: {SIGN_INS} sign-ins, {IN_FLIGHT} in flight, token endpoint +100 ms: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms; {:.0} sign-ins/s",
        percentile(&times, 0.5).as_secs_f64() * 1e3,
        percentile(&times, 0.99).as_secs_f64() * 1e3,
        times.last().unwrap().as_secs_f64() * 1e3,
        SIGN_INS as f64 / wall.as_secs_f64()
    );
    a.stop().await;
}

async fn one_user_twelve_callers() {
    let team = Team::new().await;
    let a = replica(&team, "a").await;
    let b = replica(&team, "b").await;
    team.add_client(&a).await;
    assert_eq!(
        team.post_code(&a, &team.code("grace@example.com")).await,
        200
    );
    team.add_staff("ada@example.com", Role::Operator).await;
    let token = team
        .sign_in(&a, "ada@example.com")
        .await
        .unwrap()
        .token
        .unwrap();
    let on_a = Arc::new(team.console(&a, &token).await.unwrap());
    let on_b = Arc::new(team.console(&b, &token).await.unwrap());
    team.emu.set_refresh_rotation(true);
    team.emu.inject(slow(Endpoint::Token, 1_500));
    let before = team.emu.request_count(Endpoint::Token);
    let start = Instant::now();
    let callers: Vec<_> = (0..12)
        .map(|i| {
            let console = Arc::clone(if i % 2 == 0 { &on_a } else { &on_b });
            tokio::spawn(async move { console.refresh("grace@example.com", None).await })
        })
        .collect();
    let mut served = 0;
    for caller in callers {
        if caller.await.unwrap().is_ok() {
            served += 1;
        }
    }
    println!(
        "one user, 12 concurrent refreshes through 2 replicas, rotating, +1.5 s: {served}/12 callers served, Google saw {} refresh(es), {} reuse detected, {:.2} s",
        team.emu.request_count(Endpoint::Token) - before,
        team.emu.refresh_reuse_detections(),
        start.elapsed().as_secs_f64()
    );
    a.stop().await;
    b.stop().await;
}

async fn refresh_all(grants: usize) {
    let team = Team::new().await;
    let a = replica(&team, "a").await;
    let b = replica(&team, "b").await;
    team.add_client(&a).await;
    let codes: Vec<String> = (0..grants)
        .map(|i| team.code(&format!("u{i}@example.com")))
        .collect();
    let start = Instant::now();
    post_all(&team, &a, codes, CONCURRENCY).await;
    println!(
        "refresh --all: {grants} grants signed in through the receiver in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    team.add_staff("ada@example.com", Role::Operator).await;
    let ada = team.staff_console(&a, "ada@example.com").await;
    team.emu.inject(slow(Endpoint::Token, 100));
    let peak = Arc::new(AtomicU64::new(0));
    let sampling = {
        let peak = Arc::clone(&peak);
        tokio::spawn(async move {
            loop {
                peak.fetch_max(rss_mib() as u64, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let before = rss_mib();
    let start = Instant::now();
    let report = ada
        .refresh_all(CONCURRENCY, &|_, _, _| {}, &StopFlag::default())
        .await
        .unwrap();
    let wall = start.elapsed().as_secs_f64();
    sampling.abort();
    let ideal = grants as f64 * 0.1 / (2 * CONCURRENCY) as f64;
    println!(
        "refresh --all: {}/{} refreshed through 2 replicas at {CONCURRENCY} each, +100 ms: {wall:.1} s (ideal {ideal:.1} s, {:.2}x); RSS {before:.0} MiB before, peak {} MiB, {:.0} MiB after",
        report.refreshed,
        report.total,
        wall / ideal,
        peak.load(Ordering::Relaxed),
        rss_mib()
    );
    a.stop().await;
    b.stop().await;
}

#[tokio::main]
async fn main() {
    if std::env::var_os("TOKENDESK_TEST_DATABASE_URL").is_none() {
        eprintln!(
            "TOKENDESK_TEST_DATABASE_URL is not set: eval \"$(scripts/pg start /tmp/pg)\" first"
        );
        std::process::exit(2);
    }
    let grants: usize = std::env::var("TOKENDESK_BENCH_GRANTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    receiver().await;
    one_user_twelve_callers().await;
    refresh_all(grants).await;
}
