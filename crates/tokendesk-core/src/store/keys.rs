//! The store's identity and its data keys, each wrapped by a key-encryption key that lives
//! outside the file (the OS keyring): see [`crate::seal`].

use rusqlite::{Connection, OptionalExtension, params};

use super::{Migration, StoreError, Timestamp, random_uid};
use crate::seal::{DataKeyId, WrappedDataKey};

pub(crate) const MIGRATIONS: &[Migration] = &[Migration {
    version: 9,
    name: "keys",
    sql: "CREATE TABLE meta (
        key   TEXT PRIMARY KEY NOT NULL,
        value TEXT NOT NULL
    ) STRICT;
    -- one row per data key and key-encryption key that wraps it (two during a rotation)
    CREATE TABLE data_keys (
        data_key   TEXT NOT NULL CHECK (length(data_key) = 32),
        kek_id     TEXT NOT NULL,
        wrapped    BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (data_key, kek_id)
    ) STRICT;",
}];

fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<WrappedDataKey> {
    let hex: String = row.get(0)?;
    let data_key = DataKeyId::parse_hex(&hex).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Text,
            format!("{hex:?} is not a data key id").into(),
        )
    })?;
    Ok(WrappedDataKey {
        data_key,
        kek_id: row.get(1)?,
        wrapped: row.get(2)?,
    })
}

/// Reads of `meta` and `data_keys`.
#[derive(Debug, Clone, Copy)]
pub struct Keys<'c> {
    conn: &'c Connection,
}

impl<'c> Keys<'c> {
    pub(crate) fn new(conn: &'c Connection) -> Self {
        Keys { conn }
    }

    /// The store's random id, if it has been given one ([`KeysMut::ensure_store_id`]).
    pub fn store_id(&self) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'store_id'", [], |r| {
                r.get(0)
            })
            .optional()?)
    }

    /// Every wrap, oldest data key first.
    pub fn all(&self) -> Result<Vec<WrappedDataKey>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT data_key, kek_id, wrapped FROM data_keys ORDER BY created_at, rowid",
        )?;
        let rows = stmt.query_map([], from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// Writes to `meta` and `data_keys`, only inside a [`super::WriteTx`].
#[derive(Debug, Clone, Copy)]
pub struct KeysMut<'c> {
    conn: &'c Connection,
}

impl<'c> KeysMut<'c> {
    pub(crate) fn new(conn: &'c Connection) -> Self {
        KeysMut { conn }
    }

    /// The store's id, made the first time it is asked for.
    pub fn ensure_store_id(&self) -> Result<String, StoreError> {
        if let Some(id) = Keys::new(self.conn).store_id()? {
            return Ok(id);
        }
        let id = random_uid("s")?;
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES ('store_id', ?1)",
            params![id],
        )?;
        Ok(id)
    }

    pub fn insert(&self, wrap: &WrappedDataKey, now: Timestamp) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO data_keys (data_key, kek_id, wrapped, created_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (data_key, kek_id) DO UPDATE SET wrapped = excluded.wrapped",
            params![wrap.data_key.to_hex(), wrap.kek_id, wrap.wrapped, now],
        )?;
        Ok(())
    }

    /// Deletes every wrap made by another key than `kek_id` (the end of a rotation).
    pub fn retire_others(&self, kek_id: &str) -> Result<usize, StoreError> {
        Ok(self
            .conn
            .execute("DELETE FROM data_keys WHERE kek_id <> ?1", params![kek_id])?)
    }
}
