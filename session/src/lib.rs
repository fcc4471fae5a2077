//! The resident session: a sans-IO state machine (ARCHITECTURE.md §2).
//!
//! [`Session::step`] takes one [`Event`] and returns the [`Effect`]s it causes. It does no I/O and
//! reads no clock (time arrives as [`Event::Tick`]), so every path, failures included, is a plain
//! unit test (`tests/`).
//!
//! Rules it keeps, and why:
//! - **One exit.** Success, cancel, timeout, card pulled and every fault go through
//!   `Turn::exit` (`exit.rs`): release the card, stop taking money, give back what was not earned,
//!   report the outcome and close the backend session (the backend voids what was not printed),
//!   wipe the PIN, certificate and document, audit; the kiosk returns to idle only once every
//!   card is off the readers. No partial release (the 2023 Yokohama failure freed only the print
//!   ordering on a timeout and printed the next applicant's file).
//! - **Never print a document that is not this resident's**: the backend's signature and the
//!   document's binding (session id, certificate fingerprint, issuance number, document, copies,
//!   kiosk) are checked before the print job exists.
//! - **The PIN** is typed into a zeroizing buffer, leaves only inside `CardCommand::Verify`, and
//!   is never in a view, a log line or an audit record; tries left are shown before the first
//!   digit, with a strong warning at one.
//! - **The card comes off before the resident goes on**, as the real service requires.
//! - Replies carry the [`OpId`] of their command: late or duplicate replies are recognised and
//!   dropped (a late backend session or issuance is closed at once).
//! - Timeouts run on the monotonic clock, so a wall clock stepped by NTP neither fires nor
//!   suppresses them; wall-clock jumps are audited.
//!
//! Where things are: `transaction.rs` holds the transaction and its phases (each phase carries
//! the data valid in it); `touch.rs`, `card.rs`, `backend.rs` and `money.rs` handle the events of
//! the resident, the card, the backend and the cash unit and printer; `exit.rs` is the one exit;
//! `render.rs` builds what the resident sees; this file dispatches events and keeps time.

#![forbid(unsafe_code)]

pub mod catalog;
pub mod catalogue;
pub mod checks;
mod config;
pub mod io;
pub mod operator;
pub mod pin;
pub mod view;
pub mod view_model;

mod backend;
mod card;
mod exit;
mod money;
mod render;
mod reset;
mod touch;
mod transaction;

#[cfg(any(test, feature = "testing"))]
pub mod testing;
#[cfg(test)]
mod tests;

pub use catalogue::{FailureCode, MoneyState};
pub use checks::{CertificateCheck, CertificateFacts, CertificateRejection, DocumentCheck, DocumentRejection};
pub use config::{parse_duration, ServiceHours, SessionConfig, Timeouts};
pub use io::*;
pub use reset::PinResetOffer;
pub use view::{CertificateNotice, ScreenId, Stage, Unavailable, ViewModel};

use backend::BackendStep;
use config::{CLOCK_FLOOR_UNIX, CLOCK_JUMP_TOLERANCE_S};
use madoguchi_drivers::gpio::Level;
use madoguchi_drivers::printer::{ErrorKind as PrinterErrorKind, PaperOutcome};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;
use time::OffsetDateTime;
use transaction::{Phase, Transaction};

/// The session. One per kiosk; it runs one transaction at a time.
pub struct Session {
    k: Kiosk,
    /// The open transaction; `None` is idle.
    txn: Option<Transaction>,
}

/// Everything of the session that outlives a transaction: configuration, clocks, devices, the
/// resident's display preferences and what the screen shows.
pub(crate) struct Kiosk {
    cfg: SessionConfig,
    certs: Box<dyn CertificateCheck>,
    docs: Box<dyn DocumentCheck>,
    seed: [u8; 32],
    transactions: u64,
    next_op: u64,
    now: Option<Now>,
    language: String,
    large_text: bool,
    high_contrast: bool,
    /// Readers with a card or phone on them.
    cards: BTreeSet<String>,
    printer_ready: bool,
    cash_ready: bool,
    /// Operator mode holds the kiosk (out of service, or the operator's screens are up).
    held: bool,
    /// Change and refunds the cash unit has been told to pay and has not confirmed, each with
    /// its transaction and the time by which it must (`Timeouts::payout`).
    payouts: Vec<money::Payout>,
    /// A payout timed out: the unit is taken out of service until it pays again.
    cash_hung: bool,
    /// A print job cut off whose visit ended before the printer accounted for it. Its outcome
    /// goes to the backend when the printer worker's answer comes (the lease sent at the cut
    /// keeps the backend from voiding it meanwhile).
    unsettled_print: Option<money::UnsettledPrint>,
    shown: Option<ViewModel>,
    visit: u64,
    force_new_visit: bool,
    outputs: [Level; 3],
}

/// One event's work on the open transaction: the kiosk, the transaction and the effects it
/// causes, borrowed together so each handler reaches all three without looking the transaction up.
pub(crate) struct Turn<'a> {
    k: &'a mut Kiosk,
    t: &'a mut Transaction,
    fx: &'a mut Vec<Effect>,
}

/// Shows the state, never the PIN or the resident's data.
impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pin = self.txn.as_ref().and_then(|t| match &t.phase {
            Phase::Pin(p) => Some(&p.pad),
            _ => None,
        });
        f.debug_struct("Session")
            .field("phase", &self.txn.as_ref().map_or("Idle", |t| t.phase.name()))
            .field("transaction", &self.txn.as_ref().map(|t| t.reference.as_str()))
            .field("pin", &pin)
            .field("cards", &self.k.cards.len())
            .finish()
    }
}

impl Session {
    /// `seed`: random bytes from the OS at start; transaction references and idempotency keys
    /// derive from it, so they are unguessable and never keyed by time or sequence alone.
    pub fn new(
        cfg: SessionConfig,
        certs: Box<dyn CertificateCheck>,
        docs: Box<dyn DocumentCheck>,
        seed: [u8; 32],
    ) -> Session {
        let language = cfg.languages.first().cloned().unwrap_or_else(|| "ja".into());
        let k = Kiosk {
            cfg,
            certs,
            docs,
            seed,
            transactions: 0,
            next_op: 0,
            now: None,
            language,
            large_text: false,
            high_contrast: false,
            cards: BTreeSet::new(),
            printer_ready: true,
            cash_ready: true,
            held: false,
            payouts: Vec::new(),
            cash_hung: false,
            unsettled_print: None,
            shown: None,
            visit: 0,
            force_new_visit: false,
            outputs: [Level::Off; 3],
        };
        Session { k, txn: None }
    }

    /// The view as it stands (what the last `Show` carried).
    pub fn view(&self) -> ViewModel {
        let mut v = self.build_view();
        v.visit = self.k.visit;
        v
    }

    /// The catalog version the kiosk holds verified (the operator's status screen).
    pub fn held_catalog(&self) -> Option<i64> {
        self.k.docs.held_catalog()
    }

    /// Takes the backend's signed catalog fetched between visits (`GET /v1/catalog`): verified
    /// like one delivered with offers, never replacing a newer one. Returns the version held.
    pub fn take_catalog(&mut self, catalog: &madoguchi_api::SignedBlob) -> Result<i64, catalog::CatalogRejection> {
        self.k.docs.take_catalog(catalog)
    }

    /// Whether a transaction is open (operator mode must wait for `false`).
    pub fn in_transaction(&self) -> bool {
        self.txn.is_some()
    }

    /// Operator mode holds the kiosk (`true`) or lets residents in again. A held kiosk starts no
    /// visit and shows `out-of-service`; a visit under way is never cut short by it.
    pub fn hold(&mut self, held: bool) -> Vec<Effect> {
        let mut fx = Vec::new();
        if self.k.held != held {
            self.k.held = held;
            self.render(&mut fx);
        }
        fx
    }

    /// Handles one event.
    pub fn step(&mut self, event: Event) -> Vec<Effect> {
        let mut fx = Vec::new();
        match event {
            Event::Tick(now) => self.on_tick(now, &mut fx),
            Event::Touch(t) => self.on_touch(t, &mut fx),
            Event::CardPresented { reader, interface, .. } => self.on_card_presented(reader, interface, &mut fx),
            Event::CardRemoved { reader } => self.on_card_gone(&reader, FailureCode::CardRemoved, &mut fx),
            Event::ReaderRemoved { reader } => self.on_card_gone(&reader, FailureCode::ReaderFault, &mut fx),
            Event::CardReply { op, result } => match self.turn(&mut fx) {
                Some(mut turn) => turn.on_card_reply(op, result),
                None => self.audit(&mut fx, RecordKind::StaleReply { what: "card" }),
            },
            Event::BackendReply { op, result } => self.on_backend_reply(op, result, &mut fx),
            Event::PrinterStatus(p) => self.on_printer(p, &mut fx),
            Event::Payment(p) => self.on_payment(p, &mut fx),
        }
        self.maybe_idle();
        self.render(&mut fx);
        fx
    }

    /// The open transaction with the kiosk, for one event's work.
    fn turn<'a>(&'a mut self, fx: &'a mut Vec<Effect>) -> Option<Turn<'a>> {
        let t = self.txn.as_mut()?;
        Some(Turn { k: &mut self.k, t, fx })
    }

    /// Opens a transaction.
    fn begin<'a>(&'a mut self, fx: &'a mut Vec<Effect>) -> Turn<'a> {
        self.k.transactions += 1;
        let n = self.k.transactions;
        let reference = format!("T-{}", self.k.derive("transaction", n)[..8].to_ascii_uppercase());
        let overall = self.k.mono() + self.k.cfg.timeouts.overall;
        let t = self.txn.insert(Transaction::new(reference, n, overall));
        let mut turn = Turn { k: &mut self.k, t, fx };
        turn.audit(RecordKind::SessionStarted);
        turn
    }

    fn audit(&mut self, fx: &mut Vec<Effect>, kind: RecordKind) {
        fx.push(self.k.record(self.txn.as_ref().map(|t| t.reference.as_str()), kind));
    }

    // -----------------------------------------------------------------------------------------
    // time

    fn on_tick(&mut self, mut now: Now, fx: &mut Vec<Effect>) {
        if let Some(prev) = self.k.now {
            // The monotonic clock never goes back; a worker that says otherwise is ignored.
            now.mono = now.mono.max(prev.mono);
            let mono_d = i64::try_from((now.mono - prev.mono).as_secs()).unwrap_or(i64::MAX);
            let wall_d = (now.wall - prev.wall).whole_seconds();
            let skew = wall_d.saturating_sub(mono_d);
            if skew.abs() > CLOCK_JUMP_TOLERANCE_S {
                self.k.now = Some(now);
                self.audit(fx, RecordKind::ClockJump { wall_minus_mono_s: skew });
            }
        }
        self.k.now = Some(now);
        self.payouts_overdue(fx);
        if let Some(mut turn) = self.turn(fx) {
            turn.on_tick();
        }
    }

    /// Back to idle once the end was seen (or timed out) and every card is off the readers.
    fn maybe_idle(&mut self) {
        let done = matches!(&self.txn, Some(Transaction { phase: Phase::Closing(c), .. }) if c.acknowledged);
        if done && self.k.cards.is_empty() {
            self.txn = None;
            self.k.language = self.k.cfg.languages.first().cloned().unwrap_or_else(|| "ja".into());
            self.k.large_text = false;
            self.k.high_contrast = false;
        }
    }

    /// The PIN pad of the open transaction, if the PIN is being asked for.
    #[cfg(test)]
    pub(crate) fn pin_pad(&self) -> Option<&pin::PinBuffer> {
        self.txn.as_ref().and_then(|t| t.phase.pin_pad())
    }

    /// Every PIN digit the session holds is zero (none held counts as wiped).
    #[cfg(test)]
    pub(crate) fn pin_wiped(&self) -> bool {
        self.pin_pad().is_none_or(|p| p.is_wiped())
    }

    /// Whether the open transaction still holds the resident's certificate.
    #[cfg(test)]
    pub(crate) fn holds_certificate(&self) -> bool {
        self.txn.as_ref().is_some_and(|t| t.phase.holds_certificate())
    }

    /// The open transaction's reference.
    #[cfg(any(test, feature = "testing"))]
    pub fn reference(&self) -> Option<&str> {
        self.txn.as_ref().map(|t| t.reference.as_str())
    }
}

impl Kiosk {
    fn mono(&self) -> Duration {
        self.now.map_or(Duration::ZERO, |n| n.mono)
    }

    fn wall(&self) -> Option<OffsetDateTime> {
        self.now.map(|n| n.wall)
    }

    fn clock_plausible(&self) -> bool {
        self.wall().is_none_or(|w| w.unix_timestamp() >= CLOCK_FLOOR_UNIX)
    }

    /// What keeps the kiosk from serving now.
    fn availability(&self) -> Option<Unavailable> {
        if self.held {
            return Some(Unavailable::Operator);
        }
        if !self.clock_plausible() {
            return Some(Unavailable::Clock);
        }
        if let Some(closed) = self.wall().and_then(|w| self.cfg.hours.closed_at(w)) {
            return Some(closed);
        }
        if !self.printer_ready {
            return Some(Unavailable::Printer);
        }
        if !self.cash_ready {
            return Some(Unavailable::Cash);
        }
        None
    }

    fn derive(&self, label: &str, n: u64) -> String {
        let h = Sha256::new().chain_update(self.seed).chain_update(label.as_bytes()).chain_update(n.to_be_bytes());
        hex::encode(h.finalize())
    }

    fn next_op(&mut self) -> OpId {
        self.next_op += 1;
        OpId(self.next_op)
    }

    fn record(&self, transaction: Option<&str>, kind: RecordKind) -> Effect {
        Effect::Audit(Record { transaction: transaction.map(str::to_owned), at: self.wall(), kind })
    }

    fn close_call(&mut self, session_id: String) -> Effect {
        let op = self.next_op();
        Effect::Backend(BackendCall { op, request: Request::Close { session_id } })
    }
}

impl Turn<'_> {
    fn mono(&self) -> Duration {
        self.k.mono()
    }

    fn audit(&mut self, kind: RecordKind) {
        let record = self.k.record(Some(&self.t.reference), kind);
        self.fx.push(record);
    }

    /// Moves to `phase` with a fresh resident timer.
    fn enter(&mut self, phase: Phase) {
        self.t.phase = phase;
        self.restart_timer();
    }

    /// The phase changed in place (a step of the same phase): its timer starts again.
    fn restart_timer(&mut self) {
        let timeout = self.t.phase.screen_timeout(&self.k.cfg.timeouts);
        let now = self.mono();
        self.t.timer.deadline = timeout.map(|d| now + d);
        self.t.timer.warning = false;
        self.t.timer.more_time_used = 0;
    }

    /// A touch that did something: the resident is there.
    fn activity(&mut self) {
        let Some(timeout) = self.t.phase.screen_timeout(&self.k.cfg.timeouts) else { return };
        let now = self.mono();
        if !self.t.timer.warning {
            self.t.timer.deadline = Some(now + timeout);
        }
    }

    fn more_time(&mut self) {
        let now = self.mono();
        let (more, max) = (self.k.cfg.timeouts.more_time, self.k.cfg.timeouts.max_more_time);
        let (timer, overall) = (&mut self.t.timer, self.t.overall_deadline);
        if timer.deadline.is_some() && timer.more_time_used < max && overall > now + more {
            timer.more_time_used += 1;
            timer.warning = false;
            timer.deadline = Some(now + more);
        }
    }

    fn on_tick(&mut self) {
        let now = self.mono();
        let plausible = self.k.clock_plausible();
        if let Phase::Closing(c) = &mut self.t.phase {
            if c.deadline.is_some_and(|d| now >= d) {
                c.acknowledged = true;
                c.deadline = None;
            }
            return;
        }
        // Dates decide whether a certificate is valid: until the backend has authenticated the
        // resident, a kiosk whose clock is certainly wrong must not go on.
        if !plausible && !self.t.phase.authenticated() && self.t.card.is_some() {
            return self.exit(Some(FailureCode::ClockFault));
        }
        if let Some((op, deadline)) = self.t.card_op {
            if now >= deadline {
                log::warn!("card worker did not answer op {op:?} in time");
                self.t.card_op = None;
                return self.exit(Some(FailureCode::CardUnreadable));
            }
        }
        if let Some(pending) = self.t.backend_op.take_if(|p| now >= p.deadline) {
            return self.backend_failed(pending.step, pending.request, BackendError::Timeout);
        }
        if let Some(retry) = self.t.retry_at.take_if(|r| now >= r.at) {
            return self.send_backend(retry.step, retry.request);
        }
        if let Phase::Printing(job) = &mut self.t.phase {
            if job.lease_at.is_some_and(|at| now >= at) {
                // Still printing: the backend must not void what may yet come out.
                job.lease_at = Some(now + self.k.cfg.timeouts.lease_renew);
                let issuance_number = job.issuance.clone();
                if let Some(session_id) = self.t.backend_session.clone() {
                    let op = self.k.next_op();
                    let request = Request::Outcome { session_id, issuance_number, outcome: IssueOutcome::Printing };
                    self.fx.push(Effect::Backend(BackendCall { op, request }));
                }
            }
            let Phase::Printing(job) = &mut self.t.phase else { return };
            if job.deadline.is_some_and(|d| now >= d) {
                let number = job.issuance.clone();
                if job.aborting {
                    // The printer never settled: the resident cannot wait for ever, but the
                    // backend is not told `failed` while the job may yet come out. The outcome
                    // follows when the printer worker accounts for the job.
                    job.outcome_sent = true;
                    self.k.unsettled_print = self.t.backend_session.clone().map(|session_id| money::UnsettledPrint {
                        session_id,
                        issuance_number: number.clone(),
                        refund_paid: None,
                    });
                    return self.print_failed(number, PrinterErrorKind::Timeout, PaperOutcome::Unknown);
                }
                // Stop the job before anything is reported: a job left running prints on
                // under the next resident's (the Yokohama pattern). The kiosk is out of
                // service until the printer worker has settled it.
                job.aborting = true;
                job.deadline = Some(now + self.k.cfg.timeouts.print_abort_grace);
                job.lease_at = Some(now + self.k.cfg.timeouts.lease_renew);
                self.k.printer_ready = false;
                self.fx.push(Effect::AbortPrint { issuance_number: number.clone() });
                // The lease covers the time the printer takes to settle.
                if let Some(session_id) = self.t.backend_session.clone() {
                    let op = self.k.next_op();
                    let outcome = IssueOutcome::Printing;
                    let request = Request::Outcome { session_id, issuance_number: number.clone(), outcome };
                    self.fx.push(Effect::Backend(BackendCall { op, request }));
                }
                return self.audit(RecordKind::PrintAborted { issuance_number: number });
            }
            // A job under way is never abandoned by a timer: the paper decides the refund.
            return;
        }
        if now >= self.t.overall_deadline {
            return self.exit(Some(FailureCode::SessionTimeout));
        }
        if let Some(deadline) = self.t.timer.deadline {
            if now >= deadline {
                return self.exit(Some(FailureCode::ScreenTimeout));
            }
            // The warning comes before whichever limit is nearer: this screen's or the whole's.
            if !self.t.timer.warning && now + self.k.cfg.timeouts.warning >= deadline.min(self.t.overall_deadline) {
                self.t.timer.warning = true;
            }
        }
    }
}
