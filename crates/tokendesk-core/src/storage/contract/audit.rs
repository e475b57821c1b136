//! The audit log: filtered by every condition at once, newest first, naming the user by email
//! and sub; an entry is committed with the change it records, or not at all.

use std::sync::Arc;

use super::{add_client, all_audit, entry, grant_uid, new_client, profile, sealed, sign_in, t};
use crate::storage::Storage;
use crate::store::{
    AuditAction, AuditEntry, AuditFilter, AuditOutcome, ClientUid, NewAuditEntry, StoreError,
};

pub async fn audit_filters_select_by_each_condition(storage: Arc<dyn Storage>) {
    let s = &*storage;
    let client = add_client(s, "web").await; // a client_add entry at t(0)
    let (ada, _) = sign_in(
        s,
        &client,
        "4/1",
        profile("1001", "Ada@Example.com"),
        &grant_uid(),
        None,
        t(1),
    )
    .await
    .expect("sign-in"); // an exchange entry for Ada at t(1)
    let (bob, _) = sign_in(
        s,
        &client,
        "4/2",
        profile("2002", "bob@corp.test"),
        &grant_uid(),
        None,
        t(2),
    )
    .await
    .expect("sign-in");
    let record = |os_user: &str, action, user, outcome, detail: &str, at| {
        let e = NewAuditEntry {
            os_user: os_user.into(),
            action,
            user_id: user,
            outcome,
            detail: Some(detail.into()),
        };
        async move { s.record_audit(e, t(at)).await.expect("record") }
    };
    record(
        "Operator7",
        AuditAction::Reveal,
        Some(ada.id),
        AuditOutcome::Denied,
        "no role",
        10,
    )
    .await;
    record(
        "operator8",
        AuditAction::Revoke,
        Some(bob.id),
        AuditOutcome::Failed,
        "HTTP 503",
        11,
    )
    .await;
    record(
        "operator8",
        AuditAction::Refresh,
        None,
        AuditOutcome::Ok,
        "all 2 grants",
        12,
    )
    .await;

    let ids = |entries: Vec<AuditEntry>| -> Vec<(AuditAction, i64)> {
        entries
            .iter()
            .map(|e| (e.action, e.at.unix() - t(0).unix()))
            .collect()
    };
    let read = |filter: AuditFilter| async move {
        ids(s
            .audit(AuditFilter {
                limit: 100,
                ..filter
            })
            .await
            .expect("audit"))
    };
    use AuditAction::*;
    assert_eq!(
        read(AuditFilter::default()).await,
        [
            (Refresh, 12),
            (Revoke, 11),
            (Reveal, 10),
            (Exchange, 2),
            (Exchange, 1),
            (ClientAdd, 0)
        ],
        "newest first"
    );
    let of_ada = AuditFilter {
        user: Some(ada.id),
        ..AuditFilter::default()
    };
    assert_eq!(
        read(of_ada).await,
        [(Reveal, 10), (Exchange, 1)],
        "one user's trail"
    );
    let exchanges = AuditFilter {
        action: Some(Exchange),
        ..AuditFilter::default()
    };
    assert_eq!(read(exchanges).await, [(Exchange, 2), (Exchange, 1)]);
    let failed = AuditFilter {
        outcome: Some(AuditOutcome::Failed),
        ..AuditFilter::default()
    };
    assert_eq!(read(failed).await, [(Revoke, 11)]);
    let since = AuditFilter {
        since: Some(t(11)),
        ..AuditFilter::default()
    };
    assert_eq!(
        read(since).await,
        [(Refresh, 12), (Revoke, 11)],
        "at or after the instant"
    );
    let text = |text: &str| AuditFilter {
        text: Some(text.into()),
        ..AuditFilter::default()
    };
    assert_eq!(
        read(text("OPERATOR7")).await,
        [(Reveal, 10)],
        "who acted, without regard to case"
    );
    assert_eq!(read(text("http 5")).await, [(Revoke, 11)], "the detail");
    assert_eq!(
        read(text("example.COM")).await,
        [(Reveal, 10), (Exchange, 1)],
        "part of the user's email"
    );
    assert_eq!(
        read(text("2002")).await,
        [(Revoke, 11), (Exchange, 2)],
        "the user's sub"
    );
    assert!(
        read(text("200")).await.is_empty(),
        "a sub matches whole, not in part"
    );
    let combined = AuditFilter {
        user: Some(bob.id),
        action: Some(Revoke),
        outcome: Some(AuditOutcome::Failed),
        since: Some(t(5)),
        text: Some("503".into()),
        limit: 100,
    };
    assert_eq!(
        read(combined).await,
        [(Revoke, 11)],
        "every condition given must hold"
    );
    let first_two = s
        .audit(AuditFilter {
            limit: 2,
            ..AuditFilter::default()
        })
        .await
        .expect("audit");
    assert_eq!(
        ids(first_two),
        [(Refresh, 12), (Revoke, 11)],
        "the limit keeps the newest"
    );

    let entries = all_audit(s).await;
    let reveal = entries.iter().find(|e| e.action == Reveal).expect("reveal");
    assert_eq!(
        (
            reveal.user_email.as_deref(),
            reveal.user_sub.as_deref(),
            reveal.user_name()
        ),
        (
            Some("Ada@Example.com"),
            Some("1001"),
            Some("Ada@Example.com")
        ),
        "an entry names its user as people know them"
    );
    assert_eq!(
        (
            reveal.os_user.as_str(),
            reveal.outcome,
            reveal.detail.as_deref()
        ),
        ("Operator7", AuditOutcome::Denied, Some("no role"))
    );
    let refresh = &entries[0];
    assert_eq!(
        (refresh.user_id, refresh.user_email.as_deref()),
        (None, None)
    );
}

pub async fn an_audit_entry_commits_or_rolls_back_with_its_change(storage: Arc<dyn Storage>) {
    let s = &*storage;
    let client = add_client(s, "web").await;
    sign_in(
        s,
        &client,
        "4/1",
        profile("1", "a@x.test"),
        &grant_uid(),
        Some(sealed("r")),
        t(1),
    )
    .await
    .expect("sign-in");
    let before = all_audit(s).await;
    assert_eq!(
        before.len(),
        2,
        "the client's addition and the exchange, each with its change"
    );

    let taken = s
        .add_client(
            ClientUid::generate().expect("uid"),
            new_client("web"),
            sealed("x"),
            entry(AuditAction::ClientAdd, None),
            t(2),
        )
        .await;
    assert!(
        matches!(taken, Err(StoreError::ClientNameTaken { .. })),
        "{taken:?}"
    );
    let in_use = s
        .remove_client(&client, entry(AuditAction::ClientRemove, None), t(3))
        .await;
    assert!(
        matches!(in_use, Err(StoreError::InUse { .. })),
        "{in_use:?}"
    );
    assert_eq!(
        all_audit(s).await,
        before,
        "a change refused records nothing, and what was recorded is never rewritten"
    );
    s.record_audit(entry(AuditAction::Recover, None), t(4))
        .await
        .expect("record");
    let after = all_audit(s).await;
    assert_eq!(after.len(), 3);
    assert_eq!(
        &after[1..],
        &before[..],
        "appending leaves earlier entries as they were"
    );
    assert!(after[0].id > before[0].id, "a new entry gets a new id");
}
