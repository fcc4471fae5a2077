//! The client's TLS configuration: rustls with ring (the backend's provider), the server's CA
//! pinned, the client certificate from PEM files.

use super::ClientError;
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;
use std::sync::Arc;

/// The certificates of a PEM file (at least one).
pub fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, ClientError> {
    let bad = |reason: String| ClientError::Identity { path: path.to_path_buf(), reason };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| bad(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(e.to_string()))?;
    if certs.is_empty() {
        return Err(bad("no certificate".into()));
    }
    Ok(certs)
}

/// Trusts only the CA in `ca` for the server; presents `identity` (certificate chain, key) if
/// given. HTTP/1.1 by ALPN.
pub fn tls_config(ca: &Path, identity: Option<(&Path, &Path)>) -> Result<Arc<ClientConfig>, ClientError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    for c in read_certs(ca)? {
        roots.add(c).map_err(|e| ClientError::Identity { path: ca.to_path_buf(), reason: e.to_string() })?;
    }
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::Tls(e.to_string()))?
        .with_root_certificates(roots);
    let mut config = match identity {
        Some((certificate, key)) => {
            let chain = read_certs(certificate)?;
            let key = PrivateKeyDer::from_pem_file(key).map_err(|e| ClientError::Identity {
                path: key.to_path_buf(),
                reason: format!("no private key: {e}"),
            })?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| ClientError::Tls(format!("client certificate and key: {e}")))?
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// From an enrolment directory as `madoguchi-backend kiosk enroll` writes it
/// (`server-ca.cert.pem`, `client.cert.pem`, `client.key.pem`); without the client files, no
/// client certificate.
pub fn client_config(dir: &Path, with_client_cert: bool) -> Result<Arc<ClientConfig>, ClientError> {
    let certificate = dir.join("client.cert.pem");
    let key = dir.join("client.key.pem");
    let identity = with_client_cert.then_some((certificate.as_path(), key.as_path()));
    tls_config(&dir.join("server-ca.cert.pem"), identity)
}
