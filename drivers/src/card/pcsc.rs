//! The PC/SC connector (feature `pcsc`): pcsc-lite's readers with hot-plug
//! (`\\?PnP?\Notification`), contact/contactless roles and cancellation.

use super::{
    Canceller, CardConnection, CardTransport, Connector, ReaderEvent, ReaderInterface, ReaderRoles, Readers,
    ServiceError, TransportError,
};
use crate::iso7816::{CommandApdu, ResponseApdu, MAX_SHORT_RESPONSE};
use ::pcsc as sys;
use std::ffi::{CStr, CString};
use std::time::Duration;

/// The PC/SC readers the roles accept. Each [`Connector::open`] is a context of its own, so the
/// thread watching the readers and the one talking to the card never block each other.
#[derive(Debug, Clone, Default)]
pub struct PcscConnector {
    roles: ReaderRoles,
}

impl PcscConnector {
    pub fn new(roles: ReaderRoles) -> Self {
        Self { roles }
    }
}

impl Connector for PcscConnector {
    fn open(&self) -> Result<Box<dyn Readers>, TransportError> {
        Ok(Box::new(ReaderMonitor::new(self.roles.clone())?))
    }
}

fn service(e: sys::Error) -> ServiceError {
    ServiceError { code: e as u32, text: e.to_string() }
}

impl TransportError {
    fn from_pcsc(e: sys::Error, reader: &str) -> Self {
        use sys::Error as E;
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
            E::NoService | E::ServiceStopped | E::NoDir | E::CommError => {
                TransportError::ServiceUnavailable(service(e))
            }
            E::Cancelled => TransportError::Cancelled,
            other => TransportError::Service(service(other)),
        }
    }
}

/// Watches the PC/SC readers: hot-plug of readers (`\\?PnP?\Notification`) and cards coming
/// and going, without polling.
pub struct ReaderMonitor {
    ctx: sys::Context,
    roles: ReaderRoles,
    /// Readers being watched, with the state last reported to the caller.
    states: Vec<sys::ReaderState>,
}

impl ReaderMonitor {
    pub fn new(roles: ReaderRoles) -> Result<Self, TransportError> {
        let ctx =
            sys::Context::establish(sys::Scope::User).map_err(|e| TransportError::ServiceUnavailable(service(e)))?;
        let pnp = sys::ReaderState::new(sys::PNP_NOTIFICATION(), sys::State::UNAWARE);
        Ok(Self { ctx, roles, states: vec![pnp] })
    }

    pub fn context(&self) -> &sys::Context {
        &self.ctx
    }

    /// Cancels a blocking wait or exchange of this monitor's context.
    pub fn canceller(&self) -> Canceller {
        let ctx = self.ctx.clone();
        // Cancelling an idle context is harmless; there is nothing useful to do on failure.
        Canceller::new(move || {
            let _ = ctx.cancel();
        })
    }

    /// Readers present now that the roles accept, with their interface.
    pub fn readers(&self) -> Result<Vec<(String, ReaderInterface)>, TransportError> {
        list_readers(&self.ctx, &self.roles)
    }

    /// The first reader with a card in it that the roles accept.
    pub fn reader_with_card(&self) -> Result<Option<(String, ReaderInterface)>, TransportError> {
        let readers = list_readers(&self.ctx, &self.roles)?;
        if readers.is_empty() {
            return Ok(None);
        }
        let mut states: Vec<sys::ReaderState> = readers
            .iter()
            .filter_map(|(n, _)| CString::new(n.as_str()).ok())
            .map(|c| sys::ReaderState::new(c, sys::State::UNAWARE))
            .collect();
        self.ctx.get_status_change(Some(Duration::ZERO), &mut states).or_else(|e| {
            if e == sys::Error::Timeout {
                Ok(())
            } else {
                Err(TransportError::from_pcsc(e, ""))
            }
        })?;
        Ok(states.iter().find(|s| s.event_state().contains(sys::State::PRESENT)).and_then(|s| {
            let name = reader_name(s.name());
            readers.iter().find(|(n, _)| *n == name).cloned()
        }))
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
            Err(sys::Error::Timeout) => return Ok(Vec::new()),
            Err(sys::Error::Cancelled) => return Err(TransportError::Cancelled),
            Err(sys::Error::UnknownReader) => {
                // A reader vanished between listing and waiting; the next sync drops it.
            }
            Err(e) => return Err(TransportError::from_pcsc(e, "")),
        }
        events.extend(self.sync_reader_list()?);
        for rs in self.states.iter_mut().skip(1) {
            let new = rs.event_state();
            if !new.contains(sys::State::CHANGED) {
                continue;
            }
            let old = rs.current_state();
            let name = rs.name().to_string_lossy().into_owned();
            let was = old.contains(sys::State::PRESENT);
            let is = new.contains(sys::State::PRESENT) && !new.contains(sys::State::MUTE);
            if is && (!was || new.contains(sys::State::EMPTY) != old.contains(sys::State::EMPTY)) {
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
                if rs.current_state().contains(sys::State::PRESENT) {
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
            self.states.push(sys::ReaderState::new(cname, sys::State::UNAWARE));
            events.push(ReaderEvent::ReaderAdded { reader: name, interface });
        }
        Ok(events)
    }
}

fn list_readers(ctx: &sys::Context, roles: &ReaderRoles) -> Result<Vec<(String, ReaderInterface)>, TransportError> {
    match ctx.list_readers_owned() {
        Ok(names) => Ok(names
            .into_iter()
            .filter_map(|n| {
                let s = n.to_string_lossy().into_owned();
                roles.classify(&s).map(|i| (s, i))
            })
            .collect()),
        Err(sys::Error::NoReadersAvailable) => Ok(Vec::new()),
        Err(e) => Err(TransportError::from_pcsc(e, "")),
    }
}

/// A connected card in a PC/SC reader.
pub struct PcscTransport {
    card: Option<sys::Card>,
    reader: String,
    atr: Vec<u8>,
}

impl PcscTransport {
    /// Connects to the card in `reader` exclusively: from the first APDU to the release (which
    /// resets the card) no other PC/SC client can send it anything. A verified PIN is card
    /// state, not connection state, so with a shared connection another client could have the
    /// key sign between our VERIFY and our signature (the backend round trip lies between).
    /// While another client holds the card, this fails with `SharingViolation`.
    pub fn connect(ctx: &sys::Context, reader: &str) -> Result<Self, TransportError> {
        let cname = CString::new(reader).map_err(|_| TransportError::ReaderUnavailable { reader: reader.into() })?;
        let card = ctx
            .connect(&cname, sys::ShareMode::Exclusive, sys::Protocols::ANY)
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
            if let Err((card, _)) = card.disconnect(sys::Disposition::ResetCard) {
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

impl Readers for ReaderMonitor {
    fn list(&self) -> Result<Vec<(String, ReaderInterface)>, TransportError> {
        self.readers()
    }

    fn reader_with_card(&self) -> Result<Option<(String, ReaderInterface)>, TransportError> {
        ReaderMonitor::reader_with_card(self)
    }

    fn wait(&mut self, timeout: Option<Duration>) -> Result<Vec<ReaderEvent>, TransportError> {
        ReaderMonitor::wait(self, timeout)
    }

    fn canceller(&self) -> Canceller {
        ReaderMonitor::canceller(self)
    }

    fn connect(&self, reader: &str) -> Result<Box<dyn CardConnection>, TransportError> {
        Ok(Box::new(PcscTransport::connect(&self.ctx, reader)?))
    }
}

impl CardConnection for PcscTransport {
    fn reader(&self) -> &str {
        PcscTransport::reader(self)
    }

    fn atr(&self) -> &[u8] {
        PcscTransport::atr(self)
    }

    fn release(self: Box<Self>) {
        PcscTransport::release(*self)
    }
}

fn reader_name(c: &CStr) -> String {
    c.to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::TransportErrorKind;

    #[test]
    fn pcsc_errors_map_to_user_relevant_kinds() {
        assert_eq!(TransportError::from_pcsc(sys::Error::RemovedCard, "r").kind(), TransportErrorKind::CardRemoved);
        assert_eq!(TransportError::from_pcsc(sys::Error::ResetCard, "r").kind(), TransportErrorKind::CardRemoved);
        assert_eq!(
            TransportError::from_pcsc(sys::Error::ReaderUnavailable, "r").kind(),
            TransportErrorKind::ReaderUnavailable
        );
        assert_eq!(TransportError::from_pcsc(sys::Error::Cancelled, "r").kind(), TransportErrorKind::Cancelled);
    }

    /// The error keeps pcsc-lite's number and text, so nothing of the service's report is lost.
    #[test]
    fn service_errors_keep_the_code_and_text() {
        let e = TransportError::from_pcsc(sys::Error::NoService, "");
        let TransportError::ServiceUnavailable(s) = &e else { panic!("{e:?}") };
        assert_eq!(s.code, sys::Error::NoService as u32);
        assert_eq!(e.to_string(), format!("PC/SC service is not running or not reachable: {}", sys::Error::NoService));
        let e = TransportError::from_pcsc(sys::Error::InvalidHandle, "");
        assert_eq!(e.to_string(), format!("PC/SC error: {}", sys::Error::InvalidHandle));
    }
}
