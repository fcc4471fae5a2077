//! The ccTalk driver against `madoguchi-sim cash` on a real pseudo-terminal at 9600 baud, with
//! the single-wire echo: exact money, change and a refund, commands sent to the simulator over
//! its control FIFO as a resident's hand would drop coins.

use madoguchi_drivers::cctalk::unit::{open_serial, CcTalkConfig};
use madoguchi_drivers::payment::{CashEvent, CashUnit};
use madoguchi_tests::bin;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
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

#[test]
fn a_device_that_stops_answering_mid_payment_leaves_the_inserted_money_owed() {
    let dir = tempfile::tempdir().unwrap();
    let sim = CashSim::start(dir.path());
    let mut unit = open_serial(sim.link.to_str().unwrap(), CcTalkConfig::default()).unwrap_or_else(|e| panic!("{e}"));
    unit.begin(300).unwrap();
    sim.say("insert 100");
    collect_until(&mut unit, 100);
    sim.say("silence");
    std::thread::sleep(Duration::from_millis(100));
    let e = loop {
        match unit.poll() {
            Ok(_) => {}
            Err(e) => break e,
        }
    };
    assert_eq!(e.yen_not_returned, 100, "{e}");
    assert!(unit.ready().is_err(), "out of service");
}

#[test]
fn six_coins_between_two_polls_overflow_the_buffer_and_are_money_in_doubt() {
    let dir = tempfile::tempdir().unwrap();
    let sim = CashSim::start(dir.path());
    let mut unit = open_serial(sim.link.to_str().unwrap(), CcTalkConfig::default()).unwrap_or_else(|e| panic!("{e}"));
    unit.begin(1000).unwrap();
    sim.say("lost");
    std::thread::sleep(Duration::from_millis(200));
    let e = loop {
        match unit.poll() {
            Ok(_) => {}
            Err(e) => break e,
        }
    };
    assert_eq!(e.kind, madoguchi_drivers::payment::CashErrorKind::CoinsLost, "{e}");
    assert_eq!(e.yen_not_returned, 500, "the five buffered 100s are known: {e}");
    assert!(unit.ready().is_err() && unit.begin(300).is_err(), "out of service until staff count");
}
