//! A first run, side by side with the smallest Tauri app: TokenDesk's release build on a fresh
//! home (the sandbox: its emulator, keyring and store start behind the window) against
//! `tests/desktop/minimal` (one window, a static page), both built here from the one Cargo.lock.
//! Prints, for each, the time from launch to the header and nav on screen, TokenDesk's time to
//! the sandbox ready, and the idle memory (PSS of the app and its WebKit processes). Reports
//! numbers; passes or fails nothing (CI runs it on a busy machine).
//!
//! Needs what the end-to-end tests need (a display, a D-Bus session with a Secret Service,
//! tauri-driver) and ui/dist (npm --prefix ui run build). It builds both apps in release itself:
//!   xvfb-run -a dbus-run-session -- sh -c 'echo -n x | gnome-keyring-daemon --unlock \
//!     --components=secrets; cargo bench -p tokendesk-desktop-e2e --bench startup'
//! TOKENDESK_BENCH_ROUNDS sets the launches per app (default 5).

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokendesk_desktop_e2e::{Window, memory_of_tree, process_of, workspace};

/// How long a window sits after it is ready before its memory is read.
const SETTLE: Duration = Duration::from_secs(4);

#[derive(Debug, Default)]
struct Runs {
    /// Launch to the header and nav in the page (WebDriver finds them).
    in_dom: Vec<Duration>,
    /// Launch to WebKit's first contentful paint: the window shows them.
    paint: Vec<Duration>,
    ready: Vec<Duration>,
    pss_kib: Vec<u64>,
    /// Launch to the page's navigation start (the process, GTK, WebKit's processes).
    to_navigation: Vec<Duration>,
    /// Navigation start to WebKit's first contentful paint (the page: HTML, scripts, render).
    to_contentful_paint: Vec<Duration>,
}

/// Where the page's time went, from WebKit's own clocks: its navigation start (as Unix time,
/// compared with the launch) and its first contentful paint.
async fn page_timing(w: &Window, launched: SystemTime, runs: &mut Runs) {
    let script = "const done = arguments[arguments.length - 1];
                  const fcp = () => performance.getEntriesByType('paint')
                      .find((e) => e.name === 'first-contentful-paint');
                  const answer = () => done([performance.timeOrigin, fcp() ? fcp().startTime : null]);
                  if (fcp()) answer(); else setTimeout(answer, 500);";
    let Ok(value) = w.client.execute_async(script, vec![]).await else {
        return;
    };
    let (Some(origin), Some(fcp)) = (value[0].as_f64(), value[1].as_f64()) else {
        return;
    };
    let launched = launched.duration_since(UNIX_EPOCH).unwrap().as_secs_f64() * 1000.0;
    let to_navigation = Duration::from_secs_f64((origin - launched).max(0.0) / 1000.0);
    let to_paint = Duration::from_secs_f64(fcp / 1000.0);
    runs.to_navigation.push(to_navigation);
    runs.to_contentful_paint.push(to_paint);
    runs.paint.push(to_navigation + to_paint);
}

/// Both apps in release, as a person runs them (`scripts/run`): the same packages as
/// scripts/run and scripts/package build, plus the minimal window, so nothing recompiles.
fn build() -> PathBuf {
    let root = workspace();
    assert!(
        root.join("ui/dist/index.html").exists(),
        "ui/dist is missing: npm --prefix ui run build (the app embeds it)"
    );
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let started = Instant::now();
    let status = Command::new(cargo)
        .current_dir(&root)
        .args(["build", "--release", "--quiet"])
        .args(["-p", "tokendesk-desktop", "-p", "tokendesk-cli"])
        .args(["-p", "tokendesk-minimal-window"])
        .status()
        .expect("cargo runs");
    assert!(status.success(), "the release build failed (above)");
    println!("release builds ready in {:.1?}", started.elapsed());
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join("release")
}

async fn launch(app: &Path, ours: bool, runs: &mut Runs) {
    let home = tempfile::tempdir().unwrap();
    let launched = SystemTime::now();
    let w = Window::launch_app(app, home.path(), &[]).await;
    runs.in_dom.push(w.first_paint);
    page_timing(&w, launched, runs).await;
    if ours {
        // The sandbox is in view: its emulator answers.
        w.wait_text("mode", "Sandbox").await;
        w.wait("sandbox-emulator-url").await;
        runs.ready.push(w.started.elapsed());
    }
    tokio::time::sleep(SETTLE).await;
    let pid = process_of(app).expect("the app's process");
    runs.pss_kib.push(memory_of_tree(pid).1);
    w.close().await;
    // The window's processes end with the session; the next launch starts from nothing.
    tokio::time::sleep(Duration::from_millis(500)).await;
}

fn median<T: Copy + Ord>(v: &[T]) -> T {
    let mut v = v.to_vec();
    v.sort();
    v[v.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let release = build();
    let ours = release.join("tokendesk-desktop");
    let minimal = release.join("tokendesk-minimal-window");
    let rounds: usize = std::env::var("TOKENDESK_BENCH_ROUNDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(5)
        .max(1);

    let (mut a, mut b) = (Runs::default(), Runs::default());
    // Warm the page cache and the keyring daemon once each, then alternate which goes first.
    launch(&minimal, false, &mut Runs::default()).await;
    launch(&ours, true, &mut Runs::default()).await;
    for round in 0..rounds {
        if round % 2 == 0 {
            launch(&minimal, false, &mut b).await;
            launch(&ours, true, &mut a).await;
        } else {
            launch(&ours, true, &mut a).await;
            launch(&minimal, false, &mut b).await;
        }
    }

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let line = |what: &str, ours: &[Duration], theirs: &[Duration]| {
        let list = |v: &[Duration]| {
            v.iter()
                .map(|d| format!("{:.0}", ms(*d)))
                .collect::<Vec<_>>()
                .join(" ")
        };
        if ours.is_empty() || theirs.is_empty() {
            println!("{what}: not measured (WebKit gave no paint timing)");
            return;
        }
        println!(
            "{what}: TokenDesk median {:.0} ms (min {:.0}) [{}], minimal Tauri median {:.0} ms \
             (min {:.0}) [{}]: {:.2}x",
            ms(median(ours)),
            ms(*ours.iter().min().unwrap()),
            list(ours),
            ms(median(theirs)),
            ms(*theirs.iter().min().unwrap()),
            list(theirs),
            ms(median(ours)) / ms(median(theirs)),
        );
    };
    println!("first run on a fresh home, {rounds} launches each (release builds, {release:?})");
    line(
        "first paint (launch to WebKit's first contentful paint)",
        &a.paint,
        &b.paint,
    );
    line(
        "  launch to the page's navigation start",
        &a.to_navigation,
        &b.to_navigation,
    );
    line(
        "  navigation start to first contentful paint",
        &a.to_contentful_paint,
        &b.to_contentful_paint,
    );
    line(
        "header and nav in the page (WebDriver finds them)",
        &a.in_dom,
        &b.in_dom,
    );
    println!(
        "TokenDesk's sandbox ready (launch to its emulator shown): median {:.0} ms [{}]",
        ms(median(&a.ready)),
        a.ready
            .iter()
            .map(|d| format!("{:.0}", ms(*d)))
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "idle memory {} s after ready (PSS, app + WebKit processes): TokenDesk median {} MiB, \
         minimal Tauri median {} MiB: {:.2}x",
        SETTLE.as_secs(),
        median(&a.pss_kib) / 1024,
        median(&b.pss_kib) / 1024,
        median(&a.pss_kib) as f64 / median(&b.pss_kib) as f64,
    );
}
