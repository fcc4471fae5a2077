//! The resident's paths that end with documents, and the certificate and PIN paths.

use super::*;

#[test]
fn happy_path_card_to_documents_to_idle() {
    let mut k = K::new();
    assert_eq!(k.screen(), ScreenId::Idle);
    assert!(k.view().services.iter().any(|c| c.id == "certificates" && c.enabled));
    k.touch("service:certificates");
    assert_eq!(k.signal(Output::CardSlotLamp), Level::Blink, "the lamp calls for the card");
    k.place();
    assert_eq!(k.signal(Output::CardSlotLamp), Level::Off);
    k.reply_card("read-token", Ok(CardOk::Token { token: TokenKind::Card, certificate: Some(GOOD.der.to_vec()) }));
    k.reply_card("pin-status", Ok(CardOk::PinStatus(PinStatus::Tries(PinTries { left: 3, max: 3 }))));
    // Tries left are on the pad before the first digit.
    let pad = k.view().pin;
    assert_eq!((pad.typed, pad.tries_left, pad.tries_left == Some(1)), (0, Some(3), false));
    k.type_pin("857");
    assert_eq!(k.view().pin.typed, 3);
    k.touch("ok"); // incomplete: nothing is sent
    assert_eq!(k.verifies, 0);
    k.type_pin("3");
    k.touch("ok");
    assert_eq!(k.verifies, 1);
    assert_eq!(k.screen(), ScreenId::PinEntry, "verifying stays on the pad, keys disabled");
    assert_eq!(k.view().progress.stage, Stage::VerifyPin);
    k.reply_card("verify", Ok(CardOk::Verified));
    assert_eq!(k.screen(), ScreenId::Authenticating);
    assert_eq!(k.view().pin, PinPad::default(), "no PIN pad (not even a count) after VERIFY");

    // The card signs SHA-256 of the challenge.
    let challenge = k.challenge(madoguchi_api::challenge::Purpose::Authenticate);
    k.reply_backend(Ok(BackendOk::Challenge { session_id: "S1".into(), challenge: challenge.clone() }));
    assert!(k.log.last().is_some());
    let signed: [u8; 32] = Sha256::digest(&challenge).into();
    assert!(k.log.iter().any(|l| l.contains(&format!("{:?}", signed))));
    k.reply_card(
        "sign",
        Ok(CardOk::Signature { signature: vec![1; 256], certificate_fingerprint: fingerprint(GOOD.der) }),
    );
    let (_, req) = k.backend_op();
    assert_eq!(
        req,
        Request::Authenticate { session_id: "S1".into(), certificate: GOOD.der.to_vec(), signature: vec![1; 256] }
    );
    k.reply_backend(Ok(BackendOk::Authenticated {
        session_id: "S1".into(),
        certificate_fingerprint: hex::encode(fingerprint(GOOD.der)).to_uppercase(),
    }));
    // Remove the card before going on: lamp and chime, offers fetched meanwhile.
    assert_eq!(k.screen(), ScreenId::RemoveCard);
    assert_eq!(k.releases, 1);
    assert_eq!((k.signal(Output::CardSlotLamp), k.signal(Output::Chime)), (Level::Blink, Level::Blink));
    assert_eq!(k.backend_op().1, Request::Offers { session_id: "S1".into(), held_catalog: None });
    k.reply_backend(Ok(BackendOk::Offers(deliver(offers()))));
    assert_eq!(k.screen(), ScreenId::RemoveCard, "offers wait until the card is gone");
    k.remove();
    assert_eq!(k.signal(Output::Chime), Level::Off);
    assert_eq!(k.screen(), ScreenId::ChooseDocument);
    let docs = k.view().documents;
    assert_eq!(docs.len(), 4);
    assert!(docs.iter().any(|d| d.id == "koseki-zenbu" && !d.enabled && d.note == "not-now"));
    k.touch("document:koseki-zenbu"); // unavailable: nothing happens
    assert_eq!(k.screen(), ScreenId::ChooseDocument);

    k.touch("document:juminhyo");
    assert_eq!(k.screen(), ScreenId::DocumentOptions);
    k.touch("option:setainushi");
    k.touch("option:kojin_bango"); // not offered: ignored
    assert_eq!(k.view().options.iter().filter(|o| o.selected).count(), 1);
    k.touch("ok");
    assert_eq!(k.screen(), ScreenId::Copies);
    k.touch("copies:+");
    k.touch("copies:+");
    k.touch("copies:+"); // max 3
    assert_eq!(k.view().order.copies, 3);
    k.touch("copies:-");
    k.touch("ok");
    assert_eq!(k.screen(), ScreenId::Confirm);
    let order = k.view().order;
    assert_eq!((order.copies, order.total_yen, order.fee_per_copy_yen), (2, 600, 300));
    k.touch("confirm");
    assert_eq!(k.screen(), ScreenId::Payment);
    assert_eq!(
        k.payments,
        vec![PaymentCommand::Collect { reference: k.s.reference().unwrap().to_owned(), due_yen: 600 }]
    );
    k.pay(500);
    assert_eq!(k.view().payment.inserted_yen, 500);
    k.pay(1500); // a 1000-yen note: the unit reports the running total
    assert_eq!(k.payments[1], PaymentCommand::StopAccepting);
    let Request::Issue(issue) = k.backend_op().1 else { panic!("issuance expected") };
    assert_eq!((issue.copies, issue.paid_yen, issue.options.clone()), (2, 600, vec!["setainushi".to_string()]));
    assert!(issue.idempotency_key.starts_with("K1-"));
    assert_eq!(k.screen(), ScreenId::Printing);

    let issued = k.issued("N-9", "S1", &hex::encode(fingerprint(GOOD.der)), "juminhyo", 2);
    k.reply_backend(Ok(BackendOk::Issued(issued)));
    assert_eq!(k.prints.len(), 1);
    assert_eq!(k.prints[0].issuance_number, "N-9");
    k.ev(Event::PrinterStatus(PrinterEvent::Progress { issuance_number: "N-9".into(), pages_done: 1, pages_total: 2 }));
    assert_eq!(k.view().progress.pages_done, 1);
    k.ev(Event::PrinterStatus(PrinterEvent::Finished { issuance_number: "N-9".into(), pages: 2 }));
    assert_eq!(k.screen(), ScreenId::TakeDocuments);
    assert_eq!(k.outcomes(), vec![IssueOutcome::Printed]);
    // Outcome first, then the session is closed.
    let tail: Vec<_> = k.backend.iter().rev().take(2).collect();
    assert!(matches!(tail[0], Request::Close { .. }) && matches!(tail[1], Request::Outcome { .. }));
    assert_eq!(k.change(), 900);
    assert_eq!(k.refunded(), 0);
    assert_eq!(k.view().payment.change_yen, 900);
    assert_eq!((k.signal(Output::StatusLamp), k.signal(Output::Chime)), (Level::Blink, Level::Blink));
    k.touch("finish");
    assert_eq!(k.screen(), ScreenId::Idle);
    assert_eq!(k.signal(Output::StatusLamp), Level::Off);
    assert_eq!(k.wipes, 1);
    assert!(k.audited(|r| matches!(r, RecordKind::Printed { pages: 2, .. })));
    assert!(k.audited(|r| matches!(r, RecordKind::SessionEnded { code: None, charged_yen: 1500, returned_yen: 900 })));
}

#[test]
fn scenario_shortcut_confirm_from_options_and_take_documents_times_out() {
    let mut k = K::new();
    k.reach_printing();
    k.ev(Event::PrinterStatus(PrinterEvent::Finished { issuance_number: "N-1".into(), pages: 1 }));
    assert_eq!(k.screen(), ScreenId::TakeDocuments);
    k.wait(31);
    assert_eq!(k.screen(), ScreenId::Idle, "take-documents returns to idle on its own");
    assert_eq!(k.change(), 200);
}

#[test]
fn card_first_from_idle_starts_the_flow() {
    let mut k = K::new();
    k.place();
    assert_eq!(k.screen(), ScreenId::ReadingCard);
    assert_eq!(k.card_op("read-token"), k.card_op("read-token"));
}

#[test]
fn tax_certificate_years_and_several_municipalities() {
    let mut k = K::new();
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
    assert_eq!(k.screen(), ScreenId::ChooseMunicipality);
    assert_eq!(k.view().municipalities[1].note, "honseki");
    k.touch("municipality:011002");
    assert_eq!(k.screen(), ScreenId::ChooseDocument);
    assert!(k.view().can_go_back);
    k.touch("back");
    k.touch("municipality:141003");
    k.touch("document:kazei");
    assert_eq!(k.screen(), ScreenId::DocumentOptions);
    assert!(k.view().years.iter().any(|y| y.id == "2025" && y.selected), "newest year preselected");
    k.touch("year:2019"); // not offered
    k.touch("year:2024");
    k.touch("confirm");
    k.pay(300);
    let Request::Issue(issue) = k.backend_op().1 else { panic!() };
    assert_eq!(
        (issue.document.as_str(), issue.year, issue.municipality_code.as_str()),
        ("kazei", Some(2024), "141003")
    );
}

#[test]
fn wrong_pin_then_success_returns_to_the_same_screen_with_the_new_count() {
    let mut k = K::new();
    k.reach_pin_entry(&GOOD, 3);
    let visit = k.view().visit;
    k.type_pin("0000");
    k.touch("ok");
    k.reply_card("verify", Err(CardFailure::wrong_pin(2)));
    assert_eq!(k.screen(), ScreenId::PinEntry);
    let pad = k.view().pin;
    assert_eq!((pad.typed, pad.tries_left, pad.previous_wrong, pad.tries_left == Some(1)), (0, Some(2), true, false));
    assert_ne!(k.view().visit, visit, "a new attempt is a new visit: stale digits are dropped");
    assert!(k.audited(|r| *r == RecordKind::WrongPin { tries_left: 2 }));
    k.verify_ok("8573");
    assert_eq!(k.screen(), ScreenId::Authenticating);
    assert_eq!(k.verifies, 2);
}

#[test]
fn one_try_left_warns_before_the_first_digit_and_after_a_wrong_pin() {
    let mut k = K::new();
    k.reach_pin_entry(&GOOD, 1);
    let pad = k.view().pin;
    assert!(pad.tries_left == Some(1) && pad.typed == 0, "one try left is the strong warning");

    let mut k = K::new();
    k.reach_pin_entry(&GOOD, 2);
    k.type_pin("0000");
    k.touch("ok");
    k.reply_card("verify", Err(CardFailure::wrong_pin(1)));
    assert_eq!(k.view().pin.tries_left, Some(1), "the strong warning");
}

#[test]
fn pin_blocked_before_entry_sends_no_verify() {
    let mut k = K::new();
    k.touch("service:certificates");
    k.place();
    k.reply_card("read-token", Ok(CardOk::Token { token: TokenKind::Card, certificate: Some(GOOD.der.to_vec()) }));
    k.reply_card("pin-status", Ok(CardOk::PinStatus(PinStatus::Blocked)));
    assert_eq!(k.screen(), ScreenId::CertificateProblem);
    assert_eq!(k.view().certificate_problem, Some(CertificateProblem::PinBlocked));
    assert_eq!(k.failure(), FailureCode::PinBlocked);
    assert_eq!(k.verifies, 0);
    assert_eq!(k.backend.len(), 0, "nothing reached the backend");
    k.finish_and_check_idle();
}

#[test]
fn third_wrong_pin_blocks() {
    let mut k = K::new();
    k.reach_pin_entry(&GOOD, 1);
    k.type_pin("0000");
    k.touch("ok");
    k.reply_card("verify", Err(CardFailure::new(JpkiErrorKind::PinBlocked)));
    assert_eq!(k.failure(), FailureCode::PinBlocked);
    assert!(k.audited(|r| *r == RecordKind::PinBlocked));
    k.finish_and_check_idle();
}

#[test]
fn certificate_not_yet_valid_and_untrusted() {
    let mut k = K::new();
    k.place();
    k.reply_card("read-token", Ok(CardOk::Token { token: TokenKind::Card, certificate: Some(TOMORROW.der.to_vec()) }));
    assert_eq!(k.failure(), FailureCode::CertificateNotYetValid);
    k.finish_and_check_idle();

    let mut k = K::new();
    k.place();
    k.reply_card(
        "read-token",
        Ok(CardOk::Token { token: TokenKind::Card, certificate: Some(b"CERT-FORGED".to_vec()) }),
    );
    assert_eq!(k.failure(), FailureCode::CertificateUntrusted);
    k.finish_and_check_idle();
}

#[test]
fn expiring_certificate_shows_a_notice_then_goes_on() {
    let mut k = K::new();
    k.touch("service:certificates");
    k.place();
    k.reply_card("read-token", Ok(CardOk::Token { token: TokenKind::Card, certificate: Some(EXPIRING.der.to_vec()) }));
    assert_eq!(k.screen(), ScreenId::CertificateProblem);
    let Some(CertificateProblem::ExpiringSoon { days_left, .. }) = k.view().certificate_problem else { panic!() };
    assert_eq!(days_left, 43);
    assert!(k.view().failure.is_none(), "a notice, not a failure");
    k.touch("ok");
    k.reply_card("pin-status", Ok(CardOk::PinStatus(PinStatus::Tries(PinTries { left: 3, max: 3 }))));
    assert_eq!(k.screen(), ScreenId::PinEntry);
}

#[test]
fn iphone_needs_no_pin() {
    let mut k = K::new();
    k.place();
    k.reply_card("read-token", Ok(CardOk::Token { token: TokenKind::Iphone, certificate: Some(GOOD.der.to_vec()) }));
    k.reply_card("pin-status", Ok(CardOk::PinStatus(PinStatus::Verified)));
    assert_eq!(k.screen(), ScreenId::Authenticating);
    assert_eq!(k.verifies, 0);
    assert!(k.view().phone, "phone pictures and wording");
    assert!(k.audited(|r| matches!(r, RecordKind::CardRead { token: TokenKind::Iphone, .. })));
    k.authenticate(&GOOD);
    assert_eq!(k.screen(), ScreenId::RemoveCard);
}

#[test]
fn iphone_not_authorised_on_the_phone_is_never_asked_for_a_pin() {
    let mut k = K::new();
    k.place();
    k.reply_card("read-token", Ok(CardOk::Token { token: TokenKind::Iphone, certificate: Some(GOOD.der.to_vec()) }));
    k.reply_card("pin-status", Ok(CardOk::PinStatus(PinStatus::Tries(PinTries { left: 3, max: 3 }))));
    assert_eq!(k.failure(), FailureCode::PhoneNotReady);
    assert_eq!(k.verifies, 0);
    k.finish_and_check_idle();
}

#[test]
fn android_enters_the_pin_before_the_certificate_is_read() {
    let mut k = K::new();
    k.place();
    k.reply_card("read-token", Ok(CardOk::Token { token: TokenKind::Android, certificate: None }));
    k.reply_card("pin-status", Ok(CardOk::PinStatus(PinStatus::Tries(PinTries { left: 3, max: 3 }))));
    assert_eq!(k.screen(), ScreenId::PinEntry);
    k.verify_ok("8573");
    assert_eq!(k.screen(), ScreenId::ReadingCard);
    k.reply_card("read-certificate", Ok(CardOk::Certificate(GOOD.der.to_vec())));
    k.authenticate(&GOOD);
    assert_eq!(k.screen(), ScreenId::RemoveCard);
    assert_eq!(k.card_commands, vec!["read-token", "pin-status", "verify", "read-certificate", "sign", "release"]);
}

#[test]
fn android_with_an_expired_certificate_after_the_pin() {
    let mut k = K::new();
    k.place();
    k.reply_card("read-token", Ok(CardOk::Token { token: TokenKind::Android, certificate: None }));
    k.reply_card("pin-status", Ok(CardOk::PinStatus(PinStatus::Tries(PinTries { left: 3, max: 3 }))));
    k.verify_ok("8573");
    k.reply_card("read-certificate", Ok(CardOk::Certificate(EXPIRED.der.to_vec())));
    assert_eq!(k.failure(), FailureCode::CertificateExpired);
    assert_eq!(k.backend.len(), 0);
    k.finish_and_check_idle();
}

#[test]
fn juki_and_non_jpki_cards_are_refused() {
    let mut k = K::new();
    k.place();
    k.reply_card("read-token", Ok(CardOk::Token { token: TokenKind::LegacyJukiCard, certificate: None }));
    assert_eq!(k.failure(), FailureCode::JukiCard);
    k.finish_and_check_idle();

    let mut k = K::new();
    k.place();
    k.reply_card("read-token", Err(CardFailure::new(JpkiErrorKind::NotJpki)));
    assert_eq!(k.failure(), FailureCode::CardNotSupported);
    k.finish_and_check_idle();
}

#[test]
fn a_flaky_read_is_repeated_once() {
    let mut k = K::new();
    k.place();
    k.reply_card("read-token", Err(CardFailure::new(JpkiErrorKind::CardFault)));
    assert_eq!(k.screen(), ScreenId::ReadingCard);
    k.reply_card("read-token", Err(CardFailure::new(JpkiErrorKind::CardFault)));
    assert_eq!(k.failure(), FailureCode::CardUnreadable);
    k.finish_and_check_idle();
}

#[test]
fn languages_and_accessibility_switch_anywhere_and_reset_at_idle() {
    let mut k = K::new();
    k.reach_pin_entry(&GOOD, 3);
    k.touch("language:en");
    k.touch("language:xx"); // not offered
    k.touch("large-text");
    k.touch("high-contrast");
    let v = k.view();
    assert_eq!((v.language, v.large_text, v.high_contrast), (Language::En, true, true));
    k.touch("cancel");
    k.finish_and_check_idle();
    assert_eq!(k.view().language, Language::Ja);
    assert!(!k.view().large_text);
}

#[test]
fn cancel_before_anything_happened_is_quiet() {
    let mut k = K::new();
    k.touch("start");
    assert_eq!(k.screen(), ScreenId::ServiceMenu);
    k.touch("service:certificates");
    k.touch("cancel");
    assert_eq!(k.screen(), ScreenId::Idle, "nothing to explain: straight back");
    assert_eq!(k.wipes, 1);
}

#[test]
fn out_of_hours_and_closed_days_show_closed() {
    let mut k = K::new();
    k.tick(14 * 3600); // 24:00
    assert_eq!(k.screen(), ScreenId::Closed);
    assert_eq!(k.view().hours.reason, Reason::Hours);
    k.touch("service:certificates");
    k.place();
    assert_eq!(k.screen(), ScreenId::Closed, "no transaction starts");
    assert!(!k.s.in_transaction());
    assert_eq!(k.signal(Output::StatusLamp), Level::On);

    let mut cfg = SessionConfig::default();
    cfg.hours.closed_days.push((6, 2));
    let k = K::with(cfg);
    assert_eq!(k.view().hours.reason, Reason::ClosedDay);
}

#[test]
fn nothing_offered_now_explains_the_hours() {
    let mut k = K::new();
    k.reach_pin_entry(&GOOD, 3);
    k.verify_ok("8573");
    k.authenticate(&GOOD);
    let o = Offers {
        municipalities: vec![MunicipalityOffer {
            code: "141003".into(),
            name: "横浜市".into(),
            route: Route::Residence,
            documents: vec![doc_offer("juminhyo", 300, 0, &[], &[])],
            unavailable: vec![UnavailableDocument { kind: "koseki-zenbu".into(), reason: "closed_day".into() }],
            notices: vec![],
        }],
    };
    k.reply_backend(Ok(BackendOk::Offers(deliver(o))));
    assert_eq!(k.failure(), FailureCode::OutsideHours);
    assert_eq!(k.closes(), 1);
    k.finish_and_check_idle();
}

/// A record the kiosk cannot print (a character no typeface holds) is known before payment:
/// the document shows why it is not offered, and when nothing is left the resident is told to
/// apply at the counter, not that there is nothing for them.
#[test]
fn an_unprintable_record_sends_the_resident_to_the_counter_before_any_payment() {
    let unprintable = |kind: &str| UnavailableDocument { kind: kind.into(), reason: "unprintable".into() };
    let reach = |o: Offers| {
        let mut k = K::new();
        k.reach_pin_entry(&GOOD, 3);
        k.verify_ok("8573");
        k.authenticate(&GOOD);
        k.reply_backend(Ok(BackendOk::Offers(deliver(o))));
        k
    };
    // One document left: it can be ordered, the other says why it cannot.
    let mut o = offers();
    o.municipalities[0].documents.retain(|d| d.kind == "kazei");
    o.municipalities[0].unavailable = vec![unprintable("juminhyo"), unprintable("inkan")];
    let mut k = reach(o);
    k.remove();
    let notes: Vec<_> = k.view().documents.iter().map(|d| (d.id.clone(), d.enabled, d.note.clone())).collect();
    assert!(notes.contains(&("juminhyo".into(), false, "unprintable".into())), "{notes:?}");
    assert!(notes.contains(&("kazei".into(), true, String::new())), "{notes:?}");
    // Nothing left: the failure names the cause, and no money was asked for.
    let mut o = offers();
    o.municipalities[0].documents.clear();
    o.municipalities[0].unavailable = vec![unprintable("juminhyo"), unprintable("kazei")];
    let mut k = reach(o);
    assert_eq!(k.failure(), FailureCode::UnprintableCharacter);
    assert_eq!(k.view().payment.inserted_yen, 0);
    k.finish_and_check_idle();
}

#[test]
fn idle_only_after_the_card_is_gone() {
    let mut k = K::new();
    k.reach_pin_entry(&GOOD, 3);
    k.touch("cancel");
    assert_eq!(k.failure(), FailureCode::Cancelled);
    k.touch("ok");
    assert_eq!(k.screen(), ScreenId::TakeCard);
    k.wait(600);
    assert_eq!(k.screen(), ScreenId::TakeCard, "no timer sends a kiosk with a card on it to idle");
    assert_eq!(k.signal(Output::CardSlotLamp), Level::Blink);
    k.remove();
    assert_eq!(k.screen(), ScreenId::Idle);
}

#[test]
fn a_card_already_on_the_reader_is_used_when_the_service_is_chosen() {
    let mut k = K::new();
    k.tick(14 * 3600); // closed: the card is only noted
    k.place();
    assert!(!k.s.in_transaction());
    k.tick(7 * 3600); // 07:00 next day: open
    assert_eq!(k.screen(), ScreenId::Idle);
    k.touch("service:certificates");
    assert_eq!(k.screen(), ScreenId::ReadingCard);
    k.card_op("read-token");
}
