//! The cash unit worker: carries out the session's [`PaymentCommand`]s on a [`CashUnit`] and
//! reports what the resident does at the slot, polling the unit (cash units report by being
//! asked). A unit that answers slowly never holds up the kiosk loop.

use crate::devices::CashDriver;
use crate::workers::EventSink;
use madoguchi_drivers::payment::{CashCounters, CashError, CashEvent, CashUnit};
use madoguchi_session::{CashFaultKind, Event, PaymentCommand, PaymentEvent};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

/// How often the unit is asked what happened at the slot.
const POLL: Duration = Duration::from_millis(50);

/// What the kiosk asks of the worker.
enum Order {
    Pay(PaymentCommand),
    /// Staff counted the money in doubt: let the unit serve again.
    ClearFault,
}

/// The running cash worker. Dropping it stops the thread.
pub struct CashWorker {
    commands: Option<Sender<Order>>,
    thread: Option<JoinHandle<()>>,
}

impl CashWorker {
    /// Starts the worker; it reports the unit's readiness at once. `faulted`: the money journal
    /// holds a cash-unit fault staff have not cleared, so the unit stays out of service even
    /// though it answers (after a restart).
    pub fn spawn(unit: Box<dyn CashUnit + Send>, events: EventSink, faulted: bool) -> CashWorker {
        let (tx, rx) = channel();
        let thread = std::thread::Builder::new()
            .name("cash".into())
            .spawn(move || run(BoxedUnit(unit), rx, events, faulted))
            .expect("spawn cash thread");
        CashWorker { commands: Some(tx), thread: Some(thread) }
    }

    pub fn submit(&self, command: PaymentCommand) {
        self.send(Order::Pay(command));
    }

    /// After staff counted the cash box: the unit serves again if it answers (reported as
    /// `Ready(true)`), else it stays out of service and the reason is logged.
    pub fn clear_fault(&self) {
        self.send(Order::ClearFault);
    }

    fn send(&self, order: Order) {
        if let Some(tx) = &self.commands {
            let _ = tx.send(order);
        }
    }
}

impl Drop for CashWorker {
    fn drop(&mut self) {
        self.commands = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Money in doubt: only staff clear it.
fn money_in_doubt(e: &PaymentEvent) -> bool {
    matches!(e, PaymentEvent::Fault { kind: CashFaultKind::CoinsLost, .. })
}

fn run<U: CashUnit>(unit: U, commands: Receiver<Order>, events: EventSink, mut faulted: bool) {
    let mut driver = CashDriver::new(unit);
    let mut ready = None;
    // A latched unit answers every poll with the fault it latched: it is reported once (the
    // kiosk journals its money as owed once), again only after a poll that went well.
    let mut last_fault = None;
    loop {
        let r = if faulted { PaymentEvent::Ready(false) } else { driver.ready() };
        if Some(&r) != ready.as_ref() {
            ready = Some(r.clone());
            if events.send(Event::Payment(r)).is_err() {
                return;
            }
        }
        let mut out = match commands.recv_timeout(POLL) {
            Ok(Order::Pay(cmd)) => driver.command(cmd),
            Ok(Order::ClearFault) => {
                match driver.unit().clear_fault() {
                    Ok(()) => {
                        faulted = false;
                        last_fault = None;
                    }
                    Err(e) => log::error!("cash unit: the fault cannot be cleared yet: {e}"),
                }
                Vec::new()
            }
            Err(RecvTimeoutError::Timeout) => Vec::new(),
            Err(RecvTimeoutError::Disconnected) => return,
        };
        if let Some(f) = out.iter().find(|e| matches!(e, PaymentEvent::Fault { .. })) {
            last_fault = Some(f.clone());
        }
        // Polled even when not ready: a unit that fails says so with the money it holds.
        if !faulted {
            let polled = driver.poll();
            match polled.iter().find(|e| matches!(e, PaymentEvent::Fault { .. })) {
                Some(f) if last_fault.as_ref() == Some(f) => {}
                Some(f) => {
                    last_fault = Some(f.clone());
                    out.extend(polled);
                }
                None => {
                    last_fault = None;
                    out.extend(polled);
                }
            }
        }
        for e in out {
            faulted |= money_in_doubt(&e);
            if events.send(Event::Payment(e)).is_err() {
                return;
            }
        }
    }
}

struct BoxedUnit(Box<dyn CashUnit + Send>);

impl CashUnit for BoxedUnit {
    fn ready(&mut self) -> Result<(), CashError> {
        self.0.ready()
    }
    fn begin(&mut self, due_yen: u32) -> Result<(), CashError> {
        self.0.begin(due_yen)
    }
    fn poll(&mut self) -> Result<Vec<CashEvent>, CashError> {
        self.0.poll()
    }
    fn stop(&mut self) -> Result<u32, CashError> {
        self.0.stop()
    }
    fn keep(&mut self, yen: u32) -> Result<(), CashError> {
        self.0.keep(yen)
    }
    fn pay_out(&mut self, yen: u32) -> Result<(), CashError> {
        self.0.pay_out(yen)
    }
    fn counters(&mut self) -> Result<CashCounters, CashError> {
        self.0.counters()
    }
    fn clear_fault(&mut self) -> Result<(), CashError> {
        self.0.clear_fault()
    }
}
