//! Card transport: the [`CardTransport`] trait and its PC/SC implementation with reader
//! hot-plug, contact/contactless reader roles and cancellation.
//!
//! The JPKI profile talks to a `CardTransport`, so it runs over a real reader or over anything
//! that answers APDUs (the simulator's engine in unit tests). Cards are never identified by ATR:
//! the ATR is reported for diagnostics only.

use crate::iso7816::{ApduError, CommandApdu, ResponseApdu, MAX_SHORT_RESPONSE};
use std::ffi::{CStr, CString};
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

/// A transport failure.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("the card was removed")]
    CardRemoved,
    #[error("reader {reader:?} is not available")]
    ReaderUnavailable { reader: String },
    #[error("PC/SC service is not running or not reachable: {0}")]
    ServiceUnavailable(pcsc::Error),
    #[error("the operation was cancelled")]
    Cancelled,
    #[error("malformed response from the card: {0}")]
    Malformed(#[from] ApduError),
    #[error("PC/SC error: {0}")]
    Pcsc(pcsc::Error),
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
            TransportError::Pcsc(_) => TransportErrorKind::Other,
        }
    }

    fn from_pcsc(e: pcsc::Error, reader: &str) -> Self {
        use pcsc::Error as E;
        match e {
            // pcsc-lite reports a reader-level communication failure mid-exchange as NotTransacted:
            // for the kiosk that is a card that went away (or stopped answering).
            E::RemovedCard
            | E::ResetCard
            | E::NoSmartcard
            | E::UnpoweredCard
            | E::UnresponsiveCard
            | E::NotTransacted => TransportError::CardRemoved,
            E::ReaderUnavailable | E::UnknownReader | E::NoReadersAvailable => {
                TransportError::ReaderUnavailable { reader: reader.to_owned() }
            }
            E::NoService | E::ServiceStopped | E::NoDir | E::CommError => TransportError::ServiceUnavailable(e),
            E::Cancelled => TransportError::Cancelled,
            other => TransportError::Pcsc(other),
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

/// A handle that cancels a blocking wait or exchange of the PC/SC context it came from.
#[derive(Clone)]
pub struct Canceller(pcsc::Context);

impl Canceller {
    pub fn cancel(&self) {
        // Cancelling an idle context is harmless; there is nothing useful to do on failure.
        let _ = self.0.cancel();
    }
}

/// Watches the PC/SC readers: hot-plug of readers (`\\?PnP?\Notification`) and cards coming
/// and going, without polling.
pub struct ReaderMonitor {
    ctx: pcsc::Context,
    roles: ReaderRoles,
    /// Readers being watched, with the state last reported to the caller.
    states: Vec<pcsc::ReaderState>,
}

impl ReaderMonitor {
    pub fn new(roles: ReaderRoles) -> Result<Self, TransportError> {
        let ctx = pcsc::Context::establish(pcsc::Scope::User).map_err(TransportError::ServiceUnavailable)?;
        let pnp = pcsc::ReaderState::new(pcsc::PNP_NOTIFICATION(), pcsc::State::UNAWARE);
        Ok(Self { ctx, roles, states: vec![pnp] })
    }

    pub fn context(&self) -> &pcsc::Context {
        &self.ctx
    }

    pub fn canceller(&self) -> Canceller {
        Canceller(self.ctx.clone())
    }

    /// Readers present now that the roles accept, with their interface.
    pub fn readers(&self) -> Result<Vec<(String, ReaderInterface)>, TransportError> {
        list_readers(&self.ctx, &self.roles)
    }

    /// Blocks until something changes (or `timeout` passes, giving an empty list, or the
    /// monitor is cancelled, giving `Cancelled`), and returns what changed.
    pub fn wait(&mut self, timeout: Option<Duration>) -> Result<Vec<ReaderEvent>, TransportError> {
        let mut events = self.sync_reader_list()?;
        if !events.is_empty() {
            return Ok(events);
        }
        match self.ctx.get_status_change(timeout, &mut self.states) {
            Ok(()) => {}
            Err(pcsc::Error::Timeout) => return Ok(Vec::new()),
            Err(pcsc::Error::Cancelled) => return Err(TransportError::Cancelled),
            Err(pcsc::Error::UnknownReader) => {
                // A reader vanished between listing and waiting; the next sync drops it.
            }
            Err(e) => return Err(TransportError::from_pcsc(e, "")),
        }
        events.extend(self.sync_reader_list()?);
        for rs in self.states.iter_mut().skip(1) {
            let new = rs.event_state();
            if !new.contains(pcsc::State::CHANGED) {
                continue;
            }
            let old = rs.current_state();
            let name = rs.name().to_string_lossy().into_owned();
            let was = old.contains(pcsc::State::PRESENT);
            let is = new.contains(pcsc::State::PRESENT) && !new.contains(pcsc::State::MUTE);
            if is && (!was || new.contains(pcsc::State::EMPTY) != old.contains(pcsc::State::EMPTY)) {
                if let Some(interface) = self.roles.classify(&name) {
                    events.push(ReaderEvent::CardPresented { reader: name, interface, atr: rs.atr().to_vec() });
                }
            } else if was && !is {
                events.push(ReaderEvent::CardRemoved { reader: name });
            }
            rs.sync_current_state();
        }
        if let Some(pnp) = self.states.first_mut() {
            pnp.sync_current_state();
        }
        Ok(events)
    }

    /// Brings the watched list in line with the readers present, reporting additions and
    /// removals (a removed reader with a card also reports the card gone).
    fn sync_reader_list(&mut self) -> Result<Vec<ReaderEvent>, TransportError> {
        let present = match list_readers(&self.ctx, &self.roles) {
            Ok(r) => r,
            Err(TransportError::ReaderUnavailable { .. }) => Vec::new(),
            Err(e) => return Err(e),
        };
        let mut events = Vec::new();
        let mut kept = Vec::with_capacity(self.states.len());
        for (i, rs) in self.states.drain(..).enumerate() {
            let name = rs.name().to_string_lossy().into_owned();
            if i == 0 || present.iter().any(|(n, _)| *n == name) {
                kept.push(rs);
            } else {
                if rs.current_state().contains(pcsc::State::PRESENT) {
                    events.push(ReaderEvent::CardRemoved { reader: name.clone() });
                }
                events.push(ReaderEvent::ReaderRemoved { reader: name });
            }
        }
        self.states = kept;
        for (name, interface) in present {
            if self.states.iter().skip(1).any(|rs| rs.name().to_bytes() == name.as_bytes()) {
                continue;
            }
            let Ok(cname) = CString::new(name.clone()) else { continue };
            self.states.push(pcsc::ReaderState::new(cname, pcsc::State::UNAWARE));
            events.push(ReaderEvent::ReaderAdded { reader: name, interface });
        }
        Ok(events)
    }
}

fn list_readers(ctx: &pcsc::Context, roles: &ReaderRoles) -> Result<Vec<(String, ReaderInterface)>, TransportError> {
    match ctx.list_readers_owned() {
        Ok(names) => Ok(names
            .into_iter()
            .filter_map(|n| {
                let s = n.to_string_lossy().into_owned();
                roles.classify(&s).map(|i| (s, i))
            })
            .collect()),
        Err(pcsc::Error::NoReadersAvailable) => Ok(Vec::new()),
        Err(e) => Err(TransportError::from_pcsc(e, "")),
    }
}

/// A connected card in a PC/SC reader.
pub struct PcscTransport {
    card: Option<pcsc::Card>,
    reader: String,
    atr: Vec<u8>,
}

impl PcscTransport {
    /// Connects to the card in `reader` (shared mode: diagnostics may look on).
    pub fn connect(ctx: &pcsc::Context, reader: &str) -> Result<Self, TransportError> {
        let cname = CString::new(reader).map_err(|_| TransportError::ReaderUnavailable { reader: reader.into() })?;
        let card = ctx
            .connect(&cname, pcsc::ShareMode::Shared, pcsc::Protocols::ANY)
            .map_err(|e| TransportError::from_pcsc(e, reader))?;
        let atr = card.status2_owned().map(|s| s.atr().to_vec()).unwrap_or_default();
        Ok(Self { card: Some(card), reader: reader.to_owned(), atr })
    }

    pub fn reader(&self) -> &str {
        &self.reader
    }

    /// The ATR, for diagnostics only.
    pub fn atr(&self) -> &[u8] {
        &self.atr
    }

    /// Disconnects and resets the card, so no verified PIN state outlives the session.
    pub fn release(mut self) {
        self.disconnect_reset();
    }

    fn disconnect_reset(&mut self) {
        if let Some(card) = self.card.take() {
            if let Err((card, _)) = card.disconnect(pcsc::Disposition::ResetCard) {
                // The card is probably gone already; dropping it leaves the card as it is.
                drop(card);
            }
        }
    }
}

impl Drop for PcscTransport {
    fn drop(&mut self) {
        self.disconnect_reset();
    }
}

impl CardTransport for PcscTransport {
    fn transmit(&mut self, command: &CommandApdu) -> Result<ResponseApdu, TransportError> {
        let card = self.card.as_ref().ok_or(TransportError::CardRemoved)?;
        let bytes = command.to_bytes();
        let mut buf = [0u8; MAX_SHORT_RESPONSE];
        let answer = card.transmit(&bytes, &mut buf).map_err(|e| TransportError::from_pcsc(e, &self.reader))?;
        let response = ResponseApdu::from_bytes(answer);
        zeroize::Zeroize::zeroize(&mut buf[..]);
        Ok(response?)
    }
}

/// Returns the name of the first reader with a card in it that the roles accept.
pub fn first_reader_with_card(
    ctx: &pcsc::Context,
    roles: &ReaderRoles,
) -> Result<Option<(String, ReaderInterface)>, TransportError> {
    let readers = list_readers(ctx, roles)?;
    if readers.is_empty() {
        return Ok(None);
    }
    let mut states: Vec<pcsc::ReaderState> = readers
        .iter()
        .filter_map(|(n, _)| CString::new(n.as_str()).ok())
        .map(|c| pcsc::ReaderState::new(c, pcsc::State::UNAWARE))
        .collect();
    ctx.get_status_change(Some(Duration::ZERO), &mut states).or_else(|e| {
        if e == pcsc::Error::Timeout {
            Ok(())
        } else {
            Err(TransportError::from_pcsc(e, ""))
        }
    })?;
    Ok(states.iter().find(|s| s.event_state().contains(pcsc::State::PRESENT)).and_then(|s| {
        let name = reader_name(s.name());
        readers.iter().find(|(n, _)| *n == name).cloned()
    }))
}

fn reader_name(c: &CStr) -> String {
    c.to_string_lossy().into_owned()
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
    fn pcsc_errors_map_to_user_relevant_kinds() {
        assert_eq!(TransportError::from_pcsc(pcsc::Error::RemovedCard, "r").kind(), TransportErrorKind::CardRemoved);
        assert_eq!(TransportError::from_pcsc(pcsc::Error::ResetCard, "r").kind(), TransportErrorKind::CardRemoved);
        assert_eq!(
            TransportError::from_pcsc(pcsc::Error::ReaderUnavailable, "r").kind(),
            TransportErrorKind::ReaderUnavailable
        );
        assert_eq!(TransportError::from_pcsc(pcsc::Error::Cancelled, "r").kind(), TransportErrorKind::Cancelled);
    }
}
