//! The real OS keyring: Secret Service from gnome-keyring, each test in a private D-Bus session
//! it starts itself, so a developer's own keyring is never touched and no test passes on a mock.

// Each test re-runs itself (this binary, `--exact <test>`) under `dbus-run-session` with a fresh
// `XDG_DATA_HOME`, in the session shape it needs: unlocked, locked, no Secret Service, no bus.
// Needs `dbus` and `gnome-keyring` (`apt-get install -y dbus gnome-keyring`). Run with
// `cargo test -p tokendesk-core --test vault`, or inside an existing private session with
// `TOKENDESK_PRIVATE_KEYRING=unlocked XDG_DATA_HOME=$(mktemp -d) dbus-run-session -- sh -c
// 'echo -n ci | gnome-keyring-daemon --unlock --components=secrets >/dev/null; exec cargo test
// -p tokendesk-core --test vault'` (then the unlocked tests share that session's keyring).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use tokendesk_core::vault::{BuildKind, OsKeyring, SecretKey, SecretStore, VaultError};

/// Set in a child to the session it runs in; absent in the parent test run.
const MARKER: &str = "TOKENDESK_PRIVATE_KEYRING";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Session {
    /// gnome-keyring running, login keyring created and unlocked with a known password.
    Unlocked,
    /// gnome-keyring running with a login keyring that nobody unlocked (and no display to
    /// prompt on).
    Locked,
    /// A session bus on which nothing provides org.freedesktop.secrets.
    NoSecretService,
    /// No session bus at all.
    NoBus,
}

impl Session {
    fn name(self) -> &'static str {
        match self {
            Session::Unlocked => "unlocked",
            Session::Locked => "locked",
            Session::NoSecretService => "no-secret-service",
            Session::NoBus => "no-bus",
        }
    }
}

/// In the parent: runs `test` again in a child inside `session`, asserts that it ran and
/// passed, and returns false. In that child: returns true, and the test's body runs.
fn inside(session: Session, test: &str) -> bool {
    if std::env::var(MARKER).ok().as_deref() == Some(session.name()) {
        return true;
    }
    run_child(session, test);
    false
}

fn run_child(session: Session, test: &str) {
    let exe = std::env::current_exe().unwrap();
    let data_home = tempfile::tempdir().unwrap();
    let mut runtime_dir = tempfile::tempdir().unwrap();
    let test_args = [test, "--exact", "--nocapture", "--test-threads=1"];

    let mut cmd = match session {
        Session::NoBus => {
            let mut cmd = Command::new(&exe);
            cmd.args(test_args)
                .env_remove("DBUS_SESSION_BUS_ADDRESS")
                // zbus falls back to $XDG_RUNTIME_DIR/bus: make sure there is none.
                .env("XDG_RUNTIME_DIR", runtime_dir.path());
            cmd
        }
        Session::NoSecretService => {
            let config = runtime_dir.path().join("bus.conf");
            std::fs::write(&config, bare_bus_config(runtime_dir.path())).unwrap();
            let mut cmd = dbus_run_session(Some(&config));
            cmd.args(["sh", "-c", "exec \"$0\" \"$@\""])
                .arg(&exe)
                .args(test_args);
            cmd
        }
        Session::Unlocked => {
            let mut cmd = dbus_run_session(None);
            cmd.args([
                "sh",
                "-c",
                &format!(
                    "echo -n ci | gnome-keyring-daemon --unlock --components=secrets >/dev/null \
                     && {WAIT_FOR_SECRET_SERVICE}; exec \"$0\" \"$@\""
                ),
            ])
            .arg(&exe)
            .args(test_args);
            cmd
        }
        Session::Locked => {
            // First session: create the login keyring (password "ci"), then stop the daemon
            // ourselves: one started and abandoned this quickly outlives its session.
            let status = dbus_run_session(None)
                .args([
                    "sh",
                    "-c",
                    "echo -n ci | gnome-keyring-daemon --foreground --unlock \
                     --components=secrets >/dev/null 2>&1 & daemon=$!; \
                     for _ in $(seq 100); do \
                       [ -s \"$XDG_DATA_HOME/keyrings/login.keyring\" ] && break; sleep 0.1; \
                     done; kill $daemon; wait $daemon; \
                     [ -s \"$XDG_DATA_HOME/keyrings/login.keyring\" ]",
                ])
                .env("XDG_DATA_HOME", data_home.path())
                .env("XDG_RUNTIME_DIR", runtime_dir.path())
                .status()
                .expect(INSTALL_HINT);
            assert!(status.success(), "creating the login keyring failed");
            // Second session: the daemon starts with that keyring locked. A new runtime dir,
            // or it finds the first daemon's control socket and defers to it.
            runtime_dir = tempfile::tempdir().unwrap();
            let mut cmd = dbus_run_session(None);
            cmd.args([
                "sh",
                "-c",
                &format!(
                    "gnome-keyring-daemon --start --components=secrets >/dev/null \
                     && {WAIT_FOR_SECRET_SERVICE}; exec \"$0\" \"$@\""
                ),
            ])
            .arg(&exe)
            .args(test_args);
            cmd
        }
    };
    if session != Session::NoBus {
        cmd.env("XDG_DATA_HOME", data_home.path())
            .env("XDG_RUNTIME_DIR", runtime_dir.path())
            // gnome-keyring must not find a display to prompt on.
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY");
    }
    let output = cmd
        .env(MARKER, session.name())
        .output()
        .expect(INSTALL_HINT);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "`{test}` in a {} session failed (status {}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        session.name(),
        output.status
    );
}

/// The daemon forks before it owns org.freedesktop.secrets; a call before that would make
/// D-Bus activate a second, locked daemon. Waits up to 10 s.
const WAIT_FOR_SECRET_SERVICE: &str = "for _ in $(seq 100); do \
     dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
       org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null \
       | grep -q 'boolean true' && break; sleep 0.1; done";

const INSTALL_HINT: &str = "the keyring tests need dbus-run-session and gnome-keyring-daemon: \
     apt-get install -y dbus gnome-keyring";

fn dbus_run_session(config: Option<&Path>) -> Command {
    let mut cmd = Command::new("dbus-run-session");
    if let Some(config) = config {
        cmd.arg(format!("--config-file={}", config.display()));
    }
    cmd.arg("--");
    cmd
}

/// A session bus with no service directories: nothing can be activated, so the Secret
/// Service name has no owner.
fn bare_bus_config(dir: &Path) -> String {
    format!(
        r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
        dir.display()
    )
}

fn keyring() -> OsKeyring {
    OsKeyring::open(BuildKind::Test).expect("the private session has an unlocked keyring")
}

fn key(owner: &str, version: u32) -> SecretKey {
    SecretKey::refresh_token(owner, version).unwrap()
}

/// Reads an item straight from the Secret Service over a new D-Bus connection, bypassing
/// keyring-core: proof that a value is really in gnome-keyring, not in some process memory.
fn read_from_secret_service(key: &SecretKey) -> Option<String> {
    use secret_service::EncryptionType;
    use secret_service::blocking::SecretService;
    let ss = SecretService::connect(EncryptionType::Dh).unwrap();
    let attributes = HashMap::from([
        ("service", BuildKind::Test.service()),
        ("username", key.as_str()),
    ]);
    let found = ss.search_items(attributes).unwrap();
    let item = found.unlocked.first()?;
    Some(String::from_utf8(item.get_secret().unwrap()).unwrap())
}

#[test]
fn set_get_delete_round_trip_lands_in_the_secret_service() {
    if !inside(
        Session::Unlocked,
        "set_get_delete_round_trip_lands_in_the_secret_service",
    ) {
        return;
    }
    let vault = keyring();
    let k = key("g_roundtrip", 1);
    vault.set(&k, "1//refresh-round-trip").unwrap();

    assert_eq!(
        read_from_secret_service(&k).as_deref(),
        Some("1//refresh-round-trip"),
        "the value must be in gnome-keyring itself under service tokendesk.test"
    );
    let fresh = keyring();
    assert_eq!(
        fresh.get(&k).unwrap().as_deref().map(String::as_str),
        Some("1//refresh-round-trip"),
        "a second, fresh connection reads it back"
    );

    assert!(
        vault.delete(&k).unwrap(),
        "delete reports it removed something"
    );
    assert_eq!(
        read_from_secret_service(&k),
        None,
        "gone from the Secret Service"
    );
    assert!(fresh.get(&k).unwrap().is_none());
    assert!(
        !vault.delete(&k).unwrap(),
        "deleting an absent entry is not an error, and says so"
    );
}

#[test]
fn an_absent_entry_is_none() {
    if !inside(Session::Unlocked, "an_absent_entry_is_none") {
        return;
    }
    let got = keyring().get(&key("g_never_written", 1));
    assert!(
        matches!(got, Ok(None)),
        "NoEntry is Ok(None), so absence is never mistaken for failure: {got:?}"
    );
}

#[test]
fn overwrite_replaces_without_duplicates() {
    if !inside(Session::Unlocked, "overwrite_replaces_without_duplicates") {
        return;
    }
    let vault = keyring();
    let k = key("g_overwrite", 1);
    vault.set(&k, "first").unwrap();
    vault.set(&k, "second").unwrap();
    assert_eq!(
        vault.get(&k).unwrap().as_deref().map(String::as_str),
        Some("second")
    );
    let mine: Vec<SecretKey> = vault
        .list()
        .unwrap()
        .unwrap()
        .into_iter()
        .filter(|listed| listed.owner() == "g_overwrite")
        .collect();
    assert_eq!(
        mine,
        vec![k.clone()],
        "an overwrite must not leave two items (that would make later reads Ambiguous)"
    );
}

#[test]
fn a_ten_kilobyte_value_round_trips_whole() {
    if !inside(Session::Unlocked, "a_ten_kilobyte_value_round_trips_whole") {
        return;
    }
    let vault = keyring();
    let k = SecretKey::access_token("g_big", 1).unwrap();
    let value: String = (0..10 * 1024)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    vault.set(&k, &value).unwrap();
    let back = keyring().get(&k).unwrap().unwrap();
    assert_eq!(back.len(), 10 * 1024, "no truncation on the Secret Service");
    assert_eq!(back.as_str(), value);
}

#[test]
fn unicode_values_round_trip() {
    if !inside(Session::Unlocked, "unicode_values_round_trip") {
        return;
    }
    let vault = keyring();
    let k = SecretKey::client_secret("c_unicode", 1).unwrap();
    let value = "GOCSPX-ñandú-日本語-😀-\u{200d}-end";
    vault.set(&k, value).unwrap();
    assert_eq!(read_from_secret_service(&k).as_deref(), Some(value));
    assert_eq!(
        keyring().get(&k).unwrap().as_deref().map(String::as_str),
        Some(value)
    );
}

#[test]
fn listing_sees_only_our_entries() {
    if !inside(Session::Unlocked, "listing_sees_only_our_entries") {
        return;
    }
    let vault = keyring();
    vault.set(&key("g_a", 1), "referenced").unwrap();
    vault.set(&key("g_a", 2), "rotated, not committed").unwrap();
    vault.set(&key("g_gone", 1), "orphan").unwrap();
    // Someone else's items: another service, and ours with a name we never write.
    {
        use secret_service::EncryptionType;
        use secret_service::blocking::SecretService;
        let ss = SecretService::connect(EncryptionType::Dh).unwrap();
        let collection = ss.get_default_collection().unwrap();
        for (service, user) in [("other-app", "refresh/g_a/v9"), ("tokendesk.test", "notes")] {
            collection
                .create_item(
                    "foreign",
                    HashMap::from([("service", service), ("username", user)]),
                    b"not ours",
                    true,
                    "text/plain",
                )
                .unwrap();
        }
    }

    // Other tests may share this keyring (when run inside one session): look at ours only.
    let ours = |keys: Vec<SecretKey>| -> Vec<SecretKey> {
        keys.into_iter()
            .filter(|k| ["g_a", "g_gone"].contains(&k.owner()))
            .collect()
    };
    let listed = ours(
        vault
            .list()
            .unwrap()
            .expect("the Secret Service can enumerate"),
    );
    assert_eq!(
        listed,
        vec![key("g_a", 1), key("g_a", 2), key("g_gone", 1)],
        "only well-formed keys under our service are ours"
    );
}

#[test]
fn a_locked_keyring_is_an_error_that_says_unlock() {
    if !inside(
        Session::Locked,
        "a_locked_keyring_is_an_error_that_says_unlock",
    ) {
        return;
    }
    let vault = OsKeyring::open(BuildKind::Test).expect("the daemon is there, only locked");
    let err = vault
        .set(&key("g_locked", 1), "1//must-not-land-anywhere")
        .unwrap_err();
    assert!(
        matches!(err, VaultError::Locked | VaultError::PromptDismissed),
        "a locked keyring fails closed with its own error: {err:?}"
    );
    let message = err.to_string();
    assert!(message.contains("unlock your login keyring"), "{message}");
    assert!(
        !message.contains("must-not-land"),
        "never the secret: {message}"
    );
}

#[test]
fn no_secret_service_on_the_bus_says_start_one() {
    if !inside(
        Session::NoSecretService,
        "no_secret_service_on_the_bus_says_start_one",
    ) {
        return;
    }
    let err = OsKeyring::open(BuildKind::Test)
        .and_then(|vault| vault.set(&key("g_none", 1), "x"))
        .unwrap_err();
    assert!(
        matches!(err, VaultError::NoSecretService),
        "a bus without org.freedesktop.secrets is NoSecretService: {err:?}"
    );
    let message = err.to_string();
    assert!(message.contains("start gnome-keyring"), "{message}");
    assert!(message.contains("KeePassXC"), "{message}");
    assert_eq!(err.code(), "keyring_no_secret_service");
}

#[test]
fn no_session_bus_is_an_actionable_error() {
    if !inside(Session::NoBus, "no_session_bus_is_an_actionable_error") {
        return;
    }
    assert!(std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none());
    let err = OsKeyring::open(BuildKind::Test).unwrap_err();
    assert!(
        matches!(err, VaultError::NoSessionBus),
        "without a bus the error names the bus, not a generic platform failure: {err:?}"
    );
    let message = err.to_string();
    assert!(message.contains("D-Bus session bus"), "{message}");
    assert!(message.contains("dbus-run-session"), "{message}");
    assert_eq!(err.code(), "keyring_no_session_bus");
}
