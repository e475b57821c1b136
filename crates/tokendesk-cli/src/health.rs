//! `tokendesk health`: the health sweep, for cron. Every grant with a live refresh token is
//! checked (tokeninfo while its access token has time left, else a refresh), grants Google
//! refuses are marked invalid, and the users who need attention are listed. `--list` only
//! reads the list (no call to Google). The exit status says what a cron job acts on: see
//! [`status`].

use tokendesk_core::console::Console;
use tokendesk_core::desk::{GrantHealth, HealthOptions, HealthReport, NeedsAttention};

use crate::exit;
use crate::output::{Out, or_dash, print_json};
use crate::stdio::{self, errln, outln};

pub async fn run(
    console: &dyn Console,
    options: HealthOptions,
    list_only: bool,
    out: &Out,
) -> anyhow::Result<u8> {
    if list_only {
        let list = console
            .needs_attention(options.expiring_within_secs)
            .await?;
        if out.json {
            print_json(&list);
        } else {
            print_list(&list);
        }
        return Ok(if list.total > 0 {
            exit::NEEDS_ATTENTION
        } else {
            exit::OK
        });
    }
    let bar = stdio::progress_bar(out.json);
    let stop = stdio::stop_on_ctrl_c();
    let progress = |done: usize, total: usize, check: &GrantHealth| {
        stdio::advance(bar.as_ref(), done, total, check.email.as_deref());
    };
    let report = console.health_sweep(options, &progress, &stop).await?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if out.json {
        print_json(&report);
    } else {
        print_report(&report);
    }
    Ok(status(&report))
}

/// 10 when someone needs attention (the list is what a person acts on), else 5 when Google
/// could not answer for some grants (run again later), else 1 when a check failed otherwise,
/// else 0.
pub fn status(report: &HealthReport) -> u8 {
    if report.attention.total > 0 {
        exit::NEEDS_ATTENTION
    } else if report.has_unknown() {
        exit::UNAVAILABLE
    } else if report.failed > 0 {
        exit::FAILURE
    } else {
        exit::OK
    }
}

fn print_report(r: &HealthReport) {
    for p in &r.problems {
        outln!(
            "{:<8}  {}  {}  {}  {}",
            p.check,
            p.sub,
            or_dash(p.email.as_deref()),
            or_dash(p.client.as_deref()),
            or_dash(p.error.as_deref())
        );
    }
    outln!(
        "checked {} grant(s): {} healthy, {} refreshed, {} marked invalid, {} unknown, {} failed, \
         {} skipped ({} tokeninfo call(s), {} refresh(es))",
        r.total,
        r.healthy,
        r.refreshed,
        r.marked,
        r.unknown,
        r.failed,
        r.skipped,
        r.tokeninfo_calls,
        r.refresh_calls
    );
    if let Some(why) = &r.stopped {
        errln!("stopped early: {why}");
    }
    print_list(&r.attention);
}

fn print_list(list: &NeedsAttention) {
    if list.total == 0 {
        outln!("nobody needs attention");
        return;
    }
    outln!("needs attention: {}", list.total);
    for item in &list.users {
        let reasons: Vec<&str> = item.reasons.iter().map(|r| r.as_str()).collect();
        let why = item
            .user
            .refresh_token_invalid_reason
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default();
        outln!(
            "  {}  {}  {}  {}{why}",
            or_dash(item.user.email.as_deref()),
            item.user.sub,
            or_dash(item.user.client.as_deref()),
            reasons.join(", ")
        );
    }
    if list.users.len() < list.total {
        outln!(
            "  ... and {} more (the list shows the {} most recently changed)",
            list.total - list.users.len(),
            list.users.len()
        );
    }
}
