//! Byte-level tests of the engine against jpki.md §2–§5, §7, §9–§10.

use super::*;
use crate::profile::{JpkiApplet, TextApplet, PROFILE_FORMAT};
use rsa::pkcs8::EncodePrivateKey;
use rsa::RsaPublicKey;
use std::sync::OnceLock;

// ---- fixtures ----

/// DER prefix of a SHA-256 DigestInfo (jpki.md §5).
const SHA256_DIGEST_INFO_PREFIX: [u8; 19] =
    [0x30, 0x31, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20];

/// Two RSA-2048 keys (auth, sign) as PKCS#8 DER, generated once from a fixed seed.
pub(crate) fn test_keys() -> &'static (Vec<u8>, Vec<u8>) {
    static KEYS: OnceLock<(Vec<u8>, Vec<u8>)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut rng = ChaCha20Rng::seed_from_u64(0x4A50_4B49);
        let mut one = || {
            let key = RsaPrivateKey::new(&mut rng, 2048).expect("keygen");
            key.to_pkcs8_der().expect("pkcs8").as_bytes().to_vec()
        };
        (one(), one())
    })
}

fn pin(value: &str, max: u8) -> PinRecord {
    PinRecord { value: value.to_string(), max_tries: max, tries_left: max }
}

/// DER-ish certificate bytes of a given length (`30 82 LL LL` header, patterned body).
fn fake_cert(seed: u8, len: usize) -> Vec<u8> {
    let body = len - 4;
    let mut v = vec![0x30, 0x82, (body >> 8) as u8, body as u8];
    v.extend((0..body).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)));
    v
}

pub(crate) fn test_profile() -> CardProfile {
    let (auth, sign) = test_keys().clone();
    CardProfile {
        format: PROFILE_FORMAT,
        holder: "R0001".into(),
        token: TokenKind::Card,
        jpki: JpkiApplet {
            auth_cert: fake_cert(1, 1200),
            auth_ca_cert: fake_cert(2, 900),
            auth_key_pkcs8: auth,
            auth_pin: pin("1234", 3),
            sign_cert: Some(fake_cert(3, 1700)),
            sign_ca_cert: fake_cert(4, 950),
            sign_key_pkcs8: Some(sign),
            sign_password: Some(pin("ABCDEF123456", 5)),
            empty_verify_after_success: EmptyVerifyAfterSuccess::Counter,
            // Like a profile from before PIN reset; `reset` gives its cards a key.
            card_management_key: None,
        },
        text_ap: Some(TextApplet {
            my_number: "123456789018".into(),
            name: "山田　花子".into(), // 15 bytes of UTF-8, like the test vector
            address: "東京都千代田区霞が関二丁目１番２号Ａ".into(), // 54 bytes
            birth_date: "19900101".into(),
            sex: "2".into(),
            pin: pin("9876", 3),
        }),
    }
}

fn under15_profile() -> CardProfile {
    let mut p = test_profile();
    p.jpki.sign_cert = None;
    p.jpki.sign_key_pkcs8 = None;
    p.jpki.sign_password = None;
    p
}

fn card_with(profile: CardProfile, token: TokenKind) -> VirtualCard {
    let mut c = VirtualCard::new(profile, token);
    c.power_on();
    c
}

fn card(token: TokenKind) -> VirtualCard {
    card_with(test_profile(), token)
}

/// Parses spaced hex ("00 A4 04 0C") into bytes.
fn h(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex")).collect()
}

/// Sends an APDU, returns (data, SW).
fn tx(card: &mut VirtualCard, apdu: &[u8]) -> (Vec<u8>, u16) {
    let mut r = card.process(apdu);
    assert!(r.len() >= 2, "response without SW");
    let sw = u16::from_be_bytes([r[r.len() - 2], r[r.len() - 1]]);
    r.truncate(r.len() - 2);
    (r, sw)
}

fn sw(card: &mut VirtualCard, hex: &str) -> u16 {
    tx(card, &h(hex)).1
}

fn with_data(header: &str, data: &[u8]) -> Vec<u8> {
    let mut v = h(header);
    v.push(data.len() as u8);
    v.extend_from_slice(data);
    v
}

const SELECT_JPKI: &str = "00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01";
const SELECT_TEXT: &str = "00 A4 04 0C 0A D3 92 10 00 31 00 01 01 04 08";

fn select_ef(card: &mut VirtualCard, fid: u16) -> u16 {
    tx(card, &with_data("00 A4 02 0C", &fid.to_be_bytes())).1
}

fn verify(card: &mut VirtualCard, value: &[u8]) -> u16 {
    tx(card, &with_data("00 20 00 80", value)).1
}

/// Reads a whole EF the way OpenSC does: 256-byte chunks until a short answer or 6B00.
fn read_all(card: &mut VirtualCard) -> Result<Vec<u8>, u16> {
    let mut out = Vec::new();
    loop {
        let off = out.len() as u16;
        let [p1, p2] = off.to_be_bytes();
        let (data, sw) = tx(card, &[0x00, 0xB0, p1, p2, 0x00]);
        match sw {
            0x9000 if data.len() == 256 => out.extend(data),
            0x9000 => {
                out.extend(data);
                return Ok(out);
            }
            0x6B00 if !out.is_empty() => return Ok(out),
            other => return Err(other),
        }
    }
}

fn public(der: &[u8]) -> RsaPublicKey {
    RsaPrivateKey::from_pkcs8_der(der).expect("key").to_public_key()
}

fn sha256_digest_info(msg: &[u8]) -> Vec<u8> {
    let mut v = SHA256_DIGEST_INFO_PREFIX.to_vec();
    v.extend_from_slice(&Sha256::digest(msg));
    v
}

fn sign_apdu(p1: u8, p2: u8, data: &[u8]) -> Vec<u8> {
    let mut v = vec![0x80, 0x2A, p1, p2, data.len() as u8];
    v.extend_from_slice(data);
    v.push(0x00);
    v
}

// ---- SELECT ----

#[test]
fn select_known_and_unknown_aids() {
    let mut c = card(TokenKind::Card);
    assert_eq!(sw(&mut c, SELECT_JPKI), 0x9000);
    assert_eq!(sw(&mut c, SELECT_TEXT), 0x9000);
    // OpenSC's other drivers probe their AIDs, some with P2=00 and Le.
    assert_eq!(sw(&mut c, "00 A4 04 00 0B A0 00 00 03 08 00 00 10 00 01 00 00"), 0x6A82); // PIV
    assert_eq!(sw(&mut c, "00 A4 04 0C 06 D2 76 00 01 24 01"), 0x6A82); // OpenPGP
    assert_eq!(sw(&mut c, "00 A4 04 00 00"), 0x6A82);
    // Other APs of the real card are not emulated: not found.
    assert_eq!(sw(&mut c, "00 A4 04 0C 0A D3 92 10 00 31 00 01 01 04 02"), 0x6A82);
    assert_eq!(sw(&mut c, "00 A4 04 00 0A D3 92 F0 00 26 01 00 00 00 01 00"), 0x9000);
    assert_eq!(sw(&mut c, "00 A4 04 04 0A D3 92 F0 00 26 01 00 00 00 01"), 0x6A86);
}

#[test]
fn failed_select_keeps_the_current_df() {
    let mut c = card(TokenKind::Card);
    sw(&mut c, SELECT_JPKI);
    assert_eq!(sw(&mut c, "00 A4 04 0C 06 D2 76 00 01 24 01"), 0x6A82);
    assert_eq!(select_ef(&mut c, 0x0006), 0x9000);
}

#[test]
fn select_ef_and_other_select_methods() {
    let mut c = card(TokenKind::Card);
    assert_eq!(select_ef(&mut c, 0x0006), 0x6A82, "no DF selected yet");
    sw(&mut c, SELECT_JPKI);
    for fid in [0x0001, 0x0002, 0x0006, 0x0008, 0x000A, 0x000B, 0x0017, 0x0018, 0x001A, 0x001B] {
        assert_eq!(select_ef(&mut c, fid), 0x9000, "EF {fid:04X}");
    }
    for fid in [0x0003, 0x0011, 0x3F00, 0xFFFF] {
        assert_eq!(select_ef(&mut c, fid), 0x6A82, "EF {fid:04X}");
    }
    assert_eq!(sw(&mut c, "00 A4 00 00"), 0x6A86);
    assert_eq!(sw(&mut c, "00 A4 00 0C 02 3F 00"), 0x6A82);
    assert_eq!(sw(&mut c, "00 A4 09 0C 02 00 06"), 0x6A82);
    assert_eq!(sw(&mut c, "00 A4 08 0C 04 3F 00 00 06"), 0x6A82);
    assert_eq!(sw(&mut c, "00 A4 03 0C"), 0x6A86);
    assert_eq!(sw(&mut c, "00 A4 02 0C 03 00 00 06"), 0x6700);
    assert_eq!(sw(&mut c, "00 A4 02 0C 01 06"), 0x6700);
    assert_eq!(sw(&mut c, "00 A4 02 04 02 00 06"), 0x6A86);
}

#[test]
fn under_15_card_has_no_signature_credential() {
    let mut c = card_with(under15_profile(), TokenKind::Card);
    sw(&mut c, SELECT_JPKI);
    for fid in [0x0001, 0x001A, 0x001B] {
        assert_eq!(select_ef(&mut c, fid), 0x6A82, "EF {fid:04X}");
    }
    assert_eq!(sw(&mut c, "00 20 00 9B"), 0x6A82);
    assert_eq!(sw(&mut c, "80 2A 00 9A 01 00 00"), 0x6A82);
    assert_eq!(select_ef(&mut c, 0x0008), 0x9000);
    assert_eq!(tx(&mut c, &h("00 B0 00 00 03")), (vec![0x00, 0x8F, 0x00], 0x9000));
}

// ---- READ BINARY ----

#[test]
fn token_info_per_token_kind() {
    for (token, label) in [
        (TokenKind::Card, "JPKIAPICCTOKEN2"),
        (TokenKind::Android, "JPKIAPGPSETOKEN"),
        (TokenKind::Iphone, "JPKIAPIOSTOKEN"),
    ] {
        let mut c = card(token);
        sw(&mut c, SELECT_JPKI);
        assert_eq!(select_ef(&mut c, 0x0006), 0x9000);
        let (data, s) = tx(&mut c, &h("00 B0 00 00 20"));
        assert_eq!(s, 0x9000);
        let mut want = label.as_bytes().to_vec();
        want.resize(32, b' ');
        assert_eq!(data, want);
        let (all, s) = tx(&mut c, &h("00 B0 00 00 00"));
        assert_eq!((all.len(), s), (160, 0x9000), "past the end: the remainder with 9000");
        assert_eq!(&all[96..100], &[0, 0, 4, 0x0D], "flags");
        assert_eq!(sw(&mut c, "00 B0 00 A0 01"), 0x6B00);
    }
}

#[test]
fn availability_with_both_certs() {
    let mut c = card(TokenKind::Card);
    sw(&mut c, SELECT_JPKI);
    assert_eq!(tx(&mut c, &h("00 B0 88 00 03")), (vec![0x8F, 0x8F, 0x00], 0x9000));
}

#[test]
fn read_binary_offsets_lengths_and_sfi() {
    let mut c = card(TokenKind::Card);
    let auth_cert = test_profile().jpki.auth_cert;
    assert_eq!(sw(&mut c, "00 B0 00 00 04"), 0x6986, "no DF, no EF");
    sw(&mut c, SELECT_JPKI);
    assert_eq!(sw(&mut c, "00 B0 00 00 04"), 0x6986, "DF but no EF");
    assert_eq!(select_ef(&mut c, 0x000A), 0x9000);
    // OSC: 4 bytes for the DER header, then 256-byte chunks.
    assert_eq!(tx(&mut c, &h("00 B0 00 00 04")), (auth_cert[..4].to_vec(), 0x9000));
    assert_eq!(read_all(&mut c), Ok(auth_cert.clone()));
    // MY: 7 bytes, then chunks from 7.
    let (d, s) = tx(&mut c, &h("00 B0 00 07 00"));
    assert_eq!((d.as_slice(), s), (&auth_cert[7..263], 0x9000));
    // 15-bit offset (P1 = high byte) past the end: 6B00; at 1199: one byte.
    assert_eq!(tx(&mut c, &h("00 B0 04 AF 00")), (auth_cert[1199..].to_vec(), 0x9000));
    assert_eq!(sw(&mut c, "00 B0 04 B0 01"), 0x6B00);
    assert_eq!(sw(&mut c, "00 B0 7F FF 01"), 0x6B00);
    // Extended Le reads everything in one go (AO/MB style): SFI 0A, offset 4.
    let (d, s) = tx(&mut c, &h("00 B0 8A 04 00 07 D0"));
    assert_eq!((d.as_slice(), s), (&auth_cert[4..], 0x9000));
    // SFI read selects the EF as a side effect.
    assert_eq!(tx(&mut c, &h("00 B0 8B 00 04")).0, test_profile().jpki.auth_ca_cert[..4].to_vec());
    assert_eq!(tx(&mut c, &h("00 B0 00 00 04")).0, test_profile().jpki.auth_ca_cert[..4].to_vec());
    // Bad SFI forms and lengths.
    assert_eq!(sw(&mut c, "00 B0 83 00 04"), 0x6A82, "no SFI 03");
    assert_eq!(sw(&mut c, "00 B0 80 00 04"), 0x6A86, "SFI 0");
    assert_eq!(sw(&mut c, "00 B0 A6 00 04"), 0x6A86, "P1 bits 6-5 set");
    assert_eq!(sw(&mut c, "00 B0 00 00"), 0x6700, "no Le");
    assert_eq!(sw(&mut c, "00 B0 00 00 01 00 00"), 0x6700, "command data");
    // Keys and PINs are never readable.
    for fid in [0x0017, 0x0018, 0x001A, 0x001B] {
        select_ef(&mut c, fid);
        assert_eq!(sw(&mut c, "00 B0 00 00 04"), 0x6986, "EF {fid:04X}");
    }
}

#[test]
fn sign_cert_needs_the_sign_password() {
    let mut c = card(TokenKind::Card);
    let sign_cert = test_profile().jpki.sign_cert.unwrap();
    sw(&mut c, SELECT_JPKI);
    assert_eq!(select_ef(&mut c, 0x0001), 0x9000, "SELECT succeeds");
    assert_eq!(sw(&mut c, "00 B0 00 00 04"), 0x6982);
    assert_eq!(sw(&mut c, "00 B0 81 00 04"), 0x6982);
    select_ef(&mut c, 0x001B);
    assert_eq!(verify(&mut c, b"ABCDEF123456"), 0x9000);
    select_ef(&mut c, 0x0001);
    assert_eq!(read_all(&mut c), Ok(sign_cert));
    // CA certs and the auth cert are free on a card.
    sw(&mut c, SELECT_JPKI);
    for fid in [0x0002, 0x000A, 0x000B] {
        select_ef(&mut c, fid);
        assert_eq!(sw(&mut c, "00 B0 00 00 04"), 0x9000, "EF {fid:04X}");
    }
}

#[test]
fn android_auth_cert_needs_the_auth_pin() {
    let mut c = card(TokenKind::Android);
    sw(&mut c, SELECT_JPKI);
    select_ef(&mut c, 0x000A);
    assert_eq!(sw(&mut c, "00 B0 00 00 04"), 0x6982);
    assert_eq!(sw(&mut c, "00 20 00 98"), 0x63C3, "status query works as on the card");
    assert_eq!(tx(&mut c, &with_data("00 20 00 98", b"1234")).1, 0x9000);
    assert_eq!(read_all(&mut c), Ok(test_profile().jpki.auth_cert));
    // Android has no text AP even if the profile carries one.
    assert_eq!(sw(&mut c, SELECT_TEXT), 0x6A82);
}

// ---- VERIFY ----

#[test]
fn auth_pin_counter_sequence_and_block() {
    let mut c = card(TokenKind::Card);
    sw(&mut c, SELECT_JPKI);
    select_ef(&mut c, 0x0018);
    assert_eq!(sw(&mut c, "00 20 00 80"), 0x63C3);
    assert!(!c.take_dirty(), "a status query spends nothing");
    assert_eq!(verify(&mut c, b"0000"), 0x63C2);
    assert!(c.take_dirty());
    assert_eq!(c.profile().jpki.auth_pin.tries_left, 2);
    assert_eq!(sw(&mut c, "00 20 00 80"), 0x63C2);
    assert_eq!(verify(&mut c, b"1111"), 0x63C1);
    assert_eq!(verify(&mut c, b"2222"), 0x63C0, "the try that blocks answers 63C0");
    assert!(c.take_dirty());
    assert_eq!(verify(&mut c, b"1234"), 0x6984, "blocked: even the right PIN");
    assert_eq!(verify(&mut c, b"12"), 0x6984);
    assert_eq!(sw(&mut c, "00 20 00 80"), 0x63C0);
    assert!(!c.take_dirty());
    assert_eq!(c.profile().jpki.auth_pin.tries_left, 0);
    // Blocked is persistent: power cycle does not help, and the key is unusable.
    c.power_on();
    sw(&mut c, SELECT_JPKI);
    assert_eq!(sw(&mut c, "00 20 00 98"), 0x63C0);
    assert_eq!(tx(&mut c, &sign_apdu(0, 0x97, &sha256_digest_info(b"x"))).1, 0x6982);
}

#[test]
fn correct_pin_resets_the_counter() {
    let mut c = card(TokenKind::Card);
    sw(&mut c, SELECT_JPKI);
    select_ef(&mut c, 0x0018);
    assert_eq!(verify(&mut c, b"0000"), 0x63C2);
    assert_eq!(verify(&mut c, b"0001"), 0x63C1);
    c.take_dirty();
    assert_eq!(verify(&mut c, b"1234"), 0x9000);
    assert!(c.take_dirty(), "counter went back to 3");
    assert_eq!(c.profile().jpki.auth_pin.tries_left, 3);
    assert_eq!(sw(&mut c, "00 20 00 80"), 0x63C3, "profile default: counter after success");
    assert_eq!(verify(&mut c, b"1234"), 0x9000);
    assert!(!c.take_dirty(), "nothing changed, nothing to store");
    // A wrong PIN drops the verified state.
    assert_eq!(verify(&mut c, b"9999"), 0x63C2);
    assert_eq!(tx(&mut c, &sign_apdu(0, 0x97, &sha256_digest_info(b"x"))).1, 0x6982);
}

#[test]
fn empty_verify_after_success_follows_the_profile() {
    let mut p = test_profile();
    p.jpki.empty_verify_after_success = EmptyVerifyAfterSuccess::Ok;
    let mut c = card_with(p, TokenKind::Card);
    sw(&mut c, SELECT_JPKI);
    select_ef(&mut c, 0x0018);
    assert_eq!(sw(&mut c, "00 20 00 80"), 0x63C3, "not verified yet");
    assert_eq!(verify(&mut c, b"1234"), 0x9000);
    assert_eq!(sw(&mut c, "00 20 00 80"), 0x9000);
    select_ef(&mut c, 0x0017);
    select_ef(&mut c, 0x0018);
    assert_eq!(sw(&mut c, "00 20 00 80"), 0x9000, "SELECT EF keeps the state");
    sw(&mut c, SELECT_JPKI);
    assert_eq!(sw(&mut c, "00 20 00 98"), 0x63C3, "re-SELECT of the AP drops it");
}

#[test]
fn wrong_length_costs_no_try() {
    let mut c = card(TokenKind::Card);
    sw(&mut c, SELECT_JPKI);
    select_ef(&mut c, 0x0018);
    for bad in [&b"123"[..], b"12345", b"1", b"1234567890123456"] {
        assert_eq!(verify(&mut c, bad), 0x6700);
    }
    assert!(!c.take_dirty());
    assert_eq!(sw(&mut c, "00 20 00 80"), 0x63C3);
    // A 4-byte non-digit value is simply wrong (the card compares bytes).
    assert_eq!(verify(&mut c, b"abcd"), 0x63C2);
    assert!(c.take_dirty());
    select_ef(&mut c, 0x001B);
    assert_eq!(sw(&mut c, "00 20 00 80"), 0x63C5);
    for bad in [&b"ABC12"[..], b"ABCDEFGH12345678X", b"1234"] {
        assert_eq!(verify(&mut c, bad), 0x6700);
    }
    assert_eq!(sw(&mut c, "00 20 00 80"), 0x63C5);
    assert!(!c.take_dirty());
    // Lowercase is a wrong password of the right length: it costs a try.
    assert_eq!(verify(&mut c, b"abcdef123456"), 0x63C4);
}

#[test]
fn sign_password_counter_sequence() {
    let mut c = card(TokenKind::Card);
    sw(&mut c, SELECT_JPKI);
    select_ef(&mut c, 0x001B);
    assert_eq!(sw(&mut c, "00 20 00 80"), 0x63C5);
    for left in (0..5).rev() {
        assert_eq!(verify(&mut c, b"WRONG0"), 0x63C0 | left);
    }
    assert_eq!(verify(&mut c, b"ABCDEF123456"), 0x6984);
    assert_eq!(sw(&mut c, "00 20 00 80"), 0x63C0);
    assert_eq!(c.profile().jpki.sign_password.as_ref().unwrap().tries_left, 0);
    // The auth PIN is independent.
    assert_eq!(sw(&mut c, "00 20 00 98"), 0x63C3);
}

#[test]
fn verify_addressing() {
    let mut c = card(TokenKind::Card);
    assert_eq!(sw(&mut c, "00 20 00 80"), 0x6986, "nothing selected");
    sw(&mut c, SELECT_JPKI);
    assert_eq!(sw(&mut c, "00 20 00 80"), 0x6986, "no EF");
    select_ef(&mut c, 0x0006);
    assert_eq!(sw(&mut c, "00 20 00 80"), 0x6986, "not a PIN EF");
    assert_eq!(sw(&mut c, "00 20 00 98"), 0x63C3);
    assert_eq!(sw(&mut c, "00 20 00 9B"), 0x63C5);
    assert_eq!(sw(&mut c, "00 20 00 91"), 0x6A86, "text PIN SFI in the JPKI AP");
    assert_eq!(sw(&mut c, "00 20 00 86"), 0x6A86, "SFI of a non-PIN EF");
    assert_eq!(sw(&mut c, "00 20 00 00"), 0x6A86);
    assert_eq!(sw(&mut c, "00 20 01 98"), 0x6A86);
    assert_eq!(sw(&mut c, "00 20 00 98 00"), 0x6700, "Le on VERIFY");
    assert_eq!(sw(&mut c, "00 20 00 98 04 31 32 33"), 0x6700, "Lc disagrees with data");
    assert_eq!(sw(&mut c, "00 20 00 98 00 00 04 31 32 33 34"), 0x9000, "extended Lc");
    // VERIFY by SFI does not change the selected EF.
    assert_eq!(tx(&mut c, &h("00 B0 00 00 01")).1, 0x9000);
}

// ---- signing ----

#[test]
fn auth_signature_verifies_with_the_public_key() {
    let mut c = card(TokenKind::Card);
    let pubkey = public(&test_keys().0);
    let msg = b"challenge from the kiosk";
    sw(&mut c, SELECT_JPKI);
    select_ef(&mut c, 0x0017);
    assert_eq!(tx(&mut c, &sign_apdu(0, 0x80, &sha256_digest_info(msg))).1, 0x6982, "no PIN");
    select_ef(&mut c, 0x0018);
    assert_eq!(verify(&mut c, b"1234"), 0x9000);
    select_ef(&mut c, 0x0017);
    let (sig, s) = tx(&mut c, &sign_apdu(0, 0x80, &sha256_digest_info(msg)));
    assert_eq!((sig.len(), s), (256, 0x9000));
    pubkey.verify(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(msg), &sig).expect("valid signature");
    // By SFI, without Le, and a SHA-1 DigestInfo (jpki-cli style).
    let mut sha1_di = h("30 21 30 09 06 05 2B 0E 03 02 1A 05 00 04 14");
    sha1_di.extend([0x11; 20]);
    let mut apdu = sign_apdu(0, 0x97, &sha1_di);
    apdu.pop();
    let (sig, s) = tx(&mut c, &apdu);
    assert_eq!(s, 0x9000);
    pubkey.verify(Pkcs1v15Sign::new_unprefixed(), &sha1_di, &sig).expect("valid signature");
}

#[test]
fn signature_p1_variants() {
    let mut c = card(TokenKind::Card);
    let pubkey = public(&test_keys().0);
    let msg = b"some document";
    let hash = Sha256::digest(msg);
    sw(&mut c, SELECT_JPKI);
    assert_eq!(tx(&mut c, &with_data("00 20 00 98", b"1234")).1, 0x9000);
    let (sig, s) = tx(&mut c, &sign_apdu(1, 0x97, msg));
    assert_eq!(s, 0x9000);
    pubkey.verify(Pkcs1v15Sign::new_unprefixed(), &hash, &sig).expect("P1 01");
    let (sig, s) = tx(&mut c, &sign_apdu(2, 0x97, &hash));
    assert_eq!(s, 0x9000);
    pubkey.verify(Pkcs1v15Sign::new::<Sha256>(), &hash, &sig).expect("P1 02");
    let (sig, _) = tx(&mut c, &sign_apdu(3, 0x97, msg));
    pubkey.verify(Pkcs1v15Sign::new::<Sha256>(), &hash, &sig).expect("P1 03");
    let (sig, _) = tx(&mut c, &sign_apdu(4, 0x97, &hash));
    pubkey.verify(Pss::new::<Sha256>(), &hash, &sig).expect("P1 04");
    let (sig, _) = tx(&mut c, &sign_apdu(5, 0x97, msg));
    pubkey.verify(Pss::new::<Sha256>(), &hash, &sig).expect("P1 05");
    assert_eq!(tx(&mut c, &sign_apdu(6, 0x97, &hash)).1, 0x6A86);
    assert_eq!(tx(&mut c, &sign_apdu(2, 0x97, &hash[..31])).1, 0x6700);
    assert_eq!(tx(&mut c, &sign_apdu(0, 0x97, &[0x30; 246])).1, 0x6700, "longer than 245");
    assert_eq!(tx(&mut c, &sign_apdu(0, 0x97, &[0x30; 245])).1, 0x9000);
    assert_eq!(sw(&mut c, "80 2A 00 97 00"), 0x6700, "no data");
    assert_eq!(tx(&mut c, &sign_apdu(0, 0x98, &hash)).1, 0x6A86, "SFI of a PIN");
    assert_eq!(tx(&mut c, &sign_apdu(0, 0x00, &hash)).1, 0x6A86);
    select_ef(&mut c, 0x000A);
    assert_eq!(tx(&mut c, &sign_apdu(0, 0x80, &hash)).1, 0x6986, "selected EF is no key");
}

#[test]
fn sign_key_needs_the_sign_password() {
    let mut c = card(TokenKind::Card);
    let pubkey = public(&test_keys().1);
    let di = sha256_digest_info(b"application form");
    sw(&mut c, SELECT_JPKI);
    assert_eq!(tx(&mut c, &with_data("00 20 00 98", b"1234")).1, 0x9000);
    assert_eq!(tx(&mut c, &sign_apdu(0, 0x9A, &di)).1, 0x6982, "the auth PIN does not unlock it");
    select_ef(&mut c, 0x001B);
    assert_eq!(verify(&mut c, b"ABCDEF123456"), 0x9000);
    select_ef(&mut c, 0x001A);
    let (sig, s) = tx(&mut c, &sign_apdu(0, 0x80, &di));
    assert_eq!(s, 0x9000);
    pubkey.verify(Pkcs1v15Sign::new_unprefixed(), &di, &sig).expect("valid");
    // Documented choice: still verified for a second signature.
    assert_eq!(tx(&mut c, &sign_apdu(0, 0x80, &di)).1, 0x9000);
    c.reset();
    sw(&mut c, SELECT_JPKI);
    assert_eq!(tx(&mut c, &sign_apdu(0, 0x9A, &di)).1, 0x6982, "reset clears it");
}

#[test]
fn verified_state_lifetime() {
    let mut c = card(TokenKind::Card);
    let di = sha256_digest_info(b"m");
    sw(&mut c, SELECT_JPKI);
    select_ef(&mut c, 0x0018);
    verify(&mut c, b"1234");
    select_ef(&mut c, 0x0017);
    assert_eq!(tx(&mut c, &sign_apdu(0, 0x80, &di)).1, 0x9000, "SELECT EF keeps it");
    sw(&mut c, SELECT_JPKI);
    assert_eq!(tx(&mut c, &sign_apdu(0, 0x97, &di)).1, 0x6982, "re-SELECT drops it");
    assert_eq!(tx(&mut c, &with_data("00 20 00 98", b"1234")).1, 0x9000);
    c.power_on();
    assert_eq!(tx(&mut c, &sign_apdu(0, 0x97, &di)).1, 0x6A86, "nothing selected after power-on");
    sw(&mut c, SELECT_JPKI);
    assert_eq!(tx(&mut c, &sign_apdu(0, 0x97, &di)).1, 0x6982);
    assert_eq!(tx(&mut c, &with_data("00 20 00 98", b"1234")).1, 0x9000);
    c.power_off();
    c.power_on();
    sw(&mut c, SELECT_JPKI);
    assert_eq!(tx(&mut c, &sign_apdu(0, 0x97, &di)).1, 0x6982);
}

// ---- CHANGE REFERENCE DATA ----

#[test]
fn change_auth_pin_persists() {
    let mut c = card(TokenKind::Card);
    sw(&mut c, SELECT_JPKI);
    select_ef(&mut c, 0x0018);
    assert_eq!(tx(&mut c, &with_data("00 24 01 80", b"5678")).1, 0x6982, "not verified");
    assert_eq!(verify(&mut c, b"1234"), 0x9000);
    assert_eq!(tx(&mut c, &with_data("00 24 01 80", b"56a8")).1, 0x6700);
    assert_eq!(tx(&mut c, &with_data("00 24 01 80", b"56789")).1, 0x6700);
    assert_eq!(tx(&mut c, &with_data("00 24 00 80", b"5678")).1, 0x6A86);
    assert!(!c.take_dirty());
    assert_eq!(tx(&mut c, &with_data("00 24 01 80", b"5678")).1, 0x9000);
    assert!(c.take_dirty());
    assert_eq!(c.profile().jpki.auth_pin.value, "5678");
    // The stored profile carries the new PIN, and a fresh card from it accepts only that one.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("card.json");
    c.profile().store(&path).unwrap();
    let mut c2 = card_with(CardProfile::load(&path).unwrap(), TokenKind::Card);
    sw(&mut c2, SELECT_JPKI);
    assert_eq!(tx(&mut c2, &with_data("00 20 00 98", b"1234")).1, 0x63C2);
    assert_eq!(tx(&mut c2, &with_data("00 20 00 98", b"5678")).1, 0x9000);
}

#[test]
fn change_sign_password_rules() {
    let mut c = card(TokenKind::Card);
    sw(&mut c, SELECT_JPKI);
    assert_eq!(tx(&mut c, &with_data("00 24 01 9B", b"NEWPASS1")).1, 0x6982);
    assert_eq!(tx(&mut c, &with_data("00 20 00 9B", b"ABCDEF123456")).1, 0x9000);
    for bad in [&b"newpass1"[..], b"ABCDEF", b"123456", b"AB12", b"ABCDEFGH123456789", b"ABC-123"] {
        assert_eq!(tx(&mut c, &with_data("00 24 01 9B", bad)).1, 0x6700, "{bad:?}");
    }
    assert_eq!(tx(&mut c, &with_data("00 24 01 9B", b"NEWPASS1")).1, 0x9000);
    assert_eq!(c.profile().jpki.sign_password.as_ref().unwrap().value, "NEWPASS1");
    assert!(c.take_dirty());
}

// ---- misc commands ----

#[test]
fn get_challenge() {
    let mut c = card(TokenKind::Card);
    let (a, s) = tx(&mut c, &h("00 84 00 00 08"));
    assert_eq!((a.len(), s), (8, 0x9000));
    let (b, _) = tx(&mut c, &h("00 84 00 00 08"));
    assert_ne!(a, b);
    assert_eq!(tx(&mut c, &h("00 84 00 00 00")).0.len(), 256);
    assert_eq!(sw(&mut c, "00 84 00 00 00 00 08"), 0x6985, "extended");
    assert_eq!(sw(&mut c, "00 84 01 00 08"), 0x6A86);
    assert_eq!(sw(&mut c, "00 84 00 00"), 0x6700);
    // Deterministic for a given seed.
    let mut d1 = card(TokenKind::Card);
    let mut d2 = card(TokenKind::Card);
    d1.seed_rng([7; 32]);
    d2.seed_rng([7; 32]);
    assert_eq!(tx(&mut d1, &h("00 84 00 00 10")), tx(&mut d2, &h("00 84 00 00 10")));
}

#[test]
fn get_data_contact_atr() {
    let mut c = card(TokenKind::Card);
    let (d, s) = tx(&mut c, &h("00 CA 5F 51 00"));
    assert_eq!(s, 0x9000);
    assert_eq!(d, h("DA 13 FF 81 31 FB 46 80 12 39 2F 31 C1 73 C6 01 C0 3B"));
    assert_eq!(sw(&mut c, "00 CA 5F 52 00"), 0x6A86);
    assert_eq!(sw(&mut c, "00 CA 5F 51"), 0x6700);
}

#[test]
fn iphone_last_command() {
    assert_eq!(sw(&mut card(TokenKind::Card), "80 FC 00 00"), 0x6700);
    assert_eq!(sw(&mut card(TokenKind::Android), "80 FC 00 00"), 0x6700);
    assert_eq!(sw(&mut card(TokenKind::Iphone), "80 FC 00 00"), 0x9000);
    assert_eq!(sw(&mut card(TokenKind::Iphone), "80 FC 01 00"), 0x6A86);
}

#[test]
fn class_and_instruction_errors() {
    let mut c = card(TokenKind::Card);
    sw(&mut c, SELECT_JPKI);
    select_ef(&mut c, 0x0006);
    assert_eq!(sw(&mut c, "00 B2 01 04 00"), 0x6D00, "READ RECORD");
    assert_eq!(sw(&mut c, "00 88 00 00 08 01 02 03 04 05 06 07 08"), 0x6D00);
    assert_eq!(sw(&mut c, "80 A2 00 00"), 0x6D00);
    assert_eq!(sw(&mut c, "A0 B0 00 00 04"), 0x6E00, "GSM class");
    assert_eq!(sw(&mut c, "FF CA 00 00 00"), 0x6E00, "PC/SC pseudo-APDU");
    assert_eq!(sw(&mut c, "10 B0 00 00 04"), 0x6E00, "chaining");
    assert_eq!(sw(&mut c, "80 B0 00 00 04"), 0x6E00, "ISO INS under CLA 80");
    assert_eq!(sw(&mut c, "00 2A 00 80 01 00 00"), 0x6E00, "CLA 00 signature");
    assert_eq!(sw(&mut c, "01 B0 00 00 04"), 0x6881);
    assert_eq!(sw(&mut c, "03 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01"), 0x6881);
    assert_eq!(sw(&mut c, "0C A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01"), 0x6882);
    assert_eq!(sw(&mut c, "08 A4 02 0C 02 00 06"), 0x6882);
    assert_eq!(sw(&mut c, "0C B0 00 00 04"), 0x69FC);
    assert_eq!(sw(&mut c, "0C 20 00 98"), 0x69FC);
    assert_eq!(sw(&mut c, "00 B0 00"), 0x6700);
    assert_eq!(tx(&mut c, &[]).1, 0x6700);
    assert_eq!(sw(&mut c, "00 A4 02 0C 05 00 06"), 0x6700, "Lc beyond the data");
    // State survived the errors.
    assert_eq!(sw(&mut c, "00 B0 00 00 01"), 0x9000);
}

// ---- phones ----

#[test]
fn iphone_is_preauthorised() {
    let mut c = card(TokenKind::Iphone);
    let pubkey = public(&test_keys().0);
    let di = sha256_digest_info(b"kiosk challenge");
    sw(&mut c, SELECT_JPKI);
    select_ef(&mut c, 0x0018);
    assert_eq!(sw(&mut c, "00 20 00 80"), 0x9000);
    assert_eq!(verify(&mut c, b"1234"), 0x6985, "no PIN to an iPhone");
    assert_eq!(verify(&mut c, b"0000"), 0x6985);
    assert!(!c.take_dirty());
    assert_eq!(c.profile().jpki.auth_pin.tries_left, 3);
    select_ef(&mut c, 0x000A);
    assert_eq!(read_all(&mut c), Ok(test_profile().jpki.auth_cert));
    select_ef(&mut c, 0x0017);
    let (sig, s) = tx(&mut c, &sign_apdu(0, 0x80, &di));
    assert_eq!(s, 0x9000);
    pubkey.verify(Pkcs1v15Sign::new_unprefixed(), &di, &sig).expect("valid");
    assert_eq!(tx(&mut c, &with_data("00 24 01 98", b"1111")).1, 0x6985);
    assert_eq!(sw(&mut c, "00 CA 5F 51 00"), 0x6A86, "phones have no contact ATR");
    assert_eq!(sw(&mut c, SELECT_TEXT), 0x6A82);
}

#[test]
fn token_override_does_not_rewrite_the_profile() {
    let c = card(TokenKind::Android);
    assert_eq!(c.token(), TokenKind::Android);
    assert_eq!(c.profile().token, TokenKind::Card);
}

// ---- text AP ----

#[test]
fn text_ap_my_number() {
    let mut c = card(TokenKind::Card);
    sw(&mut c, SELECT_TEXT);
    assert_eq!(select_ef(&mut c, 0x0001), 0x9000);
    assert_eq!(sw(&mut c, "00 B0 00 00 11"), 0x6982);
    assert_eq!(select_ef(&mut c, 0x0003), 0x6A82);
    assert_eq!(select_ef(&mut c, 0x0018), 0x6A82);
    assert_eq!(select_ef(&mut c, 0x0011), 0x9000);
    assert_eq!(sw(&mut c, "00 20 00 80"), 0x63C3);
    assert_eq!(verify(&mut c, b"1234"), 0x63C2);
    assert_eq!(verify(&mut c, b"987"), 0x6700);
    assert_eq!(verify(&mut c, b"9876"), 0x9000);
    assert_eq!(c.profile().text_ap.as_ref().unwrap().pin.tries_left, 3);
    select_ef(&mut c, 0x0001);
    let mut want = h("FF 10 0C");
    want.extend_from_slice(b"123456789018");
    want.extend([0xFF, 0xFF]);
    assert_eq!(tx(&mut c, &h("00 B0 00 00 11")), (want, 0x9000));
    assert_eq!(tx(&mut c, &h("00 B0 81 03 0C")), (b"123456789018".to_vec(), 0x9000));
    // The JPKI AP's state is separate: re-SELECT drops the text PIN.
    sw(&mut c, SELECT_JPKI);
    sw(&mut c, SELECT_TEXT);
    assert_eq!(sw(&mut c, "00 B0 81 00 11"), 0x6982);
    assert_eq!(tx(&mut c, &with_data("00 20 00 91", b"9876")).1, 0x9000);
}

#[test]
fn text_ap_basic4_matches_the_test_vector_layout() {
    let mut c = card(TokenKind::Card);
    sw(&mut c, SELECT_TEXT);
    assert_eq!(tx(&mut c, &with_data("00 20 00 91", b"9876")).1, 0x9000);
    let (d, s) = tx(&mut c, &h("00 B0 82 00 00"));
    assert_eq!(s, 0x9000);
    assert_eq!(&d[..14], &h("FF 20 65 DF 21 08 00 0E 00 20 00 59 00 64")[..]);
    assert_eq!(&d[14..17], &h("DF 22 0F")[..]);
    assert_eq!(std::str::from_utf8(&d[17..32]).unwrap(), "山田　花子");
    assert_eq!(&d[0x59..0x59 + 11], &h("DF 24 08 31 39 39 30 30 31 30 31")[..]);
    assert_eq!(&d[0x64..], &h("DF 25 01 32")[..]);
    assert_eq!(d.len(), 0x65 + 3);
}

#[test]
fn text_ap_basic4_long_form_lengths() {
    let mut p = test_profile();
    p.text_ap.as_mut().unwrap().address = "北海道札幌市中央区北一条西二丁目".repeat(4); // 192 bytes
    let mut c = card_with(p.clone(), TokenKind::Card);
    sw(&mut c, SELECT_TEXT);
    assert_eq!(tx(&mut c, &with_data("00 20 00 91", b"9876")).1, 0x9000);
    let (d, s) = tx(&mut c, &h("00 B0 82 00 00 02 00"));
    assert_eq!(s, 0x9000);
    // FF 20 81 LL, then the offsets point at each tag.
    assert_eq!(&d[..3], &[0xFF, 0x20, 0x81]);
    assert_eq!(usize::from(d[3]), d.len() - 4);
    let offs: Vec<usize> = d[7..15].chunks(2).map(|x| usize::from(u16::from_be_bytes([x[0], x[1]]))).collect();
    assert_eq!(&d[offs[0]..offs[0] + 2], &[0xDF, 0x22]);
    assert_eq!(&d[offs[1]..offs[1] + 4], &[0xDF, 0x23, 0x81, 192]);
    assert_eq!(&d[offs[1] + 4..offs[2]], p.text_ap.as_ref().unwrap().address.as_bytes());
    assert_eq!(&d[offs[2]..offs[2] + 2], &[0xDF, 0x24]);
    assert_eq!(&d[offs[3]..], &h("DF 25 01 32")[..]);
    // An address over 255 bytes takes 82 LL LL and the outer length too.
    p.text_ap.as_mut().unwrap().address = "東".repeat(100);
    let mut c = card_with(p, TokenKind::Card);
    sw(&mut c, SELECT_TEXT);
    tx(&mut c, &with_data("00 20 00 91", b"9876"));
    let (d, _) = tx(&mut c, &h("00 B0 82 00 00 02 00"));
    assert_eq!(&d[..2], &[0xFF, 0x20]);
    assert_eq!(d[2], 0x82);
    assert_eq!(usize::from(u16::from_be_bytes([d[3], d[4]])), d.len() - 5);
    let off23 = usize::from(u16::from_be_bytes([d[10], d[11]]));
    assert_eq!(&d[off23..off23 + 5], &[0xDF, 0x23, 0x82, 0x01, 0x2C]);
}

// ---- robustness and hygiene ----

#[test]
fn random_and_truncated_input_never_panics() {
    let mut rng = ChaCha20Rng::seed_from_u64(99);
    let mut c = card(TokenKind::Card);
    let headers = [
        "00 A4 04 0C",
        "00 A4 02 0C",
        "00 A4 00 00",
        "00 B0 00 00",
        "00 B0 8A 00",
        "00 20 00 80",
        "00 20 00 98",
        "00 24 01 80",
        "00 2C 00 80",
        "80 2A 00 80",
        "80 2A 00 97",
        "80 2A 03 9A",
        "00 84 00 00",
        "00 CA 5F 51",
        "80 FC 00 00",
    ];
    for i in 0..20_000u32 {
        let mut apdu = if i % 2 == 0 { h(headers[(i as usize / 2) % headers.len()]) } else { Vec::new() };
        let extra = (rng.next_u32() % 300) as usize;
        let start = apdu.len();
        apdu.resize(start + extra, 0);
        rng.fill_bytes(&mut apdu[start..]);
        let r = c.process(&apdu);
        assert!(r.len() >= 2);
        if i % 97 == 0 {
            c.process(&h(SELECT_JPKI));
            c.process(&h("00 20 00 98 04 31 32 33 34"));
        }
    }
    // And every P1/P2 of every command on a selected EF.
    for ins in [0xA4u8, 0xB0, 0x20, 0x24, 0x2C, 0x84, 0xCA, 0x2A, 0xFC] {
        let cla = if matches!(ins, 0x2A | 0xFC) { 0x80 } else { 0x00 };
        for p1 in 0..=255u8 {
            for p2 in [0x00u8, 0x0C, 0x80, 0x81, 0x97, 0x9B, 0xFF] {
                c.process(&[cla, ins, p1, p2]);
                c.process(&[cla, ins, p1, p2, 0x00]);
                c.process(&[cla, ins, p1, p2, 0x02, 0x00, 0x0A]);
            }
        }
    }
}

#[test]
fn apdu_log_line_never_shows_data() {
    let verify = h("00 20 00 80 04 31 32 33 34");
    let line = describe_exchange(&verify, &[0x90, 0x00]);
    assert_eq!(line, "C: 00 20 00 80 Lc=4 -> 9000");
    let change = with_data("00 24 01 9B", b"NEWPASS1");
    let line = describe_exchange(&change, &[0x63, 0xC4]);
    assert_eq!(line, "C: 00 24 01 9B Lc=8 -> 63C4");
    assert!(!line.contains("4E 45") && !line.contains("NEWPASS"));
    let mut resp = vec![0x30; 256];
    resp.extend([0x90, 0x00]);
    assert_eq!(describe_exchange(&h("00 B0 00 00 00"), &resp), "C: 00 B0 00 00 Le=256 -> 9000 (256 B)");
    assert_eq!(describe_exchange(&h("00 20 00 80 09 31 32"), &[0x67, 0x00]), "C: 00 20 00 80 malformed (7 B) -> 6700");
    assert_eq!(describe_exchange(&h("00 A4 02 0C 02 00 06"), &[0x90, 0x00]), "C: 00 A4 02 0C Lc=2 -> 9000");
}

#[test]
fn debug_output_hides_secrets() {
    let c = card(TokenKind::Card);
    let s = format!("{c:?}");
    assert!(!s.contains("1234") && !s.contains("ABCDEF123456") && !s.contains("9876"), "{s}");
    let s = format!("{:?}", c.profile());
    assert!(!s.contains("\"1234\"") && !s.contains("ABCDEF123456") && !s.contains("9876"));
}

#[test]
fn profile_check() {
    assert_eq!(check_profile(&test_profile()), Ok(()));
    assert_eq!(check_profile(&under15_profile()), Ok(()));
    let mut p = test_profile();
    p.jpki.auth_key_pkcs8 = vec![0x30, 0x03, 0x02, 0x01, 0x00];
    assert_eq!(check_profile(&p), Err(ProfileProblem::BadKey { which: "user-authentication" }));
    // A card with a broken key still answers, with 6F00 on signing.
    let mut c = card_with(p, TokenKind::Card);
    sw(&mut c, SELECT_JPKI);
    tx(&mut c, &with_data("00 20 00 98", b"1234"));
    assert_eq!(tx(&mut c, &sign_apdu(0, 0x97, &sha256_digest_info(b"x"))).1, 0x6F00);
}

mod reset;
