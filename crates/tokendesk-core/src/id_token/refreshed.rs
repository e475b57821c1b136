//! A refreshed ID token checked against the sign-in it continues (OpenID Connect Core §12.2).

use super::{IdTokenError, IdTokenVerifier, JwksSource, VerifiedIdToken};
use crate::provider::canonical_issuer;
use crate::secret::IdTokenRaw;

/// Who the original sign-in's ID token named, as kept with the grant: a refreshed ID token
/// must name the same issuer, subject and authorized party.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedInAs {
    pub issuer: String,
    pub sub: String,
    pub azp: Option<String>,
}

impl SignedInAs {
    pub fn of(token: &VerifiedIdToken) -> Self {
        let c = token.claims();
        Self {
            issuer: c.iss.clone(),
            sub: c.sub.clone(),
            azp: c.azp.clone(),
        }
    }
}

impl<S: JwksSource> IdTokenVerifier<S> {
    /// Verifies an ID token from a refresh response against the original sign-in: iss, sub
    /// and azp unchanged (Google's two issuer forms are one issuer; an azp the original
    /// lacked is a change). The audience is this verifier's client, as it was. Profile claims
    /// (name, picture...) may be missing: Google drops them on refresh.
    pub async fn verify_refreshed_as(
        &self,
        original: &SignedInAs,
        token: &IdTokenRaw,
    ) -> Result<VerifiedIdToken, IdTokenError> {
        let refreshed = self.verify(token).await?;
        let new = refreshed.claims();
        let changed = if canonical_issuer(&original.issuer) != canonical_issuer(&new.iss) {
            Some("iss")
        } else if original.sub != new.sub {
            Some("sub")
        } else if original.azp != new.azp {
            Some("azp")
        } else {
            None
        };
        match changed {
            Some(claim) => Err(IdTokenError::RefreshChangedClaim { claim }),
            None => Ok(refreshed),
        }
    }
}
