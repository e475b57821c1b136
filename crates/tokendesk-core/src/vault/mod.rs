//! The OS keyring, behind a small trait: it holds each embedded store's key-encryption key
//! (`store-key/...`), and is read once more to move a 0.1 store's per-token entries into the
//! store. A locked or missing keyring is an error, never plaintext.

mod memory;
mod os_keyring;

use std::fmt;

use zeroize::Zeroizing;

pub use memory::MemoryStore;
pub use os_keyring::{BuildKind, OsKeyring};

/// Where a secret lives in the keyring: `store-key/<store>-<key>/v1` (a store's
/// key-encryption key), and in 0.1 stores `refresh/<grant>/v<N>`, `access/<grant>/v<N>`,
/// `client-secret/<client>/v<N>` or `exchange-refresh/<exchange>/v<N>`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SecretKey(String);

/// What a [`SecretKey`] holds, i.e. its first path segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretKind {
    RefreshToken,
    AccessToken,
    ClientSecret,
    /// A refresh token kept from a token response the moment it arrived, owned by the exchange
    /// (the code's row), until the verified grant holds it.
    ExchangeRefreshToken,
    /// A store's key-encryption key (owner: the store's id and the key's id).
    StoreKey,
    /// A staff member's session on a team server, from `tokendesk --server URL login`
    /// (owner: a digest of the server's URL).
    ServerSession,
}

impl SecretKind {
    fn prefix(self) -> &'static str {
        match self {
            SecretKind::RefreshToken => "refresh",
            SecretKind::AccessToken => "access",
            SecretKind::ClientSecret => "client-secret",
            SecretKind::ExchangeRefreshToken => "exchange-refresh",
            SecretKind::StoreKey => "store-key",
            SecretKind::ServerSession => "server-session",
        }
    }

    fn from_prefix(prefix: &str) -> Option<Self> {
        [
            SecretKind::RefreshToken,
            SecretKind::AccessToken,
            SecretKind::ClientSecret,
            SecretKind::ExchangeRefreshToken,
            SecretKind::StoreKey,
            SecretKind::ServerSession,
        ]
        .into_iter()
        .find(|kind| kind.prefix() == prefix)
    }
}

impl SecretKey {
    /// The key of version `version` of a secret of `kind` owned by `owner` (a grant or client
    /// uid from the store).
    pub fn new(kind: SecretKind, owner: &str, version: u32) -> Result<Self, VaultError> {
        Self::parse(&format!("{}/{owner}/v{version}", kind.prefix()))
    }

    pub fn refresh_token(grant: &str, version: u32) -> Result<Self, VaultError> {
        Self::new(SecretKind::RefreshToken, grant, version)
    }

    pub fn access_token(grant: &str, version: u32) -> Result<Self, VaultError> {
        Self::new(SecretKind::AccessToken, grant, version)
    }

    pub fn client_secret(client: &str, version: u32) -> Result<Self, VaultError> {
        Self::new(SecretKind::ClientSecret, client, version)
    }

    /// A store's key-encryption key; `owner` is `<store id>-<key id>`.
    pub fn store_key(owner: &str) -> Result<Self, VaultError> {
        Self::new(SecretKind::StoreKey, owner, 1)
    }

    /// The session `tokendesk login` keeps for the team server at `server_url` (one per
    /// server; named by a digest of its URL, which may hold characters keys cannot).
    pub fn server_session(server_url: &str) -> Result<Self, VaultError> {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, server_url.as_bytes());
        Self::new(
            SecretKind::ServerSession,
            &crate::store::hex(&digest.as_ref()[..16]),
            1,
        )
    }

    /// The refresh token a 0.1 exchange received, kept before its ID token was verified;
    /// `owner` is `x_` and the first half of the code's SHA-256.
    pub fn exchange_refresh_token(owner: &str, version: u32) -> Result<Self, VaultError> {
        Self::new(SecretKind::ExchangeRefreshToken, owner, version)
    }

    /// Accepts only `<kind>/<owner>/v<N>` with an owner of `[A-Za-z0-9_-]`: keys come back from
    /// the keyring when listing, and anything else there is not ours to interpret.
    pub fn parse(text: &str) -> Result<Self, VaultError> {
        let invalid = || VaultError::InvalidKey {
            key: text.chars().take(120).collect(),
        };
        let mut parts = text.split('/');
        let (Some(kind), Some(owner), Some(version), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid());
        };
        let owner_ok = !owner.is_empty()
            && owner.len() <= 64
            && owner
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        let version_ok = version
            .strip_prefix('v')
            .is_some_and(|n| !n.starts_with('0') && n.parse::<u32>().is_ok());
        if SecretKind::from_prefix(kind).is_none() || !owner_ok || !version_ok {
            return Err(invalid());
        }
        Ok(SecretKey(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn kind(&self) -> SecretKind {
        // parse() admitted only known prefixes.
        let prefix = self.0.split('/').next().unwrap_or_default();
        SecretKind::from_prefix(prefix).unwrap_or(SecretKind::RefreshToken)
    }

    pub fn owner(&self) -> &str {
        self.0.split('/').nth(1).unwrap_or_default()
    }

    pub fn version(&self) -> u32 {
        self.0
            .rsplit('/')
            .next()
            .and_then(|v| v.strip_prefix('v'))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }

    /// The key the next rotation writes to.
    pub fn next_version(&self) -> Result<Self, VaultError> {
        let next = self
            .version()
            .checked_add(1)
            .ok_or_else(|| VaultError::InvalidKey {
                key: self.0.clone(),
            })?;
        Self::new(self.kind(), self.owner(), next)
    }
}

impl fmt::Debug for SecretKey {
    // A key names a secret but is not one: printing it helps every error message.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({})", self.0)
    }
}

impl fmt::Display for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl serde::Serialize for SecretKey {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

/// A store of secrets by key. `get` of an absent key is `Ok(None)`, never an error, so callers
/// can tell "not there" from "keyring unusable" and never fall back to anything else.
pub trait SecretStore: Send + Sync + fmt::Debug {
    fn get(&self, key: &SecretKey) -> Result<Option<Zeroizing<String>>, VaultError>;

    /// Writes or overwrites. Values over the store's size limit are refused whole.
    fn set(&self, key: &SecretKey, value: &str) -> Result<(), VaultError>;

    /// Returns whether there was something to delete.
    fn delete(&self, key: &SecretKey) -> Result<bool, VaultError>;

    /// Every key of ours in the store, or `None` when the store cannot enumerate (then the
    /// upgrade of a 0.1 store probes the keys it can predict).
    fn list(&self) -> Result<Option<Vec<SecretKey>>, VaultError>;

    fn contains(&self, key: &SecretKey) -> Result<bool, VaultError> {
        Ok(self.get(key)?.is_some())
    }
}

/// A keyring operation, named in errors and used to aim injected faults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VaultOp {
    Open,
    Get,
    Set,
    Delete,
    List,
}

impl fmt::Display for VaultOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            VaultOp::Open => "open",
            VaultOp::Get => "read",
            VaultOp::Set => "write",
            VaultOp::Delete => "delete",
            VaultOp::List => "list",
        })
    }
}

/// How large a value a store accepts. Checked before writing, so an oversized token is an
/// explicit error and is never truncated by the platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueLimit {
    /// Windows Credential Manager: 2,560 bytes of blob, and passwords are stored as UTF-16.
    Utf16Bytes(usize),
    /// Any other store: a sanity cap on the UTF-8 length.
    Utf8Bytes(usize),
}

impl ValueLimit {
    /// `CRED_MAX_CREDENTIAL_BLOB_SIZE` (5 * 512 bytes).
    pub const WINDOWS_CREDENTIAL: ValueLimit = ValueLimit::Utf16Bytes(2560);
    /// Far above any Google token (refresh ~100 B, access ~2 KB) yet small enough that a bug
    /// piping a whole response into the keyring is caught.
    pub const GENERAL: ValueLimit = ValueLimit::Utf8Bytes(64 * 1024);

    /// The limit of the OS keyring this build talks to.
    pub fn for_this_platform() -> Self {
        if cfg!(target_os = "windows") {
            Self::WINDOWS_CREDENTIAL
        } else {
            Self::GENERAL
        }
    }

    pub fn check(self, key: &SecretKey, value: &str) -> Result<(), VaultError> {
        let (len, limit, unit) = match self {
            ValueLimit::Utf16Bytes(limit) => {
                (value.encode_utf16().count() * 2, limit, "bytes as UTF-16")
            }
            ValueLimit::Utf8Bytes(limit) => (value.len(), limit, "bytes"),
        };
        if len > limit {
            return Err(VaultError::TooLarge {
                key: key.clone(),
                len,
                limit,
                unit,
            });
        }
        Ok(())
    }
}

/// Keyring failures, each saying what to do about it. No variant carries a secret value: the
/// platform errors that can hold one (bad encoding, bad data) are reduced to their key.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    #[error(
        "the OS keyring is locked: unlock your login keyring (log in to the desktop session, \
         open Passwords and Keys, or run `gnome-keyring-daemon --unlock`) and retry; \
         nothing was stored in plaintext instead"
    )]
    Locked,
    #[error(
        "the OS keyring is locked and its unlock prompt was dismissed or could not be shown: \
         unlock your login keyring (from the desktop session, or on a headless machine with \
         `gnome-keyring-daemon --unlock`) and retry; nothing was stored in plaintext instead"
    )]
    PromptDismissed,
    #[error(
        "the Secret Service has no default keyring (no `login` collection): create or unlock \
         one in Passwords and Keys (seahorse) or KeePassXC, then retry"
    )]
    NoDefaultCollection,
    #[error(
        "no Secret Service on the D-Bus session bus: start gnome-keyring \
         (`gnome-keyring-daemon --start --components=secrets`) or enable KeePassXC's Secret \
         Service integration, then retry; TokenDesk never falls back to plaintext"
    )]
    NoSecretService,
    #[error(
        "no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is unset or unreachable), so the OS \
         keyring cannot be reached: run TokenDesk inside your desktop session, or on a headless \
         machine under `dbus-run-session` with gnome-keyring started and unlocked"
    )]
    NoSessionBus,
    #[error(
        "the secret for {key} is {len} {unit}, over the keyring's limit of {limit}: it was not \
         stored (values are never truncated)"
    )]
    TooLarge {
        key: SecretKey,
        len: usize,
        limit: usize,
        unit: &'static str,
    },
    #[error("the keyring entry {key} is not valid UTF-8: delete it and store the secret again")]
    BadEncoding { key: SecretKey },
    #[error(
        "several keyring items match {key}: remove the duplicates (e.g. `secret-tool search \
         --all service <service> username {key}`) and keep one"
    )]
    Ambiguous { key: SecretKey },
    #[error("`{key}` is not a TokenDesk keyring key (expected <kind>/<owner>/v<N>)")]
    InvalidKey { key: String },
    #[error("the OS keyring failed to {op} {key}: {detail}")]
    Platform {
        op: VaultOp,
        key: String,
        detail: String,
    },
}

impl VaultError {
    /// A stable code for `{code, message}` across IPC and `--json`.
    pub fn code(&self) -> &'static str {
        match self {
            VaultError::Locked => "keyring_locked",
            VaultError::PromptDismissed => "keyring_prompt_dismissed",
            VaultError::NoDefaultCollection => "keyring_no_default_collection",
            VaultError::NoSecretService => "keyring_no_secret_service",
            VaultError::NoSessionBus => "keyring_no_session_bus",
            VaultError::TooLarge { .. } => "keyring_value_too_large",
            VaultError::BadEncoding { .. } => "keyring_bad_encoding",
            VaultError::Ambiguous { .. } => "keyring_ambiguous",
            VaultError::InvalidKey { .. } => "keyring_invalid_key",
            VaultError::Platform { .. } => "keyring_failure",
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn keys_are_versioned_paths() {
        let key = SecretKey::refresh_token("g_0123abcd", 3).unwrap();
        assert_eq!(key.as_str(), "refresh/g_0123abcd/v3");
        assert_eq!(key.kind(), SecretKind::RefreshToken);
        assert_eq!(key.owner(), "g_0123abcd");
        assert_eq!(key.version(), 3);
        assert_eq!(
            key.next_version().unwrap().as_str(),
            "refresh/g_0123abcd/v4",
            "a rotation must write a new version, never over the referenced one"
        );
    }

    #[test]
    fn foreign_or_malformed_keys_are_refused() {
        for bad in [
            "",
            "refresh",
            "refresh/g1",
            "refresh/g1/3",
            "refresh/g1/v",
            "refresh/g1/v01",
            "refresh/g1/v-1",
            "refresh/g/1/v1",
            "refresh/../v1",
            "password/g1/v1",
            "refresh/g1/v99999999999",
        ] {
            assert!(
                SecretKey::parse(bad).is_err(),
                "{bad:?} must not be taken for one of our keys: the upgrade lists the keyring"
            );
        }
    }

    #[test]
    fn windows_limit_counts_utf16_bytes() {
        let key = SecretKey::access_token("g1", 1).unwrap();
        let limit = ValueLimit::WINDOWS_CREDENTIAL;
        assert!(
            limit.check(&key, &"a".repeat(1280)).is_ok(),
            "1280 units = 2560 bytes fit"
        );
        let err = limit.check(&key, &"a".repeat(1281)).unwrap_err();
        assert!(
            matches!(
                err,
                VaultError::TooLarge {
                    len: 2562,
                    limit: 2560,
                    ..
                }
            ),
            "one unit over must be refused, not truncated: {err:?}"
        );
        // 'é' is 2 bytes of UTF-8 but one UTF-16 unit; '😀' is 4 and two.
        assert!(limit.check(&key, &"é".repeat(1280)).is_ok());
        assert!(limit.check(&key, &"😀".repeat(641)).is_err());
    }

    #[test]
    fn too_large_error_names_the_key_not_the_value() {
        let key = SecretKey::refresh_token("g1", 1).unwrap();
        let value = format!("1//canary-{}", "x".repeat(3000));
        let err = ValueLimit::WINDOWS_CREDENTIAL
            .check(&key, &value)
            .unwrap_err();
        let shown = format!("{err} {err:?}");
        assert!(
            shown.contains("refresh/g1/v1"),
            "the message must say which entry"
        );
        assert!(
            !shown.contains("canary"),
            "the message must never carry the value"
        );
        assert!(
            shown.contains("never truncated"),
            "the message says what happened: {shown}"
        );
    }
}
