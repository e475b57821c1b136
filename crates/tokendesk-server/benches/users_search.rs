//! `users --search` and the Users page on PostgreSQL at 1,000,000 users (the population of
//! tokendesk-core's SQLite benchmark): each kind of query through `Storage::search_users`, the
//! whole call (a pooled connection, the read-only transaction, both statements), p50 and p99.
//! Target: p50 under 20 ms, p99 under 50 ms. Then the same searches as the window makes them
//! on a team server: `Console::users_page` of a `RemoteConsole` (HTTP on loopback, the admin
//! API's authentication and JSON, 100 rows a page, as the Users page asks). Last, the "needs
//! attention" list at one grant per user, with its partial index and without.
//!
//! Needs a cluster: `eval "$(scripts/pg start /tmp/pg)"`, then
//! `cargo bench -p tokendesk-server --bench users_search`; `TOKENDESK_BENCH_USERS` changes the
//! population (1,000,000 by default); `TOKENDESK_BENCH_KEEP=1` keeps the database afterwards,
//! for EXPLAIN. Prints numbers; passes or fails nothing.

use std::pin::pin;
use std::time::{Duration, Instant};

use tokendesk_core::api::Role;
use tokendesk_core::console::Console as _;
use tokendesk_core::remote::{self, RemoteConsole};
use tokendesk_core::storage::Storage;
use tokendesk_core::storage::contract::population;
use tokendesk_server::run::{Server, ServerConfig};
use tokendesk_server::{PgOptions, PgStorage};
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, NoTls};
use zeroize::Zeroizing;

const WARM_UP: usize = 20;
const RUNS: usize = 200;

#[tokio::main]
async fn main() {
    let admin_url = std::env::var("TOKENDESK_TEST_DATABASE_URL").unwrap_or_else(|_| {
        eprintln!(
            "TOKENDESK_TEST_DATABASE_URL is not set: eval \"$(scripts/pg start /tmp/pg)\" first"
        );
        std::process::exit(2);
    });
    let n: usize = std::env::var("TOKENDESK_BENCH_USERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let name = format!("td_bench_{}", std::process::id());
    let admin = connect(&admin_url, "postgres").await;
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create the benchmark database");
    let url = with_dbname(&admin_url, &name);

    let storage = PgStorage::connect(&url, &PgOptions::default())
        .await
        .expect("connect and migrate");
    let db = connect(&admin_url, &name).await;
    seed(&db, n).await;

    let exact_email = population::user(n * 2 / 5).0.email.expect("an email");
    let exact_sub = population::user(n * 3 / 4).0.sub;
    let queries: Vec<(&str, String)> = vec![
        ("exact_email", exact_email),
        ("email_prefix", "grace.hop".into()),
        ("family_name", "dijkstra".into()),
        ("name_fragment", "ovela".into()),
        ("sub_exact", exact_sub),
        ("sub_prefix", "1000000000000000".into()),
        ("rare_phrase", "ce.turi".into()),
        ("two_chars", "ad".into()),
        ("domain_substring", "school.edu".into()),
        ("miss", "zzqx-nobody".into()),
    ];
    println!("\nsearch_users(text, 50) at {n} users, {RUNS} runs each:");
    println!(
        "{:<18} {:>9} {:>9} {:>9} {:>6}",
        "query", "p50 ms", "p99 ms", "max ms", "found"
    );
    for (kind, text) in &queries {
        let mut found = 0;
        let times = measure(async || {
            found = storage.search_users(text, 50).await.expect("search").len();
        })
        .await;
        report(kind, &times, found);
    }
    println!("\nusers_page(offset, 50) with the count, {RUNS} runs each:");
    for offset in [0, 1_000, 10_000, 100_000] {
        let mut found = 0;
        let times = measure(async || {
            found = storage.users_page(offset, 50).await.expect("page").0.len();
        })
        .await;
        report(&format!("offset {offset}"), &times, found);
    }

    through_the_admin_api(&url, &storage, &queries).await;
    needs_attention(&db, &storage, n).await;

    drop(storage);
    drop(db);
    if std::env::var_os("TOKENDESK_BENCH_KEEP").is_some() {
        eprintln!("kept the database {name} (DROP DATABASE {name} when done)");
        return;
    }
    admin
        .batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .await
        .expect("drop the benchmark database");
}

/// The window's search on a team server: a replica on this database, a viewer's API token,
/// `users_page(text, 0, 100)` through the admin API.
async fn through_the_admin_api(url: &str, storage: &PgStorage, queries: &[(&str, String)]) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let key_file = dir.path().join("kek");
    tokendesk_core::seal::LocalKey::generate()
        .expect("a key")
        .write_new_file(&key_file)
        .expect("the key file");
    let config = ServerConfig {
        receiver_listen: "127.0.0.1:0".parse().expect("an address"),
        admin_listen: "127.0.0.1:0".parse().expect("an address"),
        ..ServerConfig::new(url, &key_file)
    };
    let server = Server::start(config).await.expect("the replica starts");
    let token = tokendesk_server::people::create_api_token(
        storage,
        server.desk(),
        "bench",
        Role::Viewer,
        "bench",
    )
    .await
    .expect("an API token");
    let console = RemoteConsole::connect(
        remote::server_url(&server.admin_url()).expect("the admin URL"),
        Zeroizing::new(token.token.clone()),
        remote::http_client(None).expect("an HTTP client"),
    )
    .await
    .expect("connected");
    println!(
        "
the window's users_page(text, 0, 100) through the admin API, {RUNS} runs each:"
    );
    for (kind, text) in queries {
        let mut found = 0;
        let times = measure(async || {
            found = console
                .users_page(text, 0, 100)
                .await
                .expect("a page")
                .users
                .len();
        })
        .await;
        report(kind, &times, found);
    }
    let mut found = 0;
    let times = measure(async || {
        found = console
            .users_page("", 0, 100)
            .await
            .expect("a page")
            .users
            .len();
    })
    .await;
    report("first page", &times, found);
}

/// The "needs attention" list at one grant per user: 1% revoked, 0.5% invalid, 0.5% without a
/// refresh token (half of those expired), 1% without drive.appdata, the rest healthy. Read as
/// the Users page does (200 rows and the count) with the partial index `grants_attention`, then
/// without it (what every read cost before migration 0011).
async fn needs_attention(db: &Client, storage: &PgStorage, n: usize) {
    let started = Instant::now();
    let now = tokendesk_core::store::Timestamp::now().unix();
    db.batch_execute(&format!(
        "INSERT INTO clients (uid, name, client_id, issuer, endpoints, foreign_endpoints,
                              created_at)
         VALUES ('c_0123456789abcdef0123456789abcdef', 'bench', 'bench.apps', 'https://accounts.google.com', '{{}}',
                 false, {now});
         INSERT INTO grants (uid, user_id, client_uid, scopes, access_token_expires_at,
                             refresh_token, invalid_reason, refresh_token_sealed, created_at,
                             updated_at)
         SELECT 'g_' || lpad(to_hex(id), 32, '0'), id, 'c_0123456789abcdef0123456789abcdef',
                CASE WHEN id % 100 = 7 THEN 'openid email'
                     ELSE 'openid email https://www.googleapis.com/auth/drive.appdata' END,
                {now} + CASE WHEN id % 400 = 3 THEN -60 ELSE 3000 END,
                CASE WHEN id % 100 = 1 THEN 'revoked'
                     WHEN id % 200 = 2 THEN 'invalid'
                     WHEN id % 200 = 3 THEN 'absent'
                     ELSE 'present' END,
                CASE WHEN id % 200 = 2 THEN 'invalid_grant' END,
                CASE WHEN id % 100 = 1 OR id % 200 IN (2, 3) THEN NULL ELSE '\\x00'::bytea END,
                {now} - id, {now} - id
         FROM users;
         ANALYZE grants;"
    ))
    .await
    .expect("seed the grants");
    println!(
        "\nneeds attention at {n} grants (seeded in {:.1} s), 200 rows and the count, {RUNS} runs each:",
        started.elapsed().as_secs_f64()
    );
    let expiring_before = tokendesk_core::store::Timestamp::from_unix(now + 600);
    for label in ["partial index", "whole table"] {
        if label == "whole table" {
            db.batch_execute("DROP INDEX grants_attention")
                .await
                .expect("drop the index");
        }
        let mut found = 0;
        let mut total = 0;
        let times = measure(async || {
            let (rows, all) = storage
                .grants_needing_attention(expiring_before, 200)
                .await
                .expect("the list");
            (found, total) = (rows.len(), all);
        })
        .await;
        report(&format!("{label} ({total})"), &times, found);
    }
}

/// Times `RUNS` calls of `call` after `WARM_UP`, sorted.
async fn measure(mut call: impl AsyncFnMut()) -> Vec<Duration> {
    for _ in 0..WARM_UP {
        call().await;
    }
    let mut times = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let started = Instant::now();
        call().await;
        times.push(started.elapsed());
    }
    times.sort();
    times
}

fn report(what: &str, sorted: &[Duration], found: usize) {
    let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{what:<18} {:>9.2} {:>9.2} {:>9.2} {found:>6}",
        ms(at(0.50)),
        ms(at(0.99)),
        ms(at(1.0))
    );
}

/// The population, by binary COPY with the users' secondary indexes dropped and built again
/// afterwards (as a restore would): minutes instead of an hour of index maintenance.
async fn seed(db: &Client, n: usize) {
    let started = Instant::now();
    let indexes: Vec<(String, String)> = db
        .query(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i
             WHERE i.tablename = 'users' AND NOT EXISTS (
                 SELECT FROM pg_constraint c WHERE c.conname = i.indexname)",
            &[],
        )
        .await
        .expect("the users indexes")
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    for (index, _) in &indexes {
        db.batch_execute(&format!("DROP INDEX {index}"))
            .await
            .expect("drop index");
    }
    let sink = db
        .copy_in(
            "COPY users (issuer, sub, email, email_verified, name, given_name, family_name,
                         picture, locale, claims, created_at, updated_at, email_lc, name_lc,
                         given_name_lc, family_name_lc) FROM STDIN BINARY",
        )
        .await
        .expect("copy");
    let types = [
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::BOOL,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::JSONB,
        Type::INT8,
        Type::INT8,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
    ];
    let mut writer = pin!(BinaryCopyInWriter::new(sink, &types));
    let fold = |v: &Option<String>| v.as_deref().map(str::to_lowercase);
    for i in 0..n {
        let (p, claims) = population::user(i);
        let at = 1_800_000_000 + i as i64;
        let row: [&(dyn ToSql + Sync); 16] = [
            &p.issuer,
            &p.sub,
            &p.email,
            &p.email_verified,
            &p.name,
            &p.given_name,
            &p.family_name,
            &p.picture,
            &p.locale,
            &claims,
            &at,
            &at,
            &fold(&p.email),
            &fold(&p.name),
            &fold(&p.given_name),
            &fold(&p.family_name),
        ];
        writer.as_mut().write(&row).await.expect("copy a row");
    }
    writer.finish().await.expect("copy");
    let copied = started.elapsed();
    db.batch_execute("SET maintenance_work_mem = '512MB'")
        .await
        .expect("set");
    for (_, definition) in &indexes {
        db.batch_execute(definition).await.expect("create index");
    }
    db.batch_execute("VACUUM ANALYZE users")
        .await
        .expect("vacuum");
    let size: String = db
        .query_one(
            "SELECT pg_size_pretty(pg_total_relation_size('users'))",
            &[],
        )
        .await
        .expect("size")
        .get(0);
    eprintln!(
        "seeded {n} users: copied in {copied:.1?}, indexed and analysed in {:.1?}; users with \
         its indexes: {size}",
        started.elapsed() - copied
    );
}

async fn connect(url: &str, dbname: &str) -> Client {
    let mut config: tokio_postgres::Config = url.parse().expect("a postgres:// URL");
    config.dbname(dbname);
    let (client, connection) = config.connect(NoTls).await.expect("connect");
    tokio::spawn(connection);
    client
}

/// `url` with its database replaced (postgres://USER@HOST:PORT/DATABASE).
fn with_dbname(url: &str, dbname: &str) -> String {
    match url.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{dbname}"),
        None => url.to_owned(),
    }
}
