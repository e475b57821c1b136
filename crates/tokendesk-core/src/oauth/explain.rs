//! Google's terse OAuth errors ("invalid_grant", "Bad Request") turned into what probably
//! happened and what to do, keyed on the error, its description and the operation.

use serde::Serialize;

use super::error::{GoogleErrorCode, OAuthError, Operation, UnknownCause};

/// What an error most likely means, for a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Explanation {
    /// One sentence.
    pub summary: String,
    /// Most likely first.
    pub likely_causes: Vec<String>,
    pub what_to_do: Vec<String>,
}

impl Explanation {
    fn new(summary: &str, causes: &[&str], actions: &[&str]) -> Self {
        Self {
            summary: summary.to_owned(),
            likely_causes: causes.iter().map(|s| (*s).to_owned()).collect(),
            what_to_do: actions.iter().map(|s| (*s).to_owned()).collect(),
        }
    }
}

const REDIRECT_RULES: &str = "codes from the iOS/Android SDKs (serverAuthCode) are exchanged \
    with an empty redirect_uri; codes from a web Google Identity Services popup with \
    redirect_uri=postmessage; codes from a redirect flow with exactly the redirect URI of the \
    authorization request";

const SIGN_IN_AGAIN: &str =
    "Ask the user to sign in again in the app: that produces a new serverAuthCode.";

const RECONSENT: &str = "Mark the account as needing re-consent and ask the user to sign in \
    again; the app must request offline access with consent (iOS: a fresh sign-in with \
    serverClientID set; Android: requestServerAuthCode(serverClientId, \
    forceCodeForRefreshToken = true); web: prompt=consent) to get a new refresh token.";

/// Google's error for an operation, explained.
pub fn explain(
    code: &GoogleErrorCode,
    description: Option<&str>,
    operation: Operation,
) -> Explanation {
    let desc = description
        .unwrap_or_default()
        .trim()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let has = |needle: &str| desc.contains(needle);
    use GoogleErrorCode as C;
    use Operation as Op;
    match (code, operation) {
        (C::InvalidGrant, Op::Exchange) if has("malformed auth code") => Explanation::new(
            "Google could not read the code: it was most likely URL-encoded twice.",
            &[
                "the code was URL-encoded on its way to the server (4/0A... sent as 4%2F0A...), \
                 for example by form-encoding an already encoded value or copying it from a URL",
                "the code was truncated or has extra characters (whitespace, quotes)",
            ],
            &[
                "Decode the code exactly once where it is received (%2F becomes /) and exchange \
                 it again, if it has not expired (codes last about 10 minutes).",
                "Fix the sender so it posts the code as the app received it.",
            ],
        ),
        (C::InvalidGrant, Op::Exchange) if has("missing code verifier") => Explanation::new(
            "The code was issued with PKCE, so it can only be exchanged with its code_verifier.",
            &[
                "this is the app's own authorization code (the SDK exchanges it itself with \
                 PKCE), not the serverAuthCode meant for the server",
                "a web or native flow started with a code_challenge and the verifier was lost",
            ],
            &[
                "Send the serverAuthCode (GIDSignInResult.serverAuthCode on iOS, \
                 GoogleSignInAccount.getServerAuthCode() on Android) to the server instead.",
                "If this flow really uses PKCE, exchange the code together with its code_verifier.",
            ],
        ),
        (C::InvalidGrant, Op::Exchange) if has("code verifier") => Explanation::new(
            "The code_verifier does not match the code_challenge the code was issued for.",
            &["the verifier belongs to another authorization request"],
            &[SIGN_IN_AGAIN],
        ),
        (C::InvalidGrant, _) if has("account has been deleted") => Explanation::new(
            "The Google account behind this grant no longer exists.",
            &["the user deleted the account, or an administrator removed it"],
            &["Treat the user as gone; their tokens are useless."],
        ),
        (C::InvalidGrant, Op::Exchange) if has("already redeemed") => Explanation::new(
            "This code has already been exchanged; a code works exactly once.",
            &[
                "the same code was posted twice (a retry, a double tap, two servers)",
                "another server or tool exchanged it first",
            ],
            &[
                "Use the tokens from the first exchange if TokenDesk stored them.",
                SIGN_IN_AGAIN,
            ],
        ),
        (C::InvalidGrant, Op::Exchange) => Explanation::new(
            "Google refused the code. \"Bad Request\" covers several causes; the first is by far \
             the most common.",
            &[
                "the code was already used: a code can be exchanged once, and replaying it also \
                 revokes what the first exchange issued",
                "the code expired: codes live about 10 minutes, so a code that waited in a \
                 queue, or came from a device or server whose clock is far off, is dead",
                "the code was exchanged with a different client than the one it was issued \
                 for (the app's serverClientID must be this web client's ID)",
                "the redirect_uri does not fit this kind of code: iOS/Android serverAuthCodes \
                 want an empty redirect_uri, web popups postmessage",
                "the code is a device-only code (for example a Mac Catalyst hybrid flow) that \
                 a server cannot exchange",
            ],
            &[
                SIGN_IN_AGAIN,
                "Exchange codes as soon as they arrive and only once.",
                "Check that the app's serverClientID is this client's ID and the redirect_uri \
                 choice matches where the code came from.",
            ],
        ),
        (C::InvalidGrant, Op::Refresh) if has("expired or revoked") => Explanation::new(
            "The refresh token is dead: the grant was revoked or expired, and only a new \
             sign-in brings it back.",
            &[
                "the user removed the app's access in their Google Account (or signed out \
                 of all sessions)",
                "the token was not used for 6 months",
                "the OAuth consent screen is in \"Testing\" publishing status with external \
                 users: refresh tokens then expire after 7 days",
                "the user holds more than 100 refresh tokens for this client (older ones are \
                 silently invalidated, oldest first)",
                "the user changed their password and the grant includes Gmail scopes",
                "an administrator restricted the app or the account, or TokenDesk revoked it",
            ],
            &[
                RECONSENT,
                "If the consent screen is in Testing, publish the app (In production) so \
                 refresh tokens stop expiring after 7 days.",
            ],
        ),
        (C::InvalidGrant, Op::Refresh) => Explanation::new(
            "Google does not recognise this refresh token.",
            &[
                "it was revoked more than about 12 hours ago: Google then forgets it and \
                 answers \"Bad Request\" instead of \"Token has been expired or revoked.\"",
                "the stored token is damaged or truncated",
                "it was issued to another OAuth client than the one refreshing it",
            ],
            &[RECONSENT],
        ),
        (C::RedirectUriMismatch, _) => Explanation::new(
            "The redirect_uri sent does not match what this code requires.",
            &[
                "a serverAuthCode from the iOS or Android SDK was exchanged with a URL or \
                 with postmessage; those codes want an empty redirect_uri",
                "a code from a web Google Identity Services popup was exchanged without \
                 redirect_uri=postmessage",
                "a redirect-flow code was exchanged with a URL other than the one in the \
                 authorization request",
            ],
            &[&format!(
                "Pick the redirect_uri by where the code came from: {REDIRECT_RULES}."
            )],
        ),
        (C::InvalidClient, _) if has("not found") => Explanation::new(
            "Google does not know this OAuth client ID.",
            &[
                "the client ID is mistyped or was copied incompletely",
                "the client was deleted in Google Cloud Console, or belongs to another \
                 project than expected",
            ],
            &["Re-import the web client's client_secret.json from Google Cloud Console."],
        ),
        (C::InvalidClient, _) => Explanation::new(
            "Google refused this client's credentials.",
            &[
                "the client secret is wrong (reset or rotated in Google Cloud Console, or \
                 from another client)",
                "the code belongs to another client: the iOS app must set serverClientID \
                 (GIDServerClientID) to THIS web client's ID, the Android app must pass it \
                 to requestServerAuthCode",
                "an iOS or Android client ID was configured here; the server must use the \
                 web client, which has a secret",
            ],
            &[
                "Re-import the web client's client_secret.json.",
                "Check the app's serverClientID against this client's ID.",
            ],
        ),
        (C::UnauthorizedClient, _) => Explanation::new(
            "This client may not use this grant, or the code/token was issued to another client.",
            &[
                "the code or refresh token was issued for a different client ID (the app's \
                 serverClientID is not this web client)",
                "the client type does not allow this grant (\"Client is unauthorized to \
                 retrieve access tokens using this method\")",
            ],
            &[
                "Check that the app's serverClientID is this client's ID.",
                "Use a Web application client for the server.",
            ],
        ),
        (C::UnsupportedGrantType, _) => Explanation::new(
            "Google did not accept the grant_type sent.",
            &[
                "the grant_type parameter was missing or misspelled",
                "the request body was not form-encoded, so Google saw no parameters",
            ],
            &["This is a client bug; report it with the raw exchange (secrets are masked)."],
        ),
        (C::InvalidRequest, _) if has("missing required parameter: code") => Explanation::new(
            "No code reached Google.",
            &["the code was empty (an empty paste, or the app sent no serverAuthCode)"],
            &[
                "Check that the app requested offline access (serverClientID set) and sent \
                 the serverAuthCode, which is nil on silent sign-ins.",
            ],
        ),
        (C::InvalidRequest, _) if has("client_secret is missing") => Explanation::new(
            "The client secret was not sent.",
            &["the client's secret is empty or missing from the keyring"],
            &["Re-import the web client's client_secret.json."],
        ),
        (C::InvalidRequest, _) if has("could not determine client id") => Explanation::new(
            "Google could not tell which client is calling.",
            &["client_id was missing or the Basic authentication header was malformed"],
            &["Re-import the client; report it with the raw exchange if it persists."],
        ),
        (C::InvalidRequest, _) if has("redirect_uri") => Explanation::new(
            "This code needs a redirect_uri and none was sent.",
            &["the code came from a redirect (web server) flow, not from a mobile SDK"],
            &["Exchange it with the redirect URI used in the authorization request."],
        ),
        (C::InvalidRequest, _) => Explanation::new(
            "Google found the request malformed.",
            &["a required parameter is missing, repeated or has an invalid value"],
            &["Look at the raw exchange (secrets masked) and at the description Google gave."],
        ),
        (C::InvalidScope, _) => Explanation::new(
            "A requested scope is not part of this grant.",
            &["a refresh asked for a scope the user never granted"],
            &["Refresh without scopes, or with a subset of the granted ones."],
        ),
        (C::InvalidToken, Op::Revoke) => Explanation::new(
            "Google says the token is already invalid: the whole grant is dead.",
            &[
                "it was revoked before (by TokenDesk, the user, or an administrator)",
                "it expired (an access token after an hour)",
            ],
            &["Nothing to do: treat the grant as revoked."],
        ),
        (C::InvalidToken, _) => Explanation::new(
            "Google does not accept this token.",
            &[
                "the access token expired (they last about an hour) or its grant was revoked",
                "it is not an access token (tokeninfo rejects refresh tokens; ID tokens go \
                 as id_token)",
            ],
            &["Refresh to get a new access token, or inspect it as a JWT if it is one."],
        ),
        (C::AccessDenied, _) => Explanation::new(
            "The user or an administrator denied access.",
            &["the user cancelled consent, or a Workspace admin blocks the app"],
            &["Ask the user to sign in and allow access; check the Workspace admin settings."],
        ),
        (C::RateLimitExceeded, _) => rate_limited(),
        (C::TemporarilyUnavailable | C::InternalFailure, _) => unavailable(),
        _ => Explanation::new(
            "Google refused the request.",
            &["see the error and description Google gave"],
            &["Look at the raw exchange (secrets masked)."],
        ),
    }
}

fn rate_limited() -> Explanation {
    Explanation::new(
        "Google is rate limiting requests from this client.",
        &["too many requests in a short time from this client or project"],
        &["Wait (Google's Retry-After, if given) and try again; TokenDesk already backed off."],
    )
}

fn unavailable() -> Explanation {
    Explanation::new(
        "Google's endpoint failed or is temporarily unavailable.",
        &["an outage or overload at Google, or a proxy in between"],
        &["Try again in a few minutes; TokenDesk already retried with backoff."],
    )
}

/// Why a refresh token may be absent from a successful code exchange.
pub fn missing_refresh_token() -> Explanation {
    Explanation::new(
        "Google returned no refresh token: the user had already consented to this client.",
        &[
            "Google returns a refresh token only on the first consent, or when consent is \
             forced (prompt=consent on the web, forceCodeForRefreshToken on Android, a \
             fresh interactive sign-in on iOS)",
            "the app did not request offline access",
        ],
        &[
            "Use the refresh token stored from the first exchange, if TokenDesk has one.",
            "Otherwise have the user sign in with consent forced, or remove the app's \
             access in their Google Account and sign in again.",
        ],
    )
}

/// Explanations of the errors that are not Google's OAuth errors.
pub(crate) fn explain_other(err: &OAuthError) -> Explanation {
    match err {
        OAuthError::Server {
            code,
            description,
            operation,
            ..
        } => explain(code, description.as_deref(), *operation),
        OAuthError::RateLimited { .. } => rate_limited(),
        OAuthError::Unavailable { .. } => unavailable(),
        OAuthError::Timeout { .. } => Explanation::new(
            "Google did not answer in time.",
            &["a slow or broken network, a proxy, or an outage"],
            &["Try again; check the network and the configured timeouts."],
        ),
        OAuthError::Transport { .. } => Explanation::new(
            "The request did not get through.",
            &["no network, DNS failure, a firewall, or a TLS problem"],
            &["Check the machine's network and try again."],
        ),
        OAuthError::OutcomeUnknown { cause } => Explanation::new(
            "The code exchange may or may not have happened.",
            &[match cause {
                UnknownCause::Timeout => "the request was sent but no answer came in time",
                UnknownCause::ConnectionLost => "the connection broke after the request was sent",
                UnknownCause::ServerError(_) => "Google failed while handling the request",
            }],
            &[
                "Do not resend the code: a second exchange of a redeemed code fails and \
                 revokes the tokens of the first.",
                SIGN_IN_AGAIN,
            ],
        ),
        OAuthError::BodyTooLarge { .. }
        | OAuthError::NotJson { .. }
        | OAuthError::MissingField { .. }
        | OAuthError::WrongFieldType { .. }
        | OAuthError::UnsupportedTokenType { .. } => Explanation::new(
            "The answer is not a valid token response.",
            &[
                "the endpoint URL points at something other than Google's token endpoint \
                 (a proxy, a captive portal, a misconfigured provider)",
            ],
            &[
                "Check the provider's endpoints.",
                "For a code exchange: the code was probably redeemed; ask the user to sign in \
                 again.",
            ],
        ),
        OAuthError::Redirected { .. } => Explanation::new(
            "The endpoint redirected; TokenDesk does not follow redirects on OAuth calls.",
            &["the endpoint URL is outdated or points at a proxy or login page"],
            &["Check the provider's endpoints."],
        ),
        OAuthError::DoubleEncodedCode { .. } => explain(
            &GoogleErrorCode::InvalidGrant,
            Some("Malformed auth code."),
            Operation::Exchange,
        ),
        OAuthError::MalformedCode { .. } => Explanation::new(
            "This is not a code as Google issues them.",
            &["an empty paste, or whitespace or quotes around the code"],
            &["Paste exactly the serverAuthCode the app received."],
        ),
        OAuthError::Setup { .. } => Explanation::new(
            "TokenDesk could not prepare the request.",
            &["an invalid endpoint URL or a TLS setup problem"],
            &["Check the provider's endpoints."],
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(e: &Explanation) -> String {
        format!(
            "{} {} {}",
            e.summary,
            e.likely_causes.join(" "),
            e.what_to_do.join(" ")
        )
    }

    #[test]
    fn oauth_explains_bad_request_on_exchange_with_every_cause() {
        let e = explain(
            &GoogleErrorCode::InvalidGrant,
            Some("Bad Request"),
            Operation::Exchange,
        );
        let t = text(&e);
        for needle in [
            "already used",
            "10 minutes",
            "different client",
            "empty redirect_uri",
            "clock",
        ] {
            assert!(t.contains(needle), "missing {needle:?}: {t}");
        }
    }

    #[test]
    fn oauth_explains_malformed_auth_code_as_double_encoding() {
        let e = explain(
            &GoogleErrorCode::InvalidGrant,
            Some("Malformed auth code."),
            Operation::Exchange,
        );
        assert!(text(&e).contains("%2F"), "{e:?}");
    }

    #[test]
    fn oauth_explains_expired_or_revoked_on_refresh() {
        let e = explain(
            &GoogleErrorCode::InvalidGrant,
            Some("Token has been expired or revoked."),
            Operation::Refresh,
        );
        let t = text(&e);
        for needle in [
            "removed", "6 months", "7 days", "Testing", "100", "password",
        ] {
            assert!(t.contains(needle), "missing {needle:?}: {t}");
        }
    }

    #[test]
    fn oauth_explains_bad_request_on_refresh_as_forgotten_revocation() {
        let e = explain(
            &GoogleErrorCode::InvalidGrant,
            Some("Bad Request"),
            Operation::Refresh,
        );
        assert!(text(&e).contains("12 hours"));
    }

    #[test]
    fn oauth_explains_missing_code_verifier() {
        let e = explain(
            &GoogleErrorCode::InvalidGrant,
            Some("Missing code verifier."),
            Operation::Exchange,
        );
        assert!(text(&e).contains("serverAuthCode"));
    }

    #[test]
    fn oauth_explains_redirect_uri_mismatch_by_code_origin() {
        let e = explain(
            &GoogleErrorCode::RedirectUriMismatch,
            Some("Bad Request"),
            Operation::Exchange,
        );
        let t = text(&e);
        assert!(t.contains("empty redirect_uri"), "{t}");
        assert!(t.contains("postmessage"), "{t}");
    }

    #[test]
    fn oauth_explains_invalid_client_variants() {
        let not_found = explain(
            &GoogleErrorCode::InvalidClient,
            Some("The OAuth client was not found."),
            Operation::Exchange,
        );
        assert!(not_found.summary.contains("does not know"));
        let unauthorized = explain(
            &GoogleErrorCode::InvalidClient,
            Some("Unauthorized"),
            Operation::Exchange,
        );
        let t = text(&unauthorized);
        assert!(t.contains("secret is wrong"), "{t}");
        assert!(t.contains("serverClientID"), "{t}");
    }

    #[test]
    fn oauth_explains_the_remaining_google_errors() {
        let cases: &[(GoogleErrorCode, &str, &str)] = &[
            (
                GoogleErrorCode::UnauthorizedClient,
                "Unauthorized",
                "another client",
            ),
            (
                GoogleErrorCode::UnsupportedGrantType,
                "Invalid grant_type: x",
                "grant_type",
            ),
            (
                GoogleErrorCode::InvalidRequest,
                "Missing required parameter: code",
                "No code",
            ),
            (
                GoogleErrorCode::InvalidRequest,
                "client_secret is missing.",
                "secret",
            ),
            (
                GoogleErrorCode::InvalidRequest,
                "Could not determine client ID from request.",
                "which client",
            ),
            (
                GoogleErrorCode::InvalidGrant,
                "The account has been deleted",
                "no longer exists",
            ),
            (
                GoogleErrorCode::RateLimitExceeded,
                "Rate Limit Exceeded",
                "rate limiting",
            ),
            (GoogleErrorCode::TemporarilyUnavailable, "", "unavailable"),
        ];
        for (code, desc, needle) in cases {
            let e = explain(code, Some(desc), Operation::Exchange);
            assert!(text(&e).contains(needle), "{code} {desc:?}: {e:?}");
        }
    }

    #[test]
    fn oauth_invalid_token_on_revoke_means_the_grant_is_dead() {
        let e = explain(
            &GoogleErrorCode::InvalidToken,
            Some("Token expired or revoked"),
            Operation::Revoke,
        );
        assert!(e.summary.contains("the whole grant is dead"));
    }
}
