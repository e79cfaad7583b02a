//! Sealing workspace secrets: AES-256-GCM (RustCrypto's `aes-gcm`) under
//! the operator's key, with the workspace id and the secret's name as
//! associated data, so that a sealed value copied to another row (another
//! workspace, another name) does not open.
//!
//! A sealed value is `v1.{key id}.{base64 of the 12-byte nonce and the
//! ciphertext}`; the key id (8 hex digits of the key's SHA-256) names the
//! key that sealed it. Keys are 32 random bytes in standard base64:
//!
//! - `ORBFLOW_SECRETS_KEY` (or a file named by `ORBFLOW_SECRETS_KEY_FILE`)
//!   seals new values and opens its own;
//! - `ORBFLOW_SECRETS_OLD_KEYS` (comma-separated) only open: rotation is a
//!   new key, the old one moved there, then `orbflow secrets rotate`
//!   re-seals every value under the new key; then the old key can go.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::Digest as _;
use uuid::Uuid;

use crate::{Error, Result};

/// One key and its id.
#[derive(Clone)]
struct Key {
    id: String,
    cipher: Aes256Gcm,
}

impl Key {
    fn parse(b64: &str, what: &str) -> Result<Self> {
        let bytes = STANDARD.decode(b64.trim()).map_err(|_| {
            Error::Secrets(format!(
                "{what} is not base64 (32 random bytes, e.g. `openssl rand -base64 32`)"
            ))
        })?;
        if bytes.len() != 32 {
            return Err(Error::Secrets(format!(
                "{what} must be 32 bytes (base64 of 32 random bytes), not {}",
                bytes.len()
            )));
        }
        let digest = sha2::Sha256::digest(&bytes);
        let id = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
        let cipher = Aes256Gcm::new_from_slice(&bytes).map_err(|_| Error::Secrets(format!("{what}: bad key")))?;
        Ok(Self { id, cipher })
    }
}

/// The operator's keys: the current one seals, every one opens.
#[derive(Clone)]
pub struct SecretKeys {
    current: Key,
    old: Vec<Key>,
}

impl std::fmt::Debug for SecretKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // ids only: never key material
        f.debug_struct("SecretKeys")
            .field("current", &self.current.id)
            .field("old", &self.old.iter().map(|k| k.id.as_str()).collect::<Vec<_>>())
            .finish()
    }
}

fn associated(workspace: Uuid, name: &str) -> Vec<u8> {
    let mut aad = workspace.as_bytes().to_vec();
    aad.extend_from_slice(name.as_bytes());
    aad
}

impl SecretKeys {
    /// From a current key and older ones (base64 each).
    pub fn new(current: &str, old: &[&str]) -> Result<Self> {
        Ok(Self {
            current: Key::parse(current, "the secrets key")?,
            old: old
                .iter()
                .filter(|k| !k.trim().is_empty())
                .map(|k| Key::parse(k, "an old secrets key"))
                .collect::<Result<_>>()?,
        })
    }

    /// A new random key, base64 (what `orbflow dev` writes on first start).
    pub fn generate() -> String {
        let key: [u8; 32] = rand::random();
        STANDARD.encode(key)
    }

    /// From the environment: `ORBFLOW_SECRETS_KEY`, else the file named by
    /// `ORBFLOW_SECRETS_KEY_FILE`; `ORBFLOW_SECRETS_OLD_KEYS` beside it.
    /// `None` when neither is set (workspace secrets are then off).
    pub fn from_env() -> Result<Option<Self>> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let current = match (var("ORBFLOW_SECRETS_KEY"), var("ORBFLOW_SECRETS_KEY_FILE")) {
            (Some(k), _) => k,
            (None, Some(path)) => std::fs::read_to_string(&path)
                .map_err(|e| Error::Secrets(format!("ORBFLOW_SECRETS_KEY_FILE {path}: {e}")))?,
            (None, None) => return Ok(None),
        };
        let old = var("ORBFLOW_SECRETS_OLD_KEYS").unwrap_or_default();
        let old: Vec<&str> = old.split(',').collect();
        Self::new(&current, &old).map(Some)
    }

    /// The current key's id.
    pub fn current_id(&self) -> &str {
        &self.current.id
    }

    /// Seals `value` for `name` in `workspace` under the current key.
    pub fn seal(&self, workspace: Uuid, name: &str, value: &str) -> Result<String> {
        let nonce: [u8; 12] = rand::random();
        let aad = associated(workspace, name);
        let ct = self
            .current
            .cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: value.as_bytes(),
                    aad: &aad,
                },
            )
            .map_err(|_| Error::Secrets("sealing a secret failed".into()))?;
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&ct);
        Ok(format!("v1.{}.{}", self.current.id, STANDARD.encode(blob)))
    }

    /// Whether this key id is the current key or an old one.
    pub fn knows(&self, id: &str) -> bool {
        self.current.id == id || self.old.iter().any(|k| k.id == id)
    }

    /// Whether `sealed` was sealed under the current key.
    pub fn is_current(&self, sealed: &str) -> bool {
        sealed.split('.').nth(1) == Some(self.current.id.as_str())
    }

    /// Opens what [`seal`](Self::seal) made for `name` in `workspace`.
    pub fn open(&self, workspace: Uuid, name: &str, sealed: &str) -> Result<String> {
        let mut parts = sealed.splitn(3, '.');
        let (Some("v1"), Some(id), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(Error::Secrets(format!("secret `{name}`: not a sealed value")));
        };
        let key = std::iter::once(&self.current)
            .chain(&self.old)
            .find(|k| k.id == id)
            .ok_or_else(|| {
                Error::Secrets(format!(
                    "secret `{name}` was sealed under key {id}, which is neither ORBFLOW_SECRETS_KEY nor in ORBFLOW_SECRETS_OLD_KEYS"
                ))
            })?;
        let blob = STANDARD
            .decode(b64)
            .map_err(|_| Error::Secrets(format!("secret `{name}`: corrupt sealed value")))?;
        if blob.len() < 12 {
            return Err(Error::Secrets(format!("secret `{name}`: corrupt sealed value")));
        }
        let (nonce, ct) = blob.split_at(12);
        let nonce: [u8; 12] = nonce
            .try_into()
            .map_err(|_| Error::Secrets(format!("secret `{name}`: corrupt sealed value")))?;
        let aad = associated(workspace, name);
        let plain = key
            .cipher
            .decrypt(&Nonce::from(nonce), Payload { msg: ct, aad: &aad })
            .map_err(|_| {
                Error::Secrets(format!(
                    "secret `{name}` does not open with key {id} (tampered, or moved from another row)"
                ))
            })?;
        String::from_utf8(plain).map_err(|_| Error::Secrets(format!("secret `{name}`: not UTF-8")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_where_they_were_sealed() {
        let k = SecretKeys::new(&SecretKeys::generate(), &[]).unwrap();
        let (ws, other) = (Uuid::now_v7(), Uuid::now_v7());
        let s = k.seal(ws, "API_TOKEN", "s3cr3t").unwrap();
        assert!(s.starts_with(&format!("v1.{}.", k.current_id())), "{s}");
        assert!(!s.contains("s3cr3t"));
        assert_ne!(s, k.seal(ws, "API_TOKEN", "s3cr3t").unwrap(), "a fresh nonce each time");
        assert_eq!(k.open(ws, "API_TOKEN", &s).unwrap(), "s3cr3t");
        // another workspace or name: the associated data differs
        assert!(k.open(other, "API_TOKEN", &s).is_err());
        assert!(k.open(ws, "OTHER", &s).is_err());
        // tampering is detected
        let mut t = s.clone();
        let last = t.pop().unwrap();
        t.push(if last == 'A' { 'B' } else { 'A' });
        assert!(k.open(ws, "API_TOKEN", &t).is_err());
        assert!(
            k.open(ws, "API_TOKEN", "plain")
                .unwrap_err()
                .to_string()
                .contains("not a sealed value")
        );
    }

    #[test]
    fn rotation_opens_old_values_and_seals_new_ones_under_the_new_key() {
        let (old, new) = (SecretKeys::generate(), SecretKeys::generate());
        let before = SecretKeys::new(&old, &[]).unwrap();
        let ws = Uuid::now_v7();
        let sealed = before.seal(ws, "K", "v").unwrap();
        let after = SecretKeys::new(&new, &[&old]).unwrap();
        assert!(!after.is_current(&sealed));
        assert_eq!(after.open(ws, "K", &sealed).unwrap(), "v");
        let resealed = after.seal(ws, "K", "v").unwrap();
        assert!(after.is_current(&resealed));
        // without the old key, the old value names the key it needs
        let only_new = SecretKeys::new(&new, &[]).unwrap();
        let e = only_new.open(ws, "K", &sealed).unwrap_err().to_string();
        assert!(
            e.contains(before.current_id()) && e.contains("ORBFLOW_SECRETS_OLD_KEYS"),
            "{e}"
        );
    }

    #[test]
    fn bad_keys_are_clear_errors() {
        let e = SecretKeys::new("not base64!", &[]).unwrap_err().to_string();
        assert!(e.contains("not base64"), "{e}");
        let e = SecretKeys::new(&STANDARD.encode([1u8; 16]), &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("must be 32 bytes") && e.contains("not 16"), "{e}");
        let e = SecretKeys::new(&SecretKeys::generate(), &["xx"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("an old secrets key"), "{e}");
        let k = SecretKeys::new(&SecretKeys::generate(), &[]).unwrap();
        assert!(!format!("{k:?}").contains('='), "no key material in Debug");
    }
}
