//! Support staff's daily tools through the binary: a file of a user's appDataFolder
//! downloaded, uploaded and deleted (confirmed, audited, capped); users exported; clients
//! moved to another desk without their secrets.

use serde_json::{Value, json};

use crate::Env;

const PROXY_VARIABLES: &[&str] = &[
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
];

/// A command whose proxy settings are exactly `vars` (none inherited from the test's
/// environment).
fn proxied(command: &mut std::process::Command, vars: &[(&str, &str)]) {
    for name in PROXY_VARIABLES {
        command.env_remove(name);
    }
    for (name, value) in vars {
        command.env(name, value);
    }
}

async fn signed_in(env: &Env, email: &str) {
    env.add_client().await;
    let code = env.mint(json!({ "email": email })).await;
    let out = env.run(&["exchange", &code]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
}

fn audit_actions(audit: &Value) -> Vec<(String, String, String)> {
    audit["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap_or_default().to_owned(),
                e["outcome"].as_str().unwrap_or_default().to_owned(),
                e["detail"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_is_uploaded_downloaded_and_deleted_each_confirmed_and_audited() {
    let env = Env::start().await;
    signed_in(&env, "ada@example.com").await;
    let local = env.dir.path().join("save.json");
    let content = b"{\"level\": 7}\r\n\x00\xff".to_vec();
    std::fs::write(&local, &content).unwrap();
    let local = local.to_str().unwrap();

    let refused = env
        .run(&["drive", "upload", "ada@example.com", local])
        .await;
    assert_eq!(
        refused.code, 1,
        "no terminal and no --yes: {}",
        refused.stderr
    );
    assert!(refused.stderr.contains("--yes"), "{}", refused.stderr);
    let listed = env
        .run(&["--json", "drive", "ada@example.com"])
        .await
        .json();
    assert_eq!(listed["files"], json!([]), "a refused upload sent nothing");

    let up = env
        .run(&[
            "--json",
            "drive",
            "upload",
            "ada@example.com",
            local,
            "--yes",
        ])
        .await;
    assert_eq!(up.code, 0, "{}", up.stdout);
    let up = up.json();
    assert_eq!(up["done"], "uploaded");
    assert_eq!(up["file"]["name"], "save.json");
    assert_eq!(
        up["file"]["mimeType"], "application/json",
        "from the extension"
    );
    let id = up["file"]["id"].as_str().unwrap().to_owned();

    let back = env.dir.path().join("back.json");
    let down = env
        .run(&[
            "--json",
            "drive",
            "download",
            "ada@example.com",
            &id,
            "--out",
            back.to_str().unwrap(),
        ])
        .await;
    assert_eq!(down.code, 0, "{}", down.stdout);
    assert_eq!(std::fs::read(&back).unwrap(), content, "the same bytes");
    assert_eq!(down.json()["bytes"], content.len());
    let piped = env
        .run_with(&["drive", "download", "ada@example.com", &id], |_| ())
        .await;
    assert_eq!(piped.code, 0, "{}", piped.stderr);
    assert_eq!(
        piped.stdout.as_bytes(),
        String::from_utf8_lossy(&content).as_bytes(),
        "without --out the file goes to stdout"
    );
    let json_needs_out = env
        .run(&["--json", "drive", "download", "ada@example.com", &id])
        .await;
    assert_eq!(json_needs_out.code, 1);
    assert!(
        json_needs_out.stdout.contains("--out"),
        "{}",
        json_needs_out.stdout
    );

    let kept = env.run(&["drive", "delete", "ada@example.com", &id]).await;
    assert_eq!(kept.code, 1, "a delete without a terminal needs --yes");
    let gone = env
        .run(&["--json", "drive", "delete", "ada@example.com", &id, "--yes"])
        .await;
    assert_eq!(gone.code, 0, "{}", gone.stdout);
    assert_eq!(gone.json()["done"], "deleted");
    assert_eq!(
        gone.json()["file"]["name"],
        "save.json",
        "names what it deleted"
    );
    let missing = env
        .run(&[
            "--json",
            "drive",
            "download",
            "ada@example.com",
            &id,
            "--out",
            "/dev/null",
        ])
        .await;
    assert_eq!(
        missing.code, 3,
        "a deleted file is not found: {}",
        missing.stdout
    );

    let audit = audit_actions(&env.run(&["--json", "audit"]).await.json());
    for (action, outcome) in [
        ("drive_upload", "ok"),
        ("drive_download", "ok"),
        ("drive_delete", "ok"),
        ("drive_download", "failed"),
    ] {
        assert!(
            audit.iter().any(|(a, o, _)| a == action && o == outcome),
            "{action} {outcome} is audited: {audit:?}"
        );
    }
    let downloads = audit
        .iter()
        .filter(|(a, o, _)| a == "drive_download" && o == "ok")
        .count();
    assert_eq!(downloads, 2, "each download is audited: {audit:?}");
    assert!(
        audit
            .iter()
            .any(|(a, _, d)| a == "drive_delete" && d.contains("save.json") && d.contains(&id)),
        "the audit names the file: {audit:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_over_5_mb_is_refused_before_anything_is_sent() {
    let env = Env::start().await;
    signed_in(&env, "ada@example.com").await;
    let big = env.dir.path().join("big.bin");
    std::fs::write(&big, vec![7u8; 5_000_001]).unwrap();
    let before = env.emu.request_count(google_emulator::Endpoint::Drive);
    let out = env
        .run(&[
            "--json",
            "drive",
            "upload",
            "ada@example.com",
            big.to_str().unwrap(),
            "--yes",
        ])
        .await;
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert_eq!(out.json()["error"]["code"], "upload_too_large");
    assert!(
        out.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("5 MB"),
        "{}",
        out.stdout
    );
    assert_eq!(
        env.emu.request_count(google_emulator::Endpoint::Drive),
        before,
        "nothing reached Drive"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_export_as_csv_and_json_without_tokens_and_audited() {
    let env = Env::start().await;
    signed_in(&env, "ada@example.com").await;
    let code = env
        .mint(json!({"email": "grace@example.com", "name": "Grace"}))
        .await;
    assert_eq!(env.run(&["exchange", &code]).await.code, 0);
    let revealed = env
        .run(&["--json", "user", "ada@example.com", "--reveal"])
        .await
        .json();
    let access = revealed["access_token"].as_str().unwrap().to_owned();

    let csv = env.run(&["users", "--export", "csv"]).await;
    assert_eq!(csv.code, 0, "{}", csv.stderr);
    let lines: Vec<&str> = csv.stdout.lines().collect();
    assert_eq!(
        lines.len(),
        3,
        "a header and one row per user: {}",
        csv.stdout
    );
    assert!(lines[0].starts_with("sub,issuer,email,"), "{}", lines[0]);
    assert!(csv.stdout.contains("grace@example.com"));
    assert!(!csv.stdout.contains(&access), "never a token");

    let file = env.dir.path().join("users.json");
    let json_out = env
        .run(&["users", "--export", "json", "--out", file.to_str().unwrap()])
        .await;
    assert_eq!(json_out.code, 0, "{}", json_out.stderr);
    let doc: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(doc["schema_version"], 2);
    assert_eq!(doc["users"].as_array().unwrap().len(), 2);
    assert!(!doc.to_string().contains(&access), "never a token");
    let exports = audit_actions(&env.run(&["--json", "audit"]).await.json())
        .into_iter()
        .filter(|(a, _, _)| a == "users_export")
        .count();
    assert_eq!(exports, 2, "each export is audited");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_move_to_another_desk_only_with_their_secrets() {
    let env = Env::start().await;
    env.add_client().await;
    let exported = env.dir.path().join("clients.json");
    let out = env
        .run(&["client", "export", "--out", exported.to_str().unwrap()])
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let text = std::fs::read_to_string(&exported).unwrap();
    let secret = env.emu.web_client().client_secret.clone();
    assert!(!text.contains(&secret), "the client secret never leaves");
    let file: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(file["format"], "tokendesk.clients");
    assert_eq!(file["clients"][0]["api_base"], env.emu.base_url());

    let other = env.dir.path().join("other-desk");
    let other = other.to_str().unwrap();
    let waiting = env
        .run(&[
            "--json",
            "--data-dir",
            other,
            "client",
            "import-file",
            exported.to_str().unwrap(),
        ])
        .await;
    assert_eq!(waiting.code, 1, "a client without its secret is not added");
    let outcome = &waiting.json()["clients"][0];
    assert_eq!(outcome["outcome"], "needs_secret");
    assert!(
        outcome["command"]
            .as_str()
            .unwrap()
            .contains("--secrets emu=")
    );
    let listed = env
        .run(&["--json", "--data-dir", other, "client", "list"])
        .await;
    assert_eq!(listed.json()["clients"], json!([]), "nothing created");

    let wrong = env.dir.path().join("wrong.json");
    std::fs::write(
        &wrong,
        json!({"web": {"client_id": "someone-else.apps.googleusercontent.com",
                        "client_secret": "x", "token_uri": "https://oauth2.googleapis.com/token"}})
        .to_string(),
    )
    .unwrap();
    let mismatch = env
        .run(&[
            "--json",
            "--data-dir",
            other,
            "client",
            "import-file",
            exported.to_str().unwrap(),
            "--secrets",
            &format!("emu={}", wrong.display()),
        ])
        .await;
    assert_eq!(mismatch.json()["clients"][0]["outcome"], "failed");

    let cs = env.dir.path().join("cs.json");
    let added = env
        .run(&[
            "--json",
            "--data-dir",
            other,
            "client",
            "import-file",
            exported.to_str().unwrap(),
            "--secrets",
            &format!("emu={}", cs.display()),
        ])
        .await;
    assert_eq!(added.code, 0, "{}", added.stdout);
    assert_eq!(added.json()["clients"][0]["outcome"], "added");
    let shown = env
        .run(&["--json", "--data-dir", other, "client", "show", "emu"])
        .await
        .json();
    assert_eq!(
        shown["issuer"],
        env.emu.base_url(),
        "the provider moved with it"
    );
    assert_eq!(shown["ios_client_ids"], json!([env.emu.ios_client_id()]));
    let again = env
        .run(&[
            "--json",
            "--data-dir",
            other,
            "client",
            "import-file",
            exported.to_str().unwrap(),
        ])
        .await;
    assert_eq!(again.json()["clients"][0]["outcome"], "exists");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_environments_proxy_carries_every_call_and_a_dead_one_is_named() {
    let env = Env::start().await;
    env.add_client().await;
    let proxy = crate::proxy::Proxy::start().await;
    let base = env.emu.base_url().to_owned();
    let code = env.mint(json!({"email": "ada@example.com"})).await;
    let url = proxy.url();
    let exchanged = env
        .run_with(&["--json", "exchange", &code], |c| {
            proxied(c, &[("HTTP_PROXY", &url)]);
        })
        .await;
    assert_eq!(exchanged.code, 0, "{}", exchanged.stdout);
    let listed = env
        .run_with(&["--json", "drive", "ada@example.com"], |c| {
            proxied(c, &[("http_proxy", &url)]);
        })
        .await;
    assert_eq!(listed.code, 0, "{}", listed.stdout);
    let forwarded = proxy.forwarded();
    for call in [
        format!("POST {base}/token "),
        format!("GET {base}/oauth2/v3/certs "),
        format!("GET {base}/drive/v3/files?"),
    ] {
        assert!(
            forwarded.iter().any(|l| l.starts_with(&call)),
            "{call} went through the proxy: {forwarded:?}"
        );
    }

    let dead = format!("http://{}", crate::proxy::dead_address().await);
    let failed = env
        .run_with(&["--json", "drive", "ada@example.com"], |c| {
            proxied(c, &[("HTTP_PROXY", &dead)]);
        })
        .await;
    assert_eq!(failed.code, 5, "unavailable: {}", failed.stdout);
    let message = failed.json()["error"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(message.contains(&format!("the proxy {dead}")), "{message}");
    let bypassed = env
        .run_with(&["--json", "drive", "ada@example.com"], |c| {
            proxied(
                c,
                &[("HTTP_PROXY", &dead), ("NO_PROXY", "127.0.0.1,localhost")],
            );
        })
        .await;
    assert_eq!(
        bypassed.code, 0,
        "NO_PROXY reaches the emulator directly: {}",
        bypassed.stdout
    );
}
