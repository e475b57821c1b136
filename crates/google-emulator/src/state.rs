//! What the emulator knows: clients, test users, codes, grants, tokens and the emulated clock.
//! Pure state transitions with Google's rules; the HTTP layer only translates.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::keys::{random_token, sha256_b64url};

pub const SCOPE_OPENID: &str = "openid";
pub const SCOPE_EMAIL: &str = "https://www.googleapis.com/auth/userinfo.email";
pub const SCOPE_PROFILE: &str = "https://www.googleapis.com/auth/userinfo.profile";
pub const SCOPE_DRIVE_APPDATA: &str = "https://www.googleapis.com/auth/drive.appdata";
pub const SCOPE_DRIVE: &str = "https://www.googleapis.com/auth/drive";

/// Access tokens live an hour; Google reports 3599 in `expires_in`.
pub const ACCESS_TOKEN_SECS: i64 = 3599;
/// Authorization codes are good for 10 minutes.
pub const CODE_SECS: i64 = 600;
/// Refresh tokens unused for six months stop working.
pub const REFRESH_IDLE_SECS: i64 = 183 * 24 * 3600;
/// Google keeps at most this many live refresh tokens per user and client; the oldest goes.
pub const REFRESH_TOKENS_PER_CLIENT_USER: usize = 100;

/// The emulated clock: real time plus an offset set through the admin API (time travel).
#[derive(Debug, Default)]
pub struct Clock {
    offset_secs: AtomicI64,
}

impl Clock {
    pub fn now(&self) -> i64 {
        self.now_millis().div_euclid(1000)
    }

    pub fn now_millis(&self) -> i64 {
        let real = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        real + self.offset_secs.load(Ordering::Relaxed) * 1000
    }

    pub fn offset(&self) -> i64 {
        self.offset_secs.load(Ordering::Relaxed)
    }

    pub fn set_offset(&self, secs: i64) {
        self.offset_secs.store(secs, Ordering::Relaxed);
    }
}

/// Google's scope aliases come back expanded in token responses.
pub fn expand_scope(scope: &str) -> String {
    match scope {
        "email" => SCOPE_EMAIL.to_owned(),
        "profile" => SCOPE_PROFILE.to_owned(),
        other => other.to_owned(),
    }
}

/// Splits, expands and de-duplicates a space-delimited scope list, keeping first-seen order.
pub fn normalize_scopes<'a>(scopes: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in scopes.into_iter().flat_map(|s| s.split_whitespace()) {
        let s = expand_scope(s);
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientKind {
    Web,
    Ios,
    /// Google Cloud Console's "Desktop app" (an installed client): loopback redirects on any
    /// port, a client secret that is not confidential, PKCE.
    Desktop,
}

#[derive(Debug, Clone)]
pub struct Client {
    pub client_id: String,
    pub secret: Option<String>,
    pub kind: ClientKind,
    /// Exact redirect URIs (web). A desktop client takes any loopback URI instead; these are
    /// only what its client_secret.json lists.
    pub redirect_uris: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct User {
    pub sub: String,
    pub email: String,
    pub email_verified: bool,
    pub name: String,
    pub given_name: String,
    pub family_name: String,
    pub picture: String,
    pub locale: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hd: Option<String>,
}

/// Optional profile fields when creating a user or minting a code.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct UserSpec {
    pub email: String,
    pub name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub picture: Option<String>,
    pub locale: Option<String>,
    pub email_verified: Option<bool>,
}

/// A stable 21-digit subject per email, like Google's numeric `sub`.
pub fn sub_for_email(email: &str) -> String {
    let digest = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        email.trim().to_lowercase().as_bytes(),
    );
    let mut n: u128 = 0;
    for b in &digest.as_ref()[..16] {
        n = (n << 8) | u128::from(*b);
    }
    format!("1{:020}", n % 100_000_000_000_000_000_000)
}

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

#[derive(Debug, Clone)]
pub struct AccessRecord {
    pub grant_id: u64,
    pub expires_at: i64,
    pub scopes: Vec<String>,
}

/// Why a token request failed, in Google's vocabulary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub status: u16,
    pub error: &'static str,
    pub description: String,
}

impl OAuthError {
    pub fn new(status: u16, error: &'static str, description: impl Into<String>) -> Self {
        Self {
            status,
            error,
            description: description.into(),
        }
    }
    fn bad_grant(description: &str) -> Self {
        Self::new(400, "invalid_grant", description)
    }
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

/// Parameters of an authorization-code redemption, already parsed from the form.
#[derive(Debug)]
pub struct CodeRedemption<'a> {
    pub code: &'a str,
    pub client_id: &'a str,
    pub redirect_uri: Option<&'a str>,
    pub code_verifier: Option<&'a str>,
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

    pub fn add_client(&mut self, client: Client) {
        self.clients.insert(client.client_id.clone(), client);
    }

    /// Creates the user for `spec.email`, or updates the fields given; the `sub` never changes.
    pub fn upsert_user(&mut self, spec: &UserSpec) -> Result<User, OAuthError> {
        let email = spec.email.trim().to_lowercase();
        if !valid_email(&email) {
            return Err(OAuthError::new(
                400,
                "invalid_request",
                "email must look like name@domain",
            ));
        }
        let sub = sub_for_email(&email);
        let domain = email.rsplit('@').next().unwrap_or_default().to_owned();
        let hd = self
            .workspace_domain
            .as_ref()
            .filter(|d| **d == domain)
            .cloned();
        let existing = self.users.get(&sub).cloned();
        let local = email.split('@').next().unwrap_or_default();
        let mut user = existing.unwrap_or_else(|| {
            let name = title_case(local);
            User {
                sub: sub.clone(),
                email: email.clone(),
                email_verified: true,
                given_name: name.split(' ').next().unwrap_or_default().to_owned(),
                family_name: name
                    .split_once(' ')
                    .map(|(_, f)| f.to_owned())
                    .unwrap_or_default(),
                name,
                picture: format!(
                    "https://lh3.googleusercontent.com/a/{}=s96-c",
                    &sha256_b64url(email.as_bytes())[..28]
                ),
                locale: "en".to_owned(),
                hd: hd.clone(),
            }
        });
        if let Some(name) = &spec.name {
            user.name = name.clone();
            let (given, family) = name.trim().split_once(' ').unwrap_or((name.trim(), ""));
            user.given_name = given.to_owned();
            user.family_name = family.trim().to_owned();
        }
        if let Some(v) = &spec.given_name {
            user.given_name = v.clone();
        }
        if let Some(v) = &spec.family_name {
            user.family_name = v.clone();
        }
        if let Some(v) = &spec.picture {
            user.picture = v.clone();
        }
        if let Some(v) = &spec.locale {
            user.locale = v.clone();
        }
        if let Some(v) = spec.email_verified {
            user.email_verified = v;
        }
        self.subs_by_email.insert(email, sub.clone());
        self.users.insert(sub, user.clone());
        Ok(user)
    }

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

    fn live_refresh_grants(&self, pair: &(String, String)) -> impl Iterator<Item = &Grant> {
        self.grants_by_pair
            .get(pair)
            .into_iter()
            .flatten()
            .filter_map(|id| self.grants.get(id))
            .filter(|g| g.alive && g.refresh_token.is_some())
    }

    /// The oldest live refresh tokens beyond Google's per-client cap stop working.
    fn enforce_refresh_limit(&mut self, pair: &(String, String)) {
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

    fn issue_access(&mut self, grant_id: u64, scopes: Vec<String>, now: i64) -> String {
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

    /// Forgets expired codes and dead access tokens so long runs stay flat in memory. Used
    /// codes are kept while they could still be replayed, so a replay is still detected.
    fn sweep(&mut self, now: i64) {
        self.codes.retain(|_, c| now - c.issued_at <= CODE_SECS * 2);
        let grants = &self.grants;
        self.access
            .retain(|_, a| a.expires_at > now && grants.get(&a.grant_id).is_some_and(|g| g.alive));
    }
}

fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn title_case(local: &str) -> String {
    local
        .split(['.', '_', '-', '+'])
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = p.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db_with_user() -> (Db, User) {
        let mut db = Db::new(Some("example.com".into()));
        db.add_client(Client {
            client_id: "web".into(),
            secret: Some("s".into()),
            kind: ClientKind::Web,
            redirect_uris: vec![],
        });
        let user = db
            .upsert_user(&UserSpec {
                email: "Ada.Lovelace@example.com".into(),
                ..Default::default()
            })
            .expect("user");
        (db, user)
    }

    fn code(db: &mut Db, user: &User, offline: bool, force: bool, now: i64) -> String {
        db.insert_code(Code {
            user_sub: user.sub.clone(),
            client_id: "web".into(),
            azp: "ios".into(),
            scopes: normalize_scopes(["openid email profile"]),
            redirect: RedirectRule::ServerAuthCode {
                allow_postmessage: false,
            },
            pkce: None,
            offline,
            force_consent: force,
            nonce: None,
            issued_at: now,
            redeemed_by: None,
        })
    }

    fn redeem(db: &mut Db, code: &str, now: i64) -> Result<Issued, OAuthError> {
        db.redeem_code(
            &CodeRedemption {
                code,
                client_id: "web",
                redirect_uri: Some(""),
                code_verifier: None,
            },
            now,
        )
    }

    #[test]
    fn sub_is_21_digits_and_stable_per_email() {
        let a = sub_for_email("ada@example.com");
        assert_eq!(a.len(), 21, "Google subs are 21 digits: {a}");
        assert!(a.chars().all(|c| c.is_ascii_digit()));
        assert_eq!(
            a,
            sub_for_email(" ADA@example.com"),
            "the same email is the same user"
        );
        assert_ne!(a, sub_for_email("bob@example.com"));
    }

    #[test]
    fn user_defaults_derive_names_and_workspace_hd() {
        let (_, user) = db_with_user();
        assert_eq!(user.name, "Ada Lovelace");
        assert_eq!(user.given_name, "Ada");
        assert_eq!(user.family_name, "Lovelace");
        assert_eq!(
            user.hd.as_deref(),
            Some("example.com"),
            "hd only for the Workspace domain"
        );
    }

    #[test]
    fn used_code_is_refused_and_kills_what_it_issued() {
        let (mut db, user) = db_with_user();
        let c = code(&mut db, &user, true, true, 0);
        let issued = redeem(&mut db, &c, 1).expect("first redemption");
        let err = redeem(&mut db, &c, 2).expect_err("second redemption must fail");
        assert_eq!(err.error, "invalid_grant");
        assert!(
            db.access(&issued.access_token, 3).is_none(),
            "a replayed code must revoke the tokens it issued (RFC 6749 §4.1.2)"
        );
        let rt = issued
            .refresh_token
            .expect("offline + consent gives a refresh token");
        assert!(db.refresh(&rt, "web", None, 3).is_err());
    }

    #[test]
    fn expired_code_is_refused() {
        let (mut db, user) = db_with_user();
        let c = code(&mut db, &user, true, true, 0);
        let err = redeem(&mut db, &c, CODE_SECS + 1).expect_err("expired");
        assert_eq!(
            (err.error, err.description.as_str()),
            ("invalid_grant", "Bad Request")
        );
    }

    #[test]
    fn refresh_token_only_on_first_consent_or_prompt_consent() {
        let (mut db, user) = db_with_user();
        let first = code(&mut db, &user, true, false, 0);
        assert!(
            redeem(&mut db, &first, 0)
                .expect("ok")
                .refresh_token
                .is_some()
        );
        let again = code(&mut db, &user, true, false, 1);
        assert!(
            redeem(&mut db, &again, 1)
                .expect("ok")
                .refresh_token
                .is_none(),
            "without prompt=consent a returning user gets no new refresh token"
        );
        let forced = code(&mut db, &user, true, true, 2);
        assert!(
            redeem(&mut db, &forced, 2)
                .expect("ok")
                .refresh_token
                .is_some()
        );
        let online = code(&mut db, &user, false, true, 3);
        assert!(
            redeem(&mut db, &online, 3)
                .expect("ok")
                .refresh_token
                .is_none()
        );
    }

    #[test]
    fn idle_refresh_token_dies_after_six_months() {
        let (mut db, user) = db_with_user();
        let c = code(&mut db, &user, true, true, 0);
        let rt = redeem(&mut db, &c, 0)
            .expect("ok")
            .refresh_token
            .expect("rt");
        assert!(db.refresh(&rt, "web", None, REFRESH_IDLE_SECS).is_ok());
        let err = db
            .refresh(&rt, "web", None, 2 * REFRESH_IDLE_SECS + 1)
            .expect_err("idle");
        assert_eq!(err.description, "Token has been expired or revoked.");
    }

    #[test]
    fn over_the_per_client_limit_the_oldest_refresh_token_dies() {
        let (mut db, user) = db_with_user();
        let mut tokens = Vec::new();
        for i in 0..=REFRESH_TOKENS_PER_CLIENT_USER as i64 {
            let c = code(&mut db, &user, true, true, i);
            tokens.push(
                redeem(&mut db, &c, i)
                    .expect("ok")
                    .refresh_token
                    .expect("rt"),
            );
        }
        let now = REFRESH_TOKENS_PER_CLIENT_USER as i64 + 1;
        assert!(
            db.refresh(&tokens[0], "web", None, now).is_err(),
            "the oldest is invalidated"
        );
        assert!(db.refresh(&tokens[1], "web", None, now).is_ok());
    }

    #[test]
    fn revoking_an_access_token_kills_the_whole_grant() {
        let (mut db, user) = db_with_user();
        let c = code(&mut db, &user, true, true, 0);
        let issued = redeem(&mut db, &c, 0).expect("ok");
        assert!(db.revoke(&issued.access_token, 1));
        let rt = issued.refresh_token.expect("rt");
        assert!(
            db.refresh(&rt, "web", None, 1).is_err(),
            "the refresh token dies with the grant"
        );
        assert!(!db.revoke(&rt, 1), "revoking twice reports invalid_token");
    }

    #[test]
    fn refresh_rejects_wider_scope() {
        let (mut db, user) = db_with_user();
        let c = code(&mut db, &user, true, true, 0);
        let rt = redeem(&mut db, &c, 0)
            .expect("ok")
            .refresh_token
            .expect("rt");
        let narrowed = db
            .refresh(&rt, "web", Some("email"), 1)
            .expect("subset is fine");
        assert_eq!(narrowed.scopes, vec![SCOPE_EMAIL.to_owned()]);
        let err = db
            .refresh(&rt, "web", Some(SCOPE_DRIVE), 1)
            .expect_err("not granted");
        assert_eq!(err.error, "invalid_scope");
    }

    #[test]
    fn without_rotation_the_refresh_token_stays_the_same() {
        let (mut db, user) = db_with_user();
        let c = code(&mut db, &user, true, true, 0);
        let rt = redeem(&mut db, &c, 1)
            .expect("redeemed")
            .refresh_token
            .expect("rt");
        for now in 2..5 {
            let issued = db.refresh(&rt, "web", None, now).expect("refresh");
            assert!(
                issued.refresh_token.is_none(),
                "Google sends no new refresh token"
            );
        }
        assert_eq!(db.refresh_reuse_detected, 0);
    }

    #[test]
    fn rotation_issues_a_new_refresh_token_and_reuse_kills_the_grant() {
        let (mut db, user) = db_with_user();
        db.rotate_refresh_tokens = true;
        let c = code(&mut db, &user, true, true, 0);
        let rt1 = redeem(&mut db, &c, 1)
            .expect("redeemed")
            .refresh_token
            .expect("rt");
        let rt2 = db
            .refresh(&rt1, "web", None, 2)
            .expect("refresh with RT1")
            .refresh_token
            .expect("rotation hands out RT2");
        assert_ne!(rt1, rt2);
        let rt3 = db
            .refresh(&rt2, "web", None, 3)
            .expect("RT2 is the live one")
            .refresh_token
            .expect("and rotates again");
        assert_eq!(db.refresh_reuse_detected, 0, "nothing was reused yet");

        let err = db
            .refresh(&rt1, "web", None, 4)
            .expect_err("RT1 was rotated out");
        assert_eq!((err.status, err.error), (400, "invalid_grant"));
        assert_eq!(db.refresh_reuse_detected, 1, "the reuse is counted");
        assert!(
            db.refresh(&rt3, "web", None, 5).is_err(),
            "reuse detection kills the grant: the current refresh token dies too (Keycloak)"
        );
    }
}
