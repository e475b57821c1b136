//! The OS keyring through keyring-core: Secret Service on Linux/BSD, Keychain on macOS,
//! Credential Manager on Windows; platform errors become [`VaultError`]s that name the fix.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use keyring_core::{CredentialStore, Entry};
use zeroize::{Zeroize, Zeroizing};

use super::{SecretKey, SecretStore, ValueLimit, VaultError, VaultOp};

/// Which keyring service the entries go under, so tests never read or write the product's
/// secrets even when run on a developer's own desktop session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuildKind {
    Product,
    Test,
    /// The desktop app's sandbox (the built-in emulator): throwaway secrets, wiped at start.
    Sandbox,
}

impl BuildKind {
    /// The keyring service of the `tokendesk` command and the window: the product's, unless
    /// `TOKENDESK_KEYRING=test` keeps a test run out of it.
    pub fn from_env() -> Self {
        match std::env::var("TOKENDESK_KEYRING").as_deref() {
            Ok("test") => BuildKind::Test,
            _ => BuildKind::Product,
        }
    }

    pub fn service(self) -> &'static str {
        match self {
            BuildKind::Product => "tokendesk",
            BuildKind::Test => "tokendesk.test",
            BuildKind::Sandbox => "tokendesk.sandbox",
        }
    }
}

/// The platform keyring. Calls block (D-Bus round trips on Linux): from async code, call it
/// inside `spawn_blocking`.
pub struct OsKeyring {
    store: Arc<CredentialStore>,
    service: &'static str,
    limit: ValueLimit,
}

impl fmt::Debug for OsKeyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OsKeyring")
            .field("service", &self.service)
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

impl OsKeyring {
    /// Connects to the platform's store now, so a missing D-Bus session or Secret Service is
    /// reported at startup rather than at the first token.
    pub fn open(kind: BuildKind) -> Result<Self, VaultError> {
        let store = platform_store().map_err(|err| map_error(err, VaultOp::Open, ""))?;
        Ok(OsKeyring {
            store,
            service: kind.service(),
            limit: ValueLimit::for_this_platform(),
        })
    }

    pub fn service(&self) -> &str {
        self.service
    }

    fn entry(&self, key: &SecretKey, op: VaultOp) -> Result<Entry, VaultError> {
        Entry::new_in_store(&self.store, self.service, key.as_str())
            .map_err(|err| map_error(err, op, key.as_str()))
    }
}

impl SecretStore for OsKeyring {
    fn get(&self, key: &SecretKey) -> Result<Option<Zeroizing<String>>, VaultError> {
        match self.entry(key, VaultOp::Get)?.get_password() {
            Ok(value) => Ok(Some(Zeroizing::new(value))),
            Err(keyring_core::Error::NoEntry) => Ok(None),
            Err(err) => Err(map_error(err, VaultOp::Get, key.as_str())),
        }
    }

    fn set(&self, key: &SecretKey, value: &str) -> Result<(), VaultError> {
        self.limit.check(key, value)?;
        self.entry(key, VaultOp::Set)?
            .set_password(value)
            .map_err(|err| map_error(err, VaultOp::Set, key.as_str()))
    }

    fn delete(&self, key: &SecretKey) -> Result<bool, VaultError> {
        match self.entry(key, VaultOp::Delete)?.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring_core::Error::NoEntry) => Ok(false),
            Err(err) => Err(map_error(err, VaultOp::Delete, key.as_str())),
        }
    }

    fn list(&self) -> Result<Option<Vec<SecretKey>>, VaultError> {
        // The Secret Service and the Keychain search by service; Windows' store is built
        // without its search feature, and a store that cannot search says so.
        let spec = HashMap::from([("service", self.service)]);
        let entries = match self.store.search(&spec) {
            Ok(entries) => entries,
            Err(keyring_core::Error::NotSupportedByStore(_)) => return Ok(None),
            Err(err) => return Err(map_error(err, VaultOp::List, self.service)),
        };
        let mut keys: Vec<SecretKey> = entries
            .iter()
            .filter_map(|entry| entry.get_specifiers())
            .filter(|(service, _)| service == self.service)
            // Items of ours are well formed; anything else under the service is not ours to
            // report or touch.
            .filter_map(|(_, user)| SecretKey::parse(&user).ok())
            .collect();
        keys.sort();
        keys.dedup();
        Ok(Some(keys))
    }
}

#[cfg(all(
    unix,
    not(any(target_os = "macos", target_os = "ios", target_os = "android"))
))]
fn platform_store() -> keyring_core::Result<Arc<CredentialStore>> {
    Ok(zbus_secret_service_keyring_store::Store::new()?)
}

#[cfg(target_os = "macos")]
fn platform_store() -> keyring_core::Result<Arc<CredentialStore>> {
    Ok(apple_native_keyring_store::keychain::Store::new()?)
}

#[cfg(target_os = "windows")]
fn platform_store() -> keyring_core::Result<Arc<CredentialStore>> {
    Ok(windows_native_keyring_store::Store::new()?)
}

#[cfg(not(any(
    all(
        unix,
        not(any(target_os = "macos", target_os = "ios", target_os = "android"))
    ),
    target_os = "macos",
    target_os = "windows"
)))]
fn platform_store() -> keyring_core::Result<Arc<CredentialStore>> {
    Err(keyring_core::Error::NotSupportedByStore(
        "TokenDesk supports the OS keyrings of Linux, macOS and Windows only".into(),
    ))
}

/// Turns a keyring-core error into ours. Variants that carry secret bytes are zeroized and
/// reduced to the key; platform errors are inspected for the cases a person can fix.
fn map_error(err: keyring_core::Error, op: VaultOp, key: &str) -> VaultError {
    use keyring_core::Error as E;
    let secret_key = || SecretKey::parse(key).unwrap_or_else(|_| SecretKey(key.to_owned()));
    match err {
        E::NoStorageAccess(platform) => {
            classify_platform(platform.as_ref()).unwrap_or(VaultError::Locked)
        }
        E::PlatformFailure(platform) => {
            classify_platform(platform.as_ref()).unwrap_or_else(|| VaultError::Platform {
                op,
                key: key.to_owned(),
                detail: platform.to_string(),
            })
        }
        E::BadEncoding(mut bytes) => {
            bytes.zeroize();
            VaultError::BadEncoding { key: secret_key() }
        }
        E::BadDataFormat(mut bytes, _) => {
            bytes.zeroize();
            VaultError::BadEncoding { key: secret_key() }
        }
        E::Ambiguous(_) => VaultError::Ambiguous { key: secret_key() },
        E::TooLong(name, limit) => VaultError::Platform {
            op,
            key: key.to_owned(),
            detail: format!("{name} is longer than the platform limit of {limit}"),
        },
        other => VaultError::Platform {
            op,
            key: key.to_owned(),
            // The remaining variants (Invalid, BadStoreFormat, NoDefaultStore,
            // NotSupportedByStore, NoEntry) carry descriptions, never secret values.
            detail: other.to_string(),
        },
    }
}

#[cfg(all(
    unix,
    not(any(target_os = "macos", target_os = "ios", target_os = "android"))
))]
fn classify_platform(err: &(dyn std::error::Error + Send + Sync + 'static)) -> Option<VaultError> {
    use secret_service::Error as SsError;
    let ss = err.downcast_ref::<SsError>()?;
    Some(match ss {
        SsError::Locked => VaultError::Locked,
        SsError::Prompt | SsError::PromptDisconnected => VaultError::PromptDismissed,
        SsError::NoResult => VaultError::NoDefaultCollection,
        SsError::Unavailable => no_bus_or_no_service(),
        SsError::Zbus(zbus::Error::FDO(fdo)) => return classify_fdo(fdo),
        SsError::ZbusFdo(fdo) => return classify_fdo(fdo),
        SsError::Zbus(zbus::Error::MethodError(name, _, _)) => {
            return classify_dbus_error_name(name.as_str());
        }
        SsError::Zbus(
            zbus::Error::Address(_) | zbus::Error::InputOutput(_) | zbus::Error::Connection(_, _),
        ) => no_bus_or_no_service(),
        _ => return None,
    })
}

#[cfg(all(
    unix,
    not(any(target_os = "macos", target_os = "ios", target_os = "android"))
))]
fn classify_fdo(err: &zbus::fdo::Error) -> Option<VaultError> {
    use zbus::fdo::Error as Fdo;
    match err {
        Fdo::ServiceUnknown(_) | Fdo::NameHasNoOwner(_) => Some(VaultError::NoSecretService),
        _ => None,
    }
}

#[cfg(all(
    unix,
    not(any(target_os = "macos", target_os = "ios", target_os = "android"))
))]
fn classify_dbus_error_name(name: &str) -> Option<VaultError> {
    match name {
        "org.freedesktop.DBus.Error.ServiceUnknown"
        | "org.freedesktop.DBus.Error.NameHasNoOwner" => Some(VaultError::NoSecretService),
        // D-Bus activation of the provider failed (it crashed or hung on start).
        name if name == "org.freedesktop.DBus.Error.TimedOut"
            || name.starts_with("org.freedesktop.DBus.Error.Spawn.") =>
        {
            Some(VaultError::NoSecretService)
        }
        "org.freedesktop.Secret.Error.IsLocked" => Some(VaultError::Locked),
        "org.freedesktop.Secret.Error.NoSuchObject" => Some(VaultError::NoDefaultCollection),
        _ => None,
    }
}

/// secret-service reports "no session bus" and "no provider" alike; the environment tells
/// which advice applies.
#[cfg(all(
    unix,
    not(any(target_os = "macos", target_os = "ios", target_os = "android"))
))]
fn no_bus_or_no_service() -> VaultError {
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some_and(|v| !v.is_empty()) {
        VaultError::NoSecretService
    } else {
        VaultError::NoSessionBus
    }
}

#[cfg(not(all(
    unix,
    not(any(target_os = "macos", target_os = "ios", target_os = "android"))
)))]
fn classify_platform(_err: &(dyn std::error::Error + Send + Sync + 'static)) -> Option<VaultError> {
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn bad_encoding_never_carries_the_bytes() {
        let err = map_error(
            keyring_core::Error::BadEncoding(b"1//canary\xff".to_vec()),
            VaultOp::Get,
            "refresh/g1/v1",
        );
        let shown = format!("{err} {err:?}");
        assert!(matches!(err, VaultError::BadEncoding { .. }));
        assert!(
            !shown.contains("canary"),
            "raw keyring bytes must not reach messages"
        );
    }

    #[test]
    fn test_and_product_services_differ() {
        assert_ne!(
            BuildKind::Test.service(),
            BuildKind::Product.service(),
            "tests must never touch the product's keyring entries"
        );
        assert_ne!(
            BuildKind::Sandbox.service(),
            BuildKind::Product.service(),
            "wiping the sandbox must never touch the product's keyring entries"
        );
    }

    #[cfg(all(
        unix,
        not(any(target_os = "macos", target_os = "ios", target_os = "android"))
    ))]
    #[test]
    fn secret_service_errors_map_to_actionable_ones() {
        let locked = map_error(
            keyring_core::Error::NoStorageAccess(Box::new(secret_service::Error::Locked)),
            VaultOp::Get,
            "refresh/g1/v1",
        );
        assert!(matches!(locked, VaultError::Locked), "{locked:?}");
        assert!(locked.to_string().contains("unlock your login keyring"));

        let prompt = map_error(
            keyring_core::Error::NoStorageAccess(Box::new(secret_service::Error::Prompt)),
            VaultOp::Set,
            "refresh/g1/v1",
        );
        assert!(matches!(prompt, VaultError::PromptDismissed), "{prompt:?}");

        let unknown = map_error(
            keyring_core::Error::PlatformFailure(Box::new(secret_service::Error::ZbusFdo(
                zbus::fdo::Error::ServiceUnknown("org.freedesktop.secrets".into()),
            ))),
            VaultOp::Open,
            "",
        );
        assert!(
            matches!(unknown, VaultError::NoSecretService),
            "{unknown:?}"
        );
        assert!(unknown.to_string().contains("start gnome-keyring"));
    }
}
