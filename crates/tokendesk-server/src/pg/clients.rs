//! `clients`: OAuth clients imported from client_secret.json, the secret sealed in the row.

use deadpool_postgres::GenericClient;
use tokendesk_core::seal::SealedSecret;
use tokendesk_core::store::{Client, ClientUid, NewClient, StoreError, Timestamp};
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;

use super::error::{Error, Result};
use super::{execute, found, query, query_opt, sealed_opt, timestamp};

const COLUMNS: &str = "uid, name, client_id, issuer, endpoints, ios_client_ids, \
                       foreign_endpoints, secret_sealed, created_at";

fn from_row(row: &Row) -> Result<Client> {
    Ok(Client {
        uid: ClientUid::parse(row.try_get(0)?)?,
        name: row.try_get(1)?,
        client_id: row.try_get(2)?,
        issuer: row.try_get(3)?,
        endpoints: row.try_get(4)?,
        ios_client_ids: row.try_get(5)?,
        foreign_endpoints: row.try_get(6)?,
        secret_sealed: sealed_opt(row, 7)?,
        created_at: timestamp(row, 8)?,
    })
}

/// All clients by name.
pub(super) async fn list(client: &impl GenericClient) -> Result<Vec<Client>> {
    query(
        client,
        &format!("SELECT {COLUMNS} FROM clients ORDER BY name"),
        &[],
    )
    .await?
    .iter()
    .map(from_row)
    .collect()
}

pub(super) async fn get(client: &impl GenericClient, uid: &ClientUid) -> Result<Option<Client>> {
    query_opt(
        client,
        &format!("SELECT {COLUMNS} FROM clients WHERE uid = $1"),
        &[&uid.as_str()],
    )
    .await?
    .as_ref()
    .map(from_row)
    .transpose()
}

pub(super) async fn by_name(client: &impl GenericClient, name: &str) -> Result<Option<Client>> {
    query_opt(
        client,
        &format!("SELECT {COLUMNS} FROM clients WHERE name = $1"),
        &[&name],
    )
    .await?
    .as_ref()
    .map(from_row)
    .transpose()
}

/// Inserts the row under a uid chosen beforehand, with its secret sealed for that uid.
pub(super) async fn insert(
    client: &impl GenericClient,
    uid: &ClientUid,
    new: &NewClient,
    secret: &SealedSecret,
    now: Timestamp,
) -> Result<()> {
    if new.name.trim().is_empty() {
        return Err(StoreError::Invalid {
            field: "client name",
            reason: "must not be empty".into(),
        }
        .into());
    }
    let inserted = execute(
        client,
        "INSERT INTO clients (uid, name, client_id, issuer, endpoints, ios_client_ids,
                              foreign_endpoints, secret_sealed, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        &[
            &uid.as_str(),
            &new.name,
            &new.client_id,
            &new.issuer,
            &new.endpoints,
            &new.ios_client_ids,
            &new.foreign_endpoints,
            &secret.as_bytes(),
            &now.unix(),
        ],
    )
    .await;
    match inserted {
        Err(err) if err.sql_state() == Some(&SqlState::UNIQUE_VIOLATION) => {
            Err(StoreError::ClientNameTaken {
                name: new.name.clone(),
            }
            .into())
        }
        other => other.map(drop),
    }
}

/// Refused while grants use the client (exchanges only lose their reference to it).
pub(super) async fn remove(client: &impl GenericClient, uid: &ClientUid) -> Result<()> {
    match execute(
        client,
        "DELETE FROM clients WHERE uid = $1",
        &[&uid.as_str()],
    )
    .await
    {
        Ok(n) => found(n, || format!("client {uid}")),
        Err(err) if err.sql_state() == Some(&SqlState::FOREIGN_KEY_VIOLATION) => {
            Err(Error::Store(StoreError::InUse {
                what: format!("client {uid}"),
                detail: "grants refer to it".into(),
            }))
        }
        Err(err) => Err(err),
    }
}
