//! The storage contract: what every [`Storage`] must do, written once and run against each
//! implementation (the embedded SQLite store in `tests/storage_contract.rs`, PostgreSQL in
//! `tokendesk-server`'s tests), so the facade behaves the same on both.
//!
//! Each behaviour is a `pub async fn` taking a fresh, empty storage and panicking, with the
//! reason, where the storage breaks the contract. [`storage_contract_tests!`] turns the whole
//! list into one `#[tokio::test]` per behaviour for an implementation:
//!
//! ```text
//! async fn fresh() -> (Arc<dyn Storage>, TempDir) { ... }
//! tokendesk_core::storage_contract_tests!(fresh);
//! ```
//!
//! Behind the `storage-contract` feature: test code, not part of the product.
//!
//! [`storage_contract_tests!`]: crate::storage_contract_tests

pub mod audit;
pub mod exchanges;
pub mod grants;
pub mod http_log;
pub mod keys;
pub mod locks;
pub mod population;
pub mod users;

use super::{ExchangeSuccess, Storage};
use crate::seal::SealedSecret;
use crate::store::{
    AuditAction, AuditOutcome, Claim, ClientUid, CodeHash, Grant, GrantUid, NewAuditEntry,
    NewClient, StoreError, Timestamp, User, UserId, UserProfile,
};

/// One `#[tokio::test]` per behaviour of the contract, each on the storage `$fresh().await`
/// returns: `(Arc<dyn Storage>, guard)`, the guard kept alive (a temporary directory, a test
/// database) until the test ends.
#[macro_export]
macro_rules! storage_contract_tests {
    ($fresh:path) => {
        $crate::storage_contract_tests!(@each $fresh;
            audit::audit_filters_select_by_each_condition,
            audit::an_audit_entry_commits_or_rolls_back_with_its_change,
            exchanges::a_code_is_claimed_once,
            exchanges::concurrent_claims_of_one_code_get_one_new,
            exchanges::only_a_pending_claim_is_released,
            exchanges::a_finished_exchange_drops_its_kept_answer,
            grants::a_grant_under_another_uid_is_grant_moved_and_nothing_is_written,
            grants::a_re_consent_without_a_refresh_token_keeps_the_grants_own,
            grants::a_refresh_state_change_drops_tokens_where_asked,
            grants::a_rotated_refresh_token_replaces_the_spent_one,
            grants::a_refresh_keeps_what_the_answer_did_not_say,
            grants::grants_and_users_are_listed_in_the_order_asked,
            grants::the_attention_list_holds_the_grants_that_need_a_person,
            http_log::the_http_log_keeps_each_users_newest_operations,
            keys::the_first_data_key_wins_a_race,
            keys::a_rotation_adds_wraps_and_retires_the_old_ones,
            keys::clients_are_added_listed_and_removed_unless_in_use,
            keys::the_store_id_is_stable,
            locks::a_grants_lock_waits_for_its_holder,
            locks::an_exchange_lock_held_is_seen_as_held,
            users::users_page_is_most_recently_updated_first_with_the_count,
            users::search_finds_by_email_name_and_sub_exact_matches_first,
            users::find_users_matches_the_sub_else_the_email,
            users::a_profile_claim_left_out_keeps_the_stored_one,
        );
    };
    (@each $fresh:path; $($module:ident :: $name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let (storage, _guard) = $fresh().await;
                $crate::storage::contract::$module::$name(storage).await;
            }
        )*
    };
}

pub const ISSUER: &str = "https://accounts.google.com";
pub const SCOPES: [&str; 2] = ["openid", "email"];

/// A fixed instant plus `seconds`: the contract never reads the clock.
pub fn t(seconds: i64) -> Timestamp {
    Timestamp::from_unix(1_800_000_000 + seconds)
}

/// Opaque bytes standing for a sealed secret: a storage keeps them as they are.
pub fn sealed(tag: &str) -> SealedSecret {
    SealedSecret::from_bytes(format!("sealed:{tag}").into_bytes())
}

pub fn new_client(name: &str) -> NewClient {
    NewClient {
        name: name.into(),
        client_id: format!("{name}.apps.googleusercontent.com"),
        issuer: ISSUER.into(),
        endpoints: serde_json::json!({
            "token": "https://oauth2.googleapis.com/token",
            "jwks": "https://www.googleapis.com/oauth2/v3/certs"
        }),
        ios_client_ids: vec![format!("{name}-ios.apps.googleusercontent.com")],
        foreign_endpoints: false,
    }
}

pub fn profile(sub: &str, email: &str) -> UserProfile {
    UserProfile {
        issuer: ISSUER.into(),
        sub: sub.into(),
        email: Some(email.into()),
        email_verified: Some(true),
        ..UserProfile::default()
    }
}

pub fn entry(action: AuditAction, user: Option<UserId>) -> NewAuditEntry {
    NewAuditEntry {
        os_user: "support1".into(),
        action,
        user_id: user,
        outcome: AuditOutcome::Ok,
        detail: Some("client web".into()),
    }
}

pub fn scopes() -> Vec<String> {
    SCOPES.iter().map(|s| (*s).to_owned()).collect()
}

/// Adds the client `name` (its stand-in secret sealed for it).
pub async fn add_client(storage: &dyn Storage, name: &str) -> ClientUid {
    let uid = ClientUid::generate().expect("a random uid");
    storage
        .add_client(
            uid.clone(),
            new_client(name),
            sealed(name),
            entry(AuditAction::ClientAdd, None),
            t(0),
        )
        .await
        .expect("a new client with a free name is added");
    uid
}

/// What a successful exchange of `exchange` writes: `profile`'s user, the grant `grant` with
/// an access token and, if given, a refresh token.
pub fn success(
    exchange: crate::store::ExchangeId,
    client: &ClientUid,
    profile: UserProfile,
    grant: &GrantUid,
    refresh: Option<SealedSecret>,
    now: Timestamp,
) -> ExchangeSuccess {
    ExchangeSuccess {
        exchange,
        client: client.clone(),
        claims: serde_json::json!({"iss": ISSUER, "sub": profile.sub, "aud": "web"}),
        id_token_report: serde_json::json!({"header": {"alg": "RS256"}, "checks": []}),
        profile,
        grant: grant.clone(),
        azp: Some("web-ios.apps.googleusercontent.com".into()),
        scopes: scopes(),
        access_token: sealed(&format!("access@{}", now.unix())),
        access_token_expires_at: Some(now.plus_seconds(3600)),
        refresh_token: refresh,
        request: Some(serde_json::json!({"grant_type": "authorization_code", "code": "4/x"})),
        response: Some(serde_json::json!({"access_token": "ya29.canary", "expires_in": 3599})),
        audit: entry(AuditAction::Exchange, None),
        now,
    }
}

/// A sign-in: `code` claimed, then its exchange completed into `grant`.
pub async fn sign_in(
    storage: &dyn Storage,
    client: &ClientUid,
    code: &str,
    profile: UserProfile,
    grant: &GrantUid,
    refresh: Option<SealedSecret>,
    now: Timestamp,
) -> Result<(User, Grant), StoreError> {
    let exchange = new_claim(storage, client, code, now).await;
    storage
        .complete_exchange(success(exchange, client, profile, grant, refresh, now))
        .await
}

/// Claims `code`, which must be new.
pub async fn new_claim(
    storage: &dyn Storage,
    client: &ClientUid,
    code: &str,
    now: Timestamp,
) -> crate::store::ExchangeId {
    match storage
        .claim_code(CodeHash::of(code), client, now)
        .await
        .expect("claiming a code")
    {
        Claim::New(id) => id,
        Claim::Seen(seen) => panic!("a code never seen before was reported as seen: {seen:?}"),
    }
}

/// A new grant uid.
pub fn grant_uid() -> GrantUid {
    GrantUid::generate().expect("a random uid")
}

/// Every audit entry, newest first.
pub async fn all_audit(storage: &dyn Storage) -> Vec<crate::store::AuditEntry> {
    storage
        .audit(crate::store::AuditFilter {
            limit: 1000,
            ..Default::default()
        })
        .await
        .expect("reading the audit log")
}
