//! Compares the keyring keys SQLite references with those the keyring holds, after a crash or
//! at startup. It only reports: deleting a secret is a person's decision, never automatic.

use serde::Serialize;

use super::{SecretKey, SecretKind, SecretStore, VaultError};

/// One keyring secret that SQLite expects: `version` `None` means the row was written before
/// its secret (an incomplete exchange), so any version found is a candidate to adopt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VaultReference {
    pub kind: SecretKind,
    /// The grant or client uid that names the keyring entries.
    pub owner: String,
    pub version: Option<u32>,
    /// Where the reference lives, for people: e.g. `grants g_3f…` or `clients web-prod`.
    pub row: String,
}

impl VaultReference {
    pub fn key(&self) -> Result<Option<SecretKey>, VaultError> {
        self.version
            .map(|v| SecretKey::new(self.kind, &self.owner, v))
            .transpose()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "finding", rename_all = "snake_case")]
pub enum SweepFinding {
    /// SQLite points at a secret the keyring does not have: the grant needs re-consent (or
    /// the client secret a re-import). B.1 requires zero of these after recovery.
    Missing { reference: VaultReference },
    /// The keyring holds a newer version than SQLite references: the process stopped between
    /// writing a rotated token and committing its reference. Recovery may adopt it.
    NewerVersion {
        reference: VaultReference,
        newer: SecretKey,
    },
    /// A key of ours that nothing references: a superseded version or a write whose commit
    /// failed. Reported so a person can delete it.
    Unreferenced { key: SecretKey },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    /// References whose secret is present.
    pub present: usize,
    pub findings: Vec<SweepFinding>,
    /// Whether the keyring could list its keys; without it unreferenced keys cannot be found
    /// and newer versions only one step ahead are probed.
    pub listed: bool,
}

impl SweepReport {
    pub fn is_clean(&self) -> bool {
        self.findings.is_empty()
    }
}

/// Reads the keyring (never writes or deletes) and classifies every key against `references`.
pub fn sweep(
    vault: &dyn SecretStore,
    references: &[VaultReference],
) -> Result<SweepReport, VaultError> {
    let listed = vault.list()?;
    let mut present = 0;
    let mut findings = Vec::new();
    let mut explained: Vec<SecretKey> = Vec::new();

    for reference in references {
        let referenced = reference.key()?;
        if let Some(key) = &referenced {
            let there = match &listed {
                Some(keys) => keys.contains(key),
                None => vault.contains(key)?,
            };
            if there {
                present += 1;
                explained.push(key.clone());
            } else {
                findings.push(SweepFinding::Missing {
                    reference: reference.clone(),
                });
            }
        }

        let current = reference.version.unwrap_or(0);
        let newer = match &listed {
            Some(keys) => keys
                .iter()
                .filter(|k| {
                    k.kind() == reference.kind
                        && k.owner() == reference.owner
                        && k.version() > current
                })
                .max_by_key(|k| k.version())
                .cloned(),
            None => {
                let candidate = SecretKey::new(reference.kind, &reference.owner, current + 1)?;
                vault.contains(&candidate)?.then_some(candidate)
            }
        };
        if let Some(newer) = newer {
            explained.push(newer.clone());
            findings.push(SweepFinding::NewerVersion {
                reference: reference.clone(),
                newer,
            });
        }
    }

    if let Some(keys) = &listed {
        for key in keys {
            if !explained.contains(key) {
                findings.push(SweepFinding::Unreferenced { key: key.clone() });
            }
        }
    }

    Ok(SweepReport {
        present,
        findings,
        listed: listed.is_some(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::vault::{MemoryStore, VaultOp};

    fn reference(owner: &str, version: Option<u32>) -> VaultReference {
        VaultReference {
            kind: SecretKind::RefreshToken,
            owner: owner.into(),
            version,
            row: format!("grants {owner}"),
        }
    }

    fn key(owner: &str, v: u32) -> SecretKey {
        SecretKey::refresh_token(owner, v).unwrap()
    }

    #[test]
    fn clean_when_keyring_matches_sqlite() {
        let vault = MemoryStore::new();
        vault.set(&key("g1", 1), "rt").unwrap();
        let report = sweep(&vault, &[reference("g1", Some(1))]).unwrap();
        assert!(report.is_clean(), "{report:?}");
        assert_eq!(report.present, 1);
    }

    #[test]
    fn reports_missing_newer_and_unreferenced_without_deleting() {
        let vault = MemoryStore::new();
        vault.set(&key("g1", 1), "old").unwrap(); // superseded by v2, never cleaned up
        vault.set(&key("g1", 2), "current").unwrap();
        vault.set(&key("g2", 4), "rotated, not committed").unwrap();
        vault.set(&key("g2", 3), "committed").unwrap();
        vault
            .set(&key("g3", 1), "exchange crashed before commit")
            .unwrap();
        vault.set(&key("gone", 1), "row deleted").unwrap();
        let refs = [
            reference("g1", Some(2)),
            reference("g2", Some(3)),
            reference("g3", None),
            reference("g4", Some(1)),
        ];
        let report = sweep(&vault, &refs).unwrap();

        assert!(report.findings.contains(&SweepFinding::Missing {
            reference: refs[3].clone()
        }));
        assert!(report.findings.contains(&SweepFinding::NewerVersion {
            reference: refs[1].clone(),
            newer: key("g2", 4)
        }));
        assert!(
            report.findings.contains(&SweepFinding::NewerVersion {
                reference: refs[2].clone(),
                newer: key("g3", 1)
            }),
            "an incomplete grant's secret is adoptable, not an orphan"
        );
        assert!(
            report
                .findings
                .contains(&SweepFinding::Unreferenced { key: key("g1", 1) })
        );
        assert!(report.findings.contains(&SweepFinding::Unreferenced {
            key: key("gone", 1)
        }));
        assert_eq!(report.findings.len(), 5, "{report:#?}");
        assert_eq!(vault.len(), 6, "the sweep must never delete a secret");
        assert_eq!(vault.calls(VaultOp::Delete), 0);
    }

    #[test]
    fn without_listing_probes_the_next_version() {
        let vault = MemoryStore::without_listing();
        vault.set(&key("g1", 2), "rotated").unwrap();
        vault.set(&key("g1", 1), "committed").unwrap();
        let report = sweep(&vault, &[reference("g1", Some(1))]).unwrap();
        assert!(!report.listed);
        assert_eq!(
            report.findings,
            vec![SweepFinding::NewerVersion {
                reference: reference("g1", Some(1)),
                newer: key("g1", 2)
            }]
        );
    }

    #[test]
    fn a_locked_keyring_fails_the_sweep_instead_of_reporting_everything_missing() {
        let vault = MemoryStore::new();
        vault.fail(VaultOp::List, VaultError::Locked);
        assert!(matches!(
            sweep(&vault, &[reference("g1", Some(1))]),
            Err(VaultError::Locked)
        ));
    }
}
