//! The facade (`Desk`) end to end against the in-process Google emulator, with the in-memory
//! keyring that fails on demand (`MemoryStore`) and an injected clock: single-flight refresh
//! (SECURITY §B.3), sealed secrets and the store's key (§C.4), kept answers that survive a
//! JWKS outage, codes released when Google never saw them, signing-key rotation, clock skew
//! (§B.12). SQLite is a real file in a temp dir; the tests read it through a second connection.
//! Run with `cargo test -p tokendesk-core --test desk`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod health;
mod http_log;
mod keys;
mod upgrade;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use google_emulator::{Emulator, Endpoint, Fault, IssuerMode, MintCode, UserSpec};
use tokendesk_core::desk::{
    AddClient, Desk, DeskError, DeskOptions, ExchangeReport, RefreshTokenView, RevealWhich,
    UserView,
};
use tokendesk_core::id_token::{IdTokenError, ManualClock};
use tokendesk_core::oauth::{HttpConfig, RedirectChoice, RetryPolicy};
use tokendesk_core::secret::AuthCode;
use tokendesk_core::store::{Exchange, ExchangeOutcome, Grant, RefreshTokenState, Store};
use tokendesk_core::vault::MemoryStore;

pub const ADA: &str = "ada@example.com";
pub const BOB: &str = "bob@example.com";

/// An emulator, a desk over a temp dir, an in-memory keyring and a clock the test moves, and
/// one client ("emu").
pub(crate) struct Fixture {
    pub emu: Emulator,
    pub dir: tempfile::TempDir,
    pub vault: Arc<MemoryStore>,
    pub clock: Arc<ManualClock>,
    pub desk: Arc<Desk>,
}

pub(crate) fn options(dir: &Path, clock: &Arc<ManualClock>, leeway: Duration) -> DeskOptions {
    DeskOptions {
        leeway,
        clock: Arc::clone(clock) as _,
        http: HttpConfig {
            // Retries in milliseconds, not seconds: the tests check what is retried, not how
            // long the backoff is (tests/oauth does).
            retry: RetryPolicy {
                base: Duration::from_millis(5),
                ..RetryPolicy::default()
            },
            timeout: Duration::from_secs(5),
            ..HttpConfig::default()
        },
        ..DeskOptions::new(dir)
    }
}

impl Fixture {
    pub async fn start() -> Self {
        Self::with_leeway(Duration::from_secs(60)).await
    }

    pub async fn with_leeway(leeway: Duration) -> Self {
        let emu = Emulator::builder()
            .issuer_mode(IssuerMode::Origin)
            .start()
            .await
            .expect("emulator starts");
        let dir = tempfile::tempdir().unwrap();
        let vault = Arc::new(MemoryStore::new());
        let clock = Arc::new(ManualClock::new(SystemTime::now()));
        let desk = Arc::new(
            Desk::open(&options(dir.path(), &clock, leeway), vault.clone())
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
        .expect("the emulator's client is added");
        Self {
            emu,
            dir,
            vault,
            clock,
            desk,
        }
    }

    /// Another desk on the same data directory and keyring: another process, or a restart.
    pub async fn reopen(&self) -> Desk {
        Desk::open(
            &options(self.dir.path(), &self.clock, Duration::from_secs(60)),
            self.vault.clone(),
        )
        .await
        .unwrap()
    }

    /// A serverAuthCode for `email`, as the iOS app would POST it.
    pub fn code(&self, email: &str) -> String {
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

    pub async fn exchange(&self, code: &str) -> Result<ExchangeReport, DeskError> {
        self.desk
            .exchange(None, AuthCode::new(code), RedirectChoice::Empty)
            .await
    }

    pub async fn refresh(&self, email: &str) -> Result<UserView, DeskError> {
        self.desk.refresh(email, None).await
    }

    /// POSTs the emulator's token endpoint has seen (exchanges and refreshes).
    pub fn token_posts(&self) -> u64 {
        self.emu.request_count(Endpoint::Token)
    }

    /// A second connection to the desk's SQLite file, to see what was committed.
    pub fn store(&self) -> Store {
        Store::open(self.dir.path().join("tokendesk.sqlite3")).unwrap()
    }

    pub fn grants(&self) -> Vec<Grant> {
        self.store().grants().list().unwrap()
    }

    pub fn exchange_row(&self, code: &str) -> Exchange {
        self.store().exchanges().by_code(code).unwrap().unwrap()
    }

    pub async fn has_user(&self, email: &str) -> bool {
        self.desk.user(email).await.is_ok()
    }
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
            view.refresh_token,
            RefreshTokenView::Present,
            "the shared result is the live grant"
        );
    }
    assert_eq!(
        f.token_posts() - before,
        1,
        "fifty concurrent refreshes of one grant must share one token request (a second one \
         would, with a rotating provider, be refresh-token reuse)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_right_after_the_exchange_still_reaches_google() {
    let f = Fixture::start().await;
    // The clock does not move: exchange and refresh at the same instant. A coalescing rule
    // built on timestamps would take the exchange for a finished refresh.
    f.exchange(&f.code(ADA)).await.unwrap();
    let sealed_before = f.grants()[0].access_token_sealed.clone();
    let before = f.token_posts();
    f.refresh(ADA).await.unwrap();
    assert_eq!(
        f.token_posts() - before,
        1,
        "an explicit refresh with nobody else refreshing must send the refresh token, not \
         report success for a refresh that never happened"
    );
    assert_ne!(
        f.grants()[0].access_token_sealed,
        sealed_before,
        "the refreshed access token is stored"
    );
}

// -------------------------------------------------------------------------------------------
// The 60 s freshness rule

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_access_token_is_used_until_a_minute_before_it_expires() {
    let f = Fixture::start().await;
    f.exchange(&f.code(ADA)).await.unwrap();
    let expires = f.grants()[0].access_token_expires_at.unwrap().unix();
    let now = |f: &Fixture| {
        use tokendesk_core::id_token::Clock as _;
        let since = f.clock.now().duration_since(std::time::UNIX_EPOCH).unwrap();
        i64::try_from(since.as_secs()).unwrap()
    };
    let before = f.token_posts();
    // 61 s left: the stored token serves Drive.
    f.clock.advance(Duration::from_secs(
        u64::try_from(expires - now(&f) - 61).unwrap(),
    ));
    f.desk.drive(ADA, None).await.unwrap();
    assert_eq!(f.token_posts(), before, "61 s left: no refresh");
    // 59 s left: refreshed first.
    f.clock.advance(Duration::from_secs(2));
    f.desk.drive(ADA, None).await.unwrap();
    assert_eq!(
        f.token_posts() - before,
        1,
        "59 s left is too close: the token could expire on its way to Drive"
    );
}

// -------------------------------------------------------------------------------------------
// Rotating refresh tokens (SECURITY §A.35, §B.2)

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotated_refresh_tokens_replace_the_spent_ones_without_reuse() {
    let f = Fixture::start().await;
    f.emu.set_refresh_rotation(true);
    f.exchange(&f.code(ADA)).await.unwrap();
    let mut seen = vec![f.grants()[0].refresh_token_sealed.clone()];
    for _ in 0..3 {
        f.refresh(ADA)
            .await
            .expect("each refresh sends the live token");
        let now = f.grants()[0].refresh_token_sealed.clone();
        assert!(!seen.contains(&now), "each rotation stores the new token");
        seen.push(now);
    }
    assert_eq!(
        f.emu.refresh_reuse_detections(),
        0,
        "no spent token was sent"
    );
}

// -------------------------------------------------------------------------------------------
// Kept answers: a JWKS outage or a crash loses nothing Google answered

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_rotation_inside_the_refetch_cooldown_defers_the_sign_in_and_it_finishes_later() {
    let f = Fixture::start().await;
    f.exchange(&f.code(ADA)).await.unwrap();
    let certs = f.emu.request_count(Endpoint::Certs);
    assert_eq!(certs, 1, "the first exchange fetched the JWKS");
    f.emu.rotate_keys().unwrap();

    // Within 30 s of that fetch the cache refuses to fetch again (kid-flood protection). The
    // code is already redeemed at Google: the answer is kept, the sign-in deferred.
    let code = f.code(BOB);
    let err = f.exchange(&code).await.unwrap_err();
    assert!(
        matches!(err, DeskError::VerificationDeferred { .. }),
        "{}: {err}",
        err.code()
    );
    assert!(
        !f.has_user(BOB).await,
        "no user before the token is verified"
    );
    let row = f.exchange_row(&code);
    assert_eq!(row.outcome, ExchangeOutcome::Pending);
    assert!(
        row.response_sealed.is_some(),
        "Google's answer is kept, sealed"
    );
    assert_eq!(
        f.exchange(&code).await.unwrap_err().code(),
        "verification_deferred",
        "the app's retry is told to come back, not that its code was spent"
    );

    f.clock.advance(Duration::from_secs(31));
    assert_eq!(f.desk.finish_deferred().await.unwrap(), 1);
    assert!(
        f.has_user(BOB).await,
        "the user appears without a new sign-in"
    );
    assert_eq!(
        f.emu.request_count(Endpoint::Certs),
        certs + 1,
        "one refetch for the unknown kid, none inside the cooldown"
    );
    let row = f.exchange_row(&code);
    assert_eq!(row.outcome, ExchangeOutcome::Succeeded);
    assert!(
        row.response_sealed.is_none(),
        "the kept copy goes once the grant holds it"
    );
    // ADA's refresh brings an ID token signed with the new key: verified from the cache.
    f.refresh(ADA).await.unwrap();
    assert_eq!(f.emu.request_count(Endpoint::Certs), certs + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jwks_outage_keeps_the_answer_and_the_next_start_finishes_the_sign_in() {
    let f = Fixture::start().await;
    f.emu
        .inject(Fault::new(Endpoint::Certs).status(503).times(1000));
    let code = f.code(ADA);
    let before = f.token_posts();
    let err = f.exchange(&code).await.unwrap_err();
    assert_eq!(err.code(), "verification_deferred", "{err}");
    assert_eq!(f.token_posts() - before, 1, "the code was redeemed once");
    assert!(!f.has_user(ADA).await);

    // Still down: a start leaves it kept.
    drop(f.reopen().await);
    assert!(!f.has_user(ADA).await);
    assert!(f.exchange_row(&code).response_sealed.is_some());

    f.emu.clear_faults();
    f.clock.advance(Duration::from_secs(31));
    let restarted = f.reopen().await;
    let user = restarted
        .user(ADA)
        .await
        .expect("the start finished the sign-in");
    assert_eq!(user.user.refresh_token, RefreshTokenView::Present);
    assert_eq!(f.token_posts() - before, 1, "the code was never sent again");
    restarted
        .refresh(ADA, None)
        .await
        .expect("and its refresh token works");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_id_token_is_not_kept() {
    let f = Fixture::start().await;
    f.emu.set_clock_offset(300);
    let code = f.code(ADA);
    let err = f.exchange(&code).await.unwrap_err();
    assert!(
        matches!(err, DeskError::IdToken(IdTokenError::IssuedInFuture { .. })),
        "iat five minutes in the future is refused as such: {}: {err}",
        err.code()
    );
    let row = f.exchange_row(&code);
    assert_eq!(
        (row.outcome, row.error_code.as_deref(), row.response_sealed),
        (ExchangeOutcome::Failed, Some("issued_in_future"), None),
        "a permanent refusal records why and keeps nothing of the answer"
    );
}

// -------------------------------------------------------------------------------------------
// Codes Google never saw are released (the app may send them again)

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_code_is_released_and_the_retry_is_exchanged() {
    let f = Fixture::start().await;
    f.emu
        .inject(Fault::new(Endpoint::Token).status(429).times(5));
    let code = f.code(ADA);
    let err = f.exchange(&code).await.unwrap_err();
    assert_eq!(err.code(), "rate_limited", "{err}");
    assert!(
        f.store().exchanges().by_code(&code).unwrap().is_none(),
        "Google never redeemed it: the claim is released"
    );
    f.exchange(&code)
        .await
        .expect("the same code, sent again, is exchanged");
    assert!(f.has_user(ADA).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_whose_answer_was_lost_stays_spent() {
    let f = Fixture::start().await;
    f.emu
        .inject(Fault::new(Endpoint::Token).drop_connection().times(1));
    let code = f.code(ADA);
    let err = f.exchange(&code).await.unwrap_err();
    assert_eq!(err.code(), "outcome_unknown", "{err}");
    assert_eq!(f.exchange_row(&code).outcome, ExchangeOutcome::Unknown);
    let before = f.token_posts();
    assert_eq!(
        f.exchange(&code).await.unwrap_err().code(),
        "already_exchanged",
        "Google may have redeemed it: sending it again could revoke what it issued"
    );
    assert_eq!(f.token_posts(), before);
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
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_id_token_from_five_minutes_ahead_is_refused_and_its_code_never_resent() {
    let f = Fixture::start().await;
    f.emu.set_clock_offset(300);
    let code = f.code(ADA);
    let err = f.exchange(&code).await.unwrap_err();
    assert_eq!(err.code(), "issued_in_future");
    assert!(
        err.to_string().contains("check this machine's clock"),
        "the message says what to check: {err}"
    );
    assert!(
        f.desk.users(None, 10).await.unwrap().is_empty(),
        "no user from an unverified token"
    );
    assert!(f.grants().is_empty(), "no token of it stored");
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
// What the user page shows of the ID token; reveal

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_user_keeps_how_its_id_token_was_verified_but_never_the_token() {
    let f = Fixture::start().await;
    f.exchange(&f.code(ADA)).await.unwrap();
    let record = f.desk.user(ADA).await.unwrap().id_token;
    let header = record.header.clone().expect("the header as verified");
    assert_eq!(header["alg"], "RS256");
    assert!(header["kid"].is_string(), "the key id is shown");
    assert!(record.valid);
    assert!(record.verified_at.is_some());
    let names: Vec<&str> = record.checks.iter().map(|c| c.name.as_str()).collect();
    for wanted in ["signature", "iss", "aud", "azp", "exp"] {
        assert!(
            names.contains(&wanted),
            "check {wanted} is listed: {names:?}"
        );
    }
    assert!(
        record.checks.iter().all(|c| c.ok),
        "every check passed for a token that was accepted: {:?}",
        record.checks
    );
    let text = serde_json::to_string(&record).unwrap();
    assert!(
        !text.contains("eyJ"),
        "no JWT segment (header, payload or signature) is stored: {text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reveal_that_cannot_be_audited_shows_nothing() {
    let f = Fixture::start().await;
    f.exchange(&f.code(ADA)).await.unwrap();
    let conn = rusqlite::Connection::open(f.dir.path().join("tokendesk.sqlite3")).unwrap();
    conn.execute_batch(
        "CREATE TRIGGER no_reveal BEFORE INSERT ON audit WHEN new.action = 'reveal'
         BEGIN SELECT RAISE(ABORT, 'the audit log refuses'); END;",
    )
    .unwrap();
    let err = f
        .desk
        .reveal(ADA, RevealWhich::AccessToken)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "audit_failed", "{err}");
    conn.execute_batch("DROP TRIGGER no_reveal").unwrap();
    let token = f.desk.reveal(ADA, RevealWhich::AccessToken).await.unwrap();
    assert!(!token.is_empty());
    let reveals = f
        .desk
        .user_audit(ADA, 10)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == tokendesk_core::store::AuditAction::Reveal)
        .count();
    assert_eq!(
        reveals, 1,
        "the successful reveal is audited, the refused one left no row"
    );

    f.desk.revoke(ADA, None).await.unwrap();
    let err = f
        .desk
        .reveal(ADA, RevealWhich::RefreshToken)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "token_missing", "{err}");
    let failed = f
        .desk
        .user_audit(ADA, 10)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| {
            e.action == tokendesk_core::store::AuditAction::Reveal
                && e.outcome == tokendesk_core::store::AuditOutcome::Failed
        })
        .count();
    assert_eq!(failed, 1, "a failed reveal is audited too");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_grant_holds_no_token() {
    let f = Fixture::start().await;
    f.exchange(&f.code(ADA)).await.unwrap();
    let report = f.desk.revoke(ADA, None).await.unwrap();
    assert_eq!(report.outcome, tokendesk_core::desk::RevokeResult::Revoked);
    let grant = &f.grants()[0];
    assert_eq!(grant.refresh_token, RefreshTokenState::Revoked);
    assert_eq!(
        (&grant.refresh_token_sealed, &grant.access_token_sealed),
        (&None, &None),
        "dead tokens are dropped"
    );
}
