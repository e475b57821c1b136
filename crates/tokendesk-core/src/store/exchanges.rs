//! Every authorization code seen, by its SHA-256 (never the code), so a code is exchanged
//! once; with the redacted request and response for display and the outcome.

use std::fmt;

use rusqlite::types::{FromSql, FromSqlResult, ToSqlOutput, ValueRef};
use rusqlite::{Connection, OptionalExtension, ToSql, params};
use serde::Serialize;

use super::clients::found;
use super::{ClientUid, GrantUid, Migration, StoreError, Timestamp, UserId, hex, parse_text};
use crate::seal::SealedSecret;
use crate::secret::{MASKED, is_secret_name};

pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 4,
        name: "exchanges",
        sql: "CREATE TABLE exchanges (
        id            INTEGER PRIMARY KEY,
        code_sha256   TEXT NOT NULL UNIQUE CHECK (length(code_sha256) = 64),
        client_uid    TEXT REFERENCES clients (uid) ON DELETE SET NULL,
        outcome       TEXT NOT NULL CHECK (outcome IN
                          ('pending', 'succeeded', 'failed', 'unknown')),
        error_code    TEXT,
        request_json  TEXT CHECK (request_json IS NULL OR json_valid(request_json)),
        response_json TEXT CHECK (response_json IS NULL OR json_valid(response_json)),
        user_id       INTEGER REFERENCES users (id) ON DELETE SET NULL,
        grant_uid     TEXT REFERENCES grants (uid) ON DELETE SET NULL,
        created_at    INTEGER NOT NULL,
        finished_at   INTEGER
    ) STRICT;
    CREATE INDEX exchanges_created ON exchanges (created_at);
    CREATE INDEX exchanges_pending ON exchanges (outcome) WHERE outcome = 'pending';
    CREATE INDEX exchanges_grant ON exchanges (grant_uid);
    CREATE INDEX exchanges_user ON exchanges (user_id);",
    },
    Migration {
        version: 7,
        name: "exchanges_kept_refresh_token",
        // The refresh token of a token response is written to the keyring the moment it
        // arrives, before the ID token is verified; this is the version of that keyring entry
        // (`exchange-refresh/<id>/v<N>`), cleared once the exchange's grant holds the token.
        sql: "ALTER TABLE exchanges ADD COLUMN refresh_key_version INTEGER
                  CHECK (refresh_key_version IS NULL OR refresh_key_version > 0);
              CREATE INDEX exchanges_kept ON exchanges (id) WHERE refresh_key_version IS NOT NULL;",
    },
    Migration {
        version: 12,
        name: "exchanges_kept_response",
        // The provider's whole answer, sealed, kept from the moment it arrives until its ID
        // token is verified and the grant holds the tokens (then cleared): a crash, or a JWKS
        // outage, never loses what Google answered. `refresh_key_version` stays only as a 0.1
        // store's keyring reference until the upgrade at open moves it in.
        sql: "ALTER TABLE exchanges ADD COLUMN response_sealed BLOB;",
    },
];

/// The SHA-256 of an authorization code: enough to recognise a code again, useless to
/// redeem it.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CodeHash([u8; 32]);

impl CodeHash {
    pub fn of(code: &str) -> Self {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, code.as_bytes());
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(digest.as_ref());
        CodeHash(bytes)
    }

    pub fn to_hex(self) -> String {
        hex(&self.0)
    }

    pub fn parse_hex(text: &str) -> Option<Self> {
        let bytes = super::unhex(text)?;
        Some(CodeHash(bytes.try_into().ok()?))
    }

    /// The row name secrets of this exchange are sealed for, and its lock's name.
    pub fn row_name(self) -> String {
        format!("x_{}", &self.to_hex()[..32])
    }
}

impl fmt::Debug for CodeHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CodeHash({})", self.to_hex())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct ExchangeId(pub i64);

impl ToSql for ExchangeId {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.0))
    }
}

impl FromSql for ExchangeId {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        i64::column_result(value).map(ExchangeId)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExchangeOutcome {
    /// Claimed, not finished: if still pending at startup, the process died mid-exchange.
    Pending,
    Succeeded,
    Failed,
    /// The code was sent and no answer came (timeout): it may have been redeemed, so it is
    /// never sent again; the user must consent again.
    Unknown,
}

impl ExchangeOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            ExchangeOutcome::Pending => "pending",
            ExchangeOutcome::Succeeded => "succeeded",
            ExchangeOutcome::Failed => "failed",
            ExchangeOutcome::Unknown => "unknown",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "pending" => ExchangeOutcome::Pending,
            "succeeded" => ExchangeOutcome::Succeeded,
            "failed" => ExchangeOutcome::Failed,
            "unknown" => ExchangeOutcome::Unknown,
            _ => return None,
        })
    }
}

impl ToSql for ExchangeOutcome {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for ExchangeOutcome {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        parse_text(value, Self::parse)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Exchange {
    pub id: ExchangeId,
    pub code_sha256: String,
    pub client: Option<ClientUid>,
    pub outcome: ExchangeOutcome,
    /// Google's `error` code (`invalid_grant`...) or ours.
    pub error_code: Option<String>,
    /// The token request as sent, secrets replaced by `[redacted]`.
    pub request: Option<serde_json::Value>,
    /// The token response as received, tokens replaced by `[redacted]`.
    pub response: Option<serde_json::Value>,
    pub user_id: Option<UserId>,
    pub grant: Option<GrantUid>,
    pub created_at: Timestamp,
    pub finished_at: Option<Timestamp>,
    /// The provider's answer, sealed for [`CodeHash::row_name`], while it is not yet verified
    /// and stored as a grant.
    #[serde(skip)]
    pub response_sealed: Option<SealedSecret>,
}

impl Exchange {
    pub fn code(&self) -> Option<CodeHash> {
        CodeHash::parse_hex(&self.code_sha256)
    }
}

/// The result of [`ExchangesMut::claim`].
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// First time this code is seen: go ahead and exchange it.
    New(ExchangeId),
    /// Seen before (maybe still pending): do not send it again.
    Seen(Box<Exchange>),
}

/// How an exchange ended, recorded by [`ExchangesMut::finish`].
#[derive(Debug, Clone, PartialEq)]
pub struct ExchangeFinish {
    pub outcome: ExchangeOutcome,
    pub error_code: Option<String>,
    pub request: Option<serde_json::Value>,
    pub response: Option<serde_json::Value>,
    pub user_id: Option<UserId>,
    pub grant: Option<GrantUid>,
}

const COLUMNS: &str = "id, code_sha256, client_uid, outcome, error_code, request_json, \
                       response_json, user_id, grant_uid, created_at, finished_at, \
                       response_sealed";

fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Exchange> {
    let json = |idx: usize| -> rusqlite::Result<Option<serde_json::Value>> {
        let text: Option<String> = row.get(idx)?;
        text.map(|t| {
            serde_json::from_str(&t).map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(
                    idx,
                    rusqlite::types::Type::Text,
                    e.into(),
                )
            })
        })
        .transpose()
    };
    Ok(Exchange {
        id: row.get(0)?,
        code_sha256: row.get(1)?,
        client: row.get(2)?,
        outcome: row.get(3)?,
        error_code: row.get(4)?,
        request: json(5)?,
        response: json(6)?,
        user_id: row.get(7)?,
        grant: row.get(8)?,
        created_at: row.get(9)?,
        finished_at: row.get(10)?,
        response_sealed: row.get(11)?,
    })
}

/// A copy of `value` with every secret's value replaced by `"[redacted]"`, at any depth: under
/// a secret's key, and in `{"name": <a secret's name>, "value": ...}` pairs (how the raw log
/// lists parameters). Applied to everything this table stores, whatever the caller already did.
pub fn redact_json(value: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    let pair_names_a_secret = |map: &serde_json::Map<String, Value>| {
        map.get("name")
            .and_then(Value::as_str)
            .is_some_and(is_secret_name)
    };
    match value {
        Value::Object(map) => {
            let pair = pair_names_a_secret(map);
            Value::Object(
                map.iter()
                    .map(|(k, v)| {
                        let secret = is_secret_name(k) || (pair && k == "value");
                        let v = if secret && (v.is_string() || v.is_array() || v.is_object()) {
                            Value::String(MASKED.into())
                        } else {
                            redact_json(v)
                        };
                        (k.clone(), v)
                    })
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(redact_json).collect()),
        other => other.clone(),
    }
}

/// Reads of `exchanges`.
#[derive(Debug, Clone, Copy)]
pub struct Exchanges<'c> {
    conn: &'c Connection,
}

impl<'c> Exchanges<'c> {
    pub(crate) fn new(conn: &'c Connection) -> Self {
        Exchanges { conn }
    }

    pub fn get(&self, id: ExchangeId) -> Result<Option<Exchange>, StoreError> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM exchanges WHERE id = ?1"),
                [id],
                from_row,
            )
            .optional()?)
    }

    pub fn by_code(&self, code: &str) -> Result<Option<Exchange>, StoreError> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM exchanges WHERE code_sha256 = ?1"),
                [CodeHash::of(code).to_hex()],
                from_row,
            )
            .optional()?)
    }

    pub fn recent(&self, limit: usize) -> Result<Vec<Exchange>, StoreError> {
        self.query(
            &format!("SELECT {COLUMNS} FROM exchanges ORDER BY created_at DESC, id DESC LIMIT ?1"),
            params![i64::try_from(limit).unwrap_or(i64::MAX)],
        )
    }

    /// Exchanges claimed and never finished: interrupted, to be marked `unknown`.
    pub fn pending(&self) -> Result<Vec<Exchange>, StoreError> {
        self.query(
            &format!("SELECT {COLUMNS} FROM exchanges WHERE outcome = 'pending' ORDER BY id"),
            params![],
        )
    }

    fn query(
        &self,
        sql: &str,
        params: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<Exchange>, StoreError> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        let rows = stmt.query_map(params, from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// Writes to `exchanges`, only inside a [`super::WriteTx`].
#[derive(Debug, Clone, Copy)]
pub struct ExchangesMut<'c> {
    conn: &'c Connection,
}

impl<'c> ExchangesMut<'c> {
    pub(crate) fn new(conn: &'c Connection) -> Self {
        ExchangesMut { conn }
    }

    /// Records `code` as seen, or reports that it was. Inside `BEGIN IMMEDIATE`, two
    /// processes receiving the same code get exactly one `New`. Commit before exchanging.
    pub fn claim(
        &self,
        code: CodeHash,
        client: Option<&ClientUid>,
        now: Timestamp,
    ) -> Result<Claim, StoreError> {
        let hash = code.to_hex();
        let inserted: Option<ExchangeId> = self
            .conn
            .query_row(
                "INSERT INTO exchanges (code_sha256, client_uid, outcome, created_at)
                 VALUES (?1, ?2, 'pending', ?3)
                 ON CONFLICT (code_sha256) DO NOTHING
                 RETURNING id",
                params![hash, client, now],
                |row| row.get(0),
            )
            .optional()?;
        if let Some(id) = inserted {
            return Ok(Claim::New(id));
        }
        let seen = self.conn.query_row(
            &format!("SELECT {COLUMNS} FROM exchanges WHERE code_sha256 = ?1"),
            [hash],
            from_row,
        )?;
        Ok(Claim::Seen(Box::new(seen)))
    }

    /// Keeps the provider's answer, sealed, with the exchange.
    pub fn keep_response(&self, id: ExchangeId, sealed: &SealedSecret) -> Result<(), StoreError> {
        let n = self.conn.execute(
            "UPDATE exchanges SET response_sealed = ?2 WHERE id = ?1",
            params![id, sealed],
        )?;
        found(n, || format!("exchange {}", id.0))
    }

    /// Forgets a claim whose code never reached the provider, so the code can be sent again.
    pub fn release(&self, id: ExchangeId) -> Result<(), StoreError> {
        let n = self.conn.execute(
            "DELETE FROM exchanges WHERE id = ?1 AND outcome = 'pending'",
            params![id],
        )?;
        found(n, || format!("pending exchange {}", id.0))
    }

    /// Records the outcome; request and response are redacted again before storing.
    pub fn finish(
        &self,
        id: ExchangeId,
        finish: &ExchangeFinish,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let json = |v: &Option<serde_json::Value>| -> Result<Option<String>, StoreError> {
            Ok(v.as_ref()
                .map(|v| serde_json::to_string(&redact_json(v)))
                .transpose()?)
        };
        let n = self.conn.execute(
            "UPDATE exchanges SET outcome = ?2, error_code = ?3, request_json = ?4,
                                  response_json = ?5, user_id = ?6, grant_uid = ?7,
                                  finished_at = ?8, response_sealed = NULL,
                                  refresh_key_version = NULL
             WHERE id = ?1",
            params![
                id,
                finish.outcome,
                finish.error_code,
                json(&finish.request)?,
                json(&finish.response)?,
                finish.user_id,
                finish.grant,
                now,
            ],
        )?;
        found(n, || format!("exchange {}", id.0))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn code_hash_is_sha256_hex() {
        assert_eq!(
            CodeHash::of("abc").to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn redaction_reaches_nested_fields() {
        let v = serde_json::json!({
            "grant_type": "authorization_code",
            "code": "4/0Acanary",
            "nested": {"Refresh_Token": "1//canary", "list": [{"id_token": "eyJcanary"}]},
            "expires_in": 3599,
            "refresh_token": null
        });
        let shown = redact_json(&v).to_string();
        assert!(!shown.contains("canary"), "{shown}");
        assert!(
            shown.contains("authorization_code"),
            "non-secrets stay readable"
        );
        assert!(
            shown.contains("\"refresh_token\":null"),
            "an absent token stays visibly absent"
        );
    }

    #[test]
    fn redaction_reaches_name_value_pairs() {
        let v = serde_json::json!({
            "form": [
                {"name": "code", "value": "4/0Acanary-code"},
                {"name": "client_secret", "value": "GOCSPX-canary"},
                {"name": "grant_type", "value": "authorization_code"}
            ],
            "error": {"code": 401, "message": "Invalid Credentials"}
        });
        let shown = redact_json(&v).to_string();
        assert!(!shown.contains("canary"), "{shown}");
        assert!(
            shown.contains("authorization_code"),
            "non-secret pairs stay readable"
        );
        assert!(
            shown.contains("\"code\":401"),
            "a number is never a secret (Drive's error code stays): {shown}"
        );
    }
}
