//! The schema: migrated once by replicas starting together, refused when newer, the audit
//! log append-only in the database itself.

use std::time::Duration;

use tokendesk_core::storage::Storage;
use tokendesk_core::store::{AuditAction, AuditOutcome, NewAuditEntry, StoreError, Timestamp};
use tokendesk_server::pg::schema_version_known;
use tokendesk_server::{PgOptions, PgStorage};

use crate::{TestDb, admin};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_starting_together_migrate_once() {
    let db = TestDb::create().await;
    // Timeouts far shorter than a migration: the replicas that wait for the one migrating, and
    // the migrations themselves, must not be cut by them.
    let impatient = PgOptions {
        lock_timeout: Duration::from_millis(1),
        statement_timeout: Duration::from_millis(100),
        ..PgOptions::default()
    };
    let replicas: Vec<_> = (0..4)
        .map(|_| {
            let (url, options) = (db.url.clone(), impatient.clone());
            tokio::spawn(async move { PgStorage::connect(&url, &options).await.map(drop) })
        })
        .collect();
    let mut ids = Vec::new();
    for replica in replicas {
        replica.await.unwrap().expect("every replica starts");
        let storage = db.storage().await;
        assert_eq!(
            storage.schema_version().await.unwrap(),
            schema_version_known().unsigned_abs()
        );
        ids.push(storage.store_id().await.unwrap());
    }
    ids.dedup();
    assert_eq!(
        ids.len(),
        1,
        "one database, one store id, whichever replica asks"
    );
    let applied: Vec<i32> = admin(&db.name)
        .await
        .query(
            "SELECT version FROM schema_migrations ORDER BY version",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    let expected: Vec<i32> = (1..=schema_version_known()).collect();
    assert_eq!(applied, expected, "each migration applied exactly once");
}

#[tokio::test]
async fn a_database_a_newer_version_migrated_is_refused_unchanged() {
    let db = TestDb::create().await;
    drop(db.storage().await);
    let owner = admin(&db.name).await;
    owner
        .execute(
            "INSERT INTO schema_migrations (version, name) VALUES (99, 'future')",
            &[],
        )
        .await
        .unwrap();
    let refused = PgStorage::connect(&db.url, &PgOptions::default()).await;
    match refused {
        Err(StoreError::TooNew { found, known, path }) => {
            assert_eq!((found, known), (99, schema_version_known().unsigned_abs()));
            assert!(
                path.display().to_string().contains(&db.name),
                "names the database"
            );
        }
        other => panic!("a newer schema must be refused, not used: {other:?}"),
    }
    let versions: i64 = owner
        .query_one("SELECT count(*) FROM schema_migrations", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        versions,
        i64::from(schema_version_known()) + 1,
        "nothing was changed"
    );
}

#[tokio::test]
async fn the_audit_log_cannot_be_edited_even_by_its_owner() {
    let db = TestDb::create().await;
    let storage = db.storage().await;
    let entry = NewAuditEntry {
        os_user: "support1".into(),
        action: AuditAction::Reveal,
        user_id: None,
        outcome: AuditOutcome::Ok,
        detail: None,
    };
    storage
        .record_audit(entry, Timestamp::from_unix(1))
        .await
        .unwrap();
    // The server's own role owns the table, and was denied the rights anyway.
    let mut config: tokio_postgres::Config = db.url.parse().unwrap();
    config.application_name("test");
    let (owner, connection) = config.connect(tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    // A superuser passes the privilege check and meets the triggers.
    let superuser = admin(&db.name).await;
    for statement in [
        "UPDATE audit SET detail = 'rewritten'",
        "DELETE FROM audit",
        "TRUNCATE audit",
    ] {
        let message = |err: tokio_postgres::Error| {
            err.as_db_error()
                .map(|db| db.message().to_owned())
                .unwrap_or_else(|| err.to_string())
        };
        let denied = message(owner.batch_execute(statement).await.unwrap_err());
        assert!(
            denied.contains("permission denied"),
            "{statement} as the owner: {denied}"
        );
        let refused = message(superuser.batch_execute(statement).await.unwrap_err());
        assert!(
            refused.contains("append-only"),
            "{statement} as a superuser: {refused}"
        );
    }
    let kept: i64 = superuser
        .query_one("SELECT count(*) FROM audit WHERE detail IS NULL", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(kept, 1, "the entry is as it was written");
}

#[tokio::test]
async fn the_location_never_shows_the_password() {
    let db = TestDb::create().await;
    let with_password = db.url.replacen(
        &format!("://{}@", db.name),
        &format!("://{}:hunter2@", db.name),
        1,
    );
    assert!(with_password.contains("hunter2"), "{with_password}");
    // Trust authentication ignores the password: the URL still connects.
    let storage = PgStorage::connect(&with_password, &PgOptions::default())
        .await
        .unwrap();
    let shown = format!("{} {storage:?}", storage.location());
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains(&format!("postgres://{}@", db.name)) && shown.contains(&db.name));
}

#[tokio::test]
async fn a_database_that_does_not_exist_is_unavailable_not_a_panic() {
    let db = TestDb::create().await;
    let url = db
        .url
        .replace(&format!("/{}", db.name), "/no_such_database");
    let err = PgStorage::connect(&url, &PgOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Unavailable { detail } if detail.contains("no_such_database")),
        "{err:?}"
    );
    assert_eq!(err.code(), "store_unavailable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_attention_list_reads_its_partial_index_not_every_grant() {
    let db = TestDb::create().await;
    drop(db.storage().await); // migrated
    let client = admin(&db.name).await;
    // With scans of the whole table priced out, the planner takes the partial index if, and
    // only if, the query implies its predicate (the two are written separately: migration
    // 0011 and `needing_attention_sql`).
    client
        .batch_execute("SET enable_seqscan = off")
        .await
        .unwrap();
    let sql = format!("EXPLAIN {}", tokendesk_server::pg::needing_attention_sql());
    let plan: Vec<String> = client
        .query(&sql, &[&Timestamp::now().unix(), &200_i64])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    let plan = plan.join("\n");
    assert!(
        plan.contains("grants_attention"),
        "the attention list scans the grants:\n{plan}"
    );
    assert!(!plan.contains("Seq Scan"), "{plan}");
}
