//! The receiver's sink: a code POSTed by an app becomes an exchange with one client, and the
//! app gets the profile. Exchanges run in tasks of their own (an app that hangs up, or a
//! receiver that stops, must not cancel one half-way), tracked so that stopping waits for
//! them; while the receiver runs, sign-ins deferred by a JWKS outage are finished every minute.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::task::TaskTracker;

use super::{Desk, DeskError, UserView};
use crate::oauth::{OAuthError, RedirectChoice};
use crate::receiver::{CodeSink, ReceivedUser, RedeemError, RedeemFuture};
use crate::secret::AuthCode;

/// How often a running receiver finishes deferred sign-ins.
pub const RETRY_DEFERRED_EVERY: Duration = Duration::from_secs(60);

/// Exchanges received codes with one client (the only one, when `None`).
#[derive(Debug)]
pub struct ReceiverSink {
    desk: Arc<Desk>,
    client: Option<String>,
    in_flight: TaskTracker,
    retry: tokio::task::JoinHandle<()>,
}

impl Drop for ReceiverSink {
    fn drop(&mut self) {
        self.retry.abort();
    }
}

impl ReceiverSink {
    /// A sink over `desk`; starts finishing deferred sign-ins every [`RETRY_DEFERRED_EVERY`].
    /// Must be called inside a tokio runtime.
    pub fn new(desk: Arc<Desk>, client: Option<String>) -> Self {
        Self::with_retry_every(desk, client, RETRY_DEFERRED_EVERY)
    }

    pub fn with_retry_every(desk: Arc<Desk>, client: Option<String>, every: Duration) -> Self {
        let retrying = Arc::clone(&desk);
        let retry = tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                match retrying.finish_deferred().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(finished = n, "deferred sign-ins finished"),
                    Err(err) => tracing::warn!(code = err.code(), "deferred sign-ins not finished"),
                }
            }
        });
        Self {
            desk,
            client,
            in_flight: TaskTracker::new(),
            retry,
        }
    }

    pub fn desk(&self) -> &Arc<Desk> {
        &self.desk
    }

    /// Exchanges still running.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Waits, at most `bound`, for the exchanges in flight to end (stop the receiver first, so
    /// no new one starts). Returns how many were still running when the wait gave up: their
    /// answers, if Google gave them, are kept with their exchanges, and the next start
    /// finishes them.
    pub async fn drain(&self, bound: Duration) -> usize {
        self.in_flight.close();
        let _ = tokio::time::timeout(bound, self.in_flight.wait()).await;
        self.in_flight.reopen();
        self.in_flight.len()
    }
}

impl CodeSink for ReceiverSink {
    fn redeem(&self, code: AuthCode) -> RedeemFuture<'_> {
        let desk = Arc::clone(&self.desk);
        let client = self.client.clone();
        let task = self.in_flight.spawn(async move {
            desk.exchange(client.as_deref(), code, RedirectChoice::Empty)
                .await
                .map(|report| report.user)
                .map_err(|err| redeem_error(&err))
        });
        Box::pin(async move {
            let u = task.await.map_err(|e| RedeemError::Internal {
                code: "task_lost".into(),
                message: format!("the exchange did not finish: {e}"),
            })??;
            Ok(received_user(u))
        })
    }
}

fn received_user(u: UserView) -> ReceivedUser {
    ReceivedUser {
        sub: u.sub,
        email: u.email,
        email_verified: u.email_verified,
        name: u.name,
        given_name: u.given_name,
        family_name: u.family_name,
        picture: u.picture,
        locale: u.locale,
        hd: u.hd,
    }
}

/// What the app is told. TokenDesk's own failures (the store, the key) say only what the app
/// needs (it may retry later): their details, which can name local files, go to the log.
fn redeem_error(err: &DeskError) -> RedeemError {
    let code = err.code().to_owned();
    let message = err.to_string();
    match err {
        DeskError::Replay { .. } => RedeemError::Replay,
        DeskError::VerificationDeferred { .. } => RedeemError::Deferred { message },
        DeskError::OAuth(e)
            if e.is_transient() || matches!(**e, OAuthError::OutcomeUnknown { .. }) =>
        {
            RedeemError::Upstream { code, message }
        }
        DeskError::OAuth(_) | DeskError::IdToken(_) | DeskError::NoIdToken => {
            RedeemError::Rejected { code, message }
        }
        _ => {
            tracing::error!(code = %code, error = %message, "a received code could not be stored");
            RedeemError::Internal {
                code,
                message: "TokenDesk could not finish this sign-in; its operator can see why in \
                          its log. Retry later"
                    .into(),
            }
        }
    }
}
