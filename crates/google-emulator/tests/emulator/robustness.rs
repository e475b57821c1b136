//! Bad input, unknown paths, oversized bodies, slow clients and concurrency: Google's error
//! shapes, never a panic, never a hung connection.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::Env;

#[tokio::test]
async fn malformed_form_bodies_get_oauth_errors() {
    let env = Env::start().await;
    for body in [
        "%%%",
        "grant_type=authorization_code&code=%ZZ",
        "\u{0}\u{1}\u{2}",
        "==&&==",
    ] {
        let r = env
            .http
            .post(env.url("/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{body:?}");
        let b: Value = r.json().await.unwrap();
        assert!(b["error"].is_string(), "{body:?} -> {b}");
    }
    let r = env
        .http
        .post(env.url("/token"))
        .json(&json!({"grant_type": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "a JSON body is not a form");
}

#[tokio::test]
async fn oversized_bodies_are_413_in_the_endpoints_shape() {
    let env = Env::start().await;
    let big = "a".repeat(200 * 1024);
    let r = env
        .http
        .post(env.url("/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("code={big}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_request");
    let token = env.sign_in("ada@example.com").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = env
        .http
        .post(env.url("/upload/drive/v3/files?uploadType=media"))
        .bearer_auth(&token)
        .body(vec![0u8; 6 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], 413);
}

#[tokio::test]
async fn unknown_paths_and_wrong_methods() {
    let env = Env::start().await;
    let r = env.http.get(env.url("/nope")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert!(
        r.text().await.unwrap().contains("That\u{2019}s an error."),
        "Google's HTML 404"
    );
    let r = env
        .http
        .get(env.url("/drive/v3/nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        404,
        "Drive paths answer JSON"
    );
    let r = env.http.get(env.url("/token")).send().await.unwrap();
    assert_eq!(r.status(), 405);
    let r = env
        .http
        .put(env.url("/oauth2/v3/certs"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
}

#[tokio::test]
async fn a_hundred_concurrent_sign_ins_are_all_answered_correctly() {
    let env = std::sync::Arc::new(Env::start().await);
    let mut tasks = Vec::new();
    for i in 0..100 {
        let env = std::sync::Arc::clone(&env);
        tasks.push(tokio::spawn(async move {
            let email = format!("user{i}@example.com");
            let t = env.sign_in(&email).await;
            let c = crate::claims(t["id_token"].as_str().unwrap());
            assert_eq!(
                c["email"],
                email.as_str(),
                "each answer belongs to its own request"
            );
            c["sub"].as_str().unwrap().to_owned()
        }));
    }
    let mut subs = std::collections::HashSet::new();
    for t in tasks {
        subs.insert(t.await.expect("task"));
    }
    assert_eq!(subs.len(), 100);
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_disconnected() {
    let env = Env::start().await;
    let mut stream = tokio::net::TcpStream::connect(env.emu.addr())
        .await
        .unwrap();
    stream
        .write_all(b"POST /token HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 512];
    // The server's header timeout is 10 s; the guard only keeps a broken server from hanging CI.
    let read = tokio::time::timeout(Duration::from_secs(30), stream.read(&mut buf)).await;
    let n = read
        .expect("the server closes a slow client's connection")
        .unwrap_or(0);
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(
        n == 0 || answer.starts_with("HTTP/1.1 408"),
        "closed or 408, got {answer:?}"
    );
}

#[tokio::test]
async fn non_loopback_listen_is_refused_unless_allowed() {
    let err = google_emulator::Emulator::builder()
        .listen("0.0.0.0:0".parse().unwrap())
        .start()
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("loopback"), "{err}");
}
