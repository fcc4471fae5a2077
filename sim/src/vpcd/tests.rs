//! The vpcd link against a fake vpcd on a loopback socket.

use super::*;
use crate::card::tests::test_profile;
use crate::card::{VirtualCard, ATR_CONTACT, ATR_CONTACTLESS};
use crate::profile::{CardProfile, TokenKind};
use std::net::TcpListener;
use std::sync::mpsc::Receiver;
use std::time::Instant;

const SELECT_JPKI: [u8; 15] =
    [0x00, 0xA4, 0x04, 0x0C, 0x0A, 0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01];
const WRONG_PIN: [u8; 9] = [0x00, 0x20, 0x00, 0x98, 0x04, 0x30, 0x30, 0x30, 0x30];
const PIN_STATUS: [u8; 4] = [0x00, 0x20, 0x00, 0x98];

/// Collects stored retry counters (auth PIN tries left) and log lines.
#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn slot(atr: &[u8]) -> (CardSlot, Arc<Mutex<Vec<u8>>>, Sink) {
    let stored = Arc::new(Mutex::new(Vec::new()));
    let stored2 = stored.clone();
    let log = Sink::default();
    let slot = CardSlot::new(VirtualCard::new(test_profile(), TokenKind::Card), atr)
        .with_persist(Box::new(move |p: &CardProfile| {
            stored2.lock().unwrap().push(p.jpki.auth_pin.tries_left);
            Ok(())
        }))
        .with_apdu_log(Box::new(log.clone()));
    (slot, stored, log)
}

fn send(s: &mut TcpStream, payload: &[u8]) {
    let mut f = (payload.len() as u16).to_be_bytes().to_vec();
    f.extend_from_slice(payload);
    s.write_all(&f).unwrap();
}

fn recv(s: &mut TcpStream) -> Vec<u8> {
    let mut len = [0u8; 2];
    s.read_exact(&mut len).unwrap();
    let mut p = vec![0u8; usize::from(u16::from_be_bytes(len))];
    s.read_exact(&mut p).unwrap();
    p
}

fn accept(l: &TcpListener) -> TcpStream {
    l.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match l.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                return s;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("the card never connected: {e}"),
        }
    }
}

fn next_event(rx: &Receiver<LinkEvent>) -> LinkEvent {
    rx.recv_timeout(Duration::from_secs(10)).expect("link event")
}

/// The peer closed: a read gives EOF (the card was removed).
fn assert_closed(s: &mut TcpStream) {
    let mut b = [0u8; 1];
    assert_eq!(s.read(&mut b).unwrap_or(0), 0);
}

fn events() -> (Box<dyn FnMut(LinkEvent) + Send>, Receiver<LinkEvent>) {
    let (tx, rx) = mpsc::channel();
    (Box::new(move |e| drop(tx.send(e))), rx)
}

#[test]
fn handle_controls_apdus_persistence_and_log() {
    let (mut slot, stored, log) = slot(&ATR_CONTACTLESS);
    assert_eq!(slot.handle(&[0x01]), None, "power on: no answer");
    assert_eq!(slot.handle(&[0x04]), Some(ATR_CONTACTLESS.to_vec()));
    assert_eq!(slot.handle(&[0x02]), None);
    assert_eq!(slot.handle(&[0x07]), None, "unknown control ignored");
    assert_eq!(slot.handle(&[]), None);
    assert_eq!(slot.handle(&SELECT_JPKI), Some(vec![0x90, 0x00]));
    assert!(stored.lock().unwrap().is_empty());
    assert_eq!(slot.handle(&WRONG_PIN), Some(vec![0x63, 0xC2]));
    assert_eq!(*stored.lock().unwrap(), vec![2], "stored before answering");
    assert_eq!(slot.handle(&PIN_STATUS), Some(vec![0x63, 0xC2]));
    assert_eq!(stored.lock().unwrap().len(), 1, "queries store nothing");
    // Power off clears the selection.
    slot.handle(&[0x00]);
    slot.handle(&[0x01]);
    assert_eq!(slot.handle(&PIN_STATUS), Some(vec![0x6A, 0x86]));
    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    assert_eq!(
        text,
        "C: 00 A4 04 0C Lc=10 -> 9000\nC: 00 20 00 98 Lc=4 -> 63C2\nC: 00 20 00 98 -> 63C2\nC: 00 20 00 98 -> 6A86\n"
    );
}

#[test]
fn failed_store_answers_memory_failure_and_retries() {
    let fail = Arc::new(AtomicBool::new(true));
    let fail2 = fail.clone();
    let calls = Arc::new(Mutex::new(0u32));
    let calls2 = calls.clone();
    let mut slot = CardSlot::new(VirtualCard::new(test_profile(), TokenKind::Card), &ATR_CONTACT).with_persist(
        Box::new(move |_p: &CardProfile| {
            *calls2.lock().unwrap() += 1;
            if fail2.load(Ordering::SeqCst) {
                Err("disk full".into())
            } else {
                Ok(())
            }
        }),
    );
    slot.handle(&[0x01]);
    slot.handle(&SELECT_JPKI);
    assert_eq!(slot.handle(&WRONG_PIN), Some(vec![0x65, 0x81]));
    fail.store(false, Ordering::SeqCst);
    assert_eq!(slot.handle(&PIN_STATUS), Some(vec![0x63, 0xC2]));
    assert_eq!(*calls.lock().unwrap(), 2, "still dirty, stored on the next APDU");
}

#[test]
fn serve_over_loopback_with_remove_and_insert() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (slot, stored, _log) = slot(&ATR_CONTACT);
    let (ev, rx) = events();
    let link = Link::insert(addr.clone(), slot, ev).unwrap();
    let mut s = accept(&listener);
    assert_eq!(next_event(&rx), LinkEvent::Inserted);

    // pcscd's sequence: power on, ATR, then APDUs; only ATR and APDUs are answered.
    send(&mut s, &[0x01]);
    send(&mut s, &[0x04]);
    assert_eq!(recv(&mut s), ATR_CONTACT.to_vec());
    send(&mut s, &SELECT_JPKI);
    assert_eq!(recv(&mut s), vec![0x90, 0x00]);
    send(&mut s, &WRONG_PIN);
    assert_eq!(recv(&mut s), vec![0x63, 0xC2]);
    assert_eq!(*stored.lock().unwrap(), vec![2]);
    // A 256-byte response in one frame.
    send(&mut s, &[0x00, 0x84, 0x00, 0x00, 0x00]);
    assert_eq!(recv(&mut s).len(), 258);

    // Pull the card: vpcd sees the socket close.
    let slot = link.remove().expect("link thread");
    assert_eq!(next_event(&rx), LinkEvent::Removed);
    assert_closed(&mut s);

    // Put it back: the counter is still spent, the selection is gone.
    let (ev, rx) = events();
    let link = Link::insert(addr, slot, ev).unwrap();
    let mut s = accept(&listener);
    assert_eq!(next_event(&rx), LinkEvent::Inserted);
    send(&mut s, &[0x01]);
    send(&mut s, &PIN_STATUS);
    assert_eq!(recv(&mut s), vec![0x6A, 0x86]);
    send(&mut s, &SELECT_JPKI);
    assert_eq!(recv(&mut s), vec![0x90, 0x00]);
    send(&mut s, &PIN_STATUS);
    assert_eq!(recv(&mut s), vec![0x63, 0xC2]);

    // vpcd going away (pcscd restart) is a removal; the card comes back by itself.
    drop(s);
    assert_eq!(next_event(&rx), LinkEvent::Removed);
    let mut s = accept(&listener);
    assert_eq!(next_event(&rx), LinkEvent::Inserted);
    send(&mut s, &[0x04]);
    assert_eq!(recv(&mut s), ATR_CONTACT.to_vec());
    let slot = link.remove().expect("link thread");
    assert_eq!(next_event(&rx), LinkEvent::Removed);
    assert_closed(&mut s);
    assert_eq!(slot.card().profile().jpki.auth_pin.tries_left, 2);
}

#[test]
fn waits_for_vpcd_to_listen_and_can_be_removed_while_waiting() {
    // A port nobody listens on (yet).
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let (slot, _, _) = slot(&ATR_CONTACT);
    let (ev, rx) = events();
    let link = Link::insert(addr.clone(), slot, ev).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(rx.try_recv().is_err(), "nothing to report while vpcd is down");
    let listener = TcpListener::bind(&addr).unwrap();
    let mut s = accept(&listener);
    assert_eq!(next_event(&rx), LinkEvent::Inserted);
    send(&mut s, &[0x04]);
    assert_eq!(recv(&mut s), ATR_CONTACT.to_vec());
    drop(listener);
    let slot = link.remove().expect("link");

    // Removing while still retrying returns promptly.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (ev, rx) = events();
    let link = Link::insert(format!("127.0.0.1:{port}"), slot, ev).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let t = Instant::now();
    assert!(link.remove().is_some());
    assert!(t.elapsed() < Duration::from_secs(3));
    assert!(rx.try_recv().is_err(), "never inserted, so never removed");
}

#[test]
fn serve_ends_on_eof_and_truncated_frames() {
    let (mut slot, _, _) = slot(&ATR_CONTACT);
    // A whole frame, then EOF: clean end.
    let mut io = Duplex::new(&[0x00, 0x01, 0x04]);
    serve(&mut io, &mut slot).unwrap();
    assert_eq!(io.out, [&[0x00, 0x13][..], &ATR_CONTACT[..]].concat());
    // A frame cut in its payload: an error, not a panic or a hang.
    let mut io = Duplex::new(&[0x00, 0x05, 0x00, 0xA4]);
    assert!(serve(&mut io, &mut slot).is_err());
}

/// An in-memory stream: reads from a script, collects writes.
struct Duplex {
    input: io::Cursor<Vec<u8>>,
    out: Vec<u8>,
}

impl Duplex {
    fn new(input: &[u8]) -> Self {
        Self { input: io::Cursor::new(input.to_vec()), out: Vec::new() }
    }
}

impl Read for Duplex {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.input.read(buf)
    }
}

impl Write for Duplex {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.out.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
