//! What the emulator knows: clients, test users, codes, grants, tokens and the emulated clock.
//! Pure state transitions with Google's rules; the HTTP layer only translates.

mod clients;
mod clock;
mod codes;
mod error;
mod grants;
mod scopes;
#[cfg(test)]
mod tests;
mod tokens;
mod users;

use std::collections::{BTreeMap, HashMap};

pub use clients::{Client, ClientKind};
pub use clock::Clock;
pub use codes::{CODE_SECS, Code, CodeRedemption, Pkce, RedirectRule};
pub use error::OAuthError;
pub use grants::Grant;
pub use scopes::{
    SCOPE_DRIVE, SCOPE_DRIVE_APPDATA, SCOPE_EMAIL, SCOPE_OPENID, SCOPE_PROFILE, normalize_scopes,
};
pub use tokens::{ACCESS_TOKEN_SECS, AccessRecord, Issued};
pub use users::{User, UserSpec, sub_for_email};

/// Every record the emulator keeps, behind one lock (`Shared::db`); the submodules hold its
/// operations, one concern each.
#[derive(Debug)]
pub struct Db {
    pub clients: HashMap<String, Client>,
    pub users: BTreeMap<String, User>,
    pub subs_by_email: HashMap<String, String>,
    pub codes: HashMap<String, Code>,
    pub grants: HashMap<u64, Grant>,
    pub refresh_index: HashMap<String, u64>,
    pub access: HashMap<String, AccessRecord>,
    /// Grant ids per (user, client), so per-pair rules do not scan every grant.
    grants_by_pair: HashMap<(String, String), Vec<u64>>,
    next_grant: u64,
    writes_since_sweep: u32,
    pub workspace_domain: Option<String>,
    /// Issue a new refresh token on every refresh and treat a rotated-out one as stolen
    /// (Keycloak's "Revoke Refresh Token" with max reuse 0). Google does not rotate; off by
    /// default.
    pub rotate_refresh_tokens: bool,
    /// How many times a rotated-out refresh token was presented; each one killed its grant.
    pub refresh_reuse_detected: u64,
}

impl Db {
    pub fn new(workspace_domain: Option<String>) -> Self {
        Self {
            clients: HashMap::new(),
            users: BTreeMap::new(),
            subs_by_email: HashMap::new(),
            codes: HashMap::new(),
            grants: HashMap::new(),
            refresh_index: HashMap::new(),
            access: HashMap::new(),
            grants_by_pair: HashMap::new(),
            next_grant: 1,
            writes_since_sweep: 0,
            workspace_domain,
            rotate_refresh_tokens: false,
            refresh_reuse_detected: 0,
        }
    }

    /// Forgets expired codes and dead access tokens so long runs stay flat in memory. Used
    /// codes are kept while they could still be replayed, so a replay is still detected.
    fn sweep(&mut self, now: i64) {
        self.codes.retain(|_, c| now - c.issued_at <= CODE_SECS * 2);
        let grants = &self.grants;
        self.access
            .retain(|_, a| a.expires_at > now && grants.get(&a.grant_id).is_some_and(|g| g.alive));
    }
}
