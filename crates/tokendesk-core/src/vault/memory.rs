//! An in-process [`SecretStore`] for unit tests, able to fail on demand like a locked keyring.
//! Never used by the product: it exists so keyring faults can be tested without a desktop.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Mutex, MutexGuard};

use zeroize::Zeroizing;

use super::{SecretKey, SecretStore, ValueLimit, VaultError, VaultOp};

/// Secrets in a map; faults injected per operation, either until cleared or for a number of
/// calls (a keyring that gets unlocked half way through an operation).
pub struct MemoryStore {
    inner: Mutex<Inner>,
    limit: ValueLimit,
    can_list: bool,
}

#[derive(Default)]
struct Inner {
    values: BTreeMap<SecretKey, Zeroizing<String>>,
    faults: HashMap<VaultOp, Fault>,
    calls: HashMap<VaultOp, usize>,
}

struct Fault {
    error: VaultError,
    /// `None`: until cleared.
    remaining: Option<usize>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for MemoryStore {
    // Keys only: the values are secrets even in tests (canary checks grep Debug output).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Vec<SecretKey> = self.lock().values.keys().cloned().collect();
        f.debug_struct("MemoryStore")
            .field("keys", &keys)
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

impl MemoryStore {
    pub fn new() -> Self {
        MemoryStore {
            inner: Mutex::new(Inner::default()),
            limit: ValueLimit::GENERAL,
            can_list: true,
        }
    }

    /// A store with another value limit, e.g. [`ValueLimit::WINDOWS_CREDENTIAL`] to test the
    /// Windows behaviour on any machine.
    pub fn with_limit(limit: ValueLimit) -> Self {
        MemoryStore {
            limit,
            ..Self::new()
        }
    }

    /// A store that cannot enumerate its keys, like Windows' Credential Manager here.
    pub fn without_listing() -> Self {
        MemoryStore {
            can_list: false,
            ..Self::new()
        }
    }

    /// Every `op` fails with `error` until [`clear_faults`](Self::clear_faults).
    pub fn fail(&self, op: VaultOp, error: VaultError) {
        self.lock().faults.insert(
            op,
            Fault {
                error,
                remaining: None,
            },
        );
    }

    /// The next `times` calls of `op` fail with `error`, later ones succeed.
    pub fn fail_times(&self, op: VaultOp, error: VaultError, times: usize) {
        self.lock().faults.insert(
            op,
            Fault {
                error,
                remaining: Some(times),
            },
        );
    }

    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    /// How many times `op` was called, failed calls included.
    pub fn calls(&self, op: VaultOp) -> usize {
        self.lock().calls.get(&op).copied().unwrap_or(0)
    }

    pub fn keys(&self) -> Vec<SecretKey> {
        self.lock().values.keys().cloned().collect()
    }

    pub fn len(&self) -> usize {
        self.lock().values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panicking test thread must not hide the store from the others.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn enter(&self, op: VaultOp) -> Result<MutexGuard<'_, Inner>, VaultError> {
        let mut inner = self.lock();
        *inner.calls.entry(op).or_default() += 1;
        if let Some(fault) = inner.faults.get_mut(&op) {
            let error = fault.error.clone();
            match &mut fault.remaining {
                None => return Err(error),
                Some(0) => {}
                Some(n) => {
                    *n -= 1;
                    return Err(error);
                }
            }
        }
        Ok(inner)
    }
}

impl SecretStore for MemoryStore {
    fn get(&self, key: &SecretKey) -> Result<Option<Zeroizing<String>>, VaultError> {
        let inner = self.enter(VaultOp::Get)?;
        Ok(inner
            .values
            .get(key)
            .map(|value| Zeroizing::new(value.as_str().to_owned())))
    }

    fn set(&self, key: &SecretKey, value: &str) -> Result<(), VaultError> {
        let mut inner = self.enter(VaultOp::Set)?;
        self.limit.check(key, value)?;
        inner
            .values
            .insert(key.clone(), Zeroizing::new(value.to_owned()));
        Ok(())
    }

    fn delete(&self, key: &SecretKey) -> Result<bool, VaultError> {
        let mut inner = self.enter(VaultOp::Delete)?;
        Ok(inner.values.remove(key).is_some())
    }

    fn list(&self) -> Result<Option<Vec<SecretKey>>, VaultError> {
        let inner = self.enter(VaultOp::List)?;
        Ok(self
            .can_list
            .then(|| inner.values.keys().cloned().collect()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn key(n: u32) -> SecretKey {
        SecretKey::refresh_token("g1", n).unwrap()
    }

    #[test]
    fn absent_key_is_none_not_an_error() {
        let store = MemoryStore::new();
        assert!(
            store.get(&key(1)).unwrap().is_none(),
            "NoEntry must be Ok(None) so callers can tell absence from failure"
        );
        assert!(
            !store.delete(&key(1)).unwrap(),
            "deleting nothing reports false"
        );
    }

    #[test]
    fn set_get_overwrite_delete() {
        let store = MemoryStore::new();
        store.set(&key(1), "first").unwrap();
        store.set(&key(1), "second").unwrap();
        assert_eq!(store.get(&key(1)).unwrap().unwrap().as_str(), "second");
        assert!(store.delete(&key(1)).unwrap());
        assert!(store.get(&key(1)).unwrap().is_none());
    }

    #[test]
    fn injected_fault_fails_until_cleared_and_changes_nothing() {
        let store = MemoryStore::new();
        store.set(&key(1), "kept").unwrap();
        store.fail(VaultOp::Set, VaultError::Locked);
        for _ in 0..3 {
            assert!(matches!(
                store.set(&key(1), "lost"),
                Err(VaultError::Locked)
            ));
        }
        assert_eq!(
            store.get(&key(1)).unwrap().unwrap().as_str(),
            "kept",
            "a failed write must leave the old value"
        );
        store.clear_faults();
        store.set(&key(1), "after unlock").unwrap();
        assert_eq!(store.calls(VaultOp::Set), 5, "failed calls are counted too");
    }

    #[test]
    fn fault_for_n_calls_then_recovers() {
        let store = MemoryStore::new();
        store.fail_times(VaultOp::Get, VaultError::PromptDismissed, 2);
        assert!(store.get(&key(1)).is_err());
        assert!(store.get(&key(1)).is_err());
        assert!(store.get(&key(1)).unwrap().is_none(), "third call succeeds");
    }

    #[test]
    fn windows_limit_is_enforced_in_memory_too() {
        let store = MemoryStore::with_limit(ValueLimit::WINDOWS_CREDENTIAL);
        let err = store.set(&key(1), &"x".repeat(2000)).unwrap_err();
        assert!(matches!(err, VaultError::TooLarge { .. }));
        assert!(
            store.is_empty(),
            "an oversized value must not be stored in part"
        );
    }

    #[test]
    fn debug_shows_keys_never_values() {
        let store = MemoryStore::new();
        store.set(&key(1), "1//canary-refresh").unwrap();
        let shown = format!("{store:?}");
        assert!(shown.contains("refresh/g1/v1"));
        assert!(
            !shown.contains("canary"),
            "Debug must not print secrets: {shown}"
        );
    }
}
