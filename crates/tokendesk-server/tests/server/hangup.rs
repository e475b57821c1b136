//! A caller that hangs up (Ctrl-C, a closed laptop, a proxy's timeout) does not cut an
//! operation off half-way on the server: an exchange whose code Google has taken still stores
//! the user, and a sweep stops starting checks but finishes the ones under way and is audited;
//! Ctrl-C on a remote sweep or `refresh --all` stops it that way.
//! Google goes on with a request whose sender has gone; so must the server.

use std::time::Duration;

use google_emulator::{Endpoint, Fault};
use tokendesk_core::api::{Role, paths};
use tokendesk_core::console::AuditQuery;
use tokendesk_core::console::Console;
use tokendesk_core::desk::{HealthOptions, StopFlag};
use tokendesk_core::store::AuditAction;

use tokendesk_core::remote::RemoteConsole;
use tokendesk_server::run::Server;

use crate::team::Team;

/// POSTs `body` to `path` as `token` and hangs up after `after`; the answer must not come
/// before (the test's premise).
async fn post_and_hang_up(url: String, token: &str, body: serde_json::Value, after: Duration) {
    let sent = reqwest::Client::new()
        .post(url)
        .bearer_auth(token)
        .json(&body)
        .timeout(after)
        .send()
        .await;
    let err = sent.expect_err("the caller hangs up before the answer");
    assert!(err.is_timeout(), "{err:?}");
}

/// Ada, an operator, signed in on `server`: her session token and a console on it.
async fn ada_signed_in(team: &Team, server: &Server) -> (String, RemoteConsole) {
    team.add_staff("ada@example.com", Role::Operator).await;
    let who = team.sign_in(server, "ada@example.com").await.unwrap();
    let token = who.token.unwrap();
    let console = team.console(server, &token).await.unwrap();
    (token, console)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exchange_whose_caller_hangs_up_still_stores_the_user() {
    let team = Team::new().await;
    let a = team.replica("a").await;
    team.add_client(&a).await;
    let (token, console) = ada_signed_in(&team, &a).await;

    // Google takes a second and a half to answer; the caller gives up well before (and well
    // after the server has the request, even on a busy machine).
    team.emu
        .inject(Fault::new(Endpoint::Token).latency(Duration::from_millis(1500)));
    let before = team.emu.request_count(Endpoint::Token);
    post_and_hang_up(
        format!("{}{}", a.admin_url(), paths::EXCHANGE),
        &token,
        serde_json::json!({ "code": team.code("grace@example.com"), "redirect_uri": "" }),
        Duration::from_millis(600),
    )
    .await;

    let mut found = None;
    for _ in 0..100 {
        if let Ok(user) = console.user("grace@example.com").await {
            found = Some(user);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let user = found.expect("the exchange went on without its caller and stored the user");
    assert_eq!(
        team.emu.request_count(Endpoint::Token) - before,
        1,
        "the code went to Google once"
    );
    assert_eq!(
        user.user.refresh_token,
        tokendesk_core::desk::RefreshTokenView::Present,
        "the refresh token is kept"
    );
    let exchanged = console
        .audit(AuditQuery {
            action: Some(AuditAction::Exchange),
            limit: 10,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert!(
        exchanged.iter().any(|e| e.os_user == "ada@example.com"),
        "audited as the caller who sent the code: {exchanged:?}"
    );
    a.stop().await;
}

/// How the person running a sweep leaves it.
enum Leave {
    /// The connection goes (a closed laptop, a proxy's timeout).
    HangUp,
    /// Ctrl-C in `tokendesk --server URL health`: the console's stop flag.
    Stop,
}

/// Four healthy users checked one at a time, each check 1.5 s at Google; the caller
/// leaves during the first. The server finishes that check, starts no other, and audits the
/// sweep as the caller.
async fn a_sweep_left(leave: Leave) {
    let team = Team::new().await;
    let a = team.replica("a").await;
    team.add_client(&a).await;
    for n in 1..=4 {
        let email = format!("u{n}@example.com");
        assert_eq!(team.post_code(&a, &team.code(&email)).await, 200);
    }
    let (token, console) = ada_signed_in(&team, &a).await;
    team.emu.inject(
        Fault::new(Endpoint::Tokeninfo)
            .latency(Duration::from_millis(1500))
            .times(100),
    );
    let options = HealthOptions {
        concurrency: 1,
        expiring_within_secs: 600,
    };
    match leave {
        Leave::HangUp => {
            post_and_hang_up(
                format!("{}{}", a.admin_url(), paths::HEALTH_SWEEP),
                &token,
                serde_json::to_value(options).unwrap(),
                Duration::from_millis(600),
            )
            .await;
        }
        Leave::Stop => {
            let stop = StopFlag::default();
            let stopper = stop.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(600)).await;
                stopper.stop();
            });
            let err = console
                .health_sweep(options, &|_, _, _| {}, &stop)
                .await
                .expect_err("stopped before the server answered");
            assert_eq!(err.code(), "stopped", "{err}");
            assert_eq!(
                err.kind(),
                tokendesk_core::desk::ErrorKind::Unavailable,
                "exit 5, as a sweep stopped on this machine: run it again later"
            );
            assert!(
                err.to_string().contains("--list"),
                "says where the list is: {err}"
            );
        }
    }

    let mut swept = Vec::new();
    for _ in 0..100 {
        swept = console
            .audit(AuditQuery {
                action: Some(AuditAction::HealthSweep),
                limit: 10,
                ..AuditQuery::default()
            })
            .await
            .unwrap();
        if !swept.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(swept.len(), 1, "the sweep ended and was audited: {swept:?}");
    assert_eq!(
        swept[0].os_user, "ada@example.com",
        "as the caller who started it"
    );
    let detail = swept[0].detail.clone().unwrap_or_default();
    assert!(
        detail.contains("1 healthy") && detail.contains("3 skipped"),
        "the check under way finished, no other began: {detail}"
    );
    assert_eq!(
        team.emu.request_count(Endpoint::Tokeninfo),
        1,
        "one tokeninfo call: the one under way when the caller left"
    );
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_whose_caller_hangs_up_stops_starting_checks_and_is_audited() {
    a_sweep_left(Leave::HangUp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_on_a_remote_sweep_stops_it_on_the_server() {
    a_sweep_left(Leave::Stop).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_on_a_remote_refresh_all_ends_the_run_where_it_is() {
    let team = Team::new().await;
    let a = team.replica("a").await;
    team.add_client(&a).await;
    for n in 1..=4 {
        let email = format!("u{n}@example.com");
        assert_eq!(team.post_code(&a, &team.code(&email)).await, 200);
    }
    let (_, console) = ada_signed_in(&team, &a).await;
    // One refresh at a time, each 1.5 s at Google; Ctrl-C during the first.
    team.emu.inject(
        Fault::new(Endpoint::Token)
            .latency(Duration::from_millis(1500))
            .times(100),
    );
    let before = team.emu.request_count(Endpoint::Token);
    let stop = StopFlag::default();
    let stopper = stop.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(600)).await;
        stopper.stop();
    });
    let err = console
        .refresh_all(1, &|_, _, _| {}, &stop)
        .await
        .expect_err("stopped before the server answered");
    assert_eq!(err.code(), "stopped", "{err}");

    // The run is ended at once (no replica claims more of it); the refresh under way finishes.
    let pg = team.pg().await;
    let mut refreshed = Vec::new();
    for _ in 0..100 {
        refreshed = console
            .audit(AuditQuery {
                action: Some(AuditAction::Refresh),
                limit: 10,
                ..AuditQuery::default()
            })
            .await
            .unwrap();
        if pg.open_runs().await.unwrap().is_empty() && !refreshed.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(pg.open_runs().await.unwrap().is_empty(), "the run ended");
    assert_eq!(refreshed.len(), 1, "the refresh under way: {refreshed:?}");
    assert_eq!(refreshed[0].os_user, "ada@example.com");
    assert_eq!(
        team.emu.request_count(Endpoint::Token) - before,
        1,
        "no other refresh began"
    );
    a.stop().await;
}
