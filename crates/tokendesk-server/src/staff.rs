//! Staff identity: who may sign in to the admin API. Staff sign in with the staff provider
//! (Google Workspace in production, the emulator in tests) through a Desktop-app OAuth client
//! that the CLI and the window drive (loopback redirect, PKCE); the server only checks the ID
//! token they bring back, with the same verifier as users' tokens: signature, issuer,
//! audience = the staff client, expiry; then `email_verified`, the Workspace domain (`hd`)
//! when one is set, and the email on the staff list.

use std::sync::Arc;

use tokendesk_core::api::LoginConfig;
use tokendesk_core::desk::{Desk, DeskError, Verifier};
use tokendesk_core::id_token::IdTokenPolicy;
use tokendesk_core::provider::{Endpoints, canonical_issuer};
use tokendesk_core::secret::IdTokenRaw;

/// How staff sign in (`server run --staff-issuer --staff-client-id [--staff-domain]`).
#[derive(Clone)]
pub struct StaffConfig {
    /// The staff provider's issuer: `https://accounts.google.com` for Google Workspace.
    pub issuer: String,
    /// The Desktop-app OAuth client staff sign in with.
    pub client_id: String,
    /// Its secret. Google issues one to installed apps and wants it at the token endpoint,
    /// but it is not confidential (RFC 8252 §8.5): it is handed to every client that asks.
    pub client_secret: Option<String>,
    /// Only accounts of this Google Workspace domain (the ID token's `hd`).
    pub domain: Option<String>,
}

impl std::fmt::Debug for StaffConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaffConfig")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("domain", &self.domain)
            .finish_non_exhaustive()
    }
}

/// The staff provider, ready to check sign-ins.
#[derive(Debug)]
pub struct StaffProvider {
    config: StaffConfig,
    endpoints: Endpoints,
    verifier: Arc<Verifier>,
}

/// Why a sign-in was refused. Shown to the person signing in: says what to do.
#[derive(Debug, thiserror::Error)]
pub enum SignInRefused {
    #[error("the staff ID token did not verify ({0}); sign in again")]
    Unverified(String),
    #[error(
        "the account's email is not verified by the staff provider; use a verified work \
         account"
    )]
    EmailUnverified,
    #[error(
        "the account is not in the staff domain {expected} (its domain: {found}); sign in with \
         your {expected} account"
    )]
    WrongDomain { expected: String, found: String },
    #[error(
        "{email} is not on this server's staff list; ask an admin to run `tokendesk server \
         staff add {email} --role viewer`"
    )]
    NotStaff { email: String },
}

impl StaffProvider {
    /// The provider's endpoints: Google's own for Google, else its discovery document.
    pub async fn connect(desk: &Desk, config: StaffConfig) -> Result<Self, DeskError> {
        let endpoints =
            if canonical_issuer(&config.issuer) == canonical_issuer(Endpoints::google().issuer()) {
                Endpoints::google()
            } else {
                desk.discover(&config.issuer, None).await?
            };
        let policy = IdTokenPolicy::new(&endpoints, config.client_id.clone());
        let verifier = Arc::new(desk.verifier_for(policy, &endpoints));
        Ok(Self {
            config,
            endpoints,
            verifier,
        })
    }

    /// What clients need to run the sign-in (`GET /api/v1/login`).
    pub fn login_config(&self) -> LoginConfig {
        LoginConfig {
            issuer: self.endpoints.issuer().to_owned(),
            authorization_endpoint: self.endpoints.authorization.to_string(),
            token_endpoint: self.endpoints.token.to_string(),
            client_id: self.config.client_id.clone(),
            client_secret: self.config.client_secret.clone(),
            scopes: vec!["openid".into(), "email".into(), "profile".into()],
            hd: self.config.domain.clone(),
        }
    }

    /// The staff member's email (lower case) from a sign-in's ID token, checked. Whether the
    /// email is on the staff list is the caller's question (a database read).
    pub async fn verify(&self, id_token: &str) -> Result<String, SignInRefused> {
        let raw = IdTokenRaw::new(id_token.to_owned());
        let verified = self
            .verifier
            .verify(&raw)
            .await
            .map_err(|e| SignInRefused::Unverified(e.to_string()))?;
        let claims = verified.claims();
        if claims.email_verified != Some(true) {
            return Err(SignInRefused::EmailUnverified);
        }
        let email = claims
            .email
            .as_deref()
            .ok_or(SignInRefused::EmailUnverified)?
            .trim()
            .to_lowercase();
        if let Some(expected) = &self.config.domain {
            let found = claims.hd.as_deref().unwrap_or("none (a personal account)");
            if !found.eq_ignore_ascii_case(expected) {
                return Err(SignInRefused::WrongDomain {
                    expected: expected.clone(),
                    found: found.to_owned(),
                });
            }
        }
        Ok(email)
    }
}
