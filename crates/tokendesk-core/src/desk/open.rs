//! Opening a desk: the embedded store (the SQLite file, its key in the OS keyring, the upgrade
//! of a 0.1 store) or any other storage, then the recovery of what a crash interrupted.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::keys::KeySource;
use super::{Desk, DeskError, DeskOptions, Result};
use crate::oauth::{HttpClient, TokioTimer};
use crate::storage::{SqliteStorage, Storage};
use crate::store::{
    AuditAction, AuditOutcome, ExchangeFinish, ExchangeOutcome, NewAuditEntry, StoreOptions,
};
use crate::vault::SecretStore;

impl Desk {
    /// Opens (or creates) the embedded store in `options.data_dir`, whose key lives in the OS
    /// keyring `vault`; moves a 0.1 store's secrets from the keyring into the file; finishes
    /// what a crash interrupted.
    pub async fn open(options: &DeskOptions, vault: Arc<dyn SecretStore>) -> Result<Self> {
        let dir = options.data_dir.clone();
        let store_options = StoreOptions {
            quick_check: options.quick_check,
            ..StoreOptions::default()
        };
        let storage = tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&dir).map_err(|e| DeskError::DataDir {
                path: dir.display().to_string(),
                reason: e.to_string(),
            })?;
            SqliteStorage::open(&dir, &store_options).map_err(DeskError::from)
        })
        .await
        .map_err(|e| DeskError::TaskLost {
            what: "opening the store",
            detail: e.to_string(),
        })??;
        let storage = Arc::new(storage);
        let desk = Self::assemble(
            Arc::clone(&storage) as Arc<dyn Storage>,
            KeySource::Keyring(Arc::clone(&vault)),
            options,
        )?;
        desk.upgrade_from_keyring(&storage, &vault).await?;
        desk.recover().await?;
        Ok(desk)
    }

    /// A desk over any storage (the team server's PostgreSQL) with its key from `keys`.
    pub async fn with_storage(
        storage: Arc<dyn Storage>,
        keys: KeySource,
        options: &DeskOptions,
    ) -> Result<Self> {
        let desk = Self::assemble(storage, keys, options)?;
        desk.recover().await?;
        Ok(desk)
    }

    fn assemble(storage: Arc<dyn Storage>, keys: KeySource, options: &DeskOptions) -> Result<Self> {
        let http = HttpClient::new(options.http.clone())
            .map_err(|e| DeskError::HttpSetup {
                reason: e.to_string(),
            })?
            .with_timer(Arc::new(TokioTimer::with_clock(Arc::clone(&options.clock))));
        Ok(Self {
            storage,
            keys,
            sealer: tokio::sync::OnceCell::new(),
            http,
            clock: Arc::clone(&options.clock),
            leeway: options.leeway,
            verifiers: Mutex::new(HashMap::new()),
            turns: Mutex::new(HashMap::new()),
            actor: NewAuditEntry::os_user_from_env(),
        })
    }

    /// Finishes what a crash interrupted. Exchanges still pending that no live process holds:
    /// one that kept Google's answer is finished now (verified and stored, or refused, or left
    /// for later if the keys are unreachable); one without an answer died before or while
    /// asking Google, so its code may have been redeemed: `unknown`, never sent again.
    async fn recover(&self) -> Result<()> {
        let pending = self.storage.pending_exchanges().await?;
        if pending.is_empty() {
            return Ok(());
        }
        let (mut interrupted, mut finished) = (0, 0);
        for ex in &pending {
            if ex.response_sealed.is_some() {
                match self.finish_kept(ex).await {
                    Ok(true) => finished += 1,
                    Ok(false) => {}
                    Err(err) => {
                        tracing::warn!(code = err.code(), "a kept exchange could not be finished");
                    }
                }
                continue;
            }
            let Some(code) = ex.code() else {
                continue;
            };
            // A live exchange in another process holds its lock: not interrupted.
            let Some(_held) = self.storage.try_lock_exchange(code).await? else {
                continue;
            };
            // Read again under the lock: it may have finished, or kept its answer, meanwhile.
            let Some(now) = self.storage.exchange(ex.id).await? else {
                continue;
            };
            if now.outcome != ExchangeOutcome::Pending || now.response_sealed.is_some() {
                continue;
            }
            let finish = ExchangeFinish {
                outcome: ExchangeOutcome::Unknown,
                error_code: Some("interrupted".into()),
                request: None,
                response: None,
                user_id: None,
                grant: None,
            };
            let entry = self.audit_entry(
                AuditAction::Recover,
                None,
                AuditOutcome::Ok,
                Some("an interrupted exchange marked unknown: the user must sign in again".into()),
            );
            self.storage
                .fail_exchange(ex.id, finish, entry, self.now())
                .await?;
            interrupted += 1;
        }
        if finished > 0 {
            self.audit(
                AuditAction::Recover,
                None,
                AuditOutcome::Ok,
                Some(format!("{finished} kept exchange(s) finished")),
            )
            .await;
        }
        tracing::debug!(interrupted, finished, "recovery done");
        Ok(())
    }
}
