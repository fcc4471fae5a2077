//! The backend worker: turns the session's [`BackendCall`]s into HTTPS calls to the municipal
//! backend (`backend/README.md`) and the answers into `Event::BackendReply`s.
//!
//! - **One connection**, mutual TLS (the kiosk's client certificate; the server certificate must
//!   chain to the configured CA), HTTP/1.1 kept alive and opened again when it breaks: the
//!   contract's client (`madoguchi_api::client`). Calls run one at a time on the worker's own
//!   thread; the session never blocks on them.
//! - **Every answer is validated** with the contract's own types and checks (`madoguchi_api::v1`)
//!   before the session sees it: a bad reply is `BackendError::Protocol`, never a panic.
//! - **The signed catalog is fetched, not judged**: with the offers, the worker delivers
//!   `GET /v1/catalog` when the offers name a newer catalog than the session holds; the session
//!   verifies it and checks the offers against it (`madoguchi_session::catalog`).
//! - **Outcomes and closes are durable**: [`BackendWorker::submit`] appends them to the outbox
//!   file (JSON lines, fsynced before it returns) and the worker delivers them in order, retrying
//!   with backoff until the backend acknowledges them, also after a crash or restart. The outbox
//!   holds ids, the outcome and the kiosk's failure reason: nothing of the resident.
//! - Nothing of the resident is logged: no bodies, challenges, certificates or names; only
//!   operation ids, paths' kinds, status and error codes.

mod outbox;
mod replies;
pub(crate) use replies::parse_catalog;
#[cfg(test)]
mod tests;
mod worker;

use super::EventSink;
use crate::config::BackendConfig;
use madoguchi_api::client::{tls_config, Client, ClientError, Endpoint};
use madoguchi_api::PublicKey;
use madoguchi_session::BackendCall;
use outbox::{DurableRecord, Outbox};
use std::fmt;
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::Poll;
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};
use tokio::sync::watch;
use worker::{Command, Worker};

/// Largest reply body read (the catalog carries every municipality's seal image).
const MAX_REPLY_BYTES: usize = 8 << 20;

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
        let client = client(config, kiosk_id)?;
        // The worker does not judge signatures, but a kiosk without a usable key cannot serve.
        PublicKey::from_hex(&config.document_key).map_err(|_| BackendWorkerError::DocumentKey)?;
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
        let worker = Worker::new(client, reply_timeout, outbox.clone(), events);
        let thread = std::thread::Builder::new()
            .name("backend".into())
            .spawn(move || {
                runtime.block_on(unless_stopped(stopped, worker.run(receiver)));
            })
            .map_err(BackendWorkerError::Start)?;
        Ok(BackendWorker { commands, outbox, stop: Some(stop), thread: Some(thread) })
    }

    /// Queues a call; the reply arrives as [`Event::BackendReply`](madoguchi_session::Event::BackendReply) with the same op. Durable
    /// requests are on disk when this returns; the session does not wait for them, but their
    /// delivery is answered with [`BackendOk::Acknowledged`](madoguchi_session::BackendOk::Acknowledged).
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

/// The mutual-TLS client of `config` (also for operator mode's settlement and alert calls).
pub(crate) fn client(config: &BackendConfig, kiosk_id: &str) -> Result<Client, BackendWorkerError> {
    // The URL is judged first, as the configuration reads.
    Endpoint::parse(&config.url).map_err(BackendWorkerError::Url)?;
    let identity = Some((config.client_certificate.as_path(), config.client_key.as_path()));
    let tls = tls_config(&config.ca, identity).map_err(start_error)?;
    let client = Client::new(&config.url, tls).map_err(start_error)?;
    Ok(client.with_user_agent(user_agent(kiosk_id)).with_max_reply_bytes(MAX_REPLY_BYTES))
}

fn start_error(e: ClientError) -> BackendWorkerError {
    match e {
        ClientError::Url { reason, .. } => BackendWorkerError::Url(reason),
        ClientError::Identity { path, reason } => BackendWorkerError::Identity { path, reason },
        ClientError::Tls(reason) => BackendWorkerError::Tls(reason),
        other => BackendWorkerError::Tls(other.to_string()),
    }
}
