//! The cash unit worker: carries out the session's [`PaymentCommand`]s on a [`CashUnit`] and
//! reports what the resident does at the slot, polling the unit (cash units report by being
//! asked). A unit that answers slowly never holds up the kiosk loop.

use crate::devices::CashDriver;
use crate::workers::EventSink;
use madoguchi_drivers::payment::{CashError, CashEvent, CashUnit};
use madoguchi_session::{Event, PaymentCommand};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

/// How often the unit is asked what happened at the slot.
const POLL: Duration = Duration::from_millis(50);

/// The running cash worker. Dropping it stops the thread.
pub struct CashWorker {
    commands: Option<Sender<PaymentCommand>>,
    thread: Option<JoinHandle<()>>,
}

impl CashWorker {
    /// Starts the worker; it reports the unit's readiness at once.
    pub fn spawn(unit: Box<dyn CashUnit + Send>, events: EventSink) -> CashWorker {
        let (tx, rx) = channel();
        let thread = std::thread::Builder::new()
            .name("cash".into())
            .spawn(move || run(BoxedUnit(unit), rx, events))
            .expect("spawn cash thread");
        CashWorker { commands: Some(tx), thread: Some(thread) }
    }

    pub fn submit(&self, command: PaymentCommand) {
        if let Some(tx) = &self.commands {
            let _ = tx.send(command);
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

fn run(unit: BoxedUnit, commands: Receiver<PaymentCommand>, events: EventSink) {
    let mut driver = CashDriver::new(unit);
    let mut ready = None;
    loop {
        let r = driver.ready();
        if Some(&r) != ready.as_ref() {
            ready = Some(r.clone());
            if events.send(Event::Payment(r)).is_err() {
                return;
            }
        }
        match commands.recv_timeout(POLL) {
            Ok(cmd) => {
                for e in driver.command(cmd) {
                    if events.send(Event::Payment(e)).is_err() {
                        return;
                    }
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        for e in driver.poll() {
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
    fn counters(&mut self) -> Result<madoguchi_drivers::payment::CashCounters, CashError> {
        self.0.counters()
    }
}
