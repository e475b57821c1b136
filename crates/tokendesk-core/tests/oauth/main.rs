//! The oauth and drive modules over real HTTP against the in-process Google emulator (and tiny
//! hostile servers). Run with `cargo test -p tokendesk-core --test oauth`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod canary;
mod drive;
mod drive_files;
mod exchange;
mod hostile;
mod network;
#[path = "../support/proxy.rs"]
mod proxy;
mod refresh;
mod revoke;
mod tokeninfo;

use std::sync::Arc;
use std::time::Duration;

use google_emulator::{Emulator, IssuerMode, MintCode, UserSpec};
use serde_json::{Value, json};
use tokendesk_core::oauth::{
    HttpClient, HttpConfig, OAuthClient, OAuthError, RecordingTimer, RedirectChoice, RetryPolicy,
    TokenSet, exchange_code,
};
use tokendesk_core::provider::Endpoints;
use tokendesk_core::secret::{AuthCode, ClientSecret};

/// Retries 100× faster than production: backoff unit 10 ms, so delay k is in
/// [2^k × 10, 2^k × 10 + 10) ms.
pub const BASE: Duration = Duration::from_millis(10);

pub fn fast_config() -> HttpConfig {
    HttpConfig {
        connect_timeout: Duration::from_secs(2),
        timeout: Duration::from_secs(5),
        retry: RetryPolicy {
            base: BASE,
            deadline: Duration::from_secs(30),
            ..RetryPolicy::default()
        },
        ..HttpConfig::default()
    }
}

/// An emulator, its endpoints as TokenDesk discovers them, and a client whose retry sleeps
/// are recorded instead of slept.
#[derive(Debug)]
pub struct Google {
    pub emulator: Emulator,
    pub endpoints: Endpoints,
    pub timer: Arc<RecordingTimer>,
    pub http: HttpClient,
    pub client: OAuthClient,
}

impl Google {
    pub async fn start() -> Self {
        Self::with_config(fast_config()).await
    }

    pub async fn with_config(config: HttpConfig) -> Self {
        let emulator = Emulator::builder()
            .issuer_mode(IssuerMode::Origin)
            .start()
            .await
            .expect("emulator starts");
        let base = emulator.base_url().to_owned();
        let discovery = reqwest::get(Endpoints::discovery_url(&base).unwrap())
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let endpoints = Endpoints::from_discovery(&base, &discovery, &base).unwrap();
        let timer = Arc::new(RecordingTimer::new());
        let http = HttpClient::new(config).unwrap().with_timer(timer.clone());
        let web = emulator.web_client();
        let client = OAuthClient::new(
            http.clone(),
            endpoints.clone(),
            web.client_id.clone(),
            ClientSecret::new(web.client_secret.clone()),
        );
        Self {
            emulator,
            endpoints,
            timer,
            http,
            client,
        }
    }

    pub fn client_secret(&self) -> String {
        self.emulator.web_client().client_secret.clone()
    }

    /// A serverAuthCode as the iOS app would receive it (the raw string, to check canaries).
    pub fn mint_raw(&self, spec: MintCode) -> String {
        self.emulator.mint_code(&spec).expect("code minted").0
    }

    pub fn mint(&self, email: &str) -> String {
        self.mint_raw(mint_for(email))
    }

    /// Mints a code for `email` and exchanges it with an empty redirect_uri.
    pub async fn tokens(&self, email: &str) -> TokenSet {
        let code = self.mint(email);
        exchange_code(&self.client, AuthCode::new(code), RedirectChoice::Empty)
            .await
            .expect("exchange succeeds")
    }

    /// An admin API call (`/emulator/v1/...`), as a test script would make it.
    pub async fn admin(&self, path: &str, body: Value) -> Value {
        let response = reqwest::Client::new()
            .post(format!("{}/emulator/v1{path}", self.emulator.base_url()))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "admin {path}: {}",
            response.status()
        );
        response.json().await.unwrap()
    }

    /// Kills every grant of the user, as removing the app in their Google Account does.
    pub async fn user_removes_access(&self, email: &str) {
        self.admin("/grants/revoke", json!({ "email": email }))
            .await;
    }
}

pub fn mint_for(email: &str) -> MintCode {
    MintCode {
        user: UserSpec {
            email: email.to_owned(),
            name: Some("Test User".to_owned()),
            ..UserSpec::default()
        },
        ..MintCode::default()
    }
}

/// The canary check: neither form of an error, nor its explanation, carries a secret.
pub fn assert_clean(err: &OAuthError, secrets: &[&str]) {
    let texts = [
        format!("{err}"),
        format!("{err:?}"),
        format!("{err:#?}"),
        serde_json::to_string(&err.explanation()).unwrap(),
    ];
    for text in &texts {
        for secret in secrets.iter().filter(|s| !s.is_empty()) {
            assert!(
                !text.contains(secret),
                "an error leaked a secret ({} chars): {text}",
                secret.len()
            );
        }
    }
}

/// Asserts each delay k of a backoff lies in [2^k, 2^k + 1) × BASE.
pub fn assert_backoff(delays: &[Duration]) {
    for (k, delay) in delays.iter().enumerate() {
        let low = BASE * 2u32.pow(u32::try_from(k).unwrap());
        assert!(
            *delay >= low && *delay < low + BASE,
            "delay {k} is {delay:?}, outside [{low:?}, {:?})",
            low + BASE
        );
    }
}
