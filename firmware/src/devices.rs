//! The devices around the session: the session's [`Signal`] and [`PaymentCommand`] effects
//! applied to the GPIO pins and the cash unit, and the unit's reports turned into
//! [`PaymentEvent`]s. Workers (threads owning the device) call these; the translation itself is
//! plain code, tested here with mock pins and a scripted unit.

use madoguchi_drivers::gpio::embedded_hal::digital::{InputPin, OutputPin};
use madoguchi_drivers::gpio::{GpioError, KioskPins, Level, Output};
use madoguchi_drivers::payment::{CashError, CashErrorKind, CashEvent, CashUnit};
use madoguchi_session::{CashFaultKind, PaymentCommand, PaymentEvent, Signal};

/// Sets a pin as the session asks.
pub fn apply_signal<O: OutputPin, I: InputPin>(pins: &mut KioskPins<O, I>, signal: Signal) -> Result<(), GpioError> {
    pins.set(signal.output, signal.level)
}

/// Outputs of a kiosk without pins (`gpio.chip = "simulated"`): the demo shows them and the
/// scenario runner checks `expect_lamp` / `expect_chime` against them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SimulatedOutputs {
    levels: [Level; 3],
}

impl SimulatedOutputs {
    pub fn apply(&mut self, signal: Signal) {
        let i = Output::ALL.iter().position(|o| *o == signal.output).unwrap_or(0);
        self.levels[i] = signal.level;
    }

    pub fn level(&self, output: Output) -> Level {
        let i = Output::ALL.iter().position(|o| *o == output).unwrap_or(0);
        self.levels[i]
    }

    /// Lit or sounding (blinking counts).
    pub fn is_on(&self, output: Output) -> bool {
        self.level(output) != Level::Off
    }
}

/// Drives a cash unit from the session's commands.
pub struct CashDriver<U: CashUnit> {
    unit: U,
}

fn fault(e: &CashError) -> PaymentEvent {
    let kind = match e.kind {
        CashErrorKind::Jam => CashFaultKind::Jam,
        CashErrorKind::CannotDispense => CashFaultKind::CannotDispense,
        CashErrorKind::Offline | CashErrorKind::State => CashFaultKind::Offline,
        CashErrorKind::CoinsLost => CashFaultKind::CoinsLost,
    };
    log::error!("{e}");
    PaymentEvent::Fault { kind, yen_not_returned: e.yen_not_returned }
}

impl<U: CashUnit> CashDriver<U> {
    pub fn new(unit: U) -> CashDriver<U> {
        CashDriver { unit }
    }

    pub fn unit(&mut self) -> &mut U {
        &mut self.unit
    }

    /// Whether the unit can serve (reported at start and after faults).
    pub fn ready(&mut self) -> PaymentEvent {
        PaymentEvent::Ready(self.unit.ready().is_ok())
    }

    /// Carries out one command; what it caused, for the session.
    pub fn command(&mut self, command: PaymentCommand) -> Vec<PaymentEvent> {
        let r = match command {
            PaymentCommand::Collect { due_yen, .. } => self.unit.begin(due_yen).map(|()| Vec::new()),
            PaymentCommand::StopAccepting => self.unit.stop().map(|_| Vec::new()),
            PaymentCommand::Keep { yen } => self.unit.stop().and_then(|_| self.unit.keep(yen)).map(|()| Vec::new()),
            PaymentCommand::GiveChange { yen } | PaymentCommand::Refund { yen } => {
                let _ = self.unit.stop();
                self.unit.pay_out(yen).map(|()| vec![PaymentEvent::PaidOut { yen }])
            }
        };
        r.unwrap_or_else(|e| vec![fault(&e)])
    }

    /// What the resident did at the slot since the last poll.
    pub fn poll(&mut self) -> Vec<PaymentEvent> {
        match self.unit.poll() {
            Ok(events) => events
                .into_iter()
                .filter_map(|e| match e {
                    CashEvent::Accepted { total_yen, .. } => Some(PaymentEvent::Inserted { total_yen }),
                    CashEvent::Rejected { .. } => None,
                })
                .collect(),
            Err(e) => vec![fault(&e)],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedded_hal_mock::eh1::digital::{Mock, State, Transaction as T};
    use madoguchi_drivers::gpio::Polarity;

    #[test]
    fn signals_drive_the_pins() {
        let out = |t: &[T]| (Mock::new(t), Polarity::ActiveHigh);
        let mut pins = KioskPins::new(
            out(&[T::set(State::Low), T::set(State::High)]),
            out(&[T::set(State::Low)]),
            out(&[T::set(State::Low)]),
            out(&[]),
            out(&[]),
        )
        .unwrap();
        apply_signal(&mut pins, Signal { output: Output::CardSlotLamp, level: Level::On }).unwrap();
        apply_signal(&mut pins, Signal { output: Output::Chime, level: Level::Blink }).unwrap();
        assert_eq!(pins.level(Output::Chime), Level::Blink);
        let (outs, (mut a, _), (mut b, _)) = pins.release();
        for (mut o, _) in outs {
            o.done();
        }
        a.done();
        b.done();

        let mut sim = SimulatedOutputs::default();
        sim.apply(Signal { output: Output::Chime, level: Level::Blink });
        assert!(sim.is_on(Output::Chime) && !sim.is_on(Output::StatusLamp));
    }

    /// A unit that follows a script.
    #[derive(Default)]
    struct Scripted {
        events: Vec<CashEvent>,
        fail_pay_out: Option<CashErrorKind>,
        calls: Vec<String>,
    }

    impl CashUnit for Scripted {
        fn ready(&mut self) -> Result<(), CashError> {
            Ok(())
        }
        fn begin(&mut self, due: u32) -> Result<(), CashError> {
            self.calls.push(format!("begin {due}"));
            Ok(())
        }
        fn poll(&mut self) -> Result<Vec<CashEvent>, CashError> {
            Ok(std::mem::take(&mut self.events))
        }
        fn stop(&mut self) -> Result<u32, CashError> {
            self.calls.push("stop".into());
            Ok(0)
        }
        fn keep(&mut self, yen: u32) -> Result<(), CashError> {
            self.calls.push(format!("keep {yen}"));
            Ok(())
        }
        fn pay_out(&mut self, yen: u32) -> Result<(), CashError> {
            self.calls.push(format!("pay {yen}"));
            match self.fail_pay_out {
                Some(kind) => Err(CashError::new(kind, yen, "scripted")),
                None => Ok(()),
            }
        }
        fn counters(&mut self) -> Result<madoguchi_drivers::payment::CashCounters, CashError> {
            Ok(Default::default())
        }
    }

    #[test]
    fn commands_and_reports_translate() {
        let mut d = CashDriver::new(Scripted::default());
        assert!(d.command(PaymentCommand::Collect { reference: "T-1".into(), due_yen: 300 }).is_empty());
        d.unit().events = vec![
            CashEvent::Accepted { yen: 100, total_yen: 100 },
            CashEvent::Rejected { yen: Some(1) },
            CashEvent::Accepted { yen: 500, total_yen: 600 },
        ];
        assert_eq!(
            d.poll(),
            vec![PaymentEvent::Inserted { total_yen: 100 }, PaymentEvent::Inserted { total_yen: 600 }]
        );
        d.command(PaymentCommand::StopAccepting);
        assert!(d.command(PaymentCommand::Keep { yen: 300 }).is_empty());
        assert_eq!(d.command(PaymentCommand::GiveChange { yen: 300 }), vec![PaymentEvent::PaidOut { yen: 300 }]);
        assert!(d.unit().calls.contains(&"keep 300".to_string()));

        d.unit().fail_pay_out = Some(CashErrorKind::Jam);
        assert_eq!(
            d.command(PaymentCommand::Refund { yen: 200 }),
            vec![PaymentEvent::Fault { kind: CashFaultKind::Jam, yen_not_returned: 200 }]
        );
        assert_eq!(d.ready(), PaymentEvent::Ready(true));
    }
}
