//! Card transport: the [`CardTransport`] trait the JPKI profile runs on, and the [`Connector`]
//! that finds cards on readers and connects to them.
//!
//! A connector is one family of readers, like AusweisApp's reader plugins or probe-rs' probe
//! families: PC/SC ([`PcscConnector`], feature `pcsc`, with reader hot-plug, contact and
//! contactless reader roles and cancellation) in the kiosk, an in-memory card in tests. The card
//! worker and the operator diagnostics only see the traits, so a test can put a fake reader
//! behind them. Cards are never identified by ATR: the ATR is reported for diagnostics only.

#[cfg(feature = "pcsc")]
mod pcsc;

#[cfg(feature = "pcsc")]
pub use self::pcsc::{PcscConnector, PcscTransport, ReaderMonitor};

use crate::iso7816::{ApduError, CommandApdu, ResponseApdu};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Something that exchanges APDUs with one card.
pub trait CardTransport {
    /// Sends one command and returns the parsed response.
    fn transmit(&mut self, command: &CommandApdu) -> Result<ResponseApdu, TransportError>;
}

impl<T: CardTransport + ?Sized> CardTransport for &mut T {
    fn transmit(&mut self, command: &CommandApdu) -> Result<ResponseApdu, TransportError> {
        (**self).transmit(command)
    }
}

impl<T: CardTransport + ?Sized> CardTransport for Box<T> {
    fn transmit(&mut self, command: &CommandApdu) -> Result<ResponseApdu, TransportError> {
        (**self).transmit(command)
    }
}

/// A family of card readers (PC/SC, an in-memory card). Shared by the threads that watch the
/// readers and that talk to the card, each with its own [`Readers`].
pub trait Connector: Send + Sync {
    /// Opens a session with the readers (for PC/SC: a context with pcscd). Fails while the
    /// reader service is down; the caller retries.
    fn open(&self) -> Result<Box<dyn Readers>, TransportError>;
}

/// One session with a connector's readers: watch them, and connect to the card on one.
pub trait Readers: Send {
    /// Readers present now that the connector accepts, with their interface.
    fn list(&self) -> Result<Vec<(String, ReaderInterface)>, TransportError>;

    /// The first accepted reader with a card (or phone) on it now.
    fn reader_with_card(&self) -> Result<Option<(String, ReaderInterface)>, TransportError>;

    /// Blocks until something changes (or `timeout` passes, giving an empty list, or the
    /// session is cancelled, giving `Cancelled`), and returns what changed. The first call
    /// reports the readers (and then the cards) already there.
    fn wait(&mut self, timeout: Option<Duration>) -> Result<Vec<ReaderEvent>, TransportError>;

    /// A handle another thread uses to end a blocking [`Readers::wait`].
    fn canceller(&self) -> Canceller;

    /// Connects to the card on `reader`, exclusively: no other client of the reader service
    /// can talk to the card until [`CardConnection::release`] resets it.
    fn connect(&self, reader: &str) -> Result<Box<dyn CardConnection>, TransportError>;
}

/// A connected card: APDUs, what the operator is shown, and the release that resets it.
pub trait CardConnection: CardTransport + Send {
    fn reader(&self) -> &str;

    /// The ATR, for diagnostics only.
    fn atr(&self) -> &[u8];

    /// Disconnects and resets the card, so no verified PIN state outlives the session.
    fn release(self: Box<Self>);
}

/// A handle that cancels a blocking wait of the [`Readers`] it came from.
#[derive(Clone)]
pub struct Canceller(Arc<dyn Fn() + Send + Sync>);

impl Canceller {
    pub fn new(cancel: impl Fn() + Send + Sync + 'static) -> Self {
        Canceller(Arc::new(cancel))
    }

    pub fn cancel(&self) {
        (self.0)()
    }
}

impl fmt::Debug for Canceller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Canceller")
    }
}

/// The coarse classes of transport failure, for callers that only branch on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportErrorKind {
    /// The card (or phone) left the reader, or was reset by someone else.
    CardRemoved,
    /// The reader is gone (unplugged) or the PC/SC service is down.
    ReaderUnavailable,
    /// Another thread cancelled the wait or the exchange.
    Cancelled,
    /// The card answered bytes that are not an APDU response.
    Malformed,
    /// Anything else the PC/SC layer reported.
    Other,
}

/// An error of the reader service (PC/SC's `SCARD_E_*`), kept as its code and text so that the
/// error types name no PC/SC library.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceError {
    /// The service's own number (PC/SC: the `SCARD_*` status).
    pub code: u32,
    pub text: String,
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A transport failure.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("the card was removed")]
    CardRemoved,
    #[error("reader {reader:?} is not available")]
    ReaderUnavailable { reader: String },
    #[error("PC/SC service is not running or not reachable: {0}")]
    ServiceUnavailable(ServiceError),
    #[error("the operation was cancelled")]
    Cancelled,
    #[error("malformed response from the card: {0}")]
    Malformed(#[from] ApduError),
    #[error("PC/SC error: {0}")]
    Service(ServiceError),
}

impl TransportError {
    pub fn kind(&self) -> TransportErrorKind {
        match self {
            TransportError::CardRemoved => TransportErrorKind::CardRemoved,
            TransportError::ReaderUnavailable { .. } | TransportError::ServiceUnavailable(_) => {
                TransportErrorKind::ReaderUnavailable
            }
            TransportError::Cancelled => TransportErrorKind::Cancelled,
            TransportError::Malformed(_) => TransportErrorKind::Malformed,
            TransportError::Service(_) => TransportErrorKind::Other,
        }
    }
}

/// How a reader talks to a card; the session needs both (cards on either, phones contactless).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReaderInterface {
    Contact,
    Contactless,
}

/// Maps reader names to interfaces by case-insensitive substring patterns from the kiosk's
/// configuration. Readers matching neither list are ignored (a kiosk must not talk to a card
/// in a reader it does not own, such as an operator's USB stick reader).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderRoles {
    pub contact: Vec<String>,
    pub contactless: Vec<String>,
}

impl Default for ReaderRoles {
    /// Common name fragments of PC/SC readers: dual-interface readers expose the contactless
    /// slot as "PICC"/"Contactless"/"CL".
    fn default() -> Self {
        Self {
            contact: vec!["".into()],
            contactless: vec!["picc".into(), "contactless".into(), " cl ".into(), "nfc".into()],
        }
    }
}

impl ReaderRoles {
    /// The interface of a reader; contactless patterns win over a catch-all contact pattern.
    pub fn classify(&self, reader: &str) -> Option<ReaderInterface> {
        let name = reader.to_lowercase();
        let hit = |pats: &[String]| pats.iter().any(|p| name.contains(&p.to_lowercase()));
        if hit(&self.contactless) {
            Some(ReaderInterface::Contactless)
        } else if hit(&self.contact) {
            Some(ReaderInterface::Contact)
        } else {
            None
        }
    }
}

/// What the reader monitor saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReaderEvent {
    ReaderAdded { reader: String, interface: ReaderInterface },
    ReaderRemoved { reader: String },
    CardPresented { reader: String, interface: ReaderInterface, atr: Vec<u8> },
    CardRemoved { reader: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_readers_by_configured_patterns() {
        let roles =
            ReaderRoles { contact: vec!["Virtual PCD 00 00".into()], contactless: vec!["Virtual PCD 00 01".into()] };
        assert_eq!(roles.classify("Virtual PCD 00 00"), Some(ReaderInterface::Contact));
        assert_eq!(roles.classify("Virtual PCD 00 01"), Some(ReaderInterface::Contactless));
        assert_eq!(roles.classify("Yubico YubiKey"), None);
        let d = ReaderRoles::default();
        assert_eq!(d.classify("SONY FeliCa RC-S300/P PICC 0"), Some(ReaderInterface::Contactless));
        assert_eq!(d.classify("Identiv uTrust 2700 R"), Some(ReaderInterface::Contact));
    }

    #[test]
    fn a_canceller_runs_its_action_from_any_clone() {
        let hits = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let h = hits.clone();
        let c = Canceller::new(move || {
            h.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        });
        c.clone().cancel();
        c.cancel();
        assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 2);
    }
}
