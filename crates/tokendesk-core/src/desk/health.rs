//! The health sweep: every grant with a live refresh token checked with the cheapest call
//! that proves it alive, access tokens about to expire refreshed, grants Google refuses marked;
//! and the "needs attention" list, read from the stored grants.
//!
//! The cheap call. While the stored access token has more than the expiry window left, the
//! check is tokeninfo on it: a read that changes nothing, takes no grant lock, mints no token
//! and writes nothing, and that Google answers `invalid_token` for once the grant is revoked
//! (revoking kills the grant's access tokens with it). Otherwise the check is a refresh,
//! through the same single-flight path as `tokendesk refresh` (the grant's lock, in the
//! process and in the storage, so replicas and the window never send one refresh token
//! twice): the refresh both proves the grant and renews the token that was about to expire.
//! A refresh token can only be checked by using it (Google has no tokeninfo for them).
//!
//! What marks a grant: only the refresh path's own verdict, Google's `invalid_grant` on a
//! refresh (the grant becomes `invalid` with Google's reason, its dead tokens dropped and the
//! refusal audited, as for a refresh by hand). tokeninfo's `invalid_token` alone marks
//! nothing: it sends the grant to a refresh, which decides. A timeout, a dropped connection, a
//! 429 or a 5xx is "unknown": nothing is changed, the next sweep tries again.

use std::sync::atomic::{AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};

use super::{Desk, DeskError, ErrorKind, Result, StopFlag, UserView};
use crate::oauth::{self, GoogleErrorCode, OAuthError};
use crate::seal::SealKind;
use crate::secret::AccessToken;
use crate::store::{AuditAction, AuditOutcome, Client, Grant, RefreshTokenState, Timestamp, User};

/// The window before expiry in which an access token counts as expiring (10 minutes).
pub const DEFAULT_EXPIRING_WITHIN_SECS: u64 = 600;
/// Users the "needs attention" list holds at most; `total` counts them all.
pub const ATTENTION_LIMIT: usize = 500;
/// Checks in a row that Google could not answer before a sweep stops starting more: when
/// Google is down, every further check would only wait out its retries.
pub const GIVE_UP_AFTER_UNKNOWN: usize = 8;

/// How to sweep.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HealthOptions {
    /// Grants checked at once (at least 1).
    pub concurrency: usize,
    /// An access token with less than this left (seconds) is refreshed by the sweep, and
    /// one that nothing can renew is listed as expiring.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub expiring_within_secs: u64,
}

impl Default for HealthOptions {
    fn default() -> Self {
        Self {
            concurrency: 4,
            expiring_within_secs: DEFAULT_EXPIRING_WITHIN_SECS,
        }
    }
}

view_enum! {
    /// Why a grant needs a person.
    AttentionReason {
        /// Revoked (by TokenDesk): the user must sign in again.
        Revoked => "revoked",
        /// Google refused the refresh token (revoked at Google, expired, deleted account...).
        Invalid => "invalid",
        /// A revocation was asked for and not confirmed: retry it.
        PendingRevocation => "pending_revocation",
        /// The grant lacks `drive.appdata`: Drive calls for this user fail.
        MissingDriveAppdata => "missing_drive_appdata",
        /// No refresh token, and the access token has expired or expires within the window:
        /// nothing can renew it.
        Expiring => "expiring",
    }
}

view_enum! {
    /// How one grant's check in a sweep ended.
    GrantCheck {
        /// tokeninfo knows its access token: the grant is alive.
        Healthy => "healthy",
        /// Refreshed (its access token was about to expire, or tokeninfo refused it).
        Refreshed => "refreshed",
        /// Google refused its refresh token: marked `invalid` (audited).
        Marked => "marked",
        /// Google could not be reached or answered 429/5xx: nothing changed; checked again
        /// next time.
        Unknown => "unknown",
        /// Another failure (the key, the store, the client's secret, a changed identity).
        Failed => "failed",
        /// Not checked: the sweep was stopped, or gave up while Google was unreachable.
        Skipped => "skipped",
    }
}

/// One user who needs attention, with why.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttentionItem {
    /// The user as the grant that needs attention shows them (its client, state, scopes).
    pub user: UserView,
    pub reasons: Vec<AttentionReason>,
}

/// The "needs attention" list: the grants whose users a person must look at.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NeedsAttention {
    /// Grants needing attention in all (the list holds at most [`ATTENTION_LIMIT`]).
    pub total: usize,
    /// Most recently changed first.
    pub users: Vec<AttentionItem>,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub expiring_within_secs: u64,
    /// RFC 3339: when the list was read.
    pub as_of: String,
}

/// One grant's check, when it did not end healthy or refreshed.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GrantHealth {
    pub sub: String,
    pub email: Option<String>,
    pub client: Option<String>,
    pub check: GrantCheck,
    /// The error's code (`invalid_grant`, `unavailable`, ...).
    pub error: Option<String>,
}

/// What a sweep did, and the list it left.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthReport {
    /// Grants with a live refresh token when the sweep began (the ones it checks).
    pub total: usize,
    pub healthy: usize,
    pub refreshed: usize,
    pub marked: usize,
    pub unknown: usize,
    pub failed: usize,
    pub skipped: usize,
    /// tokeninfo calls and refreshes sent (a tokeninfo refusal is followed by a refresh).
    pub tokeninfo_calls: usize,
    pub refresh_calls: usize,
    /// Every check that ended marked, unknown, failed or skipped.
    pub problems: Vec<GrantHealth>,
    /// Why the sweep stopped early, if it did.
    pub stopped: Option<String>,
    /// RFC 3339.
    pub started_at: String,
    pub finished_at: String,
    /// The list as the sweep left it.
    pub attention: NeedsAttention,
}

impl HealthReport {
    /// Whether Google could not answer for some grants (their health is unknown).
    pub fn has_unknown(&self) -> bool {
        self.unknown > 0 || self.skipped > 0
    }
}

/// Why `grant` needs a person, if it does; `expiring_before` bounds "about to expire". The
/// storage's `grants_needing_attention` selects the same grants.
pub fn attention_reasons(grant: &Grant, expiring_before: Timestamp) -> Vec<AttentionReason> {
    let mut reasons = Vec::new();
    match grant.refresh_token {
        RefreshTokenState::Present => {}
        RefreshTokenState::Revoked => reasons.push(AttentionReason::Revoked),
        RefreshTokenState::Invalid => reasons.push(AttentionReason::Invalid),
        RefreshTokenState::PendingRevocation => reasons.push(AttentionReason::PendingRevocation),
        RefreshTokenState::Absent => {
            if grant
                .access_token_expires_at
                .is_none_or(|t| t < expiring_before)
            {
                reasons.push(AttentionReason::Expiring);
            }
        }
    }
    if !grant.scopes.iter().any(|s| s == super::DRIVE_APPDATA_SCOPE) {
        reasons.push(AttentionReason::MissingDriveAppdata);
    }
    reasons
}

/// Called after each grant of a sweep: done, total, that grant's check.
pub type HealthProgress<'a> = &'a (dyn Fn(usize, usize, &GrantHealth) + Send + Sync);

/// What one check sent and how it ended.
struct Checked {
    check: GrantCheck,
    error: Option<String>,
    tokeninfo: bool,
    refresh: bool,
}

impl Desk {
    /// The "needs attention" list as the store holds it now (no call to Google).
    pub async fn needs_attention(&self, expiring_within_secs: u64) -> Result<NeedsAttention> {
        let now = self.now();
        let expiring_before =
            now.plus_seconds(i64::try_from(expiring_within_secs).unwrap_or(i64::MAX / 2));
        let (grants, total) = self
            .storage
            .grants_needing_attention(expiring_before, ATTENTION_LIMIT)
            .await?;
        let clients = self.clients_by_uid().await?;
        let ids: Vec<_> = grants.iter().map(|g| g.user_id).collect();
        let users = self.users_by_id(&ids).await?;
        let items = grants
            .iter()
            .filter_map(|g| {
                let user = users.get(&g.user_id)?;
                Some(AttentionItem {
                    user: UserView::of(user, Some(g), clients.get(g.client.as_str())),
                    reasons: attention_reasons(g, expiring_before),
                })
            })
            .filter(|item| !item.reasons.is_empty())
            .collect();
        Ok(NeedsAttention {
            total: usize::try_from(total).unwrap_or(usize::MAX),
            users: items,
            expiring_within_secs,
            as_of: now.to_rfc3339(),
        })
    }

    /// Checks every grant with a live refresh token (see the module's documentation),
    /// `options.concurrency` at a time; `progress` hears each; `stop` stops starting more.
    /// Audited as one `health_sweep` entry with the counts (each refresh and each grant marked
    /// also has its own `refresh` entry).
    pub async fn health_sweep(
        &self,
        options: HealthOptions,
        progress: impl Fn(usize, usize, &GrantHealth) + Send + Sync,
        stop: &StopFlag,
    ) -> Result<HealthReport> {
        use futures_util::stream::{self, StreamExt as _};
        let started_at = self.now();
        let targets = self.refresh_targets().await?;
        let total = targets.len();
        let done = AtomicUsize::new(0);
        // Unknown checks since the last answer from Google: past the limit the sweep stops.
        let unanswered = AtomicUsize::new(0);
        let gave_up = StopFlag::default();
        let within = options.expiring_within_secs;
        let results: Vec<(GrantHealth, Checked)> = stream::iter(targets)
            .map(|(user, grant, client)| {
                let (done, progress, unanswered, gave_up) =
                    (&done, &progress, &unanswered, &gave_up);
                async move {
                    let checked = if stop.is_stopped() || gave_up.is_stopped() {
                        Checked {
                            check: GrantCheck::Skipped,
                            error: None,
                            tokeninfo: false,
                            refresh: false,
                        }
                    } else {
                        self.check_grant(&user, &grant, &client, within).await
                    };
                    match checked.check {
                        GrantCheck::Unknown => {
                            if unanswered.fetch_add(1, Ordering::Relaxed) + 1
                                >= GIVE_UP_AFTER_UNKNOWN
                            {
                                gave_up.stop();
                            }
                        }
                        GrantCheck::Skipped => {}
                        _ => unanswered.store(0, Ordering::Relaxed),
                    }
                    let health = GrantHealth {
                        sub: user.sub.clone(),
                        email: user.email.clone(),
                        client: Some(client.name.clone()),
                        check: checked.check,
                        error: checked.error.clone(),
                    };
                    let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                    progress(n, total, &health);
                    (health, checked)
                }
            })
            .buffer_unordered(options.concurrency.max(1))
            .collect()
            .await;

        let attention = self.needs_attention(within).await?;
        let mut report = HealthReport {
            total,
            healthy: 0,
            refreshed: 0,
            marked: 0,
            unknown: 0,
            failed: 0,
            skipped: 0,
            tokeninfo_calls: 0,
            refresh_calls: 0,
            problems: Vec::new(),
            stopped: if gave_up.is_stopped() {
                Some(format!(
                    "Google did not answer {GIVE_UP_AFTER_UNKNOWN} checks in a row; the rest \
                     were skipped (nothing was changed for them): try again later"
                ))
            } else if stop.is_stopped() {
                Some("stopped by request".to_owned())
            } else {
                None
            },
            started_at: started_at.to_rfc3339(),
            finished_at: self.now().to_rfc3339(),
            attention,
        };
        for (health, checked) in results {
            report.tokeninfo_calls += usize::from(checked.tokeninfo);
            report.refresh_calls += usize::from(checked.refresh);
            let counter = match health.check {
                GrantCheck::Healthy => &mut report.healthy,
                GrantCheck::Refreshed => &mut report.refreshed,
                GrantCheck::Marked => &mut report.marked,
                GrantCheck::Unknown => &mut report.unknown,
                GrantCheck::Failed => &mut report.failed,
                GrantCheck::Skipped => &mut report.skipped,
            };
            *counter += 1;
            if !matches!(health.check, GrantCheck::Healthy | GrantCheck::Refreshed) {
                report.problems.push(health);
            }
        }
        let outcome = if report.failed > 0 || report.unknown > 0 || report.skipped > 0 {
            AuditOutcome::Failed
        } else {
            AuditOutcome::Ok
        };
        self.audit(
            AuditAction::HealthSweep,
            None,
            outcome,
            Some(format!(
                "{} grant(s): {} healthy, {} refreshed, {} marked invalid, {} unknown, {} failed, \
                 {} skipped; {} need attention",
                report.total,
                report.healthy,
                report.refreshed,
                report.marked,
                report.unknown,
                report.failed,
                report.skipped,
                report.attention.total
            )),
        )
        .await;
        Ok(report)
    }

    /// One grant's check: tokeninfo while its access token has more than `within` seconds
    /// left, else (or when tokeninfo refuses the token) a refresh.
    async fn check_grant(
        &self,
        user: &User,
        grant: &Grant,
        client: &Client,
        within: u64,
    ) -> Checked {
        self.with_http_log_judged(
            user,
            client,
            AuditAction::HealthSweep,
            self.check_grant_recorded(user, grant, client, within),
            |checked| match checked.check {
                GrantCheck::Healthy | GrantCheck::Refreshed => AuditOutcome::Ok,
                _ => AuditOutcome::Failed,
            },
        )
        .await
    }

    async fn check_grant_recorded(
        &self,
        user: &User,
        grant: &Grant,
        client: &Client,
        within: u64,
    ) -> Checked {
        let mut tokeninfo = false;
        let live_until = self
            .now()
            .plus_seconds(i64::try_from(within).unwrap_or(i64::MAX / 2));
        let live = grant
            .access_token_expires_at
            .is_some_and(|t| t > live_until);
        if live && grant.access_token_sealed.is_some() {
            tokeninfo = true;
            match self.tokeninfo_of(grant, client).await {
                Ok(()) => {
                    return Checked {
                        check: GrantCheck::Healthy,
                        error: None,
                        tokeninfo,
                        refresh: false,
                    };
                }
                // Refused: the token died before its time, as when the grant is revoked. Only
                // the refresh can tell; it marks the grant if Google refuses that too.
                Err(DeskError::OAuth(e))
                    if matches!(
                        &*e,
                        OAuthError::Server {
                            code: GoogleErrorCode::InvalidToken,
                            ..
                        }
                    ) => {}
                Err(err) => {
                    return Checked {
                        check: classify(&err),
                        error: Some(err.code().to_owned()),
                        tokeninfo,
                        refresh: false,
                    };
                }
            }
        }
        let result = self.refresh_exclusive(user, grant, client).await;
        Checked {
            check: match &result {
                Ok(_) => GrantCheck::Refreshed,
                Err(err) => classify(err),
            },
            error: result.err().map(|e| e.code().to_owned()),
            tokeninfo,
            refresh: true,
        }
    }

    async fn tokeninfo_of(&self, grant: &Grant, client: &Client) -> Result<()> {
        let Some(sealed) = &grant.access_token_sealed else {
            return Ok(());
        };
        let token =
            self.sealer()
                .await?
                .open_string(SealKind::AccessToken, grant.uid.as_str(), sealed)?;
        let endpoints = Self::endpoints_of(client)?;
        oauth::tokeninfo(&self.http, &endpoints, &AccessToken::new(token.as_str())).await?;
        Ok(())
    }
}

/// A failed check's outcome: Google's refusal of the refresh token marked the grant; what
/// Google could not answer is unknown; the rest failed.
fn classify(err: &DeskError) -> GrantCheck {
    match err {
        DeskError::OAuth(e) if e.needs_reconsent() => GrantCheck::Marked,
        // Marked meanwhile (by another sweep or a refresh by hand).
        DeskError::RefreshTokenUnusable { .. } => GrantCheck::Marked,
        e if e.kind() == ErrorKind::Unavailable => GrantCheck::Unknown,
        _ => GrantCheck::Failed,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::store::{ClientUid, GrantUid, UserId};

    fn grant(state: RefreshTokenState, expires: Option<i64>, drive: bool) -> Grant {
        let mut scopes = vec!["openid".to_owned()];
        if drive {
            scopes.push(super::super::DRIVE_APPDATA_SCOPE.to_owned());
        }
        Grant {
            uid: GrantUid::parse("g_0123456789abcdef0123456789abcdef").unwrap(),
            user_id: UserId(1),
            client: ClientUid::parse("c_fedcba9876543210fedcba9876543210").unwrap(),
            scopes,
            access_token_expires_at: expires.map(Timestamp::from_unix),
            refresh_token: state,
            invalid_reason: None,
            refresh_token_sealed: None,
            access_token_sealed: None,
            azp: None,
            created_at: Timestamp::from_unix(1),
            updated_at: Timestamp::from_unix(1),
        }
    }

    #[test]
    fn each_reason_comes_from_the_grant_alone() {
        use AttentionReason as R;
        use RefreshTokenState as S;
        let bound = Timestamp::from_unix(1000);
        let reasons =
            |state, expires, drive| attention_reasons(&grant(state, expires, drive), bound);
        assert!(
            reasons(S::Present, Some(10), true).is_empty(),
            "a live refresh token renews an expired access token: nothing to do"
        );
        assert_eq!(
            reasons(S::Present, Some(5000), false),
            [R::MissingDriveAppdata]
        );
        assert_eq!(reasons(S::Invalid, Some(5000), true), [R::Invalid]);
        assert_eq!(reasons(S::Revoked, None, true), [R::Revoked]);
        assert_eq!(
            reasons(S::PendingRevocation, Some(5000), true),
            [R::PendingRevocation]
        );
        assert_eq!(
            reasons(S::Absent, Some(999), false),
            [R::Expiring, R::MissingDriveAppdata],
            "no refresh token and an access token about to go: nothing can renew it"
        );
        assert!(reasons(S::Absent, Some(5000), true).is_empty());
        assert_eq!(reasons(S::Absent, None, true), [R::Expiring]);
    }
}
