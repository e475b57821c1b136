//! `staff`, `sessions` and `api_tokens`: who may use the admin API, and their credentials,
//! kept as SHA-256 digests. Only the team server has these; the facade never sees them.

use tokendesk_core::api::{ApiTokenInfo, CredentialKind, Role, StaffMember};
use tokendesk_core::store::{StoreError, Timestamp};

use super::error::{Error, Result};
use super::{PgStorage, db, execute, found, parsed, query, query_opt};

/// Who a presented credential is, when it is good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// The staff member's email, or the API token's name.
    pub name: String,
    pub role: Role,
    pub kind: CredentialKind,
    pub expires_at: Option<Timestamp>,
}

/// How long a session lives: `idle` after its last use, `max` after the sign-in at most.
#[derive(Debug, Clone, Copy)]
pub struct SessionLife {
    pub idle: i64,
    pub max: i64,
}

impl Default for SessionLife {
    fn default() -> Self {
        SessionLife {
            idle: 8 * 3600,
            max: 24 * 3600,
        }
    }
}

fn role(text: &str) -> Option<Role> {
    Role::parse(text)
}

impl PgStorage {
    pub async fn staff_add(
        &self,
        email: &str,
        role: Role,
        by: &str,
        now: Timestamp,
    ) -> Result<StaffMember, StoreError> {
        let email = email.trim().to_lowercase();
        db(async {
            let conn = self.conn().await?;
            execute(
                &conn,
                "INSERT INTO staff (email, role, added_at, added_by) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (email) DO UPDATE SET role = excluded.role",
                &[&email, &role.as_str(), &now.unix(), &by],
            )
            .await
            .map_err(|e| match e.sql_state() {
                Some(s) if *s == tokio_postgres::error::SqlState::CHECK_VIOLATION => {
                    Error::Store(StoreError::Invalid {
                        field: "email",
                        reason: format!("{email:?} is not an email address"),
                    })
                }
                _ => e,
            })?;
            Ok(StaffMember {
                email,
                role,
                added_at: now,
                added_by: by.to_owned(),
            })
        })
        .await
    }

    pub async fn staff_list(&self) -> Result<Vec<StaffMember>, StoreError> {
        db(async {
            let conn = self.conn().await?;
            query(
                &conn,
                "SELECT email, role, added_at, added_by FROM staff ORDER BY email",
                &[],
            )
            .await?
            .iter()
            .map(|row| {
                Ok(StaffMember {
                    email: row.try_get(0)?,
                    role: parsed(row, 1, role)?,
                    added_at: Timestamp::from_unix(row.try_get(2)?),
                    added_by: row.try_get(3)?,
                })
            })
            .collect()
        })
        .await
    }

    /// Removes a staff member; their sessions end with them.
    pub async fn staff_remove(&self, email: &str) -> Result<(), StoreError> {
        let email = email.trim().to_lowercase();
        db(async {
            let conn = self.conn().await?;
            let n = execute(&conn, "DELETE FROM staff WHERE email = $1", &[&email]).await?;
            found(n, || format!("staff member {email}"))
        })
        .await
    }

    /// A new session for a staff member on the list, under `token_sha256`. `None` when the
    /// email is not on the list.
    pub async fn session_create(
        &self,
        email: &str,
        token_sha256: &[u8; 32],
        life: SessionLife,
        now: Timestamp,
    ) -> Result<Option<Credential>, StoreError> {
        let email = email.trim().to_lowercase();
        db(async {
            let conn = self.conn().await?;
            let Some(row) =
                query_opt(&conn, "SELECT role FROM staff WHERE email = $1", &[&email]).await?
            else {
                return Ok(None);
            };
            let role = parsed(&row, 0, role)?;
            let expires = now.plus_seconds(life.idle.min(life.max));
            execute(
                &conn,
                "INSERT INTO sessions (token_sha256, email, created_at, last_used_at, expires_at)
                 VALUES ($1, $2, $3, $3, $4)",
                &[
                    &token_sha256.as_slice(),
                    &email,
                    &now.unix(),
                    &expires.unix(),
                ],
            )
            .await?;
            Ok(Some(Credential {
                name: email,
                role,
                kind: CredentialKind::Session,
                expires_at: Some(expires),
            }))
        })
        .await
    }

    /// The credential behind a presented token's digest: a live session (its expiry slid
    /// forward, at most once a minute, never past its maximum) or an unrevoked API token.
    /// The role is the staff list's now, so a changed role applies at the next call.
    pub async fn credential(
        &self,
        token_sha256: &[u8; 32],
        life: SessionLife,
        now: Timestamp,
    ) -> Result<Option<Credential>, StoreError> {
        db(async {
            let conn = self.conn().await?;
            let digest = token_sha256.as_slice();
            if let Some(row) = query_opt(
                &conn,
                "SELECT s.email, st.role, s.created_at, s.last_used_at, s.expires_at
                 FROM sessions s JOIN staff st ON st.email = s.email
                 WHERE s.token_sha256 = $1 AND s.revoked_at IS NULL AND s.expires_at > $2",
                &[&digest, &now.unix()],
            )
            .await?
            {
                let created: i64 = row.try_get(2)?;
                let last_used: i64 = row.try_get(3)?;
                let mut expires: i64 = row.try_get(4)?;
                if now.unix() - last_used >= 60 {
                    expires = (now.unix() + life.idle).min(created + life.max);
                    execute(
                        &conn,
                        "UPDATE sessions SET last_used_at = $2, expires_at = $3
                         WHERE token_sha256 = $1",
                        &[&digest, &now.unix(), &expires],
                    )
                    .await?;
                }
                return Ok(Some(Credential {
                    name: row.try_get(0)?,
                    role: parsed(&row, 1, role)?,
                    kind: CredentialKind::Session,
                    expires_at: Some(Timestamp::from_unix(expires)),
                }));
            }
            let Some(row) = query_opt(
                &conn,
                "UPDATE api_tokens SET last_used_at = $2
                 WHERE token_sha256 = $1 AND revoked_at IS NULL
                 RETURNING name, role",
                &[&digest, &now.unix()],
            )
            .await?
            else {
                return Ok(None);
            };
            Ok(Some(Credential {
                name: row.try_get(0)?,
                role: parsed(&row, 1, role)?,
                kind: CredentialKind::ApiToken,
                expires_at: None,
            }))
        })
        .await
    }

    /// Ends a session (sign-out).
    pub async fn session_revoke(
        &self,
        token_sha256: &[u8; 32],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        db(async {
            let conn = self.conn().await?;
            let n = execute(
                &conn,
                "UPDATE sessions SET revoked_at = $2
                 WHERE token_sha256 = $1 AND revoked_at IS NULL",
                &[&token_sha256.as_slice(), &now.unix()],
            )
            .await?;
            found(n, || "session".to_owned())
        })
        .await
    }

    pub async fn api_token_create(
        &self,
        name: &str,
        token_sha256: &[u8; 32],
        role: Role,
        by: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        db(async {
            let conn = self.conn().await?;
            execute(
                &conn,
                "INSERT INTO api_tokens (name, token_sha256, role, created_at, created_by)
                 VALUES ($1, $2, $3, $4, $5)",
                &[&name, &token_sha256.as_slice(), &role.as_str(), &now.unix(), &by],
            )
            .await
            .map_err(|e| match e.sql_state() {
                Some(s) if *s == tokio_postgres::error::SqlState::UNIQUE_VIOLATION => {
                    Error::Store(StoreError::InUse {
                        what: format!("API token {name:?}"),
                        detail: "a token of that name exists (a revoked token keeps its name, for the audit \
                             log): pick another name"
                            .into(),
                    })
                }
                _ => e,
            })
            .map(drop)
        })
        .await
    }

    pub async fn api_tokens(&self) -> Result<Vec<ApiTokenInfo>, StoreError> {
        db(async {
            let conn = self.conn().await?;
            query(
                &conn,
                "SELECT name, role, created_at, created_by, last_used_at, revoked_at
                 FROM api_tokens ORDER BY name",
                &[],
            )
            .await?
            .iter()
            .map(|row| {
                Ok(ApiTokenInfo {
                    name: row.try_get(0)?,
                    role: parsed(row, 1, role)?,
                    created_at: Timestamp::from_unix(row.try_get(2)?),
                    created_by: row.try_get(3)?,
                    last_used_at: row.try_get::<_, Option<i64>>(4)?.map(Timestamp::from_unix),
                    revoked_at: row.try_get::<_, Option<i64>>(5)?.map(Timestamp::from_unix),
                })
            })
            .collect()
        })
        .await
    }

    pub async fn api_token_revoke(&self, name: &str, now: Timestamp) -> Result<(), StoreError> {
        db(async {
            let conn = self.conn().await?;
            let n = execute(
                &conn,
                "UPDATE api_tokens SET revoked_at = $2 WHERE name = $1 AND revoked_at IS NULL",
                &[&name, &now.unix()],
            )
            .await?;
            found(n, || format!("live API token {name:?}"))
        })
        .await
    }
}
