//! Authorization codes: what a code carries (user, client, scopes, redirect rule, PKCE), and
//! redeeming one by Google's rules into a grant and its first tokens.

use super::{Db, Grant, Issued, OAuthError};
use crate::keys::{random_token, sha256_b64url};

/// Authorization codes are good for 10 minutes.
pub const CODE_SECS: i64 = 600;

/// How `/token` checks `redirect_uri` for a code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedirectRule {
    /// A serverAuthCode from an iOS/Android app: `redirect_uri` empty or absent.
    ServerAuthCode { allow_postmessage: bool },
    /// A code from the authorization endpoint: exactly the redirect_uri it was sent to.
    Exact(String),
}

#[derive(Debug, Clone)]
pub struct Pkce {
    pub method: String,
    pub challenge: String,
}

#[derive(Debug, Clone)]
pub struct Code {
    pub user_sub: String,
    /// The web client that may redeem the code (the ID token's `aud`).
    pub client_id: String,
    /// The client the user signed in to (the ID token's `azp`).
    pub azp: String,
    pub scopes: Vec<String>,
    pub redirect: RedirectRule,
    pub pkce: Option<Pkce>,
    pub offline: bool,
    pub force_consent: bool,
    pub nonce: Option<String>,
    pub issued_at: i64,
    /// Set once redeemed: the grant it produced, so a replay can kill it (RFC 6749 §4.1.2).
    pub redeemed_by: Option<u64>,
}

/// Parameters of an authorization-code redemption, already parsed from the form.
#[derive(Debug)]
pub struct CodeRedemption<'a> {
    pub code: &'a str,
    pub client_id: &'a str,
    pub redirect_uri: Option<&'a str>,
    pub code_verifier: Option<&'a str>,
}

impl Db {
    pub fn insert_code(&mut self, code: Code) -> String {
        // Real codes look like `4/0A...`; the slash is what makes double URL-encoding visible.
        let value = format!("4/0{}", random_token(54));
        self.codes.insert(value.clone(), code);
        value
    }

    /// Redeems an authorization code by Google's rules.
    pub fn redeem_code(&mut self, r: &CodeRedemption<'_>, now: i64) -> Result<Issued, OAuthError> {
        if r.code.contains('%') || r.code.contains(' ') {
            return Err(OAuthError::bad_grant("Malformed auth code."));
        }
        let Some(code) = self.codes.get(r.code).cloned() else {
            return Err(OAuthError::bad_grant("Bad Request"));
        };
        if let Some(grant_id) = code.redeemed_by {
            // A replayed code revokes what it issued (RFC 6749 §4.1.2).
            self.kill_grant(grant_id);
            return Err(OAuthError::bad_grant("Bad Request"));
        }
        if now - code.issued_at > CODE_SECS {
            self.codes.remove(r.code);
            return Err(OAuthError::bad_grant("Bad Request"));
        }
        if code.client_id != r.client_id {
            return Err(OAuthError::new(401, "unauthorized_client", "Unauthorized"));
        }
        match (&code.redirect, r.redirect_uri) {
            (RedirectRule::ServerAuthCode { .. }, None | Some("")) => {}
            (
                RedirectRule::ServerAuthCode {
                    allow_postmessage: true,
                },
                Some("postmessage"),
            ) => {}
            (RedirectRule::Exact(expected), Some(given)) if expected == given => {}
            (RedirectRule::Exact(_), None) => {
                return Err(OAuthError::new(
                    400,
                    "invalid_request",
                    "Missing required parameter: redirect_uri",
                ));
            }
            _ => return Err(OAuthError::new(400, "redirect_uri_mismatch", "Bad Request")),
        }
        if let Some(pkce) = &code.pkce {
            let Some(verifier) = r.code_verifier else {
                return Err(OAuthError::bad_grant("Missing code verifier."));
            };
            let computed = match pkce.method.as_str() {
                "S256" => sha256_b64url(verifier.as_bytes()),
                _ => verifier.to_owned(),
            };
            if computed != pkce.challenge {
                return Err(OAuthError::bad_grant("Invalid code verifier."));
            }
        }
        let Some(user) = self.users.get(&code.user_sub).cloned() else {
            return Err(OAuthError::bad_grant("The account has been deleted"));
        };

        // Google issues a refresh token for offline access when the user saw the consent
        // screen: the first grant to this client, or prompt=consent. Otherwise the existing
        // grant's refresh token stays the one to use.
        let pair = (code.user_sub.clone(), code.client_id.clone());
        let has_live_refresh = self.live_refresh_grants(&pair).next().is_some();
        let refresh_token = (code.offline && (code.force_consent || !has_live_refresh))
            .then(|| format!("1//0{}", random_token(72)));
        let id = self.next_grant;
        self.next_grant += 1;
        let grant = Grant {
            id,
            user_sub: code.user_sub.clone(),
            client_id: code.client_id.clone(),
            azp: code.azp.clone(),
            scopes: code.scopes.clone(),
            refresh_token: refresh_token.clone(),
            created_at: now,
            last_used: now,
            alive: true,
        };
        if let Some(rt) = &refresh_token {
            self.refresh_index.insert(rt.clone(), id);
        }
        self.grants.insert(id, grant);
        self.grants_by_pair
            .entry(pair.clone())
            .or_default()
            .push(id);
        self.enforce_refresh_limit(&pair);
        if let Some(c) = self.codes.get_mut(r.code) {
            c.redeemed_by = Some(id);
        }
        let access_token = self.issue_access(id, code.scopes.clone(), now);
        Ok(Issued {
            access_token,
            refresh_token,
            scopes: code.scopes,
            user,
            client_id: code.client_id,
            azp: code.azp,
            nonce: code.nonce,
            profile_claims: true,
        })
    }
}
