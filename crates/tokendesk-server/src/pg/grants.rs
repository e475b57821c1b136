//! `grants`: what a user granted a client, its tokens sealed in the row. One grant per user
//! and client; a grant found under another uid than the one its tokens were sealed for is
//! `GrantMoved`, never overwritten.

use std::collections::HashMap;

use deadpool_postgres::GenericClient;
use tokendesk_core::desk::DRIVE_APPDATA_SCOPE;
use tokendesk_core::seal::SealedSecret;
use tokendesk_core::store::{
    ClientUid, Grant, GrantUid, GrantWrite, RefreshTokenState, StoreError, Timestamp, UserId,
    join_scopes,
};
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;

use super::error::{Error, Result};
use super::{execute, found, parsed, query, query_opt, sealed_opt, timestamp, timestamp_opt};

const COLUMNS: &str = "uid, user_id, client_uid, scopes, access_token_expires_at, \
                       refresh_token, invalid_reason, refresh_token_sealed, \
                       access_token_sealed, azp, created_at, updated_at";

fn from_row(row: &Row) -> Result<Grant> {
    let scopes: &str = row.try_get(3)?;
    Ok(Grant {
        uid: GrantUid::parse(row.try_get(0)?)?,
        user_id: UserId(row.try_get(1)?),
        client: ClientUid::parse(row.try_get(2)?)?,
        scopes: scopes.split_whitespace().map(str::to_owned).collect(),
        access_token_expires_at: timestamp_opt(row, 4)?,
        refresh_token: parsed(row, 5, RefreshTokenState::parse)?,
        invalid_reason: row.try_get(6)?,
        refresh_token_sealed: sealed_opt(row, 7)?,
        access_token_sealed: sealed_opt(row, 8)?,
        azp: row.try_get(9)?,
        created_at: timestamp(row, 10)?,
        updated_at: timestamp(row, 11)?,
    })
}

fn grants(rows: &[Row]) -> Result<Vec<Grant>> {
    rows.iter().map(from_row).collect()
}

pub(super) async fn get(client: &impl GenericClient, uid: &GrantUid) -> Result<Option<Grant>> {
    query_opt(
        client,
        &format!("SELECT {COLUMNS} FROM grants WHERE uid = $1"),
        &[&uid.as_str()],
    )
    .await?
    .as_ref()
    .map(from_row)
    .transpose()
}

/// The grants of `users`, user by user in that order, each user's oldest first.
pub(super) async fn of_users(client: &impl GenericClient, users: &[UserId]) -> Result<Vec<Grant>> {
    let ids: Vec<i64> = users.iter().map(|u| u.0).collect();
    let rows = query(
        client,
        &format!("SELECT {COLUMNS} FROM grants WHERE user_id = ANY($1) ORDER BY created_at, uid"),
        &[&ids],
    )
    .await?;
    let mut by_user: HashMap<UserId, Vec<Grant>> = HashMap::new();
    for grant in grants(&rows)? {
        by_user.entry(grant.user_id).or_default().push(grant);
    }
    // A user asked twice is listed twice, as one query per user would.
    Ok(users
        .iter()
        .filter_map(|user| by_user.get(user))
        .flatten()
        .cloned()
        .collect())
}

/// Grants with a live, sealed refresh token, least recently updated first.
pub(super) async fn to_refresh(client: &impl GenericClient) -> Result<Vec<Grant>> {
    let rows = query(
        client,
        &format!(
            "SELECT {COLUMNS} FROM grants
             WHERE refresh_token = 'present' AND refresh_token_sealed IS NOT NULL
             ORDER BY updated_at, uid"
        ),
        &[],
    )
    .await?;
    grants(&rows)
}

/// The "needs attention" query (`$1`: expiring before, `$2`: the limit). Its conditions imply
/// the partial index `grants_attention`'s predicate (migration 0011), so the planner reads only
/// the grants that may need a person; the scope is written into the text, as in the index,
/// because a predicate with a parameter in it proves nothing. Public for the test that asks
/// the planner.
pub fn needing_attention_sql() -> String {
    format!(
        "SELECT {COLUMNS}, COUNT(*) OVER () FROM grants
         WHERE refresh_token IN ('revoked', 'invalid', 'pending_revocation')
            OR (refresh_token = 'absent'
                AND (access_token_expires_at IS NULL OR access_token_expires_at < $1))
            OR strpos(' ' || scopes || ' ', ' {DRIVE_APPDATA_SCOPE} ') = 0
         ORDER BY updated_at DESC, uid LIMIT $2"
    )
}

/// Grants that need a person (see `Storage::grants_needing_attention`), most recently
/// updated first, and how many match in all: one read of the partial index, the count beside
/// each row.
pub(super) async fn needing_attention(
    client: &impl GenericClient,
    expiring_before: Timestamp,
    limit: usize,
) -> Result<(Vec<Grant>, u64)> {
    let rows = query(
        client,
        &needing_attention_sql(),
        &[&expiring_before.unix(), &super::bigint(limit)],
    )
    .await?;
    let total = match rows.first() {
        Some(row) => u64::try_from(row.try_get::<_, i64>(12)?).unwrap_or(0),
        None => 0,
    };
    Ok((grants(&rows)?, total))
}

/// Inserts the grant, or updates the user's grant with this client if it has this uid. A
/// grant of this user and client under another uid, found or committed by another replica
/// meanwhile, is [`StoreError::GrantMoved`]: the tokens were sealed for the wrong row.
pub(super) async fn put(
    client: &impl GenericClient,
    grant: &GrantWrite<'_>,
    now: Timestamp,
) -> Result<()> {
    let scopes = join_scopes(grant.scopes)?;
    let refresh = grant.refresh_token.map(SealedSecret::as_bytes);
    let existing = query_opt(
        client,
        "SELECT uid FROM grants WHERE user_id = $1 AND client_uid = $2 FOR UPDATE",
        &[&grant.user_id.0, &grant.client.as_str()],
    )
    .await?;
    if let Some(row) = existing {
        let uid = GrantUid::parse(row.try_get(0)?)?;
        if uid != *grant.uid {
            return Err(StoreError::GrantMoved { existing: uid }.into());
        }
        // A re-consent: new tokens; without a new refresh token the grant keeps its own, and
        // its state with it.
        let n = execute(
            client,
            "UPDATE grants SET scopes = $2, access_token_expires_at = $3,
                 access_token_sealed = $4,
                 refresh_token_sealed = coalesce($5::bytea, refresh_token_sealed),
                 refresh_token = CASE WHEN $5::bytea IS NULL THEN refresh_token
                                      ELSE 'present' END,
                 invalid_reason = CASE WHEN $5::bytea IS NULL THEN invalid_reason
                                       ELSE NULL END,
                 azp = $6, updated_at = $7
             WHERE uid = $1",
            &[
                &uid.as_str(),
                &scopes,
                &grant.access_token_expires_at.map(Timestamp::unix),
                &grant.access_token.as_bytes(),
                &refresh,
                &grant.azp,
                &now.unix(),
            ],
        )
        .await?;
        return found(n, || format!("grant {uid}"));
    }
    let state = if refresh.is_some() {
        RefreshTokenState::Present
    } else {
        RefreshTokenState::Absent
    };
    let inserted = query_opt(
        client,
        "INSERT INTO grants (uid, user_id, client_uid, scopes, access_token_expires_at,
                             refresh_token, refresh_token_sealed, access_token_sealed, azp,
                             created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)
         ON CONFLICT (user_id, client_uid) DO NOTHING
         RETURNING uid",
        &[
            &grant.uid.as_str(),
            &grant.user_id.0,
            &grant.client.as_str(),
            &scopes,
            &grant.access_token_expires_at.map(Timestamp::unix),
            &state.as_str(),
            &refresh,
            &grant.access_token.as_bytes(),
            &grant.azp,
            &now.unix(),
        ],
    )
    .await;
    match inserted {
        Ok(Some(_)) => Ok(()),
        // Another replica committed this user's grant with this client since the SELECT.
        Ok(None) => {
            let row = query_opt(
                client,
                "SELECT uid FROM grants WHERE user_id = $1 AND client_uid = $2",
                &[&grant.user_id.0, &grant.client.as_str()],
            )
            .await?
            .ok_or_else(|| StoreError::NotFound {
                what: format!("the grant of {} to client {}", grant.user_id, grant.client),
            })?;
            let existing = GrantUid::parse(row.try_get(0)?)?;
            Err(StoreError::GrantMoved { existing }.into())
        }
        Err(err) if err.sql_state() == Some(&SqlState::FOREIGN_KEY_VIOLATION) => {
            Err(Error::Store(StoreError::NotFound {
                what: format!("{} or client {}", grant.user_id, grant.client),
            }))
        }
        Err(err) => Err(err),
    }
}

/// After a refresh: the new access token and expiry, and the scopes when the provider said.
pub(super) async fn refreshed(
    client: &impl GenericClient,
    uid: &GrantUid,
    access_token: &SealedSecret,
    expires_at: Option<Timestamp>,
    scopes: &[String],
    now: Timestamp,
) -> Result<()> {
    let scopes = (!scopes.is_empty())
        .then(|| join_scopes(scopes))
        .transpose()?;
    let n = execute(
        client,
        "UPDATE grants SET scopes = coalesce($2, scopes),
                           access_token_expires_at = coalesce($3, access_token_expires_at),
                           access_token_sealed = $4, updated_at = $5
         WHERE uid = $1",
        &[
            &uid.as_str(),
            &scopes,
            &expires_at.map(Timestamp::unix),
            &access_token.as_bytes(),
            &now.unix(),
        ],
    )
    .await?;
    found(n, || format!("grant {uid}"))
}

/// A rotating provider's new refresh token: replaces the spent one at once.
pub(super) async fn rotate_refresh_token(
    client: &impl GenericClient,
    uid: &GrantUid,
    sealed: &SealedSecret,
    now: Timestamp,
) -> Result<()> {
    let n = execute(
        client,
        "UPDATE grants SET refresh_token_sealed = $2, updated_at = $3 WHERE uid = $1",
        &[&uid.as_str(), &sealed.as_bytes(), &now.unix()],
    )
    .await?;
    found(n, || format!("grant {uid}"))
}

/// Sets the refresh token's state (`reason` required for `Invalid`); `drop_tokens` forgets
/// both sealed tokens.
pub(super) async fn set_refresh_state(
    client: &impl GenericClient,
    uid: &GrantUid,
    state: RefreshTokenState,
    reason: Option<&str>,
    drop_tokens: bool,
    now: Timestamp,
) -> Result<()> {
    let reason = state.reason_to_store(reason)?;
    let n = execute(
        client,
        "UPDATE grants SET refresh_token = $2, invalid_reason = $3,
                           refresh_token_sealed = CASE WHEN $4 THEN NULL
                                                       ELSE refresh_token_sealed END,
                           access_token_sealed = CASE WHEN $4 THEN NULL
                                                      ELSE access_token_sealed END,
                           updated_at = $5
         WHERE uid = $1",
        &[
            &uid.as_str(),
            &state.as_str(),
            &reason,
            &drop_tokens,
            &now.unix(),
        ],
    )
    .await?;
    found(n, || format!("grant {uid}"))
}
