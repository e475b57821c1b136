//! OAuth clients imported from client_secret.json: IDs, issuer, endpoints, and the client
//! secret sealed in the row ([`crate::seal`]).

use std::fmt;

use rusqlite::types::{FromSql, FromSqlResult, ToSqlOutput, ValueRef};
use rusqlite::{Connection, OptionalExtension, ToSql, params};
use serde::Serialize;

use super::{Migration, StoreError, Timestamp, json_column, random_uid};
use crate::seal::SealedSecret;

pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "clients",
        sql: "CREATE TABLE clients (
        uid               TEXT PRIMARY KEY NOT NULL,
        name              TEXT NOT NULL UNIQUE,
        client_id         TEXT NOT NULL,
        issuer            TEXT NOT NULL,
        endpoints_json    TEXT NOT NULL CHECK (json_valid(endpoints_json)),
        ios_client_ids    TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(ios_client_ids)),
        foreign_endpoints INTEGER NOT NULL CHECK (foreign_endpoints IN (0, 1)),
        -- keyring entry client-secret/<uid>/v<N>; NULL until the secret is stored
        secret_version    INTEGER CHECK (secret_version > 0),
        created_at        INTEGER NOT NULL
    ) STRICT;",
    },
    Migration {
        version: 11,
        name: "clients_sealed_secret",
        // The secret moves into the row, sealed; `secret_version` stays only as a 0.1
        // store's keyring reference until the upgrade at open moves the secret in.
        sql: "ALTER TABLE clients ADD COLUMN secret_sealed BLOB;",
    },
];

/// A client's row uid, `c_<32 hex>`: random, so its secret can be sealed for it before the row
/// exists.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ClientUid(String);

impl ClientUid {
    /// A fresh random uid, for a row whose keyring entry is written before the row itself.
    pub fn generate() -> Result<Self, StoreError> {
        Ok(ClientUid(random_uid("c")?))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Accepts a uid read back from elsewhere (CLI, IPC).
    pub fn parse(text: &str) -> Result<Self, StoreError> {
        let ok = text.len() == 34
            && text.starts_with("c_")
            && text[2..].bytes().all(|b| b.is_ascii_hexdigit());
        ok.then(|| ClientUid(text.to_owned()))
            .ok_or_else(|| StoreError::Invalid {
                field: "client uid",
                reason: format!("{text:?} is not c_ followed by 32 hex digits"),
            })
    }
}

impl fmt::Display for ClientUid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl ToSql for ClientUid {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        self.0.to_sql()
    }
}

impl FromSql for ClientUid {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        String::column_result(value).map(ClientUid)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Client {
    pub uid: ClientUid,
    /// The name people use (`--client NAME`), unique.
    pub name: String,
    /// The OAuth client ID (the web/server client).
    pub client_id: String,
    pub issuer: String,
    /// The provider's endpoints as the provider module serialized them.
    pub endpoints: serde_json::Value,
    /// The iOS client IDs accepted as `azp`.
    pub ios_client_ids: Vec<String>,
    /// The endpoints are not Google's: shown as such, chosen explicitly.
    pub foreign_endpoints: bool,
    /// Sealed for this client's uid ([`crate::seal::SealKind::ClientSecret`]).
    #[serde(skip)]
    pub secret_sealed: Option<SealedSecret>,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewClient {
    pub name: String,
    pub client_id: String,
    pub issuer: String,
    pub endpoints: serde_json::Value,
    pub ios_client_ids: Vec<String>,
    pub foreign_endpoints: bool,
}

const COLUMNS: &str = "uid, name, client_id, issuer, endpoints_json, ios_client_ids, \
                       foreign_endpoints, secret_sealed, created_at";

fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Client> {
    let ios: serde_json::Value = json_column(row, 5)?;
    Ok(Client {
        uid: row.get(0)?,
        name: row.get(1)?,
        client_id: row.get(2)?,
        issuer: row.get(3)?,
        endpoints: json_column(row, 4)?,
        ios_client_ids: ios
            .as_array()
            .map(|ids| {
                ids.iter()
                    .filter_map(|id| id.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
        foreign_endpoints: row.get(6)?,
        secret_sealed: row.get(7)?,
        created_at: row.get(8)?,
    })
}

/// Reads of `clients`.
#[derive(Debug, Clone, Copy)]
pub struct Clients<'c> {
    conn: &'c Connection,
}

impl<'c> Clients<'c> {
    pub(crate) fn new(conn: &'c Connection) -> Self {
        Clients { conn }
    }

    pub fn get(&self, uid: &ClientUid) -> Result<Option<Client>, StoreError> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM clients WHERE uid = ?1"),
                [uid],
                from_row,
            )
            .optional()?)
    }

    pub fn get_by_name(&self, name: &str) -> Result<Option<Client>, StoreError> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM clients WHERE name = ?1"),
                [name],
                from_row,
            )
            .optional()?)
    }

    /// All clients by name.
    pub fn list(&self) -> Result<Vec<Client>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {COLUMNS} FROM clients ORDER BY name"))?;
        let rows = stmt.query_map([], from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// Writes to `clients`, only inside a [`super::WriteTx`].
#[derive(Debug, Clone, Copy)]
pub struct ClientsMut<'c> {
    conn: &'c Connection,
}

impl<'c> ClientsMut<'c> {
    pub(crate) fn new(conn: &'c Connection) -> Self {
        ClientsMut { conn }
    }

    /// Inserts the row under a uid chosen beforehand ([`ClientUid::generate`]), with its
    /// secret sealed for that uid.
    pub fn insert_as(
        &self,
        uid: &ClientUid,
        new: &NewClient,
        secret: &SealedSecret,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        if new.name.trim().is_empty() {
            return Err(StoreError::Invalid {
                field: "client name",
                reason: "must not be empty".into(),
            });
        }
        let result = self.conn.execute(
            "INSERT INTO clients (uid, name, client_id, issuer, endpoints_json, ios_client_ids,
                                  foreign_endpoints, secret_sealed, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                uid,
                new.name,
                new.client_id,
                new.issuer,
                serde_json::to_string(&new.endpoints)?,
                serde_json::to_string(&new.ios_client_ids)?,
                new.foreign_endpoints,
                secret,
                now,
            ],
        );
        match result {
            Ok(_) => Ok(()),
            Err(err) if is_unique_violation(&err) => Err(StoreError::ClientNameTaken {
                name: new.name.clone(),
            }),
            Err(err) => Err(err.into()),
        }
    }

    pub fn set_ios_client_ids(&self, uid: &ClientUid, ids: &[String]) -> Result<(), StoreError> {
        let n = self.conn.execute(
            "UPDATE clients SET ios_client_ids = ?2 WHERE uid = ?1",
            params![uid, serde_json::to_string(ids)?],
        )?;
        found(n, || format!("client {uid}"))
    }

    /// Refused while grants use the client.
    pub fn remove(&self, uid: &ClientUid) -> Result<(), StoreError> {
        match self
            .conn
            .execute("DELETE FROM clients WHERE uid = ?1", [uid])
        {
            Ok(n) => found(n, || format!("client {uid}")),
            Err(err) if is_foreign_key_violation(&err) => Err(StoreError::InUse {
                what: format!("client {uid}"),
                detail: "grants or exchanges refer to it".into(),
            }),
            Err(err) => Err(err.into()),
        }
    }
}

pub(crate) fn found(changed: usize, what: impl FnOnce() -> String) -> Result<(), StoreError> {
    if changed == 0 {
        Err(StoreError::NotFound { what: what() })
    } else {
        Ok(())
    }
}

pub(crate) fn is_unique_violation(err: &rusqlite::Error) -> bool {
    matches!(
        err,
        rusqlite::Error::SqliteFailure(e, _)
            if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
    )
}

pub(crate) fn is_foreign_key_violation(err: &rusqlite::Error) -> bool {
    matches!(
        err,
        rusqlite::Error::SqliteFailure(e, _)
            if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY
    )
}
