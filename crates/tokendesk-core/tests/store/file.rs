//! The database file: WAL, schema versions, a lock held by another process, a corrupt file,
//! a full disk.

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use tokendesk_core::store::{Store, StoreError, StoreOptions, schema_version_known};

use crate::{db_path, profile, t, temp_store};

#[test]
fn opens_in_wal_with_the_current_schema_and_foreign_keys() {
    let (dir, store) = temp_store();
    let raw = Connection::open(db_path(&dir)).unwrap();
    let mode: String = raw
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(
        mode, "wal",
        "WAL lets readers work while a write is in progress"
    );
    assert_eq!(
        store.schema_version().unwrap(),
        schema_version_known(),
        "open must migrate to the newest schema"
    );
    assert!(schema_version_known() >= 6);
}

#[cfg(unix)]
#[test]
fn a_new_file_and_its_wal_are_readable_by_the_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let (dir, mut store) = temp_store();
    store
        .write_with(|tx| {
            tx.users_mut()
                .upsert(&profile("1", "a@example.com"), None, t(0))
        })
        .unwrap();
    for suffix in ["", "-wal", "-shm"] {
        let file = dir.path().join(format!("tokendesk.sqlite3{suffix}"));
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{} holds emails: owner only", file.display());
    }
}

#[test]
fn reopening_keeps_data_and_does_not_migrate_again() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(db_path(&dir)).unwrap();
    store
        .write_with(|tx| {
            tx.users_mut()
                .upsert(&profile("1", "a@example.com"), None, t(0))
        })
        .unwrap();
    drop(store);
    let store = Store::open(db_path(&dir)).unwrap();
    assert_eq!(
        store.users().count().unwrap(),
        1,
        "committed rows survive a reopen"
    );
    assert_eq!(store.schema_version().unwrap(), schema_version_known());
}

#[test]
fn a_newer_schema_is_refused_without_touching_the_file() {
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(db_path(&dir)).unwrap());
    let future = schema_version_known() + 1;
    Connection::open(db_path(&dir))
        .unwrap()
        .pragma_update(None, "user_version", future)
        .unwrap();

    let err = Store::open(db_path(&dir)).unwrap_err();
    assert!(
        matches!(err, StoreError::TooNew { found, .. } if found == future),
        "an older build must not write a newer schema it does not understand: {err:?}"
    );
    assert!(err.to_string().contains("upgrade TokenDesk"), "{err}");
    let version: u32 = Connection::open(db_path(&dir))
        .unwrap()
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, future, "the refused file keeps its version");
}

#[test]
fn a_failing_migration_rolls_back_to_the_previous_version() {
    let dir = tempfile::tempdir().unwrap();
    {
        // A file at version 1 whose next migration (users) cannot apply: a table in the way.
        let raw = Connection::open(db_path(&dir)).unwrap();
        raw.execute_batch(
            "CREATE TABLE clients (uid TEXT PRIMARY KEY);
             CREATE TABLE users (x);
             INSERT INTO users VALUES ('in the way');
             PRAGMA user_version = 1;",
        )
        .unwrap();
    }
    let err = Store::open(db_path(&dir)).unwrap_err();
    assert!(
        matches!(err, StoreError::Migration { version: 2, .. }),
        "the failing step is named: {err:?}"
    );
    let raw = Connection::open(db_path(&dir)).unwrap();
    let version: u32 = raw
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(
        version, 1,
        "a failed migration must not advance user_version"
    );
    let indexes: i64 = raw
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE name = 'users_sub'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(indexes, 0, "nothing of the failed migration may remain");
}

/// Holds `BEGIN IMMEDIATE` (a RESERVED lock) on `path` from another connection until told
/// to commit.
fn hold_write_lock(path: std::path::PathBuf) -> (mpsc::Sender<()>, thread::JoinHandle<()>) {
    let (locked_tx, locked_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let handle = thread::spawn(move || {
        let mut raw = Connection::open(&path).unwrap();
        let tx = raw
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .unwrap();
        tx.execute(
            "INSERT INTO audit (at, os_user, action, outcome) VALUES (1, 'other', 'drive', 'ok')",
            [],
        )
        .unwrap();
        locked_tx.send(()).unwrap();
        let _ = release_rx.recv();
        tx.commit().unwrap();
    });
    locked_rx.recv().unwrap();
    (release_tx, handle)
}

#[test]
fn a_write_waits_for_a_held_lock_then_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(db_path(&dir)).unwrap();
    let (release, holder) = hold_write_lock(db_path(&dir));

    let releaser = thread::spawn(move || {
        thread::sleep(Duration::from_millis(400));
        release.send(()).unwrap();
    });
    let started = Instant::now();
    store
        .write_with(|tx| {
            tx.users_mut()
                .upsert(&profile("1", "a@example.com"), None, t(0))
        })
        .expect("the write must wait within the busy timeout, not fail at once");
    let waited = started.elapsed();
    releaser.join().unwrap();
    holder.join().unwrap();

    assert!(
        waited >= Duration::from_millis(300),
        "BEGIN IMMEDIATE must have waited for the other writer ({waited:?})"
    );
    assert_eq!(store.users().count().unwrap(), 1);
    assert_eq!(
        store.audit().recent(10).unwrap().len(),
        1,
        "the other process's write is kept too"
    );
}

#[test]
fn a_lock_held_past_the_timeout_fails_cleanly_and_a_retry_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let options = StoreOptions {
        busy_timeout: Duration::from_millis(200),
        ..StoreOptions::default()
    };
    let mut store = Store::open_with(db_path(&dir), &options).unwrap();
    let (release, holder) = hold_write_lock(db_path(&dir));

    // Reads still work during another's write: that is what WAL is for.
    assert_eq!(store.users().count().unwrap(), 0);

    let started = Instant::now();
    let err = store.write().map(|_| ()).unwrap_err();
    assert!(
        matches!(err, StoreError::Busy),
        "a held lock past the timeout is Busy, not a generic error: {err:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "it gave up near the timeout"
    );
    assert!(err.to_string().contains("Nothing was written"), "{err}");
    assert_eq!(err.code(), "store_busy");

    release.send(()).unwrap();
    holder.join().unwrap();
    store
        .write_with(|tx| {
            tx.users_mut()
                .upsert(&profile("1", "a@example.com"), None, t(0))
        })
        .expect("once the lock is free the same store writes again");
    store.integrity_check().unwrap();
}

fn store_with_users(n: usize) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let mut store = Store::open(&path).unwrap();
    store
        .write_with(|tx| {
            for i in 0..n {
                tx.users_mut().upsert(
                    &profile(&format!("{}", 100_000 + i), &format!("user{i}@example.com")),
                    Some(&serde_json::json!({"sub": format!("{}", 100_000 + i), "pad": "x".repeat(200)})),
                    t(0),
                )?;
            }
            Ok(())
        })
        .unwrap();
    drop(store); // the last connection checkpoints the WAL into the file
    (dir, path)
}

#[test]
fn a_corrupted_header_is_a_clear_error_that_says_what_to_do() {
    let (_dir, path) = store_with_users(3);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[..16].copy_from_slice(b"NOT SQLITE AT AL");
    std::fs::write(&path, &bytes).unwrap();

    let err = Store::open(&path).unwrap_err();
    assert!(
        matches!(err, StoreError::NotADatabase { .. }),
        "a bad header is SQLITE_NOTADB, reported as such: {err:?}"
    );
    let message = err.to_string();
    for needle in [
        path.to_str().unwrap(),
        "Nothing was changed",
        "restore it from a backup",
        "--data-dir",
        "keyring are not affected",
    ] {
        assert!(
            message.contains(needle),
            "the message must say {needle:?}: {message}"
        );
    }
    assert_eq!(
        std::fs::read(&path).unwrap(),
        bytes,
        "a failed open must not modify the damaged file"
    );
}

#[test]
fn a_file_that_is_not_sqlite_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    std::fs::write(
        &path,
        "{\"web\": {\"client_id\": \"oops, wrong file\"}}\n".repeat(200),
    )
    .unwrap();
    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::NotADatabase { .. }), "{err:?}");
    assert_eq!(err.code(), "store_not_a_database");
}

#[test]
fn damaged_pages_are_found_at_open() {
    let (_dir, path) = store_with_users(2000);
    let mut bytes = std::fs::read(&path).unwrap();
    let page = 4096;
    assert!(bytes.len() > 40 * page, "the fixture spans many pages");
    // Scribble over several b-tree pages in the middle, header intact.
    for p in [10, 11, 20, 30] {
        for b in &mut bytes[p * page..(p + 1) * page] {
            *b = 0x5a;
        }
    }
    std::fs::write(&path, &bytes).unwrap();

    let err = Store::open(&path).unwrap_err();
    assert!(
        matches!(err, StoreError::CorruptFile { .. }),
        "quick_check at open must catch damage before anything is written: {err:?}"
    );
    assert!(
        err.to_string().contains(".recover"),
        "the message says how to recover: {err}"
    );
    assert_eq!(err.code(), "store_corrupt");
}

#[test]
fn without_quick_check_a_bad_header_is_still_caught_and_damage_is_reported_when_read() {
    let options = StoreOptions {
        quick_check: false,
        ..StoreOptions::default()
    };
    let (_dir, path) = store_with_users(3);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[..16].copy_from_slice(b"NOT SQLITE AT AL");
    std::fs::write(&path, &bytes).unwrap();
    let err = Store::open_with(&path, &options).unwrap_err();
    assert!(
        matches!(err, StoreError::NotADatabase { .. }),
        "reading the schema is enough to refuse a bad header: {err:?}"
    );

    let (_dir, path) = store_with_users(2000);
    // Damage the root page of the users table: every lookup by id starts there.
    let root: u32 = Connection::open(&path)
        .unwrap()
        .query_row(
            "SELECT rootpage FROM sqlite_schema WHERE type = 'table' AND name = 'users'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    let root = root as usize;
    for b in &mut bytes[(root - 1) * 4096..root * 4096] {
        *b = 0x5a;
    }
    std::fs::write(&path, &bytes).unwrap();
    let store = Store::open_with(&path, &options).expect("no page check: the open succeeds");
    let err = store
        .users()
        .get(tokendesk_core::store::UserId(1))
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Corrupt { .. }),
        "damage met while reading is reported as damage, not a generic error: {err:?}"
    );
    assert!(err.to_string().contains("startup check"), "{err}");
}

#[test]
fn a_full_disk_rolls_back_the_whole_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    drop(Store::open(&path).unwrap());
    let pages: u32 = Connection::open(&path)
        .unwrap()
        .pragma_query_value(None, "page_count", |r| r.get(0))
        .unwrap();
    let options = StoreOptions {
        max_page_count: Some(pages + 6),
        ..StoreOptions::default()
    };
    let mut store = Store::open_with(&path, &options).unwrap();
    store
        .write_with(|tx| {
            tx.users_mut()
                .upsert(&profile("1", "kept@example.com"), None, t(0))
        })
        .expect("a small write fits under the cap");

    let result = store.write_with(|tx| {
        for i in 0..500 {
            tx.users_mut().upsert(
                &profile(&format!("2{i:05}"), &format!("lost{i}@example.com")),
                Some(&serde_json::json!({"pad": "y".repeat(2000)})),
                t(1),
            )?;
        }
        Ok(())
    });
    let err = result.unwrap_err();
    assert!(
        matches!(err, StoreError::Full),
        "SQLITE_FULL is reported as a full disk: {err:?}"
    );
    assert!(err.to_string().contains("rolled back"), "{err}");

    assert_eq!(
        store.users().count().unwrap(),
        1,
        "none of the failed transaction's rows may remain, the earlier one must"
    );
    assert!(
        store.users().search("lost", 10).unwrap().is_empty(),
        "the search index too"
    );
    store
        .integrity_check()
        .expect("a failed write leaves a sound file");
    drop(store);

    let mut store = Store::open(&path).unwrap();
    store
        .write_with(|tx| {
            tx.users_mut()
                .upsert(&profile("3", "after@example.com"), None, t(2))
        })
        .expect("with space again, writes succeed");
    store.integrity_check().unwrap();
}
