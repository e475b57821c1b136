//! The health sweep on a team server: an operator's sweep through either replica (each
//! refresh under the grant's advisory lock, so two sweeps at once through two replicas never
//! send one refresh token twice), a grant removed at Google marked, the needs-attention list
//! for viewers, the sweep refused to them.

use std::sync::Arc;

use google_emulator::{Endpoint, Fault, MintCode, UserSpec};
use tokendesk_core::api::Role;
use tokendesk_core::console::Console;
use tokendesk_core::desk::{AttentionReason, ErrorKind, HealthOptions, RefreshTokenView, StopFlag};

use crate::team::Team;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweeps_through_two_replicas_share_each_refresh_and_mark_a_removed_grant() {
    let team = Team::new().await;
    let a = team.replica("a").await;
    let b = team.replica("b").await;
    team.add_client(&a).await;
    let users = ["grace@example.com", "hopper@example.com", "lin@example.com"];
    for email in users {
        assert_eq!(team.post_code(&a, &team.code(email)).await, 200);
    }
    let nodrive = MintCode {
        user: UserSpec {
            email: "nodrive@example.com".into(),
            ..UserSpec::default()
        },
        scopes: Some(vec!["openid".into(), "email".into()]),
        ..MintCode::default()
    };
    assert_eq!(
        team.post_code(&a, &team.emu.mint_code(&nodrive).unwrap().0)
            .await,
        200
    );
    team.add_staff("ada@example.com", Role::Operator).await;
    team.add_staff("vic@example.com", Role::Viewer).await;
    let ada = team.sign_in(&a, "ada@example.com").await.unwrap();
    let token = ada.token.unwrap();
    let on_a = Arc::new(team.console(&a, &token).await.unwrap());
    let on_b = Arc::new(team.console(&b, &token).await.unwrap());

    // Hopper removes the app at Google. Google rotates refresh tokens and answers slowly, and
    // a window of two hours makes every access token "about to expire": both sweeps refresh
    // every grant, at the same time, through two replicas.
    let before_revoke = team.emu.request_count(Endpoint::Token);
    let removed = reqwest::Client::new()
        .post(format!("{}/emulator/v1/grants/revoke", team.emu.base_url()))
        .json(&serde_json::json!({ "email": "hopper@example.com" }))
        .send()
        .await
        .unwrap();
    assert!(removed.status().is_success());
    team.emu.set_refresh_rotation(true);
    team.emu.inject(
        Fault::new(Endpoint::Token)
            .latency(std::time::Duration::from_millis(200))
            .times(1000),
    );
    let options = HealthOptions {
        concurrency: 4,
        expiring_within_secs: 7200,
    };
    let sweeps: Vec<_> = [&on_a, &on_b]
        .into_iter()
        .map(|console| {
            let console = Arc::clone(console);
            tokio::spawn(async move {
                console
                    .health_sweep(options, &|_, _, _| {}, &StopFlag::default())
                    .await
            })
        })
        .collect();
    let mut reports = Vec::new();
    for sweep in sweeps {
        reports.push(sweep.await.unwrap().expect("an operator may sweep"));
    }
    assert_eq!(
        team.emu.refresh_reuse_detections(),
        0,
        "two sweeps through two replicas never send one refresh token twice"
    );
    let sent = team.emu.request_count(Endpoint::Token) - before_revoke;
    assert!(
        (4..=8).contains(&sent),
        "each grant refreshed once per sweep at most (4 grants, 2 sweeps): {sent}"
    );
    for report in &reports {
        assert_eq!(report.total, 4, "{report:?}");
        assert_eq!(report.unknown + report.failed, 0, "{report:?}");
    }
    let marked: usize = reports.iter().map(|r| r.marked).sum();
    assert!(marked >= 1, "Hopper's grant was marked: {reports:?}");

    let hopper = on_b.user("hopper@example.com").await.unwrap().user;
    assert_eq!(hopper.refresh_token, RefreshTokenView::Invalid);
    for email in ["grace@example.com", "lin@example.com"] {
        assert_eq!(
            on_a.user(email).await.unwrap().user.refresh_token,
            RefreshTokenView::Present,
            "{email} stays live"
        );
    }

    // A viewer reads the list, and may not sweep.
    let vic = team.staff_console(&b, "vic@example.com").await;
    let list = vic.needs_attention(600).await.unwrap();
    let mut listed: Vec<(String, Vec<AttentionReason>)> = list
        .users
        .iter()
        .map(|i| (i.user.email.clone().unwrap(), i.reasons.clone()))
        .collect();
    listed.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(
        listed,
        [
            (
                "hopper@example.com".to_owned(),
                vec![AttentionReason::Invalid]
            ),
            (
                "nodrive@example.com".to_owned(),
                vec![AttentionReason::MissingDriveAppdata]
            ),
        ]
    );
    assert_eq!(list.total, 2);
    let refused = vic
        .health_sweep(
            HealthOptions::default(),
            &|_, _, _| {},
            &StopFlag::default(),
        )
        .await
        .expect_err("a viewer may not sweep");
    assert_eq!(refused.kind(), ErrorKind::Forbidden);

    let swept = on_a
        .audit(tokendesk_core::console::AuditQuery {
            action: Some(tokendesk_core::store::AuditAction::HealthSweep),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(swept.len(), 2, "each sweep audited");
    assert!(
        swept.iter().all(|e| e.os_user == "ada@example.com"),
        "under the staff member who asked: {swept:?}"
    );
    a.stop().await;
    b.stop().await;
}
