//! The admin API refuses what a web page could send it: state changes without
//! `Content-Type: application/json` (415), and any request naming another host (403).

use std::net::SocketAddr;

use google_emulator::Emulator;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::Env;

/// Every admin call that changes state, with a body it would accept as JSON.
const STATE_CHANGING: &[(&str, &str, &str)] = &[
    ("POST", "/users", r#"{"email":"mallory@example.com"}"#),
    ("POST", "/codes", r#"{"email":"mallory@example.com"}"#),
    ("POST", "/grants/revoke", r#"{"email":"ada@example.com"}"#),
    ("POST", "/keys/rotate", ""),
    ("POST", "/refresh-rotation", r#"{"enabled":true}"#),
    (
        "POST",
        "/faults",
        r#"{"endpoint":"*","status":500,"count":100}"#,
    ),
    ("DELETE", "/faults", ""),
    ("DELETE", "/requests", ""),
    ("POST", "/clock", r#"{"offset_secs":86400}"#),
];

/// What the emulator looks like from the admin API and its certs, to see nothing changed.
async fn observable_state(env: &Env) -> Value {
    let certs = env.get_json("/oauth2/v3/certs").await;
    let requests = env.admin_get("/requests").await;
    json!({
        "kids": certs["keys"].as_array().unwrap().iter().map(|k| k["kid"].clone()).collect::<Vec<_>>(),
        "users": env.admin_get("/users").await,
        "rotation": env.admin_get("/refresh-rotation").await,
        "clock": env.admin_get("/clock").await["offset_secs"],
        "certs_requests": requests["counts"]["certs"],
    })
}

#[tokio::test]
async fn state_changing_admin_calls_without_json_are_415_and_change_nothing() {
    let env = Env::start().await;
    let before = observable_state(&env).await;
    for (method, path, body) in STATE_CHANGING {
        for content_type in [
            None,
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            Some("multipart/form-data; boundary=x"),
            Some("application/jsonp"),
        ] {
            let mut request = env
                .http
                .request(
                    method.parse().unwrap(),
                    env.url(&format!("/emulator/v1{path}")),
                )
                .body(body.to_string());
            if let Some(ct) = content_type {
                request = request.header("content-type", ct);
            }
            let r = request.send().await.unwrap();
            assert_eq!(r.status(), 415, "{method} {path} as {content_type:?}");
            assert!(
                r.headers()["content-type"]
                    .to_str()
                    .unwrap()
                    .starts_with("application/json")
            );
            let b: Value = r.json().await.unwrap();
            assert_eq!(b["error"], "unsupported_media_type");
            assert!(
                b["error_description"]
                    .as_str()
                    .unwrap()
                    .contains("Content-Type: application/json"),
                "{b}"
            );
        }
    }
    // The refusals changed nothing: no key rotated, no user, no fault, no time travel.
    let after = observable_state(&env).await;
    assert_eq!(before["kids"], after["kids"]);
    assert_eq!(before["users"], after["users"]);
    assert_eq!(before["rotation"], after["rotation"]);
    assert_eq!(after["clock"], 0);
    assert_eq!(
        after["certs_requests"], 2,
        "the request log was not reset (two certs reads)"
    );
    let certs = env
        .http
        .get(env.url("/oauth2/v3/certs"))
        .send()
        .await
        .unwrap();
    assert_eq!(certs.status(), 200, "no fault was installed");
}

#[tokio::test]
async fn json_calls_still_work_including_bodyless_ones_with_an_empty_object() {
    let env = Env::start().await;
    let kid_before = observable_state(&env).await["kids"][0].clone();
    let rotated = env.admin("/keys/rotate", json!({})).await;
    assert_ne!(rotated["kid"], kid_before);
    for content_type in ["application/json; charset=utf-8", "Application/JSON"] {
        let r = env
            .http
            .post(env.url("/emulator/v1/keys/rotate"))
            .header("content-type", content_type)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{content_type}, no body");
    }
    let user = env
        .admin("/users", json!({"email": "ada@example.com"}))
        .await;
    assert_eq!(user["email"], "ada@example.com");
    env.admin_delete("/requests").await;
    env.admin_delete("/faults").await;
    // GETs change nothing and need no content type.
    let r = env
        .http
        .get(env.url("/emulator/v1/users"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// One HTTP/1.1 request over a fresh connection to `addr`, exactly as written.
async fn raw(addr: SocketAddr, head: &str, body: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "{head}\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {answer:?}"));
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

async fn config_with_host(addr: SocketAddr, host: &str) -> (u16, String) {
    raw(
        addr,
        &format!("GET /emulator/v1/config HTTP/1.1\r\nhost: {host}"),
        "",
    )
    .await
}

#[tokio::test]
async fn admin_calls_naming_another_host_are_403() {
    let env = Env::start().await;
    let addr = env.emu.addr();
    let port = addr.port();
    for host in [
        format!("evil.example:{port}"),
        "evil.example".to_owned(),
        format!("localhost.evil.example:{port}"),
        format!("127.0.0.1.nip.io:{port}"),
        format!("127.0.0.1:{}", port.wrapping_add(1)),
        "127.0.0.1".to_owned(),
        format!("127.0.0.2:{port}"),
        format!("10.0.0.1:{port}"),
    ] {
        let (status, body) = config_with_host(addr, &host).await;
        assert_eq!(status, 403, "Host {host}: {body}");
        let b: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(b["error"], "forbidden");
        assert!(
            b["error_description"]
                .as_str()
                .unwrap()
                .contains(&format!("127.0.0.1:{port}")),
            "the refusal says which Host works: {b}"
        );
    }
    // A rebinding page's JSON POST, and a POST to an unknown admin path, are refused too.
    let (status, _) = raw(
        addr,
        &format!(
            "POST /emulator/v1/users HTTP/1.1\r\nhost: evil.example:{port}\r\ncontent-type: application/json"
        ),
        r#"{"email":"mallory@example.com"}"#,
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(env.admin_get("/users").await["users"], json!([]));
    let (status, _) = raw(
        addr,
        &format!("POST /emulator/v1/nothing-here HTTP/1.1\r\nhost: evil.example:{port}"),
        "",
    )
    .await;
    assert_eq!(status, 403);
    // HTTP/1.0 without any Host.
    let (status, _) = raw(addr, "GET /emulator/v1/config HTTP/1.0", "").await;
    assert_eq!(status, 403);
    // An absolute-form target naming another host, whatever the Host header says.
    let (status, _) = raw(
        addr,
        &format!(
            "GET http://evil.example:{port}/emulator/v1/config HTTP/1.1\r\nhost: 127.0.0.1:{port}"
        ),
        "",
    )
    .await;
    assert_eq!(status, 403);
    // Google's endpoints are not the admin API: they answer whatever the Host.
    let (status, _) = raw(
        addr,
        "GET /oauth2/v3/certs HTTP/1.1\r\nhost: evil.example",
        "",
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn the_loopback_names_of_the_emulators_port_are_accepted() {
    let env = Env::start().await;
    let addr = env.emu.addr();
    let port = addr.port();
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("LocalHost:{port}"),
        format!("[::1]:{port}"),
    ] {
        let (status, body) = config_with_host(addr, &host).await;
        assert_eq!(status, 200, "Host {host}: {body}");
    }
    let (status, body) = raw(
        addr,
        &format!("POST /emulator/v1/users HTTP/1.1\r\nhost: localhost:{port}\r\ncontent-type: application/json"),
        r#"{"email":"ada@example.com"}"#,
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn an_emulator_bound_elsewhere_accepts_the_address_it_listens_on() {
    // Bound to another loopback address: its own address is the Host its clients send.
    let env = Env::with(Emulator::builder().listen("127.0.0.2:0".parse().unwrap())).await;
    let addr = env.emu.addr();
    let port = addr.port();
    assert_eq!(
        config_with_host(addr, &format!("127.0.0.2:{port}")).await.0,
        200
    );
    assert_eq!(
        config_with_host(addr, &format!("localhost:{port}")).await.0,
        200
    );
    assert_eq!(
        config_with_host(addr, &format!("127.0.0.3:{port}")).await.0,
        403
    );
    let config = env.admin_get("/config").await;
    assert_eq!(config["base_url"], format!("http://127.0.0.2:{port}"));

    // Bound to every interface (allow_non_loopback): the address a request arrived on.
    let env = Env::with(
        Emulator::builder()
            .listen("0.0.0.0:0".parse().unwrap())
            .allow_non_loopback(true),
    )
    .await;
    let port = env.emu.addr().port();
    let via = |ip: &str| SocketAddr::new(ip.parse().unwrap(), port);
    assert_eq!(
        config_with_host(via("127.0.0.2"), &format!("127.0.0.2:{port}"))
            .await
            .0,
        200
    );
    assert_eq!(
        config_with_host(via("127.0.0.3"), &format!("127.0.0.2:{port}"))
            .await
            .0,
        403,
        "an address it listens on but the request did not arrive on"
    );
    assert_eq!(
        config_with_host(via("127.0.0.2"), &format!("0.0.0.0:{port}"))
            .await
            .0,
        200,
        "its base URL's address"
    );
    assert_eq!(
        config_with_host(via("127.0.0.2"), &format!("evil.example:{port}"))
            .await
            .0,
        403
    );
}
