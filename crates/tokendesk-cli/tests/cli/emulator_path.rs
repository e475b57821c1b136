//! `tokendesk emulator` and `tokendesk client add` meet: the emulator's default (Google's
//! issuer) is refused with the command that works at each step, and the command its banner
//! prints works as printed, through to the README's exchange and Drive listing.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

use crate::{Env, bin};

/// A `tokendesk emulator ARGS` process: its base URL and what it printed on stderr up to the
/// line starting with `until`.
struct Running {
    child: Child,
    base: String,
    banner: Vec<String>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn emulator(args: Vec<String>, until: &'static str) -> Running {
    tokio::task::spawn_blocking(move || {
        let mut child = Command::new(bin())
            .arg("emulator")
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut base = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut base)
            .unwrap();
        let mut banner = Vec::new();
        for line in BufReader::new(child.stderr.take().unwrap()).lines() {
            let line = line.unwrap();
            let done = line.trim_start().starts_with(until);
            banner.push(line);
            if done {
                break;
            }
        }
        Running {
            child,
            base: base.trim().to_owned(),
            banner,
        }
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_refusal_names_the_command_that_works_and_the_banner_command_works() {
    let env = Env::start().await;
    let cs = env.dir.path().join("google-mode.json");
    let google = emulator(
        vec!["--client-secret-out".into(), cs.display().to_string()],
        "it signs as Google",
    )
    .await;
    assert!(
        google.banner.last().unwrap().contains("--issuer origin"),
        "the default's banner says how to use it from TokenDesk: {:?}",
        google.banner
    );
    let cs = cs.to_str().unwrap();
    let first = env
        .run(&["client", "add", "--name", "emu", "--secrets", cs])
        .await;
    assert_eq!(first.code, 1);
    assert!(
        first.stderr.contains(&format!("--issuer {}", google.base)),
        "the first refusal names the --issuer to pass: {}",
        first.stderr
    );
    let second = env
        .run(&[
            "--json",
            "client",
            "add",
            "--name",
            "emu",
            "--secrets",
            cs,
            "--issuer",
            &google.base,
        ])
        .await;
    assert_eq!(second.code, 1);
    assert_eq!(second.json()["error"]["code"], "issuer_is_google");
    assert!(
        second.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("tokendesk emulator --issuer origin"),
        "the second names the emulator's option: {}",
        second.stdout
    );
    drop(google);

    let cs = env.dir.path().join("origin-mode.json");
    let origin = emulator(
        vec![
            "--issuer".into(),
            "origin".into(),
            "--client-secret-out".into(),
            cs.display().to_string(),
        ],
        "use it from TokenDesk:",
    )
    .await;
    let printed = origin.banner.last().unwrap();
    let command = printed
        .split_once("use it from TokenDesk: tokendesk ")
        .unwrap()
        .1;
    let args: Vec<&str> = command.split_whitespace().collect();
    let added = env.run(&args).await;
    assert_eq!(added.code, 0, "the printed command works: {}", added.stderr);

    let minted: Value = env
        .http
        .post(format!("{}/emulator/v1/codes", origin.base))
        .json(&json!({"email": "ada@example.com", "name": "Ada Lovelace"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let code = minted["code"].as_str().unwrap();
    let exchanged = env.run(&["--json", "exchange", code]).await;
    assert_eq!(exchanged.code, 0, "{}", exchanged.stdout);
    assert_eq!(exchanged.json()["user"]["name"], "Ada Lovelace");
    let drive = env.run(&["drive", "ada@example.com"]).await;
    assert_eq!(drive.code, 0, "{}", drive.stderr);
    assert!(
        drive.stdout.starts_with("appDataFolder "),
        "{}",
        drive.stdout
    );
}
