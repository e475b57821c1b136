//! The receiver over the real facade (`ReceiverSink` over a `Desk` on a temp dir, the
//! in-memory keyring) and the emulator: the store's claim is the one place a code is
//! recorded, so replays, concurrent posts and upstream failures are decided there.

use std::sync::Arc;
use std::time::Duration;

use google_emulator::{Emulator, Endpoint, Fault, IssuerMode, MintCode, UserSpec};
use serde_json::{Value, json};
use tokendesk_core::desk::{AddClient, Desk, DeskOptions, ReceiverSink};
use tokendesk_core::oauth::{HttpConfig, RetryPolicy};
use tokendesk_core::receiver::{self, ReceiverConfig};
use tokendesk_core::vault::MemoryStore;

pub(crate) struct Live {
    pub emu: Emulator,
    pub desk: Arc<Desk>,
    pub receiver: receiver::Receiver,
    pub http: reqwest::Client,
    _dir: tempfile::TempDir,
}

pub(crate) async fn live() -> Live {
    let emu = Emulator::builder()
        .issuer_mode(IssuerMode::Origin)
        .start()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let options = DeskOptions {
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
    let sink = Arc::new(ReceiverSink {
        desk: Arc::clone(&desk),
        client: None,
    });
    let config = ReceiverConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..ReceiverConfig::default()
    };
    let receiver = receiver::start(config, sink).await.unwrap();
    Live {
        emu,
        desk,
        receiver,
        http: reqwest::Client::builder().no_proxy().build().unwrap(),
        _dir: dir,
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
