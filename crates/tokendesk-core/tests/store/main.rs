//! The SQLite store against real files: one module per table, plus the file itself (locks,
//! corruption, a full disk). Run with `cargo test -p tokendesk-core --test store`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod audit;
mod clients;
mod exchanges;
mod file;
mod grants;
mod migration;
mod users;

use std::path::{Path, PathBuf};

use tempfile::TempDir;
use tokendesk_core::store::{
    ClientUid, GrantUid, GrantWrite, Store, StoreError, Timestamp, UserId, WriteTx,
};

// The fixtures the storage contract uses (tokendesk_core::storage::contract): one client,
// one profile, one stand-in sealed secret for every store test.
pub use tokendesk_core::storage::contract::{ISSUER, new_client, profile, sealed, t};

/// A fresh store in its own temporary directory (kept alive by the returned guard).
pub fn temp_store() -> (TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(db_path(&dir)).unwrap();
    (dir, store)
}

pub fn db_path(dir: &TempDir) -> PathBuf {
    dir.path().join("tokendesk.sqlite3")
}

/// Inserts a client named `name` with a (stand-in) sealed secret.
pub fn insert_client(tx: &WriteTx<'_>, name: &str, at: Timestamp) -> Result<ClientUid, StoreError> {
    let uid = ClientUid::generate()?;
    tx.clients_mut()
        .insert_as(&uid, &new_client(name), &sealed(name), at)?;
    Ok(uid)
}

/// A client and a user, committed: what a grant needs to point at.
pub fn client_and_user(store: &mut Store) -> (ClientUid, UserId) {
    store
        .write_with(|tx| {
            let client = insert_client(tx, "web", t(0))?;
            let user = tx
                .users_mut()
                .upsert(&profile("1001", "ada@example.com"), None, t(0))?;
            Ok((client, user))
        })
        .unwrap()
}

pub const SCOPES: [&str; 3] = [
    "openid",
    "email",
    "https://www.googleapis.com/auth/drive.appdata",
];

/// Puts a grant of `user` to `client` with stand-in sealed tokens (a refresh token unless
/// `refresh` is false).
pub fn put_grant(
    store: &mut Store,
    uid: &GrantUid,
    client: &ClientUid,
    user: UserId,
    refresh: bool,
) -> Result<(), StoreError> {
    let scopes: Vec<String> = SCOPES.iter().map(|s| (*s).to_owned()).collect();
    let (access, rt) = (sealed("access"), sealed("refresh"));
    store.write_with(|tx| {
        tx.grants_mut().put(
            &GrantWrite {
                uid,
                user_id: user,
                client,
                scopes: &scopes,
                access_token_expires_at: Some(t(3600)),
                access_token: &access,
                refresh_token: refresh.then_some(&rt),
                azp: Some("web-ios.apps.googleusercontent.com"),
            },
            t(1),
        )
    })
}

/// Every byte SQLite keeps for this database: the file, its WAL and shared memory.
pub fn all_bytes(db: &Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        if let Ok(b) = std::fs::read(PathBuf::from(name)) {
            bytes.extend(b);
        }
    }
    bytes
}

pub fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}
