//! The world as generated: manifest, card profiles, CRLs, registry, validity rules, determinism.

use super::cast::VARIANT_KANJI;
use super::dice::{is_valid_my_number, my_number_check_digit};
use super::issuer::card_management_key;
use super::issuer::hex;
use super::{build, world_keys, Manifest, ManifestResident, Registry, SealStatus, Tag, CARD_MANAGEMENT_KEY_FILE};
use crate::card::VirtualCard;
use crate::profile::{CardProfile, TokenKind};
use ed25519_dalek::pkcs8::DecodePrivateKey;
use ed25519_dalek::{Signer, SigningKey};
use madoguchi_api::pin_reset::{authorisation_message, ResetCredential};
use madoguchi_certs::testpki::generate_keys;
use madoguchi_certs::validity::{self, nth_birthday_after, start_of_day_jst};
use madoguchi_certs::{CertErrorKind, CertProfile, Crl, JpkiCertificate, TrustAnchors};
use rsa::RsaPrivateKey;
use std::collections::{BTreeSet, HashMap};
use std::sync::OnceLock;
use time::macros::date;
use time::{Date, Duration, OffsetDateTime};

const TODAY: Date = date!(2026 - 03 - 15);

struct Fixture {
    dir: tempfile::TempDir,
    manifest: Manifest,
    keys: HashMap<String, RsaPrivateKey>,
}

/// One world per test binary, made as `generate_world` makes it; the keys are kept so other
/// tests can rebuild cheaply (key generation is nearly all of the cost).
fn world() -> &'static Fixture {
    static W: OnceLock<Fixture> = OnceLock::new();
    W.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let t = std::time::Instant::now();
        let keys = world_keys(7).unwrap();
        let keygen = t.elapsed();
        let w = build(7, TODAY, &keys).unwrap();
        w.write(dir.path()).unwrap();
        eprintln!("world: {} keys in {keygen:.2?}, whole world in {:.2?}", keys.len(), t.elapsed());
        Fixture { dir, manifest: w.manifest, keys }
    })
}

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(world().dir.path().join(rel)).unwrap()
}

fn now() -> OffsetDateTime {
    start_of_day_jst(TODAY) + Duration::hours(12)
}

fn with_tag(tag: Tag) -> &'static ManifestResident {
    world().manifest.residents.iter().find(|r| r.tags.contains(&tag)).unwrap()
}

fn card(r: &ManifestResident) -> CardProfile {
    CardProfile::load(&world().dir.path().join(&r.card_profile)).unwrap()
}

fn anchors() -> TrustAnchors {
    TrustAnchors::from_dir(&world().dir.path().join("anchors"), true).unwrap()
}

fn crl(rel: &str) -> Crl {
    let crl = Crl::from_der(&read(rel)).unwrap();
    anchors().crl_issuer(&crl).unwrap();
    crl
}

#[test]
fn manifest_invariants() {
    let m = &world().manifest;
    assert!(m.residents.len() >= 8);
    assert!(m.households.len() >= 3);
    assert!(m.municipalities.len() >= 2);
    for tag in Tag::ALL {
        assert!(m.residents.iter().any(|r| r.tags.contains(&tag)), "{tag:?}");
    }
    let on_disk = Manifest::load(world().dir.path()).unwrap();
    assert_eq!(&on_disk, m);
    let json: serde_json::Value = serde_json::from_slice(&read("manifest.json")).unwrap();
    assert_eq!(json["today"], "2026-03-15");
    assert_eq!(json["residents"][0]["tags"][0], "adult");
    assert!(json["residents"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["tags"].as_array().unwrap().contains(&"under-15".into())));

    let ids: BTreeSet<_> = m.residents.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids.len(), m.residents.len());
    for r in &m.residents {
        let pin_ok = |p: &str| p.len() == 4 && p.bytes().all(|b| b.is_ascii_digit()) && !p.starts_with(['0', '9']);
        assert!(pin_ok(&r.auth_pin) && pin_ok(&r.text_pin), "{}", r.id);
        if let Some(pw) = &r.sign_password {
            assert!((6..=16).contains(&pw.len()));
            assert!(pw.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()));
            assert!(pw.bytes().any(|b| b.is_ascii_uppercase()) && pw.bytes().any(|b| b.is_ascii_digit()));
        }
        assert!(is_valid_my_number(&r.my_number), "{}", r.my_number);
        assert!(m.municipalities.iter().any(|x| x.code == r.municipality));
        if let Some(h) = &r.household {
            let h = m.households.iter().find(|x| &x.id == h).unwrap();
            assert!(h.members.contains(&r.id) && h.municipality == r.municipality);
        }
        if let Some(a) = &r.address {
            madoguchi_certs::check_fullwidth(a).unwrap();
        }
        let variant = r.name.chars().any(|c| VARIANT_KANJI.contains(&c) || ('\u{E0100}'..='\u{E01EF}').contains(&c));
        assert_eq!(variant, r.tags.contains(&Tag::VariantKanjiName), "{}", r.id);
    }
    assert!(with_tag(Tag::Under15).sign_password.is_none());
    assert!(with_tag(Tag::MovedAbroad).household.is_none() && with_tag(Tag::MovedAbroad).address.is_none());
    let koseki = with_tag(Tag::KosekiElsewhere);
    assert!(m.municipalities.iter().any(|x| x.code != koseki.municipality));
}

#[test]
fn profiles_load_and_certs_parse_with_the_right_profiles() {
    let m = &world().manifest;
    let anchors = anchors();
    assert_eq!(anchors.len(), 4);
    for r in &m.residents {
        let p = card(r);
        assert_eq!((p.holder.as_str(), p.token), (r.id.as_str(), TokenKind::Card));
        assert_eq!(p.jpki.auth_pin.value, *r.auth_pin);
        let auth = JpkiCertificate::from_der(&p.jpki.auth_cert).unwrap();
        assert_eq!(auth.profile(), CertProfile::UserAuthentication);
        assert_eq!(auth.serial_hex(), r.auth_cert_serial);
        assert_eq!(validity::jst_date(auth.not_after()), r.cert_expiry);
        assert_eq!(JpkiCertificate::from_der(&p.jpki.auth_ca_cert).unwrap().profile(), CertProfile::AuthCa);
        assert_eq!(JpkiCertificate::from_der(&p.jpki.sign_ca_cert).unwrap().profile(), CertProfile::SignCa);
        let text = p.text_ap.as_ref().unwrap();
        assert_eq!((text.my_number.as_str(), text.pin.value.as_str()), (r.my_number.as_str(), r.text_pin.as_str()));
        match &p.jpki.sign_cert {
            Some(der) => {
                let sign = JpkiCertificate::from_der(der).unwrap();
                assert_eq!(sign.profile(), CertProfile::DigitalSignature);
                let b4 = sign.basic4().unwrap().unwrap();
                assert_eq!(b4.birth_date.date, r.birth_date);
                assert_eq!(p.jpki.sign_password.as_ref().map(|x| x.value.clone()), r.sign_password.as_deref().cloned());
                assert_eq!(Some(sign.serial_hex()), r.sign_cert_serial);
                if r.tags.contains(&Tag::VariantKanjiName) {
                    // Exactly the substituted characters are flagged (𠮷 → 吉 first, 﨑 → 崎 second).
                    // (A variation selector is not a character of the certificate's name.)
                    let bare: String = r.name.chars().filter(|c| !('\u{E0100}'..='\u{E01EF}').contains(c)).collect();
                    let selected: Vec<bool> = r
                        .name
                        .chars()
                        .zip(r.name.chars().skip(1).chain([' ']))
                        .filter(|(c, _)| !('\u{E0100}'..='\u{E01EF}').contains(c))
                        .map(|(_, next)| ('\u{E0100}'..='\u{E01EF}').contains(&next))
                        .collect();
                    let flags: String = b4
                        .name
                        .chars()
                        .zip(bare.chars().zip(selected))
                        .map(|(c, (n, sel))| if c == n && !sel { '0' } else { '1' })
                        .collect();
                    assert!(b4.name != r.name && flags.contains('1'), "{}", r.id);
                    assert_eq!(b4.name_alt_positions, flags, "{}", r.id);
                } else {
                    assert_eq!(b4.name, r.name);
                }
                if !r.tags.contains(&Tag::SignRevoked) && !r.tags.contains(&Tag::CertsExpired) {
                    anchors.verify_chain(&sign, now()).unwrap();
                    assert_eq!(Some(b4.address.clone()), r.address.clone().or(Some(text.address.clone())));
                }
            }
            None => assert!(r.tags.contains(&Tag::Under15) && p.jpki.sign_key_pkcs8.is_none()),
        }
        let chain = anchors.verify_chain(&auth, now());
        if r.tags.contains(&Tag::CertsExpired) {
            assert_eq!(chain.unwrap_err().kind(), CertErrorKind::Expired);
        } else {
            let a = chain.unwrap();
            assert_eq!(a.cert().der(), p.jpki.auth_ca_cert.as_slice(), "{}: EF 000B is the issuing CA", r.id);
        }
        assert_eq!(p.jpki.auth_pin.tries_left, if r.tags.contains(&Tag::PinBlocked) { 0 } else { 3 });
        crate::card::check_profile(&p).unwrap();
    }
}

#[test]
fn phones_have_their_own_keys_and_credentials() {
    let dir = world().dir.path();
    let android = with_tag(Tag::PhoneAndroid);
    let phone = CardProfile::load(&dir.join(android.phone_profiles.android.as_ref().unwrap())).unwrap();
    let card = card(android);
    assert_eq!(phone.token, TokenKind::Android);
    assert!(phone.text_ap.is_none());
    assert_ne!(phone.jpki.auth_key_pkcs8, card.jpki.auth_key_pkcs8);
    assert_ne!(phone.jpki.auth_cert, card.jpki.auth_cert);
    let secrets = android.phone_secrets.as_ref().unwrap().android.as_ref().unwrap();
    assert_eq!(phone.jpki.auth_pin.value, *secrets.auth_pin);
    assert_eq!(phone.jpki.sign_password.as_ref().unwrap().value, *secrets.sign_password);
    let p_auth = JpkiCertificate::from_der(&phone.jpki.auth_cert).unwrap();
    let c_auth = JpkiCertificate::from_der(&card.jpki.auth_cert).unwrap();
    assert_eq!(p_auth.not_after(), c_auth.not_after(), "validity follows the card");

    let iphone = with_tag(Tag::PhoneIphone);
    let phone = CardProfile::load(&dir.join(iphone.phone_profiles.iphone.as_ref().unwrap())).unwrap();
    assert_eq!(phone.token, TokenKind::Iphone);
    assert!(phone.jpki.sign_password.is_none() && phone.jpki.sign_cert.is_some());
    crate::card::check_profile(&phone).unwrap();
}

#[test]
fn crls_list_the_revoked_and_the_held() {
    let auth_crl = crl("crl/auth.crl");
    let sign_crl = crl("crl/sign.crl");
    for rel in ["crl/auth-1.crl", "crl/sign-1.crl"] {
        assert!(crl(rel).is_current(now()));
    }
    assert!(sign_crl.is_current(now()) && auth_crl.is_current(now()));

    let revoked = with_tag(Tag::SignRevoked);
    let sign = JpkiCertificate::from_der(card(revoked).jpki.sign_cert.as_ref().unwrap()).unwrap();
    assert!(sign_crl.revoked_since(sign.serial_bytes()).unwrap() < now());
    assert_eq!(sign_crl.check(&sign, now()).unwrap_err().kind(), CertErrorKind::Revoked);
    let auth = JpkiCertificate::from_der(&card(revoked).jpki.auth_cert).unwrap();
    assert!(auth_crl.check(&auth, now()).is_ok(), "the auth certificate survives a move");

    let held = with_tag(Tag::PhoneSuspended);
    let phone = CardProfile::load(&world().dir.path().join(held.phone_profiles.android.as_ref().unwrap())).unwrap();
    let p_auth = JpkiCertificate::from_der(&phone.jpki.auth_cert).unwrap();
    assert_eq!(auth_crl.check(&p_auth, now()).unwrap_err().kind(), CertErrorKind::Suspended);
    let c_auth = JpkiCertificate::from_der(&card(held).jpki.auth_cert).unwrap();
    assert!(auth_crl.check(&c_auth, now()).is_ok(), "only the phone is suspended");

    // Nobody else is listed.
    let listed: usize = ["crl/auth.crl", "crl/sign.crl", "crl/auth-1.crl", "crl/sign-1.crl"]
        .iter()
        .map(|p| crl(p).entries().len())
        .sum();
    assert_eq!(listed, 2 + 2, "the old sign certs of R0010 and R0011, R0008's phone (auth + sign)");
}

#[test]
fn validity_rules_hold() {
    let m = &world().manifest;
    let expiring = with_tag(Tag::CertsExpiringSoon);
    let days = (expiring.cert_expiry - TODAY).whole_days();
    assert!((0..=92).contains(&days), "{days}");
    assert!(with_tag(Tag::CertsExpired).cert_expiry < TODAY);
    for r in
        m.residents.iter().filter(|r| !r.tags.contains(&Tag::CertsExpiringSoon) && !r.tags.contains(&Tag::CertsExpired))
    {
        assert!(r.cert_expiry - TODAY > Duration::days(92), "{}", r.id);
    }
    let registry = Registry::load(world().dir.path()).unwrap();
    let foreign = with_tag(Tag::ForeignResident);
    let rec = registry.residents.iter().find(|x| x.id == foreign.id).unwrap();
    let stay_end = rec.foreign.as_ref().unwrap().period_of_stay_end.unwrap();
    assert_eq!(foreign.cert_expiry, stay_end);
    assert!(stay_end < nth_birthday_after(rec.card.issued, rec.birth_date, 5));
    for rec in &registry.residents {
        let expect = validity::expiry_date(
            rec.card.issued,
            rec.birth_date,
            rec.foreign.as_ref().and_then(|f| f.period_of_stay_end),
        );
        assert_eq!(rec.card.auth_cert.expiry, expect, "{}", rec.id);
    }
}

#[test]
fn registry_is_consistent() {
    let registry = Registry::load(world().dir.path()).unwrap();
    let m = &world().manifest;
    assert_eq!(registry.residents.len(), m.residents.len());
    for h in &registry.households {
        assert_eq!(h.members.iter().filter(|x| x.relationship == "世帯主").count(), 1);
        madoguchi_certs::check_fullwidth(&h.address).unwrap();
    }
    let abroad = registry.residents.iter().find(|r| r.emigration.is_some()).unwrap();
    assert!(abroad.residence.is_none() && abroad.honseki.is_some());
    let elsewhere = with_tag(Tag::KosekiElsewhere);
    let rec = registry.residents.iter().find(|r| r.id == elsewhere.id).unwrap();
    assert_ne!(rec.honseki.as_ref().unwrap().municipality, rec.residence.as_ref().unwrap().municipality);
    for r in m.residents.iter().filter(|r| r.tags.contains(&Tag::SealRegistered)) {
        assert!(registry
            .seal_registrations
            .iter()
            .any(|s| s.resident == r.id && s.status == SealStatus::Active && s.municipality == r.municipality));
    }
    for r in m.residents.iter().filter(|r| r.tags.contains(&Tag::Adult)) {
        assert!(registry.tax_records.iter().filter(|t| t.resident == r.id).count() >= 1, "{}", r.id);
    }
    // A fingerprint links every certificate on a card to its resident.
    for r in &m.residents {
        let rec = registry.residents.iter().find(|x| x.id == r.id).unwrap();
        let auth = JpkiCertificate::from_der(&card(r).jpki.auth_cert).unwrap();
        assert_eq!(rec.card.auth_cert.sha256, hex(&auth.fingerprint_sha256()));
    }
}

#[test]
fn deterministic_and_true_whatever_the_day() {
    let f = world();
    // Same keys, same seed, same day: byte-identical files.
    let again = build(7, TODAY, &f.keys).unwrap();
    for (rel, bytes) in &again.files {
        assert_eq!(&read(rel), bytes, "{rel}");
    }
    // Keys depend on the seed only: regenerate a few and compare.
    let labels = ["auth-ca-1", "R0001/card/auth", "R0008/android/sign"];
    for (label, key) in labels.iter().zip(generate_keys(7, &labels).unwrap()) {
        assert_eq!(&f.keys[*label], &key, "{label}");
    }
    // The tags stay true on awkward days (leap day, year end, before June's tax roll).
    for day in [date!(2028 - 02 - 29), date!(2026 - 12 - 31), date!(2027 - 01 - 01), date!(2030 - 05 - 31)] {
        let w = build(7, day, &f.keys).unwrap_or_else(|e| panic!("{day}: {e}"));
        let expiring = w.manifest.residents.iter().find(|r| r.tags.contains(&Tag::CertsExpiringSoon)).unwrap();
        assert!(expiring.cert_expiry >= day);
    }
}

#[test]
fn my_number_check_digit_matches_the_official_example() {
    assert!(is_valid_my_number("123456789018"));
    assert!(!is_valid_my_number("123456789012"));
    assert!(!is_valid_my_number("12345678901"));
    assert!(!is_valid_my_number("12345678901a"));
    assert_eq!(my_number_check_digit(&[0; 11]), 0);
}

#[test]
fn tags_are_spelt_as_in_the_manifest() {
    for tag in Tag::ALL {
        assert_eq!(serde_json::to_value(tag).unwrap(), tag.as_str(), "{tag:?}");
    }
}

#[test]
fn the_manifest_reader_keeps_secrets_out_of_debug_and_refuses_other_formats() {
    let r = with_tag(Tag::PhoneAndroid);
    let shown = format!("{:?}", world().manifest);
    let secrets = r.phone_secrets.as_ref().unwrap().android.as_ref().unwrap();
    for secret in [r.auth_pin.as_str(), r.text_pin.as_str(), secrets.auth_pin.as_str(), secrets.sign_password.as_str()]
    {
        assert!(!shown.contains(&format!("\"{secret}\"")), "Debug shows a secret");
    }
    assert!(shown.contains(&r.id));
    let e = Manifest::from_json(br#"{"format": 2, "residents": []}"#, "manifest.json").unwrap_err();
    assert!(matches!(e, super::ManifestError::Version { found: 2, .. }), "{e}");
}

#[test]
fn the_card_management_key_is_written_private_and_every_profile_carries_its_public_half() {
    use std::os::unix::fs::PermissionsExt;
    let m = &world().manifest;
    assert_eq!(m.card_management_key.as_deref(), Some(CARD_MANAGEMENT_KEY_FILE));
    let path = world().dir.path().join(CARD_MANAGEMENT_KEY_FILE);
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    let pem = std::fs::read_to_string(&path).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n") && pem.ends_with("-----END PRIVATE KEY-----\n"));
    let key = SigningKey::from_pkcs8_pem(&pem).unwrap();
    // RFC 8410 version 1, no public key: the form OpenSSL 3.0 reads (`openssl pkey -in …`).
    use base64::Engine;
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD.decode(body).unwrap();
    let v1_prefix = [0x30, 0x2E, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];
    assert_eq!((der.len(), &der[..16]), (48, &v1_prefix[..]));
    assert_eq!(&der[16..], key.to_bytes());
    let public = key.verifying_key().to_bytes();
    let mut profiles = 0;
    for r in &m.residents {
        let phones = [&r.phone_profiles.android, &r.phone_profiles.iphone];
        for rel in std::iter::once(&r.card_profile).chain(phones.into_iter().flatten()) {
            let p = CardProfile::load(&world().dir.path().join(rel)).unwrap();
            assert_eq!(p.jpki.card_management_key, Some(public), "{rel}");
            profiles += 1;
        }
    }
    assert!(profiles > m.residents.len(), "phones too");
    // From the seed, like every other key.
    assert_eq!(card_management_key(7).to_bytes(), key.to_bytes());
    assert_ne!(card_management_key(8).verifying_key(), key.verifying_key());

    // A world written over an older one narrows the key file's mode.
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join(CARD_MANAGEMENT_KEY_FILE);
    std::fs::create_dir_all(old.parent().unwrap()).unwrap();
    std::fs::write(&old, b"old").unwrap();
    std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).unwrap();
    build(7, TODAY, &world().keys).unwrap().write(dir.path()).unwrap();
    assert_eq!(std::fs::metadata(&old).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(std::fs::read_to_string(&old).unwrap(), pem);
}

#[test]
fn a_world_card_accepts_a_reset_the_world_key_authorises() {
    let key = SigningKey::from_pkcs8_pem(&String::from_utf8(read(CARD_MANAGEMENT_KEY_FILE)).unwrap()).unwrap();
    let r = with_tag(Tag::PinBlocked);
    let profile = card(r);
    let cert = profile.jpki.auth_cert.clone();
    let mut c = VirtualCard::new(profile, TokenKind::Card);
    c.power_on();
    let apdu = |s: &str| -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    };
    assert_eq!(c.process(&apdu("00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01")), [0x90, 0x00]);
    assert_eq!(c.process(&apdu("00 A4 02 0C 02 00 18")), [0x90, 0x00]);
    assert_eq!(c.process(&apdu("00 20 00 80")), [0x63, 0xC0], "blocked");
    let response = c.process(&apdu("00 84 00 00 08"));
    let challenge: [u8; 8] = response[..8].try_into().unwrap();
    let authorisation = key.sign(&authorisation_message(ResetCredential::AuthPin, &challenge, &cert));
    let mut command = apdu("00 2C 00 80 44");
    command.extend_from_slice(&authorisation.to_bytes());
    command.extend_from_slice(b"2580");
    assert_eq!(c.process(&command), [0x90, 0x00]);
    assert_eq!(c.process(&apdu("00 20 00 80")), [0x63, 0xC3]);
    assert_eq!(c.process(&apdu("00 20 00 80 04 32 35 38 30")), [0x90, 0x00]);
}

#[test]
fn records_are_as_complete_as_a_municipalitys() {
    let registry = Registry::load(world().dir.path()).unwrap();
    for r in &registry.residents {
        if let Some(res) = &r.residence {
            // 住民票コード, 住民となった年月日 ≤ 住所を定めた年月日 ≤ 届出日 ≤ today (within 14 days).
            let code = r.resident_code.as_deref().unwrap_or_else(|| panic!("{}: 住民票コード", r.id));
            assert!(code.len() == 11 && code.bytes().all(|b| b.is_ascii_digit()), "{}", r.id);
            let (became, notified) = (res.became_resident_on.unwrap(), res.notified_on.unwrap());
            assert!(r.birth_date <= became && became <= res.since, "{}", r.id);
            assert!(
                res.since <= notified && notified <= TODAY && notified - res.since < Duration::days(14),
                "{}",
                r.id
            );
        }
        if let Some(h) = &r.honseki {
            // 編製日 before anyone's 身分事項 after it; a birth first, then marriage or 分籍.
            let created = h.created.unwrap_or_else(|| panic!("{}: 編製日", r.id));
            assert!(created <= TODAY);
            let kinds: Vec<&str> = r.koseki_events.iter().map(|e| e.kind.as_str()).collect();
            assert_eq!(kinds.first(), Some(&"出生"), "{}", r.id);
            assert!(r.koseki_events.iter().all(|e| !e.items.is_empty()), "{}", r.id);
        }
        if let Some(f) = &r.foreign {
            let n = f.card_number.as_deref().unwrap().as_bytes();
            assert!(n.len() == 12 && n[2..10].iter().all(u8::is_ascii_digit), "{}", r.id);
            assert!(f.category.is_some() && f.period_of_stay.is_some(), "{}", r.id);
        }
    }
    let by = |id: &str| registry.residents.iter().find(|r| r.id == id).unwrap();
    let an = by("R0006").foreign.as_ref().unwrap();
    assert_eq!((an.category.as_deref(), an.alias.as_deref()), (Some("中長期在留者"), Some("阮　文安")));
    let kinds = |id: &str| by(id).koseki_events.iter().map(|e| e.kind.clone()).collect::<Vec<_>>();
    assert_eq!(kinds("R0001"), ["出生", "婚姻"]);
    assert_eq!(kinds("R0003"), ["出生"]);
    assert_eq!(by("R0003").koseki_relationship.as_deref(), Some("長男"));
    assert_eq!((by("R0003").father.as_deref(), by("R0003").mother.as_deref()), (Some("健一"), Some("美和")));
    assert_eq!(kinds("R0014"), ["出生", "分籍"]);
    let marriage = &by("R0002").koseki_events[1].items;
    assert!(marriage.iter().any(|[l, v]| l == "従前戸籍" && v.starts_with("東京都東村山市")), "{marriage:?}");
    assert!(by("R0002").koseki_events[0].items.iter().any(|[l, v]| l == "出生地" && v == "東京都東村山市"));
}

#[test]
fn a_variant_kanji_resident_has_no_other_problem() {
    let m = &world().manifest;
    let plain: Vec<&str> = m
        .residents
        .iter()
        .filter(|r| r.tags.contains(&Tag::VariantKanjiName) && r.tags.contains(&Tag::Adult))
        .filter(|r| !r.tags.iter().any(|t| matches!(t, Tag::PinBlocked | Tag::CertsExpired | Tag::SignRevoked)))
        .map(|r| r.id.as_str())
        .collect();
    assert_eq!(plain, ["R0014", "R0015"]);
    let r = m.residents.iter().find(|r| r.id == "R0014").unwrap();
    assert!(r.name.contains('﨑'), "{}", r.name);
    assert!(r.name.chars().any(|c| VARIANT_KANJI.contains(&c)));
    // A name written with an ideographic variation sequence, as the register holds it.
    let r = m.residents.iter().find(|r| r.id == "R0015").unwrap();
    assert_eq!(r.name, "渡邉\u{E0110}\u{3000}美咲");
    assert!(r.tags.contains(&Tag::HouseholdHead) && !r.tags.contains(&Tag::SealRegistered));
}
