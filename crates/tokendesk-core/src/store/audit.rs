//! The audit log: who (OS user) did what (exchange, refresh, revoke, reveal...) to whom, when,
//! and how it ended. Append-only, enforced by triggers; details never hold secrets.

use rusqlite::types::{FromSql, FromSqlResult, ToSqlOutput, ValueRef};
use rusqlite::{Connection, ToSql, params};
use serde::Serialize;

use super::{Migration, StoreError, Timestamp, UserId, parse_text};

pub(crate) const MIGRATIONS: &[Migration] = &[Migration {
    version: 5,
    name: "audit",
    sql: "CREATE TABLE audit (
        id       INTEGER PRIMARY KEY,
        at       INTEGER NOT NULL,
        os_user  TEXT NOT NULL,
        action   TEXT NOT NULL,
        user_id  INTEGER REFERENCES users (id),
        outcome  TEXT NOT NULL CHECK (outcome IN ('ok', 'failed', 'denied')),
        detail   TEXT
    ) STRICT;
    CREATE INDEX audit_at ON audit (at);
    CREATE INDEX audit_user ON audit (user_id, at);
    -- a log that can be edited proves nothing
    CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN
        SELECT RAISE(ABORT, 'the audit log is append-only');
    END;
    CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN
        SELECT RAISE(ABORT, 'the audit log is append-only');
    END;",
}];

#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
/// A new action goes into [`AuditAction::ALL`] too (`parse` reads names from it).
pub enum AuditAction {
    Exchange,
    Refresh,
    Revoke,
    /// A person asked to see a token.
    Reveal,
    /// Drive appDataFolder listed on the user's behalf.
    Drive,
    /// A file of the user's appDataFolder downloaded (its content handed to a person).
    DriveDownload,
    /// A file put in the user's appDataFolder.
    DriveUpload,
    /// A file of the user's appDataFolder deleted.
    DriveDelete,
    /// The user list (profiles and token health, no token) exported to a file.
    UsersExport,
    /// A health sweep: every grant checked (the counts in the detail).
    HealthSweep,
    ClientAdd,
    ClientRemove,
    /// Startup recovery of interrupted operations.
    Recover,
    /// The store's key-encryption key replaced (its data keys re-wrapped).
    KeyRotate,
    /// The store's key exported (sealed under a passphrase) for another machine.
    KeyExport,
    KeyImport,
    /// Team server: a staff member signed in (a session began), or was refused.
    SignIn,
    SignOut,
    StaffAdd,
    StaffRemove,
    /// Team server: an API token made or revoked.
    TokenCreate,
    TokenRevoke,
    /// Team server: an admin API call that changes nothing (a read), by whom.
    ApiCall,
    /// Team server: an admin API call refused (no or bad credential, or beyond the role).
    AccessDenied,
}

impl AuditAction {
    /// Every action, in the order people read them.
    pub const ALL: &[AuditAction] = &[
        AuditAction::Exchange,
        AuditAction::Refresh,
        AuditAction::Revoke,
        AuditAction::Reveal,
        AuditAction::Drive,
        AuditAction::DriveDownload,
        AuditAction::DriveUpload,
        AuditAction::DriveDelete,
        AuditAction::UsersExport,
        AuditAction::HealthSweep,
        AuditAction::ClientAdd,
        AuditAction::ClientRemove,
        AuditAction::Recover,
        AuditAction::KeyRotate,
        AuditAction::KeyExport,
        AuditAction::KeyImport,
        AuditAction::SignIn,
        AuditAction::SignOut,
        AuditAction::StaffAdd,
        AuditAction::StaffRemove,
        AuditAction::TokenCreate,
        AuditAction::TokenRevoke,
        AuditAction::ApiCall,
        AuditAction::AccessDenied,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Exchange => "exchange",
            AuditAction::Refresh => "refresh",
            AuditAction::Revoke => "revoke",
            AuditAction::Reveal => "reveal",
            AuditAction::Drive => "drive",
            AuditAction::DriveDownload => "drive_download",
            AuditAction::DriveUpload => "drive_upload",
            AuditAction::DriveDelete => "drive_delete",
            AuditAction::UsersExport => "users_export",
            AuditAction::HealthSweep => "health_sweep",
            AuditAction::ClientAdd => "client_add",
            AuditAction::ClientRemove => "client_remove",
            AuditAction::Recover => "recover",
            AuditAction::KeyRotate => "key_rotate",
            AuditAction::KeyExport => "key_export",
            AuditAction::KeyImport => "key_import",
            AuditAction::SignIn => "sign_in",
            AuditAction::SignOut => "sign_out",
            AuditAction::StaffAdd => "staff_add",
            AuditAction::StaffRemove => "staff_remove",
            AuditAction::TokenCreate => "token_create",
            AuditAction::TokenRevoke => "token_revoke",
            AuditAction::ApiCall => "api_call",
            AuditAction::AccessDenied => "access_denied",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|a| a.as_str() == text)
    }
}

impl ToSql for AuditAction {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for AuditAction {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        parse_text(value, Self::parse)
    }
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditOutcome {
    Ok,
    Failed,
    /// Refused before trying (a reused code, a reveal without permission).
    Denied,
}

impl AuditOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditOutcome::Ok => "ok",
            AuditOutcome::Failed => "failed",
            AuditOutcome::Denied => "denied",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "ok" => AuditOutcome::Ok,
            "failed" => AuditOutcome::Failed,
            "denied" => AuditOutcome::Denied,
            _ => return None,
        })
    }
}

impl ToSql for AuditOutcome {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for AuditOutcome {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        parse_text(value, Self::parse)
    }
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct AuditEntry {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub id: i64,
    /// RFC 3339.
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub at: Timestamp,
    pub os_user: String,
    pub action: AuditAction,
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>))]
    pub user_id: Option<UserId>,
    pub outcome: AuditOutcome,
    pub detail: Option<String>,
    /// The email of the user `user_id` names, read with the entry, so people see who it was.
    pub user_email: Option<String>,
    /// That user's `sub`: what names them when they have no email.
    pub user_sub: Option<String>,
}

impl AuditEntry {
    /// Who the entry is about, as people know them: the email, else the sub.
    pub fn user_name(&self) -> Option<&str> {
        self.user_email
            .as_deref()
            .filter(|e| !e.is_empty())
            .or(self.user_sub.as_deref())
    }
}

/// One record to append. `detail` is shown to people as is: an error code, a client name, a
/// scope list — never a token, code or secret.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAuditEntry {
    pub os_user: String,
    pub action: AuditAction,
    pub user_id: Option<UserId>,
    pub outcome: AuditOutcome,
    pub detail: Option<String>,
}

impl NewAuditEntry {
    /// The login name of whoever runs this process (`USER`, `LOGNAME` or `USERNAME`; else, on
    /// Unix, the name of the process's uid, so services and CI without those variables are
    /// still named in the audit log).
    pub fn os_user_from_env() -> String {
        ["USER", "LOGNAME", "USERNAME"]
            .into_iter()
            .find_map(|var| std::env::var(var).ok().filter(|v| !v.is_empty()))
            .or_else(user_of_uid)
            .unwrap_or_else(|| "unknown".to_owned())
    }
}

/// The passwd name of this process's real uid (`uid` or `uid:N` when it has none), read
/// from /proc and /etc/passwd: no libc call, so no unsafe code.
#[cfg(target_os = "linux")]
fn user_of_uid() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .to_owned();
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let name = passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        (fields.nth(1)? == uid).then(|| name.to_owned())
    });
    Some(name.unwrap_or_else(|| format!("uid:{uid}")))
}

#[cfg(not(target_os = "linux"))]
fn user_of_uid() -> Option<String> {
    None
}

/// An entry with the email and sub of the user it names: one LEFT JOIN, not a lookup per row.
const SELECT: &str = "SELECT a.id, a.at, a.os_user, a.action, a.user_id, a.outcome, a.detail, \
                      u.email, u.sub FROM audit a LEFT JOIN users u ON u.id = a.user_id";

fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<AuditEntry> {
    Ok(AuditEntry {
        id: row.get(0)?,
        at: row.get(1)?,
        os_user: row.get(2)?,
        action: row.get(3)?,
        user_id: row.get(4)?,
        outcome: row.get(5)?,
        detail: row.get(6)?,
        user_email: row.get(7)?,
        user_sub: row.get(8)?,
    })
}

/// Which audit entries to read, newest first: every condition given must hold.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(default)]
pub struct AuditFilter {
    pub user: Option<UserId>,
    pub action: Option<AuditAction>,
    pub outcome: Option<AuditOutcome>,
    /// Entries at or after this instant.
    pub since: Option<Timestamp>,
    /// Found (without regard to case) in who acted, the detail or the user's email; or the
    /// user's sub, exactly.
    pub text: Option<String>,
    pub limit: usize,
}

/// Reads of `audit`.
#[derive(Debug, Clone, Copy)]
pub struct Audit<'c> {
    conn: &'c Connection,
}

impl<'c> Audit<'c> {
    pub(crate) fn new(conn: &'c Connection) -> Self {
        Audit { conn }
    }

    /// Newest first.
    pub fn recent(&self, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        self.query(
            &format!("{SELECT} ORDER BY a.at DESC, a.id DESC LIMIT ?1"),
            params![i64::try_from(limit).unwrap_or(i64::MAX)],
        )
    }

    /// A user's trail, newest first.
    pub fn for_user(&self, user: UserId, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        self.query(
            &format!("{SELECT} WHERE a.user_id = ?1 ORDER BY a.at DESC, a.id DESC LIMIT ?2"),
            params![user, i64::try_from(limit).unwrap_or(i64::MAX)],
        )
    }

    /// The entries `filter` selects, newest first; the conditions are SQL, so a filter over a
    /// long log reads only what it returns (the indexes on `at` and `(user_id, at)`).
    pub fn filtered(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError> {
        self.query(
            &format!(
                "{SELECT}
                 WHERE (?1 IS NULL OR a.user_id = ?1) AND (?2 IS NULL OR a.action = ?2)
                   AND (?3 IS NULL OR a.outcome = ?3) AND (?4 IS NULL OR a.at >= ?4)
                   AND (?6 IS NULL OR instr(lower(a.os_user), ?6) > 0
                        OR instr(lower(coalesce(a.detail, '')), ?6) > 0
                        OR instr(coalesce(u.email_lc, ''), ?6) > 0 OR u.sub = ?6)
                 ORDER BY a.at DESC, a.id DESC LIMIT ?5"
            ),
            params![
                filter.user,
                filter.action,
                filter.outcome,
                filter.since,
                i64::try_from(filter.limit).unwrap_or(i64::MAX),
                filter
                    .text
                    .as_deref()
                    .map(|t| t.trim().to_lowercase())
                    .filter(|t| !t.is_empty()),
            ],
        )
    }

    fn query(
        &self,
        sql: &str,
        params: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        let rows = stmt.query_map(params, from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// Appends to `audit`, only inside a [`super::WriteTx`], so the record commits or rolls back
/// with the change it describes.
#[derive(Debug, Clone, Copy)]
pub struct AuditMut<'c> {
    conn: &'c Connection,
}

impl<'c> AuditMut<'c> {
    pub(crate) fn new(conn: &'c Connection) -> Self {
        AuditMut { conn }
    }

    pub fn record(&self, entry: &NewAuditEntry, now: Timestamp) -> Result<i64, StoreError> {
        Ok(self.conn.query_row(
            "INSERT INTO audit (at, os_user, action, user_id, outcome, detail)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
            params![
                now,
                entry.os_user,
                entry.action,
                entry.user_id,
                entry.outcome,
                entry.detail,
            ],
            |row| row.get(0),
        )?)
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::{AuditAction, user_of_uid};

    #[test]
    fn every_action_has_one_name_that_reads_back() {
        let mut names = std::collections::HashSet::new();
        for action in AuditAction::ALL {
            assert!(names.insert(action.as_str()), "{} twice", action.as_str());
            assert_eq!(AuditAction::parse(action.as_str()), Some(*action));
            // The name in JSON (the API, the window) is the name in the database.
            assert_eq!(
                serde_json::to_value(action).ok(),
                Some(serde_json::Value::from(action.as_str()))
            );
        }
        assert_eq!(AuditAction::parse("nonsense"), None);
    }

    #[test]
    fn the_uid_names_the_os_user_when_the_environment_does_not() {
        let name = user_of_uid().expect("Linux always has /proc/self/status");
        assert!(!name.is_empty(), "an audit entry must name someone");
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let root = status
            .lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"));
        if root {
            assert_eq!(name, "root", "uid 0 is root in /etc/passwd");
        }
    }
}
