//! The TLS certificate and key dbward serves: configured files, or a self-signed pair generated
//! into the data directory at first start (`tls.crt`, `tls.key` with mode 0600) for
//! `localhost`, `127.0.0.1` and `::1`. Clients see a certificate they cannot verify until an
//! operator supplies a real one; that is still better than cleartext.

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

impl TlsPair {
    /// The `tls-server-end-point` channel binding data (RFC 5929) of the leaf certificate: its
    /// DER hashed with the hash of its signature algorithm (SHA-256 for MD5/SHA-1), as
    /// PostgreSQL's SCRAM-SHA-256-PLUS uses it. `None` when the signature algorithm has no such
    /// hash (Ed25519, RSA-PSS): PLUS is then not offered.
    #[must_use]
    pub fn tls_server_end_point(&self) -> Option<Vec<u8>> {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject as _;
        let leaf = CertificateDer::pem_slice_iter(self.cert_pem.as_bytes())
            .next()?
            .ok()?;
        tls_server_end_point(&leaf)
    }
}

/// The `tls-server-end-point` channel binding data (RFC 5929) of a DER certificate: the DER
/// hashed with the hash of its signature algorithm (SHA-256 for MD5/SHA-1). `None` when the
/// signature algorithm has no such hash (Ed25519, RSA-PSS). Both sides of SCRAM-SHA-256-PLUS
/// use it: dbward's front door for its own certificate, its login upstream for the server's.
#[must_use]
pub fn tls_server_end_point(leaf: &[u8]) -> Option<Vec<u8>> {
    // DER-encoded OID contents.
    const SHA256_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b];
    const SHA384_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c];
    const SHA512_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d];
    const SHA1_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x05];
    const ECDSA_SHA256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];
    const ECDSA_SHA384: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03];
    const ECDSA_SHA512: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04];
    use sha2::Digest as _;
    match signature_algorithm_oid(leaf)? {
        SHA256_RSA | ECDSA_SHA256 | SHA1_RSA => Some(sha2::Sha256::digest(leaf).to_vec()),
        SHA384_RSA | ECDSA_SHA384 => Some(sha2::Sha384::digest(leaf).to_vec()),
        SHA512_RSA | ECDSA_SHA512 => Some(sha2::Sha512::digest(leaf).to_vec()),
        _ => None,
    }
}

/// A DER TLV at the front of `b`: (tag, contents, rest).
fn der_tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *b.first()?;
    let first = *b.get(1)?;
    let (len, header) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let len = b
            .get(2..2 + n)?
            .iter()
            .fold(0usize, |acc, x| acc << 8 | usize::from(*x));
        (len, 2 + n)
    };
    let end = header.checked_add(len)?;
    Some((tag, b.get(header..end)?, b.get(end..)?))
}

/// The certificate's `signatureAlgorithm` OID contents.
fn signature_algorithm_oid(cert: &[u8]) -> Option<&[u8]> {
    let (0x30, certificate, _) = der_tlv(cert)? else {
        return None;
    };
    let (0x30, _tbs, rest) = der_tlv(certificate)? else {
        return None;
    };
    let (0x30, algorithm, _) = der_tlv(rest)? else {
        return None;
    };
    let (0x06, oid, _) = der_tlv(algorithm)? else {
        return None;
    };
    Some(oid)
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
    crate::files::write_whole(path, content, mode, true).map_err(io)
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
