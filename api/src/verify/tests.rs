use super::*;
use crate::payload::{DocumentBody, IssuerInfo};
use crate::signed::tests::sign;
use crate::DocumentKind;
use ed25519_dalek::SigningKey;

fn key(seed: u8) -> (SigningKey, PublicKey) {
    let k = SigningKey::from_bytes(&[seed; 32]);
    let public = PublicKey(k.verifying_key());
    (k, public)
}

#[test]
fn catalogs_are_refused_when_tampered_or_older() {
    let (k, public) = key(1);
    let c = Catalog { format: 1, version: 7, issued_at: "t".into(), municipalities: vec![] };
    let blob = sign(&k, &serde_json::to_string(&c).unwrap());
    assert_eq!(verify_catalog(&public, &blob, Some(7)).unwrap().version, 7);
    assert_eq!(verify_catalog(&public, &blob, None).unwrap().version, 7);
    assert!(matches!(verify_catalog(&public, &blob, Some(8)), Err(VerifyError::OlderCatalog { got: 7, have: 8 })));
    let mut t = blob.clone();
    t.payload = t.payload.replace("\"version\":7", "\"version\":9");
    assert!(matches!(verify_catalog(&public, &t, Some(0)), Err(VerifyError::Signature(_))));
    assert!(matches!(verify_catalog(&key(2).1, &blob, Some(0)), Err(VerifyError::Signature(_))));
    // Signed, but another format or not a catalog at all.
    let newer = Catalog { format: 2, ..c };
    let blob = sign(&k, &serde_json::to_string(&newer).unwrap());
    assert!(matches!(verify_catalog(&public, &blob, None), Err(VerifyError::Format(2))));
    let e = verify_catalog(&public, &sign(&k, "{\"hello\": 1}"), None).unwrap_err();
    assert_eq!(e.kind(), VerifyErrorKind::Payload);
}

fn document() -> DocumentPayload {
    DocumentPayload {
        format: 1,
        binding: Binding {
            session_id: "s1".into(),
            certificate_fingerprint: "ab".into(),
            kiosk_id: "k".into(),
            issuance_number: "n".into(),
            issued_at: "t".into(),
            document: DocumentKind::Kazei,
            copies: 1,
        },
        municipality: IssuerInfo {
            code: "132217".into(),
            name: "清瀬市".into(),
            prefecture: "東京都".into(),
            issuer_title: "清瀬市長".into(),
            issuer_name: "𠮷田　正和".into(),
            seal_sha256: None,
        },
        title: "課税・所得証明書".into(),
        issued_on: "2026-11-24".into(),
        issued_on_era: "令和8年11月24日".into(),
        certification: "上記のとおり証明する。".into(),
        end_note: "以下余白".into(),
        continued_note: "以下次頁".into(),
        omitted_note: None,
        verify_url: "u".into(),
        verification_code: "c".into(),
        body: DocumentBody::Fuhyo {
            honseki: "h".into(),
            hittousha: "x".into(),
            person: serde_json::from_value(serde_json::json!({
                "id": "R1", "name": "n", "name_kana": "k", "birth_date": "2000-01-01", "sex": "男",
                "relationship": null, "became_resident_on": null, "address_since": null, "previous_address": null,
                "honseki": null, "hittousha": null, "my_number": null, "nationality": null, "residence_status": null,
                "residence_period_end": null, "father": null, "mother": null
            }))
            .unwrap(),
            address: "a".into(),
            address_since: None,
        },
    }
}

fn bound_to<'a>(session_id: &'a str, certificate_fingerprint: &'a str) -> Expected<'a> {
    Expected { session_id, certificate_fingerprint, ..Expected::default() }
}

#[test]
fn documents_bound_elsewhere_are_refused() {
    let (k, public) = key(3);
    let d = document();
    let blob = sign(&k, &serde_json::to_string(&d).unwrap());
    assert_eq!(verify_document(&public, &blob, &bound_to("s1", "AB")).unwrap(), d);
    assert!(matches!(
        verify_document(&public, &blob, &bound_to("s2", "ab")),
        Err(VerifyError::Binding(BindingMismatch::SessionId))
    ));
    assert!(matches!(
        verify_document(&public, &blob, &bound_to("s1", "cd")),
        Err(VerifyError::Binding(BindingMismatch::CertificateFingerprint))
    ));
    let more = Expected { issuance_number: Some("n2"), ..bound_to("s1", "ab") };
    assert!(matches!(
        verify_document(&public, &blob, &more),
        Err(VerifyError::Binding(BindingMismatch::IssuanceNumber))
    ));
    let mut t = blob.clone();
    t.payload = t.payload.replace("\"s1\"", "\"s2\"");
    assert!(matches!(verify_document(&public, &t, &bound_to("s2", "ab")), Err(VerifyError::Signature(_))));
    // The binding alone, for a reader that leaves the rest to the printer.
    assert_eq!(verify_binding(&public, &blob).unwrap(), d.binding);
    assert_eq!(verify_binding(&key(4).1, &blob).unwrap_err().kind(), VerifyErrorKind::Signature);
    assert_eq!(verify_binding(&public, &sign(&k, "{\"hello\":1}")).unwrap_err().kind(), VerifyErrorKind::Payload);
}
