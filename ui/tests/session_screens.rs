//! Every screen a real session shows, through the real UI (headless): what a resident reads on
//! the session's paths, and that each screen fits in every language and both orientations with
//! no layout problems. (The view model's fields themselves are checked where the session builds
//! them, `session/src/tests/view.rs`.)
//!
//! `MADOGUCHI_UI_REVIEW=DIR cargo test -p madoguchi-ui --test session_screens` also writes the
//! screens as PNGs (`DIR/<lang>/<W>x<H>/<nn>-<name>.png`) for people to look at.

use madoguchi_api::challenge::Purpose;
use madoguchi_drivers::card::ReaderInterface;
use madoguchi_drivers::jpki::{PinStatus, PinTries, TokenKind};
use madoguchi_drivers::printer::{ErrorKind as PrinterErrorKind, PaperOutcome};
use madoguchi_session::catalog::{CatalogCheck, CatalogRejection};
use madoguchi_session::testing::{self, backend_key, deliver, K};
use madoguchi_session::{
    BackendError, BackendOk, CardFailure, CardOk, CashFaultKind, CertificateCheck, CertificateFacts,
    CertificateRejection, DocumentBinding, DocumentCheck, DocumentOffer, DocumentRejection, Effect, Event, FailureCode,
    Issued, MoneyState, MunicipalityOffer, Now, Offers, OffersDelivery, OpId, PaymentEvent, PersonOffer, PrinterEvent,
    RecordKind, Refusal, Request, Route, ScreenId, Session, SessionConfig, SignedDocument, Touch, UnavailableDocument,
    ViewModel,
};
use madoguchi_ui as ui;
use sha2::{Digest, Sha256};
use std::time::Duration;
use time::macros::datetime;
use time::OffsetDateTime;

/// The texts the UI shows for `view` (headless, on this thread's UI): what a resident reads.
fn shown_texts(view: &ViewModel) -> Vec<String> {
    thread_local! {
        static UI: ui::Ui = ui::Ui::headless(1280, 800).expect("headless UI");
    }
    UI.with(|u| {
        u.set_view(view);
        u.visible_texts()
    })
}

// ---------------------------------------------------------------------------------------------
// what the session's paths say

/// A challenge as the backend makes it for kiosk K1 (the session signs nothing else).
fn challenge(purpose: Purpose) -> Vec<u8> {
    madoguchi_api::challenge::encode(purpose, "K1", &[3; 32]).expect("K1 can be carried")
}

#[test]
fn expired_certificate_is_explained_with_its_date_and_nothing_else_happens() {
    let mut k = K::new();
    k.touch("service:certificates");
    k.place();
    k.reply_card(
        "read-token",
        Ok(CardOk::Token { token: TokenKind::Card, certificate: Some(testing::EXPIRED.der.to_vec()) }),
    );
    assert_eq!(k.screen(), ScreenId::CertificateProblem);
    assert_eq!(
        k.view().certificate_problem,
        Some(ui::CertificateProblem::Expired(ui::Date { year: 2025, month: 3, day: 1 }))
    );
    assert_eq!(k.failure(), FailureCode::CertificateExpired);
    assert_eq!(k.card_commands, vec!["read-token", "release"], "no PIN status, no VERIFY");
    // the screen says the date, what to do, and that nothing was charged
    let shown = shown_texts(&k.view()).join("\n");
    assert!(shown.contains("2025年3月1日") && shown.contains("更新"), "{shown}");
    assert!(shown.contains("お金はいただいていません"), "{shown}");
    k.finish_and_check_idle();
}

#[test]
fn revoked_and_suspended_certificates_from_the_backend() {
    for (refusal, code, notice) in [
        (Refusal::CertificateRevoked, FailureCode::CertificateRevoked, ui::CertificateProblem::Revoked),
        (Refusal::CertificateSuspended, FailureCode::CertificateSuspended, ui::CertificateProblem::Suspended),
    ] {
        let mut k = K::new();
        k.reach_pin_entry(&testing::GOOD, 3);
        k.verify_ok("8573");
        k.reply_backend(Ok(BackendOk::Challenge {
            session_id: "S1".into(),
            challenge: challenge(Purpose::Authenticate),
        }));
        k.reply_card(
            "sign",
            Ok(CardOk::Signature {
                signature: vec![1; 256],
                certificate_fingerprint: testing::fingerprint(testing::GOOD.der),
            }),
        );
        k.reply_backend(Err(BackendError::Refused(refusal)));
        assert_eq!(k.screen(), ScreenId::CertificateProblem);
        assert_eq!(k.view().certificate_problem, Some(notice));
        assert_eq!(k.failure(), code);
        assert_eq!(k.closes(), 1, "the backend session is closed");
        k.finish_and_check_idle();
    }
    let mut k = K::new();
    k.reach_pin_entry(&testing::GOOD, 3);
    k.verify_ok("8573");
    k.reply_backend(Ok(BackendOk::Challenge { session_id: "S1".into(), challenge: challenge(Purpose::Authenticate) }));
    k.reply_card(
        "sign",
        Ok(CardOk::Signature {
            signature: vec![1; 256],
            certificate_fingerprint: testing::fingerprint(testing::GOOD.der),
        }),
    );
    k.reply_backend(Err(BackendError::Refused(Refusal::CertificateSuspended)));
    let shown = shown_texts(&k.view()).join("\n");
    assert!(shown.contains("0120-95-0178"), "the loss hotline is on the screen: {shown}");
}

#[test]
fn coin_jam_during_payment_and_a_refund_that_fails() {
    let mut k = K::new();
    k.reach_payment();
    k.pay(200);
    k.ev(Event::Payment(PaymentEvent::Fault { kind: CashFaultKind::Jam, yen_not_returned: 0 }));
    assert_eq!(k.failure(), FailureCode::CashJam);
    assert_eq!(k.refunded(), 200);
    assert!(k.backend.iter().all(|r| !matches!(r, Request::Issue(_))), "never issued");
    // The refund itself fails: the screen says how much is owed and the audit keeps it.
    k.ev(Event::Payment(PaymentEvent::Fault { kind: CashFaultKind::Jam, yen_not_returned: 200 }));
    let f = k.view().failure.unwrap();
    assert_eq!(f.money, MoneyState::Owed { yen: 200 });
    let shown = shown_texts(&k.view()).join("\n");
    assert!(shown.contains("200円をお返しできませんでした") && shown.contains(&f.reference), "{shown}");
    assert!(k.audited(|r| *r == RecordKind::MoneyOwed { yen: 200 }));
    k.finish_and_check_idle();
}

#[test]
fn the_failure_screen_says_what_happened_to_the_money_in_every_language() {
    // a real failure view of the session (a coin jam), with each money state
    let mut k = K::new();
    k.reach_payment();
    k.ev(Event::Payment(PaymentEvent::Fault { kind: CashFaultKind::Jam, yen_not_returned: 0 }));
    let mut v = k.view();
    assert_eq!(v.screen, ScreenId::Failure);
    let reference = v.failure.as_ref().expect("a failure").reference.clone();
    let cases = [
        (MoneyState::NotCharged, "お金はいただいていません。", "You have not been charged."),
        (MoneyState::Returned { yen: 300 }, "入れたお金300円はお返ししました。", "Your ¥300 has been returned."),
        (MoneyState::Returning { yen: 300 }, "入れたお金300円をお返ししています。", "Your ¥300 is being returned."),
        (MoneyState::Owed { yen: 200 }, "200円をお返しできませんでした。", "¥200 could not be returned."),
    ];
    for (money, ja, en) in cases {
        v.failure =
            Some(ui::Failure { code: FailureCode::CashJam, money, pages_printed: 0, reference: reference.clone() });
        v.language = ui::Language::Ja;
        let shown = shown_texts(&v);
        assert!(shown.iter().any(|t| t == ja), "{shown:?}");
        assert!(shown.iter().any(|t| t.contains(&reference)), "the reference to quote: {shown:?}");
        v.language = ui::Language::En;
        assert!(shown_texts(&v).iter().any(|t| t == en));
        if let MoneyState::Owed { .. } = money {
            assert!(shown.iter().any(|t| t.contains("受付番号をお伝えください")), "owed: call staff: {shown:?}");
        }
        // every language says something about the money, with the amount
        for lang in ui::Language::ALL {
            v.language = lang;
            let shown = shown_texts(&v).join("\n");
            if let MoneyState::Returned { yen } | MoneyState::Owed { yen } | MoneyState::Returning { yen } = money {
                assert!(shown.contains(&yen.to_string()), "{}: {shown}", lang.code());
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// a real session through every screen

const READER: &str = "ACS ACR1252 PICC";
const START: OffsetDateTime = datetime!(2025-06-02 10:00 +9);

struct Cert {
    der: &'static [u8],
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
}

const GOOD: Cert =
    Cert { der: b"CERT-GOOD", not_before: datetime!(2024-01-10 0:00 +9), not_after: datetime!(2029-02-17 23:59:59 +9) };
const EXPIRING: Cert = Cert {
    der: b"CERT-EXPIRING",
    not_before: datetime!(2020-07-01 0:00 +9),
    not_after: datetime!(2025-07-15 23:59:59 +9),
};
const EXPIRED: Cert = Cert {
    der: b"CERT-EXPIRED",
    not_before: datetime!(2020-03-01 0:00 +9),
    not_after: datetime!(2025-03-01 23:59:59 +9),
};
const TOMORROW: Cert = Cert {
    der: b"CERT-TOMORROW",
    not_before: datetime!(2025-06-03 0:00 +9),
    not_after: datetime!(2030-02-17 23:59:59 +9),
};

fn fingerprint(der: &[u8]) -> [u8; 32] {
    Sha256::digest(der).into()
}

struct FakeCerts;

impl CertificateCheck for FakeCerts {
    fn check(&self, der: &[u8], _at: OffsetDateTime) -> Result<CertificateFacts, CertificateRejection> {
        [GOOD, EXPIRING, EXPIRED, TOMORROW]
            .into_iter()
            .find(|c| c.der == der)
            .map(|c| CertificateFacts {
                fingerprint: fingerprint(c.der),
                not_before: c.not_before,
                not_after: c.not_after,
            })
            .ok_or(CertificateRejection::Untrusted)
    }
}

/// Takes the binding from a `session|fingerprint|kiosk|number|document|copies` payload: these
/// tests are about screens, the signature check has its own.
struct FakeDocs {
    catalog: CatalogCheck,
}

impl FakeDocs {
    fn new() -> FakeDocs {
        FakeDocs { catalog: CatalogCheck::new(madoguchi_api::PublicKey(backend_key().verifying_key())) }
    }
}

impl DocumentCheck for FakeDocs {
    fn held_catalog(&self) -> Option<i64> {
        self.catalog.held_version()
    }

    fn offers(&mut self, delivered: OffersDelivery) -> Result<Offers, CatalogRejection> {
        self.catalog.offers(delivered)
    }

    fn take_catalog(&mut self, catalog: &madoguchi_api::SignedBlob) -> Result<i64, CatalogRejection> {
        self.catalog.take(catalog)
    }

    fn check(&self, document: &SignedDocument) -> Result<DocumentBinding, DocumentRejection> {
        let f: Vec<&str> = document.payload.split('|').collect();
        let [session_id, fp, kiosk_id, number, doc, copies] = f[..] else { return Err(DocumentRejection::Malformed) };
        Ok(DocumentBinding {
            session_id: session_id.into(),
            certificate_fingerprint: fp.into(),
            kiosk_id: kiosk_id.into(),
            issuance_number: number.into(),
            document: doc.into(),
            copies: copies.parse().map_err(|_| DocumentRejection::Malformed)?,
        })
    }
}

fn offers() -> Offers {
    let doc = |kind: &str, title: &str, fee: u32, options: &[&str], years: &[i32]| DocumentOffer {
        kind: kind.into(),
        title: title.into(),
        fee_yen: fee,
        max_copies: 3,
        options: options.iter().map(|s| s.to_string()).collect(),
        years: years.to_vec(),
        persons: Vec::new(),
    };
    let person = |id: &str, name: &str, relationship: &str, me: bool| PersonOffer {
        id: id.into(),
        name: name.into(),
        relationship: relationship.into(),
        is_self: me,
    };
    // The household on a 住民票: the resident, a spouse with a long name, a child.
    let mut juminhyo = doc("juminhyo", "住民票の写し", 300, &["setainushi", "honseki", "kojin_bango"], &[]);
    juminhyo.persons = vec![
        person("R0001", "佐藤　健一", "世帯主", true),
        person("R0002", "ゴンザレス　マリア　フェルナンダ", "妻", false),
        person("R0003", "佐藤　翔", "子", false),
    ];
    Offers {
        municipalities: vec![
            MunicipalityOffer {
                code: "141003".into(),
                name: "横浜市".into(),
                route: Route::Residence,
                documents: vec![
                    juminhyo,
                    doc("kisaijiko", "住民票記載事項証明書", 300, &[], &[]),
                    doc("inkan", "印鑑登録証明書", 300, &[], &[]),
                    doc("kazei", "課税証明書", 300, &[], &[2025, 2024, 2023]),
                ],
                unavailable: vec![UnavailableDocument { kind: "koseki-zenbu".into(), reason: "closed_day".into() }],
                notices: vec!["12月8日(月)はシステム保守のため終日ご利用いただけません。".into()],
            },
            MunicipalityOffer {
                code: "011002".into(),
                name: "札幌市".into(),
                route: Route::Honseki,
                documents: vec![doc("koseki-zenbu", "戸籍全部事項証明書", 450, &[], &[])],
                unavailable: vec![
                    UnavailableDocument { kind: "koseki-kojin".into(), reason: "outside_service_hours".into() },
                    UnavailableDocument { kind: "fuhyo".into(), reason: "not_eligible".into() },
                ],
                notices: vec![],
            },
        ],
    }
}

/// A kiosk under test: a real session, fake workers, and every screen it showed worth keeping.
struct Tour {
    s: Session,
    t: Duration,
    wall: OffsetDateTime,
    card_op: Option<OpId>,
    backend_op: Option<(OpId, Request)>,
    shown: Vec<(String, ViewModel)>,
}

impl Tour {
    fn new() -> Tour {
        Tour::at(START)
    }

    fn at(wall: OffsetDateTime) -> Tour {
        let cfg = SessionConfig { kiosk_id: "K1".into(), ..SessionConfig::default() };
        let s = Session::new(cfg, Box::new(FakeCerts), Box::new(FakeDocs::new()), [42u8; 32]);
        let mut k = Tour { s, t: Duration::from_secs(1000), wall, card_op: None, backend_op: None, shown: vec![] };
        k.tick(0);
        k
    }

    fn ev(&mut self, e: Event) {
        for f in self.s.step(e) {
            match f {
                Effect::Card(c) => self.card_op = Some(c.op),
                Effect::Backend(b) if !b.request.is_durable() => self.backend_op = Some((b.op, b.request)),
                _ => {}
            }
        }
    }

    fn tick(&mut self, secs: u64) {
        self.t += Duration::from_secs(secs);
        self.wall += time::Duration::seconds(secs as i64);
        self.ev(Event::Tick(Now { mono: self.t, wall: self.wall }));
    }

    fn wait(&mut self, secs: u64) {
        for _ in 0..secs {
            self.tick(1);
        }
    }

    fn touch(&mut self, action: &str) {
        let visit = self.s.view().visit;
        self.ev(Event::Touch(Touch::new(action).on(visit)));
    }

    fn screen(&self) -> ScreenId {
        self.s.view().screen
    }

    /// Keeps the screen shown now under `name`, checking it is `screen`.
    fn keep(&mut self, name: &str, screen: ScreenId) {
        let v = self.s.view();
        assert_eq!(v.screen, screen, "{name}");
        self.shown.push((name.to_string(), v));
    }

    fn card(&mut self, result: Result<CardOk, CardFailure>) {
        let op = self.card_op.expect("a card command");
        self.ev(Event::CardReply { op, result });
    }

    fn backend(&mut self, result: Result<BackendOk, BackendError>) {
        let (op, _) = self.backend_op.clone().expect("a backend request");
        self.ev(Event::BackendReply { op, result });
    }

    fn place(&mut self) {
        self.ev(Event::CardPresented { reader: READER.into(), interface: ReaderInterface::Contactless, atr: vec![] });
    }

    fn remove(&mut self) {
        self.ev(Event::CardRemoved { reader: READER.into() });
    }

    fn read(&mut self, cert: &Cert) {
        self.card(Ok(CardOk::Token { token: TokenKind::Card, certificate: Some(cert.der.to_vec()) }));
    }

    fn tries(&mut self, left: u8) {
        self.card(Ok(CardOk::PinStatus(PinStatus::Tries(PinTries { left, max: 3 }))));
    }

    fn type_pin(&mut self, pin: &str) {
        for c in pin.chars() {
            self.touch(&format!("digit:{c}"));
        }
    }

    /// Idle to the PIN pad with the good card and `left` tries.
    fn reach_pin(&mut self, left: u8) {
        self.touch("service:certificates");
        self.place();
        self.read(&GOOD);
        self.tries(left);
        assert_eq!(self.screen(), ScreenId::PinEntry);
    }

    /// PIN, challenge, signature: waiting for the backend's authentication.
    fn sign_in(&mut self) {
        self.type_pin("8573");
        self.touch("ok");
        self.card(Ok(CardOk::Verified));
        self.backend(Ok(BackendOk::Challenge { session_id: "S1".into(), challenge: challenge(Purpose::Authenticate) }));
        self.card(Ok(CardOk::Signature { signature: vec![1; 256], certificate_fingerprint: fingerprint(GOOD.der) }));
    }

    fn authenticated(&mut self) {
        self.backend(Ok(BackendOk::Authenticated {
            session_id: "S1".into(),
            certificate_fingerprint: hex::encode(fingerprint(GOOD.der)),
        }));
    }

    /// Idle to payment for one 住民票 of Yokohama.
    fn reach_payment(&mut self) {
        self.reach_pin(3);
        self.sign_in();
        self.authenticated();
        self.backend(Ok(BackendOk::Offers(deliver(offers()))));
        self.remove();
        self.touch("municipality:141003");
        self.touch("document:juminhyo");
        self.touch("confirm");
        assert_eq!(self.screen(), ScreenId::Payment);
    }

    fn issued(&mut self, copies: u32) {
        let fp = hex::encode(fingerprint(GOOD.der));
        let document = SignedDocument {
            payload: format!("S1|{fp}|K1|N-1|juminhyo|{copies}"),
            signature: String::new(),
            key_id: String::new(),
            algorithm: "Ed25519".into(),
        };
        self.backend(Ok(BackendOk::Issued(Issued {
            issuance_number: "N-1".into(),
            total_yen: 300 * copies,
            document,
        })));
    }
}

/// Every screen a resident can meet, each from a real session: (name, view), in Japanese.
fn session_tour() -> Vec<(String, ViewModel)> {
    let mut out = Vec::new();

    // The main flow, with two wrong PINs, a wait and every choice screen.
    let mut k = Tour::new();
    k.keep("idle", ScreenId::Idle);
    k.touch("start");
    k.keep("service-menu", ScreenId::ServiceMenu);
    k.touch("service:certificates");
    k.keep("place-card", ScreenId::PlaceCard);
    k.place();
    k.keep("reading-card", ScreenId::ReadingCard);
    k.read(&GOOD);
    k.keep("reading-card-check", ScreenId::ReadingCard);
    k.tries(3);
    k.keep("pin-entry-3-tries", ScreenId::PinEntry);
    k.type_pin("12");
    k.keep("pin-entry-typing", ScreenId::PinEntry);
    k.type_pin("34");
    k.touch("ok");
    k.keep("pin-entry-verifying", ScreenId::PinEntry);
    k.card(Err(CardFailure::wrong_pin(2)));
    k.keep("pin-entry-wrong-2-tries", ScreenId::PinEntry);
    k.type_pin("5678");
    k.touch("ok");
    k.card(Err(CardFailure::wrong_pin(1)));
    k.keep("pin-entry-1-try", ScreenId::PinEntry);
    k.type_pin("8573");
    k.touch("ok");
    k.card(Ok(CardOk::Verified));
    k.keep("authenticating", ScreenId::Authenticating);
    k.backend(Ok(BackendOk::Challenge { session_id: "S1".into(), challenge: challenge(Purpose::Authenticate) }));
    k.keep("authenticating-sign", ScreenId::Authenticating);
    k.card(Ok(CardOk::Signature { signature: vec![1; 256], certificate_fingerprint: fingerprint(GOOD.der) }));
    k.authenticated();
    k.keep("remove-card", ScreenId::RemoveCard);
    k.backend(Ok(BackendOk::Offers(deliver(offers()))));
    k.remove();
    k.keep("choose-municipality", ScreenId::ChooseMunicipality);
    k.touch("municipality:011002");
    k.keep("choose-document-honseki", ScreenId::ChooseDocument);
    k.touch("back");
    k.touch("municipality:141003");
    k.keep("choose-document", ScreenId::ChooseDocument);
    k.touch("document:kazei");
    k.touch("year:2024");
    k.keep("document-options-year", ScreenId::DocumentOptions);
    k.touch("back");
    k.touch("document:juminhyo");
    k.touch("option:setainushi");
    k.keep("document-options", ScreenId::DocumentOptions);
    k.touch("ok");
    k.touch("copies:+");
    k.keep("copies", ScreenId::Copies);
    k.touch("ok");
    k.keep("confirm", ScreenId::Confirm);
    k.touch("confirm");
    k.keep("payment", ScreenId::Payment);
    k.ev(Event::Payment(PaymentEvent::Inserted { total_yen: 100 }));
    k.keep("payment-100-in", ScreenId::Payment);
    k.wait(106);
    k.keep("timeout-warning-payment", ScreenId::TimeoutWarning);
    k.touch("more-time");
    assert_eq!(k.screen(), ScreenId::Payment);
    k.ev(Event::Payment(PaymentEvent::Inserted { total_yen: 1100 }));
    k.keep("printing-issue", ScreenId::Printing);
    k.issued(2);
    k.ev(Event::PrinterStatus(PrinterEvent::Progress { issuance_number: "N-1".into(), pages_done: 1, pages_total: 2 }));
    k.keep("printing", ScreenId::Printing);
    k.ev(Event::PrinterStatus(PrinterEvent::Finished { issuance_number: "N-1".into(), pages: 2 }));
    k.keep("take-documents", ScreenId::TakeDocuments);
    out.append(&mut k.shown);

    // A wait that cannot be extended any more: the warning says so.
    let mut k = Tour::new();
    k.reach_pin(3);
    for _ in 0..3 {
        k.wait(46);
        k.touch("more-time");
    }
    k.wait(46);
    k.keep("timeout-warning-last", ScreenId::TimeoutWarning);
    out.append(&mut k.shown);

    // Certificates: expiring (a notice), expired (and the card left on the reader), not yet
    // valid, PIN blocked, revoked and suspended (from the backend).
    let mut k = Tour::new();
    k.touch("service:certificates");
    k.place();
    k.read(&EXPIRING);
    k.keep("certificate-problem-expiring-soon", ScreenId::CertificateProblem);
    out.append(&mut k.shown);
    let mut k = Tour::new();
    k.touch("service:certificates");
    k.place();
    k.read(&EXPIRED);
    k.keep("certificate-problem-expired", ScreenId::CertificateProblem);
    k.touch("finish");
    k.keep("take-card", ScreenId::TakeCard);
    out.append(&mut k.shown);
    let mut k = Tour::new();
    k.place();
    k.read(&TOMORROW);
    k.keep("certificate-problem-not-yet-valid", ScreenId::CertificateProblem);
    out.append(&mut k.shown);
    let mut k = Tour::new();
    k.touch("service:certificates");
    k.place();
    k.read(&GOOD);
    k.card(Ok(CardOk::PinStatus(PinStatus::Blocked)));
    k.keep("certificate-problem-pin-blocked", ScreenId::CertificateProblem);
    out.append(&mut k.shown);
    for (name, refusal) in [
        ("certificate-problem-revoked", Refusal::CertificateRevoked),
        ("certificate-problem-suspended", Refusal::CertificateSuspended),
    ] {
        let mut k = Tour::new();
        k.reach_pin(3);
        k.sign_in();
        k.backend(Err(BackendError::Refused(refusal)));
        k.keep(name, ScreenId::CertificateProblem);
        out.append(&mut k.shown);
    }

    // A phone on the reader: "take your phone".
    let mut k = Tour::new();
    k.touch("service:certificates");
    k.place();
    k.card(Ok(CardOk::Token { token: TokenKind::Android, certificate: None }));
    k.tries(3);
    k.type_pin("8573");
    k.touch("ok");
    k.card(Ok(CardOk::Verified));
    k.card(Ok(CardOk::Certificate(GOOD.der.to_vec())));
    k.backend(Ok(BackendOk::Challenge { session_id: "S1".into(), challenge: challenge(Purpose::Authenticate) }));
    k.card(Ok(CardOk::Signature { signature: vec![1; 256], certificate_fingerprint: fingerprint(GOOD.der) }));
    k.authenticated();
    k.keep("remove-card-phone", ScreenId::RemoveCard);
    out.append(&mut k.shown);

    // The PIN reset, both directions: choice, card, the other credential, the new value twice
    // (a mismatch on the way), done; and the locked PIN's screen offering it.
    let mut k = Tour::new();
    k.touch("service:pin-reset");
    k.keep("pin-reset-choose", ScreenId::PinResetChoose);
    k.touch("reset:auth-pin");
    k.keep("place-card-reset", ScreenId::PlaceCard);
    k.place();
    k.read(&GOOD);
    k.card(Ok(CardOk::PinStatus(PinStatus::Tries(PinTries { left: 5, max: 5 }))));
    k.backend(Ok(BackendOk::ResetOpened {
        session_id: "R1".into(),
        challenge: challenge(Purpose::PinReset),
        reservation_expires_at: "2025-06-03T09:00:00+09:00".into(),
    }));
    k.keep("password-entry", ScreenId::PasswordEntry);
    for key in ["key:A", "key:B", "digit:1"] {
        k.touch(key);
    }
    k.keep("password-entry-typing", ScreenId::PasswordEntry);
    for key in ["digit:2", "digit:3", "key:C", "ok"] {
        k.touch(key);
    }
    k.card(Err(CardFailure::wrong_pin(1)));
    k.keep("password-entry-wrong-1-try", ScreenId::PasswordEntry);
    for key in ["key:A", "key:B", "key:C", "digit:1", "digit:2", "digit:3", "ok"] {
        k.touch(key);
    }
    k.card(Ok(CardOk::Verified));
    k.card(Ok(CardOk::Certificate(b"SIGN-CERT".to_vec())));
    k.keep("authenticating-reset-sign", ScreenId::Authenticating);
    k.card(Ok(CardOk::Signature { signature: vec![1; 256], certificate_fingerprint: fingerprint(GOOD.der) }));
    k.backend(Ok(BackendOk::ResetAuthenticated { session_id: "R1".into() }));
    k.card(Ok(CardOk::ResetChallenge([1; 8])));
    k.backend(Ok(BackendOk::ResetAuthorised { authorisation: [2; 64] }));
    k.keep("new-pin-entry", ScreenId::NewPinEntry);
    k.type_pin("0420");
    k.touch("ok");
    k.keep("new-pin-confirm", ScreenId::NewPinConfirm);
    k.type_pin("0421");
    k.touch("ok");
    k.keep("new-pin-entry-mismatch", ScreenId::NewPinEntry);
    k.type_pin("0420");
    k.touch("ok");
    k.type_pin("0420");
    k.touch("ok");
    k.card(Ok(CardOk::ResetDone { tries_left: 3 }));
    k.keep("pin-reset-done", ScreenId::PinResetDone);
    out.append(&mut k.shown);
    let mut k = Tour::new();
    k.touch("service:pin-reset");
    k.touch("reset:sign-password");
    k.place();
    k.read(&GOOD);
    k.card(Ok(CardOk::PinStatus(PinStatus::Tries(PinTries { left: 3, max: 3 }))));
    k.backend(Ok(BackendOk::ResetOpened {
        session_id: "R1".into(),
        challenge: challenge(Purpose::PinReset),
        reservation_expires_at: "2025-06-03T09:00:00+09:00".into(),
    }));
    k.keep("pin-entry-reset-sign", ScreenId::PinEntry);
    k.type_pin("8573");
    k.touch("ok");
    k.card(Ok(CardOk::Verified));
    k.card(Ok(CardOk::Signature { signature: vec![1; 256], certificate_fingerprint: fingerprint(GOOD.der) }));
    k.backend(Ok(BackendOk::ResetAuthenticated { session_id: "R1".into() }));
    k.card(Ok(CardOk::ResetChallenge([1; 8])));
    k.backend(Ok(BackendOk::ResetAuthorised { authorisation: [2; 64] }));
    for key in ["key:A", "key:B", "key:C", "key:D", "key:E", "key:F", "ok"] {
        k.touch(key);
    }
    k.keep("new-pin-entry-sign-rule", ScreenId::NewPinEntry);
    out.append(&mut k.shown);
    let mut k = Tour::new();
    k.touch("service:pin-reset");
    k.touch("reset:auth-pin");
    k.place();
    k.card(Ok(CardOk::Token { token: TokenKind::Android, certificate: None }));
    k.keep("failure-reset-phone", ScreenId::Failure);
    out.append(&mut k.shown);

    // Failures and the money: a jam after a page (refund under way, then returned), a coin
    // jam whose refund failed (owed), a cancel, a card taken off too early, the backend down.
    let mut k = Tour::new();
    k.reach_payment();
    k.ev(Event::Payment(PaymentEvent::Inserted { total_yen: 500 }));
    k.issued(1);
    k.ev(Event::PrinterStatus(PrinterEvent::Progress { issuance_number: "N-1".into(), pages_done: 1, pages_total: 2 }));
    k.ev(Event::PrinterStatus(PrinterEvent::Failed {
        issuance_number: "N-1".into(),
        kind: PrinterErrorKind::Jam,
        paper: PaperOutcome::Pages(1),
    }));
    k.keep("failure-printer-jam-refunding", ScreenId::Failure);
    k.ev(Event::Payment(PaymentEvent::PaidOut { yen: 500 }));
    k.keep("failure-printer-jam-refunded", ScreenId::Failure);
    out.append(&mut k.shown);
    let mut k = Tour::new();
    k.reach_payment();
    k.ev(Event::Payment(PaymentEvent::Inserted { total_yen: 200 }));
    k.ev(Event::Payment(PaymentEvent::Fault { kind: CashFaultKind::Jam, yen_not_returned: 200 }));
    k.keep("failure-cash-jam-owed", ScreenId::Failure);
    out.append(&mut k.shown);
    let mut k = Tour::new();
    k.reach_pin(3);
    k.touch("cancel");
    k.keep("failure-cancelled", ScreenId::Failure);
    out.append(&mut k.shown);
    let mut k = Tour::new();
    k.touch("service:certificates");
    k.place();
    k.remove();
    k.keep("failure-card-removed", ScreenId::Failure);
    out.append(&mut k.shown);
    let mut k = Tour::new();
    k.reach_pin(3);
    k.sign_in();
    k.backend(Err(BackendError::Refused(Refusal::NotEligible)));
    k.keep("failure-not-eligible", ScreenId::Failure);
    out.append(&mut k.shown);

    // The kiosk closed or out of service.
    let mut k = Tour::at(datetime!(2025-06-02 23:30 +9));
    k.keep("closed-hours", ScreenId::Closed);
    out.append(&mut k.shown);
    let mut k = Tour::at(datetime!(2025-12-30 10:00 +9));
    k.keep("closed-day", ScreenId::Closed);
    out.append(&mut k.shown);
    let mut k = Tour::new();
    k.ev(Event::PrinterStatus(PrinterEvent::Ready(false)));
    k.keep("out-of-service-printer", ScreenId::OutOfService);
    out.append(&mut k.shown);
    let mut k = Tour::new();
    k.ev(Event::Payment(PaymentEvent::Ready(false)));
    k.keep("out-of-service-cash", ScreenId::OutOfService);
    out.append(&mut k.shown);
    let mut k = Tour::at(datetime!(2000-01-01 0:00 UTC));
    k.keep("out-of-service-clock", ScreenId::OutOfService);
    out.append(&mut k.shown);

    // Every other failure code on the failure screen the session builds (the same view, another
    // code): each catalogue entry must fit in every language too.
    let failure = out.iter().find(|(n, _)| n == "failure-printer-jam-refunded").map(|(_, v)| v.clone());
    let failure = failure.expect("a failure view");
    for code in FailureCode::ALL {
        let mut v = failure.clone();
        if code.is_certificate_problem() {
            v.screen = ScreenId::CertificateProblem;
        }
        if let Some(f) = v.failure.as_mut() {
            f.code = code;
            f.pages_printed = 0;
        }
        out.push((format!("failure-code-{code}"), v));
    }
    out
}

#[test]
fn the_tour_meets_every_screen_the_session_shows() {
    let tour = session_tour();
    let met: std::collections::BTreeSet<&str> = tour.iter().map(|(_, v)| v.screen.id()).collect();
    for screen in ScreenId::ALL {
        // the full-screen language picker is the UI's own (the session switches languages by
        // the top bar's chips).
        if screen != ScreenId::Language {
            assert!(met.contains(screen.id()), "no session view shows {screen}");
        }
    }
}

const SIZES: [(u32, u32); 2] = [(1280, 800), (1080, 1920)];

#[test]
fn every_screen_of_the_session_fits_in_every_language_and_orientation() {
    let review = std::env::var_os("MADOGUCHI_UI_REVIEW").map(std::path::PathBuf::from);
    let tour = session_tour();
    let ui = ui::Ui::headless(1280, 800).expect("headless UI");
    let mut problems = Vec::new();
    for lang in ui::Language::ALL {
        for (w, h) in SIZES {
            ui.resize(w, h);
            for (i, (name, v)) in tour.iter().enumerate() {
                let mut v = v.clone();
                v.language = lang;
                for large in [false, true] {
                    v.large_text = large;
                    ui.set_view(&v);
                    assert_eq!(ui.screen_id(), v.screen.id());
                    let texts = ui.visible_texts();
                    assert!(!texts.iter().any(|t| t.contains("8573") || t.contains("5678")), "{name}: a PIN on screen");
                    for p in ui.layout_problems() {
                        let l = if large { " large" } else { "" };
                        problems.push(format!("{} {w}x{h}{l} {name}: {p}", lang.code()));
                    }
                    if let (Some(dir), false) = (&review, large) {
                        let dir = dir.join(lang.code()).join(format!("{w}x{h}"));
                        std::fs::create_dir_all(&dir).expect("review dir");
                        ui.render_png(&dir.join(format!("{i:02}-{name}.png")), w, h).expect("png");
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "{} layout problems:\n{}", problems.len(), problems.join("\n"));
}
