//! The receiver over the real facade (`ReceiverSink` over a `Desk` on a temp dir, the
//! in-memory keyring) and the emulator: the store's claim is the one place a code is
//! recorded, so replays, concurrent posts and upstream failures are decided there.

use std::sync::Arc;
use std::time::Duration;

use google_emulator::{Emulator, Endpoint, Fault, IssuerMode, MintCode, UserSpec};
use serde_json::{Value, json};
use tokendesk_core::desk::{AddClient, Desk, DeskOptions, ReceiverSink};
use tokendesk_core::id_token::ManualClock;
use tokendesk_core::oauth::{HttpConfig, RetryPolicy};
use tokendesk_core::receiver::{self, ReceiverConfig, TlsFiles};
use tokendesk_core::vault::MemoryStore;

pub(crate) struct Live {
    pub emu: Emulator,
    pub desk: Arc<Desk>,
    pub sink: Arc<ReceiverSink>,
    pub clock: Arc<ManualClock>,
    pub receiver: receiver::Receiver,
    pub http: reqwest::Client,
    pub dir: tempfile::TempDir,
}

pub(crate) async fn live() -> Live {
    live_with(ReceiverConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..ReceiverConfig::default()
    })
    .await
}

pub(crate) async fn live_with(config: ReceiverConfig) -> Live {
    live_on(
        config,
        None,
        Arc::new(ManualClock::new(std::time::SystemTime::now())),
    )
    .await
}

/// The receiver over a desk with `clock`, finishing deferred sign-ins every `retry` (or the
/// product's minute).
pub(crate) async fn live_on(
    config: ReceiverConfig,
    retry: Option<Duration>,
    clock: Arc<ManualClock>,
) -> Live {
    let emu = Emulator::builder()
        .issuer_mode(IssuerMode::Origin)
        .start()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let options = DeskOptions {
        clock: Arc::clone(&clock) as _,
        http: HttpConfig {
            retry: RetryPolicy {
                base: Duration::from_millis(5),
                ..RetryPolicy::default()
            },
            ..HttpConfig::default()
        },
        ..DeskOptions::new(dir.path())
    };
    let desk = Arc::new(
        Desk::open(&options, Arc::new(MemoryStore::new()))
            .await
            .unwrap(),
    );
    let base = emu.base_url().to_owned();
    desk.add_client(AddClient {
        name: "emu".into(),
        secrets_json: emu.client_secret_json().to_string().into_bytes(),
        issuer: Some(base.clone()),
        api_base: Some(base),
        ios_client_ids: vec![emu.ios_client_id().to_owned()],
    })
    .await
    .unwrap();
    let sink = Arc::new(ReceiverSink::with_retry_every(
        Arc::clone(&desk),
        None,
        retry.unwrap_or(tokendesk_core::desk::RETRY_DEFERRED_EVERY),
    ));
    let receiver = receiver::start(config, Arc::clone(&sink) as _)
        .await
        .unwrap();
    Live {
        emu,
        desk,
        sink,
        clock,
        receiver,
        http: reqwest::Client::builder().no_proxy().build().unwrap(),
        dir,
    }
}

impl Live {
    pub fn code(&self, email: &str) -> String {
        let spec = MintCode {
            user: UserSpec {
                email: email.to_owned(),
                ..UserSpec::default()
            },
            ..MintCode::default()
        };
        self.emu.mint_code(&spec).unwrap().0
    }

    pub async fn post(&self, code: &str) -> (u16, Value) {
        let r = self
            .http
            .post(self.receiver.url())
            .header("X-Requested-With", "XMLHttpRequest")
            .json(&json!({ "code": code }))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    pub fn token_posts(&self) -> u64 {
        self.emu.request_count(Endpoint::Token)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_code_is_exchanged_once_and_a_replay_gets_409() {
    let env = live().await;
    let code = env.code("ada@example.com");
    let (s, b) = env.post(&code).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["email"], "ada@example.com");
    let (s, b) = env.post(&code).await;
    assert_eq!((s, b["error"].as_str()), (409, Some("already_exchanged")));
    assert_eq!(
        env.token_posts(),
        1,
        "a code reaches Google at most once (RFC 6749 §4.1.2)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_posts_of_one_code_reach_google_once() {
    let env = Arc::new(live().await);
    env.emu
        .inject(Fault::new(Endpoint::Token).latency(Duration::from_millis(300)));
    let code = env.code("ada@example.com");
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let (env, code) = (Arc::clone(&env), code.clone());
            tokio::spawn(async move { env.post(&code).await.0 })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    statuses.sort_unstable();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        9,
        "{statuses:?}"
    );
    assert_eq!(env.token_posts(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_errors_are_mapped_and_only_unredeemed_codes_may_come_back() {
    let env = live().await;
    // Google refuses the code (it never issued it): the app's fault, 400, never sent again.
    let refused = "4/0AeanS0b-never-issued";
    let (s, b) = env.post(refused).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (400, Some("invalid_grant")),
        "{b}"
    );
    assert_eq!(
        env.post(refused).await.0,
        409,
        "a refused code is never sent again"
    );

    // Rate limited at every try: Google never redeemed it, so the app may retry the code.
    env.emu
        .inject(Fault::new(Endpoint::Token).status(429).times(5));
    let limited = env.code("bob@example.com");
    let (s, b) = env.post(&limited).await;
    assert_eq!((s, b["error"].as_str()), (502, Some("rate_limited")), "{b}");
    let (s, b) = env.post(&limited).await;
    assert_eq!(s, 200, "the retry is exchanged: {b}");

    // The answer was lost on its way: the code may be spent, never sent again.
    env.emu
        .inject(Fault::new(Endpoint::Token).drop_connection().times(1));
    let lost = env.code("cy@example.com");
    let (s, b) = env.post(&lost).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (502, Some("outcome_unknown")),
        "{b}"
    );
    assert_eq!(env.post(&lost).await.0, 409);
}

/// hyper drops a request's handler when the client hangs up; an exchange running inside it
/// would stop half-way (the code spent at Google, the answer lost). The exchange runs to its
/// end in a task of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_that_hangs_up_does_not_cancel_its_exchange() {
    let env = live().await;
    env.emu.inject(
        Fault::new(Endpoint::Token)
            .latency(Duration::from_millis(1500))
            .times(1),
    );
    let code = env.code("ada@example.com");
    let impatient = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let gave_up = impatient
        .post(env.receiver.url())
        .header("X-Requested-With", "XMLHttpRequest")
        .json(&json!({ "code": code }))
        .send()
        .await;
    assert!(gave_up.is_err(), "the app stopped waiting: {gave_up:?}");
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while env.desk.user("ada@example.com").await.is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "the exchange went on without the app and stored the user"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (s, b) = env.post(&code).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (409, Some("already_exchanged")),
        "the app's retry learns the code was used, and the user is there"
    );
    assert_eq!(env.token_posts(), 1);
}

/// Waits (bounded) until `email` is a stored user.
async fn user_appears(env: &Live, email: &str, within: Duration) {
    let deadline = std::time::Instant::now() + within;
    while env.desk.user(email).await.is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "{email} was never stored"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_the_receiver_waits_for_the_exchange_in_flight() {
    let env = Arc::new(live().await);
    env.emu.inject(
        Fault::new(Endpoint::Token)
            .latency(Duration::from_millis(1200))
            .times(1),
    );
    let code = env.code("ada@example.com");
    let posting = {
        let env = Arc::clone(&env);
        tokio::spawn(async move { env.post(&code).await })
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while env.sink.in_flight() == 0 {
        assert!(std::time::Instant::now() < deadline, "the exchange started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    env.receiver.stop();
    let left = env.sink.drain(Duration::from_secs(10)).await;
    assert_eq!(left, 0, "the exchange was waited for, not cut off");
    assert!(
        env.desk.user("ada@example.com").await.is_ok(),
        "it ran to its end: the user is stored"
    );
    let _ = posting.await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_deferred_by_a_jwks_outage_is_finished_by_the_running_receiver() {
    let env = live_on(
        ReceiverConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            ..ReceiverConfig::default()
        },
        Some(Duration::from_millis(200)),
        Arc::new(ManualClock::new(std::time::SystemTime::now())),
    )
    .await;
    env.emu
        .inject(Fault::new(Endpoint::Certs).status(503).times(1000));
    let code = env.code("ada@example.com");
    let (s, b) = env.post(&code).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (503, Some("verification_deferred")),
        "the app is told to come back, not that it sent a bad code: {b}"
    );
    env.emu.clear_faults();
    env.clock.advance(Duration::from_secs(31));
    user_appears(&env, "ada@example.com", Duration::from_secs(10)).await;
    assert_eq!(
        env.token_posts(),
        1,
        "finished from the kept answer, not a second exchange"
    );
}

fn write_cert(dir: &std::path::Path, name: &str) -> TlsFiles {
    let cert = rcgen::generate_simple_self_signed(vec![name.to_owned()]).unwrap();
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    TlsFiles {
        cert_chain: cert_path,
        private_key: key_path,
    }
}

/// The deployment the README documents: listening on every interface with TLS, apps reaching
/// it by a public name (here resolved to loopback), directly or through a reverse proxy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_name_over_tls_is_served_and_others_are_refused() {
    const NAME: &str = "td.example.com";
    let certs = tempfile::tempdir().unwrap();
    let tls = write_cert(certs.path(), NAME);
    let env = live_with(ReceiverConfig {
        listen: "0.0.0.0:0".parse().unwrap(),
        tls: Some(tls.clone()),
        allow_non_loopback: true,
        allowed_hosts: vec![NAME.to_owned()],
    })
    .await;
    let port = env.receiver.addr().port();
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&tls.cert_chain).unwrap()).unwrap();
    let app = reqwest::Client::builder()
        .no_proxy()
        .tls_certs_only([ca])
        .resolve(NAME, std::net::SocketAddr::from(([127, 0, 0, 1], port)))
        .build()
        .unwrap();
    let url = format!("https://{NAME}:{port}/auth/code");
    let post = |host: Option<&'static str>, code: String| {
        let mut request = app
            .post(&url)
            .header("X-Requested-With", "XMLHttpRequest")
            .json(&json!({ "code": code }));
        if let Some(host) = host {
            request = request.header("Host", host);
        }
        async move {
            let r = request.send().await.unwrap();
            (
                r.status().as_u16(),
                r.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let (s, b) = post(None, env.code("ada@example.com")).await;
    assert_eq!(
        s, 200,
        "the app's POST to https://{NAME}:{port}/auth/code: {b}"
    );
    assert_eq!(b["email"], "ada@example.com");
    for host in ["td.example.com", "td.example.com:443"] {
        let (s, b) = post(Some(host), env.code("bob@example.com")).await;
        assert_ne!(
            s, 403,
            "a reverse proxy's Host {host:?} is the public name: {b}"
        );
    }
    let (s, _) = post(Some("evil.example.com"), env.code("eve@example.com")).await;
    assert_eq!(s, 403, "any other name is refused (DNS rebinding)");

    // TokenDesk's own failures say nothing of its files to the app: here the lock files'
    // folder is a file, so the exchange's lock cannot be taken (an error that names its path).
    let broken = live_with(ReceiverConfig {
        listen: "0.0.0.0:0".parse().unwrap(),
        tls: Some(tls.clone()),
        allow_non_loopback: true,
        allowed_hosts: vec![NAME.to_owned()],
    })
    .await;
    let locks = broken.dir.path().join("locks");
    std::fs::remove_dir_all(&locks).unwrap();
    std::fs::write(&locks, b"not a folder").unwrap();
    let port = broken.receiver.addr().port();
    let app = reqwest::Client::builder()
        .no_proxy()
        .tls_certs_only([
            reqwest::Certificate::from_pem(&std::fs::read(&tls.cert_chain).unwrap()).unwrap(),
        ])
        .resolve(NAME, std::net::SocketAddr::from(([127, 0, 0, 1], port)))
        .build()
        .unwrap();
    let r = app
        .post(format!("https://{NAME}:{port}/auth/code"))
        .header("X-Requested-With", "XMLHttpRequest")
        .json(&json!({ "code": broken.code("ada@example.com") }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 500);
    let body = r.text().await.unwrap();
    let folder = broken.dir.path().display().to_string();
    assert!(
        !body.contains(&folder) && !body.contains("locks"),
        "no local path in the answer: {body}"
    );
    assert!(
        body.contains("log"),
        "it says where the operator looks: {body}"
    );
}
