//! TLS: the server configurations (mutual TLS for kiosks and administrators, server-only for the
//! public listener) and the accept loop. axum's `serve` has no TLS, so connections are accepted
//! here with tokio-rustls and served with hyper; the client certificate's fingerprint rides on
//! every request of its connection.

use crate::pki::{fingerprint, Keys, PkiError};
use crate::server::{AppState, ClientCert, Peer};
use hyper_util::rt::TokioIo;
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// `client_auth`: require a certificate from the backend's client CA.
pub fn server_config(keys: &Keys, client_auth: bool) -> Result<Arc<ServerConfig>, PkiError> {
    let (chain, key) = keys.server_identity()?;
    let builder = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| PkiError::Other(e.to_string()))?;
    let mut config = if client_auth {
        let mut roots = RootCertStore::empty();
        for c in keys.client_ca()? {
            roots.add(c).map_err(|e| PkiError::Other(format!("client CA: {e}")))?;
        }
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
            .build()
            .map_err(|e| PkiError::Other(format!("client verifier: {e}")))?;
        builder.with_client_cert_verifier(verifier).with_single_cert(chain, key)
    } else {
        builder.with_no_client_auth().with_single_cert(chain, key)
    }
    .map_err(|e| PkiError::Other(format!("server certificate: {e}")))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Accepts connections until the listener fails; each connection gets its own task.
pub async fn serve(listener: TcpListener, tls: Arc<ServerConfig>, router: axum::Router, state: AppState, mutual: bool) {
    let acceptor = TlsAcceptor::from(tls);
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                log::warn!("accept: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let router = router.clone();
        let state = state.clone();
        tokio::spawn(async move {
            let stream = match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    log::info!("TLS handshake with {peer} refused: {e}");
                    return;
                }
                Err(_) => {
                    log::info!("TLS handshake with {peer} timed out");
                    return;
                }
            };
            let fp = stream.get_ref().1.peer_certificates().and_then(|c| c.first()).map(|c| fingerprint(c.as_ref()));
            if mutual {
                match &fp {
                    // A revocation takes effect for every new connection at once.
                    Some(fp) => state.creds.refresh(&state.ctx, fp).await,
                    None => return,
                }
            }
            let svc = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                if let Some(fp) = &fp {
                    req.extensions_mut().insert(ClientCert(fp.clone()));
                }
                req.extensions_mut().insert(Peer(peer));
                router.clone().oneshot(req.map(axum::body::Body::new))
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .keep_alive(true)
                .header_read_timeout(Duration::from_secs(30))
                .serve_connection(TokioIo::new(stream), svc);
            if let Err(e) = conn.await {
                log::debug!("connection from {peer}: {e}");
            }
        });
    }
}
