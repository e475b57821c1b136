//! What a newcomer reads: the audit names people, a revoked grant shows no live access token.

use serde_json::{Value, json};

use crate::Env;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_names_users_by_email_not_by_number() {
    let env = Env::start().await;
    env.add_client().await;
    for email in ["ada@example.com", "grace@example.com"] {
        let code = env.mint(json!({ "email": email })).await;
        assert_eq!(env.run(&["exchange", &code]).await.code, 0);
    }

    let json = env.run(&["--json", "audit"]).await.json();
    let exchanges: Vec<&Value> = json["audit"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "exchange")
        .collect();
    assert_eq!(exchanges.len(), 2);
    let grace = exchanges[0];
    assert_eq!(grace["user_email"], "grace@example.com");
    assert!(grace["user_id"].is_i64(), "the numeric id stays: {grace}");
    let users = env.run(&["--json", "users"]).await.json();
    let sub = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "grace@example.com")
        .unwrap()["sub"]
        .clone();
    assert_eq!(grace["user_sub"], sub);

    let text = env.run(&["audit"]).await;
    assert_eq!(text.code, 0, "{}", text.stderr);
    let rows: Vec<&str> = text
        .stdout
        .lines()
        .filter(|l| l.contains(" exchange "))
        .collect();
    assert_eq!(rows.len(), 2, "{}", text.stdout);
    assert!(
        rows[0].contains("grace@example.com") && rows[1].contains("ada@example.com"),
        "the USER column names them: {}",
        text.stdout
    );
    let client_add = text
        .stdout
        .lines()
        .find(|l| l.contains(" client_add "))
        .unwrap();
    assert!(
        !client_add.contains('@'),
        "an entry about no user names nobody: {client_add}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_grant_shows_its_access_token_revoked_not_counting_down() {
    let env = Env::start().await;
    env.add_client().await;
    let code = env.mint(json!({"email": "ada@example.com"})).await;
    assert_eq!(env.run(&["exchange", &code]).await.code, 0);
    let before = env.run(&["--json", "user", "ada@example.com"]).await.json();
    assert_eq!(before["access_token_state"], "issued");
    assert!(before["access_token_expires_at"].is_string());

    let revoked = env.run(&["--json", "revoke", "ada@example.com"]).await;
    assert_eq!(revoked.code, 0, "{}", revoked.stderr);
    assert_eq!(revoked.json()["user"]["access_token_state"], "revoked");

    let user = env.run(&["--json", "user", "ada@example.com"]).await.json();
    assert_eq!(user["access_token_state"], "revoked");
    assert_eq!(
        user["access_token_expires_at"],
        Value::Null,
        "no expiry for a token that died with its grant"
    );
    let listed = env.run(&["--json", "users"]).await.json();
    assert_eq!(listed["users"][0]["access_token_state"], "revoked");

    let table = env.run(&["users"]).await.stdout;
    let row = table
        .lines()
        .find(|l| l.contains("ada@example.com"))
        .unwrap();
    assert!(
        row.trim_end().ends_with("revoked  revoked"),
        "REFRESH and ACCESS EXPIRES both say revoked: {table}"
    );
    let text = env.run(&["user", "ada@example.com"]).await.stdout;
    assert!(
        text.contains("access expires:  revoked"),
        "no expiry time for a dead token: {text}"
    );
}
