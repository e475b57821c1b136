//! The code exchange, one [`Attempt`] per code, whose steps read top to bottom:
//!
//! 1. **claim** the code (one row per code's SHA-256: a code is sent to Google once);
//! 2. **redeem** it at Google's token endpoint; a failure that proves Google never redeemed it
//!    releases the claim, so the app may send the code again;
//! 3. **keep** Google's whole answer, sealed, in the exchange's row: from here a crash or an
//!    outage loses nothing (the answer is the most precious thing this program handles);
//! 4. **verify** the ID token; keys that are unreachable for now leave the answer kept and
//!    the exchange pending, and it is finished later (`finish_deferred`, at every open and
//!    every minute in a running receiver);
//! 5. **store** the user, the grant with its sealed tokens, the finished exchange and the
//!    audit entry, in one transaction.
//!
//! The crash points (`crates/tokendesk-cli/tests/crash`): `after_claim`, `after_token_kept`,
//! `after_commit`.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::view::IdTokenRecord;
use super::{Desk, DeskError, ExchangeReport, Result, UserView, crash_point};
use crate::id_token::{IdTokenError, VerifiedIdToken};
use crate::oauth::{self, OAuthClient, OAuthError, RawLog, RedirectChoice, TokenSet};
use crate::seal::SealKind;
use crate::secret::{AuthCode, IdTokenRaw};
use crate::storage::{ExchangeSuccess, Held};
use crate::store::{
    AuditAction, AuditOutcome, Claim, Client, CodeHash, Exchange, ExchangeFinish, ExchangeId,
    ExchangeOutcome, GrantUid, StoreError, UserProfile,
};

/// How long an interactive exchange waits for the provider's keys (a refetch cooldown, a
/// short outage) before it leaves the answer kept for later and says so.
const PATIENCE: Duration = Duration::from_secs(10);

/// Google's answer as it is kept, sealed, until it is verified and stored.
#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub(super) struct KeptAnswer {
    access_token: String,
    refresh_token: Option<String>,
    id_token: Option<String>,
    expires_in: Option<u64>,
    scopes: Vec<String>,
    /// When it arrived (seconds since the epoch): expiries count from there.
    received_at: i64,
    notes: Vec<String>,
}

impl KeptAnswer {
    /// A 0.1 exchange kept only the refresh token of its answer.
    pub(super) fn refresh_token_only(refresh_token: &str, received_at: i64) -> Self {
        Self {
            access_token: String::new(),
            refresh_token: Some(refresh_token.to_owned()),
            id_token: None,
            expires_in: None,
            scopes: Vec::new(),
            received_at,
            notes: Vec::new(),
        }
    }

    pub(super) fn to_json(&self) -> Result<Zeroizing<Vec<u8>>> {
        serde_json::to_vec(self)
            .map(Zeroizing::new)
            .map_err(|e| DeskError::KeptAnswerUnreadable {
                reason: e.to_string(),
            })
    }

    fn of(tokens: &TokenSet, received_at: i64) -> Self {
        Self {
            access_token: tokens.access_token.secret().to_owned(),
            refresh_token: tokens.refresh_token.as_ref().map(|t| t.secret().to_owned()),
            id_token: tokens.id_token.as_ref().map(|t| t.secret().to_owned()),
            expires_in: tokens.expires_in.map(|d| d.as_secs()),
            scopes: tokens.scopes.clone(),
            received_at,
            notes: tokens
                .refresh_token_absent
                .iter()
                .map(|why| why.summary.clone())
                .collect(),
        }
    }
}

/// How an exchange's verification may wait for keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Patience {
    /// A person or an app is waiting: wait out a short cooldown, then defer.
    Interactive,
    /// Finishing a deferred exchange: one try.
    Once,
}

/// One code's exchange from its claim to its end. Holds the exchange's lock for its life, so
/// another process starting meanwhile sees it live, not interrupted.
struct Attempt<'d> {
    desk: &'d Desk,
    client: Client,
    code: CodeHash,
    id: ExchangeId,
    log: RawLog,
    _held: Held,
}

impl Desk {
    /// Exchanges a code, verifies the ID token, and stores the user, grant and tokens.
    pub async fn exchange(
        &self,
        client: Option<&str>,
        code: AuthCode,
        redirect: RedirectChoice,
    ) -> Result<ExchangeReport> {
        self.exchange_logged(client, code, redirect, &RawLog::new())
            .await
    }

    /// [`exchange`](Self::exchange), recording the HTTP exchanges (secrets masked) in `log`,
    /// so that a caller can show them when it fails too.
    pub async fn exchange_logged(
        &self,
        client: Option<&str>,
        code: AuthCode,
        redirect: RedirectChoice,
        log: &RawLog,
    ) -> Result<ExchangeReport> {
        let client = self.client_row(client).await?;
        let oauth = self.oauth_client(&client).await?;
        let attempt = Attempt::claim(self, client, CodeHash::of(code.secret()), log).await?;
        let tokens = attempt.redeem(&oauth, code, redirect).await?;
        let answer = KeptAnswer::of(&tokens, self.now().unix());
        drop(tokens);
        attempt.keep(&answer).await;
        let verified = attempt.verify(&answer, Patience::Interactive).await?;
        attempt.store(&answer, &verified).await
    }

    /// Finishes the exchanges whose answer was kept but not yet stored: interrupted by a
    /// crash, or deferred because the provider's keys were unreachable. Skips those another
    /// process is working on. Returns how many were finished (stored or refused for good).
    pub async fn finish_deferred(&self) -> Result<usize> {
        let mut finished = 0;
        for ex in self.storage.pending_exchanges().await? {
            if ex.response_sealed.is_none() {
                continue;
            }
            match self.finish_kept(&ex).await {
                Ok(true) => finished += 1,
                Ok(false) => {}
                Err(err) => tracing::warn!(code = err.code(), "a kept exchange is not finished"),
            }
        }
        Ok(finished)
    }

    /// Finishes one kept exchange if no live process holds it. `Ok(false)`: left as it was
    /// (live elsewhere, or the keys still unreachable).
    pub(super) async fn finish_kept(&self, seen: &Exchange) -> Result<bool> {
        let Some(code) = seen.code() else {
            return Ok(false);
        };
        let Some(held) = self.storage.try_lock_exchange(code).await? else {
            return Ok(false);
        };
        // Read again under the lock: it may have finished just before.
        let Some(ex) = self.storage.exchange(seen.id).await? else {
            return Ok(false);
        };
        let (Some(sealed), ExchangeOutcome::Pending) = (&ex.response_sealed, ex.outcome) else {
            return Ok(false);
        };
        let client = match &ex.client {
            Some(uid) => self.storage.client(uid).await?,
            None => None,
        };
        let Some(client) = client else {
            return Err(DeskError::ClientNotFound {
                name: "(the client of a kept exchange was removed)".into(),
            });
        };
        let bytes = self
            .sealer()
            .await?
            .open(SealKind::TokenResponse, &code.row_name(), sealed)?;
        let answer: KeptAnswer =
            serde_json::from_slice(&bytes).map_err(|e| DeskError::KeptAnswerUnreadable {
                reason: e.to_string(),
            })?;
        let attempt = Attempt {
            desk: self,
            client,
            code,
            id: ex.id,
            log: RawLog::new(),
            _held: held,
        };
        match attempt.verify(&answer, Patience::Once).await {
            Ok(verified) => {
                attempt.store(&answer, &verified).await?;
                Ok(true)
            }
            Err(DeskError::VerificationDeferred { .. }) => Ok(false),
            // Refused for good: `verify` recorded it.
            Err(_) => Ok(true),
        }
    }

    /// What the user page shows of a verified ID token besides its claims: the header and every
    /// check the verifier runs, with its result (run again on the token just verified; the
    /// keys are cached). Never the signed token.
    async fn id_token_record(&self, client: &Client, id_token: &IdTokenRaw) -> IdTokenRecord {
        let inspection = match self.verifier(client) {
            Ok(verifier) => verifier.inspect(id_token).await,
            Err(_) => return IdTokenRecord::default(),
        };
        IdTokenRecord {
            header: inspection.unverified_header,
            checks: inspection.checks.into_iter().map(Into::into).collect(),
            valid: inspection.valid,
            verified_at: Some(self.now().to_rfc3339()),
        }
    }
}

impl<'d> Attempt<'d> {
    /// Step 1: the code's row. A code seen before is refused (`Replay`), unless its answer is
    /// kept waiting for the provider's keys: then the app is told to come back later.
    async fn claim(desk: &'d Desk, client: Client, code: CodeHash, log: &RawLog) -> Result<Self> {
        let held = desk.storage.lock_exchange(code).await?;
        match desk
            .storage
            .claim_code(code, &client.uid, desk.now())
            .await?
        {
            Claim::New(id) => {
                crash_point("after_claim");
                Ok(Self {
                    desk,
                    client,
                    code,
                    id,
                    log: log.clone(),
                    _held: held,
                })
            }
            Claim::Seen(seen) => {
                desk.audit(
                    AuditAction::Exchange,
                    None,
                    AuditOutcome::Denied,
                    Some("already_exchanged".into()),
                )
                .await;
                if seen.outcome == ExchangeOutcome::Pending && seen.response_sealed.is_some() {
                    return Err(DeskError::VerificationDeferred {
                        reason: "an earlier request with this code is being finished".into(),
                    });
                }
                Err(DeskError::Replay {
                    when: seen.created_at.to_rfc3339(),
                })
            }
        }
    }

    /// Step 2: Google's answer. A failure that proves the code never got redeemed releases the
    /// claim (the app may send the code again); one that may have redeemed it keeps the code
    /// spent, its outcome `unknown`.
    async fn redeem(
        &self,
        oauth: &OAuthClient,
        code: AuthCode,
        redirect: RedirectChoice,
    ) -> Result<TokenSet> {
        // The call to the token endpoint is what the exchange's raw view shows.
        let err = match self
            .log
            .record(oauth::exchange_code(oauth, code, redirect))
            .await
        {
            Ok(tokens) => return Ok(tokens),
            Err(err) => err,
        };
        if err.code_never_redeemed() {
            let entry = self.desk.audit_entry(
                AuditAction::Exchange,
                None,
                AuditOutcome::Failed,
                Some(format!(
                    "{} (the code was not redeemed; it may be sent again)",
                    err.code()
                )),
            );
            if let Err(e) = self
                .desk
                .storage
                .release_claim(self.id, entry, self.desk.now())
                .await
            {
                tracing::error!(code = e.code(), "could not release a code's claim");
            }
        } else {
            let outcome = if matches!(err, OAuthError::OutcomeUnknown { .. }) {
                ExchangeOutcome::Unknown
            } else {
                ExchangeOutcome::Failed
            };
            self.fail(outcome, err.code()).await;
        }
        Err(err.into())
    }

    /// Step 3: the whole answer, sealed, into the exchange's row. If that fails the exchange
    /// goes on: step 5 is the second chance to keep it.
    async fn keep(&self, answer: &KeptAnswer) {
        let kept = async {
            let json = answer.to_json()?;
            let sealed = self.desk.sealer().await?.seal(
                SealKind::TokenResponse,
                &self.code.row_name(),
                &json,
            )?;
            self.desk
                .storage
                .keep_token_response(self.id, sealed)
                .await?;
            Ok::<_, DeskError>(())
        }
        .await;
        match kept {
            Ok(()) => crash_point("after_token_kept"),
            Err(err) => tracing::warn!(
                code = err.code(),
                "could not keep the answer before verifying its ID token"
            ),
        }
    }

    /// Step 4: the ID token, checked. A response without one, or with one refused for good,
    /// is not accepted and nothing of it is kept; keys unreachable for now defer it.
    async fn verify(&self, answer: &KeptAnswer, patience: Patience) -> Result<VerifiedIdToken> {
        let Some(id_token) = &answer.id_token else {
            self.fail(ExchangeOutcome::Failed, "no_id_token").await;
            return Err(DeskError::NoIdToken);
        };
        let verifier = self.desk.verifier(&self.client)?;
        let raw = IdTokenRaw::new(id_token.as_str());
        let started = std::time::Instant::now();
        loop {
            let err = match verifier.verify(&raw).await {
                Ok(v) => return Ok(v),
                Err(err) => err,
            };
            let wait = match &err {
                IdTokenError::UnknownKeyIdCoolingDown { retry_after, .. } => *retry_after,
                IdTokenError::JwksUnavailable { retry_after, .. } => retry_after.unwrap_or(2),
                _ => {
                    self.fail(ExchangeOutcome::Failed, err.code()).await;
                    return Err(err.into());
                }
            };
            let wait = Duration::from_secs(wait.max(1)) + Duration::from_millis(100);
            if patience == Patience::Once || started.elapsed() + wait > PATIENCE {
                self.desk
                    .audit(
                        AuditAction::Exchange,
                        None,
                        AuditOutcome::Failed,
                        Some(format!("{} (deferred: the answer is kept)", err.code())),
                    )
                    .await;
                return Err(DeskError::VerificationDeferred {
                    reason: err.to_string(),
                });
            }
            tracing::info!(
                wait_secs = wait.as_secs(),
                "waiting for the provider's signing keys"
            );
            tokio::time::sleep(wait).await;
        }
    }

    /// Step 5: user, grant (tokens sealed for it), exchange finished, audit: one transaction.
    async fn store(
        &self,
        answer: &KeptAnswer,
        verified: &VerifiedIdToken,
    ) -> Result<ExchangeReport> {
        let desk = self.desk;
        let id_token = IdTokenRaw::new(answer.id_token.as_deref().unwrap_or_default());
        let record = desk.id_token_record(&self.client, &id_token).await;
        let claims = serde_json::Value::Object(verified.claims_json().clone());
        let c = verified.claims();
        let profile = profile_of(c);
        let expires_at = answer.expires_in.map(|s| {
            crate::store::Timestamp::from_unix(answer.received_at)
                .plus_seconds(i64::try_from(s).unwrap_or(3600))
        });
        let raw = self.log.entries();
        let sealer = desk.sealer().await?;
        let mut grant = GrantUid::generate()?;
        let mut _grant_held: Option<Held> = None;
        let (user, stored) = loop {
            let success = ExchangeSuccess {
                exchange: self.id,
                client: self.client.uid.clone(),
                profile: profile.clone(),
                claims: claims.clone(),
                id_token_report: serde_json::to_value(&record).unwrap_or_default(),
                grant: grant.clone(),
                azp: c.azp.clone(),
                scopes: answer.scopes.clone(),
                access_token: sealer.seal_str(
                    SealKind::AccessToken,
                    grant.as_str(),
                    &answer.access_token,
                )?,
                access_token_expires_at: expires_at,
                refresh_token: answer
                    .refresh_token
                    .as_deref()
                    .map(|rt| sealer.seal_str(SealKind::RefreshToken, grant.as_str(), rt))
                    .transpose()?,
                request: raw.first().and_then(|r| serde_json::to_value(r).ok()),
                response: raw
                    .last()
                    .and_then(|r| serde_json::to_value(&r.response).ok()),
                audit: desk.audit_entry(
                    AuditAction::Exchange,
                    None,
                    AuditOutcome::Ok,
                    Some(self.client.name.clone()),
                ),
                now: desk.now(),
            };
            match desk.storage.complete_exchange(success).await {
                Ok(done) => break done,
                // A re-consent: the user has a grant with this client. Its tokens are
                // replaced under its lock (a refresh of it may be running elsewhere), sealed
                // for its uid.
                Err(StoreError::GrantMoved { existing }) if _grant_held.is_none() => {
                    _grant_held = Some(desk.storage.lock_grant(&existing).await?);
                    grant = existing;
                }
                // The answer stays kept with the exchange: recovery stores it.
                Err(err) => return Err(err.into()),
            }
        };
        crash_point("after_commit");
        desk.keep_http_log(
            &user,
            Some(&self.client),
            AuditAction::Exchange,
            AuditOutcome::Ok,
            raw.clone(),
        )
        .await;
        Ok(ExchangeReport {
            user: UserView::of(&user, Some(&stored), Some(&self.client)),
            raw,
            notes: answer.notes.clone(),
            id_token: record,
        })
    }

    /// Records how the exchange ended when it failed, with its audit entry.
    async fn fail(&self, outcome: ExchangeOutcome, code: &str) {
        let raw = self.log.entries();
        let entry = self.desk.audit_entry(
            AuditAction::Exchange,
            None,
            AuditOutcome::Failed,
            Some(code.to_owned()),
        );
        let finish = ExchangeFinish {
            outcome,
            error_code: Some(code.to_owned()),
            request: raw.first().and_then(|r| serde_json::to_value(r).ok()),
            response: None,
            user_id: None,
            grant: None,
        };
        if let Err(err) = self
            .desk
            .storage
            .fail_exchange(self.id, finish, entry, self.desk.now())
            .await
        {
            tracing::error!(code = err.code(), "could not record a failed exchange");
        }
    }
}

/// The profile a verified ID token states; absent claims stay `None` (the store keeps them).
pub(super) fn profile_of(c: &crate::id_token::GoogleClaims) -> UserProfile {
    UserProfile {
        issuer: crate::provider::canonical_issuer(&c.iss).to_owned(),
        sub: c.sub.clone(),
        email: c.email.clone(),
        email_verified: c.email_verified,
        name: c.name.clone(),
        given_name: c.given_name.clone(),
        family_name: c.family_name.clone(),
        picture: c.picture.clone(),
        locale: c.locale.clone(),
        hd: c.hd.clone(),
    }
}
