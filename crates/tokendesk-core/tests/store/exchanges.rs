//! `exchanges`: a code is exchanged once; the code and the tokens never reach the file.

use std::sync::{Arc, Barrier};
use std::thread;

use tokendesk_core::store::{Claim, CodeHash, ExchangeFinish, ExchangeOutcome, Store};

use crate::{all_bytes, client_and_user, contains, db_path, sealed, t, temp_store};

fn h(code: &str) -> CodeHash {
    CodeHash::of(code)
}

#[test]
fn a_code_is_claimed_once() {
    let (_dir, mut store) = temp_store();
    let code = "4/0AeanS0b-first-code";
    let id = match store
        .write_with(|tx| tx.exchanges_mut().claim(h(code), None, t(0)))
        .unwrap()
    {
        Claim::New(id) => id,
        Claim::Seen(e) => panic!("a fresh code must be new, got {e:?}"),
    };

    let again = store
        .write_with(|tx| tx.exchanges_mut().claim(h(code), None, t(1)))
        .unwrap();
    assert!(
        matches!(&again, Claim::Seen(e) if e.id == id && e.outcome == ExchangeOutcome::Pending),
        "a code seen while its exchange is running must not be sent again: {again:?}"
    );

    store
        .write_with(|tx| {
            tx.exchanges_mut().finish(
                id,
                &ExchangeFinish {
                    outcome: ExchangeOutcome::Succeeded,
                    error_code: None,
                    request: None,
                    response: None,
                    user_id: None,
                    grant: None,
                },
                t(2),
            )
        })
        .unwrap();
    let later = store
        .write_with(|tx| tx.exchanges_mut().claim(h(code), None, t(3)))
        .unwrap();
    assert!(
        matches!(&later, Claim::Seen(e) if e.outcome == ExchangeOutcome::Succeeded),
        "the receiver answers 409 from this: {later:?}"
    );
    assert!(
        store
            .write_with(|tx| tx.exchanges_mut().claim(h("4/0AeanS0b-other"), None, t(4)))
            .map(|c| matches!(c, Claim::New(_)))
            .unwrap(),
        "another code is another exchange"
    );
}

#[test]
fn two_processes_racing_on_one_code_get_one_claim() {
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(db_path(&dir)).unwrap());
    let barrier = Arc::new(Barrier::new(4));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let path = db_path(&dir);
            let barrier = barrier.clone();
            thread::spawn(move || {
                let mut store = Store::open(path).unwrap();
                barrier.wait();
                store
                    .write_with(|tx| tx.exchanges_mut().claim(h("4/0-raced"), None, t(0)))
                    .unwrap()
            })
        })
        .collect();
    let claims: Vec<Claim> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let new = claims.iter().filter(|c| matches!(c, Claim::New(_))).count();
    assert_eq!(
        new, 1,
        "exactly one connection may exchange the code: {claims:?}"
    );
}

#[test]
fn neither_the_code_nor_any_token_reaches_the_file() {
    let (dir, mut store) = temp_store();
    let (client, user) = client_and_user(&mut store);
    let code = "4/0CANARY-CODE-7f3a";
    let Claim::New(id) = store
        .write_with(|tx| tx.exchanges_mut().claim(h(code), Some(&client), t(0)))
        .unwrap()
    else {
        panic!("fresh code");
    };
    // What a careless caller might pass: the raw request and response.
    let request = serde_json::json!({
        "grant_type": "authorization_code",
        "code": code,
        "client_id": "web.apps.googleusercontent.com",
        "client_secret": concat!("GOCSPX-", "CANARY-SECRET"),
        "redirect_uri": ""
    });
    let response = serde_json::json!({
        "access_token": "ya29.CANARY-ACCESS",
        "refresh_token": "1//CANARY-REFRESH",
        "id_token": "eyJCANARY.ID.TOKEN",
        "expires_in": 3599,
        "scope": "openid email",
        "token_type": "Bearer"
    });
    store
        .write_with(|tx| {
            tx.exchanges_mut().finish(
                id,
                &ExchangeFinish {
                    outcome: ExchangeOutcome::Succeeded,
                    error_code: None,
                    request: Some(request.clone()),
                    response: Some(response.clone()),
                    user_id: Some(user),
                    grant: None,
                },
                t(1),
            )
        })
        .unwrap();

    let stored = store.exchanges().get(id).unwrap().unwrap();
    assert_eq!(stored.code_sha256, CodeHash::of(code).to_hex());
    assert_eq!(stored.request.as_ref().unwrap()["code"], "[redacted]");
    assert_eq!(
        stored.response.as_ref().unwrap()["expires_in"],
        3599,
        "non-secret fields stay for display"
    );
    assert_eq!(store.exchanges().by_code(code).unwrap().unwrap().id, id);

    let bytes = all_bytes(&db_path(&dir));
    for canary in [
        "CANARY-CODE",
        "CANARY-SECRET",
        "CANARY-ACCESS",
        "CANARY-REFRESH",
        "CANARY.ID",
    ] {
        assert!(
            !contains(&bytes, canary),
            "{canary} reached the SQLite file or its WAL"
        );
    }
}

#[test]
fn unfinished_exchanges_are_listed_for_recovery() {
    let (_dir, mut store) = temp_store();
    store
        .write_with(|tx| {
            tx.exchanges_mut().claim(h("4/0-a"), None, t(0))?;
            tx.exchanges_mut().claim(h("4/0-b"), None, t(1))
        })
        .unwrap();
    let pending = store.exchanges().pending().unwrap();
    assert_eq!(
        pending.len(),
        2,
        "a pending exchange at startup was interrupted: outcome unknown, never resent"
    );
    assert_eq!(
        store.exchanges().recent(1).unwrap()[0].created_at,
        t(1),
        "newest first"
    );
}

#[test]
fn a_kept_answer_stays_with_its_exchange_until_it_finishes() {
    let (_dir, mut store) = temp_store();
    let (client, _) = client_and_user(&mut store);
    let Claim::New(id) = store
        .write_with(|tx| tx.exchanges_mut().claim(h("4/0-kept"), Some(&client), t(0)))
        .unwrap()
    else {
        panic!("a fresh code is new");
    };
    store
        .write_with(|tx| tx.exchanges_mut().keep_response(id, &sealed("answer")))
        .unwrap();
    let kept = store.exchanges().get(id).unwrap().unwrap();
    assert_eq!(
        (kept.outcome, kept.response_sealed.clone()),
        (ExchangeOutcome::Pending, Some(sealed("answer"))),
        "a pending exchange holding an answer is finished later, not marked lost"
    );
    assert_eq!(
        kept.code(),
        Some(h("4/0-kept")),
        "its lock and row name come from the code"
    );
    store
        .write_with(|tx| {
            tx.exchanges_mut().finish(
                id,
                &ExchangeFinish {
                    outcome: ExchangeOutcome::Succeeded,
                    error_code: None,
                    request: None,
                    response: None,
                    user_id: None,
                    grant: None,
                },
                t(1),
            )
        })
        .unwrap();
    assert_eq!(
        store.exchanges().get(id).unwrap().unwrap().response_sealed,
        None,
        "the grant holds the tokens now: the kept copy goes in the same transaction"
    );
}

#[test]
fn a_released_claim_lets_the_code_be_sent_again() {
    let (_dir, mut store) = temp_store();
    let Claim::New(id) = store
        .write_with(|tx| tx.exchanges_mut().claim(h("4/0-never-sent"), None, t(0)))
        .unwrap()
    else {
        panic!("fresh");
    };
    store
        .write_with(|tx| tx.exchanges_mut().release(id))
        .unwrap();
    assert!(
        matches!(
            store
                .write_with(|tx| tx.exchanges_mut().claim(h("4/0-never-sent"), None, t(1)))
                .unwrap(),
            Claim::New(_)
        ),
        "a code Google never redeemed may be sent again"
    );
}

#[test]
fn a_finished_claim_cannot_be_released() {
    let (_dir, mut store) = temp_store();
    let Claim::New(id) = store
        .write_with(|tx| tx.exchanges_mut().claim(h("4/0-done"), None, t(0)))
        .unwrap()
    else {
        panic!("fresh");
    };
    store
        .write_with(|tx| {
            tx.exchanges_mut().finish(
                id,
                &ExchangeFinish {
                    outcome: ExchangeOutcome::Unknown,
                    error_code: Some("timeout".into()),
                    request: None,
                    response: None,
                    user_id: None,
                    grant: None,
                },
                t(1),
            )
        })
        .unwrap();
    assert!(
        store
            .write_with(|tx| tx.exchanges_mut().release(id))
            .is_err(),
        "a code that may have been redeemed stays spent"
    );
}
