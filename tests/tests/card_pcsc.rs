//! The JPKI driver against the virtual card through a real pcscd + vpcd.

use madoguchi_certs::{verify_pkcs1v15_sha256, JpkiCertificate};
use madoguchi_drivers::card::{PcscTransport, ReaderEvent, ReaderInterface, ReaderMonitor, ReaderRoles};
use madoguchi_drivers::jpki::{
    CertificateEf, JpkiCard, JpkiErrorKind, Pin, PinKind, PinStatus, PinTries, SigningKey, TokenKind,
};
use madoguchi_tests::{bin, private_profile, resident_with, shared_world, PcscLab, Reader};
use sha2::{Digest, Sha256};
use std::process::Command;
use std::time::{Duration, Instant};

fn roles() -> ReaderRoles {
    ReaderRoles {
        contact: vec![madoguchi_tests::CONTACT_READER.into()],
        contactless: vec![madoguchi_tests::CONTACTLESS_READER.into()],
    }
}

fn open(reader: Reader) -> JpkiCard<PcscTransport> {
    let ctx = pcsc::Context::establish(pcsc::Scope::User).expect("pcsc");
    JpkiCard::open(PcscTransport::connect(&ctx, reader.name()).expect("connect")).expect("open JPKI")
}

fn tries(left: u8, max: u8) -> PinStatus {
    PinStatus::Tries(PinTries { left, max })
}

#[test]
fn authentication_path_through_pcscd_in_budget() {
    let Some(lab) = PcscLab::isolated("authentication_path_through_pcscd_in_budget") else { return };
    let world = shared_world();
    let r = resident_with(&world, &["adult", "household-head"]);
    let profile = private_profile(&world, r["card_profile"].as_str().unwrap(), lab.dir.path());
    let _card = lab.insert(&profile, Reader::Contactless, &[]);
    let pin = Pin::new(PinKind::UserAuth, r["auth_pin"].as_str().unwrap()).unwrap();

    let mut times = Vec::new();
    let mut apdus = 0;
    for _ in 0..5 {
        let t = Instant::now();
        let mut card = open(Reader::Contactless);
        assert_eq!(card.token(), TokenKind::Card);
        let der = card.read_certificate(CertificateEf::UserAuth).unwrap();
        assert_eq!(card.pin_status(PinKind::UserAuth).unwrap(), tries(3, 3));
        card.verify(&pin).unwrap();
        let challenge = b"backend challenge 0123456789";
        let hash: [u8; 32] = Sha256::digest(challenge).into();
        let sig = card.sign_sha256(SigningKey::UserAuth, &hash).unwrap();
        times.push(t.elapsed());
        apdus = card.apdu_count();
        let cert = JpkiCertificate::from_der(&der).unwrap();
        verify_pkcs1v15_sha256(cert.public_key(), challenge, &sig).expect("card signature verifies");
        card.into_transport().release();
    }
    times.sort();
    println!(
        "MEASURE card placed -> certificate -> PIN -> signed: {apdus} APDUs, median {:?} (min {:?}, max {:?})",
        times[times.len() / 2],
        times[0],
        times[times.len() - 1]
    );
    assert!(apdus <= 14, "{apdus} APDUs exceed the budget of 14");
}

#[test]
fn counters_survive_removal_and_restart() {
    let Some(lab) = PcscLab::isolated("counters_survive_removal_and_restart") else { return };
    let world = shared_world();
    let r = resident_with(&world, &["adult"]);
    let profile = private_profile(&world, r["card_profile"].as_str().unwrap(), lab.dir.path());
    let mut sim = lab.insert(&profile, Reader::Contact, &[]);

    let wrong = Pin::new(PinKind::UserAuth, "0000").unwrap();
    let mut card = open(Reader::Contact);
    let e = card.verify(&wrong).unwrap_err();
    assert!(matches!(e, madoguchi_drivers::jpki::JpkiError::WrongPin { tries_left: 2, .. }), "{e:?}");
    drop(card);

    sim.remove();
    sim.reinsert();
    let mut card = open(Reader::Contact);
    assert_eq!(card.pin_status(PinKind::UserAuth).unwrap(), tries(2, 3));
    drop(card);

    // A new simulator process reads the counter back from the profile.
    drop(sim);
    madoguchi_tests::wait_card_state(Reader::Contact.name(), false);
    let _sim = lab.insert(&profile, Reader::Contact, &[]);
    let mut card = open(Reader::Contact);
    assert_eq!(card.pin_status(PinKind::UserAuth).unwrap(), tries(2, 3));
    let good = Pin::new(PinKind::UserAuth, r["auth_pin"].as_str().unwrap()).unwrap();
    card.verify(&good).unwrap();
    drop(card);
    let mut card = open(Reader::Contact);
    assert_eq!(card.pin_status(PinKind::UserAuth).unwrap(), tries(3, 3));
}

#[test]
fn wrong_pins_block_then_stay_blocked() {
    let Some(lab) = PcscLab::isolated("wrong_pins_block_then_stay_blocked") else { return };
    let world = shared_world();
    let r = resident_with(&world, &["adult"]);
    let profile = private_profile(&world, r["card_profile"].as_str().unwrap(), lab.dir.path());
    let _sim = lab.insert(&profile, Reader::Contact, &[]);
    let mut card = open(Reader::Contact);
    let wrong = Pin::new(PinKind::UserAuth, "9999").unwrap();
    let kinds: Vec<_> = (0..4).map(|_| card.verify(&wrong).unwrap_err().kind()).collect();
    assert_eq!(
        kinds,
        [JpkiErrorKind::WrongPin, JpkiErrorKind::WrongPin, JpkiErrorKind::PinBlocked, JpkiErrorKind::PinBlocked]
    );
    assert_eq!(card.pin_status(PinKind::UserAuth).unwrap(), PinStatus::Blocked);
    // Even the right PIN cannot unblock it.
    let good = Pin::new(PinKind::UserAuth, r["auth_pin"].as_str().unwrap()).unwrap();
    assert_eq!(card.verify(&good).unwrap_err().kind(), JpkiErrorKind::PinBlocked);
    // Signing without a verified PIN is refused by the card.
    assert_eq!(card.sign_sha256(SigningKey::UserAuth, &[0; 32]).unwrap_err().kind(), JpkiErrorKind::SecurityStatus);
}

#[test]
fn pulled_card_is_reported_as_removed() {
    let Some(lab) = PcscLab::isolated("pulled_card_is_reported_as_removed") else { return };
    let world = shared_world();
    let r = resident_with(&world, &["adult"]);
    let profile = private_profile(&world, r["card_profile"].as_str().unwrap(), lab.dir.path());
    let mut sim = lab.insert(&profile, Reader::Contactless, &[]);
    let mut card = open(Reader::Contactless);
    sim.remove();
    let e = card.read_certificate(CertificateEf::UserAuth).unwrap_err();
    assert_eq!(e.kind(), JpkiErrorKind::Removed, "{e:?}");
}

#[test]
fn reader_monitor_reports_cards_on_each_interface() {
    let Some(lab) = PcscLab::isolated("reader_monitor_reports_cards_on_each_interface") else { return };
    let world = shared_world();
    let r = resident_with(&world, &["adult"]);
    let profile = private_profile(&world, r["card_profile"].as_str().unwrap(), lab.dir.path());
    let mut monitor = ReaderMonitor::new(roles()).unwrap();
    let mut seen = Vec::new();
    let mut collect_until = |monitor: &mut ReaderMonitor, pred: &dyn Fn(&ReaderEvent) -> bool| {
        let deadline = Instant::now() + madoguchi_tests::WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "event not seen; got {seen:?}");
            for ev in monitor.wait(Some(left)).unwrap() {
                let hit = pred(&ev);
                seen.push(ev);
                if hit {
                    return;
                }
            }
        }
    };
    collect_until(&mut monitor, &|e| {
        matches!(e, ReaderEvent::ReaderAdded { interface: ReaderInterface::Contactless, .. })
    });
    let mut sim = lab.insert(&profile, Reader::Contactless, &[]);
    collect_until(
        &mut monitor,
        &|e| matches!(e, ReaderEvent::CardPresented { interface: ReaderInterface::Contactless, atr, .. } if !atr.is_empty()),
    );
    sim.remove();
    collect_until(&mut monitor, &|e| matches!(e, ReaderEvent::CardRemoved { .. }));
    // Cancellation from another thread unblocks a wait.
    let canceller = monitor.canceller();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        canceller.cancel();
    });
    let started = Instant::now();
    let res = monitor.wait(Some(Duration::from_secs(60)));
    t.join().unwrap();
    assert!(matches!(res, Err(ref e) if e.kind() == madoguchi_drivers::card::TransportErrorKind::Cancelled), "{res:?}");
    assert!(started.elapsed() < Duration::from_secs(60));
}

#[test]
fn phones_and_children_behave_as_their_tokens() {
    let Some(lab) = PcscLab::isolated("phones_and_children_behave_as_their_tokens") else { return };
    let world = shared_world();

    let a = resident_with(&world, &["phone-android"]);
    let p = private_profile(&world, a["phone_profiles"]["android"].as_str().unwrap(), lab.dir.path());
    let sim = lab.insert(&p, Reader::Contactless, &["--token", "android"]);
    let mut card = open(Reader::Contactless);
    assert_eq!(card.token(), TokenKind::Android);
    assert_eq!(card.read_certificate(CertificateEf::UserAuth).unwrap_err().kind(), JpkiErrorKind::SecurityStatus);
    card.verify(&Pin::new(PinKind::UserAuth, a["phone_secrets"]["android"]["auth_pin"].as_str().unwrap()).unwrap())
        .unwrap();
    JpkiCertificate::from_der(&card.read_certificate(CertificateEf::UserAuth).unwrap()).unwrap();
    drop(card);
    drop(sim);
    madoguchi_tests::wait_card_state(Reader::Contactless.name(), false);

    let i = resident_with(&world, &["phone-iphone"]);
    let p = private_profile(&world, i["phone_profiles"]["iphone"].as_str().unwrap(), lab.dir.path());
    let sim = lab.insert(&p, Reader::Contactless, &["--token", "iphone"]);
    let mut card = open(Reader::Contactless);
    assert_eq!(card.token(), TokenKind::Iphone);
    assert_eq!(card.pin_status(PinKind::UserAuth).unwrap(), PinStatus::Verified);
    let der = card.read_certificate(CertificateEf::UserAuth).unwrap();
    let sig = card.sign_sha256(SigningKey::UserAuth, &Sha256::digest(b"c").into()).unwrap();
    verify_pkcs1v15_sha256(JpkiCertificate::from_der(&der).unwrap().public_key(), b"c", &sig).unwrap();
    drop(card);
    drop(sim);
    madoguchi_tests::wait_card_state(Reader::Contactless.name(), false);

    let c = resident_with(&world, &["under-15"]);
    let p = private_profile(&world, c["card_profile"].as_str().unwrap(), lab.dir.path());
    let _sim = lab.insert(&p, Reader::Contact, &[]);
    let mut card = open(Reader::Contact);
    assert_eq!(card.read_certificate(CertificateEf::Signature).unwrap_err().kind(), JpkiErrorKind::NotPresent);
    JpkiCertificate::from_der(&card.read_certificate(CertificateEf::UserAuth).unwrap()).unwrap();
}

#[test]
fn signature_certificate_needs_the_password() {
    let Some(lab) = PcscLab::isolated("signature_certificate_needs_the_password") else { return };
    let world = shared_world();
    let r = resident_with(&world, &["adult", "household-head"]);
    let profile = private_profile(&world, r["card_profile"].as_str().unwrap(), lab.dir.path());
    let _sim = lab.insert(&profile, Reader::Contact, &[]);
    let mut card = open(Reader::Contact);
    assert_eq!(card.read_certificate(CertificateEf::Signature).unwrap_err().kind(), JpkiErrorKind::SecurityStatus);
    let pw = Pin::new(PinKind::Signature, r["sign_password"].as_str().unwrap()).unwrap();
    card.verify(&pw).unwrap();
    let cert = JpkiCertificate::from_der(&card.read_certificate(CertificateEf::Signature).unwrap()).unwrap();
    let basic4 = cert.basic4().unwrap().expect("signature certificate carries the basic 4 information");
    assert_eq!(basic4.name, r["name"].as_str().unwrap());
    // Change the auth PIN and back, through CHANGE REFERENCE DATA.
    let old = Pin::new(PinKind::UserAuth, r["auth_pin"].as_str().unwrap()).unwrap();
    let new = Pin::new(PinKind::UserAuth, "5678").unwrap();
    card.change_pin(&old, &new).unwrap();
    drop(card);
    let mut card = open(Reader::Contact);
    card.verify(&new).unwrap();
    card.change_pin(&new, &old).unwrap();
}

/// What another PC/SC client on the kiosk gets while the kiosk's connection has VERIFYed the
/// PIN and not yet signed (a backend round trip lies between): no connection at all, so it
/// cannot have the verified key sign. It does not even need a SELECT for that on a shared
/// connection (the JPKI AP is selected already, and a SELECT would end the verified state), so
/// it sends the signature command straight away. Once the kiosk lets go, the card has been
/// reset: the verified state is gone and the same command is refused.
#[test]
fn a_second_client_cannot_sign_between_verify_and_signature() {
    let Some(lab) = PcscLab::isolated("a_second_client_cannot_sign_between_verify_and_signature") else { return };
    let world = shared_world();
    let r = resident_with(&world, &["adult"]);
    let profile = private_profile(&world, r["card_profile"].as_str().unwrap(), lab.dir.path());
    let _sim = lab.insert(&profile, Reader::Contact, &[]);
    let pin = Pin::new(PinKind::UserAuth, r["auth_pin"].as_str().unwrap()).unwrap();
    let mut kiosk = open(Reader::Contact);
    kiosk.verify(&pin).unwrap();

    // COMPUTE DIGITAL SIGNATURE with the user-authentication key over someone else's hash.
    let foreign: [u8; 32] = Sha256::digest(b"another service's nonce").into();
    let mut sign = vec![0x80, 0x2A, 0x00, 0x97, 51];
    sign.extend_from_slice(&madoguchi_drivers::jpki::sha256_digest_info(&foreign));
    sign.push(0x00);
    let name = std::ffi::CString::new(Reader::Contact.name()).unwrap();
    let other = pcsc::Context::establish(pcsc::Scope::User).expect("pcsc");
    for mode in [pcsc::ShareMode::Shared, pcsc::ShareMode::Exclusive] {
        match other.connect(&name, mode, pcsc::Protocols::ANY) {
            Err(pcsc::Error::SharingViolation) => {}
            Err(e) => panic!("a second {mode:?} connection failed otherwise than refused: {e}"),
            Ok(card) => {
                let mut reply = [0u8; 300];
                let got = card.transmit(&sign, &mut reply).map(|r| (r.len(), r[r.len().saturating_sub(2)..].to_vec()));
                panic!(
                    "a second {mode:?} client reached the verified card; COMPUTE DIGITAL SIGNATURE gave (bytes, status) {got:02X?}"
                );
            }
        }
    }

    // The kiosk's own signature is unaffected, and then it lets go (resetting the card).
    let hash: [u8; 32] = Sha256::digest(b"the backend's challenge").into();
    kiosk.sign_sha256(SigningKey::UserAuth, &hash).expect("the kiosk signs on its connection");
    kiosk.into_transport().release();

    let card = other.connect(&name, pcsc::ShareMode::Shared, pcsc::Protocols::ANY).expect("the card is free again");
    let mut reply = [0u8; 300];
    let got = card.transmit(&sign, &mut reply).expect("transmit").to_vec();
    assert!(got.len() == 2 && got != [0x90, 0x00], "after the release the signature is refused: {got:02X?}");
    let mut select = vec![0x00, 0xA4, 0x04, 0x0C, 10];
    select.extend_from_slice(&[0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01]);
    assert_eq!(card.transmit(&select, &mut reply).expect("SELECT"), [0x90, 0x00]);
    assert_eq!(
        card.transmit(&sign, &mut reply).expect("transmit"),
        [0x69, 0x82],
        "no PIN is verified after the release"
    );
}

/// `madoguchi card info` and `pin-status`, as an operator runs them, never spend a try.
#[test]
fn operator_diagnostics_spend_no_tries() {
    let Some(lab) = PcscLab::isolated("operator_diagnostics_spend_no_tries") else { return };
    let world = shared_world();
    let r = resident_with(&world, &["certs-expiring-soon"]);
    let profile = private_profile(&world, r["card_profile"].as_str().unwrap(), lab.dir.path());
    let mut sim = lab.insert(&profile, Reader::Contact, &[]);
    let anchors = world.join("anchors");
    let run = |sub: &str| {
        let out = Command::new(bin("madoguchi"))
            .args([
                "card",
                sub,
                "--json",
                "--allow-test-anchors",
                "--contact",
                "Virtual PCD 00 00",
                "--contactless",
                "Virtual PCD 00 01",
            ])
            .arg("--anchors")
            .arg(&anchors)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    for _ in 0..3 {
        let info = run("info");
        assert_eq!(info["token"], "card");
        assert_eq!(info["interface"], "contact");
        assert_eq!(info["auth_pin"]["tries_left"], 3);
        assert_eq!(info["sign_pin"]["tries_left"], 5);
        let cert = &info["certificate"];
        assert_eq!(cert["chain"]["trusted"], true, "{info}");
        assert_eq!(cert["renewal_window_open"], true);
        assert_eq!(cert["expired"], false);
        assert!(cert["expires_in_days"].as_i64().unwrap() <= 92);
        let st = run("pin-status");
        assert_eq!(st["auth_pin"]["tries_left"], 3);
        assert!(st["certificate"].is_null());
    }
    // The text output is for people: it names the token and the tries.
    let out = Command::new(bin("madoguchi")).args(["card", "info"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("My Number Card") && text.contains("3 of 3 tries left"), "{text}");

    // `watch --until removed` returns once the reader has seen the card go.
    let watcher = Command::new(bin("madoguchi"))
        .args(["card", "watch", "--until", "removed", "--timeout", "30"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    sim.remove();
    let out = watcher.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("card removed: Virtual PCD 00 00"), "{out:?}");
}

/// The PIN reset (our protocol v1) against the virtual card through pcscd, as an independent
/// client drives it: the authorisation made here with the world's card-management key, every
/// refusal, and the new values verified afterwards.
#[test]
fn pin_reset_through_pcscd_with_the_card_management_key() {
    use ed25519_dalek::pkcs8::DecodePrivateKey;
    use ed25519_dalek::Signer;
    use madoguchi_api::pin_reset::authorisation_message;
    use madoguchi_api::ResetCredential;
    use madoguchi_drivers::jpki::JpkiError;

    let Some(lab) = PcscLab::isolated("pin_reset_through_pcscd_with_the_card_management_key") else { return };
    let world = shared_world();
    let pem = std::fs::read_to_string(world.join("pki/card-management-key.pem")).expect("card-management key");
    let key = ed25519_dalek::SigningKey::from_pkcs8_pem(&pem).expect("PKCS#8 Ed25519");
    let r = resident_with(&world, &["adult", "household-head"]);
    let profile = private_profile(&world, r["card_profile"].as_str().unwrap(), lab.dir.path());
    let _sim = lab.insert(&profile, Reader::Contactless, &[]);
    let mut card = open(Reader::Contactless);
    let auth_der = card.read_certificate(CertificateEf::UserAuth).unwrap();
    let authorise = |c: ResetCredential, challenge: &[u8; 8]| -> [u8; 64] {
        key.sign(&authorisation_message(c, challenge, &auth_der)).to_bytes()
    };

    // Block the auth PIN, then reset it: 3 APDUs for the challenge and the reset itself.
    let wrong = Pin::new(PinKind::UserAuth, "0000").unwrap();
    for _ in 0..3 {
        let _ = card.verify(&wrong);
    }
    assert_eq!(card.pin_status(PinKind::UserAuth).unwrap(), PinStatus::Blocked);
    let new = Pin::new(PinKind::UserAuth, "5963").unwrap();
    let (before, t) = (card.apdu_count(), Instant::now());
    let challenge = card.reset_challenge(PinKind::UserAuth).unwrap();
    let auth = authorise(ResetCredential::AuthPin, &challenge);
    assert_eq!(card.reset_retry_counter(&auth, &new).unwrap(), PinTries { left: 3, max: 3 });
    println!(
        "MEASURE auth-PIN reset on the card (challenge, reset, confirm): {} APDUs, {:?}",
        card.apdu_count() - before,
        t.elapsed()
    );
    // Replayed: the challenge is spent.
    assert!(matches!(card.reset_retry_counter(&auth, &new), Err(JpkiError::ResetNoChallenge)));
    // Replayed against a new challenge, altered, or for the other target: refused, nothing changes.
    let challenge = card.reset_challenge(PinKind::UserAuth).unwrap();
    assert!(matches!(card.reset_retry_counter(&auth, &wrong), Err(JpkiError::ResetAuthorisationRefused)));
    let challenge2 = card.reset_challenge(PinKind::UserAuth).unwrap();
    assert_ne!(challenge, challenge2);
    let mut altered = authorise(ResetCredential::AuthPin, &challenge2);
    altered[0] ^= 0x80;
    assert!(matches!(card.reset_retry_counter(&altered, &wrong), Err(JpkiError::ResetAuthorisationRefused)));
    let challenge3 = card.reset_challenge(PinKind::Signature).unwrap();
    let for_auth = authorise(ResetCredential::AuthPin, &challenge3);
    let pw = Pin::new(PinKind::Signature, "NEWPASS7").unwrap();
    assert!(matches!(card.reset_retry_counter(&for_auth, &pw), Err(JpkiError::ResetAuthorisationRefused)));
    card.verify(&new).expect("the reset PIN verifies");

    // The signature password, the other direction.
    let (before, t) = (card.apdu_count(), Instant::now());
    let challenge = card.reset_challenge(PinKind::Signature).unwrap();
    let auth = authorise(ResetCredential::SignPassword, &challenge);
    assert_eq!(card.reset_retry_counter(&auth, &pw).unwrap(), PinTries { left: 5, max: 5 });
    println!("MEASURE signature-password reset on the card: {} APDUs, {:?}", card.apdu_count() - before, t.elapsed());
    card.verify(&pw).expect("the new password verifies");
    drop(card);
    // Stored by the simulator: a new connection sees the new values.
    let mut card = open(Reader::Contactless);
    card.verify(&new).unwrap();
    card.verify(&pw).unwrap();
}
