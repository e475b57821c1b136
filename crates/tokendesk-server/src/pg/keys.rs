//! `meta` and `data_keys`: the database's id (made by its migration) and its data keys, each
//! wrapped by a key-encryption key kept outside the database.

use deadpool_postgres::GenericClient;
use tokendesk_core::seal::{DataKeyId, WrappedDataKey};
use tokendesk_core::store::{StoreError, Timestamp};

use super::error::{Error, Result};
use super::{execute, query, query_one};

pub(super) async fn store_id(client: &impl GenericClient) -> Result<String> {
    Ok(
        query_one(client, "SELECT value FROM meta WHERE key = 'store_id'", &[])
            .await?
            .try_get(0)?,
    )
}

/// Every wrap, oldest data key first.
pub(super) async fn all(client: &impl GenericClient) -> Result<Vec<WrappedDataKey>> {
    query(
        client,
        "SELECT data_key, kek_id, wrapped FROM data_keys ORDER BY created_at, seq",
        &[],
    )
    .await?
    .iter()
    .map(|row| {
        let hex: &str = row.try_get(0)?;
        let data_key = DataKeyId::parse_hex(hex).ok_or_else(|| {
            Error::Store(StoreError::Database {
                detail: format!("{hex:?} in data_keys is not a data key id"),
            })
        })?;
        Ok(WrappedDataKey {
            data_key,
            kek_id: row.try_get(1)?,
            wrapped: row.try_get(2)?,
        })
    })
    .collect()
}

/// Makes the rest of the transaction the only writer of data keys: two replicas creating the
/// first data key at once must not both succeed.
pub(super) async fn lock(client: &impl GenericClient) -> Result<()> {
    execute(
        client,
        "LOCK TABLE data_keys IN SHARE ROW EXCLUSIVE MODE",
        &[],
    )
    .await
    .map(drop)
}

pub(super) async fn insert(
    client: &impl GenericClient,
    wrap: &WrappedDataKey,
    now: Timestamp,
) -> Result<()> {
    execute(
        client,
        "INSERT INTO data_keys (data_key, kek_id, wrapped, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (data_key, kek_id) DO UPDATE SET wrapped = EXCLUDED.wrapped",
        &[
            &wrap.data_key.to_hex(),
            &wrap.kek_id,
            &wrap.wrapped,
            &now.unix(),
        ],
    )
    .await
    .map(drop)
}

/// Deletes every wrap made by another key than `kek_id` (the end of a rotation).
pub(super) async fn retire_others(client: &impl GenericClient, kek_id: &str) -> Result<()> {
    execute(
        client,
        "DELETE FROM data_keys WHERE kek_id <> $1",
        &[&kek_id],
    )
    .await
    .map(drop)
}
