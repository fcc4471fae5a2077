//! The card worker: watches the card readers and runs the session's [`CardCall`]s on the card.
//!
//! The readers come through the drivers' [`Connector`]: PC/SC in the kiosk
//! ([`madoguchi_drivers::card::PcscConnector`]), an in-memory card in tests. Two threads, because
//! readers block: a monitor waiting for changes (on PC/SC, `SCardGetStatusChange`: cards and
//! readers coming and going, reported as [`Event::CardPresented`] / [`Event::CardRemoved`] /
//! [`Event::ReaderRemoved`]), and a command thread that owns the one card connection and answers
//! each call with an [`Event::CardReply`] carrying its [`OpId`]. The command thread keeps the
//! certificate it read on this connection, so a signature is always reported with the
//! fingerprint of the card that made it: a card swapped between VERIFY and SIGN cannot sign for
//! another resident.

use super::EventSink;
use madoguchi_drivers::card::{Canceller, CardConnection, Connector, ReaderEvent, Readers, TransportError};
use madoguchi_drivers::jpki::{CertificateEf, JpkiCard, JpkiError, JpkiErrorKind, PinKind, SigningKey};
use madoguchi_session::{CardCall, CardCommand, CardFailure, CardOk, Event, OpId};
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;
use zeroize::Zeroize;

/// How long the monitor waits for the reader service (pcscd) to come back before trying again.
const PCSCD_RETRY: Duration = Duration::from_secs(1);

/// The running card worker. Dropping it stops both threads and lets go of the card.
pub struct CardWorker {
    calls: Option<Sender<CardCall>>,
    stop: Arc<AtomicBool>,
    canceller: Arc<Mutex<Option<Canceller>>>,
    apdus: Arc<AtomicU32>,
    threads: Vec<JoinHandle<()>>,
}

impl CardWorker {
    /// Starts watching the connector's readers. Cards already on a reader are reported as
    /// presented at once.
    pub fn spawn(connector: Box<dyn Connector>, events: EventSink) -> CardWorker {
        let connector: Arc<dyn Connector> = Arc::from(connector);
        let stop = Arc::new(AtomicBool::new(false));
        let canceller = Arc::new(Mutex::new(None));
        let apdus = Arc::new(AtomicU32::new(0));
        let (tx, rx) = channel();
        let monitor = {
            let (connector, stop, canceller, events) =
                (connector.clone(), stop.clone(), canceller.clone(), events.clone());
            std::thread::Builder::new()
                .name("card-monitor".into())
                .spawn(move || monitor_loop(connector.as_ref(), events, stop, canceller))
                .expect("spawn card monitor thread")
        };
        let commands = {
            let apdus = apdus.clone();
            std::thread::Builder::new()
                .name("card-commands".into())
                .spawn(move || command_loop(connector.as_ref(), rx, events, apdus))
                .expect("spawn card command thread")
        };
        CardWorker { calls: Some(tx), stop, canceller, apdus, threads: vec![monitor, commands] }
    }

    /// Queues a call; the answer arrives as [`Event::CardReply`] (none for `Release`).
    pub fn submit(&self, call: CardCall) {
        if let Some(tx) = &self.calls {
            // The command thread only ends when this handle drops.
            let _ = tx.send(call);
        }
    }

    /// APDUs exchanged on the current card connection since it was opened (the figure the
    /// kiosk issue budgets from card placed to authenticated).
    pub fn apdus_on_connection(&self) -> u32 {
        self.apdus.load(Ordering::Relaxed)
    }
}

impl Drop for CardWorker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.calls = None;
        if let Ok(c) = self.canceller.lock() {
            if let Some(c) = c.as_ref() {
                c.cancel();
            }
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn monitor_loop(
    connector: &dyn Connector,
    events: EventSink,
    stop: Arc<AtomicBool>,
    canceller: Arc<Mutex<Option<Canceller>>>,
) {
    let mut known: Vec<String> = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        let mut monitor = match connector.open() {
            Ok(m) => m,
            Err(e) => {
                log::warn!("card readers: {e}; retrying");
                std::thread::sleep(PCSCD_RETRY);
                continue;
            }
        };
        if let Ok(mut c) = canceller.lock() {
            *c = Some(monitor.canceller());
        }
        if stop.load(Ordering::SeqCst) {
            break;
        }
        loop {
            match monitor.wait(Some(Duration::from_secs(5))) {
                Ok(list) => {
                    for e in list {
                        let event = match e {
                            ReaderEvent::ReaderAdded { reader, interface } => {
                                log::info!("reader added: {reader} ({interface:?})");
                                known.push(reader);
                                continue;
                            }
                            ReaderEvent::ReaderRemoved { reader } => {
                                log::warn!("reader removed: {reader}");
                                known.retain(|r| *r != reader);
                                Event::ReaderRemoved { reader }
                            }
                            ReaderEvent::CardPresented { reader, interface, atr } => {
                                Event::CardPresented { reader, interface, atr }
                            }
                            ReaderEvent::CardRemoved { reader } => Event::CardRemoved { reader },
                        };
                        if events.send(event).is_err() {
                            return;
                        }
                    }
                }
                Err(TransportError::Cancelled) => return,
                Err(e) => {
                    // The reader service (pcscd) went away: every reader and card with it.
                    log::warn!("card readers lost: {e}");
                    for reader in known.drain(..) {
                        if events.send(Event::ReaderRemoved { reader }).is_err() {
                            return;
                        }
                    }
                    break;
                }
            }
            if stop.load(Ordering::SeqCst) {
                return;
            }
        }
        std::thread::sleep(PCSCD_RETRY);
    }
}

/// The card connection and what was read on it.
struct Connection {
    reader: String,
    card: JpkiCard<Box<dyn CardConnection>>,
    certificate: Option<Vec<u8>>,
}

impl Connection {
    fn release(mut self) {
        if let Some(c) = self.certificate.as_mut() {
            c.zeroize();
        }
        self.card.into_transport().release();
    }
}

fn command_loop(connector: &dyn Connector, calls: Receiver<CardCall>, events: EventSink, apdus: Arc<AtomicU32>) {
    // The command thread's own session with the readers (on PC/SC, a context of its own).
    let mut readers: Option<Box<dyn Readers>> = None;
    let mut conn: Option<Connection> = None;
    while let Ok(CardCall { op, reader, command }) = calls.recv() {
        if let CardCommand::Release = command {
            if let Some(c) = conn.take() {
                c.release();
            }
            continue;
        }
        let result = run(connector, &mut readers, &mut conn, &reader, command);
        if let Some(c) = &conn {
            apdus.store(c.card.apdu_count(), Ordering::Relaxed);
        }
        if let Err(f) = &result {
            if matches!(f.kind, JpkiErrorKind::Removed | JpkiErrorKind::CardFault) {
                // The connection is of no more use (and perhaps the session with the readers
                // neither, e.g. pcscd restarted): the next call connects afresh.
                if let Some(c) = conn.take() {
                    c.release();
                }
                readers = None;
            }
        }
        if events.send(Event::CardReply { op: OpId(op.0), result }).is_err() {
            break;
        }
    }
    if let Some(c) = conn.take() {
        c.release();
    }
}

fn run(
    connector: &dyn Connector,
    readers: &mut Option<Box<dyn Readers>>,
    conn: &mut Option<Connection>,
    reader: &str,
    command: CardCommand,
) -> Result<CardOk, CardFailure> {
    let fresh = matches!(command, CardCommand::ReadToken);
    if fresh || conn.as_ref().is_none_or(|c| c.reader != reader) {
        if let Some(c) = conn.take() {
            c.release();
        }
        *conn = Some(connect(connector, readers, reader)?);
    }
    let Some(c) = conn.as_mut() else { return Err(CardFailure::new(JpkiErrorKind::Removed)) };
    let fail = |e: JpkiError| CardFailure::from(&e);
    match command {
        CardCommand::ReadToken => {
            let token = c.card.token();
            // Android releases the certificate only after the PIN.
            let certificate = match c.card.read_certificate(CertificateEf::UserAuth) {
                Ok(der) => Some(der),
                Err(JpkiError::SecurityStatusNotSatisfied) if token.is_phone() => None,
                Err(e) => return Err(fail(e)),
            };
            c.certificate.clone_from(&certificate);
            Ok(CardOk::Token { token, certificate })
        }
        CardCommand::PinStatus => c.card.pin_status(PinKind::UserAuth).map(CardOk::PinStatus).map_err(fail),
        CardCommand::Verify(pin) => c.card.verify(&pin).map(|()| CardOk::Verified).map_err(fail),
        CardCommand::ReadCertificate => {
            let der = c.card.read_certificate(CertificateEf::UserAuth).map_err(fail)?;
            c.certificate = Some(der.clone());
            Ok(CardOk::Certificate(der))
        }
        CardCommand::Sign { sha256 } => signed_by(c, SigningKey::UserAuth, &sha256),
        CardCommand::Release => Ok(CardOk::Verified),
        CardCommand::PinStatusOf(kind) => c.card.pin_status(kind).map(CardOk::PinStatus).map_err(fail),
        CardCommand::ReadSignatureCertificate => {
            c.card.read_certificate(CertificateEf::Signature).map(CardOk::Certificate).map_err(fail)
        }
        CardCommand::SignWithSignatureKey { sha256 } => signed_by(c, SigningKey::Signature, &sha256),
        CardCommand::ResetChallenge(kind) => c.card.reset_challenge(kind).map(CardOk::ResetChallenge).map_err(fail),
        CardCommand::ResetRetryCounter { authorisation, new } => c
            .card
            .reset_retry_counter(&authorisation, &new)
            .map(|t| CardOk::ResetDone { tries_left: t.left })
            .map_err(fail),
    }
}

/// A signature with `key` and the fingerprint of the user-authentication certificate read on
/// this connection (read now if it was not): the session compares it with the card it started
/// with, so a swapped card cannot sign for another.
fn signed_by(c: &mut Connection, key: SigningKey, sha256: &[u8; 32]) -> Result<CardOk, CardFailure> {
    let fail = |e: JpkiError| CardFailure::from(&e);
    let signature = c.card.sign_sha256(key, sha256).map_err(fail)?;
    let der = match &c.certificate {
        Some(d) => d.clone(),
        None => {
            let d = c.card.read_certificate(CertificateEf::UserAuth).map_err(fail)?;
            c.certificate = Some(d.clone());
            d
        }
    };
    Ok(CardOk::Signature { signature, certificate_fingerprint: Sha256::digest(&der).into() })
}

fn connect(
    connector: &dyn Connector,
    readers: &mut Option<Box<dyn Readers>>,
    reader: &str,
) -> Result<Connection, CardFailure> {
    let transport_failure = |e: TransportError| CardFailure::from(&JpkiError::from(e));
    if readers.is_none() {
        *readers = Some(connector.open().map_err(transport_failure)?);
    }
    let Some(session) = readers.as_ref() else { return Err(CardFailure::new(JpkiErrorKind::CardFault)) };
    let transport = session.connect(reader).map_err(transport_failure)?;
    let card = JpkiCard::open(transport).map_err(|e| CardFailure::from(&e))?;
    Ok(Connection { reader: reader.to_string(), card, certificate: None })
}
