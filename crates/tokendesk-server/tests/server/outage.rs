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

    scripts_pg("down", &cluster.dir);
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
    let at: Vec<i64> = entries.iter().map(|e| e.at.unix()).collect();
    assert_eq!(
        at,
        [3, 1],
        "what committed before the outage is kept; the failed write is not"
    );
    let relocked = storage.lock_grant(&GrantUid::generate().unwrap()).await;
    assert!(relocked.is_ok(), "locks work again: {relocked:?}");
}
