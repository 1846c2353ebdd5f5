//! The master key: loading, generating, and deriving purpose-bound sub-keys.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::Sha256;

use super::{Secret, random_bytes};

/// Errors obtaining the master key.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The configured or stored key is not base64 of exactly 32 bytes.
    #[error("the master key must be base64 of exactly 32 bytes ({source_name})")]
    Malformed {
        /// Where it came from (`DBWARD_SECRET_KEY` or the file's path).
        source_name: String,
    },
    /// The key file could not be read or written.
    #[error("master key file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

/// The 32-byte master key. Never printed; sub-keys are derived per purpose.
#[derive(Clone)]
pub struct MasterKey {
    bytes: Secret<[u8; 32]>,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MasterKey(id={})", self.id())
    }
}

impl MasterKey {
    /// Builds the key from raw bytes.
    #[must_use]
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self {
            bytes: Secret::new(bytes),
        }
    }

    /// A fresh random key.
    #[must_use]
    pub fn generate() -> Self {
        Self::from_bytes(random_bytes())
    }

    /// Decodes base64 text (surrounding white space ignored); `source_name` names the origin in
    /// the error.
    pub fn from_base64(text: &str, source_name: &str) -> Result<Self, KeyError> {
        let malformed = || KeyError::Malformed {
            source_name: source_name.to_owned(),
        };
        let raw = B64.decode(text.trim()).map_err(|_| malformed())?;
        let bytes: [u8; 32] = raw.try_into().map_err(|_| malformed())?;
        Ok(Self::from_bytes(bytes))
    }

    /// Reads `path`, or creates it with a fresh key (mode 0600, whole or not at all) when it does
    /// not exist.
    pub fn load_or_create(path: &Path) -> Result<Self, KeyError> {
        let io = |source| KeyError::Io {
            path: path.display().to_string(),
            source,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => Self::from_base64(&text, &path.display().to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = Self::generate();
                let text = format!("{}\n", B64.encode(key.bytes.expose()));
                crate::files::write_whole(path, text.as_bytes(), 0o600, false).map_err(io)?;
                Ok(key)
            }
            Err(e) => Err(io(e)),
        }
    }

    /// Derives a 32-byte sub-key for one purpose: HMAC-SHA-256(master, label).
    #[must_use]
    pub fn derive(&self, label: &str) -> [u8; 32] {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.bytes.expose())
            .expect("HMAC takes keys of any length");
        mac.update(b"dbward/");
        mac.update(label.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// A short public identifier of this key (16 hex digits), stored beside each sealed value so
    /// that a future key rotation knows which key opens what. Derived, so it reveals nothing.
    #[must_use]
    pub fn id(&self) -> String {
        use std::fmt::Write as _;
        let d = self.derive("key-id");
        d[..8].iter().fold(String::with_capacity(16), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
    }

    /// The raw key, for the cipher.
    pub(crate) fn bytes(&self) -> &[u8; 32] {
        self.bytes.expose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_is_created_once_with_mode_0600() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("secret.key");
        let a = MasterKey::load_or_create(&path).expect("create");
        let b = MasterKey::load_or_create(&path).expect("load");
        assert_eq!(a.id(), b.id());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn malformed_keys_are_refused() {
        assert!(MasterKey::from_base64("c2hvcnQ=", "DBWARD_SECRET_KEY").is_err());
        assert!(MasterKey::from_base64("not base64!", "DBWARD_SECRET_KEY").is_err());
        let ok = B64.encode([7u8; 32]);
        assert!(MasterKey::from_base64(&ok, "x").is_ok());
    }

    #[test]
    fn sub_keys_differ_by_label() {
        let k = MasterKey::generate();
        assert_ne!(k.derive("a"), k.derive("b"));
        assert_eq!(k.id().len(), 16);
    }
}
