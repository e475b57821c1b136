//! Grants (a user's consent to a client) and their refresh tokens: refreshing, the per-client
//! cap, idle expiry, rotation with reuse detection, and revocation.

use super::{Db, Issued, OAuthError, normalize_scopes};
use crate::keys::random_token;

/// Refresh tokens unused for six months stop working.
pub const REFRESH_IDLE_SECS: i64 = 183 * 24 * 3600;
/// Google keeps at most this many live refresh tokens per user and client; the oldest goes.
pub const REFRESH_TOKENS_PER_CLIENT_USER: usize = 100;

#[derive(Debug, Clone)]
pub struct Grant {
    pub id: u64,
    pub user_sub: String,
    pub client_id: String,
    pub azp: String,
    pub scopes: Vec<String>,
    pub refresh_token: Option<String>,
    pub created_at: i64,
    pub last_used: i64,
    pub alive: bool,
}

impl Db {
    /// Every scope `sub` granted `client_id` in a grant still alive (what
    /// `include_granted_scopes` adds, and what `prompt=none` may issue without asking).
    pub fn granted_scopes(&self, sub: &str, client_id: &str) -> Vec<String> {
        let mut scopes: Vec<String> = Vec::new();
        let pair = (sub.to_owned(), client_id.to_owned());
        for grant in self
            .grants_by_pair
            .get(&pair)
            .into_iter()
            .flatten()
            .filter_map(|id| self.grants.get(id))
            .filter(|g| g.alive)
        {
            for scope in &grant.scopes {
                if !scopes.contains(scope) {
                    scopes.push(scope.clone());
                }
            }
        }
        scopes
    }

    pub(super) fn live_refresh_grants(
        &self,
        pair: &(String, String),
    ) -> impl Iterator<Item = &Grant> {
        self.grants_by_pair
            .get(pair)
            .into_iter()
            .flatten()
            .filter_map(|id| self.grants.get(id))
            .filter(|g| g.alive && g.refresh_token.is_some())
    }

    /// The oldest live refresh tokens beyond Google's per-client cap stop working.
    pub(super) fn enforce_refresh_limit(&mut self, pair: &(String, String)) {
        let mut live: Vec<(i64, u64)> = self
            .live_refresh_grants(pair)
            .map(|g| (g.created_at, g.id))
            .collect();
        if live.len() <= REFRESH_TOKENS_PER_CLIENT_USER {
            return;
        }
        live.sort_unstable();
        let excess = live.len() - REFRESH_TOKENS_PER_CLIENT_USER;
        for (_, id) in live.into_iter().take(excess) {
            self.kill_grant(id);
        }
        // Dead grants stay (their refresh tokens must keep failing) but leave the index.
        let grants = &self.grants;
        if let Some(ids) = self.grants_by_pair.get_mut(pair) {
            ids.retain(|id| grants.get(id).is_some_and(|g| g.alive));
        }
    }

    pub fn refresh(
        &mut self,
        refresh_token: &str,
        client_id: &str,
        scope: Option<&str>,
        now: i64,
    ) -> Result<Issued, OAuthError> {
        let dead = || OAuthError::bad_grant("Token has been expired or revoked.");
        let Some(&grant_id) = self.refresh_index.get(refresh_token) else {
            return Err(dead());
        };
        let Some(grant) = self.grants.get(&grant_id).cloned() else {
            return Err(dead());
        };
        // A refresh token its grant has rotated out (the index keeps them, as it keeps a dead
        // grant's): whoever presents it holds an old copy, so the grant dies with its current
        // refresh token, as Keycloak's reuse detection does (RFC 9700 §4.14.2).
        if grant.refresh_token.as_deref() != Some(refresh_token) {
            self.refresh_reuse_detected += 1;
            self.kill_grant(grant_id);
            return Err(dead());
        }
        if !grant.alive {
            return Err(dead());
        }
        if now - grant.last_used > REFRESH_IDLE_SECS {
            self.kill_grant(grant_id);
            return Err(dead());
        }
        if grant.client_id != client_id {
            return Err(OAuthError::new(401, "unauthorized_client", "Unauthorized"));
        }
        let scopes = match scope {
            Some(s) if !s.trim().is_empty() => {
                let asked = normalize_scopes([s]);
                if let Some(extra) = asked.iter().find(|s| !grant.scopes.contains(s)) {
                    return Err(OAuthError::new(
                        400,
                        "invalid_scope",
                        format!("Some requested scopes were invalid. {{invalid=[{extra}]}}"),
                    ));
                }
                asked
            }
            _ => grant.scopes.clone(),
        };
        let Some(user) = self.users.get(&grant.user_sub).cloned() else {
            return Err(OAuthError::bad_grant("The account has been deleted"));
        };
        let rotated = self
            .rotate_refresh_tokens
            .then(|| format!("1//0{}", random_token(72)));
        if let Some(g) = self.grants.get_mut(&grant_id) {
            g.last_used = now;
            if let Some(new) = &rotated {
                g.refresh_token = Some(new.clone());
            }
        }
        if let Some(new) = &rotated {
            self.refresh_index.insert(new.clone(), grant_id);
        }
        let access_token = self.issue_access(grant_id, scopes.clone(), now);
        Ok(Issued {
            access_token,
            refresh_token: rotated,
            scopes,
            user,
            client_id: grant.client_id,
            azp: grant.azp,
            nonce: None,
            profile_claims: false,
        })
    }

    /// Kills the grant a refresh or access token belongs to. `false`: no such live token.
    pub fn revoke(&mut self, token: &str, now: i64) -> bool {
        let grant_id = self.refresh_index.get(token).copied().or_else(|| {
            self.access
                .get(token)
                .filter(|a| a.expires_at > now)
                .map(|a| a.grant_id)
        });
        match grant_id {
            Some(id) if self.grants.get(&id).is_some_and(|g| g.alive) => {
                self.kill_grant(id);
                true
            }
            _ => false,
        }
    }

    pub fn kill_grant(&mut self, id: u64) {
        if let Some(g) = self.grants.get_mut(&id) {
            g.alive = false;
        }
        // Access tokens of a dead grant fail in `access` (it checks the grant); sweeping
        // removes them later, so a kill stays O(1).
    }

    /// Kills every grant of a user, as when they remove the app in their Google account.
    pub fn revoke_user(&mut self, email: &str) -> usize {
        let Some(sub) = self
            .subs_by_email
            .get(&email.trim().to_lowercase())
            .cloned()
        else {
            return 0;
        };
        let ids: Vec<u64> = self
            .grants
            .values()
            .filter(|g| g.alive && g.user_sub == sub)
            .map(|g| g.id)
            .collect();
        for id in &ids {
            self.kill_grant(*id);
        }
        ids.len()
    }
}
