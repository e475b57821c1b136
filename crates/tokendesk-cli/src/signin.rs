//! `tokendesk signin`: the sign-in lab from the command line. Each step is printed as it
//! happens (or, with `--json`, the whole run as one document at the end); a failed step says
//! what to change, and the exit status is the failure's kind (README: "Exit codes").

use tokendesk_core::console::Console;
use tokendesk_core::desk::StopFlag;
use tokendesk_core::oauth::{HttpConfig, RawBody, RawExchange};
use tokendesk_core::signin_lab::{self, LAB_TIMEOUT, LabEvent, LabIo};

use crate::args::SigninArgs;
use crate::output::{Out, or_dash, print_json};
use crate::stdio::outln;
use crate::{browser, exit};

/// Runs the lab; its exit status.
pub async fn run(
    console: &dyn Console,
    args: &SigninArgs,
    network: &HttpConfig,
    out: &Out,
) -> anyhow::Result<u8> {
    let stop = StopFlag::default();
    let stopper = stop.clone();
    let ctrl_c = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            stopper.stop();
        }
    });
    let json = out.json;
    let step = move |event: &LabEvent| {
        if !json {
            print_step(event);
        }
    };
    let open = |url: &str| browser::open(url, "the sign-in");
    let io = LabIo {
        open: &open,
        step: &step,
        stop: &stop,
        timeout: LAB_TIMEOUT,
        network,
    };
    let report = signin_lab::run(console, &args.request(), &io).await;
    ctrl_c.abort();
    if json {
        print_json(&report);
    }
    Ok(report.failure_kind().map_or(exit::OK, exit::of_kind))
}

fn print_step(event: &LabEvent) {
    match event {
        LabEvent::AuthorizationUrl {
            url,
            client,
            client_id,
            redirect_uri,
        } => {
            outln!("1. Authorization URL (client {client}, {client_id})");
            outln!("   redirect_uri: {redirect_uri}");
            outln!("   {url}");
            outln!(
                "   waiting for the browser (up to {} s; Ctrl-C stops)...",
                LAB_TIMEOUT.as_secs()
            );
        }
        LabEvent::Redirected {
            code,
            state_ok,
            scope,
        } => {
            let state = if *state_ok {
                "matches"
            } else {
                "DOES NOT match"
            };
            outln!("2. Redirected: code {code}, state {state}");
            outln!("   granted: {}", or_dash(scope.as_deref()));
        }
        LabEvent::Exchanged {
            raw,
            refresh_token,
            scopes,
            notes,
        } => {
            outln!("3. Exchanged (secrets masked):");
            for r in raw {
                print_raw(r);
            }
            outln!(
                "   refresh token: {}",
                if *refresh_token { "yes" } else { "no" }
            );
            outln!("   scopes: {}", scopes.join(" "));
            for note in notes {
                outln!("   note: {note}");
            }
        }
        LabEvent::Verified { checks, valid } => {
            outln!(
                "4. Verified: the ID token is {}",
                if *valid { "valid" } else { "NOT valid" }
            );
            for c in checks {
                outln!(
                    "   [{}] {:<14} {}",
                    if c.ok { "ok" } else { "FAIL" },
                    c.name,
                    c.detail
                );
            }
        }
        LabEvent::Stored { user } => {
            outln!(
                "5. Stored: {} (sub {}), client {}",
                or_dash(user.email.as_deref()),
                user.sub,
                or_dash(user.client.as_deref())
            );
            outln!(
                "   refresh token {}, drive.appdata {}, access token until {}",
                user.refresh_token,
                if user.has_drive_appdata {
                    "granted"
                } else {
                    "NOT granted"
                },
                or_dash(user.access_token_expires_at.as_deref())
            );
        }
        LabEvent::Failed {
            at,
            code,
            message,
            advice,
            ..
        } => {
            outln!("FAILED at the {} ({code}): {message}", at.title());
            outln!("   what to change: {advice}");
        }
    }
}

/// One HTTP exchange as the lab shows it: the request, its form, the answer.
pub(crate) fn print_raw(r: &RawExchange) {
    outln!("   {} {} ({} ms)", r.method, r.url, r.elapsed_ms);
    if !r.form.is_empty() {
        let form: Vec<String> = r
            .form
            .iter()
            .map(|f| format!("{}={}", f.name, f.value))
            .collect();
        outln!("   form: {}", form.join(" "));
    }
    match (&r.response, &r.error) {
        (Some(resp), _) => {
            outln!("   -> HTTP {}", resp.status);
            match &resp.body {
                RawBody::Json { value } => {
                    let text = serde_json::to_string_pretty(value).unwrap_or_default();
                    for line in text.lines() {
                        outln!("      {line}");
                    }
                }
                RawBody::NotJson { bytes } => outln!("      ({bytes} bytes, not JSON)"),
                RawBody::TooLarge { bytes } => {
                    outln!("      ({bytes} bytes of JSON, too long to keep)");
                }
                RawBody::FileContent { bytes } => {
                    outln!("      (a file's content, {bytes} bytes: not kept)");
                }
                RawBody::Empty => {}
            }
        }
        (None, Some(error)) => outln!("   -> no answer: {error}"),
        (None, None) => {}
    }
}
