//! `audit`: append-only (a trigger refuses UPDATE, DELETE and TRUNCATE), each entry committed
//! with the change it records; read newest first with the email and sub of the user it names.

use deadpool_postgres::GenericClient;
use tokendesk_core::store::{
    AuditAction, AuditEntry, AuditFilter, AuditOutcome, NewAuditEntry, Timestamp, UserId,
};
use tokio_postgres::Row;

use super::error::Result;
use super::{bigint, execute, parsed, query, timestamp};

fn from_row(row: &Row) -> Result<AuditEntry> {
    Ok(AuditEntry {
        id: row.try_get(0)?,
        at: timestamp(row, 1)?,
        os_user: row.try_get(2)?,
        action: parsed(row, 3, AuditAction::parse)?,
        user_id: row.try_get::<_, Option<i64>>(4)?.map(UserId),
        outcome: parsed(row, 5, AuditOutcome::parse)?,
        detail: row.try_get(6)?,
        user_email: row.try_get(7)?,
        user_sub: row.try_get(8)?,
    })
}

pub(super) async fn record(
    client: &impl GenericClient,
    entry: &NewAuditEntry,
    now: Timestamp,
) -> Result<()> {
    execute(
        client,
        "INSERT INTO audit (at, os_user, action, user_id, outcome, detail)
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            &now.unix(),
            &entry.os_user,
            &entry.action.as_str(),
            &entry.user_id.map(|u| u.0),
            &entry.outcome.as_str(),
            &entry.detail,
        ],
    )
    .await
    .map(drop)
}

/// The entries `filter` selects, newest first. `text` is found (without regard to case) in
/// who acted, the detail or the user's email, or is the user's sub exactly.
pub(super) async fn filtered(
    client: &impl GenericClient,
    filter: &AuditFilter,
) -> Result<Vec<AuditEntry>> {
    let text = filter
        .text
        .as_deref()
        .map(|t| t.trim().to_lowercase())
        .filter(|t| !t.is_empty());
    let rows = query(
        client,
        "SELECT a.id, a.at, a.os_user, a.action, a.user_id, a.outcome, a.detail, u.email, u.sub
         FROM audit a LEFT JOIN users u ON u.id = a.user_id
         WHERE ($1::bigint IS NULL OR a.user_id = $1) AND ($2::text IS NULL OR a.action = $2)
           AND ($3::text IS NULL OR a.outcome = $3) AND ($4::bigint IS NULL OR a.at >= $4)
           AND ($6::text IS NULL OR strpos(lower(a.os_user), $6) > 0
                OR strpos(lower(coalesce(a.detail, '')), $6) > 0
                OR strpos(coalesce(u.email_lc, ''), $6) > 0 OR u.sub = $6)
         ORDER BY a.at DESC, a.id DESC LIMIT $5",
        &[
            &filter.user.map(|u| u.0),
            &filter.action.map(AuditAction::as_str),
            &filter.outcome.map(AuditOutcome::as_str),
            &filter.since.map(Timestamp::unix),
            &bigint(filter.limit),
            &text,
        ],
    )
    .await?;
    rows.iter().map(from_row).collect()
}
