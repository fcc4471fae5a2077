//! Liveness for systemd's watchdog: the kiosk loop feeds `WATCHDOG=1` only while the session,
//! the UI and every device worker make progress, so a kiosk stuck in a device call is
//! restarted by systemd instead of showing a frozen screen to a resident.
//!
//! Workers are watched through their devices: [`Watched`] wraps a cash unit or the card
//! readers and marks a [`Heartbeat`] busy for the length of each device call. A worker that
//! waits for work is idle, not stuck; one that has been inside a single device call for longer
//! than [`STUCK_AFTER`] is stuck. [`Watchdog`] is the sans-IO decision: given the time and the
//! stuck worker (if any), it says when to ping and what to tell `systemctl status`.

use madoguchi_drivers::card::{
    Canceller, CardConnection, CardTransport, Connector, ReaderEvent, ReaderInterface, Readers, TransportError,
};
use madoguchi_drivers::iso7816::{CommandApdu, ResponseApdu};
use madoguchi_drivers::payment::{CashError, CashEvent, CashUnit};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One device call longer than this is a hung worker. Generous beside the slowest real call
/// (a coin payout, a card signature: seconds) and well inside the unit's `WatchdogSec=30s`
/// together with the ping period, so systemd restarts a hung kiosk within a minute.
pub const STUCK_AFTER: Duration = Duration::from_secs(20);

/// A worker's device calls in flight, shared between the worker's threads and the kiosk loop.
#[derive(Clone, Debug)]
pub struct Heartbeat {
    name: Arc<str>,
    calls: Arc<Mutex<Calls>>,
}

#[derive(Debug, Default)]
struct Calls {
    next: u64,
    /// Each call: when it started, and how long it may take by design before the limit.
    started: BTreeMap<u64, (Instant, Duration)>,
}

/// Marks one device call; the call ends when this drops.
pub struct Busy {
    heartbeat: Heartbeat,
    id: u64,
}

impl Drop for Busy {
    fn drop(&mut self) {
        if let Ok(mut c) = self.heartbeat.calls.lock() {
            c.started.remove(&self.id);
        }
    }
}

impl Heartbeat {
    fn new(name: &str) -> Heartbeat {
        Heartbeat { name: name.into(), calls: Arc::default() }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// A device call starts now.
    pub fn busy(&self) -> Busy {
        self.busy_waiting(Duration::ZERO)
    }

    /// A device call that may block for `bound` by design (a wait for a card with a timeout)
    /// starts now; only beyond its bound does the stuck limit begin to count.
    pub fn busy_waiting(&self, bound: Duration) -> Busy {
        let id = match self.calls.lock() {
            Ok(mut c) => {
                c.next += 1;
                let id = c.next;
                c.started.insert(id, (Instant::now(), bound));
                id
            }
            Err(_) => 0,
        };
        Busy { heartbeat: self.clone(), id }
    }

    /// How long the longest-overrunning call in flight has lasted beyond its bound at `now`
    /// (none: the worker is idle).
    pub fn busy_for(&self, now: Instant) -> Option<Duration> {
        let c = self.calls.lock().ok()?;
        c.started.values().map(|(t, bound)| now.saturating_duration_since(*t).saturating_sub(*bound)).max()
    }
}

/// Every watched worker.
#[derive(Clone, Debug, Default)]
pub struct Liveness {
    beats: Arc<Mutex<Vec<Heartbeat>>>,
}

impl Liveness {
    /// A heartbeat for the worker `name` (the name shows in `systemctl status`).
    pub fn heartbeat(&self, name: &str) -> Heartbeat {
        let h = Heartbeat::new(name);
        if let Ok(mut b) = self.beats.lock() {
            b.push(h.clone());
        }
        h
    }

    /// The worker stuck longest in one call beyond `limit`, with how long.
    pub fn stuck(&self, now: Instant, limit: Duration) -> Option<(String, Duration)> {
        let beats = self.beats.lock().ok()?;
        beats
            .iter()
            .filter_map(|h| h.busy_for(now).filter(|d| *d > limit).map(|d| (h.name().to_string(), d)))
            .max_by_key(|(_, d)| *d)
    }
}

/// What the kiosk loop tells the service manager after a round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    Ping,
    Status(String),
}

/// When to ping: every half `WatchdogSec` (systemd's advice), never while a worker is stuck.
#[derive(Debug)]
pub struct Watchdog {
    period: Duration,
    last_ping: Option<Instant>,
    withheld: bool,
}

impl Watchdog {
    /// For a service whose `WatchdogSec` is `interval`.
    pub fn new(interval: Duration) -> Watchdog {
        Watchdog { period: interval / 2, last_ping: None, withheld: false }
    }

    /// The notices due at `now`, after a round of the kiosk loop in which the session and UI
    /// ran (this is called from that round) and `stuck` is the worker that did not.
    pub fn round(&mut self, now: Instant, stuck: Option<(&str, Duration)>) -> Vec<Notice> {
        let mut out = Vec::new();
        match stuck {
            Some((worker, for_)) => {
                if !self.withheld {
                    self.withheld = true;
                    out.push(Notice::Status(format!(
                        "worker {worker} stuck in a device call for {} s: watchdog no longer fed",
                        for_.as_secs()
                    )));
                }
            }
            None => {
                if self.withheld {
                    self.withheld = false;
                    out.push(Notice::Status("open: every worker answers again".into()));
                    self.last_ping = None;
                }
                if self.last_ping.is_none_or(|t| now.saturating_duration_since(t) >= self.period) {
                    self.last_ping = Some(now);
                    out.push(Notice::Ping);
                }
            }
        }
        out
    }
}

/// A device whose calls beat a [`Heartbeat`].
pub struct Watched<T> {
    inner: T,
    heartbeat: Heartbeat,
}

impl<T> Watched<T> {
    pub fn new(inner: T, heartbeat: Heartbeat) -> Watched<T> {
        Watched { inner, heartbeat }
    }
}

impl<T: CashUnit + ?Sized> CashUnit for Watched<Box<T>> {
    fn ready(&mut self) -> Result<(), CashError> {
        let _b = self.heartbeat.busy();
        self.inner.ready()
    }
    fn begin(&mut self, due_yen: u32) -> Result<(), CashError> {
        let _b = self.heartbeat.busy();
        self.inner.begin(due_yen)
    }
    fn poll(&mut self) -> Result<Vec<CashEvent>, CashError> {
        let _b = self.heartbeat.busy();
        self.inner.poll()
    }
    fn stop(&mut self) -> Result<u32, CashError> {
        let _b = self.heartbeat.busy();
        self.inner.stop()
    }
    fn keep(&mut self, yen: u32) -> Result<(), CashError> {
        let _b = self.heartbeat.busy();
        self.inner.keep(yen)
    }
    fn pay_out(&mut self, yen: u32) -> Result<(), CashError> {
        let _b = self.heartbeat.busy();
        self.inner.pay_out(yen)
    }
    fn counters(&mut self) -> Result<madoguchi_drivers::payment::CashCounters, CashError> {
        let _b = self.heartbeat.busy();
        self.inner.counters()
    }
    fn clear_fault(&mut self) -> Result<(), CashError> {
        let _b = self.heartbeat.busy();
        self.inner.clear_fault()
    }
}

impl Connector for Watched<Box<dyn Connector>> {
    fn open(&self) -> Result<Box<dyn Readers>, TransportError> {
        let _b = self.heartbeat.busy();
        let readers = self.inner.open()?;
        Ok(Box::new(Watched { inner: readers, heartbeat: self.heartbeat.clone() }))
    }
}

impl Readers for Watched<Box<dyn Readers>> {
    fn list(&self) -> Result<Vec<(String, ReaderInterface)>, TransportError> {
        let _b = self.heartbeat.busy();
        self.inner.list()
    }
    fn reader_with_card(&self) -> Result<Option<(String, ReaderInterface)>, TransportError> {
        let _b = self.heartbeat.busy();
        self.inner.reader_with_card()
    }
    fn wait(&mut self, timeout: Option<Duration>) -> Result<Vec<ReaderEvent>, TransportError> {
        // A bounded wait that overruns its bound is a hung reader service; an unbounded one
        // waits for a resident by design.
        let _b = timeout.map(|t| self.heartbeat.busy_waiting(t));
        self.inner.wait(timeout)
    }
    fn canceller(&self) -> Canceller {
        self.inner.canceller()
    }
    fn connect(&self, reader: &str) -> Result<Box<dyn CardConnection>, TransportError> {
        let _b = self.heartbeat.busy();
        let c = self.inner.connect(reader)?;
        Ok(Box::new(Watched { inner: c, heartbeat: self.heartbeat.clone() }))
    }
}

impl CardTransport for Watched<Box<dyn CardConnection>> {
    fn transmit(&mut self, command: &CommandApdu) -> Result<ResponseApdu, TransportError> {
        let _b = self.heartbeat.busy();
        self.inner.transmit(command)
    }
}

impl CardConnection for Watched<Box<dyn CardConnection>> {
    fn reader(&self) -> &str {
        self.inner.reader()
    }
    fn atr(&self) -> &[u8] {
        self.inner.atr()
    }
    fn release(self: Box<Self>) {
        let _b = self.heartbeat.busy();
        self.inner.release()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn a_call_beyond_the_limit_is_stuck_and_an_idle_worker_is_not() {
        let live = Liveness::default();
        let cash = live.heartbeat("cash");
        let card = live.heartbeat("card");
        let t0 = Instant::now();
        assert_eq!(live.stuck(t0 + 100 * S, STUCK_AFTER), None, "idle workers are never stuck");
        let call = cash.busy();
        let _short = card.busy();
        let later = Instant::now() + 21 * S;
        let (name, d) = live.stuck(later, STUCK_AFTER).expect("both calls outlast the limit");
        assert!(d > STUCK_AFTER);
        // Both are stuck; the older call is reported.
        assert_eq!(name, "cash");
        drop(call);
        assert_eq!(live.stuck(later, STUCK_AFTER).map(|s| s.0), Some("card".into()));
        assert_eq!(live.stuck(Instant::now(), STUCK_AFTER), None, "a call just begun is not stuck");
        // A wait bounded by design counts from the end of its bound.
        let probe = live.heartbeat("reader");
        let _wait = probe.busy_waiting(5 * S);
        assert_eq!(probe.busy_for(Instant::now() + 4 * S), Some(Duration::ZERO));
        assert!(probe.busy_for(Instant::now() + 6 * S).is_some_and(|d| d >= S / 2));
    }

    #[test]
    fn pings_every_half_interval_and_never_while_a_worker_is_stuck() {
        let mut w = Watchdog::new(30 * S);
        let t0 = Instant::now();
        assert_eq!(w.round(t0, None), vec![Notice::Ping], "the first round pings");
        assert_eq!(w.round(t0 + 5 * S, None), vec![]);
        assert_eq!(w.round(t0 + 15 * S, None), vec![Notice::Ping]);
        let stuck = w.round(t0 + 31 * S, Some(("cash", 21 * S)));
        assert!(matches!(&stuck[..], [Notice::Status(s)] if s.contains("cash") && s.contains("21 s")), "{stuck:?}");
        // Still stuck: silence, however long (systemd kills the kiosk at WatchdogSec).
        for k in 32..200 {
            assert_eq!(w.round(t0 + k * S, Some(("cash", (k - 10) * S))), vec![]);
        }
        // The worker came back before systemd acted: say so and ping at once.
        let back = w.round(t0 + 200 * S, None);
        assert!(matches!(&back[..], [Notice::Status(_), Notice::Ping]), "{back:?}");
    }

    struct Hanging(Arc<(Mutex<bool>, std::sync::Condvar)>);
    impl CashUnit for Hanging {
        fn ready(&mut self) -> Result<(), CashError> {
            Ok(())
        }
        fn begin(&mut self, _: u32) -> Result<(), CashError> {
            Ok(())
        }
        fn poll(&mut self) -> Result<Vec<CashEvent>, CashError> {
            let (lock, cv) = &*self.0;
            let mut held = lock.lock().unwrap();
            while *held {
                held = cv.wait(held).unwrap();
            }
            Ok(vec![])
        }
        fn stop(&mut self) -> Result<u32, CashError> {
            Ok(0)
        }
        fn keep(&mut self, _: u32) -> Result<(), CashError> {
            Ok(())
        }
        fn pay_out(&mut self, _: u32) -> Result<(), CashError> {
            Ok(())
        }
        fn counters(&mut self) -> Result<madoguchi_drivers::payment::CashCounters, CashError> {
            Ok(Default::default())
        }
    }

    #[test]
    fn a_watched_cash_unit_is_busy_exactly_while_inside_a_call() {
        let live = Liveness::default();
        let gate = Arc::new((Mutex::new(true), std::sync::Condvar::new()));
        let unit: Box<dyn CashUnit + Send> = Box::new(Hanging(gate.clone()));
        let mut watched = Watched::new(unit, live.heartbeat("cash"));
        let beat = live.heartbeat("probe");
        drop(beat);
        watched.ready().unwrap();
        let h = live.beats.lock().unwrap()[0].clone();
        assert_eq!(h.busy_for(Instant::now()), None);
        let t = std::thread::spawn(move || watched.poll().map(|v| v.len()));
        // Wait (without a deadline: the thread must enter the call) until the call is in flight.
        while h.busy_for(Instant::now()).is_none() {
            std::thread::yield_now();
        }
        assert!(live.stuck(Instant::now() + 2 * STUCK_AFTER, STUCK_AFTER).is_some());
        *gate.0.lock().unwrap() = false;
        gate.1.notify_all();
        assert_eq!(t.join().unwrap().expect("the call returns once let go"), 0);
        assert_eq!(h.busy_for(Instant::now()), None);
    }
}
