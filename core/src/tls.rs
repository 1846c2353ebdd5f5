//! The TLS certificate and key dbward serves: configured files, or a self-signed pair generated
//! into the data directory at first start (`tls.crt`, `tls.key` with mode 0600) for
//! `localhost`, `127.0.0.1` and `::1`. Clients see a certificate they cannot verify until an
//! operator supplies a real one; that is still better than cleartext.

use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Errors obtaining the certificate pair.
#[derive(Debug, thiserror::Error)]
pub enum TlsFilesError {
    /// The PEM files do not hold a usable certificate chain and key.
    #[error("TLS certificate or key unusable: {0}")]
    Invalid(String),
    /// A file could not be read or written.
    #[error("TLS file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Generation failed.
    #[error("cannot generate a self-signed certificate: {0}")]
    Generate(String),
}

/// PEM texts of a certificate chain and its private key.
#[derive(Clone)]
pub struct TlsPair {
    /// The certificate chain, PEM.
    pub cert_pem: String,
    /// The private key, PEM. Never logged.
    pub key_pem: crate::crypto::Secret<String>,
    /// Where the certificate came from, for the start-up banner.
    pub cert_path: PathBuf,
}

/// Reads the configured pair, or the generated one in `data_dir`, generating it if missing.
pub fn load_or_generate(
    configured: Option<(&Path, &Path)>,
    data_dir: &Path,
) -> Result<TlsPair, TlsFilesError> {
    let (cert_path, key_path) = if let Some((c, k)) = configured {
        (c.to_owned(), k.to_owned())
    } else {
        let (c, k) = (data_dir.join("tls.crt"), data_dir.join("tls.key"));
        if !c.exists() || !k.exists() {
            generate(&c, &k)?;
        }
        (c, k)
    };
    let read = |p: &Path| {
        std::fs::read_to_string(p).map_err(|source| TlsFilesError::Io {
            path: p.to_owned(),
            source,
        })
    };
    Ok(TlsPair {
        cert_pem: read(&cert_path)?,
        key_pem: crate::crypto::Secret::new(read(&key_path)?),
        cert_path,
    })
}

impl TlsPair {
    /// A rustls server configuration (ring provider) serving this pair, offering `alpn`.
    pub fn server_config(&self, alpn: &[&[u8]]) -> Result<rustls::ServerConfig, TlsFilesError> {
        use rustls::pki_types::pem::PemObject as _;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let invalid = |e: &dyn std::fmt::Display| TlsFilesError::Invalid(e.to_string());
        let chain = CertificateDer::pem_slice_iter(self.cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| invalid(&e))?;
        if chain.is_empty() {
            return Err(TlsFilesError::Invalid(
                "no certificate in the PEM file".into(),
            ));
        }
        let key = PrivateKeyDer::from_pem_slice(self.key_pem.expose().as_bytes())
            .map_err(|e| invalid(&e))?;
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| invalid(&e))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| invalid(&e))?;
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(config)
    }
}

fn generate(cert_path: &Path, key_path: &Path) -> Result<(), TlsFilesError> {
    let names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    let ck = rcgen::generate_simple_self_signed(names)
        .map_err(|e| TlsFilesError::Generate(e.to_string()))?;
    write_file(key_path, ck.signing_key.serialize_pem().as_bytes(), 0o600)?;
    write_file(cert_path, ck.cert.pem().as_bytes(), 0o644)
}

fn write_file(path: &Path, content: &[u8], mode: u32) -> Result<(), TlsFilesError> {
    let io = |source| TlsFilesError::Io {
        path: path.to_owned(),
        source,
    };
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let mut f = opts.open(path).map_err(io)?;
    f.write_all(content).map_err(io)?;
    f.sync_all().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_once_and_reuses() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = load_or_generate(None, dir.path()).expect("generate");
        assert!(a.cert_pem.contains("BEGIN CERTIFICATE"));
        assert!(a.key_pem.expose().contains("PRIVATE KEY"));
        let b = load_or_generate(None, dir.path()).expect("reuse");
        assert_eq!(a.cert_pem, b.cert_pem);
        b.server_config(&[b"http/1.1"]).expect("usable by rustls");
        let broken = TlsPair {
            cert_pem: "not a certificate".into(),
            ..b
        };
        assert!(broken.server_config(&[]).is_err());
    }
}
