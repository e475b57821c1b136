//! Exchanges: a code is claimed once, whoever receives it; a claim is released only while
//! pending; a finished exchange keeps no answer.

use std::sync::Arc;

use super::{add_client, all_audit, entry, grant_uid, new_claim, profile, sealed, success, t};
use crate::storage::Storage;
use crate::store::{
    AuditAction, Claim, CodeHash, ExchangeFinish, ExchangeId, ExchangeOutcome, StoreError,
};

pub async fn a_code_is_claimed_once(storage: Arc<dyn Storage>) {
    let s = &*storage;
    let client = add_client(s, "web").await;
    let code = CodeHash::of("4/0A-claimed-once");
    let id = new_claim(s, &client, "4/0A-claimed-once", t(1)).await;
    let again = s
        .claim_code(code, &client, t(2))
        .await
        .expect("claim again");
    let Claim::Seen(seen) = again else {
        panic!("a code claimed before must never be exchanged twice: {again:?}");
    };
    assert_eq!(
        seen.id, id,
        "the second claim reports the first one's exchange"
    );
    assert_eq!(seen.outcome, ExchangeOutcome::Pending);
    assert_eq!(
        seen.code_sha256,
        code.to_hex(),
        "codes are kept by their hash"
    );
    assert_eq!(seen.client.as_ref(), Some(&client));
    assert_eq!(seen.created_at, t(1), "the first claim's time stays");
    assert_eq!(s.exchange(id).await.expect("read"), Some(*seen));
    let pending: Vec<ExchangeId> = s
        .pending_exchanges()
        .await
        .expect("pending")
        .iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(pending, [id], "a claimed, unfinished exchange is pending");
    assert_eq!(
        s.exchange(ExchangeId(id.0 + 1000)).await.expect("read"),
        None
    );
}

pub async fn concurrent_claims_of_one_code_get_one_new(storage: Arc<dyn Storage>) {
    let client = add_client(&*storage, "web").await;
    let code = CodeHash::of("4/0A-raced");
    let claims: Vec<_> = (0..16)
        .map(|_| {
            let storage = Arc::clone(&storage);
            let client = client.clone();
            tokio::spawn(async move { storage.claim_code(code, &client, t(1)).await })
        })
        .collect();
    let mut new = Vec::new();
    let mut seen = Vec::new();
    for claim in claims {
        match claim.await.expect("the task ran").expect("claim") {
            Claim::New(id) => new.push(id),
            Claim::Seen(exchange) => seen.push(exchange.id),
        }
    }
    assert_eq!(
        new.len(),
        1,
        "of many processes or replicas receiving one code, exactly one exchanges it"
    );
    assert!(
        seen.iter().all(|id| *id == new[0]),
        "the others see the winner's exchange: {seen:?} vs {new:?}"
    );
}

pub async fn only_a_pending_claim_is_released(storage: Arc<dyn Storage>) {
    let s = &*storage;
    let client = add_client(s, "web").await;
    let first = new_claim(s, &client, "4/0A-released", t(1)).await;
    s.release_claim(first, entry(AuditAction::Exchange, None), t(2))
        .await
        .expect("a pending claim is released");
    assert_eq!(s.exchange(first).await.expect("read"), None);
    // Claimed anew: the code can be sent again.
    let second = new_claim(s, &client, "4/0A-released", t(3)).await;

    let failed = ExchangeFinish {
        outcome: ExchangeOutcome::Failed,
        error_code: Some("invalid_grant".into()),
        request: None,
        response: None,
        user_id: None,
        grant: None,
    };
    s.fail_exchange(second, failed, entry(AuditAction::Exchange, None), t(4))
        .await
        .expect("fail");
    let audited = all_audit(s).await.len();
    let refused = s
        .release_claim(second, entry(AuditAction::Exchange, None), t(5))
        .await;
    assert!(
        matches!(refused, Err(StoreError::NotFound { .. })),
        "a code that reached the provider must never be sent again: {refused:?}"
    );
    let kept = s.exchange(second).await.expect("read").expect("kept");
    assert_eq!(kept.outcome, ExchangeOutcome::Failed);
    assert_eq!(kept.error_code.as_deref(), Some("invalid_grant"));
    assert_eq!(kept.finished_at, Some(t(4)));
    assert_eq!(
        all_audit(s).await.len(),
        audited,
        "a refused release records nothing"
    );
}

pub async fn a_finished_exchange_drops_its_kept_answer(storage: Arc<dyn Storage>) {
    let s = &*storage;
    let client = add_client(s, "web").await;
    let id = new_claim(s, &client, "4/0A-kept", t(1)).await;
    s.keep_token_response(id, sealed("answer"))
        .await
        .expect("keep");
    assert_eq!(
        s.exchange(id)
            .await
            .expect("read")
            .expect("row")
            .response_sealed,
        Some(sealed("answer")),
        "the provider's answer is kept until the grant holds the tokens"
    );
    let grant = grant_uid();
    let (user, stored) = s
        .complete_exchange(success(
            id,
            &client,
            profile("1001", "ada@example.com"),
            &grant,
            Some(sealed("refresh")),
            t(2),
        ))
        .await
        .expect("complete");
    let done = s.exchange(id).await.expect("read").expect("row");
    assert_eq!(
        done.response_sealed, None,
        "once stored, the kept answer goes"
    );
    assert_eq!(done.outcome, ExchangeOutcome::Succeeded);
    assert_eq!(done.user_id, Some(user.id));
    assert_eq!(done.grant.as_ref(), Some(&grant));
    assert_eq!(done.finished_at, Some(t(2)));
    let response = done.response.expect("the response is shown").to_string();
    assert!(
        !response.contains("canary") && response.contains("[redacted]"),
        "tokens never reach the stored response: {response}"
    );
    assert_eq!(stored.uid, grant);
    assert_eq!(stored.refresh_token_sealed, Some(sealed("refresh")));
    let audit = all_audit(s).await;
    assert_eq!(
        (audit[0].action, audit[0].user_id),
        (AuditAction::Exchange, Some(user.id)),
        "the exchange is audited with the user it signed in"
    );
    assert_eq!(audit[0].user_email.as_deref(), Some("ada@example.com"));

    let other = new_claim(s, &client, "4/0A-failed", t(3)).await;
    s.keep_token_response(other, sealed("answer-2"))
        .await
        .expect("keep");
    let finish = ExchangeFinish {
        outcome: ExchangeOutcome::Failed,
        error_code: Some("id_token_invalid".into()),
        request: None,
        response: None,
        user_id: None,
        grant: None,
    };
    s.fail_exchange(other, finish, entry(AuditAction::Exchange, None), t(4))
        .await
        .expect("fail");
    assert_eq!(
        s.exchange(other)
            .await
            .expect("read")
            .expect("row")
            .response_sealed,
        None,
        "a failed exchange keeps no answer either"
    );
    let missing = s
        .keep_token_response(ExchangeId(other.0 + 1000), sealed("x"))
        .await;
    assert!(
        matches!(missing, Err(StoreError::NotFound { .. })),
        "{missing:?}"
    );
}
