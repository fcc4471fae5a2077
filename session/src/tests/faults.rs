//! Bad input and faults: each ends in a clear screen, the right outcome at the backend, the
//! money back, and the one wipe.

use super::*;
use madoguchi_api::challenge::Purpose;

/// The card comes off at each step where the kiosk still needs it.
#[test]
fn card_pulled_at_every_step() {
    type Setup = fn(&mut K);
    let steps: [(&str, Setup); 7] = [
        ("reading", |k| {
            k.place();
        }),
        ("pin-status", |k| {
            k.place();
            k.reply_card(
                "read-token",
                Ok(CardOk::Token { token: TokenKind::Card, certificate: Some(GOOD.der.to_vec()) }),
            );
        }),
        ("notice", |k| {
            k.place();
            k.reply_card(
                "read-token",
                Ok(CardOk::Token { token: TokenKind::Card, certificate: Some(EXPIRING.der.to_vec()) }),
            );
        }),
        ("pin-entry", |k| {
            k.reach_pin_entry(&GOOD, 3);
            k.type_pin("85");
        }),
        ("verifying", |k| {
            k.reach_pin_entry(&GOOD, 3);
            k.type_pin("8573");
            k.touch("ok");
        }),
        ("challenge", |k| {
            k.reach_pin_entry(&GOOD, 3);
            k.verify_ok("8573");
        }),
        ("signing", |k| {
            k.reach_pin_entry(&GOOD, 3);
            k.verify_ok("8573");
            k.reply_backend(Ok(BackendOk::Challenge {
                session_id: "S1".into(),
                challenge: k.challenge(Purpose::Authenticate),
            }));
        }),
    ];
    for (name, setup) in steps {
        let mut k = K::new();
        setup(&mut k);
        k.remove();
        assert_eq!(k.failure(), FailureCode::CardRemoved, "{name}");
        assert_eq!(k.screen(), ScreenId::Failure, "{name}");
        assert_eq!(k.wipes, 1, "{name}");
        assert!(k.s.in_transaction() && k.s.pin_wiped(), "{name}");
        assert_eq!(k.releases, 1, "{name}: the worker lets go of the card handle");
        let session_opened = name == "signing";
        assert_eq!(k.closes(), usize::from(session_opened), "{name}");
        // A late answer of the card worker is recognised as stale.
        if let Some((op, _)) = k.last_card.clone() {
            k.ev(Event::CardReply { op, result: Ok(CardOk::Verified) });
            assert_eq!(k.failure(), FailureCode::CardRemoved);
        }
        k.touch("ok");
        assert_eq!(k.screen(), ScreenId::Idle, "{name}: card already gone");
    }
}

#[test]
fn card_taken_off_after_signing_is_fine_unless_authentication_must_start_over() {
    let mut k = K::new();
    k.reach_pin_entry(&GOOD, 3);
    k.verify_ok("8573");
    k.reply_backend(Ok(BackendOk::Challenge {
        session_id: "S1".into(),
        challenge: k.challenge(Purpose::Authenticate),
    }));
    k.reply_card(
        "sign",
        Ok(CardOk::Signature { signature: vec![1; 256], certificate_fingerprint: fingerprint(GOOD.der) }),
    );
    k.remove();
    assert_eq!(k.screen(), ScreenId::Authenticating);
    k.reply_backend(Ok(BackendOk::Authenticated {
        session_id: "S1".into(),
        certificate_fingerprint: hex::encode(fingerprint(GOOD.der)),
    }));
    assert_eq!(k.screen(), ScreenId::Authenticating, "waiting for offers, no remove-card screen");
    k.reply_backend(Ok(BackendOk::Offers(deliver(offers()))));
    assert_eq!(k.screen(), ScreenId::ChooseDocument);

    let mut k = K::new();
    k.reach_pin_entry(&GOOD, 3);
    k.verify_ok("8573");
    k.reply_backend(Ok(BackendOk::Challenge {
        session_id: "S1".into(),
        challenge: k.challenge(Purpose::Authenticate),
    }));
    k.reply_card(
        "sign",
        Ok(CardOk::Signature { signature: vec![1; 256], certificate_fingerprint: fingerprint(GOOD.der) }),
    );
    k.remove();
    k.reply_backend(Err(BackendError::Refused(Refusal::ChallengeExpired)));
    assert_eq!(k.failure(), FailureCode::CardRemoved);
}

#[test]
fn card_swapped_mid_session() {
    // The card that signs is not the card that was read.
    let mut k = K::new();
    k.reach_pin_entry(&GOOD, 3);
    k.verify_ok("8573");
    k.reply_backend(Ok(BackendOk::Challenge {
        session_id: "S1".into(),
        challenge: k.challenge(Purpose::Authenticate),
    }));
    k.reply_card(
        "sign",
        Ok(CardOk::Signature { signature: vec![1; 256], certificate_fingerprint: fingerprint(OTHER.der) }),
    );
    assert_eq!(k.failure(), FailureCode::CardSwapped);
    assert!(k.audited(|r| *r == RecordKind::CardSwapped));
    assert!(!k.backend.iter().any(|r| matches!(r, Request::Authenticate { .. })), "never sent for authentication");
    assert_eq!(k.closes(), 1);
    k.finish_and_check_idle();

    // Presented again on the same reader without a removal in between.
    let mut k = K::new();
    k.reach_pin_entry(&GOOD, 3);
    k.place();
    assert_eq!(k.failure(), FailureCode::CardSwapped);
    k.finish_and_check_idle();

    // The backend saw another certificate than the one read.
    let mut k = K::new();
    k.reach_pin_entry(&GOOD, 3);
    k.verify_ok("8573");
    k.reply_backend(Ok(BackendOk::Challenge {
        session_id: "S1".into(),
        challenge: k.challenge(Purpose::Authenticate),
    }));
    k.reply_card(
        "sign",
        Ok(CardOk::Signature { signature: vec![1; 256], certificate_fingerprint: fingerprint(GOOD.der) }),
    );
    k.reply_backend(Ok(BackendOk::Authenticated {
        session_id: "S1".into(),
        certificate_fingerprint: hex::encode(fingerprint(OTHER.der)),
    }));
    assert_eq!(k.failure(), FailureCode::AuthenticationFailed);
    k.finish_and_check_idle();
}

#[test]
fn a_card_on_another_reader_is_ignored_but_must_go_before_idle() {
    let mut k = K::new();
    k.reach_pin_entry(&GOOD, 3);
    k.ev(Event::CardPresented { reader: OTHER_READER.into(), interface: ReaderInterface::Contact, atr: vec![] });
    assert_eq!(k.screen(), ScreenId::PinEntry);
    k.verify_ok("8573");
    k.authenticate(&GOOD);
    k.reply_backend(Ok(BackendOk::Offers(deliver(offers()))));
    k.remove();
    k.touch("cancel");
    k.touch("ok");
    assert_eq!(k.screen(), ScreenId::TakeCard);
    k.ev(Event::CardRemoved { reader: OTHER_READER.into() });
    assert_eq!(k.screen(), ScreenId::Idle);
}

#[test]
fn reader_unplugged() {
    let mut k = K::new();
    k.reach_pin_entry(&GOOD, 3);
    k.ev(Event::ReaderRemoved { reader: READER.into() });
    assert_eq!(k.failure(), FailureCode::ReaderFault);
    k.touch("ok");
    assert_eq!(k.screen(), ScreenId::Idle, "a vanished reader holds no card");
}

#[test]
fn card_worker_silent() {
    let mut k = K::new();
    k.place();
    k.wait(16);
    assert_eq!(k.failure(), FailureCode::CardUnreadable);
    k.finish_and_check_idle();
}

#[test]
fn backend_down_at_the_challenge_is_retried_then_explained() {
    let mut k = K::new();
    k.reach_pin_entry(&GOOD, 3);
    k.verify_ok("8573");
    for _ in 0..2 {
        k.reply_backend(Err(BackendError::Unreachable));
        assert_eq!(k.screen(), ScreenId::Authenticating);
        k.wait(5);
    }
    k.reply_backend(Err(BackendError::Unreachable));
    assert_eq!(k.failure(), FailureCode::BackendUnavailable);
    assert_eq!(k.backend.iter().filter(|r| **r == Request::Challenge).count(), 3);
    assert_eq!(k.closes(), 0, "no session was opened");
    k.finish_and_check_idle();
}

#[test]
fn backend_slow_at_authentication_restarts_with_a_new_challenge() {
    let mut k = K::new();
    k.reach_pin_entry(&GOOD, 3);
    k.verify_ok("8573");
    k.reply_backend(Ok(BackendOk::Challenge {
        session_id: "S1".into(),
        challenge: k.challenge(Purpose::Authenticate),
    }));
    k.reply_card(
        "sign",
        Ok(CardOk::Signature { signature: vec![1; 256], certificate_fingerprint: fingerprint(GOOD.der) }),
    );
    let (slow_op, _) = k.backend_op();
    k.wait(21); // no answer within backend_reply
    assert_eq!(k.backend.last(), Some(&Request::Challenge), "a new challenge (the old one may be used)");
    assert_eq!(k.closes(), 1, "the first backend session is closed");
    // The slow answer arrives now: recognised as stale.
    k.ev(Event::BackendReply {
        op: slow_op,
        result: Ok(BackendOk::Authenticated { session_id: "S1".into(), certificate_fingerprint: String::new() }),
    });
    assert!(k.audited(|r| *r == RecordKind::StaleReply { what: "backend" }));
    k.reply_backend(Ok(BackendOk::Challenge {
        session_id: "S2".into(),
        challenge: k.challenge(Purpose::Authenticate),
    }));
    k.reply_card(
        "sign",
        Ok(CardOk::Signature { signature: vec![2; 256], certificate_fingerprint: fingerprint(GOOD.der) }),
    );
    k.reply_backend(Ok(BackendOk::Authenticated {
        session_id: "S2".into(),
        certificate_fingerprint: hex::encode(fingerprint(GOOD.der)),
    }));
    assert_eq!(k.screen(), ScreenId::RemoveCard);
}

#[test]
fn a_late_challenge_after_the_end_is_closed() {
    let mut k = K::new();
    k.reach_pin_entry(&GOOD, 3);
    k.verify_ok("8573");
    let (op, _) = k.backend_op();
    k.touch("cancel");
    k.ev(Event::BackendReply { op, result: Ok(BackendOk::Challenge { session_id: "S9".into(), challenge: vec![] }) });
    assert_eq!(k.backend.last(), Some(&Request::Close { session_id: "S9".into() }));
}

#[test]
fn backend_down_at_offers_is_retried() {
    let mut k = K::new();
    k.reach_pin_entry(&GOOD, 3);
    k.verify_ok("8573");
    k.authenticate(&GOOD);
    k.reply_backend(Err(BackendError::Busy));
    k.remove();
    assert_eq!(k.screen(), ScreenId::Authenticating);
    k.wait(3);
    assert_eq!(k.backend_op().1, Request::Offers { session_id: "S1".into(), held_catalog: None });
    k.reply_backend(Ok(BackendOk::Offers(deliver(offers()))));
    assert_eq!(k.screen(), ScreenId::ChooseDocument);
}

#[test]
fn catalog_signature_failure_stops_before_any_choice() {
    let mut k = K::new();
    k.reach_pin_entry(&GOOD, 3);
    k.verify_ok("8573");
    k.authenticate(&GOOD);
    k.reply_backend(Err(BackendError::CatalogSignature));
    assert_eq!(k.failure(), FailureCode::CatalogInvalid);
    assert_eq!(k.closes(), 1);
    k.finish_and_check_idle();
}

#[test]
fn backend_down_at_issuance_retries_with_the_same_key_then_refunds() {
    let mut k = K::new();
    k.reach_payment();
    k.pay(300);
    let Request::Issue(first) = k.backend_op().1 else { panic!() };
    k.reply_backend(Err(BackendError::Timeout));
    k.wait(3);
    let Request::Issue(second) = k.backend_op().1 else { panic!() };
    assert_eq!(first.idempotency_key, second.idempotency_key, "a repeat is the same issuance");
    k.reply_backend(Err(BackendError::Unreachable));
    k.wait(5);
    k.reply_backend(Err(BackendError::Unreachable));
    assert_eq!(k.failure(), FailureCode::BackendUnavailable);
    assert_eq!(k.refunded(), 300);
    assert!(k.prints.is_empty());
    assert_eq!(k.closes(), 1, "closing the session voids an issuance whose answer never came");
    assert_eq!(k.view().failure.unwrap().money, MoneyState::Returning { yen: 300 });
    k.ev(Event::Payment(PaymentEvent::PaidOut { yen: 300 }));
    assert_eq!(k.view().failure.unwrap().money, MoneyState::Returned { yen: 300 });
    // An answer that arrives after all that is settled at once.
    let late = k.good_issued();
    let (op, _) = k.backend_op();
    k.ev(Event::BackendReply { op, result: Ok(BackendOk::Issued(late)) });
    assert!(k.outcomes().iter().any(|o| matches!(o, IssueOutcome::Failed { .. })));
    assert!(k.prints.is_empty());
    k.finish_and_check_idle();
}

#[test]
fn binding_mismatch_is_never_printed() {
    let fp = hex::encode(fingerprint(GOOD.der));
    let other_fp = hex::encode(fingerprint(OTHER.der));
    /// Field, then (issuance number, session, fingerprint, document, copies) in the document.
    type Case<'a> = (&'a str, (&'a str, &'a str, &'a str, &'a str, i64));
    let cases: [Case; 4] = [
        ("session_id", ("N-1", "S-OTHER", &fp, "juminhyo", 1)),
        ("certificate_fingerprint", ("N-1", "S1", &other_fp, "juminhyo", 1)),
        ("document", ("N-1", "S1", &fp, "inkan", 1)),
        ("copies", ("N-1", "S1", &fp, "juminhyo", 2)),
    ];
    for (field, (number, session, cert, doc, copies)) in cases {
        let mut k = K::new();
        k.reach_payment();
        k.pay(300);
        let mut issued = k.issued(number, session, cert, doc, copies);
        issued.total_yen = 300;
        k.reply_backend(Ok(BackendOk::Issued(issued)));
        assert!(k.prints.is_empty(), "{field}: nothing printed");
        assert_eq!(k.failure(), FailureCode::DocumentMismatch, "{field}");
        assert!(k.audited(|r| matches!(r, RecordKind::BindingMismatch { field: f, .. } if *f == field)), "{field}");
        assert_eq!(k.refunded(), 300, "{field}");
        assert!(matches!(&k.outcomes()[..], [IssueOutcome::Failed { .. }]), "{field}: reported as failed");
        k.finish_and_check_idle();
    }
    // Issuance number inside the document differs from the reply's.
    let mut k = K::new();
    k.reach_payment();
    k.pay(300);
    let mut issued = k.good_issued();
    issued.issuance_number = "N-2".into();
    k.reply_backend(Ok(BackendOk::Issued(issued)));
    assert!(k.prints.is_empty());
    assert_eq!(k.failure(), FailureCode::DocumentMismatch);

    // Bound to another kiosk.
    let mut k = K::with(SessionConfig { kiosk_id: "K2".into(), ..SessionConfig::default() });
    k.reach_payment();
    k.pay(300);
    let issued = k.good_issued();
    k.reply_backend(Ok(BackendOk::Issued(issued)));
    assert!(k.prints.is_empty());
    assert!(k.audited(|r| matches!(r, RecordKind::BindingMismatch { field: "kiosk_id", .. })));
}

#[test]
fn a_document_with_a_bad_signature_is_never_printed() {
    let mut k = K::new();
    k.reach_payment();
    k.pay(300);
    let mut issued = k.good_issued();
    issued.document.payload = issued.document.payload.replace("S1", "S1 ");
    k.reply_backend(Ok(BackendOk::Issued(issued)));
    assert!(k.prints.is_empty());
    assert_eq!(k.failure(), FailureCode::DocumentInvalid);
    assert_eq!(k.refunded(), 300);
    k.finish_and_check_idle();
}

#[test]
fn printer_fault_before_paper_refunds_everything() {
    let mut k = K::new();
    k.reach_printing();
    k.ev(Event::PrinterStatus(PrinterEvent::Failed {
        issuance_number: "N-1".into(),
        kind: PrinterErrorKind::PaperOut,
        paper: PaperOutcome::Nothing,
    }));
    assert_eq!(k.failure(), FailureCode::PrinterPaperOut);
    assert_eq!(k.refunded(), 500, "the whole 500 inserted goes back");
    assert_eq!(k.change(), 0);
    let [IssueOutcome::Failed { reason }] = &k.outcomes()[..] else { panic!() };
    assert!(reason.contains("printer-paper-out") && reason.contains("no paper"));
    assert_eq!(k.view().failure.unwrap().pages_printed, 0);
    k.finish_and_check_idle();
}

#[test]
fn printer_jam_after_paper_refunds_and_reports_the_pages() {
    let mut k = K::new();
    k.reach_printing();
    k.ev(Event::PrinterStatus(PrinterEvent::Progress { issuance_number: "N-1".into(), pages_done: 1, pages_total: 2 }));
    k.ev(Event::PrinterStatus(PrinterEvent::Failed {
        issuance_number: "N-1".into(),
        kind: PrinterErrorKind::Jam,
        paper: PaperOutcome::Pages(1),
    }));
    assert_eq!(k.failure(), FailureCode::PrinterJam);
    assert_eq!(k.refunded(), 500);
    assert_eq!(k.view().failure.unwrap().pages_printed, 1);
    let [IssueOutcome::Failed { reason }] = &k.outcomes()[..] else { panic!() };
    assert!(reason.contains("1 page"));
    assert!(k.audited(|r| matches!(r, RecordKind::PrintFailed { paper: PaperOutcome::Pages(1), .. })));
    k.finish_and_check_idle();
}

#[test]
fn a_print_limit_stops_the_job_before_anything_is_reported() {
    // The Yokohama pattern: the limit ran out, the session reported `failed` and went idle
    // while the job kept printing under the next resident's. Now the job is stopped first, the
    // kiosk is out of service, and the outcome waits for the printer's account of the paper.
    let mut k = K::new();
    k.reach_printing();
    let number = k.prints[0].issuance_number.clone();
    k.wait(250);
    assert_eq!(k.screen(), ScreenId::Printing, "no screen or overall timer cuts a job short");
    assert!(k.aborts.is_empty());
    k.wait(60);
    assert_eq!(k.aborts, std::slice::from_ref(&number), "the job is stopped once, when the limit runs out");
    assert!(k.audited(|r| matches!(r, RecordKind::PrintAborted { issuance_number } if *issuance_number == number)));
    assert_eq!(k.screen(), ScreenId::Printing, "nothing is settled while the printer may still print");
    assert!(k.outcomes().is_empty(), "the backend is told nothing before the paper is known");
    assert_eq!(k.refunded(), 0);
    // The printer worker cut the line; the printer is idle and its counter says one page came out.
    k.ev(Event::PrinterStatus(PrinterEvent::Failed {
        issuance_number: number.clone(),
        kind: PrinterErrorKind::Timeout,
        paper: PaperOutcome::Pages(1),
    }));
    assert_eq!(k.failure(), FailureCode::PrinterFault);
    assert_eq!(k.refunded(), 500);
    let [IssueOutcome::Failed { reason }] = &k.outcomes()[..] else { panic!("{:?}", k.outcomes()) };
    assert!(reason.contains("1 page"), "{reason}");
    k.finish_and_check_idle();
    // Out of service until the printer worker says the printer is idle again.
    assert_eq!(k.view().screen, ScreenId::OutOfService);
    assert_eq!(k.view().hours.reason, Reason::Printer);
    k.touch("service:certificates");
    assert_eq!(k.view().screen, ScreenId::OutOfService, "no next visit while the stale job is unsettled");
    k.ev(Event::PrinterStatus(PrinterEvent::Ready(true)));
    assert_eq!(k.screen(), ScreenId::Idle);
}

#[test]
fn a_printer_that_never_settles_ends_the_visit_with_the_paper_unknown() {
    let mut k = K::new();
    k.reach_printing();
    let number = k.prints[0].issuance_number.clone();
    k.wait(301);
    assert_eq!(k.aborts.len(), 1);
    assert_eq!(k.all_outcomes().last(), Some(&IssueOutcome::Printing), "the cut renews the lease");
    k.wait(100);
    assert_eq!(k.screen(), ScreenId::Printing);
    k.wait(21);
    assert_eq!(k.failure(), FailureCode::PrinterFault);
    assert_eq!(k.refunded(), 500);
    assert_eq!(k.aborts.len(), 1, "stopped once");
    assert!(k.audited(|r| matches!(r, RecordKind::PrintFailed { paper: PaperOutcome::Unknown, .. })));
    assert!(k.outcomes().is_empty(), "no `failed` while the job may yet come out: the backend would void it");
    k.finish_and_check_idle();
    assert_eq!(k.view().screen, ScreenId::OutOfService, "the printer is still unaccounted for");
    // Staff see to the printer: the worker accounts for the job; the backend learns it now.
    k.ev(Event::PrinterStatus(PrinterEvent::Failed {
        issuance_number: number.clone(),
        kind: PrinterErrorKind::Timeout,
        paper: PaperOutcome::Nothing,
    }));
    let [IssueOutcome::Failed { reason }] = &k.outcomes()[..] else { panic!("{:?}", k.outcomes()) };
    assert!(reason.contains("no paper"), "{reason}");
    let Some(Request::Outcome { issuance_number, .. }) = k.backend.last() else { panic!() };
    assert_eq!(*issuance_number, number);
    k.ev(Event::PrinterStatus(PrinterEvent::Ready(true)));
    assert_eq!(k.screen(), ScreenId::Idle);
}

/// Reaches the end of a visit whose print job was cut off and never settled: the resident was
/// refunded (500 inserted for a 300-yen fee), the outcome waits for the printer.
fn visit_ended_with_an_unsettled_job() -> (K, String) {
    let mut k = K::new();
    k.reach_printing();
    let number = k.prints[0].issuance_number.clone();
    k.wait(301);
    k.wait(121);
    assert_eq!(k.failure(), FailureCode::PrinterFault);
    assert_eq!(k.refunded(), 500);
    assert!(k.outcomes().is_empty());
    (k, number)
}

fn outcomes_of(k: &K, number: &str) -> Vec<IssueOutcome> {
    k.backend
        .iter()
        .filter_map(|r| match r {
            Request::Outcome { issuance_number, outcome, .. } if issuance_number == number => Some(outcome.clone()),
            _ => None,
        })
        .filter(|o| *o != IssueOutcome::Printing)
        .collect()
}

#[test]
fn a_refund_paid_while_the_outcome_waits_for_the_printer_is_reported_after_it() {
    // Before, the refund of a job cut off was never reported: the backend voided the issuance
    // when the printer settled and kept its refund `due`, though the kiosk had paid it in cash.
    let (mut k, number) = visit_ended_with_an_unsettled_job();
    k.ev(Event::Payment(PaymentEvent::PaidOut { yen: 500 }));
    assert!(outcomes_of(&k, &number).is_empty(), "nothing before the paper is known");
    k.ev(Event::PrinterStatus(PrinterEvent::Failed {
        issuance_number: number.clone(),
        kind: PrinterErrorKind::Timeout,
        paper: PaperOutcome::Nothing,
    }));
    let got = outcomes_of(&k, &number);
    assert!(matches!(&got[..], [IssueOutcome::Failed { .. }, IssueOutcome::Refunded { yen: 300 }]), "{got:?}");
}

#[test]
fn a_refund_paid_after_the_printer_settled_is_reported_when_paid() {
    let (mut k, number) = visit_ended_with_an_unsettled_job();
    k.ev(Event::PrinterStatus(PrinterEvent::Failed {
        issuance_number: number.clone(),
        kind: PrinterErrorKind::Timeout,
        paper: PaperOutcome::Nothing,
    }));
    assert!(matches!(&outcomes_of(&k, &number)[..], [IssueOutcome::Failed { .. }]));
    k.ev(Event::Payment(PaymentEvent::PaidOut { yen: 500 }));
    let got = outcomes_of(&k, &number);
    assert!(matches!(&got[..], [IssueOutcome::Failed { .. }, IssueOutcome::Refunded { yen: 300 }]), "{got:?}");
}

#[test]
fn a_job_that_came_out_after_all_reports_no_refund() {
    // The paper is valid (the backend records it printed); the cash refund stays in the
    // kiosk's own journal for the operator, and the backend is not asked to mark a refund
    // it never owed.
    let (mut k, number) = visit_ended_with_an_unsettled_job();
    k.ev(Event::PrinterStatus(PrinterEvent::Finished { issuance_number: number.clone(), pages: 1 }));
    k.ev(Event::Payment(PaymentEvent::PaidOut { yen: 500 }));
    assert_eq!(outcomes_of(&k, &number), [IssueOutcome::Printed]);
}

#[test]
fn the_print_and_payout_limits_come_from_the_configuration() {
    let mut cfg = crate::SessionConfig { kiosk_id: "K1".into(), ..crate::SessionConfig::default() };
    cfg.timeouts.lease_renew = std::time::Duration::from_secs(60);
    cfg.timeouts.payout = std::time::Duration::from_secs(20);
    let mut k = K::with(cfg);
    k.reach_printing();
    k.wait(61);
    assert_eq!(k.all_outcomes(), [IssueOutcome::Printing], "the lease follows timeouts.lease_renew");
    k.ev(Event::PrinterStatus(PrinterEvent::Failed {
        issuance_number: k.prints[0].issuance_number.clone(),
        kind: PrinterErrorKind::Jam,
        paper: PaperOutcome::Nothing,
    }));
    k.touch("finish");
    k.wait(21);
    assert!(k.audited(|r| *r == RecordKind::MoneyOwed { yen: 500 }), "the payout limit follows timeouts.payout");
}

#[test]
fn a_payout_the_cash_unit_never_confirms_is_recorded_as_owed() {
    let mut k = K::new();
    k.reach_printing();
    k.ev(Event::PrinterStatus(PrinterEvent::Failed {
        issuance_number: k.prints[0].issuance_number.clone(),
        kind: PrinterErrorKind::Jam,
        paper: PaperOutcome::Nothing,
    }));
    assert_eq!(k.refunded(), 500);
    // The unit hangs in the payout: neither PaidOut nor Fault. The resident leaves.
    k.touch("finish");
    k.wait(59);
    assert!(!k.audited(|r| matches!(r, RecordKind::MoneyOwed { .. })));
    k.wait(2);
    assert!(k.audited(|r| *r == RecordKind::PayoutTimedOut { yen: 500 }));
    assert!(k.audited(|r| *r == RecordKind::MoneyOwed { yen: 500 }), "the debt is recorded");
    assert_eq!(k.audits.iter().filter(|r| matches!(r, RecordKind::MoneyOwed { .. })).count(), 1, "once");
    k.wait(120);
    assert_eq!(k.view().screen, ScreenId::OutOfService, "a hung cash unit takes no more money");
    assert_eq!(k.view().hours.reason, Reason::Cash);
    // The unit comes back and pays: in service again.
    k.ev(Event::Payment(PaymentEvent::PaidOut { yen: 500 }));
    assert_eq!(k.screen(), ScreenId::Idle);
}

#[test]
fn a_long_print_renews_its_lease_and_a_refund_paid_is_reported() {
    let mut k = K::new();
    k.reach_printing();
    let number = k.prints[0].issuance_number.clone();
    k.wait(239);
    assert!(k.all_outcomes().is_empty());
    k.wait(2);
    assert_eq!(k.all_outcomes(), [IssueOutcome::Printing], "the lease is renewed while the job runs");
    assert!(k
        .backend
        .iter()
        .all(|r| !matches!(r, Request::Outcome { issuance_number, .. } if *issuance_number != number)));
    k.ev(Event::PrinterStatus(PrinterEvent::Failed {
        issuance_number: number.clone(),
        kind: PrinterErrorKind::Jam,
        paper: PaperOutcome::Nothing,
    }));
    assert_eq!(k.refunded(), 500);
    k.wait(30);
    assert!(!k.all_outcomes().iter().any(|o| matches!(o, IssueOutcome::Refunded { .. })), "not before it is paid");
    // Paid 500 for a 300-yen fee: the backend's refund of the fee is settled at the kiosk.
    k.ev(Event::Payment(PaymentEvent::PaidOut { yen: 500 }));
    assert_eq!(k.all_outcomes().last(), Some(&IssueOutcome::Refunded { yen: 300 }));
    let Some(Request::Outcome { issuance_number, .. }) = k.backend.last() else { panic!() };
    assert_eq!(*issuance_number, number);
    k.wait(240);
    assert_eq!(k.all_outcomes().iter().filter(|o| **o == IssueOutcome::Printing).count(), 1, "none after the end");
}

#[test]
fn a_confirmed_payout_is_never_owed() {
    let mut k = K::new();
    k.reach_printing();
    k.ev(Event::PrinterStatus(PrinterEvent::Finished {
        issuance_number: k.prints[0].issuance_number.clone(),
        pages: 1,
    }));
    assert_eq!(k.change(), 200);
    k.ev(Event::Payment(PaymentEvent::PaidOut { yen: 200 }));
    k.wait(200);
    assert!(!k.audited(|r| matches!(r, RecordKind::MoneyOwed { .. } | RecordKind::PayoutTimedOut { .. })));
    k.finish_and_check_idle();
    assert_eq!(k.screen(), ScreenId::Idle);
}

#[test]
fn printer_not_ready_before_payment_charges_nothing() {
    let mut k = K::new();
    k.reach_documents();
    k.touch("document:inkan");
    assert_eq!(k.screen(), ScreenId::Copies);
    k.ev(Event::PrinterStatus(PrinterEvent::Ready(false)));
    k.touch("confirm");
    assert_eq!(k.failure(), FailureCode::PrinterUnavailable);
    assert!(k.payments.is_empty());
    assert_eq!(k.view().failure.unwrap().money, MoneyState::NotCharged);
    k.finish_and_check_idle();
    assert_eq!(k.view().screen, ScreenId::OutOfService);
    assert_eq!(k.view().hours.reason, Reason::Printer);
    k.ev(Event::PrinterStatus(PrinterEvent::Ready(true)));
    assert_eq!(k.screen(), ScreenId::Idle);
}

#[test]
fn printer_fails_during_payment() {
    let mut k = K::new();
    k.reach_payment();
    k.pay(100);
    k.ev(Event::PrinterStatus(PrinterEvent::Ready(false)));
    assert_eq!(k.failure(), FailureCode::PrinterUnavailable);
    assert_eq!(k.refunded(), 100);
    assert!(k.payments.contains(&PaymentCommand::StopAccepting));
}

#[test]
fn a_stale_printer_report_is_not_this_job() {
    let mut k = K::new();
    k.reach_printing();
    k.ev(Event::PrinterStatus(PrinterEvent::Finished { issuance_number: "N-OLD".into(), pages: 1 }));
    assert_eq!(k.screen(), ScreenId::Printing);
    assert!(k.outcomes().is_empty());
}

#[test]
fn a_coin_after_the_end_goes_straight_back() {
    let mut k = K::new();
    k.reach_payment();
    k.pay(100);
    k.touch("cancel");
    assert_eq!(k.refunded(), 100);
    k.pay(150);
    assert_eq!(k.refunded(), 150);
}

#[test]
fn screen_timeout_warns_and_more_time_extends() {
    let mut k = K::new();
    k.reach_pin_entry(&GOOD, 3);
    assert_eq!(k.view().countdown.map(|c| c.seconds_left), Some(60));
    assert!(k.view().countdown.is_some_and(|c| c.more_time));
    k.wait(44);
    assert_eq!(k.screen(), ScreenId::PinEntry);
    assert_eq!(k.view().countdown.map(|c| c.seconds_left), Some(16));
    k.wait(1);
    assert_eq!(k.screen(), ScreenId::TimeoutWarning);
    assert_eq!(k.view().resumes, Some(ScreenId::PinEntry));
    k.touch("digit:1"); // the pad is not on screen
    assert_eq!(k.s.pin_pad().unwrap().len(), 0);
    k.touch("more-time");
    assert_eq!(k.screen(), ScreenId::PinEntry);
    assert_eq!(k.view().countdown.map(|c| c.seconds_left), Some(60));
    // Typing keeps the screen alive.
    k.wait(30);
    k.touch("digit:1");
    k.wait(40);
    assert_eq!(k.screen(), ScreenId::PinEntry);
    k.wait(60);
    assert_eq!(k.failure(), FailureCode::ScreenTimeout);
    assert!(k.s.in_transaction() && k.s.pin_wiped());
    k.finish_and_check_idle();
}

#[test]
fn more_time_runs_out() {
    let mut k = K::new();
    k.reach_documents();
    for _ in 0..3 {
        k.wait(46);
        assert_eq!(k.screen(), ScreenId::TimeoutWarning);
        k.touch("more-time");
    }
    assert!(!k.view().countdown.is_some_and(|c| c.more_time));
    k.wait(46);
    k.touch("more-time");
    k.wait(15);
    assert_eq!(k.failure(), FailureCode::ScreenTimeout);
    assert_eq!(k.closes(), 1);
    k.finish_and_check_idle();
}

#[test]
fn payment_timeout_refunds_what_was_inserted() {
    let mut k = K::new();
    k.reach_payment();
    k.pay(100);
    k.wait(121);
    assert_eq!(k.failure(), FailureCode::ScreenTimeout);
    assert_eq!(k.refunded(), 100);
    assert!(k.payments.contains(&PaymentCommand::StopAccepting));
    k.finish_and_check_idle();
}

#[test]
fn remove_card_timeout_aborts_and_keeps_calling_for_the_card() {
    let mut k = K::new();
    k.reach_pin_entry(&GOOD, 3);
    k.verify_ok("8573");
    k.authenticate(&GOOD);
    k.reply_backend(Ok(BackendOk::Offers(deliver(offers()))));
    k.wait(31);
    assert_eq!(k.failure(), FailureCode::ScreenTimeout);
    assert_eq!(k.signal(Output::CardSlotLamp), Level::Blink);
    k.finish_and_check_idle();
}

#[test]
fn overall_timeout_cannot_be_stretched() {
    let mut k = K::new();
    k.reach_documents();
    // Activity every 40 s keeps each screen alive, but not the whole.
    let mut toggled = false;
    while k.s.in_transaction() && k.view().failure.is_none() {
        k.wait(40);
        if k.screen() == ScreenId::ChooseDocument {
            k.touch("document:juminhyo");
        } else if k.screen() == ScreenId::DocumentOptions {
            k.touch(if toggled { "back" } else { "option:honseki" });
            toggled = !toggled;
        } else if k.screen() == ScreenId::TimeoutWarning {
            k.touch("more-time");
        }
    }
    assert_eq!(k.failure(), FailureCode::SessionTimeout);
    k.finish_and_check_idle();
}

#[test]
fn double_taps_and_touches_on_screens_that_have_gone() {
    let mut k = K::new();
    k.touch("service:certificates");
    k.touch("service:certificates");
    assert_eq!(k.screen(), ScreenId::PlaceCard);
    k.place();
    k.reply_card("read-token", Ok(CardOk::Token { token: TokenKind::Card, certificate: Some(GOOD.der.to_vec()) }));
    k.reply_card("pin-status", Ok(CardOk::PinStatus(PinStatus::Tries(PinTries { left: 3, max: 3 }))));
    k.type_pin("8573");
    k.touch("ok");
    k.touch("ok");
    assert_eq!(k.verifies, 1, "one VERIFY, never a try spent twice");
    let pin_visit = k.view().visit;
    k.reply_card("verify", Ok(CardOk::Verified));
    k.authenticate(&GOOD);
    k.reply_backend(Ok(BackendOk::Offers(deliver(offers()))));
    k.remove();
    // A touch made on the PIN screen arrives now: dropped.
    k.ev(Event::Touch(Touch::new("document:juminhyo").on(pin_visit)));
    assert_eq!(k.screen(), ScreenId::ChooseDocument);
    let visit = k.view().visit;
    k.ev(Event::Touch(Touch::new("document:inkan").on(visit)));
    k.ev(Event::Touch(Touch::new("document:inkan").on(visit)));
    assert_eq!(k.screen(), ScreenId::Copies);
    k.touch("ok");
    k.touch("confirm");
    k.touch("confirm");
    assert_eq!(k.payments.iter().filter(|p| matches!(p, PaymentCommand::Collect { .. })).count(), 1);
    k.pay(300);
    k.pay(300); // the same cumulative report twice
    assert_eq!(k.backend.iter().filter(|r| matches!(r, Request::Issue(_))).count(), 1);
    k.touch("cancel"); // no cancel while issuing
    assert_eq!(k.screen(), ScreenId::Printing);
}

#[test]
fn clock_jumps_do_not_fire_or_suppress_timeouts() {
    // Wall clock back an hour and forward a day at the PIN pad: audited, nothing else.
    let mut k = K::new();
    k.reach_pin_entry(&GOOD, 3);
    k.wall -= time::Duration::hours(1);
    k.tick(1);
    k.wall += time::Duration::days(1);
    k.tick(1);
    assert_eq!(k.screen(), ScreenId::PinEntry);
    assert_eq!(k.view().countdown.map(|c| c.seconds_left), Some(58));
    assert_eq!(k.audits.iter().filter(|r| matches!(r, RecordKind::ClockJump { .. })).count(), 2);
    // A monotonic clock that claims to go back is ignored.
    k.t -= Duration::from_secs(500);
    k.tick(0);
    assert_eq!(k.view().countdown.map(|c| c.seconds_left), Some(58));
    k.t += Duration::from_secs(500);
    // Time that really passes in one step (scenario `advance = "130s"`) fires the timeout.
    k.tick(130);
    assert_eq!(k.failure(), FailureCode::ScreenTimeout);
    k.finish_and_check_idle();
}

#[test]
fn a_clock_that_is_certainly_wrong() {
    // At idle: out of service.
    let mut k = K::new();
    k.wall = time::macros::datetime!(2000-01-01 0:00 UTC);
    k.tick(1);
    assert_eq!(k.screen(), ScreenId::OutOfService);
    assert_eq!(k.view().hours.reason, Reason::Clock);
    k.place();
    assert!(!k.s.in_transaction());

    // Before authentication: the certificate cannot be judged.
    let mut k = K::new();
    k.reach_pin_entry(&GOOD, 3);
    k.wall = time::macros::datetime!(2000-01-01 0:00 UTC);
    k.tick(1);
    assert_eq!(k.failure(), FailureCode::ClockFault);
    k.finish_and_check_idle();

    // After authentication the backend's clock rules: the resident goes on.
    let mut k = K::new();
    k.reach_documents();
    k.wall = time::macros::datetime!(2000-01-01 0:00 UTC);
    k.tick(1);
    assert_eq!(k.screen(), ScreenId::ChooseDocument);
}

#[test]
fn every_exit_wipes_once_and_releases_the_card() {
    let exits: [fn(&mut K); 6] = [
        |k| k.touch("cancel"),
        |k| k.wait(61),
        |k| k.remove(),
        |k| k.ev(Event::ReaderRemoved { reader: READER.into() }),
        |k| k.place(),
        |k| {
            k.verify_ok("8573");
            k.reply_backend(Err(BackendError::Refused(Refusal::NotEligible)));
        },
    ];
    for exit in exits {
        let mut k = K::new();
        k.reach_pin_entry(&GOOD, 3);
        k.type_pin("12");
        exit(&mut k);
        assert_eq!(k.wipes, 1);
        assert_eq!(k.releases, 1);
        assert!(k.s.in_transaction() && k.s.pin_wiped());
        assert!(k.s.in_transaction() && !k.s.holds_certificate());
        assert!(k.audited(|r| matches!(r, RecordKind::SessionEnded { code: Some(_), .. })));
        // Nothing more happens on a second fault.
        k.remove();
        k.touch("cancel");
        assert_eq!(k.wipes, 1);
    }
}

#[test]
fn refusal_codes_map_to_messages() {
    for (wire, code) in [
        ("certificate_unlinked", FailureCode::CertificateUnlinked),
        ("resident_not_eligible", FailureCode::NotEligible),
        ("outside_service_hours", FailureCode::OutsideHours),
        ("signature_invalid", FailureCode::AuthenticationFailed),
        ("session_expired", FailureCode::SessionTimeout),
        ("something_new", FailureCode::BackendRefused),
    ] {
        assert_eq!(refusal_code(&Refusal::from_code(wire)), code, "{wire}");
    }
}

#[test]
fn slow_offers_after_the_card_is_off_do_not_time_the_resident_out() {
    let mut k = K::new();
    k.reach_pin_entry(&GOOD, 3);
    k.verify_ok("8573");
    k.authenticate(&GOOD);
    k.remove();
    k.wait(19);
    k.reply_backend(Err(BackendError::Timeout));
    k.wait(12); // retried after the backoff; the remove-card limit (30 s) has long passed
    assert_eq!(k.screen(), ScreenId::Authenticating);
    k.reply_backend(Ok(BackendOk::Offers(deliver(offers()))));
    assert_eq!(k.screen(), ScreenId::ChooseDocument);
}

#[test]
fn cancel_is_not_taken_while_the_pin_is_being_verified() {
    let mut k = K::new();
    k.reach_pin_entry(&GOOD, 3);
    k.type_pin("8573");
    k.touch("ok");
    assert!(!k.view().can_cancel);
    k.touch("cancel");
    k.reply_card("verify", Err(CardFailure::wrong_pin(2)));
    assert_eq!(k.screen(), ScreenId::PinEntry, "the new count is shown");
    assert_eq!(k.view().pin.tries_left, Some(2));
}

/// A challenge that is not a madoguchi challenge for this kiosk never reaches the card: bare
/// random bytes (any service's nonce: the form before the domain tag), one made for another
/// kiosk, one made for a PIN reset. The resident is told the service cannot be used, nothing
/// is charged, and the audit raises the alarm.
#[test]
fn a_challenge_not_made_for_this_kiosk_is_never_signed() {
    use madoguchi_api::challenge::encode;
    for (what, challenge, why) in [
        ("bare nonce", vec![7u8; 32], "not a madoguchi challenge"),
        ("another kiosk", encode(Purpose::Authenticate, "K2", &[7; 32]).unwrap(), "made for another kiosk"),
        ("a reset's", encode(Purpose::PinReset, "K1", &[7; 32]).unwrap(), "made for another purpose"),
    ] {
        let mut k = K::new();
        k.reach_pin_entry(&GOOD, 3);
        k.verify_ok("8573");
        assert!(matches!(k.backend_op().1, Request::Challenge));
        k.reply_backend(Ok(BackendOk::Challenge { session_id: "S1".into(), challenge }));
        assert!(!k.card_commands.iter().any(|c| c == "sign"), "{what}: the card was asked to sign");
        assert_eq!(k.failure(), FailureCode::BackendUnavailable, "{what}");
        assert!(k.audited(|r| matches!(r, RecordKind::ChallengeRefused { why: w } if *w == why)), "{what}");
        assert!(!k.backend.iter().any(|r| matches!(r, Request::Authenticate { .. })), "{what}");
    }
}
