//! Refreshing: one grant, or every live one. Concurrent callers of one grant share one
//! request, across tasks (a turn per grant in this process) and across processes or replicas
//! (the storage's grant lock): with a provider that rotates refresh tokens, sending one twice is
//! reuse, which kills the grant.
//!
//! A rotated refresh token is stored the moment it arrives, before the ID token is verified
//! (crash point `refresh_after_rt_commit`); the access token, the profile the refreshed ID token
//! states and the audit entry commit together (`refresh_after_commit`), grouped with the other
//! refreshes finishing at the same time where the storage can.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError};

use super::exchange::profile_of;
use super::{Desk, DeskError, RefreshAllReport, RefreshOutcome, Result, UserView, crash_point};
use crate::id_token::{IdTokenError, SignedInAs};
use crate::oauth::{self, TokenSet};
use crate::seal::SealKind;
use crate::secret::{AccessToken, RefreshToken};
use crate::storage::{RefreshStateChange, RefreshSuccess};
use crate::store::{AuditAction, AuditOutcome, Client, Grant, GrantUid, RefreshTokenState, User};

/// Stops [`Desk::refresh_all`] from starting more refreshes (the window's Stop button, Ctrl-C);
/// those under way finish.
#[derive(Debug, Clone, Default)]
pub struct StopFlag(Arc<AtomicBool>);

impl StopFlag {
    pub fn stop(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_stopped(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// Resolves once the flag is set (looked at every 100 ms): for a `select!` beside work
    /// that cannot look at the flag itself.
    pub async fn stopped(&self) {
        while !self.is_stopped() {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}

/// How a refresh under the grant's lock ended.
pub(super) enum Refreshed {
    /// This call refreshed: Google's answer.
    Now(TokenSet),
    /// The grant had moved on while this call waited (another process or task refreshed or
    /// re-consented it); this is it as stored now.
    ByAnother(Grant),
}

impl Desk {
    /// This process's turn for `grant`: callers queue here asynchronously, and only the one
    /// whose turn it is waits for the storage's lock.
    fn turn(&self, grant: &Grant) -> Arc<tokio::sync::Mutex<()>> {
        let mut turns = self.turns.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(turns.entry(grant.uid.as_str().to_owned()).or_default())
    }

    /// Refreshes one user's access token. Concurrent calls for one grant share one request.
    pub async fn refresh(&self, query: &str, client: Option<&str>) -> Result<UserView> {
        let (user, grant, client) = self.user_and_grant(query, client).await?;
        self.refresh_kept(&user, &grant, &client).await?;
        self.view_of_grant(&grant.uid).await
    }

    /// A refresh by hand or of `refresh --all`: [`Self::refresh_exclusive`] with its HTTP
    /// kept in the user's log.
    async fn refresh_kept(&self, user: &User, grant: &Grant, client: &Client) -> Result<Refreshed> {
        self.with_http_log(
            user,
            client,
            AuditAction::Refresh,
            self.refresh_exclusive(user, grant, client),
        )
        .await
    }

    /// [`Self::refresh_kept`] as one user's line of a `refresh --all` report.
    async fn refresh_outcome(&self, user: &User, grant: &Grant, client: &Client) -> RefreshOutcome {
        let result = self.refresh_kept(user, grant, client).await;
        RefreshOutcome {
            sub: user.sub.clone(),
            email: user.email.clone(),
            ok: result.is_ok(),
            error: result.err().map(|e| e.code().to_owned()),
        }
    }

    /// Refreshes `seen` (the grant as the caller read it before waiting) holding the grant's
    /// lock. The grant is read again under the lock; one refreshed (or re-consented) since
    /// `seen`, by this process or another, is not refreshed again: its new tokens serve this
    /// caller too. That is the single flight. (Sealed values change on every write, a fresh
    /// nonce each time, so they tell whether the grant moved on.)
    pub(super) async fn refresh_exclusive(
        &self,
        user: &User,
        seen: &Grant,
        client: &Client,
    ) -> Result<Refreshed> {
        let turn = self.turn(seen);
        let _turn = turn.lock().await;
        let _held = self.storage.lock_grant(&seen.uid).await?;
        let grant = self
            .storage
            .grant(&seen.uid)
            .await?
            .unwrap_or_else(|| seen.clone());
        let moved_on = grant.access_token_sealed != seen.access_token_sealed
            || grant.refresh_token_sealed != seen.refresh_token_sealed;
        if moved_on && grant.refresh_token == RefreshTokenState::Present {
            return Ok(Refreshed::ByAnother(grant));
        }
        Ok(Refreshed::Now(
            self.refresh_locked(user, &grant, client).await?,
        ))
    }

    async fn refresh_locked(
        &self,
        user: &User,
        grant: &Grant,
        client: &Client,
    ) -> Result<TokenSet> {
        let unusable = |advice: &str| DeskError::RefreshTokenUnusable {
            sub: user.sub.clone(),
            state: grant.refresh_token,
            advice: advice.to_owned(),
        };
        match grant.refresh_token {
            RefreshTokenState::Present => {}
            RefreshTokenState::Absent => {
                return Err(unusable(
                    "the exchange returned none; the user must sign in again with offline access and consent",
                ));
            }
            RefreshTokenState::Revoked => {
                return Err(unusable(
                    "the grant was revoked; the user must sign in again",
                ));
            }
            RefreshTokenState::PendingRevocation => {
                return Err(unusable(
                    "a revocation is pending; retry `tokendesk revoke`",
                ));
            }
            RefreshTokenState::Invalid => {
                return Err(unusable(
                    grant
                        .invalid_reason
                        .as_deref()
                        .unwrap_or("Google refused it; the user must sign in again"),
                ));
            }
        }
        let sealer = self.sealer().await?;
        let Some(sealed) = &grant.refresh_token_sealed else {
            return Err(DeskError::TokenMissing {
                sub: user.sub.clone(),
                which: "refresh token",
                advice: "the user must sign in again",
            });
        };
        let refresh_token = RefreshToken::new(
            sealer
                .open_string(SealKind::RefreshToken, grant.uid.as_str(), sealed)?
                .as_str(),
        );
        let oauth_client = self.oauth_client(client).await?;
        crash_point("refresh_before_send");
        let tokens = match oauth::refresh(&oauth_client, &refresh_token, None).await {
            Ok(t) => t,
            Err(err) => {
                let entry = self.audit_entry(
                    AuditAction::Refresh,
                    Some(user),
                    AuditOutcome::Failed,
                    Some(err.code().to_owned()),
                );
                if err.needs_reconsent() {
                    self.storage
                        .change_refresh_state(RefreshStateChange {
                            grant: grant.uid.clone(),
                            state: RefreshTokenState::Invalid,
                            reason: Some(err.explanation().summary),
                            drop_tokens: true,
                            audit: Some(entry),
                            now: self.now(),
                        })
                        .await?;
                } else if let Err(e) = self.storage.record_audit(entry, self.now()).await {
                    tracing::error!(code = e.code(), "could not write the audit log");
                }
                return Err(err.into());
            }
        };
        // A provider that rotates refresh tokens has just spent the old one: the new one is
        // stored before anything else (verifying can take a while).
        if let Some(new_rt) = &tokens.refresh_token {
            let sealed =
                sealer.seal_str(SealKind::RefreshToken, grant.uid.as_str(), new_rt.secret())?;
            self.storage
                .store_rotated_refresh_token(&grant.uid, sealed, self.now())
                .await?;
            crash_point("refresh_after_rt_commit");
        }
        // A refreshed ID token must name the same person and client (OIDC Core §12.2).
        let mut profile = None;
        if let Some(id_token) = &tokens.id_token {
            let signed_in_as = SignedInAs {
                issuer: user.issuer.clone(),
                sub: user.sub.clone(),
                // Grants from 0.1 did not record it: the user's sign-in claims did.
                azp: grant
                    .azp
                    .clone()
                    .or_else(|| user.claims["azp"].as_str().map(str::to_owned)),
            };
            match self
                .verifier(client)?
                .verify_refreshed_as(&signed_in_as, id_token)
                .await
            {
                Ok(verified) => profile = Some(profile_of(verified.claims())),
                Err(IdTokenError::RefreshChangedClaim { claim }) => {
                    self.audit(
                        AuditAction::Refresh,
                        Some(user),
                        AuditOutcome::Failed,
                        Some("refreshed_identity_changed".into()),
                    )
                    .await;
                    return Err(DeskError::RefreshedIdentityChanged { claim });
                }
                Err(err) => return Err(err.into()),
            }
        }
        let now = self.now();
        self.storage
            .save_refresh(RefreshSuccess {
                grant: grant.uid.clone(),
                access_token: sealer.seal_str(
                    SealKind::AccessToken,
                    grant.uid.as_str(),
                    tokens.access_token.secret(),
                )?,
                access_token_expires_at: tokens
                    .expires_in
                    .map(|d| now.plus_seconds(i64::try_from(d.as_secs()).unwrap_or(3600))),
                scopes: tokens.scopes.clone(),
                profile,
                audit: self.audit_entry(AuditAction::Refresh, Some(user), AuditOutcome::Ok, None),
                now,
            })
            .await?;
        crash_point("refresh_after_commit");
        Ok(tokens)
    }

    /// Every grant with a live refresh token, with its user and client: what `refresh --all`
    /// refreshes and the health sweep checks. Owned: a future holding borrows of the maps
    /// could not be sent across threads by callers that spawn it (the desktop's commands).
    pub(super) async fn refresh_targets(&self) -> Result<Vec<(User, Grant, Client)>> {
        let grants = self.storage.grants_to_refresh().await?;
        let clients = self.clients_by_uid().await?;
        let ids: Vec<_> = grants.iter().map(|g| g.user_id).collect();
        let users = self.users_by_id(&ids).await?;
        Ok(grants
            .into_iter()
            .filter_map(|g| {
                let user = users.get(&g.user_id)?.clone();
                let client = clients.get(g.client.as_str())?.clone();
                Some((user, g, client))
            })
            .collect())
    }

    /// Refreshes every user with a live refresh token, `concurrency` at a time. `progress` is
    /// called after each user; `stop` stops starting new ones.
    pub async fn refresh_all(
        &self,
        concurrency: usize,
        progress: impl Fn(usize, usize, &RefreshOutcome) + Send + Sync,
        stop: &StopFlag,
    ) -> Result<RefreshAllReport> {
        use futures_util::stream::{self, StreamExt as _};
        let targets = self.refresh_targets().await?;
        let total = targets.len();
        let done = AtomicUsize::new(0);
        let outcomes: Vec<Option<RefreshOutcome>> = stream::iter(targets)
            .map(|(user, grant, client)| {
                let (done, progress) = (&done, &progress);
                async move {
                    if stop.is_stopped() {
                        return None;
                    }
                    let outcome = self.refresh_outcome(&user, &grant, &client).await;
                    let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                    progress(n, total, &outcome);
                    Some(outcome)
                }
            })
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
        let mut report = RefreshAllReport {
            total,
            ..RefreshAllReport::default()
        };
        for o in outcomes {
            match o {
                None => report.skipped += 1,
                Some(o) => {
                    if o.ok {
                        report.refreshed += 1;
                    } else {
                        report.failed += 1;
                    }
                    report.outcomes.push(o);
                }
            }
        }
        Ok(report)
    }

    /// Refreshes one grant as one user of [`Desk::refresh_all`] is refreshed, for a caller
    /// that spreads "refresh every user" over several processes (the team server's replicas
    /// share the work through the database). A grant removed meanwhile is reported, not an
    /// error.
    pub async fn refresh_grant(&self, uid: &GrantUid) -> Result<RefreshOutcome> {
        let Some(grant) = self.storage.grant(uid).await? else {
            return Ok(RefreshOutcome {
                sub: String::new(),
                email: None,
                ok: false,
                error: Some("not_found".to_owned()),
            });
        };
        let user =
            self.storage
                .user(grant.user_id)
                .await?
                .ok_or_else(|| DeskError::UserNotFound {
                    query: format!("#{}", grant.user_id.0),
                })?;
        let client =
            self.storage
                .client(&grant.client)
                .await?
                .ok_or_else(|| DeskError::ClientNotFound {
                    name: grant.client.as_str().to_owned(),
                })?;
        Ok(self.refresh_outcome(&user, &grant, &client).await)
    }

    /// A live access token for the grant: the stored one while it has more than a minute left,
    /// else (or when `force_refresh`) a refreshed one.
    pub(super) async fn access_token(
        &self,
        user: &User,
        grant: &Grant,
        client: &Client,
        force_refresh: bool,
    ) -> Result<AccessToken> {
        let fresh = grant
            .access_token_expires_at
            .is_some_and(|t| t.unix() > self.now().unix() + 60);
        if !force_refresh
            && fresh
            && let Some(sealed) = &grant.access_token_sealed
        {
            let at = self.sealer().await?.open_string(
                SealKind::AccessToken,
                grant.uid.as_str(),
                sealed,
            )?;
            return Ok(AccessToken::new(at.as_str()));
        }
        match self.refresh_exclusive(user, grant, client).await? {
            Refreshed::Now(tokens) => Ok(tokens.access_token),
            Refreshed::ByAnother(grant) => {
                let sealed =
                    grant
                        .access_token_sealed
                        .as_ref()
                        .ok_or_else(|| DeskError::TokenMissing {
                            sub: user.sub.clone(),
                            which: "access token",
                            advice: "run `tokendesk refresh` for this user",
                        })?;
                let at = self.sealer().await?.open_string(
                    SealKind::AccessToken,
                    grant.uid.as_str(),
                    sealed,
                )?;
                Ok(AccessToken::new(at.as_str()))
            }
        }
    }
}
