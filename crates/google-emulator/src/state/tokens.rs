//! Access tokens: issuing one for a grant, looking up a live one and its owner, and what
//! `/token` hands out (`Issued`) for the HTTP layer to sign and write.

use super::{Db, Grant, User};
use crate::keys::random_token;

/// Access tokens live an hour; Google reports 3599 in `expires_in`.
pub const ACCESS_TOKEN_SECS: i64 = 3599;

#[derive(Debug, Clone)]
pub struct AccessRecord {
    pub grant_id: u64,
    pub expires_at: i64,
    pub scopes: Vec<String>,
}

/// What `/token` hands out; the HTTP layer signs the ID token and writes the JSON.
#[derive(Debug, Clone)]
pub struct Issued {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub scopes: Vec<String>,
    pub user: User,
    pub client_id: String,
    pub azp: String,
    pub nonce: Option<String>,
    /// Refresh responses carry an ID token without the profile claims (dex#1718).
    pub profile_claims: bool,
}

impl Db {
    pub(super) fn issue_access(&mut self, grant_id: u64, scopes: Vec<String>, now: i64) -> String {
        self.writes_since_sweep += 1;
        if self.writes_since_sweep >= 4096 {
            self.writes_since_sweep = 0;
            self.sweep(now);
        }
        let token = format!("ya29.a0{}", random_token(120));
        self.access.insert(
            token.clone(),
            AccessRecord {
                grant_id,
                expires_at: now + ACCESS_TOKEN_SECS,
                scopes,
            },
        );
        token
    }

    /// A live access token and who it belongs to.
    pub fn access(&self, token: &str, now: i64) -> Option<(AccessRecord, Grant, User)> {
        let rec = self.access.get(token)?;
        if rec.expires_at <= now {
            return None;
        }
        let grant = self.grants.get(&rec.grant_id).filter(|g| g.alive)?;
        let user = self.users.get(&grant.user_sub)?;
        Some((rec.clone(), grant.clone(), user.clone()))
    }
}
