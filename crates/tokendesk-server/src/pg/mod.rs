//! The team server's storage: the facade's [`Storage`] on PostgreSQL, shared by any number of
//! replicas. Every trait method is one transaction on a pooled `tokio-postgres` connection;
//! what spans replicas (a grant's refresh, an exchange's life) is held by session-level
//! advisory locks ([`locks`]). Secrets arrive sealed and are stored as `BYTEA`.
//!
//! Connections: `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE` (or libpq's `key=value`
//! form), without TLS for now. TLS plugs in where the managers are built
//! ([`PgStorage::connect`]): a `tokio_postgres_rustls::MakeRustlsConnect` over a rustls
//! `ClientConfig` (the platform's roots, or the database's CA) in place of `NoTls`, for both
//! pools and for the cancel requests in [`locks`]; `sslmode=require` in the URL then refuses a
//! plaintext connection.
//!
//! Failures: a database that is down, restarting or full of connections is
//! [`StoreError::Unavailable`]; the pool drops the connections a restart broke and opens new
//! ones, so the same `PgStorage` works again once the database is back.

mod audit;
mod clients;
mod error;
mod exchanges;
mod grants;
mod http_log;
mod keys;
mod locks;
mod migrate;
mod runs;
mod staff;
mod storage;
mod users;

use std::fmt;
use std::time::Duration;

use deadpool_postgres::{
    GenericClient, Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime,
};
use tokendesk_core::seal::SealedSecret;
use tokendesk_core::store::{StoreError, Timestamp};
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row};

use error::{Error, Result};
pub use grants::needing_attention_sql;
pub use migrate::schema_version_known;
pub use runs::{OpenRun, RunItem, RunProgress};
pub use staff::{Credential, SessionLife};

/// How to reach and use the database. The defaults suit one replica of a team server.
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// Connections for statements (each call holds one for its transaction).
    pub max_connections: usize,
    /// Connections that hold advisory locks, one per held lock: a refresh or an exchange in
    /// progress on this replica. Kept apart so held locks never starve the statements.
    pub max_lock_connections: usize,
    /// Any statement running longer is cancelled (`statement_timeout`), and the call fails as
    /// `Unavailable` instead of hanging a request.
    pub statement_timeout: Duration,
    /// A statement waiting this long for a row lock fails as `Busy` (`lock_timeout`).
    /// Advisory locks ([`Storage::lock_grant`]) wait without limit, like the embedded
    /// store's file locks.
    pub lock_timeout: Duration,
    /// How long to wait for a new connection, or for a free one from the pool.
    pub connect_timeout: Duration,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            max_connections: 16,
            max_lock_connections: 64,
            statement_timeout: Duration::from_secs(15),
            lock_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// One PostgreSQL database as the facade's [`Storage`]. Cheap to share (`Arc`); every replica
/// of a deployment opens its own on the same database.
#[derive(Clone)]
pub struct PgStorage {
    /// Statements, each call's transaction.
    pool: Pool,
    /// Sessions holding advisory locks.
    lock_pool: Pool,
    /// Where the database is, for a connection of its own ([`PgStorage::listen`]).
    config: tokio_postgres::Config,
    location: String,
}

impl fmt::Debug for PgStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStorage")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

impl PgStorage {
    /// Connects to the database at `url` and migrates it (waiting for another replica that
    /// is migrating it). A database that cannot be reached is `Unavailable`; one a newer
    /// TokenDesk migrated is `TooNew`, and is left unchanged.
    pub async fn connect(url: &str, options: &PgOptions) -> Result<Self, StoreError> {
        let config: tokio_postgres::Config = url.parse().map_err(|e| StoreError::Invalid {
            field: "database URL",
            reason: format!("{e}; expected postgres://USER@HOST:PORT/DATABASE"),
        })?;
        let location = location(&config);
        let ms = |d: Duration| d.as_millis();
        let statements = session_config(
            &config,
            options,
            &format!(
                "-c statement_timeout={} -c lock_timeout={} \
                 -c idle_in_transaction_session_timeout={}",
                ms(options.statement_timeout),
                ms(options.lock_timeout),
                // A transaction left open (a stuck task) releases its row locks.
                ms(options.statement_timeout * 4),
            ),
        );
        // A lock waits as long as its holder holds it; taking or releasing one never waits.
        let locks = session_config(&config, options, "-c statement_timeout=0 -c lock_timeout=0");
        let storage = PgStorage {
            pool: pool(statements, options.max_connections, options, true)?,
            lock_pool: pool(locks, options.max_lock_connections, options, false)?,
            config: config.clone(),
            location,
        };
        let mut conn = storage.conn().await.map_err(StoreError::from)?;
        migrate::migrate(&mut conn, &storage.location)
            .await
            .map_err(StoreError::from)?;
        Ok(storage)
    }

    /// The schema version the database is at.
    pub async fn schema_version(&self) -> Result<u32, StoreError> {
        db(async {
            let conn = self.conn().await?;
            Ok(migrate::schema_version(&conn).await?.unsigned_abs())
        })
        .await
    }

    /// Whether the database answers (`/healthz`).
    pub async fn ping(&self) -> Result<(), StoreError> {
        db(async {
            let conn = self.conn().await?;
            query_one(&conn, "SELECT 1", &[]).await.map(drop)
        })
        .await
    }

    /// The audit entries after `after_id` that are announced live (all but the admin API's
    /// own call records), oldest first, at most `limit`.
    pub async fn audit_after(
        &self,
        after_id: i64,
        limit: usize,
    ) -> Result<Vec<tokendesk_core::store::AuditEntry>, StoreError> {
        db(async {
            let conn = self.conn().await?;
            audit::after(&conn, after_id, limit).await
        })
        .await
    }

    /// The audit entries of these ids (announced live), in the order given.
    pub async fn audit_by_ids(
        &self,
        ids: &[i64],
    ) -> Result<Vec<tokendesk_core::store::AuditEntry>, StoreError> {
        db(async {
            let conn = self.conn().await?;
            audit::by_ids(&conn, ids).await
        })
        .await
    }

    /// The newest audit entry's id (0 when there is none).
    pub async fn audit_last_id(&self) -> Result<i64, StoreError> {
        db(async {
            let conn = self.conn().await?;
            let row = query_one(&conn, "SELECT coalesce(max(id), 0) FROM audit", &[]).await?;
            Ok(row.try_get(0)?)
        })
        .await
    }

    /// A connection of its own (outside the pools) listening on `channel`, and the stream of
    /// the notices it gets; the stream ends when the connection does.
    pub async fn listen(
        &self,
        channel: &str,
    ) -> Result<
        (
            tokio_postgres::Client,
            tokio::sync::mpsc::UnboundedReceiver<tokio_postgres::Notification>,
        ),
        StoreError,
    > {
        db(async {
            let (client, mut connection) = self.config.connect(NoTls).await?;
            let (notices, received) = tokio::sync::mpsc::unbounded_channel();
            tokio::spawn(async move {
                loop {
                    let message = std::future::poll_fn(|cx| connection.poll_message(cx)).await;
                    match message {
                        Some(Ok(tokio_postgres::AsyncMessage::Notification(notice))) => {
                            if notices.send(notice).is_err() {
                                return;
                            }
                        }
                        Some(Ok(_)) => {}
                        Some(Err(_)) | None => return,
                    }
                }
            });
            // The channel is ours: an identifier, quoted.
            client
                .batch_execute(&format!("LISTEN \"{}\"", channel.replace('"', "")))
                .await?;
            Ok((client, received))
        })
        .await
    }

    async fn conn(&self) -> Result<Object> {
        Ok(self.pool.get().await?)
    }
}

/// The URL's connection settings with our session settings added to its own `options`.
fn session_config(
    url_config: &tokio_postgres::Config,
    options: &PgOptions,
    settings: &str,
) -> tokio_postgres::Config {
    let mut config = url_config.clone();
    let own = url_config.get_options().unwrap_or_default();
    config.options(format!("{own} {settings}").trim());
    if url_config.get_application_name().is_none() {
        config.application_name("tokendesk");
    }
    config.connect_timeout(options.connect_timeout);
    config
}

fn pool(
    config: tokio_postgres::Config,
    size: usize,
    options: &PgOptions,
    wait_bounded: bool,
) -> Result<Pool, StoreError> {
    // Fast: a connection the server closed (a restart, a terminated backend) is seen as
    // closed and replaced; one that broke silently fails its next statement as Unavailable
    // and is dropped then.
    let manager = Manager::from_config(
        config,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(size)
        .runtime(Runtime::Tokio1)
        .create_timeout(Some(options.connect_timeout))
        .recycle_timeout(Some(options.connect_timeout))
        // A statement waits for a free connection only so long; a lock waits for a free
        // session as it would wait for the lock.
        .wait_timeout(wait_bounded.then_some(options.connect_timeout))
        .build()
        .map_err(|e| StoreError::Invalid {
            field: "database pool",
            reason: e.to_string(),
        })
}

/// The database for people: `postgres://USER@HOST:PORT/DATABASE`, never the password.
fn location(config: &tokio_postgres::Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .zip(config.get_ports().iter().chain(std::iter::repeat(&5432)))
        .map(|(host, port)| match host {
            tokio_postgres::config::Host::Tcp(name) => format!("{name}:{port}"),
            #[cfg(unix)]
            tokio_postgres::config::Host::Unix(dir) => format!("[{}]:{port}", dir.display()),
        })
        .collect();
    format!(
        "postgres://{}@{}/{}",
        config.get_user().unwrap_or_default(),
        hosts.join(","),
        config.get_dbname().unwrap_or_default()
    )
}

/// Runs one call's work, its failures as the facade's.
async fn db<T>(work: impl Future<Output = Result<T>>) -> Result<T, StoreError> {
    work.await.map_err(StoreError::from)
}

// Statements are prepared once per connection (deadpool's statement cache).

async fn query(
    client: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Row>> {
    let statement = client.prepare_cached(sql).await?;
    Ok(client.query(&statement, params).await?)
}

/// Like [`query`], but planned for these parameters' values each time (not a cached generic
/// plan): where the best plan depends on the values.
async fn query_planned_for(
    client: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Row>> {
    Ok(client.query(sql, params).await?)
}

async fn query_opt(
    client: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Option<Row>> {
    let statement = client.prepare_cached(sql).await?;
    Ok(client.query_opt(&statement, params).await?)
}

async fn query_one(
    client: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Row> {
    let statement = client.prepare_cached(sql).await?;
    Ok(client.query_one(&statement, params).await?)
}

async fn execute(
    client: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<u64> {
    let statement = client.prepare_cached(sql).await?;
    Ok(client.execute(&statement, params).await?)
}

/// `NotFound` when a write changed no row.
fn found(changed: u64, what: impl FnOnce() -> String) -> Result<()> {
    if changed == 0 {
        Err(Error::Store(StoreError::NotFound { what: what() }))
    } else {
        Ok(())
    }
}

/// A count or limit as PostgreSQL's BIGINT.
fn bigint(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

// Reading rows: timestamps are BIGINT seconds, sealed secrets BYTEA, enums TEXT.

fn timestamp(row: &Row, idx: usize) -> Result<Timestamp> {
    Ok(Timestamp::from_unix(row.try_get(idx)?))
}

fn timestamp_opt(row: &Row, idx: usize) -> Result<Option<Timestamp>> {
    Ok(row
        .try_get::<_, Option<i64>>(idx)?
        .map(Timestamp::from_unix))
}

fn sealed_opt(row: &Row, idx: usize) -> Result<Option<SealedSecret>> {
    Ok(row
        .try_get::<_, Option<Vec<u8>>>(idx)?
        .map(SealedSecret::from_bytes))
}

/// A TEXT column holding one of an enum's names.
fn parsed<T>(row: &Row, idx: usize, parse: impl FnOnce(&str) -> Option<T>) -> Result<T> {
    let text: &str = row.try_get(idx)?;
    parse(text).ok_or_else(|| {
        Error::Store(StoreError::Database {
            detail: format!(
                "unexpected value {text:?} in column {}",
                row.columns()[idx].name()
            ),
        })
    })
}
