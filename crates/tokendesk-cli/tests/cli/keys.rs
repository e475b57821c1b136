//! `tokendesk key` and what the store's key means to every other command: a missing key fails
//! clearly (and `user --reveal` does not pretend with "-"), export/import moves it, rotate
//! replaces it; and `audit`'s filters.

use serde_json::json;
use tokendesk_core::store::Store;
use tokendesk_core::vault::{BuildKind, OsKeyring, SecretKey, SecretStore as _};

use crate::Env;

/// Deletes the store's key from the test keyring, as on a machine it was never put on.
fn forget_the_key(env: &Env) -> SecretKey {
    let store = Store::open(env.home().join("tokendesk.sqlite3")).unwrap();
    let id = store
        .keys()
        .store_id()
        .unwrap()
        .expect("the store has an id");
    let kek = store.keys().all().unwrap().remove(0).kek_id;
    let entry = SecretKey::store_key(&format!("{id}-{kek}")).unwrap();
    let keyring = OsKeyring::open(BuildKind::Test).unwrap();
    assert!(
        keyring.delete(&entry).unwrap(),
        "the store's key was in the keyring"
    );
    entry
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exported_key_brings_a_store_back_and_rotation_keeps_it_working() {
    let env = Env::start().await;
    env.add_client().await;
    let code = env.mint(json!({"email": "ada@example.com"})).await;
    assert_eq!(env.run(&["exchange", &code]).await.code, 0);

    let file = env.dir.path().join("key.json");
    let pass = env.dir.path().join("pass");
    std::fs::write(&pass, "correct horse battery staple\n").unwrap();
    let out = env
        .run(&[
            "key",
            "export",
            file.to_str().unwrap(),
            "--passphrase-file",
            pass.to_str().unwrap(),
        ])
        .await;
    assert_eq!(out.code, 0, "{} {}", out.stdout, out.stderr);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "an exported key is its owner's only");
    }
    let again = env
        .run(&[
            "key",
            "export",
            file.to_str().unwrap(),
            "--passphrase-file",
            pass.to_str().unwrap(),
        ])
        .await;
    assert_ne!(again.code, 0, "an exported key is never written over");

    let entry = forget_the_key(&env);
    let refresh = env.run(&["--json", "refresh", "ada@example.com"]).await;
    assert_eq!(
        refresh.code, 6,
        "the store's key is missing: {}",
        refresh.stdout
    );
    assert_eq!(refresh.json()["error"]["code"], "key_missing");
    assert!(
        refresh.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains(entry.as_str()),
        "the error names the keyring entry"
    );
    let reveal = env
        .run(&["--json", "user", "ada@example.com", "--reveal"])
        .await;
    assert_eq!(
        reveal.code, 6,
        "a reveal that cannot read the tokens fails, it does not print \"-\": {}",
        reveal.stdout
    );

    let wrong = env
        .run_with(&["key", "import", file.to_str().unwrap()], |c| {
            c.env("TOKENDESK_KEY_PASSPHRASE", "wrong horse");
        })
        .await;
    assert_ne!(wrong.code, 0);
    assert!(wrong.stdout.contains("passphrase") || wrong.stderr.contains("passphrase"));
    let import = env
        .run_with(&["key", "import", file.to_str().unwrap()], |c| {
            c.env("TOKENDESK_KEY_PASSPHRASE", "correct horse battery staple");
        })
        .await;
    assert_eq!(import.code, 0, "{} {}", import.stdout, import.stderr);
    assert_eq!(env.run(&["refresh", "ada@example.com"]).await.code, 0);

    let rotate = env.run(&["key", "rotate"]).await;
    assert_eq!(rotate.code, 0, "{} {}", rotate.stdout, rotate.stderr);
    let keyring = OsKeyring::open(BuildKind::Test).unwrap();
    assert_eq!(
        keyring.get(&entry).unwrap(),
        None,
        "the retired key is deleted"
    );
    assert_eq!(
        env.run(&["refresh", "ada@example.com"]).await.code,
        0,
        "tokens sealed before the rotation still open"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_filters_by_user_action_outcome_time_and_text() {
    let env = Env::start().await;
    env.add_client().await;
    for email in ["ada@example.com", "bob@example.com"] {
        let code = env.mint(json!({"email": email})).await;
        assert_eq!(env.run(&["exchange", &code]).await.code, 0);
    }
    assert_eq!(env.run(&["refresh", "ada@example.com"]).await.code, 0);
    let env = &env;
    let entries = |args: &[&str]| {
        let mut all = vec!["--json", "audit"];
        all.extend_from_slice(args);
        let all: Vec<String> = all.into_iter().map(str::to_owned).collect();
        async move {
            let refs: Vec<&str> = all.iter().map(String::as_str).collect();
            let out = env.run(&refs).await;
            assert_eq!(out.code, 0, "{} {}", out.stdout, out.stderr);
            out.json()["audit"].as_array().unwrap().clone()
        }
    };
    let refreshes = entries(&["--action", "refresh"]).await;
    assert_eq!(refreshes.len(), 1);
    assert_eq!(refreshes[0]["user_email"], "ada@example.com");
    let bobs = entries(&["--user", "bob@example.com"]).await;
    assert!(!bobs.is_empty() && bobs.iter().all(|e| e["user_email"] == "bob@example.com"));
    assert!(entries(&["--outcome", "denied"]).await.is_empty());
    assert!(
        entries(&["--since", "2999-01-01T00:00:00Z"])
            .await
            .is_empty(),
        "nothing is from the future"
    );
    assert_eq!(entries(&["--search", "BOB@"]).await.len(), bobs.len());
    let bad = env.run(&["audit", "--action", "party"]).await;
    assert_eq!(bad.code, 2, "a usage error");
    assert!(
        bad.stderr.contains("exchange, refresh"),
        "it lists the actions: {}",
        bad.stderr
    );
}
