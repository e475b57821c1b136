//! The database's identity, its data keys, and its clients.

use std::sync::Arc;

use super::{add_client, all_audit, entry, grant_uid, new_claim, new_client, profile, sign_in, t};
use crate::seal::{DataKeyId, WrappedDataKey};
use crate::storage::Storage;
use crate::store::{AuditAction, ClientUid, StoreError};

fn wrap(data_key: u8, kek: &str, bytes: &[u8]) -> WrappedDataKey {
    WrappedDataKey {
        data_key: DataKeyId::parse_hex(&format!("{data_key:02x}").repeat(16)).expect("16 bytes"),
        kek_id: kek.into(),
        wrapped: bytes.to_vec(),
    }
}

pub async fn the_first_data_key_wins_a_race(storage: Arc<dyn Storage>) {
    assert!(
        storage.data_keys().await.expect("read").is_empty(),
        "a new database has none"
    );
    let racers: Vec<_> = (1..=8u8)
        .map(|i| {
            let storage = Arc::clone(&storage);
            tokio::spawn(async move { storage.init_data_key(wrap(i, "kek", &[i; 40])).await })
        })
        .collect();
    let mut seen = Vec::new();
    for racer in racers {
        seen.push(racer.await.expect("the task ran").expect("init"));
    }
    let stored = storage.data_keys().await.expect("read");
    assert_eq!(
        stored.len(),
        1,
        "two processes starting together must not make two data keys"
    );
    assert!(
        seen.iter().all(|wraps| *wraps == stored),
        "every racer gets the winner's key, so all seal with one: {seen:?}"
    );
}

pub async fn a_rotation_adds_wraps_and_retires_the_old_ones(storage: Arc<dyn Storage>) {
    let s = &*storage;
    let old = wrap(1, "kek-old", b"wrapped by old");
    assert_eq!(
        s.init_data_key(old.clone()).await.expect("init"),
        std::slice::from_ref(&old)
    );
    assert_eq!(
        s.init_data_key(wrap(2, "kek-old", b"another"))
            .await
            .expect("init"),
        std::slice::from_ref(&old),
        "a database that has a data key keeps it"
    );
    let new = wrap(1, "kek-new", b"wrapped by new");
    s.rewrap_data_keys(vec![new.clone()], false)
        .await
        .expect("rewrap");
    assert_eq!(
        s.data_keys().await.expect("read"),
        [old.clone(), new.clone()],
        "during a rotation both wraps open the data key"
    );
    let rewritten = wrap(1, "kek-new", b"wrapped again");
    s.rewrap_data_keys(vec![rewritten.clone()], true)
        .await
        .expect("rewrap");
    assert_eq!(
        s.data_keys().await.expect("read"),
        [rewritten],
        "a wrap by the same key replaces its row; the old key's wraps are retired"
    );
}

pub async fn clients_are_added_listed_and_removed_unless_in_use(storage: Arc<dyn Storage>) {
    let s = &*storage;
    let web = add_client(s, "web").await;
    let cli = add_client(s, "cli").await;
    let names: Vec<String> = s
        .clients()
        .await
        .expect("list")
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["cli", "web"], "listed by name");
    let stored = s.client(&web).await.expect("read").expect("client");
    assert_eq!(
        stored,
        s.client_by_name("web")
            .await
            .expect("read")
            .expect("client")
    );
    assert_eq!(
        (
            stored.client_id.as_str(),
            stored.ios_client_ids.clone(),
            stored.foreign_endpoints
        ),
        (
            "web.apps.googleusercontent.com",
            vec!["web-ios.apps.googleusercontent.com".to_owned()],
            false
        )
    );
    assert_eq!(stored.endpoints, new_client("web").endpoints);
    assert_eq!(
        stored.secret_sealed,
        Some(super::sealed("web")),
        "the secret, sealed"
    );
    assert_eq!(stored.created_at, t(0));
    assert_eq!(
        s.client_by_name("WEB").await.expect("read"),
        None,
        "names are exact"
    );

    let taken = s
        .add_client(
            ClientUid::generate().expect("uid"),
            new_client("web"),
            super::sealed("x"),
            entry(AuditAction::ClientAdd, None),
            t(1),
        )
        .await;
    assert!(
        matches!(&taken, Err(StoreError::ClientNameTaken { name }) if name == "web"),
        "{taken:?}"
    );
    let empty = s
        .add_client(
            ClientUid::generate().expect("uid"),
            new_client(" "),
            super::sealed("x"),
            entry(AuditAction::ClientAdd, None),
            t(1),
        )
        .await;
    assert!(
        matches!(empty, Err(StoreError::Invalid { .. })),
        "{empty:?}"
    );

    sign_in(
        s,
        &web,
        "4/1",
        profile("1", "a@x.test"),
        &grant_uid(),
        None,
        t(2),
    )
    .await
    .expect("sign-in");
    let in_use = s
        .remove_client(&web, entry(AuditAction::ClientRemove, None), t(3))
        .await;
    assert!(
        matches!(in_use, Err(StoreError::InUse { .. })),
        "a client with grants cannot be removed: {in_use:?}"
    );
    assert!(s.client(&web).await.expect("read").is_some());

    // An exchange of the client does not keep it: the exchange forgets which client it was.
    let claimed = new_claim(s, &cli, "4/2", t(4)).await;
    let before = all_audit(s).await.len();
    s.remove_client(&cli, entry(AuditAction::ClientRemove, None), t(5))
        .await
        .expect("a client without grants is removed");
    assert_eq!(s.client(&cli).await.expect("read"), None);
    assert_eq!(
        s.exchange(claimed)
            .await
            .expect("read")
            .expect("kept")
            .client,
        None
    );
    assert_eq!(
        all_audit(s).await.len(),
        before + 1,
        "the removal is audited"
    );
    let again = s
        .remove_client(&cli, entry(AuditAction::ClientRemove, None), t(6))
        .await;
    assert!(
        matches!(again, Err(StoreError::NotFound { .. })),
        "{again:?}"
    );
}

pub async fn the_store_id_is_stable(storage: Arc<dyn Storage>) {
    let id = storage.store_id().await.expect("store id");
    assert!(
        id.len() == 34 && id.starts_with("s_") && id[2..].bytes().all(|b| b.is_ascii_hexdigit()),
        "s_ and 32 hex digits: {id:?}"
    );
    assert_eq!(
        storage.store_id().await.expect("store id"),
        id,
        "the id names the database's key: it never changes"
    );
    assert!(
        !storage.location().is_empty(),
        "the location is shown to people"
    );
}
