//! The health sweep over N users on the real keyring (the store's key in Secret Service; run
//! it inside `scripts/with-keyring`): what a sweep costs when every grant is healthy (one
//! tokeninfo call each, nothing written) beside one that refreshes every grant (a window wider
//! than the tokens' hour), and beside `refresh --all`. Google's endpoints answer after 50 ms
//! (a fault on tokeninfo and token), so the numbers show how concurrency overlaps the calls.
//! Prints numbers, asserts nothing about time.
//!
//! `scripts/with-keyring cargo bench -p tokendesk-core --bench health_sweep` (N from
//! `TOKENDESK_BENCH_USERS`, default 500).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use google_emulator::{Endpoint, Fault};
use tokendesk_core::desk::{HealthOptions, StopFlag};
use tokendesk_core::vault::{BuildKind, OsKeyring};

mod support;

const LATENCY: Duration = Duration::from_millis(50);

fn main() {
    let users = support::users_from_env(500);
    support::runtime().block_on(bench(users));
}

async fn bench(users: usize) {
    let dir = tempfile::tempdir().unwrap();
    let keyring = OsKeyring::open(BuildKind::Test).expect(
        "the OS keyring: run this bench inside scripts/with-keyring (a private D-Bus session)",
    );
    let (emu, desk) = support::desk_on_emulator(dir.path(), Arc::new(keyring)).await;
    let seeding = support::seed(&emu, &desk, users).await;
    println!(
        "seeded {users} users in {:.1} s (store key in the OS keyring)",
        seeding.as_secs_f64()
    );
    for endpoint in [Endpoint::Tokeninfo, Endpoint::Token] {
        emu.inject(Fault::new(endpoint).latency(LATENCY).times(u32::MAX));
    }
    println!(
        "tokeninfo and token endpoints answer after {} ms",
        LATENCY.as_millis()
    );

    for (label, window, concurrency) in [
        ("healthy (tokeninfo)", 600, 4),
        ("healthy (tokeninfo)", 600, 16),
        ("every token expiring (refresh)", 7200, 16),
    ] {
        let (infos, posts) = (
            emu.request_count(Endpoint::Tokeninfo),
            emu.request_count(Endpoint::Token),
        );
        let started = Instant::now();
        let report = desk
            .health_sweep(
                HealthOptions {
                    concurrency,
                    expiring_within_secs: window,
                },
                |_, _, _| {},
                &StopFlag::default(),
            )
            .await
            .unwrap();
        let wall = started.elapsed().as_secs_f64();
        let ideal = users as f64 * LATENCY.as_secs_f64() / concurrency as f64;
        println!(
            "sweep, {label}, N={users} C={concurrency}: wall {wall:.2} s (ideal {ideal:.2} s, \
             ratio {:.2}; {:.0} grants/s), {} healthy, {} refreshed, {} other; \
             {} tokeninfo, {} token POSTs",
            wall / ideal,
            users as f64 / wall,
            report.healthy,
            report.refreshed,
            report.total - report.healthy - report.refreshed,
            emu.request_count(Endpoint::Tokeninfo) - infos,
            emu.request_count(Endpoint::Token) - posts,
        );
    }
    let started = Instant::now();
    let report = desk
        .refresh_all(16, |_, _, _| {}, &StopFlag::default())
        .await
        .unwrap();
    println!(
        "refresh --all, N={users} C=16 for comparison: wall {:.2} s, refreshed {}",
        started.elapsed().as_secs_f64(),
        report.refreshed
    );
}
