//! `clients`: imported OAuth clients; the secret is a keyring reference, not a column.

use tokendesk_core::store::{StoreError, Timestamp};
use tokendesk_core::vault::{SecretKey, SecretKind};

use crate::{client_and_user, new_client, new_grant, t, temp_store};

#[test]
fn a_client_round_trips_with_its_endpoints_and_ios_ids() {
    let (_dir, mut store) = temp_store();
    let mut new = new_client("web-prod");
    new.foreign_endpoints = true;
    let uid = store
        .write_with(|tx| tx.clients_mut().insert(&new, t(5)))
        .unwrap();

    let client = store.clients().get_by_name("web-prod").unwrap().unwrap();
    assert_eq!(client.uid, uid);
    assert_eq!(client.client_id, new.client_id);
    assert_eq!(client.issuer, new.issuer);
    assert_eq!(
        client.endpoints, new.endpoints,
        "endpoints are kept as given"
    );
    assert_eq!(client.ios_client_ids, new.ios_client_ids);
    assert!(
        client.foreign_endpoints,
        "the foreign flag must survive, the UI warns on it"
    );
    assert_eq!(client.created_at, t(5));
    assert_eq!(
        client.secret_version, None,
        "no secret until the keyring has one"
    );
    assert_eq!(store.clients().get(&uid).unwrap(), Some(client));
}

#[test]
fn client_names_are_unique() {
    let (_dir, mut store) = temp_store();
    store
        .write_with(|tx| tx.clients_mut().insert(&new_client("web"), t(0)))
        .unwrap();
    let err = store
        .write_with(|tx| tx.clients_mut().insert(&new_client("web"), t(1)))
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::ClientNameTaken { name } if name == "web"),
        "`--client NAME` must name one client: {err:?}"
    );
    assert_eq!(store.clients().list().unwrap().len(), 1);
}

#[test]
fn the_secret_is_only_referenced_by_a_versioned_keyring_key() {
    let (_dir, mut store) = temp_store();
    let uid = store
        .write_with(|tx| {
            let uid = tx.clients_mut().insert(&new_client("web"), t(0))?;
            tx.clients_mut().set_secret_version(&uid, Some(2))?;
            Ok(uid)
        })
        .unwrap();
    let refs = store.vault_references().unwrap();
    assert_eq!(refs.len(), 1);
    assert_eq!(refs[0].kind, SecretKind::ClientSecret);
    assert_eq!(
        refs[0].key().unwrap(),
        Some(SecretKey::client_secret(uid.as_str(), 2).unwrap()),
        "SQLite names the keyring entry; the entry holds the secret"
    );
    assert!(refs[0].row.contains("web"), "the report says which client");
}

#[test]
fn clients_list_by_name() {
    let (_dir, mut store) = temp_store();
    store
        .write_with(|tx| {
            for name in ["zeta", "alpha", "mid"] {
                tx.clients_mut()
                    .insert(&new_client(name), Timestamp::from_unix(0))?;
            }
            Ok(())
        })
        .unwrap();
    let names: Vec<String> = store
        .clients()
        .list()
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["alpha", "mid", "zeta"]);
}

#[test]
fn a_client_with_grants_cannot_be_removed() {
    let (_dir, mut store) = temp_store();
    let (client, user) = client_and_user(&mut store);
    store
        .write_with(|tx| {
            tx.grants_mut()
                .insert_incomplete(&new_grant(&client, user), t(1))
        })
        .unwrap();
    let err = store
        .write_with(|tx| tx.clients_mut().remove(&client))
        .unwrap_err();
    assert!(
        matches!(err, StoreError::InUse { .. }),
        "removing a client must not orphan its grants' tokens: {err:?}"
    );
    assert!(store.clients().get(&client).unwrap().is_some());
}

#[test]
fn an_unused_client_is_removed() {
    let (_dir, mut store) = temp_store();
    let uid = store
        .write_with(|tx| tx.clients_mut().insert(&new_client("old"), t(0)))
        .unwrap();
    store
        .write_with(|tx| tx.clients_mut().remove(&uid))
        .unwrap();
    assert!(store.clients().get(&uid).unwrap().is_none());
    let again = store.write_with(|tx| tx.clients_mut().remove(&uid));
    assert!(matches!(again, Err(StoreError::NotFound { .. })));
}
