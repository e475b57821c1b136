//! A deterministic population of users for the search benchmarks of both engines
//! (`benches/users_search.rs` here and in tokendesk-server): the same people, so their
//! numbers compare.

use crate::store::UserProfile;

const FIRST: &[&str] = &[
    "ada", "alan", "grace", "barbara", "edsger", "donald", "margaret", "dennis", "ken", "radia",
    "john", "frances", "leslie", "tony", "niklaus", "adele", "jean", "sophie", "linus", "guido",
];
const LAST: &[&str] = &[
    "lovelace", "turing", "hopper", "liskov", "dijkstra", "knuth", "hamilton", "ritchie",
    "thompson", "perlman", "backus", "allen", "lamport", "hoare", "wirth", "goldberg", "sammet",
    "wilson", "torvalds", "rossum",
];
const DOMAINS: &[&str] = &["example.com", "gmail.com", "corp.test", "school.edu"];

/// The `i`th user: sub `1000…` + 7919·i, email `first.last{i}@domain`, names from the lists
/// above; and the claims of their ID token.
pub fn user(i: usize) -> (UserProfile, serde_json::Value) {
    let first = FIRST[i % FIRST.len()];
    let last = LAST[(i / FIRST.len()) % LAST.len()];
    let domain = DOMAINS[i % DOMAINS.len()];
    let sub = format!("{}", 100_000_000_000_000_000_000u128 + (i as u128) * 7_919);
    let profile = UserProfile {
        issuer: "https://accounts.google.com".into(),
        sub: sub.clone(),
        email: Some(format!("{first}.{last}{i}@{domain}")),
        email_verified: Some(true),
        name: Some(format!("{} {}", capitalise(first), capitalise(last))),
        given_name: Some(capitalise(first)),
        family_name: Some(capitalise(last)),
        picture: Some(format!("https://lh3.googleusercontent.com/a/{i}")),
        locale: Some("en".into()),
        hd: None,
    };
    let claims = serde_json::json!({
        "iss": "https://accounts.google.com", "sub": sub, "aud": "web", "azp": "ios",
        "email": profile.email, "name": profile.name, "iat": 1_800_000_000,
        "exp": 1_800_003_600,
    });
    (profile, claims)
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}
