//! Revoking a grant at Google (RFC 7009): any of its tokens kills the whole grant. Only an
//! answer that proves the grant dead (200, or `invalid_token`: already dead) marks it revoked
//! and drops its tokens; anything else leaves it pending revocation, to retry.

use super::view::RevokeResult;
use super::{Desk, DeskError, Result, RevokeReport};
use crate::oauth;
use crate::seal::SealKind;
use crate::secret::{AccessToken, RefreshToken};
use crate::storage::RefreshStateChange;
use crate::store::{AuditAction, AuditOutcome, Client, Grant, RefreshTokenState, User};

impl Desk {
    /// Revokes the user's grant at Google. The whole grant dies, not one token.
    pub async fn revoke(&self, query: &str, client: Option<&str>) -> Result<RevokeReport> {
        let (user, grant, client_row) = self.user_and_grant(query, client).await?;
        self.with_http_log_judged(
            &user,
            &client_row,
            AuditAction::Revoke,
            self.revoke_grant(&user, &grant, &client_row),
            |result| match result {
                Ok(report) if report.outcome != RevokeResult::Pending => AuditOutcome::Ok,
                _ => AuditOutcome::Failed,
            },
        )
        .await
    }

    async fn revoke_grant(
        &self,
        user: &User,
        grant: &Grant,
        client_row: &Client,
    ) -> Result<RevokeReport> {
        let sealer = self.sealer().await?;
        let uid = grant.uid.as_str();
        let refresh = grant
            .refresh_token_sealed
            .as_ref()
            .map(|s| sealer.open_string(SealKind::RefreshToken, uid, s))
            .transpose()?;
        let access = grant
            .access_token_sealed
            .as_ref()
            .map(|s| sealer.open_string(SealKind::AccessToken, uid, s))
            .transpose()?;
        let endpoints = Self::endpoints_of(client_row)?;
        let outcome = match (&refresh, &access) {
            (Some(rt), _) => {
                let rt = RefreshToken::new(rt.as_str());
                oauth::revoke(&self.http, &endpoints, (&rt).into()).await?
            }
            (None, Some(at)) => {
                let at = AccessToken::new(at.as_str());
                oauth::revoke(&self.http, &endpoints, (&at).into()).await?
            }
            (None, None) => {
                return Err(DeskError::TokenMissing {
                    sub: user.sub.clone(),
                    which: "token",
                    advice: "there is nothing to revoke (the grant holds no token)",
                });
            }
        };
        let dead = outcome.grant_is_dead();
        let entry = self.audit_entry(
            AuditAction::Revoke,
            Some(user),
            if dead {
                AuditOutcome::Ok
            } else {
                AuditOutcome::Failed
            },
            Some(outcome.code().to_owned()),
        );
        // Pending revocation needs the refresh token to retry with; a grant that had none
        // keeps its state (the audit entry says the revocation did not go through).
        let state = if dead {
            Some(RefreshTokenState::Revoked)
        } else if refresh.is_some() {
            Some(RefreshTokenState::PendingRevocation)
        } else {
            None
        };
        match state {
            Some(state) => {
                self.storage
                    .change_refresh_state(RefreshStateChange {
                        grant: grant.uid.clone(),
                        state,
                        reason: None,
                        drop_tokens: dead,
                        audit: Some(entry),
                        now: self.now(),
                    })
                    .await?;
            }
            None => self.storage.record_audit(entry, self.now()).await?,
        }
        Ok(RevokeReport {
            user: self.view_of_grant(&grant.uid).await?,
            outcome: match outcome {
                oauth::RevokeOutcome::Revoked => RevokeResult::Revoked,
                oauth::RevokeOutcome::AlreadyInvalid { .. } => RevokeResult::AlreadyInvalid,
                _ => RevokeResult::Pending,
            },
            message: outcome.message(),
        })
    }
}
