//! What the benches that run whole operations share: N from the environment, a runtime, and
//! a desk whose one client is the in-process emulator's, seeded with N signed-in users.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt as _};
use google_emulator::{Emulator, IssuerMode, MintCode, UserSpec};
use tokendesk_core::desk::{AddClient, Desk, DeskOptions};
use tokendesk_core::oauth::RedirectChoice;
use tokendesk_core::secret::AuthCode;
use tokendesk_core::vault::SecretStore;

/// Users to seed: `TOKENDESK_BENCH_USERS`, else `default`.
pub fn users_from_env(default: usize) -> usize {
    std::env::var("TOKENDESK_BENCH_USERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// The emulator, and a desk over `dir` with `vault` whose one client is the emulator's.
pub async fn desk_on_emulator(dir: &Path, vault: Arc<dyn SecretStore>) -> (Emulator, Arc<Desk>) {
    let emu = Emulator::builder()
        .issuer_mode(IssuerMode::Origin)
        .start()
        .await
        .expect("emulator starts");
    let desk = Arc::new(
        Desk::open(&DeskOptions::new(dir), vault)
            .await
            .expect("the desk opens"),
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
    .expect("the emulator's client is added");
    (emu, desk)
}

/// Signs `users` users in through `Desk::exchange` (8 at a time); how long it took.
pub async fn seed(emu: &Emulator, desk: &Arc<Desk>, users: usize) -> Duration {
    let codes: Vec<String> = (0..users)
        .map(|i| {
            let spec = MintCode {
                user: UserSpec {
                    email: format!("user{i}@example.com"),
                    name: Some(format!("User {i}")),
                    ..UserSpec::default()
                },
                ..MintCode::default()
            };
            emu.mint_code(&spec).expect("code minted").0
        })
        .collect();
    let started = Instant::now();
    let failed = stream::iter(codes)
        .map(|code| {
            let desk = Arc::clone(desk);
            async move {
                desk.exchange(None, AuthCode::new(code), RedirectChoice::Empty)
                    .await
                    .is_err()
            }
        })
        .buffer_unordered(8)
        .filter(|failed| std::future::ready(*failed))
        .count()
        .await;
    assert_eq!(failed, 0, "every seed exchange succeeds");
    started.elapsed()
}
