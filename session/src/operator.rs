//! Operator mode: the store operator's key and PIN, out-of-service reasons, and what an operator
//! may do. Sans-IO like the resident session: events in, effects out; the kiosk runs the effects
//! (screens, lamp, audit log, backend alert, sample print) at its edges.
//!
//! Rules this machine keeps:
//! - operator mode opens only between residents: a key turned during a visit waits for its end;
//! - the PIN is checked against a salted Argon2id hash (PHC string from `kiosk.toml`), in a
//!   zeroizing buffer, with a lockout after repeated failures;
//! - a door opened without the operator key puts the kiosk out of service at once, lights the
//!   lamp and alerts the backend; only an operator clears it;
//! - after a jam the kiosk stays out of service until an operator clears the printer, and that
//!   is refused until the printer really answers ready (PJL has no job cancel);
//! - every operator action, refused or not, is audited (never with the PIN).

use std::collections::BTreeSet;
use std::time::Duration;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use madoguchi_drivers::gpio::{Level, Output};
use zeroize::Zeroizing;

/// The screen of the operator menu.
pub const SCREEN_MENU: &str = "operator-menu";
/// The screen asking for the operator PIN.
pub const SCREEN_PIN: &str = "operator-pin";
/// The screen of a kiosk out of service.
pub const SCREEN_OUT_OF_SERVICE: &str = "out-of-service";
/// The resident's welcome screen.
pub const SCREEN_IDLE: &str = "idle";

/// Why the kiosk is out of service; several can hold at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OutOfService {
    /// An operator put it out of service.
    Operator,
    /// The door was opened without the operator key (tampering, skimmers).
    DoorOpenedWithoutKey,
    /// The printer jammed; cleared only by an operator once the printer answers ready.
    PrinterJam,
    /// The cash unit lost track of money (coins of unknown value went in, a payout was cut
    /// off): cleared by an operator after counting the cash box against the money journal.
    CashUnitFault,
}

impl OutOfService {
    pub const fn name(self) -> &'static str {
        match self {
            OutOfService::Operator => "operator",
            OutOfService::DoorOpenedWithoutKey => "door-opened-without-key",
            OutOfService::PrinterJam => "printer-jam",
            OutOfService::CashUnitFault => "cash-unit-fault",
        }
    }
}

/// An operator menu action (the UI's `operator:` action ids).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OperatorAction {
    TestPrint,
    OutOfService,
    InService,
    PrinterCleared,
    Totals,
    /// The operator counted this much taken out of the cash unit.
    CollectCash {
        counted_yen: u64,
    },
    /// The operator counted this much change put into the hopper.
    RefillChange {
        counted_yen: u64,
    },
    Exit,
}

impl OperatorAction {
    /// The UI action id.
    pub const fn action_id(&self) -> &'static str {
        match self {
            OperatorAction::TestPrint => "operator:test-print",
            OperatorAction::OutOfService => "operator:out-of-service",
            OperatorAction::InService => "operator:in-service",
            OperatorAction::PrinterCleared => "operator:printer-cleared",
            OperatorAction::Totals => "operator:totals",
            OperatorAction::CollectCash { .. } => "operator:collect-cash",
            OperatorAction::RefillChange { .. } => "operator:refill-change",
            OperatorAction::Exit => "operator:exit",
        }
    }
}

/// What happened at the edges.
pub enum OperatorEvent {
    /// The operator key switch turned on or off.
    Key { on: bool },
    /// The door switch: open means someone is inside the machine.
    Door { open: bool },
    /// A resident's visit started (card placed / first touch) or ended (back to idle).
    Visit { active: bool },
    /// The operator typed a PIN (zeroized when dropped).
    Pin(Zeroizing<String>),
    /// A menu action.
    Action(OperatorAction),
    /// The printer's latest status: whether it answers ready.
    PrinterReady(bool),
    /// The printer reported a jam.
    PrinterJammed,
    /// The cash unit reported money in doubt.
    CashUnitFault,
}

impl std::fmt::Debug for OperatorEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OperatorEvent::Key { on } => write!(f, "Key {{ on: {on} }}"),
            OperatorEvent::Door { open } => write!(f, "Door {{ open: {open} }}"),
            OperatorEvent::Visit { active } => write!(f, "Visit {{ active: {active} }}"),
            OperatorEvent::Pin(_) => f.write_str("Pin(<redacted>)"),
            OperatorEvent::Action(a) => write!(f, "Action({a:?})"),
            OperatorEvent::PrinterReady(r) => write!(f, "PrinterReady({r})"),
            OperatorEvent::PrinterJammed => f.write_str("PrinterJammed"),
            OperatorEvent::CashUnitFault => f.write_str("CashUnitFault"),
        }
    }
}

/// Why an action was refused (shown to the operator, audited).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Operator mode is not open (no key, or no PIN yet).
    NotOpen,
    /// Too many wrong PINs: wait until the lockout ends.
    LockedOut,
    WrongPin,
    /// The printer does not answer ready yet.
    PrinterNotReady,
    /// The printer jam must be cleared first.
    JamNotCleared,
    /// `kiosk.toml` has no `[operator]` PIN hash: no PIN opens operator mode.
    NotConfigured,
}

/// What the kiosk must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OperatorEffect {
    /// Show this screen.
    Show(&'static str),
    /// Append to the chained audit log (never contains the PIN).
    Audit { action: &'static str, detail: String },
    /// Drive an output.
    Lamp(Output, Level),
    /// Tell the backend (the door alert).
    AlertBackend(OutOfService),
    /// Print the 見本 sample page.
    PrintSample,
    /// Fetch `/v1/settlement` and the kiosk's money journal and show the totals.
    ShowTotals,
    /// Read the cash unit's counters and record the operator's count against them.
    ReconcileCash { collected: bool, counted_yen: u64 },
    /// The kiosk is (or is no longer) out of service for these reasons.
    OutOfService(Vec<OutOfService>),
    /// An action was refused.
    Refused(Refusal),
}

/// How the PIN is checked.
#[derive(Clone, PartialEq, Eq)]
pub struct OperatorConfig {
    /// The PIN's Argon2 hash as a PHC string (`$argon2id$v=19$...`).
    pub pin_hash: String,
    /// Wrong PINs in a row before a lockout.
    pub max_failures: u32,
    /// How long a lockout lasts.
    pub lockout: Duration,
}

impl std::fmt::Debug for OperatorConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OperatorConfig")
            .field("pin_hash", &"<hash>")
            .field("max_failures", &self.max_failures)
            .field("lockout", &self.lockout)
            .finish()
    }
}

/// The PIN hash in `kiosk.toml` is not a valid Argon2 PHC string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinHashError(String);

impl std::fmt::Display for PinHashError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "operator PIN hash: {}", self.0)
    }
}

impl std::error::Error for PinHashError {}

impl OperatorConfig {
    /// Checks the hash parses, so a bad `kiosk.toml` is refused at start, not at the first PIN.
    pub fn validate(&self) -> Result<(), PinHashError> {
        let parsed = PasswordHash::new(&self.pin_hash).map_err(|e| PinHashError(e.to_string()))?;
        // A PHC string cut short (no salt or no hash output) parses, but no PIN would ever match.
        if parsed.salt.is_none() || parsed.hash.is_none() {
            return Err(PinHashError(
                "the hash has no salt or no output: make it again with `madoguchi operator-pin-hash`".into(),
            ));
        }
        if self.max_failures == 0 {
            return Err(PinHashError("max_failures must be at least 1".into()));
        }
        Ok(())
    }
}

/// Makes the PHC string for `kiosk.toml` from a PIN and 16 random salt bytes.
pub fn hash_pin(pin: &Zeroizing<String>, salt: &[u8; 16]) -> Result<String, PinHashError> {
    if pin.len() < 4 || !pin.bytes().all(|b| b.is_ascii_digit()) {
        return Err(PinHashError("the operator PIN is 4 or more digits".into()));
    }
    let salt = SaltString::encode_b64(salt).map_err(|e| PinHashError(e.to_string()))?;
    Argon2::default()
        .hash_password(pin.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PinHashError(e.to_string()))
}

fn pin_matches(hash: &str, pin: &Zeroizing<String>) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default().verify_password(pin.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Closed,
    /// Key on, waiting for the PIN.
    AskingPin,
    Open,
}

/// The operator state machine.
#[derive(Debug)]
pub struct Operator {
    config: OperatorConfig,
    mode: Mode,
    key_on: bool,
    visit_active: bool,
    printer_ready: bool,
    failures: u32,
    locked_until: Option<Duration>,
    reasons: BTreeSet<OutOfService>,
}

impl Operator {
    pub fn new(config: OperatorConfig) -> Self {
        Operator {
            config,
            mode: Mode::Closed,
            key_on: false,
            visit_active: false,
            printer_ready: true,
            failures: 0,
            locked_until: None,
            reasons: BTreeSet::new(),
        }
    }

    /// Whether the operator menu is open.
    pub fn is_open(&self) -> bool {
        self.mode == Mode::Open
    }

    /// Whether operator mode keeps residents out: its screens are up or a reason holds.
    pub fn holds(&self) -> bool {
        self.mode != Mode::Closed || !self.reasons.is_empty()
    }

    /// Whether the printer last answered ready (the menu's status line).
    pub fn printer_ready(&self) -> bool {
        self.printer_ready
    }

    /// Why the kiosk is out of service (empty: in service as far as the operator goes).
    pub fn out_of_service(&self) -> Vec<OutOfService> {
        self.reasons.iter().copied().collect()
    }

    /// Handles one event at monotonic time `now`.
    pub fn handle(&mut self, event: OperatorEvent, now: Duration) -> Vec<OperatorEffect> {
        let mut fx = Vec::new();
        match event {
            OperatorEvent::Key { on } => {
                self.key_on = on;
                audit(&mut fx, "operator-key", if on { "on" } else { "off" });
                if on {
                    if self.visit_active {
                        audit(&mut fx, "operator-key", "waiting for the resident's visit to end");
                    } else {
                        self.ask_pin(&mut fx);
                    }
                } else if self.mode != Mode::Closed {
                    self.close(&mut fx, "key turned off");
                }
            }
            OperatorEvent::Visit { active } => {
                self.visit_active = active;
                if !active && self.key_on && self.mode == Mode::Closed {
                    self.ask_pin(&mut fx);
                }
            }
            OperatorEvent::Door { open } => {
                audit(&mut fx, "door", if open { "open" } else { "closed" });
                if open && !self.key_on {
                    self.enter(&mut fx, OutOfService::DoorOpenedWithoutKey);
                    fx.push(OperatorEffect::AlertBackend(OutOfService::DoorOpenedWithoutKey));
                }
            }
            OperatorEvent::PrinterReady(ready) => self.printer_ready = ready,
            OperatorEvent::PrinterJammed => {
                self.printer_ready = false;
                self.enter(&mut fx, OutOfService::PrinterJam);
            }
            OperatorEvent::CashUnitFault => self.enter(&mut fx, OutOfService::CashUnitFault),
            OperatorEvent::Pin(pin) => self.pin(&mut fx, pin, now),
            OperatorEvent::Action(action) => self.action(&mut fx, action),
        }
        fx
    }

    fn ask_pin(&mut self, fx: &mut Vec<OperatorEffect>) {
        self.mode = Mode::AskingPin;
        fx.push(OperatorEffect::Show(SCREEN_PIN));
    }

    fn pin(&mut self, fx: &mut Vec<OperatorEffect>, pin: Zeroizing<String>, now: Duration) {
        if self.mode != Mode::AskingPin {
            refuse(fx, "operator-pin", Refusal::NotOpen);
            return;
        }
        if self.config.pin_hash.is_empty() {
            refuse(fx, "operator-pin", Refusal::NotConfigured);
            return;
        }
        if let Some(until) = self.locked_until {
            if now < until {
                refuse(fx, "operator-pin", Refusal::LockedOut);
                return;
            }
            self.locked_until = None;
            self.failures = 0;
        }
        if pin_matches(&self.config.pin_hash, &pin) {
            self.failures = 0;
            self.mode = Mode::Open;
            audit(fx, "operator-login", "PIN accepted");
            fx.push(OperatorEffect::Show(SCREEN_MENU));
            return;
        }
        self.failures += 1;
        refuse(fx, "operator-pin", Refusal::WrongPin);
        if self.failures >= self.config.max_failures {
            self.locked_until = Some(now + self.config.lockout);
            audit(
                fx,
                "operator-lockout",
                &format!("{} wrong PINs: locked for {} s", self.failures, self.config.lockout.as_secs()),
            );
        }
    }

    fn action(&mut self, fx: &mut Vec<OperatorEffect>, action: OperatorAction) {
        let id = action.action_id();
        if self.mode != Mode::Open {
            refuse(fx, id, Refusal::NotOpen);
            return;
        }
        match action {
            OperatorAction::TestPrint => {
                audit(fx, id, "sample page");
                fx.push(OperatorEffect::PrintSample);
            }
            OperatorAction::OutOfService => {
                audit(fx, id, "");
                self.reasons.insert(OutOfService::Operator);
                fx.push(OperatorEffect::OutOfService(self.out_of_service()));
            }
            OperatorAction::InService => {
                if self.reasons.contains(&OutOfService::PrinterJam) {
                    refuse(fx, id, Refusal::JamNotCleared);
                    return;
                }
                let cleared: Vec<&str> = self.reasons.iter().map(|r| r.name()).collect();
                audit(fx, id, &format!("cleared: {}", cleared.join(",")));
                self.reasons.clear();
                fx.push(OperatorEffect::Lamp(Output::StatusLamp, Level::Off));
                fx.push(OperatorEffect::OutOfService(Vec::new()));
            }
            OperatorAction::PrinterCleared => {
                if !self.printer_ready {
                    refuse(fx, id, Refusal::PrinterNotReady);
                    return;
                }
                audit(fx, id, "printer answers ready");
                self.reasons.remove(&OutOfService::PrinterJam);
                fx.push(OperatorEffect::OutOfService(self.out_of_service()));
            }
            OperatorAction::Totals => {
                audit(fx, id, "");
                fx.push(OperatorEffect::ShowTotals);
            }
            OperatorAction::CollectCash { counted_yen } => {
                audit(fx, id, &format!("counted {} yen", yen(counted_yen)));
                fx.push(OperatorEffect::ReconcileCash { collected: true, counted_yen });
            }
            OperatorAction::RefillChange { counted_yen } => {
                audit(fx, id, &format!("counted {} yen", yen(counted_yen)));
                fx.push(OperatorEffect::ReconcileCash { collected: false, counted_yen });
            }
            OperatorAction::Exit => self.close(fx, "exit"),
        }
    }

    fn enter(&mut self, fx: &mut Vec<OperatorEffect>, reason: OutOfService) {
        self.reasons.insert(reason);
        audit(fx, "out-of-service", reason.name());
        fx.push(OperatorEffect::Lamp(Output::StatusLamp, Level::On));
        fx.push(OperatorEffect::OutOfService(self.out_of_service()));
        if self.mode != Mode::Open {
            fx.push(OperatorEffect::Show(SCREEN_OUT_OF_SERVICE));
        }
    }

    fn close(&mut self, fx: &mut Vec<OperatorEffect>, why: &str) {
        self.mode = Mode::Closed;
        audit(fx, "operator:exit", why);
        fx.push(OperatorEffect::Show(if self.reasons.is_empty() { SCREEN_IDLE } else { SCREEN_OUT_OF_SERVICE }));
    }
}

/// Yen with thousands separators (`12,340`), as the operator reads an amount.
pub fn yen(amount: u64) -> String {
    let digits = amount.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn audit(fx: &mut Vec<OperatorEffect>, action: &'static str, detail: &str) {
    fx.push(OperatorEffect::Audit { action, detail: detail.to_string() });
}

fn refuse(fx: &mut Vec<OperatorEffect>, action: &'static str, why: Refusal) {
    audit(fx, action, &format!("refused: {why:?}"));
    fx.push(OperatorEffect::Refused(why));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cheap Argon2id hash of `pin` (verification reads the parameters from the hash).
    fn cheap_hash(pin: &str) -> String {
        let params = argon2::Params::new(64, 1, 1, None).unwrap();
        let a = Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let salt = SaltString::encode_b64(&[7; 16]).unwrap();
        a.hash_password(pin.as_bytes(), &salt).unwrap().to_string()
    }

    fn operator() -> Operator {
        Operator::new(OperatorConfig {
            pin_hash: cheap_hash("2468"),
            max_failures: 3,
            lockout: Duration::from_secs(300),
        })
    }

    fn pin(p: &str) -> OperatorEvent {
        OperatorEvent::Pin(Zeroizing::new(p.to_string()))
    }

    const T0: Duration = Duration::ZERO;

    fn open(op: &mut Operator) {
        op.handle(OperatorEvent::Key { on: true }, T0);
        let fx = op.handle(pin("2468"), T0);
        assert!(fx.contains(&OperatorEffect::Show(SCREEN_MENU)), "{fx:?}");
    }

    #[test]
    fn key_and_pin_open_the_menu_and_it_is_audited() {
        let mut op = operator();
        let fx = op.handle(OperatorEvent::Key { on: true }, T0);
        assert!(fx.contains(&OperatorEffect::Show(SCREEN_PIN)));
        let fx = op.handle(pin("2468"), T0);
        assert!(op.is_open());
        assert!(fx.iter().any(|e| matches!(e, OperatorEffect::Audit { action: "operator-login", .. })));
    }

    #[test]
    fn the_key_during_a_visit_waits_for_its_end() {
        let mut op = operator();
        op.handle(OperatorEvent::Visit { active: true }, T0);
        let fx = op.handle(OperatorEvent::Key { on: true }, T0);
        assert!(!fx.iter().any(|e| matches!(e, OperatorEffect::Show(_))), "{fx:?}");
        // a PIN typed now is not an operator PIN
        let fx = op.handle(pin("2468"), T0);
        assert!(fx.contains(&OperatorEffect::Refused(Refusal::NotOpen)));
        assert!(!op.is_open());
        let fx = op.handle(OperatorEvent::Visit { active: false }, T0);
        assert!(fx.contains(&OperatorEffect::Show(SCREEN_PIN)));
    }

    #[test]
    fn repeated_wrong_pins_lock_out_even_the_right_one_until_the_lockout_ends() {
        let mut op = operator();
        op.handle(OperatorEvent::Key { on: true }, T0);
        for _ in 0..3 {
            let fx = op.handle(pin("1111"), T0);
            assert!(fx.contains(&OperatorEffect::Refused(Refusal::WrongPin)));
        }
        let fx = op.handle(pin("2468"), Duration::from_secs(299));
        assert!(fx.contains(&OperatorEffect::Refused(Refusal::LockedOut)));
        assert!(!op.is_open());
        op.handle(pin("2468"), Duration::from_secs(300));
        assert!(op.is_open());
    }

    #[test]
    fn actions_without_operator_mode_are_refused_and_audited() {
        let mut op = operator();
        let fx = op.handle(OperatorEvent::Action(OperatorAction::InService), T0);
        assert!(fx.contains(&OperatorEffect::Refused(Refusal::NotOpen)));
        assert!(fx.iter().any(|e| matches!(e, OperatorEffect::Audit { action: "operator:in-service", .. })));
    }

    #[test]
    fn a_door_opened_without_the_key_is_out_of_service_with_lamp_and_alert_until_an_operator_clears_it() {
        let mut op = operator();
        let fx = op.handle(OperatorEvent::Door { open: true }, T0);
        assert!(fx.contains(&OperatorEffect::Lamp(Output::StatusLamp, Level::On)));
        assert!(fx.contains(&OperatorEffect::AlertBackend(OutOfService::DoorOpenedWithoutKey)));
        assert!(fx.contains(&OperatorEffect::Show(SCREEN_OUT_OF_SERVICE)));
        // closing the door does not clear it
        op.handle(OperatorEvent::Door { open: false }, T0);
        assert_eq!(op.out_of_service(), vec![OutOfService::DoorOpenedWithoutKey]);
        open(&mut op);
        let fx = op.handle(OperatorEvent::Action(OperatorAction::InService), T0);
        assert!(fx.contains(&OperatorEffect::OutOfService(Vec::new())));
        assert!(op.out_of_service().is_empty());
    }

    #[test]
    fn a_door_opened_with_the_key_is_no_alert() {
        let mut op = operator();
        op.handle(OperatorEvent::Key { on: true }, T0);
        let fx = op.handle(OperatorEvent::Door { open: true }, T0);
        assert!(!fx.iter().any(|e| matches!(e, OperatorEffect::AlertBackend(_))));
        assert!(op.out_of_service().is_empty());
    }

    #[test]
    fn after_a_jam_printer_cleared_is_refused_until_the_printer_answers_ready() {
        let mut op = operator();
        op.handle(OperatorEvent::PrinterJammed, T0);
        open(&mut op);
        let fx = op.handle(OperatorEvent::Action(OperatorAction::InService), T0);
        assert!(fx.contains(&OperatorEffect::Refused(Refusal::JamNotCleared)));
        let fx = op.handle(OperatorEvent::Action(OperatorAction::PrinterCleared), T0);
        assert!(fx.contains(&OperatorEffect::Refused(Refusal::PrinterNotReady)));
        assert_eq!(op.out_of_service(), vec![OutOfService::PrinterJam]);
        op.handle(OperatorEvent::PrinterReady(true), T0);
        op.handle(OperatorEvent::Action(OperatorAction::PrinterCleared), T0);
        assert!(op.out_of_service().is_empty());
        // exit shows the resident screen again
        let fx = op.handle(OperatorEvent::Action(OperatorAction::Exit), T0);
        assert!(fx.contains(&OperatorEffect::Show(SCREEN_IDLE)));
    }

    #[test]
    fn out_of_service_by_the_operator_stays_after_exit() {
        let mut op = operator();
        open(&mut op);
        op.handle(OperatorEvent::Action(OperatorAction::OutOfService), T0);
        let fx = op.handle(OperatorEvent::Key { on: false }, T0);
        assert!(fx.contains(&OperatorEffect::Show(SCREEN_OUT_OF_SERVICE)));
        assert_eq!(op.out_of_service(), vec![OutOfService::Operator]);
    }

    #[test]
    fn hash_pin_makes_a_salted_argon2id_hash_the_machine_accepts() {
        let a = hash_pin(&Zeroizing::new("2468".into()), &[1; 16]).unwrap();
        let b = hash_pin(&Zeroizing::new("2468".into()), &[2; 16]).unwrap();
        assert!(a.starts_with("$argon2id$"), "{a}");
        assert_ne!(a, b, "the salt changes the hash");
        assert!(!a.contains("2468"));
        assert!(pin_matches(&a, &Zeroizing::new("2468".into())));
        assert!(!pin_matches(&a, &Zeroizing::new("2469".into())));
        assert!(hash_pin(&Zeroizing::new("12a4".into()), &[1; 16]).is_err());
        let config = OperatorConfig { pin_hash: "plain".into(), max_failures: 3, lockout: Duration::ZERO };
        assert!(config.validate().is_err());
    }

    #[test]
    fn without_a_pin_hash_no_pin_opens_but_the_door_alarm_still_holds() {
        let mut op =
            Operator::new(OperatorConfig { pin_hash: String::new(), max_failures: 3, lockout: Duration::ZERO });
        op.handle(OperatorEvent::Key { on: true }, T0);
        assert!(op.holds(), "the PIN screen keeps residents out");
        let fx = op.handle(pin("2468"), T0);
        assert!(fx.contains(&OperatorEffect::Refused(Refusal::NotConfigured)));
        op.handle(OperatorEvent::Key { on: false }, T0);
        assert!(!op.holds());
        op.handle(OperatorEvent::Door { open: true }, T0);
        assert!(op.holds());
    }

    #[test]
    fn amounts_are_written_with_separators() {
        assert_eq!(yen(0), "0");
        assert_eq!(yen(950), "950");
        assert_eq!(yen(1000), "1,000");
        assert_eq!(yen(1234567), "1,234,567");
    }

    #[test]
    fn debug_output_never_shows_the_pin() {
        let e = pin("97531");
        assert!(!format!("{e:?}").contains("97531"));
    }
}
