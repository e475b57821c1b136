//! The facade (`Desk`) end to end against the in-process Google emulator, with the in-memory
//! keyring that fails on demand (`MemoryStore`): single-flight refresh (SECURITY §B.3), keyring
//! faults (§B.9), signing-key rotation, and clock skew (§B.12). SQLite is a real file in a temp
//! dir; the tests read it through a second connection to check what the desk left there.
//! Run with `cargo test -p tokendesk-core --test desk`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use google_emulator::{Emulator, Endpoint, Fault, IssuerMode, MintCode, UserSpec};
use tokendesk_core::desk::{AddClient, Desk, DeskError, DeskOptions, ExchangeReport, UserView};
use tokendesk_core::id_token::IdTokenError;
use tokendesk_core::oauth::RedirectChoice;
use tokendesk_core::secret::AuthCode;
use tokendesk_core::store::{ExchangeOutcome, Grant, GrantState, RefreshTokenState, Store};
use tokendesk_core::vault::{
    MemoryStore, SecretKey, SecretKind, SecretStore as _, SweepFinding, VaultError, VaultOp, sweep,
};

const ADA: &str = "ada@example.com";
const BOB: &str = "bob@example.com";

/// An emulator, a desk over a temp dir and an in-memory keyring, and one client ("emu").
struct Fixture {
    emu: Emulator,
    dir: tempfile::TempDir,
    vault: Arc<MemoryStore>,
    desk: Arc<Desk>,
}

impl Fixture {
    async fn start() -> Self {
        Self::with_leeway(Duration::from_secs(60)).await
    }

    async fn with_leeway(leeway: Duration) -> Self {
        let emu = Emulator::builder()
            .issuer_mode(IssuerMode::Origin)
            .start()
            .await
            .expect("emulator starts");
        let dir = tempfile::tempdir().unwrap();
        let vault = Arc::new(MemoryStore::new());
        let options = DeskOptions {
            leeway,
            ..DeskOptions::new(dir.path())
        };
        let desk = Arc::new(Desk::open(&options, vault.clone()).unwrap());
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
        Self {
            emu,
            dir,
            vault,
            desk,
        }
    }

    /// A serverAuthCode for `email`, as the iOS app would POST it.
    fn code(&self, email: &str) -> String {
        let spec = MintCode {
            user: UserSpec {
                email: email.to_owned(),
                name: Some("Test User".to_owned()),
                ..UserSpec::default()
            },
            ..MintCode::default()
        };
        self.emu.mint_code(&spec).expect("code minted").0
    }

    async fn exchange(&self, code: &str) -> Result<ExchangeReport, DeskError> {
        self.desk
            .exchange(None, AuthCode::new(code), RedirectChoice::Empty)
            .await
    }

    async fn refresh(&self, email: &str) -> Result<UserView, DeskError> {
        self.desk.refresh(email, None).await
    }

    fn state(&self, email: &str) -> &'static str {
        self.desk.user(email).unwrap().user.state
    }

    /// POSTs the emulator's token endpoint has seen (exchanges and refreshes).
    fn token_posts(&self) -> u64 {
        self.emu.request_count(Endpoint::Token)
    }

    /// A second connection to the desk's SQLite file, to see what was committed.
    fn store(&self) -> Store {
        Store::open(self.dir.path().join("tokendesk.sqlite3")).unwrap()
    }

    fn grants(&self) -> Vec<Grant> {
        self.store().grants().list().unwrap()
    }

    /// SQLite references whose keyring secret is missing: SECURITY §B.1 and §B.9 allow none.
    fn dangling(&self) -> Vec<SweepFinding> {
        let refs = self.store().vault_references().unwrap();
        sweep(&*self.vault, &refs)
            .unwrap()
            .findings
            .into_iter()
            .filter(|f| matches!(f, SweepFinding::Missing { .. }))
            .collect()
    }

    /// Keyring entries holding user tokens (not the client secret).
    fn token_secrets(&self) -> usize {
        self.vault
            .keys()
            .iter()
            .filter(|k| k.kind() != SecretKind::ClientSecret)
            .count()
    }
}

/// Sleeps until just after the next whole second of the wall clock, so that the next few
/// milliseconds of work all fall in one second (the store's timestamps have 1 s resolution).
async fn start_of_a_second() {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let into = Duration::from_nanos(u64::from(now.subsec_nanos()));
    tokio::time::sleep(Duration::from_secs(1) - into + Duration::from_millis(5)).await;
}

// -------------------------------------------------------------------------------------------
// Single flight (SECURITY §B.3)

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_refreshes_send_one_token_request() {
    let f = Fixture::start().await;
    f.exchange(&f.code(ADA)).await.unwrap();
    let before = f.token_posts();
    // The refresh that goes out is slowed down, so all fifty calls are surely waiting on it.
    f.emu
        .inject(Fault::new(Endpoint::Token).latency(Duration::from_millis(300)));
    let barrier = Arc::new(tokio::sync::Barrier::new(50));
    let calls: Vec<_> = (0..50)
        .map(|_| {
            let desk = Arc::clone(&f.desk);
            let barrier = Arc::clone(&barrier);
            tokio::spawn(async move {
                barrier.wait().await;
                desk.refresh(ADA, None).await
            })
        })
        .collect();
    for call in calls {
        let view = call
            .await
            .unwrap()
            .expect("every caller gets the refreshed grant");
        assert_eq!(
            view.refresh_token, "present",
            "the shared result is the live grant"
        );
    }
    assert_eq!(
        f.token_posts() - before,
        1,
        "fifty concurrent refreshes of one grant must share one token request (a second one \
         would, with a rotating provider, be refresh-token reuse)"
    );
    let grant = &f.grants()[0];
    assert_eq!(
        grant.access_key_version,
        Some(2),
        "exactly one new access token was stored (v1 from the exchange, v2 from the refresh)"
    );
    assert!(f.dangling().is_empty(), "{:?}", f.dangling());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_right_after_the_exchange_still_reaches_google() {
    let f = Fixture::start().await;
    // Exchange and refresh within one second: the store's timestamps cannot tell them apart,
    // so a coalescing rule built on them would take the exchange for a finished refresh.
    start_of_a_second().await;
    f.exchange(&f.code(ADA)).await.unwrap();
    let before = f.token_posts();
    f.refresh(ADA).await.unwrap();
    assert_eq!(
        f.token_posts() - before,
        1,
        "an explicit refresh with nobody else refreshing must send the refresh token, not \
         report success for a refresh that never happened"
    );
    assert_eq!(
        f.grants()[0].access_key_version,
        Some(2),
        "the refreshed access token is stored"
    );
}

// -------------------------------------------------------------------------------------------
// Keyring faults (SECURITY §B.9)

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keyring_refusing_the_refresh_token_fails_the_exchange_and_never_completes_the_grant() {
    let f = Fixture::start().await;
    let code = f.code(ADA);
    // The first two keyring writes of an exchange are the refresh token: kept from Google's
    // answer, then the grant's.
    f.vault.fail_times(VaultOp::Set, VaultError::Locked, 2);
    let err = f.exchange(&code).await.unwrap_err();
    assert_eq!(
        err.code(),
        "keyring_locked",
        "the exchange reports the keyring's own error: {err}"
    );
    assert!(
        err.to_string().contains("unlock") && err.to_string().contains("plaintext"),
        "the message says what to do and that nothing went to plaintext: {err}"
    );
    assert_eq!(
        f.token_secrets(),
        0,
        "neither token reached the keyring (the access token is not written after the refresh \
         token failed)"
    );
    assert_eq!(
        f.state(ADA),
        "incomplete",
        "the user is flagged for re-consent, never complete without a secret"
    );
    assert!(
        f.dangling().is_empty(),
        "no SQLite row points at a missing secret: {:?}",
        f.dangling()
    );
    let grant = &f.grants()[0];
    assert_eq!(grant.state, GrantState::Incomplete);
    assert_eq!(
        (grant.refresh_key_version, grant.access_key_version),
        (None, None),
        "no keyring version is recorded for secrets that were never stored"
    );
    let exchange = f.store().exchanges().by_code(&code).unwrap().unwrap();
    assert_eq!(
        (exchange.outcome, exchange.error_code.as_deref()),
        (ExchangeOutcome::Failed, Some("keyring_locked")),
        "the exchange is recorded with the reason it failed"
    );

    let before = f.token_posts();
    let refresh = f.refresh(ADA).await.unwrap_err();
    assert_eq!(
        refresh.code(),
        "incomplete_grant",
        "an incomplete grant is refused as such, not as a missing keyring entry: {refresh}"
    );
    let replay = f.exchange(&code).await.unwrap_err();
    assert_eq!(
        replay.code(),
        "already_exchanged",
        "Google redeemed the code; it is not sent again"
    );
    assert_eq!(
        f.token_posts(),
        before,
        "neither the refused refresh nor the replay reached Google"
    );

    // A restart's recovery has nothing to adopt: the grant stays flagged.
    let reopened = Desk::open(&DeskOptions::new(f.dir.path()), f.vault.clone()).unwrap();
    assert_eq!(
        reopened.user(ADA).unwrap().user.state,
        "incomplete",
        "recovery must not complete a grant whose refresh token is not in the keyring"
    );
    drop(reopened);

    // The keyring is unlocked; the user signs in again and the account completes.
    f.vault.clear_faults();
    let report = f.exchange(&f.code(ADA)).await.unwrap();
    assert_eq!(report.user.state, "complete");
    assert_eq!(report.user.refresh_token, "present");
    assert_eq!(f.state(ADA), "complete");
    assert!(f.dangling().is_empty(), "{:?}", f.dangling());
    let before = f.token_posts();
    f.refresh(ADA)
        .await
        .expect("the stored refresh token works");
    assert_eq!(f.token_posts() - before, 1, "the refresh went to Google");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keyring_refusing_a_client_secret_adds_no_client() {
    let f = Fixture::start().await;
    let second = || AddClient {
        name: "second".into(),
        secrets_json: f.emu.client_secret_json().to_string().into_bytes(),
        issuer: Some(f.emu.base_url().to_owned()),
        api_base: Some(f.emu.base_url().to_owned()),
        ios_client_ids: vec![],
    };
    let client_secrets = || {
        f.vault
            .keys()
            .iter()
            .filter(|k| k.kind() == SecretKind::ClientSecret)
            .count()
    };
    f.vault.fail(VaultOp::Set, VaultError::Locked);
    let err = f.desk.add_client(second()).await.unwrap_err();
    assert_eq!(err.code(), "keyring_locked", "{err}");
    assert_eq!(
        f.desk.clients().unwrap().len(),
        1,
        "no row without its secret"
    );
    assert_eq!(
        client_secrets(),
        1,
        "only the first client's secret is stored"
    );

    f.vault.clear_faults();
    f.desk
        .add_client(second())
        .await
        .expect("added once unlocked");
    assert_eq!(f.desk.clients().unwrap().len(), 2);
    assert_eq!(client_secrets(), 2);
    assert!(f.dangling().is_empty(), "{:?}", f.dangling());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keyring_fault_during_re_consent_keeps_the_working_grant() {
    let f = Fixture::start().await;
    f.exchange(&f.code(ADA)).await.unwrap();
    // Both writes of the new refresh token (kept from the answer, then the grant's) fail.
    f.vault.fail_times(VaultOp::Set, VaultError::Locked, 2);
    let err = f.exchange(&f.code(ADA)).await.unwrap_err();
    assert_eq!(err.code(), "keyring_locked", "{err}");
    assert!(f.dangling().is_empty(), "{:?}", f.dangling());
    // The first grant's tokens are untouched in the keyring and still valid at Google.
    let before = f.token_posts();
    let refreshed = f.refresh(ADA).await;
    assert!(
        refreshed.is_ok(),
        "a failed re-consent must not break the grant that worked before it: {:?}",
        refreshed.err().map(|e| e.code())
    );
    assert_eq!(f.token_posts() - before, 1, "the refresh went to Google");
    assert_eq!(f.state(ADA), "complete");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keyring_read_fault_during_refresh_is_actionable_and_changes_nothing() {
    let f = Fixture::start().await;
    f.exchange(&f.code(ADA)).await.unwrap();
    let grants = f.grants();
    let user = f.desk.user(ADA).unwrap().user;
    let before = f.token_posts();

    f.vault.fail(VaultOp::Get, VaultError::Locked);
    let err = f.refresh(ADA).await.unwrap_err();
    assert_eq!(err.code(), "keyring_locked", "{err}");
    assert!(
        err.to_string().contains("unlock"),
        "the message says how to fix it: {err}"
    );
    assert_eq!(
        f.token_posts(),
        before,
        "without the refresh token nothing is sent"
    );
    assert_eq!(
        f.grants(),
        grants,
        "SQLite is unchanged: the grant is neither invalid nor incomplete because the keyring \
         was locked"
    );
    assert_eq!(f.desk.user(ADA).unwrap().user, user);

    // Unlocked: the same operation works.
    f.vault.clear_faults();
    f.refresh(ADA).await.expect("refresh works after unlock");
    assert_eq!(f.token_posts() - before, 1, "the refresh went to Google");
    assert_eq!(f.grants()[0].refresh_token, RefreshTokenState::Present);
}

// -------------------------------------------------------------------------------------------
// The token response before verification (SECURITY §A.35, §B.1)

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_refresh_token_is_kept_from_the_answer_and_let_go_once_the_grant_holds_it() {
    let f = Fixture::start().await;
    let (sets, deletes) = (f.vault.calls(VaultOp::Set), f.vault.calls(VaultOp::Delete));
    let code = f.code(ADA);
    f.exchange(&code).await.unwrap();
    assert_eq!(
        f.vault.calls(VaultOp::Set) - sets,
        3,
        "the refresh token is written as the exchange's before verification, then as the \
         grant's, then the access token"
    );
    assert_eq!(
        f.vault.calls(VaultOp::Delete) - deletes,
        1,
        "the exchange's copy is deleted once the grant holds the token"
    );
    assert!(
        !f.vault
            .keys()
            .iter()
            .any(|k| k.kind() == SecretKind::ExchangeRefreshToken),
        "no copy is left behind: {:?}",
        f.vault.keys()
    );
    let exchange = f.store().exchanges().by_code(&code).unwrap().unwrap();
    assert_eq!(exchange.outcome, ExchangeOutcome::Succeeded);
    assert_eq!(exchange.refresh_key_version, None, "nor referenced");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keyring_refusing_only_the_kept_copy_still_completes_the_exchange() {
    let f = Fixture::start().await;
    f.vault.fail_times(VaultOp::Set, VaultError::Locked, 1);
    let report = f.exchange(&f.code(ADA)).await.unwrap();
    assert_eq!(
        (report.user.state, report.user.refresh_token),
        ("complete", "present"),
        "the grant's own write is the second chance"
    );
    assert!(f.dangling().is_empty(), "{:?}", f.dangling());
}

// -------------------------------------------------------------------------------------------
// Rotating refresh tokens (SECURITY §A.35, §B.2)

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotated_refresh_tokens_replace_the_spent_ones_without_reuse() {
    let f = Fixture::start().await;
    f.emu.set_refresh_rotation(true);
    f.exchange(&f.code(ADA)).await.unwrap();
    for _ in 0..3 {
        f.refresh(ADA)
            .await
            .expect("each refresh sends the live token");
    }
    assert_eq!(
        f.emu.refresh_reuse_detections(),
        0,
        "no spent token was sent"
    );
    assert_eq!(
        f.grants()[0].refresh_key_version,
        Some(4),
        "each rotation is a new keyring version"
    );
    assert_eq!(
        f.token_secrets(),
        2,
        "the spent refresh tokens and old access tokens are deleted: {:?}",
        f.vault.keys()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_refresh_token_a_crash_left_unreferenced_is_adopted() {
    let f = Fixture::start().await;
    f.emu.set_refresh_rotation(true);
    f.exchange(&f.code(ADA)).await.unwrap();
    let grant = f.grants().remove(0);
    let v = grant.refresh_key_version.unwrap();
    let key = |v| SecretKey::refresh_token(grant.uid.as_str(), v).unwrap();
    // What a process killed between storing a rotated refresh token and referencing it leaves:
    // Google spent version v and issued the one now at v+1, which SQLite does not name.
    let spent = f.vault.get(&key(v)).unwrap().unwrap();
    let client = f.emu.web_client();
    let answer: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/token", f.emu.base_url()))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", spent.as_str()),
            ("client_id", client.client_id.as_str()),
            ("client_secret", client.client_secret.as_str()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rotated = answer["refresh_token"]
        .as_str()
        .expect("a rotated refresh token");
    f.vault.set(&key(v + 1), rotated).unwrap();

    f.refresh(ADA)
        .await
        .expect("the refresh uses the newer token, not the spent one");
    assert_eq!(
        f.emu.refresh_reuse_detections(),
        0,
        "sending the spent token would have killed the grant"
    );
    assert_eq!(
        f.grants()[0].refresh_key_version,
        Some(v + 2),
        "adopted v+1, then rotated to v+2"
    );
    assert!(
        f.vault.get(&key(v)).unwrap().is_none(),
        "the spent one is gone"
    );
}

// -------------------------------------------------------------------------------------------
// Signing-key rotation (SECURITY §A.5, OpenID "signing-key-rotation")

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_key_rotation_the_next_exchange_refetches_the_keys_once() {
    let f = Fixture::start().await;
    f.exchange(&f.code(ADA)).await.unwrap();
    let certs = f.emu.request_count(Endpoint::Certs);
    assert_eq!(certs, 1, "the first exchange fetched the JWKS");
    f.emu.rotate_keys().unwrap();

    // Within 30 s of that fetch the cache refuses to fetch again (kid-flood protection). The
    // code is already redeemed at Google, so the exchange waits out the cooldown rather than
    // throwing the tokens away, then verifies after exactly one refetch.
    let report = f
        .exchange(&f.code(BOB))
        .await
        .expect("the exchange waits for the cooldown and verifies with the new key");
    assert_eq!(report.user.email.as_deref(), Some(BOB));
    assert_eq!(
        f.emu.request_count(Endpoint::Certs),
        certs + 1,
        "one refetch for the unknown kid, none inside the cooldown"
    );
    // ADA's refresh brings an ID token signed with the new key: verified from the cache.
    f.refresh(ADA).await.unwrap();
    assert_eq!(
        f.emu.request_count(Endpoint::Certs),
        certs + 1,
        "the refetched keys are cached"
    );
}

// -------------------------------------------------------------------------------------------
// Clock skew (SECURITY §B.12)

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clock_skew_inside_the_leeway_is_accepted() {
    let f = Fixture::start().await;
    for (offset, email) in [(30, "plus30@example.com"), (55, "plus55@example.com")] {
        f.emu.set_clock_offset(offset);
        let report = f.exchange(&f.code(email)).await;
        assert!(
            report.is_ok(),
            "Google's clock {offset} s ahead is inside the 60 s leeway: {:?}",
            report.err().map(|e| e.to_string())
        );
        assert_eq!(f.state(email), "complete");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_id_token_from_five_minutes_ahead_is_refused_and_its_code_never_resent() {
    let f = Fixture::start().await;
    f.emu.set_clock_offset(300);
    let code = f.code(ADA);
    let err = f.exchange(&code).await.unwrap_err();
    assert!(
        matches!(err, DeskError::IdToken(IdTokenError::IssuedInFuture { .. })),
        "iat five minutes in the future is refused as such: {}: {err}",
        err.code()
    );
    assert_eq!(err.code(), "issued_in_future");
    assert!(
        err.to_string().contains("check this machine's clock"),
        "the message says what to check: {err}"
    );
    assert!(
        f.desk.users(None, 10).unwrap().is_empty(),
        "no user from an unverified token"
    );
    assert_eq!(f.token_secrets(), 0, "no token of it in the keyring");
    let recorded = f.store().exchanges().by_code(&code).unwrap().unwrap();
    assert_eq!(
        (recorded.outcome, recorded.error_code.as_deref()),
        (ExchangeOutcome::Failed, Some("issued_in_future")),
        "the code is recorded with why it failed"
    );
    let before = f.token_posts();
    assert_eq!(
        f.exchange(&code).await.unwrap_err().code(),
        "already_exchanged",
        "the same code is refused"
    );
    assert_eq!(f.token_posts(), before, "without reaching Google");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acceptance_follows_the_configured_leeway() {
    // 65 s ahead: past the default 60 s leeway.
    let f = Fixture::start().await;
    f.emu.set_clock_offset(65);
    let err = f.exchange(&f.code(ADA)).await.unwrap_err();
    assert_eq!(err.code(), "issued_in_future", "{err}");
    assert!(
        err.to_string().contains("60 s"),
        "the message states the leeway: {err}"
    );
    // A desk configured with 10 s refuses what the default accepts.
    let strict = Fixture::with_leeway(Duration::from_secs(10)).await;
    strict.emu.set_clock_offset(30);
    let err = strict.exchange(&strict.code(ADA)).await.unwrap_err();
    assert_eq!(
        err.code(),
        "issued_in_future",
        "30 s ahead is outside a 10 s leeway: {err}"
    );
    strict.emu.set_clock_offset(5);
    strict
        .exchange(&strict.code(BOB))
        .await
        .expect("5 s ahead is inside a 10 s leeway");
}

// -------------------------------------------------------------------------------------------
// What the user page shows of the ID token

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_user_keeps_how_its_id_token_was_verified_but_never_the_token() {
    let f = Fixture::start().await;
    f.exchange(&f.code(ADA)).await.unwrap();
    let detail = f.desk.user(ADA).unwrap();
    let report = &detail.id_token;
    assert_eq!(
        report["header"]["alg"], "RS256",
        "the header as verified: {report}"
    );
    assert!(report["header"]["kid"].is_string(), "the key id is shown");
    assert_eq!(report["valid"], true);
    let checks = report["checks"].as_array().expect("the checks ran");
    let names: Vec<&str> = checks.iter().filter_map(|c| c["name"].as_str()).collect();
    for wanted in ["signature", "iss", "aud", "azp", "exp"] {
        assert!(
            names.contains(&wanted),
            "check {wanted} is listed: {names:?}"
        );
    }
    assert!(
        checks.iter().all(|c| c["ok"] == true),
        "every check passed for a token that was accepted: {checks:?}"
    );
    let text = report.to_string();
    assert!(
        !text.contains("eyJ"),
        "no JWT segment (header, payload or signature) is stored: {text}"
    );
}
