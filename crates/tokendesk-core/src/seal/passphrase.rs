//! Moving a key to another machine: the key-encryption key sealed under a passphrase
//! (Argon2id, RFC 9106's second recommended setting, then AES-256-GCM), as a small JSON file.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::{KEY_LEN, KeyWrapper as _, LocalKey, SealError, random};

const FORMAT: &str = "tokendesk-exported-key/1";

/// An exported key: what `tokendesk key export` writes. Holds no key in the clear.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExportedKey {
    pub format: String,
    /// The id of the key inside, so an import can say which store it fits before opening it.
    pub key_id: String,
    /// The store it came from (informational).
    pub store_id: String,
    pub kdf: Kdf,
    pub nonce: String,
    pub ciphertext: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Kdf {
    pub name: String,
    /// Memory in KiB, passes, lanes.
    pub m_cost: u32,
    pub t_cost: u32,
    pub p_cost: u32,
    pub salt: String,
}

impl Kdf {
    fn argon2id(salt: &[u8]) -> Self {
        Self {
            name: "argon2id".into(),
            m_cost: 64 * 1024,
            t_cost: 3,
            p_cost: 1,
            salt: URL_SAFE_NO_PAD.encode(salt),
        }
    }

    fn derive(&self, passphrase: &str) -> Result<Zeroizing<[u8; 32]>, SealError> {
        let bad = |reason: &str| SealError::BadKey {
            reason: format!("the exported key's {reason}"),
        };
        if self.name != "argon2id" {
            return Err(bad("key derivation is not argon2id"));
        }
        // Bounds keep a crafted file from asking for gigabytes or hours.
        if !(8 * 1024..=1024 * 1024).contains(&self.m_cost)
            || !(1..=16).contains(&self.t_cost)
            || !(1..=8).contains(&self.p_cost)
        {
            return Err(bad("key derivation parameters are out of range"));
        }
        let salt = URL_SAFE_NO_PAD
            .decode(&self.salt)
            .map_err(|_| bad("salt is damaged"))?;
        let params = argon2::Params::new(self.m_cost, self.t_cost, self.p_cost, Some(32))
            .map_err(|_| bad("key derivation parameters are invalid"))?;
        let argon =
            argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let mut out = Zeroizing::new([0u8; 32]);
        argon
            .hash_password_into(passphrase.as_bytes(), &salt, out.as_mut_slice())
            .map_err(|_| bad("salt is too short"))?;
        Ok(out)
    }
}

fn aead(key: &[u8; 32]) -> Result<LessSafeKey, SealError> {
    UnboundKey::new(&AES_256_GCM, key)
        .map(LessSafeKey::new)
        .map_err(|_| SealError::Random)
}

fn aad(key_id: &str) -> Vec<u8> {
    format!("{FORMAT}/{key_id}").into_bytes()
}

/// Seals `key` under `passphrase`.
pub fn export_key(
    key: &LocalKey,
    store_id: &str,
    passphrase: &str,
) -> Result<ExportedKey, SealError> {
    let kdf = Kdf::argon2id(&random::<16>()?);
    let derived = kdf.derive(passphrase)?;
    let nonce = random::<NONCE_LEN>()?;
    let mut body = Zeroizing::new(key.bytes().to_vec());
    aead(&derived)?
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad(key.id())),
            &mut *body,
        )
        .map_err(|_| SealError::Random)?;
    Ok(ExportedKey {
        format: FORMAT.into(),
        key_id: key.id().to_owned(),
        store_id: store_id.to_owned(),
        kdf,
        nonce: URL_SAFE_NO_PAD.encode(nonce),
        ciphertext: URL_SAFE_NO_PAD.encode(body.as_slice()),
    })
}

/// Opens an exported key with `passphrase`.
pub fn import_key(exported: &ExportedKey, passphrase: &str) -> Result<LocalKey, SealError> {
    if exported.format != FORMAT {
        return Err(SealError::BadKey {
            reason: format!("not a TokenDesk exported key ({:?})", exported.format),
        });
    }
    let derived = exported.kdf.derive(passphrase)?;
    let damaged = || SealError::BadKey {
        reason: "the exported key file is damaged".into(),
    };
    let nonce = URL_SAFE_NO_PAD
        .decode(&exported.nonce)
        .map_err(|_| damaged())?;
    let nonce = Nonce::try_assume_unique_for_key(&nonce).map_err(|_| damaged())?;
    let mut body = Zeroizing::new(
        URL_SAFE_NO_PAD
            .decode(&exported.ciphertext)
            .map_err(|_| damaged())?,
    );
    let plain = aead(&derived)?
        .open_in_place(nonce, Aad::from(aad(&exported.key_id)), &mut body)
        .map_err(|_| SealError::WrongPassphrase)?;
    let bytes: [u8; KEY_LEN] = (&*plain).try_into().map_err(|_| damaged())?;
    let key = LocalKey::from_bytes(Zeroizing::new(bytes));
    if key.id() != exported.key_id {
        return Err(damaged());
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn an_exported_key_comes_back_with_the_passphrase_only() {
        let key = LocalKey::generate().unwrap();
        let exported = export_key(&key, "s_1", "correct horse").unwrap();
        let json = serde_json::to_string(&exported).unwrap();
        assert!(
            !json.contains(&key.to_text()["tokendesk-key-v1:".len()..]),
            "the file never holds the key in the clear"
        );
        let back = import_key(&serde_json::from_str(&json).unwrap(), "correct horse").unwrap();
        assert_eq!(back.id(), key.id());
        assert!(matches!(
            import_key(&exported, "wrong horse"),
            Err(SealError::WrongPassphrase)
        ));
    }

    #[test]
    fn a_crafted_file_cannot_ask_for_unbounded_work() {
        let key = LocalKey::generate().unwrap();
        let mut exported = export_key(&key, "s_1", "pw").unwrap();
        exported.kdf.m_cost = 64 * 1024 * 1024;
        let err = import_key(&exported, "pw").unwrap_err().to_string();
        assert!(err.contains("out of range"), "{err}");
    }
}
