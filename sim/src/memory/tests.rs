//! The in-memory readers through the drivers' traits, with the JPKI profile on top.

use super::*;
use crate::card::tests::{test_keys, test_profile};
use crate::card::{VirtualCard, ATR_CONTACT, ATR_CONTACTLESS};
use crate::profile::TokenKind;
use madoguchi_drivers::jpki::{CertificateEf, JpkiCard, JpkiError, JpkiErrorKind, Pin, PinKind, PinStatus, SigningKey};
use rsa::pkcs8::DecodePrivateKey;
use rsa::{Pkcs1v15Sign, RsaPrivateKey};
use sha2::{Digest, Sha256};

const CONTACT: &str = "Memory Reader 00";
const CONTACTLESS: &str = "Memory Reader 01 PICC";

fn readers() -> MemoryReaders {
    MemoryReaders::new(&[(CONTACT, ReaderInterface::Contact), (CONTACTLESS, ReaderInterface::Contactless)])
}

fn slot(atr: &[u8]) -> CardSlot {
    CardSlot::new(VirtualCard::new(test_profile(), TokenKind::Card), atr)
}

fn wait(session: &mut dyn Readers) -> Vec<ReaderEvent> {
    session.wait(Some(Duration::from_secs(5))).expect("wait")
}

fn open(session: &dyn Readers, reader: &str) -> JpkiCard<Box<dyn CardConnection>> {
    JpkiCard::open(session.connect(reader).expect("connect")).expect("open JPKI")
}

#[test]
fn a_session_hears_readers_and_cards_come_and_go() {
    let r = readers();
    r.place(CONTACT, slot(&ATR_CONTACT)).unwrap();
    let mut s = r.open().unwrap();
    assert_eq!(
        wait(s.as_mut()),
        [
            ReaderEvent::ReaderAdded { reader: CONTACT.into(), interface: ReaderInterface::Contact },
            ReaderEvent::CardPresented {
                reader: CONTACT.into(),
                interface: ReaderInterface::Contact,
                atr: ATR_CONTACT.to_vec()
            },
            ReaderEvent::ReaderAdded { reader: CONTACTLESS.into(), interface: ReaderInterface::Contactless },
        ]
    );
    assert_eq!(s.reader_with_card().unwrap(), Some((CONTACT.to_string(), ReaderInterface::Contact)));
    // Nothing changed: a wait with a timeout gives nothing.
    assert!(s.wait(Some(Duration::from_millis(20))).unwrap().is_empty());

    assert!(r.remove(CONTACT).is_some());
    assert_eq!(wait(s.as_mut()), [ReaderEvent::CardRemoved { reader: CONTACT.into() }]);
    assert_eq!(s.reader_with_card().unwrap(), None);

    r.place(CONTACTLESS, slot(&ATR_CONTACTLESS)).unwrap();
    assert!(
        matches!(&wait(s.as_mut())[..], [ReaderEvent::CardPresented { interface: ReaderInterface::Contactless, atr, .. }] if atr == &ATR_CONTACTLESS)
    );
    assert_eq!(r.place(CONTACTLESS, slot(&ATR_CONTACTLESS)), Err(PlaceError::Occupied(CONTACTLESS.into())));
    assert_eq!(r.place("nowhere", slot(&ATR_CONTACT)), Err(PlaceError::NoSuchReader("nowhere".into())));

    // Unplugging a reader with a card on it: the card goes first, then the reader.
    assert!(r.unplug(CONTACTLESS).is_some());
    assert_eq!(
        wait(s.as_mut()),
        [
            ReaderEvent::CardRemoved { reader: CONTACTLESS.into() },
            ReaderEvent::ReaderRemoved { reader: CONTACTLESS.into() }
        ]
    );
    assert_eq!(s.list().unwrap(), [(CONTACT.to_string(), ReaderInterface::Contact)]);
}

#[test]
fn the_jpki_profile_runs_on_the_virtual_card() {
    let r = readers();
    let stored = Arc::new(Mutex::new(Vec::new()));
    let store = stored.clone();
    let persisted = slot(&ATR_CONTACT).with_persist(Box::new(move |p| {
        store.lock().unwrap().push(p.jpki.auth_pin.tries_left);
        Ok(())
    }));
    r.place(CONTACT, persisted).unwrap();
    let s = r.open().unwrap();
    let conn = s.connect(CONTACT).unwrap();
    assert_eq!((conn.reader(), conn.atr()), (CONTACT, &ATR_CONTACT[..]));
    let mut card = JpkiCard::open(conn).unwrap();
    assert_eq!(card.token(), madoguchi_drivers::jpki::TokenKind::Card);
    assert_eq!(card.read_certificate(CertificateEf::UserAuth).unwrap(), test_profile().jpki.auth_cert);
    let tries = |card: &mut JpkiCard<Box<dyn CardConnection>>| match card.pin_status(PinKind::UserAuth).unwrap() {
        PinStatus::Tries(t) => (t.left, t.max),
        other => panic!("{other:?}"),
    };
    assert_eq!(tries(&mut card), (3, 3));

    let wrong = Pin::new(PinKind::UserAuth, "0000").unwrap();
    assert!(matches!(card.verify(&wrong), Err(JpkiError::WrongPin { tries_left: 2, .. })));
    assert_eq!(tries(&mut card), (2, 3));
    card.verify(&Pin::new(PinKind::UserAuth, "1234").unwrap()).unwrap();
    assert_eq!(*stored.lock().unwrap(), [2, 3], "every counter change is stored before the answer");

    let hash: [u8; 32] = Sha256::digest(b"challenge").into();
    let signature = card.sign_sha256(SigningKey::UserAuth, &hash).unwrap();
    let key = RsaPrivateKey::from_pkcs8_der(&test_keys().0).unwrap();
    key.to_public_key().verify(Pkcs1v15Sign::new::<Sha256>(), &hash, &signature).expect("signature verifies");
    assert_eq!(r.with_card(CONTACT, |c| c.card().profile().jpki.auth_pin.tries_left), Some(3));

    // Released: the card is reset, so the verified PIN does not outlive the connection.
    card.into_transport().release();
    let mut card = open(s.as_ref(), CONTACT);
    assert_eq!(card.sign_sha256(SigningKey::UserAuth, &hash).unwrap_err().kind(), JpkiErrorKind::SecurityStatus);
}

#[test]
fn a_pulled_card_is_removed_for_its_connection_even_when_another_is_placed() {
    let r = readers();
    r.place(CONTACT, slot(&ATR_CONTACT)).unwrap();
    let s = r.open().unwrap();
    let mut card = open(s.as_ref(), CONTACT);
    let pulled = r.remove(CONTACT).expect("the card was there");
    assert_eq!(card.pin_status(PinKind::UserAuth).unwrap_err().kind(), JpkiErrorKind::Removed);
    r.place(CONTACT, pulled).unwrap();
    assert_eq!(card.pin_status(PinKind::UserAuth).unwrap_err().kind(), JpkiErrorKind::Removed);
    // A new connection talks to the card now on the reader.
    let mut again = open(s.as_ref(), CONTACT);
    assert!(matches!(again.pin_status(PinKind::UserAuth), Ok(PinStatus::Tries(_))));
    assert!(matches!(s.connect(CONTACTLESS).map(|_| ()), Err(TransportError::CardRemoved)));
    assert!(matches!(s.connect("nowhere").map(|_| ()), Err(TransportError::ReaderUnavailable { .. })));
}

#[test]
fn a_canceller_ends_a_wait_from_another_thread() {
    let r = readers();
    let mut s = r.open().unwrap();
    assert_eq!(wait(s.as_mut()).len(), 2);
    let canceller = s.canceller();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        canceller.cancel();
    });
    let started = Instant::now();
    assert!(matches!(s.wait(None), Err(TransportError::Cancelled)));
    t.join().unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    // Another session of the same readers is not cancelled.
    let mut other = r.open().unwrap();
    assert_eq!(wait(other.as_mut()).len(), 2);
}
