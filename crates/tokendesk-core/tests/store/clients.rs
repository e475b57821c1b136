//! `clients`: imported OAuth clients, each with its secret sealed in the row.

use tokendesk_core::store::{ClientUid, StoreError, Timestamp};

use crate::{
    all_bytes, client_and_user, contains, db_path, insert_client, new_client, put_grant, sealed, t,
    temp_store,
};

#[test]
fn a_client_round_trips_with_its_endpoints_and_ios_ids() {
    let (_dir, mut store) = temp_store();
    let mut new = new_client("web-prod");
    new.foreign_endpoints = true;
    let uid = ClientUid::generate().unwrap();
    store
        .write_with(|tx| tx.clients_mut().insert_as(&uid, &new, &sealed("s"), t(5)))
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
        client.secret_sealed,
        Some(sealed("s")),
        "the sealed secret is kept with its row, byte for byte"
    );
    assert_eq!(store.clients().get(&uid).unwrap(), Some(client));
}

#[test]
fn client_names_are_unique() {
    let (_dir, mut store) = temp_store();
    store
        .write_with(|tx| insert_client(tx, "web", t(0)))
        .unwrap();
    let err = store
        .write_with(|tx| insert_client(tx, "web", t(1)))
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::ClientNameTaken { name } if name == "web"),
        "`--client NAME` must name one client: {err:?}"
    );
    assert_eq!(store.clients().list().unwrap().len(), 1);
}

#[test]
fn the_file_holds_the_sealed_bytes_and_nothing_else_of_the_secret() {
    let (dir, mut store) = temp_store();
    let uid = ClientUid::generate().unwrap();
    let secret = tokendesk_core::seal::SealedSecret::from_bytes(b"\x01opaque-ciphertext".to_vec());
    store
        .write_with(|tx| {
            tx.clients_mut()
                .insert_as(&uid, &new_client("web"), &secret, t(0))
        })
        .unwrap();
    assert!(
        contains(&all_bytes(&db_path(&dir)), "opaque-ciphertext"),
        "the row holds what the sealer made, as is"
    );
    assert_eq!(
        store.clients().get(&uid).unwrap().unwrap().secret_sealed,
        Some(secret)
    );
}

#[test]
fn clients_list_by_name() {
    let (_dir, mut store) = temp_store();
    store
        .write_with(|tx| {
            for name in ["zeta", "alpha", "mid"] {
                insert_client(tx, name, Timestamp::from_unix(0))?;
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
    put_grant(
        &mut store,
        &tokendesk_core::store::GrantUid::generate().unwrap(),
        &client,
        user,
        true,
    )
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
        .write_with(|tx| insert_client(tx, "old", t(0)))
        .unwrap();
    store
        .write_with(|tx| tx.clients_mut().remove(&uid))
        .unwrap();
    assert!(store.clients().get(&uid).unwrap().is_none());
    let again = store.write_with(|tx| tx.clients_mut().remove(&uid));
    assert!(matches!(again, Err(StoreError::NotFound { .. })));
}
