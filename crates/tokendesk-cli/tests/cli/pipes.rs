//! Output into a pipe whose reader has gone (`tokendesk users | head -1`) or onto a full disk.

use std::process::Stdio;

use serde_json::json;

use crate::{Env, Output};

impl Env {
    /// Runs `tokendesk ARGS` with stdout a pipe whose reading end is already closed, as after
    /// `head` has read its lines and left: the first write gets EPIPE, every time.
    async fn run_into_closed_pipe(&self, args: &[&str]) -> Output {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        self.run_with(args, |c| {
            c.stdout(writer);
        })
        .await
    }
}

fn assert_quiet(what: &str, out: &Output, status: i32) {
    assert!(
        !out.stderr.contains("panicked") && !out.stderr.contains("Broken pipe"),
        "{what}: a closed pipe is no error to report: {}",
        out.stderr
    );
    assert_eq!(out.code, status, "{what}: {}", out.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_that_left_ends_the_output_quietly_with_the_commands_own_status() {
    let env = Env::start().await;
    env.add_client().await;
    let code = env
        .mint(json!({"email": "ada@example.com", "name": "Ada Lovelace"}))
        .await;

    // The case: `tokendesk exchange CODE | head -5`.
    let out = env.run_into_closed_pipe(&["exchange", &code]).await;
    assert_quiet("exchange", &out, 0);
    let users = env.run(&["--json", "users"]).await.json();
    assert_eq!(
        users["users"][0]["email"], "ada@example.com",
        "the exchange itself went through"
    );

    for args in [
        &["users"][..],
        &["--json", "users"],
        &["user", "ada@example.com"],
        &["audit"],
        &["client", "list"],
        &["completions", "bash"],
        &["--help"],
    ] {
        let out = env.run_into_closed_pipe(args).await;
        assert_quiet(&args.join(" "), &out, 0);
    }

    // A failure keeps its status even when nobody reads its JSON error.
    let again = env
        .run_into_closed_pipe(&["--json", "exchange", &code])
        .await;
    assert_quiet("a replayed exchange", &again, 4);
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_that_cannot_be_written_is_reported_with_what_to_do() {
    let env = Env::start().await;
    env.add_client().await;
    let out = env
        .run_with(&["client", "list"], |c| {
            c.stdout(Stdio::from(std::fs::File::create("/dev/full").unwrap()));
        })
        .await;
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    assert!(
        out.stderr.contains("cannot write the output to stdout")
            && out.stderr.contains("No space left on device")
            && out.stderr.contains("Check where stdout goes"),
        "{}",
        out.stderr
    );
}
