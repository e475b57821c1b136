//! The health sweep against the emulator: a healthy grant costs one tokeninfo call and
//! changes nothing; an access token about to expire is refreshed; a grant the user removed at
//! Google is marked invalid (only after the refresh itself is refused); a Google that cannot
//! answer marks nothing and keeps every refresh token; the "needs attention" list names why.

use std::time::Duration;

use google_emulator::{Endpoint, Fault, MintCode, UserSpec};
use tokendesk_core::desk::{
    AttentionReason, GIVE_UP_AFTER_UNKNOWN, GrantCheck, HealthOptions, HealthReport,
    RefreshTokenView, StopFlag,
};
use tokendesk_core::store::{AuditAction, AuditFilter, AuditOutcome, RefreshTokenState};

use crate::{ADA, BOB, Fixture};

async fn sweep(f: &Fixture, options: HealthOptions) -> HealthReport {
    f.desk
        .health_sweep(options, |_, _, _| {}, &StopFlag::default())
        .await
        .expect("a sweep ends with a report")
}

async fn sweep_default(f: &Fixture) -> HealthReport {
    sweep(f, HealthOptions::default()).await
}

/// Kills every grant of `email` at the emulator, as removing the app in the Google Account does.
pub(crate) async fn user_removes_access(f: &Fixture, email: &str) {
    let response = reqwest::Client::new()
        .post(format!("{}/emulator/v1/grants/revoke", f.emu.base_url()))
        .json(&serde_json::json!({ "email": email }))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_grant_costs_one_tokeninfo_call_and_changes_nothing() {
    let f = Fixture::start().await;
    f.exchange(&f.code(ADA)).await.unwrap();
    let before = f.grants();
    let (tokens, infos) = (f.token_posts(), f.emu.request_count(Endpoint::Tokeninfo));
    let report = sweep_default(&f).await;
    assert_eq!(
        (report.total, report.healthy, report.refreshed),
        (1, 1, 0),
        "{report:?}"
    );
    assert_eq!(report.tokeninfo_calls, 1);
    assert_eq!(
        f.emu.request_count(Endpoint::Tokeninfo) - infos,
        1,
        "an access token with most of its hour left is checked at tokeninfo"
    );
    assert_eq!(
        f.token_posts(),
        tokens,
        "a healthy grant is not refreshed: no token is minted, nothing is written"
    );
    assert_eq!(f.grants(), before, "the grant is untouched");
    assert!(report.problems.is_empty());
    assert!(
        report.attention.users.is_empty(),
        "a live grant with drive.appdata needs nobody: {:?}",
        report.attention
    );
    let swept = f
        .desk
        .audit_log(AuditFilter {
            action: Some(AuditAction::HealthSweep),
            limit: 10,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(swept.len(), 1, "the sweep is audited once");
    assert_eq!(swept[0].outcome, AuditOutcome::Ok);
    assert!(
        swept[0].detail.as_deref().unwrap().contains("1 healthy"),
        "{:?}",
        swept[0].detail
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_access_token_about_to_expire_is_refreshed() {
    let f = Fixture::start().await;
    f.exchange(&f.code(ADA)).await.unwrap();
    let expiry = f.grants()[0].access_token_expires_at.unwrap();
    // Five minutes left: inside the ten-minute window.
    f.clock.advance(Duration::from_secs(3600 - 300));
    let (tokens, infos) = (f.token_posts(), f.emu.request_count(Endpoint::Tokeninfo));
    let report = sweep_default(&f).await;
    assert_eq!((report.healthy, report.refreshed), (0, 1), "{report:?}");
    assert_eq!(f.token_posts() - tokens, 1, "one refresh");
    assert_eq!(
        f.emu.request_count(Endpoint::Tokeninfo),
        infos,
        "a token about to expire is renewed, not looked at"
    );
    let grant = &f.grants()[0];
    assert!(
        grant.access_token_expires_at.unwrap() > expiry,
        "the new access token lives longer"
    );
    assert_eq!(grant.refresh_token, RefreshTokenState::Present);

    // A longer window sweeps the same token again; a shorter one leaves it to tokeninfo.
    let report = sweep(
        &f,
        HealthOptions {
            expiring_within_secs: 60,
            ..HealthOptions::default()
        },
    )
    .await;
    assert_eq!((report.healthy, report.refreshed), (1, 0), "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_removed_at_google_is_marked_invalid_and_needs_attention() {
    let f = Fixture::start().await;
    f.exchange(&f.code(ADA)).await.unwrap();
    f.exchange(&f.code(BOB)).await.unwrap();
    user_removes_access(&f, ADA).await;
    let tokens = f.token_posts();
    let report = sweep_default(&f).await;
    assert_eq!(
        (report.healthy, report.marked, report.unknown),
        (1, 1, 0),
        "{report:?}"
    );
    assert_eq!(
        f.token_posts() - tokens,
        1,
        "tokeninfo's refusal is confirmed by one refresh, which Google refuses"
    );
    assert_eq!(report.problems.len(), 1);
    assert_eq!(report.problems[0].email.as_deref(), Some(ADA));
    assert_eq!(report.problems[0].check, GrantCheck::Marked);
    assert_eq!(report.problems[0].error.as_deref(), Some("invalid_grant"));

    let ada = f.desk.user(ADA).await.unwrap().user;
    assert_eq!(ada.refresh_token, RefreshTokenView::Invalid);
    assert!(
        ada.refresh_token_invalid_reason.is_some(),
        "the grant says why: Google's reason"
    );
    let grant = f
        .grants()
        .into_iter()
        .find(|g| g.refresh_token == RefreshTokenState::Invalid)
        .unwrap();
    assert!(
        grant.refresh_token_sealed.is_none(),
        "a refresh token Google refused is dead: dropped as a refresh by hand drops it (the \
         audit log and the reason are the evidence)"
    );
    let listed = &report.attention.users;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].user.email.as_deref(), Some(ADA));
    assert_eq!(listed[0].reasons, [AttentionReason::Invalid]);
    assert_eq!(
        f.desk.needs_attention(600).await.unwrap().users,
        report.attention.users,
        "the list is read from the store: the same without a sweep"
    );
    let refused = f
        .desk
        .audit_log(AuditFilter {
            action: Some(AuditAction::Refresh),
            outcome: Some(AuditOutcome::Failed),
            limit: 10,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(refused.len(), 1, "the refusal is audited as a refresh's");

    // The next sweep does not check a dead grant again.
    let tokens = f.token_posts();
    let again = sweep_default(&f).await;
    assert_eq!((again.total, again.healthy), (1, 1), "{again:?}");
    assert_eq!(f.token_posts(), tokens);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn google_unavailable_or_unreachable_marks_nothing_and_keeps_every_refresh_token() {
    let f = Fixture::start().await;
    f.exchange(&f.code(ADA)).await.unwrap();
    f.clock.advance(Duration::from_secs(3100));
    f.exchange(&f.code(BOB)).await.unwrap();
    // Ada's token is about to expire (a refresh), Bob's has its hour (tokeninfo): both fail.
    let before = f.grants();
    f.emu
        .inject(Fault::new(Endpoint::Tokeninfo).status(503).times(100));
    f.emu
        .inject(Fault::new(Endpoint::Token).drop_connection().times(100));
    let report = sweep_default(&f).await;
    assert_eq!(
        (report.unknown, report.marked, report.healthy),
        (2, 0, 0),
        "{report:?}"
    );
    assert!(
        report
            .problems
            .iter()
            .all(|p| p.check == GrantCheck::Unknown)
    );
    assert_eq!(f.grants(), before, "nothing is marked, nothing is dropped");

    f.emu.clear_faults();
    f.clock.advance(Duration::from_secs(3600));
    f.emu
        .inject(Fault::new(Endpoint::Token).drop_connection().times(100));
    let report = sweep_default(&f).await;
    assert_eq!((report.unknown, report.marked), (2, 0), "{report:?}");
    assert!(
        f.grants()
            .iter()
            .all(|g| g.refresh_token == RefreshTokenState::Present
                && g.refresh_token_sealed.is_some()),
        "a dropped connection on the refresh itself is unknown, never invalid"
    );
    assert!(
        report.attention.users.is_empty(),
        "expired access tokens with live refresh tokens need nobody"
    );
    let swept = f
        .desk
        .audit_log(AuditFilter {
            action: Some(AuditAction::HealthSweep),
            limit: 1,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(
        swept[0].outcome,
        AuditOutcome::Failed,
        "a sweep that could not check everyone is not recorded as fine"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_gives_up_while_google_is_down() {
    let f = Fixture::start().await;
    let users = GIVE_UP_AFTER_UNKNOWN + 4;
    for n in 0..users {
        f.exchange(&f.code(&format!("u{n}@example.com")))
            .await
            .unwrap();
    }
    f.emu
        .inject(Fault::new(Endpoint::Tokeninfo).status(500).times(10_000));
    let report = sweep(
        &f,
        HealthOptions {
            concurrency: 1,
            ..HealthOptions::default()
        },
    )
    .await;
    assert_eq!(report.unknown, GIVE_UP_AFTER_UNKNOWN, "{report:?}");
    assert_eq!(report.skipped, users - GIVE_UP_AFTER_UNKNOWN);
    assert!(report.stopped.is_some(), "the report says why it stopped");
    assert!(report.has_unknown());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_without_drive_appdata_needs_attention() {
    let f = Fixture::start().await;
    let spec = MintCode {
        user: UserSpec {
            email: "nodrive@example.com".into(),
            ..UserSpec::default()
        },
        scopes: Some(vec!["openid".into(), "email".into(), "profile".into()]),
        ..MintCode::default()
    };
    let code = f.emu.mint_code(&spec).unwrap().0;
    f.exchange(&code).await.unwrap();
    f.exchange(&f.code(ADA)).await.unwrap();
    let report = sweep_default(&f).await;
    assert_eq!(report.healthy, 2, "the grant itself is alive: {report:?}");
    let listed = &report.attention.users;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].user.email.as_deref(), Some("nodrive@example.com"));
    assert_eq!(listed[0].reasons, [AttentionReason::MissingDriveAppdata]);
    assert_eq!(report.attention.total, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_sweep_checks_nothing_more() {
    let f = Fixture::start().await;
    f.exchange(&f.code(ADA)).await.unwrap();
    let stop = StopFlag::default();
    stop.stop();
    let infos = f.emu.request_count(Endpoint::Tokeninfo);
    let report = f
        .desk
        .health_sweep(HealthOptions::default(), |_, _, _| {}, &stop)
        .await
        .unwrap();
    assert_eq!((report.total, report.skipped), (1, 1));
    assert_eq!(f.emu.request_count(Endpoint::Tokeninfo), infos);
    assert_eq!(report.stopped.as_deref(), Some("stopped by request"));
}
