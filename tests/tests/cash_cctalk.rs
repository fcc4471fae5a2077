//! The ccTalk driver against `madoguchi-sim cash` on a real pseudo-terminal at 9600 baud, with
//! the single-wire echo: exact money, change and a refund, commands sent to the simulator over
//! its control FIFO as a resident's hand would drop coins. The bad-input tests run the kiosk's
//! own cash path (the firmware's cash worker and money book) and read the money journal back.

use madoguchi_drivers::cctalk::unit::{open_serial, CcTalkConfig};
use madoguchi_drivers::payment::{CashEvent, CashUnit};
use madoguchi_firmware::kiosk::cash::CashWorker;
use madoguchi_firmware::kiosk::journal::{replay, MoneyBook, MoneyReport, TransactionMoney};
use madoguchi_session::{CashFaultKind, Event, PaymentCommand, PaymentEvent};
use madoguchi_tests::bin;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

struct CashSim {
    child: Child,
    link: PathBuf,
    control: PathBuf,
}

impl CashSim {
    fn start(dir: &Path) -> CashSim {
        let link = dir.join("cash");
        let control = dir.join("cash.ctl");
        let mut child = Command::new(bin("madoguchi-sim"))
            .args(["cash", "--baud", "9600", "--coin-ms", "20"])
            .arg("--link")
            .arg(&link)
            .arg("--control")
            .arg(&control)
            .stdout(Stdio::piped())
            .spawn()
            .expect("start madoguchi-sim cash");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("ready line");
        assert!(line.starts_with("ready "), "{line:?}");
        CashSim { child, link, control }
    }

    /// A resident drops a coin once the slot takes coins (the kiosk's cash worker enables the
    /// acceptor on its own thread after the session ordered the collection).
    fn drop_coin(&self, yen: u32) {
        self.say("wait-accepting");
        self.say(&format!("insert {yen}"));
    }

    fn say(&self, command: &str) {
        let mut f = std::fs::OpenOptions::new().write(true).open(&self.control).expect("control FIFO");
        writeln!(f, "{command}").expect("control write");
    }
}

impl Drop for CashSim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls until the unit reports `total` inserted; the time it took.
fn collect_until(unit: &mut dyn CashUnit, total: u32) -> Duration {
    let t0 = Instant::now();
    let deadline = t0 + Duration::from_secs(20);
    loop {
        for e in unit.poll().expect("poll") {
            if let CashEvent::Accepted { total_yen, .. } = e {
                if total_yen >= total {
                    assert_eq!(total_yen, total);
                    return t0.elapsed();
                }
            }
        }
        assert!(Instant::now() < deadline, "{total} yen never arrived");
    }
}

#[test]
fn exact_money_change_and_a_refund_through_the_pty() {
    let dir = tempfile::tempdir().unwrap();
    let sim = CashSim::start(dir.path());
    let mut unit = open_serial(sim.link.to_str().unwrap(), CcTalkConfig::default()).unwrap_or_else(|e| panic!("{e}"));
    unit.ready().unwrap();

    // Exact money: 1,350 yen in six coins, each dropped when the last was credited (an acceptor
    // buffers five events: six dropped between two polls would lose one, as a test below shows).
    let t0 = Instant::now();
    unit.begin(1350).unwrap();
    let mut total = 0;
    for c in [500, 500, 100, 100, 100, 50] {
        sim.say(&format!("insert {c}"));
        total += c;
        collect_until(&mut unit, total);
    }
    assert_eq!(unit.stop().unwrap(), 1350);
    unit.keep(1350).unwrap();
    let b = unit.bus().stats;
    eprintln!(
        "figure: 1,350 yen in six coins, begin to stop, {:?} at 9600 baud ({} exchanges, {} retries)",
        t0.elapsed(),
        b.exchanges,
        b.retries
    );

    // Change: 300 due, 500 in, 200 back from the 100-yen hopper.
    unit.begin(300).unwrap();
    sim.say("insert 500");
    collect_until(&mut unit, 500);
    unit.stop().unwrap();
    unit.keep(300).unwrap();
    unit.pay_out(200).unwrap();

    // A refund: 160 in, the issuance fails, 160 back (100 + 50 + 10).
    unit.begin(300).unwrap();
    for (c, t) in [(100, 100), (50, 150), (10, 160)] {
        sim.say(&format!("insert {c}"));
        collect_until(&mut unit, t);
    }
    unit.stop().unwrap();
    unit.pay_out(160).unwrap();
    assert_eq!(unit.held(), 0);
    let c = unit.counters().unwrap();
    assert_eq!((c.accepted_yen, c.paid_out_yen), (2010, 360));
}

/// The kiosk's cash path without the session: the firmware's cash worker driving the ccTalk
/// unit on the pty, and the money book writing every command and report to the journal, in the
/// order the kiosk does.
struct Till {
    worker: CashWorker,
    events: Receiver<Event>,
    book: MoneyBook,
    journal: PathBuf,
}

impl Till {
    fn open(sim: &CashSim, dir: &Path) -> Till {
        let unit = open_serial(sim.link.to_str().unwrap(), CcTalkConfig::default()).unwrap_or_else(|e| panic!("{e}"));
        let journal = dir.join("money-journal.jsonl");
        let (book, _) = MoneyBook::open(&journal).expect("journal");
        let (tx, events) = channel();
        let worker = CashWorker::spawn(Box::new(unit), tx, book.open_fault().is_some());
        Till { worker, events, book, journal }
    }

    /// What the session would order.
    fn order(&mut self, command: PaymentCommand) {
        self.book.command(&command);
        self.worker.submit(command);
    }

    /// Takes the worker's reports (journaling each, as the kiosk does) until one matches.
    fn until(&mut self, what: &str, matches: impl Fn(&PaymentEvent) -> bool) -> PaymentEvent {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(Event::Payment(e)) => {
                    self.book.event(&e);
                    if matches(&e) {
                        return e;
                    }
                }
                Ok(_) => {}
                Err(_) => panic!("the cash worker never reported {what}"),
            }
        }
    }

    fn inserted(&mut self, total: u32) {
        self.until(&format!("{total} yen inserted"), |e| *e == PaymentEvent::Inserted { total_yen: total });
    }

    fn fault(&mut self) -> (CashFaultKind, u32) {
        match self.until("a fault", |e| matches!(e, PaymentEvent::Fault { .. })) {
            PaymentEvent::Fault { kind, yen_not_returned } => (kind, yen_not_returned),
            _ => unreachable!(),
        }
    }

    /// 500 yen in for a fee of 300, the fee kept: 200 change to pay.
    fn paid_500_for_300(&mut self, sim: &CashSim, reference: &str) {
        self.order(collect(reference, 300));
        sim.drop_coin(500);
        self.inserted(500);
        self.order(PaymentCommand::StopAccepting);
        self.order(PaymentCommand::Keep { yen: 300 });
    }

    fn report(&self) -> MoneyReport {
        replay(&self.journal).expect("journal")
    }
}

/// The journal's account of one transaction: (inserted, kept, paid out, owed, unknown).
fn money(report: &MoneyReport, reference: &str) -> (u32, u32, u32, u32, bool) {
    let t: &TransactionMoney = report
        .transactions
        .iter()
        .find(|t| t.reference == reference)
        .unwrap_or_else(|| panic!("{reference} not in the journal: {report:?}"));
    assert_eq!(t.unaccounted(), 0, "every yen of {reference} is kept, paid back or owed: {t:?}");
    (t.inserted, t.kept, t.paid_out, t.owed, t.unknown)
}

fn collect(reference: &str, due_yen: u32) -> PaymentCommand {
    PaymentCommand::Collect { reference: reference.into(), due_yen }
}

#[test]
fn checksum_errors_are_recovered_and_persistent_ones_leave_the_money_in_doubt_in_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let sim = CashSim::start(dir.path());
    let mut till = Till::open(&sim, dir.path());
    till.order(collect("T-CK", 300));
    sim.drop_coin(100);
    till.inserted(100);
    // Three bad replies in a row: retried, then read once more; the coin is credited exactly.
    sim.say("checksum 3");
    sim.say("insert 100");
    till.inserted(200);
    // Every reply bad: coins may drop unseen, so the money is in doubt.
    sim.say("checksum 100000");
    sim.say("insert 50");
    assert_eq!(till.fault(), (CashFaultKind::CoinsLost, 200));
    let r = till.report();
    assert_eq!(money(&r, "T-CK"), (200, 0, 0, 200, true), "the 50 went in unseen: staff count it");
    assert_eq!(r.open_fault.as_deref(), Some("T-CK"));
}

#[test]
fn replies_from_the_wrong_address_are_never_credited_and_the_money_is_journaled() {
    let dir = tempfile::tempdir().unwrap();
    let sim = CashSim::start(dir.path());
    let mut till = Till::open(&sim, dir.path());
    till.order(collect("T-WA", 300));
    sim.say("wrong-address 2");
    sim.drop_coin(100);
    till.inserted(100);
    sim.say("wrong-address 100000");
    sim.say("insert 100");
    assert_eq!(till.fault(), (CashFaultKind::CoinsLost, 100));
    assert_eq!(money(&till.report(), "T-WA"), (100, 0, 0, 100, true));
}

#[test]
fn an_event_counter_that_jumped_is_coins_lost_out_of_service_across_a_restart_until_staff_clear_it() {
    let dir = tempfile::tempdir().unwrap();
    let sim = CashSim::start(dir.path());
    {
        let mut till = Till::open(&sim, dir.path());
        till.order(collect("T-LOST", 1000));
        sim.drop_coin(500);
        till.inserted(500);
        // Six coins between two reads: the counter jumps by six, the buffer holds five.
        sim.say("lost");
        assert_eq!(till.fault(), (CashFaultKind::CoinsLost, 1000), "500 + the five buffered 100s are known");
        till.until("not ready", |e| *e == PaymentEvent::Ready(false));
        let r = till.report();
        assert_eq!(money(&r, "T-LOST"), (500, 0, 0, 1000, true));
        assert_eq!(r.open_fault.as_deref(), Some("T-LOST"));
    }
    // The kiosk restarts: the unit answers, but the journal keeps it out of service.
    let mut till = Till::open(&sim, dir.path());
    till.until("not ready after the restart", |e| *e == PaymentEvent::Ready(false));
    assert_eq!(till.book.open_fault(), Some("T-LOST"));
    // Staff counted the cash box and clear the fault: the unit serves again.
    till.worker.clear_fault();
    till.until("ready", |e| *e == PaymentEvent::Ready(true));
    assert_eq!(till.report().open_fault, None, "the journal says the fault was cleared");
    till.order(collect("T-NEXT", 100));
    sim.drop_coin(100);
    till.inserted(100);
}

#[test]
fn a_device_that_stops_answering_mid_payment_or_mid_payout_leaves_the_money_owed_in_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let sim = CashSim::start(dir.path());
    let mut till = Till::open(&sim, dir.path());
    // Mid-payout: 500 in for 300, the hopper falls silent after taking the dispense of 200.
    till.paid_500_for_300(&sim, "T-PAY");
    sim.say("silence@payout");
    till.order(PaymentCommand::GiveChange { yen: 200 });
    assert_eq!(till.fault(), (CashFaultKind::Offline, 200));
    assert_eq!(money(&till.report(), "T-PAY"), (500, 300, 0, 200, false));
    drop(till);

    // Mid-collection: 100 in, then nothing answers.
    sim.say("clear");
    let dir2 = tempfile::tempdir().unwrap();
    let mut till = Till::open(&sim, dir2.path());
    till.order(collect("T-SIL", 300));
    sim.drop_coin(100);
    till.inserted(100);
    sim.say("silence");
    assert_eq!(till.fault(), (CashFaultKind::CoinsLost, 100));
    assert_eq!(money(&till.report(), "T-SIL"), (100, 0, 0, 100, true));
}

#[test]
fn an_empty_hopper_leaves_the_change_owed_in_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let sim = CashSim::start(dir.path());
    let mut till = Till::open(&sim, dir.path());
    till.paid_500_for_300(&sim, "T-EMPTY");
    sim.say("hopper-empty");
    till.order(PaymentCommand::GiveChange { yen: 200 });
    assert_eq!(till.fault(), (CashFaultKind::CannotDispense, 200));
    assert_eq!(money(&till.report(), "T-EMPTY"), (500, 300, 0, 200, false));
}
