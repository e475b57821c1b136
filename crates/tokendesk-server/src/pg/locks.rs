//! What two replicas must not do at once (refresh one grant; run or recover one exchange),
//! coordinated by PostgreSQL session-level advisory locks: the counterpart of the embedded
//! store's lock files.
//!
//! A held lock is a connection of its own (from a pool kept apart from the statements' pool,
//! so held locks never starve the queries their holders run) whose session holds the lock.
//! Dropping the guard unlocks on that session before the connection goes back to the pool; if
//! that fails, or the guard is dropped where it cannot run, the connection is closed instead,
//! which ends the session and its locks. A replica that dies ends its sessions too: nothing
//! is left behind and nothing has to expire.

use std::fmt;

use deadpool_postgres::{Object, Pool};
use tokio_postgres::NoTls;

use super::error::Result;

/// The kinds of lock, in each key's top byte, so a grant's and an exchange's never collide.
const GRANT: u8 = b'G';
const EXCHANGE: u8 = b'X';

/// The transaction-level lock migrations run under.
pub(crate) const MIGRATION_LOCK: i64 = i64::from_be_bytes(*b"Mtokdesk");

/// The lock of one grant (held while it is refreshed or its tokens replaced).
pub(crate) fn grant_key(grant_uid: &str) -> i64 {
    key(GRANT, grant_uid)
}

/// The lock of one exchange, named by its code's row name (never the code).
pub(crate) fn exchange_key(row_name: &str) -> i64 {
    key(EXCHANGE, row_name)
}

/// The kind, then 56 bits of the name's SHA-256: stable across builds, platforms and
/// replicas (a `Hasher` is not), and distinct for different names in practice.
fn key(kind: u8, name: &str) -> i64 {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, name.as_bytes());
    let mut bytes = [0u8; 8];
    bytes[0] = kind;
    bytes[1..].copy_from_slice(&digest.as_ref()[..7]);
    i64::from_be_bytes(bytes)
}

/// A pooled connection that is closed, not returned to the pool, unless it is known to hold
/// no lock: the safe default for every way out (an error, a cancelled wait, a panic).
struct Session(Option<Object>);

impl Session {
    fn client(&self) -> &Object {
        // Only `reuse` (by value) and `drop` take the connection out.
        self.0
            .as_ref()
            .expect("a session has its connection until it is consumed")
    }

    /// Back to the pool: it holds no lock.
    fn reuse(mut self) {
        drop(self.0.take());
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Some(conn) = self.0.take() {
            // Out of the pool for good; dropping the client ends the session.
            drop(Object::take(conn));
        }
    }
}

/// A held advisory lock; dropping it releases the lock.
pub(crate) struct AdvisoryLock {
    session: Option<Session>,
    key: i64,
}

impl fmt::Debug for AdvisoryLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdvisoryLock")
            .field("key", &format_args!("{:#018x}", self.key))
            .finish()
    }
}

impl Drop for AdvisoryLock {
    fn drop(&mut self) {
        let Some(session) = self.session.take() else {
            return;
        };
        let key = self.key;
        // Unlocking is a round trip: done on the runtime. Without one (the process is ending),
        // the session is dropped, and closing it releases the lock.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(unlock(session, key));
        }
    }
}

async fn unlock(session: Session, key: i64) {
    match session
        .client()
        .query_one("SELECT pg_advisory_unlock($1)", &[&key])
        .await
        .and_then(|row| row.try_get::<_, bool>(0))
    {
        Ok(true) => session.reuse(),
        // Not held by this session after all, or no answer: the session is closed (dropped),
        // so whatever it holds is released with it.
        Ok(false) => tracing::warn!(
            key,
            "an advisory lock was not held by its guard's session; closing the session"
        ),
        Err(err) => tracing::warn!(key, %err, "unlocking failed; closing the session instead"),
    }
}

/// Waits for the lock `key` on a session from `pool` (the lock pool's sessions have no
/// statement or lock timeout: a holder may be in the middle of a network call that takes
/// seconds). If this future is dropped while waiting, the wait is cancelled on the server
/// and the session closed, so the lock is never taken for nobody.
pub(crate) async fn wait(pool: &Pool, key: i64) -> Result<AdvisoryLock> {
    let session = Session(Some(pool.get().await?));
    let client = session.client();
    let cancel_on_drop = CancelOnDrop(Some(client.cancel_token()));
    client
        .execute("SELECT pg_advisory_lock($1)", &[&key])
        .await?;
    cancel_on_drop.disarm();
    Ok(AdvisoryLock {
        session: Some(session),
        key,
    })
}

/// Takes the lock `key` if no session holds it.
pub(crate) async fn try_take(pool: &Pool, key: i64) -> Result<Option<AdvisoryLock>> {
    let session = Session(Some(pool.get().await?));
    let client = session.client();
    let taken: bool = client
        .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
        .await?
        .try_get(0)?;
    if taken {
        Ok(Some(AdvisoryLock {
            session: Some(session),
            key,
        }))
    } else {
        session.reuse();
        Ok(None)
    }
}

/// Cancels the running statement of a session if dropped armed (its future was dropped).
struct CancelOnDrop(Option<tokio_postgres::CancelToken>);

impl CancelOnDrop {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(token) = self.0.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(async move {
                if let Err(err) = token.cancel_query(NoTls).await {
                    tracing::warn!(%err, "cancelling an abandoned lock wait failed");
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stable_and_kinds_never_share_one() {
        let name = "g_0123456789abcdef0123456789abcdef";
        assert_eq!(
            grant_key(name),
            grant_key(name),
            "every replica must compute the same key"
        );
        assert_ne!(
            grant_key(name),
            exchange_key(name),
            "a grant and an exchange of the same name are different locks"
        );
        assert_eq!(grant_key(name).to_be_bytes()[0], GRANT);
        assert_eq!(exchange_key(name).to_be_bytes()[0], EXCHANGE);
        assert_ne!(grant_key(name), grant_key("g_other"));
        // A fixed value: a change of the hash would let an old and a new replica of one
        // deployment lock different keys for the same grant.
        assert_eq!(
            grant_key("g_a"),
            i64::from_be_bytes([b'G', 0xa7, 0x45, 0x35, 0x15, 0x32, 0x81, 0xe2])
        );
    }
}
