//! The window's memory under a team server's live feed: a kiosk window (TOKENDESK_SERVER,
//! TOKENDESK_TOKEN) on a user's page while a colleague refreshes that user over and over, each
//! refresh an audit entry the window hears and reloads the page for. Samples the window's
//! memory (the app and WebKit's processes) as the events pile up. Reports numbers; passes or
//! fails nothing.
//!
//! `TOKENDESK_BENCH_EVENTS` (default 3,600: an hour of a busy team at one a second, sent at
//! `TOKENDESK_BENCH_RATE` a second, default 10). `TOKENDESK_BENCH_ABOUT=other`: the colleague
//! refreshes another user instead (the team's work on others, which the page does not reload
//! for), to compare. Needs what the end-to-end tests need plus the
//! PostgreSQL cluster: under xvfb-run and a keyring session,
//!   eval "$(scripts/pg start /tmp/pg)"; cargo bench -p tokendesk-desktop-e2e --bench team_live

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::{Duration, Instant};

use tokendesk_core::console::Console as _;
use tokendesk_core::remote::{self, RemoteConsole};
use tokendesk_desktop_e2e::team_server::Team;
use tokendesk_desktop_e2e::{Window, app_pid, memory_of_tree};

#[allow(dead_code)]
#[path = "../../../crates/tokendesk-server/tests/server/db.rs"]
mod db;

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let events = setting("TOKENDESK_BENCH_EVENTS", 3_600);
    let rate = setting("TOKENDESK_BENCH_RATE", 10).max(1);
    let db = db::TestDb::create().await;
    let dir = tempfile::tempdir().unwrap();
    let team = Team::start(dir.path(), &db.url, &[]).await;
    let (server, token) = (&team.server, team.colleague.clone());
    let colleague = RemoteConsole::connect(
        remote::server_url(&server.admin).unwrap(),
        zeroize::Zeroizing::new(token.clone()),
        remote::http_client(None).unwrap(),
    )
    .await
    .unwrap();
    let sub = team.sign_in("grace@example.com", None).await;
    let other = std::env::var("TOKENDESK_BENCH_ABOUT").is_ok_and(|v| v == "other");
    let target = if other {
        team.sign_in("hopper@example.com", None).await;
        "hopper@example.com"
    } else {
        "grace@example.com"
    };

    let w = Window::launch_with(
        &dir.path().join("window"),
        &[
            ("TOKENDESK_SERVER", server.admin.as_str()),
            ("TOKENDESK_TOKEN", token.as_str()),
            ("TOKENDESK_NO_SANDBOX", "1"),
        ],
    )
    .await;
    w.wait_text("header-link", "live").await;
    w.wait_css(&format!("[data-testid=\"user-row\"][data-sub=\"{sub}\"]"))
        .await
        .click()
        .await
        .unwrap();
    w.wait("user-refresh").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let pid = app_pid().expect("the window's process");
    let mib = |kib: u64| kib as f64 / 1024.0;

    println!(
        "\n{events} live events at {rate}/s on {sub}'s page, each a refresh of {target} ({}):",
        if other {
            "another user: the page does not reload"
        } else {
            "this user: the page reloads for each"
        }
    );
    println!(
        "{:>8} {:>9} {:>10} {:>10}",
        "events", "elapsed", "RSS MiB", "PSS MiB"
    );
    let (rss0, pss0, _) = memory_of_tree(pid);
    println!(
        "{:>8} {:>8.0}s {:>10.1} {:>10.1}",
        0,
        0.0,
        mib(rss0),
        mib(pss0)
    );
    let began = Instant::now();
    let every = Duration::from_secs_f64(1.0 / rate as f64);
    let report_each = (events / 10).max(1);
    let mut samples = Vec::new();
    for i in 1..=events {
        let due = began + every * u32::try_from(i).unwrap();
        colleague
            .refresh(target, None)
            .await
            .expect("the colleague's refresh");
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            tokio::time::sleep(wait).await;
        }
        if i % report_each == 0 {
            let (rss, pss, _) = memory_of_tree(pid);
            samples.push(pss);
            println!(
                "{i:>8} {:>8.0}s {:>10.1} {:>10.1}",
                began.elapsed().as_secs_f64(),
                mib(rss),
                mib(pss)
            );
        }
    }
    // The page still follows: the last refresh's audit entry is on it.
    w.wait("user-refresh").await;
    let half = samples.len() / 2;
    let first_half = samples[..half].iter().sum::<u64>() as f64 / half.max(1) as f64;
    let second_half = samples[half..].iter().sum::<u64>() as f64 / (samples.len() - half) as f64;
    println!(
        "PSS: {:.1} MiB at the start, mean {:.1} MiB over the first half of the events, {:.1} \
         MiB over the second ({:+.1} MiB)",
        mib(pss0),
        first_half / 1024.0,
        second_half / 1024.0,
        (second_half - first_half) / 1024.0
    );
    w.close().await;
}
