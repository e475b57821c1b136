//! The README's team server, as a newcomer runs it: a key, a staff member, two `tokendesk
//! server run` processes on one PostgreSQL database, a staff sign-in from the command line
//! through the system browser (the test plays the person), and a sign-in that reached one
//! replica seen through the other. Needs the cluster `scripts/test` starts.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

use crate::{Env, Output, RecordingBrowser, person};

// Shared with the server's tests; only part of it is used here.
#[allow(dead_code)]
#[path = "../../../tokendesk-server/tests/server/db.rs"]
mod db;

/// A `tokendesk server run` process, stopped (SIGTERM) when dropped.
struct Replica {
    child: Child,
    receiver: String,
    admin: String,
}

impl Replica {
    fn start(env: &Env, database: &str, key: &str) -> Self {
        Self::start_crashing_at(env, database, key, None)
    }

    /// A replica that aborts (as a SIGKILL stops it: no unwinding, no cleanup) when it reaches
    /// the persistence step `crash_at` (`TOKENDESK_CRASH_AT`, see the core's `crash_point`).
    fn start_crashing_at(env: &Env, database: &str, key: &str, crash_at: Option<&str>) -> Self {
        let mut command = env.command(&[]);
        if let Some(point) = crash_at {
            command.env("TOKENDESK_CRASH_AT", point);
        }
        let mut child = command
            .args([
                "server",
                "run",
                "--database",
                database,
                "--key-file",
                key,
                "--receiver-listen",
                "127.0.0.1:0",
                "--admin-listen",
                "127.0.0.1:0",
                "--staff-issuer",
                env.emu.base_url(),
                "--staff-client-id",
                &env.emu.desktop_client().client_id,
                "--staff-domain",
                "example.com",
            ])
            .env(
                "TOKENDESK_STAFF_CLIENT_SECRET",
                &env.emu.desktop_client().client_secret,
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut next = || {
            lines
                .next()
                .expect("server run prints its receiver, then its admin URL")
                .unwrap()
        };
        let receiver = next();
        let admin = next();
        Replica {
            child,
            receiver,
            admin,
        }
    }

    /// SIGTERM, as systemd stops it: the process drains and exits 0.
    fn stop(mut self) -> i32 {
        let pid = self.child.id().to_string();
        let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(killed.success());
        let status = self.child.wait().unwrap();
        std::mem::forget(self);
        status.code().unwrap_or(-1)
    }
}

impl Replica {
    /// Waits for a replica that was to crash; the signal that ended it.
    fn crashed(mut self) -> Option<i32> {
        use std::os::unix::process::ExitStatusExt as _;
        let status = self.child.wait().unwrap();
        std::mem::forget(self);
        status.signal()
    }
}

/// The app's POST of a serverAuthCode to a replica's receiver (its URL is the replica's first
/// line); the answer's status.
async fn post_code(env: &Env, replica: &Replica, code: &str) -> reqwest::Result<u16> {
    let answer = env
        .http
        .post(&replica.receiver)
        .header("X-Requested-With", "XMLHttpRequest")
        .json(&json!({ "code": code }))
        .send()
        .await?;
    Ok(answer.status().as_u16())
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_team_two_replicas_a_staff_login_and_a_sign_in_seen_through_the_other() {
    let env = Env::start().await;
    let db = db::TestDb::create().await;
    let key = env.dir.path().join("tokendesk.key");
    let key = key.to_str().unwrap();
    let store = ["--database", db.url.as_str(), "--key-file", key];

    let made = env.run(&["server", "keygen", key]).await;
    assert_eq!(made.code, 0, "{}", made.stderr);
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the key file is the owner's only");
    }
    let again = env.run(&["server", "keygen", key]).await;
    assert_ne!(again.code, 0, "keygen never overwrites a key");
    assert!(again.stderr.contains(key), "{}", again.stderr);

    let staff = env
        .run(
            &[
                &[
                    "server",
                    "staff",
                    "add",
                    "ada@example.com",
                    "--role",
                    "admin",
                ][..],
                &store[..],
            ]
            .concat(),
        )
        .await;
    assert_eq!(staff.code, 0, "{}", staff.stderr);
    let token = env
        .run(
            &[
                &[
                    "--json", "server", "token", "create", "--name", "ci", "--role", "viewer",
                ][..],
                &store[..],
            ]
            .concat(),
        )
        .await;
    assert_eq!(token.code, 0, "{}", token.stderr);
    let api_token = token.json()["token"].as_str().unwrap().to_owned();

    let a = Replica::start(&env, &db.url, key);
    let b = Replica::start(&env, &db.url, key);

    // Each replica says which build it is, as `tokendesk --version` does: one commit for both.
    let version = env.run(&["--version"]).await;
    assert_eq!(
        version.stdout.trim(),
        format!("tokendesk {}", tokendesk_core::VERSION_LINE)
    );
    for replica in [&a, &b] {
        let info: Value = env
            .http
            .get(format!("{}/api/v1/version", replica.admin))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(info["version"], tokendesk_core::VERSION, "{info}");
        assert_eq!(info["commit"], tokendesk_core::BUILD_COMMIT, "{info}");
    }

    // `tokendesk --server A login`: the "browser" writes down the address it was given; the
    // test is the person at the consent page, then the browser follows the redirect.
    let browser = RecordingBrowser::new(&env, "browser");
    let login = env
        .command(&["--server", &a.admin, "login"])
        .env("BROWSER", &browser.script)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let url = browser.opened_url().await;
    let landing = person::play_the_person(&RecordingBrowser::http(), &url, "ada@example.com").await;
    let landed = env.http.get(&landing).send().await.unwrap();
    assert_eq!(landed.status(), 200);
    let login = tokio::task::spawn_blocking(move || login.wait_with_output().unwrap())
        .await
        .unwrap();
    assert!(
        login.status.success(),
        "{}",
        String::from_utf8_lossy(&login.stderr)
    );
    assert!(String::from_utf8_lossy(&login.stdout).contains("ada@example.com"));

    // As an admin through A: the OAuth client the receivers exchange with.
    let client_add = env.client_add_args();
    let mut args = vec!["--server", a.admin.as_str()];
    args.extend(client_add.iter().map(String::as_str));
    let added = env.run(&args).await;
    assert_eq!(added.code, 0, "{}", added.stderr);

    // The app POSTs a serverAuthCode to replica A's receiver (its first line: the URL)...
    let code = env
        .mint(json!({"email": "grace@example.com", "name": "Grace Hopper"}))
        .await;
    assert_eq!(post_code(&env, &a, &code).await.unwrap(), 200);

    // ...and support sees the user through replica B, with the viewer's API token.
    let users: Output = env
        .run_with(&["--server", &b.admin, "--json", "users"], |c| {
            c.env("TOKENDESK_TOKEN", &api_token);
        })
        .await;
    assert_eq!(users.code, 0, "{}", users.stderr);
    let listed: Vec<Value> = users.json()["users"].as_array().unwrap().clone();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["email"], "grace@example.com");
    assert_eq!(listed[0]["refresh_token"], "present");
    // Support follows the log through B while another sign-in reaches A.
    let mut following = env.command(&["--server", &b.admin, "--json", "audit", "--follow"]);
    following.env("TOKENDESK_TOKEN", &api_token);
    let follower = crate::follow::Follower::start(following);
    // (the newest entries come first: skip to the live one)
    let second = env.mint(json!({"email": "hopper@example.com"})).await;
    assert_eq!(post_code(&env, &a, &second).await.unwrap(), 200);
    loop {
        let entry = follower.next().await;
        if entry["user_email"] == "hopper@example.com" {
            assert_eq!(entry["action"], "exchange", "{entry}");
            break;
        }
    }
    assert_eq!(follower.interrupt(), 0);

    // A viewer may not refresh: refused with the role named, and nothing changes.
    let refused = env
        .run_with(
            &["--server", &b.admin, "refresh", "grace@example.com"],
            |c| {
                c.env("TOKENDESK_TOKEN", &api_token);
            },
        )
        .await;
    assert_ne!(refused.code, 0);
    assert!(refused.stderr.contains("viewer"), "{}", refused.stderr);
    // The admin's session (kept in the keyring by `login`) refreshes through A.
    let refreshed = env
        .run(&[
            "--server",
            &a.admin,
            "--json",
            "refresh",
            "grace@example.com",
        ])
        .await;
    assert_eq!(refreshed.code, 0, "{}", refreshed.stderr);

    // The health sweep for cron, on the server: the operator's sweep through A, the viewer's
    // list through B (a viewer may read it, not sweep).
    let swept = env.run(&["--server", &a.admin, "--json", "health"]).await;
    assert_eq!(swept.code, 0, "two healthy grants: {}", swept.stderr);
    let report = swept.json();
    crate::schemas::Schemas::load().check("health", &report);
    assert_eq!(report["healthy"], 2, "{report}");
    let listed = env
        .run_with(&["--server", &b.admin, "--json", "health", "--list"], |c| {
            c.env("TOKENDESK_TOKEN", &api_token);
        })
        .await;
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    assert_eq!(listed.json()["total"], 0);
    let refused = env
        .run_with(&["--server", &b.admin, "health"], |c| {
            c.env("TOKENDESK_TOKEN", &api_token);
        })
        .await;
    assert_eq!(refused.code, 9, "{}", refused.stderr);

    // The audit, read through B, names who did what.
    let audit = env
        .run_with(&["--server", &b.admin, "--json", "audit"], |c| {
            c.env("TOKENDESK_TOKEN", &api_token);
        })
        .await;
    assert_eq!(audit.code, 0, "{}", audit.stderr);
    let entries = audit.json()["audit"].as_array().unwrap().clone();
    let did = |action: &str, who: &str| {
        entries
            .iter()
            .any(|e| e["action"] == action && e["os_user"] == who)
    };
    assert!(did("client_add", "ada@example.com"), "{entries:?}");
    // The app's sign-in is the receiving replica's doing, named as such.
    assert!(
        entries.iter().any(|e| e["action"] == "exchange"
            && e["os_user"]
                .as_str()
                .is_some_and(|u| u.starts_with("replica:"))),
        "{entries:?}"
    );
    assert!(did("refresh", "ada@example.com"), "{entries:?}");
    assert!(did("health_sweep", "ada@example.com"), "{entries:?}");
    assert!(did("access_denied", "api-token:ci"), "{entries:?}");

    // The sign-in lab through A: the browser and its loopback listener here, the exchange
    // (with the PKCE verifier) on the server, which stores the user.
    let (lab, _) =
        crate::signin::lab_run(&env, &["--server", &a.admin], &[], "lab@example.com", 0).await;
    assert_eq!(lab["ok"], true, "{lab:#}");
    assert_eq!(lab["user"]["refresh_token"], "present", "{lab:#}");
    let seen = env
        .run_with(
            &["--server", &b.admin, "--json", "user", "lab@example.com"],
            |c| {
                c.env("TOKENDESK_TOKEN", &api_token);
            },
        )
        .await;
    assert_eq!(
        seen.code, 0,
        "the lab's user is on the server: {}",
        seen.stderr
    );

    // Logging out ends the session on the server, not only here.
    let out = env.run(&["--server", &a.admin, "logout"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let after = env.run(&["--server", &a.admin, "users"]).await;
    assert_ne!(after.code, 0);
    assert!(after.stderr.contains("login"), "{}", after.stderr);

    assert_eq!(a.stop(), 0, "SIGTERM stops replica A cleanly");
    assert_eq!(b.stop(), 0, "SIGTERM stops replica B cleanly");
}

/// `std::process::abort` ends the process with SIGABRT.
const SIGABRT: i32 = 6;

/// Replicas killed at every persistence step of a sign-in and of a refresh (the emulator
/// rotating refresh tokens): after another replica starts, no grant is without its refresh
/// token, a sign-in whose answer was in is finished, and every refresh token still works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_killed_at_every_persistence_step_loses_no_refresh_token() {
    let env = Env::start().await;
    env.emu.set_refresh_rotation(true);
    let db = db::TestDb::create().await;
    let key = env.dir.path().join("tokendesk.key");
    let key = key.to_str().unwrap();
    assert_eq!(env.run(&["server", "keygen", key]).await.code, 0);
    let made = env
        .run(&[
            "--json",
            "server",
            "token",
            "create",
            "--name",
            "ops",
            "--role",
            "admin",
            "--database",
            &db.url,
            "--key-file",
            key,
        ])
        .await;
    assert_eq!(made.code, 0, "{}", made.stderr);
    let token = made.json()["token"].as_str().unwrap().to_owned();
    let remote = |replica: &Replica, args: &[&str]| {
        let mut all = vec!["--server", replica.admin.as_str(), "--json"];
        all.extend_from_slice(args);
        let all: Vec<String> = all.into_iter().map(str::to_owned).collect();
        let token = token.clone();
        let env = &env;
        async move {
            let all: Vec<&str> = all.iter().map(String::as_str).collect();
            env.run_with(&all, |c| {
                c.env("TOKENDESK_TOKEN", &token);
            })
            .await
        }
    };

    let mut survivor = Replica::start(&env, &db.url, key);
    let client_add = env.client_add_args();
    let client_add: Vec<&str> = client_add.iter().map(String::as_str).collect();
    let added = remote(&survivor, &client_add).await;
    assert_eq!(added.code, 0, "{}", added.stderr);

    // A sign-in killed at each step; then a replica starts (its recovery runs) and looks.
    for (point, signed_in) in [
        ("after_claim", false),
        ("after_token_kept", true),
        ("after_commit", true),
    ] {
        let email = format!("{point}@example.com");
        let code = env.mint(json!({ "email": email })).await;
        let doomed = Replica::start_crashing_at(&env, &db.url, key, Some(point));
        let answer = post_code(&env, &doomed, &code).await;
        assert!(answer.is_err(), "{point}: the app got an answer {answer:?}");
        assert_eq!(
            doomed.crashed(),
            Some(SIGABRT),
            "{point}: the replica died there"
        );
        drop(survivor);
        survivor = Replica::start(&env, &db.url, key);
        let users = remote(&survivor, &["users", "--search", &email]).await;
        assert_eq!(users.code, 0, "{point}: {}", users.stderr);
        let found = users.json()["users"].as_array().unwrap().clone();
        if signed_in {
            assert_eq!(
                found.len(),
                1,
                "{point}: the sign-in was finished: {found:?}"
            );
            assert_eq!(found[0]["refresh_token"], "present", "{point}");
            let refreshed = remote(&survivor, &["refresh", &email]).await;
            assert_eq!(refreshed.code, 0, "{point}: {}", refreshed.stderr);
        } else {
            assert!(
                found.is_empty(),
                "{point}: Google never answered: {found:?}"
            );
        }
    }

    // A refresh killed at each step, Google rotating the refresh token: the grant keeps one
    // that works (the new one once it is committed, else the old one, still good).
    let code = env.mint(json!({ "email": "rotating@example.com" })).await;
    assert_eq!(post_code(&env, &survivor, &code).await.unwrap(), 200);
    for point in [
        "refresh_before_send",
        "refresh_after_rt_commit",
        "refresh_after_commit",
    ] {
        let doomed = Replica::start_crashing_at(&env, &db.url, key, Some(point));
        let refused = remote(&doomed, &["refresh", "rotating@example.com"]).await;
        assert_ne!(refused.code, 0, "{point}: the refresh cannot have answered");
        assert_eq!(
            doomed.crashed(),
            Some(SIGABRT),
            "{point}: the replica died there"
        );
        let refreshed = remote(&survivor, &["refresh", "rotating@example.com"]).await;
        assert_eq!(refreshed.code, 0, "{point}: {}", refreshed.stderr);
        assert_eq!(refreshed.json()["refresh_token"], "present", "{point}");
    }
    assert_eq!(survivor.stop(), 0);
}
