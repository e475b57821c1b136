//! Errors that name what failed (the file, the address) and what to do.

use crate::Env;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_name_the_file_or_address_and_the_fix() {
    let env = Env::start().await;
    let missing = env.dir.path().join("nowhere").join("client_secret.json");
    let folder = env.dir.path().to_path_buf();
    for (secrets, why) in [(&missing, "check the path"), (&folder, "that is a folder")] {
        let secrets = secrets.to_str().unwrap();
        let args = ["client", "add", "--name", "x", "--secrets", secrets];
        let out = env.run(&args).await;
        assert_eq!(out.code, 1);
        for part in [secrets, "--secrets", why, "Google Cloud Console"] {
            assert!(out.stderr.contains(part), "{part:?} in: {}", out.stderr);
        }
    }

    // "-" reads stdin; here it is empty.
    let out = env.run(&["exchange", "-"]).await;
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("stdin was empty") && out.stderr.contains("tokendesk exchange -"),
        "{}",
        out.stderr
    );

    // A port someone else holds: say which, and how to pick another.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    for command in ["emulator", "serve"] {
        let out = env.run(&[command, "--listen", &addr]).await;
        assert_eq!(out.code, 1, "{command}: {}", out.stderr);
        assert!(
            out.stderr.contains(&format!("cannot listen on {addr}"))
                && out.stderr.contains("in use")
                && out.stderr.contains("--listen 127.0.0.1:PORT"),
            "{command}: {}",
            out.stderr
        );
    }

    let out = env
        .run(&["emulator", "--client-secret-out", missing.to_str().unwrap()])
        .await;
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains(missing.to_str().unwrap())
            && out.stderr.contains("its folder does not exist"),
        "{}",
        out.stderr
    );
}
