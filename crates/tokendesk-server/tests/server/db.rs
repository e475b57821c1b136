//! A test database on the cluster `scripts/pg start` runs: shared by the server's tests and
//! the command line's (which include this file by path).

use std::sync::atomic::{AtomicU32, Ordering};

use tokendesk_server::{PgOptions, PgStorage};
use tokio_postgres::NoTls;

/// The cluster's superuser URL, from `scripts/pg start`.
pub fn admin_url() -> String {
    std::env::var("TOKENDESK_TEST_DATABASE_URL").unwrap_or_else(|_| {
        panic!(
            "TOKENDESK_TEST_DATABASE_URL is not set: these tests need a PostgreSQL cluster. Run \
             them through ./scripts/test, or: eval \"$(scripts/pg start /tmp/pg)\"; cargo test \
             -p tokendesk-server; scripts/pg stop /tmp/pg"
        )
    })
}

/// A connection as the cluster's superuser to `database`.
pub async fn admin(database: &str) -> tokio_postgres::Client {
    let mut config: tokio_postgres::Config = admin_url().parse().expect("a postgres:// URL");
    config.dbname(database);
    let (client, connection) = config
        .connect(NoTls)
        .await
        .expect("the test cluster answers");
    tokio::spawn(connection);
    client
}

/// A database of its own, owned by a role of its own (not a superuser: as a team server's
/// role would be), dropped with the role at the end of the test.
#[derive(Debug)]
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    pub async fn create() -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "td_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let client = admin("postgres").await;
        // One statement each: CREATE DATABASE runs outside any transaction.
        for statement in [
            format!("CREATE ROLE {name} LOGIN"),
            format!("CREATE DATABASE {name} OWNER {name}"),
        ] {
            client
                .batch_execute(&statement)
                .await
                .expect("create the test database");
        }
        let config: tokio_postgres::Config = admin_url().parse().expect("a postgres:// URL");
        let host = match &config.get_hosts()[0] {
            tokio_postgres::config::Host::Tcp(host) => host.clone(),
            tokio_postgres::config::Host::Unix(dir) => dir.display().to_string(),
        };
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let url = format!("postgres://{name}@{host}:{port}/{name}");
        TestDb { name, url }
    }

    pub async fn storage(&self) -> PgStorage {
        PgStorage::connect(&self.url, &PgOptions::default())
            .await
            .expect("connect and migrate")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs outside async: a runtime of its own on a thread of its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async {
                let client = admin("postgres").await;
                client
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await?;
                client
                    .batch_execute(&format!("DROP ROLE IF EXISTS {name}"))
                    .await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!(
                "could not drop the test database {}: {dropped:?}",
                self.name
            );
        }
    }
}
