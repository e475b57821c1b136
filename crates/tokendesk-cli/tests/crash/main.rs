//! Crash consistency of the first exchange (SECURITY §B.1) and of refreshes with a provider
//! that rotates refresh tokens (§B.2), through the real binary: the emulator in-process on
//! loopback, a real SQLite file, the real OS keyring (Secret Service; scripts/test runs this
//! inside a private D-Bus session with gnome-keyring).
//!
//! `tokendesk exchange CODE` is aborted at each persistence boundary of `Desk::exchange`
//! (`TOKENDESK_CRASH_AT`, see `desk::crash_point`); then ordinary processes open the store
//! (recovery runs in `Desk::open`) and the account must be whole, or never have existed:
//! never a refresh token lost once Google's answer is in (the answer is kept, sealed, with the
//! exchange, and recovery finishes the sign-in), never a grant without its refresh token, and
//! the code never sent to Google twice. Each point runs `TOKENDESK_CRASH_RUNS` times (default
//! 3; §B.1 asks for 100 in a long run). Tokens are sealed in the store: the keyring holds only
//! each store's key.
//!
//! Also here, because they need several real processes on one store: processes refreshing one
//! grant at once, and a process starting during another one's exchange.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::process::ExitStatusExt as _;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use google_emulator::{Emulator, Endpoint, Fault, IssuerMode, MintCode, UserSpec};
use serde_json::Value;
use tokendesk_core::store::{AuditAction, ExchangeOutcome, Store};
use tokendesk_core::vault::{BuildKind, OsKeyring};

/// `std::process::abort` ends the process with SIGABRT.
const SIGABRT: i32 = 6;

/// What recovery must leave after a crash at a point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Leaves {
    /// No user: the crash came before Google answered.
    NoUser,
    /// The user, complete, with a refresh token that works.
    Complete,
}

#[derive(Debug, Clone, Copy)]
struct Point {
    name: &'static str,
    /// Whether the code had reached Google when the process died.
    sent: bool,
    leaves: Leaves,
    /// The exchange's recorded outcome after recovery.
    outcome: ExchangeOutcome,
    /// Whether recovery had to finish the sign-in from the answer the exchange kept.
    finished_by_recovery: bool,
}

const AFTER_CLAIM: Point = Point {
    name: "after_claim",
    sent: false,
    leaves: Leaves::NoUser,
    outcome: ExchangeOutcome::Unknown,
    finished_by_recovery: false,
};
/// Right after Google's answer was kept (sealed, with the exchange), before its ID token was
/// verified: recovery verifies it and stores the user.
const AFTER_TOKEN_KEPT: Point = Point {
    name: "after_token_kept",
    sent: true,
    leaves: Leaves::Complete,
    outcome: ExchangeOutcome::Succeeded,
    finished_by_recovery: true,
};
const AFTER_COMMIT: Point = Point {
    name: "after_commit",
    sent: true,
    leaves: Leaves::Complete,
    outcome: ExchangeOutcome::Succeeded,
    finished_by_recovery: false,
};

struct Output {
    status: std::process::ExitStatus,
    stdout: String,
    stderr: String,
}

impl Output {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", self.stdout, self.stderr))
    }

    fn code(&self) -> Option<i32> {
        self.status.code()
    }

    fn error_code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

/// The emulator on a runtime of its own (it serves from the runtime's threads while the test
/// thread runs the binary).
struct Google {
    emu: Emulator,
    _rt: tokio::runtime::Runtime,
}

impl Google {
    fn start() -> Self {
        assert!(
            std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
            "these tests use the real keyring: run them through ./scripts/test (a private D-Bus \
             session with gnome-keyring)"
        );
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let emu = rt
            .block_on(Emulator::builder().issuer_mode(IssuerMode::Origin).start())
            .unwrap();
        // Each store's key goes there: it must be reachable before anything is tested.
        OsKeyring::open(BuildKind::Test).expect("the test keyring opens");
        Self { emu, _rt: rt }
    }

    /// A code and the user's `sub`, as the iOS app's sign-in would produce them.
    fn mint(&self, email: &str) -> (String, String) {
        let spec = MintCode {
            user: UserSpec {
                email: email.to_owned(),
                name: Some("Crash Test".to_owned()),
                ..UserSpec::default()
            },
            ..MintCode::default()
        };
        self.emu.mint_code(&spec).expect("code minted")
    }

    fn token_posts(&self) -> u64 {
        self.emu.request_count(Endpoint::Token)
    }

    /// Whether Google accepts `refresh_token` (a real refresh over loopback).
    fn refresh_works(&self, refresh_token: &str) -> bool {
        let client = self.emu.web_client();
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", client.client_id.as_str()),
            ("client_secret", client.client_secret.as_str()),
        ];
        let url = format!("{}/token", self.emu.base_url());
        self._rt.block_on(async {
            reqwest::Client::new()
                .post(url)
                .form(&form)
                .send()
                .await
                .expect("the emulator answers")
                .status()
                .is_success()
        })
    }
}

/// One data directory: what one machine's TokenDesk sees.
struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new(google: &Google) -> Self {
        let home = Self {
            dir: tempfile::tempdir().unwrap(),
        };
        let cs = home.dir.path().join("cs.json");
        std::fs::write(&cs, google.emu.client_secret_json().to_string()).unwrap();
        let base = google.emu.base_url();
        let out = home.run(
            &[
                "client",
                "add",
                "--name",
                "emu",
                "--secrets",
                cs.to_str().unwrap(),
                "--issuer",
                base,
                "--api-base",
                base,
                "--ios-client-id",
                google.emu.ios_client_id(),
            ],
            None,
        );
        assert_eq!(out.code(), Some(0), "client add: {}", out.stderr);
        home
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// Runs `tokendesk ARGS`, aborting at `crash_at` if given. The working directory is the
    /// temp dir, so a core dump (where enabled) lands there and goes with it.
    fn run(&self, args: &[&str], crash_at: Option<&str>) -> Output {
        let mut cmd = self.command(args);
        if let Some(point) = crash_at {
            cmd.env("TOKENDESK_CRASH_AT", point);
        }
        let out = cmd.output().unwrap();
        Output {
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// `tokendesk ARGS` on this home and the test keyring, crashing nowhere.
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tokendesk"));
        cmd.args(args)
            .current_dir(self.dir.path())
            .env("TOKENDESK_HOME", self.data_dir())
            .env("TOKENDESK_KEYRING", "test")
            .env("NO_PROXY", "127.0.0.1")
            .env_remove("TOKENDESK_CRASH_AT");
        cmd
    }

    /// Starts `tokendesk ARGS` without waiting for it.
    fn spawn(&self, args: &[&str]) -> std::process::Child {
        self.command(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// The store as the last process left it (a reader only: this does not run recovery).
    fn store(&self) -> Store {
        Store::open(self.data_dir().join("tokendesk.sqlite3")).unwrap()
    }
}

fn runs() -> usize {
    std::env::var("TOKENDESK_CRASH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
}

fn crash_and_recover(google: &Google, point: Point, run: usize) {
    let ctx = format!("{} run {run}", point.name);
    let home = Home::new(google);
    let email = format!("{}-{run}@example.com", point.name.replace('_', "-"));
    let (code, sub) = google.mint(&email);

    // The crash.
    let posts = google.token_posts();
    let crashed = home.run(&["--json", "exchange", &code], Some(point.name));
    assert_eq!(
        crashed.status.signal(),
        Some(SIGABRT),
        "{ctx}: the exchange must die at its crash point, else nothing was tested (status \
         {:?}, stderr {})",
        crashed.status,
        crashed.stderr
    );
    assert!(
        crashed.stdout.trim().is_empty(),
        "{ctx}: a crashed exchange reports nothing: {}",
        crashed.stdout
    );
    assert_eq!(
        google.token_posts() - posts,
        u64::from(point.sent),
        "{ctx}: the code reached Google only if the crash came after sending it"
    );
    let before_recovery = home.store().exchanges().by_code(&code).unwrap();
    let expected_before =
        if point.outcome == ExchangeOutcome::Succeeded && !point.finished_by_recovery {
            ExchangeOutcome::Succeeded
        } else {
            ExchangeOutcome::Pending
        };
    assert_eq!(
        before_recovery.as_ref().map(|e| e.outcome),
        Some(expected_before),
        "{ctx}: the code was claimed before anything else, so the crash left it recorded"
    );
    assert_eq!(
        before_recovery.is_some_and(|e| e.response_sealed.is_some()),
        point.finished_by_recovery,
        "{ctx}: Google's answer is kept with the exchange from the moment it arrived"
    );

    // The next ordinary process: `Desk::open` recovers.
    let users = home.run(&["--json", "users"], None);
    assert_eq!(users.code(), Some(0), "{ctx}: users: {}", users.stderr);
    let listed = users.json()["users"].as_array().unwrap().clone();
    let user = home.run(&["--json", "user", &email], None);
    match point.leaves {
        Leaves::NoUser => {
            assert!(
                listed.is_empty(),
                "{ctx}: nothing about the user was committed: {listed:?}"
            );
            assert_eq!(user.code(), Some(3), "{ctx}: {}", user.stdout);
            assert_eq!(user.error_code(), "user_not_found", "{ctx}");
        }
        Leaves::Complete => {
            assert_eq!(listed.len(), 1, "{ctx}: {listed:?}");
            assert_eq!(user.code(), Some(0), "{ctx}: user: {}", user.stderr);
            let user = user.json();
            assert_eq!(user["sub"], sub.as_str(), "{ctx}: the user is keyed on sub");
            assert_eq!(user["email"], email.as_str(), "{ctx}");
            assert_eq!(user["refresh_token"], "present", "{ctx}");
        }
    }

    // The exchange's record, and recovery's audit entry.
    let store = home.store();
    let exchange = store.exchanges().by_code(&code).unwrap().unwrap();
    assert_eq!(
        exchange.outcome, point.outcome,
        "{ctx}: an exchange interrupted before Google answered is recorded as outcome unknown \
         (the code may have been redeemed); one whose answer was kept is finished"
    );
    assert!(
        exchange.response_sealed.is_none(),
        "{ctx}: no answer is left kept once recovery ran"
    );
    if point.outcome == ExchangeOutcome::Unknown {
        assert_eq!(exchange.error_code.as_deref(), Some("interrupted"), "{ctx}");
    }
    let audit = home.run(&["--json", "audit", "--limit", "200"], None);
    assert_eq!(audit.code(), Some(0), "{ctx}: audit: {}", audit.stderr);
    let recoveries: Vec<String> = audit.json()["audit"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "recover")
        .map(|e| e["detail"].as_str().unwrap_or_default().to_owned())
        .collect();
    let expected_recovery = match (point.outcome, point.finished_by_recovery) {
        (ExchangeOutcome::Unknown, _) => Some("an interrupted exchange marked unknown"),
        (_, true) => Some("1 kept exchange(s) finished"),
        _ => None,
    };
    match expected_recovery {
        Some(text) => assert!(
            recoveries.iter().any(|d| d.starts_with(text)),
            "{ctx}: recovery is audited: {recoveries:?}"
        ),
        None => assert!(
            recoveries.is_empty(),
            "{ctx}: nothing was interrupted, nothing recovered: {recoveries:?}"
        ),
    }

    // A complete grant holds its refresh token (sealed in its row: one transaction).
    let grants = store.grants().list().unwrap();
    match point.leaves {
        Leaves::NoUser => assert!(grants.is_empty(), "{ctx}: {grants:?}"),
        Leaves::Complete => {
            assert_eq!(grants.len(), 1, "{ctx}");
            assert!(
                grants[0].refresh_token_sealed.is_some(),
                "{ctx}: the grant holds its refresh token"
            );
        }
    }
    drop(store);

    // Refresh: the refresh token Google answered works.
    let posts = google.token_posts();
    let refresh = home.run(&["--json", "refresh", &email], None);
    match point.leaves {
        Leaves::NoUser => {
            assert_eq!(refresh.error_code(), "user_not_found", "{ctx}");
            assert_eq!(google.token_posts(), posts, "{ctx}");
        }
        Leaves::Complete => {
            assert_eq!(
                refresh.code(),
                Some(0),
                "{ctx}: the refresh token survived the crash: {}",
                refresh.stdout
            );
            assert_eq!(
                google.token_posts() - posts,
                1,
                "{ctx}: the refresh token was sent to Google and accepted"
            );
        }
    }

    // The same code again: refused before reaching Google.
    let posts = google.token_posts();
    let replay = home.run(&["--json", "exchange", &code], None);
    assert_eq!(
        replay.code(),
        Some(4),
        "{ctx}: the replay is refused: {}",
        replay.stdout
    );
    assert_eq!(replay.error_code(), "already_exchanged", "{ctx}");
    assert_eq!(
        google.token_posts(),
        posts,
        "{ctx}: a code the crashed process may have redeemed is never sent again"
    );

    // What the messages advise: a new sign-in makes the account whole, whatever the crash left.
    let (fresh, _) = google.mint(&email);
    let again = home.run(&["--json", "exchange", &fresh], None);
    assert_eq!(again.code(), Some(0), "{ctx}: new code: {}", again.stdout);
    assert_eq!(again.json()["user"]["refresh_token"], "present", "{ctx}");
}

fn crash_at(point: Point) {
    let google = Google::start();
    for run in 0..runs() {
        crash_and_recover(&google, point, run);
    }
}

#[test]
fn crash_after_claim_leaves_no_user_and_the_code_unsent() {
    crash_at(AFTER_CLAIM);
}

#[test]
fn crash_right_after_the_answer_is_finished_by_recovery() {
    crash_at(AFTER_TOKEN_KEPT);
}

#[test]
fn crash_after_commit_leaves_a_complete_user() {
    crash_at(AFTER_COMMIT);
}

/// The hook is inert unless asked for: an unknown point name crashes nothing.
#[test]
fn an_unknown_crash_point_name_changes_nothing() {
    let google = Google::start();
    let home = Home::new(&google);
    let (code, _) = google.mint("no-crash@example.com");
    let out = home.run(&["--json", "exchange", &code], Some("no_such_point"));
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.json()["user"]["refresh_token"], "present");
}

/// The refresh crash points of `Desk::refresh`: before the token is sent, after a rotated
/// refresh token was stored (sealed, committed), after the whole refresh committed.
const REFRESH_POINTS: [&str; 3] = [
    "refresh_before_send",
    "refresh_after_rt_commit",
    "refresh_after_commit",
];

/// A small xorshift: the kills are random but a failing run can be replayed from its seed
/// (`TOKENDESK_CRASH_SEED`).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap()
    }
}

/// SECURITY §B.2: with a provider that rotates refresh tokens and punishes reuse (Keycloak),
/// many refreshes with random kills at the refresh crash points never make TokenDesk present
/// a spent refresh token, and the last refresh token still works. 40 refreshes by default;
/// 1,000 when `TOKENDESK_CRASH_RUNS` asks for a long run (100 or more).
#[test]
fn rotating_refresh_tokens_survive_random_kills() {
    let google = Google::start();
    google.emu.set_refresh_rotation(true);
    let home = Home::new(&google);
    let email = "rotation@example.com";
    let (code, _) = google.mint(email);
    let signed_in = home.run(&["--json", "exchange", &code], None);
    assert_eq!(signed_in.code(), Some(0), "exchange: {}", signed_in.stdout);

    let refreshes = if runs() >= 100 { 1000 } else { 40 };
    let seed = std::env::var("TOKENDESK_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos();
            u64::from(nanos) | 1
        });
    let mut rng = Rng(seed);
    let posts = google.token_posts();
    let mut kills = 0;
    for i in 0..refreshes {
        let ctx = format!("refresh {i} (TOKENDESK_CRASH_SEED={seed})");
        // Half the refreshes are killed, at a random point of the three.
        let point = (rng.below(2) == 0).then(|| REFRESH_POINTS[rng.below(REFRESH_POINTS.len())]);
        let out = home.run(&["--json", "refresh", email], point);
        match point {
            Some(point) => {
                assert_eq!(
                    out.status.signal(),
                    Some(SIGABRT),
                    "{ctx}: the refresh must die at {point}: {} {}",
                    out.stdout,
                    out.stderr
                );
                kills += 1;
            }
            None => {
                assert_eq!(out.code(), Some(0), "{ctx}: {} {}", out.stdout, out.stderr);
                assert_eq!(out.json()["refresh_token"], "present", "{ctx}");
            }
        }
        assert_eq!(
            google.emu.refresh_reuse_detections(),
            0,
            "{ctx}: TokenDesk presented a refresh token it had already spent (after {point:?})"
        );
    }
    assert!(kills > 0, "random kills happened ({kills} of {refreshes})");
    assert!(
        google.token_posts() - posts >= (refreshes - kills) as u64,
        "the refreshes reached Google"
    );

    // The last refresh token works, through TokenDesk and as stored.
    let last = home.run(&["--json", "refresh", email], None);
    assert_eq!(
        last.code(),
        Some(0),
        "final refresh: {} {}",
        last.stdout,
        last.stderr
    );
    assert_eq!(google.emu.refresh_reuse_detections(), 0, "seed {seed}");
    let revealed = home.run(&["--json", "user", email, "--reveal"], None);
    let rt = revealed.json()["refresh_token_value"]
        .as_str()
        .map(str::to_owned)
        .expect("the stored refresh token can be revealed");
    assert!(
        google.refresh_works(&rt),
        "the stored refresh token is the live one (seed {seed})"
    );
}

fn finish(child: Child) -> Output {
    let out = child.wait_with_output().unwrap();
    Output {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The CLI, the receiver and the desktop window share one store: several processes refreshing
/// one grant at once, with a provider that rotates refresh tokens and a slow token endpoint
/// (so their requests would overlap), never present a refresh token another one has spent.
/// Without a lock across processes each would send the token it read, and the provider would
/// kill the grant at the second.
#[test]
fn processes_refreshing_one_grant_at_once_never_reuse_a_rotated_token() {
    let google = Google::start();
    google.emu.set_refresh_rotation(true);
    let home = Home::new(&google);
    let email = "together@example.com";
    let (code, _) = google.mint(email);
    let signed_in = home.run(&["--json", "exchange", &code], None);
    assert_eq!(signed_in.code(), Some(0), "exchange: {}", signed_in.stdout);

    const ROUNDS: usize = 4;
    const PROCESSES: usize = 4;
    let posts = google.token_posts();
    for round in 0..ROUNDS {
        google.emu.inject(
            Fault::new(Endpoint::Token)
                .times(u32::try_from(PROCESSES).unwrap())
                .latency(Duration::from_millis(400)),
        );
        let children: Vec<Child> = (0..PROCESSES)
            .map(|_| home.spawn(&["--json", "refresh", email]))
            .collect();
        for (i, child) in children.into_iter().enumerate() {
            let out = finish(child);
            assert_eq!(
                out.code(),
                Some(0),
                "round {round}, process {i}: {} {}",
                out.stdout,
                out.stderr
            );
            assert_eq!(
                out.json()["refresh_token"],
                "present",
                "round {round}, process {i}"
            );
        }
        assert_eq!(
            google.emu.refresh_reuse_detections(),
            0,
            "round {round}: a process presented a refresh token another had spent"
        );
    }
    let sent = google.token_posts() - posts;
    println!(
        "{} refresh processes sent {sent} token requests",
        ROUNDS * PROCESSES
    );
    assert!(
        (1..=(ROUNDS * PROCESSES) as u64).contains(&sent),
        "every process refreshed at most once ({sent} requests)"
    );

    // The stored refresh token is the live one.
    let revealed = home.run(&["--json", "user", email, "--reveal"], None);
    let rt = revealed.json()["refresh_token_value"]
        .as_str()
        .map(str::to_owned)
        .expect("the stored refresh token can be revealed");
    assert!(google.refresh_works(&rt), "the stored refresh token works");
    assert_eq!(google.emu.refresh_reuse_detections(), 0);
}

/// A process that starts while another one is exchanging a code (the receiver taking a
/// sign-in while someone runs `tokendesk users`) must not take that exchange for one a crash
/// interrupted: it stays the other process's, and ends as that process makes it end.
#[test]
fn a_process_starting_during_another_ones_exchange_leaves_it_alone() {
    let google = Google::start();
    let home = Home::new(&google);
    let email = "meanwhile@example.com";
    let (code, _) = google.mint(email);
    google.emu.inject(
        Fault::new(Endpoint::Token)
            .times(1)
            .latency(Duration::from_millis(1500)),
    );
    let exchanging = home.spawn(&["--json", "exchange", &code]);

    // Wait until the code is claimed (the row is pending: the request is at Google).
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let row = home.store().exchanges().by_code(&code).unwrap();
        if row.is_some_and(|ex| ex.outcome == ExchangeOutcome::Pending) {
            break;
        }
        assert!(Instant::now() < deadline, "the exchange never got claimed");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Another process opens the store meanwhile (recovery runs on every open).
    let other = home.run(&["--json", "users"], None);
    assert_eq!(
        other.code(),
        Some(0),
        "users: {} {}",
        other.stdout,
        other.stderr
    );
    let meanwhile = home.store().exchanges().by_code(&code).unwrap().unwrap();
    assert_eq!(
        meanwhile.outcome,
        ExchangeOutcome::Pending,
        "the live exchange was not taken for an interrupted one"
    );

    let out = finish(exchanging);
    assert_eq!(
        out.code(),
        Some(0),
        "exchange: {} {}",
        out.stdout,
        out.stderr
    );
    assert_eq!(out.json()["user"]["refresh_token"], "present");
    let store = home.store();
    assert_eq!(
        store.exchanges().by_code(&code).unwrap().unwrap().outcome,
        ExchangeOutcome::Succeeded
    );
    let recoveries: Vec<_> = store
        .audit()
        .recent(100)
        .unwrap()
        .into_iter()
        .filter(|e| e.action == AuditAction::Recover)
        .collect();
    assert!(
        recoveries.is_empty(),
        "no recovery ran on a live exchange: {recoveries:?}"
    );
}
