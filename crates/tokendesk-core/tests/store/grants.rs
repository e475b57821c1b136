//! `grants`: scopes, expiry, the refresh token's state and keyring versions, crash states.

use tokendesk_core::store::{GrantState, RefreshTokenState, StoreError, TokenUpdate};
use tokendesk_core::vault::{SecretKey, SecretKind};

use crate::{client_and_user, new_grant, t, temp_store};

#[test]
fn an_exchange_grant_is_incomplete_until_its_secrets_are_recorded() {
    let (_dir, mut store) = temp_store();
    let (client, user) = client_and_user(&mut store);
    let uid = store
        .write_with(|tx| {
            tx.grants_mut()
                .insert_incomplete(&new_grant(&client, user), t(1))
        })
        .unwrap();

    let grant = store.grants().get(&uid).unwrap().unwrap();
    assert_eq!(grant.state, GrantState::Incomplete);
    assert_eq!(grant.refresh_key_version, None);
    assert_eq!(
        store.grants().incomplete().unwrap().len(),
        1,
        "a crash now must be visible at the next start"
    );
    let refs = store.vault_references().unwrap();
    assert!(
        refs.iter()
            .any(|r| r.kind == SecretKind::RefreshToken && r.version.is_none()),
        "an incomplete grant asks the sweep to look for its not-yet-recorded token: {refs:?}"
    );

    store
        .write_with(|tx| tx.grants_mut().complete(&uid, Some(1), Some(1), t(2)))
        .unwrap();
    let grant = store.grants().get(&uid).unwrap().unwrap();
    assert_eq!(grant.state, GrantState::Complete);
    assert_eq!(grant.refresh_key_version, Some(1));
    assert_eq!(grant.access_key_version, Some(1));
    assert_eq!(grant.updated_at, t(2));
    assert!(store.grants().incomplete().unwrap().is_empty());
    let keys: Vec<SecretKey> = store
        .vault_references()
        .unwrap()
        .iter()
        .filter_map(|r| r.key().unwrap())
        .collect();
    assert!(keys.contains(&SecretKey::refresh_token(uid.as_str(), 1).unwrap()));
    assert!(keys.contains(&SecretKey::access_token(uid.as_str(), 1).unwrap()));
}

#[test]
fn a_complete_grant_cannot_claim_a_refresh_token_it_does_not_reference() {
    let (_dir, mut store) = temp_store();
    let (client, user) = client_and_user(&mut store);
    let uid = store
        .write_with(|tx| {
            tx.grants_mut()
                .insert_incomplete(&new_grant(&client, user), t(1))
        })
        .unwrap();
    let result = store.write_with(|tx| tx.grants_mut().complete(&uid, None, Some(1), t(2)));
    assert!(
        result.is_err(),
        "B.1: no row may say 'present' without pointing at a keyring entry"
    );
    assert_eq!(
        store.grants().get(&uid).unwrap().unwrap().state,
        GrantState::Incomplete,
        "the refused change rolled back"
    );
}

#[test]
fn a_refresh_records_new_versions_and_keeps_the_rest() {
    let (_dir, mut store) = temp_store();
    let (client, user) = client_and_user(&mut store);
    let uid = store
        .write_with(|tx| {
            let uid = tx
                .grants_mut()
                .insert_incomplete(&new_grant(&client, user), t(1))?;
            tx.grants_mut().complete(&uid, Some(1), Some(1), t(1))?;
            Ok(uid)
        })
        .unwrap();
    let before = store.grants().get(&uid).unwrap().unwrap();

    let update = TokenUpdate {
        access_token_expires_at: Some(t(7200)),
        access_key_version: Some(2),
        refresh_key_version: Some(2),
        scopes: None,
    };
    store
        .write_with(|tx| tx.grants_mut().update_tokens(&uid, &update, t(3600)))
        .unwrap();
    let after = store.grants().get(&uid).unwrap().unwrap();
    assert_eq!(after.access_token_expires_at, Some(t(7200)));
    assert_eq!(
        after.refresh_key_version,
        Some(2),
        "a rotated token's new version"
    );
    assert_eq!(after.scopes, before.scopes, "scopes not sent are kept");
    assert_eq!(after.created_at, before.created_at);
    assert_eq!(after.updated_at, t(3600));
}

#[test]
fn refresh_token_states_follow_revocation_and_invalid_grant() {
    let (_dir, mut store) = temp_store();
    let (client, user) = client_and_user(&mut store);
    let uid = store
        .write_with(|tx| {
            let uid = tx
                .grants_mut()
                .insert_incomplete(&new_grant(&client, user), t(1))?;
            tx.grants_mut().complete(&uid, Some(3), Some(1), t(1))?;
            Ok(uid)
        })
        .unwrap();

    store
        .write_with(|tx| {
            tx.grants_mut().set_refresh_state(
                &uid,
                RefreshTokenState::PendingRevocation,
                None,
                t(2),
            )
        })
        .unwrap();
    let pending = store.grants().get(&uid).unwrap().unwrap();
    assert_eq!(
        pending.refresh_key_version,
        Some(3),
        "a pending revocation keeps the token so it can be retried"
    );
    assert_eq!(
        store
            .grants()
            .with_refresh_state(RefreshTokenState::PendingRevocation)
            .unwrap()
            .len(),
        1
    );

    store
        .write_with(|tx| {
            tx.grants_mut()
                .set_refresh_state(&uid, RefreshTokenState::Revoked, None, t(3))
        })
        .unwrap();
    let revoked = store.grants().get(&uid).unwrap().unwrap();
    assert_eq!(revoked.refresh_token, RefreshTokenState::Revoked);
    assert_eq!(
        revoked.refresh_key_version, None,
        "a revoked grant no longer references a token"
    );

    let err = store
        .write_with(|tx| {
            tx.grants_mut()
                .set_refresh_state(&uid, RefreshTokenState::Invalid, None, t(4))
        })
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Invalid { .. }),
        "the UI must always be able to say why a token is invalid"
    );
    store
        .write_with(|tx| {
            tx.grants_mut().set_refresh_state(
                &uid,
                RefreshTokenState::Invalid,
                Some("invalid_grant: Token has been expired or revoked."),
                t(5),
            )
        })
        .unwrap();
    let invalid = store.grants().get(&uid).unwrap().unwrap();
    assert_eq!(invalid.refresh_token, RefreshTokenState::Invalid);
    assert!(invalid.invalid_reason.unwrap().starts_with("invalid_grant"));

    let serialized = serde_json::to_value(store.grants().get(&uid).unwrap().unwrap()).unwrap();
    assert_eq!(
        serialized["refresh_token"], "invalid",
        "the JSON state names match DESIGN's present|absent|revoked|invalid"
    );
}

#[test]
fn one_grant_per_user_and_client() {
    let (_dir, mut store) = temp_store();
    let (client, user) = client_and_user(&mut store);
    store
        .write_with(|tx| {
            tx.grants_mut()
                .insert_incomplete(&new_grant(&client, user), t(1))
        })
        .unwrap();
    let err = store
        .write_with(|tx| {
            tx.grants_mut()
                .insert_incomplete(&new_grant(&client, user), t(2))
        })
        .unwrap_err();
    assert!(
        matches!(err, StoreError::InUse { .. }),
        "a second sign-in updates the grant; two would make 'the user's token' ambiguous"
    );
    assert!(store.grants().find(user, &client).unwrap().is_some());
    assert_eq!(store.grants().for_user(user).unwrap().len(), 1);
}

#[test]
fn scopes_round_trip_and_whitespace_inside_a_scope_is_refused() {
    let (_dir, mut store) = temp_store();
    let (client, user) = client_and_user(&mut store);
    let mut grant = new_grant(&client, user);
    let uid = store
        .write_with(|tx| tx.grants_mut().insert_incomplete(&grant, t(1)))
        .unwrap();
    assert_eq!(
        store.grants().get(&uid).unwrap().unwrap().scopes,
        grant.scopes,
        "scopes come back in order"
    );
    store.write_with(|tx| tx.grants_mut().delete(&uid)).unwrap();
    grant.scopes = vec!["openid email".into()];
    let err = store
        .write_with(|tx| tx.grants_mut().insert_incomplete(&grant, t(1)))
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid { field: "scope", .. }));
}

#[test]
fn a_grant_for_an_unknown_user_is_refused() {
    let (_dir, mut store) = temp_store();
    let (client, _user) = client_and_user(&mut store);
    let err = store
        .write_with(|tx| {
            tx.grants_mut().insert_incomplete(
                &new_grant(&client, tokendesk_core::store::UserId(9999)),
                t(1),
            )
        })
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { .. }),
        "foreign keys are on: {err:?}"
    );
}
