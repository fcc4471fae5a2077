//! The backend worker: turns the session's [`BackendCall`]s into HTTPS calls to the municipal
//! backend (`backend/README.md`) and the answers into [`Event::BackendReply`]s.
//!
//! - **One connection**, mutual TLS (the kiosk's client certificate; the server certificate must
//!   chain to the configured CA), HTTP/1.1 kept alive and opened again when it breaks. Calls run
//!   one at a time on the worker's own thread; the session never blocks on them.
//! - **Every answer is validated** (lengths, base64, hex, ranges) before the session sees it: a
//!   bad reply is [`BackendError::Protocol`], never a panic.
//! - **Offers are checked against the signed catalog** (Ed25519 with the configured
//!   `document_key`, the same signed form as documents: `backend/src/signing.rs`): the fee,
//!   copies and options of every offer must be the catalog's, or nothing is offered
//!   ([`BackendError::CatalogSignature`]). The catalog is cached and never replaced by an older
//!   version.
//! - **Outcomes and closes are durable**: [`BackendWorker::submit`] appends them to the outbox
//!   file (JSON lines, fsynced before it returns) and the worker delivers them in order, retrying
//!   with backoff until the backend acknowledges them, also after a crash or restart. The outbox
//!   holds ids, the outcome and the kiosk's failure reason: nothing of the resident.
//! - Nothing of the resident is logged: no bodies, challenges, certificates or names; only
//!   operation ids, paths' kinds, status and error codes.

use super::EventSink;
use crate::config::BackendConfig;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use bytes::Bytes;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::client::conn::http1::SendRequest;
use hyper::Method;
use hyper_util::rt::TokioIo;
use madoguchi_session::{
    BackendCall, BackendError, BackendOk, DocumentOffer, Event, IssueOutcome, IssueRequest, Issued, MunicipalityOffer,
    Offers, OpId, Refusal, Request, Route, SignedDocument, UnavailableDocument,
};
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::Poll;
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::mpsc::{error::TryRecvError, unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio::sync::watch;
use tokio::time::{timeout_at, Instant};
use tokio_rustls::TlsConnector;

/// Largest reply body read (the catalog carries every municipality's seal image).
const MAX_REPLY_BYTES: usize = 8 << 20;
/// First wait before delivering a durable request again; doubles up to [`DURABLE_BACKOFF_MAX`].
const DURABLE_BACKOFF_FIRST: Duration = Duration::from_millis(500);
const DURABLE_BACKOFF_MAX: Duration = Duration::from_secs(30);
/// The backend refuses longer outcome reasons (`invalid_field`), which would block the outbox.
const MAX_REASON_CHARS: usize = 200;
/// Bytes of a challenge (`ChallengeReply::challenge`).
const CHALLENGE_BYTES: usize = 32;
const SIGNATURE_SCHEME: &str = "RSASSA-PKCS1-v1_5-SHA256";

// ---------------------------------------------------------------------------------------------
// Errors

/// Why the worker could not start.
#[derive(Debug, thiserror::Error)]
pub enum BackendWorkerError {
    #[error("backend.url: {0}")]
    Url(String),
    /// A PEM file of the TLS identity (the reason never quotes the file's content).
    #[error("{}: {reason}", path.display())]
    Identity { path: PathBuf, reason: String },
    #[error("backend TLS configuration: {0}")]
    Tls(String),
    #[error("backend.document_key: not an Ed25519 public key (64 hex digits)")]
    DocumentKey,
    #[error("backend outbox {}: {source}", path.display())]
    Outbox { path: PathBuf, source: io::Error },
    #[error("backend worker thread: {0}")]
    Start(io::Error),
}

/// What kind of problem stopped the worker from starting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendWorkerErrorKind {
    /// The configuration (URL, TLS files, document key) is wrong: fix `kiosk.toml`.
    Configuration,
    /// The outbox file cannot be read or written: durable requests cannot be kept.
    Outbox,
    /// The operating system refused a thread or runtime.
    Start,
}

impl BackendWorkerError {
    pub fn kind(&self) -> BackendWorkerErrorKind {
        match self {
            BackendWorkerError::Url(_)
            | BackendWorkerError::Identity { .. }
            | BackendWorkerError::Tls(_)
            | BackendWorkerError::DocumentKey => BackendWorkerErrorKind::Configuration,
            BackendWorkerError::Outbox { .. } => BackendWorkerErrorKind::Outbox,
            BackendWorkerError::Start(_) => BackendWorkerErrorKind::Start,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The public face

enum Command {
    /// An interactive call: answered with its `op`.
    Call(BackendCall),
    /// A durable request was added to the outbox: try delivering now.
    Durable,
}

/// The backend worker. Dropping it stops its thread (an exchange in flight is abandoned);
/// durable requests not yet acknowledged stay in the outbox file for the next start.
pub struct BackendWorker {
    commands: UnboundedSender<Command>,
    outbox: Arc<Mutex<Outbox>>,
    stop: Option<watch::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl BackendWorker {
    /// Starts the worker thread. `outbox` is a file path for durable requests (Outcome/Close),
    /// created if missing; requests pending in it from an earlier run are delivered again.
    /// One outbox belongs to one worker at a time.
    pub fn spawn(
        config: &BackendConfig,
        kiosk_id: &str,
        reply_timeout: Duration,
        outbox: &Path,
        events: EventSink,
    ) -> Result<BackendWorker, BackendWorkerError> {
        let endpoint = Endpoint::parse(&config.url).map_err(BackendWorkerError::Url)?;
        let server_name = ServerName::try_from(endpoint.host.clone())
            .map_err(|_| BackendWorkerError::Url(format!("{:?} is not a host name or address", endpoint.host)))?;
        let tls = tls_config(config)?;
        let catalog = CatalogCheck::from_hex(&config.document_key).ok_or(BackendWorkerError::DocumentKey)?;
        let (outbox_file, skipped) =
            Outbox::open(outbox).map_err(|source| BackendWorkerError::Outbox { path: outbox.to_path_buf(), source })?;
        if skipped > 0 {
            log::error!("backend outbox {}: {skipped} unreadable line(s) dropped", outbox.display());
        }
        if !outbox_file.is_empty() {
            log::info!("backend outbox: {} request(s) from an earlier run to deliver", outbox_file.len());
        }
        let outbox = Arc::new(Mutex::new(outbox_file));
        let runtime =
            tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(BackendWorkerError::Start)?;
        let (commands, receiver) = unbounded_channel();
        let (stop, stopped) = watch::channel(());
        let worker = Worker {
            link: Link {
                endpoint,
                server_name,
                tls: TlsConnector::from(tls),
                user_agent: user_agent(kiosk_id),
                sender: None,
            },
            catalog,
            reply_timeout,
            outbox: outbox.clone(),
            events,
            backoff: DURABLE_BACKOFF_FIRST,
            durable_at: Instant::now(),
        };
        let thread = std::thread::Builder::new()
            .name("backend".into())
            .spawn(move || {
                runtime.block_on(unless_stopped(stopped, worker.run(receiver)));
            })
            .map_err(BackendWorkerError::Start)?;
        Ok(BackendWorker { commands, outbox, stop: Some(stop), thread: Some(thread) })
    }

    /// Queues a call; the reply arrives as [`Event::BackendReply`] with the same op. Durable
    /// requests are on disk when this returns; the session does not wait for them, but their
    /// delivery is answered with [`BackendOk::Acknowledged`].
    pub fn submit(&self, call: BackendCall) {
        let op = call.op;
        match DurableRecord::from_request(&call.request) {
            Some(record) => {
                if let Err(e) = lock(&self.outbox).push(Some(op), record) {
                    // Still delivered from memory; a later rewrite of the file includes it.
                    log::error!("backend outbox: cannot write durable request {op:?}: {e}");
                }
                let _ = self.commands.send(Command::Durable);
            }
            None => {
                if self.commands.send(Command::Call(call)).is_err() {
                    log::warn!("backend worker has stopped: {op:?} will go unanswered");
                }
            }
        }
    }

    /// Durable requests not yet acknowledged by the backend (for the operator and tests).
    pub fn pending_durable(&self) -> usize {
        lock(&self.outbox).len()
    }
}

impl fmt::Debug for BackendWorker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackendWorker").field("outbox", &*lock(&self.outbox)).finish()
    }
}

impl Drop for BackendWorker {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                log::error!("backend worker thread panicked");
            }
        }
    }
}

fn lock(outbox: &Mutex<Outbox>) -> MutexGuard<'_, Outbox> {
    outbox.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs `work` until it ends or the stop sender is dropped (then `work` is dropped wherever it
/// waits: an exchange in flight is abandoned, which is safe for every request).
async fn unless_stopped<F: Future<Output = ()>>(mut stop: watch::Receiver<()>, work: F) {
    let mut work = pin!(work);
    let mut stopped = pin!(stop.changed());
    std::future::poll_fn(|cx| {
        if work.as_mut().poll(cx).is_ready() || stopped.as_mut().poll(cx).is_ready() {
            return Poll::Ready(());
        }
        Poll::Pending
    })
    .await
}

fn user_agent(kiosk_id: &str) -> String {
    let id: String = kiosk_id.chars().filter(|c| c.is_ascii_graphic()).take(64).collect();
    format!("madoguchi-kiosk/{} ({id})", env!("CARGO_PKG_VERSION"))
}

fn tls_config(config: &BackendConfig) -> Result<Arc<ClientConfig>, BackendWorkerError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    for ca in read_certs(&config.ca)? {
        roots.add(ca).map_err(|e| BackendWorkerError::Identity { path: config.ca.clone(), reason: e.to_string() })?;
    }
    let chain = read_certs(&config.client_certificate)?;
    let key = PrivateKeyDer::from_pem_file(&config.client_key).map_err(|e| BackendWorkerError::Identity {
        path: config.client_key.clone(),
        reason: format!("no private key: {e}"),
    })?;
    let mut tls = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| BackendWorkerError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(|e| BackendWorkerError::Tls(format!("client certificate and key: {e}")))?;
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(tls))
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, BackendWorkerError> {
    let bad = |reason: String| BackendWorkerError::Identity { path: path.to_path_buf(), reason };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| bad(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(e.to_string()))?;
    if certs.is_empty() {
        return Err(bad("no certificate".into()));
    }
    Ok(certs)
}

// ---------------------------------------------------------------------------------------------
// The worker thread

struct Worker {
    link: Link,
    catalog: CatalogCheck,
    reply_timeout: Duration,
    outbox: Arc<Mutex<Outbox>>,
    events: EventSink,
    /// Wait after the next failed durable delivery.
    backoff: Duration,
    /// When the outbox's head may be tried next.
    durable_at: Instant,
}

impl Worker {
    async fn run(mut self, mut commands: UnboundedReceiver<Command>) {
        loop {
            // Interactive calls first: a resident is waiting for them.
            let next = match commands.try_recv() {
                Ok(command) => Some(command),
                Err(TryRecvError::Empty) => None,
                Err(TryRecvError::Disconnected) => return,
            };
            if let Some(command) = next {
                if !self.handle(command).await {
                    return;
                }
                continue;
            }
            let pending = lock(&self.outbox).len();
            if pending > 0 && Instant::now() >= self.durable_at {
                if !self.deliver_head().await {
                    return;
                }
                continue;
            }
            let command = if pending > 0 {
                match timeout_at(self.durable_at, commands.recv()).await {
                    Ok(command) => command,
                    Err(_) => continue,
                }
            } else {
                commands.recv().await
            };
            match command {
                Some(command) => {
                    if !self.handle(command).await {
                        return;
                    }
                }
                None => return,
            }
        }
    }

    /// False when the kiosk loop is gone (nobody to answer): the worker stops.
    async fn handle(&mut self, command: Command) -> bool {
        match command {
            Command::Durable => {
                self.durable_at = self.durable_at.min(Instant::now());
                true
            }
            Command::Call(BackendCall { op, request }) => {
                let what = request_name(&request);
                let result = self.call(&request).await;
                match &result {
                    Ok(_) => log::debug!("backend {op:?} {what}: ok"),
                    Err(e) if e.is_transient() => log::info!("backend {op:?} {what}: {e:?}"),
                    Err(e) => log::warn!("backend {op:?} {what}: {e:?}"),
                }
                self.events.send(Event::BackendReply { op, result }).is_ok()
            }
        }
    }

    async fn call(&mut self, request: &Request) -> Result<BackendOk, BackendError> {
        let deadline = Instant::now() + self.reply_timeout;
        match request {
            Request::Challenge => {
                let body = self.exchange(Method::POST, "/v1/sessions".into(), None, deadline).await?;
                parse_challenge(&body)
            }
            Request::Authenticate { session_id, certificate, signature } => {
                let path = format!("/v1/sessions/{}/authenticate", segment(session_id));
                let json =
                    serde_json::json!({"certificate": B64.encode(certificate), "signature": B64.encode(signature)});
                let body = self.exchange(Method::POST, path, Some(json), deadline).await?;
                parse_authenticated(&body, session_id)
            }
            Request::Offers { session_id } => {
                let path = format!("/v1/sessions/{}/offers", segment(session_id));
                let body = self.exchange(Method::GET, path, None, deadline).await?;
                let offers = parse_offers(&body, session_id)?;
                if self.catalog.needs(offers.catalog_version) {
                    let signed = self.exchange(Method::GET, "/v1/catalog".into(), None, deadline).await?;
                    self.catalog.accept(&signed)?;
                }
                self.catalog.check(offers).map(BackendOk::Offers)
            }
            Request::Issue(issue) => {
                let path = format!("/v1/sessions/{}/issuances", segment(&issue.session_id));
                let body = self.exchange(Method::POST, path, Some(issuance_body(issue)), deadline).await?;
                parse_issued(&body, issue)
            }
            Request::Outcome { .. } | Request::Close { .. } => {
                // Durable requests go through the outbox (`submit`); answered as delivered.
                Err(BackendError::Protocol)
            }
        }
    }

    /// One exchange; a 2xx answer's body, or the error it means.
    async fn exchange(
        &mut self,
        method: Method,
        path: String,
        json: Option<serde_json::Value>,
        deadline: Instant,
    ) -> Result<Bytes, BackendError> {
        let reply = self.link.exchange(method, &path, json, deadline).await.map_err(BackendError::from)?;
        // The backend answers again: durable requests waiting out a backoff may go now.
        self.durable_at = self.durable_at.min(Instant::now());
        self.backoff = DURABLE_BACKOFF_FIRST;
        if (200..300).contains(&reply.status) {
            Ok(reply.body)
        } else {
            Err(error_reply(reply.status, &reply.body))
        }
    }

    /// Tries the outbox's first request. False when the kiosk loop is gone.
    async fn deliver_head(&mut self) -> bool {
        let Some((id, op, record)) = lock(&self.outbox).head() else { return true };
        let (method, path, json) = record.http();
        let deadline = Instant::now() + self.reply_timeout;
        let verdict = match self.link.exchange(method, &path, json, deadline).await {
            Ok(reply) => durable_verdict(reply.status, &reply.body),
            Err(e) => Verdict::Retry(e.into()),
        };
        let what = record.name();
        let answer = match verdict {
            Verdict::Retry(e) => {
                log::info!("backend {what} not delivered ({e:?}); again in {:?}", self.backoff);
                self.durable_at = Instant::now() + self.backoff;
                self.backoff = (self.backoff * 2).min(DURABLE_BACKOFF_MAX);
                return true;
            }
            Verdict::Settled => {
                log::debug!("backend {what} acknowledged");
                Ok(BackendOk::Acknowledged)
            }
            Verdict::Refused(e) => {
                // It can never succeed; keeping it would block every later request.
                log::error!("backend refused {what} for good ({e:?}); dropped from the outbox");
                Err(e)
            }
        };
        if let Err(e) = lock(&self.outbox).remove(id) {
            log::error!("backend outbox: cannot rewrite after delivery: {e}");
        }
        self.backoff = DURABLE_BACKOFF_FIRST;
        self.durable_at = Instant::now();
        match op {
            Some(op) => self.events.send(Event::BackendReply { op, result: answer }).is_ok(),
            None => true,
        }
    }
}

fn request_name(request: &Request) -> &'static str {
    match request {
        Request::Challenge => "challenge",
        Request::Authenticate { .. } => "authenticate",
        Request::Offers { .. } => "offers",
        Request::Issue(_) => "issue",
        Request::Outcome { .. } => "outcome",
        Request::Close { .. } => "close",
    }
}

/// Percent-encodes a path segment (ids come from the backend and are validated, but a path is
/// never built from raw text).
fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn issuance_body(r: &IssueRequest) -> serde_json::Value {
    serde_json::json!({
        "municipality_code": r.municipality_code,
        "document": r.document,
        "options": r.options,
        // Empty: the resident alone (the session offers no choice of persons).
        "persons": [],
        "year": r.year,
        "copies": r.copies,
        "paid_yen": r.paid_yen,
        "payment_reference": r.payment_reference,
        "idempotency_key": r.idempotency_key,
    })
}

// ---------------------------------------------------------------------------------------------
// The connection

/// `https://HOST[:PORT][/BASE]`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Endpoint {
    host: String,
    port: u16,
    /// Path prefix without a trailing slash (usually empty).
    base: String,
    /// `HOST[:PORT]` as written, for the `Host` header.
    authority: String,
}

impl Endpoint {
    fn parse(url: &str) -> Result<Endpoint, String> {
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

/// Why an exchange produced no HTTP answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    /// Nothing reached the backend (DNS, TCP, TLS, or the connection refused the request).
    Unreachable,
    /// Sent; no (complete) answer in time.
    Timeout,
    /// An answer that is not HTTP, or too large.
    Protocol,
}

impl From<Transport> for BackendError {
    fn from(t: Transport) -> BackendError {
        match t {
            Transport::Unreachable => BackendError::Unreachable,
            Transport::Timeout => BackendError::Timeout,
            Transport::Protocol => BackendError::Protocol,
        }
    }
}

struct Reply {
    status: u16,
    body: Bytes,
}

/// The kept-alive connection to the backend.
struct Link {
    endpoint: Endpoint,
    server_name: ServerName<'static>,
    tls: TlsConnector,
    user_agent: String,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Link {
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

    /// One request and its whole answer before `deadline`. A kept-alive connection the backend
    /// closed meanwhile is replaced once; a connection whose exchange failed is dropped (a late
    /// answer must never be read as the next request's).
    async fn exchange(
        &mut self,
        method: Method,
        path: &str,
        json: Option<serde_json::Value>,
        deadline: Instant,
    ) -> Result<Reply, Transport> {
        let uri = format!("{}{}", self.endpoint.base, path);
        let body = json.map(|v| Bytes::from(v.to_string()));
        for attempt in 0..2 {
            let reused = self.sender.as_ref().is_some_and(|s| !s.is_closed());
            if !reused {
                self.sender = None;
                match timeout_at(deadline, self.open()).await {
                    Ok(Ok(sender)) => self.sender = Some(sender),
                    Ok(Err(e)) => {
                        log::info!("backend unreachable: {e}");
                        return Err(Transport::Unreachable);
                    }
                    Err(_) => {
                        log::info!("backend unreachable: no connection in time");
                        return Err(Transport::Unreachable);
                    }
                }
            }
            let Some(sender) = self.sender.as_mut() else { return Err(Transport::Unreachable) };
            match timeout_at(deadline, sender.ready()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) if reused && attempt == 0 => {
                    self.sender = None;
                    continue;
                }
                Ok(Err(_)) => {
                    self.sender = None;
                    return Err(Transport::Unreachable);
                }
                Err(_) => {
                    self.sender = None;
                    return Err(Transport::Unreachable);
                }
            }
            let mut builder = hyper::Request::builder()
                .method(method.clone())
                .uri(uri.as_str())
                .header(hyper::header::HOST, self.endpoint.authority.as_str())
                .header(hyper::header::USER_AGENT, self.user_agent.as_str())
                .header(hyper::header::ACCEPT, "application/json");
            if body.is_some() {
                builder = builder.header(hyper::header::CONTENT_TYPE, "application/json");
            }
            let Ok(request) = builder.body(Full::new(body.clone().unwrap_or_default())) else {
                return Err(Transport::Protocol);
            };
            let response = match timeout_at(deadline, sender.send_request(request)).await {
                Ok(Ok(response)) => response,
                Ok(Err(e))
                    if reused && attempt == 0 && (e.is_canceled() || e.is_closed() || e.is_incomplete_message()) =>
                {
                    // The backend closed the idle connection as the request went out.
                    self.sender = None;
                    continue;
                }
                Ok(Err(e)) => {
                    self.sender = None;
                    log::info!("backend exchange failed: {e}");
                    return Err(if e.is_canceled() {
                        Transport::Unreachable
                    } else if e.is_parse() {
                        Transport::Protocol
                    } else {
                        Transport::Timeout
                    });
                }
                Err(_) => {
                    self.sender = None;
                    return Err(Transport::Timeout);
                }
            };
            let status = response.status().as_u16();
            return match timeout_at(deadline, Limited::new(response.into_body(), MAX_REPLY_BYTES).collect()).await {
                Ok(Ok(collected)) => Ok(Reply { status, body: collected.to_bytes() }),
                Ok(Err(e)) => {
                    self.sender = None;
                    Err(if e.is::<LengthLimitError>() { Transport::Protocol } else { Transport::Timeout })
                }
                Err(_) => {
                    self.sender = None;
                    Err(Transport::Timeout)
                }
            };
        }
        Err(Transport::Unreachable)
    }
}

// ---------------------------------------------------------------------------------------------
// Replies: parsing and validation (pure)

#[derive(Deserialize)]
struct WireError {
    code: String,
}

/// What a non-2xx answer means.
fn error_reply(status: u16, body: &[u8]) -> BackendError {
    let code = serde_json::from_slice::<WireError>(body).ok().map(|e| e.code).filter(|c| is_code(c));
    match code.as_deref() {
        Some("database_busy" | "database_unavailable") => BackendError::Busy,
        Some(code) => BackendError::Refused(Refusal::from_code(code)),
        // A proxy or an overloaded front without the backend's error body.
        None if status == 503 => BackendError::Busy,
        None => BackendError::Protocol,
    }
}

fn is_code(c: &str) -> bool {
    (1..=64).contains(&c.len()) && c.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn is_session_id(s: &str) -> bool {
    is_hex(s, 32)
}

/// A short identifier: issuance numbers, document kinds, options, reasons.
fn is_token(s: &str, max: usize) -> bool {
    (1..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
}

/// Display text (titles, municipality names): present, bounded, no control characters.
fn is_text(s: &str, max_chars: usize) -> bool {
    let n = s.chars().count();
    (1..=max_chars).contains(&n) && !s.chars().any(char::is_control)
}

fn is_municipality_code(s: &str) -> bool {
    s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit())
}

fn parse<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, BackendError> {
    serde_json::from_slice(body).map_err(|_| BackendError::Protocol)
}

#[derive(Deserialize)]
struct WireChallenge {
    session_id: String,
    challenge: String,
    #[serde(default)]
    signature_scheme: Option<String>,
}

fn parse_challenge(body: &[u8]) -> Result<BackendOk, BackendError> {
    let w: WireChallenge = parse(body)?;
    if !is_session_id(&w.session_id) {
        return Err(BackendError::Protocol);
    }
    // The card signs a SHA-256 DigestInfo: any other scheme would be refused at authentication.
    if w.signature_scheme.as_deref().is_some_and(|s| s != SIGNATURE_SCHEME) {
        return Err(BackendError::Protocol);
    }
    let challenge = B64.decode(&w.challenge).map_err(|_| BackendError::Protocol)?;
    if challenge.len() != CHALLENGE_BYTES {
        return Err(BackendError::Protocol);
    }
    Ok(BackendOk::Challenge { session_id: w.session_id, challenge })
}

#[derive(Deserialize)]
struct WireAuthenticated {
    session_id: String,
    certificate_fingerprint: String,
}

fn parse_authenticated(body: &[u8], asked: &str) -> Result<BackendOk, BackendError> {
    // `holder_name` is in the reply too: the session has no use for it, so it is not kept.
    let w: WireAuthenticated = parse(body)?;
    if w.session_id != asked || !is_hex(&w.certificate_fingerprint, 64) {
        return Err(BackendError::Protocol);
    }
    Ok(BackendOk::Authenticated {
        session_id: w.session_id,
        certificate_fingerprint: w.certificate_fingerprint.to_ascii_lowercase(),
    })
}

/// `GET /v1/sessions/{id}/offers` as validated, before the catalog check.
#[derive(Debug, Deserialize)]
struct WireOffers {
    session_id: String,
    catalog_version: i64,
    offers: Vec<WireOffer>,
    unavailable: Vec<WireUnavailable>,
}

/// One offer; `persons` (names of the household) is skipped unread.
#[derive(Debug, Deserialize)]
struct WireOffer {
    municipality_code: String,
    municipality_name: String,
    route: String,
    document: String,
    title: String,
    fee_yen: i64,
    max_copies: i64,
    options: Vec<String>,
    years: Vec<i32>,
}

#[derive(Debug, Deserialize)]
struct WireUnavailable {
    municipality_code: String,
    document: String,
    reason: String,
}

fn parse_offers(body: &[u8], asked: &str) -> Result<WireOffers, BackendError> {
    let w: WireOffers = parse(body)?;
    let bad = BackendError::Protocol;
    if w.session_id != asked || w.catalog_version < 0 || w.offers.len() > 200 || w.unavailable.len() > 200 {
        return Err(bad);
    }
    for o in &w.offers {
        let ok = is_municipality_code(&o.municipality_code)
            && is_text(&o.municipality_name, 64)
            && matches!(o.route.as_str(), "residence" | "honseki")
            && is_token(&o.document, 32)
            && is_text(&o.title, 64)
            && (0..=1_000_000).contains(&o.fee_yen)
            && (0..=99).contains(&o.max_copies)
            && o.options.len() <= 16
            && o.options.iter().all(|x| is_token(x, 32))
            && o.years.len() <= 20
            && o.years.iter().all(|y| (1900..=2200).contains(y));
        if !ok {
            return Err(bad);
        }
    }
    for u in &w.unavailable {
        if !is_municipality_code(&u.municipality_code) || !is_token(&u.document, 32) || !is_token(&u.reason, 64) {
            return Err(bad);
        }
    }
    Ok(w)
}

/// 戸籍 documents come from the municipality of 本籍, the rest from that of residence.
fn honseki_document(kind: &str) -> bool {
    matches!(kind, "koseki-zenbu" | "koseki-kojin" | "fuhyo")
}

#[derive(Deserialize)]
struct WireSigned {
    payload: String,
    signature: String,
    key_id: String,
    algorithm: String,
}

#[derive(Deserialize)]
struct WireIssued {
    issuance_number: String,
    status: String,
    fee_yen: i64,
    copies: i64,
    total_yen: i64,
    document: WireSigned,
}

fn parse_issued(body: &[u8], asked: &IssueRequest) -> Result<BackendOk, BackendError> {
    let w: WireIssued = parse(body)?;
    let bad = BackendError::Protocol;
    if !is_token(&w.issuance_number, 40) || w.copies != i64::from(asked.copies) || w.fee_yen < 0 {
        return Err(bad);
    }
    let total = w.fee_yen.checked_mul(w.copies).filter(|t| *t == w.total_yen).ok_or(BackendError::Protocol)?;
    let total_yen = u32::try_from(total).map_err(|_| BackendError::Protocol)?;
    let d = &w.document;
    let signature_ok = B64.decode(&d.signature).is_ok_and(|s| s.len() == 64);
    if d.payload.is_empty() || !signature_ok || !is_hex(&d.key_id, 16) || !is_token(&d.algorithm, 32) {
        return Err(bad);
    }
    // A repeat of the idempotency key after the outcome: never print that document again.
    match w.status.as_str() {
        "issued" => {}
        "printed" => return Err(BackendError::Refused(Refusal::from_code("outcome_already_recorded"))),
        "voided" => return Err(BackendError::Refused(Refusal::from_code("issuance_voided"))),
        _ => return Err(bad),
    }
    Ok(BackendOk::Issued(Issued {
        issuance_number: w.issuance_number,
        total_yen,
        document: SignedDocument {
            payload: w.document.payload,
            signature: w.document.signature,
            key_id: w.document.key_id,
            algorithm: w.document.algorithm,
        },
    }))
}

// ---------------------------------------------------------------------------------------------
// The signed catalog

#[derive(Deserialize)]
struct WireCatalog {
    format: u32,
    version: i64,
    municipalities: Vec<WireCatalogMunicipality>,
}

#[derive(Deserialize)]
struct WireCatalogMunicipality {
    code: String,
    name: String,
    config: WireMunicipalityConfig,
}

#[derive(Deserialize)]
struct WireMunicipalityConfig {
    documents: BTreeMap<String, WireDocumentConfig>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
struct WireDocumentConfig {
    enabled: bool,
    fee_yen: i64,
    max_copies: i64,
    #[serde(default)]
    options: Vec<String>,
}

/// The catalog as held: what each municipality enables, at which fee and copies.
struct HeldCatalog {
    version: i64,
    municipalities: BTreeMap<String, (String, BTreeMap<String, WireDocumentConfig>)>,
}

/// Verifies the backend's signed catalog and the offers against it.
struct CatalogCheck {
    key: VerifyingKey,
    key_id: String,
    held: Option<HeldCatalog>,
}

impl CatalogCheck {
    fn from_hex(hex_key: &str) -> Option<CatalogCheck> {
        let bytes: [u8; 32] = hex::decode(hex_key.trim()).ok()?.try_into().ok()?;
        let key = VerifyingKey::from_bytes(&bytes).ok()?;
        // The backend's key id: first 8 bytes of SHA-256 of the raw key, hex.
        let key_id = hex::encode(&Sha256::digest(key.as_bytes())[..8]);
        Some(CatalogCheck { key, key_id, held: None })
    }

    /// Whether offers made with catalog `version` need a newer catalog than the one held.
    fn needs(&self, version: i64) -> bool {
        self.held.as_ref().is_none_or(|h| h.version < version)
    }

    /// Takes `GET /v1/catalog`'s answer: verified over the payload's exact bytes before it is
    /// parsed; an older version than the one held is refused (the held one stays).
    fn accept(&mut self, body: &[u8]) -> Result<(), BackendError> {
        let signed: WireSigned = parse(body)?;
        let signature = B64.decode(&signed.signature).ok().and_then(|s| Signature::from_slice(&s).ok());
        let verified = signed.algorithm == "Ed25519"
            && signed.key_id == self.key_id
            && signature.is_some_and(|s| self.key.verify(signed.payload.as_bytes(), &s).is_ok());
        if !verified {
            log::error!("backend catalog signature does not verify with the configured document key");
            return Err(BackendError::CatalogSignature);
        }
        let catalog: WireCatalog = serde_json::from_str(&signed.payload).map_err(|_| {
            log::error!("backend catalog is signed but not a catalog");
            BackendError::CatalogSignature
        })?;
        if catalog.format != 1 {
            log::error!("backend catalog format {} is not understood", catalog.format);
            return Err(BackendError::CatalogSignature);
        }
        if let Some(held) = &self.held {
            if catalog.version < held.version {
                log::warn!("backend catalog version {} refused: version {} is held", catalog.version, held.version);
                return Ok(());
            }
        }
        let municipalities =
            catalog.municipalities.into_iter().map(|m| (m.code, (m.name, m.config.documents))).collect();
        self.held = Some(HeldCatalog { version: catalog.version, municipalities });
        Ok(())
    }

    /// The offers as the session wants them, each checked against the held catalog.
    fn check(&self, w: WireOffers) -> Result<Offers, BackendError> {
        let Some(held) = &self.held else { return Err(BackendError::CatalogSignature) };
        if held.version < w.catalog_version {
            log::error!("backend offers name catalog version {}, only {} verified", w.catalog_version, held.version);
            return Err(BackendError::CatalogSignature);
        }
        let mut out: Vec<MunicipalityOffer> = Vec::new();
        fn entry<'a>(
            out: &'a mut Vec<MunicipalityOffer>,
            code: &str,
            name: impl FnOnce() -> String,
            route: Route,
        ) -> &'a mut MunicipalityOffer {
            let i = match out.iter().position(|m| m.code == code) {
                Some(i) => i,
                None => {
                    out.push(MunicipalityOffer {
                        code: code.to_string(),
                        name: name(),
                        route,
                        documents: Vec::new(),
                        unavailable: Vec::new(),
                    });
                    out.len() - 1
                }
            };
            let m = &mut out[i];
            // A municipality that is both is shown as the one of residence.
            if route == Route::Residence {
                m.route = Route::Residence;
            }
            m
        }
        for o in w.offers {
            let signed = held.municipalities.get(&o.municipality_code).and_then(|(_, docs)| docs.get(&o.document));
            let agrees = signed.is_some_and(|d| {
                d.enabled
                    && d.fee_yen == o.fee_yen
                    && d.max_copies == o.max_copies
                    && o.options.iter().all(|x| d.options.contains(x))
            });
            if !agrees {
                log::error!(
                    "backend offer {} {} does not match the signed catalog (version {})",
                    o.municipality_code,
                    o.document,
                    held.version
                );
                return Err(BackendError::CatalogSignature);
            }
            let route = if o.route == "honseki" { Route::Honseki } else { Route::Residence };
            let m = entry(&mut out, &o.municipality_code, || o.municipality_name.clone(), route);
            if m.documents.iter().any(|d| d.kind == o.document) {
                return Err(BackendError::Protocol);
            }
            m.documents.push(DocumentOffer {
                kind: o.document,
                title: o.title,
                // Both were range-checked in `parse_offers`.
                fee_yen: u32::try_from(o.fee_yen).map_err(|_| BackendError::Protocol)?,
                max_copies: u8::try_from(o.max_copies).map_err(|_| BackendError::Protocol)?,
                options: o.options,
                years: o.years,
            });
        }
        for u in w.unavailable {
            let route = if honseki_document(&u.document) { Route::Honseki } else { Route::Residence };
            let name = || {
                held.municipalities
                    .get(&u.municipality_code)
                    .map(|(n, _)| n.clone())
                    .unwrap_or_else(|| u.municipality_code.clone())
            };
            let m = entry(&mut out, &u.municipality_code, name, route);
            m.unavailable.push(UnavailableDocument { kind: u.document, reason: u.reason });
        }
        Ok(Offers { municipalities: out })
    }
}

// ---------------------------------------------------------------------------------------------
// Durable requests and the outbox

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum OutcomeKind {
    Printed,
    Failed,
}

/// One outbox line: ids, the outcome and the kiosk's reason, nothing of the resident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum DurableRecord {
    Outcome {
        session_id: String,
        issuance_number: String,
        outcome: OutcomeKind,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    Close {
        session_id: String,
    },
}

impl DurableRecord {
    fn from_request(request: &Request) -> Option<DurableRecord> {
        match request {
            Request::Outcome { session_id, issuance_number, outcome } => {
                let (outcome, reason) = match outcome {
                    IssueOutcome::Printed => (OutcomeKind::Printed, None),
                    IssueOutcome::Failed { reason } => (OutcomeKind::Failed, Some(clean_reason(reason))),
                };
                Some(DurableRecord::Outcome {
                    session_id: session_id.clone(),
                    issuance_number: issuance_number.clone(),
                    outcome,
                    reason,
                })
            }
            Request::Close { session_id } => Some(DurableRecord::Close { session_id: session_id.clone() }),
            _ => None,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            DurableRecord::Outcome { .. } => "outcome",
            DurableRecord::Close { .. } => "close",
        }
    }

    fn http(&self) -> (Method, String, Option<serde_json::Value>) {
        match self {
            DurableRecord::Outcome { session_id, issuance_number, outcome, reason } => {
                let path =
                    format!("/v1/sessions/{}/issuances/{}/outcome", segment(session_id), segment(issuance_number));
                let body = match outcome {
                    OutcomeKind::Printed => serde_json::json!({"outcome": "printed"}),
                    OutcomeKind::Failed => serde_json::json!({"outcome": "failed", "reason": reason}),
                };
                (Method::POST, path, Some(body))
            }
            DurableRecord::Close { session_id } => {
                (Method::DELETE, format!("/v1/sessions/{}", segment(session_id)), None)
            }
        }
    }
}

/// The backend takes 1 to 200 printable characters; anything else would be refused for good.
fn clean_reason(reason: &str) -> String {
    let cleaned: String = reason.chars().map(|c| if c.is_control() { ' ' } else { c }).take(MAX_REASON_CHARS).collect();
    let cleaned = cleaned.trim();
    if cleaned.is_empty() {
        "failed".into()
    } else {
        cleaned.to_string()
    }
}

/// What became of a durable request's delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    /// Done at the backend, now or before (or nothing is left to settle): remove it.
    Settled,
    /// Refused in a way no retry changes (a malformed request, another kiosk's session): remove it.
    Refused(BackendError),
    /// Not known to have arrived: keep it and try again later.
    Retry(BackendError),
}

fn durable_verdict(status: u16, body: &[u8]) -> Verdict {
    if (200..300).contains(&status) {
        return Verdict::Settled;
    }
    let code = serde_json::from_slice::<WireError>(body).ok().map(|e| e.code);
    match code.as_deref() {
        // Already settled, or nothing there to settle (a close voided it, or it never existed).
        Some("outcome_already_recorded" | "issuance_voided" | "issuance_not_found" | "session_not_found") => {
            Verdict::Settled
        }
        Some(
            c @ ("session_kiosk_mismatch"
            | "invalid_field"
            | "unknown_field"
            | "malformed_json"
            | "payload_too_large"
            | "unsupported_media_type"
            | "method_not_allowed"
            | "forbidden"),
        ) => Verdict::Refused(BackendError::Refused(Refusal::from_code(c))),
        // Busy, credentials being fixed, a server error, or an answer not from the backend.
        _ => Verdict::Retry(error_reply(status, body)),
    }
}

struct OutboxEntry {
    id: u64,
    /// The session's op when submitted in this run (none for requests from an earlier run).
    op: Option<OpId>,
    record: DurableRecord,
}

/// The durable requests, in order, mirrored in a JSON-lines file. Appends are fsynced; removals
/// rewrite the file through a temporary file and a rename, so a crash leaves the old or the new
/// file, never half of one.
struct Outbox {
    path: PathBuf,
    entries: VecDeque<OutboxEntry>,
    next_id: u64,
}

impl Outbox {
    /// Opens (creating) the file; returns it and the number of unreadable lines dropped (a line
    /// torn by a crash during its append).
    fn open(path: &Path) -> io::Result<(Outbox, usize)> {
        let created = !path.exists();
        let text = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        let mut outbox = Outbox { path: path.to_path_buf(), entries: VecDeque::new(), next_id: 0 };
        let mut skipped = 0;
        for line in text.split(|b| *b == b'\n').filter(|l| !l.iter().all(u8::is_ascii_whitespace)) {
            match serde_json::from_slice::<DurableRecord>(line) {
                Ok(record) => outbox.enqueue(None, record),
                Err(_) => skipped += 1,
            }
        }
        if created || skipped > 0 || text.last().is_some_and(|b| *b != b'\n') {
            // A fresh file, or one to clean so that the next append starts on its own line.
            outbox.rewrite()?;
        }
        Ok((outbox, skipped))
    }

    fn len(&self) -> usize {
        self.entries.len()
    }

    fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn enqueue(&mut self, op: Option<OpId>, record: DurableRecord) {
        self.entries.push_back(OutboxEntry { id: self.next_id, op, record });
        self.next_id += 1;
    }

    /// Appends and syncs. The request is queued even when the file cannot be written.
    fn push(&mut self, op: Option<OpId>, record: DurableRecord) -> io::Result<()> {
        let mut line = serde_json::to_vec(&record).map_err(io::Error::other)?;
        line.push(b'\n');
        self.enqueue(op, record);
        let mut file = std::fs::OpenOptions::new().append(true).create(true).open(&self.path)?;
        file.write_all(&line)?;
        file.sync_data()
    }

    fn head(&self) -> Option<(u64, Option<OpId>, DurableRecord)> {
        self.entries.front().map(|e| (e.id, e.op, e.record.clone()))
    }

    fn remove(&mut self, id: u64) -> io::Result<()> {
        self.entries.retain(|e| e.id != id);
        self.rewrite()
    }

    fn rewrite(&self) -> io::Result<()> {
        let mut text = Vec::new();
        for e in &self.entries {
            serde_json::to_writer(&mut text, &e.record).map_err(io::Error::other)?;
            text.push(b'\n');
        }
        let mut tmp = self.path.clone().into_os_string();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        {
            let mut file = std::fs::File::create(&tmp)?;
            file.write_all(&text)?;
            file.sync_all()?;
        }
        std::fs::rename(&tmp, &self.path)?;
        // The rename itself must survive a power cut.
        let dir = self.path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        std::fs::File::open(dir)?.sync_all()
    }
}

impl fmt::Debug for Outbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outbox").field("path", &self.path).field("pending", &self.entries.len()).finish()
    }
}

// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};
    use serde_json::json;

    const SID: &str = "0123456789abcdef0123456789abcdef";

    fn sign(key: &SigningKey, payload: &str) -> Vec<u8> {
        json!({
            "payload": payload,
            "signature": B64.encode(key.sign(payload.as_bytes()).to_bytes()),
            "key_id": hex::encode(&Sha256::digest(key.verifying_key().as_bytes())[..8]),
            "algorithm": "Ed25519",
        })
        .to_string()
        .into_bytes()
    }

    fn catalog(version: i64, juminhyo_fee: i64) -> String {
        json!({
            "format": 1, "version": version, "issued_at": "2026-11-24T10:00:00+09:00",
            "municipalities": [
                {"code": "132217", "name": "清瀬市", "prefecture": "東京都", "config_version": 3, "config": {
                    "issuer_title": "清瀬市長", "issuer_name": "x", "service_hours": {"open": "06:30", "close": "23:00"},
                    "documents": {
                        "juminhyo": {"enabled": true, "fee_yen": juminhyo_fee, "max_copies": 10, "options": ["setainushi", "honseki", "household"]},
                        "koseki-zenbu": {"enabled": true, "fee_yen": 450, "max_copies": 5},
                        "inkan": {"enabled": false, "fee_yen": 300, "max_copies": 5}
                    }}},
                {"code": "112089", "name": "所沢市", "prefecture": "埼玉県", "config_version": 1, "config": {
                    "issuer_title": "所沢市長", "issuer_name": "y", "service_hours": {"open": "06:30", "close": "23:00"},
                    "documents": {"fuhyo": {"enabled": true, "fee_yen": 300, "max_copies": 3}}}}
            ]
        })
        .to_string()
    }

    fn offer(
        code: &str,
        name: &str,
        route: &str,
        doc: &str,
        fee: i64,
        max: i64,
        options: &[&str],
    ) -> serde_json::Value {
        json!({"municipality_code": code, "municipality_name": name, "route": route, "document": doc, "title": "証明書",
               "fee_yen": fee, "max_copies": max, "options": options,
               "persons": [{"id": "R0001", "name": "佐藤　健一", "relationship": "世帯主", "is_self": true}], "years": []})
    }

    fn offers_body(version: i64, offers: Vec<serde_json::Value>, unavailable: Vec<serde_json::Value>) -> Vec<u8> {
        json!({"session_id": SID, "at": "2026-11-24T10:00:00+09:00", "catalog_version": version,
               "offers": offers, "unavailable": unavailable, "notices": []})
        .to_string()
        .into_bytes()
    }

    fn checker(key: &SigningKey) -> CatalogCheck {
        CatalogCheck::from_hex(&hex::encode(key.verifying_key().as_bytes())).unwrap()
    }

    #[test]
    fn error_codes_map_to_what_the_session_acts_on() {
        let body = |c: &str| json!({"code": c, "message": "佐藤 was here"}).to_string().into_bytes();
        assert_eq!(error_reply(503, &body("database_busy")), BackendError::Busy);
        assert_eq!(error_reply(503, &body("database_unavailable")), BackendError::Busy);
        assert_eq!(error_reply(503, b"<html>bad gateway</html>"), BackendError::Busy);
        assert_eq!(error_reply(401, &body("certificate_revoked")), BackendError::Refused(Refusal::CertificateRevoked));
        assert_eq!(
            error_reply(503, &body("revocation_unavailable")),
            BackendError::Refused(Refusal::RevocationUnavailable)
        );
        assert_eq!(
            error_reply(409, &body("session_limit")),
            BackendError::Refused(Refusal::Other("session_limit".into()))
        );
        assert_eq!(error_reply(500, b""), BackendError::Protocol);
        assert_eq!(error_reply(400, b"{\"code\": 7}"), BackendError::Protocol);
        assert_eq!(error_reply(400, &body("NOT A CODE")), BackendError::Protocol);
    }

    #[test]
    fn challenges_are_validated() {
        let ok = json!({"session_id": SID, "challenge": B64.encode([7u8; 32]),
                        "challenge_expires_at": "t", "signature_scheme": SIGNATURE_SCHEME});
        assert_eq!(
            parse_challenge(ok.to_string().as_bytes()),
            Ok(BackendOk::Challenge { session_id: SID.into(), challenge: vec![7u8; 32] })
        );
        let mut cases = vec![b"not json".to_vec(), b"[]".to_vec(), b"{}".to_vec()];
        for (field, value) in [
            ("session_id", json!("../../etc")),
            ("session_id", json!(42)),
            ("challenge", json!("***")),
            ("challenge", json!(B64.encode([1u8; 31]))),
            ("challenge", json!(null)),
            ("signature_scheme", json!("RSASSA-PSS")),
        ] {
            let mut v = ok.clone();
            v[field] = value;
            cases.push(v.to_string().into_bytes());
        }
        for case in cases {
            assert_eq!(parse_challenge(&case), Err(BackendError::Protocol), "{}", String::from_utf8_lossy(&case));
        }
    }

    #[test]
    fn authentication_replies_are_validated() {
        let fp = "AB".repeat(32);
        let ok = json!({"session_id": SID, "session_expires_at": "t", "certificate_fingerprint": fp,
                        "certificate_not_after": "t", "holder_name": "佐藤　健一"});
        assert_eq!(
            parse_authenticated(ok.to_string().as_bytes(), SID),
            Ok(BackendOk::Authenticated { session_id: SID.into(), certificate_fingerprint: "ab".repeat(32) })
        );
        assert_eq!(parse_authenticated(ok.to_string().as_bytes(), &"f".repeat(32)), Err(BackendError::Protocol));
        let mut short = ok.clone();
        short["certificate_fingerprint"] = json!("abcd");
        assert_eq!(parse_authenticated(short.to_string().as_bytes(), SID), Err(BackendError::Protocol));
        let mut wrong_type = ok;
        wrong_type["certificate_fingerprint"] = json!(["ab"]);
        assert_eq!(parse_authenticated(wrong_type.to_string().as_bytes(), SID), Err(BackendError::Protocol));
    }

    fn issue_request(copies: u8) -> IssueRequest {
        IssueRequest {
            session_id: SID.into(),
            municipality_code: "132217".into(),
            document: "juminhyo".into(),
            options: vec![],
            year: None,
            copies,
            paid_yen: 600,
            payment_reference: "pay-1".into(),
            idempotency_key: "k-1".into(),
        }
    }

    #[test]
    fn issuances_are_validated() {
        let key = SigningKey::from_bytes(&[5u8; 32]);
        let document: serde_json::Value = serde_json::from_slice(&sign(&key, "{\"format\":1}")).unwrap();
        let ok = json!({"issuance_number": "20261124-ABCDEFGHJK", "status": "issued", "fee_yen": 300, "copies": 2,
                        "total_yen": 600, "issued_at": "t", "document": document});
        let Ok(BackendOk::Issued(issued)) = parse_issued(ok.to_string().as_bytes(), &issue_request(2)) else {
            panic!("a good issuance was refused");
        };
        assert_eq!((issued.issuance_number.as_str(), issued.total_yen), ("20261124-ABCDEFGHJK", 600));
        assert_eq!(issued.document.payload, "{\"format\":1}");
        // Copies other than asked, a total that is not fee × copies, junk in the signature.
        assert_eq!(parse_issued(ok.to_string().as_bytes(), &issue_request(1)), Err(BackendError::Protocol));
        for (field, value) in [
            ("total_yen", json!(900)),
            ("total_yen", json!("600")),
            ("issuance_number", json!("20261124/../x")),
            ("fee_yen", json!(-300)),
            ("status", json!("maybe")),
        ] {
            let mut v = ok.clone();
            v[field] = value;
            assert_eq!(
                parse_issued(v.to_string().as_bytes(), &issue_request(2)),
                Err(BackendError::Protocol),
                "{field}"
            );
        }
        let mut v = ok.clone();
        v["document"]["signature"] = json!("not base64!");
        assert_eq!(parse_issued(v.to_string().as_bytes(), &issue_request(2)), Err(BackendError::Protocol));
        let mut v = ok.clone();
        v["document"] = json!("a string");
        assert_eq!(parse_issued(v.to_string().as_bytes(), &issue_request(2)), Err(BackendError::Protocol));
        // A replay after the outcome: never printed twice.
        let mut v = ok;
        v["status"] = json!("printed");
        assert_eq!(
            parse_issued(v.to_string().as_bytes(), &issue_request(2)),
            Err(BackendError::Refused(Refusal::Other("outcome_already_recorded".into())))
        );
    }

    #[test]
    fn offers_are_grouped_by_municipality_and_checked_against_the_catalog() {
        let key = SigningKey::from_bytes(&[9u8; 32]);
        let mut c = checker(&key);
        assert!(c.needs(4));
        c.accept(&sign(&key, &catalog(4, 300))).unwrap();
        assert!(!c.needs(4));
        let body = offers_body(
            4,
            vec![
                offer("132217", "清瀬市", "residence", "juminhyo", 300, 10, &["setainushi", "honseki"]),
                offer("112089", "所沢市", "honseki", "fuhyo", 300, 3, &[]),
                offer("132217", "清瀬市", "honseki", "koseki-zenbu", 450, 5, &[]),
            ],
            vec![json!({"municipality_code": "132217", "document": "kazei", "reason": "no_record", "message": "m"})],
        );
        let offers = c.check(parse_offers(&body, SID).unwrap()).unwrap();
        let codes: Vec<(&str, &str, Route)> =
            offers.municipalities.iter().map(|m| (m.code.as_str(), m.name.as_str(), m.route)).collect();
        assert_eq!(codes, vec![("132217", "清瀬市", Route::Residence), ("112089", "所沢市", Route::Honseki)]);
        let kiyose = &offers.municipalities[0];
        let kinds: Vec<&str> = kiyose.documents.iter().map(|d| d.kind.as_str()).collect();
        assert_eq!(kinds, vec!["juminhyo", "koseki-zenbu"]);
        assert_eq!(kiyose.documents[0].fee_yen, 300);
        assert_eq!(kiyose.documents[0].max_copies, 10);
        assert_eq!(kiyose.documents[0].options, vec!["setainushi", "honseki"]);
        assert_eq!(kiyose.unavailable, vec![UnavailableDocument { kind: "kazei".into(), reason: "no_record".into() }]);

        // Any disagreement with the signed catalog: nothing can be trusted.
        for bad in [
            offer("132217", "清瀬市", "residence", "juminhyo", 200, 10, &[]),
            offer("132217", "清瀬市", "residence", "juminhyo", 300, 11, &[]),
            offer("132217", "清瀬市", "residence", "juminhyo", 300, 10, &["kojin_bango"]),
            offer("132217", "清瀬市", "residence", "inkan", 300, 5, &[]),
            offer("132217", "清瀬市", "residence", "kazei", 300, 5, &[]),
            offer("999999", "どこか市", "residence", "juminhyo", 300, 10, &[]),
        ] {
            let w = parse_offers(&offers_body(4, vec![bad], vec![]), SID).unwrap();
            assert_eq!(c.check(w), Err(BackendError::CatalogSignature));
        }
        // Offers from a newer catalog than could be verified.
        let w = parse_offers(&offers_body(5, vec![], vec![]), SID).unwrap();
        assert_eq!(c.check(w), Err(BackendError::CatalogSignature));
    }

    #[test]
    fn catalogs_must_verify_and_never_go_back() {
        let key = SigningKey::from_bytes(&[9u8; 32]);
        let mut c = checker(&key);
        // No catalog yet: offers cannot be checked.
        assert_eq!(
            c.check(parse_offers(&offers_body(0, vec![], vec![]), SID).unwrap()),
            Err(BackendError::CatalogSignature)
        );
        // Another key, a tampered payload, an unsigned body, a signed non-catalog.
        let other = SigningKey::from_bytes(&[10u8; 32]);
        assert_eq!(c.accept(&sign(&other, &catalog(4, 300))), Err(BackendError::CatalogSignature));
        let mut tampered: serde_json::Value = serde_json::from_slice(&sign(&key, &catalog(4, 300))).unwrap();
        tampered["payload"] = json!(catalog(4, 100));
        assert_eq!(c.accept(tampered.to_string().as_bytes()), Err(BackendError::CatalogSignature));
        assert_eq!(c.accept(catalog(4, 300).as_bytes()), Err(BackendError::Protocol));
        assert_eq!(c.accept(b"{\"payload\": 1}"), Err(BackendError::Protocol));
        assert_eq!(c.accept(&sign(&key, "{\"hello\": 1}")), Err(BackendError::CatalogSignature));
        assert!(c.held.is_none());

        c.accept(&sign(&key, &catalog(6, 300))).unwrap();
        // An older catalog is not taken: the held one stays and decides.
        c.accept(&sign(&key, &catalog(5, 100))).unwrap();
        assert_eq!(c.held.as_ref().map(|h| h.version), Some(6));
        let w = parse_offers(
            &offers_body(5, vec![offer("132217", "清瀬市", "residence", "juminhyo", 100, 10, &[])], vec![]),
            SID,
        );
        assert_eq!(c.check(w.unwrap()), Err(BackendError::CatalogSignature));
        c.accept(&sign(&key, &catalog(7, 100))).unwrap();
        let w = parse_offers(
            &offers_body(7, vec![offer("132217", "清瀬市", "residence", "juminhyo", 100, 10, &[])], vec![]),
            SID,
        );
        assert!(c.check(w.unwrap()).is_ok());
    }

    #[test]
    fn malformed_offers_are_protocol_errors() {
        let good = offer("132217", "清瀬市", "residence", "juminhyo", 300, 10, &[]);
        assert!(parse_offers(&offers_body(1, vec![good.clone()], vec![]), SID).is_ok());
        assert!(matches!(parse_offers(&offers_body(1, vec![], vec![]), &"e".repeat(32)), Err(BackendError::Protocol)));
        for (field, value) in [
            ("fee_yen", json!(-1)),
            ("fee_yen", json!("300")),
            ("fee_yen", json!(1.5)),
            ("max_copies", json!(100_000)),
            ("route", json!("elsewhere")),
            ("municipality_code", json!("13221")),
            ("document", json!("")),
            ("title", json!("a\u{7}b")),
            ("options", json!("setainushi")),
            ("years", json!([1066])),
            ("years", json!(null)),
        ] {
            let mut o = good.clone();
            o[field] = value;
            assert!(
                matches!(parse_offers(&offers_body(1, vec![o], vec![]), SID), Err(BackendError::Protocol)),
                "{field}"
            );
        }
        for body in [&b"{"[..], b"null", b"{\"offers\": []}"] {
            assert!(matches!(parse_offers(body, SID), Err(BackendError::Protocol)));
        }
    }

    #[test]
    fn durable_deliveries_settle_retry_or_drop() {
        let body = |c: &str| json!({"code": c, "message": "m"}).to_string().into_bytes();
        assert_eq!(durable_verdict(200, b"{}"), Verdict::Settled);
        assert_eq!(durable_verdict(409, &body("outcome_already_recorded")), Verdict::Settled);
        assert_eq!(durable_verdict(409, &body("issuance_voided")), Verdict::Settled);
        assert_eq!(durable_verdict(404, &body("session_not_found")), Verdict::Settled);
        assert_eq!(durable_verdict(404, &body("issuance_not_found")), Verdict::Settled);
        assert_eq!(durable_verdict(503, &body("database_busy")), Verdict::Retry(BackendError::Busy));
        assert_eq!(durable_verdict(502, b"<html>"), Verdict::Retry(BackendError::Protocol));
        assert!(matches!(durable_verdict(403, &body("credential_revoked")), Verdict::Retry(_)));
        assert!(matches!(durable_verdict(500, &body("internal")), Verdict::Retry(_)));
        assert_eq!(
            durable_verdict(403, &body("session_kiosk_mismatch")),
            Verdict::Refused(BackendError::Refused(Refusal::Other("session_kiosk_mismatch".into())))
        );
        assert!(matches!(durable_verdict(422, &body("invalid_field")), Verdict::Refused(_)));
    }

    #[test]
    fn durable_records_carry_ids_and_a_clean_reason_only() {
        let r = DurableRecord::from_request(&Request::Outcome {
            session_id: SID.into(),
            issuance_number: "20261124-ABCDEFGHJK".into(),
            outcome: IssueOutcome::Failed { reason: format!("jam\n{}", "x".repeat(300)) },
        })
        .unwrap();
        let DurableRecord::Outcome { reason: Some(reason), .. } = &r else { panic!("not an outcome") };
        assert_eq!(reason.chars().count(), MAX_REASON_CHARS);
        assert!(reason.starts_with("jam x"));
        let (method, path, body) = r.http();
        assert_eq!(method, Method::POST);
        assert_eq!(path, format!("/v1/sessions/{SID}/issuances/20261124-ABCDEFGHJK/outcome"));
        assert_eq!(body.unwrap()["outcome"], json!("failed"));
        assert_eq!(clean_reason(" \u{0} "), "failed");
        let close = DurableRecord::from_request(&Request::Close { session_id: "a/b".into() }).unwrap();
        assert_eq!(close.http(), (Method::DELETE, "/v1/sessions/a%2Fb".into(), None));
        assert!(DurableRecord::from_request(&Request::Challenge).is_none());
        let line = serde_json::to_value(&close).unwrap();
        assert_eq!(line, json!({"kind": "close", "session_id": "a/b"}));
    }

    #[test]
    fn the_outbox_survives_restarts_and_torn_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outbox.jsonl");
        let outcome = DurableRecord::Outcome {
            session_id: SID.into(),
            issuance_number: "N1".into(),
            outcome: OutcomeKind::Printed,
            reason: None,
        };
        let close = DurableRecord::Close { session_id: SID.into() };
        {
            let (mut o, skipped) = Outbox::open(&path).unwrap();
            assert_eq!((o.len(), skipped), (0, 0));
            assert!(path.exists(), "created at once");
            o.push(Some(OpId(1)), outcome.clone()).unwrap();
            o.push(Some(OpId(2)), close.clone()).unwrap();
        }
        let (mut o, _) = Outbox::open(&path).unwrap();
        let heads: Vec<_> = o.entries.iter().map(|e| (e.op, e.record.clone())).collect();
        assert_eq!(heads, vec![(None, outcome.clone()), (None, close.clone())], "in order, ops not carried over");
        let (id, _, _) = o.head().unwrap();
        o.remove(id).unwrap();
        drop(o);
        // A crash in the middle of an append leaves a torn last line.
        let mut f = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"kind\":\"outc").unwrap();
        drop(f);
        let (mut o, skipped) = Outbox::open(&path).unwrap();
        assert_eq!((o.len(), skipped), (1, 1));
        o.push(None, outcome.clone()).unwrap();
        let (o, skipped) = Outbox::open(&path).unwrap();
        assert_eq!(skipped, 0, "the next append started on its own line");
        let records: Vec<_> = o.entries.iter().map(|e| e.record.clone()).collect();
        assert_eq!(records, vec![close, outcome]);
    }

    #[test]
    fn urls_and_paths() {
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
        assert_eq!(segment("20261124-ABC"), "20261124-ABC");
        assert_eq!(segment("../x y"), "..%2Fx%20y");
        assert_eq!(user_agent("K001\n"), format!("madoguchi-kiosk/{} (K001)", env!("CARGO_PKG_VERSION")));
    }
}
