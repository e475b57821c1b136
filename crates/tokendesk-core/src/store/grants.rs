//! What a user granted a client: scopes, access-token expiry, the refresh token's state, and
//! the tokens themselves, sealed ([`crate::seal`]) in the row that they belong to.

use std::fmt;

use rusqlite::types::{FromSql, FromSqlResult, ToSqlOutput, ValueRef};
use rusqlite::{Connection, OptionalExtension, ToSql, params};
use serde::Serialize;

use super::clients::found;
use super::{ClientUid, Migration, StoreError, Timestamp, UserId, parse_text, random_uid};
use crate::desk::DRIVE_APPDATA_SCOPE;
use crate::seal::SealedSecret;

pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
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
    },
    Migration {
        version: 10,
        name: "grants_sealed_tokens",
        // Rebuilt (SQLite cannot change a CHECK): the tokens move into the row, sealed, and a
        // 0.1 store's keyring references stay as `legacy_*` until the upgrade at open has
        // moved each of them in (`super::legacy`). `azp`: the authorized party of the sign-in,
        // which a refreshed ID token must name again.
        sql: "CREATE TABLE grants_v2 (
        uid                     TEXT PRIMARY KEY NOT NULL,
        user_id                 INTEGER NOT NULL REFERENCES users (id),
        client_uid              TEXT NOT NULL REFERENCES clients (uid),
        scopes                  TEXT NOT NULL,  -- space separated, as OAuth sends them
        access_token_expires_at INTEGER,
        refresh_token           TEXT NOT NULL CHECK (refresh_token IN
                                    ('present', 'absent', 'revoked', 'invalid',
                                     'pending_revocation')),
        invalid_reason          TEXT,
        refresh_token_sealed    BLOB,
        access_token_sealed     BLOB,
        azp                     TEXT,
        legacy_refresh_version  INTEGER CHECK (legacy_refresh_version > 0),
        legacy_access_version   INTEGER CHECK (legacy_access_version > 0),
        legacy_incomplete       INTEGER NOT NULL DEFAULT 0 CHECK (legacy_incomplete IN (0, 1)),
        created_at              INTEGER NOT NULL,
        updated_at              INTEGER NOT NULL,
        UNIQUE (user_id, client_uid),
        -- a reason exactly when invalid, so the UI can always say why
        CHECK ((refresh_token = 'invalid') = (invalid_reason IS NOT NULL)),
        -- a grant that needs its refresh token (to use or to revoke it) holds it
        CHECK (legacy_incomplete = 1
               OR refresh_token NOT IN ('present', 'pending_revocation')
               OR refresh_token_sealed IS NOT NULL
               OR legacy_refresh_version IS NOT NULL)
    ) STRICT;
    INSERT INTO grants_v2 (uid, user_id, client_uid, scopes, access_token_expires_at,
                           refresh_token, invalid_reason, legacy_refresh_version,
                           legacy_access_version, legacy_incomplete, created_at, updated_at)
        SELECT uid, user_id, client_uid, scopes, access_token_expires_at, refresh_token,
               invalid_reason, refresh_key_version, access_key_version,
               state = 'incomplete', created_at, updated_at
        FROM grants;
    DROP TABLE grants;
    ALTER TABLE grants_v2 RENAME TO grants;
    CREATE INDEX grants_client ON grants (client_uid);
    CREATE INDEX grants_refresh ON grants (refresh_token, updated_at);
    CREATE INDEX grants_legacy ON grants (uid)
        WHERE legacy_refresh_version IS NOT NULL OR legacy_access_version IS NOT NULL
              OR legacy_incomplete = 1;",
    },
    Migration {
        version: 15,
        name: "grants_attention",
        // The "needs attention" list reads only the grants that may need a person (a refresh
        // token that is not live, or no drive.appdata), not every grant. The query repeats
        // this predicate word for word: SQLite uses a partial index only for a query that has
        // its WHERE as one of its own AND-ed terms.
        sql: "CREATE INDEX grants_attention ON grants (updated_at DESC, uid)
        WHERE refresh_token IN ('revoked', 'invalid', 'pending_revocation', 'absent')
           OR instr(' ' || scopes || ' ', ' https://www.googleapis.com/auth/drive.appdata ') = 0;",
    },
];

/// The "needs attention" query (`?1` expiring before, `?2` the limit).
fn attention_sql() -> String {
    format!(
        "SELECT {COLUMNS}, COUNT(*) OVER () FROM grants
         WHERE {ATTENTION_PREDICATE}
           AND (refresh_token IN ('revoked', 'invalid', 'pending_revocation')
                OR (refresh_token = 'absent'
                    AND (access_token_expires_at IS NULL OR access_token_expires_at < ?1))
                OR instr(' ' || scopes || ' ', ' {DRIVE_APPDATA_SCOPE} ') = 0)
         ORDER BY updated_at DESC, uid LIMIT ?2"
    )
}

/// The partial index `grants_attention`'s predicate, as the query repeats it (see migration
/// 15; a test checks SQLite takes the index).
const ATTENTION_PREDICATE: &str =
    "(refresh_token IN ('revoked', 'invalid', 'pending_revocation', 'absent')
           OR instr(' ' || scopes || ' ', ' https://www.googleapis.com/auth/drive.appdata ') = 0)";

/// A grant's row uid, `g_<32 hex>`: random, so it can be known (and sealed for) before the
/// row exists.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct GrantUid(String);

impl GrantUid {
    pub fn generate() -> Result<Self, StoreError> {
        Ok(GrantUid(random_uid("g")?))
    }
}

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

    /// The reason stored with this state: required for `Invalid` (the UI always says why),
    /// dropped for the others. Every storage applies it.
    pub fn reason_to_store(self, reason: Option<&str>) -> Result<Option<&str>, StoreError> {
        match (self, reason) {
            (RefreshTokenState::Invalid, Some(r)) if !r.trim().is_empty() => Ok(Some(r)),
            (RefreshTokenState::Invalid, _) => Err(StoreError::Invalid {
                field: "invalid_reason",
                reason: "an invalid refresh token needs a reason to show".into(),
            }),
            _ => Ok(None),
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

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Grant {
    pub uid: GrantUid,
    pub user_id: UserId,
    pub client: ClientUid,
    pub scopes: Vec<String>,
    pub access_token_expires_at: Option<Timestamp>,
    pub refresh_token: RefreshTokenState,
    pub invalid_reason: Option<String>,
    /// Sealed for this grant's uid ([`crate::seal::SealKind::RefreshToken`]).
    #[serde(skip)]
    pub refresh_token_sealed: Option<SealedSecret>,
    #[serde(skip)]
    pub access_token_sealed: Option<SealedSecret>,
    /// The sign-in's authorized party (`azp`): a refreshed ID token must name it again.
    pub azp: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Grant {
    /// Revoked grants hold no token: the access token died with the grant.
    pub fn tokens_dead(&self) -> bool {
        self.refresh_token == RefreshTokenState::Revoked
    }
}

pub(crate) const COLUMNS: &str = "uid, user_id, client_uid, scopes, access_token_expires_at, refresh_token, \
     invalid_reason, refresh_token_sealed, access_token_sealed, azp, created_at, updated_at";

pub(crate) fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Grant> {
    let scopes: String = row.get(3)?;
    Ok(Grant {
        uid: row.get(0)?,
        user_id: row.get(1)?,
        client: row.get(2)?,
        scopes: scopes.split_whitespace().map(str::to_owned).collect(),
        access_token_expires_at: row.get(4)?,
        refresh_token: row.get(5)?,
        invalid_reason: row.get(6)?,
        refresh_token_sealed: row.get(7)?,
        access_token_sealed: row.get(8)?,
        azp: row.get(9)?,
        created_at: row.get(10)?,
        updated_at: row.get(11)?,
    })
}

/// Scopes as stored: space separated, as OAuth sends them; a scope that is empty or holds
/// whitespace is refused (it could not be read back). Every storage stores them this way.
pub fn join_scopes(scopes: &[String]) -> Result<String, StoreError> {
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

    /// Grants with a live, sealed refresh token: what `refresh --all` refreshes.
    pub fn to_refresh(&self) -> Result<Vec<Grant>, StoreError> {
        self.query(
            &format!(
                "SELECT {COLUMNS} FROM grants
                 WHERE refresh_token = 'present' AND refresh_token_sealed IS NOT NULL
                 ORDER BY updated_at, uid"
            ),
            params![],
        )
    }

    /// Grants that need a person (see `Storage::grants_needing_attention`), most recently
    /// updated first, and how many match in all: one read of the partial index
    /// `grants_attention` (the grants that may need a person), not of every grant.
    pub fn needing_attention(
        &self,
        expiring_before: Timestamp,
        limit: usize,
    ) -> Result<(Vec<Grant>, u64), StoreError> {
        let mut stmt = self.conn.prepare_cached(&attention_sql())?;
        let mut total = 0u64;
        let rows = stmt.query_map(
            params![expiring_before, i64::try_from(limit).unwrap_or(i64::MAX)],
            |row| {
                total = row.get::<_, i64>(12)?.try_into().unwrap_or(0);
                from_row(row)
            },
        )?;
        let grants = rows.collect::<Result<Vec<_>, _>>()?;
        Ok((grants, total))
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
}

/// A grant as a successful exchange writes it: a new row, or the user's existing grant with
/// this client updated (a re-consent).
#[derive(Debug, Clone)]
pub struct GrantWrite<'a> {
    pub uid: &'a GrantUid,
    pub user_id: UserId,
    pub client: &'a ClientUid,
    pub scopes: &'a [String],
    pub access_token_expires_at: Option<Timestamp>,
    pub access_token: &'a SealedSecret,
    /// `None`: no refresh token came; an existing grant keeps its own.
    pub refresh_token: Option<&'a SealedSecret>,
    pub azp: Option<&'a str>,
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

    /// Inserts the grant, or updates the user's grant with this client if there is one under
    /// the same uid. A grant of this user and client under another uid is
    /// [`StoreError::GrantMoved`]: its tokens were sealed for the wrong row.
    pub fn put(&self, grant: &GrantWrite<'_>, now: Timestamp) -> Result<(), StoreError> {
        let existing: Option<GrantUid> = self
            .conn
            .query_row(
                "SELECT uid FROM grants WHERE user_id = ?1 AND client_uid = ?2",
                params![grant.user_id, grant.client],
                |row| row.get(0),
            )
            .optional()?;
        let scopes = join_scopes(grant.scopes)?;
        match existing {
            Some(uid) if uid != *grant.uid => Err(StoreError::GrantMoved { existing: uid }),
            Some(uid) => {
                // A re-consent: new tokens; without a new refresh token the grant keeps its
                // own, and its state with it.
                let n = self.conn.execute(
                    "UPDATE grants SET scopes = ?2, access_token_expires_at = ?3,
                         access_token_sealed = ?4,
                         refresh_token_sealed = coalesce(?5, refresh_token_sealed),
                         refresh_token = CASE WHEN ?5 IS NULL THEN refresh_token
                                              ELSE 'present' END,
                         invalid_reason = CASE WHEN ?5 IS NULL THEN invalid_reason
                                               ELSE NULL END,
                         azp = ?6, legacy_refresh_version = NULL,
                         legacy_access_version = NULL, legacy_incomplete = 0, updated_at = ?7
                     WHERE uid = ?1",
                    params![
                        uid,
                        scopes,
                        grant.access_token_expires_at,
                        grant.access_token,
                        grant.refresh_token,
                        grant.azp,
                        now
                    ],
                )?;
                found(n, || format!("grant {uid}"))
            }
            None => {
                let state = if grant.refresh_token.is_some() {
                    RefreshTokenState::Present
                } else {
                    RefreshTokenState::Absent
                };
                let result = self.conn.execute(
                    "INSERT INTO grants (uid, user_id, client_uid, scopes,
                         access_token_expires_at, refresh_token, refresh_token_sealed,
                         access_token_sealed, azp, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)",
                    params![
                        grant.uid,
                        grant.user_id,
                        grant.client,
                        scopes,
                        grant.access_token_expires_at,
                        state,
                        grant.refresh_token,
                        grant.access_token,
                        grant.azp,
                        now,
                    ],
                );
                match result {
                    Ok(_) => Ok(()),
                    Err(err) if is_foreign_key_violation(&err) => Err(StoreError::NotFound {
                        what: format!("{} or client {}", grant.user_id, grant.client),
                    }),
                    Err(err) => Err(err.into()),
                }
            }
        }
    }

    /// After a refresh: the new access token and expiry, and the scopes when Google said.
    pub fn refreshed(
        &self,
        uid: &GrantUid,
        access_token: &SealedSecret,
        expires_at: Option<Timestamp>,
        scopes: &[String],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let scopes = (!scopes.is_empty())
            .then(|| join_scopes(scopes))
            .transpose()?;
        let n = self.conn.execute(
            "UPDATE grants SET scopes = coalesce(?2, scopes),
                               access_token_expires_at = coalesce(?3, access_token_expires_at),
                               access_token_sealed = ?4, updated_at = ?5
             WHERE uid = ?1",
            params![uid, scopes, expires_at, access_token, now],
        )?;
        found(n, || format!("grant {uid}"))
    }

    /// A rotating provider's new refresh token: replaces the spent one at once.
    pub fn rotate_refresh_token(
        &self,
        uid: &GrantUid,
        sealed: &SealedSecret,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let n = self.conn.execute(
            "UPDATE grants SET refresh_token_sealed = ?2, updated_at = ?3 WHERE uid = ?1",
            params![uid, sealed, now],
        )?;
        found(n, || format!("grant {uid}"))
    }

    /// Sets the refresh token's state; `reason` is required for `Invalid` and dropped
    /// otherwise. `drop_tokens` forgets both sealed tokens (revoked or refused: worthless).
    pub fn set_refresh_state(
        &self,
        uid: &GrantUid,
        state: RefreshTokenState,
        reason: Option<&str>,
        drop_tokens: bool,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let reason = state.reason_to_store(reason)?;
        let n = self.conn.execute(
            "UPDATE grants SET refresh_token = ?2, invalid_reason = ?3,
                               refresh_token_sealed = CASE WHEN ?4 THEN NULL
                                                           ELSE refresh_token_sealed END,
                               access_token_sealed = CASE WHEN ?4 THEN NULL
                                                          ELSE access_token_sealed END,
                               updated_at = ?5
             WHERE uid = ?1",
            params![uid, state, reason, drop_tokens, now],
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

pub(crate) fn is_foreign_key_violation(err: &rusqlite::Error) -> bool {
    super::clients::is_foreign_key_violation(err)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod attention_tests {
    use super::attention_sql;

    #[test]
    fn the_attention_list_reads_its_partial_index_not_every_grant() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(dir.path().join("t.sqlite3")).unwrap();
        let plan: Vec<String> = store
            .conn
            .prepare(&format!("EXPLAIN QUERY PLAN {}", attention_sql()))
            .unwrap()
            .query_map(rusqlite::params![0_i64, 200_i64], |row| row.get(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let plan = plan.join("\n");
        assert!(
            plan.contains("USING INDEX grants_attention"),
            "the list scans every grant:\n{plan}"
        );
    }
}
