//! `tokendesk health` for cron: the exit status says whether anyone needs attention (10),
//! whether Google could not answer (5), or all is well (0); `--json` is what
//! docs/json/health.schema.json and needs-attention.schema.json say.

use google_emulator::{Endpoint, Fault};
use serde_json::{Value, json};

use crate::Env;
use crate::schemas::Schemas;

async fn signed_in(env: &Env, body: Value) {
    let code = env.mint(body).await;
    let out = env.run(&["exchange", &code]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
}

fn emails(list: &Value) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = list["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["user"]["email"].as_str().unwrap().to_owned(),
                i["reasons"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r.as_str().unwrap().to_owned())
                    .collect(),
            )
        })
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_marks_a_removed_grant_lists_who_needs_attention_and_exits_10() {
    let schemas = Schemas::load();
    let env = Env::start().await;
    env.add_client().await;
    signed_in(&env, json!({"email": "ada@example.com"})).await;

    // All well: exit 0, and it says so.
    let out = env.run(&["health"]).await;
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("1 healthy"), "{}", out.stdout);
    assert!(
        out.stdout.contains("nobody needs attention"),
        "{}",
        out.stdout
    );

    signed_in(&env, json!({"email": "hopper@example.com"})).await;
    signed_in(
        &env,
        json!({"email": "nodrive@example.com", "scopes": ["openid", "email"]}),
    )
    .await;
    let removed = env
        .http
        .post(format!("{}/emulator/v1/grants/revoke", env.emu.base_url()))
        .json(&json!({"email": "hopper@example.com"}))
        .send()
        .await
        .unwrap();
    assert!(removed.status().is_success());

    let out = env.run(&["--json", "health"]).await;
    assert_eq!(
        out.code, 10,
        "someone needs attention: the cron job's signal\n{}",
        out.stderr
    );
    let report = out.json();
    schemas.check("health", &report);
    assert_eq!(report["total"], 3);
    assert_eq!(report["healthy"], 2);
    assert_eq!(report["marked"], 1);
    assert_eq!(report["problems"][0]["email"], "hopper@example.com");
    assert_eq!(
        emails(&report["attention"]),
        [
            ("hopper@example.com".to_owned(), vec!["invalid".to_owned()]),
            (
                "nodrive@example.com".to_owned(),
                vec!["missing_drive_appdata".to_owned()]
            ),
        ]
    );

    // The list alone: no call to Google, the same answer.
    let infos = env.emu.request_count(Endpoint::Tokeninfo);
    let out = env.run(&["--json", "health", "--list"]).await;
    assert_eq!(out.code, 10, "{}", out.stderr);
    let list = out.json();
    schemas.check("needs-attention", &list);
    assert_eq!(emails(&list), emails(&report["attention"]));
    assert_eq!(env.emu.request_count(Endpoint::Tokeninfo), infos);

    let text = env.run(&["health", "--list"]).await;
    assert!(
        text.stdout.contains("hopper@example.com")
            && text.stdout.contains("invalid (")
            && text.stdout.contains("missing_drive_appdata"),
        "{}",
        text.stdout
    );

    // A window wider than the tokens' hour: every live grant is refreshed, not looked at.
    let out = env
        .run(&["--json", "health", "--expiring-within", "2h"])
        .await;
    let report = out.json();
    schemas.check("health", &report);
    assert_eq!(report["refreshed"], 2, "{report}");
    assert_eq!(report["tokeninfo_calls"], 0, "{report}");

    let audit = env
        .run(&["--json", "audit", "--action", "health_sweep"])
        .await
        .json();
    assert_eq!(
        audit["audit"].as_array().unwrap().len(),
        3,
        "each sweep audited"
    );

    let bad = env.run(&["health", "--expiring-within", "soon"]).await;
    assert_eq!(bad.code, 2, "a usage error: {}", bad.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_exits_5_and_marks_nothing_while_google_cannot_answer() {
    let env = Env::start().await;
    env.add_client().await;
    signed_in(&env, json!({"email": "ada@example.com"})).await;
    env.emu
        .inject(Fault::new(Endpoint::Tokeninfo).status(503).times(1000));
    let out = env.run(&["--json", "health"]).await;
    assert_eq!(out.code, 5, "retrying may help: {}", out.stderr);
    let report = out.json();
    Schemas::load().check("health", &report);
    assert_eq!(report["unknown"], 1);
    assert_eq!(report["problems"][0]["check"], "unknown");
    let user = env.run(&["--json", "user", "ada@example.com"]).await.json();
    assert_eq!(
        user["refresh_token"], "present",
        "Google's 503 is not a verdict on the grant"
    );
}
