//! `grants`: what a user granted a client, its tokens sealed in the row.

use tokendesk_core::store::{GrantUid, GrantWrite, RefreshTokenState, StoreError};

use crate::{SCOPES, client_and_user, put_grant, sealed, t, temp_store};

#[test]
fn a_new_grant_holds_its_sealed_tokens_and_the_sign_ins_azp() {
    let (_dir, mut store) = temp_store();
    let (client, user) = client_and_user(&mut store);
    let uid = GrantUid::generate().unwrap();
    put_grant(&mut store, &uid, &client, user, true).unwrap();
    let grant = store.grants().get(&uid).unwrap().unwrap();
    assert_eq!(grant.refresh_token, RefreshTokenState::Present);
    assert_eq!(grant.refresh_token_sealed, Some(sealed("refresh")));
    assert_eq!(grant.access_token_sealed, Some(sealed("access")));
    assert_eq!(grant.scopes, SCOPES);
    assert_eq!(grant.access_token_expires_at, Some(t(3600)));
    assert_eq!(
        grant.azp.as_deref(),
        Some("web-ios.apps.googleusercontent.com"),
        "a refreshed ID token is checked against the sign-in's azp, kept per grant"
    );
    assert_eq!(store.grants().find(user, &client).unwrap(), Some(grant));
}

#[test]
fn without_a_refresh_token_a_new_grant_is_absent() {
    let (_dir, mut store) = temp_store();
    let (client, user) = client_and_user(&mut store);
    let uid = GrantUid::generate().unwrap();
    put_grant(&mut store, &uid, &client, user, false).unwrap();
    let grant = store.grants().get(&uid).unwrap().unwrap();
    assert_eq!(grant.refresh_token, RefreshTokenState::Absent);
    assert_eq!(grant.refresh_token_sealed, None);
    assert!(
        store.grants().to_refresh().unwrap().is_empty(),
        "nothing to refresh without a refresh token"
    );
}

#[test]
fn a_re_consent_without_a_refresh_token_keeps_the_grants_own() {
    let (_dir, mut store) = temp_store();
    let (client, user) = client_and_user(&mut store);
    let uid = GrantUid::generate().unwrap();
    put_grant(&mut store, &uid, &client, user, true).unwrap();
    // Google sends a refresh token on the first consent only.
    let access = sealed("access-2");
    let scopes = vec!["openid".to_owned()];
    store
        .write_with(|tx| {
            tx.grants_mut().put(
                &GrantWrite {
                    uid: &uid,
                    user_id: user,
                    client: &client,
                    scopes: &scopes,
                    access_token_expires_at: Some(t(7200)),
                    access_token: &access,
                    refresh_token: None,
                    azp: None,
                },
                t(10),
            )
        })
        .unwrap();
    let grant = store.grants().get(&uid).unwrap().unwrap();
    assert_eq!(
        grant.refresh_token_sealed,
        Some(sealed("refresh")),
        "a re-consent without a refresh token must not drop the one the grant has"
    );
    assert_eq!(grant.refresh_token, RefreshTokenState::Present);
    assert_eq!(grant.access_token_sealed, Some(access));
    assert_eq!(grant.updated_at, t(10));
}

#[test]
fn a_grant_under_another_uid_is_reported_not_overwritten() {
    let (_dir, mut store) = temp_store();
    let (client, user) = client_and_user(&mut store);
    let first = GrantUid::generate().unwrap();
    put_grant(&mut store, &first, &client, user, true).unwrap();
    let second = GrantUid::generate().unwrap();
    let err = put_grant(&mut store, &second, &client, user, true).unwrap_err();
    assert!(
        matches!(&err, StoreError::GrantMoved { existing } if *existing == first),
        "tokens sealed for another uid must not land in this row: {err:?}"
    );
    assert_eq!(
        store
            .grants()
            .get(&first)
            .unwrap()
            .unwrap()
            .refresh_token_sealed,
        Some(sealed("refresh"))
    );
    assert!(store.grants().get(&second).unwrap().is_none());
}

#[test]
fn a_refresh_replaces_the_access_token_and_keeps_the_rest() {
    let (_dir, mut store) = temp_store();
    let (client, user) = client_and_user(&mut store);
    let uid = GrantUid::generate().unwrap();
    put_grant(&mut store, &uid, &client, user, true).unwrap();
    store
        .write_with(|tx| {
            tx.grants_mut()
                .refreshed(&uid, &sealed("access-2"), Some(t(9000)), &[], t(20))
        })
        .unwrap();
    let grant = store.grants().get(&uid).unwrap().unwrap();
    assert_eq!(grant.access_token_sealed, Some(sealed("access-2")));
    assert_eq!(grant.access_token_expires_at, Some(t(9000)));
    assert_eq!(
        grant.scopes, SCOPES,
        "no scope in the answer keeps the scopes"
    );
    assert_eq!(grant.refresh_token_sealed, Some(sealed("refresh")));

    store
        .write_with(|tx| {
            tx.grants_mut()
                .rotate_refresh_token(&uid, &sealed("refresh-2"), t(21))
        })
        .unwrap();
    assert_eq!(
        store
            .grants()
            .get(&uid)
            .unwrap()
            .unwrap()
            .refresh_token_sealed,
        Some(sealed("refresh-2")),
        "a rotated refresh token replaces the spent one"
    );
}

#[test]
fn refresh_token_states_follow_revocation_and_invalid_grant() {
    let (_dir, mut store) = temp_store();
    let (client, user) = client_and_user(&mut store);
    let uid = GrantUid::generate().unwrap();
    put_grant(&mut store, &uid, &client, user, true).unwrap();

    let err = store
        .write_with(|tx| {
            tx.grants_mut()
                .set_refresh_state(&uid, RefreshTokenState::Invalid, None, true, t(1))
        })
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Invalid { .. }),
        "an invalid refresh token needs a reason the UI can show: {err:?}"
    );

    store
        .write_with(|tx| {
            tx.grants_mut().set_refresh_state(
                &uid,
                RefreshTokenState::PendingRevocation,
                Some("ignored"),
                false,
                t(2),
            )
        })
        .unwrap();
    let pending = store.grants().get(&uid).unwrap().unwrap();
    assert_eq!(pending.refresh_token, RefreshTokenState::PendingRevocation);
    assert_eq!(pending.invalid_reason, None, "a reason only for invalid");
    assert!(
        pending.refresh_token_sealed.is_some(),
        "a pending revocation keeps the token to retry with"
    );

    store
        .write_with(|tx| {
            tx.grants_mut()
                .set_refresh_state(&uid, RefreshTokenState::Revoked, None, true, t(3))
        })
        .unwrap();
    let revoked = store.grants().get(&uid).unwrap().unwrap();
    assert_eq!(revoked.refresh_token, RefreshTokenState::Revoked);
    assert_eq!(
        (revoked.refresh_token_sealed, revoked.access_token_sealed),
        (None, None),
        "dead tokens are dropped: kept, they would only widen a leak"
    );

    let uid2 = GrantUid::generate().unwrap();
    let (client2, _) = {
        let c = store
            .write_with(|tx| crate::insert_client(tx, "other", t(0)))
            .unwrap();
        (c, ())
    };
    put_grant(&mut store, &uid2, &client2, user, true).unwrap();
    store
        .write_with(|tx| {
            tx.grants_mut().set_refresh_state(
                &uid2,
                RefreshTokenState::Invalid,
                Some("Token has been expired or revoked."),
                true,
                t(4),
            )
        })
        .unwrap();
    let invalid = store.grants().get(&uid2).unwrap().unwrap();
    assert_eq!(invalid.refresh_token, RefreshTokenState::Invalid);
    assert_eq!(
        invalid.invalid_reason.as_deref(),
        Some("Token has been expired or revoked.")
    );
}

#[test]
fn a_grant_that_needs_its_refresh_token_cannot_lose_it() {
    let (_dir, mut store) = temp_store();
    let (client, user) = client_and_user(&mut store);
    let uid = GrantUid::generate().unwrap();
    put_grant(&mut store, &uid, &client, user, false).unwrap();
    let err = store
        .write_with(|tx| {
            tx.grants_mut()
                .set_refresh_state(&uid, RefreshTokenState::Present, None, false, t(5))
        })
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Sqlite(_)),
        "a CHECK refuses a present refresh token with nothing sealed: {err:?}"
    );
}

#[test]
fn scopes_with_whitespace_inside_are_refused() {
    let (_dir, mut store) = temp_store();
    let (client, user) = client_and_user(&mut store);
    let uid = GrantUid::generate().unwrap();
    let scopes = vec!["openid email".to_owned()];
    let access = sealed("a");
    let err = store
        .write_with(|tx| {
            tx.grants_mut().put(
                &GrantWrite {
                    uid: &uid,
                    user_id: user,
                    client: &client,
                    scopes: &scopes,
                    access_token_expires_at: None,
                    access_token: &access,
                    refresh_token: None,
                    azp: None,
                },
                t(0),
            )
        })
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Invalid { field: "scope", .. }),
        "{err:?}"
    );
}

#[test]
fn a_grant_for_an_unknown_user_is_refused() {
    let (_dir, mut store) = temp_store();
    let (client, _) = client_and_user(&mut store);
    let err = put_grant(
        &mut store,
        &GrantUid::generate().unwrap(),
        &client,
        tokendesk_core::store::UserId(999),
        true,
    )
    .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
}
