//! A file as TokenDesk 0.1 left it (schema 8: secrets as versioned keyring references) opens
//! with this version: rebuilt tables keep every row and every reference between them.

use tokendesk_core::store::{Store, StoreOptions, schema_version_known};

use crate::{db_path, temp_store};

/// The last schema TokenDesk 0.1 wrote.
const SCHEMA_0_1: u32 = 8;

fn file_as_0_1_left_it(dir: &tempfile::TempDir) {
    drop(
        Store::open_with(
            db_path(dir),
            &StoreOptions {
                stop_at_schema: Some(SCHEMA_0_1),
                ..StoreOptions::default()
            },
        )
        .unwrap(),
    );
    let conn = rusqlite::Connection::open(db_path(dir)).unwrap();
    conn.execute_batch(
        "INSERT INTO clients (uid, name, client_id, issuer, endpoints_json, foreign_endpoints,
                              secret_version, created_at)
         VALUES ('c_00000000000000000000000000000001', 'web', 'web.apps', 'accounts.google.com',
                 '{}', 0, 1, 1);
         INSERT INTO users (id, issuer, sub, email, created_at, updated_at)
         VALUES (1, 'accounts.google.com', '1001', 'ada@example.com', 1, 1);
         INSERT INTO grants (uid, user_id, client_uid, scopes, refresh_token,
                             refresh_key_version, access_key_version, state, created_at,
                             updated_at)
         VALUES ('g_00000000000000000000000000000001', 1, 'c_00000000000000000000000000000001',
                 'openid email', 'present', 3, 2, 'complete', 1, 1);
         INSERT INTO exchanges (code_sha256, client_uid, outcome, user_id, grant_uid,
                                created_at, refresh_key_version)
         VALUES (printf('%064d', 7), 'c_00000000000000000000000000000001', 'succeeded', 1,
                 'g_00000000000000000000000000000001', 1, NULL);",
    )
    .unwrap();
}

#[test]
fn a_0_1_file_migrates_with_its_rows_and_references_intact() {
    let (dir, store) = temp_store();
    drop(store);
    std::fs::remove_file(db_path(&dir)).unwrap();
    file_as_0_1_left_it(&dir);

    let store = Store::open(db_path(&dir)).unwrap();
    assert_eq!(store.schema_version().unwrap(), schema_version_known());
    let legacy = store.legacy().grants().unwrap();
    assert_eq!(
        legacy.len(),
        1,
        "the grant's keyring references survive the rebuild"
    );
    assert_eq!(
        (legacy[0].refresh_version, legacy[0].access_version),
        (Some(3), Some(2)),
        "the upgrade at open reads exactly these keyring entries"
    );
    let clients = store.legacy().clients().unwrap();
    assert_eq!(clients.len(), 1);
    assert_eq!(clients[0].secret_version, 1);
    let ex = store.exchanges().recent(1).unwrap().remove(0);
    assert_eq!(
        ex.grant.as_ref().map(|g| g.as_str()),
        Some("g_00000000000000000000000000000001"),
        "rebuilding grants must not run the exchanges' ON DELETE SET NULL"
    );
    let user = store
        .users()
        .get(tokendesk_core::store::UserId(1))
        .unwrap()
        .unwrap();
    assert_eq!(
        user.issuer, "https://accounts.google.com",
        "Google's legacy issuer form becomes the one form users are keyed by"
    );
}
