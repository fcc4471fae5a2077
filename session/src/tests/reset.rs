//! The PIN reset: both directions, every refusal, and the faults that must leave the card as
//! it was.

use super::*;
use crate::view_model::{NewValueRetry, PinPurpose, ResetTarget};
use madoguchi_api::{ErrorCode, ResetCredential};
use madoguchi_drivers::jpki::PinKind;

const SIGN_CERT: &[u8] = b"SIGN-CERT-OF-GOOD";
fn challenge() -> Vec<u8> {
    madoguchi_api::challenge::encode(madoguchi_api::challenge::Purpose::PinReset, "K1", &[0x5A; 32]).unwrap()
}

fn tries(left: u8, max: u8) -> Result<CardOk, CardFailure> {
    Ok(CardOk::PinStatus(PinStatus::Tries(PinTries { left, max })))
}

fn type_text(k: &mut K, text: &str) {
    for c in text.chars() {
        if c.is_ascii_digit() {
            k.touch(&format!("digit:{c}"));
        } else {
            k.touch(&format!("key:{c}"));
        }
    }
}

fn durable_outcomes(k: &K) -> Vec<(bool, Option<String>)> {
    k.backend
        .iter()
        .filter_map(|r| match r {
            Request::ResetOutcome { reset, detail, .. } => Some((*reset, detail.clone())),
            _ => None,
        })
        .collect()
}

/// From idle to the backend's reset session: card read, the proving credential's tries asked.
fn reach_open(k: &mut K, credential: ResetCredential) {
    assert!(k.view().services.iter().any(|c| c.id == "pin-reset" && c.enabled));
    k.touch("service:pin-reset");
    assert_eq!(k.screen(), ScreenId::PinResetChoose);
    let ids: Vec<_> = k.view().resets.iter().map(|c| (c.id.clone(), c.enabled)).collect();
    assert_eq!(ids, [("auth-pin".to_string(), true), ("sign-password".to_string(), true)]);
    k.touch(&format!("reset:{}", credential.id()));
    assert_eq!(k.screen(), ScreenId::PlaceCard);
    let target = match credential {
        ResetCredential::AuthPin => ResetTarget::AuthPin,
        ResetCredential::SignPassword => ResetTarget::SignPassword,
    };
    assert_eq!(k.view().reset_target, Some(target));
    k.place();
    k.reply_card("read-token", Ok(CardOk::Token { token: TokenKind::Card, certificate: Some(GOOD.der.to_vec()) }));
    let proof = credential.proven_by();
    let max = proof.max_tries();
    k.reply_card("pin-status-of", tries(max, max));
    assert_eq!(k.backend_op().1, Request::ResetOpen { credential, auth_certificate: GOOD.der.to_vec() });
    assert_eq!(k.verifies, 0, "no try is risked before the reservation is checked");
}

fn opened(k: &mut K) {
    k.reply_backend(Ok(BackendOk::ResetOpened {
        session_id: "R1".into(),
        challenge: challenge(),
        reservation_expires_at: "2025-06-03T09:00:00+09:00".into(),
    }));
}

/// Through the proof to the new-value screen of an auth-PIN reset.
fn reach_new_auth_pin(k: &mut K) {
    reach_open(k, ResetCredential::AuthPin);
    opened(k);
    assert_eq!(k.screen(), ScreenId::PasswordEntry);
    let pad = k.view().pin;
    assert_eq!(
        (pad.purpose, pad.tries_left, pad.alphanumeric, pad.min_len, pad.max_len),
        (PinPurpose::Sign, Some(5), true, 6, 16)
    );
    type_text(k, "ABC123");
    assert_eq!(k.view().pin.typed, 6);
    k.touch("ok");
    assert_eq!(k.verifies, 1);
    k.reply_card("verify", Ok(CardOk::Verified));
    k.reply_card("read-signature-certificate", Ok(CardOk::Certificate(SIGN_CERT.to_vec())));
    let signed: [u8; 32] = Sha256::digest(challenge()).into();
    assert!(k.log.iter().any(|l| l.contains("SignWithSignatureKey") && l.contains(&format!("{signed:?}"))));
    k.reply_card(
        "sign-with-signature-key",
        Ok(CardOk::Signature { signature: vec![5; 256], certificate_fingerprint: fingerprint(GOOD.der) }),
    );
    assert_eq!(
        k.backend_op().1,
        Request::ResetAuthenticate {
            session_id: "R1".into(),
            certificate: SIGN_CERT.to_vec(),
            signature: vec![5; 256]
        }
    );
    k.reply_backend(Ok(BackendOk::ResetAuthenticated { session_id: "R1".into() }));
    assert!(k.audited(|r| matches!(r, RecordKind::ResetAuthenticated { credential: ResetCredential::AuthPin })));
    k.reply_card("reset-challenge", Ok(CardOk::ResetChallenge([1, 2, 3, 4, 5, 6, 7, 8])));
    assert_eq!(
        k.backend_op().1,
        Request::ResetAuthorise { session_id: "R1".into(), card_challenge: [1, 2, 3, 4, 5, 6, 7, 8] }
    );
    k.reply_backend(Ok(BackendOk::ResetAuthorised { authorisation: [7; 64] }));
    assert_eq!(k.screen(), ScreenId::NewPinEntry);
    assert_eq!(k.view().pin.purpose, PinPurpose::NewAuth);
    assert_eq!(k.view().pin.tries_left, None);
}

#[test]
fn auth_pin_reset_with_the_signature_password() {
    let mut k = K::new();
    reach_new_auth_pin(&mut k);
    let commands_before = k.card_commands.len();
    k.type_pin("0420");
    k.touch("ok");
    assert_eq!(k.screen(), ScreenId::NewPinConfirm);
    k.type_pin("0420");
    k.touch("ok");
    assert_eq!(k.card_commands.len(), commands_before + 1, "the card sees the new PIN once, after both entries");
    assert_eq!(k.card_commands.last().map(String::as_str), Some("reset-retry-counter"));
    assert!(!k.view().can_cancel, "the card's answer decides what it holds: no cancel meanwhile");
    k.reply_card("reset-retry-counter", Ok(CardOk::ResetDone { tries_left: 3 }));
    assert_eq!(k.screen(), ScreenId::PinResetDone);
    assert_eq!(k.view().reset_target, Some(ResetTarget::AuthPin));
    assert_eq!(durable_outcomes(&k), [(true, None)], "the reservation is used up");
    assert!(k.audited(|r| matches!(r, RecordKind::ResetDone { credential: ResetCredential::AuthPin })));
    // The new PIN reaches no log line, request or audit record.
    assert!(!k.log.iter().any(|l| l.contains("0420")));
    assert!(!format!("{:?} {:?}", k.backend, k.audits).contains("0420"));
    k.remove();
    assert_eq!(k.screen(), ScreenId::Idle);
    assert!(!k.s.in_transaction());
    assert_eq!(k.wipes, 1);
}

#[test]
fn sign_password_reset_with_the_auth_pin() {
    let mut k = K::new();
    reach_open(&mut k, ResetCredential::SignPassword);
    opened(&mut k);
    assert_eq!(k.screen(), ScreenId::PinEntry, "the auth PIN on the PIN pad");
    assert_eq!(k.view().reset_target, Some(ResetTarget::SignPassword));
    assert_eq!((k.view().pin.purpose, k.view().pin.tries_left), (PinPurpose::Auth, Some(3)));
    k.type_pin("1234");
    k.touch("ok");
    k.reply_card("verify", Ok(CardOk::Verified));
    let signed: [u8; 32] = Sha256::digest(challenge()).into();
    assert!(k.log.iter().any(|l| l.contains("Sign {") && l.contains(&format!("{signed:?}"))));
    k.reply_card(
        "sign",
        Ok(CardOk::Signature { signature: vec![6; 256], certificate_fingerprint: fingerprint(GOOD.der) }),
    );
    assert_eq!(
        k.backend_op().1,
        Request::ResetAuthenticate { session_id: "R1".into(), certificate: GOOD.der.to_vec(), signature: vec![6; 256] }
    );
    k.reply_backend(Ok(BackendOk::ResetAuthenticated { session_id: "R1".into() }));
    assert!(k.log.iter().any(|l| l.contains("ResetChallenge(Signature)")));
    k.reply_card("reset-challenge", Ok(CardOk::ResetChallenge([9; 8])));
    k.reply_backend(Ok(BackendOk::ResetAuthorised { authorisation: [8; 64] }));
    let pad = k.view().pin;
    assert_eq!((pad.purpose, pad.alphanumeric, pad.min_len, pad.max_len), (PinPurpose::NewSign, true, 6, 16));
    // The rule: at least one letter and one digit; asked again, the card untouched.
    type_text(&mut k, "ABCDEF");
    k.touch("ok");
    assert_eq!(k.screen(), ScreenId::NewPinEntry);
    assert_eq!(k.view().pin.retry, Some(NewValueRetry::Rule));
    assert_eq!(k.view().pin.typed, 0);
    type_text(&mut k, "NEWPASS9");
    assert_eq!(k.view().pin.retry, None, "typing clears the reason");
    k.touch("ok");
    type_text(&mut k, "NEWPASS9");
    k.touch("ok");
    k.reply_card("reset-retry-counter", Ok(CardOk::ResetDone { tries_left: 5 }));
    assert_eq!(k.view().reset_target, Some(ResetTarget::SignPassword));
    assert_eq!(k.screen(), ScreenId::PinResetDone);
    assert!(!k.log.iter().any(|l| l.contains("NEWPASS9")));
    k.touch("ok");
    assert_eq!(k.screen(), ScreenId::TakeCard);
    k.remove();
    assert_eq!(k.screen(), ScreenId::Idle);
}

#[test]
fn a_mismatch_is_asked_again_without_touching_the_card() {
    let mut k = K::new();
    reach_new_auth_pin(&mut k);
    let before = k.card_commands.len();
    k.type_pin("0420");
    k.touch("ok");
    k.type_pin("0421");
    k.touch("ok");
    assert_eq!(k.screen(), ScreenId::NewPinEntry);
    assert_eq!(k.view().pin.retry, Some(NewValueRetry::Mismatch));
    assert_eq!(k.view().pin.typed, 0);
    assert_eq!(k.card_commands.len(), before);
    // The same authorisation serves the second attempt.
    k.type_pin("5678");
    k.touch("ok");
    k.type_pin("5678");
    k.touch("ok");
    assert!(k.log.iter().any(|l| l.contains("ResetRetryCounter") && l.contains(&format!("{:?}", [7u8; 64]))));
    assert!(!k.log.iter().any(|l| l.contains("5678")));
}

#[test]
fn the_cards_rule_refusal_asks_again_with_the_same_challenge() {
    let mut k = K::new();
    reach_new_auth_pin(&mut k);
    k.type_pin("0420");
    k.touch("ok");
    k.type_pin("0420");
    k.touch("ok");
    k.reply_card("reset-retry-counter", Err(CardFailure::new(JpkiErrorKind::InvalidPin)));
    assert_eq!(k.screen(), ScreenId::NewPinEntry);
    assert_eq!(k.view().pin.retry, Some(NewValueRetry::Rule));
    assert!(durable_outcomes(&k).is_empty());
}

#[test]
fn wrong_password_spends_one_try_and_warns_at_the_last() {
    let mut k = K::new();
    reach_open(&mut k, ResetCredential::AuthPin);
    opened(&mut k);
    for left in [4u8, 3, 2, 1] {
        type_text(&mut k, "WRONG1");
        k.touch("ok");
        k.reply_card("verify", Err(CardFailure::wrong_pin(left)));
        assert_eq!(k.screen(), ScreenId::PasswordEntry);
        let pad = k.view().pin;
        assert_eq!((pad.tries_left, pad.previous_wrong, pad.typed), (Some(left), true, 0));
    }
    type_text(&mut k, "WRONG1");
    k.touch("ok");
    k.reply_card("verify", Err(CardFailure::wrong_pin(0)));
    assert_eq!(k.failure(), FailureCode::ResetBothBlocked);
    assert_eq!(durable_outcomes(&k), [(false, Some("reset-both-blocked".into()))]);
}

#[test]
fn refusals_before_any_try_is_risked() {
    // The backend's refusals at the reservation and certificate check.
    let cases = [
        (ErrorCode::ResetNotReserved, FailureCode::ResetNotReserved),
        (ErrorCode::ResetReservationExpired, FailureCode::ResetReservationExpired),
        (ErrorCode::ResetSignatureRevoked, FailureCode::ResetSignatureRevoked),
        (ErrorCode::ResetNoSignatureCertificate, FailureCode::ResetNoSignatureCertificate),
        (ErrorCode::CertificateExpired, FailureCode::ResetCardExpired),
        (ErrorCode::ResetPhoneToken, FailureCode::ResetPhone),
    ];
    for (code, failure) in cases {
        let mut k = K::new();
        reach_open(&mut k, ResetCredential::AuthPin);
        k.reply_backend(Err(BackendError::Refused(Refusal::from(code))));
        assert_eq!(k.failure(), failure, "{code:?}");
        assert_eq!(k.verifies, 0);
        assert!(durable_outcomes(&k).is_empty(), "no reset session was opened");
        k.finish_and_check_idle();
    }
}

#[test]
fn the_card_itself_refuses_early() {
    // A phone: reset in the Mynaportal app, not here; nothing goes to the backend.
    for token in [TokenKind::Android, TokenKind::Iphone] {
        let mut k = K::new();
        k.touch("service:pin-reset");
        k.touch("reset:auth-pin");
        k.place();
        k.reply_card("read-token", Ok(CardOk::Token { token, certificate: None }));
        assert_eq!(k.failure(), FailureCode::ResetPhone);
        assert!(k.backend.is_empty());
    }
    // An expired card.
    let mut k = K::new();
    k.touch("service:pin-reset");
    k.touch("reset:sign-password");
    k.place();
    k.reply_card("read-token", Ok(CardOk::Token { token: TokenKind::Card, certificate: Some(EXPIRED.der.to_vec()) }));
    assert_eq!(k.failure(), FailureCode::ResetCardExpired);
    // The proving credential blocked too: city hall.
    let mut k = K::new();
    k.touch("service:pin-reset");
    k.touch("reset:auth-pin");
    k.place();
    k.reply_card("read-token", Ok(CardOk::Token { token: TokenKind::Card, certificate: Some(GOOD.der.to_vec()) }));
    assert!(k.log.iter().any(|l| l.contains(&format!("PinStatusOf({:?})", PinKind::Signature))));
    k.reply_card("pin-status-of", Ok(CardOk::PinStatus(PinStatus::Blocked)));
    assert_eq!(k.failure(), FailureCode::ResetBothBlocked);
    // No signature password on the card (under 15).
    let mut k = K::new();
    k.touch("service:pin-reset");
    k.touch("reset:auth-pin");
    k.place();
    k.reply_card("read-token", Ok(CardOk::Token { token: TokenKind::Card, certificate: Some(GOOD.der.to_vec()) }));
    k.reply_card("pin-status-of", Err(CardFailure::new(JpkiErrorKind::NotPresent)));
    assert_eq!(k.failure(), FailureCode::ResetNoSignatureCertificate);
    assert!(k.backend.is_empty());
}

#[test]
fn outside_the_reset_hours_or_not_offered() {
    let mut cfg = SessionConfig { kiosk_id: "K1".into(), ..SessionConfig::default() };
    cfg.pin_reset.opens = time::Time::from_hms(6, 30, 0).unwrap();
    cfg.pin_reset.closes = time::Time::from_hms(9, 0, 0).unwrap();
    let mut k = K::with(cfg.clone());
    let reset = k.view().services.into_iter().find(|c| c.id == "pin-reset").unwrap();
    assert_eq!((reset.enabled, reset.note.as_str()), (false, "hours"));
    k.touch("start");
    k.touch("service:pin-reset");
    assert_eq!(k.failure(), FailureCode::ResetOutsideHours);

    // A store that resets only signature passwords (jpki.md §4).
    cfg.pin_reset = PinResetOffer { credentials: vec![ResetCredential::SignPassword], ..PinResetOffer::default() };
    let mut k = K::with(cfg.clone());
    k.touch("service:pin-reset");
    let choices: Vec<_> = k.view().resets.iter().map(|c| (c.id.clone(), c.enabled, c.note.clone())).collect();
    assert_eq!(choices[0], ("auth-pin".into(), false, "not-offered".into()));
    k.touch("reset:auth-pin");
    assert_eq!(k.screen(), ScreenId::PinResetChoose, "a disabled choice does nothing");

    cfg.pin_reset.credentials.clear();
    let k = K::with(cfg);
    let reset = k.view().services.into_iter().find(|c| c.id == "pin-reset").unwrap();
    assert_eq!((reset.enabled, reset.note.as_str()), (false, "not-offered"));
}

#[test]
fn card_pulled_between_challenge_and_reset_keeps_the_old_pin() {
    let mut k = K::new();
    reach_new_auth_pin(&mut k);
    k.type_pin("04");
    k.remove();
    assert_eq!(k.failure(), FailureCode::ResetInterrupted);
    assert_eq!(durable_outcomes(&k), [(false, Some("reset-interrupted".into()))], "the reservation stays usable");
    assert!(!k.card_commands.iter().any(|c| c == "reset-retry-counter"));
    k.finish_and_check_idle();
}

#[test]
fn a_swapped_card_is_refused() {
    // The signature comes from another card than the one whose certificate was read.
    let mut k = K::new();
    reach_open(&mut k, ResetCredential::SignPassword);
    opened(&mut k);
    k.type_pin("1234");
    k.touch("ok");
    k.reply_card("verify", Ok(CardOk::Verified));
    k.reply_card(
        "sign",
        Ok(CardOk::Signature { signature: vec![6; 256], certificate_fingerprint: fingerprint(OTHER.der) }),
    );
    assert_eq!(k.failure(), FailureCode::CardSwapped);
    // The card refuses an authorisation that is not for it.
    let mut k = K::new();
    reach_new_auth_pin(&mut k);
    k.type_pin("0420");
    k.touch("ok");
    k.type_pin("0420");
    k.touch("ok");
    k.reply_card("reset-retry-counter", Err(CardFailure::new(JpkiErrorKind::ResetRefused)));
    assert_eq!(k.failure(), FailureCode::ResetCardRefused);
    assert!(k.audited(|r| matches!(r, RecordKind::ResetRefusedByCard)));
    assert_eq!(durable_outcomes(&k), [(false, Some("reset-card-refused".into()))]);
}

#[test]
fn backend_down_after_the_challenge() {
    let mut k = K::new();
    reach_open(&mut k, ResetCredential::AuthPin);
    opened(&mut k);
    type_text(&mut k, "ABC123");
    k.touch("ok");
    k.reply_card("verify", Ok(CardOk::Verified));
    k.reply_card("read-signature-certificate", Ok(CardOk::Certificate(SIGN_CERT.to_vec())));
    k.reply_card(
        "sign-with-signature-key",
        Ok(CardOk::Signature { signature: vec![5; 256], certificate_fingerprint: fingerprint(GOOD.der) }),
    );
    k.reply_backend(Ok(BackendOk::ResetAuthenticated { session_id: "R1".into() }));
    k.reply_card("reset-challenge", Ok(CardOk::ResetChallenge([1; 8])));
    // The authorisation is safe to ask again; after the retries the resident is told.
    for _ in 0..=2 {
        k.reply_backend(Err(BackendError::Unreachable));
        k.wait(10);
    }
    assert_eq!(k.failure(), FailureCode::ResetInterrupted);
    assert!(!k.card_commands.iter().any(|c| c == "reset-retry-counter"));
}

#[test]
fn a_challenge_that_expired_while_typing_tells_nothing_changed() {
    let mut k = K::new();
    reach_open(&mut k, ResetCredential::SignPassword);
    opened(&mut k);
    k.type_pin("1234");
    k.touch("ok");
    k.reply_card("verify", Ok(CardOk::Verified));
    k.reply_card(
        "sign",
        Ok(CardOk::Signature { signature: vec![6; 256], certificate_fingerprint: fingerprint(GOOD.der) }),
    );
    k.reply_backend(Err(BackendError::Refused(Refusal::from(ErrorCode::ChallengeExpired))));
    assert_eq!(k.failure(), FailureCode::ResetInterrupted);
    assert_eq!(durable_outcomes(&k), [(false, Some("reset-interrupted".into()))]);
}

#[test]
fn secrets_are_wiped_at_every_exit() {
    let mut k = K::new();
    reach_new_auth_pin(&mut k);
    k.type_pin("04");
    k.touch("cancel");
    assert_eq!(k.failure(), FailureCode::Cancelled);
    assert_eq!(k.wipes, 1);
    assert!(!format!("{:?}", k.s).contains("04"));
    assert_eq!(durable_outcomes(&k), [(false, Some("cancelled".into()))]);
}

#[test]
fn the_locked_pin_screen_offers_the_reset_with_the_card_on_the_reader() {
    let mut k = K::new();
    k.reach_pin_entry(&GOOD, 1);
    k.type_pin("0000");
    k.touch("ok");
    k.reply_card("verify", Err(CardFailure::wrong_pin(0)));
    assert_eq!(k.screen(), ScreenId::CertificateProblem);
    assert_eq!(k.failure(), FailureCode::PinBlocked);
    let offered: Vec<_> = k.view().services.iter().map(|c| (c.id.clone(), c.enabled)).collect();
    assert_eq!(offered, [("pin-reset".to_string(), true)]);
    k.touch("service:pin-reset");
    // A new transaction reads the same card for an auth-PIN reset at once.
    assert_eq!(k.view().reset_target, Some(ResetTarget::AuthPin));
    k.reply_card("read-token", Ok(CardOk::Token { token: TokenKind::Card, certificate: Some(GOOD.der.to_vec()) }));
    k.reply_card("pin-status-of", tries(5, 5));
    assert!(matches!(k.backend_op().1, Request::ResetOpen { credential: ResetCredential::AuthPin, .. }));

    // A kiosk without the auth-PIN reset says where to go instead (the failure text), no button.
    let mut cfg = SessionConfig { kiosk_id: "K1".into(), ..SessionConfig::default() };
    cfg.pin_reset.credentials = vec![ResetCredential::SignPassword];
    let mut k = K::with(cfg);
    k.reach_pin_entry(&GOOD, 1);
    k.type_pin("0000");
    k.touch("ok");
    k.reply_card("verify", Err(CardFailure::wrong_pin(0)));
    assert!(k.view().services.is_empty());
}

#[test]
fn a_kiosk_out_of_paper_or_cash_still_resets_pins() {
    let mut k = K::new();
    k.ev(Event::PrinterStatus(PrinterEvent::Ready(false)));
    assert_eq!(k.screen(), ScreenId::OutOfService);
    let offered: Vec<_> = k.view().services.iter().map(|c| (c.id.clone(), c.enabled)).collect();
    assert_eq!(offered, [("pin-reset".to_string(), true)], "certificates are not offered, the reset is");
    reach_open(&mut k, ResetCredential::AuthPin);

    // Outside the reset hours (or with a wrong clock) the out-of-service screen offers nothing.
    let mut cfg = SessionConfig { kiosk_id: "K1".into(), ..SessionConfig::default() };
    cfg.pin_reset.opens = time::Time::from_hms(6, 30, 0).unwrap();
    cfg.pin_reset.closes = time::Time::from_hms(9, 0, 0).unwrap();
    let mut k = K::with(cfg);
    k.ev(Event::PrinterStatus(PrinterEvent::Ready(false)));
    assert_eq!(k.screen(), ScreenId::OutOfService);
    assert!(k.view().services.is_empty());
    let mut k = K::new();
    k.wall = time::macros::datetime!(2000-01-01 0:00 UTC);
    k.tick(1);
    assert_eq!(k.screen(), ScreenId::OutOfService);
    assert!(k.view().services.is_empty(), "a wrong clock offers nothing: {:?}", k.view().services);
}

/// A reset's challenge made for another kiosk (or not madoguchi's at all) is refused when the
/// session opens, before the resident types the proof that the card would sign it with.
#[test]
fn a_reset_challenge_not_made_for_this_kiosk_is_refused_before_the_proof() {
    use madoguchi_api::challenge::{encode, Purpose};
    for challenge in [encode(Purpose::PinReset, "K2", &[1; 32]).unwrap(), vec![1; 32]] {
        let mut k = K::new();
        reach_open(&mut k, ResetCredential::AuthPin);
        k.reply_backend(Ok(BackendOk::ResetOpened {
            session_id: "R1".into(),
            challenge,
            reservation_expires_at: "2025-06-03T09:00:00+09:00".into(),
        }));
        // The reset's own words for a service that could not be used (nothing changed).
        assert_eq!(k.failure(), FailureCode::ResetInterrupted);
        assert!(k.audited(|r| matches!(r, RecordKind::ChallengeRefused { .. })));
        assert_eq!(k.verifies, 0);
        assert!(!k.card_commands.iter().any(|c| c.starts_with("sign")));
    }
}
