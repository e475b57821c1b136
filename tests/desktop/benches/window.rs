//! The desktop window's numbers: cold start to first paint, idle memory, and the time to
//! filter 100,000 users. Reports numbers; passes or fails nothing.
//!
//! Needs what the end-to-end tests need (a display, a D-Bus session with a Secret Service,
//! tauri-driver, the built app):
//!   xvfb-run -a dbus-run-session -- sh -c 'echo -n x | gnome-keyring-daemon --unlock \
//!     --components=secrets; cargo bench -p tokendesk-desktop-e2e --bench window'

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::{Duration, Instant};

use tokendesk_core::store::{Store, Timestamp, UserProfile};
use tokendesk_desktop_e2e::{Window, app_pid, memory_of_tree};

const USERS: usize = 100_000;
const FIRST: &[&str] = &[
    "ada", "alan", "grace", "barbara", "edsger", "donald", "margaret",
];
const LAST: &[&str] = &[
    "lovelace", "turing", "hopper", "liskov", "dijkstra", "knuth",
];

fn populate(home: &std::path::Path) {
    let mut store = Store::open(home.join("tokendesk.sqlite3")).expect("open");
    store
        .write_with(|tx| {
            for i in 0..USERS {
                let first = FIRST[i % FIRST.len()];
                let last = LAST[(i / FIRST.len()) % LAST.len()];
                let sub = format!("{}", 100_000_000_000_000_000_000u128 + (i as u128) * 7_919);
                let profile = UserProfile {
                    issuer: "https://accounts.google.com".into(),
                    sub: sub.clone(),
                    email: Some(format!("{first}.{last}{i}@example.com")),
                    email_verified: Some(true),
                    name: Some(format!("{first} {last}")),
                    given_name: Some(first.into()),
                    family_name: Some(last.into()),
                    picture: None,
                    locale: Some("en".into()),
                    hd: None,
                };
                let claims = serde_json::json!({"iss": profile.issuer, "sub": sub});
                tx.users_mut()
                    .upsert(&profile, Some(&claims), Timestamp::from_unix(i as i64))?;
            }
            Ok(())
        })
        .expect("populate");
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let home = tempfile::tempdir().unwrap();
    let started = Instant::now();
    populate(home.path());
    println!("populated {USERS} users in {:?}", started.elapsed());
    let env = [("TOKENDESK_NO_SANDBOX", "1")];

    let mut starts = Vec::new();
    for _ in 0..3 {
        let w = Window::launch_with(home.path(), &env).await;
        starts.push(w.first_paint);
        w.close().await;
    }
    println!(
        "cold start to first paint (WebDriver session to the nav rendered): median {:?} of {:?}",
        median(starts.clone()),
        starts
    );

    let w = Window::launch_with(home.path(), &env).await;
    w.wait("user-row").await;
    let total = w.text("users-count").await;
    println!("users page shows: {total}");
    tokio::time::sleep(Duration::from_secs(5)).await;
    let pid = app_pid().expect("the app process");
    let (rss, pss, n) = memory_of_tree(pid);
    println!(
        "idle memory after 5 s with {USERS} users listed: RSS {} MiB, PSS {} MiB over {n} processes (app + WebKit)",
        rss / 1024,
        pss / 1024
    );

    let mut filters = Vec::new();
    // What the list shows: its count and its first row, to see when a new result is in.
    async fn shown(w: &Window) -> String {
        let script = "const c = document.querySelector('[data-testid=users-count]'); \
                      const r = document.querySelector('[data-testid=user-row]'); \
                      return (c ? c.textContent : '') + ' / ' + (r ? r.dataset.sub : '');";
        w.client
            .execute(script, vec![])
            .await
            .unwrap()
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
    for query in [
        "grace.hopper",
        "ada.lovelace",
        "knuth",
        "100000000000000000000007919",
        "zzz-none",
    ] {
        w.fill("users-search", "").await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let before = shown(&w).await;
        let t = Instant::now();
        w.wait("users-search").await.send_keys(query).await.unwrap();
        loop {
            if shown(&w).await != before {
                break;
            }
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "the list never updated for {query}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let took = t.elapsed();
        println!(
            "filter {query:?}: {took:?} from typing to the new count (includes the 150 ms debounce)"
        );
        filters.push(took);
    }
    println!("filter 100,000 users: median {:?}", median(filters));
    w.close().await;
}
