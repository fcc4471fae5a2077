//! Decisions the session makes on what the backend signed, before money is kept or paper used:
//! a document that verifies but cannot be printed is refused like a bad signature.

use super::*;

#[test]
fn an_unparseable_payload_never_reaches_print() {
    let fp = hex::encode(fingerprint(GOOD.der));
    let good = payload("S1", &fp, "N-1", "juminhyo", 1);
    for bad in [
        // Signed and bound to this session, but no document the printer could print.
        good.replace("\"1978-05-14\"", "\"not a date\""),
        good.replace("\"format\":1", "\"format\":2"),
        good.replace("\"body\":{", "\"body\":{\"unknown\":true,"),
    ] {
        let mut k = K::new();
        k.reach_payment();
        k.pay(300);
        let issued = Issued { issuance_number: "N-1".into(), total_yen: 300, document: sign(&backend_key(), &bad) };
        k.reply_backend(Ok(BackendOk::Issued(issued)));
        assert!(k.prints.is_empty(), "nothing printed: {bad}");
        assert_eq!(k.failure(), FailureCode::DocumentInvalid, "same code as a bad signature");
        assert!(k.audited(|r| matches!(r, RecordKind::DocumentSignatureInvalid { .. })));
        assert_eq!(k.refunded(), 300, "no fee kept");
        assert!(matches!(&k.outcomes()[..], [IssueOutcome::Failed { .. }]), "the issuance is reported failed");
        k.finish_and_check_idle();
    }
}

/// Idle → authenticated, waiting for offers.
fn authenticated() -> K {
    let mut k = K::new();
    k.reach_pin_entry(&GOOD, 3);
    k.verify_ok("8573");
    k.authenticate(&GOOD);
    k
}

#[test]
fn a_tampered_or_foreign_catalog_is_refused_by_the_session_before_any_choice() {
    let mut tampered = sign(&backend_key(), &catalog_of(&offers(), CATALOG_VERSION));
    tampered.payload = tampered.payload.replace("\"fee_yen\":300", "\"fee_yen\":30");
    let foreign = sign(&ed25519_dalek::SigningKey::from_bytes(&[1u8; 32]), &catalog_of(&offers(), CATALOG_VERSION));
    for catalog in [Some(tampered), Some(foreign), None] {
        let mut k = authenticated();
        k.reply_backend(Ok(BackendOk::Offers(deliver_with(offers(), catalog))));
        assert_eq!(k.failure(), FailureCode::CatalogInvalid);
        assert!(k.payments.is_empty(), "nothing collected");
        assert_eq!(k.closes(), 1);
        k.finish_and_check_idle();
    }
}

#[test]
fn offers_that_disagree_with_the_signed_catalog_are_refused() {
    let mut k = authenticated();
    let mut cheaper = offers();
    cheaper.municipalities[0].documents[0].fee_yen = 100;
    // Signed for the real fees, offered at another.
    let signed = sign(&backend_key(), &catalog_of(&offers(), CATALOG_VERSION));
    k.reply_backend(Ok(BackendOk::Offers(deliver_with(cheaper, Some(signed)))));
    assert_eq!(k.failure(), FailureCode::CatalogInvalid);
    k.finish_and_check_idle();
}

#[test]
fn an_older_catalog_is_refused_and_the_held_one_decides() {
    let mut k = authenticated();
    k.reply_backend(Ok(BackendOk::Offers(deliver(offers()))));
    k.remove();
    assert_eq!(k.screen(), ScreenId::ChooseDocument);
    k.touch("cancel");
    k.finish_and_check_idle();

    // The next resident: the session says which catalog it holds, so the worker fetches only a newer one.
    k.reach_pin_entry(&GOOD, 3);
    k.verify_ok("8573");
    k.authenticate(&GOOD);
    assert_eq!(k.backend_op().1, Request::Offers { session_id: "S1".into(), held_catalog: Some(CATALOG_VERSION) });
    // An older catalog, signed with the right key, at other fees: refused, the held one stays.
    let mut cheaper = offers();
    cheaper.municipalities[0].documents[0].fee_yen = 100;
    let older = sign(&backend_key(), &catalog_of(&cheaper, CATALOG_VERSION - 1));
    k.reply_backend(Ok(BackendOk::Offers(deliver_with(cheaper, Some(older)))));
    assert_eq!(k.failure(), FailureCode::CatalogInvalid);
}
