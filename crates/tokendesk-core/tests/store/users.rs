//! `users`: keyed by (issuer, sub), profile kept across refreshes, searchable.

use tokendesk_core::store::{StoreError, UserProfile};

use crate::{ISSUER, profile, t, temp_store};

fn full_profile(sub: &str) -> UserProfile {
    UserProfile {
        issuer: ISSUER.into(),
        sub: sub.into(),
        email: Some("ada.lovelace@example.com".into()),
        email_verified: Some(true),
        name: Some("Ada Lovelace".into()),
        given_name: Some("Ada".into()),
        family_name: Some("Lovelace".into()),
        picture: Some("https://lh3.googleusercontent.com/a/ada".into()),
        locale: Some("en-GB".into()),
        hd: Some("example.com".into()),
    }
}

#[test]
fn the_same_email_with_two_subs_is_two_users() {
    let (_dir, mut store) = temp_store();
    let (a, b) = store
        .write_with(|tx| {
            let a = tx
                .users_mut()
                .upsert(&profile("111", "shared@example.com"), None, t(0))?;
            let b = tx
                .users_mut()
                .upsert(&profile("222", "shared@example.com"), None, t(1))?;
            Ok((a, b))
        })
        .unwrap();
    assert_ne!(
        a, b,
        "users are keyed on sub: an email can move between accounts"
    );
    assert_eq!(store.users().count().unwrap(), 2);
    let both = store
        .users()
        .find_by_sub_or_email("SHARED@example.com")
        .unwrap();
    assert_eq!(
        both.len(),
        2,
        "looking up by email must return every match, never pick one silently"
    );
}

#[test]
fn the_same_sub_at_another_issuer_is_another_user() {
    let (_dir, mut store) = temp_store();
    store
        .write_with(|tx| {
            tx.users_mut()
                .upsert(&profile("42", "a@example.com"), None, t(0))?;
            let mut other = profile("42", "a@example.com");
            other.issuer = "https://issuer.test".into();
            tx.users_mut().upsert(&other, None, t(0))
        })
        .unwrap();
    assert_eq!(
        store.users().count().unwrap(),
        2,
        "sub is unique per issuer only (OIDC Core 2)"
    );
    assert!(
        store
            .users()
            .find("https://issuer.test", "42")
            .unwrap()
            .is_some()
    );
}

#[test]
fn the_same_sub_again_updates_in_place() {
    let (_dir, mut store) = temp_store();
    let first = store
        .write_with(|tx| {
            tx.users_mut()
                .upsert(&profile("7", "old@example.com"), None, t(0))
        })
        .unwrap();
    let second = store
        .write_with(|tx| {
            tx.users_mut()
                .upsert(&profile("7", "new@example.com"), None, t(9))
        })
        .unwrap();
    assert_eq!(
        first, second,
        "a sign-in with a changed email is the same user"
    );
    let user = store.users().get(first).unwrap().unwrap();
    assert_eq!(
        user.email.as_deref(),
        Some("new@example.com"),
        "newer claims win"
    );
    assert_eq!(user.created_at, t(0));
    assert_eq!(user.updated_at, t(9));
}

#[test]
fn a_refresh_without_profile_claims_keeps_the_stored_profile() {
    let (_dir, mut store) = temp_store();
    let claims = serde_json::json!({"iss": ISSUER, "sub": "9", "email": "ada.lovelace@example.com", "name": "Ada Lovelace"});
    let id = store
        .write_with(|tx| {
            tx.users_mut()
                .upsert(&full_profile("9"), Some(&claims), t(0))
        })
        .unwrap();
    let before = store.users().get(id).unwrap().unwrap();

    // What a refreshed ID token often carries: iss, sub, aud, exp... and no profile.
    let bare = UserProfile {
        issuer: ISSUER.into(),
        sub: "9".into(),
        ..UserProfile::default()
    };
    store
        .write_with(|tx| tx.users_mut().upsert(&bare, None, t(60)))
        .unwrap();
    let after = store.users().get(id).unwrap().unwrap();

    assert_eq!(
        after.email, before.email,
        "a refresh must not erase the email"
    );
    assert_eq!(after.email_verified, Some(true));
    assert_eq!(after.name, before.name);
    assert_eq!(after.given_name, before.given_name);
    assert_eq!(after.family_name, before.family_name);
    assert_eq!(after.picture, before.picture);
    assert_eq!(after.locale, before.locale);
    assert_eq!(after.hd, before.hd);
    assert_eq!(
        after.claims, claims,
        "the exchange's claims stay for display"
    );
    assert_eq!(after.updated_at, t(60), "but the user was seen again");
}

#[test]
fn claims_must_be_the_decoded_object_and_sub_is_required() {
    let (_dir, mut store) = temp_store();
    let raw_token = serde_json::json!("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln");
    let err = store
        .write_with(|tx| {
            tx.users_mut()
                .upsert(&profile("1", "a@x.test"), Some(&raw_token), t(0))
        })
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Invalid {
                field: "claims",
                ..
            }
        ),
        "the signed token string must not be stored: {err:?}"
    );
    let err = store
        .write_with(|tx| tx.users_mut().upsert(&profile("", "a@x.test"), None, t(0)))
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid { field: "sub", .. }));
    assert_eq!(store.users().count().unwrap(), 0);
}

fn seed_search(store: &mut tokendesk_core::store::Store) {
    let people = [
        (
            "10001",
            "ada.lovelace@example.com",
            "Ada Lovelace",
            "Ada",
            "Lovelace",
        ),
        (
            "10002",
            "alan.turing@bletchley.test",
            "Alan Turing",
            "Alan",
            "Turing",
        ),
        (
            "10003",
            "grace@navy.test",
            "Grace Hopper",
            "Grace",
            "Hopper",
        ),
        (
            "20004",
            "jose@example.com",
            "José Álvarez",
            "José",
            "Álvarez",
        ),
        (
            "30005",
            "lovelace.fan@other.test",
            "Fan Club",
            "Fan",
            "Club",
        ),
    ];
    store
        .write_with(|tx| {
            for (i, (sub, email, name, given, family)) in people.into_iter().enumerate() {
                let p = UserProfile {
                    issuer: ISSUER.into(),
                    sub: sub.into(),
                    email: Some(email.into()),
                    name: Some(name.into()),
                    given_name: Some(given.into()),
                    family_name: Some(family.into()),
                    ..UserProfile::default()
                };
                tx.users_mut().upsert(&p, None, t(i as i64))?;
            }
            Ok(())
        })
        .unwrap();
}

fn subs(users: &[tokendesk_core::store::User]) -> Vec<&str> {
    users.iter().map(|u| u.sub.as_str()).collect()
}

#[test]
fn search_finds_by_email_name_family_name_and_sub() {
    let (_dir, mut store) = temp_store();
    seed_search(&mut store);
    let users = store.users();
    assert_eq!(
        subs(&users.search("alan.t", 10).unwrap()),
        ["10002"],
        "email prefix"
    );
    assert_eq!(
        subs(&users.search("GRACE", 10).unwrap()),
        ["10003"],
        "case-insensitive"
    );
    assert_eq!(
        subs(&users.search("hopper", 10).unwrap()),
        ["10003"],
        "family name"
    );
    assert_eq!(
        subs(&users.search("2000", 10).unwrap()),
        ["20004"],
        "sub prefix"
    );
    assert_eq!(
        subs(&users.search("bletchley", 10).unwrap()),
        ["10002"],
        "a substring (the domain) is found through the trigram index"
    );
    assert_eq!(
        subs(&users.search("ál", 10).unwrap()),
        ["20004"],
        "non-ASCII prefix"
    );
    assert!(users.search("nobody-here", 10).unwrap().is_empty());
}

#[test]
fn search_puts_exact_then_prefix_matches_before_substrings() {
    let (_dir, mut store) = temp_store();
    seed_search(&mut store);
    let found = store.users().search("lovelace", 10).unwrap();
    assert_eq!(
        subs(&found),
        ["30005", "10001"],
        "an email starting with the text ranks above a family name, both above substrings"
    );
    let exact = store.users().search("10003", 10).unwrap();
    assert_eq!(subs(&exact)[0], "10003", "an exact sub comes first");
    assert_eq!(
        store.users().search("a", 2).unwrap().len(),
        2,
        "limit is honoured"
    );
}

#[test]
fn search_follows_profile_updates() {
    let (_dir, mut store) = temp_store();
    seed_search(&mut store);
    let mut renamed = profile("10003", "grace@navy.test");
    renamed.name = Some("Admiral Hopper".into());
    store
        .write_with(|tx| tx.users_mut().upsert(&renamed, None, t(99)))
        .unwrap();
    assert_eq!(
        subs(&store.users().search("admiral", 10).unwrap()),
        ["10003"],
        "the search index is updated with the row"
    );
    assert!(
        store.users().search("grace hopper", 10).unwrap().is_empty(),
        "the old name no longer matches"
    );
}

#[test]
fn search_text_is_data_not_query_syntax() {
    let (_dir, mut store) = temp_store();
    seed_search(&mut store);
    for text in [
        "\"",
        "a\"b",
        "ada OR alan",
        "lov*",
        "NEAR(a b)",
        "'; DROP TABLE users; --",
        "%",
        "_",
    ] {
        store
            .users()
            .search(text, 10)
            .unwrap_or_else(|e| panic!("{text:?} must be searched as text, not fail: {e}"));
    }
    assert_eq!(store.users().count().unwrap(), 5);
}

#[test]
fn an_empty_search_lists_the_most_recent() {
    let (_dir, mut store) = temp_store();
    seed_search(&mut store);
    assert_eq!(
        subs(&store.users().search("  ", 2).unwrap()),
        ["30005", "20004"],
        "no text: most recently updated first"
    );
}

#[test]
fn pages_walk_every_user_once_in_the_recent_order() {
    let (_dir, mut store) = temp_store();
    seed_search(&mut store);
    let total = usize::try_from(store.users().count().unwrap()).unwrap();
    let everyone = subs(&store.users().recent(100).unwrap())
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>();
    let mut paged = Vec::new();
    for offset in (0..total + 2).step_by(2) {
        let page = store.users().page(offset, 2).unwrap();
        assert!(page.len() <= 2, "a page never exceeds its limit");
        paged.extend(subs(&page).into_iter().map(str::to_owned));
    }
    assert_eq!(paged.len(), total, "pages cover every user exactly once");
    assert_eq!(
        paged, everyone,
        "pages follow the order of the unpaged list"
    );
}

#[test]
fn the_id_token_report_must_be_an_object_and_is_read_back() {
    let (_dir, mut store) = temp_store();
    let id = store
        .write_with(|tx| {
            tx.users_mut()
                .upsert(&profile("777", "r@example.com"), None, t(0))
        })
        .unwrap();
    assert_eq!(
        store.users().find_by_sub_or_email("777").unwrap()[0].id_token,
        serde_json::json!({}),
        "nothing recorded yet reads as an empty object"
    );
    let refused = store.write_with(|tx| {
        tx.users_mut()
            .set_id_token(id, &serde_json::json!("eyJhbGciOiJSUzI1NiJ9"))
    });
    assert!(
        matches!(refused, Err(StoreError::Invalid { .. })),
        "a string (a signed token, say) is refused: {refused:?}"
    );
    let report = serde_json::json!({"header": {"alg": "RS256"}, "checks": [], "valid": true});
    store
        .write_with(|tx| tx.users_mut().set_id_token(id, &report))
        .unwrap();
    assert_eq!(
        store.users().find_by_sub_or_email("777").unwrap()[0].id_token,
        report
    );
}
