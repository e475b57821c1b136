//! Refresh: a new access token from a refresh token, retried with backoff on rate limits,
//! outages and network failures; `invalid_grant` and every other 4xx are final.

use super::endpoint::{
    idempotent_verdict, into_error, oauth2_client, sort_oauth2_failure, token_set,
};
use super::error::{OAuthError, Operation};
use super::retry::{self, GaveUp};
use super::{OAuthClient, TokenSet};
use crate::secret::RefreshToken;

/// Refreshes, optionally narrowing the scopes to a subset of the grant's.
///
/// Google normally returns no new refresh token; when a provider does rotate it,
/// [`TokenSet::refresh_token`] holds the new one and the caller must store it before
/// forgetting the old one.
pub async fn refresh(
    client: &OAuthClient,
    refresh_token: &RefreshToken,
    scopes: Option<&[String]>,
) -> Result<TokenSet, OAuthError> {
    let oauth = oauth2_client(client);
    let token = oauth2::RefreshToken::new(refresh_token.secret().to_owned());
    let http = &client.http;
    let scopes: Vec<oauth2::Scope> = scopes
        .unwrap_or_default()
        .iter()
        .map(|s| oauth2::Scope::new(s.clone()))
        .collect();
    let (oauth, token_ref, scopes_ref) = (&oauth, &token, &scopes);
    let result = retry::run(
        &http.config().retry,
        http.timer(),
        http.config().timeout,
        move |attempt| async move {
            let adapter = http.oauth2(attempt.timeout);
            oauth
                .exchange_refresh_token(token_ref)
                .add_scopes(scopes_ref.iter().cloned())
                .request_async(&adapter)
                .await
                .map_err(|err| sort_oauth2_failure(err, adapter.last_response()))
        },
        idempotent_verdict,
    )
    .await;
    match result {
        Ok(response) => token_set(response, Operation::Refresh),
        Err(GaveUp { error, attempts }) => Err(into_error(
            error,
            Operation::Refresh,
            attempts,
            &[refresh_token.secret(), client.client_secret.secret()],
        )),
    }
}
