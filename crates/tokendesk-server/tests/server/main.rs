//! The team server against a real PostgreSQL: the storage contract the embedded store passes
//! too, what only a server database has (migrations shared by replicas, advisory locks across
//! replicas, an outage and a restart), and replicas end to end (`api`: staff sign-in, roles,
//! audit, shared work).
//!
//! Needs a cluster: `./scripts/test` starts one; by hand,
//! `eval "$(scripts/pg start /tmp/pg)"; cargo test -p tokendesk-server; scripts/pg stop /tmp/pg`.
//! Each test works in a database (and role) of its own, so tests run in parallel.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api;
mod db;
mod dump;
mod events;
mod hangup;
mod health;
mod locks;
mod openapi;
mod outage;
mod person;
mod schema;
mod team;

use std::sync::Arc;

use tokendesk_core::storage::Storage;

pub use db::{TestDb, admin};

async fn fresh() -> (Arc<dyn Storage>, TestDb) {
    let db = TestDb::create().await;
    (Arc::new(db.storage().await), db)
}

mod contract {
    use super::fresh;

    tokendesk_core::storage_contract_tests!(fresh);
}
