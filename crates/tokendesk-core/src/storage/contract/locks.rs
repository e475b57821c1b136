//! Coordination: a grant's lock is waited for; an exchange's lock can be probed. Held by
//! whichever process or replica, released when the guard is dropped.

use std::sync::Arc;
use std::time::Duration;

use super::grant_uid;
use crate::storage::Storage;
use crate::store::CodeHash;

/// Long enough for any storage to take a free lock; a wait this long means it is held.
const A_WHILE: Duration = Duration::from_millis(300);
const PATIENCE: Duration = Duration::from_secs(20);

pub async fn a_grants_lock_waits_for_its_holder(storage: Arc<dyn Storage>) {
    let (grant, other) = (grant_uid(), grant_uid());
    let held = storage.lock_grant(&grant).await.expect("lock");
    let waiter = {
        let storage = Arc::clone(&storage);
        let grant = grant.clone();
        tokio::spawn(async move { storage.lock_grant(&grant).await })
    };
    tokio::time::sleep(A_WHILE).await;
    assert!(
        !waiter.is_finished(),
        "one refresh token must never be sent by two at once: the second waits"
    );
    let free = tokio::time::timeout(PATIENCE, storage.lock_grant(&other))
        .await
        .expect("another grant's lock is not held by anyone")
        .expect("lock");
    drop(free);
    drop(held);
    let taken = tokio::time::timeout(PATIENCE, waiter)
        .await
        .expect("the waiter gets the lock once its holder lets go")
        .expect("the task ran")
        .expect("lock");
    drop(taken);
    let again = tokio::time::timeout(PATIENCE, storage.lock_grant(&grant))
        .await
        .expect("a released lock is free again");
    drop(again);
}

pub async fn an_exchange_lock_held_is_seen_as_held(storage: Arc<dyn Storage>) {
    let code = CodeHash::of("4/0A-live");
    let held = storage.lock_exchange(code).await.expect("lock");
    assert!(
        storage
            .try_lock_exchange(code)
            .await
            .expect("try")
            .is_none(),
        "a live exchange is not taken for an interrupted one"
    );
    let other = storage
        .try_lock_exchange(CodeHash::of("4/0A-other"))
        .await
        .expect("try");
    assert!(other.is_some(), "another exchange's lock is free");
    drop(held);
    let probe = {
        let storage = Arc::clone(&storage);
        async move {
            // Released as the guard drops (a storage may finish releasing it on its runtime).
            loop {
                if let Some(held) = storage.try_lock_exchange(code).await.expect("try") {
                    return held;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    let taken = tokio::time::timeout(PATIENCE, probe)
        .await
        .expect("a released exchange lock can be taken");
    assert!(
        storage
            .try_lock_exchange(code)
            .await
            .expect("try")
            .is_none(),
        "a lock taken by try_lock_exchange is held like any other"
    );
    drop(taken);
    drop(other);
    let waited = tokio::time::timeout(PATIENCE, storage.lock_exchange(code))
        .await
        .expect("free again once dropped")
        .expect("lock");
    drop(waited);
}
