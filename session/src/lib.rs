//! The resident session: a sans-IO state machine (ARCHITECTURE.md §2).
//!
//! [`Session::step`] takes one [`Event`] and returns the [`Effect`]s it causes. It does no I/O and
//! reads no clock (time arrives as [`Event::Tick`]), so every path, failures included, is a plain
//! unit test (`tests/`).
//!
//! Rules it keeps, and why:
//! - **One exit.** Success, cancel, timeout, card pulled and every fault go through
//!   `Session::exit`: release the card, stop taking money, give back what was not earned,
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

pub mod catalog;
pub mod catalogue;
pub mod checks;
pub mod io;
pub mod pin;
pub mod view;
pub mod view_model;

#[cfg(any(test, feature = "testing"))]
pub mod testing;
#[cfg(test)]
mod tests;

pub use catalogue::{FailureCode, MoneyState};
pub use checks::{CertificateCheck, CertificateFacts, CertificateRejection, DocumentCheck, DocumentRejection};
pub use io::*;
pub use view::*;

use madoguchi_certs::validity::{jst_date, renewal_window_start, JST};
use madoguchi_drivers::card::ReaderInterface;
use madoguchi_drivers::gpio::{Level, Output};
use madoguchi_drivers::jpki::{JpkiErrorKind, PinStatus, TokenKind};
use madoguchi_drivers::printer::{ErrorKind as PrinterErrorKind, PaperOutcome};
use pin::{Action, PinBuffer};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;
use time::{OffsetDateTime, Time};
use zeroize::Zeroize;

/// Wall-clock steps larger than this (against the monotonic clock) are audited as jumps.
const CLOCK_JUMP_TOLERANCE_S: i64 = 60;

/// A wall clock before this is certainly wrong (a dead RTC battery boots in 1970 or 2000).
const CLOCK_FLOOR_UNIX: i64 = 1_735_657_200; // 2025-01-01 00:00 JST

/// How long each thing may take. Resident screens show a countdown and offer "more time".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeouts {
    /// Choice screens (service menu, place card, municipality, document, options, copies, confirm).
    pub screen: Duration,
    pub pin_entry: Duration,
    pub payment: Duration,
    /// For taking the card off after authentication (beyond it the transaction is aborted).
    pub remove_card: Duration,
    /// "Take your documents" (chime) before returning to idle.
    pub take_documents: Duration,
    /// A failure or certificate-problem screen before it counts as read.
    pub failure: Duration,
    /// The last part of a screen's time shows the timeout-warning screen.
    pub warning: Duration,
    /// What "more time" adds.
    pub more_time: Duration,
    /// How often "more time" may be used on one screen.
    pub max_more_time: u8,
    /// The whole transaction, from the service choice to the print job (not extendable).
    pub overall: Duration,
    pub card_reply: Duration,
    pub backend_reply: Duration,
    /// From the print job to the printer's job-end (the printer worker has finer limits).
    pub printer_job: Duration,
    /// Before asking the backend again after a transient failure.
    pub retry_backoff: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        let s = Duration::from_secs;
        Timeouts {
            screen: s(60),
            pin_entry: s(60),
            payment: s(120),
            remove_card: s(30),
            take_documents: s(30),
            failure: s(60),
            warning: s(15),
            more_time: s(60),
            max_more_time: 3,
            overall: s(600),
            card_reply: s(15),
            backend_reply: s(20),
            printer_job: s(300),
            retry_backoff: s(2),
        }
    }
}

/// The kiosk's service hours (Japan time); documents have their own hours at the backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceHours {
    pub opens: Time,
    pub closes: Time,
    /// Closed days as (month, day), e.g. 29 Dec to 3 Jan.
    pub closed_days: Vec<(u8, u8)>,
}

impl Default for ServiceHours {
    fn default() -> Self {
        ServiceHours {
            opens: Time::from_hms(6, 30, 0).unwrap_or(Time::MIDNIGHT),
            closes: Time::from_hms(23, 0, 0).unwrap_or(Time::MIDNIGHT),
            closed_days: vec![(12, 29), (12, 30), (12, 31), (1, 1), (1, 2), (1, 3)],
        }
    }
}

impl ServiceHours {
    /// `None` when open at `wall`, else why not.
    pub fn closed_at(&self, wall: OffsetDateTime) -> Option<Unavailable> {
        let local = wall.to_offset(JST);
        let md = (u8::from(local.month()), local.day());
        if self.closed_days.contains(&md) {
            return Some(Unavailable::ClosedDay);
        }
        let t = local.time();
        let open = if self.opens <= self.closes {
            t >= self.opens && t < self.closes
        } else {
            t >= self.opens || t < self.closes
        };
        (!open).then_some(Unavailable::Hours)
    }
}

/// What the session is configured with (the kiosk builds it from `kiosk.toml`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    /// Documents must be bound to this kiosk.
    pub kiosk_id: String,
    pub timeouts: Timeouts,
    /// Repeats of a safe backend request after a transient failure.
    pub backend_retries: u8,
    /// BCP 47 codes offered, the first is the default.
    pub languages: Vec<String>,
    pub hours: ServiceHours,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            kiosk_id: String::new(),
            timeouts: Timeouts::default(),
            backend_retries: 2,
            languages: ["ja", "en", "zh-Hans", "ko", "pt-BR", "es", "vi"].map(String::from).to_vec(),
            hours: ServiceHours::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Idle,
    ServiceMenu,
    PlaceCard,
    Reading,
    PinStatus,
    CertNotice(AfterCert),
    PinEntry,
    Verifying,
    ReadingCert,
    Challenge,
    Signing,
    Authenticating,
    RemoveCard,
    ChooseMunicipality,
    ChooseDocument,
    Options,
    Copies,
    Confirm,
    Payment,
    Issuing,
    Printing,
    Closing,
}

/// What follows an accepted certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AfterCert {
    PinStatus,
    Authenticate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BackendStep {
    Challenge,
    Authenticate,
    Offers,
    Issue,
}

impl BackendStep {
    fn name(self) -> &'static str {
        match self {
            BackendStep::Challenge => "challenge",
            BackendStep::Authenticate => "authenticate",
            BackendStep::Offers => "offers",
            BackendStep::Issue => "issue",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PrintState {
    NotStarted,
    Running { pages_done: u32, pages_total: u32 },
    Done { pages: u32 },
    Failed { paper: PaperOutcome },
}

#[derive(Debug)]
struct Closing {
    code: Option<FailureCode>,
    acknowledged: bool,
    deadline: Option<Duration>,
    to_return: u32,
    returned: u32,
    owed: u32,
    pages_printed: u32,
}

/// One resident's transaction, from the service choice to idle.
struct Txn {
    reference: String,
    number: u64,
    overall_deadline: Duration,
    reader: Option<String>,
    interface: Option<ReaderInterface>,
    /// The card is on `reader` and still needed (until authentication or removal).
    card_in_use: bool,
    card_released: bool,
    token: Option<TokenKind>,
    certificate: Option<Vec<u8>>,
    facts: Option<CertificateFacts>,
    notice: Option<CertificateNotice>,
    pin: PinBuffer,
    tries_left: Option<u8>,
    previous_wrong: bool,
    card_op: Option<(OpId, Duration)>,
    card_retry_used: bool,
    backend_op: Option<(OpId, BackendStep, Duration)>,
    backend_attempts: u8,
    retry_at: Option<(Duration, BackendStep)>,
    backend_session: Option<String>,
    auth_restarts: u8,
    authenticated: bool,
    offers: Option<Offers>,
    municipality: Option<usize>,
    document: Option<usize>,
    options: Vec<String>,
    year: Option<i32>,
    copies: u8,
    due: u32,
    inserted: u32,
    collecting: bool,
    idempotency_key: Option<String>,
    issuance: Option<String>,
    binding: Option<DocumentBinding>,
    print: PrintState,
    print_deadline: Option<Duration>,
    outcome_sent: bool,
    screen_deadline: Option<Duration>,
    warning: bool,
    more_time_used: u8,
    closing: Option<Closing>,
}

impl Txn {
    /// Nothing of the resident reached a device or the backend yet.
    fn untouched(&self) -> bool {
        self.reader.is_none() && self.backend_session.is_none() && self.inserted == 0 && self.backend_op.is_none()
    }

    fn offer(&self) -> Option<(&MunicipalityOffer, &DocumentOffer)> {
        let m = self.offers.as_ref()?.municipalities.get(self.municipality?)?;
        Some((m, m.documents.get(self.document?)?))
    }

    fn wipe(&mut self) {
        self.pin.clear();
        if let Some(c) = self.certificate.as_mut() {
            c.zeroize();
        }
        self.certificate = None;
        self.offers = None;
        self.binding = None;
    }
}

/// The session. One per kiosk; it runs one transaction at a time.
pub struct Session {
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
    phase: Phase,
    txn: Option<Txn>,
    shown: Option<View>,
    visit: u64,
    force_new_visit: bool,
    outputs: [Level; 3],
}

/// Shows the state, never the PIN or the resident's data.
impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("phase", &self.phase)
            .field("transaction", &self.txn.as_ref().map(|t| t.reference.as_str()))
            .field("pin", &self.txn.as_ref().map(|t| &t.pin))
            .field("cards", &self.cards.len())
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
        Session {
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
            phase: Phase::Idle,
            txn: None,
            shown: None,
            visit: 0,
            force_new_visit: false,
            outputs: [Level::Off; 3],
        }
    }

    /// The view as it stands (what the last `Show` carried).
    pub fn view(&self) -> View {
        let mut v = self.build_view();
        v.visit = self.visit;
        v
    }

    /// Whether a transaction is open (operator mode must wait for `false`).
    pub fn in_transaction(&self) -> bool {
        self.txn.is_some()
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
            Event::CardReply { op, result } => self.on_card_reply(op, result, &mut fx),
            Event::BackendReply { op, result } => self.on_backend_reply(op, result, &mut fx),
            Event::PrinterStatus(p) => self.on_printer(p, &mut fx),
            Event::Payment(p) => self.on_payment(p, &mut fx),
        }
        self.maybe_idle();
        self.render(&mut fx);
        fx
    }

    // -----------------------------------------------------------------------------------------
    // time

    fn mono(&self) -> Duration {
        self.now.map_or(Duration::ZERO, |n| n.mono)
    }

    fn wall(&self) -> Option<OffsetDateTime> {
        self.now.map(|n| n.wall)
    }

    fn clock_plausible(&self) -> bool {
        self.wall().is_none_or(|w| w.unix_timestamp() >= CLOCK_FLOOR_UNIX)
    }

    fn on_tick(&mut self, mut now: Now, fx: &mut Vec<Effect>) {
        if let Some(prev) = self.now {
            // The monotonic clock never goes back; a worker that says otherwise is ignored.
            now.mono = now.mono.max(prev.mono);
            let mono_d = i64::try_from((now.mono - prev.mono).as_secs()).unwrap_or(i64::MAX);
            let wall_d = (now.wall - prev.wall).whole_seconds();
            let skew = wall_d.saturating_sub(mono_d);
            if skew.abs() > CLOCK_JUMP_TOLERANCE_S {
                self.now = Some(now);
                self.audit(fx, RecordKind::ClockJump { wall_minus_mono_s: skew });
            }
        }
        self.now = Some(now);
        let t = now.mono;
        let plausible = self.clock_plausible();
        let Some(txn) = self.txn.as_mut() else { return };

        if self.phase == Phase::Closing {
            if let Some(c) = txn.closing.as_mut() {
                if c.deadline.is_some_and(|d| t >= d) {
                    c.acknowledged = true;
                    c.deadline = None;
                }
            }
            return;
        }
        // Dates decide whether a certificate is valid: until the backend has authenticated the
        // resident, a kiosk whose clock is certainly wrong must not go on.
        if !plausible && !txn.authenticated && txn.reader.is_some() {
            return self.exit(Some(FailureCode::ClockFault), fx);
        }
        if let Some((op, deadline)) = txn.card_op {
            if t >= deadline {
                log::warn!("card worker did not answer op {op:?} in time");
                txn.card_op = None;
                return self.exit(Some(FailureCode::CardUnreadable), fx);
            }
        }
        if let Some((_, step, deadline)) = txn.backend_op {
            if t >= deadline {
                txn.backend_op = None;
                return self.backend_failed(step, BackendError::Timeout, fx);
            }
        }
        if let Some((at, step)) = txn.retry_at {
            if t >= at {
                txn.retry_at = None;
                self.send_backend(step, fx);
                return;
            }
        }
        if self.phase == Phase::Printing {
            if txn.print_deadline.is_some_and(|d| t >= d) {
                let number = txn.issuance.clone().unwrap_or_default();
                return self.print_failed(number, PrinterErrorKind::Timeout, PaperOutcome::Unknown, fx);
            }
            // A job under way is never abandoned by a timer: the paper decides the refund.
            return;
        }
        if t >= txn.overall_deadline {
            return self.exit(Some(FailureCode::SessionTimeout), fx);
        }
        if let Some(deadline) = txn.screen_deadline {
            if t >= deadline {
                return self.exit(Some(FailureCode::ScreenTimeout), fx);
            }
            // The warning comes before whichever limit is nearer: this screen's or the whole's.
            if !txn.warning && t + self.cfg.timeouts.warning >= deadline.min(txn.overall_deadline) {
                txn.warning = true;
            }
        }
    }

    /// Resident timer of a phase.
    fn screen_timeout(&self, phase: Phase) -> Option<Duration> {
        let t = &self.cfg.timeouts;
        match phase {
            Phase::ServiceMenu
            | Phase::PlaceCard
            | Phase::CertNotice(_)
            | Phase::ChooseMunicipality
            | Phase::ChooseDocument
            | Phase::Options
            | Phase::Copies
            | Phase::Confirm => Some(t.screen),
            Phase::PinEntry => Some(t.pin_entry),
            Phase::Payment => Some(t.payment),
            Phase::RemoveCard => Some(t.remove_card),
            _ => None,
        }
    }

    fn enter(&mut self, phase: Phase) {
        let timeout = self.screen_timeout(phase);
        let now = self.mono();
        self.phase = phase;
        if let Some(txn) = self.txn.as_mut() {
            txn.screen_deadline = timeout.map(|d| now + d);
            txn.warning = false;
            txn.more_time_used = 0;
        }
    }

    /// A touch that did something: the resident is there.
    fn activity(&mut self) {
        let Some(timeout) = self.screen_timeout(self.phase) else { return };
        let now = self.mono();
        if let Some(txn) = self.txn.as_mut() {
            if !txn.warning {
                txn.screen_deadline = Some(now + timeout);
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // touches

    fn on_touch(&mut self, touch: Touch, fx: &mut Vec<Effect>) {
        if touch.visit.is_some_and(|v| v != self.visit) {
            log::debug!("dropped {touch:?}: made on a screen that has gone");
            return;
        }
        let action = Action::parse(&touch.action);
        match &action {
            Action::Language(code) => {
                if self.cfg.languages.iter().any(|l| l == code) {
                    self.language = code.clone();
                }
                return;
            }
            Action::LargeText => {
                self.large_text = !self.large_text;
                return;
            }
            Action::HighContrast => {
                self.high_contrast = !self.high_contrast;
                return;
            }
            _ => {}
        }
        if self.txn.as_ref().is_some_and(|t| t.warning) {
            match action {
                Action::MoreTime => self.more_time(),
                Action::Cancel => self.exit(Some(FailureCode::Cancelled), fx),
                _ => {}
            }
            return;
        }
        let handled = self.touch_in_phase(action, fx);
        if handled {
            self.activity();
        }
    }

    fn more_time(&mut self) {
        let now = self.mono();
        let (more, max) = (self.cfg.timeouts.more_time, self.cfg.timeouts.max_more_time);
        if let Some(txn) = self.txn.as_mut() {
            if txn.screen_deadline.is_some() && txn.more_time_used < max && txn.overall_deadline > now + more {
                txn.more_time_used += 1;
                txn.warning = false;
                txn.screen_deadline = Some(now + more);
            }
        }
    }

    /// Returns whether the touch meant something here.
    fn touch_in_phase(&mut self, action: Action, fx: &mut Vec<Effect>) -> bool {
        use Action as A;
        match (self.phase, action) {
            (_, A::MoreTime) => {
                let can = self.txn.as_ref().is_some_and(|t| t.screen_deadline.is_some());
                if can {
                    self.more_time();
                }
                false
            }
            (Phase::Idle, A::Start) if self.availability().is_none() => {
                self.begin(fx);
                self.enter(Phase::ServiceMenu);
                true
            }
            (Phase::Idle, A::Service(s)) if s == "certificates" && self.availability().is_none() => {
                self.begin(fx);
                self.place_card(fx);
                true
            }
            (Phase::ServiceMenu, A::Service(s)) if s == "certificates" => {
                self.place_card(fx);
                true
            }
            (Phase::ServiceMenu | Phase::PlaceCard, A::Back) => {
                self.exit(Some(FailureCode::Cancelled), fx);
                true
            }
            (Phase::CertNotice(then), A::Ok) => {
                self.after_certificate(then, fx);
                true
            }
            (Phase::PinEntry, A::Digit(d)) => {
                if let Some(t) = self.txn.as_mut() {
                    t.pin.push(d);
                    t.previous_wrong = false;
                }
                true
            }
            (Phase::PinEntry, A::Backspace) => {
                if let Some(t) = self.txn.as_mut() {
                    t.pin.backspace();
                }
                true
            }
            (Phase::PinEntry, A::Clear) => {
                if let Some(t) = self.txn.as_mut() {
                    t.pin.clear();
                }
                true
            }
            (Phase::PinEntry, A::Ok) => {
                let Some(txn) = self.txn.as_mut() else { return false };
                if !txn.pin.is_complete() {
                    return false;
                }
                match txn.pin.take() {
                    Some(pin) => {
                        self.card(CardCommand::Verify(pin), fx);
                        self.enter(Phase::Verifying);
                    }
                    None => self.audit(fx, RecordKind::PinFormatRefused),
                }
                true
            }
            (Phase::ChooseMunicipality, A::Municipality(code)) => {
                let Some(txn) = self.txn.as_mut() else { return false };
                let Some(i) = txn.offers.as_ref().and_then(|o| o.municipalities.iter().position(|m| m.code == code))
                else {
                    return false;
                };
                txn.municipality = Some(i);
                txn.document = None;
                self.enter(Phase::ChooseDocument);
                true
            }
            (Phase::ChooseDocument, A::Document(kind)) => self.choose_document(&kind),
            (Phase::ChooseDocument, A::Back) if self.municipality_count() > 1 => {
                self.enter(Phase::ChooseMunicipality);
                true
            }
            (Phase::Options, A::Option(name)) => {
                let Some(txn) = self.txn.as_mut() else { return false };
                let offered = txn.offer().is_some_and(|(_, d)| d.options.contains(&name));
                if offered {
                    if let Some(i) = txn.options.iter().position(|o| *o == name) {
                        txn.options.remove(i);
                    } else {
                        txn.options.push(name);
                    }
                }
                offered
            }
            (Phase::Options, A::Year(y)) => {
                let Some(txn) = self.txn.as_mut() else { return false };
                let offered = txn.offer().is_some_and(|(_, d)| d.years.contains(&y));
                if offered {
                    txn.year = Some(y);
                }
                offered
            }
            (Phase::Options, A::Ok) => {
                self.enter(Phase::Copies);
                true
            }
            (Phase::Options, A::Back) => {
                self.enter(Phase::ChooseDocument);
                true
            }
            (Phase::Copies, A::Back) => {
                let has_options = self.txn.as_ref().and_then(|t| t.offer()).is_some_and(|(_, d)| has_choices(d));
                self.enter(if has_options { Phase::Options } else { Phase::ChooseDocument });
                true
            }
            (Phase::Copies, direction @ (A::CopiesUp | A::CopiesDown)) => {
                let Some(txn) = self.txn.as_mut() else { return false };
                let max = txn.offer().map_or(1, |(_, d)| d.max_copies.max(1));
                match direction {
                    A::CopiesUp if txn.copies < max => txn.copies += 1,
                    A::CopiesDown if txn.copies > 1 => txn.copies -= 1,
                    _ => return false,
                }
                true
            }
            (Phase::Copies, A::Ok) => {
                self.enter(Phase::Confirm);
                true
            }
            (Phase::Options | Phase::Copies | Phase::Confirm, A::Confirm) | (Phase::Confirm, A::Ok) => {
                self.start_payment(fx);
                true
            }
            (Phase::Confirm, A::Back) => {
                self.enter(Phase::Copies);
                true
            }
            (Phase::Payment, A::Back) if self.txn.as_ref().is_some_and(|t| t.inserted == 0) => {
                if let Some(t) = self.txn.as_mut() {
                    t.collecting = false;
                }
                fx.push(Effect::Payment(PaymentCommand::StopAccepting));
                self.enter(Phase::Confirm);
                true
            }
            (Phase::Closing, A::Ok | A::Finish) => {
                if let Some(c) = self.txn.as_mut().and_then(|t| t.closing.as_mut()) {
                    c.acknowledged = true;
                    c.deadline = None;
                }
                true
            }
            (phase, A::Cancel) if Self::cancellable(phase) => {
                self.exit(Some(FailureCode::Cancelled), fx);
                true
            }
            // Anything else (a double tap, a control of a screen that is gone) does nothing.
            _ => false,
        }
    }

    /// A VERIFY under way is let finish (its answer changes the tries left); money that is
    /// being turned into a document, likewise.
    fn cancellable(phase: Phase) -> bool {
        !matches!(phase, Phase::Idle | Phase::Verifying | Phase::Issuing | Phase::Printing | Phase::Closing)
    }

    fn municipality_count(&self) -> usize {
        self.txn.as_ref().and_then(|t| t.offers.as_ref()).map_or(0, |o| o.municipalities.len())
    }

    fn choose_document(&mut self, kind: &str) -> bool {
        let Some(txn) = self.txn.as_mut() else { return false };
        let Some(m) = txn.municipality.and_then(|i| txn.offers.as_ref()?.municipalities.get(i)) else {
            return false;
        };
        let Some(i) = m.documents.iter().position(|d| d.kind == kind && d.max_copies > 0) else { return false };
        let doc = &m.documents[i];
        let year = doc.years.first().copied();
        let next = if has_choices(doc) { Phase::Options } else { Phase::Copies };
        txn.year = year;
        txn.document = Some(i);
        txn.options.clear();
        txn.copies = 1;
        self.enter(next);
        true
    }

    // -----------------------------------------------------------------------------------------
    // transaction start and cards

    /// What keeps the kiosk from serving now.
    fn availability(&self) -> Option<Unavailable> {
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

    fn begin(&mut self, fx: &mut Vec<Effect>) {
        self.transactions += 1;
        let n = self.transactions;
        let reference = format!("T-{}", self.derive("transaction", n)[..8].to_ascii_uppercase());
        self.txn = Some(Txn {
            reference,
            number: n,
            overall_deadline: self.mono() + self.cfg.timeouts.overall,
            reader: None,
            interface: None,
            card_in_use: false,
            card_released: false,
            token: None,
            certificate: None,
            facts: None,
            notice: None,
            pin: PinBuffer::new(),
            tries_left: None,
            previous_wrong: false,
            card_op: None,
            card_retry_used: false,
            backend_op: None,
            backend_attempts: 0,
            retry_at: None,
            backend_session: None,
            auth_restarts: 0,
            authenticated: false,
            offers: None,
            municipality: None,
            document: None,
            options: Vec::new(),
            year: None,
            copies: 1,
            due: 0,
            inserted: 0,
            collecting: false,
            idempotency_key: None,
            issuance: None,
            binding: None,
            print: PrintState::NotStarted,
            print_deadline: None,
            outcome_sent: false,
            screen_deadline: None,
            warning: false,
            more_time_used: 0,
            closing: None,
        });
        self.audit(fx, RecordKind::SessionStarted);
    }

    fn on_card_presented(&mut self, reader: String, interface: ReaderInterface, fx: &mut Vec<Effect>) {
        let fresh = self.cards.insert(reader.clone());
        match self.phase {
            Phase::Idle => {
                // Card first, menu never: the same as touching "certificates" then placing it.
                if self.availability().is_none() {
                    self.begin(fx);
                    self.use_card(reader, Some(interface), fx);
                }
            }
            Phase::ServiceMenu | Phase::PlaceCard => self.use_card(reader, Some(interface), fx),
            _ => {
                let Some(txn) = self.txn.as_ref() else { return };
                if txn.card_in_use && txn.reader.as_deref() == Some(reader.as_str()) {
                    // Presented again without leaving: another card (or the same one reset)
                    // may now be on the reader. Nothing read so far can be trusted.
                    let _ = fresh;
                    self.audit(fx, RecordKind::CardSwapped);
                    self.exit(Some(FailureCode::CardSwapped), fx);
                }
                // Any other card is only remembered: it must be gone before idle.
            }
        }
    }

    /// Asks for the card, or uses one already lying on a reader (placed while the kiosk was
    /// closed, or before touching the menu).
    fn place_card(&mut self, fx: &mut Vec<Effect>) {
        self.enter(Phase::PlaceCard);
        if let Some(reader) = self.cards.iter().next().cloned() {
            self.use_card(reader, None, fx);
        }
    }

    fn use_card(&mut self, reader: String, interface: Option<ReaderInterface>, fx: &mut Vec<Effect>) {
        if let Some(txn) = self.txn.as_mut() {
            txn.reader = Some(reader);
            txn.interface = interface;
            txn.card_in_use = true;
        }
        self.card(CardCommand::ReadToken, fx);
        self.enter(Phase::Reading);
    }

    fn on_card_gone(&mut self, reader: &str, code: FailureCode, fx: &mut Vec<Effect>) {
        self.cards.remove(reader);
        let Some(txn) = self.txn.as_mut() else { return };
        if txn.reader.as_deref() != Some(reader) || !txn.card_in_use {
            return;
        }
        txn.card_in_use = false;
        match self.phase {
            Phase::RemoveCard => {
                txn.card_op = None;
                // The resident did what was asked; waiting for the offers is the kiosk's wait.
                txn.screen_deadline = None;
                txn.warning = false;
                if txn.offers.is_some() {
                    self.go_choose(fx);
                }
            }
            // The signature is made; the card is not needed unless authentication must start
            // over (then that path ends the transaction as card-removed).
            Phase::Authenticating => {}
            Phase::Closing => {}
            _ => {
                if code == FailureCode::ReaderFault {
                    log::warn!("reader {reader:?} vanished mid-transaction");
                }
                self.exit(Some(code), fx)
            }
        }
    }

    fn next_op(&mut self) -> OpId {
        self.next_op += 1;
        OpId(self.next_op)
    }

    fn card(&mut self, command: CardCommand, fx: &mut Vec<Effect>) {
        let op = self.next_op();
        let deadline = self.mono() + self.cfg.timeouts.card_reply;
        let Some(txn) = self.txn.as_mut() else { return };
        let Some(reader) = txn.reader.clone() else { return };
        if !matches!(command, CardCommand::Release) {
            txn.card_op = Some((op, deadline));
        }
        fx.push(Effect::Card(CardCall { op, reader, command }));
    }

    fn on_card_reply(&mut self, op: OpId, result: Result<CardOk, CardFailure>, fx: &mut Vec<Effect>) {
        let Some(txn) = self.txn.as_mut() else {
            return self.audit(fx, RecordKind::StaleReply { what: "card" });
        };
        if txn.card_op.map(|(o, _)| o) != Some(op) {
            return self.audit(fx, RecordKind::StaleReply { what: "card" });
        }
        txn.card_op = None;
        let failure = match result {
            Ok(ok) => return self.card_ok(ok, fx),
            Err(f) => f,
        };
        match (self.phase, failure.kind) {
            (Phase::Verifying, JpkiErrorKind::WrongPin) => {
                let left = failure.tries_left.unwrap_or(0);
                self.audit(fx, RecordKind::WrongPin { tries_left: left });
                if left == 0 {
                    return self.pin_blocked(fx);
                }
                if let Some(t) = self.txn.as_mut() {
                    t.tries_left = Some(left);
                    t.previous_wrong = true;
                }
                self.force_new_visit = true;
                self.enter(Phase::PinEntry);
            }
            (_, JpkiErrorKind::PinBlocked) => self.pin_blocked(fx),
            (Phase::Verifying, JpkiErrorKind::InvalidPin) => {
                // The card refused the format: no try was spent; ask again.
                self.audit(fx, RecordKind::PinFormatRefused);
                self.force_new_visit = true;
                self.enter(Phase::PinEntry);
            }
            (_, JpkiErrorKind::Removed) => self.exit(Some(FailureCode::CardRemoved), fx),
            (_, JpkiErrorKind::NotJpki) => self.exit(Some(FailureCode::CardNotSupported), fx),
            (Phase::Reading | Phase::PinStatus | Phase::ReadingCert, JpkiErrorKind::CardFault)
                if !self.txn.as_ref().is_some_and(|t| t.card_retry_used) =>
            {
                // A contactless read can fail on a badly placed card; reads spend no try, so
                // one repeat is safe.
                if let Some(t) = self.txn.as_mut() {
                    t.card_retry_used = true;
                }
                let command = match self.phase {
                    Phase::Reading => CardCommand::ReadToken,
                    Phase::PinStatus => CardCommand::PinStatus,
                    _ => CardCommand::ReadCertificate,
                };
                self.card(command, fx);
            }
            _ => self.exit(Some(FailureCode::CardUnreadable), fx),
        }
    }

    fn pin_blocked(&mut self, fx: &mut Vec<Effect>) {
        self.audit(fx, RecordKind::PinBlocked);
        if let Some(t) = self.txn.as_mut() {
            t.notice = Some(CertificateNotice::PinBlocked);
            t.tries_left = Some(0);
        }
        self.exit(Some(FailureCode::PinBlocked), fx);
    }

    fn card_ok(&mut self, ok: CardOk, fx: &mut Vec<Effect>) {
        match (self.phase, ok) {
            (Phase::Reading, CardOk::Token { token, certificate }) => {
                let interface = self.txn.as_ref().and_then(|t| t.interface);
                if let Some(t) = self.txn.as_mut() {
                    t.token = Some(token);
                }
                self.audit(fx, RecordKind::CardRead { token, interface });
                match (token, certificate) {
                    (TokenKind::LegacyJukiCard, _) => self.exit(Some(FailureCode::JukiCard), fx),
                    (_, Some(der)) => self.check_certificate(der, AfterCert::PinStatus, fx),
                    // Android: the certificate is readable only after VERIFY.
                    (TokenKind::Android, None) => {
                        self.card(CardCommand::PinStatus, fx);
                        self.enter(Phase::PinStatus);
                    }
                    (_, None) => self.exit(Some(FailureCode::CardUnreadable), fx),
                }
            }
            (Phase::PinStatus, CardOk::PinStatus(status)) => {
                let token = self.txn.as_ref().and_then(|t| t.token);
                match status {
                    PinStatus::Blocked => self.pin_blocked(fx),
                    // The iPhone checks its holder itself; an iPhone that was not authorised
                    // on the phone must not be asked for a PIN here.
                    PinStatus::Tries(_) if token == Some(TokenKind::Iphone) => {
                        self.exit(Some(FailureCode::PhoneNotReady), fx)
                    }
                    PinStatus::Tries(t) => {
                        if let Some(txn) = self.txn.as_mut() {
                            txn.tries_left = Some(t.left);
                        }
                        self.enter(Phase::PinEntry);
                    }
                    PinStatus::Verified => self.after_verified(fx),
                }
            }
            (Phase::Verifying, CardOk::Verified) => self.after_verified(fx),
            (Phase::ReadingCert, CardOk::Certificate(der)) => self.check_certificate(der, AfterCert::Authenticate, fx),
            (Phase::Signing, CardOk::Signature { signature, certificate_fingerprint }) => {
                let Some(txn) = self.txn.as_mut() else { return };
                if txn.facts.map(|f| f.fingerprint) != Some(certificate_fingerprint) {
                    self.audit(fx, RecordKind::CardSwapped);
                    return self.exit(Some(FailureCode::CardSwapped), fx);
                }
                let (Some(session_id), Some(certificate)) = (txn.backend_session.clone(), txn.certificate.clone())
                else {
                    return self.exit(Some(FailureCode::Internal), fx);
                };
                self.backend(
                    Request::Authenticate { session_id, certificate, signature },
                    BackendStep::Authenticate,
                    fx,
                );
                self.enter(Phase::Authenticating);
            }
            (phase, ok) => {
                log::warn!("card answer {ok:?} does not fit phase {phase:?}");
                self.exit(Some(FailureCode::CardUnreadable), fx);
            }
        }
    }

    fn check_certificate(&mut self, der: Vec<u8>, then: AfterCert, fx: &mut Vec<Effect>) {
        let Some(wall) = self.wall().filter(|_| self.clock_plausible()) else {
            return self.exit(Some(FailureCode::ClockFault), fx);
        };
        let facts = match self.certs.check(&der, wall) {
            Ok(f) => f,
            Err(CertificateRejection::Malformed | CertificateRejection::Untrusted) => {
                return self.exit(Some(FailureCode::CertificateUntrusted), fx)
            }
        };
        let last_day = jst_date(facts.not_after);
        let Some(txn) = self.txn.as_mut() else { return };
        txn.certificate = Some(der);
        txn.facts = Some(facts);
        if wall < facts.not_before {
            txn.notice = Some(CertificateNotice::NotYetValid);
            return self.exit(Some(FailureCode::CertificateNotYetValid), fx);
        }
        if wall > facts.not_after {
            txn.notice = Some(CertificateNotice::Expired { last_day });
            return self.exit(Some(FailureCode::CertificateExpired), fx);
        }
        let today = jst_date(wall);
        if today >= renewal_window_start(last_day) {
            let days_left = (last_day - today).whole_days();
            txn.notice = Some(CertificateNotice::ExpiringSoon { last_day, days_left });
            self.enter(Phase::CertNotice(then));
            return;
        }
        self.after_certificate(then, fx);
    }

    fn after_certificate(&mut self, then: AfterCert, fx: &mut Vec<Effect>) {
        match then {
            AfterCert::PinStatus => {
                self.card(CardCommand::PinStatus, fx);
                self.enter(Phase::PinStatus);
            }
            AfterCert::Authenticate => self.start_authentication(fx),
        }
    }

    fn after_verified(&mut self, fx: &mut Vec<Effect>) {
        let has_cert = self.txn.as_ref().is_some_and(|t| t.facts.is_some());
        if has_cert {
            self.start_authentication(fx);
        } else {
            self.card(CardCommand::ReadCertificate, fx);
            self.enter(Phase::ReadingCert);
        }
    }

    fn start_authentication(&mut self, fx: &mut Vec<Effect>) {
        if let Some(t) = self.txn.as_mut() {
            t.backend_attempts = 0;
        }
        self.backend(Request::Challenge, BackendStep::Challenge, fx);
        self.enter(Phase::Challenge);
    }

    // -----------------------------------------------------------------------------------------
    // backend

    fn backend(&mut self, request: Request, step: BackendStep, fx: &mut Vec<Effect>) {
        let op = self.next_op();
        let deadline = self.mono() + self.cfg.timeouts.backend_reply;
        if let Some(t) = self.txn.as_mut() {
            t.backend_op = Some((op, step, deadline));
        }
        fx.push(Effect::Backend(BackendCall { op, request }));
    }

    /// (Re)sends the request of a step from what the transaction holds.
    fn send_backend(&mut self, step: BackendStep, fx: &mut Vec<Effect>) {
        let Some(txn) = self.txn.as_ref() else { return };
        let request = match step {
            BackendStep::Challenge => Request::Challenge,
            BackendStep::Offers => match txn.backend_session.clone() {
                Some(session_id) => Request::Offers { session_id, held_catalog: self.docs.held_catalog() },
                None => return self.exit(Some(FailureCode::Internal), fx),
            },
            BackendStep::Issue => match self.issue_request() {
                Some(r) => Request::Issue(r),
                None => return self.exit(Some(FailureCode::Internal), fx),
            },
            BackendStep::Authenticate => return self.restart_authentication(fx),
        };
        self.backend(request, step, fx);
    }

    fn issue_request(&self) -> Option<IssueRequest> {
        let txn = self.txn.as_ref()?;
        let (m, d) = txn.offer()?;
        Some(IssueRequest {
            session_id: txn.backend_session.clone()?,
            municipality_code: m.code.clone(),
            document: d.kind.clone(),
            options: txn.options.clone(),
            year: txn.year,
            copies: txn.copies,
            paid_yen: txn.due,
            payment_reference: txn.reference.clone(),
            idempotency_key: txn.idempotency_key.clone()?,
        })
    }

    /// A new challenge and a new signature: the old challenge may have been used or expired.
    fn restart_authentication(&mut self, fx: &mut Vec<Effect>) {
        let max = self.cfg.backend_retries;
        let Some(txn) = self.txn.as_mut() else { return };
        if !txn.card_in_use {
            return self.exit(Some(FailureCode::CardRemoved), fx);
        }
        if txn.auth_restarts >= max {
            return self.exit(Some(FailureCode::BackendUnavailable), fx);
        }
        txn.auth_restarts += 1;
        let attempt = txn.auth_restarts;
        let old = txn.backend_session.take();
        if let Some(old) = old {
            let close = self.close_call(old);
            fx.push(close);
        }
        self.audit(fx, RecordKind::Retry { what: "authenticate", attempt });
        self.backend(Request::Challenge, BackendStep::Challenge, fx);
        self.enter(Phase::Challenge);
    }

    fn close_call(&mut self, session_id: String) -> Effect {
        let op = self.next_op();
        Effect::Backend(BackendCall { op, request: Request::Close { session_id } })
    }

    fn on_backend_reply(&mut self, op: OpId, result: Result<BackendOk, BackendError>, fx: &mut Vec<Effect>) {
        let current = self.txn.as_ref().and_then(|t| t.backend_op).filter(|(o, _, _)| *o == op);
        let Some((_, step, _)) = current else {
            return self.late_backend_reply(result, fx);
        };
        if let Some(t) = self.txn.as_mut() {
            t.backend_op = None;
        }
        match result {
            Ok(ok) => self.backend_ok(step, ok, fx),
            Err(e) => self.backend_failed(step, e, fx),
        }
    }

    /// Something the backend created for a question nobody waits for any more is undone, so
    /// nothing is left open at the backend.
    fn late_backend_reply(&mut self, result: Result<BackendOk, BackendError>, fx: &mut Vec<Effect>) {
        let ours = |s: &str, t: &Option<Txn>| t.as_ref().and_then(|t| t.backend_session.as_deref()) == Some(s);
        match result {
            Ok(BackendOk::Challenge { session_id, .. }) if !ours(&session_id, &self.txn) => {
                self.audit(fx, RecordKind::LateBackendResult { what: "session" });
                let close = self.close_call(session_id);
                fx.push(close);
            }
            Ok(BackendOk::Issued(issued)) => {
                let current = self.txn.as_ref().and_then(|t| t.issuance.as_deref()) == Some(&issued.issuance_number);
                if !current {
                    self.audit(fx, RecordKind::LateBackendResult { what: "issuance" });
                    if let Some(session_id) = self.txn.as_ref().and_then(|t| t.backend_session.clone()) {
                        let op = self.next_op();
                        fx.push(Effect::Backend(BackendCall {
                            op,
                            request: Request::Outcome {
                                session_id,
                                issuance_number: issued.issuance_number,
                                outcome: IssueOutcome::Failed { reason: "abandoned: answer arrived too late".into() },
                            },
                        }));
                    }
                }
            }
            Ok(BackendOk::Acknowledged) => {}
            _ => self.audit(fx, RecordKind::StaleReply { what: "backend" }),
        }
    }

    fn backend_ok(&mut self, step: BackendStep, ok: BackendOk, fx: &mut Vec<Effect>) {
        match (step, ok) {
            (BackendStep::Challenge, BackendOk::Challenge { session_id, challenge }) => {
                let Some(txn) = self.txn.as_mut() else { return };
                txn.backend_session = Some(session_id);
                if !txn.card_in_use {
                    return self.exit(Some(FailureCode::CardRemoved), fx);
                }
                let sha256: [u8; 32] = Sha256::digest(&challenge).into();
                self.card(CardCommand::Sign { sha256 }, fx);
                self.enter(Phase::Signing);
            }
            (BackendStep::Authenticate, BackendOk::Authenticated { session_id, certificate_fingerprint }) => {
                let Some(txn) = self.txn.as_mut() else { return };
                let ours = txn.facts.map(|f| hex::encode(f.fingerprint));
                let same_fp = ours.is_some_and(|fp| fp.eq_ignore_ascii_case(&certificate_fingerprint));
                if !same_fp || txn.backend_session.as_deref() != Some(session_id.as_str()) {
                    return self.exit(Some(FailureCode::AuthenticationFailed), fx);
                }
                txn.authenticated = true;
                txn.backend_attempts = 0;
                let fp = certificate_fingerprint.to_ascii_lowercase();
                self.audit(fx, RecordKind::Authenticated { certificate_fingerprint: fp });
                // The card's work is done: let go of it and ask for it to be taken.
                self.card(CardCommand::Release, fx);
                if let Some(t) = self.txn.as_mut() {
                    t.card_released = true;
                }
                let held_catalog = self.docs.held_catalog();
                self.backend(Request::Offers { session_id, held_catalog }, BackendStep::Offers, fx);
                self.enter(Phase::RemoveCard);
                if !self.txn.as_ref().is_some_and(|t| t.card_in_use) {
                    // Taken off early (after signing): no resident timer, just wait for offers.
                    if let Some(t) = self.txn.as_mut() {
                        t.screen_deadline = None;
                    }
                }
            }
            (BackendStep::Offers, BackendOk::Offers(delivered)) => match self.docs.offers(delivered) {
                Ok(offers) => self.got_offers(offers, fx),
                Err(refused) => self.backend_failed(BackendStep::Offers, refused.backend_error(), fx),
            },
            (BackendStep::Issue, BackendOk::Issued(issued)) => self.got_issued(issued, fx),
            (step, ok) => {
                log::warn!("backend answer {ok:?} does not fit step {}", step.name());
                self.backend_failed(step, BackendError::Protocol, fx);
            }
        }
    }

    fn backend_failed(&mut self, step: BackendStep, error: BackendError, fx: &mut Vec<Effect>) {
        let retries = self.cfg.backend_retries;
        let backoff = self.cfg.timeouts.retry_backoff;
        let now = self.mono();
        let restart_auth = step == BackendStep::Authenticate
            && (error.is_transient()
                || matches!(error, BackendError::Refused(Refusal::ChallengeExpired | Refusal::ChallengeUsed)));
        if restart_auth {
            return self.restart_authentication(fx);
        }
        // Challenge, offers and issuance (same idempotency key) are safe to repeat.
        if error.is_transient() {
            let Some(txn) = self.txn.as_mut() else { return };
            if txn.backend_attempts < retries {
                txn.backend_attempts += 1;
                let attempt = txn.backend_attempts;
                txn.retry_at = Some((now + backoff * u32::from(attempt), step));
                return self.audit(fx, RecordKind::Retry { what: step.name(), attempt });
            }
        }
        let code = match (&error, step) {
            (BackendError::Refused(r), _) => refusal_code(r),
            (BackendError::CatalogSignature, _) => FailureCode::CatalogInvalid,
            _ => FailureCode::BackendUnavailable,
        };
        if let Some(t) = self.txn.as_mut() {
            t.notice = match code {
                FailureCode::CertificateRevoked => Some(CertificateNotice::Revoked),
                FailureCode::CertificateSuspended => Some(CertificateNotice::Suspended),
                FailureCode::CertificateNotYetValid => Some(CertificateNotice::NotYetValid),
                FailureCode::CertificateExpired => {
                    t.facts.map(|f| CertificateNotice::Expired { last_day: jst_date(f.not_after) })
                }
                _ => t.notice,
            };
        }
        self.exit(Some(code), fx);
    }

    fn got_offers(&mut self, mut offers: Offers, fx: &mut Vec<Effect>) {
        // A document nobody can order is shown as unavailable, not as a button that fails.
        for m in &mut offers.municipalities {
            let (ok, bad): (Vec<_>, Vec<_>) = m.documents.drain(..).partition(|d| d.max_copies > 0);
            m.documents = ok;
            m.unavailable
                .extend(bad.into_iter().map(|d| UnavailableDocument { kind: d.kind, reason: "not_offered".into() }));
        }
        offers.municipalities.retain(|m| !m.documents.is_empty() || !m.unavailable.is_empty());
        let any = offers.municipalities.iter().any(|m| !m.documents.is_empty());
        if !any {
            let hours = offers
                .municipalities
                .iter()
                .flat_map(|m| &m.unavailable)
                .any(|u| u.reason == "outside_service_hours" || u.reason == "closed_day");
            return self.exit(Some(if hours { FailureCode::OutsideHours } else { FailureCode::NothingOffered }), fx);
        }
        let Some(txn) = self.txn.as_mut() else { return };
        txn.offers = Some(offers);
        if self.phase == Phase::RemoveCard && !txn.card_in_use {
            self.go_choose(fx);
        }
    }

    fn go_choose(&mut self, _fx: &mut Vec<Effect>) {
        let Some(txn) = self.txn.as_ref() else { return };
        let with_documents: Vec<usize> = txn
            .offers
            .as_ref()
            .map(|o| {
                o.municipalities.iter().enumerate().filter(|(_, m)| !m.documents.is_empty()).map(|(i, _)| i).collect()
            })
            .unwrap_or_default();
        if self.municipality_count() > 1 {
            self.enter(Phase::ChooseMunicipality);
        } else {
            if let Some(t) = self.txn.as_mut() {
                t.municipality = with_documents.first().copied();
            }
            self.enter(Phase::ChooseDocument);
        }
    }

    fn start_payment(&mut self, fx: &mut Vec<Effect>) {
        if !self.printer_ready {
            return self.exit(Some(FailureCode::PrinterUnavailable), fx);
        }
        if !self.cash_ready {
            return self.exit(Some(FailureCode::CashUnavailable), fx);
        }
        let key_n = self.txn.as_ref().map_or(0, |t| t.number);
        let key = format!("{}-{}", self.cfg.kiosk_id, &self.derive("issuance", key_n)[..32]);
        let Some(txn) = self.txn.as_mut() else { return };
        let Some((fee, needs_year)) = txn.offer().map(|(_, d)| (d.fee_yen, !d.years.is_empty())) else { return };
        if needs_year && txn.year.is_none() {
            return;
        }
        txn.due = fee.saturating_mul(u32::from(txn.copies));
        txn.idempotency_key.get_or_insert(key);
        if txn.due == 0 {
            return self.issue(fx);
        }
        txn.collecting = true;
        let (reference, due_yen) = (txn.reference.clone(), txn.due);
        fx.push(Effect::Payment(PaymentCommand::Collect { reference, due_yen }));
        self.enter(Phase::Payment);
    }

    fn issue(&mut self, fx: &mut Vec<Effect>) {
        if let Some(t) = self.txn.as_mut() {
            t.backend_attempts = 0;
        }
        let Some(request) = self.issue_request() else { return self.exit(Some(FailureCode::Internal), fx) };
        let key = request.idempotency_key.clone();
        self.audit(fx, RecordKind::IssuanceRequested { idempotency_key: key });
        self.backend(Request::Issue(request), BackendStep::Issue, fx);
        self.enter(Phase::Issuing);
    }

    fn got_issued(&mut self, issued: Issued, fx: &mut Vec<Effect>) {
        let kiosk_id = self.cfg.kiosk_id.clone();
        let checked = self.docs.check(&issued.document);
        let Some(txn) = self.txn.as_mut() else { return };
        // From here on the backend holds an issuance: every exit reports its outcome.
        txn.issuance = Some(issued.issuance_number.clone());
        let number = issued.issuance_number.clone();
        let binding = match checked {
            Ok(b) => b,
            Err(_) => {
                self.audit(fx, RecordKind::DocumentSignatureInvalid { issuance_number: number });
                return self.exit(Some(FailureCode::DocumentInvalid), fx);
            }
        };
        let Some(txn) = self.txn.as_mut() else { return };
        let expect_fp = txn.facts.map(|f| hex::encode(f.fingerprint)).unwrap_or_default();
        let expect_doc = txn.offer().map(|(_, d)| d.kind.clone()).unwrap_or_default();
        let mismatch = if Some(&binding.session_id) != txn.backend_session.as_ref() {
            Some("session_id")
        } else if !binding.certificate_fingerprint.eq_ignore_ascii_case(&expect_fp) || expect_fp.is_empty() {
            Some("certificate_fingerprint")
        } else if binding.issuance_number != issued.issuance_number {
            Some("issuance_number")
        } else if binding.document != expect_doc {
            Some("document")
        } else if binding.copies != i64::from(txn.copies) {
            Some("copies")
        } else if !kiosk_id.is_empty() && binding.kiosk_id != kiosk_id {
            Some("kiosk_id")
        } else if issued.total_yen != txn.due {
            Some("total_yen")
        } else {
            None
        };
        if let Some(field) = mismatch {
            self.audit(fx, RecordKind::BindingMismatch { issuance_number: number, field });
            return self.exit(Some(FailureCode::DocumentMismatch), fx);
        }
        self.audit(fx, RecordKind::Issued { issuance_number: number.clone() });
        let deadline = self.mono() + self.cfg.timeouts.printer_job;
        let Some(txn) = self.txn.as_mut() else { return };
        txn.binding = Some(binding.clone());
        txn.print = PrintState::Running { pages_done: 0, pages_total: 0 };
        txn.print_deadline = Some(deadline);
        fx.push(Effect::Print(PrintJob {
            issuance_number: number,
            copies: txn.copies,
            binding,
            document: issued.document,
        }));
        self.enter(Phase::Printing);
    }

    // -----------------------------------------------------------------------------------------
    // printer and cash

    fn on_printer(&mut self, event: PrinterEvent, fx: &mut Vec<Effect>) {
        let current = |n: &str, s: &Self| {
            s.phase == Phase::Printing && s.txn.as_ref().and_then(|t| t.issuance.as_deref()) == Some(n)
        };
        match event {
            PrinterEvent::Ready(ready) => {
                self.printer_ready = ready;
                // Before the money is in, a printer that cannot print ends the transaction
                // early; afterwards the job itself reports the fault with its paper outcome.
                let early = matches!(self.phase, Phase::Confirm | Phase::Payment);
                if !ready && early {
                    self.exit(Some(FailureCode::PrinterUnavailable), fx);
                }
            }
            PrinterEvent::Progress { issuance_number, pages_done, pages_total } if current(&issuance_number, self) => {
                if let Some(t) = self.txn.as_mut() {
                    t.print = PrintState::Running { pages_done, pages_total };
                }
            }
            PrinterEvent::Finished { issuance_number, pages } if current(&issuance_number, self) => {
                self.audit(fx, RecordKind::Printed { issuance_number: issuance_number.clone(), pages });
                let Some(txn) = self.txn.as_mut() else { return };
                txn.print = PrintState::Done { pages };
                txn.outcome_sent = true;
                let session_id = txn.backend_session.clone().unwrap_or_default();
                let op = self.next_op();
                fx.push(Effect::Backend(BackendCall {
                    op,
                    request: Request::Outcome { session_id, issuance_number, outcome: IssueOutcome::Printed },
                }));
                self.exit(None, fx);
            }
            PrinterEvent::Failed { issuance_number, kind, paper } if current(&issuance_number, self) => {
                self.print_failed(issuance_number, kind, paper, fx)
            }
            _ => self.audit(fx, RecordKind::StaleReply { what: "printer" }),
        }
    }

    fn print_failed(&mut self, number: String, kind: PrinterErrorKind, paper: PaperOutcome, fx: &mut Vec<Effect>) {
        self.audit(fx, RecordKind::PrintFailed { issuance_number: number, kind, paper });
        if let Some(t) = self.txn.as_mut() {
            t.print = PrintState::Failed { paper };
        }
        let code = match kind {
            PrinterErrorKind::PaperOut => FailureCode::PrinterPaperOut,
            PrinterErrorKind::Jam => FailureCode::PrinterJam,
            _ => FailureCode::PrinterFault,
        };
        self.exit(Some(code), fx);
    }

    fn on_payment(&mut self, event: PaymentEvent, fx: &mut Vec<Effect>) {
        match event {
            PaymentEvent::Ready(ready) => {
                self.cash_ready = ready;
                if !ready && matches!(self.phase, Phase::Confirm | Phase::Payment) {
                    self.exit(Some(FailureCode::CashUnavailable), fx);
                }
            }
            PaymentEvent::Inserted { total_yen } => {
                let Some(txn) = self.txn.as_mut() else { return };
                let added = total_yen.saturating_sub(txn.inserted);
                txn.inserted = txn.inserted.max(total_yen);
                if self.phase == Phase::Closing {
                    // Money that arrived after the end (a coin still rolling) goes straight back.
                    if let Some(c) = txn.closing.as_mut() {
                        if added > 0 {
                            c.to_return += added;
                            fx.push(Effect::Payment(PaymentCommand::Refund { yen: added }));
                        }
                    }
                    return;
                }
                if self.phase == Phase::Payment && txn.collecting && txn.inserted >= txn.due {
                    txn.collecting = false;
                    let due = txn.due;
                    fx.push(Effect::Payment(PaymentCommand::StopAccepting));
                    self.audit(fx, RecordKind::Collected { yen: due });
                    self.issue(fx);
                } else if self.phase == Phase::Payment {
                    self.activity();
                }
            }
            PaymentEvent::PaidOut { yen } => {
                self.audit(fx, RecordKind::PaidOut { yen });
                if let Some(c) = self.txn.as_mut().and_then(|t| t.closing.as_mut()) {
                    c.returned = c.returned.saturating_add(yen);
                }
            }
            PaymentEvent::Fault { kind, yen_not_returned } => {
                self.cash_ready = false;
                if self.phase == Phase::Closing {
                    if let Some(c) = self.txn.as_mut().and_then(|t| t.closing.as_mut()) {
                        let owed = if yen_not_returned > 0 {
                            yen_not_returned
                        } else {
                            c.to_return.saturating_sub(c.returned)
                        };
                        c.owed = c.owed.max(owed);
                        let yen = c.owed;
                        if yen > 0 {
                            self.audit(fx, RecordKind::MoneyOwed { yen });
                        }
                    }
                    return;
                }
                if self.txn.is_some() && !matches!(self.phase, Phase::Printing | Phase::Issuing) {
                    let code =
                        if kind == CashFaultKind::Jam { FailureCode::CashJam } else { FailureCode::CashUnavailable };
                    self.exit(Some(code), fx);
                    if yen_not_returned > 0 {
                        if let Some(c) = self.txn.as_mut().and_then(|t| t.closing.as_mut()) {
                            c.owed = yen_not_returned;
                        }
                        self.audit(fx, RecordKind::MoneyOwed { yen: yen_not_returned });
                    }
                }
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // the one exit

    /// Ends the transaction: `None` for a delivered issuance, else why not. Idempotent: once
    /// closing, later faults change nothing (money still in flight is tracked by `on_payment`).
    fn exit(&mut self, code: Option<FailureCode>, fx: &mut Vec<Effect>) {
        if self.phase == Phase::Closing || self.txn.is_none() {
            return;
        }
        let now = self.mono();
        let linger = if code.is_none() { self.cfg.timeouts.take_documents } else { self.cfg.timeouts.failure };
        let release_op = self.next_op();
        let Some(txn) = self.txn.as_mut() else { return };
        let quiet = txn.untouched()
            && matches!(code, Some(FailureCode::Cancelled | FailureCode::ScreenTimeout | FailureCode::SessionTimeout));

        // 1. The card: let go of it (the worker ends any exchange first).
        if let (Some(reader), false) = (txn.reader.clone(), txn.card_released) {
            txn.card_released = true;
            fx.push(Effect::Card(CardCall { op: release_op, reader, command: CardCommand::Release }));
        }
        txn.card_op = None;
        txn.backend_op = None;
        txn.retry_at = None;
        txn.print_deadline = None;

        // 2. Money: the fee is kept only for a delivered document; everything else goes back.
        if txn.collecting {
            txn.collecting = false;
            fx.push(Effect::Payment(PaymentCommand::StopAccepting));
        }
        let delivered = matches!(txn.print, PrintState::Done { .. });
        let keep = if delivered { txn.due.min(txn.inserted) } else { 0 };
        let give_back = txn.inserted - keep;
        if keep > 0 {
            fx.push(Effect::Payment(PaymentCommand::Keep { yen: keep }));
        }
        if give_back > 0 {
            fx.push(Effect::Payment(if delivered {
                PaymentCommand::GiveChange { yen: give_back }
            } else {
                PaymentCommand::Refund { yen: give_back }
            }));
        }
        let pages_printed = match txn.print {
            PrintState::Done { pages } => pages,
            PrintState::Failed { paper: PaperOutcome::Pages(n) } => n,
            PrintState::Running { pages_done, .. } => pages_done,
            _ => 0,
        };

        // 3. The backend: the outcome of an issuance, then close the session, which voids
        //    anything still waiting (an issuance whose answer never came included).
        let mut requests = Vec::new();
        if let Some(session_id) = txn.backend_session.clone() {
            if let (Some(number), false) = (txn.issuance.clone(), txn.outcome_sent) {
                txn.outcome_sent = true;
                let outcome = if delivered {
                    IssueOutcome::Printed
                } else {
                    let reason = match (code, txn.print) {
                        (Some(c), PrintState::Failed { paper }) => format!("{c}: {paper}"),
                        (Some(c), _) => c.id().to_string(),
                        (None, _) => "not printed".into(),
                    };
                    IssueOutcome::Failed { reason }
                };
                requests.push(Request::Outcome { session_id: session_id.clone(), issuance_number: number, outcome });
            }
            requests.push(Request::Close { session_id });
        }

        // 4. Secrets and the resident's data; what the last screen needs stays.
        txn.wipe();
        let charged = txn.inserted;
        txn.closing = Some(Closing {
            code,
            acknowledged: quiet,
            deadline: Some(now + linger),
            to_return: give_back,
            returned: 0,
            owed: 0,
            pages_printed,
        });
        txn.screen_deadline = None;
        txn.warning = false;
        for request in requests {
            let op = self.next_op();
            fx.push(Effect::Backend(BackendCall { op, request }));
        }
        fx.push(Effect::WipeSecrets);
        self.phase = Phase::Closing;
        self.audit(fx, RecordKind::SessionEnded { code, charged_yen: charged, returned_yen: give_back });
    }

    /// Back to idle once the end was seen (or timed out) and every card is off the readers.
    fn maybe_idle(&mut self) {
        if self.phase != Phase::Closing {
            return;
        }
        let done = self.txn.as_ref().and_then(|t| t.closing.as_ref()).is_some_and(|c| c.acknowledged);
        if done && self.cards.is_empty() {
            self.txn = None;
            self.phase = Phase::Idle;
            self.language = self.cfg.languages.first().cloned().unwrap_or_else(|| "ja".into());
            self.large_text = false;
            self.high_contrast = false;
        }
    }

    // -----------------------------------------------------------------------------------------
    // output

    fn audit(&mut self, fx: &mut Vec<Effect>, kind: RecordKind) {
        fx.push(Effect::Audit(Record {
            transaction: self.txn.as_ref().map(|t| t.reference.clone()),
            at: self.wall(),
            kind,
        }));
    }

    fn wanted_outputs(&self) -> [Level; 3] {
        let mut out = [Level::Off; 3]; // card slot, status, chime
        let card_waiting = !self.cards.is_empty();
        match self.phase {
            Phase::Idle if self.availability().is_some() => out[1] = Level::On,
            Phase::PlaceCard => out[0] = Level::Blink,
            Phase::RemoveCard if self.txn.as_ref().is_some_and(|t| t.card_in_use) => {
                out[0] = Level::Blink;
                out[2] = Level::Blink;
            }
            Phase::Closing => {
                let c = self.txn.as_ref().and_then(|t| t.closing.as_ref());
                if c.is_some_and(|c| c.code.is_none() && !c.acknowledged) {
                    out[1] = Level::Blink;
                    out[2] = Level::Blink;
                }
                if card_waiting {
                    out[0] = Level::Blink;
                    out[2] = Level::Blink;
                }
            }
            _ => {}
        }
        out
    }

    fn render(&mut self, fx: &mut Vec<Effect>) {
        let wanted = self.wanted_outputs();
        for (i, output) in Output::ALL.into_iter().enumerate() {
            if self.outputs[i] != wanted[i] {
                self.outputs[i] = wanted[i];
                fx.push(Effect::Signal(Signal { output, level: wanted[i] }));
            }
        }
        let mut view = self.build_view();
        let screen_changed = self.shown.as_ref().is_none_or(|v| v.screen != view.screen);
        if screen_changed || self.force_new_visit {
            self.visit += 1;
            self.force_new_visit = false;
        }
        view.visit = self.visit;
        if self.shown.as_ref() != Some(&view) {
            self.shown = Some(view.clone());
            fx.push(Effect::Show(view));
        }
    }

    fn money_state(c: &Closing) -> MoneyState {
        if c.owed > 0 {
            MoneyState::Owed { yen: c.owed }
        } else if c.to_return == 0 {
            MoneyState::NotCharged
        } else if c.returned >= c.to_return {
            MoneyState::Returned { yen: c.to_return }
        } else {
            MoneyState::Returning { yen: c.to_return }
        }
    }

    fn build_view(&self) -> View {
        let mut v = View {
            language: self.language.clone(),
            large_text: self.large_text,
            high_contrast: self.high_contrast,
            ..View::default()
        };
        let now = self.mono();
        let services = |enabled: bool| {
            let mut pin_reset = Choice::new("pin-reset", "");
            pin_reset.enabled = false;
            pin_reset.note = "not-offered".into();
            let mut certificates = Choice::new("certificates", "");
            certificates.enabled = enabled;
            vec![certificates, pin_reset]
        };
        let Some(txn) = self.txn.as_ref() else {
            v.unavailable = self.availability();
            v.screen = match v.unavailable {
                Some(Unavailable::Hours | Unavailable::ClosedDay) => ScreenId::Closed,
                Some(_) => ScreenId::OutOfService,
                None => ScreenId::Idle,
            };
            v.services = services(v.unavailable.is_none());
            return v;
        };
        v.token = txn.token;
        v.can_cancel = Self::cancellable(self.phase);
        let (screen, stage) = match self.phase {
            Phase::Idle => (ScreenId::Idle, Stage::None),
            Phase::ServiceMenu => (ScreenId::ServiceMenu, Stage::None),
            Phase::PlaceCard => (ScreenId::PlaceCard, Stage::None),
            Phase::Reading => (ScreenId::ReadingCard, Stage::ReadCertificate),
            Phase::PinStatus => (ScreenId::ReadingCard, Stage::CheckCertificate),
            Phase::ReadingCert => (ScreenId::ReadingCard, Stage::ReadCertificate),
            Phase::CertNotice(_) => (ScreenId::CertificateProblem, Stage::None),
            // A wrong PIN comes back to this same screen with the new count: no dialog.
            Phase::PinEntry | Phase::Verifying => (ScreenId::PinEntry, Stage::None),
            Phase::Challenge | Phase::Authenticating => (ScreenId::Authenticating, Stage::Backend),
            Phase::Signing => (ScreenId::Authenticating, Stage::Sign),
            Phase::RemoveCard if txn.card_in_use => (ScreenId::RemoveCard, Stage::None),
            Phase::RemoveCard => (ScreenId::Authenticating, Stage::Backend),
            Phase::ChooseMunicipality => (ScreenId::ChooseMunicipality, Stage::None),
            Phase::ChooseDocument => (ScreenId::ChooseDocument, Stage::None),
            Phase::Options => (ScreenId::DocumentOptions, Stage::None),
            Phase::Copies => (ScreenId::Copies, Stage::None),
            Phase::Confirm => (ScreenId::Confirm, Stage::None),
            Phase::Payment => (ScreenId::Payment, Stage::None),
            Phase::Issuing => (ScreenId::Printing, Stage::Issue),
            Phase::Printing => (ScreenId::Printing, Stage::Printing),
            Phase::Closing => (ScreenId::Failure, Stage::None),
        };
        v.screen = screen;
        v.progress.stage = stage;
        if let PrintState::Running { pages_done, pages_total } = txn.print {
            v.progress.pages_done = pages_done;
            v.progress.pages_total = pages_total;
        }
        if matches!(self.phase, Phase::ServiceMenu) {
            v.services = services(true);
            v.can_go_back = true;
        }
        if matches!(self.phase, Phase::PinEntry | Phase::Verifying) {
            let typed = if self.phase == Phase::Verifying { pin::PIN_LEN as u8 } else { txn.pin.len() as u8 };
            v.pin = Some(PinPad {
                typed,
                length: pin::PIN_LEN as u8,
                tries_left: txn.tries_left,
                last_try_warning: txn.tries_left == Some(1),
                previous_wrong: txn.previous_wrong,
            });
            if self.phase == Phase::Verifying {
                v.progress.stage = Stage::VerifyPin;
                v.can_cancel = false;
            }
        }
        if matches!(self.phase, Phase::CertNotice(_)) {
            v.certificate = txn.notice;
        }
        self.fill_choices(txn, &mut v);
        if let Some(deadline) = txn.screen_deadline {
            let end = deadline.min(txn.overall_deadline);
            v.countdown = Some(ceil_secs(end.saturating_sub(now)));
            // "More time" cannot stretch the whole transaction's limit.
            v.can_more_time = txn.more_time_used < self.cfg.timeouts.max_more_time
                && txn.overall_deadline > now + self.cfg.timeouts.more_time;
            if txn.warning {
                v.resumes = Some(v.screen);
                v.screen = ScreenId::TimeoutWarning;
                v.can_go_back = false;
            }
        }
        if self.phase == Phase::Payment || self.phase == Phase::Issuing {
            v.payment = Some(PaymentView { due_yen: txn.due, inserted_yen: txn.inserted, change_yen: 0 });
        }
        if let (Phase::Closing, Some(c)) = (self.phase, txn.closing.as_ref()) {
            v.can_cancel = false;
            v.countdown = c.deadline.map(|d| ceil_secs(d.saturating_sub(now)));
            v.screen = match (c.code, c.acknowledged) {
                (_, true) => ScreenId::TakeCard,
                (None, false) => ScreenId::TakeDocuments,
                (Some(code), false) if code.is_certificate_problem() => ScreenId::CertificateProblem,
                (Some(_), false) => ScreenId::Failure,
            };
            match c.code {
                None => {
                    v.payment =
                        Some(PaymentView { due_yen: txn.due, inserted_yen: txn.inserted, change_yen: c.to_return })
                }
                Some(code) => {
                    v.certificate = txn.notice.filter(|_| code.is_certificate_problem());
                    v.failure = Some(FailureView {
                        code,
                        money: Self::money_state(c),
                        pages_printed: c.pages_printed,
                        reference: txn.reference.clone(),
                    });
                }
            }
        }
        v
    }

    fn fill_choices(&self, txn: &Txn, v: &mut View) {
        let Some(offers) = txn.offers.as_ref() else { return };
        match self.phase {
            Phase::ChooseMunicipality => {
                v.municipalities = offers
                    .municipalities
                    .iter()
                    .map(|m| {
                        let mut c = Choice::new(m.code.clone(), m.name.clone());
                        c.note = match m.route {
                            Route::Residence => "residence",
                            Route::Honseki => "honseki",
                        }
                        .into();
                        c.enabled = !m.documents.is_empty();
                        c
                    })
                    .collect();
            }
            Phase::ChooseDocument => {
                v.can_go_back = offers.municipalities.len() > 1;
                if let Some(m) = txn.municipality.and_then(|i| offers.municipalities.get(i)) {
                    v.documents = m
                        .documents
                        .iter()
                        .map(|d| {
                            let mut c = Choice::new(d.kind.clone(), d.title.clone());
                            c.fee_yen = Some(d.fee_yen);
                            c
                        })
                        .chain(m.unavailable.iter().map(|u| {
                            let mut c = Choice::new(u.kind.clone(), String::new());
                            c.enabled = false;
                            c.note = match u.reason.as_str() {
                                "outside_service_hours" => "not-now",
                                "closed_day" => "closed-day",
                                "not_eligible" | "restricted" => "not-eligible",
                                "no_record" => "no-record",
                                _ => "not-offered",
                            }
                            .into();
                            c
                        }))
                        .collect();
                }
            }
            _ => {}
        }
        let show_order = matches!(self.phase, Phase::Options | Phase::Copies | Phase::Confirm | Phase::Payment);
        if let (true, Some((m, d))) = (show_order, txn.offer()) {
            v.can_go_back = self.phase != Phase::Payment || txn.inserted == 0;
            if self.phase == Phase::Options {
                v.options = d
                    .options
                    .iter()
                    .map(|o| {
                        let mut c = Choice::new(o.clone(), String::new());
                        c.selected = txn.options.contains(o);
                        c
                    })
                    .collect();
                v.years = d
                    .years
                    .iter()
                    .map(|y| {
                        let mut c = Choice::new(y.to_string(), y.to_string());
                        c.selected = txn.year == Some(*y);
                        c
                    })
                    .collect();
            }
            v.order = Some(OrderView {
                municipality: m.name.clone(),
                document: d.kind.clone(),
                document_title: d.title.clone(),
                options: txn.options.clone(),
                year: txn.year,
                copies: txn.copies,
                max_copies: d.max_copies,
                fee_per_copy_yen: d.fee_yen,
                total_yen: d.fee_yen.saturating_mul(u32::from(txn.copies)),
            });
        }
    }
}

fn has_choices(d: &DocumentOffer) -> bool {
    !d.options.is_empty() || !d.years.is_empty()
}

fn ceil_secs(d: Duration) -> u32 {
    let s = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    u32::try_from(s).unwrap_or(u32::MAX)
}

/// The failure code for a backend refusal.
fn refusal_code(r: &Refusal) -> FailureCode {
    match r {
        Refusal::CertificateExpired => FailureCode::CertificateExpired,
        Refusal::CertificateNotYetValid => FailureCode::CertificateNotYetValid,
        Refusal::CertificateRevoked => FailureCode::CertificateRevoked,
        Refusal::CertificateSuspended => FailureCode::CertificateSuspended,
        Refusal::CertificateUntrusted => FailureCode::CertificateUntrusted,
        Refusal::CertificateUnlinked => FailureCode::CertificateUnlinked,
        Refusal::SignatureInvalid | Refusal::ChallengeExpired | Refusal::ChallengeUsed => {
            FailureCode::AuthenticationFailed
        }
        Refusal::RevocationUnavailable => FailureCode::BackendUnavailable,
        Refusal::SessionExpired => FailureCode::SessionTimeout,
        Refusal::OutsideServiceHours | Refusal::ClosedDay => FailureCode::OutsideHours,
        Refusal::NotEligible => FailureCode::NotEligible,
        Refusal::Other(_) => FailureCode::BackendRefused,
    }
}
