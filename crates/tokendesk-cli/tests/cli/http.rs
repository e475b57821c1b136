//! `tokendesk http USER`: the user's operations as HTTP, masked; `--curl ENTRY.N` prints a
//! request as a curl command with shell variables for its secrets (stdout alone), `--reveal`
//! writes the stored ones in and audits it. `--json` is what docs/json/http.schema.json and
//! curl.schema.json say.

use serde_json::json;

use crate::Env;
use crate::schemas::Schemas;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_lists_masked_operations_and_prints_curl_masked_or_revealed() {
    let schemas = Schemas::load();
    let env = Env::start().await;
    env.add_client().await;
    let code = env.mint(json!({"email": "ada@example.com"})).await;
    assert_eq!(env.run(&["exchange", &code]).await.code, 0);
    let out = env.run(&["refresh", "ada@example.com"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);

    let listed = env.run(&["--json", "http", "ada@example.com"]).await.json();
    schemas.check("http", &listed);
    let entries = listed["http"].as_array().unwrap();
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["refresh", "exchange"], "newest first");
    let refresh = &entries[0];
    let id = refresh["id"].as_i64().unwrap();
    let index = refresh["exchanges"]
        .as_array()
        .unwrap()
        .iter()
        .position(|r| r["url"].as_str().unwrap().ends_with("/token"))
        .unwrap();

    let human = env.run(&["http", "ada@example.com"]).await;
    assert_eq!(human.code, 0, "{}", human.stderr);
    assert!(human.stdout.contains(&format!("#{id}")), "{}", human.stdout);
    assert!(
        human.stdout.contains(&format!("[{id}.{index}]")),
        "{}",
        human.stdout
    );
    assert!(
        human.stdout.contains("refresh_token=[redacted]"),
        "{}",
        human.stdout
    );

    let reference = format!("{id}.{index}");
    let masked = env
        .run(&["http", "ada@example.com", "--curl", &reference])
        .await;
    assert_eq!(masked.code, 0, "{}", masked.stderr);
    assert!(
        masked
            .stdout
            .contains(r#"--data-urlencode "refresh_token=${REFRESH_TOKEN}""#),
        "the command alone on stdout: {}",
        masked.stdout
    );
    assert!(masked.stdout.starts_with("curl "), "{}", masked.stdout);
    assert!(
        masked.stderr.contains("$REFRESH_TOKEN"),
        "the note on stderr: {}",
        masked.stderr
    );
    let audit = env
        .run(&["--json", "audit", "--action", "reveal"])
        .await
        .json();
    assert_eq!(
        audit["audit"],
        json!([]),
        "a masked command reveals nothing"
    );

    let doc = env
        .run(&[
            "--json",
            "http",
            "ada@example.com",
            "--curl",
            &reference,
            "--reveal",
        ])
        .await
        .json();
    schemas.check("curl", &doc);
    assert_eq!(doc["revealed"], json!(["refresh_token", "client_secret"]));
    assert!(
        !doc["command"].as_str().unwrap().contains("${"),
        "every secret written in: {doc}"
    );
    let audit = env
        .run(&["--json", "audit", "--action", "reveal"])
        .await
        .json();
    let detail = audit["audit"][0]["detail"].as_str().unwrap();
    assert_eq!(
        detail,
        format!("curl of refresh #{id}: refresh_token, client_secret")
    );

    let wrong = env.run(&["http", "ada@example.com", "--curl", "x.y"]).await;
    assert_eq!(wrong.code, 2, "a usage error: {}", wrong.stderr);
    assert!(wrong.stderr.contains("NUMBER.N"), "{}", wrong.stderr);
    let gone = env
        .run(&["http", "ada@example.com", "--curl", &format!("{id}.99")])
        .await;
    assert_ne!(gone.code, 0);
    assert!(
        gone.stderr.contains("tokendesk http USER"),
        "says what lists the kept ones: {}",
        gone.stderr
    );
}
