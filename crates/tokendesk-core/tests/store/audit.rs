//! `audit`: append-only, committed with the change it records.

use rusqlite::Connection;
use tokendesk_core::storage::contract::entry;
use tokendesk_core::store::{AuditAction, AuditOutcome, StoreError};

use crate::{ISSUER, client_and_user, db_path, t, temp_store};

#[test]
fn entries_list_newest_first_overall_and_per_user() {
    let (_dir, mut store) = temp_store();
    let (_client, user) = client_and_user(&mut store);
    store
        .write_with(|tx| {
            tx.audit_mut()
                .record(&entry(AuditAction::Exchange, Some(user)), t(1))?;
            tx.audit_mut()
                .record(&entry(AuditAction::ClientAdd, None), t(2))?;
            tx.audit_mut()
                .record(&entry(AuditAction::Reveal, Some(user)), t(3))
        })
        .unwrap();
    let all = store.audit().recent(10).unwrap();
    let actions: Vec<AuditAction> = all.iter().map(|e| e.action).collect();
    assert_eq!(
        actions,
        [
            AuditAction::Reveal,
            AuditAction::ClientAdd,
            AuditAction::Exchange
        ]
    );
    assert_eq!(all[0].os_user, "support1", "who did it is recorded");
    let mine = store.audit().for_user(user, 10).unwrap();
    assert_eq!(mine.len(), 2, "a user's trail holds only their entries");
    assert_eq!(
        serde_json::to_value(&mine[0]).unwrap()["action"],
        "reveal",
        "actions serialize as stable snake_case names"
    );
}

#[test]
fn the_log_cannot_be_edited_or_deleted() {
    let (dir, mut store) = temp_store();
    store
        .write_with(|tx| {
            tx.audit_mut()
                .record(&entry(AuditAction::Revoke, None), t(1))
        })
        .unwrap();
    let raw = Connection::open(db_path(&dir)).unwrap();
    assert!(
        raw.execute("UPDATE audit SET outcome = 'failed'", [])
            .is_err(),
        "an audit log that can be rewritten proves nothing"
    );
    assert!(raw.execute("DELETE FROM audit", []).is_err());
    assert_eq!(store.audit().recent(10).unwrap().len(), 1);
}

#[test]
fn an_entry_rolls_back_with_the_failed_change_it_describes() {
    let (_dir, mut store) = temp_store();
    let result: Result<(), StoreError> = store.write_with(|tx| {
        tx.audit_mut()
            .record(&entry(AuditAction::ClientRemove, None), t(1))?;
        Err(StoreError::NotFound {
            what: "client x".into(),
        })
    });
    assert!(result.is_err());
    assert!(
        store.audit().recent(10).unwrap().is_empty(),
        "the entry commits with its change or not at all; a failure is recorded separately"
    );
}

#[test]
fn the_log_is_filtered_in_sql_by_user_action_outcome_time_and_text() {
    use tokendesk_core::store::AuditFilter;
    let (_dir, mut store) = temp_store();
    let (_, user) = crate::client_and_user(&mut store);
    store
        .write_with(|tx| {
            let mut e = entry(AuditAction::Exchange, Some(user));
            tx.audit_mut().record(&e, t(1))?;
            e.action = AuditAction::Refresh;
            e.outcome = AuditOutcome::Failed;
            e.detail = Some("invalid_grant".into());
            tx.audit_mut().record(&e, t(2))?;
            e.user_id = None;
            e.outcome = AuditOutcome::Ok;
            e.detail = Some("web".into());
            tx.audit_mut().record(&e, t(3))
        })
        .unwrap();
    let details = |f: AuditFilter| -> Vec<Option<String>> {
        store
            .audit()
            .filtered(&AuditFilter { limit: 100, ..f })
            .unwrap()
            .into_iter()
            .map(|e| e.detail)
            .collect()
    };
    assert_eq!(
        details(AuditFilter::default()).len(),
        3,
        "no condition keeps all"
    );
    assert_eq!(
        details(AuditFilter {
            user: Some(user),
            ..Default::default()
        })
        .len(),
        2
    );
    assert_eq!(
        details(AuditFilter {
            action: Some(AuditAction::Refresh),
            outcome: Some(AuditOutcome::Failed),
            ..Default::default()
        }),
        [Some("invalid_grant".to_owned())]
    );
    assert_eq!(
        details(AuditFilter {
            since: Some(t(3)),
            ..Default::default()
        }),
        [Some("web".to_owned())],
        "since is inclusive"
    );
    assert_eq!(
        details(AuditFilter {
            text: Some("INVALID".into()),
            ..Default::default()
        }),
        [Some("invalid_grant".to_owned())],
        "text matches the detail, without regard to case"
    );
    assert_eq!(
        store
            .audit()
            .filtered(&AuditFilter {
                limit: 1,
                ..Default::default()
            })
            .unwrap()[0]
            .at,
        t(3),
        "newest first, limited"
    );
}

#[test]
fn entries_name_their_user_by_email_and_sub() {
    let (_dir, mut store) = temp_store();
    let (_client, ada) = client_and_user(&mut store);
    let no_email = tokendesk_core::store::UserProfile {
        issuer: ISSUER.into(),
        sub: "2002".into(),
        ..tokendesk_core::store::UserProfile::default()
    };
    store
        .write_with(|tx| {
            let anon = tx.users_mut().upsert(&no_email, None, t(0))?;
            tx.audit_mut()
                .record(&entry(AuditAction::Exchange, Some(ada)), t(1))?;
            tx.audit_mut()
                .record(&entry(AuditAction::Refresh, Some(anon)), t(2))?;
            tx.audit_mut()
                .record(&entry(AuditAction::ClientAdd, None), t(3))
        })
        .unwrap();
    let all = store.audit().recent(10).unwrap();
    let named: Vec<(Option<&str>, Option<&str>, Option<&str>)> = all
        .iter()
        .map(|e| {
            (
                e.user_email.as_deref(),
                e.user_sub.as_deref(),
                e.user_name(),
            )
        })
        .collect();
    assert_eq!(
        named,
        [
            (None, None, None),
            (None, Some("2002"), Some("2002")),
            (
                Some("ada@example.com"),
                Some("1001"),
                Some("ada@example.com")
            ),
        ],
        "the email names the user, the sub when there is none, nobody for a client entry"
    );
    assert!(all[2].user_id.is_some(), "the numeric id stays");
    let mine = store.audit().for_user(ada, 10).unwrap();
    assert_eq!(mine[0].user_email.as_deref(), Some("ada@example.com"));
    let json = serde_json::to_value(&all[2]).unwrap();
    assert_eq!(json["user_email"], "ada@example.com");
    assert_eq!(json["user_sub"], "1001");
}
