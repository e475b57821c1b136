//! `tokendesk audit --follow`: new entries as they happen, written by another process (the
//! embedded store) or on another replica (a team server, in team.rs), until Ctrl-C.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::Env;

/// A running `audit --follow --json`: its lines, as they come.
pub struct Follower {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Follower {
    pub fn start(mut command: std::process::Command) -> Follower {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if send.send(line).is_err() {
                    return;
                }
            }
        });
        Follower { child, lines }
    }

    /// The next entry printed, within 20 s.
    pub async fn next(&self) -> Value {
        let line = tokio::task::block_in_place(|| self.lines.recv_timeout(Duration::from_secs(20)))
            .expect("a followed entry within 20 s");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
    }

    /// Ctrl-C: it stops, with status 0.
    pub fn interrupt(mut self) -> i32 {
        let pid = self.child.id().to_string();
        assert!(
            std::process::Command::new("kill")
                .args(["-INT", &pid])
                .status()
                .unwrap()
                .success()
        );
        self.child.wait().unwrap().code().unwrap_or(-1)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn following_the_embedded_log_prints_what_another_process_does() {
    let env = Env::start().await;
    env.add_client().await;
    let first = env.mint(json!({"email": "ada@example.com"})).await;
    assert_eq!(env.run(&["exchange", &first]).await.code, 0);
    let follower = Follower::start(env.command(&["--json", "audit", "--follow", "--limit", "1"]));
    // The newest entry first, then what happens from now on.
    let newest = follower.next().await;
    assert_eq!(newest["action"], "exchange", "{newest}");
    assert_eq!(newest["schema_version"], 2);
    let second = env.mint(json!({"email": "grace@example.com"})).await;
    assert_eq!(env.run(&["exchange", &second]).await.code, 0);
    let seen = follower.next().await;
    assert_eq!(seen["action"], "exchange", "{seen}");
    assert_eq!(seen["user_email"], "grace@example.com");
    assert!(seen["id"].as_i64() > newest["id"].as_i64());
    // Each line is a document of its own, as docs/json/audit-line.schema.json says.
    let schemas = crate::schemas::Schemas::load();
    schemas.check("audit-line", &newest);
    schemas.check("audit-line", &seen);
    assert_eq!(follower.interrupt(), 0, "Ctrl-C ends the follow quietly");
}
