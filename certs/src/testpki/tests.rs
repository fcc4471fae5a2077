use super::fixture::{get, TODAY};
use super::*;
use crate::{CertErrorKind, CertProfile};
use time::macros::{date, datetime};

fn now() -> OffsetDateTime {
    start_of_day_jst(TODAY) + Duration::hours(12)
}

#[test]
fn generated_certs_round_trip_with_the_right_profiles() {
    let f = get();
    let auth = JpkiCertificate::from_der(f.auth.der()).unwrap();
    assert_eq!(auth.profile(), CertProfile::UserAuthentication);
    assert!(auth.is_test_profile());
    assert_eq!(auth.subject(), "CN=997794E9AGCIEG13221003A,C=JP");
    assert_eq!(
        auth.issuer(),
        "OU=Japan Agency for Local Authority Information Systems,OU=JPKI for user authentication,O=JPKI,C=JP"
    );
    assert_eq!(auth.serial_hex(), "06D18006");
    assert_eq!(auth.not_after(), datetime!(2030-02-17 14:59:59 UTC));
    assert_eq!(auth.basic4().unwrap(), None);
    assert!(auth.key_usage().digital_signature && !auth.key_usage().non_repudiation);

    let sign = JpkiCertificate::from_der(f.sign.der()).unwrap();
    assert_eq!(sign.profile(), CertProfile::DigitalSignature);
    assert_eq!(sign.subject(), "CN=2025102710301200011322170,L=Kiyose-shi,L=Tokyo-to,C=JP");
    assert_eq!(sign.basic4().unwrap().as_ref(), Some(&f.basic4));
    assert_eq!(sign.basic4().unwrap().unwrap().to_era_string(), "昭和55年2月17日");
    assert!(sign.key_usage().non_repudiation);
    assert_eq!(sign.serial_bytes(), &[0x86, 0x00, 0x01]);

    for ca in f.pki.cas() {
        let c = JpkiCertificate::from_der(ca.der()).unwrap();
        let want = if ca.kind() == CaKind::Auth { CertProfile::AuthCa } else { CertProfile::SignCa };
        assert_eq!(c.profile(), want);
        assert!(c.is_test_profile());
        assert_eq!(c.subject(), c.issuer());
    }
    // Same DN, different keys.
    let (a1, a2) = (f.pki.ca(CaKind::Auth, Generation::Previous), f.pki.ca(CaKind::Auth, Generation::Current));
    assert_eq!(a1.cert().subject(), a2.cert().subject());
    assert_ne!(a1.cert().public_key(), a2.cert().public_key());
}

/// jpki.md §6: both end-entity profiles name the issuer as DirName `C=JP, O=公的個人認証サービス`
/// (the test marker stays on the CAs, and the test policy OIDs mark the end entities).
#[test]
fn end_entities_carry_the_jpki_issuer_alt_name() {
    use x509_cert::der::Decode;
    let f = get();
    for ee in [&f.auth, &f.sign] {
        let cert = Certificate::from_der(ee.der()).unwrap();
        let exts = cert.tbs_certificate.extensions.unwrap();
        let ian = exts.iter().find(|e| e.extn_id == oids::EXT_IAN).expect("issuerAltName");
        assert!(!ian.critical);
        let want = IssuerAltName(alt_dir_name(JPKI_ALT_NAME_O).unwrap()).to_der().unwrap();
        assert_eq!(ian.extn_value.as_bytes(), want.as_slice());
        let GeneralName::DirectoryName(n) = &IssuerAltName::from_der(ian.extn_value.as_bytes()).unwrap().0[0] else {
            panic!("issuerAltName is not a DirName");
        };
        assert_eq!(n.to_string(), "O=公的個人認証サービス,C=JP");
        assert!(JpkiCertificate::from_der(ee.der()).unwrap().is_test_profile());
    }
}

#[test]
fn ef_filler_is_ignored_but_from_der_is_exact() {
    let f = get();
    let mut ef = f.auth.der().to_vec();
    ef.extend_from_slice(&[0xFF; 37]);
    assert_eq!(JpkiCertificate::from_ef_contents(&ef).unwrap().der(), f.auth.der());
    assert_eq!(JpkiCertificate::from_der(&ef).unwrap_err().kind(), CertErrorKind::Malformed);
    assert_eq!(crate::der_length_from_header(&ef), Some(f.auth.der().len()));
}

#[test]
fn chains_verify_against_the_issuing_generation() {
    let f = get();
    let anchors = f.pki.trust_anchors().unwrap();
    assert_eq!(anchors.len(), 4);
    let a = anchors.verify_chain(&f.auth, now()).unwrap();
    assert_eq!(a.cert().der(), f.pki.ca(CaKind::Auth, Generation::Current).der());
    let s = anchors.verify_chain(&f.sign, now()).unwrap();
    assert_eq!(s.profile(), CertProfile::SignCa);

    // Issued before the current generation existed: the previous one signs it.
    let old_issue = TODAY - Duration::days(3 * 365);
    let old = f
        .pki
        .issue_auth_cert(
            &f.auth_key.to_public_key(),
            5,
            start_of_day_jst(old_issue),
            end_of_day_jst(add_years(old_issue, 4)),
            "OLD",
        )
        .unwrap();
    let a = anchors.verify_chain(&old, now()).unwrap();
    assert_eq!(a.cert().der(), f.pki.ca(CaKind::Auth, Generation::Previous).der());

    // Time checks.
    assert_eq!(
        anchors.verify_chain(&f.auth, datetime!(2030-02-17 15:00 UTC)).unwrap_err().kind(),
        CertErrorKind::Expired
    );
    assert_eq!(
        anchors.verify_chain(&f.auth, datetime!(2025-10-26 0:00 UTC)).unwrap_err().kind(),
        CertErrorKind::NotYetValid
    );
    // A CA certificate is never accepted as the resident's certificate.
    let ca = JpkiCertificate::from_der(f.pki.ca(CaKind::Auth, Generation::Current).der()).unwrap();
    assert!(matches!(anchors.verify_chain(&ca, now()), Err(CertError::NotEndEntity)));
}

#[test]
fn tampered_or_foreign_certs_fail() {
    let f = get();
    let anchors = f.pki.trust_anchors().unwrap();
    // Flip one byte inside the subject CN: still parses, signature fails.
    let mut der = f.auth.der().to_vec();
    let pos = der.windows(8).position(|w| w == b"997794E9").unwrap();
    der[pos] = b'8';
    let tampered = JpkiCertificate::from_der(&der).unwrap();
    assert_eq!(anchors.verify_chain(&tampered, now()).unwrap_err().kind(), CertErrorKind::BadSignature);

    // Only the sign CAs: the auth certificate has no anchor at all.
    let mut only_sign = TrustAnchors::new(true);
    only_sign.add_der(f.pki.ca(CaKind::Sign, Generation::Current).der()).unwrap();
    assert!(matches!(only_sign.verify_chain(&f.auth, now()), Err(CertError::UntrustedChain)));

    // Another hierarchy with the same DNs (a different seed): the DN matches, nothing else does.
    let other = TestPki::generate(8, TODAY).unwrap();
    let cert = other
        .issue_auth_cert(&f.auth_key.to_public_key(), 9, now() - Duration::days(1), now() + Duration::days(9), "X")
        .unwrap();
    assert_eq!(anchors.verify_chain(&cert, now()).unwrap_err().kind(), CertErrorKind::Untrusted);
    // Even with the anchors' AKI forged in, the signature decides.
    let aki = f.auth.authority_key_id().unwrap();
    let mut der = cert.der().to_vec();
    let other_aki = cert.authority_key_id().unwrap();
    let pos = der.windows(other_aki.len()).position(|w| w == other_aki).unwrap();
    der[pos..pos + aki.len()].copy_from_slice(aki);
    let forged = JpkiCertificate::from_der(&der).unwrap();
    assert_eq!(anchors.verify_chain(&forged, now()).unwrap_err().kind(), CertErrorKind::BadSignature);
}

#[test]
fn production_anchors_refuse_test_material() {
    let f = get();
    let mut prod = TrustAnchors::new(false);
    let der = f.pki.ca(CaKind::Auth, Generation::Current).der();
    assert_eq!(prod.add_der(der).unwrap_err().kind(), CertErrorKind::TestMaterial);
    assert_eq!(prod.verify_chain(&f.auth, now()).unwrap_err().kind(), CertErrorKind::TestMaterial);
    // End-entity certificates are not anchors.
    let mut test = TrustAnchors::new(true);
    assert_eq!(test.add_der(f.auth.der()).unwrap_err().kind(), CertErrorKind::Untrusted);
}

#[test]
fn anchors_load_from_a_directory() {
    let f = get();
    let dir = std::env::temp_dir().join(format!("madoguchi-anchors-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for ca in f.pki.cas() {
        std::fs::write(dir.join(format!("{}.der", ca.file_stem())), ca.der()).unwrap();
    }
    // A PEM copy of one of them (deduplicated) and a file that is neither.
    let pem = der::pem::encode_string("CERTIFICATE", der::pem::LineEnding::LF, f.pki.cas()[0].der()).unwrap();
    std::fs::write(dir.join("copy.pem"), pem).unwrap();
    std::fs::write(dir.join("README.txt"), "not an anchor").unwrap();
    let anchors = TrustAnchors::from_dir(&dir, true).unwrap();
    assert_eq!(anchors.len(), 4);
    assert_eq!(TrustAnchors::from_dir(&dir, false).unwrap_err().kind(), CertErrorKind::TestMaterial);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(TrustAnchors::from_dir(&dir, true).unwrap_err().kind(), CertErrorKind::Io);
}

#[test]
fn crl_lookup_and_verification() {
    let f = get();
    let since = datetime!(2026-01-10 9:00 +9);
    let crl = f
        .pki
        .issue_crl(
            CaKind::Sign,
            &[(0x0086_0001, since), (42, since)],
            now() - Duration::days(1),
            now() + Duration::days(1),
        )
        .unwrap();
    let crl = Crl::from_der(crl.der()).unwrap();
    let sign_ca = f.pki.ca(CaKind::Sign, Generation::Current);
    crl.verify(sign_ca.cert()).unwrap();
    assert!(crl.verify(f.pki.ca(CaKind::Sign, Generation::Previous).cert()).is_err());
    assert!(crl.verify(f.pki.ca(CaKind::Auth, Generation::Current).cert()).is_err());
    let anchors = f.pki.trust_anchors().unwrap();
    assert_eq!(anchors.crl_issuer(&crl).unwrap().cert().der(), sign_ca.der());
    assert_eq!(crl.issuer(), sign_ca.cert().subject());
    assert!(crl.is_current(now()));
    assert!(!crl.is_current(now() + Duration::days(2)));

    assert_eq!(crl.revoked_since(f.sign.serial_bytes()), Some(since));
    assert_eq!(crl.revoked_since(&[0, 0, 42]), Some(since));
    assert_eq!(crl.revoked_since(f.auth.serial_bytes()), None);
    assert!(matches!(crl.check(&f.sign, now()), Err(CertError::Revoked { since: s }) if s == since));
    assert!(crl.check(&f.sign, since - Duration::seconds(1)).is_ok());

    // Holds (a lost phone) are told apart from revocations.
    let hold = TestRevocation { serial: 7, since, reason: RevocationReason::Hold };
    let crl =
        f.pki.ca(CaKind::Auth, Generation::Previous).issue_crl(&[hold], now(), now() + Duration::days(1)).unwrap();
    assert_eq!(crl.revocation(&[7]).unwrap().reason, RevocationReason::Hold);
    assert!(anchors.crl_issuer(&crl).is_ok());

    // Tampering breaks the signature.
    let mut der = crl.der().to_vec();
    let last = der.len() - 1;
    der[last] ^= 1;
    assert_eq!(
        Crl::from_der(&der).unwrap().verify(f.pki.ca(CaKind::Auth, Generation::Previous).cert()).unwrap_err().kind(),
        CertErrorKind::BadSignature
    );
}

#[test]
fn signatures_verify() {
    let f = get();
    let msg = b"challenge";
    let digest: [u8; 32] = Sha256::digest(msg).into();
    let sig = f.auth_key.sign(Pkcs1v15Sign::new::<Sha256>(), &digest).unwrap();
    crate::verify_pkcs1v15_sha256(f.auth.public_key(), msg, &sig).unwrap();
    crate::verify_pkcs1v15_sha256_prehashed(f.auth.public_key(), &digest, &sig).unwrap();
    assert_eq!(
        crate::verify_pkcs1v15_sha256(f.sign.public_key(), msg, &sig).unwrap_err().kind(),
        CertErrorKind::BadSignature
    );
    assert!(crate::verify_pkcs1v15_sha256(f.auth.public_key(), b"other", &sig).is_err());
    assert!(crate::verify_pkcs1v15_sha256(f.auth.public_key(), msg, &sig[..100]).is_err());
    let _ = &f.sign_key;
}

#[test]
fn validity_status_around_expiry() {
    let f = get();
    let s = crate::validity::status(&f.auth, now());
    assert!(!s.expired && !s.not_yet_valid && !s.renewal_window_open);
    assert_eq!(s.expiry_date, date!(2030 - 02 - 17));
    let s = crate::validity::status(&f.auth, datetime!(2029-11-17 0:00 +9));
    assert!(s.renewal_window_open && !s.expired);
    assert_eq!(s.expires_in_days, 92);
    let s = crate::validity::status(&f.auth, datetime!(2029-11-16 23:59 +9));
    assert!(!s.renewal_window_open);
    let s = crate::validity::status(&f.auth, datetime!(2030-02-17 23:59:59 +9));
    assert!(!s.expired && s.expires_in_days == 0);
    let s = crate::validity::status(&f.auth, datetime!(2030-02-18 0:00 +9));
    assert!(s.expired && !s.renewal_window_open && s.expires_in_days == -1);
}

#[test]
fn far_future_validity_is_handled() {
    let f = get();
    let end = datetime!(9999-12-31 23:59:59 UTC);
    let cert = f.pki.issue_auth_cert(&f.auth_key.to_public_key(), 11, now(), end, "FAR").unwrap();
    assert_eq!(cert.not_after(), end);
    let s = crate::validity::status(&cert, now());
    assert!(!s.expired && !s.renewal_window_open);
    crate::fuzzing::parse_any(cert.der());
}

#[test]
fn generation_is_deterministic() {
    let f = get();
    let again = TestPki::generate(7, TODAY).unwrap();
    for (a, b) in f.pki.cas().iter().zip(again.cas()) {
        assert_eq!(a.der(), b.der());
    }
}

#[test]
fn truncated_and_garbled_der_gives_errors() {
    let f = get();
    for der in [f.auth.der(), f.sign.der()] {
        for cut in (0..der.len()).step_by(7) {
            assert!(JpkiCertificate::from_der(&der[..cut]).is_err());
            crate::fuzzing::parse_any(&der[..cut]);
        }
        let mut flipped = der.to_vec();
        for i in (0..flipped.len()).step_by(13) {
            flipped[i] ^= 0x55;
            crate::fuzzing::parse_any(&flipped);
            flipped[i] ^= 0x55;
        }
    }
}
