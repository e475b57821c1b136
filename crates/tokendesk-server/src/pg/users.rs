//! `users`: signed-in users keyed by (issuer, sub), never by email. A refreshed ID token
//! without profile claims keeps the stored ones. Search ranks as the embedded store's does:
//! exact sub or email, then prefixes (b-tree ranges), then substrings (trigram indexes).

use std::collections::{HashMap, HashSet};

use deadpool_postgres::GenericClient;
use tokendesk_core::provider::canonical_issuer;
use tokendesk_core::store::{
    Timestamp, User, UserId, UserProfile, check_id_token_report, check_user_write,
    prefix_upper_bound,
};
use tokio_postgres::Row;

use super::error::Result;
use super::{bigint, execute, found, query, query_one, query_planned_for, timestamp};

const COLUMNS: &str = "u.id, u.issuer, u.sub, u.email, u.email_verified, u.name, \
                       u.given_name, u.family_name, u.picture, u.locale, u.hd, u.claims, \
                       u.created_at, u.updated_at, u.id_token";

fn from_row(row: &Row) -> Result<User> {
    Ok(User {
        id: UserId(row.try_get(0)?),
        issuer: row.try_get(1)?,
        sub: row.try_get(2)?,
        email: row.try_get(3)?,
        email_verified: row.try_get(4)?,
        name: row.try_get(5)?,
        given_name: row.try_get(6)?,
        family_name: row.try_get(7)?,
        picture: row.try_get(8)?,
        locale: row.try_get(9)?,
        hd: row.try_get(10)?,
        claims: row.try_get(11)?,
        created_at: timestamp(row, 12)?,
        updated_at: timestamp(row, 13)?,
        id_token: row.try_get(14)?,
    })
}

fn users(rows: &[Row]) -> Result<Vec<User>> {
    rows.iter().map(from_row).collect()
}

pub(super) async fn get(client: &impl GenericClient, id: UserId) -> Result<Option<User>> {
    Ok(by_ids(client, &[id]).await?.pop())
}

/// The users of `ids`, in that order; ids without a user are skipped.
pub(super) async fn by_ids(client: &impl GenericClient, ids: &[UserId]) -> Result<Vec<User>> {
    let wanted: Vec<i64> = ids.iter().map(|id| id.0).collect();
    let rows = query(
        client,
        &format!("SELECT {COLUMNS} FROM users u WHERE u.id = ANY($1)"),
        &[&wanted],
    )
    .await?;
    let found: HashMap<UserId, User> = users(&rows)?.into_iter().map(|u| (u.id, u)).collect();
    // An id asked twice is listed twice, as one lookup per id would.
    Ok(ids.iter().filter_map(|id| found.get(id).cloned()).collect())
}

/// Users whose `sub` is `text`, or else whose email is `text` (case-insensitive).
pub(super) async fn by_sub_or_email(client: &impl GenericClient, text: &str) -> Result<Vec<User>> {
    let rows = query(
        client,
        &format!(
            "SELECT {COLUMNS} FROM users u WHERE u.sub = $1
             UNION ALL
             SELECT {COLUMNS} FROM users u
             WHERE u.email_lc = $2 AND NOT EXISTS (SELECT FROM users WHERE sub = $1)
             ORDER BY id"
        ),
        &[&text, &text.to_lowercase()],
    )
    .await?;
    users(&rows)
}

/// How many users there are (kept by the `users_count` triggers).
pub(super) async fn count(client: &impl GenericClient) -> Result<u64> {
    let n: i64 = query_one(client, "SELECT n FROM users_count", &[])
        .await?
        .try_get(0)?;
    Ok(n.unsigned_abs())
}

/// `limit` users from `offset`, most recently updated first.
pub(super) async fn page(
    client: &impl GenericClient,
    offset: usize,
    limit: usize,
) -> Result<Vec<User>> {
    let rows = query(
        client,
        // The rows skipped are read from the index alone; only the page's come from the table.
        &format!(
            "SELECT {COLUMNS} FROM (
                 SELECT id, updated_at FROM users ORDER BY updated_at DESC, id DESC
                 LIMIT $1 OFFSET $2
             ) p JOIN users u ON u.id = p.id
             ORDER BY p.updated_at DESC, p.id DESC"
        ),
        &[&bigint(limit), &bigint(offset)],
    )
    .await?;
    users(&rows)
}

/// The best `limit` matches of `text`: exact sub or email, then prefixes of email, name,
/// given and family name (folded) and sub (as given), then substrings of three characters or
/// more of email and names. An empty query lists the most recently updated.
///
/// Two statements at most: the indexed exact and prefix matches in one (each bounded by
/// `limit`), the trigram scan only if they found fewer than `limit`.
pub(super) async fn search(
    client: &impl GenericClient,
    text: &str,
    limit: usize,
) -> Result<Vec<User>> {
    let text = text.trim();
    if text.is_empty() {
        return page(client, 0, limit).await;
    }
    let folded = text.to_lowercase();
    let rows = query(
        client,
        &format!(
            "SELECT {COLUMNS} FROM (
                 (SELECT id, 0 AS stage, '' COLLATE \"C\" AS key FROM users
                  WHERE sub = $1 ORDER BY id LIMIT $5)
                 UNION ALL
                 (SELECT id, 1, '' FROM users
                  WHERE email_lc = $2 AND NOT EXISTS (SELECT FROM users WHERE sub = $1)
                  ORDER BY id LIMIT $5)
                 UNION ALL
                 (SELECT id, 2, email_lc FROM users WHERE email_lc >= $2 AND email_lc < $3
                  ORDER BY email_lc LIMIT $5)
                 UNION ALL
                 (SELECT id, 3, name_lc FROM users WHERE name_lc >= $2 AND name_lc < $3
                  ORDER BY name_lc LIMIT $5)
                 UNION ALL
                 (SELECT id, 4, given_name_lc FROM users
                  WHERE given_name_lc >= $2 AND given_name_lc < $3
                  ORDER BY given_name_lc LIMIT $5)
                 UNION ALL
                 (SELECT id, 5, family_name_lc FROM users
                  WHERE family_name_lc >= $2 AND family_name_lc < $3
                  ORDER BY family_name_lc LIMIT $5)
                 UNION ALL
                 (SELECT id, 6, sub FROM users WHERE sub >= $1 AND sub < $4
                  ORDER BY sub LIMIT $5)
             ) hit JOIN users u ON u.id = hit.id
             ORDER BY hit.stage, hit.key, hit.id"
        ),
        &[
            &text,
            &folded,
            &prefix_upper_bound(&folded),
            &prefix_upper_bound(text),
            &bigint(limit),
        ],
    )
    .await?;
    let mut seen = HashSet::new();
    let mut found: Vec<User> = Vec::new();
    let mut take = |rows: &[Row], found: &mut Vec<User>| -> Result<()> {
        for user in users(rows)? {
            if found.len() < limit && seen.insert(user.id) {
                found.push(user);
            }
        }
        Ok(())
    };
    take(&rows, &mut found)?;

    // Trigrams need three characters; shorter queries were served by the prefixes, and
    // digits only (a sub) by the exact and prefix matches on sub.
    let digits_only = text.bytes().all(|b| b.is_ascii_digit());
    if found.len() < limit && text.chars().count() >= 3 && !digits_only {
        let pattern = format!("%{}%", like_escape(&folded));
        // Planned for this pattern: a common one ("gmail.com") is found fastest by reading
        // rows until `limit` match, a rare one through the trigram indexes.
        let rows = query_planned_for(
            client,
            &format!(
                "SELECT {COLUMNS} FROM users u
                 WHERE u.email_lc LIKE $1 OR u.name_lc LIKE $1
                    OR u.given_name_lc LIKE $1 OR u.family_name_lc LIKE $1
                 LIMIT $2"
            ),
            &[&pattern, &bigint(limit.saturating_add(found.len()))],
        )
        .await?;
        take(&rows, &mut found)?;
    }
    Ok(found)
}

/// `text` matched literally by LIKE (backslash is LIKE's escape character).
fn like_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn fold(value: &Option<String>) -> Option<String> {
    value.as_deref().map(str::to_lowercase)
}

/// Inserts the user or updates it in place, keyed by (issuer, sub). A profile field that is
/// `None` keeps its stored value; `claims` `None` keeps the stored claims (a refresh), and
/// `Some` must be the decoded claims object.
pub(super) async fn upsert(
    client: &impl GenericClient,
    profile: &UserProfile,
    claims: Option<&serde_json::Value>,
    now: Timestamp,
) -> Result<UserId> {
    check_user_write(profile, claims)?;
    let row = query_one(
        client,
        "INSERT INTO users AS u (issuer, sub, email, email_verified, name, given_name,
                                 family_name, picture, locale, hd, claims, created_at,
                                 updated_at, email_lc, name_lc, given_name_lc, family_name_lc)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, coalesce($11, '{}'::jsonb), $12, $12,
                 $13, $14, $15, $16)
         ON CONFLICT (issuer, sub) DO UPDATE SET
            email          = coalesce(EXCLUDED.email, u.email),
            email_verified = coalesce(EXCLUDED.email_verified, u.email_verified),
            name           = coalesce(EXCLUDED.name, u.name),
            given_name     = coalesce(EXCLUDED.given_name, u.given_name),
            family_name    = coalesce(EXCLUDED.family_name, u.family_name),
            picture        = coalesce(EXCLUDED.picture, u.picture),
            locale         = coalesce(EXCLUDED.locale, u.locale),
            hd             = coalesce(EXCLUDED.hd, u.hd),
            claims         = coalesce($11, u.claims),
            updated_at     = EXCLUDED.updated_at,
            email_lc       = coalesce(EXCLUDED.email_lc, u.email_lc),
            name_lc        = coalesce(EXCLUDED.name_lc, u.name_lc),
            given_name_lc  = coalesce(EXCLUDED.given_name_lc, u.given_name_lc),
            family_name_lc = coalesce(EXCLUDED.family_name_lc, u.family_name_lc)
         RETURNING id",
        &[
            &canonical_issuer(&profile.issuer),
            &profile.sub,
            &profile.email,
            &profile.email_verified,
            &profile.name,
            &profile.given_name,
            &profile.family_name,
            &profile.picture,
            &profile.locale,
            &profile.hd,
            &claims,
            &now.unix(),
            &fold(&profile.email),
            &fold(&profile.name),
            &fold(&profile.given_name),
            &fold(&profile.family_name),
        ],
    )
    .await?;
    Ok(UserId(row.try_get(0)?))
}

/// Records how the exchange's ID token was verified: an object, never the signed token.
pub(super) async fn set_id_token(
    client: &impl GenericClient,
    id: UserId,
    report: &serde_json::Value,
) -> Result<()> {
    check_id_token_report(report)?;
    let n = execute(
        client,
        "UPDATE users SET id_token = $2 WHERE id = $1",
        &[&id.0, report],
    )
    .await?;
    found(n, || id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_match_their_text_literally() {
        assert_eq!(like_escape("a_b%c\\d"), "a\\_b\\%c\\\\d");
        assert_eq!(like_escape("ada@example.com"), "ada@example.com");
    }
}
