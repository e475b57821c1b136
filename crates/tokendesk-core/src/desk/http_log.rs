//! Each user's operations as HTTP: every request an operation sends (the token endpoint, the
//! keys, tokeninfo, Drive, revocation) is recorded masked while it runs and kept with the
//! user, whatever the outcome; the user page shows them and turns any one into a curl command.
//! The command carries shell variables where secrets were; revealing fills in the values
//! stored now, audited first, like any reveal.

use std::future::Future;

use serde::Serialize;

use super::{Desk, DeskError, Result};
use crate::oauth::{RawExchange, RawLog, SecretSlot, to_curl};
use crate::seal::SealKind;
use crate::store::{
    AuditAction, AuditOutcome, Client, HTTP_LOG_KEEP, HttpLogEntry, NewHttpLogEntry, User,
};

/// One recorded request as a curl command.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct CurlCommand {
    /// The command, for a POSIX shell.
    pub command: String,
    /// Secrets left as shell variables (`$REFRESH_TOKEN`...): set them before running it.
    pub variables: Vec<SecretSlot>,
    /// Secrets written into the command (revealed, as stored now): it is a password.
    pub revealed: Vec<SecretSlot>,
    /// What to know before running it.
    pub notes: Vec<String>,
}

impl std::fmt::Debug for CurlCommand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CurlCommand")
            .field(
                "command",
                &if self.revealed.is_empty() {
                    self.command.as_str()
                } else {
                    crate::secret::MASKED
                },
            )
            .field("variables", &self.variables)
            .field("revealed", &self.revealed)
            .finish_non_exhaustive()
    }
}

/// The secrets a revealed command can carry: those the store holds now.
fn revealable(slot: SecretSlot) -> bool {
    matches!(
        slot,
        SecretSlot::ClientSecret
            | SecretSlot::RefreshToken
            | SecretSlot::AccessToken
            | SecretSlot::Token
    )
}

impl Desk {
    /// Runs `work` (an operation on `user` as `client`) recording the HTTP of every call it
    /// makes, and keeps that in the user's log with the outcome. Keeping is best effort: a
    /// failure to write it is logged and never becomes the operation's.
    pub(super) async fn with_http_log<T>(
        &self,
        user: &User,
        client: &Client,
        action: AuditAction,
        work: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        self.with_http_log_judged(user, client, action, work, |result| {
            if result.is_ok() {
                AuditOutcome::Ok
            } else {
                AuditOutcome::Failed
            }
        })
        .await
    }

    /// [`Self::with_http_log`] for work whose outcome `judge` reads from what it returns
    /// (a revocation left pending, a sweep's check that marked the grant).
    pub(super) async fn with_http_log_judged<T>(
        &self,
        user: &User,
        client: &Client,
        action: AuditAction,
        work: impl Future<Output = T>,
        judge: impl FnOnce(&T) -> AuditOutcome,
    ) -> T {
        let log = RawLog::new();
        let done = log.record(work).await;
        let outcome = judge(&done);
        self.keep_http_log(user, Some(client), action, outcome, log.take())
            .await;
        done
    }

    /// Keeps an operation's recorded exchanges for `user` (nothing when there are none).
    pub(super) async fn keep_http_log(
        &self,
        user: &User,
        client: Option<&Client>,
        action: AuditAction,
        outcome: AuditOutcome,
        exchanges: Vec<RawExchange>,
    ) {
        if exchanges.is_empty() {
            return;
        }
        let entry = NewHttpLogEntry {
            user_id: user.id,
            actor: self.acting(),
            client: client.map(|c| c.name.clone()),
            action,
            outcome,
            exchanges,
        };
        if let Err(err) = self
            .storage
            .keep_http(entry, HTTP_LOG_KEEP, self.now())
            .await
        {
            tracing::warn!(
                code = err.code(),
                "could not keep the operation's HTTP for the user's page"
            );
        }
    }

    /// The user's recent operations as HTTP (secrets masked), newest first.
    pub async fn user_http(&self, query: &str, limit: usize) -> Result<Vec<HttpLogEntry>> {
        let user = self.find_user(query).await?;
        Ok(self
            .storage
            .http_log(user.id, limit.min(HTTP_LOG_KEEP))
            .await?)
    }

    /// Request `index` of the user's operation `entry` as a curl command. Masked secrets are
    /// shell variables; with `reveal`, the client secret and the grant's tokens as stored now
    /// are written in (audited first: a reveal that cannot be recorded does not happen).
    /// A code and a PKCE verifier were single-use and stay variables.
    pub async fn http_curl(
        &self,
        query: &str,
        entry: i64,
        index: usize,
        reveal: bool,
    ) -> Result<CurlCommand> {
        let user = self.find_user(query).await?;
        let not_kept = || DeskError::HttpEntryNotKept {
            entry,
            index,
            keep: HTTP_LOG_KEEP,
        };
        let kept = self
            .storage
            .http_log_entry(user.id, entry)
            .await?
            .ok_or_else(not_kept)?;
        let raw = kept.exchanges.get(index).ok_or_else(not_kept)?;
        let masked = to_curl(raw, &|_| None);
        let wanted: Vec<SecretSlot> = masked
            .variables
            .iter()
            .copied()
            .filter(|s| revealable(*s))
            .collect();
        let curl = if reveal && !wanted.is_empty() {
            let values = self.current_secrets(query, &kept, &user, &wanted).await?;
            to_curl(raw, &|slot| {
                values
                    .iter()
                    .find(|(s, _)| *s == slot)
                    .map(|(_, v)| v.to_string())
            })
        } else {
            masked
        };
        let mut notes = Vec::new();
        if !curl.variables.is_empty() {
            let names: Vec<String> = curl
                .variables
                .iter()
                .map(|s| format!("${}", s.variable()))
                .collect();
            notes.push(format!("Set {} before running it.", names.join(", ")));
        }
        if curl.variables.iter().any(|s| s.single_use()) {
            notes.push(
                "The authorization code and its PKCE verifier were spent by this call: Google \
                 refuses them a second time (invalid_grant)."
                    .to_owned(),
            );
        }
        if !curl.filled.is_empty() {
            notes.push(
                "It carries secrets as stored now (not necessarily those sent then): treat it \
                 as a password, and do not keep it in shell history."
                    .to_owned(),
            );
        } else if reveal && !wanted.is_empty() {
            notes.push("The grant holds none of these secrets now (revoked?).".to_owned());
        }
        if curl.body_not_kept {
            notes.push(
                "The request body (not a form) was not kept: add it (--data-binary @FILE) \
                 to send it again."
                    .to_owned(),
            );
        }
        Ok(CurlCommand {
            command: curl.command,
            variables: curl.variables,
            revealed: curl.filled,
            notes,
        })
    }

    /// The stored values of `wanted` for the grant `kept` was made with, after an audit
    /// entry that says which. A slot the store holds no value for is left out.
    async fn current_secrets(
        &self,
        query: &str,
        kept: &HttpLogEntry,
        user: &User,
        wanted: &[SecretSlot],
    ) -> Result<Vec<(SecretSlot, zeroize::Zeroizing<String>)>> {
        let (_, grant, client) = self.user_and_grant(query, kept.client.as_deref()).await?;
        let names: Vec<&str> = wanted.iter().map(|s| s.variable()).collect();
        let entry = self.audit_entry(
            AuditAction::Reveal,
            Some(user),
            AuditOutcome::Ok,
            Some(format!(
                "curl of {} #{}: {}",
                kept.action.as_str(),
                kept.id,
                names.join(", ").to_lowercase()
            )),
        );
        self.audit_first(entry, "command").await?;
        let sealer = self.sealer().await?;
        let uid = grant.uid.as_str();
        let open = |kind, sealed: &Option<crate::seal::SealedSecret>, owner: &str| {
            sealed
                .as_ref()
                .map(|s| sealer.open_string(kind, owner, s))
                .transpose()
        };
        let refresh = open(SealKind::RefreshToken, &grant.refresh_token_sealed, uid)?;
        let access = open(SealKind::AccessToken, &grant.access_token_sealed, uid)?;
        let secret = open(
            SealKind::ClientSecret,
            &client.secret_sealed,
            client.uid.as_str(),
        )?;
        let mut values = Vec::new();
        for slot in wanted {
            let value = match slot {
                SecretSlot::ClientSecret => secret.clone(),
                SecretSlot::RefreshToken => refresh.clone(),
                SecretSlot::AccessToken => access.clone(),
                // Revocation sends the refresh token when the grant has one.
                SecretSlot::Token => refresh.clone().or_else(|| access.clone()),
                _ => None,
            };
            if let Some(value) = value {
                values.push((*slot, value));
            }
        }
        Ok(values)
    }
}
