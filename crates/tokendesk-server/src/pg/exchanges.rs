//! `exchanges`: every authorization code seen, by its SHA-256, so a code is exchanged once by
//! whichever replica claims it first; the redacted request and response, and the outcome.

use deadpool_postgres::GenericClient;
use tokendesk_core::seal::SealedSecret;
use tokendesk_core::store::{
    Claim, ClientUid, CodeHash, Exchange, ExchangeFinish, ExchangeId, ExchangeOutcome, GrantUid,
    StoreError, Timestamp, UserId, redact_json,
};
use tokio_postgres::Row;

use super::error::Result;
use super::{execute, found, parsed, query, query_opt, sealed_opt, timestamp, timestamp_opt};

const COLUMNS: &str = "id, code_sha256, client_uid, outcome, error_code, request, response, \
                       user_id, grant_uid, created_at, finished_at, response_sealed";

fn from_row(row: &Row) -> Result<Exchange> {
    Ok(Exchange {
        id: ExchangeId(row.try_get(0)?),
        code_sha256: row.try_get(1)?,
        client: row
            .try_get::<_, Option<&str>>(2)?
            .map(ClientUid::parse)
            .transpose()?,
        outcome: parsed(row, 3, ExchangeOutcome::parse)?,
        error_code: row.try_get(4)?,
        request: row.try_get(5)?,
        response: row.try_get(6)?,
        user_id: row.try_get::<_, Option<i64>>(7)?.map(UserId),
        grant: row
            .try_get::<_, Option<&str>>(8)?
            .map(GrantUid::parse)
            .transpose()?,
        created_at: timestamp(row, 9)?,
        finished_at: timestamp_opt(row, 10)?,
        response_sealed: sealed_opt(row, 11)?,
    })
}

pub(super) async fn get(client: &impl GenericClient, id: ExchangeId) -> Result<Option<Exchange>> {
    query_opt(
        client,
        &format!("SELECT {COLUMNS} FROM exchanges WHERE id = $1"),
        &[&id.0],
    )
    .await?
    .as_ref()
    .map(from_row)
    .transpose()
}

/// Exchanges claimed and never finished: live on some replica, or interrupted.
pub(super) async fn pending(client: &impl GenericClient) -> Result<Vec<Exchange>> {
    query(
        client,
        &format!("SELECT {COLUMNS} FROM exchanges WHERE outcome = 'pending' ORDER BY id"),
        &[],
    )
    .await?
    .iter()
    .map(from_row)
    .collect()
}

/// Records `code` as seen, or reports that it was: of two replicas inserting one code, the
/// second waits for the first to commit, inserts nothing, and reads the first one's row. If
/// that row was released meanwhile (its code never reached the provider), the claim is
/// tried again.
pub(super) async fn claim(
    client: &impl GenericClient,
    code: CodeHash,
    client_uid: &ClientUid,
    now: Timestamp,
) -> Result<Claim> {
    let hash = code.to_hex();
    for _ in 0..3 {
        let inserted = query_opt(
            client,
            "INSERT INTO exchanges (code_sha256, client_uid, outcome, created_at)
             VALUES ($1, $2, 'pending', $3)
             ON CONFLICT (code_sha256) DO NOTHING
             RETURNING id",
            &[&hash, &client_uid.as_str(), &now.unix()],
        )
        .await?;
        if let Some(row) = inserted {
            return Ok(Claim::New(ExchangeId(row.try_get(0)?)));
        }
        let seen = query_opt(
            client,
            &format!("SELECT {COLUMNS} FROM exchanges WHERE code_sha256 = $1"),
            &[&hash],
        )
        .await?;
        if let Some(seen) = seen {
            return Ok(Claim::Seen(Box::new(from_row(&seen)?)));
        }
    }
    // Claimed and released over and over by others: let the caller retry later.
    Err(StoreError::Busy.into())
}

/// Keeps the provider's answer, sealed, with the exchange.
pub(super) async fn keep_response(
    client: &impl GenericClient,
    id: ExchangeId,
    sealed: &SealedSecret,
) -> Result<()> {
    let n = execute(
        client,
        "UPDATE exchanges SET response_sealed = $2 WHERE id = $1",
        &[&id.0, &sealed.as_bytes()],
    )
    .await?;
    found(n, || format!("exchange {}", id.0))
}

/// Forgets a claim whose code never reached the provider, so the code can be sent again.
pub(super) async fn release(client: &impl GenericClient, id: ExchangeId) -> Result<()> {
    let n = execute(
        client,
        "DELETE FROM exchanges WHERE id = $1 AND outcome = 'pending'",
        &[&id.0],
    )
    .await?;
    found(n, || format!("pending exchange {}", id.0))
}

/// Records the outcome and drops the kept answer; request and response are redacted again
/// before storing.
pub(super) async fn finish(
    client: &impl GenericClient,
    id: ExchangeId,
    finish: &ExchangeFinish,
    now: Timestamp,
) -> Result<()> {
    let n = execute(
        client,
        "UPDATE exchanges SET outcome = $2, error_code = $3, request = $4, response = $5,
                              user_id = $6, grant_uid = $7, finished_at = $8,
                              response_sealed = NULL
         WHERE id = $1",
        &[
            &id.0,
            &finish.outcome.as_str(),
            &finish.error_code,
            &finish.request.as_ref().map(redact_json),
            &finish.response.as_ref().map(redact_json),
            &finish.user_id.map(|u| u.0),
            &finish.grant.as_ref().map(GrantUid::as_str),
            &now.unix(),
        ],
    )
    .await?;
    found(n, || format!("exchange {}", id.0))
}
