//! The view model the session emits, field by field: what the kiosk used to copy from the
//! session's own view (`firmware/src/kiosk/view.rs`, gone) is now built here, so each of the
//! copier's checks is made on the session's view building. What needs the real UI (the words a
//! resident reads, layouts) is in `ui/tests/session_screens.rs`.

use super::*;
use crate::view::{certificate_problem, hours, language, pin_pad};
use crate::view_model::{Choice, Countdown, Date, Failure, Hours, Order, Payment, PinPurpose, Screen};
use time::macros::{date, time};

/// Two municipalities, so the municipality list shows.
fn two_municipalities(k: &mut K) {
    k.reach_pin_entry(&GOOD, 3);
    k.verify_ok("8573");
    k.authenticate(&GOOD);
    let mut o = offers();
    o.municipalities.push(MunicipalityOffer {
        code: "011002".into(),
        name: "札幌市".into(),
        route: Route::Honseki,
        documents: vec![doc_offer("koseki-zenbu", 450, 1, &[], &[])],
        unavailable: vec![],
        notices: vec![],
    });
    k.reply_backend(Ok(BackendOk::Offers(deliver(o))));
    k.remove();
}

#[test]
fn every_screen_keeps_the_common_fields() {
    let mut k = K::new();
    assert_eq!(k.view().countdown, None, "idle has no time limit");
    k.touch("large-text");
    k.touch("high-contrast");
    k.touch("start");
    let v = k.view();
    assert_eq!(v.screen, ScreenId::ServiceMenu);
    assert!(v.large_text && v.high_contrast && v.can_go_back && v.can_cancel);
    assert_eq!(v.countdown, Some(Countdown { seconds_left: 60, more_time: true }));
    k.touch("service:certificates");
    k.reach_pin_entry(&GOOD, 3);
    k.verify_ok("8573");
    k.authenticate(&GOOD);
    k.reply_backend(Ok(BackendOk::Offers(deliver(offers()))));
    k.remove();
    k.touch("document:juminhyo");
    k.touch("confirm");
    k.pay(300);
    k.reply_backend(Ok(BackendOk::Issued(k.good_issued())));
    k.ev(Event::PrinterStatus(PrinterEvent::Finished { issuance_number: "N-1".into(), pages: 1 }));
    assert_eq!(k.screen(), ScreenId::TakeDocuments);
    // Every view of the transaction, whatever its screen, carries the resident's display choices
    // and the visit it was shown on.
    let screens: std::collections::BTreeSet<&str> = k.views.iter().map(|v| v.screen.id()).collect();
    assert!(screens.len() >= 9, "{screens:?}");
    for v in &k.views[2..] {
        assert!(v.large_text && v.high_contrast, "{}", v.screen);
        assert_eq!(v.screen.id(), Screen::from_id(v.screen.id()).unwrap().id(), "one screen list");
    }
    // No more time unless the session offers it: the end screens' countdowns are fixed.
    assert_eq!(k.view().countdown, Some(Countdown::fixed(30)));
    let mut k = K::new();
    k.reach_pin_entry(&GOOD, 3);
    k.touch("cancel");
    assert_eq!(k.screen(), ScreenId::Failure);
    assert_eq!(k.view().countdown, Some(Countdown::fixed(60)));
}

#[test]
fn languages_by_code_and_japanese_for_any_other() {
    for lang in Language::ALL {
        assert_eq!(language(lang.code()), lang);
    }
    for code in ["", "fr", "EN", "zh", "pt"] {
        assert_eq!(language(code), Language::Ja, "{code:?}");
    }
    let mut k = K::new();
    k.touch("language:vi");
    assert_eq!(k.view().language, Language::Vi);
}

#[test]
fn choices_keep_their_ids_labels_notes_fees_and_states() {
    let mut k = K::new();
    let services = k.view().services;
    assert_eq!(services[0], Choice::new("certificates"));
    assert_eq!(services[1], Choice::new("pin-reset"), "this kiosk offers the PIN reset in its hours");
    two_municipalities(&mut k);
    let v = k.view();
    assert_eq!(v.municipalities[0], Choice::new("141003").label("横浜市").note("residence"));
    assert_eq!(v.municipalities[1], Choice::new("011002").label("札幌市").note("honseki"));
    k.touch("municipality:141003");
    let v = k.view();
    assert_eq!(v.documents[0], Choice::new("juminhyo").label("title of juminhyo").fee(300));
    assert_eq!(v.documents[3], Choice::new("koseki-zenbu").enabled(false).note("not-now"));
    k.touch("document:juminhyo");
    k.touch("option:setainushi");
    let v = k.view();
    assert_eq!(v.options, vec![Choice::new("setainushi").selected(true), Choice::new("honseki")]);
    k.touch("back");
    k.touch("document:kazei");
    let v = k.view();
    assert_eq!(v.years[0], Choice::new("2025").label("2025").selected(true));
    assert_eq!(v.years[1], Choice::new("2024").label("2024"));
}

#[test]
fn the_pin_pad_is_a_count_and_tries_never_a_digit() {
    let mut k = K::new();
    k.reach_pin_entry(&GOOD, 3);
    k.type_pin("0000");
    k.touch("ok");
    k.reply_card("verify", Err(CardFailure::wrong_pin(2)));
    // Type-level: the pad names every field; none could hold a digit.
    let crate::view_model::PinPad { purpose, typed, min_len, max_len, tries_left, alphanumeric, previous_wrong, retry } =
        k.view().pin;
    assert_eq!((purpose, typed, min_len, max_len), (PinPurpose::Auth, 0, 4, 4));
    assert_eq!((tries_left, alphanumeric, previous_wrong, retry), (Some(2), false, true, None));
    k.type_pin("123");
    assert_eq!((k.view().pin.typed, k.view().pin.tries_left), (3, Some(2)));
    // the strong warning whenever the session says one try is left
    assert_eq!(pin_pad(0, 4, Some(1), true, false).tries_left, Some(1));
    assert_eq!(pin_pad(0, 4, None, true, false).tries_left, Some(1));
    // a count beyond the length cannot overflow the pad
    assert_eq!(pin_pad(9, 4, None, false, false).typed, 4);
    // verifying: the stage goes through, so the pad waits
    k.type_pin("4");
    k.touch("ok");
    assert_eq!(k.view().progress.stage, Stage::VerifyPin);
    assert_eq!(k.view().pin.typed, 4);
}

#[test]
fn certificate_notices_carry_their_dates() {
    let d = Date { year: 2025, month: 7, day: 15 };
    for (notice, problem) in [
        (CertificateNotice::Expired { last_day: date!(2025 - 07 - 15) }, CertificateProblem::Expired(d)),
        (
            CertificateNotice::ExpiringSoon { last_day: date!(2025 - 07 - 15), days_left: 43 },
            CertificateProblem::ExpiringSoon { last_day: d, days_left: 43 },
        ),
        (CertificateNotice::Revoked, CertificateProblem::Revoked),
        (CertificateNotice::Suspended, CertificateProblem::Suspended),
        (CertificateNotice::PinBlocked, CertificateProblem::PinBlocked),
        (CertificateNotice::NotYetValid, CertificateProblem::NotYetValid),
    ] {
        assert_eq!(certificate_problem(notice), problem);
    }
    let late = CertificateNotice::ExpiringSoon { last_day: date!(2025 - 07 - 15), days_left: -3 };
    assert!(matches!(certificate_problem(late), CertificateProblem::ExpiringSoon { days_left: 0, .. }));
    // and from a real session: the renewal reminder with its last day
    let mut k = K::new();
    k.touch("service:certificates");
    k.place();
    k.reply_card("read-token", Ok(CardOk::Token { token: TokenKind::Card, certificate: Some(EXPIRING.der.to_vec()) }));
    assert_eq!(
        k.view().certificate_problem,
        Some(CertificateProblem::ExpiringSoon { last_day: Date { year: 2025, month: 7, day: 15 }, days_left: 43 })
    );
}

#[test]
fn order_payment_and_change() {
    let mut k = K::new();
    k.reach_documents();
    k.touch("document:juminhyo");
    k.touch("option:setainushi");
    k.touch("ok");
    k.touch("copies:+");
    k.touch("ok");
    k.touch("confirm");
    assert_eq!(k.screen(), ScreenId::Payment);
    k.pay(100);
    let v = k.view();
    assert_eq!(
        v.order,
        Order {
            municipality: "横浜市".into(),
            document: "juminhyo".into(),
            document_label: "title of juminhyo".into(),
            options: vec!["setainushi".into()],
            year: None,
            copies: 2,
            max_copies: 3,
            fee_per_copy_yen: 300,
            total_yen: 600,
        }
    );
    assert_eq!(v.payment, Payment { inserted_yen: 100, change_yen: 0 });
    // a tax certificate's year goes with the order
    let mut k = K::new();
    k.reach_documents();
    k.touch("document:kazei");
    k.touch("year:2024");
    k.touch("ok");
    assert_eq!(k.view().order.year, Some(2024));
    // printing and take-documents carry the payment without the order
    let mut k = K::new();
    k.reach_payment();
    k.pay(500);
    assert_eq!(k.screen(), ScreenId::Printing);
    let v = k.view();
    let paid = Payment { inserted_yen: 500, change_yen: 0 };
    assert_eq!((v.payment, v.order.total_yen, v.order.document.as_str()), (paid, 300, ""));
    k.reply_backend(Ok(BackendOk::Issued(k.good_issued())));
    k.ev(Event::PrinterStatus(PrinterEvent::Finished { issuance_number: "N-1".into(), pages: 1 }));
    let v = k.view();
    assert_eq!(v.screen, ScreenId::TakeDocuments);
    assert_eq!((v.payment.change_yen, v.order.total_yen), (200, 300));
}

#[test]
fn failures_keep_their_code_money_reference_and_pages() {
    // printer jam after a page: refund under way, then returned
    let mut k = K::new();
    k.reach_printing();
    let reference = k.s.reference().unwrap().to_owned();
    k.ev(Event::PrinterStatus(PrinterEvent::Progress { issuance_number: "N-1".into(), pages_done: 1, pages_total: 2 }));
    k.ev(Event::PrinterStatus(PrinterEvent::Failed {
        issuance_number: "N-1".into(),
        kind: madoguchi_drivers::printer::ErrorKind::Jam,
        paper: madoguchi_drivers::printer::PaperOutcome::Pages(1),
    }));
    let failure =
        |money| Some(Failure { code: FailureCode::PrinterJam, money, reference: reference.clone(), pages_printed: 1 });
    assert_eq!(k.view().failure, failure(MoneyState::Returning { yen: 500 }));
    k.ev(Event::Payment(PaymentEvent::PaidOut { yen: 500 }));
    assert_eq!(k.view().failure, failure(MoneyState::Returned { yen: 500 }));
    // nothing inserted
    let mut k = K::new();
    k.reach_payment();
    k.touch("cancel");
    let reference = k.s.reference().unwrap().to_owned();
    let want = Failure { code: FailureCode::Cancelled, money: MoneyState::NotCharged, reference, pages_printed: 0 };
    assert_eq!(k.view().failure, Some(want));
    // a refund the cash unit could not give
    let mut k = K::new();
    k.reach_payment();
    k.pay(200);
    k.ev(Event::Payment(PaymentEvent::Fault { kind: CashFaultKind::Jam, yen_not_returned: 200 }));
    let reference = k.s.reference().unwrap().to_owned();
    let want =
        Failure { code: FailureCode::CashJam, money: MoneyState::Owed { yen: 200 }, reference, pages_printed: 0 };
    assert_eq!(k.view().failure, Some(want));
}

#[test]
fn unavailable_becomes_the_reason_and_hours_are_shown_as_text() {
    let h = ServiceHours { opens: time!(7:05), closes: time!(22:30), closed_days: vec![] };
    for (u, r) in [
        (None, Reason::None),
        (Some(Unavailable::Hours), Reason::Hours),
        (Some(Unavailable::ClosedDay), Reason::ClosedDay),
        (Some(Unavailable::Printer), Reason::Printer),
        (Some(Unavailable::Cash), Reason::Cash),
        (Some(Unavailable::Clock), Reason::Clock),
    ] {
        let year_end_closed = false;
        assert_eq!(hours(&h, u), Hours { opens: "7:05".into(), closes: "22:30".into(), reason: r, year_end_closed });
    }
    assert_eq!(K::new().view().hours, Hours::default(), "6:30-23:00 by default, as the UI says");
    let cfg = SessionConfig { hours: h, ..SessionConfig::default() };
    let mut k = K::with(cfg);
    assert_eq!(k.view().hours.opens, "7:05");
    k.ev(Event::PrinterStatus(PrinterEvent::Ready(false)));
    assert_eq!((k.screen(), k.view().hours.reason), (ScreenId::OutOfService, Reason::Printer));
}

#[test]
fn timeout_warning_knows_what_it_resumes_and_phones_are_phones() {
    let mut k = K::new();
    k.reach_payment();
    k.wait(106);
    assert_eq!(k.screen(), ScreenId::TimeoutWarning);
    assert_eq!(k.view().resumes, Some(ScreenId::Payment));
    for (token, phone) in [(TokenKind::Card, false), (TokenKind::Android, true), (TokenKind::Iphone, true)] {
        let mut k = K::new();
        assert!(!k.view().phone, "no token yet");
        k.place();
        let certificate = (token != TokenKind::Android).then(|| GOOD.der.to_vec());
        k.reply_card("read-token", Ok(CardOk::Token { token, certificate }));
        assert_eq!(k.view().phone, phone, "{token:?}");
    }
}

#[test]
fn touches_carry_the_screen_they_were_made_on() {
    let t = Touch::new("document:juminhyo").on(12);
    assert_eq!((t.action(), t.visit), (crate::pin::Action::Document("juminhyo".into()), Some(12)));
    let t = Touch::new("digit:7").on(3);
    assert!(!format!("{t:?}").contains('7'), "a PIN key never shows in Debug: {t:?}");
    // the visit is the one the view model carries
    let mut k = K::new();
    k.touch("start");
    let visit = k.view().visit;
    k.ev(Event::Touch(Touch::new("service:certificates").on(visit + 1)));
    assert_eq!(k.screen(), ScreenId::ServiceMenu, "a touch on a screen that has gone is dropped");
    k.ev(Event::Touch(Touch::new("service:certificates").on(visit)));
    assert_eq!(k.screen(), ScreenId::PlaceCard);
}
