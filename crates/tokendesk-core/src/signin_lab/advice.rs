//! What the lab says to change when a step fails, and the notes on a run that worked: each of
//! the provider's and the token endpoint's errors turned into the setting to fix.

use super::{AccessType, Failure, LabRequest, LabStep, Prompt};
use crate::desk::{
    ClientView, DRIVE_APPDATA_SCOPE, DeskError, ErrorKind, ExchangeReport, RecordedCheck, UserView,
};
use crate::loopback::LoopbackError;
use crate::oauth::{RawBody, RawExchange};

/// What to change for an error the provider named.
pub(super) fn advice_for(
    error: &str,
    client: &ClientView,
    request: &LabRequest,
    redirect_uri: &str,
) -> String {
    match error {
        "redirect_uri_mismatch" => register_advice(client, request, redirect_uri),
        "invalid_client" | "unauthorized_client" => format!(
            "the provider does not accept client {} ({}): check that its client_secret.json is \
             the current one (the client may have been deleted in Google Cloud Console)",
            client.name, client.client_id
        ),
        "invalid_scope" => format!(
            "correct or remove a scope: {} (short names like drive.appdata are made \
             https://www.googleapis.com/auth/drive.appdata)",
            request.scopes().join(" ")
        ),
        "admin_policy_enforced" | "org_internal" => "the app's user type or the account's \
             Workspace admin blocks this account: sign in with an account of the app's \
             organization, or make the app External"
            .into(),
        _ => "the provider's error page says what is wrong: open the authorization URL above \
              in a browser to read it"
            .into(),
    }
}

/// How to register the lab's redirect URI with a Web client.
pub(super) fn register_advice(
    client: &ClientView,
    request: &LabRequest,
    redirect_uri: &str,
) -> String {
    let mut advice = match request.port {
        Some(port) => format!(
            "register {redirect_uri} (exactly, with the trailing slash) as an authorized \
             redirect URI of the Web client {} (Google Cloud Console > APIs & Services > \
             Credentials > the client), then run the lab again with --port {port}",
            client.client_id
        ),
        None => format!(
            "a Web client redirects only to the URIs registered for it, and this run listened \
             on a random port: choose a port, register http://127.0.0.1:PORT/ (exactly) as an \
             authorized redirect URI of the Web client {} (Google Cloud Console > APIs & \
             Services > Credentials > the client), and run the lab with --port PORT",
            client.client_id
        ),
    };
    if client.foreign_endpoints {
        advice.push_str(&format!(
            ". On the built-in emulator: curl -X POST {}/emulator/v1/clients/redirect-uris \
             -H 'Content-Type: application/json' -d '{{\"client_id\": \"{}\", \"uri\": \
             \"{redirect_uri}\"}}'",
            client.issuer.trim_end_matches('/'),
            client.client_id
        ));
    }
    advice
}

pub(super) fn redirect_failure(
    err: LoopbackError,
    client: &ClientView,
    request: &LabRequest,
    redirect_uri: &str,
) -> Failure {
    use LabStep::Redirected as R;
    let message = err.to_string();
    match err {
        LoopbackError::Refused { error, .. } => {
            let advice = match error.as_str() {
                "access_denied" => "the person declined at the consent page (access_denied): \
                     run the lab again and allow; an app must handle a refusal too"
                    .to_owned(),
                "interaction_required"
                | "login_required"
                | "consent_required"
                | "account_selection_required" => format!(
                    "prompt=none cannot show a page and the provider needed one ({error}): drop \
                     --prompt none, or sign in and consent once first"
                ),
                other => advice_for(other, client, request, redirect_uri),
            };
            Failure::new(R, &error, ErrorKind::Refused, message, advice)
        }
        LoopbackError::StateMismatch => Failure::new(
            R,
            "state_mismatch",
            ErrorKind::Refused,
            message,
            "a redirect from another sign-in reached the lab's port: close old sign-in tabs \
             and run the lab again"
                .into(),
        ),
        LoopbackError::TimedOut(_) => Failure::new(
            R,
            "timed_out",
            ErrorKind::Unavailable,
            message,
            format!(
                "if the browser shows an error page, fix what it says (redirect_uri_mismatch: {}); \
                 else run the lab again and finish the consent page in time",
                register_advice(client, request, redirect_uri)
            ),
        ),
        LoopbackError::Stopped => Failure::new(
            R,
            "stopped",
            ErrorKind::Failure,
            message,
            "run the lab again when you are ready".into(),
        ),
        _ => Failure::new(
            R,
            "no_code",
            ErrorKind::Refused,
            message,
            "the provider came back without a code or an error: check the authorization URL's \
             response_type (code)"
                .into(),
        ),
    }
}

/// Which step an exchange's failure belongs to, and what to change.
pub(super) fn exchange_failure(
    err: &DeskError,
    client: &ClientView,
    request: &LabRequest,
    redirect_uri: &str,
) -> Failure {
    let at = match err.kind() {
        ErrorKind::Unverified => LabStep::Verified,
        ErrorKind::Storage => LabStep::Stored,
        _ => LabStep::Exchanged,
    };
    let advice = match err.code() {
        "redirect_uri_mismatch" => register_advice(client, request, redirect_uri),
        "no_id_token" => "add the openid scope (or email or profile): without an ID token the \
             user cannot be identified"
            .into(),
        _ if at == LabStep::Verified => format!(
            "the check named above failed: see `tokendesk client show {}` for the issuer and \
             iOS client IDs the ID token is checked against",
            client.name
        ),
        _ => err.explanation().unwrap_or_else(|| match err.kind() {
            ErrorKind::Unavailable => "the provider or the store did not answer: run the lab \
                 again in a moment"
                .into(),
            _ => "see the message: it names what failed".into(),
        }),
    };
    Failure::of_desk(at, err, advice)
}

/// Whether the token endpoint's (masked) answer has `field`.
pub(super) fn response_has(raw: &[RawExchange], field: &str) -> bool {
    raw.iter().rev().any(|r| {
        r.response.as_ref().is_some_and(
            |resp| matches!(&resp.body, RawBody::Json { value } if value.get(field).is_some()),
        )
    })
}

/// What the developer should know about an exchange that worked.
pub(super) fn notes(exchanged: &ExchangeReport, request: &LabRequest) -> Vec<String> {
    let mut notes = exchanged.notes.clone();
    if !response_has(&exchanged.raw, "refresh_token") {
        notes.push(match request.access_type {
            AccessType::Online => "no refresh token: access_type was online; use --access-type \
                 offline to get one"
                .into(),
            AccessType::Offline if !request.prompt.contains(&Prompt::Consent) => {
                "no refresh token: Google gives one with offline access only when the person \
                 sees the consent page (the first time, or with prompt=consent); run again \
                 with --prompt consent to get a new one"
                    .into()
            }
            AccessType::Offline => "no refresh token although access was offline and the \
                 consent page was asked for: the provider withheld it"
                .into(),
        });
    }
    let asked_drive = request.scopes().iter().any(|s| s == DRIVE_APPDATA_SCOPE);
    if asked_drive && !exchanged.user.has_drive_appdata {
        notes.push(
            "drive.appdata was asked for but not granted (the person may untick it): the app \
             must work without Drive or ask again"
                .into(),
        );
    }
    notes
}

/// The lab's own check of `hd`, when one was asked for.
pub(super) fn hd_check(request: &LabRequest, user: &UserView) -> Option<RecordedCheck> {
    let wanted = request
        .hd
        .as_deref()
        .map(str::trim)
        .filter(|h| !h.is_empty())?;
    let ok = wanted == "*" && user.hd.is_some() || user.hd.as_deref() == Some(wanted);
    Some(RecordedCheck {
        name: "hd".into(),
        ok,
        detail: match &user.hd {
            Some(hd) => format!("hd claim {hd}; asked for {wanted}"),
            None => format!("no hd claim (not a Workspace account); asked for {wanted}"),
        },
    })
}
