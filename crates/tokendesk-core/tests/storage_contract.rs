//! The storage contract (`tokendesk_core::storage::contract`) on the embedded store: a real
//! SQLite file and lock files in a temporary data directory. The team server's PostgreSQL
//! storage runs the same suite (crates/tokendesk-server/tests). Run with
//! `cargo test -p tokendesk-core --test storage_contract`.

use std::sync::Arc;

use tempfile::TempDir;
use tokendesk_core::storage::{SqliteStorage, Storage};
use tokendesk_core::store::StoreOptions;

async fn fresh() -> (Arc<dyn Storage>, TempDir) {
    let dir = tempfile::tempdir().expect("a temporary data directory");
    let storage = SqliteStorage::open(dir.path(), &StoreOptions::default())
        .expect("a new SQLite store opens");
    (Arc::new(storage), dir)
}

tokendesk_core::storage_contract_tests!(fresh);
