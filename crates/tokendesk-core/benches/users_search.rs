//! `users --search` at 1,000 and 100,000 users: each kind of query through `Users::search`,
//! beside a plain `LIKE '%text%'` scan of the same file. The ratios are what to watch.
//!
//! `cargo bench -p tokendesk-core --bench users_search`. Reports ratios, not pass/fail timings.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion};
use rusqlite::Connection;
use tokendesk_core::storage::contract::population;
use tokendesk_core::store::{Store, Timestamp};

/// The population both engines' benchmarks search (`storage::contract::population`).
fn populate(n: usize) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut store = Store::open(dir.path().join("bench.sqlite3")).expect("open");
    let started = Instant::now();
    store
        .write_with(|tx| {
            for i in 0..n {
                let (profile, claims) = population::user(i);
                tx.users_mut()
                    .upsert(&profile, Some(&claims), Timestamp::from_unix(i as i64))?;
            }
            Ok(())
        })
        .expect("populate");
    eprintln!("populated {n} users in {:?}", started.elapsed());
    (dir, store)
}

/// The queries support staff type, by kind.
const QUERIES: &[(&str, &str)] = &[
    ("exact_email", "grace.hopper42@school.edu"),
    ("email_prefix", "grace.hop"),
    ("family_name", "dijkstra"),
    ("sub_exact", "100000000000000079190"),
    ("sub_prefix", "1000000000000000"),
    ("rare_phrase", "ce.turi"),
    ("two_chars", "ad"),
    ("domain_substring", "school.edu"),
    ("miss", "zzqx-nobody"),
];

fn bench(c: &mut Criterion) {
    for n in [1_000usize, 100_000] {
        let (dir, store) = populate(n);
        let mut group = c.benchmark_group(format!("users_search/{n}"));
        group.sample_size(30);
        group.warm_up_time(Duration::from_millis(500));
        group.measurement_time(Duration::from_secs(2));
        for (kind, text) in QUERIES {
            group.bench_with_input(BenchmarkId::new("search", kind), text, |b, text| {
                b.iter(|| black_box(store.users().search(black_box(text), 50).expect("search")))
            });
        }
        // The baseline a naive implementation would have: scan every row.
        let raw = Connection::open(dir.path().join("bench.sqlite3")).expect("raw");
        for (kind, text) in [("domain_substring", "school.edu"), ("miss", "zzqx-nobody")] {
            group.bench_with_input(BenchmarkId::new("like_scan", kind), &text, |b, text| {
                let pattern = format!("%{text}%");
                b.iter(|| {
                    let mut stmt = raw
                        .prepare_cached(
                            "SELECT id FROM users WHERE email LIKE ?1 OR name LIKE ?1 \
                             OR sub LIKE ?1 LIMIT 50",
                        )
                        .expect("prepare");
                    let ids: Vec<i64> = stmt
                        .query_map([&pattern], |r| r.get(0))
                        .expect("query")
                        .collect::<Result<_, _>>()
                        .expect("rows");
                    black_box(ids)
                })
            });
        }
        group.finish();
        drop(raw);
        drop(store);
        let started = Instant::now();
        drop(Store::open(dir.path().join("bench.sqlite3")).expect("reopen"));
        eprintln!(
            "open with quick_check at {n} users: {:?}",
            started.elapsed()
        );
        let size = std::fs::metadata(dir.path().join("bench.sqlite3"))
            .map(|m| m.len())
            .unwrap_or(0);
        eprintln!("file size at {n} users: {} KiB", size / 1024);
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
}
