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
use tokendesk_core::store::{AuditAction, AuditEntry};

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

/// When the caller leaves: well after the server has the request, even on a busy machine, and
/// well before Google's answer ([`SLOW`]).
const LEAVE_AFTER: Duration = Duration::from_millis(600);
const SLOW: Duration = Duration::from_millis(1500);

/// A replica with four signed-in users, Ada signed in as an operator, and `endpoint` answering
/// each call in [`SLOW`].
async fn four_users_and_a_slow(endpoint: Endpoint) -> (Team, Server, String, RemoteConsole) {
    let team = Team::new().await;
    let a = team.replica("a").await;
    team.add_client(&a).await;
    for n in 1..=4 {
        let email = format!("u{n}@example.com");
        assert_eq!(team.post_code(&a, &team.code(&email)).await, 200);
    }
    let (token, console) = ada_signed_in(&team, &a).await;
    team.emu
        .inject(Fault::new(endpoint).latency(SLOW).times(100));
    (team, a, token, console)
}

/// A stop flag set after [`LEAVE_AFTER`], as Ctrl-C would be.
fn ctrl_c_soon() -> StopFlag {
    let stop = StopFlag::default();
    let stopper = stop.clone();
    tokio::spawn(async move {
        tokio::time::sleep(LEAVE_AFTER).await;
        stopper.stop();
    });
    stop
}

/// The audit entries of `action`, polled until `done` says they are all there (10 s at most).
async fn audited_until(
    console: &RemoteConsole,
    action: AuditAction,
    done: impl AsyncFn(&[AuditEntry]) -> bool,
) -> Vec<AuditEntry> {
    let mut entries = Vec::new();
    for _ in 0..100 {
        entries = console
            .audit(AuditQuery {
                action: Some(action),
                limit: 10,
                ..AuditQuery::default()
            })
            .await
            .unwrap();
        if done(&entries).await {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    entries
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exchange_whose_caller_hangs_up_still_stores_the_user() {
    let team = Team::new().await;
    let a = team.replica("a").await;
    team.add_client(&a).await;
    let (token, console) = ada_signed_in(&team, &a).await;

    // Google takes a second and a half to answer; the caller gives up well before.
    team.emu.inject(Fault::new(Endpoint::Token).latency(SLOW));
    let before = team.emu.request_count(Endpoint::Token);
    post_and_hang_up(
        format!("{}{}", a.admin_url(), paths::EXCHANGE),
        &token,
        serde_json::json!({ "code": team.code("grace@example.com"), "redirect_uri": "" }),
        LEAVE_AFTER,
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
    let exchanged = audited_until(&console, AuditAction::Exchange, async |_| true).await;
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

/// Four healthy users checked one at a time, each check [`SLOW`] at Google; the caller
/// leaves during the first. The server finishes that check, starts no other, and audits the
/// sweep as the caller.
async fn a_sweep_left(leave: Leave) {
    let (team, a, token, console) = four_users_and_a_slow(Endpoint::Tokeninfo).await;
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
                LEAVE_AFTER,
            )
            .await;
        }
        Leave::Stop => {
            let err = console
                .health_sweep(options, &|_, _, _| {}, &ctrl_c_soon())
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

    let swept = audited_until(&console, AuditAction::HealthSweep, async |e| !e.is_empty()).await;
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
    // One refresh at a time, each 1.5 s at Google; Ctrl-C during the first.
    let (team, a, _, console) = four_users_and_a_slow(Endpoint::Token).await;
    let before = team.emu.request_count(Endpoint::Token);
    let err = console
        .refresh_all(1, &|_, _, _| {}, &ctrl_c_soon())
        .await
        .expect_err("stopped before the server answered");
    assert_eq!(err.code(), "stopped", "{err}");

    // The run is ended at once (no replica claims more of it); the refresh under way finishes.
    let pg = team.pg().await;
    let refreshed = audited_until(&console, AuditAction::Refresh, async |e| {
        pg.open_runs().await.unwrap().is_empty() && !e.is_empty()
    })
    .await;
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
