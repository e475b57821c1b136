//! The receiver's contract over real HTTP on loopback: with a recording sink standing in for
//! the facade here (HTTP rules: headers, content types, sizes, timeouts, TLS), and with the
//! real facade over the emulator in `desk` (replays, upstream failures, hang-ups).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod desk;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tokendesk_core::receiver::{
    self, CodeSink, ReceivedUser, ReceiverConfig, RedeemError, RedeemFuture, TlsFiles,
};
use tokendesk_core::secret::AuthCode;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// Answers by the code's text: `bad-*` is refused, `down-*` upstream-fails, `slow-*` waits.
#[derive(Default)]
struct Sink {
    calls: AtomicUsize,
}

impl CodeSink for Sink {
    fn redeem(&self, code: AuthCode) -> RedeemFuture<'_> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            let c = code.secret().to_owned();
            if c.starts_with("slow-") {
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            if c.starts_with("bad-") {
                return Err(RedeemError::Rejected {
                    code: "invalid_grant".into(),
                    message: "the code was already used or has expired".into(),
                });
            }
            if c.starts_with("down-") {
                return Err(RedeemError::Upstream {
                    code: "upstream_unavailable".into(),
                    message: "Google did not answer".into(),
                });
            }
            Ok(ReceivedUser {
                sub: "110000000000000000001".into(),
                email: Some("ada@example.com".into()),
                email_verified: Some(true),
                name: Some("Ada Lovelace".into()),
                given_name: None,
                family_name: None,
                picture: None,
                locale: None,
                hd: None,
            })
        })
    }
}

struct Env {
    sink: Arc<Sink>,
    receiver: receiver::Receiver,
    http: reqwest::Client,
}

async fn start() -> Env {
    let sink = Arc::new(Sink::default());
    let config = ReceiverConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..ReceiverConfig::default()
    };
    let receiver = receiver::start(config, sink.clone()).await.expect("starts");
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    Env {
        sink,
        receiver,
        http,
    }
}

impl Env {
    fn calls(&self) -> usize {
        self.sink.calls.load(Ordering::SeqCst)
    }

    async fn post_json(&self, body: Value) -> (u16, Value) {
        let r = self
            .http
            .post(self.receiver.url())
            .header("X-Requested-With", "XMLHttpRequest")
            .json(&body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }
}

#[tokio::test]
async fn json_and_form_codes_are_redeemed_and_answer_the_profile_only() {
    let env = start().await;
    let (s, body) = env.post_json(json!({"code": "4/0abc"})).await;
    assert_eq!(s, 200);
    assert_eq!(body["sub"], "110000000000000000001");
    assert_eq!(body["email"], "ada@example.com");
    assert!(
        !body.to_string().contains("token"),
        "never tokens in the answer: {body}"
    );
    let r = env
        .http
        .post(env.receiver.url())
        .header("X-Requested-With", "com.example.app")
        .form(&[("code", "4/0def")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "Google's Android sample posts a form");
    assert_eq!(env.calls(), 2);
}

#[tokio::test]
async fn without_x_requested_with_nothing_is_exchanged() {
    let env = start().await;
    let r = env
        .http
        .post(env.receiver.url())
        .json(&json!({"code": "4/0abc"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["error"], "missing_x_requested_with");
    assert_eq!(
        env.calls(),
        0,
        "a possibly forged request must not reach Google"
    );
}

#[tokio::test]
async fn a_foreign_host_header_is_refused() {
    let env = start().await;
    let port = env.receiver.addr().port();
    for host in [
        format!("evil.example:{port}"),
        "127.0.0.1:1".to_owned(),
        "localhost".to_owned(),
    ] {
        let r = env
            .http
            .post(env.receiver.url())
            .header("Host", host.as_str())
            .header("X-Requested-With", "x")
            .json(&json!({"code": "4/0abc"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "DNS rebinding: Host {host}");
    }
    let r = env
        .http
        .post(format!("http://localhost:{port}/auth/code"))
        .header("X-Requested-With", "x")
        .json(&json!({"code": "4/0abc"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        200,
        "localhost with the bound port is the receiver itself"
    );
    assert_eq!(env.calls(), 1);
}

#[tokio::test]
async fn other_content_types_are_415() {
    let env = start().await;
    for ct in [
        "text/plain",
        "multipart/form-data; boundary=x",
        "application/xml",
    ] {
        let r = env
            .http
            .post(env.receiver.url())
            .header("X-Requested-With", "x")
            .header("Content-Type", ct)
            .body("code=4/0abc")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 415, "{ct}");
    }
    let r = env
        .http
        .post(env.receiver.url())
        .header("X-Requested-With", "x")
        .body("code=1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415, "no content type at all");
    assert_eq!(env.calls(), 0);
}

#[tokio::test]
async fn bodies_over_4_kib_are_413_and_empty_codes_400() {
    let env = start().await;
    let (s, _) = env.post_json(json!({"code": "x".repeat(5000)})).await;
    assert_eq!(s, 413);
    for body in [
        json!({}),
        json!({"code": ""}),
        json!({"code": 5}),
        json!("just a string"),
    ] {
        let (s, b) = env.post_json(body.clone()).await;
        assert_eq!(s, 400, "{body}");
        assert_eq!(b["error"], "invalid_request");
    }
    let r = env
        .http
        .post(env.receiver.url())
        .header("X-Requested-With", "x")
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(env.calls(), 0);
}

#[tokio::test]
async fn cors_preflight_gets_no_allowance() {
    let env = start().await;
    let r = env
        .http
        .request(reqwest::Method::OPTIONS, env.receiver.url())
        .header("Origin", "https://evil.example")
        .header("Access-Control-Request-Method", "POST")
        .header("Access-Control-Request-Headers", "x-requested-with")
        .header("Access-Control-Request-Private-Network", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    for (name, _) in r.headers() {
        assert!(
            !name.as_str().starts_with("access-control-"),
            "no CORS header: {name}"
        );
    }
}

#[tokio::test]
async fn healthz_answers() {
    let env = start().await;
    let port = env.receiver.addr().port();
    let r = env
        .http
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn events_report_outcomes_without_codes() {
    let env = start().await;
    let mut events = env.receiver.subscribe();
    env.post_json(json!({"code": "4/0secret-code-value"})).await;
    env.post_json(json!({"code": "bad-2"})).await;
    let ok = events.recv().await.unwrap();
    assert_eq!(
        (ok.status, ok.outcome.as_str(), ok.email.as_deref()),
        (200, "ok", Some("ada@example.com"))
    );
    let bad = events.recv().await.unwrap();
    assert_eq!((bad.status, bad.outcome.as_str()), (400, "invalid_grant"));
    assert!(
        !format!("{ok:?}{bad:?}").contains("secret-code-value"),
        "events never carry codes"
    );
}

#[tokio::test]
async fn non_loopback_needs_tls_and_the_explicit_flag() {
    let sink: Arc<Sink> = Arc::new(Sink::default());
    let config = ReceiverConfig {
        listen: "0.0.0.0:0".parse().unwrap(),
        ..ReceiverConfig::default()
    };
    let err = receiver::start(config, sink.clone())
        .await
        .expect_err("plain text off loopback");
    assert!(err.to_string().contains("TLS"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let tls = write_cert(dir.path());
    let config = ReceiverConfig {
        listen: "0.0.0.0:0".parse().unwrap(),
        tls: Some(tls),
        ..ReceiverConfig::default()
    };
    let err = receiver::start(config, sink)
        .await
        .expect_err("needs the flag");
    assert!(err.to_string().contains("--allow-non-loopback"), "{err}");
}

fn write_cert(dir: &std::path::Path) -> TlsFiles {
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    TlsFiles {
        cert_chain: cert_path,
        private_key: key_path,
    }
}

#[tokio::test]
async fn tls_receiver_serves_https_and_refuses_a_bad_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let tls = write_cert(dir.path());
    let sink = Arc::new(Sink::default());
    let config = ReceiverConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        tls: Some(tls.clone()),
        ..ReceiverConfig::default()
    };
    let rx = receiver::start(config, sink.clone())
        .await
        .expect("TLS receiver starts");
    assert!(rx.url().starts_with("https://"));
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&tls.cert_chain).unwrap()).unwrap();
    let http = reqwest::Client::builder()
        .no_proxy()
        .tls_certs_only([ca])
        .build()
        .unwrap();
    let r = http
        .post(rx.url())
        .header("X-Requested-With", "x")
        .json(&json!({"code": "4/0tls"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    std::fs::write(&tls.private_key, "not a key").unwrap();
    let config = ReceiverConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        tls: Some(tls),
        ..ReceiverConfig::default()
    };
    let err = receiver::start(config, sink)
        .await
        .expect_err("bad key fails closed");
    assert!(err.to_string().contains("key.pem"), "{err}");
}

#[tokio::test]
async fn a_slow_client_is_disconnected() {
    let env = start().await;
    let mut stream = tokio::net::TcpStream::connect(env.receiver.addr())
        .await
        .unwrap();
    stream
        .write_all(b"POST /auth/code HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 256];
    // The header timeout is 10 s; the outer guard only keeps a broken server from hanging CI.
    let n = tokio::time::timeout(Duration::from_secs(30), stream.read(&mut buf))
        .await
        .expect("the receiver closes a slowloris connection")
        .unwrap_or(0);
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(n == 0 || answer.starts_with("HTTP/1.1 408"), "{answer:?}");
    assert_eq!(env.calls(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_slow_connections_do_not_lock_out_a_real_post_and_are_all_dropped() {
    let env = start().await;
    let mut slow = Vec::new();
    for _ in 0..200 {
        let mut s = tokio::net::TcpStream::connect(env.receiver.addr())
            .await
            .unwrap();
        s.write_all(b"POST /auth/code HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        slow.push(s);
    }
    // While 200 slowloris connections hold their sockets, a legitimate POST is served.
    let (status, _) = env.post_json(json!({"code": "4/0during-the-flood"})).await;
    assert_eq!(status, 200, "a real client is not locked out by slow ones");
    // Every slow connection is closed by the server's header timeout (10 s); the outer guard
    // only keeps a broken server from hanging CI.
    let closed = tokio::time::timeout(Duration::from_secs(40), async {
        let mut n = 0;
        for mut s in slow {
            let mut buf = [0u8; 256];
            let _ = s.read(&mut buf).await;
            n += 1;
        }
        n
    })
    .await
    .expect("every slow connection is dropped");
    assert_eq!(closed, 200);
    assert_eq!(env.calls(), 1, "only the real POST reached the sink");
}

#[tokio::test]
async fn random_bodies_never_crash_the_receiver_or_get_a_server_error() {
    let env = start().await;
    // xorshift64*, so a failing body replays the same way.
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x9E37_79B9_7F4A_7C15)
    };
    let pieces: [&[u8]; 12] = [
        b"{",
        b"}",
        b"\"code\"",
        b":",
        b"\"4/0x\"",
        b",",
        b"[",
        b"]",
        b"code=",
        b"%",
        b"\0",
        b"\xff\xfe",
    ];
    for i in 0..300 {
        let mut body = Vec::new();
        for _ in 0..(next() % 12) {
            body.extend_from_slice(pieces[(next() % pieces.len() as u64) as usize]);
        }
        let content_type = if next() % 2 == 0 {
            "application/json"
        } else {
            "application/x-www-form-urlencoded"
        };
        let r = env
            .http
            .post(env.receiver.url())
            .header("X-Requested-With", "fuzz")
            .header("Content-Type", content_type)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert!(
            r.status().is_success() || r.status().is_client_error(),
            "body {i} {:?} got {}",
            String::from_utf8_lossy(&body),
            r.status()
        );
    }
    let port = env.receiver.addr().port();
    let r = env
        .http
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        200,
        "the receiver still answers after the random bodies"
    );
}
