//! Sealing: every secret TokenDesk keeps (refresh and access tokens, client secrets, a kept
//! token response) is encrypted with AES-256-GCM under a data key before it reaches the
//! database, so the database holds no plaintext secret and a token commits with its row.
//!
//! Two levels, as Vault, Yaak and Nango do it: a few random *data keys* seal the secrets and
//! are stored in the database themselves, each *wrapped* (encrypted) by a *key-encryption key*
//! that never touches the database: the OS keyring of the embedded store, a key file (or a
//! KMS, behind [`KeyWrapper`]) on the team server. Rotating the key-encryption key re-wraps
//! the data keys and touches no token. The associated data of every seal names the secret's
//! kind and row, so a ciphertext copied to another row or kind does not open.
//!
//! A sealed value is `0x01 | data key id (16 bytes) | nonce (12) | ciphertext | tag (16)`.

mod kek;
mod passphrase;

use std::collections::HashMap;
use std::fmt;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use zeroize::Zeroizing;

pub use kek::{KEY_LEN, KeyWrapper, LocalKey};
pub use passphrase::{ExportedKey, export_key, import_key};

/// What a sealed value holds: part of its associated data, so kinds cannot be swapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SealKind {
    RefreshToken,
    AccessToken,
    ClientSecret,
    /// A whole token response from Google, kept until its ID token is verified.
    TokenResponse,
}

impl SealKind {
    fn label(self) -> &'static str {
        match self {
            SealKind::RefreshToken => "refresh_token",
            SealKind::AccessToken => "access_token",
            SealKind::ClientSecret => "client_secret",
            SealKind::TokenResponse => "token_response",
        }
    }
}

/// A data key's id: 16 random bytes, in every value it sealed.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DataKeyId([u8; 16]);

impl DataKeyId {
    pub fn to_hex(self) -> String {
        crate::store::hex(&self.0)
    }

    pub fn parse_hex(text: &str) -> Option<Self> {
        let bytes = crate::store::unhex(text)?;
        Some(Self(bytes.try_into().ok()?))
    }
}

impl fmt::Debug for DataKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DataKeyId({})", self.to_hex())
    }
}

/// A data key as the database stores it: wrapped by one key-encryption key. A data key may
/// be wrapped by several (during a rotation), one row each.
#[derive(Clone, PartialEq, Eq)]
pub struct WrappedDataKey {
    pub data_key: DataKeyId,
    /// [`KeyWrapper::id`] of the key that wrapped it.
    pub kek_id: String,
    pub wrapped: Vec<u8>,
}

impl fmt::Debug for WrappedDataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WrappedDataKey")
            .field("data_key", &self.data_key)
            .field("kek_id", &self.kek_id)
            .finish_non_exhaustive()
    }
}

/// A sealed secret: ciphertext only, safe to store and to print (its length).
#[derive(Clone, PartialEq, Eq)]
pub struct SealedSecret(Vec<u8>);

impl SealedSecret {
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The data key that sealed it, if the value is well-formed.
    pub fn data_key(&self) -> Option<DataKeyId> {
        let id = self.0.get(1..17)?;
        Some(DataKeyId(id.try_into().ok()?))
    }
}

impl fmt::Debug for SealedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealedSecret({} bytes)", self.0.len())
    }
}

const FORMAT: u8 = 1;
const HEADER: usize = 1 + 16 + NONCE_LEN;

/// Sealing failures. None carries a secret or key material.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    #[error(
        "the key-encryption key {kek_id} did not seal this database (it wraps its data keys \
         with {known}). Use the key this database was created with: for the embedded store \
         `tokendesk key import FILE` with a key exported from the machine that made it; for \
         the team server the --key-file it was started with. Nothing was changed"
    )]
    WrongKey { kek_id: String, known: String },
    #[error(
        "a sealed {kind} of {row} does not open: it was altered, copied from another row, or \
         sealed under another key. It is not used; the user must sign in again (or the client \
         be added again)"
    )]
    Tampered { kind: &'static str, row: String },
    #[error(
        "a sealed {kind} of {row} names a data key this database does not have: restore the \
         database together with its data keys"
    )]
    UnknownDataKey { kind: &'static str, row: String },
    #[error("the system random generator failed; nothing was sealed")]
    Random,
    #[error("cannot read the key: {reason}")]
    BadKey { reason: String },
    #[error("the exported key does not open with this passphrase (or the file was altered)")]
    WrongPassphrase,
}

impl SealError {
    pub fn code(&self) -> &'static str {
        match self {
            SealError::WrongKey { .. } => "wrong_key",
            SealError::Tampered { .. } => "sealed_secret_tampered",
            SealError::UnknownDataKey { .. } => "unknown_data_key",
            SealError::Random => "random_failed",
            SealError::BadKey { .. } => "bad_key",
            SealError::WrongPassphrase => "wrong_passphrase",
        }
    }
}

pub(crate) fn random<const N: usize>() -> Result<[u8; N], SealError> {
    let mut bytes = [0u8; N];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| SealError::Random)?;
    Ok(bytes)
}

fn aes_key(bytes: &[u8]) -> Result<LessSafeKey, SealError> {
    UnboundKey::new(&AES_256_GCM, bytes)
        .map(LessSafeKey::new)
        .map_err(|_| SealError::BadKey {
            reason: "not a 256-bit key".into(),
        })
}

/// The associated data of a seal: the format, the kind and the row, so a ciphertext is bound
/// to the place it was made for.
fn seal_aad(kind: SealKind, row: &str) -> Vec<u8> {
    format!("tokendesk-seal/1/{}/{row}", kind.label()).into_bytes()
}

/// The associated data of a data key's wrap: the data key and the key-encryption key.
fn wrap_aad(data_key: DataKeyId, kek_id: &str) -> Vec<u8> {
    format!("tokendesk-data-key/1/{}/{kek_id}", data_key.to_hex()).into_bytes()
}

/// The unwrapped data keys of one database: seals with the newest, opens with any.
pub struct Sealer {
    keys: HashMap<DataKeyId, LessSafeKey>,
    active: DataKeyId,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealer")
            .field("data_keys", &self.keys.len())
            .field("active", &self.active)
            .finish()
    }
}

impl Sealer {
    /// A new random data key, and its wrap by `kek` for the database.
    pub fn new_data_key(kek: &dyn KeyWrapper) -> Result<WrappedDataKey, SealError> {
        let id = DataKeyId(random()?);
        let raw = Zeroizing::new(random::<32>()?);
        let wrapped = kek.wrap(raw.as_ref(), &wrap_aad(id, kek.id()))?;
        Ok(WrappedDataKey {
            data_key: id,
            kek_id: kek.id().to_owned(),
            wrapped,
        })
    }

    /// Unwraps the data keys `kek` wrapped. The last one listed seals new values (the caller
    /// lists them oldest first). Refuses a key that wrapped none of them: a database is never
    /// sealed under two unrelated keys.
    pub fn unlock(wraps: &[WrappedDataKey], kek: &dyn KeyWrapper) -> Result<Self, SealError> {
        let mut keys = HashMap::new();
        let mut active = None;
        for w in wraps.iter().filter(|w| w.kek_id == kek.id()) {
            let raw = kek
                .unwrap(&w.wrapped, &wrap_aad(w.data_key, &w.kek_id))
                .map_err(|_| wrong_key(wraps, kek))?;
            keys.insert(w.data_key, aes_key(&raw)?);
            active = Some(w.data_key);
        }
        match active {
            Some(active) => Ok(Self { keys, active }),
            None => Err(wrong_key(wraps, kek)),
        }
    }

    /// Re-wraps every data key this sealer holds under `new_kek`, for a rotation: `wraps` are
    /// the database's wraps under the current key (to unwrap with `old_kek`).
    pub fn rewrap(
        wraps: &[WrappedDataKey],
        old_kek: &dyn KeyWrapper,
        new_kek: &dyn KeyWrapper,
    ) -> Result<Vec<WrappedDataKey>, SealError> {
        let mut out = Vec::new();
        for w in wraps.iter().filter(|w| w.kek_id == old_kek.id()) {
            let raw = old_kek
                .unwrap(&w.wrapped, &wrap_aad(w.data_key, &w.kek_id))
                .map_err(|_| wrong_key(wraps, old_kek))?;
            out.push(WrappedDataKey {
                data_key: w.data_key,
                kek_id: new_kek.id().to_owned(),
                wrapped: new_kek.wrap(&raw, &wrap_aad(w.data_key, new_kek.id()))?,
            });
        }
        if out.is_empty() {
            return Err(wrong_key(wraps, old_kek));
        }
        Ok(out)
    }

    /// Seals `plaintext` as the `kind` secret of `row`.
    pub fn seal(
        &self,
        kind: SealKind,
        row: &str,
        plaintext: &[u8],
    ) -> Result<SealedSecret, SealError> {
        let key = &self.keys[&self.active];
        let nonce_bytes = random::<NONCE_LEN>()?;
        let mut out = Vec::with_capacity(HEADER + plaintext.len() + 16);
        out.push(FORMAT);
        out.extend_from_slice(&self.active.0);
        out.extend_from_slice(&nonce_bytes);
        let mut body = Zeroizing::new(plaintext.to_vec());
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce_bytes),
            Aad::from(seal_aad(kind, row)),
            &mut *body,
        )
        .map_err(|_| SealError::Random)?;
        out.extend_from_slice(&body);
        Ok(SealedSecret(out))
    }

    pub fn seal_str(
        &self,
        kind: SealKind,
        row: &str,
        plaintext: &str,
    ) -> Result<SealedSecret, SealError> {
        self.seal(kind, row, plaintext.as_bytes())
    }

    /// Opens what [`seal`](Self::seal) made for the same `kind` and `row`.
    pub fn open(
        &self,
        kind: SealKind,
        row: &str,
        sealed: &SealedSecret,
    ) -> Result<Zeroizing<Vec<u8>>, SealError> {
        let tampered = || SealError::Tampered {
            kind: kind.label(),
            row: row.to_owned(),
        };
        let bytes = sealed.as_bytes();
        if bytes.len() < HEADER + 16 || bytes[0] != FORMAT {
            return Err(tampered());
        }
        let id = sealed.data_key().ok_or_else(tampered)?;
        let key = self
            .keys
            .get(&id)
            .ok_or_else(|| SealError::UnknownDataKey {
                kind: kind.label(),
                row: row.to_owned(),
            })?;
        let nonce = Nonce::try_assume_unique_for_key(&bytes[17..HEADER]).map_err(|_| tampered())?;
        let mut body = Zeroizing::new(bytes[HEADER..].to_vec());
        let plain_len = key
            .open_in_place(nonce, Aad::from(seal_aad(kind, row)), &mut body)
            .map_err(|_| tampered())?
            .len();
        body.truncate(plain_len);
        Ok(body)
    }

    /// [`open`](Self::open) for text secrets.
    pub fn open_string(
        &self,
        kind: SealKind,
        row: &str,
        sealed: &SealedSecret,
    ) -> Result<Zeroizing<String>, SealError> {
        let bytes = self.open(kind, row, sealed)?;
        match std::str::from_utf8(&bytes) {
            Ok(text) => Ok(Zeroizing::new(text.to_owned())),
            Err(_) => Err(SealError::Tampered {
                kind: kind.label(),
                row: row.to_owned(),
            }),
        }
    }
}

fn wrong_key(wraps: &[WrappedDataKey], kek: &dyn KeyWrapper) -> SealError {
    let mut known: Vec<&str> = wraps.iter().map(|w| w.kek_id.as_str()).collect();
    known.sort_unstable();
    known.dedup();
    SealError::WrongKey {
        kek_id: kek.id().to_owned(),
        known: if known.is_empty() {
            "no key at all".to_owned()
        } else {
            known.join(", ")
        },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn sealer() -> (Sealer, LocalKey, Vec<WrappedDataKey>) {
        let kek = LocalKey::generate().unwrap();
        let wraps = vec![Sealer::new_data_key(&kek).unwrap()];
        (Sealer::unlock(&wraps, &kek).unwrap(), kek, wraps)
    }

    #[test]
    fn a_sealed_value_opens_for_its_kind_and_row_only() {
        let (s, _, _) = sealer();
        let sealed = s
            .seal_str(SealKind::RefreshToken, "g_1", "1//canary")
            .unwrap();
        assert_eq!(
            *s.open_string(SealKind::RefreshToken, "g_1", &sealed)
                .unwrap(),
            "1//canary"
        );
        assert!(
            matches!(
                s.open(SealKind::RefreshToken, "g_2", &sealed),
                Err(SealError::Tampered { .. })
            ),
            "a ciphertext copied to another row must not open"
        );
        assert!(
            matches!(
                s.open(SealKind::AccessToken, "g_1", &sealed),
                Err(SealError::Tampered { .. })
            ),
            "a ciphertext copied to another kind must not open"
        );
    }

    #[test]
    fn the_ciphertext_holds_no_plaintext_and_differs_each_time() {
        let (s, _, _) = sealer();
        let a = s
            .seal_str(SealKind::AccessToken, "g_1", "ya29.canary")
            .unwrap();
        let b = s
            .seal_str(SealKind::AccessToken, "g_1", "ya29.canary")
            .unwrap();
        assert_ne!(a, b, "a fresh nonce for every seal");
        assert!(
            !a.as_bytes().windows(6).any(|w| w == b"canary"),
            "no plaintext in the sealed bytes"
        );
        assert!(!format!("{a:?}").contains("canary"));
    }

    #[test]
    fn a_flipped_bit_anywhere_is_refused() {
        let (s, _, _) = sealer();
        let sealed = s.seal_str(SealKind::ClientSecret, "c_1", "secret").unwrap();
        for i in 0..sealed.as_bytes().len() {
            let mut bytes = sealed.as_bytes().to_vec();
            bytes[i] ^= 0x01;
            assert!(
                s.open(
                    SealKind::ClientSecret,
                    "c_1",
                    &SealedSecret::from_bytes(bytes)
                )
                .is_err(),
                "byte {i} altered must not open"
            );
        }
    }

    #[test]
    fn another_key_encryption_key_is_refused_and_named() {
        let (_, _, wraps) = sealer();
        let other = LocalKey::generate().unwrap();
        let err = Sealer::unlock(&wraps, &other).unwrap_err();
        assert!(matches!(err, SealError::WrongKey { .. }), "{err:?}");
        assert!(err.to_string().contains(other.id()), "{err}");
        assert!(err.to_string().contains("did not seal this database"));
    }

    #[test]
    fn rotation_rewraps_the_data_keys_and_old_seals_still_open() {
        let (s, old, wraps) = sealer();
        let sealed = s.seal_str(SealKind::RefreshToken, "g_1", "1//rt").unwrap();
        let new = LocalKey::generate().unwrap();
        let rewrapped = Sealer::rewrap(&wraps, &old, &new).unwrap();
        assert!(rewrapped.iter().all(|w| w.kek_id == new.id()));
        let after = Sealer::unlock(&rewrapped, &new).unwrap();
        assert_eq!(
            *after
                .open_string(SealKind::RefreshToken, "g_1", &sealed)
                .unwrap(),
            "1//rt",
            "a rotation re-wraps data keys; tokens sealed before it still open"
        );
        assert!(
            Sealer::unlock(&rewrapped, &old).is_err(),
            "the retired key opens nothing once only the new wraps remain"
        );
    }
}
