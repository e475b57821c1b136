//! SECURITY §C.4 and §C.7 on a running team: a dump of the database (`pg_dump`, as a backup
//! would take it) holds no token, code, client secret, session or API token; and the receiver
//! listener does not serve the admin API.

use tokendesk_core::api::{Role, paths};
use tokendesk_core::console::Console as _;
use tokendesk_core::desk::RevealWhich;

use crate::team::Team;

/// `pg_dump` of the PostgreSQL scripts/pg runs (TOKENDESK_PG_BIN, else the newest installed).
fn pg_dump() -> std::path::PathBuf {
    let bin = std::env::var_os("TOKENDESK_PG_BIN")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            let mut found: Vec<_> = std::fs::read_dir("/usr/lib/postgresql")
                .ok()?
                .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
                .filter(|bin| bin.join("pg_dump").exists())
                .collect();
            found.sort_by_key(|p| {
                p.parent()
                    .and_then(|v| v.file_name()?.to_str()?.parse::<u32>().ok())
                    .unwrap_or(0)
            });
            found.pop()
        })
        .expect("PostgreSQL's programs (scripts/setup installs them)");
    bin.join("pg_dump")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dump_of_the_database_holds_no_secret_and_the_receiver_serves_no_api() {
    let team = Team::new().await;
    let server = team.replica("a").await;
    team.add_client(&server).await;
    let code = team.code("grace@example.com");
    assert_eq!(team.post_code(&server, &code).await, 200);
    team.add_staff("root@example.com", Role::Admin).await;
    let session = team
        .sign_in(&server, "root@example.com")
        .await
        .unwrap()
        .token
        .unwrap();
    let root = team.console(&server, &session).await.unwrap();
    root.refresh("grace@example.com", None).await.unwrap();
    let refresh_token = root
        .reveal("grace@example.com", RevealWhich::RefreshToken)
        .await
        .unwrap();
    let access_token = root
        .reveal("grace@example.com", RevealWhich::AccessToken)
        .await
        .unwrap();
    let api_token = tokendesk_server::people::create_api_token(
        &team.pg().await,
        server.desk(),
        "ci",
        Role::Viewer,
        "test",
    )
    .await
    .unwrap()
    .token;

    let dump = std::process::Command::new(pg_dump())
        .args(["--no-owner", "--dbname", &team.db.url])
        .output()
        .unwrap();
    assert!(
        dump.status.success(),
        "{}",
        String::from_utf8_lossy(&dump.stderr)
    );
    let dump = String::from_utf8_lossy(&dump.stdout);
    assert!(
        dump.contains("grace@example.com"),
        "the dump holds the data: {} bytes",
        dump.len()
    );
    for (what, secret) in [
        ("the refresh token", refresh_token.as_str()),
        ("the access token", access_token.as_str()),
        ("the serverAuthCode", code.as_str()),
        (
            "the client secret",
            team.emu.web_client().client_secret.as_str(),
        ),
        ("the staff session", session.as_str()),
        ("the API token", api_token.as_str()),
    ] {
        assert!(secret.len() >= 16, "{what} is a real secret");
        assert!(!dump.contains(secret), "{what} is in the database dump");
    }

    // The receiver's listener: the seed's POST and /healthz, never the admin API.
    let receiver = server.receiver_url();
    let origin = receiver.trim_end_matches("/auth/code");
    for path in [paths::USERS, paths::WHOAMI, paths::OPENAPI] {
        let answer = team
            .http
            .get(format!("{origin}{path}"))
            .bearer_auth(&session)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 404, "{path} on the receiver");
    }
    server.stop().await;
}
