//! The schema, one versioned SQL file per concern (`migrations/`), applied in order: each in
//! a transaction of its own under a transaction-level advisory lock, so replicas starting
//! together apply each migration once and the others wait, then find it done.
//! `schema_migrations` records what was applied; a database a newer TokenDesk migrated is
//! refused, unchanged.

use deadpool_postgres::GenericClient;
use tokendesk_core::store::StoreError;

use super::error::{Error, Result};
use super::locks::MIGRATION_LOCK;

/// One schema step. `version` is contiguous from 1: the database's version is the highest
/// one applied.
#[derive(Debug)]
pub(crate) struct Migration {
    pub version: i32,
    pub name: &'static str,
    pub sql: &'static str,
}

pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "clients",
        sql: include_str!("migrations/0001_clients.sql"),
    },
    Migration {
        version: 2,
        name: "users",
        sql: include_str!("migrations/0002_users.sql"),
    },
    Migration {
        version: 3,
        name: "grants",
        sql: include_str!("migrations/0003_grants.sql"),
    },
    Migration {
        version: 4,
        name: "exchanges",
        sql: include_str!("migrations/0004_exchanges.sql"),
    },
    Migration {
        version: 5,
        name: "audit",
        sql: include_str!("migrations/0005_audit.sql"),
    },
    Migration {
        version: 6,
        name: "keys",
        sql: include_str!("migrations/0006_keys.sql"),
    },
    Migration {
        version: 7,
        name: "staff",
        sql: include_str!("migrations/0007_staff.sql"),
    },
    Migration {
        version: 8,
        name: "refresh_runs",
        sql: include_str!("migrations/0008_refresh_runs.sql"),
    },
    Migration {
        version: 9,
        name: "audit_events",
        sql: include_str!("migrations/0009_audit_events.sql"),
    },
    Migration {
        version: 10,
        name: "http_log",
        sql: include_str!("migrations/0010_http_log.sql"),
    },
    Migration {
        version: 11,
        name: "grants_attention",
        sql: include_str!("migrations/0011_grants_attention.sql"),
    },
];

/// The newest schema this build knows.
pub fn schema_version_known() -> i32 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// Brings the database to [`schema_version_known`], one migration per transaction.
/// `location` names the database in errors.
pub(crate) async fn migrate(conn: &mut deadpool_postgres::Object, location: &str) -> Result<()> {
    let known = schema_version_known();
    loop {
        let tx = conn.transaction().await?;
        // A migration may take long (an index on a big table), and so may the wait for
        // another replica's: neither is cut by the session's timeouts.
        tx.batch_execute("SET LOCAL statement_timeout = 0; SET LOCAL lock_timeout = 0")
            .await?;
        // Held until this transaction ends: another replica migrating waits here, then
        // reads the version it left.
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version    INTEGER PRIMARY KEY,
                 name       TEXT NOT NULL,
                 applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
             )",
        )
        .await?;
        let found = schema_version(&tx).await?;
        if found > known {
            return Err(StoreError::TooNew {
                path: location.into(),
                found: found.unsigned_abs(),
                known: known.unsigned_abs(),
            }
            .into());
        }
        let Some(next) = MIGRATIONS.iter().find(|m| m.version == found + 1) else {
            // Nothing left to apply (committing keeps schema_migrations if it was just made).
            tx.commit().await?;
            return Ok(());
        };
        let wrap = |source: Error| {
            Error::Store(StoreError::Migration {
                version: next.version.unsigned_abs(),
                name: next.name,
                source: Box::new(source.into()),
            })
        };
        tx.batch_execute(next.sql)
            .await
            .map_err(|e| wrap(e.into()))?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
            &[&next.version, &next.name],
        )
        .await
        .map_err(|e| wrap(e.into()))?;
        tx.commit().await.map_err(|e| wrap(e.into()))?;
    }
}

/// The highest migration applied (0 for an empty database).
pub(crate) async fn schema_version(client: &impl GenericClient) -> Result<i32> {
    let row = client
        .query_one(
            "SELECT coalesce(max(version), 0) FROM schema_migrations",
            &[],
        )
        .await?;
    Ok(row.try_get(0)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_contiguous_from_one() {
        let versions: Vec<i32> = MIGRATIONS.iter().map(|m| m.version).collect();
        let expected: Vec<i32> = (1..=versions.len() as i32).collect();
        assert_eq!(
            versions, expected,
            "the database's version is the highest applied: a gap would stop the migrations \
             there, a duplicate would never run"
        );
    }
}
