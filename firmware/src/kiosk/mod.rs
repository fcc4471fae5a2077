//! The kiosk loop: the session, its workers and the UI wired together (ARCHITECTURE.md §2).
//!
//! One thread (the UI's: slint keeps its window per thread) owns the [`Session`] and the
//! [`madoguchi_ui::Ui`]. Workers send [`Event`]s into one channel; [`Kiosk::pump`] takes them in
//! order, steps the session, and hands each [`Effect`] to the worker it is for. The loop itself
//! never waits on a device: it only waits for the next event or tick.

pub mod audit_log;
pub mod cash;
pub mod compat;
pub mod journal;
pub mod operator;
pub mod run;

use crate::config::KioskConfig;
use crate::workers::backend::BackendWorker;
use crate::workers::card::CardWorker;
use crate::workers::printer::PrinterWorker;
use cash::CashWorker;
use journal::{MoneyBook, MoneyReport};
use madoguchi_certs::TrustAnchors;
use madoguchi_drivers::card::{Connector, PcscConnector};
use madoguchi_drivers::gpio::{Input, Level, Output};
use madoguchi_drivers::payment::CashUnit;
use madoguchi_paper::{FontPaths, FontSet, Renderer};
use madoguchi_session::checks::AnchorCheck;
use madoguchi_session::{
    Effect, Event, Now, OpId, PaymentCommand, PaymentEvent, PrinterEvent, Record, Session, Touch, ViewModel,
};
use madoguchi_ui::Ui;
use std::cell::Cell;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};
use time::OffsetDateTime;

/// How often the session hears the time (countdowns show whole seconds).
const TICK: Duration = Duration::from_millis(250);

/// Why the kiosk could not start. Each names what the operator must fix.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("trust.anchors: {0}")]
    Anchors(String),
    #[error("backend.document_key: not a 64-hex-digit Ed25519 public key")]
    DocumentKey,
    #[error("backend: {0}")]
    Backend(String),
    #[error("fonts for printing: {0}")]
    Fonts(String),
    #[error("gpio: {0}")]
    Gpio(String),
    #[error("state directory {path}: {reason}")]
    State { path: PathBuf, reason: String },
}

/// The kiosk's clocks. Timeouts run on the monotonic clock; the wall clock may be set for an
/// acceptance test (`start_at`) and both may be advanced (`advance`), as if time had passed.
#[derive(Debug, Clone)]
pub struct KioskClock {
    start: Instant,
    wall_offset: time::Duration,
    skew: Duration,
}

impl KioskClock {
    pub fn system() -> KioskClock {
        KioskClock { start: Instant::now(), wall_offset: time::Duration::ZERO, skew: Duration::ZERO }
    }

    /// Sets the wall clock to `wall` now (keeping it running).
    pub fn set_wall(&mut self, wall: OffsetDateTime) {
        self.wall_offset = wall - OffsetDateTime::now_utc() - time::Duration::try_from(self.skew).unwrap_or_default();
    }

    /// Moves both clocks forward.
    pub fn advance(&mut self, by: Duration) {
        self.skew += by;
    }

    pub fn now(&self) -> Now {
        let skew = time::Duration::try_from(self.skew).unwrap_or_default();
        Now { mono: self.start.elapsed() + self.skew, wall: OffsetDateTime::now_utc() + self.wall_offset + skew }
    }
}

/// The lamps and the chime: real pins or, with `gpio.chip = "simulated"`, levels kept for the
/// demo panel and the acceptance tests.
pub trait SignalOutputs {
    fn apply(&mut self, output: Output, level: Level);
    fn level(&self, output: Output) -> Level;
    /// Lets blinking outputs blink (called on every tick with the monotonic time).
    fn refresh(&mut self, _t: Duration) {}
    /// Whether an input is active (the door switch: the door is shut), read on every tick.
    fn input(&mut self, input: Input) -> Result<bool, String>;
}

impl SignalOutputs for crate::devices::SimulatedOutputs {
    fn apply(&mut self, output: Output, level: Level) {
        crate::devices::SimulatedOutputs::apply(self, madoguchi_session::Signal { output, level });
    }
    fn level(&self, output: Output) -> Level {
        crate::devices::SimulatedOutputs::level(self, output)
    }
    /// Outputs alone have no switches: the door stays shut and the key off.
    fn input(&mut self, input: Input) -> Result<bool, String> {
        Ok(input == Input::DoorSwitch)
    }
}

impl SignalOutputs for madoguchi_drivers::gpio::SimulatedGpio {
    fn apply(&mut self, output: Output, level: Level) {
        self.set(output, level);
    }
    fn level(&self, output: Output) -> Level {
        madoguchi_drivers::gpio::SimulatedGpio::level(self, output)
    }
    fn input(&mut self, input: Input) -> Result<bool, String> {
        Ok(self.read(input))
    }
}

/// Real pins (embedded-hal), e.g. through linux-embedded-hal's character device.
pub struct PinOutputs<O, I>(pub madoguchi_drivers::gpio::KioskPins<O, I>);

/// What the kiosk has seen, for the operator's totals and the acceptance tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// Screens shown, in order (screen ids).
    pub screens: Vec<String>,
    /// Times the idle screen was shown while a card was still on a reader after a transaction.
    pub idle_with_card: u32,
    /// Issuances sent to the printer (number, document kind), in order.
    pub issuances: Vec<(String, String)>,
    /// Issuance number → `printed` / `failed` as reported to the backend.
    pub outcomes: Vec<(String, String)>,
    /// Money the resident put in (all sessions).
    pub inserted_yen: u32,
    pub change_yen: u32,
    pub refunded_yen: u32,
    pub kept_yen: u32,
    /// Money the kiosk could not give back.
    pub owed_yen: u32,
}

/// The running kiosk.
pub struct Kiosk {
    session: Session,
    events: Receiver<Event>,
    card: CardWorker,
    backend: BackendWorker,
    printer: PrinterWorker,
    cash: CashWorker,
    outputs: Box<dyn SignalOutputs>,
    ui: Ui,
    visit: Rc<Cell<u64>>,
    clock: KioskClock,
    last_tick: Option<Instant>,
    audit: Option<audit_log::AuditLog>,
    shown: Option<ViewModel>,
    /// Commands sent that still wait for their answer (the loop is "settled" without any).
    waiting_ops: BTreeSet<OpId>,
    printing: BTreeSet<String>,
    cards_present: BTreeSet<String>,
    payment_total: u32,
    pending_change: Vec<u32>,
    pending_refund: Vec<u32>,
    tally: Tally,
    /// Every yen in and out, fsynced (`state/money-journal.jsonl`).
    book: MoneyBook,
    /// The journal as replayed at start-up, for the operator.
    money_report: MoneyReport,
    /// Spoken prompts following the views shown ([`Kiosk::set_voice`]); none: silent.
    voice: Option<madoguchi_voice::VoiceGuide>,
    /// Operator mode: the key, the door, the operator's screens (operator.rs).
    desk: operator::OperatorDesk,
}

impl Kiosk {
    /// Starts the workers and the session from the configuration. `cash` is the cash unit the
    /// configuration names (see `cash.device`); `state_dir` keeps the backend outbox and audit.
    /// The card readers are PC/SC's, those `cfg.readers` accepts.
    pub fn start(
        cfg: &KioskConfig,
        ui: Ui,
        cash: Box<dyn CashUnit + Send>,
        outputs: Option<Box<dyn SignalOutputs>>,
        state_dir: &Path,
        clock: KioskClock,
    ) -> Result<Kiosk, StartError> {
        let readers = Box::new(PcscConnector::new(cfg.readers.clone()));
        Kiosk::start_with_readers(cfg, ui, cash, outputs, state_dir, clock, readers)
    }

    /// As [`Kiosk::start`], with the card readers behind `readers` (an in-memory card in tests).
    pub fn start_with_readers(
        cfg: &KioskConfig,
        ui: Ui,
        cash: Box<dyn CashUnit + Send>,
        outputs: Option<Box<dyn SignalOutputs>>,
        state_dir: &Path,
        clock: KioskClock,
        readers: Box<dyn Connector>,
    ) -> Result<Kiosk, StartError> {
        std::fs::create_dir_all(state_dir)
            .map_err(|e| StartError::State { path: state_dir.into(), reason: e.to_string() })?;
        let anchors = TrustAnchors::from_dir(&cfg.trust.anchors, cfg.trust.allow_test_anchors)
            .map_err(|e| StartError::Anchors(e.to_string()))?;
        let docs = cfg.document_check().ok_or(StartError::DocumentKey)?;
        let fonts = FontSet::load(&FontPaths::default()).map_err(|e| StartError::Fonts(e.to_string()))?;
        let renderer = Arc::new(Renderer::new(fonts));
        let outputs = match outputs {
            Some(o) => o,
            None => open_outputs(cfg)?,
        };
        let (sink, events) = channel();
        let backend = BackendWorker::spawn(
            &cfg.backend,
            &cfg.kiosk_id,
            cfg.session.timeouts.backend_reply,
            &state_dir.join("backend-outbox.jsonl"),
            sink.clone(),
        )
        .map_err(|e| StartError::Backend(e.to_string()))?;
        let printer = PrinterWorker::spawn(cfg.printer.clone(), renderer, sink.clone());
        let card = CardWorker::spawn(readers, sink.clone());
        let journal_path = state_dir.join("money-journal.jsonl");
        let (book, money_report) = MoneyBook::open(&journal_path)
            .map_err(|e| StartError::State { path: journal_path.clone(), reason: e.to_string() })?;
        let shared_cash = operator::SharedCash::new(cash);
        let cash = CashWorker::spawn(Box::new(shared_cash.clone()), sink.clone(), book.open_fault().is_some());
        let operator_client = match crate::workers::backend::client(&cfg.backend, &cfg.kiosk_id) {
            Ok(c) => Some(c),
            Err(e) => return Err(StartError::Backend(e.to_string())),
        };
        let desk = operator::OperatorDesk::new(cfg.operator.clone(), shared_cash, operator_client);
        let mut seed = [0u8; 32];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut seed);
        let session = Session::new(cfg.session.clone(), Box::new(AnchorCheck::new(anchors)), Box::new(docs), seed);
        let audit_path = state_dir.join("audit.log");
        let (audit, broken) = audit_log::AuditLog::open(&audit_path)
            .map_err(|e| StartError::State { path: audit_path.clone(), reason: e.to_string() })?;
        match broken {
            // Not a reason to stay closed: the evidence is kept and the alarm raised.
            Some(e) => log::error!("audit log {}: {e}; kept as it is, new lines chain on", audit_path.display()),
            None => log::info!(
                "audit log {}: {} lines, chain {}",
                audit_path.display(),
                audit.head().lines,
                hex::encode(audit.head().chain)
            ),
        }
        if let Some(reference) = book.open_fault() {
            log::error!(
                "money journal: coins of unknown value went in during transaction {reference}; the cash unit stays out of service until staff count the cash box and clear the fault"
            );
        }
        for t in money_report.unsettled() {
            log::error!(
                "money journal: transaction {} took {} yen; {} kept, {} paid back, {} owed: {} yen unaccounted for (staff: check the cash unit)",
                t.reference,
                t.inserted,
                t.kept,
                t.paid_out,
                t.owed,
                t.unaccounted()
            );
        }
        let visit = Rc::new(Cell::new(0u64));
        {
            let (sink, visit) = (sink.clone(), visit.clone());
            ui.on_touch(move |action: &str| {
                // made on the screen `visit`: a touch on a screen that has gone is dropped; a PIN
                // key is read into its digit here, no copy of its id is made
                let _ = sink.send(Event::Touch(Touch::new(action).on(visit.get())));
            });
        }
        let mut k = Kiosk {
            session,
            events,
            card,
            backend,
            printer,
            cash,
            outputs,
            ui,
            visit,
            clock,
            last_tick: None,
            audit: Some(audit),
            shown: None,
            waiting_ops: BTreeSet::new(),
            printing: BTreeSet::new(),
            cards_present: BTreeSet::new(),
            payment_total: 0,
            pending_change: Vec::new(),
            pending_refund: Vec::new(),
            tally: Tally::default(),
            book,
            money_report,
            voice: None,
            desk,
        };
        k.tick();
        if k.cash_fault().is_some() {
            // money in doubt from before the restart: still out of service until staff clear it
            k.operator_event(madoguchi_session::operator::OperatorEvent::CashUnitFault);
        }
        Ok(k)
    }

    pub fn ui(&self) -> &Ui {
        &self.ui
    }

    /// Speaks the prompts of the views shown from now on (the ALSA speaker in a store, a WAV
    /// file in the headless runner).
    pub fn set_voice(&mut self, voice: madoguchi_voice::VoiceGuide) {
        self.voice = Some(voice);
    }

    pub fn voice(&self) -> Option<&madoguchi_voice::VoiceGuide> {
        self.voice.as_ref()
    }

    pub fn clock_mut(&mut self) -> &mut KioskClock {
        &mut self.clock
    }

    pub fn tally(&self) -> &Tally {
        &self.tally
    }

    /// The view last shown.
    pub fn view(&self) -> Option<&ViewModel> {
        self.shown.as_ref()
    }

    pub fn outputs(&self) -> &dyn SignalOutputs {
        self.outputs.as_ref()
    }

    /// Readers with a card or phone on them, as the kiosk saw them.
    pub fn cards_present(&self) -> &BTreeSet<String> {
        &self.cards_present
    }

    /// Money inserted in the current collection.
    pub fn payment_total(&self) -> u32 {
        self.payment_total
    }

    /// No command waits for an answer and no event is queued: the kiosk waits for the resident.
    pub fn settled(&self) -> bool {
        self.waiting_ops.is_empty() && self.printing.is_empty()
    }

    /// APDUs on the current card connection.
    pub fn card_apdus(&self) -> u32 {
        self.card.apdus_on_connection()
    }

    /// The money journal as it stood at start-up: transactions whose money is unaccounted for
    /// (a crash between the coin and the issuance) are in [`MoneyReport::unsettled`]. Operator
    /// mode will show it; until then it is logged at start-up.
    pub fn money_report(&self) -> &MoneyReport {
        &self.money_report
    }

    /// The transaction whose coins of unknown value went in, while staff have not cleared the
    /// fault: the kiosk is out of service for it (operator mode shows it as `cash-unit-fault`).
    pub fn cash_fault(&self) -> Option<&str> {
        self.book.open_fault()
    }

    /// Staff counted the cash box: the unit serves again once it answers, and the journal
    /// records the fault cleared.
    pub fn clear_cash_fault(&self) {
        self.cash.clear_fault();
    }

    /// Durable backend reports not yet delivered.
    pub fn backend_pending(&self) -> usize {
        self.backend.pending_durable()
    }

    /// Sends the time now (after the clock was set or advanced).
    pub fn tick(&mut self) {
        self.last_tick = Some(Instant::now());
        let now = self.clock.now();
        self.outputs.refresh(now.mono);
        self.handle(Event::Tick(now));
        self.operator_poll();
    }

    /// Handles events for up to `max_wait`, returning how many; ticks as time passes.
    pub fn pump(&mut self, max_wait: Duration) -> usize {
        let deadline = Instant::now() + max_wait;
        let mut n = 0;
        loop {
            let next_tick = self.last_tick.map_or(Instant::now(), |t| t + TICK);
            if Instant::now() >= next_tick {
                self.tick();
            }
            let now = Instant::now();
            if now >= deadline {
                return n;
            }
            let wait = deadline.min(next_tick).saturating_duration_since(now);
            match self.events.recv_timeout(wait) {
                Ok(ev) => {
                    n += 1;
                    self.handle(ev);
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return n,
            }
        }
    }

    /// Handles whatever is queued now without waiting.
    pub fn pump_ready(&mut self) -> usize {
        let mut n = 0;
        if self.last_tick.is_none_or(|t| t.elapsed() >= TICK) {
            self.tick();
        }
        while let Ok(ev) = self.events.try_recv() {
            n += 1;
            self.handle(ev);
        }
        n
    }

    fn handle(&mut self, ev: Event) {
        if let Event::Payment(p) = &ev {
            // Written down before anything acts on it.
            self.book.event(p);
        }
        if self.operator_takes(&ev) {
            return;
        }
        match &ev {
            Event::CardReply { op, .. } | Event::BackendReply { op, .. } => {
                self.waiting_ops.remove(op);
            }
            Event::CardPresented { reader, .. } => {
                self.cards_present.insert(reader.clone());
            }
            Event::CardRemoved { reader } | Event::ReaderRemoved { reader } => {
                self.cards_present.remove(reader);
            }
            Event::PrinterStatus(PrinterEvent::Finished { issuance_number, .. })
            | Event::PrinterStatus(PrinterEvent::Failed { issuance_number, .. }) => {
                self.printing.remove(issuance_number);
            }
            Event::Payment(PaymentEvent::Inserted { total_yen }) => {
                if *total_yen > self.payment_total {
                    self.tally.inserted_yen += total_yen - self.payment_total;
                }
                self.payment_total = *total_yen;
            }
            Event::Payment(PaymentEvent::PaidOut { yen }) => {
                if let Some(i) = self.pending_refund.iter().position(|y| y == yen) {
                    self.pending_refund.remove(i);
                    self.tally.refunded_yen += yen;
                } else if let Some(i) = self.pending_change.iter().position(|y| y == yen) {
                    self.pending_change.remove(i);
                    self.tally.change_yen += yen;
                }
            }
            Event::Payment(PaymentEvent::Fault { yen_not_returned, .. }) => {
                self.tally.owed_yen += yen_not_returned;
            }
            _ => {}
        }
        let seen = operator::Seen::of(&ev);
        let effects = self.session.step(ev);
        for fx in effects {
            self.apply(fx);
        }
        self.operator_saw(seen);
    }

    fn apply(&mut self, fx: Effect) {
        match fx {
            Effect::Show(v) => self.show(v),
            Effect::Card(call) => {
                if !matches!(call.command, madoguchi_session::CardCommand::Release) {
                    self.waiting_ops.insert(call.op);
                }
                self.card.submit(call);
            }
            Effect::Backend(call) => {
                if !call.request.is_durable() {
                    self.waiting_ops.insert(call.op);
                }
                if let madoguchi_session::Request::Outcome { issuance_number, outcome, .. } = &call.request {
                    let o = match outcome {
                        madoguchi_session::IssueOutcome::Printed => Some("printed"),
                        madoguchi_session::IssueOutcome::Failed { .. } => Some("failed"),
                        // A lease renewal and a refund paid are not the issuance's outcome.
                        madoguchi_session::IssueOutcome::Printing
                        | madoguchi_session::IssueOutcome::Refunded { .. } => None,
                    };
                    if let Some(o) = o {
                        self.tally.outcomes.push((issuance_number.clone(), o.into()));
                    }
                }
                self.backend.submit(call);
            }
            Effect::Print(job) => {
                self.printing.insert(job.issuance_number.clone());
                self.tally.issuances.push((job.issuance_number.clone(), job.binding.document.clone()));
                self.printer.submit(job);
            }
            Effect::Signal(s) => self.outputs.apply(s.output, s.level),
            Effect::Payment(cmd) => {
                let day = self.store_day();
                self.book.set_day(&day);
                self.book.command(&cmd);
                match &cmd {
                    PaymentCommand::Collect { .. } => self.payment_total = 0,
                    PaymentCommand::Keep { yen } => self.tally.kept_yen += yen,
                    PaymentCommand::GiveChange { yen } => self.pending_change.push(*yen),
                    PaymentCommand::Refund { yen } => self.pending_refund.push(*yen),
                    PaymentCommand::StopAccepting => {}
                }
                self.cash.submit(cmd);
            }
            Effect::Audit(r) => self.audit(&r),
            Effect::AbortPrint { issuance_number } => {
                // The job's end now waits for the printer to settle, which may take until staff
                // see to it: the kiosk is out of service meanwhile, not waiting for the resident.
                self.printing.remove(&issuance_number);
                self.printer.abort(&issuance_number);
            }
            Effect::WipeSecrets => self.printer.wipe(),
        }
    }

    fn show(&mut self, v: ViewModel) {
        let id = v.screen.id().to_string();
        if id == "idle" && !self.cards_present.is_empty() && self.tally.screens.iter().any(|s| s != "idle") {
            self.tally.idle_with_card += 1;
        }
        if self.tally.screens.last() != Some(&id) {
            self.tally.screens.push(id);
        }
        self.visit.set(v.visit);
        // an operator screen stays over the resident's until operator mode gives it back
        if self.desk.screen().is_none() {
            self.ui.set_view(&v);
            if let Some(voice) = self.voice.as_mut() {
                // Hands the view to the voice worker and returns: the loop never waits for sound.
                voice.follow(&v, self.clock.now().wall);
            }
        }
        self.shown = Some(v);
    }

    fn audit(&mut self, r: &Record) {
        if let madoguchi_session::RecordKind::Issued { issuance_number } = &r.kind {
            log::info!("issued {issuance_number}");
        }
        if let madoguchi_session::RecordKind::PayoutTimedOut { yen } = &r.kind {
            // The cash unit hung in a payout: owed, like a fault's money not returned.
            self.tally.owed_yen += yen;
            self.book.owed(r.transaction.as_deref(), *yen);
        }
        let at = r.at.unwrap_or_else(OffsetDateTime::now_utc);
        let line = format!(
            "{} {} {:?}",
            at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
            r.transaction.as_deref().unwrap_or("-"),
            r.kind
        );
        if let Some(log) = self.audit.as_mut() {
            if let Err(e) = log.append(&line) {
                log::error!("the audit log {} cannot be written: {e}", log.path().display());
            }
        }
    }
}

fn open_outputs(cfg: &KioskConfig) -> Result<Box<dyn SignalOutputs>, StartError> {
    if cfg.gpio.is_simulated() {
        // the lamps' levels kept, the switches at rest (door shut, key off)
        return Ok(Box::new(madoguchi_drivers::gpio::SimulatedGpio::default()));
    }
    let pins = madoguchi_drivers::gpio::linux::open(&cfg.gpio.chip, &cfg.gpio.lines)
        .map_err(|e| StartError::Gpio(format!("{}: {e:?}", cfg.gpio.chip.display())))?;
    Ok(Box::new(PinOutputs(pins)))
}

impl<O, I> SignalOutputs for PinOutputs<O, I>
where
    O: madoguchi_drivers::gpio::embedded_hal::digital::OutputPin,
    I: madoguchi_drivers::gpio::embedded_hal::digital::InputPin,
{
    fn apply(&mut self, output: Output, level: Level) {
        if let Err(e) = self.0.set(output, level) {
            log::error!("gpio {output:?}: {e:?}");
        }
    }
    fn level(&self, output: Output) -> Level {
        self.0.level(output)
    }
    fn refresh(&mut self, t: Duration) {
        if let Err(e) = self.0.refresh(t) {
            log::error!("gpio: {e:?}");
        }
    }
    fn input(&mut self, input: Input) -> Result<bool, String> {
        self.0.read(input).map_err(|e| e.to_string())
    }
}
