//! Advisory locks across replicas: two `PgStorage` on one database are two replicas.

use std::time::Duration;

use tokendesk_core::storage::Storage;
use tokendesk_core::store::{CodeHash, GrantUid};

use crate::{TestDb, admin};

const A_WHILE: Duration = Duration::from_millis(300);
const PATIENCE: Duration = Duration::from_secs(20);

/// Advisory locks in the test database: (granted, waiting).
async fn advisory_locks(db: &TestDb) -> (i64, i64) {
    let row = admin(&db.name)
        .await
        .query_one(
            "SELECT count(*) FILTER (WHERE granted), count(*) FILTER (WHERE NOT granted)
             FROM pg_locks
             WHERE locktype = 'advisory'
               AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            &[],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

/// Polls until the test database's advisory locks are `expected`.
async fn until_locks(db: &TestDb, expected: (i64, i64), why: &str) {
    let polled = tokio::time::timeout(PATIENCE, async {
        while advisory_locks(db).await != expected {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(
        polled.is_ok(),
        "{why}: advisory locks (granted, waiting) stayed {:?}, expected {expected:?}",
        advisory_locks(db).await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_locked_on_one_replica_waits_on_the_other() {
    let db = TestDb::create().await;
    let (one, two) = (db.storage().await, db.storage().await);
    let grant = GrantUid::generate().unwrap();
    let held = one.lock_grant(&grant).await.unwrap();
    let waiter = {
        let grant = grant.clone();
        tokio::spawn(async move { two.lock_grant(&grant).await.map(|held| (held, two)) })
    };
    tokio::time::sleep(A_WHILE).await;
    assert!(
        !waiter.is_finished(),
        "two replicas must never refresh one grant at once: the second waits"
    );
    drop(held);
    let (taken, _two) = tokio::time::timeout(PATIENCE, waiter)
        .await
        .expect("the other replica gets the lock once the first lets go")
        .unwrap()
        .unwrap();
    assert_eq!(
        advisory_locks(&db).await,
        (1, 0),
        "held by the second replica only"
    );
    drop(taken);
    until_locks(
        &db,
        (0, 0),
        "a dropped guard unlocks before its session is reused",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exchange_held_on_one_replica_is_seen_held_on_the_other() {
    let db = TestDb::create().await;
    let (one, two) = (db.storage().await, db.storage().await);
    let code = CodeHash::of("4/0A-live-elsewhere");
    let held = one.lock_exchange(code).await.unwrap();
    assert!(
        two.try_lock_exchange(code).await.unwrap().is_none(),
        "a starting replica must not recover another replica's live exchange"
    );
    drop(held);
    until_locks(&db, (0, 0), "released").await;
    assert!(two.try_lock_exchange(code).await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_whose_session_dies_is_released() {
    let db = TestDb::create().await;
    let (one, two) = (db.storage().await, db.storage().await);
    let grant = GrantUid::generate().unwrap();
    let held = one.lock_grant(&grant).await.unwrap();
    // The replica holding it is killed: its backend ends, as when its process dies.
    let terminated: i64 = admin(&db.name)
        .await
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_locks
             WHERE locktype = 'advisory' AND granted
               AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(terminated, 1, "one session held the lock");
    let taken = tokio::time::timeout(PATIENCE, two.lock_grant(&grant))
        .await
        .expect("a dead session's lock is free")
        .unwrap();
    // The dead session's guard: unlocking fails, quietly, and its connection is not reused.
    drop(held);
    drop(taken);
    until_locks(&db, (0, 0), "released").await;
    let again = tokio::time::timeout(PATIENCE, one.lock_grant(&grant))
        .await
        .expect("the replica whose session died locks again on a new one")
        .unwrap();
    drop(again);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_wait_never_takes_the_lock() {
    let db = TestDb::create().await;
    let (one, two) = (db.storage().await, db.storage().await);
    let grant = GrantUid::generate().unwrap();
    let held = one.lock_grant(&grant).await.unwrap();
    // A request gives up waiting (its future is dropped): the server must stop waiting too,
    // or it would take the lock for nobody once the holder lets go.
    let gave_up = tokio::time::timeout(A_WHILE, two.lock_grant(&grant)).await;
    assert!(
        gave_up.is_err(),
        "the lock is held: the wait cannot have finished"
    );
    until_locks(&db, (1, 0), "the abandoned wait is cancelled on the server").await;
    drop(held);
    until_locks(&db, (0, 0), "nobody holds it after the holder").await;
    let taken = tokio::time::timeout(PATIENCE, two.lock_grant(&grant))
        .await
        .expect("free")
        .unwrap();
    drop(taken);
}
