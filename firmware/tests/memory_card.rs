//! The card worker and the whole kiosk with an in-memory JPKI card behind the drivers'
//! `Connector` (`madoguchi_sim::memory`): real APDUs answered by the virtual card, no pcscd.

mod common;
use common::NotifyListener;
use madoguchi_certs::testpki::{self, CaKind, Generation, TestPki};
use madoguchi_certs::{verify_pkcs1v15_sha256, JpkiCertificate};
use madoguchi_drivers::card::ReaderInterface;
use madoguchi_drivers::jpki::{JpkiErrorKind, Pin, PinKind, PinStatus, PinTries, TokenKind};
use madoguchi_firmware::config::KioskConfig;
use madoguchi_firmware::kiosk::{Kiosk, KioskClock};
use madoguchi_firmware::workers::card::CardWorker;
use madoguchi_session::{CardCall, CardCommand, CardFailure, CardOk, Event, OpId};
use madoguchi_sim::card::{VirtualCard, ATR_CONTACT};
use madoguchi_sim::memory::MemoryReaders;
use madoguchi_sim::profile::{self, CardProfile, EmptyVerifyAfterSuccess, JpkiApplet, PinRecord};
use madoguchi_sim::slot::CardSlot;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, Receiver};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use time::macros::datetime;

const READER: &str = "Memory Reader 00";
const PIN: &str = "1234";
/// Generous for a shared CI machine; the exchanges themselves take milliseconds.
const WAIT: Duration = Duration::from_secs(20);

/// A resident's card (a user-authentication certificate and key from a test-PKI hierarchy)
/// and the files a kiosk configuration names, as (file name, contents).
struct Fixture {
    profile: CardProfile,
    files: Vec<(String, Vec<u8>)>,
}

/// Built once per test binary (key generation is the slow part).
fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        use rsa::pkcs8::{EncodePrivateKey, LineEnding};
        const SEED: u64 = 0x4D45_4D43;
        let today = TODAY.date();
        let mut labels = TestPki::KEY_LABELS.to_vec();
        labels.push("resident-auth");
        let mut keys = testpki::generate_keys(SEED, &labels).expect("keys");
        let resident = keys.pop().expect("resident key");
        let pki = TestPki::with_keys(SEED, today, keys).expect("test PKI");
        let issued = TODAY - time::Duration::days(30);
        let cert = pki
            .issue_auth_cert(
                &resident.to_public_key(),
                0x0601_0203,
                issued,
                issued + time::Duration::days(3 * 365),
                "MEMCARD01",
            )
            .expect("auth certificate");
        let mut files: Vec<(String, Vec<u8>)> =
            pki.cas().iter().map(|ca| (format!("anchors/{}.der", ca.file_stem()), ca.der().to_vec())).collect();
        // The backend is not reached in these tests, but its TLS identity must load: the auth
        // CA's certificate and key serve (rustls refuses the resident's, whose certificate
        // policies are critical).
        let auth_ca = pki.ca(CaKind::Auth, Generation::Current);
        files.push(("ca.pem".into(), pem("CERTIFICATE", auth_ca.der()).into_bytes()));
        files.push(("client.pem".into(), pem("CERTIFICATE", auth_ca.der()).into_bytes()));
        let key_pem = auth_ca.private_key().to_pkcs8_pem(LineEnding::LF).expect("key pem");
        files.push(("client.key".into(), key_pem.as_bytes().to_vec()));
        let pin = |value: &str, max| PinRecord { value: value.into(), max_tries: max, tries_left: max };
        let profile = CardProfile {
            format: profile::PROFILE_FORMAT,
            holder: "R-MEMORY".into(),
            token: profile::TokenKind::Card,
            jpki: JpkiApplet {
                auth_cert: cert.der().to_vec(),
                auth_ca_cert: auth_ca.der().to_vec(),
                auth_key_pkcs8: resident.to_pkcs8_der().expect("pkcs8").as_bytes().to_vec(),
                auth_pin: pin(PIN, 3),
                sign_cert: None,
                sign_ca_cert: pki.ca(CaKind::Sign, Generation::Current).der().to_vec(),
                sign_key_pkcs8: None,
                sign_password: None,
                card_management_key: None,
                empty_verify_after_success: EmptyVerifyAfterSuccess::Counter,
            },
            text_ap: None,
        };
        Fixture { profile, files }
    })
}

/// The kiosk's wall clock in the kiosk test: a Wednesday morning in service hours.
const TODAY: time::OffsetDateTime = datetime!(2026-06-10 10:00 +09:00);

fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap_or_default()).collect();
    format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", lines.join("\n"))
}

fn card() -> CardSlot {
    CardSlot::new(VirtualCard::new(fixture().profile.clone(), profile::TokenKind::Card), &ATR_CONTACT)
}

fn readers() -> MemoryReaders {
    MemoryReaders::new(&[(READER, ReaderInterface::Contact)])
}

fn tries_left_on_card(readers: &MemoryReaders) -> Option<u8> {
    readers.with_card(READER, |c| c.card().profile().jpki.auth_pin.tries_left)
}

// ---------------------------------------------------------------------------------------------
// The card worker

/// The worker and the kiosk loop's end of its events.
struct Worker {
    worker: CardWorker,
    events: Receiver<Event>,
    next_op: u64,
}

impl Worker {
    fn start(readers: &MemoryReaders) -> Worker {
        let (tx, events) = channel();
        Worker { worker: CardWorker::spawn(Box::new(readers.clone()), tx), events, next_op: 0 }
    }

    fn next(&self) -> Event {
        self.events.recv_timeout(WAIT).expect("an event from the card worker")
    }

    fn call(&mut self, command: CardCommand) -> Result<CardOk, CardFailure> {
        self.next_op += 1;
        let op = OpId(self.next_op);
        self.worker.submit(CardCall { op, reader: READER.into(), command });
        match self.next() {
            Event::CardReply { op: got, result } if got == op => result,
            other => panic!("waiting for the reply to {op:?}, got {other:?}"),
        }
    }
}

fn pin(text: &str) -> Pin {
    Pin::new(PinKind::UserAuth, text).expect("PIN format")
}

#[test]
fn the_card_worker_runs_the_session_calls_on_an_in_memory_card() {
    let readers = readers();
    let mut w = Worker::start(&readers);
    readers.place(READER, card()).unwrap();
    let placed = w.next();
    assert!(
        matches!(&placed, Event::CardPresented { reader, interface: ReaderInterface::Contact, atr } if reader == READER && atr == &ATR_CONTACT),
        "{placed:?}"
    );

    let Ok(CardOk::Token { token, certificate: Some(der) }) = w.call(CardCommand::ReadToken) else {
        panic!("no token read")
    };
    assert_eq!((token, &der), (TokenKind::Card, &fixture().profile.jpki.auth_cert));
    let tries = |left| Ok(CardOk::PinStatus(PinStatus::Tries(PinTries { left, max: 3 })));
    assert_eq!(w.call(CardCommand::PinStatus), tries(3));
    // A wrong PIN reports the tries left, and the card really counted it.
    assert_eq!(w.call(CardCommand::Verify(pin("9999"))), Err(CardFailure::wrong_pin(2)));
    assert_eq!(tries_left_on_card(&readers), Some(2));
    assert_eq!(w.call(CardCommand::PinStatus), tries(2));
    assert_eq!(w.call(CardCommand::Verify(pin(PIN))), Ok(CardOk::Verified));
    assert_eq!(tries_left_on_card(&readers), Some(3));

    let challenge = b"backend challenge";
    let Ok(CardOk::Signature { signature, certificate_fingerprint }) =
        w.call(CardCommand::Sign { sha256: Sha256::digest(challenge).into() })
    else {
        panic!("no signature")
    };
    assert_eq!(certificate_fingerprint, <[u8; 32]>::from(Sha256::digest(&der)), "signed by the card that was read");
    let cert = JpkiCertificate::from_der(&der).unwrap();
    verify_pkcs1v15_sha256(cert.public_key(), challenge, &signature).expect("the card's signature verifies");
    let apdus = w.worker.apdus_on_connection();
    assert!((1..=14).contains(&apdus), "{apdus} APDUs from card placed to signed");

    // Pulled: the monitor says so, and the connection is of no more use.
    readers.remove(READER).expect("the card was on the reader");
    assert!(matches!(w.next(), Event::CardRemoved { reader } if reader == READER));
    assert_eq!(w.call(CardCommand::PinStatus), Err(CardFailure::new(JpkiErrorKind::Removed)));
    // Placed again: a fresh connection, the PIN no longer verified.
    readers.place(READER, card()).unwrap();
    assert!(matches!(w.next(), Event::CardPresented { .. }));
    assert!(matches!(w.call(CardCommand::ReadToken), Ok(CardOk::Token { .. })));
    assert_eq!(w.call(CardCommand::Sign { sha256: [0; 32] }), Err(CardFailure::new(JpkiErrorKind::SecurityStatus)));
    // A reader unplugged takes its card with it.
    readers.unplug(READER);
    assert!(matches!(w.next(), Event::CardRemoved { reader } if reader == READER));
    assert!(matches!(w.next(), Event::ReaderRemoved { reader } if reader == READER));
}

// ---------------------------------------------------------------------------------------------
// The whole kiosk: session, workers and the headless UI

/// A printer on a pseudo-terminal that answers the status probe "ready" (the kiosk closes
/// when its printer cannot print). The test never prints.
struct ReadyPrinter {
    path: PathBuf,
    _slave: std::os::fd::OwnedFd,
}

impl ReadyPrinter {
    fn start() -> ReadyPrinter {
        use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};
        use std::io::{Read, Write};
        let pty = nix::pty::openpty(None, None).expect("openpty");
        let mut t = tcgetattr(&pty.slave).expect("tcgetattr");
        cfmakeraw(&mut t);
        tcsetattr(&pty.slave, SetArg::TCSANOW, &t).expect("tcsetattr");
        let path = nix::unistd::ttyname(&pty.slave).expect("ttyname");
        let mut master = std::fs::File::from(pty.master);
        std::thread::spawn(move || {
            let mut seen = Vec::new();
            let mut buf = [0u8; 256];
            while let Ok(n @ 1..) = master.read(&mut buf) {
                seen.extend_from_slice(&buf[..n]);
                if seen.windows(14).any(|w| w == b"INFO PAGECOUNT") {
                    seen.clear();
                    let reply = b"@PJL INFO STATUS\r\nCODE=10001\r\nDISPLAY=\"READY\"\r\nONLINE=TRUE\r\n\x0c\
                                  @PJL INFO PAGECOUNT\r\nPAGECOUNT=1000\r\n\x0c";
                    if master.write_all(reply).is_err() {
                        return;
                    }
                }
            }
        });
        ReadyPrinter { path, _slave: pty.slave }
    }
}

fn kiosk_config(dir: &Path, printer: &Path) -> KioskConfig {
    use ed25519_dalek::SigningKey;
    for (name, contents) in &fixture().files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap_or(dir)).expect("fixture dir");
        std::fs::write(path, contents).expect("fixture file");
    }
    let f = dir;
    let q = |p: &Path| p.display().to_string();
    let document_key = hex::encode(SigningKey::from_bytes(&[7; 32]).verifying_key().to_bytes());
    let text = format!(
        "[kiosk]\nid = \"kiosk-memory\"\nstore = \"テスト店\"\n\n\
         [backend]\nurl = \"https://127.0.0.1:9\"\nca = \"{ca}\"\nclient_certificate = \"{cert}\"\n\
         client_key = \"{key}\"\ndocument_key = \"{document_key}\"\n\n\
         [trust]\nanchors = \"{anchors}\"\nallow_test_anchors = true\n\n\
         [printer]\nport = \"{port}\"\nbaud = 115200\nflow_control = \"none\"\n\n\
         [gpio]\nchip = \"simulated\"\ncard_slot_lamp = 17\nstatus_lamp = 27\nchime = 22\ndoor_switch = 23\n\
         operator_key = 24\n\n[cash]\ndevice = \"simulated\"\n",
        ca = q(&f.join("ca.pem")),
        cert = q(&f.join("client.pem")),
        key = q(&f.join("client.key")),
        anchors = q(&f.join("anchors")),
        port = q(printer),
    );
    let path = dir.join("kiosk.toml");
    std::fs::write(&path, text).expect("kiosk.toml");
    KioskConfig::load(&path).expect("kiosk configuration")
}

/// Pumps the kiosk until `done` holds, or fails the test with what it saw.
fn pump_until(kiosk: &mut Kiosk, what: &str, done: impl Fn(&Kiosk) -> bool) {
    let deadline = Instant::now() + WAIT;
    while !done(kiosk) {
        assert!(Instant::now() < deadline, "waiting for {what}; screens so far {:?}", kiosk.tally().screens);
        kiosk.pump(Duration::from_millis(20));
    }
}

fn screen(kiosk: &Kiosk) -> &'static str {
    kiosk.view().map_or("", |v| v.screen.id())
}

fn pin_pad_tries(kiosk: &Kiosk) -> Option<u8> {
    kiosk.view().and_then(|v| v.pin.tries_left)
}

fn type_pin(kiosk: &mut Kiosk, digits: &str) {
    for d in digits.chars() {
        kiosk.ui().touch(&format!("digit:{d}")).expect("a digit key");
        kiosk.pump_ready();
    }
    kiosk.ui().touch("ok").expect("the OK key");
    kiosk.pump_ready();
}

#[test]
fn the_kiosk_reads_the_in_memory_card_and_verifies_the_pin() {
    let state = tempfile::tempdir().unwrap();
    let printer = ReadyPrinter::start();
    let cfg = kiosk_config(state.path(), &printer.path);
    let readers = readers();
    let ui = madoguchi_ui::Ui::headless(1280, 800).expect("headless UI");
    let mut clock = KioskClock::system();
    clock.set_wall(TODAY);
    let cash = Box::new(madoguchi_sim::cash::SharedSimCash::default());
    let mut kiosk =
        Kiosk::start_with_readers(&cfg, ui, cash, None, &state.path().join("state"), clock, Box::new(readers.clone()))
            .expect("the kiosk starts");
    pump_until(&mut kiosk, "the idle screen", |k| screen(k) == "idle");

    // Card first: the kiosk reads it and asks for the PIN, showing the tries the card reports.
    readers.place(READER, card()).unwrap();
    pump_until(&mut kiosk, "the PIN pad", |k| screen(k) == "pin-entry" && pin_pad_tries(k).is_some());
    assert_eq!(pin_pad_tries(&kiosk), Some(3));
    assert!(kiosk.cards_present().contains(READER));

    // A wrong PIN costs a try on the card, and the pad says how many are left.
    type_pin(&mut kiosk, "9999");
    pump_until(&mut kiosk, "the PIN pad after a wrong PIN", |k| {
        screen(k) == "pin-entry" && k.view().is_some_and(|v| v.pin.previous_wrong)
    });
    assert_eq!(pin_pad_tries(&kiosk), Some(2));
    assert_eq!(tries_left_on_card(&readers), Some(2));

    // The right PIN: VERIFY succeeds (the card's counter is back to 3) and the kiosk goes on.
    type_pin(&mut kiosk, PIN);
    pump_until(&mut kiosk, "the PIN verified", |k| screen(k) != "pin-entry" && tries_left_on_card(&readers) == Some(3));
    assert!(kiosk.tally().screens.iter().any(|s| s == "authenticating"), "{:?}", kiosk.tally().screens);
    assert!(kiosk.card_apdus() > 0);

    // Pulled: the kiosk hears it.
    readers.remove(READER).expect("the card was on the reader");
    pump_until(&mut kiosk, "the card gone", |k| k.cards_present().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Operator diagnostics through the same trait

#[test]
fn operator_diagnostics_read_the_in_memory_card_without_spending_a_try() {
    use madoguchi_firmware::diagnostics::{self, CardOptions, WatchUntil};
    let readers = readers();
    let opts = CardOptions {
        contact: Vec::new(),
        contactless: Vec::new(),
        reader: None,
        wait: 0,
        anchors: None,
        allow_test_anchors: false,
        json: true,
    };
    let none = diagnostics::inspect_on(&readers, &opts, true).unwrap_err();
    assert!(matches!(none, diagnostics::DiagError::NoCard(_)), "{none:?}");

    readers.place(READER, card()).unwrap();
    let report = diagnostics::inspect_on(&readers, &opts, true).expect("card info");
    assert_eq!((report.reader.as_str(), report.token), (READER, Some(TokenKind::Card)));
    assert_eq!(report.auth_pin, Some(PinStatus::Tries(PinTries { left: 3, max: 3 })));
    assert_eq!(report.atr, ATR_CONTACT);
    assert!(report.certificate.as_ref().is_some_and(|c| c.subject.contains("MEMCARD01")), "{report:?}");
    let json: serde_json::Value = serde_json::from_str(&diagnostics::render_json(&report)).unwrap();
    assert_eq!(json["auth_pin"]["tries_left"], 3);
    assert_eq!(tries_left_on_card(&readers), Some(3), "no try spent");

    let pin = zeroize::Zeroizing::new(format!("{PIN}\n"));
    let check = diagnostics::auth_check_on(&readers, &pin).expect("auth check");
    assert!(check.signature_valid);
    assert_eq!(check.tries_after, PinStatus::Tries(PinTries { left: 3, max: 3 }));

    // `card watch --until removed` returns once the card is gone.
    let puller = {
        let readers = readers.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            readers.remove(READER);
        })
    };
    let mut out = Vec::new();
    assert!(diagnostics::watch_on(&readers, Some(WatchUntil::Removed), Some(WAIT), &mut out).unwrap());
    puller.join().unwrap();
    // What it saw first: the reader and the card already on it.
    let out = String::from_utf8_lossy(&out);
    assert!(out.contains(&format!("card placed: {READER} (contact), ATR 3B DA")), "{out}");
}

// ---------------------------------------------------------------------------------------------
// systemd: READY after the start-up checks, WATCHDOG=1 only while every worker answers

/// A cash unit whose `poll` the test can make hang (as a unit that stops answering on its
/// serial line would), and let go again.
struct StallableCash {
    unit: madoguchi_sim::cash::SharedSimCash,
    stalled: std::sync::Arc<(std::sync::Mutex<bool>, std::sync::Condvar)>,
}

impl madoguchi_drivers::payment::CashUnit for StallableCash {
    fn ready(&mut self) -> Result<(), madoguchi_drivers::payment::CashError> {
        self.unit.ready()
    }
    fn begin(&mut self, due_yen: u32) -> Result<(), madoguchi_drivers::payment::CashError> {
        self.unit.begin(due_yen)
    }
    fn poll(&mut self) -> Result<Vec<madoguchi_drivers::payment::CashEvent>, madoguchi_drivers::payment::CashError> {
        let (lock, cv) = &*self.stalled;
        let mut held = lock.lock().unwrap();
        while *held {
            held = cv.wait(held).unwrap();
        }
        drop(held);
        self.unit.poll()
    }
    fn stop(&mut self) -> Result<u32, madoguchi_drivers::payment::CashError> {
        self.unit.stop()
    }
    fn keep(&mut self, yen: u32) -> Result<(), madoguchi_drivers::payment::CashError> {
        self.unit.keep(yen)
    }
    fn pay_out(&mut self, yen: u32) -> Result<(), madoguchi_drivers::payment::CashError> {
        self.unit.pay_out(yen)
    }
    fn counters(&mut self) -> Result<madoguchi_drivers::payment::CashCounters, madoguchi_drivers::payment::CashError> {
        self.unit.counters()
    }
}

/// A kiosk whose stalled cash unit is let go before the kiosk stops (its worker is joined).
struct LetGo {
    kiosk: Kiosk,
    stalled: std::sync::Arc<(std::sync::Mutex<bool>, std::sync::Condvar)>,
}

impl Drop for LetGo {
    fn drop(&mut self) {
        if let Ok(mut s) = self.stalled.0.lock() {
            *s = false;
        }
        self.stalled.1.notify_all();
    }
}

#[test]
fn systemd_hears_ready_only_after_the_checks_and_no_watchdog_ping_while_a_worker_hangs() {
    use madoguchi_firmware::kiosk::run::Supervisor;
    use madoguchi_firmware::notify::Notifier;
    let state = tempfile::tempdir().unwrap();
    let listener = NotifyListener::bind(state.path());
    let printer = ReadyPrinter::start();
    let cfg = kiosk_config(state.path(), &printer.path);
    // The watchdog's own periods, short so the test runs in a second.
    let (interval, stuck_after) = (Duration::from_millis(200), Duration::from_millis(300));
    let supervisor = || Supervisor::new(Notifier::connect(&listener.path).unwrap(), Some(interval), stuck_after);

    // A check that fails (the GPIO chip is missing): no kiosk, and systemd hears nothing.
    let mut broken = cfg.clone();
    broken.gpio.chip = state.path().join("no-gpiochip");
    let mut s = supervisor();
    let ui = madoguchi_ui::Ui::headless(1280, 800).expect("headless UI");
    let cash = Box::new(madoguchi_sim::cash::SharedSimCash::default());
    assert!(s
        .start(&broken, ui, cash, Box::new(readers()), &state.path().join("state"), KioskClock::system())
        .is_err());
    assert_eq!(listener.drain(), Vec::<String>::new(), "no READY for a kiosk that could not start");

    // The real start: READY, then pings from the loop.
    let stalled = std::sync::Arc::new((std::sync::Mutex::new(false), std::sync::Condvar::new()));
    let cash = Box::new(StallableCash { unit: Default::default(), stalled: stalled.clone() });
    let mut s = supervisor();
    let ui = madoguchi_ui::Ui::headless(1280, 800).expect("headless UI");
    let kiosk = s
        .start(&cfg, ui, cash, Box::new(readers()), &state.path().join("state"), KioskClock::system())
        .expect("the kiosk starts");
    // Dropped first (even when an assertion fails): lets the cash worker go, so the kiosk can stop.
    let mut kiosk = LetGo { kiosk, stalled: stalled.clone() };
    let kiosk = &mut kiosk.kiosk;
    assert_eq!(listener.drain(), Vec::<String>::new(), "READY is the caller's to send once the start held");
    s.ready("open");
    let mut heard = Vec::new();
    let round = |kiosk: &mut Kiosk, s: &mut Supervisor, heard: &mut Vec<String>| {
        kiosk.pump(Duration::from_millis(20));
        s.round(Instant::now());
        heard.extend(listener.drain());
    };
    let deadline = Instant::now() + WAIT;
    while heard.iter().filter(|d| *d == "WATCHDOG=1").count() < 2 {
        assert!(Instant::now() < deadline, "no watchdog pings: {heard:?}");
        round(kiosk, &mut s, &mut heard);
    }
    assert_eq!(heard[0], "READY=1\nSTATUS=open");

    // The cash unit hangs in a poll: the loop keeps running but stops feeding, and says why.
    *stalled.0.lock().unwrap() = true;
    heard.clear();
    while !heard.iter().any(|d| d.starts_with("STATUS=worker cash stuck")) {
        assert!(Instant::now() < deadline + WAIT, "the stuck worker was not noticed: {heard:?}");
        round(kiosk, &mut s, &mut heard);
    }
    let noticed = heard.iter().position(|d| d.starts_with("STATUS=worker cash stuck")).unwrap();
    heard.drain(..=noticed);
    // Many watchdog periods of a hung worker: not one ping (systemd would restart the kiosk).
    let quiet_until = Instant::now() + 5 * interval;
    while Instant::now() < quiet_until {
        round(kiosk, &mut s, &mut heard);
    }
    assert_eq!(heard, Vec::<String>::new(), "pings while the cash worker hung");

    // Let go before systemd acted: the pings come back.
    *stalled.0.lock().unwrap() = false;
    stalled.1.notify_all();
    let deadline = Instant::now() + WAIT;
    while !heard.iter().any(|d| d == "WATCHDOG=1") {
        assert!(Instant::now() < deadline, "no ping after the worker came back: {heard:?}");
        round(kiosk, &mut s, &mut heard);
    }
    assert!(heard[0].starts_with("STATUS=open"), "{heard:?}");
}

#[test]
fn the_kiosk_binary_sends_no_ready_when_its_checks_fail() {
    let state = tempfile::tempdir().unwrap();
    let listener = NotifyListener::bind(state.path());
    let printer = ReadyPrinter::start();
    let _cfg = kiosk_config(state.path(), &printer.path);
    // A configuration that loads but names a backend nobody answers at (its first check): the
    // kiosk says so, exits 1 (worth a restart: the backend may come back), tells systemd why,
    // and never that it is up.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_madoguchi"))
        .arg("--config")
        .arg(state.path().join("kiosk.toml"))
        .env("NOTIFY_SOCKET", &listener.path)
        .env("WATCHDOG_USEC", "200000")
        .output()
        .expect("run madoguchi");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("backend: cannot ask the backend what it is"), "{err}");
    let heard = listener.drain();
    assert!(!heard.iter().any(|d| d.contains("READY=1") || d.contains("WATCHDOG=1")), "{heard:?}");
    assert!(heard.iter().any(|d| d.starts_with("STATUS=cannot start: backend:")), "{heard:?}");
}
