//! The card as a reader sees it: the [`VirtualCard`] engine with its ATR, the store that keeps
//! its counters, and the APDU log. Transport-neutral: vpcd ([`crate::vpcd`]) and the in-memory
//! reader ([`crate::memory`]) both drive a slot, so there is one virtual card.

use crate::card::{describe_exchange, VirtualCard, SW_MEMORY_FAILURE};
use crate::profile::CardProfile;
use std::io::Write;
use zeroize::Zeroize;

/// Stores the profile; called before a response that changed a counter or PIN is sent.
pub type Persist = Box<dyn FnMut(&CardProfile) -> Result<(), String> + Send>;

/// A card in a reader: engine, ATR, persistence and the optional APDU log.
pub struct CardSlot {
    card: VirtualCard,
    atr: Vec<u8>,
    persist: Option<Persist>,
    apdu_log: Option<Box<dyn Write + Send>>,
}

impl CardSlot {
    pub fn new(card: VirtualCard, atr: &[u8]) -> Self {
        Self { card, atr: atr.to_vec(), persist: None, apdu_log: None }
    }

    pub fn with_persist(mut self, persist: Persist) -> Self {
        self.persist = Some(persist);
        self
    }

    /// One line per APDU (see [`describe_exchange`]: never command or response data).
    pub fn with_apdu_log(mut self, log: Box<dyn Write + Send>) -> Self {
        self.apdu_log = Some(log);
        self
    }

    pub fn card(&self) -> &VirtualCard {
        &self.card
    }

    pub fn card_mut(&mut self) -> &mut VirtualCard {
        &mut self.card
    }

    pub fn atr(&self) -> &[u8] {
        &self.atr
    }

    /// Answers one command APDU with the response APDU, storing the profile first when a
    /// counter or PIN changed (a failed store answers 6581 and changes nothing on disk).
    pub fn exchange(&mut self, apdu: &[u8]) -> Vec<u8> {
        let mut response = self.card.process(apdu);
        if self.card.take_dirty() {
            if let Some(persist) = self.persist.as_mut() {
                if let Err(e) = persist(self.card.profile()) {
                    // The counter changed in memory but not on disk: say so instead of
                    // pretending, and keep it dirty so the next APDU tries again.
                    log::error!("cannot store the card profile: {e}");
                    self.card.mark_dirty();
                    response.zeroize();
                    response = SW_MEMORY_FAILURE.to_bytes().to_vec();
                }
            }
        }
        let line = describe_exchange(apdu, &response);
        log::debug!("{line}");
        if let Some(w) = self.apdu_log.as_mut() {
            if let Err(e) = writeln!(w, "{line}").and_then(|_| w.flush()) {
                log::warn!("cannot write the APDU log: {e}");
            }
        }
        response
    }
}
