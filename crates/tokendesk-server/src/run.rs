//! One replica of the team server (`tokendesk server run`): the facade over PostgreSQL with
//! the key from a key file, the seed's receiver on one listener and the admin API on
//! another. Any number of replicas may run on one database.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::events::Events;
use tokendesk_core::desk::{Desk, DeskError, DeskOptions, KeySource, ReceiverSink};
use tokendesk_core::listener::{self, ListenConfig, ListenError, Serving, TlsFiles};
use tokendesk_core::receiver::{self, Receiver, ReceiverConfig};
use tokendesk_core::seal::{KeyWrapper, LocalKey, SealError};
use tokendesk_core::storage::Storage;
use tokio_util::task::TaskTracker;

use crate::api::{self, ApiState};
use crate::pg::{PgOptions, PgStorage, SessionLife};
use crate::spread::Spread;
use crate::staff::{StaffConfig, StaffProvider};

/// How long a stopping replica waits for exchanges in flight (they finish, or are left for
/// the next start's recovery).
const DRAIN: Duration = Duration::from_secs(30);

/// Everything `server run` is told.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub database: String,
    pub key_file: PathBuf,
    pub receiver_listen: SocketAddr,
    pub admin_listen: SocketAddr,
    /// The certificate both listeners serve (required off loopback).
    pub tls: Option<TlsFiles>,
    pub allow_non_loopback: bool,
    /// Public host names the receiver accepts in `Host` (behind a proxy, or a DNS name).
    pub allowed_hosts: Vec<String>,
    /// The OAuth client codes received are exchanged with (the only one if `None`).
    pub client: Option<String>,
    pub staff: Option<StaffConfig>,
    pub life: SessionLife,
    pub pg: PgOptions,
    pub desk: DeskOptions,
    /// This replica's name in shared work (refresh-all claims); default: host and process id.
    pub replica: Option<String>,
}

impl ServerConfig {
    /// A replica of the database at `database` with the key in `key_file`, on loopback (the
    /// receiver on 127.0.0.1:8400, the admin API on 127.0.0.1:8443), without TLS or staff
    /// sign-in: set the fields that differ.
    pub fn new(database: impl Into<String>, key_file: impl Into<PathBuf>) -> Self {
        Self {
            database: database.into(),
            key_file: key_file.into(),
            receiver_listen: SocketAddr::from(([127, 0, 0, 1], 8400)),
            admin_listen: SocketAddr::from(([127, 0, 0, 1], 8443)),
            tls: None,
            allow_non_loopback: false,
            allowed_hosts: Vec::new(),
            client: None,
            staff: None,
            life: SessionLife::default(),
            pg: PgOptions::default(),
            desk: DeskOptions::new(std::env::temp_dir()),
            replica: None,
        }
    }
}

/// Why a replica did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Desk(#[from] DeskError),
    #[error("the key file {path}: {source}")]
    Key { path: PathBuf, source: SealError },
    #[error(transparent)]
    Listen(#[from] ListenError),
}

/// A replica running; [`Server::stop`] stops it cleanly.
#[derive(Debug)]
pub struct Server {
    receiver: Receiver,
    admin: Serving,
    sink: Arc<ReceiverSink>,
    helping: tokio::task::JoinHandle<()>,
    /// The live events' listener (`GET /api/v1/events`).
    listening: tokio::task::JoinHandle<()>,
    /// The admin API's operations under way (they outlive a caller who hangs up).
    work: TaskTracker,
    desk: Arc<Desk>,
}

/// Opens the database with the key and checks that the key is the one that sealed it.
pub async fn open_desk(
    database: &str,
    key_file: &std::path::Path,
    pg: &PgOptions,
    options: &DeskOptions,
    actor: Option<String>,
) -> Result<(PgStorage, Arc<Desk>), StartError> {
    let key = LocalKey::read_file(key_file).map_err(|source| StartError::Key {
        path: key_file.to_owned(),
        source,
    })?;
    let storage = PgStorage::connect(database, pg)
        .await
        .map_err(DeskError::from)?;
    let kek: Arc<dyn KeyWrapper> = Arc::new(key);
    let desk = Desk::with_storage(
        Arc::new(storage.clone()) as Arc<dyn Storage>,
        KeySource::Given(kek),
        options,
    )
    .await?;
    // A replica with another key would seal new secrets that no other replica can read:
    // it refuses to start instead.
    desk.unlock().await?;
    let desk = match actor {
        Some(actor) => desk.with_actor(actor),
        None => desk,
    };
    Ok((storage, Arc::new(desk)))
}

impl Server {
    pub async fn start(config: ServerConfig) -> Result<Self, StartError> {
        let replica = config.replica.clone().unwrap_or_else(|| {
            format!(
                "{}:{}",
                std::env::var("HOSTNAME").unwrap_or_else(|_| "replica".to_owned()),
                std::process::id()
            )
        });
        // What the replica does on its own (a sign-in reaching its receiver, a deferred one
        // finished) is audited under its name, not the service account's.
        let (pg, desk) = open_desk(
            &config.database,
            &config.key_file,
            &config.pg,
            &config.desk,
            Some(format!("replica:{replica}")),
        )
        .await?;
        let staff = match config.staff.clone() {
            Some(staff) => Some(Arc::new(StaffProvider::connect(&desk, staff).await?)),
            None => None,
        };
        let spread = Arc::new(Spread::new(Arc::clone(&desk), pg.clone(), replica));
        let helping = spread.start_helping();
        let (events, listening) = Events::start(pg.clone()).await.map_err(DeskError::from)?;
        let sink = Arc::new(ReceiverSink::new(Arc::clone(&desk), config.client.clone()));
        let receiver = receiver::start(
            ReceiverConfig {
                listen: config.receiver_listen,
                tls: config.tls.clone(),
                allow_non_loopback: config.allow_non_loopback,
                allowed_hosts: config.allowed_hosts.clone(),
            },
            Arc::clone(&sink) as _,
        )
        .await?;
        let bound = listener::bind(&ListenConfig {
            listen: config.admin_listen,
            tls: config.tls.clone(),
            allow_non_loopback: config.allow_non_loopback,
            what: "the admin API",
        })
        .await?;
        let work = TaskTracker::new();
        let admin = bound.serve(api::router(ApiState {
            desk: Arc::clone(&desk),
            pg,
            staff,
            life: config.life,
            spread,
            events,
            work: work.clone(),
        }));
        tracing::info!(
            receiver = %receiver.url(),
            admin = %admin.origin(),
            "team server replica started"
        );
        Ok(Self {
            receiver,
            admin,
            sink,
            helping,
            listening,
            work,
            desk,
        })
    }

    /// `http(s)://ADDR/auth/code`.
    pub fn receiver_url(&self) -> String {
        self.receiver.url()
    }

    /// `http(s)://ADDR` of the admin API.
    pub fn admin_url(&self) -> String {
        self.admin.origin()
    }

    pub fn desk(&self) -> &Arc<Desk> {
        &self.desk
    }

    /// Stops taking requests, then waits (boundedly) for the exchanges in flight.
    pub async fn stop(self) {
        self.receiver.stop();
        self.admin.stop();
        self.helping.abort();
        self.listening.abort();
        let left = self.sink.drain(DRAIN).await;
        if left > 0 {
            tracing::warn!(
                left,
                "stopped with exchanges in flight; the next start recovers them"
            );
        }
        self.work.close();
        if tokio::time::timeout(DRAIN, self.work.wait()).await.is_err() {
            tracing::warn!(
                left = self.work.len(),
                "stopped with admin API operations in flight; the next start recovers exchanges"
            );
        }
    }
}
