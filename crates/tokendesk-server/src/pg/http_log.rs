//! `http_log`: each user's recent operations as HTTP (masked before they get here), the
//! newest [`tokendesk_core::store::HTTP_LOG_KEEP`] per user.

use deadpool_postgres::GenericClient;
use tokendesk_core::store::{
    AuditAction, AuditOutcome, HttpLogEntry, NewHttpLogEntry, Timestamp, UserId, parse_exchanges,
};
use tokio_postgres::Row;

use super::error::Result;
use super::{bigint, execute, parsed, query, timestamp};

const SELECT: &str = "SELECT id, at, actor, client, action, outcome, exchanges::text FROM http_log";

fn from_row(row: &Row) -> Result<HttpLogEntry> {
    let text: String = row.try_get(6)?;
    let exchanges = parse_exchanges(&text)?;
    Ok(HttpLogEntry {
        id: row.try_get(0)?,
        at: timestamp(row, 1)?,
        actor: row.try_get(2)?,
        client: row.try_get(3)?,
        action: parsed(row, 4, AuditAction::parse)?,
        outcome: parsed(row, 5, AuditOutcome::parse)?,
        exchanges,
    })
}

/// Appends the operation and deletes the user's older ones beyond the newest `keep`, in the
/// caller's transaction.
pub(super) async fn keep(
    client: &impl GenericClient,
    entry: &NewHttpLogEntry,
    keep: usize,
    now: Timestamp,
) -> Result<()> {
    let exchanges = entry.exchanges_json()?;
    execute(
        client,
        "INSERT INTO http_log (user_id, at, actor, client, action, outcome, exchanges)
         VALUES ($1, $2, $3, $4, $5, $6, $7::text::jsonb)",
        &[
            &entry.user_id.0,
            &now.unix(),
            &entry.actor,
            &entry.client,
            &entry.action.as_str(),
            &entry.outcome.as_str(),
            &exchanges,
        ],
    )
    .await?;
    execute(
        client,
        "DELETE FROM http_log WHERE user_id = $1 AND id <= (
             SELECT id FROM http_log WHERE user_id = $1 ORDER BY id DESC OFFSET $2 LIMIT 1)",
        &[&entry.user_id.0, &bigint(keep)],
    )
    .await
    .map(drop)
}

/// The user's operations, newest first.
pub(super) async fn for_user(
    client: &impl GenericClient,
    user: UserId,
    limit: usize,
) -> Result<Vec<HttpLogEntry>> {
    let rows = query(
        client,
        &format!("{SELECT} WHERE user_id = $1 ORDER BY id DESC LIMIT $2"),
        &[&user.0, &bigint(limit)],
    )
    .await?;
    rows.iter().map(from_row).collect()
}

/// One operation of the user's.
pub(super) async fn entry(
    client: &impl GenericClient,
    user: UserId,
    id: i64,
) -> Result<Option<HttpLogEntry>> {
    let rows = query(
        client,
        &format!("{SELECT} WHERE user_id = $1 AND id = $2"),
        &[&user.0, &id],
    )
    .await?;
    rows.first().map(from_row).transpose()
}
