//! Signed-in users, keyed by (issuer, sub) and never by email, with the ID token's profile.
//! A refreshed ID token without profile claims keeps the stored ones; search is indexed.

use std::collections::HashSet;
use std::fmt;

use rusqlite::types::{FromSql, FromSqlResult, ToSqlOutput, ValueRef};
use rusqlite::{Connection, OptionalExtension, ToSql, params};
use serde::Serialize;

use super::{Migration, StoreError, Timestamp, json_column};

pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 2,
        name: "users",
        sql: "CREATE TABLE users (
            id             INTEGER PRIMARY KEY,
            issuer         TEXT NOT NULL,
            sub            TEXT NOT NULL CHECK (sub <> ''),
            email          TEXT,
            email_verified INTEGER CHECK (email_verified IN (0, 1)),
            name           TEXT,
            given_name     TEXT,
            family_name    TEXT,
            picture        TEXT,
            locale         TEXT,
            hd             TEXT,
            -- the decoded claims of the exchange's ID token (not the signed token)
            claims_json    TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(claims_json)),
            -- Unicode-lowercased copies for search, written by Rust: SQLite's lower() folds
            -- ASCII only, so 'Álvarez' would not match 'ál'
            email_lc       TEXT,
            name_lc        TEXT,
            given_name_lc  TEXT,
            family_name_lc TEXT,
            created_at     INTEGER NOT NULL,
            updated_at     INTEGER NOT NULL,
            UNIQUE (issuer, sub)
        ) STRICT;
        -- exact and prefix search are range scans on these
        CREATE INDEX users_sub ON users (sub);
        CREATE INDEX users_email_lc ON users (email_lc);
        CREATE INDEX users_name_lc ON users (name_lc);
        CREATE INDEX users_given_lc ON users (given_name_lc);
        CREATE INDEX users_family_lc ON users (family_name_lc);
        CREATE INDEX users_updated ON users (updated_at);",
    },
    Migration {
        version: 6,
        name: "users_fts",
        // Substring search (a domain, part of a name) needs trigrams; an external-content
        // table indexes users' own columns without a second copy of the text. Not sub: it is
        // digits, whose trigrams ("000") are in every row and make a phrase scan every
        // doclist; exact and prefix matches serve it. No column sizes: nothing ranks by bm25.
        sql: "CREATE VIRTUAL TABLE users_fts USING fts5(
            email, name, given_name, family_name,
            content = 'users', content_rowid = 'id', tokenize = 'trigram', columnsize = 0
        );
        CREATE TRIGGER users_fts_insert AFTER INSERT ON users BEGIN
            INSERT INTO users_fts (rowid, email, name, given_name, family_name)
            VALUES (new.id, new.email, new.name, new.given_name, new.family_name);
        END;
        CREATE TRIGGER users_fts_delete AFTER DELETE ON users BEGIN
            INSERT INTO users_fts (users_fts, rowid, email, name, given_name, family_name)
            VALUES ('delete', old.id, old.email, old.name, old.given_name, old.family_name);
        END;
        CREATE TRIGGER users_fts_update AFTER UPDATE OF email, name, given_name, family_name
        ON users BEGIN
            INSERT INTO users_fts (users_fts, rowid, email, name, given_name, family_name)
            VALUES ('delete', old.id, old.email, old.name, old.given_name, old.family_name);
            INSERT INTO users_fts (rowid, email, name, given_name, family_name)
            VALUES (new.id, new.email, new.name, new.given_name, new.family_name);
        END;
        INSERT INTO users_fts (users_fts) VALUES ('rebuild');",
    },
    Migration {
        version: 8,
        name: "users_id_token",
        // What the user page shows of the exchange's ID token besides its claims: the header
        // and every verification check with its result. Never the signed token.
        sql: "ALTER TABLE users ADD COLUMN
            id_token_json TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(id_token_json));",
    },
    Migration {
        version: 13,
        name: "users_one_google_issuer",
        // Google signs with `https://accounts.google.com` or `accounts.google.com`: one
        // issuer, so one person is one user. Stored from now on as the https form; a person
        // stored under both stays as two rows (merging grants is not a migration's call).
        sql: "UPDATE users SET issuer = 'https://accounts.google.com'
              WHERE issuer = 'accounts.google.com'
                AND NOT EXISTS (SELECT 1 FROM users AS u2
                                WHERE u2.issuer = 'https://accounts.google.com'
                                  AND u2.sub = users.sub);",
    },
];

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct UserId(pub i64);

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "user #{}", self.0)
    }
}

impl ToSql for UserId {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.0))
    }
}

impl FromSql for UserId {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        i64::column_result(value).map(UserId)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct User {
    pub id: UserId,
    pub issuer: String,
    pub sub: String,
    pub email: Option<String>,
    pub email_verified: Option<bool>,
    pub name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub picture: Option<String>,
    pub locale: Option<String>,
    pub hd: Option<String>,
    /// The decoded claims of the exchange's ID token, for display.
    pub claims: serde_json::Value,
    /// The exchange's ID token as verified, `{header, checks, verified_at}` (`{}` before it
    /// was recorded). Never the signed token.
    pub id_token: serde_json::Value,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Profile claims of a verified ID token, as the store takes them: unlike [`GoogleClaims`](crate::id_token::GoogleClaims)
/// only the profile, and `None` means "the token did not say": the stored value is kept
/// (refreshed ID tokens often carry no profile claims).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserProfile {
    pub issuer: String,
    pub sub: String,
    pub email: Option<String>,
    pub email_verified: Option<bool>,
    pub name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub picture: Option<String>,
    pub locale: Option<String>,
    pub hd: Option<String>,
}

const COLUMNS: &str = "id, issuer, sub, email, email_verified, name, given_name, family_name, \
                       picture, locale, hd, claims_json, created_at, updated_at, id_token_json";

fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: row.get(0)?,
        issuer: row.get(1)?,
        sub: row.get(2)?,
        email: row.get(3)?,
        email_verified: row.get(4)?,
        name: row.get(5)?,
        given_name: row.get(6)?,
        family_name: row.get(7)?,
        picture: row.get(8)?,
        locale: row.get(9)?,
        hd: row.get(10)?,
        claims: json_column(row, 11)?,
        created_at: row.get(12)?,
        updated_at: row.get(13)?,
        id_token: json_column(row, 14)?,
    })
}

/// Reads of `users`.
#[derive(Debug, Clone, Copy)]
pub struct Users<'c> {
    conn: &'c Connection,
}

impl<'c> Users<'c> {
    pub(crate) fn new(conn: &'c Connection) -> Self {
        Users { conn }
    }

    pub fn get(&self, id: UserId) -> Result<Option<User>, StoreError> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM users WHERE id = ?1"),
                [id],
                from_row,
            )
            .optional()?)
    }

    pub fn find(&self, issuer: &str, sub: &str) -> Result<Option<User>, StoreError> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM users WHERE issuer = ?1 AND sub = ?2"),
                [issuer, sub],
                from_row,
            )
            .optional()?)
    }

    /// Users whose `sub` is `text`, or else whose email is `text` (case-insensitive).
    /// Several users can share an email (two accounts, or an address that moved): the caller
    /// must ask which one rather than pick.
    pub fn find_by_sub_or_email(&self, text: &str) -> Result<Vec<User>, StoreError> {
        let by_sub = self.query(
            &format!("SELECT {COLUMNS} FROM users WHERE sub = ?1 ORDER BY id"),
            params![text],
        )?;
        if !by_sub.is_empty() {
            return Ok(by_sub);
        }
        self.query(
            &format!("SELECT {COLUMNS} FROM users WHERE email_lc = ?1 ORDER BY id"),
            params![text.to_lowercase()],
        )
    }

    pub fn count(&self) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn
            .query_row("SELECT count(*) FROM users", [], |row| row.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// The most recently updated users.
    pub fn recent(&self, limit: usize) -> Result<Vec<User>, StoreError> {
        self.query(
            &format!("SELECT {COLUMNS} FROM users ORDER BY updated_at DESC, id DESC LIMIT ?1"),
            params![limit_param(limit)],
        )
    }

    /// One page of every user in [`recent`](Self::recent)'s order, for a list that scrolls
    /// through all of them (the desktop's virtualised Users page).
    pub fn page(&self, offset: usize, limit: usize) -> Result<Vec<User>, StoreError> {
        self.query(
            &format!(
                "SELECT {COLUMNS} FROM users ORDER BY updated_at DESC, id DESC LIMIT ?1 OFFSET ?2"
            ),
            params![limit_param(limit), limit_param(offset)],
        )
    }

    /// Search by email, name (full, given, family) or sub, best matches first: exact sub or
    /// email, then prefixes (indexed ranges), then substrings of three or more characters of
    /// email and names (trigram index). Each step is bounded by `limit`, so the cost does not grow with the
    /// number of users. An empty query lists the most recently updated.
    pub fn search(&self, text: &str, limit: usize) -> Result<Vec<User>, StoreError> {
        let text = text.trim();
        if text.is_empty() {
            return self.recent(limit);
        }
        // Folded like the *_lc columns.
        let folded = text.to_lowercase();
        let mut found = Vec::new();
        let mut seen = HashSet::new();
        let mut take = |users: Vec<User>, found: &mut Vec<User>| {
            for user in users {
                if found.len() < limit && seen.insert(user.id) {
                    found.push(user);
                }
            }
        };

        take(self.find_by_sub_or_email(text)?, &mut found);

        // sub is compared as given (Google's are digits); the others through their _lc index.
        for (column, prefix) in [
            ("email_lc", folded.as_str()),
            ("name_lc", folded.as_str()),
            ("given_name_lc", folded.as_str()),
            ("family_name_lc", folded.as_str()),
            ("sub", text),
        ] {
            if found.len() >= limit {
                break;
            }
            let Some(upper) = prefix_upper_bound(prefix) else {
                continue;
            };
            let users = self.query(
                &format!(
                    "SELECT {COLUMNS} FROM users WHERE {column} >= ?1 AND {column} < ?2 \
                     ORDER BY {column} LIMIT ?3"
                ),
                params![prefix, upper, limit_param(limit)],
            )?;
            take(users, &mut found);
        }

        // Trigrams need three characters; shorter queries were served by the prefixes, and
        // digits only (a sub) by the exact and prefix matches on sub.
        let digits_only = text.bytes().all(|b| b.is_ascii_digit());
        if found.len() < limit && text.chars().count() >= 3 && !digits_only {
            let phrase = format!("\"{}\"", text.replace('"', "\"\""));
            let users = self.query(
                &format!(
                    "SELECT {} FROM users_fts JOIN users u ON u.id = users_fts.rowid \
                     WHERE users_fts MATCH ?1 LIMIT ?2",
                    qualified_columns()
                ),
                params![phrase, limit_param(limit + found.len())],
            )?;
            take(users, &mut found);
        }
        Ok(found)
    }

    fn query(&self, sql: &str, params: &[&dyn rusqlite::ToSql]) -> Result<Vec<User>, StoreError> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        let rows = stmt.query_map(params, from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

fn qualified_columns() -> String {
    COLUMNS
        .split(", ")
        .map(|c| format!("u.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn limit_param(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// The smallest string greater than every string starting with `prefix`: the prefix with its
/// last character incremented. UTF-8 byte order is code point order, so `>= prefix AND <
/// bound` is exactly "starts with prefix" under SQLite's BINARY collation (and PostgreSQL's
/// `"C"`): a prefix search that is an index range scan.
pub fn prefix_upper_bound(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let mut next = u32::from(last) + 1;
        if (0xD800..=0xDFFF).contains(&next) {
            next = 0xE000;
        }
        if let Some(c) = char::from_u32(next) {
            chars.push(c);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// What every storage refuses before writing a user: no sub (nothing names the user), or
/// claims that are not the decoded claims object.
pub fn check_user_write(
    profile: &UserProfile,
    claims: Option<&serde_json::Value>,
) -> Result<(), StoreError> {
    if profile.sub.is_empty() {
        return Err(StoreError::Invalid {
            field: "sub",
            reason: "an ID token without sub cannot name a user".into(),
        });
    }
    if claims.is_some_and(|c| !c.is_object()) {
        return Err(StoreError::Invalid {
            field: "claims",
            reason: "must be the decoded claims object".into(),
        });
    }
    Ok(())
}

/// The ID token as verified is the report object (`{header, checks, verified_at}`), never
/// the signed token.
pub fn check_id_token_report(report: &serde_json::Value) -> Result<(), StoreError> {
    if report.is_object() {
        Ok(())
    } else {
        Err(StoreError::Invalid {
            field: "id_token",
            reason: "must be the verification report object".into(),
        })
    }
}

fn fold(value: &Option<String>) -> Option<String> {
    value.as_deref().map(str::to_lowercase)
}

/// Writes to `users`, only inside a [`super::WriteTx`].
#[derive(Debug, Clone, Copy)]
pub struct UsersMut<'c> {
    conn: &'c Connection,
}

impl<'c> UsersMut<'c> {
    /// Records how the exchange's ID token was verified (`{header, checks, verified_at}`):
    /// an object, never the signed token.
    pub fn set_id_token(&self, id: UserId, report: &serde_json::Value) -> Result<(), StoreError> {
        check_id_token_report(report)?;
        self.conn.execute(
            "UPDATE users SET id_token_json = ?2 WHERE id = ?1",
            params![id, report.to_string()],
        )?;
        Ok(())
    }

    pub(crate) fn new(conn: &'c Connection) -> Self {
        UsersMut { conn }
    }

    /// Inserts the user or updates it in place, keyed by (issuer, sub). A profile field that is
    /// `None` keeps its stored value; `claims` `None` keeps the stored claims (a refresh), and
    /// `Some` must be the decoded claims object (never the signed token).
    pub fn upsert(
        &self,
        profile: &UserProfile,
        claims: Option<&serde_json::Value>,
        now: Timestamp,
    ) -> Result<UserId, StoreError> {
        check_user_write(profile, claims)?;
        let claims_json = claims.map(serde_json::to_string).transpose()?;
        let mut stmt = self.conn.prepare_cached(
            "INSERT INTO users (issuer, sub, email, email_verified, name, given_name, family_name,
                                picture, locale, hd, claims_json, created_at, updated_at,
                                email_lc, name_lc, given_name_lc, family_name_lc)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, coalesce(?11, '{}'), ?12, ?12,
                     ?13, ?14, ?15, ?16)
             ON CONFLICT (issuer, sub) DO UPDATE SET
                email          = coalesce(excluded.email, users.email),
                email_verified = coalesce(excluded.email_verified, users.email_verified),
                name           = coalesce(excluded.name, users.name),
                given_name     = coalesce(excluded.given_name, users.given_name),
                family_name    = coalesce(excluded.family_name, users.family_name),
                picture        = coalesce(excluded.picture, users.picture),
                locale         = coalesce(excluded.locale, users.locale),
                hd             = coalesce(excluded.hd, users.hd),
                claims_json    = coalesce(?11, users.claims_json),
                updated_at     = excluded.updated_at,
                email_lc       = coalesce(excluded.email_lc, users.email_lc),
                name_lc        = coalesce(excluded.name_lc, users.name_lc),
                given_name_lc  = coalesce(excluded.given_name_lc, users.given_name_lc),
                family_name_lc = coalesce(excluded.family_name_lc, users.family_name_lc)
             RETURNING id",
        )?;
        let id = stmt.query_row(
            params![
                crate::provider::canonical_issuer(&profile.issuer),
                profile.sub,
                profile.email,
                profile.email_verified,
                profile.name,
                profile.given_name,
                profile.family_name,
                profile.picture,
                profile.locale,
                profile.hd,
                claims_json,
                now,
                fold(&profile.email),
                fold(&profile.name),
                fold(&profile.given_name),
                fold(&profile.family_name),
            ],
            |row| row.get(0),
        )?;
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn prefix_bound_is_the_next_string() {
        assert_eq!(prefix_upper_bound("alice").as_deref(), Some("alicf"));
        assert_eq!(prefix_upper_bound("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_upper_bound("\u{D7FF}").as_deref(), Some("\u{E000}"));
        assert_eq!(prefix_upper_bound("\u{10FFFF}"), None);
    }
}
