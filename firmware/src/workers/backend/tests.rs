//! The worker's pure parts: replies, durable records, the outbox, paths. The catalog decision
//! and its tests are the session's (`madoguchi_session::catalog`).

use super::outbox::*;
use super::replies::*;
use super::user_agent;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::{Signer, SigningKey};
use madoguchi_api::client::Method;
use madoguchi_api::v1::{OutcomeKind, SIGNATURE_SCHEME};
use madoguchi_session::{BackendError, BackendOk, IssueOutcome, IssueRequest, OpId, Refusal, Request};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::io::Write;

const SID: &str = "0123456789abcdef0123456789abcdef";

fn sign(key: &SigningKey, payload: &str) -> Vec<u8> {
    json!({
        "payload": payload,
        "signature": B64.encode(key.sign(payload.as_bytes()).to_bytes()),
        "key_id": hex::encode(&Sha256::digest(key.verifying_key().as_bytes())[..8]),
        "algorithm": "Ed25519",
    })
    .to_string()
    .into_bytes()
}

fn offer(code: &str, name: &str, route: &str, doc: &str, fee: i64, max: i64, options: &[&str]) -> serde_json::Value {
    json!({"municipality_code": code, "municipality_name": name, "route": route, "document": doc, "title": "証明書",
           "fee_yen": fee, "max_copies": max, "options": options,
           "persons": [{"id": "R0001", "name": "佐藤　健一", "relationship": "世帯主", "is_self": true}], "years": []})
}

fn offers_body(version: i64, offers: Vec<serde_json::Value>, unavailable: Vec<serde_json::Value>) -> Vec<u8> {
    json!({"session_id": SID, "at": "2026-11-24T10:00:00+09:00", "catalog_version": version,
           "offers": offers, "unavailable": unavailable, "notices": []})
    .to_string()
    .into_bytes()
}

#[test]
fn error_codes_map_to_what_the_session_acts_on() {
    let body = |c: &str| json!({"code": c, "message": "佐藤 was here"}).to_string().into_bytes();
    assert_eq!(error_reply(503, &body("database_busy")), BackendError::Busy);
    assert_eq!(error_reply(503, &body("database_unavailable")), BackendError::Busy);
    assert_eq!(error_reply(503, &body("commit_unconfirmed")), BackendError::Busy);
    assert_eq!(error_reply(503, b"<html>bad gateway</html>"), BackendError::Busy);
    assert_eq!(error_reply(401, &body("certificate_revoked")), BackendError::Refused(Refusal::CertificateRevoked));
    assert_eq!(
        error_reply(503, &body("revocation_unavailable")),
        BackendError::Refused(Refusal::RevocationUnavailable)
    );
    assert_eq!(error_reply(409, &body("session_limit")), BackendError::Refused(Refusal::Other("session_limit".into())));
    assert_eq!(error_reply(500, b""), BackendError::Protocol);
    assert_eq!(error_reply(400, b"{\"code\": 7}"), BackendError::Protocol);
    assert_eq!(error_reply(400, &body("NOT A CODE")), BackendError::Protocol);
}

#[test]
fn challenges_are_validated() {
    let ours =
        madoguchi_api::challenge::encode(madoguchi_api::challenge::Purpose::Authenticate, "K1", &[7; 32]).unwrap();
    let ok = json!({"session_id": SID, "challenge": B64.encode(&ours),
                    "challenge_expires_at": "t", "signature_scheme": SIGNATURE_SCHEME});
    assert_eq!(
        parse_challenge(ok.to_string().as_bytes()),
        Ok(BackendOk::Challenge { session_id: SID.into(), challenge: ours.clone() })
    );
    let mut cases = vec![b"not json".to_vec(), b"[]".to_vec(), b"{}".to_vec()];
    for (field, value) in [
        ("session_id", json!("../../etc")),
        ("session_id", json!(42)),
        ("challenge", json!("***")),
        ("challenge", json!(B64.encode([1u8; 31]))),
        // a bare nonce, as any service might ask for
        ("challenge", json!(B64.encode([7u8; 32]))),
        ("challenge", json!(null)),
        ("signature_scheme", json!("RSASSA-PSS")),
    ] {
        let mut v = ok.clone();
        v[field] = value;
        cases.push(v.to_string().into_bytes());
    }
    for case in cases {
        assert_eq!(parse_challenge(&case), Err(BackendError::Protocol), "{}", String::from_utf8_lossy(&case));
    }
}

#[test]
fn authentication_replies_are_validated() {
    let fp = "AB".repeat(32);
    let ok = json!({"session_id": SID, "session_expires_at": "t", "certificate_fingerprint": fp,
                    "certificate_not_after": "t", "holder_name": "佐藤　健一"});
    assert_eq!(
        parse_authenticated(ok.to_string().as_bytes(), SID),
        Ok(BackendOk::Authenticated { session_id: SID.into(), certificate_fingerprint: "ab".repeat(32) })
    );
    assert_eq!(parse_authenticated(ok.to_string().as_bytes(), &"f".repeat(32)), Err(BackendError::Protocol));
    let mut short = ok.clone();
    short["certificate_fingerprint"] = json!("abcd");
    assert_eq!(parse_authenticated(short.to_string().as_bytes(), SID), Err(BackendError::Protocol));
    let mut wrong_type = ok;
    wrong_type["certificate_fingerprint"] = json!(["ab"]);
    assert_eq!(parse_authenticated(wrong_type.to_string().as_bytes(), SID), Err(BackendError::Protocol));
}

fn issue_request(copies: u8) -> IssueRequest {
    IssueRequest {
        session_id: SID.into(),
        municipality_code: "132217".into(),
        document: "juminhyo".into(),
        options: vec![],
        persons: vec![],
        year: None,
        copies,
        paid_yen: 600,
        payment_reference: "pay-1".into(),
        idempotency_key: "k-1".into(),
    }
}

#[test]
fn issuances_are_validated() {
    let key = SigningKey::from_bytes(&[5u8; 32]);
    let document: serde_json::Value = serde_json::from_slice(&sign(&key, "{\"format\":1}")).unwrap();
    let ok = json!({"issuance_number": "20261124-ABCDEFGHJK", "status": "issued", "fee_yen": 300, "copies": 2,
                    "total_yen": 600, "issued_at": "t", "document": document});
    let Ok(BackendOk::Issued(issued)) = parse_issued(ok.to_string().as_bytes(), &issue_request(2)) else {
        panic!("a good issuance was refused");
    };
    assert_eq!((issued.issuance_number.as_str(), issued.total_yen), ("20261124-ABCDEFGHJK", 600));
    assert_eq!(issued.document.payload, "{\"format\":1}");
    // Copies other than asked, a total that is not fee × copies, junk in the signature.
    assert_eq!(parse_issued(ok.to_string().as_bytes(), &issue_request(1)), Err(BackendError::Protocol));
    for (field, value) in [
        ("total_yen", json!(900)),
        ("total_yen", json!("600")),
        ("issuance_number", json!("20261124/../x")),
        ("fee_yen", json!(-300)),
        ("status", json!("maybe")),
    ] {
        let mut v = ok.clone();
        v[field] = value;
        assert_eq!(parse_issued(v.to_string().as_bytes(), &issue_request(2)), Err(BackendError::Protocol), "{field}");
    }
    let mut v = ok.clone();
    v["document"]["signature"] = json!("not base64!");
    assert_eq!(parse_issued(v.to_string().as_bytes(), &issue_request(2)), Err(BackendError::Protocol));
    let mut v = ok.clone();
    v["document"] = json!("a string");
    assert_eq!(parse_issued(v.to_string().as_bytes(), &issue_request(2)), Err(BackendError::Protocol));
    // A replay after the outcome: never printed twice.
    let mut v = ok;
    v["status"] = json!("printed");
    assert_eq!(
        parse_issued(v.to_string().as_bytes(), &issue_request(2)),
        Err(BackendError::Refused(Refusal::Other("outcome_already_recorded".into())))
    );
}

#[test]
fn malformed_offers_are_protocol_errors() {
    let good = offer("132217", "清瀬市", "residence", "juminhyo", 300, 10, &[]);
    assert!(parse_offers(&offers_body(1, vec![good.clone()], vec![]), SID).is_ok());
    assert!(matches!(parse_offers(&offers_body(1, vec![], vec![]), &"e".repeat(32)), Err(BackendError::Protocol)));
    for (field, value) in [
        ("fee_yen", json!(-1)),
        ("fee_yen", json!("300")),
        ("fee_yen", json!(1.5)),
        ("max_copies", json!(100_000)),
        ("route", json!("elsewhere")),
        ("municipality_code", json!("13221")),
        ("document", json!("")),
        ("title", json!("a\u{7}b")),
        ("options", json!("setainushi")),
        ("years", json!([1066])),
        ("years", json!(null)),
    ] {
        let mut o = good.clone();
        o[field] = value;
        assert!(matches!(parse_offers(&offers_body(1, vec![o], vec![]), SID), Err(BackendError::Protocol)), "{field}");
    }
    for body in [&b"{"[..], b"null", b"{\"offers\": []}"] {
        assert!(matches!(parse_offers(body, SID), Err(BackendError::Protocol)));
    }
}

#[test]
fn offers_keep_the_household_and_the_catalog_is_fetched_only_when_newer() {
    let offers = parse_offers(
        &offers_body(4, vec![offer("132217", "清瀬市", "residence", "juminhyo", 300, 10, &[])], vec![]),
        SID,
    )
    .unwrap();
    // The session offers the choice of persons on a 住民票.
    assert_eq!(offers.offers[0].persons[0].id, "R0001");
    assert_eq!(offers.catalog_version, 4);
    assert!(needs_catalog(None, 0));
    assert!(needs_catalog(Some(3), 4));
    assert!(!needs_catalog(Some(4), 4));
    assert!(!needs_catalog(Some(5), 4));
}

#[test]
fn the_catalog_is_delivered_in_its_signed_form_only() {
    let key = SigningKey::from_bytes(&[9u8; 32]);
    let signed = sign(&key, "{\"format\": 1}");
    let blob = parse_catalog(&signed).unwrap();
    assert_eq!(blob.payload, "{\"format\": 1}");
    // An unsigned catalog, a body that is not the signed form.
    assert_eq!(parse_catalog(b"{\"format\": 1, \"version\": 4}"), Err(BackendError::Protocol));
    assert_eq!(parse_catalog(b"{\"payload\": 1}"), Err(BackendError::Protocol));
}

#[test]
fn durable_deliveries_settle_retry_or_drop() {
    let body = |c: &str| json!({"code": c, "message": "m"}).to_string().into_bytes();
    assert_eq!(durable_verdict(200, b"{}"), Verdict::Settled);
    assert_eq!(durable_verdict(409, &body("outcome_already_recorded")), Verdict::Settled);
    assert_eq!(durable_verdict(409, &body("issuance_voided")), Verdict::Settled);
    assert_eq!(durable_verdict(404, &body("session_not_found")), Verdict::Settled);
    assert_eq!(durable_verdict(404, &body("issuance_not_found")), Verdict::Settled);
    assert_eq!(durable_verdict(503, &body("database_busy")), Verdict::Retry(BackendError::Busy));
    assert_eq!(durable_verdict(502, b"<html>"), Verdict::Retry(BackendError::Protocol));
    assert!(matches!(durable_verdict(403, &body("credential_revoked")), Verdict::Retry(_)));
    assert!(matches!(durable_verdict(500, &body("internal")), Verdict::Retry(_)));
    assert_eq!(
        durable_verdict(403, &body("session_kiosk_mismatch")),
        Verdict::Refused(BackendError::Refused(Refusal::Other("session_kiosk_mismatch".into())))
    );
    assert!(matches!(durable_verdict(422, &body("invalid_field")), Verdict::Refused(_)));
}

#[test]
fn durable_records_carry_ids_and_a_clean_reason_only() {
    let r = DurableRecord::from_request(&Request::Outcome {
        session_id: SID.into(),
        issuance_number: "20261124-ABCDEFGHJK".into(),
        outcome: IssueOutcome::Failed { reason: format!("jam\n{}", "x".repeat(300)) },
    })
    .unwrap();
    let DurableRecord::Outcome { reason: Some(reason), .. } = &r else { panic!("not an outcome") };
    assert_eq!(reason.chars().count(), MAX_REASON_CHARS);
    assert!(reason.starts_with("jam x"));
    let (method, path, body) = r.http();
    assert_eq!(method, Method::POST);
    assert_eq!(path, format!("/v1/sessions/{SID}/issuances/20261124-ABCDEFGHJK/outcome"));
    assert_eq!(body.unwrap()["outcome"], json!("failed"));
    assert_eq!(clean_reason(" \u{0} "), "failed");
    let close = DurableRecord::from_request(&Request::Close { session_id: "a/b".into() }).unwrap();
    assert_eq!(close.http(), (Method::DELETE, "/v1/sessions/a%2Fb".into(), None));
    assert!(DurableRecord::from_request(&Request::Challenge).is_none());
    let line = serde_json::to_value(&close).unwrap();
    assert_eq!(line, json!({"kind": "close", "session_id": "a/b"}));
}

#[test]
fn the_outbox_survives_restarts_and_torn_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("outbox.jsonl");
    let outcome = DurableRecord::Outcome {
        session_id: SID.into(),
        issuance_number: "N1".into(),
        outcome: OutcomeKind::Printed,
        reason: None,
        refunded_yen: None,
    };
    let close = DurableRecord::Close { session_id: SID.into() };
    {
        let (mut o, skipped) = Outbox::open(&path).unwrap();
        assert_eq!((o.len(), skipped), (0, 0));
        assert!(path.exists(), "created at once");
        o.push(Some(OpId(1)), outcome.clone()).unwrap();
        o.push(Some(OpId(2)), close.clone()).unwrap();
    }
    let (mut o, _) = Outbox::open(&path).unwrap();
    let heads: Vec<_> = o.entries.iter().map(|e| (e.op, e.record.clone())).collect();
    assert_eq!(heads, vec![(None, outcome.clone()), (None, close.clone())], "in order, ops not carried over");
    let (id, _, _) = o.head().unwrap();
    o.remove(id).unwrap();
    drop(o);
    // A crash in the middle of an append leaves a torn last line.
    let mut f = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
    f.write_all(b"{\"kind\":\"outc").unwrap();
    drop(f);
    let (mut o, skipped) = Outbox::open(&path).unwrap();
    assert_eq!((o.len(), skipped), (1, 1));
    o.push(None, outcome.clone()).unwrap();
    let (o, skipped) = Outbox::open(&path).unwrap();
    assert_eq!(skipped, 0, "the next append started on its own line");
    let records: Vec<_> = o.entries.iter().map(|e| e.record.clone()).collect();
    assert_eq!(records, vec![close, outcome]);
}

/// The URLs themselves are the contract client's (`madoguchi_api::client`, test `urls`, the same
/// cases as were here).
#[test]
fn paths_and_the_user_agent() {
    assert_eq!(segment("20261124-ABC"), "20261124-ABC");
    assert_eq!(segment("../x y"), "..%2Fx%20y");
    assert_eq!(user_agent("K001\n"), format!("madoguchi-kiosk/{} (K001)", env!("CARGO_PKG_VERSION")));
}
