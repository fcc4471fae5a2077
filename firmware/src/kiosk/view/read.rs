//! Session paths whose screens must say certain words: a real [`Session`] (through the
//! session's scripted kiosk) shown by the real UI.

use super::shown_texts;
use madoguchi_drivers::jpki::TokenKind;
use madoguchi_session::testing::*;
use madoguchi_session::*;

#[test]
fn expired_certificate_is_explained_with_its_date_and_nothing_else_happens() {
    let mut k = K::new();
    k.touch("service:certificates");
    k.place();
    k.reply_card("read-token", Ok(CardOk::Token { token: TokenKind::Card, certificate: Some(EXPIRED.der.to_vec()) }));
    assert_eq!(k.screen(), ScreenId::CertificateProblem);
    assert_eq!(
        k.view().certificate,
        Some(CertificateNotice::Expired { last_day: time::macros::date!(2025 - 03 - 01) })
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
        (Refusal::CertificateRevoked, FailureCode::CertificateRevoked, CertificateNotice::Revoked),
        (Refusal::CertificateSuspended, FailureCode::CertificateSuspended, CertificateNotice::Suspended),
    ] {
        let mut k = K::new();
        k.reach_pin_entry(&GOOD, 3);
        k.verify_ok("8573");
        k.reply_backend(Ok(BackendOk::Challenge { session_id: "S1".into(), challenge: b"n".to_vec() }));
        k.reply_card(
            "sign",
            Ok(CardOk::Signature { signature: vec![1; 256], certificate_fingerprint: fingerprint(GOOD.der) }),
        );
        k.reply_backend(Err(BackendError::Refused(refusal)));
        assert_eq!(k.screen(), ScreenId::CertificateProblem);
        assert_eq!(k.view().certificate, Some(notice));
        assert_eq!(k.failure(), code);
        assert_eq!(k.closes(), 1, "the backend session is closed");
        k.finish_and_check_idle();
    }
    let mut k = K::new();
    k.reach_pin_entry(&GOOD, 3);
    k.verify_ok("8573");
    k.reply_backend(Ok(BackendOk::Challenge { session_id: "S1".into(), challenge: b"n".to_vec() }));
    k.reply_card(
        "sign",
        Ok(CardOk::Signature { signature: vec![1; 256], certificate_fingerprint: fingerprint(GOOD.der) }),
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
