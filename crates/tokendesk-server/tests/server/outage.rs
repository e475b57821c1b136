//! A database that goes down and comes back, under a live `PgStorage`: calls fail as
//! `Unavailable` (never a panic, never a hang) and work again once it is back, without a new
//! `PgStorage`. A cluster of its own (scripts/pg), so the other tests keep theirs.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use tokendesk_core::storage::Storage;
use tokendesk_core::store::{
    AuditAction, AuditFilter, AuditOutcome, GrantUid, NewAuditEntry, StoreError, Timestamp,
};
use tokendesk_server::{PgOptions, PgStorage};

/// A cluster started by `scripts/pg start` in a folder of its own, stopped and removed on drop.
struct Cluster {
    dir: PathBuf,
    url: String,
}

fn scripts_pg(command: &str, dir: &PathBuf) -> String {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/pg");
    let out = Command::new("bash")
        .arg(&script)
        .arg(command)
        .arg(dir)
        .output()
        .expect("run scripts/pg");
    assert!(
        out.status.success(),
        "scripts/pg {command} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl Cluster {
    fn start() -> Self {
        // Not a tempdir: the cluster's user (tokendesk-pg, when tests run as root) must reach it.
        let dir = std::env::temp_dir().join(format!("tokendesk-pg-outage-{}", std::process::id()));
        let exports = scripts_pg("start", &dir);
        let url = exports
            .lines()
            .find_map(|l| l.strip_prefix("export TOKENDESK_TEST_DATABASE_URL="))
            .expect("scripts/pg prints the URL")
            .to_owned();
        Cluster { dir, url }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        scripts_pg("stop", &self.dir);
    }
}

fn audit_entry() -> NewAuditEntry {
    NewAuditEntry {
        os_user: "support1".into(),
        action: AuditAction::Recover,
        user_id: None,
        outcome: AuditOutcome::Ok,
        detail: None,
    }
}

fn unavailable<T: std::fmt::Debug>(result: Result<T, StoreError>, what: &str) {
    assert!(
        matches!(result, Err(StoreError::Unavailable { .. })),
        "{what} while the database is down must be Unavailable: {result:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_restart_is_unavailable_then_served_again() {
    let cluster = Cluster::start();
    let options = PgOptions {
        connect_timeout: Duration::from_secs(2),
        ..PgOptions::default()
    };
    let storage = PgStorage::connect(&cluster.url, &options).await.unwrap();
    let id = storage.store_id().await.unwrap();
    storage
        .record_audit(audit_entry(), Timestamp::from_unix(1))
        .await
        .unwrap();
    let held = storage
        .lock_grant(&GrantUid::generate().unwrap())
        .await
        .unwrap();
    // A replica on the same database, and a caller of its admin API.
    let keys = tempfile::tempdir().unwrap();
    let key_file = keys.path().join("kek");
    tokendesk_core::seal::LocalKey::generate()
        .unwrap()
        .write_new_file(&key_file)
        .unwrap();
    let server = tokendesk_server::run::Server::start(tokendesk_server::run::ServerConfig {
        receiver_listen: "127.0.0.1:0".parse().unwrap(),
        admin_listen: "127.0.0.1:0".parse().unwrap(),
        pg: options.clone(),
        ..tokendesk_server::run::ServerConfig::new(&cluster.url, key_file)
    })
    .await
    .unwrap();
    let bot = tokendesk_server::people::create_api_token(
        &storage,
        server.desk(),
        "monitor",
        tokendesk_core::api::Role::Viewer,
        "test",
    )
    .await
    .unwrap();
    let http = reqwest::Client::new();
    let users = format!(
        "{}{}",
        server.admin_url(),
        tokendesk_core::api::paths::USERS
    );
    let call = || http.get(&users).bearer_auth(&bot.token).send();
    assert_eq!(call().await.unwrap().status(), 200);

    scripts_pg("down", &cluster.dir);
    // The API answers, and says the database is unavailable: 503, not a hang or a 500.
    let answer = call().await.unwrap();
    assert_eq!(answer.status(), 503);
    let body: tokendesk_core::api::ErrorBody = answer.json().await.unwrap();
    assert_eq!(
        body.error.kind,
        tokendesk_core::desk::ErrorKind::Unavailable
    );
    let health = http
        .get(format!("{}/healthz", server.admin_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 503);
    unavailable(storage.store_id().await, "a read");
    unavailable(
        storage
            .record_audit(audit_entry(), Timestamp::from_unix(2))
            .await,
        "a write",
    );
    unavailable(
        storage.lock_grant(&GrantUid::generate().unwrap()).await,
        "a lock",
    );
    unavailable(
        PgStorage::connect(&cluster.url, &options).await,
        "a new connection",
    );
    // The lock's session died with the server: dropping its guard is quiet.
    drop(held);

    scripts_pg("up", &cluster.dir);
    // The same replica serves again, without a restart.
    assert_eq!(call().await.unwrap().status(), 200);
    server.stop().await;
    assert_eq!(
        storage.store_id().await.unwrap(),
        id,
        "the same storage serves again once the database is back"
    );
    storage
        .record_audit(audit_entry(), Timestamp::from_unix(3))
        .await
        .unwrap();
    let entries = storage
        .audit(AuditFilter {
            limit: 10,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    // (The replica's own entries, its token and calls, are by others.)
    let at: Vec<i64> = entries
        .iter()
        .filter(|e| e.os_user == "support1")
        .map(|e| e.at.unix())
        .collect();
    assert_eq!(
        at,
        [3, 1],
        "what committed before the outage is kept; the failed write is not"
    );
    let relocked = storage.lock_grant(&GrantUid::generate().unwrap()).await;
    assert!(relocked.is_ok(), "locks work again: {relocked:?}");
}
