//! Each user's recent operations as HTTP: every request TokenDesk sent for them (refresh,
//! revocation, tokeninfo, Drive, the exchange that signed them in) and what came back, secrets
//! masked before they reach this table. A diagnostic record, not the audit log: bounded per
//! user (the oldest go), so it never grows with the life of the store.

use rusqlite::{Connection, params};
use serde::Serialize;

use super::{AuditAction, AuditOutcome, Migration, StoreError, Timestamp, UserId};
use crate::oauth::RawExchange;

pub(crate) const MIGRATIONS: &[Migration] = &[Migration {
    version: 14,
    name: "http_log",
    sql: "CREATE TABLE http_log (
        id        INTEGER PRIMARY KEY,
        user_id   INTEGER NOT NULL REFERENCES users (id),
        at        INTEGER NOT NULL,
        actor     TEXT NOT NULL,
        -- the OAuth client's name (a removed client's stays as it was)
        client    TEXT,
        action    TEXT NOT NULL,
        outcome   TEXT NOT NULL CHECK (outcome IN ('ok', 'failed', 'denied')),
        -- the masked requests and responses, in the order they were sent
        exchanges TEXT NOT NULL CHECK (json_valid(exchanges))
    ) STRICT;
    CREATE INDEX http_log_user ON http_log (user_id, id);",
}];

/// How many operations are kept per user: the newest.
pub const HTTP_LOG_KEEP: usize = 50;

/// One operation on a user, as HTTP.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct HttpLogEntry {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub id: i64,
    /// RFC 3339.
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub at: Timestamp,
    /// Who acted: the OS user, or the staff member on a team server.
    pub actor: String,
    /// The OAuth client the calls were made as, by name.
    pub client: Option<String>,
    /// The operation (the audit log's name for it).
    pub action: AuditAction,
    pub outcome: AuditOutcome,
    /// Every request sent, in order, with its response; secrets masked.
    pub exchanges: Vec<RawExchange>,
}

/// An operation to keep.
#[derive(Debug, Clone, PartialEq)]
pub struct NewHttpLogEntry {
    pub user_id: UserId,
    pub actor: String,
    pub client: Option<String>,
    pub action: AuditAction,
    pub outcome: AuditOutcome,
    pub exchanges: Vec<RawExchange>,
}

impl NewHttpLogEntry {
    /// The exchanges as stored (a JSON array).
    pub fn exchanges_json(&self) -> Result<String, StoreError> {
        Ok(serde_json::to_string(&self.exchanges)?)
    }
}

/// Reads a stored `exchanges` column.
pub fn parse_exchanges(text: &str) -> Result<Vec<RawExchange>, serde_json::Error> {
    serde_json::from_str(text)
}

/// Reads of `http_log`.
#[derive(Debug, Clone, Copy)]
pub struct HttpLog<'c> {
    conn: &'c Connection,
}

impl<'c> HttpLog<'c> {
    pub(crate) fn new(conn: &'c Connection) -> Self {
        HttpLog { conn }
    }

    /// The user's operations, newest first.
    pub fn for_user(&self, user: UserId, limit: usize) -> Result<Vec<HttpLogEntry>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, at, actor, client, action, outcome, exchanges FROM http_log
             WHERE user_id = ?1 ORDER BY id DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(
            params![user, i64::try_from(limit).unwrap_or(i64::MAX)],
            from_row,
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// One operation of the user's (`None`: not theirs, or no longer kept).
    pub fn entry(&self, user: UserId, id: i64) -> Result<Option<HttpLogEntry>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, at, actor, client, action, outcome, exchanges FROM http_log
             WHERE user_id = ?1 AND id = ?2",
        )?;
        let mut rows = stmt.query_map(params![user, id], from_row)?;
        Ok(rows.next().transpose()?)
    }
}

fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<HttpLogEntry> {
    let text: String = row.get(6)?;
    let exchanges = parse_exchanges(&text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(6, rusqlite::types::Type::Text, e.into())
    })?;
    Ok(HttpLogEntry {
        id: row.get(0)?,
        at: row.get(1)?,
        actor: row.get(2)?,
        client: row.get(3)?,
        action: row.get(4)?,
        outcome: row.get(5)?,
        exchanges,
    })
}

/// Writes of `http_log`, inside a [`super::WriteTx`].
#[derive(Debug, Clone, Copy)]
pub struct HttpLogMut<'c> {
    conn: &'c Connection,
}

impl<'c> HttpLogMut<'c> {
    pub(crate) fn new(conn: &'c Connection) -> Self {
        HttpLogMut { conn }
    }

    /// Appends the operation and forgets the user's oldest beyond the newest `keep`.
    pub fn keep(
        &self,
        entry: &NewHttpLogEntry,
        keep: usize,
        now: Timestamp,
    ) -> Result<i64, StoreError> {
        let id: i64 = self.conn.query_row(
            "INSERT INTO http_log (user_id, at, actor, client, action, outcome, exchanges)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id",
            params![
                entry.user_id,
                now,
                entry.actor,
                entry.client,
                entry.action,
                entry.outcome,
                entry.exchanges_json()?,
            ],
            |row| row.get(0),
        )?;
        self.conn
            .prepare_cached(
                "DELETE FROM http_log WHERE user_id = ?1 AND id <= (
                     SELECT id FROM http_log WHERE user_id = ?1
                     ORDER BY id DESC LIMIT 1 OFFSET ?2)",
            )?
            .execute(params![
                entry.user_id,
                i64::try_from(keep).unwrap_or(i64::MAX)
            ])?;
        Ok(id)
    }
}
