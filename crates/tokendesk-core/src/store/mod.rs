//! The records TokenDesk keeps (clients, users by issuer + sub, grants, exchanges, the audit
//! log) and the embedded SQLite file that holds them: WAL, a busy timeout, `BEGIN IMMEDIATE`
//! for every write; each table module owns its migration. Secrets are sealed in their rows.

mod audit;
mod clients;
mod exchanges;
mod grants;
mod http_log;
mod keys;
pub mod legacy;
mod users;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSqlOutput, ValueRef};
use rusqlite::{Connection, ErrorCode, ToSql, Transaction, TransactionBehavior};
use serde::Serialize;

use crate::seal::SealedSecret;

pub use audit::{
    Audit, AuditAction, AuditEntry, AuditFilter, AuditMut, AuditOutcome, NewAuditEntry,
};
pub use clients::{Client, ClientUid, Clients, ClientsMut, NewClient};
pub use exchanges::{
    Claim, CodeHash, Exchange, ExchangeFinish, ExchangeId, ExchangeOutcome, Exchanges,
    ExchangesMut, redact_json,
};
pub use grants::{Grant, GrantUid, GrantWrite, Grants, GrantsMut, RefreshTokenState, join_scopes};
pub use http_log::{
    HTTP_LOG_KEEP, HttpLog, HttpLogEntry, HttpLogMut, NewHttpLogEntry, parse_exchanges,
};
pub use keys::{Keys, KeysMut};
pub use users::{
    User, UserId, UserProfile, Users, UsersMut, check_id_token_report, check_user_write,
    prefix_upper_bound,
};

/// A point in time, whole seconds since the Unix epoch. INTEGER in SQLite (sortable, compared
/// with expiries), RFC 3339 text when serialized for people and the UI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    pub const fn from_unix(seconds: i64) -> Self {
        Timestamp(seconds)
    }

    pub const fn unix(self) -> i64 {
        self.0
    }

    /// The wall clock, for the binaries' edges only: logic takes `now` as a parameter.
    pub fn now() -> Self {
        Timestamp(chrono::Utc::now().timestamp())
    }

    /// RFC 3339 text, as people and `--since` write it.
    pub fn parse_rfc3339(text: &str) -> Option<Self> {
        chrono::DateTime::parse_from_rfc3339(text.trim())
            .ok()
            .map(|d| Timestamp(d.timestamp()))
    }

    /// A [`std::time::SystemTime`] (an injected clock's), in whole seconds.
    pub fn from_system(time: std::time::SystemTime) -> Self {
        Timestamp(match time.duration_since(std::time::UNIX_EPOCH) {
            Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
            Err(before) => -i64::try_from(before.duration().as_secs()).unwrap_or(i64::MAX),
        })
    }

    pub fn to_rfc3339(self) -> String {
        match chrono::DateTime::from_timestamp(self.0, 0) {
            Some(t) => t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            None => self.0.to_string(),
        }
    }

    pub fn plus_seconds(self, seconds: i64) -> Self {
        Timestamp(self.0.saturating_add(seconds))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> serde::Deserialize<'de> for Timestamp {
    /// RFC 3339 text (what `Serialize` writes) or whole seconds since the epoch.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Either {
            Seconds(i64),
            Text(String),
        }
        match Either::deserialize(deserializer)? {
            Either::Seconds(s) => Ok(Timestamp(s)),
            Either::Text(t) => chrono::DateTime::parse_from_rfc3339(&t)
                .map(|d| Timestamp(d.timestamp()))
                .map_err(|e| serde::de::Error::custom(format!("{t:?} is not RFC 3339: {e}"))),
        }
    }
}

/// The schema of what `Serialize` writes: RFC 3339 text, in UTC to the second.
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Timestamp {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::DateTime,
            )))
            .description(Some("RFC 3339, UTC, whole seconds (2026-01-31T09:00:00Z)"))
            .examples(["2026-01-31T09:00:00Z"])
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Timestamp {}

impl ToSql for SealedSecret {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_bytes()))
    }
}

impl FromSql for SealedSecret {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        value
            .as_blob()
            .map(|b| SealedSecret::from_bytes(b.to_vec()))
    }
}

impl ToSql for Timestamp {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.0))
    }
}

impl FromSql for Timestamp {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        i64::column_result(value).map(Timestamp)
    }
}

/// How to open the file. The defaults suit the product; tests shorten the timeout or cap the
/// size to provoke `BUSY` and `FULL`.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// How long a write waits for another process's write lock before `Busy`.
    pub busy_timeout: Duration,
    /// Caps the file at this many pages (4 KiB each) after migrations: a full disk on demand.
    pub max_page_count: Option<u32>,
    /// `PRAGMA quick_check` at open (it reads every page: ~0.6 s at 100,000 users). Off, a
    /// damaged header is still caught at open, damaged pages only when read.
    pub quick_check: bool,
    /// Migrate no further than this schema version: for tests that build a file as an older
    /// TokenDesk left it, then open it with this one.
    pub stop_at_schema: Option<u32>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            busy_timeout: Duration::from_secs(5),
            max_page_count: None,
            quick_check: true,
            stop_at_schema: None,
        }
    }
}

/// Store failures. Each message says what happened to the data and what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("cannot open the TokenDesk database {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error(
        "{path} is not a TokenDesk database, or its header is corrupt ({detail}). Nothing was \
         changed. Move the file aside and restore it from a backup, or choose an empty data \
         directory (--data-dir or TOKENDESK_HOME); the secrets in the OS keyring are not affected"
    )]
    NotADatabase { path: PathBuf, detail: String },
    #[error(
        "the TokenDesk database {path} is damaged ({detail}). Nothing was changed. Stop \
         TokenDesk, copy the file aside, then restore a backup or rebuild it with \
         `sqlite3 {path} .recover`; the secrets in the OS keyring are not affected"
    )]
    CorruptFile { path: PathBuf, detail: String },
    #[error(
        "the TokenDesk database is damaged ({detail}); the change was not written. Restart \
         TokenDesk: its startup check names the file and how to recover it"
    )]
    Corrupt { detail: String },
    #[error(
        "{path} was written by a newer TokenDesk (schema {found}, this build knows up to \
         {known}): upgrade TokenDesk; the file was not changed"
    )]
    TooNew {
        path: PathBuf,
        found: u32,
        known: u32,
    },
    #[error("migration {version} ({name}) failed and was rolled back: {source}")]
    Migration {
        version: u32,
        name: &'static str,
        source: Box<StoreError>,
    },
    #[error(
        "the TokenDesk database is busy: another TokenDesk process held its write lock past the \
         busy timeout. Nothing was written; retry when the other process is done"
    )]
    Busy,
    #[error(
        "the disk is full (or the database reached its size limit): the change was rolled back \
         and nothing was written. Free some space and retry"
    )]
    Full,
    #[error("the TokenDesk database is read-only: check the file's permissions and owner")]
    ReadOnly,
    #[error("a client named {name:?} already exists: choose another name or remove it first")]
    ClientNameTaken { name: String },
    #[error("{what} is still referenced ({detail}); remove those first")]
    InUse { what: String, detail: String },
    #[error("{what} not found")]
    NotFound { what: String },
    #[error("invalid {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("database error: {0}")]
    Sqlite(rusqlite::Error),
    /// A server database (PostgreSQL) refused a statement: its message and SQLSTATE, never
    /// the values of the row (they may be people's emails, or sealed secrets).
    #[error("the database refused the change ({detail}); the transaction was rolled back")]
    Database { detail: String },
    #[error("stored JSON could not be read: {0}")]
    Json(#[from] serde_json::Error),
    #[error(
        "another process stored this user's grant meanwhile (as {existing}); the write was not \
         made and can be retried"
    )]
    GrantMoved { existing: GrantUid },
    #[error(
        "the database is unavailable ({detail}); nothing was written. It is retried on the \
         next request"
    )]
    Unavailable { detail: String },
    #[error(
        "cannot lock {path}: {reason}. TokenDesk's processes coordinate through files in its \
         data directory: check that TOKENDESK_HOME is writable by this user"
    )]
    Lock { path: String, reason: String },
    #[error("a database task did not finish ({detail}); nothing more is known of its outcome")]
    TaskLost { detail: String },
}

impl StoreError {
    /// A stable code for `{code, message}` across IPC and `--json`.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Open { .. } => "store_open",
            StoreError::NotADatabase { .. } => "store_not_a_database",
            StoreError::CorruptFile { .. } | StoreError::Corrupt { .. } => "store_corrupt",
            StoreError::TooNew { .. } => "store_too_new",
            StoreError::Migration { .. } => "store_migration",
            StoreError::Busy => "store_busy",
            StoreError::Full => "store_full",
            StoreError::ReadOnly => "store_read_only",
            StoreError::ClientNameTaken { .. } => "client_name_taken",
            StoreError::InUse { .. } => "in_use",
            StoreError::NotFound { .. } => "not_found",
            StoreError::Invalid { .. } => "invalid",
            StoreError::Sqlite(_) | StoreError::Database { .. } | StoreError::Json(_) => {
                "store_error"
            }
            StoreError::GrantMoved { .. } => "grant_moved",
            StoreError::Unavailable { .. } => "store_unavailable",
            StoreError::TaskLost { .. } => "store_task_lost",
            StoreError::Lock { .. } => "lock_failed",
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(err: rusqlite::Error) -> Self {
        match err.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Busy,
            Some(ErrorCode::DiskFull) => StoreError::Full,
            Some(ErrorCode::ReadOnly) => StoreError::ReadOnly,
            Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => StoreError::Corrupt {
                detail: err.to_string(),
            },
            _ => StoreError::Sqlite(err),
        }
    }
}

/// One schema step, owned by the module of the table it changes. `version` is global and
/// contiguous: the file's `user_version` is the last one applied.
#[derive(Debug)]
pub(crate) struct Migration {
    pub version: u32,
    pub name: &'static str,
    pub sql: &'static str,
}

fn migrations() -> Vec<&'static Migration> {
    let mut all: Vec<&'static Migration> = [
        clients::MIGRATIONS,
        users::MIGRATIONS,
        grants::MIGRATIONS,
        exchanges::MIGRATIONS,
        audit::MIGRATIONS,
        keys::MIGRATIONS,
        http_log::MIGRATIONS,
    ]
    .into_iter()
    .flatten()
    .collect();
    all.sort_by_key(|m| m.version);
    all
}

/// The newest schema this build knows.
pub fn schema_version_known() -> u32 {
    migrations().last().map_or(0, |m| m.version)
}

/// The database. Reads go through the table handles (`store.users().search(..)`); writes
/// only through a [`WriteTx`], which is always `BEGIN IMMEDIATE`.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens (creating if absent) and migrates the database at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::open_with(path, &StoreOptions::default())
    }

    pub fn open_with(path: impl AsRef<Path>, options: &StoreOptions) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        let created = !path.exists();
        let conn = Connection::open(&path).map_err(|source| StoreError::Open {
            path: path.clone(),
            source,
        })?;
        if created {
            restrict_to_owner(&path)?;
        }
        let at_open = |err: rusqlite::Error| open_error(&path, err);
        conn.busy_timeout(options.busy_timeout).map_err(at_open)?;
        // The first read: a file that is not SQLite fails here, before anything is written.
        let check = if options.quick_check {
            quick_check(&conn)
        } else {
            read_schema(&conn)
        };
        check.map_err(|err| match err {
            QuickCheck::Sqlite(err) => at_open(err),
            QuickCheck::Problems(detail) => StoreError::CorruptFile {
                path: path.clone(),
                detail,
            },
        })?;
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "wal", |row| row.get(0))
            .map_err(at_open)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Open {
                path: path.clone(),
                source: rusqlite::Error::InvalidParameterName(format!(
                    "journal_mode stayed {mode:?}: is the file on a network share?"
                )),
            });
        }
        // FULL: a commit survives power loss too; writes are rare and tokens precious.
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(at_open)?;
        // Per connection and a no-op inside a transaction, so set before any.
        conn.pragma_update(None, "foreign_keys", true)
            .map_err(at_open)?;

        let mut store = Store { conn, path };
        store.migrate(options.stop_at_schema)?;
        if let Some(pages) = options.max_page_count {
            // Never below the current size: SQLite would silently clamp it anyway.
            store
                .conn
                .pragma_update(None, "max_page_count", pages)
                .map_err(|err| open_error(&store.path, err))?;
        }
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's `user_version`.
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        Ok(self
            .conn
            .pragma_query_value(None, "user_version", |row| row.get(0))?)
    }

    fn migrate(&mut self, stop_at: Option<u32>) -> Result<(), StoreError> {
        let known = schema_version_known();
        let found = self.schema_version()?;
        if found > known {
            return Err(StoreError::TooNew {
                path: self.path.clone(),
                found,
                known,
            });
        }
        if found == known {
            return Ok(());
        }
        // A migration may rebuild a table (SQLite cannot change a CHECK in place): with
        // foreign keys enforced, dropping the old table would run its ON DELETE actions on
        // the rows that refer to it. Off for the migrations (a no-op inside a transaction, so
        // set here), every reference checked before they are turned on again.
        self.conn.pragma_update(None, "foreign_keys", false)?;
        let result = self.run_migrations(found, stop_at.unwrap_or(known));
        let checked = result.and_then(|()| self.foreign_key_problems());
        self.conn.pragma_update(None, "foreign_keys", true)?;
        checked
    }

    fn foreign_key_problems(&self) -> Result<(), StoreError> {
        let mut stmt = self.conn.prepare("PRAGMA foreign_key_check")?;
        let problems = stmt
            .query_map([], |row| row.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        if problems.is_empty() {
            Ok(())
        } else {
            Err(StoreError::CorruptFile {
                path: self.path.clone(),
                detail: format!(
                    "broken references in {} after migrating",
                    problems.join(", ")
                ),
            })
        }
    }

    fn run_migrations(&mut self, found: u32, stop_at: u32) -> Result<(), StoreError> {
        for migration in migrations() {
            if migration.version <= found || migration.version > stop_at {
                continue;
            }
            let wrap = |source: StoreError| StoreError::Migration {
                version: migration.version,
                name: migration.name,
                source: Box::new(source),
            };
            let tx = Transaction::new(&mut self.conn, TransactionBehavior::Immediate)
                .map_err(|e| wrap(e.into()))?;
            // Another process may have migrated while we waited for the lock.
            let now: u32 = tx
                .pragma_query_value(None, "user_version", |row| row.get(0))
                .map_err(|e| wrap(e.into()))?;
            if now >= migration.version {
                continue;
            }
            tx.execute_batch(migration.sql)
                .map_err(|e| wrap(e.into()))?;
            tx.pragma_update(None, "user_version", migration.version)
                .map_err(|e| wrap(e.into()))?;
            tx.commit().map_err(|e| wrap(e.into()))?;
        }
        Ok(())
    }

    /// `BEGIN IMMEDIATE`: takes the write lock now (waiting up to the busy timeout), so the
    /// transaction can never fail later on a read-to-write upgrade. Rolled back unless
    /// [`WriteTx::commit`] is called.
    pub fn write(&mut self) -> Result<WriteTx<'_>, StoreError> {
        let tx = Transaction::new(&mut self.conn, TransactionBehavior::Immediate)?;
        Ok(WriteTx { tx })
    }

    /// Runs `f` in one immediate transaction and commits if it returns `Ok`.
    pub fn write_with<T>(
        &mut self,
        f: impl FnOnce(&WriteTx<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let tx = self.write()?;
        let value = f(&tx)?;
        tx.commit()?;
        Ok(value)
    }

    pub fn clients(&self) -> Clients<'_> {
        Clients::new(&self.conn)
    }

    pub fn users(&self) -> Users<'_> {
        Users::new(&self.conn)
    }

    pub fn grants(&self) -> Grants<'_> {
        Grants::new(&self.conn)
    }

    pub fn exchanges(&self) -> Exchanges<'_> {
        Exchanges::new(&self.conn)
    }

    pub fn audit(&self) -> Audit<'_> {
        Audit::new(&self.conn)
    }

    pub fn keys(&self) -> Keys<'_> {
        Keys::new(&self.conn)
    }

    pub fn http_log(&self) -> HttpLog<'_> {
        HttpLog::new(&self.conn)
    }

    pub fn legacy(&self) -> legacy::Legacy<'_> {
        legacy::Legacy::new(&self.conn)
    }

    /// The full `integrity_check` (slower than the `quick_check` done at open).
    pub fn integrity_check(&self) -> Result<(), StoreError> {
        let mut stmt = self.conn.prepare("PRAGMA integrity_check")?;
        let problems = stmt
            .query_map([], |row| row.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        if problems == ["ok"] {
            Ok(())
        } else {
            Err(StoreError::CorruptFile {
                path: self.path.clone(),
                detail: problems.join("; "),
            })
        }
    }
}

/// An open `BEGIN IMMEDIATE` transaction; table writes happen through its `*_mut()` handles.
pub struct WriteTx<'s> {
    tx: Transaction<'s>,
}

impl fmt::Debug for WriteTx<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteTx").finish_non_exhaustive()
    }
}

impl WriteTx<'_> {
    pub fn commit(self) -> Result<(), StoreError> {
        Ok(self.tx.commit()?)
    }

    pub fn clients(&self) -> Clients<'_> {
        Clients::new(&self.tx)
    }

    pub fn clients_mut(&self) -> ClientsMut<'_> {
        ClientsMut::new(&self.tx)
    }

    pub fn users(&self) -> Users<'_> {
        Users::new(&self.tx)
    }

    pub fn users_mut(&self) -> UsersMut<'_> {
        UsersMut::new(&self.tx)
    }

    pub fn grants(&self) -> Grants<'_> {
        Grants::new(&self.tx)
    }

    pub fn grants_mut(&self) -> GrantsMut<'_> {
        GrantsMut::new(&self.tx)
    }

    pub fn exchanges(&self) -> Exchanges<'_> {
        Exchanges::new(&self.tx)
    }

    pub fn exchanges_mut(&self) -> ExchangesMut<'_> {
        ExchangesMut::new(&self.tx)
    }

    pub fn audit(&self) -> Audit<'_> {
        Audit::new(&self.tx)
    }

    pub fn audit_mut(&self) -> AuditMut<'_> {
        AuditMut::new(&self.tx)
    }

    pub fn keys(&self) -> Keys<'_> {
        Keys::new(&self.tx)
    }

    pub fn keys_mut(&self) -> KeysMut<'_> {
        KeysMut::new(&self.tx)
    }

    pub fn http_log_mut(&self) -> HttpLogMut<'_> {
        HttpLogMut::new(&self.tx)
    }

    pub fn legacy_mut(&self) -> legacy::LegacyMut<'_> {
        legacy::LegacyMut::new(&self.tx)
    }
}

/// The file holds people's emails and names: readable by its owner only. SQLite gives the
/// -wal and -shm files the same mode.
#[cfg(unix)]
fn restrict_to_owner(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(|err| {
        StoreError::Invalid {
            field: "database file permissions",
            reason: format!("cannot restrict {} to its owner: {err}", path.display()),
        }
    })
}

#[cfg(not(unix))]
fn restrict_to_owner(_path: &Path) -> Result<(), StoreError> {
    // Windows: the per-user profile folder's ACL already restricts it.
    Ok(())
}

enum QuickCheck {
    Sqlite(rusqlite::Error),
    Problems(String),
}

fn quick_check(conn: &Connection) -> Result<(), QuickCheck> {
    let mut stmt = conn
        .prepare("PRAGMA quick_check")
        .map_err(QuickCheck::Sqlite)?;
    let rows = stmt
        .query_map([], |row| row.get::<_, String>(0))
        .map_err(QuickCheck::Sqlite)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(QuickCheck::Sqlite)?;
    if rows == ["ok"] {
        Ok(())
    } else {
        Err(QuickCheck::Problems(
            rows.into_iter().take(5).collect::<Vec<_>>().join("; "),
        ))
    }
}

/// Reads the header and schema only: what every open does anyway, as a cheap first check.
fn read_schema(conn: &Connection) -> Result<(), QuickCheck> {
    conn.query_row("SELECT count(*) FROM sqlite_schema", [], |row| {
        row.get::<_, i64>(0)
    })
    .map(|_| ())
    .map_err(QuickCheck::Sqlite)
}

fn open_error(path: &Path, err: rusqlite::Error) -> StoreError {
    match err.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => StoreError::NotADatabase {
            path: path.to_path_buf(),
            detail: err.to_string(),
        },
        Some(ErrorCode::DatabaseCorrupt) => StoreError::CorruptFile {
            path: path.to_path_buf(),
            detail: err.to_string(),
        },
        _ => match StoreError::from(err) {
            StoreError::Sqlite(source) => StoreError::Open {
                path: path.to_path_buf(),
                source,
            },
            other => other,
        },
    }
}

/// Lowercase hex, for digests and uids.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}

/// Bytes from lowercase (or uppercase) hex; `None` if it is not hex of whole bytes.
pub(crate) fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// A random uid like `g_9f86d081884c7d659a2feaa0c55ad015`: known before the row exists (its
/// secrets are sealed for it first), and never the same in two stores.
pub(crate) fn random_uid(prefix: &str) -> Result<String, StoreError> {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| StoreError::Invalid {
        field: "uid",
        reason: "the system random generator failed".into(),
    })?;
    Ok(format!("{prefix}_{}", hex(&bytes)))
}

/// Reads an enum stored as TEXT; unknown text is a conversion error, not a panic.
pub(crate) fn parse_text<T>(
    value: ValueRef<'_>,
    parse: impl FnOnce(&str) -> Option<T>,
) -> FromSqlResult<T> {
    let text = value.as_str()?;
    parse(text).ok_or_else(|| FromSqlError::Other(format!("unexpected value {text:?}").into()))
}

/// Reads a JSON column.
pub(crate) fn json_column(
    row: &rusqlite::Row<'_>,
    idx: usize,
) -> rusqlite::Result<serde_json::Value> {
    let text: String = row.get(idx)?;
    serde_json::from_str(&text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, e.into())
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn migration_versions_are_unique_and_contiguous() {
        let versions: Vec<u32> = migrations().iter().map(|m| m.version).collect();
        let expected: Vec<u32> = (1..=versions.len() as u32).collect();
        assert_eq!(
            versions, expected,
            "user_version is a counter: a gap or duplicate would skip or repeat a migration"
        );
    }

    #[test]
    fn timestamps_serialize_as_rfc3339() {
        let t = Timestamp::from_unix(1_700_000_000);
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            "\"2023-11-14T22:13:20Z\"",
            "the UI and --json show RFC 3339, SQLite keeps seconds"
        );
    }

    #[test]
    fn hex_is_lowercase() {
        assert_eq!(hex(&[0x00, 0xab, 0xff]), "00abff");
    }
}
