//! What a newcomer reads: the audit names people.

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
