//! Revocation (RFC 7009): a POSTed `token=` kills the whole grant. "Already invalid" counts as
//! revoked; rate limits, outages and timeouts leave the revocation pending, to be retried.

use super::endpoint::{Failure, idempotent_verdict, into_error, post_form};
use super::error::{GoogleErrorCode, OAuthError, Operation};
use super::explain::{Explanation, explain};
use super::http::HttpClient;
use super::retry::{self, GaveUp, Verdict};
use crate::provider::Endpoints;
use crate::secret::{AccessToken, RefreshToken};

/// The token to revoke. Either kind kills the whole grant at Google (revoking an access token
/// also revokes its refresh token).
#[derive(Debug, Clone, Copy)]
pub enum RevokeToken<'a> {
    Access(&'a AccessToken),
    Refresh(&'a RefreshToken),
}

impl<'a> From<&'a AccessToken> for RevokeToken<'a> {
    fn from(token: &'a AccessToken) -> Self {
        Self::Access(token)
    }
}

impl<'a> From<&'a RefreshToken> for RevokeToken<'a> {
    fn from(token: &'a RefreshToken) -> Self {
        Self::Refresh(token)
    }
}

impl RevokeToken<'_> {
    fn secret(&self) -> &str {
        match self {
            Self::Access(t) => t.secret(),
            Self::Refresh(t) => t.secret(),
        }
    }
}

/// What became of a revocation.
#[derive(Debug)]
#[non_exhaustive]
pub enum RevokeOutcome {
    /// Google answered 200: the grant is revoked.
    Revoked,
    /// Google answered `invalid_token`: the token was already dead, and so is its grant.
    AlreadyInvalid { explanation: Explanation },
    /// Google could not be reached or asked us to wait: the grant may still be alive, so the
    /// revocation must be retried later.
    Pending {
        attempts: u32,
        last_error: Box<OAuthError>,
    },
}

impl RevokeOutcome {
    /// A stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Revoked => "revoked",
            Self::AlreadyInvalid { .. } => "already_invalid",
            Self::Pending { .. } => "pending",
        }
    }

    /// True for [`RevokeOutcome::Revoked`] and [`RevokeOutcome::AlreadyInvalid`].
    pub fn grant_is_dead(&self) -> bool {
        !matches!(self, Self::Pending { .. })
    }

    /// A person's sentence.
    pub fn message(&self) -> String {
        match self {
            Self::Revoked => "revoked: the whole grant is dead".to_owned(),
            Self::AlreadyInvalid { .. } => {
                "Google says the token is already invalid: the whole grant is dead".to_owned()
            }
            Self::Pending {
                attempts,
                last_error,
            } => format!(
                "revocation pending after {attempts} attempt(s) ({last_error}); the grant may \
                 still be alive, so retry the revocation later"
            ),
        }
    }
}

/// Revokes `token` at the provider's revocation endpoint, with the retry policy of `http`.
pub async fn revoke(
    http: &HttpClient,
    endpoints: &Endpoints,
    token: RevokeToken<'_>,
) -> Result<RevokeOutcome, OAuthError> {
    let secret = token.secret();
    let params = [("token", secret)];
    let result = retry::run(
        &http.config().retry,
        http.timer(),
        http.config().timeout,
        |attempt| post_form(http, &endpoints.revocation, &params, attempt.timeout),
        idempotent_verdict,
    )
    .await;
    match result {
        Ok(_) => Ok(RevokeOutcome::Revoked),
        Err(GaveUp {
            error:
                Failure::Status {
                    error: Some((code, description)),
                    ..
                },
            ..
        }) if code == "invalid_token" => Ok(RevokeOutcome::AlreadyInvalid {
            explanation: explain(
                &GoogleErrorCode::InvalidToken,
                description.as_deref(),
                Operation::Revoke,
            ),
        }),
        Err(GaveUp { error, attempts }) => {
            // The same test that decided to retry decides "pending": what was worth retrying
            // is worth retrying later.
            let transient = idempotent_verdict(&error) != Verdict::Stop;
            let error = into_error(error, Operation::Revoke, attempts, &[secret]);
            if transient {
                Ok(RevokeOutcome::Pending {
                    attempts,
                    last_error: Box::new(error),
                })
            } else {
                Err(error)
            }
        }
    }
}
