//! Upgrading a 0.1 store, whose secrets were OS keyring entries (one per token, versioned):
//! at the first open each entry is read, sealed into its row, checked by opening it again,
//! committed, and only then deleted from the keyring. A crash in the middle resumes where it
//! stopped (each row is its own transaction); a keyring that cannot be read (locked) stops the
//! upgrade with nothing lost; an entry that is missing is reported and marked on its row,
//! never silently dropped.

use std::sync::Arc;

use serde::Serialize;

use super::exchange::KeptAnswer;
use super::{Desk, DeskError, Result};
use crate::seal::{SealKind, Sealer};
use crate::storage::SqliteStorage;
use crate::store::legacy::MovedRefreshToken;
use crate::store::{AuditAction, AuditOutcome, RefreshTokenState, Store};
use crate::vault::{SecretKey, SecretKind, SecretStore};

/// What an upgrade did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct UpgradeReport {
    /// Secrets moved from the keyring into the store.
    pub moved: usize,
    /// Rows whose keyring entry was missing, in words ("grant g_...: its refresh token").
    pub missing: Vec<String>,
}

impl Desk {
    /// Moves a 0.1 store's keyring secrets into the file; a no-op (one indexed query) for a
    /// store that has none left.
    pub(super) async fn upgrade_from_keyring(
        &self,
        storage: &Arc<SqliteStorage>,
        vault: &Arc<dyn SecretStore>,
    ) -> Result<UpgradeReport> {
        let probe = Arc::clone(storage);
        let any = blocking(move || Ok(probe.with_store(|s| s.legacy().any())?)).await?;
        if !any {
            return Ok(UpgradeReport::default());
        }
        let sealer = self.sealer().await?;
        let (storage, vault) = (Arc::clone(storage), Arc::clone(vault));
        let now = self.now().unix();
        let report =
            blocking(move || storage.with_store(|store| upgrade(store, &*vault, &sealer, now)))
                .await?;
        let detail = if report.missing.is_empty() {
            format!(
                "upgraded from 0.1: {} secret(s) moved from the keyring into the store",
                report.moved
            )
        } else {
            format!(
                "upgraded from 0.1: {} secret(s) moved from the keyring into the store; missing \
                 from the keyring: {}",
                report.moved,
                report.missing.join("; ")
            )
        };
        for missing in &report.missing {
            tracing::warn!(row = %missing, "a 0.1 keyring entry was missing during the upgrade");
        }
        self.audit(AuditAction::Recover, None, AuditOutcome::Ok, Some(detail))
            .await;
        Ok(report)
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| DeskError::TaskLost {
            what: "the upgrade of a 0.1 store",
            detail: e.to_string(),
        })?
}

/// Seals `value` for `kind`/`row` and opens it again: what is about to replace the keyring
/// entry must be proven readable first.
fn seal_checked(
    sealer: &Sealer,
    kind: SealKind,
    row: &str,
    value: &str,
) -> Result<crate::seal::SealedSecret> {
    let sealed = sealer.seal_str(kind, row, value)?;
    if *sealer.open_string(kind, row, &sealed)? != *value {
        return Err(DeskError::KeptAnswerUnreadable {
            reason: format!("a sealed {row} did not read back the same"),
        });
    }
    Ok(sealed)
}

/// The newest version of `owner`'s `kind` entry in the keyring: from its listing, or probed
/// (1..=64, as 0.1 wrote them) where the keyring cannot list.
fn newest_version(
    vault: &dyn SecretStore,
    listed: Option<&[SecretKey]>,
    kind: SecretKind,
    owner: &str,
) -> Result<Option<u32>> {
    if let Some(keys) = listed {
        return Ok(keys
            .iter()
            .filter(|k| k.kind() == kind && k.owner() == owner)
            .map(SecretKey::version)
            .max());
    }
    let mut found = None;
    for v in 1..=64 {
        if vault.contains(&SecretKey::new(kind, owner, v)?)? {
            found = Some(v);
        }
    }
    Ok(found)
}

fn upgrade(
    store: &mut Store,
    vault: &dyn SecretStore,
    sealer: &Sealer,
    now: i64,
) -> Result<UpgradeReport> {
    let mut report = UpgradeReport::default();
    // Each row's entries go as soon as the row holds its secrets (a failure to delete leaves
    // a harmless copy); a crash in between resumes with the rows not yet moved.
    let forget = |keys: &[Option<SecretKey>]| {
        for key in keys.iter().flatten() {
            if let Err(err) = vault.delete(key) {
                tracing::warn!(code = err.code(), "could not delete a moved keyring entry");
            }
        }
    };

    for client in store.legacy().clients()? {
        let key = SecretKey::client_secret(client.uid.as_str(), client.secret_version)?;
        let sealed = match vault.get(&key)? {
            Some(secret) => {
                report.moved += 1;
                Some(seal_checked(
                    sealer,
                    SealKind::ClientSecret,
                    client.uid.as_str(),
                    &secret,
                )?)
            }
            None => {
                report
                    .missing
                    .push(format!("client {}: its client secret", client.name));
                None
            }
        };
        store.write_with(|tx| tx.legacy_mut().client_moved(&client.uid, sealed.as_ref()))?;
        forget(&[Some(key)]);
    }

    let grants = store.legacy().grants()?;
    let listed = if grants.iter().any(|g| g.incomplete) {
        vault.list().ok().flatten()
    } else {
        None
    };
    for grant in grants {
        let owner = grant.uid.as_str();
        let version = |recorded: Option<u32>, kind| -> Result<Option<u32>> {
            match recorded {
                Some(v) if !grant.incomplete => Ok(Some(v)),
                _ => newest_version(vault, listed.as_deref(), kind, owner),
            }
        };
        let needs_refresh = matches!(
            grant.refresh_token,
            RefreshTokenState::Present | RefreshTokenState::PendingRevocation
        );
        let refresh_key = version(grant.refresh_version, SecretKind::RefreshToken)?
            .map(|v| SecretKey::refresh_token(owner, v))
            .transpose()?;
        let access_key = version(grant.access_version, SecretKind::AccessToken)?
            .map(|v| SecretKey::access_token(owner, v))
            .transpose()?;
        let refresh = match &refresh_key {
            Some(k) => vault.get(k)?,
            None => None,
        };
        let access = match &access_key {
            Some(k) => vault.get(k)?,
            None => None,
        };
        let refresh_sealed = refresh
            .as_deref()
            .map(|rt| seal_checked(sealer, SealKind::RefreshToken, owner, rt))
            .transpose()?;
        let access_sealed = access
            .as_deref()
            .map(|at| seal_checked(sealer, SealKind::AccessToken, owner, at))
            .transpose()?;
        report.moved +=
            usize::from(refresh_sealed.is_some()) + usize::from(access_sealed.is_some());
        const MISSING: &str = "its refresh token was missing from the OS keyring when this store \
                               was upgraded from TokenDesk 0.1; the user must sign in again";
        let moved = match (&refresh_sealed, needs_refresh) {
            (Some(s), _) => MovedRefreshToken::Sealed(s),
            (None, false) => MovedRefreshToken::NotNeeded,
            (None, true) => {
                report
                    .missing
                    .push(format!("grant {owner}: its refresh token"));
                MovedRefreshToken::Missing(MISSING)
            }
        };
        store.write_with(|tx| {
            tx.legacy_mut()
                .grant_moved(&grant.uid, moved, access_sealed.as_ref())
        })?;
        forget(&[refresh_key, access_key]);
    }

    for ex in store.legacy().exchanges()? {
        let owner = format!("x_{}", ex.code_sha256.get(..32).unwrap_or(&ex.code_sha256));
        let key = SecretKey::exchange_refresh_token(&owner, ex.refresh_version)?;
        let sealed = match vault.get(&key)? {
            Some(rt) => {
                report.moved += 1;
                let answer = KeptAnswer::refresh_token_only(&rt, now);
                let json = answer.to_json()?;
                Some(sealer.seal(SealKind::TokenResponse, &owner, &json)?)
            }
            None => {
                report
                    .missing
                    .push(format!("exchange {}: the refresh token it kept", ex.id.0));
                None
            }
        };
        store.write_with(|tx| tx.legacy_mut().exchange_moved(ex.id, sealed.as_ref()))?;
        forget(&[Some(key)]);
    }
    Ok(report)
}
