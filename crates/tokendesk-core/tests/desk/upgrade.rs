//! A 0.1 store (tokens as versioned OS keyring entries) opened by this version: each entry is
//! sealed into its row, checked, and only then deleted from the keyring; a missing entry is
//! reported on its row; a locked keyring stops the upgrade with nothing lost.

use std::sync::Arc;
use std::time::Duration;

use tokendesk_core::desk::RefreshTokenView;
use tokendesk_core::desk::{Desk, RevealWhich};
use tokendesk_core::store::{AuditAction, Store, StoreOptions};
use tokendesk_core::vault::{
    MemoryStore, SecretKey, SecretKind, SecretStore as _, VaultError, VaultOp,
};

use crate::{ADA, Fixture, options};

const CLIENT: &str = "c_00000000000000000000000000000001";
const GRANT: &str = "g_00000000000000000000000000000001";

/// Builds in `dir` the file TokenDesk 0.1 would have left after Ada's sign-in through the
/// fixture's client, and puts its keyring entries in `keyring` (the refresh token only if
/// `with_refresh`).
async fn as_0_1_left_it(
    f: &Fixture,
    dir: &std::path::Path,
    keyring: &MemoryStore,
    with_refresh: bool,
) {
    f.exchange(&f.code(ADA)).await.unwrap();
    let refresh = f.desk.reveal(ADA, RevealWhich::RefreshToken).await.unwrap();
    let access = f.desk.reveal(ADA, RevealWhich::AccessToken).await.unwrap();
    let live = f.store();
    let client = live.clients().get_by_name("emu").unwrap().unwrap();
    let user = live.users().find_by_sub_or_email(ADA).unwrap().remove(0);

    drop(
        Store::open_with(
            dir.join("tokendesk.sqlite3"),
            &StoreOptions {
                stop_at_schema: Some(8),
                ..StoreOptions::default()
            },
        )
        .unwrap(),
    );
    let conn = rusqlite::Connection::open(dir.join("tokendesk.sqlite3")).unwrap();
    conn.execute(
        "INSERT INTO clients (uid, name, client_id, issuer, endpoints_json, ios_client_ids,
                              foreign_endpoints, secret_version, created_at)
         VALUES (?1, 'emu', ?2, ?3, ?4, ?5, 1, 1, 1)",
        rusqlite::params![
            CLIENT,
            client.client_id,
            client.issuer,
            client.endpoints.to_string(),
            serde_json::to_string(&client.ios_client_ids).unwrap(),
        ],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO users (id, issuer, sub, email, email_lc, claims_json, created_at,
                            updated_at)
         VALUES (1, ?1, ?2, ?3, ?3, ?4, 1, 1)",
        rusqlite::params![user.issuer, user.sub, ADA, user.claims.to_string()],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO grants (uid, user_id, client_uid, scopes, refresh_token,
                             refresh_key_version, access_key_version, state, created_at,
                             updated_at)
         VALUES (?1, 1, ?2, 'openid', 'present', 3, 2, 'complete', 1, 1)",
        rusqlite::params![GRANT, CLIENT],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO exchanges (code_sha256, client_uid, outcome, error_code, created_at,
                                refresh_key_version)
         VALUES (printf('%064d', 7), ?1, 'unknown', 'interrupted_token_kept', 1, 1)",
        rusqlite::params![CLIENT],
    )
    .unwrap();
    keyring
        .set(
            &SecretKey::client_secret(CLIENT, 1).unwrap(),
            &f.emu.web_client().client_secret,
        )
        .unwrap();
    if with_refresh {
        keyring
            .set(&SecretKey::refresh_token(GRANT, 3).unwrap(), &refresh)
            .unwrap();
    }
    keyring
        .set(&SecretKey::access_token(GRANT, 2).unwrap(), &access)
        .unwrap();
    keyring
        .set(
            &SecretKey::exchange_refresh_token(&format!("x_{}", "0".repeat(31) + "0"), 1).unwrap(),
            "1//kept-by-an-interrupted-exchange",
        )
        .unwrap();
}

async fn open(
    f: &Fixture,
    dir: &std::path::Path,
    keyring: &Arc<MemoryStore>,
) -> Result<Desk, tokendesk_core::desk::DeskError> {
    Desk::open(
        &options(dir, &f.clock, Duration::from_secs(60)),
        keyring.clone(),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_0_1_store_moves_its_keyring_secrets_into_the_file() {
    let f = Fixture::start().await;
    let dir = tempfile::tempdir().unwrap();
    let keyring = Arc::new(MemoryStore::new());
    as_0_1_left_it(&f, dir.path(), &keyring, true).await;
    assert_eq!(keyring.len(), 4);

    let desk = open(&f, dir.path(), &keyring).await.unwrap();
    let kinds: Vec<SecretKind> = keyring.keys().iter().map(SecretKey::kind).collect();
    assert_eq!(
        kinds,
        [SecretKind::StoreKey],
        "every token entry moved into the store; only the store's key is left"
    );
    desk.refresh(ADA, None)
        .await
        .expect("the moved refresh token and client secret work at Google");
    let conn = rusqlite::Connection::open(dir.path().join("tokendesk.sqlite3")).unwrap();
    let (kept, legacy): (Option<Vec<u8>>, Option<i64>) = conn
        .query_row(
            "SELECT response_sealed, refresh_key_version FROM exchanges",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(
        kept.is_some() && legacy.is_none(),
        "the refresh token an interrupted 0.1 exchange kept is kept, sealed"
    );
    drop(desk);
    let again = open(&f, dir.path(), &keyring).await.unwrap();
    again
        .refresh(ADA, None)
        .await
        .expect("a second open has nothing left to move");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_entry_is_reported_on_its_row_never_silently_dropped() {
    let f = Fixture::start().await;
    let dir = tempfile::tempdir().unwrap();
    let keyring = Arc::new(MemoryStore::new());
    as_0_1_left_it(&f, dir.path(), &keyring, false).await;
    let desk = open(&f, dir.path(), &keyring).await.unwrap();
    let user = desk.user(ADA).await.unwrap().user;
    assert_eq!(user.refresh_token, RefreshTokenView::Invalid);
    assert!(
        user.refresh_token_invalid_reason
            .as_deref()
            .is_some_and(|r| r.contains("missing from the OS keyring") && r.contains("0.1")),
        "the person sees why: {:?}",
        user.refresh_token_invalid_reason
    );
    let upgrade = desk
        .audit_log(tokendesk_core::store::AuditFilter {
            action: Some(AuditAction::Recover),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        upgrade.iter().any(|e| e
            .detail
            .as_deref()
            .is_some_and(|d| d.contains("its refresh token"))),
        "the audit log names what was missing: {upgrade:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_keyring_stops_the_upgrade_with_nothing_lost() {
    let f = Fixture::start().await;
    let dir = tempfile::tempdir().unwrap();
    let keyring = Arc::new(MemoryStore::new());
    as_0_1_left_it(&f, dir.path(), &keyring, true).await;
    keyring.fail(VaultOp::Get, VaultError::Locked);
    let err = open(&f, dir.path(), &keyring).await.unwrap_err();
    assert_eq!(err.code(), "keyring_locked", "{err}");
    assert_eq!(
        keyring
            .keys()
            .iter()
            .filter(|k| k.kind() != SecretKind::StoreKey)
            .count(),
        4,
        "no entry was deleted"
    );
    keyring.clear_faults();
    let desk = open(&f, dir.path(), &keyring).await.unwrap();
    desk.refresh(ADA, None)
        .await
        .expect("after unlocking the upgrade completes");
}
