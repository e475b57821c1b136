//! Looking at tokens: any JWT decoded and verified check by check, or an access token asked
//! about at tokeninfo; and a stored token shown to a person who asked for it (audited first).

use std::sync::Arc;

use zeroize::Zeroizing;

use super::{Desk, DeskError, Result};
use crate::id_token::{IdTokenPolicy, Inspection};
use crate::oauth::{self, TokenInfo};
use crate::provider::Endpoints;
use crate::seal::SealKind;
use crate::secret::{AccessToken, IdTokenRaw};
use crate::store::{AuditAction, AuditOutcome};

/// What `inspect` found.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum InspectReport {
    Jwt(Inspection),
    AccessToken(TokenInfo),
}

/// Which token [`Desk::reveal`] shows.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevealWhich {
    AccessToken,
    RefreshToken,
}

impl RevealWhich {
    pub fn as_str(self) -> &'static str {
        match self {
            RevealWhich::AccessToken => "access_token",
            RevealWhich::RefreshToken => "refresh_token",
        }
    }
}

impl Desk {
    /// Decodes and verifies a JWT (every check with its result), or asks tokeninfo about an
    /// access token. Nothing is stored.
    pub async fn inspect(&self, client: Option<&str>, token: &str) -> Result<InspectReport> {
        let token = token.trim();
        if token.split('.').count() == 3 {
            let verifier = match self.client_row(client).await {
                Ok(c) => self.verifier(&c)?,
                Err(DeskError::NoClient) => {
                    // No client: check against Google with no audience of ours, so the report
                    // still shows the signature and every claim check.
                    let endpoints = Endpoints::google();
                    let policy = IdTokenPolicy::new(&endpoints, "").with_leeway(self.leeway);
                    Arc::new(self.verifier_for(policy, &endpoints))
                }
                Err(e) => return Err(e),
            };
            return Ok(InspectReport::Jwt(
                verifier.inspect(&IdTokenRaw::new(token)).await,
            ));
        }
        let endpoints = match self.client_row(client).await {
            Ok(c) => Self::endpoints_of(&c)?,
            Err(DeskError::NoClient) => Endpoints::google(),
            Err(e) => return Err(e),
        };
        let info = oauth::tokeninfo(&self.http, &endpoints, &AccessToken::new(token)).await?;
        Ok(InspectReport::AccessToken(info))
    }

    /// A user's token, for a person who asked for it explicitly. The audit entry is written
    /// first: a reveal that cannot be recorded does not happen. A failed reveal is audited too.
    pub async fn reveal(&self, query: &str, which: RevealWhich) -> Result<Zeroizing<String>> {
        let (user, grant, _) = self.user_and_grant(query, None).await?;
        let (kind, sealed) = match which {
            RevealWhich::AccessToken => (SealKind::AccessToken, &grant.access_token_sealed),
            RevealWhich::RefreshToken => (SealKind::RefreshToken, &grant.refresh_token_sealed),
        };
        let opened = match sealed {
            Some(s) => Some(
                self.sealer()
                    .await
                    .and_then(|sealer| Ok(sealer.open_string(kind, grant.uid.as_str(), s)?)),
            ),
            None => None,
        };
        let outcome = if matches!(opened, Some(Ok(_))) {
            AuditOutcome::Ok
        } else {
            AuditOutcome::Failed
        };
        let entry = self.audit_entry(
            AuditAction::Reveal,
            Some(&user),
            outcome,
            Some(which.as_str().to_owned()),
        );
        self.audit_first(entry, "token").await?;
        match opened {
            Some(result) => result,
            None => Err(DeskError::TokenMissing {
                sub: user.sub.clone(),
                which: which.as_str(),
                advice: "the grant holds none (revoked, refused, or never issued)",
            }),
        }
    }
}
