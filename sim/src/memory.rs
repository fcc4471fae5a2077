//! Card readers in memory: the virtual card behind the drivers' [`Connector`], without pcscd.
//!
//! A test (or the demo on a machine without pcscd) holds a [`MemoryReaders`], plugs readers,
//! places [`CardSlot`]s on them and pulls them off; the kiosk's card worker gets a clone as its
//! connector and sees what it would see through PC/SC: readers coming and going, cards placed
//! and removed, and the card's real APDU answers from [`crate::card::VirtualCard`]. A card pulled
//! mid-session fails the exchange as `CardRemoved`, as a pulled card does on a real reader.
//!
//! Power follows a shared-mode PC/SC reader: a placed card is powered on, a released connection
//! resets it (no verified PIN outlives a session), a pulled card loses power.

use crate::slot::CardSlot;
use madoguchi_drivers::card::{
    Canceller, CardConnection, CardTransport, Connector, ReaderEvent, ReaderInterface, Readers, TransportError,
};
use madoguchi_drivers::iso7816::{CommandApdu, ResponseApdu};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};
use zeroize::Zeroize;

/// Why a card could not be placed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlaceError {
    #[error("no reader {0:?}")]
    NoSuchReader(String),
    #[error("reader {0:?} already holds a card")]
    Occupied(String),
}

/// The readers and what lies on them, shared by the test and every session the kiosk opens.
/// Cloning gives another handle on the same readers.
#[derive(Clone, Default)]
pub struct MemoryReaders {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    /// Notified on every change (and on cancellation) so waiting sessions look again.
    changed: Condvar,
}

#[derive(Default)]
struct State {
    readers: Vec<Reader>,
    /// Numbers each placement, so a connection to a card that was pulled and put back (or
    /// replaced by another) fails instead of talking to the new one.
    placements: u64,
}

struct Reader {
    name: String,
    interface: ReaderInterface,
    card: Option<Placed>,
}

struct Placed {
    slot: CardSlot,
    placement: u64,
}

impl State {
    fn reader_mut(&mut self, name: &str) -> Option<&mut Reader> {
        self.readers.iter_mut().find(|r| r.name == name)
    }

    /// The card of `placement` if it still lies on `reader`.
    fn placed(&mut self, reader: &str, placement: u64) -> Option<&mut CardSlot> {
        self.reader_mut(reader)?.card.as_mut().filter(|p| p.placement == placement).map(|p| &mut p.slot)
    }
}

impl MemoryReaders {
    /// Readers with these names and interfaces, all empty.
    pub fn new(readers: &[(&str, ReaderInterface)]) -> Self {
        let r = MemoryReaders::default();
        for (name, interface) in readers {
            r.plug(name, *interface);
        }
        r
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.shared.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn changed(&self) {
        self.shared.changed.notify_all();
    }

    /// Plugs a reader in (a reader already there is left as it is).
    pub fn plug(&self, name: &str, interface: ReaderInterface) {
        let mut st = self.lock();
        if st.reader_mut(name).is_none() {
            st.readers.push(Reader { name: name.to_owned(), interface, card: None });
        }
        drop(st);
        self.changed();
    }

    /// Unplugs a reader; the card on it (if any) is handed back, without power.
    pub fn unplug(&self, name: &str) -> Option<CardSlot> {
        let mut st = self.lock();
        let i = st.readers.iter().position(|r| r.name == name)?;
        let card = st.readers.remove(i).card;
        drop(st);
        self.changed();
        card.map(|p| power_off(p.slot))
    }

    /// Places a card on a reader; it is powered on, as a reader does on insertion.
    pub fn place(&self, reader: &str, mut slot: CardSlot) -> Result<(), PlaceError> {
        let mut st = self.lock();
        st.placements += 1;
        let placement = st.placements;
        let r = st.reader_mut(reader).ok_or_else(|| PlaceError::NoSuchReader(reader.to_owned()))?;
        if r.card.is_some() {
            return Err(PlaceError::Occupied(reader.to_owned()));
        }
        slot.card_mut().power_on();
        r.card = Some(Placed { slot, placement });
        drop(st);
        self.changed();
        Ok(())
    }

    /// Pulls the card off a reader and hands it back (its counters kept, its power gone).
    pub fn remove(&self, reader: &str) -> Option<CardSlot> {
        let card = self.lock().reader_mut(reader)?.card.take();
        self.changed();
        card.map(|p| power_off(p.slot))
    }

    /// Looks at (or changes) the card on a reader, e.g. to read its retry counters.
    pub fn with_card<R>(&self, reader: &str, f: impl FnOnce(&mut CardSlot) -> R) -> Option<R> {
        let mut st = self.lock();
        st.reader_mut(reader)?.card.as_mut().map(|p| f(&mut p.slot))
    }
}

fn power_off(mut slot: CardSlot) -> CardSlot {
    slot.card_mut().power_off();
    slot
}

impl Connector for MemoryReaders {
    fn open(&self) -> Result<Box<dyn Readers>, TransportError> {
        Ok(Box::new(MemorySession { readers: self.clone(), seen: Vec::new(), cancelled: Arc::default() }))
    }
}

/// One session's view: what it last reported, so each wait reports only the changes.
struct MemorySession {
    readers: MemoryReaders,
    /// Reader, interface, and the placement last reported on it.
    seen: Vec<(String, ReaderInterface, Option<u64>)>,
    /// Set by the canceller; a cancelled session stays cancelled (its owner is leaving).
    cancelled: Arc<AtomicBool>,
}

impl MemorySession {
    /// The changes since the last report, in the order PC/SC gives them.
    fn changes(&mut self, st: &State) -> Vec<ReaderEvent> {
        let mut events = Vec::new();
        self.seen.retain(|(name, _, card)| {
            if st.readers.iter().any(|r| r.name == *name) {
                return true;
            }
            if card.is_some() {
                events.push(ReaderEvent::CardRemoved { reader: name.clone() });
            }
            events.push(ReaderEvent::ReaderRemoved { reader: name.clone() });
            false
        });
        for r in &st.readers {
            let now = r.card.as_ref().map(|p| p.placement);
            let i = match self.seen.iter().position(|(name, _, _)| *name == r.name) {
                Some(i) => i,
                None => {
                    events.push(ReaderEvent::ReaderAdded { reader: r.name.clone(), interface: r.interface });
                    self.seen.push((r.name.clone(), r.interface, None));
                    self.seen.len() - 1
                }
            };
            let before = self.seen[i].2;
            if before == now {
                continue;
            }
            if before.is_some() {
                events.push(ReaderEvent::CardRemoved { reader: r.name.clone() });
            }
            if let Some(p) = &r.card {
                events.push(ReaderEvent::CardPresented {
                    reader: r.name.clone(),
                    interface: r.interface,
                    atr: p.slot.atr().to_vec(),
                });
            }
            self.seen[i].2 = now;
        }
        events
    }
}

impl Readers for MemorySession {
    fn list(&self) -> Result<Vec<(String, ReaderInterface)>, TransportError> {
        Ok(self.readers.lock().readers.iter().map(|r| (r.name.clone(), r.interface)).collect())
    }

    fn reader_with_card(&self) -> Result<Option<(String, ReaderInterface)>, TransportError> {
        let st = self.readers.lock();
        Ok(st.readers.iter().find(|r| r.card.is_some()).map(|r| (r.name.clone(), r.interface)))
    }

    fn wait(&mut self, timeout: Option<Duration>) -> Result<Vec<ReaderEvent>, TransportError> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let shared = self.readers.shared.clone();
        let mut st = shared.state.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if self.cancelled.load(Ordering::SeqCst) {
                return Err(TransportError::Cancelled);
            }
            let events = self.changes(&st);
            if !events.is_empty() {
                return Ok(events);
            }
            st = match deadline {
                None => shared.changed.wait(st).unwrap_or_else(PoisonError::into_inner),
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Ok(Vec::new());
                    }
                    shared.changed.wait_timeout(st, left).unwrap_or_else(PoisonError::into_inner).0
                }
            };
        }
    }

    fn canceller(&self) -> Canceller {
        let (cancelled, readers) = (self.cancelled.clone(), self.readers.clone());
        Canceller::new(move || {
            cancelled.store(true, Ordering::SeqCst);
            // Taken so the wake-up cannot fall between a waiter's check and its wait.
            let _st = readers.lock();
            readers.changed();
        })
    }

    fn connect(&self, reader: &str) -> Result<Box<dyn CardConnection>, TransportError> {
        let mut st = self.readers.lock();
        let r = st.reader_mut(reader).ok_or_else(|| TransportError::ReaderUnavailable { reader: reader.to_owned() })?;
        let p = r.card.as_ref().ok_or(TransportError::CardRemoved)?;
        Ok(Box::new(MemoryCard {
            readers: self.readers.clone(),
            reader: reader.to_owned(),
            placement: p.placement,
            atr: p.slot.atr().to_vec(),
        }))
    }
}

/// A connection to the card of one placement.
struct MemoryCard {
    readers: MemoryReaders,
    reader: String,
    placement: u64,
    atr: Vec<u8>,
}

impl CardTransport for MemoryCard {
    fn transmit(&mut self, command: &CommandApdu) -> Result<ResponseApdu, TransportError> {
        let mut st = self.readers.lock();
        let slot = st.placed(&self.reader, self.placement).ok_or(TransportError::CardRemoved)?;
        let mut answer = slot.exchange(&command.to_bytes());
        drop(st);
        let response = ResponseApdu::from_bytes(&answer);
        answer.zeroize();
        Ok(response?)
    }
}

impl CardConnection for MemoryCard {
    fn reader(&self) -> &str {
        &self.reader
    }

    fn atr(&self) -> &[u8] {
        &self.atr
    }

    fn release(self: Box<Self>) {
        // Dropping resets the card.
    }
}

impl Drop for MemoryCard {
    /// Disconnecting resets the card, as the PC/SC transport's release does.
    fn drop(&mut self) {
        if let Some(slot) = self.readers.lock().placed(&self.reader, self.placement) {
            slot.card_mut().reset();
        }
    }
}

#[cfg(test)]
mod tests;
