//! The lab's fault proxy between the kiosk and the municipal backend, for scenarios that make
//! the backend slow (`backend = "slow:3s"`) or refuse one request (`backend = "reject:CODE"`),
//! and for tests of a backend of another build (its `GET /v1/info` states another API version).
//!
//! It ends the kiosk's TLS with the backend's own server certificate (the one the kiosk pins),
//! reads each HTTP/1.1 request, and passes it on over a mutual-TLS connection of its own made
//! with the kiosk's enrolment, so the backend sees the same kiosk. A rejection is answered here
//! with the code's HTTP status and the backend's error body; a delay holds each answer back.
//! When the backend cannot be reached the proxy drops the kiosk's connection, as a backend that
//! is down would. Neither the kiosk nor the backend knows the proxy is there.

use crate::lab::{err, LabError};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use madoguchi_api::{ErrorBody, ErrorCode};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the proxy does to the traffic from now on.
#[derive(Debug, Default)]
struct Faults {
    /// Every answer is held back this long.
    delay: Duration,
    /// The next request is answered with this error instead of reaching the backend.
    reject_next: Option<ErrorCode>,
    /// `GET /v1/info` answers state this API version instead of the backend's own.
    api_version: Option<u32>,
}

/// A running proxy; stopped when dropped.
pub struct BackendProxy {
    url: String,
    faults: Arc<Mutex<Faults>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl BackendProxy {
    /// Starts a proxy on a free loopback port in front of `backend_url` (`https://HOST:PORT`).
    /// `keys_dir` holds the backend's `server.cert.pem` and `server.key.pem`; `kiosk_dir` is the
    /// kiosk's enrolment (`client.cert.pem`, `client.key.pem`, `server-ca.cert.pem`).
    pub fn start(backend_url: &str, keys_dir: &Path, kiosk_dir: &Path) -> Result<BackendProxy, LabError> {
        let upstream: SocketAddr = backend_url
            .strip_prefix("https://")
            .and_then(|a| a.parse().ok())
            .ok_or_else(|| err("the fault proxy", format!("{backend_url:?} is not https://IP:PORT")))?;
        let acceptor = tokio_rustls::TlsAcceptor::from(server_config(keys_dir)?);
        let client = madoguchi_api::client::client_config(kiosk_dir, true)
            .map_err(|e| err("the fault proxy's kiosk credential", e))?;
        let connector = tokio_rustls::TlsConnector::from(client);
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).map_err(|e| err("the fault proxy's port", e))?;
        listener.set_nonblocking(true).map_err(|e| err("the fault proxy's port", e))?;
        let url = format!("https://{}", listener.local_addr().map_err(|e| err("the fault proxy's port", e))?);
        let faults = Arc::new(Mutex::new(Faults::default()));
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| err("the fault proxy's runtime", e))?;
        let shared = faults.clone();
        let thread = std::thread::Builder::new()
            .name("backend-fault-proxy".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else { return };
                    let serve = async {
                        while let Ok((tcp, _)) = listener.accept().await {
                            let (acceptor, connector, faults) = (acceptor.clone(), connector.clone(), shared.clone());
                            tokio::spawn(async move {
                                let Ok(tls) = acceptor.accept(tcp).await else { return };
                                let service = hyper::service::service_fn(move |req| {
                                    forward(req, upstream, connector.clone(), faults.clone())
                                });
                                let _ = hyper::server::conn::http1::Builder::new()
                                    .serve_connection(TokioIo::new(tls), service)
                                    .await;
                            });
                        }
                    };
                    tokio::select! {
                        _ = serve => {}
                        _ = stopped => {}
                    }
                });
            })
            .map_err(|e| err("the fault proxy's thread", e))?;
        Ok(BackendProxy { url, faults, stop: Some(stop), thread: Some(thread) })
    }

    /// Where the kiosk reaches the backend through the proxy (`https://127.0.0.1:PORT`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Holds every answer back by `delay` from now on (zero: normal speed again).
    pub fn slow(&self, delay: Duration) {
        self.lock().delay = delay;
    }

    /// Answers the next request with `code` (its HTTP status and the backend's error body).
    pub fn reject_next(&self, code: ErrorCode) {
        self.lock().reject_next = Some(code);
    }

    /// From now on the backend's `GET /v1/info` states API version `version`, as a backend of
    /// another build would (the rest of its answer passes as it came).
    pub fn pose_as_api_version(&self, version: u32) {
        self.lock().api_version = Some(version);
    }

    /// Whether a rejection set with [`reject_next`](Self::reject_next) is still waiting for
    /// its request.
    pub fn rejection_pending(&self) -> bool {
        self.lock().reject_next.is_some()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Faults> {
        self.faults.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for BackendProxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The backend's server identity, so the kiosk's pinned server CA accepts the proxy.
fn server_config(keys_dir: &Path) -> Result<Arc<rustls::ServerConfig>, LabError> {
    let cert_file = keys_dir.join("server.cert.pem");
    let key_file = keys_dir.join("server.key.pem");
    let chain = CertificateDer::pem_file_iter(&cert_file)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| err(cert_file.display().to_string(), e))?;
    let key = PrivateKeyDer::from_pem_file(&key_file).map_err(|e| err(key_file.display().to_string(), e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| err("the fault proxy's TLS", e))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| err("the fault proxy's TLS", e))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Why a request got no answer: the kiosk's connection is dropped, as with a backend that is down.
#[derive(Debug)]
struct Unreachable(String);

impl std::fmt::Display for Unreachable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unreachable {}

async fn forward(
    req: Request<Incoming>,
    upstream: SocketAddr,
    connector: tokio_rustls::TlsConnector,
    faults: Arc<Mutex<Faults>>,
) -> Result<Response<Full<Bytes>>, Unreachable> {
    let (delay, reject, api_version) = {
        let mut f = faults.lock().unwrap_or_else(|p| p.into_inner());
        (f.delay, f.reject_next.take(), f.api_version)
    };
    let info = req.method() == hyper::Method::GET && req.uri().path() == "/v1/info";
    let answer = match reject {
        Some(code) => Ok(rejection(code)),
        None => pass_on(req, upstream, connector).await.map(|(parts, body)| match api_version {
            Some(version) if info => restate_api_version(parts, body, version),
            _ => Response::from_parts(parts, Full::new(body)),
        }),
    };
    tokio::time::sleep(delay).await;
    answer
}

/// The backend's `/v1/info` answer with `api_version` set to `version` (unchanged if it is not
/// the JSON object it should be).
fn restate_api_version(mut parts: hyper::http::response::Parts, body: Bytes, version: u32) -> Response<Full<Bytes>> {
    let restated = serde_json::from_slice::<serde_json::Value>(&body).ok().and_then(|mut v| {
        *v.as_object_mut()?.get_mut("api_version")? = version.into();
        serde_json::to_vec(&v).ok()
    });
    match restated {
        Some(json) => {
            parts.headers.insert(hyper::header::CONTENT_LENGTH, hyper::header::HeaderValue::from(json.len()));
            Response::from_parts(parts, Full::new(Bytes::from(json)))
        }
        None => Response::from_parts(parts, Full::new(body)),
    }
}

/// The answer the backend gives with `code`.
fn rejection(code: ErrorCode) -> Response<Full<Bytes>> {
    let body = ErrorBody { code, message: "refused by the lab's fault proxy".into(), field: None };
    let json = serde_json::to_vec(&body).unwrap_or_default();
    let mut r = Response::new(Full::new(Bytes::from(json)));
    *r.status_mut() = hyper::StatusCode::from_u16(code.status()).unwrap_or(hyper::StatusCode::BAD_REQUEST);
    r.headers_mut().insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("application/json"));
    r
}

/// The request, over a connection of its own with the kiosk's credential, and the backend's
/// answer as it came.
async fn pass_on(
    req: Request<Incoming>,
    upstream: SocketAddr,
    connector: tokio_rustls::TlsConnector,
) -> Result<(hyper::http::response::Parts, Bytes), Unreachable> {
    let gone = |what: &str, e: &dyn std::fmt::Display| Unreachable(format!("{what}: {e}"));
    let (parts, body) = req.into_parts();
    let body = body.collect().await.map_err(|e| gone("the kiosk's request", &e))?.to_bytes();
    let tcp = tokio::net::TcpStream::connect(upstream).await.map_err(|e| gone("the backend", &e))?;
    let name = ServerName::from(upstream.ip());
    let tls = connector.connect(name, tcp).await.map_err(|e| gone("the backend's TLS", &e))?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(TokioIo::new(tls)).await.map_err(|e| gone("the backend's HTTP", &e))?;
    tokio::spawn(conn);
    let answer =
        sender.send_request(Request::from_parts(parts, Full::new(body))).await.map_err(|e| gone("the backend", &e))?;
    let (parts, body) = answer.into_parts();
    let body = body.collect().await.map_err(|e| gone("the backend's answer", &e))?.to_bytes();
    Ok((parts, body))
}
