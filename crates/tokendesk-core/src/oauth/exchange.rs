//! The code exchange: a serverAuthCode for tokens, once. Never resent once it may have
//! reached Google; a URL-encoded code is refused before anything is sent.

use std::borrow::Cow;

use super::endpoint::{
    exchange_verdict, into_error, oauth2_client, sort_oauth2_failure, token_set,
};
use super::error::{OAuthError, Operation};
use super::explain::missing_refresh_token;
use super::retry::{self, GaveUp};
use super::{OAuthClient, RedirectChoice, TokenSet};
use crate::secret::AuthCode;

/// Exchanges `code` for tokens at the client's token endpoint.
///
/// Resent only after a refused connection or a 429; after a timeout, a dropped connection
/// or a 5xx the answer is [`OAuthError::OutcomeUnknown`], because a second exchange of a
/// redeemed code fails and revokes what the first one issued. A response without a refresh
/// token is a success, with [`TokenSet::refresh_token_absent`] saying why.
pub async fn exchange_code(
    client: &OAuthClient,
    code: AuthCode,
    redirect: RedirectChoice,
) -> Result<TokenSet, OAuthError> {
    check_code(&code)?;
    let oauth = oauth2_client(client);
    let http = &client.http;
    let (oauth, code_ref, redirect_ref) = (&oauth, &code, &redirect);
    let result = retry::run(
        &http.config().retry,
        http.timer(),
        http.config().timeout,
        move |attempt| async move {
            let adapter = http.oauth2(attempt.timeout);
            let request =
                oauth.exchange_code(oauth2::AuthorizationCode::new(code_ref.secret().to_owned()));
            // oauth2's RedirectUrl must be an absolute URL, so "" and "postmessage" go in as
            // plain parameters.
            let request = match redirect_ref {
                RedirectChoice::Empty => request.add_extra_param("redirect_uri", ""),
                RedirectChoice::Absent => request,
                RedirectChoice::PostMessage => {
                    request.add_extra_param("redirect_uri", "postmessage")
                }
                RedirectChoice::Url(url) => {
                    request.set_redirect_uri(Cow::Owned(oauth2::RedirectUrl::from_url(url.clone())))
                }
            };
            // A code from a PKCE authorization request (the sign-in lab's) goes with its
            // verifier; a serverAuthCode has none.
            let request = match code_ref.pkce_verifier() {
                Some(verifier) => request
                    .set_pkce_verifier(oauth2::PkceCodeVerifier::new(verifier.secret().to_owned())),
                None => request,
            };
            request
                .request_async(&adapter)
                .await
                .map_err(|err| sort_oauth2_failure(err, adapter.last_response()))
        },
        exchange_verdict,
    )
    .await;
    match result {
        Ok(response) => {
            let mut tokens = token_set(response, Operation::Exchange)?;
            if tokens.refresh_token.is_none() {
                tokens.refresh_token_absent = Some(missing_refresh_token());
            }
            Ok(tokens)
        }
        Err(GaveUp { error, attempts }) => Err(into_error(
            error,
            Operation::Exchange,
            attempts,
            &[
                code.secret(),
                code.pkce_verifier().map_or("", |v| v.secret()),
                client.client_secret.secret(),
            ],
        )),
    }
}

/// Refuses codes Google could not accept, before anything is sent (SECURITY A.23): Google's
/// codes (`4/0A...`) never contain `%`, so an escape means the code was URL-encoded on its
/// way here. The code decoded exactly once is offered, never sent on a guess.
pub(crate) fn check_code(code: &AuthCode) -> Result<(), OAuthError> {
    let raw = code.secret();
    if raw.is_empty() {
        return Err(OAuthError::MalformedCode { reason: "is empty" });
    }
    if raw.chars().any(char::is_whitespace) {
        return Err(OAuthError::MalformedCode {
            reason: "contains whitespace or line breaks (trim what was pasted or received)",
        });
    }
    if raw.contains('"') || raw.contains('\'') {
        return Err(OAuthError::MalformedCode {
            reason: "contains quotes (send the code itself, not a quoted string)",
        });
    }
    if has_percent_escape(raw) {
        let decoded = percent_decode_once(raw).ok_or(OAuthError::MalformedCode {
            reason: "contains %-escapes that do not decode to text",
        })?;
        let still_encoded = has_percent_escape(&decoded);
        return Err(OAuthError::DoubleEncodedCode {
            decoded: Box::new(AuthCode::new(decoded)),
            still_encoded,
        });
    }
    Ok(())
}

fn has_percent_escape(s: &str) -> bool {
    s.as_bytes()
        .windows(3)
        .any(|w| w[0] == b'%' && w[1].is_ascii_hexdigit() && w[2].is_ascii_hexdigit())
}

/// Decodes `%XX` escapes once (`%252F` becomes `%2F`, not `/`). `+` is left alone: codes
/// have none, and reading it as a space would be a second, different decoding.
fn percent_decode_once(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let (Some(hi), Some(lo)) = (
                bytes.get(i + 1).and_then(|b| (*b as char).to_digit(16)),
                bytes.get(i + 2).and_then(|b| (*b as char).to_digit(16)),
            )
        {
            out.push(u8::try_from(hi * 16 + lo).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn oauth_plain_google_code_passes() {
        check_code(&AuthCode::new("4/0AeaYSHDx-abc_def")).unwrap();
    }

    #[test]
    fn oauth_encoded_code_is_refused_with_the_decoded_form() {
        let err = check_code(&AuthCode::new("4%2F0AeaYSHDx-abc")).unwrap_err();
        assert_eq!(err.code(), "double_encoded_code");
        assert_eq!(err.decoded_code().unwrap().secret(), "4/0AeaYSHDx-abc");
        assert!(matches!(
            err,
            OAuthError::DoubleEncodedCode {
                still_encoded: false,
                ..
            }
        ));
    }

    #[test]
    fn oauth_twice_encoded_code_is_decoded_only_once() {
        let err = check_code(&AuthCode::new("4%252F0AeaYSHDx")).unwrap_err();
        assert_eq!(
            err.decoded_code().unwrap().secret(),
            "4%2F0AeaYSHDx",
            "one decoding step, never a guess at how many"
        );
        assert!(matches!(
            err,
            OAuthError::DoubleEncodedCode {
                still_encoded: true,
                ..
            }
        ));
    }

    #[test]
    fn oauth_lowercase_escapes_are_detected() {
        let err = check_code(&AuthCode::new("4%2f0Aea")).unwrap_err();
        assert_eq!(err.decoded_code().unwrap().secret(), "4/0Aea");
    }

    #[test]
    fn oauth_empty_or_padded_codes_are_refused() {
        assert_eq!(
            check_code(&AuthCode::new("")).unwrap_err().code(),
            "malformed_code"
        );
        assert_eq!(
            check_code(&AuthCode::new("4/0Aea\n")).unwrap_err().code(),
            "malformed_code"
        );
        assert_eq!(
            check_code(&AuthCode::new("\"4/0Aea\"")).unwrap_err().code(),
            "malformed_code"
        );
    }

    #[test]
    fn oauth_a_lone_percent_is_not_an_escape() {
        check_code(&AuthCode::new("4/0A%zz")).unwrap();
    }
}
