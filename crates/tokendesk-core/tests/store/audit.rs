//! `audit`: append-only, committed with the change it records.

use rusqlite::Connection;
use tokendesk_core::store::{AuditAction, AuditOutcome, NewAuditEntry, StoreError};

use crate::{ISSUER, client_and_user, db_path, t, temp_store};

fn entry(action: AuditAction, user: Option<tokendesk_core::store::UserId>) -> NewAuditEntry {
    NewAuditEntry {
        os_user: "support1".into(),
        action,
        user_id: user,
        outcome: AuditOutcome::Ok,
        detail: Some("client web".into()),
    }
}

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
