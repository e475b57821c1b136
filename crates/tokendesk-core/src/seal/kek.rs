//! Key-encryption keys: the small trait a key source implements (a local 256-bit key from the
//! OS keyring or a key file; a cloud KMS the same way), and the local key itself.

use std::fmt;
use std::path::Path;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use zeroize::Zeroizing;

use super::{SealError, random};

/// Bytes in a local key-encryption key.
pub const KEY_LEN: usize = 32;

/// Wraps and unwraps data keys. Called when a database is opened and when its key rotates,
/// never per token, so an implementation may make a network call (a KMS's Encrypt and
/// Decrypt: `wrap` sends the data key with `aad` as its encryption context, `unwrap` the
/// reverse) and block.
pub trait KeyWrapper: Send + Sync + fmt::Debug {
    /// A stable, non-secret name of this key, stored beside each wrap it makes (for a KMS: the
    /// key's ARN or resource name, reduced to `[A-Za-z0-9_-]`).
    fn id(&self) -> &str;
    fn wrap(&self, data_key: &[u8], aad: &[u8]) -> Result<Vec<u8>, SealError>;
    fn unwrap(&self, wrapped: &[u8], aad: &[u8]) -> Result<Zeroizing<Vec<u8>>, SealError>;
}

/// A 256-bit key-encryption key held in memory: read from the OS keyring (embedded) or a key
/// file (team server). Wraps with AES-256-GCM.
pub struct LocalKey {
    bytes: Zeroizing<[u8; KEY_LEN]>,
    id: String,
}

impl fmt::Debug for LocalKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// How a local key is written as text, in the keyring and in key files.
const TEXT_PREFIX: &str = "tokendesk-key-v1:";

impl LocalKey {
    pub fn generate() -> Result<Self, SealError> {
        Ok(Self::from_bytes(Zeroizing::new(random::<KEY_LEN>()?)))
    }

    pub fn from_bytes(bytes: Zeroizing<[u8; KEY_LEN]>) -> Self {
        // The id names the key without revealing it: a digest of a random 256-bit key.
        let digest = aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            &[b"tokendesk-kek-id/1/".as_slice(), bytes.as_slice()].concat(),
        );
        let id = format!("k{}", crate::store::hex(&digest.as_ref()[..8]));
        Self { bytes, id }
    }

    /// The key as text (`tokendesk-key-v1:<base64url>`), for the keyring or a key file.
    pub fn to_text(&self) -> Zeroizing<String> {
        Zeroizing::new(format!(
            "{TEXT_PREFIX}{}",
            URL_SAFE_NO_PAD.encode(self.bytes.as_slice())
        ))
    }

    pub fn from_text(text: &str) -> Result<Self, SealError> {
        let bad = |reason: &str| SealError::BadKey {
            reason: reason.to_owned(),
        };
        let encoded = text
            .trim()
            .strip_prefix(TEXT_PREFIX)
            .ok_or_else(|| bad("it does not start with tokendesk-key-v1: (not a TokenDesk key)"))?;
        let decoded = Zeroizing::new(
            URL_SAFE_NO_PAD
                .decode(encoded)
                .map_err(|_| bad("its base64 is damaged"))?,
        );
        let bytes: [u8; KEY_LEN] = decoded
            .as_slice()
            .try_into()
            .map_err(|_| bad("it is not 256 bits long"))?;
        Ok(Self::from_bytes(Zeroizing::new(bytes)))
    }

    pub(crate) fn bytes(&self) -> &[u8; KEY_LEN] {
        &self.bytes
    }

    /// Writes a new key file readable by its owner only. Never overwrites: a key file that
    /// exists may be the only key to a database.
    pub fn write_new_file(&self, path: &Path) -> Result<(), std::io::Error> {
        use std::io::Write as _;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let mut file = options.open(path)?;
        file.write_all(self.to_text().as_bytes())?;
        file.write_all(b"\n")?;
        file.sync_all()
    }

    /// Reads a key file, refusing one that other users can read (as ssh refuses such keys).
    pub fn read_file(path: &Path) -> Result<Self, SealError> {
        let shown = path.display();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let meta = std::fs::metadata(path).map_err(|e| SealError::BadKey {
                reason: format!("{shown}: {e}"),
            })?;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(SealError::BadKey {
                    reason: format!(
                        "{shown} is readable by other users (mode {mode:o}): `chmod 600 {shown}`"
                    ),
                });
            }
        }
        let text =
            Zeroizing::new(
                std::fs::read_to_string(path).map_err(|e| SealError::BadKey {
                    reason: format!("{shown}: {e}"),
                })?,
            );
        Self::from_text(&text).map_err(|e| match e {
            SealError::BadKey { reason } => SealError::BadKey {
                reason: format!("{shown}: {reason}"),
            },
            other => other,
        })
    }

    fn aead(&self) -> Result<LessSafeKey, SealError> {
        UnboundKey::new(&AES_256_GCM, self.bytes.as_slice())
            .map(LessSafeKey::new)
            .map_err(|_| SealError::BadKey {
                reason: "not a 256-bit key".into(),
            })
    }
}

impl KeyWrapper for LocalKey {
    fn id(&self) -> &str {
        &self.id
    }

    fn wrap(&self, data_key: &[u8], aad: &[u8]) -> Result<Vec<u8>, SealError> {
        let nonce = random::<NONCE_LEN>()?;
        let mut body = Zeroizing::new(data_key.to_vec());
        self.aead()?
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut *body,
            )
            .map_err(|_| SealError::Random)?;
        Ok([nonce.as_slice(), body.as_slice()].concat())
    }

    fn unwrap(&self, wrapped: &[u8], aad: &[u8]) -> Result<Zeroizing<Vec<u8>>, SealError> {
        let wrong = || SealError::WrongKey {
            kek_id: self.id.clone(),
            known: String::new(),
        };
        if wrapped.len() < NONCE_LEN + 16 {
            return Err(wrong());
        }
        let nonce = Nonce::try_assume_unique_for_key(&wrapped[..NONCE_LEN]).map_err(|_| wrong())?;
        let mut body = Zeroizing::new(wrapped[NONCE_LEN..].to_vec());
        let len = self
            .aead()?
            .open_in_place(nonce, Aad::from(aad), &mut body)
            .map_err(|_| wrong())?
            .len();
        body.truncate(len);
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_key_survives_its_text_form_and_keeps_its_id() {
        let key = LocalKey::generate().unwrap();
        let again = LocalKey::from_text(&key.to_text()).unwrap();
        assert_eq!(key.id(), again.id());
        assert!(!format!("{key:?}").contains(&key.to_text()[TEXT_PREFIX.len()..]));
    }

    #[test]
    fn text_that_is_not_a_key_is_refused_with_why() {
        for (text, why) in [
            ("hello", "does not start"),
            ("tokendesk-key-v1:@@@", "base64"),
            ("tokendesk-key-v1:AAAA", "256 bits"),
        ] {
            let err = LocalKey::from_text(text).unwrap_err().to_string();
            assert!(err.contains(why), "{text:?}: {err}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn key_files_are_private_and_never_overwritten() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kek");
        let key = LocalKey::generate().unwrap();
        key.write_new_file(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "only its owner may read a key file");
        let other = LocalKey::generate().unwrap();
        assert!(
            other.write_new_file(&path).is_err(),
            "an existing key file may be the only key to a database: never overwrite it"
        );
        assert_eq!(LocalKey::read_file(&path).unwrap().id(), key.id());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = LocalKey::read_file(&path).unwrap_err().to_string();
        assert!(err.contains("chmod 600"), "{err}");
    }
}
