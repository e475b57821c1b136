//! Users: keyed by (issuer, sub); listed most recently updated first; found by sub or email;
//! searched with exact matches first.

use std::sync::Arc;

use super::{add_client, grant_uid, profile, sealed, sign_in, t};
use crate::storage::Storage;
use crate::store::{ClientUid, StoreError, User, UserId, UserProfile};

/// Signs `profile` in at `now` (a new code and grant each time).
async fn signed_in(s: &dyn Storage, client: &ClientUid, profile: UserProfile, now: i64) -> User {
    let code = format!("4/0A-{}-{now}", profile.sub);
    sign_in(
        s,
        client,
        &code,
        profile,
        &grant_uid(),
        Some(sealed("r")),
        t(now),
    )
    .await
    .expect("sign-in")
    .0
}

fn named(sub: &str, email: &str, given: &str, family: &str) -> UserProfile {
    UserProfile {
        name: Some(format!("{given} {family}")),
        given_name: Some(given.into()),
        family_name: Some(family.into()),
        ..profile(sub, email)
    }
}

fn ids(users: &[User]) -> Vec<UserId> {
    users.iter().map(|u| u.id).collect()
}

pub async fn users_page_is_most_recently_updated_first_with_the_count(storage: Arc<dyn Storage>) {
    let s = &*storage;
    let client = add_client(s, "web").await;
    let mut users = Vec::new();
    for i in 0..5 {
        let p = profile(&format!("10{i}"), &format!("u{i}@x.test"));
        users.push(signed_in(s, &client, p, i).await.id);
    }
    // The first user signs in again, last: updated most recently.
    let grant = s.grants_of(&[users[0]]).await.expect("read")[0].uid.clone();
    sign_in(
        s,
        &client,
        "4/again",
        profile("100", "u0@x.test"),
        &grant,
        None,
        t(50),
    )
    .await
    .expect("again");
    let (first, count) = s.users_page(0, 3).await.expect("page");
    assert_eq!(count, 5, "the count is every user, not the page's");
    assert_eq!(
        ids(&first),
        [users[0], users[4], users[3]],
        "most recently updated first"
    );
    let (rest, count) = s.users_page(3, 3).await.expect("page");
    assert_eq!((ids(&rest), count), (vec![users[2], users[1]], 5));
    let (past, _) = s.users_page(10, 3).await.expect("page");
    assert!(past.is_empty(), "past the end, an empty page");
}

pub async fn search_finds_by_email_name_and_sub_exact_matches_first(storage: Arc<dyn Storage>) {
    let s = &*storage;
    let client = add_client(s, "web").await;
    let ada = signed_in(
        s,
        &client,
        named("1001", "Ada@Example.com", "Ada", "Lovelace"),
        1,
    )
    .await;
    let grace = signed_in(
        s,
        &client,
        named("2002", "grace@navy.test", "Grace", "Hopper"),
        2,
    )
    .await;
    // Its email starts with Ada's sub: a prefix match that sorts before an exact sub match.
    let digits = signed_in(
        s,
        &client,
        named("3003", "1001a@example.com", "Bob", "Byte"),
        3,
    )
    .await;
    let alvarez = signed_in(
        s,
        &client,
        named("4004", "ma@corp.test", "María", "Álvarez"),
        4,
    )
    .await;
    let search = |text: &'static str, limit| async move {
        ids(&s.search_users(text, limit).await.expect("search"))
    };

    assert_eq!(
        search("1001", 10).await,
        [ada.id, digits.id],
        "an exact sub ranks before a prefix match"
    );
    assert_eq!(
        search("ada@example.com", 10).await,
        [ada.id],
        "an exact email, whatever its case"
    );
    assert_eq!(search("ADA@EXAMPLE.COM", 10).await, [ada.id]);
    assert_eq!(search("grace@", 10).await, [grace.id], "an email prefix");
    assert_eq!(search("Hop", 10).await, [grace.id], "a family name prefix");
    assert_eq!(search("gra", 10).await, [grace.id], "a given name prefix");
    assert_eq!(search("ovela", 10).await, [ada.id], "a substring of a name");
    assert_eq!(
        search("navy.te", 10).await,
        [grace.id],
        "a substring of an email"
    );
    assert_eq!(
        search("álv", 10).await,
        [alvarez.id],
        "non-ASCII folded like the stored names"
    );
    assert_eq!(search("200", 10).await, [grace.id], "a sub prefix");
    let mut domain = search("example.com", 10).await;
    domain.sort();
    assert_eq!(domain, [ada.id, digits.id], "every user of a domain");
    assert_eq!(
        search("example.com", 1).await.len(),
        1,
        "never more than the limit"
    );
    assert!(search("zzqx-nobody", 10).await.is_empty());
    assert!(
        search("100%", 10).await.is_empty(),
        "% is a character, not a wildcard"
    );
    assert_eq!(
        search("  ", 2).await,
        [alvarez.id, digits.id],
        "no text lists the most recently updated"
    );
}

pub async fn find_users_matches_the_sub_else_the_email(storage: Arc<dyn Storage>) {
    let s = &*storage;
    let client = add_client(s, "web").await;
    let first = signed_in(s, &client, profile("1001", "shared@example.com"), 1).await;
    let second = signed_in(s, &client, profile("1002", "Shared@Example.com"), 2).await;
    // A sub that looks like an email (another issuer's): the sub wins.
    let odd = signed_in(s, &client, profile("odd@example.com", "x@example.com"), 3).await;
    let other = signed_in(s, &client, profile("1003", "odd@example.com"), 4).await;
    let find = |text: &'static str| async move { ids(&s.find_users(text).await.expect("find")) };
    assert_eq!(find("1002").await, [second.id], "by sub");
    assert_eq!(
        find("SHARED@example.com").await,
        [first.id, second.id],
        "one email, two accounts: both, for the caller to ask which"
    );
    assert_eq!(
        find("odd@example.com").await,
        [odd.id],
        "a matching sub wins over emails ({} has it as email)",
        other.id
    );
    assert!(find("100").await.is_empty(), "exact only: no prefix");
}

pub async fn a_profile_claim_left_out_keeps_the_stored_one(storage: Arc<dyn Storage>) {
    let s = &*storage;
    let client = add_client(s, "web").await;
    let mut full = named("1001", "ada@example.com", "Ada", "Lovelace");
    full.picture = Some("https://example.com/ada.png".into());
    full.hd = Some("example.com".into());
    // The legacy form of Google's issuer is the same issuer.
    full.issuer = "accounts.google.com".into();
    let first = signed_in(s, &client, full, 1).await;
    assert_eq!(
        first.issuer, "https://accounts.google.com",
        "one issuer, one user"
    );
    let grant = s.grants_of(&[first.id]).await.expect("read")[0].uid.clone();
    let mut sparse = profile("1001", "ada@work.example");
    sparse.email_verified = None;
    let (again, _) = sign_in(s, &client, "4/again", sparse, &grant, None, t(9))
        .await
        .expect("second sign-in");
    assert_eq!(
        again.id, first.id,
        "the same (issuer, sub) is the same user"
    );
    assert_eq!(again.email.as_deref(), Some("ada@work.example"));
    assert_eq!(
        again.name.as_deref(),
        Some("Ada Lovelace"),
        "kept: the token did not say"
    );
    assert_eq!(again.family_name.as_deref(), Some("Lovelace"));
    assert_eq!(again.picture, first.picture);
    assert_eq!(again.hd.as_deref(), Some("example.com"));
    assert_eq!(again.email_verified, Some(true));
    assert_eq!((again.created_at, again.updated_at), (t(1), t(9)));
    assert_eq!(
        again.claims["sub"], "1001",
        "the exchange's claims are kept for display"
    );
    assert_eq!(again.id_token["header"]["alg"], "RS256");
    assert_eq!(
        ids(&s.search_users("work.example", 5).await.expect("search")),
        [first.id],
        "search follows the new email"
    );
    let refused = sign_in(
        s,
        &client,
        "4/nosub",
        profile("", "x@x.test"),
        &grant_uid(),
        None,
        t(10),
    )
    .await;
    assert!(
        matches!(refused, Err(StoreError::Invalid { field: "sub", .. })),
        "an ID token without sub cannot name a user: {refused:?}"
    );
}
