//! The link between a [`crate::card::VirtualCard`] and vsmartcard's vpcd (the pcscd reader driver).
//!
//! vpcd *listens* (TCP 35963 for reader "Virtual PCD 00 00"); the card connects as a client,
//! and "card inserted" = connected, "card removed" = socket closed. Frames are a 2-byte
//! big-endian length and a payload: 1-byte payloads are controls (`00` power off, `01` power
//! on, `02` reset, `04` get ATR → answer the ATR), longer ones are command APDUs → answer the
//! response APDU (jpki.md §11, stack.md).
//!
//! [`CardSlot::handle`] is the sans-IO frame handler (the card itself is [`crate::slot`]'s, shared
//! with the in-memory reader of [`crate::memory`]), [`serve`] the blocking loop over one
//! connection, [`Link`] the thread that keeps the card inserted (reconnecting with a bounded
//! backoff) until told to remove it.

pub use crate::slot::{CardSlot, Persist};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;
use zeroize::Zeroize;

/// vpcd's first reader.
pub const DEFAULT_VPCD: &str = "127.0.0.1:35963";

const CTRL_OFF: u8 = 0x00;
const CTRL_ON: u8 = 0x01;
const CTRL_RESET: u8 = 0x02;
const CTRL_ATR: u8 = 0x04;

/// First and longest wait between connection attempts while vpcd is not listening.
const BACKOFF_FIRST: Duration = Duration::from_millis(50);
const BACKOFF_MAX: Duration = Duration::from_secs(1);

impl CardSlot {
    /// Handles one vpcd payload and returns the payload to answer with, if any.
    pub fn handle(&mut self, payload: &[u8]) -> Option<Vec<u8>> {
        match payload {
            [] => None,
            [CTRL_OFF] => {
                log::info!("power off");
                self.card_mut().power_off();
                None
            }
            [CTRL_ON] => {
                log::info!("power on");
                self.card_mut().power_on();
                None
            }
            [CTRL_RESET] => {
                log::info!("reset");
                self.card_mut().reset();
                None
            }
            [CTRL_ATR] => Some(self.atr().to_vec()),
            [other] => {
                log::warn!("unknown vpcd control {other:02X}, ignored");
                None
            }
            apdu => Some(self.exchange(apdu)),
        }
    }
}

/// Serves one vpcd connection until vpcd closes it (Ok) or the socket fails (Err).
pub fn serve<S: Read + Write>(stream: &mut S, slot: &mut CardSlot) -> io::Result<()> {
    loop {
        let mut len = [0u8; 2];
        match stream.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        }
        let mut payload = vec![0u8; usize::from(u16::from_be_bytes(len))];
        let read = stream.read_exact(&mut payload);
        let reply = match read {
            Ok(()) => slot.handle(&payload),
            Err(_) => None,
        };
        // The payload may hold a PIN.
        payload.zeroize();
        read?;
        if let Some(mut reply) = reply {
            let n = match u16::try_from(reply.len()) {
                Ok(n) => n,
                Err(_) => {
                    log::error!("response of {} bytes does not fit a vpcd frame", reply.len());
                    reply = vec![0x6F, 0x00];
                    2
                }
            };
            let mut frame = Vec::with_capacity(reply.len() + 2);
            frame.extend_from_slice(&n.to_be_bytes());
            frame.extend_from_slice(&reply);
            let sent = stream.write_all(&frame).and_then(|_| stream.flush());
            frame.zeroize();
            reply.zeroize();
            sent?;
        }
    }
}

/// What the link reports to its owner (one stdout line each in the CLI).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkEvent {
    /// Connected to vpcd: the card is in the reader.
    Inserted,
    /// The connection ended (removed by command, or vpcd went away).
    Removed,
}

/// The thread that keeps a card inserted in vpcd until [`Link::remove`].
pub struct Link {
    stop: Arc<AtomicBool>,
    wake: mpsc::Sender<()>,
    current: Arc<Mutex<Option<TcpStream>>>,
    handle: JoinHandle<CardSlot>,
}

impl Link {
    /// Starts connecting to `addr` (HOST:PORT) in a thread; reconnects whenever vpcd drops
    /// the connection, waiting 50 ms doubling to 1 s between refused attempts.
    pub fn insert(addr: String, slot: CardSlot, mut events: Box<dyn FnMut(LinkEvent) + Send>) -> io::Result<Link> {
        let stop = Arc::new(AtomicBool::new(false));
        let current: Arc<Mutex<Option<TcpStream>>> = Arc::new(Mutex::new(None));
        let (wake, wake_rx) = mpsc::channel::<()>();
        let (stop2, current2) = (stop.clone(), current.clone());
        let handle = std::thread::Builder::new().name("vpcd-link".into()).spawn(move || {
            let mut slot = slot;
            let mut delay = BACKOFF_FIRST;
            let mut last_error = String::new();
            while !stop2.load(Ordering::SeqCst) {
                let stream = match connect(&addr) {
                    Ok(s) => s,
                    Err(e) => {
                        let msg = e.to_string();
                        if msg != last_error {
                            log::info!("vpcd at {addr} not reachable ({msg}); retrying");
                            last_error = msg;
                        }
                        match wake_rx.recv_timeout(delay) {
                            Err(RecvTimeoutError::Timeout) => {}
                            _ => break,
                        }
                        delay = (delay * 2).min(BACKOFF_MAX);
                        continue;
                    }
                };
                delay = BACKOFF_FIRST;
                last_error.clear();
                {
                    let mut cur = current2.lock().unwrap_or_else(PoisonError::into_inner);
                    if stop2.load(Ordering::SeqCst) {
                        break;
                    }
                    *cur = stream.try_clone().ok();
                }
                // A freshly inserted card is unpowered until vpcd says otherwise.
                slot.card_mut().power_off();
                events(LinkEvent::Inserted);
                let mut stream = stream;
                if let Err(e) = serve(&mut stream, &mut slot) {
                    if !stop2.load(Ordering::SeqCst) {
                        log::warn!("vpcd connection failed: {e}");
                    }
                }
                *current2.lock().unwrap_or_else(PoisonError::into_inner) = None;
                let _ = stream.shutdown(std::net::Shutdown::Both);
                slot.card_mut().power_off();
                events(LinkEvent::Removed);
                if !stop2.load(Ordering::SeqCst) {
                    // vpcd closed on us (pcscd restarting?): pause before knocking again.
                    if !matches!(wake_rx.recv_timeout(BACKOFF_FIRST), Err(RecvTimeoutError::Timeout)) {
                        break;
                    }
                }
            }
            slot
        })?;
        Ok(Link { stop, wake, current, handle })
    }

    /// Pulls the card out: closes the connection (or stops trying) and hands the slot back.
    /// `None` only if the link thread panicked.
    pub fn remove(self) -> Option<CardSlot> {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(s) = self.current.lock().unwrap_or_else(PoisonError::into_inner).as_ref() {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
        let _ = self.wake.send(());
        self.handle.join().ok()
    }
}

fn connect(addr: &str) -> io::Result<TcpStream> {
    let addrs: Vec<SocketAddr> = addr.to_socket_addrs()?.collect();
    let mut last = io::Error::new(io::ErrorKind::NotFound, format!("{addr} resolves to nothing"));
    for a in addrs {
        match TcpStream::connect_timeout(&a, Duration::from_secs(2)) {
            Ok(s) => {
                // Latency matters more than throughput: one small frame per APDU.
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests;
