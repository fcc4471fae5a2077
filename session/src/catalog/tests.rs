//! The catalog decision, moved here from the backend worker with its tests.

use super::*;
use crate::testing::sign;
use ed25519_dalek::SigningKey;
use madoguchi_api::SignedBlob;
use serde_json::json;

const SID: &str = "0123456789abcdef0123456789abcdef";

fn catalog(version: i64, juminhyo_fee: i64) -> String {
    json!({
        "format": 1, "version": version, "issued_at": "2026-11-24T10:00:00+09:00",
        "municipalities": [
            {"code": "132217", "name": "清瀬市", "prefecture": "東京都", "config_version": 3, "config": {
                "issuer_title": "清瀬市長", "issuer_name": "x", "service_hours": {"open": "06:30", "close": "23:00"},
                "documents": {
                    "juminhyo": {"enabled": true, "fee_yen": juminhyo_fee, "max_copies": 10, "options": ["setainushi", "honseki", "household"]},
                    "koseki-zenbu": {"enabled": true, "fee_yen": 450, "max_copies": 5},
                    "inkan": {"enabled": false, "fee_yen": 300, "max_copies": 5}
                }}},
            {"code": "112089", "name": "所沢市", "prefecture": "埼玉県", "config_version": 1, "config": {
                "issuer_title": "所沢市長", "issuer_name": "y", "service_hours": {"open": "06:30", "close": "23:00"},
                "documents": {"fuhyo": {"enabled": true, "fee_yen": 300, "max_copies": 3}}}}
        ]
    })
    .to_string()
}

fn offer(code: &str, name: &str, route: &str, doc: &str, fee: i64, max: i64, options: &[&str]) -> serde_json::Value {
    json!({"municipality_code": code, "municipality_name": name, "route": route, "document": doc, "title": "証明書",
           "fee_yen": fee, "max_copies": max, "options": options,
           "persons": [], "years": []})
}

fn offers_body(version: i64, offers: Vec<serde_json::Value>, unavailable: Vec<serde_json::Value>) -> OffersReply {
    serde_json::from_value(json!({"session_id": SID, "at": "2026-11-24T10:00:00+09:00", "catalog_version": version,
           "offers": offers, "unavailable": unavailable, "notices": []}))
    .unwrap()
}

fn delivered(offers: OffersReply, catalog: Option<SignedBlob>) -> OffersDelivery {
    OffersDelivery { offers, catalog }
}

fn checker(key: &SigningKey) -> CatalogCheck {
    CatalogCheck::new(PublicKey(key.verifying_key()))
}

#[test]
fn offers_are_grouped_by_municipality_and_checked_against_the_catalog() {
    let key = SigningKey::from_bytes(&[9u8; 32]);
    let mut c = checker(&key);
    assert_eq!(c.held_version(), None);
    let body = offers_body(
        4,
        vec![
            offer("132217", "清瀬市", "residence", "juminhyo", 300, 10, &["setainushi", "honseki"]),
            offer("112089", "所沢市", "honseki", "fuhyo", 300, 3, &[]),
            offer("132217", "清瀬市", "honseki", "koseki-zenbu", 450, 5, &[]),
        ],
        vec![json!({"municipality_code": "132217", "document": "kazei", "reason": "no_record", "message": "m"})],
    );
    let offers = c.offers(delivered(body, Some(sign(&key, &catalog(4, 300))))).unwrap();
    assert_eq!(c.held_version(), Some(4));
    let codes: Vec<(&str, &str, Route)> =
        offers.municipalities.iter().map(|m| (m.code.as_str(), m.name.as_str(), m.route)).collect();
    assert_eq!(codes, vec![("132217", "清瀬市", Route::Residence), ("112089", "所沢市", Route::Honseki)]);
    let kiyose = &offers.municipalities[0];
    let kinds: Vec<&str> = kiyose.documents.iter().map(|d| d.kind.as_str()).collect();
    assert_eq!(kinds, vec!["juminhyo", "koseki-zenbu"]);
    assert_eq!(kiyose.documents[0].fee_yen, 300);
    assert_eq!(kiyose.documents[0].max_copies, 10);
    assert_eq!(kiyose.documents[0].options, vec!["setainushi", "honseki"]);
    assert_eq!(kiyose.unavailable, vec![UnavailableDocument { kind: "kazei".into(), reason: "no_record".into() }]);

    // Any disagreement with the signed catalog: nothing can be trusted.
    for bad in [
        offer("132217", "清瀬市", "residence", "juminhyo", 200, 10, &[]),
        offer("132217", "清瀬市", "residence", "juminhyo", 300, 11, &[]),
        offer("132217", "清瀬市", "residence", "juminhyo", 300, 10, &["kojin_bango"]),
        offer("132217", "清瀬市", "residence", "inkan", 300, 5, &[]),
        offer("132217", "清瀬市", "residence", "kazei", 300, 5, &[]),
        offer("999999", "どこか市", "residence", "juminhyo", 300, 10, &[]),
    ] {
        let refused = c.offers(delivered(offers_body(4, vec![bad], vec![]), None)).unwrap_err();
        assert_eq!(refused.backend_error(), BackendError::CatalogSignature);
    }
    // Offers from a newer catalog than could be verified.
    let refused = c.offers(delivered(offers_body(5, vec![], vec![]), None)).unwrap_err();
    assert_eq!(refused.backend_error(), BackendError::CatalogSignature);
    // The same document twice for one municipality: a protocol error, as before.
    let twice = offer("132217", "清瀬市", "residence", "juminhyo", 300, 10, &[]);
    let refused = c.offers(delivered(offers_body(4, vec![twice.clone(), twice], vec![]), None)).unwrap_err();
    assert_eq!(refused.backend_error(), BackendError::Protocol);
}

#[test]
fn catalogs_must_verify_and_never_go_back() {
    let key = SigningKey::from_bytes(&[9u8; 32]);
    let mut c = checker(&key);
    // No catalog yet: offers cannot be checked.
    assert_eq!(
        c.offers(delivered(offers_body(0, vec![], vec![]), None)).map_err(CatalogRejection::backend_error),
        Err(BackendError::CatalogSignature)
    );
    // Another key, a tampered payload, a signed non-catalog, a catalog of another format.
    let other = SigningKey::from_bytes(&[10u8; 32]);
    let mut tampered = sign(&key, &catalog(4, 300));
    tampered.payload = catalog(4, 100);
    let other_format = catalog(4, 300).replace("\"format\":1", "\"format\":2");
    for bad in [sign(&other, &catalog(4, 300)), tampered, sign(&key, "{\"hello\": 1}"), sign(&key, &other_format)] {
        let refused = c.offers(delivered(offers_body(4, vec![], vec![]), Some(bad))).unwrap_err();
        assert_eq!(refused, CatalogRejection::Unverified);
        assert_eq!(refused.backend_error(), BackendError::CatalogSignature);
    }
    assert_eq!(c.held_version(), None);

    c.offers(delivered(offers_body(6, vec![], vec![]), Some(sign(&key, &catalog(6, 300))))).unwrap();
    // An older catalog is not taken: the held one stays and decides.
    let older = offers_body(5, vec![offer("132217", "清瀬市", "residence", "juminhyo", 100, 10, &[])], vec![]);
    let refused = c.offers(delivered(older, Some(sign(&key, &catalog(5, 100))))).unwrap_err();
    assert_eq!(refused.backend_error(), BackendError::CatalogSignature);
    assert_eq!(c.held_version(), Some(6));
    let newer = offers_body(7, vec![offer("132217", "清瀬市", "residence", "juminhyo", 100, 10, &[])], vec![]);
    assert!(c.offers(delivered(newer, Some(sign(&key, &catalog(7, 100))))).is_ok());
    assert_eq!(c.held_version(), Some(7));
}
