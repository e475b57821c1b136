//! Grants: one per user and client, never overwritten under another uid; tokens replaced and
//! dropped exactly as the operations say.

use std::sync::Arc;

use super::{
    add_client, all_audit, entry, grant_uid, new_claim, profile, scopes, sealed, sign_in, success,
    t,
};
use crate::storage::{RefreshStateChange, RefreshSuccess, Storage};
use crate::store::{AuditAction, ExchangeOutcome, GrantUid, RefreshTokenState, StoreError};

pub async fn a_grant_under_another_uid_is_grant_moved_and_nothing_is_written(
    storage: Arc<dyn Storage>,
) {
    let s = &*storage;
    let client = add_client(s, "web").await;
    let first = grant_uid();
    let mut ada = profile("1001", "ada@example.com");
    ada.name = Some("Ada".into());
    let (user, _) = sign_in(
        s,
        &client,
        "4/0A-1",
        ada.clone(),
        &first,
        Some(sealed("r1")),
        t(1),
    )
    .await
    .expect("first sign-in");
    let audited = all_audit(s).await;

    // Another process sealed the second sign-in's tokens for a new uid.
    let second = grant_uid();
    let exchange = new_claim(s, &client, "4/0A-2", t(2)).await;
    ada.name = Some("Ada Lovelace".into());
    let moved = s
        .complete_exchange(success(
            exchange,
            &client,
            ada,
            &second,
            Some(sealed("r2")),
            t(2),
        ))
        .await;
    assert!(
        matches!(&moved, Err(StoreError::GrantMoved { existing }) if *existing == first),
        "tokens sealed for another uid must not land in the user's grant: {moved:?}"
    );
    let grant = s.grant(&first).await.expect("read").expect("kept");
    assert_eq!(
        grant.refresh_token_sealed,
        Some(sealed("r1")),
        "the grant is untouched"
    );
    assert_eq!(s.grant(&second).await.expect("read"), None);
    let stored = s.user(user.id).await.expect("read").expect("user");
    assert_eq!(
        stored.name.as_deref(),
        Some("Ada"),
        "the failed call's user update is rolled back with it"
    );
    assert_eq!(
        s.exchange(exchange)
            .await
            .expect("read")
            .expect("row")
            .outcome,
        ExchangeOutcome::Pending,
        "the exchange is still to finish (the facade retries under the existing grant)"
    );
    assert_eq!(
        all_audit(s).await,
        audited,
        "nothing is audited for a write not made"
    );
}

pub async fn a_re_consent_without_a_refresh_token_keeps_the_grants_own(storage: Arc<dyn Storage>) {
    let s = &*storage;
    let client = add_client(s, "web").await;
    let uid = grant_uid();
    let ada = profile("1001", "ada@example.com");
    sign_in(
        s,
        &client,
        "4/0A-1",
        ada.clone(),
        &uid,
        Some(sealed("r1")),
        t(1),
    )
    .await
    .expect("first sign-in");
    // Google sends a refresh token on the first consent only.
    let (_, grant) = sign_in(s, &client, "4/0A-2", ada.clone(), &uid, None, t(2))
        .await
        .expect("re-consent");
    assert_eq!(
        grant.refresh_token_sealed,
        Some(sealed("r1")),
        "a re-consent without a refresh token must not drop the one the grant has"
    );
    assert_eq!(grant.refresh_token, RefreshTokenState::Present);
    assert_eq!(
        grant.access_token_sealed,
        Some(sealed(&format!("access@{}", t(2).unix())))
    );
    assert_eq!(grant.access_token_expires_at, Some(t(3602)));
    assert_eq!((grant.created_at, grant.updated_at), (t(1), t(2)));

    s.change_refresh_state(RefreshStateChange {
        grant: uid.clone(),
        state: RefreshTokenState::Invalid,
        reason: Some("invalid_grant".into()),
        drop_tokens: false,
        audit: None,
        now: t(3),
    })
    .await
    .expect("invalid");
    let (_, grant) = sign_in(s, &client, "4/0A-3", ada, &uid, Some(sealed("r2")), t(4))
        .await
        .expect("consent again");
    assert_eq!(
        (
            grant.refresh_token,
            grant.invalid_reason,
            grant.refresh_token_sealed
        ),
        (RefreshTokenState::Present, None, Some(sealed("r2"))),
        "a new refresh token makes the grant usable again"
    );
}

pub async fn a_refresh_state_change_drops_tokens_where_asked(storage: Arc<dyn Storage>) {
    let s = &*storage;
    let client = add_client(s, "web").await;
    let (uid, other) = (grant_uid(), grant_uid());
    sign_in(
        s,
        &client,
        "4/0A-1",
        profile("1", "a@x.test"),
        &uid,
        Some(sealed("r")),
        t(1),
    )
    .await
    .expect("sign-in");
    sign_in(
        s,
        &client,
        "4/0A-2",
        profile("2", "b@x.test"),
        &other,
        Some(sealed("r")),
        t(2),
    )
    .await
    .expect("sign-in");
    let change = |grant: &GrantUid, state, reason: Option<&str>, drop_tokens| RefreshStateChange {
        grant: grant.clone(),
        state,
        reason: reason.map(str::to_owned),
        drop_tokens,
        audit: Some(entry(AuditAction::Revoke, None)),
        now: t(5),
    };
    let audited = all_audit(s).await.len();
    let refused = s
        .change_refresh_state(change(&uid, RefreshTokenState::Invalid, Some(" "), true))
        .await;
    assert!(
        matches!(
            refused,
            Err(StoreError::Invalid {
                field: "invalid_reason",
                ..
            })
        ),
        "an invalid refresh token needs a reason to show: {refused:?}"
    );
    let kept = s.grant(&uid).await.expect("read").expect("grant");
    assert_eq!(
        kept.refresh_token_sealed,
        Some(sealed("r")),
        "a refused change changes nothing"
    );
    assert_eq!(all_audit(s).await.len(), audited);

    s.change_refresh_state(change(
        &uid,
        RefreshTokenState::PendingRevocation,
        None,
        false,
    ))
    .await
    .expect("pending revocation");
    let pending = s.grant(&uid).await.expect("read").expect("grant");
    assert_eq!(
        pending.refresh_token_sealed,
        Some(sealed("r")),
        "a revocation still to confirm needs its token"
    );
    s.change_refresh_state(change(
        &uid,
        RefreshTokenState::Revoked,
        Some("ignored"),
        true,
    ))
    .await
    .expect("revoked");
    let revoked = s.grant(&uid).await.expect("read").expect("grant");
    assert_eq!(
        (revoked.refresh_token_sealed, revoked.access_token_sealed),
        (None, None),
        "dead tokens are not kept: they only widen what a leak exposes"
    );
    assert_eq!(revoked.refresh_token, RefreshTokenState::Revoked);
    assert_eq!(
        revoked.invalid_reason, None,
        "only an invalid token keeps a reason"
    );
    assert_eq!(revoked.updated_at, t(5));
    assert_eq!(
        all_audit(s).await.len(),
        audited + 2,
        "each change audited with it"
    );
    let to_refresh: Vec<GrantUid> = s
        .grants_to_refresh()
        .await
        .expect("read")
        .into_iter()
        .map(|g| g.uid)
        .collect();
    assert_eq!(
        to_refresh,
        [other],
        "only a live refresh token is refreshed"
    );
    let missing = s
        .change_refresh_state(change(&grant_uid(), RefreshTokenState::Revoked, None, true))
        .await;
    assert!(
        matches!(missing, Err(StoreError::NotFound { .. })),
        "{missing:?}"
    );
}

pub async fn a_rotated_refresh_token_replaces_the_spent_one(storage: Arc<dyn Storage>) {
    let s = &*storage;
    let client = add_client(s, "web").await;
    let uid = grant_uid();
    sign_in(
        s,
        &client,
        "4/0A-1",
        profile("1", "a@x.test"),
        &uid,
        Some(sealed("r1")),
        t(1),
    )
    .await
    .expect("sign-in");
    s.store_rotated_refresh_token(&uid, sealed("r2"), t(7))
        .await
        .expect("rotate");
    let grant = s.grant(&uid).await.expect("read").expect("grant");
    assert_eq!(
        grant.refresh_token_sealed,
        Some(sealed("r2")),
        "the spent token is gone"
    );
    assert_eq!(grant.updated_at, t(7));
    let missing = s
        .store_rotated_refresh_token(&grant_uid(), sealed("r3"), t(8))
        .await;
    assert!(
        matches!(missing, Err(StoreError::NotFound { .. })),
        "{missing:?}"
    );
}

pub async fn a_refresh_keeps_what_the_answer_did_not_say(storage: Arc<dyn Storage>) {
    let s = &*storage;
    let client = add_client(s, "web").await;
    let uid = grant_uid();
    let mut ada = profile("1001", "ada@example.com");
    ada.name = Some("Ada".into());
    let (user, _) = sign_in(s, &client, "4/0A-1", ada, &uid, Some(sealed("r")), t(1))
        .await
        .expect("sign-in");
    let refresh = |scopes: Vec<String>, expires, profile| RefreshSuccess {
        grant: uid.clone(),
        access_token: sealed("access-2"),
        access_token_expires_at: expires,
        scopes,
        profile,
        audit: entry(AuditAction::Refresh, Some(user.id)),
        now: t(10),
    };
    // A refreshed ID token often carries no profile claims.
    let mut bare = profile("1001", "ada.l@example.com");
    bare.email_verified = None;
    s.save_refresh(refresh(Vec::new(), None, Some(bare)))
        .await
        .expect("refresh");
    let grant = s.grant(&uid).await.expect("read").expect("grant");
    assert_eq!(grant.access_token_sealed, Some(sealed("access-2")));
    assert_eq!(
        grant.scopes,
        scopes(),
        "no scope in the answer keeps the scopes"
    );
    assert_eq!(
        grant.access_token_expires_at,
        Some(t(3601)),
        "no expiry keeps the expiry"
    );
    assert_eq!(grant.refresh_token_sealed, Some(sealed("r")));
    assert_eq!(grant.updated_at, t(10));
    let stored = s.user(user.id).await.expect("read").expect("user");
    assert_eq!(
        stored.name.as_deref(),
        Some("Ada"),
        "a claim left out keeps the stored one"
    );
    assert_eq!(
        stored.email.as_deref(),
        Some("ada.l@example.com"),
        "a claim given replaces it"
    );
    assert_eq!(stored.email_verified, Some(true));
    assert_eq!(all_audit(s).await[0].action, AuditAction::Refresh);

    s.save_refresh(refresh(vec!["openid".into()], Some(t(99)), None))
        .await
        .expect("refresh");
    let grant = s.grant(&uid).await.expect("read").expect("grant");
    assert_eq!(
        grant.scopes,
        ["openid"],
        "scopes the provider names replace the old ones"
    );
    assert_eq!(grant.access_token_expires_at, Some(t(99)));
    let bad = s
        .save_refresh(refresh(vec!["two words".into()], None, None))
        .await;
    assert!(matches!(bad, Err(StoreError::Invalid { .. })), "{bad:?}");
}

pub async fn grants_and_users_are_listed_in_the_order_asked(storage: Arc<dyn Storage>) {
    let s = &*storage;
    let (web, cli) = (add_client(s, "web").await, add_client(s, "cli").await);
    let (a_web, a_cli, b_web) = (grant_uid(), grant_uid(), grant_uid());
    let ada = profile("1", "ada@x.test");
    let (a, _) = sign_in(s, &web, "4/1", ada.clone(), &a_web, Some(sealed("r")), t(1))
        .await
        .expect("sign-in");
    sign_in(s, &cli, "4/2", ada, &a_cli, None, t(2))
        .await
        .expect("sign-in");
    let (b, _) = sign_in(
        s,
        &web,
        "4/3",
        profile("2", "bob@x.test"),
        &b_web,
        Some(sealed("r")),
        t(3),
    )
    .await
    .expect("sign-in");
    let uids = |grants: Vec<crate::store::Grant>| -> Vec<GrantUid> {
        grants.into_iter().map(|g| g.uid).collect()
    };
    assert_eq!(
        uids(s.grants_of(&[b.id, a.id]).await.expect("read")),
        [b_web.clone(), a_web.clone(), a_cli],
        "user by user as asked, each user's oldest grant first"
    );
    assert!(s.grants_of(&[]).await.expect("read").is_empty());
    assert_eq!(
        uids(s.grants_to_refresh().await.expect("read")),
        [a_web, b_web],
        "least recently updated first; a grant without a refresh token is not refreshed"
    );
    let missing = crate::store::UserId(b.id.0 + 1000);
    let users: Vec<_> = s
        .users_by_id(&[b.id, missing, a.id])
        .await
        .expect("read")
        .into_iter()
        .map(|u| u.id)
        .collect();
    assert_eq!(
        users,
        [b.id, a.id],
        "in the order asked; an unknown id is skipped"
    );
    assert_eq!(s.user(missing).await.expect("read"), None);
}

pub async fn the_attention_list_holds_the_grants_that_need_a_person(storage: Arc<dyn Storage>) {
    let s = &*storage;
    let client = add_client(s, "web").await;
    let drive = crate::desk::DRIVE_APPDATA_SCOPE.to_owned();
    let with_drive = || {
        let mut all = scopes();
        all.push(drive.clone());
        all
    };
    // The sign-ins grant `openid email`: no drive.appdata until a refresh names it.
    let refreshed = |grant: &GrantUid, expires: i64, now: i64| RefreshSuccess {
        grant: grant.clone(),
        access_token: sealed("access"),
        access_token_expires_at: Some(t(expires)),
        scopes: with_drive(),
        profile: None,
        audit: entry(AuditAction::Refresh, None),
        now: t(now),
    };
    let [healthy, no_drive, invalid, absent_live, absent_expiring] =
        std::array::from_fn(|_| grant_uid());
    let people = [
        (&healthy, "1", true),
        (&no_drive, "2", true),
        (&invalid, "3", true),
        (&absent_live, "4", false),
        (&absent_expiring, "5", false),
    ];
    for (n, (uid, sub, refresh)) in (1..).zip(people) {
        sign_in(
            s,
            &client,
            &format!("4/0A-{sub}"),
            profile(sub, &format!("{sub}@x.test")),
            uid,
            refresh.then(|| sealed("r")),
            t(n),
        )
        .await
        .expect("sign-in");
    }
    s.save_refresh(refreshed(&healthy, 9000, 10))
        .await
        .expect("refresh");
    s.save_refresh(refreshed(&invalid, 9000, 11))
        .await
        .expect("refresh");
    s.change_refresh_state(RefreshStateChange {
        grant: invalid.clone(),
        state: RefreshTokenState::Invalid,
        reason: Some("Token has been expired or revoked.".into()),
        drop_tokens: true,
        audit: None,
        now: t(12),
    })
    .await
    .expect("marked invalid");
    s.save_refresh(refreshed(&absent_live, 9000, 13))
        .await
        .expect("refresh");
    s.save_refresh(refreshed(&absent_expiring, 100, 14))
        .await
        .expect("refresh");

    let (found, total) = s.grants_needing_attention(t(5000), 10).await.expect("read");
    let uids: Vec<GrantUid> = found.into_iter().map(|g| g.uid).collect();
    assert_eq!(
        uids,
        [absent_expiring.clone(), invalid, no_drive],
        "a refused refresh token, no refresh token with an access token about to go, and no \
         drive.appdata need a person, most recently updated first; a live grant with every \
         scope, or without a refresh token but with hours left, does not"
    );
    assert_eq!(total, 3);
    let (first, total) = s.grants_needing_attention(t(5000), 1).await.expect("read");
    assert_eq!(
        first.into_iter().map(|g| g.uid).collect::<Vec<_>>(),
        [absent_expiring],
        "the limit bounds the list, not the count"
    );
    assert_eq!(total, 3, "the count is of every match");
    let (later, _) = s
        .grants_needing_attention(t(10_000), 10)
        .await
        .expect("read");
    assert!(
        later.iter().any(|g| g.uid == absent_live),
        "without a refresh token, an access token expiring before the bound needs a person"
    );
    assert!(!later.iter().any(|g| g.uid == healthy));
}
