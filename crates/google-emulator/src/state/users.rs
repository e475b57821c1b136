//! The test users who sign in: their Google profile, the stable numeric `sub` per email, and
//! how a user is created or updated from an email and optional profile fields.

use serde::{Deserialize, Serialize};

use super::{Db, OAuthError};
use crate::keys::sha256_b64url;

/// A test person's Google account, as the emulator (standing in for Google) keeps it: what its
/// ID tokens will state. Not a TokenDesk user: that exists only once a code was exchanged.
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

impl Db {
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
