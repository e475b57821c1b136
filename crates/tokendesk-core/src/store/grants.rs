//! What a user granted a client: scopes, access-token expiry, the refresh token's state, and
//! the versions of the keyring entries holding the tokens. `incomplete` marks a crash to recover.

use std::fmt;

use rusqlite::types::{FromSql, FromSqlResult, ToSqlOutput, ValueRef};
use rusqlite::{Connection, OptionalExtension, ToSql, params};
use serde::Serialize;

use super::clients::{found, is_foreign_key_violation, is_unique_violation};
use super::{ClientUid, Migration, StoreError, Timestamp, UserId, parse_text, random_uid};
use crate::vault::{SecretKind, VaultReference};

pub(crate) const MIGRATIONS: &[Migration] = &[Migration {
    version: 3,
    name: "grants",
    sql: "CREATE TABLE grants (
        uid                     TEXT PRIMARY KEY NOT NULL,
        user_id                 INTEGER NOT NULL REFERENCES users (id),
        client_uid              TEXT NOT NULL REFERENCES clients (uid),
        scopes                  TEXT NOT NULL,  -- space separated, as OAuth sends them
        access_token_expires_at INTEGER,
        refresh_token           TEXT NOT NULL CHECK (refresh_token IN
                                    ('present', 'absent', 'revoked', 'invalid',
                                     'pending_revocation')),
        invalid_reason          TEXT,
        -- keyring entries refresh/<uid>/v<N> and access/<uid>/v<N>; NULL: none stored
        refresh_key_version     INTEGER CHECK (refresh_key_version > 0),
        access_key_version      INTEGER CHECK (access_key_version > 0),
        state                   TEXT NOT NULL CHECK (state IN ('complete', 'incomplete')),
        created_at              INTEGER NOT NULL,
        updated_at              INTEGER NOT NULL,
        UNIQUE (user_id, client_uid),
        -- a reason exactly when invalid, so the UI can always say why
        CHECK ((refresh_token = 'invalid') = (invalid_reason IS NOT NULL)),
        -- a complete grant that needs its refresh token (to use or to revoke it) references it
        CHECK (state = 'incomplete'
               OR refresh_token NOT IN ('present', 'pending_revocation')
               OR refresh_key_version IS NOT NULL)
    ) STRICT;
    CREATE INDEX grants_client ON grants (client_uid);
    CREATE INDEX grants_incomplete ON grants (state) WHERE state = 'incomplete';",
}];

/// A grant's row uid, `g_<32 hex>`; also names its keyring entries.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct GrantUid(String);

impl GrantUid {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn parse(text: &str) -> Result<Self, StoreError> {
        let ok = text.len() == 34
            && text.starts_with("g_")
            && text[2..].bytes().all(|b| b.is_ascii_hexdigit());
        ok.then(|| GrantUid(text.to_owned()))
            .ok_or_else(|| StoreError::Invalid {
                field: "grant uid",
                reason: format!("{text:?} is not g_ followed by 32 hex digits"),
            })
    }
}

impl fmt::Display for GrantUid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl ToSql for GrantUid {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        self.0.to_sql()
    }
}

impl FromSql for GrantUid {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        String::column_result(value).map(GrantUid)
    }
}

/// What TokenDesk knows of the refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RefreshTokenState {
    Present,
    /// The exchange returned none (no offline access, or not the first consent).
    Absent,
    Revoked,
    /// The provider refused it (`invalid_grant`): the user must consent again.
    Invalid,
    /// A revocation was asked for and has not been confirmed; retried.
    PendingRevocation,
}

impl RefreshTokenState {
    pub fn as_str(self) -> &'static str {
        match self {
            RefreshTokenState::Present => "present",
            RefreshTokenState::Absent => "absent",
            RefreshTokenState::Revoked => "revoked",
            RefreshTokenState::Invalid => "invalid",
            RefreshTokenState::PendingRevocation => "pending_revocation",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "present" => RefreshTokenState::Present,
            "absent" => RefreshTokenState::Absent,
            "revoked" => RefreshTokenState::Revoked,
            "invalid" => RefreshTokenState::Invalid,
            "pending_revocation" => RefreshTokenState::PendingRevocation,
            _ => return None,
        })
    }
}

impl ToSql for RefreshTokenState {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for RefreshTokenState {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        parse_text(value, Self::parse)
    }
}

/// `Incomplete` from the moment the row exists until every keyring write it refers to is
/// done; a grant still incomplete at startup was interrupted (see `vault::sweep`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantState {
    Complete,
    Incomplete,
}

impl GrantState {
    pub fn as_str(self) -> &'static str {
        match self {
            GrantState::Complete => "complete",
            GrantState::Incomplete => "incomplete",
        }
    }
}

impl ToSql for GrantState {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for GrantState {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        parse_text(value, |t| match t {
            "complete" => Some(GrantState::Complete),
            "incomplete" => Some(GrantState::Incomplete),
            _ => None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Grant {
    pub uid: GrantUid,
    pub user_id: UserId,
    pub client: ClientUid,
    pub scopes: Vec<String>,
    pub access_token_expires_at: Option<Timestamp>,
    pub refresh_token: RefreshTokenState,
    pub invalid_reason: Option<String>,
    pub refresh_key_version: Option<u32>,
    pub access_key_version: Option<u32>,
    pub state: GrantState,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A grant as an exchange creates it: the row goes in `incomplete` and without keyring
/// versions; [`GrantsMut::complete`] records them once the keyring writes are done.
#[derive(Debug, Clone, PartialEq)]
pub struct NewGrant {
    pub user_id: UserId,
    pub client: ClientUid,
    pub scopes: Vec<String>,
    pub access_token_expires_at: Option<Timestamp>,
    pub refresh_token: RefreshTokenState,
}

/// A change after a refresh or re-consent; `None` keeps the stored value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TokenUpdate {
    pub scopes: Option<Vec<String>>,
    pub access_token_expires_at: Option<Timestamp>,
    pub access_key_version: Option<u32>,
    /// A rotated refresh token's new version (stored in the keyring before this update).
    pub refresh_key_version: Option<u32>,
}

const COLUMNS: &str = "uid, user_id, client_uid, scopes, access_token_expires_at, refresh_token, \
                       invalid_reason, refresh_key_version, access_key_version, state, \
                       created_at, updated_at";

fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Grant> {
    let scopes: String = row.get(3)?;
    Ok(Grant {
        uid: row.get(0)?,
        user_id: row.get(1)?,
        client: row.get(2)?,
        scopes: scopes.split_whitespace().map(str::to_owned).collect(),
        access_token_expires_at: row.get(4)?,
        refresh_token: row.get(5)?,
        invalid_reason: row.get(6)?,
        refresh_key_version: row.get(7)?,
        access_key_version: row.get(8)?,
        state: row.get(9)?,
        created_at: row.get(10)?,
        updated_at: row.get(11)?,
    })
}

fn join_scopes(scopes: &[String]) -> Result<String, StoreError> {
    if let Some(bad) = scopes
        .iter()
        .find(|s| s.is_empty() || s.chars().any(char::is_whitespace))
    {
        return Err(StoreError::Invalid {
            field: "scope",
            reason: format!("{bad:?} is empty or contains whitespace"),
        });
    }
    Ok(scopes.join(" "))
}

/// Reads of `grants`.
#[derive(Debug, Clone, Copy)]
pub struct Grants<'c> {
    conn: &'c Connection,
}

impl<'c> Grants<'c> {
    pub(crate) fn new(conn: &'c Connection) -> Self {
        Grants { conn }
    }

    pub fn get(&self, uid: &GrantUid) -> Result<Option<Grant>, StoreError> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM grants WHERE uid = ?1"),
                [uid],
                from_row,
            )
            .optional()?)
    }

    /// The grant of `user` to `client`, at most one.
    pub fn find(&self, user: UserId, client: &ClientUid) -> Result<Option<Grant>, StoreError> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM grants WHERE user_id = ?1 AND client_uid = ?2"),
                params![user, client],
                from_row,
            )
            .optional()?)
    }

    pub fn for_user(&self, user: UserId) -> Result<Vec<Grant>, StoreError> {
        self.query(
            &format!("SELECT {COLUMNS} FROM grants WHERE user_id = ?1 ORDER BY created_at, uid"),
            params![user],
        )
    }

    /// Grants left incomplete by an interrupted operation.
    pub fn incomplete(&self) -> Result<Vec<Grant>, StoreError> {
        self.query(
            &format!("SELECT {COLUMNS} FROM grants WHERE state = 'incomplete' ORDER BY created_at"),
            params![],
        )
    }

    /// Grants in one refresh-token state, e.g. `pending_revocation` to retry.
    pub fn with_refresh_state(&self, state: RefreshTokenState) -> Result<Vec<Grant>, StoreError> {
        self.query(
            &format!(
                "SELECT {COLUMNS} FROM grants WHERE refresh_token = ?1 ORDER BY updated_at, uid"
            ),
            params![state],
        )
    }

    pub fn list(&self) -> Result<Vec<Grant>, StoreError> {
        self.query(
            &format!("SELECT {COLUMNS} FROM grants ORDER BY created_at, uid"),
            params![],
        )
    }

    fn query(&self, sql: &str, params: &[&dyn rusqlite::ToSql]) -> Result<Vec<Grant>, StoreError> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        let rows = stmt.query_map(params, from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub(crate) fn vault_references(&self) -> Result<Vec<VaultReference>, StoreError> {
        let mut refs = Vec::new();
        for grant in self.list()? {
            let row = format!("grants {}", grant.uid);
            // An incomplete grant's keyring entries may exist before their versions are
            // recorded: a reference without a version lets the sweep find them.
            let expects_refresh = grant.refresh_key_version.is_some()
                || (grant.state == GrantState::Incomplete
                    && grant.refresh_token == RefreshTokenState::Present);
            if expects_refresh {
                refs.push(VaultReference {
                    kind: SecretKind::RefreshToken,
                    owner: grant.uid.to_string(),
                    version: grant.refresh_key_version,
                    row: row.clone(),
                });
            }
            if grant.access_key_version.is_some() || grant.state == GrantState::Incomplete {
                refs.push(VaultReference {
                    kind: SecretKind::AccessToken,
                    owner: grant.uid.to_string(),
                    version: grant.access_key_version,
                    row,
                });
            }
        }
        Ok(refs)
    }
}

/// Writes to `grants`, only inside a [`super::WriteTx`].
#[derive(Debug, Clone, Copy)]
pub struct GrantsMut<'c> {
    conn: &'c Connection,
}

impl<'c> GrantsMut<'c> {
    pub(crate) fn new(conn: &'c Connection) -> Self {
        GrantsMut { conn }
    }

    /// Step one of persisting an exchange: the row exists, `incomplete`, before any keyring
    /// write, so an interrupted exchange is found at startup instead of silently lost.
    pub fn insert_incomplete(
        &self,
        new: &NewGrant,
        now: Timestamp,
    ) -> Result<GrantUid, StoreError> {
        let uid = GrantUid(random_uid("g")?);
        let result = self.conn.execute(
            "INSERT INTO grants (uid, user_id, client_uid, scopes, access_token_expires_at,
                                 refresh_token, state, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'incomplete', ?7, ?7)",
            params![
                uid,
                new.user_id,
                new.client,
                join_scopes(&new.scopes)?,
                new.access_token_expires_at,
                new.refresh_token,
                now,
            ],
        );
        match result {
            Ok(_) => Ok(uid),
            Err(err) if is_unique_violation(&err) => Err(StoreError::InUse {
                what: format!("{} and client {}", new.user_id, new.client),
                detail: "a grant already exists: update it instead".into(),
            }),
            Err(err) if is_foreign_key_violation(&err) => Err(StoreError::NotFound {
                what: format!("{} or client {}", new.user_id, new.client),
            }),
            Err(err) => Err(err.into()),
        }
    }

    /// Step two: the keyring holds the tokens; record their versions and mark the grant
    /// complete. Refused (by a CHECK) if the grant says it has a refresh token but no version
    /// is recorded.
    pub fn complete(
        &self,
        uid: &GrantUid,
        refresh_key_version: Option<u32>,
        access_key_version: Option<u32>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let n = self.conn.execute(
            "UPDATE grants SET state = 'complete',
                               refresh_key_version = coalesce(?2, refresh_key_version),
                               access_key_version = coalesce(?3, access_key_version),
                               updated_at = ?4
             WHERE uid = ?1",
            params![uid, refresh_key_version, access_key_version, now],
        )?;
        found(n, || format!("grant {uid}"))
    }

    /// Marks an existing grant incomplete before a multi-step change (re-consent).
    pub fn mark_incomplete(&self, uid: &GrantUid, now: Timestamp) -> Result<(), StoreError> {
        let n = self.conn.execute(
            "UPDATE grants SET state = 'incomplete', updated_at = ?2 WHERE uid = ?1",
            params![uid, now],
        )?;
        found(n, || format!("grant {uid}"))
    }

    /// After a refresh: new expiry, new access-token version, and a rotated refresh token's
    /// version if the provider sent one. Store the new keyring entries first; delete the old
    /// versions only after this commits.
    pub fn update_tokens(
        &self,
        uid: &GrantUid,
        update: &TokenUpdate,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let scopes = update.scopes.as_deref().map(join_scopes).transpose()?;
        let n = self.conn.execute(
            "UPDATE grants SET scopes = coalesce(?2, scopes),
                               access_token_expires_at = coalesce(?3, access_token_expires_at),
                               access_key_version = coalesce(?4, access_key_version),
                               refresh_key_version = coalesce(?5, refresh_key_version),
                               updated_at = ?6
             WHERE uid = ?1",
            params![
                uid,
                scopes,
                update.access_token_expires_at,
                update.access_key_version,
                update.refresh_key_version,
                now,
            ],
        )?;
        found(n, || format!("grant {uid}"))
    }

    /// Sets the refresh token's state; `reason` is required for `Invalid` and dropped
    /// otherwise. `Revoked` and `Invalid` also forget the keyring versions: the caller
    /// deletes those entries after committing.
    pub fn set_refresh_state(
        &self,
        uid: &GrantUid,
        state: RefreshTokenState,
        reason: Option<&str>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let reason = match (state, reason) {
            (RefreshTokenState::Invalid, Some(r)) if !r.trim().is_empty() => Some(r),
            (RefreshTokenState::Invalid, _) => {
                return Err(StoreError::Invalid {
                    field: "invalid_reason",
                    reason: "an invalid refresh token needs a reason to show".into(),
                });
            }
            _ => None,
        };
        let forget = matches!(
            state,
            RefreshTokenState::Revoked | RefreshTokenState::Invalid | RefreshTokenState::Absent
        );
        let n = self.conn.execute(
            "UPDATE grants SET refresh_token = ?2, invalid_reason = ?3,
                               refresh_key_version = CASE WHEN ?4 THEN NULL
                                                          ELSE refresh_key_version END,
                               access_key_version = CASE WHEN ?4 THEN NULL
                                                         ELSE access_key_version END,
                               updated_at = ?5
             WHERE uid = ?1",
            params![uid, state, reason, forget, now],
        )?;
        found(n, || format!("grant {uid}"))
    }

    pub fn delete(&self, uid: &GrantUid) -> Result<(), StoreError> {
        match self
            .conn
            .execute("DELETE FROM grants WHERE uid = ?1", [uid])
        {
            Ok(n) => found(n, || format!("grant {uid}")),
            Err(err) if is_foreign_key_violation(&err) => Err(StoreError::InUse {
                what: format!("grant {uid}"),
                detail: "exchanges refer to it".into(),
            }),
            Err(err) => Err(err.into()),
        }
    }
}
