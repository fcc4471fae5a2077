//! The mTLS HTTP client (feature `client`): one kept-alive HTTP/1.1 connection with the
//! kiosk's client certificate, the server certificate chained to a pinned CA, opened again when
//! it breaks. The kiosk's backend worker holds one; so do the backend's `municipality` commands,
//! `madoguchi-lab bench` (one per simulated kiosk) and the tests.
//!
//! An exchange either answers (any HTTP status: the caller reads the error body) or fails with
//! a [`ClientError`] whose [`kind`](ClientError::kind) says whether anything may have reached
//! the server. Nothing of a body is ever logged.

mod tls;

pub use hyper::Method;
pub use tls::{client_config, read_certs, tls_config};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};
use tokio_rustls::TlsConnector;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("server URL {url:?}: {reason}")]
    Url { url: String, reason: String },
    /// A PEM file of the TLS identity (the reason never quotes the file's content).
    #[error("{}: {reason}", path.display())]
    Identity { path: PathBuf, reason: String },
    #[error("TLS configuration: {0}")]
    Tls(String),
    /// Nothing reached the server (DNS, TCP, TLS, or the connection refused the request).
    #[error("unreachable: {0}")]
    Unreachable(String),
    /// Sent; no (complete) answer in time.
    #[error("no complete answer in time")]
    Timeout,
    /// An answer that is not HTTP, or too large.
    #[error("not an HTTP answer: {0}")]
    Protocol(String),
}

/// What kind of problem an exchange or a client's construction met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientErrorKind {
    /// The URL or the TLS files are wrong: fix the configuration.
    Configuration,
    /// Nothing reached the server.
    Unreachable,
    /// Sent, no answer in time: whether it took effect is unknown.
    Timeout,
    /// An answer the client could not read.
    Protocol,
}

impl ClientError {
    pub fn kind(&self) -> ClientErrorKind {
        match self {
            ClientError::Url { .. } | ClientError::Identity { .. } | ClientError::Tls(_) => {
                ClientErrorKind::Configuration
            }
            ClientError::Unreachable(_) => ClientErrorKind::Unreachable,
            ClientError::Timeout => ClientErrorKind::Timeout,
            ClientError::Protocol(_) => ClientErrorKind::Protocol,
        }
    }
}

/// `https://HOST[:PORT][/BASE]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    /// Path prefix without a trailing slash (usually empty).
    pub base: String,
    /// `HOST[:PORT]` as written, for the `Host` header.
    pub authority: String,
}

impl Endpoint {
    pub fn parse(url: &str) -> Result<Endpoint, String> {
        let rest = url.strip_prefix("https://").ok_or("must be an https:// URL")?;
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        if authority.contains('@') {
            return Err("credentials in the URL are not supported".into());
        }
        if path.contains(['?', '#']) {
            return Err("a query or fragment is not allowed".into());
        }
        let port = |p: &str| p.parse::<u16>().map_err(|_| format!("{p:?} is not a port"));
        let (host, port) = match authority.strip_prefix('[') {
            Some(v6) => {
                let (host, after) = v6.split_once(']').ok_or("unclosed [ in the host")?;
                match after {
                    "" => (host, 443),
                    p => (host, port(p.strip_prefix(':').ok_or("junk after the address")?)?),
                }
            }
            None => match authority.rsplit_once(':') {
                Some((host, p)) => (host, port(p)?),
                None => (authority, 443),
            },
        };
        if host.is_empty() {
            return Err("has no host".into());
        }
        Ok(Endpoint {
            host: host.to_string(),
            port,
            base: path.trim_end_matches('/').to_string(),
            authority: authority.to_string(),
        })
    }
}

/// An answer: status, the headers callers read, body.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    /// `Idempotent-Replayed`: the backend answered a repeated idempotency key from its records.
    pub replayed: bool,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// The error code of an error reply, as text.
    pub fn code(&self) -> Option<String> {
        self.json().get("code").and_then(|c| c.as_str()).map(String::from)
    }
}

/// Runs `f`, within `deadline` if there is one.
async fn within<F: Future>(deadline: Option<Instant>, f: F) -> Result<F::Output, tokio::time::error::Elapsed> {
    match deadline {
        Some(d) => timeout_at(d, f).await,
        None => Ok(f.await),
    }
}

/// The client: one server, one kept-alive connection. Exchanges run one at a time.
pub struct Client {
    endpoint: Endpoint,
    server_name: ServerName<'static>,
    tls: TlsConnector,
    user_agent: Option<String>,
    max_reply_bytes: usize,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Client {
    pub fn new(url: &str, tls: Arc<ClientConfig>) -> Result<Client, ClientError> {
        let bad = |reason: String| ClientError::Url { url: url.to_string(), reason };
        let endpoint = Endpoint::parse(url).map_err(bad)?;
        let server_name = ServerName::try_from(endpoint.host.clone())
            .map_err(|_| bad(format!("{:?} is not a host name or address", endpoint.host)))?;
        Ok(Client {
            endpoint,
            server_name,
            tls: TlsConnector::from(tls),
            user_agent: None,
            max_reply_bytes: usize::MAX,
            sender: None,
        })
    }

    /// With the client certificate of an enrolment directory ([`client_config`]).
    pub fn from_dir(url: &str, dir: &Path) -> Result<Client, ClientError> {
        Client::new(url, client_config(dir, true)?)
    }

    /// Sends `User-Agent: agent` with every request.
    pub fn with_user_agent(mut self, agent: String) -> Client {
        self.user_agent = Some(agent);
        self
    }

    /// Refuses answers with a larger body ([`ClientError::Protocol`]).
    pub fn with_max_reply_bytes(mut self, max: usize) -> Client {
        self.max_reply_bytes = max;
        self
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    async fn open(&self) -> Result<SendRequest<Full<Bytes>>, String> {
        let tcp = TcpStream::connect((self.endpoint.host.as_str(), self.endpoint.port))
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let _ = tcp.set_nodelay(true);
        let tls = self.tls.connect(self.server_name.clone(), tcp).await.map_err(|e| format!("TLS: {e}"))?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(tls)).await.map_err(|e| format!("HTTP: {e}"))?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                log::debug!("backend connection ended: {e}");
            }
        });
        Ok(sender)
    }

    /// One request and its whole answer (before `deadline`, if given). A kept-alive connection
    /// the server closed meanwhile is replaced once; a connection whose exchange failed is
    /// dropped (a late answer must never be read as the next request's).
    pub async fn exchange(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        deadline: Option<Instant>,
    ) -> Result<Reply, ClientError> {
        let uri = format!("{}{}", self.endpoint.base, path);
        let body = body.map(Bytes::from);
        for attempt in 0..2 {
            let reused = self.sender.as_ref().is_some_and(|s| !s.is_closed());
            if !reused {
                self.sender = None;
                match within(deadline, self.open()).await {
                    Ok(Ok(sender)) => self.sender = Some(sender),
                    Ok(Err(e)) => {
                        log::info!("backend unreachable: {e}");
                        return Err(ClientError::Unreachable(e));
                    }
                    Err(_) => {
                        log::info!("backend unreachable: no connection in time");
                        return Err(ClientError::Unreachable("no connection in time".into()));
                    }
                }
            }
            let Some(sender) = self.sender.as_mut() else {
                return Err(ClientError::Unreachable("no connection".into()));
            };
            match within(deadline, sender.ready()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) if reused && attempt == 0 => {
                    self.sender = None;
                    continue;
                }
                Ok(Err(e)) => {
                    self.sender = None;
                    return Err(ClientError::Unreachable(format!("connection: {e}")));
                }
                Err(_) => {
                    self.sender = None;
                    return Err(ClientError::Unreachable("connection not ready in time".into()));
                }
            }
            let mut builder = hyper::Request::builder()
                .method(method.clone())
                .uri(uri.as_str())
                .header(hyper::header::HOST, self.endpoint.authority.as_str())
                .header(hyper::header::ACCEPT, "application/json");
            if let Some(agent) = &self.user_agent {
                builder = builder.header(hyper::header::USER_AGENT, agent.as_str());
            }
            if body.is_some() {
                builder = builder.header(hyper::header::CONTENT_TYPE, "application/json");
            }
            let request = builder
                .body(Full::new(body.clone().unwrap_or_default()))
                .map_err(|e| ClientError::Protocol(format!("request: {e}")))?;
            let response = match within(deadline, sender.send_request(request)).await {
                Ok(Ok(response)) => response,
                Ok(Err(e))
                    if reused && attempt == 0 && (e.is_canceled() || e.is_closed() || e.is_incomplete_message()) =>
                {
                    // The server closed the idle connection as the request went out.
                    self.sender = None;
                    continue;
                }
                Ok(Err(e)) => {
                    self.sender = None;
                    log::info!("backend exchange failed: {e}");
                    return Err(if e.is_canceled() {
                        ClientError::Unreachable(e.to_string())
                    } else if e.is_parse() {
                        ClientError::Protocol(e.to_string())
                    } else {
                        ClientError::Timeout
                    });
                }
                Err(_) => {
                    self.sender = None;
                    return Err(ClientError::Timeout);
                }
            };
            let status = response.status().as_u16();
            let replayed = response.headers().contains_key("idempotent-replayed");
            let limited = Limited::new(response.into_body(), self.max_reply_bytes);
            return match within(deadline, limited.collect()).await {
                Ok(Ok(collected)) => Ok(Reply { status, replayed, body: collected.to_bytes() }),
                Ok(Err(e)) => {
                    self.sender = None;
                    Err(if e.is::<LengthLimitError>() {
                        ClientError::Protocol("answer too large".into())
                    } else {
                        ClientError::Timeout
                    })
                }
                Err(_) => {
                    self.sender = None;
                    Err(ClientError::Timeout)
                }
            };
        }
        Err(ClientError::Unreachable("the connection closed twice".into()))
    }

    /// One request without a deadline; `method` as text (`GET`, `POST` ...).
    pub async fn request(&mut self, method: &str, path: &str, body: Option<Vec<u8>>) -> Result<Reply, ClientError> {
        let method =
            Method::from_bytes(method.as_bytes()).map_err(|e| ClientError::Protocol(format!("method: {e}")))?;
        self.exchange(method, path, body, None).await
    }

    pub async fn get(&mut self, path: &str) -> Result<Reply, ClientError> {
        self.request("GET", path, None).await
    }

    pub async fn post_json(&mut self, path: &str, v: &serde_json::Value) -> Result<Reply, ClientError> {
        self.request("POST", path, Some(v.to_string().into_bytes())).await
    }

    pub async fn put_json(&mut self, path: &str, v: &serde_json::Value) -> Result<Reply, ClientError> {
        self.request("PUT", path, Some(v.to_string().into_bytes())).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let e = Endpoint::parse("https://127.0.0.1:8443").unwrap();
        assert_eq!(
            (e.host.as_str(), e.port, e.base.as_str(), e.authority.as_str()),
            ("127.0.0.1", 8443, "", "127.0.0.1:8443")
        );
        let e = Endpoint::parse("https://backend.example.jp/madoguchi/").unwrap();
        assert_eq!((e.host.as_str(), e.port, e.base.as_str()), ("backend.example.jp", 443, "/madoguchi"));
        let e = Endpoint::parse("https://[::1]:9443").unwrap();
        assert_eq!((e.host.as_str(), e.port), ("::1", 9443));
        for bad in
            ["http://x", "https://", "https://:80", "https://x:port", "https://u:p@x", "https://x/?q=1", "https://[::1"]
        {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
    }
}
