//! RESET RETRY COUNTER and its challenge, byte for byte against jpki.md "PIN reset at the kiosk:
//! our protocol (v1)".

use super::*;
use ed25519_dalek::{Signer, SigningKey};
use madoguchi_api::pin_reset::authorisation_message;
use madoguchi_api::pin_reset::ResetCredential::{AuthPin, SignPassword};

const GET_CHALLENGE: &str = "00 84 00 00 08";

/// The backend's card-management key in these tests.
fn management_key() -> SigningKey {
    SigningKey::from_bytes(&[0x4D; 32])
}

fn reset_profile() -> CardProfile {
    let mut p = test_profile();
    p.jpki.card_management_key = Some(management_key().verifying_key().to_bytes());
    p
}

fn reset_card() -> VirtualCard {
    card_with(reset_profile(), TokenKind::Card)
}

fn fid(credential: ResetCredential) -> u16 {
    u16::from(credential.target())
}

/// `00 84 00 00 08` → the 8 challenge bytes.
fn challenge(c: &mut VirtualCard) -> [u8; 8] {
    let (data, sw) = tx(c, &h(GET_CHALLENGE));
    assert_eq!(sw, 0x9000);
    data.try_into().expect("8 bytes")
}

/// Protocol steps 3 and 4 for this card: SELECT AP, SELECT target EF, GET CHALLENGE, and the
/// backend's authorisation over this card's EF 000A.
fn prepare(c: &mut VirtualCard, credential: ResetCredential) -> [u8; 64] {
    assert_eq!(sw(c, SELECT_JPKI), 0x9000);
    assert_eq!(select_ef(c, fid(credential)), 0x9000);
    let challenge = challenge(c);
    authorise(&management_key(), credential, &challenge, &test_profile().jpki.auth_cert)
}

fn authorise(key: &SigningKey, credential: ResetCredential, challenge: &[u8; 8], cert: &[u8]) -> [u8; 64] {
    key.sign(&authorisation_message(credential, challenge, cert)).to_bytes()
}

/// `00 2C 00 80 Lc <authorisation> <new value>`.
fn reset_apdu(authorisation: &[u8], value: &[u8]) -> Vec<u8> {
    let mut data = authorisation.to_vec();
    data.extend_from_slice(value);
    with_data("00 2C 00 80", &data)
}

fn reset(c: &mut VirtualCard, authorisation: &[u8], value: &[u8]) -> u16 {
    tx(c, &reset_apdu(authorisation, value)).1
}

fn value_of(c: &VirtualCard, credential: ResetCredential) -> (String, u8) {
    let j = &c.profile().jpki;
    let rec = match credential {
        AuthPin => &j.auth_pin,
        SignPassword => j.sign_password.as_ref().expect("signature password"),
    };
    (rec.value.clone(), rec.tries_left)
}

#[test]
fn auth_pin_reset_sets_the_new_pin_with_a_full_counter() {
    let mut c = reset_card();
    let auth = prepare(&mut c, AuthPin);
    assert_eq!(reset(&mut c, &auth, b"4321"), 0x9000);
    assert!(c.take_dirty(), "the new PIN must be stored before the answer");
    assert_eq!(value_of(&c, AuthPin), ("4321".into(), 3));
    // Step 6: the kiosk's empty VERIFY; then the old PIN is wrong and the new one right.
    assert_eq!(sw(&mut c, "00 20 00 80"), 0x63C3);
    assert_eq!(verify(&mut c, b"1234"), 0x63C2);
    assert_eq!(verify(&mut c, b"4321"), 0x9000);
    assert_eq!(sw(&mut c, "00 20 00 80"), 0x63C3);
    // The other credential is untouched.
    assert_eq!(value_of(&c, SignPassword), ("ABCDEF123456".into(), 5));
}

#[test]
fn sign_password_reset_sets_the_new_password_with_a_full_counter() {
    let mut c = reset_card();
    let auth = prepare(&mut c, SignPassword);
    assert_eq!(reset(&mut c, &auth, b"NEWPASS9"), 0x9000);
    assert!(c.take_dirty());
    assert_eq!(value_of(&c, SignPassword), ("NEWPASS9".into(), 5));
    assert_eq!(sw(&mut c, "00 20 00 80"), 0x63C5);
    assert_eq!(verify(&mut c, b"ABCDEF123456"), 0x63C4);
    assert_eq!(verify(&mut c, b"NEWPASS9"), 0x9000);
    assert_eq!(value_of(&c, AuthPin), ("1234".into(), 3));
}

#[test]
fn reset_unblocks_a_blocked_pin() {
    let mut c = reset_card();
    sw(&mut c, SELECT_JPKI);
    select_ef(&mut c, 0x0018);
    for expect in [0x63C2, 0x63C1, 0x63C0] {
        assert_eq!(verify(&mut c, b"0000"), expect);
    }
    assert_eq!(verify(&mut c, b"1234"), 0x6984, "blocked");
    let auth = prepare(&mut c, AuthPin);
    assert_eq!(reset(&mut c, &auth, b"5678"), 0x9000);
    assert_eq!(sw(&mut c, "00 20 00 80"), 0x63C3);
    assert_eq!(verify(&mut c, b"5678"), 0x9000);

    // The signature password too, from 5 wrong tries.
    select_ef(&mut c, 0x001B);
    for _ in 0..5 {
        verify(&mut c, b"WRONG0");
    }
    assert_eq!(verify(&mut c, b"ABCDEF123456"), 0x6984);
    let auth = prepare(&mut c, SignPassword);
    assert_eq!(reset(&mut c, &auth, b"ABC123"), 0x9000);
    assert_eq!(sw(&mut c, "00 20 00 80"), 0x63C5);
}

#[test]
fn the_reset_pin_is_not_left_verified() {
    // A card that answers 9000 to an empty VERIFY after a success shows the verified state.
    let mut p = reset_profile();
    p.jpki.empty_verify_after_success = EmptyVerifyAfterSuccess::Ok;
    let mut c = card_with(p, TokenKind::Card);
    sw(&mut c, SELECT_JPKI);
    select_ef(&mut c, 0x0018);
    assert_eq!(verify(&mut c, b"1234"), 0x9000);
    assert_eq!(sw(&mut c, "00 20 00 80"), 0x9000, "verified");
    let challenge = challenge(&mut c);
    let auth = authorise(&management_key(), AuthPin, &challenge, &test_profile().jpki.auth_cert);
    assert_eq!(reset(&mut c, &auth, b"4321"), 0x9000);
    assert_eq!(sw(&mut c, "00 20 00 80"), 0x63C3, "no longer verified");
    assert_eq!(tx(&mut c, &sign_apdu(0, 0x97, &sha256_digest_info(b"x"))).1, 0x6982);
}

#[test]
fn no_challenge_or_a_used_one_is_6985() {
    let mut c = reset_card();
    sw(&mut c, SELECT_JPKI);
    select_ef(&mut c, 0x0018);
    let auth = authorise(&management_key(), AuthPin, &[0; 8], &test_profile().jpki.auth_cert);
    assert_eq!(reset(&mut c, &auth, b"4321"), 0x6985, "no GET CHALLENGE yet");

    let auth = prepare(&mut c, AuthPin);
    assert_eq!(reset(&mut c, &auth, b"4321"), 0x9000);
    c.take_dirty();
    assert_eq!(reset(&mut c, &auth, b"8765"), 0x6985, "the challenge was used");
    // A replay against a fresh challenge does not verify, and spends that challenge.
    challenge(&mut c);
    assert_eq!(reset(&mut c, &auth, b"8765"), 0x6982);
    assert_eq!(reset(&mut c, &auth, b"8765"), 0x6985);
    assert_eq!(value_of(&c, AuthPin), ("4321".into(), 3));
    assert!(!c.take_dirty());
}

#[test]
fn an_altered_authorisation_is_6982_and_spends_the_challenge() {
    let mut c = reset_card();
    let good = prepare(&mut c, AuthPin);
    let mut bad = good;
    bad[17] ^= 0x01;
    assert_eq!(reset(&mut c, &bad, b"4321"), 0x6982);
    assert_eq!(reset(&mut c, &good, b"4321"), 0x6985, "the challenge is spent");
    assert_eq!(value_of(&c, AuthPin), ("1234".into(), 3));
    assert!(!c.take_dirty(), "nothing else changed");
}

#[test]
fn an_authorisation_binds_target_card_and_key() {
    let cert = test_profile().jpki.auth_cert;
    type Forge = fn(&[u8; 8], &[u8]) -> [u8; 64];
    let cases: [(&str, ResetCredential, Forge); 4] = [
        ("made for 0018, used on 001B", SignPassword, |ch, cert| authorise(&management_key(), AuthPin, ch, cert)),
        ("made for 001B, used on 0018", AuthPin, |ch, cert| authorise(&management_key(), SignPassword, ch, cert)),
        ("another card's certificate", AuthPin, |ch, _| authorise(&management_key(), AuthPin, ch, &fake_cert(9, 1200))),
        ("another key", AuthPin, |ch, cert| authorise(&SigningKey::from_bytes(&[0x4E; 32]), AuthPin, ch, cert)),
    ];
    for (what, target, forge) in cases {
        let mut c = reset_card();
        sw(&mut c, SELECT_JPKI);
        select_ef(&mut c, fid(target));
        let ch = challenge(&mut c);
        let auth = forge(&ch, &cert);
        let value: &[u8] = if target == AuthPin { b"4321" } else { b"NEWPASS9" };
        assert_eq!(reset(&mut c, &auth, value), 0x6982, "{what}");
        assert!(!c.take_dirty(), "{what}");
        // And the genuine authorisation for that challenge comes too late.
        let genuine = authorise(&management_key(), target, &ch, &cert);
        assert_eq!(reset(&mut c, &genuine, value), 0x6985, "{what}");
    }
}

#[test]
fn a_bad_new_value_is_6a80_and_keeps_the_challenge() {
    for (credential, bad, good) in [
        (AuthPin, &[&b"12a4"[..], b"123", b"12345", b"\xef\xbc\x91234"][..], &b"4321"[..]),
        (
            SignPassword,
            &[&b"ABCDEF"[..], b"abc123", b"123456", b"AB1", b"ABC 123", b"A2345678901234567"][..],
            b"ABC123",
        ),
    ] {
        let mut c = reset_card();
        let auth = prepare(&mut c, credential);
        let before = value_of(&c, credential);
        for value in bad {
            assert_eq!(reset(&mut c, &auth, value), 0x6A80, "{credential} {value:?}");
        }
        assert_eq!(value_of(&c, credential), before);
        assert!(!c.take_dirty());
        // The kiosk retries with the same authorisation.
        assert_eq!(reset(&mut c, &auth, good), 0x9000, "{credential}");
        assert_eq!(value_of(&c, credential).0.as_bytes(), good);
    }
}

#[test]
fn the_challenge_lives_until_a_df_selection_reset_or_power_off() {
    let cert = test_profile().jpki.auth_cert;
    let fresh = |c: &mut VirtualCard| authorise(&management_key(), AuthPin, &challenge(c), &cert);

    // SELECT of an EF keeps it (also another PIN EF and back, and READ BINARY by SFI).
    let mut c = reset_card();
    let auth = prepare(&mut c, AuthPin);
    assert_eq!(select_ef(&mut c, 0x000A), 0x9000);
    assert_eq!(sw(&mut c, "00 B0 8B 00 04"), 0x9000);
    select_ef(&mut c, 0x001B);
    select_ef(&mut c, 0x0018);
    assert_eq!(reset(&mut c, &auth, b"4321"), 0x9000);

    // SELECT of the AP (the same one again) or of another DF drops it.
    for df in [SELECT_JPKI, SELECT_TEXT] {
        let mut c = reset_card();
        let auth = prepare(&mut c, AuthPin);
        assert_eq!(sw(&mut c, df), 0x9000);
        sw(&mut c, SELECT_JPKI);
        select_ef(&mut c, 0x0018);
        assert_eq!(reset(&mut c, &auth, b"4321"), 0x6985, "{df}");
    }
    // A failed SELECT by AID changes nothing.
    let mut c = reset_card();
    let auth = prepare(&mut c, AuthPin);
    assert_eq!(sw(&mut c, "00 A4 04 0C 05 A0 00 00 03 08"), 0x6A82);
    assert_eq!(reset(&mut c, &auth, b"4321"), 0x9000);

    // Reset and power-off drop it.
    for how in [VirtualCard::reset as fn(&mut VirtualCard), VirtualCard::power_off] {
        let mut c = reset_card();
        let auth = prepare(&mut c, AuthPin);
        how(&mut c);
        c.power_on();
        sw(&mut c, SELECT_JPKI);
        select_ef(&mut c, 0x0018);
        assert_eq!(reset(&mut c, &auth, b"4321"), 0x6985);
    }

    // The next GET CHALLENGE replaces it: the older authorisation no longer verifies.
    let mut c = reset_card();
    let old = prepare(&mut c, AuthPin);
    let new = fresh(&mut c);
    assert_eq!(reset(&mut c, &old, b"4321"), 0x6982);
    assert_eq!(reset(&mut c, &new, b"4321"), 0x6985);
}

#[test]
fn only_an_8_byte_challenge_counts() {
    let cert = test_profile().jpki.auth_cert;
    let mut c = reset_card();
    sw(&mut c, SELECT_JPKI);
    select_ef(&mut c, 0x0018);
    let (long, s) = tx(&mut c, &h("00 84 00 00 10"));
    assert_eq!((long.len(), s), (16, 0x9000));
    let first8: [u8; 8] = long[..8].try_into().unwrap();
    let auth = authorise(&management_key(), AuthPin, &first8, &cert);
    assert_eq!(reset(&mut c, &auth, b"4321"), 0x6985);

    // An 8-byte challenge replaced by a 16-byte one is gone too, and so after a refused one.
    for second in ["00 84 00 00 10", "00 84 00 00 00 00 08", "00 84 01 00 08"] {
        let mut c = reset_card();
        let auth = prepare(&mut c, AuthPin);
        tx(&mut c, &h(second));
        assert_eq!(reset(&mut c, &auth, b"4321"), 0x6985, "{second}");
    }
}

#[test]
fn parameter_and_length_errors_come_first_and_keep_the_challenge() {
    let mut c = reset_card();
    let auth = prepare(&mut c, AuthPin);
    let mut data = auth.to_vec();
    data.extend_from_slice(b"4321");
    let mut with_le = reset_apdu(&auth, b"4321");
    with_le.push(0x00);
    let errors: [(&str, Vec<u8>, u16); 6] = [
        ("P1 01", with_data("00 2C 01 80", &data), 0x6A86),
        ("P1 03", with_data("00 2C 03 80", &data), 0x6A86),
        ("P2 by SFI", with_data("00 2C 00 98", &data), 0x6A86),
        ("Le", with_le, 0x6700),
        ("authorisation only", reset_apdu(&auth, b""), 0x6700),
        ("short authorisation", with_data("00 2C 00 80", &data[..60]), 0x6700),
    ];
    for (what, apdu, expect) in errors {
        assert_eq!(tx(&mut c, &apdu).1, expect, "{what}");
    }
    assert_eq!(sw(&mut c, "80 2C 00 80 01 00"), 0x6E00, "ISO INS under CLA 80");
    assert_eq!(sw(&mut c, "00 2C 00 80"), 0x6700, "no data at all");
    assert!(!c.take_dirty());
    assert_eq!(tx(&mut c, &reset_apdu(&auth, b"4321")).1, 0x9000, "the challenge survived");
}

#[test]
fn only_the_jpki_pins_can_be_reset() {
    let cert = test_profile().jpki.auth_cert;
    // No EF selected.
    let mut c = reset_card();
    sw(&mut c, SELECT_JPKI);
    let ch = challenge(&mut c);
    let auth = authorise(&management_key(), AuthPin, &ch, &cert);
    assert_eq!(reset(&mut c, &auth, b"4321"), 0x6986);
    // An EF that is not a PIN.
    for ef in [0x000A, 0x0017] {
        select_ef(&mut c, ef);
        assert_eq!(reset(&mut c, &auth, b"4321"), 0x6986, "{ef:04X}");
    }
    select_ef(&mut c, 0x0018);
    assert_eq!(reset(&mut c, &auth, b"4321"), 0x9000, "the challenge survived the refusals");
    // The text AP's PIN (our choice: 6986, like a non-PIN EF).
    let mut c = reset_card();
    sw(&mut c, SELECT_TEXT);
    select_ef(&mut c, 0x0011);
    let ch = challenge(&mut c);
    assert_eq!(reset(&mut c, &authorise(&management_key(), AuthPin, &ch, &cert), b"4321"), 0x6986);
    assert_eq!(c.profile().text_ap.as_ref().unwrap().pin.value, "9876");
    // Nothing selected at all.
    let mut c = reset_card();
    assert_eq!(reset(&mut c, &auth, b"4321"), 0x6986);
}

#[test]
fn phones_refuse_the_reset_and_touch_nothing() {
    for token in [TokenKind::Android, TokenKind::Iphone] {
        let mut p = reset_profile();
        p.text_ap = None;
        p.token = token;
        let before = p.clone();
        let mut c = card_with(p, token);
        for credential in [AuthPin, SignPassword] {
            let auth = prepare(&mut c, credential);
            assert_eq!(reset(&mut c, &auth, b"ABC123"), 0x6985, "{token:?} {credential}");
            assert_eq!(reset(&mut c, &auth, b"4321"), 0x6985, "{token:?} {credential}");
        }
        assert!(!c.take_dirty());
        assert_eq!(c.profile(), &before);
    }
    // A card profile run as a phone (`--token android`) refuses too.
    let mut c = card_with(reset_profile(), TokenKind::Android);
    let auth = prepare(&mut c, AuthPin);
    assert_eq!(reset(&mut c, &auth, b"4321"), 0x6985);
}

#[test]
fn a_profile_without_the_key_refuses_every_reset() {
    let mut c = card(TokenKind::Card);
    assert!(c.profile().jpki.card_management_key.is_none());
    let auth = prepare(&mut c, AuthPin);
    assert_eq!(reset(&mut c, &auth, b"4321"), 0x6982);
    assert_eq!(reset(&mut c, &auth, b"4321"), 0x6985, "spent");
    assert!(!c.take_dirty());

    // Such a profile is what an old file loads as; the key round-trips through JSON as base64.
    let json = serde_json::to_value(test_profile()).unwrap();
    assert!(json["jpki"].get("card_management_key").is_none(), "not written when absent");
    let old: CardProfile = serde_json::from_value(json).unwrap();
    assert_eq!(old.jpki.card_management_key, None);
    let json = serde_json::to_value(reset_profile()).unwrap();
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(management_key().verifying_key().to_bytes());
    assert_eq!(json["jpki"]["card_management_key"], b64.as_str());
    assert_eq!(serde_json::from_value::<CardProfile>(json).unwrap(), reset_profile());
    let mut json = serde_json::to_value(reset_profile()).unwrap();
    json["jpki"]["card_management_key"] = "AAAA".into();
    assert!(serde_json::from_value::<CardProfile>(json).is_err(), "3 bytes are no key");
}

#[test]
fn the_new_value_is_stored_and_never_shown() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("R0001.json");
    reset_profile().store(&path).unwrap();
    let mut c = card_with(CardProfile::load(&path).unwrap(), TokenKind::Card);
    sw(&mut c, SELECT_JPKI);
    select_ef(&mut c, 0x0018);
    verify(&mut c, b"0000");
    let auth = prepare(&mut c, AuthPin);
    let apdu = reset_apdu(&auth, b"4729");
    let response = c.process(&apdu);
    assert_eq!(response, [0x90, 0x00]);
    assert!(c.take_dirty());
    c.profile().store(&path).unwrap();

    let stored = CardProfile::load(&path).unwrap();
    assert_eq!((stored.jpki.auth_pin.value.as_str(), stored.jpki.auth_pin.tries_left), ("4729", 3));
    assert_eq!(stored.jpki.card_management_key, reset_profile().jpki.card_management_key);
    let mut again = card_with(stored, TokenKind::Card);
    sw(&mut again, SELECT_JPKI);
    select_ef(&mut again, 0x0018);
    assert_eq!(verify(&mut again, b"4729"), 0x9000);

    // The APDU log line: header and Lc only, as for VERIFY.
    let line = describe_exchange(&apdu, &response);
    assert_eq!(line, "C: 00 2C 00 80 Lc=68 -> 9000");
    assert!(!line.contains("4729") && !line.contains("34 37 32 39"));
    for shown in [format!("{c:?}"), format!("{:?}", c.profile())] {
        assert!(!shown.contains("4729"), "{shown}");
    }
}
