//! The per-user HTTP log: kept per user, newest first, the oldest forgotten beyond the bound,
//! one user's entries never read as another's.

use std::sync::Arc;

use serde_json::json;

use super::{add_client, grant_uid, profile, sign_in, t};
use crate::oauth::{RawBody, RawExchange, RawField, RawResponse};
use crate::storage::Storage;
use crate::store::{AuditAction, AuditOutcome, NewHttpLogEntry, UserId};

fn exchange(n: usize) -> RawExchange {
    RawExchange {
        method: "POST".into(),
        url: format!("https://oauth2.example.test/token?n={n}"),
        request_headers: vec![RawField {
            name: "content-type".into(),
            value: "application/x-www-form-urlencoded".into(),
        }],
        form: vec![RawField {
            name: "refresh_token".into(),
            value: crate::secret::MASKED.into(),
        }],
        response: Some(RawResponse {
            status: 200,
            headers: vec![],
            body: RawBody::Json {
                value: json!({"expires_in": 3599, "nested": {"ünïcode": [1, 2.5, null]}}),
            },
        }),
        error: None,
        elapsed_ms: 12,
    }
}

fn entry(user: UserId, action: AuditAction, exchanges: Vec<RawExchange>) -> NewHttpLogEntry {
    NewHttpLogEntry {
        user_id: user,
        actor: "olga".into(),
        client: Some("web".into()),
        action,
        outcome: AuditOutcome::Ok,
        exchanges,
    }
}

pub async fn the_http_log_keeps_each_users_newest_operations(storage: Arc<dyn Storage>) {
    let s = &*storage;
    let client = add_client(s, "web").await;
    let mut users = Vec::new();
    for (n, (sub, email)) in [("1001", "ada@example.com"), ("2002", "bob@example.com")]
        .into_iter()
        .enumerate()
    {
        let code = format!("4/{n}");
        let (user, _) = sign_in(
            s,
            &client,
            &code,
            profile(sub, email),
            &grant_uid(),
            None,
            t(1),
        )
        .await
        .expect("sign-in");
        users.push(user.id);
    }
    let (ada, bob) = (users[0], users[1]);

    s.keep_http(entry(bob, AuditAction::Revoke, vec![exchange(0)]), 3, t(5))
        .await
        .expect("keep");
    for i in 0..5_i64 {
        let action = if i % 2 == 0 {
            AuditAction::Refresh
        } else {
            AuditAction::Drive
        };
        let n = usize::try_from(i).unwrap_or_default();
        s.keep_http(
            entry(ada, action, vec![exchange(n), exchange(n + 100)]),
            3,
            t(10 + i),
        )
        .await
        .expect("keep");
    }

    let kept = s.http_log(ada, 10).await.expect("read");
    assert_eq!(kept.len(), 3, "only the newest 3 are kept: {kept:#?}");
    let ats: Vec<i64> = kept.iter().map(|e| e.at.unix() - t(0).unix()).collect();
    assert_eq!(ats, [14, 13, 12], "newest first");
    assert_eq!(kept[0].action, AuditAction::Refresh);
    assert_eq!(kept[1].action, AuditAction::Drive);
    assert_eq!(kept[0].actor, "olga");
    assert_eq!(kept[0].client.as_deref(), Some("web"));
    assert_eq!(
        kept[0].exchanges,
        vec![exchange(4), exchange(104)],
        "the requests read back as written, in order"
    );
    assert_eq!(
        s.http_log(ada, 1).await.expect("read").len(),
        1,
        "the limit holds"
    );

    let bobs = s.http_log(bob, 10).await.expect("read");
    assert_eq!(
        bobs.len(),
        1,
        "another user's bound is their own: {bobs:#?}"
    );
    assert_eq!(bobs[0].action, AuditAction::Revoke);

    let one = s
        .http_log_entry(ada, kept[1].id)
        .await
        .expect("read")
        .expect("a kept entry is found by id");
    assert_eq!(one, kept[1]);
    assert!(
        s.http_log_entry(bob, kept[1].id)
            .await
            .expect("read")
            .is_none(),
        "an entry is found only under its own user"
    );
    let oldest = kept[2].id - 1;
    assert!(
        s.http_log_entry(ada, oldest).await.expect("read").is_none(),
        "a forgotten entry is gone"
    );
}
