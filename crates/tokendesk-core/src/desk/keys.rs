//! The store's key-encryption key: where it comes from (the OS keyring for the embedded store,
//! a key file or a KMS for the team server), made the first time a store needs one, never made
//! over sealed data, rotated by re-wrapping the data keys, moved between machines as a file
//! sealed under a passphrase.

use std::sync::Arc;

use super::{Desk, DeskError, Result};
use crate::seal::{
    ExportedKey, KeyWrapper, LocalKey, SealError, Sealer, WrappedDataKey, export_key, import_key,
};
use crate::storage::Storage;
use crate::store::{AuditAction, AuditOutcome};
use crate::vault::{SecretKey, SecretStore, VaultError};

/// Where a desk's key-encryption key comes from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// The embedded store: one keyring entry per store, `store-key/<store id>-<key id>/v1`,
    /// named after the store and the key so that a rotation never overwrites the key the
    /// data keys are wrapped with until the new wraps are committed.
    Keyring(Arc<dyn SecretStore>),
    /// A key handed over by the caller (the team server's key file, a KMS).
    Given(Arc<dyn KeyWrapper>),
}

fn keyring_entry(store_id: &str, kek_id: &str) -> Result<SecretKey> {
    Ok(SecretKey::store_key(&format!("{store_id}-{kek_id}"))?)
}

/// Runs a keyring call on the blocking pool: a D-Bus round trip, maybe an unlock prompt that
/// waits for a person; it must not stall the async runtime.
async fn keyring<T: Send + 'static>(
    vault: &Arc<dyn SecretStore>,
    call: impl FnOnce(&dyn SecretStore) -> Result<T, VaultError> + Send + 'static,
) -> Result<T> {
    let vault = Arc::clone(vault);
    tokio::task::spawn_blocking(move || call(&*vault))
        .await
        .map_err(|e| DeskError::TaskLost {
            what: "a keyring call",
            detail: e.to_string(),
        })?
        .map_err(Into::into)
}

impl KeySource {
    /// The data keys of `storage`, unwrapped. A store without any gets its first data key
    /// (and, from the keyring, its first key-encryption key). A store with data keys but no
    /// matching key is refused: a new key is never made over sealed data.
    pub(crate) async fn unlock(&self, storage: &dyn Storage) -> Result<Sealer> {
        let wraps = storage.data_keys().await?;
        let kek = match self {
            KeySource::Given(kek) => {
                if wraps.is_empty() {
                    let first = Sealer::new_data_key(&**kek)?;
                    let wraps = storage.init_data_key(first).await?;
                    return Ok(Sealer::unlock(&wraps, &**kek)?);
                }
                Arc::clone(kek)
            }
            KeySource::Keyring(vault) => {
                let store_id = storage.store_id().await?;
                if wraps.is_empty() {
                    return self.first_key(vault, storage, &store_id).await;
                }
                self.keyring_key(vault, &store_id, &wraps, storage).await?
            }
        };
        Ok(Sealer::unlock(&wraps, &*kek)?)
    }

    async fn first_key(
        &self,
        vault: &Arc<dyn SecretStore>,
        storage: &dyn Storage,
        store_id: &str,
    ) -> Result<Sealer> {
        // Into the keyring first, then the wrap into the store: a crash in between leaves an
        // unused keyring entry, never a wrap without its key.
        let kek = LocalKey::generate()?;
        let entry = keyring_entry(store_id, kek.id())?;
        let text = kek.to_text();
        keyring(vault, move |v| v.set(&entry, &text)).await?;
        let first = Sealer::new_data_key(&kek)?;
        // Two processes opening a new store at once: one wrap wins; the other process reads
        // that one's key back from the keyring.
        let wraps = storage.init_data_key(first).await?;
        if wraps.iter().any(|w| w.kek_id == kek.id()) {
            return Ok(Sealer::unlock(&wraps, &kek)?);
        }
        let stale = keyring_entry(store_id, kek.id())?;
        let _ = keyring(vault, move |v| v.delete(&stale)).await;
        let kek = self.keyring_key(vault, store_id, &wraps, storage).await?;
        Ok(Sealer::unlock(&wraps, &*kek)?)
    }

    /// The keyring's key for `wraps`: the newest key-encryption key that wraps them and is in
    /// the keyring (during an interrupted rotation both the old and the new one may be).
    async fn keyring_key(
        &self,
        vault: &Arc<dyn SecretStore>,
        store_id: &str,
        wraps: &[WrappedDataKey],
        storage: &dyn Storage,
    ) -> Result<Arc<dyn KeyWrapper>> {
        Ok(Arc::new(
            self.keyring_local_key(vault, store_id, wraps, storage)
                .await?,
        ))
    }

    async fn keyring_local_key(
        &self,
        vault: &Arc<dyn SecretStore>,
        store_id: &str,
        wraps: &[WrappedDataKey],
        storage: &dyn Storage,
    ) -> Result<LocalKey> {
        let mut kek_ids: Vec<String> = Vec::new();
        for w in wraps.iter().rev() {
            if !kek_ids.contains(&w.kek_id) {
                kek_ids.push(w.kek_id.clone());
            }
        }
        for kek_id in &kek_ids {
            let entry = keyring_entry(store_id, kek_id)?;
            if let Some(text) = keyring(vault, move |v| v.get(&entry)).await? {
                return Ok(LocalKey::from_text(&text)?);
            }
        }
        Err(DeskError::KeyMissing {
            store: storage.location(),
            entry: keyring_entry(store_id, &kek_ids[0])?.to_string(),
        })
    }
}

impl Desk {
    /// A new key-encryption key for the embedded store: the data keys are re-wrapped under
    /// it (no token is touched), then the old key is deleted. Returns the new key's id.
    pub async fn rotate_key(&self) -> Result<String> {
        let KeySource::Keyring(vault) = &self.keys else {
            return Err(DeskError::NotEmbedded {
                what: "`tokendesk key rotate`",
                instead: "`tokendesk server rotate-key`",
            });
        };
        let store_id = self.storage.store_id().await?;
        self.sealer().await?;
        let wraps = self.storage.data_keys().await?;
        let old = self
            .keys
            .keyring_local_key(vault, &store_id, &wraps, &*self.storage)
            .await?;
        let new = LocalKey::generate()?;
        let entry = keyring_entry(&store_id, new.id())?;
        let text = new.to_text();
        keyring(vault, move |v| v.set(&entry, &text)).await?;
        let rewrapped = Sealer::rewrap(&wraps, &old, &new)?;
        self.storage.rewrap_data_keys(rewrapped, true).await?;
        let old_entry = keyring_entry(&store_id, old.id())?;
        if let Err(err) = keyring(vault, move |v| v.delete(&old_entry)).await {
            tracing::warn!(code = err.code(), "could not delete the retired key");
        }
        self.audit(
            AuditAction::KeyRotate,
            None,
            AuditOutcome::Ok,
            Some(format!("{} -> {}", old.id(), new.id())),
        )
        .await;
        Ok(new.id().to_owned())
    }

    /// Re-wraps the data keys of a store whose key is handed over (the team server's key
    /// file, a KMS) under `new`, and retires the old wraps. No token is touched and the data
    /// keys stay the same, so processes already running keep working; each started later
    /// needs `new` (a rolling restart moves the replicas over, without downtime). Audited.
    pub async fn rotate_given_key(&self, new: &dyn KeyWrapper) -> Result<String> {
        let KeySource::Given(old) = &self.keys else {
            return Err(DeskError::NotServer {
                what: "a key-file rotation",
                instead: "`tokendesk key rotate`",
            });
        };
        self.sealer().await?;
        let wraps = self.storage.data_keys().await?;
        if old.id() == new.id() {
            return Err(DeskError::Seal(SealError::BadKey {
                reason: "the new key is the current one: make a new key with `tokendesk server \
                         keygen NEW_FILE`"
                    .into(),
            }));
        }
        let rewrapped = Sealer::rewrap(&wraps, &**old, new)?;
        self.storage.rewrap_data_keys(rewrapped, true).await?;
        self.audit(
            AuditAction::KeyRotate,
            None,
            AuditOutcome::Ok,
            Some(format!("{} -> {}", old.id(), new.id())),
        )
        .await;
        Ok(new.id().to_owned())
    }

    /// The embedded store's key sealed under `passphrase`, for another machine. Audited.
    pub async fn export_key(&self, passphrase: &str) -> Result<ExportedKey> {
        let KeySource::Keyring(vault) = &self.keys else {
            return Err(DeskError::NotEmbedded {
                what: "`tokendesk key export`",
                instead: "a copy of the server's key file",
            });
        };
        check_passphrase(passphrase)?;
        // A store that has sealed nothing yet gets its key now, so there is one to export.
        self.sealer().await?;
        let store_id = self.storage.store_id().await?;
        let wraps = self.storage.data_keys().await?;
        let local = self
            .keys
            .keyring_local_key(vault, &store_id, &wraps, &*self.storage)
            .await?;
        let exported = export_key(&local, &store_id, passphrase)?;
        self.audit(
            AuditAction::KeyExport,
            None,
            AuditOutcome::Ok,
            Some(local.id().to_owned()),
        )
        .await;
        Ok(exported)
    }

    /// Puts an exported key into this machine's keyring for this store, after checking that
    /// it is the key this store's data keys are wrapped with.
    pub async fn import_key(&self, exported: &ExportedKey, passphrase: &str) -> Result<String> {
        let KeySource::Keyring(vault) = &self.keys else {
            return Err(DeskError::NotEmbedded {
                what: "`tokendesk key import`",
                instead: "--key-file",
            });
        };
        let key = import_key(exported, passphrase)?;
        let wraps = self.storage.data_keys().await?;
        if wraps.is_empty() {
            return Err(DeskError::Seal(SealError::WrongKey {
                kek_id: key.id().to_owned(),
                known: "no key yet (this store has sealed nothing: there is nothing to import \
                        a key for)"
                    .into(),
            }));
        }
        Sealer::unlock(&wraps, &key)?;
        let store_id = self.storage.store_id().await?;
        let entry = keyring_entry(&store_id, key.id())?;
        let text = key.to_text();
        keyring(vault, move |v| v.set(&entry, &text)).await?;
        self.audit(
            AuditAction::KeyImport,
            None,
            AuditOutcome::Ok,
            Some(key.id().to_owned()),
        )
        .await;
        Ok(key.id().to_owned())
    }
}

fn check_passphrase(passphrase: &str) -> Result<()> {
    if passphrase.chars().count() < 12 {
        return Err(DeskError::WeakPassphrase);
    }
    Ok(())
}
