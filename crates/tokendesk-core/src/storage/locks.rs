//! Locks shared by every process on one data directory: the `tokendesk` command, the receiver
//! (`tokendesk serve`) and the desktop window may all run at once on one store.
//!
//! Two things must not be done by two processes at the same time, and SQLite's own locking
//! cannot cover them because they span network calls and keyring writes:
//! - refreshing one grant: with a provider that rotates refresh tokens, two processes sending
//!   the same refresh token is reuse, and the provider kills the grant (SECURITY §B.2);
//! - recovering an exchange: a process starting up must not take another, live process's
//!   exchange in progress for a crashed one.
//!
//! The desktop app uses them too, for its per-window sandboxes.
//!
//! Each lock is an OS file lock (`flock` on Unix, `LockFileEx` on Windows) on a small file in
//! `DATA/locks/`. The OS releases it when its holder dies, so a killed process never leaves a
//! lock behind and nothing has to expire.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use crate::store::StoreError;

type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The folder of lock files of one data directory.
#[derive(Debug, Clone)]
pub struct Locks {
    dir: PathBuf,
}

/// A held lock; dropping it releases the lock (and removes the file, where asked).
#[derive(Debug)]
pub struct LockGuard {
    file: Option<File>,
    path: PathBuf,
    remove_on_release: bool,
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        // Closing the file releases the lock. A file removed while another process waits on
        // it is harmless here: every holder re-reads the store under the lock, and a waiter
        // that locked a removed file finds the work already finished.
        drop(self.file.take());
        if self.remove_on_release {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

impl Locks {
    /// The locks of `data_dir`: files in its `locks/` folder, created if missing. The folder
    /// is its owner's only (0700, fixed if it was made wider): another local user who could
    /// open a lock file could hold it, and stall refreshes or hide a dead exchange from
    /// recovery.
    pub fn open(data_dir: &Path) -> Result<Self> {
        let dir = data_dir.join("locks");
        std::fs::create_dir_all(&dir).map_err(|e| lock_error(&dir, &e))?;
        restrict(&dir, 0o700)?;
        Ok(Self { dir })
    }

    fn path(&self, name: &str) -> PathBuf {
        debug_assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "lock names are plain file names"
        );
        self.dir.join(format!("{name}.lock"))
    }

    fn file(path: &Path) -> Result<File> {
        let mut options = OpenOptions::new();
        options.create(true).truncate(false).write(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let file = options.open(path).map_err(|e| lock_error(path, &e))?;
        // A file made by an older version may be wider.
        restrict(path, 0o600)?;
        Ok(file)
    }

    /// Waits for the lock `name`, on the blocking pool (a holder may be in the middle of a
    /// network call that takes seconds).
    pub async fn exclusive(&self, name: &str, remove_on_release: bool) -> Result<LockGuard> {
        let path = self.path(name);
        let file = Self::file(&path)?;
        let waited = path.clone();
        let file = tokio::task::spawn_blocking(move || file.lock().map(|()| file))
            .await
            .map_err(|e| StoreError::Lock {
                path: waited.display().to_string(),
                reason: format!("the wait did not finish: {e}"),
            })?
            .map_err(|e| lock_error(&waited, &e))?;
        Ok(LockGuard {
            file: Some(file),
            path,
            remove_on_release,
        })
    }

    /// Takes the lock `name` if nobody holds it: `None` means a live process does.
    pub fn try_exclusive(&self, name: &str, remove_on_release: bool) -> Result<Option<LockGuard>> {
        let path = self.path(name);
        let file = Self::file(&path)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(LockGuard {
                file: Some(file),
                path,
                remove_on_release,
            })),
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Error(e)) => Err(lock_error(&path, &e)),
        }
    }
}

fn lock_error(path: &Path, e: &std::io::Error) -> StoreError {
    StoreError::Lock {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

#[cfg(unix)]
fn restrict(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let meta = std::fs::metadata(path).map_err(|e| lock_error(path, &e))?;
    if meta.permissions().mode() & 0o777 != mode {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .map_err(|e| lock_error(path, &e))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn restrict(_path: &Path, _mode: u32) -> Result<()> {
    // Windows: the per-user profile folder's ACL already restricts it.
    Ok(())
}

/// The lock held while one grant is refreshed (or its tokens replaced by a re-consent).
pub(crate) fn grant_lock_name(grant_uid: &str) -> String {
    format!("grant-{grant_uid}")
}

/// The lock held by the process exchanging a code, named after the code's row name (half its
/// SHA-256: the code itself never becomes a file name).
pub(crate) fn exchange_lock_name(row_name: &str) -> String {
    format!("exchange-{row_name}")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_held_lock_is_seen_as_held_until_released() {
        let dir = tempfile::tempdir().unwrap();
        let locks = Locks::open(dir.path()).unwrap();
        let held = locks.exclusive("grant-a", false).await.unwrap();
        // A second open file description conflicts, as another process's would.
        assert!(locks.try_exclusive("grant-a", false).unwrap().is_none());
        assert!(locks.try_exclusive("grant-b", false).unwrap().is_some());
        drop(held);
        assert!(locks.try_exclusive("grant-a", false).unwrap().is_some());
    }

    #[tokio::test]
    async fn a_waiter_gets_the_lock_when_the_holder_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let locks = Locks::open(dir.path()).unwrap();
        let held = locks.exclusive("exchange-x", true).await.unwrap();
        let waiter = {
            let locks = locks.clone();
            tokio::spawn(async move { locks.exclusive("exchange-x", true).await.map(drop) })
        };
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(
            !waiter.is_finished(),
            "the waiter waits while the lock is held"
        );
        drop(held);
        waiter.await.unwrap().unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn lock_files_are_their_owners_only_even_when_made_wider_before() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let locks_dir = dir.path().join("locks");
        std::fs::create_dir_all(&locks_dir).unwrap();
        std::fs::set_permissions(&locks_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let old = locks_dir.join("grant-z.lock");
        std::fs::write(&old, b"").unwrap();
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).unwrap();
        let locks = Locks::open(dir.path()).unwrap();
        drop(locks.try_exclusive("grant-z", false).unwrap().unwrap());
        drop(locks.try_exclusive("grant-new", false).unwrap().unwrap());
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(
            mode(&locks_dir),
            0o700,
            "another user must not reach the lock files"
        );
        assert_eq!(
            mode(&old),
            0o600,
            "a lock file made wider by an older version is fixed"
        );
        assert_eq!(mode(&locks.path("grant-new")), 0o600);
    }

    #[test]
    fn released_files_are_removed_where_asked() {
        let dir = tempfile::tempdir().unwrap();
        let locks = Locks::open(dir.path()).unwrap();
        let path = locks.path("exchange-y");
        drop(locks.try_exclusive("exchange-y", true).unwrap().unwrap());
        assert!(!path.exists());
        drop(locks.try_exclusive("grant-y", false).unwrap().unwrap());
        assert!(locks.path("grant-y").exists());
    }
}
