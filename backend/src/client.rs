//! A small HTTPS client with a client certificate, over one kept-alive HTTP/1.1 connection (as a
//! kiosk holds it). Used by the `municipality` commands, the benchmark (`madoguchi-lab bench`) and the tests.

use crate::pki::{read_certs, read_key, PkiError};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::ServerName;
use std::path::Path;
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{0}")]
    Pki(#[from] PkiError),
    #[error("bad server URL {0}")]
    Url(String),
    #[error("connect: {0}")]
    Io(#[from] std::io::Error),
    #[error("HTTP: {0}")]
    Http(#[from] hyper::Error),
    #[error("TLS: {0}")]
    Tls(String),
}

/// The answer: status, headers we care about, body.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub replayed: bool,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
    pub fn code(&self) -> Option<String> {
        self.json().get("code").and_then(|c| c.as_str()).map(String::from)
    }
}

/// Builds a rustls client configuration from an enrolment directory (`client.cert.pem`,
/// `client.key.pem`, `server-ca.cert.pem`); without the client files, no client certificate.
pub fn client_config(dir: &Path, with_client_cert: bool) -> Result<Arc<ClientConfig>, ClientError> {
    let mut roots = RootCertStore::empty();
    for c in read_certs(&dir.join("server-ca.cert.pem"))? {
        roots.add(c).map_err(|e| ClientError::Tls(e.to_string()))?;
    }
    let builder = ClientConfig::builder_with_provider(crate::tls::provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::Tls(e.to_string()))?
        .with_root_certificates(roots);
    let mut config = if with_client_cert {
        let chain = read_certs(&dir.join("client.cert.pem"))?;
        let key = read_key(&dir.join("client.key.pem"))?;
        builder.with_client_auth_cert(chain, key).map_err(|e| ClientError::Tls(e.to_string()))?
    } else {
        builder.with_no_client_auth()
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// `https://HOST:PORT` → (host, port).
pub fn parse_url(url: &str) -> Result<(String, u16), ClientError> {
    let rest = url.strip_prefix("https://").ok_or_else(|| ClientError::Url(url.into()))?;
    let hostport = rest.split('/').next().unwrap_or("");
    let (host, port) = hostport.rsplit_once(':').ok_or_else(|| ClientError::Url(url.into()))?;
    let port = port.parse().map_err(|_| ClientError::Url(url.into()))?;
    Ok((host.trim_matches(['[', ']']).to_string(), port))
}

pub struct Client {
    host: String,
    port: u16,
    tls: Arc<ClientConfig>,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Client {
    pub fn new(url: &str, tls: Arc<ClientConfig>) -> Result<Client, ClientError> {
        let (host, port) = parse_url(url)?;
        Ok(Client { host, port, tls, sender: None })
    }

    pub fn from_dir(url: &str, dir: &Path) -> Result<Client, ClientError> {
        Client::new(url, client_config(dir, true)?)
    }

    async fn connect(&mut self) -> Result<(), ClientError> {
        let tcp = TcpStream::connect((self.host.as_str(), self.port)).await?;
        tcp.set_nodelay(true)?;
        let name = ServerName::try_from(self.host.clone()).map_err(|e| ClientError::Tls(e.to_string()))?;
        let tls = TlsConnector::from(self.tls.clone()).connect(name, tcp).await?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        self.sender = Some(sender);
        Ok(())
    }

    /// One request; reconnects once if the kept-alive connection was closed.
    pub async fn request(&mut self, method: &str, path: &str, body: Option<Vec<u8>>) -> Result<Reply, ClientError> {
        for attempt in 0..2 {
            if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
                self.connect().await?;
            }
            let sender = self.sender.as_mut().expect("connected");
            if sender.ready().await.is_err() {
                self.sender = None;
                continue;
            }
            let mut b = hyper::Request::builder()
                .method(method)
                .uri(path)
                .header("host", format!("{}:{}", self.host, self.port));
            if body.is_some() {
                b = b.header("content-type", "application/json");
            }
            let req = b.body(Full::new(Bytes::from(body.clone().unwrap_or_default()))).expect("request");
            match sender.send_request(req).await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let replayed = resp.headers().contains_key("idempotent-replayed");
                    let body = resp.into_body().collect().await?.to_bytes();
                    return Ok(Reply { status, replayed, body });
                }
                Err(e) if attempt == 0 && (e.is_canceled() || e.is_closed() || e.is_incomplete_message()) => {
                    self.sender = None;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(ClientError::Tls("connection closed".into()))
    }

    pub async fn get(&mut self, path: &str) -> Result<Reply, ClientError> {
        self.request("GET", path, None).await
    }

    pub async fn post_json(&mut self, path: &str, v: &serde_json::Value) -> Result<Reply, ClientError> {
        self.request("POST", path, Some(serde_json::to_vec(v).expect("json"))).await
    }

    pub async fn put_json(&mut self, path: &str, v: &serde_json::Value) -> Result<Reply, ClientError> {
        self.request("PUT", path, Some(serde_json::to_vec(v).expect("json"))).await
    }
}
