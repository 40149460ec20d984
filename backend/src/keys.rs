//! One master secret, many purposes: each purpose gets its own key derived with HKDF-SHA256,
//! and each key carries a short id so that material signed before a rotation still verifies.
//! `WRENCH_SECRET` may list several secrets separated by commas, newest first.

use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Jwt,
    Csrf,
    ReplyToken,
    MailStamp,
    Session,
    /// Encrypts staff TOTP secrets at rest.
    TotpSecret,
}

impl Purpose {
    fn info(self) -> &'static [u8] {
        match self {
            Purpose::Jwt => b"wrench/jwt/v1",
            Purpose::Csrf => b"wrench/csrf/v1",
            Purpose::ReplyToken => b"wrench/reply-token/v1",
            Purpose::MailStamp => b"wrench/mail-stamp/v1",
            Purpose::Session => b"wrench/session/v1",
            Purpose::TotpSecret => b"wrench/totp-secret/v1",
        }
    }
}

#[derive(Clone)]
pub struct DerivedKey {
    pub id: String,
    pub bytes: [u8; 32],
}

impl std::fmt::Debug for DerivedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DerivedKey({})", self.id)
    }
}

#[derive(Clone)]
pub struct Keys {
    masters: Vec<Vec<u8>>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Keys({} secrets)", self.masters.len())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read or write the secret file {0}: {1}")]
    File(String, std::io::Error),
    #[error("the secret is empty")]
    Empty,
}

impl Keys {
    pub fn from_secrets(secrets: &str) -> Result<Self, KeyError> {
        let masters: Vec<Vec<u8>> =
            secrets.split(',').map(str::trim).filter(|s| !s.is_empty()).map(|s| s.as_bytes().to_vec()).collect();
        if masters.is_empty() {
            return Err(KeyError::Empty);
        }
        Ok(Keys { masters })
    }

    /// `WRENCH_SECRET` if set, else the secret generated once into `DATA_DIR/secret` (0600).
    pub fn load(configured: Option<&str>, data_dir: &Path) -> Result<Self, KeyError> {
        if let Some(s) = configured {
            return Keys::from_secrets(s);
        }
        let path = data_dir.join("secret");
        let err = |e| KeyError::File(path.display().to_string(), e);
        match std::fs::read_to_string(&path) {
            Ok(s) => Keys::from_secrets(&s),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(data_dir).map_err(err)?;
                let mut raw = [0u8; 32];
                rand::rng().fill_bytes(&mut raw);
                let secret = hex::encode(raw);
                crate::files::write_private(&path, secret.as_bytes()).map_err(err)?;
                Keys::from_secrets(&secret)
            }
            Err(e) => Err(err(e)),
        }
    }

    fn derive_from(master: &[u8], purpose: Purpose) -> DerivedKey {
        let hk = Hkdf::<Sha256>::new(Some(b"wrench"), master);
        let mut bytes = [0u8; 32];
        // 32 bytes is always a valid HKDF-SHA256 output length.
        let _ = hk.expand(purpose.info(), &mut bytes);
        let id = hex::encode(&Sha256::digest(bytes)[..4]);
        DerivedKey { id, bytes }
    }

    /// The current key for a purpose.
    pub fn current(&self, purpose: Purpose) -> DerivedKey {
        Keys::derive_from(&self.masters[0], purpose)
    }

    /// Every key for a purpose, current first (for verifying what older secrets signed).
    pub fn all(&self, purpose: Purpose) -> Vec<DerivedKey> {
        self.masters.iter().map(|m| Keys::derive_from(m, purpose)).collect()
    }

    pub fn by_id(&self, purpose: Purpose, id: &str) -> Option<DerivedKey> {
        self.all(purpose).into_iter().find(|k| k.id == id)
    }

    /// HMAC-SHA256 of `data` under the current key of `purpose`.
    pub fn sign(&self, purpose: Purpose, data: &[u8]) -> Vec<u8> {
        hmac_sha256(&self.current(purpose).bytes, data)
    }

    /// Constant-time check of a MAC against every key of the purpose.
    pub fn verify(&self, purpose: Purpose, data: &[u8], mac: &[u8]) -> bool {
        self.all(purpose).iter().any(|k| {
            let Ok(mut m) = Hmac::<Sha256>::new_from_slice(&k.bytes) else { return false };
            m.update(data);
            m.verify_slice(mac).is_ok()
        })
    }
}

pub fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mut m) => {
            m.update(data);
            m.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// A random URL-safe token of `bytes` random bytes.
pub fn random_token(bytes: usize) -> String {
    use base64::Engine;
    let mut raw = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut raw);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purposes_get_different_keys_and_rotation_still_verifies() {
        let old = Keys::from_secrets("old-secret").unwrap();
        let sig = old.sign(Purpose::ReplyToken, b"ticket 7");
        let rotated = Keys::from_secrets("new-secret,old-secret").unwrap();
        assert!(rotated.verify(Purpose::ReplyToken, b"ticket 7", &sig));
        assert!(!rotated.verify(Purpose::MailStamp, b"ticket 7", &sig));
        assert_ne!(rotated.current(Purpose::Jwt).id, rotated.current(Purpose::Csrf).id);
        let old_id = old.current(Purpose::Jwt).id;
        assert!(rotated.by_id(Purpose::Jwt, &old_id).is_some());
    }
}
