//! The PIN never leaves the session except inside `CardCommand::Verify`: property-style, over
//! many PINs and many paths, everything the session emits (effects, views, audit records, its
//! own `Debug`, and its log lines) must not depend on the digits typed.

use super::*;
use std::sync::Mutex;

/// A logger that keeps the session's log lines.
struct Capture;

static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        if record.target().contains("session") {
            if let Ok(mut l) = LINES.lock() {
                l.push(format!("{}", record.args()));
            }
        }
    }
    fn flush(&self) {}
}

static CAPTURE: Capture = Capture;

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pin(&mut self) -> String {
        (0..4).map(|_| char::from(b'0' + self.below(10) as u8)).collect()
    }
}

/// How a run goes after the PIN pad appears.
#[derive(Clone, Copy, Debug)]
struct Script {
    wrong_attempts: u8,
    fumble: bool,
    end: u8,
}

/// Plays a script with `pin` as the right PIN and `wrong` as a wrong one; returns everything
/// the session emitted, as text.
fn play(script: Script, pin: &str, wrong: &str) -> (String, K) {
    let mut k = K::new();
    k.reach_pin_entry(&GOOD, 3);
    for attempt in 0..script.wrong_attempts {
        k.type_pin(wrong);
        k.touch("ok");
        k.reply_card("verify", Err(CardFailure::wrong_pin(2 - attempt)));
    }
    if script.fumble {
        k.type_pin(&pin[..2]);
        k.touch("backspace");
        k.touch("clear");
        k.type_pin(&wrong[..3]);
        k.touch("ok"); // incomplete after the clear? 3 digits: refused locally
        k.touch("clear");
    }
    match script.end {
        0 => {
            k.type_pin(&pin[..3]);
            k.touch("cancel");
        }
        1 => {
            k.type_pin(&pin[..2]);
            k.wait(61);
        }
        2 => {
            k.type_pin(pin);
            k.remove();
        }
        3 => {
            k.type_pin(pin);
            k.touch("ok");
            k.reply_card("verify", Err(CardFailure::new(JpkiErrorKind::PinBlocked)));
        }
        _ => {
            k.verify_ok(pin);
            k.authenticate(&GOOD);
            k.reply_backend(Ok(BackendOk::Offers(deliver(offers()))));
            k.remove();
            k.touch("document:juminhyo");
            k.touch("confirm");
            k.pay(300);
            let issued = k.good_issued();
            k.reply_backend(Ok(BackendOk::Issued(issued)));
            k.ev(Event::PrinterStatus(PrinterEvent::Finished { issuance_number: "N-1".into(), pages: 1 }));
        }
    }
    if k.screen() != ScreenId::Idle {
        k.touch("ok");
        k.touch("finish");
        if k.screen() == ScreenId::TakeCard {
            k.remove();
        }
    }
    let mut text = k.log.join("\n");
    text.push_str(&format!("\n{:?}\n{:?}", k.s, k.view()));
    text.push_str(&format!("\n{:?}", k.views));
    (text, k)
}

#[test]
fn nothing_the_session_emits_depends_on_the_pin() {
    let _ = log::set_logger(&CAPTURE);
    log::set_max_level(log::LevelFilter::Trace);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut pins = Vec::new();
    for _ in 0..60 {
        let script = Script { wrong_attempts: rng.below(3) as u8, fumble: rng.below(2) == 1, end: rng.below(5) as u8 };
        let (a, b) = (rng.pin(), rng.pin());
        let (wa, wb) = (rng.pin(), rng.pin());
        let (text_a, k) = play(script, &a, &wa);
        let (text_b, _) = play(script, &b, &wb);
        // Same script, different secrets: every byte of output is the same, so no digit can
        // have leaked into a view, an effect, an audit record or the session's Debug.
        assert_eq!(text_a, text_b, "{script:?}");
        assert!(k.s.pin_wiped(), "{script:?}");
        assert_eq!(k.s.view().pin, PinPad::default());
        pins.push(a);
    }
    let lines = LINES.lock().map(|l| l.join("\n")).unwrap_or_default();
    for p in pins {
        // The captured log lines are shared with tests running alongside; none of them may
        // spell a typed PIN either (no session log line carries four digits in a row).
        assert!(!lines.contains(&p), "PIN {p} in a log line");
    }
}

#[test]
fn the_pin_is_wiped_on_each_path_through_the_buffer() {
    let mut k = K::new();
    k.reach_pin_entry(&GOOD, 3);
    k.type_pin("8573");
    k.touch("ok");
    // Moved into the Verify command: the buffer is already zero while the card works.
    assert!(k.s.pin_pad().unwrap().is_wiped());
    k.reply_card("verify", Err(CardFailure::wrong_pin(2)));
    k.type_pin("12");
    // The session's Debug shows how many digits are typed, never which.
    assert!(format!("{:?}", k.s).contains("PinBuffer(2 typed)"), "{:?}", k.s);
    k.touch("cancel");
    // The pad went with the phase, wiped: nothing of it is left to show.
    assert!(k.s.in_transaction() && k.s.pin_wiped());
    assert!(format!("{:?}", k.s).contains("pin: None"), "{:?}", k.s);
}

#[test]
fn touch_and_action_debug_never_show_a_digit() {
    let t = Touch::new("digit:7");
    assert!(!format!("{t:?}").contains('7'));
    let t = Touch::new("key:Q");
    assert!(!format!("{t:?}").contains('Q'));
    assert!(format!("{:?}", Touch::new("document:juminhyo")).contains("juminhyo"));
}

/// A key of the PIN pad travels as its digit or letter, not as its action id, so no string
/// spelling a PIN key (`digit:7`) is made on the way from the UI to the pad.
#[test]
fn pin_pad_touches_carry_the_key_not_its_action_id() {
    use crate::pin::Action;
    for d in 0..=9u8 {
        let t = Touch::new(&format!("digit:{d}"));
        assert!(t.is_pin_key());
        assert_eq!(t.action(), Action::Digit(d));
    }
    assert_eq!(Touch::new("key:Q").action(), Action::Key('Q'));
    assert!(Touch::new("key:Q").is_pin_key());
    for other in ["digit:77", "digit:", "digit:a", "key:q", "ok", "document:juminhyo"] {
        assert!(!Touch::new(other).is_pin_key(), "{other}");
    }
    assert_eq!(Touch::new("digit:x").action(), Action::Unknown);
    // The digits still reach the pad.
    let mut k = K::new();
    k.reach_pin_entry(&GOOD, 3);
    k.type_pin("85");
    assert_eq!(k.view().pin.typed, 2);
}
