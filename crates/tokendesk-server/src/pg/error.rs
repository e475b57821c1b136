//! What PostgreSQL's failures mean to the facade: a database that is down, restarting or out
//! of connections is [`StoreError::Unavailable`] (retried on the next request); a lock or
//! serialization conflict is `Busy`; anything else the server refused is `Database`, named by
//! its message and SQLSTATE, never by the row's values.

use deadpool_postgres::PoolError;
use tokendesk_core::store::StoreError;
use tokio_postgres::error::SqlState;

/// A failure inside one storage call; becomes a [`StoreError`] at the trait's edge.
#[derive(Debug)]
pub(crate) enum Error {
    Pg(tokio_postgres::Error),
    Pool(PoolError),
    Store(StoreError),
}

pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

impl From<tokio_postgres::Error> for Error {
    fn from(err: tokio_postgres::Error) -> Self {
        Error::Pg(err)
    }
}

impl From<PoolError> for Error {
    fn from(err: PoolError) -> Self {
        Error::Pool(err)
    }
}

impl From<StoreError> for Error {
    fn from(err: StoreError) -> Self {
        Error::Store(err)
    }
}

impl From<serde_json::Error> for Error {
    fn from(err: serde_json::Error) -> Self {
        Error::Store(StoreError::Json(err))
    }
}

impl From<Error> for StoreError {
    fn from(err: Error) -> Self {
        match err {
            Error::Store(err) => err,
            Error::Pg(err) => from_pg(&err),
            Error::Pool(err) => from_pool(err),
        }
    }
}

impl Error {
    /// The SQLSTATE of a statement the server refused.
    pub(crate) fn sql_state(&self) -> Option<&SqlState> {
        match self {
            Error::Pg(err) => err.code(),
            _ => None,
        }
    }
}

/// A statement's failure.
pub(crate) fn from_pg(err: &tokio_postgres::Error) -> StoreError {
    let Some(db) = err.as_db_error() else {
        let detail = describe(err);
        // What the client did wrong (a value that did not convert, a row that was not there)
        // is a bug of ours, not an outage; everything else is the connection failing.
        const OURS: &[&str] = &[
            "error serializing",
            "error deserializing",
            "invalid column",
            "query returned an unexpected number",
            "expected ",
            "invalid connection string",
            "invalid configuration",
        ];
        return if OURS.iter().any(|ours| detail.starts_with(ours)) {
            StoreError::Database { detail }
        } else {
            StoreError::Unavailable {
                detail: format!("the connection to PostgreSQL failed: {detail}"),
            }
        };
    };
    // The message names constraints and relations; the DETAIL (row values) is left out.
    let detail = format!("{} (SQLSTATE {})", db.message(), db.code().code());
    let code = db.code();
    if code.code().starts_with("08")
        || [
            &SqlState::ADMIN_SHUTDOWN,
            &SqlState::CRASH_SHUTDOWN,
            &SqlState::CANNOT_CONNECT_NOW,
            &SqlState::TOO_MANY_CONNECTIONS,
            &SqlState::IDLE_IN_TRANSACTION_SESSION_TIMEOUT,
        ]
        .contains(&code)
    {
        StoreError::Unavailable { detail }
    } else if code == &SqlState::QUERY_CANCELED {
        StoreError::Unavailable {
            detail: format!("a statement ran past statement_timeout: {detail}"),
        }
    } else if [
        &SqlState::LOCK_NOT_AVAILABLE,
        &SqlState::T_R_SERIALIZATION_FAILURE,
        &SqlState::T_R_DEADLOCK_DETECTED,
    ]
    .contains(&code)
    {
        StoreError::Busy
    } else if code == &SqlState::DISK_FULL {
        StoreError::Full
    } else if code == &SqlState::READ_ONLY_SQL_TRANSACTION {
        StoreError::ReadOnly
    } else {
        StoreError::Database { detail }
    }
}

/// The error and its causes ("error connecting to server: Connection refused"): the
/// client's own messages name no values.
fn describe(err: &tokio_postgres::Error) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

/// No connection to run on: the pool could not make one (the database is down, refuses us,
/// or has no connection left) or none came free in time.
fn from_pool(err: PoolError) -> StoreError {
    let detail = match err {
        PoolError::Timeout(kind) => format!("no database connection came free in time ({kind:?})"),
        PoolError::Backend(err) => match err.as_db_error() {
            Some(db) => format!(
                "PostgreSQL refused the connection: {} (SQLSTATE {})",
                db.message(),
                db.code().code()
            ),
            None => format!("cannot connect to PostgreSQL: {}", describe(&err)),
        },
        other => format!("the connection pool failed: {other}"),
    };
    StoreError::Unavailable { detail }
}
