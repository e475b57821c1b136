//! What a 0.1 store still points at in the OS keyring: rows whose secrets have not yet been
//! moved into the file, sealed. The upgrade at open (`desk::upgrade`) reads each entry, seals
//! it into its row here, and deletes the entry only after that commits.

use rusqlite::{Connection, params};

use super::clients::found;
use super::{ClientUid, ExchangeId, GrantUid, RefreshTokenState, StoreError};
use crate::seal::SealedSecret;

/// A grant whose tokens are still keyring entries (`refresh/<uid>/v<N>`, `access/<uid>/v<N>`).
#[derive(Debug, Clone, PartialEq)]
pub struct LegacyGrant {
    pub uid: GrantUid,
    pub refresh_token: RefreshTokenState,
    pub refresh_version: Option<u32>,
    pub access_version: Option<u32>,
    /// A 0.1 exchange was interrupted while writing it: its versions were not all recorded.
    pub incomplete: bool,
}

/// A client whose secret is still the keyring entry `client-secret/<uid>/v<N>`.
#[derive(Debug, Clone, PartialEq)]
pub struct LegacyClient {
    pub uid: ClientUid,
    pub name: String,
    pub secret_version: u32,
}

/// An exchange that kept a refresh token in the keyring (`exchange-refresh/<owner>/v<N>`).
#[derive(Debug, Clone, PartialEq)]
pub struct LegacyExchange {
    pub id: ExchangeId,
    pub code_sha256: String,
    pub refresh_version: u32,
}

/// Reads of what is left to move.
#[derive(Debug, Clone, Copy)]
pub struct Legacy<'c> {
    conn: &'c Connection,
}

impl<'c> Legacy<'c> {
    pub(crate) fn new(conn: &'c Connection) -> Self {
        Legacy { conn }
    }

    /// Whether anything is left (one indexed probe per table: the common answer is no).
    pub fn any(&self) -> Result<bool, StoreError> {
        Ok(self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM grants WHERE legacy_refresh_version IS NOT NULL
                                OR legacy_access_version IS NOT NULL OR legacy_incomplete = 1)
                 OR EXISTS (SELECT 1 FROM clients WHERE secret_version IS NOT NULL)
                 OR EXISTS (SELECT 1 FROM exchanges WHERE refresh_key_version IS NOT NULL)",
            [],
            |row| row.get(0),
        )?)
    }

    pub fn grants(&self) -> Result<Vec<LegacyGrant>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT uid, refresh_token, legacy_refresh_version, legacy_access_version,
                    legacy_incomplete
             FROM grants WHERE legacy_refresh_version IS NOT NULL
                 OR legacy_access_version IS NOT NULL OR legacy_incomplete = 1
             ORDER BY uid",
        )?;
        let rows = stmt.query_map([], |row| {
            Ok(LegacyGrant {
                uid: row.get(0)?,
                refresh_token: row.get(1)?,
                refresh_version: row.get(2)?,
                access_version: row.get(3)?,
                incomplete: row.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn clients(&self) -> Result<Vec<LegacyClient>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT uid, name, secret_version FROM clients
             WHERE secret_version IS NOT NULL ORDER BY name",
        )?;
        let rows = stmt.query_map([], |row| {
            Ok(LegacyClient {
                uid: row.get(0)?,
                name: row.get(1)?,
                secret_version: row.get(2)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn exchanges(&self) -> Result<Vec<LegacyExchange>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT id, code_sha256, refresh_key_version FROM exchanges
             WHERE refresh_key_version IS NOT NULL ORDER BY id",
        )?;
        let rows = stmt.query_map([], |row| {
            Ok(LegacyExchange {
                id: row.get(0)?,
                code_sha256: row.get(1)?,
                refresh_version: row.get(2)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// How a legacy grant's refresh token ended up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MovedRefreshToken<'a> {
    /// Sealed into the row.
    Sealed(&'a SealedSecret),
    /// The grant had none to move.
    NotNeeded,
    /// The keyring had no entry for it: the grant is marked invalid with this reason, so the
    /// person sees that the user must sign in again instead of a token silently gone.
    Missing(&'a str),
}

/// Writes of the upgrade, only inside a [`super::WriteTx`].
#[derive(Debug, Clone, Copy)]
pub struct LegacyMut<'c> {
    conn: &'c Connection,
}

impl<'c> LegacyMut<'c> {
    pub(crate) fn new(conn: &'c Connection) -> Self {
        LegacyMut { conn }
    }

    pub fn grant_moved(
        &self,
        uid: &GrantUid,
        refresh: MovedRefreshToken<'_>,
        access: Option<&SealedSecret>,
    ) -> Result<(), StoreError> {
        let (sealed, missing) = match refresh {
            MovedRefreshToken::Sealed(s) => (Some(s), None),
            MovedRefreshToken::NotNeeded => (None, None),
            MovedRefreshToken::Missing(reason) => (None, Some(reason)),
        };
        let n = self.conn.execute(
            "UPDATE grants SET refresh_token_sealed = coalesce(?2, refresh_token_sealed),
                               access_token_sealed = coalesce(?3, access_token_sealed),
                               refresh_token = CASE WHEN ?4 IS NULL THEN refresh_token
                                                    ELSE 'invalid' END,
                               invalid_reason = coalesce(?4, invalid_reason),
                               legacy_refresh_version = NULL, legacy_access_version = NULL,
                               legacy_incomplete = 0
             WHERE uid = ?1",
            params![uid, sealed, access, missing],
        )?;
        found(n, || format!("grant {uid}"))
    }

    /// `sealed` `None`: the entry was gone; the reference is dropped and the client reports
    /// its secret missing when used.
    pub fn client_moved(
        &self,
        uid: &ClientUid,
        sealed: Option<&SealedSecret>,
    ) -> Result<(), StoreError> {
        let n = self.conn.execute(
            "UPDATE clients SET secret_sealed = coalesce(?2, secret_sealed), secret_version = NULL
             WHERE uid = ?1",
            params![uid, sealed],
        )?;
        found(n, || format!("client {uid}"))
    }

    /// `sealed` `None`: the entry was gone; the reference is dropped.
    pub fn exchange_moved(
        &self,
        id: ExchangeId,
        sealed: Option<&SealedSecret>,
    ) -> Result<(), StoreError> {
        let n = self.conn.execute(
            "UPDATE exchanges SET response_sealed = coalesce(?2, response_sealed),
                                  refresh_key_version = NULL
             WHERE id = ?1",
            params![id, sealed],
        )?;
        found(n, || format!("exchange {}", id.0))
    }
}
