//! Secrets sealed in the store, under one key in the keyring (SECURITY §C.4; issue "secrets
//! sealed in the store"): the keyring does not grow with users, no plaintext token reaches
//! the file, a swapped ciphertext does not open, a missing or wrong key refuses and never
//! makes a new key over sealed data, rotation and export/import keep every token readable.

use std::sync::Arc;
use std::time::Duration;

use tokendesk_core::desk::{Desk, RevealWhich};
use tokendesk_core::seal::ExportedKey;
use tokendesk_core::vault::{MemoryStore, SecretKind, SecretStore as _, VaultError, VaultOp};

use crate::{ADA, BOB, Fixture, options};

fn store_keys(vault: &MemoryStore) -> usize {
    vault
        .keys()
        .iter()
        .filter(|k| k.kind() == SecretKind::StoreKey)
        .count()
}

/// Every byte SQLite keeps for this database: the file, its WAL and shared memory.
fn file_bytes(dir: &std::path::Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for suffix in ["", "-wal", "-shm", "-journal"] {
        if let Ok(b) = std::fs::read(dir.join(format!("tokendesk.sqlite3{suffix}"))) {
            bytes.extend(b);
        }
    }
    bytes
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_keyring_holds_one_key_whatever_the_number_of_users() {
    let f = Fixture::start().await;
    assert_eq!(
        f.vault.len(),
        1,
        "adding a client made the store's key, and only that"
    );
    for i in 0..12 {
        f.exchange(&f.code(&format!("user{i}@example.com")))
            .await
            .unwrap();
    }
    f.refresh("user3@example.com").await.unwrap();
    assert_eq!(
        (f.vault.len(), store_keys(&f.vault)),
        (1, 1),
        "tokens are sealed in the store: the keyring (a file the OS rewrites whole on every \
         change) does not grow with users: {:?}",
        f.vault.keys()
    );
    assert_eq!(
        f.vault.calls(VaultOp::Set),
        1,
        "one keyring write in the store's life so far"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_or_client_secret_reaches_the_file_in_plaintext() {
    let f = Fixture::start().await;
    f.emu.set_refresh_rotation(true);
    let code = f.code(ADA);
    f.exchange(&code).await.unwrap();
    f.refresh(ADA).await.unwrap();
    let access = f.desk.reveal(ADA, RevealWhich::AccessToken).await.unwrap();
    let refresh = f.desk.reveal(ADA, RevealWhich::RefreshToken).await.unwrap();
    let bytes = file_bytes(f.dir.path());
    for (what, secret) in [
        ("access token", access.as_str()),
        ("refresh token", refresh.as_str()),
        ("client secret", f.emu.web_client().client_secret.as_str()),
        ("code", code.as_str()),
    ] {
        assert!(secret.len() > 12, "{what} is a real value");
        assert!(
            !contains(&bytes, secret),
            "the {what} reached the SQLite file or its WAL in plaintext"
        );
        // Not even a prefix: the raw exchange log kept with the exchange masks whole values
        // (it used to keep six characters, enough to match a code in a log).
        assert!(
            !contains(&bytes, &secret[..6]),
            "the first characters of the {what} reached the SQLite file"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ciphertext_copied_to_another_grant_does_not_open() {
    let f = Fixture::start().await;
    f.exchange(&f.code(ADA)).await.unwrap();
    f.exchange(&f.code(BOB)).await.unwrap();
    let conn = rusqlite::Connection::open(f.dir.path().join("tokendesk.sqlite3")).unwrap();
    // Someone with write access to the file gives Bob Ada's refresh token.
    conn.execute_batch(
        "UPDATE grants SET refresh_token_sealed =
             (SELECT g.refresh_token_sealed FROM grants g JOIN users u ON u.id = g.user_id
              WHERE u.email = 'ada@example.com')
         WHERE user_id = (SELECT id FROM users WHERE email = 'bob@example.com')",
    )
    .unwrap();
    let before = f.token_posts();
    let err = f.refresh(BOB).await.unwrap_err();
    assert_eq!(err.code(), "sealed_secret_tampered", "{err}");
    assert_eq!(f.token_posts(), before, "nothing was sent to Google");
    f.refresh(ADA).await.expect("Ada's own grant still works");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_key_refuses_and_never_makes_a_new_one_over_sealed_data() {
    let f = Fixture::start().await;
    f.exchange(&f.code(ADA)).await.unwrap();
    let entry = f.vault.keys().remove(0);
    f.vault.delete(&entry).unwrap();

    let desk = f.reopen().await;
    assert!(desk.user(ADA).await.is_ok(), "reading users needs no key");
    let err = desk.refresh(ADA, None).await.unwrap_err();
    assert_eq!(err.code(), "key_missing", "{err}");
    let message = err.to_string();
    assert!(
        message.contains("tokendesk key import"),
        "the error says what to do: {message}"
    );
    assert!(
        message.contains(entry.as_str()),
        "and names the entry: {message}"
    );
    assert!(
        desk.add_client(tokendesk_core::desk::AddClient {
            name: "second".into(),
            secrets_json: f.emu.client_secret_json().to_string().into_bytes(),
            issuer: Some(f.emu.base_url().to_owned()),
            api_base: Some(f.emu.base_url().to_owned()),
            ..Default::default()
        })
        .await
        .is_err(),
        "nothing new is sealed without the key"
    );
    assert_eq!(
        store_keys(&f.vault),
        0,
        "no new key was made over sealed data"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_keyring_fails_at_the_first_secret_and_recovers_after_unlock() {
    let f = Fixture::start().await;
    f.exchange(&f.code(ADA)).await.unwrap();
    f.vault.fail(VaultOp::Get, VaultError::Locked);
    let desk = f.reopen().await;
    let err = desk.refresh(ADA, None).await.unwrap_err();
    assert_eq!(err.code(), "keyring_locked", "{err}");
    assert!(err.to_string().contains("unlock"), "{err}");
    f.vault.clear_faults();
    desk.refresh(ADA, None)
        .await
        .expect("a failed unlock is not remembered: after unlocking it works");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_the_key_rewraps_and_every_token_still_opens() {
    let f = Fixture::start().await;
    f.exchange(&f.code(ADA)).await.unwrap();
    let old = f.vault.keys();
    let new_id = f.desk.rotate_key().await.unwrap();
    let now = f.vault.keys();
    assert_eq!(now.len(), 1, "the retired key is deleted: {now:?}");
    assert_ne!(now, old);
    assert!(now[0].as_str().contains(&new_id));
    let again = f.reopen().await;
    again
        .refresh(ADA, None)
        .await
        .expect("tokens sealed before the rotation open after it");
    again.reveal(ADA, RevealWhich::RefreshToken).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exported_key_moves_the_store_to_another_machine() {
    let f = Fixture::start().await;
    f.exchange(&f.code(ADA)).await.unwrap();
    assert_eq!(
        f.desk.export_key("short").await.unwrap_err().code(),
        "weak_passphrase"
    );
    let exported: ExportedKey = f.desk.export_key("correct horse battery").await.unwrap();
    let file = serde_json::to_string(&exported).unwrap();

    // Another machine: a copy of the data folder (its WAL folded in first), an empty keyring.
    rusqlite::Connection::open(f.dir.path().join("tokendesk.sqlite3"))
        .unwrap()
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
        .unwrap();
    let other = tempfile::tempdir().unwrap();
    std::fs::copy(
        f.dir.path().join("tokendesk.sqlite3"),
        other.path().join("tokendesk.sqlite3"),
    )
    .unwrap();
    let keyring = Arc::new(MemoryStore::new());
    let desk = Desk::open(
        &options(other.path(), &f.clock, Duration::from_secs(60)),
        keyring.clone(),
    )
    .await
    .unwrap();
    assert_eq!(
        desk.refresh(ADA, None).await.unwrap_err().code(),
        "key_missing"
    );
    let read: ExportedKey = serde_json::from_str(&file).unwrap();
    assert_eq!(
        desk.import_key(&read, "wrong horse battery")
            .await
            .unwrap_err()
            .code(),
        "wrong_passphrase"
    );
    desk.import_key(&read, "correct horse battery")
        .await
        .unwrap();
    let desk = Desk::open(
        &options(other.path(), &f.clock, Duration::from_secs(60)),
        keyring.clone(),
    )
    .await
    .unwrap();
    desk.refresh(ADA, None)
        .await
        .expect("with its key imported the copied store works");

    // A key from another store is refused before it is written anywhere.
    let stranger = Fixture::start().await;
    let foreign = stranger
        .desk
        .export_key("correct horse battery")
        .await
        .unwrap();
    let err = desk
        .import_key(&foreign, "correct horse battery")
        .await
        .unwrap_err();
    assert_eq!(err.code(), "wrong_key", "{err}");
    assert_eq!(keyring.len(), 1, "the wrong key was not stored");
}
